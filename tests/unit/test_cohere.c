
/*
 * ngx_http_llm_router_module: tests of the Cohere adapter (encode, decode,
 * error), with the vectors of the provider's API reference.
 *
 * JSON in this file is written with ' for " (test_co_q() swaps them), so
 * no text here may contain an apostrophe.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"


#define TEST_KEY      "co-test-SECRET-0123456789"
#define TEST_MODEL    "command-a-03-2025"
#define TEST_CREATED  1767225600

#define MSG           "'messages':[{'role':'user','content':'hi'}]"
#define REQ(extra)    "{'model':'" TEST_MODEL "'," MSG extra "}"

#define WEATHER_TOOL                                                          \
    "{'type':'function','function':{'name':'get_weather',"                    \
    "'description':'Current weather','parameters':{'type':'object',"          \
    "'properties':{'city':{'type':'string'}},'required':['city']}}}"

#define TIME_TOOL                                                             \
    "{'type':'function','function':{'name':'get_time'}}"

#define ARGS          "'{\\'city\\':\\'Oslo\\'}'"


static char *test_co_q(test_ctx_t *ctx, const char *s);
static void test_co_provider(llm_provider_t *p, const char *model);
static int test_co_run(test_ctx_t *ctx, const char *json,
    const llm_provider_t *p, llm_http_request_t *out, llm_error_t *err);
static cJSON *test_co_body(test_ctx_t *ctx, const char *json);
static void test_co_equal(test_ctx_t *ctx, const cJSON *got,
    const char *want);
static void test_co_expect(test_ctx_t *ctx, const char *json,
    const char *want);
static void test_co_expect_item(test_ctx_t *ctx, const char *json,
    const char *name, const char *want);
static void test_co_reject(test_ctx_t *ctx, const char *json, int status,
    const char *param, const char *needle);
static int test_co_decode_run(test_ctx_t *ctx, const char *answer,
    const char *model, llm_response_t *out, llm_error_t *err);
static cJSON *test_co_decode(test_ctx_t *ctx, const char *answer,
    llm_response_t *out);
static void test_co_decode_expect(test_ctx_t *ctx, const char *answer,
    const char *want);
static void test_co_decode_reject(test_ctx_t *ctx, const char *answer);
static void test_co_error(test_ctx_t *ctx, int status, const char *body,
    int retryable, const char *type, const char *code,
    const char *message);
static void test_co_hooks(test_ctx_t *ctx, size_t fail_at);

static void test_cohere_vector(void **state);
static void test_cohere_path(void **state);
static void test_cohere_auth(void **state);
static void test_cohere_model(void **state);
static void test_cohere_unparsed(void **state);
static void test_cohere_roles(void **state);
static void test_cohere_content_parts(void **state);
static void test_cohere_images(void **state);
static void test_cohere_assistant(void **state);
static void test_cohere_bad_calls(void **state);
static void test_cohere_tool_messages(void **state);
static void test_cohere_n(void **state);
static void test_cohere_options(void **state);
static void test_cohere_max_tokens_default(void **state);
static void test_cohere_tools(void **state);
static void test_cohere_tool_choice(void **state);
static void test_cohere_response_format(void **state);
static void test_cohere_dropped(void **state);
static void test_cohere_not_mutated(void **state);
static void test_cohere_encode_nomem(void **state);
static void test_cohere_encode_cjson_nomem(void **state);
static void test_cohere_decode_vector(void **state);
static void test_cohere_decode_tool_calls(void **state);
static void test_cohere_decode_text_and_calls(void **state);
static void test_cohere_decode_content(void **state);
static void test_cohere_decode_finish(void **state);
static void test_cohere_decode_usage(void **state);
static void test_cohere_decode_ids(void **state);
static void test_cohere_decode_model(void **state);
static void test_cohere_decode_invalid(void **state);
static void test_cohere_decode_nomem(void **state);
static void test_cohere_decode_cjson_nomem(void **state);
static void test_cohere_errors(void **state);


/* a copy of s with every ' made a ", freed at teardown */

static char *
test_co_q(test_ctx_t *ctx, const char *s)
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
test_co_provider(llm_provider_t *p, const char *model)
{
    p->name = "co";
    p->model = model;
    p->api_key = TEST_KEY;
    p->base_path = "/v2";
    p->max_tokens = 0;
}


static int
test_co_run(test_ctx_t *ctx, const char *json, const llm_provider_t *p,
    llm_http_request_t *out, llm_error_t *err)
{
    int             rc;
    char           *body;
    llm_request_t   req;

    body = test_co_q(ctx, json);

    if (llm_request_parse(&req, body, strlen(body), err) != LLM_OK) {
        fail_msg("rejected by the parser: %s", err->message);
    }

    rc = llm_cohere_adapter.encode(&req, p, &ctx->pool, out, err);

    llm_request_free(&req);

    return rc;
}


static cJSON *
test_co_body(test_ctx_t *ctx, const char *json)
{
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   out;

    test_co_provider(&p, NULL);

    if (test_co_run(ctx, json, &p, &out, &err) != LLM_OK) {
        fail_msg("encode failed: %s", err.message);
    }

    assert_string_equal(out.method, "POST");
    assert_string_equal(out.path, "/v2/chat");
    assert_int_equal(out.nheaders, 1);
    assert_string_equal(out.headers[0].name, "Authorization");
    assert_string_equal(out.headers[0].value, "Bearer " TEST_KEY);
    assert_int_equal(out.body[out.body_len], '\0');
    assert_null(strstr(out.body, "SECRET"));

    return test_json(out.body, out.body_len);
}


static void
test_co_equal(test_ctx_t *ctx, const cJSON *got, const char *want)
{
    char   *a, *b;
    cJSON  *w;

    w = cJSON_Parse(test_co_q(ctx, want));
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
test_co_expect(test_ctx_t *ctx, const char *json, const char *want)
{
    cJSON  *body;

    body = test_co_body(ctx, json);
    test_co_equal(ctx, body, want);
    cJSON_Delete(body);
}


/* one member of the body; want NULL: the member must be absent */

static void
test_co_expect_item(test_ctx_t *ctx, const char *json, const char *name,
    const char *want)
{
    cJSON  *body, *item;

    body = test_co_body(ctx, json);
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

        test_co_equal(ctx, item, want);
    }

    cJSON_Delete(body);
}


static void
test_co_reject(test_ctx_t *ctx, const char *json, int status,
    const char *param, const char *needle)
{
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   out;

    test_co_provider(&p, NULL);

    assert_int_equal(test_co_run(ctx, json, &p, &out, &err), LLM_ERROR);
    assert_int_equal(err.status, status);

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


/* the request vector of section 4.1, from its OpenAI form */

static void
test_cohere_vector(void **state)
{
    test_co_expect(*state,
        "{'model':'" TEST_MODEL "','stream':false,'max_tokens':256,"
        "'top_p':0.9,'messages':["
        "{'role':'system','content':'Be terse.'},"
        "{'role':'user','content':'Weather in Oslo?'},"
        "{'role':'assistant','content':'I will call get_weather.',"
        "'tool_calls':[{'id':'get_weather_t1','type':'function',"
        "'function':{'name':'get_weather','arguments':" ARGS "}}]},"
        "{'role':'tool','tool_call_id':'get_weather_t1',"
        "'content':'{\\'temp_c\\':4}'}],"
        "'tools':[" WEATHER_TOOL "]}",

        "{'model':'" TEST_MODEL "','stream':false,'max_tokens':256,"
        "'p':0.9,'messages':["
        "{'role':'system','content':'Be terse.'},"
        "{'role':'user','content':'Weather in Oslo?'},"
        "{'role':'assistant','tool_plan':'I will call get_weather.',"
        "'tool_calls':[{'id':'get_weather_t1','type':'function',"
        "'function':{'name':'get_weather','arguments':" ARGS "}}]},"
        "{'role':'tool','tool_call_id':'get_weather_t1',"
        "'content':'{\\'temp_c\\':4}'}],"
        "'tools':[" WEATHER_TOOL "]}");
}


static void
test_cohere_path(void **state)
{
    size_t               i;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   out;

    static const char  *const paths[][2] = {
        { "/v2", "/v2/chat" },
        { "/v2/", "/v2/chat" },
        { "v2", "/v2/chat" },
        { "", "/chat" },
        { "/v2?x=1", "/v2/chat?x=1" }
    };

    ctx = *state;

    test_co_provider(&p, NULL);

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        p.base_path = paths[i][0];

        assert_int_equal(test_co_run(ctx, REQ(""), &p, &out, &err), LLM_OK);
        assert_string_equal(out.path, paths[i][1]);

        /* streaming is in the body, not the path */

        assert_int_equal(test_co_run(ctx, REQ(",'stream':true"), &p, &out,
                                     &err),
                         LLM_OK);
        assert_string_equal(out.path, paths[i][1]);
    }
}


static void
test_cohere_auth(void **state)
{
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    test_co_provider(&p, NULL);

    p.api_key = NULL;

    assert_int_equal(test_co_run(ctx, REQ(""), &p, &out, &err), LLM_OK);
    assert_int_equal(out.nheaders, 0);

    p.api_key = "";

    assert_int_equal(test_co_run(ctx, REQ(""), &p, &out, &err), LLM_OK);
    assert_int_equal(out.nheaders, 0);

    p.api_key = "k\r\nX: 1";

    assert_int_equal(test_co_run(ctx, REQ(""), &p, &out, &err), LLM_ERROR);
    assert_int_equal(err.status, 500);
    assert_non_null(strstr(err.message, "invalid API key"));

    test_co_provider(&p, NULL);
    p.base_path = "/v2 HTTP/1.1\r\n";

    assert_int_equal(test_co_run(ctx, REQ(""), &p, &out, &err), LLM_ERROR);
    assert_int_equal(err.status, 500);
    assert_non_null(strstr(err.message, "invalid URL path"));
}


static void
test_cohere_model(void **state)
{
    cJSON               *root;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    test_co_expect_item(ctx, "{'model':'a/b \\'c\\''," MSG "}", "model",
                        "'a/b \\'c\\''");

    test_co_reject(ctx, "{" MSG "}", 400, "model", "'model'");
    test_co_reject(ctx, "{'model':''," MSG "}", 400, "model", "'model'");

    /* the configured model wins */

    test_co_provider(&p, "command-r7b-12-2024");

    assert_int_equal(test_co_run(ctx, REQ(""), &p, &out, &err), LLM_OK);

    root = test_json(out.body, out.body_len);
    test_co_equal(ctx, cJSON_GetObjectItemCaseSensitive(root, "model"),
                  "'command-r7b-12-2024'");
    cJSON_Delete(root);

    assert_int_equal(test_co_run(ctx, "{" MSG "}", &p, &out, &err), LLM_OK);
}


static void
test_cohere_unparsed(void **state)
{
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    memset(&req, 0, sizeof(llm_request_t));
    test_co_provider(&p, "m");

    assert_int_equal(llm_cohere_adapter.encode(&req, &p, &ctx->pool, &out,
                                               &err),
                     LLM_ERROR);
    assert_int_equal(err.status, 500);
}


static void
test_cohere_roles(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_co_expect_item(ctx,
        "{'model':'m','messages':["
        "{'role':'developer','content':'Dev.'},"
        "{'role':'system','content':'Sys.'},"
        "{'role':'user','content':'Hello'},"
        "{'role':'assistant','content':'Hi'},"
        "{'role':'user','content':'Again'},"
        "{'role':'user','content':'And again'}]}",
        "messages",
        "[{'role':'system','content':'Dev.'},"
        "{'role':'system','content':'Sys.'},"
        "{'role':'user','content':'Hello'},"
        "{'role':'assistant','content':'Hi'},"
        "{'role':'user','content':'Again'},"
        "{'role':'user','content':'And again'}]");

    test_co_reject(ctx,
                   "{'model':'m','messages':[{'role':'function',"
                   "'name':'f','content':'x'}]}",
                   400, "messages", "'function' is not supported");
}


/* text parts are rebuilt (only type and text) */

static void
test_cohere_content_parts(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_co_expect_item(ctx,
        "{'model':'m','messages':["
        "{'role':'system','content':[{'type':'text','text':'S',"
        "'cache_control':{'type':'ephemeral'}}]},"
        "{'role':'user','content':[{'type':'text','text':'a'},"
        "{'type':'text','text':''}]},"
        "{'role':'user','content':[]}]}",
        "messages",
        "[{'role':'system','content':[{'type':'text','text':'S'}]},"
        "{'role':'user','content':[{'type':'text','text':'a'},"
        "{'type':'text','text':''}]},"
        "{'role':'user','content':[]}]");

    test_co_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':["
                   "{'type':'text','text':7}]}]}",
                   400, "messages", "string 'text'");

    test_co_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':["
                   "{'type':'input_audio','input_audio':{}}]}]}",
                   400, "messages", "'input_audio' are not supported");

    test_co_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':["
                   "{'type':'file','file':{}}]}]}",
                   400, "messages", "'file'");
}


/* user images go as OpenAI sends them (Cohere vision models) */

static void
test_cohere_images(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_co_expect_item(ctx,
        "{'model':'m','messages':[{'role':'user','content':["
        "{'type':'text','text':'What is this?'},"
        "{'type':'image_url','image_url':{'url':"
        "'data:image/png;base64,iVBORw0KGgo=','detail':'high'}},"
        "{'type':'image_url','image_url':{'url':"
        "'https://example.com/cat.png','detail':'huge'}},"
        "{'type':'image_url','image_url':'https://example.com/dog.png'}"
        "]}]}",
        "messages",
        "[{'role':'user','content':[{'type':'text','text':'What is this?'},"
        "{'type':'image_url','image_url':{'url':"
        "'data:image/png;base64,iVBORw0KGgo=','detail':'high'}},"
        "{'type':'image_url','image_url':{'url':"
        "'https://example.com/cat.png'}},"
        "{'type':'image_url','image_url':{'url':"
        "'https://example.com/dog.png'}}]}]");

    test_co_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':["
                   "{'type':'image_url','image_url':{'url':''}}]}]}",
                   400, "messages", "'url'");

    test_co_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':["
                   "{'type':'image_url'}]}]}",
                   400, "messages", "'url'");

    test_co_reject(ctx,
                   "{'model':'m','messages':[{'role':'system','content':["
                   "{'type':'image_url','image_url':{'url':'data:x'}}]},"
                   "{'role':'user','content':'x'}]}",
                   400, "messages", "in this role");

    test_co_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':'x'},"
                   "{'role':'assistant','content':[{'type':'image_url',"
                   "'image_url':{'url':'data:x'}}]}]}",
                   400, "messages", "only text content");
}


static void
test_cohere_assistant(void **state)
{
    test_co_expect_item(*state,
        "{'model':'m','messages':["
        "{'role':'user','content':'x'},"
        "{'role':'assistant','content':[{'type':'text','text':'Hel'},"
        "{'type':'text','text':'lo'}]},"
        "{'role':'assistant','content':''},"
        "{'role':'assistant','content':null},"
        "{'role':'assistant','content':null,'tool_calls':[]},"
        "{'role':'assistant','content':null,'tool_calls':["
        "{'id':'c1','type':'function','function':{'name':'f',"
        "'arguments':" ARGS "}},"
        "{'id':'c2','function':{'name':'g'}}]},"
        "{'role':'tool','tool_call_id':'c1','content':'r1'},"
        "{'role':'tool','tool_call_id':'c2','content':'r2'}]}",
        "messages",
        "[{'role':'user','content':'x'},"
        "{'role':'assistant','content':'Hello'},"
        "{'role':'assistant','tool_calls':["
        "{'id':'c1','type':'function','function':{'name':'f',"
        "'arguments':" ARGS "}},"
        "{'id':'c2','type':'function','function':{'name':'g',"
        "'arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'c1','content':'r1'},"
        "{'role':'tool','tool_call_id':'c2','content':'r2'}]");
}


static void
test_cohere_bad_calls(void **state)
{
    size_t       i;
    char         json[512];
    test_ctx_t  *ctx;

    static const char  *const calls[] = {
        "{'type':'function','function':{'name':'f','arguments':'{}'}}",
        "{'id':7,'type':'function','function':{'name':'f',"
        "'arguments':'{}'}}",
        "{'id':'a','type':'function','function':{'arguments':'{}'}}",
        "{'id':'a','type':'function','function':{'name':'',"
        "'arguments':'{}'}}",
        "{'id':'a','type':'function','function':{'name':'f',"
        "'arguments':{'x':1}}}",
        "{'id':'a','type':'custom','function':{'name':'f',"
        "'arguments':'{}'}}",
        "{'id':'a','type':'function'}",
        "'call'",
        "7"
    };

    ctx = *state;

    for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        snprintf(json, sizeof(json),
                 "{'model':'m','messages':[{'role':'user','content':'x'},"
                 "{'role':'assistant','tool_calls':[%s]}]}", calls[i]);

        test_co_reject(ctx, json, 400, "messages", "tool_calls[0]");
    }
}


static void
test_cohere_tool_messages(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_co_expect_item(ctx,
        "{'model':'m','messages':[{'role':'user','content':'x'},"
        "{'role':'assistant','tool_calls':[{'id':'c1','type':'function',"
        "'function':{'name':'f','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'c1','content':[{'type':'text',"
        "'text':'{\\'a\\':'},{'type':'text','text':'1}'}]},"
        "{'role':'tool','tool_call_id':'unknown','content':''}]}",
        "messages",
        "[{'role':'user','content':'x'},"
        "{'role':'assistant','tool_calls':[{'id':'c1','type':'function',"
        "'function':{'name':'f','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'c1','content':'{\\'a\\':1}'},"
        "{'role':'tool','tool_call_id':'unknown','content':''}]");

    test_co_reject(ctx,
                   "{'model':'m','messages':[{'role':'user','content':'x'},"
                   "{'role':'tool','tool_call_id':'c1','content':[{'type':"
                   "'image_url','image_url':{'url':'data:x'}}]}]}",
                   400, "messages", "only text content");
}


static void
test_cohere_n(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_co_reject(ctx, REQ(",'n':2"), 400, "n", "'n' must be 1");
    test_co_reject(ctx, REQ(",'n':128"), 400, "n", "single choice");

    test_co_expect_item(ctx, REQ(",'n':1"), "n", NULL);
    test_co_expect_item(ctx, REQ(",'n':null"), "n", NULL);
}


static void
test_cohere_options(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_co_expect(ctx,
        REQ(",'max_completion_tokens':100,'max_tokens':50,"
            "'temperature':0.7,'top_p':0.5,'stop':'END','seed':42,"
            "'frequency_penalty':0.5,'presence_penalty':0.25,"
            "'stream':true"),
        "{'model':'" TEST_MODEL "'," MSG ",'max_tokens':100,"
        "'temperature':0.7,'p':0.5,'stop_sequences':['END'],'seed':42,"
        "'frequency_penalty':0.5,'presence_penalty':0.25,'stream':true}");

    /* clamped to what Cohere takes */

    test_co_expect(ctx,
        REQ(",'max_tokens':50,'top_p':1,'stop':['a','b'],"
            "'frequency_penalty':-1,'presence_penalty':2"),
        "{'model':'" TEST_MODEL "'," MSG ",'max_tokens':50,'p':0.99,"
        "'stop_sequences':['a','b'],'frequency_penalty':0,"
        "'presence_penalty':1,'stream':false}");

    test_co_expect_item(ctx, REQ(",'top_p':0"), "p", "0.01");
    test_co_expect_item(ctx, REQ(",'stop':[]"), "stop_sequences", NULL);

    /* nothing set */

    test_co_expect(ctx, REQ(""),
                   "{'model':'" TEST_MODEL "'," MSG ",'stream':false}");

    test_co_reject(ctx, REQ(",'seed':1.5"), 400, "seed", "integer");
    test_co_reject(ctx, REQ(",'seed':-1"), 400, "seed", "integer");
    test_co_reject(ctx, REQ(",'seed':'1'"), 400, "seed", "integer");

    /* past any integer type, and past a double (infinity) */

    test_co_reject(ctx, REQ(",'seed':1e300"), 400, "seed", "integer");
    test_co_reject(ctx, REQ(",'seed':1e999"), 400, "seed", "integer");
}


static void
test_cohere_max_tokens_default(void **state)
{
    cJSON               *root;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    test_co_provider(&p, NULL);
    p.max_tokens = 4096;

    assert_int_equal(test_co_run(ctx, REQ(""), &p, &out, &err), LLM_OK);

    root = test_json(out.body, out.body_len);
    test_co_equal(ctx, cJSON_GetObjectItemCaseSensitive(root, "max_tokens"),
                  "4096");
    cJSON_Delete(root);

    assert_int_equal(test_co_run(ctx, REQ(",'max_tokens':7"), &p, &out,
                                 &err),
                     LLM_OK);

    root = test_json(out.body, out.body_len);
    test_co_equal(ctx, cJSON_GetObjectItemCaseSensitive(root, "max_tokens"),
                  "7");
    cJSON_Delete(root);
}


static void
test_cohere_tools(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    /* rebuilt: strict and unknown members left out */

    test_co_expect_item(ctx,
        REQ(",'tools':[" WEATHER_TOOL ",{'type':'function','function':"
            "{'name':'get_time','strict':true,'x':1}}]"),
        "tools", "[" WEATHER_TOOL "," TIME_TOOL "]");

    test_co_expect_item(ctx, REQ(",'tools':[]"), "tools", NULL);

    test_co_reject(ctx, REQ(",'tools':[{'type':'retrieval'}]"), 400,
                   "tools", "only function tools");
    test_co_reject(ctx,
                   REQ(",'tools':[{'type':'function','function':{'name':"
                       "'f','parameters':[]}}]"),
                   400, "tools", "'parameters'");
}


static void
test_cohere_tool_choice(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    /* auto is Cohere's default */

    test_co_expect_item(ctx,
                        REQ(",'tools':[" WEATHER_TOOL "],"
                            "'tool_choice':'auto'"),
                        "tool_choice", NULL);

    test_co_expect_item(ctx,
                        REQ(",'tools':[" WEATHER_TOOL "],"
                            "'tool_choice':'none'"),
                        "tool_choice", "'NONE'");

    test_co_expect_item(ctx,
                        REQ(",'tools':[" WEATHER_TOOL "],"
                            "'tool_choice':'required'"),
                        "tool_choice", "'REQUIRED'");

    /* a named function: REQUIRED with that tool only */

    test_co_expect(ctx,
        REQ(",'tools':[" WEATHER_TOOL "," TIME_TOOL "],'tool_choice':"
            "{'type':'function','function':{'name':'get_time'}}"),
        "{'model':'" TEST_MODEL "'," MSG ",'tools':[" TIME_TOOL "],"
        "'tool_choice':'REQUIRED','stream':false}");

    /* without tools there is nothing to choose */

    test_co_expect_item(ctx, REQ(",'tool_choice':'required'"),
                        "tool_choice", NULL);

    test_co_reject(ctx,
                   REQ(",'tools':[" WEATHER_TOOL "],'tool_choice':"
                       "{'type':'function','function':{'name':'nope'}}"),
                   400, "tool_choice", "'nope', which is not in 'tools'");
    test_co_reject(ctx,
                   REQ(",'tools':[" WEATHER_TOOL "],'tool_choice':'any'"),
                   400, "tool_choice", "must be none, auto, required");
    test_co_reject(ctx,
                   REQ(",'tools':[" WEATHER_TOOL "],'tool_choice':"
                       "{'type':'function'}"),
                   400, "tool_choice", "must be none");
}


static void
test_cohere_response_format(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_co_expect_item(ctx, REQ(",'response_format':{'type':'json_object'}"),
                        "response_format", "{'type':'json_object'}");

    test_co_expect_item(ctx,
        REQ(",'response_format':{'type':'json_schema','json_schema':"
            "{'name':'w','strict':true,'schema':{'type':'object',"
            "'properties':{'c':{'type':'number'}},'required':['c']}}}"),
        "response_format",
        "{'type':'json_object','json_schema':{'type':'object',"
        "'properties':{'c':{'type':'number'}},'required':['c']}}");

    test_co_expect_item(ctx,
        REQ(",'response_format':{'type':'json_schema','json_schema':"
            "{'name':'w'}}"),
        "response_format", "{'type':'json_object'}");

    test_co_expect_item(ctx, REQ(",'response_format':{'type':'text'}"),
                        "response_format", NULL);

    test_co_reject(ctx, REQ(",'response_format':{'type':'xml'}"), 400,
                   "response_format", "text, json_object or json_schema");
    test_co_reject(ctx, REQ(",'response_format':{'type':'json_schema'}"),
                   400, "response_format", "must be an object");
    test_co_reject(ctx,
                   REQ(",'response_format':{'type':'json_schema',"
                       "'json_schema':{'schema':1}}"),
                   400, "response_format", "must be an object");
}


static void
test_cohere_dropped(void **state)
{
    test_co_expect(*state,
        REQ(",'stream_options':{'include_usage':true},'user':'u',"
            "'logit_bias':{'1':2},'store':true,'service_tier':'auto',"
            "'metadata':{'a':'b'},'logprobs':true,'top_logprobs':2,"
            "'reasoning_effort':'low','parallel_tool_calls':false,"
            "'n':1"),
        "{'model':'" TEST_MODEL "'," MSG ",'stream':false}");
}


static void
test_cohere_not_mutated(void **state)
{
    int                  rc;
    char                *body, *before, *after;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    body = test_co_q(ctx,
        "{'model':'m','messages':[{'role':'developer','content':'s'},"
        "{'role':'user','content':[{'type':'text','text':'x'},"
        "{'type':'image_url','image_url':{'url':'https://a/b'}}]},"
        "{'role':'assistant','content':'a','tool_calls':[{'id':'c1',"
        "'type':'function','function':{'name':'f','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'c1','content':'r'}],"
        "'tools':[" WEATHER_TOOL "," TIME_TOOL "],'tool_choice':{'type':"
        "'function','function':{'name':'get_time'}},'top_p':1,"
        "'response_format':{'type':'json_schema','json_schema':{'schema':"
        "{'type':'object'}}},'stop':'x','max_completion_tokens':9}");

    assert_int_equal(llm_request_parse(&req, body, strlen(body), &err),
                     LLM_OK);

    before = cJSON_PrintUnformatted(req.root);
    assert_non_null(before);

    test_co_provider(&p, "m2");

    rc = llm_cohere_adapter.encode(&req, &p, &ctx->pool, &out, &err);

    after = cJSON_PrintUnformatted(req.root);

    llm_request_free(&req);

    assert_int_equal(rc, LLM_OK);
    assert_non_null(after);
    assert_string_equal(before, after);

    cJSON_free(before);
    cJSON_free(after);
}


static void
test_cohere_encode_nomem(void **state)
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

    body = test_co_q(ctx,
        "{'model':'m','messages':[{'role':'user','content':'x'},"
        "{'role':'assistant','content':[{'type':'text','text':'a'}],"
        "'tool_calls':[{'id':'c1','type':'function','function':{'name':"
        "'f','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'c1','content':'r'}]}");

    assert_int_equal(llm_request_parse(&req, body, strlen(body), &err),
                     LLM_OK);

    test_co_provider(&p, NULL);

    for (n = 1; n < 100; n++) {
        ctx->count = 0;
        ctx->fail_at = n;

        rc = llm_cohere_adapter.encode(&req, &p, &ctx->pool, &out, &err);

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
test_co_hooks(test_ctx_t *ctx, size_t fail_at)
{
    llm_arena_chunk_size = fail_at ? 0 : LLM_ARENA_CHUNK;
    ctx->fail_at = fail_at ? ctx->count + fail_at : 0;
}


static void
test_cohere_encode_cjson_nomem(void **state)
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

    body = test_co_q(ctx,
        "{'model':'m','messages':[{'role':'system','content':[{'type':"
        "'text','text':'s'}]},"
        "{'role':'user','content':[{'type':'text','text':'x'},"
        "{'type':'image_url','image_url':{'url':'https://a/b',"
        "'detail':'low'}}]},"
        "{'role':'assistant','content':'a','tool_calls':[{'id':'c1',"
        "'type':'function','function':{'name':'f','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'c1','content':'r'},"
        "{'role':'assistant','content':'b'}],"
        "'tools':[" WEATHER_TOOL "," TIME_TOOL "],'tool_choice':'required',"
        "'response_format':{'type':'json_schema','json_schema':{'schema':"
        "{'type':'object'}}},'stop':['x','y'],'max_tokens':5,"
        "'temperature':1,'top_p':1,'seed':1,'presence_penalty':1,"
        "'frequency_penalty':1,'stream':true}");

    assert_int_equal(llm_request_parse(&req, body, strlen(body), &err),
                     LLM_OK);

    test_co_provider(&p, NULL);

    for (n = 1; n < 1000; n++) {
        test_co_hooks(ctx, n);

        rc = llm_cohere_adapter.encode(&req, &p, &ctx->pool, &out, &err);

        test_co_hooks(ctx, 0);

        if (rc == LLM_OK) {
            break;
        }

        assert_int_equal(rc, LLM_ERROR);
        assert_int_equal(err.status, 500);
    }

    llm_request_free(&req);

    assert_true(n > 10);
    assert_int_equal(rc, LLM_OK);
}


static int
test_co_decode_run(test_ctx_t *ctx, const char *answer, const char *model,
    llm_response_t *out, llm_error_t *err)
{
    int             rc;
    char           *body, *json;
    size_t          i, len;
    llm_request_t   req;
    llm_provider_t  p;

    json = test_co_q(ctx, REQ(""));

    assert_int_equal(llm_request_parse(&req, json, strlen(json), err),
                     LLM_OK);

    test_co_provider(&p, model);

    /* no NUL after the answer */

    len = strlen(answer);
    body = test_copy(ctx, answer, len);

    for (i = 0; i < len; i++) {
        if (body[i] == '\'') {
            body[i] = '"';
        }
    }

    rc = llm_cohere_adapter.decode(&req, &p, body, len, TEST_CREATED,
                                   &ctx->pool, out, err);

    llm_request_free(&req);

    return rc;
}


static cJSON *
test_co_decode(test_ctx_t *ctx, const char *answer, llm_response_t *out)
{
    llm_error_t  err;

    if (test_co_decode_run(ctx, answer, NULL, out, &err) != LLM_OK) {
        fail_msg("decode failed: %s", err.message);
    }

    assert_non_null(out->body);
    assert_int_equal(out->body[out->body_len], '\0');

    return test_json(out->body, out->body_len);
}


static void
test_co_decode_expect(test_ctx_t *ctx, const char *answer, const char *want)
{
    const char      *w;
    llm_response_t   out;

    cJSON_Delete(test_co_decode(ctx, answer, &out));

    w = test_co_q(ctx, want);

    if (strcmp(out.body, w) != 0) {
        fail_msg("got:  %s\nwant: %s", out.body, w);
    }
}


static void
test_co_decode_reject(test_ctx_t *ctx, const char *answer)
{
    llm_error_t     err;
    llm_response_t  out;

    if (test_co_decode_run(ctx, answer, NULL, &out, &err) != LLM_ERROR) {
        fail_msg("accepted: %s", answer);
    }

    assert_int_equal(err.status, 502);
    assert_string_equal(err.type, "api_error");
    assert_string_equal(err.code, "invalid_provider_response");
    assert_non_null(strstr(err.message, "cohere"));
}


#define ANSWER_HEAD                                                           \
    "{'id':'r','object':'chat.completion','created':1767225600,"              \
    "'model':'" TEST_MODEL "','choices':[{'index':0,'message':"               \
    "{'role':'assistant','content':"


static void
test_cohere_decode_vector(void **state)
{
    llm_response_t  out;

    test_co_decode_expect(*state,
        "{'id':'c0a8e2d4-t1','finish_reason':'COMPLETE',"
        "'message':{'role':'assistant','content':[{'type':'text','text':"
        "'4 \xc2\xb0" "C in Oslo.'}]},"
        "'usage':{'billed_units':{'input_tokens':18,'output_tokens':7},"
        "'tokens':{'input_tokens':905,'output_tokens':9}}}",

        "{'id':'c0a8e2d4-t1','object':'chat.completion',"
        "'created':1767225600,'model':'" TEST_MODEL "','choices':["
        "{'index':0,'message':{'role':'assistant','content':"
        "'4 \xc2\xb0" "C in Oslo.','refusal':null},'logprobs':null,"
        "'finish_reason':'stop'}],'usage':{'prompt_tokens':18,"
        "'completion_tokens':7,'total_tokens':25}}");

    cJSON_Delete(test_co_decode(*state,
        "{'id':'c0a8e2d4-t1','finish_reason':'COMPLETE',"
        "'message':{'role':'assistant','content':[{'type':'text','text':"
        "'x'}]},'usage':{'billed_units':{'input_tokens':18,"
        "'output_tokens':7},'tokens':{'input_tokens':905,"
        "'output_tokens':9}}}", &out));

    assert_int_equal(out.usage.prompt_tokens, 18);
    assert_int_equal(out.usage.completion_tokens, 7);
    assert_int_equal(out.usage.total_tokens, 25);
    assert_int_equal(out.usage.cached_tokens, -1);
    assert_int_equal(out.usage.reasoning_tokens, -1);
}


/* tool_plan without text: the plan is the content; ids pass through */

static void
test_cohere_decode_tool_calls(void **state)
{
    test_co_decode_expect(*state,
        "{'id':'r','finish_reason':'TOOL_CALL','message':{'role':"
        "'assistant','tool_plan':'I will call get_weather.','tool_calls':["
        "{'id':'get_weather_ab12cd34ef56','type':'function','function':"
        "{'name':'get_weather','arguments':" ARGS "}},"
        "{'id':'get_time_1','type':'function','function':{'name':"
        "'get_time','arguments':'{}'}}]},"
        "'usage':{'billed_units':{'input_tokens':20,'output_tokens':15},"
        "'tokens':{'input_tokens':950,'output_tokens':15}}}",

        ANSWER_HEAD "'I will call get_weather.','refusal':null,"
        "'tool_calls':[{'id':'get_weather_ab12cd34ef56','type':'function',"
        "'function':{'name':'get_weather','arguments':" ARGS "}},"
        "{'id':'get_time_1','type':'function','function':{'name':"
        "'get_time','arguments':'{}'}}]},'logprobs':null,"
        "'finish_reason':'tool_calls'}],'usage':{'prompt_tokens':20,"
        "'completion_tokens':15,'total_tokens':35}}");

    /* no plan: content null */

    test_co_decode_expect(*state,
        "{'id':'r','finish_reason':'TOOL_CALL','message':{'role':"
        "'assistant','tool_plan':'','content':[],'tool_calls':["
        "{'id':'t1','type':'function','function':{'name':'f',"
        "'arguments':'{}'}}]}}",

        ANSWER_HEAD "null,'refusal':null,'tool_calls':[{'id':'t1',"
        "'type':'function','function':{'name':'f','arguments':'{}'}}]},"
        "'logprobs':null,'finish_reason':'tool_calls'}]}");
}


/* text and calls: the text is the content, the plan is dropped */

static void
test_cohere_decode_text_and_calls(void **state)
{
    test_co_decode_expect(*state,
        "{'id':'r','finish_reason':'TOOL_CALL','message':{'role':"
        "'assistant','tool_plan':'plan','content':[{'type':'text',"
        "'text':'Checking.'}],'tool_calls':[{'id':'t1','type':'function',"
        "'function':{'name':'f','arguments':'{}'}}]}}",

        ANSWER_HEAD "'Checking.','refusal':null,'tool_calls':[{'id':'t1',"
        "'type':'function','function':{'name':'f','arguments':'{}'}}]},"
        "'logprobs':null,'finish_reason':'tool_calls'}]}");

    /* a plan without calls is not content */

    test_co_decode_expect(*state,
        "{'id':'r','finish_reason':'COMPLETE','message':{'role':"
        "'assistant','tool_plan':'plan'}}",

        ANSWER_HEAD "null,'refusal':null},'logprobs':null,"
        "'finish_reason':'stop'}]}");
}


/* text items joined, thinking and other items skipped, citations ignored */

static void
test_cohere_decode_content(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_co_decode_expect(ctx,
        "{'id':'r','finish_reason':'COMPLETE','message':{'role':"
        "'assistant','content':[{'type':'thinking','thinking':'hmm'},"
        "{'type':'text','text':'Hel'},{'type':'image','x':1},{'text':'no'},"
        "{'type':'text','text':'lo'}],'citations':[{'start':0,'end':3,"
        "'text':'Hel','sources':[]}]},'usage':{'billed_units':"
        "{'input_tokens':1,'output_tokens':2},'cached_tokens':1}}",

        ANSWER_HEAD "'Hello','refusal':null},'logprobs':null,"
        "'finish_reason':'stop'}],'usage':{'prompt_tokens':1,"
        "'completion_tokens':2,'total_tokens':3,'prompt_tokens_details':"
        "{'cached_tokens':1}}}");

    /* empty text: "" */

    test_co_decode_expect(ctx,
        "{'id':'r','finish_reason':'COMPLETE','message':{'role':"
        "'assistant','content':[{'type':'text','text':''}]}}",

        ANSWER_HEAD "'','refusal':null},'logprobs':null,"
        "'finish_reason':'stop'}]}");

    /* a string content (not what v2 sends, taken all the same) */

    test_co_decode_expect(ctx,
        "{'id':'r','message':{'content':'plain'}}",

        ANSWER_HEAD "'plain','refusal':null},'logprobs':null,"
        "'finish_reason':'stop'}]}");

    /* only thinking: null */

    test_co_decode_expect(ctx,
        "{'id':'r','message':{'content':[{'type':'thinking','thinking':"
        "'x'}]},'finish_reason':'MAX_TOKENS'}",

        ANSWER_HEAD "null,'refusal':null},'logprobs':null,"
        "'finish_reason':'length'}]}");
}


static void
test_cohere_decode_finish(void **state)
{
    size_t           i;
    char             answer[256], want[32];
    cJSON           *root;
    test_ctx_t      *ctx;
    llm_response_t   out;

    static const char  *const map[][3] = {
        /* finish_reason, tool calls, canon */
        { "'COMPLETE'", "", "stop" },
        { "'STOP_SEQUENCE'", "", "stop" },
        { "'MAX_TOKENS'", "", "length" },
        { "'TOOL_CALL'", "", "tool_calls" },
        { "'ERROR'", "", "stop" },
        { "'TIMEOUT'", "", "stop" },
        { "'SOMETHING_NEW'", "", "stop" },
        { "null", "", "stop" },
        { "7", "", "stop" },
        { "'TOOL_CALL'", ",'tool_calls':[{'id':'a','function':"
                         "{'name':'f'}}]", "tool_calls" },
        { "'COMPLETE'", ",'tool_calls':[{'id':'a','function':"
                        "{'name':'f'}}]", "tool_calls" },
        { "null", ",'tool_calls':[{'id':'a','function':{'name':'f'}}]",
          "tool_calls" },
        { "'MAX_TOKENS'", ",'tool_calls':[{'id':'a','function':"
                          "{'name':'f'}}]", "length" }
    };

    ctx = *state;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        snprintf(answer, sizeof(answer),
                 "{'id':'r','finish_reason':%s,'message':{'content':"
                 "[{'type':'text','text':'x'}]%s}}", map[i][0], map[i][1]);

        snprintf(want, sizeof(want), "'%s'", map[i][2]);

        root = test_co_decode(ctx, answer, &out);

        test_co_equal(ctx,
                      cJSON_GetObjectItemCaseSensitive(
                          cJSON_GetArrayItem(
                              cJSON_GetObjectItemCaseSensitive(root,
                                                               "choices"),
                              0),
                          "finish_reason"),
                      want);

        cJSON_Delete(root);
    }
}


static void
test_cohere_decode_usage(void **state)
{
    test_ctx_t      *ctx;
    llm_response_t   out;

    ctx = *state;

    /* no billed_units: the raw counts */

    cJSON_Delete(test_co_decode(ctx,
        "{'id':'r','message':{},'usage':{'tokens':{'input_tokens':905,"
        "'output_tokens':9}}}", &out));

    assert_int_equal(out.usage.prompt_tokens, 905);
    assert_int_equal(out.usage.completion_tokens, 9);
    assert_int_equal(out.usage.total_tokens, 914);

    /* field by field */

    cJSON_Delete(test_co_decode(ctx,
        "{'id':'r','message':{},'usage':{'billed_units':{"
        "'output_tokens':3,'search_units':1},'tokens':{'input_tokens':50,"
        "'output_tokens':4}}}", &out));

    assert_int_equal(out.usage.prompt_tokens, 50);
    assert_int_equal(out.usage.completion_tokens, 3);
    assert_int_equal(out.usage.total_tokens, 53);

    /* nothing: not reported, every count -1, no "usage" rendered */

    cJSON_Delete(test_co_decode(ctx, "{'id':'r','message':{}}", &out));

    assert_int_equal(out.usage.prompt_tokens, -1);
    assert_int_equal(out.usage.completion_tokens, -1);
    assert_int_equal(out.usage.total_tokens, -1);
    assert_int_equal(out.usage.cached_tokens, -1);
    assert_int_equal(out.usage.cache_write_tokens, -1);
    assert_null(strstr(out.body, "\"usage\""));

    /* odd values are not counts: only cached_tokens, not usage */

    cJSON_Delete(test_co_decode(ctx,
        "{'id':'r','message':{},'usage':{'billed_units':{'input_tokens':"
        "-5,'output_tokens':'7'},'tokens':[],'cached_tokens':12}}", &out));

    assert_int_equal(out.usage.prompt_tokens, -1);
    assert_int_equal(out.usage.completion_tokens, -1);
    assert_int_equal(out.usage.cached_tokens, -1);
    assert_null(strstr(out.body, "\"usage\""));

    /* one count reported: the other renders 0 */

    cJSON_Delete(test_co_decode(ctx,
        "{'id':'r','message':{},'usage':{'billed_units':{'input_tokens':"
        "-5,'output_tokens':7},'cached_tokens':12}}", &out));

    assert_int_equal(out.usage.prompt_tokens, 0);
    assert_int_equal(out.usage.completion_tokens, 7);
    assert_int_equal(out.usage.total_tokens, 7);
    assert_int_equal(out.usage.cached_tokens, 12);
    assert_int_equal(out.usage.cache_write_tokens, -1);
}


static void
test_cohere_decode_ids(void **state)
{
    cJSON           *a, *b, *call;
    test_ctx_t      *ctx;
    const char      *id, *cid;
    llm_response_t   out;

    static const char  answer[] =
        "{'message':{'tool_calls':[{'type':'function','function':{'name':"
        "'f','arguments':{'x':[1,2]}}},{'id':'','function':{'name':'g'}}]},"
        "'finish_reason':'TOOL_CALL'}";

    ctx = *state;

    a = test_co_decode(ctx, answer, &out);
    b = test_co_decode(ctx, answer, &out);

    assert_true(cJSON_Compare(a, b, 1));

    id = cJSON_GetObjectItemCaseSensitive(a, "id")->valuestring;

    assert_int_equal(strlen(id), sizeof("chatcmpl-") - 1 + 16);
    assert_memory_equal(id, "chatcmpl-", 9);

    call = cJSON_GetObjectItemCaseSensitive(
               cJSON_GetObjectItemCaseSensitive(
                   cJSON_GetArrayItem(
                       cJSON_GetObjectItemCaseSensitive(a, "choices"), 0),
                   "message"),
               "tool_calls");

    cid = cJSON_GetObjectItemCaseSensitive(call->child, "id")->valuestring;

    assert_int_equal(strlen(cid), LLM_TOOL_CALL_ID_LEN);
    assert_memory_equal(cid, "call_", 5);
    assert_string_not_equal(cid,
        cJSON_GetObjectItemCaseSensitive(call->child->next, "id")
            ->valuestring);

    /* arguments given as an object: serialised */

    test_co_equal(ctx,
                  cJSON_GetObjectItemCaseSensitive(
                      cJSON_GetObjectItemCaseSensitive(call->child,
                                                       "function"),
                      "arguments"),
                  "'{\\'x\\':[1,2]}'");

    test_co_equal(ctx,
                  cJSON_GetObjectItemCaseSensitive(
                      cJSON_GetObjectItemCaseSensitive(call->child->next,
                                                       "function"),
                      "arguments"),
                  "'{}'");

    cJSON_Delete(a);
    cJSON_Delete(b);
}


static void
test_cohere_decode_model(void **state)
{
    cJSON           *root;
    test_ctx_t      *ctx;
    llm_error_t      err;
    llm_request_t    req;
    llm_provider_t   p;
    llm_response_t   out;

    static const char  answer[] = "{\"id\":\"r\",\"message\":{}}";

    ctx = *state;

    assert_int_equal(test_co_decode_run(ctx, answer, "configured-1", &out,
                                        &err),
                     LLM_OK);

    root = test_json(out.body, out.body_len);
    test_co_equal(ctx, cJSON_GetObjectItemCaseSensitive(root, "model"),
                  "'configured-1'");
    cJSON_Delete(root);

    /* no model anywhere */

    memset(&req, 0, sizeof(llm_request_t));
    test_co_provider(&p, NULL);

    assert_int_equal(llm_cohere_adapter.decode(&req, &p, answer,
                                               strlen(answer), 3,
                                               &ctx->pool, &out, &err),
                     LLM_OK);

    root = test_json(out.body, out.body_len);
    test_co_equal(ctx, cJSON_GetObjectItemCaseSensitive(root, "model"),
                  "''");
    test_co_equal(ctx, cJSON_GetObjectItemCaseSensitive(root, "created"),
                  "3");
    cJSON_Delete(root);
}


static void
test_cohere_decode_invalid(void **state)
{
    size_t       i;
    test_ctx_t  *ctx;

    static const char  *const bad[] = {
        "",
        "nope",
        "{'id':'r','message':{}",
        "{'id':'r','message':{}} x",
        "{'message':'\xff'}",
        "[]",
        "null",
        "{}",
        "{'id':'r'}",
        "{'id':'r','message':null}",
        "{'id':'r','message':[]}",
        "{'id':'r','message':'hi'}",
        "{'id':'r','message':{'content':{}}}",
        "{'id':'r','message':{'content':7}}",
        "{'id':'r','message':{'content':[7]}}",
        "{'id':'r','message':{'content':[{'type':'text'}]}}",
        "{'id':'r','message':{'content':[{'type':'text','text':7}]}}",
        "{'id':'r','message':{'tool_calls':{}}}",
        "{'id':'r','message':{'tool_calls':[7]}}",
        "{'id':'r','message':{'tool_calls':[{'id':'a'}]}}",
        "{'id':'r','message':{'tool_calls':[{'function':{'name':7}}]}}"
    };

    ctx = *state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        test_co_decode_reject(ctx, bad[i]);
    }
}


static void
test_cohere_decode_nomem(void **state)
{
    int              rc;
    size_t           n;
    test_ctx_t      *ctx;
    llm_error_t      err;
    llm_response_t   out;

    static const char  answer[] =
        "{'message':{'content':[{'type':'text','text':'a'}],'tool_calls':["
        "{'function':{'name':'f','arguments':{'x':1}}},{'id':'b',"
        "'function':{'name':'g','arguments':'{}'}}]},"
        "'finish_reason':'TOOL_CALL'}";

    ctx = *state;

    for (n = 1; n < 100; n++) {
        ctx->count = 0;
        ctx->fail_at = n;

        rc = test_co_decode_run(ctx, answer, NULL, &out, &err);

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
test_cohere_decode_cjson_nomem(void **state)
{
    int              rc;
    size_t           n;
    test_ctx_t      *ctx;
    llm_error_t      err;
    llm_request_t    req;
    llm_provider_t   p;
    llm_response_t   out;

    static const char  answer[] =
        "{\"id\":\"r\",\"message\":{\"content\":[{\"type\":\"text\","
        "\"text\":\"a\"}],\"tool_calls\":[{\"function\":{\"name\":\"f\","
        "\"arguments\":{\"x\":[1,{}]}}}]},\"usage\":{\"billed_units\":"
        "{\"input_tokens\":1}}}";

    ctx = *state;

    memset(&req, 0, sizeof(llm_request_t));
    test_co_provider(&p, "m");

    for (n = 1; n < 1000; n++) {
        test_co_hooks(ctx, n);

        rc = llm_cohere_adapter.decode(&req, &p, answer, strlen(answer), 1,
                                       &ctx->pool, &out, &err);

        test_co_hooks(ctx, 0);

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
test_co_error(test_ctx_t *ctx, int status, const char *body, int retryable,
    const char *type, const char *code, const char *message)
{
    char                  *b;
    size_t                 len;
    llm_provider_error_t   out;

    b = test_co_q(ctx, body);
    len = strlen(b);
    b = test_copy(ctx, b, len);

    memset(&out, 0xa5, sizeof(llm_provider_error_t));

    assert_int_equal(llm_cohere_adapter.error(status, b, len, &ctx->pool,
                                              &out),
                     LLM_OK);

    if (out.retryable != retryable) {
        fail_msg("retryable %d for %d %s", out.retryable, status, body);
    }

    assert_int_equal(out.body[out.body_len], '\0');

    test_check_error_json(out.body, out.body_len, type, NULL, code, message);
}


static void
test_cohere_errors(void **state)
{
    test_ctx_t  *ctx;

    ctx = *state;

    test_co_error(ctx, 400,
        "{'id':'e1','message':'invalid request: message must not be "
        "empty'}",
        0, "invalid_request_error", NULL,
        "invalid request: message must not be empty");

    test_co_error(ctx, 401, "{'id':'mock','message':'no api key supplied'}",
                  0, "authentication_error", NULL, "no api key supplied");

    /* 498: an invalid token */

    test_co_error(ctx, 498, "{'message':'invalid api token'}", 0,
                  "authentication_error", NULL, "invalid api token");

    test_co_error(ctx, 429,
                  "{'id':'e2','message':'You are using a Trial key, which "
                  "is limited to 10 API calls / minute.'}",
                  1, "rate_limit_error", "rate_limit_exceeded",
                  "You are using a Trial key, which is limited to 10 API "
                  "calls / minute.");

    test_co_error(ctx, 422, "{'message':'invalid type'}", 0,
                  "invalid_request_error", NULL, "invalid type");

    test_co_error(ctx, 499, "{'message':'request cancelled'}", 0,
                  "invalid_request_error", NULL, "request cancelled");

    test_co_error(ctx, 404, "{'message':'model not found'}", 0,
                  "invalid_request_error", NULL, "model not found");

    test_co_error(ctx, 403, "{}", 0, "permission_error", NULL,
                  "The upstream provider returned HTTP 403");

    test_co_error(ctx, 500, "{'id':'e3','message':'internal server error'}",
                  1, "server_error", NULL, "internal server error");

    test_co_error(ctx, 503, "{'message':'service unavailable'}", 1,
                  "server_error", NULL, "service unavailable");

    test_co_error(ctx, 504, "", 1, "server_error", NULL,
                  "The upstream provider returned HTTP 504");

    test_co_error(ctx, 501, "{'message':'not implemented'}", 0,
                  "server_error", NULL, "not implemented");

    test_co_error(ctx, 502, "<html>bad gateway</html>", 1, "server_error",
                  NULL, "The upstream provider returned HTTP 502");
}


void
test_cohere_register(void)
{
    TEST_ADD(test_cohere_vector);
    TEST_ADD(test_cohere_path);
    TEST_ADD(test_cohere_auth);
    TEST_ADD(test_cohere_model);
    TEST_ADD(test_cohere_unparsed);
    TEST_ADD(test_cohere_roles);
    TEST_ADD(test_cohere_content_parts);
    TEST_ADD(test_cohere_images);
    TEST_ADD(test_cohere_assistant);
    TEST_ADD(test_cohere_bad_calls);
    TEST_ADD(test_cohere_tool_messages);
    TEST_ADD(test_cohere_n);
    TEST_ADD(test_cohere_options);
    TEST_ADD(test_cohere_max_tokens_default);
    TEST_ADD(test_cohere_tools);
    TEST_ADD(test_cohere_tool_choice);
    TEST_ADD(test_cohere_response_format);
    TEST_ADD(test_cohere_dropped);
    TEST_ADD(test_cohere_not_mutated);
    TEST_ADD(test_cohere_encode_nomem);
    TEST_ADD(test_cohere_encode_cjson_nomem);
    TEST_ADD(test_cohere_decode_vector);
    TEST_ADD(test_cohere_decode_tool_calls);
    TEST_ADD(test_cohere_decode_text_and_calls);
    TEST_ADD(test_cohere_decode_content);
    TEST_ADD(test_cohere_decode_finish);
    TEST_ADD(test_cohere_decode_usage);
    TEST_ADD(test_cohere_decode_ids);
    TEST_ADD(test_cohere_decode_model);
    TEST_ADD(test_cohere_decode_invalid);
    TEST_ADD(test_cohere_decode_nomem);
    TEST_ADD(test_cohere_decode_cjson_nomem);
    TEST_ADD(test_cohere_errors);
}
