
/*
 * ngx_http_llm_router_module: the translation core's part of the response
 * cache (see llm_core.h): the key of a request, a cached answer sent as a
 * stream, and a streamed answer assembled into the answer to store.
 */


#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


/* object members sorted in place below this count, merged above */
#define LLM_CACHE_SORT_SMALL  12

/* member pointers of the objects being written, before the pool's */
#define LLM_CACHE_STACK       64

/* room for the parts of a stream chunk other than its strings */
#define LLM_CACHE_CHUNK_ROOM  512

#define LLM_CACHE_INT_MAX     9007199254740992.0      /* 2^53 */


typedef struct {
    llm_out_t      out;
    llm_pool_t    *pool;
    cJSON        **stack;
    size_t         nstack;
    size_t         size;
    int            nomem;
} llm_cache_key_ctx_t;


/* the kinds of the pieces an accumulator keeps */

enum {
    LLM_CACHE_CONTENT = 1,
    LLM_CACHE_REFUSAL,
    LLM_CACHE_TOOL_ID,
    LLM_CACHE_TOOL_NAME,
    LLM_CACHE_TOOL_ARGS
};


/* before each piece's bytes in the accumulator's buffer (memcpy'd) */

typedef struct {
    size_t        len;
    unsigned      kind;
    unsigned      index;
} llm_cache_piece_t;


static int llm_cache_replayable(const cJSON *root, double max_temperature,
    const char **why);
static int llm_cache_has_nul(const char *p, size_t len);
static int llm_cache_excluded(const char *name);
static void llm_cache_value(llm_cache_key_ctx_t *ctx, const cJSON *item);
static void llm_cache_object(llm_cache_key_ctx_t *ctx, const cJSON *obj,
    int top);
static void llm_cache_sort(cJSON **a, cJSON **tmp, size_t n);
static void llm_cache_number(llm_out_t *out, double d);
static int llm_cache_stream_write(const cJSON *msg, llm_stream_t *st,
    llm_stream_out_t *out);
static const char *llm_cache_string(const cJSON *obj, const char *name,
    int *bad);
static void llm_cache_acc_choice(llm_cache_acc_t *a, const cJSON *choice);
static void llm_cache_acc_tool(llm_cache_acc_t *a, const cJSON *call);
static void llm_cache_acc_add(llm_cache_acc_t *a, unsigned kind,
    unsigned index, const char *s, size_t n);
static void llm_cache_acc_copy(char *dst, size_t size, const char *src,
    llm_cache_acc_t *a);


/* top-level members that do not change the answer, sorted */

static const char  *const llm_cache_left_out[] = {
    "metadata",
    "prompt_cache_key",
    "safety_identifier",
    "service_tier",
    "store",
    "stream",
    "stream_options",
    "user",
    NULL
};


int
llm_cache_key(const llm_request_t *req, double max_temperature,
    llm_pool_t *pool, char **key, size_t *len, const char **why)
{
    size_t                hint;
    cJSON                *stack[LLM_CACHE_STACK];
    const char           *reason;
    llm_cache_key_ctx_t   ctx;

    *key = NULL;
    *len = 0;

    if (why == NULL) {
        why = &reason;
    }

    *why = NULL;

    if (req == NULL || !cJSON_IsObject(req->root)) {
        return LLM_ERROR;
    }

    if (req->body != NULL && llm_cache_has_nul(req->body, req->body_len)) {
        *why = "\\u0000";
        return LLM_DECLINED;
    }

    if (llm_cache_replayable(req->root, max_temperature, why) != LLM_OK) {
        return LLM_DECLINED;
    }

    /*
     * The key is no longer than the body but for numbers written longer
     * than they came ("1e9" is 1000000000): written once into a buffer of
     * the body's length and some, and again, measured, when it did not
     * fit.
     */

    hint = (req->body != NULL) ? req->body_len + 64 : 1024;

    ctx.out.buf = llm_palloc(pool, hint + 1);
    if (ctx.out.buf == NULL) {
        return LLM_ERROR;
    }

    ctx.out.len = 0;
    ctx.out.size = hint;
    ctx.pool = pool;
    ctx.stack = stack;
    ctx.size = LLM_CACHE_STACK;
    ctx.nstack = 0;
    ctx.nomem = 0;

    llm_cache_object(&ctx, req->root, 1);

    if (ctx.out.len > ctx.out.size && !ctx.nomem) {
        if (llm_out_alloc(&ctx.out, pool) == NULL) {
            return LLM_ERROR;
        }

        llm_cache_object(&ctx, req->root, 1);
    }

    if (ctx.nomem || ctx.out.len > ctx.out.size) {
        return LLM_ERROR;
    }

    ctx.out.buf[ctx.out.len] = '\0';

    *key = ctx.out.buf;
    *len = ctx.out.len;

    return LLM_OK;
}


/* the rule of what can be answered from the cache (llm_core.h) */

static int
llm_cache_replayable(const cJSON *root, double max_temperature,
    const char **why)
{
    const cJSON  *item;

    item = llm_json_get(root, "n");

    if (item != NULL && !cJSON_IsNull(item)
        && !(cJSON_IsNumber(item) && item->valuedouble == 1))
    {
        *why = "n";
        return LLM_DECLINED;
    }

    item = llm_json_get(root, "temperature");

    if (max_temperature >= 0 && item != NULL && !cJSON_IsNull(item)
        && !(cJSON_IsNumber(item) && item->valuedouble <= max_temperature))
    {
        *why = "temperature";
        return LLM_DECLINED;
    }

    if (cJSON_IsTrue(llm_json_get(root, "logprobs"))) {
        *why = "logprobs";
        return LLM_DECLINED;
    }

    return LLM_OK;
}


/*
 * An escaped NUL ("\u0000") in JSON text: backslashes are only found in
 * strings there, each starting an escape.  Text that is not JSON may
 * give a false positive, never a miss.
 */

static int
llm_cache_has_nul(const char *p, size_t len)
{
    const char  *q, *last;

    last = p + len;

    while (p < last) {
        q = memchr(p, '\\', (size_t) (last - p));

        if (q == NULL || last - q < 2) {
            return 0;
        }

        if (q[1] == 'u' && last - q >= 6
            && q[2] == '0' && q[3] == '0' && q[4] == '0' && q[5] == '0')
        {
            return 1;
        }

        /* past the escape's second byte: "\\" is one escape */

        p = q + 2;
    }

    return 0;
}


static int
llm_cache_excluded(const char *name)
{
    size_t  i;

    /* the first byte settles most names */

    switch (name[0]) {
    case 'm':
    case 'p':
    case 's':
    case 'u':
        break;
    default:
        return 0;
    }

    for (i = 0; llm_cache_left_out[i] != NULL; i++) {
        if (strcmp(name, llm_cache_left_out[i]) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
llm_cache_value(llm_cache_key_ctx_t *ctx, const cJSON *item)
{
    const cJSON  *el;

    switch (item->type & 0xff) {

    case cJSON_False:
        llm_out_raw(&ctx->out, "false", 5);
        return;

    case cJSON_True:
        llm_out_raw(&ctx->out, "true", 4);
        return;

    case cJSON_Number:
        llm_cache_number(&ctx->out, item->valuedouble);
        return;

    case cJSON_String:
        llm_out_nstr(&ctx->out, item->valuestring);
        return;

    case cJSON_Array:
        llm_out_raw(&ctx->out, "[", 1);

        for (el = item->child; el != NULL; el = el->next) {
            if (el != item->child) {
                llm_out_raw(&ctx->out, ",", 1);
            }

            llm_cache_value(ctx, el);
        }

        llm_out_raw(&ctx->out, "]", 1);
        return;

    case cJSON_Object:
        llm_cache_object(ctx, item, 0);
        return;

    default:
        /* cJSON_NULL; a parsed tree has no other type */
        llm_out_raw(&ctx->out, "null", 4);
        return;
    }
}


static void
llm_cache_object(llm_cache_key_ctx_t *ctx, const cJSON *obj, int top)
{
    size_t   i, n, base;
    cJSON   *m, **a, **tmp;

    n = 0;

    for (m = obj->child; m != NULL; m = m->next) {
        n++;
    }

    /* the member pointers: on the stack's free part, else on the pool */

    base = ctx->nstack;

    if (n <= ctx->size - base) {
        a = ctx->stack + base;
        ctx->nstack += n;

    } else {
        a = llm_palloc(ctx->pool, n * sizeof(cJSON *));
        if (a == NULL) {
            ctx->nomem = 1;
            return;
        }
    }

    n = 0;

    for (m = obj->child; m != NULL; m = m->next) {
        if (m->string == NULL) {
            continue;
        }

        if (top && (cJSON_IsNull(m) || llm_cache_excluded(m->string))) {
            continue;
        }

        a[n++] = m;
    }

    tmp = NULL;

    if (n > LLM_CACHE_SORT_SMALL) {
        tmp = llm_palloc(ctx->pool, (n / 2 + 1) * sizeof(cJSON *));
        if (tmp == NULL) {
            ctx->nomem = 1;
            ctx->nstack = base;
            return;
        }
    }

    llm_cache_sort(a, tmp, n);

    llm_out_raw(&ctx->out, "{", 1);

    for (i = 0; i < n; i++) {
        if (i) {
            llm_out_raw(&ctx->out, ",", 1);
        }

        llm_out_nstr(&ctx->out, a[i]->string);
        llm_out_raw(&ctx->out, ":", 1);
        llm_cache_value(ctx, a[i]);
    }

    llm_out_raw(&ctx->out, "}", 1);

    ctx->nstack = base;
}


/*
 * A stable sort of members by name, bytewise (strcmp() compares unsigned
 * chars): insertion for a few, merging for more (tmp: n / 2 + 1).
 */

static void
llm_cache_sort(cJSON **a, cJSON **tmp, size_t n)
{
    size_t   i, j, k, m;
    cJSON   *x;

    if (n <= LLM_CACHE_SORT_SMALL) {
        for (i = 1; i < n; i++) {
            x = a[i];

            for (j = i; j > 0 && strcmp(a[j - 1]->string, x->string) > 0;
                 j--)
            {
                a[j] = a[j - 1];
            }

            a[j] = x;
        }

        return;
    }

    m = n / 2;

    llm_cache_sort(a, tmp, m);
    llm_cache_sort(a + m, tmp, n - m);

    if (strcmp(a[m - 1]->string, a[m]->string) <= 0) {
        return;
    }

    /* the left half aside, then merged back: the left wins ties */

    memcpy(tmp, a, m * sizeof(cJSON *));

    i = 0;
    j = m;
    k = 0;

    while (i < m && j < n) {
        if (strcmp(a[j]->string, tmp[i]->string) < 0) {
            a[k++] = a[j++];

        } else {
            a[k++] = tmp[i++];
        }
    }

    while (i < m) {
        a[k++] = tmp[i++];
    }
}


static void
llm_cache_number(llm_out_t *out, double d)
{
    int     i, n;
    char    buf[32];
    double  v;

    if (d == 0) {
        /* -0 too */
        llm_out_raw(out, "0", 1);
        return;
    }

    if (d >= -LLM_CACHE_INT_MAX && d <= LLM_CACHE_INT_MAX
        && (double) (long long) d == d)
    {
        llm_out_int(out, (long long) d);
        return;
    }

    if (d > DBL_MAX || d < -DBL_MAX) {
        llm_out_cstr(out, (d > 0) ? "1e999" : "-1e999");
        return;
    }

    if (d != d) {
        llm_out_raw(out, "null", 4);
        return;
    }

    /* the shortest of %.15g, %.16g, %.17g that reads back the same */

    n = 0;

    for (i = 15; i <= 17; i++) {
        n = snprintf(buf, sizeof(buf), "%.*g", i, d);

        if (n <= 0 || (size_t) n >= sizeof(buf)) {
            llm_out_raw(out, "null", 4);
            return;
        }

        v = strtod(buf, NULL);

        if (v == d) {
            break;
        }
    }

    llm_out_raw(out, buf, (size_t) n);
}


int
llm_cache_stream(const char *body, size_t len, int include_usage,
    llm_pool_t *pool, char **out, size_t *out_len)
{
    int                rc;
    size_t             size, nchunks;
    cJSON             *root;
    llm_arena_t        arena;
    llm_stream_t       st;
    const char        *s;
    const cJSON       *choices, *choice, *msg, *calls, *usage;
    llm_stream_out_t   so;

    *out = NULL;
    *out_len = 0;

    if (body == NULL || len == 0 || llm_cache_has_nul(body, len)) {
        return LLM_ERROR;
    }

    llm_arena_enter(&arena, pool);

    rc = LLM_ERROR;

    root = llm_json_parse_pool(body, len, pool);

    if (!cJSON_IsObject(root)) {
        goto done;
    }

    s = llm_json_str(root, "object");

    if (s == NULL || strcmp(s, "chat.completion") != 0) {
        goto done;
    }

    choices = llm_json_get(root, "choices");

    if (!cJSON_IsArray(choices) || choices->child == NULL
        || choices->child->next != NULL)
    {
        goto done;
    }

    choice = choices->child;
    msg = llm_json_get(choice, "message");

    if (!cJSON_IsObject(msg) || llm_json_count(choice, "index") > 0) {
        goto done;
    }

    memset(&st, 0, sizeof(llm_stream_t));

    if (llm_json_str(root, "id") == NULL
        || llm_json_str(root, "model") == NULL)
    {
        goto done;
    }

    llm_stream_set_id(&st, llm_json_str(root, "id"));
    llm_stream_set_model(&st, llm_json_str(root, "model"));

    st.created = llm_json_count(root, "created");

    if (st.created < 0) {
        goto done;
    }

    st.finish_reason = llm_openai_finish(llm_json_str(choice,
                                                      "finish_reason"), 0);

    if (st.finish_reason == NULL) {
        goto done;
    }

    st.include_usage = include_usage;

    llm_usage_none(&st.usage);

    usage = llm_json_get(root, "usage");

    if (cJSON_IsObject(usage)) {
        llm_openai_usage(usage, &st.usage);

    } else if (usage != NULL && !cJSON_IsNull(usage)) {
        goto done;
    }

    /*
     * Every string goes out escaped no longer than it came (the escape
     * of a value is never longer than its JSON text), but id and model,
     * which every chunk repeats.
     */

    calls = llm_json_get(msg, "tool_calls");
    nchunks = 4 + (cJSON_IsArray(calls) ? (size_t) cJSON_GetArraySize(calls)
                                        : 0);

    size = LLM_CACHE_CHUNK_ROOM
           + llm_json_escape(NULL, 0, st.id, strlen(st.id))
           + llm_json_escape(NULL, 0, st.model, strlen(st.model));

    if (nchunks > ((size_t) -1 - len - 1) / size) {
        goto done;
    }

    size = size * nchunks + len;

    so.buf = llm_palloc(pool, size + 1);
    if (so.buf == NULL) {
        goto done;
    }

    so.size = size;
    so.len = 0;

    if (llm_cache_stream_write(msg, &st, &so) != LLM_OK
        || llm_stream_finish(&st, &so) != LLM_OK)
    {
        goto done;
    }

    so.buf[so.len] = '\0';

    *out = so.buf;
    *out_len = so.len;

    rc = LLM_OK;

done:

    llm_arena_leave(&arena);
    llm_arena_drop(arena.live);

    return rc;
}


/* the role chunk and the tool calls' (the finish is llm_stream_finish()) */

static int
llm_cache_stream_write(const cJSON *msg, llm_stream_t *st,
    llm_stream_out_t *out)
{
    int           bad, index;
    const char   *type;
    llm_delta_t   d;
    const cJSON  *calls, *call, *fn, *item;

    bad = 0;

    memset(&d, 0, sizeof(llm_delta_t));

    d.role = 1;
    d.tool_index = -1;
    d.content = llm_cache_string(msg, "content", &bad);
    d.content_len = (d.content != NULL) ? strlen(d.content) : 0;
    d.refusal = llm_cache_string(msg, "refusal", &bad);

    item = llm_json_get(msg, "function_call");

    if (item != NULL && !cJSON_IsNull(item)) {
        return LLM_ERROR;
    }

    item = llm_json_get(msg, "audio");

    if (item != NULL && !cJSON_IsNull(item)) {
        return LLM_ERROR;
    }

    calls = llm_json_get(msg, "tool_calls");

    if (calls != NULL && !cJSON_IsNull(calls) && !cJSON_IsArray(calls)) {
        return LLM_ERROR;
    }

    if (bad || llm_stream_chunk(st, out, &d) != LLM_OK) {
        return LLM_ERROR;
    }

    index = 0;

    for (call = cJSON_IsArray(calls) ? calls->child : NULL;
         call != NULL;
         call = call->next)
    {
        type = llm_json_str(call, "type");
        fn = llm_json_get(call, "function");

        if ((type != NULL && strcmp(type, "function") != 0)
            || !cJSON_IsObject(fn))
        {
            return LLM_ERROR;
        }

        memset(&d, 0, sizeof(llm_delta_t));

        d.tool_index = index++;
        d.tool_id = llm_json_str(call, "id");
        d.tool_name = llm_json_str(fn, "name");
        d.tool_args = llm_json_str(fn, "arguments");

        if (d.tool_id == NULL || d.tool_name == NULL || d.tool_args == NULL) {
            return LLM_ERROR;
        }

        d.tool_args_len = strlen(d.tool_args);

        if (llm_stream_chunk(st, out, &d) != LLM_OK) {
            return LLM_ERROR;
        }
    }

    return LLM_OK;
}


/* a string member, NULL when absent or null; *bad for another type */

static const char *
llm_cache_string(const cJSON *obj, const char *name, int *bad)
{
    const cJSON  *item;

    item = llm_json_get(obj, name);

    if (item == NULL || cJSON_IsNull(item)) {
        return NULL;
    }

    if (!cJSON_IsString(item)) {
        *bad = 1;
        return NULL;
    }

    return item->valuestring;
}


void
llm_cache_acc_init(llm_cache_acc_t *a, char *buf, size_t size)
{
    memset(a, 0, sizeof(llm_cache_acc_t));

    a->buf = buf;
    a->size = (buf != NULL) ? size : 0;
    a->created = -1;

    llm_usage_none(&a->usage);
}


int
llm_cache_acc_chunk(llm_cache_acc_t *a, const char *data, size_t len,
    llm_pool_t *scratch_pool)
{
    int           rc;
    cJSON        *root;
    const char   *s;
    llm_arena_t   arena;
    const cJSON  *item, *choices, *choice;

    if (a->failed || a->full) {
        return LLM_DECLINED;
    }

    if (len == sizeof("[DONE]") - 1
        && memcmp(data, "[DONE]", sizeof("[DONE]") - 1) == 0)
    {
        return LLM_OK;
    }

    if (llm_cache_has_nul(data, len)) {
        a->failed = 1;
        return LLM_DECLINED;
    }

    llm_arena_enter(&arena, scratch_pool);

    rc = LLM_DECLINED;

    root = llm_json_parse_pool(data, len, scratch_pool);

    if (!cJSON_IsObject(root)) {
        a->failed = 1;
        rc = arena.nomem ? LLM_ERROR : LLM_DECLINED;
        goto done;
    }

    item = llm_json_get(root, "error");
    choices = llm_json_get(root, "choices");

    if ((item != NULL && !cJSON_IsNull(item)) || !cJSON_IsArray(choices)) {
        a->failed = 1;
        goto done;
    }

    if (a->id[0] == '\0') {
        s = llm_json_str(root, "id");

        if (s != NULL) {
            llm_cache_acc_copy(a->id, sizeof(a->id), s, a);
        }
    }

    if (a->model[0] == '\0') {
        s = llm_json_str(root, "model");

        if (s != NULL) {
            llm_cache_acc_copy(a->model, sizeof(a->model), s, a);
        }
    }

    if (a->created < 0) {
        a->created = llm_json_count(root, "created");
    }

    item = llm_json_get(root, "usage");

    if (cJSON_IsObject(item)) {
        llm_openai_usage(item, &a->usage);
    }

    for (choice = choices->child; choice != NULL; choice = choice->next) {
        llm_cache_acc_choice(a, choice);
    }

    rc = (a->failed || a->full) ? LLM_DECLINED : LLM_OK;

done:

    llm_arena_leave(&arena);
    llm_arena_drop(arena.live);

    return rc;
}


static void
llm_cache_acc_choice(llm_cache_acc_t *a, const cJSON *choice)
{
    const char   *s, *r;
    const cJSON  *delta, *item, *call;

    if (!cJSON_IsObject(choice) || llm_json_count(choice, "index") != 0) {
        /* a second choice: n > 1, not kept */
        a->failed = 1;
        return;
    }

    delta = llm_json_get(choice, "delta");

    if (cJSON_IsObject(delta)) {
        s = llm_json_str(delta, "content");

        if (s != NULL) {
            a->content = 1;
            llm_cache_acc_add(a, LLM_CACHE_CONTENT, 0, s, strlen(s));
        }

        s = llm_json_str(delta, "refusal");

        if (s != NULL) {
            a->refusal = 1;
            llm_cache_acc_add(a, LLM_CACHE_REFUSAL, 0, s, strlen(s));
        }

        item = llm_json_get(delta, "function_call");

        if (item != NULL && !cJSON_IsNull(item)) {
            a->failed = 1;
            return;
        }

        item = llm_json_get(delta, "tool_calls");

        if (cJSON_IsArray(item)) {
            for (call = item->child; call != NULL; call = call->next) {
                llm_cache_acc_tool(a, call);
            }

        } else if (item != NULL && !cJSON_IsNull(item)) {
            a->failed = 1;
            return;
        }

    } else if (delta != NULL && !cJSON_IsNull(delta)) {
        a->failed = 1;
        return;
    }

    item = llm_json_get(choice, "finish_reason");

    if (item == NULL || cJSON_IsNull(item)) {
        return;
    }

    r = cJSON_IsString(item) ? llm_openai_finish(item->valuestring, 0)
                             : NULL;

    if (r == NULL) {
        a->failed = 1;
        return;
    }

    a->finish_reason = r;
}


static void
llm_cache_acc_tool(llm_cache_acc_t *a, const cJSON *call)
{
    unsigned               i;
    long long              index;
    const char            *s, *type;
    const cJSON           *fn;
    llm_cache_acc_tool_t  *t;

    index = llm_json_count(call, "index");
    type = llm_json_str(call, "type");
    fn = llm_json_get(call, "function");

    if (index < 0 || index >= LLM_CACHE_ACC_TOOLS
        || (type != NULL && strcmp(type, "function") != 0)
        || (fn != NULL && !cJSON_IsNull(fn) && !cJSON_IsObject(fn)))
    {
        a->failed = 1;
        return;
    }

    i = (unsigned) index;
    t = &a->tools[i];

    t->seen = 1;

    if (i >= a->ntools) {
        a->ntools = i + 1;
    }

    /* as OpenAI's clients join them: id and name once, arguments added */

    s = llm_json_str(call, "id");

    if (s != NULL && s[0] != '\0' && t->id_len == 0) {
        llm_cache_acc_add(a, LLM_CACHE_TOOL_ID, i, s, strlen(s));
    }

    s = llm_json_str(fn, "name");

    if (s != NULL && s[0] != '\0' && t->name_len == 0) {
        llm_cache_acc_add(a, LLM_CACHE_TOOL_NAME, i, s, strlen(s));
    }

    s = llm_json_str(fn, "arguments");

    if (s != NULL) {
        llm_cache_acc_add(a, LLM_CACHE_TOOL_ARGS, i, s, strlen(s));
    }
}


/*
 * n bytes of a piece: added to the last piece when it is of the same
 * kind and index, else after a new header; nothing more once buf is full.
 */

static void
llm_cache_acc_add(llm_cache_acc_t *a, unsigned kind, unsigned index,
    const char *s, size_t n)
{
    llm_cache_piece_t  h;

    if (n == 0 || a->full || a->failed) {
        return;
    }

    if (a->pieces) {
        memcpy(&h, a->buf + a->last, sizeof(llm_cache_piece_t));

        if (h.kind == kind && h.index == index) {
            if (n > a->size - a->len) {
                a->full = 1;
                return;
            }

            memcpy(a->buf + a->len, s, n);
            a->len += n;

            h.len += n;
            memcpy(a->buf + a->last, &h, sizeof(llm_cache_piece_t));

            goto added;
        }
    }

    if (a->size - a->len < sizeof(llm_cache_piece_t)
        || n > a->size - a->len - sizeof(llm_cache_piece_t))
    {
        a->full = 1;
        return;
    }

    h.len = n;
    h.kind = kind;
    h.index = index;

    a->last = a->len;
    a->pieces = 1;

    memcpy(a->buf + a->len, &h, sizeof(llm_cache_piece_t));
    memcpy(a->buf + a->len + sizeof(llm_cache_piece_t), s, n);

    a->len += sizeof(llm_cache_piece_t) + n;

added:

    switch (kind) {
    case LLM_CACHE_CONTENT:
        a->content_len += n;
        break;
    case LLM_CACHE_REFUSAL:
        a->refusal_len += n;
        break;
    case LLM_CACHE_TOOL_ID:
        a->tools[index].id_len += n;
        break;
    case LLM_CACHE_TOOL_NAME:
        a->tools[index].name_len += n;
        break;
    default:
        a->tools[index].args_len += n;
    }
}


/* id and model: one that does not fit is not cut, the answer is not kept */

static void
llm_cache_acc_copy(char *dst, size_t size, const char *src,
    llm_cache_acc_t *a)
{
    size_t  n;

    n = strlen(src);

    if (n >= size) {
        a->full = 1;
        return;
    }

    memcpy(dst, src, n + 1);
}


int
llm_cache_acc_finish(llm_cache_acc_t *a, llm_pool_t *pool, char **body,
    size_t *len)
{
    char                  *content, *refusal, *dst;
    char                  *ids[LLM_CACHE_ACC_TOOLS];
    char                  *names[LLM_CACHE_ACC_TOOLS];
    char                  *args[LLM_CACHE_ACC_TOOLS];
    size_t                 i, pos, at[LLM_CACHE_ACC_TOOLS * 3 + 2];
    llm_choice_t           choice;
    llm_tool_call_t       *calls;
    llm_completion_t       c;
    llm_cache_piece_t      h;
    llm_cache_acc_tool_t  *t;

    *body = NULL;
    *len = 0;

    if (a->failed || a->full || a->id[0] == '\0' || a->model[0] == '\0'
        || a->created < 0 || a->finish_reason == NULL
        || (strcmp(a->finish_reason, "stop") != 0
            && strcmp(a->finish_reason, "length") != 0
            && strcmp(a->finish_reason, "tool_calls") != 0))
    {
        return LLM_DECLINED;
    }

    for (i = 0; i < a->ntools; i++) {
        t = &a->tools[i];

        if (!t->seen || t->id_len == 0 || t->name_len == 0) {
            return LLM_DECLINED;
        }
    }

    /* a buffer for each text, then the pieces copied to their places */

    content = llm_palloc(pool, a->content_len + 1);
    refusal = llm_palloc(pool, a->refusal_len + 1);

    if (content == NULL || refusal == NULL) {
        return LLM_ERROR;
    }

    calls = NULL;

    if (a->ntools) {
        calls = llm_palloc(pool, a->ntools * sizeof(llm_tool_call_t));
        if (calls == NULL) {
            return LLM_ERROR;
        }
    }

    for (i = 0; i < a->ntools; i++) {
        t = &a->tools[i];

        ids[i] = llm_palloc(pool, t->id_len + 1);
        names[i] = llm_palloc(pool, t->name_len + 1);
        args[i] = llm_palloc(pool, t->args_len + 1);

        if (ids[i] == NULL || names[i] == NULL || args[i] == NULL) {
            return LLM_ERROR;
        }
    }

    memset(at, 0, sizeof(at));

    for (pos = 0; pos < a->len; pos += sizeof(llm_cache_piece_t) + h.len) {
        memcpy(&h, a->buf + pos, sizeof(llm_cache_piece_t));

        switch (h.kind) {
        case LLM_CACHE_CONTENT:
            dst = content + at[0];
            at[0] += h.len;
            break;
        case LLM_CACHE_REFUSAL:
            dst = refusal + at[1];
            at[1] += h.len;
            break;
        case LLM_CACHE_TOOL_ID:
            dst = ids[h.index] + at[2 + h.index];
            at[2 + h.index] += h.len;
            break;
        case LLM_CACHE_TOOL_NAME:
            dst = names[h.index] + at[2 + LLM_CACHE_ACC_TOOLS + h.index];
            at[2 + LLM_CACHE_ACC_TOOLS + h.index] += h.len;
            break;
        default:
            dst = args[h.index] + at[2 + 2 * LLM_CACHE_ACC_TOOLS + h.index];
            at[2 + 2 * LLM_CACHE_ACC_TOOLS + h.index] += h.len;
        }

        memcpy(dst, a->buf + pos + sizeof(llm_cache_piece_t), h.len);
    }

    content[a->content_len] = '\0';
    refusal[a->refusal_len] = '\0';

    for (i = 0; i < a->ntools; i++) {
        t = &a->tools[i];

        ids[i][t->id_len] = '\0';
        names[i][t->name_len] = '\0';
        args[i][t->args_len] = '\0';

        calls[i].id = ids[i];
        calls[i].name = names[i];
        calls[i].arguments = args[i];
    }

    memset(&choice, 0, sizeof(llm_choice_t));

    /*
     * "content":"" came with the role chunk of a tool call or refusal
     * answer: the non-streamed answer has null there
     */

    if (a->content
        && (a->content_len > 0 || (a->ntools == 0 && !a->refusal)))
    {
        choice.content = content;
        choice.content_len = a->content_len;
    }

    choice.refusal = a->refusal ? refusal : NULL;
    choice.tool_calls = calls;
    choice.ntool_calls = a->ntools;
    choice.finish_reason = a->finish_reason;

    memset(&c, 0, sizeof(llm_completion_t));

    c.id = a->id;
    c.model = a->model;
    c.created = a->created;
    c.choices = &choice;
    c.nchoices = 1;
    c.usage = a->usage;

    *body = llm_completion_render(&c, pool, len);

    return (*body != NULL) ? LLM_OK : LLM_ERROR;
}
