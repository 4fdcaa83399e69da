
/*
 * ngx_http_llm_router_module: translation core.
 *
 * Plain C99 + cJSON, no nginx headers.  Everything the core hands back is
 * allocated from an llm_pool_t (nginx: the request pool).  cJSON trees
 * that live within one call are built on that pool too (llm_arena.c).
 * The parsed request tree is on the pool with llm_request_parse_pool(),
 * with malloc() with llm_request_parse(); llm_request_free() releases it
 * either way (the glue registers a pool cleanup for it).
 *
 * Strings from the core are NUL-terminated unless stated otherwise; lengths
 * never count the NUL.
 */


#ifndef _LLM_CORE_H_INCLUDED_
#define _LLM_CORE_H_INCLUDED_


#include <stddef.h>
#include <cjson/cJSON.h>


#define LLM_OK        0
#define LLM_ERROR    -1
#define LLM_DECLINED -5               /* not done, and not a failure */


typedef struct {
    /* memory is never freed one by one; NULL on failure */
    void         *(*alloc)(void *data, size_t size);
    void         *data;
} llm_pool_t;


typedef struct {
    int           status;             /* HTTP status to answer with */
    const char   *type;               /* static, "invalid_request_error" */
    const char   *param;              /* static string or NULL */
    const char   *code;               /* static string or NULL */
    char          message[256];       /* human-readable, UTF-8 */
} llm_error_t;


/*
 * printf-style message; a message longer than 255 bytes is cut at a UTF-8
 * character boundary.
 */
void llm_error_set(llm_error_t *err, int status, const char *type,
    const char *param, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/*
 * {"error":{"message":"...","type":"...","param":null|"...",
 *  "code":null|"..."}}
 *
 * Strings are JSON-escaped; a NULL type renders as "api_error".  Returns a
 * NUL-terminated buffer from the pool, *len = length without the NUL;
 * NULL on allocation failure.
 */
char *llm_error_render(const llm_error_t *err, llm_pool_t *pool,
    size_t *len);

/*
 * JSON string escaping (without the surrounding quotes): '"', '\\' and
 * control characters are escaped, valid UTF-8 is copied as is, bytes that
 * are not valid UTF-8 become "\ufffd".  Returns the number of bytes the
 * escaped form needs (no NUL is written).  When dst != NULL, writes at most
 * size bytes: the longest prefix made of whole escape sequences.
 */
size_t llm_json_escape(char *dst, size_t size, const char *src, size_t len);


/*
 * A long string of the client's body, by reference: the provider's body
 * gets its bytes between the quotes as they came (they are valid JSON
 * string text as they are) rather than a copy escaped again.
 */
typedef struct {
    const char   *value;              /* the tree's string (valuestring) */
    const char   *raw;                /* its text in the body, unquoted */
    size_t        len;                /* of raw */
} llm_json_ref_t;

#define LLM_JSON_REFS      8          /* the first ones are kept */

#ifndef LLM_JSON_REF_MIN              /* the fuzzers take every string */
#define LLM_JSON_REF_MIN   512        /* bytes of raw text, at least */
#endif

typedef struct {
    llm_json_ref_t  ref[LLM_JSON_REFS];
    size_t          n;
    size_t          len;              /* of all raw texts */
} llm_json_refs_t;


typedef struct {
    cJSON        *root;               /* parsed body, llm_request_free() */
    const char   *body;               /* raw body, not owned, no NUL */
    size_t        body_len;
    const char   *model;              /* client's "model" or NULL */
    int           stream;             /* "stream": true */
    int           include_usage;      /* stream_options.include_usage */
    long          max_tokens;         /* max_completion_tokens, else
                                         max_tokens, else 0 */
    int           pooled;             /* root is on pool */
    long          blocks;             /* of the tree on the pool */
    llm_pool_t    pool;
    llm_json_refs_t  refs;            /* long strings of body */

    /* embeddings requests only (llm_embed_parse_pool()) */
    int           embed;              /* 1: an embeddings request */
    const cJSON  *input;              /* "input": string or array */
    size_t        ninputs;            /* texts or token arrays */
    int           tokens;             /* input is token ids: int[] or
                                         int[][] */
    int           base64;             /* "encoding_format": "base64" */
    long          dimensions;         /* "dimensions"; 0: not set */
    const char   *input_type;         /* "input_type" extension, or NULL:
                                         search_document, search_query,
                                         classification, clustering */
} llm_request_t;

/*
 * Parses and validates an OpenAI chat.completions request body (need not be
 * NUL-terminated).  The body must be strict RFC 8259 JSON in UTF-8; a
 * leading UTF-8 BOM is skipped (req->body then points past it).  Optional
 * parameters set to null count as absent.  Top-level keys the core reads or
 * rewrites ("model", "messages", "stream"...) and "role"/"content"/
 * "tool_call_id" inside messages must not be duplicated: JSON parsers
 * disagree on which duplicate wins, and the gateway must see the same
 * values the provider will.
 *
 * On failure fills err (status 400, type "invalid_request_error", param =
 * the offending top-level field or NULL), leaves req->root NULL and returns
 * LLM_ERROR.  req is always initialised, so llm_request_free() is safe
 * either way.
 */
int llm_request_parse(llm_request_t *req, const char *body, size_t len,
    llm_error_t *err);

/*
 * The same with the tree on the pool (copied into req, so a pool struct
 * on the stack will do): no malloc() per node and nothing freed one by
 * one; llm_request_free() must still be called (it counts the tree's
 * blocks back, see llm_arena_blocks()) while the pool's memory lives.
 */
int llm_request_parse_pool(llm_request_t *req, const char *body,
    size_t len, llm_pool_t *pool, llm_error_t *err);
void llm_request_free(llm_request_t *req);

/*
 * An estimate of the prompt's size in tokens, for routing decisions (not
 * for billing: usage comes from the provider): the text of the messages
 * at about four bytes a token, plus a few tokens a message; for an
 * embeddings request, its texts at four bytes a token, or the number of
 * its token ids.
 */
long llm_request_prompt_tokens(const llm_request_t *req);

/*
 * The request's "messages" as compact JSON text (for prompt logs), cut to
 * at most max bytes: a prefix of the text, never cut inside an escape
 * sequence, a number, a literal or a UTF-8 character.  A NUL-terminated
 * pool buffer, *len = its length; NULL when the request has no
 * "messages" or on allocation failure.
 */
char *llm_request_prompt_text(const llm_request_t *req, size_t max,
    llm_pool_t *pool, size_t *len);


typedef struct {
    const char   *name;
    const char   *value;
} llm_header_t;


#define LLM_MAX_HEADERS  8
#define LLM_BODY_PARTS   (2 * LLM_JSON_REFS + 1)


typedef struct {
    const char   *data;
    size_t        len;
} llm_slice_t;


typedef struct {
    const char   *method;             /* "POST" */
    char         *path;               /* full path + query, from pool */

    /*
     * provider-specific: auth, version...; NOT Host/Content-Length/
     * Content-Type (the glue adds those)
     */
    llm_header_t  headers[LLM_MAX_HEADERS];
    size_t        nheaders;

    /*
     * Lean passthrough: when the body needs no change this is
     * (char *) req->body itself, NOT a copy, so it lives as long as the
     * client body does and must not be written to; otherwise a pool buffer.
     */
    char         *body;
    size_t        body_len;           /* of the whole body, in parts too */

    /*
     * With body NULL, the body in pieces, in order: the client's own bytes
     * (not copied) around a changed value, so that rewriting "model" does
     * not copy a large prompt.  llm_http_body() joins them.
     */
    llm_slice_t   parts[LLM_BODY_PARTS];
    size_t        nparts;
} llm_http_request_t;


/*
 * The request body in one NUL-terminated buffer: hr->body itself, or the
 * parts joined on the pool.  NULL on allocation failure.
 */
const char *llm_http_body(const llm_http_request_t *hr, llm_pool_t *pool);


typedef struct {
    const char   *name;               /* provider's configured name */
    const char   *model;              /* upstream model, NULL = client's */
    const char   *api_key;            /* NUL-terminated; NULL/"" = none */
    const char   *base_path;          /* URL path, e.g. "/v1" or "" */
    long          max_tokens;         /* default when the client sets
                                         none (providers that require
                                         one: Anthropic); 0 = none */
    const char   *input_type;         /* embeddings: the default
                                         input_type (Cohere: required,
                                         "search_document" when NULL;
                                         Gemini: taskType); NULL */
} llm_provider_t;


typedef struct {
    int           retryable;          /* 429 (not quota), 500/502-504/529 */
    long          retry_after;        /* seconds the body asks the client
                                         to wait (Gemini's RetryInfo);
                                         0: it says nothing */
    char         *body;               /* OpenAI-style error JSON, pool */
    size_t        body_len;
} llm_provider_error_t;


/*
 * The token counts of an answer, as the provider reported them; -1 is
 * "not reported", never 0.  prompt_tokens counts every input token (cache
 * reads and cache writes included), completion_tokens every output token
 * (reasoning included).  In a rendered answer the *_details objects are
 * there only for counts >= 0; cache writes have no OpenAI field.
 */
typedef struct {
    long long     prompt_tokens;      /* input, cached ones included */
    long long     completion_tokens;  /* output, reasoning included */
    long long     total_tokens;
    long long     cached_tokens;      /* input read from the cache */
    long long     cache_write_tokens; /* input written to the cache */
    long long     reasoning_tokens;
} llm_usage_t;


/* 1 when the provider reported prompt_tokens or completion_tokens */
int llm_usage_known(const llm_usage_t *u);


/* prices in micro-USD per 1M tokens: pico-USD per token */
typedef struct {
    unsigned long long  input;        /* micro-USD per 1M tokens */
    unsigned long long  output;
    unsigned long long  cache_read;   /* cached (read) input tokens */
    unsigned long long  cache_write;  /* input tokens written to the cache */
} llm_price_t;

/*
 * The cost in pico-USD (1e-12 USD): exact for prices with up to six
 * decimals, no division, no floating point.
 *
 *   (prompt - cached - cache_write) * input + cached * cache_read
 *   + cache_write * cache_write_price + completion * output
 *
 * Counts < 0 count as 0, the uncached input is at least 0; a cost that
 * does not fit 64 bits is ULLONG_MAX (about 18.4 million USD).
 */
unsigned long long llm_usage_cost(const llm_usage_t *u,
    const llm_price_t *p);

/* "18446744.073709551615": the longest text llm_cost_format() writes */
#define LLM_COST_LEN  21

/*
 * pico-USD as a decimal USD amount with exactly 12 decimals
 * ("0.000123000000", "12.500000000000"), no floating point.  Writes the
 * text and a NUL when size > its length, else nothing (buf[0] = NUL when
 * size > 0); returns its length either way.
 */
size_t llm_cost_format(char *buf, size_t size, unsigned long long pico);

/*
 * A price in USD per 1M tokens from the configuration ("3", "3.5",
 * "0.000125", "15.") into micro-USD per 1M tokens; s need not be
 * NUL-terminated.  LLM_ERROR for an empty or negative value, a sign, more
 * than six decimals, anything but digits and one '.', or a value that
 * does not fit 64 bits.
 */
int llm_price_parse(const char *s, size_t len, unsigned long long *micro);


typedef struct {
    const char   *id;                 /* "call_..." */
    const char   *name;
    const char   *arguments;          /* JSON text, rendered as a string */
} llm_tool_call_t;


typedef struct {
    const char   *content;            /* UTF-8 text; NULL renders null */
    size_t        content_len;
    const char   *refusal;            /* NULL renders null */
    llm_tool_call_t  *tool_calls;
    size_t        ntool_calls;
    const char   *finish_reason;      /* "stop", "length", "tool_calls",
                                         "content_filter" only */
} llm_choice_t;


typedef struct {
    const char   *id;                 /* "chatcmpl-..." or the provider's */
    const char   *model;
    long long     created;            /* unix time */
    llm_choice_t *choices;
    size_t        nchoices;
    llm_usage_t   usage;
} llm_completion_t;


/*
 * {"id","object":"chat.completion","created","model","choices":[{"index",
 *  "message":{"role":"assistant","content","refusal"[,"tool_calls"]},
 *  "logprobs":null,"finish_reason"}],"usage":{...}}
 *
 * Returns a NUL-terminated pool buffer, NULL on allocation failure.
 */
char *llm_completion_render(const llm_completion_t *c, llm_pool_t *pool,
    size_t *len);


/*
 * A translated non-streamed answer.  usage is what the body says (all -1
 * and no "usage" in the body when the provider reported none);
 * finish_reason and content are the first choice's, content on the pool
 * and not necessarily NUL-terminated.
 */
typedef struct {
    char         *body;               /* OpenAI chat.completion, pool */
    size_t        body_len;
    llm_usage_t   usage;
    const char   *finish_reason;      /* static OpenAI value, or NULL */
    const char   *content;            /* UTF-8 text, NULL if none */
    size_t        content_len;
} llm_response_t;


/*
 * An OpenAI-format answer relayed as it arrives (openai, mistral): read
 * incrementally, in constant memory, for what the gateway records.  It
 * follows the JSON structure (strings, escapes, nesting) without
 * validating it, and keeps the first top-level "usage" object (up to
 * LLM_SCAN_USAGE_SIZE bytes: a larger one is not read), the first
 * choice's "finish_reason", and, with a text buffer, the first choice's
 * message "content".
 */

#define LLM_SCAN_USAGE_SIZE  1024

typedef struct {
    char         *text;               /* the caller's; NULL: no text */
    size_t        text_size;
    size_t        text_len;
    size_t        depth;              /* containers open */
    size_t        usage_len;
    const char   *finish_reason;      /* static OpenAI value, or NULL */
    unsigned      state;              /* the byte parser's */
    unsigned      sink;               /* where a string's bytes go */
    unsigned      path;               /* levels open along root, choices,
                                         choices[0], message */
    unsigned      index;              /* of the choice: 0, 1 = later */
    unsigned      key[5];             /* the member at levels 1, 3, 4 */
    unsigned      code;               /* a \u escape's value so far */
    unsigned      hex;                /* its digits read */
    unsigned      high;               /* a high surrogate, waiting */
    unsigned      word_len;
    char          word[16];           /* a key or finish_reason */
    unsigned      expect_key:1;
    unsigned      ended:1;            /* the top-level value closed */
    unsigned      capture:1;          /* in the usage object */
    unsigned      usage_done:1;
    unsigned      usage_big:1;
    unsigned      seen:5;             /* keys taken: the first one wins */
    unsigned      text_full:1;
    unsigned      word_nul:1;

    /* last: llm_scan_init() clears what comes before it */
    char          usage[LLM_SCAN_USAGE_SIZE];
} llm_scan_t;

/* text may be NULL (text_size 0): no text is kept */
void llm_scan_init(llm_scan_t *s, char *text, size_t text_size);

/* the answer's bytes, in any split (one at a time included) */
void llm_scan_feed(llm_scan_t *s, const char *p, size_t len);

/*
 * What was read: usage with the OpenAI stream decoder's mapping (every
 * count -1 without a complete "usage" object), the finish reason as a
 * static "stop", "length" (Mistral's "model_length" too), "tool_calls",
 * "content_filter" or "function_call", NULL for any other value or none,
 * and the length of the content kept in the text buffer: JSON-unescaped,
 * cut at text_size on a UTF-8 boundary or at an escaped NUL.  Any pointer
 * may be NULL.  Does not change s; LLM_OK.
 */
int llm_scan_finish(llm_scan_t *s, llm_usage_t *usage,
    const char **finish_reason, size_t *text_len);


/*
 * Server-Sent Events framer: bytes in any split (one at a time included),
 * LF, CRLF or CR line ends, several "data:" lines joined with "\n",
 * comments and unknown fields ignored; complete events out.  The current
 * event is kept in the caller's buffer: an event larger than it is an
 * error, never growth.
 */
typedef struct {
    const char   *event;              /* the "event:" name, "" if none */
    size_t        event_len;
    const char   *data;               /* "data:" lines joined by "\n" */
    size_t        data_len;
} llm_sse_event_t;

typedef int (*llm_sse_handler_pt)(void *data, const llm_sse_event_t *ev);

typedef struct {
    char         *buf;                /* the caller's, size bytes */
    size_t        size;
    size_t        len;                /* data bytes kept, in buf[0..] */
    size_t        event_len;          /* the event name, at the end of buf */
    size_t        field_len;          /* bytes of the current line's field
                                         name, or of the event name being
                                         read (after the data) */
    size_t        line_len;           /* bytes of the current line */
    unsigned      state;              /* the line parser's state */
    char          field[8];           /* the field name, when short */
    unsigned      has_data:1;
    unsigned      has_event:1;
    unsigned      skip_lf:1;
} llm_sse_t;

void llm_sse_init(llm_sse_t *sse, char *buf, size_t size);

/*
 * Feeds bytes; the handler is called for each complete event (one whose
 * blank line has arrived, with at least one "data" line) and may return
 * LLM_ERROR (any value other than LLM_OK) to stop.  Returns LLM_OK, or
 * LLM_ERROR when an event is larger than the buffer (its name and data
 * need their lengths + 2 bytes), a line of any kind (a comment, an
 * unknown field, bytes without a line end) is longer than the buffer, or
 * the handler failed; after an error, every call fails.  The event's
 * strings are NUL-terminated, point into the buffer and live until the
 * handler returns.
 */
int llm_sse_feed(llm_sse_t *sse, const char *p, size_t len,
    llm_sse_handler_pt handler, void *data);


/* where a stream decoder writes OpenAI SSE bytes; fixed size, no growth */
typedef struct {
    char         *buf;
    size_t        size;
    size_t        len;
} llm_stream_out_t;


#define LLM_STREAM_MAX_TOOLS  128

/*
 * One streamed answer being translated: the state a stream decoder keeps
 * between events, the same size for every provider (no allocation).
 */
typedef struct {
    char          id[96];             /* of every chunk */
    char          model[128];
    long long     created;
    int           include_usage;      /* the client asked for usage */

    unsigned      started:1;          /* the role chunk went out */
    unsigned      finished:1;         /* the finish_reason chunk went out */
    unsigned      done:1;             /* the provider said it is over */
    unsigned      usage_sent:1;       /* the usage chunk went out */
    unsigned      content:1;          /* text, a tool call, a finish or
                                         other delta than the role went
                                         out: the answer has begun */

    const char   *finish_reason;      /* static OpenAI value, or NULL */
    llm_usage_t   usage;              /* so far */

    int           ntools;             /* OpenAI tool-call indexes used */
    int           tool_block[LLM_STREAM_MAX_TOOLS];   /* provider index ->
                                                         OpenAI index */

    /*
     * The content of choice 0 as the client gets it, for prompt logs: set
     * text and text_size after llm_stream_init() (NULL: off).  Unescaped
     * UTF-8, cut at text_size on a UTF-8 boundary; not NUL-terminated.
     */
    char         *text;
    size_t        text_size;
    size_t        text_len;
    unsigned      text_full:1;        /* cut: nothing more is added */
} llm_stream_t;


typedef struct {
    const char   *name;               /* "openai", "mistral" */
    const char   *default_url;        /* "https://api.openai.com/v1" */

    /* LLM_OK or LLM_ERROR with err filled (status 500: misconfiguration) */
    int         (*encode)(const llm_request_t *req, const llm_provider_t *p,
                          llm_pool_t *pool, llm_http_request_t *out,
                          llm_error_t *err);

    /* status >= 400 from the provider; LLM_ERROR only on alloc failure */
    int         (*error)(int status, const char *body, size_t len,
                         llm_pool_t *pool, llm_provider_error_t *out);

    /*
     * A 2xx non-streamed answer (body need not be NUL-terminated) into an
     * OpenAI chat.completion.  NULL: the provider already answers in the
     * OpenAI format and the body is relayed as it is.  On an answer that
     * is not JSON or not of the expected shape: LLM_ERROR with err filled
     * (status 502, type "api_error", code "invalid_provider_response").
     * "created" is the time to use when the provider gives none.
     */
    int         (*decode)(const llm_request_t *req, const llm_provider_t *p,
                          const char *body, size_t len, long long created,
                          llm_pool_t *pool, llm_response_t *out,
                          llm_error_t *err);

    /*
     * Streams (see llm_stream_init()): one provider SSE event in, zero or
     * more OpenAI "data: ...\n\n" events appended to out.  LLM_OK;
     * LLM_DONE when the provider said the stream is over; LLM_ERROR with
     * err filled (a provider error event, an event that is not what the
     * provider sends, out full).  NULL: streams are not translated.
     */
    int         (*stream_event)(llm_stream_t *st, const llm_sse_event_t *ev,
                                llm_stream_out_t *out, llm_error_t *err);

    /*
     * The provider has no end-of-stream event: the end of the response
     * body ends the stream normally (Gemini).  Otherwise a body that ends
     * before stream_event returned LLM_DONE is a cut stream.
     */
    unsigned      stream_ends_with_body:1;

    /*
     * Embeddings (llm_embed.c and the provider's file).  embed_encode:
     * NULL when the provider has no embeddings API (Anthropic); like
     * encode, with err status 400 for a request this provider cannot
     * take (token input, more than embed_max_inputs inputs).
     */
    int         (*embed_encode)(const llm_request_t *req,
                                const llm_provider_t *p, llm_pool_t *pool,
                                llm_http_request_t *out, llm_error_t *err);

    /*
     * A 2xx answer into an OpenAI embeddings list (out->usage: what the
     * provider reported, -1 where it reported nothing; finish_reason and
     * content NULL).  Errors as decode's.  NULL: the answer is OpenAI's
     * and relayed as it is.
     */
    int         (*embed_decode)(const llm_request_t *req,
                                const llm_provider_t *p, const char *body,
                                size_t len, llm_pool_t *pool,
                                llm_response_t *out, llm_error_t *err);

    size_t        embed_max_inputs;   /* per request; 0: no limit */

    /*
     * The answer is in OpenAI's format and is relayed as it is when the
     * client asked for floats; embed_decode runs only to convert it to
     * base64 (Mistral).
     */
    unsigned      embed_relay_float:1;
} llm_adapter_t;


#define LLM_DONE      -4


/*
 * Before the first event: st is zeroed and filled from the request ("id"
 * and "model" until the provider gives its own); usage counts start at -1
 * (not reported).
 */
void llm_stream_init(llm_stream_t *st, const llm_request_t *req,
    const llm_provider_t *p, long long created);

/*
 * The end of the provider's stream, normal (after LLM_DONE, or at the end
 * of the body for providers that end that way: Gemini): the finish chunk
 * if it has not gone out, the usage chunk if the client asked for it and
 * the provider reported usage (llm_usage_known()), and "data: [DONE]".
 * LLM_ERROR (out full) only.
 */
int llm_stream_finish(llm_stream_t *st, llm_stream_out_t *out);

/*
 * Memory for the cJSON work of one stream event: taken from the front of
 * the caller's buffer, blocks of malloc() beyond it, all given back by
 * llm_scratch_reset().  One serves every stream of a worker.
 */
typedef struct {
    char         *start;
    char         *pos;
    char         *last;
    void         *blocks;             /* malloc()ed, a list */
    llm_pool_t    pool;               /* allocates from the scratch */
} llm_scratch_t;

void llm_scratch_init(llm_scratch_t *s, char *buf, size_t size);
void llm_scratch_reset(llm_scratch_t *s);

/*
 * ad->stream_event() with the event's cJSON trees on scratch (an arena):
 * stream decoders keep nothing allocated between events (llm_stream_t is
 * all their state), so the trees are dropped, not freed one node at a
 * time, and scratch is reset when the call returns.
 */
int llm_stream_event(const llm_adapter_t *ad, llm_scratch_t *scratch,
    llm_stream_t *st, const llm_sse_event_t *ev, llm_stream_out_t *out,
    llm_error_t *err);

/*
 * A stream that failed after its start (provider error event, cut, stall,
 * garbage): an OpenAI-style error event "data: {"error":{...}}" and
 * "data: [DONE]", so that the client never takes it for a whole answer.
 */
int llm_stream_fail(llm_stream_t *st, const llm_error_t *err,
    llm_stream_out_t *out);


/*
 * A provider's key in relayed bytes: llm_redact() overwrites each
 * occurrence of key[0..klen) in buf[0..len) with as many '*' and returns
 * how many it found; llm_redact_tail() is the length of the longest end
 * of buf that is the start of the key (at most klen - 1): what a caller
 * that gets the text in pieces holds back and puts before the next piece.
 * Keys shorter than LLM_REDACT_MIN bytes are not looked for (both
 * return 0): masking them would mangle ordinary text.
 */
#define LLM_REDACT_MIN  8

size_t llm_redact(char *buf, size_t len, const char *key, size_t klen);
size_t llm_redact_tail(const char *buf, size_t len, const char *key,
    size_t klen);


/*
 * The response cache (llm_cache.c): the key of a request, a cached
 * chat.completion sent as a stream, and a streamed answer assembled into
 * the chat.completion to store.
 *
 * The key is the text of the request's meaning: canonical JSON of the
 * parsed request (req->root) without the members that do not change the
 * answer, so that the same question asked with other key order,
 * whitespace, escapes, number forms or stream settings has the same key.
 *
 *   - objects: members sorted by name (bytewise, UTF-8; members of the
 *     same name keep their order), arrays in order, no whitespace;
 *   - strings: the decoded value escaped again as llm_json_escape() does
 *     ("\u0041" and "A", "\/" and "/" give the same text);
 *   - numbers: as doubles; 0 for -0 and 0, an integer of at most 2^53 in
 *     its decimal digits, any other number in the shortest of %.15g,
 *     %.16g and %.17g that reads back the same double, "1e999" and
 *     "-1e999" for numbers too large for a double (1, 1.0, 1e0 and 10E-1
 *     all give 1);
 *   - left out, at the top level only: "stream", "stream_options",
 *     "user", "metadata", "store", "service_tier", "prompt_cache_key",
 *     "safety_identifier", and members whose value is null (null counts
 *     as absent there); null inside is kept (a schema's null is
 *     meaning).  Every other member is kept, unknown ones included.
 *
 * A request is cacheable (the one place the rule is) unless:
 *
 *   - "n" is there (not null) and is not the number 1: why "n";
 *   - max_temperature >= 0 and "temperature" is there (not null) and is
 *     not a number <= max_temperature: why "temperature" (a negative
 *     max_temperature allows any temperature);
 *   - "logprobs" is true: an answer assembled from a stream has no
 *     logprobs to give: why "logprobs";
 *   - a string of the body has an escaped NUL ("\u0000"): the tree's
 *     strings end there, so the key could not tell two requests apart:
 *     why "\u0000".
 *
 * "stream" never makes a request not cacheable.  Returns LLM_OK with *key
 * (a NUL-terminated pool buffer) and *len, LLM_DECLINED with *why (a
 * static string) when the request is not cacheable, LLM_ERROR on
 * allocation failure.  why may be NULL.
 */
int llm_cache_key(const llm_request_t *req, double max_temperature,
    llm_pool_t *pool, char **key, size_t *len, const char **why);

/*
 * A cached chat.completion (the stored JSON body, need not be
 * NUL-terminated) as the SSE stream a streamed request gets, in the
 * chunks the gateway's translated streams send (llm_stream.c), with the
 * answer's id, created and model:
 *
 *   data: {...,"choices":[{"index":0,"delta":{"role":"assistant"
 *          [,"content":...][,"refusal":...]},...}]}
 *   data: {...,"delta":{"tool_calls":[{"index","id","type":"function",
 *          "function":{"name","arguments"}}]},...}       one per tool call
 *   data: {...,"delta":{},"logprobs":null,"finish_reason":"..."}]}
 *   data: {...,"choices":[],"usage":{...}}   with include_usage, when
 *                                            the answer has usage
 *   data: [DONE]
 *
 * (content is left out of the first chunk only when it is null.)  The
 * body must be a chat.completion with one choice, a known finish_reason,
 * tool calls of type "function" with an id, a name and arguments, and no
 * "function_call" or "audio": anything else, a damaged file included, is
 * LLM_ERROR (a cache miss), as is an allocation failure.  LLM_OK with
 * *out (NUL-terminated) and *out_len on the pool.
 */
int llm_cache_stream(const char *body, size_t len, int include_usage,
    llm_pool_t *pool, char **out, size_t *out_len);


/*
 * A streamed answer assembled, as it passes to the client, into the
 * chat.completion to store: the pieces of content, refusal and tool
 * calls are kept in the caller's buffer (id, name and the arguments
 * joined per index); an answer that does not fit is not taken any
 * further (declined at the end), nothing grows.
 */

#define LLM_CACHE_ACC_TOOLS  32          /* tool calls an answer may have */

typedef struct {
    size_t        id_len;             /* bytes kept; 0: none yet */
    size_t        name_len;
    size_t        args_len;
    unsigned      seen:1;             /* a fragment of it came */
} llm_cache_acc_tool_t;

typedef struct {
    char         *buf;                /* the caller's, size bytes */
    size_t        size;
    size_t        len;                /* of the pieces kept in buf */
    size_t        last;               /* the last piece's offset */
    size_t        content_len;
    size_t        refusal_len;
    size_t        ntools;             /* the highest index seen + 1 */
    llm_cache_acc_tool_t  tools[LLM_CACHE_ACC_TOOLS];
    char          id[128];            /* the first chunk's that has one */
    char          model[128];
    long long     created;            /* -1: none yet */

    /*
     * The last usage chunk's; the glue may set it from the stream's
     * llm_stream_t usage when the client's chunks carry none.
     */
    llm_usage_t   usage;
    const char   *finish_reason;      /* static OpenAI value, or NULL */

    unsigned      content:1;          /* a "content" string came */
    unsigned      refusal:1;          /* a "refusal" string came */
    unsigned      pieces:1;           /* last is a piece */
    unsigned      full:1;             /* buf had no room: declined */
    unsigned      failed:1;           /* not an answer to keep */
} llm_cache_acc_t;

void llm_cache_acc_init(llm_cache_acc_t *a, char *buf, size_t size);

/*
 * One chat.completion.chunk object (the data of one SSE event; "[DONE]"
 * is taken and ignored).  Its cJSON tree is built on scratch_pool (an
 * llm_scratch_t's pool will do: reset it after the call).  LLM_OK while
 * the answer can still be kept; LLM_DECLINED once it cannot (an error
 * event, a chunk that is not JSON or has no "choices", a choice other than
 * 0, an unknown finish_reason, a tool call index of LLM_CACHE_ACC_TOOLS
 * or more, a string with an escaped NUL, buf full): the caller may stop
 * feeding it.  LLM_ERROR when scratch_pool fails (declined too).
 */
int llm_cache_acc_chunk(llm_cache_acc_t *a, const char *data, size_t len,
    llm_pool_t *scratch_pool);

/*
 * After the stream ended normally (never for a cut or failed stream): the
 * chat.completion of the answer, rendered by llm_completion_render() as
 * the non-streamed path does (content null when none came, or when it is
 * empty and there are tool calls or a refusal), NUL-terminated on pool.
 * LLM_DECLINED when it is not an answer to keep: declined before, no
 * finish_reason "stop", "length" or "tool_calls", no id or model, a tool
 * call without an id or a name, tool call indexes with a gap.  LLM_ERROR
 * on allocation failure.
 */
int llm_cache_acc_finish(llm_cache_acc_t *a, llm_pool_t *pool, char **body,
    size_t *len);


/*
 * Embeddings (llm_embed.c).
 *
 * llm_embed_parse_pool() parses and validates an OpenAI embeddings request
 * body as llm_request_parse_pool() does a chat request (strict JSON, a
 * BOM skipped, null counts as absent, no duplicated top-level member) and
 * fills req->embed = 1, input, ninputs, tokens, base64, dimensions,
 * input_type, model; stream is 0.  "input" is required: a non-empty
 * string, an array of 1 to 2048 non-empty strings, an array of 1 to 8192
 * token ids (integers 0 to 2^31-1: one input), or an array of 1 to 2048
 * such non-empty arrays.  "encoding_format": "float" or "base64";
 * "dimensions": an integer 1 to 65536; "user": a string; "input_type":
 * one of the four values above.  Other members are kept (the OpenAI
 * adapter relays them).  Errors: 400 with param, as for chat.
 */
#define LLM_EMBED_MAX_INPUTS  2048

int llm_embed_parse_pool(llm_request_t *req, const char *body, size_t len,
    llm_pool_t *pool, llm_error_t *err);

/*
 * The OpenAI embeddings answer the decoders render, from the raw JSON
 * text of each vector (an array of numbers in text that
 * llm_json_validate() accepted: the elements are told apart and counted,
 * not checked again; copied as it is for floats, converted to
 * little-endian float32 and base64 for base64):
 *
 *   {"object":"list","data":[{"object":"embedding","index":0,
 *    "embedding":[...]|"..."},...],"model":"...",
 *    "usage":{"prompt_tokens":N,"total_tokens":N}}
 *
 * "usage" is left out when usage->prompt_tokens < 0 (not reported).
 * LLM_ERROR with err (502 invalid_provider_response) when a vector is not
 * an array of numbers, or on allocation failure (500).
 */
int llm_embed_render(const llm_request_t *req, const char *model,
    const llm_slice_t *vectors, size_t n, const llm_usage_t *usage,
    llm_pool_t *pool, llm_response_t *out, llm_error_t *err);


/* name need not be NUL-terminated; ASCII case-insensitive; NULL if unknown */
const llm_adapter_t *llm_adapter_find(const char *name, size_t len);

extern const llm_adapter_t  *const llm_adapters[];     /* NULL-terminated */


/*
 * {"object":"list","data":[{"id":ids[i],"object":"model",
 *  "created":created,"owned_by":owners[i][,"endpoints":[...]]},...]}
 *
 * owners (or owners[i]) may be NULL: "system" is used.  With serves,
 * "endpoints" lists what serves[i] says the model serves:
 * "chat.completions" (LLM_SERVES_CHAT), "embeddings" (LLM_SERVES_EMBED).
 * Returns a NUL-terminated pool buffer or NULL on allocation failure.
 */
#define LLM_SERVES_CHAT   0x01
#define LLM_SERVES_EMBED  0x02

char *llm_models_render(const char *const *ids, const char *const *owners,
    const unsigned *serves, size_t n, long created, llm_pool_t *pool,
    size_t *len);


/*
 * Redis's protocol (RESP2): commands out, replies in (llm_resp.c).
 * No allocation; the glue owns the buffers.
 */

typedef struct {
    const char   *data;
    size_t        len;
} llm_resp_arg_t;

/*
 * A command as an array of bulk strings:
 * "*<argc>\r\n$<len>\r\n<arg>\r\n..."; returns the length it needs;
 * writes it only when that is <= size (else writes nothing).  Arguments
 * are any bytes ("\r\n" and NUL included); no NUL is written after.
 */
size_t llm_resp_command(char *buf, size_t size,
    const llm_resp_arg_t *argv, size_t argc);

#define LLM_RESP_MAX_ITEMS  8
#define LLM_RESP_MAX_BULK   4096      /* bytes of a bulk string or a line */

typedef struct {
    int           type;        /* '+', '-', ':', '$', '*' */
    long long     integer;     /* ':' */
    const char   *str;         /* '+', '-', '$': into the buffer, not
                                  NUL-terminated; NULL: null bulk
                                  ("$-1") or null array ("*-1") */
    size_t        len;         /* of str */
    size_t        nitems;      /* '*' */
    long long     items[LLM_RESP_MAX_ITEMS];  /* '*' of ':' items */
    int           item_types[LLM_RESP_MAX_ITEMS];  /* each item's */
} llm_resp_reply_t;

/*
 * One reply at the start of buf: returns the bytes it takes (> 0) and
 * fills *reply; 0 when buf holds only part of it (call again with
 * more); -1 when it is not RESP2 or more than the parser takes.
 *
 * Taken: simple strings '+' and errors '-' (lines of at most
 * LLM_RESP_MAX_BULK bytes, no '\r' or '\n' in them), integers ':' (an
 * optional '-' and digits, no leading zeros, no "-0", within long long),
 * bulk strings '$' of 0 to LLM_RESP_MAX_BULK bytes or null ("$-1"),
 * arrays '*' of 0 to LLM_RESP_MAX_ITEMS items or null ("*-1").  An
 * array's items are any of these but arrays: items[i] is an integer's
 * value, -1 for a null bulk string, 0 for the others (their text is not
 * kept); item_types[i] is the item's type.  A non-null array's str is
 * buf (len 0), so that "*0" and "*-1" differ; ':' has str NULL.  Only
 * the first nitems items are set.  Every prefix of a valid reply gives
 * 0; no byte past buf + len, or past the reply, is read.
 */
long llm_resp_parse(const char *buf, size_t len,
    llm_resp_reply_t *reply);


#endif /* _LLM_CORE_H_INCLUDED_ */
