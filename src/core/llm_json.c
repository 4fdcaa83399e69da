
/*
 * ngx_http_llm_router_module: JSON helpers that work on raw bytes.
 */


#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"

#if defined(__SSE2__) && !defined(LLM_NO_SSE2)
#include <emmintrin.h>
#endif


#define LLM_JSON_ONES   0x0101010101010101ULL
#define LLM_JSON_HIGHS  0x8080808080808080ULL


typedef unsigned char  llm_uchar_t;


typedef enum {
    llm_jv_value = 0,
    llm_jv_first_key,
    llm_jv_key,
    llm_jv_first_value,
    llm_jv_after
} llm_jv_state_e;


static const llm_uchar_t *llm_json_skip_lax_ws(const llm_uchar_t *p,
    const llm_uchar_t *last);
static const llm_uchar_t *llm_json_check_string(const llm_uchar_t *p,
    const llm_uchar_t *last);
static const llm_uchar_t *llm_json_check_literal(const llm_uchar_t *p,
    const llm_uchar_t *last);
static const llm_uchar_t *llm_json_skip_string(const llm_uchar_t *p,
    const llm_uchar_t *last);
static inline const llm_uchar_t *llm_json_ws(const llm_uchar_t *p,
    const llm_uchar_t *last);
static inline const llm_uchar_t *llm_json_number(const llm_uchar_t *p,
    const llm_uchar_t *last);
static char *llm_json_print_to(llm_json_writer_pt write, const void *data,
    size_t hint, llm_json_splices_t *sp, llm_pool_t *pool, size_t *len);
static void llm_json_print_tree(llm_out_t *out, llm_json_splices_t *sp,
    const void *data);
static void llm_json_print_item(llm_out_t *out, const cJSON *item,
    llm_json_splices_t *sp);


static const char  llm_hex[] = "0123456789abcdef";


/* the bytes that open or close a string, an array or an object */

static const unsigned char  llm_json_structural[256] = {
    ['"'] = 1, ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1
};


#if defined(__SSE2__) && !defined(LLM_NO_SSE2)

/*
 * The bytes of v that do not stand for themselves in a JSON string, as
 * 0xff: with k02, k21 and bs as set below.  As signed bytes, everything
 * at or above 0x80 is below 0x20 too; x ^ 0x02 turns '"' (0x22) into
 * 0x20 and keeps every byte below 0x20 there, so one signed compare,
 * (x ^ 0x02) < 0x21, finds control bytes, non-ASCII and '"' at once.
 */

#define llm_json_special(v)                                                   \
    _mm_or_si128(_mm_cmpgt_epi8(k21, _mm_xor_si128(v, k02)),                   \
                 _mm_cmpeq_epi8(v, bs))

/* 64 bytes at p into x, y, z, w; then whether any of them is special */

#define llm_json_load64(p)                                                    \
    x = _mm_loadu_si128((const __m128i *) (p));                               \
    y = _mm_loadu_si128((const __m128i *) ((p) + 16));                        \
    z = _mm_loadu_si128((const __m128i *) ((p) + 32));                        \
    w = _mm_loadu_si128((const __m128i *) ((p) + 48))

#define llm_json_special64()                                                  \
    _mm_movemask_epi8(_mm_or_si128(                                           \
        _mm_or_si128(llm_json_special(x), llm_json_special(y)),               \
        _mm_or_si128(llm_json_special(z), llm_json_special(w))))

#endif


size_t
llm_json_plain_run(const unsigned char *p, size_t len)
{
    const llm_uchar_t  *s, *last;
#if defined(__SSE2__) && !defined(LLM_NO_SSE2)
    int                 m;
    __m128i             x, y, z, w, k02, k21, bs;
#else
    uint64_t            x, q, b, c;
#endif

    s = p;
    last = p + len;

#if defined(__SSE2__) && !defined(LLM_NO_SSE2)

    /*
     * Sixteen bytes at a time; after a first plain sixteen (short strings
     * end there), long runs are checked 64 bytes a step.
     */

    k02 = _mm_set1_epi8(0x02);
    k21 = _mm_set1_epi8(0x21);
    bs = _mm_set1_epi8('\\');

    if (last - p >= 16) {
        x = _mm_loadu_si128((const __m128i *) p);

        m = _mm_movemask_epi8(llm_json_special(x));

        if (m != 0) {
            return (size_t) __builtin_ctz((unsigned) m);
        }

        p += 16;
    }

    while (last - p >= 64) {
        llm_json_load64(p);

        if (llm_json_special64() != 0) {
            break;
        }

        p += 64;
    }

    while (last - p >= 16) {
        x = _mm_loadu_si128((const __m128i *) p);

        m = _mm_movemask_epi8(llm_json_special(x));

        if (m != 0) {
            return (size_t) (p - s) + (size_t) __builtin_ctz((unsigned) m);
        }

        p += 16;
    }

#else

    /* eight bytes at a time: no '"' or '\\', nothing below 0x20 or over 0x7f */

    while (last - p >= 8) {
        memcpy(&x, p, 8);

        q = x ^ (LLM_JSON_ONES * '"');
        b = x ^ (LLM_JSON_ONES * '\\');

        c = ((q - LLM_JSON_ONES) & ~q)
            | ((b - LLM_JSON_ONES) & ~b)
            | ((x - LLM_JSON_ONES * 0x20) & ~x)
            | x;

        if (c & LLM_JSON_HIGHS) {
            break;
        }

        p += 8;
    }

#endif

    while (p < last && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
        p++;
    }

    return (size_t) (p - s);
}


size_t
llm_json_plain_copy(unsigned char *d, const unsigned char *p, size_t len)
{
#if defined(__SSE2__) && !defined(LLM_NO_SSE2)
    int                 m;
    __m128i             x, y, z, w, k02, k21, bs;
    const llm_uchar_t  *s, *last;

    s = p;
    last = p + len;

    k02 = _mm_set1_epi8(0x02);
    k21 = _mm_set1_epi8(0x21);
    bs = _mm_set1_epi8('\\');

    /*
     * each vector is stored before it is checked: the bytes past the run
     * are written too, never past d + len
     */

    while (last - p >= 64) {
        llm_json_load64(p);

        _mm_storeu_si128((__m128i *) d, x);
        _mm_storeu_si128((__m128i *) (d + 16), y);
        _mm_storeu_si128((__m128i *) (d + 32), z);
        _mm_storeu_si128((__m128i *) (d + 48), w);

        if (llm_json_special64() != 0) {
            break;
        }

        p += 64;
        d += 64;
    }

    while (last - p >= 16) {
        x = _mm_loadu_si128((const __m128i *) p);
        _mm_storeu_si128((__m128i *) d, x);

        m = _mm_movemask_epi8(llm_json_special(x));

        if (m != 0) {
            return (size_t) (p - s) + (size_t) __builtin_ctz((unsigned) m);
        }

        p += 16;
        d += 16;
    }

    while (p < last && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
        *d++ = *p++;
    }

    return (size_t) (p - s);

#else

    size_t  n;

    n = llm_json_plain_run(p, len);
    memcpy(d, p, n);

    return n;

#endif
}


#if defined(__SSE2__) && !defined(LLM_NO_SSE2)
#undef llm_json_special
#undef llm_json_load64
#undef llm_json_special64
#endif


void *
llm_palloc(llm_pool_t *pool, size_t size)
{
    if (pool == NULL || pool->alloc == NULL) {
        return NULL;
    }

    return pool->alloc(pool->data, size == 0 ? 1 : size);
}


char *
llm_pstrdup(llm_pool_t *pool, const char *s, size_t len)
{
    char  *d;

    if (len + 1 == 0) {
        return NULL;
    }

    d = llm_palloc(pool, len + 1);
    if (d == NULL) {
        return NULL;
    }

    if (len) {
        memcpy(d, s, len);
    }

    d[len] = '\0';

    return d;
}


void
llm_out_raw(llm_out_t *out, const char *s, size_t len)
{
    if (out->buf != NULL && out->len <= out->size
        && len <= out->size - out->len)
    {
        memcpy(out->buf + out->len, s, len);
    }

    out->len += len;
}


void
llm_out_cstr(llm_out_t *out, const char *s)
{
    llm_out_raw(out, s, strlen(s));
}


void
llm_out_str(llm_out_t *out, const char *s, size_t len)
{
    llm_out_raw(out, "\"", 1);
    llm_out_escaped(out, s, len);
    llm_out_raw(out, "\"", 1);
}


void
llm_out_escaped(llm_out_t *out, const char *s, size_t len)
{
    size_t  n;

    if (out->buf != NULL && out->len <= out->size) {
        n = llm_json_escape(out->buf + out->len, out->size - out->len,
                            s, len);

    } else {
        n = llm_json_escape(NULL, 0, s, len);
    }

    out->len += n;
}


void
llm_out_nstr(llm_out_t *out, const char *s)
{
    if (s == NULL) {
        s = "";
    }

    llm_out_str(out, s, strlen(s));
}


void
llm_out_int(llm_out_t *out, long long n)
{
    char                buf[24], *p;
    unsigned long long  u;

    u = (n < 0) ? 0 - (unsigned long long) n : (unsigned long long) n;
    p = buf + sizeof(buf);

    do {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    } while (u);

    if (n < 0) {
        *--p = '-';
    }

    llm_out_raw(out, p, (size_t) (buf + sizeof(buf) - p));
}


char *
llm_out_alloc(llm_out_t *out, llm_pool_t *pool)
{
    if (out->len + 1 == 0) {
        return NULL;
    }

    out->buf = llm_palloc(pool, out->len + 1);
    if (out->buf == NULL) {
        return NULL;
    }

    out->size = out->len;
    out->len = 0;

    return out->buf;
}


size_t
llm_utf8_len(const unsigned char *p, size_t len)
{
    size_t       n, i;
    llm_uchar_t  c, lo, hi;

    if (len == 0) {
        return 0;
    }

    c = p[0];

    if (c < 0x80) {
        return 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;

        if (c == 0xe0) {
            lo = 0xa0;                       /* overlong */

        } else if (c == 0xed) {
            hi = 0x9f;                       /* UTF-16 surrogates */
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;

        if (c == 0xf0) {
            lo = 0x90;                       /* overlong */

        } else if (c == 0xf4) {
            hi = 0x8f;                       /* above U+10FFFF */
        }

    } else {
        return 0;
    }

    if (len < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
    }

    return n;
}


size_t
llm_utf8_trim(const char *s, size_t len)
{
    size_t              k, need;
    const llm_uchar_t  *p;

    p = (const llm_uchar_t *) s;

    for (k = 0; k < 4 && k < len; k++) {
        if ((p[len - 1 - k] & 0xc0) != 0x80) {
            break;
        }
    }

    if (k == len || k == 4) {
        return len;
    }

    /* p[len - 1 - k] is the last byte that is not a continuation byte */

    if (p[len - 1 - k] >= 0xf0) {
        need = 4;

    } else if (p[len - 1 - k] >= 0xe0) {
        need = 3;

    } else if (p[len - 1 - k] >= 0xc0) {
        need = 2;

    } else {
        return len;
    }

    if (need > k + 1) {
        return len - 1 - k;
    }

    return len;
}


size_t
llm_json_escape(char *dst, size_t size, const char *src, size_t len)
{
    int                 stop, plain;
    char                buf[6];
    size_t              need, n;
    const char         *s;
    const llm_uchar_t  *p, *last;

    need = 0;
    stop = (dst == NULL);

    p = (const llm_uchar_t *) src;
    last = p + len;

    while (p < last) {
        n = llm_json_plain_run(p, (size_t) (last - p));
        plain = (n != 0);

        if (n) {
            s = (const char *) p;
            p += n;

        } else if (*p == '"' || *p == '\\') {
            s = buf;
            buf[0] = '\\';
            buf[1] = (char) *p;
            n = 2;
            p++;

        } else if (*p < 0x20) {
            s = buf;
            buf[0] = '\\';
            n = 2;

            switch (*p) {
            case '\b':
                buf[1] = 'b';
                break;
            case '\f':
                buf[1] = 'f';
                break;
            case '\n':
                buf[1] = 'n';
                break;
            case '\r':
                buf[1] = 'r';
                break;
            case '\t':
                buf[1] = 't';
                break;
            default:
                buf[1] = 'u';
                buf[2] = '0';
                buf[3] = '0';
                buf[4] = llm_hex[*p >> 4];
                buf[5] = llm_hex[*p & 0x0f];
                n = 6;
            }

            p++;

        } else {
            n = llm_utf8_len(p, last - p);

            if (n == 0) {
                s = "\\ufffd";
                n = 6;
                p++;

            } else {
                s = (const char *) p;
                p += n;
            }
        }

        if (!stop) {
            if (n <= size - need) {
                memcpy(dst + need, s, n);

            } else {
                /* a plain run is made of one-byte sequences: what fits */

                if (plain) {
                    memcpy(dst + need, s, size - need);
                }

                stop = 1;
            }
        }

        need += n;
    }

    return need;
}


const unsigned char *
llm_json_skip_ws(const unsigned char *p, const unsigned char *last)
{
    while (p < last
           && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    return p;
}


static const llm_uchar_t *
llm_json_skip_lax_ws(const llm_uchar_t *p, const llm_uchar_t *last)
{
    /* what cJSON skips */

    while (p < last && *p <= 0x20) {
        p++;
    }

    return p;
}


int
llm_json_hex4(const unsigned char *p, const unsigned char *last,
    unsigned *v)
{
    size_t       i;
    unsigned     r;
    llm_uchar_t  c;

    if (last - p < 4) {
        return LLM_ERROR;
    }

    r = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            r = r * 16 + (c - '0');

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            r = r * 16 + ((c | 0x20) - 'a' + 10);

        } else {
            return LLM_ERROR;
        }
    }

    *v = r;

    return LLM_OK;
}


/* p is past the opening quote; returns past the closing quote or NULL */

static const llm_uchar_t *
llm_json_check_string(const llm_uchar_t *p, const llm_uchar_t *last)
{
    size_t    n;
    unsigned  v;

    while (p < last) {

        /* plain ASCII, the bulk of any prompt */

        p += llm_json_plain_run(p, (size_t) (last - p));

        if (p == last) {
            break;
        }

        if (*p == '"') {
            return p + 1;
        }

        if (*p < 0x20) {
            return NULL;
        }

        if (*p == '\\') {
            if (last - p < 2) {
                return NULL;
            }

            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                p += 2;
                continue;

            case 'u':
                if (llm_json_hex4(p + 2, last, &v) != LLM_OK) {
                    return NULL;
                }

                p += 6;
                continue;

            default:
                return NULL;
            }
        }

        n = llm_utf8_len(p, last - p);
        if (n == 0) {
            return NULL;
        }

        p += n;
    }

    return NULL;
}


/*
 * The module is built as position-independent code: the scanners of
 * this file call their own inline copies, not the exported functions.
 */

static inline const llm_uchar_t *
llm_json_ws(const llm_uchar_t *p, const llm_uchar_t *last)
{
    while (p < last
           && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    return p;
}


static inline const llm_uchar_t *
llm_json_number(const llm_uchar_t *p, const llm_uchar_t *last)
{
    if (p < last && *p == '-') {
        p++;
    }

    if (p == last) {
        return NULL;
    }

    if (*p == '0') {
        p++;

    } else if (*p >= '1' && *p <= '9') {
        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

    } else {
        return NULL;
    }

    if (p < last && *p == '.') {
        p++;

        if (p == last || *p < '0' || *p > '9') {
            return NULL;
        }

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < last && (*p == 'e' || *p == 'E')) {
        p++;

        if (p < last && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == last || *p < '0' || *p > '9') {
            return NULL;
        }

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    return p;
}


const unsigned char *
llm_json_number_end(const unsigned char *p, const unsigned char *last)
{
    return llm_json_number(p, last);
}


static const llm_uchar_t *
llm_json_check_literal(const llm_uchar_t *p, const llm_uchar_t *last)
{
    size_t       n;
    const char  *lit;

    switch (*p) {
    case 't':
        lit = "true";
        n = 4;
        break;
    case 'f':
        lit = "false";
        n = 5;
        break;
    case 'n':
        lit = "null";
        n = 4;
        break;
    default:
        return NULL;
    }

    if ((size_t) (last - p) < n || memcmp(p, lit, n) != 0) {
        return NULL;
    }

    return p + n;
}


int
llm_json_validate(const char *json, size_t len, size_t *off)
{
    size_t              depth;
    llm_uchar_t         stack[LLM_JSON_MAX_DEPTH / 8 + 1];
    llm_jv_state_e      state;
    const llm_uchar_t  *p, *q, *start, *last;

    start = (const llm_uchar_t *) json;
    p = start;
    last = p + len;
    depth = 0;
    state = llm_jv_value;

    memset(stack, 0, sizeof(stack));

    for ( ;; ) {
        p = llm_json_ws(p, last);

        if (p == last) {
            if (state == llm_jv_after && depth == 0) {
                return LLM_OK;
            }

            goto failed;
        }

        switch (state) {

        case llm_jv_first_value:
            if (*p == ']') {
                p++;
                depth--;
                state = llm_jv_after;
                break;
            }

            /* fall through */

        case llm_jv_value:
            if (*p == '{' || *p == '[') {
                if (depth == LLM_JSON_MAX_DEPTH) {
                    goto failed;
                }

                if (*p == '{') {
                    stack[depth / 8] |= (llm_uchar_t) (1u << (depth % 8));
                    state = llm_jv_first_key;

                } else {
                    stack[depth / 8] &= (llm_uchar_t) ~(1u << (depth % 8));
                    state = llm_jv_first_value;
                }

                depth++;
                p++;
                break;
            }

            if (*p == '"') {
                q = llm_json_check_string(p + 1, last);

            } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
                q = llm_json_number(p, last);

                /*
                 * an array of numbers (an embedding), "1,2" or "1, 2",
                 * in one loop
                 */

                while (q != NULL && last - q > 2 && *q == ',' && depth > 0
                       && !(stack[(depth - 1) / 8]
                            & (1u << ((depth - 1) % 8))))
                {
                    p = q + 1;

                    if (*p == ' ') {
                        p++;
                    }

                    if (*p != '-' && (*p < '0' || *p > '9')) {
                        break;
                    }

                    q = llm_json_number(p, last);
                }

            } else {
                q = llm_json_check_literal(p, last);
            }

            if (q == NULL) {
                goto failed;
            }

            p = q;
            state = llm_jv_after;
            break;

        case llm_jv_first_key:
            if (*p == '}') {
                p++;
                depth--;
                state = llm_jv_after;
                break;
            }

            /* fall through */

        case llm_jv_key:
            if (*p != '"') {
                goto failed;
            }

            q = llm_json_check_string(p + 1, last);
            if (q == NULL) {
                goto failed;
            }

            p = llm_json_ws(q, last);

            if (p == last || *p != ':') {
                goto failed;
            }

            p++;
            state = llm_jv_value;
            break;

        case llm_jv_after:
            if (depth == 0) {
                goto failed;
            }

            if (stack[(depth - 1) / 8] & (1u << ((depth - 1) % 8))) {
                if (*p == '}') {
                    depth--;

                } else if (*p == ',') {
                    state = llm_jv_key;

                } else {
                    goto failed;
                }

            } else {
                if (*p == ']') {
                    depth--;

                } else if (*p == ',') {
                    state = llm_jv_value;

                } else {
                    goto failed;
                }
            }

            p++;
            break;
        }
    }

failed:

    if (off != NULL) {
        *off = (size_t) (p - start);
    }

    return LLM_ERROR;
}


/* p is past the opening quote; returns past the closing quote or NULL */

static const llm_uchar_t *
llm_json_skip_string(const llm_uchar_t *p, const llm_uchar_t *last)
{
    while (p < last) {

        /* a prompt before "model" is skipped sixteen bytes at a time */

        p += llm_json_plain_run(p, (size_t) (last - p));

        if (p == last) {
            break;
        }

        if (*p == '"') {
            return p + 1;
        }

        if (*p == '\\') {
            if (last - p < 2) {
                return NULL;
            }

            p += 2;
            continue;
        }

        p++;
    }

    return NULL;
}


const llm_uchar_t *
llm_json_skip_value(const llm_uchar_t *p, const llm_uchar_t *last)
{
    size_t  depth;

    if (p == last) {
        return NULL;
    }

    if (*p == '"') {
        return llm_json_skip_string(p + 1, last);
    }

    if (*p != '{' && *p != '[') {

        /* number or literal */

        while (p < last && *p > 0x20 && *p != ',' && *p != '}' && *p != ']'
               && *p != ':' && *p != '"' && *p != '{' && *p != '[')
        {
            p++;
        }

        return p;
    }

    depth = 0;

    while (p < last) {

        /* an array of numbers (an embedding) is most of what is skipped */

        p = llm_json_flat(p, last);

        if (p == last) {
            break;
        }

        switch (*p) {

        case '"':
            p = llm_json_skip_string(p + 1, last);
            if (p == NULL) {
                return NULL;
            }

            continue;

        case '{':
        case '[':
            depth++;
            break;

        case '}':
        case ']':
            if (--depth == 0) {
                return p + 1;
            }

            break;
        }

        p++;
    }

    return NULL;
}


const llm_uchar_t *
llm_json_flat(const llm_uchar_t *p, const llm_uchar_t *last)
{
#if defined(__SSE2__) && !defined(LLM_NO_SSE2)
    int      m;
    __m128i  x, k20, kf9, k79, kq;

    /*
     * (x | 0x20) & 0xf9 is 0x79 for the four brackets, and for 'Y', 'y',
     * '_' and DEL, which are then passed one by one
     */

    k20 = _mm_set1_epi8(0x20);
    kf9 = _mm_set1_epi8((char) 0xf9);
    k79 = _mm_set1_epi8(0x79);
    kq = _mm_set1_epi8('"');

    while (last - p >= 16) {
        x = _mm_loadu_si128((const __m128i *) p);

        m = _mm_movemask_epi8(_mm_or_si128(
                _mm_cmpeq_epi8(_mm_and_si128(_mm_or_si128(x, k20), kf9), k79),
                _mm_cmpeq_epi8(x, kq)));

        if (m == 0) {
            p += 16;
            continue;
        }

        p += __builtin_ctz((unsigned) m);

        if (llm_json_structural[*p]) {
            return p;
        }

        p++;
    }
#endif

    while (p < last && !llm_json_structural[*p]) {
        p++;
    }

    return p;
}


const llm_uchar_t *
llm_json_valid_numbers(const llm_uchar_t *p, const llm_uchar_t *last,
    size_t *n)
{
    size_t              commas;
    const llm_uchar_t  *start;
#if defined(__SSE2__) && !defined(LLM_NO_SSE2)
    int                 end, bad, comma, steps;
    __m128i             x, lx, k20, kq, ko, kc, kt, kf, kn, kcomma, kend;
    __m128i             acc, zero;
#endif

    *n = 0;

    p = llm_json_skip_ws(p, last);

    if (p == last || *p != '[') {
        return NULL;
    }

    start = ++p;
    commas = 0;

#if defined(__SSE2__) && !defined(LLM_NO_SSE2)

    /*
     * In valid JSON, an array whose text has no '"', '[', '{', '}' and no
     * literal ('t', 'f', 'n') before its ']' holds numbers only, one more
     * than its commas
     */

    k20 = _mm_set1_epi8(0x20);
    kq = _mm_set1_epi8('"');
    ko = _mm_set1_epi8('{');
    kc = _mm_set1_epi8('}');
    kt = _mm_set1_epi8('t');
    kf = _mm_set1_epi8('f');
    kn = _mm_set1_epi8('n');
    kcomma = _mm_set1_epi8(',');
    kend = _mm_set1_epi8(']');
    zero = _mm_setzero_si128();

    /* commas counted per byte lane, summed every 255 steps and at the end */

    acc = zero;
    steps = 0;

    while (last - p >= 16) {
        x = _mm_loadu_si128((const __m128i *) p);
        lx = _mm_or_si128(x, k20);

        bad = _mm_movemask_epi8(_mm_or_si128(
                  _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, kq),
                                            _mm_cmpeq_epi8(lx, ko)),
                               _mm_or_si128(_mm_cmpeq_epi8(x, kc),
                                            _mm_cmpeq_epi8(lx, kt))),
                  _mm_or_si128(_mm_cmpeq_epi8(lx, kf),
                               _mm_cmpeq_epi8(lx, kn))));
        end = _mm_movemask_epi8(_mm_cmpeq_epi8(x, kend));

        if (end != 0) {
            end = __builtin_ctz((unsigned) end);

            if (bad & ((1 << end) - 1)) {
                return NULL;
            }

            comma = _mm_movemask_epi8(_mm_cmpeq_epi8(x, kcomma))
                    & ((1 << end) - 1);

            for ( /* void */ ; comma; comma &= comma - 1) {
                commas++;
            }

            p += end;

            break;
        }

        if (bad) {
            return NULL;
        }

        acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(x, kcomma));

        if (++steps == 255) {
            acc = _mm_sad_epu8(acc, zero);
            commas += (size_t) _mm_cvtsi128_si32(acc)
                      + (size_t) _mm_cvtsi128_si32(_mm_srli_si128(acc, 8));
            acc = zero;
            steps = 0;
        }

        p += 16;
    }

    acc = _mm_sad_epu8(acc, zero);
    commas += (size_t) _mm_cvtsi128_si32(acc)
              + (size_t) _mm_cvtsi128_si32(_mm_srli_si128(acc, 8));

    if (p < last && *p == ']') {
        goto done;
    }

#endif

    for ( /* void */ ; p < last && *p != ']'; p++) {
        switch (*p | 0x20) {
        case '"':
        case '{':
        case '}':
        case 't':
        case 'f':
        case 'n':
            return NULL;

        case ',':
            if (*p == ',') {
                commas++;
            }

            break;
        }
    }

    if (p == last) {
        return NULL;
    }

#if defined(__SSE2__) && !defined(LLM_NO_SSE2)
done:
#endif

    /* "[]" or "[ ]": no number */

    if (commas == 0 && llm_json_skip_ws(start, p) == p) {
        return p + 1;
    }

    *n = commas + 1;

    return p + 1;
}


int
llm_json_key_eq(const llm_uchar_t *p, const llm_uchar_t *last,
    const char *name)
{
    unsigned  c;

    while (p < last) {
        c = *p++;

        if (c == '\\') {
            if (p == last) {
                return 0;
            }

            c = *p++;

            switch (c) {
            case 'u':
                if (llm_json_hex4(p, last, &c) != LLM_OK) {
                    return 0;
                }

                p += 4;

                if (c >= 0x80) {
                    /* names are ASCII */
                    return 0;
                }

                break;

            default:
                c = llm_json_escaped_byte(c);
                break;
            }
        }

        if (c == 0) {
            /* cJSON keys are C strings: an escaped NUL ends them */
            return *name == '\0';
        }

        if ((unsigned char) *name != c) {
            return 0;
        }

        name++;
    }

    return *name == '\0';
}


int
llm_json_object_open(const char *json, size_t len, size_t *pos, int *empty)
{
    const llm_uchar_t  *p, *q, *start, *last;

    start = (const llm_uchar_t *) json;
    last = start + len;

    p = llm_json_skip_lax_ws(start, last);

    if (p == last || *p != '{') {
        return LLM_ERROR;
    }

    p++;
    q = llm_json_skip_lax_ws(p, last);

    *pos = (size_t) (p - start);
    *empty = (q < last && *q == '}');

    return LLM_OK;
}


int
llm_json_member(const char *json, size_t len, const char *name,
    llm_json_span_t *span)
{
    const char  *names[2];

    names[0] = name;
    names[1] = NULL;

    if (llm_json_members(json, len, names, span) != LLM_OK) {
        return LLM_ERROR;
    }

    return (span->end != 0) ? LLM_OK : LLM_DECLINED;
}


int
llm_json_members(const char *json, size_t len, const char *const *names,
    llm_json_span_t *spans)
{
    size_t              i, left;
    const llm_uchar_t  *p, *k, *ke, *v, *start, *last;

    start = (const llm_uchar_t *) json;
    last = start + len;

    left = 0;

    for (i = 0; names[i] != NULL; i++) {
        spans[i].key = 0;
        spans[i].value = 0;
        spans[i].end = 0;
        left++;
    }

    p = llm_json_skip_lax_ws(start, last);

    if (p == last || *p != '{') {
        return LLM_ERROR;
    }

    p++;

    for ( ;; ) {
        p = llm_json_skip_lax_ws(p, last);

        if (p == last || *p == '}') {
            return LLM_OK;
        }

        if (*p != '"') {
            return LLM_ERROR;
        }

        k = p;

        ke = llm_json_skip_string(k + 1, last);
        if (ke == NULL) {
            return LLM_ERROR;
        }

        p = llm_json_skip_lax_ws(ke, last);

        if (p == last || *p != ':') {
            return LLM_ERROR;
        }

        v = llm_json_skip_lax_ws(p + 1, last);

        p = llm_json_skip_value(v, last);
        if (p == NULL || p == v) {
            return LLM_ERROR;
        }

        for (i = 0; names[i] != NULL; i++) {
            if (spans[i].end == 0
                && llm_json_key_eq(k + 1, ke - 1, names[i]))
            {
                spans[i].key = (size_t) (k - start);
                spans[i].value = (size_t) (v - start);
                spans[i].end = (size_t) (p - start);

                if (--left == 0) {
                    return LLM_OK;
                }

                break;
            }
        }

        p = llm_json_skip_lax_ws(p, last);

        if (p == last || *p == '}') {
            return LLM_OK;
        }

        if (*p != ',') {
            return LLM_ERROR;
        }

        p++;
    }
}


cJSON *
llm_json_add_ref(cJSON *obj, const char *name, const char *s)
{
    cJSON  *item;

    item = cJSON_CreateStringReference(s);

    if (item == NULL || !cJSON_AddItemToObject(obj, name, item)) {
        cJSON_Delete(item);
        return NULL;
    }

    return item;
}


char *
llm_json_print(const cJSON *item, llm_pool_t *pool, size_t *len)
{
    /* the two passes of llm_out_t: measure, then write */

    return llm_json_print_to(llm_json_print_tree, item, 0, NULL, pool, len);
}


char *
llm_json_print_size(const cJSON *item, size_t hint, llm_pool_t *pool,
    size_t *len)
{
    return llm_json_print_to(llm_json_print_tree, item, hint, NULL, pool,
                             len);
}


int
llm_json_print_body(const cJSON *root, size_t hint,
    const llm_json_refs_t *refs, llm_pool_t *pool, llm_http_request_t *out)
{
    return llm_json_write_body(llm_json_print_tree, root, hint, refs, pool,
                               out);
}


int
llm_json_write_body(llm_json_writer_pt write, const void *data, size_t hint,
    const llm_json_refs_t *refs, llm_pool_t *pool, llm_http_request_t *out)
{
    char                *buf;
    size_t               i, pos, len;
    llm_json_splices_t   sp;

    sp.refs = refs;
    sp.n = 0;

    buf = llm_json_print_to(write, data, hint,
                            (refs != NULL && refs->n) ? &sp : NULL,
                            pool, &len);
    if (buf == NULL) {
        out->body = NULL;
        out->body_len = 0;
        out->nparts = 0;
        return LLM_ERROR;
    }

    out->nparts = 0;

    if (sp.n == 0) {
        out->body = buf;
        out->body_len = len;
        return LLM_OK;
    }

    /* the printed text cut where the client's bytes go in */

    out->body = NULL;
    out->body_len = len;

    pos = 0;

    for (i = 0; i < sp.n; i++) {
        out->parts[out->nparts].data = buf + pos;
        out->parts[out->nparts].len = sp.at[i] - pos;
        out->nparts++;

        out->parts[out->nparts].data = sp.ref[i]->raw;
        out->parts[out->nparts].len = sp.ref[i]->len;
        out->nparts++;

        out->body_len += sp.ref[i]->len;
        pos = sp.at[i];
    }

    out->parts[out->nparts].data = buf + pos;
    out->parts[out->nparts].len = len - pos;
    out->nparts++;

    return LLM_OK;
}


static char *
llm_json_print_to(llm_json_writer_pt write, const void *data, size_t hint,
    llm_json_splices_t *sp, llm_pool_t *pool, size_t *len)
{
    llm_out_t  out;

    if (hint == 0 || hint + 1 == 0) {
        memset(&out, 0, sizeof(llm_out_t));

        write(&out, sp, data);

        if (sp != NULL) {
            sp->n = 0;
        }

    } else {
        out.buf = llm_palloc(pool, hint + 1);
        if (out.buf == NULL) {
            return NULL;
        }

        out.size = hint;
        out.len = 0;

        write(&out, sp, data);

        if (out.len <= out.size) {
            goto done;
        }

        /*
         * nothing was written after the first piece that did not fit, and
         * out.len is the length of the whole text: the second pass
         */

        if (sp != NULL) {
            sp->n = 0;
        }
    }

    if (llm_out_alloc(&out, pool) == NULL) {
        return NULL;
    }

    write(&out, sp, data);

done:

    out.buf[out.len] = '\0';

    if (len != NULL) {
        *len = out.len;
    }

    return out.buf;
}


/* the llm_json_writer_pt of a cJSON tree */

static void
llm_json_print_tree(llm_out_t *out, llm_json_splices_t *sp,
    const void *data)
{
    llm_json_print_item(out, data, sp);
}


void
llm_json_out_ref(llm_out_t *out, llm_json_splices_t *sp, const char *s)
{
    size_t  i;

    if (sp != NULL && sp->n < LLM_JSON_REFS) {
        for (i = 0; i < sp->refs->n; i++) {
            if (sp->refs->ref[i].value == s) {
                llm_out_raw(out, "\"", 1);
                sp->at[sp->n] = out->len;
                sp->ref[sp->n++] = &sp->refs->ref[i];
                llm_out_raw(out, "\"", 1);
                return;
            }
        }
    }

    llm_out_nstr(out, s);
}


/*
 * The printer writes nothing after the first piece that does not fit, and
 * of a string only whole escape sequences and whole UTF-8 characters
 * (llm_json_escape()); JSON text has no NUL byte, so the zeroed buffer
 * says how much was written.
 */

char *
llm_json_print_max(const cJSON *item, size_t max, llm_pool_t *pool,
    size_t *len)
{
    llm_out_t  out;

    memset(&out, 0, sizeof(llm_out_t));

    llm_json_print_item(&out, item, NULL);

    if (out.len > max) {
        out.len = max;
    }

    if (llm_out_alloc(&out, pool) == NULL) {
        return NULL;
    }

    memset(out.buf, 0, out.size + 1);

    llm_json_print_item(&out, item, NULL);

    out.len = strlen(out.buf);

    if (len != NULL) {
        *len = out.len;
    }

    return out.buf;
}


static void
llm_json_print_item(llm_out_t *out, const cJSON *item,
    llm_json_splices_t *sp)
{
    const cJSON  *child;

    switch (item->type & 0xff) {

    case cJSON_False:
        llm_out_raw(out, "false", 5);
        break;

    case cJSON_True:
        llm_out_raw(out, "true", 4);
        break;

    case cJSON_Number:
        llm_out_double(out, item->valuedouble);
        break;

    case cJSON_String:
        llm_json_out_ref(out, sp, item->valuestring);
        break;

    case cJSON_Raw:
        if (item->valuestring != NULL) {
            llm_out_cstr(out, item->valuestring);
        }

        break;

    case cJSON_Array:
        llm_out_raw(out, "[", 1);

        for (child = item->child; child != NULL; child = child->next) {
            llm_json_print_item(out, child, sp);

            if (child->next != NULL) {
                llm_out_raw(out, ",", 1);
            }
        }

        llm_out_raw(out, "]", 1);
        break;

    case cJSON_Object:
        llm_out_raw(out, "{", 1);

        for (child = item->child; child != NULL; child = child->next) {
            llm_out_nstr(out, child->string);
            llm_out_raw(out, ":", 1);

            llm_json_print_item(out, child, sp);

            if (child->next != NULL) {
                llm_out_raw(out, ",", 1);
            }
        }

        llm_out_raw(out, "}", 1);
        break;

    default:
        llm_out_raw(out, "null", 4);
        break;
    }
}


/* the digits cJSON prints: 15 significant digits, 17 when 15 lose */

void
llm_out_double(llm_out_t *out, double d)
{
    int     n;
    char    buf[32];
    double  t, ad, at;

    if (isnan(d) || isinf(d)) {
        llm_out_raw(out, "null", 4);
        return;
    }

    /* integers, the usual case (tokens, counts), without %g's work */

    if (d > -1e15 && d < 1e15 && d == (double) (long long) d
        && !(d == 0 && signbit(d)))
    {
        llm_out_int(out, (long long) d);

        return;
    }

    n = snprintf(buf, sizeof(buf), "%1.15g", d);
    t = strtod(buf, NULL);

    /* cJSON's test: equal within an epsilon of the larger magnitude */

    ad = (d < 0) ? -d : d;
    at = (t < 0) ? -t : t;

    if ((t > d ? t - d : d - t) > (at > ad ? at : ad) * DBL_EPSILON) {
        n = snprintf(buf, sizeof(buf), "%1.17g", d);
    }

    if (n > 0 && (size_t) n < sizeof(buf)) {
        llm_out_raw(out, buf, (size_t) n);
    }
}


/* the byte an escape "\\c" stands for: b f n r t, or c itself */

int
llm_json_escaped_byte(int c)
{
    switch (c) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return c;
    }
}


int
llm_fast_key(const cJSON *item, const llm_fast_key_t *keys,
    const cJSON **items)
{
    const char            *name;
    const llm_fast_key_t  *key;

    name = item->string;

    if (name == NULL) {
        return LLM_DECLINED;
    }

    for (key = keys; key->name != NULL; key++) {
        if (name[0] == key->name[0] && strcmp(name, key->name) == 0) {
            if (key->item != LLM_FAST_IGNORED && items[key->item] == NULL) {
                items[key->item] = item;
            }

            return LLM_OK;
        }
    }

    return cJSON_IsNull(item) ? LLM_OK : LLM_DECLINED;
}


void
llm_fast_strings(llm_out_t *out, const cJSON *item)
{
    const cJSON  *s;

    llm_out_raw(out, "[", 1);

    for (s = cJSON_IsString(item) ? item : item->child;
         s != NULL;
         s = (s == item) ? NULL : s->next)
    {
        llm_out_nstr(out, s->valuestring);

        if (s != item && s->next != NULL) {
            llm_out_raw(out, ",", 1);
        }
    }

    llm_out_raw(out, "]", 1);
}


const unsigned char *
llm_json_numbers(const unsigned char *p, const unsigned char *last,
    size_t *n)
{
    size_t  k;

    *n = 0;

    p = llm_json_skip_ws(p, last);

    if (p == last || *p != '[') {
        return NULL;
    }

    p = llm_json_skip_ws(p + 1, last);

    if (p < last && *p == ']') {
        return p + 1;
    }

    k = 0;

    for ( ;; ) {
        p = llm_json_number_end(p, last);
        if (p == NULL) {
            return NULL;
        }

        k++;

        /* most write "0.1,-0.2": no whitespace to skip */

        if (p < last && *p == ',') {
            p++;

            if (p < last && *p != '-' && (*p < '0' || *p > '9')) {
                p = llm_json_skip_ws(p, last);
            }

            continue;
        }

        p = llm_json_skip_ws(p, last);

        if (p == last) {
            return NULL;
        }

        if (*p == ']') {
            *n = k;
            return p + 1;
        }

        if (*p != ',') {
            return NULL;
        }

        p = llm_json_skip_ws(p + 1, last);
    }
}


int
llm_json_element(const char *json, size_t len, size_t *pos,
    llm_json_span_t *span)
{
    const llm_uchar_t  *p, *v, *start, *last;

    start = (const llm_uchar_t *) json;
    last = start + len;

    if (*pos == 0) {
        p = llm_json_skip_ws(start, last);

        if (p == last || *p != '[') {
            return LLM_ERROR;
        }

        p = llm_json_skip_ws(p + 1, last);

    } else {
        p = llm_json_skip_ws(start + *pos, last);

        if (p < last && *p == ']') {
            return LLM_DECLINED;
        }

        if (p == last || *p != ',') {
            return LLM_ERROR;
        }

        p = llm_json_skip_ws(p + 1, last);

        if (p < last && *p == ']') {
            return LLM_ERROR;
        }
    }

    if (p == last) {
        return LLM_ERROR;
    }

    if (*p == ']') {
        return LLM_DECLINED;
    }

    v = p;

    p = llm_json_skip_value(v, last);
    if (p == NULL || p == v) {
        return LLM_ERROR;
    }

    span->key = (size_t) (v - start);
    span->value = (size_t) (v - start);
    span->end = (size_t) (p - start);

    *pos = span->end;

    return LLM_OK;
}
