
/*
 * ngx_http_llm_router_module: Anthropic Messages adapter (not implemented yet).
 */


#include "llm_internal.h"


static int llm_anthropic_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err);


const llm_adapter_t  llm_anthropic_adapter = {
    "anthropic",
    "https://api.anthropic.com/v1",
    llm_anthropic_encode,
    llm_compat_error,
    NULL
};


static int
llm_anthropic_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    (void) req;
    (void) p;
    (void) pool;
    (void) out;

    llm_error_set(err, 501, "api_error", NULL, "not_implemented",
                  "the anthropic adapter is not implemented yet");
    return LLM_ERROR;
}
