
/*
 * ngx_http_llm_router_module: Redis's protocol (RESP2), the commands the
 * limits send and the replies they read.
 *
 * The encoder writes a command as an array of bulk strings, any bytes in
 * them.  The parser reads one reply at the start of a buffer in one pass,
 * without copying or allocating: strings are pointers into the buffer.
 * It is incremental in the simplest way: a reply that is not all there
 * yet gives 0 and is read again from its start when more bytes came
 * (replies are small: a few numbers, a short status or error line).  It
 * never looks at a byte past the buffer's end or past the reply.
 *
 * It takes only what the limits' commands get back, and bounds all of it,
 * so that a peer that is not Redis cannot make the caller buffer without
 * end: lines of at most LLM_RESP_MAX_BULK bytes, bulk strings of at most
 * LLM_RESP_MAX_BULK bytes, arrays of at most LLM_RESP_MAX_ITEMS items
 * that are not arrays.  Numbers are what Redis writes: an optional '-'
 * and digits, no leading zeros, no "-0", within long long.
 */


#include <limits.h>
#include <string.h>

#include "llm_internal.h"


#define LLM_RESP_BAD   -1
#define LLM_RESP_MORE   0
#define LLM_RESP_DONE   1


static size_t llm_resp_digits(size_t n);
static char *llm_resp_write(char *p, int type, size_t n);
static int llm_resp_number(const char **pos, const char *last,
    unsigned long long max, unsigned long long min, long long *value);
static int llm_resp_line(const char **pos, const char *last,
    const char **str, size_t *len);
static int llm_resp_value(const char **pos, const char *last, int type,
    long long *integer, const char **str, size_t *len);


size_t
llm_resp_command(char *buf, size_t size, const llm_resp_arg_t *argv,
    size_t argc)
{
    char    *p;
    size_t   i, need;

    /* "*<argc>\r\n", then "$<len>\r\n<arg>\r\n" for each */

    need = 1 + llm_resp_digits(argc) + 2;

    for (i = 0; i < argc; i++) {
        need += 1 + llm_resp_digits(argv[i].len) + 2 + argv[i].len + 2;
    }

    if (need > size) {
        return need;
    }

    p = llm_resp_write(buf, '*', argc);

    for (i = 0; i < argc; i++) {
        p = llm_resp_write(p, '$', argv[i].len);

        if (argv[i].len) {
            memcpy(p, argv[i].data, argv[i].len);
            p += argv[i].len;
        }

        *p++ = '\r';
        *p++ = '\n';
    }

    return need;
}


static size_t
llm_resp_digits(size_t n)
{
    size_t  d;

    for (d = 1; n >= 10; n /= 10) {
        d++;
    }

    return d;
}


/* "<type><n>\r\n" */

static char *
llm_resp_write(char *p, int type, size_t n)
{
    char   *q;
    size_t  d;

    *p++ = (char) type;

    d = llm_resp_digits(n);
    q = p + d;

    do {
        *--q = (char) ('0' + n % 10);
        n /= 10;
    } while (n);

    p += d;

    *p++ = '\r';
    *p++ = '\n';

    return p;
}


long
llm_resp_parse(const char *buf, size_t len, llm_resp_reply_t *reply)
{
    int          rc, type;
    size_t       i, n, slen;
    long long    count, v;
    const char  *p, *last, *str;

    if (len == 0) {
        return 0;
    }

    p = buf;
    last = buf + len;

    reply->type = *p++;
    reply->integer = 0;
    reply->str = NULL;
    reply->len = 0;
    reply->nitems = 0;

    if (reply->type != '*') {
        rc = llm_resp_value(&p, last, reply->type, &reply->integer,
                            &reply->str, &reply->len);

        return (rc == LLM_RESP_DONE) ? (long) (p - buf) : rc;
    }

    rc = llm_resp_number(&p, last, LLM_RESP_MAX_ITEMS, 1, &count);

    if (rc != LLM_RESP_DONE) {
        return rc;
    }

    if (count == -1) {
        return (long) (p - buf);              /* null array: str NULL */
    }

    n = (size_t) count;

    for (i = 0; i < n; i++) {
        if (p == last) {
            return LLM_RESP_MORE;
        }

        type = *p++;

        rc = llm_resp_value(&p, last, type, &v, &str, &slen);

        if (rc != LLM_RESP_DONE) {
            return rc;
        }

        reply->item_types[i] = type;

        if (type == ':') {
            reply->items[i] = v;

        } else {
            reply->items[i] = (type == '$' && str == NULL) ? -1 : 0;
        }
    }

    reply->str = buf;
    reply->nitems = n;

    return (long) (p - buf);
}


/*
 * A reply that is not an array, from the byte after its type to the byte
 * after its last "\r\n": *pos moves there when it is all there, and
 * *integer (':'), *str and *len ('+', '-', '$'; NULL for "$-1") are set.
 * An array ('*') is refused: one only comes at the top.
 */

static int
llm_resp_value(const char **pos, const char *last, int type,
    long long *integer, const char **str, size_t *len)
{
    int          rc;
    size_t       n;
    long long    v;
    const char  *p;

    switch (type) {

    case '+':
    case '-':
        return llm_resp_line(pos, last, str, len);

    case ':':
        return llm_resp_number(pos, last, LLONG_MAX,
                               (unsigned long long) LLONG_MAX + 1, integer);

    case '$':
        p = *pos;

        rc = llm_resp_number(&p, last, LLM_RESP_MAX_BULK, 1, &v);

        if (rc != LLM_RESP_DONE) {
            return rc;
        }

        if (v == -1) {
            *str = NULL;
            *len = 0;
            *pos = p;
            return LLM_RESP_DONE;
        }

        n = (size_t) v;

        /* the text, then "\r\n": each byte judged once it is there */

        if ((size_t) (last - p) <= n) {
            return LLM_RESP_MORE;
        }

        if (p[n] != '\r') {
            return LLM_RESP_BAD;
        }

        if ((size_t) (last - p) == n + 1) {
            return LLM_RESP_MORE;
        }

        if (p[n + 1] != '\n') {
            return LLM_RESP_BAD;
        }

        *str = p;
        *len = n;
        *pos = p + n + 2;

        return LLM_RESP_DONE;

    default:
        return LLM_RESP_BAD;
    }
}


/*
 * A simple string's or an error's line: up to LLM_RESP_MAX_BULK bytes
 * without '\r' or '\n', then "\r\n".
 */

static int
llm_resp_line(const char **pos, const char *last, const char **str,
    size_t *len)
{
    const char  *p, *end;

    p = *pos;

    end = p + LLM_RESP_MAX_BULK;

    if (end > last) {
        end = last;
    }

    for ( /* void */ ; p < end; p++) {
        if (*p == '\r' || *p == '\n') {
            break;
        }
    }

    if (p == last) {
        return LLM_RESP_MORE;
    }

    if (*p != '\r') {
        return LLM_RESP_BAD;                  /* '\n', or a line too long */
    }

    if (p + 1 == last) {
        return LLM_RESP_MORE;
    }

    if (p[1] != '\n') {
        return LLM_RESP_BAD;
    }

    *str = *pos;
    *len = (size_t) (p - *pos);
    *pos = p + 2;

    return LLM_RESP_DONE;
}


/*
 * A number's line: an optional '-', digits (no leading zero, "0" alone
 * excepted; no "-0"), "\r\n".  A value above max, or below -min, is
 * refused at the digit that takes it there.
 */

static int
llm_resp_number(const char **pos, const char *last, unsigned long long max,
    unsigned long long min, long long *value)
{
    int                  neg;
    unsigned             d;
    const char          *p;
    unsigned long long   n, limit;

    p = *pos;

    if (p == last) {
        return LLM_RESP_MORE;
    }

    neg = (*p == '-');

    if (neg) {
        if (++p == last) {
            return LLM_RESP_MORE;
        }
    }

    limit = neg ? min : max;

    d = (unsigned) (unsigned char) *p - '0';

    if (d > 9 || (d == 0 && neg)) {
        return LLM_RESP_BAD;                  /* empty, '+', ' ', "-0" */
    }

    n = d;
    p++;

    if (n > limit) {
        return LLM_RESP_BAD;
    }

    if (n != 0) {
        while (p < last) {
            d = (unsigned) (unsigned char) *p - '0';

            if (d > 9) {
                break;
            }

            if (n > (limit - d) / 10) {
                return LLM_RESP_BAD;
            }

            n = n * 10 + d;
            p++;
        }
    }

    if (p == last) {
        return LLM_RESP_MORE;
    }

    if (*p++ != '\r') {
        return LLM_RESP_BAD;
    }

    if (p == last) {
        return LLM_RESP_MORE;
    }

    if (*p++ != '\n') {
        return LLM_RESP_BAD;
    }

    *pos = p;

    /* -(n - 1) - 1: LLONG_MIN without an overflow */

    *value = neg ? -(long long) (n - 1) - 1 : (long long) n;

    return LLM_RESP_DONE;
}
