
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


/*
 * The upstream side: each provider is a peer of a private upstream whose
 * peer hooks pick the provider and build its request on every attempt;
 * the HTTP/1.1 response is parsed with NGINX's own parsers and its body
 * goes through a non-buffered input filter.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_router.h"


#define NGX_HTTP_LLM_KEEPALIVE_TIMEOUT   60000
#define NGX_HTTP_LLM_KEEPALIVE_TIME      3600000
#define NGX_HTTP_LLM_KEEPALIVE_REQUESTS  1000


/*
 * A stream's first events, decoded on the side (a copy of the decoder's
 * state, the output thrown away) while the client has got nothing yet:
 * an error before the answer has begun is the provider's error answer,
 * and fails over like one.
 */

struct ngx_http_llm_peek_s {
    u_char                        *body;          /* in u->buffer */
    llm_sse_t                      sse;
    llm_stream_t                   st;
    llm_stream_out_t               out;
    llm_error_t                    err;
    ngx_uint_t                     verdict;
};


#define NGX_HTTP_LLM_PEEK_WAIT     0
#define NGX_HTTP_LLM_PEEK_BEGUN    1              /* or over, or unknown */
#define NGX_HTTP_LLM_PEEK_FAILED   2

#define NGX_HTTP_LLM_PEEK_KEEP     65536          /* scratch kept, bytes */


/* a buffer of the worker, see ngx_http_llm_peek_buf() */
typedef struct {
    u_char                        *buf;
    size_t                         size;
} ngx_http_llm_peek_buf_t;


static ngx_int_t ngx_http_llm_encode(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_provider_t *p);
static ngx_int_t ngx_http_llm_create_request(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_reinit_request(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_process_status_line(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_process_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_header_done(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_uint_t ngx_http_llm_decodes(ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_check_answer(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_first_chunk(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_process_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_dechunk(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_data_pt handler);
static ngx_int_t ngx_http_llm_collect(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, u_char *pos, size_t size);
static ngx_int_t ngx_http_llm_translate(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_uint_t ngx_http_llm_status_ft(ngx_uint_t status);
static void ngx_http_llm_retry_header(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_error_answer(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_uint_t status);
static u_char *ngx_http_llm_peek_buf(ngx_http_llm_peek_buf_t *sb,
    size_t size, ngx_log_t *log);
static ngx_int_t ngx_http_llm_peek_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_peek(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_peek_read(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_peek_data(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, u_char *pos, size_t size);
static int ngx_http_llm_peek_event(void *data, const llm_sse_event_t *ev);
static ngx_int_t ngx_http_llm_peek_failed(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_stream_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_stream_data(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, u_char *pos, size_t size);
static int ngx_http_llm_stream_event(void *data, const llm_sse_event_t *ev);
static void ngx_http_llm_mask_message(ngx_http_llm_ctx_t *ctx,
    llm_error_t *err);
static ngx_int_t ngx_http_llm_stream_end(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_int_t rc, ngx_uint_t last);
static llm_stream_out_t *ngx_http_llm_stream_out(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, size_t need);
static void ngx_http_llm_stream_sent(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, llm_stream_out_t *out);
static ngx_int_t ngx_http_llm_input_filter_init(void *data);
static ngx_int_t ngx_http_llm_input_filter(void *data, ssize_t bytes);
static ngx_int_t ngx_http_llm_body_data(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, u_char *pos, size_t size);
static ngx_int_t ngx_http_llm_relay(ngx_http_request_t *r, u_char *pos,
    size_t size);
static ngx_int_t ngx_http_llm_relay_masked(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, u_char *pos, size_t size);
static void ngx_http_llm_out_commit(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, llm_stream_out_t *out);
static ngx_int_t ngx_http_llm_scan_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static void ngx_http_llm_abort_request(ngx_http_request_t *r);
static void ngx_http_llm_finalize_request(ngx_http_request_t *r,
    ngx_int_t rc);

static ngx_int_t ngx_http_llm_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_llm_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_llm_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state);
static void ngx_http_llm_keepalive_close_handler(ngx_event_t *ev);
static void ngx_http_llm_keepalive_dummy_handler(ngx_event_t *ev);
static void ngx_http_llm_keepalive_close(ngx_connection_t *c);

#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_llm_set_session(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_llm_save_session(ngx_peer_connection_t *pc, void *data);
static ngx_ssl_session_t **ngx_http_llm_session_slot(ngx_http_request_t *r);
static void ngx_http_llm_free_sessions(void *data);
static ngx_int_t ngx_http_llm_set_ssl(ngx_conf_t *cf,
    ngx_http_llm_loc_conf_t *conf);
#endif


static ngx_http_llm_peek_buf_t  ngx_http_llm_peek_sse;
static ngx_http_llm_peek_buf_t  ngx_http_llm_peek_out;

/*
 * The scanners of relayed answers (1 KB each, too large for the request
 * pool's first block) are the worker's: taken from a free list and given
 * back when the request's pool is destroyed, at most
 * NGX_HTTP_LLM_SCANS_KEEP of them kept.
 */

#define NGX_HTTP_LLM_SCANS_KEEP  64

typedef union ngx_http_llm_scan_u  ngx_http_llm_scan_t;

union ngx_http_llm_scan_u {
    llm_scan_t            scan;
    ngx_http_llm_scan_t  *next;                 /* while it is free */
};

static ngx_http_llm_scan_t     *ngx_http_llm_scans;
static ngx_uint_t               ngx_http_llm_nscans;

/* the cJSON work of one stream event, for every stream of the worker */
static llm_scratch_t            ngx_http_llm_event_scratch;
static char                     ngx_http_llm_event_buf[32768];


static ngx_str_t  ngx_http_llm_hide_headers[] = {
    ngx_string("Date"),
    ngx_string("Server"),
    ngx_string("X-Pad"),
    ngx_string("X-Accel-Expires"),
    ngx_string("X-Accel-Redirect"),
    ngx_string("X-Accel-Limit-Rate"),
    ngx_string("X-Accel-Buffering"),
    ngx_string("X-Accel-Charset"),
    ngx_string("Set-Cookie"),
    ngx_string("Alt-Svc"),
    ngx_string("Strict-Transport-Security"),
    ngx_string("OpenAI-Organization"),
    ngx_string("OpenAI-Project"),
    ngx_string("Anthropic-Organization-Id"),
    ngx_string("CF-Ray"),
    ngx_string("CF-Cache-Status"),
    ngx_string("Report-To"),
    ngx_string("NEL"),
    ngx_string("Via"),
    ngx_string("Retry-After"),
    ngx_null_string
};


ngx_int_t
ngx_http_llm_upstream_start(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_http_upstream_t      *u;
    ngx_http_llm_loc_conf_t  *lcf;

    rc = ngx_http_llm_encode(r, ctx, ctx->provider);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_upstream_create(r) != NGX_OK) {
        return NGX_ERROR;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    u = r->upstream;

    ngx_str_set(&u->schema, "http://");
    u->output.tag = (ngx_buf_tag_t) &ngx_http_llm_router_module;
    u->conf = &lcf->upstream;

    u->create_request = ngx_http_llm_create_request;
    u->reinit_request = ngx_http_llm_reinit_request;
    u->process_header = ngx_http_llm_process_status_line;
    u->abort_request = ngx_http_llm_abort_request;
    u->finalize_request = ngx_http_llm_finalize_request;

    u->input_filter_init = ngx_http_llm_input_filter_init;
    u->input_filter = ngx_http_llm_input_filter;
    u->input_filter_ctx = r;

    u->buffering = 0;

    ngx_http_upstream_init(r);

    return NGX_OK;
}


/*
 * Translates the client's request for provider "p"; the result is kept
 * in the context until the next provider is tried.
 */

static ngx_int_t
ngx_http_llm_encode(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_provider_t *p)
{
    int                  rc;
    size_t               len, method_len, path_len, name_len, value_len;
    u_char              *last;
    ngx_buf_t           *b;
    ngx_uint_t           i;
    llm_pool_t           pool;
    llm_http_request_t   hr;

    if (ctx->encoded == p) {
        return NGX_OK;
    }

    pool.alloc = ngx_http_llm_pool_alloc;
    pool.data = r->pool;

    ngx_memzero(&hr, sizeof(llm_http_request_t));

    rc = ctx->embed
         ? p->adapter->embed_encode(&ctx->req, &p->core, &pool, &hr,
                                    &ctx->err)
         : p->adapter->encode(&ctx->req, &p->core, &pool, &hr, &ctx->err);

    if (rc != LLM_OK) {
        ctx->has_err = 1;

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: request cannot be sent to provider \"%V\": %s",
                      &p->name, ctx->err.message);

        return ctx->err.status ? ctx->err.status
                               : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    method_len = ngx_strlen(hr.method);
    path_len = ngx_strlen(hr.path);

    len = method_len + 1 + path_len
          + sizeof(" HTTP/1.1" CRLF "Host: ") - 1 + p->host_header.len
          + sizeof(CRLF "Content-Type: application/json" CRLF
                   "Content-Length: ") - 1
          + NGX_SIZE_T_LEN + sizeof(CRLF) - 1
          + sizeof(CRLF) - 1;

    for (i = 0; i < hr.nheaders; i++) {
        len += ngx_strlen(hr.headers[i].name) + sizeof(": ") - 1
               + ngx_strlen(hr.headers[i].value) + sizeof(CRLF) - 1;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    /* copied piece by piece: ngx_sprintf() costs more than the copies */

    last = ngx_cpymem(b->last, hr.method, method_len);
    *last++ = ' ';
    last = ngx_cpymem(last, hr.path, path_len);
    last = ngx_cpymem(last, " HTTP/1.1" CRLF "Host: ",
                      sizeof(" HTTP/1.1" CRLF "Host: ") - 1);
    last = ngx_cpymem(last, p->host_header.data, p->host_header.len);
    last = ngx_cpymem(last, CRLF "Content-Type: application/json" CRLF
                            "Content-Length: ",
                      sizeof(CRLF "Content-Type: application/json" CRLF
                             "Content-Length: ") - 1);
    last = ngx_sprintf(last, "%uz", hr.body_len);
    *last++ = CR; *last++ = LF;

    for (i = 0; i < hr.nheaders; i++) {
        name_len = ngx_strlen(hr.headers[i].name);
        value_len = ngx_strlen(hr.headers[i].value);

        last = ngx_cpymem(last, hr.headers[i].name, name_len);
        *last++ = ':'; *last++ = ' ';
        last = ngx_cpymem(last, hr.headers[i].value, value_len);
        *last++ = CR; *last++ = LF;
    }

    *last++ = CR; *last++ = LF;

    b->last = last;

    ctx->head.data = b->pos;
    ctx->head.len = b->last - b->pos;

    if (hr.body != NULL || hr.nparts == 0) {
        ctx->body[0].data = (u_char *) hr.body;
        ctx->body[0].len = hr.body_len;
        ctx->nbody = 1;

    } else {
        for (i = 0; i < hr.nparts; i++) {
            ctx->body[i].data = (u_char *) hr.parts[i].data;
            ctx->body[i].len = hr.parts[i].len;
        }

        ctx->nbody = hr.nparts;
    }

    ctx->path.data = (u_char *) hr.path;
    ctx->path.len = path_len;
    ctx->encoded = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_create_request(ngx_http_request_t *r)
{
    /* the request is built for each attempt by the peer's get() */

    r->upstream->request_bufs = NULL;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_reinit_request(ngx_http_request_t *r)
{
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    ngx_memzero(&ctx->status, sizeof(ngx_http_status_t));
    ngx_memzero(&ctx->chunked, sizeof(ngx_http_chunked_t));

    /* the answer kept so far, or u->buffer's: a new one is allocated */

    ctx->acc_len = 0;
    ctx->acc_size = 0;
    ctx->rest = 0;
    ctx->out.len = 0;
    ctx->collect = 0;
    ctx->translated = 0;
    ctx->late = 0;
    ctx->late_done = 0;
    ctx->streaming = 0;
    ctx->stream_over = 0;
    ctx->stream_failed = 0;
    ctx->finish_reason = NULL;
    ctx->completion.len = 0;
    ctx->received = 0;
    ctx->held_len = 0;

    /* the key that must not reach the client, in anything relayed */

    ctx->key_len = ctx->provider->core.api_key
                   ? ngx_strlen(ctx->provider->core.api_key) : 0;

    if (ctx->key_len < LLM_REDACT_MIN) {
        ctx->key_len = 0;
    }

    ctx->scan = NULL;

    r->state = 0;
    r->upstream->process_header = ngx_http_llm_process_status_line;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_process_status_line(ngx_http_request_t *r)
{
    size_t                 len;
    ngx_int_t              rc;
    ngx_http_upstream_t   *u;
    ngx_http_llm_ctx_t    *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);
    u = r->upstream;

    rc = ngx_http_parse_status_line(r, &u->buffer, &ctx->status);

    if (rc == NGX_AGAIN) {
        return rc;
    }

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: provider \"%V\" sent no valid HTTP/1.x status "
                      "line", &ctx->provider->name);
        ctx->invalid = 1;
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    if (u->state && u->state->status == 0) {
        u->state->status = ctx->status.code;
    }

    u->headers_in.status_n = ctx->status.code;
    ctx->pstatus = ctx->status.code;

    len = ctx->status.end - ctx->status.start;
    u->headers_in.status_line.len = len;

    u->headers_in.status_line.data = ngx_pnalloc(r->pool, len);
    if (u->headers_in.status_line.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(u->headers_in.status_line.data, ctx->status.start, len);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm status %ui \"%V\"",
                   u->headers_in.status_n, &u->headers_in.status_line);

    if (ctx->status.http_version < NGX_HTTP_VERSION_11) {
        u->headers_in.connection_close = 1;
    }

    u->process_header = ngx_http_llm_process_header;

    return ngx_http_llm_process_header(r);
}


static ngx_int_t
ngx_http_llm_process_header(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_table_elt_t                *h;
    ngx_http_upstream_t            *u;
    ngx_http_llm_ctx_t             *ctx;
    ngx_http_upstream_header_t     *hh;
    ngx_http_upstream_main_conf_t  *umcf;

    umcf = ngx_http_get_module_main_conf(r, ngx_http_upstream_module);

    u = r->upstream;

    for ( ;; ) {

        rc = ngx_http_parse_header_line(r, &u->buffer, 1);

        if (rc == NGX_OK) {

            h = ngx_list_push(&u->headers_in.headers);
            if (h == NULL) {
                return NGX_ERROR;
            }

            h->hash = r->header_hash;

            h->key.len = r->header_name_end - r->header_name_start;
            h->value.len = r->header_end - r->header_start;

            h->key.data = ngx_pnalloc(r->pool,
                               h->key.len + 1 + h->value.len + 1 + h->key.len);
            if (h->key.data == NULL) {
                h->hash = 0;
                return NGX_ERROR;
            }

            h->value.data = h->key.data + h->key.len + 1;
            h->lowcase_key = h->key.data + h->key.len + 1 + h->value.len + 1;

            ngx_memcpy(h->key.data, r->header_name_start, h->key.len);
            h->key.data[h->key.len] = '\0';
            ngx_memcpy(h->value.data, r->header_start, h->value.len);
            h->value.data[h->value.len] = '\0';

            if (h->key.len == r->lowcase_index) {
                ngx_memcpy(h->lowcase_key, r->lowcase_header, h->key.len);

            } else {
                ngx_strlow(h->lowcase_key, h->key.data, h->key.len);
            }

#if (nginx_version >= 1023000)
            h->next = NULL;
#endif

            hh = ngx_hash_find(&umcf->headers_in_hash, h->hash,
                               h->lowcase_key, h->key.len);

            if (hh) {
                rc = hh->handler(r, h, hh->offset);

                if (rc != NGX_OK) {
                    return rc;
                }
            }

            continue;
        }

        if (rc == NGX_HTTP_PARSE_HEADER_DONE) {

            if (u->headers_in.chunked) {
                u->headers_in.content_length_n = -1;
            }

            if (u->headers_in.status_n == NGX_HTTP_NO_CONTENT
                || u->headers_in.status_n == NGX_HTTP_NOT_MODIFIED
                || (!u->headers_in.chunked
                    && u->headers_in.content_length_n == 0))
            {
                u->keepalive = !u->headers_in.connection_close;
            }

            ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

            return ngx_http_llm_header_done(r, ctx);
        }

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: provider \"%V\" sent an invalid header",
                      &ctx->provider->name);

        ctx->invalid = 1;
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }
}


/*
 * The header is parsed.  An answer that must be translated (an error, or a
 * non-streamed answer of a provider that does not speak the OpenAI format)
 * is read whole before anything reaches the client: the client then gets
 * the translated body with its exact length, and an answer that cannot be
 * translated is still a clean 502.
 */

static ngx_int_t
ngx_http_llm_header_done(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_uint_t            status;
    ngx_http_upstream_t  *u;

    u = r->upstream;
    status = u->headers_in.status_n;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm header done, status:%ui chunked:%d length:%O",
                   status, u->headers_in.chunked,
                   u->headers_in.content_length_n);

    if (status >= NGX_HTTP_OK && status < NGX_HTTP_SPECIAL_RESPONSE) {

        if (ngx_http_llm_check_answer(r, ctx) != NGX_OK) {
            ctx->invalid = 1;
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }

        /*
         * a relayed answer is checked for a valid chunked framing before
         * the header goes out: a broken body is a 502 (a stream's first
         * events are read before its header anyway)
         */

        if (u->headers_in.chunked
            && !ngx_http_llm_decodes(ctx)
            && !(ctx->req.stream && ctx->provider->adapter->stream_event))
        {
            u->process_header = ngx_http_llm_first_chunk;
            return ngx_http_llm_first_chunk(r);
        }
    }

    if (status >= NGX_HTTP_OK && status < NGX_HTTP_SPECIAL_RESPONSE
        && ctx->req.stream && ctx->provider->adapter->stream_event)
    {
        if (ngx_http_llm_stream_start(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_llm_peek_start(r, ctx);
    }

    if (status < NGX_HTTP_BAD_REQUEST
        && (status < NGX_HTTP_OK || status >= NGX_HTTP_SPECIAL_RESPONSE
            || ctx->req.stream
            || !ngx_http_llm_decodes(ctx)))
    {
        return NGX_OK;
    }

    if (status >= NGX_HTTP_BAD_REQUEST) {
        ngx_http_llm_retry_header(r, ctx);
    }

    if (!u->headers_in.chunked && u->headers_in.content_length_n == -1) {

        if (status >= NGX_HTTP_BAD_REQUEST) {

            /* ends with the connection: translated when it is over */

            ctx->late = 1;
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: provider \"%V\" sent an answer without a "
                      "length, it cannot be translated",
                      &ctx->provider->name);

        ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_GATEWAY, "api_error",
                               "invalid_provider_response",
                               "The provider \"%V\" sent an answer "
                               "without a length.", &ctx->provider->name);

        ctx->invalid = 1;
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    ctx->collect = 1;
    ctx->rest = u->headers_in.content_length_n;

    u->process_header = ngx_http_llm_process_body;

    return ngx_http_llm_process_body(r);
}


/*
 * Whether a 2xx non-streamed answer is read whole and translated, rather
 * than relayed as it arrives.
 */

static ngx_uint_t
ngx_http_llm_decodes(ngx_http_llm_ctx_t *ctx)
{
    const llm_adapter_t  *ad;

    ad = ctx->provider->adapter;

    if (!ctx->embed) {
        return ad->decode != NULL;
    }

    if (ad->embed_decode == NULL) {
        return 0;
    }

    /* Mistral's floats are OpenAI's: only base64 is converted */

    return !(ad->embed_relay_float && !ctx->req.base64);
}


/*
 * A 2xx answer must be of the type asked for (a provider's HTML page is
 * not an answer), and a non-streamed one no larger than
 * llm_max_response_size when its length is known.
 */

static ngx_int_t
ngx_http_llm_check_answer(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                   *p;
    size_t                    len;
    ngx_uint_t                stream, ok;
    ngx_table_elt_t          *h;
    ngx_http_upstream_t      *u;
    ngx_http_llm_loc_conf_t  *lcf;

    u = r->upstream;
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    stream = (ctx->req.stream && ctx->provider->adapter->stream_event);

    h = u->headers_in.content_type;

    if (h != NULL) {

        /* the media type, without its parameters */

        p = h->value.data;

        for (len = 0; len < h->value.len; len++) {
            if (p[len] == ';' || p[len] == ' ' || p[len] == '\t') {
                break;
            }
        }

        /* the type as providers write it is compared first */

        if (stream) {
            ok = (len == sizeof("text/event-stream") - 1
                  && (ngx_strncmp(p, "text/event-stream", len) == 0
                      || ngx_strncasecmp(p, (u_char *) "text/event-stream",
                                         len)
                         == 0));

        } else {
            ok = (len == sizeof("application/json") - 1
                  && (ngx_strncmp(p, "application/json", len) == 0
                      || ngx_strncasecmp(p, (u_char *) "application/json",
                                         len)
                         == 0))
                 || (len > sizeof("+json") - 1
                     && ngx_strncasecmp(p + len - (sizeof("+json") - 1),
                                        (u_char *) "+json",
                                        sizeof("+json") - 1)
                        == 0);
        }

        if (!ok) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "llm: provider \"%V\" sent an answer of type "
                          "\"%V\"", &ctx->provider->name, &h->value);

            ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_GATEWAY, "api_error",
                                   "invalid_provider_response",
                                   "The provider \"%V\" sent an answer that "
                                   "is not %s.", &ctx->provider->name,
                                   stream ? "an event stream" : "JSON");
            return NGX_ERROR;
        }
    }

    if (!stream
        && u->headers_in.content_length_n > (off_t) lcf->max_response_size)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: the answer of provider \"%V\" is larger "
                      "than llm_max_response_size (%uz)",
                      &ctx->provider->name, lcf->max_response_size);

        ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_GATEWAY, "api_error",
                               "invalid_provider_response",
                               "The answer of the provider \"%V\" is "
                               "too large.", &ctx->provider->name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The process_header of a chunked answer that is relayed as it arrives:
 * its header goes out once the first chunk's size has been read and is
 * valid.
 */

static ngx_int_t
ngx_http_llm_first_chunk(ngx_http_request_t *r)
{
    ngx_buf_t             b;
    ngx_int_t             rc;
    ngx_http_chunked_t    chunked;
    ngx_http_upstream_t  *u;
    ngx_http_llm_ctx_t   *ctx;

    u = r->upstream;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    /* a look ahead: the input filter parses the same bytes again */

    b = u->buffer;
    chunked = ctx->chunked;

#if (nginx_version >= 1027002)
    rc = ngx_http_parse_chunked(r, &b, &chunked, 0);
#else
    rc = ngx_http_parse_chunked(r, &b, &chunked);
#endif

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc != NGX_OK && rc != NGX_DONE) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: provider \"%V\" sent an invalid chunked "
                      "response", &ctx->provider->name);

        ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_GATEWAY, "api_error",
                               "invalid_provider_response",
                               "The provider \"%V\" sent an invalid "
                               "chunked body.", &ctx->provider->name);

        ctx->invalid = 1;
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_process_body(ngx_http_request_t *r)
{
    size_t                    size;
    ngx_int_t                 rc;
    ngx_buf_t                *buf;
    ngx_uint_t                done;
    ngx_http_upstream_t      *u;
    ngx_http_llm_ctx_t       *ctx;
    ngx_http_llm_loc_conf_t  *lcf;

    u = r->upstream;
    buf = &u->buffer;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    done = 0;

    if (u->headers_in.chunked) {

        rc = ngx_http_llm_dechunk(r, ctx, ngx_http_llm_collect);

        if (rc == NGX_DECLINED) {
            ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_GATEWAY, "api_error",
                                   "invalid_provider_response",
                                   "The provider \"%V\" sent an invalid "
                                   "chunked body.", &ctx->provider->name);

            ctx->invalid = 1;
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }

        if (rc == NGX_DONE) {
            done = 1;

        } else if (rc != NGX_AGAIN) {
            return rc;
        }

    } else {
        size = buf->last - buf->pos;

        if ((off_t) size > ctx->rest) {
            size = (size_t) ctx->rest;
        }

        lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

        if (ctx->acc_len == 0 && size != 0 && (off_t) size == ctx->rest
            && u->headers_in.status_n < NGX_HTTP_BAD_REQUEST
            && size <= lcf->max_response_size)
        {
            /*
             * the whole answer came with the header: it is decoded where
             * it is, in u->buffer, which is not read into again before
             * the decoded answer stands in for it; anything added would
             * go to a copy (acc_size), and the next attempt starts with
             * none (ngx_http_llm_reinit_request())
             */

            ctx->acc = buf->pos;
            ctx->acc_len = size;
            ctx->acc_size = size;

        } else {
            rc = ngx_http_llm_collect(r, ctx, buf->pos, size);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        buf->pos += size;
        ctx->rest -= size;

        done = (ctx->rest == 0);
    }

    if (!done) {

        /* everything read so far is kept: the buffer takes the next read */

        buf->pos = buf->start;
        buf->last = buf->start;

        return NGX_AGAIN;
    }

    buf->pos = buf->last;

    u->keepalive = !u->headers_in.connection_close;

    return ngx_http_llm_translate(r, ctx);
}


/*
 * Removes the chunked framing from the bytes in u->buffer and hands the
 * data to the handler: NGX_DONE when the body is complete, NGX_AGAIN when
 * more is to come, NGX_DECLINED for an invalid framing, or the handler's
 * own error.
 */

static ngx_int_t
ngx_http_llm_dechunk(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_data_pt handler)
{
    size_t      size;
    ngx_int_t   rc;
    ngx_buf_t  *buf;

    buf = &r->upstream->buffer;

    for ( ;; ) {

#if (NGX_HTTP_LLM_PARSE_CHUNKED_TRAILERS)
        rc = ngx_http_parse_chunked(r, buf, &ctx->chunked, 0);
#else
        rc = ngx_http_parse_chunked(r, buf, &ctx->chunked);
#endif

        if (rc == NGX_OK) {
            size = buf->last - buf->pos;

            if ((off_t) size > ctx->chunked.size) {
                size = (size_t) ctx->chunked.size;
            }

            if (size) {
                rc = handler(r, ctx, buf->pos, size);
                if (rc != NGX_OK) {
                    return rc;
                }
            }

            buf->pos += size;
            ctx->chunked.size -= size;

            continue;
        }

        if (rc == NGX_DONE || rc == NGX_AGAIN) {
            return rc;
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: provider \"%V\" sent an invalid chunked "
                      "response", &ctx->provider->name);

        return NGX_DECLINED;
    }
}


static ngx_int_t
ngx_http_llm_collect(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    u_char *pos, size_t size)
{
    u_char                   *p;
    size_t                    max, want;
    ngx_http_llm_loc_conf_t  *lcf;

    if (size == 0) {
        return NGX_OK;
    }

    if (r->upstream->headers_in.status_n >= NGX_HTTP_BAD_REQUEST) {

        /* an error body: what is past the limit is not needed */

        max = NGX_HTTP_LLM_MAX_ERROR_BODY;

        if (size > max - ctx->acc_len) {
            size = max - ctx->acc_len;
        }

        if (size == 0) {
            return NGX_OK;
        }

    } else {
        lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);
        max = lcf->max_response_size;

        if (size > max - ctx->acc_len) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "llm: the answer of provider \"%V\" is larger "
                          "than llm_max_response_size (%uz)",
                          &ctx->provider->name, max);

            ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_GATEWAY, "api_error",
                                   "invalid_provider_response",
                                   "The answer of the provider \"%V\" is "
                                   "too large.", &ctx->provider->name);

            ctx->invalid = 1;
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }
    }

    if (size > ctx->acc_size - ctx->acc_len) {

        if (ctx->acc_len == 0 && ctx->rest > 0 && (size_t) ctx->rest <= max) {
            want = (size_t) ctx->rest;

        } else {
            want = ngx_max(2 * ctx->acc_size, ctx->acc_len + size);
            want = ngx_max(want, 4096);
            want = ngx_min(want, max);
        }

        p = ngx_pnalloc(r->pool, want);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (ctx->acc_len) {
            ngx_memcpy(p, ctx->acc, ctx->acc_len);
            ngx_pfree(r->pool, ctx->acc);
        }

        ctx->acc = p;
        ctx->acc_size = want;
    }

    ngx_memcpy(ctx->acc + ctx->acc_len, pos, size);
    ctx->acc_len += size;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_translate(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    int                       rc;
    u_char                    msg[sizeof(ctx->err.message)];
    ngx_uint_t                status;
    llm_pool_t                pool;
    llm_response_t            resp;
    ngx_http_upstream_t      *u;
    llm_provider_error_t      perr;
    ngx_http_llm_provider_t  *p;

    u = r->upstream;
    p = ctx->provider;
    status = u->headers_in.status_n;

    pool.alloc = ngx_http_llm_pool_alloc;
    pool.data = r->pool;

    if (status >= NGX_HTTP_BAD_REQUEST) {
        ngx_memzero(&perr, sizeof(llm_provider_error_t));

        if (p->adapter->error((int) status, (const char *) ctx->acc,
                              ctx->acc_len, &pool, &perr)
            != LLM_OK || perr.body == NULL)
        {
            return NGX_ERROR;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: provider \"%V\" answered %ui%s",
                      &p->name, status, perr.retryable ? " (retryable)" : "");

        ctx->out.data = (u_char *) perr.body;
        ctx->out.len = perr.body_len;

        ngx_http_llm_retry_after(ctx, (time_t) perr.retry_after);

        if (perr.retryable && ngx_http_llm_status_ft(status) == 0) {

            /* an overload signal of the provider's own (Anthropic's 529) */

            status = NGX_HTTP_SERVICE_UNAVAILABLE;
            u->headers_in.status_n = status;
            u->headers_in.status_line.len = 0;
        }

        if (ngx_http_llm_error_answer(r, ctx, status) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        ngx_memzero(&resp, sizeof(llm_response_t));

        rc = ctx->embed
             ? p->adapter->embed_decode(&ctx->req, &p->core,
                                        (const char *) ctx->acc, ctx->acc_len,
                                        &pool, &resp, &ctx->err)
             : p->adapter->decode(&ctx->req, &p->core,
                                  (const char *) ctx->acc, ctx->acc_len,
                                  (long long) ngx_time(), &pool, &resp,
                                  &ctx->err);

        if (rc != LLM_OK) {
            ngx_cpystrn(msg, (u_char *) ctx->err.message, sizeof(msg));

            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "llm: provider \"%V\" sent an invalid answer: %s",
                          &p->name, msg);

            ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_GATEWAY, "api_error",
                                   "invalid_provider_response",
                                   "The provider \"%V\" sent an invalid "
                                   "answer: %s", &p->name, msg);

            ctx->invalid = 1;
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }

        ctx->out.data = (u_char *) resp.body;
        ctx->out.len = resp.body_len;
        ctx->usage = resp.usage;
        ctx->finish_reason = resp.finish_reason;

        if (resp.content) {
            ctx->completion.data = (u_char *) resp.content;
            ctx->completion.len = resp.content_len;
        }
    }

    if (ctx->key_len) {
        (void) llm_redact((char *) ctx->out.data, ctx->out.len,
                          p->core.api_key, ctx->key_len);
    }

    ctx->translated = 1;

    u->headers_in.chunked = 0;
    u->headers_in.content_length_n = ctx->out.len;

    return NGX_OK;
}


/*
 * A provider's error answer, translated in ctx->out: when it ends the last
 * try of a request that failed over, the answer says how every provider
 * failed, with the status of the all-failed rule.
 */

static ngx_int_t
ngx_http_llm_error_answer(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_uint_t status)
{
    ngx_uint_t            ft;
    llm_pool_t            pool;
    ngx_http_upstream_t  *u;

    u = r->upstream;
    ft = ngx_http_llm_status_ft(status);

    u->headers_in.status_n = status;

    if (ctx->tried.nelts < 2 || ft == 0
        || (u->conf->next_upstream & ft) == 0 || u->peer.tries > 1)
    {
        return NGX_OK;
    }

    status = ngx_http_llm_failed_status(ctx,
                                  ngx_http_llm_fail_class(ctx->pstatus, 0));

    ngx_http_llm_failed_error(r, ctx, status);

    pool.alloc = ngx_http_llm_pool_alloc;
    pool.data = r->pool;

    ctx->out.data = (u_char *) llm_error_render(&ctx->err, &pool,
                                                &ctx->out.len);
    if (ctx->out.data == NULL) {
        return NGX_ERROR;
    }

    u->headers_in.status_n = status;
    u->headers_in.status_line.len = 0;

    return NGX_OK;
}


/* the next-upstream condition that an HTTP status stands for */

static ngx_uint_t
ngx_http_llm_status_ft(ngx_uint_t status)
{
    switch (status) {

    case NGX_HTTP_INTERNAL_SERVER_ERROR:
        return NGX_HTTP_UPSTREAM_FT_HTTP_500;

    case NGX_HTTP_BAD_GATEWAY:
        return NGX_HTTP_UPSTREAM_FT_HTTP_502;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        return NGX_HTTP_UPSTREAM_FT_HTTP_503;

    case NGX_HTTP_GATEWAY_TIME_OUT:
        return NGX_HTTP_UPSTREAM_FT_HTTP_504;

    case NGX_HTTP_FORBIDDEN:
        return NGX_HTTP_UPSTREAM_FT_HTTP_403;

    case NGX_HTTP_NOT_FOUND:
        return NGX_HTTP_UPSTREAM_FT_HTTP_404;

    case NGX_HTTP_TOO_MANY_REQUESTS:
        return NGX_HTTP_UPSTREAM_FT_HTTP_429;

    default:
        return 0;
    }
}


/*
 * Retry-After of an error answer, in seconds or as an HTTP date: the
 * shortest wait any provider asked for goes to the client.
 */

static void
ngx_http_llm_retry_header(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    time_t            delay;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->upstream->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("Retry-After") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Retry-After",
                               sizeof("Retry-After") - 1)
               != 0)
        {
            continue;
        }

        delay = ngx_atotm(h[i].value.data, h[i].value.len);

        if (delay == NGX_ERROR) {
            delay = ngx_parse_http_time(h[i].value.data, h[i].value.len);

            if (delay == NGX_ERROR) {
                continue;
            }

            delay = ngx_max(delay - ngx_time(), 1);
        }

        ngx_http_llm_retry_after(ctx, delay);
    }
}


static ngx_int_t
ngx_http_llm_input_filter_init(void *data)
{
    ngx_http_request_t  *r = data;

    ngx_http_upstream_t  *u;
    ngx_http_llm_ctx_t   *ctx;

    u = r->upstream;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx->translated) {

        /* the translated body stands in for what was read */

        u->buffer.start = ctx->out.data;
        u->buffer.pos = ctx->out.data;
        u->buffer.last = ctx->out.data + ctx->out.len;
        u->buffer.end = u->buffer.last;

        u->length = ctx->out.len;

        return NGX_OK;
    }

    if (u->headers_in.status_n >= NGX_HTTP_OK
        && u->headers_in.status_n < NGX_HTTP_SPECIAL_RESPONSE
        && !ctx->streaming && !ctx->late && !ctx->req.stream
        && ngx_http_llm_scan_start(r, ctx) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (u->headers_in.status_n == NGX_HTTP_NO_CONTENT
        || u->headers_in.status_n == NGX_HTTP_NOT_MODIFIED)
    {
        u->length = 0;
        u->keepalive = !u->headers_in.connection_close;

    } else if (u->headers_in.chunked) {
        u->length = 1;

    } else if (u->headers_in.content_length_n == 0) {
        u->length = 0;
        u->keepalive = !u->headers_in.connection_close;

    } else {
        u->length = u->headers_in.content_length_n;
    }

    return NGX_OK;
}


/*
 * Called with "bytes" new bytes at u->buffer.last; removes the chunked
 * framing, if any, and hands the data on.
 */

static ngx_int_t
ngx_http_llm_input_filter(void *data, ssize_t bytes)
{
    ngx_http_request_t  *r = data;

    size_t                size;
    ngx_int_t             rc;
    ngx_buf_t            *buf;
    ngx_http_upstream_t  *u;
    ngx_http_llm_ctx_t   *ctx;

    u = r->upstream;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    buf = &u->buffer;

    buf->pos = buf->last;
    buf->last += bytes;

    if (!u->headers_in.chunked) {

        size = bytes;

        if (u->length != -1) {
            if ((off_t) size > u->length) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "llm: provider \"%V\" sent more data than "
                              "specified in \"Content-Length\" header",
                              &ctx->provider->name);
                size = (size_t) u->length;
            }

            u->length -= size;
        }

        if (size && ngx_http_llm_body_data(r, ctx, buf->pos, size) != NGX_OK)
        {
            return NGX_ERROR;
        }

        buf->pos = buf->last;

        if (u->length == 0) {
            u->keepalive = !u->headers_in.connection_close;
        }

    } else {

        rc = ngx_http_llm_dechunk(r, ctx, ngx_http_llm_body_data);

        if (rc == NGX_DONE) {
            u->keepalive = !u->headers_in.connection_close;
            u->length = 0;

        } else if (rc == NGX_DECLINED && ctx->streaming && !ctx->stream_over)
        {
            ctx->invalid = 1;

            ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_GATEWAY, "api_error",
                                   "invalid_provider_response",
                                   "The provider \"%V\" sent an invalid "
                                   "chunked body.", &ctx->provider->name);

            return ngx_http_llm_stream_end(r, ctx, NGX_HTTP_BAD_GATEWAY, 0);

        } else if (rc != NGX_AGAIN) {

            /* a relayed answer is cut: the client sees no proper end */

            if (rc == NGX_DECLINED) {
                ctx->invalid = 1;
            }

            return NGX_ERROR;
        }
    }

    if (u->length == 0 && ctx->streaming && !ctx->stream_over) {
        return ngx_http_llm_stream_end(r, ctx, 0, 0);
    }

    if (ctx->stream_failed) {

        /* the connection is in the middle of a stream: not reusable */

        u->keepalive = 0;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_body_data(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    u_char *pos, size_t size)
{
    ngx_http_llm_loc_conf_t  *lcf;

    if (ctx->streaming) {
        return ngx_http_llm_stream_data(r, ctx, pos, size);
    }

    /*
     * an answer passed on as it arrives, or an error body that ends with
     * the connection, is bounded too: past the limit it is cut
     */

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    ctx->received += size;

    if (ctx->received > (off_t) lcf->max_response_size) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: the answer of provider \"%V\" is larger "
                      "than llm_max_response_size (%uz), cut",
                      &ctx->provider->name, lcf->max_response_size);

        ctx->invalid = 1;
        return NGX_ERROR;
    }

    if (ctx->late) {

        /* an error body that ends with the connection: kept for later */

        return ngx_http_llm_collect(r, ctx, pos, size);
    }

    /* passed through as it arrives, its usage read on the way */

    if (ctx->key_len) {
        return ngx_http_llm_relay_masked(r, ctx, pos, size);
    }

    if (ctx->scan) {
        llm_scan_feed(ctx->scan, (const char *) pos, size);
    }

    ngx_http_llm_cache_feed(r, ctx, pos, size);

    return ngx_http_llm_relay(r, pos, size);
}


/* bytes of u->buffer passed on as they are, uncopied */

static ngx_int_t
ngx_http_llm_relay(ngx_http_request_t *r, u_char *pos, size_t size)
{
    ngx_buf_t            *b;
    ngx_chain_t          *cl, **ll;
    ngx_http_upstream_t  *u;

    u = r->upstream;

    for (ll = &u->out_bufs; *ll; ll = &(*ll)->next) { /* void */ }

    cl = ngx_chain_get_free_buf(r->pool, &u->free_bufs);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    *ll = cl;

    b = cl->buf;

    /*
     * a buffer that held a copy (ngx_http_llm_stream_out()) keeps its
     * memory for the next copy, but is not written into while it points
     * into u->buffer
     */

    b->flush = 1;
    b->memory = 1;
    b->temporary = 0;
    b->pos = pos;
    b->last = pos + size;
    b->tag = u->output.tag;

    return NGX_OK;
}


/*
 * A relayed answer with the provider's key masked.  The key is masked in
 * place in u->buffer, and an end that could be the start of the key is
 * held back (sent by finalize_request at the end of the body); only a
 * piece that follows such an end is copied, behind it, into one of the
 * upstream's tagged buffers.  The usage scanner reads what goes out,
 * masked.
 */

static ngx_int_t
ngx_http_llm_relay_masked(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    u_char *pos, size_t size)
{
    char              *p;
    size_t             n, tail;
    const char        *key;
    llm_stream_out_t  *out;

    key = ctx->provider->core.api_key;

    if (ctx->held_size < ctx->key_len) {

        /* once per request, or again for a provider with a longer key */

        ctx->held = ngx_pnalloc(r->pool, ctx->key_len);
        if (ctx->held == NULL) {
            return NGX_ERROR;
        }

        ctx->held_size = ctx->key_len;
    }

    if (ctx->held_len == 0) {
        p = (char *) pos;
        n = size;

        (void) llm_redact(p, n, key, ctx->key_len);
        tail = llm_redact_tail(p, n, key, ctx->key_len);

        if (n > tail && ngx_http_llm_relay(r, pos, n - tail) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        out = ngx_http_llm_stream_out(r, ctx, ctx->held_len + size);
        if (out == NULL) {
            return NGX_ERROR;
        }

        p = out->buf;
        n = ctx->held_len + size;

        ngx_memcpy(p, ctx->held, ctx->held_len);
        ngx_memcpy(p + ctx->held_len, pos, size);

        (void) llm_redact(p, n, key, ctx->key_len);
        tail = llm_redact_tail(p, n, key, ctx->key_len);

        out->len = n - tail;

        ngx_http_llm_out_commit(r, ctx, out);
    }

    if (ctx->scan) {
        llm_scan_feed(ctx->scan, p, n - tail);
    }

    ngx_http_llm_cache_feed(r, ctx, (u_char *) p, n - tail);

    ngx_memcpy(ctx->held, p + n - tail, tail);
    ctx->held_len = tail;

    return NGX_OK;
}


/*
 * A relayed answer (OpenAI format, not streamed) is read on its way to
 * the client for its usage, finish reason and, for the prompt log, text,
 * in a fixed amount of memory.
 */

static ngx_int_t
ngx_http_llm_scan_start(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                    *text;
    size_t                     size;
    ngx_http_llm_scan_t       *sc;
    ngx_http_llm_loc_conf_t   *lcf;
    ngx_http_llm_main_conf_t  *lmcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);
    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);

    if (!lmcf->read_usage && !lcf->prompt_log && !ctx->cache_store) {

        /* no counters, variable or cache wants the usage: not read */

        return NGX_OK;
    }

    text = NULL;
    size = 0;

    if (lcf->prompt_log) {
        size = lcf->prompt_log_size;

        text = ngx_pnalloc(r->pool, size);
        if (text == NULL) {
            return NGX_ERROR;
        }

        ctx->completion.data = text;
    }

    if (ctx->scan_mem == NULL) {
        sc = ngx_http_llm_scans;

        if (sc != NULL) {
            ngx_http_llm_scans = sc->next;
            ngx_http_llm_nscans--;

        } else {
            sc = ngx_alloc(sizeof(ngx_http_llm_scan_t), r->connection->log);
            if (sc == NULL) {
                return NGX_ERROR;
            }
        }

        /* given back by the context's cleanup, ngx_http_llm_get_ctx() */

        ctx->scan_mem = &sc->scan;
    }

    ctx->scan = ctx->scan_mem;

    llm_scan_init(ctx->scan, (char *) text, size);

    return NGX_OK;
}


void
ngx_http_llm_scan_release(ngx_http_llm_ctx_t *ctx)
{
    ngx_http_llm_scan_t  *sc;

    if (ctx->scan_mem == NULL) {
        return;
    }

    sc = (ngx_http_llm_scan_t *) ctx->scan_mem;

    ctx->scan_mem = NULL;
    ctx->scan = NULL;

    if (ngx_http_llm_nscans >= NGX_HTTP_LLM_SCANS_KEEP) {
        ngx_free(sc);
        return;
    }

    sc->next = ngx_http_llm_scans;
    ngx_http_llm_scans = sc;
    ngx_http_llm_nscans++;
}


void
ngx_http_llm_scans_free(void)
{
    ngx_http_llm_scan_t  *sc;

    while (ngx_http_llm_scans != NULL) {
        sc = ngx_http_llm_scans;
        ngx_http_llm_scans = sc->next;
        ngx_free(sc);
    }

    ngx_http_llm_nscans = 0;
}


/*
 * Before the client gets anything of a stream, its first events are read
 * until the answer has begun (text, a tool call, a finish), the stream has
 * ended, or the header buffer (llm_buffer_size) is full.  What was read
 * stays in u->buffer: the stream then goes through the translation from
 * its first byte.
 */

static ngx_int_t
ngx_http_llm_peek_start(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_http_upstream_t  *u;

    u = r->upstream;

    if (ctx->peek == NULL) {
        ctx->peek = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_peek_t));
        if (ctx->peek == NULL) {
            return NGX_ERROR;
        }
    }

    ctx->peek->body = u->buffer.pos;

    u->process_header = ngx_http_llm_peek;

    return ngx_http_llm_peek(r);
}


static ngx_int_t
ngx_http_llm_peek(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_http_llm_ctx_t   *ctx;
    ngx_http_llm_peek_t  *pk;

    rc = ngx_http_llm_peek_read(r);

    if (rc == NGX_AGAIN) {
        return rc;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);
    pk = ctx->peek;

    pk->sse.buf = NULL;
    pk->out.buf = NULL;

    return rc;
}


/*
 * The look-ahead decodes the events from the body's start in one go at
 * each read: its framer's buffer and its output live only as long as the
 * call, so one pair of buffers serves every stream of the worker (kept,
 * grown when a location asks for more, up to NGX_HTTP_LLM_PEEK_KEEP).
 */

void
ngx_http_llm_peek_free(void)
{
    if (ngx_http_llm_peek_sse.buf != NULL) {
        ngx_free(ngx_http_llm_peek_sse.buf);
    }

    if (ngx_http_llm_peek_out.buf != NULL) {
        ngx_free(ngx_http_llm_peek_out.buf);
    }

    ngx_memzero(&ngx_http_llm_peek_sse, sizeof(ngx_http_llm_peek_buf_t));
    ngx_memzero(&ngx_http_llm_peek_out, sizeof(ngx_http_llm_peek_buf_t));
}


llm_scratch_t *
ngx_http_llm_scratch(void)
{
    if (ngx_http_llm_event_scratch.start == NULL) {
        llm_scratch_init(&ngx_http_llm_event_scratch, ngx_http_llm_event_buf,
                         sizeof(ngx_http_llm_event_buf));
    }

    return &ngx_http_llm_event_scratch;
}


static u_char *
ngx_http_llm_peek_buf(ngx_http_llm_peek_buf_t *sb, size_t size,
    ngx_log_t *log)
{
    u_char  *p;

    if (sb->size >= size) {
        return sb->buf;
    }

    p = ngx_alloc(size, log);
    if (p == NULL) {
        return NULL;
    }

    if (sb->buf != NULL) {
        ngx_free(sb->buf);
    }

    sb->buf = p;
    sb->size = size;

    return p;
}


static ngx_int_t
ngx_http_llm_peek_read(ngx_http_request_t *r)
{
    off_t                 length;
    u_char               *buf;
    size_t                size;
    ngx_int_t             rc;
    ngx_buf_t             saved;
    ngx_uint_t            done;
    ngx_http_chunked_t    chunked;
    ngx_http_upstream_t  *u;
    ngx_http_llm_ctx_t   *ctx;
    ngx_http_llm_peek_t  *pk;

    u = r->upstream;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);
    pk = ctx->peek;

    /*
     * from the start of the body each time: the state is not kept, and
     * the buffers are the worker's, for this call
     */

    buf = ngx_http_llm_peek_buf(&ngx_http_llm_peek_sse, u->conf->buffer_size,
                                r->connection->log);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    llm_sse_init(&pk->sse, (char *) buf, u->conf->buffer_size);

    pk->out.buf = NULL;
    pk->out.size = 0;

    pk->st = *ctx->stream;
    pk->st.text = NULL;
    pk->verdict = NGX_HTTP_LLM_PEEK_WAIT;

    done = 0;

    if (u->headers_in.chunked) {
        saved = u->buffer;
        chunked = ctx->chunked;

        u->buffer.pos = pk->body;

        rc = ngx_http_llm_dechunk(r, ctx, ngx_http_llm_peek_data);

        u->buffer = saved;
        ctx->chunked = chunked;

        if (rc == NGX_DECLINED) {
            ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_GATEWAY, "api_error",
                                   "invalid_provider_response",
                                   "The provider \"%V\" sent an invalid "
                                   "chunked body.", &ctx->provider->name);

            ctx->invalid = 1;
            return NGX_HTTP_UPSTREAM_INVALID_HEADER;
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        done = (rc == NGX_DONE);

    } else {
        size = u->buffer.last - pk->body;
        length = u->headers_in.content_length_n;

        /* a body that ends with the connection: only what is here */

        if (length == -1 || (off_t) size >= length) {
            size = (length == -1) ? size : (size_t) length;
            done = 1;
        }

        if (ngx_http_llm_peek_data(r, ctx, pk->body, size) == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    if (pk->verdict == NGX_HTTP_LLM_PEEK_FAILED) {
        return ngx_http_llm_peek_failed(r, ctx);
    }

    if (pk->verdict == NGX_HTTP_LLM_PEEK_WAIT && !done
        && u->buffer.last < u->buffer.end)
    {
        /* the provider is sending: llm_read_timeout is between reads */

        ngx_add_timer(u->peer.connection->read, u->conf->read_timeout);

        return NGX_AGAIN;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_peek_data(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    u_char *pos, size_t size)
{
    ngx_http_llm_peek_t  *pk;

    pk = ctx->peek;

    if (pk->verdict == NGX_HTTP_LLM_PEEK_WAIT
        && llm_sse_feed(&pk->sse, (const char *) pos, size,
                        ngx_http_llm_peek_event, r)
           != LLM_OK
        && pk->verdict == NGX_HTTP_LLM_PEEK_WAIT)
    {
        /* an event too large: the translation reports it */

        pk->verdict = NGX_HTTP_LLM_PEEK_BEGUN;
    }

    return (pk->verdict == NGX_HTTP_LLM_PEEK_WAIT) ? NGX_OK : NGX_BUSY;
}


static int
ngx_http_llm_peek_event(void *data, const llm_sse_event_t *ev)
{
    ngx_http_request_t  *r = data;

    int                   rc;
    size_t                need;
    ngx_http_llm_ctx_t   *ctx;
    ngx_http_llm_peek_t  *pk;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);
    pk = ctx->peek;

    /* as much room as the translation gives the event */

    need = ngx_max(8 * ev->data_len + 4096, 8192);

    if (pk->out.size < need) {
        if (need <= NGX_HTTP_LLM_PEEK_KEEP) {
            pk->out.buf = (char *) ngx_http_llm_peek_buf(
                                              &ngx_http_llm_peek_out, need,
                                              r->connection->log);

        } else {
            /* a large event: its own buffer, gone with the request */
            pk->out.buf = ngx_pnalloc(r->pool, need);
        }

        if (pk->out.buf == NULL) {
            pk->verdict = NGX_HTTP_LLM_PEEK_BEGUN;
            return LLM_ERROR;
        }

        pk->out.size = need;
    }

    pk->out.len = 0;

    rc = llm_stream_event(ctx->provider->adapter, ngx_http_llm_scratch(),
                          &pk->st, ev, &pk->out, &pk->err);

    if (rc == LLM_ERROR) {
        pk->verdict = NGX_HTTP_LLM_PEEK_FAILED;
        return LLM_ERROR;
    }

    if (rc == LLM_DONE || pk->st.content) {
        pk->verdict = NGX_HTTP_LLM_PEEK_BEGUN;
        return LLM_ERROR;
    }

    return LLM_OK;
}


/*
 * The stream failed before the answer began: the provider's error event
 * becomes its error answer (an error of the stream's shape, a 502 that
 * may fail over), and the client gets an error answer, not a stream.
 */

static ngx_int_t
ngx_http_llm_peek_failed(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                msg[sizeof(ctx->err.message)];
    ngx_uint_t            status;
    llm_pool_t            pool;
    llm_error_t          *err;
    ngx_http_upstream_t  *u;

    u = r->upstream;
    err = &ctx->peek->err;

    /* the provider's message goes to the log and the client */

    ngx_http_llm_mask_message(ctx, err);

    ngx_cpystrn(msg, (u_char *) err->message, sizeof(msg));

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "llm: the stream of provider \"%V\" failed before "
                  "its answer began: %s", &ctx->provider->name, msg);

    if (err->code && ngx_strcmp(err->code, "invalid_provider_response") == 0) {
        ctx->err = *err;
        ctx->has_err = 1;
        ctx->invalid = 1;
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    status = (err->status >= NGX_HTTP_BAD_REQUEST && err->status < 600)
             ? (ngx_uint_t) err->status : NGX_HTTP_BAD_GATEWAY;

    ctx->pstatus = status;
    ctx->err = *err;
    ctx->has_err = 1;

    pool.alloc = ngx_http_llm_pool_alloc;
    pool.data = r->pool;

    ctx->out.data = (u_char *) llm_error_render(err, &pool, &ctx->out.len);
    if (ctx->out.data == NULL) {
        return NGX_ERROR;
    }

    /* the rest of the stream is not read: the connection is not reused */

    ctx->streaming = 0;
    ctx->translated = 1;

    u->headers_in.chunked = 0;
    u->headers_in.content_length_n = ctx->out.len;
    u->headers_in.connection_close = 1;
    u->headers_in.status_line.len = 0;
    u->keepalive = 0;

    return ngx_http_llm_error_answer(r, ctx, status);
}


/*
 * A streamed answer is translated event by event: the provider's bytes go
 * through the SSE framer (whose buffer holds at most one event), each
 * event through the adapter's stream decoder, and what comes out is sent
 * at once, flushed.  Memory does not grow with the length of the answer.
 */

static ngx_int_t
ngx_http_llm_stream_start(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                   *buf;
    ngx_http_llm_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (ctx->sse == NULL) {
        ctx->sse = ngx_palloc(r->pool, sizeof(llm_sse_t));
        ctx->stream = ngx_palloc(r->pool, sizeof(llm_stream_t));
        buf = ngx_pnalloc(r->pool, lcf->max_event_size);

        if (ctx->sse == NULL || ctx->stream == NULL || buf == NULL) {
            return NGX_ERROR;
        }

        llm_sse_init(ctx->sse, (char *) buf, lcf->max_event_size);

    } else {
        llm_sse_init(ctx->sse, ctx->sse->buf, ctx->sse->size);
    }

    llm_stream_init(ctx->stream, &ctx->req, &ctx->provider->core,
                    (long long) ngx_time());

    if (lcf->prompt_log) {
        ctx->stream->text = ngx_pnalloc(r->pool, lcf->prompt_log_size);
        if (ctx->stream->text == NULL) {
            return NGX_ERROR;
        }

        ctx->stream->text_size = lcf->prompt_log_size;
    }

    ctx->streaming = 1;
    ctx->stream_at = ngx_current_msec;
    ctx->received = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_stream_data(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    u_char *pos, size_t size)
{
    ngx_http_llm_loc_conf_t  *lcf;

    if (ctx->stream_over) {

        /* what follows the provider's end of the stream is not needed */

        return NGX_OK;
    }

    /* an endless stream ends: by its size, or by its duration */

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    ctx->received += size;

    if (lcf->max_stream_size && ctx->received > lcf->max_stream_size) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: the stream of provider \"%V\" is larger than "
                      "llm_max_stream_size (%O)",
                      &ctx->provider->name, lcf->max_stream_size);

        ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_GATEWAY, "api_error",
                               "invalid_provider_response",
                               "The stream of the provider \"%V\" is too "
                               "large.", &ctx->provider->name);

        ctx->invalid = 1;
        return ngx_http_llm_stream_end(r, ctx, NGX_HTTP_BAD_GATEWAY, 0);
    }

    if (lcf->stream_timeout
        && ngx_current_msec - ctx->stream_at >= lcf->stream_timeout)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: the stream of provider \"%V\" lasted longer "
                      "than llm_stream_timeout", &ctx->provider->name);

        ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_GATEWAY, "api_error",
                               "invalid_provider_response",
                               "The stream of the provider \"%V\" lasted "
                               "too long.", &ctx->provider->name);

        ctx->invalid = 1;
        return ngx_http_llm_stream_end(r, ctx, NGX_HTTP_BAD_GATEWAY, 0);
    }

    if (llm_sse_feed(ctx->sse, (const char *) pos, size,
                     ngx_http_llm_stream_event, r)
        != LLM_OK)
    {
        if (ctx->stream_over) {

            /* the stream was ended by the event handler */

            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: provider \"%V\" sent an event or a line "
                      "larger than llm_max_event_size",
                      &ctx->provider->name);

        ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_GATEWAY, "api_error",
                               "invalid_provider_response",
                               "The provider \"%V\" sent an event that is "
                               "too large.", &ctx->provider->name);

        ctx->invalid = 1;

        return ngx_http_llm_stream_end(r, ctx, NGX_HTTP_BAD_GATEWAY, 0);
    }

    return NGX_OK;
}


static int
ngx_http_llm_stream_event(void *data, const llm_sse_event_t *ev)
{
    ngx_http_request_t  *r = data;

    int                  rc;
    u_char               msg[sizeof(((llm_error_t *) 0)->message)];
    llm_error_t          err;
    llm_stream_out_t    *out;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    /*
     * a chunk's envelope is about 200 bytes: an event of many small parts
     * (Gemini) can need several times its own size
     */

    out = ngx_http_llm_stream_out(r, ctx, 8 * ev->data_len + 4096);
    if (out == NULL) {
        return LLM_ERROR;
    }

    ngx_memzero(&err, sizeof(llm_error_t));

    rc = llm_stream_event(ctx->provider->adapter, ngx_http_llm_scratch(),
                          ctx->stream, ev, out, &err);

    ngx_http_llm_stream_sent(r, ctx, out);

    if (rc == LLM_OK) {
        return LLM_OK;
    }

    if (rc == LLM_DONE) {
        ctx->stream->done = 1;
        (void) ngx_http_llm_stream_end(r, ctx, 0, 0);
        return LLM_ERROR;
    }

    ngx_http_llm_mask_message(ctx, &err);

    ngx_cpystrn(msg, (u_char *) err.message, sizeof(msg));

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "llm: the stream of provider \"%V\" failed: %s",
                  &ctx->provider->name, msg);

    ctx->err = err;
    ctx->has_err = 1;

    (void) ngx_http_llm_stream_end(r, ctx, NGX_HTTP_BAD_GATEWAY, 0);

    return LLM_ERROR;
}


/* a provider's error message, which may echo the key, without it */

static void
ngx_http_llm_mask_message(ngx_http_llm_ctx_t *ctx, llm_error_t *err)
{
    if (ctx->key_len) {
        (void) llm_redact(err->message, ngx_strlen(err->message),
                          ctx->provider->core.api_key, ctx->key_len);
    }
}


/*
 * The end of a translated stream: rc 0 is the provider's own end, any
 * other a failure (a cut, a timeout, a bad event).  Either way the client
 * gets a proper end: the finish and usage chunks, or an error event, and
 * "data: [DONE]".  With "last", the last buffer of the response follows.
 */

static ngx_int_t
ngx_http_llm_stream_end(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_int_t rc, ngx_uint_t last)
{
    ngx_buf_t            *b;
    ngx_chain_t          *cl;
    llm_stream_out_t     *out;
    ngx_http_upstream_t  *u;

    u = r->upstream;

    ctx->stream_over = 1;

    out = ngx_http_llm_stream_out(r, ctx, 4096);
    if (out == NULL) {
        return NGX_ERROR;
    }

    if (rc == 0 && !ctx->stream->done
        && !ctx->provider->adapter->stream_ends_with_body)
    {
        rc = NGX_HTTP_BAD_GATEWAY;

        ngx_http_llm_set_error(r, ctx, rc, "api_error", "stream_cut",
                               "The provider \"%V\" ended the stream "
                               "before its end.", &ctx->provider->name);
    }

    if (rc == 0) {
        (void) llm_stream_finish(ctx->stream, out);

    } else {
        if (rc == NGX_HTTP_GATEWAY_TIME_OUT) {
            ngx_http_llm_set_error(r, ctx, rc, "api_error",
                                   "provider_timeout",
                                   "The provider \"%V\" stopped sending "
                                   "the stream.", &ctx->provider->name);

        } else if (!ctx->has_err) {
            ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_GATEWAY,
                                   "api_error", "stream_cut",
                                   "The stream of the provider \"%V\" was "
                                   "cut.", &ctx->provider->name);
        }

        (void) llm_stream_fail(ctx->stream, &ctx->err, out);

        /* no more of this provider's stream is read */

        ctx->stream_failed = 1;
        u->keepalive = 0;
        u->length = 0;
    }

    ngx_http_llm_stream_sent(r, ctx, out);

    if (last) {

        /*
         * the upstream finalized with an error sends no last buffer; from
         * the input filter (u->length is 0 now) it ends the body itself
         */

        for (cl = u->out_bufs; cl && cl->next; cl = cl->next) { /* void */ }

        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->last_buf = 1;

        if (cl) {
            cl->next = ngx_alloc_chain_link(r->pool);
            cl = cl->next;

        } else {
            u->out_bufs = ngx_alloc_chain_link(r->pool);
            cl = u->out_bufs;
        }

        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = b;
        cl->next = NULL;
    }

    return NGX_OK;
}


/*
 * Room for at least "need" bytes of output: what is left in the last
 * output buffer not yet sent, or a buffer reused from those already sent;
 * a buffer joins the output only once something is written into it.
 */

static llm_stream_out_t *
ngx_http_llm_stream_out(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    size_t need)
{
    size_t                size;
    ngx_buf_t            *b;
    ngx_chain_t          *cl;
    ngx_http_upstream_t  *u;

    u = r->upstream;

    for (cl = u->out_bufs; cl && cl->next; cl = cl->next) { /* void */ }

    if (cl && cl->buf->tag == u->output.tag && cl->buf->temporary
        && cl->buf->start && !cl->buf->last_buf
        && (size_t) (cl->buf->end - cl->buf->last) >= need)
    {
        ctx->scl = NULL;
        b = cl->buf;
        goto found;
    }

    cl = ngx_chain_get_free_buf(r->pool, &u->free_bufs);
    if (cl == NULL) {
        return NULL;
    }

    b = cl->buf;
    size = ngx_max(need, 8192);

    if (b->start == NULL || (size_t) (b->end - b->start) < size) {
        b->start = ngx_palloc(r->pool, size);
        if (b->start == NULL) {
            return NULL;
        }

        b->end = b->start + size;
    }

    b->pos = b->start;
    b->last = b->start;
    b->temporary = 1;
    b->flush = 1;
    b->tag = u->output.tag;

    ctx->scl = cl;

found:

    ctx->sout.buf = (char *) b->last;
    ctx->sout.size = b->end - b->last;
    ctx->sout.len = 0;
    ctx->sbuf = b;

    return &ctx->sout;
}


static void
ngx_http_llm_stream_sent(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    llm_stream_out_t *out)
{
    ngx_time_t      *tp;
    ngx_msec_int_t   ms;

    if (out->len == 0) {
        ngx_http_llm_out_commit(r, ctx, out);
        return;
    }

    /* the provider's key, if its event carried it, does not go out */

    if (ctx->key_len) {
        (void) llm_redact(out->buf, out->len, ctx->provider->core.api_key,
                          ctx->key_len);
    }

    ngx_http_llm_cache_feed(r, ctx, (u_char *) out->buf, out->len);

    ngx_http_llm_out_commit(r, ctx, out);

    if (!ctx->ttft_set) {
        tp = ngx_timeofday();
        ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                               + (tp->msec - r->start_msec));

        ctx->ttft = (ngx_msec_t) ngx_max(ms, 0);
        ctx->ttft_at = ngx_current_msec;
        ctx->ttft_set = 1;
    }
}


/* what was written into the room of ngx_http_llm_stream_out() goes out */

static void
ngx_http_llm_out_commit(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    llm_stream_out_t *out)
{
    ngx_chain_t          **ll;
    ngx_http_upstream_t   *u;

    u = r->upstream;

    if (out->len == 0) {
        if (ctx->scl) {

            /* nothing was written: the buffer goes back unused */

            ctx->scl->next = u->free_bufs;
            u->free_bufs = ctx->scl;
            ctx->scl = NULL;
        }

        return;
    }

    ctx->sbuf->last += out->len;
    out->len = 0;

    if (ctx->scl) {
        for (ll = &u->out_bufs; *ll; ll = &(*ll)->next) { /* void */ }

        *ll = ctx->scl;
        ctx->scl = NULL;
    }
}


static void
ngx_http_llm_abort_request(ngx_http_request_t *r)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "abort llm request");
}


static void
ngx_http_llm_finalize_request(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_buf_t           *b;
    ngx_chain_t          out;
    ngx_http_llm_ctx_t  *ctx;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "finalize llm request %i", rc);

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx->streaming && !ctx->stream_over
        && rc != NGX_HTTP_CLIENT_CLOSED_REQUEST && r->header_sent)
    {
        /* the stream ended with the connection, or failed */

        (void) ngx_http_llm_stream_end(r, ctx, rc, rc != 0);

        if (r->upstream->out_bufs) {
            (void) ngx_http_output_filter(r, r->upstream->out_bufs);
            r->upstream->out_bufs = NULL;
        }

        ngx_http_llm_stats_done(r, ctx, rc);

        return;
    }

    if (ctx->held_len && ctx->scan) {
        llm_scan_feed(ctx->scan, (const char *) ctx->held, ctx->held_len);
    }

    if (ctx->held_len) {
        ngx_http_llm_cache_feed(r, ctx, ctx->held, ctx->held_len);
    }

    ngx_http_llm_stats_done(r, ctx, rc);

    ngx_http_llm_cache_done(r, ctx, rc);

    if (ctx->held_len && rc == 0 && r->header_sent && !r->header_only) {

        /* the end of a relayed answer held back for the key's sake */

        b = ngx_create_temp_buf(r->pool, ctx->held_len);
        if (b == NULL) {
            return;
        }

        b->last = ngx_cpymem(b->last, ctx->held, ctx->held_len);
        b->flush = 1;
        ctx->held_len = 0;

        out.buf = b;
        out.next = NULL;

        (void) ngx_http_output_filter(r, &out);
    }

    /*
     * a provider's error body that ended with the connection (or was
     * empty) is translated here, before the last buffer goes out
     */

    if (rc != 0 || !r->header_sent || r->header_only
        || !ctx->late || ctx->late_done)
    {
        return;
    }

    ctx->late_done = 1;

    if (ngx_http_llm_translate(r, ctx) != NGX_OK) {
        return;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return;
    }

    b->pos = ctx->out.data;
    b->last = b->pos + ctx->out.len;
    b->memory = 1;
    b->flush = 1;

    out.buf = b;
    out.next = NULL;

    (void) ngx_http_output_filter(r, &out);
}


/* peers */

static ngx_int_t
ngx_http_llm_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_upstream_t  *u;
    ngx_http_llm_ctx_t   *ctx;

    u = r->upstream;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ngx_array_init(&ctx->tried, r->pool, ctx->ncandidates,
                       sizeof(ngx_http_llm_provider_t *))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    u->peer.data = r;
    u->peer.get = ngx_http_llm_get_peer;
    u->peer.free = ngx_http_llm_free_peer;
    u->peer.tries = ctx->ncandidates;

#if (NGX_HTTP_SSL)
    u->peer.set_session = ngx_http_llm_set_session;
    u->peer.save_session = ngx_http_llm_save_session;
#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_request_t  *r = data;

    ngx_buf_t                 *b;
    ngx_int_t                  rc;
    ngx_uint_t                 i;
    ngx_queue_t               *q;
    ngx_chain_t               *cl;
    ngx_connection_t          *c;
    ngx_http_upstream_t       *u;
    ngx_http_llm_ctx_t        *ctx;
    ngx_http_llm_provider_t   *p, *prev, **pp;
    ngx_http_llm_keepalive_t  *item;

    u = r->upstream;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    pc->cached = 0;
    pc->connection = NULL;

    /*
     * peer.tries counts down as providers fail; a failed idle keep-alive
     * connection gives the try back, and the same provider is asked again
     * on a new connection
     */

    if (ctx->tried.nelts == 0) {
        ctx->tries = pc->tries;
    }

    i = ctx->tries - pc->tries;

    if (pc->tries == 0 || i >= ctx->ncandidates) {
        return NGX_BUSY;
    }

    p = ctx->candidates[i];
    prev = ctx->provider;
    ctx->provider = p;

    pp = ngx_array_push(&ctx->tried);
    if (pp == NULL) {
        return NGX_ERROR;
    }

    *pp = p;

    if (ctx->counted) {
        ngx_http_llm_stats_failover(r, ctx, prev);
    }

    ctx->counted = 0;
    ctx->invalid = 0;
    ctx->pstatus = 0;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "llm get peer, provider \"%V\", attempt %ui",
                   &p->name, ctx->tried.nelts);

    /*
     * the provider's address, found when the configuration was read or
     * resolved for this request; without one the attempt fails
     */

    if (ngx_http_llm_resolve_peer(r, ctx, i, pc) != NGX_OK) {
        return NGX_DECLINED;
    }

    /* the request for this provider; rebuilt for every attempt */

    rc = ngx_http_llm_encode(r, ctx, p);
    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    /* the head and the body's pieces: their buffers and links at once */

    b = ngx_pcalloc(r->pool, (1 + ctx->nbody) * sizeof(ngx_buf_t));
    if (b == NULL) {
        return NGX_ERROR;
    }

    cl = ngx_palloc(r->pool, (1 + ctx->nbody) * sizeof(ngx_chain_t));
    if (cl == NULL) {
        return NGX_ERROR;
    }

    b->start = ctx->head.data;
    b->pos = b->start;
    b->last = b->start + ctx->head.len;
    b->end = b->last;
    b->memory = 1;

    cl->buf = b;
    u->request_bufs = cl;

    /* the body, in the pieces the adapter made: the client's bytes uncopied */

    for (i = 0; i < ctx->nbody; i++) {
        if (ctx->body[i].len == 0) {
            continue;
        }

        b++;

        b->start = ctx->body[i].data;
        b->pos = b->start;
        b->last = b->start + ctx->body[i].len;
        b->end = b->last;
        b->memory = 1;

        cl->next = cl + 1;
        cl++;
        cl->buf = b;
    }

    cl->next = NULL;
    b->flush = 1;

    u->uri = ctx->path;

#if (NGX_HTTP_SSL)
    u->ssl = p->ssl;
    u->ssl_name = p->host;

    if (p->ssl) {
        ngx_str_set(&u->schema, "https://");

    } else {
        ngx_str_set(&u->schema, "http://");
    }
#endif

    (void) ngx_http_llm_reinit_request(r);

    /* an idle keep-alive connection to this provider */

    for (q = ngx_queue_head(&p->cache);
         q != ngx_queue_sentinel(&p->cache);
         q = ngx_queue_next(q))
    {
        item = ngx_queue_data(q, ngx_http_llm_keepalive_t, queue);
        c = item->connection;

        ngx_queue_remove(q);
        ngx_queue_insert_head(&p->free, q);

        c->idle = 0;
        c->sent = 0;
        c->data = NULL;
        c->log = pc->log;
        c->read->log = pc->log;
        c->write->log = pc->log;
        c->pool->log = pc->log;

        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        pc->connection = c;
        pc->cached = 1;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "llm: reusing keepalive connection %p to \"%V\"",
                       c, &p->name);

        return NGX_DONE;
    }

    return NGX_OK;
}


static void
ngx_http_llm_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_request_t  *r = data;

    ngx_uint_t                 status, timedout;
    ngx_queue_t               *q;
    ngx_connection_t          *c;
    ngx_http_upstream_t       *u;
    ngx_http_llm_ctx_t        *ctx;
    ngx_http_llm_provider_t   *p;
    ngx_http_llm_keepalive_t  *item;

    if (pc->tries) {
        pc->tries--;
    }

    u = r->upstream;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);
    p = ctx->provider;
    c = pc->connection;

    if (state & NGX_PEER_FAILED) {
        ngx_log_error(NGX_LOG_WARN, pc->log, 0,
                      "llm: provider \"%V\" failed", &p->name);

        /*
         * an idle keep-alive connection that turned out closed says
         * nothing of the provider (and NGINX gives the try back)
         */

        timedout = c && (c->read->timedout || c->write->timedout);

        if (!pc->cached || ctx->pstatus || ctx->invalid || timedout) {
            ngx_http_llm_health_failed(pc->log, p);
            ngx_http_llm_stats_failed(r, ctx, pc);

            ctx->fails |= ngx_http_llm_fail_class(ctx->pstatus, timedout);
        }

        return;
    }

    if (state & NGX_PEER_NEXT) {

        /* an answer (403, 404) that llm_next_upstream passes over */

        ngx_http_llm_stats_failed(r, ctx, pc);

        ctx->fails |= NGX_HTTP_LLM_FAIL_OTHER;
    }

    status = u->headers_in.status_n;

    if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR
        || status == NGX_HTTP_TOO_MANY_REQUESTS)
    {
        ngx_http_llm_health_failed(pc->log, p);

    } else if (status) {
        ngx_http_llm_health_ok(pc->log, p, u->state->header_time);
    }

    if (c == NULL
        || p->keepalive == 0
        || c->read->eof
        || c->read->error
        || c->read->timedout
        || c->write->error
        || c->write->timedout
        || !u->keepalive
        || !u->request_body_sent
        || c->requests >= NGX_HTTP_LLM_KEEPALIVE_REQUESTS
        || ngx_current_msec - c->start_time > NGX_HTTP_LLM_KEEPALIVE_TIME
        || ngx_terminate
        || ngx_exiting)
    {
        return;
    }

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        return;
    }

    if (ngx_queue_empty(&p->free)) {
        q = ngx_queue_last(&p->cache);
        ngx_queue_remove(q);

        item = ngx_queue_data(q, ngx_http_llm_keepalive_t, queue);

        ngx_http_llm_keepalive_close(item->connection);

    } else {
        q = ngx_queue_head(&p->free);
        ngx_queue_remove(q);

        item = ngx_queue_data(q, ngx_http_llm_keepalive_t, queue);
    }

    ngx_queue_insert_head(&p->cache, q);

    item->connection = c;

    pc->connection = NULL;

    c->read->delayed = 0;
    ngx_add_timer(c->read, NGX_HTTP_LLM_KEEPALIVE_TIMEOUT);

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    c->write->handler = ngx_http_llm_keepalive_dummy_handler;
    c->read->handler = ngx_http_llm_keepalive_close_handler;

    c->data = item;
    c->idle = 1;
    c->log = ngx_cycle->log;
    c->read->log = ngx_cycle->log;
    c->write->log = ngx_cycle->log;
    c->pool->log = ngx_cycle->log;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "llm: keepalive connection %p to \"%V\" saved",
                   c, &p->name);

    if (c->read->ready) {
        ngx_http_llm_keepalive_close_handler(c->read);
    }
}


static void
ngx_http_llm_keepalive_close_handler(ngx_event_t *ev)
{
    int                        n;
    char                       buf[1];
    ngx_connection_t          *c;
    ngx_http_llm_keepalive_t  *item;

    c = ev->data;

    if (c->close || c->read->timedout) {
        goto close;
    }

    n = recv(c->fd, buf, 1, MSG_PEEK);

    if (n == -1 && ngx_socket_errno == NGX_EAGAIN) {
        ev->ready = 0;

        if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
            goto close;
        }

        return;
    }

close:

    item = c->data;

    ngx_http_llm_keepalive_close(c);

    ngx_queue_remove(&item->queue);
    ngx_queue_insert_head(&item->provider->free, &item->queue);
}


static void
ngx_http_llm_keepalive_dummy_handler(ngx_event_t *ev)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "llm keepalive dummy handler");
}


static void
ngx_http_llm_keepalive_close(ngx_connection_t *c)
{
#if (NGX_HTTP_SSL)

    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;

        if (ngx_ssl_shutdown(c) == NGX_AGAIN) {
            c->ssl->handler = ngx_http_llm_keepalive_close;
            return;
        }
    }

#endif

    ngx_destroy_pool(c->pool);
    ngx_close_connection(c);
}


ngx_int_t
ngx_http_llm_keepalive_init(ngx_conf_t *cf, ngx_http_llm_provider_t *p)
{
    ngx_uint_t                 i;
    ngx_http_llm_keepalive_t  *items;

    ngx_queue_init(&p->cache);
    ngx_queue_init(&p->free);

    if (p->keepalive == 0) {
        return NGX_OK;
    }

    items = ngx_pcalloc(cf->pool,
                        sizeof(ngx_http_llm_keepalive_t) * p->keepalive);
    if (items == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < p->keepalive; i++) {
        items[i].provider = p;
        ngx_queue_insert_head(&p->free, &items[i].queue);
    }

    return NGX_OK;
}


#if (NGX_HTTP_SSL)

/*
 * TLS sessions are kept per worker, per location and provider: a new
 * connection to a provider resumes the last session of that provider in
 * that location (an abbreviated handshake), like proxy_ssl_session_reuse.
 * Not per provider alone: locations may trust different certificates, and
 * a resumed session is not verified again.  Called only when
 * llm_ssl_session_reuse is on.
 */

static ngx_int_t
ngx_http_llm_set_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_request_t  *r = data;

    ngx_int_t            rc;
    ngx_ssl_session_t  **slot;

    slot = ngx_http_llm_session_slot(r);

    if (slot == NULL || *slot == NULL) {
        return NGX_OK;
    }

    rc = ngx_ssl_set_session(pc->connection, *slot);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "llm set session: %p, rc: %i", *slot, rc);

    return rc;
}


static void
ngx_http_llm_save_session(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_request_t  *r = data;

    ngx_ssl_session_t   *session, **slot;

    slot = ngx_http_llm_session_slot(r);

    if (slot == NULL) {
        return;
    }

    session = ngx_ssl_get_session(pc->connection);

    if (session == NULL) {
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                   "llm save session: %p, old: %p", session, *slot);

    if (*slot) {
        ngx_ssl_free_session(*slot);
    }

    *slot = session;
}


static ngx_ssl_session_t **
ngx_http_llm_session_slot(ngx_http_request_t *r)
{
    ngx_uint_t                  i;
    ngx_http_llm_ctx_t         *ctx;
    ngx_http_llm_loc_conf_t    *lcf;
    ngx_http_llm_provider_t   **pp;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (lcf->ssl_sessions == NULL || ctx == NULL || ctx->provider == NULL) {
        return NULL;
    }

    pp = lcf->providers->elts;

    for (i = 0; i < lcf->providers->nelts; i++) {
        if (pp[i] == ctx->provider) {
            return &lcf->ssl_sessions[i];
        }
    }

    return NULL;
}


static void
ngx_http_llm_free_sessions(void *data)
{
    ngx_http_llm_loc_conf_t *conf = data;

    ngx_uint_t  i;

    for (i = 0; i < conf->providers->nelts; i++) {
        if (conf->ssl_sessions[i]) {
            ngx_ssl_free_session(conf->ssl_sessions[i]);
            conf->ssl_sessions[i] = NULL;
        }
    }
}

#endif


/* configuration */

ngx_int_t
ngx_http_llm_upstream_merge(ngx_conf_t *cf, ngx_http_llm_loc_conf_t *prev,
    ngx_http_llm_loc_conf_t *conf)
{
    ngx_uint_t                     i;
    ngx_hash_init_t                hash;
    ngx_http_upstream_conf_t      *ucf;
    ngx_http_llm_provider_t      **pp;
    ngx_http_upstream_srv_conf_t  *uscf;

    ucf = &conf->upstream;

    ucf->buffering = 0;
    ucf->request_buffering = 1;
    ucf->pass_request_headers = 0;
    ucf->pass_request_body = 0;
    ucf->ignore_client_abort = 0;
    ucf->intercept_errors = 0;
    ucf->send_lowat = 0;
    ucf->limit_rate = 0;
    ucf->local = NULL;
    ucf->socket_keepalive = 0;

    ucf->ignore_headers = NGX_HTTP_UPSTREAM_IGN_XA_REDIRECT
                          |NGX_HTTP_UPSTREAM_IGN_XA_EXPIRES
                          |NGX_HTTP_UPSTREAM_IGN_EXPIRES
                          |NGX_HTTP_UPSTREAM_IGN_CACHE_CONTROL
                          |NGX_HTTP_UPSTREAM_IGN_SET_COOKIE
                          |NGX_HTTP_UPSTREAM_IGN_XA_LIMIT_RATE
                          |NGX_HTTP_UPSTREAM_IGN_XA_BUFFERING
                          |NGX_HTTP_UPSTREAM_IGN_XA_CHARSET
                          |NGX_HTTP_UPSTREAM_IGN_VARY;

    /*
     * the request body is always read whole, so a request that was sent
     * can be sent again: POST is not idempotent, hence NON_IDEMPOTENT;
     * a failed idle keep-alive connection is retried on a fresh one even
     * when failover is off
     */

    if (conf->next_upstream & NGX_HTTP_UPSTREAM_FT_OFF) {
        ucf->next_upstream = NGX_HTTP_UPSTREAM_FT_ERROR
                             |NGX_HTTP_UPSTREAM_FT_NON_IDEMPOTENT;
        ucf->next_upstream_tries = 1;

    } else {
        ucf->next_upstream = (conf->next_upstream & ~NGX_CONF_BITMASK_SET)
                             |NGX_HTTP_UPSTREAM_FT_NON_IDEMPOTENT;
        ucf->next_upstream_tries = conf->next_upstream_tries;
    }

    ucf->next_upstream_timeout = conf->next_upstream_timeout;

    ngx_str_set(&ucf->module, "llm");

    hash.max_size = 512;
    hash.bucket_size = ngx_align(64, ngx_cacheline_size);
    hash.name = "llm_headers_hash";

    if (ngx_http_upstream_hide_headers_hash(cf, ucf, &prev->upstream,
                                            ngx_http_llm_hide_headers, &hash)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (conf->routes == NULL) {
        return NGX_OK;
    }

    uscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upstream_srv_conf_t));
    if (uscf == NULL) {
        return NGX_ERROR;
    }

    uscf->peer.init = ngx_http_llm_init_peer;
    ngx_str_set(&uscf->host, "llm");
    uscf->file_name = ((ngx_http_llm_route_t *) conf->routes->elts)->file;
    uscf->line = ((ngx_http_llm_route_t *) conf->routes->elts)->line;

    ucf->upstream = uscf;

    pp = conf->providers->elts;

    for (i = 0; i < conf->providers->nelts; i++) {
        if (pp[i]->ssl) {
#if (NGX_HTTP_SSL)
            if (ngx_http_llm_set_ssl(cf, conf) != NGX_OK) {
                return NGX_ERROR;
            }
#endif
            break;
        }
    }

    return NGX_OK;
}


#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_llm_set_ssl(ngx_conf_t *cf, ngx_http_llm_loc_conf_t *conf)
{
    ngx_str_t            ciphers, trusted;
    ngx_pool_cleanup_t  *cln;

    conf->upstream.ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (conf->upstream.ssl == NULL) {
        return NGX_ERROR;
    }

    conf->upstream.ssl->log = cf->log;

    if (ngx_ssl_create(conf->upstream.ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3,
                       NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(conf->upstream.ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = conf->upstream.ssl;

    ngx_str_set(&ciphers, "DEFAULT");

    if (ngx_ssl_ciphers(cf, conf->upstream.ssl, &ciphers, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    if (conf->ssl_verify) {
        trusted = conf->ssl_trusted_certificate;

        if (ngx_ssl_trusted_certificate(cf, conf->upstream.ssl, &trusted,
                                        conf->ssl_verify_depth)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_ssl_client_session_cache(cf, conf->upstream.ssl,
                                     conf->ssl_session_reuse)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (conf->ssl_session_reuse) {

        /* freed when the configuration is: in a worker, when it exits */

        conf->ssl_sessions = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_session_t *)
                                                   * conf->providers->nelts);
        if (conf->ssl_sessions == NULL) {
            return NGX_ERROR;
        }

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_llm_free_sessions;
        cln->data = conf;
    }

    conf->upstream.ssl_session_reuse = conf->ssl_session_reuse;
    conf->upstream.ssl_server_name = 1;
    conf->upstream.ssl_verify = conf->ssl_verify;
    conf->upstream.ssl_name = NULL;

    return NGX_OK;
}

#endif
