
/*
 * ngx_http_llm_router_module: Cohere v2 chat adapter (not implemented yet).
 */


#include "llm_internal.h"


static int llm_cohere_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err);


const llm_adapter_t  llm_cohere_adapter = {
    "cohere",
    "https://api.cohere.com/v2",
    llm_cohere_encode,
    llm_compat_error,
    NULL
};


static int
llm_cohere_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    (void) req;
    (void) p;
    (void) pool;
    (void) out;

    llm_error_set(err, 501, "api_error", NULL, "not_implemented",
                  "the cohere adapter is not implemented yet");
    return LLM_ERROR;
}
