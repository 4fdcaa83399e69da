
/*
 * Unit tests: gemini (to be written).
 */


#include "test_util.h"


void
test_gemini_register(void)
{
}
