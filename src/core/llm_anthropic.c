
/*
 * ngx_http_llm_router_module: Anthropic Messages adapter
 * (docs/providers/anthropic.md).
 *
 * encode() builds a Messages request with cJSON from the parsed OpenAI
 * request (req->root is only read), in a fixed key order, or for the
 * plain requests most clients send (text messages, sampling fields) writes
 * the same text straight from req->root; decode() turns a
 * Messages answer into the neutral llm_completion_t; error() reads the
 * Anthropic error shape and leaves any other to llm_compat_error().
 */


#include <stdio.h>
#include <string.h>

#include "llm_internal.h"


#define LLM_ANTHROPIC_VERSION     "2023-06-01"
#define LLM_ANTHROPIC_MAX_TOKENS  4096

#define LLM_INVALID               "invalid_request_error"

#define LLM_ROLE_USER             1
#define LLM_ROLE_ASSISTANT        2


typedef struct {
    llm_error_t  *err;
    cJSON        *messages;           /* the Anthropic "messages" array */
    cJSON        *blocks;             /* "content" of its last message */
    int           role;               /* role of its last message, or 0 */
} llm_anthropic_ctx_t;


/* the top-level members the direct writer reads: llm_anthropic_fast_t */

#define LLM_FAST_MESSAGES         0
#define LLM_FAST_MAX_COMPLETION   1
#define LLM_FAST_MAX_TOKENS       2
#define LLM_FAST_TEMPERATURE      3
#define LLM_FAST_TOP_P            4
#define LLM_FAST_STOP             5
#define LLM_FAST_USER             6
#define LLM_FAST_N                7
#define LLM_FAST_LOGPROBS         8
#define LLM_FAST_RESPONSE_FORMAT  9
#define LLM_FAST_ITEMS            10


/*
 * What the direct writer needs of a plain request, read once by
 * llm_anthropic_fast_check()
 */
typedef struct {
    const cJSON  *item[LLM_FAST_ITEMS];   /* the first of each name */
    const char   *model;
    double        max_tokens;
    const char   *system;             /* the only system message's text */
    int           nsystem;            /* system and developer messages */
    int           system_text;        /* and any of them not empty */
    int           stream;
} llm_anthropic_fast_t;


typedef struct {
    const char   *type;               /* Anthropic error.type */
    int           status;             /* its status in a stream */
    const char   *openai_type;
    const char   *code;
} llm_anthropic_error_map_t;


static int llm_anthropic_encode(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
static int llm_anthropic_encode_cjson(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
static int llm_anthropic_fast_check(const llm_request_t *req,
    const llm_provider_t *p, llm_anthropic_fast_t *f);
static void llm_anthropic_fast_write(llm_out_t *out,
    llm_json_splices_t *sp, const void *data);
static double llm_anthropic_max_tokens(const cJSON *max_completion,
    const cJSON *max, const llm_provider_t *p);
static int llm_anthropic_head(const llm_provider_t *p, llm_pool_t *pool,
    llm_http_request_t *out, llm_error_t *err);
static int llm_anthropic_check(const cJSON *root, llm_error_t *err);
static cJSON *llm_anthropic_build(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_error_t *err);
static int llm_anthropic_system(const cJSON *messages, llm_pool_t *pool,
    cJSON *root, llm_error_t *err);
static void llm_anthropic_system_write(llm_out_t *out,
    const cJSON *messages);
static int llm_anthropic_messages(const cJSON *messages, cJSON *root,
    llm_error_t *err);
static int llm_anthropic_message(llm_anthropic_ctx_t *ctx, const cJSON *m,
    size_t i);
static int llm_anthropic_blocks(const cJSON *content, int images, size_t i,
    cJSON **blocks, llm_error_t *err);
static int llm_anthropic_text(cJSON *arr, const char *text);
static cJSON *llm_anthropic_image(const cJSON *part, size_t i, size_t k,
    llm_error_t *err);
static int llm_anthropic_tool_calls(llm_anthropic_ctx_t *ctx,
    const cJSON *calls, size_t i);
static int llm_anthropic_tool_result(llm_anthropic_ctx_t *ctx,
    const cJSON *m, size_t i);
static int llm_anthropic_append(llm_anthropic_ctx_t *ctx, int role,
    cJSON *block);
static int llm_anthropic_simplify(cJSON *messages);
static int llm_anthropic_options(const cJSON *root, cJSON *out,
    llm_error_t *err);
static int llm_anthropic_tools(const cJSON *root, cJSON *out,
    llm_error_t *err);
static int llm_anthropic_tool_choice(const cJSON *root, int have_tools,
    cJSON *out, llm_error_t *err);
static const cJSON *llm_anthropic_item(const cJSON *obj, const char *name);
static int llm_anthropic_is_role(const cJSON *m, const char *role);
static int llm_anthropic_add(cJSON *obj, const char *name, cJSON *item);
static int llm_anthropic_add_str(cJSON *obj, const char *name,
    const char *s);
static int llm_anthropic_decode(const llm_request_t *req,
    const llm_provider_t *p, const char *body, size_t len, long long created,
    llm_pool_t *pool, llm_response_t *out, llm_error_t *err);
static int llm_anthropic_id(const char *body, size_t len, llm_pool_t *pool,
    const char **id);
static int llm_anthropic_decode_content(const cJSON *content,
    llm_pool_t *pool, llm_choice_t *ch, llm_error_t *err);
static void llm_anthropic_text_write(llm_out_t *out, const cJSON *content);
static int llm_anthropic_error(int status, const char *body, size_t len,
    llm_pool_t *pool, llm_provider_error_t *out);

static int llm_anthropic_decode_tree(const llm_request_t *req,
    const llm_provider_t *p, const char *body, size_t len, long long created,
    llm_pool_t *pool, llm_response_t *out, llm_error_t *err);
static int llm_anthropic_error_tree(int status, const char *body, size_t len,
    llm_pool_t *pool, llm_provider_error_t *out);

const llm_adapter_t  llm_anthropic_adapter = {
    "anthropic",
    "https://api.anthropic.com/v1",
    llm_anthropic_encode,
    llm_anthropic_error,
    llm_anthropic_decode,
    llm_anthropic_stream,
    0,
    NULL,                             /* no embeddings API */
    NULL,
    0,
    0
};


/* OpenAI request fields that cannot be honoured: a 400, not a surprise */

static const char  *const llm_anthropic_reject[] = {
    "functions",
    "function_call",
    "audio",
    "web_search_options",
    NULL
};


static const char  *const llm_anthropic_media_types[] = {
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    NULL
};


/*
 * Anthropic error types, with the status an error event of that type in a
 * stream is answered with (its HTTP status, but 503 for overloaded_error:
 * 529 is Anthropic's own)
 */

static const llm_anthropic_error_map_t  llm_anthropic_errors[] = {
    { "invalid_request_error", 400, "invalid_request_error", NULL },
    { "authentication_error", 401, "authentication_error",
      "invalid_api_key" },
    { "billing_error", 402, "insufficient_quota", "insufficient_quota" },
    { "permission_error", 403, "permission_error", NULL },
    { "not_found_error", 404, "invalid_request_error", "not_found" },
    { "request_too_large", 413, "invalid_request_error",
      "request_too_large" },
    { "rate_limit_error", 429, "rate_limit_error", "rate_limit_exceeded" },
    { "api_error", 500, "server_error", NULL },
    { "timeout_error", 504, "server_error", "timeout" },
    { "overloaded_error", 503, "server_error", "overloaded" },
    { NULL, 0, NULL, NULL }
};


static int
llm_anthropic_encode_cjson(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    cJSON  *root;

    if (llm_anthropic_head(p, pool, out, err) != LLM_OK) {
        return LLM_ERROR;
    }

    if (!cJSON_IsObject(req->root)
        || !cJSON_IsArray(llm_json_get(req->root, "messages")))
    {
        llm_error_set(err, 500, "server_error", NULL, NULL,
                      "the request was not parsed");
        return LLM_ERROR;
    }

    if (llm_anthropic_check(req->root, err) != LLM_OK) {
        return LLM_ERROR;
    }

    root = llm_anthropic_build(req, p, pool, err);
    if (root == NULL) {
        return LLM_ERROR;
    }

    /* the provider's body is about as long as the client's */

    /* root goes with the pool: see llm_anthropic_encode_tree() */

    return llm_json_body(req, root, pool, out, err);
}


/*
 * The direct writer: the body llm_anthropic_encode_tree() would send,
 * byte for byte, written from req->root without a tree, for requests of
 * the plain shapes llm_anthropic_fast_check() takes.  LLM_DECLINED for
 * any other request (nothing done then), else LLM_OK or LLM_ERROR.
 */

int
llm_anthropic_encode_fast(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    llm_anthropic_fast_t  f;

    if (llm_anthropic_fast_check(req, p, &f) != LLM_OK) {
        return LLM_DECLINED;
    }

    if (llm_anthropic_head(p, pool, out, err) != LLM_OK) {
        return LLM_ERROR;
    }

    if (llm_json_write_body(llm_anthropic_fast_write, &f, LLM_BODY_HINT(req),
                            &req->refs, pool, out)
        != LLM_OK)
    {
        out->body_len = 0;

        llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");

        return LLM_ERROR;
    }

    return LLM_OK;
}


static const llm_fast_key_t  llm_anthropic_fast_keys[] = {
    { "model", LLM_FAST_IGNORED },            /* req->model */
    { "messages", LLM_FAST_MESSAGES },
    { "stream", LLM_FAST_IGNORED },           /* req->stream */
    { "stream_options", LLM_FAST_IGNORED },
    { "max_tokens", LLM_FAST_MAX_TOKENS },
    { "max_completion_tokens", LLM_FAST_MAX_COMPLETION },
    { "temperature", LLM_FAST_TEMPERATURE },
    { "top_p", LLM_FAST_TOP_P },
    { "stop", LLM_FAST_STOP },
    { "user", LLM_FAST_USER },
    { "n", LLM_FAST_N },
    { "logprobs", LLM_FAST_LOGPROBS },
    { "response_format", LLM_FAST_RESPONSE_FORMAT },
    { "frequency_penalty", LLM_FAST_IGNORED },
    { "presence_penalty", LLM_FAST_IGNORED },
    { "seed", LLM_FAST_IGNORED },
    { "logit_bias", LLM_FAST_IGNORED },
    { "store", LLM_FAST_IGNORED },
    { "metadata", LLM_FAST_IGNORED },
    { "service_tier", LLM_FAST_IGNORED },
    { NULL, 0 }
};


/*
 * LLM_OK when the tree would be built from nothing but string messages
 * (system and developer ones, then user and assistant ones that take
 * turns once the empty ones are left out) and the fields of
 * llm_fast_key(), and would not fail; f filled then.  Whatever
 * the tree path reads is read here the same way, so that both agree.
 */

static int
llm_anthropic_fast_check(const llm_request_t *req, const llm_provider_t *p,
    llm_anthropic_fast_t *f)
{
    int           last;
    size_t        i;
    const char   *name, *type;
    const cJSON  *root, *item, *m, *content;

    root = req->root;

    if (!cJSON_IsObject(root)) {
        return LLM_DECLINED;
    }

    for (i = 0; i < LLM_FAST_ITEMS; i++) {
        f->item[i] = NULL;
    }

    for (item = root->child; item != NULL; item = item->next) {
        if (llm_fast_key(item, llm_anthropic_fast_keys, f->item)
            != LLM_OK)
        {
            return LLM_DECLINED;
        }
    }

    /*
     * the first member of each name, as llm_json_get() finds it; null as
     * absent but for "messages", as llm_anthropic_item() has it
     */

    for (i = LLM_FAST_MESSAGES + 1; i < LLM_FAST_ITEMS; i++) {
        if (cJSON_IsNull(f->item[i])) {
            f->item[i] = NULL;
        }
    }

    /* llm_anthropic_check() */

    item = f->item[LLM_FAST_N];

    if (cJSON_IsNumber(item) && item->valuedouble > 1) {
        return LLM_DECLINED;
    }

    item = f->item[LLM_FAST_LOGPROBS];

    if (item != NULL && !cJSON_IsFalse(item)) {
        return LLM_DECLINED;
    }

    item = f->item[LLM_FAST_RESPONSE_FORMAT];

    if (item != NULL) {
        type = llm_json_str(item, "type");

        if (type == NULL || strcmp(type, "text") != 0) {
            return LLM_DECLINED;
        }
    }

    if (!cJSON_IsArray(f->item[LLM_FAST_MESSAGES])) {
        return LLM_DECLINED;
    }

    f->model = p->model;

    if (f->model == NULL || f->model[0] == '\0') {
        f->model = req->model;
    }

    if (f->model == NULL || f->model[0] == '\0') {
        return LLM_DECLINED;
    }

    f->system = NULL;
    f->nsystem = 0;
    f->system_text = 0;

    last = 0;

    for (m = f->item[LLM_FAST_MESSAGES]->child; m != NULL; m = m->next) {
        name = llm_json_message(m, &content);

        if (name == NULL) {
            continue;
        }

        if (!cJSON_IsString(content)) {
            return LLM_DECLINED;
        }

        if (strcmp(name, "system") == 0 || strcmp(name, "developer") == 0) {
            f->system = content->valuestring;
            f->nsystem++;
            f->system_text |= (content->valuestring[0] != '\0');
            continue;
        }

        if (strcmp(name, "user") == 0) {
            if (content->valuestring[0] == '\0') {
                continue;
            }

            if (last == LLM_ROLE_USER) {
                return LLM_DECLINED;
            }

            last = LLM_ROLE_USER;
            continue;
        }

        if (strcmp(name, "assistant") != 0
            || llm_anthropic_item(m, "tool_calls") != NULL)
        {
            return LLM_DECLINED;
        }

        if (content->valuestring[0] == '\0') {
            continue;
        }

        if (last == LLM_ROLE_ASSISTANT) {
            return LLM_DECLINED;
        }

        last = LLM_ROLE_ASSISTANT;
    }

    if (last == 0) {
        return LLM_DECLINED;
    }

    /* llm_anthropic_options(): its failures */

    item = f->item[LLM_FAST_STOP];

    if (cJSON_IsArray(item)) {
        for (item = item->child; item != NULL; item = item->next) {
            if (!cJSON_IsString(item)) {
                return LLM_DECLINED;
            }
        }
    }

    item = f->item[LLM_FAST_USER];

    if (item != NULL && !cJSON_IsString(item)) {
        return LLM_DECLINED;
    }

    f->max_tokens = llm_anthropic_max_tokens(f->item[LLM_FAST_MAX_COMPLETION],
                                             f->item[LLM_FAST_MAX_TOKENS], p);
    f->stream = req->stream;

    return LLM_OK;
}


/*
 * The top-level members the direct writer takes: those it writes, those
 * the tree path leaves out whatever their value, and those the tree path
 * only checks (llm_anthropic_fast_check() checks them the same way).  Any
 * other member declines the request unless it is null, which the tree
 * path takes as absent: tools, tool_choice, the members
 * llm_anthropic_check() rejects, unknown ones.
 */


/* the llm_json_writer_pt of the direct writer: f is llm_anthropic_fast_t */

static void
llm_anthropic_fast_write(llm_out_t *out, llm_json_splices_t *sp,
    const void *data)
{
    int                          first;
    double                       d;
    const char                  *name, *s;
    const cJSON                 *m, *content, *item, *stop;
    const llm_anthropic_fast_t  *f;

    f = data;

    llm_out_lit(out, "{\"model\":");
    llm_out_nstr(out, f->model);

    llm_out_lit(out, ",\"max_tokens\":");
    llm_out_double(out, f->max_tokens);

    /* llm_anthropic_system(): one string as is, several joined */

    if (f->nsystem == 1 && f->system[0] != '\0') {
        llm_out_lit(out, ",\"system\":");
        llm_json_out_ref(out, sp, f->system);

    } else if (f->nsystem > 1 && f->system_text) {
        llm_out_lit(out, ",\"system\":\"");

        first = 1;

        for (m = f->item[LLM_FAST_MESSAGES]->child; m != NULL; m = m->next) {
            name = llm_json_message(m, &content);

            if (name == NULL
                || (strcmp(name, "system") != 0
                    && strcmp(name, "developer") != 0))
            {
                continue;
            }

            s = content->valuestring;

            if (s[0] == '\0') {
                continue;
            }

            if (!first) {
                llm_out_raw(out, "\\n\\n", 4);
            }

            llm_out_escaped(out, s, strlen(s));
            first = 0;
        }

        llm_out_raw(out, "\"", 1);
    }

    llm_out_lit(out, ",\"messages\":[");

    first = 1;

    for (m = f->item[LLM_FAST_MESSAGES]->child; m != NULL; m = m->next) {
        name = llm_json_message(m, &content);

        if (name == NULL) {
            continue;
        }

        if (strcmp(name, "user") == 0) {
            s = "{\"role\":\"user\",\"content\":";

        } else if (strcmp(name, "assistant") == 0) {
            s = "{\"role\":\"assistant\",\"content\":";

        } else {
            continue;
        }

        if (content->valuestring[0] == '\0') {
            continue;
        }

        if (!first) {
            llm_out_raw(out, ",", 1);
        }

        llm_out_cstr(out, s);
        llm_json_out_ref(out, sp, content->valuestring);
        llm_out_raw(out, "}", 1);

        first = 0;
    }

    llm_out_raw(out, "]", 1);

    /* llm_anthropic_options() */

    item = f->item[LLM_FAST_TEMPERATURE];

    if (cJSON_IsNumber(item)) {
        d = item->valuedouble;

        llm_out_lit(out, ",\"temperature\":");
        llm_out_double(out, d > 1 ? 1 : d);
    }

    item = f->item[LLM_FAST_TOP_P];

    if (cJSON_IsNumber(item)) {
        llm_out_lit(out, ",\"top_p\":");
        llm_out_double(out, item->valuedouble);
    }

    stop = f->item[LLM_FAST_STOP];
    item = stop;

    if (cJSON_IsString(item) || (cJSON_IsArray(item) && item->child != NULL))
    {
        /* copies in the tree: never by reference */

        llm_out_lit(out, ",\"stop_sequences\":");

        llm_fast_strings(out, stop);
    }

    item = f->item[LLM_FAST_USER];

    if (item != NULL) {
        llm_out_lit(out, ",\"metadata\":{\"user_id\":");
        llm_out_nstr(out, item->valuestring);
        llm_out_raw(out, "}", 1);
    }

    if (f->stream) {
        llm_out_lit(out, ",\"stream\":true");
    }

    llm_out_raw(out, "}", 1);
}


/* path, "x-api-key" and "anthropic-version" */

static int
llm_anthropic_head(const llm_provider_t *p, llm_pool_t *pool,
    llm_http_request_t *out, llm_error_t *err)
{
    if (llm_compat_head(p, "/messages", pool, out, err) != LLM_OK) {
        return LLM_ERROR;
    }

    /* the key was checked by llm_compat_head(): no control characters */

    out->nheaders = 0;

    if (p->api_key != NULL && p->api_key[0] != '\0') {
        out->headers[out->nheaders].name = "x-api-key";
        out->headers[out->nheaders].value = p->api_key;
        out->nheaders++;
    }

    out->headers[out->nheaders].name = "anthropic-version";
    out->headers[out->nheaders].value = LLM_ANTHROPIC_VERSION;
    out->nheaders++;

    return LLM_OK;
}


/* the request fields Anthropic has no equivalent for */

static int
llm_anthropic_check(const cJSON *root, llm_error_t *err)
{
    size_t        i;
    const char   *type;
    const cJSON  *item, *m;

    item = llm_anthropic_item(root, "n");

    if (item != NULL && cJSON_IsNumber(item) && item->valuedouble > 1) {
        llm_error_set(err, 400, LLM_INVALID, "n", NULL,
                      "'n' greater than 1 is not supported by this "
                      "provider (Anthropic)");
        return LLM_ERROR;
    }

    item = llm_anthropic_item(root, "logprobs");

    if (item != NULL && !cJSON_IsFalse(item)) {
        llm_error_set(err, 400, LLM_INVALID, "logprobs", NULL,
                      "'logprobs' is not supported by this provider "
                      "(Anthropic)");
        return LLM_ERROR;
    }

    if (llm_anthropic_item(root, "top_logprobs") != NULL) {
        llm_error_set(err, 400, LLM_INVALID, "top_logprobs", NULL,
                      "'top_logprobs' is not supported by this provider "
                      "(Anthropic)");
        return LLM_ERROR;
    }

    item = llm_anthropic_item(root, "response_format");

    if (item != NULL) {
        type = llm_json_str(item, "type");

        if (type == NULL || strcmp(type, "text") != 0) {
            llm_error_set(err, 400, LLM_INVALID, "response_format", NULL,
                          "'response_format' other than {\"type\":\"text\"} "
                          "is not supported by this provider (Anthropic); "
                          "use a tool with a forced 'tool_choice' for "
                          "structured output");
            return LLM_ERROR;
        }
    }

    item = llm_anthropic_item(root, "modalities");

    if (item != NULL) {
        for (m = cJSON_IsArray(item) ? item->child : NULL;
             m != NULL;
             m = m->next)
        {
            if (!cJSON_IsString(m) || strcmp(m->valuestring, "text") != 0) {
                break;
            }
        }

        if (!cJSON_IsArray(item) || m != NULL) {
            llm_error_set(err, 400, LLM_INVALID, "modalities", NULL,
                          "'modalities' other than [\"text\"] is not "
                          "supported by this provider (Anthropic)");
            return LLM_ERROR;
        }
    }

    for (i = 0; llm_anthropic_reject[i] != NULL; i++) {
        if (llm_anthropic_item(root, llm_anthropic_reject[i]) != NULL) {
            llm_error_set(err, 400, LLM_INVALID, llm_anthropic_reject[i],
                          NULL,
                          "'%s' is not supported by this provider "
                          "(Anthropic)%s", llm_anthropic_reject[i],
                          (i < 2) ? "; use 'tools'" : "");
            return LLM_ERROR;
        }
    }

    return LLM_OK;
}


static cJSON *
llm_anthropic_build(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_error_t *err)
{
    double        max;
    cJSON        *root;
    const char   *model;
    const cJSON  *messages;

    model = p->model;

    if (model == NULL || model[0] == '\0') {
        model = req->model;
    }

    if (model == NULL || model[0] == '\0') {
        llm_error_set(err, 400, LLM_INVALID, "model", NULL,
                      "'model' is required");
        return NULL;
    }

    max = llm_anthropic_max_tokens(
              llm_anthropic_item(req->root, "max_completion_tokens"),
              llm_anthropic_item(req->root, "max_tokens"), p);

    messages = llm_json_get(req->root, "messages");

    root = cJSON_CreateObject();
    if (root == NULL) {
        goto nomem;
    }

    if (llm_anthropic_add_str(root, "model", model) != LLM_OK
        || llm_anthropic_add(root, "max_tokens", cJSON_CreateNumber(max))
           != LLM_OK)
    {
        goto nomem;
    }

    if (llm_anthropic_system(messages, pool, root, err) != LLM_OK
        || llm_anthropic_messages(messages, root, err) != LLM_OK
        || llm_anthropic_options(req->root, root, err) != LLM_OK)
    {
        cJSON_Delete(root);
        return NULL;
    }

    if (req->stream
        && llm_anthropic_add(root, "stream", cJSON_CreateTrue()) != LLM_OK)
    {
        goto nomem;
    }

    return root;

nomem:

    cJSON_Delete(root);

    llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");

    return NULL;
}


/*
 * max_completion_tokens, max_tokens (either NULL when absent or null), the
 * provider's, or the default
 */

static double
llm_anthropic_max_tokens(const cJSON *max_completion, const cJSON *max,
    const llm_provider_t *p)
{
    const cJSON  *item;

    item = (max_completion != NULL) ? max_completion : max;

    if (cJSON_IsNumber(item)) {
        return item->valuedouble;
    }

    if (p->max_tokens > 0) {
        return (double) p->max_tokens;
    }

    return LLM_ANTHROPIC_MAX_TOKENS;
}


/* every system/developer message, text only, joined into "system" */

static int
llm_anthropic_system(const cJSON *messages, llm_pool_t *pool, cJSON *root,
    llm_error_t *err)
{
    size_t        i, n;
    const char   *type, *one;
    llm_out_t     out;
    const cJSON  *m, *content, *part;

    i = 0;
    n = 0;
    one = NULL;

    for (m = messages->child; m != NULL; m = m->next, i++) {
        if (!llm_anthropic_is_role(m, "system")
            && !llm_anthropic_is_role(m, "developer"))
        {
            continue;
        }

        content = llm_json_get(m, "content");
        n++;

        if (cJSON_IsString(content)) {
            one = content->valuestring;
        }

        if (!cJSON_IsArray(content)) {
            continue;
        }

        for (part = content->child; part != NULL; part = part->next) {
            type = llm_json_str(part, "type");

            if (type == NULL || strcmp(type, "text") != 0
                || llm_json_str(part, "text") == NULL)
            {
                llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                              "messages[%lu]: system and developer "
                              "messages may only have text parts",
                              (unsigned long) i);
                return LLM_ERROR;
            }
        }
    }

    /*
     * One system message with a string, as most clients send: the
     * request's text itself (a long one goes out as the client's bytes).
     * Several are joined on the pool.
     */

    if (n == 1 && one != NULL) {
        if (one[0] != '\0' && llm_json_add_ref(root, "system", one) == NULL) {
            goto nomem;
        }

        return LLM_OK;
    }

    out.buf = NULL;
    out.len = 0;
    out.size = 0;

    llm_anthropic_system_write(&out, messages);

    if (out.len == 0) {
        return LLM_OK;
    }

    if (llm_out_alloc(&out, pool) == NULL) {
        goto nomem;
    }

    llm_anthropic_system_write(&out, messages);
    out.buf[out.len] = '\0';

    if (llm_json_add_ref(root, "system", out.buf) == NULL) {
        goto nomem;
    }

    return LLM_OK;

nomem:

    llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");

    return LLM_ERROR;
}


static void
llm_anthropic_system_write(llm_out_t *out, const cJSON *messages)
{
    int           first;
    const char   *s;
    const cJSON  *m, *content, *part;

    first = 1;

    for (m = messages->child; m != NULL; m = m->next) {
        if (!llm_anthropic_is_role(m, "system")
            && !llm_anthropic_is_role(m, "developer"))
        {
            continue;
        }

        content = llm_json_get(m, "content");
        part = cJSON_IsArray(content) ? content->child : content;

        for ( /* void */ ; part != NULL; part = part->next) {
            s = cJSON_IsString(part) ? part->valuestring
                                     : llm_json_str(part, "text");

            if (s != NULL && s[0] != '\0') {
                if (!first) {
                    llm_out_raw(out, "\n\n", 2);
                }

                llm_out_cstr(out, s);
                first = 0;
            }

            if (part == content) {
                break;
            }
        }
    }
}


static int
llm_anthropic_messages(const cJSON *messages, cJSON *root, llm_error_t *err)
{
    size_t                i;
    const cJSON          *m;
    llm_anthropic_ctx_t   ctx;

    ctx.err = err;
    ctx.blocks = NULL;
    ctx.role = 0;

    ctx.messages = cJSON_CreateArray();

    if (llm_anthropic_add(root, "messages", ctx.messages) != LLM_OK) {
        llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
        return LLM_ERROR;
    }

    i = 0;

    for (m = messages->child; m != NULL; m = m->next, i++) {
        if (llm_anthropic_message(&ctx, m, i) != LLM_OK) {
            return LLM_ERROR;
        }
    }

    if (ctx.messages->child == NULL) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "at least one user or assistant message with content "
                      "is required");
        return LLM_ERROR;
    }

    if (llm_anthropic_simplify(ctx.messages) != LLM_OK) {
        llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
        return LLM_ERROR;
    }

    return LLM_OK;
}


static int
llm_anthropic_message(llm_anthropic_ctx_t *ctx, const cJSON *m, size_t i)
{
    int           role;
    cJSON        *blocks, *b;
    const char   *name;
    const cJSON  *item;

    name = llm_json_str(m, "role");

    if (name == NULL
        || strcmp(name, "system") == 0 || strcmp(name, "developer") == 0)
    {
        return LLM_OK;
    }

    if (strcmp(name, "tool") == 0) {
        return llm_anthropic_tool_result(ctx, m, i);
    }

    if (strcmp(name, "user") == 0) {
        role = LLM_ROLE_USER;

    } else if (strcmp(name, "assistant") == 0) {
        role = LLM_ROLE_ASSISTANT;

    } else {
        llm_error_set(ctx->err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: role '%.32s' is not supported by this "
                      "provider (Anthropic); use 'tool'",
                      (unsigned long) i, name);
        return LLM_ERROR;
    }

    if (llm_anthropic_blocks(llm_json_get(m, "content"),
                             role == LLM_ROLE_USER, i, &blocks, ctx->err)
        != LLM_OK)
    {
        return LLM_ERROR;
    }

    while (blocks->child != NULL) {
        b = cJSON_DetachItemViaPointer(blocks, blocks->child);

        if (llm_anthropic_append(ctx, role, b) != LLM_OK) {
            cJSON_Delete(blocks);
            return LLM_ERROR;
        }
    }

    cJSON_Delete(blocks);

    if (role == LLM_ROLE_ASSISTANT) {
        item = llm_anthropic_item(m, "tool_calls");

        if (item != NULL) {
            return llm_anthropic_tool_calls(ctx, item, i);
        }
    }

    return LLM_OK;
}


/*
 * OpenAI "content" (null, a string or parts) into a new array of Anthropic
 * blocks: text (empty ones dropped: Anthropic rejects them), refusal
 * parts as text, and with images set, image_url parts.
 */

static int
llm_anthropic_blocks(const cJSON *content, int images, size_t i,
    cJSON **blocks, llm_error_t *err)
{
    size_t        k;
    cJSON        *arr, *b;
    const char   *type, *text;
    const cJSON  *part;

    *blocks = NULL;

    arr = cJSON_CreateArray();
    if (arr == NULL) {
        goto nomem;
    }

    if (cJSON_IsString(content)) {
        if (llm_anthropic_text(arr, content->valuestring) != LLM_OK) {
            goto nomem;
        }

        *blocks = arr;
        return LLM_OK;
    }

    k = 0;

    for (part = cJSON_IsArray(content) ? content->child : NULL;
         part != NULL;
         part = part->next, k++)
    {
        type = llm_json_str(part, "type");

        if (type == NULL) {
            type = "";
        }

        if (strcmp(type, "text") == 0 || strcmp(type, "refusal") == 0) {
            text = llm_json_str(part, type);

            if (text == NULL) {
                llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                              "messages[%lu].content[%lu]: '%s' must be a "
                              "string", (unsigned long) i, (unsigned long) k,
                              type);
                goto failed;
            }

            if (llm_anthropic_text(arr, text) != LLM_OK) {
                goto nomem;
            }

            continue;
        }

        if (!images || strcmp(type, "image_url") != 0) {
            llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                          "messages[%lu].content[%lu]: content parts of "
                          "type '%.32s' are not supported by this provider "
                          "(Anthropic) in %s messages", (unsigned long) i,
                          (unsigned long) k, type,
                          images ? "user and tool" : "assistant");
            goto failed;
        }

        b = llm_anthropic_image(part, i, k, err);
        if (b == NULL) {
            goto failed;
        }

        if (!cJSON_AddItemToArray(arr, b)) {
            cJSON_Delete(b);
            goto nomem;
        }
    }

    *blocks = arr;

    return LLM_OK;

nomem:

    llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");

failed:

    cJSON_Delete(arr);

    return LLM_ERROR;
}


/* a text block, unless the text is empty; text is the request's */

static int
llm_anthropic_text(cJSON *arr, const char *text)
{
    cJSON  *b;

    if (text[0] == '\0') {
        return LLM_OK;
    }

    b = cJSON_CreateObject();

    /*
     * text is a string of the request's tree, which outlives the
     * provider's: referenced, not copied (cJSON_Delete() leaves it)
     */

    if (llm_anthropic_add_str(b, "type", "text") != LLM_OK
        || llm_anthropic_add(b, "text", cJSON_CreateStringReference(text))
           != LLM_OK
        || !cJSON_AddItemToArray(arr, b))
    {
        cJSON_Delete(b);
        return LLM_ERROR;
    }

    return LLM_OK;
}


static cJSON *
llm_anthropic_image(const cJSON *part, size_t i, size_t k, llm_error_t *err)
{
    int             rc;
    char            mt[16];
    cJSON          *b, *src;
    size_t          n;
    const char     *url, *media;
    const cJSON    *item;
    llm_data_url_t  d;

    item = llm_json_get(part, "image_url");
    url = cJSON_IsString(item) ? item->valuestring : llm_json_str(item, "url");

    if (url == NULL) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu].content[%lu]: 'image_url.url' must be "
                      "a string", (unsigned long) i, (unsigned long) k);
        return NULL;
    }

    rc = llm_data_url(url, &d);

    if (rc == LLM_ERROR) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu].content[%lu]: a data: image URL must "
                      "be base64-encoded (data:<type>;base64,...)",
                      (unsigned long) i, (unsigned long) k);
        return NULL;
    }

    media = NULL;

    if (rc == LLM_OK) {

        /* the media type, lowercased, must be one Anthropic accepts */

        if (d.media_type_len < sizeof(mt)) {
            for (n = 0; n < d.media_type_len; n++) {
                mt[n] = d.media_type[n];

                if (mt[n] >= 'A' && mt[n] <= 'Z') {
                    mt[n] |= 0x20;
                }
            }

            mt[n] = '\0';

            for (n = 0; llm_anthropic_media_types[n] != NULL; n++) {
                if (strcmp(mt, llm_anthropic_media_types[n]) == 0) {
                    media = llm_anthropic_media_types[n];
                    break;
                }
            }
        }

        if (media == NULL) {
            llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                          "messages[%lu].content[%lu]: image type '%.*s' is "
                          "not supported by this provider (Anthropic): use "
                          "image/jpeg, image/png, image/gif or image/webp",
                          (unsigned long) i, (unsigned long) k,
                          (int) (d.media_type_len > 32 ? 32
                                                       : d.media_type_len),
                          d.media_type);
            return NULL;
        }

    } else if (strncmp(url, "https://", 8) != 0
               && strncmp(url, "http://", 7) != 0)
    {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu].content[%lu]: 'image_url.url' must be "
                      "an http(s) URL or a base64 data: URL",
                      (unsigned long) i, (unsigned long) k);
        return NULL;
    }

    b = cJSON_CreateObject();
    src = cJSON_CreateObject();

    if (llm_anthropic_add_str(b, "type", "image") != LLM_OK) {
        goto nomem;
    }

    if (media != NULL) {
        /* d.data runs to the end of url: NUL-terminated */

        if (llm_anthropic_add_str(src, "type", "base64") != LLM_OK
            || llm_anthropic_add_str(src, "media_type", media) != LLM_OK
            || llm_anthropic_add_str(src, "data", d.data) != LLM_OK)
        {
            goto nomem;
        }

    } else if (llm_anthropic_add_str(src, "type", "url") != LLM_OK
               || llm_anthropic_add_str(src, "url", url) != LLM_OK)
    {
        goto nomem;
    }

    if (llm_anthropic_add(b, "source", src) != LLM_OK) {
        src = NULL;
        goto nomem;
    }

    return b;

nomem:

    cJSON_Delete(src);
    cJSON_Delete(b);

    llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");

    return NULL;
}


static int
llm_anthropic_tool_calls(llm_anthropic_ctx_t *ctx, const cJSON *calls,
    size_t i)
{
    size_t        k;
    cJSON        *b, *input;
    const char   *type, *id, *name, *args;
    const cJSON  *c, *f;

    k = 0;

    for (c = calls->child; c != NULL; c = c->next, k++) {
        type = llm_json_str(c, "type");
        id = llm_json_str(c, "id");
        f = llm_json_get(c, "function");
        name = llm_json_str(f, "name");
        args = llm_json_str(f, "arguments");

        if (!cJSON_IsObject(c)
            || (llm_json_get(c, "type") != NULL
                && (type == NULL || strcmp(type, "function") != 0))
            || id == NULL || name == NULL || args == NULL)
        {
            llm_error_set(ctx->err, 400, LLM_INVALID, "messages", NULL,
                          "messages[%lu].tool_calls[%lu] must be "
                          "{\"id\",\"type\":\"function\",\"function\":"
                          "{\"name\",\"arguments\"}} with strings",
                          (unsigned long) i, (unsigned long) k);
            return LLM_ERROR;
        }

        if (llm_tool_args_parse(args, &input) != LLM_OK) {
            llm_error_set(ctx->err, 400, LLM_INVALID, "messages", NULL,
                          "messages[%lu].tool_calls[%lu]: 'arguments' must "
                          "be a JSON object (in a string)",
                          (unsigned long) i, (unsigned long) k);
            return LLM_ERROR;
        }

        b = cJSON_CreateObject();

        if (llm_anthropic_add_str(b, "type", "tool_use") != LLM_OK
            || llm_anthropic_add_str(b, "id", id) != LLM_OK
            || llm_anthropic_add_str(b, "name", name) != LLM_OK)
        {
            cJSON_Delete(input);
            goto nomem;
        }

        if (llm_anthropic_add(b, "input", input) != LLM_OK) {
            goto nomem;
        }

        if (llm_anthropic_append(ctx, LLM_ROLE_ASSISTANT, b) != LLM_OK) {
            return LLM_ERROR;
        }
    }

    return LLM_OK;

nomem:

    cJSON_Delete(b);

    llm_error_set(ctx->err, 500, "server_error", NULL, NULL,
                  "out of memory");

    return LLM_ERROR;
}


/* a "tool" message: a tool_result block in a user message */

static int
llm_anthropic_tool_result(llm_anthropic_ctx_t *ctx, const cJSON *m,
    size_t i)
{
    cJSON        *b, *blocks;
    const char   *id;
    const cJSON  *content;

    id = llm_json_str(m, "tool_call_id");
    content = llm_json_get(m, "content");

    if (id == NULL) {
        llm_error_set(ctx->err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: tool messages require a string "
                      "'tool_call_id'", (unsigned long) i);
        return LLM_ERROR;
    }

    blocks = NULL;

    if (!cJSON_IsString(content)
        && llm_anthropic_blocks(content, 1, i, &blocks, ctx->err) != LLM_OK)
    {
        return LLM_ERROR;
    }

    b = cJSON_CreateObject();

    if (llm_anthropic_add_str(b, "type", "tool_result") != LLM_OK
        || llm_anthropic_add_str(b, "tool_use_id", id) != LLM_OK)
    {
        goto nomem;
    }

    /* an empty result has no "content" at all */

    if (cJSON_IsString(content)) {
        if (content->valuestring[0] != '\0'
            && llm_anthropic_add_str(b, "content", content->valuestring)
               != LLM_OK)
        {
            goto nomem;
        }

    } else if (blocks->child != NULL) {
        if (llm_anthropic_add(b, "content", blocks) != LLM_OK) {
            blocks = NULL;
            goto nomem;
        }

        blocks = NULL;
    }

    cJSON_Delete(blocks);

    return llm_anthropic_append(ctx, LLM_ROLE_USER, b);

nomem:

    cJSON_Delete(blocks);
    cJSON_Delete(b);

    llm_error_set(ctx->err, 500, "server_error", NULL, NULL,
                  "out of memory");

    return LLM_ERROR;
}


/*
 * A block into the last message when it has this role (Anthropic wants
 * user and assistant turns to alternate), else into a new message.  A
 * tool_result goes after the other tool_result blocks and before any
 * other block: Anthropic wants them first.  block is consumed.
 */

static int
llm_anthropic_append(llm_anthropic_ctx_t *ctx, int role, cJSON *block)
{
    cJSON       *msg, *blocks, *b, *next;
    const char  *type;

    if (ctx->role != role) {
        msg = cJSON_CreateObject();
        blocks = cJSON_CreateArray();

        if (llm_anthropic_add_str(msg, "role", (role == LLM_ROLE_USER)
                                               ? "user" : "assistant")
            != LLM_OK)
        {
            cJSON_Delete(blocks);
            cJSON_Delete(msg);
            goto nomem;
        }

        if (llm_anthropic_add(msg, "content", blocks) != LLM_OK) {
            cJSON_Delete(msg);
            goto nomem;
        }

        if (!cJSON_AddItemToArray(ctx->messages, msg)) {
            cJSON_Delete(msg);
            goto nomem;
        }

        ctx->blocks = blocks;
        ctx->role = role;
    }

    type = llm_json_str(block, "type");

    if (type != NULL && strcmp(type, "tool_result") == 0) {

        /* b: the first block that is not a tool_result, if any */

        for (b = ctx->blocks->child; b != NULL; b = b->next) {
            type = llm_json_str(b, "type");

            if (type == NULL || strcmp(type, "tool_result") != 0) {
                break;
            }
        }

    } else {
        b = NULL;
    }

    if (!cJSON_AddItemToArray(ctx->blocks, block)) {
        goto nomem;
    }

    /*
     * the blocks that were after the place of a tool_result go after it;
     * not cJSON_InsertItemInArray(): in the cJSON of Debian 12 it fails
     * for any place but the first (it checks newitem->prev, always NULL)
     */

    while (b != NULL && b != block) {
        next = b->next;

        cJSON_DetachItemViaPointer(ctx->blocks, b);
        cJSON_AddItemToArray(ctx->blocks, b);

        b = next;
    }

    return LLM_OK;

nomem:

    cJSON_Delete(block);

    llm_error_set(ctx->err, 500, "server_error", NULL, NULL,
                  "out of memory");

    return LLM_ERROR;
}


/* a message whose only block is a text block: "content" as a string */

static int
llm_anthropic_simplify(cJSON *messages)
{
    cJSON       *m, *content, *b, *text;
    const char  *type;

    for (m = messages->child; m != NULL; m = m->next) {
        content = llm_json_get(m, "content");
        b = content->child;
        type = llm_json_str(b, "type");

        if (b == NULL || b->next != NULL || type == NULL
            || strcmp(type, "text") != 0)
        {
            continue;
        }

        text = cJSON_DetachItemFromObjectCaseSensitive(b, "text");

        if (text == NULL) {
            return LLM_ERROR;
        }

        if (!cJSON_ReplaceItemInObjectCaseSensitive(m, "content", text)) {
            cJSON_Delete(text);
            return LLM_ERROR;
        }
    }

    return LLM_OK;
}


static int
llm_anthropic_options(const cJSON *root, cJSON *out, llm_error_t *err)
{
    int           have_tools;
    cJSON        *arr;
    const cJSON  *item, *s;

    item = llm_anthropic_item(root, "temperature");

    /* OpenAI's 0..2 against Anthropic's 0..1: clamped */

    if (cJSON_IsNumber(item)
        && llm_anthropic_add(out, "temperature",
                             cJSON_CreateNumber(item->valuedouble > 1
                                                ? 1 : item->valuedouble))
           != LLM_OK)
    {
        goto nomem;
    }

    item = llm_anthropic_item(root, "top_p");

    if (cJSON_IsNumber(item)
        && llm_anthropic_add(out, "top_p",
                             cJSON_CreateNumber(item->valuedouble))
           != LLM_OK)
    {
        goto nomem;
    }

    item = llm_anthropic_item(root, "stop");

    if (cJSON_IsString(item) || (cJSON_IsArray(item) && item->child != NULL))
    {
        arr = cJSON_CreateArray();

        if (llm_anthropic_add(out, "stop_sequences", arr) != LLM_OK) {
            goto nomem;
        }

        for (s = cJSON_IsString(item) ? item : item->child;
             s != NULL;
             s = (s == item) ? NULL : s->next)
        {
            if (!cJSON_IsString(s)
                || !cJSON_AddItemToArray(arr,
                                         cJSON_CreateString(s->valuestring)))
            {
                goto nomem;
            }
        }
    }

    if (llm_anthropic_tools(root, out, err) != LLM_OK) {
        return LLM_ERROR;
    }

    have_tools = (llm_json_get(out, "tools") != NULL);

    if (llm_anthropic_tool_choice(root, have_tools, out, err) != LLM_OK) {
        return LLM_ERROR;
    }

    item = llm_anthropic_item(root, "user");

    if (item != NULL) {
        if (!cJSON_IsString(item)) {
            llm_error_set(err, 400, LLM_INVALID, "user", NULL,
                          "'user' must be a string");
            return LLM_ERROR;
        }

        arr = cJSON_CreateObject();

        if (llm_anthropic_add(out, "metadata", arr) != LLM_OK
            || llm_anthropic_add_str(arr, "user_id", item->valuestring)
               != LLM_OK)
        {
            goto nomem;
        }
    }

    return LLM_OK;

nomem:

    llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");

    return LLM_ERROR;
}


static int
llm_anthropic_tools(const cJSON *root, cJSON *out, llm_error_t *err)
{
    size_t        k;
    cJSON        *arr, *t, *schema;
    const char   *type, *name;
    const cJSON  *tools, *tool, *f, *item;

    tools = llm_anthropic_item(root, "tools");

    if (tools == NULL || tools->child == NULL) {
        return LLM_OK;
    }

    arr = cJSON_CreateArray();

    if (llm_anthropic_add(out, "tools", arr) != LLM_OK) {
        goto nomem;
    }

    k = 0;

    for (tool = tools->child; tool != NULL; tool = tool->next, k++) {
        type = llm_json_str(tool, "type");
        f = llm_json_get(tool, "function");
        name = llm_json_str(f, "name");

        if ((type != NULL && strcmp(type, "function") != 0)
            || (type == NULL
                && llm_json_get(tool, "type") != NULL))
        {
            llm_error_set(err, 400, LLM_INVALID, "tools", NULL,
                          "tools[%lu]: only tools of type 'function' are "
                          "supported by this provider (Anthropic)",
                          (unsigned long) k);
            return LLM_ERROR;
        }

        if (name == NULL || name[0] == '\0') {
            llm_error_set(err, 400, LLM_INVALID, "tools", NULL,
                          "tools[%lu]: 'function.name' must be a non-empty "
                          "string", (unsigned long) k);
            return LLM_ERROR;
        }

        t = cJSON_CreateObject();

        if (llm_anthropic_add_str(t, "name", name) != LLM_OK
            || !cJSON_AddItemToArray(arr, t))
        {
            cJSON_Delete(t);
            goto nomem;
        }

        item = llm_anthropic_item(f, "description");

        if (item != NULL) {
            if (!cJSON_IsString(item)) {
                llm_error_set(err, 400, LLM_INVALID, "tools", NULL,
                              "tools[%lu]: 'function.description' must be "
                              "a string", (unsigned long) k);
                return LLM_ERROR;
            }

            if (llm_anthropic_add_str(t, "description", item->valuestring)
                != LLM_OK)
            {
                goto nomem;
            }
        }

        item = llm_anthropic_item(f, "parameters");

        if (item != NULL && !cJSON_IsObject(item)) {
            llm_error_set(err, 400, LLM_INVALID, "tools", NULL,
                          "tools[%lu]: 'function.parameters' must be a JSON "
                          "Schema object", (unsigned long) k);
            return LLM_ERROR;
        }

        if (item != NULL) {
            schema = cJSON_Duplicate(item, 1);

        } else {
            schema = cJSON_CreateObject();

            if (llm_anthropic_add_str(schema, "type", "object") != LLM_OK
                || llm_anthropic_add(schema, "properties",
                                     cJSON_CreateObject())
                   != LLM_OK)
            {
                cJSON_Delete(schema);
                goto nomem;
            }
        }

        if (llm_anthropic_add(t, "input_schema", schema) != LLM_OK) {
            goto nomem;
        }
    }

    return LLM_OK;

nomem:

    llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");

    return LLM_ERROR;
}


static int
llm_anthropic_tool_choice(const cJSON *root, int have_tools, cJSON *out,
    llm_error_t *err)
{
    cJSON        *tc;
    const char   *type, *name;
    const cJSON  *choice, *parallel;

    choice = llm_anthropic_item(root, "tool_choice");
    parallel = llm_anthropic_item(root, "parallel_tool_calls");

    if (parallel != NULL && !cJSON_IsBool(parallel)) {
        llm_error_set(err, 400, LLM_INVALID, "parallel_tool_calls", NULL,
                      "'parallel_tool_calls' must be a boolean");
        return LLM_ERROR;
    }

    name = NULL;

    if (choice == NULL) {
        type = "auto";

    } else if (cJSON_IsString(choice)
               && (strcmp(choice->valuestring, "auto") == 0
                   || strcmp(choice->valuestring, "none") == 0))
    {
        type = choice->valuestring;

    } else if (cJSON_IsString(choice)
               && strcmp(choice->valuestring, "required") == 0)
    {
        type = "any";

    } else {
        type = llm_json_str(choice, "type");
        name = llm_json_str(llm_json_get(choice, "function"),
                            "name");

        if (type == NULL || strcmp(type, "function") != 0 || name == NULL) {
            llm_error_set(err, 400, LLM_INVALID, "tool_choice", NULL,
                          "'tool_choice' must be \"auto\", \"none\", "
                          "\"required\" or {\"type\":\"function\","
                          "\"function\":{\"name\":...}}");
            return LLM_ERROR;
        }

        type = "tool";
    }

    if (!have_tools) {
        if (strcmp(type, "any") == 0 || strcmp(type, "tool") == 0) {
            llm_error_set(err, 400, LLM_INVALID, "tool_choice", NULL,
                          "'tool_choice' requires 'tools'");
            return LLM_ERROR;
        }

        /* nothing to choose from: auto and none mean the same */

        return LLM_OK;
    }

    if (choice == NULL && !cJSON_IsFalse(parallel)) {
        return LLM_OK;
    }

    tc = cJSON_CreateObject();

    if (llm_anthropic_add(out, "tool_choice", tc) != LLM_OK
        || llm_anthropic_add_str(tc, "type", type) != LLM_OK
        || (name != NULL && llm_anthropic_add_str(tc, "name", name) != LLM_OK))
    {
        goto nomem;
    }

    if (cJSON_IsFalse(parallel) && strcmp(type, "none") != 0
        && llm_anthropic_add(tc, "disable_parallel_tool_use",
                             cJSON_CreateTrue())
           != LLM_OK)
    {
        goto nomem;
    }

    return LLM_OK;

nomem:

    llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");

    return LLM_ERROR;
}


/* a member, with JSON null taken as absent */

static const cJSON *
llm_anthropic_item(const cJSON *obj, const char *name)
{
    const cJSON  *item;

    if (!cJSON_IsObject(obj)) {
        return NULL;
    }

    item = llm_json_get(obj, name);

    return cJSON_IsNull(item) ? NULL : item;
}


static int
llm_anthropic_is_role(const cJSON *m, const char *role)
{
    const char  *s;

    s = llm_json_str(m, "role");

    return (s != NULL && strcmp(s, role) == 0);
}


/* item is consumed (NULL: allocation failed) */

static int
llm_anthropic_add(cJSON *obj, const char *name, cJSON *item)
{
    if (obj == NULL || item == NULL) {
        cJSON_Delete(item);
        return LLM_ERROR;
    }

    if (!cJSON_AddItemToObject(obj, name, item)) {
        cJSON_Delete(item);
        return LLM_ERROR;
    }

    return LLM_OK;
}


static int
llm_anthropic_add_str(cJSON *obj, const char *name, const char *s)
{
    return llm_anthropic_add(obj, name, cJSON_CreateString(s));
}


static int
llm_anthropic_decode_tree(const llm_request_t *req, const llm_provider_t *p,
    const char *body, size_t len, long long created, llm_pool_t *pool,
    llm_response_t *out, llm_error_t *err)
{
    cJSON             *root;
    const char        *type, *s;
    const cJSON       *content;
    llm_choice_t       ch;
    llm_completion_t   c;

    root = llm_json_parse_pool(body, len, pool);

    if (root == NULL) {
        llm_invalid_response(err, "the Anthropic answer is not valid JSON");
        return LLM_ERROR;
    }

    if (!cJSON_IsObject(root)) {
        llm_invalid_response(err,
                             "the Anthropic answer is not a JSON object");
        goto failed;
    }

    type = llm_json_str(root, "type");

    if (type != NULL && strcmp(type, "error") == 0) {
        s = llm_json_str(llm_json_get(root, "error"),
                         "message");

        llm_invalid_response(err, "the Anthropic answer is an error: %.160s",
                             (s != NULL) ? s : "(no message)");
        goto failed;
    }

    if (type == NULL || strcmp(type, "message") != 0) {
        llm_invalid_response(err, "the Anthropic answer is not a message "
                             "(\"type\" is not \"message\")");
        goto failed;
    }

    content = llm_json_get(root, "content");

    if (!cJSON_IsArray(content)) {
        llm_invalid_response(err, "the Anthropic answer has no \"content\" "
                             "array");
        goto failed;
    }

    memset(&ch, 0, sizeof(llm_choice_t));
    memset(&c, 0, sizeof(llm_completion_t));

    if (llm_anthropic_decode_content(content, pool, &ch, err) != LLM_OK) {
        goto failed;
    }

    ch.finish_reason = llm_anthropic_finish(llm_json_str(root,
                                                         "stop_reason"));

    c.id = llm_json_str(root, "id");

    if (c.id == NULL && llm_anthropic_id(body, len, pool, &c.id) != LLM_OK) {
        llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
        goto failed;
    }

    c.model = llm_json_str(root, "model");

    if (c.model == NULL) {
        c.model = (p != NULL && p->model != NULL) ? p->model
                  : (req != NULL) ? req->model : NULL;
    }

    c.created = created;
    c.choices = &ch;
    c.nchoices = 1;

    llm_anthropic_usage(llm_json_get(root, "usage"),
                        &c.usage);

    return llm_completion_respond(&c, pool, out, err);

failed:

    cJSON_Delete(root);

    return LLM_ERROR;
}


/*
 * text blocks concatenated (null content when there is none), tool_use
 * blocks as tool calls; thinking, redacted_thinking and server tool blocks
 * have no OpenAI form and are skipped
 */

/* "chatcmpl-" + 24 characters derived from the answer, for one without id */

static int
llm_anthropic_id(const char *body, size_t len, llm_pool_t *pool,
    const char **id)
{
    char  *seed, *p;

    if (llm_tool_call_id(pool, body, len, &seed) != LLM_OK) {
        return LLM_ERROR;
    }

    p = llm_palloc(pool, sizeof("chatcmpl-") - 1 + LLM_TOOL_CALL_ID_LEN
                         - (sizeof("call_") - 1) + 1);
    if (p == NULL) {
        return LLM_ERROR;
    }

    memcpy(p, "chatcmpl-", sizeof("chatcmpl-") - 1);
    memcpy(p + sizeof("chatcmpl-") - 1, seed + sizeof("call_") - 1,
           LLM_TOOL_CALL_ID_LEN - (sizeof("call_") - 1) + 1);

    *id = p;

    return LLM_OK;
}


static int
llm_anthropic_decode_content(const cJSON *content, llm_pool_t *pool,
    llm_choice_t *ch, llm_error_t *err)
{
    int               text;
    size_t            n, k;
    llm_out_t         out;
    const char       *type;
    const cJSON      *b, *input;
    llm_tool_call_t  *tc;

    text = 0;
    n = 0;
    k = 0;

    for (b = content->child; b != NULL; b = b->next, k++) {
        type = llm_json_str(b, "type");

        if (type == NULL) {
            llm_invalid_response(err, "the Anthropic answer has a content "
                                 "block without a \"type\" (content[%lu])",
                                 (unsigned long) k);
            return LLM_ERROR;
        }

        if (strcmp(type, "text") == 0) {
            if (llm_json_str(b, "text") == NULL) {
                llm_invalid_response(err, "the Anthropic answer has a text "
                                     "block without a \"text\" string "
                                     "(content[%lu])", (unsigned long) k);
                return LLM_ERROR;
            }

            text = 1;

        } else if (strcmp(type, "tool_use") == 0) {
            if (llm_json_str(b, "id") == NULL
                || llm_json_str(b, "name") == NULL)
            {
                llm_invalid_response(err, "the Anthropic answer has a "
                                     "tool_use block without an \"id\" and "
                                     "a \"name\" (content[%lu])",
                                     (unsigned long) k);
                return LLM_ERROR;
            }

            n++;
        }
    }

    if (text) {
        out.buf = NULL;
        out.len = 0;
        out.size = 0;

        llm_anthropic_text_write(&out, content);

        if (llm_out_alloc(&out, pool) == NULL) {
            goto nomem;
        }

        llm_anthropic_text_write(&out, content);
        out.buf[out.len] = '\0';

        ch->content = out.buf;
        ch->content_len = out.len;
    }

    if (n == 0) {
        return LLM_OK;
    }

    tc = llm_palloc(pool, n * sizeof(llm_tool_call_t));
    if (tc == NULL) {
        goto nomem;
    }

    ch->tool_calls = tc;
    ch->ntool_calls = n;

    for (b = content->child; b != NULL; b = b->next) {
        type = llm_json_str(b, "type");

        if (strcmp(type, "tool_use") != 0) {
            continue;
        }

        tc->id = llm_json_str(b, "id");
        tc->name = llm_json_str(b, "name");

        input = llm_json_get(b, "input");

        if (input == NULL) {
            tc->arguments = "{}";

        } else {
            tc->arguments = llm_json_print(input, pool, NULL);

            if (tc->arguments == NULL) {
                goto nomem;
            }
        }

        tc++;
    }

    return LLM_OK;

nomem:

    llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");

    return LLM_ERROR;
}


static void
llm_anthropic_text_write(llm_out_t *out, const cJSON *content)
{
    const char   *type;
    const cJSON  *b;

    for (b = content->child; b != NULL; b = b->next) {
        type = llm_json_str(b, "type");

        if (type != NULL && strcmp(type, "text") == 0) {
            llm_out_cstr(out, llm_json_str(b, "text"));
        }
    }
}


const char *
llm_anthropic_finish(const char *stop_reason)
{
    if (stop_reason == NULL) {
        return "stop";
    }

    if (strcmp(stop_reason, "max_tokens") == 0
        || strcmp(stop_reason, "model_context_window_exceeded") == 0)
    {
        return "length";
    }

    if (strcmp(stop_reason, "tool_use") == 0) {
        return "tool_calls";
    }

    if (strcmp(stop_reason, "refusal") == 0) {
        return "content_filter";
    }

    /* end_turn, stop_sequence, pause_turn, and what comes next */

    return "stop";
}


/*
 * input_tokens excludes the cached part: prompt_tokens is input + cache
 * writes + cache reads (-1 when none of them is reported),
 * cached_tokens the cache reads, cache_write_tokens the cache writes;
 * thinking is a part of output_tokens and not reported apart
 */

void
llm_anthropic_usage(const cJSON *usage, llm_usage_t *u)
{
    long long  in, write, read, output;

    in = llm_json_count(usage, "input_tokens");
    write = llm_json_count(usage, "cache_creation_input_tokens");
    read = llm_json_count(usage, "cache_read_input_tokens");
    output = llm_json_count(usage, "output_tokens");

    u->prompt_tokens = llm_usage_add(llm_usage_add(in, write), read);
    u->completion_tokens = output;
    u->total_tokens = llm_usage_add(u->prompt_tokens, u->completion_tokens);
    u->cached_tokens = read;
    u->cache_write_tokens = write;
    u->reasoning_tokens = -1;
}


/*
 * {"type":"error","error":{"type","message"},"request_id"} into the OpenAI
 * shape; any other body (an OpenAI-style one from a proxy, HTML from
 * Cloudflare, nothing) is llm_compat_error()'s.
 */

static int
llm_anthropic_error_tree(int status, const char *body, size_t len,
    llm_pool_t *pool, llm_provider_error_t *out)
{
    char          generic[64];
    cJSON        *root;
    size_t        n;
    const char   *type, *kind, *message, *openai_type, *code;
    const cJSON  *e;

    root = llm_json_parse_strict(body, len);

    e = llm_json_get(root, "error");
    type = llm_json_str(root, "type");
    kind = llm_json_str(e, "type");

    if (kind == NULL || type == NULL || strcmp(type, "error") != 0) {
        cJSON_Delete(root);
        return llm_compat_error(status, body, len, pool, out);
    }

    if (llm_anthropic_error_type(kind, NULL, &openai_type, &code) != LLM_OK)
    {
        /* an error type of tomorrow: by status */

        if (status == 429) {
            openai_type = "rate_limit_error";
            code = "rate_limit_exceeded";

        } else if (status >= 500) {
            openai_type = "server_error";

        } else {
            openai_type = "invalid_request_error";
        }
    }

    out->retry_after = 0;
    out->retryable = (code == NULL || strcmp(code, "insufficient_quota") != 0)
                     && (status == 429 || status == 500 || status == 502
                         || status == 503 || status == 504 || status == 529);

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

    out->body = llm_error_render_raw(message, n, openai_type, NULL, code,
                                     pool, &out->body_len);

    cJSON_Delete(root);

    if (out->body == NULL) {
        out->body_len = 0;
        return LLM_ERROR;
    }

    return LLM_OK;
}


int
llm_anthropic_error_type(const char *kind, int *status, const char **type,
    const char **code)
{
    size_t  i;

    for (i = 0; llm_anthropic_errors[i].type != NULL; i++) {
        if (strcmp(kind, llm_anthropic_errors[i].type) == 0) {
            if (status != NULL) {
                *status = llm_anthropic_errors[i].status;
            }

            *type = llm_anthropic_errors[i].openai_type;
            *code = llm_anthropic_errors[i].code;

            return LLM_OK;
        }
    }

    *type = NULL;
    *code = NULL;

    return LLM_DECLINED;
}


/* the direct writer when it applies, else the cJSON tree */

static int
llm_anthropic_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    int  rc;

    rc = llm_anthropic_encode_fast(req, p, pool, out, err);

    if (rc != LLM_DECLINED) {
        return rc;
    }

    return llm_anthropic_encode_tree(req, p, pool, out, err);
}


/* the cJSON trees of encode() on the pool (llm_arena.c) */

int
llm_anthropic_encode_tree(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    int          rc;
    llm_arena_t  arena;

    llm_arena_enter(&arena, pool);

    rc = llm_anthropic_encode_cjson(req, p, pool, out, err);

    return llm_arena_done(&arena, rc, err);
}


/* the cJSON trees of decode() on the pool (llm_arena.c) */

static int
llm_anthropic_decode(const llm_request_t *req, const llm_provider_t *p,
    const char *body, size_t len, long long created, llm_pool_t *pool,
    llm_response_t *out, llm_error_t *err)
{
    int          rc;
    llm_arena_t  arena;

    llm_arena_enter(&arena, pool);

    rc = llm_anthropic_decode_tree(req, p, body, len, created, pool, out, err);

    return llm_arena_done(&arena, rc, err);
}


/* the cJSON trees of error() on the pool (llm_arena.c) */

static int
llm_anthropic_error(int status, const char *body, size_t len,
    llm_pool_t *pool, llm_provider_error_t *out)
{
    int          rc;
    llm_arena_t  arena;

    llm_arena_enter(&arena, pool);

    rc = llm_anthropic_error_tree(status, body, len, pool, out);

    llm_arena_leave(&arena);

    return rc;
}
