
/*
 * ngx_http_llm_router_module: the provider's key masked in relayed bytes
 * (llm_redact(), llm_redact_tail()), whole and in pieces of every size,
 * as the glue relays them.
 */


#include <string.h>

#include "test_util.h"


#define TEST_KEY  "sk-test-key-0123"


static void test_redact_whole(void **state);
static void test_redact_short_key(void **state);
static void test_redact_tail(void **state);
static void test_redact_pieces(void **state);
static size_t test_redact_split(const char *text, size_t len, size_t step,
    char *out);


static void
test_redact_whole(void **state)
{
    char  buf[128];

    (void) state;

    strcpy(buf, "Bearer " TEST_KEY " and " TEST_KEY TEST_KEY ".");
    assert_int_equal(llm_redact(buf, strlen(buf), TEST_KEY,
                                sizeof(TEST_KEY) - 1), 3);
    assert_string_equal(buf, "Bearer **************** and "
                             "********************************.");

    /* a near miss, the key at both ends, nothing */
    strcpy(buf, TEST_KEY "sk-test-key-012" TEST_KEY);
    assert_int_equal(llm_redact(buf, strlen(buf), TEST_KEY,
                                sizeof(TEST_KEY) - 1), 2);
    assert_string_equal(buf, "****************sk-test-key-012"
                             "****************");

    strcpy(buf, "sk-test-key-012");
    assert_int_equal(llm_redact(buf, strlen(buf), TEST_KEY,
                                sizeof(TEST_KEY) - 1), 0);
    assert_int_equal(llm_redact(buf, 0, TEST_KEY, sizeof(TEST_KEY) - 1), 0);
}


/* keys too short to be told from text are not looked for */

static void
test_redact_short_key(void **state)
{
    char  buf[32];

    (void) state;

    strcpy(buf, "a 1234567 b");
    assert_int_equal(llm_redact(buf, strlen(buf), "1234567", 7), 0);
    assert_string_equal(buf, "a 1234567 b");
    assert_int_equal(llm_redact_tail(buf, 9, "1234567", 7), 0);
    assert_int_equal(llm_redact(buf, strlen(buf), "", 0), 0);

    strcpy(buf, "a 12345678 b");
    assert_int_equal(llm_redact(buf, strlen(buf), "12345678", 8), 1);
    assert_string_equal(buf, "a ******** b");
}


static void
test_redact_tail(void **state)
{
    (void) state;

    assert_int_equal(llm_redact_tail("abc sk-te", 9, TEST_KEY,
                                     sizeof(TEST_KEY) - 1), 5);
    assert_int_equal(llm_redact_tail("abc s", 5, TEST_KEY,
                                     sizeof(TEST_KEY) - 1), 1);
    assert_int_equal(llm_redact_tail("abc", 3, TEST_KEY,
                                     sizeof(TEST_KEY) - 1), 0);
    assert_int_equal(llm_redact_tail("sk-test-key-012", 15, TEST_KEY,
                                     sizeof(TEST_KEY) - 1), 15);
    assert_int_equal(llm_redact_tail("", 0, TEST_KEY,
                                     sizeof(TEST_KEY) - 1), 0);

    /* the whole key is not a tail: it is masked, not held */
    assert_int_equal(llm_redact_tail(TEST_KEY, sizeof(TEST_KEY) - 1,
                                     TEST_KEY, sizeof(TEST_KEY) - 1), 0);
}


/*
 * The glue's way: each piece joins what was held back, is masked, and its
 * possible start of the key is held back again; the end of the body lets
 * the rest go.  Returns the length written to out.
 */

static size_t
test_redact_split(const char *text, size_t len, size_t step, char *out)
{
    char    w[512];
    size_t  i, n, held, wlen, tail, olen;

    held = 0;
    olen = 0;

    for (i = 0; i < len; i += n) {
        n = (len - i < step) ? len - i : step;

        wlen = held + n;
        memcpy(w + held, text + i, n);

        (void) llm_redact(w, wlen, TEST_KEY, sizeof(TEST_KEY) - 1);

        tail = (i + n < len)
               ? llm_redact_tail(w, wlen, TEST_KEY, sizeof(TEST_KEY) - 1)
               : 0;

        memcpy(out + olen, w, wlen - tail);
        olen += wlen - tail;

        memmove(w, w + wlen - tail, tail);
        held = tail;
    }

    return olen;
}


static void
test_redact_pieces(void **state)
{
    char          want[256], out[256];
    size_t        len, step, k;
    const char   *texts[] = {
        "{\"error\":{\"message\":\"Authorization: Bearer " TEST_KEY "\"}}",
        TEST_KEY,
        "s" TEST_KEY "sk-test-" TEST_KEY "sk-test-key-012",
        "sk-test-key-012sk-test-key-0123sk",
        "no key at all, but an s at the end: s",
        NULL
    };

    (void) state;

    for (k = 0; texts[k] != NULL; k++) {
        len = strlen(texts[k]);

        memcpy(want, texts[k], len);
        (void) llm_redact(want, len, TEST_KEY, sizeof(TEST_KEY) - 1);

        for (step = 1; step <= len; step++) {
            assert_int_equal(test_redact_split(texts[k], len, step, out),
                             len);
            assert_memory_equal(out, want, len);
        }
    }
}


void
test_redact_register(void)
{
    TEST_ADD(test_redact_whole);
    TEST_ADD(test_redact_short_key);
    TEST_ADD(test_redact_tail);
    TEST_ADD(test_redact_pieces);
}
