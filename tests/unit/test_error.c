
/*
 * ngx_http_llm_router_module: tests of error and model list rendering.
 */


#include <string.h>

#include "test_util.h"


static void test_error_set_format(void **state);
static void test_error_set_truncate(void **state);
static void test_error_set_truncate_utf8(void **state);
static void test_error_render_plain(void **state);
static void test_error_render_param_code(void **state);
static void test_error_render_escaping(void **state);
static void test_error_render_invalid_utf8(void **state);
static void test_error_render_null_type(void **state);
static void test_error_render_nomem(void **state);
static void test_models_render(void **state);
static void test_models_render_empty(void **state);
static void test_models_render_default_owner(void **state);
static void test_models_render_nomem(void **state);


static const char  *const test_ids[] = {
    "gpt-4o-mini",
    "my \"quoted\"\\model"
};

static const char  *const test_owners[] = {
    "openai",
    "team\nb"
};

static const char  *const test_owners_partial[] = {
    "x",
    NULL
};


static void
test_error_set_format(void **state)
{
    llm_error_t  err;

    (void) state;

    llm_error_set(&err, 429, "rate_limit_error", "model", "code_x",
                  "limit %d of %s", 7, "tokens");

    assert_int_equal(err.status, 429);
    assert_string_equal(err.type, "rate_limit_error");
    assert_string_equal(err.param, "model");
    assert_string_equal(err.code, "code_x");
    assert_string_equal(err.message, "limit 7 of tokens");
}


static void
test_error_set_truncate(void **state)
{
    char         big[400];
    llm_error_t  err;

    (void) state;

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    llm_error_set(&err, 400, "t", NULL, NULL, "%s", big);

    assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
    assert_memory_equal(err.message, big, sizeof(err.message) - 1);
}


static void
test_error_set_truncate_utf8(void **state)
{
    char         big[300];
    llm_error_t  err;

    (void) state;

    /* 254 ASCII bytes then a 2-byte character: it must not be cut */

    memset(big, 'a', 254);
    memcpy(big + 254, "\xc3\xa9\xc3\xa9", 5);

    llm_error_set(&err, 400, "t", NULL, NULL, "%s", big);

    assert_int_equal(strlen(err.message), 254);

    /* 253 ASCII bytes: the character fits exactly */

    memset(big, 'a', 253);
    memcpy(big + 253, "\xc3\xa9\xc3\xa9", 5);

    llm_error_set(&err, 400, "t", NULL, NULL, "%s", big);

    assert_int_equal(strlen(err.message), 255);
    assert_memory_equal(err.message + 253, "\xc3\xa9", 2);
}


static void
test_error_render_plain(void **state)
{
    char         *out;
    size_t        len;
    test_ctx_t   *ctx;
    const char   *want;
    llm_error_t   err;

    ctx = *state;

    llm_error_set(&err, 400, "invalid_request_error", NULL, NULL,
                  "The request body is empty");

    out = llm_error_render(&err, &ctx->pool, &len);

    want = "{\"error\":{\"message\":\"The request body is empty\","
           "\"type\":\"invalid_request_error\",\"param\":null,"
           "\"code\":null}}";

    assert_non_null(out);
    assert_int_equal(len, strlen(want));
    assert_string_equal(out, want);
}


static void
test_error_render_param_code(void **state)
{
    char         *out;
    size_t        len;
    test_ctx_t   *ctx;
    const char   *want;
    llm_error_t   err;

    ctx = *state;

    llm_error_set(&err, 404, "invalid_request_error", "model",
                  "model_not_found", "no such model");

    out = llm_error_render(&err, &ctx->pool, &len);

    want = "{\"error\":{\"message\":\"no such model\","
           "\"type\":\"invalid_request_error\",\"param\":\"model\","
           "\"code\":\"model_not_found\"}}";

    assert_int_equal(len, strlen(want));
    assert_string_equal(out, want);
}


static void
test_error_render_escaping(void **state)
{
    char         *out;
    size_t        len;
    test_ctx_t   *ctx;
    const char   *msg, *want;
    llm_error_t   err;

    ctx = *state;

    msg = "say \"hi\" \\ path C:\\x\ttab\nnl\x01 caf\xc3\xa9 \xe2\x82\xac";

    llm_error_set(&err, 400, "invalid_request_error", "a\"b", NULL,
                  "%s", msg);

    out = llm_error_render(&err, &ctx->pool, &len);

    want = "{\"error\":{\"message\":\"say \\\"hi\\\" \\\\ path C:\\\\x\\ttab"
           "\\nnl\\u0001 caf\xc3\xa9 \xe2\x82\xac\",\"type\":"
           "\"invalid_request_error\",\"param\":\"a\\\"b\",\"code\":null}}";

    assert_int_equal(len, strlen(want));
    assert_string_equal(out, want);

    /* and it reads back to the original */
    test_check_error_json(out, len, "invalid_request_error", "a\"b", NULL,
                          msg);
}


static void
test_error_render_invalid_utf8(void **state)
{
    char         *out;
    size_t        len;
    test_ctx_t   *ctx;
    llm_error_t   err;

    ctx = *state;

    llm_error_set(&err, 400, "invalid_request_error", NULL, NULL,
                  "bad \xff byte");

    out = llm_error_render(&err, &ctx->pool, &len);

    assert_non_null(strstr(out, "\"bad \\ufffd byte\""));
    test_check_error_json(out, len, "invalid_request_error", NULL, NULL,
                          "bad \xef\xbf\xbd byte");
}


static void
test_error_render_null_type(void **state)
{
    char         *out;
    size_t        len;
    test_ctx_t   *ctx;
    llm_error_t   err;

    ctx = *state;

    llm_error_set(&err, 500, NULL, NULL, NULL, "boom");

    out = llm_error_render(&err, &ctx->pool, &len);

    test_check_error_json(out, len, "api_error", NULL, NULL, "boom");
}


static void
test_error_render_nomem(void **state)
{
    size_t        len;
    test_ctx_t   *ctx;
    llm_error_t   err;

    ctx = *state;
    ctx->fail_at = 1;

    llm_error_set(&err, 400, "invalid_request_error", NULL, NULL, "x");

    len = 77;

    assert_null(llm_error_render(&err, &ctx->pool, &len));
    assert_int_equal(len, 77);
    assert_int_equal(ctx->count, 1);
}


static void
test_models_render(void **state)
{
    char               *out;
    size_t              len;
    test_ctx_t         *ctx;
    const char         *want;

    ctx = *state;

    out = llm_models_render(test_ids, test_owners, NULL, 2, 1767225600L,
                            &ctx->pool, &len);

    want = "{\"object\":\"list\",\"data\":["
           "{\"id\":\"gpt-4o-mini\",\"object\":\"model\","
           "\"created\":1767225600,\"owned_by\":\"openai\"},"
           "{\"id\":\"my \\\"quoted\\\"\\\\model\",\"object\":\"model\","
           "\"created\":1767225600,\"owned_by\":\"team\\nb\"}]}";

    assert_non_null(out);
    assert_int_equal(len, strlen(want));
    assert_string_equal(out, want);

    cJSON_Delete(test_json(out, len));
}


static void
test_models_render_empty(void **state)
{
    char        *out;
    size_t       len;
    test_ctx_t  *ctx;

    ctx = *state;

    out = llm_models_render(NULL, NULL, NULL, 0, 0, &ctx->pool, &len);

    assert_string_equal(out, "{\"object\":\"list\",\"data\":[]}");
    assert_int_equal(len, strlen(out));
}


static void
test_models_render_default_owner(void **state)
{
    char               *out;
    cJSON              *root, *m;
    size_t              len;
    test_ctx_t         *ctx;

    ctx = *state;

    out = llm_models_render(test_ids, NULL, NULL, 2, -1L, &ctx->pool, &len);
    root = test_json(out, len);

    m = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "data"), 1);
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(m, "owned_by")->valuestring,
        "system");
    assert_int_equal(
        cJSON_GetObjectItemCaseSensitive(m, "created")->valueint, -1);

    cJSON_Delete(root);

    out = llm_models_render(test_ids, test_owners_partial, NULL, 2, 5L, &ctx->pool,
                            &len);
    root = test_json(out, len);

    m = cJSON_GetObjectItemCaseSensitive(root, "data");
    assert_int_equal(cJSON_GetArraySize(m), 2);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(m, 0), "owned_by")->valuestring, "x");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(m, 1), "owned_by")->valuestring, "system");

    cJSON_Delete(root);
}


static void
test_models_render_endpoints(void **state)
{
    char         *out;
    size_t        len;
    unsigned      serves[3];
    test_ctx_t   *ctx;
    const char   *ids[3], *want;

    ctx = *state;

    ids[0] = "chat";
    ids[1] = "both";
    ids[2] = "embed";

    serves[0] = LLM_SERVES_CHAT;
    serves[1] = LLM_SERVES_CHAT | LLM_SERVES_EMBED;
    serves[2] = LLM_SERVES_EMBED;

    out = llm_models_render(ids, NULL, serves, 3, 7L, &ctx->pool, &len);

    want = "{\"object\":\"list\",\"data\":["
           "{\"id\":\"chat\",\"object\":\"model\",\"created\":7,"
           "\"owned_by\":\"system\",\"endpoints\":[\"chat.completions\"]},"
           "{\"id\":\"both\",\"object\":\"model\",\"created\":7,"
           "\"owned_by\":\"system\",\"endpoints\":[\"chat.completions\","
           "\"embeddings\"]},"
           "{\"id\":\"embed\",\"object\":\"model\",\"created\":7,"
           "\"owned_by\":\"system\",\"endpoints\":[\"embeddings\"]}]}";

    assert_non_null(out);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
}


static void
test_models_render_nomem(void **state)
{
    test_ctx_t         *ctx;

    ctx = *state;
    ctx->fail_at = 1;

    assert_null(llm_models_render(test_ids, NULL, NULL, 1, 0, &ctx->pool, NULL));
}


void
test_error_register(void)
{
    TEST_ADD(test_error_set_format);
    TEST_ADD(test_error_set_truncate);
    TEST_ADD(test_error_set_truncate_utf8);
    TEST_ADD(test_error_render_plain);
    TEST_ADD(test_error_render_param_code);
    TEST_ADD(test_error_render_escaping);
    TEST_ADD(test_error_render_invalid_utf8);
    TEST_ADD(test_error_render_null_type);
    TEST_ADD(test_error_render_nomem);
    TEST_ADD(test_models_render);
    TEST_ADD(test_models_render_empty);
    TEST_ADD(test_models_render_default_owner);
    TEST_ADD(test_models_render_endpoints);
    TEST_ADD(test_models_render_nomem);
}
