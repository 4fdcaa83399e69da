
/*
 * ngx_http_llm_router_module: libFuzzer target for the core.
 *
 * Each input goes through llm_request_parse() (as is, and as extra members
 * of a valid request, so that most inputs reach the encoders) and, when
 * accepted, through
 * both adapters' encode() with and without a configured model; it also
 * goes to both adapters' error() as a provider body with statuses 400, 429
 * and 500.  Beyond memory errors (ASan/UBSan), every output is checked:
 * strict JSON, the configured model in place, nothing else changed, the
 * fields Mistral rejects gone, error bodies with a string message.
 */


#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


#define FUZZ_MODEL  "fuzz-\"model\"\\\xc3\xa9\n"


typedef struct {
    void        **allocs;
    size_t        nallocs;
    size_t        size;
} fuzz_pool_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void *fuzz_alloc(void *data, size_t size);
static void fuzz_pool_free(fuzz_pool_t *fp);
static void fuzz_check(int ok, const char *what);
static cJSON *fuzz_json(const char *buf, size_t len);
static void fuzz_request(const char *data, size_t size, llm_pool_t *pool);
static void fuzz_encode(const llm_adapter_t *ad, const llm_request_t *req,
    const char *model, llm_pool_t *pool);
static void fuzz_usage_asked(const llm_request_t *req, cJSON *want,
    cJSON *out);
static void fuzz_mistral(const llm_request_t *req, cJSON *want, cJSON *out);
static void fuzz_mistral_id(const cJSON *from, const cJSON *to,
    const char **ids, size_t *nids);
static void fuzz_error(const char *data, size_t size, llm_pool_t *pool);
static void fuzz_escape(const char *data, size_t size, llm_pool_t *pool);
static void fuzz_wrapped(const char *data, size_t size, llm_pool_t *pool);


static const int  fuzz_statuses[] = { 400, 429, 500 };


static const char  fuzz_prefix[] =
    "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],";


static const char  *const fuzz_mistral_drop[] = {
    "max_completion_tokens",
    "seed",
    "stream_options",
    "user",
    "store",
    "service_tier",
    "logit_bias",
    "metadata",
    "prompt_cache_key",
    "safety_identifier",
    "reasoning_effort",
    "verbosity",
    "logprobs",
    "top_logprobs",
    "modalities",
    "functions",
    "function_call",
    "audio",
    "web_search_options",
    NULL
};


/* compared on their own: messages, or renamed, or rewritten */

static const char  *const fuzz_mistral_own[] = {
    "messages",
    "max_tokens",
    "random_seed",
    "tool_choice",
    NULL
};


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
        fprintf(stderr, "fuzz_request: invariant failed: %s\n", what);
        abort();
    }
}


static cJSON *
fuzz_json(const char *buf, size_t len)
{
    cJSON  *root;

    fuzz_check(buf != NULL, "output buffer");
    fuzz_check(llm_json_validate(buf, len, NULL) == LLM_OK,
               "output is strict JSON");

    root = cJSON_ParseWithLength(buf, len);
    fuzz_check(root != NULL, "output parses");

    return root;
}


static void
fuzz_encode(const llm_adapter_t *ad, const llm_request_t *req,
    const char *model, llm_pool_t *pool)
{
    int                  rc;
    char                *a, *b;
    cJSON               *out, *want, *item;
    size_t               i;
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   http;

    p.name = "fuzz";
    p.model = model;
    p.api_key = "sk-fuzz-SECRET";
    p.base_path = "/v1";

    rc = ad->encode(req, &p, pool, &http, &err);

    if (rc != LLM_OK && ad == &llm_mistral_adapter) {
        /* what Mistral cannot do: a 400, said before any provider */
        fuzz_check(err.status == 400, "mistral refuses with a 400");
        return;
    }

    fuzz_check(rc == LLM_OK, "encode succeeds");

    fuzz_check(strcmp(http.path, "/v1/chat/completions") == 0, "path");
    fuzz_check(http.nheaders == 1
               && strcmp(http.headers[0].value, "Bearer sk-fuzz-SECRET") == 0,
               "authorization");

    if (http.body == req->body) {
        /* lean passthrough: only without a model or usage to set */
        fuzz_check(model == NULL && http.body_len == req->body_len
                   && (ad != &llm_openai_adapter || !req->stream
                       || req->include_usage),
                   "passthrough only when nothing changes");
        return;
    }

    if (http.body == NULL) {
        /* a new "model" between the client's own bytes */
        fuzz_check(model != NULL && http.nparts == 3
                   && http.parts[0].data == req->body
                   && http.parts[2].data + http.parts[2].len
                      == req->body + req->body_len,
                   "only the model is written");

        http.body = (char *) llm_http_body(&http, pool);
        fuzz_check(http.body != NULL, "joined");
    }

    out = fuzz_json(http.body, http.body_len);

    want = cJSON_Duplicate(req->root, 1);
    fuzz_check(want != NULL, "duplicate");

    if (ad == &llm_mistral_adapter) {
        for (i = 0; fuzz_mistral_drop[i] != NULL; i++) {
            fuzz_check(cJSON_GetObjectItemCaseSensitive(out,
                                                        fuzz_mistral_drop[i])
                       == NULL,
                       "mistral drops OpenAI-only fields");
        }

        fuzz_mistral(req, want, out);

        /* the renames are covered by the unit tests; compare the rest */

        for (i = 0; fuzz_mistral_drop[i] != NULL; i++) {
            while (cJSON_GetObjectItemCaseSensitive(want,
                                                    fuzz_mistral_drop[i])
                   != NULL)
            {
                cJSON_DeleteItemFromObjectCaseSensitive(want,
                                                       fuzz_mistral_drop[i]);
            }
        }

        for (i = 0; fuzz_mistral_own[i] != NULL; i++) {
            while (cJSON_GetObjectItemCaseSensitive(want,
                                                    fuzz_mistral_own[i])
                   != NULL)
            {
                cJSON_DeleteItemFromObjectCaseSensitive(want,
                                                       fuzz_mistral_own[i]);
            }

            while (cJSON_GetObjectItemCaseSensitive(out, fuzz_mistral_own[i])
                   != NULL)
            {
                cJSON_DeleteItemFromObjectCaseSensitive(out,
                                                       fuzz_mistral_own[i]);
            }
        }
    }

    if (ad == &llm_openai_adapter) {
        fuzz_usage_asked(req, want, out);
    }

    if (model != NULL) {
        item = cJSON_GetObjectItemCaseSensitive(out, "model");
        fuzz_check(cJSON_IsString(item)
                   && strcmp(item->valuestring, model) == 0,
                   "configured model set");

        cJSON_DeleteItemFromObjectCaseSensitive(want, "model");
        cJSON_DeleteItemFromObjectCaseSensitive(out, "model");
    }

    /*
     * printed, not cJSON_Compare(): that one looks duplicate keys up by
     * name and so calls {"x":1,"x":2} different from itself
     */

    a = cJSON_PrintUnformatted(want);
    b = cJSON_PrintUnformatted(out);

    fuzz_check(a != NULL && b != NULL && strcmp(a, b) == 0,
               "nothing else changed");

    cJSON_free(a);
    cJSON_free(b);
    cJSON_Delete(want);
    cJSON_Delete(out);
}


/*
 * Mistral: the messages one for one, "developer" sent as "system", every
 * tool-call id 9 characters [A-Za-z0-9], one id always mapped to the same
 * id and two ids never to one, each message's content unchanged, no
 * "name" but on tool messages.
 */

static void
fuzz_mistral(const llm_request_t *req, cJSON *want, cJSON *out)
{
    size_t        nids;
    const char   *role, *ids[2048];
    const cJSON  *wm, *om, *w, *o, *wc, *oc;

    (void) req;

    wm = cJSON_GetObjectItemCaseSensitive(want, "messages");
    om = cJSON_GetObjectItemCaseSensitive(out, "messages");

    fuzz_check(cJSON_GetArraySize(wm) == cJSON_GetArraySize(om),
               "mistral: as many messages");

    nids = 0;

    for (w = wm ? wm->child : NULL, o = om ? om->child : NULL;
         w != NULL && o != NULL;
         w = w->next, o = o->next)
    {
        role = llm_json_str(w, "role");

        if (role != NULL && strcmp(role, "developer") == 0) {
            role = "system";
        }

        fuzz_check(role == NULL
                   || strcmp(role, llm_json_str(o, "role")) == 0,
                   "mistral: roles, developer as system");

        fuzz_check(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(w,
                                                                  "content"),
                                 cJSON_GetObjectItemCaseSensitive(o,
                                                                  "content"),
                                 1)
                   || cJSON_GetObjectItemCaseSensitive(w, "content") == NULL,
                   "mistral: contents unchanged");

        fuzz_check(role == NULL || strcmp(role, "tool") == 0
                   || cJSON_GetObjectItemCaseSensitive(o, "name") == NULL,
                   "mistral: no name but on tool messages");

        fuzz_mistral_id(cJSON_GetObjectItemCaseSensitive(w, "tool_call_id"),
                        cJSON_GetObjectItemCaseSensitive(o, "tool_call_id"),
                        ids, &nids);

        wc = cJSON_GetObjectItemCaseSensitive(w, "tool_calls");
        oc = cJSON_GetObjectItemCaseSensitive(o, "tool_calls");

        if (!cJSON_IsArray(wc)) {
            continue;
        }

        fuzz_check(cJSON_GetArraySize(wc) == cJSON_GetArraySize(oc),
                   "mistral: as many tool calls");

        for (wc = wc->child, oc = oc->child;
             wc != NULL && oc != NULL;
             wc = wc->next, oc = oc->next)
        {
            fuzz_mistral_id(cJSON_GetObjectItemCaseSensitive(wc, "id"),
                            cJSON_GetObjectItemCaseSensitive(oc, "id"),
                            ids, &nids);
        }
    }

    o = cJSON_GetObjectItemCaseSensitive(out, "tool_choice");

    fuzz_check(!cJSON_IsString(o) || strcmp(o->valuestring, "required") != 0,
               "mistral: tool_choice required is any");
}


/* ids[] holds pairs: a client's id, the id sent for it */

static void
fuzz_mistral_id(const cJSON *from, const cJSON *to, const char **ids,
    size_t *nids)
{
    size_t       i, n;
    const char  *s;

    if (!cJSON_IsString(from)) {
        return;
    }

    fuzz_check(cJSON_IsString(to), "mistral: an id for an id");

    s = to->valuestring;
    n = strlen(s);

    fuzz_check(n == 9 && strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "abcdefghijklmnopqrstuvwxyz") == 9,
               "mistral: ids of 9 alphanumerics");

    for (i = 0; i < *nids; i += 2) {
        if (strcmp(ids[i], from->valuestring) == 0) {
            fuzz_check(strcmp(ids[i + 1], s) == 0,
                       "mistral: one id, one mapping");

        } else {
            fuzz_check(strcmp(ids[i + 1], s) != 0,
                       "mistral: two ids, two mappings");
        }
    }

    if (*nids + 2 <= 2048) {
        ids[(*nids)++] = from->valuestring;
        ids[(*nids)++] = s;
    }
}


/*
 * A stream always asks OpenAI for usage: stream_options.include_usage is
 * true upstream; it is taken out of both trees for the comparison.
 */

static void
fuzz_usage_asked(const llm_request_t *req, cJSON *want, cJSON *out)
{
    cJSON  *so, *wso;

    if (!req->stream || req->include_usage) {
        return;
    }

    so = cJSON_GetObjectItemCaseSensitive(out, "stream_options");

    fuzz_check(cJSON_IsObject(so)
               && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
                                   so, "include_usage")),
               "a stream asks OpenAI for usage");

    wso = cJSON_GetObjectItemCaseSensitive(want, "stream_options");

    if (!cJSON_IsObject(wso)) {
        cJSON_DeleteItemFromObjectCaseSensitive(want, "stream_options");
        cJSON_DeleteItemFromObjectCaseSensitive(out, "stream_options");
        return;
    }

    while (cJSON_GetObjectItemCaseSensitive(wso, "include_usage") != NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(wso, "include_usage");
    }

    while (cJSON_GetObjectItemCaseSensitive(so, "include_usage") != NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(so, "include_usage");
    }
}


static void
fuzz_request(const char *data, size_t size, llm_pool_t *pool)
{
    int             rc;
    char           *buf;
    cJSON          *e;
    size_t          len;
    llm_error_t     err;
    llm_request_t   req;

    rc = llm_request_parse_pool(&req, data, size, pool, &err);

    if (rc != LLM_OK) {
        fuzz_check(req.root == NULL, "no tree on failure");
        fuzz_check(err.status == 400, "status 400");

        buf = llm_error_render(&err, pool, &len);
        e = fuzz_json(buf, len);
        cJSON_Delete(e);

        llm_request_free(&req);
        return;
    }

    fuzz_check(cJSON_IsObject(req.root), "object");

    fuzz_encode(&llm_openai_adapter, &req, NULL, pool);
    fuzz_encode(&llm_openai_adapter, &req, FUZZ_MODEL, pool);
    fuzz_encode(&llm_mistral_adapter, &req, NULL, pool);
    fuzz_encode(&llm_mistral_adapter, &req, FUZZ_MODEL, pool);

    llm_request_free(&req);
}


static void
fuzz_error(const char *data, size_t size, llm_pool_t *pool)
{
    int                    s;
    cJSON                 *root, *e;
    size_t                 n;
    const llm_adapter_t   *ad;
    llm_provider_error_t   out;

    for (n = 0; llm_adapters[n] != NULL; n++) {
        ad = llm_adapters[n];

        for (s = 0; s < 3; s++) {
            fuzz_check(ad->error(fuzz_statuses[s], data, size, pool, &out)
                       == LLM_OK, "error() succeeds");

            root = fuzz_json(out.body, out.body_len);
            e = cJSON_GetObjectItemCaseSensitive(root, "error");

            fuzz_check(cJSON_IsObject(e)
                       && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(
                                             e, "message")),
                       "error.message is a string");

            fuzz_check(out.body_len == size || out.body_len < 8192,
                       "wrapped errors stay small");

            cJSON_Delete(root);
        }
    }
}


static void
fuzz_escape(const char *data, size_t size, llm_pool_t *pool)
{
    char             *buf;
    size_t            n;
    llm_json_span_t   span;

    /* the raw scanner on anything: must stay within the bytes */
    if (llm_json_member(data, size, "model", &span) == LLM_OK) {
        fuzz_check(span.key < span.value && span.value < span.end
                   && span.end <= size, "span within the input");
    }

    n = llm_json_escape(NULL, 0, data, size);
    fuzz_check(n >= size && n <= 6 * size, "escape size");

    buf = llm_palloc(pool, n + 2);
    fuzz_check(buf != NULL, "alloc");

    buf[0] = '"';
    fuzz_check(llm_json_escape(buf + 1, n, data, size) == n, "escape");
    buf[n + 1] = '"';

    fuzz_check(llm_json_validate(buf, n + 2, NULL) == LLM_OK,
               "escaped bytes form a JSON string");
}


/* {"messages":[{"role":"user","content":"x"}],<data>} */

static void
fuzz_wrapped(const char *data, size_t size, llm_pool_t *pool)
{
    char    *buf;
    size_t   pre;

    pre = sizeof(fuzz_prefix) - 1;

    buf = llm_palloc(pool, pre + size + 1);
    fuzz_check(buf != NULL, "alloc");

    memcpy(buf, fuzz_prefix, pre);
    memcpy(buf + pre, data, size);
    buf[pre + size] = '}';

    fuzz_request(buf, pre + size + 1, pool);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    llm_pool_t   pool;
    fuzz_pool_t  fp;

    memset(&fp, 0, sizeof(fuzz_pool_t));

    pool.alloc = fuzz_alloc;
    pool.data = &fp;

    fuzz_request((const char *) data, size, &pool);
    fuzz_wrapped((const char *) data, size, &pool);
    fuzz_error((const char *) data, size, &pool);
    fuzz_escape((const char *) data, size, &pool);

    /* cJSON trees on the pool (llm_arena.c) are deleted as if malloc'ed */

    fuzz_check(llm_arena_blocks() == 0, "arena blocks freed");

    fuzz_pool_free(&fp);

    return 0;
}
