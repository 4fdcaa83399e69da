
/*
 * ngx_http_llm_router_module: libFuzzer target for Redis's protocol
 * (llm_resp.c).
 *
 * The input is parsed as a reply.  Beyond memory errors (ASan/UBSan: the
 * parser never reads past the buffer, every buffer is of its exact
 * length):
 *
 *   - a result n > 0 is at most the input's length, and the reply's
 *     fields hold together: a known type, strings inside the n bytes and
 *     at most LLM_RESP_MAX_BULK long, lines without '\r' or '\n', arrays
 *     of at most LLM_RESP_MAX_ITEMS items that are not arrays;
 *   - then every prefix shorter than n gives 0 (all of them up to 2048
 *     bytes, a sample beyond), and the n bytes alone give n again with
 *     the same fields: the bytes after the reply are not looked at;
 *   - a result 0 (not all there) is 0 for the prefixes too.
 *
 * The input is also cut into arguments (byte 0 says how many, 0 to 9,
 * then equal pieces of the rest) and encoded as a command: the encoder
 * returns the same length with no buffer, writes exactly that many bytes
 * into a larger one, the same bytes into one of exactly that size, and
 * nothing into one a byte too small.  The bytes are read back with a
 * reader of its own (the header line, then each argument's length and
 * bytes); when the parser can take them (at most LLM_RESP_MAX_ITEMS
 * arguments of at most LLM_RESP_MAX_BULK bytes) it reads an array of
 * argc bulk strings, and each item alone gives the argument's bytes.
 */


#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


#define FUZZ_ALL_PREFIXES  2048
#define FUZZ_MAX_ARGS      9


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void fuzz_check(int ok, const char *what);
static long fuzz_parse_copy(char *buf, size_t size, const char *data,
    size_t len, llm_resp_reply_t *reply);
static void fuzz_reply(const char *buf, long n, const llm_resp_reply_t *r);
static int fuzz_same(const char *a, const llm_resp_reply_t *ra,
    const char *b, const llm_resp_reply_t *rb);
static void fuzz_prefixes(const char *data, size_t n);
static void fuzz_command(const uint8_t *data, size_t size);
static size_t fuzz_read_len(const char *p, const char *last, int type,
    size_t *value);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long               n, m;
    char              *copy;
    const char        *buf;
    llm_resp_reply_t   r, again;

    buf = (const char *) data;

    n = llm_resp_parse(buf, size, &r);

    fuzz_check(n >= -1, "-1, 0 or a length");
    fuzz_check(n <= (long) size, "no more than the input");

    if (n > 0) {
        fuzz_reply(buf, n, &r);

        /* the reply's bytes alone: the same reply */

        copy = malloc((size_t) n);
        if (copy == NULL) {
            abort();
        }

        m = fuzz_parse_copy(copy, (size_t) n, buf, (size_t) n, &again);

        fuzz_check(m == n, "the reply alone: the same length");
        fuzz_check(fuzz_same(buf, &r, copy, &again),
                   "the reply alone: the same fields");

        free(copy);

        fuzz_prefixes(buf, (size_t) n);

    } else if (n == 0) {
        fuzz_prefixes(buf, size);
    }

    fuzz_command(data, size);

    return 0;
}


static void
fuzz_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_resp: invariant failed: %s\n", what);
        abort();
    }
}


/* data[0..len) copied to the end of buf (size bytes), and parsed there */

static long
fuzz_parse_copy(char *buf, size_t size, const char *data, size_t len,
    llm_resp_reply_t *reply)
{
    char  *p;

    p = buf + size - len;

    if (len) {
        memcpy(p, data, len);
    }

    return llm_resp_parse(p, len, reply);
}


static void
fuzz_reply(const char *buf, long n, const llm_resp_reply_t *r)
{
    size_t  i;

    switch (r->type) {

    case '+':
    case '-':
        fuzz_check(r->str != NULL, "a line has a string");
        fuzz_check(memchr(r->str, '\r', r->len) == NULL
                   && memchr(r->str, '\n', r->len) == NULL,
                   "a line without '\\r' or '\\n'");
        break;

    case ':':
        fuzz_check(r->str == NULL && r->len == 0, "an integer: no string");
        break;

    case '$':
        break;

    case '*':
        fuzz_check(r->str == NULL || r->str == buf, "an array's str");
        fuzz_check(r->len == 0, "an array: len 0");
        fuzz_check(r->nitems <= LLM_RESP_MAX_ITEMS, "at most 8 items");
        fuzz_check(r->str != NULL || r->nitems == 0, "a null array: empty");

        for (i = 0; i < r->nitems; i++) {
            fuzz_check(r->item_types[i] == '+' || r->item_types[i] == '-'
                       || r->item_types[i] == ':'
                       || r->item_types[i] == '$',
                       "an item's type");
            fuzz_check(r->item_types[i] == ':'
                       || r->items[i] == 0 || r->items[i] == -1,
                       "a string item: 0 or -1");
            fuzz_check(r->items[i] != -1 || r->item_types[i] != '+',
                       "-1: a null bulk string");
        }

        return;

    default:
        fuzz_check(0, "a known type");
    }

    fuzz_check(r->nitems == 0, "not an array: no items");

    if (r->str != NULL) {
        fuzz_check(r->str > buf && r->str + r->len <= buf + n,
                   "the string inside the reply");
        fuzz_check(r->len <= LLM_RESP_MAX_BULK, "at most 4096 bytes");

    } else {
        fuzz_check(r->len == 0, "no string: len 0");
    }
}


static int
fuzz_same(const char *a, const llm_resp_reply_t *ra, const char *b,
    const llm_resp_reply_t *rb)
{
    size_t  i;

    if (ra->type != rb->type
        || ra->integer != rb->integer
        || (ra->str == NULL) != (rb->str == NULL)
        || ra->len != rb->len
        || ra->nitems != rb->nitems)
    {
        return 0;
    }

    if (ra->str != NULL && ra->str - a != rb->str - b) {
        return 0;
    }

    for (i = 0; i < ra->nitems; i++) {
        if (ra->items[i] != rb->items[i]
            || ra->item_types[i] != rb->item_types[i])
        {
            return 0;
        }
    }

    return 1;
}


/*
 * Each prefix of data[0..n) shorter than n gives 0: all of them up to
 * FUZZ_ALL_PREFIXES bytes; beyond, the first and last 64 and 64 spread
 * between
 */

static void
fuzz_prefixes(const char *data, size_t n)
{
    char              *buf;
    size_t             k, step;
    llm_resp_reply_t   r;

    if (n == 0) {
        return;
    }

    buf = malloc(n);
    if (buf == NULL) {
        abort();
    }

    step = (n <= FUZZ_ALL_PREFIXES) ? 1 : n / 64;

    for (k = 0; k < n; k++) {
        if (k >= 64 && k + 64 < n && k % step != 0) {
            continue;
        }

        fuzz_check(fuzz_parse_copy(buf, n, data, k, &r) == 0,
                   "a prefix: not all there yet");
    }

    free(buf);
}


static void
fuzz_command(const uint8_t *data, size_t size)
{
    char              *big, *exact;
    size_t             argc, rest, i, need, n, len, off;
    const char        *p, *last;
    llm_resp_arg_t     argv[FUZZ_MAX_ARGS];
    llm_resp_reply_t   r;

    if (size == 0) {
        return;
    }

    argc = data[0] % (FUZZ_MAX_ARGS + 1);
    rest = size - 1;

    for (i = 0; i < argc; i++) {
        argv[i].data = (const char *) data + 1 + rest * i / argc;
        argv[i].len = rest * (i + 1) / argc - rest * i / argc;
    }

    need = llm_resp_command(NULL, 0, argv, argc);

    big = malloc(need + 16);
    exact = malloc(need);

    if (big == NULL || exact == NULL) {
        abort();
    }

    memset(big, 0x5a, need + 16);

    fuzz_check(llm_resp_command(big, need + 16, argv, argc) == need,
               "the same length in a larger buffer");

    for (i = need; i < need + 16; i++) {
        fuzz_check(big[i] == 0x5a, "no more than that written");
    }

    memset(exact, 0x5a, need);

    fuzz_check(llm_resp_command(exact, need - 1, argv, argc) == need,
               "a byte too small: the length");

    for (i = 0; i < need; i++) {
        fuzz_check(exact[i] == 0x5a, "a byte too small: nothing written");
    }

    fuzz_check(llm_resp_command(exact, need, argv, argc) == need,
               "the same length in an exact buffer");
    fuzz_check(memcmp(big, exact, need) == 0, "the same bytes");

    /* read back: "*<argc>\r\n", then "$<len>\r\n<bytes>\r\n" each */

    p = exact;
    last = exact + need;

    n = fuzz_read_len(p, last, '*', &len);
    fuzz_check(n > 0 && len == argc, "the header line");
    p += n;

    for (i = 0; i < argc; i++) {
        n = fuzz_read_len(p, last, '$', &len);
        fuzz_check(n > 0 && len == argv[i].len, "an argument's length");
        p += n;

        fuzz_check((size_t) (last - p) >= len + 2, "an argument's bytes");
        fuzz_check(len == 0 || memcmp(p, argv[i].data, len) == 0,
                   "an argument's bytes");
        fuzz_check(p[len] == '\r' && p[len + 1] == '\n', "its \\r\\n");
        p += len + 2;
    }

    fuzz_check(p == last, "nothing after the last argument");

    /* the parser's view, when it takes them */

    for (i = 0; i < argc; i++) {
        if (argv[i].len > LLM_RESP_MAX_BULK) {
            break;
        }
    }

    if (i == argc && argc <= LLM_RESP_MAX_ITEMS) {
        fuzz_check(llm_resp_parse(exact, need, &r) == (long) need,
                   "a command parses as one reply");
        fuzz_check(r.type == '*' && r.nitems == argc, "an array of argc");

        off = fuzz_read_len(exact, last, '*', &len);

        for (i = 0; i < argc; i++) {
            fuzz_check(r.item_types[i] == '$' && r.items[i] == 0,
                       "bulk string items");

            n = (size_t) llm_resp_parse(exact + off, need - off, &r);

            fuzz_check(n > 0 && r.type == '$' && r.str != NULL
                       && r.len == argv[i].len
                       && (r.len == 0
                           || memcmp(r.str, argv[i].data, r.len) == 0),
                       "each item alone: the argument");
            off += n;

            /* r is overwritten: the array again for the next item */

            (void) llm_resp_parse(exact, need, &r);
        }

        fuzz_check(off == need, "the items fill the command");
    }

    free(big);
    free(exact);
}


/* "<type><digits>\r\n" at p: its length, the number in *value; 0: not */

static size_t
fuzz_read_len(const char *p, const char *last, int type, size_t *value)
{
    const char  *q;
    size_t       v;

    if (p == last || *p != type) {
        return 0;
    }

    v = 0;

    for (q = p + 1; q < last && *q >= '0' && *q <= '9'; q++) {
        v = v * 10 + (size_t) (*q - '0');
    }

    if (q == p + 1 || last - q < 2 || q[0] != '\r' || q[1] != '\n') {
        return 0;
    }

    *value = v;

    return (size_t) (q + 2 - p);
}
