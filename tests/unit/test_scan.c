
/*
 * ngx_http_llm_router_module: tests of the scanner of relayed
 * OpenAI-format answers (llm_scan.c).  Every answer is scanned whole, a
 * byte at a time, split at every point and in random pieces: the results
 * must be the same.  Valid answers are also checked against cJSON.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"


#define TEST_SCAN_GUARD  16
#define TEST_SCAN_SEEDS  8


typedef struct {
    llm_usage_t   usage;
    const char   *finish_reason;
    char         *text;               /* NULL: no text buffer */
    size_t        text_len;
} test_scan_t;


static void test_scan_pieces(test_ctx_t *ctx, const char *body, size_t len,
    size_t text_size, int text, size_t split, size_t step, unsigned seed,
    test_scan_t *r);
static void test_scan_same(const test_scan_t *a, const test_scan_t *b);
static void test_scan_run(test_ctx_t *ctx, const char *body, size_t len,
    size_t text_size, int text, test_scan_t *r);
static void test_scan_str(test_ctx_t *ctx, const char *body,
    size_t text_size, int text, test_scan_t *r);
static void test_scan_oracle(const char *body, size_t len, size_t text_size,
    test_scan_t *r, char *text);
static void test_scan_check(test_ctx_t *ctx, const char *body,
    size_t text_size);
static void test_scan_usage_is(const llm_usage_t *u, long long prompt,
    long long completion, long long total, long long cached,
    long long reasoning);
static void test_scan_openai(void **state);
static void test_scan_mistral(void **state);
static void test_scan_tool_calls(void **state);
static void test_scan_escapes(void **state);
static void test_scan_bad_escapes(void **state);
static void test_scan_nested_usage(void **state);
static void test_scan_first_wins(void **state);
static void test_scan_finish_reasons(void **state);
static void test_scan_text_size(void **state);
static void test_scan_text_nul(void **state);
static void test_scan_usage_size(void **state);
static void test_scan_usage_mapping(void **state);
static void test_scan_usage_reader(void **state);
static void test_scan_shapes(void **state);
static void test_scan_truncated(void **state);
static void test_scan_garbage(void **state);
static void test_scan_deep(void **state);
static void test_scan_names(void **state);
static void test_scan_finish_twice(void **state);


/* OpenAI's documented answer, pretty-printed as the API sends it */

static const char  test_scan_openai_answer[] =
    "{\n"
    "  \"id\": \"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\n"
    "  \"object\": \"chat.completion\",\n"
    "  \"created\": 1741570283,\n"
    "  \"model\": \"gpt-4o-2024-08-06\",\n"
    "  \"choices\": [\n"
    "    {\n"
    "      \"index\": 0,\n"
    "      \"message\": {\n"
    "        \"role\": \"assistant\",\n"
    "        \"content\": \"The path is \\\"wooden\\\".\\nSee: caf\\u00e9 "
    "\\ud83c\\udf32\",\n"
    "        \"refusal\": null,\n"
    "        \"annotations\": []\n"
    "      },\n"
    "      \"logprobs\": null,\n"
    "      \"finish_reason\": \"length\"\n"
    "    }\n"
    "  ],\n"
    "  \"usage\": {\n"
    "    \"prompt_tokens\": 1117,\n"
    "    \"completion_tokens\": 46,\n"
    "    \"total_tokens\": 1163,\n"
    "    \"prompt_tokens_details\": {\n"
    "      \"cached_tokens\": 1024,\n"
    "      \"audio_tokens\": 0\n"
    "    },\n"
    "    \"completion_tokens_details\": {\n"
    "      \"reasoning_tokens\": 30,\n"
    "      \"audio_tokens\": 0,\n"
    "      \"accepted_prediction_tokens\": 0,\n"
    "      \"rejected_prediction_tokens\": 0\n"
    "    }\n"
    "  },\n"
    "  \"service_tier\": \"default\",\n"
    "  \"system_fingerprint\": \"fp_fc9f1d7035\"\n"
    "}\n";

#define TEST_SCAN_OPENAI_TEXT                                                 \
    "The path is \"wooden\".\nSee: caf\xc3\xa9 \xf0\x9f\x8c\xb2"


/* Mistral's: usage before the choices, compact */

static const char  test_scan_mistral_answer[] =
    "{\"id\":\"cmpl-e5cc70bb28c444948073e77776eb30ef\",\"object\":"
    "\"chat.completion\",\"model\":\"mistral-small-latest\",\"usage\":"
    "{\"prompt_tokens\":16,\"completion_tokens\":34,\"total_tokens\":50},"
    "\"created\":1702256327,\"choices\":[{\"index\":0,\"message\":"
    "{\"content\":\"Bonjour ! Comment puis-je vous aider \\u00e0 "
    "aujourd'hui ?\",\"tool_calls\":null,\"prefix\":false,\"role\":"
    "\"assistant\"},\"finish_reason\":\"model_length\"}]}";


/*
 * body[0..len) fed whole (split 0, step 0), in two pieces at split, in
 * pieces of step bytes, or (step == -1) in random pieces
 */

static void
test_scan_pieces(test_ctx_t *ctx, const char *body, size_t len,
    size_t text_size, int text, size_t split, size_t step, unsigned seed,
    test_scan_t *r)
{
    char        *buf, *copy;
    size_t       off, n, i;
    llm_scan_t  *s;

    /* a heap copy of the state and the input, for the memory checkers */

    s = (llm_scan_t *) test_copy(ctx, NULL, sizeof(llm_scan_t));
    copy = test_copy(ctx, body, len);

    buf = NULL;

    if (text) {
        buf = test_copy(ctx, NULL, text_size + TEST_SCAN_GUARD);
        memset(buf, 'Z', text_size + TEST_SCAN_GUARD);
    }

    llm_scan_init(s, buf, text_size);

    srand(seed);

    if (split) {
        llm_scan_feed(s, copy, split);
        llm_scan_feed(s, copy + split, len - split);

    } else {
        for (off = 0; off < len; off += n) {
            n = (step == 0) ? len
                : (step == (size_t) -1) ? (size_t) rand() % 48 : step;

            if (n > len - off) {
                n = len - off;
            }

            llm_scan_feed(s, copy + off, n);
        }
    }

    memset(r, 0xa5, sizeof(test_scan_t));

    assert_int_equal(llm_scan_finish(s, &r->usage, &r->finish_reason,
                                     &r->text_len), LLM_OK);

    r->text = buf;

    if (buf == NULL) {
        assert_int_equal(r->text_len, 0);
        return;
    }

    assert_true(r->text_len <= text_size);

    for (i = text_size; i < text_size + TEST_SCAN_GUARD; i++) {
        assert_int_equal(buf[i], 'Z');
    }
}


static void
test_scan_same(const test_scan_t *a, const test_scan_t *b)
{
    assert_true(a->usage.prompt_tokens == b->usage.prompt_tokens);
    assert_true(a->usage.completion_tokens == b->usage.completion_tokens);
    assert_true(a->usage.total_tokens == b->usage.total_tokens);
    assert_true(a->usage.cached_tokens == b->usage.cached_tokens);
    assert_true(a->usage.cache_write_tokens == b->usage.cache_write_tokens);
    assert_true(a->usage.reasoning_tokens == b->usage.reasoning_tokens);
    assert_ptr_equal(a->finish_reason, b->finish_reason);
    assert_int_equal(a->text_len, b->text_len);

    if (a->text_len) {
        assert_memory_equal(a->text, b->text, a->text_len);
    }
}


/* whole, a byte at a time, at every split point, in random pieces */

static void
test_scan_run(test_ctx_t *ctx, const char *body, size_t len,
    size_t text_size, int text, test_scan_t *r)
{
    size_t       split;
    unsigned     seed;
    test_scan_t  other;

    test_scan_pieces(ctx, body, len, text_size, text, 0, 0, 0, r);

    test_scan_pieces(ctx, body, len, text_size, text, 0, 1, 0, &other);
    test_scan_same(r, &other);

    for (split = 1; split < len; split++) {
        test_scan_pieces(ctx, body, len, text_size, text, split, 0, 0,
                         &other);
        test_scan_same(r, &other);
    }

    for (seed = 1; seed <= TEST_SCAN_SEEDS; seed++) {
        test_scan_pieces(ctx, body, len, text_size, text, 0, (size_t) -1,
                         seed, &other);
        test_scan_same(r, &other);
    }
}


static void
test_scan_str(test_ctx_t *ctx, const char *body, size_t text_size, int text,
    test_scan_t *r)
{
    test_scan_run(ctx, body, strlen(body), text_size, text, r);
}


/*
 * What cJSON makes of a valid answer: the first top-level "usage" (when
 * its text fits the scanner), choices[0].finish_reason and
 * choices[0].message.content cut as the scanner cuts it
 */

static void
test_scan_oracle(const char *body, size_t len, size_t text_size,
    test_scan_t *r, char *text)
{
    cJSON            *root;
    const char       *s;
    size_t            n;
    llm_json_span_t   span;
    const cJSON      *usage, *choice, *msg, *content;

    root = llm_json_parse_strict(body, len);
    assert_non_null(root);

    llm_usage_none(&r->usage);

    usage = cJSON_GetObjectItemCaseSensitive(root, "usage");

    if (cJSON_IsObject(usage)
        && llm_json_member(body, len, "usage", &span) == LLM_OK
        && span.end - span.value <= LLM_SCAN_USAGE_SIZE)
    {
        llm_openai_usage(usage, &r->usage);
    }

    choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root,
                                                                 "choices"),
                                0);

    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "choices"))
        || !cJSON_IsObject(choice))
    {
        choice = NULL;
    }

    r->finish_reason = llm_openai_finish(llm_json_str(choice,
                                                      "finish_reason"), 1);

    msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
    content = cJSON_IsObject(msg)
              ? cJSON_GetObjectItemCaseSensitive(msg, "content") : NULL;

    r->text = text;
    r->text_len = 0;

    if (cJSON_IsString(content)) {
        s = content->valuestring;
        n = strlen(s);

        if (n > text_size) {
            n = llm_utf8_trim(s, text_size);
        }

        memcpy(text, s, n);
        r->text_len = n;
    }

    cJSON_Delete(root);
}


/* a valid answer: the scanner's results, however split, are cJSON's */

static void
test_scan_check(test_ctx_t *ctx, const char *body, size_t text_size)
{
    char         *text;
    size_t        len;
    test_scan_t   r, want;

    len = strlen(body);
    text = test_copy(ctx, NULL, text_size + 1);

    test_scan_oracle(body, len, text_size, &want, text);
    test_scan_run(ctx, body, len, text_size, 1, &r);

    test_scan_same(&r, &want);
}


static void
test_scan_usage_is(const llm_usage_t *u, long long prompt,
    long long completion, long long total, long long cached,
    long long reasoning)
{
    assert_true(u->prompt_tokens == prompt);
    assert_true(u->completion_tokens == completion);
    assert_true(u->total_tokens == total);
    assert_true(u->cached_tokens == cached);
    assert_true(u->cache_write_tokens == -1);
    assert_true(u->reasoning_tokens == reasoning);
}


static void
test_scan_openai(void **state)
{
    test_ctx_t   *ctx;
    test_scan_t   r;

    ctx = *state;

    test_scan_run(ctx, test_scan_openai_answer,
                  sizeof(test_scan_openai_answer) - 1, 256, 1, &r);

    test_scan_usage_is(&r.usage, 1117, 46, 1163, 1024, 30);
    assert_string_equal(r.finish_reason, "length");
    assert_int_equal(r.text_len, sizeof(TEST_SCAN_OPENAI_TEXT) - 1);
    assert_memory_equal(r.text, TEST_SCAN_OPENAI_TEXT, r.text_len);

    /* without a text buffer: the same usage and finish reason */

    test_scan_run(ctx, test_scan_openai_answer,
                  sizeof(test_scan_openai_answer) - 1, 0, 0, &r);

    test_scan_usage_is(&r.usage, 1117, 46, 1163, 1024, 30);
    assert_string_equal(r.finish_reason, "length");
    assert_int_equal(r.text_len, 0);

    test_scan_check(ctx, test_scan_openai_answer, 256);
    test_scan_check(ctx, test_scan_openai_answer, 0);
}


static void
test_scan_mistral(void **state)
{
    test_ctx_t   *ctx;
    test_scan_t   r;

    ctx = *state;

    test_scan_run(ctx, test_scan_mistral_answer,
                  sizeof(test_scan_mistral_answer) - 1, 256, 1, &r);

    test_scan_usage_is(&r.usage, 16, 34, 50, -1, -1);

    /* Mistral's "model_length" is "length" */

    assert_string_equal(r.finish_reason, "length");

    assert_int_equal(r.text_len,
                     sizeof("Bonjour ! Comment puis-je vous aider \xc3\xa0 "
                            "aujourd'hui ?") - 1);
    assert_memory_equal(r.text, "Bonjour ! Comment puis-je vous aider "
                        "\xc3\xa0 aujourd'hui ?", r.text_len);

    test_scan_check(ctx, test_scan_mistral_answer, 256);
}


/* tool calls: content null; "usage" in the arguments is text */

static void
test_scan_tool_calls(void **state)
{
    test_ctx_t   *ctx;
    test_scan_t   r;

    static const char  answer[] =
        "{\"id\":\"chatcmpl-t1\",\"object\":\"chat.completion\",\"created\":"
        "1767225600,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":null,\"refusal\":"
        "null,\"tool_calls\":[{\"id\":\"call_t1\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":"
        "\"{\\\"usage\\\":{\\\"prompt_tokens\\\":999},\\\"content\\\":"
        "\\\"x\\\"}\"}}]},\"logprobs\":null,\"finish_reason\":"
        "\"tool_calls\"}],\"usage\":{\"prompt_tokens\":52,"
        "\"completion_tokens\":15,\"total_tokens\":67}}";

    ctx = *state;

    test_scan_run(ctx, answer, sizeof(answer) - 1, 64, 1, &r);

    test_scan_usage_is(&r.usage, 52, 15, 67, -1, -1);
    assert_string_equal(r.finish_reason, "tool_calls");
    assert_int_equal(r.text_len, 0);

    test_scan_check(ctx, answer, 64);
}


static void
test_scan_escapes(void **state)
{
    test_ctx_t   *ctx;
    test_scan_t   r;

    static const char  answer[] =
        "{\"choices\":[{\"message\":{\"content\":"
        "\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t "
        "\\u0041\\u00E9\\u20ac\\uFFFF \\ud83d\\ude00\\uD834\\uDD1E "
        "\\u0001\\u001f raw \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"},"
        "\"finish_reason\":\"stop\"}]}";

    static const char  want[] =
        "q\" b\\ s/ \b\f\n\r\t "
        "A\xc3\xa9\xe2\x82\xac\xef\xbf\xbf \xf0\x9f\x98\x80\xf0\x9d\x84\x9e "
        "\x01\x1f raw \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";

    ctx = *state;

    test_scan_run(ctx, answer, sizeof(answer) - 1, 256, 1, &r);

    assert_int_equal(r.text_len, sizeof(want) - 1);
    assert_memory_equal(r.text, want, r.text_len);
    assert_string_equal(r.finish_reason, "stop");
    assert_int_equal(llm_usage_known(&r.usage), 0);

    test_scan_check(ctx, answer, 256);

    /* escaped member names are the names they spell */

    test_scan_str(ctx,
        "{\"\\u0075sage\":{\"prompt_tokens\":1,\"completion_tokens\":2},"
        "\"ch\\u006fices\":[{\"me\\u0073sage\":{\"c\\u006Fntent\":\"t\"},"
        "\"finish\\u005freason\":\"stop\"}]}", 16, 1, &r);

    test_scan_usage_is(&r.usage, 1, 2, 3, -1, -1);
    assert_string_equal(r.finish_reason, "stop");
    assert_int_equal(r.text_len, 1);
    assert_memory_equal(r.text, "t", 1);

    test_scan_check(ctx,
        "{\"\\u0075sage\":{\"prompt_tokens\":1,\"completion_tokens\":2},"
        "\"ch\\u006fices\":[{\"me\\u0073sage\":{\"c\\u006Fntent\":\"t\"},"
        "\"finish\\u005freason\":\"stop\"}]}", 16);
}


/* what cJSON refuses: U+FFFD, never a byte out of place */

static void
test_scan_bad_escapes(void **state)
{
    size_t        i, len;
    char          body[256];
    test_ctx_t   *ctx;
    test_scan_t   r;

    static const struct {
        const char  *in;
        const char  *out;
    } t[] = {
        { "\\ud83dx", "\xef\xbf\xbdx" },                /* lone high */
        { "\\ud83d", "\xef\xbf\xbd" },                  /* high, end */
        { "\\ude00x", "\xef\xbf\xbdx" },                /* lone low */
        { "\\ud83d\\n", "\xef\xbf\xbd\n" },             /* high, escape */
        { "\\ud83d\\u0041", "\xef\xbf\xbd" "A" },       /* high, not low */
        { "\\ud83d\\ud83d\\ude00",
          "\xef\xbf\xbd\xf0\x9f\x98\x80" },             /* high, pair */
        { "\\ud83d\\\"", "\xef\xbf\xbd\"" },
        { "\\ud83d\\zq", "\xef\xbf\xbdzq" },
        { "\\ud83d\\uzz", "\xef\xbf\xbd\xef\xbf\xbdzz" },
        { "\\u12G4", "\xef\xbf\xbdG4" },                /* not hex */
        { "\\u12", "\xef\xbf\xbd" },                    /* string ends */
        { "\\x41", "x41" },                             /* not an escape */
        { "\\u0000after", "" },                         /* NUL ends it */
        { "a\\u0000b", "a" }
    };

    ctx = *state;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        len = (size_t) snprintf(body, sizeof(body),
                                "{\"choices\":[{\"message\":{\"content\":"
                                "\"%s\"},\"finish_reason\":\"stop\"}],"
                                "\"usage\":{\"prompt_tokens\":3}}", t[i].in);

        test_scan_run(ctx, body, len, 64, 1, &r);

        if (r.text_len != strlen(t[i].out)
            || memcmp(r.text, t[i].out, r.text_len) != 0)
        {
            fail_msg("\"%s\": got %.*s", t[i].in, (int) r.text_len, r.text);
        }

        /* what follows the string is read as it should be */

        assert_string_equal(r.finish_reason, "stop");
        test_scan_usage_is(&r.usage, 3, -1, 3, -1, -1);
    }
}


/* only the answer's own "usage", "choices", "message", "content" count */

static void
test_scan_nested_usage(void **state)
{
    size_t        i;
    test_ctx_t   *ctx;
    test_scan_t   r;

    static const char  *const answers[] = {

        /* "usage" in a choice, its message, a tool call, a string */

        "{\"id\":\"usage\",\"choices\":[{\"usage\":{\"prompt_tokens\":1},"
        "\"message\":{\"usage\":{\"prompt_tokens\":2},\"content\":"
        "\"\\\"usage\\\":{\\\"prompt_tokens\\\":3}\",\"tool_calls\":[{"
        "\"function\":{\"arguments\":\"{\\\"usage\\\":4}\"},\"usage\":"
        "{\"prompt_tokens\":5}}]},\"finish_reason\":\"stop\"}],"
        "\"x\":{\"usage\":{\"prompt_tokens\":6}},\"y\":[{\"usage\":"
        "{\"prompt_tokens\":7}}],\"usage\":null}",

        /* "choices", "message", "content", "finish_reason" deeper down */

        "{\"meta\":{\"choices\":[{\"message\":{\"content\":\"no\"},"
        "\"finish_reason\":\"length\"}]},\"choices\":[{\"index\":0,"
        "\"delta\":{\"message\":{\"content\":\"no\"}},\"x\":"
        "{\"finish_reason\":\"length\"},\"message\":{\"meta\":"
        "{\"content\":\"no\"},\"content\":\"yes\"},\"finish_reason\":"
        "\"stop\"}]}",

        /* names as values, values as names */

        "{\"a\":\"usage\",\"b\":[\"usage\",{\"prompt_tokens\":9}],"
        "\"choices\":[{\"message\":{\"role\":\"content\",\"content\":"
        "\"yes\"},\"x\":\"finish_reason\",\"finish_reason\":\"stop\"}]}",

        /* the second choice is not the first */

        "{\"choices\":[{\"index\":0,\"message\":{\"content\":\"yes\"},"
        "\"finish_reason\":\"stop\"},{\"index\":1,\"message\":{\"content\":"
        "\"no\"},\"finish_reason\":\"length\"}]}",

        "{\"choices\":[{\"index\":0,\"finish_reason\":null},{\"index\":1,"
        "\"message\":{\"content\":\"no\"},\"finish_reason\":\"length\"}]}",

        "{\"choices\":[1,{\"message\":{\"content\":\"no\"},"
        "\"finish_reason\":\"length\"}]}",

        "{\"choices\":[[{\"message\":{\"content\":\"no\"},"
        "\"finish_reason\":\"length\"}]]}",

        /* usage last, after everything */

        "{\"choices\":[{\"usage\":{\"prompt_tokens\":1},\"message\":"
        "{\"content\":\"yes\"},\"finish_reason\":\"stop\"}],\"usage\":"
        "{\"prompt_tokens\":10,\"completion_tokens\":20,\"total_tokens\":30,"
        "\"prompt_tokens_details\":{\"usage\":{\"cached_tokens\":99},"
        "\"cached_tokens\":4}}}"
    };

    ctx = *state;

    for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        test_scan_check(ctx, answers[i], 64);
    }

    test_scan_run(ctx, answers[0], strlen(answers[0]), 64, 1, &r);

    assert_int_equal(llm_usage_known(&r.usage), 0);
    assert_true(r.usage.prompt_tokens == -1);
    assert_string_equal(r.finish_reason, "stop");
    assert_int_equal(r.text_len, sizeof("\"usage\":{\"prompt_tokens\":3}")
                                 - 1);

    test_scan_run(ctx, answers[1], strlen(answers[1]), 64, 1, &r);

    assert_string_equal(r.finish_reason, "stop");
    assert_int_equal(r.text_len, 3);
    assert_memory_equal(r.text, "yes", 3);

    test_scan_run(ctx, answers[4], strlen(answers[4]), 64, 1, &r);

    assert_null(r.finish_reason);
    assert_int_equal(r.text_len, 0);

    test_scan_run(ctx, answers[7], strlen(answers[7]), 64, 1, &r);

    test_scan_usage_is(&r.usage, 10, 20, 30, 4, -1);
}


/* a name that comes twice: the first one, as cJSON reads it */

static void
test_scan_first_wins(void **state)
{
    size_t        i;
    test_ctx_t   *ctx;
    test_scan_t   r;

    static const char  *const answers[] = {
        "{\"usage\":{\"prompt_tokens\":1},\"usage\":{\"prompt_tokens\":2}}",
        "{\"usage\":null,\"usage\":{\"prompt_tokens\":2}}",
        "{\"usage\":[],\"usage\":{\"prompt_tokens\":2}}",
        "{\"choices\":[{\"finish_reason\":\"stop\",\"finish_reason\":"
        "\"length\"}]}",
        "{\"choices\":[{\"finish_reason\":null,\"finish_reason\":"
        "\"length\"}]}",
        "{\"choices\":[{\"message\":{\"content\":\"a\",\"content\":\"b\"}}]}",
        "{\"choices\":[{\"message\":{\"content\":null,\"content\":\"b\"}}]}",
        "{\"choices\":[{\"message\":null,\"message\":{\"content\":\"b\"}}]}",
        "{\"choices\":null,\"choices\":[{\"message\":{\"content\":\"b\"}}]}",
        "{\"choices\":[{\"message\":{\"content\":\"a\"}}],\"choices\":"
        "[{\"message\":{\"content\":\"b\"}}]}"
    };

    ctx = *state;

    for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        test_scan_check(ctx, answers[i], 8);
    }

    test_scan_run(ctx, answers[0], strlen(answers[0]), 0, 0, &r);
    assert_true(r.usage.prompt_tokens == 1);

    test_scan_run(ctx, answers[1], strlen(answers[1]), 0, 0, &r);
    assert_int_equal(llm_usage_known(&r.usage), 0);

    test_scan_run(ctx, answers[3], strlen(answers[3]), 0, 0, &r);
    assert_string_equal(r.finish_reason, "stop");

    test_scan_run(ctx, answers[5], strlen(answers[5]), 8, 1, &r);
    assert_int_equal(r.text_len, 1);
    assert_memory_equal(r.text, "a", 1);
}


static void
test_scan_finish_reasons(void **state)
{
    size_t        i, len;
    char          body[128];
    test_ctx_t   *ctx;
    test_scan_t   r;

    static const struct {
        const char  *value;
        const char  *reason;
    } t[] = {
        { "\"stop\"", "stop" },
        { "\"length\"", "length" },
        { "\"tool_calls\"", "tool_calls" },
        { "\"content_filter\"", "content_filter" },
        { "\"function_call\"", "function_call" },
        { "\"model_length\"", "length" },
        { "\"st\\u006fp\"", "stop" },
        { "\"stop\\u0000x\"", "stop" },
        { "\"error\"", NULL },
        { "\"STOP\"", NULL },
        { "\"stop \"", NULL },
        { "\"\"", NULL },
        { "\"content_filter_and_more\"", NULL },
        { "\"a very long finish reason that is not one\"", NULL },
        { "null", NULL },
        { "1", NULL },
        { "[\"stop\"]", NULL },
        { "{\"stop\":\"stop\"}", NULL }
    };

    ctx = *state;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        len = (size_t) snprintf(body, sizeof(body),
                                "{\"choices\":[{\"finish_reason\":%s}]}",
                                t[i].value);

        test_scan_run(ctx, body, len, 0, 0, &r);

        if (t[i].reason == NULL) {
            assert_null(r.finish_reason);

        } else {
            assert_non_null(r.finish_reason);
            assert_string_equal(r.finish_reason, t[i].reason);
        }

        test_scan_check(ctx, body, 0);
    }
}


/* cut at text_size on a UTF-8 boundary: never a part of a character */

static void
test_scan_text_size(void **state)
{
    size_t        size, want;
    test_ctx_t   *ctx;
    test_scan_t   r;

    /* a 1, 2, 3, 4 and 3-byte character, raw and escaped */

    static const char  raw[] =
        "{\"choices\":[{\"message\":{\"content\":"
        "\"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x82\xac\"}}]}";
    static const char  escaped[] =
        "{\"choices\":[{\"message\":{\"content\":"
        "\"a\\u00e9\\u20ac\\ud83d\\ude00\\u20ac\"}}]}";

    /* the longest whole prefix for each size */

    static const size_t  ends[] = { 0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 10,
                                    10, 13 };

    ctx = *state;

    for (size = 0; size < sizeof(ends) / sizeof(ends[0]) + 3; size++) {
        want = ends[size < 13 ? size : 13];

        test_scan_run(ctx, raw, sizeof(raw) - 1, size, 1, &r);

        assert_int_equal(r.text_len, want);
        assert_memory_equal(r.text, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                            "\xe2\x82\xac", want);

        test_scan_run(ctx, escaped, sizeof(escaped) - 1, size, 1, &r);

        assert_int_equal(r.text_len, want);
        assert_memory_equal(r.text, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                            "\xe2\x82\xac", want);

        test_scan_check(ctx, raw, size);
        test_scan_check(ctx, escaped, size);
    }

    /* a cut text stays cut: nothing after it, even if it would fit */

    test_scan_run(ctx,
        "{\"choices\":[{\"message\":{\"content\":\"ab\xe2\x82\xac" "cd\"}}]}",
        sizeof("{\"choices\":[{\"message\":{\"content\":\"ab\xe2\x82\xac"
               "cd\"}}]}") - 1, 4, 1, &r);

    assert_int_equal(r.text_len, 2);
    assert_memory_equal(r.text, "ab", 2);
}


/* an escaped NUL ends the text, as it ends cJSON's string */

static void
test_scan_text_nul(void **state)
{
    test_ctx_t   *ctx;
    test_scan_t   r;

    ctx = *state;

    test_scan_str(ctx,
        "{\"choices\":[{\"message\":{\"content\":\"abc\\u0000def\"},"
        "\"finish_reason\":\"stop\"}]}", 16, 1, &r);

    assert_int_equal(r.text_len, 3);
    assert_memory_equal(r.text, "abc", 3);
    assert_string_equal(r.finish_reason, "stop");

    test_scan_check(ctx,
        "{\"choices\":[{\"message\":{\"content\":\"abc\\u0000def\"},"
        "\"finish_reason\":\"stop\"}]}", 16);
}


/* up to LLM_SCAN_USAGE_SIZE bytes of usage object are read, no more */

static void
test_scan_usage_size(void **state)
{
    char         *body, *p;
    size_t        pad, len, usage_len;
    test_ctx_t   *ctx;
    test_scan_t   r;

    ctx = *state;

    body = test_copy(ctx, NULL, 2 * LLM_SCAN_USAGE_SIZE + 256);

    for (pad = LLM_SCAN_USAGE_SIZE - 80; pad < LLM_SCAN_USAGE_SIZE; pad++) {
        p = body;
        p += sprintf(p, "{\"choices\":[],\"usage\":");

        usage_len = (size_t) sprintf(p, "{\"prompt_tokens\":7,"
                                        "\"completion_tokens\":8,\"x\":\"");
        memset(p + usage_len, 'x', pad);
        usage_len += pad;
        usage_len += (size_t) sprintf(p + usage_len, "\"}");

        p += usage_len;
        p += sprintf(p, ",\"id\":\"a\"}");

        len = (size_t) (p - body);

        test_scan_run(ctx, body, len, 0, 0, &r);

        if (usage_len <= LLM_SCAN_USAGE_SIZE) {
            test_scan_usage_is(&r.usage, 7, 8, 15, -1, -1);

        } else {
            assert_int_equal(llm_usage_known(&r.usage), 0);
            assert_true(r.usage.total_tokens == -1);
        }

        body[len] = '\0';
        test_scan_check(ctx, body, 0);
    }
}


/* the OpenAI stream decoder's mapping: what is missing is -1 */

static void
test_scan_usage_mapping(void **state)
{
    test_ctx_t   *ctx;
    test_scan_t   r;

    ctx = *state;

    test_scan_str(ctx, "{\"usage\":{\"prompt_tokens\":5}}", 0, 0, &r);
    test_scan_usage_is(&r.usage, 5, -1, 5, -1, -1);

    test_scan_str(ctx, "{\"usage\":{\"completion_tokens\":5,"
                  "\"total_tokens\":9}}", 0, 0, &r);
    test_scan_usage_is(&r.usage, -1, 5, 9, -1, -1);

    test_scan_str(ctx, "{\"usage\":{}}", 0, 0, &r);
    test_scan_usage_is(&r.usage, -1, -1, -1, -1, -1);

    test_scan_str(ctx, "{\"usage\":{\"prompt_tokens\":\"5\","
                  "\"completion_tokens\":-2,\"total_tokens\":1e300,"
                  "\"prompt_tokens_details\":{\"cached_tokens\":2.9},"
                  "\"completion_tokens_details\":null}}", 0, 0, &r);
    test_scan_usage_is(&r.usage, -1, -1, 9007199254740992LL, 2, -1);

    /* the usage object is strict JSON, or not read */

    test_scan_str(ctx, "{\"usage\":{\"prompt_tokens\":01}}", 0, 0, &r);
    assert_int_equal(llm_usage_known(&r.usage), 0);

    test_scan_str(ctx, "{\"usage\":{\"prompt_tokens\":1,}}", 0, 0, &r);
    assert_int_equal(llm_usage_known(&r.usage), 0);

    test_scan_str(ctx, "{\"usage\":{\"prompt_tokens\":\"\xff\"}}", 0, 0,
                  &r);
    assert_int_equal(llm_usage_known(&r.usage), 0);

    /* not an object: none */

    test_scan_str(ctx, "{\"usage\":5}", 0, 0, &r);
    assert_int_equal(llm_usage_known(&r.usage), 0);

    test_scan_str(ctx, "{\"usage\":\"{\\\"prompt_tokens\\\":5}\"}", 0, 0,
                  &r);
    assert_int_equal(llm_usage_known(&r.usage), 0);

    test_scan_str(ctx, "{\"usage\":[{\"prompt_tokens\":5}]}", 0, 0, &r);
    assert_int_equal(llm_usage_known(&r.usage), 0);
}


/* the usage read without a tree: what the tree gives, on any text */

static void
test_scan_usage_reader(void **state)
{
    char         *copy;
    cJSON        *root;
    size_t        i, len;
    test_ctx_t   *ctx;
    llm_usage_t   a, b;

    static const char  *const texts[] = {
        "{\"prompt_tokens\":19,\"completion_tokens\":10,"
        "\"total_tokens\":29,\"prompt_tokens_details\":{\"cached_tokens\""
        ":3,\"audio_tokens\":0},\"completion_tokens_details\":"
        "{\"reasoning_tokens\":7,\"audio_tokens\":0}}",
        " { \"prompt_tokens\" : 5 , \"completion_tokens\" : 6 } \n",
        "{}",
        "{\"prompt_tokens\":1,\"prompt_tokens\":2}",
        "{\"prompt_tokens\":null,\"prompt_tokens\":2}",
        "{\"prompt\\u005ftokens\":4,\"completion_tokens\\u0000x\":5}",
        "{\"prompt\\u005Ftokens\\u0000\":4,\"total_t\\u00f8kens\":5}",
        "{\"prompt_tokens_details\":[{\"cached_tokens\":3}],"
        "\"prompt_tokens_details\":{\"cached_tokens\":3}}",
        "{\"prompt_tokens_details\":{\"x\":{\"cached_tokens\":1},"
        "\"cached_tokens\":2,\"cached_tokens\":3},\"cached_tokens\":4}",
        "{\"completion_tokens_details\":{\"cached_tokens\":1,"
        "\"reasoning_tokens\":true},\"prompt_tokens_details\":"
        "{\"reasoning_tokens\":1}}",
        "{\"prompt_tokens\":-0,\"completion_tokens\":-0.0,"
        "\"total_tokens\":-1e-400}",
        "{\"prompt_tokens\":-1,\"completion_tokens\":2.999,"
        "\"total_tokens\":1e2}",
        "{\"prompt_tokens\":999999999999999,\"completion_tokens\":"
        "1000000000000000,\"total_tokens\":123456789012345678901234567890}",
        "{\"prompt_tokens\":9007199254740993,\"completion_tokens\":1e400,"
        "\"total_tokens\":1E+2}",
        "{\"prompt_tokens\":\"5\",\"completion_tokens\":[5],"
        "\"total_tokens\":{\"a\":5}}",
        "{\"a\":[1,[2,{\"b\":[]}],{}],\"prompt_tokens\":3,\"c\":{\"d\":[{}]}}",
        "{\"a\":\"\\ud83d\\ude00 \\u00e9 \xc3\xa9 \\n\\/\","
        "\"prompt_tokens\":3}",
        "{\"a\":\"\\ud83d\",\"prompt_tokens\":3}",
        "{\"a\":\"\\ude00\",\"prompt_tokens\":3}",
        "{\"a\":\"\\ud83d\\u0041\",\"prompt_tokens\":3}",
        "{\"a\":\"\\x\",\"prompt_tokens\":3}",
        "{\"a\":\"\xff\",\"prompt_tokens\":3}",
        "{\"a\":\"\t\",\"prompt_tokens\":3}",
        "{\"prompt_tokens\":01}",
        "{\"prompt_tokens\":1.}",
        "{\"prompt_tokens\":1,}",
        "{\"prompt_tokens\":1}}",
        "{\"prompt_tokens\":1} x",
        "{\"prompt_tokens\":tru}",
        "{\"prompt_tokens\" 1}",
        "{\"prompt_tokens\":1",
        "{\"prompt_tokens\":1e",
        "{\"prompt_tokens\":0x10}",
        "[{\"prompt_tokens\":1}]",
        "\"prompt_tokens\"",
        "5",
        ""
    };

    ctx = *state;

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        len = strlen(texts[i]);

        /* a heap copy of its exact size, for the memory checkers */

        copy = test_copy(ctx, texts[i], len);

        llm_openai_usage_json(copy, len, &a);

        llm_usage_none(&b);
        root = llm_json_parse_strict(texts[i], len);

        if (cJSON_IsObject(root)) {
            llm_openai_usage(root, &b);
        }

        cJSON_Delete(root);

        if (memcmp(&a, &b, sizeof(llm_usage_t)) != 0) {
            fail_msg("usage of %s: %lld %lld %lld %lld %lld, tree's "
                     "%lld %lld %lld %lld %lld", texts[i], a.prompt_tokens,
                     a.completion_tokens, a.total_tokens, a.cached_tokens,
                     a.reasoning_tokens, b.prompt_tokens, b.completion_tokens,
                     b.total_tokens, b.cached_tokens, b.reasoning_tokens);
        }
    }
}


/* content and choices of other shapes */

static void
test_scan_shapes(void **state)
{
    size_t        i;
    test_ctx_t   *ctx;
    test_scan_t   r;

    static const char  *const answers[] = {
        "{\"choices\":[{\"message\":{\"content\":null}}]}",
        "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\","
        "\"text\":\"no\"}]}}]}",
        "{\"choices\":[{\"message\":{\"content\":{\"text\":\"no\"}}}]}",
        "{\"choices\":[{\"message\":\"content\"}]}",
        "{\"choices\":[{\"message\":[{\"content\":\"no\"}]}]}",
        "{\"choices\":[null]}",
        "{\"choices\":[]}",
        "{\"choices\":{\"0\":{\"message\":{\"content\":\"no\"}}}}",
        "{\"choices\":\"x\"}",
        "{}",
        "[]",
        "[{\"choices\":[{\"message\":{\"content\":\"no\"}}]}]",
        "\"choices\"",
        "123",
        "null",
        "  {\"choices\" : [ { \"message\" : { \"content\" : \"yes\" } , "
        "\"finish_reason\" : \"stop\" } ] , \"usage\" : { \"prompt_tokens\" "
        ": 1 } }  "
    };

    ctx = *state;

    for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        test_scan_run(ctx, answers[i], strlen(answers[i]), 8, 1, &r);

        if (i + 1 < sizeof(answers) / sizeof(answers[0])) {
            assert_int_equal(r.text_len, 0);
            assert_null(r.finish_reason);
            assert_int_equal(llm_usage_known(&r.usage), 0);
        }

        test_scan_check(ctx, answers[i], 8);
    }

    assert_int_equal(r.text_len, 3);
    assert_string_equal(r.finish_reason, "stop");
    assert_true(r.usage.prompt_tokens == 1);
}


/*
 * A body cut anywhere: no usage unless its object closed, no finish
 * reason unless its string closed, the text a prefix of the whole one
 */

static void
test_scan_truncated(void **state)
{
    size_t        len, n, i;
    test_ctx_t   *ctx;
    test_scan_t   full, r;

    /* the text whole, and cut inside "é" and inside the tree emoji */

    static const size_t  sizes[] = { 256, 30, 31, 33, 34, 35, 36 };

    ctx = *state;

    len = sizeof(test_scan_openai_answer) - 1;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        test_scan_pieces(ctx, test_scan_openai_answer, len, sizes[i], 1, 0,
                         0, 0, &full);

        for (n = 0; n <= len; n++) {
            test_scan_pieces(ctx, test_scan_openai_answer, n, sizes[i], 1,
                             0, 7, 0, &r);

            assert_true(r.text_len <= full.text_len);
            assert_memory_equal(r.text, full.text, r.text_len);
            assert_int_equal(llm_utf8_trim(r.text, r.text_len), r.text_len);

            assert_true(r.finish_reason == NULL
                        || r.finish_reason == full.finish_reason);

            if (llm_usage_known(&r.usage)) {
                assert_true(memcmp(&r.usage, &full.usage,
                                   sizeof(llm_usage_t)) == 0);

            } else {
                assert_true(r.usage.total_tokens == -1);
            }
        }
    }

    /* a body cut inside a character that fills the buffer */

    test_scan_str(ctx, "{\"choices\":[{\"message\":{\"content\":\"ab\xe2", 3,
                  1, &r);
    assert_int_equal(r.text_len, 2);

    test_scan_str(ctx, "{\"choices\":[{\"message\":{\"content\":\"ab\xe2\x82",
                  4, 1, &r);
    assert_int_equal(r.text_len, 2);

    test_scan_str(ctx, "{\"choices\":[{\"message\":{\"content\":\"ab\xe2\x82"
                  "\xac", 5, 1, &r);
    assert_int_equal(r.text_len, 5);

    /* the usage object ends at its '}', before the answer does */

    n = (size_t) (strstr(test_scan_openai_answer, "  },\n  \"service")
                  - test_scan_openai_answer) + 3;

    test_scan_pieces(ctx, test_scan_openai_answer, n, 0, 0, 0, 0, 0, &r);
    assert_int_equal(llm_usage_known(&r.usage), 1);

    test_scan_pieces(ctx, test_scan_openai_answer, n - 1, 0, 0, 0, 0, 0, &r);
    assert_int_equal(llm_usage_known(&r.usage), 0);
}


/* garbage: no crash, no read or write out of bounds, nothing made up */

static void
test_scan_garbage(void **state)
{
    char         *buf;
    size_t        i, j;
    unsigned      seed;
    test_ctx_t   *ctx;
    test_scan_t   r;

    static const char  *const bodies[] = {
        "",
        "}}}}]]]]{\"usage\":{\"prompt_tokens\":1}}",
        "{\"usage\":{\"prompt_tokens\":1}]",
        "{\"usage\":{\"prompt_tokens\":1}}{\"usage\":{\"prompt_tokens\":2}}",
        "{\"choices\":[{\"message\":{\"content\":\"\\",
        "{\"choices\":[{\"message\":{\"content\":\"\\u",
        "{\"choices\":[{\"message\":{\"content\":\"\\ud83d\\",
        "{\"choices\":[{\"message\":{\"content\":\"\\ud83d\\u12",
        "{\"choices\"::::[[{,,\"message\"::{\"content\"\"x\"",
        "{\"usage\"{\"prompt_tokens\":1}}",
        "\xff\xfe\x00\x01{\"\x80\":\x80}",
        "{\"choices\":[{\"finish_reason\":\"stop\",\"finish_reason\"",
        "<html><body>502 Bad Gateway</body></html>",
        "data: {\"choices\":[]}\n\n"
    };

    static const char  binary[] = "\xff\xfe\x00\x01{\"\x80\":\x80}\x00";

    static const char  tokens[] =
        "{}[]:,\"\\u0d8f \"usage\"choices\"message\"content\""
        "finish_reason\"stop";

    ctx = *state;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        test_scan_str(ctx, bodies[i], 4, 1, &r);
    }

    test_scan_run(ctx, binary, sizeof(binary) - 1, 4, 1, &r);
    assert_int_equal(r.text_len, 0);

    /* a close of nothing is skipped; the first top-level value only */

    test_scan_str(ctx, bodies[1], 0, 0, &r);
    assert_true(r.usage.prompt_tokens == 1);

    test_scan_str(ctx, bodies[3], 0, 0, &r);
    assert_true(r.usage.prompt_tokens == 1);

    /* random bytes, and random bytes among JSON tokens */

    buf = test_copy(ctx, NULL, 512);

    for (seed = 1; seed <= 64; seed++) {
        srand(seed);

        for (j = 0; j < 512; j++) {
            if (seed & 1) {
                buf[j] = (char) (rand() & 0xff);

            } else {
                buf[j] = tokens[(size_t) rand() % (sizeof(tokens) - 1)];
            }
        }

        for (j = 0; j < 3; j++) {
            test_scan_pieces(ctx, buf, 512, 32, 1, 0,
                             j == 0 ? 0 : j == 1 ? 1 : (size_t) -1, seed,
                             &r);
            assert_true(r.text_len <= 32);
        }
    }
}


/*
 * Member names read by their length and level: each name of interest at
 * the levels where it is not one, and names of the same length that
 * differ in their first or in a later byte, are other members
 */

static void
test_scan_names(void **state)
{
    size_t        i, n;
    test_ctx_t   *ctx;
    test_scan_t   r;

    static const struct {
        const char  *answer;
        int          usage;        /* prompt_tokens read, or -1 */
        const char  *reason;
        size_t       text_len;
    } cases[] = {
        /* the answer's names inside a choice and its message */
        { "{\"choices\":[{\"usage\":{\"prompt_tokens\":1},"
          "\"choices\":[],\"content\":\"no\",\"message\":{"
          "\"message\":\"no\",\"finish_reason\":\"stop\","
          "\"usage\":{\"prompt_tokens\":2}}}]}", -1, NULL, 0 },

        /* the choice's names in the answer and in the message */
        { "{\"finish_reason\":\"stop\",\"message\":{\"content\":"
          "\"no\"},\"content\":\"no\",\"choices\":[{\"message\":{"
          "\"finish_reason\":\"length\",\"content\":\"yes\"}}]}",
          -1, NULL, 3 },

        /* same lengths, another first byte */
        { "{\"Usage\":{\"prompt_tokens\":1},\"xhoices\":[{"
          "\"message\":{\"content\":\"no\"}}],\"choices\":[{"
          "\"nessage\":{\"content\":\"no\"},\"ginish_reason\":"
          "\"length\",\"message\":{\"dontent\":\"no\",\"content\":"
          "\"yes\"},\"finish_reason\":\"stop\"}],\"usage\":{"
          "\"prompt_tokens\":3}}", 3, "stop", 3 },

        /* same lengths and first byte, another last byte */
        { "{\"usagE\":{\"prompt_tokens\":1},\"choiceS\":[{"
          "\"message\":{\"content\":\"no\"}}],\"created\":1,"
          "\"choices\":[{\"messagE\":{\"content\":\"no\"},"
          "\"finish_reasoN\":\"length\",\"message\":{\"contenT\":"
          "\"no\",\"content\":\"yes\"},\"finish_reason\":\"stop\"}],"
          "\"usage\":{\"prompt_tokens\":4}}", 4, "stop", 3 },

        /* escaped names are the names they stand for */
        { "{\"\\u0075sage\":{\"prompt_tokens\":5},\"choice\\u0073\":"
          "[{\"\\u006dessage\":{\"conten\\u0074\":\"yes\"},"
          "\"finish_\\u0072eason\":\"stop\"}]}", 5, "stop", 3 }
    };

    ctx = *state;

    n = sizeof(cases) / sizeof(cases[0]);

    for (i = 0; i < n; i++) {
        test_scan_run(ctx, cases[i].answer, strlen(cases[i].answer), 8, 1,
                      &r);

        if (cases[i].usage < 0) {
            assert_int_equal(llm_usage_known(&r.usage), 0);

        } else {
            assert_true(r.usage.prompt_tokens == cases[i].usage);
        }

        if (cases[i].reason == NULL) {
            assert_null(r.finish_reason);

        } else {
            assert_string_equal(r.finish_reason, cases[i].reason);
        }

        assert_int_equal(r.text_len, cases[i].text_len);

        if (cases[i].text_len) {
            assert_memory_equal(r.text, "yes", 3);
        }

        test_scan_check(ctx, cases[i].answer, 8);
    }
}


/* nesting has no limit and takes no memory */

static void
test_scan_deep(void **state)
{
    char         *buf;
    size_t        i, n, len;
    test_ctx_t   *ctx;
    test_scan_t   r;

    ctx = *state;

    n = 100000;
    buf = test_copy(ctx, NULL, 2 * n + 128);

    len = (size_t) sprintf(buf, "{\"x\":");

    for (i = 0; i < n; i++) {
        buf[len++] = (i & 1) ? '{' : '[';
    }

    for (i = n; i > 0; i--) {
        buf[len++] = ((i - 1) & 1) ? '}' : ']';
    }

    len += (size_t) sprintf(buf + len, ",\"usage\":{\"prompt_tokens\":2,"
                                       "\"completion_tokens\":3}}");

    test_scan_pieces(ctx, buf, len, 0, 0, 0, 0, 0, &r);
    test_scan_usage_is(&r.usage, 2, 3, 5, -1, -1);

    test_scan_pieces(ctx, buf, len, 0, 0, 0, 4096, 0, &r);
    test_scan_usage_is(&r.usage, 2, 3, 5, -1, -1);
}


/* finish reads, it does not change the state */

static void
test_scan_finish_twice(void **state)
{
    char          text[64];
    size_t        n, split;
    llm_scan_t    s;
    llm_usage_t   u;
    const char   *reason;

    (void) state;

    /* up to the end of the usage object */

    split = (size_t) (strstr(test_scan_mistral_answer, ",\"created\"")
                      - test_scan_mistral_answer);

    llm_scan_init(&s, text, sizeof(text));
    llm_scan_feed(&s, test_scan_mistral_answer, split);

    assert_int_equal(llm_scan_finish(&s, &u, &reason, &n), LLM_OK);
    assert_int_equal(llm_usage_known(&u), 1);
    assert_null(reason);
    assert_int_equal(n, 0);

    assert_int_equal(llm_scan_finish(&s, NULL, NULL, NULL), LLM_OK);

    llm_scan_feed(&s, test_scan_mistral_answer + split,
                  sizeof(test_scan_mistral_answer) - 1 - split);
    llm_scan_feed(&s, NULL, 0);

    assert_int_equal(llm_scan_finish(&s, &u, &reason, &n), LLM_OK);
    assert_int_equal(llm_scan_finish(&s, &u, &reason, &n), LLM_OK);

    test_scan_usage_is(&u, 16, 34, 50, -1, -1);
    assert_string_equal(reason, "length");
    assert_true(n > 0);

    /* a text size without a buffer is no buffer */

    llm_scan_init(&s, NULL, 100);
    llm_scan_feed(&s, test_scan_mistral_answer,
                  sizeof(test_scan_mistral_answer) - 1);

    assert_int_equal(llm_scan_finish(&s, NULL, NULL, &n), LLM_OK);
    assert_int_equal(n, 0);
}


void
test_scan_register(void)
{
    TEST_ADD(test_scan_openai);
    TEST_ADD(test_scan_mistral);
    TEST_ADD(test_scan_tool_calls);
    TEST_ADD(test_scan_escapes);
    TEST_ADD(test_scan_bad_escapes);
    TEST_ADD(test_scan_nested_usage);
    TEST_ADD(test_scan_first_wins);
    TEST_ADD(test_scan_finish_reasons);
    TEST_ADD(test_scan_text_size);
    TEST_ADD(test_scan_text_nul);
    TEST_ADD(test_scan_usage_size);
    TEST_ADD(test_scan_usage_mapping);
    TEST_ADD(test_scan_usage_reader);
    TEST_ADD(test_scan_shapes);
    TEST_ADD(test_scan_truncated);
    TEST_ADD(test_scan_garbage);
    TEST_ADD(test_scan_deep);
    TEST_ADD(test_scan_names);
    TEST_ADD(test_scan_finish_twice);
}
