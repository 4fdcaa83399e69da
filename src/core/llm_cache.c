
/*
 * ngx_http_llm_router_module: the translation core's part of the response
 * cache (see llm_core.h): the key of a request, a cached answer sent as a
 * stream, and a streamed answer assembled into the answer to store.
 */


#include <float.h>
#include <stdint.h>
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

/* for a byte below 0x20, '"' or '\\' in eight at once (has-less-than) */
#define LLM_CACHE_ONES        0x0101010101010101ULL
#define LLM_CACHE_HIGHS       0x8080808080808080ULL


/*
 * The key's writer: pos..end is the buffer's free room, checked before
 * each write; a buffer without room for a write is replaced by one twice
 * as large (the old one is left to the pool).
 */

typedef struct {
    unsigned char  *start;
    unsigned char  *pos;
    unsigned char  *end;
    llm_pool_t     *pool;
    cJSON         **stack;
    size_t          nstack;
    size_t          size;
    int             nomem;
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
static int llm_cache_grow(llm_cache_key_ctx_t *ctx, size_t n);
static void llm_cache_value(llm_cache_key_ctx_t *ctx, const cJSON *item);
static void llm_cache_object(llm_cache_key_ctx_t *ctx, const cJSON *obj,
    int top);
static void llm_cache_sort(cJSON **a, cJSON **tmp, size_t n);
static int llm_cache_cmp(const cJSON *a, const cJSON *b);
static void llm_cache_string(llm_cache_key_ctx_t *ctx, const char *s);
static void llm_cache_number(llm_cache_key_ctx_t *ctx, double d);
static int llm_cache_stream_write(const cJSON *msg, llm_stream_t *st,
    llm_stream_out_t *out);
static const char *llm_cache_str(const cJSON *obj, const char *name,
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
    size_t                size;
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
     * The key is no longer than the body (a string's escape is never
     * longer than its JSON text) but for numbers written longer than they
     * came ("1e9" is 1000000000): a buffer of the body's length and some
     * is mostly large enough.
     */

    size = (req->body != NULL) ? req->body_len + 128 : 1024;

    ctx.start = llm_palloc(pool, size + 1);
    if (ctx.start == NULL) {
        return LLM_ERROR;
    }

    ctx.pos = ctx.start;
    ctx.end = ctx.start + size;
    ctx.pool = pool;
    ctx.stack = stack;
    ctx.size = LLM_CACHE_STACK;
    ctx.nstack = 0;
    ctx.nomem = 0;

    llm_cache_object(&ctx, req->root, 1);

    if (ctx.nomem) {
        return LLM_ERROR;
    }

    /* the buffer has a byte past end for the NUL */

    *ctx.pos = '\0';

    *key = (char *) ctx.start;
    *len = (size_t) (ctx.pos - ctx.start);

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
    size_t       i;
    const char  *a, *b;

    /* the first byte settles most names, the first few the others */

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
        for (a = name, b = llm_cache_left_out[i]; *a == *b; a++, b++) {
            if (*a == '\0') {
                return 1;
            }
        }
    }

    return 0;
}


/* room for n more bytes (and the NUL past end); 0 when out of memory */

static int
llm_cache_grow(llm_cache_key_ctx_t *ctx, size_t n)
{
    size_t          used, size;
    unsigned char  *p;

    if (ctx->nomem) {
        return 0;
    }

    used = (size_t) (ctx->pos - ctx->start);
    size = (size_t) (ctx->end - ctx->start);

    if (n > (size_t) -1 / 4 - used || size > (size_t) -1 / 4) {
        ctx->nomem = 1;
        return 0;
    }

    size = (used + n > size * 2) ? used + n + 64 : size * 2;

    p = llm_palloc(ctx->pool, size + 1);
    if (p == NULL) {
        ctx->nomem = 1;
        return 0;
    }

    memcpy(p, ctx->start, used);

    ctx->start = p;
    ctx->pos = p + used;
    ctx->end = p + size;

    return 1;
}


#define llm_cache_room(ctx, n)                                                \
    ((size_t) ((ctx)->end - (ctx)->pos) >= (n) || llm_cache_grow(ctx, n))


static void
llm_cache_value(llm_cache_key_ctx_t *ctx, const cJSON *item)
{
    const cJSON  *el;

    switch (item->type & 0xff) {

    case cJSON_False:
        if (llm_cache_room(ctx, 5)) {
            memcpy(ctx->pos, "false", 5);
            ctx->pos += 5;
        }

        return;

    case cJSON_True:
        if (llm_cache_room(ctx, 4)) {
            memcpy(ctx->pos, "true", 4);
            ctx->pos += 4;
        }

        return;

    case cJSON_Number:
        llm_cache_number(ctx, item->valuedouble);
        return;

    case cJSON_String:
        llm_cache_string(ctx, item->valuestring);
        return;

    case cJSON_Array:
        if (!llm_cache_room(ctx, 1)) {
            return;
        }

        *ctx->pos++ = '[';

        for (el = item->child; el != NULL; el = el->next) {
            if (el != item->child) {
                if (!llm_cache_room(ctx, 1)) {
                    return;
                }

                *ctx->pos++ = ',';
            }

            llm_cache_value(ctx, el);
        }

        if (llm_cache_room(ctx, 1)) {
            *ctx->pos++ = ']';
        }

        return;

    case cJSON_Object:
        llm_cache_object(ctx, item, 0);
        return;

    default:
        /* cJSON_NULL; a parsed tree has no other type */

        if (llm_cache_room(ctx, 4)) {
            memcpy(ctx->pos, "null", 4);
            ctx->pos += 4;
        }

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

    if (llm_cache_room(ctx, 1)) {
        *ctx->pos++ = '{';
    }

    for (i = 0; i < n && !ctx->nomem; i++) {
        if (i && llm_cache_room(ctx, 1)) {
            *ctx->pos++ = ',';
        }

        llm_cache_string(ctx, a[i]->string);

        if (llm_cache_room(ctx, 1)) {
            *ctx->pos++ = ':';
        }

        llm_cache_value(ctx, a[i]);
    }

    if (llm_cache_room(ctx, 1)) {
        *ctx->pos++ = '}';
    }

    ctx->nstack = base;
}


/*
 * A stable sort of members by name, bytewise: insertion for a few,
 * merging for more (tmp: n / 2 + 1).
 */

static void
llm_cache_sort(cJSON **a, cJSON **tmp, size_t n)
{
    size_t   i, j, k, m;
    cJSON   *x;

    if (n <= LLM_CACHE_SORT_SMALL) {
        for (i = 1; i < n; i++) {
            x = a[i];

            for (j = i; j > 0 && llm_cache_cmp(a[j - 1], x) > 0; j--) {
                a[j] = a[j - 1];
            }

            a[j] = x;
        }

        return;
    }

    m = n / 2;

    llm_cache_sort(a, tmp, m);
    llm_cache_sort(a + m, tmp, n - m);

    if (llm_cache_cmp(a[m - 1], a[m]) <= 0) {
        return;
    }

    /* the left half aside, then merged back: the left wins ties */

    memcpy(tmp, a, m * sizeof(cJSON *));

    i = 0;
    j = m;
    k = 0;

    while (i < m && j < n) {
        if (llm_cache_cmp(a[j], tmp[i]) < 0) {
            a[k++] = a[j++];

        } else {
            a[k++] = tmp[i++];
        }
    }

    while (i < m) {
        a[k++] = tmp[i++];
    }
}


/*
 * strcmp() of the names, bytewise as unsigned chars, inline: names are
 * short and mostly differ early
 */

static int
llm_cache_cmp(const cJSON *a, const cJSON *b)
{
    const unsigned char  *p, *q;

    p = (const unsigned char *) a->string;
    q = (const unsigned char *) b->string;

    while (*p == *q && *p != '\0') {
        p++;
        q++;
    }

    return (int) *p - (int) *q;
}


/*
 * A string escaped as llm_json_escape() does it (the tree's strings are
 * UTF-8, copied as they are): a short one byte by byte, a longer one in
 * runs.
 */

static void
llm_cache_string(llm_cache_key_ctx_t *ctx, const char *s)
{
    size_t               len, n, room;
    uint64_t             x, q, b;
    unsigned char        c, *d;
    const unsigned char  *p, *last;

    /* ", \\ and controls */

    static const unsigned char  special[256] = {
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0
    };

    len = strlen(s);
    room = (size_t) (ctx->end - ctx->pos);

    if (len <= 16) {

        /* six bytes a byte at most, else measured */

        if (room < 2 + len * 6) {
            n = llm_json_escape(NULL, 0, s, len);

            if (!llm_cache_room(ctx, n + 2)) {
                return;
            }
        }

        d = ctx->pos;
        *d++ = '"';

        p = (const unsigned char *) s;
        last = p + len;

        /* eight bytes at a time while none is special */

        while (last - p >= 8) {
            memcpy(&x, p, 8);

            q = x ^ (LLM_CACHE_ONES * '"');
            b = x ^ (LLM_CACHE_ONES * '\\');

            if ((((q - LLM_CACHE_ONES) & ~q)
                 | ((b - LLM_CACHE_ONES) & ~b)
                 | ((x - LLM_CACHE_ONES * 0x20) & ~x))
                & LLM_CACHE_HIGHS)
            {
                break;
            }

            memcpy(d, &x, 8);
            d += 8;
            p += 8;
        }

        for ( /* void */ ; p < last; p++) {
            c = *p;

            if (special[c]) {
                d += llm_json_escape((char *) d, 6, (const char *) p, 1);

            } else {
                *d++ = c;
            }
        }

        *d++ = '"';
        ctx->pos = d;

        return;
    }

    /*
     * escaped into the room there is (mostly enough: see llm_cache_key()),
     * and again into a larger buffer when it was not
     */

    if (!llm_cache_room(ctx, len + 2)) {
        return;
    }

    *ctx->pos++ = '"';
    room = (size_t) (ctx->end - ctx->pos);

    n = llm_json_escape((char *) ctx->pos, room, s, len);

    if (n >= room) {
        if (!llm_cache_grow(ctx, n + 1)) {
            return;
        }

        n = llm_json_escape((char *) ctx->pos,
                            (size_t) (ctx->end - ctx->pos), s, len);
    }

    ctx->pos += n;
    *ctx->pos++ = '"';
}


static void
llm_cache_number(llm_cache_key_ctx_t *ctx, double d)
{
    int                  i, n;
    char                 buf[32], *p;
    double               v;
    unsigned long long   u;

    if (d >= -LLM_CACHE_INT_MAX && d <= LLM_CACHE_INT_MAX
        && (double) (long long) d == d)
    {
        /* 0 for -0 too */

        u = (d < 0) ? (unsigned long long) -d : (unsigned long long) d;
        p = buf + sizeof(buf);

        do {
            *--p = (char) ('0' + u % 10);
            u /= 10;
        } while (u);

        if (d < 0) {
            *--p = '-';
        }

        n = (int) (buf + sizeof(buf) - p);

        if (llm_cache_room(ctx, (size_t) n)) {
            memcpy(ctx->pos, p, (size_t) n);
            ctx->pos += n;
        }

        return;
    }

    if (!llm_cache_room(ctx, sizeof(buf))) {
        return;
    }

    if (d > DBL_MAX || d < -DBL_MAX) {
        n = (d > 0) ? 5 : 6;
        memcpy(ctx->pos, (d > 0) ? "1e999" : "-1e999", (size_t) n);
        ctx->pos += n;
        return;
    }

    if (d != d) {
        memcpy(ctx->pos, "null", 4);
        ctx->pos += 4;
        return;
    }

    /* the shortest of %.15g, %.16g, %.17g that reads back the same */

    n = 0;

    for (i = 15; i <= 17; i++) {
        n = snprintf(buf, sizeof(buf), "%.*g", i, d);

        if (n <= 0 || (size_t) n >= sizeof(buf)) {
            memcpy(ctx->pos, "null", 4);
            ctx->pos += 4;
            return;
        }

        v = strtod(buf, NULL);

        if (v == d) {
            break;
        }
    }

    memcpy(ctx->pos, buf, (size_t) n);
    ctx->pos += n;
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
    d.content = llm_cache_str(msg, "content", &bad);
    d.content_len = (d.content != NULL) ? strlen(d.content) : 0;
    d.refusal = llm_cache_str(msg, "refusal", &bad);

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
llm_cache_str(const cJSON *obj, const char *name, int *bad)
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
