
/*
 * ngx_http_llm_router_module: the direct writers of the Anthropic,
 * Cohere and Gemini adapters (llm_*_encode_fast()) against their trees
 * (llm_*_encode_tree()): for every request shape below, with and without
 * the request's checks, with a configured model or not, with the long
 * strings by reference or not, a writer either declines or gives the same
 * path, headers and body, byte for byte and piece for piece; it applies
 * to the shapes marked for it, and declines the others.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"


#define TEST_A    1                 /* Anthropic's writer applies */
#define TEST_C    2                 /* Cohere's */
#define TEST_G    4                 /* Gemini's */
#define TEST_AC   (TEST_A | TEST_C)
#define TEST_AG   (TEST_A | TEST_G)
#define TEST_CG   (TEST_C | TEST_G)
#define TEST_ALL  (TEST_A | TEST_C | TEST_G)


typedef struct {
    const char   *json;               /* "@A", "@B": long strings */
    int           fast;               /* TEST_A, TEST_C */
} test_af_case_t;


typedef int (*test_af_encode_pt)(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);


typedef struct {
    const char          *name;
    test_af_encode_pt    fast;
    test_af_encode_pt    tree;
    int                  bit;
} test_af_way_t;


static const test_af_way_t  test_af_ways[] = {
    { "anthropic", llm_anthropic_encode_fast, llm_anthropic_encode_tree,
      TEST_A },
    { "cohere", llm_cohere_encode_fast, llm_cohere_encode_tree, TEST_C },
    { "gemini", llm_gemini_encode_fast, llm_gemini_encode_tree, TEST_G },
};

#define TEST_AF_WAYS  (sizeof(test_af_ways) / sizeof(test_af_ways[0]))


static void test_af_plain(void **state);
static void test_af_declined(void **state);
static void test_af_unchecked(void **state);
static void test_af_adapter(void **state);
static void test_af_refs_limit(void **state);
static void test_af_nomem(void **state);
static void test_af_run(test_ctx_t *ctx, const test_af_case_t *cases,
    size_t n, int checked);
static char *test_af_body(test_ctx_t *ctx, const char *tpl);
static void test_af_one(test_ctx_t *ctx, const test_af_way_t *way,
    const llm_request_t *req, const char *json, int fast, size_t *applied);
static void test_af_same(test_ctx_t *ctx, const char *json,
    const llm_http_request_t *a, const llm_http_request_t *b);
static void test_af_parse_unchecked(llm_request_t *req, const char *json,
    size_t len);


/* 40 bytes of JSON string text, escapes and UTF-8 among them */

#define TEST_AF_PIECE_A  "caf\\u00e9 \\\"q\\\" \\n\\t x\\/y \xc3\xa9 \\\\ ok ;"
#define TEST_AF_PIECE_B  "second \\ud83d\\ude00 piece \xe2\x82\xac  end. "


/* shapes the writer takes: each must give the tree's bytes */

static const test_af_case_t  test_af_plain_cases[] = {
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
      TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
      "\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":"
      "\"assistant\",\"content\":\"Hello\"},{\"role\":\"user\",\"content\":"
      "\"What is NGINX?\"}],\"max_tokens\":200}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"developer\",\"content\":"
      "\"dev\"},{\"role\":\"user\",\"content\":\"u\"}]}", TEST_ALL },

    /* several system messages joined; empty ones left out */

    { "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
      "\"one\"},{\"role\":\"developer\",\"content\":\"two\\n\"},{\"role\":"
      "\"user\",\"content\":\"u\"},{\"role\":\"system\",\"content\":"
      "\"three \\u00e9\"}]}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
      "\"\"},{\"role\":\"system\",\"content\":\"x\"},{\"role\":\"user\","
      "\"content\":\"u\"}]}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
      "\"\"},{\"role\":\"system\",\"content\":\"\"},{\"role\":\"user\","
      "\"content\":\"u\"}]}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
      "\"\"},{\"role\":\"user\",\"content\":\"u\"}]}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
      "\"@A\"},{\"role\":\"system\",\"content\":\"@B\"},{\"role\":\"user\","
      "\"content\":\"u\"}]}", TEST_ALL },

    /* escapes, UTF-8, an escaped NUL, empty strings */

    { "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
      "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f\\u00e9\\ud83d"
      "\\ude00 / \\/ \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"},{\"role\":"
      "\"user\",\"content\":\"x\\u2028y\\u0000z\"}]}", TEST_ALL },
    { "{\"model\":\"m \\\"q\\\" \\u00e9\",\"messages\":[{\"role\":\"user\","
      "\"content\":\"\"},{\"role\":\"user\",\"content\":\"u\"},{\"role\":"
      "\"assistant\",\"content\":\"\"},{\"role\":\"assistant\","
      "\"content\":\"a\"}]}", TEST_ALL },

    /* long strings, by reference where the tree has them so */

    { "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
      "\"@A\"},{\"role\":\"user\",\"content\":\"@B\"},{\"role\":"
      "\"assistant\",\"content\":\"@A\"},{\"role\":\"user\",\"content\":"
      "\"short\"}],\"max_tokens\":10}", TEST_ALL },
    { "{\"model\":\"@A\",\"messages\":[{\"role\":\"user\",\"content\":"
      "\"@B\"}],\"stop\":[\"@A\",\"@B\"],\"user\":\"@A\"}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
      "\"@A\"}],\"stop\":\"@B\"}", TEST_ALL },

    /* numbers in every form the client may send */

    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"max_tokens\":1,\"temperature\":0,\"top_p\":1}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"max_tokens\":1.0,\"temperature\":1.0,\"top_p\":1e0}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"max_tokens\":1e0,\"temperature\":-0,\"top_p\":-0.0}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"max_tokens\":2E+3,\"temperature\":0.7,\"top_p\":0.95}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"max_completion_tokens\":2147483647,\"temperature\":1.5,"
      "\"top_p\":1e-7}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"max_tokens\":300,\"max_completion_tokens\":50,\"temperature\":2,"
      "\"top_p\":0.1}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"max_tokens\":30,\"max_completion_tokens\":null,\"temperature\":"
      "0.30000000000000004,\"top_p\":0.333333333333333314829616256247}",
      TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"max_tokens\":100000000000000000000e-20,\"temperature\":1e-320}",
      TEST_ALL },

    /* stop, user, stream */

    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"stop\":\"\\n\\nHuman:\"}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"stop\":[\"a\",\"\",\"\\u00e9\\\"\"]}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"stop\":[]}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"stop\":null,\"user\":null,\"temperature\":null,\"top_p\":null,"
      "\"max_tokens\":null}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"user\":\"user-1 \\u00e9\\\"\"}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"user\":\"\"}", TEST_ALL },
    { "{\"model\":\"m\",\"stream\":true,\"stream_options\":"
      "{\"include_usage\":true},\"messages\":[{\"role\":\"user\","
      "\"content\":\"u\"}]}", TEST_ALL },
    { "{\"model\":\"m\",\"stream\":false,\"messages\":[{\"role\":\"user\","
      "\"content\":\"u\"}]}", TEST_ALL },

    /* members the tree leaves out or only checks */

    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\","
      "\"name\":\"bob\"}],\"n\":1,\"logprobs\":false,\"response_format\":"
      "{\"type\":\"text\"},\"frequency_penalty\":0.5,\"presence_penalty\":"
      "-1,\"seed\":42,\"metadata\":{\"k\":\"v\"},\"store\":false,"
      "\"service_tier\":\"auto\",\"logit_bias\":{\"50256\":-100}}", TEST_A },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"tools\":null,\"tool_choice\":null,\"parallel_tool_calls\":null,"
      "\"functions\":null,\"function_call\":null,\"audio\":null,"
      "\"modalities\":null,\"top_logprobs\":null,\"response_format\":null,"
      "\"n\":null,\"logprobs\":null,\"web_search_options\":null}", TEST_ALL },

    /* Cohere's seed and penalties (Anthropic leaves them out) */

    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"seed\":0,\"frequency_penalty\":1.5,\"presence_penalty\":-0.5,"
      "\"top_p\":0.005}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"seed\":9007199254740992,\"frequency_penalty\":0.25,"
      "\"presence_penalty\":1,\"top_p\":0.999,\"n\":1}", TEST_AC },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"developer\",\"content\":"
      "\"d\"},{\"role\":\"user\",\"content\":\"\"}]}", TEST_C },

    /* a request that starts with the assistant */

    { "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":"
      "\"a\"},{\"role\":\"user\",\"content\":\"u\"},{\"role\":\"assistant\","
      "\"content\":\"b\"}]}", TEST_ALL },
};


/* shapes left to the tree */

static const test_af_case_t  test_af_declined_cases[] = {
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
      "[{\"type\":\"text\",\"text\":\"u\"}]}]}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
      "[{\"type\":\"text\",\"text\":\"s\"}]},{\"role\":\"user\","
      "\"content\":\"u\"}]}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
      "{\"role\":\"user\",\"content\":\"b\"}]}", TEST_CG },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
      "{\"role\":\"assistant\",\"content\":\"\"},{\"role\":\"user\","
      "\"content\":\"b\"}]}", TEST_CG },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
      "\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
      "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c1\","
      "\"content\":\"r\"}]}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}",
      0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"tool_choice\":\"none\"}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"tools\":[]}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
      "[{\"type\":\"image_url\",\"image_url\":{\"url\":"
      "\"https://x/y.png\"}}]}]}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"n\":2}", TEST_G },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"logprobs\":true}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"response_format\":{\"type\":\"json_object\"}}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"modalities\":[\"text\"]}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"x-unknown\":1}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
      "\"s\"}]}", TEST_C },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}",
      TEST_C },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":"
      "null},{\"role\":\"user\",\"content\":\"u\"}]}", 0 },
};


/* shapes the request's checks reject: both ways must still agree */

static const test_af_case_t  test_af_unchecked_cases[] = {
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"max_tokens\":2.5,\"temperature\":5,\"top_p\":-3}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"max_tokens\":-0,\"max_completion_tokens\":\"x\"}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"max_tokens\":1e300,\"temperature\":\"hot\",\"top_p\":true}",
      TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"max_tokens\":-1.5e-300,\"stop\":5,\"n\":\"2\"}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"},"
      "7,{\"content\":\"no role\"},{\"role\":5,\"content\":\"x\"}]}", TEST_A },
    { "{\"model\":5,\"stream\":\"yes\",\"messages\":[{\"role\":\"user\","
      "\"content\":\"u\"}]}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"stop\":[\"a\",1]}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"user\":5}", TEST_CG },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"seed\":1.5}", TEST_A },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"seed\":\"7\",\"frequency_penalty\":\"x\"}", TEST_A },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"seed\":-0,\"frequency_penalty\":-0,\"top_p\":-5,\"n\":1.0}",
      TEST_ALL },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"n\":2.5}", TEST_G },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"logprobs\":0}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}],"
      "\"response_format\":\"text\"}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":5}]}",
      0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"function\",\"content\":"
      "\"f\"},{\"role\":\"user\",\"content\":\"u\"}]}", 0 },
    { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"u\","
      "\"tool_calls\":[]},{\"role\":\"assistant\",\"content\":\"a\","
      "\"tool_calls\":null}]}", TEST_ALL },
    { "{\"model\":\"m\",\"messages\":{\"role\":\"user\"}}", 0 },
    { "{\"messages\":[{\"role\":\"user\",\"content\":\"u\"}]}", TEST_ALL },
    { "{\"model\":\"\",\"messages\":[{\"role\":\"user\",\"content\":\"u\"}]}",
      TEST_ALL },
};


static void
test_af_plain(void **state)
{
    test_af_run(*state, test_af_plain_cases,
                sizeof(test_af_plain_cases) / sizeof(test_af_case_t), 1);
}


static void
test_af_declined(void **state)
{
    test_af_run(*state, test_af_declined_cases,
                sizeof(test_af_declined_cases) / sizeof(test_af_case_t), 1);
}


static void
test_af_unchecked(void **state)
{
    test_af_run(*state, test_af_unchecked_cases,
                sizeof(test_af_unchecked_cases) / sizeof(test_af_case_t), 0);
}


/*
 * Each case parsed by llm_request_parse() (on the pool and not) or, not
 * checked, by llm_json_parse_refs() alone, then encoded both ways
 */

static void
test_af_run(test_ctx_t *ctx, const test_af_case_t *cases, size_t n,
    int checked)
{
    int            how;
    char          *json;
    size_t         i, w, applied[TEST_AF_WAYS];
    llm_error_t    err;
    llm_request_t  req;

    for (i = 0; i < n; i++) {
        json = test_af_body(ctx, cases[i].json);

        for (w = 0; w < TEST_AF_WAYS; w++) {
            applied[w] = 0;
        }

        for (how = 0; how < (checked ? 2 : 1); how++) {
            if (!checked) {
                test_af_parse_unchecked(&req, json, strlen(json));

            } else if (how == 0) {
                if (llm_request_parse(&req, json, strlen(json), &err)
                    != LLM_OK)
                {
                    fail_msg("case %lu: %s", (unsigned long) i, err.message);
                }

            } else {
                assert_int_equal(llm_request_parse_pool(&req, json,
                                                        strlen(json),
                                                        &ctx->pool, &err),
                                 LLM_OK);
            }

            for (w = 0; w < TEST_AF_WAYS; w++) {
                test_af_one(ctx, &test_af_ways[w], &req, json,
                            cases[i].fast & test_af_ways[w].bit,
                            &applied[w]);
            }

            llm_request_free(&req);
        }

        for (w = 0; w < TEST_AF_WAYS; w++) {
            if ((cases[i].fast & test_af_ways[w].bit) && applied[w] == 0) {
                fail_msg("case %lu: the %s writer never applied: %.200s",
                         (unsigned long) i, test_af_ways[w].name, json);
            }
        }
    }
}


/* the case's text with its long strings, on the heap of the test */

static char *
test_af_body(test_ctx_t *ctx, const char *tpl)
{
    char        *json, *d;
    size_t       n, len;
    const char  *s, *piece;

    n = 0;

    for (s = tpl; *s != '\0'; s++) {
        n += (s[0] == '@' && (s[1] == 'A' || s[1] == 'B'));
    }

    /* 16 pieces of 40 bytes each: 640 bytes, over LLM_JSON_REF_MIN */

    len = strlen(tpl) + n * 16 * 48 + 1;
    json = test_copy(ctx, NULL, len);
    d = json;

    for (s = tpl; *s != '\0'; s++) {
        if (s[0] == '@' && (s[1] == 'A' || s[1] == 'B')) {
            piece = (s[1] == 'A') ? TEST_AF_PIECE_A : TEST_AF_PIECE_B;

            for (n = 0; n < 16; n++) {
                d += sprintf(d, "%s", piece);
            }

            s++;
            continue;
        }

        *d++ = *s;
    }

    *d = '\0';

    return json;
}


/*
 * One request with each provider setting, with and without its
 * references: where the writer applies, the tree's result exactly; where
 * the tree fails, the writer declines
 */

static void
test_af_one(test_ctx_t *ctx, const test_af_way_t *way,
    const llm_request_t *req, const char *json, int fast, size_t *applied)
{
    int                  rc, rf, refs;
    size_t               k;
    llm_error_t          err;
    llm_request_t        copy;
    llm_provider_t       p;
    llm_http_request_t   a, b;

    static const struct {
        const char  *model;
        long         max_tokens;
        const char  *key;
        const char  *base_path;
    } providers[] = {
        { NULL, 0, "sk-test-SECRET", "/v1" },
        { "claude-x \"\xc3\xa9\"", 77, NULL, "/v1?beta=1" },
        { "", 5, "", "/" },
        { "models/gemini-2.0-flash", 0, "k", "/v1beta" },
    };

    for (k = 0; k < sizeof(providers) / sizeof(providers[0]); k++) {
        for (refs = 0; refs < 2; refs++) {
            memset(&p, 0, sizeof(llm_provider_t));
            p.name = "test";
            p.model = providers[k].model;
            p.max_tokens = providers[k].max_tokens;
            p.api_key = providers[k].key;
            p.base_path = providers[k].base_path;

            copy = *req;

            if (!refs) {
                copy.refs.n = 0;
                copy.refs.len = 0;
            }

            memset(&a, 0x5a, sizeof(llm_http_request_t));
            memset(&b, 0x5a, sizeof(llm_http_request_t));

            rc = way->tree(&copy, &p, &ctx->pool, &a, &err);
            rf = way->fast(&copy, &p, &ctx->pool, &b, &err);

            if (rc != LLM_OK) {
                if (rf != LLM_DECLINED) {
                    fail_msg("%s: the tree fails (%d %s), the writer does "
                             "not: %.200s", way->name, err.status,
                             err.message, json);
                }

                continue;
            }

            if (rf == LLM_DECLINED) {
                if (fast) {
                    fail_msg("%s: the writer declines: %.200s", way->name,
                             json);
                }

                continue;
            }

            if (!fast) {
                fail_msg("%s: the writer takes: %.200s", way->name, json);
            }

            assert_int_equal(rf, LLM_OK);
            (*applied)++;

            test_af_same(ctx, json, &a, &b);
        }
    }
}


/* the same request: path, headers, body, piece for piece */

static void
test_af_same(test_ctx_t *ctx, const char *json, const llm_http_request_t *a,
    const llm_http_request_t *b)
{
    size_t       i;
    const char  *ja, *jb;

    assert_string_equal(a->method, b->method);
    assert_string_equal(a->path, b->path);
    assert_int_equal(a->nheaders, b->nheaders);

    for (i = 0; i < a->nheaders; i++) {
        assert_string_equal(a->headers[i].name, b->headers[i].name);
        assert_string_equal(a->headers[i].value, b->headers[i].value);
    }

    assert_int_equal(a->body_len, b->body_len);
    assert_int_equal(a->nparts, b->nparts);
    assert_int_equal(a->body == NULL, b->body == NULL);

    if (a->body != NULL) {
        if (memcmp(a->body, b->body, a->body_len) != 0) {
            fail_msg("bodies differ:\n%.*s\n%.*s\nfrom %.300s",
                     (int) a->body_len, a->body, (int) b->body_len, b->body,
                     json);
        }

        assert_int_equal(b->body[b->body_len], '\0');

    } else {
        for (i = 0; i < a->nparts; i++) {
            assert_int_equal(a->parts[i].len, b->parts[i].len);
            assert_memory_equal(a->parts[i].data, b->parts[i].data,
                                a->parts[i].len);

            /* the client's bytes themselves, not a copy */

            if (i % 2 == 1) {
                assert_ptr_equal(a->parts[i].data, b->parts[i].data);
            }
        }
    }

    ja = llm_http_body(a, &ctx->pool);
    jb = llm_http_body(b, &ctx->pool);
    assert_non_null(ja);
    assert_non_null(jb);
    assert_memory_equal(ja, jb, a->body_len);
    assert_int_equal(llm_json_validate(jb, b->body_len, NULL), LLM_OK);
}


/* the request's tree as llm_request_parse() has it, but not checked */

static void
test_af_parse_unchecked(llm_request_t *req, const char *json, size_t len)
{
    cJSON        *root;
    size_t        off;
    const cJSON  *item;

    memset(req, 0, sizeof(llm_request_t));

    req->body = json;
    req->body_len = len;

    assert_int_equal(llm_json_parse_refs(json, len, &root, &off, &req->refs,
                                         NULL),
                     LLM_OK);
    assert_true(cJSON_IsObject(root));

    llm_json_keys_mark(root);

    req->root = root;

    item = llm_json_get(root, "model");
    req->model = cJSON_IsString(item) ? item->valuestring : NULL;
    req->stream = cJSON_IsTrue(llm_json_get(root, "stream"));
}


/* encode() itself: the writer's result where it applies, else the tree's */

static void
test_af_adapter(void **state)
{
    size_t               i, w;
    char                *json;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   a, b;

    static const llm_adapter_t  *const adapters[] = {
        &llm_anthropic_adapter, &llm_cohere_adapter, &llm_gemini_adapter
    };

    static const char  *const bodies[] = {
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
        "\"@A\"},{\"role\":\"user\",\"content\":\"@B\"}],\"stream\":true}",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "[{\"type\":\"text\",\"text\":\"@A\"}]}],\"stop\":\"s\"}",
    };

    ctx = *state;

    memset(&p, 0, sizeof(llm_provider_t));
    p.name = "test";
    p.api_key = "sk-test-SECRET";
    p.base_path = "/v1";

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        json = test_af_body(ctx, bodies[i]);

        assert_int_equal(llm_request_parse_pool(&req, json, strlen(json),
                                                &ctx->pool, &err),
                         LLM_OK);

        for (w = 0; w < TEST_AF_WAYS; w++) {
            assert_int_equal(adapters[w]->encode(&req, &p, &ctx->pool, &a,
                                                 &err),
                             LLM_OK);
            assert_int_equal(test_af_ways[w].tree(&req, &p, &ctx->pool, &b,
                                                  &err),
                             LLM_OK);

            test_af_same(ctx, json, &a, &b);

            /* the first by the writer, the second by the tree */

            assert_int_equal(test_af_ways[w].fast(&req, &p, &ctx->pool, &b,
                                                  &err),
                             (i == 0) ? LLM_OK : LLM_DECLINED);
        }

        llm_request_free(&req);
    }
}


/* more long strings than references kept: the first ones by reference */

static void
test_af_refs_limit(void **state)
{
    char                *tpl, *json, *d;
    size_t               i, w, applied;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;

    ctx = *state;

    tpl = test_copy(ctx, NULL, 4096);
    d = tpl;

    d += sprintf(d, "{\"model\":\"m\",\"messages\":[");

    for (i = 0; i < 2 * LLM_JSON_REFS + 1; i++) {
        d += sprintf(d, "%s{\"role\":\"%s\",\"content\":\"%s\"}",
                     i ? "," : "", (i % 2) ? "assistant" : "user",
                     (i % 3) ? "@A" : "@B");
    }

    sprintf(d, "],\"stop\":[\"@A\"]}");

    json = test_af_body(ctx, tpl);

    assert_int_equal(llm_request_parse_pool(&req, json, strlen(json),
                                            &ctx->pool, &err),
                     LLM_OK);
    assert_int_equal(req.refs.n, LLM_JSON_REFS);

    for (w = 0; w < TEST_AF_WAYS; w++) {
        applied = 0;
        test_af_one(ctx, &test_af_ways[w], &req, json, 1, &applied);
        assert_true(applied > 0);
    }

    llm_request_free(&req);
}


/* out of memory at each allocation of the writer: a 500, never a crash */

static void
test_af_nomem(void **state)
{
    int                  rc;
    char                *json;
    size_t               w, fail;
    test_ctx_t          *ctx;
    llm_error_t          err;
    llm_request_t        req;
    llm_provider_t       p;
    llm_http_request_t   out;

    ctx = *state;

    json = test_af_body(ctx, "{\"model\":\"m\",\"messages\":[{\"role\":"
                        "\"system\",\"content\":\"@A\"},{\"role\":\"user\","
                        "\"content\":\"@B\"}]}");

    assert_int_equal(llm_request_parse(&req, json, strlen(json), &err),
                     LLM_OK);

    memset(&p, 0, sizeof(llm_provider_t));
    p.name = "test";
    p.base_path = "/v1";

    for (w = 0; w < TEST_AF_WAYS; w++) {
        for (fail = 0; /* void */ ; fail++) {
            ctx->fail_at = ctx->count + 1 + fail;

            rc = test_af_ways[w].fast(&req, &p, &ctx->pool, &out, &err);

            ctx->fail_at = 0;

            if (rc == LLM_OK) {
                break;
            }

            assert_int_equal(rc, LLM_ERROR);
            assert_int_equal(err.status, 500);
            assert_true(fail < 10);
        }

        assert_true(fail > 0);
        assert_int_equal(out.nparts, 5);
    }

    llm_request_free(&req);
}


void
test_encode_fast_register(void)
{
    TEST_ADD(test_af_plain);
    TEST_ADD(test_af_declined);
    TEST_ADD(test_af_unchecked);
    TEST_ADD(test_af_adapter);
    TEST_ADD(test_af_refs_limit);
    TEST_ADD(test_af_nomem);
}
