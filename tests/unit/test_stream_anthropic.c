
/*
 * ngx_http_llm_router_module: tests of the Anthropic stream decoder (the
 * provider's API reference).  Each stream goes through the SSE framer whole,
 * one byte at a time and in 7-byte pieces, and the whole OpenAI output
 * (after llm_stream_finish() or llm_stream_fail()) is compared byte for
 * byte.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"


#define SA_CREATED    1767225600LL
#define SA_GUARD      64
#define SA_SSE_SIZE   8192

/* the Anthropic side */

#define A_EV(name, json)  "event: " name "\ndata: " json "\n\n"

#define A_START_U(usage)                                                      \
    A_EV("message_start", "{\"type\":\"message_start\",\"message\":"         \
         "{\"id\":\"msg_t3\",\"type\":\"message\",\"role\":\"assistant\","    \
         "\"model\":\"claude-haiku-4-5\",\"content\":[],\"stop_reason\":"    \
         "null,\"stop_sequence\":null,\"usage\":" usage "}}")

#define A_USAGE_30                                                            \
    "{\"input_tokens\":30,\"cache_creation_input_tokens\":0,"                 \
    "\"cache_read_input_tokens\":0,\"output_tokens\":1}"

#define A_START       A_START_U(A_USAGE_30)

#define A_TEXT_START(i)                                                       \
    A_EV("content_block_start", "{\"type\":\"content_block_start\","         \
         "\"index\":" #i ",\"content_block\":{\"type\":\"text\","            \
         "\"text\":\"\"}}")

#define A_TEXT(i, s)                                                          \
    A_EV("content_block_delta", "{\"type\":\"content_block_delta\","         \
         "\"index\":" #i ",\"delta\":{\"type\":\"text_delta\",\"text\":\""   \
         s "\"}}")

#define A_STOP(i)                                                             \
    A_EV("content_block_stop", "{\"type\":\"content_block_stop\","           \
         "\"index\":" #i "}")

#define A_TOOL_START(i, id, name)                                             \
    A_EV("content_block_start", "{\"type\":\"content_block_start\","         \
         "\"index\":" #i ",\"content_block\":{\"type\":\"tool_use\","        \
         "\"id\":\"" id "\",\"name\":\"" name "\",\"input\":{}}}")

#define A_JSON(i, s)                                                          \
    A_EV("content_block_delta", "{\"type\":\"content_block_delta\","         \
         "\"index\":" #i ",\"delta\":{\"type\":\"input_json_delta\","        \
         "\"partial_json\":\"" s "\"}}")

#define A_MSG_DELTA(reason, usage)                                            \
    A_EV("message_delta", "{\"type\":\"message_delta\",\"delta\":"           \
         "{\"stop_reason\":" reason ",\"stop_sequence\":null},\"usage\":"    \
         usage "}")

#define A_MSG_STOP    A_EV("message_stop", "{\"type\":\"message_stop\"}")
#define A_PING        A_EV("ping", "{\"type\": \"ping\"}")

#define A_ERROR(kind, message)                                                \
    A_EV("error", "{\"type\":\"error\",\"error\":{\"type\":\"" kind "\","    \
         "\"message\":\"" message "\"}}")

/* the OpenAI side */

#define O_HEAD                                                                \
    "data: {\"id\":\"msg_t3\",\"object\":\"chat.completion.chunk\","          \
    "\"created\":1767225600,\"model\":\"claude-haiku-4-5\",\"choices\":"

#define O_D(delta)                                                            \
    O_HEAD "[{\"index\":0,\"delta\":{" delta "},\"logprobs\":null,"           \
    "\"finish_reason\":null}]}\n\n"

#define O_ROLE        O_D("\"role\":\"assistant\",\"content\":\"\"")
#define O_TEXT(s)     O_D("\"content\":\"" s "\"")

#define O_CALL(k, id, name)                                                   \
    O_D("\"tool_calls\":[{\"index\":" #k ",\"id\":\"" id "\",\"type\":"       \
        "\"function\",\"function\":{\"name\":\"" name "\",\"arguments\":"     \
        "\"\"}}]")

#define O_ARGS(k, s)                                                          \
    O_D("\"tool_calls\":[{\"index\":" #k ",\"function\":{\"arguments\":\""    \
        s "\"}}]")

#define O_FINISH(r)                                                           \
    O_HEAD "[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":"  \
    "\"" r "\"}]}\n\n"

#define O_USAGE(u)    O_HEAD "[],\"usage\":" u "}\n\n"

#define O_ERROR(message, type, code)                                          \
    "data: {\"error\":{\"message\":\"" message "\",\"type\":\"" type "\","    \
    "\"param\":null,\"code\":" code "}}\n\n"

#define O_DONE        "data: [DONE]\n\n"


typedef struct {
    const char   *name;
    const char   *sse;              /* the Anthropic stream */
    int           rc;               /* the last event's: LLM_DONE... */
    const char   *want;             /* the OpenAI events before [DONE] */
    const char   *usage;            /* the usage chunk, include_usage */
    int           status;           /* LLM_ERROR: the error */
    const char   *type;
    const char   *code;
} test_sa_t;


typedef struct {
    llm_stream_t      st;
    llm_stream_out_t  out;
    llm_error_t       err;
    int               rc;           /* the last stream_event()'s */
    int               end;          /* llm_stream_finish() / _fail()'s */
    size_t            events;
} test_sa_run_t;


static int test_sa_handler(void *data, const llm_sse_event_t *ev);
static void test_sa_run(test_ctx_t *ctx, const char *sse, size_t split,
    int include_usage, size_t size, test_sa_run_t *run);
static char *test_sa_expect(test_ctx_t *ctx, const test_sa_t *t,
    int include_usage, size_t *len);
static void test_sa_stream(void **state);
static void test_sa_small(void **state);
static void test_sa_event_name(void **state);
static void test_sa_empty_data(void **state);
static void test_sa_usage(void **state);
static void test_sa_usage_repeated(void **state);
static void test_sa_many_tools(void **state);
static void test_sa_tool_index(void **state);
static void test_sa_bad(void **state);


static const test_sa_t  test_sa[] = {

    /* the API reference's example, as it is: text, ping, a tool call */

    { "anthropic stream: reference vector",
      A_START A_TEXT_START(0) A_PING A_TEXT(0, "Checking.") A_STOP(0)
      A_TOOL_START(1, "toolu_t3", "get_weather")
      A_JSON(1, "{\\\"city\\\":") A_JSON(1, "\\\"Oslo\\\"}") A_STOP(1)
      A_MSG_DELTA("\"tool_use\"", "{\"output_tokens\":24}") A_MSG_STOP,
      LLM_DONE,
      O_ROLE O_TEXT("Checking.") O_CALL(0, "toolu_t3", "get_weather")
      O_ARGS(0, "{\\\"city\\\":") O_ARGS(0, "\\\"Oslo\\\"}")
      O_FINISH("tool_calls"),
      O_USAGE("{\"prompt_tokens\":30,\"completion_tokens\":24,"
              "\"total_tokens\":54,\"prompt_tokens_details\":"
              "{\"cached_tokens\":0}}"),
      0, NULL, NULL },

    { "anthropic stream: text",
      A_START A_TEXT_START(0) A_TEXT(0, "Hello") A_TEXT(0, "")
      A_TEXT(0, ", \\\"world\\\"\\n") A_STOP(0)
      A_MSG_DELTA("\"end_turn\"", "{\"output_tokens\":5}") A_MSG_STOP,
      LLM_DONE,
      O_ROLE O_TEXT("Hello") O_TEXT(", \\\"world\\\"\\n") O_FINISH("stop"),
      O_USAGE("{\"prompt_tokens\":30,\"completion_tokens\":5,"
              "\"total_tokens\":35,\"prompt_tokens_details\":"
              "{\"cached_tokens\":0}}"),
      0, NULL, NULL },

    /* the OpenAI index counts tool calls, not blocks */

    { "anthropic stream: text then two tools",
      A_START A_TEXT_START(0) A_TEXT(0, "Two calls.") A_STOP(0)
      A_TOOL_START(1, "toolu_a", "get_weather") A_JSON(1, "")
      A_JSON(1, "{\\\"city\\\":\\\"Oslo\\\"}") A_STOP(1)
      A_TOOL_START(2, "toolu_b", "get_time")
      A_JSON(2, "{\\\"tz\\\":") A_JSON(2, "\\\"CET\\\"}") A_STOP(2)
      A_MSG_DELTA("\"tool_use\"", "{\"output_tokens\":40}") A_MSG_STOP,
      LLM_DONE,
      O_ROLE O_TEXT("Two calls.") O_CALL(0, "toolu_a", "get_weather")
      O_ARGS(0, "{\\\"city\\\":\\\"Oslo\\\"}")
      O_CALL(1, "toolu_b", "get_time")
      O_ARGS(1, "{\\\"tz\\\":") O_ARGS(1, "\\\"CET\\\"}")
      O_FINISH("tool_calls"),
      O_USAGE("{\"prompt_tokens\":30,\"completion_tokens\":40,"
              "\"total_tokens\":70,\"prompt_tokens_details\":"
              "{\"cached_tokens\":0}}"),
      0, NULL, NULL },

    /* a delta finds its call by block index, whatever came in between */

    { "anthropic stream: interleaved tool deltas",
      A_START A_TOOL_START(0, "toolu_a", "f") A_TOOL_START(1, "toolu_b", "g")
      A_JSON(1, "{}") A_JSON(0, "{\\\"x\\\":1}")
      A_MSG_DELTA("\"tool_use\"", "{\"output_tokens\":9}") A_MSG_STOP,
      LLM_DONE,
      O_ROLE O_CALL(0, "toolu_a", "f") O_CALL(1, "toolu_b", "g")
      O_ARGS(1, "{}") O_ARGS(0, "{\\\"x\\\":1}") O_FINISH("tool_calls"),
      O_USAGE("{\"prompt_tokens\":30,\"completion_tokens\":9,"
              "\"total_tokens\":39,\"prompt_tokens_details\":"
              "{\"cached_tokens\":0}}"),
      0, NULL, NULL },

    /* thinking, signatures, server tools and citations have no OpenAI form */

    { "anthropic stream: thinking and server tools dropped",
      A_START
      A_EV("content_block_start", "{\"type\":\"content_block_start\","
           "\"index\":0,\"content_block\":{\"type\":\"thinking\","
           "\"thinking\":\"\"}}")
      A_EV("content_block_delta", "{\"type\":\"content_block_delta\","
           "\"index\":0,\"delta\":{\"type\":\"thinking_delta\","
           "\"thinking\":\"Hmm.\"}}")
      A_EV("content_block_delta", "{\"type\":\"content_block_delta\","
           "\"index\":0,\"delta\":{\"type\":\"signature_delta\","
           "\"signature\":\"EqQB\"}}")
      A_STOP(0)
      A_EV("content_block_start", "{\"type\":\"content_block_start\","
           "\"index\":1,\"content_block\":{\"type\":\"server_tool_use\","
           "\"id\":\"srvtoolu_1\",\"name\":\"web_search\",\"input\":{}}}")
      A_JSON(1, "{\\\"query\\\":\\\"x\\\"}") A_STOP(1)
      A_EV("content_block_start", "{\"type\":\"content_block_start\","
           "\"index\":2,\"content_block\":{\"type\":\"redacted_thinking\","
           "\"data\":\"abc\"}}")
      A_STOP(2)
      A_TEXT_START(3) A_TEXT(3, "Done.")
      A_EV("content_block_delta", "{\"type\":\"content_block_delta\","
           "\"index\":3,\"delta\":{\"type\":\"citations_delta\","
           "\"citation\":{}}}")
      A_STOP(3) A_TOOL_START(4, "toolu_c", "f") A_JSON(4, "{}") A_STOP(4)
      A_MSG_DELTA("\"tool_use\"", "{\"output_tokens\":50}") A_MSG_STOP,
      LLM_DONE,
      O_ROLE O_TEXT("Done.") O_CALL(0, "toolu_c", "f") O_ARGS(0, "{}")
      O_FINISH("tool_calls"),
      O_USAGE("{\"prompt_tokens\":30,\"completion_tokens\":50,"
              "\"total_tokens\":80,\"prompt_tokens_details\":"
              "{\"cached_tokens\":0}}"),
      0, NULL, NULL },

    /* a text in content_block_start itself is not lost */

    { "anthropic stream: text in content_block_start",
      A_START
      A_EV("content_block_start", "{\"type\":\"content_block_start\","
           "\"index\":0,\"content_block\":{\"type\":\"text\","
           "\"text\":\"Hi\"}}")
      A_TEXT(0, "!") A_STOP(0) A_MSG_STOP,
      LLM_DONE,
      O_ROLE O_TEXT("Hi") O_TEXT("!") O_FINISH("stop"),
      O_USAGE("{\"prompt_tokens\":30,\"completion_tokens\":1,"
              "\"total_tokens\":31,\"prompt_tokens_details\":"
              "{\"cached_tokens\":0}}"),
      0, NULL, NULL },

    { "anthropic stream: max_tokens and cache usage",
      A_START_U("{\"input_tokens\":40,\"cache_creation_input_tokens\":10,"
                "\"cache_read_input_tokens\":100,\"output_tokens\":1}")
      A_TEXT_START(0) A_TEXT(0, "Cut") A_STOP(0)
      A_MSG_DELTA("\"max_tokens\"", "{\"output_tokens\":22}") A_MSG_STOP,
      LLM_DONE,
      O_ROLE O_TEXT("Cut") O_FINISH("length"),
      O_USAGE("{\"prompt_tokens\":150,\"completion_tokens\":22,"
              "\"total_tokens\":172,\"prompt_tokens_details\":"
              "{\"cached_tokens\":100}}"),
      0, NULL, NULL },

    { "anthropic stream: refusal",
      A_START A_MSG_DELTA("\"refusal\"", "{\"output_tokens\":2}")
      A_MSG_STOP,
      LLM_DONE,
      O_ROLE O_FINISH("content_filter"),
      O_USAGE("{\"prompt_tokens\":30,\"completion_tokens\":2,"
              "\"total_tokens\":32,\"prompt_tokens_details\":"
              "{\"cached_tokens\":0}}"),
      0, NULL, NULL },

    /* several message_delta: the last stop_reason and count win */

    { "anthropic stream: message_delta twice, unknown events",
      A_START A_EV("future_event", "{\"type\":\"future_event\",\"x\":1}")
      A_MSG_DELTA("\"pause_turn\"", "{\"output_tokens\":3}")
      A_MSG_DELTA("null", "{\"output_tokens\":7}") A_PING A_MSG_STOP,
      LLM_DONE,
      O_ROLE O_FINISH("stop"),
      O_USAGE("{\"prompt_tokens\":30,\"completion_tokens\":7,"
              "\"total_tokens\":37,\"prompt_tokens_details\":"
              "{\"cached_tokens\":0}}"),
      0, NULL, NULL },

    /* the API reference's example: the error event, after some text */

    { "anthropic stream: overloaded_error event",
      A_START A_TEXT_START(0) A_TEXT(0, "Par")
      A_ERROR("overloaded_error", "Overloaded"),
      LLM_ERROR,
      O_ROLE O_TEXT("Par")
      O_ERROR("Overloaded", "server_error", "\"overloaded\""),
      NULL,
      503, "server_error", "overloaded" },

    /* before anything: the glue may still fail over */

    { "anthropic stream: error event first",
      A_ERROR("rate_limit_error", "Slow down"),
      LLM_ERROR,
      O_ERROR("Slow down", "rate_limit_error", "\"rate_limit_exceeded\""),
      NULL,
      429, "rate_limit_error", "rate_limit_exceeded" },

    { "anthropic stream: api_error event",
      A_START A_ERROR("api_error", "Internal server error"),
      LLM_ERROR,
      O_ROLE O_ERROR("Internal server error", "server_error", "null"),
      NULL,
      500, "server_error", NULL },

    { "anthropic stream: error event of an unknown type",
      A_START A_ERROR("brand_new_error", "New"),
      LLM_ERROR,
      O_ROLE O_ERROR("New", "server_error", "null"),
      NULL,
      502, "server_error", NULL },

    { "anthropic stream: error event without a message",
      A_START A_EV("error", "{\"type\":\"error\",\"error\":{\"type\":"
                   "\"timeout_error\"}}"),
      LLM_ERROR,
      O_ROLE O_ERROR("The Anthropic stream failed (timeout_error)",
                     "server_error", "\"timeout\""),
      NULL,
      504, "server_error", "timeout" },

    { "anthropic stream: data that is not JSON",
      A_START A_TEXT_START(0) A_EV("content_block_delta", "{\"type\":"),
      LLM_ERROR,
      O_ROLE O_ERROR("An Anthropic stream event is not valid JSON",
                     "api_error", "\"invalid_provider_response\""),
      NULL,
      502, "api_error", "invalid_provider_response" },

    { "anthropic stream: data that is not an object",
      A_START A_EV("ping", "[1]"),
      LLM_ERROR,
      O_ROLE O_ERROR("An Anthropic stream event is not a JSON object",
                     "api_error", "\"invalid_provider_response\""),
      NULL,
      502, "api_error", "invalid_provider_response" },

    { "anthropic stream: content before message_start",
      A_TEXT(0, "x"),
      LLM_ERROR,
      O_ERROR("The Anthropic stream does not start with message_start",
              "api_error", "\"invalid_provider_response\""),
      NULL,
      502, "api_error", "invalid_provider_response" },

    { "anthropic stream: message_start twice",
      A_START A_START,
      LLM_ERROR,
      O_ROLE O_ERROR("The Anthropic stream has a second message_start",
                     "api_error", "\"invalid_provider_response\""),
      NULL,
      502, "api_error", "invalid_provider_response" },

    { "anthropic stream: message_start without a message",
      A_EV("message_start", "{\"type\":\"message_start\"}"),
      LLM_ERROR,
      O_ERROR("The Anthropic message_start event has no \\\"message\\\" "
              "object", "api_error", "\"invalid_provider_response\""),
      NULL,
      502, "api_error", "invalid_provider_response" },

    { "anthropic stream: tool_use without an id",
      A_START
      A_EV("content_block_start", "{\"type\":\"content_block_start\","
           "\"index\":0,\"content_block\":{\"type\":\"tool_use\","
           "\"name\":\"f\",\"input\":{}}}"),
      LLM_ERROR,
      O_ROLE O_ERROR("The Anthropic stream has a tool_use block without an "
                     "\\\"id\\\", a \\\"name\\\" and an \\\"index\\\"",
                     "api_error", "\"invalid_provider_response\""),
      NULL,
      502, "api_error", "invalid_provider_response" },

    { "anthropic stream: text_delta without text",
      A_START
      A_EV("content_block_delta", "{\"type\":\"content_block_delta\","
           "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":1}}"),
      LLM_ERROR,
      O_ROLE O_ERROR("The Anthropic text_delta has no \\\"text\\\" string",
                     "api_error", "\"invalid_provider_response\""),
      NULL,
      502, "api_error", "invalid_provider_response" },
};


static int
test_sa_handler(void *data, const llm_sse_event_t *ev)
{
    test_sa_run_t  *run;

    run = data;

    run->events++;
    run->rc = llm_anthropic_adapter.stream_event(&run->st, ev, &run->out,
                                                 &run->err);

    return (run->rc == LLM_OK) ? LLM_OK : LLM_ERROR;
}


/*
 * The stream fed in pieces of split bytes (0: at once) into an out of
 * size bytes followed by a guard; then llm_stream_finish() after LLM_DONE,
 * llm_stream_fail() after LLM_ERROR.
 */

static void
test_sa_run(test_ctx_t *ctx, const char *sse, size_t split,
    int include_usage, size_t size, test_sa_run_t *run)
{
    char            *sbuf;
    size_t           len, n, i;
    llm_sse_t        sse_state;
    llm_request_t    req;
    llm_provider_t   p;

    memset(run, 0, sizeof(test_sa_run_t));
    memset(&req, 0, sizeof(llm_request_t));
    memset(&p, 0, sizeof(llm_provider_t));

    req.model = "claude-x";
    req.stream = 1;
    req.include_usage = include_usage;

    llm_stream_init(&run->st, &req, &p, SA_CREATED);

    run->out.buf = test_copy(ctx, NULL, size + SA_GUARD);
    run->out.size = size;
    memset(run->out.buf, 'Z', size + SA_GUARD);

    sbuf = test_copy(ctx, NULL, SA_SSE_SIZE);
    llm_sse_init(&sse_state, sbuf, SA_SSE_SIZE);

    run->rc = LLM_OK;
    len = strlen(sse);

    for (i = 0; i < len; i += n) {
        n = (split == 0 || len - i < split) ? len - i : split;

        if (llm_sse_feed(&sse_state, sse + i, n, test_sa_handler, run)
            != LLM_OK)
        {
            assert_int_not_equal(run->rc, LLM_OK);
            break;
        }
    }

    if (run->rc == LLM_ERROR) {
        run->end = llm_stream_fail(&run->st, &run->err, &run->out);

    } else if (run->rc == LLM_DONE) {
        run->end = llm_stream_finish(&run->st, &run->out);

    } else {
        run->end = LLM_OK;
    }

    assert_true(run->out.len <= size);

    for (i = 0; i < SA_GUARD; i++) {
        assert_int_equal(run->out.buf[size + i], 'Z');
    }
}


static char *
test_sa_expect(test_ctx_t *ctx, const test_sa_t *t, int include_usage,
    size_t *len)
{
    char  *p;

    p = test_copy(ctx, NULL, strlen(t->want)
                             + (t->usage ? strlen(t->usage) : 0)
                             + sizeof(O_DONE));

    strcpy(p, t->want);

    if (include_usage && t->rc != LLM_ERROR) {
        assert_non_null(t->usage);
        strcat(p, t->usage);
    }

    strcat(p, O_DONE);

    *len = strlen(p);

    return p;
}


static void
test_sa_stream(void **state)
{
    int              usage;
    char            *want;
    size_t           s, len;
    test_ctx_t      *ctx;
    test_sa_run_t    run;
    const test_sa_t *t;

    static const size_t  splits[] = { 0, 1, 7 };

    ctx = *state;
    t = ctx->data;

    for (usage = 0; usage <= 1; usage++) {
        want = test_sa_expect(ctx, t, usage, &len);

        for (s = 0; s < sizeof(splits) / sizeof(splits[0]); s++) {
            test_sa_run(ctx, t->sse, splits[s], usage, 65536, &run);

            assert_int_equal(run.rc, t->rc);
            assert_int_equal(run.end, LLM_OK);
            assert_string_equal(test_cstr(ctx, run.out.buf, run.out.len),
                                want);

            if (t->rc == LLM_ERROR) {
                assert_int_equal(run.err.status, t->status);
                assert_string_equal(run.err.type, t->type);
                assert_null(run.err.param);

                if (t->code == NULL) {
                    assert_null(run.err.code);

                } else {
                    assert_string_equal(run.err.code, t->code);
                }

            } else {
                assert_true(run.st.done);
            }
        }
    }
}


/*
 * Every out size short of the whole: an LLM_ERROR somewhere, whole events
 * only (a prefix of the whole output), nothing past the end.
 */

static void
test_sa_small(void **state)
{
    int              rc;
    char            *want;
    size_t           size, len, before;
    test_ctx_t      *ctx;
    test_sa_run_t    run;
    const test_sa_t *t;

    ctx = *state;
    t = &test_sa[0];

    want = test_sa_expect(ctx, t, 1, &len);

    for (size = 0; size < len; size++) {
        test_sa_run(ctx, t->sse, 0, 1, size, &run);

        if (run.rc == LLM_DONE) {
            /* the events fitted: the end did not, and wrote nothing */
            assert_int_equal(run.end, LLM_ERROR);

            before = run.out.len;
            rc = llm_stream_finish(&run.st, &run.out);
            assert_int_equal(rc, LLM_ERROR);
            assert_int_equal(run.out.len, before);

        } else {
            assert_int_equal(run.rc, LLM_ERROR);
            assert_int_equal(run.err.status, 500);
            assert_string_equal(run.err.type, "server_error");
            assert_non_null(strstr(run.err.message, "does not fit"));

            /* the error event may have fitted where the chunk did not */

            if (run.end == LLM_OK) {
                assert_non_null(strstr(test_cstr(ctx, run.out.buf,
                                                 run.out.len),
                                       "data: {\"error\""));
                continue;
            }
        }

        assert_memory_equal(run.out.buf, want, run.out.len);
        assert_true(run.out.len == 0
                    || memcmp(run.out.buf + run.out.len - 2, "\n\n", 2)
                       == 0);
    }
}


/* no "type" in the data: the event name says it */

static void
test_sa_event_name(void **state)
{
    int              rc;
    char             buf[4096];
    llm_error_t      err;
    llm_stream_t     st;
    llm_sse_event_t  ev;
    llm_stream_out_t out;

    (void) state;

    llm_stream_init(&st, NULL, NULL, SA_CREATED);

    out.buf = buf;
    out.size = sizeof(buf);
    out.len = 0;

    ev.event = "message_start";
    ev.event_len = strlen(ev.event);
    ev.data = "{\"message\":{\"id\":\"msg_1\",\"model\":\"m\"}}";
    ev.data_len = strlen(ev.data);

    rc = llm_anthropic_adapter.stream_event(&st, &ev, &out, &err);
    assert_int_equal(rc, LLM_OK);
    assert_true(st.started);
    assert_string_equal(st.id, "msg_1");
    assert_string_equal(st.model, "m");

    /* an event name too long to be one: unknown, ignored */

    ev.event = "message_stop_message_stop_message_stop";
    ev.event_len = strlen(ev.event);
    ev.data = "{}";
    ev.data_len = 2;

    rc = llm_anthropic_adapter.stream_event(&st, &ev, &out, &err);
    assert_int_equal(rc, LLM_OK);

    ev.event = "message_stop";
    ev.event_len = strlen(ev.event);

    rc = llm_anthropic_adapter.stream_event(&st, &ev, &out, &err);
    assert_int_equal(rc, LLM_DONE);
}


/* an event with empty data ("data:" alone) is no event */

static void
test_sa_empty_data(void **state)
{
    int              rc;
    char             buf[16];
    llm_error_t      err;
    llm_stream_t     st;
    llm_sse_event_t  ev;
    llm_stream_out_t out;

    (void) state;

    llm_stream_init(&st, NULL, NULL, SA_CREATED);

    out.buf = buf;
    out.size = sizeof(buf);
    out.len = 0;

    ev.event = "";
    ev.event_len = 0;
    ev.data = "";
    ev.data_len = 0;

    rc = llm_anthropic_adapter.stream_event(&st, &ev, &out, &err);
    assert_int_equal(rc, LLM_OK);
    assert_int_equal(out.len, 0);
}


/* st->usage along the way: message_start's output count is replaced */

static void
test_sa_usage(void **state)
{
    test_ctx_t     *ctx;
    test_sa_run_t   run;

    ctx = *state;

    test_sa_run(ctx, A_START_U("{\"input_tokens\":40,"
                               "\"cache_creation_input_tokens\":10,"
                               "\"cache_read_input_tokens\":100,"
                               "\"output_tokens\":1}"),
                0, 0, 4096, &run);

    assert_int_equal(run.rc, LLM_OK);
    assert_int_equal(run.st.usage.prompt_tokens, 150);
    assert_int_equal(run.st.usage.cached_tokens, 100);
    assert_int_equal(run.st.usage.cache_write_tokens, 10);
    assert_int_equal(run.st.usage.completion_tokens, 1);
    assert_int_equal(run.st.usage.total_tokens, 151);
    assert_int_equal(run.st.usage.reasoning_tokens, -1);
    assert_null(run.st.finish_reason);

    test_sa_run(ctx, A_START_U("{\"input_tokens\":40,"
                               "\"cache_read_input_tokens\":100,"
                               "\"output_tokens\":1}")
                     A_MSG_DELTA("\"end_turn\"", "{\"output_tokens\":22}"),
                0, 0, 4096, &run);

    assert_int_equal(run.rc, LLM_OK);
    assert_int_equal(run.st.usage.prompt_tokens, 140);
    assert_int_equal(run.st.usage.cached_tokens, 100);
    assert_int_equal(run.st.usage.cache_write_tokens, -1);
    assert_int_equal(run.st.usage.completion_tokens, 22);
    assert_int_equal(run.st.usage.total_tokens, 162);
    assert_string_equal(run.st.finish_reason, "stop");
    assert_false(run.st.finished);

    /* no usage at all: not reported */

    test_sa_run(ctx, A_START_U("null") A_MSG_DELTA("\"end_turn\"", "null"),
                0, 0, 4096, &run);

    assert_int_equal(run.rc, LLM_OK);
    assert_int_equal(run.st.usage.prompt_tokens, -1);
    assert_int_equal(run.st.usage.cached_tokens, -1);
    assert_int_equal(run.st.usage.cache_write_tokens, -1);
    assert_int_equal(run.st.usage.completion_tokens, -1);
    assert_int_equal(run.st.usage.total_tokens, -1);
    assert_int_equal(llm_usage_known(&run.st.usage), 0);

    /* only the output count (message_start without usage) */

    test_sa_run(ctx, A_START_U("null")
                     A_MSG_DELTA("\"end_turn\"", "{\"output_tokens\":9}"),
                0, 0, 4096, &run);

    assert_int_equal(run.rc, LLM_OK);
    assert_int_equal(run.st.usage.prompt_tokens, -1);
    assert_int_equal(run.st.usage.completion_tokens, 9);
    assert_int_equal(run.st.usage.total_tokens, 9);
    assert_int_equal(llm_usage_known(&run.st.usage), 1);
}


/* newer API versions repeat the input counts in message_delta: they win */

static void
test_sa_usage_repeated(void **state)
{
    test_ctx_t     *ctx;
    test_sa_run_t   run;

    ctx = *state;

    test_sa_run(ctx, A_START_U("{\"input_tokens\":40,"
                               "\"cache_creation_input_tokens\":10,"
                               "\"cache_read_input_tokens\":100,"
                               "\"output_tokens\":1}")
                     A_MSG_DELTA("\"end_turn\"",
                                 "{\"input_tokens\":45,"
                                 "\"cache_creation_input_tokens\":null,"
                                 "\"cache_read_input_tokens\":200,"
                                 "\"output_tokens\":30}") A_MSG_STOP,
                0, 1, 4096, &run);

    assert_int_equal(run.rc, LLM_DONE);
    assert_int_equal(run.st.usage.prompt_tokens, 245);
    assert_int_equal(run.st.usage.cached_tokens, 200);
    assert_int_equal(run.st.usage.cache_write_tokens, -1);
    assert_int_equal(run.st.usage.completion_tokens, 30);
    assert_int_equal(run.st.usage.total_tokens, 275);

    assert_non_null(strstr(test_cstr(ctx, run.out.buf, run.out.len),
                           "\"usage\":{\"prompt_tokens\":245,"
                           "\"completion_tokens\":30,\"total_tokens\":275,"
                           "\"prompt_tokens_details\":{\"cached_tokens\":"
                           "200}}"));
}


/* LLM_STREAM_MAX_TOOLS calls fit, one more is an error */

static void
test_sa_many_tools(void **state)
{
    int              i, rc;
    char             data[256];
    char            *buf;
    size_t           size;
    llm_error_t      err;
    llm_stream_t     st;
    test_ctx_t      *ctx;
    llm_sse_event_t  ev;
    llm_stream_out_t out;

    ctx = *state;

    size = 1024 * 1024;
    buf = test_copy(ctx, NULL, size);

    llm_stream_init(&st, NULL, NULL, SA_CREATED);

    out.buf = buf;
    out.size = size;
    out.len = 0;

    ev.event = "";
    ev.event_len = 0;
    ev.data = "{\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}";
    ev.data_len = strlen(ev.data);

    assert_int_equal(llm_anthropic_adapter.stream_event(&st, &ev, &out,
                                                        &err),
                     LLM_OK);

    ev.data = data;

    for (i = 0; i <= LLM_STREAM_MAX_TOOLS; i++) {

        /* text blocks in between: block indexes beyond the limit */

        ev.data_len = snprintf(data, sizeof(data),
                               "{\"type\":\"content_block_start\",\"index\":"
                               "%d,\"content_block\":{\"type\":\"text\","
                               "\"text\":\"\"}}", 2 * i);

        assert_int_equal(llm_anthropic_adapter.stream_event(&st, &ev, &out,
                                                            &err),
                         LLM_OK);

        ev.data_len = snprintf(data, sizeof(data),
                               "{\"type\":\"content_block_start\",\"index\":"
                               "%d,\"content_block\":{\"type\":\"tool_use\","
                               "\"id\":\"t%d\",\"name\":\"f\"}}",
                               2 * i + 1, i);

        rc = llm_anthropic_adapter.stream_event(&st, &ev, &out, &err);

        if (i < LLM_STREAM_MAX_TOOLS) {
            assert_int_equal(rc, LLM_OK);
            assert_int_equal(st.ntools, i + 1);

        } else {
            assert_int_equal(rc, LLM_ERROR);
            assert_int_equal(err.status, 502);
            assert_string_equal(err.type, "server_error");
            assert_string_equal(err.message,
                                "The Anthropic stream has more than 128 "
                                "tool calls");
        }
    }

    /* the last call's arguments still find it */

    ev.data_len = snprintf(data, sizeof(data),
                           "{\"type\":\"content_block_delta\",\"index\":%d,"
                           "\"delta\":{\"type\":\"input_json_delta\","
                           "\"partial_json\":\"{}\"}}",
                           2 * (LLM_STREAM_MAX_TOOLS - 1) + 1);

    out.len = 0;

    assert_int_equal(llm_anthropic_adapter.stream_event(&st, &ev, &out,
                                                        &err),
                     LLM_OK);
    assert_non_null(strstr(test_cstr(ctx, out.buf, out.len),
                           "\"tool_calls\":[{\"index\":127,\"function\":"
                           "{\"arguments\":\"{}\"}}]"));
}


/* an index that does not fit an int is not a tool call's */

static void
test_sa_tool_index(void **state)
{
    test_ctx_t     *ctx;
    test_sa_run_t   run;

    ctx = *state;

    test_sa_run(ctx, A_START A_TOOL_START(4294967296, "t", "f"), 0, 0, 4096,
                &run);

    assert_int_equal(run.rc, LLM_ERROR);
    assert_string_equal(run.err.code, "invalid_provider_response");

    /* input_json_delta of a block without a call, or a negative one */

    test_sa_run(ctx, A_START A_JSON(3, "{}") A_JSON(-1, "{}") A_MSG_STOP,
                0, 0, 4096, &run);

    assert_int_equal(run.rc, LLM_DONE);
    assert_string_equal(test_cstr(ctx, run.out.buf, run.out.len),
                        O_ROLE O_FINISH("stop") O_DONE);
}


/* shapes that are not Anthropic's: an error, never a crash */

static void
test_sa_bad(void **state)
{
    size_t          i;
    test_ctx_t     *ctx;
    test_sa_run_t   run;

    static const char  *const bad[] = {
        A_START A_EV("content_block_start",
                     "{\"type\":\"content_block_start\",\"index\":0}"),
        A_START A_EV("content_block_start",
                     "{\"type\":\"content_block_start\",\"index\":0,"
                     "\"content_block\":[]}"),
        A_START A_EV("content_block_delta",
                     "{\"type\":\"content_block_delta\",\"index\":0}"),
        A_START A_EV("content_block_delta",
                     "{\"type\":\"content_block_delta\",\"index\":0,"
                     "\"delta\":{\"type\":\"input_json_delta\"}}"),
        A_START A_EV("message_delta",
                     "{\"type\":\"message_delta\",\"delta\":1}"),
        A_EV("message_start", "{\"type\":\"message_start\",\"message\":1}"),
        A_EV("message_stop", "{\"type\":\"message_stop\"}"),
        A_EV("x", "\"\\ud800\""),
        A_EV("x", "{\"type\":\"ping\"} x"),
    };

    ctx = *state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        test_sa_run(ctx, bad[i], 0, 1, 4096, &run);

        assert_int_equal(run.rc, LLM_ERROR);
        assert_int_equal(run.end, LLM_OK);
        assert_int_equal(run.err.status, 502);
        assert_string_equal(run.err.code, "invalid_provider_response");
    }
}


void
test_stream_anthropic_register(void)
{
    size_t  i;

    for (i = 0; i < sizeof(test_sa) / sizeof(test_sa[0]); i++) {
        test_add(test_sa[i].name, test_sa_stream, &test_sa[i]);
    }

    TEST_ADD(test_sa_small);
    TEST_ADD(test_sa_event_name);
    TEST_ADD(test_sa_empty_data);
    TEST_ADD(test_sa_usage);
    TEST_ADD(test_sa_usage_repeated);
    TEST_ADD(test_sa_many_tools);
    TEST_ADD(test_sa_tool_index);
    TEST_ADD(test_sa_bad);
}
