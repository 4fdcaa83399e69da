
/*
 * ngx_http_llm_router_module: tests of the Gemini adapter (encode, decode,
 * error), with the vectors of the provider's API reference.
 *
 * JSON in this file is written with ' for " (test_gm_q() swaps them), so
 * no text here may contain an apostrophe.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"


#define TEST_KEY      "gm-test-SECRET-0123456789"
#define TEST_MODEL    "gemini-2.5-flash"
#define TEST_CREATED  1767225600

#define MSG           "'messages':[{'role':'user','content':'hi'}]"
#define REQ(extra)    "{'model':'" TEST_MODEL "'," MSG extra "}"

#define SIG           "'thoughtSignature':'skip_thought_signature_validator'"

/* the OpenAI side of the request vector of section 3.1 */
#define WEATHER_TOOL                                                          \
    "{'type':'function','function':{'name':'get_weather',"                    \
    "'description':'Current weather','parameters':{'type':'object',"          \
    "'properties':{'city':{'type':'string'}},'required':['city']}}}"

#define WEATHER_DECL                                                          \
    "{'name':'get_weather','description':'Current weather',"                  \
    "'parametersJsonSchema':{'type':'object','properties':{'city':"           \
    "{'type':'string'}},'required':['city']}}"


static char *test_gm_q(test_ctx_t *ctx, const char *s);
static void test_gm_provider(llm_provider_t *p, const char *model);
static int test_gm_run(test_ctx_t *ctx, const char *json,
    const llm_provider_t *p, llm_http_request_t *out, llm_error_t *err);
static cJSON *test_gm_body(test_ctx_t *ctx, const char *json);
static void test_gm_equal(test_ctx_t *ctx, const cJSON *got,
    const char *want);
static void test_gm_expect(test_ctx_t *ctx, const char *json,
    const char *want);
static void test_gm_expect_item(test_ctx_t *ctx, const char *json,
    const char *name, const char *want);
static void test_gm_reject(test_ctx_t *ctx, const char *json, int status,
    const char *param, const char *needle);
static int test_gm_decode_run(test_ctx_t *ctx, const char *answer,
    llm_response_t *out, llm_error_t *err);
static cJSON *test_gm_decode(test_ctx_t *ctx, const char *answer,
    llm_response_t *out);
static void test_gm_decode_expect(test_ctx_t *ctx, const char *answer,
    const char *want);
static void test_gm_decode_reject(test_ctx_t *ctx, const char *answer);
static const char *test_gm_finish(test_ctx_t *ctx, const char *answer);
static void test_gm_error(test_ctx_t *ctx, int status, const char *body,
    int retryable, const char *type, const char *code,
    const char *message);
static void test_gm_hooks(test_ctx_t *ctx, size_t fail_at);

static void test_gemini_vector(void **state);
static void test_gemini_path(void **state);
static void test_gemini_auth(void **state);
static void test_gemini_model(void **state);
static void test_gemini_bad_config(void **state);
static void test_gemini_unparsed(void **state);
static void test_gemini_system(void **state);
static void test_gemini_roles(void **state);
static void test_gemini_merge(void **state);
static void test_gemini_empty(void **state);
static void test_gemini_parallel_calls(void **state);
static void test_gemini_call_lookup(void **state);
static void test_gemini_unknown_call(void **state);
static void test_gemini_arguments(void **state);
static void test_gemini_bad_calls(void **state);
static void test_gemini_tool_results(void **state);
static void test_gemini_images(void **state);
static void test_gemini_bad_parts(void **state);
static void test_gemini_config(void **state);
static void test_gemini_config_default(void **state);
static void test_gemini_response_format(void **state);
static void test_gemini_tools(void **state);
static void test_gemini_tool_choice(void **state);
static void test_gemini_dropped(void **state);
static void test_gemini_not_mutated(void **state);
static void test_gemini_encode_nomem(void **state);
static void test_gemini_encode_cjson_nomem(void **state);
static void test_gemini_decode_vector(void **state);
static void test_gemini_decode_calls(void **state);
static void test_gemini_decode_ids(void **state);
static void test_gemini_decode_no_ids(void **state);
static void test_gemini_decode_thoughts(void **state);
static void test_gemini_decode_cached(void **state);
static void test_gemini_decode_usage(void **state);
static void test_gemini_decode_blocked(void **state);
static void test_gemini_decode_finish(void **state);
static void test_gemini_decode_candidates(void **state);
static void test_gemini_decode_model(void **state);
static void test_gemini_decode_invalid(void **state);
static void test_gemini_decode_nomem(void **state);
static void test_gemini_decode_cjson_nomem(void **state);
static void test_gemini_errors(void **state);
static void test_gemini_error_other_shapes(void **state);
static void test_gemini_error_nomem(void **state);
static long test_gm_retry(test_ctx_t *ctx, const char *delay);
static void test_gemini_retry_info(void **state);


/* a copy of s with every ' made a ", freed at teardown */

static char *
test_gm_q(test_ctx_t *ctx, const char *s)
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


static void
test_gm_provider(llm_provider_t *p, const char *model)
{
    p->name = "gm";
    p->model = model;
    p->api_key = TEST_KEY;
    p->base_path = "/v1beta";
    p->max_tokens = 0;
}


static int
test_gm_run(test_ctx_t *ctx, const char *json, const llm_provider_t *p,
    llm_http_request_t *out, llm_error_t *err)
{
    int             rc;
    char           *body;
    llm_request_t   req;

    body = test_gm_q(ctx, json);

    if (llm_request_parse(&req, body, strlen(body), err) != LLM_OK) {
        fail_msg("rejected by the parser: %s", err->message);
    }

    rc = llm_gemini_adapter.encode(&req, p, &ctx->pool, out, err);

    llm_request_free(&req);

    return rc;
}


/* the encoded body of a request that must be accepted */

static cJSON *
test_gm_body(test_ctx_t *ctx, const char *json)
{
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   out;

    test_gm_provider(&p, NULL);

    if (test_gm_run(ctx, json, &p, &out, &err) != LLM_OK) {
        fail_msg("encode failed: %s", err.message);
    }

    assert_string_equal(out.method, "POST");
    assert_memory_equal(out.path, "/v1beta/models/", 15);
    assert_non_null(strstr(out.path, ":generateContent"));
    assert_int_equal(out.nheaders, 1);
    assert_string_equal(out.headers[0].name, "x-goog-api-key");
    assert_string_equal(out.headers[0].value, TEST_KEY);
    assert_int_equal(out.body[out.body_len], '\0');

    /* the key never goes into the body */
    assert_null(strstr(out.body, "SECRET"));

    return test_json(out.body, out.body_len);
}


static void
test_gm_equal(test_ctx_t *ctx, const cJSON *got, const char *want)
{
    char   *a, *b;
    cJSON  *w;

    w = cJSON_Parse(test_gm_q(ctx, want));
    assert_non_null(w);

    if (!cJSON_Compare(got, w, 1)) {
        a = cJSON_PrintUnformatted(got);
        b = cJSON_PrintUnformatted(w);
        print_error("got:  %s\nwant: %s\n", a, b);
        cJSON_free(a);
        cJSON_free(b);
        cJSON_Delete(w);
        fail();
    }

    cJSON_Delete(w);
}


static void
test_gm_expect(test_ctx_t *ctx, const char *json, const char *want)
{
    cJSON  *body;

    body = test_gm_body(ctx, json);
    test_gm_equal(ctx, body, want);
    cJSON_Delete(body);
}


/* one member of the body; want NULL: the member must be absent */

static void
test_gm_expect_item(test_ctx_t *ctx, const char *json, const char *name,
    const char *want)
{
    cJSON  *body, *item;

    body = test_gm_body(ctx, json);
    item = cJSON_GetObjectItemCaseSensitive(body, name);

    if (want == NULL) {
        if (item != NULL) {
            print_error("'%s' should be absent\n", name);
            cJSON_Delete(body);
            fail();
        }

    } else {
        if (item == NULL) {
            print_error("'%s' is missing\n", name);
            cJSON_Delete(body);
            fail();
        }

        test_gm_equal(ctx, item, want);
    }

    cJSON_Delete(body);
}


static void
test_gm_reject(test_ctx_t *ctx, const char *json, int status,
    const char *param, const char *needle)
{
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   out;

    test_gm_provider(&p, NULL);

    assert_int_equal(test_gm_run(ctx, json, &p, &out, &err), LLM_ERROR);
    assert_int_equal(err.status, status);
    assert_string_equal(err.type, status == 400 ? "invalid_request_error"
                                                : "server_error");

    if (param == NULL) {
        assert_null(err.param);

    } else {
        assert_non_null(err.param);
        assert_string_equal(err.param, param);
    }

    if (strstr(err.message, needle) == NULL) {
        fail_msg("\"%s\" not in \"%s\"", needle, err.message);
    }
}


static void
test_gemini_vector(void **state)
{
    test_gm_expect(*state,
        "{'model':'" TEST_MODEL "','messages':["
        "{'role':'system','content':'Be terse.'},"
        "{'role':'user','content':'Weather in Oslo?'},"
        "{'role':'assistant','content':null,'tool_calls':[{'id':'call_t1',"
        "'type':'function','function':{'name':'get_weather',"
        "'arguments':'{\\'city\\':\\'Oslo\\'}'}}]},"
        "{'role':'tool','tool_call_id':'call_t1',"
        "'content':'{\\'temp_c\\':4}'}],"
        "'tools':[" WEATHER_TOOL "],'tool_choice':'auto',"
        "'temperature':0.2,'max_tokens':256,'stop':['END'],"
        "'stream':false}",

        "{'systemInstruction':{'parts':[{'text':'Be terse.'}]},"
        "'contents':[{'role':'user','parts':[{'text':'Weather in Oslo?'}]},"
        "{'role':'model','parts':[{'functionCall':{'name':'get_weather',"
        "'args':{'city':'Oslo'}}," SIG "}]},"
        "{'role':'user','parts':[{'functionResponse':{'name':'get_weather',"
        "'response':{'output':{'temp_c':4}}}}]}],"
        "'tools':[{'functionDeclarations':[" WEATHER_DECL "]}],"
        "'toolConfig':{'functionCallingConfig':{'mode':'AUTO'}},"
        "'generationConfig':{'temperature':0.2,'maxOutputTokens':256,"
        "'stopSequences':['END']}}");
}


static void
test_gemini_path(void **state)
{
    size_t               i;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   out;

    static const char  *const paths[][3] = {
        /* base_path, path, streamed path */
        { "/v1beta", "/v1beta/models/m-1:generateContent",
          "/v1beta/models/m-1:streamGenerateContent?alt=sse" },
        { "/v1beta/", "/v1beta/models/m-1:generateContent",
          "/v1beta/models/m-1:streamGenerateContent?alt=sse" },
        { "v1beta", "/v1beta/models/m-1:generateContent",
          "/v1beta/models/m-1:streamGenerateContent?alt=sse" },
        { "", "/models/m-1:generateContent",
          "/models/m-1:streamGenerateContent?alt=sse" },
        { "/v1beta?x=1", "/v1beta/models/m-1:generateContent?x=1",
          "/v1beta/models/m-1:streamGenerateContent?alt=sse&x=1" },
        { "/v1beta/?", "/v1beta/models/m-1:generateContent?",
          "/v1beta/models/m-1:streamGenerateContent?alt=sse" }
    };

    ctx = *state;

    test_gm_provider(&p, NULL);

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        p.base_path = paths[i][0];

        assert_int_equal(test_gm_run(ctx, "{'model':'m-1'," MSG "}", &p,
                                     &out, &err),
                         LLM_OK);
        assert_string_equal(out.path, paths[i][1]);

        assert_int_equal(test_gm_run(ctx, "{'model':'m-1'," MSG
                                     ",'stream':true}", &p, &out, &err),
                         LLM_OK);
        assert_string_equal(out.path, paths[i][2]);
    }

    /* NULL base_path */

    p.base_path = NULL;

    assert_int_equal(test_gm_run(ctx, "{'model':'m-1'," MSG "}", &p, &out,
                                 &err),
                     LLM_OK);
    assert_string_equal(out.path, "/models/m-1:generateContent");
}


static void
test_gemini_auth(void **state)
{
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    test_gm_provider(&p, NULL);

    assert_int_equal(test_gm_run(ctx, REQ(""), &p, &out, &err), LLM_OK);
    assert_int_equal(out.nheaders, 1);
    assert_string_equal(out.headers[0].name, "x-goog-api-key");
    assert_string_equal(out.headers[0].value, TEST_KEY);

    /* never in the URL */
    assert_null(strstr(out.path, "SECRET"));
    assert_null(strstr(out.path, "key="));

    p.api_key = NULL;

    assert_int_equal(test_gm_run(ctx, REQ(""), &p, &out, &err), LLM_OK);
    assert_int_equal(out.nheaders, 0);

    p.api_key = "";

    assert_int_equal(test_gm_run(ctx, REQ(""), &p, &out, &err), LLM_OK);
    assert_int_equal(out.nheaders, 0);
}


static void
test_gemini_model(void **state)
{
    size_t               i;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   out;

    static const char  *const bad[] = {
        "{'model':'a/b'," MSG "}",
        "{'model':'gemini 2'," MSG "}",
        "{'model':'gemini?x=1'," MSG "}",
        "{'model':'gemini#x'," MSG "}",
        "{'model':'..'," MSG "}",
        "{'model':'models/'," MSG "}",
        "{'model':'models/../x'," MSG "}",
        "{'model':'gemini%2f'," MSG "}",
        "{'model':'gemini\\n'," MSG "}",
        "{'model':'g\\u00e9'," MSG "}",
        "{'model':'g:generateContent'," MSG "}"
    };

    ctx = *state;

    /* the model goes into the URL, not the body */

    test_gm_expect_item(ctx, REQ(""), "model", NULL);

    /* "models/" as the API names them */

    test_gm_provider(&p, NULL);

    assert_int_equal(test_gm_run(ctx, "{'model':'models/gemini-2.0-flash',"
                                 MSG "}", &p, &out, &err),
                     LLM_OK);
    assert_string_equal(out.path,
                        "/v1beta/models/gemini-2.0-flash:generateContent");

    assert_int_equal(test_gm_run(ctx, "{'model':'Gemini_1.5-Pro.002',"
                                 MSG "}", &p, &out, &err),
                     LLM_OK);
    assert_string_equal(out.path,
                        "/v1beta/models/Gemini_1.5-Pro.002:generateContent");

    /* the configured model wins */

    test_gm_provider(&p, "gemini-2.5-pro");

    assert_int_equal(test_gm_run(ctx, REQ(""), &p, &out, &err), LLM_OK);
    assert_string_equal(out.path,
                        "/v1beta/models/gemini-2.5-pro:generateContent");

    assert_int_equal(test_gm_run(ctx, "{" MSG "}", &p, &out, &err), LLM_OK);
    assert_string_equal(out.path,
                        "/v1beta/models/gemini-2.5-pro:generateContent");

    /* a model is required */

    test_gm_reject(ctx, "{" MSG "}", 400, "model", "'model'");
    test_gm_reject(ctx, "{'model':''," MSG "}", 400, "model", "'model'");
    test_gm_reject(ctx, "{'model':null," MSG "}", 400, "model", "'model'");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        test_gm_reject(ctx, bad[i], 400, "model", "not valid for gemini");
    }

    /* a bad configured model is the configuration's fault */

    test_gm_provider(&p, "a/b");

    assert_int_equal(test_gm_run(ctx, REQ(""), &p, &out, &err), LLM_ERROR);
    assert_int_equal(err.status, 500);
    assert_non_null(strstr(err.message, "invalid model name"));
    assert_non_null(strstr(err.message, "\"gm\""));
}


static void
test_gemini_bad_config(void **state)
{
    size_t               i;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   out;

    static const char  *const keys[] = {
        "k\r\nX-Injected: 1",
        "k\n",
        "k\x7f"
    };

    ctx = *state;

    test_gm_provider(&p, NULL);

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        p.api_key = keys[i];

        assert_int_equal(test_gm_run(ctx, REQ(""), &p, &out, &err),
                         LLM_ERROR);
        assert_int_equal(err.status, 500);
        assert_non_null(strstr(err.message, "invalid API key"));
        assert_null(strstr(err.message, "Injected"));
    }

    test_gm_provider(&p, NULL);
    p.base_path = "/v1 HTTP/1.1\r\nX: y";

    assert_int_equal(test_gm_run(ctx, REQ(""), &p, &out, &err), LLM_ERROR);
    assert_int_equal(err.status, 500);
    assert_non_null(strstr(err.message, "invalid URL path"));

    p.base_path = "/v1 x";

    assert_int_equal(test_gm_run(ctx, REQ(""), &p, &out, &err), LLM_ERROR);
    assert_int_equal(err.status, 500);
}


static void
test_gemini_unparsed(void **state)
{
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    memset(&req, 0, sizeof(llm_request_t));
    test_gm_provider(&p, "m");

    assert_int_equal(llm_gemini_adapter.encode(&req, &p, &ctx->pool, &out,
                                               &err),
                     LLM_ERROR);
    assert_int_equal(err.status, 500);
}


/* system and developer messages, wherever they are, in order */

static void
test_gemini_system(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_gm_expect(ctx,
        "{'model':'m','messages':["
        "{'role':'system','content':'One.'},"
        "{'role':'user','content':'hi'},"
        "{'role':'developer','content':[{'type':'text','text':'Two.'},"
        "{'type':'text','text':''},{'type':'text','text':'Three.'}]},"
        "{'role':'system','content':''}]}",

        "{'systemInstruction':{'parts':[{'text':'One.'},{'text':'Two.'},"
        "{'text':'Three.'}]},"
        "'contents':[{'role':'user','parts':[{'text':'hi'}]}]}");

    /* no system message: no systemInstruction */

    test_gm_expect_item(ctx, REQ(""), "systemInstruction", NULL);

    /* system only: Gemini needs contents */

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'system',"
                   "'content':'x'}]}",
                   400, "messages", "at least one user or assistant");

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'system',"
                   "'content':[{'type':'image_url','image_url':"
                   "{'url':'data:image/png;base64,AAAA'}}]},"
                   "{'role':'user','content':'hi'}]}",
                   400, "messages", "in this role");
}


static void
test_gemini_roles(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_gm_expect_item(ctx,
        "{'model':'m','messages':["
        "{'role':'user','content':'Hello'},"
        "{'role':'assistant','content':'Hi there'},"
        "{'role':'user','content':[{'type':'text','text':'How are you?'}]},"
        "{'role':'assistant','content':[{'type':'text','text':'Fine.'}]}]}",
        "contents",
        "[{'role':'user','parts':[{'text':'Hello'}]},"
        "{'role':'model','parts':[{'text':'Hi there'}]},"
        "{'role':'user','parts':[{'text':'How are you?'}]},"
        "{'role':'model','parts':[{'text':'Fine.'}]}]");

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'function',"
                   "'name':'f','content':'x'}]}",
                   400, "messages", "'function' is not supported");
}


/* consecutive same-role messages make one content */

static void
test_gemini_merge(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_gm_expect_item(ctx,
        "{'model':'m','messages':["
        "{'role':'user','content':'a'},"
        "{'role':'system','content':'s'},"
        "{'role':'user','content':[{'type':'text','text':'b'},"
        "{'type':'text','text':'c'}]},"
        "{'role':'assistant','content':'d'},"
        "{'role':'assistant','content':'e','tool_calls':[{'id':'call_1',"
        "'type':'function','function':{'name':'f','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'call_1','content':'r'},"
        "{'role':'user','content':'g'}]}",
        "contents",
        "[{'role':'user','parts':[{'text':'a'},{'text':'b'},{'text':'c'}]},"
        "{'role':'model','parts':[{'text':'d'},{'text':'e'},"
        "{'functionCall':{'name':'f','args':{}}," SIG "}]},"
        "{'role':'user','parts':[{'functionResponse':{'name':'f',"
        "'response':{'output':'r'}}},{'text':'g'}]}]");
}


/* empty texts and empty messages are left out */

static void
test_gemini_empty(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_gm_expect_item(ctx,
        "{'model':'m','messages':["
        "{'role':'user','content':'a'},"
        "{'role':'assistant','content':''},"
        "{'role':'assistant','content':null},"
        "{'role':'assistant','content':[]},"
        "{'role':'user','content':''},"
        "{'role':'user','content':[{'type':'text','text':''}]},"
        "{'role':'user','content':'b'}]}",
        "contents",
        "[{'role':'user','parts':[{'text':'a'},{'text':'b'}]}]");

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user',"
                   "'content':''}]}",
                   400, "messages", "at least one");
}


/* parallel calls: one model content, the results in one user content */

static void
test_gemini_parallel_calls(void **state)
{
    test_gm_expect_item(*state,
        "{'model':'m','messages':["
        "{'role':'user','content':'Weather in Oslo and Bergen?'},"
        "{'role':'assistant','content':null,'tool_calls':["
        "{'id':'call_a','type':'function','function':{'name':'get_weather',"
        "'arguments':'{\\'city\\':\\'Oslo\\'}'}},"
        "{'id':'call_b','type':'function','function':{'name':'get_time',"
        "'arguments':'{\\'city\\':\\'Bergen\\'}'}}]},"
        "{'role':'tool','tool_call_id':'call_a','content':'{\\'c\\':4}'},"
        "{'role':'tool','tool_call_id':'call_b','content':'noon'}]}",
        "contents",
        "[{'role':'user','parts':[{'text':'Weather in Oslo and Bergen?'}]},"
        "{'role':'model','parts':["
        "{'functionCall':{'name':'get_weather','args':{'city':'Oslo'}},"
        SIG "},"
        "{'functionCall':{'name':'get_time','args':{'city':'Bergen'}},"
        SIG "}]},"
        "{'role':'user','parts':["
        "{'functionResponse':{'name':'get_weather','response':{'output':"
        "{'c':4}}}},"
        "{'functionResponse':{'name':'get_time','response':{'output':"
        "'noon'}}}]}]");
}


/* the name comes from the latest earlier call with that id */

static void
test_gemini_call_lookup(void **state)
{
    test_gm_expect_item(*state,
        "{'model':'m','messages':["
        "{'role':'user','content':'x'},"
        "{'role':'assistant','tool_calls':[{'id':'call_1','type':"
        "'function','function':{'name':'first','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'call_1','content':'1'},"
        "{'role':'assistant','tool_calls':[{'id':'call_1','type':"
        "'function','function':{'name':'second','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'call_1','content':'2'}]}",
        "contents",
        "[{'role':'user','parts':[{'text':'x'}]},"
        "{'role':'model','parts':[{'functionCall':{'name':'first',"
        "'args':{}}," SIG "}]},"
        "{'role':'user','parts':[{'functionResponse':{'name':'first',"
        "'response':{'output':'1'}}}]},"
        "{'role':'model','parts':[{'functionCall':{'name':'second',"
        "'args':{}}," SIG "}]},"
        "{'role':'user','parts':[{'functionResponse':{'name':'second',"
        "'response':{'output':'2'}}}]}]");
}


static void
test_gemini_unknown_call(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    /* no call at all */

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':'x'},"
                   "{'role':'tool','tool_call_id':'call_9','content':'r'}]}",
                   400, "messages", "'call_9' does not match");

    /* another id */

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':'x'},"
                   "{'role':'assistant','tool_calls':[{'id':'call_1',"
                   "'type':'function','function':{'name':'f',"
                   "'arguments':'{}'}}]},"
                   "{'role':'tool','tool_call_id':'call_2','content':'r'}]}",
                   400, "messages", "messages[2]");

    /* the call comes after the result */

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':'x'},"
                   "{'role':'tool','tool_call_id':'call_1','content':'r'},"
                   "{'role':'assistant','tool_calls':[{'id':'call_1',"
                   "'type':'function','function':{'name':'f',"
                   "'arguments':'{}'}}]}]}",
                   400, "messages", "'call_1' does not match");

    /* a user message cannot name calls */

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':'x',"
                   "'tool_calls':[{'id':'call_1','type':'function',"
                   "'function':{'name':'f','arguments':'{}'}}]},"
                   "{'role':'tool','tool_call_id':'call_1','content':'r'}]}",
                   400, "messages", "does not match");
}


static void
test_gemini_arguments(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    /* "", whitespace, missing: {} */

    test_gm_expect_item(ctx,
        "{'model':'m','messages':[{'role':'user','content':'x'},"
        "{'role':'assistant','tool_calls':["
        "{'id':'a','type':'function','function':{'name':'f',"
        "'arguments':''}},"
        "{'id':'b','type':'function','function':{'name':'f',"
        "'arguments':' \\n'}},"
        "{'id':'c','function':{'name':'f'}},"
        "{'id':'d','type':'function','function':{'name':'f',"
        "'arguments':'{\\'n\\':[1,{\\'x\\':null}],\\'s\\':\\'\\\\u00e9\\'}'}}"
        "]}]}",
        "contents",
        "[{'role':'user','parts':[{'text':'x'}]},"
        "{'role':'model','parts':["
        "{'functionCall':{'name':'f','args':{}}," SIG "},"
        "{'functionCall':{'name':'f','args':{}}," SIG "},"
        "{'functionCall':{'name':'f','args':{}}," SIG "},"
        "{'functionCall':{'name':'f','args':{'n':[1,{'x':null}],"
        "'s':'\xc3\xa9'}}," SIG "}]}]");
}


static void
test_gemini_bad_calls(void **state)
{
    size_t       i;
    char         json[512];
    test_ctx_t  *ctx;

    static const char  *const calls[] = {
        "{'id':'a','type':'function','function':{'name':'f',"
        "'arguments':'{'}}",
        "{'id':'a','type':'function','function':{'name':'f',"
        "'arguments':'[1]'}}",
        "{'id':'a','type':'function','function':{'name':'f',"
        "'arguments':'7'}}",
        "{'id':'a','type':'function','function':{'name':'f',"
        "'arguments':'{} x'}}",
        "{'id':'a','type':'function','function':{'name':'f',"
        "'arguments':{'x':1}}}",
        "{'id':'a','type':'function','function':{'name':'f',"
        "'arguments':'{\\'a\\':1,}'}}",
        "{'id':'a','type':'function','function':{'arguments':'{}'}}",
        "{'id':'a','type':'function','function':{'name':'',"
        "'arguments':'{}'}}",
        "{'id':'a','type':'function','function':{'name':7,"
        "'arguments':'{}'}}",
        "{'id':'a','type':'custom','function':{'name':'f',"
        "'arguments':'{}'}}",
        "{'id':'a','type':'function'}",
        "{'id':'a','type':'function','function':'f'}",
        "'call'",
        "7"
    };

    ctx = *state;

    for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        snprintf(json, sizeof(json),
                 "{'model':'m','messages':[{'role':'user','content':'x'},"
                 "{'role':'assistant','tool_calls':[%s]}]}", calls[i]);

        test_gm_reject(ctx, json, 400, "messages", "tool_calls[0]");
    }
}


/* tool results: a JSON object is passed parsed, anything else a string */

static void
test_gemini_tool_results(void **state)
{
    size_t       i;
    char         json[512], want[512];
    test_ctx_t  *ctx;

    static const char  *const results[][2] = {
        { "'{\\'temp_c\\':4}'", "{'temp_c':4}" },
        { "' {\\'a\\':[1,2]} '", "{'a':[1,2]}" },
        { "'{}'", "{}" },
        { "'4'", "'4'" },
        { "'[1,2]'", "'[1,2]'" },
        { "'null'", "'null'" },
        { "'{broken'", "'{broken'" },
        { "'{} {}'", "'{} {}'" },
        { "'sunny'", "'sunny'" },
        { "''", "''" },
        { "[{'type':'text','text':'{\\'a\\':'},{'type':'text','text':'1}'}]",
          "{'a':1}" },
        { "[{'type':'text','text':'par'},{'type':'text','text':'tly'}]",
          "'partly'" },
        { "[]", "''" }
    };

    ctx = *state;

    for (i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
        snprintf(json, sizeof(json),
                 "{'model':'m','messages':[{'role':'user','content':'x'},"
                 "{'role':'assistant','tool_calls':[{'id':'c1','type':"
                 "'function','function':{'name':'f','arguments':'{}'}}]},"
                 "{'role':'tool','tool_call_id':'c1','content':%s}]}",
                 results[i][0]);

        snprintf(want, sizeof(want),
                 "[{'role':'user','parts':[{'text':'x'}]},"
                 "{'role':'model','parts':[{'functionCall':{'name':'f',"
                 "'args':{}}," SIG "}]},"
                 "{'role':'user','parts':[{'functionResponse':{'name':'f',"
                 "'response':{'output':%s}}}]}]", results[i][1]);

        test_gm_expect_item(ctx, json, "contents", want);
    }

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':'x'},"
                   "{'role':'assistant','tool_calls':[{'id':'c1','type':"
                   "'function','function':{'name':'f','arguments':'{}'}}]},"
                   "{'role':'tool','tool_call_id':'c1','content':[{'type':"
                   "'image_url','image_url':{'url':'data:image/png;base64,"
                   "AA'}}]}]}",
                   400, "messages", "string or text parts");
}


static void
test_gemini_images(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_gm_expect_item(ctx,
        "{'model':'m','messages':[{'role':'user','content':["
        "{'type':'text','text':'What is this?'},"
        "{'type':'image_url','image_url':{'url':"
        "'data:image/png;base64,iVBORw0KGgo=','detail':'high'}},"
        "{'type':'image_url','image_url':{'url':"
        "'DATA:image/jpeg;charset=x;base64,/9j/4AAQ'}},"
        "{'type':'image_url','image_url':'data:image/webp;base64,UklG'},"
        "{'type':'image_url','image_url':{'url':"
        "'https://generativelanguage.googleapis.com/v1beta/files/abc'}}"
        "]}]}",
        "contents",
        "[{'role':'user','parts':[{'text':'What is this?'},"
        "{'inlineData':{'mimeType':'image/png','data':'iVBORw0KGgo='}},"
        "{'inlineData':{'mimeType':'image/jpeg','data':'/9j/4AAQ'}},"
        "{'inlineData':{'mimeType':'image/webp','data':'UklG'}},"
        "{'fileData':{'fileUri':"
        "'https://generativelanguage.googleapis.com/v1beta/files/abc'}}"
        "]}]");

    /* Gemini does not fetch URLs */

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':["
                   "{'type':'image_url','image_url':{'url':"
                   "'https://example.com/cat.png'}}]}]}",
                   400, "messages", "does not fetch image URLs");

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':["
                   "{'type':'image_url','image_url':{'url':"
                   "'http://example.com/cat.png'}}]}]}",
                   400, "messages", "data: URL");

    /* malformed data: URLs */

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':["
                   "{'type':'image_url','image_url':{'url':"
                   "'data:image/png,AAAA'}}]}]}",
                   400, "messages", "base64");

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':["
                   "{'type':'image_url','image_url':{'url':"
                   "'data:;base64,AAAA'}}]}]}",
                   400, "messages", "base64");

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':["
                   "{'type':'image_url','image_url':{'url':'data:'}}]}]}",
                   400, "messages", "base64");

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':["
                   "{'type':'image_url','image_url':{'detail':'low'}}]}]}",
                   400, "messages", "'url'");

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':["
                   "{'type':'image_url'}]}]}",
                   400, "messages", "'url'");

    /* images only in user messages */

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':'x'},"
                   "{'role':'assistant','content':[{'type':'image_url',"
                   "'image_url':{'url':'data:image/png;base64,AA'}}]}]}",
                   400, "messages", "in this role");
}


static void
test_gemini_bad_parts(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':["
                   "{'type':'input_audio','input_audio':{'data':'AA',"
                   "'format':'wav'}}]}]}",
                   400, "messages", "'input_audio' are not supported");

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':["
                   "{'type':'text'}]}]}",
                   400, "messages", "string 'text'");

    test_gm_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':'x'},"
                   "{'role':'assistant','content':[{'type':'refusal',"
                   "'refusal':'no'}]}]}",
                   400, "messages", "'refusal'");
}


static void
test_gemini_config(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_gm_expect_item(ctx,
        REQ(",'max_completion_tokens':100,'max_tokens':50,"
            "'temperature':1.5,'top_p':0.5,'stop':'END','n':2,"
            "'seed':42,'presence_penalty':0.5,'frequency_penalty':-0.5"),
        "generationConfig",
        "{'maxOutputTokens':100,'temperature':1.5,'topP':0.5,"
        "'stopSequences':['END'],'candidateCount':2,'seed':42,"
        "'presencePenalty':0.5,'frequencyPenalty':-0.5}");

    test_gm_expect_item(ctx,
        REQ(",'max_tokens':50,'temperature':0,'top_p':1,"
            "'stop':['a','b'],'seed':-7,'presence_penalty':0,"
            "'frequency_penalty':0"),
        "generationConfig",
        "{'maxOutputTokens':50,'temperature':0,'topP':1,"
        "'stopSequences':['a','b'],'seed':-7}");

    /* nothing set: no generationConfig; null counts as absent */

    test_gm_expect_item(ctx, REQ(""), "generationConfig", NULL);
    test_gm_expect_item(ctx,
                        REQ(",'max_tokens':null,'temperature':null,"
                            "'stop':[],'seed':null"),
                        "generationConfig", NULL);

    test_gm_reject(ctx, REQ(",'seed':1.5"), 400, "seed", "32-bit");
    test_gm_reject(ctx, REQ(",'seed':'7'"), 400, "seed", "32-bit");
    test_gm_reject(ctx, REQ(",'seed':4294967296"), 400, "seed", "32-bit");
    test_gm_reject(ctx, REQ(",'seed':-1e300"), 400, "seed", "32-bit");
    test_gm_reject(ctx, REQ(",'seed':1e999"), 400, "seed", "32-bit");
}


/* the provider's max_tokens when the client sets none */

static void
test_gemini_config_default(void **state)
{
    cJSON               *root;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    test_gm_provider(&p, NULL);
    p.max_tokens = 4096;

    assert_int_equal(test_gm_run(ctx, REQ(""), &p, &out, &err), LLM_OK);

    root = test_json(out.body, out.body_len);
    test_gm_equal(ctx, cJSON_GetObjectItemCaseSensitive(root,
                                                        "generationConfig"),
                  "{'maxOutputTokens':4096}");
    cJSON_Delete(root);

    assert_int_equal(test_gm_run(ctx, REQ(",'max_tokens':9"), &p, &out,
                                 &err),
                     LLM_OK);

    root = test_json(out.body, out.body_len);
    test_gm_equal(ctx, cJSON_GetObjectItemCaseSensitive(root,
                                                        "generationConfig"),
                  "{'maxOutputTokens':9}");
    cJSON_Delete(root);
}


static void
test_gemini_response_format(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_gm_expect_item(ctx,
        REQ(",'response_format':{'type':'json_object'}"),
        "generationConfig", "{'responseMimeType':'application/json'}");

    test_gm_expect_item(ctx,
        REQ(",'response_format':{'type':'json_schema','json_schema':"
            "{'name':'w','strict':true,'schema':{'type':'object',"
            "'properties':{'c':{'type':'number'}},'required':['c'],"
            "'additionalProperties':false}}}"),
        "generationConfig",
        "{'responseMimeType':'application/json','responseJsonSchema':"
        "{'type':'object','properties':{'c':{'type':'number'}},"
        "'required':['c'],'additionalProperties':false}}");

    /* without a schema: JSON all the same */

    test_gm_expect_item(ctx,
        REQ(",'response_format':{'type':'json_schema','json_schema':"
            "{'name':'w'}}"),
        "generationConfig", "{'responseMimeType':'application/json'}");

    test_gm_expect_item(ctx, REQ(",'response_format':{'type':'text'}"),
                        "generationConfig", NULL);

    test_gm_reject(ctx, REQ(",'response_format':{'type':'yaml'}"), 400,
                   "response_format", "text, json_object or json_schema");
    test_gm_reject(ctx, REQ(",'response_format':'json'"), 400,
                   "response_format", "text, json_object or json_schema");
    test_gm_reject(ctx, REQ(",'response_format':{'type':'json_schema'}"),
                   400, "response_format", "must be an object");
    test_gm_reject(ctx,
                   REQ(",'response_format':{'type':'json_schema',"
                       "'json_schema':{'schema':true}}"),
                   400, "response_format", "must be an object");
}


static void
test_gemini_tools(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_gm_expect_item(ctx,
        REQ(",'tools':[" WEATHER_TOOL ",{'type':'function','function':"
            "{'name':'now','strict':true}}]"),
        "tools",
        "[{'functionDeclarations':[" WEATHER_DECL ",{'name':'now'}]}]");

    /* no tools, no toolConfig either */

    test_gm_expect_item(ctx, REQ(",'tools':[]"), "tools", NULL);
    test_gm_expect_item(ctx, REQ(",'tools':[],'tool_choice':'required'"),
                        "toolConfig", NULL);
    test_gm_expect_item(ctx, REQ(",'tool_choice':'none'"), "toolConfig",
                        NULL);

    test_gm_reject(ctx,
                   REQ(",'tools':[{'type':'code_interpreter'}]"),
                   400, "tools", "only function tools");
    test_gm_reject(ctx,
                   REQ(",'tools':[{'type':'function','function':{}}]"),
                   400, "tools", "tools[0]");
    test_gm_reject(ctx,
                   REQ(",'tools':[" WEATHER_TOOL ",{'type':'function',"
                       "'function':{'name':'x','parameters':'none'}}]"),
                   400, "tools", "tools[1]: 'parameters'");
}


static void
test_gemini_tool_choice(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_gm_expect_item(ctx,
        REQ(",'tools':[" WEATHER_TOOL "],'tool_choice':'auto'"),
        "toolConfig", "{'functionCallingConfig':{'mode':'AUTO'}}");

    test_gm_expect_item(ctx,
        REQ(",'tools':[" WEATHER_TOOL "],'tool_choice':'none'"),
        "toolConfig", "{'functionCallingConfig':{'mode':'NONE'}}");

    test_gm_expect_item(ctx,
        REQ(",'tools':[" WEATHER_TOOL "],'tool_choice':'required'"),
        "toolConfig", "{'functionCallingConfig':{'mode':'ANY'}}");

    test_gm_expect_item(ctx,
        REQ(",'tools':[" WEATHER_TOOL "],'tool_choice':{'type':'function',"
            "'function':{'name':'get_weather'}}"),
        "toolConfig",
        "{'functionCallingConfig':{'mode':'ANY',"
        "'allowedFunctionNames':['get_weather']}}");

    /* not set: Gemini's default, no toolConfig */

    test_gm_expect_item(ctx, REQ(",'tools':[" WEATHER_TOOL "]"),
                        "toolConfig", NULL);

    /* parallel_tool_calls has no Gemini equivalent */

    test_gm_expect_item(ctx,
                        REQ(",'tools':[" WEATHER_TOOL "],"
                            "'parallel_tool_calls':false"),
                        "toolConfig", NULL);

    test_gm_reject(ctx,
                   REQ(",'tools':[" WEATHER_TOOL "],'tool_choice':{'type':"
                       "'function','function':{'name':'other'}}"),
                   400, "tool_choice", "'other', which is not in 'tools'");
    test_gm_reject(ctx,
                   REQ(",'tools':[" WEATHER_TOOL "],'tool_choice':'any'"),
                   400, "tool_choice", "must be none, auto, required");
    test_gm_reject(ctx,
                   REQ(",'tools':[" WEATHER_TOOL "],'tool_choice':{'type':"
                       "'function'}"),
                   400, "tool_choice", "must be none");
    test_gm_reject(ctx,
                   REQ(",'tools':[" WEATHER_TOOL "],'tool_choice':7"),
                   400, "tool_choice", "must be none");
}


/* fields Gemini does not have are not sent */

static void
test_gemini_dropped(void **state)
{
    test_gm_expect(*state,
        REQ(",'stream':false,'stream_options':{'include_usage':true},"
            "'user':'u1','logit_bias':{'1':2},'store':true,"
            "'service_tier':'auto','metadata':{'a':'b'},'logprobs':true,"
            "'top_logprobs':2,'reasoning_effort':'low',"
            "'parallel_tool_calls':true,'n':null"),
        "{'contents':[{'role':'user','parts':[{'text':'hi'}]}]}");
}


/* encode reads the request, never changes it */

static void
test_gemini_not_mutated(void **state)
{
    int                  rc;
    char                *body, *before, *after;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    body = test_gm_q(ctx,
        "{'model':'m','messages':[{'role':'system','content':'s'},"
        "{'role':'user','content':[{'type':'text','text':'x'},"
        "{'type':'image_url','image_url':{'url':'data:image/png;base64,"
        "AA'}}]},"
        "{'role':'assistant','content':'a','tool_calls':[{'id':'c1',"
        "'type':'function','function':{'name':'f','arguments':"
        "'{\\'a\\':1}'}}]},"
        "{'role':'tool','tool_call_id':'c1','content':'{\\'r\\':2}'}],"
        "'tools':[" WEATHER_TOOL "],'tool_choice':'required',"
        "'response_format':{'type':'json_schema','json_schema':{'schema':"
        "{'type':'object'}}},'stop':['x']}");

    assert_int_equal(llm_request_parse(&req, body, strlen(body), &err),
                     LLM_OK);

    before = cJSON_PrintUnformatted(req.root);
    assert_non_null(before);

    test_gm_provider(&p, "m2");

    rc = llm_gemini_adapter.encode(&req, &p, &ctx->pool, &out, &err);

    after = cJSON_PrintUnformatted(req.root);

    llm_request_free(&req);

    assert_int_equal(rc, LLM_OK);
    assert_non_null(after);
    assert_string_equal(before, after);

    cJSON_free(before);
    cJSON_free(after);
}


/* every pool allocation in turn fails: an error each time, then success */

static void
test_gemini_encode_nomem(void **state)
{
    int                  rc;
    char                *body;
    size_t               n;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    body = test_gm_q(ctx,
        "{'model':'m','messages':[{'role':'user','content':[{'type':'text',"
        "'text':'x'},{'type':'image_url','image_url':{'url':"
        "'data:image/png;base64,AA'}}]},"
        "{'role':'assistant','tool_calls':[{'id':'c1','type':'function',"
        "'function':{'name':'f','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'c1','content':[{'type':'text',"
        "'text':'r'}]}]}");

    assert_int_equal(llm_request_parse(&req, body, strlen(body), &err),
                     LLM_OK);

    test_gm_provider(&p, NULL);

    for (n = 1; n < 100; n++) {
        ctx->count = 0;
        ctx->fail_at = n;

        rc = llm_gemini_adapter.encode(&req, &p, &ctx->pool, &out, &err);

        if (rc == LLM_OK) {
            break;
        }

        assert_int_equal(rc, LLM_ERROR);
        assert_int_equal(err.status, 500);
        assert_string_equal(err.message, "out of memory");
    }

    ctx->fail_at = 0;

    llm_request_free(&req);

    assert_true(n > 3);
    assert_int_equal(rc, LLM_OK);
}


/*
 * cJSON's allocations, which come from the pool (llm_arena.c) one pool
 * allocation each, and the pool's own fail from the fail_at-th on;
 * 0: they do not fail, cJSON's in chunks again
 */

static void
test_gm_hooks(test_ctx_t *ctx, size_t fail_at)
{
    llm_arena_chunk_size = fail_at ? 0 : LLM_ARENA_CHUNK;
    ctx->fail_at = fail_at ? ctx->count + fail_at : 0;
}


/*
 * every cJSON allocation in turn fails: no crash, no leak (ASan, valgrind),
 * an error each time, then success
 */

static void
test_gemini_encode_cjson_nomem(void **state)
{
    int                  rc;
    char                *body;
    size_t               n;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    body = test_gm_q(ctx,
        "{'model':'m','messages':[{'role':'system','content':'s'},"
        "{'role':'user','content':[{'type':'text','text':'x'},"
        "{'type':'image_url','image_url':{'url':'data:image/png;base64,"
        "AA'}}]},"
        "{'role':'assistant','content':'a','tool_calls':[{'id':'c1',"
        "'type':'function','function':{'name':'f','arguments':"
        "'{\\'a\\':[1,2]}'}}]},"
        "{'role':'tool','tool_call_id':'c1','content':'{\\'r\\':2}'},"
        "{'role':'user','content':'y'}],"
        "'tools':[" WEATHER_TOOL "],'tool_choice':{'type':'function',"
        "'function':{'name':'get_weather'}},"
        "'response_format':{'type':'json_schema','json_schema':{'schema':"
        "{'type':'object'}}},'stop':['x','y'],'max_tokens':5,"
        "'temperature':1,'top_p':1,'n':1,'seed':1,'presence_penalty':1,"
        "'frequency_penalty':1}");

    assert_int_equal(llm_request_parse(&req, body, strlen(body), &err),
                     LLM_OK);

    test_gm_provider(&p, NULL);

    for (n = 1; n < 1000; n++) {
        test_gm_hooks(ctx, n);

        rc = llm_gemini_adapter.encode(&req, &p, &ctx->pool, &out, &err);

        test_gm_hooks(ctx, 0);

        if (rc == LLM_OK) {
            break;
        }

        assert_int_equal(rc, LLM_ERROR);
        assert_true(err.status == 500 || err.status == 400);
    }

    llm_request_free(&req);

    assert_true(n > 10);
    assert_int_equal(rc, LLM_OK);
}


static int
test_gm_decode_run(test_ctx_t *ctx, const char *answer, llm_response_t *out,
    llm_error_t *err)
{
    int             rc;
    char           *body, *json;
    size_t          i, len;
    llm_request_t   req;
    llm_provider_t  p;

    json = test_gm_q(ctx, REQ(""));

    assert_int_equal(llm_request_parse(&req, json, strlen(json), err),
                     LLM_OK);

    test_gm_provider(&p, NULL);

    /* no NUL after the answer */

    len = strlen(answer);
    body = test_copy(ctx, answer, len);

    for (i = 0; i < len; i++) {
        if (body[i] == '\'') {
            body[i] = '"';
        }
    }

    rc = llm_gemini_adapter.decode(&req, &p, body, len, TEST_CREATED,
                                   &ctx->pool, out, err);

    llm_request_free(&req);

    return rc;
}


static cJSON *
test_gm_decode(test_ctx_t *ctx, const char *answer, llm_response_t *out)
{
    llm_error_t  err;

    if (test_gm_decode_run(ctx, answer, out, &err) != LLM_OK) {
        fail_msg("decode failed: %s", err.message);
    }

    assert_non_null(out->body);
    assert_int_equal(out->body[out->body_len], '\0');

    return test_json(out->body, out->body_len);
}


/* want is compared byte for byte (with ' for ") */

static void
test_gm_decode_expect(test_ctx_t *ctx, const char *answer, const char *want)
{
    cJSON           *root;
    const char      *w;
    llm_response_t   out;

    root = test_gm_decode(ctx, answer, &out);
    cJSON_Delete(root);

    w = test_gm_q(ctx, want);

    if (strcmp(out.body, w) != 0) {
        fail_msg("got:  %s\nwant: %s", out.body, w);
    }
}


static void
test_gm_decode_reject(test_ctx_t *ctx, const char *answer)
{
    llm_error_t     err;
    llm_response_t  out;

    if (test_gm_decode_run(ctx, answer, &out, &err) != LLM_ERROR) {
        fail_msg("accepted: %s", answer);
    }

    assert_int_equal(err.status, 502);
    assert_string_equal(err.type, "api_error");
    assert_string_equal(err.code, "invalid_provider_response");
    assert_non_null(strstr(err.message, "gemini"));
}


static void
test_gemini_decode_vector(void **state)
{
    llm_response_t  out;

    test_gm_decode_expect(*state,
        "{'candidates':[{'content':{'role':'model','parts':[{'text':"
        "'4 \xc2\xb0" "C in Oslo.'}]},'finishReason':'STOP','index':0,"
        "'safetyRatings':[{'category':'HARM_CATEGORY_HARASSMENT',"
        "'probability':'NEGLIGIBLE'}]}],"
        "'usageMetadata':{'promptTokenCount':61,'candidatesTokenCount':8,"
        "'thoughtsTokenCount':20,'totalTokenCount':89,"
        "'promptTokensDetails':[{'modality':'TEXT','tokenCount':61}]},"
        "'modelVersion':'gemini-2.5-flash','responseId':'rsp_t1'}",

        "{'id':'rsp_t1','object':'chat.completion','created':1767225600,"
        "'model':'gemini-2.5-flash','choices':[{'index':0,'message':"
        "{'role':'assistant','content':'4 \xc2\xb0" "C in Oslo.',"
        "'refusal':null},'logprobs':null,'finish_reason':'stop'}],"
        "'usage':{'prompt_tokens':61,'completion_tokens':28,"
        "'total_tokens':89,'completion_tokens_details':"
        "{'reasoning_tokens':20}}}");

    /* the usage handed to the glue */

    cJSON_Delete(test_gm_decode(*state,
        "{'candidates':[{'content':{'parts':[{'text':'x'}]},"
        "'finishReason':'STOP'}],'usageMetadata':{'promptTokenCount':61,"
        "'candidatesTokenCount':8,'thoughtsTokenCount':20,"
        "'totalTokenCount':89}}", &out));

    assert_int_equal(out.usage.prompt_tokens, 61);
    assert_int_equal(out.usage.completion_tokens, 28);
    assert_int_equal(out.usage.total_tokens, 89);
    assert_int_equal(out.usage.cached_tokens, -1);
    assert_int_equal(out.usage.reasoning_tokens, 20);
}


/* a functionCall part (with a thoughtSignature) and STOP: tool_calls */

static void
test_gemini_decode_calls(void **state)
{
    cJSON           *root, *msg, *calls, *call;
    test_ctx_t      *ctx;
    const char      *id;
    llm_response_t   out;

    ctx = *state;

    root = test_gm_decode(ctx,
        "{'candidates':[{'content':{'role':'model','parts':["
        "{'text':'Checking.'},"
        "{'functionCall':{'name':'get_weather','args':{'city':'Oslo'}},"
        "'thoughtSignature':'c2ln'},"
        "{'functionCall':{'name':'get_time','args':{}}},"
        "{'functionCall':{'name':'now'}}]},"
        "'finishReason':'STOP','finishMessage':'done','index':0}],"
        "'usageMetadata':{'promptTokenCount':60,'candidatesTokenCount':10,"
        "'totalTokenCount':70},'modelVersion':'gemini-2.0-flash',"
        "'responseId':'mock-gemini-2'}", &out);

    msg = cJSON_GetObjectItemCaseSensitive(
              cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root,
                                                                  "choices"),
                                 0),
              "message");

    test_gm_equal(ctx, cJSON_GetObjectItemCaseSensitive(msg, "content"),
                  "'Checking.'");

    calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
    assert_int_equal(cJSON_GetArraySize(calls), 3);

    call = cJSON_GetArrayItem(calls, 0);
    id = cJSON_GetObjectItemCaseSensitive(call, "id")->valuestring;

    assert_int_equal(strlen(id), LLM_TOOL_CALL_ID_LEN);
    assert_memory_equal(id, "call_", 5);

    cJSON_DeleteItemFromObjectCaseSensitive(call, "id");
    test_gm_equal(ctx, call,
                  "{'type':'function','function':{'name':'get_weather',"
                  "'arguments':'{\\'city\\':\\'Oslo\\'}'}}");

    call = cJSON_GetArrayItem(calls, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(call, "id");
    test_gm_equal(ctx, call,
                  "{'type':'function','function':{'name':'get_time',"
                  "'arguments':'{}'}}");

    call = cJSON_GetArrayItem(calls, 2);
    cJSON_DeleteItemFromObjectCaseSensitive(call, "id");
    test_gm_equal(ctx, call,
                  "{'type':'function','function':{'name':'now',"
                  "'arguments':'{}'}}");

    test_gm_equal(ctx,
                  cJSON_GetObjectItemCaseSensitive(
                      cJSON_GetArrayItem(
                          cJSON_GetObjectItemCaseSensitive(root, "choices"),
                          0),
                      "finish_reason"),
                  "'tool_calls'");

    cJSON_Delete(root);

    /* only a call: content null */

    test_gm_decode_expect(ctx,
        "{'candidates':[{'content':{'role':'model','parts':["
        "{'functionCall':{'name':'f','args':{'a':[1,2.5,'x',null,true]}}}"
        "]},'finishReason':'STOP','index':0}],'responseId':'r1'}",

        "{'id':'r1','object':'chat.completion','created':1767225600,"
        "'model':'" TEST_MODEL "','choices':[{'index':0,'message':"
        "{'role':'assistant','content':null,'refusal':null,'tool_calls':"
        "[{'id':'call_ENb273UgOTIkzVf6iqJadBmb','type':'function',"
        "'function':{'name':'f','arguments':"
        "'{\\'a\\':[1,2.5,\\'x\\',null,true]}'}}]},'logprobs':null,"
        "'finish_reason':'tool_calls'}]}");
}


/* generated ids: the same answer gives the same ids, all different */

static void
test_gemini_decode_ids(void **state)
{
    cJSON           *a, *b, *c, *calls;
    size_t           i, j;
    test_ctx_t      *ctx;
    const char      *ids[6];
    llm_response_t   out;

    static const char  answer[] =
        "{'candidates':["
        "{'content':{'parts':[{'functionCall':{'name':'f','args':{}}},"
        "{'functionCall':{'name':'f','args':{}}}]},'index':0},"
        "{'content':{'parts':[{'functionCall':{'name':'f','args':{}}}]},"
        "'index':1}],'responseId':'same'}";

    ctx = *state;

    a = test_gm_decode(ctx, answer, &out);
    b = test_gm_decode(ctx, answer, &out);

    assert_true(cJSON_Compare(a, b, 1));

    for (i = 0, j = 0; i < 2; i++) {
        calls = cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(
                        cJSON_GetArrayItem(
                            cJSON_GetObjectItemCaseSensitive(a, "choices"),
                            (int) i),
                        "message"),
                    "tool_calls");

        for (calls = calls->child; calls != NULL; calls = calls->next) {
            ids[j++] = cJSON_GetObjectItemCaseSensitive(calls, "id")
                           ->valuestring;
        }
    }

    assert_int_equal(j, 3);
    assert_string_not_equal(ids[0], ids[1]);
    assert_string_not_equal(ids[0], ids[2]);
    assert_string_not_equal(ids[1], ids[2]);

    /* another responseId, other ids */

    c = test_gm_decode(ctx,
        "{'candidates':[{'content':{'parts':[{'functionCall':{'name':'f',"
        "'args':{}}}]}}],'responseId':'other'}", &out);

    ids[3] = cJSON_GetObjectItemCaseSensitive(
                 cJSON_GetArrayItem(
                     cJSON_GetObjectItemCaseSensitive(
                         cJSON_GetObjectItemCaseSensitive(
                             cJSON_GetArrayItem(
                                 cJSON_GetObjectItemCaseSensitive(c,
                                                                  "choices"),
                                 0),
                             "message"),
                         "tool_calls"),
                     0),
                 "id")->valuestring;

    assert_string_not_equal(ids[0], ids[3]);

    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
}


/* no responseId: ids from the answer's bytes, stable all the same */

static void
test_gemini_decode_no_ids(void **state)
{
    cJSON           *a, *b;
    test_ctx_t      *ctx;
    const char      *id;
    llm_response_t   out;

    static const char  answer[] =
        "{'candidates':[{'content':{'parts':[{'functionCall':{'name':'f',"
        "'args':{}}}]},'finishReason':'STOP'}]}";

    ctx = *state;

    a = test_gm_decode(ctx, answer, &out);
    b = test_gm_decode(ctx, answer, &out);

    assert_true(cJSON_Compare(a, b, 1));

    id = cJSON_GetObjectItemCaseSensitive(a, "id")->valuestring;

    assert_int_equal(strlen(id), sizeof("chatcmpl-") - 1 + 16);
    assert_memory_equal(id, "chatcmpl-", 9);
    assert_true(strspn(id + 9, "0123456789abcdef") == 16);

    cJSON_Delete(a);
    cJSON_Delete(b);

    /* another answer, another id */

    a = test_gm_decode(ctx,
        "{'candidates':[{'content':{'parts':[{'text':'x'}]}}]}", &out);
    b = test_gm_decode(ctx,
        "{'candidates':[{'content':{'parts':[{'text':'y'}]}}]}", &out);

    assert_string_not_equal(
        cJSON_GetObjectItemCaseSensitive(a, "id")->valuestring,
        cJSON_GetObjectItemCaseSensitive(b, "id")->valuestring);

    cJSON_Delete(a);
    cJSON_Delete(b);
}


/* thought summaries are not content; thoughts tokens are output */

static void
test_gemini_decode_thoughts(void **state)
{
    test_gm_decode_expect(*state,
        "{'candidates':[{'content':{'role':'model','parts':["
        "{'text':'Let me think','thought':true},"
        "{'text':'Hel','thoughtSignature':'c2ln'},{'text':'lo'},"
        "{'text':'more thinking','thought':true},"
        "{'text':'!','thought':false}]},'finishReason':'STOP'}],"
        "'usageMetadata':{'promptTokenCount':10,'candidatesTokenCount':2,"
        "'thoughtsTokenCount':100,'totalTokenCount':112},"
        "'responseId':'r'}",

        "{'id':'r','object':'chat.completion','created':1767225600,"
        "'model':'" TEST_MODEL "','choices':[{'index':0,'message':"
        "{'role':'assistant','content':'Hello!','refusal':null},"
        "'logprobs':null,'finish_reason':'stop'}],"
        "'usage':{'prompt_tokens':10,'completion_tokens':102,"
        "'total_tokens':112,'completion_tokens_details':"
        "{'reasoning_tokens':100}}}");

    /* only thoughts: no content */

    test_gm_decode_expect(*state,
        "{'candidates':[{'content':{'parts':[{'text':'hmm','thought':true}"
        "]},'finishReason':'MAX_TOKENS'}],'responseId':'r'}",

        "{'id':'r','object':'chat.completion','created':1767225600,"
        "'model':'" TEST_MODEL "','choices':[{'index':0,'message':"
        "{'role':'assistant','content':null,'refusal':null},"
        "'logprobs':null,'finish_reason':'length'}]}");
}


static void
test_gemini_decode_cached(void **state)
{
    llm_response_t  out;

    test_gm_decode_expect(*state,
        "{'candidates':[{'content':{'parts':[{'text':'ok'}]},"
        "'finishReason':'STOP'}],'usageMetadata':{'promptTokenCount':1000,"
        "'cachedContentTokenCount':800,'candidatesTokenCount':5,"
        "'totalTokenCount':1005},'responseId':'r'}",

        "{'id':'r','object':'chat.completion','created':1767225600,"
        "'model':'" TEST_MODEL "','choices':[{'index':0,'message':"
        "{'role':'assistant','content':'ok','refusal':null},"
        "'logprobs':null,'finish_reason':'stop'}],"
        "'usage':{'prompt_tokens':1000,'completion_tokens':5,"
        "'total_tokens':1005,'prompt_tokens_details':"
        "{'cached_tokens':800}}}");

    cJSON_Delete(test_gm_decode(*state,
        "{'candidates':[{'content':{'parts':[{'text':'ok'}]}}],"
        "'usageMetadata':{'promptTokenCount':1000,"
        "'cachedContentTokenCount':0,'thoughtsTokenCount':0}}", &out));

    assert_int_equal(out.usage.cached_tokens, 0);
    assert_int_equal(out.usage.reasoning_tokens, 0);
}


static void
test_gemini_decode_usage(void **state)
{
    test_ctx_t      *ctx;
    llm_response_t   out;

    ctx = *state;

    /* no usageMetadata: not reported, no "usage" rendered */

    cJSON_Delete(test_gm_decode(ctx,
        "{'candidates':[{'content':{'parts':[{'text':'x'}]}}]}", &out));

    assert_int_equal(out.usage.prompt_tokens, -1);
    assert_int_equal(out.usage.completion_tokens, -1);
    assert_int_equal(out.usage.total_tokens, -1);
    assert_int_equal(out.usage.cached_tokens, -1);
    assert_int_equal(out.usage.cache_write_tokens, -1);
    assert_int_equal(out.usage.reasoning_tokens, -1);
    assert_null(strstr(out.body, "\"usage\""));

    /* no totalTokenCount: the sum; toolUsePromptTokenCount is input */

    cJSON_Delete(test_gm_decode(ctx,
        "{'candidates':[{'content':{'parts':[{'text':'x'}]}}],"
        "'usageMetadata':{'promptTokenCount':10,"
        "'toolUsePromptTokenCount':5,'candidatesTokenCount':3,"
        "'thoughtsTokenCount':2}}", &out));

    assert_int_equal(out.usage.prompt_tokens, 15);
    assert_int_equal(out.usage.completion_tokens, 5);
    assert_int_equal(out.usage.total_tokens, 20);
    assert_int_equal(out.usage.cache_write_tokens, -1);
    assert_int_equal(out.usage.reasoning_tokens, 2);

    /* counts of the wrong type or sign are ignored */

    cJSON_Delete(test_gm_decode(ctx,
        "{'candidates':[{'content':{'parts':[{'text':'x'}]}}],"
        "'usageMetadata':{'promptTokenCount':'10',"
        "'candidatesTokenCount':-3,'thoughtsTokenCount':null,"
        "'totalTokenCount':1e300,'cachedContentTokenCount':2.7}}", &out));

    assert_int_equal(out.usage.prompt_tokens, -1);
    assert_int_equal(out.usage.completion_tokens, -1);
    assert_int_equal(out.usage.total_tokens, -1);
    assert_int_equal(out.usage.cached_tokens, -1);
    assert_int_equal(out.usage.reasoning_tokens, -1);

    cJSON_Delete(test_gm_decode(ctx,
        "{'candidates':[{'content':{'parts':[{'text':'x'}]}}],"
        "'usageMetadata':{'promptTokenCount':10,"
        "'candidatesTokenCount':-3,'thoughtsTokenCount':null,"
        "'totalTokenCount':1e300,'cachedContentTokenCount':2.7}}", &out));

    assert_int_equal(out.usage.prompt_tokens, 10);
    assert_int_equal(out.usage.completion_tokens, 0);
    assert_int_equal(out.usage.total_tokens, 9007199254740992LL);
    assert_int_equal(out.usage.cached_tokens, 2);
    assert_int_equal(out.usage.reasoning_tokens, -1);

    /* thoughts alone are the completion: billed as output */

    cJSON_Delete(test_gm_decode(ctx,
        "{'candidates':[{'content':{'parts':[{'text':'x'}]}}],"
        "'usageMetadata':{'thoughtsTokenCount':40}}", &out));

    assert_int_equal(out.usage.prompt_tokens, 0);
    assert_int_equal(out.usage.completion_tokens, 40);
    assert_int_equal(out.usage.total_tokens, 40);
    assert_int_equal(out.usage.reasoning_tokens, 40);

    /* usageMetadata of another type */

    cJSON_Delete(test_gm_decode(ctx,
        "{'candidates':[{'content':{'parts':[{'text':'x'}]}}],"
        "'usageMetadata':[1,2]}", &out));

    assert_int_equal(out.usage.total_tokens, -1);
    assert_null(strstr(out.body, "\"usage\""));
}


/* prompt blocked: 200, no candidates, promptFeedback.blockReason */

static void
test_gemini_decode_blocked(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_gm_decode_expect(ctx,
        "{'promptFeedback':{'blockReason':'SAFETY','safetyRatings':[]},"
        "'usageMetadata':{'promptTokenCount':7,'totalTokenCount':7},"
        "'modelVersion':'gemini-2.5-flash','responseId':'rsp_b'}",

        "{'id':'rsp_b','object':'chat.completion','created':1767225600,"
        "'model':'gemini-2.5-flash','choices':[{'index':0,'message':"
        "{'role':'assistant','content':null,'refusal':null},"
        "'logprobs':null,'finish_reason':'content_filter'}],"
        "'usage':{'prompt_tokens':7,'completion_tokens':0,"
        "'total_tokens':7}}");

    test_gm_decode_expect(ctx,
        "{'candidates':[],'promptFeedback':{'blockReason':'OTHER'},"
        "'responseId':'rsp_c'}",

        "{'id':'rsp_c','object':'chat.completion','created':1767225600,"
        "'model':'" TEST_MODEL "','choices':[{'index':0,'message':"
        "{'role':'assistant','content':null,'refusal':null},"
        "'logprobs':null,'finish_reason':'content_filter'}]}");

    /* a candidate stopped for safety, without content */

    test_gm_decode_expect(ctx,
        "{'candidates':[{'finishReason':'SAFETY','index':0,"
        "'safetyRatings':[{'category':'HARM_CATEGORY_HARASSMENT',"
        "'probability':'HIGH','blocked':true}]}],'responseId':'rsp_d'}",

        "{'id':'rsp_d','object':'chat.completion','created':1767225600,"
        "'model':'" TEST_MODEL "','choices':[{'index':0,'message':"
        "{'role':'assistant','content':null,'refusal':null},"
        "'logprobs':null,'finish_reason':'content_filter'}]}");
}


static const char *
test_gm_finish(test_ctx_t *ctx, const char *answer)
{
    char            *r;
    cJSON           *root, *item;
    llm_response_t   out;

    root = test_gm_decode(ctx, answer, &out);

    item = cJSON_GetObjectItemCaseSensitive(
               cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root,
                                                                   "choices"),
                                  0),
               "finish_reason");

    assert_true(cJSON_IsString(item));

    r = test_cstr(ctx, item->valuestring, strlen(item->valuestring));

    cJSON_Delete(root);

    return r;
}


static void
test_gemini_decode_finish(void **state)
{
    size_t       i;
    char         answer[256];
    test_ctx_t  *ctx;

    static const char  *const map[][2] = {
        { "'STOP'", "stop" },
        { "'MAX_TOKENS'", "length" },
        { "'SAFETY'", "content_filter" },
        { "'RECITATION'", "content_filter" },
        { "'BLOCKLIST'", "content_filter" },
        { "'PROHIBITED_CONTENT'", "content_filter" },
        { "'SPII'", "content_filter" },
        { "'IMAGE_SAFETY'", "content_filter" },
        { "'LANGUAGE'", "stop" },
        { "'OTHER'", "stop" },
        { "'FINISH_REASON_UNSPECIFIED'", "stop" },
        { "'MALFORMED_FUNCTION_CALL'", "stop" },
        { "'UNEXPECTED_TOOL_CALL'", "stop" },
        { "'SOMETHING_NEW'", "stop" },
        { "null", "stop" },
        { "7", "stop" }
    };

    ctx = *state;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        snprintf(answer, sizeof(answer),
                 "{'candidates':[{'content':{'parts':[{'text':'x'}]},"
                 "'finishReason':%s}]}", map[i][0]);

        assert_string_equal(test_gm_finish(ctx, answer), map[i][1]);
    }

    /* no finishReason at all */

    assert_string_equal(test_gm_finish(ctx,
                            "{'candidates':[{'content':{'parts':"
                            "[{'text':'x'}]}}]}"),
                        "stop");

    /* with a functionCall: STOP or none is tool_calls, others stay */

    assert_string_equal(test_gm_finish(ctx,
                            "{'candidates':[{'content':{'parts':"
                            "[{'functionCall':{'name':'f'}}]},"
                            "'finishReason':'STOP'}]}"),
                        "tool_calls");
    assert_string_equal(test_gm_finish(ctx,
                            "{'candidates':[{'content':{'parts':"
                            "[{'functionCall':{'name':'f'}}]}}]}"),
                        "tool_calls");
    assert_string_equal(test_gm_finish(ctx,
                            "{'candidates':[{'content':{'parts':"
                            "[{'functionCall':{'name':'f'}}]},"
                            "'finishReason':'MAX_TOKENS'}]}"),
                        "length");
    assert_string_equal(test_gm_finish(ctx,
                            "{'candidates':[{'content':{'parts':"
                            "[{'functionCall':{'name':'f'}}]},"
                            "'finishReason':'SAFETY'}]}"),
                        "content_filter");
}


/* candidateCount > 1: one choice per candidate, in order */

static void
test_gemini_decode_candidates(void **state)
{
    test_gm_decode_expect(*state,
        "{'candidates':["
        "{'content':{'role':'model','parts':[{'text':'A'}]},"
        "'finishReason':'STOP','index':0},"
        "{'content':{'role':'model','parts':[{'text':'B'}]},"
        "'finishReason':'MAX_TOKENS','index':1}],"
        "'usageMetadata':{'promptTokenCount':3,'candidatesTokenCount':2,"
        "'totalTokenCount':5},'responseId':'r2'}",

        "{'id':'r2','object':'chat.completion','created':1767225600,"
        "'model':'" TEST_MODEL "','choices':["
        "{'index':0,'message':{'role':'assistant','content':'A',"
        "'refusal':null},'logprobs':null,'finish_reason':'stop'},"
        "{'index':1,'message':{'role':'assistant','content':'B',"
        "'refusal':null},'logprobs':null,'finish_reason':'length'}],"
        "'usage':{'prompt_tokens':3,'completion_tokens':2,"
        "'total_tokens':5}}");
}


/* model: modelVersion, else the configured model, else the client's */

static void
test_gemini_decode_model(void **state)
{
    char            *json;
    cJSON           *root;
    test_ctx_t      *ctx;
    llm_error_t      err;
    llm_request_t    req;
    llm_provider_t   p;
    llm_response_t   out;

    static const char  answer[] =
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]}}]}";

    ctx = *state;

    json = test_gm_q(ctx, REQ(""));
    assert_int_equal(llm_request_parse(&req, json, strlen(json), &err),
                     LLM_OK);

    test_gm_provider(&p, "configured-1");

    assert_int_equal(llm_gemini_adapter.decode(&req, &p, answer,
                                               strlen(answer), 5,
                                               &ctx->pool, &out, &err),
                     LLM_OK);

    root = test_json(out.body, out.body_len);
    test_gm_equal(ctx, cJSON_GetObjectItemCaseSensitive(root, "model"),
                  "'configured-1'");
    test_gm_equal(ctx, cJSON_GetObjectItemCaseSensitive(root, "created"),
                  "5");
    cJSON_Delete(root);

    llm_request_free(&req);

    /* no model anywhere: "" */

    test_gm_provider(&p, NULL);

    assert_int_equal(llm_gemini_adapter.decode(&req, &p, answer,
                                               strlen(answer), 5,
                                               &ctx->pool, &out, &err),
                     LLM_OK);

    root = test_json(out.body, out.body_len);
    test_gm_equal(ctx, cJSON_GetObjectItemCaseSensitive(root, "model"),
                  "''");
    cJSON_Delete(root);
}


static void
test_gemini_decode_invalid(void **state)
{
    size_t       i;
    test_ctx_t  *ctx;

    static const char  *const bad[] = {
        "",
        "not json",
        "{'candidates':[]",
        "{'candidates':[]} x",
        "{\xff}",
        "[]",
        "null",
        "'text'",
        "{}",
        "{'candidates':[]}",
        "{'candidates':null}",
        "{'promptFeedback':{}}",
        "{'promptFeedback':{'blockReason':7}}",
        "{'candidates':{}}",
        "{'candidates':'x'}",
        "{'candidates':[7]}",
        "{'candidates':[null]}",
        "{'candidates':[{'content':[]}]}",
        "{'candidates':[{'content':'x'}]}",
        "{'candidates':[{'content':{'parts':{}}}]}",
        "{'candidates':[{'content':{'parts':[7]}}]}",
        "{'candidates':[{'content':{'parts':[{'text':7}]}}]}",
        "{'candidates':[{'content':{'parts':[{'text':'a'},{'text':[]}]}}]}",
        "{'candidates':[{'content':{'parts':[{'functionCall':{}}]}}]}",
        ("{'candidates':[{'content':{'parts':[{'functionCall':{'name':7}"
         "}]}}]}"),
        "{'candidates':[{'content':{'parts':[{'functionCall':'f'}]}}]}",
        "{'candidates':[{'content':{'parts':[{'text':'ok'}]}},7]}"
    };

    ctx = *state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        test_gm_decode_reject(ctx, bad[i]);
    }
}


/* content, parts or candidates without anything usable still decode */

static void
test_gemini_decode_nomem(void **state)
{
    int              rc;
    size_t           n;
    test_ctx_t      *ctx;
    llm_error_t      err;
    llm_response_t   out;

    static const char  answer[] =
        "{'candidates':[{'content':{'parts':[{'text':'a'},"
        "{'functionCall':{'name':'f','args':{'x':1}}},"
        "{'functionCall':{'name':'g'}}]},'finishReason':'STOP'},"
        "{'content':{'parts':[{'text':'b'}]}}]}";

    ctx = *state;

    for (n = 1; n < 100; n++) {
        ctx->count = 0;
        ctx->fail_at = n;

        /* the helper's own allocations come first */

        rc = test_gm_decode_run(ctx, answer, &out, &err);

        if (rc == LLM_OK) {
            break;
        }

        assert_int_equal(rc, LLM_ERROR);
        assert_int_equal(err.status, 500);
        assert_string_equal(err.message, "out of memory");
    }

    ctx->fail_at = 0;

    assert_true(n > 5);
    assert_int_equal(rc, LLM_OK);
}


static void
test_gemini_decode_cjson_nomem(void **state)
{
    int              rc;
    size_t           n;
    test_ctx_t      *ctx;
    llm_error_t      err;
    llm_request_t    req;
    llm_provider_t   p;
    llm_response_t   out;

    static const char  answer[] =
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"},"
        "{\"functionCall\":{\"name\":\"f\",\"args\":{\"x\":[1,{}]}}}]},"
        "\"finishReason\":\"STOP\"}],\"usageMetadata\":"
        "{\"promptTokenCount\":1},\"responseId\":\"r\"}";

    ctx = *state;

    memset(&req, 0, sizeof(llm_request_t));
    test_gm_provider(&p, "m");

    for (n = 1; n < 1000; n++) {
        test_gm_hooks(ctx, n);

        rc = llm_gemini_adapter.decode(&req, &p, answer, strlen(answer),
                                       1, &ctx->pool, &out, &err);

        test_gm_hooks(ctx, 0);

        if (rc == LLM_OK) {
            break;
        }

        assert_int_equal(rc, LLM_ERROR);
        assert_true(err.status == 500 || err.status == 502);
    }

    assert_true(n > 10);
    assert_int_equal(rc, LLM_OK);
}


static void
test_gm_error(test_ctx_t *ctx, int status, const char *body, int retryable,
    const char *type, const char *code, const char *message)
{
    char                  *b;
    size_t                 len;
    llm_provider_error_t   out;

    b = test_gm_q(ctx, body);
    len = strlen(b);

    /* no NUL after the body */
    b = test_copy(ctx, b, len);

    memset(&out, 0xa5, sizeof(llm_provider_error_t));

    assert_int_equal(llm_gemini_adapter.error(status, b, len, &ctx->pool,
                                              &out),
                     LLM_OK);

    if (out.retryable != retryable) {
        fail_msg("retryable %d for %d %s", out.retryable, status, body);
    }

    assert_int_equal(out.body[out.body_len], '\0');

    test_check_error_json(out.body, out.body_len, type, NULL, code, message);
}


static void
test_gemini_errors(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    /* the vector of section 3.4 */

    test_gm_error(ctx, 429,
        "{'error':{'code':429,'message':'Resource has been exhausted "
        "(e.g. check quota).','status':'RESOURCE_EXHAUSTED',"
        "'details':[{'@type':'type.googleapis.com/google.rpc.RetryInfo',"
        "'retryDelay':'27s'}]}}",
        1, "rate_limit_error", "rate_limit_exceeded",
        "Resource has been exhausted (e.g. check quota).");

    /* a bad key is a 400 INVALID_ARGUMENT with API_KEY_INVALID */

    test_gm_error(ctx, 400,
        "{'error':{'code':400,'message':'API key not valid. Please pass a "
        "valid API key.','status':'INVALID_ARGUMENT','details':["
        "{'@type':'type.googleapis.com/google.rpc.ErrorInfo',"
        "'reason':'API_KEY_INVALID','domain':'googleapis.com',"
        "'metadata':{'service':'generativelanguage.googleapis.com'}}]}}",
        0, "authentication_error", "invalid_api_key",
        "API key not valid. Please pass a valid API key.");

    test_gm_error(ctx, 400,
        "{'error':{'code':400,'message':'Invalid JSON payload received.',"
        "'status':'INVALID_ARGUMENT'}}",
        0, "invalid_request_error", "invalid_argument",
        "Invalid JSON payload received.");

    test_gm_error(ctx, 400,
        "{'error':{'code':400,'message':'User location is not supported "
        "for the API use.','status':'FAILED_PRECONDITION'}}",
        0, "invalid_request_error", "failed_precondition",
        "User location is not supported for the API use.");

    test_gm_error(ctx, 403,
        "{'error':{'code':403,'message':'Method doesnt allow unregistered "
        "callers','status':'PERMISSION_DENIED'}}",
        0, "permission_error", "permission_denied",
        "Method doesnt allow unregistered callers");

    test_gm_error(ctx, 401,
        "{'error':{'code':401,'message':'no creds',"
        "'status':'UNAUTHENTICATED'}}",
        0, "authentication_error", "unauthenticated", "no creds");

    test_gm_error(ctx, 404,
        "{'error':{'code':404,'message':'models/x is not found for API "
        "version v1beta','status':'NOT_FOUND'}}",
        0, "invalid_request_error", "not_found",
        "models/x is not found for API version v1beta");

    test_gm_error(ctx, 500,
        "{'error':{'code':500,'message':'An internal error has occurred.',"
        "'status':'INTERNAL'}}",
        1, "server_error", "internal", "An internal error has occurred.");

    test_gm_error(ctx, 503,
        "{'error':{'code':503,'message':'The model is overloaded.',"
        "'status':'UNAVAILABLE'}}",
        1, "server_error", "unavailable", "The model is overloaded.");

    test_gm_error(ctx, 504,
        "{'error':{'code':504,'message':'Deadline exceeded',"
        "'status':'DEADLINE_EXCEEDED'}}",
        1, "server_error", "deadline_exceeded", "Deadline exceeded");

    test_gm_error(ctx, 501,
        "{'error':{'code':501,'message':'no','status':'UNIMPLEMENTED'}}",
        0, "server_error", "unimplemented", "no");

    /* an unknown status: no code; no message: a generic one */

    test_gm_error(ctx, 409,
        "{'error':{'code':409,'status':'SOMETHING_NEW'}}",
        0, "invalid_request_error", NULL,
        "The upstream provider returned HTTP 409");

    /* streamGenerateContent without alt=sse answers an array */

    test_gm_error(ctx, 429,
        "[{'error':{'code':429,'message':'Quota exceeded',"
        "'status':'RESOURCE_EXHAUSTED'}}]",
        1, "rate_limit_error", "rate_limit_exceeded", "Quota exceeded");
}


/* the wait of a 429's RetryInfo: whole seconds, rounded up */

static long
test_gm_retry(test_ctx_t *ctx, const char *delay)
{
    char                   buf[512], *b;
    size_t                 len;
    llm_provider_error_t   out;

    len = snprintf(buf, sizeof(buf),
        "{\"error\":{\"code\":429,\"message\":\"m\","
        "\"status\":\"RESOURCE_EXHAUSTED\",\"details\":["
        "{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\","
        "\"retryDelay\":\"99s\"},"
        "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\","
        "\"retryDelay\":%s}]}}", delay);

    /* no NUL after the body */
    b = test_copy(ctx, buf, len);

    memset(&out, 0xa5, sizeof(llm_provider_error_t));

    assert_int_equal(llm_gemini_adapter.error(429, b, len, &ctx->pool,
                                              &out),
                     LLM_OK);

    return out.retry_after;
}


static void
test_gemini_retry_info(void **state)
{
    test_ctx_t            *ctx;
    llm_provider_error_t   out;

    ctx = *state;

    assert_int_equal(test_gm_retry(ctx, "\"27s\""), 27);
    assert_int_equal(test_gm_retry(ctx, "\"0.2s\""), 1);
    assert_int_equal(test_gm_retry(ctx, "\"1.5s\""), 2);
    assert_int_equal(test_gm_retry(ctx, "\"3.000000000s\""), 3);
    assert_int_equal(test_gm_retry(ctx, "\"0s\""), 0);
    assert_int_equal(test_gm_retry(ctx, "\"86400s\""), 86400);

    /* not a Duration: nothing */

    assert_int_equal(test_gm_retry(ctx, "\"86401s\""), 0);
    assert_int_equal(test_gm_retry(ctx, "\"99999999999999999999s\""), 0);
    assert_int_equal(test_gm_retry(ctx, "\"27\""), 0);
    assert_int_equal(test_gm_retry(ctx, "\"27ms\""), 0);
    assert_int_equal(test_gm_retry(ctx, "\"-1s\""), 0);
    assert_int_equal(test_gm_retry(ctx, "\"1.s\""), 0);
    assert_int_equal(test_gm_retry(ctx, "\"\""), 0);
    assert_int_equal(test_gm_retry(ctx, "27"), 0);
    assert_int_equal(test_gm_retry(ctx, "null"), 0);

    /* no details, and another shape of body */

    memset(&out, 0xa5, sizeof(llm_provider_error_t));
    assert_int_equal(llm_gemini_adapter.error(429,
                         "{\"error\":{\"status\":\"RESOURCE_EXHAUSTED\"}}",
                         41, &ctx->pool, &out),
                     LLM_OK);
    assert_int_equal(out.retry_after, 0);

    memset(&out, 0xa5, sizeof(llm_provider_error_t));
    assert_int_equal(llm_gemini_adapter.error(429, "x", 1, &ctx->pool, &out),
                     LLM_OK);
    assert_int_equal(out.retry_after, 0);
}


/* other shapes: read as the OpenAI-compatible adapters read them */

static void
test_gemini_error_other_shapes(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_gm_error(ctx, 502, "<html>Bad Gateway</html>", 1, "server_error",
                  NULL, "The upstream provider returned HTTP 502");

    test_gm_error(ctx, 400, "{'error':{'code':400,'message':'m'}}", 0,
                  "invalid_request_error", NULL, "m");

    test_gm_error(ctx, 401, "", 0, "authentication_error", NULL,
                  "The upstream provider returned HTTP 401");

    test_gm_error(ctx, 429, "[]", 1, "rate_limit_error",
                  "rate_limit_exceeded",
                  "The upstream provider returned HTTP 429");

    test_gm_error(ctx, 400, "{'error':{'status':7,'message':'m'}}", 0,
                  "invalid_request_error", NULL, "m");
}


static void
test_gemini_error_nomem(void **state)
{
    test_ctx_t            *ctx;
    llm_provider_error_t   out;

    static const char  body[] =
        "{\"error\":{\"code\":503,\"message\":\"m\","
        "\"status\":\"UNAVAILABLE\"}}";

    ctx = *state;
    ctx->fail_at = 1;

    assert_int_equal(llm_gemini_adapter.error(503, body, strlen(body),
                                              &ctx->pool, &out),
                     LLM_ERROR);
    assert_null(out.body);
    assert_int_equal(out.retryable, 1);

    ctx->fail_at = 0;
}


void
test_gemini_register(void)
{
    TEST_ADD(test_gemini_vector);
    TEST_ADD(test_gemini_path);
    TEST_ADD(test_gemini_auth);
    TEST_ADD(test_gemini_model);
    TEST_ADD(test_gemini_bad_config);
    TEST_ADD(test_gemini_unparsed);
    TEST_ADD(test_gemini_system);
    TEST_ADD(test_gemini_roles);
    TEST_ADD(test_gemini_merge);
    TEST_ADD(test_gemini_empty);
    TEST_ADD(test_gemini_parallel_calls);
    TEST_ADD(test_gemini_call_lookup);
    TEST_ADD(test_gemini_unknown_call);
    TEST_ADD(test_gemini_arguments);
    TEST_ADD(test_gemini_bad_calls);
    TEST_ADD(test_gemini_tool_results);
    TEST_ADD(test_gemini_images);
    TEST_ADD(test_gemini_bad_parts);
    TEST_ADD(test_gemini_config);
    TEST_ADD(test_gemini_config_default);
    TEST_ADD(test_gemini_response_format);
    TEST_ADD(test_gemini_tools);
    TEST_ADD(test_gemini_tool_choice);
    TEST_ADD(test_gemini_dropped);
    TEST_ADD(test_gemini_not_mutated);
    TEST_ADD(test_gemini_encode_nomem);
    TEST_ADD(test_gemini_encode_cjson_nomem);
    TEST_ADD(test_gemini_decode_vector);
    TEST_ADD(test_gemini_decode_calls);
    TEST_ADD(test_gemini_decode_ids);
    TEST_ADD(test_gemini_decode_no_ids);
    TEST_ADD(test_gemini_decode_thoughts);
    TEST_ADD(test_gemini_decode_cached);
    TEST_ADD(test_gemini_decode_usage);
    TEST_ADD(test_gemini_decode_blocked);
    TEST_ADD(test_gemini_decode_finish);
    TEST_ADD(test_gemini_decode_candidates);
    TEST_ADD(test_gemini_decode_model);
    TEST_ADD(test_gemini_decode_invalid);
    TEST_ADD(test_gemini_decode_nomem);
    TEST_ADD(test_gemini_decode_cjson_nomem);
    TEST_ADD(test_gemini_errors);
    TEST_ADD(test_gemini_retry_info);
    TEST_ADD(test_gemini_error_other_shapes);
    TEST_ADD(test_gemini_error_nomem);
}
