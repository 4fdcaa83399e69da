
/*
 * ngx_http_llm_router_module: tests of embeddings in the core: the
 * request parser, each provider's embed_encode and embed_decode against
 * the documented shapes, and the answer writer (floats as they came,
 * base64 of little-endian float32).
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"


#define TEST_KEY  "key-0123456789abcdef"


typedef struct {
    const char   *body;
    int           ok;
    const char   *param;             /* of the error */
    size_t        ninputs;
    int           tokens;
    int           base64;
    long          dimensions;
    const char   *input_type;
} test_embed_parse_t;


static void test_embed_provider(llm_provider_t *p, const char *base,
    const char *model, const char *input_type);
static void test_embed_req(test_ctx_t *ctx, const char *json,
    llm_request_t *req);
static const char *test_embed_base(const llm_adapter_t *ad);
static int test_embed_enc(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json, const char *model, const char *input_type,
    llm_http_request_t *out, llm_error_t *err);
static const char *test_embed_body(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json, const char *model, const char *input_type,
    llm_http_request_t *out);
static void test_embed_refused(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json, const char *code, const char *message);
static int test_embed_dec(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json, const char *model, const char *answer,
    llm_response_t *out, llm_error_t *err);
static const char *test_embed_answer(test_ctx_t *ctx,
    const llm_adapter_t *ad, const char *json, const char *answer,
    llm_response_t *out);
static void test_embed_bad(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json, const char *answer, const char *message);
static size_t test_base64_decode(const char *s, unsigned char *out,
    size_t size);
static void test_embed_floats(const cJSON *emb, const float *want,
    size_t n);
static const char *test_texts(test_ctx_t *ctx, size_t n);

static void test_embed_parse_table(void **state);
static void test_embed_parse_limits(void **state);
static void test_embed_prompt_tokens(void **state);
static void test_embed_openai_encode(void **state);
static void test_embed_openai_input_type(void **state);
static void test_embed_mistral_encode(void **state);
static void test_embed_cohere_encode(void **state);
static void test_embed_cohere_limit(void **state);
static void test_embed_gemini_encode(void **state);
static void test_embed_gemini_limit(void **state);
static void test_embed_long_text(void **state);
static void test_embed_no_anthropic(void **state);
static void test_embed_cohere_decode(void **state);
static void test_embed_gemini_decode(void **state);
static void test_embed_mistral_decode(void **state);
static void test_embed_decode_errors(void **state);
static void test_embed_render_base64(void **state);
static void test_embed_render_nomem(void **state);
static void test_embed_float_exact(void **state);
static void test_embed_json_helpers(void **state);
static void test_embed_float_one(test_ctx_t *ctx, llm_request_t *req,
    const char *num);


static const test_embed_parse_t  test_embed_parse_cases[] = {

    /* accepted */
    { "{\"model\":\"m\",\"input\":\"alpha\"}", 1, NULL, 1, 0, 0, 0, NULL },
    { "\xef\xbb\xbf{\"input\":[\"a\",\"b\",\"c\"]}", 1, NULL, 3, 0, 0, 0,
      NULL },
    { "{\"input\":[1,2,3]}", 1, NULL, 1, 1, 0, 0, NULL },
    { "{\"input\":[[1,2],[3],[0,2147483647]]}", 1, NULL, 3, 1, 0, 0,
      NULL },
    { "{\"input\":\"a\",\"encoding_format\":\"base64\",\"dimensions\":256,"
      "\"user\":\"u\",\"input_type\":\"search_query\"}", 1, NULL, 1, 0, 1,
      256, "search_query" },
    { "{\"input\":\"a\",\"encoding_format\":\"float\",\"dimensions\":65536}",
      1, NULL, 1, 0, 0, 65536, NULL },
    { "{\"input\":\"a\",\"encoding_format\":null,\"dimensions\":null,"
      "\"user\":null,\"input_type\":null,\"model\":null}", 1, NULL, 1, 0, 0,
      0, NULL },
    { "{\"input\":\"a\",\"input_type\":\"clustering\",\"extra\":{\"x\":1}}",
      1, NULL, 1, 0, 0, 0, "clustering" },

    /* refused */
    { "", 0, NULL, 0, 0, 0, 0, NULL },
    { "{\"input\":\"a\"", 0, NULL, 0, 0, 0, 0, NULL },
    { "[\"a\"]", 0, NULL, 0, 0, 0, 0, NULL },
    { "{\"input\":'a'}", 0, NULL, 0, 0, 0, 0, NULL },
    { "{\"model\":\"m\"}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":null}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":\"\"}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":[]}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":[\"a\",\"\"]}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":[\"a\",1]}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":[1,\"a\"]}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":[1.5]}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":[-1]}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":[2147483648]}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":[[1],[]]}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":[[1],\"a\"]}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":[[\"a\"]]}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":[null]}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":{\"text\":\"a\"}}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":true}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"input\":\"a\",\"input\":\"b\"}", 0, "input", 0, 0, 0, 0, NULL },
    { "{\"model\":\"a\",\"input\":\"b\",\"model\":\"c\"}", 0, "model", 0, 0,
      0, 0, NULL },
    { "{\"input\":\"a\",\"model\":5}", 0, "model", 0, 0, 0, 0, NULL },
    { "{\"input\":\"a\",\"encoding_format\":\"hex\"}", 0, "encoding_format",
      0, 0, 0, 0, NULL },
    { "{\"input\":\"a\",\"encoding_format\":1}", 0, "encoding_format", 0, 0,
      0, 0, NULL },
    { "{\"input\":\"a\",\"dimensions\":0}", 0, "dimensions", 0, 0, 0, 0,
      NULL },
    { "{\"input\":\"a\",\"dimensions\":65537}", 0, "dimensions", 0, 0, 0, 0,
      NULL },
    { "{\"input\":\"a\",\"dimensions\":1.5}", 0, "dimensions", 0, 0, 0, 0,
      NULL },
    { "{\"input\":\"a\",\"dimensions\":\"8\"}", 0, "dimensions", 0, 0, 0, 0,
      NULL },
    { "{\"input\":\"a\",\"user\":5}", 0, "user", 0, 0, 0, 0, NULL },
    { "{\"input\":\"a\",\"input_type\":\"image\"}", 0, "input_type", 0, 0,
      0, 0, NULL },
    { "{\"input\":\"a\",\"input_type\":\"RETRIEVAL_QUERY\"}", 0,
      "input_type", 0, 0, 0, 0, NULL },
};


static void
test_embed_provider(llm_provider_t *p, const char *base, const char *model,
    const char *input_type)
{
    memset(p, 0, sizeof(llm_provider_t));

    p->name = "emb";
    p->model = model;
    p->api_key = TEST_KEY;
    p->base_path = base;
    p->input_type = input_type;
}


/* parsed on the test's pool; the caller calls llm_request_free() */

static void
test_embed_req(test_ctx_t *ctx, const char *json, llm_request_t *req)
{
    char         *body;
    size_t        len;
    llm_error_t   err;

    len = strlen(json);
    body = test_copy(ctx, json, len);

    if (llm_embed_parse_pool(req, body, len, &ctx->pool, &err) != LLM_OK) {
        fail_msg("rejected by the parser: %s", err.message);
    }

    assert_int_equal(req->embed, 1);
}


static const char *
test_embed_base(const llm_adapter_t *ad)
{
    if (ad == &llm_gemini_adapter) {
        return "/v1beta";
    }

    if (ad == &llm_cohere_adapter) {
        return "/v2";
    }

    return "/v1";
}


static int
test_embed_enc(test_ctx_t *ctx, const llm_adapter_t *ad, const char *json,
    const char *model, const char *input_type, llm_http_request_t *out,
    llm_error_t *err)
{
    int             rc;
    llm_request_t   req;
    llm_provider_t  p;

    test_embed_req(ctx, json, &req);
    test_embed_provider(&p, test_embed_base(ad), model, input_type);

    memset(out, 0, sizeof(llm_http_request_t));

    rc = ad->embed_encode(&req, &p, &ctx->pool, out, err);

    if (rc == LLM_OK) {
        if (out->body == NULL) {
            out->body = (char *) llm_http_body(out, &ctx->pool);
            assert_non_null(out->body);
        }

        out->body = test_cstr(ctx, out->body, out->body_len);
        assert_string_equal(out->method, "POST");
    }

    llm_request_free(&req);

    return rc;
}


static const char *
test_embed_body(test_ctx_t *ctx, const llm_adapter_t *ad, const char *json,
    const char *model, const char *input_type, llm_http_request_t *out)
{
    cJSON        *root;
    llm_error_t   err;

    if (test_embed_enc(ctx, ad, json, model, input_type, out, &err)
        != LLM_OK)
    {
        fail_msg("embed_encode failed: %s", err.message);
    }

    root = test_json(out->body, out->body_len);
    assert_non_null(root);
    cJSON_Delete(root);

    return out->body;
}


static void
test_embed_refused(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json, const char *code, const char *message)
{
    llm_error_t         err;
    llm_http_request_t  out;

    memset(&err, 0, sizeof(llm_error_t));

    assert_int_equal(test_embed_enc(ctx, ad, json, "m", NULL, &out, &err),
                     LLM_ERROR);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.type, "invalid_request_error");
    assert_string_equal(err.param, "input");

    if (code == NULL) {
        assert_null(err.code);

    } else {
        assert_string_equal(err.code, code);
    }

    assert_string_equal(err.message, message);
}


static int
test_embed_dec(test_ctx_t *ctx, const llm_adapter_t *ad, const char *json,
    const char *model, const char *answer, llm_response_t *out,
    llm_error_t *err)
{
    int             rc;
    char           *body;
    size_t          len;
    llm_request_t   req;
    llm_provider_t  p;

    test_embed_req(ctx, json, &req);
    test_embed_provider(&p, test_embed_base(ad), model, NULL);

    /* not NUL-terminated, as the glue hands it over */

    len = strlen(answer);
    body = test_copy(ctx, answer, len);

    memset(err, 0, sizeof(llm_error_t));

    rc = ad->embed_decode(&req, &p, body, len, &ctx->pool, out, err);

    if (rc == LLM_OK) {
        out->body = test_cstr(ctx, out->body, out->body_len);
        assert_null(out->finish_reason);
        assert_null(out->content);
    }

    llm_request_free(&req);

    return rc;
}


static const char *
test_embed_answer(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json, const char *answer, llm_response_t *out)
{
    llm_error_t  err;

    if (test_embed_dec(ctx, ad, json, NULL, answer, out, &err) != LLM_OK) {
        fail_msg("embed_decode failed: %s", err.message);
    }

    return out->body;
}


static void
test_embed_bad(test_ctx_t *ctx, const llm_adapter_t *ad, const char *json,
    const char *answer, const char *message)
{
    llm_error_t     err;
    llm_response_t  out;

    if (test_embed_dec(ctx, ad, json, NULL, answer, &out, &err) != LLM_ERROR)
    {
        fail_msg("accepted: %s", answer);
    }

    assert_int_equal(err.status, 502);
    assert_string_equal(err.type, "api_error");
    assert_string_equal(err.code, "invalid_provider_response");

    if (strstr(err.message, message) == NULL) {
        fail_msg("message \"%s\" does not say \"%s\"", err.message, message);
    }
}


static size_t
test_base64_decode(const char *s, unsigned char *out, size_t size)
{
    size_t       n, i;
    unsigned     v, bits;
    const char  *a, *p;

    static const char  alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    assert_int_equal(strlen(s) % 4, 0);

    n = 0;
    v = 0;
    bits = 0;

    for (p = s; *p != '\0' && *p != '='; p++) {
        a = strchr(alphabet, *p);
        assert_non_null(a);

        v = (v << 6) | (unsigned) (a - alphabet);
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            assert_true(n < size);
            out[n++] = (unsigned char) (v >> bits);
            v &= (1u << bits) - 1;
        }
    }

    /* padding: only '=' to the end, and no bits left over */

    for (i = 0; p[i] != '\0'; i++) {
        assert_int_equal(p[i], '=');
    }

    assert_true(i <= 2);
    assert_int_equal(v, 0);

    return n;
}


/* emb is the base64 of exactly the little-endian float32 of want */

static void
test_embed_floats(const cJSON *emb, const float *want, size_t n)
{
    size_t         i, len;
    uint32_t       bits;
    unsigned char  buf[256];

    assert_true(cJSON_IsString(emb));

    len = test_base64_decode(emb->valuestring, buf, sizeof(buf));
    assert_int_equal(len, n * 4);

    for (i = 0; i < n; i++) {
        memcpy(&bits, &want[i], 4);

        assert_int_equal(buf[i * 4], bits & 0xff);
        assert_int_equal(buf[i * 4 + 1], (bits >> 8) & 0xff);
        assert_int_equal(buf[i * 4 + 2], (bits >> 16) & 0xff);
        assert_int_equal(buf[i * 4 + 3], (bits >> 24) & 0xff);
    }
}


/* {"input":["t0","t1",...]} with n texts */

static const char *
test_texts(test_ctx_t *ctx, size_t n)
{
    char    *s, *p;
    size_t   i;

    s = test_copy(ctx, NULL, 32 + n * 16);
    p = s + sprintf(s, "{\"model\":\"m\",\"input\":[");

    for (i = 0; i < n; i++) {
        p += sprintf(p, "%s\"t%lu\"", i ? "," : "", (unsigned long) i);
    }

    strcpy(p, "]}");

    return s;
}


static void
test_embed_parse_table(void **state)
{
    size_t                     i;
    llm_error_t                err;
    llm_request_t              req;
    test_ctx_t                *ctx = *state;
    const test_embed_parse_t  *t;

    for (i = 0; i < sizeof(test_embed_parse_cases)
                    / sizeof(test_embed_parse_cases[0]); i++)
    {
        t = &test_embed_parse_cases[i];

        memset(&err, 0, sizeof(llm_error_t));

        if (llm_embed_parse_pool(&req, test_copy(ctx, t->body,
                                                 strlen(t->body)),
                                 strlen(t->body), &ctx->pool, &err)
            != (t->ok ? LLM_OK : LLM_ERROR))
        {
            fail_msg("case %lu (%s): %s", (unsigned long) i, t->body,
                     t->ok ? err.message : "accepted");
        }

        if (!t->ok) {
            assert_null(req.root);
            assert_int_equal(err.status, 400);
            assert_string_equal(err.type, "invalid_request_error");

            if (t->param == NULL) {
                assert_null(err.param);

            } else {
                assert_non_null(err.param);
                assert_string_equal(err.param, t->param);
            }

            llm_request_free(&req);
            continue;
        }

        assert_int_equal(req.embed, 1);
        assert_int_equal(req.stream, 0);
        assert_int_equal(req.ninputs, t->ninputs);
        assert_int_equal(req.tokens, t->tokens);
        assert_int_equal(req.base64, t->base64);
        assert_int_equal(req.dimensions, t->dimensions);

        if (t->input_type == NULL) {
            assert_null(req.input_type);

        } else {
            assert_string_equal(req.input_type, t->input_type);
        }

        llm_request_free(&req);
    }

    /* the model, and the BOM skipped in req->body */

    test_embed_req(ctx, "\xef\xbb\xbf{\"model\":\"e-3\",\"input\":\"x\"}",
                   &req);
    assert_string_equal(req.model, "e-3");
    assert_int_equal(req.body[0], '{');
    llm_request_free(&req);
}


static void
test_embed_parse_limits(void **state)
{
    int             rc;
    char           *s, *p;
    size_t          i, n, k;
    llm_error_t     err;
    llm_request_t   req;
    test_ctx_t     *ctx = *state;
    const char     *json;

    json = test_texts(ctx, LLM_EMBED_MAX_INPUTS);
    test_embed_req(ctx, json, &req);
    assert_int_equal(req.ninputs, LLM_EMBED_MAX_INPUTS);
    llm_request_free(&req);

    json = test_texts(ctx, LLM_EMBED_MAX_INPUTS + 1);
    assert_int_equal(llm_embed_parse_pool(&req, json, strlen(json),
                                          &ctx->pool, &err),
                     LLM_ERROR);
    assert_string_equal(err.param, "input");
    assert_string_equal(err.message,
                        "'input' must have at most 2048 items, it has 2049");
    llm_request_free(&req);

    /*
     * 8192 token ids in one input (a chunk as clients cut them), alone or
     * in an array; 8193 are refused
     */

    for (n = 8192; n <= 8193; n++) {
        for (k = 0; k < 2; k++) {
            s = test_copy(ctx, NULL, 32 + 2 * n);
            p = s + sprintf(s, k ? "{\"input\":[[1],[" : "{\"input\":[");

            for (i = 0; i < n; i++) {
                p += sprintf(p, "%s7", i ? "," : "");
            }

            strcpy(p, k ? "]]}" : "]}");

            rc = llm_embed_parse_pool(&req, s, strlen(s), &ctx->pool, &err);

            if (n == 8192) {
                assert_int_equal(rc, LLM_OK);
                assert_int_equal(req.ninputs, k ? 2 : 1);
                assert_int_equal(llm_request_prompt_tokens(&req),
                                 (long) (n + k));

            } else {
                assert_int_equal(rc, LLM_ERROR);
                assert_string_equal(err.param, "input");
                assert_string_equal(err.message, "an input of token ids "
                                    "must have at most 8192 of them");
            }

            llm_request_free(&req);
        }
    }

    /* the chat parser still refuses an embeddings body */

    assert_int_equal(llm_request_parse_pool(&req, "{\"input\":\"a\"}", 13,
                                            &ctx->pool, &err),
                     LLM_ERROR);
    assert_string_equal(err.param, "messages");
    llm_request_free(&req);
}


static void
test_embed_prompt_tokens(void **state)
{
    llm_request_t   req;
    test_ctx_t     *ctx = *state;

    /* 9 bytes: 3 tokens, rounded up */

    test_embed_req(ctx, "{\"input\":\"abcdefghi\"}", &req);
    assert_int_equal(llm_request_prompt_tokens(&req), 3);
    llm_request_free(&req);

    test_embed_req(ctx, "{\"input\":[\"abcd\",\"efgh\",\"ij\"]}", &req);
    assert_int_equal(llm_request_prompt_tokens(&req), 3);
    llm_request_free(&req);

    test_embed_req(ctx, "{\"input\":[5,6,7,8,9]}", &req);
    assert_int_equal(llm_request_prompt_tokens(&req), 5);
    llm_request_free(&req);

    test_embed_req(ctx, "{\"input\":[[5,6],[7],[8,9,10]]}", &req);
    assert_int_equal(llm_request_prompt_tokens(&req), 6);
    llm_request_free(&req);
}


static void
test_embed_openai_encode(void **state)
{
    const char          *body, *json;
    llm_http_request_t   out;
    test_ctx_t          *ctx = *state;

    /* no model of its own: the client's bytes themselves */

    json = "{\"model\":\"text-embedding-3-small\",\"input\":[\"alpha\","
           "\"beta\"],\"dimensions\":4,\"encoding_format\":\"base64\","
           "\"user\":\"u1\"}";

    body = test_embed_body(ctx, &llm_openai_adapter, json, NULL, NULL, &out);
    assert_string_equal(body, json);
    assert_string_equal(out.path, "/v1/embeddings");
    assert_int_equal(out.nheaders, 1);
    assert_string_equal(out.headers[0].name, "Authorization");
    assert_string_equal(out.headers[0].value, "Bearer " TEST_KEY);

    /* the provider's model replaces the client's, in parts */

    body = test_embed_body(ctx, &llm_openai_adapter,
                           "{\"model\":\"x\",\"input\":\"alpha\"}",
                           "text-embedding-3-large", NULL, &out);
    assert_string_equal(body, "{\"model\":\"text-embedding-3-large\","
                        "\"input\":\"alpha\"}");

    /* or comes first when the client named none */

    body = test_embed_body(ctx, &llm_openai_adapter, "{\"input\":[1,2,3]}",
                           "e3", NULL, &out);
    assert_string_equal(body, "{\"model\":\"e3\",\"input\":[1,2,3]}");

    /* token input is relayed */

    body = test_embed_body(ctx, &llm_openai_adapter,
                           "{\"input\":[[1,2],[3]],\"model\":\"m\"}", NULL,
                           NULL, &out);
    assert_string_equal(body, "{\"input\":[[1,2],[3]],\"model\":\"m\"}");
}


static void
test_embed_openai_input_type(void **state)
{
    const char          *body;
    llm_http_request_t   out;
    test_ctx_t          *ctx = *state;

    /* first, in the middle, last; with and without a model change */

    body = test_embed_body(ctx, &llm_openai_adapter,
                           "{\"input_type\":\"search_query\",\"input\":\"a\"}",
                           NULL, NULL, &out);
    assert_string_equal(body, "{\"input\":\"a\"}");

    body = test_embed_body(ctx, &llm_openai_adapter,
                           "{\"input_type\":\"search_query\",\"input\":\"a\"}",
                           "e3", NULL, &out);
    assert_string_equal(body, "{\"model\":\"e3\",\"input\":\"a\"}");

    body = test_embed_body(ctx, &llm_openai_adapter,
                           "{\"model\":\"m\", \"input_type\" : null , "
                           "\"input\":\"a\"}", "e3", NULL, &out);
    assert_string_equal(body, "{\"model\":\"e3\", \"input\":\"a\"}");

    body = test_embed_body(ctx, &llm_openai_adapter,
                           "{\"input\":\"a\",\"model\":\"m\" ,\n"
                           "  \"input_type\":\"clustering\"\n}", "e\"3",
                           NULL, &out);
    assert_string_equal(body, "{\"input\":\"a\",\"model\":\"e\\\"3\" \n}");

    body = test_embed_body(ctx, &llm_openai_adapter,
                           "{\"input\":\"a\",\"input_type\":\"clustering\","
                           "\"dimensions\":8}", NULL, NULL, &out);
    assert_string_equal(body, "{\"input\":\"a\",\"dimensions\":8}");
}


static void
test_embed_mistral_encode(void **state)
{
    const char          *body;
    llm_http_request_t   out;
    test_ctx_t          *ctx = *state;

    body = test_embed_body(ctx, &llm_mistral_adapter,
                           "{\"model\":\"mistral-embed\",\"input\":\"alpha\","
                           "\"encoding_format\":\"base64\",\"user\":\"u\","
                           "\"input_type\":\"search_query\",\"x\":1}",
                           NULL, NULL, &out);
    assert_string_equal(body, "{\"model\":\"mistral-embed\","
                        "\"input\":\"alpha\"}");
    assert_string_equal(out.path, "/v1/embeddings");
    assert_string_equal(out.headers[0].name, "Authorization");
    assert_string_equal(out.headers[0].value, "Bearer " TEST_KEY);

    body = test_embed_body(ctx, &llm_mistral_adapter,
                           "{\"model\":\"x\",\"input\":[\"a\\n\",\"b\"],"
                           "\"dimensions\":512}", "codestral-embed", NULL,
                           &out);
    assert_string_equal(body, "{\"model\":\"codestral-embed\","
                        "\"input\":[\"a\\n\",\"b\"],"
                        "\"output_dimension\":512}");

    test_embed_refused(ctx, &llm_mistral_adapter, "{\"input\":[1,2]}",
                       "unsupported_value", "mistral takes text input only");
    test_embed_refused(ctx, &llm_mistral_adapter, "{\"input\":[[1],[2]]}",
                       "unsupported_value", "mistral takes text input only");
}


static void
test_embed_cohere_encode(void **state)
{
    const char          *body;
    llm_http_request_t   out;
    test_ctx_t          *ctx = *state;

    /* the wire format's example */

    body = test_embed_body(ctx, &llm_cohere_adapter,
                           "{\"model\":\"embed-v4.0\",\"input\":[\"alpha\","
                           "\"beta\"],\"encoding_format\":\"base64\"}",
                           NULL, NULL, &out);
    assert_string_equal(body, "{\"model\":\"embed-v4.0\","
                        "\"input_type\":\"search_document\","
                        "\"embedding_types\":[\"float\"],"
                        "\"texts\":[\"alpha\",\"beta\"]}");
    assert_string_equal(out.path, "/v2/embed");
    assert_int_equal(out.nheaders, 1);
    assert_string_equal(out.headers[0].value, "Bearer " TEST_KEY);

    /* a string is one text; the provider's input_type, dimensions */

    body = test_embed_body(ctx, &llm_cohere_adapter,
                           "{\"model\":\"x\",\"input\":\"q?\","
                           "\"dimensions\":256}", "embed-v4.0",
                           "search_query", &out);
    assert_string_equal(body, "{\"model\":\"embed-v4.0\","
                        "\"input_type\":\"search_query\","
                        "\"embedding_types\":[\"float\"],"
                        "\"texts\":[\"q?\"],\"output_dimension\":256}");

    /* the request's input_type wins over the provider's */

    body = test_embed_body(ctx, &llm_cohere_adapter,
                           "{\"input\":\"q\",\"input_type\":"
                           "\"classification\"}", "embed-v4.0",
                           "search_query", &out);
    assert_string_equal(body, "{\"model\":\"embed-v4.0\","
                        "\"input_type\":\"classification\","
                        "\"embedding_types\":[\"float\"],"
                        "\"texts\":[\"q\"]}");

    test_embed_refused(ctx, &llm_cohere_adapter, "{\"input\":[[1],[2]]}",
                       "unsupported_value", "cohere takes text input only");
}


static void
test_embed_cohere_limit(void **state)
{
    llm_http_request_t   out;
    test_ctx_t          *ctx = *state;

    test_embed_body(ctx, &llm_cohere_adapter, test_texts(ctx, 96), NULL,
                    NULL, &out);

    test_embed_refused(ctx, &llm_cohere_adapter, test_texts(ctx, 97),
                       "too_many_inputs", "cohere takes at most 96 inputs "
                       "per request, the request has 97");
}


static void
test_embed_gemini_encode(void **state)
{
    const char          *body;
    llm_error_t          err;
    llm_http_request_t   out;
    test_ctx_t          *ctx = *state;

    body = test_embed_body(ctx, &llm_gemini_adapter,
                           "{\"model\":\"gemini-embedding-001\",\"input\":"
                           "[\"alpha\",\"beta\"],\"dimensions\":4}",
                           NULL, NULL, &out);
    assert_string_equal(body, "{\"requests\":["
                        "{\"model\":\"models/gemini-embedding-001\","
                        "\"content\":{\"parts\":[{\"text\":\"alpha\"}]},"
                        "\"outputDimensionality\":4},"
                        "{\"model\":\"models/gemini-embedding-001\","
                        "\"content\":{\"parts\":[{\"text\":\"beta\"}]},"
                        "\"outputDimensionality\":4}]}");
    assert_string_equal(out.path, "/v1beta/models/gemini-embedding-001"
                        ":batchEmbedContents");
    assert_int_equal(out.nheaders, 1);
    assert_string_equal(out.headers[0].name, "x-goog-api-key");
    assert_string_equal(out.headers[0].value, TEST_KEY);

    /* input_type as taskType; "models/" in the name is not doubled */

    body = test_embed_body(ctx, &llm_gemini_adapter,
                           "{\"input\":\"q\",\"input_type\":\"search_query\"}",
                           "models/text-embedding-004", "CLUSTERING", &out);
    assert_string_equal(body, "{\"requests\":["
                        "{\"model\":\"models/text-embedding-004\","
                        "\"content\":{\"parts\":[{\"text\":\"q\"}]},"
                        "\"taskType\":\"RETRIEVAL_QUERY\"}]}");
    assert_string_equal(out.path, "/v1beta/models/text-embedding-004"
                        ":batchEmbedContents");

    body = test_embed_body(ctx, &llm_gemini_adapter,
                           "{\"input\":\"d\",\"input_type\":"
                           "\"search_document\"}", "g", NULL, &out);
    assert_non_null(strstr(body, "\"taskType\":\"RETRIEVAL_DOCUMENT\""));

    body = test_embed_body(ctx, &llm_gemini_adapter,
                           "{\"input\":\"d\",\"input_type\":"
                           "\"classification\"}", "g", NULL, &out);
    assert_non_null(strstr(body, "\"taskType\":\"CLASSIFICATION\""));

    /* the provider's taskType as given */

    body = test_embed_body(ctx, &llm_gemini_adapter, "{\"input\":\"d\"}",
                           "g", "SEMANTIC_SIMILARITY", &out);
    assert_string_equal(body, "{\"requests\":[{\"model\":\"models/g\","
                        "\"content\":{\"parts\":[{\"text\":\"d\"}]},"
                        "\"taskType\":\"SEMANTIC_SIMILARITY\"}]}");

    test_embed_refused(ctx, &llm_gemini_adapter, "{\"input\":[1,2]}",
                       "unsupported_value", "gemini takes text input only");

    /* a model that cannot go into the path */

    assert_int_equal(test_embed_enc(ctx, &llm_gemini_adapter,
                                    "{\"model\":\"a/b\",\"input\":\"x\"}",
                                    NULL, NULL, &out, &err),
                     LLM_ERROR);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.param, "model");

    assert_int_equal(test_embed_enc(ctx, &llm_gemini_adapter,
                                    "{\"input\":\"x\"}", NULL, NULL, &out,
                                    &err),
                     LLM_ERROR);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.param, "model");
}


static void
test_embed_gemini_limit(void **state)
{
    llm_http_request_t   out;
    test_ctx_t          *ctx = *state;

    test_embed_body(ctx, &llm_gemini_adapter, test_texts(ctx, 100), NULL,
                    NULL, &out);

    test_embed_refused(ctx, &llm_gemini_adapter, test_texts(ctx, 101),
                       "too_many_inputs", "gemini takes at most 100 inputs "
                       "per request, the request has 101");

    /* OpenAI's own limit is the parser's; Mistral sets none */

    test_embed_body(ctx, &llm_openai_adapter, test_texts(ctx, 2048), NULL,
                    NULL, &out);
    test_embed_body(ctx, &llm_mistral_adapter, test_texts(ctx, 2048), NULL,
                    NULL, &out);

    assert_int_equal(llm_openai_adapter.embed_max_inputs, 2048);
    assert_int_equal(llm_mistral_adapter.embed_max_inputs, 0);
    assert_int_equal(llm_cohere_adapter.embed_max_inputs, 96);
    assert_int_equal(llm_gemini_adapter.embed_max_inputs, 100);
}


/* long texts go out as the client's bytes, not copied */

static void
test_embed_long_text(void **state)
{
    char                *json, *p;
    size_t               i, k;
    cJSON               *root;
    llm_error_t          err;
    llm_http_request_t   out;
    test_ctx_t          *ctx = *state;

    const llm_adapter_t  *ads[] = {
        &llm_mistral_adapter, &llm_cohere_adapter, &llm_gemini_adapter
    };

    json = test_copy(ctx, NULL, 4096);
    p = json + sprintf(json, "{\"model\":\"m\",\"input\":[\"");

    for (i = 0; i < 1000; i++) {
        *p++ = (char) ('a' + i % 26);
    }

    strcpy(p, "\\u00e9\",\"short\"]}");

    for (k = 0; k < 3; k++) {
        assert_int_equal(test_embed_enc(ctx, ads[k], json, NULL, NULL, &out,
                                        &err),
                         LLM_OK);
        assert_true(out.nparts >= 3);

        root = test_json(out.body, out.body_len);
        assert_non_null(root);
        assert_non_null(strstr(out.body, "hijkl\\u00e9\""));
        assert_non_null(strstr(out.body, "\"short\""));
        cJSON_Delete(root);
    }
}


static void
test_embed_no_anthropic(void **state)
{
    (void) state;

    assert_null(llm_anthropic_adapter.embed_encode);
    assert_null(llm_anthropic_adapter.embed_decode);

    assert_non_null(llm_openai_adapter.embed_encode);
    assert_null(llm_openai_adapter.embed_decode);
    assert_int_equal(llm_openai_adapter.embed_relay_float, 0);
    assert_int_equal(llm_mistral_adapter.embed_relay_float, 1);
    assert_int_equal(llm_cohere_adapter.embed_relay_float, 0);
    assert_int_equal(llm_gemini_adapter.embed_relay_float, 0);
}


#define COHERE_ANSWER                                                         \
    "{\"id\":\"e5f1-t1\",\"response_type\":\"embeddings_by_type\","           \
    "\"texts\":[\"alpha\",\"beta\"],"                                         \
    "\"embeddings\":{\"float\":[[0.12,-0.40,0.33],[-0.07, 0.51, 0.62]]},"     \
    "\"meta\":{\"api_version\":{\"version\":\"2\"},"                          \
    "\"billed_units\":{\"input_tokens\":2}}}"


static void
test_embed_cohere_decode(void **state)
{
    cJSON           *root, *data;
    const char      *body;
    llm_response_t   out;
    test_ctx_t      *ctx = *state;

    static const float  v0[] = { 0.12f, -0.40f, 0.33f };
    static const float  v1[] = { -0.07f, 0.51f, 0.62f };

    body = test_embed_answer(ctx, &llm_cohere_adapter,
                             "{\"model\":\"embed-v4.0\",\"input\":"
                             "[\"alpha\",\"beta\"]}", COHERE_ANSWER, &out);
    assert_string_equal(body,
        "{\"object\":\"list\",\"data\":["
        "{\"object\":\"embedding\",\"index\":0,"
        "\"embedding\":[0.12,-0.40,0.33]},"
        "{\"object\":\"embedding\",\"index\":1,"
        "\"embedding\":[-0.07, 0.51, 0.62]}],"
        "\"model\":\"embed-v4.0\","
        "\"usage\":{\"prompt_tokens\":2,\"total_tokens\":2}}");
    assert_int_equal(out.usage.prompt_tokens, 2);
    assert_int_equal(out.usage.total_tokens, 2);
    assert_int_equal(out.usage.completion_tokens, -1);

    /* base64 */

    body = test_embed_answer(ctx, &llm_cohere_adapter,
                             "{\"model\":\"embed-v4.0\",\"input\":"
                             "[\"alpha\",\"beta\"],\"encoding_format\":"
                             "\"base64\"}", COHERE_ANSWER, &out);

    root = test_json(body, strlen(body));
    assert_non_null(root);
    data = cJSON_GetObjectItem(root, "data");
    assert_int_equal(cJSON_GetArraySize(data), 2);
    test_embed_floats(cJSON_GetObjectItem(cJSON_GetArrayItem(data, 0),
                                          "embedding"), v0, 3);
    test_embed_floats(cJSON_GetObjectItem(cJSON_GetArrayItem(data, 1),
                                          "embedding"), v1, 3);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "usage"),
                                         "prompt_tokens")->valueint, 2);
    cJSON_Delete(root);

    /* no billed_units: no usage; the provider's model names the answer */

    body = test_embed_answer(ctx, &llm_cohere_adapter,
                             "{\"model\":\"x\",\"input\":\"alpha\"}",
                             "{\"embeddings\":{\"float\":[[1,2e-3]],"
                             "\"int8\":null},\"meta\":{}}", &out);
    assert_string_equal(body,
        "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
        "\"index\":0,\"embedding\":[1,2e-3]}],\"model\":\"x\"}");
    assert_int_equal(out.usage.prompt_tokens, -1);
    assert_int_equal(out.usage.total_tokens, -1);

    body = test_embed_answer(ctx, &llm_cohere_adapter,
                             "{\"input\":\"alpha\"}",
                             "{\"embeddings\":{\"float\":[[1]]}}", &out);
    assert_null(strstr(body, "usage"));
}


#define GEMINI_ANSWER                                                         \
    "{\n  \"embeddings\": [\n    {\n      \"values\": [\n        0.25,\n"    \
    "        -1.5,\n        3e2\n      ]\n    },\n    {\n"                   \
    "      \"values\": [0, -0.0, 1E-2]\n    }\n  ]\n}\n"


static void
test_embed_gemini_decode(void **state)
{
    cJSON           *root, *data;
    const char      *body;
    llm_response_t   out;
    test_ctx_t      *ctx = *state;

    static const float  v0[] = { 0.25f, -1.5f, 300.0f };
    static const float  v1[] = { 0.0f, -0.0f, 0.01f };

    body = test_embed_answer(ctx, &llm_gemini_adapter,
                             "{\"model\":\"models/gemini-embedding-001\","
                             "\"input\":[\"a\",\"b\"]}", GEMINI_ANSWER,
                             &out);

    root = test_json(body, strlen(body));
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItem(root, "object")->valuestring,
                        "list");
    assert_string_equal(cJSON_GetObjectItem(root, "model")->valuestring,
                        "gemini-embedding-001");
    assert_null(cJSON_GetObjectItem(root, "usage"));

    data = cJSON_GetObjectItem(root, "data");
    assert_int_equal(cJSON_GetArraySize(data), 2);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(data, 1),
                                         "index")->valueint, 1);
    assert_true(cJSON_GetArrayItem(cJSON_GetObjectItem(
                    cJSON_GetArrayItem(data, 0), "embedding"), 2)
                ->valuedouble == 300.0);
    cJSON_Delete(root);

    assert_int_equal(out.usage.prompt_tokens, -1);
    assert_int_equal(out.usage.total_tokens, -1);

    body = test_embed_answer(ctx, &llm_gemini_adapter,
                             "{\"model\":\"g\",\"input\":[\"a\",\"b\"],"
                             "\"encoding_format\":\"base64\"}",
                             GEMINI_ANSWER, &out);

    root = test_json(body, strlen(body));
    assert_non_null(root);
    data = cJSON_GetObjectItem(root, "data");
    test_embed_floats(cJSON_GetObjectItem(cJSON_GetArrayItem(data, 0),
                                          "embedding"), v0, 3);
    test_embed_floats(cJSON_GetObjectItem(cJSON_GetArrayItem(data, 1),
                                          "embedding"), v1, 3);
    assert_null(cJSON_GetObjectItem(root, "usage"));
    cJSON_Delete(root);
}


#define MISTRAL_ANSWER                                                        \
    "{\"id\":\"emb-1\",\"object\":\"list\",\"data\":["                        \
    "{\"object\":\"embedding\",\"embedding\":[0.5,-2],\"index\":1},"         \
    "{\"object\":\"embedding\",\"embedding\":[-0.125,8],\"index\":0}],"      \
    "\"model\":\"mistral-embed\",\"usage\":{\"prompt_tokens\":7,"            \
    "\"total_tokens\":7,\"completion_tokens\":0}}"


static void
test_embed_mistral_decode(void **state)
{
    cJSON           *root, *data;
    const char      *body;
    llm_response_t   out;
    test_ctx_t      *ctx = *state;

    static const float  v0[] = { -0.125f, 8.0f };
    static const float  v1[] = { 0.5f, -2.0f };

    /* in the order of "index" */

    body = test_embed_answer(ctx, &llm_mistral_adapter,
                             "{\"model\":\"m\",\"input\":[\"a\",\"b\"]}",
                             MISTRAL_ANSWER, &out);
    assert_string_equal(body,
        "{\"object\":\"list\",\"data\":["
        "{\"object\":\"embedding\",\"index\":0,\"embedding\":[-0.125,8]},"
        "{\"object\":\"embedding\",\"index\":1,\"embedding\":[0.5,-2]}],"
        "\"model\":\"mistral-embed\","
        "\"usage\":{\"prompt_tokens\":7,\"total_tokens\":7}}");
    assert_int_equal(out.usage.prompt_tokens, 7);
    assert_int_equal(out.usage.total_tokens, 7);

    body = test_embed_answer(ctx, &llm_mistral_adapter,
                             "{\"model\":\"m\",\"input\":[\"a\",\"b\"],"
                             "\"encoding_format\":\"base64\"}",
                             MISTRAL_ANSWER, &out);
    root = test_json(body, strlen(body));
    assert_non_null(root);
    data = cJSON_GetObjectItem(root, "data");
    test_embed_floats(cJSON_GetObjectItem(cJSON_GetArrayItem(data, 0),
                                          "embedding"), v0, 2);
    test_embed_floats(cJSON_GetObjectItem(cJSON_GetArrayItem(data, 1),
                                          "embedding"), v1, 2);
    cJSON_Delete(root);

    /* no index, no model, no usage: in order, the model sent, none */

    body = test_embed_answer(ctx, &llm_mistral_adapter,
                             "{\"model\":\"m\",\"input\":\"a\"}",
                             "{\"data\":[{\"embedding\":[1]}]}", &out);
    assert_string_equal(body,
        "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
        "\"index\":0,\"embedding\":[1]}],\"model\":\"m\"}");
    assert_int_equal(out.usage.prompt_tokens, -1);
}


static void
test_embed_decode_errors(void **state)
{
    test_ctx_t  *ctx = *state;

    const char  *two = "{\"model\":\"m\",\"input\":[\"a\",\"b\"]}";

    /* cohere */

    test_embed_bad(ctx, &llm_cohere_adapter, two,
                   "{\"embeddings\":{\"float\":[[1,2]]}}",
                   "has 1 vectors for 2 inputs");
    test_embed_bad(ctx, &llm_cohere_adapter, two,
                   "{\"embeddings\":{\"float\":[[1],[2],[3]]}}",
                   "has 3 vectors for 2 inputs");
    test_embed_bad(ctx, &llm_cohere_adapter, two,
                   "{\"embeddings\":{\"float\":[[1,2],[3]]}}",
                   "embedding 1 has 1 dimensions, embedding 0 has 2");
    test_embed_bad(ctx, &llm_cohere_adapter, two,
                   "{\"embeddings\":{\"float\":[[1,\"2\"],[3,4]]}}",
                   "embedding 0 is not a non-empty array of numbers");
    test_embed_bad(ctx, &llm_cohere_adapter, two,
                   "{\"embeddings\":{\"float\":[[1,2],[null,4]]}}",
                   "embedding 1 is not");
    test_embed_bad(ctx, &llm_cohere_adapter, two,
                   "{\"embeddings\":{\"float\":[[],[]]}}",
                   "embedding 0 is not");
    test_embed_bad(ctx, &llm_cohere_adapter, two,
                   "{\"embeddings\":{\"float\":[[[1]],[[2]]]}}",
                   "embedding 0 is not");
    test_embed_bad(ctx, &llm_cohere_adapter, two,
                   "{\"embeddings\":{\"float\":[1,2]}}",
                   "embedding 0 is not");
    test_embed_bad(ctx, &llm_cohere_adapter, two,
                   "{\"embeddings\":{\"float\":{\"0\":[1]}}}",
                   "is not an array");
    test_embed_bad(ctx, &llm_cohere_adapter, two,
                   "{\"embeddings\":{\"int8\":[[1],[2]]}}",
                   "no \"embeddings\".\"float\"");
    test_embed_bad(ctx, &llm_cohere_adapter, two,
                   "{\"embeddings\":[[1],[2]]}",
                   "no \"embeddings\".\"float\"");
    test_embed_bad(ctx, &llm_cohere_adapter, two, "{\"id\":\"x\"}",
                   "has no \"embeddings\"");
    test_embed_bad(ctx, &llm_cohere_adapter, two, "[[1],[2]]",
                   "is not an object");
    test_embed_bad(ctx, &llm_cohere_adapter, two,
                   "{\"embeddings\":{\"float\":[[1],[2]]},}",
                   "not valid JSON");
    test_embed_bad(ctx, &llm_cohere_adapter, two,
                   "{\"embeddings\":{\"float\":[[1],[NaN]]}}",
                   "not valid JSON");
    test_embed_bad(ctx, &llm_cohere_adapter, two, "", "not valid JSON");
    test_embed_bad(ctx, &llm_cohere_adapter, two,
                   "{\"embeddings\":{\"float\":[[1],[2]]},"
                   "\"meta\":\"x\"}", "\"meta\" is not an object");

    /* gemini */

    test_embed_bad(ctx, &llm_gemini_adapter, two,
                   "{\"embeddings\":[{\"values\":[1]}]}",
                   "has 1 embeddings for 2 inputs");
    test_embed_bad(ctx, &llm_gemini_adapter, two,
                   "{\"embeddings\":[{\"values\":[1]},{\"values\":[1,2]}]}",
                   "embedding 1 has 2 dimensions");
    test_embed_bad(ctx, &llm_gemini_adapter, two,
                   "{\"embeddings\":[{\"values\":[1]},{\"value\":[1]}]}",
                   "embeddings[1] has no \"values\"");
    test_embed_bad(ctx, &llm_gemini_adapter, two,
                   "{\"embeddings\":[{\"values\":[1]},[1]]}",
                   "embeddings[1] is not an object");
    test_embed_bad(ctx, &llm_gemini_adapter, two,
                   "{\"embeddings\":[{\"values\":[true]},{\"values\":[1]}]}",
                   "embedding 0 is not");
    test_embed_bad(ctx, &llm_gemini_adapter, two,
                   "{\"embedding\":{\"values\":[1]}}",
                   "has no \"embeddings\"");
    test_embed_bad(ctx, &llm_gemini_adapter, two,
                   "{\"embeddings\":{\"values\":[1]}}",
                   "\"embeddings\" is not an array");
    test_embed_bad(ctx, &llm_gemini_adapter, two, "{\"embeddings\":[",
                   "not valid JSON");

    /* mistral */

    test_embed_bad(ctx, &llm_mistral_adapter, two,
                   "{\"data\":[{\"embedding\":[1]}]}",
                   "has 1 embeddings for 2 inputs");
    test_embed_bad(ctx, &llm_mistral_adapter, two,
                   "{\"data\":[{\"embedding\":[1],\"index\":0},"
                   "{\"embedding\":[2],\"index\":0}]}",
                   "data[1] has an \"index\" out of range, or one seen");
    test_embed_bad(ctx, &llm_mistral_adapter, two,
                   "{\"data\":[{\"embedding\":[1],\"index\":2},"
                   "{\"embedding\":[2],\"index\":0}]}",
                   "data[0] has an \"index\" out of range");
    test_embed_bad(ctx, &llm_mistral_adapter, two,
                   "{\"data\":[{\"embedding\":[1],\"index\":1},"
                   "{\"embedding\":[2]}]}",
                   "data[1]: index 1 was seen before");
    test_embed_bad(ctx, &llm_mistral_adapter, two,
                   "{\"data\":[{\"embedding\":\"AAAA\"},"
                   "{\"embedding\":\"AAAA\"}]}",
                   "embedding 0 is not");
    test_embed_bad(ctx, &llm_mistral_adapter, two,
                   "{\"data\":[{\"embedding\":[1]},{\"embedding\":[2]}],"
                   "\"model\":5}", "\"model\" is not a string");
    test_embed_bad(ctx, &llm_mistral_adapter, two,
                   "{\"data\":[{\"embedding\":[1]},{\"embedding\":[2]}],"
                   "\"usage\":[]}", "\"usage\" is not an object");
    test_embed_bad(ctx, &llm_mistral_adapter, two, "{\"object\":\"list\"}",
                   "has no \"data\"");
    test_embed_bad(ctx, &llm_mistral_adapter, two,
                   "{\"data\":[1,2]}", "data[0] is not an object");
}


static void
test_embed_render_base64(void **state)
{
    size_t           i;
    cJSON           *root, *data;
    llm_error_t      err;
    llm_usage_t      usage;
    llm_slice_t      v[3];
    llm_request_t    req;
    llm_response_t   out;
    test_ctx_t      *ctx = *state;

    static const float  f1[] = { 1.0f };
    static const float  f2[] = { 1.0f, -2.5f };
    static const float  f3[] = { 0.1f, 1e-7f, 3.4e38f };

    /* 4, 8 and 12 bytes: "==", "=", and no padding */

    test_embed_req(ctx, "{\"input\":[\"a\"],\"encoding_format\":\"base64\"}",
                   &req);

    llm_usage_none(&usage);
    usage.prompt_tokens = 5;

    v[0].data = "[1]";
    v[0].len = 3;

    assert_int_equal(llm_embed_render(&req, "m", v, 1, &usage, &ctx->pool,
                                      &out, &err),
                     LLM_OK);
    assert_string_equal(out.body,
        "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
        "\"index\":0,\"embedding\":\"AACAPw==\"}],\"model\":\"m\","
        "\"usage\":{\"prompt_tokens\":5,\"total_tokens\":5}}");
    assert_int_equal(out.body_len, strlen(out.body));
    assert_int_equal(out.usage.total_tokens, 5);

    root = test_json(out.body, out.body_len);
    test_embed_floats(cJSON_GetObjectItem(cJSON_GetArrayItem(
        cJSON_GetObjectItem(root, "data"), 0), "embedding"), f1, 1);
    cJSON_Delete(root);

    v[0].data = " [ 1.0 , -25E-1 ] ";
    v[0].len = strlen(v[0].data);

    assert_int_equal(llm_embed_render(&req, "m", v, 1, NULL, &ctx->pool,
                                      &out, &err),
                     LLM_OK);
    assert_non_null(strstr(out.body, "\"AACAPwAAIMA=\""));
    root = test_json(out.body, out.body_len);
    test_embed_floats(cJSON_GetObjectItem(cJSON_GetArrayItem(
        cJSON_GetObjectItem(root, "data"), 0), "embedding"), f2, 2);
    assert_null(cJSON_GetObjectItem(root, "usage"));
    cJSON_Delete(root);

    /* the float32 nearest to each number, as strtof() rounds */

    for (i = 0; i < 3; i++) {
        v[i].data = "[0.1,1e-7,3.4e38]";
        v[i].len = strlen(v[i].data);
    }

    assert_int_equal(llm_embed_render(&req, NULL, v, 3, NULL, &ctx->pool,
                                      &out, &err),
                     LLM_OK);
    root = test_json(out.body, out.body_len);
    data = cJSON_GetObjectItem(root, "data");
    assert_int_equal(cJSON_GetArraySize(data), 3);

    for (i = 0; i < 3; i++) {
        test_embed_floats(cJSON_GetObjectItem(cJSON_GetArrayItem(data,
                                                                 (int) i),
                                              "embedding"), f3, 3);
    }

    assert_string_equal(cJSON_GetObjectItem(root, "model")->valuestring, "");
    cJSON_Delete(root);

    /* not an array of numbers */

    v[0].data = "[1,2]x";
    v[0].len = strlen(v[0].data);

    assert_int_equal(llm_embed_render(&req, "m", v, 1, NULL, &ctx->pool,
                                      &out, &err),
                     LLM_ERROR);
    assert_int_equal(err.status, 502);

    v[0].data = "[1,2";
    v[0].len = strlen(v[0].data);

    assert_int_equal(llm_embed_render(&req, "m", v, 1, NULL, &ctx->pool,
                                      &out, &err),
                     LLM_ERROR);
    assert_string_equal(err.code, "invalid_provider_response");

    llm_request_free(&req);
}


static void
test_embed_render_nomem(void **state)
{
    int              rc;
    size_t           fail;
    llm_error_t      err;
    llm_request_t    req;
    llm_provider_t   p;
    llm_response_t   out;
    test_ctx_t      *ctx = *state;

    test_embed_provider(&p, "/v2", "m", NULL);

    for (fail = 0; fail < 8; fail++) {
        test_embed_req(ctx, "{\"input\":[\"a\",\"b\"],"
                       "\"encoding_format\":\"base64\"}", &req);

        ctx->fail_at = ctx->count + fail + 1;

        rc = llm_cohere_adapter.embed_decode(&req, &p, COHERE_ANSWER,
                                             strlen(COHERE_ANSWER),
                                             &ctx->pool, &out, &err);
        ctx->fail_at = 0;

        llm_request_free(&req);

        if (rc == LLM_OK) {
            break;
        }

        assert_int_equal(err.status, 500);
        assert_string_equal(err.message, "out of memory");
    }

    /* each allocation failed once, then all went through */

    assert_true(fail > 0);
    assert_true(fail < 8);
}


/* base64 of one number: the float32 strtof() gives, bit for bit */

static void
test_embed_float_one(test_ctx_t *ctx, llm_request_t *req, const char *num)
{
    char            *v, *end;
    float            want;
    cJSON           *root;
    uint32_t         bits, got;
    llm_error_t      err;
    llm_slice_t      s;
    llm_response_t   out;
    unsigned char    b[8];
    const cJSON     *emb;

    v = test_copy(ctx, NULL, strlen(num) + 3);
    sprintf(v, "[%s]", num);

    s.data = v;
    s.len = strlen(v);

    if (llm_embed_render(req, "m", &s, 1, NULL, &ctx->pool, &out, &err)
        != LLM_OK)
    {
        fail_msg("%s: %s", num, err.message);
    }

    root = test_json(out.body, out.body_len);
    emb = cJSON_GetObjectItem(cJSON_GetArrayItem(
              cJSON_GetObjectItem(root, "data"), 0), "embedding");

    assert_int_equal(test_base64_decode(emb->valuestring, b, sizeof(b)), 4);
    cJSON_Delete(root);

    want = strtof(num, &end);
    assert_true(*end == '\0');

    memcpy(&bits, &want, 4);
    got = (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16
          | (uint32_t) b[3] << 24;

    if (got != bits) {
        fail_msg("%s: 0x%08x, strtof() gives 0x%08x", num, got, bits);
    }
}


static void
test_embed_float_exact(void **state)
{
    char            *p, num[64];
    size_t           i, k, n;
    llm_request_t    req;
    test_ctx_t      *ctx = *state;
    unsigned long    x;

    static const char  *const edges[] = {
        "0", "-0", "0.0", "-0.0e5", "1", "-1", "0.1", "1e-7", "3.4e38",
        "1.0000000596046448",            /* a midpoint as a double: up */
        "1.0000000596046446",
        "5.223202460911125e-4",          /* a midpoint as a double, from */
        "5.331508485478385e+20",         /*   16 digits: up, up, down */
        "8.340712987038313e+23",
        "1.00000005960464477539062",     /* more digits than 19 */
        "1.000000059604644775390625",    /* the midpoint: to even */
        "3.4028234663852886e38",         /* FLT_MAX */
        "3.4028235677973366e38",         /* past it: inf */
        "1.1754943508222875e-38",        /* FLT_MIN */
        "1.1754942e-38",                 /* subnormal */
        "1e-45", "1e-46", "7e-46", "1e39", "-1e39",
        "9007199254740993", "9007199254740992e-22", "123456789e-22",
        "1e22", "1e23", "12345678901234567890", "0.000000000000000000001",
        "-0.012924194", "0.04663086", "2E+2", "5e-0", "1e0000000000000005",
        NULL
    };

    test_embed_req(ctx, "{\"input\":\"a\",\"encoding_format\":"
                   "\"base64\"}", &req);

    for (i = 0; edges[i] != NULL; i++) {
        test_embed_float_one(ctx, &req, edges[i]);
    }

    /* numbers of every shape the providers write, and others */

    x = 1;

    for (i = 0; i < 20000; i++) {
        p = num;

        x = x * 6364136223846793005UL + 1442695040888963407UL;

        if (x >> 63) {
            *p++ = '-';
        }

        n = 1 + (x >> 20) % 20;

        x = x * 6364136223846793005UL + 1442695040888963407UL;

        if ((x >> 40) & 1) {
            *p++ = '0';
            *p++ = '.';

            for (k = 0; k < n; k++) {
                x = x * 6364136223846793005UL + 1442695040888963407UL;
                *p++ = (char) ('0' + (x >> 33) % 10);
            }

        } else {
            x = x * 6364136223846793005UL + 1442695040888963407UL;
            *p++ = (char) ('1' + (x >> 33) % 9);

            for (k = 1; k < n; k++) {
                x = x * 6364136223846793005UL + 1442695040888963407UL;
                *p++ = (char) ('0' + (x >> 33) % 10);

                if (k == n / 2 && k + 1 < n && ((x >> 50) & 1)) {
                    *p++ = '.';
                }
            }
        }

        x = x * 6364136223846793005UL + 1442695040888963407UL;

        if ((x >> 45) & 1) {
            p += sprintf(p, "e%d", (int) ((x >> 20) % 90) - 50);
        }

        *p = '\0';

        test_embed_float_one(ctx, &req, num);
    }

    llm_request_free(&req);
}


/* the raw scanners the decoders use, on every prefix of their input */

static void
test_embed_json_helpers(void **state)
{
    char                  *b;
    size_t                 i, n, pos, len;
    llm_json_span_t        span, spans[3];
    test_ctx_t            *ctx = *state;
    const unsigned char   *p;

    static const char  *const names[] = { "c", "a", "zz", NULL };

    static const char  doc[] =
        "{\"a\":[1111,2222,3333,4444],\"b\":{\"k\":\"]x\"},\"c\":[]}";

    static const struct {
        const char  *text;
        long         n;                  /* -1: not an array of numbers */
    } nums[] = {
        { "[1, 2 ,3]", 3 }, { " [ ] ", 0 }, { "[-0.5e+3,1E2]", 2 },
        { "[1,]", -1 }, { "[1 2]", -1 }, { "[01]", -1 }, { "[1", -1 },
        { "[-]", -1 }, { "[1.]", -1 }, { "[\"1\"]", -1 }, { "[,1]", -1 },
        { "[null]", -1 }, { "{}", -1 }, { "", -1 },
    };

    for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        len = strlen(nums[i].text);
        b = test_copy(ctx, nums[i].text, len);

        p = llm_json_numbers((const unsigned char *) b,
                             (const unsigned char *) b + len, &n);

        if (nums[i].n < 0) {
            assert_null(p);

        } else {
            assert_non_null(p);
            assert_int_equal(n, nums[i].n);
        }
    }

    len = sizeof(doc) - 1;
    b = test_copy(ctx, doc, len);

    assert_int_equal(llm_json_members(b, len, names, spans), LLM_OK);
    assert_int_equal(spans[0].end - spans[0].value, 2);
    assert_memory_equal(b + spans[1].value, "[1111", 5);
    assert_int_equal(spans[2].end, 0);

    assert_int_equal(llm_json_member(b, len, "b", &span), LLM_OK);
    assert_int_equal(span.end - span.value, 10);
    assert_memory_equal(b + span.value, "{\"k\":\"]x\"}", 10);

    pos = 0;
    n = 0;

    while (llm_json_element(b + spans[1].value,
                            spans[1].end - spans[1].value, &pos, &span)
           == LLM_OK)
    {
        n++;
    }

    assert_int_equal(n, 4);

    pos = 0;
    assert_int_equal(llm_json_element("[1,]", 4, &pos, &span), LLM_OK);
    assert_int_equal(llm_json_element("[1,]", 4, &pos, &span), LLM_ERROR);
    pos = 0;
    assert_int_equal(llm_json_element("[]", 2, &pos, &span), LLM_DECLINED);
    pos = 0;
    assert_int_equal(llm_json_element("{}", 2, &pos, &span), LLM_ERROR);

    /*
     * every cut of the document: never a byte past it (ASan), and "c" is
     * found only once its "[]" is all there
     */

    for (i = 0; i < len; i++) {
        b = test_copy(ctx, doc, i);

        if (llm_json_members(b, i, names, spans) == LLM_OK
            && spans[0].end != 0)
        {
            assert_true(i >= len - 1);
        }

        pos = 0;

        if (i > 5) {
            while (llm_json_element(b + 5, i - 5, &pos, &span) == LLM_OK) {
                /* void */
            }
        }
    }
}


/*
 * The two scanners of checked JSON: arrays of numbers told from other
 * arrays and counted as the strict scanner counts them, at every length
 * around the sixteen-byte steps and past the 255-step sums; the first
 * structural byte found past letters that look like one to the vector
 * test ('Y', 'y', '_').
 */

static void
test_embed_valid_numbers(void **state)
{
    char                  *b;
    size_t                 i, k, n, m, len;
    test_ctx_t            *ctx = *state;
    const unsigned char   *p, *q, *last;

    static const char  *const others[] = {
        "[1,\"2\"]", "[1,true]", "[false]", "[null,1]", "[1,[2]]",
        "[{},1]", "{\"a\":1}", "\"x\"", "1"
    };

    static const char  *const forms[] = { "%s%d", "%s-%d.25e-3", "%s %d " };

    /* up to 1200 numbers: 16-byte steps, their tails, several 255-sums */

    for (k = 0; k < 3; k++) {
        for (n = 0; n <= 1200; n += (n < 40) ? 1 : 97) {
            len = 8 + n * 16;
            b = test_copy(ctx, NULL, len + 1);
            m = 0;
            m += (size_t) sprintf(b + m, " [");

            for (i = 0; i < n; i++) {
                m += (size_t) sprintf(b + m, forms[k], i ? "," : "",
                                      (int) (i * 7919 % 100000));
            }

            m += (size_t) sprintf(b + m, "] ");

            last = (const unsigned char *) b + m;

            p = llm_json_valid_numbers((const unsigned char *) b, last, &i);
            q = llm_json_numbers((const unsigned char *) b, last, &len);

            assert_non_null(p);
            assert_ptr_equal(p, q);
            assert_int_equal(i, n);
            assert_int_equal(len, n);
        }
    }

    for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        len = strlen(others[i]);
        b = test_copy(ctx, others[i], len);

        assert_null(llm_json_valid_numbers((const unsigned char *) b,
                                           (const unsigned char *) b + len,
                                           &n));
    }

    /* a string after 40 numbers: found past the sixteen-byte steps */

    b = test_copy(ctx, NULL, 256);
    m = (size_t) sprintf(b, "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,"
                            "18,19,20,21,22,23,24,25,26,27,28,29,30,\"x\"]");

    assert_null(llm_json_valid_numbers((const unsigned char *) b,
                                       (const unsigned char *) b + m, &n));

    /* cut before its ']': not an array */

    assert_null(llm_json_valid_numbers((const unsigned char *) b,
                                       (const unsigned char *) b + 40, &n));

    m = (size_t) sprintf(b, "Yy_Yy_Yy_Yy_Yy_Yy_Yy_Yy_ 1, 2 \"s\" [ ] { }");
    last = (const unsigned char *) b + m;

    p = llm_json_flat((const unsigned char *) b, last);
    assert_int_equal((const char *) p - b, 30);
    assert_int_equal(*p, '"');

    p = llm_json_flat(p + 1, last);
    assert_int_equal(*p, '"');
    p = llm_json_flat(p + 1, last);
    assert_int_equal(*p, '[');
    p = llm_json_flat(p + 1, last);
    assert_int_equal(*p, ']');
    p = llm_json_flat(p + 1, last);
    assert_int_equal(*p, '{');
    p = llm_json_flat(p + 1, last);
    assert_int_equal(*p, '}');
    assert_ptr_equal(llm_json_flat(p + 1, last), last);
}


void
test_embed_register(void)
{
    TEST_ADD(test_embed_parse_table);
    TEST_ADD(test_embed_parse_limits);
    TEST_ADD(test_embed_prompt_tokens);
    TEST_ADD(test_embed_openai_encode);
    TEST_ADD(test_embed_openai_input_type);
    TEST_ADD(test_embed_mistral_encode);
    TEST_ADD(test_embed_cohere_encode);
    TEST_ADD(test_embed_cohere_limit);
    TEST_ADD(test_embed_gemini_encode);
    TEST_ADD(test_embed_gemini_limit);
    TEST_ADD(test_embed_long_text);
    TEST_ADD(test_embed_no_anthropic);
    TEST_ADD(test_embed_cohere_decode);
    TEST_ADD(test_embed_gemini_decode);
    TEST_ADD(test_embed_mistral_decode);
    TEST_ADD(test_embed_decode_errors);
    TEST_ADD(test_embed_render_base64);
    TEST_ADD(test_embed_render_nomem);
    TEST_ADD(test_embed_float_exact);
    TEST_ADD(test_embed_json_helpers);
    TEST_ADD(test_embed_valid_numbers);
}
