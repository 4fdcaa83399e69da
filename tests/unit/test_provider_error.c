
/*
 * ngx_http_llm_router_module: tests of the adapters' error().
 */


#include <string.h>

#include "test_util.h"


typedef struct {
    const char   *name;
    int           status;
    const char   *body;
    size_t        len;
    int           retryable;
    int           verbatim;
    const char   *type;         /* when wrapped */
    const char   *code;
    const char   *message;
} test_perr_t;


static void test_provider_error(void **state);
static void test_provider_error_long(void **state);
static void test_provider_error_null_body(void **state);
static void test_provider_error_nomem(void **state);


#define OAI(n, status, body, retryable)                                       \
    { "error: " n, status, body, TEST_LEN(body), retryable, 1, NULL, NULL,    \
      NULL }
#define WRAP(n, status, body, retryable, type, code, message)                 \
    { "error: " n, status, body, TEST_LEN(body), retryable, 0, type, code,    \
      message }

#define GENERIC(status)  "The upstream provider returned HTTP " #status


static const test_perr_t  test_perr[] = {

    OAI("openai 400 context length", 400,
        "{\"error\":{\"message\":\"This model's maximum context length is "
        "128000 tokens.\",\"type\":\"invalid_request_error\",\"param\":"
        "\"messages\",\"code\":\"context_length_exceeded\"}}", 0),
    OAI("openai 401", 401,
        "{\n  \"error\": {\n    \"message\": \"Incorrect API key provided: "
        "sk-ab***yz.\",\n    \"type\": \"invalid_request_error\",\n    "
        "\"param\": null,\n    \"code\": \"invalid_api_key\"\n  }\n}\n", 0),
    OAI("openai 429 rate limit", 429,
        "{\"error\":{\"message\":\"Rate limit reached for gpt-4o-mini on "
        "tokens per min (TPM): Limit 30000, Used 29950, Requested 120. "
        "Please try again in 140ms.\",\"type\":\"tokens\",\"param\":null,"
        "\"code\":\"rate_limit_exceeded\"}}", 1),
    OAI("openai 429 insufficient_quota", 429,
        "{\"error\":{\"message\":\"You exceeded your current quota.\","
        "\"type\":\"insufficient_quota\",\"param\":null,"
        "\"code\":\"insufficient_quota\"}}", 0),
    OAI("openai 429 quota in code only", 429,
        "{\"error\":{\"message\":\"quota\",\"type\":\"requests\","
        "\"param\":null,\"code\":\"insufficient_quota\"}}", 0),
    OAI("openai 500", 500,
        "{\"error\":{\"message\":\"The server had an error\",\"type\":"
        "\"server_error\",\"param\":null,\"code\":null}}", 1),
    OAI("openai 503 overloaded", 503,
        "{\"error\":{\"message\":\"The engine is currently overloaded\","
        "\"type\":\"server_error\",\"param\":null,\"code\":null}}", 1),
    OAI("overloaded 529", 529,
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
        "\"message\":\"Overloaded\"}}", 1),
    OAI("openai 404 model", 404,
        "{\"error\":{\"message\":\"The model `x` does not exist\",\"type\":"
        "\"invalid_request_error\",\"param\":null,\"code\":"
        "\"model_not_found\"}}", 0),

    WRAP("openai shape with trailing garbage", 400,
         "{\"error\":{\"message\":\"m\",\"type\":\"t\"}}garbage", 0,
         "invalid_request_error", NULL, GENERIC(400)),
    WRAP("openai shape with a raw control character", 500,
         "{\"error\":{\"message\":\"a\nb\",\"type\":\"server_error\"}}", 1,
         "server_error", NULL, GENERIC(500)),
    WRAP("openai shape without type", 404,
         "{\"error\":{\"message\":\"not found\"}}", 0,
         "invalid_request_error", NULL, "not found"),
    WRAP("error.message not a string", 400,
         "{\"error\":{\"message\":7,\"type\":\"x\"}}", 0,
         "invalid_request_error", NULL, GENERIC(400)),
    WRAP("mistral 429", 429,
         "{\"object\":\"error\",\"message\":\"Rate limit exceeded\","
         "\"type\":\"rate_limited\",\"param\":null,\"code\":\"1300\"}", 1,
         "rate_limit_error", "rate_limit_exceeded", "Rate limit exceeded"),
    WRAP("mistral 401 gateway", 401,
         "{\"message\":\"Unauthorized\",\"request_id\":\"a1b2\"}", 0,
         "authentication_error", NULL, "Unauthorized"),
    WRAP("mistral detail", 401, "{\"detail\":\"Unauthorized\"}", 0,
         "authentication_error", NULL, "Unauthorized"),
    WRAP("mistral 422 message object", 422,
         "{\"object\":\"error\",\"message\":{\"detail\":[{\"msg\":\"x\"}]},"
         "\"type\":\"invalid_request_error\"}", 0,
         "invalid_request_error", NULL, GENERIC(422)),
    WRAP("message object, detail string", 422,
         "{\"message\":{\"a\":1},\"detail\":\"Field required\"}", 0,
         "invalid_request_error", NULL, "Field required"),
    WRAP("fastapi 422 detail list", 422,
         "{\"detail\":[{\"loc\":[\"body\",\"user\"],\"msg\":\"Extra inputs "
         "are not permitted\",\"type\":\"extra_forbidden\"}]}", 0,
         "invalid_request_error", NULL, "Extra inputs are not permitted"),
    WRAP("error string", 503, "{\"error\":\"Service Unavailable\"}", 1,
         "server_error", NULL, "Service Unavailable"),
    WRAP("gemini-like 429", 429,
         "{\"error\":{\"code\":429,\"message\":\"Resource has been "
         "exhausted\",\"status\":\"RESOURCE_EXHAUSTED\"}}", 1,
         "rate_limit_error", "rate_limit_exceeded",
         "Resource has been exhausted"),
    WRAP("quota without error object", 429,
         "{\"type\":\"insufficient_quota\",\"message\":\"No credits\"}", 0,
         "insufficient_quota", "insufficient_quota", "No credits"),
    WRAP("json string body", 401, "\"Unauthorized\"", 0,
         "authentication_error", NULL, "Unauthorized"),
    WRAP("empty message", 400, "{\"message\":\"\",\"detail\":\"\"}", 0,
         "invalid_request_error", NULL, GENERIC(400)),
    WRAP("escapes in the message", 400,
         "{\"message\":\"bad \\\"x\\\" \\\\ \\u0001 caf\\u00e9 \xe2\x82\xac\"}",
         0, "invalid_request_error", NULL,
         "bad \"x\" \\ \x01 caf\xc3\xa9 \xe2\x82\xac"),
    WRAP("html 502", 502,
         "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>"
         "<center><h1>502 Bad Gateway</h1></center></body></html>", 1,
         "server_error", NULL, GENERIC(502)),
    WRAP("plain text 400", 400, "Bad Request", 0,
         "invalid_request_error", NULL, GENERIC(400)),
    WRAP("empty 504", 504, "", 1, "server_error", NULL, GENERIC(504)),
    WRAP("empty 500", 500, "", 1, "server_error", NULL, GENERIC(500)),
    WRAP("empty 501", 501, "", 0, "server_error", NULL, GENERIC(501)),
    WRAP("empty 529", 529, "", 1, "server_error", NULL, GENERIC(529)),
    WRAP("empty 429", 429, "", 1, "rate_limit_error", "rate_limit_exceeded",
         GENERIC(429)),
    WRAP("empty 403", 403, "", 0, "permission_error", NULL, GENERIC(403)),
    WRAP("empty 404", 404, "", 0, "invalid_request_error", NULL,
         GENERIC(404)),
    WRAP("empty 413", 413, "", 0, "invalid_request_error", NULL,
         GENERIC(413)),
    WRAP("empty 408", 408, "", 0, "invalid_request_error", NULL,
         GENERIC(408)),
    WRAP("invalid utf-8", 400, "{\"message\":\"\xff\"}", 0,
         "invalid_request_error", NULL, GENERIC(400)),
    WRAP("json null", 500, "null", 1, "server_error", NULL, GENERIC(500)),
    WRAP("json array", 500, "[{\"message\":\"x\"}]", 1, "server_error", NULL,
         GENERIC(500))
};


static void
test_provider_error(void **state)
{
    char                  *body;
    size_t                 n;
    test_ctx_t            *ctx;
    const test_perr_t     *t;
    const llm_adapter_t   *ad;
    llm_provider_error_t   out;

    ctx = *state;
    t = ctx->data;

    /*
     * every adapter of an OpenAI-compatible provider (the translating ones
     * have error() functions of their own, tested with them), with a body
     * that has no NUL after it
     */

    body = test_copy(ctx, t->body, t->len);

    for (n = 0; llm_adapters[n] != NULL; n++) {
        ad = llm_adapters[n];

        if (ad->error != llm_compat_error) {
            continue;
        }

        memset(&out, 0xa5, sizeof(llm_provider_error_t));

        assert_int_equal(ad->error(t->status, body, t->len, &ctx->pool,
                                      &out),
                         LLM_OK);

        assert_int_equal(out.retryable, t->retryable);
        assert_non_null(out.body);
        assert_int_equal(out.body[out.body_len], '\0');

        if (t->verbatim) {
            assert_int_equal(out.body_len, t->len);
            assert_memory_equal(out.body, t->body, t->len);
            assert_ptr_not_equal(out.body, body);

        } else {
            test_check_error_json(out.body, out.body_len, t->type, NULL,
                                  t->code, t->message);
        }
    }
}


static void
test_provider_error_long(void **state)
{
    char                  *body;
    cJSON                 *root;
    size_t                 len, i, odd;
    test_ctx_t            *ctx;
    const char            *msg;
    llm_provider_error_t   out;

    ctx = *state;

    /*
     * {"message":"[a]éé...é"} with 2500 "é": the message is cut at 1024
     * bytes, on a character boundary, so at 1024 or, after an "a", at 1023
     */

    for (odd = 0; odd <= 1; odd++) {
        len = TEST_LEN("{\"message\":\"\"}") + odd + 5000;
        body = test_copy(ctx, NULL, len);

        memcpy(body, "{\"message\":\"a", 12 + odd);

        for (i = 0; i < 5000; i += 2) {
            memcpy(body + 12 + odd + i, "\xc3\xa9", 2);
        }

        memcpy(body + len - 2, "\"}", 2);

        assert_int_equal(llm_compat_error(400, body, len, &ctx->pool, &out),
                         LLM_OK);

        root = test_json(out.body, out.body_len);
        msg = cJSON_GetObjectItemCaseSensitive(
                  cJSON_GetObjectItemCaseSensitive(root, "error"), "message")
                  ->valuestring;

        assert_int_equal(strlen(msg), 1024 - odd);
        assert_memory_equal(msg + 1024 - odd - 2, "\xc3\xa9", 2);

        cJSON_Delete(root);
    }
}


static void
test_provider_error_null_body(void **state)
{
    test_ctx_t            *ctx;
    llm_provider_error_t   out;

    ctx = *state;

    assert_int_equal(llm_openai_adapter.error(503, NULL, 10, &ctx->pool,
                                              &out),
                     LLM_OK);
    assert_int_equal(out.retryable, 1);
    test_check_error_json(out.body, out.body_len, "server_error", NULL, NULL,
                          GENERIC(503));
}


static void
test_provider_error_nomem(void **state)
{
    test_ctx_t            *ctx;
    const char            *body;
    llm_provider_error_t   out;

    ctx = *state;
    ctx->fail_at = 1;

    body = "{\"error\":{\"message\":\"m\",\"type\":\"t\"}}";

    assert_int_equal(llm_openai_adapter.error(400, body, strlen(body),
                                              &ctx->pool, &out),
                     LLM_ERROR);
    assert_null(out.body);

    assert_int_equal(llm_mistral_adapter.error(502, "<html>", 6, &ctx->pool,
                                               &out),
                     LLM_ERROR);
    assert_null(out.body);
    assert_int_equal(out.retryable, 1);
}


void
test_provider_error_register(void)
{
    size_t  i;

    for (i = 0; i < sizeof(test_perr) / sizeof(test_perr_t); i++) {
        test_add(test_perr[i].name, test_provider_error, &test_perr[i]);
    }

    TEST_ADD(test_provider_error_long);
    TEST_ADD(test_provider_error_null_body);
    TEST_ADD(test_provider_error_nomem);
}
