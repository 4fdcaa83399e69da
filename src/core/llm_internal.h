
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


/*
 * shared by the translating adapters (Anthropic, Gemini, Cohere);
 * implemented in llm_completion.c
 */

/* a data: URL split up; llm_data_url() */

typedef struct {
    const char   *media_type;         /* "image/png", not NUL-terminated */
    size_t        media_type_len;
    const char   *data;               /* base64 text, not NUL-terminated */
    size_t        data_len;
} llm_data_url_t;

/*
 * Strict RFC 8259 validation then cJSON parsing: a tree to cJSON_Delete(),
 * NULL when json is not valid JSON (or on ENOMEM).  json need not be
 * NUL-terminated.
 */
cJSON *llm_json_parse_strict(const char *json, size_t len);

/* the string member name of obj (an object or not), NULL if none */
const char *llm_json_str(const cJSON *obj, const char *name);

/*
 * The member name of obj as a token count: a non-negative number, its
 * fractional part dropped, capped at 2^53; -1 when absent or not such a
 * number (never undefined behaviour, whatever the value).
 */
long long llm_json_count(const cJSON *obj, const char *name);

/*
 * err = 502, "api_error", code "invalid_provider_response", the message;
 * for decoders that get an answer they cannot read.
 */
void llm_invalid_response(llm_error_t *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/*
 * "call_" + 24 characters of [A-Za-z0-9] derived from seed[0..n) alone
 * (same seed, same id), for providers that return tool calls without ids;
 * seed with, e.g., the answer's id and the call's index.  *id is a
 * NUL-terminated pool string.  LLM_OK, or LLM_ERROR on allocation failure.
 */
#define LLM_TOOL_CALL_ID_LEN  (sizeof("call_") - 1 + 24)

int llm_tool_call_id(llm_pool_t *pool, const char *seed, size_t n,
    char **id);

/*
 * The "arguments" string of an OpenAI tool call parsed into a JSON object
 * for providers that take the object (Anthropic "input", Gemini "args"):
 * "" or only whitespace gives {}.  LLM_OK with *obj to cJSON_Delete(), or
 * LLM_ERROR when args is NULL, not valid JSON, or not an object.
 */
int llm_tool_args_parse(const char *args, cJSON **obj);

/*
 * "data:<media type>[;params];base64,<data>": LLM_OK with d filled,
 * LLM_DECLINED when url does not start with "data:" (case-insensitive),
 * LLM_ERROR for a data: URL without ";base64," or with an empty media type.
 */
int llm_data_url(const char *url, llm_data_url_t *d);

/*
 * Text of an OpenAI message "content": the string itself, or the "text"
 * of its {"type":"text"} parts joined with sep (parts whose text is empty
 * are skipped).  *text is a NUL-terminated pool string ("" for null
 * content).  LLM_OK; LLM_DECLINED when a part is not a text part (or has
 * no string "text") or content is neither null, a string nor an array;
 * LLM_ERROR on allocation failure.
 */
int llm_content_text(const cJSON *content, const char *sep,
    llm_pool_t *pool, char **text, size_t *len);

/*
 * A cJSON tree printed (unformatted) into out->body / out->body_len, a
 * NUL-terminated pool buffer; root is not freed.  LLM_ERROR with err
 * filled (500, out of memory) on failure.
 */
int llm_json_body(const cJSON *root, llm_pool_t *pool,
    llm_http_request_t *out, llm_error_t *err);

/*
 * The end of every decoder: c rendered with llm_completion_render() into
 * out->body / out->body_len, and c->usage copied to out->usage as it was
 * rendered (negative prompt/completion counts as 0, a negative
 * total_tokens as their sum, other negative counts as -1).  LLM_OK, or
 * LLM_ERROR with err filled (500, out of memory).
 */
int llm_completion_respond(const llm_completion_t *c, llm_pool_t *pool,
    llm_response_t *out, llm_error_t *err);


#endif /* _LLM_INTERNAL_H_INCLUDED_ */
