
/*
 * ngx_http_llm_router_module: Cohere Chat v2 adapter (the provider's API
 * reference).
 *
 * Cohere v2 messages are close to OpenAI's, but the body is rebuilt (with
 * cJSON, or for plain requests written straight from the client's tree,
 * byte for byte the same): Cohere rejects fields it does not know, names
 * some differently (top_p is "p", stop is "stop_sequences"), has no named
 * tool_choice and no "n".  The answer's text parts and tool calls become
 * one OpenAI choice through llm_completion_render().
 */


#include <stdio.h>
#include <string.h>

#include "llm_internal.h"


#define LLM_INVALID         "invalid_request_error"
#define LLM_SERVER_ERROR    "server_error"

#define LLM_COHERE_EMBED_MAX  96      /* texts per Embed v2 request */


/* the top-level members the direct writer reads: llm_cohere_fast_t */

#define LLM_COHERE_FAST_MESSAGES         0
#define LLM_COHERE_FAST_MAX_COMPLETION   1
#define LLM_COHERE_FAST_MAX_TOKENS       2
#define LLM_COHERE_FAST_TEMPERATURE      3
#define LLM_COHERE_FAST_TOP_P            4
#define LLM_COHERE_FAST_STOP             5
#define LLM_COHERE_FAST_SEED             6
#define LLM_COHERE_FAST_FREQUENCY        7
#define LLM_COHERE_FAST_PRESENCE         8
#define LLM_COHERE_FAST_N                9
#define LLM_COHERE_FAST_RESPONSE_FORMAT  10
#define LLM_COHERE_FAST_ITEMS            11


/*
 * What the direct writer needs of a plain request, read once by
 * llm_cohere_fast_check()
 */
typedef struct {
    const cJSON  *item[LLM_COHERE_FAST_ITEMS];    /* the first of each */
    const char   *model;
    long          max_tokens;                     /* the provider's */
    int           stream;
} llm_cohere_fast_t;


static int llm_cohere_encode(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
static int llm_cohere_fast_check(const llm_request_t *req,
    const llm_provider_t *p, llm_cohere_fast_t *f);
static void llm_cohere_fast_write(llm_out_t *out, llm_json_splices_t *sp,
    const void *data);
static cJSON *llm_cohere_build(const llm_request_t *req,
    const llm_provider_t *p, const char *model, llm_pool_t *pool,
    llm_error_t *err);
static int llm_cohere_messages(const cJSON *messages, cJSON *root,
    llm_pool_t *pool, llm_error_t *err);
static int llm_cohere_message(const cJSON *m, size_t i, cJSON *list,
    llm_pool_t *pool, llm_error_t *err);
static int llm_cohere_content(const cJSON *m, size_t i, int user,
    cJSON *msg, llm_error_t *err);
static int llm_cohere_image(const cJSON *part, size_t i, cJSON *parts,
    llm_error_t *err);
static int llm_cohere_assistant(const cJSON *m, size_t i, cJSON *list,
    llm_pool_t *pool, llm_error_t *err);
static int llm_cohere_text(const cJSON *m, size_t i, llm_pool_t *pool,
    char **text, llm_error_t *err);
static int llm_cohere_tools(const cJSON *r, cJSON *root, llm_error_t *err);
static int llm_cohere_tool(const cJSON *t, size_t k, cJSON *list,
    llm_error_t *err);
static int llm_cohere_format(const cJSON *rf, cJSON *root,
    llm_error_t *err);
static int llm_cohere_options(const llm_request_t *req,
    const llm_provider_t *p, cJSON *root, llm_error_t *err);
static int llm_cohere_error(int status, const char *body, size_t len,
    llm_pool_t *pool, llm_provider_error_t *out);
static int llm_cohere_decode(const llm_request_t *req,
    const llm_provider_t *p, const char *body, size_t len,
    long long created, llm_pool_t *pool, llm_response_t *out,
    llm_error_t *err);
static int llm_cohere_answer(const cJSON *msg, const char *seed,
    llm_pool_t *pool, llm_choice_t *choice, llm_error_t *err);
static int llm_cohere_calls(const cJSON *calls, const char *seed,
    llm_pool_t *pool, llm_choice_t *choice, llm_error_t *err);
static unsigned long long llm_cohere_hash(const char *s, size_t len);
static int llm_cohere_nomem(llm_error_t *err);
static const cJSON *llm_cohere_item(const cJSON *obj, const char *name);

static int llm_cohere_encode_cjson(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
static int llm_cohere_decode_tree(const llm_request_t *req,
    const llm_provider_t *p, const char *body, size_t len, long long created,
    llm_pool_t *pool, llm_response_t *out, llm_error_t *err);
static int llm_cohere_error_tree(int status, const char *body, size_t len,
    llm_pool_t *pool, llm_provider_error_t *out);
static int llm_cohere_embed_encode(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
static void llm_cohere_embed_write(llm_out_t *out, llm_json_splices_t *sp,
    const void *data);
static int llm_cohere_embed_decode(const llm_request_t *req,
    const llm_provider_t *p, const char *body, size_t len,
    llm_pool_t *pool, llm_response_t *out, llm_error_t *err);
static int llm_cohere_embed_tree(const llm_request_t *req,
    const llm_provider_t *p, const char *body, size_t len,
    llm_pool_t *pool, llm_response_t *out, llm_error_t *err);

const llm_adapter_t  llm_cohere_adapter = {
    "cohere",
    "https://api.cohere.com/v2",
    llm_cohere_encode,
    llm_cohere_error,
    llm_cohere_decode,
    llm_cohere_stream,
    0,
    llm_cohere_embed_encode,
    llm_cohere_embed_decode,
    LLM_COHERE_EMBED_MAX,
    0
};


static int
llm_cohere_encode_cjson(const llm_request_t *req, const llm_provider_t *p,
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

    model = (p->model != NULL && p->model[0] != '\0') ? p->model : req->model;

    if (model == NULL || model[0] == '\0') {
        llm_error_set(err, 400, LLM_INVALID, "model", NULL,
                      "Missing required parameter: 'model'");
        return LLM_ERROR;
    }

    if (llm_compat_head(p, "/chat", pool, out, err) != LLM_OK) {
        return LLM_ERROR;
    }

    root = llm_cohere_build(req, p, model, pool, err);
    if (root == NULL) {
        return LLM_ERROR;
    }

    /* the provider's body is about as long as the client's */

    /* root goes with the pool: see llm_cohere_encode_tree() */

    return llm_json_body(req, root, pool, out, err);
}


/*
 * The direct writer: the body llm_cohere_encode_tree() would send, byte
 * for byte, written from req->root without a tree, for requests of the
 * plain shapes llm_cohere_fast_check() takes.  LLM_DECLINED for any other
 * request (nothing done then), else LLM_OK or LLM_ERROR.
 */

int
llm_cohere_encode_fast(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    llm_cohere_fast_t  f;

    if (llm_cohere_fast_check(req, p, &f) != LLM_OK) {
        return LLM_DECLINED;
    }

    if (llm_compat_head(p, "/chat", pool, out, err) != LLM_OK) {
        return LLM_ERROR;
    }

    if (llm_json_write_body(llm_cohere_fast_write, &f, LLM_BODY_HINT(req),
                            &req->refs, pool, out)
        != LLM_OK)
    {
        out->body_len = 0;
        return llm_cohere_nomem(err);
    }

    return LLM_OK;
}


static const llm_fast_key_t  llm_cohere_fast_keys[] = {
    { "model", LLM_FAST_IGNORED },     /* req->model */
    { "messages", LLM_COHERE_FAST_MESSAGES },
    { "stream", LLM_FAST_IGNORED },    /* req->stream */
    { "stream_options", LLM_FAST_IGNORED },
    { "max_tokens", LLM_COHERE_FAST_MAX_TOKENS },
    { "max_completion_tokens", LLM_COHERE_FAST_MAX_COMPLETION },
    { "temperature", LLM_COHERE_FAST_TEMPERATURE },
    { "top_p", LLM_COHERE_FAST_TOP_P },
    { "stop", LLM_COHERE_FAST_STOP },
    { "seed", LLM_COHERE_FAST_SEED },
    { "frequency_penalty", LLM_COHERE_FAST_FREQUENCY },
    { "presence_penalty", LLM_COHERE_FAST_PRESENCE },
    { "n", LLM_COHERE_FAST_N },
    { "response_format", LLM_COHERE_FAST_RESPONSE_FORMAT },
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
 * calls) and the members of llm_cohere_fast_keys[], and would not fail;
 * f filled then.  What the tree path reads is read here the same way.
 */

static int
llm_cohere_fast_check(const llm_request_t *req, const llm_provider_t *p,
    llm_cohere_fast_t *f)
{
    double        d;
    size_t        i;
    const char   *name, *type;
    const cJSON  *root, *item, *m, *content;

    root = req->root;

    if (!cJSON_IsObject(root)) {
        return LLM_DECLINED;
    }

    for (i = 0; i < LLM_COHERE_FAST_ITEMS; i++) {
        f->item[i] = NULL;
    }

    for (item = root->child; item != NULL; item = item->next) {
        if (llm_fast_key(item, llm_cohere_fast_keys, f->item)
            != LLM_OK)
        {
            return LLM_DECLINED;
        }
    }

    /* the first member of each name, null as absent (llm_cohere_item()) */

    for (i = 0; i < LLM_COHERE_FAST_ITEMS; i++) {
        if (cJSON_IsNull(f->item[i])) {
            f->item[i] = NULL;
        }
    }

    f->model = (p->model != NULL && p->model[0] != '\0') ? p->model
                                                          : req->model;

    if (f->model == NULL || f->model[0] == '\0') {
        return LLM_DECLINED;
    }

    item = f->item[LLM_COHERE_FAST_N];

    if (cJSON_IsNumber(item) && item->valuedouble != 1) {
        return LLM_DECLINED;
    }

    if (!cJSON_IsArray(f->item[LLM_COHERE_FAST_MESSAGES])) {
        return LLM_DECLINED;
    }

    for (m = f->item[LLM_COHERE_FAST_MESSAGES]->child;
         m != NULL;
         m = m->next)
    {
        name = llm_json_message(m, &content);

        if (name == NULL || !cJSON_IsString(content)) {
            return LLM_DECLINED;
        }

        if (strcmp(name, "assistant") == 0) {
            if (llm_cohere_item(m, "tool_calls") != NULL) {
                return LLM_DECLINED;
            }

            continue;
        }

        if (strcmp(name, "user") != 0 && strcmp(name, "system") != 0
            && strcmp(name, "developer") != 0)
        {
            return LLM_DECLINED;
        }
    }

    item = f->item[LLM_COHERE_FAST_RESPONSE_FORMAT];

    if (item != NULL) {
        type = llm_json_str(item, "type");

        if (type == NULL || strcmp(type, "text") != 0) {
            return LLM_DECLINED;
        }
    }

    item = f->item[LLM_COHERE_FAST_STOP];

    if (cJSON_IsArray(item)) {
        for (item = item->child; item != NULL; item = item->next) {
            if (!cJSON_IsString(item)) {
                return LLM_DECLINED;
            }
        }
    }

    item = f->item[LLM_COHERE_FAST_SEED];

    if (item != NULL) {
        d = cJSON_IsNumber(item) ? item->valuedouble : 0.5;

        /* the range first: a cast of a double out of it is undefined */

        if (d < 0 || d > 9007199254740992.0 || d != (double) (long long) d) {
            return LLM_DECLINED;
        }
    }

    f->stream = req->stream;
    f->max_tokens = p->max_tokens;

    return LLM_OK;
}


/*
 * The top-level members the direct writer takes: those it writes, those
 * the tree path leaves out whatever their value, and those the tree path
 * only checks.  Any other member declines the request unless it is null:
 * tools, tool_choice, unknown ones.
 */


/* the llm_json_writer_pt of the direct writer: f is llm_cohere_fast_t */

static void
llm_cohere_fast_write(llm_out_t *out, llm_json_splices_t *sp,
    const void *data)
{
    int                       first;
    double                    d;
    const char               *name;
    const cJSON              *m, *content, *item, *stop;
    const llm_cohere_fast_t  *f;

    f = data;

    llm_out_lit(out, "{\"model\":");
    llm_out_nstr(out, f->model);

    /* llm_cohere_messages() */

    llm_out_lit(out, ",\"messages\":[");

    first = 1;

    for (m = f->item[LLM_COHERE_FAST_MESSAGES]->child;
         m != NULL;
         m = m->next)
    {
        name = llm_json_message(m, &content);

        if (strcmp(name, "assistant") == 0) {

            /* a copy in the tree (llm_cohere_text()): never by reference */

            if (content->valuestring[0] == '\0') {
                continue;
            }

            if (!first) {
                llm_out_raw(out, ",", 1);
            }

            llm_out_cstr(out, "{\"role\":\"assistant\",\"content\":");
            llm_out_nstr(out, content->valuestring);

        } else {
            if (!first) {
                llm_out_raw(out, ",", 1);
            }

            llm_out_cstr(out, (strcmp(name, "user") == 0)
                              ? "{\"role\":\"user\",\"content\":"
                              : "{\"role\":\"system\",\"content\":");
            llm_json_out_ref(out, sp, content->valuestring);
        }

        llm_out_raw(out, "}", 1);
        first = 0;
    }

    llm_out_raw(out, "]", 1);

    /* llm_cohere_options() */

    item = f->item[LLM_COHERE_FAST_MAX_COMPLETION];

    if (item == NULL) {
        item = f->item[LLM_COHERE_FAST_MAX_TOKENS];
    }

    if (cJSON_IsNumber(item)) {
        d = item->valuedouble;

    } else {
        d = (f->max_tokens > 0) ? (double) f->max_tokens : 0;
    }

    if (d > 0) {
        llm_out_lit(out, ",\"max_tokens\":");
        llm_out_double(out, d);
    }

    item = f->item[LLM_COHERE_FAST_TEMPERATURE];

    if (cJSON_IsNumber(item)) {
        llm_out_lit(out, ",\"temperature\":");
        llm_out_double(out, item->valuedouble);
    }

    item = f->item[LLM_COHERE_FAST_TOP_P];

    if (cJSON_IsNumber(item)) {
        d = item->valuedouble;
        d = (d < 0.01) ? 0.01 : (d > 0.99) ? 0.99 : d;

        llm_out_lit(out, ",\"p\":");
        llm_out_double(out, d);
    }

    stop = f->item[LLM_COHERE_FAST_STOP];
    item = stop;

    if (cJSON_IsString(item) || (cJSON_IsArray(item) && item->child != NULL))
    {
        /* copies in the tree: never by reference */

        llm_out_lit(out, ",\"stop_sequences\":");

        llm_fast_strings(out, stop);
    }

    item = f->item[LLM_COHERE_FAST_SEED];

    if (item != NULL) {
        llm_out_lit(out, ",\"seed\":");
        llm_out_double(out, item->valuedouble);
    }

    item = f->item[LLM_COHERE_FAST_FREQUENCY];

    if (cJSON_IsNumber(item)) {
        d = item->valuedouble;

        llm_out_lit(out, ",\"frequency_penalty\":");
        llm_out_double(out, (d < 0) ? 0 : (d > 1) ? 1 : d);
    }

    item = f->item[LLM_COHERE_FAST_PRESENCE];

    if (cJSON_IsNumber(item)) {
        d = item->valuedouble;

        llm_out_lit(out, ",\"presence_penalty\":");
        llm_out_double(out, (d < 0) ? 0 : (d > 1) ? 1 : d);
    }

    if (f->stream) {
        llm_out_lit(out, ",\"stream\":true}");

    } else {
        llm_out_lit(out, ",\"stream\":false}");
    }
}


static cJSON *
llm_cohere_build(const llm_request_t *req, const llm_provider_t *p,
    const char *model, llm_pool_t *pool, llm_error_t *err)
{
    cJSON        *root;
    const cJSON  *item;

    item = llm_cohere_item(req->root, "n");

    if (cJSON_IsNumber(item) && item->valuedouble != 1) {
        llm_error_set(err, 400, LLM_INVALID, "n", NULL,
                      "cohere returns a single choice: 'n' must be 1");
        return NULL;
    }

    root = cJSON_CreateObject();

    if (root == NULL || cJSON_AddStringToObject(root, "model", model) == NULL)
    {
        llm_cohere_nomem(err);
        goto failed;
    }

    if (llm_cohere_messages(llm_cohere_item(req->root, "messages"), root,
                            pool, err)
        != LLM_OK
        || llm_cohere_tools(req->root, root, err) != LLM_OK
        || llm_cohere_options(req, p, root, err) != LLM_OK)
    {
        goto failed;
    }

    if (cJSON_AddBoolToObject(root, "stream", req->stream != 0) == NULL) {
        llm_cohere_nomem(err);
        goto failed;
    }

    return root;

failed:

    cJSON_Delete(root);

    return NULL;
}


static int
llm_cohere_messages(const cJSON *messages, cJSON *root, llm_pool_t *pool,
    llm_error_t *err)
{
    cJSON        *list;
    size_t        i;
    const cJSON  *m;

    if (!cJSON_IsArray(messages)) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "'messages' must be a non-empty array");
        return LLM_ERROR;
    }

    list = cJSON_AddArrayToObject(root, "messages");
    if (list == NULL) {
        return llm_cohere_nomem(err);
    }

    i = 0;

    for (m = messages->child; m != NULL; m = m->next) {
        if (llm_cohere_message(m, i, list, pool, err) != LLM_OK) {
            return LLM_ERROR;
        }

        i++;
    }

    return LLM_OK;
}


static int
llm_cohere_message(const cJSON *m, size_t i, cJSON *list, llm_pool_t *pool,
    llm_error_t *err)
{
    int           user;
    char         *text;
    cJSON        *msg;
    const char   *role;
    const cJSON  *item;

    role = llm_json_str(m, "role");

    if (role == NULL) {
        role = "";
    }

    if (strcmp(role, "assistant") == 0) {
        return llm_cohere_assistant(m, i, list, pool, err);
    }

    user = (strcmp(role, "user") == 0);

    if (strcmp(role, "developer") == 0) {
        role = "system";
    }

    if (strcmp(role, "system") != 0 && strcmp(role, "tool") != 0 && !user) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: role '%.32s' is not supported by "
                      "cohere", (unsigned long) i, role);
        return LLM_ERROR;
    }

    msg = cJSON_CreateObject();

    if (msg == NULL || !cJSON_AddItemToArray(list, msg)) {
        cJSON_Delete(msg);
        return llm_cohere_nomem(err);
    }

    if (cJSON_AddStringToObject(msg, "role", role) == NULL) {
        return llm_cohere_nomem(err);
    }

    if (strcmp(role, "tool") != 0) {
        return llm_cohere_content(m, i, user, msg, err);
    }

    /* tool: tool_call_id and the result as a string */

    item = llm_json_get(m, "tool_call_id");

    if (!cJSON_IsString(item)) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: tool messages require a string "
                      "'tool_call_id'", (unsigned long) i);
        return LLM_ERROR;
    }

    if (cJSON_AddStringToObject(msg, "tool_call_id", item->valuestring)
        == NULL)
    {
        return llm_cohere_nomem(err);
    }

    if (llm_cohere_text(m, i, pool, &text, err) != LLM_OK) {
        return LLM_ERROR;
    }

    if (llm_json_add_ref(msg, "content", text) == NULL) {
        return llm_cohere_nomem(err);
    }

    return LLM_OK;
}


/*
 * System and user content: a string as it is, parts rebuilt (text, and
 * image_url in user messages, which Cohere's vision models take as
 * OpenAI does).
 */

static int
llm_cohere_content(const cJSON *m, size_t i, int user, cJSON *msg,
    llm_error_t *err)
{
    cJSON        *parts, *part;
    const char   *type, *text;
    const cJSON  *content, *item;

    content = llm_json_get(m, "content");

    if (cJSON_IsString(content)) {
        if (llm_json_add_ref(msg, "content", content->valuestring)
            == NULL)
        {
            return llm_cohere_nomem(err);
        }

        return LLM_OK;
    }

    parts = cJSON_AddArrayToObject(msg, "content");
    if (parts == NULL) {
        return llm_cohere_nomem(err);
    }

    if (!cJSON_IsArray(content)) {
        return LLM_OK;
    }

    for (item = content->child; item != NULL; item = item->next) {
        type = llm_json_str(item, "type");

        if (type == NULL) {
            type = "";
        }

        if (strcmp(type, "text") == 0) {
            text = llm_json_str(item, "text");

            if (text == NULL) {
                llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                              "messages[%lu]: a text part needs a string "
                              "'text'", (unsigned long) i);
                return LLM_ERROR;
            }

            part = cJSON_CreateObject();

            if (part == NULL || !cJSON_AddItemToArray(parts, part)) {
                cJSON_Delete(part);
                return llm_cohere_nomem(err);
            }

            if (cJSON_AddStringToObject(part, "type", "text") == NULL
                || llm_json_add_ref(part, "text", text) == NULL)
            {
                return llm_cohere_nomem(err);
            }

            continue;
        }

        if (user && strcmp(type, "image_url") == 0) {
            if (llm_cohere_image(item, i, parts, err) != LLM_OK) {
                return LLM_ERROR;
            }

            continue;
        }

        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: content parts of type '%.32s' are "
                      "not supported by cohere%s", (unsigned long) i, type,
                      user ? "" : " in this role");
        return LLM_ERROR;
    }

    return LLM_OK;
}


/* {"type":"image_url","image_url":{"url"[,"detail"]}} */

static int
llm_cohere_image(const cJSON *part, size_t i, cJSON *parts,
    llm_error_t *err)
{
    cJSON        *p, *obj;
    const char   *url, *detail;
    const cJSON  *image;

    image = llm_json_get(part, "image_url");
    detail = NULL;

    if (cJSON_IsObject(image)) {
        url = llm_json_str(image, "url");
        detail = llm_json_str(image, "detail");

    } else {
        url = cJSON_IsString(image) ? image->valuestring : NULL;
    }

    if (url == NULL || url[0] == '\0') {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: an image_url part needs a string "
                      "'url'", (unsigned long) i);
        return LLM_ERROR;
    }

    p = cJSON_CreateObject();

    if (p == NULL || !cJSON_AddItemToArray(parts, p)) {
        cJSON_Delete(p);
        return llm_cohere_nomem(err);
    }

    obj = NULL;

    if (cJSON_AddStringToObject(p, "type", "image_url") == NULL
        || (obj = cJSON_AddObjectToObject(p, "image_url")) == NULL
        || cJSON_AddStringToObject(obj, "url", url) == NULL)
    {
        return llm_cohere_nomem(err);
    }

    if (detail != NULL
        && (strcmp(detail, "auto") == 0 || strcmp(detail, "low") == 0
            || strcmp(detail, "high") == 0)
        && cJSON_AddStringToObject(obj, "detail", detail) == NULL)
    {
        return llm_cohere_nomem(err);
    }

    return LLM_OK;
}


/*
 * An assistant message.  With tool calls, its text is the "tool_plan"
 * (the decoder gives a tool_plan back as the content, so a conversation
 * goes round unchanged); without, the "content".  A message with neither
 * is left out.
 */

static int
llm_cohere_assistant(const cJSON *m, size_t i, cJSON *list,
    llm_pool_t *pool, llm_error_t *err)
{
    char         *text;
    cJSON        *msg, *calls, *call, *fn;
    size_t        k;
    const char   *id, *name, *args;
    const cJSON  *tc, *c, *type, *f, *a;

    if (llm_cohere_text(m, i, pool, &text, err) != LLM_OK) {
        return LLM_ERROR;
    }

    tc = llm_cohere_item(m, "tool_calls");

    if (tc != NULL && tc->child == NULL) {
        tc = NULL;
    }

    if (tc == NULL && text[0] == '\0') {
        return LLM_OK;
    }

    msg = cJSON_CreateObject();

    if (msg == NULL || !cJSON_AddItemToArray(list, msg)) {
        cJSON_Delete(msg);
        return llm_cohere_nomem(err);
    }

    if (cJSON_AddStringToObject(msg, "role", "assistant") == NULL) {
        return llm_cohere_nomem(err);
    }

    if (tc == NULL) {
        if (llm_json_add_ref(msg, "content", text) == NULL) {
            return llm_cohere_nomem(err);
        }

        return LLM_OK;
    }

    if (text[0] != '\0'
        && llm_json_add_ref(msg, "tool_plan", text) == NULL)
    {
        return llm_cohere_nomem(err);
    }

    calls = cJSON_AddArrayToObject(msg, "tool_calls");
    if (calls == NULL) {
        return llm_cohere_nomem(err);
    }

    k = 0;

    for (c = tc->child; c != NULL; c = c->next, k++) {
        type = llm_cohere_item(c, "type");
        f = llm_json_get(c, "function");
        id = llm_json_str(c, "id");
        name = llm_json_str(f, "name");
        a = llm_cohere_item(f, "arguments");

        if (a == NULL) {
            args = "{}";

        } else {
            args = cJSON_IsString(a) ? a->valuestring : NULL;
        }

        if (!cJSON_IsObject(c)
            || (type != NULL && !(cJSON_IsString(type)
                                  && strcmp(type->valuestring, "function")
                                     == 0))
            || id == NULL || name == NULL || name[0] == '\0' || args == NULL)
        {
            llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                          "messages[%lu].tool_calls[%lu] must be a function "
                          "call with an id, a name and string arguments",
                          (unsigned long) i, (unsigned long) k);
            return LLM_ERROR;
        }

        call = cJSON_CreateObject();

        if (call == NULL || !cJSON_AddItemToArray(calls, call)) {
            cJSON_Delete(call);
            return llm_cohere_nomem(err);
        }

        fn = NULL;

        if (cJSON_AddStringToObject(call, "id", id) == NULL
            || cJSON_AddStringToObject(call, "type", "function") == NULL
            || (fn = cJSON_AddObjectToObject(call, "function")) == NULL
            || cJSON_AddStringToObject(fn, "name", name) == NULL
            || cJSON_AddStringToObject(fn, "arguments", args) == NULL)
        {
            return llm_cohere_nomem(err);
        }
    }

    return LLM_OK;
}


/* the text of a message: a string, or its text parts joined */

static int
llm_cohere_text(const cJSON *m, size_t i, llm_pool_t *pool, char **text,
    llm_error_t *err)
{
    int  rc;

    rc = llm_content_text(llm_json_get(m, "content"), "",
                          pool, text, NULL);

    if (rc == LLM_DECLINED) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: cohere takes only text content in "
                      "this role", (unsigned long) i);
        return LLM_ERROR;
    }

    if (rc != LLM_OK) {
        return llm_cohere_nomem(err);
    }

    return LLM_OK;
}


/*
 * tools and tool_choice: "auto" is Cohere's default (omitted), "none"
 * "NONE", "required" "REQUIRED"; Cohere has no named choice: a named
 * function is "REQUIRED" with that tool alone.
 */

static int
llm_cohere_tools(const cJSON *r, cJSON *root, llm_error_t *err)
{
    cJSON        *list;
    size_t        k, found;
    const char   *mode, *fname, *s;
    const cJSON  *tools, *choice, *t, *item;

    tools = llm_cohere_item(r, "tools");

    if (tools == NULL || tools->child == NULL) {
        return LLM_OK;
    }

    choice = llm_cohere_item(r, "tool_choice");

    mode = NULL;
    fname = NULL;

    if (choice == NULL) {
        /* auto */

    } else if (cJSON_IsString(choice)
               && strcmp(choice->valuestring, "auto") == 0)
    {
        /* Cohere's default */

    } else if (cJSON_IsString(choice)
               && strcmp(choice->valuestring, "none") == 0)
    {
        mode = "NONE";

    } else if (cJSON_IsString(choice)
               && strcmp(choice->valuestring, "required") == 0)
    {
        mode = "REQUIRED";

    } else {
        s = llm_json_str(choice, "type");

        if (s != NULL && strcmp(s, "function") == 0) {
            item = llm_json_get(choice, "function");
            fname = llm_json_str(item, "name");
        }

        if (fname == NULL) {
            llm_error_set(err, 400, LLM_INVALID, "tool_choice", NULL,
                          "'tool_choice' must be none, auto, required or "
                          "{\"type\":\"function\",\"function\":{\"name\":"
                          "...}}");
            return LLM_ERROR;
        }

        mode = "REQUIRED";
    }

    list = cJSON_AddArrayToObject(root, "tools");
    if (list == NULL) {
        return llm_cohere_nomem(err);
    }

    k = 0;
    found = 0;

    for (t = tools->child; t != NULL; t = t->next, k++) {
        if (fname != NULL) {
            item = llm_json_get(t, "function");
            s = llm_json_str(item, "name");

            if (s == NULL || strcmp(s, fname) != 0) {
                continue;
            }

            found++;
        }

        if (llm_cohere_tool(t, k, list, err) != LLM_OK) {
            return LLM_ERROR;
        }
    }

    if (fname != NULL && found == 0) {
        llm_error_set(err, 400, LLM_INVALID, "tool_choice", NULL,
                      "'tool_choice' names function '%.64s', which is not "
                      "in 'tools'", fname);
        return LLM_ERROR;
    }

    if (mode != NULL
        && cJSON_AddStringToObject(root, "tool_choice", mode) == NULL)
    {
        return llm_cohere_nomem(err);
    }

    return LLM_OK;
}


/* {"type":"function","function":{name[,description][,parameters]}} */

static int
llm_cohere_tool(const cJSON *t, size_t k, cJSON *list, llm_error_t *err)
{
    cJSON        *tool, *fn, *dup;
    const char   *type, *name, *desc;
    const cJSON  *f, *params;

    type = llm_json_str(t, "type");
    f = llm_json_get(t, "function");
    name = llm_json_str(f, "name");
    params = llm_cohere_item(f, "parameters");

    if (type == NULL || strcmp(type, "function") != 0
        || name == NULL || name[0] == '\0')
    {
        llm_error_set(err, 400, LLM_INVALID, "tools", NULL,
                      "tools[%lu]: cohere supports only function tools "
                      "with a name", (unsigned long) k);
        return LLM_ERROR;
    }

    if (params != NULL && !cJSON_IsObject(params)) {
        llm_error_set(err, 400, LLM_INVALID, "tools", NULL,
                      "tools[%lu]: 'parameters' must be a JSON Schema "
                      "object", (unsigned long) k);
        return LLM_ERROR;
    }

    tool = cJSON_CreateObject();

    if (tool == NULL || !cJSON_AddItemToArray(list, tool)) {
        cJSON_Delete(tool);
        return llm_cohere_nomem(err);
    }

    fn = NULL;

    if (cJSON_AddStringToObject(tool, "type", "function") == NULL
        || (fn = cJSON_AddObjectToObject(tool, "function")) == NULL
        || cJSON_AddStringToObject(fn, "name", name) == NULL)
    {
        return llm_cohere_nomem(err);
    }

    desc = llm_json_str(f, "description");

    if (desc != NULL
        && cJSON_AddStringToObject(fn, "description", desc) == NULL)
    {
        return llm_cohere_nomem(err);
    }

    if (params == NULL) {
        return LLM_OK;
    }

    dup = cJSON_Duplicate(params, 1);

    if (dup == NULL || !cJSON_AddItemToObject(fn, "parameters", dup)) {
        cJSON_Delete(dup);
        return llm_cohere_nomem(err);
    }

    return LLM_OK;
}


/*
 * json_object: {"type":"json_object"}; json_schema: the same with the
 * schema as "json_schema" (Cohere's shape).
 */

static int
llm_cohere_format(const cJSON *rf, cJSON *root, llm_error_t *err)
{
    cJSON        *obj, *dup;
    const char   *type;
    const cJSON  *js, *schema;

    type = llm_json_str(rf, "type");

    if (type == NULL) {
        type = "";
    }

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
        js = llm_json_get(rf, "json_schema");

        if (!cJSON_IsObject(js)) {
            llm_error_set(err, 400, LLM_INVALID, "response_format", NULL,
                          "'response_format.json_schema' must be an "
                          "object");
            return LLM_ERROR;
        }

        schema = llm_cohere_item(js, "schema");

        if (schema != NULL && !cJSON_IsObject(schema)) {
            llm_error_set(err, 400, LLM_INVALID, "response_format", NULL,
                          "'response_format.json_schema.schema' must be an "
                          "object");
            return LLM_ERROR;
        }
    }

    obj = cJSON_AddObjectToObject(root, "response_format");

    if (obj == NULL
        || cJSON_AddStringToObject(obj, "type", "json_object") == NULL)
    {
        return llm_cohere_nomem(err);
    }

    if (schema == NULL) {
        return LLM_OK;
    }

    dup = cJSON_Duplicate(schema, 1);

    if (dup == NULL || !cJSON_AddItemToObject(obj, "json_schema", dup)) {
        cJSON_Delete(dup);
        return llm_cohere_nomem(err);
    }

    return LLM_OK;
}


/*
 * max_tokens (max_completion_tokens first, then the provider's default),
 * temperature, p (top_p, within Cohere's 0.01-0.99), stop_sequences,
 * seed, penalties (within Cohere's 0-1).
 */

static int
llm_cohere_options(const llm_request_t *req, const llm_provider_t *p,
    cJSON *root, llm_error_t *err)
{
    cJSON        *list;
    double        d;
    size_t        i;
    const cJSON  *r, *v, *s;

    static const char  *const penalties[] = {
        "frequency_penalty",
        "presence_penalty"
    };

    r = req->root;

    v = llm_cohere_item(r, "response_format");

    if (v != NULL && llm_cohere_format(v, root, err) != LLM_OK) {
        return LLM_ERROR;
    }

    v = llm_cohere_item(r, "max_completion_tokens");

    if (v == NULL) {
        v = llm_cohere_item(r, "max_tokens");
    }

    if (cJSON_IsNumber(v)) {
        d = v->valuedouble;

    } else {
        d = (p->max_tokens > 0) ? (double) p->max_tokens : 0;
    }

    if (d > 0 && cJSON_AddNumberToObject(root, "max_tokens", d) == NULL) {
        return llm_cohere_nomem(err);
    }

    v = llm_cohere_item(r, "temperature");

    if (cJSON_IsNumber(v)
        && cJSON_AddNumberToObject(root, "temperature", v->valuedouble)
           == NULL)
    {
        return llm_cohere_nomem(err);
    }

    v = llm_cohere_item(r, "top_p");

    if (cJSON_IsNumber(v)) {
        d = v->valuedouble;
        d = (d < 0.01) ? 0.01 : (d > 0.99) ? 0.99 : d;

        if (cJSON_AddNumberToObject(root, "p", d) == NULL) {
            return llm_cohere_nomem(err);
        }
    }

    v = llm_cohere_item(r, "stop");

    if (cJSON_IsString(v) || (cJSON_IsArray(v) && v->child != NULL)) {
        list = cJSON_AddArrayToObject(root, "stop_sequences");
        if (list == NULL) {
            return llm_cohere_nomem(err);
        }

        if (cJSON_IsString(v)) {
            if (!cJSON_AddItemToArray(list,
                                      cJSON_CreateString(v->valuestring)))
            {
                return llm_cohere_nomem(err);
            }

        } else {
            for (s = v->child; s != NULL; s = s->next) {
                if (!cJSON_IsString(s)
                    || !cJSON_AddItemToArray(list,
                                         cJSON_CreateString(s->valuestring)))
                {
                    return llm_cohere_nomem(err);
                }
            }
        }
    }

    v = llm_cohere_item(r, "seed");

    if (v != NULL) {
        d = cJSON_IsNumber(v) ? v->valuedouble : 0.5;

        /* the range first: a cast of a double out of it is undefined */

        if (d < 0 || d > 9007199254740992.0 || d != (double) (long long) d) {
            llm_error_set(err, 400, LLM_INVALID, "seed", NULL,
                          "'seed' must be a non-negative integer for "
                          "cohere");
            return LLM_ERROR;
        }

        if (cJSON_AddNumberToObject(root, "seed", d) == NULL) {
            return llm_cohere_nomem(err);
        }
    }

    for (i = 0; i < sizeof(penalties) / sizeof(penalties[0]); i++) {
        v = llm_cohere_item(r, penalties[i]);

        if (!cJSON_IsNumber(v)) {
            continue;
        }

        d = v->valuedouble;
        d = (d < 0) ? 0 : (d > 1) ? 1 : d;

        if (cJSON_AddNumberToObject(root, penalties[i], d) == NULL) {
            return llm_cohere_nomem(err);
        }
    }

    return LLM_OK;
}


/*
 * {"id","message"} bodies are read as the OpenAI-compatible adapters read
 * them ("message" is the first place they look); Cohere's 498 (invalid
 * token) is an authentication error.
 */

static int
llm_cohere_error_tree(int status, const char *body, size_t len,
    llm_pool_t *pool, llm_provider_error_t *out)
{
    if (status == 498) {
        status = 401;
    }

    return llm_compat_error(status, body, len, pool, out);
}


static int
llm_cohere_decode_tree(const llm_request_t *req, const llm_provider_t *p,
    const char *body, size_t len, long long created, llm_pool_t *pool,
    llm_response_t *out, llm_error_t *err)
{
    int                rc;
    char              *id, seed[32];
    cJSON             *root;
    const char        *s;
    const cJSON       *msg;
    llm_choice_t      *choice;
    llm_completion_t   c;

    memset(out, 0, sizeof(llm_response_t));
    memset(&c, 0, sizeof(llm_completion_t));

    root = llm_json_parse_pool(body, len, pool);

    if (root == NULL) {
        llm_invalid_response(err, "The cohere answer is not valid JSON");
        return LLM_ERROR;
    }

    rc = LLM_ERROR;

    msg = llm_json_get(root, "message");

    if (!cJSON_IsObject(root) || !cJSON_IsObject(msg)) {
        llm_invalid_response(err, "The cohere answer has no 'message' "
                             "object");
        goto done;
    }

    snprintf(seed, sizeof(seed), "chatcmpl-%016llx",
             llm_cohere_hash(body, len));

    s = llm_json_str(root, "id");

    if (s != NULL && s[0] != '\0') {
        c.id = s;

    } else {
        id = llm_pstrdup(pool, seed, strlen(seed));
        if (id == NULL) {
            llm_cohere_nomem(err);
            goto done;
        }

        c.id = id;
        s = seed;
    }

    choice = llm_palloc(pool, sizeof(llm_choice_t));
    if (choice == NULL) {
        llm_cohere_nomem(err);
        goto done;
    }

    if (llm_cohere_answer(msg, s, pool, choice, err) != LLM_OK) {
        goto done;
    }

    choice->finish_reason = llm_cohere_finish(root, choice->ntool_calls);

    c.choices = choice;
    c.nchoices = 1;

    if (p->model != NULL && p->model[0] != '\0') {
        c.model = p->model;

    } else if (req != NULL && req->model != NULL) {
        c.model = req->model;

    } else {
        c.model = "";
    }

    c.created = created;

    llm_cohere_usage(llm_cohere_item(root, "usage"), &c.usage);

    rc = llm_completion_respond(&c, pool, out, err);

done:

    /* root goes with the pool: see llm_cohere_decode() */

    return rc;
}


/*
 * message.content[] text items joined ("thinking" items left out); when
 * there is no text but a tool_plan, the plan is the content.
 */

static int
llm_cohere_answer(const cJSON *msg, const char *seed, llm_pool_t *pool,
    llm_choice_t *choice, llm_error_t *err)
{
    int           text;
    char         *buf;
    size_t        len, n;
    const char   *s, *type;
    const cJSON  *content, *item, *calls;

    memset(choice, 0, sizeof(llm_choice_t));

    content = llm_cohere_item(msg, "content");
    calls = llm_cohere_item(msg, "tool_calls");

    if ((content != NULL && !cJSON_IsArray(content)
         && !cJSON_IsString(content))
        || (calls != NULL && !cJSON_IsArray(calls)))
    {
        llm_invalid_response(err, "The cohere answer has a message of an "
                             "unexpected shape");
        return LLM_ERROR;
    }

    text = 0;
    len = 0;

    if (cJSON_IsString(content)) {
        text = 1;
        len = strlen(content->valuestring);
    }

    for (item = cJSON_IsArray(content) ? content->child : NULL;
         item != NULL;
         item = item->next)
    {
        type = llm_json_str(item, "type");
        s = llm_json_str(item, "text");

        if (!cJSON_IsObject(item)
            || (type != NULL && strcmp(type, "text") == 0 && s == NULL))
        {
            llm_invalid_response(err, "The cohere answer has a content "
                                 "item of an unexpected shape");
            return LLM_ERROR;
        }

        if (type != NULL && strcmp(type, "text") == 0) {
            text = 1;
            len += strlen(s);
        }
    }

    if (text) {
        buf = llm_palloc(pool, len + 1);
        if (buf == NULL) {
            return llm_cohere_nomem(err);
        }

        choice->content = buf;
        choice->content_len = len;

        if (cJSON_IsString(content)) {
            memcpy(buf, content->valuestring, len);
            buf += len;
        }

        for (item = cJSON_IsArray(content) ? content->child : NULL;
             item != NULL;
             item = item->next)
        {
            type = llm_json_str(item, "type");

            if (type != NULL && strcmp(type, "text") == 0) {
                s = llm_json_str(item, "text");
                n = strlen(s);
                memcpy(buf, s, n);
                buf += n;
            }
        }

        *buf = '\0';
    }

    if (calls != NULL && llm_cohere_calls(calls, seed, pool, choice, err)
                         != LLM_OK)
    {
        return LLM_ERROR;
    }

    s = llm_json_str(msg, "tool_plan");

    if ((!text || choice->content_len == 0) && choice->ntool_calls > 0
        && s != NULL && s[0] != '\0')
    {
        /* a pool copy: the answer's content outlives the tree */

        choice->content_len = strlen(s);
        choice->content = llm_pstrdup(pool, s, choice->content_len);

        if (choice->content == NULL) {
            return llm_cohere_nomem(err);
        }
    }

    return LLM_OK;
}


/* tool_calls pass through; one without an id gets one made from seed */

static int
llm_cohere_calls(const cJSON *calls, const char *seed, llm_pool_t *pool,
    llm_choice_t *choice, llm_error_t *err)
{
    int               rc;
    char             *s, key[160];
    size_t            n, k;
    const cJSON      *c, *fn, *args;
    llm_tool_call_t  *tc;

    n = (size_t) cJSON_GetArraySize(calls);

    if (n == 0) {
        return LLM_OK;
    }

    choice->tool_calls = llm_palloc(pool, n * sizeof(llm_tool_call_t));
    if (choice->tool_calls == NULL) {
        return llm_cohere_nomem(err);
    }

    k = 0;

    for (c = calls->child; c != NULL; c = c->next, k++) {
        tc = &choice->tool_calls[k];

        fn = llm_json_get(c, "function");
        tc->name = llm_json_str(fn, "name");

        if (tc->name == NULL) {
            llm_invalid_response(err, "The cohere answer has a tool call "
                                 "without a name");
            return LLM_ERROR;
        }

        tc->id = llm_json_str(c, "id");

        if (tc->id == NULL || tc->id[0] == '\0') {
            snprintf(key, sizeof(key), "%.128s/%lu", seed, (unsigned long) k);

            rc = llm_tool_call_id(pool, key, strlen(key), &s);
            if (rc != LLM_OK) {
                return llm_cohere_nomem(err);
            }

            tc->id = s;
        }

        args = llm_cohere_item(fn, "arguments");

        if (args == NULL) {
            tc->arguments = "{}";

        } else if (cJSON_IsString(args)) {
            tc->arguments = args->valuestring;

        } else {
            tc->arguments = llm_json_print(args, pool, NULL);

            if (tc->arguments == NULL) {
                return llm_cohere_nomem(err);
            }
        }
    }

    choice->ntool_calls = n;

    return LLM_OK;
}


/*
 * COMPLETE, STOP_SEQUENCE: stop; MAX_TOKENS: length; TOOL_CALL:
 * tool_calls; ERROR, TIMEOUT and anything else: stop (OpenAI has no value
 * for a failed generation, and strict clients reject unknown ones); an
 * answer with tool calls is "tool_calls" unless it was cut short.
 */

const char *
llm_cohere_finish(const cJSON *root, size_t ncalls)
{
    const char  *r;

    r = llm_json_str(root, "finish_reason");

    if (r == NULL) {
        r = "";
    }

    if (strcmp(r, "MAX_TOKENS") == 0) {
        return "length";
    }

    if (strcmp(r, "TOOL_CALL") == 0 || ncalls > 0) {
        return "tool_calls";
    }

    return "stop";
}


/*
 * What Cohere bills: prompt = billed_units.input_tokens, completion =
 * billed_units.output_tokens; each falls back to tokens.* (the raw counts,
 * Cohere's own prompt template included) when billed_units lacks it, and
 * is -1 when neither has it.  cached_tokens is usage.cached_tokens when
 * reported; Cohere reports no cache writes.
 */

void
llm_cohere_usage(const cJSON *usage, llm_usage_t *u)
{
    const cJSON  *billed, *tokens;

    billed = llm_json_get(usage, "billed_units");
    tokens = llm_json_get(usage, "tokens");

    u->prompt_tokens = llm_json_count(billed, "input_tokens");

    if (u->prompt_tokens < 0) {
        u->prompt_tokens = llm_json_count(tokens, "input_tokens");
    }

    u->completion_tokens = llm_json_count(billed, "output_tokens");

    if (u->completion_tokens < 0) {
        u->completion_tokens = llm_json_count(tokens, "output_tokens");
    }

    u->total_tokens = llm_usage_add(u->prompt_tokens, u->completion_tokens);
    u->cached_tokens = llm_json_count(usage, "cached_tokens");
    u->cache_write_tokens = -1;
    u->reasoning_tokens = -1;
}


/* 64-bit FNV-1a */

static unsigned long long
llm_cohere_hash(const char *s, size_t len)
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
llm_cohere_nomem(llm_error_t *err)
{
    llm_error_set(err, 500, LLM_SERVER_ERROR, NULL, NULL, "out of memory");

    return LLM_ERROR;
}


/* a member, with JSON null taken as absent */

static const cJSON *
llm_cohere_item(const cJSON *obj, const char *name)
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
llm_cohere_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    int  rc;

    rc = llm_cohere_encode_fast(req, p, pool, out, err);

    if (rc != LLM_DECLINED) {
        return rc;
    }

    return llm_cohere_encode_tree(req, p, pool, out, err);
}


/* the cJSON trees of encode() on the pool (llm_arena.c) */

int
llm_cohere_encode_tree(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    int          rc;
    llm_arena_t  arena;

    llm_arena_enter(&arena, pool);

    rc = llm_cohere_encode_cjson(req, p, pool, out, err);

    return llm_arena_done(&arena, rc, err);
}


/* the cJSON trees of decode() on the pool (llm_arena.c) */

static int
llm_cohere_decode(const llm_request_t *req, const llm_provider_t *p,
    const char *body, size_t len, long long created, llm_pool_t *pool,
    llm_response_t *out, llm_error_t *err)
{
    int          rc;
    llm_arena_t  arena;

    llm_arena_enter(&arena, pool);

    rc = llm_cohere_decode_tree(req, p, body, len, created, pool, out, err);

    return llm_arena_done(&arena, rc, err);
}


/* the cJSON trees of error() on the pool (llm_arena.c) */

static int
llm_cohere_error(int status, const char *body, size_t len,
    llm_pool_t *pool, llm_provider_error_t *out)
{
    int          rc;
    llm_arena_t  arena;

    llm_arena_enter(&arena, pool);

    rc = llm_cohere_error_tree(status, body, len, pool, out);

    llm_arena_leave(&arena);

    return rc;
}


/*
 * Embeddings, Embed v2: {"model","input_type","embedding_types":["float"],
 * "texts":[...][,"output_dimension"]}.  input_type is required: the
 * request's extension, else the provider's, else "search_document".
 */

static int
llm_cohere_embed_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    llm_embed_body_t  b;

    if (llm_embed_check(req, "cohere", LLM_COHERE_EMBED_MAX, 0, err)
        != LLM_OK)
    {
        return LLM_ERROR;
    }

    b.req = req;
    b.model = llm_embed_model(req, p, err);

    if (b.model == NULL
        || llm_compat_head(p, "/embed", pool, out, err) != LLM_OK)
    {
        return LLM_ERROR;
    }

    b.input_type = (req->input_type != NULL) ? req->input_type
                   : (p->input_type != NULL && p->input_type[0] != '\0')
                     ? p->input_type : "search_document";

    if (llm_json_write_body(llm_cohere_embed_write, &b,
                            LLM_BODY_HINT(req), &req->refs, pool, out)
        != LLM_OK)
    {
        return llm_cohere_nomem(err);
    }

    return LLM_OK;
}


static void
llm_cohere_embed_write(llm_out_t *out, llm_json_splices_t *sp,
    const void *data)
{
    const llm_embed_body_t  *b = data;

    llm_out_lit(out, "{\"model\":");
    llm_out_nstr(out, b->model);
    llm_out_lit(out, ",\"input_type\":");
    llm_out_nstr(out, b->input_type);
    llm_out_lit(out, ",\"embedding_types\":[\"float\"],\"texts\":");
    llm_embed_out_texts(out, sp, b->req);

    if (b->req->dimensions) {
        llm_out_lit(out, ",\"output_dimension\":");
        llm_out_int(out, b->req->dimensions);
    }

    llm_out_raw(out, "}", 1);
}


/* the cJSON tree of "meta" on the pool (llm_arena.c) */

static int
llm_cohere_embed_decode(const llm_request_t *req, const llm_provider_t *p,
    const char *body, size_t len, llm_pool_t *pool, llm_response_t *out,
    llm_error_t *err)
{
    int          rc;
    llm_arena_t  arena;

    llm_arena_enter(&arena, pool);

    rc = llm_cohere_embed_tree(req, p, body, len, pool, out, err);

    return llm_arena_done(&arena, rc, err);
}


/*
 * {"id","response_type":"embeddings_by_type","texts":[...],
 *  "embeddings":{"float":[[...],...]},
 *  "meta":{"billed_units":{"input_tokens":N}}}
 *
 * The answer names no model: the one sent.
 */

static int
llm_cohere_embed_tree(const llm_request_t *req, const llm_provider_t *p,
    const char *body, size_t len, llm_pool_t *pool, llm_response_t *out,
    llm_error_t *err)
{
    int               rc;
    cJSON            *meta;
    size_t            at;
    llm_slice_t      *vectors;
    llm_usage_t       usage;
    llm_json_span_t   span[2], f;

    static const char  *const names[] = { "embeddings", "meta", NULL };

    if (body == NULL || llm_json_validate(body, len, NULL) != LLM_OK) {
        llm_invalid_response(err, "the embeddings answer is not valid JSON");
        return LLM_ERROR;
    }

    /* one walk over the answer's members: the vectors are skipped once */

    if (llm_json_members(body, len, names, span) != LLM_OK) {
        llm_invalid_response(err, "the embeddings answer is not an object");
        return LLM_ERROR;
    }

    if (span[0].end == 0) {
        llm_invalid_response(err, "the embeddings answer has no "
                             "\"embeddings\"");
        return LLM_ERROR;
    }

    at = span[0].value;

    rc = llm_json_member(body + at, span[0].end - at, "float", &f);

    if (rc != LLM_OK) {
        llm_invalid_response(err, "the embeddings answer has no "
                             "\"embeddings\".\"float\"");
        return LLM_ERROR;
    }

    vectors = llm_palloc(pool, req->ninputs * sizeof(llm_slice_t) + 1);
    if (vectors == NULL) {
        return llm_cohere_nomem(err);
    }

    if (llm_embed_vectors(body + at + f.value, f.end - f.value, vectors,
                          req->ninputs, "\"embeddings\".\"float\"", err)
        != LLM_OK)
    {
        return LLM_ERROR;
    }

    llm_usage_none(&usage);

    if (span[1].end != 0) {
        meta = llm_json_parse_pool(body + span[1].value,
                                   span[1].end - span[1].value, pool);

        if (!cJSON_IsObject(meta) && !cJSON_IsNull(meta)) {
            llm_invalid_response(err, "the embeddings answer's \"meta\" is "
                                 "not an object");
            return LLM_ERROR;
        }

        usage.prompt_tokens =
            llm_json_count(llm_cohere_item(meta, "billed_units"),
                           "input_tokens");
        usage.total_tokens = usage.prompt_tokens;
    }

    return llm_embed_render(req, llm_embed_model(req, p, NULL), vectors,
                            req->ninputs, &usage, pool, out, err);
}
