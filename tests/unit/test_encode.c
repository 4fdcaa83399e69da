
/*
 * ngx_http_llm_router_module: tests of the adapters' encode() and of the
 * adapter registry.
 */


#include <string.h>

#include "test_util.h"


#define TEST_KEY    "sk-test-SECRET-0123456789"
#define MSG         "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"


static void test_parse(test_ctx_t *ctx, const char *json,
    llm_request_t *req);
static void test_encode(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json, const char *model, llm_http_request_t *out);
static void test_encode_expect(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json, const char *model, const char *want);
static cJSON *test_encode_json(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json, const char *model);
static void test_openai_passthrough(void **state);
static void test_openai_model_parts(void **state);
static void test_openai_model_replaced(void **state);
static void test_openai_model_replaced_spacing(void **state);
static void test_openai_model_inserted(void **state);
static void test_openai_model_null_replaced(void **state);
static void test_openai_model_escaped(void **state);
static void test_openai_nested_model_untouched(void **state);
static void test_openai_escaped_key(void **state);
static void test_openai_bom(void **state);
static void test_openai_path(void **state);
static void test_openai_auth(void **state);
static void test_openai_no_key(void **state);
static void test_openai_bad_config(void **state);
static void test_openai_unparsed(void **state);
static void test_encode_nomem(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json);
static void test_openai_nomem(void **state);
static void test_mistral_lean(void **state);
static void test_mistral_max_completion_tokens(void **state);
static void test_mistral_both_max(void **state);
static void test_mistral_seed(void **state);
static void test_mistral_drop(void **state);
static void test_mistral_model(void **state);
static void test_mistral_head(void **state);
static void test_mistral_nomem(void **state);
static void test_adapter_find(void **state);
static void test_adapter_list(void **state);


/* base_path and the path it gives */

static const char  *const test_paths[][2] = {
    { "", "/chat/completions" },
    { "/v1", "/v1/chat/completions" },
    { "/v1/", "/v1/chat/completions" },
    { "v1", "/v1/chat/completions" },
    { "/openai/v1?api-version=2024-10-21",
      "/openai/v1/chat/completions?api-version=2024-10-21" },
    { "/?a=b/c", "/chat/completions?a=b/c" },
    { "v1//?x=1", "/v1/chat/completions?x=1" },
    { "//", "/chat/completions" },
    { "?", "/chat/completions?" }
};


static const char  *const test_bad_keys[] = {
    "sk-1\r\nX-Injected: 1",
    "sk-1\n",
    "sk\x7f"
};


static void
test_parse(test_ctx_t *ctx, const char *json, llm_request_t *req)
{
    char         *body;
    size_t        len;
    llm_error_t   err;

    len = strlen(json);
    body = test_copy(ctx, json, len);

    if (llm_request_parse(req, body, len, &err) != LLM_OK) {
        fail_msg("rejected: %s", err.message);
    }
}


static void
test_encode(test_ctx_t *ctx, const llm_adapter_t *ad, const char *json,
    const char *model, llm_http_request_t *out)
{
    int             rc;
    llm_error_t     err;
    llm_request_t   req;
    llm_provider_t  p;

    test_parse(ctx, json, &req);

    p.name = "test";
    p.model = model;
    p.api_key = TEST_KEY;
    p.base_path = "/v1";

    rc = ad->encode(&req, &p, &ctx->pool, out, &err);

    llm_request_free(&req);

    if (rc != LLM_OK) {
        fail_msg("encode failed: %s", err.message);
    }

    if (out->body == NULL) {
        /* a rewritten "model": the client's bytes around the new value */
        assert_int_equal(out->nparts, 3);
        out->body = (char *) llm_http_body(out, &ctx->pool);
    }

    assert_non_null(out->body);
    assert_string_equal(out->method, "POST");
    assert_string_equal(out->path, "/v1/chat/completions");
    assert_int_equal(out->nheaders, 1);
    assert_string_equal(out->headers[0].name, "Authorization");
    assert_string_equal(out->headers[0].value, "Bearer " TEST_KEY);

    /* the key never goes into the body */
    assert_null(strstr(test_cstr(ctx, out->body, out->body_len), "SECRET"));
}


static void
test_encode_expect(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json, const char *model, const char *want)
{
    llm_http_request_t  out;

    test_encode(ctx, ad, json, model, &out);

    assert_int_equal(out.body_len, strlen(want));
    assert_memory_equal(out.body, want, out.body_len);

    cJSON_Delete(test_json(out.body, out.body_len));
}


static cJSON *
test_encode_json(test_ctx_t *ctx, const llm_adapter_t *ad, const char *json,
    const char *model)
{
    llm_http_request_t  out;

    test_encode(ctx, ad, json, model, &out);

    return test_json(out.body, out.body_len);
}


static void
test_openai_passthrough(void **state)
{
    char                *body;
    size_t               len;
    test_ctx_t          *ctx;
    const char          *json;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    json = "{ \"model\" : \"gpt-4o\",\n " MSG " , \"temperature\": 0.50 }";
    len = strlen(json);
    body = test_copy(ctx, json, len);

    assert_int_equal(llm_request_parse(&req, body, len, &err), LLM_OK);

    p.name = "openai";
    p.model = NULL;
    p.api_key = TEST_KEY;
    p.base_path = "/v1";

    assert_int_equal(llm_openai_adapter.encode(&req, &p, &ctx->pool, &out,
                                               &err),
                     LLM_OK);

    /* lean passthrough: the very same bytes, not even a copy */
    assert_ptr_equal(out.body, body);
    assert_int_equal(out.body_len, len);
    assert_memory_equal(out.body, json, len);

    llm_request_free(&req);
}


static void
test_openai_model_replaced(void **state)
{
    test_encode_expect(*state, &llm_openai_adapter,
                       "{\"model\":\"gpt-4o\"," MSG ",\"stream\":true}",
                       "gpt-4o-mini",
                       "{\"model\":\"gpt-4o-mini\"," MSG ",\"stream\":true,"
                       "\"stream_options\":{\"include_usage\":true}}");
}


static void
test_openai_model_replaced_spacing(void **state)
{
    /* nothing but the value changes, not even whitespace or number text */

    test_encode_expect(*state, &llm_openai_adapter,
                       " {\n  " MSG " ,\n  \"model\" :  \"a\" , \"top_p\":"
                       "1.0E0 }\n",
                       "b",
                       " {\n  " MSG " ,\n  \"model\" :  \"b\" , \"top_p\":"
                       "1.0E0 }\n");
}


static void
test_openai_model_inserted(void **state)
{
    test_encode_expect(*state, &llm_openai_adapter, "{" MSG "}", "m-1",
                       "{\"model\":\"m-1\"," MSG "}");

    test_encode_expect(*state, &llm_openai_adapter,
                       "  {\n " MSG ",\"n\":2}", "m-2",
                       "  {\"model\":\"m-2\",\n " MSG ",\"n\":2}");
}


static void
test_openai_model_null_replaced(void **state)
{
    test_encode_expect(*state, &llm_openai_adapter,
                       "{" MSG ",\"model\":null}", "m",
                       "{" MSG ",\"model\":\"m\"}");
}


/* a new "model" is the only piece written: nothing of the prompt is copied */

static void
test_openai_model_parts(void **state)
{
    char                *body;
    size_t               len, i, total;
    test_ctx_t          *ctx;
    const char          *json;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    json = "{" MSG ", \"model\" : \"gpt-4o\", \"temperature\": 0.5}";
    len = strlen(json);
    body = test_copy(ctx, json, len);

    assert_int_equal(llm_request_parse(&req, body, len, &err), LLM_OK);

    p.name = "openai";
    p.model = "gpt-4o-mini";
    p.api_key = TEST_KEY;
    p.base_path = "/v1";

    memset(&out, 0, sizeof(llm_http_request_t));

    assert_int_equal(llm_openai_adapter.encode(&req, &p, &ctx->pool, &out,
                                               &err),
                     LLM_OK);

    assert_null(out.body);
    assert_int_equal(out.nparts, 3);

    assert_ptr_equal(out.parts[0].data, body);
    assert_int_equal(out.parts[0].len, strstr(json, "\"gpt-4o\"") - json);
    assert_int_equal(out.parts[1].len, sizeof("\"gpt-4o-mini\"") - 1);
    assert_memory_equal(out.parts[1].data, "\"gpt-4o-mini\"",
                        out.parts[1].len);
    assert_ptr_equal(out.parts[2].data,
                     body + (strstr(json, ", \"temperature") - json));

    total = 0;

    for (i = 0; i < out.nparts; i++) {
        total += out.parts[i].len;
    }

    assert_int_equal(out.body_len, total);

    assert_string_equal(llm_http_body(&out, &ctx->pool),
                        "{" MSG ", \"model\" : \"gpt-4o-mini\", "
                        "\"temperature\": 0.5}");

    llm_request_free(&req);
}


static void
test_openai_model_escaped(void **state)
{
    cJSON               *root;
    test_ctx_t          *ctx;
    llm_http_request_t   out;

    ctx = *state;

    test_encode(ctx, &llm_openai_adapter, "{\"model\":\"x\"," MSG "}",
                "we\"ird\\mo\ndel", &out);

    assert_non_null(strstr(test_cstr(ctx, out.body, out.body_len),
                           "\"model\":\"we\\\"ird\\\\mo\\ndel\","));

    root = test_json(out.body, out.body_len);
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(root, "model")->valuestring,
        "we\"ird\\mo\ndel");
    assert_int_equal(cJSON_GetArraySize(root), 2);
    cJSON_Delete(root);
}


static void
test_openai_nested_model_untouched(void **state)
{
    cJSON       *root, *m;
    const char  *json;

    json = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
           "\"text\":\"\\\"model\\\":\\\"x\\\"\",\"model\":\"inner\"}]}],"
           "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
           "\"parameters\":{\"model\":{\"type\":\"string\"}}}}],"
           "\"model\":\"outer\"}";

    root = test_encode_json(*state, &llm_openai_adapter, json, "new");

    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(root, "model")->valuestring, "new");

    m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root,
                "messages"), 0), "content"), 0);

    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(m, "model")->valuestring, "inner");
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(m, "text")->valuestring,
        "\"model\":\"x\"");

    cJSON_Delete(root);
}


static void
test_openai_escaped_key(void **state)
{
    /* cJSON reads "mod\u0065l" as "model": so must the raw scanner */

    test_encode_expect(*state, &llm_openai_adapter,
                       "{\"mod\\u0065l\":\"a\"," MSG "}", "b",
                       "{\"mod\\u0065l\":\"b\"," MSG "}");
}


static void
test_openai_bom(void **state)
{
    test_encode_expect(*state, &llm_openai_adapter,
                       "\xef\xbb\xbf{" MSG "}", "m",
                       "{\"model\":\"m\"," MSG "}");
}


static void
test_openai_path(void **state)
{
    size_t               i;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    test_parse(ctx, "{" MSG "}", &req);

    p.name = "p";
    p.model = NULL;
    p.api_key = TEST_KEY;

    for (i = 0; i < sizeof(test_paths) / sizeof(test_paths[0]); i++) {
        p.base_path = test_paths[i][0];

        assert_int_equal(llm_openai_adapter.encode(&req, &p, &ctx->pool,
                                                   &out, &err),
                         LLM_OK);
        assert_string_equal(out.path, test_paths[i][1]);
    }

    p.base_path = NULL;

    assert_int_equal(llm_openai_adapter.encode(&req, &p, &ctx->pool, &out,
                                               &err),
                     LLM_OK);
    assert_string_equal(out.path, "/chat/completions");

    llm_request_free(&req);
}


static void
test_openai_auth(void **state)
{
    test_ctx_t          *ctx;
    llm_http_request_t   out;

    ctx = *state;

    /* test_encode() checks the header and that the key is not in the body */

    test_encode(ctx, &llm_openai_adapter, "{" MSG "}", NULL, &out);
    test_encode(ctx, &llm_openai_adapter, "{" MSG "}", "m", &out);
    test_encode(ctx, &llm_openai_adapter, "{\"model\":\"a\"," MSG "}", "m",
                &out);

    assert_string_equal(out.headers[0].value,
                        "Bearer sk-test-SECRET-0123456789");
}


static void
test_openai_no_key(void **state)
{
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    test_parse(ctx, "{" MSG "}", &req);

    p.name = "local";
    p.model = NULL;
    p.api_key = NULL;
    p.base_path = "/v1";

    assert_int_equal(llm_openai_adapter.encode(&req, &p, &ctx->pool, &out,
                                               &err),
                     LLM_OK);
    assert_int_equal(out.nheaders, 0);

    p.api_key = "";

    assert_int_equal(llm_openai_adapter.encode(&req, &p, &ctx->pool, &out,
                                               &err),
                     LLM_OK);
    assert_int_equal(out.nheaders, 0);

    llm_request_free(&req);
}


static void
test_openai_bad_config(void **state)
{
    size_t               i;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    test_parse(ctx, "{" MSG "}", &req);

    p.name = "prov";
    p.model = NULL;
    p.base_path = "/v1";

    for (i = 0; i < sizeof(test_bad_keys) / sizeof(test_bad_keys[0]); i++) {
        p.api_key = test_bad_keys[i];

        assert_int_equal(llm_openai_adapter.encode(&req, &p, &ctx->pool,
                                                   &out, &err),
                         LLM_ERROR);
        assert_int_equal(err.status, 500);
        assert_non_null(strstr(err.message, "invalid API key"));
        assert_non_null(strstr(err.message, "\"prov\""));
        assert_null(strstr(err.message, "sk"));
    }

    p.api_key = TEST_KEY;
    p.base_path = "/v1 HTTP/1.1\r\nX: y";

    assert_int_equal(llm_openai_adapter.encode(&req, &p, &ctx->pool, &out,
                                               &err),
                     LLM_ERROR);
    assert_int_equal(err.status, 500);
    assert_non_null(strstr(err.message, "invalid URL path"));

    llm_request_free(&req);
}


static void
test_openai_unparsed(void **state)
{
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    memset(&req, 0, sizeof(llm_request_t));

    p.name = "p";
    p.model = "m";
    p.api_key = TEST_KEY;
    p.base_path = "";

    assert_int_equal(llm_openai_adapter.encode(&req, &p, &ctx->pool, &out,
                                               &err),
                     LLM_ERROR);
    assert_int_equal(err.status, 500);

    assert_int_equal(llm_mistral_adapter.encode(&req, &p, &ctx->pool, &out,
                                                &err),
                     LLM_ERROR);
    assert_int_equal(err.status, 500);
}


/* every allocation in turn fails: an error each time, then success */

static void
test_encode_nomem(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json)
{
    int                  rc;
    size_t               n;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    test_parse(ctx, json, &req);

    p.name = "p";
    p.model = "m";
    p.api_key = TEST_KEY;
    p.base_path = "/v1";

    for (n = 1; n < 100; n++) {
        ctx->count = 0;
        ctx->fail_at = n;

        rc = ad->encode(&req, &p, &ctx->pool, &out, &err);

        if (rc == LLM_OK) {
            break;
        }

        assert_int_equal(rc, LLM_ERROR);
        assert_int_equal(err.status, 500);
        assert_string_equal(err.message, "out of memory");
    }

    ctx->fail_at = 0;

    assert_true(n > 1);
    assert_int_equal(rc, LLM_OK);
    assert_non_null(llm_http_body(&out, &ctx->pool));

    llm_request_free(&req);
}


static void
test_openai_nomem(void **state)
{
    test_encode_nomem(*state, &llm_openai_adapter, "{" MSG "}");
}


static void
test_mistral_lean(void **state)
{
    char                *body;
    size_t               len;
    test_ctx_t          *ctx;
    const char          *json;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    json = "{\"model\":\"mistral-small-latest\", " MSG ", \"max_tokens\":5,"
           " \"random_seed\":1, \"safe_prompt\":true}";
    len = strlen(json);
    body = test_copy(ctx, json, len);

    assert_int_equal(llm_request_parse(&req, body, len, &err), LLM_OK);

    p.name = "mistral";
    p.model = NULL;
    p.api_key = TEST_KEY;
    p.base_path = "/v1";

    assert_int_equal(llm_mistral_adapter.encode(&req, &p, &ctx->pool, &out,
                                                &err),
                     LLM_OK);
    assert_ptr_equal(out.body, body);
    assert_int_equal(out.body_len, len);

    llm_request_free(&req);

    test_encode_expect(ctx, &llm_mistral_adapter, json, "mistral-large",
                       "{\"model\":\"mistral-large\", " MSG ", "
                       "\"max_tokens\":5, \"random_seed\":1, "
                       "\"safe_prompt\":true}");
}


static void
test_mistral_max_completion_tokens(void **state)
{
    cJSON  *root;

    root = test_encode_json(*state, &llm_mistral_adapter,
                            "{\"model\":\"m\"," MSG ","
                            "\"max_completion_tokens\":64}", NULL);

    assert_null(
        cJSON_GetObjectItemCaseSensitive(root, "max_completion_tokens"));
    assert_int_equal(
        cJSON_GetObjectItemCaseSensitive(root, "max_tokens")->valueint, 64);
    assert_int_equal(cJSON_GetArraySize(root), 3);
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(root, "model")->valuestring, "m");

    cJSON_Delete(root);
}


static void
test_mistral_both_max(void **state)
{
    cJSON  *root;

    root = test_encode_json(*state, &llm_mistral_adapter,
                            "{" MSG ",\"max_completion_tokens\":64,"
                            "\"max_tokens\":100}", NULL);

    assert_null(
        cJSON_GetObjectItemCaseSensitive(root, "max_completion_tokens"));
    assert_int_equal(
        cJSON_GetObjectItemCaseSensitive(root, "max_tokens")->valueint, 100);

    /* messages and one max_tokens, not two */
    assert_int_equal(cJSON_GetArraySize(root), 2);

    cJSON_Delete(root);
}


static void
test_mistral_seed(void **state)
{
    cJSON  *root;

    root = test_encode_json(*state, &llm_mistral_adapter,
                            "{" MSG ",\"seed\":42}", NULL);

    assert_null(cJSON_GetObjectItemCaseSensitive(root, "seed"));
    assert_int_equal(
        cJSON_GetObjectItemCaseSensitive(root, "random_seed")->valueint, 42);
    assert_int_equal(cJSON_GetArraySize(root), 2);

    cJSON_Delete(root);

    root = test_encode_json(*state, &llm_mistral_adapter,
                            "{" MSG ",\"seed\":42,\"random_seed\":7}", NULL);

    assert_null(cJSON_GetObjectItemCaseSensitive(root, "seed"));
    assert_int_equal(
        cJSON_GetObjectItemCaseSensitive(root, "random_seed")->valueint, 7);
    assert_int_equal(cJSON_GetArraySize(root), 2);

    cJSON_Delete(root);
}


static void
test_mistral_drop(void **state)
{
    cJSON               *root, *orig;
    test_ctx_t          *ctx;
    const char          *json;
    llm_request_t        req;

    ctx = *state;

    json = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
           "[{\"type\":\"text\",\"text\":\"caf\xc3\xa9 \\\"q\\\"\"}]}],"
           "\"stream\":true,\"stream_options\":{\"include_usage\":true},"
           "\"user\":\"u-1\",\"store\":false,\"service_tier\":\"auto\","
           "\"logit_bias\":{\"50256\":-100},\"temperature\":0.7,"
           "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
           "\"parameters\":{\"type\":\"object\"}}}],"
           "\"tool_choice\":\"auto\"}";

    root = test_encode_json(ctx, &llm_mistral_adapter, json, NULL);

    assert_null(cJSON_GetObjectItemCaseSensitive(root, "stream_options"));
    assert_null(cJSON_GetObjectItemCaseSensitive(root, "user"));
    assert_null(cJSON_GetObjectItemCaseSensitive(root, "store"));
    assert_null(cJSON_GetObjectItemCaseSensitive(root, "service_tier"));
    assert_null(cJSON_GetObjectItemCaseSensitive(root, "logit_bias"));

    /* everything else survives the round trip */

    test_parse(ctx, json, &req);
    orig = req.root;

    assert_int_equal(cJSON_GetArraySize(root), 6);
    assert_true(cJSON_Compare(
        cJSON_GetObjectItemCaseSensitive(root, "messages"),
        cJSON_GetObjectItemCaseSensitive(orig, "messages"), 1));
    assert_true(cJSON_Compare(
        cJSON_GetObjectItemCaseSensitive(root, "tools"),
        cJSON_GetObjectItemCaseSensitive(orig, "tools"), 1));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root,
                                                              "stream")));
    assert_true(cJSON_GetObjectItemCaseSensitive(root, "temperature")
                ->valuedouble == 0.7);

    llm_request_free(&req);
    cJSON_Delete(root);
}


static void
test_mistral_model(void **state)
{
    cJSON  *root;

    root = test_encode_json(*state, &llm_mistral_adapter,
                            "{\"model\":\"client\"," MSG ",\"user\":\"u\"}",
                            "mistral-large-latest");

    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(root, "model")->valuestring,
        "mistral-large-latest");
    assert_null(cJSON_GetObjectItemCaseSensitive(root, "user"));

    cJSON_Delete(root);

    root = test_encode_json(*state, &llm_mistral_adapter,
                            "{" MSG ",\"user\":\"u\"}", "q\"uote");

    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(root, "model")->valuestring,
        "q\"uote");
    assert_int_equal(cJSON_GetArraySize(root), 2);

    cJSON_Delete(root);
}


static void
test_mistral_head(void **state)
{
    llm_http_request_t  out;

    test_encode(*state, &llm_mistral_adapter, "{" MSG ",\"seed\":1}", "m",
                &out);

    assert_string_equal(llm_mistral_adapter.default_url,
                        "https://api.mistral.ai/v1");
    assert_string_equal(llm_openai_adapter.default_url,
                        "https://api.openai.com/v1");
}


static void
test_mistral_nomem(void **state)
{
    test_encode_nomem(*state, &llm_mistral_adapter, "{" MSG "}");
    test_encode_nomem(*state, &llm_mistral_adapter,
                      "{" MSG ",\"max_completion_tokens\":3}");
}


static void
test_adapter_find(void **state)
{
    (void) state;

    assert_ptr_equal(llm_adapter_find("openai", 6), &llm_openai_adapter);
    assert_ptr_equal(llm_adapter_find("mistral", 7), &llm_mistral_adapter);
    assert_ptr_equal(llm_adapter_find("OpenAI", 6), &llm_openai_adapter);
    assert_ptr_equal(llm_adapter_find("openai;", 6), &llm_openai_adapter);

    assert_null(llm_adapter_find("open", 4));
    assert_null(llm_adapter_find("openai", 5));
    assert_null(llm_adapter_find("openai2", 7));
    assert_ptr_equal(llm_adapter_find("anthropic", 9),
                     &llm_anthropic_adapter);
    assert_ptr_equal(llm_adapter_find("gemini", 6), &llm_gemini_adapter);
    assert_ptr_equal(llm_adapter_find("cohere", 6), &llm_cohere_adapter);
    assert_null(llm_adapter_find("claude", 6));
    assert_null(llm_adapter_find("", 0));
    assert_null(llm_adapter_find(NULL, 0));
}


static void
test_adapter_list(void **state)
{
    size_t  n;

    (void) state;

    for (n = 0; llm_adapters[n] != NULL; n++) {
        assert_non_null(llm_adapters[n]->encode);
        assert_non_null(llm_adapters[n]->error);
        assert_ptr_equal(llm_adapter_find(llm_adapters[n]->name,
                                          strlen(llm_adapters[n]->name)),
                         llm_adapters[n]);
    }

    assert_int_equal(n, 5);
    assert_string_equal(llm_adapters[0]->name, "openai");
    assert_string_equal(llm_adapters[1]->name, "mistral");
    assert_string_equal(llm_adapters[2]->name, "anthropic");
    assert_string_equal(llm_adapters[3]->name, "gemini");
    assert_string_equal(llm_adapters[4]->name, "cohere");
}


void
test_encode_register(void)
{
    TEST_ADD(test_openai_passthrough);
    TEST_ADD(test_openai_model_parts);
    TEST_ADD(test_openai_model_replaced);
    TEST_ADD(test_openai_model_replaced_spacing);
    TEST_ADD(test_openai_model_inserted);
    TEST_ADD(test_openai_model_null_replaced);
    TEST_ADD(test_openai_model_escaped);
    TEST_ADD(test_openai_nested_model_untouched);
    TEST_ADD(test_openai_escaped_key);
    TEST_ADD(test_openai_bom);
    TEST_ADD(test_openai_path);
    TEST_ADD(test_openai_auth);
    TEST_ADD(test_openai_no_key);
    TEST_ADD(test_openai_bad_config);
    TEST_ADD(test_openai_unparsed);
    TEST_ADD(test_openai_nomem);
    TEST_ADD(test_mistral_lean);
    TEST_ADD(test_mistral_max_completion_tokens);
    TEST_ADD(test_mistral_both_max);
    TEST_ADD(test_mistral_seed);
    TEST_ADD(test_mistral_drop);
    TEST_ADD(test_mistral_model);
    TEST_ADD(test_mistral_head);
    TEST_ADD(test_mistral_nomem);
    TEST_ADD(test_adapter_find);
    TEST_ADD(test_adapter_list);
}
