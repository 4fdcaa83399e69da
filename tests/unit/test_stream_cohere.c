
/*
 * ngx_http_llm_router_module: tests of the Cohere v2 stream decoder (the
 * provider's API reference).  Each stream goes through the SSE framer whole,
 * one byte at a time and in 7-byte pieces, and the whole OpenAI output
 * (after llm_stream_finish() or llm_stream_fail()) is compared byte for
 * byte.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"


#define SC_CREATED    1767225600LL
#define SC_GUARD      64
#define SC_SSE_SIZE   8192

/* the Cohere side */

#define C_EV(name, json)  "event: " name "\ndata: " json "\n\n"

#define C_START                                                               \
    C_EV("message-start", "{\"id\":\"c0a8e2d4-t2\",\"type\":"                 \
         "\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\","  \
         "\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],"               \
         "\"citations\":[]}}}")

#define C_CSTART(i)                                                           \
    C_EV("content-start", "{\"type\":\"content-start\",\"index\":" #i ","    \
         "\"delta\":{\"message\":{\"content\":{\"type\":\"text\","            \
         "\"text\":\"\"}}}}")

#define C_CDELTA(i, s)                                                        \
    C_EV("content-delta", "{\"type\":\"content-delta\",\"index\":" #i ","    \
         "\"delta\":{\"message\":{\"content\":{\"text\":\"" s "\"}}}}")

#define C_CEND(i)                                                             \
    C_EV("content-end", "{\"type\":\"content-end\",\"index\":" #i "}")

#define C_PLAN(s)                                                             \
    C_EV("tool-plan-delta", "{\"type\":\"tool-plan-delta\",\"delta\":"       \
         "{\"message\":{\"tool_plan\":\"" s "\"}}}")

#define C_TSTART(i, id, name, args)                                           \
    C_EV("tool-call-start", "{\"type\":\"tool-call-start\",\"index\":" #i    \
         ",\"delta\":{\"message\":{\"tool_calls\":{\"id\":\"" id "\","        \
         "\"type\":\"function\",\"function\":{\"name\":\"" name "\","         \
         "\"arguments\":\"" args "\"}}}}}")

#define C_TDELTA(i, args)                                                     \
    C_EV("tool-call-delta", "{\"type\":\"tool-call-delta\",\"index\":" #i    \
         ",\"delta\":{\"message\":{\"tool_calls\":{\"function\":"             \
         "{\"arguments\":\"" args "\"}}}}}")

#define C_TEND(i)                                                             \
    C_EV("tool-call-end", "{\"type\":\"tool-call-end\",\"index\":" #i "}")

#define C_END(reason, usage)                                                  \
    C_EV("message-end", "{\"type\":\"message-end\",\"delta\":"               \
         "{\"finish_reason\":\"" reason "\",\"usage\":" usage "}}")

#define C_USAGE(in, out)                                                      \
    "{\"billed_units\":{\"input_tokens\":" #in ",\"output_tokens\":" #out    \
    "},\"tokens\":{\"input_tokens\":905,\"output_tokens\":" #out "}}"

/* the OpenAI side */

#define O_HEAD                                                                \
    "data: {\"id\":\"c0a8e2d4-t2\",\"object\":\"chat.completion.chunk\","     \
    "\"created\":1767225600,\"model\":\"command-a-03-2025\",\"choices\":"

#define O_D(delta)                                                            \
    O_HEAD "[{\"index\":0,\"delta\":{" delta "},\"logprobs\":null,"           \
    "\"finish_reason\":null}]}\n\n"

#define O_ROLE        O_D("\"role\":\"assistant\",\"content\":\"\"")
#define O_TEXT(s)     O_D("\"content\":\"" s "\"")

#define O_CALL(k, id, name, args)                                             \
    O_D("\"tool_calls\":[{\"index\":" #k ",\"id\":\"" id "\",\"type\":"       \
        "\"function\",\"function\":{\"name\":\"" name "\",\"arguments\":\""   \
        args "\"}}]")

#define O_ARGS(k, s)                                                          \
    O_D("\"tool_calls\":[{\"index\":" #k ",\"function\":{\"arguments\":\""    \
        s "\"}}]")

#define O_FINISH(r)                                                           \
    O_HEAD "[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":"  \
    "\"" r "\"}]}\n\n"

#define O_USAGE(in, out, total)                                               \
    O_HEAD "[],\"usage\":{\"prompt_tokens\":" #in ",\"completion_tokens\":"   \
    #out ",\"total_tokens\":" #total "}}\n\n"

#define O_ERROR(message, type, code)                                          \
    "data: {\"error\":{\"message\":\"" message "\",\"type\":\"" type "\","    \
    "\"param\":null,\"code\":" code "}}\n\n"

#define O_DONE        "data: [DONE]\n\n"

#define E_INVALID     "\"invalid_provider_response\""

#define ARGS_OSLO     "{\\\"city\\\":\\\"Oslo\\\"}"

/* llm_tool_call_id() of "c0a8e2d4-t2/0" and "c0a8e2d4-t2/1" */

#define ID0           "call_GmbpTnUAd1s6ZWJPSUWlSGOH"
#define ID1           "call_ZCqhm3iGUp0dAjbxePBCFeaF"


typedef struct {
    const char   *name;
    const char   *sse;              /* the Cohere stream */
    int           rc;               /* the last event's: LLM_DONE... */
    const char   *want;             /* the OpenAI events before [DONE] */
    const char   *usage;            /* the usage chunk, include_usage */
    int           status;           /* LLM_ERROR: the error */
    const char   *type;
    const char   *code;
} test_sc_t;


typedef struct {
    llm_stream_t      st;
    llm_stream_out_t  out;
    llm_error_t       err;
    int               rc;           /* the last stream_event()'s */
    int               end;          /* llm_stream_finish() / _fail()'s */
} test_sc_run_t;


static int test_sc_handler(void *data, const llm_sse_event_t *ev);
static void test_sc_run(test_ctx_t *ctx, const char *sse, size_t split,
    int include_usage, size_t size, test_sc_run_t *run);
static char *test_sc_expect(test_ctx_t *ctx, const test_sc_t *t,
    int include_usage, size_t *len);
static void test_sc_stream(void **state);
static void test_sc_small(void **state);
static void test_sc_event_name(void **state);
static void test_sc_error_usage(void **state);
static void test_sc_same_ids(void **state);
static void test_sc_many_tools(void **state);
static void test_sc_bad(void **state);


static const test_sc_t  test_sc[] = {

    /* the API reference's example, the text stream as it is */

    { "cohere stream: reference text vector",
      C_START C_CSTART(0) C_CDELTA(0, "4 \xc2\xb0" "C") C_CEND(0)
      C_END("COMPLETE", C_USAGE(18, 3)),
      LLM_DONE,
      O_ROLE O_TEXT("4 \xc2\xb0" "C") O_FINISH("stop"),
      O_USAGE(18, 3, 21),
      0, NULL, NULL },

    /* the tool call stream (with its message-start); the plan as content */

    { "cohere stream: reference tool vector",
      C_START C_PLAN("I will call get_weather.")
      C_TSTART(0, "get_weather_t2", "get_weather", "")
      C_TDELTA(0, ARGS_OSLO) C_TEND(0)
      C_END("TOOL_CALL", C_USAGE(20, 15)),
      LLM_DONE,
      O_ROLE O_TEXT("I will call get_weather.")
      O_CALL(0, "get_weather_t2", "get_weather", "") O_ARGS(0, ARGS_OSLO)
      O_FINISH("tool_calls"),
      O_USAGE(20, 15, 35),
      0, NULL, NULL },

    { "cohere stream: two tools, arguments in pieces",
      C_START C_PLAN("I will call ") C_PLAN("two tools.")
      C_TSTART(0, "get_weather_a1", "get_weather", "{\\\"city\\\"")
      C_TDELTA(0, ":") C_TDELTA(0, "") C_TDELTA(0, "\\\"Oslo\\\"}") C_TEND(0)
      C_TSTART(1, "get_time_b2", "get_time", "") C_TDELTA(1, "{}")
      C_TEND(1)
      C_END("TOOL_CALL", C_USAGE(30, 25)),
      LLM_DONE,
      O_ROLE O_TEXT("I will call ") O_TEXT("two tools.")
      O_CALL(0, "get_weather_a1", "get_weather", "{\\\"city\\\"")
      O_ARGS(0, ":") O_ARGS(0, "\\\"Oslo\\\"}")
      O_CALL(1, "get_time_b2", "get_time", "") O_ARGS(1, "{}")
      O_FINISH("tool_calls"),
      O_USAGE(30, 25, 55),
      0, NULL, NULL },

    /* calls without ids get those of the non-streamed answer */

    { "cohere stream: tool calls without ids",
      C_START
      C_EV("tool-call-start", "{\"type\":\"tool-call-start\",\"index\":0,"
           "\"delta\":{\"message\":{\"tool_calls\":{\"type\":\"function\","
           "\"function\":{\"name\":\"f\",\"arguments\":{\"a\":1}}}}}}")
      C_EV("tool-call-start", "{\"type\":\"tool-call-start\",\"index\":1,"
           "\"delta\":{\"message\":{\"tool_calls\":[{\"id\":\"\","
           "\"function\":{\"name\":\"g\"}}]}}}")
      C_TDELTA(1, "{}")
      C_END("COMPLETE", C_USAGE(1, 2)),
      LLM_DONE,
      O_ROLE O_CALL(0, ID0, "f", "{\\\"a\\\":1}") O_CALL(1, ID1, "g", "")
      O_ARGS(1, "{}") O_FINISH("tool_calls"),
      O_USAGE(1, 2, 3),
      0, NULL, NULL },

    /* thinking items, citations, unknown events: dropped */

    { "cohere stream: thinking and citations dropped",
      C_START
      C_EV("content-start", "{\"type\":\"content-start\",\"index\":0,"
           "\"delta\":{\"message\":{\"content\":{\"type\":\"thinking\","
           "\"thinking\":\"\"}}}}")
      C_EV("content-delta", "{\"type\":\"content-delta\",\"index\":0,"
           "\"delta\":{\"message\":{\"content\":{\"thinking\":\"Hm.\"}}}}")
      C_CEND(0) C_CSTART(1) C_CDELTA(1, "Yes") C_CDELTA(1, ", \\\"sure\\\"")
      C_EV("citation-start", "{\"type\":\"citation-start\",\"index\":0,"
           "\"delta\":{\"message\":{\"citations\":{\"start\":0,\"end\":3,"
           "\"text\":\"Yes\",\"sources\":[]}}}}")
      C_EV("citation-end", "{\"type\":\"citation-end\",\"index\":0}")
      C_EV("debug", "{\"type\":\"debug\",\"x\":1}")
      C_CEND(1)
      C_END("STOP_SEQUENCE", "{\"billed_units\":{\"input_tokens\":4,"
            "\"output_tokens\":2},\"cached_tokens\":3}"),
      LLM_DONE,
      O_ROLE O_TEXT("Yes") O_TEXT(", \\\"sure\\\"") O_FINISH("stop"),
      O_HEAD "[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2,"
      "\"total_tokens\":6,\"prompt_tokens_details\":{\"cached_tokens\":3}}}"
      "\n\n",
      0, NULL, NULL },

    { "cohere stream: MAX_TOKENS",
      C_START C_CSTART(0) C_CDELTA(0, "Cut") C_CEND(0)
      C_END("MAX_TOKENS", "{\"tokens\":{\"input_tokens\":9,"
            "\"output_tokens\":4}}"),
      LLM_DONE,
      O_ROLE O_TEXT("Cut") O_FINISH("length"),
      O_USAGE(9, 4, 13),
      0, NULL, NULL },

    /* the Fern spec's terminator ends the stream too */

    { "cohere stream: [DONE]",
      C_START C_CDELTA(0, "a") "data: [DONE]\n\n",
      LLM_DONE,
      O_ROLE O_TEXT("a") O_FINISH("stop"),
      "",                           /* no usage reported: no usage chunk */
      0, NULL, NULL },

    /* the API reference's example: a failed generation */

    { "cohere stream: message-end with an error",
      C_START C_CDELTA(0, "Par")
      C_EV("message-end", "{\"type\":\"message-end\",\"delta\":"
           "{\"finish_reason\":\"ERROR\",\"error\":\"internal model "
           "error\",\"usage\":" C_USAGE(5, 1) "}}"),
      LLM_ERROR,
      O_ROLE O_TEXT("Par")
      O_ERROR("internal model error", "server_error", "null"),
      NULL,
      502, "server_error", NULL },

    { "cohere stream: ERROR without a message",
      C_START C_END("ERROR", "null"),
      LLM_ERROR,
      O_ROLE O_ERROR("The Cohere generation failed", "server_error", "null"),
      NULL,
      502, "server_error", NULL },

    { "cohere stream: TIMEOUT",
      C_START C_CDELTA(0, "Par") C_END("TIMEOUT", C_USAGE(5, 1)),
      LLM_ERROR,
      O_ROLE O_TEXT("Par")
      O_ERROR("The Cohere generation timed out", "server_error",
              "\"timeout\""),
      NULL,
      504, "server_error", "timeout" },

    { "cohere stream: data that is not JSON",
      C_START C_EV("content-delta", "{\"type\""),
      LLM_ERROR,
      O_ROLE O_ERROR("A Cohere stream event is not valid JSON", "api_error",
                     E_INVALID),
      NULL,
      502, "api_error", "invalid_provider_response" },

    { "cohere stream: data that is not an object",
      C_START C_EV("content-delta", "[]"),
      LLM_ERROR,
      O_ROLE O_ERROR("A Cohere stream event is not a JSON object",
                     "api_error", E_INVALID),
      NULL,
      502, "api_error", "invalid_provider_response" },

    { "cohere stream: content before message-start",
      C_CDELTA(0, "x"),
      LLM_ERROR,
      O_ERROR("The Cohere stream does not start with message-start",
              "api_error", E_INVALID),
      NULL,
      502, "api_error", "invalid_provider_response" },

    { "cohere stream: message-start twice",
      C_START C_START,
      LLM_ERROR,
      O_ROLE O_ERROR("The Cohere stream has a second message-start",
                     "api_error", E_INVALID),
      NULL,
      502, "api_error", "invalid_provider_response" },

    { "cohere stream: tool-call-start without a name",
      C_START C_TSTART(0, "x", "", "") C_TDELTA(0, "{}")
      C_EV("tool-call-start", "{\"type\":\"tool-call-start\",\"index\":1,"
           "\"delta\":{\"message\":{\"tool_calls\":{\"id\":\"y\"}}}}"),
      LLM_ERROR,
      O_ROLE O_CALL(0, "x", "", "") O_ARGS(0, "{}")
      O_ERROR("The Cohere stream has a tool-call-start without a function "
              "name", "api_error", E_INVALID),
      NULL,
      502, "api_error", "invalid_provider_response" },
};


static int
test_sc_handler(void *data, const llm_sse_event_t *ev)
{
    test_sc_run_t  *run;

    run = data;

    run->rc = llm_cohere_adapter.stream_event(&run->st, ev, &run->out,
                                              &run->err);

    return (run->rc == LLM_OK) ? LLM_OK : LLM_ERROR;
}


/*
 * The stream fed in pieces of split bytes (0: at once) into an out of
 * size bytes followed by a guard; then llm_stream_finish() after LLM_DONE,
 * llm_stream_fail() after LLM_ERROR.
 */

static void
test_sc_run(test_ctx_t *ctx, const char *sse, size_t split,
    int include_usage, size_t size, test_sc_run_t *run)
{
    char            *sbuf;
    size_t           len, n, i;
    llm_sse_t        sse_state;
    llm_request_t    req;
    llm_provider_t   p;

    memset(run, 0, sizeof(test_sc_run_t));
    memset(&req, 0, sizeof(llm_request_t));
    memset(&p, 0, sizeof(llm_provider_t));

    req.model = "command-a-03-2025";
    req.stream = 1;
    req.include_usage = include_usage;

    llm_stream_init(&run->st, &req, &p, SC_CREATED);

    run->out.buf = test_copy(ctx, NULL, size + SC_GUARD);
    run->out.size = size;
    memset(run->out.buf, 'Z', size + SC_GUARD);

    sbuf = test_copy(ctx, NULL, SC_SSE_SIZE);
    llm_sse_init(&sse_state, sbuf, SC_SSE_SIZE);

    run->rc = LLM_OK;
    len = strlen(sse);

    for (i = 0; i < len; i += n) {
        n = (split == 0 || len - i < split) ? len - i : split;

        if (llm_sse_feed(&sse_state, sse + i, n, test_sc_handler, run)
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

    for (i = 0; i < SC_GUARD; i++) {
        assert_int_equal(run->out.buf[size + i], 'Z');
    }
}


static char *
test_sc_expect(test_ctx_t *ctx, const test_sc_t *t, int include_usage,
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
test_sc_stream(void **state)
{
    int              usage;
    char            *want;
    size_t           s, len;
    test_ctx_t      *ctx;
    test_sc_run_t    run;
    const test_sc_t *t;

    static const size_t  splits[] = { 0, 1, 7 };

    ctx = *state;
    t = ctx->data;

    for (usage = 0; usage <= 1; usage++) {
        want = test_sc_expect(ctx, t, usage, &len);

        for (s = 0; s < sizeof(splits) / sizeof(splits[0]); s++) {
            test_sc_run(ctx, t->sse, splits[s], usage, 65536, &run);

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
test_sc_small(void **state)
{
    char            *want;
    size_t           size, len;
    test_ctx_t      *ctx;
    test_sc_run_t    run;
    const test_sc_t *t;

    ctx = *state;
    t = &test_sc[2];

    want = test_sc_expect(ctx, t, 1, &len);

    for (size = 0; size < len; size++) {
        test_sc_run(ctx, t->sse, 0, 1, size, &run);

        if (run.rc == LLM_DONE) {
            /* the events fitted, the end did not and wrote nothing */
            assert_int_equal(run.end, LLM_ERROR);

        } else {
            assert_int_equal(run.rc, LLM_ERROR);
            assert_int_equal(run.err.status, 500);
            assert_string_equal(run.err.type, "server_error");
            assert_non_null(strstr(run.err.message, "does not fit"));

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
test_sc_event_name(void **state)
{
    test_ctx_t     *ctx;
    test_sc_run_t   run;

    ctx = *state;

    test_sc_run(ctx,
                C_EV("message-start", "{\"id\":\"c0a8e2d4-t2\"}")
                C_EV("content-delta", "{\"delta\":{\"message\":{\"content\":"
                     "{\"text\":\"a\"}}}}")
                C_EV("a-name-much-too-long-to-be-any-event",
                     "{\"delta\":{\"finish_reason\":\"ERROR\"}}")
                C_EV("message-end", "{\"delta\":{\"finish_reason\":"
                     "\"COMPLETE\"}}"),
                1, 0, 4096, &run);

    assert_int_equal(run.rc, LLM_DONE);
    assert_string_equal(test_cstr(ctx, run.out.buf, run.out.len),
                        O_ROLE O_TEXT("a") O_FINISH("stop") O_DONE);
}


/* a failed generation is still billed */

static void
test_sc_error_usage(void **state)
{
    test_ctx_t     *ctx;
    test_sc_run_t   run;

    ctx = *state;

    test_sc_run(ctx,
                C_START
                C_EV("message-end", "{\"type\":\"message-end\",\"delta\":"
                     "{\"error\":\"boom\",\"usage\":" C_USAGE(5, 1) "}}"),
                0, 1, 4096, &run);

    assert_int_equal(run.rc, LLM_ERROR);
    assert_string_equal(run.err.message, "boom");
    assert_int_equal(run.st.usage.prompt_tokens, 5);
    assert_int_equal(run.st.usage.completion_tokens, 1);
    assert_int_equal(run.st.usage.total_tokens, 6);
    assert_int_equal(run.st.usage.cached_tokens, -1);
}


/* the ids made for calls without one are those of the non-streamed answer */

static void
test_sc_same_ids(void **state)
{
    cJSON           *root, *calls;
    test_ctx_t      *ctx;
    llm_request_t    req;
    llm_provider_t   p;
    llm_response_t   resp;
    llm_error_t      err;

    static const char  body[] =
        "{\"id\":\"c0a8e2d4-t2\",\"finish_reason\":\"TOOL_CALL\","
        "\"message\":{\"role\":\"assistant\",\"tool_calls\":["
        "{\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{}\"}},{\"type\":\"function\",\"function\":"
        "{\"name\":\"g\",\"arguments\":\"{}\"}}]}}";

    ctx = *state;

    memset(&req, 0, sizeof(llm_request_t));
    memset(&p, 0, sizeof(llm_provider_t));
    req.model = "command-a-03-2025";

    assert_int_equal(llm_cohere_adapter.decode(&req, &p, body,
                                               sizeof(body) - 1, SC_CREATED,
                                               &ctx->pool, &resp, &err),
                     LLM_OK);

    root = test_json(resp.body, resp.body_len);
    calls = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
                cJSON_GetObjectItem(root, "choices"), 0), "message"),
                "tool_calls");

    assert_int_equal(cJSON_GetArraySize(calls), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(calls, 0),
                                            "id")->valuestring, ID0);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(calls, 1),
                                            "id")->valuestring, ID1);

    cJSON_Delete(root);
}


/* LLM_STREAM_MAX_TOOLS calls fit, one more is an error */

static void
test_sc_many_tools(void **state)
{
    int              i, rc;
    char             data[256], *buf;
    size_t           size;
    llm_error_t      err;
    llm_stream_t     st;
    test_ctx_t      *ctx;
    llm_sse_event_t  ev;
    llm_stream_out_t out;

    ctx = *state;

    size = 1024 * 1024;
    buf = test_copy(ctx, NULL, size);

    llm_stream_init(&st, NULL, NULL, SC_CREATED);

    out.buf = buf;
    out.size = size;
    out.len = 0;

    ev.event = "";
    ev.event_len = 0;
    ev.data = "{\"type\":\"message-start\",\"id\":\"m\"}";
    ev.data_len = strlen(ev.data);

    assert_int_equal(llm_cohere_adapter.stream_event(&st, &ev, &out, &err),
                     LLM_OK);

    ev.data = data;

    for (i = 0; i <= LLM_STREAM_MAX_TOOLS; i++) {
        ev.data_len = snprintf(data, sizeof(data),
                               "{\"type\":\"tool-call-start\",\"index\":%d,"
                               "\"delta\":{\"message\":{\"tool_calls\":"
                               "{\"id\":\"t%d\",\"function\":{\"name\":"
                               "\"f\"}}}}}", i, i);

        rc = llm_cohere_adapter.stream_event(&st, &ev, &out, &err);

        if (i < LLM_STREAM_MAX_TOOLS) {
            assert_int_equal(rc, LLM_OK);
            assert_int_equal(st.ntools, i + 1);

        } else {
            assert_int_equal(rc, LLM_ERROR);
            assert_int_equal(err.status, 502);
            assert_string_equal(err.type, "server_error");
            assert_string_equal(err.message,
                                "The Cohere stream has more than 128 tool "
                                "calls");
        }
    }

    /* the first call's arguments still find it; unknown indexes do not */

    out.len = 0;

    ev.data_len = snprintf(data, sizeof(data),
                           "{\"type\":\"tool-call-delta\",\"index\":0,"
                           "\"delta\":{\"message\":{\"tool_calls\":"
                           "{\"function\":{\"arguments\":\"{}\"}}}}}");

    assert_int_equal(llm_cohere_adapter.stream_event(&st, &ev, &out, &err),
                     LLM_OK);
    assert_non_null(strstr(test_cstr(ctx, out.buf, out.len),
                           "\"tool_calls\":[{\"index\":0,\"function\":"
                           "{\"arguments\":\"{}\"}}]"));

    out.len = 0;

    ev.data_len = snprintf(data, sizeof(data),
                           "{\"type\":\"tool-call-delta\",\"index\":128,"
                           "\"delta\":{\"message\":{\"tool_calls\":"
                           "{\"function\":{\"arguments\":\"{}\"}}}}}");

    assert_int_equal(llm_cohere_adapter.stream_event(&st, &ev, &out, &err),
                     LLM_OK);
    assert_int_equal(out.len, 0);
}


/* shapes that are not Cohere's: an error, never a crash */

static void
test_sc_bad(void **state)
{
    size_t          i;
    test_ctx_t     *ctx;
    test_sc_run_t   run;

    static const char  *const bad[] = {
        C_EV("message-start", "1"),
        C_EV("message-start", "{} x"),
        C_START C_EV("tool-call-start", "{\"type\":\"tool-call-start\"}"),
        C_START C_EV("tool-call-start", "{\"type\":\"tool-call-start\","
                     "\"index\":4294967296,\"delta\":{\"message\":"
                     "{\"tool_calls\":{\"function\":{\"name\":\"f\"}}}}}"),
        C_START C_EV("tool-call-start", "{\"type\":\"tool-call-start\","
                     "\"delta\":{\"message\":{\"tool_calls\":[]}}}"),
        C_EV("message-end", "{\"type\":\"message-end\"}"),
    };

    ctx = *state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        test_sc_run(ctx, bad[i], 0, 1, 4096, &run);

        assert_int_equal(run.rc, LLM_ERROR);
        assert_int_equal(run.end, LLM_OK);
        assert_int_equal(run.err.status, 502);
        assert_string_equal(run.err.code, "invalid_provider_response");
    }

    /* shapes that are merely odd: nothing, or stop */

    test_sc_run(ctx,
                C_START C_EV("content-delta", "{\"type\":\"content-delta\","
                             "\"delta\":{\"message\":{\"content\":[]}}}")
                C_EV("tool-plan-delta", "{\"type\":\"tool-plan-delta\","
                     "\"delta\":1}")
                C_EV("tool-call-delta", "{\"type\":\"tool-call-delta\","
                     "\"index\":0}")
                C_EV("message-end", "{\"type\":\"message-end\","
                     "\"delta\":[]}"),
                0, 0, 4096, &run);

    assert_int_equal(run.rc, LLM_DONE);
    assert_string_equal(test_cstr(ctx, run.out.buf, run.out.len),
                        O_ROLE O_FINISH("stop") O_DONE);
}


void
test_stream_cohere_register(void)
{
    size_t  i;

    for (i = 0; i < sizeof(test_sc) / sizeof(test_sc[0]); i++) {
        test_add(test_sc[i].name, test_sc_stream, &test_sc[i]);
    }

    TEST_ADD(test_sc_small);
    TEST_ADD(test_sc_event_name);
    TEST_ADD(test_sc_error_usage);
    TEST_ADD(test_sc_same_ids);
    TEST_ADD(test_sc_many_tools);
    TEST_ADD(test_sc_bad);
}
