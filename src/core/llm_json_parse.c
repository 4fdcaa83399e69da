
/*
 * ngx_http_llm_router_module: strict one-pass JSON parser.
 *
 * Checks RFC 8259 (UTF-8 included) and builds the cJSON tree in the same
 * pass, so a request body is read once, not validated and then parsed
 * again.  String ends are found sixteen bytes at a time and strings are
 * copied with memcpy: a 100 KB prompt costs about as much as copying it.
 * The tree is what cJSON_ParseWithLength() would build for the same
 * input.
 */


#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


typedef unsigned char  llm_uchar_t;


/* whitespace: mostly none between the tokens of what clients send */

#define llm_json_ws(p, last)                                                  \
    (((p) < (last) && *(p) <= ' ') ? llm_json_skip_ws(p, last) : (p))


typedef struct {
    const llm_uchar_t  *start;
    const llm_uchar_t  *pos;
    const llm_uchar_t  *last;
    int                 declined;
    char               *strings;    /* where the next string goes, or NULL */
} llm_json_parser_t;


static char *llm_json_string(llm_json_parser_t *jp);
static char *llm_json_string_in(llm_json_parser_t *jp);
static size_t llm_json_escape_in(llm_json_parser_t *jp,
    const llm_uchar_t *p, char *d, size_t *written);
static size_t llm_json_unescape(char *dst, const llm_uchar_t *p,
    const llm_uchar_t *last);
static cJSON *llm_json_number(llm_json_parser_t *jp);
static int llm_json_small_int(const llm_uchar_t *p, size_t n, double *v);
static cJSON *llm_json_literal(llm_json_parser_t *jp);


int
llm_json_parse(const char *json, size_t len, cJSON **root, size_t *off)
{
    return llm_json_parse_refs(json, len, root, off, NULL, NULL);
}


int
llm_json_parse_refs(const char *json, size_t len, cJSON **root, size_t *off,
    llm_json_refs_t *refs, llm_pool_t *pool)
{
    char               *key, *s;
    size_t              depth, o;
    cJSON              *stack[LLM_JSON_MAX_DEPTH + 1];
    cJSON              *item, *top;
    llm_json_parser_t   jp;
    const llm_uchar_t  *p, *last;

    *root = NULL;

    if (refs != NULL) {
        refs->n = 0;
        refs->len = 0;
    }

    jp.start = (const llm_uchar_t *) json;
    jp.last = jp.start + len;
    jp.declined = 0;
    jp.strings = NULL;

    /*
     * On a pool, every string of the text goes into one buffer as long as
     * the text (the quotes of each string leave room for its NUL), copied
     * while it is checked; the tree's strings are references into it.
     */

    if (pool != NULL) {
        jp.strings = llm_arena_palloc(pool, len + 1);
        if (jp.strings == NULL) {
            return LLM_DECLINED;
        }
    }

    last = jp.last;
    p = jp.start;
    depth = 0;
    top = NULL;
    key = NULL;

    /*
     * stack[0..depth) are the open containers; top is stack[depth - 1].
     * The loop is at a value: the whole text, a member's value (key is
     * set), or an array element.
     */

value:

    p = llm_json_ws(p, last);

    if (p == last) {
        goto failed;
    }

    jp.pos = p;

    switch (*p) {

    case '{':
    case '[':
        if (depth == LLM_JSON_MAX_DEPTH) {
            goto failed;
        }

        item = (*p == '{') ? cJSON_CreateObject() : cJSON_CreateArray();
        jp.declined = (item == NULL);
        break;

    case '"':
        s = jp.strings ? llm_json_string_in(&jp) : llm_json_string(&jp);
        if (s == NULL) {
            item = NULL;
            break;
        }

        item = cJSON_CreateNull();
        if (item == NULL) {
            if (jp.strings == NULL) {
                cJSON_free(s);
            }

            jp.declined = 1;
            break;
        }

        item->type = jp.strings ? cJSON_String | cJSON_IsReference
                                : cJSON_String;
        item->valuestring = s;

        /* between the quotes: p + 1 .. jp.pos - 1 */

        if (refs != NULL && refs->n < LLM_JSON_REFS
            && (size_t) (jp.pos - p) >= LLM_JSON_REF_MIN + 2)
        {
            o = (size_t) (jp.pos - p) - 2;

            refs->ref[refs->n].value = s;
            refs->ref[refs->n].raw = (const char *) p + 1;
            refs->ref[refs->n].len = o;
            refs->n++;
            refs->len += o;
        }

        break;

    case 't':
    case 'f':
    case 'n':
        item = llm_json_literal(&jp);
        break;

    default:
        item = llm_json_number(&jp);
        break;
    }

    if (item == NULL) {
        goto failed;
    }

    if (top == NULL) {
        *root = item;

    } else {
        item->string = key;

        if (key != NULL && jp.strings != NULL) {
            item->type |= cJSON_StringIsConst;
        }

        key = NULL;
        cJSON_AddItemToArray(top, item);
    }

    if ((item->type & 0xff) == cJSON_Object
        || (item->type & 0xff) == cJSON_Array)
    {
        stack[depth++] = item;
        top = item;
        p = llm_json_ws(p + 1, last);

        if (p == last) {
            goto failed;
        }

        if ((top->type & 0xff) == cJSON_Array) {
            if (*p == ']') {
                p++;
                goto close;
            }

            goto value;
        }

        if (*p == '}') {
            p++;
            goto close;
        }

        goto member;
    }

    p = jp.pos;

    goto next;

member:

    /* p is at a member's key */

    if (*p != '"') {
        goto failed;
    }

    jp.pos = p;

    key = jp.strings ? llm_json_string_in(&jp) : llm_json_string(&jp);
    if (key == NULL) {
        goto failed;
    }

    p = llm_json_ws(jp.pos, last);

    if (p == last || *p != ':') {
        goto failed;
    }

    p++;

    goto value;

close:

    /* a container has just been closed at p - 1 */

    depth--;
    top = depth ? stack[depth - 1] : NULL;

next:

    /* after a value: a separator, the container's end, or the text's end */

    p = llm_json_ws(p, last);

    if (top == NULL) {
        if (p != last) {
            goto failed;
        }

        return LLM_OK;
    }

    if (p == last) {
        goto failed;
    }

    if ((top->type & 0xff) == cJSON_Object) {
        if (*p == '}') {
            p++;
            goto close;
        }

        if (*p != ',') {
            goto failed;
        }

        p = llm_json_ws(p + 1, last);

        if (p == last) {
            goto failed;
        }

        goto member;
    }

    if (*p == ']') {
        p++;
        goto close;
    }

    if (*p != ',') {
        goto failed;
    }

    p++;

    goto value;

failed:

    if (key != NULL && jp.strings == NULL) {
        cJSON_free(key);
    }

    cJSON_Delete(*root);
    *root = NULL;

    if (refs != NULL) {
        refs->n = 0;
        refs->len = 0;
    }

    if (off != NULL) {
        *off = (size_t) (p - jp.start);
    }

    if (!jp.declined) {
        return LLM_ERROR;
    }

    /*
     * Out of memory, or JSON that cJSON does not take (a lone surrogate
     * escape).  A syntax error further on still wins, so that the answer
     * is the one the strict validator gives.
     */

    if (llm_json_validate(json, len, &o) != LLM_OK) {
        if (off != NULL) {
            *off = o;
        }

        return LLM_ERROR;
    }

    return LLM_DECLINED;
}


/*
 * p is past the opening quote of a string: its closing quote, or NULL when
 * the string is not valid JSON, or is JSON that cJSON does not take (a
 * lone or reversed surrogate: *declined is then set).  *escaped tells
 * whether the bytes between the quotes differ from the string's value.
 */

const unsigned char *
llm_json_string_end(const unsigned char *p, const unsigned char *last,
    int *escaped, int *declined)
{
    size_t    n;
    unsigned  v, w;

    *escaped = 0;
    *declined = 0;

    for ( ;; ) {

        /* plain ASCII, the bulk of any prompt */

        p += llm_json_plain_run(p, (size_t) (last - p));

        if (p == last) {
            return NULL;
        }

        if (*p == '"') {
            return p;
        }

        if (*p < 0x20) {
            return NULL;
        }

        if (*p >= 0x80) {
            n = llm_utf8_len(p, last - p);
            if (n == 0) {
                return NULL;
            }

            p += n;
            continue;
        }

        /* an escape */

        *escaped = 1;

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
            break;

        default:
            return NULL;
        }

        if (llm_json_hex4(p + 2, last, &v) != LLM_OK) {
            return NULL;
        }

        p += 6;

        if (v < 0xd800 || v > 0xdfff) {
            continue;
        }

        /* cJSON takes only a high surrogate followed by a low one */

        if (v >= 0xdc00) {
            *declined = 1;
            return NULL;
        }

        if (last - p < 2 || p[0] != '\\' || p[1] != 'u') {
            *declined = 1;
            return NULL;
        }

        if (llm_json_hex4(p + 2, last, &w) != LLM_OK) {
            return NULL;
        }

        if (w < 0xdc00 || w > 0xdfff) {
            *declined = 1;
            return NULL;
        }

        p += 6;
    }
}


/* jp->pos is at the opening quote; leaves it past the closing one */

static char *
llm_json_string(llm_json_parser_t *jp)
{
    int                 escaped, declined;
    char               *s;
    size_t              n;
    const llm_uchar_t  *p, *q;

    p = jp->pos + 1;

    q = llm_json_string_end(p, jp->last, &escaped, &declined);

    if (q == NULL) {
        if (declined) {
            jp->declined = 1;
        }

        return NULL;
    }

    s = cJSON_malloc((size_t) (q - p) + 1);
    if (s == NULL) {
        jp->declined = 1;
        return NULL;
    }

    if (escaped) {
        n = llm_json_unescape(s, p, q);

    } else {
        n = (size_t) (q - p);
        memcpy(s, p, n);
    }

    s[n] = '\0';

    jp->pos = q + 1;

    return s;
}


/*
 * llm_json_string() into jp->strings: the string checked and copied in
 * one pass, NUL-terminated; jp->strings moves past it.
 */

static char *
llm_json_string_in(llm_json_parser_t *jp)
{
    char               *d, *s;
    size_t              n, w;
    const llm_uchar_t  *p, *last;

    p = jp->pos + 1;
    last = jp->last;
    s = jp->strings;
    d = s;

    for ( ;; ) {

        /* plain ASCII, the bulk of any prompt */

        n = llm_json_plain_copy((llm_uchar_t *) d, p, (size_t) (last - p));
        p += n;
        d += n;

        if (p == last || *p < 0x20) {
            return NULL;
        }

        if (*p == '"') {
            break;
        }

        if (*p >= 0x80) {
            n = llm_utf8_len(p, last - p);
            if (n == 0) {
                return NULL;
            }

            while (n--) {
                *d++ = (char) *p++;
            }

            continue;
        }

        n = llm_json_escape_in(jp, p, d, &w);
        if (n == 0) {
            return NULL;
        }

        p += n;
        d += w;
    }

    *d++ = '\0';

    jp->strings = d;
    jp->pos = p + 1;

    return s;
}


/*
 * The escape at p written to d as UTF-8: the bytes of the escape read,
 * *written those written; 0 when it is not valid JSON, or is JSON that
 * cJSON does not take (a lone or reversed surrogate: jp->declined is
 * then set), as llm_json_string_end() checks it.
 */

static size_t
llm_json_escape_in(llm_json_parser_t *jp, const llm_uchar_t *p, char *d,
    size_t *written)
{
    size_t              n;
    unsigned            v, w;
    const llm_uchar_t  *last;

    last = jp->last;

    if (last - p < 2) {
        return 0;
    }

    *written = 1;

    switch (p[1]) {
    case '"':
    case '\\':
    case '/':
        *d = (char) p[1];
        return 2;
    case 'b':
        *d = '\b';
        return 2;
    case 'f':
        *d = '\f';
        return 2;
    case 'n':
        *d = '\n';
        return 2;
    case 'r':
        *d = '\r';
        return 2;
    case 't':
        *d = '\t';
        return 2;
    case 'u':
        break;
    default:
        return 0;
    }

    if (llm_json_hex4(p + 2, last, &v) != LLM_OK) {
        return 0;
    }

    n = 6;

    if (v >= 0xd800 && v <= 0xdfff) {

        /* cJSON takes only a high surrogate followed by a low one */

        if (v >= 0xdc00 || last - p < 8 || p[6] != '\\' || p[7] != 'u') {
            jp->declined = 1;
            return 0;
        }

        if (llm_json_hex4(p + 8, last, &w) != LLM_OK) {
            return 0;
        }

        if (w < 0xdc00 || w > 0xdfff) {
            jp->declined = 1;
            return 0;
        }

        v = 0x10000 + ((v - 0xd800) << 10) + (w - 0xdc00);
        n = 12;
    }

    if (v < 0x80) {
        d[0] = (char) v;

    } else if (v < 0x800) {
        d[0] = (char) (0xc0 | (v >> 6));
        d[1] = (char) (0x80 | (v & 0x3f));
        *written = 2;

    } else if (v < 0x10000) {
        d[0] = (char) (0xe0 | (v >> 12));
        d[1] = (char) (0x80 | ((v >> 6) & 0x3f));
        d[2] = (char) (0x80 | (v & 0x3f));
        *written = 3;

    } else {
        d[0] = (char) (0xf0 | (v >> 18));
        d[1] = (char) (0x80 | ((v >> 12) & 0x3f));
        d[2] = (char) (0x80 | ((v >> 6) & 0x3f));
        d[3] = (char) (0x80 | (v & 0x3f));
        *written = 4;
    }

    return n;
}


/* p..last was checked by llm_json_string_end(); the value is no longer */

static size_t
llm_json_unescape(char *dst, const llm_uchar_t *p, const llm_uchar_t *last)
{
    char               *d;
    size_t              n;
    unsigned            v, w;
    const llm_uchar_t  *e;

    d = dst;

    while (p < last) {
        e = memchr(p, '\\', (size_t) (last - p));
        if (e == NULL) {
            e = last;
        }

        n = (size_t) (e - p);
        memcpy(d, p, n);
        d += n;
        p = e;

        if (p == last) {
            break;
        }

        switch (p[1]) {
        case 'b':
            *d++ = '\b';
            break;
        case 'f':
            *d++ = '\f';
            break;
        case 'n':
            *d++ = '\n';
            break;
        case 'r':
            *d++ = '\r';
            break;
        case 't':
            *d++ = '\t';
            break;
        case 'u':
            (void) llm_json_hex4(p + 2, last, &v);

            if (v >= 0xd800 && v <= 0xdbff) {
                (void) llm_json_hex4(p + 8, last, &w);
                v = 0x10000 + ((v - 0xd800) << 10) + (w - 0xdc00);
                p += 6;
            }

            if (v < 0x80) {
                *d++ = (char) v;

            } else if (v < 0x800) {
                *d++ = (char) (0xc0 | (v >> 6));
                *d++ = (char) (0x80 | (v & 0x3f));

            } else if (v < 0x10000) {
                *d++ = (char) (0xe0 | (v >> 12));
                *d++ = (char) (0x80 | ((v >> 6) & 0x3f));
                *d++ = (char) (0x80 | (v & 0x3f));

            } else {
                *d++ = (char) (0xf0 | (v >> 18));
                *d++ = (char) (0x80 | ((v >> 12) & 0x3f));
                *d++ = (char) (0x80 | ((v >> 6) & 0x3f));
                *d++ = (char) (0x80 | (v & 0x3f));
            }

            p += 6;
            continue;

        default:
            /* '"', '\', '/' */
            *d++ = (char) p[1];
            break;
        }

        p += 2;
    }

    return (size_t) (d - dst);
}


static cJSON *
llm_json_number(llm_json_parser_t *jp)
{
    char                buf[64], *s;
    double              v;
    size_t              n;
    cJSON              *item;
    const llm_uchar_t  *p;

    p = llm_json_number_end(jp->pos, jp->last);
    if (p == NULL) {
        return NULL;
    }

    n = (size_t) (p - jp->pos);

    /*
     * Integers of up to 15 digits (token counts, timestamps, indexes) are
     * exact in a double: read without strtod()
     */

    if (n <= 15 && llm_json_small_int(jp->pos, n, &v) == LLM_OK) {
        item = cJSON_CreateNumber(v);
        goto done;
    }

    /* strtod() wants a C string: short numbers are copied on the stack */

    s = (n < sizeof(buf)) ? buf : malloc(n + 1);

    if (s == NULL) {
        jp->declined = 1;
        return NULL;
    }

    memcpy(s, jp->pos, n);
    s[n] = '\0';

    item = cJSON_CreateNumber(strtod(s, NULL));

    if (s != buf) {
        free(s);
    }

done:

    if (item == NULL) {
        jp->declined = 1;
        return NULL;
    }

    jp->pos = p;

    return item;
}


/* p..p + n is a checked JSON number: LLM_OK when it is an integer */

static int
llm_json_small_int(const llm_uchar_t *p, size_t n, double *v)
{
    int        neg;
    long long  i;

    neg = (*p == '-');
    p += neg;
    n -= neg;
    i = 0;

    while (n--) {
        if (*p < '0' || *p > '9') {
            return LLM_ERROR;
        }

        i = i * 10 + (*p++ - '0');
    }

    /* "-0" stays negative zero, as strtod() reads it */

    *v = neg ? -(double) i : (double) i;

    return LLM_OK;
}


static cJSON *
llm_json_literal(llm_json_parser_t *jp)
{
    size_t              n;
    cJSON              *item;
    const char         *lit;
    const llm_uchar_t  *p;

    p = jp->pos;

    switch (*p) {
    case 't':
        lit = "true";
        n = 4;
        break;
    case 'f':
        lit = "false";
        n = 5;
        break;
    default:
        lit = "null";
        n = 4;
        break;
    }

    if ((size_t) (jp->last - p) < n || memcmp(p, lit, n) != 0) {
        return NULL;
    }

    item = (*p == 't') ? cJSON_CreateTrue()
           : (*p == 'f') ? cJSON_CreateFalse() : cJSON_CreateNull();

    if (item == NULL) {
        jp->declined = 1;
        return NULL;
    }

    jp->pos = p + n;

    return item;
}
