
/*
 * ngx_http_llm_router_module: tests of usage and cost (llm_usage.c):
 * llm_usage_known(), llm_usage_cost(), llm_cost_format(),
 * llm_price_parse(), and every provider's usage mapping from an answer to
 * its cost.
 */


#include <limits.h>
#include <string.h>

#include "test_util.h"


#define TEST_CREATED  1767225600LL


static void test_usage_set(llm_usage_t *u, long long prompt,
    long long completion, long long cached, long long write);
static void test_usage_price(llm_price_t *p, const char *input,
    const char *output, const char *cache_read, const char *cache_write);
static void test_usage_cost_is(const llm_usage_t *u, const llm_price_t *p,
    const char *want);
static void test_usage_decode(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *body, llm_response_t *out);
static void test_usage_known(void **state);
static void test_usage_cost_formula(void **state);
static void test_usage_cost_clamp(void **state);
static void test_usage_cost_exact(void **state);
static void test_usage_cost_overflow(void **state);
static void test_usage_cost_format(void **state);
static void test_usage_cost_format_size(void **state);
static void test_usage_price_parse(void **state);
static void test_usage_price_reject(void **state);
static void test_usage_price_limits(void **state);
static void test_usage_anthropic(void **state);
static void test_usage_anthropic_stream(void **state);
static void test_usage_gemini(void **state);
static void test_usage_gemini_stream(void **state);
static void test_usage_cohere(void **state);
static void test_usage_cohere_stream(void **state);
static void test_usage_openai_stream(void **state);
static void test_usage_mistral_stream(void **state);
static void test_usage_relayed(void **state);
static void test_usage_none(void **state);


static void
test_usage_set(llm_usage_t *u, long long prompt, long long completion,
    long long cached, long long write)
{
    u->prompt_tokens = prompt;
    u->completion_tokens = completion;
    u->total_tokens = -1;
    u->cached_tokens = cached;
    u->cache_write_tokens = write;
    u->reasoning_tokens = -1;
}


/* prices in USD per 1M tokens, as the configuration has them */

static void
test_usage_price(llm_price_t *p, const char *input, const char *output,
    const char *cache_read, const char *cache_write)
{
    memset(p, 0, sizeof(llm_price_t));

    assert_int_equal(llm_price_parse(input, strlen(input), &p->input),
                     LLM_OK);
    assert_int_equal(llm_price_parse(output, strlen(output), &p->output),
                     LLM_OK);

    if (cache_read != NULL) {
        assert_int_equal(llm_price_parse(cache_read, strlen(cache_read),
                                         &p->cache_read), LLM_OK);
    }

    if (cache_write != NULL) {
        assert_int_equal(llm_price_parse(cache_write, strlen(cache_write),
                                         &p->cache_write), LLM_OK);
    }
}


static void
test_usage_cost_is(const llm_usage_t *u, const llm_price_t *p,
    const char *want)
{
    char    buf[LLM_COST_LEN + 1];
    size_t  len;

    len = llm_cost_format(buf, sizeof(buf), llm_usage_cost(u, p));

    assert_int_equal(len, strlen(want));
    assert_string_equal(buf, want);
}


static void
test_usage_decode(test_ctx_t *ctx, const llm_adapter_t *ad, const char *body,
    llm_response_t *out)
{
    char            *copy;
    size_t           len;
    llm_error_t      err;
    llm_request_t    req;
    llm_provider_t   p;

    memset(&req, 0, sizeof(llm_request_t));
    memset(&p, 0, sizeof(llm_provider_t));

    req.model = "client-model";
    p.name = "test";
    p.model = "m-1";

    len = strlen(body);
    copy = test_copy(ctx, body, len);

    if (ad->decode(&req, &p, copy, len, TEST_CREATED, &ctx->pool, out, &err)
        != LLM_OK)
    {
        fail_msg("decode failed: %s", err.message);
    }
}


static void
test_usage_known(void **state)
{
    llm_usage_t  u;

    (void) state;

    llm_usage_none(&u);

    assert_int_equal(llm_usage_known(&u), 0);
    assert_int_equal(llm_usage_known(NULL), 0);

    /* a total, cache or reasoning counts alone are not usage */

    u.total_tokens = 10;
    u.cached_tokens = 2;
    u.cache_write_tokens = 3;
    u.reasoning_tokens = 4;

    assert_int_equal(llm_usage_known(&u), 0);

    u.prompt_tokens = 0;
    assert_int_equal(llm_usage_known(&u), 1);

    u.prompt_tokens = -1;
    u.completion_tokens = 0;
    assert_int_equal(llm_usage_known(&u), 1);

    u.prompt_tokens = -7;
    u.completion_tokens = -2;
    assert_int_equal(llm_usage_known(&u), 0);

    /* llm_usage_add(): -1 only when neither is reported */

    assert_true(llm_usage_add(-1, -1) == -1);
    assert_true(llm_usage_add(-1, 0) == 0);
    assert_true(llm_usage_add(5, -1) == 5);
    assert_true(llm_usage_add(5, 7) == 12);
    assert_true(llm_usage_add(9007199254740992LL, 9007199254740992LL)
                == 18014398509481984LL);
}


/* (prompt - cached - write) * input + cached * read + write * write + out */

static void
test_usage_cost_formula(void **state)
{
    llm_price_t  p;
    llm_usage_t  u;

    (void) state;

    p.input = 3000000;
    p.output = 15000000;
    p.cache_read = 300000;
    p.cache_write = 3750000;

    test_usage_set(&u, 7100, 300, 5000, 2000);

    assert_true(llm_usage_cost(&u, &p)
                == 100ULL * 3000000 + 5000ULL * 300000 + 2000ULL * 3750000
                   + 300ULL * 15000000);

    test_usage_cost_is(&u, &p, "0.013800000000");

    /* each term alone */

    test_usage_set(&u, 1, -1, -1, -1);
    assert_true(llm_usage_cost(&u, &p) == 3000000);

    test_usage_set(&u, -1, 1, -1, -1);
    assert_true(llm_usage_cost(&u, &p) == 15000000);

    test_usage_set(&u, 1, -1, 1, -1);
    assert_true(llm_usage_cost(&u, &p) == 300000);

    test_usage_set(&u, 1, -1, -1, 1);
    assert_true(llm_usage_cost(&u, &p) == 3750000);

    /* the total and reasoning counts do not count again */

    test_usage_set(&u, 10, 20, -1, -1);
    u.total_tokens = 1000;
    u.reasoning_tokens = 15;

    assert_true(llm_usage_cost(&u, &p) == 10ULL * 3000000 + 20ULL * 15000000);

    /* free: no price, no cost */

    memset(&p, 0, sizeof(llm_price_t));
    test_usage_set(&u, 1000, 1000, 10, 10);

    assert_true(llm_usage_cost(&u, &p) == 0);
    assert_true(llm_usage_cost(NULL, &p) == 0);
    assert_true(llm_usage_cost(&u, NULL) == 0);
}


/* negative counts are 0; the uncached input never goes below 0 */

static void
test_usage_cost_clamp(void **state)
{
    llm_price_t  p;
    llm_usage_t  u;

    (void) state;

    p.input = 1000;
    p.output = 100;
    p.cache_read = 10;
    p.cache_write = 1;

    llm_usage_none(&u);
    assert_true(llm_usage_cost(&u, &p) == 0);

    test_usage_set(&u, -5, -9, -1, -3);
    assert_true(llm_usage_cost(&u, &p) == 0);

    /* cached + written > prompt: the provider's counts, at their prices */

    test_usage_set(&u, 10, 0, 8, 8);
    assert_true(llm_usage_cost(&u, &p) == 8 * 10 + 8 * 1);

    test_usage_set(&u, 16, 0, 8, 8);
    assert_true(llm_usage_cost(&u, &p) == 8 * 10 + 8 * 1);

    test_usage_set(&u, 17, 0, 8, 8);
    assert_true(llm_usage_cost(&u, &p) == 1000 + 8 * 10 + 8 * 1);

    /* cache counts without a prompt count */

    test_usage_set(&u, -1, 2, 4, -1);
    assert_true(llm_usage_cost(&u, &p) == 4 * 10 + 2 * 100);

    /* the largest counts a decoder gives: 2^53 */

    p.input = 1;
    p.output = 1;
    p.cache_read = 1;
    p.cache_write = 1;

    test_usage_set(&u, 9007199254740992LL, 9007199254740992LL,
                   9007199254740992LL, 9007199254740992LL);
    assert_true(llm_usage_cost(&u, &p) == 3ULL * 9007199254740992ULL);
}


/* prices with six decimals are exact: no binary fractions */

static void
test_usage_cost_exact(void **state)
{
    llm_price_t  p;
    llm_usage_t  u;

    (void) state;

    /* 0.1 + 0.2 is 0.3 here */

    test_usage_price(&p, "0.1", "0.2", NULL, NULL);
    test_usage_set(&u, 1, 1, -1, -1);

    assert_true(llm_usage_cost(&u, &p) == 300000);
    test_usage_cost_is(&u, &p, "0.000000300000");

    /* the smallest price: one pico-USD a token */

    test_usage_price(&p, "0.000001", "0.000003", NULL, NULL);
    test_usage_set(&u, 1, 1, -1, -1);

    test_usage_cost_is(&u, &p, "0.000000000004");

    /* a million tokens at the price per million cost the price */

    test_usage_price(&p, "3.5", "15", "0.35", "4.375");

    test_usage_set(&u, 1000000, -1, -1, -1);
    test_usage_cost_is(&u, &p, "3.500000000000");

    test_usage_set(&u, -1, 1000000, -1, -1);
    test_usage_cost_is(&u, &p, "15.000000000000");

    test_usage_set(&u, 1000000, -1, 1000000, -1);
    test_usage_cost_is(&u, &p, "0.350000000000");

    test_usage_set(&u, 1000000, -1, -1, 1000000);
    test_usage_cost_is(&u, &p, "4.375000000000");

    /* 7 tokens at 0.000125 USD per 1M: 875 pico-USD */

    test_usage_price(&p, "0.000125", "0", NULL, NULL);
    test_usage_set(&u, 7, 3, -1, -1);

    assert_true(llm_usage_cost(&u, &p) == 875);
    test_usage_cost_is(&u, &p, "0.000000000875");

    /* many requests add up exactly: 3 * 333333 tokens at 0.3 USD/1M */

    test_usage_price(&p, "0.3", "0", NULL, NULL);
    test_usage_set(&u, 333333, 0, -1, -1);

    assert_true(3 * llm_usage_cost(&u, &p) == 299999700000ULL);
}


/* a cost that does not fit 64 bits is ULLONG_MAX, never a wrapped one */

static void
test_usage_cost_overflow(void **state)
{
    llm_price_t  p;
    llm_usage_t  u;

    (void) state;

    memset(&p, 0, sizeof(llm_price_t));

    /* 6700417 * 2753074036095 is exactly ULLONG_MAX */

    p.input = 2753074036095ULL;
    test_usage_set(&u, 6700417, -1, -1, -1);

    assert_true(llm_usage_cost(&u, &p) == ULLONG_MAX);

    /* one token more does not fit */

    test_usage_set(&u, 6700418, -1, -1, -1);
    assert_true(llm_usage_cost(&u, &p) == ULLONG_MAX);

    /* ULLONG_MAX - 1, then the sums around the limit */

    memset(&p, 0, sizeof(llm_price_t));
    p.input = 9223372036854775807ULL;
    p.output = 1;

    test_usage_set(&u, 2, 0, -1, -1);
    assert_true(llm_usage_cost(&u, &p) == ULLONG_MAX - 1);

    test_usage_set(&u, 2, 1, -1, -1);
    assert_true(llm_usage_cost(&u, &p) == ULLONG_MAX);

    test_usage_set(&u, 2, 2, -1, -1);
    assert_true(llm_usage_cost(&u, &p) == ULLONG_MAX);

    test_usage_set(&u, 3, 0, -1, -1);
    assert_true(llm_usage_cost(&u, &p) == ULLONG_MAX);

    /* every term large: the sum overflows, each product does not */

    p.input = 1ULL << 62;
    p.output = 1ULL << 62;
    p.cache_read = 1ULL << 62;
    p.cache_write = 1ULL << 62;

    test_usage_set(&u, 3, 1, 1, 1);
    assert_true(llm_usage_cost(&u, &p) == ULLONG_MAX);

    test_usage_set(&u, 3, 0, 1, 1);
    assert_true(llm_usage_cost(&u, &p) == 3ULL << 62);

    /* 2^53 tokens at 2047 pico-USD fit, at 2048 they do not */

    memset(&p, 0, sizeof(llm_price_t));
    p.output = 2047;

    test_usage_set(&u, -1, 9007199254740992LL, -1, -1);
    assert_true(llm_usage_cost(&u, &p) == 18437736874454810624ULL);

    p.output = 2048;
    assert_true(llm_usage_cost(&u, &p) == ULLONG_MAX);

    /* a price of ULLONG_MAX with no tokens costs nothing */

    memset(&p, 0xff, sizeof(llm_price_t));
    test_usage_set(&u, 0, 0, 0, 0);

    assert_true(llm_usage_cost(&u, &p) == 0);
}


static void
test_usage_cost_format(void **state)
{
    size_t   i;
    char     buf[64];

    static const struct {
        unsigned long long   pico;
        const char          *text;
    } t[] = {
        { 0, "0.000000000000" },
        { 1, "0.000000000001" },
        { 123000000ULL, "0.000123000000" },
        { 999999999999ULL, "0.999999999999" },
        { 1000000000000ULL, "1.000000000000" },
        { 12500000000000ULL, "12.500000000000" },
        { 1000000000000000ULL, "1000.000000000000" },
        { 18446744073709551615ULL, "18446744.073709551615" }
    };

    (void) state;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        memset(buf, 'Z', sizeof(buf));

        assert_int_equal(llm_cost_format(buf, sizeof(buf), t[i].pico),
                         strlen(t[i].text));
        assert_string_equal(buf, t[i].text);
    }

    /* LLM_COST_LEN is the longest */

    assert_int_equal(llm_cost_format(NULL, 0, ULLONG_MAX), LLM_COST_LEN);
}


/* the whole text and its NUL, or nothing */

static void
test_usage_cost_format_size(void **state)
{
    char    buf[32];
    size_t  size;

    (void) state;

    for (size = 0; size <= sizeof("12.500000000000"); size++) {
        memset(buf, 'Z', sizeof(buf));

        assert_int_equal(llm_cost_format(buf, size, 12500000000000ULL),
                         sizeof("12.500000000000") - 1);

        if (size == 0) {
            assert_int_equal(buf[0], 'Z');

        } else if (size < sizeof("12.500000000000")) {
            assert_int_equal(buf[0], '\0');
            assert_int_equal(buf[1], 'Z');

        } else {
            assert_string_equal(buf, "12.500000000000");
            assert_int_equal(buf[size], 'Z');
        }
    }

    assert_int_equal(llm_cost_format(NULL, 100, 5), 14);
}


static void
test_usage_price_parse(void **state)
{
    size_t              i;
    unsigned long long  m;

    static const struct {
        const char          *text;
        unsigned long long   micro;
    } t[] = {
        { "3", 3000000ULL },
        { "3.5", 3500000ULL },
        { "0.000125", 125ULL },
        { "15.", 15000000ULL },
        { ".5", 500000ULL },
        { "0", 0 },
        { "0.0", 0 },
        { "0.000001", 1 },
        { "007.10", 7100000ULL },
        { "1.100000", 1100000ULL },
        { "0.3", 300000ULL },
        { "4.375", 4375000ULL },
        { "1000", 1000000000ULL },
        { "123456.654321", 123456654321ULL }
    };

    (void) state;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        m = 77;

        assert_int_equal(llm_price_parse(t[i].text, strlen(t[i].text), &m),
                         LLM_OK);
        assert_true(m == t[i].micro);
    }

    /* need not be NUL-terminated: only len bytes are read */

    m = 0;
    assert_int_equal(llm_price_parse("3.5xyz", 3, &m), LLM_OK);
    assert_true(m == 3500000);

    assert_int_equal(llm_price_parse("2.25;", 4, &m), LLM_OK);
    assert_true(m == 2250000);
}


static void
test_usage_price_reject(void **state)
{
    size_t              i;
    unsigned long long  m;

    static const char  *const bad[] = {
        "",
        ".",
        "-1",
        "-0",
        "+1",
        "1.0000001",
        "0.0000001",
        "1..2",
        "1.2.3",
        "abc",
        "1e3",
        "1E-3",
        " 1",
        "1 ",
        "1,5",
        "0x10",
        "$3",
        "3usd",
        "inf",
        "nan",
        "\xef\xbc\x93"                  /* a fullwidth 3 */
    };

    (void) state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m = 77;

        if (llm_price_parse(bad[i], strlen(bad[i]), &m) != LLM_ERROR) {
            fail_msg("\"%s\" was taken", bad[i]);
        }

        assert_true(m == 77);
    }

    /* a NUL inside the length is junk */

    assert_int_equal(llm_price_parse("1\0", 2, &m), LLM_ERROR);
    assert_int_equal(llm_price_parse("1.\0", 3, &m), LLM_ERROR);
    assert_int_equal(llm_price_parse(NULL, 0, &m), LLM_ERROR);
    assert_int_equal(llm_price_parse("1", 0, &m), LLM_ERROR);
}


/* the largest price that fits 64 bits of micro-USD, and one more */

static void
test_usage_price_limits(void **state)
{
    unsigned long long  m;

    (void) state;

    assert_int_equal(llm_price_parse("18446744073709.551615",
                                     sizeof("18446744073709.551615") - 1,
                                     &m), LLM_OK);
    assert_true(m == ULLONG_MAX);

    assert_int_equal(llm_price_parse("18446744073709.551616",
                                     sizeof("18446744073709.551616") - 1,
                                     &m), LLM_ERROR);

    assert_int_equal(llm_price_parse("18446744073709",
                                     sizeof("18446744073709") - 1, &m),
                     LLM_OK);
    assert_true(m == 18446744073709000000ULL);

    assert_int_equal(llm_price_parse("18446744073710",
                                     sizeof("18446744073710") - 1, &m),
                     LLM_ERROR);

    /* digits that overflow before the scaling */

    assert_int_equal(llm_price_parse("18446744073709551615",
                                     sizeof("18446744073709551615") - 1, &m),
                     LLM_ERROR);
    assert_int_equal(llm_price_parse("18446744073709551616",
                                     sizeof("18446744073709551616") - 1, &m),
                     LLM_ERROR);
    assert_int_equal(llm_price_parse("99999999999999999999999999",
                                     sizeof("99999999999999999999999999")
                                     - 1, &m), LLM_ERROR);

    /* leading zeros do not count */

    assert_int_equal(llm_price_parse("0000000000000000000000003.5",
                                     sizeof("0000000000000000000000003.5")
                                     - 1, &m), LLM_OK);
    assert_true(m == 3500000);
}


/*
 * Anthropic: prompt = input + cache writes + cache reads, each at its
 * price (Claude Sonnet 4.5: 3, 15, 0.30 read, 3.75 written)
 */

static const char  test_usage_anthropic_answer[] =
    "{\"id\":\"msg_u1\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"text\","
    "\"text\":\"Hi\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
    "\"usage\":{\"input_tokens\":100,\"cache_creation_input_tokens\":2000,"
    "\"cache_read_input_tokens\":5000,\"output_tokens\":300}}";


static void
test_usage_anthropic(void **state)
{
    llm_price_t     p;
    llm_response_t  out;

    test_usage_decode(*state, &llm_anthropic_adapter,
                      test_usage_anthropic_answer, &out);

    assert_true(out.usage.prompt_tokens == 7100);
    assert_true(out.usage.cached_tokens == 5000);
    assert_true(out.usage.cache_write_tokens == 2000);
    assert_true(out.usage.completion_tokens == 300);
    assert_true(out.usage.total_tokens == 7400);
    assert_int_equal(llm_usage_known(&out.usage), 1);

    assert_string_equal(out.finish_reason, "stop");
    assert_int_equal(out.content_len, 2);
    assert_memory_equal(out.content, "Hi", 2);

    /* the rendered usage is as before: no cache-write field */

    assert_non_null(strstr(out.body, "\"usage\":{\"prompt_tokens\":7100,"
                                     "\"completion_tokens\":300,"
                                     "\"total_tokens\":7400,"
                                     "\"prompt_tokens_details\":"
                                     "{\"cached_tokens\":5000}}}"));

    test_usage_price(&p, "3", "15", "0.30", "3.75");
    test_usage_cost_is(&out.usage, &p, "0.013800000000");
}


static void
test_usage_anthropic_stream(void **state)
{
    llm_price_t         p;
    test_stream_run_t   run;

    test_stream_run(*state, &llm_anthropic_adapter,
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_u2\","
        "\"type\":\"message\",\"role\":\"assistant\",\"model\":"
        "\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,"
        "\"usage\":{\"input_tokens\":100,\"cache_creation_input_tokens\":"
        "2000,\"cache_read_input_tokens\":5000,\"output_tokens\":1}}}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
        "{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
        "event: content_block_stop\n"
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"end_turn\",\"stop_sequence\":null},\"usage\":"
        "{\"output_tokens\":300}}\n\n"
        "event: message_stop\n"
        "data: {\"type\":\"message_stop\"}\n\n",
        1, 0, NULL, 0, &run);

    assert_int_equal(run.rc, LLM_DONE);
    assert_int_equal(run.end, LLM_OK);

    assert_true(run.st.usage.prompt_tokens == 7100);
    assert_true(run.st.usage.cached_tokens == 5000);
    assert_true(run.st.usage.cache_write_tokens == 2000);
    assert_true(run.st.usage.completion_tokens == 300);
    assert_true(run.st.usage.total_tokens == 7400);

    test_usage_price(&p, "3", "15", "0.30", "3.75");
    test_usage_cost_is(&run.st.usage, &p, "0.013800000000");
}


/*
 * Gemini: promptTokenCount includes the cached content, thoughts are
 * output (Gemini 2.5 Pro: 1.25, 10, 0.125 cached)
 */

#define TEST_GEMINI_USAGE                                                     \
    "\"usageMetadata\":{\"promptTokenCount\":1000,"                           \
    "\"cachedContentTokenCount\":800,\"candidatesTokenCount\":50,"            \
    "\"thoughtsTokenCount\":200,\"totalTokenCount\":1250}"


static void
test_usage_gemini(void **state)
{
    llm_price_t     p;
    llm_response_t  out;

    test_usage_decode(*state, &llm_gemini_adapter,
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{"
        "\"text\":\"o\"},{\"text\":\"k\"}]},\"finishReason\":\"MAX_TOKENS\","
        "\"index\":0}]," TEST_GEMINI_USAGE ",\"modelVersion\":"
        "\"gemini-2.5-pro\",\"responseId\":\"r\"}", &out);

    assert_true(out.usage.prompt_tokens == 1000);
    assert_true(out.usage.cached_tokens == 800);
    assert_true(out.usage.cache_write_tokens == -1);
    assert_true(out.usage.completion_tokens == 250);
    assert_true(out.usage.reasoning_tokens == 200);
    assert_true(out.usage.total_tokens == 1250);

    assert_string_equal(out.finish_reason, "length");
    assert_int_equal(out.content_len, 2);
    assert_memory_equal(out.content, "ok", 2);

    test_usage_price(&p, "1.25", "10", "0.125", NULL);
    test_usage_cost_is(&out.usage, &p, "0.002850000000");
}


static void
test_usage_gemini_stream(void **state)
{
    llm_price_t         p;
    test_stream_run_t   run;

    test_stream_run(*state, &llm_gemini_adapter,
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":"
        "[{\"text\":\"o\"}]},\"index\":0}],\"usageMetadata\":"
        "{\"promptTokenCount\":1000,\"totalTokenCount\":1000},"
        "\"modelVersion\":\"gemini-2.5-pro\",\"responseId\":\"r\"}\r\n\r\n"
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":"
        "[{\"text\":\"k\"}]},\"finishReason\":\"STOP\",\"index\":0}],"
        TEST_GEMINI_USAGE ",\"modelVersion\":\"gemini-2.5-pro\","
        "\"responseId\":\"r\"}\r\n\r\n",
        1, 0, NULL, 0, &run);

    assert_int_equal(run.rc, LLM_OK);
    assert_int_equal(run.end, LLM_OK);

    assert_true(run.st.usage.prompt_tokens == 1000);
    assert_true(run.st.usage.cached_tokens == 800);
    assert_true(run.st.usage.completion_tokens == 250);

    test_usage_price(&p, "1.25", "10", "0.125", NULL);
    test_usage_cost_is(&run.st.usage, &p, "0.002850000000");
}


/* Cohere: the billed units, not the raw counts (Command A: 2.5, 10) */

static void
test_usage_cohere(void **state)
{
    llm_price_t     p;
    llm_response_t  out;

    test_usage_decode(*state, &llm_cohere_adapter,
        "{\"id\":\"c1\",\"finish_reason\":\"COMPLETE\",\"message\":{\"role\":"
        "\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]},"
        "\"usage\":{\"billed_units\":{\"input_tokens\":18,\"output_tokens\":"
        "7},\"tokens\":{\"input_tokens\":905,\"output_tokens\":9}}}", &out);

    assert_true(out.usage.prompt_tokens == 18);
    assert_true(out.usage.completion_tokens == 7);
    assert_true(out.usage.cached_tokens == -1);
    assert_true(out.usage.cache_write_tokens == -1);

    assert_string_equal(out.finish_reason, "stop");
    assert_int_equal(out.content_len, 1);
    assert_memory_equal(out.content, "x", 1);

    test_usage_price(&p, "2.5", "10", NULL, NULL);
    test_usage_cost_is(&out.usage, &p, "0.000115000000");
}


static void
test_usage_cohere_stream(void **state)
{
    llm_price_t         p;
    test_stream_run_t   run;

    test_stream_run(*state, &llm_cohere_adapter,
        "event: message-start\n"
        "data: {\"id\":\"c2\",\"type\":\"message-start\",\"delta\":"
        "{\"message\":{\"role\":\"assistant\",\"content\":[]}}}\n\n"
        "event: content-delta\n"
        "data: {\"type\":\"content-delta\",\"index\":0,\"delta\":"
        "{\"message\":{\"content\":{\"text\":\"x\"}}}}\n\n"
        "event: message-end\n"
        "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":"
        "\"COMPLETE\",\"usage\":{\"billed_units\":{\"input_tokens\":18,"
        "\"output_tokens\":7},\"tokens\":{\"input_tokens\":905,"
        "\"output_tokens\":9}}}}\n\n",
        1, 0, NULL, 0, &run);

    assert_int_equal(run.rc, LLM_DONE);

    assert_true(run.st.usage.prompt_tokens == 18);
    assert_true(run.st.usage.completion_tokens == 7);

    test_usage_price(&p, "2.5", "10", NULL, NULL);
    test_usage_cost_is(&run.st.usage, &p, "0.000115000000");
}


/*
 * OpenAI: prompt_tokens includes the cached ones (GPT-4o: 2.5, 10, 1.25
 * cached)
 */

static void
test_usage_openai_stream(void **state)
{
    llm_price_t         p;
    test_stream_run_t   run;

    test_stream_run(*state, &llm_openai_adapter,
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\","
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n"
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\","
        "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
        "\"usage\":null}\n\n"
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\","
        "\"choices\":[],\"usage\":{\"prompt_tokens\":1117,"
        "\"completion_tokens\":46,\"total_tokens\":1163,"
        "\"prompt_tokens_details\":{\"cached_tokens\":1024,"
        "\"audio_tokens\":0},\"completion_tokens_details\":"
        "{\"reasoning_tokens\":30,\"audio_tokens\":0}}}\n\n"
        "data: [DONE]\n\n",
        0, 0, NULL, 0, &run);

    assert_int_equal(run.rc, LLM_DONE);

    assert_true(run.st.usage.prompt_tokens == 1117);
    assert_true(run.st.usage.cached_tokens == 1024);
    assert_true(run.st.usage.cache_write_tokens == -1);
    assert_true(run.st.usage.completion_tokens == 46);
    assert_true(run.st.usage.reasoning_tokens == 30);

    test_usage_price(&p, "2.5", "10", "1.25", NULL);
    test_usage_cost_is(&run.st.usage, &p, "0.001972500000");
}


/* Mistral: usage in the final chunk (Mistral Small: 0.1, 0.3) */

static void
test_usage_mistral_stream(void **state)
{
    llm_price_t         p;
    test_stream_run_t   run;

    test_stream_run(*state, &llm_mistral_adapter,
        "data: {\"id\":\"m\",\"object\":\"chat.completion.chunk\","
        "\"created\":1767225600,\"model\":\"mistral-small-latest\","
        "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":\"\"},\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"m\",\"object\":\"chat.completion.chunk\","
        "\"created\":1767225600,\"model\":\"mistral-small-latest\","
        "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},"
        "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":16,"
        "\"completion_tokens\":34,\"total_tokens\":50}}\n\n"
        "data: [DONE]\n\n",
        1, 0, NULL, 0, &run);

    assert_int_equal(run.rc, LLM_DONE);

    assert_true(run.st.usage.prompt_tokens == 16);
    assert_true(run.st.usage.completion_tokens == 34);
    assert_true(run.st.usage.cached_tokens == -1);
    assert_true(run.st.usage.cache_write_tokens == -1);

    test_usage_price(&p, "0.1", "0.3", NULL, NULL);
    test_usage_cost_is(&run.st.usage, &p, "0.000011800000");
}


/* relayed OpenAI-format answers: through the scanner */

static void
test_usage_relayed(void **state)
{
    llm_scan_t    s;
    llm_price_t   p;
    llm_usage_t   u;
    const char   *reason;

    static const char  answer[] =
        "{\"id\":\"chatcmpl-u\",\"object\":\"chat.completion\",\"created\":"
        "1741570283,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":"
        "0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi\","
        "\"refusal\":null,\"annotations\":[]},\"logprobs\":null,"
        "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1117,"
        "\"completion_tokens\":46,\"total_tokens\":1163,"
        "\"prompt_tokens_details\":{\"cached_tokens\":1024,"
        "\"audio_tokens\":0},\"completion_tokens_details\":"
        "{\"reasoning_tokens\":30,\"audio_tokens\":0,"
        "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}},"
        "\"service_tier\":\"default\",\"system_fingerprint\":\"fp_f\"}";

    static const char  mistral[] =
        "{\"id\":\"cmpl-e5\",\"object\":\"chat.completion\",\"model\":"
        "\"mistral-small-latest\",\"usage\":{\"prompt_tokens\":16,"
        "\"completion_tokens\":34,\"total_tokens\":50},\"created\":"
        "1702256327,\"choices\":[{\"index\":0,\"message\":{\"content\":"
        "\"ok\",\"tool_calls\":null,\"prefix\":false,\"role\":"
        "\"assistant\"},\"finish_reason\":\"stop\"}]}";

    (void) state;

    llm_scan_init(&s, NULL, 0);
    llm_scan_feed(&s, answer, sizeof(answer) - 1);

    assert_int_equal(llm_scan_finish(&s, &u, &reason, NULL), LLM_OK);

    assert_string_equal(reason, "stop");
    assert_true(u.prompt_tokens == 1117);
    assert_true(u.cached_tokens == 1024);
    assert_true(u.completion_tokens == 46);

    test_usage_price(&p, "2.5", "10", "1.25", NULL);
    test_usage_cost_is(&u, &p, "0.001972500000");

    /* Mistral: usage first */

    llm_scan_init(&s, NULL, 0);
    llm_scan_feed(&s, mistral, sizeof(mistral) - 1);

    assert_int_equal(llm_scan_finish(&s, &u, NULL, NULL), LLM_OK);

    test_usage_price(&p, "0.1", "0.3", NULL, NULL);
    test_usage_cost_is(&u, &p, "0.000011800000");
}


/* no usage from the provider: not known, and not billed as free */

static void
test_usage_none(void **state)
{
    llm_price_t         p;
    llm_response_t      out;
    test_stream_run_t   run;

    test_usage_price(&p, "3", "15", NULL, NULL);

    test_usage_decode(*state, &llm_anthropic_adapter,
        "{\"id\":\"msg_n\",\"type\":\"message\",\"content\":[],"
        "\"stop_reason\":\"end_turn\"}", &out);

    assert_int_equal(llm_usage_known(&out.usage), 0);
    assert_true(llm_usage_cost(&out.usage, &p) == 0);
    assert_null(strstr(out.body, "usage"));

    test_stream_run(*state, &llm_gemini_adapter,
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":"
        "[{\"text\":\"k\"}]},\"finishReason\":\"STOP\",\"index\":0}],"
        "\"responseId\":\"r\"}\r\n\r\n",
        1, 0, NULL, 0, &run);

    assert_int_equal(run.end, LLM_OK);
    assert_int_equal(llm_usage_known(&run.st.usage), 0);
    assert_int_equal(run.st.usage_sent, 0);
    assert_null(strstr(test_cstr(*state, run.out.buf, run.out.len),
                       "usage"));
}


void
test_usage_register(void)
{
    TEST_ADD(test_usage_known);
    TEST_ADD(test_usage_cost_formula);
    TEST_ADD(test_usage_cost_clamp);
    TEST_ADD(test_usage_cost_exact);
    TEST_ADD(test_usage_cost_overflow);
    TEST_ADD(test_usage_cost_format);
    TEST_ADD(test_usage_cost_format_size);
    TEST_ADD(test_usage_price_parse);
    TEST_ADD(test_usage_price_reject);
    TEST_ADD(test_usage_price_limits);
    TEST_ADD(test_usage_anthropic);
    TEST_ADD(test_usage_anthropic_stream);
    TEST_ADD(test_usage_gemini);
    TEST_ADD(test_usage_gemini_stream);
    TEST_ADD(test_usage_cohere);
    TEST_ADD(test_usage_cohere_stream);
    TEST_ADD(test_usage_openai_stream);
    TEST_ADD(test_usage_mistral_stream);
    TEST_ADD(test_usage_relayed);
    TEST_ADD(test_usage_none);
}
