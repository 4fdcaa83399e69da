
/*
 * ngx_http_llm_router_module: tests of the raw JSON helpers.
 */


#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"


typedef struct {
    const char   *name;
    const char   *json;
    size_t        len;
    int           rc;
    size_t        off;          /* offending byte, when rc == LLM_ERROR */
} test_validate_t;


typedef struct {
    const char   *test;
    const char   *json;
    const char   *name;
    int           rc;
    const char   *value;        /* the raw value bytes, when found */
} test_member_t;


static void test_escape_specials(void **state);
static void test_escape_utf8(void **state);
static void test_escape_invalid_utf8(void **state);
static void test_escape_short_buffer(void **state);
static void test_utf8_trim(void **state);
static void test_validate(void **state);
static void test_parse_like_validate(void **state);
static void test_parse_tree(void **state);
static void test_parse_strings(void **state);
static void test_parse_declined(void **state);
static void test_parse_depth(void **state);
static void test_parse_long_number(void **state);
static void test_print(void **state);
static void test_print_invalid_utf8(void **state);
static void test_plain_run(void **state);
static void test_out_int(void **state);
static void test_member(void **state);
static void test_member_span(void **state);
static void test_object_open(void **state);


#define V(n, s, rc, off)                                                      \
    { "validate: " n, s, TEST_LEN(s), rc, off }

static const test_validate_t  test_validate_cases[] = {
    V("empty object", "{}", LLM_OK, 0),
    V("nested values",
      " {\"a\" : [1, -0.5e+3, true, false, null, \"\\u00e9\\n\"]} \r\n",
      LLM_OK, 0),
    V("utf-8 string", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", LLM_OK, 0),
    V("nested arrays", "[[[]],{}]", LLM_OK, 0),
    V("empty input", "", LLM_ERROR, 0),
    V("unclosed object", "{", LLM_ERROR, 1),
    V("trailing comma in object", "{\"a\":1,}", LLM_ERROR, 7),
    V("trailing comma in array", "[1,]", LLM_ERROR, 3),
    V("leading zero", "[01]", LLM_ERROR, 2),
    V("bare decimal point", "[1.]", LLM_ERROR, 1),
    V("lone minus", "[-]", LLM_ERROR, 1),
    V("missing integer part", "[.5]", LLM_ERROR, 1),
    V("empty exponent", "[1e]", LLM_ERROR, 1),
    V("bad literal", "[tru]", LLM_ERROR, 1),
    V("NaN", "[NaN]", LLM_ERROR, 1),
    V("unquoted key", "{a:1}", LLM_ERROR, 1),
    V("missing colon", "{\"a\" 1}", LLM_ERROR, 5),
    V("raw newline in string", "\"a\nb\"", LLM_ERROR, 0),
    V("bad escape", "\"\\x\"", LLM_ERROR, 0),
    V("bad unicode escape", "\"\\u12g4\"", LLM_ERROR, 0),
    V("truncated utf-8", "\"\xc3\"", LLM_ERROR, 0),
    V("utf-8 surrogate", "\"\xed\xa0\x80\"", LLM_ERROR, 0),
    V("overlong utf-8", "\"\xc0\xaf\"", LLM_ERROR, 0),
    V("trailing garbage", "{}x", LLM_ERROR, 2),
    V("two values", "{} {}", LLM_ERROR, 3),
    V("mismatched bracket", "[1}", LLM_ERROR, 2),
    V("mismatched brace", "{\"a\":1]", LLM_ERROR, 6),
    V("byte order mark", "\xef\xbb\xbf{}", LLM_ERROR, 0),
    V("control byte as whitespace", "{\"a\":\x01 1}", LLM_ERROR, 5),
    V("NUL after key", "{\"a\"\0:1}", LLM_ERROR, 4)
};

#undef V


static const test_member_t  test_member_cases[] = {
    { "member: plain",
      "{\"model\":\"m\"}", "model", LLM_OK, "\"m\"" },
    { "member: nested model skipped, null value",
      " { \"a\" : { \"model\" : 1 } , \"model\" : null } ", "model", LLM_OK,
      "null" },
    { "member: escaped quotes and brackets in strings",
      "{\"a\":\"\\\"model\\\":1\",\"model\":[1,{\"x\":\"]}\"}]}", "model",
      LLM_OK, "[1,{\"x\":\"]}\"}]" },
    { "member: escaped key",
      "{\"mod\\u0065l\":-1.5e3}", "model", LLM_OK, "-1.5e3" },
    { "member: escaped NUL ends the key",
      "{\"model\\u0000x\":true,\"model\":false}", "model", LLM_OK, "true" },
    { "member: after a long string with escapes and UTF-8",
      "{\"messages\":[{\"content\":\"a prompt longer than sixteen bytes, "
      "with \\\"model\\\":1 quoted, caf\xc3\xa9, a \\\\ and more text "
      "after it\"}],\"model\":\"m\"}", "model", LLM_OK, "\"m\"" },
    { "member: case-sensitive",
      "{\"Model\":1,\"model\":2}", "model", LLM_OK, "2" },
    { "member: prefixes do not match",
      "{\"models\":1,\"mode\":2}", "model", LLM_DECLINED, NULL },
    { "member: non-ascii escape",
      "{\"m\\u00e9\":1}", "model", LLM_DECLINED, NULL },
    { "member: empty object",
      "{}", "model", LLM_DECLINED, NULL },
    { "member: model inside messages",
      "{\"messages\":[{\"model\":\"x\"}]}", "model", LLM_DECLINED, NULL },
    { "member: not an object",
      "[{\"model\":1}]", "model", LLM_ERROR, NULL },
    { "member: empty input",
      "", "model", LLM_ERROR, NULL },
    { "member: key without value",
      "{\"model\"", "model", LLM_ERROR, NULL },
    { "member: colon at end",
      "{\"model\":", "model", LLM_ERROR, NULL },
    { "member: unterminated string",
      "{\"a\":\"unterminated", "model", LLM_ERROR, NULL },
    { "member: unterminated array",
      "{\"a\":[[[", "model", LLM_ERROR, NULL },
    { "member: missing comma",
      "{\"a\":1 \"model\":2}", "model", LLM_ERROR, NULL }
};


static void
test_escape_specials(void **state)
{
    char         buf[64];
    size_t       n;
    const char  *in, *want;

    (void) state;

    in = "a\"b\\c\n\r\t\b\f\x01\x1f/\x7f";
    want = "a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f/\x7f";

    n = llm_json_escape(NULL, 0, in, strlen(in));
    assert_int_equal(n, strlen(want));

    memset(buf, 'X', sizeof(buf));
    assert_int_equal(llm_json_escape(buf, sizeof(buf), in, strlen(in)), n);
    assert_memory_equal(buf, want, n);
    assert_int_equal(buf[n], 'X');

    /* an embedded NUL is data, not the end */
    n = llm_json_escape(buf, sizeof(buf), "a\0b", 3);
    assert_int_equal(n, 8);
    assert_memory_equal(buf, "a\\u0000b", 8);
}


static void
test_escape_utf8(void **state)
{
    char         buf[64];
    size_t       n;
    const char  *in;

    (void) state;

    in = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8";

    n = llm_json_escape(buf, sizeof(buf), in, strlen(in));
    assert_int_equal(n, strlen(in));
    assert_memory_equal(buf, in, n);
}


static void
test_escape_invalid_utf8(void **state)
{
    char         buf[64];
    size_t       n;
    const char  *in, *want;

    (void) state;

    /* lone continuation, truncated sequence, overlong, surrogate, 0xff */
    in = "a\x80" "b\xe2\x82" "c\xc0\xaf" "d\xed\xa0\x80" "e\xff";
    want = "a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffd\\ufffde"
           "\\ufffd";

    n = llm_json_escape(buf, sizeof(buf), in, strlen(in));
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
}


static void
test_escape_short_buffer(void **state)
{
    char    buf[16];
    size_t  n;

    (void) state;

    /* "ab\"" needs 4 bytes; with 3 only "ab" fits, the escape is whole */

    memset(buf, 'X', sizeof(buf));
    n = llm_json_escape(buf, 3, "ab\"c", 4);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "abXX", 4);

    memset(buf, 'X', sizeof(buf));
    n = llm_json_escape(buf, 0, "\n", 1);
    assert_int_equal(n, 2);
    assert_int_equal(buf[0], 'X');

    /* nothing is written after the first sequence that did not fit */
    memset(buf, 'X', sizeof(buf));
    n = llm_json_escape(buf, 4, "a\x01" "b", 3);
    assert_int_equal(n, 8);
    assert_memory_equal(buf, "aXXXX", 5);

    /* plain bytes are sequences of their own: the longest prefix */
    memset(buf, 'X', sizeof(buf));
    n = llm_json_escape(buf, 3, "abcdefghijklmnopqrstuvwxyz", 26);
    assert_int_equal(n, 26);
    assert_memory_equal(buf, "abcXX", 5);

    memset(buf, 'X', sizeof(buf));
    n = llm_json_escape(buf, 5, "ab\xc3\xa9" "cdef", 8);
    assert_int_equal(n, 8);
    assert_memory_equal(buf, "ab\xc3\xa9" "cX", 6);

    memset(buf, 'X', sizeof(buf));
    n = llm_json_escape(buf, 3, "ab\xc3\xa9" "cdef", 8);
    assert_int_equal(n, 8);
    assert_memory_equal(buf, "abXX", 4);
}


static void
test_utf8_trim(void **state)
{
    (void) state;

    assert_int_equal(llm_utf8_trim("abc", 3), 3);
    assert_int_equal(llm_utf8_trim("", 0), 0);
    assert_int_equal(llm_utf8_trim("a\xc3\xa9", 3), 3);
    assert_int_equal(llm_utf8_trim("a\xc3", 2), 1);
    assert_int_equal(llm_utf8_trim("a\xe2\x82", 3), 1);
    assert_int_equal(llm_utf8_trim("a\xe2\x82\xac", 4), 4);
    assert_int_equal(llm_utf8_trim("a\xf0\x9f\x98", 4), 1);
    assert_int_equal(llm_utf8_trim("a\xf0\x9f\x98\x80", 5), 5);
    assert_int_equal(llm_utf8_trim("\x80\x80", 2), 2);
}


static void
test_validate(void **state)
{
    size_t                  off;
    const test_validate_t  *t;

    t = ((test_ctx_t *) *state)->data;

    off = 12345;

    assert_int_equal(llm_json_validate(t->json, t->len, &off), t->rc);

    if (t->rc == LLM_ERROR) {
        assert_int_equal(off, t->off);

    } else {
        assert_int_equal(off, 12345);
    }
}


/* the one-pass parser gives the validator's verdict and offset */

static void
test_parse_like_validate(void **state)
{
    int                     rc;
    cJSON                  *root;
    size_t                  i, off;
    const test_validate_t  *t;

    (void) state;

    for (i = 0; i < sizeof(test_validate_cases) / sizeof(test_validate_t);
         i++)
    {
        t = &test_validate_cases[i];

        off = 12345;
        rc = llm_json_parse(t->json, t->len, &root, &off);

        if (rc != t->rc) {
            fail_msg("%s: %d, not %d", t->name, rc, t->rc);
        }

        if (t->rc == LLM_ERROR) {
            assert_null(root);

            if (off != t->off) {
                fail_msg("%s: offset %zu, not %zu", t->name, off, t->off);
            }

        } else {
            assert_non_null(root);
            cJSON_Delete(root);
        }
    }
}


static void
test_parse_tree(void **state)
{
    cJSON        *root, *a;
    const cJSON  *item;

    static const char  json[] =
        " {\"a\" : [1, -0.5e+3, true, false, null, {}, []],"
        " \"k\":\"v1\", \"k\":\"v2\", \"big\":3e9} ";

    (void) state;

    assert_int_equal(llm_json_parse(json, TEST_LEN(json), &root, NULL),
                     LLM_OK);

    assert_true(cJSON_IsObject(root));
    assert_null(root->string);

    a = root->child;
    assert_string_equal(a->string, "a");
    assert_int_equal(cJSON_GetArraySize(a), 7);

    item = cJSON_GetArrayItem(a, 0);
    assert_true(cJSON_IsNumber(item));
    assert_int_equal(item->valueint, 1);
    assert_true(cJSON_GetArrayItem(a, 1)->valuedouble == -500.0);
    assert_true(cJSON_IsTrue(cJSON_GetArrayItem(a, 2)));
    assert_true(cJSON_IsFalse(cJSON_GetArrayItem(a, 3)));
    assert_true(cJSON_IsNull(cJSON_GetArrayItem(a, 4)));
    assert_true(cJSON_IsObject(cJSON_GetArrayItem(a, 5)));
    assert_null(cJSON_GetArrayItem(a, 5)->child);
    assert_true(cJSON_IsArray(cJSON_GetArrayItem(a, 6)));

    /* duplicates are kept, in order, as cJSON keeps them */

    assert_string_equal(a->next->valuestring, "v1");
    assert_string_equal(a->next->next->string, "k");
    assert_string_equal(a->next->next->valuestring, "v2");

    /* valueint saturates as cJSON's does */

    item = cJSON_GetObjectItemCaseSensitive(root, "big");
    assert_true(item->valuedouble == 3e9);
    assert_int_equal(item->valueint, 2147483647);

    /* the list invariant cJSON's own functions rely on: head->prev = tail */

    assert_ptr_equal(a->child->prev, cJSON_GetArrayItem(a, 6));
    assert_true(cJSON_AddItemToArray(a, cJSON_CreateNull()));
    assert_int_equal(cJSON_GetArraySize(a), 8);

    cJSON_Delete(root);
}


static void
test_parse_strings(void **state)
{
    cJSON  *root;

    static const char  json[] =
        "[\"\\ud83d\\ude00 \\u00e9\\n\\t\\\"\\\\\\/\\b\\f\\r\","
        " \"caf\xc3\xa9\", \"x\\u0000y\", \"\"]";

    (void) state;

    assert_int_equal(llm_json_parse(json, TEST_LEN(json), &root, NULL),
                     LLM_OK);

    assert_string_equal(cJSON_GetArrayItem(root, 0)->valuestring,
                        "\xf0\x9f\x98\x80 \xc3\xa9\n\t\"\\/\b\f\r");
    assert_string_equal(cJSON_GetArrayItem(root, 1)->valuestring,
                        "caf\xc3\xa9");

    /* an escaped NUL ends the C string, as in cJSON */

    assert_string_equal(cJSON_GetArrayItem(root, 2)->valuestring, "x");
    assert_string_equal(cJSON_GetArrayItem(root, 3)->valuestring, "");

    cJSON_Delete(root);
}


static void
test_parse_declined(void **state)
{
    cJSON   *root;
    size_t   off;

    (void) state;

    /* valid JSON that cJSON does not take: lone or mismatched surrogates */

    assert_int_equal(llm_json_parse("[\"\\ud800\"]", 10, &root, NULL),
                     LLM_DECLINED);
    assert_null(root);
    assert_int_equal(llm_json_parse("[\"\\udc00\"]", 10, &root, NULL),
                     LLM_DECLINED);
    assert_int_equal(llm_json_parse("[\"\\ud800\\u0041\"]", 16, &root,
                                    NULL),
                     LLM_DECLINED);

    /* but a syntax error anywhere is a syntax error, at its offset */

    off = 0;
    assert_int_equal(llm_json_parse("[\"\\ud800\\q\"]", 12, &root, &off),
                     LLM_ERROR);
    assert_int_equal(off, 1);

    off = 0;
    assert_int_equal(llm_json_parse("[\"\\ud800\",]", 11, &root, &off),
                     LLM_ERROR);
    assert_int_equal(off, 10);
}


static void
test_parse_depth(void **state)
{
    char    *json;
    cJSON   *root;
    size_t   n, off;

    (void) state;

    n = LLM_JSON_MAX_DEPTH + 1;

    json = malloc(2 * n);
    assert_non_null(json);

    memset(json, '[', n);
    memset(json + n, ']', n);

    off = 0;
    assert_int_equal(llm_json_parse(json, 2 * n, &root, &off), LLM_ERROR);
    assert_int_equal(off, LLM_JSON_MAX_DEPTH);

    assert_int_equal(llm_json_parse(json + 1, 2 * n - 2, &root, NULL),
                     LLM_OK);
    cJSON_Delete(root);

    free(json);
}


static void
test_parse_long_number(void **state)
{
    char    json[300];
    cJSON   *root;

    (void) state;

    json[0] = '[';
    memset(json + 1, '9', 200);
    memcpy(json + 201, ".5e-190]", 8);

    assert_int_equal(llm_json_parse(json, 209, &root, NULL), LLM_OK);
    assert_true(root->child->valuedouble > 9.9e9
                && root->child->valuedouble < 1.1e10);

    cJSON_Delete(root);
}


static void
test_print(void **state)
{
    char        *s, *ref;
    cJSON       *root;
    size_t       len;
    test_ctx_t  *ctx;

    static const char  json[] =
        "{\"a\":[1,-0.5,0.1,1e300,-0,2147483648,1.5e-7,true,false,null],"
        "\"s\":\"\\u00e9\\n\\u0001\\\"\\\\/\\ud83d\\ude00\",\"o\":{},\"e\":[]}";

    ctx = *state;

    assert_int_equal(llm_json_parse(json, TEST_LEN(json), &root, NULL),
                     LLM_OK);

    s = llm_json_print(root, &ctx->pool, &len);
    ref = cJSON_PrintUnformatted(root);

    assert_non_null(s);
    assert_string_equal(s, ref);
    assert_int_equal(len, strlen(ref));

    cJSON_free(ref);
    cJSON_Delete(root);
}


static void
test_print_invalid_utf8(void **state)
{
    char        *s;
    cJSON       *root;
    test_ctx_t  *ctx;

    ctx = *state;

    root = cJSON_CreateString("a\xc3(\xff");
    assert_non_null(root);

    s = llm_json_print(root, &ctx->pool, NULL);
    assert_string_equal(s, "\"a\\ufffd(\\ufffd\"");

    cJSON_Delete(root);
}


static void
test_plain_run(void **state)
{
    (void) state;

    assert_int_equal(llm_json_plain_run((const unsigned char *) "", 0), 0);
    assert_int_equal(llm_json_plain_run(
                         (const unsigned char *) "0123456789abcdefXYZ", 19),
                     19);

    /* each byte that needs attention stops the run, at every position */

    assert_int_equal(llm_json_plain_run(
                         (const unsigned char *) "0123456789\"bcdef", 16),
                     10);
    assert_int_equal(llm_json_plain_run(
                         (const unsigned char *) "0123456\\89abcdef", 16),
                     7);
    assert_int_equal(llm_json_plain_run(
                         (const unsigned char *) "01234567\x1f" "9abcdef", 16),
                     8);
    assert_int_equal(llm_json_plain_run(
                         (const unsigned char *) "\xc3\xa9", 2),
                     0);
    assert_int_equal(llm_json_plain_run(
                         (const unsigned char *) "abcdefghijklmno\x7f", 16),
                     16);
    assert_int_equal(llm_json_plain_run(
                         (const unsigned char *) "abcdefghijklmno\x80", 16),
                     15);
}


static void
test_out_int(void **state)
{
    char        buf[128];
    size_t      i;
    llm_out_t   out;

    static const long long  v[] = {
        0, 7, -1, 1767225600, -1234567890123LL, LLONG_MAX, LLONG_MIN
    };
    static const char  *const want =
        "0 7 -1 1767225600 -1234567890123 9223372036854775807 "
        "-9223372036854775808";

    (void) state;

    out.buf = buf;
    out.len = 0;
    out.size = sizeof(buf) - 1;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        if (i) {
            llm_out_raw(&out, " ", 1);
        }

        llm_out_int(&out, v[i]);
    }

    buf[out.len] = '\0';

    assert_string_equal(buf, want);
}


static void
test_member(void **state)
{
    int                   rc;
    char                 *json;
    size_t                len;
    test_ctx_t           *ctx;
    llm_json_span_t       span;
    const test_member_t  *t;

    ctx = *state;
    t = ctx->data;

    len = strlen(t->json);
    json = test_copy(ctx, t->json, len);

    rc = llm_json_member(json, len, t->name, &span);
    assert_int_equal(rc, t->rc);

    if (rc == LLM_OK) {
        assert_true(span.key < span.value);
        assert_true(span.value < span.end);
        assert_true(span.end <= len);
        assert_int_equal(json[span.key], '"');
        assert_int_equal(span.end - span.value, strlen(t->value));
        assert_memory_equal(json + span.value, t->value, strlen(t->value));
    }
}


static void
test_member_span(void **state)
{
    const char       *json;
    llm_json_span_t   span;

    (void) state;

    json = "{\"a\":1, \"model\" :\t\"x\\\"y\" ,\"b\":2}";

    assert_int_equal(llm_json_member(json, strlen(json), "model", &span),
                     LLM_OK);
    assert_int_equal(span.key, 8);
    assert_int_equal(span.value, 18);
    assert_int_equal(span.end, 24);

    /* a bound that cuts the body: never read past it */
    assert_int_equal(llm_json_member(json, 20, "model", &span), LLM_ERROR);
    assert_int_equal(llm_json_member(json, 20, "a", &span), LLM_OK);
    assert_int_equal(span.value, 5);
}


static void
test_object_open(void **state)
{
    int     empty;
    size_t  pos;

    (void) state;

    assert_int_equal(llm_json_object_open(" \n{ \"a\":1}", 10, &pos, &empty),
                     LLM_OK);
    assert_int_equal(pos, 3);
    assert_int_equal(empty, 0);

    assert_int_equal(llm_json_object_open("{ }", 3, &pos, &empty), LLM_OK);
    assert_int_equal(pos, 1);
    assert_int_equal(empty, 1);

    assert_int_equal(llm_json_object_open("[]", 2, &pos, &empty), LLM_ERROR);
    assert_int_equal(llm_json_object_open("  ", 2, &pos, &empty), LLM_ERROR);
}


void
test_json_register(void)
{
    size_t  i;

    TEST_ADD(test_escape_specials);
    TEST_ADD(test_escape_utf8);
    TEST_ADD(test_escape_invalid_utf8);
    TEST_ADD(test_escape_short_buffer);
    TEST_ADD(test_utf8_trim);

    for (i = 0; i < sizeof(test_validate_cases) / sizeof(test_validate_t);
         i++)
    {
        test_add(test_validate_cases[i].name, test_validate,
                 &test_validate_cases[i]);
    }

    for (i = 0; i < sizeof(test_member_cases) / sizeof(test_member_t); i++) {
        test_add(test_member_cases[i].test, test_member,
                 &test_member_cases[i]);
    }

    TEST_ADD(test_parse_like_validate);
    TEST_ADD(test_parse_tree);
    TEST_ADD(test_parse_strings);
    TEST_ADD(test_parse_declined);
    TEST_ADD(test_parse_depth);
    TEST_ADD(test_parse_long_number);
    TEST_ADD(test_print);
    TEST_ADD(test_print_invalid_utf8);
    TEST_ADD(test_plain_run);
    TEST_ADD(test_out_int);
    TEST_ADD(test_member_span);
    TEST_ADD(test_object_open);
}
