
/*
 * ngx_http_llm_router_module: tests of the response cache's core
 * (llm_cache.c): the key of a request, a cached answer as a stream, a
 * streamed answer assembled, and the round trip of the two.
 *
 * JSON in the tests is written with ' for " (test_cache_q()).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"


#define TEST_CREATED  1767225600LL

#define MSGS          "'messages':[{'role':'user','content':'Hi'}]"

#define HEAD                                                                  \
    "data: {'id':'chatcmpl-c1','object':'chat.completion.chunk',"             \
    "'created':1767225600,'model':'gpt-x',"

#define DONE          "data: [DONE]\n\n"


/* the data of a chunk, with its delta and finish_reason */

#define CHUNK(delta, finish)                                                  \
    "{'id':'chatcmpl-c1','object':'chat.completion.chunk',"                   \
    "'created':1767225600,'model':'gpt-x','choices':[{'index':0,"             \
    "'delta':" delta ",'logprobs':null,'finish_reason':" finish "}]}"

#define ANSWER(message, finish, usage)                                        \
    "{'id':'chatcmpl-c1','object':'chat.completion',"                         \
    "'created':1767225600,'model':'gpt-x','choices':[{'index':0,"             \
    "'message':{'role':'assistant'," message "},'logprobs':null,"             \
    "'finish_reason':'" finish "'}]" usage "}"

#define USAGE                                                                 \
    ",'usage':{'prompt_tokens':5,'completion_tokens':7,'total_tokens':12,"    \
    "'prompt_tokens_details':{'cached_tokens':2}}"


typedef struct {
    test_ctx_t         *ctx;
    llm_cache_acc_t    *acc;
    int                 rc;
    size_t              nevents;
} test_feed_t;


static char *test_cache_q(test_ctx_t *ctx, const char *s);
static char *test_cache_key_of(test_ctx_t *ctx, const char *body,
    double max_temperature, int *rc, const char **why);
static void test_cache_key_is(test_ctx_t *ctx, const char *body,
    const char *want);
static void test_cache_key_declined(test_ctx_t *ctx, const char *body,
    double max_temperature, const char *why);
static char *test_cache_stream_of(test_ctx_t *ctx, const char *body,
    int include_usage, int *rc);
static void test_cache_stream_is(test_ctx_t *ctx, const char *body,
    int include_usage, const char *want);
static int test_cache_feed_event(void *data, const llm_sse_event_t *ev);
static int test_cache_feed(test_ctx_t *ctx, llm_cache_acc_t *acc,
    const char *sse, size_t len);
static int test_cache_chunks(test_ctx_t *ctx, const char *const *chunks,
    size_t size, char **body, size_t *len);
static void test_cache_roundtrip_one(test_ctx_t *ctx, const char *answer);
static void test_cache_key_same(void **state);
static void test_cache_key_text(void **state);
static void test_cache_key_strings(void **state);
static void test_cache_key_numbers(void **state);
static void test_cache_key_differ(void **state);
static void test_cache_key_sort(void **state);
static void test_cache_key_rules(void **state);
static void test_cache_key_nul(void **state);
static void test_cache_key_nomem(void **state);
static void test_cache_stream_content(void **state);
static void test_cache_stream_usage(void **state);
static void test_cache_stream_refusal(void **state);
static void test_cache_stream_tools(void **state);
static void test_cache_stream_unicode(void **state);
static void test_cache_stream_damaged(void **state);
static void test_cache_stream_truncated(void **state);
static void test_cache_stream_nomem(void **state);
static void test_cache_acc_split(void **state);
static void test_cache_acc_tools(void **state);
static void test_cache_acc_refusal(void **state);
static void test_cache_acc_size(void **state);
static void test_cache_acc_declined(void **state);
static void test_cache_acc_translated(void **state);
static void test_cache_roundtrip(void **state);


/* ' for " */

static char *
test_cache_q(test_ctx_t *ctx, const char *s)
{
    char    *p;
    size_t   i, len;

    len = strlen(s);
    p = test_cstr(ctx, s, len);

    for (i = 0; i < len; i++) {
        if (p[i] == '\'') {
            p[i] = '"';
        }
    }

    return p;
}


static char *
test_cache_key_of(test_ctx_t *ctx, const char *body, double max_temperature,
    int *rc, const char **why)
{
    int             r;
    char           *key, *b;
    size_t          len;
    llm_error_t     err;
    llm_request_t   req;

    b = test_cache_q(ctx, body);

    r = llm_request_parse_pool(&req, b, strlen(b), &ctx->pool, &err);
    if (r != LLM_OK) {
        fail_msg("request does not parse: %s: %s", err.message, body);
    }

    key = NULL;
    len = 0;

    *rc = llm_cache_key(&req, max_temperature, &ctx->pool, &key, &len, why);

    llm_request_free(&req);

    if (*rc == LLM_OK) {
        assert_non_null(key);
        assert_int_equal(strlen(key), len);

        /* the key is strict JSON */
        assert_int_equal(llm_json_validate(key, len, NULL), LLM_OK);

    } else {
        assert_null(key);
    }

    return key;
}


static void
test_cache_key_is(test_ctx_t *ctx, const char *body, const char *want)
{
    int          rc;
    char        *key;
    const char  *why;

    key = test_cache_key_of(ctx, body, 0, &rc, &why);

    assert_int_equal(rc, LLM_OK);
    assert_null(why);
    assert_string_equal(key, test_cache_q(ctx, want));
}


static void
test_cache_key_declined(test_ctx_t *ctx, const char *body,
    double max_temperature, const char *why)
{
    int          rc;
    const char  *w;

    test_cache_key_of(ctx, body, max_temperature, &rc, &w);

    assert_int_equal(rc, LLM_DECLINED);
    assert_non_null(w);
    assert_string_equal(w, why);
}


/* the same meaning in other bytes: the same key */

static void
test_cache_key_same(void **state)
{
    int          rc;
    char        *base, *key;
    size_t       i;
    test_ctx_t  *ctx = *state;

    static const char  *const same[] = {

        /* keys in another order */
        "{'temperature':0,'messages':[{'content':'h\\u00e9 /x','role':"
        "'user'}],'max_tokens':100,'model':'gpt-x'}",

        /* whitespace */
        " {\n\t'model' : 'gpt-x' ,\r\n 'messages' : [ { 'role' : 'user' , "
        "'content' : 'h\\u00e9 /x' } ] , 'max_tokens' : 100 , "
        "'temperature' : 0 }\n",

        /* escapes: the character itself, \/ for / */
        "{'model':'gpt-x','messages':[{'role':'user','content':"
        "'h\xc3\xa9 \\/x'}],'max_tokens':100,'temperature':0}",

        "{'model':'\\u0067pt-x','messages':[{'role':'\\u0075ser',"
        "'\\u0063ontent':'h\\u00E9\\u0020/x'}],'max_tokens':100,"
        "'temperature':0}",

        /* number forms */
        "{'model':'gpt-x','messages':[{'role':'user','content':"
        "'h\\u00e9 /x'}],'max_tokens':1e2,'temperature':0.0}",

        "{'model':'gpt-x','messages':[{'role':'user','content':"
        "'h\\u00e9 /x'}],'max_tokens':100.000,'temperature':-0}",

        "{'model':'gpt-x','messages':[{'role':'user','content':"
        "'h\\u00e9 /x'}],'max_tokens':1000E-1,'temperature':0e5}",

        "{'model':'gpt-x','messages':[{'role':'user','content':"
        "'h\\u00e9 /x'}],'max_tokens':10E+1,'temperature':-0.0}",

        /* the members that do not change the answer, and nulls */
        "{'model':'gpt-x','messages':[{'role':'user','content':"
        "'h\\u00e9 /x'}],'max_tokens':100,'temperature':0,'stream':true,"
        "'stream_options':{'include_usage':true},'user':'u-1',"
        "'metadata':{'k':'v'},'store':true,'service_tier':'flex',"
        "'prompt_cache_key':'pck','safety_identifier':'sid'}",

        "{'model':'gpt-x','stream':false,'messages':[{'role':'user',"
        "'content':'h\\u00e9 /x'}],'max_tokens':100,'temperature':0,"
        "'top_p':null,'n':null,'seed':null,'stop':null,'tools':null}",

        /* a byte order mark */
        "\xef\xbb\xbf{'model':'gpt-x','messages':[{'role':'user','content':"
        "'h\\u00e9 /x'}],'max_tokens':100,'temperature':0}",
    };

    base = test_cache_key_of(ctx, "{'model':'gpt-x','messages':[{'role':"
                             "'user','content':'h\\u00e9 /x'}],"
                             "'max_tokens':100,'temperature':0}",
                             0, &rc, NULL);
    assert_int_equal(rc, LLM_OK);

    for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        key = test_cache_key_of(ctx, same[i], 0, &rc, NULL);

        assert_int_equal(rc, LLM_OK);

        if (strcmp(key, base) != 0) {
            fail_msg("key %lu differs: %s\n  from %s", (unsigned long) i,
                     key, base);
        }
    }
}


/* the canonical text itself */

static void
test_cache_key_text(void **state)
{
    test_ctx_t  *ctx = *state;

    test_cache_key_is(ctx,
        "{'model':'m','messages':[{'role':'user','content':'Hi'}]}",
        "{'messages':[{'content':'Hi','role':'user'}],'model':'m'}");

    /* nested objects sorted, nested nulls kept, arrays in order */

    test_cache_key_is(ctx,
        "{'model':'m'," MSGS ",'tools':[{'type':'function','function':"
        "{'name':'f','parameters':{'type':'object','properties':{'b':"
        "{'type':'string','default':null},'a':{'type':'integer'}},"
        "'required':['b','a']}}}],'stream':true,'z':[true,false,null,{}],"
        "'a':[]}",
        "{'a':[],'messages':[{'content':'Hi','role':'user'}],'model':'m',"
        "'tools':[{'function':{'name':'f','parameters':{'properties':{'a':"
        "{'type':'integer'},'b':{'default':null,'type':'string'}},"
        "'required':['b','a'],'type':'object'}},'type':'function'}],"
        "'z':[true,false,null,{}]}");

    /* the left-out names are left out at the top level only */

    test_cache_key_is(ctx,
        "{'model':'m'," MSGS ",'response_format':{'type':'json_schema',"
        "'json_schema':{'name':'s','schema':{'properties':{'stream':{},"
        "'user':{}}}}},'user':'u'}",
        "{'messages':[{'content':'Hi','role':'user'}],'model':'m',"
        "'response_format':{'json_schema':{'name':'s','schema':"
        "{'properties':{'stream':{},'user':{}}}},'type':'json_schema'}}");

    /* strings escaped again from their value */

    test_cache_key_is(ctx,
        "{'model':'m','messages':[{'role':'user','content':"
        "'\\'q\\' \\\\ \\/ \\b\\f\\n\\r\\t \\u0001\\u001f \\u00e9 "
        "\\ud83d\\ude00 \\u2028'}]}",
        "{'messages':[{'content':'\\'q\\' \\\\ / \\b\\f\\n\\r\\t "
        "\\u0001\\u001f \xc3\xa9 \xf0\x9f\x98\x80 \xe2\x80\xa8',"
        "'role':'user'}],'model':'m'}");

    /* names bytewise: upper case before lower, UTF-8 after ASCII */

    test_cache_key_is(ctx,
        "{'model':'m'," MSGS ",'x':{'\\u00e9':1,'b':2,'B':3,'':4,"
        "'ab':5,'a':6}}",
        "{'messages':[{'content':'Hi','role':'user'}],'model':'m',"
        "'x':{'':4,'B':3,'a':6,'ab':5,'b':2,'\xc3\xa9':1}}");
}


/* strings of any length, escapes and UTF-8 anywhere in them */

static void
test_cache_key_strings(void **state)
{
    int          rc;
    char        *key, *body, *want, *p, *q;
    size_t       i, n;
    test_ctx_t  *ctx = *state;

    /* characters across the 16th byte */

    test_cache_key_is(ctx,
        "{'model':'aaaaaaaaaaaaaaa\\u00e9x','messages':[{'role':'user',"
        "'content':'aaaaaaaaaaaaaa\\ud83d\\ude00y'}],'aaaaaaaaaaaaaaaa\\n':"
        "'aaaaaaaaaaaaaaa\\n\\\\'}",
        "{'aaaaaaaaaaaaaaaa\\n':'aaaaaaaaaaaaaaa\\n\\\\',"
        "'messages':[{'content':'aaaaaaaaaaaaaa\xf0\x9f\x98\x80y',"
        "'role':'user'}],'model':'aaaaaaaaaaaaaaa\xc3\xa9x'}");

    test_cache_key_is(ctx,
        "{'model':'','messages':[{'role':'user','content':"
        "'aaaaaaaaaaaaaaa\xe2\x82\xac'}]}",
        "{'messages':[{'content':'aaaaaaaaaaaaaaa\xe2\x82\xac',"
        "'role':'user'}],'model':''}");

    /*
     * Long strings of escapes, each as long in the key as in the body, at
     * any length: the key's buffer is measured, never overrun.
     */

    for (n = 0; n < 300; n += 7) {
        body = test_copy(ctx, NULL, 64 + n * 12);
        want = test_copy(ctx, NULL, 64 + n * 12);

        p = body + sprintf(body, "{\"model\":\"m\",\"messages\":[{\"role\":"
                           "\"user\",\"content\":\"");
        q = want + sprintf(want, "{'messages':[{'content':'");

        for (i = 0; i < n; i++) {
            p += sprintf(p, (i & 1) ? "\\u001f" : "\\\"x");
            q += sprintf(q, (i & 1) ? "\\u001f" : "\\'x");
        }

        sprintf(p, "\"}]}");
        sprintf(q, "','role':'user'}],'model':'m'}");

        key = test_cache_key_of(ctx, body, 0, &rc, NULL);
        assert_int_equal(rc, LLM_OK);
        assert_string_equal(key, test_cache_q(ctx, want));
    }
}


static void
test_cache_key_numbers(void **state)
{
    test_ctx_t  *ctx = *state;

    test_cache_key_is(ctx,
        "{'model':'m'," MSGS ",'x':[0,-0,0.0,-0.0,0e10,1,1.0,1e0,10E-1,"
        "-1,-1.5,0.1,1.5e-7,100,1e2,1e15,9007199254740992,"
        "9007199254740993,1e300,1E400,-1e400,0.30000000000000004,"
        "123456789012345678,2.5e-320]}",
        "{'messages':[{'content':'Hi','role':'user'}],'model':'m',"
        "'x':[0,0,0,0,0,1,1,1,1,-1,-1.5,0.1,1.5e-07,100,100,"
        "1000000000000000,9007199254740992,9007199254740992,1e+300,"
        "1e999,-1e999,0.30000000000000004,1.2345678901234568e+17,"
        "2.49997216795671e-320]}");

    /* numbers written longer than they came: the key grows past the body */

    test_cache_key_is(ctx,
        "{'model':'m'," MSGS ",'x':[1e15,1e15,1e15,1e15,1e15,1e15,1e15,"
        "1e15,1e15,1e15,1e15,1e15,1e15,1e15,1e15,1e15,1e15,1e15,1e15,"
        "1e15]}",
        "{'messages':[{'content':'Hi','role':'user'}],'model':'m',"
        "'x':[1000000000000000,1000000000000000,1000000000000000,"
        "1000000000000000,1000000000000000,1000000000000000,"
        "1000000000000000,1000000000000000,1000000000000000,"
        "1000000000000000,1000000000000000,1000000000000000,"
        "1000000000000000,1000000000000000,1000000000000000,"
        "1000000000000000,1000000000000000,1000000000000000,"
        "1000000000000000,1000000000000000]}");
}


/* each field that changes the answer changes the key */

static void
test_cache_key_differ(void **state)
{
    int          rc;
    char        *keys[64];
    size_t       i, j, n;
    test_ctx_t  *ctx = *state;

#define BASE_MSGS                                                             \
    "'messages':[{'role':'system','content':'Be brief.'},"                    \
    "{'role':'user','content':'Hi'}]"

    static const char  *const bodies[] = {
        "{'model':'gpt-x'," BASE_MSGS "}",
        "{'model':'gpt-y'," BASE_MSGS "}",
        "{'model':'GPT-X'," BASE_MSGS "}",
        "{'model':'gpt-x','messages':[{'role':'system','content':"
        "'Be brief!'},{'role':'user','content':'Hi'}]}",
        "{'model':'gpt-x','messages':[{'role':'developer','content':"
        "'Be brief.'},{'role':'user','content':'Hi'}]}",
        "{'model':'gpt-x','messages':[{'role':'system','content':"
        "'Be brief.'},{'role':'user','content':'Hi','name':'bob'}]}",
        "{'model':'gpt-x','messages':[{'role':'user','content':'Hi'},"
        "{'role':'system','content':'Be brief.'}]}",
        "{'model':'gpt-x','messages':[{'role':'system','content':"
        "'Be brief.'},{'role':'user','content':[{'type':'text',"
        "'text':'Hi'}]}]}",
        "{'model':'gpt-x','messages':[{'role':'system','content':"
        "'Be brief.'},{'role':'user','content':'Hi'},{'role':'assistant',"
        "'content':'Hello'},{'role':'user','content':'Hi'}]}",
        "{'model':'gpt-x','messages':[{'role':'system','content':"
        "'Be brief.'},{'role':'user','content':'Hi'},{'role':'assistant',"
        "'content':null,'tool_calls':[{'id':'call_1','type':'function',"
        "'function':{'name':'f','arguments':'{}'}}]},{'role':'tool',"
        "'tool_call_id':'call_1','content':'42'}]}",
        "{'model':'gpt-x','messages':[{'role':'system','content':"
        "'Be brief.'},{'role':'user','content':'Hi'},{'role':'assistant',"
        "'content':null,'tool_calls':[{'id':'call_1','type':'function',"
        "'function':{'name':'f','arguments':'{}'}}]},{'role':'tool',"
        "'tool_call_id':'call_1','content':'43'}]}",
        "{'model':'gpt-x','messages':[{'role':'system','content':"
        "'Be brief.'},{'role':'user','content':'Hi'},{'role':'assistant',"
        "'content':null,'tool_calls':[{'id':'call_2','type':'function',"
        "'function':{'name':'f','arguments':'{}'}}]},{'role':'tool',"
        "'tool_call_id':'call_2','content':'42'}]}",
        "{'model':'gpt-x'," BASE_MSGS ",'temperature':0}",
        "{'model':'gpt-x'," BASE_MSGS ",'temperature':0.5}",
        "{'model':'gpt-x'," BASE_MSGS ",'top_p':0.5}",
        "{'model':'gpt-x'," BASE_MSGS ",'top_p':1}",
        "{'model':'gpt-x'," BASE_MSGS ",'max_tokens':10}",
        "{'model':'gpt-x'," BASE_MSGS ",'max_tokens':11}",
        "{'model':'gpt-x'," BASE_MSGS ",'max_completion_tokens':10}",
        "{'model':'gpt-x'," BASE_MSGS ",'response_format':"
        "{'type':'json_object'}}",
        "{'model':'gpt-x'," BASE_MSGS ",'response_format':{'type':'text'}}",
        "{'model':'gpt-x'," BASE_MSGS ",'seed':1}",
        "{'model':'gpt-x'," BASE_MSGS ",'seed':2}",
        "{'model':'gpt-x'," BASE_MSGS ",'stop':'x'}",
        "{'model':'gpt-x'," BASE_MSGS ",'stop':['x']}",
        "{'model':'gpt-x'," BASE_MSGS ",'stop':['x','y']}",
        "{'model':'gpt-x'," BASE_MSGS ",'stop':['y','x']}",
        "{'model':'gpt-x'," BASE_MSGS ",'tools':[{'type':'function',"
        "'function':{'name':'f','parameters':{'type':'object'}}}]}",
        "{'model':'gpt-x'," BASE_MSGS ",'tools':[{'type':'function',"
        "'function':{'name':'g','parameters':{'type':'object'}}}]}",
        "{'model':'gpt-x'," BASE_MSGS ",'tools':[{'type':'function',"
        "'function':{'name':'f','parameters':{'type':'object'}}}],"
        "'tool_choice':'required'}",
        "{'model':'gpt-x'," BASE_MSGS ",'tools':[{'type':'function',"
        "'function':{'name':'f','parameters':{'type':'object'}}}],"
        "'parallel_tool_calls':false}",
        "{'model':'gpt-x'," BASE_MSGS ",'frequency_penalty':0.5}",
        "{'model':'gpt-x'," BASE_MSGS ",'presence_penalty':0.5}",
        "{'model':'gpt-x'," BASE_MSGS ",'logit_bias':{'50256':-100}}",
        "{'model':'gpt-x'," BASE_MSGS ",'reasoning_effort':'low'}",
        "{'model':'gpt-x'," BASE_MSGS ",'n':1}",
        "{'model':'gpt-x'," BASE_MSGS ",'logprobs':false}",
        "{'model':'gpt-x'," BASE_MSGS ",'an_unknown_field':1}",
        "{'model':'gpt-x'," BASE_MSGS ",'an_unknown_field':'1'}",
        "{'model':'gpt-x'," BASE_MSGS ",'x':{'a':1,'a':2}}",
        "{'model':'gpt-x'," BASE_MSGS ",'x':{'a':2,'a':1}}",
        "{'model':'gpt-x'," BASE_MSGS ",'x':{'a':null}}",
        "{'model':'gpt-x'," BASE_MSGS ",'x':{}}",
    };

    n = sizeof(bodies) / sizeof(bodies[0]);
    assert_true(n <= sizeof(keys) / sizeof(keys[0]));

    for (i = 0; i < n; i++) {
        keys[i] = test_cache_key_of(ctx, bodies[i], -1, &rc, NULL);
        assert_int_equal(rc, LLM_OK);

        for (j = 0; j < i; j++) {
            if (strcmp(keys[i], keys[j]) == 0) {
                fail_msg("bodies %lu and %lu have the same key %s",
                         (unsigned long) j, (unsigned long) i, keys[i]);
            }
        }
    }

#undef BASE_MSGS
}


/* objects of many members, in any order: sorted alike */

static void
test_cache_key_sort(void **state)
{
    int          rc;
    char        *body, *key, *want, *p;
    size_t       i, k, n, size;
    unsigned     seed, t;
    unsigned     order[300];
    test_ctx_t  *ctx = *state;

    n = sizeof(order) / sizeof(order[0]);
    size = 64 + n * 24;

    want = NULL;

    for (seed = 1; seed <= 6; seed++) {

        /* a random order of the members k0 .. k299 (seed 1: in order) */

        for (i = 0; i < n; i++) {
            order[i] = (unsigned) i;
        }

        srand(seed);

        for (i = n - 1; seed > 1 && i > 0; i--) {
            k = (size_t) rand() % (i + 1);
            t = order[i];
            order[i] = order[k];
            order[k] = t;
        }

        body = test_copy(ctx, NULL, size);
        p = body;
        p += sprintf(p, "{'model':'m'," MSGS ",'o':{");

        for (i = 0; i < n; i++) {
            p += sprintf(p, "%s'k%u':%u", i ? "," : "", order[i], order[i]);
        }

        sprintf(p, "}}");

        key = test_cache_key_of(ctx, body, 0, &rc, NULL);
        assert_int_equal(rc, LLM_OK);

        if (want == NULL) {
            want = key;

            /* bytewise: k0 k1 k10 k100 k101 ... */
            assert_non_null(strstr(key, "{\"k0\":0,\"k1\":1,\"k10\":10,"
                                        "\"k100\":100,\"k101\":101,"));
            assert_non_null(strstr(key, "\"k98\":98,\"k99\":99}}"));

        } else {
            assert_string_equal(key, want);
        }
    }
}


static void
test_cache_key_rules(void **state)
{
    int          rc;
    test_ctx_t  *ctx = *state;

    test_cache_key_declined(ctx, "{'model':'m'," MSGS ",'n':2}", 0, "n");
    test_cache_key_declined(ctx, "{'model':'m'," MSGS ",'n':2}", -1, "n");
    test_cache_key_declined(ctx, "{'model':'m'," MSGS ",'n':128}", 0, "n");

    test_cache_key_of(ctx, "{'model':'m'," MSGS ",'n':1}", 0, &rc, NULL);
    assert_int_equal(rc, LLM_OK);

    test_cache_key_of(ctx, "{'model':'m'," MSGS ",'n':1.0}", 0, &rc, NULL);
    assert_int_equal(rc, LLM_OK);

    test_cache_key_of(ctx, "{'model':'m'," MSGS ",'n':null}", 0, &rc,
                      NULL);
    assert_int_equal(rc, LLM_OK);

    /* temperature: at most max_temperature; a negative one: any */

    test_cache_key_declined(ctx, "{'model':'m'," MSGS ",'temperature':0.7}",
                            0, "temperature");
    test_cache_key_declined(ctx, "{'model':'m'," MSGS ",'temperature':0.7}",
                            0.5, "temperature");
    test_cache_key_declined(ctx, "{'model':'m'," MSGS ",'temperature':1e-9}",
                            0, "temperature");

    test_cache_key_of(ctx, "{'model':'m'," MSGS ",'temperature':0.7}", 0.7,
                      &rc, NULL);
    assert_int_equal(rc, LLM_OK);

    test_cache_key_of(ctx, "{'model':'m'," MSGS ",'temperature':2}", -1,
                      &rc, NULL);
    assert_int_equal(rc, LLM_OK);

    test_cache_key_of(ctx, "{'model':'m'," MSGS ",'temperature':0}", 0,
                      &rc, NULL);
    assert_int_equal(rc, LLM_OK);

    test_cache_key_of(ctx, "{'model':'m'," MSGS ",'temperature':null}", 0,
                      &rc, NULL);
    assert_int_equal(rc, LLM_OK);

    test_cache_key_of(ctx, "{'model':'m'," MSGS "}", 0, &rc, NULL);
    assert_int_equal(rc, LLM_OK);

    /* logprobs cannot be given back */

    test_cache_key_declined(ctx, "{'model':'m'," MSGS ",'logprobs':true}",
                            -1, "logprobs");

    test_cache_key_of(ctx, "{'model':'m'," MSGS ",'logprobs':false}", 0,
                      &rc, NULL);
    assert_int_equal(rc, LLM_OK);

    /* stream never declines */

    test_cache_key_of(ctx, "{'model':'m'," MSGS ",'stream':true,"
                      "'stream_options':{'include_usage':true}}", 0, &rc,
                      NULL);
    assert_int_equal(rc, LLM_OK);

    /* the first rule that fails is the reason */

    test_cache_key_declined(ctx, "{'model':'m'," MSGS ",'n':3,"
                            "'temperature':1}", 0, "n");
}


/* an escaped NUL ends the tree's string: not cacheable */

static void
test_cache_key_nul(void **state)
{
    int          rc;
    char        *a, *b;
    test_ctx_t  *ctx = *state;

    test_cache_key_declined(ctx, "{'model':'m','messages':[{'role':'user',"
                            "'content':'a\\u0000b'}]}", 0, "\\u0000");
    test_cache_key_declined(ctx, "{'model':'m'," MSGS ",'x':{'\\u0000':1}}",
                            0, "\\u0000");

    /* an escaped backslash then "u0000" is text */

    a = test_cache_key_of(ctx, "{'model':'m','messages':[{'role':'user',"
                          "'content':'a\\\\u0000b'}]}", 0, &rc, NULL);
    assert_int_equal(rc, LLM_OK);

    b = test_cache_key_of(ctx, "{'model':'m','messages':[{'role':'user',"
                          "'content':'a\\\\u0000c'}]}", 0, &rc, NULL);
    assert_int_equal(rc, LLM_OK);

    assert_string_not_equal(a, b);
    assert_non_null(strstr(a, "a\\\\u0000b"));
}


static void
test_cache_key_nomem(void **state)
{
    int             rc;
    char           *key, *b, *want;
    size_t          fail, len;
    llm_error_t     err;
    llm_request_t   req;
    test_ctx_t     *ctx = *state;

    /* an object of more members than the stack has, and long numbers */

    b = test_cache_q(ctx, "{'model':'m'," MSGS ",'o':{'p':1,'o':1,'n':1,"
                     "'m':1,'l':1,'k':1,'j':1,'i':1,'h':1,'g':1,'f':1,"
                     "'e':1,'d':1,'c':1,'b':1,'a':1},'x':[1e15,1e15,1e15,"
                     "1e15,1e15,1e15,1e15,1e15,1e15,1e15]}");

    assert_int_equal(llm_request_parse(&req, b, strlen(b), &err), LLM_OK);

    want = NULL;

    assert_int_equal(llm_cache_key(&req, 0, &ctx->pool, &want, &len, NULL),
                     LLM_OK);

    for (fail = 0; fail < 8; fail++) {
        ctx->fail_at = ctx->count + fail + 1;

        key = NULL;
        rc = llm_cache_key(&req, 0, &ctx->pool, &key, &len, NULL);

        ctx->fail_at = 0;

        if (rc == LLM_OK) {
            assert_string_equal(key, want);
            break;
        }

        assert_int_equal(rc, LLM_ERROR);
        assert_null(key);
    }

    /* every allocation failed once before it went through */
    assert_true(fail > 1 && fail < 8);

    llm_request_free(&req);
}


static char *
test_cache_stream_of(test_ctx_t *ctx, const char *body, int include_usage,
    int *rc)
{
    char    *out, *b;
    size_t   len;

    b = test_cache_q(ctx, body);

    out = NULL;
    len = 0;

    *rc = llm_cache_stream(b, strlen(b), include_usage, &ctx->pool, &out,
                           &len);

    if (*rc == LLM_OK) {
        assert_non_null(out);
        assert_int_equal(strlen(out), len);

    } else {
        assert_int_equal(*rc, LLM_ERROR);
        assert_null(out);
    }

    return out;
}


static void
test_cache_stream_is(test_ctx_t *ctx, const char *body, int include_usage,
    const char *want)
{
    int    rc;
    char  *out;

    out = test_cache_stream_of(ctx, body, include_usage, &rc);

    assert_int_equal(rc, LLM_OK);
    assert_string_equal(out, test_cache_q(ctx, want));
}


static void
test_cache_stream_content(void **state)
{
    test_ctx_t  *ctx = *state;

    test_cache_stream_is(ctx,
        ANSWER("'content':'Hello there.','refusal':null", "stop", ""), 0,
        HEAD "'choices':[{'index':0,'delta':{'role':'assistant',"
        "'content':'Hello there.'},'logprobs':null,'finish_reason':null}]}"
        "\n\n"
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'stop'}]}\n\n"
        DONE);

    /* an empty content is sent; a null one is not */

    test_cache_stream_is(ctx,
        ANSWER("'content':''", "length", ""), 0,
        HEAD "'choices':[{'index':0,'delta':{'role':'assistant',"
        "'content':''},'logprobs':null,'finish_reason':null}]}\n\n"
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'length'}]}\n\n"
        DONE);

    test_cache_stream_is(ctx,
        ANSWER("'content':null", "stop", ""), 0,
        HEAD "'choices':[{'index':0,'delta':{'role':'assistant'},"
        "'logprobs':null,'finish_reason':null}]}\n\n"
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'stop'}]}\n\n"
        DONE);

    /* members a provider adds are not in the stream */

    test_cache_stream_is(ctx,
        "{'system_fingerprint':'fp_1','service_tier':'default',"
        "'choices':[{'finish_reason':'stop','index':0,'message':"
        "{'annotations':[],'content':'Hi','role':'assistant'}}],"
        "'model':'gpt-x','created':1767225600,'object':'chat.completion',"
        "'id':'chatcmpl-c1'}", 0,
        HEAD "'choices':[{'index':0,'delta':{'role':'assistant',"
        "'content':'Hi'},'logprobs':null,'finish_reason':null}]}\n\n"
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'stop'}]}\n\n"
        DONE);
}


static void
test_cache_stream_usage(void **state)
{
    test_ctx_t  *ctx = *state;

    test_cache_stream_is(ctx,
        ANSWER("'content':'Hi'", "stop", USAGE), 1,
        HEAD "'choices':[{'index':0,'delta':{'role':'assistant',"
        "'content':'Hi'},'logprobs':null,'finish_reason':null}]}\n\n"
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'stop'}]}\n\n"
        HEAD "'choices':[],'usage':{'prompt_tokens':5,"
        "'completion_tokens':7,'total_tokens':12,'prompt_tokens_details':"
        "{'cached_tokens':2}}}\n\n"
        DONE);

    /* not asked for */

    test_cache_stream_is(ctx,
        ANSWER("'content':'Hi'", "stop", USAGE), 0,
        HEAD "'choices':[{'index':0,'delta':{'role':'assistant',"
        "'content':'Hi'},'logprobs':null,'finish_reason':null}]}\n\n"
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'stop'}]}\n\n"
        DONE);

    /* asked for, but the answer has none */

    test_cache_stream_is(ctx,
        ANSWER("'content':'Hi'", "stop", ",'usage':null"), 1,
        HEAD "'choices':[{'index':0,'delta':{'role':'assistant',"
        "'content':'Hi'},'logprobs':null,'finish_reason':null}]}\n\n"
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'stop'}]}\n\n"
        DONE);

    test_cache_stream_is(ctx,
        ANSWER("'content':'Hi'", "stop",
               ",'usage':{'prompt_tokens':3,'completion_tokens':4,"
               "'total_tokens':7,'completion_tokens_details':"
               "{'reasoning_tokens':1}}"), 1,
        HEAD "'choices':[{'index':0,'delta':{'role':'assistant',"
        "'content':'Hi'},'logprobs':null,'finish_reason':null}]}\n\n"
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'stop'}]}\n\n"
        HEAD "'choices':[],'usage':{'prompt_tokens':3,"
        "'completion_tokens':4,'total_tokens':7,"
        "'completion_tokens_details':{'reasoning_tokens':1}}}\n\n"
        DONE);
}


static void
test_cache_stream_refusal(void **state)
{
    test_ctx_t  *ctx = *state;

    test_cache_stream_is(ctx,
        ANSWER("'content':null,'refusal':'I can\\u2019t help.'", "stop",
               ""), 0,
        HEAD "'choices':[{'index':0,'delta':{'role':'assistant',"
        "'refusal':'I can\xe2\x80\x99t help.'},'logprobs':null,"
        "'finish_reason':null}]}\n\n"
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'stop'}]}\n\n"
        DONE);
}


static void
test_cache_stream_tools(void **state)
{
    test_ctx_t  *ctx = *state;

    test_cache_stream_is(ctx,
        ANSWER("'content':null,'refusal':null,'tool_calls':[{'id':'call_a',"
               "'type':'function','function':{'name':'get_weather',"
               "'arguments':'{\\'city\\':\\'Paris\\'}'}},{'id':'call_b',"
               "'type':'function','function':{'name':'get_time',"
               "'arguments':'{}'}}]", "tool_calls", USAGE), 1,
        HEAD "'choices':[{'index':0,'delta':{'role':'assistant'},"
        "'logprobs':null,'finish_reason':null}]}\n\n"
        HEAD "'choices':[{'index':0,'delta':{'tool_calls':[{'index':0,"
        "'id':'call_a','type':'function','function':{'name':'get_weather',"
        "'arguments':'{\\'city\\':\\'Paris\\'}'}}]},'logprobs':null,"
        "'finish_reason':null}]}\n\n"
        HEAD "'choices':[{'index':0,'delta':{'tool_calls':[{'index':1,"
        "'id':'call_b','type':'function','function':{'name':'get_time',"
        "'arguments':'{}'}}]},'logprobs':null,'finish_reason':null}]}\n\n"
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'tool_calls'}]}\n\n"
        HEAD "'choices':[],'usage':{'prompt_tokens':5,"
        "'completion_tokens':7,'total_tokens':12,'prompt_tokens_details':"
        "{'cached_tokens':2}}}\n\n"
        DONE);

    /* text before the calls, and a call without "type" */

    test_cache_stream_is(ctx,
        ANSWER("'content':'Let me look.','tool_calls':[{'id':'call_a',"
               "'function':{'name':'f','arguments':''}}]", "tool_calls", ""),
        0,
        HEAD "'choices':[{'index':0,'delta':{'role':'assistant',"
        "'content':'Let me look.'},'logprobs':null,'finish_reason':null}]}"
        "\n\n"
        HEAD "'choices':[{'index':0,'delta':{'tool_calls':[{'index':0,"
        "'id':'call_a','type':'function','function':{'name':'f',"
        "'arguments':''}}]},'logprobs':null,'finish_reason':null}]}\n\n"
        HEAD "'choices':[{'index':0,'delta':{},'logprobs':null,"
        "'finish_reason':'tool_calls'}]}\n\n"
        DONE);
}


/* the content the stream carries is the answer's, whatever its text */

static void
test_cache_stream_unicode(void **state)
{
    int          rc;
    char        *out, *p, *end;
    cJSON       *root, *delta;
    test_ctx_t  *ctx = *state;

    out = test_cache_stream_of(ctx,
        ANSWER("'content':'caf\\u00e9 \xe2\x82\xac \\ud83d\\ude00 "
               "\xf0\x9f\x8c\x8d \\'q\\' \\\\ \\n\\t\\u0001 \\u2028 \\/'",
               "stop", ""), 0, &rc);
    assert_int_equal(rc, LLM_OK);

    /* the first event's data, as a client reads it */

    assert_memory_equal(out, "data: ", 6);
    p = out + 6;
    end = strstr(p, "\n\n");
    assert_non_null(end);

    root = test_json(p, (size_t) (end - p));

    delta = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root,
                                                                "choices"),
                                   0),
                "delta");

    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(delta, "content")->valuestring,
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf0\x9f\x8c\x8d \"q\" "
        "\\ \n\t\x01 \xe2\x80\xa8 /");

    cJSON_Delete(root);

    /* on one line */
    assert_true(strchr(p, '\n') == end);
}


static void
test_cache_stream_damaged(void **state)
{
    int          rc;
    size_t       i;
    char        *out;
    test_ctx_t  *ctx = *state;

    static const char  *const bad[] = {
        "",
        " ",
        "null",
        "[]",
        "[" ANSWER("'content':'Hi'", "stop", "") "]",
        "'chat.completion'",
        "{}",
        "{'object':'chat.completion'}",
        "\x00\x01\x02",
        "\xff\xfe{}",
        "{'id':'chatcmpl-c1','object':'chat.completion',"
        "'created':1767225600,'model':'gpt-x'}",
        "{'id':'chatcmpl-c1','object':'chat.completion',"
        "'created':1767225600,'model':'gpt-x','choices':[]}",
        "{'id':'chatcmpl-c1','object':'chat.completion',"
        "'created':1767225600,'model':'gpt-x','choices':{}}",
        "{'id':'chatcmpl-c1','object':'chat.completion',"
        "'created':1767225600,'model':'gpt-x','choices':[1]}",

        /* not a chat.completion */
        "{'id':'chatcmpl-c1','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'gpt-x','choices':[{'index':0,"
        "'message':{'role':'assistant','content':'Hi'},"
        "'finish_reason':'stop'}]}",
        "{'error':{'message':'x','type':'server_error'}}",

        /* two choices */
        "{'id':'chatcmpl-c1','object':'chat.completion',"
        "'created':1767225600,'model':'gpt-x','choices':[{'index':0,"
        "'message':{'role':'assistant','content':'a'},"
        "'finish_reason':'stop'},{'index':1,'message':{'role':"
        "'assistant','content':'b'},'finish_reason':'stop'}]}",

        /* missing or wrong members */
        ANSWER("'content':'Hi'", "", ""),
        ANSWER("'content':'Hi'", "error", ""),
        ANSWER("'content':1", "stop", ""),
        ANSWER("'content':'Hi','refusal':true", "stop", ""),
        ANSWER("'content':'Hi'", "stop", ",'usage':[]"),
        ANSWER("'content':'Hi'", "stop", ",'usage':3"),
        ANSWER("'content':'Hi','tool_calls':{}", "tool_calls", ""),
        ANSWER("'content':null,'tool_calls':[{'type':'function',"
               "'function':{'name':'f','arguments':'{}'}}]", "tool_calls",
               ""),
        ANSWER("'content':null,'tool_calls':[{'id':'c','type':'function',"
               "'function':{'arguments':'{}'}}]", "tool_calls", ""),
        ANSWER("'content':null,'tool_calls':[{'id':'c','type':'function',"
               "'function':{'name':'f','arguments':{}}}]", "tool_calls", ""),
        ANSWER("'content':null,'tool_calls':[{'id':'c','type':'custom',"
               "'custom':{'name':'f','input':''}}]", "tool_calls", ""),
        ANSWER("'content':null,'function_call':{'name':'f','arguments':"
               "'{}'}", "function_call", ""),
        ANSWER("'content':'Hi','audio':{'id':'a'}", "stop", ""),
        ANSWER("'content':'a\\u0000b'", "stop", ""),
        "{'object':'chat.completion','created':1767225600,'model':'gpt-x',"
        "'choices':[{'index':0,'message':{'role':'assistant','content':"
        "'Hi'},'finish_reason':'stop'}]}",
        "{'id':'chatcmpl-c1','object':'chat.completion','model':'gpt-x',"
        "'choices':[{'index':0,'message':{'role':'assistant','content':"
        "'Hi'},'finish_reason':'stop'}]}",
        "{'id':'chatcmpl-c1','object':'chat.completion','created':-1,"
        "'model':'gpt-x','choices':[{'index':0,'message':{'role':"
        "'assistant','content':'Hi'},'finish_reason':'stop'}]}",
        "{'id':'chatcmpl-c1','object':'chat.completion','created':1,"
        "'choices':[{'index':0,'message':{'role':'assistant','content':"
        "'Hi'},'finish_reason':'stop'}]}",
        "{'id':'chatcmpl-c1','object':'chat.completion','created':1,"
        "'model':'m','choices':[{'index':1,'message':{'role':'assistant',"
        "'content':'Hi'},'finish_reason':'stop'}]}",
        "{'id':'chatcmpl-c1','object':'chat.completion','created':1,"
        "'model':'m','choices':[{'index':0,'finish_reason':'stop'}]}",

        /* valid JSON with something after it */
        ANSWER("'content':'Hi'", "stop", "") " x",
        ANSWER("'content':'Hi'", "stop", "") "{}",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        out = test_cache_stream_of(ctx, bad[i], 1, &rc);

        if (rc != LLM_ERROR) {
            fail_msg("damaged body %lu taken: %s", (unsigned long) i, out);
        }
    }

    /* bytes the caller gives as they are, with NULs */

    out = NULL;
    assert_int_equal(llm_cache_stream("{\0}", 3, 0, &ctx->pool, &out, &i),
                     LLM_ERROR);
    assert_int_equal(llm_cache_stream(NULL, 0, 0, &ctx->pool, &out, &i),
                     LLM_ERROR);
}


/* a cache file cut anywhere is a miss */

static void
test_cache_stream_truncated(void **state)
{
    char        *body, *cut, *out;
    size_t       len, i, n;
    test_ctx_t  *ctx = *state;

    body = test_cache_q(ctx,
        ANSWER("'content':'caf\\u00e9 \\ud83d\\ude00 1e5 \\'x\\'',"
               "'tool_calls':[{'id':'call_a','type':'function','function':"
               "{'name':'f','arguments':'{\\'a\\':[1,2]}'}}]", "tool_calls",
               USAGE));
    len = strlen(body);

    assert_int_equal(llm_cache_stream(body, len, 1, &ctx->pool, &out, &n),
                     LLM_OK);

    for (i = 0; i < len; i++) {
        /* an exact copy, so that ASan sees a read past the cut */
        cut = test_copy(ctx, body, i);

        out = NULL;

        if (llm_cache_stream(cut, i, 1, &ctx->pool, &out, &n) != LLM_ERROR) {
            fail_msg("a body cut at %lu of %lu taken", (unsigned long) i,
                     (unsigned long) len);
        }

        assert_null(out);
    }
}


static void
test_cache_stream_nomem(void **state)
{
    int          rc;
    char        *body, *out, *want;
    size_t       fail, len, n;
    test_ctx_t  *ctx = *state;

    body = test_cache_q(ctx,
        ANSWER("'content':'Hi','tool_calls':[{'id':'call_a','type':"
               "'function','function':{'name':'f','arguments':'{}'}}]",
               "tool_calls", USAGE));
    len = strlen(body);

    want = test_cache_stream_of(ctx, body, 1, &rc);
    assert_int_equal(rc, LLM_OK);

    for (fail = 0; fail < 64; fail++) {
        ctx->fail_at = ctx->count + fail + 1;

        out = NULL;
        rc = llm_cache_stream(body, len, 1, &ctx->pool, &out, &n);

        ctx->fail_at = 0;

        if (rc == LLM_OK) {
            assert_string_equal(out, want);
            break;
        }

        assert_int_equal(rc, LLM_ERROR);
        assert_null(out);
    }

    assert_true(fail > 0 && fail < 64);
}


static int
test_cache_feed_event(void *data, const llm_sse_event_t *ev)
{
    test_feed_t *f = data;

    int  rc;

    f->nevents++;

    rc = llm_cache_acc_chunk(f->acc, ev->data, ev->data_len,
                             &f->ctx->pool);

    if (rc != LLM_OK) {
        assert_int_equal(rc, LLM_DECLINED);
        f->rc = rc;
    }

    return LLM_OK;
}


/* an SSE stream's events into acc: LLM_OK, or the first other result */

static int
test_cache_feed(test_ctx_t *ctx, llm_cache_acc_t *acc, const char *sse,
    size_t len)
{
    char         buf[65536];
    llm_sse_t    sse_parser;
    test_feed_t  f;

    f.ctx = ctx;
    f.acc = acc;
    f.rc = LLM_OK;
    f.nevents = 0;

    llm_sse_init(&sse_parser, buf, sizeof(buf));

    assert_int_equal(llm_sse_feed(&sse_parser, sse, len,
                                  test_cache_feed_event, &f), LLM_OK);

    assert_true(f.nevents > 0);

    return f.rc;
}


/* chunks (NULL-terminated, ' for ") assembled with a buffer of size */

static int
test_cache_chunks(test_ctx_t *ctx, const char *const *chunks, size_t size,
    char **body, size_t *len)
{
    int               rc;
    char             *buf, *data;
    size_t            i;
    llm_cache_acc_t   acc;

    buf = test_copy(ctx, NULL, size);

    llm_cache_acc_init(&acc, buf, size);

    for (i = 0; chunks[i] != NULL; i++) {
        data = test_cache_q(ctx, chunks[i]);

        rc = llm_cache_acc_chunk(&acc, data, strlen(data), &ctx->pool);

        if (rc != LLM_OK) {
            assert_int_equal(rc, LLM_DECLINED);

            /* once declined, always */
            assert_int_equal(llm_cache_acc_chunk(&acc, "[DONE]", 6,
                                                 &ctx->pool),
                             LLM_DECLINED);
        }
    }

    *body = NULL;
    *len = 0;

    rc = llm_cache_acc_finish(&acc, &ctx->pool, body, len);

    if (rc == LLM_OK) {
        assert_non_null(*body);
        assert_int_equal(strlen(*body), *len);

    } else {
        assert_null(*body);
    }

    return rc;
}


static void
test_cache_acc_split(void **state)
{
    char        *body;
    size_t       len;
    test_ctx_t  *ctx = *state;

    static const char  *const chunks[] = {
        CHUNK("{'role':'assistant','content':''}", "null"),
        CHUNK("{'content':'Hel'}", "null"),
        CHUNK("{'content':'lo, caf\\u00e9'}", "null"),
        CHUNK("{}", "null"),
        CHUNK("{'content':' \\ud83d\\ude00'}", "null"),
        CHUNK("{'content':'!'}", "null"),
        CHUNK("{}", "'stop'"),
        "{'id':'chatcmpl-c1','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'gpt-x','choices':[],"
        "'usage':{'prompt_tokens':5,'completion_tokens':7,"
        "'total_tokens':12,'prompt_tokens_details':{'cached_tokens':2}}}",
        "[DONE]",
        NULL
    };

    assert_int_equal(test_cache_chunks(ctx, chunks, 4096, &body, &len),
                     LLM_OK);

    assert_string_equal(body, test_cache_q(ctx,
        ANSWER("'content':'Hello, caf\xc3\xa9 \xf0\x9f\x98\x80!',"
               "'refusal':null", "stop", USAGE)));
}


static void
test_cache_acc_tools(void **state)
{
    char        *body;
    size_t       len;
    test_ctx_t  *ctx = *state;

    /* two calls, arguments in pieces, the second call's interleaved */

    static const char  *const chunks[] = {
        CHUNK("{'role':'assistant','content':null}", "null"),
        CHUNK("{'tool_calls':[{'index':0,'id':'call_a','type':'function',"
              "'function':{'name':'get_weather','arguments':''}}]}",
              "null"),
        CHUNK("{'tool_calls':[{'index':0,'function':{'arguments':"
              "'{\\'ci'}}]}", "null"),
        CHUNK("{'tool_calls':[{'index':1,'id':'call_b','type':'function',"
              "'function':{'name':'get_time','arguments':'{\\'tz'}}]}",
              "null"),
        CHUNK("{'tool_calls':[{'index':0,'function':{'arguments':"
              "'ty\\':\\'Paris\\'}'}}]}", "null"),
        CHUNK("{'tool_calls':[{'index':1,'function':{'arguments':"
              "'\\':\\'UTC\\'}'}}]}", "null"),
        CHUNK("{}", "'tool_calls'"),
        NULL
    };

    /* the translated streams' role chunk has "content":"" */

    static const char  *const text[] = {
        CHUNK("{'role':'assistant','content':''}", "null"),
        CHUNK("{'tool_calls':[{'index':0,'id':'call_a','type':'function',"
              "'function':{'name':'f','arguments':'{}'}}]}", "null"),
        CHUNK("{}", "'tool_calls'"),
        NULL
    };

    assert_int_equal(test_cache_chunks(ctx, chunks, 4096, &body, &len),
                     LLM_OK);

    assert_string_equal(body, test_cache_q(ctx,
        ANSWER("'content':null,'refusal':null,'tool_calls':[{'id':'call_a',"
               "'type':'function','function':{'name':'get_weather',"
               "'arguments':'{\\'city\\':\\'Paris\\'}'}},{'id':'call_b',"
               "'type':'function','function':{'name':'get_time',"
               "'arguments':'{\\'tz\\':\\'UTC\\'}'}}]", "tool_calls", "")));

    assert_int_equal(test_cache_chunks(ctx, text, 4096, &body, &len),
                     LLM_OK);

    assert_string_equal(body, test_cache_q(ctx,
        ANSWER("'content':null,'refusal':null,'tool_calls':[{'id':'call_a',"
               "'type':'function','function':{'name':'f',"
               "'arguments':'{}'}}]", "tool_calls", "")));
}


static void
test_cache_acc_refusal(void **state)
{
    char        *body;
    size_t       len;
    test_ctx_t  *ctx = *state;

    static const char  *const chunks[] = {
        CHUNK("{'role':'assistant','content':'','refusal':null}", "null"),
        CHUNK("{'refusal':'I can'}", "null"),
        CHUNK("{'refusal':'not.'}", "null"),
        CHUNK("{}", "'stop'"),
        NULL
    };

    assert_int_equal(test_cache_chunks(ctx, chunks, 4096, &body, &len),
                     LLM_OK);

    assert_string_equal(body, test_cache_q(ctx,
        ANSWER("'content':null,'refusal':'I cannot.'", "stop", "")));
}


/* the buffer's size bounds what is kept: over it, declined */

static void
test_cache_acc_size(void **state)
{
    int          rc;
    char        *body;
    size_t       len, size, fit;
    test_ctx_t  *ctx = *state;

    static const char  *const chunks[] = {
        CHUNK("{'role':'assistant','content':''}", "null"),
        CHUNK("{'content':'0123456789'}", "null"),
        CHUNK("{'content':'0123456789'}", "null"),
        CHUNK("{'tool_calls':[{'index':0,'id':'call_a','type':'function',"
              "'function':{'name':'f','arguments':'{}'}}]}", "null"),
        CHUNK("{}", "'tool_calls'"),
        NULL
    };

    /* the smallest buffer that takes it: one byte less is declined */

    fit = 0;

    for (size = 0; size < 512; size++) {
        rc = test_cache_chunks(ctx, chunks, size, &body, &len);

        if (rc == LLM_OK) {
            fit = size;
            break;
        }

        assert_int_equal(rc, LLM_DECLINED);
    }

    assert_true(fit > 20 + 6 + 1 + 2);
    assert_true(fit < 128);

    assert_string_equal(body, test_cache_q(ctx,
        ANSWER("'content':'01234567890123456789','refusal':null,"
               "'tool_calls':[{'id':'call_a','type':'function','function':"
               "{'name':'f','arguments':'{}'}}]", "tool_calls", "")));

    /* a NULL buffer keeps nothing */

    assert_int_equal(test_cache_chunks(ctx, chunks, 0, &body, &len),
                     LLM_DECLINED);
}


static void
test_cache_acc_declined(void **state)
{
    int          rc;
    char        *body;
    size_t       i, len;
    test_ctx_t  *ctx = *state;

#define ROLE  CHUNK("{'role':'assistant','content':''}", "null")
#define TEXT  CHUNK("{'content':'Hi'}", "null")
#define STOP  CHUNK("{}", "'stop'")

    static const char  *const no_finish[] = { ROLE, TEXT, "[DONE]", NULL };
    static const char  *const filtered[] = {
        ROLE, TEXT, CHUNK("{}", "'content_filter'"), NULL
    };
    static const char  *const unknown[] = {
        ROLE, TEXT, CHUNK("{}", "'error'"), NULL
    };
    static const char  *const error[] = {
        ROLE, TEXT,
        "{'error':{'message':'overloaded','type':'server_error',"
        "'param':null,'code':null}}",
        STOP, NULL
    };
    static const char  *const two[] = {
        ROLE, TEXT,
        "{'id':'chatcmpl-c1','object':'chat.completion.chunk',"
        "'created':1767225600,'model':'gpt-x','choices':[{'index':1,"
        "'delta':{'content':'b'},'finish_reason':null}]}",
        STOP, NULL
    };
    static const char  *const not_json[] = { ROLE, "Hi", STOP, NULL };
    static const char  *const no_choices[] = {
        ROLE, "{'id':'chatcmpl-c1','object':'chat.completion.chunk'}",
        STOP, NULL
    };
    /* a lone surrogate: JSON that the core does not take */
    static const char  *const lone[] = {
        ROLE, CHUNK("{'content':' \\ud83d'}", "null"),
        CHUNK("{'content':'\\ude00'}", "null"), STOP, NULL
    };
    static const char  *const nul[] = {
        ROLE, CHUNK("{'content':'a\\u0000b'}", "null"), STOP, NULL
    };
    static const char  *const no_id[] = {
        "{'object':'chat.completion.chunk','created':1767225600,"
        "'model':'gpt-x','choices':[{'index':0,'delta':{'content':'Hi'},"
        "'finish_reason':'stop'}]}",
        NULL
    };
    static const char  *const no_name[] = {
        ROLE,
        CHUNK("{'tool_calls':[{'index':0,'id':'call_a','type':'function',"
              "'function':{'arguments':'{}'}}]}", "null"),
        CHUNK("{}", "'tool_calls'"), NULL
    };
    static const char  *const gap[] = {
        ROLE,
        CHUNK("{'tool_calls':[{'index':1,'id':'call_a','type':'function',"
              "'function':{'name':'f','arguments':'{}'}}]}", "null"),
        CHUNK("{}", "'tool_calls'"), NULL
    };
    static const char  *const many[] = {
        ROLE,
        CHUNK("{'tool_calls':[{'index':32,'id':'call_a','type':'function',"
              "'function':{'name':'f','arguments':'{}'}}]}", "null"),
        CHUNK("{}", "'tool_calls'"), NULL
    };
    static const char  *const custom[] = {
        ROLE,
        CHUNK("{'tool_calls':[{'index':0,'id':'call_a','type':'custom',"
              "'custom':{'name':'f','input':''}}]}", "null"),
        CHUNK("{}", "'tool_calls'"), NULL
    };
    static const char  *const long_id[] = {
        "{'id':'chatcmpl-0123456789012345678901234567890123456789012345"
        "6789012345678901234567890123456789012345678901234567890123456789"
        "0123456789',"
        "'object':'chat.completion.chunk','created':1767225600,"
        "'model':'gpt-x','choices':[{'index':0,'delta':{'content':'Hi'},"
        "'finish_reason':'stop'}]}",
        NULL
    };

    static const char  *const *const declined[] = {
        no_finish, filtered, unknown, error, two, not_json, no_choices, lone,
        nul, no_id, no_name, gap, many, custom, long_id
    };

    for (i = 0; i < sizeof(declined) / sizeof(declined[0]); i++) {
        rc = test_cache_chunks(ctx, declined[i], 4096, &body, &len);

        if (rc != LLM_DECLINED) {
            fail_msg("stream %lu kept: %s", (unsigned long) i, body);
        }
    }

#undef ROLE
#undef TEXT
#undef STOP
}


/*
 * The gateway's own translated stream (Anthropic's, with a tool call)
 * assembled: the answer the non-streamed path gives for it.
 */

static void
test_cache_acc_translated(void **state)
{
    char               *body, buf[8192];
    size_t              len;
    llm_cache_acc_t     acc;
    test_stream_run_t   run;
    test_ctx_t         *ctx = *state;

    static const char  sse[] =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
        "\"type\":\"message\",\"role\":\"assistant\",\"model\":"
        "\"claude-x\",\"content\":[],\"stop_reason\":null,\"usage\":"
        "{\"input_tokens\":10,\"output_tokens\":1}}}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
        "{\"type\":\"text_delta\",\"text\":\"Let me \"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
        "{\"type\":\"text_delta\",\"text\":\"check.\"}}\n\n"
        "event: content_block_stop\n"
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":1,"
        "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\","
        "\"name\":\"get_weather\",\"input\":{}}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
        "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":"
        "\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
        "{\"type\":\"input_json_delta\",\"partial_json\":"
        "\"\\\"Paris\\\"}\"}}\n\n"
        "event: content_block_stop\n"
        "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"tool_use\"},\"usage\":{\"output_tokens\":20}}\n\n"
        "event: message_stop\n"
        "data: {\"type\":\"message_stop\"}\n\n";

    test_stream_run(ctx, &llm_anthropic_adapter, sse, 1, 0, NULL, 0, &run);

    assert_int_equal(run.end, LLM_OK);

    llm_cache_acc_init(&acc, buf, sizeof(buf));

    assert_int_equal(test_cache_feed(ctx, &acc, run.out.buf, run.out.len),
                     LLM_OK);
    assert_int_equal(llm_cache_acc_finish(&acc, &ctx->pool, &body, &len),
                     LLM_OK);

    assert_string_equal(body, test_cache_q(ctx,
        "{'id':'msg_1','object':'chat.completion','created':1767225600,"
        "'model':'claude-x','choices':[{'index':0,'message':{'role':"
        "'assistant','content':'Let me check.','refusal':null,"
        "'tool_calls':[{'id':'toolu_1','type':'function','function':"
        "{'name':'get_weather','arguments':'{\\'city\\':\\'Paris\\'}'}}]},"
        "'logprobs':null,'finish_reason':'tool_calls'}],'usage':"
        "{'prompt_tokens':10,'completion_tokens':20,'total_tokens':30}}"));
}


static void
test_cache_roundtrip_one(test_ctx_t *ctx, const char *answer)
{
    int               rc;
    char             *want, *sse, *body, buf[8192];
    size_t            len, sse_len, body_len;
    llm_cache_acc_t   acc;

    want = test_cache_q(ctx, answer);
    len = strlen(want);

    /* the answer as llm_completion_render() writes it: byte for byte */

    assert_int_equal(llm_cache_stream(want, len, 1, &ctx->pool, &sse,
                                      &sse_len), LLM_OK);

    llm_cache_acc_init(&acc, buf, sizeof(buf));

    rc = test_cache_feed(ctx, &acc, sse, sse_len);
    assert_int_equal(rc, LLM_OK);

    assert_int_equal(llm_cache_acc_finish(&acc, &ctx->pool, &body,
                                          &body_len), LLM_OK);

    assert_string_equal(body, want);
}


/* llm_cache_stream() then the accumulator give the answer back */

static void
test_cache_roundtrip(void **state)
{
    size_t       i;
    test_ctx_t  *ctx = *state;

    static const char  *const answers[] = {
        ANSWER("'content':'Hello there.','refusal':null", "stop", ""),
        ANSWER("'content':'','refusal':null", "length", USAGE),
        ANSWER("'content':null,'refusal':null", "stop", USAGE),
        ANSWER("'content':null,'refusal':'No.'", "stop", ""),
        ANSWER("'content':'caf\xc3\xa9 \\'q\\' \\\\ \\n\\u0001 "
               "\xf0\x9f\x98\x80','refusal':null", "stop",
               ",'usage':{'prompt_tokens':3,'completion_tokens':4,"
               "'total_tokens':7,'prompt_tokens_details':{'cached_tokens':"
               "0},'completion_tokens_details':{'reasoning_tokens':2}}"),
        ANSWER("'content':null,'refusal':null,'tool_calls':[{'id':'call_a',"
               "'type':'function','function':{'name':'get_weather',"
               "'arguments':'{\\'city\\':\\'Paris\\'}'}},{'id':'call_b',"
               "'type':'function','function':{'name':'get_time',"
               "'arguments':'{}'}}]", "tool_calls", USAGE),
        ANSWER("'content':'Let me look.','refusal':null,'tool_calls':"
               "[{'id':'call_a','type':'function','function':{'name':'f',"
               "'arguments':''}}]", "tool_calls", ""),
    };

    for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        test_cache_roundtrip_one(ctx, answers[i]);
    }
}


void
test_cache_register(void)
{
    TEST_ADD(test_cache_key_same);
    TEST_ADD(test_cache_key_text);
    TEST_ADD(test_cache_key_strings);
    TEST_ADD(test_cache_key_numbers);
    TEST_ADD(test_cache_key_differ);
    TEST_ADD(test_cache_key_sort);
    TEST_ADD(test_cache_key_rules);
    TEST_ADD(test_cache_key_nul);
    TEST_ADD(test_cache_key_nomem);
    TEST_ADD(test_cache_stream_content);
    TEST_ADD(test_cache_stream_usage);
    TEST_ADD(test_cache_stream_refusal);
    TEST_ADD(test_cache_stream_tools);
    TEST_ADD(test_cache_stream_unicode);
    TEST_ADD(test_cache_stream_damaged);
    TEST_ADD(test_cache_stream_truncated);
    TEST_ADD(test_cache_stream_nomem);
    TEST_ADD(test_cache_acc_split);
    TEST_ADD(test_cache_acc_tools);
    TEST_ADD(test_cache_acc_refusal);
    TEST_ADD(test_cache_acc_size);
    TEST_ADD(test_cache_acc_declined);
    TEST_ADD(test_cache_acc_translated);
    TEST_ADD(test_cache_roundtrip);
}
