
/*
 * ngx_http_llm_router_module: libFuzzer target for the response cache's
 * core (llm_cache.c).
 *
 * Each input is taken three ways:
 *
 *   - as a request (as is, and as extra members of a valid one): when
 *     llm_request_parse() takes it, its key must be strict JSON, and the
 *     same request written again by cJSON (compact, formatted, and with
 *     the members of every object without duplicate names in reverse
 *     order) must have the same key; a request is declined only for
 *     the documented reasons;
 *   - as a cached body for llm_cache_stream(): a stream it gives must be
 *     "data:" events of strict JSON ending with [DONE]; assembled again
 *     (llm_cache_acc_*), it must give the body's meaning back (id, model,
 *     created, content, refusal, tool calls, finish_reason, usage), or be
 *     declined for a reason the body shows; and the assembled body must
 *     come back byte for byte through a second round;
 *   - as chunks, one per line, for the accumulator, with a buffer of 64
 *     times the first byte's value: an answer it keeps must be strict JSON
 *     that llm_cache_stream() takes, and come back byte for byte.
 *
 * Beyond memory errors (ASan/UBSan) and cJSON blocks left over.
 */


#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


#define FUZZ_ACC_SIZE   65536
#define FUZZ_COUNT_MAX  9007199254740992LL          /* 2^53 */


typedef struct {
    void        **allocs;
    size_t        nallocs;
    size_t        size;
} fuzz_pool_t;


typedef struct {
    llm_cache_acc_t  *acc;
    llm_pool_t       *pool;
    size_t            nevents;
    int               done;           /* [DONE] came */
    int               bad;            /* an event after [DONE] */
} fuzz_feed_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void *fuzz_alloc(void *data, size_t size);
static void fuzz_pool_free(fuzz_pool_t *fp);
static void fuzz_check(int ok, const char *what);
static void fuzz_key(const char *data, size_t size, llm_pool_t *pool);
static void fuzz_key_again(const char *text, const char *key,
    llm_pool_t *pool);
static int fuzz_lossy(const cJSON *item);
static void fuzz_reverse(cJSON *item);
static void fuzz_stream(const char *data, size_t size, int include_usage,
    llm_pool_t *pool);
static int fuzz_assemble(const char *sse, size_t len, llm_pool_t *pool,
    char **body, size_t *body_len);
static int fuzz_feed_event(void *data, const llm_sse_event_t *ev);
static void fuzz_same_meaning(const cJSON *a, const cJSON *b);
static int fuzz_may_decline(const cJSON *root);
static void fuzz_acc(const char *data, size_t size, llm_pool_t *pool);
static void fuzz_roundtrip(const char *body, size_t len, llm_pool_t *pool);


static const char  fuzz_prefix[] =
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],";


static void *
fuzz_alloc(void *data, size_t size)
{
    void         *p, **a;
    size_t        n;
    fuzz_pool_t  *fp;

    fp = data;

    if (fp->nallocs == fp->size) {
        n = fp->size ? fp->size * 2 : 32;

        a = realloc(fp->allocs, n * sizeof(void *));
        if (a == NULL) {
            return NULL;
        }

        fp->allocs = a;
        fp->size = n;
    }

    p = malloc(size);
    if (p == NULL) {
        return NULL;
    }

    fp->allocs[fp->nallocs++] = p;

    return p;
}


static void
fuzz_pool_free(fuzz_pool_t *fp)
{
    size_t  i;

    for (i = 0; i < fp->nallocs; i++) {
        free(fp->allocs[i]);
    }

    free(fp->allocs);
}


static void
fuzz_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_cache: invariant failed: %s\n", what);
        abort();
    }
}


static void
fuzz_key(const char *data, size_t size, llm_pool_t *pool)
{
    int             rc, rc0;
    char           *key, *key0, *text;
    size_t          len, len0;
    cJSON          *dup;
    const char     *why, *why0;
    llm_error_t     err;
    llm_request_t   req;

    if (llm_request_parse(&req, data, size, &err) != LLM_OK) {
        llm_request_free(&req);
        return;
    }

    rc = llm_cache_key(&req, -1, pool, &key, &len, &why);
    rc0 = llm_cache_key(&req, 0, pool, &key0, &len0, &why0);

    fuzz_check(rc != LLM_ERROR && rc0 != LLM_ERROR, "key allocated");

    if (rc == LLM_OK) {
        fuzz_check(key != NULL && strlen(key) == len, "key length");
        fuzz_check(llm_json_validate(key, len, NULL) == LLM_OK,
                   "key is strict JSON");

        /* the temperature rule only adds to the others */

        fuzz_check(rc0 == LLM_OK
                   ? (len0 == len && memcmp(key, key0, len) == 0)
                   : strcmp(why0, "temperature") == 0,
                   "max_temperature 0 declines for the temperature only");

    } else {
        fuzz_check(key == NULL && why != NULL
                   && (strcmp(why, "n") == 0 || strcmp(why, "logprobs") == 0
                       || strcmp(why, "\\u0000") == 0),
                   "declined for a documented reason");
        fuzz_check(rc0 == LLM_DECLINED, "declined with max_temperature 0");
    }

    /*
     * Written again by cJSON: numbers too large for a double come out as
     * null, and some others an ulp off (cJSON takes %1.15g when it reads
     * back within an epsilon): neither is compared, nor are declined
     * requests, whose strings with an escaped NUL would come out cut
     */

    if (rc != LLM_OK || strstr(key, "1e999") != NULL
        || fuzz_lossy(req.root))
    {
        llm_request_free(&req);
        return;
    }

    text = cJSON_PrintUnformatted(req.root);
    fuzz_check(text != NULL, "print");
    fuzz_key_again(text, key, pool);
    cJSON_free(text);

    text = cJSON_Print(req.root);
    fuzz_check(text != NULL, "print");
    fuzz_key_again(text, key, pool);
    cJSON_free(text);

    dup = cJSON_Duplicate(req.root, 1);
    fuzz_check(dup != NULL, "duplicate");

    fuzz_reverse(dup);

    text = cJSON_PrintUnformatted(dup);
    fuzz_check(text != NULL, "print");
    fuzz_key_again(text, key, pool);
    cJSON_free(text);

    cJSON_Delete(dup);

    llm_request_free(&req);
}


static void
fuzz_key_again(const char *text, const char *key, llm_pool_t *pool)
{
    int             rc2;
    char           *key2;
    size_t          len2;
    llm_error_t     err;
    llm_request_t   req;

    rc2 = llm_request_parse(&req, text, strlen(text), &err);
    fuzz_check(rc2 == LLM_OK, "the request written again parses");

    rc2 = llm_cache_key(&req, -1, pool, &key2, &len2, NULL);

    fuzz_check(rc2 == LLM_OK && strcmp(key, key2) == 0, "the same key");

    llm_request_free(&req);
}


/* a number that %1.15g does not give back exactly */

static int
fuzz_lossy(const cJSON *item)
{
    char          buf[32];
    const cJSON  *c;

    if (cJSON_IsNumber(item)) {
        snprintf(buf, sizeof(buf), "%1.15g", item->valuedouble);

        return strtod(buf, NULL) != item->valuedouble;
    }

    for (c = item->child; c != NULL; c = c->next) {
        if (fuzz_lossy(c)) {
            return 1;
        }
    }

    return 0;
}


/* the members of every object without duplicate names in reverse order */

static void
fuzz_reverse(cJSON *item)
{
    size_t   i, j, n;
    cJSON   *c, **a;

    n = 0;

    for (c = item->child; c != NULL; c = c->next) {
        fuzz_reverse(c);
        n++;
    }

    if (!cJSON_IsObject(item) || n < 2) {
        return;
    }

    a = malloc(n * sizeof(cJSON *));
    fuzz_check(a != NULL, "alloc");

    for (i = 0, c = item->child; c != NULL; c = c->next) {
        a[i++] = c;
    }

    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            if (strcmp(a[i]->string, a[j]->string) == 0) {
                free(a);
                return;
            }
        }
    }

    for (i = 0; i < n; i++) {
        c = a[n - 1 - i];
        c->next = (i + 1 < n) ? a[n - 2 - i] : NULL;
        c->prev = (i == 0) ? a[0] : a[n - i];
    }

    item->child = a[n - 1];

    free(a);
}


static int
fuzz_feed_event(void *data, const llm_sse_event_t *ev)
{
    fuzz_feed_t *f = data;

    int  rc;

    f->nevents++;

    if (f->done) {
        f->bad = 1;
    }

    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        f->done = 1;

    } else {
        fuzz_check(llm_json_validate(ev->data, ev->data_len, NULL)
                   == LLM_OK, "stream event is strict JSON");
    }

    rc = llm_cache_acc_chunk(f->acc, ev->data, ev->data_len, f->pool);

    fuzz_check(rc == LLM_OK || rc == LLM_DECLINED, "chunk taken");

    return LLM_OK;
}


/* the stream of llm_cache_stream() through the accumulator */

static int
fuzz_assemble(const char *sse, size_t len, llm_pool_t *pool, char **body,
    size_t *body_len)
{
    int               rc;
    char             *buf, *ebuf;
    llm_sse_t         parser;
    fuzz_feed_t       f;
    llm_cache_acc_t   acc;

    static const char  done[] = "data: [DONE]\n\n";

    fuzz_check(len >= sizeof(done) - 1
               && memcmp(sse + len - (sizeof(done) - 1), done,
                         sizeof(done) - 1) == 0,
               "the stream ends with [DONE]");
    fuzz_check(memcmp(sse, "data: {", 7) == 0, "the stream starts");

    buf = llm_palloc(pool, FUZZ_ACC_SIZE);
    ebuf = llm_palloc(pool, len + 64);
    fuzz_check(buf != NULL && ebuf != NULL, "alloc");

    llm_cache_acc_init(&acc, buf, FUZZ_ACC_SIZE);

    f.acc = &acc;
    f.pool = pool;
    f.nevents = 0;
    f.done = 0;
    f.bad = 0;

    llm_sse_init(&parser, ebuf, len + 64);

    fuzz_check(llm_sse_feed(&parser, sse, len, fuzz_feed_event, &f)
               == LLM_OK, "the stream is SSE");
    fuzz_check(f.done && !f.bad && f.nevents >= 3, "events");

    rc = llm_cache_acc_finish(&acc, pool, body, body_len);

    fuzz_check(rc == LLM_OK || rc == LLM_DECLINED, "finish");
    fuzz_check((rc == LLM_OK) == (*body != NULL), "finish's body");

    return rc;
}


static void
fuzz_stream(const char *data, size_t size, int include_usage,
    llm_pool_t *pool)
{
    int     rc;
    char   *sse, *body;
    size_t  len, body_len;
    cJSON  *root, *back;

    sse = NULL;

    rc = llm_cache_stream(data, size, include_usage, pool, &sse, &len);

    fuzz_check(rc == LLM_OK || rc == LLM_ERROR, "stream result");

    if (rc != LLM_OK) {
        fuzz_check(sse == NULL, "no stream");
        return;
    }

    fuzz_check(sse != NULL && strlen(sse) == len, "stream length");

    rc = fuzz_assemble(sse, len, pool, &body, &body_len);

    root = llm_json_parse_strict(data, size);
    fuzz_check(cJSON_IsObject(root), "a streamed body is an object");

    if (rc != LLM_OK) {
        fuzz_check(fuzz_may_decline(root), "declined for a reason");
        cJSON_Delete(root);
        return;
    }

    fuzz_check(llm_json_validate(body, body_len, NULL) == LLM_OK,
               "assembled body is strict JSON");

    back = llm_json_parse_strict(body, body_len);
    fuzz_check(back != NULL, "assembled body parses");

    fuzz_same_meaning(root, back);

    cJSON_Delete(back);
    cJSON_Delete(root);

    fuzz_roundtrip(body, body_len, pool);
}


/* what a streamed body and the one assembled from its stream share */

static void
fuzz_same_meaning(const cJSON *a, const cJSON *b)
{
    size_t        i, n;
    const char   *s, *t;
    llm_usage_t   ua, ub;
    const cJSON  *ma, *mb, *ca, *cb, *ta, *tb, *fa, *fb;

    s = llm_json_str(a, "id");
    t = llm_json_str(b, "id");

    /* the stream carries 95 bytes of id, 127 of model, cut on UTF-8 */

    fuzz_check(s != NULL && t != NULL
               && (strcmp(s, t) == 0
                   || (strlen(s) > 95 && strncmp(s, t, strlen(t)) == 0)),
               "same id");

    s = llm_json_str(a, "model");
    t = llm_json_str(b, "model");

    fuzz_check(s != NULL && t != NULL
               && (strcmp(s, t) == 0
                   || (strlen(s) > 127 && strncmp(s, t, strlen(t)) == 0)),
               "same model");

    fuzz_check(llm_json_count(a, "created") == llm_json_count(b, "created"),
               "same created");

    ca = cJSON_GetArrayItem(llm_json_get(a, "choices"), 0);
    cb = cJSON_GetArrayItem(llm_json_get(b, "choices"), 0);

    fuzz_check(strcmp(llm_json_str(ca, "finish_reason"),
                      llm_json_str(cb, "finish_reason")) == 0,
               "same finish_reason");

    ma = llm_json_get(ca, "message");
    mb = llm_json_get(cb, "message");

    /* content: an empty one may be null beside tool calls or a refusal */

    s = llm_json_str(ma, "content");
    t = llm_json_str(mb, "content");

    fuzz_check((s == NULL && t == NULL)
               || (s != NULL && t != NULL && strcmp(s, t) == 0)
               || (s != NULL && s[0] == '\0' && t == NULL),
               "same content");

    s = llm_json_str(ma, "refusal");
    t = llm_json_str(mb, "refusal");

    fuzz_check((s == NULL && t == NULL)
               || (s != NULL && t != NULL && strcmp(s, t) == 0),
               "same refusal");

    ta = llm_json_get(ma, "tool_calls");
    tb = llm_json_get(mb, "tool_calls");

    n = cJSON_IsArray(ta) ? (size_t) cJSON_GetArraySize(ta) : 0;

    fuzz_check(n == (cJSON_IsArray(tb) ? (size_t) cJSON_GetArraySize(tb)
                                       : 0),
               "as many tool calls");

    for (i = 0; i < n; i++) {
        ca = cJSON_GetArrayItem(ta, (int) i);
        cb = cJSON_GetArrayItem(tb, (int) i);
        fa = llm_json_get(ca, "function");
        fb = llm_json_get(cb, "function");

        fuzz_check(strcmp(llm_json_str(ca, "id"), llm_json_str(cb, "id"))
                   == 0
                   && strcmp(llm_json_str(fa, "name"),
                             llm_json_str(fb, "name")) == 0
                   && strcmp(llm_json_str(fa, "arguments"),
                             llm_json_str(fb, "arguments")) == 0,
                   "same tool call");
    }

    llm_usage_none(&ua);
    llm_usage_none(&ub);

    if (cJSON_IsObject(llm_json_get(a, "usage"))) {
        llm_openai_usage(llm_json_get(a, "usage"), &ua);
    }

    if (cJSON_IsObject(llm_json_get(b, "usage"))) {
        llm_openai_usage(llm_json_get(b, "usage"), &ub);
    }

    if (!llm_usage_known(&ua)) {
        /* no usage chunk: none assembled */
        fuzz_check(!llm_usage_known(&ub), "no usage");
        return;
    }

    /* asked for or not, the stream may carry none */

    if (!llm_usage_known(&ub)) {
        return;
    }

    fuzz_check((ua.prompt_tokens < 0 ? 0 : ua.prompt_tokens)
               == ub.prompt_tokens
               && (ua.completion_tokens < 0 ? 0 : ua.completion_tokens)
                  == ub.completion_tokens
               && ua.cached_tokens == ub.cached_tokens
               && ua.reasoning_tokens == ub.reasoning_tokens,
               "same usage");
}


/* a body whose stream the accumulator may decline: what it shows */

static int
fuzz_may_decline(const cJSON *root)
{
    const char   *s;
    const cJSON  *choice, *msg, *call, *fn;

    s = llm_json_str(root, "id");

    if (s == NULL || s[0] == '\0') {
        return 1;
    }

    s = llm_json_str(root, "model");

    if (s == NULL || s[0] == '\0') {
        return 1;
    }

    choice = cJSON_GetArrayItem(llm_json_get(root, "choices"), 0);
    s = llm_json_str(choice, "finish_reason");

    if (s == NULL
        || (strcmp(s, "stop") != 0 && strcmp(s, "length") != 0
            && strcmp(s, "tool_calls") != 0))
    {
        return 1;
    }

    msg = llm_json_get(choice, "message");
    call = llm_json_get(msg, "tool_calls");

    if (cJSON_GetArraySize(call) > LLM_CACHE_ACC_TOOLS) {
        return 1;
    }

    for (call = cJSON_IsArray(call) ? call->child : NULL;
         call != NULL;
         call = call->next)
    {
        fn = llm_json_get(call, "function");

        if (llm_json_str(call, "id")[0] == '\0'
            || llm_json_str(fn, "name")[0] == '\0')
        {
            return 1;
        }
    }

    return 0;
}


/* an assembled body: streamed and assembled again, byte for byte */

static void
fuzz_roundtrip(const char *body, size_t len, llm_pool_t *pool)
{
    int           rc;
    char         *sse, *again;
    size_t        sse_len, again_len;
    cJSON        *root;
    llm_usage_t   u;

    rc = llm_cache_stream(body, len, 1, pool, &sse, &sse_len);
    fuzz_check(rc == LLM_OK, "an assembled body streams");

    rc = fuzz_assemble(sse, sse_len, pool, &again, &again_len);

    if (rc != LLM_OK) {
        root = llm_json_parse_strict(body, len);
        fuzz_check(root != NULL && fuzz_may_decline(root),
                   "an assembled body is assembled again");
        cJSON_Delete(root);
        return;
    }

    /*
     * An id or model longer than the stream carries comes back cut; a
     * count of 2^53 or more (a total made so) is read back as 2^53.
     */

    root = llm_json_parse_strict(body, len);
    fuzz_check(root != NULL, "parse");

    llm_usage_none(&u);

    if (cJSON_IsObject(llm_json_get(root, "usage"))) {
        llm_openai_usage(llm_json_get(root, "usage"), &u);
    }

    if (strlen(llm_json_str(root, "id")) <= 95
        && strlen(llm_json_str(root, "model")) <= 127
        && u.prompt_tokens < FUZZ_COUNT_MAX
        && u.completion_tokens < FUZZ_COUNT_MAX
        && u.total_tokens < FUZZ_COUNT_MAX
        && u.cached_tokens < FUZZ_COUNT_MAX
        && u.reasoning_tokens < FUZZ_COUNT_MAX)
    {
        fuzz_check(again_len == len && memcmp(again, body, len) == 0,
                   "an assembled body comes back byte for byte");
    }

    cJSON_Delete(root);
}


/* chunks, one per line, with a buffer of (data[0] * 64) bytes */

static void
fuzz_acc(const char *data, size_t size, llm_pool_t *pool)
{
    int               rc;
    char             *buf, *body;
    size_t            bsize, len;
    const char       *p, *last, *nl;
    llm_cache_acc_t   acc;

    if (size == 0) {
        return;
    }

    bsize = (size_t) (unsigned char) data[0] * 64;

    buf = llm_palloc(pool, bsize + 1);
    fuzz_check(buf != NULL, "alloc");

    llm_cache_acc_init(&acc, buf, bsize);

    p = data + 1;
    last = data + size;

    while (p < last) {
        nl = memchr(p, '\n', (size_t) (last - p));

        if (nl == NULL) {
            nl = last;
        }

        rc = llm_cache_acc_chunk(&acc, p, (size_t) (nl - p), pool);
        fuzz_check(rc == LLM_OK || rc == LLM_DECLINED, "chunk taken");

        fuzz_check(acc.len <= acc.size, "within the buffer");

        p = nl + 1;
    }

    rc = llm_cache_acc_finish(&acc, pool, &body, &len);
    fuzz_check(rc == LLM_OK || rc == LLM_DECLINED, "finish");

    if (rc != LLM_OK) {
        return;
    }

    fuzz_check(llm_json_validate(body, len, NULL) == LLM_OK,
               "assembled body is strict JSON");

    fuzz_roundtrip(body, len, pool);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char         *buf;
    size_t        pre;
    llm_pool_t    pool;
    fuzz_pool_t   fp;
    const char   *d;

    memset(&fp, 0, sizeof(fuzz_pool_t));

    pool.alloc = fuzz_alloc;
    pool.data = &fp;

    d = (const char *) data;

    fuzz_key(d, size, &pool);

    /* as members of a valid request */

    pre = sizeof(fuzz_prefix) - 1;

    buf = llm_palloc(&pool, pre + size + 1);
    fuzz_check(buf != NULL, "alloc");

    memcpy(buf, fuzz_prefix, pre);
    memcpy(buf + pre, data, size);
    buf[pre + size] = '}';

    fuzz_key(buf, pre + size + 1, &pool);

    fuzz_stream(d, size, (int) (size & 1), &pool);
    fuzz_acc(d, size, &pool);

    fuzz_check(llm_arena_blocks() == 0, "arena blocks freed");

    fuzz_pool_free(&fp);

    return 0;
}
