
/*
 * ngx_http_llm_router_module: libFuzzer target for embeddings in the core.
 *
 * Each input goes, as a client request (as is, and as extra members of a
 * valid request), through llm_embed_parse_pool() and, when accepted,
 * through every adapter's embed_encode() with and without a configured
 * model and input_type; and, as a provider's answer, through every
 * embed_decode() for a few fixed requests (one text, two texts, floats
 * and base64).  Beyond memory errors (ASan/UBSan), every output is
 * checked: a body that is strict JSON of the provider's shape with one
 * item per input, a 400 for what a provider cannot take, and an OpenAI
 * embeddings list with ninputs items, of one length, indexed in order,
 * whose usage is the one handed back; a 502 for an answer that cannot be
 * read.
 */


#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


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
    const char *model, const char *input_type, llm_pool_t *pool);
static void fuzz_encoded(const llm_adapter_t *ad, const llm_request_t *req,
    const char *model, const cJSON *body);
static void fuzz_decode(const char *data, size_t size, llm_pool_t *pool);
static void fuzz_decoded(const llm_request_t *req,
    const llm_response_t *out);
static void fuzz_wrapped(const char *data, size_t size, llm_pool_t *pool);


static const char  fuzz_prefix[] = "{\"input\":[\"a\",\"b\"],";


static const char  *const fuzz_requests[] = {
    "{\"model\":\"m\",\"input\":\"a\"}",
    "{\"model\":\"m\",\"input\":[\"a\",\"b\"]}",
    "{\"model\":\"m\",\"input\":[\"a\",\"b\"],\"encoding_format\":\"base64\"}",
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
        fprintf(stderr, "fuzz_embed: invariant failed: %s\n", what);
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


static void
fuzz_request(const char *data, size_t size, llm_pool_t *pool)
{
    size_t          i;
    llm_error_t     err;
    llm_request_t   req;

    if (llm_embed_parse_pool(&req, data, size, pool, &err) != LLM_OK) {
        fuzz_check(req.root == NULL, "no tree after a refusal");
        fuzz_check(err.status == 400, "a refused request is a 400");
        llm_request_free(&req);
        return;
    }

    fuzz_check(req.embed && !req.stream, "an embeddings request");
    fuzz_check(req.ninputs >= 1 && req.ninputs <= LLM_EMBED_MAX_INPUTS,
               "1 to 2048 inputs");
    fuzz_check(req.dimensions >= 0 && req.dimensions <= 65536,
               "dimensions");
    fuzz_check(llm_request_prompt_tokens(&req) >= 0, "an estimate");

    for (i = 0; llm_adapters[i] != NULL; i++) {
        if (llm_adapters[i]->embed_encode == NULL) {
            continue;
        }

        fuzz_encode(llm_adapters[i], &req, NULL, NULL, pool);
        fuzz_encode(llm_adapters[i], &req, "prov-model", "CLUSTERING",
                    pool);
    }

    llm_request_free(&req);
}


static void
fuzz_encode(const llm_adapter_t *ad, const llm_request_t *req,
    const char *model, const char *input_type, llm_pool_t *pool)
{
    cJSON               *root;
    const char          *body;
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   out;

    memset(&p, 0, sizeof(llm_provider_t));
    p.name = "fuzz";
    p.model = model;
    p.api_key = "fuzz-key-0123456789";
    p.base_path = "/v1";
    p.input_type = input_type;

    memset(&out, 0, sizeof(llm_http_request_t));

    if (ad->embed_encode(req, &p, pool, &out, &err) != LLM_OK) {
        fuzz_check(err.status == 400, "an encoder refuses with a 400");
        fuzz_check(err.param != NULL, "with a param");

        if (ad->embed_max_inputs && req->ninputs > ad->embed_max_inputs) {
            fuzz_check(err.code != NULL
                       && strcmp(err.code, "too_many_inputs") == 0,
                       "too_many_inputs");
        }

        return;
    }

    fuzz_check(req->ninputs <= ad->embed_max_inputs
               || ad->embed_max_inputs == 0, "the limit kept");
    fuzz_check(out.path != NULL && out.method != NULL, "a path");

    body = llm_http_body(&out, pool);
    fuzz_check(body != NULL, "the body joined");

    /* relayed as it is: the client's bytes, not NUL-terminated */

    if (body == req->body) {
        fuzz_check(out.body_len == req->body_len, "the client's body");
        body = llm_pstrdup(pool, body, out.body_len);
        fuzz_check(body != NULL, "alloc");
    }

    root = fuzz_json(body, out.body_len);
    fuzz_check(cJSON_IsObject(root), "the body is an object");

    fuzz_encoded(ad, req, model, root);

    cJSON_Delete(root);
}


/* what each provider's body must be */

static void
fuzz_encoded(const llm_adapter_t *ad, const llm_request_t *req,
    const char *model, const cJSON *body)
{
    const cJSON  *item, *input;

    item = cJSON_GetObjectItemCaseSensitive(body, "model");

    if (strcmp(ad->name, "openai") == 0) {
        fuzz_check(cJSON_GetObjectItemCaseSensitive(body, "input_type")
                   == NULL, "openai: no input_type");

        if (model != NULL) {
            fuzz_check(cJSON_IsString(item)
                       && strcmp(item->valuestring, model) == 0,
                       "openai: the provider's model");
        }

        input = cJSON_GetObjectItemCaseSensitive(body, "input");
        fuzz_check(input != NULL
                   && (input->type & 0xff) == (req->input->type & 0xff),
                   "openai: the input relayed");
        return;
    }

    if (strcmp(ad->name, "mistral") == 0) {
        fuzz_check(cJSON_GetArraySize(body) == 2 + (req->dimensions != 0),
                   "mistral: model, input, output_dimension only");
        input = cJSON_GetObjectItemCaseSensitive(body, "input");
        fuzz_check(cJSON_IsString(input)
                   || cJSON_GetArraySize(input) == (int) req->ninputs,
                   "mistral: the inputs");
        return;
    }

    if (strcmp(ad->name, "cohere") == 0) {
        input = cJSON_GetObjectItemCaseSensitive(body, "texts");
        fuzz_check(cJSON_GetArraySize(input) == (int) req->ninputs,
                   "cohere: the texts");
        fuzz_check(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(body,
                                                       "input_type")),
                   "cohere: input_type");
        return;
    }

    input = cJSON_GetObjectItemCaseSensitive(body, "requests");
    fuzz_check(cJSON_GetArraySize(input) == (int) req->ninputs,
               "gemini: one request per text");
}


static void
fuzz_decode(const char *data, size_t size, llm_pool_t *pool)
{
    int              rc;
    size_t           i, k;
    llm_error_t      err;
    llm_request_t    req;
    llm_provider_t   p;
    llm_response_t   out;

    memset(&p, 0, sizeof(llm_provider_t));
    p.name = "fuzz";
    p.base_path = "/v1";

    for (k = 0; fuzz_requests[k] != NULL; k++) {

        rc = llm_embed_parse_pool(&req, fuzz_requests[k],
                                  strlen(fuzz_requests[k]), pool, &err);
        fuzz_check(rc == LLM_OK, "a fixed request");

        for (i = 0; llm_adapters[i] != NULL; i++) {
            if (llm_adapters[i]->embed_decode == NULL) {
                continue;
            }

            memset(&err, 0, sizeof(llm_error_t));

            rc = llm_adapters[i]->embed_decode(&req, &p, data, size, pool,
                                               &out, &err);

            if (rc != LLM_OK) {
                fuzz_check(err.status == 502
                           && strcmp(err.code, "invalid_provider_response")
                              == 0, "an answer not read is a 502");
                continue;
            }

            fuzz_decoded(&req, &out);
        }

        llm_request_free(&req);
    }
}


static void
fuzz_decoded(const llm_request_t *req, const llm_response_t *out)
{
    int           n, dim, i;
    cJSON        *root;
    const cJSON  *data, *item, *emb, *usage;

    root = fuzz_json(out->body, out->body_len);

    fuzz_check(out->finish_reason == NULL && out->content == NULL,
               "no finish_reason, no content");

    item = cJSON_GetObjectItemCaseSensitive(root, "object");
    fuzz_check(cJSON_IsString(item)
               && strcmp(item->valuestring, "list") == 0, "a list");
    fuzz_check(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root,
                                                               "model")),
               "a model");

    data = cJSON_GetObjectItemCaseSensitive(root, "data");
    n = cJSON_GetArraySize(data);
    fuzz_check(cJSON_IsArray(data) && n == (int) req->ninputs,
               "ninputs items");

    dim = -1;
    i = 0;

    cJSON_ArrayForEach(item, data) {
        fuzz_check(cJSON_GetObjectItemCaseSensitive(item, "index")
                   ->valueint == i, "in order");

        emb = cJSON_GetObjectItemCaseSensitive(item, "embedding");

        if (req->base64) {
            fuzz_check(cJSON_IsString(emb), "base64 text");
            n = (int) strlen(emb->valuestring);
            fuzz_check(n > 0 && n % 4 == 0, "base64 length");

        } else {
            fuzz_check(cJSON_IsArray(emb), "a vector");
            n = cJSON_GetArraySize(emb);
            fuzz_check(n > 0, "a non-empty vector");
        }

        fuzz_check(dim == -1 || n == dim, "vectors of one length");
        dim = n;
        i++;
    }

    usage = cJSON_GetObjectItemCaseSensitive(root, "usage");

    if (usage == NULL) {
        fuzz_check(out->usage.prompt_tokens == -1, "no usage: -1");

    } else {
        fuzz_check(out->usage.prompt_tokens >= 0
                   && cJSON_GetObjectItemCaseSensitive(usage,
                          "prompt_tokens")->valuedouble
                      == (double) out->usage.prompt_tokens,
                   "the usage handed back");
    }

    cJSON_Delete(root);
}


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
    fuzz_decode((const char *) data, size, &pool);

    fuzz_check(llm_arena_blocks() == 0, "arena blocks freed");

    fuzz_pool_free(&fp);

    return 0;
}
