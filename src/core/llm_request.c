
/*
 * ngx_http_llm_router_module: parsing and validation of an OpenAI
 * chat.completions request body.
 */


#include <string.h>

#include "llm_internal.h"


#define LLM_INVALID         "invalid_request_error"

#define LLM_INT_MAX         2147483647.0


static int llm_request_parse_tree(llm_request_t *req, const char *body,
    size_t len, llm_request_check_pt check, llm_error_t *err);
static int llm_request_check_chat(llm_request_t *req, cJSON *root,
    llm_error_t *err);
static int llm_request_check_messages(const cJSON *messages,
    llm_error_t *err);
static int llm_request_check_message(const cJSON *m, size_t i,
    llm_error_t *err);
static int llm_request_check_content(const cJSON *content, size_t i,
    int assistant, llm_error_t *err);
static int llm_request_check_options(const cJSON **items, llm_error_t *err);
static int llm_request_check_int(const cJSON *item, const char *name,
    double max, llm_error_t *err);
static int llm_request_check_range(const cJSON *item, const char *name,
    double max, llm_error_t *err);
static int llm_request_check_stop(const cJSON *item, llm_error_t *err);
static int llm_request_check_tools(const cJSON *item, llm_error_t *err);
static const cJSON *llm_request_item(const cJSON *obj, const char *name);
static size_t llm_request_text_len(const cJSON *content);


/*
 * Keys whose duplicates would make the gateway and the provider disagree;
 * the members of an object with these names are found in one pass over
 * it (llm_request_members()), in llm_request_keys[] order.
 */

#define LLM_REQ_MODEL                  0
#define LLM_REQ_MESSAGES               1
#define LLM_REQ_STREAM                 2
#define LLM_REQ_STREAM_OPTIONS         3
#define LLM_REQ_MAX_TOKENS             4
#define LLM_REQ_MAX_COMPLETION_TOKENS  5
#define LLM_REQ_N                      6
#define LLM_REQ_TEMPERATURE            7
#define LLM_REQ_TOP_P                  8
#define LLM_REQ_STOP                   9
#define LLM_REQ_TOOLS                  10
#define LLM_REQ_KEYS                   18

#define LLM_MSG_ROLE                   0
#define LLM_MSG_CONTENT                1
#define LLM_MSG_TOOL_CALL_ID           2
#define LLM_MSG_TOOL_CALLS             3
#define LLM_MSG_KEYS                   4


static const char  *const llm_request_keys[] = {
    "model",
    "messages",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "temperature",
    "top_p",
    "stop",
    "tools",
    "tool_choice",
    "seed",
    "random_seed",
    "user",
    "store",
    "service_tier",
    "logit_bias",
    NULL
};


static const char  *const llm_message_keys[] = {
    "role",
    "content",
    "tool_call_id",
    "tool_calls",
    NULL
};


/* "function" is deprecated and so not advertised in the error message */

static const char  *const llm_roles[] = {
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
    NULL
};


int
llm_request_parse(llm_request_t *req, const char *body, size_t len,
    llm_error_t *err)
{
    return llm_request_parse_pool(req, body, len, NULL, err);
}


int
llm_request_parse_pool(llm_request_t *req, const char *body, size_t len,
    llm_pool_t *pool, llm_error_t *err)
{
    return llm_request_parse_with(req, body, len, pool,
                                  llm_request_check_chat, err);
}


int
llm_request_parse_with(llm_request_t *req, const char *body, size_t len,
    llm_pool_t *pool, llm_request_check_pt check, llm_error_t *err)
{
    int          rc;
    llm_arena_t  arena;

    memset(req, 0, sizeof(llm_request_t));

    if (pool == NULL) {
        return llm_request_parse_tree(req, body, len, check, err);
    }

    req->pool = *pool;
    req->pooled = 1;

    llm_arena_enter(&arena, pool);

    rc = llm_request_parse_tree(req, body, len, check, err);

    llm_arena_leave(&arena);

    req->blocks = arena.live;

    return rc;
}


static int
llm_request_parse_tree(llm_request_t *req, const char *body, size_t len,
    llm_request_check_pt check, llm_error_t *err)
{
    int      rc;
    cJSON   *root;
    size_t   off, bom;

    if (body == NULL) {
        len = 0;
    }

    bom = 0;

    if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0) {
        bom = 3;
        body += 3;
        len -= 3;
    }

    req->body = body;
    req->body_len = len;

    for (off = 0; off < len; off++) {
        if (body[off] != ' ' && body[off] != '\t' && body[off] != '\n'
            && body[off] != '\r')
        {
            break;
        }
    }

    if (off == len) {
        llm_error_set(err, 400, LLM_INVALID, NULL, NULL,
                      "The request body is empty");
        return LLM_ERROR;
    }

    rc = llm_json_parse_refs(body, len, &root, &off, &req->refs,
                             req->pooled ? &req->pool : NULL);

    if (rc == LLM_ERROR) {
        llm_error_set(err, 400, LLM_INVALID, NULL, NULL,
                      "The request body is not valid JSON "
                      "(syntax error at byte %lu)",
                      (unsigned long) (off + bom));
        return LLM_ERROR;
    }

    if (rc != LLM_OK) {
        /* nesting, a number cJSON cannot read, a bad surrogate, ENOMEM */
        llm_error_set(err, 400, LLM_INVALID, NULL, NULL,
                      "The request body is not valid JSON "
                      "(it could not be parsed)");
        return LLM_ERROR;
    }

    if (!cJSON_IsObject(root)) {
        llm_error_set(err, 400, LLM_INVALID, NULL, NULL,
                      "The request body must be a JSON object");
        goto failed;
    }

    /* lookups of absent optional fields, most of them, cost little */

    llm_json_keys_mark(root);

    if (check(req, root, err) != LLM_OK) {
        goto failed;
    }

    req->root = root;

    return LLM_OK;

failed:

    cJSON_Delete(root);

    return LLM_ERROR;
}


/* a chat.completions request: its members checked and read into req */

static int
llm_request_check_chat(llm_request_t *req, cJSON *root, llm_error_t *err)
{
    const cJSON  *item, *items[LLM_REQ_KEYS];

    if (llm_request_members(root, llm_request_keys, items, NULL, err)
        != LLM_OK
        || llm_request_check_messages(items[LLM_REQ_MESSAGES], err)
           != LLM_OK
        || llm_request_check_options(items, err) != LLM_OK)
    {
        return LLM_ERROR;
    }

    item = llm_json_value(items[LLM_REQ_MODEL]);
    if (item != NULL) {
        req->model = item->valuestring;
    }

    req->stream = cJSON_IsTrue(items[LLM_REQ_STREAM]);

    item = llm_json_value(items[LLM_REQ_STREAM_OPTIONS]);
    if (item != NULL) {
        req->include_usage =
                      cJSON_IsTrue(llm_request_item(item, "include_usage"));
    }

    /* checked above: positive integers when they are numbers */

    item = items[LLM_REQ_MAX_COMPLETION_TOKENS];

    if (!cJSON_IsNumber(item)) {
        item = items[LLM_REQ_MAX_TOKENS];
    }

    req->max_tokens = cJSON_IsNumber(item) ? (long) item->valuedouble : 0;

    return LLM_OK;
}


void
llm_request_free(llm_request_t *req)
{
    if (req->root != NULL) {

        /* a tree on the pool goes with it: only its blocks are counted */

        if (req->pooled) {
            llm_arena_drop(req->blocks);
            req->blocks = 0;

        } else {
            cJSON_Delete(req->root);
        }

        req->root = NULL;
    }

    req->model = NULL;
    req->input = NULL;
}


/* a member, with JSON null taken as absent */

static const cJSON *
llm_request_item(const cJSON *obj, const char *name)
{
    const cJSON  *item;

    item = llm_json_get(obj, name);

    return llm_json_value(item);
}


/*
 * The members of "obj" named in "keys" (as C strings, like strcmp()), in
 * one pass: items[i] is the member named keys[i], or NULL.  A name that
 * comes twice is an error, reported at its second member.
 */

int
llm_request_members(const cJSON *obj, const char *const *keys,
    const cJSON **items, const size_t *index, llm_error_t *err)
{
    size_t        i;
    const char   *a, *b;
    const cJSON  *item;

    for (i = 0; keys[i] != NULL; i++) {
        items[i] = NULL;
    }

    for (item = obj->child; item != NULL; item = item->next) {

        if (item->string == NULL) {
            continue;
        }

        for (i = 0; keys[i] != NULL; i++) {

            /* most names differ from most keys in their first byte */

            for (a = item->string, b = keys[i]; *a == *b; a++, b++) {
                if (*a == '\0') {
                    goto found;
                }
            }
        }

        continue;

    found:

        if (items[i] == NULL) {
            items[i] = item;
            continue;
        }

        if (index == NULL) {
            llm_error_set(err, 400, LLM_INVALID, keys[i], NULL,
                          "Duplicate key '%s' in the request body",
                          keys[i]);

        } else {
            llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                          "messages[%lu]: duplicate key '%s'",
                          (unsigned long) *index, keys[i]);
        }

        return LLM_ERROR;
    }

    return LLM_OK;
}


static int
llm_request_check_messages(const cJSON *messages, llm_error_t *err)
{
    size_t        i;
    const cJSON  *m;

    messages = llm_json_value(messages);

    if (messages == NULL) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "Missing required parameter: 'messages'");
        return LLM_ERROR;
    }

    if (!cJSON_IsArray(messages) || messages->child == NULL) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "'messages' must be a non-empty array");
        return LLM_ERROR;
    }

    i = 0;

    for (m = messages->child; m != NULL; m = m->next) {
        if (llm_request_check_message(m, i, err) != LLM_OK) {
            return LLM_ERROR;
        }

        i++;
    }

    return LLM_OK;
}


static int
llm_request_check_message(const cJSON *m, size_t i, llm_error_t *err)
{
    int           assistant;
    size_t        r;
    const cJSON  *role, *item, *items[LLM_MSG_KEYS];

    if (!cJSON_IsObject(m)) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu] must be an object", (unsigned long) i);
        return LLM_ERROR;
    }

    if (llm_request_members(m, llm_message_keys, items, &i, err) != LLM_OK) {
        return LLM_ERROR;
    }

    role = items[LLM_MSG_ROLE];

    if (role == NULL) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: 'role' is required", (unsigned long) i);
        return LLM_ERROR;
    }

    r = 0;

    if (cJSON_IsString(role)) {
        for ( /* void */ ; llm_roles[r] != NULL; r++) {
            if (strcmp(role->valuestring, llm_roles[r]) == 0) {
                break;
            }
        }
    }

    if (!cJSON_IsString(role) || llm_roles[r] == NULL) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: 'role' must be one of system, "
                      "developer, user, assistant, tool", (unsigned long) i);
        return LLM_ERROR;
    }

    /* llm_roles[]: "assistant" is the fourth, "tool" the fifth */

    assistant = (r == 3);

    if (llm_request_check_content(items[LLM_MSG_CONTENT], i, assistant, err)
        != LLM_OK)
    {
        return LLM_ERROR;
    }

    if (r == 4 && !cJSON_IsString(items[LLM_MSG_TOOL_CALL_ID])) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: tool messages require a string "
                      "'tool_call_id'", (unsigned long) i);
        return LLM_ERROR;
    }

    item = llm_json_value(items[LLM_MSG_TOOL_CALLS]);

    if (item != NULL && !cJSON_IsArray(item)) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: 'tool_calls' must be an array",
                      (unsigned long) i);
        return LLM_ERROR;
    }

    return LLM_OK;
}


static int
llm_request_check_content(const cJSON *content, size_t i, int assistant,
    llm_error_t *err)
{
    size_t        k;
    const cJSON  *part;

    if (content == NULL || cJSON_IsNull(content)) {
        if (assistant) {
            return LLM_OK;
        }

        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: 'content' is required (null is "
                      "allowed only in assistant messages)",
                      (unsigned long) i);
        return LLM_ERROR;
    }

    if (cJSON_IsString(content)) {
        return LLM_OK;
    }

    if (!cJSON_IsArray(content)) {
        llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                      "messages[%lu]: 'content' must be a string or an "
                      "array of content parts", (unsigned long) i);
        return LLM_ERROR;
    }

    k = 0;

    for (part = content->child; part != NULL; part = part->next) {

        if (!cJSON_IsObject(part)
            || !cJSON_IsString(llm_json_get(part, "type")))
        {
            llm_error_set(err, 400, LLM_INVALID, "messages", NULL,
                          "messages[%lu].content[%lu] must be an object "
                          "with a string 'type'",
                          (unsigned long) i, (unsigned long) k);
            return LLM_ERROR;
        }

        k++;
    }

    return LLM_OK;
}


static int
llm_request_check_options(const cJSON **items, llm_error_t *err)
{
    const cJSON  *item;

    item = llm_json_value(items[LLM_REQ_MODEL]);

    if (item != NULL && !cJSON_IsString(item)) {
        llm_error_set(err, 400, LLM_INVALID, "model", NULL,
                      "'model' must be a string");
        return LLM_ERROR;
    }

    item = llm_json_value(items[LLM_REQ_STREAM]);

    if (item != NULL && !cJSON_IsBool(item)) {
        llm_error_set(err, 400, LLM_INVALID, "stream", NULL,
                      "'stream' must be a boolean");
        return LLM_ERROR;
    }

    item = llm_json_value(items[LLM_REQ_STREAM_OPTIONS]);

    if (item != NULL) {
        if (!cJSON_IsObject(item)) {
            llm_error_set(err, 400, LLM_INVALID, "stream_options", NULL,
                          "'stream_options' must be an object");
            return LLM_ERROR;
        }

        item = llm_request_item(item, "include_usage");

        if (item != NULL && !cJSON_IsBool(item)) {
            llm_error_set(err, 400, LLM_INVALID, "stream_options", NULL,
                          "'stream_options.include_usage' must be a "
                          "boolean");
            return LLM_ERROR;
        }
    }

    if (llm_request_check_int(items[LLM_REQ_MAX_TOKENS], "max_tokens",
                              LLM_INT_MAX, err)
        != LLM_OK
        || llm_request_check_int(items[LLM_REQ_MAX_COMPLETION_TOKENS],
                                 "max_completion_tokens", LLM_INT_MAX, err)
           != LLM_OK
        || llm_request_check_int(items[LLM_REQ_N], "n", 128, err) != LLM_OK
        || llm_request_check_range(items[LLM_REQ_TEMPERATURE], "temperature",
                                   2, err)
           != LLM_OK
        || llm_request_check_range(items[LLM_REQ_TOP_P], "top_p", 1, err)
           != LLM_OK
        || llm_request_check_stop(items[LLM_REQ_STOP], err) != LLM_OK
        || llm_request_check_tools(items[LLM_REQ_TOOLS], err) != LLM_OK)
    {
        return LLM_ERROR;
    }

    return LLM_OK;
}


static int
llm_request_check_int(const cJSON *item, const char *name, double max,
    llm_error_t *err)
{
    double  d;

    item = llm_json_value(item);

    if (item == NULL) {
        return LLM_OK;
    }

    if (cJSON_IsNumber(item)) {
        d = item->valuedouble;

        if (d >= 1 && d <= max && d == (double) (long) d) {
            return LLM_OK;
        }
    }

    if (max == LLM_INT_MAX) {
        llm_error_set(err, 400, LLM_INVALID, name, NULL,
                      "'%s' must be a positive integer", name);

    } else {
        llm_error_set(err, 400, LLM_INVALID, name, NULL,
                      "'%s' must be an integer between 1 and %.0f",
                      name, max);
    }

    return LLM_ERROR;
}


static int
llm_request_check_range(const cJSON *item, const char *name, double max,
    llm_error_t *err)
{
    item = llm_json_value(item);

    if (item == NULL
        || (cJSON_IsNumber(item)
            && item->valuedouble >= 0 && item->valuedouble <= max))
    {
        return LLM_OK;
    }

    llm_error_set(err, 400, LLM_INVALID, name, NULL,
                  "'%s' must be a number between 0 and %.0f", name, max);

    return LLM_ERROR;
}


static int
llm_request_check_stop(const cJSON *item, llm_error_t *err)
{
    const cJSON  *s;

    item = llm_json_value(item);

    if (item == NULL || cJSON_IsString(item)) {
        return LLM_OK;
    }

    if (cJSON_IsArray(item)) {
        for (s = item->child; s != NULL; s = s->next) {
            if (!cJSON_IsString(s)) {
                break;
            }
        }

        if (s == NULL) {
            return LLM_OK;
        }
    }

    llm_error_set(err, 400, LLM_INVALID, "stop", NULL,
                  "'stop' must be a string, an array of strings or null");

    return LLM_ERROR;
}


static int
llm_request_check_tools(const cJSON *item, llm_error_t *err)
{
    size_t        i;
    const cJSON  *t;

    item = llm_json_value(item);

    if (item == NULL) {
        return LLM_OK;
    }

    if (!cJSON_IsArray(item)) {
        llm_error_set(err, 400, LLM_INVALID, "tools", NULL,
                      "'tools' must be an array of objects");
        return LLM_ERROR;
    }

    i = 0;

    for (t = item->child; t != NULL; t = t->next) {
        if (!cJSON_IsObject(t)) {
            llm_error_set(err, 400, LLM_INVALID, "tools", NULL,
                          "'tools' must be an array of objects: tools[%lu] "
                          "is not an object", (unsigned long) i);
            return LLM_ERROR;
        }

        i++;
    }

    return LLM_OK;
}


/*
 * About four bytes of English text make a token for the providers'
 * tokenizers; each message costs a few tokens of framing, and an image
 * part is counted as a low-detail image (85 tokens).
 */

long
llm_request_prompt_tokens(const llm_request_t *req)
{
    size_t        bytes, tokens;
    const cJSON  *messages, *m, *calls, *call, *fn, *args;

    if (req->root == NULL) {
        return 0;
    }

    if (req->embed) {
        return llm_embed_prompt_tokens(req);
    }

    messages = llm_request_item(req->root, "messages");

    if (!cJSON_IsArray(messages)) {
        return 0;
    }

    bytes = 0;
    tokens = 3;

    cJSON_ArrayForEach(m, messages) {
        tokens += 4;

        bytes += llm_request_text_len(llm_request_item(m, "content"));

        calls = llm_request_item(m, "tool_calls");

        if (!cJSON_IsArray(calls)) {
            continue;
        }

        cJSON_ArrayForEach(call, calls) {
            fn = llm_request_item(call, "function");
            args = llm_request_item(fn, "arguments");

            if (cJSON_IsString(args)) {
                bytes += strlen(args->valuestring);
            }

            tokens += 4;
        }
    }

    return (long) (tokens + (bytes + 3) / 4);
}


char *
llm_request_prompt_text(const llm_request_t *req, size_t max,
    llm_pool_t *pool, size_t *len)
{
    const cJSON  *messages;

    if (len != NULL) {
        *len = 0;
    }

    if (req == NULL || req->root == NULL) {
        return NULL;
    }

    messages = llm_request_item(req->root, "messages");

    if (messages == NULL) {
        return NULL;
    }

    return llm_json_print_max(messages, max, pool, len);
}


static size_t
llm_request_text_len(const cJSON *content)
{
    size_t        len;
    const cJSON  *part, *text, *type;

    if (cJSON_IsString(content)) {
        return strlen(content->valuestring);
    }

    if (!cJSON_IsArray(content)) {
        return 0;
    }

    len = 0;

    cJSON_ArrayForEach(part, content) {
        text = llm_request_item(part, "text");

        if (cJSON_IsString(text)) {
            len += strlen(text->valuestring);
            continue;
        }

        type = llm_request_item(part, "type");

        if (cJSON_IsString(type)
            && strcmp(type->valuestring, "image_url") == 0)
        {
            len += 85 * 4;
        }
    }

    return len;
}
