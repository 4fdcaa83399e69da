
/*
 * ngx_http_llm_router_module: Server-Sent Events framer (the HTML
 * standard's event stream parsing, without "id" and "retry").
 *
 * The event is kept in the caller's buffer, in constant memory: the data
 * grows from the start (NUL-terminated at dispatch), the event name sits
 * at the end, NUL-terminated.  An "event" line's value is read just past
 * the data, then moved to the end when its line is over:
 *
 *   buf: data ... NUL | name being read | ... free ... | name NUL
 */


#include <string.h>

#include "llm_internal.h"

#if defined(__SSE2__) && !defined(LLM_NO_SSE2)
#include <emmintrin.h>
#endif


#define LLM_SSE_LINE         0      /* at the start of a line */
#define LLM_SSE_FIELD        1      /* in the field name */
#define LLM_SSE_DATA_SPACE   2      /* just past "data:" */
#define LLM_SSE_DATA         3
#define LLM_SSE_EVENT_SPACE  4      /* just past "event:" */
#define LLM_SSE_EVENT        5
#define LLM_SSE_SKIP         6      /* a comment or another field */
#define LLM_SSE_FAILED       7


static int llm_sse_field(llm_sse_t *sse);
static int llm_sse_line_end(llm_sse_t *sse, llm_sse_handler_pt handler,
    void *data);
static int llm_sse_dispatch(llm_sse_t *sse, llm_sse_handler_pt handler,
    void *data);
static int llm_sse_fits(const llm_sse_t *sse, size_t n);
static int llm_sse_name_fits(const llm_sse_t *sse, size_t n);
static size_t llm_sse_run(const char *p, size_t len);


void
llm_sse_init(llm_sse_t *sse, char *buf, size_t size)
{
    memset(sse, 0, sizeof(llm_sse_t));

    sse->buf = buf;
    sse->size = (buf != NULL) ? size : 0;
    sse->state = LLM_SSE_LINE;
}


int
llm_sse_feed(llm_sse_t *sse, const char *p, size_t len,
    llm_sse_handler_pt handler, void *data)
{
    char    c;
    size_t  i, n;

    if (sse->state == LLM_SSE_FAILED) {
        return LLM_ERROR;
    }

    for (i = 0; i < len; i++) {
        c = p[i];

        if (sse->skip_lf) {
            sse->skip_lf = 0;

            if (c == '\n') {
                continue;
            }
        }

        if (c == '\r' || c == '\n') {
            sse->skip_lf = (c == '\r');
            sse->line_len = 0;

            if (llm_sse_line_end(sse, handler, data) != LLM_OK) {
                goto failed;
            }

            continue;
        }

        switch (sse->state) {

        case LLM_SSE_LINE:

            if (c == ':') {
                sse->state = LLM_SSE_SKIP;
                break;
            }

            sse->field_len = 0;
            sse->state = LLM_SSE_FIELD;

            /* fall through */

        case LLM_SSE_FIELD:

            if (c == ':') {
                if (llm_sse_field(sse) != LLM_OK) {
                    goto failed;
                }

                break;
            }

            if (sse->field_len < sizeof(sse->field)) {
                sse->field[sse->field_len++] = c;

            } else {
                /* too long for a field the framer knows */
                sse->field_len = sizeof(sse->field) + 1;

                /*
                 * the lines that are not kept are bounded too (those
                 * that are, by the buffer): bytes without a line end are
                 * an error, not an endless skip
                 */

                if (++sse->line_len > sse->size) {
                    goto failed;
                }
            }

            break;

        case LLM_SSE_DATA_SPACE:

            sse->state = LLM_SSE_DATA;

            if (c == ' ') {
                break;
            }

            /* fall through */

        case LLM_SSE_DATA:

            n = llm_sse_run(p + i, len - i);

            if (!llm_sse_fits(sse, n)) {
                goto failed;
            }

            memcpy(sse->buf + sse->len, p + i, n);
            sse->len += n;

            i += n - 1;
            break;

        case LLM_SSE_EVENT_SPACE:

            sse->state = LLM_SSE_EVENT;

            if (c == ' ') {
                break;
            }

            /* fall through */

        case LLM_SSE_EVENT:

            n = llm_sse_run(p + i, len - i);

            if (!llm_sse_name_fits(sse, n)) {
                goto failed;
            }

            memcpy(sse->buf + sse->len + 1 + sse->field_len, p + i, n);
            sse->field_len += n;

            i += n - 1;
            break;

        default: /* LLM_SSE_SKIP */

            n = llm_sse_run(p + i, len - i);

            if (n > sse->size - sse->line_len) {
                goto failed;
            }

            sse->line_len += n;

            i += n - 1;
            break;
        }
    }

    return LLM_OK;

failed:

    sse->state = LLM_SSE_FAILED;

    return LLM_ERROR;
}


/* the field name is over (a colon or the line's end) */

static int
llm_sse_field(llm_sse_t *sse)
{
    if (sse->field_len == sizeof("data") - 1
        && memcmp(sse->field, "data", sizeof("data") - 1) == 0)
    {
        /* the lines of an event's data are joined with "\n" */

        if (!llm_sse_fits(sse, sse->has_data ? 1 : 0)) {
            return LLM_ERROR;
        }

        if (sse->has_data) {
            sse->buf[sse->len++] = '\n';
        }

        sse->has_data = 1;
        sse->state = LLM_SSE_DATA_SPACE;

        return LLM_OK;
    }

    if (sse->field_len == sizeof("event") - 1
        && memcmp(sse->field, "event", sizeof("event") - 1) == 0)
    {
        /* the last name wins: the previous one goes at once */

        sse->has_event = 0;
        sse->event_len = 0;
        sse->field_len = 0;

        if (!llm_sse_name_fits(sse, 0)) {
            return LLM_ERROR;
        }

        sse->state = LLM_SSE_EVENT_SPACE;

        return LLM_OK;
    }

    sse->state = LLM_SSE_SKIP;

    return LLM_OK;
}


static int
llm_sse_line_end(llm_sse_t *sse, llm_sse_handler_pt handler, void *data)
{
    size_t  n;

    if (sse->state == LLM_SSE_LINE) {
        return llm_sse_dispatch(sse, handler, data);
    }

    if (sse->state == LLM_SSE_FIELD) {
        /* a field without a colon: its value is "" */

        if (llm_sse_field(sse) != LLM_OK) {
            return LLM_ERROR;
        }
    }

    if (sse->state == LLM_SSE_EVENT_SPACE || sse->state == LLM_SSE_EVENT) {
        n = sse->field_len;

        memmove(sse->buf + sse->size - 1 - n, sse->buf + sse->len + 1, n);
        sse->buf[sse->size - 1] = '\0';

        sse->event_len = n;
        sse->has_event = 1;
        sse->field_len = 0;
    }

    sse->state = LLM_SSE_LINE;

    return LLM_OK;
}


static int
llm_sse_dispatch(llm_sse_t *sse, llm_sse_handler_pt handler, void *data)
{
    int              rc;
    llm_sse_event_t  ev;

    rc = LLM_OK;

    if (sse->has_data && handler != NULL) {
        sse->buf[sse->len] = '\0';

        ev.data = sse->buf;
        ev.data_len = sse->len;

        if (sse->has_event) {
            ev.event = sse->buf + sse->size - 1 - sse->event_len;
            ev.event_len = sse->event_len;

        } else {
            ev.event = "";
            ev.event_len = 0;
        }

        rc = handler(data, &ev);
    }

    sse->len = 0;
    sse->event_len = 0;
    sse->has_data = 0;
    sse->has_event = 0;

    return (rc == LLM_OK) ? LLM_OK : LLM_ERROR;
}


/*
 * Whether the data can grow by n bytes: the data, its NUL, the name and
 * its NUL must fit.
 */

static int
llm_sse_fits(const llm_sse_t *sse, size_t n)
{
    size_t  used;

    used = sse->len + 1;

    if (sse->has_event) {
        used += sse->event_len + 1;
    }

    return (used <= sse->size && n <= sse->size - used);
}


/* whether the name being read can grow by n bytes */

static int
llm_sse_name_fits(const llm_sse_t *sse, size_t n)
{
    size_t  used;

    /* the data, its NUL, the name so far, its NUL */

    used = sse->len + 1 + sse->field_len + 1;

    return (used <= sse->size && n <= sse->size - used);
}


/* the length of the run of bytes before the next CR or LF */

static size_t
llm_sse_run(const char *p, size_t len)
{
    size_t    i;
#if defined(__SSE2__) && !defined(LLM_NO_SSE2)
    int       m;
    __m128i   x, cr, lf;

    /* sixteen bytes at a time: a data line is most of a stream's bytes */

    cr = _mm_set1_epi8('\r');
    lf = _mm_set1_epi8('\n');

    for (i = 0; len - i >= 16; i += 16) {
        x = _mm_loadu_si128((const __m128i *) (p + i));

        m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, cr),
                                           _mm_cmpeq_epi8(x, lf)));

        if (m != 0) {
            return i + (size_t) __builtin_ctz((unsigned) m);
        }
    }

#else
    i = 0;
#endif

    for ( /* void */ ; i < len; i++) {
        if (p[i] == '\r' || p[i] == '\n') {
            break;
        }
    }

    return i;
}
