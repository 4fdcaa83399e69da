
/*
 * ngx_http_llm_router_module: the scanner of OpenAI-format answers that
 * are relayed as they arrive (openai, mistral).  The glue does not parse
 * them; the scanner reads them byte by byte, in any split, with a fixed
 * state (llm_scan_t), for the usage, the finish reason and the text.
 *
 * It follows the JSON structure only as far as it needs: strings (and
 * their escapes, decoded where they are kept), the nesting depth, and
 * whether a string is a member name or a value in the four objects on the
 * way to the answer's text:
 *
 *   level 1   the answer                {"usage":{...},"choices":[...]}
 *   level 2   its "choices" array       [{...},...]
 *   level 3   the first choice          {"finish_reason":...,"message":...}
 *   level 4   its "message"             {"content":"..."}
 *
 * s->path is the number of these levels open, so that a member deeper in
 * the answer (a "usage" inside a choice) is never taken for one of them.
 * The first member of a name wins, as with cJSON.  The "usage" object is
 * kept raw and read at the end, without a tree.  The input is not
 * validated: garbage gives no usage, no finish reason or less text, never
 * a read or a write out of bounds.  The bytes of strings and those between
 * tokens are taken in runs (sixteen at a time in strings), structure and
 * escapes a byte at a time.
 */


#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


/* the byte parser's states */

#define LLM_SCAN_VALUE     0          /* between tokens */
#define LLM_SCAN_STRING    1
#define LLM_SCAN_ESCAPE    2          /* after '\' */
#define LLM_SCAN_HEX       3          /* in \uXXXX, s->hex digits read */
#define LLM_SCAN_LOW       4          /* after a high surrogate: '\' */
#define LLM_SCAN_LOW_U     5          /* after its '\': 'u' */

/* where a string's bytes go */

#define LLM_SCAN_NONE      0
#define LLM_SCAN_KEY       1          /* s->word: a member name */
#define LLM_SCAN_REASON    2          /* s->word: the finish_reason */
#define LLM_SCAN_TEXT      3          /* s->text: the content */

/* the members of interest, in s->key[level]; s->seen bit (id - 1) */

#define LLM_SCAN_OTHER     0
#define LLM_SCAN_USAGE     1          /* level 1 */
#define LLM_SCAN_CHOICES   2          /* level 1 */
#define LLM_SCAN_FINISH    3          /* level 3 */
#define LLM_SCAN_MESSAGE   4          /* level 3 */
#define LLM_SCAN_CONTENT   5          /* level 4 */


/* the members of the usage object llm_openai_usage() reads */

#define LLM_SCAN_U_PROMPT               0     /* counts, in v[] */
#define LLM_SCAN_U_COMPLETION           1
#define LLM_SCAN_U_TOTAL                2
#define LLM_SCAN_U_CACHED               3     /* in prompt_tokens_details */
#define LLM_SCAN_U_REASONING            4     /* in completion_tokens_.. */
#define LLM_SCAN_COUNTS                 5
#define LLM_SCAN_U_PROMPT_DETAILS       5     /* objects */
#define LLM_SCAN_U_COMPLETION_DETAILS   6
#define LLM_SCAN_U_NONE                 7

#define LLM_SCAN_COUNT_MAX   9007199254740992.0      /* 2^53 */


typedef unsigned char  llm_uchar_t;


typedef struct {
    const char   *name;
    size_t        len;
} llm_scan_usage_name_t;



static void llm_scan_byte(llm_scan_t *s, unsigned char c);
static void llm_scan_token(llm_scan_t *s, unsigned char c);
static void llm_scan_open(llm_scan_t *s, int object);
static void llm_scan_close(llm_scan_t *s);
static void llm_scan_comma(llm_scan_t *s);
static void llm_scan_string(llm_scan_t *s);
static void llm_scan_string_end(llm_scan_t *s);
static unsigned llm_scan_key(llm_scan_t *s, const char *name, size_t n);
static void llm_scan_unit(llm_scan_t *s, unsigned u);
static void llm_scan_code(llm_scan_t *s, unsigned code);
static void llm_scan_emit(llm_scan_t *s, unsigned char c);
static size_t llm_scan_run(const unsigned char *p, const unsigned char *last);
static void llm_scan_emit_run(llm_scan_t *s, const unsigned char *p,
    size_t n);
static void llm_scan_keep_run(llm_scan_t *s, const unsigned char *p,
    size_t n);
static unsigned llm_scan_hex(unsigned char c);
static unsigned llm_scan_usage_name(const llm_uchar_t *p,
    const llm_uchar_t *last, int escaped, size_t depth, unsigned details);
static const llm_uchar_t *llm_scan_ws(const llm_uchar_t *p,
    const llm_uchar_t *last);
static const llm_uchar_t *llm_scan_usage_string(const llm_uchar_t *p,
    const llm_uchar_t *last, int *escaped);
static const llm_uchar_t *llm_scan_usage_literal(const llm_uchar_t *p,
    const llm_uchar_t *last);
static long long llm_scan_usage_count(const llm_uchar_t *p,
    const llm_uchar_t *end, const llm_uchar_t *last);


/* the bytes between tokens that are structure */

static const unsigned char  llm_scan_tokens[256] = {
    ['"'] = 1, [','] = 1, [':'] = 1,
    ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1
};


/* indexed by LLM_SCAN_U_* */

static const llm_scan_usage_name_t  llm_scan_usage_names[] = {
    { "prompt_tokens", sizeof("prompt_tokens") - 1 },
    { "completion_tokens", sizeof("completion_tokens") - 1 },
    { "total_tokens", sizeof("total_tokens") - 1 },
    { "cached_tokens", sizeof("cached_tokens") - 1 },
    { "reasoning_tokens", sizeof("reasoning_tokens") - 1 },
    { "prompt_tokens_details", sizeof("prompt_tokens_details") - 1 },
    { "completion_tokens_details", sizeof("completion_tokens_details") - 1 }
};


void
llm_scan_init(llm_scan_t *s, char *text, size_t text_size)
{
    /* the usage object's bytes are written before they are read */

    memset(s, 0, offsetof(llm_scan_t, usage));

    s->text = text;
    s->text_size = (text != NULL) ? text_size : 0;
    s->state = LLM_SCAN_VALUE;
    s->sink = LLM_SCAN_NONE;
}


void
llm_scan_feed(llm_scan_t *s, const char *p, size_t len)
{
    size_t                n;
    unsigned              capture;
    const unsigned char  *q, *mark, *last;

    if (len == 0) {
        return;
    }

    q = (const unsigned char *) p;
    last = q + len;

    /* the usage object's bytes, from its '{' to its '}', kept in runs */

    mark = s->capture ? q : NULL;

    while (q < last) {

        if (s->state == LLM_SCAN_STRING) {

            /* the bytes that stand for themselves, sixteen at a time */

            n = llm_scan_run(q, last);

            if (n != 0) {
                if (s->sink == LLM_SCAN_KEY && s->word_len == 0
                    && !s->word_nul && n < (size_t) (last - q)
                    && q[n] == '"')
                {
                    /* a member name whole in this buffer: read in place */

                    s->key[s->depth] = llm_scan_key(s, (const char *) q, n);
                    s->sink = LLM_SCAN_NONE;

                } else if (s->sink != LLM_SCAN_NONE) {
                    llm_scan_emit_run(s, q, n);
                }

                q += n;

                if (q == last) {
                    break;
                }
            }

            if (*q != '"') {
                goto byte;
            }

            s->state = LLM_SCAN_VALUE;

            if (s->sink != LLM_SCAN_NONE) {
                llm_scan_string_end(s);
            }

            if (++q == last) {
                break;
            }

        } else if (s->state != LLM_SCAN_VALUE) {
            goto byte;
        }

        /* between tokens: numbers, literals and whitespace pass */

        while (!llm_scan_tokens[*q]) {
            if (++q == last) {
                goto done;
            }
        }

        /*
         * llm_scan_token(), with the usage object's bytes kept from its
         * '{' to its '}'
         */

        switch (*q) {

        case '"':
            s->state = LLM_SCAN_STRING;
            llm_scan_string(s);
            break;

        case ':':
            if (s->path == s->depth) {
                s->expect_key = 0;
            }

            break;

        case ',':

            if (s->path != s->depth && !s->capture) {

                /*
                 * in a value no one reads (an embedding's numbers): on to
                 * the next string or bracket
                 */

                q = llm_json_flat(q + 1, last);

                if (q == last) {
                    goto done;
                }

                continue;
            }

            llm_scan_comma(s);
            break;

        case '{':
        case '[':
            capture = s->capture;

            llm_scan_open(s, *q == '{');

            if (capture != s->capture) {
                mark = q;
            }

            break;

        default: /* '}', ']' */
            capture = s->capture;

            llm_scan_close(s);

            if (capture != s->capture) {
                llm_scan_keep_run(s, mark, (size_t) (q + 1 - mark));
                mark = NULL;
            }

            break;
        }

        q++;

        continue;

    byte:

        /* '\\', NUL, escapes: a byte at a time */

        llm_scan_byte(s, *q);

        q++;
    }

done:

    if (s->capture) {
        llm_scan_keep_run(s, mark, (size_t) (last - mark));
    }
}


int
llm_scan_finish(llm_scan_t *s, llm_usage_t *usage,
    const char **finish_reason, size_t *text_len)
{
    if (usage != NULL) {
        if (s->usage_done && !s->usage_big) {
            llm_openai_usage_json(s->usage, s->usage_len, usage);

        } else {
            llm_usage_none(usage);
        }
    }

    if (finish_reason != NULL) {
        *finish_reason = s->finish_reason;
    }

    /*
     * a character cut in two, by the end of the buffer or of the body, is
     * not kept; the text is only ever added to before, so a body cut short
     * gives a prefix of the text the whole body gives
     */

    if (text_len != NULL) {
        *text_len = llm_utf8_trim(s->text, s->text_len);
    }

    return LLM_OK;
}


static void
llm_scan_byte(llm_scan_t *s, unsigned char c)
{
    unsigned  v;

    /* a byte that ends a broken escape is read again as the next state's */

    for ( ;; ) {

        switch (s->state) {

        case LLM_SCAN_STRING:

            if (c == '"') {
                s->state = LLM_SCAN_VALUE;
                llm_scan_string_end(s);

            } else if (c == '\\') {
                s->state = LLM_SCAN_ESCAPE;

            } else {
                llm_scan_emit(s, c);
            }

            return;

        case LLM_SCAN_ESCAPE:

            s->state = LLM_SCAN_STRING;

            if (c == 'u') {
                s->state = LLM_SCAN_HEX;
                s->hex = 0;
                s->code = 0;
                return;
            }

            /* '"', '\\', '/', and the byte itself if not an escape */

            llm_scan_emit(s, llm_json_escaped_byte(c));

            return;

        case LLM_SCAN_HEX:

            v = llm_scan_hex(c);

            if (v > 0x0f) {
                if (s->high) {
                    s->high = 0;
                    llm_scan_code(s, 0xfffd);
                }

                llm_scan_code(s, 0xfffd);

                s->state = LLM_SCAN_STRING;
                continue;
            }

            s->code = (s->code << 4) | v;

            if (++s->hex < 4) {
                return;
            }

            s->state = LLM_SCAN_STRING;
            llm_scan_unit(s, s->code);

            return;

        case LLM_SCAN_LOW:

            if (c == '\\') {
                s->state = LLM_SCAN_LOW_U;
                return;
            }

            s->high = 0;
            llm_scan_code(s, 0xfffd);

            s->state = LLM_SCAN_STRING;
            continue;

        case LLM_SCAN_LOW_U:

            if (c == 'u') {
                s->state = LLM_SCAN_HEX;
                s->hex = 0;
                s->code = 0;
                return;
            }

            s->high = 0;
            llm_scan_code(s, 0xfffd);

            s->state = LLM_SCAN_ESCAPE;
            continue;

        default: /* LLM_SCAN_VALUE */

            llm_scan_token(s, c);

            return;
        }
    }
}


/* outside strings: structure; numbers, literals and whitespace pass */

static void
llm_scan_token(llm_scan_t *s, unsigned char c)
{
    switch (c) {

    case '{':
    case '[':
        llm_scan_open(s, c == '{');
        break;

    case '}':
    case ']':
        llm_scan_close(s);
        break;

    case ':':
        if (s->path == s->depth) {
            s->expect_key = 0;
        }

        break;

    case ',':
        llm_scan_comma(s);
        break;

    case '"':
        s->state = LLM_SCAN_STRING;
        llm_scan_string(s);
        break;

    default:
        break;
    }
}


static void
llm_scan_open(llm_scan_t *s, int object)
{
    size_t  d;

    if (s->depth == (size_t) -1) {
        return;
    }

    d = ++s->depth;

    if (s->path != d - 1 || s->ended) {
        return;
    }

    switch (d) {

    case 1:
        if (object) {
            s->path = 1;
            s->expect_key = 1;
            s->key[1] = LLM_SCAN_OTHER;
        }

        break;

    case 2:
        if (!object && s->key[1] == LLM_SCAN_CHOICES) {
            s->path = 2;
            s->index = 0;

        } else if (object && s->key[1] == LLM_SCAN_USAGE
                   && !s->usage_done)
        {
            s->capture = 1;
            s->usage_len = 0;
        }

        break;

    case 3:
        if (object && s->index == 0) {
            s->path = 3;
            s->expect_key = 1;
            s->key[3] = LLM_SCAN_OTHER;
        }

        break;

    case 4:
        if (object && s->key[3] == LLM_SCAN_MESSAGE) {
            s->path = 4;
            s->expect_key = 1;
            s->key[4] = LLM_SCAN_OTHER;
        }

        break;

    default:
        break;
    }
}


static void
llm_scan_close(llm_scan_t *s)
{
    if (s->depth == 0) {
        return;
    }

    if (s->capture && s->depth == 2) {
        s->capture = 0;
        s->usage_done = 1;
    }

    if (s->path == s->depth) {
        s->path--;
    }

    s->depth--;

    if (s->depth == 0) {
        s->ended = 1;
    }

    /*
     * back in a container on the path, after one of its values: the
     * member that value was is done
     */

    if (s->path == s->depth) {
        s->expect_key = 0;

        if (s->depth != 2) {
            s->key[s->depth] = LLM_SCAN_OTHER;
        }
    }
}


static void
llm_scan_comma(llm_scan_t *s)
{
    if (s->path != s->depth || s->depth == 0) {
        return;
    }

    if (s->depth == 2) {

        /* the next choice: not the first one */

        s->index = 1;
        return;
    }

    s->expect_key = 1;
    s->key[s->depth] = LLM_SCAN_OTHER;
}


/* a string begins: where its bytes go */

static void
llm_scan_string(llm_scan_t *s)
{
    s->sink = LLM_SCAN_NONE;
    s->word_len = 0;
    s->word_nul = 0;

    if (s->path != s->depth || s->depth == 2 || s->depth == 0) {
        return;
    }

    if (s->expect_key) {
        s->sink = LLM_SCAN_KEY;

    } else if (s->depth == 3 && s->key[3] == LLM_SCAN_FINISH) {
        s->sink = LLM_SCAN_REASON;

    } else if (s->depth == 4 && s->key[4] == LLM_SCAN_CONTENT
               && s->text != NULL)
    {
        s->sink = LLM_SCAN_TEXT;
    }
}


static void
llm_scan_string_end(llm_scan_t *s)
{
    unsigned  sink;

    sink = s->sink;
    s->sink = LLM_SCAN_NONE;

    switch (sink) {

    case LLM_SCAN_KEY:
        s->key[s->depth] = llm_scan_key(s, s->word, s->word_len);
        break;

    case LLM_SCAN_REASON:
        if (s->word_len < sizeof(s->word)) {
            s->word[s->word_len] = '\0';
            s->finish_reason = llm_openai_finish(s->word, 1);
        }

        s->key[3] = LLM_SCAN_OTHER;
        break;

    case LLM_SCAN_TEXT:
        s->key[4] = LLM_SCAN_OTHER;
        break;

    default:
        break;
    }
}


/*
 * A member name at this level (in s->word, or in place): its id, once.
 * The names of interest, by length and level: "usage" (1), "choices" (1),
 * "message" (3), "finish_reason" (3), "content" (4).
 */

static unsigned
llm_scan_key(llm_scan_t *s, const char *word, size_t n)
{
    size_t       level;
    unsigned     id, bit;
    const char  *name;

    /* a name cut at sizeof(s->word) bytes is none of these */

    switch (n) {

    case 5:
        level = 1;
        id = LLM_SCAN_USAGE;
        name = "usage";
        break;

    case 7:
        level = s->depth;

        if (level == 1) {
            id = LLM_SCAN_CHOICES;
            name = "choices";

        } else if (level == 3) {
            id = LLM_SCAN_MESSAGE;
            name = "message";

        } else {
            level = 4;
            id = LLM_SCAN_CONTENT;
            name = "content";
        }

        break;

    case 13:
        level = 3;
        id = LLM_SCAN_FINISH;
        name = "finish_reason";
        break;

    default:
        return LLM_SCAN_OTHER;
    }

    /* most names differ from the one of their length in the first byte */

    if (s->depth != level || word[0] != name[0]
        || memcmp(word + 1, name + 1, n - 1) != 0)
    {
        return LLM_SCAN_OTHER;
    }

    bit = 1u << (id - 1);

    if (s->seen & bit) {
        return LLM_SCAN_OTHER;
    }

    s->seen |= bit;

    return id;
}


/* a \uXXXX: a character, or a half of a surrogate pair */

static void
llm_scan_unit(llm_scan_t *s, unsigned u)
{
    unsigned  high;

    if (s->high) {
        high = s->high;
        s->high = 0;

        if (u >= 0xdc00 && u <= 0xdfff) {
            llm_scan_code(s, 0x10000 + ((high - 0xd800) << 10)
                             + (u - 0xdc00));
            return;
        }

        llm_scan_code(s, 0xfffd);
    }

    if (u >= 0xd800 && u <= 0xdbff) {
        s->high = u;
        s->state = LLM_SCAN_LOW;
        return;
    }

    if (u >= 0xdc00 && u <= 0xdfff) {
        u = 0xfffd;
    }

    llm_scan_code(s, u);
}


static void
llm_scan_code(llm_scan_t *s, unsigned code)
{
    if (code < 0x80) {
        llm_scan_emit(s, (unsigned char) code);

    } else if (code < 0x800) {
        llm_scan_emit(s, (unsigned char) (0xc0 | (code >> 6)));
        llm_scan_emit(s, (unsigned char) (0x80 | (code & 0x3f)));

    } else if (code < 0x10000) {
        llm_scan_emit(s, (unsigned char) (0xe0 | (code >> 12)));
        llm_scan_emit(s, (unsigned char) (0x80 | ((code >> 6) & 0x3f)));
        llm_scan_emit(s, (unsigned char) (0x80 | (code & 0x3f)));

    } else {
        llm_scan_emit(s, (unsigned char) (0xf0 | (code >> 18)));
        llm_scan_emit(s, (unsigned char) (0x80 | ((code >> 12) & 0x3f)));
        llm_scan_emit(s, (unsigned char) (0x80 | ((code >> 6) & 0x3f)));
        llm_scan_emit(s, (unsigned char) (0x80 | (code & 0x3f)));
    }
}


/*
 * A byte of a string's value where it is kept.  A NUL ends the value, as
 * it does cJSON's strings.
 */

static void
llm_scan_emit(llm_scan_t *s, unsigned char c)
{
    switch (s->sink) {

    case LLM_SCAN_KEY:
    case LLM_SCAN_REASON:

        if (s->word_nul) {
            return;
        }

        if (c == '\0') {
            s->word_nul = 1;
            return;
        }

        /* past the buffer, word_len stops at sizeof(word): no match */

        if (s->word_len < sizeof(s->word)) {
            s->word[s->word_len++] = (char) c;
        }

        return;

    case LLM_SCAN_TEXT:

        if (s->text_full) {
            return;
        }

        if (c == '\0') {
            s->text_full = 1;
            return;
        }

        if (s->text_len < s->text_size) {
            s->text[s->text_len++] = (char) c;
            return;
        }

        /* full: llm_scan_finish() drops a character cut in two */

        s->text_full = 1;

        return;

    default:
        return;
    }
}


/*
 * The length of the run at p of bytes a string's value has as they are:
 * all but '"', '\\' and NUL (which ends a kept value)
 */

static size_t
llm_scan_run(const unsigned char *p, const unsigned char *last)
{
    const unsigned char  *start;

    start = p;

    for ( ;; ) {
        p += llm_json_plain_run(p, (size_t) (last - p));

        if (p == last || *p == '"' || *p == '\\' || *p == '\0') {
            return (size_t) (p - start);
        }

        /* a control byte or UTF-8 */

        do {
            p++;
        } while (p < last && *p >= 0x80);
    }
}


/* llm_scan_emit() of n bytes, none of them NUL */

static void
llm_scan_emit_run(llm_scan_t *s, const unsigned char *p, size_t n)
{
    size_t  room;

    switch (s->sink) {

    case LLM_SCAN_KEY:
    case LLM_SCAN_REASON:

        if (s->word_nul) {
            return;
        }

        room = sizeof(s->word) - s->word_len;

        if (n > room) {
            n = room;
        }

        memcpy(s->word + s->word_len, p, n);
        s->word_len += (unsigned) n;

        return;

    case LLM_SCAN_TEXT:

        if (s->text_full) {
            return;
        }

        room = s->text_size - s->text_len;

        if (n > room) {
            n = room;
            s->text_full = 1;
        }

        memcpy(s->text + s->text_len, p, n);
        s->text_len += n;

        return;

    default:
        return;
    }
}


static void
llm_scan_keep_run(llm_scan_t *s, const unsigned char *p, size_t n)
{
    size_t  room;

    room = sizeof(s->usage) - s->usage_len;

    if (n > room) {
        n = room;
        s->usage_big = 1;
    }

    memcpy(s->usage + s->usage_len, p, n);
    s->usage_len += n;
}


/* a hex digit's value, 16 when c is not one */

static unsigned
llm_scan_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return (unsigned) (c - '0');
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return (unsigned) (c - 'a' + 10);
    }

    return 16;
}


/*
 * The usage object's text read in one pass, as llm_json_parse() checks it
 * (RFC 8259, UTF-8, the nesting limit, the surrogate pairs cJSON takes),
 * keeping only the members llm_openai_usage() reads: the first of each
 * name, as llm_json_get() finds it.
 */

void
llm_openai_usage_json(const char *json, size_t len, llm_usage_t *u)
{
    int              escaped;
    size_t           depth;
    unsigned         want, details, seen, bit;
    long long        v[LLM_SCAN_COUNTS];
    unsigned char    stack[LLM_JSON_MAX_DEPTH / 8 + 1];
    const llm_uchar_t  *p, *q, *last;

    llm_usage_none(u);

    p = (const llm_uchar_t *) json;
    last = p + len;

    for (want = 0; want < LLM_SCAN_COUNTS; want++) {
        v[want] = -1;
    }

    depth = 0;
    want = LLM_SCAN_U_NONE;
    details = LLM_SCAN_U_NONE;
    seen = 0;

value:

    p = llm_scan_ws(p, last);

    if (p == last) {
        return;
    }

    switch (*p) {

    case '{':
    case '[':
        if (depth == LLM_JSON_MAX_DEPTH) {
            return;
        }

        if (depth % 8 == 0) {
            stack[depth / 8] = 0;

        } else {
            stack[depth / 8] &= (unsigned char) ~(1u << (depth % 8));
        }

        if (*p == '{') {
            stack[depth / 8] |= (unsigned char) (1u << (depth % 8));

            /* the first of its name: its counts are read */

            if (want == LLM_SCAN_U_PROMPT_DETAILS
                || want == LLM_SCAN_U_COMPLETION_DETAILS)
            {
                details = want;
            }

        } else if (depth == 0) {
            return;
        }

        depth++;
        want = LLM_SCAN_U_NONE;

        p = llm_scan_ws(p + 1, last);

        if (p == last) {
            return;
        }

        if (stack[(depth - 1) / 8] & (1u << ((depth - 1) % 8))) {
            if (*p == '}') {
                p++;
                goto close;
            }

            goto member;
        }

        if (*p == ']') {
            p++;
            goto close;
        }

        goto value;

    case '"':
        p = llm_scan_usage_string(p + 1, last, &escaped);
        break;

    case 't':
    case 'f':
    case 'n':
        p = llm_scan_usage_literal(p, last);
        break;

    default:
        q = llm_json_number_end(p, last);

        if (q != NULL && want < LLM_SCAN_COUNTS) {
            v[want] = llm_scan_usage_count(p, q, last);
        }

        p = q;
        break;
    }

    if (p == NULL || depth == 0) {
        return;
    }

    want = LLM_SCAN_U_NONE;

    goto next;

member:

    /* p is at a member's name */

    if (*p != '"') {
        return;
    }

    q = llm_scan_usage_string(p + 1, last, &escaped);

    if (q == NULL) {
        return;
    }

    want = LLM_SCAN_U_NONE;

    if (depth == 1 || (depth == 2 && details != LLM_SCAN_U_NONE)) {
        want = llm_scan_usage_name(p + 1, q - 1, escaped, depth, details);

        if (want != LLM_SCAN_U_NONE) {
            bit = 1u << want;

            if (seen & bit) {
                want = LLM_SCAN_U_NONE;

            } else {
                seen |= bit;
            }
        }
    }

    p = llm_scan_ws(q, last);

    if (p == last || *p != ':') {
        return;
    }

    p++;

    goto value;

close:

    /* a container has just been closed at p - 1 */

    if (--depth == 1) {
        details = LLM_SCAN_U_NONE;
    }

next:

    /* after a value: a separator, the container's end, or the text's end */

    p = llm_scan_ws(p, last);

    if (depth == 0) {
        if (p != last) {
            return;
        }

        goto done;
    }

    if (p == last) {
        return;
    }

    if (stack[(depth - 1) / 8] & (1u << ((depth - 1) % 8))) {
        if (*p == '}') {
            p++;
            goto close;
        }

        if (*p != ',') {
            return;
        }

        p = llm_scan_ws(p + 1, last);

        if (p == last) {
            return;
        }

        goto member;
    }

    if (*p == ']') {
        p++;
        goto close;
    }

    if (*p != ',') {
        return;
    }

    p++;

    goto value;

done:

    /* llm_openai_usage() */

    u->prompt_tokens = v[LLM_SCAN_U_PROMPT];
    u->completion_tokens = v[LLM_SCAN_U_COMPLETION];
    u->total_tokens = v[LLM_SCAN_U_TOTAL];

    if (u->total_tokens < 0) {
        u->total_tokens = llm_usage_add(u->prompt_tokens,
                                        u->completion_tokens);
    }

    u->cached_tokens = v[LLM_SCAN_U_CACHED];
    u->cache_write_tokens = -1;
    u->reasoning_tokens = v[LLM_SCAN_U_REASONING];
}


/* p..last: a checked member name's raw bytes; its id, in its object */

static unsigned
llm_scan_usage_name(const llm_uchar_t *p, const llm_uchar_t *last,
    int escaped, size_t depth, unsigned details)
{
    size_t                        len;
    const unsigned char          *id;
    const llm_scan_usage_name_t  *n;

    static const unsigned char  ids[] = {
        LLM_SCAN_U_PROMPT, LLM_SCAN_U_COMPLETION, LLM_SCAN_U_TOTAL,
        LLM_SCAN_U_PROMPT_DETAILS, LLM_SCAN_U_COMPLETION_DETAILS,
        LLM_SCAN_U_NONE,
        LLM_SCAN_U_CACHED, LLM_SCAN_U_NONE,
        LLM_SCAN_U_REASONING, LLM_SCAN_U_NONE
    };

    id = (depth == 1) ? &ids[0]
         : (details == LLM_SCAN_U_PROMPT_DETAILS) ? &ids[6] : &ids[8];

    len = (size_t) (last - p);

    for ( /* void */ ; *id != LLM_SCAN_U_NONE; id++) {
        n = &llm_scan_usage_names[*id];

        /* escaped: compared as cJSON does, on the value */

        if (escaped ? llm_json_key_eq(p, last, n->name)
                    : (len == n->len && memcmp(p, n->name, len) == 0))
        {
            return *id;
        }
    }

    return LLM_SCAN_U_NONE;
}


/* whitespace: mostly none in what providers send */

static const llm_uchar_t *
llm_scan_ws(const llm_uchar_t *p, const llm_uchar_t *last)
{
    if (p < last && *p <= ' ') {
        return llm_json_skip_ws(p, last);
    }

    return p;
}


/*
 * p is past the opening quote: past the closing quote when the string is
 * one llm_json_parse() takes, NULL otherwise
 */

static const llm_uchar_t *
llm_scan_usage_string(const llm_uchar_t *p, const llm_uchar_t *last,
    int *escaped)
{
    int  declined;

    p = llm_json_string_end(p, last, escaped, &declined);

    return p ? p + 1 : NULL;
}


static const llm_uchar_t *
llm_scan_usage_literal(const llm_uchar_t *p, const llm_uchar_t *last)
{
    size_t       n;
    const char  *lit;

    lit = (*p == 't') ? "true" : (*p == 'f') ? "false" : "null";
    n = strlen(lit);

    if ((size_t) (last - p) < n || memcmp(p, lit, n) != 0) {
        return NULL;
    }

    return p + n;
}


/*
 * The strict JSON number p..end as llm_json_count() reads it: strtod(),
 * -1 below 0, the fraction dropped, 2^53 at most.  Up to fifteen digits
 * are exact without it.  strtod() stops at end when it is followed by
 * what may follow a number in valid JSON; anything else makes the text
 * invalid, so that the count does not matter.
 */

static long long
llm_scan_usage_count(const llm_uchar_t *p, const llm_uchar_t *end,
    const llm_uchar_t *last)
{
    double              d;
    unsigned            c;
    long long           n;
    const llm_uchar_t  *q;

    if (end - p <= 15) {
        n = 0;

        for (q = p; q < end; q++) {
            c = (unsigned) *q - '0';

            if (c > 9) {
                goto slow;
            }

            n = n * 10 + c;
        }

        return n;
    }

slow:

    if (end == last
        || (*end != ',' && *end != '}' && *end != ']' && *end != ' '
            && *end != '\t' && *end != '\n' && *end != '\r'))
    {
        return -1;
    }

    d = strtod((const char *) p, NULL);

    /* false for NaN */

    if (!(d >= 0)) {
        return -1;
    }

    if (d > LLM_SCAN_COUNT_MAX) {
        d = LLM_SCAN_COUNT_MAX;
    }

    return (long long) d;
}
