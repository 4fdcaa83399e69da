
/*
 * ngx_http_llm_router_module: tests of llm_completion_render() and of the
 * helpers shared by the translating adapters (llm_internal.h).
 */


#include <string.h>

#include "test_util.h"


static void test_completion_init(llm_completion_t *c, llm_choice_t *ch);
static void test_completion_expect(test_ctx_t *ctx,
    const llm_completion_t *c, const char *want);
static void test_completion_text(void **state);
static void test_completion_long(void **state);
static void test_completion_tool_calls(void **state);
static void test_completion_parallel_tool_calls(void **state);
static void test_completion_details(void **state);
static void test_completion_escape(void **state);
static void test_completion_content_len(void **state);
static void test_completion_choices(void **state);
static void test_completion_no_choices(void **state);
static void test_completion_nulls(void **state);
static void test_completion_negative(void **state);
static void test_completion_nomem(void **state);
static void test_completion_respond(void **state);
static void test_completion_respond_nomem(void **state);
static void test_completion_no_usage(void **state);
static void test_completion_respond_choice(void **state);
static void test_shared_parse_strict(void **state);
static void test_shared_str(void **state);
static void test_shared_count(void **state);
static void test_shared_invalid_response(void **state);
static void test_shared_tool_call_id(void **state);
static void test_shared_tool_call_id_nomem(void **state);
static void test_shared_tool_args(void **state);
static void test_shared_data_url(void **state);
static void test_shared_content_text(void **state);
static void test_shared_content_text_nomem(void **state);
static void test_shared_json_body(void **state);


static void
test_completion_init(llm_completion_t *c, llm_choice_t *ch)
{
    memset(c, 0, sizeof(llm_completion_t));
    memset(ch, 0, sizeof(llm_choice_t));

    c->id = "chatcmpl-t1";
    c->model = "m-1";
    c->created = 1767225600;
    c->choices = ch;
    c->nchoices = 1;
    c->usage.prompt_tokens = 9;
    c->usage.completion_tokens = 1;
    c->usage.total_tokens = 10;
    c->usage.cached_tokens = -1;
    c->usage.cache_write_tokens = -1;
    c->usage.reasoning_tokens = -1;

    ch->content = "Hi";
    ch->content_len = 2;
    ch->finish_reason = "stop";
}


static void
test_completion_expect(test_ctx_t *ctx, const llm_completion_t *c,
    const char *want)
{
    char    *buf;
    size_t   len;

    len = 12345;
    buf = llm_completion_render(c, &ctx->pool, &len);

    assert_non_null(buf);
    assert_string_equal(buf, want);
    assert_int_equal(len, strlen(want));

    cJSON_Delete(test_json(buf, len));
}


static void
test_completion_text(void **state)
{
    llm_choice_t      ch;
    llm_completion_t  c;

    test_completion_init(&c, &ch);

    test_completion_expect(*state, &c,
        "{\"id\":\"chatcmpl-t1\",\"object\":\"chat.completion\","
        "\"created\":1767225600,\"model\":\"m-1\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"Hi\","
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,"
        "\"total_tokens\":10}}");
}


static void
test_completion_tool_calls(void **state)
{
    llm_choice_t      ch;
    llm_tool_call_t   tc;
    llm_completion_t  c;

    /* the API reference's example answer */

    test_completion_init(&c, &ch);

    c.model = "gpt-4o-mini-2024-07-18";
    c.usage.prompt_tokens = 52;
    c.usage.completion_tokens = 15;
    c.usage.total_tokens = 67;
    c.usage.cached_tokens = 0;
    c.usage.reasoning_tokens = 0;

    tc.id = "call_t1";
    tc.name = "get_weather";
    tc.arguments = "{\"city\":\"Oslo\"}";

    ch.content = NULL;
    ch.content_len = 0;
    ch.tool_calls = &tc;
    ch.ntool_calls = 1;
    ch.finish_reason = "tool_calls";

    test_completion_expect(*state, &c,
        "{\"id\":\"chatcmpl-t1\",\"object\":\"chat.completion\","
        "\"created\":1767225600,\"model\":\"gpt-4o-mini-2024-07-18\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":null,\"refusal\":null,\"tool_calls\":[{\"id\":"
        "\"call_t1\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}}]},"
        "\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],"
        "\"usage\":{\"prompt_tokens\":52,\"completion_tokens\":15,"
        "\"total_tokens\":67,\"prompt_tokens_details\":{\"cached_tokens\":0},"
        "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}");
}


static void
test_completion_parallel_tool_calls(void **state)
{
    char              *buf;
    cJSON             *root, *calls, *f;
    size_t             len;
    test_ctx_t        *ctx;
    llm_choice_t       ch;
    llm_tool_call_t    tc[2];
    llm_completion_t   c;

    ctx = *state;

    test_completion_init(&c, &ch);

    tc[0].id = "call_a";
    tc[0].name = "f";
    tc[0].arguments = "{}";
    tc[1].id = "call_b";
    tc[1].name = "g";
    tc[1].arguments = "{\"x\":[1,2]}";

    ch.content = "Checking.";
    ch.content_len = 9;
    ch.tool_calls = tc;
    ch.ntool_calls = 2;
    ch.finish_reason = "tool_calls";

    buf = llm_completion_render(&c, &ctx->pool, &len);
    root = test_json(buf, len);

    calls = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetArrayItem(
                        cJSON_GetObjectItemCaseSensitive(root, "choices"), 0),
                    "message"),
                "tool_calls");

    assert_int_equal(cJSON_GetArraySize(calls), 2);

    f = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(calls, 1),
                                         "function");
    assert_string_equal(llm_json_str(f, "name"), "g");
    assert_string_equal(llm_json_str(f, "arguments"), "{\"x\":[1,2]}");
    assert_string_equal(llm_json_str(cJSON_GetArrayItem(calls, 0), "id"),
                        "call_a");
    assert_non_null(strstr(buf, "\"content\":\"Checking.\""));

    cJSON_Delete(root);
}


static void
test_completion_details(void **state)
{
    test_ctx_t        *ctx;
    llm_choice_t       ch;
    llm_completion_t   c;

    ctx = *state;

    test_completion_init(&c, &ch);

    c.usage.cached_tokens = 100;

    test_completion_expect(ctx, &c,
        "{\"id\":\"chatcmpl-t1\",\"object\":\"chat.completion\","
        "\"created\":1767225600,\"model\":\"m-1\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"Hi\","
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,"
        "\"total_tokens\":10,\"prompt_tokens_details\":"
        "{\"cached_tokens\":100}}}");

    c.usage.cached_tokens = -1;
    c.usage.reasoning_tokens = 7;

    test_completion_expect(ctx, &c,
        "{\"id\":\"chatcmpl-t1\",\"object\":\"chat.completion\","
        "\"created\":1767225600,\"model\":\"m-1\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"Hi\","
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,"
        "\"total_tokens\":10,\"completion_tokens_details\":"
        "{\"reasoning_tokens\":7}}}");

    /* a total of 0 is the sum, as in a stream's usage chunk */

    c.usage.reasoning_tokens = -1;
    c.usage.total_tokens = 0;

    test_completion_expect(ctx, &c,
        "{\"id\":\"chatcmpl-t1\",\"object\":\"chat.completion\","
        "\"created\":1767225600,\"model\":\"m-1\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"Hi\","
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,"
        "\"total_tokens\":10}}");
}


static void
test_completion_escape(void **state)
{
    char              *buf;
    cJSON             *root, *m;
    size_t             len;
    test_ctx_t        *ctx;
    llm_choice_t       ch;
    llm_tool_call_t    tc;
    llm_completion_t   c;

    ctx = *state;

    test_completion_init(&c, &ch);

    c.id = "id\"1\\";
    c.model = "m\n\x01";
    c.created = -5;

    tc.id = "call_\"";
    tc.name = "na\tme";
    tc.arguments = "{\"k\":\"\\u00e9\"}";

    ch.content = "a\"b\\c\nd\xc3\xa9\xff";
    ch.content_len = strlen(ch.content);
    ch.refusal = "no \"way\"";
    ch.tool_calls = &tc;
    ch.ntool_calls = 1;

    buf = llm_completion_render(&c, &ctx->pool, &len);

    assert_non_null(strstr(buf, "\"id\":\"id\\\"1\\\\\""));
    assert_non_null(strstr(buf, "\"model\":\"m\\n\\u0001\""));
    assert_non_null(strstr(buf, "\"created\":-5,"));
    assert_non_null(strstr(buf, "\"content\":\"a\\\"b\\\\c\\nd\xc3\xa9"
                                "\\ufffd\""));
    assert_non_null(strstr(buf, "\"refusal\":\"no \\\"way\\\"\""));
    assert_non_null(strstr(buf,
                    "\"arguments\":\"{\\\"k\\\":\\\"\\\\u00e9\\\"}\""));

    root = test_json(buf, len);

    m = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetArrayItem(
                cJSON_GetObjectItemCaseSensitive(root, "choices"), 0),
            "message");

    assert_string_equal(llm_json_str(root, "id"), "id\"1\\");
    assert_string_equal(llm_json_str(m, "refusal"), "no \"way\"");
    assert_string_equal(llm_json_str(m, "content"),
                        "a\"b\\c\nd\xc3\xa9\xef\xbf\xbd");

    cJSON_Delete(root);
}


static void
test_completion_content_len(void **state)
{
    char              *buf;
    size_t             len;
    test_ctx_t        *ctx;
    llm_choice_t       ch;
    llm_completion_t   c;

    ctx = *state;

    test_completion_init(&c, &ch);

    /* content_len counts, not the NUL: embedded NUL kept, tail ignored */

    ch.content = "ab\0cdXYZ";
    ch.content_len = 5;

    buf = llm_completion_render(&c, &ctx->pool, &len);

    assert_non_null(strstr(buf, "\"content\":\"ab\\u0000cd\","));
    assert_null(strstr(buf, "XYZ"));

    ch.content = "";
    ch.content_len = 0;

    buf = llm_completion_render(&c, &ctx->pool, &len);

    assert_non_null(strstr(buf, "\"content\":\"\","));
}


static void
test_completion_choices(void **state)
{
    char              *buf;
    cJSON             *root, *choices;
    size_t             len;
    test_ctx_t        *ctx;
    llm_choice_t       ch[3];
    llm_completion_t   c;

    ctx = *state;

    test_completion_init(&c, &ch[0]);
    ch[1] = ch[0];
    ch[2] = ch[0];

    ch[1].content = "second";
    ch[1].content_len = 6;
    ch[2].finish_reason = "length";

    c.nchoices = 3;

    buf = llm_completion_render(&c, &ctx->pool, &len);
    root = test_json(buf, len);

    choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    assert_int_equal(cJSON_GetArraySize(choices), 3);

    assert_int_equal(llm_json_count(cJSON_GetArrayItem(choices, 2), "index"),
                     2);
    assert_string_equal(llm_json_str(cJSON_GetArrayItem(choices, 2),
                                     "finish_reason"),
                        "length");
    assert_string_equal(llm_json_str(cJSON_GetObjectItemCaseSensitive(
                                         cJSON_GetArrayItem(choices, 1),
                                         "message"),
                                     "content"),
                        "second");

    cJSON_Delete(root);
}


static void
test_completion_no_choices(void **state)
{
    llm_choice_t      ch;
    llm_completion_t  c;

    test_completion_init(&c, &ch);

    c.nchoices = 0;

    test_completion_expect(*state, &c,
        "{\"id\":\"chatcmpl-t1\",\"object\":\"chat.completion\","
        "\"created\":1767225600,\"model\":\"m-1\",\"choices\":[],"
        "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,"
        "\"total_tokens\":10}}");

    /* a count without an array is no choice either */

    c.nchoices = 2;
    c.choices = NULL;

    test_completion_expect(*state, &c,
        "{\"id\":\"chatcmpl-t1\",\"object\":\"chat.completion\","
        "\"created\":1767225600,\"model\":\"m-1\",\"choices\":[],"
        "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,"
        "\"total_tokens\":10}}");
}


static void
test_completion_nulls(void **state)
{
    llm_choice_t      ch;
    llm_tool_call_t   tc;
    llm_completion_t  c;

    test_completion_init(&c, &ch);

    c.id = NULL;
    c.model = NULL;

    tc.id = NULL;
    tc.name = NULL;
    tc.arguments = NULL;

    ch.content = NULL;
    ch.finish_reason = NULL;
    ch.tool_calls = &tc;
    ch.ntool_calls = 1;

    test_completion_expect(*state, &c,
        "{\"id\":\"\",\"object\":\"chat.completion\","
        "\"created\":1767225600,\"model\":\"\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":null,"
        "\"refusal\":null,\"tool_calls\":[{\"id\":\"\",\"type\":"
        "\"function\",\"function\":{\"name\":\"\",\"arguments\":\"{}\"}}]},"
        "\"logprobs\":null,\"finish_reason\":null}],"
        "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,"
        "\"total_tokens\":10}}");

    /* a count without an array is no tool call */

    ch.tool_calls = NULL;

    test_completion_expect(*state, &c,
        "{\"id\":\"\",\"object\":\"chat.completion\","
        "\"created\":1767225600,\"model\":\"\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":null,"
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],"
        "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,"
        "\"total_tokens\":10}}");
}


static void
test_completion_negative(void **state)
{
    llm_choice_t      ch;
    llm_completion_t  c;

    test_completion_init(&c, &ch);

    c.usage.prompt_tokens = -1;
    c.usage.completion_tokens = 4;
    c.usage.total_tokens = -1;
    c.usage.cached_tokens = -7;
    c.usage.reasoning_tokens = -2;

    test_completion_expect(*state, &c,
        "{\"id\":\"chatcmpl-t1\",\"object\":\"chat.completion\","
        "\"created\":1767225600,\"model\":\"m-1\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"Hi\","
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":4,"
        "\"total_tokens\":4}}");

    /* a large count is rendered whole */

    c.usage.prompt_tokens = 9007199254740992LL;
    c.usage.completion_tokens = 1;
    c.usage.total_tokens = -1;

    test_completion_expect(*state, &c,
        "{\"id\":\"chatcmpl-t1\",\"object\":\"chat.completion\","
        "\"created\":1767225600,\"model\":\"m-1\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"Hi\","
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":9007199254740992,"
        "\"completion_tokens\":1,\"total_tokens\":9007199254740993}}");
}


static void
test_completion_nomem(void **state)
{
    size_t             len;
    test_ctx_t        *ctx;
    llm_choice_t       ch;
    llm_completion_t   c;

    ctx = *state;

    test_completion_init(&c, &ch);

    ctx->fail_at = 1;

    assert_null(llm_completion_render(&c, &ctx->pool, &len));
    assert_null(llm_completion_render(NULL, &ctx->pool, &len));
}


static void
test_completion_respond(void **state)
{
    test_ctx_t        *ctx;
    llm_error_t        err;
    llm_choice_t       ch;
    llm_response_t     out;
    llm_completion_t   c;

    ctx = *state;

    test_completion_init(&c, &ch);

    c.usage.prompt_tokens = 140;
    c.usage.completion_tokens = 22;
    c.usage.total_tokens = -1;
    c.usage.cached_tokens = 100;
    c.usage.reasoning_tokens = -9;

    assert_int_equal(llm_completion_respond(&c, &ctx->pool, &out, &err),
                     LLM_OK);

    assert_int_equal(out.body_len, strlen(out.body));
    assert_non_null(strstr(out.body,
                           "\"usage\":{\"prompt_tokens\":140,"
                           "\"completion_tokens\":22,\"total_tokens\":162,"
                           "\"prompt_tokens_details\":"
                           "{\"cached_tokens\":100}}}"));

    /* the usage handed back is the one rendered */

    assert_int_equal(out.usage.prompt_tokens, 140);
    assert_int_equal(out.usage.completion_tokens, 22);
    assert_int_equal(out.usage.total_tokens, 162);
    assert_int_equal(out.usage.cached_tokens, 100);
    assert_int_equal(out.usage.cache_write_tokens, -1);
    assert_int_equal(out.usage.reasoning_tokens, -1);

    /* cache writes are kept, and have no OpenAI field */

    c.usage.cache_write_tokens = 2000;

    assert_int_equal(llm_completion_respond(&c, &ctx->pool, &out, &err),
                     LLM_OK);

    assert_int_equal(out.usage.cache_write_tokens, 2000);
    assert_null(strstr(out.body, "2000"));
}


/*
 * Nothing reported: no "usage" at all rather than zeros, and every count
 * -1; any count of the two makes usage reported
 */

static void
test_completion_no_usage(void **state)
{
    test_ctx_t        *ctx;
    llm_error_t        err;
    llm_choice_t       ch;
    llm_response_t     out;
    llm_completion_t   c;

    ctx = *state;

    test_completion_init(&c, &ch);

    c.usage.prompt_tokens = -1;
    c.usage.completion_tokens = -1;
    c.usage.total_tokens = -1;

    test_completion_expect(ctx, &c,
        "{\"id\":\"chatcmpl-t1\",\"object\":\"chat.completion\","
        "\"created\":1767225600,\"model\":\"m-1\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"Hi\","
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}]}");

    /* other counts alone (a total, cached tokens) are not usage */

    c.usage.total_tokens = 12;
    c.usage.cached_tokens = 3;
    c.usage.cache_write_tokens = 4;
    c.usage.reasoning_tokens = 5;

    assert_int_equal(llm_completion_respond(&c, &ctx->pool, &out, &err),
                     LLM_OK);

    assert_null(strstr(out.body, "usage"));
    assert_int_equal(llm_usage_known(&out.usage), 0);
    assert_int_equal(out.usage.prompt_tokens, -1);
    assert_int_equal(out.usage.completion_tokens, -1);
    assert_int_equal(out.usage.total_tokens, -1);
    assert_int_equal(out.usage.cached_tokens, -1);
    assert_int_equal(out.usage.cache_write_tokens, -1);
    assert_int_equal(out.usage.reasoning_tokens, -1);

    /* a reported 0 is reported */

    c.usage.prompt_tokens = 0;
    c.usage.total_tokens = -1;
    c.usage.cached_tokens = -1;
    c.usage.reasoning_tokens = -1;

    test_completion_expect(ctx, &c,
        "{\"id\":\"chatcmpl-t1\",\"object\":\"chat.completion\","
        "\"created\":1767225600,\"model\":\"m-1\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"Hi\","
        "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,"
        "\"total_tokens\":0}}");

    assert_int_equal(llm_completion_respond(&c, &ctx->pool, &out, &err),
                     LLM_OK);

    assert_int_equal(llm_usage_known(&out.usage), 1);
    assert_int_equal(out.usage.prompt_tokens, 0);
    assert_int_equal(out.usage.completion_tokens, 0);
    assert_int_equal(out.usage.cache_write_tokens, 4);
}


/* the first choice's finish_reason and content, not copied */

static void
test_completion_respond_choice(void **state)
{
    test_ctx_t        *ctx;
    llm_error_t        err;
    llm_choice_t       ch[2];
    llm_response_t     out;
    llm_completion_t   c;

    ctx = *state;

    test_completion_init(&c, &ch[0]);

    ch[0].content = "Hello there";
    ch[0].content_len = 5;
    ch[0].finish_reason = "length";

    memset(&ch[1], 0, sizeof(llm_choice_t));
    ch[1].content = "other";
    ch[1].content_len = 5;
    ch[1].finish_reason = "stop";

    c.nchoices = 2;

    assert_int_equal(llm_completion_respond(&c, &ctx->pool, &out, &err),
                     LLM_OK);

    assert_ptr_equal(out.finish_reason, ch[0].finish_reason);
    assert_ptr_equal(out.content, ch[0].content);
    assert_int_equal(out.content_len, 5);

    /* content null, finish_reason null */

    ch[0].content = NULL;
    ch[0].content_len = 7;
    ch[0].finish_reason = NULL;

    memset(&out, 0xa5, sizeof(llm_response_t));

    assert_int_equal(llm_completion_respond(&c, &ctx->pool, &out, &err),
                     LLM_OK);

    assert_null(out.finish_reason);
    assert_null(out.content);
    assert_int_equal(out.content_len, 0);

    /* no choices */

    c.nchoices = 0;

    memset(&out, 0xa5, sizeof(llm_response_t));

    assert_int_equal(llm_completion_respond(&c, &ctx->pool, &out, &err),
                     LLM_OK);

    assert_null(out.finish_reason);
    assert_null(out.content);
    assert_int_equal(out.content_len, 0);
}


static void
test_completion_respond_nomem(void **state)
{
    test_ctx_t        *ctx;
    llm_error_t        err;
    llm_choice_t       ch;
    llm_response_t     out;
    llm_completion_t   c;

    ctx = *state;

    test_completion_init(&c, &ch);

    ctx->fail_at = 1;

    assert_int_equal(llm_completion_respond(&c, &ctx->pool, &out, &err),
                     LLM_ERROR);
    assert_null(out.body);
    assert_int_equal(err.status, 500);
    assert_string_equal(err.type, "server_error");
    assert_string_equal(err.message, "out of memory");
}


static void
test_shared_parse_strict(void **state)
{
    cJSON  *root;

    (void) state;

    root = llm_json_parse_strict("{\"a\":[1,2]} ", 12);
    assert_true(cJSON_IsObject(root));
    cJSON_Delete(root);

    /* length-bounded: what follows is not read */
    root = llm_json_parse_strict("[1]garbage", 3);
    assert_true(cJSON_IsArray(root));
    cJSON_Delete(root);

    /* what cJSON alone would take */
    assert_null(llm_json_parse_strict("{\"a\":1,}", 8));
    assert_null(llm_json_parse_strict("[1] x", 5));
    assert_null(llm_json_parse_strict("\"\xff\"", 3));
    assert_null(llm_json_parse_strict("", 0));
    assert_null(llm_json_parse_strict(NULL, 4));
}


static void
test_shared_str(void **state)
{
    cJSON  *root;

    (void) state;

    root = cJSON_Parse("{\"s\":\"v\",\"n\":1,\"e\":\"\"}");
    assert_non_null(root);

    assert_string_equal(llm_json_str(root, "s"), "v");
    assert_string_equal(llm_json_str(root, "e"), "");
    assert_null(llm_json_str(root, "n"));
    assert_null(llm_json_str(root, "x"));
    assert_null(llm_json_str(cJSON_GetObjectItemCaseSensitive(root, "s"),
                             "s"));
    assert_null(llm_json_str(NULL, "s"));

    cJSON_Delete(root);
}


static void
test_shared_count(void **state)
{
    cJSON  *root;

    (void) state;

    root = cJSON_Parse("{\"a\":12,\"b\":0,\"c\":-1,\"d\":2.9,\"e\":1e300,"
                       "\"f\":\"5\",\"g\":null,\"h\":-0.5,\"i\":1e999}");
    assert_non_null(root);

    assert_int_equal(llm_json_count(root, "a"), 12);
    assert_int_equal(llm_json_count(root, "b"), 0);
    assert_int_equal(llm_json_count(root, "c"), -1);
    assert_int_equal(llm_json_count(root, "d"), 2);
    assert_int_equal(llm_json_count(root, "e"), 9007199254740992LL);
    assert_int_equal(llm_json_count(root, "f"), -1);
    assert_int_equal(llm_json_count(root, "g"), -1);
    assert_int_equal(llm_json_count(root, "h"), -1);
    assert_int_equal(llm_json_count(root, "i"), 9007199254740992LL);
    assert_int_equal(llm_json_count(root, "missing"), -1);
    assert_int_equal(llm_json_count(NULL, "a"), -1);

    cJSON_Delete(root);
}


static void
test_shared_invalid_response(void **state)
{
    char         big[400];
    llm_error_t  err;

    (void) state;

    llm_invalid_response(&err, "the %s answer has no '%s'", "x", "content");

    assert_int_equal(err.status, 502);
    assert_string_equal(err.type, "api_error");
    assert_null(err.param);
    assert_string_equal(err.code, "invalid_provider_response");
    assert_string_equal(err.message, "the x answer has no 'content'");

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    llm_invalid_response(&err, "%s", big);

    assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
}


static void
test_shared_tool_call_id(void **state)
{
    char        *a, *b, *c;
    size_t       i;
    test_ctx_t  *ctx;

    ctx = *state;

    assert_int_equal(llm_tool_call_id(&ctx->pool, "resp-1/0", 8, &a),
                     LLM_OK);
    assert_int_equal(llm_tool_call_id(&ctx->pool, "resp-1/0", 8, &b),
                     LLM_OK);
    assert_int_equal(llm_tool_call_id(&ctx->pool, "resp-1/1", 8, &c),
                     LLM_OK);

    assert_int_equal(strlen(a), LLM_TOOL_CALL_ID_LEN);
    assert_int_equal(LLM_TOOL_CALL_ID_LEN, 29);
    assert_memory_equal(a, "call_", 5);

    for (i = 5; i < LLM_TOOL_CALL_ID_LEN; i++) {
        assert_true((a[i] >= 'a' && a[i] <= 'z')
                    || (a[i] >= 'A' && a[i] <= 'Z')
                    || (a[i] >= '0' && a[i] <= '9'));
    }

    /* deterministic, and another seed gives another id */
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);

    /* only n bytes of the seed count */
    assert_int_equal(llm_tool_call_id(&ctx->pool, "resp-1/0XYZ", 8, &b),
                     LLM_OK);
    assert_string_equal(a, b);

    /* an empty or NULL seed still gives a well-formed id */
    assert_int_equal(llm_tool_call_id(&ctx->pool, NULL, 0, &b), LLM_OK);
    assert_int_equal(strlen(b), LLM_TOOL_CALL_ID_LEN);
    assert_string_not_equal(a, b);
}


static void
test_shared_tool_call_id_nomem(void **state)
{
    char        *id;
    test_ctx_t  *ctx;

    ctx = *state;

    ctx->fail_at = 1;
    id = NULL;

    assert_int_equal(llm_tool_call_id(&ctx->pool, "s", 1, &id), LLM_ERROR);
    assert_null(id);
}


static void
test_shared_tool_args(void **state)
{
    char   *s;
    cJSON  *obj;

    (void) state;

    assert_int_equal(llm_tool_args_parse("{\"city\":\"Oslo\",\"n\":[1]}",
                                         &obj),
                     LLM_OK);
    s = cJSON_PrintUnformatted(obj);
    assert_string_equal(s, "{\"city\":\"Oslo\",\"n\":[1]}");
    cJSON_free(s);
    cJSON_Delete(obj);

    assert_int_equal(llm_tool_args_parse("", &obj), LLM_OK);
    assert_true(cJSON_IsObject(obj));
    assert_null(obj->child);
    cJSON_Delete(obj);

    assert_int_equal(llm_tool_args_parse(" \n\t", &obj), LLM_OK);
    assert_true(cJSON_IsObject(obj));
    cJSON_Delete(obj);

    assert_int_equal(llm_tool_args_parse(" {} ", &obj), LLM_OK);
    assert_true(cJSON_IsObject(obj));
    cJSON_Delete(obj);

    assert_int_equal(llm_tool_args_parse("[1]", &obj), LLM_ERROR);
    assert_null(obj);
    assert_int_equal(llm_tool_args_parse("\"s\"", &obj), LLM_ERROR);
    assert_int_equal(llm_tool_args_parse("{\"a\":1", &obj), LLM_ERROR);
    assert_int_equal(llm_tool_args_parse("{\"a\":1} x", &obj), LLM_ERROR);
    assert_int_equal(llm_tool_args_parse("{'a':1}", &obj), LLM_ERROR);
    assert_int_equal(llm_tool_args_parse(NULL, &obj), LLM_ERROR);
    assert_null(obj);
}


static void
test_shared_data_url(void **state)
{
    llm_data_url_t  d;

    (void) state;

    assert_int_equal(llm_data_url("data:image/png;base64,iVBORw0KGgo=", &d),
                     LLM_OK);
    assert_int_equal(d.media_type_len, 9);
    assert_memory_equal(d.media_type, "image/png", 9);
    assert_int_equal(d.data_len, 12);
    assert_memory_equal(d.data, "iVBORw0KGgo=", 12);

    /* case-insensitive scheme and encoding, parameters skipped */
    assert_int_equal(llm_data_url("DATA:image/jpeg;name=a.jpg;BASE64,AAAA",
                                  &d),
                     LLM_OK);
    assert_int_equal(d.media_type_len, 10);
    assert_memory_equal(d.media_type, "image/jpeg", 10);
    assert_int_equal(d.data_len, 4);

    assert_int_equal(llm_data_url("https://x/y.png", &d), LLM_DECLINED);
    assert_int_equal(llm_data_url("dat", &d), LLM_DECLINED);
    assert_int_equal(llm_data_url(NULL, &d), LLM_DECLINED);

    assert_int_equal(llm_data_url("data:image/png,rawbytes", &d), LLM_ERROR);
    assert_int_equal(llm_data_url("data:;base64,AAAA", &d), LLM_ERROR);
    assert_int_equal(llm_data_url("data:base64,AAAA", &d), LLM_ERROR);
    assert_int_equal(llm_data_url("data:image/png;base64,", &d), LLM_ERROR);
    assert_int_equal(llm_data_url("data:image/png;base64", &d), LLM_ERROR);
    assert_int_equal(llm_data_url("data:", &d), LLM_ERROR);
}


static void
test_shared_content_text(void **state)
{
    char        *text;
    cJSON       *root;
    size_t       len;
    test_ctx_t  *ctx;

    ctx = *state;

    root = cJSON_Parse("[\"plain\",[{\"type\":\"text\",\"text\":\"a\"},"
                       "{\"type\":\"text\",\"text\":\"\"},"
                       "{\"type\":\"text\",\"text\":\"b\\\"\"}],"
                       "null,[],"
                       "[{\"type\":\"image_url\",\"image_url\":{}}],"
                       "[{\"type\":\"text\"}],"
                       "[{\"text\":\"a\"}],"
                       "[\"s\"],"
                       "42]");
    assert_non_null(root);

    assert_int_equal(llm_content_text(cJSON_GetArrayItem(root, 0), "\n\n",
                                      &ctx->pool, &text, &len),
                     LLM_OK);
    assert_string_equal(text, "plain");
    assert_int_equal(len, 5);

    assert_int_equal(llm_content_text(cJSON_GetArrayItem(root, 1), "\n\n",
                                      &ctx->pool, &text, &len),
                     LLM_OK);
    assert_string_equal(text, "a\n\nb\"");
    assert_int_equal(len, 5);

    assert_int_equal(llm_content_text(cJSON_GetArrayItem(root, 1), NULL,
                                      &ctx->pool, &text, NULL),
                     LLM_OK);
    assert_string_equal(text, "ab\"");

    assert_int_equal(llm_content_text(cJSON_GetArrayItem(root, 2), "-",
                                      &ctx->pool, &text, &len),
                     LLM_OK);
    assert_string_equal(text, "");
    assert_int_equal(len, 0);

    assert_int_equal(llm_content_text(NULL, "-", &ctx->pool, &text, &len),
                     LLM_OK);
    assert_string_equal(text, "");

    assert_int_equal(llm_content_text(cJSON_GetArrayItem(root, 3), "-",
                                      &ctx->pool, &text, &len),
                     LLM_OK);
    assert_string_equal(text, "");

    assert_int_equal(llm_content_text(cJSON_GetArrayItem(root, 4), "-",
                                      &ctx->pool, &text, &len),
                     LLM_DECLINED);
    assert_int_equal(llm_content_text(cJSON_GetArrayItem(root, 5), "-",
                                      &ctx->pool, &text, &len),
                     LLM_DECLINED);
    assert_int_equal(llm_content_text(cJSON_GetArrayItem(root, 6), "-",
                                      &ctx->pool, &text, &len),
                     LLM_DECLINED);
    assert_int_equal(llm_content_text(cJSON_GetArrayItem(root, 7), "-",
                                      &ctx->pool, &text, &len),
                     LLM_DECLINED);
    assert_int_equal(llm_content_text(cJSON_GetArrayItem(root, 8), "-",
                                      &ctx->pool, &text, &len),
                     LLM_DECLINED);

    cJSON_Delete(root);
}


static void
test_shared_content_text_nomem(void **state)
{
    char        *text;
    cJSON       *root;
    test_ctx_t  *ctx;

    ctx = *state;

    root = cJSON_CreateString("x");
    assert_non_null(root);

    ctx->fail_at = 1;

    assert_int_equal(llm_content_text(root, "", &ctx->pool, &text, NULL),
                     LLM_ERROR);

    cJSON_Delete(root);
}


static void
test_shared_json_body(void **state)
{
    size_t               i, count;
    cJSON               *root;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_http_request_t   out;

    ctx = *state;

    static const size_t  hints[] = { 0, 5, 17, 18, 1000 };

    root = cJSON_Parse("{ \"a\" : [ 1 , \"\\u00e9\" ] }");
    assert_non_null(root);

    /* no hint, a hint too short (two passes), exact, more than enough */

    for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
        count = ctx->count;

        assert_int_equal(llm_json_print_body(root, hints[i], NULL,
                                             &ctx->pool, &out),
                         LLM_OK);
        assert_int_equal(out.nparts, 0);
        assert_string_equal(out.body, "{\"a\":[1,\"\xc3\xa9\"]}");
        assert_int_equal(out.body_len, strlen(out.body));

        /* one buffer when the text fits in the hint */
        assert_int_equal(ctx->count - count,
                         (hints[i] == 0 || hints[i] >= out.body_len) ? 1 : 2);
    }

    ctx->fail_at = ctx->count + 1;

    assert_int_equal(llm_json_print_body(root, 0, NULL, &ctx->pool, &out),
                     LLM_ERROR);
    assert_null(out.body);

    /* the second buffer of a hint too short */

    ctx->fail_at = ctx->count + 2;

    assert_int_equal(llm_json_print_body(root, 5, NULL, &ctx->pool, &out),
                     LLM_ERROR);
    assert_null(out.body);

    /* the request's body gives the hint; a failure is a 500 */

    memset(&req, 0, sizeof(llm_request_t));

    ctx->fail_at = ctx->count + 1;

    assert_int_equal(llm_json_body(&req, root, &ctx->pool, &out, &err),
                     LLM_ERROR);
    assert_int_equal(err.status, 500);
    assert_null(out.body);

    ctx->fail_at = 0;

    cJSON_Delete(root);
}


void
test_completion_register(void)
{
    TEST_ADD(test_completion_text);
    TEST_ADD(test_completion_long);
    TEST_ADD(test_completion_tool_calls);
    TEST_ADD(test_completion_parallel_tool_calls);
    TEST_ADD(test_completion_details);
    TEST_ADD(test_completion_escape);
    TEST_ADD(test_completion_content_len);
    TEST_ADD(test_completion_choices);
    TEST_ADD(test_completion_no_choices);
    TEST_ADD(test_completion_nulls);
    TEST_ADD(test_completion_negative);
    TEST_ADD(test_completion_nomem);
    TEST_ADD(test_completion_respond);
    TEST_ADD(test_completion_respond_nomem);
    TEST_ADD(test_completion_no_usage);
    TEST_ADD(test_completion_respond_choice);
    TEST_ADD(test_shared_parse_strict);
    TEST_ADD(test_shared_str);
    TEST_ADD(test_shared_count);
    TEST_ADD(test_shared_invalid_response);
    TEST_ADD(test_shared_tool_call_id);
    TEST_ADD(test_shared_tool_call_id_nomem);
    TEST_ADD(test_shared_tool_args);
    TEST_ADD(test_shared_data_url);
    TEST_ADD(test_shared_content_text);
    TEST_ADD(test_shared_content_text_nomem);
    TEST_ADD(test_shared_json_body);
}


/*
 * the rendering is written once on the stack when it fits in 4 KB, and
 * measured then written on the pool when it does not: same text both ways
 */

static void
test_completion_long(void **state)
{
    char              *text, *buf;
    cJSON             *root, *msg;
    size_t             len, n, i, count;
    test_ctx_t        *ctx;
    llm_choice_t       ch;
    llm_completion_t   c;

    static const size_t  sizes[] = { 10, 3900, 4096, 9000 };

    ctx = *state;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        n = sizes[i];
        text = test_copy(ctx, NULL, n + 1);
        memset(text, 'x', n);
        text[0] = '"';
        text[n / 2] = '\n';
        text[n] = '\0';

        test_completion_init(&c, &ch);
        ch.content = text;
        ch.content_len = n;

        count = ctx->count;

        buf = llm_completion_render(&c, &ctx->pool, &len);
        assert_non_null(buf);
        assert_int_equal(strlen(buf), len);

        /* one pool buffer either way */
        assert_int_equal(ctx->count - count, 1);

        root = test_json(buf, len);
        msg = cJSON_GetObjectItemCaseSensitive(
                  cJSON_GetArrayItem(
                      cJSON_GetObjectItemCaseSensitive(root, "choices"), 0),
                  "message");
        assert_string_equal(llm_json_str(msg, "content"), text);
        cJSON_Delete(root);

        /* out of memory */
        ctx->fail_at = ctx->count + 1;
        assert_null(llm_completion_render(&c, &ctx->pool, &len));
        ctx->fail_at = 0;
    }
}
