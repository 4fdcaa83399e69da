
/*
 * ngx_http_llm_router_module: the OpenAI chat.completion object built from
 * a neutral llm_completion_t, and the helpers the translating adapters
 * (Anthropic, Gemini, Cohere) share.
 */


#include <stdio.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "llm_internal.h"


/* the first pass of llm_completion_render() writes here */
#define LLM_COMPLETION_STACK  4096


#define LLM_COUNT_MAX  9007199254740992.0      /* 2^53 */


static void llm_completion_write(llm_out_t *out, const llm_completion_t *c,
    const llm_usage_t *u);
static void llm_completion_choice(llm_out_t *out, const llm_choice_t *ch,
    size_t index);
static void llm_content_write(llm_out_t *out, const cJSON *content,
    const char *sep);
static int llm_ascii_prefix(const char *s, const char *prefix);


static const char  llm_alnum[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";


/*
 * Strings: NULL renders "" (content, refusal and finish_reason: null); a
 * tool call without arguments renders "{}".  Without usage reported
 * (llm_usage_known()) there is no "usage"; else negative prompt/completion
 * counts render 0, a total_tokens of 0 or less is prompt + completion, and a
 * details object is there only when its count is >= 0.
 */

char *
llm_completion_render(const llm_completion_t *c, llm_pool_t *pool,
    size_t *len)
{
    char         buf[LLM_COMPLETION_STACK], *p;
    llm_out_t    out;
    llm_usage_t  u;

    if (c == NULL) {
        return NULL;
    }

    llm_usage_norm(&c->usage, &u);

    /*
     * written once on the stack and copied when it fits (most answers):
     * escaping every string twice, to measure and then to write, costs
     * more than the copy; a longer answer has been measured by then and
     * is written again into a buffer of its size
     */

    out.buf = buf;
    out.len = 0;
    out.size = sizeof(buf);

    llm_completion_write(&out, c, &u);

    if (out.len <= out.size) {
        p = llm_palloc(pool, out.len + 1);
        if (p == NULL) {
            return NULL;
        }

        memcpy(p, buf, out.len);
        out.buf = p;

    } else {
        if (llm_out_alloc(&out, pool) == NULL) {
            return NULL;
        }

        llm_completion_write(&out, c, &u);
    }

    out.buf[out.len] = '\0';

    if (len != NULL) {
        *len = out.len;
    }

    return out.buf;
}


static void
llm_completion_write(llm_out_t *out, const llm_completion_t *c,
    const llm_usage_t *u)
{
    size_t  i, n;

    n = (c->choices != NULL) ? c->nchoices : 0;

    llm_out_lit(out, "{\"id\":");
    llm_out_nstr(out, c->id);
    llm_out_lit(out, ",\"object\":\"chat.completion\",\"created\":");
    llm_out_int(out, c->created);
    llm_out_lit(out, ",\"model\":");
    llm_out_nstr(out, c->model);
    llm_out_lit(out, ",\"choices\":[");

    for (i = 0; i < n; i++) {
        if (i) {
            llm_out_raw(out, ",", 1);
        }

        llm_completion_choice(out, &c->choices[i], i);
    }

    if (!llm_usage_known(u)) {
        llm_out_lit(out, "]}");
        return;
    }

    llm_out_lit(out, "],\"usage\":{\"prompt_tokens\":");
    llm_out_int(out, u->prompt_tokens);
    llm_out_lit(out, ",\"completion_tokens\":");
    llm_out_int(out, u->completion_tokens);
    llm_out_lit(out, ",\"total_tokens\":");
    llm_out_int(out, u->total_tokens);

    if (u->cached_tokens >= 0) {
        llm_out_lit(out, ",\"prompt_tokens_details\":{\"cached_tokens\":");
        llm_out_int(out, u->cached_tokens);
        llm_out_raw(out, "}", 1);
    }

    if (u->reasoning_tokens >= 0) {
        llm_out_lit(out,
                     ",\"completion_tokens_details\":{\"reasoning_tokens\":");
        llm_out_int(out, u->reasoning_tokens);
        llm_out_raw(out, "}", 1);
    }

    llm_out_lit(out, "}}");
}


static void
llm_completion_choice(llm_out_t *out, const llm_choice_t *ch, size_t index)
{
    size_t                  i, n;
    const llm_tool_call_t  *tc;

    llm_out_lit(out, "{\"index\":");
    llm_out_int(out, (long long) index);
    llm_out_lit(out, ",\"message\":{\"role\":\"assistant\",\"content\":");

    if (ch->content != NULL) {
        llm_out_str(out, ch->content, ch->content_len);

    } else {
        llm_out_lit(out, "null");
    }

    llm_out_lit(out, ",\"refusal\":");

    if (ch->refusal != NULL) {
        llm_out_str(out, ch->refusal, strlen(ch->refusal));

    } else {
        llm_out_lit(out, "null");
    }

    n = (ch->tool_calls != NULL) ? ch->ntool_calls : 0;

    if (n) {
        llm_out_lit(out, ",\"tool_calls\":[");

        for (i = 0; i < n; i++) {
            tc = &ch->tool_calls[i];

            if (i) {
                llm_out_raw(out, ",", 1);
            }

            llm_out_lit(out, "{\"id\":");
            llm_out_nstr(out, tc->id);
            llm_out_lit(out, ",\"type\":\"function\",\"function\":"
                              "{\"name\":");
            llm_out_nstr(out, tc->name);
            llm_out_lit(out, ",\"arguments\":");
            llm_out_nstr(out, (tc->arguments != NULL) ? tc->arguments : "{}");
            llm_out_lit(out, "}}");
        }

        llm_out_raw(out, "]", 1);
    }

    llm_out_lit(out, "},\"logprobs\":null,\"finish_reason\":");

    if (ch->finish_reason != NULL) {
        llm_out_nstr(out, ch->finish_reason);

    } else {
        llm_out_lit(out, "null");
    }

    llm_out_raw(out, "}", 1);
}




int
llm_completion_respond(const llm_completion_t *c, llm_pool_t *pool,
    llm_response_t *out, llm_error_t *err)
{
    out->body = llm_completion_render(c, pool, &out->body_len);

    if (out->body == NULL) {
        out->body_len = 0;
        llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
        return LLM_ERROR;
    }

    llm_usage_norm(&c->usage, &out->usage);

    out->finish_reason = NULL;
    out->content = NULL;
    out->content_len = 0;

    if (c->choices != NULL && c->nchoices > 0) {
        out->finish_reason = c->choices[0].finish_reason;
        out->content = c->choices[0].content;
        out->content_len = (out->content != NULL)
                           ? c->choices[0].content_len : 0;
    }

    return LLM_OK;
}


cJSON *
llm_json_parse_strict(const char *json, size_t len)
{
    return llm_json_parse_pool(json, len, NULL);
}


cJSON *
llm_json_parse_pool(const char *json, size_t len, llm_pool_t *pool)
{
    cJSON  *root;

    if (json == NULL || len == 0
        || llm_json_parse_refs(json, len, &root, NULL, NULL, pool) != LLM_OK)
    {
        return NULL;
    }

    return root;
}


cJSON *
llm_json_get(const cJSON *obj, const char *name)
{
    cJSON       *item;
    const char  *a, *b;

    if (obj == NULL || name == NULL) {
        return NULL;
    }

    if (obj->valueint == LLM_JSON_KEYS_TAG
        && ((uint32_t) obj->valuedouble & (1u << (name[0] & 31))) == 0)
    {
        return NULL;
    }

    /* as cJSON: the search ends at a member without a name */

    for (item = obj->child; item != NULL && item->string != NULL;
         item = item->next)
    {
        /* names that share a first byte mostly differ in the next few */

        for (a = item->string, b = name; *a == *b; a++, b++) {
            if (*a == '\0') {
                return item;
            }
        }
    }

    return NULL;
}


void
llm_json_keys_mark(cJSON *obj)
{
    uint32_t  keys;
    cJSON    *item;

    keys = 0;

    for (item = obj->child; item != NULL; item = item->next) {
        if (item->string == NULL) {
            /* llm_json_get() stops there: no mark */
            return;
        }

        keys |= 1u << (item->string[0] & 31);
    }

    obj->valuedouble = (double) keys;
    obj->valueint = LLM_JSON_KEYS_TAG;
}


const char *
llm_json_str(const cJSON *obj, const char *name)
{
    const cJSON  *item;

    if (!cJSON_IsObject(obj)) {
        return NULL;
    }

    item = llm_json_get(obj, name);

    return cJSON_IsString(item) ? item->valuestring : NULL;
}


const char *
llm_json_message(const cJSON *m, const cJSON **content)
{
    const char   *name;
    const cJSON  *item, *role;

    role = NULL;
    *content = NULL;

    if (!cJSON_IsObject(m)) {
        return NULL;
    }

    for (item = m->child; item != NULL && item->string != NULL;
         item = item->next)
    {
        name = item->string;

        if (role == NULL && name[0] == 'r' && strcmp(name, "role") == 0) {
            role = item;

        } else if (*content == NULL && name[0] == 'c'
                   && strcmp(name, "content") == 0)
        {
            *content = item;
        }

        if (role != NULL && *content != NULL) {
            break;
        }
    }

    return cJSON_IsString(role) ? role->valuestring : NULL;
}


long long
llm_json_count(const cJSON *obj, const char *name)
{
    double        d;
    const cJSON  *item;

    if (!cJSON_IsObject(obj)) {
        return -1;
    }

    item = llm_json_get(obj, name);

    if (!cJSON_IsNumber(item)) {
        return -1;
    }

    d = item->valuedouble;

    /* false for NaN */
    if (!(d >= 0)) {
        return -1;
    }

    if (d > LLM_COUNT_MAX) {
        d = LLM_COUNT_MAX;
    }

    return (long long) d;
}


void
llm_invalid_response(llm_error_t *err, const char *fmt, ...)
{
    int      n;
    size_t   len;
    va_list  args;

    err->status = 502;
    err->type = "api_error";
    err->param = NULL;
    err->code = "invalid_provider_response";

    va_start(args, fmt);
    n = vsnprintf(err->message, sizeof(err->message), fmt, args);
    va_end(args);

    if (n < 0) {
        err->message[0] = '\0';
        return;
    }

    if ((size_t) n >= sizeof(err->message)) {
        len = llm_utf8_trim(err->message, sizeof(err->message) - 1);
        err->message[len] = '\0';
    }
}


/*
 * FNV-1a over the seed, then splitmix64 steps: well spread, and the same
 * seed always gives the same id
 */

int
llm_tool_call_id(llm_pool_t *pool, const char *seed, size_t n, char **id)
{
    char  *p;

    p = llm_palloc(pool, LLM_TOOL_CALL_ID_LEN + 1);
    if (p == NULL) {
        return LLM_ERROR;
    }

    llm_tool_call_id_write(p, seed, n);

    *id = p;

    return LLM_OK;
}


void
llm_tool_call_id_write(char *p, const char *seed, size_t n)
{
    size_t               i;
    unsigned long long   h, z;

    h = 0xcbf29ce484222325ULL;

    for (i = 0; seed != NULL && i < n; i++) {
        h ^= (unsigned char) seed[i];
        h *= 0x100000001b3ULL;
    }

    memcpy(p, "call_", sizeof("call_") - 1);

    for (i = sizeof("call_") - 1; i < LLM_TOOL_CALL_ID_LEN; i++) {
        h += 0x9e3779b97f4a7c15ULL;

        z = h;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;

        p[i] = llm_alnum[z % (sizeof(llm_alnum) - 1)];
    }

    p[LLM_TOOL_CALL_ID_LEN] = '\0';
}


int
llm_tool_args_parse(const char *args, cJSON **obj)
{
    cJSON   *root;
    size_t   i, len;

    *obj = NULL;

    if (args == NULL) {
        return LLM_ERROR;
    }

    len = strlen(args);

    for (i = 0; i < len; i++) {
        if (args[i] != ' ' && args[i] != '\t' && args[i] != '\n'
            && args[i] != '\r')
        {
            break;
        }
    }

    if (i == len) {
        root = cJSON_CreateObject();

    } else {
        root = llm_json_parse_strict(args, len);
    }

    if (root == NULL) {
        return LLM_ERROR;
    }

    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return LLM_ERROR;
    }

    *obj = root;

    return LLM_OK;
}


/* s starts with prefix (lowercase ASCII), ignoring the case of s */

static int
llm_ascii_prefix(const char *s, const char *prefix)
{
    unsigned char  c;

    for ( /* void */ ; *prefix != '\0'; s++, prefix++) {
        c = (unsigned char) *s;

        if (c >= 'A' && c <= 'Z') {
            c |= 0x20;
        }

        if (c != (unsigned char) *prefix) {
            return 0;
        }
    }

    return 1;
}


int
llm_data_url(const char *url, llm_data_url_t *d)
{
    const char  *p, *comma, *semi;

    if (url == NULL || !llm_ascii_prefix(url, "data:")) {
        return LLM_DECLINED;
    }

    p = url + sizeof("data:") - 1;

    comma = strchr(p, ',');
    if (comma == NULL) {
        return LLM_ERROR;
    }

    /* the parameters must end with ";base64" */

    if ((size_t) (comma - p) < sizeof(";base64") - 1
        || !llm_ascii_prefix(comma - (sizeof(";base64") - 1), ";base64"))
    {
        return LLM_ERROR;
    }

    semi = memchr(p, ';', (size_t) (comma - p));

    if (semi == NULL || semi == p || comma[1] == '\0') {
        return LLM_ERROR;
    }

    d->media_type = p;
    d->media_type_len = (size_t) (semi - p);
    d->data = comma + 1;
    d->data_len = strlen(comma + 1);

    return LLM_OK;
}


int
llm_content_text(const cJSON *content, const char *sep, llm_pool_t *pool,
    char **text, size_t *len)
{
    const char   *s;
    llm_out_t     out;
    const cJSON  *part;

    if (sep == NULL) {
        sep = "";
    }

    if (content != NULL && !cJSON_IsNull(content)
        && !cJSON_IsString(content))
    {
        if (!cJSON_IsArray(content)) {
            return LLM_DECLINED;
        }

        for (part = content->child; part != NULL; part = part->next) {
            s = llm_json_str(part, "type");

            if (s == NULL || strcmp(s, "text") != 0
                || llm_json_str(part, "text") == NULL)
            {
                return LLM_DECLINED;
            }
        }
    }

    out.buf = NULL;
    out.len = 0;
    out.size = 0;

    llm_content_write(&out, content, sep);

    if (llm_out_alloc(&out, pool) == NULL) {
        return LLM_ERROR;
    }

    llm_content_write(&out, content, sep);

    out.buf[out.len] = '\0';

    *text = out.buf;

    if (len != NULL) {
        *len = out.len;
    }

    return LLM_OK;
}


static void
llm_content_write(llm_out_t *out, const cJSON *content, const char *sep)
{
    int           first;
    const char   *s;
    const cJSON  *part;

    if (cJSON_IsString(content)) {
        llm_out_cstr(out, content->valuestring);
        return;
    }

    if (!cJSON_IsArray(content)) {
        return;
    }

    first = 1;

    for (part = content->child; part != NULL; part = part->next) {
        s = llm_json_str(part, "text");

        if (s == NULL || s[0] == '\0') {
            continue;
        }

        if (!first) {
            llm_out_cstr(out, sep);
        }

        llm_out_cstr(out, s);
        first = 0;
    }
}


int
llm_json_body(const llm_request_t *req, const cJSON *root, llm_pool_t *pool,
    llm_http_request_t *out, llm_error_t *err)
{
    if (llm_json_print_body(root, LLM_BODY_HINT(req), &req->refs, pool, out)
        == LLM_OK)
    {
        return LLM_OK;
    }

    out->body_len = 0;

    llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");

    return LLM_ERROR;
}
