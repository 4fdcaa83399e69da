
/*
 * Unit tests: cohere (to be written).
 */


#include "test_util.h"


void
test_cohere_register(void)
{
}
