
/*
 * ngx_http_llm_router_module: tests of what prompt logs are made of: the
 * text of streamed answers (llm_stream_t.text, every stream decoder) and
 * the prompt text of a request (llm_request_prompt_text()).
 */


#include <stdio.h>
#include <string.h>

#include "test_util.h"


#define TEST_CAP_GUARD  16


static char *test_cap_buf(test_ctx_t *ctx, size_t size);
static void test_cap_expect(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *sse, size_t size, const char *want);
static void test_cap_guard(const char *buf, size_t size);
static void test_capture_openai(void **state);
static void test_capture_mistral(void **state);
static void test_capture_anthropic(void **state);
static void test_capture_gemini(void **state);
static void test_capture_cohere(void **state);
static void test_capture_cut(void **state);
static void test_capture_invalid_utf8(void **state);
static void test_capture_off(void **state);
static void test_capture_out_full(void **state);
static void test_capture_response(void **state);
static void test_prompt_text(void **state);
static void test_prompt_text_cut(void **state);
static void test_prompt_text_large(void **state);
static void test_prompt_text_none(void **state);


/* size bytes and a guard, 'Z' */

static char *
test_cap_buf(test_ctx_t *ctx, size_t size)
{
    char  *buf;

    buf = test_copy(ctx, NULL, size + TEST_CAP_GUARD);
    memset(buf, 'Z', size + TEST_CAP_GUARD);

    return buf;
}


static void
test_cap_guard(const char *buf, size_t size)
{
    size_t  i;

    for (i = size; i < size + TEST_CAP_GUARD; i++) {
        assert_int_equal(buf[i], 'Z');
    }
}


/* the text kept is want, whole and a byte at a time */

static void
test_cap_expect(test_ctx_t *ctx, const llm_adapter_t *ad, const char *sse,
    size_t size, const char *want)
{
    char               *buf;
    size_t              step;
    test_stream_run_t   run;

    for (step = 0; step < 3; step++) {
        buf = test_cap_buf(ctx, size);

        test_stream_run(ctx, ad, sse, 0, step, buf, size, &run);

        assert_int_equal(run.end, LLM_OK);
        test_cap_guard(buf, size);

        if (run.st.text_len != strlen(want)
            || memcmp(buf, want, run.st.text_len) != 0)
        {
            fail_msg("got \"%.*s\", want \"%s\"", (int) run.st.text_len, buf,
                     want);
        }
    }
}


/* deltas of choice 0 only; tool calls and roles are not text */

static void
test_capture_openai(void **state)
{
    test_cap_expect(*state, &llm_openai_adapter,
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\","
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":\"\"},\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"content\":\"Hel\"},\"finish_reason\":null},{\"index\":1,"
        "\"delta\":{\"content\":\"XX\"},\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"c\",\"choices\":[{\"index\":1,\"delta\":"
        "{\"content\":\"YY\"},\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"content\":\"lo \\u00e9\\n\\\"q\\\"\"},\"finish_reason\":null}]}"
        "\n\n"
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
        "\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"content\":null},\"finish_reason\":\"stop\"}]}\n\n"
        "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,"
        "\"completion_tokens\":2,\"total_tokens\":3}}\n\n"
        "data: [DONE]\n\n",
        64, "Hello \xc3\xa9\n\"q\"");
}


/* Mistral: string deltas, and content parts of which the text ones */

static void
test_capture_mistral(void **state)
{
    test_cap_expect(*state, &llm_mistral_adapter,
        "data: {\"id\":\"m\",\"object\":\"chat.completion.chunk\","
        "\"model\":\"magistral-small\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
        "\"thinking\":[{\"type\":\"text\",\"text\":\"hmm\"}]}]},"
        "\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"m\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"content\":[{\"type\":\"text\",\"text\":\"Bon\"},{\"type\":"
        "\"text\",\"text\":\"jour\"}]},\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"m\",\"choices\":[{\"delta\":{\"content\":\" !\"},"
        "\"finish_reason\":\"model_length\"}],\"usage\":{\"prompt_tokens\":"
        "16,\"completion_tokens\":34,\"total_tokens\":50}}\n\n"
        "data: [DONE]\n\n",
        64, "Bonjour !");
}


/* Anthropic: text deltas; thinking is not the answer */

static void
test_capture_anthropic(void **state)
{
    test_cap_expect(*state, &llm_anthropic_adapter,
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_c\","
        "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\","
        "\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}"
        "\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
        "{\"type\":\"thinking_delta\",\"thinking\":\"let me see\"}}\n\n"
        "event: content_block_stop\n"
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":1,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
        "{\"type\":\"text_delta\",\"text\":\"Hi \"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
        "{\"type\":\"text_delta\",\"text\":\"th\\u00e9re\"}}\n\n"
        "event: content_block_stop\n"
        "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\n"
        "event: message_stop\n"
        "data: {\"type\":\"message_stop\"}\n\n",
        64, "Hi th\xc3\xa9re");
}


/* Gemini: text parts, thought parts left out */

static void
test_capture_gemini(void **state)
{
    test_cap_expect(*state, &llm_gemini_adapter,
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":"
        "[{\"text\":\"thinking...\",\"thought\":true},{\"text\":\"A\"}]},"
        "\"index\":0}],\"responseId\":\"r\"}\r\n\r\n"
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":"
        "[{\"text\":\"nswer.\"}]},\"finishReason\":\"STOP\",\"index\":0}],"
        "\"usageMetadata\":{\"promptTokenCount\":3,"
        "\"candidatesTokenCount\":2},\"responseId\":\"r\"}\r\n\r\n",
        64, "Answer.");
}


/* Cohere: content deltas and the tool plan, as the client gets them */

static void
test_capture_cohere(void **state)
{
    test_cap_expect(*state, &llm_cohere_adapter,
        "event: message-start\n"
        "data: {\"id\":\"c\",\"type\":\"message-start\",\"delta\":"
        "{\"message\":{\"role\":\"assistant\",\"content\":[]}}}\n\n"
        "event: tool-plan-delta\n"
        "data: {\"type\":\"tool-plan-delta\",\"delta\":{\"message\":"
        "{\"tool_plan\":\"Plan. \"}}}\n\n"
        "event: content-delta\n"
        "data: {\"type\":\"content-delta\",\"index\":0,\"delta\":"
        "{\"message\":{\"content\":{\"text\":\"Done\"}}}}\n\n"
        "event: message-end\n"
        "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":"
        "\"COMPLETE\"}}\n\n",
        64, "Plan. Done");
}


/* cut at text_size on a UTF-8 boundary, and nothing after the cut */

static void
test_capture_cut(void **state)
{
    size_t          size;
    test_ctx_t     *ctx;

    /*
     * "ab", then a 3-byte and a 4-byte character, then "c": what fits of
     * a delta is kept, by whole characters
     */

    static const char  sse[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ab\"}}]}"
        "\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":"
        "\"\\u20ac\\ud83d\\ude00\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"c\"}}]}"
        "\n\n"
        "data: [DONE]\n\n";

    static const char  *const want[] = {
        "", "a", "ab", "ab", "ab", "ab\xe2\x82\xac", "ab\xe2\x82\xac",
        "ab\xe2\x82\xac", "ab\xe2\x82\xac",
        "ab\xe2\x82\xac\xf0\x9f\x98\x80",
        "ab\xe2\x82\xac\xf0\x9f\x98\x80" "c",
        "ab\xe2\x82\xac\xf0\x9f\x98\x80" "c"
    };

    ctx = *state;

    for (size = 0; size < sizeof(want) / sizeof(want[0]); size++) {
        test_cap_expect(ctx, &llm_openai_adapter, sse, size, want[size]);
    }

    /* the same through llm_stream_chunk(): a translating decoder */

    for (size = 0; size < sizeof(want) / sizeof(want[0]); size++) {
        test_cap_expect(ctx, &llm_anthropic_adapter,
            "event: message_start\n"
            "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\","
            "\"model\":\"x\",\"usage\":{\"input_tokens\":1}}}\n\n"
            "event: content_block_start\n"
            "data: {\"type\":\"content_block_start\",\"index\":0,"
            "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
            "event: content_block_delta\n"
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
            "{\"type\":\"text_delta\",\"text\":\"ab\"}}\n\n"
            "event: content_block_delta\n"
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
            "{\"type\":\"text_delta\",\"text\":\"\\u20ac\\ud83d\\ude00\"}}\n\n"
            "event: content_block_delta\n"
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
            "{\"type\":\"text_delta\",\"text\":\"c\"}}\n\n"
            "event: message_stop\n"
            "data: {\"type\":\"message_stop\"}\n\n",
            size, want[size]);
    }
}


/* what the client gets: bytes that are not UTF-8 are U+FFFD */

static void
test_capture_invalid_utf8(void **state)
{
    char              *buf;
    test_ctx_t        *ctx;
    llm_delta_t        d;
    llm_stream_t       st;
    llm_request_t      req;
    llm_stream_out_t   out;

    ctx = *state;

    memset(&req, 0, sizeof(llm_request_t));
    llm_stream_init(&st, &req, NULL, 1);

    buf = test_cap_buf(ctx, 32);
    st.text = buf;
    st.text_size = 32;

    out.buf = test_copy(ctx, NULL, 4096);
    out.size = 4096;
    out.len = 0;

    memset(&d, 0, sizeof(llm_delta_t));
    d.tool_index = -1;
    d.content = "a\xff" "b\xc3";
    d.content_len = 4;

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_OK);

    assert_int_equal(st.text_len, 8);
    assert_memory_equal(buf, "a\xef\xbf\xbd" "b\xef\xbf\xbd", 8);

    /* the content is what was written: content_len, not strlen */

    d.content = "xyz";
    d.content_len = 2;

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_OK);

    assert_int_equal(st.text_len, 10);
    assert_memory_equal(buf + 8, "xy", 2);

    /* llm_stream_text() directly: a U+FFFD that does not fit is a cut */

    st.text_len = 30;

    llm_stream_text(&st, "\xff", 1);

    assert_int_equal(st.text_len, 30);
    assert_int_equal(st.text_full, 1);

    llm_stream_text(&st, "z", 1);
    assert_int_equal(st.text_len, 30);

    test_cap_guard(buf, 32);
}


/* no buffer: nothing kept; a bad text_len is not written past */

static void
test_capture_off(void **state)
{
    char               buf[8];
    test_stream_run_t  run;

    test_stream_run(*state, &llm_openai_adapter,
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ab\"}}]}"
        "\n\ndata: [DONE]\n\n", 0, 0, NULL, 0, &run);

    assert_int_equal(run.end, LLM_OK);
    assert_null(run.st.text);
    assert_int_equal(run.st.text_len, 0);

    /* a size without a buffer */

    test_stream_run(*state, &llm_openai_adapter,
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ab\"}}]}"
        "\n\ndata: [DONE]\n\n", 0, 0, NULL, 100, &run);

    assert_int_equal(run.st.text_len, 0);

    /* text_len past text_size: taken as full */

    memset(buf, 'Z', sizeof(buf));

    run.st.text = buf;
    run.st.text_size = 4;
    run.st.text_len = 5;
    run.st.text_full = 0;

    llm_stream_text(&run.st, "ab", 2);

    assert_int_equal(run.st.text_full, 1);
    assert_int_equal(buf[0], 'Z');
    assert_int_equal(buf[5], 'Z');
}


/* an event that does not go out is not kept */

static void
test_capture_out_full(void **state)
{
    char              *buf;
    test_ctx_t        *ctx;
    llm_error_t        err;
    llm_delta_t        d;
    llm_stream_t       st;
    llm_request_t      req;
    llm_sse_event_t    ev;
    llm_stream_out_t   out;

    static const char  data[] =
        "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ab\"}}]}";

    ctx = *state;

    memset(&req, 0, sizeof(llm_request_t));
    llm_stream_init(&st, &req, NULL, 1);

    buf = test_cap_buf(ctx, 32);
    st.text = buf;
    st.text_size = 32;

    out.buf = test_copy(ctx, NULL, 16);
    out.size = 16;
    out.len = 0;

    memset(&ev, 0, sizeof(llm_sse_event_t));
    ev.event = "";
    ev.data = data;
    ev.data_len = sizeof(data) - 1;

    assert_int_equal(llm_openai_adapter.stream_event(&st, &ev, &out, &err),
                     LLM_ERROR);
    assert_int_equal(st.text_len, 0);

    memset(&d, 0, sizeof(llm_delta_t));
    d.tool_index = -1;
    d.content = "cd";
    d.content_len = 2;

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_ERROR);
    assert_int_equal(st.text_len, 0);

    test_cap_guard(buf, 32);
}


/*
 * Translated answers: the first choice's text and finish reason, in the
 * pool (they outlive the provider's parsed answer)
 */

static void
test_capture_response(void **state)
{
    char            *body;
    size_t           i, len;
    test_ctx_t      *ctx;
    llm_error_t      err;
    llm_request_t    req;
    llm_provider_t   p;
    llm_response_t   out;

    static const struct {
        const llm_adapter_t  *ad;
        const char           *answer;
        const char           *content;       /* NULL: null */
        const char           *reason;
    } t[] = {
        { &llm_anthropic_adapter,
          "{\"type\":\"message\",\"content\":[{\"type\":\"thinking\","
          "\"thinking\":\"x\"},{\"type\":\"text\",\"text\":\"A\"},"
          "{\"type\":\"text\",\"text\":\"\\u00e9\"}],\"stop_reason\":"
          "\"max_tokens\"}",
          "A\xc3\xa9", "length" },
        { &llm_anthropic_adapter,
          "{\"type\":\"message\",\"content\":[{\"type\":\"tool_use\","
          "\"id\":\"t\",\"name\":\"f\",\"input\":{}}],\"stop_reason\":"
          "\"tool_use\"}",
          NULL, "tool_calls" },
        { &llm_gemini_adapter,
          "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"B\"}]},"
          "\"finishReason\":\"SAFETY\"},{\"content\":{\"parts\":"
          "[{\"text\":\"other\"}]},\"index\":1}],\"responseId\":\"r\"}",
          "B", "content_filter" },
        { &llm_cohere_adapter,
          "{\"id\":\"c\",\"finish_reason\":\"COMPLETE\",\"message\":"
          "{\"content\":[{\"type\":\"text\",\"text\":\"C\"}]}}",
          "C", "stop" },

        /* the tool plan as content: not a pointer into the parsed answer */

        { &llm_cohere_adapter,
          "{\"id\":\"c\",\"finish_reason\":\"TOOL_CALL\",\"message\":"
          "{\"tool_plan\":\"I will call f.\",\"tool_calls\":[{\"id\":"
          "\"t1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
          "\"arguments\":\"{}\"}}]}}",
          "I will call f.", "tool_calls" }
    };

    ctx = *state;

    memset(&req, 0, sizeof(llm_request_t));
    memset(&p, 0, sizeof(llm_provider_t));

    req.model = "client-model";
    p.name = "test";
    p.model = "m";

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        len = strlen(t[i].answer);
        body = test_copy(ctx, t[i].answer, len);

        if (t[i].ad->decode(&req, &p, body, len, 1, &ctx->pool, &out, &err)
            != LLM_OK)
        {
            fail_msg("decode %lu: %s", (unsigned long) i, err.message);
        }

        /* the provider's answer is gone */

        memset(body, 'X', len);

        assert_string_equal(out.finish_reason, t[i].reason);

        if (t[i].content == NULL) {
            assert_null(out.content);
            assert_int_equal(out.content_len, 0);

        } else {
            assert_non_null(out.content);
            assert_int_equal(out.content_len, strlen(t[i].content));
            assert_memory_equal(out.content, t[i].content, out.content_len);
        }
    }
}


static const char  test_prompt_body[] =
    "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
    "\"Be brief.\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
    "\"text\":\"caf\\u00e9 \\\"x\\\"\"}]}],\"temperature\":0.5}";

#define TEST_PROMPT_TEXT                                                      \
    "[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\","    \
    "\"content\":[{\"type\":\"text\",\"text\":\"caf\xc3\xa9 \\\"x\\\"\"}]}]"


static void
test_prompt_text(void **state)
{
    char           *text, *body;
    size_t          len;
    test_ctx_t     *ctx;
    llm_error_t     err;
    llm_request_t   req;

    ctx = *state;

    body = test_copy(ctx, test_prompt_body, sizeof(test_prompt_body) - 1);

    assert_int_equal(llm_request_parse(&req, body,
                                       sizeof(test_prompt_body) - 1, &err),
                     LLM_OK);

    text = llm_request_prompt_text(&req, 4096, &ctx->pool, &len);

    assert_non_null(text);
    assert_int_equal(len, sizeof(TEST_PROMPT_TEXT) - 1);
    assert_string_equal(text, TEST_PROMPT_TEXT);

    /* exactly as long as the text: all of it */

    text = llm_request_prompt_text(&req, len, &ctx->pool, &len);

    assert_non_null(text);
    assert_string_equal(text, TEST_PROMPT_TEXT);

    llm_request_free(&req);
}


/* every cut: a prefix, not longer than max, on a character boundary */

static void
test_prompt_text_cut(void **state)
{
    char           *text, *body;
    size_t          len, max, full;
    test_ctx_t     *ctx;
    llm_error_t     err;
    llm_request_t   req;

    ctx = *state;

    body = test_copy(ctx, test_prompt_body, sizeof(test_prompt_body) - 1);

    assert_int_equal(llm_request_parse(&req, body,
                                       sizeof(test_prompt_body) - 1, &err),
                     LLM_OK);

    full = sizeof(TEST_PROMPT_TEXT) - 1;

    for (max = 0; max <= full + 2; max++) {
        len = 12345;
        text = llm_request_prompt_text(&req, max, &ctx->pool, &len);

        assert_non_null(text);
        assert_int_equal(strlen(text), len);
        assert_true(len <= max);
        assert_memory_equal(text, TEST_PROMPT_TEXT, len);

        /* the pieces here are at most 2 bytes: "\u00e9" and "\"" */

        if (max <= full) {
            assert_true(len + 1 >= max);

        } else {
            assert_int_equal(len, full);
        }

        /* never half of "é" or of "\"" */

        assert_int_equal(llm_utf8_trim(text, len), len);

        if (len > 0) {
            assert_true(text[len - 1] != '\\');
        }
    }

    /* the cut before "é" */

    max = (size_t) (strstr(TEST_PROMPT_TEXT, "\xc3\xa9") - TEST_PROMPT_TEXT);

    text = llm_request_prompt_text(&req, max + 1, &ctx->pool, &len);
    assert_int_equal(len, max);

    text = llm_request_prompt_text(&req, max + 2, &ctx->pool, &len);
    assert_int_equal(len, max + 2);

    llm_request_free(&req);
}


/* a large prompt: the buffer is max bytes, not the prompt's size */

static void
test_prompt_text_large(void **state)
{
    char           *text, *body, *p;
    size_t          len, n, count;
    test_ctx_t     *ctx;
    llm_error_t     err;
    llm_request_t   req;

    ctx = *state;

    n = 100000;
    body = test_copy(ctx, NULL, n + 256);

    p = body;
    p += sprintf(p, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                    "\"content\":\"");
    memset(p, 'a', n);
    p += n;
    p += sprintf(p, "\"},{\"role\":\"assistant\",\"content\":\"b\"}]}");

    assert_int_equal(llm_request_parse(&req, body, (size_t) (p - body), &err),
                     LLM_OK);

    count = ctx->count;

    text = llm_request_prompt_text(&req, 4096, &ctx->pool, &len);

    assert_non_null(text);
    assert_int_equal(len, 4096);
    assert_int_equal(strlen(text), 4096);
    assert_memory_equal(text, "[{\"role\":\"user\",\"content\":\"aaa", 30);

    /* one allocation */

    assert_int_equal(ctx->count, count + 1);

    text = llm_request_prompt_text(&req, (size_t) -1, &ctx->pool, &len);

    assert_non_null(text);
    assert_int_equal(len, n + sizeof("[{\"role\":\"user\",\"content\":\"\"},"
                                     "{\"role\":\"assistant\",\"content\":"
                                     "\"b\"}]") - 1);

    llm_request_free(&req);
}


static void
test_prompt_text_none(void **state)
{
    char           *body;
    size_t          len;
    test_ctx_t     *ctx;
    llm_error_t     err;
    llm_request_t   req;

    ctx = *state;

    memset(&req, 0, sizeof(llm_request_t));

    len = 7;
    assert_null(llm_request_prompt_text(&req, 100, &ctx->pool, &len));
    assert_int_equal(len, 0);

    assert_null(llm_request_prompt_text(NULL, 100, &ctx->pool, NULL));

    body = test_copy(ctx, test_prompt_body, sizeof(test_prompt_body) - 1);

    assert_int_equal(llm_request_parse(&req, body,
                                       sizeof(test_prompt_body) - 1, &err),
                     LLM_OK);

    ctx->fail_at = ctx->count + 1;

    assert_null(llm_request_prompt_text(&req, 100, &ctx->pool, &len));

    ctx->fail_at = 0;

    llm_request_free(&req);
}


void
test_capture_register(void)
{
    TEST_ADD(test_capture_openai);
    TEST_ADD(test_capture_mistral);
    TEST_ADD(test_capture_anthropic);
    TEST_ADD(test_capture_gemini);
    TEST_ADD(test_capture_cohere);
    TEST_ADD(test_capture_cut);
    TEST_ADD(test_capture_invalid_utf8);
    TEST_ADD(test_capture_off);
    TEST_ADD(test_capture_out_full);
    TEST_ADD(test_capture_response);
    TEST_ADD(test_prompt_text);
    TEST_ADD(test_prompt_text_cut);
    TEST_ADD(test_prompt_text_large);
    TEST_ADD(test_prompt_text_none);
}
