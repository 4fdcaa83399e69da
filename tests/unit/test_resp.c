
/*
 * ngx_http_llm_router_module: tests of Redis's protocol (llm_resp.c): the
 * replies the limits get, each prefix of them, replies back to back, what
 * is refused, and the exact bytes of commands.
 *
 * Every buffer parsed is a malloc'ed copy of exactly its length, so that
 * a read past its end is caught under SANITIZE=1 and valgrind.
 */


#include <limits.h>
#include <string.h>

#include "test_util.h"


#define TEST_SHA1  "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"

#define TEST_REPLY(s)  s, TEST_LEN(s)


typedef struct {
    const char   *text;
    size_t        len;
    int           type;
    long long     integer;
    const char   *str;             /* NULL: str must be NULL */
    size_t        str_len;
    size_t        nitems;
    long long     items[LLM_RESP_MAX_ITEMS];
    int           item_types[LLM_RESP_MAX_ITEMS];
} test_resp_valid_t;


typedef struct {
    const char   *text;
    size_t        len;
} test_resp_bad_t;


static long test_resp_parse(test_ctx_t *ctx, const char *text, size_t len,
    llm_resp_reply_t *reply);
static void test_resp_check(const test_resp_valid_t *t, const char *buf,
    const llm_resp_reply_t *r);
static void test_resp_valid(void **state);
static void test_resp_back_to_back(void **state);
static void test_resp_invalid(void **state);
static void test_resp_long_lines(void **state);
static void test_resp_command_bytes(void **state);
static void test_resp_command_small(void **state);
static void test_resp_command_args(void **state);


static const test_resp_valid_t  test_resp_valid_table[] = {

    { TEST_REPLY("+OK\r\n"), '+', 0, "OK", 2, 0, {0}, {0} },
    { TEST_REPLY("+\r\n"), '+', 0, "", 0, 0, {0}, {0} },
    { TEST_REPLY("+QUEUED now\r\n"), '+', 0, "QUEUED now", 10, 0,
      {0}, {0} },
    { TEST_REPLY("-NOSCRIPT No matching script.\r\n"), '-', 0,
      "NOSCRIPT No matching script.", 28, 0, {0}, {0} },
    { TEST_REPLY("-ERR\r\n"), '-', 0, "ERR", 3, 0, {0}, {0} },

    { TEST_REPLY(":0\r\n"), ':', 0, NULL, 0, 0, {0}, {0} },
    { TEST_REPLY(":42\r\n"), ':', 42, NULL, 0, 0, {0}, {0} },
    { TEST_REPLY(":-5\r\n"), ':', -5, NULL, 0, 0, {0}, {0} },
    { TEST_REPLY(":9223372036854775807\r\n"), ':', LLONG_MAX, NULL, 0, 0,
      {0}, {0} },
    { TEST_REPLY(":-9223372036854775808\r\n"), ':', LLONG_MIN, NULL, 0, 0,
      {0}, {0} },

    { TEST_REPLY("$40\r\n" TEST_SHA1 "\r\n"), '$', 0, TEST_SHA1, 40, 0,
      {0}, {0} },
    { TEST_REPLY("$0\r\n\r\n"), '$', 0, "", 0, 0, {0}, {0} },
    { TEST_REPLY("$-1\r\n"), '$', 0, NULL, 0, 0, {0}, {0} },
    { TEST_REPLY("$7\r\na\r\n\0b\r\n\r\n"), '$', 0, "a\r\n\0b\r\n", 7, 0,
      {0}, {0} },

    { TEST_REPLY("*-1\r\n"), '*', 0, NULL, 0, 0, {0}, {0} },
    { TEST_REPLY("*0\r\n"), '*', 0, "", 0, 0, {0}, {0} },
    { TEST_REPLY("*2\r\n:1\r\n:123\r\n"), '*', 0, "", 0, 2,
      {1, 123}, {':', ':'} },
    { TEST_REPLY("*2\r\n:0\r\n:-5\r\n"), '*', 0, "", 0, 2,
      {0, -5}, {':', ':'} },
    { TEST_REPLY("*3\r\n:9223372036854775807\r\n:-9223372036854775808\r\n"
                 ":10\r\n"), '*', 0, "", 0, 3,
      {LLONG_MAX, LLONG_MIN, 10}, {':', ':', ':'} },
    { TEST_REPLY("*6\r\n+OK\r\n-ERR x\r\n$3\r\nabc\r\n$-1\r\n:7\r\n"
                 "$0\r\n\r\n"), '*', 0, "", 0, 6,
      {0, 0, 0, -1, 7, 0}, {'+', '-', '$', '$', ':', '$'} },
    { TEST_REPLY("*8\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n:6\r\n:7\r\n:8\r\n"),
      '*', 0, "", 0, 8, {1, 2, 3, 4, 5, 6, 7, 8},
      {':', ':', ':', ':', ':', ':', ':', ':'} },
};


static const test_resp_bad_t  test_resp_bad_table[] = {

    /* not a RESP2 type */
    { TEST_REPLY("OK\r\n") },
    { TEST_REPLY("?\r\n") },
    { TEST_REPLY("_\r\n") },
    { TEST_REPLY("#t\r\n") },
    { TEST_REPLY(",1.5\r\n") },
    { TEST_REPLY("%1\r\n") },
    { TEST_REPLY("\r\n") },

    /* lines */
    { TEST_REPLY("+OK\n") },
    { TEST_REPLY("+O\nK\r\n") },
    { TEST_REPLY("+OK\rX\r\n") },
    { TEST_REPLY("+OK\r\r\n") },
    { TEST_REPLY("-ERR\n") },
    { TEST_REPLY("-ERR x\ry") },

    /* integers */
    { TEST_REPLY(":\r\n") },
    { TEST_REPLY(":-\r\n") },
    { TEST_REPLY(":12x\r\n") },
    { TEST_REPLY(":+12\r\n") },
    { TEST_REPLY(": 12\r\n") },
    { TEST_REPLY(":12 \r\n") },
    { TEST_REPLY(":--1\r\n") },
    { TEST_REPLY(":1\n") },
    { TEST_REPLY(":1\rx") },
    { TEST_REPLY(":01\r\n") },
    { TEST_REPLY(":00\r\n") },
    { TEST_REPLY(":-0\r\n") },
    { TEST_REPLY(":1.5\r\n") },
    { TEST_REPLY(":9223372036854775808\r\n") },
    { TEST_REPLY(":-9223372036854775809\r\n") },
    { TEST_REPLY(":18446744073709551616\r\n") },
    { TEST_REPLY(":99999999999999999999999\r\n") },

    /* bulk strings */
    { TEST_REPLY("$\r\n") },
    { TEST_REPLY("$-\r\n") },
    { TEST_REPLY("$-2\r\n") },
    { TEST_REPLY("$-0\r\n") },
    { TEST_REPLY("$-1\n") },
    { TEST_REPLY("$-10\r\n") },
    { TEST_REPLY("$+3\r\nabc\r\n") },
    { TEST_REPLY("$03\r\nabc\r\n") },
    { TEST_REPLY("$4097\r\n") },
    { TEST_REPLY("$10000\r\n") },
    { TEST_REPLY("$3\r\nabcX\r\n") },
    { TEST_REPLY("$3\r\nabc\n") },
    { TEST_REPLY("$3\r\nabc\rX") },
    { TEST_REPLY("$3\nabc\r\n") },
    { TEST_REPLY("$2\r\nabc\r\n") },

    /* arrays */
    { TEST_REPLY("*\r\n") },
    { TEST_REPLY("*9\r\n") },
    { TEST_REPLY("*10\r\n") },
    { TEST_REPLY("*-2\r\n") },
    { TEST_REPLY("*x\r\n") },
    { TEST_REPLY("*1\r\n*0\r\n") },
    { TEST_REPLY("*2\r\n:1\r\n*-1\r\n") },
    { TEST_REPLY("*1\r\n?\r\n") },
    { TEST_REPLY("*1\r\n\r\n") },
    { TEST_REPLY("*2\r\n:1\r\n:x\r\n") },
    { TEST_REPLY("*1\r\n$1\r\nab\r\n") },
};


/* a copy of exactly len bytes, parsed */

static long
test_resp_parse(test_ctx_t *ctx, const char *text, size_t len,
    llm_resp_reply_t *reply)
{
    char  *buf;

    buf = test_copy(ctx, text, len);

    return llm_resp_parse(buf, len, reply);
}


static void
test_resp_check(const test_resp_valid_t *t, const char *buf,
    const llm_resp_reply_t *r)
{
    size_t  i;

    assert_int_equal(r->type, t->type);
    assert_true(r->integer == t->integer);
    assert_int_equal(r->nitems, t->nitems);

    if (t->str == NULL) {
        assert_null(r->str);
        assert_int_equal(r->len, 0);

    } else if (t->type == '*') {
        assert_ptr_equal(r->str, buf);
        assert_int_equal(r->len, 0);

    } else {
        /* a pointer into the buffer, not a copy */
        assert_true(r->str > buf && r->str + r->len <= buf + t->len);
        assert_int_equal(r->len, t->str_len);
        assert_memory_equal(r->str, t->str, t->str_len);
    }

    for (i = 0; i < t->nitems; i++) {
        assert_int_equal(r->item_types[i], t->item_types[i]);
        assert_true(r->items[i] == t->items[i]);
    }
}


static void
test_resp_valid(void **state)
{
    char                     *buf;
    size_t                    i, k;
    test_ctx_t               *ctx;
    llm_resp_reply_t          r;
    const test_resp_valid_t  *t;

    ctx = *state;

    for (i = 0; i < sizeof(test_resp_valid_table)
                    / sizeof(test_resp_valid_table[0]); i++)
    {
        t = &test_resp_valid_table[i];

        buf = test_copy(ctx, t->text, t->len);

        memset(&r, 0x5a, sizeof(llm_resp_reply_t));
        assert_int_equal(llm_resp_parse(buf, t->len, &r), (long) t->len);
        test_resp_check(t, buf, &r);

        /* every prefix: not all there yet */

        for (k = 0; k < t->len; k++) {
            assert_int_equal(test_resp_parse(ctx, t->text, k, &r), 0);
        }

        /* what follows it is not looked at */

        buf = test_copy(ctx, NULL, t->len + 3);
        memcpy(buf, t->text, t->len);
        memcpy(buf + t->len, "?\n\r", 3);

        assert_int_equal(llm_resp_parse(buf, t->len + 3, &r),
                         (long) t->len);
        test_resp_check(t, buf, &r);
    }
}


static void
test_resp_back_to_back(void **state)
{
    char              *buf;
    long               n;
    size_t             len, off;
    test_ctx_t        *ctx;
    llm_resp_reply_t   r;

    static const char  two[] = "*2\r\n:1\r\n:123\r\n+OK\r\n";
    static const char  many[] = "$3\r\nabc\r\n:-7\r\n-ERR x\r\n$-1\r\n"
                                "*1\r\n$1\r\nz\r\n*0\r\n";
    static const int   types[] = { '$', ':', '-', '$', '*', '*' };

    ctx = *state;

    len = TEST_LEN(two);
    buf = test_copy(ctx, two, len);

    n = llm_resp_parse(buf, len, &r);
    assert_int_equal(n, 14);
    assert_int_equal(r.type, '*');
    assert_int_equal(r.nitems, 2);
    assert_true(r.items[0] == 1 && r.items[1] == 123);

    n = llm_resp_parse(buf + 14, len - 14, &r);
    assert_int_equal(n, 5);
    assert_int_equal(r.type, '+');
    assert_int_equal(r.len, 2);
    assert_memory_equal(r.str, "OK", 2);

    /* the second one cut: the first still whole, the second not yet */

    assert_int_equal(llm_resp_parse(buf, len - 1, &r), 14);
    assert_int_equal(llm_resp_parse(buf + 14, len - 15, &r), 0);

    len = TEST_LEN(many);
    buf = test_copy(ctx, many, len);

    off = 0;

    for (n = 0; n < (long) (sizeof(types) / sizeof(types[0])); n++) {
        long  m;

        m = llm_resp_parse(buf + off, len - off, &r);
        assert_true(m > 0);
        assert_int_equal(r.type, types[n]);

        off += (size_t) m;
    }

    assert_int_equal(off, len);
    assert_int_equal(llm_resp_parse(buf + off, 0, &r), 0);
}


static void
test_resp_invalid(void **state)
{
    long                    rc;
    size_t                  i, k;
    test_ctx_t             *ctx;
    llm_resp_reply_t        r;
    const test_resp_bad_t  *t;

    ctx = *state;

    for (i = 0; i < sizeof(test_resp_bad_table)
                    / sizeof(test_resp_bad_table[0]); i++)
    {
        t = &test_resp_bad_table[i];

        if (test_resp_parse(ctx, t->text, t->len, &r) != -1) {
            fail_msg("not refused: table row %lu", (unsigned long) i);
        }

        /* once refused, more bytes do not make it a reply */

        for (k = 1; k < t->len; k++) {
            rc = test_resp_parse(ctx, t->text, k, &r);

            if (rc == -1) {
                break;
            }

            assert_int_equal(rc, 0);
        }
    }

    assert_int_equal(test_resp_parse(ctx, "", 0, &r), 0);
}


static void
test_resp_long_lines(void **state)
{
    char              *buf;
    size_t             n;
    test_ctx_t        *ctx;
    llm_resp_reply_t   r;

    ctx = *state;

    n = LLM_RESP_MAX_BULK;
    buf = test_copy(ctx, NULL, n + 16);

    /* a line of LLM_RESP_MAX_BULK bytes: taken; one more: refused */

    buf[0] = '-';
    memset(buf + 1, 'e', n + 1);
    buf[n + 1] = '\r';
    buf[n + 2] = '\n';

    assert_int_equal(llm_resp_parse(buf, n + 3, &r), (long) n + 3);
    assert_int_equal(r.type, '-');
    assert_int_equal(r.len, n);

    assert_int_equal(llm_resp_parse(buf, n + 1, &r), 0);
    assert_int_equal(llm_resp_parse(buf, n + 2, &r), 0);

    buf[n + 1] = 'e';

    assert_int_equal(llm_resp_parse(buf, n + 2, &r), -1);
    assert_int_equal(llm_resp_parse(buf, n + 3, &r), -1);

    buf[0] = '+';
    assert_int_equal(llm_resp_parse(buf, n + 2, &r), -1);

    /* a bulk string of LLM_RESP_MAX_BULK bytes */

    memcpy(buf, "$4096\r\n", 7);
    memset(buf + 7, '\n', n);
    memcpy(buf + 7 + n, "\r\n", 2);

    assert_int_equal(llm_resp_parse(buf, n + 9, &r), (long) n + 9);
    assert_int_equal(r.type, '$');
    assert_ptr_equal(r.str, buf + 7);
    assert_int_equal(r.len, n);

    assert_int_equal(llm_resp_parse(buf, n + 8, &r), 0);
    assert_int_equal(llm_resp_parse(buf, 7, &r), 0);

    memcpy(buf, "$4097\r\n", 7);
    assert_int_equal(llm_resp_parse(buf, n + 9, &r), -1);

    /* refused at the digit too many, before the line ends */

    assert_int_equal(llm_resp_parse(buf, 5, &r), -1);
    assert_int_equal(llm_resp_parse("*12", 3, &r), -1);
    assert_int_equal(test_resp_parse(ctx, ":92233720368547758070", 21, &r),
                     -1);
}


static void
test_resp_command_bytes(void **state)
{
    char                   buf[128];
    size_t                 n;
    llm_resp_arg_t         argv[6];
    llm_resp_reply_t       r;

    static const char  get[] = "*2\r\n$3\r\nGET\r\n$5\r\nkey:1\r\n";
    static const char  evalsha[] =
        "*6\r\n$7\r\nEVALSHA\r\n$40\r\n" TEST_SHA1 "\r\n$1\r\n1\r\n"
        "$9\r\nllm:rpm:a\r\n$2\r\n60\r\n$10\r\n1767225600\r\n";

    (void) state;

    argv[0].data = "GET";
    argv[0].len = 3;
    argv[1].data = "key:1";
    argv[1].len = 5;

    memset(buf, 0x5a, sizeof(buf));
    n = llm_resp_command(buf, sizeof(buf), argv, 2);

    assert_int_equal(n, TEST_LEN(get));
    assert_memory_equal(buf, get, n);
    assert_int_equal((unsigned char) buf[n], 0x5a);

    argv[0].data = "EVALSHA";
    argv[0].len = 7;
    argv[1].data = TEST_SHA1;
    argv[1].len = 40;
    argv[2].data = "1";
    argv[2].len = 1;
    argv[3].data = "llm:rpm:a";
    argv[3].len = 9;
    argv[4].data = "60";
    argv[4].len = 2;
    argv[5].data = "1767225600";
    argv[5].len = 10;

    n = llm_resp_command(buf, sizeof(buf), argv, 6);

    assert_int_equal(n, TEST_LEN(evalsha));
    assert_memory_equal(buf, evalsha, n);

    /* a command is an array of bulk strings to the parser too */

    assert_int_equal(llm_resp_parse(buf, n, &r), (long) n);
    assert_int_equal(r.type, '*');
    assert_int_equal(r.nitems, 6);
    assert_int_equal(r.item_types[0], '$');
    assert_int_equal(r.item_types[5], '$');

    /* no arguments */

    memset(buf, 0x5a, sizeof(buf));
    assert_int_equal(llm_resp_command(buf, sizeof(buf), argv, 0), 4);
    assert_memory_equal(buf, "*0\r\n", 4);
    assert_int_equal((unsigned char) buf[4], 0x5a);

    assert_int_equal(llm_resp_command(NULL, 0, argv, 0), 4);
    assert_int_equal(llm_resp_command(NULL, 0, NULL, 0), 4);
}


static void
test_resp_command_small(void **state)
{
    char                   buf[64];
    size_t                 need, size, i;
    llm_resp_arg_t         argv[2];

    (void) state;

    argv[0].data = "INCRBY";
    argv[0].len = 6;
    argv[1].data = "k";
    argv[1].len = 1;

    need = TEST_LEN("*2\r\n$6\r\nINCRBY\r\n$1\r\nk\r\n");

    assert_int_equal(llm_resp_command(NULL, 0, argv, 2), need);

    for (size = 0; size < need; size++) {
        memset(buf, 0x5a, sizeof(buf));

        assert_int_equal(llm_resp_command(buf, size, argv, 2), need);

        for (i = 0; i < sizeof(buf); i++) {
            assert_int_equal((unsigned char) buf[i], 0x5a);
        }
    }

    memset(buf, 0x5a, sizeof(buf));

    assert_int_equal(llm_resp_command(buf, need, argv, 2), need);
    assert_memory_equal(buf, "*2\r\n$6\r\nINCRBY\r\n$1\r\nk\r\n", need);
    assert_int_equal((unsigned char) buf[need], 0x5a);
}


static void
test_resp_command_args(void **state)
{
    char                  *buf, *big;
    size_t                 n, len;
    test_ctx_t            *ctx;
    llm_resp_arg_t         argv[4];
    llm_resp_reply_t       r;

    static const char  bin[] = "a\r\n\0b\r";
    static const char  want[] =
        "*4\r\n$3\r\nSET\r\n$0\r\n\r\n$6\r\na\r\n\0b\r\r\n$12345\r\n";

    ctx = *state;

    argv[0].data = "SET";
    argv[0].len = 3;
    argv[1].data = "";
    argv[1].len = 0;
    argv[2].data = bin;
    argv[2].len = TEST_LEN(bin);

    /* a long argument: a length of five digits */

    big = test_copy(ctx, NULL, 12345);
    memset(big, '\n', 12345);

    argv[3].data = big;
    argv[3].len = 12345;

    len = TEST_LEN(want) + 12345 + 2;

    assert_int_equal(llm_resp_command(NULL, 0, argv, 4), len);

    buf = test_copy(ctx, NULL, len);
    n = llm_resp_command(buf, len, argv, 4);

    assert_int_equal(n, len);
    assert_memory_equal(buf, want, TEST_LEN(want));
    assert_memory_equal(buf + TEST_LEN(want), big, 12345);
    assert_memory_equal(buf + len - 2, "\r\n", 2);

    /* the first three read back: the empty and the binary one whole */

    n = llm_resp_command(buf, len, argv, 3);
    assert_int_equal(llm_resp_parse(buf, n, &r), (long) n);
    assert_int_equal(r.nitems, 3);
    assert_int_equal(r.item_types[1], '$');
    assert_true(r.items[1] == 0);

    assert_int_equal(llm_resp_parse(buf + 13, n - 13, &r), 6);
    assert_int_equal(r.type, '$');
    assert_int_equal(r.len, 0);

    assert_int_equal(llm_resp_parse(buf + 19, n - 19, &r), 12);
    assert_int_equal(r.len, TEST_LEN(bin));
    assert_memory_equal(r.str, bin, TEST_LEN(bin));

    /* the long one is more than the parser takes */

    n = llm_resp_command(buf, len, argv + 3, 1);
    assert_int_equal(llm_resp_parse(buf, n, &r), -1);
}


void
test_resp_register(void)
{
    TEST_ADD(test_resp_valid);
    TEST_ADD(test_resp_back_to_back);
    TEST_ADD(test_resp_invalid);
    TEST_ADD(test_resp_long_lines);
    TEST_ADD(test_resp_command_bytes);
    TEST_ADD(test_resp_command_small);
    TEST_ADD(test_resp_command_args);
}
