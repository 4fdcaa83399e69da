
/*
 * ngx_http_llm_router_module: Google Gemini generateContent adapter (not implemented yet).
 */


#include "llm_internal.h"


static int llm_gemini_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err);


const llm_adapter_t  llm_gemini_adapter = {
    "gemini",
    "https://generativelanguage.googleapis.com/v1beta",
    llm_gemini_encode,
    llm_compat_error,
    NULL
};


static int
llm_gemini_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    (void) req;
    (void) p;
    (void) pool;
    (void) out;

    llm_error_set(err, 501, "api_error", NULL, "not_implemented",
                  "the gemini adapter is not implemented yet");
    return LLM_ERROR;
}
