
/*
 * ngx_http_llm_router_module: tests of llm_request_parse().
 */


#include <string.h>

#include "test_util.h"


typedef struct {
    const char   *name;
    const char   *body;
    size_t        len;
    const char   *param;
    const char   *message;      /* a substring of err.message */
} test_bad_t;


static void test_request_bad(void **state);
static void test_request_null_body(void **state);
static void test_request_too_deep(void **state);
static void test_request_minimal(void **state);
static void test_request_reference(void **state);
static void test_request_stream_usage(void **state);
static void test_request_stream_no_usage(void **state);
static void test_request_roles(void **state);
static void test_request_nulls(void **state);
static void test_request_bounds(void **state);
static void test_request_bom(void **state);
static void test_request_unknown_fields(void **state);
static void test_request_free_twice(void **state);
static void test_request_pool(void **state);
static void test_request_pool_nomem(void **state);
static void test_request_max_tokens(void **state);
static void test_parse_ok(test_ctx_t *ctx, const char *json,
    llm_request_t *req);


#define MSG         "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
#define BAD(n, body, param, msg)                                              \
    { "request: " n, body, TEST_LEN(body), param, msg }
#define BADM(n, m, msg)                                                       \
    BAD(n, "{\"messages\":[" m "]}", "messages", msg)
#define BADO(n, opt, param, msg)                                              \
    BAD(n, "{" MSG "," opt "}", param, msg)


static const test_bad_t  test_bad[] = {

    BAD("empty body", "", NULL, "The request body is empty"),
    BAD("whitespace body", " \r\n\t ", NULL, "The request body is empty"),
    BAD("bom only", "\xef\xbb\xbf", NULL, "The request body is empty"),
    BAD("truncated json", "{\"messages\":", NULL, "not valid JSON"),
    BAD("trailing garbage", "{" MSG "}x", NULL,
        "not valid JSON (syntax error at byte 45)"),
    BAD("offset counts the bom", "\xef\xbb\xbf{\"messages\" []}", NULL,
        "not valid JSON (syntax error at byte 15)"),
    BAD("raw newline in a string",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"a\nb\"}]}", NULL,
        "not valid JSON"),
    BAD("invalid utf-8",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}", NULL,
        "not valid JSON"),
    BAD("NUL byte", "{\"messages\":[]}\0", NULL, "not valid JSON"),
    BAD("single quotes", "{'messages':[]}", NULL, "not valid JSON"),
    BAD("lone surrogate escape",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}", NULL,
        "not valid JSON"),
    BAD("top-level array", "[{" MSG "}]", NULL, "must be a JSON object"),
    BAD("top-level string", "\"hi\"", NULL, "must be a JSON object"),
    BAD("top-level null", "null", NULL, "must be a JSON object"),

    BAD("missing messages", "{\"model\":\"m\"}", "messages",
        "Missing required parameter: 'messages'"),
    BAD("messages null", "{\"messages\":null}", "messages",
        "Missing required parameter: 'messages'"),
    BAD("messages object", "{\"messages\":{\"role\":\"user\"}}", "messages",
        "'messages' must be a non-empty array"),
    BAD("messages empty", "{\"messages\":[]}", "messages",
        "'messages' must be a non-empty array"),
    BAD("messages string", "{\"messages\":\"hi\"}", "messages",
        "'messages' must be a non-empty array"),

    BADM("message not an object", "\"hi\"", "messages[0] must be an object"),
    BADM("second message null",
         "{\"role\":\"user\",\"content\":\"a\"},null",
         "messages[1] must be an object"),
    BADM("role missing", "{\"content\":\"x\"}",
         "messages[0]: 'role' is required"),
    BADM("role not a string", "{\"role\":1,\"content\":\"x\"}",
         "messages[0]: 'role' must be one of system, developer, user, "
         "assistant, tool"),
    BADM("role null", "{\"role\":null,\"content\":\"x\"}",
         "messages[0]: 'role' must be one of"),
    BADM("role unknown at index 2",
         "{\"role\":\"system\",\"content\":\"s\"},"
         "{\"role\":\"user\",\"content\":\"u\"},"
         "{\"role\":\"robot\",\"content\":\"r\"}",
         "messages[2]: 'role' must be one of system, developer, user, "
         "assistant, tool"),
    BADM("role wrong case", "{\"role\":\"User\",\"content\":\"x\"}",
         "messages[0]: 'role' must be one of"),
    BADM("duplicate role",
         "{\"role\":\"user\",\"content\":\"x\",\"role\":\"system\"}",
         "messages[0]: duplicate key 'role'"),
    BADM("content number", "{\"role\":\"user\",\"content\":1}",
         "messages[0]: 'content' must be a string or an array of content "
         "parts"),
    BADM("content object",
         "{\"role\":\"user\",\"content\":{\"type\":\"text\"}}",
         "'content' must be a string or an array of content parts"),
    BADM("content boolean", "{\"role\":\"user\",\"content\":true}",
         "'content' must be a string or an array of content parts"),
    BADM("content missing", "{\"role\":\"user\"}",
         "messages[0]: 'content' is required"),
    BADM("user content null", "{\"role\":\"user\",\"content\":null}",
         "null is allowed only in assistant messages"),
    BADM("system content null", "{\"role\":\"system\",\"content\":null}",
         "null is allowed only in assistant messages"),
    BADM("tool content null",
         "{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":null}",
         "null is allowed only in assistant messages"),
    BADM("content part not an object",
         "{\"role\":\"user\",\"content\":[\"hi\"]}",
         "messages[0].content[0] must be an object with a string 'type'"),
    BADM("content part without type",
         "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
         "{\"text\":\"b\"}]}",
         "messages[0].content[1] must be an object with a string 'type'"),
    BADM("content part type not a string",
         "{\"role\":\"user\",\"content\":[{\"type\":1}]}",
         "messages[0].content[0] must be an object with a string 'type'"),
    BADM("tool without tool_call_id", "{\"role\":\"tool\",\"content\":\"r\"}",
         "messages[0]: tool messages require a string 'tool_call_id'"),
    BADM("tool_call_id not a string",
         "{\"role\":\"tool\",\"tool_call_id\":7,\"content\":\"r\"}",
         "tool messages require a string 'tool_call_id'"),
    BADM("tool_calls not an array",
         "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":{}}",
         "messages[0]: 'tool_calls' must be an array"),

    BADO("model number", "\"model\":5", "model", "'model' must be a string"),
    BADO("model object", "\"model\":{\"id\":\"m\"}", "model",
         "'model' must be a string"),
    BADO("duplicate model", "\"model\":\"a\",\"model\":\"b\"", "model",
         "Duplicate key 'model'"),
    BADO("duplicate model, escaped key",
         "\"model\":\"a\",\"mod\\u0065l\":\"b\"", "model",
         "Duplicate key 'model'"),
    BADO("duplicate model, NUL in key",
         "\"model\\u0000x\":\"a\",\"model\":\"b\"", "model",
         "Duplicate key 'model'"),
    BADO("duplicate stream", "\"stream\":false,\"stream\":true", "stream",
         "Duplicate key 'stream'"),
    BAD("duplicate messages", "{" MSG "," MSG "}", "messages",
        "Duplicate key 'messages'"),
    BADO("stream string", "\"stream\":\"true\"", "stream",
         "'stream' must be a boolean"),
    BADO("stream number", "\"stream\":1", "stream",
         "'stream' must be a boolean"),
    BADO("stream_options string", "\"stream_options\":\"usage\"",
         "stream_options", "'stream_options' must be an object"),
    BADO("stream_options array", "\"stream_options\":[]",
         "stream_options", "'stream_options' must be an object"),
    BADO("include_usage string",
         "\"stream\":true,\"stream_options\":{\"include_usage\":\"yes\"}",
         "stream_options",
         "'stream_options.include_usage' must be a boolean"),
    BADO("max_tokens zero", "\"max_tokens\":0", "max_tokens",
         "'max_tokens' must be a positive integer"),
    BADO("max_tokens negative", "\"max_tokens\":-5", "max_tokens",
         "'max_tokens' must be a positive integer"),
    BADO("max_tokens fraction", "\"max_tokens\":1.5", "max_tokens",
         "'max_tokens' must be a positive integer"),
    BADO("max_tokens string", "\"max_tokens\":\"100\"", "max_tokens",
         "'max_tokens' must be a positive integer"),
    BADO("max_tokens huge", "\"max_tokens\":1e10", "max_tokens",
         "'max_tokens' must be a positive integer"),
    BADO("max_completion_tokens zero", "\"max_completion_tokens\":0",
         "max_completion_tokens",
         "'max_completion_tokens' must be a positive integer"),
    BADO("max_completion_tokens bool", "\"max_completion_tokens\":true",
         "max_completion_tokens",
         "'max_completion_tokens' must be a positive integer"),
    BADO("n zero", "\"n\":0", "n", "'n' must be an integer between 1 and 128"),
    BADO("n too large", "\"n\":129", "n",
         "'n' must be an integer between 1 and 128"),
    BADO("n fraction", "\"n\":2.5", "n",
         "'n' must be an integer between 1 and 128"),
    BADO("temperature negative", "\"temperature\":-0.1", "temperature",
         "'temperature' must be a number between 0 and 2"),
    BADO("temperature too high", "\"temperature\":2.01", "temperature",
         "'temperature' must be a number between 0 and 2"),
    BADO("temperature string", "\"temperature\":\"1\"", "temperature",
         "'temperature' must be a number between 0 and 2"),
    BADO("temperature infinite", "\"temperature\":1e999", "temperature",
         "'temperature' must be a number between 0 and 2"),
    BADO("top_p too high", "\"top_p\":1.5", "top_p",
         "'top_p' must be a number between 0 and 1"),
    BADO("top_p negative", "\"top_p\":-1", "top_p",
         "'top_p' must be a number between 0 and 1"),
    BADO("stop number", "\"stop\":3", "stop",
         "'stop' must be a string, an array of strings or null"),
    BADO("stop array with a number", "\"stop\":[\"a\",1]", "stop",
         "'stop' must be a string, an array of strings or null"),
    BADO("stop object", "\"stop\":{}", "stop",
         "'stop' must be a string, an array of strings or null"),
    BADO("tools object", "\"tools\":{\"type\":\"function\"}", "tools",
         "'tools' must be an array of objects"),
    BADO("tools string", "\"tools\":\"f\"", "tools",
         "'tools' must be an array of objects"),
    BADO("tools element not an object",
         "\"tools\":[{\"type\":\"function\"},\"f\"]", "tools",
         "tools[1] is not an object")
};


/* each input is copied without a NUL: ASan sees any read past its end */

static void
test_request_bad(void **state)
{
    int                rc;
    char              *body, *out;
    size_t             len;
    test_ctx_t        *ctx;
    llm_error_t        err;
    llm_request_t      req;
    const test_bad_t  *t;

    ctx = *state;
    t = ctx->data;

    body = test_copy(ctx, t->body, t->len);

    memset(&err, 0, sizeof(llm_error_t));

    rc = llm_request_parse(&req, body, t->len, &err);

    assert_int_equal(rc, LLM_ERROR);
    assert_null(req.root);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.type, "invalid_request_error");
    assert_null(err.code);

    if (t->param == NULL) {
        assert_null(err.param);

    } else {
        assert_non_null(err.param);
        assert_string_equal(err.param, t->param);
    }

    if (strstr(err.message, t->message) == NULL) {
        fail_msg("message \"%s\" lacks \"%s\"", err.message, t->message);
    }

    out = llm_error_render(&err, &ctx->pool, &len);
    test_check_error_json(out, len, "invalid_request_error", t->param, NULL,
                          err.message);

    llm_request_free(&req);
    assert_null(req.root);
}


static void
test_parse_ok(test_ctx_t *ctx, const char *json, llm_request_t *req)
{
    int           rc;
    char         *body;
    size_t        len;
    llm_error_t   err;

    len = strlen(json);
    body = test_copy(ctx, json, len);

    err.message[0] = '\0';

    rc = llm_request_parse(req, body, len, &err);

    if (rc != LLM_OK) {
        fail_msg("rejected: %s", err.message);
    }

    assert_non_null(req->root);
    assert_ptr_equal(req->body, body);
    assert_int_equal(req->body_len, len);
}


static void
test_request_null_body(void **state)
{
    llm_error_t    err;
    llm_request_t  req;

    (void) state;

    assert_int_equal(llm_request_parse(&req, NULL, 10, &err), LLM_ERROR);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.message, "The request body is empty");
    assert_null(req.root);
}


static void
test_request_too_deep(void **state)
{
    char           *body;
    size_t          n, len, pre;
    test_ctx_t     *ctx;
    llm_error_t     err;
    llm_request_t   req;

    ctx = *state;
    pre = TEST_LEN("{\"messages\":");

    /* the object and n arrays: 1000 levels parse, 1001 do not */

    for (n = 999; n <= 1000; n++) {
        len = pre + 2 * n + 1;
        body = test_copy(ctx, NULL, len);

        memcpy(body, "{\"messages\":", pre);
        memset(body + pre, '[', n);
        memset(body + pre + n, ']', n);
        body[len - 1] = '}';

        assert_int_equal(llm_request_parse(&req, body, len, &err),
                         LLM_ERROR);
        assert_int_equal(err.status, 400);
        assert_null(req.root);

        if (n == 999) {
            assert_string_equal(err.message,
                                "messages[0] must be an object");

        } else {
            assert_non_null(strstr(err.message, "not valid JSON"));
        }
    }
}


static void
test_request_minimal(void **state)
{
    llm_request_t  req;

    test_parse_ok(*state, "{" MSG "}", &req);

    assert_null(req.model);
    assert_int_equal(req.stream, 0);
    assert_int_equal(req.include_usage, 0);
    assert_true(cJSON_IsObject(req.root));

    llm_request_free(&req);
    assert_null(req.root);
}


static void
test_request_reference(void **state)
{
    llm_request_t  req;

    /* the API reference's example */

    test_parse_ok(*state,
        "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\","
        "\"content\":\"Be terse.\"},\n {\"role\":\"user\",\"content\":"
        "[{\"type\":\"text\",\"text\":\"Weather in Oslo?\"},{\"type\":"
        "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AA==\","
        "\"detail\":\"low\"}}]}],\n \"tools\":[{\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":"
        "\"object\",\n \"properties\":{\"city\":{\"type\":\"string\"}},"
        "\"required\":[\"city\"]}}}],\n \"tool_choice\":\"auto\","
        "\"max_completion_tokens\":64,\"stream\":false}", &req);

    assert_non_null(req.model);
    assert_string_equal(req.model, "gpt-4o-mini");
    assert_int_equal(req.stream, 0);
    assert_int_equal(req.include_usage, 0);

    llm_request_free(&req);
}


static void
test_request_stream_usage(void **state)
{
    llm_request_t  req;

    test_parse_ok(*state,
                  "{\"model\":\"m\"," MSG ",\"stream\":true,"
                  "\"stream_options\":{\"include_usage\":true}}", &req);

    assert_string_equal(req.model, "m");
    assert_int_equal(req.stream, 1);
    assert_int_equal(req.include_usage, 1);

    llm_request_free(&req);
}


static void
test_request_stream_no_usage(void **state)
{
    llm_request_t  req;

    test_parse_ok(*state,
                  "{" MSG ",\"stream\":true,"
                  "\"stream_options\":{\"include_usage\":false}}", &req);

    assert_int_equal(req.stream, 1);
    assert_int_equal(req.include_usage, 0);

    llm_request_free(&req);

    test_parse_ok(*state, "{" MSG ",\"stream\":true,\"stream_options\":{}}",
                  &req);

    assert_int_equal(req.stream, 1);
    assert_int_equal(req.include_usage, 0);

    llm_request_free(&req);
}


static void
test_request_roles(void **state)
{
    llm_request_t  req;

    test_parse_ok(*state,
        "{\"messages\":["
        "{\"role\":\"system\",\"content\":\"s\"},"
        "{\"role\":\"developer\",\"content\":[{\"type\":\"text\","
        "\"text\":\"d\"}]},"
        "{\"role\":\"user\",\"content\":[]},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
        "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{\\\"a\\\":1}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"r\"},"
        "{\"role\":\"assistant\",\"content\":null},"
        "{\"role\":\"assistant\"},"
        "{\"role\":\"assistant\",\"content\":\"a\",\"tool_calls\":null},"
        "{\"role\":\"function\",\"name\":\"f\",\"content\":\"r\"},"
        "{\"role\":\"user\",\"content\":\"u\",\"name\":\"bob\"}]}", &req);

    assert_int_equal(cJSON_GetArraySize(
        cJSON_GetObjectItemCaseSensitive(req.root, "messages")), 10);

    llm_request_free(&req);
}


static void
test_request_nulls(void **state)
{
    llm_request_t  req;

    /* optional parameters sent as null, as many clients do */

    test_parse_ok(*state,
                  "{\"model\":null," MSG ",\"stream\":null,\"stream_options\":"
                  "null,\"max_tokens\":null,\"max_completion_tokens\":null,"
                  "\"n\":null,\"temperature\":null,\"top_p\":null,"
                  "\"stop\":null,\"tools\":null}", &req);

    assert_null(req.model);
    assert_int_equal(req.stream, 0);
    assert_int_equal(req.include_usage, 0);

    llm_request_free(&req);

    test_parse_ok(*state,
                  "{" MSG ",\"stream\":true,\"stream_options\":"
                  "{\"include_usage\":null}}", &req);

    assert_int_equal(req.stream, 1);
    assert_int_equal(req.include_usage, 0);

    llm_request_free(&req);
}


static void
test_request_bounds(void **state)
{
    llm_request_t  req;

    test_parse_ok(*state,
                  "{" MSG ",\"temperature\":0,\"top_p\":1,\"n\":128,"
                  "\"max_tokens\":1.0,\"max_completion_tokens\":2147483647,"
                  "\"stop\":[]}", &req);
    llm_request_free(&req);

    test_parse_ok(*state,
                  "{" MSG ",\"temperature\":2,\"top_p\":0,\"n\":1,"
                  "\"stop\":\"END\",\"tools\":[]}", &req);
    llm_request_free(&req);

    test_parse_ok(*state,
                  "{" MSG ",\"temperature\":0.7,\"top_p\":0.95,"
                  "\"max_tokens\":1e3,\"stop\":[\"a\",\"b\"]}", &req);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(req.root, "max_tokens")
                     ->valueint, 1000);
    llm_request_free(&req);
}


static void
test_request_bom(void **state)
{
    int             rc;
    char           *body;
    size_t          len;
    test_ctx_t     *ctx;
    const char     *json;
    llm_error_t     err;
    llm_request_t   req;

    ctx = *state;

    json = "\xef\xbb\xbf{\"model\":\"m\"," MSG "}";
    len = strlen(json);
    body = test_copy(ctx, json, len);

    rc = llm_request_parse(&req, body, len, &err);

    assert_int_equal(rc, LLM_OK);
    assert_ptr_equal(req.body, body + 3);
    assert_int_equal(req.body_len, len - 3);
    assert_string_equal(req.model, "m");

    llm_request_free(&req);
}


static void
test_request_unknown_fields(void **state)
{
    llm_request_t  req;

    /* passed through; duplicates of keys the core ignores are the
     * provider's business */

    test_parse_ok(*state,
                  "{" MSG ",\"response_format\":{\"type\":\"json_object\"},"
                  "\"x_custom\":[1,{\"a\":null}],\"x_custom\":2,"
                  "\"reasoning_effort\":\"low\"}", &req);

    assert_non_null(
        cJSON_GetObjectItemCaseSensitive(req.root, "response_format"));

    llm_request_free(&req);
}


static void
test_request_free_twice(void **state)
{
    llm_request_t  req;

    test_parse_ok(*state, "{\"model\":\"m\"," MSG "}", &req);

    llm_request_free(&req);
    llm_request_free(&req);

    assert_null(req.root);
    assert_null(req.model);
}


static void
test_request_prompt_tokens(void **state)
{
    test_ctx_t     *ctx = *state;
    llm_request_t   req;

    /* 3 + 4 per message + ceil(bytes / 4) */

    test_parse_ok(ctx, "{\"messages\":[{\"role\":\"user\","
                       "\"content\":\"12345678\"}]}", &req);
    assert_int_equal(llm_request_prompt_tokens(&req), 3 + 4 + 2);
    llm_request_free(&req);

    test_parse_ok(ctx, "{\"messages\":[{\"role\":\"system\","
                       "\"content\":\"abcd\"},{\"role\":\"user\","
                       "\"content\":[{\"type\":\"text\",\"text\":"
                       "\"abcdefgh\"},{\"type\":\"image_url\","
                       "\"image_url\":{\"url\":\"https://x/y.png\"}}]}]}",
                  &req);
    assert_int_equal(llm_request_prompt_tokens(&req),
                     3 + 8 + (4 + 8 + 85 * 4 + 3) / 4);
    llm_request_free(&req);

    test_parse_ok(ctx, "{\"messages\":[{\"role\":\"assistant\","
                       "\"content\":null,\"tool_calls\":[{\"id\":\"c1\","
                       "\"type\":\"function\",\"function\":{\"name\":"
                       "\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]}]}",
                  &req);
    assert_int_equal(llm_request_prompt_tokens(&req), 3 + 4 + 4 + 2);
    llm_request_free(&req);

    /* a rejected request counts nothing */

    req.root = NULL;
    assert_int_equal(llm_request_prompt_tokens(&req), 0);
}


/* max_completion_tokens when it is a number, else max_tokens, else 0 */

static void
test_request_max_tokens(void **state)
{
    size_t          i;
    test_ctx_t     *ctx = *state;
    llm_request_t   req;

    static const struct {
        const char  *body;
        long         max_tokens;
    } cases[] = {
        { "{" MSG "}", 0 },
        { "{" MSG ",\"max_tokens\":64}", 64 },
        { "{" MSG ",\"max_completion_tokens\":32}", 32 },
        { "{\"max_tokens\":64," MSG ",\"max_completion_tokens\":32}", 32 },
        { "{\"max_completion_tokens\":32,\"max_tokens\":64," MSG "}", 32 },
        { "{" MSG ",\"max_completion_tokens\":null,\"max_tokens\":64}", 64 },
        { "{" MSG ",\"max_tokens\":null}", 0 },
        { "{" MSG ",\"max_tokens\":2147483647}", 2147483647 }
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        test_parse_ok(ctx, cases[i].body, &req);
        assert_int_equal(req.max_tokens, cases[i].max_tokens);
        llm_request_free(&req);
    }
}


void
test_request_register(void)
{
    size_t  i;

    for (i = 0; i < sizeof(test_bad) / sizeof(test_bad_t); i++) {
        test_add(test_bad[i].name, test_request_bad, &test_bad[i]);
    }

    TEST_ADD(test_request_null_body);
    TEST_ADD(test_request_too_deep);
    TEST_ADD(test_request_minimal);
    TEST_ADD(test_request_reference);
    TEST_ADD(test_request_stream_usage);
    TEST_ADD(test_request_stream_no_usage);
    TEST_ADD(test_request_roles);
    TEST_ADD(test_request_nulls);
    TEST_ADD(test_request_bounds);
    TEST_ADD(test_request_bom);
    TEST_ADD(test_request_unknown_fields);
    TEST_ADD(test_request_free_twice);
    TEST_ADD(test_request_pool);
    TEST_ADD(test_request_pool_nomem);
    TEST_ADD(test_request_prompt_tokens);
    TEST_ADD(test_request_max_tokens);
}


/*
 * the tree on the pool: its nodes and strings are pool memory, counted
 * until llm_request_free(); outside the arena cJSON is back on malloc
 */

static void
test_request_pool(void **state)
{
    size_t          before, count;
    cJSON          *o;
    test_ctx_t     *ctx;
    llm_error_t     err;
    llm_request_t   req, heap;

    static const char  body[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
        "\"content\":\"Hello\"}],\"stream\":true}";

    ctx = *state;

    before = llm_arena_blocks();
    count = ctx->count;

    assert_int_equal(llm_request_parse_pool(&req, body, TEST_LEN(body),
                                            &ctx->pool, &err),
                     LLM_OK);

    /*
     * one pool chunk holds the whole tree, one buffer all its strings;
     * the nodes are counted, the strings are not cJSON's
     */
    assert_int_equal(ctx->count - count, 2);
    assert_true(llm_arena_blocks() - before >= 6);
    assert_true(req.root->child->type & cJSON_StringIsConst);
    assert_true(req.root->child->type & cJSON_IsReference);
    assert_string_equal(req.model, "m");
    assert_true(req.stream);

    /* the same tree as with malloc */
    assert_int_equal(llm_request_parse(&heap, body, TEST_LEN(body), &err),
                     LLM_OK);
    assert_true(cJSON_Compare(req.root, heap.root, 1));
    llm_request_free(&heap);

    /* outside the arena: cJSON's own malloc, not counted */
    o = cJSON_CreateObject();
    assert_non_null(o);
    assert_non_null(cJSON_AddStringToObject(o, "k", "v"));
    cJSON_Delete(o);

    llm_request_free(&req);
    assert_null(req.root);
    assert_int_equal(llm_arena_blocks(), before);

    llm_request_free(&req);
    assert_int_equal(llm_arena_blocks(), before);
}


/* the pool fails: a 400 as for any tree cJSON could not build, no leak */

static void
test_request_pool_nomem(void **state)
{
    size_t          before;
    test_ctx_t     *ctx;
    llm_error_t     err;
    llm_request_t   req;

    static const char  body[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
        "\"content\":\"Hello\"}]}";

    ctx = *state;

    before = llm_arena_blocks();
    ctx->fail_at = ctx->count + 1;

    assert_int_equal(llm_request_parse_pool(&req, body, TEST_LEN(body),
                                            &ctx->pool, &err),
                     LLM_ERROR);
    assert_null(req.root);
    assert_int_equal(err.status, 400);

    /* the strings' buffer, then the first chunk of nodes */

    ctx->fail_at = ctx->count + 2;

    assert_int_equal(llm_request_parse_pool(&req, body, TEST_LEN(body),
                                            &ctx->pool, &err),
                     LLM_ERROR);
    assert_null(req.root);
    assert_int_equal(err.status, 400);

    ctx->fail_at = 0;

    llm_request_free(&req);
    assert_int_equal(llm_arena_blocks(), before);
}
