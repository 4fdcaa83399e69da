
/*
 * ngx_http_llm_router_module: the OpenAI chat.completion object built from
 * a neutral llm_completion_t (to be written).
 */


#include "llm_internal.h"


char *
llm_completion_render(const llm_completion_t *c, llm_pool_t *pool,
    size_t *len)
{
    (void) c;
    (void) pool;
    *len = 0;
    return NULL;
}
