
/*
 * Streaming load for the benchmarks: keeps CONCURRENCY streamed chat
 * requests open against a URL until STREAMS have completed, and reports
 * time to first token (request sent -> first SSE event that carries
 * answer content) and inter-token latency (gap between successive SSE
 * events of any kind) percentiles, in microseconds, as one line of JSON.
 *
 * An event carries content when it is an OpenAI chunk with a non-empty
 * "content" string or "tool_calls" (the role chunk, "content":"", does
 * not), or an Anthropic "content_block_delta" (straight to that mock).
 * Only the first SC_EVENT_SIZE bytes of an event are looked at.
 *
 *   stream-client URL STREAMS CONCURRENCY BODY-FILE
 *
 * libcurl's multi interface, one thread: the client costs little next to
 * what it measures.
 */


#define _POSIX_C_SOURCE  200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>


typedef struct {
    double       *v;
    size_t        n;
    size_t        size;
} sc_samples_t;


#define SC_EVENT_SIZE  4096


typedef struct {
    CURL         *easy;
    double        start;
    double        last;             /* time of the previous event */
    size_t        events;
    int           tail;             /* the previous byte was '\n' */
    int           answered;         /* an event with content came */
    size_t        len;              /* of the event so far, in ev */
    char          ev[SC_EVENT_SIZE + 1];
} sc_stream_t;


static double sc_now(void);
static void sc_add(sc_samples_t *s, double v);
static int sc_cmp(const void *a, const void *b);
static double sc_pct(sc_samples_t *s, double p);
static size_t sc_write(char *data, size_t size, size_t n, void *arg);
static int sc_content(char *ev, size_t len);
static int sc_start(CURLM *multi, sc_stream_t *st, const char *url,
    const char *body, long len, struct curl_slist *headers);


static sc_samples_t  sc_ttft;
static sc_samples_t  sc_itl;
static size_t        sc_events;
static int           sc_no_content;   /* streams without content */


int
main(int argc, char **argv)
{
    int                 running, left, i, ok, failed, started, total;
    int                 concurrency;
    long                len, status;
    char               *body;
    FILE               *f;
    CURLM              *multi;
    CURLMsg            *msg;
    sc_stream_t        *streams, *st;
    struct curl_slist  *headers;

    if (argc != 5) {
        fprintf(stderr, "usage: stream-client URL STREAMS CONCURRENCY "
                "BODY-FILE\n");
        return 2;
    }

    total = atoi(argv[2]);
    concurrency = atoi(argv[3]);

    if (total <= 0 || concurrency <= 0) {
        fprintf(stderr, "stream-client: bad counts\n");
        return 2;
    }

    if (concurrency > total) {
        concurrency = total;
    }

    f = fopen(argv[4], "rb");
    if (f == NULL) {
        perror(argv[4]);
        return 2;
    }

    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);

    body = malloc(len + 1);
    if (body == NULL || fread(body, 1, len, f) != (size_t) len) {
        fprintf(stderr, "stream-client: cannot read %s\n", argv[4]);
        return 2;
    }

    fclose(f);

    curl_global_init(CURL_GLOBAL_DEFAULT);

    multi = curl_multi_init();
    streams = calloc(concurrency, sizeof(sc_stream_t));

    if (multi == NULL || streams == NULL) {
        fprintf(stderr, "stream-client: out of memory\n");
        return 1;
    }

    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long) concurrency);

    headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Authorization: Bearer bench");
    headers = curl_slist_append(headers, "Expect:");

    started = 0;
    ok = 0;
    failed = 0;

    for (i = 0; i < concurrency; i++) {
        if (sc_start(multi, &streams[i], argv[1], body, len, headers) != 0) {
            return 1;
        }

        started++;
    }

    do {
        curl_multi_perform(multi, &running);

        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }

            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
                              (char **) &st);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE,
                              &status);

            if (msg->data.result == CURLE_OK && status == 200
                && st->events > 0)
            {
                ok++;
                sc_no_content += !st->answered;

            } else {
                failed++;
            }

            curl_multi_remove_handle(multi, st->easy);
            curl_easy_reset(st->easy);

            if (started < total) {
                if (sc_start(multi, st, argv[1], body, len, headers) != 0) {
                    return 1;
                }

                started++;
                running = 1;
            }
        }

        if (running) {
            curl_multi_poll(multi, NULL, 0, 100, NULL);
        }

    } while (running);

    printf("{\"streams\":%d,\"failed\":%d,"
           "\"ttft_us\":{\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,"
           "\"max\":%.0f},"
           "\"itl_us\":{\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,"
           "\"max\":%.0f},\"events\":%zu,\"no_content\":%d}\n",
           ok, failed,
           sc_pct(&sc_ttft, 50), sc_pct(&sc_ttft, 90), sc_pct(&sc_ttft, 99),
           sc_pct(&sc_ttft, 100),
           sc_pct(&sc_itl, 50), sc_pct(&sc_itl, 90), sc_pct(&sc_itl, 99),
           sc_pct(&sc_itl, 100), sc_events, sc_no_content);

    return failed ? 1 : 0;
}


static int
sc_start(CURLM *multi, sc_stream_t *st, const char *url, const char *body,
    long len, struct curl_slist *headers)
{
    if (st->easy == NULL) {
        st->easy = curl_easy_init();
        if (st->easy == NULL) {
            fprintf(stderr, "stream-client: curl_easy_init() failed\n");
            return 1;
        }
    }

    st->events = 0;
    st->tail = 0;
    st->answered = 0;
    st->len = 0;

    curl_easy_setopt(st->easy, CURLOPT_URL, url);
    curl_easy_setopt(st->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(st->easy, CURLOPT_POSTFIELDSIZE, len);
    curl_easy_setopt(st->easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(st->easy, CURLOPT_WRITEFUNCTION, sc_write);
    curl_easy_setopt(st->easy, CURLOPT_WRITEDATA, st);
    curl_easy_setopt(st->easy, CURLOPT_PRIVATE, (char *) st);
    curl_easy_setopt(st->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(st->easy, CURLOPT_TIMEOUT, 60L);

    st->start = sc_now();
    st->last = st->start;

    return curl_multi_add_handle(multi, st->easy) != CURLM_OK;
}


/* an event ends with an empty line: "\n\n", also across chunks */

static size_t
sc_write(char *data, size_t size, size_t n, void *arg)
{
    size_t        i;
    double        now;
    sc_stream_t  *st;

    st = arg;
    n *= size;
    now = sc_now();

    for (i = 0; i < n; i++) {
        if (st->len < SC_EVENT_SIZE) {
            st->ev[st->len++] = data[i];
        }

        if (data[i] != '\n') {
            st->tail = 0;
            continue;
        }

        if (!st->tail) {
            st->tail = 1;
            continue;
        }

        st->tail = 0;

        if (!st->answered && sc_content(st->ev, st->len)) {
            sc_add(&sc_ttft, now - st->start);
            st->answered = 1;
        }

        if (st->events > 0) {
            sc_add(&sc_itl, now - st->last);
        }

        sc_events++;
        st->events++;
        st->last = now;
        st->len = 0;
    }

    return n;
}


/*
 * Whether an event carries answer content: a "content" member whose value
 * is a non-empty string, a "tool_calls" member, or an Anthropic text delta
 */

static int
sc_content(char *ev, size_t len)
{
    char  *p;

    ev[len] = '\0';

    if (strstr(ev, "content_block_delta") != NULL) {
        return 1;
    }

    /* a key, not the finish_reason "tool_calls" */

    for (p = ev; (p = strstr(p, "\"tool_calls\"")) != NULL; /* void */) {
        p += sizeof("\"tool_calls\"") - 1;
        p += strspn(p, " \t");

        if (*p == ':') {
            return 1;
        }
    }

    for (p = ev; (p = strstr(p, "\"content\"")) != NULL; /* void */) {
        p += sizeof("\"content\"") - 1;
        p += strspn(p, " \t");

        if (*p != ':') {
            continue;
        }

        p++;
        p += strspn(p, " \t");

        if (p[0] == '"' && p[1] != '"' && p[1] != '\0') {
            return 1;
        }
    }

    return 0;
}


static double
sc_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}


static void
sc_add(sc_samples_t *s, double v)
{
    double  *a;

    if (s->n == s->size) {
        s->size = s->size ? s->size * 2 : 4096;

        a = realloc(s->v, s->size * sizeof(double));
        if (a == NULL) {
            fprintf(stderr, "stream-client: out of memory\n");
            exit(1);
        }

        s->v = a;
    }

    s->v[s->n++] = v;
}


static int
sc_cmp(const void *a, const void *b)
{
    double  x, y;

    x = *(const double *) a;
    y = *(const double *) b;

    return (x > y) - (x < y);
}


static double
sc_pct(sc_samples_t *s, double p)
{
    size_t  i;

    if (s->n == 0) {
        return 0;
    }

    qsort(s->v, s->n, sizeof(double), sc_cmp);

    i = (size_t) (p / 100 * s->n);

    return s->v[i < s->n ? i : s->n - 1];
}
