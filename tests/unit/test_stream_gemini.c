
/*
 * ngx_http_llm_router_module: tests of the Gemini stream decoder (the
 * provider's API reference).  Each stream goes through the SSE framer whole,
 * one byte at a time and in 7-byte pieces (CRLF line ends, as Google sends
 * them), and the whole OpenAI output (llm_stream_finish() at the end of the
 * body, llm_stream_fail() after LLM_ERROR) is compared byte for byte.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"


#define SG_CREATED    1767225600LL
#define SG_GUARD      64
#define SG_SSE_SIZE   65536

/* the Gemini side: data-only events, CRLF */

#define G_EV(json)    "data: " json "\r\n\r\n"

#define G_TAIL                                                                \
    "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"rsp_t2\"}"

#define G_PARTS(parts, more)                                                  \
    G_EV("{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":["      \
         parts "]}" more ",\"index\":0}]," G_TAIL)

#define G_PARTS_U(parts, more, usage)                                         \
    G_EV("{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":["      \
         parts "]}" more ",\"index\":0}],\"usageMetadata\":" usage ","        \
         G_TAIL)

#define G_STOP        ",\"finishReason\":\"STOP\""

#define G_CALL(name, args)                                                    \
    "{\"functionCall\":{\"name\":\"" name "\",\"args\":" args "},"            \
    "\"thoughtSignature\":\"c2ln\"}"

#define G_ERROR(json) G_EV("{\"error\":" json "}")

/* the OpenAI side */

#define O_HEAD                                                                \
    "data: {\"id\":\"rsp_t2\",\"object\":\"chat.completion.chunk\","          \
    "\"created\":1767225600,\"model\":\"gemini-2.5-flash\",\"choices\":"

#define O_D(delta)                                                            \
    O_HEAD "[{\"index\":0,\"delta\":{" delta "},\"logprobs\":null,"           \
    "\"finish_reason\":null}]}\n\n"

#define O_ROLE        O_D("\"role\":\"assistant\",\"content\":\"\"")
#define O_TEXT(s)     O_D("\"content\":\"" s "\"")

#define O_CALL(k, id, name, args)                                             \
    O_D("\"tool_calls\":[{\"index\":" #k ",\"id\":\"" id "\",\"type\":"       \
        "\"function\",\"function\":{\"name\":\"" name "\",\"arguments\":\""   \
        args "\"}}]")

#define O_FINISH(r)                                                           \
    O_HEAD "[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":"  \
    "\"" r "\"}]}\n\n"

#define O_USAGE(u)    O_HEAD "[],\"usage\":" u "}\n\n"

#define O_ERROR(message, type, code)                                          \
    "data: {\"error\":{\"message\":\"" message "\",\"type\":\"" type "\","    \
    "\"param\":null,\"code\":" code "}}\n\n"

#define O_DONE        "data: [DONE]\n\n"

/* llm_tool_call_id() of "rsp_t2/0/0" and "rsp_t2/0/1" */

#define ID0           "call_KhZ8wvdbafiBLmAbPUCWTxMP"
#define ID1           "call_TDYAzuw1tk5xxz4RJKsYlnop"

#define U_REF                                                                 \
    "{\"promptTokenCount\":61,\"candidatesTokenCount\":8,"                    \
    "\"thoughtsTokenCount\":20,\"totalTokenCount\":89}"

#define O_U_REF                                                               \
    O_USAGE("{\"prompt_tokens\":61,\"completion_tokens\":28,"                 \
            "\"total_tokens\":89,\"completion_tokens_details\":"              \
            "{\"reasoning_tokens\":20}}")

/* no usageMetadata: no usage chunk, even for a client that asked */
#define O_U_NONE      ""

#define E_INVALID     "\"invalid_provider_response\""


typedef struct {
    const char   *name;
    const char   *sse;              /* the Gemini stream */
    int           rc;               /* the last event's: LLM_OK... */
    const char   *want;             /* the OpenAI events before [DONE] */
    const char   *usage;            /* the usage chunk, include_usage */
    int           status;           /* LLM_ERROR: the error */
    const char   *type;
    const char   *code;
} test_sg_t;


typedef struct {
    llm_stream_t      st;
    llm_stream_out_t  out;
    llm_error_t       err;
    int               rc;           /* the last stream_event()'s */
    int               end;          /* llm_stream_finish() / _fail()'s */
} test_sg_run_t;


static int test_sg_handler(void *data, const llm_sse_event_t *ev);
static void test_sg_run(test_ctx_t *ctx, const char *sse, size_t split,
    int include_usage, size_t size, test_sg_run_t *run);
static char *test_sg_expect(test_ctx_t *ctx, const test_sg_t *t,
    int include_usage, size_t *len);
static void test_sg_stream(void **state);
static void test_sg_small(void **state);
static void test_sg_lf(void **state);
static void test_sg_no_ids(void **state);
static void test_sg_same_ids(void **state);
static void test_sg_usage(void **state);
static void test_sg_many_tools(void **state);
static void test_sg_bad(void **state);


static const test_sg_t  test_sg[] = {

    /* the API reference's example, as it is */

    { "gemini stream: reference vector",
      G_EV("{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":"
           "[{\"text\":\"4 \xc2\xb0" "C\"}]},\"index\":0}],"
           "\"usageMetadata\":{\"promptTokenCount\":61,"
           "\"candidatesTokenCount\":3,\"thoughtsTokenCount\":20,"
           "\"totalTokenCount\":84},\"modelVersion\":\"gemini-2.5-flash\","
           "\"responseId\":\"rsp_t2\"}")
      G_EV("{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":"
           "[{\"text\":\" in Oslo.\"}]},\"finishReason\":\"STOP\","
           "\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":61,"
           "\"candidatesTokenCount\":8,\"thoughtsTokenCount\":20,"
           "\"totalTokenCount\":89},\"modelVersion\":\"gemini-2.5-flash\","
           "\"responseId\":\"rsp_t2\"}"),
      LLM_OK,
      O_ROLE O_TEXT("4 \xc2\xb0" "C") O_TEXT(" in Oslo.") O_FINISH("stop"),
      O_U_REF,
      0, NULL, NULL },

    /* a functionCall comes whole: one chunk, all the arguments */

    { "gemini stream: text then a function call",
      G_PARTS("{\"text\":\"Checking.\"}", "")
      G_PARTS_U(G_CALL("get_weather", "{\"city\":\"Oslo\"}"), G_STOP, U_REF),
      LLM_OK,
      O_ROLE O_TEXT("Checking.")
      O_CALL(0, ID0, "get_weather", "{\\\"city\\\":\\\"Oslo\\\"}")
      O_FINISH("tool_calls"),
      O_U_REF,
      0, NULL, NULL },

    { "gemini stream: two function calls",
      G_PARTS("{\"text\":\"Two.\"}," G_CALL("f", "{\"a\":[1,2.5,true]}") ","
              G_CALL("g", "{}"), "")
      G_PARTS_U("{\"text\":\"\"}", G_STOP, U_REF),
      LLM_OK,
      O_ROLE O_TEXT("Two.")
      O_CALL(0, ID0, "f", "{\\\"a\\\":[1,2.5,true]}")
      O_CALL(1, ID1, "g", "{}")
      O_FINISH("tool_calls"),
      O_U_REF,
      0, NULL, NULL },

    /* calls in two events: indexes go on; no args is {} */

    { "gemini stream: function calls in two events, no args",
      G_PARTS("{\"functionCall\":{\"name\":\"f\"}}", "")
      G_PARTS("{\"functionCall\":{\"name\":\"g\",\"args\":null}}", G_STOP),
      LLM_OK,
      O_ROLE O_CALL(0, ID0, "f", "{}") O_CALL(1, ID1, "g", "{}")
      O_FINISH("tool_calls"),
      O_U_NONE,
      0, NULL, NULL },

    { "gemini stream: thought parts dropped",
      G_PARTS("{\"text\":\"Let me think.\",\"thought\":true},"
              "{\"text\":\"Answer.\",\"thought\":false}", G_STOP),
      LLM_OK,
      O_ROLE O_TEXT("Answer.") O_FINISH("stop"),
      O_U_NONE,
      0, NULL, NULL },

    { "gemini stream: MAX_TOKENS",
      G_PARTS("{\"text\":\"Cut\"}", ",\"finishReason\":\"MAX_TOKENS\""),
      LLM_OK,
      O_ROLE O_TEXT("Cut") O_FINISH("length"),
      O_U_NONE,
      0, NULL, NULL },

    { "gemini stream: SAFETY",
      G_PARTS("{\"text\":\"Hm\"}", "")
      G_EV("{\"candidates\":[{\"finishReason\":\"SAFETY\",\"index\":0,"
           "\"safetyRatings\":[]}]," G_TAIL),
      LLM_OK,
      O_ROLE O_TEXT("Hm") O_FINISH("content_filter"),
      O_U_NONE,
      0, NULL, NULL },

    /* MALFORMED_FUNCTION_CALL has no OpenAI value: stop */

    { "gemini stream: MALFORMED_FUNCTION_CALL",
      G_PARTS("{\"text\":\"x\"}", ",\"finishReason\":"
              "\"MALFORMED_FUNCTION_CALL\""),
      LLM_OK,
      O_ROLE O_TEXT("x") O_FINISH("stop"),
      O_U_NONE,
      0, NULL, NULL },

    { "gemini stream: prompt blocked",
      G_EV("{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},"
           "\"usageMetadata\":{\"promptTokenCount\":7,"
           "\"totalTokenCount\":7}," G_TAIL),
      LLM_OK,
      O_ROLE O_FINISH("content_filter"),
      O_USAGE("{\"prompt_tokens\":7,\"completion_tokens\":0,"
              "\"total_tokens\":7}"),
      0, NULL, NULL },

    /* n > 1 is not streamed: candidate 0 only */

    { "gemini stream: other candidates skipped",
      G_EV("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"B\"}]},"
           "\"index\":1},{\"content\":{\"parts\":[{\"text\":\"A\"}]},"
           "\"index\":0,\"finishReason\":\"STOP\"}]," G_TAIL),
      LLM_OK,
      O_ROLE O_TEXT("A") O_FINISH("stop"),
      O_U_NONE,
      0, NULL, NULL },

    /* usage is cumulative: the last one, never a sum; cached tokens */

    { "gemini stream: cumulative usage",
      G_PARTS_U("{\"text\":\"a\"}", "",
                "{\"promptTokenCount\":100,\"candidatesTokenCount\":1,"
                "\"totalTokenCount\":101,\"cachedContentTokenCount\":64}")
      G_PARTS_U("{\"text\":\"b\"}", G_STOP,
                "{\"promptTokenCount\":100,\"candidatesTokenCount\":2,"
                "\"totalTokenCount\":107,\"cachedContentTokenCount\":64,"
                "\"toolUsePromptTokenCount\":5}"),
      LLM_OK,
      O_ROLE O_TEXT("a") O_TEXT("b") O_FINISH("stop"),
      O_USAGE("{\"prompt_tokens\":105,\"completion_tokens\":2,"
              "\"total_tokens\":107,\"prompt_tokens_details\":"
              "{\"cached_tokens\":64}}"),
      0, NULL, NULL },

    /* the API reference's example: an error after the 200 */

    { "gemini stream: RESOURCE_EXHAUSTED",
      G_PARTS("{\"text\":\"Par\"}", "")
      G_ERROR("{\"code\":429,\"message\":\"Resource has been exhausted "
              "(e.g. check quota).\",\"status\":\"RESOURCE_EXHAUSTED\","
              "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc."
              "RetryInfo\",\"retryDelay\":\"27s\"}]}"),
      LLM_ERROR,
      O_ROLE O_TEXT("Par")
      O_ERROR("Resource has been exhausted (e.g. check quota).",
              "rate_limit_error", "\"rate_limit_exceeded\""),
      NULL,
      429, "rate_limit_error", "rate_limit_exceeded" },

    { "gemini stream: INTERNAL first",
      G_ERROR("{\"code\":500,\"message\":\"An internal error has "
              "occurred.\",\"status\":\"INTERNAL\"}"),
      LLM_ERROR,
      O_ERROR("An internal error has occurred.", "server_error",
              "\"internal\""),
      NULL,
      500, "server_error", "internal" },

    { "gemini stream: error without a code or message",
      G_PARTS("{\"text\":\"x\"}", "")
      G_ERROR("{\"status\":\"UNAVAILABLE\"}"),
      LLM_ERROR,
      O_ROLE O_TEXT("x")
      O_ERROR("The Gemini stream failed (UNAVAILABLE)", "server_error",
              "\"unavailable\""),
      NULL,
      502, "server_error", "unavailable" },

    { "gemini stream: error of an invalid key",
      G_ERROR("{\"code\":400,\"message\":\"API key not valid.\","
              "\"status\":\"INVALID_ARGUMENT\",\"details\":[{\"reason\":"
              "\"API_KEY_INVALID\"}]}"),
      LLM_ERROR,
      O_ERROR("API key not valid.", "authentication_error",
              "\"invalid_api_key\""),
      NULL,
      400, "authentication_error", "invalid_api_key" },

    { "gemini stream: data that is not JSON",
      G_PARTS("{\"text\":\"x\"}", "") G_EV("{\"candidates\":"),
      LLM_ERROR,
      O_ROLE O_TEXT("x")
      O_ERROR("A Gemini stream event is not valid JSON", "api_error",
              E_INVALID),
      NULL,
      502, "api_error", "invalid_provider_response" },

    { "gemini stream: [DONE] is not Gemini's",
      G_PARTS("{\"text\":\"x\"}", "") G_EV("[DONE]"),
      LLM_ERROR,
      O_ROLE O_TEXT("x")
      O_ERROR("A Gemini stream event is not valid JSON", "api_error",
              E_INVALID),
      NULL,
      502, "api_error", "invalid_provider_response" },

    { "gemini stream: a text part that is not a string",
      G_PARTS("{\"text\":1}", ""),
      LLM_ERROR,
      O_ROLE
      O_ERROR("The Gemini stream has an event with a text part that is "
              "not a string", "api_error", E_INVALID),
      NULL,
      502, "api_error", "invalid_provider_response" },

    { "gemini stream: a functionCall without a name",
      G_PARTS("{\"text\":\"a\"},{\"functionCall\":{\"args\":{}}}", ""),
      LLM_ERROR,
      O_ROLE O_TEXT("a")
      O_ERROR("The Gemini stream has an event with a functionCall without "
              "a name", "api_error", E_INVALID),
      NULL,
      502, "api_error", "invalid_provider_response" },
};


static int
test_sg_handler(void *data, const llm_sse_event_t *ev)
{
    test_sg_run_t  *run;

    run = data;

    run->rc = llm_gemini_adapter.stream_event(&run->st, ev, &run->out,
                                              &run->err);

    return (run->rc == LLM_OK) ? LLM_OK : LLM_ERROR;
}


/*
 * The stream fed in pieces of split bytes (0: at once) into an out of
 * size bytes followed by a guard; then, as the glue does at the end of the
 * body, llm_stream_finish(), or llm_stream_fail() after LLM_ERROR.
 */

static void
test_sg_run(test_ctx_t *ctx, const char *sse, size_t split,
    int include_usage, size_t size, test_sg_run_t *run)
{
    char            *sbuf;
    size_t           len, n, i;
    llm_sse_t        sse_state;
    llm_request_t    req;
    llm_provider_t   p;

    memset(run, 0, sizeof(test_sg_run_t));
    memset(&req, 0, sizeof(llm_request_t));
    memset(&p, 0, sizeof(llm_provider_t));

    req.model = "gemini-x";
    req.stream = 1;
    req.include_usage = include_usage;

    llm_stream_init(&run->st, &req, &p, SG_CREATED);

    run->out.buf = test_copy(ctx, NULL, size + SG_GUARD);
    run->out.size = size;
    memset(run->out.buf, 'Z', size + SG_GUARD);

    sbuf = test_copy(ctx, NULL, SG_SSE_SIZE);
    llm_sse_init(&sse_state, sbuf, SG_SSE_SIZE);

    run->rc = LLM_OK;
    len = strlen(sse);

    for (i = 0; i < len; i += n) {
        n = (split == 0 || len - i < split) ? len - i : split;

        if (llm_sse_feed(&sse_state, sse + i, n, test_sg_handler, run)
            != LLM_OK)
        {
            assert_int_not_equal(run->rc, LLM_OK);
            break;
        }
    }

    if (run->rc == LLM_ERROR) {
        run->end = llm_stream_fail(&run->st, &run->err, &run->out);

    } else {
        run->end = llm_stream_finish(&run->st, &run->out);
    }

    assert_true(run->out.len <= size);

    for (i = 0; i < SG_GUARD; i++) {
        assert_int_equal(run->out.buf[size + i], 'Z');
    }
}


static char *
test_sg_expect(test_ctx_t *ctx, const test_sg_t *t, int include_usage,
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
test_sg_stream(void **state)
{
    int              usage;
    char            *want;
    size_t           s, len;
    test_ctx_t      *ctx;
    test_sg_run_t    run;
    const test_sg_t *t;

    static const size_t  splits[] = { 0, 1, 7 };

    ctx = *state;
    t = ctx->data;

    for (usage = 0; usage <= 1; usage++) {
        want = test_sg_expect(ctx, t, usage, &len);

        for (s = 0; s < sizeof(splits) / sizeof(splits[0]); s++) {
            test_sg_run(ctx, t->sse, splits[s], usage, 65536, &run);

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
            }
        }
    }
}


/*
 * Every out size short of the whole: an LLM_ERROR somewhere, whole events
 * only (a prefix of the whole output), nothing past the end.
 */

static void
test_sg_small(void **state)
{
    char            *want;
    size_t           size, len;
    test_ctx_t      *ctx;
    test_sg_run_t    run;
    const test_sg_t *t;

    ctx = *state;
    t = &test_sg[2];

    want = test_sg_expect(ctx, t, 1, &len);

    for (size = 0; size < len; size++) {
        test_sg_run(ctx, t->sse, 0, 1, size, &run);

        if (run.rc == LLM_OK) {
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


/* LF line ends too */

static void
test_sg_lf(void **state)
{
    test_ctx_t     *ctx;
    test_sg_run_t   run;

    ctx = *state;

    test_sg_run(ctx,
                "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
                "\"Hi\"}]},\"finishReason\":\"STOP\"}]," G_TAIL "\n\n",
                1, 0, 4096, &run);

    assert_int_equal(run.rc, LLM_OK);
    assert_string_equal(test_cstr(ctx, run.out.buf, run.out.len),
                        O_ROLE O_TEXT("Hi") O_FINISH("stop") O_DONE);
}


/*
 * No responseId, no modelVersion: the stream's own id and the client's
 * model; the call ids are made from that id.
 */

static void
test_sg_no_ids(void **state)
{
    char            *out, key[160], id[LLM_TOOL_CALL_ID_LEN + 1], want[512];
    test_ctx_t      *ctx;
    test_sg_run_t    run;

    ctx = *state;

    test_sg_run(ctx,
                G_EV("{\"candidates\":[{\"content\":{\"parts\":["
                     "{\"functionCall\":{\"name\":\"f\",\"args\":{}}}]},"
                     "\"finishReason\":\"STOP\"}]}"),
                0, 0, 4096, &run);

    assert_int_equal(run.rc, LLM_OK);
    assert_memory_equal(run.st.id, "chatcmpl-", sizeof("chatcmpl-") - 1);
    assert_int_equal(strlen(run.st.id), sizeof("chatcmpl-") - 1 + 24);
    assert_string_equal(run.st.model, "gemini-x");

    snprintf(key, sizeof(key), "%s/0/0", run.st.id);
    llm_tool_call_id_write(id, key, strlen(key));

    out = test_cstr(ctx, run.out.buf, run.out.len);

    snprintf(want, sizeof(want),
             "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\","
             "\"created\":1767225600,\"model\":\"gemini-x\",\"choices\":"
             "[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
             "\"id\":\"%s\",\"type\":\"function\",\"function\":{\"name\":"
             "\"f\",\"arguments\":\"{}\"}}]},\"logprobs\":null,"
             "\"finish_reason\":null}]}\n\n", run.st.id, id);

    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "\"finish_reason\":\"tool_calls\""));
}


/* the ids of the calls are those of the same answer, non-streamed */

static void
test_sg_same_ids(void **state)
{
    cJSON           *root, *calls;
    test_ctx_t      *ctx;
    llm_request_t    req;
    llm_provider_t   p;
    llm_response_t   resp;
    llm_error_t      err;
    test_sg_run_t    run;

    static const char  body[] =
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":["
        G_CALL("f", "{}") "," G_CALL("g", "{}") "]},\"finishReason\":"
        "\"STOP\",\"index\":0}]," G_TAIL;

    ctx = *state;

    memset(&req, 0, sizeof(llm_request_t));
    memset(&p, 0, sizeof(llm_provider_t));
    req.model = "gemini-x";

    assert_int_equal(llm_gemini_adapter.decode(&req, &p, body,
                                               sizeof(body) - 1, SG_CREATED,
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

    test_sg_run(ctx, G_EV("{\"candidates\":[{\"content\":{\"role\":"
                          "\"model\",\"parts\":[" G_CALL("f", "{}") ","
                          G_CALL("g", "{}") "]},\"finishReason\":\"STOP\","
                          "\"index\":0}]," G_TAIL),
                0, 0, 4096, &run);

    assert_int_equal(run.rc, LLM_OK);
    assert_string_equal(test_cstr(ctx, run.out.buf, run.out.len),
                        O_ROLE O_CALL(0, ID0, "f", "{}")
                        O_CALL(1, ID1, "g", "{}") O_FINISH("tool_calls")
                        O_DONE);
}


/* st->usage is replaced by each usageMetadata, as the decoder reads it */

static void
test_sg_usage(void **state)
{
    test_ctx_t     *ctx;
    test_sg_run_t   run;

    ctx = *state;

    test_sg_run(ctx,
                G_PARTS_U("{\"text\":\"a\"}", "",
                          "{\"promptTokenCount\":61,"
                          "\"candidatesTokenCount\":3,"
                          "\"thoughtsTokenCount\":20,"
                          "\"totalTokenCount\":84}")
                G_EV("{\"usageMetadata\":{\"promptTokenCount\":61,"
                     "\"candidatesTokenCount\":8}}"),
                0, 0, 4096, &run);

    assert_int_equal(run.rc, LLM_OK);
    assert_int_equal(run.st.usage.prompt_tokens, 61);
    assert_int_equal(run.st.usage.completion_tokens, 8);
    assert_int_equal(run.st.usage.total_tokens, 69);
    assert_int_equal(run.st.usage.cached_tokens, -1);
    assert_int_equal(run.st.usage.reasoning_tokens, -1);
    assert_string_equal(run.st.finish_reason, "stop");
}


/* LLM_STREAM_MAX_TOOLS calls fit, one more is an error */

static void
test_sg_many_tools(void **state)
{
    int              i, rc;
    char            *data, *buf;
    size_t           n, size;
    llm_error_t      err;
    llm_stream_t     st;
    test_ctx_t      *ctx;
    llm_sse_event_t  ev;
    llm_stream_out_t out;

    static const char  call[] = "{\"functionCall\":{\"name\":\"f\"}},";

    ctx = *state;

    size = 1024 * 1024;
    buf = test_copy(ctx, NULL, size);
    data = test_copy(ctx, NULL, 65536);

    llm_stream_init(&st, NULL, NULL, SG_CREATED);

    out.buf = buf;
    out.size = size;
    out.len = 0;

    /* all in one event but one */

    n = sprintf(data, "{\"candidates\":[{\"content\":{\"parts\":[");

    for (i = 0; i < LLM_STREAM_MAX_TOOLS - 1; i++) {
        memcpy(data + n, call, sizeof(call) - 1);
        n += sizeof(call) - 1;
    }

    n += sprintf(data + n - 1, "]}}]}") - 1;

    ev.event = "";
    ev.event_len = 0;
    ev.data = data;
    ev.data_len = n;

    rc = llm_gemini_adapter.stream_event(&st, &ev, &out, &err);
    assert_int_equal(rc, LLM_OK);
    assert_int_equal(st.ntools, LLM_STREAM_MAX_TOOLS - 1);

    ev.data = "{\"candidates\":[{\"content\":{\"parts\":["
              "{\"functionCall\":{\"name\":\"f\"}}]}}]}";
    ev.data_len = strlen(ev.data);

    rc = llm_gemini_adapter.stream_event(&st, &ev, &out, &err);
    assert_int_equal(rc, LLM_OK);
    assert_int_equal(st.ntools, LLM_STREAM_MAX_TOOLS);

    rc = llm_gemini_adapter.stream_event(&st, &ev, &out, &err);
    assert_int_equal(rc, LLM_ERROR);
    assert_int_equal(err.status, 502);
    assert_string_equal(err.type, "server_error");
    assert_string_equal(err.message,
                        "The Gemini stream has more than 128 tool calls");
}


/* shapes that are not Gemini's: an error, never a crash */

static void
test_sg_bad(void **state)
{
    size_t          i;
    test_ctx_t     *ctx;
    test_sg_run_t   run;

    static const char  *const bad[] = {
        G_EV("[]"),
        G_EV("\"x\""),
        G_EV("{\"candidates\":{}}"),
        G_EV("{\"candidates\":[1]}"),
        G_EV("{\"candidates\":[{\"content\":[]}]}"),
        G_EV("{\"candidates\":[{\"content\":{\"parts\":{}}}]}"),
        G_EV("{\"candidates\":[{\"content\":{\"parts\":[1]}}]}"),
        G_EV("{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
             "{\"name\":1}}]}}]}"),
        G_EV("{} x"),
    };

    ctx = *state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        test_sg_run(ctx, bad[i], 0, 1, 4096, &run);

        assert_int_equal(run.rc, LLM_ERROR);
        assert_int_equal(run.end, LLM_OK);
        assert_int_equal(run.err.status, 502);
        assert_string_equal(run.err.code, "invalid_provider_response");
    }
}


void
test_stream_gemini_register(void)
{
    size_t  i;

    for (i = 0; i < sizeof(test_sg) / sizeof(test_sg[0]); i++) {
        test_add(test_sg[i].name, test_sg_stream, &test_sg[i]);
    }

    TEST_ADD(test_sg_small);
    TEST_ADD(test_sg_lf);
    TEST_ADD(test_sg_no_ids);
    TEST_ADD(test_sg_same_ids);
    TEST_ADD(test_sg_usage);
    TEST_ADD(test_sg_many_tools);
    TEST_ADD(test_sg_bad);
}
