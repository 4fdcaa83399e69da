
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
 * kept raw and parsed at the end.  The input is not validated: garbage
 * gives no usage, no finish reason or less text, never a read or a write
 * out of bounds.
 */


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


typedef struct {
    size_t        level;
    const char   *name;
    unsigned      id;
} llm_scan_key_t;


static void llm_scan_byte(llm_scan_t *s, unsigned char c);
static void llm_scan_token(llm_scan_t *s, unsigned char c);
static void llm_scan_open(llm_scan_t *s, int object);
static void llm_scan_close(llm_scan_t *s);
static void llm_scan_comma(llm_scan_t *s);
static void llm_scan_string(llm_scan_t *s);
static void llm_scan_string_end(llm_scan_t *s);
static unsigned llm_scan_key(llm_scan_t *s);
static void llm_scan_unit(llm_scan_t *s, unsigned u);
static void llm_scan_code(llm_scan_t *s, unsigned code);
static void llm_scan_emit(llm_scan_t *s, unsigned char c);
static void llm_scan_keep(llm_scan_t *s, unsigned char c);
static unsigned llm_scan_hex(unsigned char c);


static const llm_scan_key_t  llm_scan_keys[] = {
    { 1, "usage", LLM_SCAN_USAGE },
    { 1, "choices", LLM_SCAN_CHOICES },
    { 3, "finish_reason", LLM_SCAN_FINISH },
    { 3, "message", LLM_SCAN_MESSAGE },
    { 4, "content", LLM_SCAN_CONTENT },
    { 0, NULL, LLM_SCAN_OTHER }
};


void
llm_scan_init(llm_scan_t *s, char *text, size_t text_size)
{
    memset(s, 0, sizeof(llm_scan_t));

    s->text = text;
    s->text_size = (text != NULL) ? text_size : 0;
    s->state = LLM_SCAN_VALUE;
    s->sink = LLM_SCAN_NONE;
}


void
llm_scan_feed(llm_scan_t *s, const char *p, size_t len)
{
    unsigned              capture;
    const unsigned char  *q, *last;

    if (len == 0) {
        return;
    }

    q = (const unsigned char *) p;
    last = q + len;

    while (q < last) {

        /* the bytes of a string that is not kept: skipped in a run */

        if (s->state == LLM_SCAN_STRING && s->sink == LLM_SCAN_NONE
            && !s->capture)
        {
            while (q < last && *q != '"' && *q != '\\') {
                q++;
            }

            if (q == last) {
                break;
            }
        }

        capture = s->capture;

        llm_scan_byte(s, *q);

        /* the usage object's bytes, from its '{' to its '}' */

        if (capture || s->capture) {
            llm_scan_keep(s, *q);
        }

        q++;
    }
}


int
llm_scan_finish(llm_scan_t *s, llm_usage_t *usage,
    const char **finish_reason, size_t *text_len)
{
    cJSON  *root;

    if (usage != NULL) {
        llm_usage_none(usage);

        if (s->usage_done && !s->usage_big) {
            root = llm_json_parse_strict(s->usage, s->usage_len);

            if (cJSON_IsObject(root)) {
                llm_openai_usage(root, usage);
            }

            cJSON_Delete(root);
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
        s->key[s->depth] = llm_scan_key(s);
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


/* the member name in s->word at this level: its id, once */

static unsigned
llm_scan_key(llm_scan_t *s)
{
    size_t                 n;
    unsigned               bit;
    const llm_scan_key_t  *k;

    n = s->word_len;

    if (n >= sizeof(s->word)) {
        return LLM_SCAN_OTHER;
    }

    for (k = llm_scan_keys; k->name != NULL; k++) {
        if (k->level != s->depth || strlen(k->name) != n
            || memcmp(k->name, s->word, n) != 0)
        {
            continue;
        }

        bit = 1u << (k->id - 1);

        if (s->seen & bit) {
            return LLM_SCAN_OTHER;
        }

        s->seen |= bit;

        return k->id;
    }

    return LLM_SCAN_OTHER;
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


static void
llm_scan_keep(llm_scan_t *s, unsigned char c)
{
    if (s->usage_len < sizeof(s->usage)) {
        s->usage[s->usage_len++] = (char) c;

    } else {
        s->usage_big = 1;
    }
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
