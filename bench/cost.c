
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
    const llm_adapter_t  *adapter;
    const char           *data;
    size_t                len;
    const char           *answer;
    size_t                answer_len;
    const llm_request_t  *req;          /* parsed once, for decode() */
    llm_pool_t           *pool;
} cost_op_t;


static int cost_scan(const cost_op_t *op);
static void *cost_alloc(void *data, size_t size);
static void cost_reset(cost_pool_t *cp);
static char *cost_read(const char *name, size_t *len);
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
                      && strcmp(argv[1], "scan") != 0))
    {
        fprintf(stderr, "usage: cost request|response TYPE FILE N\n"
                        "       cost scan none|text FILE|- N\n");
        return 2;
    }

    memset(&op, 0, sizeof(cost_op_t));

    if (strcmp(argv[1], "scan") == 0) {
        op.scan = (strcmp(argv[2], "text") == 0) ? 2
                  : (strcmp(argv[2], "none") == 0) ? 1 : 0;
        ad = llm_adapter_find("openai", sizeof("openai") - 1);

    } else {
        ad = llm_adapter_find(argv[2], strlen(argv[2]));
    }

    n = atoi(argv[4]);

    if (ad == NULL || n <= 0 || (argv[1][0] == 's' && op.scan == 0)) {
        fprintf(stderr, "cost: unknown type \"%s\" or bad count\n", argv[2]);
        return 2;
    }

    memset(&cp, 0, sizeof(cost_pool_t));
    pool.alloc = cost_alloc;
    pool.data = &cp;

    op.response = (argv[1][2] == 's');
    op.adapter = ad;
    op.pool = &pool;

    if (op.scan) {
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
    llm_error_t         err;
    llm_request_t       req;
    llm_response_t      resp;
    llm_provider_t      p;
    llm_http_request_t  http;

    if (op->scan) {
        return cost_scan(op);
    }

    memset(&p, 0, sizeof(llm_provider_t));
    p.name = "bench";
    p.model = "bench-model";
    p.base_path = "/v1";

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
