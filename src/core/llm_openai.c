
/*
 * ngx_http_llm_router_module: OpenAI adapter.  The client already speaks
 * this wire format, so the body goes through untouched, except for the
 * "model" value when the provider configures one.
 */


#include "llm_internal.h"


static int llm_openai_encode(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);


const llm_adapter_t  llm_openai_adapter = {
    "openai",
    "https://api.openai.com/v1",
    llm_openai_encode,
    llm_compat_error,
    NULL,
    NULL
};


static int
llm_openai_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    if (llm_compat_head(p, "/chat/completions", pool, out, err) != LLM_OK) {
        return LLM_ERROR;
    }

    return llm_compat_body(req, p->model, pool, out, err);
}
