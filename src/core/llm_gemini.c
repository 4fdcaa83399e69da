
/*
 * ngx_http_llm_router_module: Google Gemini adapter, Generative Language
 * API v1beta (the provider's API reference).
 *
 * The request is rebuilt with cJSON (or for plain requests written
 * straight from the client's tree, byte for byte the same): the model
 * goes into the URL path, system/developer messages into
 * systemInstruction, assistant turns become "model" contents, tool calls
 * functionCall parts and tool results functionResponse parts named after
 * the call they answer.  The answer's candidates become OpenAI choices
 * through llm_completion_render().
 */


#include <stdio.h>
#include <string.h>

#include "llm_internal.h"


#define LLM_INVALID         "invalid_request_error"
#define LLM_SERVER_ERROR    "server_error"

/* Gemini 3 wants the thoughtSignature of a functionCall part echoed back */
#define LLM_GEMINI_SIGNATURE  "skip_thought_signature_validator"

/* prefix of URLs that fileData accepts (Files API) */
#define LLM_GEMINI_EMBED    2        /* llm_gemini_head(): embeddings */
#define LLM_GEMINI_EMBED_MAX  100     /* requests per batchEmbedContents */

#define LLM_GEMINI_FILES    "https://generativelanguage.googleapis.com/"


/* the top-level members the direct writer reads: llm_gemini_fast_t */

#define LLM_GEMINI_FAST_MESSAGES         0
#define LLM_GEMINI_FAST_MAX_COMPLETION   1
#define LLM_GEMINI_FAST_MAX_TOKENS       2
#define LLM_GEMINI_FAST_TEMPERATURE      3
#define LLM_GEMINI_FAST_TOP_P            4
#define LLM_GEMINI_FAST_STOP             5
#define LLM_GEMINI_FAST_N                6
#define LLM_GEMINI_FAST_SEED             7
#define LLM_GEMINI_FAST_PRESENCE         8
#define LLM_GEMINI_FAST_FREQUENCY        9
#define LLM_GEMINI_FAST_RESPONSE_FORMAT  10
#define LLM_GEMINI_FAST_ITEMS            11


/*
 * What the direct writer needs of a plain request, read once by
 * llm_gemini_fast_check()
 */
typedef struct {
    const cJSON  *item[LLM_GEMINI_FAST_ITEMS];    /* the first of each */
    const char   *model;                          /* for the path */
    long          max_tokens;                     /* the provider's */
    int           system;             /* a system text not empty */
} llm_gemini_fast_t;


typedef struct {
    const cJSON          *messages;
    cJSON                *system;       /* systemInstruction.parts */
    cJSON                *contents;
    cJSON                *last;         /* parts of the last content */
    const char           *last_role;
    llm_pool_t           *pool;
    llm_error_t          *err;
} llm_gemini_ctx_t;


static int llm_gemini_encode(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
static int llm_gemini_model(const llm_request_t *req,
    const llm_provider_t *p, const char **model, llm_error_t *err);
static int llm_gemini_head(const llm_provider_t *p, const char *model,
    int stream, llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err);
static void llm_gemini_path(llm_out_t *out, const char *base,
    size_t base_len, const char *model, int stream, const char *query);
static int llm_gemini_check(const char *s);
static int llm_gemini_fast_check(const llm_request_t *req,
    const llm_provider_t *p, llm_gemini_fast_t *f);
static void llm_gemini_fast_write(llm_out_t *out, llm_json_splices_t *sp,
    const void *data);
static cJSON *llm_gemini_build(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_error_t *err);
static int llm_gemini_messages(llm_gemini_ctx_t *ctx);
static int llm_gemini_message(llm_gemini_ctx_t *ctx, const cJSON *m,
    size_t i);
static int llm_gemini_parts(llm_gemini_ctx_t *ctx, const cJSON *m, size_t i,
    cJSON *parts, int user);
static int llm_gemini_image(llm_gemini_ctx_t *ctx, const cJSON *part,
    size_t i, cJSON *parts);
static int llm_gemini_calls(llm_gemini_ctx_t *ctx, const cJSON *m,
    size_t i, cJSON *parts);
static int llm_gemini_result(llm_gemini_ctx_t *ctx, const cJSON *m,
    size_t i, cJSON *parts);
static const char *llm_gemini_lookup(const cJSON *messages,
    const cJSON *until, const char *id);
static int llm_gemini_append(llm_gemini_ctx_t *ctx, const char *role,
    cJSON *parts);
static int llm_gemini_config(const llm_request_t *req,
    const llm_provider_t *p, cJSON *root, llm_error_t *err);
static int llm_gemini_format(const cJSON *rf, cJSON *gc, llm_error_t *err);
static int llm_gemini_tools(const cJSON *req, cJSON *root,
    llm_error_t *err);
static int llm_gemini_tool_choice(const cJSON *choice, const cJSON *decls,
    cJSON *root, llm_error_t *err);
static long llm_gemini_retry_delay(const cJSON *details);
static int llm_gemini_error(int status, const char *body, size_t len,
    llm_pool_t *pool, llm_provider_error_t *out);
static int llm_gemini_decode(const llm_request_t *req,
    const llm_provider_t *p, const char *body, size_t len,
    long long created, llm_pool_t *pool, llm_response_t *out,
    llm_error_t *err);
static int llm_gemini_candidate(const cJSON *cand, size_t n,
    const char *seed, llm_pool_t *pool, llm_choice_t *choice,
    llm_error_t *err);
static int llm_gemini_thought(const cJSON *part);
static unsigned long long llm_gemini_hash(const char *s, size_t len);
static int llm_gemini_bad(llm_error_t *err, const char *what);
static int llm_gemini_nomem(llm_error_t *err);
static const cJSON *llm_gemini_item(const cJSON *obj, const char *name);

static int llm_gemini_encode_cjson(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
static int llm_gemini_decode_tree(const llm_request_t *req,
    const llm_provider_t *p, const char *body, size_t len, long long created,
    llm_pool_t *pool, llm_response_t *out, llm_error_t *err);
static int llm_gemini_error_tree(int status, const char *body, size_t len,
    llm_pool_t *pool, llm_provider_error_t *out);
static int llm_gemini_embed_encode(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
static const char *llm_gemini_task_type(const llm_request_t *req,
    const llm_provider_t *p);
static void llm_gemini_embed_write(llm_out_t *out, llm_json_splices_t *sp,
    const void *data);
static int llm_gemini_embed_decode(const llm_request_t *req,
    const llm_provider_t *p, const char *body, size_t len,
    llm_pool_t *pool, llm_response_t *out, llm_error_t *err);

const llm_adapter_t  llm_gemini_adapter = {
    "gemini",
    "https://generativelanguage.googleapis.com/v1beta",
    llm_gemini_encode,
    llm_gemini_error,
    llm_gemini_decode,
    llm_gemini_stream,
    1,
    llm_gemini_embed_encode,
    llm_gemini_embed_decode,
    LLM_GEMINI_EMBED_MAX,
    0
};


/* finishReason values that mean the answer was filtered */

static const char  *const llm_gemini_filtered[] = {
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
    NULL
};


/* google.rpc status names and the OpenAI-style code they get */

static const char  *const llm_gemini_codes[][2] = {
    { "INVALID_ARGUMENT", "invalid_argument" },
    { "FAILED_PRECONDITION", "failed_precondition" },
    { "OUT_OF_RANGE", "out_of_range" },
    { "UNAUTHENTICATED", "unauthenticated" },
    { "PERMISSION_DENIED", "permission_denied" },
    { "NOT_FOUND", "not_found" },
    { "ALREADY_EXISTS", "already_exists" },
    { "ABORTED", "aborted" },
    { "RESOURCE_EXHAUSTED", "rate_limit_exceeded" },
    { "CANCELLED", "cancelled" },
    { "UNIMPLEMENTED", "unimplemented" },
    { "INTERNAL", "internal" },
    { "UNAVAILABLE", "unavailable" },
    { "DEADLINE_EXCEEDED", "deadline_exceeded" },
    { "DATA_LOSS", "data_loss" },
    { "UNKNOWN", "unknown" },
    { NULL, NULL }
};


static int
llm_gemini_encode_cjson(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    cJSON       *root;
    const char  *model;

    memset(out, 0, sizeof(llm_http_request_t));

    if (req->root == NULL) {
        llm_error_set(err, 500, LLM_SERVER_ERROR, NULL, NULL,
                      "the request was not parsed");
        return LLM_ERROR;
    }

    if (llm_gemini_model(req, p, &model, err) != LLM_OK
        || llm_gemini_head(p, model, req->stream, pool, out, err) != LLM_OK)
    {
        return LLM_ERROR;
    }

    root = llm_gemini_build(req, p, pool, err);
    if (root == NULL) {
        return LLM_ERROR;
    }

    /* the provider's body is about as long as the client's */

    /* root goes with the pool: see llm_gemini_encode_tree() */

    return llm_json_body(req, root, pool, out, err);
}


/*
 * The configured model, else the client's; a leading "models/" (the name
 * the API itself uses) is dropped, the rest goes into the URL path as is
 * and so may only have [A-Za-z0-9._-].
 */

static int
llm_gemini_model(const llm_request_t *req, const llm_provider_t *p,
    const char **model, llm_error_t *err)
{
    size_t       i;
    const char  *m;

    m = (p->model != NULL && p->model[0] != '\0') ? p->model : req->model;

    if (m == NULL || m[0] == '\0') {
        llm_error_set(err, 400, LLM_INVALID, "model", NULL,
                      "Missing required parameter: 'model'");
        return LLM_ERROR;
    }

    if (strncmp(m, "models/", sizeof("models/") - 1) == 0) {
        m += sizeof("models/") - 1;
    }

    for (i = 0; m[i] != '\0'; i++) {
        if ((m[i] >= 'a' && m[i] <= 'z') || (m[i] >= 'A' && m[i] <= 'Z')
            || (m[i] >= '0' && m[i] <= '9')
            || m[i] == '.' || m[i] == '_' || m[i] == '-')
        {
            continue;
        }

        break;
    }

    if (i > 0 && m[i] == '\0' && strspn(m, ".") != i) {
        *model = m;
        return LLM_OK;
    }

    if (p->model != NULL && p->model[0] != '\0') {
        llm_error_set(err, 500, LLM_SERVER_ERROR, NULL, NULL,
                      "provider \"%.64s\" is misconfigured: invalid model "
                      "name", (p->name != NULL) ? p->name : "(unnamed)");
        return LLM_ERROR;
    }

    llm_error_set(err, 400, LLM_INVALID, "model", "model_not_found",
                  "The model name is not valid for gemini: only letters, "
                  "digits, '.', '_' and '-' are allowed");

    return LLM_ERROR;
}


/* no control characters, so nothing can break out of a header or a path */

static int
llm_gemini_check(const char *s)
{
    for ( /* void */ ; *s != '\0'; s++) {
        if ((unsigned char) *s < 0x20 || (unsigned char) *s == 0x7f) {
            return LLM_ERROR;
        }
    }

    return LLM_OK;
}


/*
 * base_path + "/models/" + model + ":generateContent", or
 * ":streamGenerateContent?alt=sse" for a stream (stream 1), or
 * ":batchEmbedContents" (stream LLM_GEMINI_EMBED); a query in base_path is
 * kept.  The key goes into "x-goog-api-key", never into the URL.
 */

static int
llm_gemini_head(const llm_provider_t *p, const char *model, int stream,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    size_t       base_len;
    llm_out_t    o;
    const char  *base, *query, *name, *key;

    out->method = "POST";

    name = (p->name != NULL) ? p->name : "(unnamed)";
    base = (p->base_path != NULL) ? p->base_path : "";
    key = (p->api_key != NULL) ? p->api_key : "";

    if (llm_gemini_check(base) != LLM_OK || strchr(base, ' ') != NULL) {
        llm_error_set(err, 500, LLM_SERVER_ERROR, NULL, NULL,
                      "provider \"%.64s\" is misconfigured: invalid URL path",
                      name);
        return LLM_ERROR;
    }

    if (llm_gemini_check(key) != LLM_OK) {
        llm_error_set(err, 500, LLM_SERVER_ERROR, NULL, NULL,
                      "provider \"%.64s\" is misconfigured: invalid API key",
                      name);
        return LLM_ERROR;
    }

    query = strchr(base, '?');
    base_len = (query != NULL) ? (size_t) (query - base) : strlen(base);

    while (base_len > 0 && base[base_len - 1] == '/') {
        base_len--;
    }

    o.buf = NULL;
    o.len = 0;
    o.size = 0;

    llm_gemini_path(&o, base, base_len, model, stream, query);

    if (llm_out_alloc(&o, pool) == NULL) {
        return llm_gemini_nomem(err);
    }

    llm_gemini_path(&o, base, base_len, model, stream, query);
    o.buf[o.len] = '\0';

    out->path = o.buf;

    if (key[0] != '\0') {
        out->headers[0].name = "x-goog-api-key";
        out->headers[0].value = key;
        out->nheaders = 1;
    }

    return LLM_OK;
}


static void
llm_gemini_path(llm_out_t *out, const char *base, size_t base_len,
    const char *model, int stream, const char *query)
{
    if (base_len > 0 && base[0] != '/') {
        llm_out_raw(out, "/", 1);
    }

    llm_out_raw(out, base, base_len);
    llm_out_cstr(out, "/models/");
    llm_out_cstr(out, model);

    if (stream != 1) {
        llm_out_cstr(out, (stream == LLM_GEMINI_EMBED) ? ":batchEmbedContents"
                                                       : ":generateContent");

        if (query != NULL) {
            llm_out_cstr(out, query);
        }

        return;
    }

    llm_out_cstr(out, ":streamGenerateContent?alt=sse");

    if (query != NULL && query[1] != '\0') {
        llm_out_raw(out, "&", 1);
        llm_out_cstr(out, query + 1);
    }
}


/*
 * The direct writer: the body llm_gemini_encode_tree() would send, byte
 * for byte, written from req->root without a tree, for requests of the
 * plain shapes llm_gemini_fast_check() takes.  LLM_DECLINED for any other
 * request (nothing done then), else LLM_OK or LLM_ERROR.
 */

int
llm_gemini_encode_fast(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    llm_gemini_fast_t  f;

    if (llm_gemini_fast_check(req, p, &f) != LLM_OK) {
        return LLM_DECLINED;
    }

    memset(out, 0, sizeof(llm_http_request_t));

    if (llm_gemini_head(p, f.model, req->stream, pool, out, err) != LLM_OK) {
        return LLM_ERROR;
    }

    if (llm_json_write_body(llm_gemini_fast_write, &f, LLM_BODY_HINT(req),
                            &req->refs, pool, out)
        != LLM_OK)
    {
        out->body_len = 0;
        return llm_gemini_nomem(err);
    }

    return LLM_OK;
}


static const llm_fast_key_t  llm_gemini_fast_keys[] = {
    { "model", LLM_FAST_IGNORED },     /* req->model */
    { "messages", LLM_GEMINI_FAST_MESSAGES },
    { "stream", LLM_FAST_IGNORED },    /* req->stream */
    { "stream_options", LLM_FAST_IGNORED },
    { "max_tokens", LLM_GEMINI_FAST_MAX_TOKENS },
    { "max_completion_tokens", LLM_GEMINI_FAST_MAX_COMPLETION },
    { "temperature", LLM_GEMINI_FAST_TEMPERATURE },
    { "top_p", LLM_GEMINI_FAST_TOP_P },
    { "stop", LLM_GEMINI_FAST_STOP },
    { "n", LLM_GEMINI_FAST_N },
    { "seed", LLM_GEMINI_FAST_SEED },
    { "presence_penalty", LLM_GEMINI_FAST_PRESENCE },
    { "frequency_penalty", LLM_GEMINI_FAST_FREQUENCY },
    { "response_format", LLM_GEMINI_FAST_RESPONSE_FORMAT },
    { "user", LLM_FAST_IGNORED },
    { "metadata", LLM_FAST_IGNORED },
    { "store", LLM_FAST_IGNORED },
    { "service_tier", LLM_FAST_IGNORED },
    { "logit_bias", LLM_FAST_IGNORED },
    { NULL, 0 }
};


/*
 * LLM_OK when the tree would be built from nothing but string messages
 * of the roles system, developer, user and assistant (without tool
 * calls) and the members of llm_gemini_fast_keys[], and would not fail;
 * f filled then.  What the tree path reads is read here the same way.
 */

static int
llm_gemini_fast_check(const llm_request_t *req, const llm_provider_t *p,
    llm_gemini_fast_t *f)
{
    int           contents;
    double        d;
    size_t        i;
    const char   *name, *type;
    llm_error_t   err;
    const cJSON  *root, *item, *m, *content;

    root = req->root;

    if (!cJSON_IsObject(root)) {
        return LLM_DECLINED;
    }

    for (i = 0; i < LLM_GEMINI_FAST_ITEMS; i++) {
        f->item[i] = NULL;
    }

    for (item = root->child; item != NULL; item = item->next) {
        if (llm_fast_key(item, llm_gemini_fast_keys, f->item)
            != LLM_OK)
        {
            return LLM_DECLINED;
        }
    }

    /* the first member of each name, null as absent (llm_gemini_item()) */

    for (i = 0; i < LLM_GEMINI_FAST_ITEMS; i++) {
        if (cJSON_IsNull(f->item[i])) {
            f->item[i] = NULL;
        }
    }

    if (llm_gemini_model(req, p, &f->model, &err) != LLM_OK
        || !cJSON_IsArray(f->item[LLM_GEMINI_FAST_MESSAGES]))
    {
        return LLM_DECLINED;
    }

    f->system = 0;
    contents = 0;

    for (m = f->item[LLM_GEMINI_FAST_MESSAGES]->child;
         m != NULL;
         m = m->next)
    {
        name = llm_json_message(m, &content);

        if (name == NULL || !cJSON_IsString(content)) {
            return LLM_DECLINED;
        }

        if (strcmp(name, "system") == 0 || strcmp(name, "developer") == 0) {
            f->system |= (content->valuestring[0] != '\0');
            continue;
        }

        if (strcmp(name, "user") != 0
            && (strcmp(name, "assistant") != 0
                || llm_gemini_item(m, "tool_calls") != NULL))
        {
            return LLM_DECLINED;
        }

        contents |= (content->valuestring[0] != '\0');
    }

    if (!contents) {
        return LLM_DECLINED;
    }

    /* llm_gemini_config(): its failures */

    item = f->item[LLM_GEMINI_FAST_STOP];

    if (cJSON_IsArray(item)) {
        for (item = item->child; item != NULL; item = item->next) {
            if (!cJSON_IsString(item)) {
                return LLM_DECLINED;
            }
        }
    }

    item = f->item[LLM_GEMINI_FAST_SEED];

    if (item != NULL) {
        d = cJSON_IsNumber(item) ? item->valuedouble : 0.5;

        if (d < -2147483648.0 || d > 2147483647.0
            || d != (double) (long long) d)
        {
            return LLM_DECLINED;
        }
    }

    item = f->item[LLM_GEMINI_FAST_RESPONSE_FORMAT];

    if (item != NULL) {
        type = llm_json_str(item, "type");

        if (type == NULL || strcmp(type, "text") != 0) {
            return LLM_DECLINED;
        }
    }

    f->max_tokens = p->max_tokens;

    return LLM_OK;
}


/*
 * The top-level members the direct writer takes: those it writes, those
 * the tree path leaves out whatever their value, and those the tree path
 * only checks.  Any other member declines the request unless it is null:
 * tools, tool_choice, unknown ones.
 */


/* the llm_json_writer_pt of the direct writer: f is llm_gemini_fast_t */

static void
llm_gemini_fast_write(llm_out_t *out, llm_json_splices_t *sp,
    const void *data)
{
    int                       first, role, last, gc;
    const char               *name, *s;
    const cJSON              *m, *item, *stop, *content;
    const llm_gemini_fast_t  *f;

    static const char  *const config[] = {
        ",\"generationConfig\":{\"",      /* the first member */
        ",\""
    };

    f = data;

    llm_out_lit(out, "{");

    /* system and developer texts: systemInstruction.parts */

    if (f->system) {
        llm_out_lit(out, "\"systemInstruction\":{\"parts\":[");

        first = 1;

        for (m = f->item[LLM_GEMINI_FAST_MESSAGES]->child;
             m != NULL;
             m = m->next)
        {
            name = llm_json_message(m, &content);
            s = content->valuestring;

            if ((strcmp(name, "system") != 0
                 && strcmp(name, "developer") != 0)
                || s[0] == '\0')
            {
                continue;
            }

            llm_out_cstr(out, first ? "{\"text\":" : ",{\"text\":");
            llm_json_out_ref(out, sp, s);
            llm_out_lit(out, "}");

            first = 0;
        }

        llm_out_lit(out, "]},");
    }

    /* contents: the turns of one role in a row merged (llm_gemini_append) */

    llm_out_lit(out, "\"contents\":[");

    last = 0;

    for (m = f->item[LLM_GEMINI_FAST_MESSAGES]->child; m != NULL; m = m->next)
    {
        name = llm_json_message(m, &content);
        s = content->valuestring;

        if (strcmp(name, "user") == 0) {
            role = 1;

        } else if (strcmp(name, "assistant") == 0) {
            role = 2;

        } else {
            continue;
        }

        if (s[0] == '\0') {
            continue;
        }

        if (role == last) {
            llm_out_lit(out, ",{\"text\":");

        } else {
            if (last != 0) {
                llm_out_lit(out, "]},");
            }

            llm_out_cstr(out, (role == 1)
                              ? "{\"role\":\"user\",\"parts\":[{\"text\":"
                              : "{\"role\":\"model\",\"parts\":[{\"text\":");
            last = role;
        }

        llm_json_out_ref(out, sp, s);
        llm_out_lit(out, "}");
    }

    llm_out_lit(out, "]}]");

    /* llm_gemini_config(): generationConfig, when it has a member */

    gc = 0;

    item = f->item[LLM_GEMINI_FAST_MAX_COMPLETION];

    if (item == NULL) {
        item = f->item[LLM_GEMINI_FAST_MAX_TOKENS];
    }

    if (cJSON_IsNumber(item) || f->max_tokens > 0) {
        llm_out_cstr(out, config[gc++ > 0]);
        llm_out_lit(out, "maxOutputTokens\":");
        llm_out_double(out, cJSON_IsNumber(item) ? item->valuedouble
                                                 : (double) f->max_tokens);
    }

    item = f->item[LLM_GEMINI_FAST_TEMPERATURE];

    if (cJSON_IsNumber(item)) {
        llm_out_cstr(out, config[gc++ > 0]);
        llm_out_lit(out, "temperature\":");
        llm_out_double(out, item->valuedouble);
    }

    item = f->item[LLM_GEMINI_FAST_TOP_P];

    if (cJSON_IsNumber(item)) {
        llm_out_cstr(out, config[gc++ > 0]);
        llm_out_lit(out, "topP\":");
        llm_out_double(out, item->valuedouble);
    }

    stop = f->item[LLM_GEMINI_FAST_STOP];
    item = stop;

    if (cJSON_IsString(item) || (cJSON_IsArray(item) && item->child != NULL))
    {
        /* copies in the tree: never by reference */

        llm_out_cstr(out, config[gc++ > 0]);
        llm_out_lit(out, "stopSequences\":");

        llm_fast_strings(out, stop);
    }

    item = f->item[LLM_GEMINI_FAST_N];

    if (cJSON_IsNumber(item)) {
        llm_out_cstr(out, config[gc++ > 0]);
        llm_out_lit(out, "candidateCount\":");
        llm_out_double(out, item->valuedouble);
    }

    item = f->item[LLM_GEMINI_FAST_SEED];

    if (item != NULL) {
        llm_out_cstr(out, config[gc++ > 0]);
        llm_out_lit(out, "seed\":");
        llm_out_double(out, item->valuedouble);
    }

    item = f->item[LLM_GEMINI_FAST_PRESENCE];

    if (cJSON_IsNumber(item) && item->valuedouble != 0) {
        llm_out_cstr(out, config[gc++ > 0]);
        llm_out_lit(out, "presencePenalty\":");
        llm_out_double(out, item->valuedouble);
    }

    item = f->item[LLM_GEMINI_FAST_FREQUENCY];

    if (cJSON_IsNumber(item) && item->valuedouble != 0) {
        llm_out_cstr(out, config[gc++ > 0]);
        llm_out_lit(out, "frequencyPenalty\":");
        llm_out_double(out, item->valuedouble);
    }

    llm_out_cstr(out, gc ? "}}" : "}");
}


static cJSON *
llm_gemini_build(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_error_t *err)
{
    cJSON             *root, *si;
    llm_gemini_ctx_t   ctx;

    memset(&ctx, 0, sizeof(llm_gemini_ctx_t));

    ctx.messages = llm_gemini_item(req->root, "messages");
    ctx.pool = pool;
    ctx.err = err;

    root = cJSON_CreateObject();
    ctx.system = cJSON_CreateArray();
    ctx.contents = cJSON_CreateArray();

    if (root == NULL || ctx.system == NULL || ctx.contents == NULL) {
        llm_gemini_nomem(err);
        goto failed;
    }

    if (llm_gemini_messages(&ctx) != LLM_OK) {
        goto failed;
    }

    if (ctx.contents->child == NULL) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "gemini needs at least one user or assistant message "
                      "with content");
        goto failed;
    }

    if (ctx.system->child != NULL) {
        si = cJSON_AddObjectToObject(root, "systemInstruction");

        if (si == NULL || !cJSON_AddItemToObject(si, "parts", ctx.system)) {
            llm_gemini_nomem(err);
            goto failed;
        }

    } else {
        cJSON_Delete(ctx.system);
    }

    ctx.system = NULL;

    if (!cJSON_AddItemToObject(root, "contents", ctx.contents)) {
        llm_gemini_nomem(err);
        goto failed;
    }

    ctx.contents = NULL;

    if (llm_gemini_tools(req->root, root, err) != LLM_OK
        || llm_gemini_config(req, p, root, err) != LLM_OK)
    {
        goto failed;
    }

    return root;

failed:

    cJSON_Delete(ctx.system);
    cJSON_Delete(ctx.contents);
    cJSON_Delete(root);

    return NULL;
}


static int
llm_gemini_messages(llm_gemini_ctx_t *ctx)
{
    size_t        i;
    const cJSON  *m;

    if (!cJSON_IsArray(ctx->messages)) {
        llm_error_set(ctx->err, 400, LLM_INVALID, "messages", NULL,
                      "'messages' must be a non-empty array");
        return LLM_ERROR;
    }

    i = 0;

    for (m = ctx->messages->child; m != NULL; m = m->next) {
        if (llm_gemini_message(ctx, m, i) != LLM_OK) {
            return LLM_ERROR;
        }

        i++;
    }

    return LLM_OK;
}


static int
llm_gemini_message(llm_gemini_ctx_t *ctx, const cJSON *m, size_t i)
{
    int           rc;
    cJSON        *parts;
    const char   *role;
    const cJSON  *item;

    item = llm_json_get(m, "role");
    role = cJSON_IsString(item) ? item->valuestring : "";

    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
        return llm_gemini_parts(ctx, m, i, ctx->system, 0);
    }

    parts = cJSON_CreateArray();
    if (parts == NULL) {
        return llm_gemini_nomem(ctx->err);
    }

    if (strcmp(role, "user") == 0) {
        rc = llm_gemini_parts(ctx, m, i, parts, 1);
        role = "user";

    } else if (strcmp(role, "assistant") == 0) {
        rc = llm_gemini_parts(ctx, m, i, parts, 0);

        if (rc == LLM_OK) {
            rc = llm_gemini_calls(ctx, m, i, parts);
        }

        role = "model";

    } else if (strcmp(role, "tool") == 0) {
        rc = llm_gemini_result(ctx, m, i, parts);
        role = "user";

    } else {
        llm_error_set(ctx->err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: role '%.32s' is not supported by "
                      "gemini", (unsigned long) i, role);
        rc = LLM_ERROR;
    }

    if (rc != LLM_OK) {
        cJSON_Delete(parts);
        return LLM_ERROR;
    }

    return llm_gemini_append(ctx, role, parts);
}


/*
 * Text (and, for user messages, image) parts of a message's content;
 * empty texts are left out: Gemini rejects them.
 */

static int
llm_gemini_parts(llm_gemini_ctx_t *ctx, const cJSON *m, size_t i,
    cJSON *parts, int user)
{
    cJSON        *part;
    const char   *type;
    const cJSON  *content, *item, *text;

    content = llm_json_get(m, "content");

    if (cJSON_IsString(content)) {
        if (content->valuestring[0] == '\0') {
            return LLM_OK;
        }

        part = cJSON_CreateObject();

        if (part == NULL || !cJSON_AddItemToArray(parts, part)) {
            cJSON_Delete(part);
            return llm_gemini_nomem(ctx->err);
        }

        if (llm_json_add_ref(part, "text", content->valuestring)
            == NULL)
        {
            return llm_gemini_nomem(ctx->err);
        }

        return LLM_OK;
    }

    if (!cJSON_IsArray(content)) {
        return LLM_OK;
    }

    for (item = content->child; item != NULL; item = item->next) {
        text = llm_json_get(item, "type");
        type = cJSON_IsString(text) ? text->valuestring : "";

        if (strcmp(type, "text") == 0) {
            text = llm_json_get(item, "text");

            if (!cJSON_IsString(text)) {
                llm_error_set(ctx->err, 400, LLM_INVALID, "messages", NULL,
                              "messages[%lu]: a text part needs a string "
                              "'text'", (unsigned long) i);
                return LLM_ERROR;
            }

            if (text->valuestring[0] == '\0') {
                continue;
            }

            part = cJSON_CreateObject();

            if (part == NULL || !cJSON_AddItemToArray(parts, part)) {
                cJSON_Delete(part);
                return llm_gemini_nomem(ctx->err);
            }

            if (llm_json_add_ref(part, "text", text->valuestring)
                == NULL)
            {
                return llm_gemini_nomem(ctx->err);
            }

            continue;
        }

        if (user && strcmp(type, "image_url") == 0) {
            if (llm_gemini_image(ctx, item, i, parts) != LLM_OK) {
                return LLM_ERROR;
            }

            continue;
        }

        llm_error_set(ctx->err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: content parts of type '%.32s' are "
                      "not supported by gemini%s", (unsigned long) i, type,
                      user ? "" : " in this role");
        return LLM_ERROR;
    }

    return LLM_OK;
}


/*
 * A data: URL becomes inlineData; a Files API URL fileData; any other URL
 * is rejected: the Gemini API does not fetch images.
 */

static int
llm_gemini_image(llm_gemini_ctx_t *ctx, const cJSON *part, size_t i,
    cJSON *parts)
{
    int             rc;
    char           *mime;
    cJSON          *p, *obj;
    const char     *url;
    const cJSON    *image;
    llm_data_url_t  d;

    image = llm_json_get(part, "image_url");

    if (cJSON_IsObject(image)) {
        image = llm_json_get(image, "url");
    }

    if (!cJSON_IsString(image)) {
        llm_error_set(ctx->err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: an image_url part needs a string "
                      "'url'", (unsigned long) i);
        return LLM_ERROR;
    }

    url = image->valuestring;

    rc = llm_data_url(url, &d);

    if (rc == LLM_ERROR) {
        llm_error_set(ctx->err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: an image data: URL must be "
                      "\"data:<media type>;base64,<data>\"",
                      (unsigned long) i);
        return LLM_ERROR;
    }

    if (rc == LLM_DECLINED
        && strncmp(url, LLM_GEMINI_FILES, sizeof(LLM_GEMINI_FILES) - 1) != 0)
    {
        llm_error_set(ctx->err, 400, LLM_INVALID, "messages",
                      "image_url_not_supported",
                      "messages[%lu]: gemini does not fetch image URLs; "
                      "send the image inline as a data: URL (base64)",
                      (unsigned long) i);
        return LLM_ERROR;
    }

    p = cJSON_CreateObject();

    if (p == NULL || !cJSON_AddItemToArray(parts, p)) {
        cJSON_Delete(p);
        return llm_gemini_nomem(ctx->err);
    }

    if (rc == LLM_DECLINED) {
        obj = cJSON_AddObjectToObject(p, "fileData");

        if (obj == NULL
            || cJSON_AddStringToObject(obj, "fileUri", url) == NULL)
        {
            return llm_gemini_nomem(ctx->err);
        }

        return LLM_OK;
    }

    mime = llm_pstrdup(ctx->pool, d.media_type, d.media_type_len);
    if (mime == NULL) {
        return llm_gemini_nomem(ctx->err);
    }

    obj = cJSON_AddObjectToObject(p, "inlineData");

    if (obj == NULL
        || cJSON_AddStringToObject(obj, "mimeType", mime) == NULL
        || cJSON_AddStringToObject(obj, "data", d.data) == NULL)
    {
        return llm_gemini_nomem(ctx->err);
    }

    return LLM_OK;
}


/* assistant tool_calls: functionCall parts, args parsed from JSON */

static int
llm_gemini_calls(llm_gemini_ctx_t *ctx, const cJSON *m, size_t i,
    cJSON *parts)
{
    cJSON        *part, *fc, *args;
    size_t        k;
    const char   *a;
    const cJSON  *calls, *call, *fn, *name, *arguments, *type;

    calls = llm_gemini_item(m, "tool_calls");

    if (calls == NULL) {
        return LLM_OK;
    }

    k = 0;

    for (call = calls->child; call != NULL; call = call->next, k++) {
        type = llm_gemini_item(call, "type");
        fn = llm_json_get(call, "function");
        name = llm_json_get(fn, "name");

        if (!cJSON_IsObject(call)
            || (type != NULL && !(cJSON_IsString(type)
                                  && strcmp(type->valuestring, "function")
                                     == 0))
            || !cJSON_IsObject(fn)
            || !cJSON_IsString(name) || name->valuestring[0] == '\0')
        {
            llm_error_set(ctx->err, 400, LLM_INVALID, "messages", NULL,
                          "messages[%lu].tool_calls[%lu] must be a function "
                          "call with a name", (unsigned long) i,
                          (unsigned long) k);
            return LLM_ERROR;
        }

        /* no arguments at all: {} */

        arguments = llm_gemini_item(fn, "arguments");

        if (arguments == NULL) {
            a = "";

        } else {
            a = cJSON_IsString(arguments) ? arguments->valuestring : NULL;
        }

        if (llm_tool_args_parse(a, &args) != LLM_OK) {
            llm_error_set(ctx->err, 400, LLM_INVALID, "messages", NULL,
                          "messages[%lu].tool_calls[%lu]: 'arguments' must "
                          "be a JSON object encoded as a string",
                          (unsigned long) i, (unsigned long) k);
            return LLM_ERROR;
        }

        part = cJSON_CreateObject();

        if (part == NULL || !cJSON_AddItemToArray(parts, part)) {
            cJSON_Delete(part);
            cJSON_Delete(args);
            return llm_gemini_nomem(ctx->err);
        }

        fc = cJSON_AddObjectToObject(part, "functionCall");

        if (fc == NULL
            || cJSON_AddStringToObject(fc, "name", name->valuestring) == NULL
            || !cJSON_AddItemToObject(fc, "args", args))
        {
            cJSON_Delete(args);
            return llm_gemini_nomem(ctx->err);
        }

        if (cJSON_AddStringToObject(part, "thoughtSignature",
                                    LLM_GEMINI_SIGNATURE)
            == NULL)
        {
            return llm_gemini_nomem(ctx->err);
        }
    }

    return LLM_OK;
}


/*
 * A tool message: a functionResponse part named after the call it
 * answers; its response is {"output": <the content>}, the content parsed
 * when it is a JSON object.
 */

static int
llm_gemini_result(llm_gemini_ctx_t *ctx, const cJSON *m, size_t i,
    cJSON *parts)
{
    int           rc;
    char         *text;
    cJSON        *part, *fr, *response, *output;
    size_t        len;
    const char   *name;
    const cJSON  *id;

    id = llm_json_get(m, "tool_call_id");

    name = cJSON_IsString(id)
           ? llm_gemini_lookup(ctx->messages, m, id->valuestring) : NULL;

    if (name == NULL) {
        llm_error_set(ctx->err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: tool_call_id '%.64s' does not match "
                      "any earlier assistant tool call", (unsigned long) i,
                      cJSON_IsString(id) ? id->valuestring : "");
        return LLM_ERROR;
    }

    rc = llm_content_text(llm_json_get(m, "content"), "",
                          ctx->pool, &text, &len);

    if (rc == LLM_DECLINED) {
        llm_error_set(ctx->err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: tool message content must be a "
                      "string or text parts", (unsigned long) i);
        return LLM_ERROR;
    }

    if (rc != LLM_OK) {
        return llm_gemini_nomem(ctx->err);
    }

    output = NULL;

    if (text[strspn(text, " \t\r\n")] == '{') {
        output = llm_json_parse_strict(text, len);
    }

    if (output == NULL) {

        /* text outlives the provider's tree: the request's, or the pool's */

        output = cJSON_CreateStringReference(text);

        if (output == NULL) {
            return llm_gemini_nomem(ctx->err);
        }
    }

    part = cJSON_CreateObject();

    if (part == NULL || !cJSON_AddItemToArray(parts, part)) {
        cJSON_Delete(part);
        cJSON_Delete(output);
        return llm_gemini_nomem(ctx->err);
    }

    fr = cJSON_AddObjectToObject(part, "functionResponse");
    response = NULL;

    if (fr == NULL
        || cJSON_AddStringToObject(fr, "name", name) == NULL
        || (response = cJSON_AddObjectToObject(fr, "response")) == NULL
        || !cJSON_AddItemToObject(response, "output", output))
    {
        cJSON_Delete(output);
        return llm_gemini_nomem(ctx->err);
    }

    return LLM_OK;
}


/* the name of the last tool call with this id before message "until" */

static const char *
llm_gemini_lookup(const cJSON *messages, const cJSON *until, const char *id)
{
    const char   *name;
    const cJSON  *m, *calls, *call, *item, *fn;

    name = NULL;

    for (m = messages->child; m != NULL && m != until; m = m->next) {
        item = llm_json_get(m, "role");

        if (!cJSON_IsString(item)
            || strcmp(item->valuestring, "assistant") != 0)
        {
            continue;
        }

        calls = llm_json_get(m, "tool_calls");

        if (!cJSON_IsArray(calls)) {
            continue;
        }

        for (call = calls->child; call != NULL; call = call->next) {
            item = llm_json_get(call, "id");
            fn = llm_json_get(call, "function");
            fn = llm_json_get(fn, "name");

            if (cJSON_IsString(item) && cJSON_IsString(fn)
                && strcmp(item->valuestring, id) == 0)
            {
                name = fn->valuestring;
            }
        }
    }

    return name;
}


/*
 * Adds the parts of one message, merged into the last content when it
 * has the same role (Gemini wants alternating turns); takes parts over.
 */

static int
llm_gemini_append(llm_gemini_ctx_t *ctx, const char *role, cJSON *parts)
{
    cJSON  *content, *part;

    if (parts->child == NULL) {
        cJSON_Delete(parts);
        return LLM_OK;
    }

    if (ctx->last != NULL && strcmp(ctx->last_role, role) == 0) {

        while (parts->child != NULL) {
            part = cJSON_DetachItemViaPointer(parts, parts->child);

            if (!cJSON_AddItemToArray(ctx->last, part)) {
                cJSON_Delete(part);
                cJSON_Delete(parts);
                return llm_gemini_nomem(ctx->err);
            }
        }

        cJSON_Delete(parts);

        return LLM_OK;
    }

    content = cJSON_CreateObject();

    if (content == NULL || !cJSON_AddItemToArray(ctx->contents, content)) {
        cJSON_Delete(content);
        cJSON_Delete(parts);
        return llm_gemini_nomem(ctx->err);
    }

    if (cJSON_AddStringToObject(content, "role", role) == NULL
        || !cJSON_AddItemToObject(content, "parts", parts))
    {
        cJSON_Delete(parts);
        return llm_gemini_nomem(ctx->err);
    }

    ctx->last = parts;
    ctx->last_role = role;

    return LLM_OK;
}


/* generationConfig */

static int
llm_gemini_config(const llm_request_t *req, const llm_provider_t *p,
    cJSON *root, llm_error_t *err)
{
    cJSON        *gc, *item;
    double        d;
    const cJSON  *r, *v, *s;

    r = req->root;

    gc = cJSON_CreateObject();
    if (gc == NULL) {
        return llm_gemini_nomem(err);
    }

    v = llm_gemini_item(r, "max_completion_tokens");

    if (v == NULL) {
        v = llm_gemini_item(r, "max_tokens");
    }

    if (cJSON_IsNumber(v)) {
        if (cJSON_AddNumberToObject(gc, "maxOutputTokens", v->valuedouble)
            == NULL)
        {
            goto nomem;
        }

    } else if (p->max_tokens > 0) {
        if (cJSON_AddNumberToObject(gc, "maxOutputTokens",
                                    (double) p->max_tokens)
            == NULL)
        {
            goto nomem;
        }
    }

    v = llm_gemini_item(r, "temperature");

    if (cJSON_IsNumber(v)
        && cJSON_AddNumberToObject(gc, "temperature", v->valuedouble)
           == NULL)
    {
        goto nomem;
    }

    v = llm_gemini_item(r, "top_p");

    if (cJSON_IsNumber(v)
        && cJSON_AddNumberToObject(gc, "topP", v->valuedouble) == NULL)
    {
        goto nomem;
    }

    v = llm_gemini_item(r, "stop");

    if (cJSON_IsString(v) || (cJSON_IsArray(v) && v->child != NULL)) {
        item = cJSON_AddArrayToObject(gc, "stopSequences");
        if (item == NULL) {
            goto nomem;
        }

        if (cJSON_IsString(v)) {
            if (!cJSON_AddItemToArray(item,
                                      cJSON_CreateString(v->valuestring)))
            {
                goto nomem;
            }

        } else {
            for (s = v->child; s != NULL; s = s->next) {
                if (!cJSON_IsString(s)
                    || !cJSON_AddItemToArray(item,
                                         cJSON_CreateString(s->valuestring)))
                {
                    goto nomem;
                }
            }
        }
    }

    v = llm_gemini_item(r, "n");

    if (cJSON_IsNumber(v)
        && cJSON_AddNumberToObject(gc, "candidateCount", v->valuedouble)
           == NULL)
    {
        goto nomem;
    }

    v = llm_gemini_item(r, "seed");

    if (v != NULL) {
        d = cJSON_IsNumber(v) ? v->valuedouble : 0.5;

        /* the range first: a cast of a double out of it is undefined */

        if (d < -2147483648.0 || d > 2147483647.0
            || d != (double) (long long) d)
        {
            llm_error_set(err, 400, LLM_INVALID, "seed", NULL,
                          "'seed' must be a 32-bit integer for gemini");
            goto failed;
        }

        if (cJSON_AddNumberToObject(gc, "seed", d) == NULL) {
            goto nomem;
        }
    }

    v = llm_gemini_item(r, "presence_penalty");

    if (cJSON_IsNumber(v) && v->valuedouble != 0
        && cJSON_AddNumberToObject(gc, "presencePenalty", v->valuedouble)
           == NULL)
    {
        goto nomem;
    }

    v = llm_gemini_item(r, "frequency_penalty");

    if (cJSON_IsNumber(v) && v->valuedouble != 0
        && cJSON_AddNumberToObject(gc, "frequencyPenalty", v->valuedouble)
           == NULL)
    {
        goto nomem;
    }

    v = llm_gemini_item(r, "response_format");

    if (v != NULL && llm_gemini_format(v, gc, err) != LLM_OK) {
        goto failed;
    }

    if (gc->child == NULL) {
        cJSON_Delete(gc);
        return LLM_OK;
    }

    if (!cJSON_AddItemToObject(root, "generationConfig", gc)) {
        goto nomem;
    }

    return LLM_OK;

nomem:

    llm_gemini_nomem(err);

failed:

    cJSON_Delete(gc);

    return LLM_ERROR;
}


/*
 * json_object: responseMimeType "application/json"; json_schema: the same
 * with responseJsonSchema, which takes JSON Schema as it is (responseSchema
 * only takes an OpenAPI subset).
 */

static int
llm_gemini_format(const cJSON *rf, cJSON *gc, llm_error_t *err)
{
    cJSON        *dup;
    const char   *type;
    const cJSON  *item, *schema;

    item = llm_json_get(rf, "type");
    type = cJSON_IsString(item) ? item->valuestring : "";

    if (strcmp(type, "text") == 0) {
        return LLM_OK;
    }

    if (strcmp(type, "json_object") != 0 && strcmp(type, "json_schema") != 0)
    {
        llm_error_set(err, 400, LLM_INVALID, "response_format", NULL,
                      "'response_format.type' must be text, json_object or "
                      "json_schema");
        return LLM_ERROR;
    }

    schema = NULL;

    if (strcmp(type, "json_schema") == 0) {
        item = llm_json_get(rf, "json_schema");

        if (!cJSON_IsObject(item)) {
            llm_error_set(err, 400, LLM_INVALID, "response_format", NULL,
                          "'response_format.json_schema' must be an "
                          "object");
            return LLM_ERROR;
        }

        schema = llm_gemini_item(item, "schema");

        if (schema != NULL && !cJSON_IsObject(schema)) {
            llm_error_set(err, 400, LLM_INVALID, "response_format", NULL,
                          "'response_format.json_schema.schema' must be an "
                          "object");
            return LLM_ERROR;
        }
    }

    if (cJSON_AddStringToObject(gc, "responseMimeType", "application/json")
        == NULL)
    {
        return llm_gemini_nomem(err);
    }

    if (schema == NULL) {
        return LLM_OK;
    }

    dup = cJSON_Duplicate(schema, 1);

    if (dup == NULL || !cJSON_AddItemToObject(gc, "responseJsonSchema", dup))
    {
        cJSON_Delete(dup);
        return llm_gemini_nomem(err);
    }

    return LLM_OK;
}


/*
 * tools: [{"functionDeclarations":[{name, description,
 * parametersJsonSchema}]}]; parametersJsonSchema takes JSON Schema as
 * OpenAI clients write it ("parameters" 400s on additionalProperties...).
 */

static int
llm_gemini_tools(const cJSON *req, cJSON *root, llm_error_t *err)
{
    cJSON        *decls, *decl, *dup, *wrap, *tools;
    size_t        k;
    const cJSON  *list, *t, *type, *fn, *name, *item;

    list = llm_gemini_item(req, "tools");

    if (list == NULL || list->child == NULL) {
        return LLM_OK;
    }

    decls = cJSON_CreateArray();
    if (decls == NULL) {
        return llm_gemini_nomem(err);
    }

    k = 0;

    for (t = list->child; t != NULL; t = t->next, k++) {
        type = llm_json_get(t, "type");
        fn = llm_json_get(t, "function");
        name = llm_json_get(fn, "name");

        if (!cJSON_IsString(type)
            || strcmp(type->valuestring, "function") != 0
            || !cJSON_IsObject(fn)
            || !cJSON_IsString(name) || name->valuestring[0] == '\0')
        {
            llm_error_set(err, 400, LLM_INVALID, "tools", NULL,
                          "tools[%lu]: gemini supports only function tools "
                          "with a name", (unsigned long) k);
            goto failed;
        }

        decl = cJSON_CreateObject();

        if (decl == NULL || !cJSON_AddItemToArray(decls, decl)) {
            cJSON_Delete(decl);
            goto nomem;
        }

        if (cJSON_AddStringToObject(decl, "name", name->valuestring) == NULL)
        {
            goto nomem;
        }

        item = llm_json_get(fn, "description");

        if (cJSON_IsString(item)
            && cJSON_AddStringToObject(decl, "description",
                                       item->valuestring)
               == NULL)
        {
            goto nomem;
        }

        item = llm_gemini_item(fn, "parameters");

        if (item == NULL) {
            continue;
        }

        if (!cJSON_IsObject(item)) {
            llm_error_set(err, 400, LLM_INVALID, "tools", NULL,
                          "tools[%lu]: 'parameters' must be a JSON Schema "
                          "object", (unsigned long) k);
            goto failed;
        }

        dup = cJSON_Duplicate(item, 1);

        if (dup == NULL
            || !cJSON_AddItemToObject(decl, "parametersJsonSchema", dup))
        {
            cJSON_Delete(dup);
            goto nomem;
        }
    }

    tools = cJSON_AddArrayToObject(root, "tools");
    wrap = cJSON_CreateObject();

    if (tools == NULL || wrap == NULL || !cJSON_AddItemToArray(tools, wrap))
    {
        cJSON_Delete(wrap);
        goto nomem;
    }

    if (!cJSON_AddItemToObject(wrap, "functionDeclarations", decls)) {
        goto nomem;
    }

    return llm_gemini_tool_choice(llm_gemini_item(req, "tool_choice"),
                                  decls, root, err);

nomem:

    llm_gemini_nomem(err);

failed:

    cJSON_Delete(decls);

    return LLM_ERROR;
}


/*
 * toolConfig.functionCallingConfig: auto AUTO, none NONE, required ANY,
 * a named function ANY + allowedFunctionNames; only sent with tools.
 */

static int
llm_gemini_tool_choice(const cJSON *choice, const cJSON *decls,
    cJSON *root, llm_error_t *err)
{
    cJSON        *tc, *fcc, *names;
    const char   *mode, *fname;
    const cJSON  *item, *d;

    if (choice == NULL) {
        return LLM_OK;
    }

    fname = NULL;

    if (cJSON_IsString(choice) && strcmp(choice->valuestring, "auto") == 0) {
        mode = "AUTO";

    } else if (cJSON_IsString(choice)
               && strcmp(choice->valuestring, "none") == 0)
    {
        mode = "NONE";

    } else if (cJSON_IsString(choice)
               && strcmp(choice->valuestring, "required") == 0)
    {
        mode = "ANY";

    } else {
        item = llm_json_get(choice, "type");

        if (cJSON_IsObject(choice) && cJSON_IsString(item)
            && strcmp(item->valuestring, "function") == 0)
        {
            item = llm_json_get(choice, "function");
            item = llm_json_get(item, "name");

            if (cJSON_IsString(item)) {
                fname = item->valuestring;
            }
        }

        if (fname == NULL) {
            llm_error_set(err, 400, LLM_INVALID, "tool_choice", NULL,
                          "'tool_choice' must be none, auto, required or "
                          "{\"type\":\"function\",\"function\":{\"name\":"
                          "...}}");
            return LLM_ERROR;
        }

        for (d = decls->child; d != NULL; d = d->next) {
            item = llm_json_get(d, "name");

            if (cJSON_IsString(item) && strcmp(item->valuestring, fname) == 0)
            {
                break;
            }
        }

        if (d == NULL) {
            llm_error_set(err, 400, LLM_INVALID, "tool_choice", NULL,
                          "'tool_choice' names function '%.64s', which is "
                          "not in 'tools'", fname);
            return LLM_ERROR;
        }

        mode = "ANY";
    }

    tc = cJSON_AddObjectToObject(root, "toolConfig");
    fcc = (tc != NULL) ? cJSON_AddObjectToObject(tc, "functionCallingConfig")
                       : NULL;

    if (fcc == NULL || cJSON_AddStringToObject(fcc, "mode", mode) == NULL) {
        return llm_gemini_nomem(err);
    }

    if (fname != NULL) {
        names = cJSON_AddArrayToObject(fcc, "allowedFunctionNames");

        if (names == NULL
            || !cJSON_AddItemToArray(names, cJSON_CreateString(fname)))
        {
            return llm_gemini_nomem(err);
        }
    }

    return LLM_OK;
}


/*
 * {"error":{"code","message","status","details"}} (or an array of such,
 * as streamGenerateContent without alt=sse answers) into an OpenAI-style
 * error; the type follows the HTTP status, the code the RPC status.  An
 * invalid API key comes as 400 INVALID_ARGUMENT with the reason
 * API_KEY_INVALID: "authentication_error", "invalid_api_key".  Bodies of
 * other shapes (a proxy's, an OpenAI-style one) are read as the
 * OpenAI-compatible adapters read them.
 */

/*
 * The wait a google.rpc.RetryInfo detail asks for, in whole seconds
 * rounded up: {"@type": "type.googleapis.com/google.rpc.RetryInfo",
 * "retryDelay": "37s"} (a protobuf Duration in JSON: decimal seconds with
 * up to nine fraction digits and an "s").  0 when there is none or it is
 * not of that form.
 */

static long
llm_gemini_retry_delay(const cJSON *details)
{
    long          sec;
    const char   *type, *p;
    const cJSON  *d;

    for (d = cJSON_IsArray(details) ? details->child : NULL;
         d != NULL;
         d = d->next)
    {
        type = llm_json_str(d, "@type");
        p = llm_json_str(d, "retryDelay");

        if (type == NULL || p == NULL
            || strcmp(type, "type.googleapis.com/google.rpc.RetryInfo") != 0)
        {
            continue;
        }

        sec = 0;

        for ( /* void */ ; *p >= '0' && *p <= '9'; p++) {
            if (sec > 86400) {
                return 0;
            }

            sec = sec * 10 + (*p - '0');
        }

        if (*p == '.') {
            p++;

            if (*p < '0' || *p > '9') {
                return 0;
            }

            while (*p == '0') {
                p++;
            }

            if (*p >= '1' && *p <= '9') {
                sec++;
            }

            while (*p >= '0' && *p <= '9') {
                p++;
            }
        }

        if (p[0] != 's' || p[1] != '\0' || sec > 86400) {
            return 0;
        }

        return sec;
    }

    return 0;
}


static int
llm_gemini_error_tree(int status, const char *body, size_t len,
    llm_pool_t *pool, llm_provider_error_t *out)
{
    char          generic[64];
    cJSON        *root;
    size_t        n;
    const char   *message, *type, *code, *rpc;
    const cJSON  *e;

    root = llm_json_parse_strict(body, len);

    e = cJSON_IsArray(root) ? root->child : root;
    e = llm_json_get(e, "error");
    rpc = llm_json_str(e, "status");

    if (rpc == NULL) {
        cJSON_Delete(root);
        return llm_compat_error(status, body, len, pool, out);
    }

    /* the HTTP status decides: RESOURCE_EXHAUSTED comes as 429 */

    out->retryable = (status == 429 || status == 500 || status == 502
                      || status == 503 || status == 504);
    out->retry_after = llm_gemini_retry_delay(
                           llm_json_get(e, "details"));
    out->body = NULL;
    out->body_len = 0;

    llm_gemini_error_type(status, e, &type, &code);

    message = llm_json_str(e, "message");

    if (message == NULL || message[0] == '\0') {
        snprintf(generic, sizeof(generic),
                 "The upstream provider returned HTTP %d", status);
        message = generic;
    }

    n = strlen(message);

    if (n > LLM_ERROR_MAX_MESSAGE) {
        n = llm_utf8_trim(message, LLM_ERROR_MAX_MESSAGE);
    }

    out->body = llm_error_render_raw(message, n, type, NULL, code, pool,
                                     &out->body_len);

    cJSON_Delete(root);

    return (out->body != NULL) ? LLM_OK : LLM_ERROR;
}


static int
llm_gemini_decode_tree(const llm_request_t *req, const llm_provider_t *p,
    const char *body, size_t len, long long created, llm_pool_t *pool,
    llm_response_t *out, llm_error_t *err)
{
    int                rc;
    char              *id, seed[32];
    cJSON             *root;
    size_t             n, i;
    const char        *s;
    const cJSON       *cands, *cand, *item;
    llm_completion_t   c;

    memset(out, 0, sizeof(llm_response_t));
    memset(&c, 0, sizeof(llm_completion_t));

    root = llm_json_parse_pool(body, len, pool);

    if (root == NULL) {
        llm_invalid_response(err, "The gemini answer is not valid JSON");
        return LLM_ERROR;
    }

    rc = LLM_ERROR;

    if (!cJSON_IsObject(root)) {
        llm_invalid_response(err, "The gemini answer is not a JSON object");
        goto done;
    }

    /* the seed of generated ids: the responseId, else the answer's hash */

    s = llm_json_str(root, "responseId");

    if (s == NULL || s[0] == '\0') {
        snprintf(seed, sizeof(seed), "%016llx",
                 llm_gemini_hash(body, len));
        s = seed;
    }

    cands = llm_gemini_item(root, "candidates");

    if (cands != NULL && !cJSON_IsArray(cands)) {
        llm_invalid_response(err, "The gemini answer has a 'candidates' "
                             "that is not an array");
        goto done;
    }

    n = (size_t) cJSON_GetArraySize(cands);

    c.choices = llm_palloc(pool, (n ? n : 1) * sizeof(llm_choice_t));
    if (c.choices == NULL) {
        llm_gemini_nomem(err);
        goto done;
    }

    if (n == 0) {
        /* the prompt was blocked: no candidates, a promptFeedback */

        item = llm_json_get(root, "promptFeedback");

        if (llm_json_str(item, "blockReason") == NULL) {
            llm_invalid_response(err, "The gemini answer has no candidates");
            goto done;
        }

        memset(&c.choices[0], 0, sizeof(llm_choice_t));
        c.choices[0].finish_reason = "content_filter";
        c.nchoices = 1;

    } else {
        i = 0;

        for (cand = cands->child; cand != NULL; cand = cand->next) {
            if (llm_gemini_candidate(cand, i, s, pool, &c.choices[i], err)
                != LLM_OK)
            {
                goto done;
            }

            i++;
        }

        c.nchoices = n;
    }

    llm_gemini_usage(llm_gemini_item(root, "usageMetadata"), &c.usage);

    s = llm_json_str(root, "responseId");

    if (s != NULL && s[0] != '\0') {
        c.id = s;

    } else {
        id = llm_palloc(pool, sizeof("chatcmpl-") - 1 + 16 + 1);
        if (id == NULL) {
            llm_gemini_nomem(err);
            goto done;
        }

        snprintf(id, sizeof("chatcmpl-") - 1 + 16 + 1, "chatcmpl-%016llx",
                 llm_gemini_hash(body, len));
        c.id = id;
    }

    s = llm_json_str(root, "modelVersion");

    if (s != NULL && s[0] != '\0') {
        c.model = s;

    } else if (p->model != NULL && p->model[0] != '\0') {
        c.model = p->model;

    } else if (req != NULL && req->model != NULL) {
        c.model = req->model;

    } else {
        c.model = "";
    }

    c.created = created;

    rc = llm_completion_respond(&c, pool, out, err);

done:

    /* root goes with the pool: see llm_gemini_decode() */

    return rc;
}


/*
 * One candidate: text parts joined (thought summaries left out),
 * functionCall parts as tool calls.  The Gemini API gives calls no id:
 * one is made from the seed and the candidate's and call's indexes, so
 * the same answer always gives the same ids.
 */

static int
llm_gemini_candidate(const cJSON *cand, size_t n, const char *seed,
    llm_pool_t *pool, llm_choice_t *choice, llm_error_t *err)
{
    int               text;
    char             *buf, *s, key[160];
    size_t            len, ncalls, k;
    const cJSON      *parts, *part, *item, *fc, *args;
    llm_tool_call_t  *call;

    memset(choice, 0, sizeof(llm_choice_t));

    if (!cJSON_IsObject(cand)) {
        return llm_gemini_bad(err, "a candidate that is not an object");
    }

    parts = llm_gemini_item(cand, "content");

    if (parts != NULL && !cJSON_IsObject(parts)) {
        return llm_gemini_bad(err, "a candidate content that is not an "
                                   "object");
    }

    parts = llm_gemini_item(parts, "parts");

    if (parts != NULL && !cJSON_IsArray(parts)) {
        return llm_gemini_bad(err, "candidate parts that are not an array");
    }

    text = 0;
    len = 0;
    ncalls = 0;

    for (part = parts ? parts->child : NULL; part != NULL; part = part->next)
    {
        if (!cJSON_IsObject(part)) {
            return llm_gemini_bad(err, "a part that is not an object");
        }

        item = llm_gemini_item(part, "text");

        if (item != NULL) {
            if (!cJSON_IsString(item)) {
                return llm_gemini_bad(err, "a text part that is not a "
                                           "string");
            }

            if (!llm_gemini_thought(part)) {
                text = 1;
                len += strlen(item->valuestring);
            }
        }

        fc = llm_gemini_item(part, "functionCall");

        if (fc != NULL) {
            if (llm_json_str(fc, "name") == NULL) {
                return llm_gemini_bad(err, "a functionCall without a name");
            }

            ncalls++;
        }
    }

    if (text) {
        buf = llm_palloc(pool, len + 1);
        if (buf == NULL) {
            return llm_gemini_nomem(err);
        }

        choice->content = buf;
        choice->content_len = len;
    }

    if (ncalls) {
        choice->tool_calls = llm_palloc(pool,
                                        ncalls * sizeof(llm_tool_call_t));
        if (choice->tool_calls == NULL) {
            return llm_gemini_nomem(err);
        }
    }

    buf = (char *) choice->content;
    k = 0;

    for (part = parts ? parts->child : NULL; part != NULL; part = part->next)
    {
        item = llm_gemini_item(part, "text");

        if (item != NULL && !llm_gemini_thought(part)) {
            len = strlen(item->valuestring);
            memcpy(buf, item->valuestring, len);
            buf += len;
        }

        fc = llm_gemini_item(part, "functionCall");

        if (fc == NULL) {
            continue;
        }

        call = &choice->tool_calls[k];
        call->name = llm_json_str(fc, "name");

        snprintf(key, sizeof(key), "%.128s/%lu/%lu", seed,
                 (unsigned long) n, (unsigned long) k);

        if (llm_tool_call_id(pool, key, strlen(key), &s) != LLM_OK) {
            return llm_gemini_nomem(err);
        }

        call->id = s;

        args = llm_gemini_item(fc, "args");

        if (args == NULL) {
            call->arguments = "{}";

        } else {
            call->arguments = llm_json_print(args, pool, NULL);

            if (call->arguments == NULL) {
                return llm_gemini_nomem(err);
            }
        }

        k++;
    }

    if (text) {
        *buf = '\0';
    }

    choice->ntool_calls = ncalls;
    choice->finish_reason = llm_gemini_finish(cand, ncalls);

    return LLM_OK;
}


static int
llm_gemini_thought(const cJSON *part)
{
    return cJSON_IsTrue(llm_json_get(part, "thought"));
}


/*
 * STOP (or none) with a functionCall: tool_calls; MAX_TOKENS: length;
 * the safety family: content_filter; anything else (OTHER,
 * MALFORMED_FUNCTION_CALL...): stop, as strict clients reject values
 * OpenAI does not have.
 */

const char *
llm_gemini_finish(const cJSON *cand, size_t ncalls)
{
    size_t       i;
    const char  *r;

    r = llm_json_str(cand, "finishReason");

    if (r == NULL) {
        r = "";
    }

    if (strcmp(r, "MAX_TOKENS") == 0) {
        return "length";
    }

    for (i = 0; llm_gemini_filtered[i] != NULL; i++) {
        if (strcmp(r, llm_gemini_filtered[i]) == 0) {
            return "content_filter";
        }
    }

    if (ncalls && (r[0] == '\0' || strcmp(r, "STOP") == 0)) {
        return "tool_calls";
    }

    return "stop";
}


/*
 * prompt = promptTokenCount (cached content included) +
 * toolUsePromptTokenCount, completion = candidatesTokenCount +
 * thoughtsTokenCount (thoughts are billed as output and not in
 * candidatesTokenCount), total = totalTokenCount or the sum;
 * cached_tokens = cachedContentTokenCount, reasoning_tokens =
 * thoughtsTokenCount; -1 when not reported (a sum: when none of its
 * terms is).  Gemini reports no cache writes.
 */

void
llm_gemini_usage(const cJSON *meta, llm_usage_t *usage)
{
    long long  prompt, tool, cand, thoughts;

    prompt = llm_json_count(meta, "promptTokenCount");
    tool = llm_json_count(meta, "toolUsePromptTokenCount");
    cand = llm_json_count(meta, "candidatesTokenCount");
    thoughts = llm_json_count(meta, "thoughtsTokenCount");

    usage->prompt_tokens = llm_usage_add(prompt, tool);
    usage->completion_tokens = llm_usage_add(cand, thoughts);

    usage->total_tokens = llm_json_count(meta, "totalTokenCount");

    if (usage->total_tokens < 0) {
        usage->total_tokens = llm_usage_add(usage->prompt_tokens,
                                            usage->completion_tokens);
    }

    usage->cached_tokens = llm_json_count(meta, "cachedContentTokenCount");
    usage->cache_write_tokens = -1;
    usage->reasoning_tokens = thoughts;
}


/*
 * the OpenAI type and code of a Gemini error object (its google.rpc
 * "status", its details) that came with an HTTP status
 */

void
llm_gemini_error_type(int status, const cJSON *e, const char **type,
    const char **code)
{
    size_t        i;
    const char   *rpc, *s;
    const cJSON  *d;

    rpc = llm_json_str(e, "status");

    if (rpc == NULL) {
        rpc = "";
    }

    *code = NULL;

    for (i = 0; llm_gemini_codes[i][0] != NULL; i++) {
        if (strcmp(rpc, llm_gemini_codes[i][0]) == 0) {
            *code = llm_gemini_codes[i][1];
            break;
        }
    }

    if (status == 401 || strcmp(rpc, "UNAUTHENTICATED") == 0) {
        *type = "authentication_error";

    } else if (status == 403 || strcmp(rpc, "PERMISSION_DENIED") == 0) {
        *type = "permission_error";

    } else if (status == 429 || strcmp(rpc, "RESOURCE_EXHAUSTED") == 0) {
        *type = "rate_limit_error";

    } else if (status >= 400 && status < 500) {
        *type = "invalid_request_error";

    } else if (status >= 500) {
        *type = "server_error";

    } else {
        *type = "api_error";
    }

    d = llm_json_get(e, "details");

    for (d = cJSON_IsArray(d) ? d->child : NULL; d != NULL; d = d->next) {
        s = llm_json_str(d, "reason");

        if (s != NULL && strcmp(s, "API_KEY_INVALID") == 0) {
            *type = "authentication_error";
            *code = "invalid_api_key";
            break;
        }
    }
}


/* 64-bit FNV-1a */

static unsigned long long
llm_gemini_hash(const char *s, size_t len)
{
    size_t              i;
    unsigned long long  h;

    h = 14695981039346656037ULL;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= 1099511628211ULL;
    }

    return h;
}


static int
llm_gemini_bad(llm_error_t *err, const char *what)
{
    llm_invalid_response(err, "The gemini answer has %s", what);

    return LLM_ERROR;
}


static int
llm_gemini_nomem(llm_error_t *err)
{
    llm_error_set(err, 500, LLM_SERVER_ERROR, NULL, NULL, "out of memory");

    return LLM_ERROR;
}


/* a member, with JSON null taken as absent */

static const cJSON *
llm_gemini_item(const cJSON *obj, const char *name)
{
    const cJSON  *item;

    item = llm_json_get(obj, name);

    if (item == NULL || cJSON_IsNull(item)) {
        return NULL;
    }

    return item;
}


/* the direct writer when it applies, else the cJSON tree */

static int
llm_gemini_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    int  rc;

    rc = llm_gemini_encode_fast(req, p, pool, out, err);

    if (rc != LLM_DECLINED) {
        return rc;
    }

    return llm_gemini_encode_tree(req, p, pool, out, err);
}


/* the cJSON trees of encode() on the pool (llm_arena.c) */

int
llm_gemini_encode_tree(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    int          rc;
    llm_arena_t  arena;

    llm_arena_enter(&arena, pool);

    rc = llm_gemini_encode_cjson(req, p, pool, out, err);

    return llm_arena_done(&arena, rc, err);
}


/* the cJSON trees of decode() on the pool (llm_arena.c) */

static int
llm_gemini_decode(const llm_request_t *req, const llm_provider_t *p,
    const char *body, size_t len, long long created, llm_pool_t *pool,
    llm_response_t *out, llm_error_t *err)
{
    int          rc;
    llm_arena_t  arena;

    llm_arena_enter(&arena, pool);

    rc = llm_gemini_decode_tree(req, p, body, len, created, pool, out, err);

    return llm_arena_done(&arena, rc, err);
}


/* the cJSON trees of error() on the pool (llm_arena.c) */

static int
llm_gemini_error(int status, const char *body, size_t len,
    llm_pool_t *pool, llm_provider_error_t *out)
{
    int          rc;
    llm_arena_t  arena;

    llm_arena_enter(&arena, pool);

    rc = llm_gemini_error_tree(status, body, len, pool, out);

    llm_arena_leave(&arena);

    return rc;
}


/*
 * Embeddings: always batchEmbedContents, one request per text:
 * {"requests":[{"model":"models/<model>","content":{"parts":[{"text"}]}
 * [,"taskType"][,"outputDimensionality"]},...]}
 */

static int
llm_gemini_embed_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    size_t            hint;
    llm_embed_body_t  b;

    memset(out, 0, sizeof(llm_http_request_t));

    if (llm_embed_check(req, "gemini", LLM_GEMINI_EMBED_MAX, 0, err)
        != LLM_OK
        || llm_gemini_model(req, p, &b.model, err) != LLM_OK
        || llm_gemini_head(p, b.model, LLM_GEMINI_EMBED, pool, out, err)
           != LLM_OK)
    {
        return LLM_ERROR;
    }

    b.req = req;
    b.input_type = llm_gemini_task_type(req, p);

    hint = LLM_BODY_HINT(req)
           + req->ninputs * (strlen(b.model) + 128);

    if (llm_json_write_body(llm_gemini_embed_write, &b, hint, &req->refs,
                            pool, out)
        != LLM_OK)
    {
        return llm_gemini_nomem(err);
    }

    return LLM_OK;
}


/*
 * The request's input_type as Gemini's taskType, else the provider's
 * (Gemini's own names), else none
 */

static const char *
llm_gemini_task_type(const llm_request_t *req, const llm_provider_t *p)
{
    size_t  i;

    static const char  *const types[] = {
        "search_document", "RETRIEVAL_DOCUMENT",
        "search_query", "RETRIEVAL_QUERY",
        "classification", "CLASSIFICATION",
        "clustering", "CLUSTERING",
        NULL
    };

    if (req->input_type != NULL) {
        for (i = 0; types[i] != NULL; i += 2) {
            if (strcmp(req->input_type, types[i]) == 0) {
                return types[i + 1];
            }
        }
    }

    if (p->input_type != NULL && p->input_type[0] != '\0') {
        return p->input_type;
    }

    return NULL;
}


static void
llm_gemini_embed_write(llm_out_t *out, llm_json_splices_t *sp,
    const void *data)
{
    const llm_embed_body_t  *b = data;

    const cJSON  *item;

    llm_out_lit(out, "{\"requests\":[");

    for (item = llm_embed_text(b->req, NULL); item != NULL;
         item = llm_embed_text(b->req, item))
    {
        if (item != b->req->input && item != b->req->input->child) {
            llm_out_raw(out, ",", 1);
        }

        /* the model has only [A-Za-z0-9._-]: llm_gemini_model() */

        llm_out_lit(out, "{\"model\":\"models/");
        llm_out_cstr(out, b->model);
        llm_out_lit(out, "\",\"content\":{\"parts\":[{\"text\":");
        llm_json_out_ref(out, sp, item->valuestring);
        llm_out_lit(out, "}]}");

        if (b->input_type != NULL) {
            llm_out_lit(out, ",\"taskType\":");
            llm_out_nstr(out, b->input_type);
        }

        if (b->req->dimensions) {
            llm_out_lit(out, ",\"outputDimensionality\":");
            llm_out_int(out, b->req->dimensions);
        }

        llm_out_raw(out, "}", 1);
    }

    llm_out_lit(out, "]}");
}


/*
 * {"embeddings":[{"values":[...]},...]}, in the order of the requests.
 * Gemini reports no token counts: the answer has no "usage".  No cJSON
 * tree is built.
 */

static int
llm_gemini_embed_decode(const llm_request_t *req, const llm_provider_t *p,
    const char *body, size_t len, llm_pool_t *pool, llm_response_t *out,
    llm_error_t *err)
{
    int               rc;
    size_t            pos, i, n;
    const char       *e, *model;
    llm_error_t       bad;
    llm_slice_t      *vectors;
    llm_json_span_t   span, el, v;

    if (body == NULL || llm_json_validate(body, len, NULL) != LLM_OK) {
        llm_invalid_response(err, "the embeddings answer is not valid JSON");
        return LLM_ERROR;
    }

    rc = llm_json_member(body, len, "embeddings", &span);

    if (rc != LLM_OK) {
        llm_invalid_response(err, (rc == LLM_ERROR)
                             ? "the embeddings answer is not an object"
                             : "the embeddings answer has no "
                               "\"embeddings\"");
        return LLM_ERROR;
    }

    n = req->ninputs;

    vectors = llm_palloc(pool, n * sizeof(llm_slice_t) + 1);
    if (vectors == NULL) {
        return llm_gemini_nomem(err);
    }

    body += span.value;
    len = span.end - span.value;
    pos = 0;

    for (i = 0; /* void */ ; i++) {
        rc = llm_json_element(body, len, &pos, &el);

        if (rc == LLM_DECLINED) {
            break;
        }

        if (rc != LLM_OK) {
            llm_invalid_response(err, "the embeddings answer's "
                                 "\"embeddings\" is not an array");
            return LLM_ERROR;
        }

        if (i >= n) {
            continue;
        }

        e = body + el.value;

        rc = llm_json_member(e, el.end - el.value, "values", &v);

        if (rc != LLM_OK) {
            llm_invalid_response(err, (rc == LLM_ERROR)
                                 ? "embeddings[%lu] is not an object"
                                 : "embeddings[%lu] has no \"values\"",
                                 (unsigned long) i);
            return LLM_ERROR;
        }

        vectors[i].data = e + v.value;
        vectors[i].len = v.end - v.value;
    }

    if (i != n) {
        llm_invalid_response(err, "the embeddings answer has %lu embeddings "
                             "for %lu inputs", (unsigned long) i,
                             (unsigned long) n);
        return LLM_ERROR;
    }

    /* the model sent: the encoder checked it */

    if (llm_gemini_model(req, p, &model, &bad) != LLM_OK) {
        model = NULL;
    }

    return llm_embed_render(req, model, vectors, n, NULL, pool, out, err);
}
