
/*
 * Unit tests: completion (to be written).
 */


#include "test_util.h"


void
test_completion_register(void)
{
}
