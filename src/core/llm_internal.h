
/*
 * ngx_http_llm_router_module: helpers shared by the core's sources.
 * Not part of the glue's contract (llm_core.h), but plain and testable.
 */


#ifndef _LLM_INTERNAL_H_INCLUDED_
#define _LLM_INTERNAL_H_INCLUDED_


#include "llm_core.h"


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


/*
 * cJSON trees on a pool (llm_arena.c): between llm_arena_enter() and
 * llm_arena_leave() cJSON's allocations come from pool, in chunks of
 * llm_arena_chunk_size bytes (0: one pool allocation each, for tests that
 * fail them one by one), and cJSON's free() releases nothing.  Arenas
 * nest; the outermost one puts cJSON's own malloc/free back when it
 * leaves.  A tree built inside an arena must be deleted inside one.
 */
typedef struct llm_arena_s  llm_arena_t;

struct llm_arena_s {
    llm_pool_t   *pool;
    char         *pos;
    char         *last;
    int           nomem;        /* an allocation failed */
    long          live;         /* blocks taken in it, less those freed */
    llm_arena_t  *prev;
};

/* with an allocator's header, a chunk fits in 4 KB */
#define LLM_ARENA_CHUNK  (4096 - 64)

extern size_t  llm_arena_chunk_size;

void llm_arena_enter(llm_arena_t *a, llm_pool_t *pool);
void llm_arena_leave(llm_arena_t *a);

/*
 * cJSON_Delete() of a tree nothing else points to, outside an arena;
 * inside one it is left to the pool, and to whoever drops the arena's
 * blocks (llm_stream_event()).
 */
void llm_arena_delete(cJSON *root);

/*
 * The end of a core call made in arena a whose trees go with the pool:
 * leaves a, counts their blocks back (llm_arena_drop()), and makes a
 * failure that ran out of memory a 500.  Returns rc.
 */
int llm_arena_done(llm_arena_t *a, int rc, llm_error_t *err);

/* the current arena's pool, NULL outside any arena */
llm_pool_t *llm_arena_pool(void);

/*
 * Memory from pool that goes with a tree built in the current arena (if
 * any): a failure is the arena's out of memory.
 */
void *llm_arena_palloc(llm_pool_t *pool, size_t size);

/* blocks allocated inside arenas and not freed yet, all arenas */
size_t llm_arena_blocks(void);

/*
 * Trees on a pool need not be walked by cJSON_Delete(), which would free
 * nothing: they go with the pool, and their blocks are counted back here
 * (an arena's live, once the trees built in it are no longer used).
 */
void llm_arena_drop(long blocks);


void *llm_palloc(llm_pool_t *pool, size_t size);
char *llm_pstrdup(llm_pool_t *pool, const char *s, size_t len);

void llm_out_raw(llm_out_t *out, const char *s, size_t len);
void llm_out_cstr(llm_out_t *out, const char *s);
void llm_out_str(llm_out_t *out, const char *s, size_t len);
void llm_out_escaped(llm_out_t *out, const char *s, size_t len); /* no "" */
void llm_out_nstr(llm_out_t *out, const char *s);      /* NULL: "" */
void llm_out_int(llm_out_t *out, long long n);

/* a number as cJSON prints it (llm_json_print()), NaN and Inf as null */
void llm_out_double(llm_out_t *out, double d);

/* a string literal: its length is known when compiled */
#define llm_out_lit(out, s)  llm_out_raw(out, s, sizeof(s) - 1)

char *llm_out_alloc(llm_out_t *out, llm_pool_t *pool);

/*
 * The JSON text of a cJSON tree, NUL-terminated, on the pool: what
 * cJSON_PrintUnformatted() prints, except that bytes that are not UTF-8
 * become U+FFFD, so the text is always strict JSON.
 */
char *llm_json_print(const cJSON *item, llm_pool_t *pool, size_t *len);

/*
 * llm_json_print() in one pass when the text is at most hint bytes long:
 * a buffer of hint + 1 bytes is taken from the pool and written at once
 * (the measuring pass escapes every string too, so this halves the work
 * of printing).  When the text is longer, the first pass has measured it:
 * a buffer of that size is written again, and the first one is left to
 * the pool.  hint 0: llm_json_print().
 */
char *llm_json_print_size(const cJSON *item, size_t hint, llm_pool_t *pool,
    size_t *len);

/*
 * llm_json_print() cut to at most max bytes: a prefix of the text, cut
 * where the printer stopped, never inside an escape sequence, a number, a
 * literal or a UTF-8 character (possibly a few bytes short of max).
 * NUL-terminated, on the pool; NULL on allocation failure.
 */
char *llm_json_print_max(const cJSON *item, size_t max, llm_pool_t *pool,
    size_t *len);

/* past JSON whitespace (space, tab, LF, CR) */
const unsigned char *llm_json_skip_ws(const unsigned char *p,
    const unsigned char *last);

/*
 * p is at a value of checked JSON: past its end, NULL when the value does
 * not end before last (never reads past last, whatever the input)
 */
const unsigned char *llm_json_skip_value(const unsigned char *p,
    const unsigned char *last);

/*
 * The first '"', '[', ']', '{' or '}' at or after p, or last: what a walk
 * over JSON must look at; numbers, literals, whitespace, ',' and ':' are
 * passed sixteen bytes at a time.
 */
const unsigned char *llm_json_flat(const unsigned char *p,
    const unsigned char *last);

/*
 * p is at an array of checked JSON (llm_json_validate() said the whole
 * text is valid), whitespace before it allowed: past its ']' with *n the
 * count of its elements, NULL when an element is not a number (a string,
 * a literal, an array, an object) or p is not at an array.  What the
 * check already said is not checked again: numbers are told from other
 * values by their first bytes, and counted by their commas.
 */
const unsigned char *llm_json_valid_numbers(const unsigned char *p,
    const unsigned char *last, size_t *n);

/* a strict JSON number from p: past its end, NULL if there is none */
const unsigned char *llm_json_number_end(const unsigned char *p,
    const unsigned char *last);

/*
 * p is at a JSON array of numbers, whitespace before it allowed: past its
 * ']' with *n the count of its numbers (0 for []), NULL when it is not
 * such an array (strict RFC 8259 numbers, whitespace, commas).  Never
 * reads past last, whatever the input.
 */
const unsigned char *llm_json_numbers(const unsigned char *p,
    const unsigned char *last, size_t *n);

/*
 * The elements of the array json[0..len) (checked JSON, whitespace around
 * it allowed), one a call: *pos = 0 before the first.  LLM_OK with
 * span->value and span->end (span->key = span->value), LLM_DECLINED after
 * the last, LLM_ERROR when json is not an array.  Never reads outside
 * json[0..len), whatever the input.
 */
int llm_json_element(const char *json, size_t len, size_t *pos,
    llm_json_span_t *span);

/*
 * 1 when the raw bytes of a checked member name between its quotes,
 * p..last, stand for name, as cJSON compares them: unescaped, up to an
 * escaped NUL
 */
int llm_json_key_eq(const unsigned char *p, const unsigned char *last,
    const char *name);

/* the byte an escape "\c" stands for: b f n r t, else c itself */
int llm_json_escaped_byte(int c);

/* four hex digits at p (not past last) into *v: LLM_OK or LLM_ERROR */
int llm_json_hex4(const unsigned char *p, const unsigned char *last,
    unsigned *v);

/*
 * Length of the leading run of bytes that stand for themselves inside a
 * JSON string: printable ASCII other than '"' and '\'.
 */
size_t llm_json_plain_run(const unsigned char *p, size_t len);

/*
 * llm_json_plain_run() that copies the run to d in the same pass; d must
 * have room for len bytes (bytes past the run may be written as well).
 */
size_t llm_json_plain_copy(unsigned char *d, const unsigned char *p,
    size_t len);

/*
 * p is past the opening quote of a string: its closing quote, or NULL when
 * it is not a string llm_json_parse() takes (*declined: valid JSON that
 * cJSON does not take); *escaped: the value differs from the bytes
 */
const unsigned char *llm_json_string_end(const unsigned char *p,
    const unsigned char *last, int *escaped, int *declined);

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
 * Validation as above and the cJSON tree in one pass: the tree that
 * cJSON_ParseWithLength() builds.  Returns LLM_OK with *root set (free it
 * with cJSON_Delete), LLM_ERROR for a syntax error (*off as above), or
 * LLM_DECLINED for valid JSON that cJSON does not take (a lone surrogate
 * escape) or when out of memory.
 */
int llm_json_parse(const char *json, size_t len, cJSON **root, size_t *off);

/*
 * obj's member name: s, a string of the request's tree (which outlives
 * the provider's), referenced rather than copied, so that a long one can
 * be printed as the client's bytes (llm_json_print_body()).  The new
 * member, or NULL when out of memory.
 */
cJSON *llm_json_add_ref(cJSON *obj, const char *name, const char *s);

/*
 * llm_json_parse() that also keeps, in refs (emptied first; NULL: none),
 * where the first LLM_JSON_REFS string values of at least
 * LLM_JSON_REF_MIN bytes are in json: they point into json, which must
 * outlive them.  With a pool, all strings of the tree are references
 * into one buffer of len + 1 bytes from it (cJSON_IsReference and
 * cJSON_StringIsConst): the tree must not outlive the pool.
 */
int llm_json_parse_refs(const char *json, size_t len, cJSON **root,
    size_t *off, llm_json_refs_t *refs, llm_pool_t *pool);

/*
 * The provider's body printed from root (llm_json_print_size()), in
 * out->body, or in out->parts when strings of refs (NULL: none) were
 * printed as references to the client's text: the pieces of the printed
 * text around them, and the client's bytes themselves.
 */
int llm_json_print_body(const cJSON *root, size_t hint,
    const llm_json_refs_t *refs, llm_pool_t *pool, llm_http_request_t *out);

/*
 * Strings of refs written as references while a provider's body is
 * written: each leaves its quotes in the text, and at[i] is where the
 * client's bytes of ref[i] go between them.
 */
typedef struct {
    const llm_json_refs_t  *refs;
    size_t                  n;
    size_t                  at[LLM_JSON_REFS];
    const llm_json_ref_t   *ref[LLM_JSON_REFS];
} llm_json_splices_t;

/*
 * A writer of a provider's body as JSON text: the same text each time it
 * is called (it may be called twice, see llm_json_print_size()), strings
 * of the request's tree written with llm_json_out_ref().  sp may be NULL.
 */
typedef void (*llm_json_writer_pt)(llm_out_t *out, llm_json_splices_t *sp,
    const void *data);

/*
 * llm_json_print_body() of the text that write writes from data: the
 * body in out->body, or in out->parts around the client's bytes
 */
int llm_json_write_body(llm_json_writer_pt write, const void *data,
    size_t hint, const llm_json_refs_t *refs, llm_pool_t *pool,
    llm_http_request_t *out);

/*
 * s, a string of the request's tree, as a JSON string: by reference to
 * the client's bytes when it is one of sp's refs (and sp has room), as
 * llm_json_print_body() prints it, else escaped (NULL as "")
 */
void llm_json_out_ref(llm_out_t *out, llm_json_splices_t *sp,
    const char *s);

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
 * llm_json_member() of several names (NULL-terminated) in one walk of the
 * object: spans[i] for names[i], its first member; spans[i].end is 0 when
 * there is none.  LLM_OK, or LLM_ERROR when json is not an object.  The
 * walk stops once every name is found.
 */
int llm_json_members(const char *json, size_t len, const char *const *names,
    llm_json_span_t *spans);

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

/* a member, with JSON null taken as absent */
#define llm_json_value(item)                                                  \
    (((item) == NULL || ((item)->type & 0xff) == cJSON_NULL) ? NULL : (item))

/*
 * The parse of a request body shared by llm_request_parse_pool() and
 * llm_embed_parse_pool() (llm_request.c): req initialised, a UTF-8 BOM
 * skipped, an empty body, strict JSON and a top-level object checked (400
 * otherwise), the tree on pool (NULL: malloc()); then check() reads and
 * validates the members of root into req (LLM_OK, or LLM_ERROR with err
 * filled), and req->root is set only when it succeeds.
 */
typedef int (*llm_request_check_pt)(llm_request_t *req, cJSON *root,
    llm_error_t *err);

int llm_request_parse_with(llm_request_t *req, const char *body, size_t len,
    llm_pool_t *pool, llm_request_check_pt check, llm_error_t *err);

/*
 * The members of obj named in keys (NULL-terminated), in one pass:
 * items[i] is the member named keys[i], or NULL.  A name that comes twice
 * is a 400 (param: the name; with index, a message's: param "messages").
 */
int llm_request_members(const cJSON *obj, const char *const *keys,
    const cJSON **items, const size_t *index, llm_error_t *err);

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

/*
 * llm_json_parse_strict() for a tree that lives on pool and is only
 * read: its strings are references into one pool buffer (see
 * llm_json_parse_refs()).
 */
cJSON *llm_json_parse_pool(const char *json, size_t len, llm_pool_t *pool);

/*
 * cJSON_GetObjectItemCaseSensitive(), same result, cheaper: most lookups
 * are of keys that are not there, and a first byte that differs settles
 * those without a strcmp() call.  An object marked by llm_json_keys_mark()
 * is not even walked for a name whose first byte none of its members has.
 */
cJSON *llm_json_get(const cJSON *obj, const char *name);

/*
 * Marks obj with the first bytes of its members' names (a 32-bit set, in
 * valuedouble; valueint holds LLM_JSON_KEYS_TAG), for llm_json_get().
 * Only for an object that no member is added to afterwards, nor copied
 * with cJSON_Duplicate(): the request's top-level object (the request's
 * tree is read-only once parsed).
 */
#define LLM_JSON_KEYS_TAG  0x4b455953            /* "KEYS" */

void llm_json_keys_mark(cJSON *obj);

/* the string member name of obj (an object or not), NULL if none */
const char *llm_json_str(const cJSON *obj, const char *name);

/*
 * llm_json_str(m, "role") and llm_json_get(m, "content") in one walk of
 * a message: its role, and its content in *content (NULL if none)
 */
const char *llm_json_message(const cJSON *m, const cJSON **content);

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
 * The same id written to id[0..LLM_TOOL_CALL_ID_LEN] (NUL included), no
 * pool: for stream decoders.
 */
void llm_tool_call_id_write(char *id, const char *seed, size_t n);

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
 * The provider's body, root printed (unformatted) into out: long strings
 * of req's body by reference (llm_json_print_body()), the rest in a pool
 * buffer sized from the client's body.  root is not freed.  LLM_ERROR
 * with err filled (500, out of memory) on failure.
 */
int llm_json_body(const llm_request_t *req, const cJSON *root,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err);

/*
 * the hint for a translated request's body: the client's and an eighth,
 * and room for a model name and a few fields more
 */
#define LLM_BODY_HINT(req)                                                    \
    ((req)->body_len - (req)->refs.len                                        \
     + ((req)->body_len - (req)->refs.len) / 8 + 256)

/*
 * The end of every decoder: c rendered with llm_completion_render() into
 * out->body / out->body_len, c->usage copied to out->usage as it was
 * rendered (when llm_usage_known(): negative prompt/completion counts as
 * 0, a total_tokens of 0 or less as their sum, other negative counts as -1;
 * else every count -1, and the body has no "usage"), and the first
 * choice's finish_reason and content.  LLM_OK, or LLM_ERROR with err
 * filled (500, out of memory).
 */
int llm_completion_respond(const llm_completion_t *c, llm_pool_t *pool,
    llm_response_t *out, llm_error_t *err);


/* usage, llm_usage.c: every count -1 (not reported) */
void llm_usage_none(llm_usage_t *u);

/* a + b of two counts, -1 when neither is reported, a missing one as 0 */
long long llm_usage_add(long long a, long long b);

/*
 * Usage as it is rendered: when llm_usage_known(in), negative prompt and
 * completion counts as 0, a total_tokens of 0 or less as their sum, other
 * negative counts as -1; else every count -1.
 */
void llm_usage_norm(const llm_usage_t *in, llm_usage_t *u);


/*
 * stream writers, implemented in llm_stream.c: OpenAI
 * "chat.completion.chunk" events appended to a fixed llm_stream_out_t.
 * Each writes one whole event or, when out has no room for it, nothing:
 * LLM_ERROR, out->len unchanged, nothing written past out->size.
 */

/* one chunk's delta (llm_stream_chunk()) */

typedef struct {
    int           role;               /* "role":"assistant" */
    const char   *content;            /* NULL: no "content" key */
    size_t        content_len;
    const char   *refusal;            /* NULL: no "refusal" key */
    int           tool_index;         /* OpenAI index; -1: no tool_calls */
    const char   *tool_id;            /* a tool call's first fragment */
    const char   *tool_name;          /*   only: NULL afterwards */
    const char   *tool_args;          /* NULL renders "" */
    size_t        tool_args_len;
    const char   *finish_reason;      /* static OpenAI value; NULL: null */
} llm_delta_t;

/*
 * data: {"id","object":"chat.completion.chunk","created","model",
 *  "choices":[{"index":0,"delta":{["role":"assistant"][,"content":...]
 *  [,"refusal":...][,"tool_calls":[...]]},"logprobs":null,
 *  "finish_reason":null|"..."}]}
 *
 * The tool call is {"index","id","type":"function","function":{"name",
 * "arguments"}} when tool_id or tool_name is set (a NULL one renders ""),
 * else {"index","function":{"arguments"}}.  Strings are JSON-escaped and
 * need not be NUL-terminated where a length is given.  Sets st->started
 * for a role chunk; for a finish_reason, sets st->finished and
 * st->finish_reason (so the pointer must be static).
 */
int llm_stream_chunk(llm_stream_t *st, llm_stream_out_t *out,
    const llm_delta_t *d);

/*
 * data: {"id","object":"chat.completion.chunk","created","model",
 *  "choices":[],"usage":{"prompt_tokens","completion_tokens",
 *  "total_tokens"[,"prompt_tokens_details":{"cached_tokens"}]
 *  [,"completion_tokens_details":{"reasoning_tokens"}]}}
 *
 * From st->usage: negative prompt/completion counts render 0, a
 * total_tokens <= 0 renders prompt + completion, a details object is there
 * only when its count is >= 0.  Sets st->usage_sent.
 */
int llm_stream_usage_chunk(llm_stream_t *st, llm_stream_out_t *out);

/*
 * s[0..len) appended to the stream's text (st->text, when set): invalid
 * UTF-8 as U+FFFD, cut on a UTF-8 boundary when the buffer is full, and
 * nothing more once it was cut.  llm_stream_chunk() calls it for every
 * content it writes; decoders that relay events call it themselves.
 */
void llm_stream_text(llm_stream_t *st, const char *s, size_t len);

/*
 * "data: " + data[0..len) + "\n\n": a relayed event, as is but for "\n"
 * (the join of several data lines, whitespace in JSON) written as a space
 * so that the event stays on one line.
 */
int llm_stream_data(llm_stream_out_t *out, const char *data, size_t len);

/*
 * llm_stream_data() with ins written before data[at[i]] for each of the n
 * offsets (in increasing order)
 */
int llm_stream_data_insert(llm_stream_out_t *out, const char *data,
    size_t len, const size_t *at, size_t n, const char *ins);

/*
 * st->id / st->model from the provider (the first event that has them);
 * NULL or "" leaves the value as it is.  Cut at a UTF-8 boundary when too
 * long.
 */
void llm_stream_set_id(llm_stream_t *st, const char *id);
void llm_stream_set_model(llm_stream_t *st, const char *model);

/* the stream_event of OpenAI and Mistral (llm_stream_openai.c) */
int llm_openai_stream_event(llm_stream_t *st, const llm_sse_event_t *ev,
    llm_stream_out_t *out, llm_error_t *err);
int llm_mistral_stream_event(llm_stream_t *st, const llm_sse_event_t *ev,
    llm_stream_out_t *out, llm_error_t *err);

/*
 * An OpenAI "usage" object into u (llm_stream_openai.c, shared with
 * llm_scan.c): prompt_tokens (cached ones included), completion_tokens
 * (reasoning included), total_tokens or their sum,
 * prompt_tokens_details.cached_tokens,
 * completion_tokens_details.reasoning_tokens; -1 for what is not there.
 */
void llm_openai_usage(const cJSON *usage, llm_usage_t *u);

/*
 * The same mapping read from the usage object's text (llm_scan.c), with
 * no tree and no allocation: what llm_openai_usage() gives for the tree
 * llm_json_parse_strict() builds of json; every count -1 when json is not
 * strict JSON, an object, or JSON that cJSON takes.
 */
void llm_openai_usage_json(const char *json, size_t len, llm_usage_t *u);

/*
 * The static OpenAI finish_reason for s, NULL when it is not one; with
 * mistral, Mistral's "model_length" is "length".
 */
const char *llm_openai_finish(const char *s, int mistral);

/*
 * the error object of llm_error_render_raw() (llm_error.c) written to an
 * llm_out_t
 */
void llm_error_write(llm_out_t *out, const char *message,
    size_t message_len, const char *type, const char *param,
    const char *code);


/*
 * stream decoders: the stream_event of the translating adapters
 * (llm_stream_anthropic.c, llm_stream_gemini.c, llm_stream_cohere.c), and
 * the mappings they share with their adapter's decode() and error()
 */

int llm_anthropic_stream(llm_stream_t *st, const llm_sse_event_t *ev,
    llm_stream_out_t *out, llm_error_t *err);
int llm_gemini_stream(llm_stream_t *st, const llm_sse_event_t *ev,
    llm_stream_out_t *out, llm_error_t *err);
int llm_cohere_stream(llm_stream_t *st, const llm_sse_event_t *ev,
    llm_stream_out_t *out, llm_error_t *err);

/*
 * The two ways of the Anthropic adapter's encode(), which takes the first
 * when it applies: _fast() writes the body of a plain request from the
 * client's tree (LLM_DECLINED, nothing done, for any other request), and
 * _tree() builds it with cJSON, for every request.  Where _fast() applies
 * both give the same body, byte for byte, and the same headers (the unit
 * tests and fuzz_decode check it).
 */
int llm_anthropic_encode_fast(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
int llm_anthropic_encode_tree(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);

/* the same two ways for the Cohere and Gemini adapters */
int llm_gemini_encode_fast(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
int llm_gemini_encode_tree(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
int llm_cohere_encode_fast(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
int llm_cohere_encode_tree(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);

/* stop_reason (NULL: none) into an OpenAI finish_reason */
const char *llm_anthropic_finish(const char *stop_reason);

/* usage: input (+ cache writes + cache reads), output */
void llm_anthropic_usage(const cJSON *usage, llm_usage_t *u);

/*
 * An Anthropic error.type as an OpenAI error type and code (static), and
 * the status it is answered with when it ends a stream (NULL: not
 * wanted); LLM_DECLINED (type and code NULL) for a type not known.
 */
int llm_anthropic_error_type(const char *kind, int *status,
    const char **type, const char **code);

/* a candidate's finishReason, given the number of function calls seen */
const char *llm_gemini_finish(const cJSON *cand, size_t ncalls);

/* usageMetadata (NULL: none reported) into u */
void llm_gemini_usage(const cJSON *meta, llm_usage_t *u);

/*
 * The OpenAI type and code (static) of a Gemini error object
 * {"code","message","status","details"} that came with an HTTP status.
 */
void llm_gemini_error_type(int status, const cJSON *e, const char **type,
    const char **code);

/* the "finish_reason" member of obj, given the number of tool calls */
const char *llm_cohere_finish(const cJSON *obj, size_t ncalls);

/* usage: billed_units, else tokens */
void llm_cohere_usage(const cJSON *usage, llm_usage_t *u);


/*
 * The members a direct writer takes (llm_*_fast_check()): a name and its
 * slot in the writer's items, or LLM_FAST_IGNORED for one that the tree
 * path leaves out too.  llm_fast_key() files a top-level member: LLM_OK
 * (the first member of a name is kept), LLM_DECLINED for a member the
 * writer does not take, unless it is null (null counts as absent).
 */
#define LLM_FAST_IGNORED  -1

typedef struct {
    const char   *name;
    int           item;
} llm_fast_key_t;

int llm_fast_key(const cJSON *item, const llm_fast_key_t *keys,
    const cJSON **items);

/* a string, or an array of strings, as a JSON array of copies */
void llm_fast_strings(llm_out_t *out, const cJSON *item);


/*
 * Embeddings (llm_embed.c): what the providers' embed_encode and
 * embed_decode share.
 */

/* llm_request_prompt_tokens() of an embeddings request */
long llm_embed_prompt_tokens(const llm_request_t *req);

/*
 * The texts of a text request in order: the first with prev NULL, then
 * the one after prev; NULL after the last, and for token input.
 */
const cJSON *llm_embed_text(const llm_request_t *req, const cJSON *prev);

/*
 * What every embed_encode checks first: a parsed embeddings request (500
 * otherwise); token input only when tokens is set, and at most max inputs
 * (0: any number): a 400 naming the provider (type "invalid_request_error",
 * param "input", code "too_many_inputs" for the count).
 */
int llm_embed_check(const llm_request_t *req, const char *provider,
    size_t max, int tokens, llm_error_t *err);

/*
 * the provider's model, else the client's; when neither, NULL with a 400
 * in err (err NULL: the client's NULL or "", no error)
 */
const char *llm_embed_model(const llm_request_t *req,
    const llm_provider_t *p, llm_error_t *err);

/* what the providers' embeddings body writers get */
typedef struct {
    const llm_request_t  *req;
    const char           *model;
    const char           *input_type;     /* Cohere's, Gemini's taskType */
} llm_embed_body_t;

/* the texts as a JSON array of strings, long ones by reference */
void llm_embed_out_texts(llm_out_t *out, llm_json_splices_t *sp,
    const llm_request_t *req);

/*
 * json[0..len) an array of n vectors (the provider's answer, validated
 * JSON): the text of each element in vectors[0..n), checked by
 * llm_embed_render() later.  LLM_ERROR (502, the message about what) when
 * it is not an array or has another number of elements.
 */
int llm_embed_vectors(const char *json, size_t len, llm_slice_t *vectors,
    size_t n, const char *what, llm_error_t *err);

#endif /* _LLM_INTERNAL_H_INCLUDED_ */
