
/*
 * CPU cost of the translation core per request, for make bench under
 * valgrind --tool=callgrind --toggle-collect=cost_measure: instruction
 * counts do not drift with the machine's load, so they compare runs.
 *
 *   cost request TYPE BODY-FILE N    parse the client's body, encode it
 *                                    for a provider of TYPE, free: N times
 *   cost response TYPE ANSWER-FILE N decode a provider answer into an
 *                                    OpenAI chat.completion: N times
 *   cost scan none|text FILE N       scan a relayed OpenAI answer (FILE,
 *                                    or "-": a 600-byte one with the
 *                                    usage details) for its usage, finish
 *                                    reason and, with "text", content:
 *                                    N times
 *   cost stream TYPE SSE-FILE N      a provider's native event stream
 *                                    (bench/streams/) as the module
 *                                    handles it, the whole stream in one
 *                                    read: N times
 *   cost stream-events TYPE SSE-FILE N
 *                                    the same, one read per event
 *   cost cache-key any BODY-FILE N   the response cache's key of a
 *                                    client's body (parsed once, before):
 *                                    N times
 *   cost embed TYPE ANSWER-FILE N    a provider's embeddings answer to 96
 *                                    texts into an OpenAI list of floats
 *                                    (ANSWER-FILE "-": one of 96 x 1024
 *                                    numbers in TYPE's shape, made here):
 *                                    N times
 *   cost embed-base64 TYPE ANSWER-FILE N
 *                                    the same, in base64
 *
 * A stream's work is the glue's for any streamed answer, relayed (openai)
 * or translated: the look-ahead that decodes the first events until the
 * answer has begun (again from the start at each read, as the glue does),
 * then for every read the SSE framer, the adapter's stream decoder writing
 * OpenAI chunks, and the provider's key masked in what goes out
 * (llm_redact, a 51-byte key), and the end of the stream
 * (llm_stream_finish).  Instructions per event are the count over the
 * file's events.
 *
 * Prints nothing: the counts are callgrind's.  Exits 1 when an operation
 * fails, so that a broken input does not pass for a cheap one.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


typedef struct {
    void        **v;
    size_t        n;
    size_t        size;
} cost_pool_t;


typedef struct {
    int                   response;
    int                   scan;         /* 1 none, 2 with a text buffer */
    int                   stream;       /* 1 one read, 2 one per event */
    int                   key;          /* the cache key */
    int                   embed;        /* 1 floats, 2 base64 */
    const llm_adapter_t  *adapter;
    const char           *data;
    size_t                len;
    const char           *answer;
    size_t                answer_len;
    const llm_request_t  *req;          /* parsed once, for decode() */
    llm_pool_t           *pool;
    size_t               *reads;        /* the end of each read */
    size_t                nreads;
} cost_op_t;


typedef struct {
    llm_stream_t         *st;
    const llm_adapter_t  *adapter;
    llm_stream_out_t     *out;
    int                   peek;         /* the look-ahead: nothing goes out */
    int                   verdict;      /* 1 begun, 2 failed */
    int                   done;
} cost_stream_t;


static int cost_scan(const cost_op_t *op);
static int cost_stream(const cost_op_t *op);
static int cost_peek(const cost_op_t *op, const llm_stream_t *st,
    size_t len);
static int cost_stream_event(void *data, const llm_sse_event_t *ev);


/* as the module has it: one scratch for the events of every stream */

static char           cost_scratch_buf[32768];
static llm_scratch_t  cost_scratch;
static void cost_split(cost_op_t *op);
static void *cost_alloc(void *data, size_t size);
static void cost_reset(cost_pool_t *cp);
static char *cost_read(const char *name, size_t *len);
static char *cost_embed_answer(const char *type, size_t *len);
static char *cost_embed_request(int base64, size_t *len);
int cost_measure(const cost_op_t *op);


/* an OpenAI answer as it comes, 600 bytes */

static const char  cost_answer[] =
    "{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":"
    "\"chat.completion\",\"created\":1741569952,\"model\":"
    "\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"message\":"
    "{\"role\":\"assistant\",\"content\":\"Hello! How can I help you "
    "today?\",\"refusal\":null,"
    "\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,"
    "\"total_tokens\":29,\"prompt_tokens_details\":{\"cached_tokens\":0,"
    "\"audio_tokens\":0},\"completion_tokens_details\":"
    "{\"reasoning_tokens\":0,\"audio_tokens\":0,"
    "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}},"
    "\"service_tier\":\"default\",\"system_fingerprint\":"
    "\"fp_fc9f1d7035\"}";

static const char  cost_request[] =
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";

static const char  cost_stream_request[] =
    "{\"model\":\"m\",\"stream\":true,"
    "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";

/* a provider key of the usual length: masked in what goes out */

static const char  cost_key[] =
    "sk-bench-0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

/* the glue's buffers: llm_max_event_size and an output buffer */

static char  cost_sse_buf[32768];
static char  cost_peek_buf[32768];
static char  cost_out_buf[65536];


int
main(int argc, char **argv)
{
    int                   n, i;
    cost_op_t             op;
    cost_pool_t           cp;
    llm_error_t           err;
    llm_request_t         req;
    llm_pool_t            pool;
    const llm_adapter_t  *ad;

    if (argc != 5 || (strcmp(argv[1], "request") != 0
                      && strcmp(argv[1], "response") != 0
                      && strcmp(argv[1], "scan") != 0
                      && strcmp(argv[1], "stream") != 0
                      && strcmp(argv[1], "stream-events") != 0
                      && strcmp(argv[1], "cache-key") != 0
                      && strcmp(argv[1], "embed") != 0
                      && strcmp(argv[1], "embed-base64") != 0))
    {
        fprintf(stderr, "usage: cost request|response TYPE FILE N\n"
                        "       cost scan none|text FILE|- N\n"
                        "       cost stream|stream-events TYPE FILE N\n"
                        "       cost cache-key any FILE N\n"
                        "       cost embed|embed-base64 TYPE FILE|- N\n");
        return 2;
    }

    memset(&op, 0, sizeof(cost_op_t));

    llm_scratch_init(&cost_scratch, cost_scratch_buf,
                     sizeof(cost_scratch_buf));

    if (strncmp(argv[1], "stream", 6) == 0) {
        op.stream = (argv[1][6] == '\0') ? 1 : 2;
    }

    op.key = (strcmp(argv[1], "cache-key") == 0);

    if (strncmp(argv[1], "embed", 5) == 0) {
        op.embed = (argv[1][5] == '\0') ? 1 : 2;
    }

    if (strcmp(argv[1], "scan") == 0) {
        op.scan = (strcmp(argv[2], "text") == 0) ? 2
                  : (strcmp(argv[2], "none") == 0) ? 1 : 0;
        ad = llm_adapter_find("openai", sizeof("openai") - 1);

    } else if (op.key) {
        ad = llm_adapter_find("openai", sizeof("openai") - 1);

    } else {
        ad = llm_adapter_find(argv[2], strlen(argv[2]));
    }

    n = atoi(argv[4]);

    if (ad == NULL || n <= 0
        || (strcmp(argv[1], "scan") == 0 && op.scan == 0))
    {
        fprintf(stderr, "cost: unknown type \"%s\" or bad count\n", argv[2]);
        return 2;
    }

    memset(&cp, 0, sizeof(cost_pool_t));
    pool.alloc = cost_alloc;
    pool.data = &cp;

    op.response = (strcmp(argv[1], "response") == 0);
    op.adapter = ad;
    op.pool = &pool;

    if (op.stream) {
        if (ad->stream_event == NULL) {
            fprintf(stderr, "cost: \"%s\" has no stream decoder\n",
                    argv[2]);
            return 2;
        }

        op.data = cost_read(argv[3], &op.len);
        op.req = &req;

        if (llm_request_parse(&req, cost_stream_request,
                              sizeof(cost_stream_request) - 1, &err)
            != 0)
        {
            return 1;
        }

        cost_split(&op);

    } else if (op.key) {

        /* the tree with malloc(): it outlives the pool's resets */

        op.data = cost_read(argv[3], &op.len);
        op.req = &req;

        if (llm_request_parse(&req, op.data, op.len, &err) != 0) {
            return 1;
        }

    } else if (op.embed) {
        if (ad->embed_decode == NULL) {
            fprintf(stderr, "cost: \"%s\" has no embeddings decoder\n",
                    argv[2]);
            return 2;
        }

        op.answer = (strcmp(argv[3], "-") == 0)
                    ? cost_embed_answer(argv[2], &op.answer_len)
                    : cost_read(argv[3], &op.answer_len);

        /* the tree with malloc(): it outlives the pool's resets */

        op.data = cost_embed_request(op.embed == 2, &op.len);
        op.req = &req;

        if (llm_embed_parse_pool(&req, op.data, op.len, NULL, &err) != 0) {
            return 1;
        }

    } else if (op.scan) {
        if (strcmp(argv[3], "-") == 0) {
            op.answer = cost_answer;
            op.answer_len = sizeof(cost_answer) - 1;

        } else {
            op.answer = cost_read(argv[3], &op.answer_len);
        }

    } else if (op.response) {
        op.answer = cost_read(argv[3], &op.answer_len);
        op.req = &req;

        if (llm_request_parse(&req, cost_request, sizeof(cost_request) - 1,
                              &err) != 0)
        {
            return 1;
        }

    } else {
        op.data = cost_read(argv[3], &op.len);
    }

    for (i = 0; i < n; i++) {
        if (cost_measure(&op) != 0) {
            fprintf(stderr, "cost: %s %s %s failed\n",
                    argv[1], argv[2], argv[3]);
            return 1;
        }

        if (llm_arena_blocks() != 0) {
            fprintf(stderr, "cost: cJSON blocks left over\n");
            return 1;
        }

        cost_reset(&cp);
    }

    return 0;
}


/* one request's work; not inlined, so that callgrind can toggle on it */

__attribute__((noinline)) int
cost_measure(const cost_op_t *op)
{
    int                 rc;
    char               *key;
    size_t              len;
    llm_error_t         err;
    llm_request_t       req;
    llm_response_t      resp;
    llm_provider_t      p;
    llm_http_request_t  http;

    if (op->scan) {
        return cost_scan(op);
    }

    if (op->key) {
        return llm_cache_key(op->req, 0, op->pool, &key, &len, NULL);
    }

    if (op->stream) {
        return cost_stream(op);
    }

    memset(&p, 0, sizeof(llm_provider_t));
    p.name = "bench";
    p.model = "bench-model";
    p.base_path = "/v1";

    if (op->embed) {
        return op->adapter->embed_decode(op->req, &p, op->answer,
                                         op->answer_len, op->pool, &resp,
                                         &err);
    }

    if (op->response) {
        if (op->adapter->decode == NULL) {
            /* the answer is relayed as it is */
            return 0;
        }

        return op->adapter->decode(op->req, &p, op->answer, op->answer_len,
                                   1767225600, op->pool, &resp, &err);
    }

    /* the tree on the pool, as the module has it */

    if (llm_request_parse_pool(&req, op->data, op->len, op->pool, &err)
        != 0)
    {
        return 1;
    }

    memset(&http, 0, sizeof(llm_http_request_t));

    rc = op->adapter->encode(&req, &p, op->pool, &http, &err);

    llm_request_free(&req);

    return rc;
}


/* the relayed answer's bytes as they pass to the client, then its end */

static int
cost_scan(const cost_op_t *op)
{
    size_t             text_len;
    llm_usage_t        usage;
    const char        *finish_reason;
    static char        text[4096];
    static llm_scan_t  s;

    llm_scan_init(&s, (op->scan == 2) ? text : NULL, sizeof(text));

    llm_scan_feed(&s, op->answer, op->answer_len);

    if (llm_scan_finish(&s, &usage, &finish_reason, &text_len) != 0) {
        return 1;
    }

    /* a broken answer does not pass for a cheap one */

    return !llm_usage_known(&usage) || finish_reason == NULL
           || (op->scan == 2 && text_len == 0);
}


/*
 * A streamed answer, read by read, as ngx_http_llm_peek() and
 * ngx_http_llm_stream_data() handle it; 1 when it is not a whole answer.
 */

static int
cost_stream(const cost_op_t *op)
{
    int               begun;
    size_t            i, from;
    llm_sse_t         sse;
    llm_stream_t      st;
    llm_provider_t    p;
    cost_stream_t     cs;
    llm_stream_out_t  out;

    memset(&p, 0, sizeof(llm_provider_t));
    p.name = "bench";
    p.model = "bench-model";
    p.base_path = "/v1";
    p.api_key = cost_key;

    llm_stream_init(&st, op->req, &p, 1767225600);
    llm_sse_init(&sse, cost_sse_buf, sizeof(cost_sse_buf));

    out.buf = cost_out_buf;
    out.size = sizeof(cost_out_buf);
    out.len = 0;

    cs.st = &st;
    cs.adapter = op->adapter;
    cs.out = &out;
    cs.peek = 0;
    cs.verdict = 0;
    cs.done = 0;

    begun = 0;
    from = 0;

    for (i = 0; i < op->nreads; i++) {

        /* until the answer has begun, the look-ahead reads it all again */

        if (!begun) {
            begun = cost_peek(op, &st, op->reads[i]);

            if (begun == 2) {
                return 1;
            }

            if (!begun && i + 1 < op->nreads) {
                continue;
            }
        }

        if (llm_sse_feed(&sse, op->data + from, op->reads[i] - from,
                         cost_stream_event, &cs)
            != LLM_OK
            && !cs.done)
        {
            return 1;
        }

        from = op->reads[i];

        if (cs.done) {
            break;
        }
    }

    if (!cs.done && !op->adapter->stream_ends_with_body) {
        return 1;
    }

    out.len = 0;

    if (llm_stream_finish(&st, &out) != LLM_OK) {
        return 1;
    }

    (void) llm_redact(out.buf, out.len, cost_key, sizeof(cost_key) - 1);

    /* a broken stream does not pass for a cheap one */

    return !st.content || st.finish_reason == NULL
           || !llm_usage_known(&st.usage);
}


/* the look-ahead over the first len bytes: 1 begun, 2 failed, 0 not yet */

static int
cost_peek(const cost_op_t *op, const llm_stream_t *st, size_t len)
{
    llm_sse_t         sse;
    llm_stream_t      pst;
    cost_stream_t     cs;
    llm_stream_out_t  out;

    llm_sse_init(&sse, cost_peek_buf, sizeof(cost_peek_buf));

    pst = *st;
    pst.text = NULL;

    out.buf = cost_out_buf;
    out.size = sizeof(cost_out_buf);
    out.len = 0;

    cs.st = &pst;
    cs.adapter = op->adapter;
    cs.out = &out;
    cs.peek = 1;
    cs.verdict = 0;
    cs.done = 0;

    if (llm_sse_feed(&sse, op->data, len, cost_stream_event, &cs) != LLM_OK
        && cs.verdict == 0)
    {
        return 1;
    }

    return cs.verdict;
}


static int
cost_stream_event(void *data, const llm_sse_event_t *ev)
{
    cost_stream_t *cs = data;

    int          rc;
    llm_error_t  err;

    cs->out->len = 0;

    memset(&err, 0, sizeof(llm_error_t));

    rc = llm_stream_event(cs->adapter, &cost_scratch, cs->st, ev, cs->out,
                          &err);

    if (cs->peek) {
        if (rc == LLM_ERROR) {
            cs->verdict = 2;
            return LLM_ERROR;
        }

        if (rc == LLM_DONE || cs->st->content) {
            cs->verdict = 1;
            return LLM_ERROR;
        }

        return LLM_OK;
    }

    if (cs->out->len) {
        (void) llm_redact(cs->out->buf, cs->out->len, cost_key,
                          sizeof(cost_key) - 1);
    }

    if (rc == LLM_DONE) {
        cs->done = 1;
        return LLM_ERROR;
    }

    return rc;
}


/* the reads: the whole stream, or one per event (ending at a blank line) */

static void
cost_split(cost_op_t *op)
{
    size_t       i, n;
    const char  *d;

    op->reads = malloc((op->len + 1) * sizeof(size_t));
    if (op->reads == NULL) {
        exit(2);
    }

    n = 0;
    d = op->data;

    if (op->stream == 2) {
        for (i = 1; i < op->len; i++) {
            if (d[i] == '\n' && (d[i - 1] == '\n'
                                 || (i >= 3 && d[i - 1] == '\r'
                                     && d[i - 2] == '\n'
                                     && d[i - 3] == '\r')))
            {
                op->reads[n++] = i + 1;
            }
        }
    }

    if (n == 0 || op->reads[n - 1] != op->len) {
        op->reads[n++] = op->len;
    }

    op->nreads = n;
}


static void *
cost_alloc(void *data, size_t size)
{
    void         *m, **v;
    cost_pool_t  *cp;

    cp = data;

    if (cp->n == cp->size) {
        cp->size = cp->size ? cp->size * 2 : 64;

        v = realloc(cp->v, cp->size * sizeof(void *));
        if (v == NULL) {
            return NULL;
        }

        cp->v = v;
    }

    m = malloc(size);
    if (m != NULL) {
        cp->v[cp->n++] = m;
    }

    return m;
}


static void
cost_reset(cost_pool_t *cp)
{
    size_t  i;

    for (i = 0; i < cp->n; i++) {
        free(cp->v[i]);
    }

    cp->n = 0;
}


static char *
cost_read(const char *name, size_t *len)
{
    long   n;
    char  *buf;
    FILE  *f;

    f = fopen(name, "rb");
    if (f == NULL) {
        perror(name);
        exit(2);
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);

    buf = malloc(n + 1);
    if (buf == NULL || fread(buf, 1, n, f) != (size_t) n) {
        fprintf(stderr, "cost: cannot read %s\n", name);
        exit(2);
    }

    fclose(f);

    buf[n] = '\0';
    *len = (size_t) n;

    return buf;
}


#define COST_EMBED_N    96
#define COST_EMBED_DIM  1024


/*
 * An answer to COST_EMBED_N texts of COST_EMBED_DIM numbers as the
 * providers write them ("-0.012924194": nine decimals), in TYPE's shape
 */

static char *
cost_embed_answer(const char *type, size_t *len)
{
    int            gemini, mistral;
    char          *buf, *p;
    size_t         i, k;
    unsigned long  x;

    gemini = (strcmp(type, "gemini") == 0);
    mistral = (strcmp(type, "mistral") == 0);

    buf = malloc(COST_EMBED_N * (COST_EMBED_DIM * 14 + 128) + 256);
    if (buf == NULL) {
        exit(2);
    }

    p = buf;
    p += sprintf(p, gemini ? "{\"embeddings\":["
                    : mistral ? "{\"id\":\"e1\",\"object\":\"list\","
                                "\"data\":["
                    : "{\"id\":\"e1\",\"response_type\":"
                      "\"embeddings_by_type\",\"embeddings\":"
                      "{\"float\":[");

    x = 12345;

    for (i = 0; i < COST_EMBED_N; i++) {
        p += sprintf(p, "%s%s", i ? "," : "",
                     gemini ? "{\"values\":["
                     : mistral ? "{\"object\":\"embedding\","
                                 "\"embedding\":[" : "[");

        for (k = 0; k < COST_EMBED_DIM; k++) {
            x = x * 1103515245 + 12345;
            p += sprintf(p, "%s%s0.0%08lu", k ? "," : "",
                         (x >> 16) & 1 ? "-" : "", (x >> 3) % 100000000);
        }

        if (gemini) {
            p += sprintf(p, "]}");

        } else if (mistral) {
            p += sprintf(p, "],\"index\":%lu}", (unsigned long) i);

        } else {
            p += sprintf(p, "]");
        }
    }

    p += sprintf(p, gemini ? "]}"
                    : mistral ? "],\"model\":\"mistral-embed\","
                                "\"usage\":{\"prompt_tokens\":96,"
                                "\"total_tokens\":96}}"
                    : "]},\"meta\":{\"api_version\":{\"version\":\"2\"},"
                      "\"billed_units\":{\"input_tokens\":96}}}");

    *len = (size_t) (p - buf);

    return buf;
}


/* {"model":"m","input":["t0",...,"t95"][,"encoding_format":"base64"]} */

static char *
cost_embed_request(int base64, size_t *len)
{
    char    *buf, *p;
    size_t   i;

    buf = malloc(COST_EMBED_N * 8 + 128);
    if (buf == NULL) {
        exit(2);
    }

    p = buf + sprintf(buf, "{\"model\":\"m\",\"input\":[");

    for (i = 0; i < COST_EMBED_N; i++) {
        p += sprintf(p, "%s\"t%lu\"", i ? "," : "", (unsigned long) i);
    }

    p += sprintf(p, "]%s}", base64 ? ",\"encoding_format\":\"base64\"" : "");

    *len = (size_t) (p - buf);

    return buf;
}
