
/*
 * ngx_http_llm_router_module: OpenAI adapter.  The client already speaks
 * this wire format, so the body goes through untouched, except for the
 * "model" value when the provider configures one, and for streams, where
 * usage is always asked for (stream_options.include_usage): the gateway
 * needs it for billing, and the stream decoder drops the usage chunk when
 * the client did not ask for it.  Those changes patch the raw bytes; the
 * body is never re-serialised.
 */


#include <string.h>

#include "llm_internal.h"


/* body[start..end) replaced by raw, then str as a JSON string, then tail */

typedef struct {
    size_t        start;
    size_t        end;
    const char   *raw;
    const char   *str;
    const char   *tail;
} llm_openai_edit_t;


static int llm_openai_encode(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
static int llm_openai_stream_body(const llm_request_t *req,
    const char *model, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
static int llm_openai_usage_edit(const char *body, size_t len,
    llm_openai_edit_t *e);
static void llm_openai_body_write(llm_out_t *out, const char *body,
    size_t len, const llm_openai_edit_t *e, size_t n);
static int llm_openai_embed_encode(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
static int llm_openai_embed_body(const llm_request_t *req,
    const char *model, const llm_json_span_t *drop, llm_pool_t *pool,
    llm_http_request_t *out, llm_error_t *err);


const llm_adapter_t  llm_openai_adapter = {
    "openai",
    "https://api.openai.com/v1",
    llm_openai_encode,
    llm_compat_error,
    NULL,
    llm_openai_stream_event,
    0,
    llm_openai_embed_encode,
    NULL,                             /* relayed: OpenAI's own answer */
    LLM_EMBED_MAX_INPUTS,
    0
};


static int
llm_openai_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    if (llm_compat_head(p, "/chat/completions", pool, out, err) != LLM_OK) {
        return LLM_ERROR;
    }

    if (!req->stream || req->include_usage) {
        return llm_compat_body(req, p->model, pool, out, err);
    }

    return llm_openai_stream_body(req, p->model, pool, out, err);
}


static int
llm_openai_stream_body(const llm_request_t *req, const char *model,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    int                 rc, empty;
    size_t              n, pos;
    llm_out_t           o;
    llm_json_span_t     span;
    llm_openai_edit_t   e[2], t;

    if (req->root == NULL || req->body == NULL) {
        llm_error_set(err, 500, "server_error", NULL, NULL,
                      "the request was not parsed");
        return LLM_ERROR;
    }

    n = 0;

    if (model != NULL) {
        rc = llm_json_member(req->body, req->body_len, "model", &span);

        if (rc == LLM_OK) {
            e[n].start = span.value;
            e[n].end = span.end;
            e[n].raw = "";
            e[n].tail = "";

        } else if (rc == LLM_DECLINED
                   && llm_json_object_open(req->body, req->body_len, &pos,
                                           &empty)
                      == LLM_OK)
        {
            e[n].start = pos;
            e[n].end = pos;
            e[n].raw = "\"model\":";
            e[n].tail = empty ? "" : ",";

        } else {
            goto failed;
        }

        e[n].str = model;
        n++;
    }

    if (llm_openai_usage_edit(req->body, req->body_len, &e[n]) != LLM_OK) {
        goto failed;
    }

    n++;

    /* the edits touch different members: in order of position */

    if (n == 2 && e[0].start > e[1].start) {
        t = e[0];
        e[0] = e[1];
        e[1] = t;
    }

    o.buf = NULL;
    o.len = 0;
    o.size = 0;

    llm_openai_body_write(&o, req->body, req->body_len, e, n);

    if (llm_out_alloc(&o, pool) == NULL) {
        llm_error_set(err, 500, "server_error", NULL, NULL,
                      "out of memory");
        return LLM_ERROR;
    }

    llm_openai_body_write(&o, req->body, req->body_len, e, n);
    o.buf[o.len] = '\0';

    out->body = o.buf;
    out->body_len = o.len;

    return LLM_OK;

failed:

    llm_error_set(err, 500, "server_error", NULL, NULL,
                  "the request body could not be rewritten");

    return LLM_ERROR;
}


/*
 * "include_usage":true: its value replaced, or the member added to
 * "stream_options", or "stream_options" replaced (null) or added after
 * "stream" (which is there: the request streams).
 */

static int
llm_openai_usage_edit(const char *body, size_t len, llm_openai_edit_t *e)
{
    int               rc, empty;
    size_t            pos;
    llm_json_span_t   span, usage;

    e->str = NULL;
    e->tail = "";

    rc = llm_json_member(body, len, "stream_options", &span);

    if (rc == LLM_DECLINED) {
        if (llm_json_member(body, len, "stream", &span) != LLM_OK) {
            return LLM_ERROR;
        }

        e->start = span.end;
        e->end = span.end;
        e->raw = ",\"stream_options\":{\"include_usage\":true}";

        return LLM_OK;
    }

    if (rc != LLM_OK) {
        return LLM_ERROR;
    }

    body += span.value;
    len = span.end - span.value;

    if (llm_json_object_open(body, len, &pos, &empty) != LLM_OK) {
        e->start = span.value;
        e->end = span.end;
        e->raw = "{\"include_usage\":true}";

        return LLM_OK;
    }

    rc = llm_json_member(body, len, "include_usage", &usage);

    if (rc == LLM_OK) {
        e->start = span.value + usage.value;
        e->end = span.value + usage.end;
        e->raw = "true";

        return LLM_OK;
    }

    if (rc != LLM_DECLINED) {
        return LLM_ERROR;
    }

    e->start = span.value + pos;
    e->end = e->start;
    e->raw = "\"include_usage\":true";
    e->tail = empty ? "" : ",";

    return LLM_OK;
}


static void
llm_openai_body_write(llm_out_t *out, const char *body, size_t len,
    const llm_openai_edit_t *e, size_t n)
{
    size_t  i, at;

    at = 0;

    for (i = 0; i < n; i++) {
        llm_out_raw(out, body + at, e[i].start - at);
        llm_out_cstr(out, e[i].raw);

        if (e[i].str != NULL) {
            llm_out_str(out, e[i].str, strlen(e[i].str));
        }

        llm_out_cstr(out, e[i].tail);

        at = e[i].end;
    }

    llm_out_raw(out, body + at, len - at);
}


/*
 * Embeddings: the client's body relayed, with "model" replaced as for chat
 * and the gateway's "input_type" extension taken out, both in the
 * client's bytes (out->parts), never re-serialised.
 */

static int
llm_openai_embed_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    int              rc;
    llm_json_span_t  span;

    if (llm_embed_check(req, "openai", LLM_EMBED_MAX_INPUTS, 1, err)
        != LLM_OK
        || llm_compat_head(p, "/embeddings", pool, out, err) != LLM_OK)
    {
        return LLM_ERROR;
    }

    rc = llm_json_member(req->body, req->body_len, "input_type", &span);

    if (rc == LLM_DECLINED) {
        return llm_compat_body(req, p->model, pool, out, err);
    }

    if (rc != LLM_OK) {
        llm_error_set(err, 500, "server_error", NULL, NULL,
                      "the request body could not be rewritten");
        return LLM_ERROR;
    }

    return llm_openai_embed_body(req, p->model, &span, pool, out, err);
}


/*
 * The member at drop left out with the comma after it, or before it when
 * it is the last; the request has "input" too, so the object never ends
 * up empty.  With model, the "model" value replaced or the member added
 * first.
 */

static int
llm_openai_embed_body(const llm_request_t *req, const char *model,
    const llm_json_span_t *drop, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err)
{
    int                 rc, empty;
    size_t              i, n, at, pos, len;
    llm_out_t           o;
    const char         *b;
    llm_json_span_t     span;
    llm_openai_edit_t   e[2], t;

    b = req->body;
    len = req->body_len;

    /* the edits: start, end, and the text in e.raw ("" for none) */

    e[0].start = drop->key;
    e[0].end = drop->end;
    e[0].raw = "";

    for (pos = drop->end; pos < len; pos++) {
        if (b[pos] != ' ' && b[pos] != '\t' && b[pos] != '\n'
            && b[pos] != '\r')
        {
            break;
        }
    }

    if (pos < len && b[pos] == ',') {

        /* the comma and the whitespace after it */

        for (pos++; pos < len; pos++) {
            if (b[pos] != ' ' && b[pos] != '\t' && b[pos] != '\n'
                && b[pos] != '\r')
            {
                break;
            }
        }

        e[0].end = pos;

    } else {
        for (pos = drop->key; pos > 0; pos--) {
            if (b[pos - 1] != ' ' && b[pos - 1] != '\t'
                && b[pos - 1] != '\n' && b[pos - 1] != '\r')
            {
                break;
            }
        }

        if (pos > 0 && b[pos - 1] == ',') {
            e[0].start = pos - 1;
        }
    }

    n = 1;

    if (model != NULL) {
        rc = llm_json_member(b, len, "model", &span);

        if (rc == LLM_OK) {
            e[1].start = span.value;
            e[1].end = span.end;
            e[1].tail = "";

        } else if (rc == LLM_DECLINED
                   && llm_json_object_open(b, len, &pos, &empty) == LLM_OK)
        {
            e[1].start = pos;
            e[1].end = pos;
            e[1].tail = ",";

        } else {
            llm_error_set(err, 500, "server_error", NULL, NULL,
                          "the request body could not be rewritten");
            return LLM_ERROR;
        }

        /* measured, then written: "model":"..." and a comma, or "..." */

        o.buf = NULL;
        o.len = 0;
        o.size = 0;

        for (i = 0; i < 2; i++) {
            if (i == 1 && llm_out_alloc(&o, pool) == NULL) {
                llm_error_set(err, 500, "server_error", NULL, NULL,
                              "out of memory");
                return LLM_ERROR;
            }

            if (rc != LLM_OK) {
                llm_out_lit(&o, "\"model\":");
            }

            llm_out_str(&o, model, strlen(model));
            llm_out_cstr(&o, e[1].tail);
        }

        o.buf[o.len] = '\0';
        e[1].raw = o.buf;
        n = 2;

        /* in order of position; an insertion before a removal there */

        if (e[1].start < e[0].start
            || (e[1].start == e[0].start && e[1].end == e[1].start))
        {
            t = e[0];
            e[0] = e[1];
            e[1] = t;
        }
    }

    out->body = NULL;
    out->nparts = 0;
    out->body_len = 0;
    at = 0;

    for (i = 0; i < n; i++) {
        out->parts[out->nparts].data = b + at;
        out->parts[out->nparts].len = e[i].start - at;
        out->nparts++;

        if (e[i].raw[0] != '\0') {
            out->parts[out->nparts].data = e[i].raw;
            out->parts[out->nparts].len = strlen(e[i].raw);
            out->nparts++;
        }

        at = e[i].end;
    }

    out->parts[out->nparts].data = b + at;
    out->parts[out->nparts].len = len - at;
    out->nparts++;

    for (i = 0; i < out->nparts; i++) {
        out->body_len += out->parts[i].len;
    }

    return LLM_OK;
}
