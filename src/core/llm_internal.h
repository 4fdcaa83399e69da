
/*
 * ngx_http_llm_router_module: helpers shared by the core's sources.
 * Not part of the glue's contract (llm_core.h), but plain and testable.
 */


#ifndef _LLM_INTERNAL_H_INCLUDED_
#define _LLM_INTERNAL_H_INCLUDED_


#include "llm_core.h"


#define LLM_DECLINED          -5

#define LLM_JSON_MAX_DEPTH    1000   /* cJSON's CJSON_NESTING_LIMIT */

#define LLM_ERROR_MAX_MESSAGE 1024   /* provider messages are cut there */


/*
 * Output buffer used in two passes: with buf == NULL only len is counted,
 * then the caller allocates len + 1 bytes and runs the same code again.
 */
typedef struct {
    char         *buf;
    size_t        len;
    size_t        size;
} llm_out_t;


typedef struct {
    size_t        key;          /* offset of the key's opening quote */
    size_t        value;        /* offset of the value's first byte */
    size_t        end;          /* offset just past the value */
} llm_json_span_t;


void *llm_palloc(llm_pool_t *pool, size_t size);
char *llm_pstrdup(llm_pool_t *pool, const char *s, size_t len);

void llm_out_raw(llm_out_t *out, const char *s, size_t len);
void llm_out_cstr(llm_out_t *out, const char *s);
void llm_out_str(llm_out_t *out, const char *s, size_t len);
char *llm_out_alloc(llm_out_t *out, llm_pool_t *pool);

/* length of the valid UTF-8 sequence at p (1..4), 0 if invalid */
size_t llm_utf8_len(const unsigned char *p, size_t len);

/* length of s without a trailing incomplete UTF-8 sequence */
size_t llm_utf8_trim(const char *s, size_t len);

/*
 * Strict RFC 8259 validation (UTF-8, nesting up to LLM_JSON_MAX_DEPTH).
 * Returns LLM_OK or LLM_ERROR; *off, when not NULL, gets the offset of the
 * first offending byte.
 */
int llm_json_validate(const char *json, size_t len, size_t *off);

/*
 * Raw scanner over a validated JSON object (json may start with
 * whitespace): finds the first top-level member whose key, once unescaped,
 * equals name (cJSON semantics: an escaped NUL ends the key).  Never reads
 * outside json[0..len) whatever the input.  Returns LLM_OK with span
 * filled, LLM_DECLINED when there is no such member, LLM_ERROR when json
 * is not an object.
 */
int llm_json_member(const char *json, size_t len, const char *name,
    llm_json_span_t *span);

/*
 * Offset just past the top-level '{' of a validated object, and whether
 * the object has no members; LLM_ERROR when json is not an object.
 */
int llm_json_object_open(const char *json, size_t len, size_t *pos,
    int *empty);

/* error JSON with a message that need not be NUL-terminated */
char *llm_error_render_raw(const char *message, size_t message_len,
    const char *type, const char *param, const char *code, llm_pool_t *pool,
    size_t *len);

/*
 * OpenAI-compatible encoding shared by adapters: method, path
 * (base_path + suffix, query kept) and "Authorization: Bearer <key>".
 */
int llm_compat_head(const llm_provider_t *p, const char *suffix,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err);

/*
 * Lean body: req->body as is when model is NULL, else the raw bytes with
 * only the top-level "model" value replaced (or inserted first).
 */
int llm_compat_body(const llm_request_t *req, const char *model,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err);

/* the error() of OpenAI-compatible providers (OpenAI and Mistral shapes) */
int llm_compat_error(int status, const char *body, size_t len,
    llm_pool_t *pool, llm_provider_error_t *out);


extern const llm_adapter_t  llm_openai_adapter;
extern const llm_adapter_t  llm_mistral_adapter;
extern const llm_adapter_t  llm_anthropic_adapter;
extern const llm_adapter_t  llm_gemini_adapter;
extern const llm_adapter_t  llm_cohere_adapter;


#endif /* _LLM_INTERNAL_H_INCLUDED_ */
