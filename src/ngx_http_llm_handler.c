
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


/*
 * The content handler of a gateway location: the request body is read
 * and parsed once, a provider is chosen, and the upstream is started;
 * POST .../chat/completions and POST .../embeddings are served so, and
 * GET .../models lists the providers.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_router.h"


static void ngx_http_llm_body_room(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static void ngx_http_llm_body_room_done(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static void ngx_http_llm_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_read_body(ngx_http_request_t *r, u_char **body,
    size_t *len);
static ngx_int_t ngx_http_llm_models(ngx_http_request_t *r,
    ngx_http_llm_loc_conf_t *lcf);


static ngx_str_t  ngx_http_llm_json_type = ngx_string("application/json");


ngx_int_t
ngx_http_llm_handler(ngx_http_request_t *r)
{
    size_t                    len;
    ngx_int_t                 rc;
    ngx_str_t                *uri;
    ngx_uint_t                models;
    ngx_table_elt_t          *h;
    ngx_http_llm_ctx_t       *ctx;
    ngx_http_llm_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    ctx = ngx_http_llm_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    uri = &r->uri;

    len = sizeof("/models") - 1;

    models = (uri->len >= len
              && ngx_strncmp(uri->data + uri->len - len, "/models", len)
                 == 0);

    if (models) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            goto not_allowed;
        }

        return ngx_http_llm_models(r, lcf);
    }

    len = sizeof("/embeddings") - 1;

    if (uri->len >= len
        && ngx_strncmp(uri->data + uri->len - len, "/embeddings", len) == 0)
    {
        ctx->embed = 1;

    } else {
        len = sizeof("/chat/completions") - 1;

        if (uri->len < len
            || ngx_strncmp(uri->data + uri->len - len, "/chat/completions",
                           len)
               != 0)
        {
            ngx_http_llm_set_error(r, ctx, NGX_HTTP_NOT_FOUND,
                                   "invalid_request_error", "unknown_url",
                                   "Unknown request URL: %V %V. This "
                                   "gateway serves POST .../chat/completions,"
                                   " POST .../embeddings and "
                                   "GET .../models.",
                                   &r->method_name, &r->uri);
            return NGX_HTTP_NOT_FOUND;
        }
    }

    if (r->method != NGX_HTTP_POST) {
        goto not_allowed;
    }

    if (r != r->main && r->header_only) {

        /*
         * a request of the "mirror" module: the answer is read to its end
         * (and dropped by the body filter) so that it is counted whole
         */

        r->header_only = 0;
        ctx->discard = 1;
    }

    ngx_http_llm_body_room(r, ctx);

    rc = ngx_http_read_client_request_body(r, ngx_http_llm_body_handler);

    ngx_http_llm_body_room_done(r, ctx);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;

not_allowed:

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");

    if (models) {
        ngx_str_set(&h->value, "GET, HEAD");

    } else {
        ngx_str_set(&h->value, "POST");
    }

#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    ngx_http_llm_set_error(r, ctx, NGX_HTTP_NOT_ALLOWED,
                           "invalid_request_error", "method_not_allowed",
                           "Method %V is not allowed for %V.",
                           &r->method_name, &r->uri);

    return NGX_HTTP_NOT_ALLOWED;
}


/*
 * A body is parsed in one piece.  When NGINX has read the first part of
 * a body with the header, it reads the rest into a buffer of its own,
 * and the two would have to be gathered: one copy of the prompt.  But
 * when the rest fits into the free room of the header's buffer,
 * r->header_in, NGINX reads it there, right behind the first part.  So a
 * body that NGINX would keep in memory (no larger than
 * client_body_buffer_size) is given a header buffer with room for all of
 * it: the first part is copied there (at most the header buffer's size),
 * and NGINX's own is put back as soon as NGINX has set up the reading,
 * which goes on in the buffer NGINX made of the room (rb->buf).
 *
 * NGINX's header buffer must be back before the request ends: the
 * keep-alive handler looks at r->header_in, for a pipelined request,
 * after the request's pool is gone.  All of its first part was body,
 * hence none of it is left for a next request.
 */

static void
ngx_http_llm_body_room(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                    *p;
    size_t                     size, preread;
    ngx_buf_t                 *b, *hb;
    ngx_http_core_loc_conf_t  *clcf;

    hb = r->header_in;

    if (r != r->main
        || r->request_body
        || r->headers_in.chunked
        || r->request_body_in_file_only
        || r->http_version >= NGX_HTTP_VERSION_20
        || hb == NULL)
    {
        return;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    preread = hb->last - hb->pos;

    if (preread == 0
        || r->headers_in.content_length_n <= (off_t) (hb->end - hb->pos)
        || r->headers_in.content_length_n
           > (off_t) clcf->client_body_buffer_size)
    {
        return;
    }

    size = (size_t) r->headers_in.content_length_n;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return;
    }

    /* a large buffer comes from the worker's free lists, see block.c */

    p = ngx_http_llm_pool_alloc(r->pool, size);
    if (p == NULL) {
        return;
    }

    b->start = p;
    b->pos = p;
    b->last = ngx_cpymem(p, hb->pos, preread);
    b->end = p + size;
    b->temporary = 1;

    ctx->header_in = hb;
    r->header_in = b;
}


static void
ngx_http_llm_body_room_done(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    if (ctx->header_in == NULL) {
        return;
    }

    /* the first part, all of it body, was read */

    ctx->header_in->pos = ctx->header_in->last;

    r->header_in = ctx->header_in;
    ctx->header_in = NULL;
}


static void
ngx_http_llm_body_handler(ngx_http_request_t *r)
{
    u_char              *body;
    size_t               len;
    ngx_int_t            rc;
    llm_pool_t           pool;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    /* the whole body was read at once */

    ngx_http_llm_body_room_done(r, ctx);

    if (r->connection->error) {
        ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST);
        return;
    }

    if (ngx_http_llm_read_body(r, &body, &len) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    pool.alloc = ngx_http_llm_pool_alloc;
    pool.data = r->pool;

    rc = ctx->embed
         ? llm_embed_parse_pool(&ctx->req, (const char *) body, len, &pool,
                                &ctx->err)
         : llm_request_parse_pool(&ctx->req, (const char *) body, len, &pool,
                                  &ctx->err);

    if (rc != LLM_OK) {
        ctx->has_err = 1;

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: rejected request: %s", ctx->err.message);

        ngx_http_finalize_request(r, ctx->err.status);
        return;
    }

    ctx->prompt_tokens = llm_request_prompt_tokens(&ctx->req);
    ctx->max_tokens = ctx->req.max_tokens;

    /*
     * spend, token and request limits, before the cache is asked: an
     * answer from the cache gives its reservation back
     */

    rc = ngx_http_llm_limit_check(r, ctx);

    if (rc == NGX_AGAIN) {

        /* limits kept in Redis: the last reply goes on */

        return;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc >= NGX_HTTP_SPECIAL_RESPONSE
                                     ? rc : NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_llm_proceed(r, ctx);
}


/* the limits let the request go: the cache, then a provider */

void
ngx_http_llm_proceed(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_llm_cache_lookup(r, ctx);

    if (rc == NGX_DONE) {

        /* answered from the cache, or it will be */

        return;
    }

    if (rc != NGX_DECLINED) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_llm_go(r, ctx);
}


/* a provider is chosen and the upstream started */

void
ngx_http_llm_go(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_llm_route_select(r, ctx);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc >= NGX_HTTP_SPECIAL_RESPONSE
                                     ? rc : NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the first candidate's own limits take the request's estimate */

    if (ngx_http_llm_limit_reserve_provider(r, ctx) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->provider = ctx->candidates[0];

    if (ctx->req.stream && ctx->provider->adapter->stream_event == NULL
        && ctx->provider->adapter->decode)
    {

        /* translated streams come with the stream decoders */

        ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                               "invalid_request_error", "unsupported_value",
                               "Streaming is not supported yet for the "
                               "provider \"%V\" (type %s).",
                               &ctx->provider->name,
                               ctx->provider->adapter->name);
        ctx->err.param = "stream";

        ngx_http_finalize_request(r, NGX_HTTP_BAD_REQUEST);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm: provider \"%V\", stream:%d",
                   &ctx->provider->name, ctx->req.stream);

    /* the upstream starts once the providers' addresses are known */

    rc = ngx_http_llm_resolve(r, ctx);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc >= NGX_HTTP_SPECIAL_RESPONSE
                                     ? rc : NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


/*
 * The request body as one contiguous piece of memory; bodies that
 * NGINX wrote to a temporary file are read back.
 */

static ngx_int_t
ngx_http_llm_read_body(ngx_http_request_t *r, u_char **body, size_t *len)
{
    u_char       *p;
    off_t         size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    *body = (u_char *) "";
    *len = 0;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    cl = r->request_body->bufs;
    b = cl->buf;

    if (cl->next == NULL && !b->in_file) {
        *body = b->pos;
        *len = b->last - b->pos;
        return NGX_OK;
    }

    /*
     * in memory and one piece of it: NGINX reads the rest of a small body
     * into the header's buffer, right behind the part read with it
     */

    p = b->pos;
    size = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (ngx_buf_size(cl->buf) == 0) {
            continue;
        }

        if (cl->buf->in_file || cl->buf->pos != p + size) {
            break;
        }

        size += cl->buf->last - cl->buf->pos;
    }

    if (cl == NULL && !b->in_file) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm: request body of %O bytes in one piece", size);

        *body = p;
        *len = (size_t) size;
        return NGX_OK;
    }

    size = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        size += ngx_buf_size(cl->buf);
    }

    /* a large buffer comes from the worker's free lists, see block.c */

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm: request body of %O bytes gathered", size);

    p = ngx_http_llm_pool_alloc(r->pool, (size_t) size + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *body = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                              b->file_pos);

            if (n == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                              "llm: short read of the request body file "
                              "\"%V\"", &b->file->name);
                return NGX_ERROR;
            }

            p += n;
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    *len = p - *body;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_models(ngx_http_request_t *r, ngx_http_llm_loc_conf_t *lcf)
{
    char                      *json;
    size_t                     len;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_uint_t                 i, n;
    unsigned                  *serves;
    ngx_chain_t                out;
    llm_pool_t                 pool;
    const char               **ids, **owners;
    ngx_http_llm_provider_t  **pp;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    n = lcf->providers->nelts;
    pp = lcf->providers->elts;

    ids = ngx_palloc(r->pool, 2 * n * sizeof(char *));
    if (ids == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    owners = ids + n;

    serves = ngx_palloc(r->pool, n * sizeof(unsigned));
    if (serves == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < n; i++) {
        ids[i] = (const char *) pp[i]->name.data;
        owners[i] = pp[i]->adapter->name;
        serves[i] = (unsigned) pp[i]->serves;
    }

    pool.alloc = ngx_http_llm_pool_alloc;
    pool.data = r->pool;

    json = llm_models_render(ids, owners, serves, n,
                             (long) ngx_cached_time->sec, &pool, &len);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type = ngx_http_llm_json_type;
    r->headers_out.content_type_len = ngx_http_llm_json_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = (u_char *) json;
    b->last = b->pos + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
