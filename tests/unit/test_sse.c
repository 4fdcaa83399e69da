
/*
 * ngx_http_llm_router_module: tests of the Server-Sent Events framer
 * (llm_sse_init(), llm_sse_feed()): every documented example stream fed
 * whole, a byte at a time and in random splits, with LF, CRLF and CR line
 * ends, gives the same events; and the corner cases of the format.
 */


#include <stdlib.h>
#include <string.h>

#include "test_util.h"


#define TEST_SSE_MAX      16384
#define TEST_SSE_BUF      4096
#define TEST_SSE_SEEDS    16


typedef struct {
    char          buf[TEST_SSE_MAX];
    size_t        len;
    size_t        nevents;
    size_t        fail_at;      /* the handler fails on this event, 1.. */
} test_sse_rec_t;


static int test_sse_record(void *data, const llm_sse_event_t *ev);
static void test_sse_append(test_sse_rec_t *rec, const char *s,
    size_t len);
static void test_sse_reference(const char *text, test_sse_rec_t *rec);
static char *test_sse_line_ends(test_ctx_t *ctx, const char *text,
    const char *eol);
static int test_sse_feed(test_ctx_t *ctx, const char *text, size_t len,
    size_t step, unsigned seed, size_t size, test_sse_rec_t *rec);
static void test_sse_expect(test_ctx_t *ctx, const char *text,
    size_t size, const char *want, size_t nevents);
static void test_sse_fails(test_ctx_t *ctx, const char *text, size_t size,
    size_t nevents);
static void test_sse_vectors(void **state);
static void test_sse_crlf_split(void **state);
static void test_sse_cr(void **state);
static void test_sse_multiline(void **state);
static void test_sse_comments(void **state);
static void test_sse_event_names(void **state);
static void test_sse_no_space(void **state);
static void test_sse_fields(void **state);
static void test_sse_no_blank_line(void **state);
static void test_sse_binary(void **state);
static void test_sse_overlong(void **state);
static void test_sse_overlong_name(void **state);
static void test_sse_overlong_split(void **state);
static void test_sse_small_buffers(void **state);
static void test_sse_overlong_lines(void **state);
static void test_sse_reuse(void **state);
static void test_sse_handler_error(void **state);
static void test_sse_no_handler(void **state);


/* the documented example streams, each ending with a blank line */

/* 1.3: text, usage chunk, [DONE] */
static const char  test_sse_openai[] =
    "data: {\"id\":\"chatcmpl-t2\",\"object\":\"chat.completion.chunk\",\"crea"
    "ted\":1767225600,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"de"
    "lta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],"
    "\"usage\":null}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-t2\",\"object\":\"chat.completion.chunk\",\"crea"
    "ted\":1767225600,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"de"
    "lta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-t2\",\"object\":\"chat.completion.chunk\",\"crea"
    "ted\":1767225600,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"de"
    "lta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-t2\",\"object\":\"chat.completion.chunk\",\"crea"
    "ted\":1767225600,\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"pr"
    "ompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}\n"
    "\n"
    "data: [DONE]\n"
    "\n";

/* 1.3: tool call deltas */
static const char  test_sse_openai_tools[] =
    "data: {\"id\":\"chatcmpl-t3\",\"object\":\"chat.completion.chunk\",\"crea"
    "ted\":1767225600,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"de"
    "lta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\""
    ":0,\"id\":\"call_t3\",\"type\":\"function\",\"function\":{\"name\":\"get_"
    "weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-t3\",\"object\":\"chat.completion.chunk\",\"crea"
    "ted\":1767225600,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"de"
    "lta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"ci"
    "ty\\\":\\\"Oslo\\\"}\"}}]},\"finish_reason\":null}]}\n"
    "\n"
    "data: {\"id\":\"chatcmpl-t3\",\"object\":\"chat.completion.chunk\",\"crea"
    "ted\":1767225600,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"de"
    "lta\":{},\"finish_reason\":\"tool_calls\"}]}\n"
    "\n";

/* 2.3: Anthropic, text then tool use, with a ping */
static const char  test_sse_anthropic[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_t3\",\"type\""
    ":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"cont"
    "ent\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_t"
    "okens\":30,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":"
    "0,\"output_tokens\":1}}}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\""
    "type\":\"text\",\"text\":\"\"}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\":\"ping\"}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"text_delta\",\"text\":\"Checking.\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\""
    "type\":\"tool_use\",\"id\":\"toolu_t3\",\"name\":\"get_weather\",\"input"
    "\":{}}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"\\\"Oslo\\\"}\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\""
    ",\"stop_sequence\":null},\"usage\":{\"output_tokens\":24}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

/* 2.3: Anthropic error event */
static const char  test_sse_anthropic_error[] =
    "event: error\n"
    "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"mess"
    "age\":\"Overloaded\"}}\n"
    "\n";

/* 3.3: Gemini */
static const char  test_sse_gemini[] =
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"tex"
    "t\":\"4 \xc2\xb0"
    "C\"}]},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":61,\"candida"
    "tesTokenCount\":3,\"thoughtsTokenCount\":20,\"totalTokenCount\":84},\"mod"
    "elVersion\":\"gemini-2.5-flash\",\"responseId\":\"rsp_t2\"}\n"
    "\n"
    "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"tex"
    "t\":\" in Oslo.\"}]},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetad"
    "ata\":{\"promptTokenCount\":61,\"candidatesTokenCount\":8,\"thoughtsToken"
    "Count\":20,\"totalTokenCount\":89},\"modelVersion\":\"gemini-2.5-flash\","
    "\"responseId\":\"rsp_t2\"}\n"
    "\n";

/* 4.3: Cohere, text */
static const char  test_sse_cohere[] =
    "event: message-start\n"
    "data: {\"id\":\"c0a8e2d4-t2\",\"type\":\"message-start\",\"delta\":{\"mes"
    "sage\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_c"
    "alls\":[],\"citations\":[]}}}\n"
    "\n"
    "event: content-start\n"
    "data: {\"type\":\"content-start\",\"index\":0,\"delta\":{\"message\":{\"c"
    "ontent\":{\"type\":\"text\",\"text\":\"\"}}}}\n"
    "\n"
    "event: content-delta\n"
    "data: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"c"
    "ontent\":{\"text\":\"4 \xc2\xb0"
    "C\"}}}}\n"
    "\n"
    "event: content-end\n"
    "data: {\"type\":\"content-end\",\"index\":0}\n"
    "\n"
    "event: message-end\n"
    "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"COMPLETE\""
    ",\"usage\":{\"billed_units\":{\"input_tokens\":18,\"output_tokens\":3},\""
    "tokens\":{\"input_tokens\":905,\"output_tokens\":3}}}}\n"
    "\n";

/* 4.3: Cohere, tool calls */
static const char  test_sse_cohere_tools[] =
    "event: tool-plan-delta\n"
    "data: {\"type\":\"tool-plan-delta\",\"delta\":{\"message\":{\"tool_plan\""
    ":\"I will call get_weather.\"}}}\n"
    "\n"
    "event: tool-call-start\n"
    "data: {\"type\":\"tool-call-start\",\"index\":0,\"delta\":{\"message\":{"
    "\"tool_calls\":{\"id\":\"get_weather_t2\",\"type\":\"function\",\"functio"
    "n\":{\"name\":\"get_weather\",\"arguments\":\"\"}}}}}\n"
    "\n"
    "event: tool-call-delta\n"
    "data: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{"
    "\"tool_calls\":{\"function\":{\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}"
    "\"}}}}}\n"
    "\n"
    "event: tool-call-end\n"
    "data: {\"type\":\"tool-call-end\",\"index\":0}\n"
    "\n"
    "event: message-end\n"
    "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"TOOL_CALL"
    "\",\"usage\":{\"billed_units\":{\"input_tokens\":20,\"output_tokens\":15}"
    ",\"tokens\":{\"input_tokens\":950,\"output_tokens\":15}}}}\n"
    "\n";

/* 5.3: Mistral */
static const char  test_sse_mistral[] =
    "data: {\"id\":\"9f1c-t2\",\"object\":\"chat.completion.chunk\",\"created"
    "\":1767225600,\"model\":\"mistral-small-latest\",\"choices\":[{\"index\":"
    "0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":n"
    "ull}]}\n"
    "\n"
    "data: {\"id\":\"9f1c-t2\",\"object\":\"chat.completion.chunk\",\"created"
    "\":1767225600,\"model\":\"mistral-small-latest\",\"choices\":[{\"index\":"
    "0,\"delta\":{\"content\":\"4 \xc2\xb0"
    "C\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":21,\"compl"
    "etion_tokens\":3,\"total_tokens\":24}}\n"
    "\n"
    "data: [DONE]\n"
    "\n";


static const struct {
    const char   *text;
    size_t        nevents;
} test_sse_streams[] = {
    { test_sse_openai, 5 },
    { test_sse_openai_tools, 3 },
    { test_sse_anthropic, 11 },
    { test_sse_anthropic_error, 1 },
    { test_sse_gemini, 2 },
    { test_sse_cohere, 5 },
    { test_sse_cohere_tools, 5 },
    { test_sse_mistral, 3 }
};


static const char  *const test_sse_eols[] = { "\n", "\r\n", "\r" };


/*
 * Events are recorded as "[name]data" + "\x1e"; the strings must be
 * NUL-terminated.
 */

static int
test_sse_record(void *data, const llm_sse_event_t *ev)
{
    test_sse_rec_t  *rec;

    rec = data;

    assert_non_null(ev->event);
    assert_non_null(ev->data);
    assert_int_equal(ev->event[ev->event_len], '\0');
    assert_int_equal(ev->data[ev->data_len], '\0');

    rec->nevents++;

    if (rec->fail_at != 0 && rec->nevents >= rec->fail_at) {
        assert_int_equal(rec->nevents, rec->fail_at);
        return LLM_ERROR;
    }

    test_sse_append(rec, "[", 1);
    test_sse_append(rec, ev->event, ev->event_len);
    test_sse_append(rec, "]", 1);
    test_sse_append(rec, ev->data, ev->data_len);
    test_sse_append(rec, "\x1e", 1);

    return LLM_OK;
}


static void
test_sse_append(test_sse_rec_t *rec, const char *s, size_t len)
{
    assert_true(len <= sizeof(rec->buf) - rec->len);

    memcpy(rec->buf + rec->len, s, len);
    rec->len += len;
}


/*
 * What the framer must give for a well-formed stream with LF line ends:
 * blocks split at blank lines, "event: " and "data: " lines only (and
 * comments), no other field.
 */

static void
test_sse_reference(const char *text, test_sse_rec_t *rec)
{
    size_t       n, ndata, nl;
    const char  *p, *end, *line, *name;
    size_t       name_len;
    char         data[TEST_SSE_MAX];

    p = text;
    end = text + strlen(text);

    while (p < end) {
        name = "";
        name_len = 0;
        ndata = 0;
        nl = 0;

        /* one block: lines up to a blank one */

        while (p < end && *p != '\n') {
            line = p;
            p = strchr(p, '\n');
            assert_non_null(p);
            n = (size_t) (p - line);
            p++;

            if (n >= 6 && memcmp(line, "data: ", 6) == 0) {
                if (nl++) {
                    data[ndata++] = '\n';
                }

                memcpy(data + ndata, line + 6, n - 6);
                ndata += n - 6;

            } else if (n >= 7 && memcmp(line, "event: ", 7) == 0) {
                name = line + 7;
                name_len = n - 7;

            } else {
                assert_true(n > 0 && line[0] == ':');
            }
        }

        p++;

        if (nl) {
            rec->nevents++;
            test_sse_append(rec, "[", 1);
            test_sse_append(rec, name, name_len);
            test_sse_append(rec, "]", 1);
            test_sse_append(rec, data, ndata);
            test_sse_append(rec, "\x1e", 1);
        }
    }
}


/* text with its LF line ends made eol */

static char *
test_sse_line_ends(test_ctx_t *ctx, const char *text, const char *eol)
{
    char    *s;
    size_t   i, n, len;

    len = strlen(text);
    s = test_copy(ctx, NULL, 2 * len + 1);

    for (i = 0, n = 0; i < len; i++) {
        if (text[i] == '\n') {
            memcpy(s + n, eol, strlen(eol));
            n += strlen(eol);

        } else {
            s[n++] = text[i];
        }
    }

    s[n] = '\0';

    return s;
}


/*
 * Feeds text in pieces of step bytes (0: whole; SIZE_MAX: random sizes
 * from 0 to 40 bytes, with seed) to a framer whose buffer is size bytes
 * (malloc'ed to that size exactly, for the memory checkers).
 */

static int
test_sse_feed(test_ctx_t *ctx, const char *text, size_t len, size_t step,
    unsigned seed, size_t size, test_sse_rec_t *rec)
{
    int         rc;
    char       *buf;
    size_t      n, off;
    llm_sse_t   sse;

    buf = test_copy(ctx, NULL, size);

    llm_sse_init(&sse, buf, size);

    srand(seed);

    for (off = 0; off < len; off += n) {
        if (step == 0) {
            n = len;

        } else if (step == (size_t) -1) {
            n = (size_t) (rand() % 41);

        } else {
            n = step;
        }

        if (n > len - off) {
            n = len - off;
        }

        rc = llm_sse_feed(&sse, text + off, n, test_sse_record, rec);

        if (rc != LLM_OK) {
            assert_int_equal(rc, LLM_ERROR);

            /* it stays failed */
            assert_int_equal(llm_sse_feed(&sse, "\n\n", 2, test_sse_record,
                                          rec),
                             LLM_ERROR);
            return rc;
        }
    }

    /* an empty feed changes nothing */
    return llm_sse_feed(&sse, text, 0, test_sse_record, rec);
}


static void
test_sse_expect(test_ctx_t *ctx, const char *text, size_t size,
    const char *want, size_t nevents)
{
    size_t           len, step;
    unsigned         seed;
    test_sse_rec_t  *rec;

    rec = (test_sse_rec_t *) test_copy(ctx, NULL, sizeof(test_sse_rec_t));

    len = strlen(text);

    for (step = 0; step < 4; step++) {
        memset(rec, 0, sizeof(test_sse_rec_t));

        assert_int_equal(test_sse_feed(ctx, text, len, step, 0, size, rec),
                         LLM_OK);
        assert_int_equal(rec->nevents, nevents);
        assert_int_equal(rec->len, strlen(want));
        assert_memory_equal(rec->buf, want, rec->len);
    }

    for (seed = 1; seed <= TEST_SSE_SEEDS; seed++) {
        memset(rec, 0, sizeof(test_sse_rec_t));

        assert_int_equal(test_sse_feed(ctx, text, len, (size_t) -1, seed,
                                       size, rec),
                         LLM_OK);
        assert_int_equal(rec->nevents, nevents);
        assert_int_equal(rec->len, strlen(want));
        assert_memory_equal(rec->buf, want, rec->len);
    }
}


/* LLM_ERROR after nevents events, whatever the split */

static void
test_sse_fails(test_ctx_t *ctx, const char *text, size_t size,
    size_t nevents)
{
    size_t           len, step;
    unsigned         seed;
    test_sse_rec_t  *rec;

    rec = (test_sse_rec_t *) test_copy(ctx, NULL, sizeof(test_sse_rec_t));

    len = strlen(text);

    for (step = 0; step < 4; step++) {
        memset(rec, 0, sizeof(test_sse_rec_t));

        assert_int_equal(test_sse_feed(ctx, text, len, step, 0, size, rec),
                         LLM_ERROR);
        assert_int_equal(rec->nevents, nevents);
    }

    for (seed = 1; seed <= TEST_SSE_SEEDS; seed++) {
        memset(rec, 0, sizeof(test_sse_rec_t));

        assert_int_equal(test_sse_feed(ctx, text, len, (size_t) -1, seed,
                                       size, rec),
                         LLM_ERROR);
        assert_int_equal(rec->nevents, nevents);
    }
}


static void
test_sse_vectors(void **state)
{
    char            *text;
    size_t           i, e;
    test_ctx_t      *ctx;
    test_sse_rec_t  *want;

    ctx = *state;

    want = (test_sse_rec_t *) test_copy(ctx, NULL, sizeof(test_sse_rec_t));

    for (i = 0; i < sizeof(test_sse_streams) / sizeof(test_sse_streams[0]);
         i++)
    {
        memset(want, 0, sizeof(test_sse_rec_t));

        test_sse_reference(test_sse_streams[i].text, want);
        assert_int_equal(want->nevents, test_sse_streams[i].nevents);

        test_sse_append(want, "", 1);

        for (e = 0; e < sizeof(test_sse_eols) / sizeof(test_sse_eols[0]);
             e++)
        {
            text = test_sse_line_ends(ctx, test_sse_streams[i].text,
                                      test_sse_eols[e]);

            test_sse_expect(ctx, text, TEST_SSE_BUF, want->buf,
                            want->nevents);
        }
    }
}


/* CR and LF of one line end in different calls: one line end only */

static void
test_sse_crlf_split(void **state)
{
    char             buf[64];
    llm_sse_t        sse;
    test_sse_rec_t  *rec;

    rec = (test_sse_rec_t *) test_copy(*state, NULL, sizeof(test_sse_rec_t));
    memset(rec, 0, sizeof(test_sse_rec_t));

    llm_sse_init(&sse, buf, sizeof(buf));

    assert_int_equal(llm_sse_feed(&sse, "data: a\r", 8, test_sse_record,
                                  rec), LLM_OK);
    assert_int_equal(llm_sse_feed(&sse, "\n", 1, test_sse_record, rec),
                     LLM_OK);
    assert_int_equal(rec->nevents, 0);

    assert_int_equal(llm_sse_feed(&sse, "data: b\r", 8, test_sse_record,
                                  rec), LLM_OK);
    assert_int_equal(llm_sse_feed(&sse, "\n\r", 2, test_sse_record, rec),
                     LLM_OK);
    assert_int_equal(rec->nevents, 1);

    /* the LF of that last CRLF: not another blank line */

    assert_int_equal(llm_sse_feed(&sse, "\n", 1, test_sse_record, rec),
                     LLM_OK);
    assert_int_equal(llm_sse_feed(&sse, "data: c\r\n\r\n", 12,
                                  test_sse_record, rec), LLM_OK);

    assert_int_equal(rec->nevents, 2);
    assert_int_equal(rec->len, TEST_LEN("[]a\nb\x1e[]c\x1e"));
    assert_memory_equal(rec->buf, "[]a\nb\x1e[]c\x1e", rec->len);
}


/* CR alone ends lines; CR CR is a blank line, and so is LF after CR CR */

static void
test_sse_cr(void **state)
{
    test_sse_expect(*state, "data: a\rdata: b\r\rdata: c\r\r\n", 64,
                    "[]a\nb\x1e[]c\x1e", 2);
    test_sse_expect(*state, "data: a\n\rdata: b\r\n\n", 64,
                    "[]a\x1e[]b\x1e", 2);
    test_sse_expect(*state, "\r\n\r\n\n\r\r\n", 64, "", 0);
}


static void
test_sse_multiline(void **state)
{
    test_sse_expect(*state, "data: a\ndata: b\ndata:\ndata: c\n\n", 64,
                    "[]a\nb\n\nc\x1e", 1);
    test_sse_expect(*state, "data:\ndata:\n\n", 64, "[]\n\x1e", 1);
    test_sse_expect(*state, "data: {\"a\":\ndata:  1}\n\n", 64,
                    "[]{\"a\":\n 1}\x1e", 1);
}


static void
test_sse_comments(void **state)
{
    test_sse_expect(*state, ": ping\n\n:\n\n", 64, "", 0);
    test_sse_expect(*state, ":x\ndata: a\n: data: b\n\n", 64, "[]a\x1e", 1);
    test_sse_expect(*state, ": " "data: a\n\ndata: b\n\n", 64, "[]b\x1e", 1);
}


static void
test_sse_event_names(void **state)
{
    test_sse_expect(*state, "event: x\ndata: 1\n\n", 64, "[x]1\x1e", 1);

    /* the last name wins, even after the data */
    test_sse_expect(*state, "data: 1\nevent: x\nevent: yz\n\n", 64,
                    "[yz]1\x1e", 1);
    test_sse_expect(*state, "event: long-name\nevent: n\ndata: 1\n\n", 64,
                    "[n]1\x1e", 1);

    /* a name does not outlive its event, dispatched or not */
    test_sse_expect(*state, "event: x\ndata: 1\n\ndata: 2\n\n", 64,
                    "[x]1\x1e[]2\x1e", 2);
    test_sse_expect(*state, "event: x\n\ndata: 2\n\n", 64, "[]2\x1e", 1);

    /* an empty name, with and without the colon */
    test_sse_expect(*state, "event: x\nevent:\ndata: 1\n\n", 64,
                    "[]1\x1e", 1);
    test_sse_expect(*state, "event: x\nevent\ndata: 1\n\n", 64,
                    "[]1\x1e", 1);

    test_sse_expect(*state, "event:  sp \ndata:1\n\n", 64, "[ sp ]1\x1e", 1);
}


/* one space after the colon goes, not more; none is fine */

static void
test_sse_no_space(void **state)
{
    test_sse_expect(*state, "data:a\n\n", 64, "[]a\x1e", 1);
    test_sse_expect(*state, "data:  a\n\n", 64, "[] a\x1e", 1);
    test_sse_expect(*state, "data:\ta\n\n", 64, "[]\ta\x1e", 1);
    test_sse_expect(*state, "event:x\ndata:a:b\n\n", 64, "[x]a:b\x1e", 1);
    test_sse_expect(*state, "data: \n\n", 64, "[]\x1e", 1);
}


/* other fields are ignored; a field without a colon has the value "" */

static void
test_sse_fields(void **state)
{
    test_sse_expect(*state, "id: 1\nretry: 10\ndata: a\nid\n\n", 64,
                    "[]a\x1e", 1);
    test_sse_expect(*state, "data\n\n", 64, "[]\x1e", 1);
    test_sse_expect(*state, "data\ndata\n\n", 64, "[]\n\x1e", 1);
    test_sse_expect(*state, "dat: x\n\ndatas: x\n\nData: x\n\n data: x\n\n",
                    64, "", 0);
    test_sse_expect(*state, "a-very-long-field-name: x\ndata: 1\n\n", 64,
                    "[]1\x1e", 1);
    test_sse_expect(*state, "id: 1\nevent: x\n\n", 64, "", 0);
}


/* an event is dispatched only when its blank line arrives */

static void
test_sse_no_blank_line(void **state)
{
    test_sse_expect(*state, "data: a\n\ndata: b\n", 64, "[]a\x1e", 1);
    test_sse_expect(*state, "data: a", 64, "", 0);
    test_sse_expect(*state, "", 64, "", 0);
}


/* bytes are bytes: NUL and invalid UTF-8 go through */

static void
test_sse_binary(void **state)
{
    char             text[] = "data: a\0b\xff\n\n";
    test_ctx_t      *ctx;
    test_sse_rec_t  *rec;

    ctx = *state;

    rec = (test_sse_rec_t *) test_copy(ctx, NULL, sizeof(test_sse_rec_t));
    memset(rec, 0, sizeof(test_sse_rec_t));

    assert_int_equal(test_sse_feed(ctx, text, sizeof(text) - 1, 1, 0, 64,
                                   rec), LLM_OK);
    assert_int_equal(rec->nevents, 1);
    assert_int_equal(rec->len, 7);
    assert_memory_equal(rec->buf, "[]a\0b\xff\x1e", 7);
}


/* data + its NUL fit a 16-byte buffer up to 15 bytes */

static void
test_sse_overlong(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_sse_expect(ctx, "data: 0123456789abcde\n\n", 16,
                    "[]0123456789abcde\x1e", 1);
    test_sse_expect(ctx, "data: 0123456\ndata: 789abcd\n\n", 16,
                    "[]0123456\n789abcd\x1e", 1);

    test_sse_fails(ctx, "data: 0\n\ndata: 0123456789abcdef\n\ndata: 1\n\n",
                   16, 1);
    test_sse_fails(ctx, "data: 0123456\ndata: 789abcde\n\n", 16, 0);

    /* the newline that would join one more line */
    test_sse_fails(ctx, "data: 0123456789abcde\ndata:\n\n", 16, 0);
}


/* the name and its NUL count too: name + data + 2 <= size */

static void
test_sse_overlong_name(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_sse_expect(ctx, "event: abc\ndata: 0123456789a\n\n", 16,
                    "[abc]0123456789a\x1e", 1);
    test_sse_expect(ctx, "data: 0123456789a\nevent: abc\n\n", 16,
                    "[abc]0123456789a\x1e", 1);
    test_sse_expect(ctx, "event: 0123456789abcd\n\ndata: 0\n\n", 16,
                    "[]0\x1e", 1);
    test_sse_expect(ctx, "event: a\ndata:\n\n", 3, "[a]\x1e", 1);

    /* a long name replaced by a short one frees its room at once */
    test_sse_expect(ctx, "event: 0123456789abcd\nevent: x\n"
                         "data: 0123456789ab\n\n", 16,
                    "[x]0123456789ab\x1e", 1);

    test_sse_fails(ctx, "event: abc\ndata: 0123456789ab\n\n", 16, 0);
    test_sse_fails(ctx, "data: 0123456789ab\nevent: abc\n\n", 16, 0);
    test_sse_fails(ctx, "event: 0123456789abcde\n\n", 16, 0);
    test_sse_fails(ctx, "event: a\ndata: x\n\n", 3, 0);
    test_sse_fails(ctx, "event: a\n\n", 2, 0);

    /* an empty name still needs its NUL */
    test_sse_fails(ctx, "data: 0123456789abcde\nevent:\n\n", 16, 0);
}


/* a large event is refused whatever the split; the next one never comes */

static void
test_sse_overlong_split(void **state)
{
    char            *text;
    size_t           len;
    unsigned         seed;
    test_ctx_t      *ctx;
    test_sse_rec_t  *rec;

    ctx = *state;

    len = 6 + 5000 + 2 + 9;
    text = test_copy(ctx, NULL, len + 1);

    memcpy(text, "data: ", 6);
    memset(text + 6, 'x', 5000);
    memcpy(text + 5006, "\n\ndata: 1\n\n", 11);
    text[len] = '\0';

    rec = (test_sse_rec_t *) test_copy(ctx, NULL, sizeof(test_sse_rec_t));

    for (seed = 0; seed < 4; seed++) {
        memset(rec, 0, sizeof(test_sse_rec_t));

        assert_int_equal(test_sse_feed(ctx, text, len,
                                       seed ? (size_t) -1 : 0, seed,
                                       TEST_SSE_BUF, rec),
                         LLM_ERROR);
        assert_int_equal(rec->nevents, 0);
    }

    memset(rec, 0, sizeof(test_sse_rec_t));

    assert_int_equal(test_sse_feed(ctx, text, len, 0, 0, 5008, rec),
                     LLM_OK);
    assert_int_equal(rec->nevents, 2);
}


/* buffers too small for any event: errors, never a write out of bounds */

static void
test_sse_small_buffers(void **state)
{
    char             one[1];
    llm_sse_t        sse;
    test_sse_rec_t  *rec;

    rec = (test_sse_rec_t *) test_copy(*state, NULL, sizeof(test_sse_rec_t));
    memset(rec, 0, sizeof(test_sse_rec_t));

    llm_sse_init(&sse, NULL, 0);
    assert_int_equal(llm_sse_feed(&sse, "\n\r\n:\n", 5, test_sse_record,
                                  rec), LLM_OK);
    assert_int_equal(llm_sse_feed(&sse, "data\n", 5, test_sse_record, rec),
                     LLM_ERROR);

    /* no line longer than the buffer, even one that is not kept */
    llm_sse_init(&sse, NULL, 0);
    assert_int_equal(llm_sse_feed(&sse, ": hi\n", 5, test_sse_record, rec),
                     LLM_ERROR);

    llm_sse_init(&sse, NULL, 100);
    assert_int_equal(llm_sse_feed(&sse, "data: x\n", 8, test_sse_record,
                                  rec), LLM_ERROR);

    llm_sse_init(&sse, one, 1);
    assert_int_equal(llm_sse_feed(&sse, "data:\n\n", 7, test_sse_record,
                                  rec), LLM_OK);
    assert_int_equal(llm_sse_feed(&sse, "event\n", 6, test_sse_record, rec),
                     LLM_ERROR);

    llm_sse_init(&sse, one, 1);
    assert_int_equal(llm_sse_feed(&sse, "data: x\n\n", 9, test_sse_record,
                                  rec), LLM_ERROR);

    assert_int_equal(rec->nevents, 1);
    assert_int_equal(rec->len, 3);

    test_sse_expect(*state, "event:\ndata:\n\n", 2, "[]\x1e", 1);
}


/*
 * Every line is bounded by the buffer, those that are skipped too: a
 * comment, an unknown field, a field name, bytes that never end a line.
 */

static void
test_sse_overlong_lines(void **state)
{
    char         text[4096];
    size_t       i;
    test_ctx_t  *ctx;

    ctx = *state;

    /* up to the buffer's size (past a field name's 8 bytes): skipped */
    test_sse_expect(ctx, ":0123456789abcdef\ndata: a\n\n", 16,
                    "[]a\x1e", 1);
    test_sse_expect(ctx, "id:0123456789abcdef\ndata: a\n\n", 16,
                    "[]a\x1e", 1);
    test_sse_expect(ctx, "abcdefgh0123456789abcdef\ndata: a\n\n", 16,
                    "[]a\x1e", 1);

    /* one byte more: an error, whatever the split */
    test_sse_fails(ctx, ":0123456789abcdefg\ndata: a\n\n", 16, 0);
    test_sse_fails(ctx, "id:0123456789abcdefg\ndata: a\n\n", 16, 0);
    test_sse_fails(ctx, "abcdefgh0123456789abcdefg\ndata: a\n\n", 16, 0);
    test_sse_fails(ctx, "data: a\n\n{\"id\":\"AAAAAAAAAAAAAAAAA", 16, 1);
    test_sse_fails(ctx, "data: a\n\ndatadatadatadatadatadatad", 16, 1);

    /* an answer without line ends: an error once the buffer is passed */
    text[0] = '{';

    for (i = 1; i < sizeof(text) - 1; i++) {
        text[i] = 'A';
    }

    text[i] = '\0';

    test_sse_fails(ctx, text, 1024, 0);

    /* many bounded lines are fine */
    for (i = 0; i + 6 < sizeof(text); i += 6) {
        memcpy(text + i, ": 12\r\n", 6);
    }

    text[i] = '\0';

    test_sse_expect(ctx, text, 8, "", 0);
}


/* the buffer is reused: many events through a small one */

static void
test_sse_reuse(void **state)
{
    char             text[500 * 12 + 1], *p;
    size_t           i;
    test_sse_rec_t  *want;

    p = text;

    for (i = 0; i < 500; i++) {
        memcpy(p, "data: 0123\n\n", 12);
        p += 12;
    }

    *p = '\0';

    want = (test_sse_rec_t *) test_copy(*state, NULL,
                                        sizeof(test_sse_rec_t));
    memset(want, 0, sizeof(test_sse_rec_t));

    for (i = 0; i < 500; i++) {
        test_sse_append(want, "[]0123\x1e", 7);
    }

    test_sse_append(want, "", 1);

    test_sse_expect(*state, text, 5, want->buf, 500);
}


static void
test_sse_handler_error(void **state)
{
    size_t           step;
    test_ctx_t      *ctx;
    test_sse_rec_t  *rec;

    ctx = *state;

    rec = (test_sse_rec_t *) test_copy(ctx, NULL, sizeof(test_sse_rec_t));

    for (step = 0; step < 3; step++) {
        memset(rec, 0, sizeof(test_sse_rec_t));
        rec->fail_at = 2;

        assert_int_equal(test_sse_feed(ctx, test_sse_openai,
                                       strlen(test_sse_openai), step, 0,
                                       TEST_SSE_BUF, rec),
                         LLM_ERROR);

        /* the third event never reached the handler */
        assert_int_equal(rec->nevents, 2);
    }
}


static void
test_sse_no_handler(void **state)
{
    char       buf[64];
    llm_sse_t  sse;

    (void) state;

    llm_sse_init(&sse, buf, sizeof(buf));

    assert_int_equal(llm_sse_feed(&sse, "event: x\ndata: a\n\n", 18, NULL,
                                  NULL), LLM_OK);
    assert_int_equal(llm_sse_feed(&sse, "data: b\n\n", 9, NULL, NULL),
                     LLM_OK);
}


void
test_sse_register(void)
{
    TEST_ADD(test_sse_vectors);
    TEST_ADD(test_sse_crlf_split);
    TEST_ADD(test_sse_cr);
    TEST_ADD(test_sse_multiline);
    TEST_ADD(test_sse_comments);
    TEST_ADD(test_sse_event_names);
    TEST_ADD(test_sse_no_space);
    TEST_ADD(test_sse_fields);
    TEST_ADD(test_sse_no_blank_line);
    TEST_ADD(test_sse_binary);
    TEST_ADD(test_sse_overlong);
    TEST_ADD(test_sse_overlong_name);
    TEST_ADD(test_sse_overlong_split);
    TEST_ADD(test_sse_small_buffers);
    TEST_ADD(test_sse_overlong_lines);
    TEST_ADD(test_sse_reuse);
    TEST_ADD(test_sse_handler_error);
    TEST_ADD(test_sse_no_handler);
}
