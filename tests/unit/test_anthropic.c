
/*
 * Unit tests: anthropic (to be written).
 */


#include "test_util.h"


void
test_anthropic_register(void)
{
}
