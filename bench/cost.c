
/*
 * CPU cost of the translation core per request, for make bench under
 * valgrind --tool=callgrind --toggle-collect=cost_measure: instruction
 * counts do not drift with the machine's load, so they compare runs.
 *
 *   cost request TYPE BODY-FILE N    parse the client's body, encode it
 *                                    for a provider of TYPE, free: N times
 *   cost response TYPE ANSWER-FILE N decode a provider answer into an
 *                                    OpenAI chat.completion: N times
 *
 * Prints nothing: the counts are callgrind's.  Exits 1 when an operation
 * fails, so that a broken input does not pass for a cheap one.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_core.h"


typedef struct {
    void        **v;
    size_t        n;
    size_t        size;
} cost_pool_t;


typedef struct {
    int                   response;
    const llm_adapter_t  *adapter;
    const char           *data;
    size_t                len;
    const char           *answer;
    size_t                answer_len;
    const llm_request_t  *req;          /* parsed once, for decode() */
    llm_pool_t           *pool;
} cost_op_t;


static void *cost_alloc(void *data, size_t size);
static void cost_reset(cost_pool_t *cp);
static char *cost_read(const char *name, size_t *len);
int cost_measure(const cost_op_t *op);


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
                      && strcmp(argv[1], "response") != 0))
    {
        fprintf(stderr, "usage: cost request|response TYPE FILE N\n");
        return 2;
    }

    ad = llm_adapter_find(argv[2], strlen(argv[2]));
    n = atoi(argv[4]);

    if (ad == NULL || n <= 0) {
        fprintf(stderr, "cost: unknown type \"%s\" or bad count\n", argv[2]);
        return 2;
    }

    memset(&cp, 0, sizeof(cost_pool_t));
    pool.alloc = cost_alloc;
    pool.data = &cp;

    memset(&op, 0, sizeof(cost_op_t));
    op.response = (argv[1][2] == 's');
    op.adapter = ad;
    op.pool = &pool;

    if (op.response) {
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

    if (llm_request_parse(&req, op->data, op->len, &err) != 0) {
        return 1;
    }

    memset(&http, 0, sizeof(llm_http_request_t));

    rc = op->adapter->encode(&req, &p, op->pool, &http, &err);

    llm_request_free(&req);

    return rc;
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
