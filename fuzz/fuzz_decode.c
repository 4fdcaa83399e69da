
/*
 * ngx_http_llm_router_module: libFuzzer target for one adapter's handling
 * of what a provider sends back, built once per adapter:
 *
 *   clang ... -DLLM_FUZZ_ADAPTER=\"anthropic\" fuzz_decode.c ...
 *
 * (Mistral's answers are normalised rather than rebuilt: their own
 * checks, fuzz_mistral_answer().)
 *
 * Each input goes to the adapter's decode() (when it has one) as a 2xx
 * answer and to its error() as an error body with statuses 400, 429, 500
 * and 529.  It also goes, as a client request (as is, and as extra members
 * of a valid request), through llm_request_parse() and the adapter's
 * encode(), since a translating adapter's encoder reads every part of the
 * request.  Beyond memory errors and leaks (ASan/UBSan), every output is
 * checked: strict JSON, a chat.completion of the right shape whose usage
 * adds up (and is left out, every count -1, when the provider reported
 * none), the first choice's finish_reason and content handed back as
 * rendered, an error object with a string message, a 502 for an answer
 * that cannot be read; for Anthropic, alternating turns with tool_result
 * blocks first; for Anthropic, Cohere and Gemini, wherever the adapter's
 * direct writer applies, the body its cJSON tree gives, byte for byte.
 */


#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


#ifndef LLM_FUZZ_ADAPTER
#error "build with -DLLM_FUZZ_ADAPTER=\"<adapter name>\""
#endif


#define FUZZ_CREATED  1767225600LL


typedef struct {
    void        **allocs;
    size_t        nallocs;
    size_t        size;
} fuzz_pool_t;


/* an adapter's direct writer or its cJSON tree */
typedef int (*fuzz_encode_pt)(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void *fuzz_alloc(void *data, size_t size);
static void fuzz_pool_free(fuzz_pool_t *fp);
static void fuzz_check(int ok, const char *what);
static cJSON *fuzz_json(const char *buf, size_t len);
static const llm_adapter_t *fuzz_adapter(void);
static void fuzz_provider(llm_provider_t *p, const char *model);
static void fuzz_decode(const llm_adapter_t *ad, const char *data,
    size_t size, llm_pool_t *pool);
static void fuzz_decode_one(const llm_adapter_t *ad,
    const llm_request_t *req, const char *model, const char *data,
    size_t size, llm_pool_t *pool);
static void fuzz_mistral_answer(const llm_response_t *out,
    const char *data, size_t size);
static void fuzz_completion(const llm_response_t *out);
static int fuzz_utf8(const char *s, size_t len);
static double fuzz_number(const cJSON *obj, const char *name);
static long long fuzz_count(const cJSON *obj, const char *name);
static void fuzz_error(const llm_adapter_t *ad, const char *data,
    size_t size, llm_pool_t *pool);
static void fuzz_request(const llm_adapter_t *ad, const char *data,
    size_t size, llm_pool_t *pool);
static void fuzz_refs(const llm_adapter_t *ad, const llm_request_t *req,
    const llm_provider_t *p, const llm_http_request_t *parts,
    const cJSON *body, llm_pool_t *pool);
static void fuzz_encode(const llm_adapter_t *ad, const llm_request_t *req,
    const char *model, llm_pool_t *pool);
static void fuzz_anthropic_body(const cJSON *body);
static void fuzz_direct(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool);
static void fuzz_wrapped(const llm_adapter_t *ad, const char *data,
    size_t size, llm_pool_t *pool);


static const int  fuzz_statuses[] = { 400, 429, 500, 529 };


/* one pico-USD a token of any kind */

static const llm_price_t  fuzz_price = { 1, 1, 1, 1 };


static const char  fuzz_base[] =
    "{\"model\":\"client-model\",\"messages\":[{\"role\":\"user\","
    "\"content\":\"x\"}]}";


static const char  fuzz_prefix[] =
    "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],";


static const char  *const fuzz_finish[] = {
    "stop",
    "length",
    "tool_calls",
    "content_filter",
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
        fprintf(stderr, "fuzz_decode_%s: invariant failed: %s\n",
                LLM_FUZZ_ADAPTER, what);
        abort();
    }
}


static cJSON *
fuzz_json(const char *buf, size_t len)
{
    cJSON  *root;

    fuzz_check(buf != NULL, "output buffer");
    fuzz_check(buf[len] == '\0', "output NUL-terminated");
    fuzz_check(llm_json_validate(buf, len, NULL) == LLM_OK,
               "output is strict JSON");

    root = cJSON_ParseWithLength(buf, len);
    fuzz_check(root != NULL, "output parses");

    return root;
}


static const llm_adapter_t *
fuzz_adapter(void)
{
    static const llm_adapter_t  *ad;

    if (ad == NULL) {
        ad = llm_adapter_find(LLM_FUZZ_ADAPTER, strlen(LLM_FUZZ_ADAPTER));
        fuzz_check(ad != NULL, "the adapter exists");
    }

    return ad;
}


static void
fuzz_provider(llm_provider_t *p, const char *model)
{
    p->name = "fuzz";
    p->model = model;
    p->api_key = "sk-fuzz-SECRET";
    p->base_path = "/v1";
    p->max_tokens = 0;
}


static void
fuzz_decode(const llm_adapter_t *ad, const char *data, size_t size,
    llm_pool_t *pool)
{
    llm_error_t    err;
    llm_request_t  req;

    if (ad->decode == NULL) {
        return;
    }

    fuzz_check(llm_request_parse(&req, fuzz_base, sizeof(fuzz_base) - 1,
                                 &err)
               == LLM_OK, "base request");

    fuzz_decode_one(ad, &req, NULL, data, size, pool);
    fuzz_decode_one(ad, &req, "configured-model", data, size, pool);

    llm_request_free(&req);
}


static void
fuzz_decode_one(const llm_adapter_t *ad, const llm_request_t *req,
    const char *model, const char *data, size_t size, llm_pool_t *pool)
{
    int              rc;
    char            *buf;
    cJSON           *e;
    size_t           len;
    llm_error_t      err;
    llm_response_t   out;
    llm_provider_t   p;

    fuzz_provider(&p, model);

    rc = ad->decode(req, &p, data, size, FUZZ_CREATED, pool, &out, &err);

    if (rc == LLM_OK && strcmp(LLM_FUZZ_ADAPTER, "mistral") == 0) {
        fuzz_mistral_answer(&out, data, size);
        return;
    }

    if (rc == LLM_OK) {
        fuzz_completion(&out);
        return;
    }

    fuzz_check(rc == LLM_ERROR, "decode returns LLM_OK or LLM_ERROR");

    if (strcmp(LLM_FUZZ_ADAPTER, "mistral") == 0 && err.status == 502
        && err.type != NULL && strcmp(err.type, "server_error") == 0)
    {
        /* Mistral's finish_reason "error": the generation failed */
        return;
    }

    /* no allocation fails here: an answer that cannot be read */

    fuzz_check(err.status == 502 && err.type != NULL
               && strcmp(err.type, "api_error") == 0
               && err.code != NULL
               && strcmp(err.code, "invalid_provider_response") == 0,
               "decode errors are 502 invalid_provider_response");

    buf = llm_error_render(&err, pool, &len);
    e = fuzz_json(buf, len);
    cJSON_Delete(e);
}


/*
 * Mistral's answers are relayed, normalised: strict JSON, every choice
 * with "logprobs", an OpenAI finish_reason, tool calls with a "type"; the
 * provider's bytes themselves when nothing was missing.
 */

static void
fuzz_mistral_answer(const llm_response_t *out, const char *data,
    size_t size)
{
    cJSON        *root;
    const char   *s;
    const cJSON  *ch, *tc;

    /* the provider's bytes themselves are not NUL-terminated */

    fuzz_check(out->body != NULL
               && llm_json_validate(out->body, out->body_len, NULL)
                  == LLM_OK, "mistral: strict JSON");

    root = cJSON_ParseWithLength(out->body, out->body_len);
    fuzz_check(root != NULL, "mistral: parses");

    fuzz_check(out->body_len == size || out->body != data,
               "relayed as it is or written anew");

    for (ch = cJSON_GetObjectItemCaseSensitive(root, "choices")->child;
         ch != NULL;
         ch = ch->next)
    {
        fuzz_check(cJSON_GetObjectItemCaseSensitive(ch, "logprobs") != NULL,
                   "mistral: every choice has logprobs");

        s = llm_json_str(ch, "finish_reason");

        fuzz_check(s == NULL || llm_openai_finish(s, 0) != NULL,
                   "mistral: an OpenAI finish_reason");

        tc = cJSON_GetObjectItemCaseSensitive(
                 cJSON_GetObjectItemCaseSensitive(ch, "message"),
                 "tool_calls");

        for (tc = cJSON_IsArray(tc) ? tc->child : NULL;
             tc != NULL;
             tc = tc->next)
        {
            fuzz_check(!cJSON_IsObject(tc)
                       || cJSON_GetObjectItemCaseSensitive(tc, "type")
                          != NULL,
                       "mistral: tool calls have a type");
        }
    }

    fuzz_check(out->finish_reason == NULL
               || llm_json_str(cJSON_GetObjectItemCaseSensitive(root,
                                   "choices")->child, "finish_reason")
                  != NULL,
               "mistral: the first choice's finish_reason");

    cJSON_Delete(root);
}


static void
fuzz_completion(const llm_response_t *out)
{
    size_t        i, k;
    cJSON        *root;
    const char   *s;
    const cJSON  *choices, *ch, *m, *usage, *details, *calls, *tc, *f;
    const cJSON  *item;

    root = fuzz_json(out->body, out->body_len);

    fuzz_check(cJSON_IsObject(root), "completion is an object");

    s = llm_json_str(root, "object");
    fuzz_check(s != NULL && strcmp(s, "chat.completion") == 0,
               "object is chat.completion");
    fuzz_check(llm_json_str(root, "id") != NULL, "id is a string");
    fuzz_check(llm_json_str(root, "model") != NULL, "model is a string");
    fuzz_check(fuzz_count(root, "created") >= 0, "created is a number");

    choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    fuzz_check(cJSON_IsArray(choices), "choices is an array");

    i = 0;

    for (ch = choices->child; ch != NULL; ch = ch->next, i++) {
        fuzz_check(fuzz_count(ch, "index") == (long long) i, "index");

        m = cJSON_GetObjectItemCaseSensitive(ch, "message");
        s = llm_json_str(m, "role");
        fuzz_check(s != NULL && strcmp(s, "assistant") == 0, "role");

        fuzz_check(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m,
                                                                "content"))
                   || cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(m,
                                                                "content")),
                   "content is a string or null");

        calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");

        if (calls != NULL) {
            fuzz_check(cJSON_IsArray(calls) && calls->child != NULL,
                       "tool_calls is a non-empty array");

            for (tc = calls->child; tc != NULL; tc = tc->next) {
                f = cJSON_GetObjectItemCaseSensitive(tc, "function");

                fuzz_check(llm_json_str(tc, "id") != NULL
                           && llm_json_str(f, "name") != NULL
                           && llm_json_str(f, "arguments") != NULL,
                           "tool call strings");
            }
        }

        s = llm_json_str(ch, "finish_reason");
        fuzz_check(s != NULL, "finish_reason is a string");

        for (k = 0; fuzz_finish[k] != NULL; k++) {
            if (strcmp(s, fuzz_finish[k]) == 0) {
                break;
            }
        }

        fuzz_check(fuzz_finish[k] != NULL, "finish_reason is an OpenAI one");
    }

    /* the first choice's finish_reason and content, as rendered */

    ch = choices->child;
    m = cJSON_GetObjectItemCaseSensitive(ch, "message");
    item = cJSON_GetObjectItemCaseSensitive(m, "content");

    s = llm_json_str(ch, "finish_reason");

    fuzz_check((s == NULL && out->finish_reason == NULL)
               || (s != NULL && out->finish_reason != NULL
                   && strcmp(s, out->finish_reason) == 0),
               "out->finish_reason is the first choice's");

    if (out->content == NULL) {
        fuzz_check(out->content_len == 0
                   && (ch == NULL || cJSON_IsNull(item)),
                   "out->content NULL: content null");

    } else {
        fuzz_check(cJSON_IsString(item), "out->content: a string");

        if (fuzz_utf8(out->content, out->content_len)) {
            fuzz_check(strlen(item->valuestring) == out->content_len
                       && memcmp(item->valuestring, out->content,
                                 out->content_len) == 0,
                       "out->content is the content rendered");
        }
    }

    usage = cJSON_GetObjectItemCaseSensitive(root, "usage");

    /* nothing reported: no "usage", every count -1, never zeros */

    if (!llm_usage_known(&out->usage)) {
        fuzz_check(usage == NULL, "no usage rendered when none reported");
        fuzz_check(out->usage.prompt_tokens == -1
                   && out->usage.completion_tokens == -1
                   && out->usage.total_tokens == -1
                   && out->usage.cached_tokens == -1
                   && out->usage.cache_write_tokens == -1
                   && out->usage.reasoning_tokens == -1,
                   "every count -1 when none reported");

        cJSON_Delete(root);
        return;
    }

    fuzz_check(cJSON_IsObject(usage), "usage rendered when reported");

    fuzz_check(out->usage.prompt_tokens >= 0
               && out->usage.completion_tokens >= 0
               && out->usage.total_tokens >= 0, "usage counts");

    /* compared as doubles: the parser reads big counts rounded */

    fuzz_check(fuzz_number(usage, "prompt_tokens")
               == (double) out->usage.prompt_tokens
               && fuzz_number(usage, "completion_tokens")
                  == (double) out->usage.completion_tokens
               && fuzz_number(usage, "total_tokens")
                  == (double) out->usage.total_tokens,
               "out->usage is the usage rendered");

    details = cJSON_GetObjectItemCaseSensitive(usage,
                                               "prompt_tokens_details");

    fuzz_check((out->usage.cached_tokens < 0 && details == NULL)
               || fuzz_number(details, "cached_tokens")
                  == (double) out->usage.cached_tokens,
               "cached_tokens rendered when reported");

    if (strcmp(LLM_FUZZ_ADAPTER, "anthropic") == 0) {
        fuzz_check(out->usage.total_tokens
                   == out->usage.prompt_tokens
                      + out->usage.completion_tokens, "total adds up");
        fuzz_check(out->usage.cached_tokens <= out->usage.prompt_tokens,
                   "cached tokens are a part of the prompt");
        fuzz_check(out->usage.cache_write_tokens <= out->usage.prompt_tokens,
                   "cache writes are a part of the prompt");
        fuzz_check(out->usage.cached_tokens < 0
                   || out->usage.cache_write_tokens < 0
                   || out->usage.cached_tokens
                      + out->usage.cache_write_tokens
                      <= out->usage.prompt_tokens,
                   "cache reads and writes are parts of the prompt");

    } else {
        fuzz_check(out->usage.cache_write_tokens == -1,
                   "only Anthropic reports cache writes");
    }

    /* the cost of what was reported: no overflow of the unsigned sums */

    fuzz_check(llm_usage_cost(&out->usage, &fuzz_price)
               >= (unsigned long long) out->usage.completion_tokens,
               "cost counts the output");

    cJSON_Delete(root);
}


/* s[0..len) is UTF-8 */

static int
fuzz_utf8(const char *s, size_t len)
{
    size_t  n;

    while (len > 0) {
        n = llm_utf8_len((const unsigned char *) s, len);

        if (n == 0) {
            return 0;
        }

        s += n;
        len -= n;
    }

    return 1;
}


/* a number member, -1 when there is none */

static double
fuzz_number(const cJSON *obj, const char *name)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsNumber(item) ? item->valuedouble : -1.0;
}


/* a non-negative number member as a count, -1 when there is none */

static long long
fuzz_count(const cJSON *obj, const char *name)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (!cJSON_IsNumber(item) || item->valuedouble < 0) {
        return -1;
    }

    return llm_json_count(obj, name);
}


static void
fuzz_error(const llm_adapter_t *ad, const char *data, size_t size,
    llm_pool_t *pool)
{
    size_t                 s;
    cJSON                 *root, *e;
    llm_provider_error_t   out;

    for (s = 0; s < sizeof(fuzz_statuses) / sizeof(fuzz_statuses[0]); s++) {
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

        fuzz_check(out.retryable == 0 || out.retryable == 1, "retryable");

        if (fuzz_statuses[s] == 400) {
            fuzz_check(!out.retryable, "400 is not retryable");
        }

        cJSON_Delete(root);
    }
}


static void
fuzz_request(const llm_adapter_t *ad, const char *data, size_t size,
    llm_pool_t *pool)
{
    llm_error_t    err;
    llm_request_t  req;

    /*
     * the tree on the pool as nginx has it, or malloc'ed: the encoders
     * must keep their own trees apart from the request's either way
     */

    if (((size & 1) ? llm_request_parse(&req, data, size, &err)
                    : llm_request_parse_pool(&req, data, size, pool, &err))
        != LLM_OK)
    {
        fuzz_check(req.root == NULL, "no tree on failure");
        llm_request_free(&req);
        return;
    }

    fuzz_encode(ad, &req, NULL, pool);
    fuzz_encode(ad, &req, "configured-model", pool);

    llm_request_free(&req);
}


static void
fuzz_encode(const llm_adapter_t *ad, const llm_request_t *req,
    const char *model, llm_pool_t *pool)
{
    int                  rc;
    char                *buf;
    cJSON               *body, *e;
    size_t               len;
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   http, other;

    fuzz_provider(&p, model);

    fuzz_direct(req, &p, pool);

    rc = ad->encode(req, &p, pool, &http, &err);

    if (rc != LLM_OK) {
        fuzz_check(rc == LLM_ERROR, "encode returns LLM_OK or LLM_ERROR");

        /* 500 is for misconfiguration and ENOMEM: neither happens here */

        fuzz_check(err.status >= 400 && err.status < 600
                   && err.status != 500, "encode error status");

        if (strcmp(LLM_FUZZ_ADAPTER, "anthropic") == 0) {
            fuzz_check(err.status == 400, "encode errors are 400");
        }

        buf = llm_error_render(&err, pool, &len);
        e = fuzz_json(buf, len);
        cJSON_Delete(e);

        return;
    }

    fuzz_check(http.method != NULL && http.path != NULL
               && http.path[0] == '/', "method and path");
    fuzz_check(http.nheaders <= LLM_MAX_HEADERS, "headers");

    /* the lean passthrough body is not NUL-terminated; a body in pieces */

    if (http.body == NULL && http.nparts > 0) {
        http.body = (char *) llm_http_body(&http, pool);
    }

    fuzz_check(http.body != NULL
               && llm_json_validate(http.body, http.body_len, NULL)
                  == LLM_OK, "request body is strict JSON");

    body = cJSON_ParseWithLength(http.body, http.body_len);
    fuzz_check(cJSON_IsObject(body), "request body is an object");

    /* the body does not depend on the key: the key is not in it */

    p.api_key = "sk-another-one";

    fuzz_check(ad->encode(req, &p, pool, &other, &err) == LLM_OK
               && other.body_len == http.body_len
               && memcmp(llm_http_body(&other, pool), http.body,
                         http.body_len) == 0,
               "the key is not in the body");

    if (strcmp(LLM_FUZZ_ADAPTER, "anthropic") == 0
        || strcmp(LLM_FUZZ_ADAPTER, "gemini") == 0
        || strcmp(LLM_FUZZ_ADAPTER, "cohere") == 0)
    {
        fuzz_refs(ad, req, &p, http.nparts ? &http : NULL, body, pool);
    }

    if (strcmp(LLM_FUZZ_ADAPTER, "anthropic") == 0) {
        fuzz_anthropic_body(body);
    }

    cJSON_Delete(body);
}


/*
 * Long strings go to the provider as the client's bytes: the parts
 * between the printed pieces are the client's own, and the body means
 * what it means when every string is printed by the encoder
 */

static void
fuzz_refs(const llm_adapter_t *ad, const llm_request_t *req,
    const llm_provider_t *p, const llm_http_request_t *parts,
    const cJSON *body, llm_pool_t *pool)
{
    size_t               i;
    cJSON               *plain;
    llm_error_t          err;
    llm_request_t        copy;
    llm_http_request_t   http;

    if (parts != NULL) {
        fuzz_check(parts->nparts % 2 == 1 && parts->nparts <= LLM_BODY_PARTS,
                   "pieces around references");

        for (i = 1; i < parts->nparts; i += 2) {
            fuzz_check(parts->parts[i].data >= req->body
                       && parts->parts[i].data + parts->parts[i].len
                          <= req->body + req->body_len,
                       "a reference is the client's bytes");
        }
    }

    copy = *req;
    copy.refs.n = 0;
    copy.refs.len = 0;

    fuzz_check(ad->encode(&copy, p, pool, &http, &err) == LLM_OK
               && http.body != NULL && http.nparts == 0,
               "without references, one body");

    plain = cJSON_ParseWithLength(http.body, http.body_len);
    fuzz_check(cJSON_Compare(plain, body, 1), "references change nothing");

    cJSON_Delete(plain);
}


/*
 * The adapter's direct writer (Anthropic, Cohere, Gemini), where it
 * applies, gives what its cJSON tree gives, byte for byte and piece for
 * piece: with the request's long strings by reference and without, with
 * the provider's max_tokens or not
 */

static void
fuzz_direct(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool)
{
    int                  rc, rf;
    size_t               i, k;
    llm_error_t          err;
    llm_request_t        copy;
    llm_provider_t       q;
    llm_http_request_t   a, b;
    fuzz_encode_pt       fast, tree;

    if (strcmp(LLM_FUZZ_ADAPTER, "anthropic") == 0) {
        fast = llm_anthropic_encode_fast;
        tree = llm_anthropic_encode_tree;

    } else if (strcmp(LLM_FUZZ_ADAPTER, "cohere") == 0) {
        fast = llm_cohere_encode_fast;
        tree = llm_cohere_encode_tree;

    } else if (strcmp(LLM_FUZZ_ADAPTER, "gemini") == 0) {
        fast = llm_gemini_encode_fast;
        tree = llm_gemini_encode_tree;

    } else {
        return;
    }

    for (k = 0; k < 4; k++) {
        copy = *req;
        q = *p;

        if (k & 1) {
            copy.refs.n = 0;
            copy.refs.len = 0;
        }

        if (k & 2) {
            q.max_tokens = 333;
        }

        rf = fast(&copy, &q, pool, &b, &err);

        if (rf == LLM_DECLINED) {
            continue;
        }

        rc = tree(&copy, &q, pool, &a, &err);

        fuzz_check(rf == LLM_OK && rc == LLM_OK,
                   "the direct writer applies where the tree succeeds");

        fuzz_check(strcmp(a.method, b.method) == 0
                   && strcmp(a.path, b.path) == 0
                   && a.nheaders == b.nheaders, "the writer's path");

        for (i = 0; i < a.nheaders; i++) {
            fuzz_check(strcmp(a.headers[i].name, b.headers[i].name) == 0
                       && strcmp(a.headers[i].value, b.headers[i].value)
                          == 0, "the writer's headers");
        }

        fuzz_check(a.body_len == b.body_len && a.nparts == b.nparts
                   && (a.body == NULL) == (b.body == NULL),
                   "the writer's body, as long and in as many pieces");

        if (a.body != NULL) {
            fuzz_check(memcmp(a.body, b.body, a.body_len) == 0,
                       "the writer's body is the tree's");
            continue;
        }

        for (i = 0; i < a.nparts; i++) {
            fuzz_check(a.parts[i].len == b.parts[i].len
                       && memcmp(a.parts[i].data, b.parts[i].data,
                                 a.parts[i].len) == 0
                       && (i % 2 == 0
                           || a.parts[i].data == b.parts[i].data),
                       "the writer's pieces are the tree's");
        }
    }
}


static void
fuzz_anthropic_body(const cJSON *body)
{
    int           seen_other;
    const char   *role, *prev, *type;
    const cJSON  *messages, *m, *content, *b;

    fuzz_check(llm_json_str(body, "model") != NULL, "model");
    fuzz_check(fuzz_count(body, "max_tokens") >= 1, "max_tokens");

    messages = cJSON_GetObjectItemCaseSensitive(body, "messages");
    fuzz_check(cJSON_IsArray(messages) && messages->child != NULL,
               "messages is a non-empty array");

    prev = NULL;

    for (m = messages->child; m != NULL; m = m->next) {
        role = llm_json_str(m, "role");

        fuzz_check(role != NULL && (strcmp(role, "user") == 0
                                    || strcmp(role, "assistant") == 0),
                   "roles are user and assistant");
        fuzz_check(prev == NULL || strcmp(prev, role) != 0,
                   "roles alternate");

        prev = role;

        content = cJSON_GetObjectItemCaseSensitive(m, "content");

        if (cJSON_IsString(content)) {
            fuzz_check(content->valuestring[0] != '\0', "no empty text");
            continue;
        }

        fuzz_check(cJSON_IsArray(content) && content->child != NULL,
                   "content is a non-empty array");

        seen_other = 0;

        for (b = content->child; b != NULL; b = b->next) {
            type = llm_json_str(b, "type");
            fuzz_check(type != NULL, "block type");

            if (strcmp(type, "tool_result") == 0) {
                fuzz_check(strcmp(role, "user") == 0 && !seen_other,
                           "tool_result blocks first, in user messages");

            } else {
                seen_other = 1;
            }

            if (strcmp(type, "text") == 0) {
                fuzz_check(llm_json_str(b, "text") != NULL
                           && llm_json_str(b, "text")[0] != '\0',
                           "no empty text block");
            }

            if (strcmp(type, "tool_use") == 0) {
                fuzz_check(strcmp(role, "assistant") == 0
                           && cJSON_IsObject(
                                  cJSON_GetObjectItemCaseSensitive(b,
                                                                   "input")),
                           "tool_use input is an object");
            }
        }
    }
}


/* {"messages":[{"role":"user","content":"x"}],<data>} */

static void
fuzz_wrapped(const llm_adapter_t *ad, const char *data, size_t size,
    llm_pool_t *pool)
{
    char    *buf;
    size_t   pre;

    pre = sizeof(fuzz_prefix) - 1;

    buf = llm_palloc(pool, pre + size + 1);
    fuzz_check(buf != NULL, "alloc");

    memcpy(buf, fuzz_prefix, pre);
    memcpy(buf + pre, data, size);
    buf[pre + size] = '}';

    fuzz_request(ad, buf, pre + size + 1, pool);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    llm_pool_t            pool;
    fuzz_pool_t           fp;
    const llm_adapter_t  *ad;

    ad = fuzz_adapter();

    memset(&fp, 0, sizeof(fuzz_pool_t));

    pool.alloc = fuzz_alloc;
    pool.data = &fp;

    fuzz_decode(ad, (const char *) data, size, &pool);
    fuzz_error(ad, (const char *) data, size, &pool);
    fuzz_request(ad, (const char *) data, size, &pool);
    fuzz_wrapped(ad, (const char *) data, size, &pool);

    /* cJSON trees on the pool (llm_arena.c) are deleted as if malloc'ed */

    fuzz_check(llm_arena_blocks() == 0, "arena blocks freed");

    fuzz_pool_free(&fp);

    return 0;
}
