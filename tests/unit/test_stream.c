
/*
 * ngx_http_llm_router_module: tests of the stream writers (llm_stream.c),
 * of the OpenAI and Mistral stream decoders and of the OpenAI encoder's
 * stream_options.include_usage.
 */


#include <stdlib.h>
#include <string.h>

#include "test_util.h"


#define TEST_KEY      "sk-test-SECRET-0123456789"
#define TEST_CREATED  1767225600LL
#define TEST_OUT      65536
#define TEST_SEEDS    8
#define MSG           "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

#define HEAD                                                                  \
    "data: {'id':'chatcmpl-t9','object':'chat.completion.chunk',"             \
    "'created':1767225600,'model':'m-1',"

#define DONE          "data: [DONE]\n\n"


typedef struct {
    const llm_adapter_t  *adapter;
    llm_stream_t          st;
    llm_stream_out_t      out;
    llm_error_t           err;
    int                   rc;           /* of the last stream_event */
    size_t                nevents;
    size_t                after_done;   /* events fed after LLM_DONE */
} test_run_t;


static char *test_q(test_ctx_t *ctx, const char *s);
static void test_st(llm_stream_t *st, int include_usage);
static void test_out(test_ctx_t *ctx, llm_stream_out_t *out, size_t size);
static void test_out_expect(test_ctx_t *ctx, const llm_stream_out_t *out,
    const char *want);
static void test_out_events(const char *buf, size_t len);
static void test_stream_init(void **state);
static void test_stream_init_model(void **state);
static void test_stream_set(void **state);
static void test_stream_chunk_role(void **state);
static void test_stream_begun(void **state);
static void test_stream_begun_check(test_ctx_t *ctx,
    const llm_adapter_t *ad, const char *sse, int rc, int content);
static void test_stream_chunk_content(void **state);
static void test_stream_chunk_tools(void **state);
static void test_stream_chunk_finish(void **state);
static void test_stream_chunk_full(void **state);
static void test_stream_usage_chunk(void **state);
static void test_stream_data(void **state);
static void test_stream_finish(void **state);
static void test_stream_finish_full(void **state);
static void test_stream_fail(void **state);
static void test_stream_fail_full(void **state);
static int test_run_event(void *data, const llm_sse_event_t *ev);
static void test_run(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *text, int include_usage, size_t step, unsigned seed,
    test_run_t *run);
static void test_run_expect(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *text, int include_usage, const char *want);
static int test_event(test_ctx_t *ctx, const llm_adapter_t *ad,
    llm_stream_t *st, const char *data, llm_stream_out_t *out,
    llm_error_t *err);
static void test_event_invalid(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *data);
static void test_openai_stream_vector(void **state);
static void test_openai_stream_vector_usage(void **state);
static void test_openai_stream_tools(void **state);
static void test_openai_stream_cut(void **state);
static void test_openai_stream_done(void **state);
static void test_openai_stream_error(void **state);
static void test_openai_stream_error_shapes(void **state);
static void test_openai_stream_invalid(void **state);
static void test_openai_stream_multiline(void **state);
static void test_openai_stream_usage_details(void **state);
static void test_openai_stream_full(void **state);
static void test_mistral_stream_vector(void **state);
static void test_mistral_stream_vector_usage(void **state);
static void test_mistral_stream_model_length(void **state);
static void test_mistral_stream_errors(void **state);
static void test_mistral_stream_usage_early(void **state);
static void test_openai_stream_usage_once(void **state);
static void test_mistral_stream_full(void **state);
static void test_mistral_stream_tool_type(void **state);
static void test_stream_adapters(void **state);
static void test_encode_usage(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json, const char *model, const char *want);
static void test_encode_usage_inserted(void **state);
static void test_encode_usage_replaced(void **state);
static void test_encode_usage_left_alone(void **state);
static void test_encode_usage_model(void **state);
static void test_encode_usage_mistral(void **state);
static void test_encode_usage_nomem(void **state);


/* the API reference's example: text, usage chunk, [DONE] */
static const char  test_openai_vector[] =
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

/* the API reference's example: tool call deltas (no [DONE] in the vector) */
static const char  test_openai_tools[] =
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

/* the API reference's example */
static const char  test_mistral_vector[] =
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


/* a copy of s with every ' made a ", freed at teardown */

static char *
test_q(test_ctx_t *ctx, const char *s)
{
    char    *p;
    size_t   i, len;

    len = strlen(s);
    p = test_copy(ctx, s, len + 1);

    for (i = 0; i < len; i++) {
        if (p[i] == '\'') {
            p[i] = '"';
        }
    }

    return p;
}


/* a stream with id "chatcmpl-t9" and model "m-1" */

static void
test_st(llm_stream_t *st, int include_usage)
{
    llm_request_t   req;
    llm_provider_t  p;

    memset(&req, 0, sizeof(llm_request_t));
    memset(&p, 0, sizeof(llm_provider_t));

    req.model = "client-model";
    req.include_usage = include_usage;
    p.model = "m-1";

    memset(st, 0xa5, sizeof(llm_stream_t));

    llm_stream_init(st, &req, &p, TEST_CREATED);
    llm_stream_set_id(st, "chatcmpl-t9");
}


/* out of size bytes, malloc'ed to that size for the memory checkers */

static void
test_out(test_ctx_t *ctx, llm_stream_out_t *out, size_t size)
{
    out->buf = test_copy(ctx, NULL, size);
    out->size = size;
    out->len = 0;
}


static void
test_out_expect(test_ctx_t *ctx, const llm_stream_out_t *out,
    const char *want)
{
    want = test_q(ctx, want);

    assert_true(out->len <= out->size);
    assert_string_equal(test_cstr(ctx, out->buf, out->len), want);

    test_out_events(out->buf, out->len);
}


/* buf is "data: <JSON or [DONE]>\n\n"... */

static void
test_out_events(const char *buf, size_t len)
{
    const char  *p, *end, *nl;

    p = buf;
    end = buf + len;

    while (p < end) {
        assert_true(end - p >= 8);
        assert_memory_equal(p, "data: ", 6);
        p += 6;

        nl = memchr(p, '\n', (size_t) (end - p));
        assert_non_null(nl);
        assert_true(nl + 1 < end && nl[1] == '\n');

        if (nl - p != 6 || memcmp(p, "[DONE]", 6) != 0) {
            cJSON_Delete(test_json(p, (size_t) (nl - p)));
        }

        p = nl + 2;
    }
}


static void
test_stream_init(void **state)
{
    int             i;
    char            id[96];
    llm_stream_t    st;
    llm_request_t   req;
    llm_provider_t  p;

    (void) state;

    memset(&req, 0, sizeof(llm_request_t));
    memset(&p, 0, sizeof(llm_provider_t));

    req.model = "client-model";
    req.include_usage = 1;

    memset(&st, 0xa5, sizeof(llm_stream_t));
    llm_stream_init(&st, &req, &p, TEST_CREATED);

    assert_int_equal(strlen(st.id), sizeof("chatcmpl-") - 1 + 24);
    assert_memory_equal(st.id, "chatcmpl-", sizeof("chatcmpl-") - 1);

    for (i = sizeof("chatcmpl-") - 1; st.id[i] != '\0'; i++) {
        assert_true((st.id[i] >= 'a' && st.id[i] <= 'z')
                    || (st.id[i] >= 'A' && st.id[i] <= 'Z')
                    || (st.id[i] >= '0' && st.id[i] <= '9'));
    }

    assert_string_equal(st.model, "client-model");
    assert_true(st.created == TEST_CREATED);
    assert_int_equal(st.include_usage, 1);
    assert_int_equal(st.started, 0);
    assert_int_equal(st.finished, 0);
    assert_int_equal(st.done, 0);
    assert_int_equal(st.usage_sent, 0);
    assert_null(st.finish_reason);
    assert_true(st.usage.prompt_tokens == -1);
    assert_true(st.usage.completion_tokens == -1);
    assert_true(st.usage.total_tokens == -1);
    assert_true(st.usage.cached_tokens == -1);
    assert_true(st.usage.cache_write_tokens == -1);
    assert_true(st.usage.reasoning_tokens == -1);
    assert_int_equal(llm_usage_known(&st.usage), 0);
    assert_int_equal(st.ntools, 0);
    assert_null(st.text);
    assert_int_equal(st.text_size, 0);
    assert_int_equal(st.text_len, 0);
    assert_int_equal(st.text_full, 0);

    for (i = 0; i < LLM_STREAM_MAX_TOOLS; i++) {
        assert_int_equal(st.tool_block[i], -1);
    }

    /* deterministic: the same time, the same id; another, another */

    memcpy(id, st.id, sizeof(id));

    llm_stream_init(&st, &req, &p, TEST_CREATED);
    assert_string_equal(st.id, id);

    llm_stream_init(&st, &req, &p, TEST_CREATED + 1);
    assert_string_not_equal(st.id, id);

    req.include_usage = 0;
    llm_stream_init(&st, &req, &p, TEST_CREATED);
    assert_int_equal(st.include_usage, 0);
}


static void
test_stream_init_model(void **state)
{
    char            model[300];
    size_t          i;
    llm_stream_t    st;
    llm_request_t   req;
    llm_provider_t  p;

    (void) state;

    memset(&req, 0, sizeof(llm_request_t));
    memset(&p, 0, sizeof(llm_provider_t));

    req.model = "client-model";
    p.model = "upstream-model";

    llm_stream_init(&st, &req, &p, TEST_CREATED);
    assert_string_equal(st.model, "upstream-model");

    p.model = "";
    llm_stream_init(&st, &req, &p, TEST_CREATED);
    assert_string_equal(st.model, "client-model");

    req.model = NULL;
    llm_stream_init(&st, &req, &p, TEST_CREATED);
    assert_string_equal(st.model, "");

    llm_stream_init(&st, NULL, NULL, TEST_CREATED);
    assert_string_equal(st.model, "");
    assert_int_equal(st.include_usage, 0);

    /* cut at a UTF-8 boundary: 2-byte characters, 127 bytes of room */

    for (i = 0; i + 2 < sizeof(model); i += 2) {
        model[i] = '\xc3';
        model[i + 1] = '\xa9';
    }

    model[i] = '\0';

    req.model = model;
    llm_stream_init(&st, &req, &p, TEST_CREATED);

    assert_int_equal(strlen(st.model), sizeof(st.model) - 2);
    assert_memory_equal(st.model, model, sizeof(st.model) - 2);
}


static void
test_stream_set(void **state)
{
    char          id[200];
    llm_stream_t  st;

    (void) state;

    test_st(&st, 0);

    llm_stream_set_id(&st, NULL);
    llm_stream_set_id(&st, "");
    llm_stream_set_model(&st, NULL);
    llm_stream_set_model(&st, "");

    assert_string_equal(st.id, "chatcmpl-t9");
    assert_string_equal(st.model, "m-1");

    llm_stream_set_id(&st, "msg_01");
    llm_stream_set_model(&st, "claude");

    assert_string_equal(st.id, "msg_01");
    assert_string_equal(st.model, "claude");

    memset(id, 'a', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';

    llm_stream_set_id(&st, id);

    assert_int_equal(strlen(st.id), sizeof(st.id) - 1);

    /* its own value: a no-op */
    llm_stream_set_id(&st, st.id);
    assert_int_equal(strlen(st.id), sizeof(st.id) - 1);
}


static void
test_stream_chunk_role(void **state)
{
    llm_delta_t       d;
    test_ctx_t       *ctx;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    test_st(&st, 0);
    test_out(ctx, &out, 1024);

    memset(&d, 0, sizeof(llm_delta_t));
    d.role = 1;
    d.content = "";
    d.tool_index = -1;

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{'role':'assistant',"
        "'content':''},'logprobs':null,'finish_reason':null}]}\n\n");

    assert_int_equal(st.started, 1);
    assert_int_equal(st.finished, 0);

    /* a role alone */

    out.len = 0;
    d.content = NULL;

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{'role':'assistant'},"
        "'logprobs':null,'finish_reason':null}]}\n\n");
}


static void
test_stream_chunk_content(void **state)
{
    llm_delta_t       d;
    test_ctx_t       *ctx;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    test_st(&st, 0);
    test_out(ctx, &out, 1024);

    /* escaped, and only content_len bytes of it */

    memset(&d, 0, sizeof(llm_delta_t));
    d.content = "4 \xc2\xb0" "C \"q\"\\\n\x01\xff-not-this";
    d.content_len = 13;
    d.tool_index = -1;

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{'content':'4 \xc2\xb0"
        "C \\'q\\'\\\\\\n\\u0001\\ufffd'},'logprobs':null,"
        "'finish_reason':null}]}\n\n");

    assert_int_equal(st.started, 0);

    /* id and model are escaped too */

    out.len = 0;
    llm_stream_set_id(&st, "a\"b");
    llm_stream_set_model(&st, "m\\");

    d.content = "";
    d.content_len = 0;

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_OK);

    test_out_expect(ctx, &out,
        "data: {'id':'a\\'b','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'m\\\\','choices':[{'index':0,"
        "'delta':{'content':''},'logprobs':null,'finish_reason':null}]}\n\n");
}


static void
test_stream_chunk_tools(void **state)
{
    llm_delta_t       d;
    test_ctx_t       *ctx;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    test_st(&st, 0);
    test_out(ctx, &out, 1024);

    /* a first fragment, with the role as OpenAI sends it */

    memset(&d, 0, sizeof(llm_delta_t));
    d.role = 1;
    d.tool_index = 0;
    d.tool_id = "call_t3";
    d.tool_name = "get_weather";
    d.tool_args = "";

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{'role':'assistant',"
        "'tool_calls':[{'index':0,'id':'call_t3','type':'function',"
        "'function':{'name':'get_weather','arguments':''}}]},"
        "'logprobs':null,'finish_reason':null}]}\n\n");

    /* later fragments: index and arguments */

    out.len = 0;

    memset(&d, 0, sizeof(llm_delta_t));
    d.tool_index = 0;
    d.tool_args = "{\"city\":\"Oslo\"}xx";
    d.tool_args_len = 15;

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{'tool_calls':[{'index':0,"
        "'function':{'arguments':'{\\'city\\':\\'Oslo\\'}'}}]},"
        "'logprobs':null,'finish_reason':null}]}\n\n");

    /* NULL arguments are ""; a name alone makes a first fragment */

    out.len = 0;

    memset(&d, 0, sizeof(llm_delta_t));
    d.tool_index = 7;
    d.tool_name = "f";

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{'tool_calls':[{'index':7,"
        "'id':'','type':'function','function':{'name':'f',"
        "'arguments':''}}]},'logprobs':null,'finish_reason':null}]}\n\n");

    out.len = 0;

    memset(&d, 0, sizeof(llm_delta_t));
    d.tool_index = 1;

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{'tool_calls':[{'index':1,"
        "'function':{'arguments':''}}]},'logprobs':null,"
        "'finish_reason':null}]}\n\n");

    /* content and a tool call in one delta */

    out.len = 0;

    memset(&d, 0, sizeof(llm_delta_t));
    d.content = "x";
    d.content_len = 1;
    d.tool_index = 2;
    d.tool_id = "c";

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{'content':'x','tool_calls':"
        "[{'index':2,'id':'c','type':'function','function':{'name':'',"
        "'arguments':''}}]},'logprobs':null,'finish_reason':null}]}\n\n");

    assert_int_equal(st.started, 1);
    assert_int_equal(st.finished, 0);
}


static void
test_stream_chunk_finish(void **state)
{
    llm_delta_t       d;
    test_ctx_t       *ctx;
    const char       *reason;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    test_st(&st, 0);
    test_out(ctx, &out, 1024);

    reason = "tool_calls";

    memset(&d, 0, sizeof(llm_delta_t));
    d.tool_index = -1;
    d.finish_reason = reason;

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'tool_calls'}]}\n\n");

    assert_int_equal(st.finished, 1);
    assert_ptr_equal(st.finish_reason, reason);
    assert_int_equal(st.started, 0);
}


/*
 * Every size short of the chunk: LLM_ERROR, out->len as it was, nothing
 * written past out->size, the state untouched.
 */

static void
test_stream_chunk_full(void **state)
{
    char             *buf;
    size_t            need, size, pre, i;
    llm_delta_t       d;
    test_ctx_t       *ctx;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    memset(&d, 0, sizeof(llm_delta_t));
    d.role = 1;
    d.content = "caf\xc3\xa9 \"\n";
    d.content_len = strlen(d.content);
    d.tool_index = 0;
    d.tool_id = "id";
    d.tool_name = "n";
    d.tool_args = "{}";
    d.tool_args_len = 2;
    d.finish_reason = "stop";

    test_st(&st, 0);
    test_out(ctx, &out, 1024);

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_OK);
    need = out.len;

    buf = test_copy(ctx, NULL, need + 64);

    for (pre = 0; pre < 3; pre++) {
        for (size = pre; size < need + pre; size++) {
            memset(buf, 'Z', need + 64);

            test_st(&st, 0);

            out.buf = buf;
            out.size = size;
            out.len = pre;

            assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_ERROR);
            assert_int_equal(out.len, pre);
            assert_int_equal(st.started, 0);
            assert_int_equal(st.finished, 0);
            assert_null(st.finish_reason);

            for (i = size; i < need + 64; i++) {
                assert_int_equal(buf[i], 'Z');
            }
        }

        out.size = need + pre;
        out.len = pre;

        assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_OK);
        assert_int_equal(out.len, need + pre);
        assert_int_equal(st.started, 1);
        assert_int_equal(st.finished, 1);
    }

    /* no buffer, or a length past the size */

    out.buf = NULL;
    out.size = 100000;
    out.len = 0;

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_ERROR);
    assert_int_equal(llm_stream_usage_chunk(&st, &out), LLM_ERROR);
    assert_int_equal(llm_stream_data(&out, "x", 1), LLM_ERROR);
    assert_int_equal(llm_stream_finish(&st, &out), LLM_ERROR);
    assert_int_equal(out.len, 0);

    out.buf = buf;
    out.size = 10;
    out.len = 11;

    assert_int_equal(llm_stream_chunk(&st, &out, &d), LLM_ERROR);
    assert_int_equal(llm_stream_data(&out, "", 0), LLM_ERROR);
    assert_int_equal(out.len, 11);
}


static void
test_stream_usage_chunk(void **state)
{
    size_t            need, size;
    test_ctx_t       *ctx;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    test_st(&st, 1);
    test_out(ctx, &out, 1024);

    st.usage.prompt_tokens = 9;
    st.usage.completion_tokens = 1;
    st.usage.total_tokens = 10;

    assert_int_equal(llm_stream_usage_chunk(&st, &out), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[],'usage':{'prompt_tokens':9,"
        "'completion_tokens':1,'total_tokens':10}}\n\n");

    assert_int_equal(st.usage_sent, 1);

    /* details when reported; 0 is reported */

    out.len = 0;
    st.usage.cached_tokens = 0;
    st.usage.reasoning_tokens = 20;

    assert_int_equal(llm_stream_usage_chunk(&st, &out), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[],'usage':{'prompt_tokens':9,"
        "'completion_tokens':1,'total_tokens':10,"
        "'prompt_tokens_details':{'cached_tokens':0},"
        "'completion_tokens_details':{'reasoning_tokens':20}}}\n\n");

    /* negative counts are 0, a total of 0 or less is the sum */

    out.len = 0;
    st.usage.prompt_tokens = -1;
    st.usage.completion_tokens = 5;
    st.usage.total_tokens = 0;
    st.usage.cached_tokens = -7;
    st.usage.reasoning_tokens = -1;

    assert_int_equal(llm_stream_usage_chunk(&st, &out), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[],'usage':{'prompt_tokens':0,"
        "'completion_tokens':5,'total_tokens':5}}\n\n");

    out.len = 0;
    st.usage.prompt_tokens = 9007199254740992LL;
    st.usage.completion_tokens = 9007199254740992LL;
    st.usage.total_tokens = -1;

    assert_int_equal(llm_stream_usage_chunk(&st, &out), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[],'usage':{'prompt_tokens':9007199254740992,"
        "'completion_tokens':9007199254740992,"
        "'total_tokens':18014398509481984}}\n\n");

    need = out.len;

    for (size = 0; size < need; size++) {
        st.usage_sent = 0;
        out.size = size;
        out.len = 0;

        assert_int_equal(llm_stream_usage_chunk(&st, &out), LLM_ERROR);
        assert_int_equal(out.len, 0);
        assert_int_equal(st.usage_sent, 0);
    }
}


static void
test_stream_data(void **state)
{
    test_ctx_t       *ctx;
    llm_stream_out_t  out;

    ctx = *state;

    test_out(ctx, &out, 64);

    assert_int_equal(llm_stream_data(&out, "[DONE]", 6), LLM_OK);
    assert_int_equal(llm_stream_data(&out, "[\n1\n,\n2]xx", 8), LLM_OK);
    assert_int_equal(llm_stream_data(&out, "\n", 1), LLM_OK);

    assert_int_equal(out.len, 39);
    assert_memory_equal(out.buf,
                        "data: [DONE]\n\ndata: [ 1 , 2]\n\ndata:  \n\n", 39);

    assert_int_equal(llm_stream_data(&out, NULL, 0), LLM_OK);
    assert_int_equal(out.len, 47);
    assert_memory_equal(out.buf + 39, "data: \n\n", 8);

    /* all or nothing */

    out.size = out.len + 9;

    assert_int_equal(llm_stream_data(&out, "123", 3), LLM_ERROR);
    assert_int_equal(out.len, 47);

    assert_int_equal(llm_stream_data(&out, "1", 1), LLM_OK);
    assert_int_equal(out.len, 56);
    assert_memory_equal(out.buf + 47, "data: 1\n\n", 9);
}


static void
test_stream_finish(void **state)
{
    test_ctx_t       *ctx;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    test_out(ctx, &out, 4096);

    /* nothing went out: the finish chunk, "stop" */

    test_st(&st, 0);

    assert_int_equal(llm_stream_finish(&st, &out), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'stop'}]}\n\n" DONE);

    assert_int_equal(st.finished, 1);

    /* the reason the decoder recorded */

    test_st(&st, 0);
    st.finish_reason = "length";
    out.len = 0;

    assert_int_equal(llm_stream_finish(&st, &out), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'length'}]}\n\n" DONE);

    /* already finished: [DONE] alone */

    out.len = 0;

    assert_int_equal(llm_stream_finish(&st, &out), LLM_OK);

    test_out_expect(ctx, &out, DONE);

    /* usage when the client asked, once */

    test_st(&st, 1);
    st.usage.prompt_tokens = 3;
    st.usage.completion_tokens = 4;
    out.len = 0;

    assert_int_equal(llm_stream_finish(&st, &out), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'stop'}]}\n\n"
        HEAD "'choices':[],'usage':{'prompt_tokens':3,"
        "'completion_tokens':4,'total_tokens':7}}\n\n" DONE);

    assert_int_equal(st.usage_sent, 1);

    out.len = 0;

    assert_int_equal(llm_stream_finish(&st, &out), LLM_OK);

    test_out_expect(ctx, &out, DONE);

    /* asked, but the provider reported nothing: no usage chunk at all */

    test_st(&st, 1);
    out.len = 0;

    assert_int_equal(llm_stream_finish(&st, &out), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'stop'}]}\n\n" DONE);

    assert_int_equal(st.usage_sent, 0);

    /* counts other than the two do not make usage reported */

    test_st(&st, 1);
    st.usage.total_tokens = 12;
    st.usage.cached_tokens = 3;
    out.len = 0;

    assert_int_equal(llm_stream_finish(&st, &out), LLM_OK);
    assert_int_equal(st.usage_sent, 0);

    /* one of the two reported: the other renders 0 */

    test_st(&st, 1);
    st.usage.completion_tokens = 4;
    out.len = 0;

    assert_int_equal(llm_stream_finish(&st, &out), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'stop'}]}\n\n"
        HEAD "'choices':[],'usage':{'prompt_tokens':0,"
        "'completion_tokens':4,'total_tokens':4}}\n\n" DONE);

    test_st(&st, 1);
    st.usage.prompt_tokens = 0;
    out.len = 0;

    assert_int_equal(llm_stream_finish(&st, &out), LLM_OK);

    test_out_expect(ctx, &out,
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'stop'}]}\n\n"
        HEAD "'choices':[],'usage':{'prompt_tokens':0,"
        "'completion_tokens':0,'total_tokens':0}}\n\n" DONE);
}


/* all or nothing, the state included */

static void
test_stream_finish_full(void **state)
{
    char             *want;
    size_t            need, size, i;
    test_ctx_t       *ctx;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    test_out(ctx, &out, 4096);

    test_st(&st, 1);
    assert_int_equal(llm_stream_finish(&st, &out), LLM_OK);

    need = out.len;
    want = test_cstr(ctx, out.buf, out.len);

    for (size = 0; size < need; size++) {
        test_st(&st, 1);

        for (i = 0; i < 2; i++) {
            out.size = size;
            out.len = 0;

            assert_int_equal(llm_stream_finish(&st, &out), LLM_ERROR);
            assert_int_equal(out.len, 0);
            assert_int_equal(st.finished, 0);
            assert_int_equal(st.usage_sent, 0);
            assert_null(st.finish_reason);
        }

        out.size = 4096;

        assert_int_equal(llm_stream_finish(&st, &out), LLM_OK);
        assert_int_equal(out.len, need);
        assert_memory_equal(out.buf, want, need);
    }
}


static void
test_stream_fail(void **state)
{
    test_ctx_t       *ctx;
    llm_error_t       err;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    test_st(&st, 1);
    test_out(ctx, &out, 4096);

    llm_error_set(&err, 502, "server_error", NULL, "overloaded",
                  "Boom \"q\"\n");

    assert_int_equal(llm_stream_fail(&st, &err, &out), LLM_OK);

    test_out_expect(ctx, &out,
        "data: {'error':{'message':'Boom \\'q\\'\\n','type':'server_error',"
        "'param':null,'code':'overloaded'}}\n\n" DONE);

    test_check_error_json(out.buf + 6, out.len - 6 - 2 - TEST_LEN(DONE),
                          "server_error", NULL, "overloaded", "Boom \"q\"\n");

    /* a NULL type is api_error */

    out.len = 0;
    llm_error_set(&err, 502, NULL, "p", NULL, "x");

    assert_int_equal(llm_stream_fail(&st, &err, &out), LLM_OK);

    test_out_expect(ctx, &out,
        "data: {'error':{'message':'x','type':'api_error','param':'p',"
        "'code':null}}\n\n" DONE);
}


static void
test_stream_fail_full(void **state)
{
    size_t            need, size;
    test_ctx_t       *ctx;
    llm_error_t       err;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    test_st(&st, 0);
    test_out(ctx, &out, 4096);

    /* a message without its NUL is read up to the end of the array */

    llm_error_set(&err, 502, "server_error", NULL, NULL, "m");
    memset(err.message, 'm', sizeof(err.message));

    assert_int_equal(llm_stream_fail(&st, &err, &out), LLM_OK);

    need = out.len;

    assert_int_equal(need, TEST_LEN("data: {'error':{'message':'','type':"
                                    "'server_error','param':null,"
                                    "'code':null}}\n\n" DONE)
                           + sizeof(err.message));

    for (size = 0; size < need; size++) {
        out.size = size;
        out.len = 0;

        assert_int_equal(llm_stream_fail(&st, &err, &out), LLM_ERROR);
        assert_int_equal(out.len, 0);
    }
}


/* the glue, in short: framer, stream_event, then finish or fail */

static int
test_run_event(void *data, const llm_sse_event_t *ev)
{
    test_run_t  *run;

    run = data;

    if (run->rc == LLM_DONE) {
        run->after_done++;
        return LLM_OK;
    }

    run->nevents++;

    run->rc = run->adapter->stream_event(&run->st, ev, &run->out,
                                         &run->err);

    if (run->rc == LLM_ERROR) {
        return LLM_ERROR;
    }

    assert_true(run->rc == LLM_OK || run->rc == LLM_DONE);

    return LLM_OK;
}


static void
test_run(test_ctx_t *ctx, const llm_adapter_t *ad, const char *text,
    int include_usage, size_t step, unsigned seed, test_run_t *run)
{
    int              rc;
    char            *buf;
    size_t           len, off, n;
    llm_sse_t        sse;
    llm_request_t    req;
    llm_provider_t   p;

    memset(run, 0, sizeof(test_run_t));
    memset(&req, 0, sizeof(llm_request_t));
    memset(&p, 0, sizeof(llm_provider_t));

    req.model = "client-model";
    req.stream = 1;
    req.include_usage = include_usage;

    run->adapter = ad;

    llm_stream_init(&run->st, &req, &p, TEST_CREATED);

    test_out(ctx, &run->out, TEST_OUT);

    buf = test_copy(ctx, NULL, 4096);
    llm_sse_init(&sse, buf, 4096);

    srand(seed);

    len = strlen(text);
    rc = LLM_OK;

    for (off = 0; off < len; off += n) {
        n = (step == 0) ? len : (step == (size_t) -1) ? (size_t) rand() % 64
                                                      : step;

        if (n > len - off) {
            n = len - off;
        }

        rc = llm_sse_feed(&sse, text + off, n, test_run_event, run);

        if (rc != LLM_OK) {
            break;
        }
    }

    if (rc == LLM_OK) {
        assert_int_equal(llm_stream_finish(&run->st, &run->out), LLM_OK);

    } else {
        assert_int_equal(run->rc, LLM_ERROR);
        assert_int_equal(llm_stream_fail(&run->st, &run->err, &run->out),
                         LLM_OK);
    }

    test_out_events(run->out.buf, run->out.len);
}


/* the same output whole, a byte at a time and in random splits */

static void
test_run_expect(test_ctx_t *ctx, const llm_adapter_t *ad, const char *text,
    int include_usage, const char *want)
{
    size_t       step;
    unsigned     seed;
    test_run_t  *run;

    want = test_q(ctx, want);

    run = (test_run_t *) test_copy(ctx, NULL, sizeof(test_run_t));

    for (step = 0; step < 3; step++) {
        test_run(ctx, ad, text, include_usage, step, 0, run);
        assert_string_equal(test_cstr(ctx, run->out.buf, run->out.len),
                            want);
    }

    for (seed = 1; seed <= TEST_SEEDS; seed++) {
        test_run(ctx, ad, text, include_usage, (size_t) -1, seed, run);
        assert_string_equal(test_cstr(ctx, run->out.buf, run->out.len),
                            want);
    }
}


/* one event's data through stream_event */

static int
test_event(test_ctx_t *ctx, const llm_adapter_t *ad, llm_stream_t *st,
    const char *data, llm_stream_out_t *out, llm_error_t *err)
{
    llm_sse_event_t  ev;

    ev.event = "";
    ev.event_len = 0;
    ev.data = test_q(ctx, data);
    ev.data_len = strlen(ev.data);

    memset(err, 0, sizeof(llm_error_t));

    return ad->stream_event(st, &ev, out, err);
}


static void
test_event_invalid(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *data)
{
    llm_error_t       err;
    llm_stream_t      st;
    llm_stream_out_t  out;

    test_st(&st, 1);
    test_out(ctx, &out, 4096);

    out.len = 3;

    if (test_event(ctx, ad, &st, data, &out, &err) != LLM_ERROR) {
        fail_msg("accepted: %s", data);
    }

    assert_int_equal(out.len, 3);
    assert_int_equal(err.status, 502);
    assert_string_equal(err.type, "api_error");
    assert_string_equal(err.code, "invalid_provider_response");
    assert_int_equal(st.started, 0);
    assert_int_equal(st.finished, 0);
}


/* the client did not ask for usage: the usage chunk is dropped */

static void
test_openai_stream_vector(void **state)
{
    test_ctx_t  *ctx;
    test_run_t  *run;

    ctx = *state;

    test_run_expect(ctx, &llm_openai_adapter, test_openai_vector, 0,
        "data: {'id':'chatcmpl-t2','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'gpt-4o-mini','choices':[{'index':0,"
        "'delta':{'role':'assistant','content':''},'finish_reason':null}],"
        "'usage':null}\n\n"
        "data: {'id':'chatcmpl-t2','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'gpt-4o-mini','choices':[{'index':0,"
        "'delta':{'content':'Hi'},'finish_reason':null}],'usage':null}\n\n"
        "data: {'id':'chatcmpl-t2','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'gpt-4o-mini','choices':[{'index':0,"
        "'delta':{},'finish_reason':'stop'}],'usage':null}\n\n" DONE);

    run = (test_run_t *) test_copy(ctx, NULL, sizeof(test_run_t));
    test_run(ctx, &llm_openai_adapter, test_openai_vector, 0, 0, 0, run);

    assert_int_equal(run->rc, LLM_DONE);
    assert_int_equal(run->nevents, 5);
    assert_int_equal(run->st.done, 1);
    assert_int_equal(run->st.started, 1);
    assert_int_equal(run->st.finished, 1);
    assert_string_equal(run->st.finish_reason, "stop");
    assert_string_equal(run->st.id, "chatcmpl-t2");
    assert_string_equal(run->st.model, "gpt-4o-mini");
    assert_int_equal(run->st.usage_sent, 0);
    assert_true(run->st.usage.prompt_tokens == 9);
    assert_true(run->st.usage.completion_tokens == 1);
    assert_true(run->st.usage.total_tokens == 10);
    assert_true(run->st.usage.cached_tokens == -1);
    assert_true(run->st.usage.reasoning_tokens == -1);
}


/* the client asked for usage: the stream is the provider's, as is */

static void
test_openai_stream_vector_usage(void **state)
{
    test_ctx_t  *ctx;
    test_run_t  *run;

    ctx = *state;

    run = (test_run_t *) test_copy(ctx, NULL, sizeof(test_run_t));
    test_run(ctx, &llm_openai_adapter, test_openai_vector, 1, 0, 0, run);

    assert_int_equal(run->st.usage_sent, 1);
    assert_int_equal(run->out.len, strlen(test_openai_vector));
    assert_memory_equal(run->out.buf, test_openai_vector, run->out.len);

    test_run_expect(ctx, &llm_openai_adapter, test_openai_vector, 1,
                    test_openai_vector);
}


/*
 * tool call deltas relayed; no usage upstream: no usage chunk even when
 * asked (not reported is not 0)
 */

static void
test_openai_stream_tools(void **state)
{
    char        *want;
    size_t       len;
    test_ctx_t  *ctx;
    test_run_t  *run;

    ctx = *state;

    len = strlen(test_openai_tools);
    want = test_copy(ctx, NULL, len + 1024);

    memcpy(want, test_openai_tools, len);
    memcpy(want + len, DONE, sizeof(DONE));

    test_run_expect(ctx, &llm_openai_adapter, test_openai_tools, 0, want);
    test_run_expect(ctx, &llm_openai_adapter, test_openai_tools, 1, want);

    run = (test_run_t *) test_copy(ctx, NULL, sizeof(test_run_t));
    test_run(ctx, &llm_openai_adapter, test_openai_tools, 1, 0, 0, run);

    assert_int_equal(run->st.usage_sent, 0);
    assert_int_equal(llm_usage_known(&run->st.usage), 0);
    assert_true(run->st.usage.prompt_tokens == -1);
    assert_true(run->st.usage.completion_tokens == -1);
    assert_true(run->st.usage.total_tokens == -1);
}


/* cut before the finish: the finish chunk made with the provider's id */

static void
test_openai_stream_cut(void **state)
{
    char        *text;
    const char  *third;
    test_ctx_t  *ctx;

    ctx = *state;

    text = test_cstr(ctx, test_openai_vector, strlen(test_openai_vector));

    /* the first two events only */

    third = strstr(strstr(text, "\n\ndata: ") + 2, "\n\ndata: ");
    assert_non_null(third);
    text[third - text + 2] = '\0';

    test_run_expect(ctx, &llm_openai_adapter, text, 0,
        "data: {'id':'chatcmpl-t2','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'gpt-4o-mini','choices':[{'index':0,"
        "'delta':{'role':'assistant','content':''},'finish_reason':null}],"
        "'usage':null}\n\n"
        "data: {'id':'chatcmpl-t2','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'gpt-4o-mini','choices':[{'index':0,"
        "'delta':{'content':'Hi'},'finish_reason':null}],'usage':null}\n\n"
        "data: {'id':'chatcmpl-t2','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'gpt-4o-mini','choices':[{'index':0,"
        "'delta':{},'logprobs':null,'finish_reason':'stop'}]}\n\n" DONE);
}


/* a Mistral tool call without "type" gets OpenAI's "type":"function" */

static void
test_mistral_stream_tool_type(void **state)
{
    test_ctx_t       *ctx;
    llm_error_t       err;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    test_st(&st, 0);
    test_out(ctx, &out, 4096);

    assert_int_equal(test_event(ctx, &llm_mistral_adapter, &st,
        "{'id':'m1','choices':[{'index':0,'delta':{'tool_calls':[{'id':"
        "'a1B2c3D4e','function':{'name':'f','arguments':'{}'},"
        "'index':0}]},'finish_reason':null}]}", &out, &err), LLM_OK);

    out.buf[out.len] = '\0';
    assert_non_null(strstr(out.buf, "\"index\":0,\"type\":\"function\"}"));

    /* one that has it is relayed as it came */

    out.len = 0;

    assert_int_equal(test_event(ctx, &llm_mistral_adapter, &st,
        "{'id':'m1','choices':[{'index':0,'delta':{'tool_calls':[{'id':"
        "'a1B2c3D4e','type':'function','function':{'name':'f',"
        "'arguments':'{}'},'index':0}]},'finish_reason':null}]}", &out,
        &err), LLM_OK);

    out.buf[out.len] = '\0';
    assert_non_null(strstr(out.buf,
                           "\"id\":\"a1B2c3D4e\",\"type\":\"function\""));
}


static void
test_openai_stream_done(void **state)
{
    test_ctx_t       *ctx;
    llm_error_t       err;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    test_st(&st, 1);
    test_out(ctx, &out, 64);

    assert_int_equal(test_event(ctx, &llm_openai_adapter, &st, "[DONE]",
                                &out, &err), LLM_DONE);
    assert_int_equal(out.len, 0);
    assert_int_equal(st.done, 1);

    assert_int_equal(test_event(ctx, &llm_mistral_adapter, &st, "[DONE]",
                                &out, &err), LLM_DONE);
    assert_int_equal(out.len, 0);

    /* not quite */

    test_event_invalid(ctx, &llm_openai_adapter, "[DONE] ");
    test_event_invalid(ctx, &llm_openai_adapter, "[DONE");
    test_event_invalid(ctx, &llm_openai_adapter, "");
}


static void
test_openai_stream_error(void **state)
{
    test_ctx_t  *ctx;
    test_run_t  *run;

    ctx = *state;

    test_run_expect(ctx, &llm_openai_adapter,
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\","
        "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
        "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
        "\"finish_reason\":null}]}\n\n"
        "data: {\"error\":{\"message\":\"The server had an error\","
        "\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n"
        "data: {\"id\":\"c\",\"choices\":[]}\n\n",
        1,
        "data: {'id':'c','object':'chat.completion.chunk',"
        "'created':1,'model':'m','choices':[{'index':0,"
        "'delta':{'role':'assistant','content':''},"
        "'finish_reason':null}]}\n\n"
        "data: {'error':{'message':'The server had an error',"
        "'type':'server_error','param':null,'code':null}}\n\n" DONE);

    run = (test_run_t *) test_copy(ctx, NULL, sizeof(test_run_t));

    test_run(ctx, &llm_openai_adapter,
             "data: {\"error\":{\"message\":\"Rate limit\","
             "\"type\":\"tokens\",\"param\":\"x\","
             "\"code\":\"rate_limit_exceeded\"}}\n\n", 0, 0, 0, run);

    assert_int_equal(run->rc, LLM_ERROR);
    assert_int_equal(run->err.status, 502);
    assert_string_equal(run->err.type, "tokens");
    assert_null(run->err.param);
    assert_string_equal(run->err.code, "rate_limit_exceeded");
    assert_string_equal(run->err.message, "Rate limit");
}


/* types and codes that are not OpenAI's do not reach the client */

static void
test_openai_stream_error_shapes(void **state)
{
    size_t            i;
    test_ctx_t       *ctx;
    llm_error_t       err;
    llm_stream_t      st;
    llm_stream_out_t  out;

    static const struct {
        const char  *data;
        const char  *type;
        const char  *code;
        const char  *message;
    }  tests[] = {
        { "{'error':{'message':'m','type':'weird','code':'odd'}}",
          "server_error", NULL, "m" },
        { "{'error':{'type':'invalid_request_error',"
          "'code':'context_length_exceeded'}}",
          "invalid_request_error", "context_length_exceeded",
          "The provider reported an error during the stream" },
        { "{'error':{'message':'','code':1}}", "server_error", NULL,
          "The provider reported an error during the stream" },
        { "{'error':'boom'}", "server_error", NULL, "boom" },
        { "{'error':true}", "server_error", NULL,
          "The provider reported an error during the stream" },
        { "{'object':'error','message':'Rate limit exceeded',"
          "'type':'rate_limited','param':null,'code':'1300'}",
          "server_error", NULL, "Rate limit exceeded" },
        { "{'error':{'message':'x'},'choices':[{'index':0}]}",
          "server_error", NULL, "x" }
    };

    ctx = *state;

    test_out(ctx, &out, 4096);

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        test_st(&st, 0);
        out.len = 0;

        assert_int_equal(test_event(ctx, &llm_openai_adapter, &st,
                                    tests[i].data, &out, &err),
                         LLM_ERROR);
        assert_int_equal(out.len, 0);
        assert_int_equal(err.status, 502);
        assert_string_equal(err.type, tests[i].type);
        assert_null(err.param);

        if (tests[i].code == NULL) {
            assert_null(err.code);

        } else {
            assert_string_equal(err.code, tests[i].code);
        }

        assert_string_equal(err.message, tests[i].message);

        /* the same for Mistral */

        assert_int_equal(test_event(ctx, &llm_mistral_adapter, &st,
                                    tests[i].data, &out, &err),
                         LLM_ERROR);
        assert_string_equal(err.message, tests[i].message);
    }

    /* "error":null is no error */

    test_st(&st, 0);

    assert_int_equal(test_event(ctx, &llm_openai_adapter, &st,
                                "{'error':null,'choices':[]}", &out, &err),
                     LLM_OK);
}


static void
test_openai_stream_invalid(void **state)
{
    size_t       i;
    test_ctx_t  *ctx;

    static const char  *const tests[] = {
        "not json",
        "{'choices':[]",
        "[1]",
        "'x'",
        "{}",
        "{'id':'x'}",
        "{'choices':{}}",
        "{'choices':null}",
        "{'choices':[1]}",
        "{'choices':[{'finish_reason':'weird'}]}",
        "{'choices':[{'finish_reason':1}]}",
        "{'choices':[{'finish_reason':'model_length'}]}",
        "{'choices':[{'finish_reason':'error'}]}",
        "{'choices':[{'finish_reason':''}]}",
        "{'choices':[],'usage':1}",
        "{'choices':[],'usage':[]}",
        "{'choices':[]} x",
        "{'choices':[],'a':'\xff'}"
    };

    ctx = *state;

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        test_event_invalid(ctx, &llm_openai_adapter, tests[i]);

        if (i != 11 && i != 12) {
            test_event_invalid(ctx, &llm_mistral_adapter, tests[i]);
        }
    }
}


/* data on several lines is relayed on one */

static void
test_openai_stream_multiline(void **state)
{
    test_run_expect(*state, &llm_openai_adapter,
        "data: {\"id\":\"c\",\n"
        "data: \"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}\n"
        "data: ]}\n\n"
        "data: [DONE]\n\n", 0,
        "data: {'id':'c', 'choices':[{'index':0,'delta':{'role':'assistant'}}"
        " ]}\n\n"
        "data: {'id':'c','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'client-model','choices':[{'index':0,"
        "'delta':{},'logprobs':null,'finish_reason':'stop'}]}\n\n" DONE);
}


static void
test_openai_stream_usage_details(void **state)
{
    test_ctx_t       *ctx;
    llm_error_t       err;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    test_st(&st, 0);
    test_out(ctx, &out, 4096);

    assert_int_equal(test_event(ctx, &llm_openai_adapter, &st,
        "{'id':'x','choices':[],'usage':{'prompt_tokens':52,"
        "'completion_tokens':15,'total_tokens':67,"
        "'prompt_tokens_details':{'cached_tokens':3},"
        "'completion_tokens_details':{'reasoning_tokens':4}}}",
        &out, &err), LLM_OK);

    assert_int_equal(out.len, 0);
    assert_true(st.usage.prompt_tokens == 52);
    assert_true(st.usage.completion_tokens == 15);
    assert_true(st.usage.total_tokens == 67);
    assert_true(st.usage.cached_tokens == 3);
    assert_true(st.usage.reasoning_tokens == 4);

    /* the last report wins; what is missing is -1, a total the sum */

    assert_int_equal(test_event(ctx, &llm_openai_adapter, &st,
        "{'choices':[],'usage':{'prompt_tokens':5,'completion_tokens':-1,"
        "'prompt_tokens_details':null}}", &out, &err), LLM_OK);

    assert_true(st.usage.prompt_tokens == 5);
    assert_true(st.usage.completion_tokens == -1);
    assert_true(st.usage.total_tokens == 5);
    assert_true(st.usage.cache_write_tokens == -1);
    assert_true(st.usage.cached_tokens == -1);
    assert_true(st.usage.reasoning_tokens == -1);

    /* usage:null is no report; usage in a chunk with choices counts */

    assert_int_equal(test_event(ctx, &llm_openai_adapter, &st,
        "{'choices':[],'usage':null}", &out, &err), LLM_OK);
    assert_true(st.usage.prompt_tokens == 5);
    assert_int_equal(out.len, TEST_LEN("data: {'choices':[],'usage':null}"
                                       "\n\n"));

    assert_int_equal(test_event(ctx, &llm_openai_adapter, &st,
        "{'choices':[{'index':0,'delta':{}}],'usage':{'prompt_tokens':6}}",
        &out, &err), LLM_OK);
    assert_true(st.usage.prompt_tokens == 6);
    assert_int_equal(st.usage_sent, 0);
}


/* out full: LLM_ERROR, nothing written, nothing recorded */

static void
test_openai_stream_full(void **state)
{
    size_t            size, need;
    test_ctx_t       *ctx;
    const char       *data;
    llm_error_t       err;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    data = "{'id':'c','choices':[{'index':0,'delta':{'role':'assistant'},"
           "'finish_reason':'length'}]}";

    need = strlen(data) + 8;

    test_out(ctx, &out, need);

    for (size = 0; size < need; size++) {
        test_st(&st, 0);

        out.size = size;
        out.len = 0;

        assert_int_equal(test_event(ctx, &llm_openai_adapter, &st, data,
                                    &out, &err), LLM_ERROR);
        assert_int_equal(out.len, 0);
        assert_int_equal(err.status, 500);
        assert_int_equal(st.started, 0);
        assert_int_equal(st.finished, 0);
    }

    out.size = need;

    assert_int_equal(test_event(ctx, &llm_openai_adapter, &st, data, &out,
                                &err), LLM_OK);
    assert_int_equal(out.len, need);
    assert_int_equal(st.started, 1);
    assert_int_equal(st.finished, 1);
    assert_string_equal(st.finish_reason, "length");

    /* the usage chunk relayed for a client that asked */

    data = "{'choices':[],'usage':{'prompt_tokens':1}}";
    need = strlen(data) + 8;

    for (size = 0; size < need; size++) {
        test_st(&st, 1);

        out.size = size;
        out.len = 0;

        assert_int_equal(test_event(ctx, &llm_openai_adapter, &st, data,
                                    &out, &err), LLM_ERROR);
        assert_int_equal(out.len, 0);
        assert_int_equal(st.usage_sent, 0);
    }
}


/* the client did not ask for usage: stripped from the final chunk */

static void
test_mistral_stream_vector(void **state)
{
    test_ctx_t  *ctx;
    test_run_t  *run;

    ctx = *state;

    test_run_expect(ctx, &llm_mistral_adapter, test_mistral_vector, 0,
        "data: {'id':'9f1c-t2','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'mistral-small-latest','choices':"
        "[{'logprobs':null,'index':0,'delta':{'role':'assistant',"
        "'content':''},'finish_reason':null}]}\n\n"
        "data: {'id':'9f1c-t2','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'mistral-small-latest','choices':"
        "[{'index':0,'delta':{'content':'4 \xc2\xb0" "C'},"
        "'finish_reason':'stop','logprobs':null}]}\n\n" DONE);

    run = (test_run_t *) test_copy(ctx, NULL, sizeof(test_run_t));
    test_run(ctx, &llm_mistral_adapter, test_mistral_vector, 0, 1, 0, run);

    assert_int_equal(run->rc, LLM_DONE);
    assert_int_equal(run->st.finished, 1);
    assert_string_equal(run->st.finish_reason, "stop");
    assert_string_equal(run->st.id, "9f1c-t2");
    assert_string_equal(run->st.model, "mistral-small-latest");
    assert_true(run->st.usage.prompt_tokens == 21);
    assert_true(run->st.usage.completion_tokens == 3);
    assert_true(run->st.usage.total_tokens == 24);
}


/* the client asked: the final chunk split in two */

static void
test_mistral_stream_vector_usage(void **state)
{
    test_ctx_t  *ctx;
    test_run_t  *run;

    ctx = *state;

    test_run_expect(ctx, &llm_mistral_adapter, test_mistral_vector, 1,
        "data: {'id':'9f1c-t2','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'mistral-small-latest','choices':"
        "[{'logprobs':null,'index':0,'delta':{'role':'assistant',"
        "'content':''},'finish_reason':null}]}\n\n"
        "data: {'id':'9f1c-t2','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'mistral-small-latest','choices':"
        "[{'index':0,'delta':{'content':'4 \xc2\xb0" "C'},"
        "'finish_reason':'stop','logprobs':null}]}\n\n"
        "data: {'id':'9f1c-t2','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'mistral-small-latest','choices':[],"
        "'usage':{'prompt_tokens':21,'completion_tokens':3,"
        "'total_tokens':24}}\n\n" DONE);

    run = (test_run_t *) test_copy(ctx, NULL, sizeof(test_run_t));
    test_run(ctx, &llm_mistral_adapter, test_mistral_vector, 1, 0, 0, run);

    assert_int_equal(run->st.usage_sent, 1);
}


static void
test_mistral_stream_model_length(void **state)
{
    test_ctx_t       *ctx;
    llm_error_t       err;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    test_st(&st, 0);
    test_out(ctx, &out, 4096);

    assert_int_equal(test_event(ctx, &llm_mistral_adapter, &st,
        "{ 'id' : 'x', 'choices' : [ { 'index' : 0, 'delta' : { 'content' :"
        " 'a' }, 'finish_reason' : 'model_length' } ] }", &out, &err),
        LLM_OK);

    test_out_expect(ctx, &out,
        "data: {'id':'x','choices':[{'index':0,'delta':{'content':'a'},"
        "'finish_reason':'length','logprobs':null}]}\n\n");

    assert_int_equal(st.finished, 1);
    assert_string_equal(st.finish_reason, "length");

    /* anything else goes as it came, "logprobs" inserted */

    out.len = 0;

    assert_int_equal(test_event(ctx, &llm_mistral_adapter, &st,
        "{ 'id' : 'x', 'choices' : [ { 'finish_reason' : 'tool_calls' } ] }",
        &out, &err), LLM_OK);

    test_out_expect(ctx, &out,
        "data: { 'id' : 'x', 'choices' : [ {'logprobs':null, "
        "'finish_reason' : 'tool_calls' } ] }\n\n");

    assert_string_equal(st.finish_reason, "tool_calls");
}


static void
test_mistral_stream_errors(void **state)
{
    test_ctx_t       *ctx;
    llm_error_t       err;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    test_st(&st, 0);
    test_out(ctx, &out, 4096);

    assert_int_equal(test_event(ctx, &llm_mistral_adapter, &st,
        "{'id':'x','choices':[{'index':0,'delta':{'content':'a'},"
        "'finish_reason':'error'}],'usage':{'prompt_tokens':1}}",
        &out, &err), LLM_ERROR);

    assert_int_equal(out.len, 0);
    assert_int_equal(err.status, 502);
    assert_string_equal(err.type, "server_error");
    assert_int_equal(st.finished, 0);

    test_run_expect(ctx, &llm_mistral_adapter,
        "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"role\":\"assistant\"}}]}\n\n"
        "data: {\"object\":\"error\",\"message\":\"Service unavailable\","
        "\"type\":\"internal_error\",\"param\":null,\"code\":\"1000\"}\n\n",
        1,
        "data: {'id':'x','choices':[{'logprobs':null,'index':0,'delta':"
        "{'role':'assistant'}}]}\n\n"
        "data: {'error':{'message':'Service unavailable',"
        "'type':'server_error','param':null,'code':null}}\n\n" DONE);
}


/* usage before the final chunk: stripped, and sent by finish */

static void
test_mistral_stream_usage_early(void **state)
{
    test_run_expect(*state, &llm_mistral_adapter,
        "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"role\":\"assistant\"}}],\"usage\":{\"prompt_tokens\":2}}\n\n"
        "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"content\":\"a\"}}],\"usage\":{\"prompt_tokens\":3,"
        "\"completion_tokens\":1}}\n\n"
        "data: [DONE]\n\n",
        1,
        "data: {'id':'x','choices':[{'index':0,'delta':"
        "{'role':'assistant'},'logprobs':null}]}\n\n"
        "data: {'id':'x','choices':[{'index':0,'delta':"
        "{'content':'a'},'logprobs':null}]}\n\n"
        "data: {'id':'x','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'client-model','choices':[{'index':0,"
        "'delta':{},'logprobs':null,'finish_reason':'stop'}]}\n\n"
        "data: {'id':'x','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'client-model','choices':[],"
        "'usage':{'prompt_tokens':3,'completion_tokens':1,"
        "'total_tokens':4}}\n\n" DONE);
}


/* one usage chunk reaches the client, however many the provider sends */

static void
test_openai_stream_usage_once(void **state)
{
    test_run_expect(*state, &llm_openai_adapter,
        "data: {\"id\":\"x\",\"choices\":[],\"usage\":"
        "{\"prompt_tokens\":2}}\n\n"
        "data: {\"id\":\"x\",\"choices\":[],\"usage\":"
        "{\"prompt_tokens\":3}}\n\n"
        "data: [DONE]\n\n",
        1,
        "data: {'id':'x','choices':[],'usage':{'prompt_tokens':2}}\n\n"
        "data: {'id':'x','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'client-model','choices':[{'index':0,"
        "'delta':{},'logprobs':null,'finish_reason':'stop'}]}\n\n" DONE);
}


/* the split chunk is all or nothing */

static void
test_mistral_stream_full(void **state)
{
    size_t            size, need;
    test_ctx_t       *ctx;
    const char       *data;
    llm_error_t       err;
    llm_stream_t      st;
    llm_stream_out_t  out;

    ctx = *state;

    data = "{'id':'x','choices':[{'index':0,'delta':{},"
           "'finish_reason':'stop'}],'usage':{'prompt_tokens':1,"
           "'completion_tokens':2,'total_tokens':3}}";

    test_out(ctx, &out, 4096);

    test_st(&st, 1);
    assert_int_equal(test_event(ctx, &llm_mistral_adapter, &st, data, &out,
                                &err), LLM_OK);

    need = out.len;

    test_out_expect(ctx, &out,
        "data: {'id':'x','choices':[{'index':0,'delta':{},"
        "'finish_reason':'stop','logprobs':null}]}\n\n"
        "data: {'id':'x','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'m-1','choices':[],"
        "'usage':{'prompt_tokens':1,'completion_tokens':2,"
        "'total_tokens':3}}\n\n");

    for (size = 0; size < need; size++) {
        test_st(&st, 1);

        out.size = size;
        out.len = 0;

        assert_int_equal(test_event(ctx, &llm_mistral_adapter, &st, data,
                                    &out, &err), LLM_ERROR);
        assert_int_equal(out.len, 0);
        assert_int_equal(err.status, 500);
        assert_int_equal(st.finished, 0);
        assert_int_equal(st.usage_sent, 0);
    }
}


static void
test_stream_adapters(void **state)
{
    (void) state;

    assert_ptr_equal(llm_openai_adapter.stream_event,
                     llm_openai_stream_event);
    assert_ptr_equal(llm_mistral_adapter.stream_event,
                     llm_mistral_stream_event);
}


static void
test_encode_usage(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *json, const char *model, const char *want)
{
    int                  rc;
    char                *body;
    size_t               len;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    json = test_q(ctx, json);
    len = strlen(json);
    body = test_copy(ctx, json, len);

    if (llm_request_parse(&req, body, len, &err) != LLM_OK) {
        fail_msg("rejected: %s", err.message);
    }

    memset(&p, 0, sizeof(llm_provider_t));
    p.name = "test";
    p.model = model;
    p.api_key = TEST_KEY;
    p.base_path = "/v1";

    rc = ad->encode(&req, &p, &ctx->pool, &out, &err);

    llm_request_free(&req);

    if (rc != LLM_OK) {
        fail_msg("encode failed: %s", err.message);
    }

    if (want == NULL) {
        /* the lean passthrough */
        assert_ptr_equal(out.body, body);
        assert_int_equal(out.body_len, len);
        return;
    }

    want = test_q(ctx, want);

    if (out.body == NULL) {
        /* a rewritten "model" only: in pieces */
        out.body = (char *) llm_http_body(&out, &ctx->pool);
    }

    assert_string_equal(test_cstr(ctx, out.body, out.body_len), want);

    cJSON_Delete(test_json(out.body, out.body_len));
}


static void
test_encode_usage_inserted(void **state)
{
    test_encode_usage(*state, &llm_openai_adapter,
                      "{'model':'gpt-4o'," MSG ",'stream':true}", NULL,
                      "{'model':'gpt-4o'," MSG ",'stream':true,"
                      "'stream_options':{'include_usage':true}}");

    /* right after "stream", whitespace kept */

    test_encode_usage(*state, &llm_openai_adapter,
                      "\n{ 'stream' : true ,\n" MSG " }\n", NULL,
                      "\n{ 'stream' : true,'stream_options':"
                      "{'include_usage':true} ,\n" MSG " }\n");
}


static void
test_encode_usage_replaced(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_encode_usage(ctx, &llm_openai_adapter,
                      "{'stream':true,'stream_options':"
                      "{'include_usage':false}," MSG "}", NULL,
                      "{'stream':true,'stream_options':"
                      "{'include_usage':true}," MSG "}");

    test_encode_usage(ctx, &llm_openai_adapter,
                      "{'stream':true,'stream_options':"
                      "{ 'a' : 1 , 'include_usage' : false }," MSG "}", NULL,
                      "{'stream':true,'stream_options':"
                      "{ 'a' : 1 , 'include_usage' : true }," MSG "}");

    /* null counts as absent: the value is replaced */

    test_encode_usage(ctx, &llm_openai_adapter,
                      "{'stream_options':null,'stream':true," MSG "}", NULL,
                      "{'stream_options':{'include_usage':true},"
                      "'stream':true," MSG "}");

    test_encode_usage(ctx, &llm_openai_adapter,
                      "{'stream':true,'stream_options':{ }," MSG "}", NULL,
                      "{'stream':true,'stream_options':"
                      "{'include_usage':true }," MSG "}");

    /* other options are kept */

    test_encode_usage(ctx, &llm_openai_adapter,
                      "{'stream':true,'stream_options':"
                      "{'include_obfuscation':false}," MSG "}", NULL,
                      "{'stream':true,'stream_options':{'include_usage':true,"
                      "'include_obfuscation':false}," MSG "}");

    test_encode_usage(ctx, &llm_openai_adapter,
                      "{'stream':true,'stream_options':"
                      "{'include_usage':null}," MSG "}", NULL,
                      "{'stream':true,'stream_options':"
                      "{'include_usage':true}," MSG "}");
}


static void
test_encode_usage_left_alone(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    /* the client asked: nothing to do */

    test_encode_usage(ctx, &llm_openai_adapter,
                      "{'stream':true,'stream_options':"
                      "{'include_usage':true}," MSG "}", NULL, NULL);

    /* not a stream */

    test_encode_usage(ctx, &llm_openai_adapter,
                      "{'stream':false,'stream_options':"
                      "{'include_usage':false}," MSG "}", NULL, NULL);
    test_encode_usage(ctx, &llm_openai_adapter, "{" MSG "}", NULL, NULL);
    test_encode_usage(ctx, &llm_openai_adapter,
                      "{'stream':null," MSG "}", NULL, NULL);

    /* a model to set, nothing else */

    test_encode_usage(ctx, &llm_openai_adapter,
                      "{'model':'a','stream':true,'stream_options':"
                      "{'include_usage':true}," MSG "}", "b",
                      "{'model':'b','stream':true,'stream_options':"
                      "{'include_usage':true}," MSG "}");
}


/* both changes in one pass, in either order */

static void
test_encode_usage_model(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_encode_usage(ctx, &llm_openai_adapter,
                      "{'model':'a','stream':true," MSG "}", "gpt-4o-mini",
                      "{'model':'gpt-4o-mini','stream':true,"
                      "'stream_options':{'include_usage':true}," MSG "}");

    test_encode_usage(ctx, &llm_openai_adapter,
                      "{'stream':true," MSG ",'model':'a'}", "b\"",
                      "{'stream':true,'stream_options':"
                      "{'include_usage':true}," MSG ",'model':'b\\''}");

    test_encode_usage(ctx, &llm_openai_adapter,
                      "{'stream_options':{'include_usage':false},"
                      "'stream':true," MSG "}", "m",
                      "{'model':'m','stream_options':{'include_usage':true},"
                      "'stream':true," MSG "}");

    test_encode_usage(ctx, &llm_openai_adapter,
                      "{" MSG ",'stream':true,'stream_options':{'x':1},"
                      "'model':'a'}", "m",
                      "{" MSG ",'stream':true,'stream_options':"
                      "{'include_usage':true,'x':1},'model':'m'}");
}


/* Mistral puts usage in its final chunk: no stream_options upstream */

static void
test_encode_usage_mistral(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_encode_usage(ctx, &llm_mistral_adapter,
                      "{'model':'a','stream':true," MSG "}", NULL, NULL);

    test_encode_usage(ctx, &llm_mistral_adapter,
                      "{'model':'a','stream':true,'stream_options':"
                      "{'include_usage':true}," MSG "}", NULL,
                      "{'model':'a','stream':true," MSG "}");
}


static void
test_encode_usage_nomem(void **state)
{
    int                  rc;
    char                *json;
    cJSON               *root;
    size_t               n;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    json = test_q(ctx, "{'stream':true," MSG "}");

    assert_int_equal(llm_request_parse(&req, json, strlen(json), &err),
                     LLM_OK);

    memset(&p, 0, sizeof(llm_provider_t));
    p.name = "p";
    p.api_key = TEST_KEY;
    p.base_path = "/v1";

    for (n = 1; n < 100; n++) {
        ctx->count = 0;
        ctx->fail_at = n;

        rc = llm_openai_adapter.encode(&req, &p, &ctx->pool, &out, &err);

        if (rc == LLM_OK) {
            break;
        }

        assert_int_equal(rc, LLM_ERROR);
        assert_int_equal(err.status, 500);
        assert_string_equal(err.message, "out of memory");
    }

    ctx->fail_at = 0;

    assert_true(n > 2);
    assert_int_equal(rc, LLM_OK);

    /* no request tree: the glue's mistake, a 500 */

    root = req.root;
    req.root = NULL;

    assert_int_equal(llm_openai_adapter.encode(&req, &p, &ctx->pool, &out,
                                               &err),
                     LLM_ERROR);
    assert_int_equal(err.status, 500);

    req.root = root;
    llm_request_free(&req);
}


/*
 * Whether an answer has begun (st->content): the role alone, pings and
 * empty parts do not begin it; text, a tool call or a finish do.  The
 * gateway fails over on an error that comes before it.
 */

#define B_OAI(delta, fin)                                                     \
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","           \
    "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"              \
    "\"delta\":" delta ",\"logprobs\":null,\"finish_reason\":" fin "}]}\n\n"

#define B_ANT(name, json)  "event: " name "\ndata: " json "\n\n"

#define B_ANT_START                                                           \
    B_ANT("message_start", "{\"type\":\"message_start\",\"message\":{"       \
          "\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","     \
          "\"model\":\"claude\",\"content\":[],\"stop_reason\":null,"        \
          "\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}")             \
    B_ANT("ping", "{\"type\":\"ping\"}")                                     \
    B_ANT("content_block_start", "{\"type\":\"content_block_start\","        \
          "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")

#define B_ANT_ERROR                                                           \
    B_ANT("error", "{\"type\":\"error\",\"error\":{\"type\":"                \
          "\"overloaded_error\",\"message\":\"Overloaded\"}}")

#define B_COH(name, json)  "event: " name "\ndata: " json "\n\n"

static void
test_stream_begun_check(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *sse, int rc, int content)
{
    test_stream_run_t  run;

    test_stream_feed(ctx, ad, sse, &run);

    if (run.rc != rc || (int) run.st.content != content) {
        fail_msg("%s: rc %d content %d for %s", ad->name, run.rc,
                 (int) run.st.content, sse);
    }
}


static void
test_stream_begun(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    /* OpenAI and Mistral: relayed chunks */

    test_stream_begun_check(ctx, &llm_openai_adapter,
        B_OAI("{\"role\":\"assistant\",\"content\":\"\"}", "null")
        B_OAI("{\"content\":null,\"tool_calls\":[]}", "null"),
        LLM_OK, 0);

    test_stream_begun_check(ctx, &llm_openai_adapter,
        B_OAI("{\"role\":\"assistant\",\"content\":\"\"}", "null")
        "data: {\"error\":{\"message\":\"overloaded\",\"type\":"
        "\"server_error\"}}\n\n",
        LLM_ERROR, 0);

    test_stream_begun_check(ctx, &llm_openai_adapter,
        B_OAI("{\"role\":\"assistant\",\"content\":\"Hi\"}", "null"),
        LLM_OK, 1);

    test_stream_begun_check(ctx, &llm_openai_adapter,
        B_OAI("{\"reasoning_content\":\"hm\"}", "null"), LLM_OK, 1);

    test_stream_begun_check(ctx, &llm_openai_adapter,
        B_OAI("{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\","
              "\"type\":\"function\",\"function\":{\"name\":\"f\","
              "\"arguments\":\"\"}}]}", "null"),
        LLM_OK, 1);

    test_stream_begun_check(ctx, &llm_openai_adapter,
        B_OAI("{}", "\"stop\""), LLM_OK, 1);

    test_stream_begun_check(ctx, &llm_mistral_adapter,
        B_OAI("{\"role\":\"assistant\",\"content\":\"\"}", "null"),
        LLM_OK, 0);

    test_stream_begun_check(ctx, &llm_mistral_adapter,
        B_OAI("{\"content\":[{\"type\":\"text\",\"text\":\"a\"}]}",
              "null"),
        LLM_OK, 1);

    /* Anthropic: message_start, ping, an empty block, then an error */

    test_stream_begun_check(ctx, &llm_anthropic_adapter, B_ANT_START,
                            LLM_OK, 0);

    test_stream_begun_check(ctx, &llm_anthropic_adapter,
                            B_ANT_START B_ANT_ERROR, LLM_ERROR, 0);

    test_stream_begun_check(ctx, &llm_anthropic_adapter, B_ANT_ERROR,
                            LLM_ERROR, 0);

    test_stream_begun_check(ctx, &llm_anthropic_adapter,
        B_ANT_START
        B_ANT("content_block_delta", "{\"type\":\"content_block_delta\","
              "\"index\":0,\"delta\":{\"type\":\"text_delta\","
              "\"text\":\"Hi\"}}"),
        LLM_OK, 1);

    test_stream_begun_check(ctx, &llm_anthropic_adapter,
        B_ANT("message_start", "{\"type\":\"message_start\",\"message\":{"
              "\"id\":\"msg_1\",\"role\":\"assistant\",\"model\":\"c\","
              "\"content\":[],\"usage\":{\"input_tokens\":5}}}")
        B_ANT("content_block_start", "{\"type\":\"content_block_start\","
              "\"index\":0,\"content_block\":{\"type\":\"tool_use\","
              "\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{}}}"),
        LLM_OK, 1);

    /* Gemini: the first event has the text */

    test_stream_begun_check(ctx, &llm_gemini_adapter,
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
        "\"Hi\"}],\"role\":\"model\"},\"index\":0}]}\n\n",
        LLM_OK, 1);

    test_stream_begun_check(ctx, &llm_gemini_adapter,
        "data: {\"error\":{\"code\":429,\"message\":\"exhausted\","
        "\"status\":\"RESOURCE_EXHAUSTED\"}}\n\n",
        LLM_ERROR, 0);

    /* Cohere: message-start, an empty content part, then text */

    test_stream_begun_check(ctx, &llm_cohere_adapter,
        B_COH("message-start", "{\"id\":\"c1\",\"type\":\"message-start\","
              "\"delta\":{\"message\":{\"role\":\"assistant\"}}}")
        B_COH("content-start", "{\"type\":\"content-start\",\"index\":0,"
              "\"delta\":{\"message\":{\"content\":{\"type\":\"text\","
              "\"text\":\"\"}}}}"),
        LLM_OK, 0);

    test_stream_begun_check(ctx, &llm_cohere_adapter,
        B_COH("message-start", "{\"id\":\"c1\",\"type\":\"message-start\","
              "\"delta\":{\"message\":{\"role\":\"assistant\"}}}")
        B_COH("content-delta", "{\"type\":\"content-delta\",\"index\":0,"
              "\"delta\":{\"message\":{\"content\":{\"text\":\"Hi\"}}}}"),
        LLM_OK, 1);
}


void
test_stream_register(void)
{
    TEST_ADD(test_stream_init);
    TEST_ADD(test_stream_init_model);
    TEST_ADD(test_stream_set);
    TEST_ADD(test_stream_chunk_role);
    TEST_ADD(test_stream_begun);
    TEST_ADD(test_stream_chunk_content);
    TEST_ADD(test_stream_chunk_tools);
    TEST_ADD(test_stream_chunk_finish);
    TEST_ADD(test_stream_chunk_full);
    TEST_ADD(test_stream_usage_chunk);
    TEST_ADD(test_stream_data);
    TEST_ADD(test_stream_finish);
    TEST_ADD(test_stream_finish_full);
    TEST_ADD(test_stream_fail);
    TEST_ADD(test_stream_fail_full);
    TEST_ADD(test_openai_stream_vector);
    TEST_ADD(test_openai_stream_vector_usage);
    TEST_ADD(test_openai_stream_tools);
    TEST_ADD(test_openai_stream_cut);
    TEST_ADD(test_openai_stream_done);
    TEST_ADD(test_openai_stream_error);
    TEST_ADD(test_openai_stream_error_shapes);
    TEST_ADD(test_openai_stream_invalid);
    TEST_ADD(test_openai_stream_multiline);
    TEST_ADD(test_openai_stream_usage_details);
    TEST_ADD(test_openai_stream_full);
    TEST_ADD(test_mistral_stream_vector);
    TEST_ADD(test_mistral_stream_vector_usage);
    TEST_ADD(test_mistral_stream_model_length);
    TEST_ADD(test_mistral_stream_errors);
    TEST_ADD(test_mistral_stream_usage_early);
    TEST_ADD(test_openai_stream_usage_once);
    TEST_ADD(test_mistral_stream_full);
    TEST_ADD(test_mistral_stream_tool_type);
    TEST_ADD(test_stream_adapters);
    TEST_ADD(test_encode_usage_inserted);
    TEST_ADD(test_encode_usage_replaced);
    TEST_ADD(test_encode_usage_left_alone);
    TEST_ADD(test_encode_usage_model);
    TEST_ADD(test_encode_usage_mistral);
    TEST_ADD(test_encode_usage_nomem);
}
