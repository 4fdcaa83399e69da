
/*
 * ngx_http_llm_router_module: tests of the fast paths of the JSON work:
 * the string scan at every position of its 16- and 64-byte steps, UTF-8
 * across those steps, integers read without strtod(), long strings kept
 * by reference and printed as the client's bytes, the marked top-level
 * object of a request.
 */


#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"


#define TEST_RUN  200               /* over three 64-byte steps */


static void test_plain_run_positions(void **state);
static void test_parse_utf8_positions(void **state);
static void test_parse_invalid_utf8_positions(void **state);
static void test_parse_integers(void **state);
static void test_parse_refs(void **state);
static void test_parse_refs_limit(void **state);
static void test_print_refs(void **state);
static void test_encode_refs(void **state);
static void test_keys_mark(void **state);
static void test_scratch(void **state);
static char *test_long_string(test_ctx_t *ctx, const char *piece,
    size_t n);


static void
test_plain_run_positions(void **state)
{
    size_t          i, k;
    unsigned char   buf[TEST_RUN];

    static const unsigned char  stop[] = {
        '"', '\\', 0x00, 0x01, 0x1f, 0x80, 0xc3, 0xff
    };
    static const unsigned char  go[] = {
        ' ', '!', '#', '/', '[', ']', 0x7e, 0x7f
    };

    (void) state;

    memset(buf, 'a', sizeof(buf));

    assert_int_equal(llm_json_plain_run(buf, sizeof(buf)), sizeof(buf));

    for (k = 0; k < sizeof(stop); k++) {
        for (i = 0; i < sizeof(buf); i++) {
            buf[i] = stop[k];

            if (llm_json_plain_run(buf, sizeof(buf)) != i) {
                fail_msg("byte 0x%02x at %lu: run of %lu", stop[k],
                         (unsigned long) i,
                         (unsigned long) llm_json_plain_run(buf,
                                                            sizeof(buf)));
            }

            /* a shorter buffer ends the run before the byte */

            assert_int_equal(llm_json_plain_run(buf, i), i);

            buf[i] = 'a';
        }
    }

    for (k = 0; k < sizeof(go); k++) {
        for (i = 0; i < sizeof(buf); i++) {
            buf[i] = go[k];
            assert_int_equal(llm_json_plain_run(buf, sizeof(buf)),
                             sizeof(buf));
            buf[i] = 'a';
        }
    }
}


/* a character of 2, 3 and 4 bytes at every offset, across the steps */

static void
test_parse_utf8_positions(void **state)
{
    char         json[TEST_RUN + 8];
    cJSON       *root;
    size_t       i, k, n;
    test_ctx_t  *ctx;

    static const char  *const chars[] = {
        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"
    };

    ctx = *state;
    (void) ctx;

    for (k = 0; k < sizeof(chars) / sizeof(chars[0]); k++) {
        n = strlen(chars[k]);

        for (i = 1; i + n < TEST_RUN; i++) {
            memset(json, 'a', TEST_RUN);
            json[0] = '"';
            memcpy(json + i, chars[k], n);
            json[TEST_RUN] = '"';

            assert_int_equal(llm_json_parse(json, TEST_RUN + 1, &root, NULL),
                             LLM_OK);
            assert_true(cJSON_IsString(root));
            assert_int_equal(strlen(root->valuestring), TEST_RUN - 1);
            assert_memory_equal(root->valuestring + i - 1, chars[k], n);

            cJSON_Delete(root);
        }
    }
}


/* a byte that is not UTF-8, or a character cut, at every offset */

static void
test_parse_invalid_utf8_positions(void **state)
{
    char    json[TEST_RUN + 8];
    cJSON  *root;
    size_t  i, k;

    static const char  *const bad[] = {
        "\xff", "\x80", "\xc3(", "\xe2\x82(", "\xed\xa0\x80", "\xc0\xaf"
    };

    (void) state;

    for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        for (i = 1; i + strlen(bad[k]) < TEST_RUN; i++) {
            memset(json, 'a', TEST_RUN);
            json[0] = '"';
            memcpy(json + i, bad[k], strlen(bad[k]));
            json[TEST_RUN] = '"';

            root = NULL;

            if (llm_json_parse(json, TEST_RUN + 1, &root, NULL) != LLM_ERROR)
            {
                fail_msg("invalid sequence %lu at %lu was taken",
                         (unsigned long) k, (unsigned long) i);
            }

            assert_null(root);
        }
    }
}


static void
test_parse_integers(void **state)
{
    cJSON        *root;
    const cJSON  *item;

    static const char  json[] =
        "[0,-0,7,-42,123456789012345,-123456789012345,1234567890123456,"
        "12345678901234567890,1.5,1e3,-2E-2,9007199254740993]";
    static const char  *const text[] = {
        "0", "-0", "7", "-42", "123456789012345", "-123456789012345",
        "1234567890123456", "12345678901234567890", "1.5", "1e3", "-2E-2",
        "9007199254740993"
    };
    size_t  i;

    (void) state;

    assert_int_equal(llm_json_parse(json, TEST_LEN(json), &root, NULL),
                     LLM_OK);

    /* the same double strtod() reads, bit for bit */

    i = 0;

    for (item = root->child; item != NULL; item = item->next, i++) {
        assert_true(cJSON_IsNumber(item));
        assert_memory_equal(&item->valuedouble,
                            &(double) { strtod(text[i], NULL) },
                            sizeof(double));
    }

    assert_int_equal(i, sizeof(text) / sizeof(text[0]));

    assert_true(signbit(root->child->next->valuedouble));
    assert_int_equal(root->child->next->next->next->valueint, -42);

    cJSON_Delete(root);
}


/* n copies of piece, NUL-terminated, freed at teardown */

static char *
test_long_string(test_ctx_t *ctx, const char *piece, size_t n)
{
    char    *s;
    size_t   i, len;

    len = strlen(piece);
    s = test_copy(ctx, NULL, len * n + 1);

    for (i = 0; i < n; i++) {
        memcpy(s + i * len, piece, len);
    }

    s[len * n] = '\0';

    return s;
}


static void
test_parse_refs(void **state)
{
    char             *json, *plain, *escaped, *utf8;
    cJSON            *root;
    size_t            i, len;
    test_ctx_t       *ctx;
    llm_json_refs_t   refs;
    const cJSON      *a;

    ctx = *state;

    plain = test_long_string(ctx, "lorem ips ", 60);
    escaped = test_long_string(ctx, "a\\n\\u00e9\\\"\\\\ ", 50);
    utf8 = test_long_string(ctx, "caf\xc3\xa9 ", 120);

    len = 256 + 3 * strlen(plain) + strlen(escaped) + strlen(utf8);
    json = test_copy(ctx, NULL, len);

    /* a short value and a long key are not kept */

    snprintf(json, len, "{\"short\":\"%.*s\",\"%s\":1,\"a\":[\"%s\",\"%s\","
             "\"%s\"]}", LLM_JSON_REF_MIN - 1, plain, plain, plain,
             escaped, utf8);

    refs.n = 99;

    assert_int_equal(llm_json_parse_refs(json, strlen(json), &root, NULL,
                                         &refs, NULL),
                     LLM_OK);

    assert_int_equal(refs.n, 3);
    assert_int_equal(refs.len, strlen(plain) + strlen(escaped)
                               + strlen(utf8));

    a = cJSON_GetObjectItemCaseSensitive(root, "a");

    for (i = 0; i < 3; i++) {
        assert_ptr_equal(refs.ref[i].value,
                         cJSON_GetArrayItem(a, (int) i)->valuestring);
        assert_true(refs.ref[i].raw > json
                    && refs.ref[i].raw < json + strlen(json));
        assert_int_equal(refs.ref[i].raw[-1], '"');
        assert_int_equal(refs.ref[i].raw[refs.ref[i].len], '"');
    }

    assert_memory_equal(refs.ref[0].raw, plain, strlen(plain));
    assert_memory_equal(refs.ref[1].raw, escaped, strlen(escaped));
    assert_memory_equal(refs.ref[2].raw, utf8, strlen(utf8));

    /* the tree has the value, unescaped */

    assert_int_equal(strlen(refs.ref[1].value), 50 * 7);
    assert_memory_equal(refs.ref[1].value, "a\n\xc3\xa9\"\\ a\n", 9);

    cJSON_Delete(root);

    /* a failed parse keeps nothing */

    json[strlen(json) - 1] = ',';

    assert_int_equal(llm_json_parse_refs(json, strlen(json), &root, NULL,
                                         &refs, NULL),
                     LLM_ERROR);
    assert_int_equal(refs.n, 0);
    assert_int_equal(refs.len, 0);
}


static void
test_parse_refs_limit(void **state)
{
    char             *json, *p, *s;
    cJSON            *root;
    size_t            i, n;
    test_ctx_t       *ctx;
    llm_json_refs_t   refs;

    ctx = *state;

    n = LLM_JSON_REFS + 3;
    s = test_long_string(ctx, "x", LLM_JSON_REF_MIN);

    json = test_copy(ctx, NULL, n * (LLM_JSON_REF_MIN + 8) + 8);
    p = json;
    *p++ = '[';

    for (i = 0; i < n; i++) {
        p += sprintf(p, "%s\"%s\"", i ? "," : "", s);
    }

    *p++ = ']';

    assert_int_equal(llm_json_parse_refs(json, (size_t) (p - json), &root,
                                         NULL, &refs, NULL),
                     LLM_OK);

    /* the first ones, in the body's order */

    assert_int_equal(refs.n, LLM_JSON_REFS);
    assert_int_equal(refs.len, LLM_JSON_REFS * LLM_JSON_REF_MIN);
    assert_ptr_equal(refs.ref[0].value, root->child->valuestring);
    assert_ptr_equal(refs.ref[0].raw, json + 2);

    cJSON_Delete(root);
}


/*
 * A tree that uses the strings of the client's tree: printed in parts,
 * the client's bytes between them, the same JSON as printed whole
 */

static void
test_print_refs(void **state)
{
    char                *json, *s, *joined, *whole;
    cJSON               *root, *out, *a, *item;
    size_t               i, n, len;
    test_ctx_t          *ctx;
    llm_json_refs_t      refs;
    llm_http_request_t   http;

    static const size_t  hints[] = { 0, 16, 100000 };

    ctx = *state;

    n = LLM_JSON_REFS + 2;
    s = test_long_string(ctx, "\\u00e9t\\u00e9 \\/ \\\"x\\\" ", 30);

    len = n * (strlen(s) + 4) + 8;
    json = test_copy(ctx, NULL, len);
    json[0] = '[';
    json[1] = '\0';

    for (i = 0; i < n; i++) {
        strcat(json, i ? ",\"" : "\"");
        strcat(json, s);
        strcat(json, "\"");
    }

    strcat(json, "]");

    assert_int_equal(llm_json_parse_refs(json, strlen(json), &root, NULL,
                                         &refs, NULL),
                     LLM_OK);
    assert_int_equal(refs.n, LLM_JSON_REFS);

    /* the provider's tree: each string referenced, one of them twice */

    out = cJSON_CreateObject();
    a = cJSON_AddArrayToObject(out, "texts");

    for (item = root->child; item != NULL; item = item->next) {
        cJSON_AddItemToArray(a, cJSON_CreateStringReference(
                                    item->valuestring));
    }

    assert_non_null(llm_json_add_ref(out, "again", root->child->valuestring));

    whole = llm_json_print(out, &ctx->pool, NULL);
    assert_non_null(whole);

    for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
        assert_int_equal(llm_json_print_body(out, hints[i], &refs,
                                             &ctx->pool, &http),
                         LLM_OK);

        /* LLM_JSON_REFS references at most, the first ones printed */

        assert_null(http.body);
        assert_int_equal(http.nparts, 2 * LLM_JSON_REFS + 1);

        for (n = 1; n < http.nparts; n += 2) {
            assert_ptr_equal(http.parts[n].data, refs.ref[(n - 1) / 2].raw);
            assert_int_equal(http.parts[n].len, strlen(s));
        }

        joined = (char *) llm_http_body(&http, &ctx->pool);
        assert_non_null(joined);
        assert_int_equal(strlen(joined), http.body_len);

        /* the client's escapes, not the printer's: the same JSON */

        assert_true(strcmp(joined, whole) != 0);
        assert_int_equal(llm_json_validate(joined, http.body_len, NULL),
                         LLM_OK);

        a = cJSON_Parse(joined);
        item = cJSON_Parse(whole);
        assert_true(cJSON_Compare(a, item, 1));
        cJSON_Delete(a);
        cJSON_Delete(item);
    }

    /* without refs, or none used: one body */

    assert_int_equal(llm_json_print_body(out, 0, NULL, &ctx->pool, &http),
                     LLM_OK);
    assert_string_equal(http.body, whole);
    assert_int_equal(http.nparts, 0);

    cJSON_Delete(out);
    cJSON_Delete(root);
}


/*
 * Each translating encoder with a long prompt: the prompt goes out as the
 * client's bytes, and the body is the one printed without references
 */

static void
test_encode_refs(void **state)
{
    char                  *json, *s, *joined;
    cJSON                 *a, *b;
    size_t                 i, k, len;
    test_ctx_t            *ctx;
    llm_error_t            err;
    llm_request_t          req, copy;
    llm_provider_t         p;
    llm_http_request_t     http, plain;
    const llm_adapter_t   *ad;

    static const llm_adapter_t  *const adapters[] = {
        &llm_anthropic_adapter, &llm_gemini_adapter, &llm_cohere_adapter
    };

    ctx = *state;

    s = test_long_string(ctx, "Context: \\\"nginx\\\"\\n caf\xc3\xa9 ", 40);

    len = 3 * strlen(s) + 512;
    json = test_copy(ctx, NULL, len);

    snprintf(json, len,
             "{\"model\":\"m\",\"messages\":["
             "{\"role\":\"system\",\"content\":\"%s\"},"
             "{\"role\":\"user\",\"content\":[{\"type\":\"text\","
             "\"text\":\"%s\"}]},"
             "{\"role\":\"assistant\",\"content\":\"ok\"},"
             "{\"role\":\"user\",\"content\":\"%s\"}],"
             "\"max_tokens\":10}", s, s, s);

    assert_int_equal(llm_request_parse_pool(&req, json, strlen(json),
                                            &ctx->pool, &err),
                     LLM_OK);
    assert_int_equal(req.refs.n, 3);

    memset(&p, 0, sizeof(llm_provider_t));
    p.name = "test";
    p.api_key = "sk-test-SECRET";
    p.base_path = "/v1";

    for (k = 0; k < sizeof(adapters) / sizeof(adapters[0]); k++) {
        ad = adapters[k];

        assert_int_equal(ad->encode(&req, &p, &ctx->pool, &http, &err),
                         LLM_OK);

        /* every long text by reference, however the provider nests it */

        assert_null(http.body);
        assert_true(http.nparts >= 5);

        for (i = 1; i < http.nparts; i += 2) {
            assert_true(http.parts[i].data >= json
                        && http.parts[i].data < json + strlen(json));
            assert_int_equal(http.parts[i].len, strlen(s));
        }

        joined = (char *) llm_http_body(&http, &ctx->pool);
        assert_int_equal(strlen(joined), http.body_len);

        copy = req;
        copy.refs.n = 0;
        copy.refs.len = 0;

        assert_int_equal(ad->encode(&copy, &p, &ctx->pool, &plain, &err),
                         LLM_OK);
        assert_non_null(plain.body);
        assert_int_equal(plain.nparts, 0);

        a = test_json(joined, http.body_len);
        b = test_json(plain.body, plain.body_len);
        assert_true(cJSON_Compare(a, b, 1));
        cJSON_Delete(a);
        cJSON_Delete(b);

        /* the provider's body is short beside the client's */

        assert_true(http.body_len > strlen(json) - 512);
    }

    llm_request_free(&req);
}


static void
test_keys_mark(void **state)
{
    cJSON  *root;

    static const char  json[] =
        "{\"model\":\"a\",\"messages\":[],\"max_tokens\":1,\"\":2,"
        "\"_x\":3}";

    (void) state;

    root = cJSON_Parse(json);
    assert_non_null(root);

    llm_json_keys_mark(root);
    assert_int_equal(root->valueint, LLM_JSON_KEYS_TAG);

    /* members sharing a first byte, the empty name, '_' (0x5f & 31) */

    assert_int_equal(llm_json_get(root, "model")->valuestring[0], 'a');
    assert_true(cJSON_IsArray(llm_json_get(root, "messages")));
    assert_int_equal(llm_json_get(root, "max_tokens")->valueint, 1);
    assert_int_equal(llm_json_get(root, "")->valueint, 2);
    assert_int_equal(llm_json_get(root, "_x")->valueint, 3);

    assert_null(llm_json_get(root, "max_completion_tokens"));
    assert_null(llm_json_get(root, "temperature"));
    assert_null(llm_json_get(root, "?"));

    /* an object not marked is walked as before */

    assert_int_equal(llm_json_get(llm_json_get(root, "messages"), "x"),
                     NULL);

    cJSON_Delete(root);
}


static void
test_scratch(void **state)
{
    char            buf[200], *a, *b, *c, *d;
    llm_scratch_t   s;

    (void) state;

    llm_scratch_init(&s, buf, sizeof(buf));

    /* aligned, from the front of the buffer */

    a = s.pool.alloc(s.pool.data, 10);
    b = s.pool.alloc(s.pool.data, 10);
    assert_true(a >= buf && b + 10 <= buf + sizeof(buf) && b >= a + 10);
    assert_int_equal((uintptr_t) a % 16, 0);
    assert_int_equal((uintptr_t) b % 16, 0);

    /* past it: a block of its own; the buffer still serves what fits */

    c = s.pool.alloc(s.pool.data, 1000);
    assert_non_null(c);
    assert_true(c + 1000 <= buf || c >= buf + sizeof(buf));
    assert_int_equal((uintptr_t) c % 16, 0);
    memset(c, 'x', 1000);
    assert_non_null(s.blocks);

    d = s.pool.alloc(s.pool.data, 16);
    assert_true(d >= buf && d + 16 <= buf + sizeof(buf));

    assert_null(s.pool.alloc(s.pool.data, (size_t) -1));

    /* all given back: the blocks freed (ASan and valgrind see them) */

    llm_scratch_reset(&s);
    assert_null(s.blocks);
    assert_ptr_equal(s.pos, buf);

    llm_scratch_reset(&s);
    assert_ptr_equal(s.pool.alloc(s.pool.data, 10), a);
}


void
test_fast_register(void)
{
    TEST_ADD(test_plain_run_positions);
    TEST_ADD(test_parse_utf8_positions);
    TEST_ADD(test_parse_invalid_utf8_positions);
    TEST_ADD(test_parse_integers);
    TEST_ADD(test_parse_refs);
    TEST_ADD(test_parse_refs_limit);
    TEST_ADD(test_print_refs);
    TEST_ADD(test_encode_refs);
    TEST_ADD(test_keys_mark);
    TEST_ADD(test_scratch);
}
