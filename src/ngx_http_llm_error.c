
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


/*
 * Error answers and the helpers every part of the module shares: the
 * request's context, the pool allocator handed to the core, and the
 * header and body filters through which every error of a gateway
 * location leaves as an OpenAI-style JSON body.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_router.h"


static void ngx_http_llm_request_cleanup(void *data);
static ngx_int_t ngx_http_llm_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_llm_render_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_str_t  ngx_http_llm_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_llm_sse_type = ngx_string("text/event-stream");


ngx_int_t
ngx_http_llm_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_llm_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_llm_body_filter;

    return NGX_OK;
}



ngx_http_llm_ctx_t *
ngx_http_llm_get_ctx(ngx_http_request_t *r)
{
    ngx_http_llm_ctx_t  *ctx;
    ngx_pool_cleanup_t  *cln;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_llm_request_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_llm_router_module);

    return ctx;
}


static void
ngx_http_llm_request_cleanup(void *data)
{
    ngx_http_llm_ctx_t  *ctx = data;

    ngx_http_llm_health_release(ctx);
    ngx_http_llm_limit_cleanup(ctx);
    ngx_http_llm_scan_release(ctx);
    llm_request_free(&ctx->req);
}


void
ngx_http_llm_set_error(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_uint_t status, const char *type, const char *code,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    ctx->err.status = (int) status;
    ctx->err.type = type;
    ctx->err.code = code;
    ctx->err.param = NULL;

    va_start(args, fmt);
    p = ngx_vslprintf((u_char *) ctx->err.message,
                      (u_char *) ctx->err.message
                      + sizeof(ctx->err.message) - 1,
                      fmt, args);
    va_end(args);

    *p = '\0';

    ctx->has_err = 1;
}


/*
 * The answer when every provider tried failed, with the status that says
 * best what the client should do: all rate-limited, 429; all rate-limited
 * or overloaded, 503; all timed out, 504; otherwise 502.  The message says
 * how each provider failed.
 */

void
ngx_http_llm_failed_error(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_uint_t status)
{
    u_char  buf[sizeof(ctx->err.message)];
    size_t  len;

    len = ngx_http_llm_attempts_text(r, ctx, buf, sizeof(buf) - 1);
    buf[len] = '\0';

    ngx_http_llm_set_error(r, ctx, status,
                           (status == NGX_HTTP_TOO_MANY_REQUESTS)
                           ? "rate_limit_error" : "api_error",
                           "all_providers_failed",
                           "No provider could answer: %s.", buf);
}


ngx_uint_t
ngx_http_llm_fail_class(ngx_uint_t status, ngx_uint_t timedout)
{
    if (timedout || status == NGX_HTTP_GATEWAY_TIME_OUT) {
        return NGX_HTTP_LLM_FAIL_TIMEOUT;
    }

    switch (status) {

    case NGX_HTTP_TOO_MANY_REQUESTS:
        return NGX_HTTP_LLM_FAIL_429;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
    case 529:                                   /* Anthropic: overloaded */
        return NGX_HTTP_LLM_FAIL_BUSY;

    default:
        return NGX_HTTP_LLM_FAIL_OTHER;
    }
}


/* the status of an all-failed answer; "last": the class of the last */

ngx_uint_t
ngx_http_llm_failed_status(ngx_http_llm_ctx_t *ctx, ngx_uint_t last)
{
    ngx_uint_t  fails;

    fails = ctx->fails | last;

    if (fails == NGX_HTTP_LLM_FAIL_429) {
        return NGX_HTTP_TOO_MANY_REQUESTS;
    }

    if ((fails & ~(NGX_HTTP_LLM_FAIL_429|NGX_HTTP_LLM_FAIL_BUSY)) == 0) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (fails == NGX_HTTP_LLM_FAIL_TIMEOUT) {
        return NGX_HTTP_GATEWAY_TIME_OUT;
    }

    return NGX_HTTP_BAD_GATEWAY;
}


/* a failed attempt asked to wait "delay" seconds: the shortest is kept */

void
ngx_http_llm_retry_after(ngx_http_llm_ctx_t *ctx, time_t delay)
{
    if (delay > 0 && (ctx->retry_after == 0 || delay < ctx->retry_after)) {
        ctx->retry_after = delay;
    }
}


/* "a (HTTP 503), b (timed out)": the providers tried and how they failed */

size_t
ngx_http_llm_attempts_text(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    u_char *buf, size_t size)
{
    u_char                      *p, *last;
    const char                  *err;
    ngx_uint_t                   i, status;
    ngx_http_llm_provider_t    **pp;
    ngx_http_upstream_state_t   *state;

    p = buf;
    last = buf + size;
    pp = ctx->tried.elts;
    state = r->upstream_states ? r->upstream_states->elts : NULL;

    for (i = 0; i < ctx->tried.nelts; i++) {

        status = (state && i < r->upstream_states->nelts) ? state[i].status
                                                          : 0;

        p = ngx_slprintf(p, last, "%s%V (", i ? ", " : "", &pp[i]->name);

        err = ngx_http_llm_resolve_error(ctx, pp[i]);

        if (err) {
            p = ngx_slprintf(p, last, "\"%V\" could not be resolved: %s)",
                             &pp[i]->host, err);
            continue;
        }

        switch (status) {

        case 0:
        case NGX_HTTP_BAD_GATEWAY:
            p = ngx_slprintf(p, last, "no valid answer)");
            break;

        case NGX_HTTP_GATEWAY_TIME_OUT:
            p = ngx_slprintf(p, last, "timed out)");
            break;

        default:
            p = ngx_slprintf(p, last, "HTTP %ui)", status);
        }
    }

    return p - buf;
}


/*
 * Every error answer of a gateway location, whether NGINX or the module
 * produced it (413, 404, 502, 504...), leaves as an OpenAI-style JSON
 * error body.  A provider's own error answer is translated on the
 * upstream side; here it only gets the JSON content type.  The filter
 * also adds the X-LLM-* headers and the headers of translated streams.
 */

static ngx_int_t
ngx_http_llm_header_filter(ngx_http_request_t *r)
{
    u_char                   *p;
    ngx_str_t                 name, value;
    ngx_http_llm_ctx_t       *ctx;
    ngx_http_llm_loc_conf_t  *lcf;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (lcf->routes == NULL) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (lcf->headers && ctx
        && ngx_http_llm_cache_status_name(ctx->cache_status))
    {
        ngx_str_set(&name, "X-LLM-Cache");

        if (ngx_http_llm_add_header(r, &name,
                                    ngx_http_llm_cache_status_name(
                                        ctx->cache_status))
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (lcf->headers && ctx && ctx->tried.nelts) {
        ngx_str_set(&name, "X-LLM-Provider");

        if (ngx_http_llm_add_header(r, &name, &ctx->provider->name)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_str_set(&name, "X-LLM-Attempts");
        value.data = p;
        value.len = ngx_sprintf(p, "%ui", ctx->tried.nelts) - p;

        if (ngx_http_llm_add_header(r, &name, &value) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (lcf->headers && ctx
        && ngx_http_llm_limit_headers(r, ctx) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx && ctx->streaming && r->err_status == 0) {

        /* a translated stream: the events and their type are the module's */

        ngx_http_clear_content_length(r);

        r->headers_out.content_type = ngx_http_llm_sse_type;
        r->headers_out.content_type_len = ngx_http_llm_sse_type.len;
        r->headers_out.content_type_lowcase = NULL;
        r->headers_out.charset.len = 0;

        ngx_str_set(&name, "X-Accel-Buffering");
        ngx_str_set(&value, "no");

        if (ngx_http_llm_add_header(r, &name, &value) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (r->headers_out.status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_llm_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (r->err_status == 0 && (ctx->translated || ctx->late)) {

        /* a provider's error, translated */

        if (ctx->late) {
            ngx_http_clear_content_length(r);
        }

    } else {
        if (ngx_http_llm_render_error(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        r->headers_out.content_length_n = ngx_buf_size(ctx->replace->buf);

        if (r->headers_out.content_length) {
            r->headers_out.content_length->hash = 0;
            r->headers_out.content_length = NULL;
        }
    }

    r->headers_out.content_type = ngx_http_llm_json_type;
    r->headers_out.content_type_len = ngx_http_llm_json_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    if (ctx->retry_after
        && (r->headers_out.status == NGX_HTTP_TOO_MANY_REQUESTS
            || r->headers_out.status == NGX_HTTP_SERVICE_UNAVAILABLE
            || ctx->limit_status == NGX_HTTP_LLM_LIMIT_REJECTED))
    {
        /* the shortest wait a provider asked for (theirs are not passed) */

        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_str_set(&name, "Retry-After");
        value.data = p;
        value.len = ngx_sprintf(p, "%T", ctx->retry_after) - p;

        if (ngx_http_llm_add_header(r, &name, &value) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_llm_render_error(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    char        *json;
    size_t       len;
    ngx_buf_t   *b;
    llm_pool_t   pool;
    ngx_uint_t   status;

    status = r->headers_out.status;

    if (ctx->tried.nelts > 1
        && (status == NGX_HTTP_BAD_GATEWAY
            || status == NGX_HTTP_GATEWAY_TIME_OUT))
    {
        /* every provider tried failed, the last one without an answer */

        status = ngx_http_llm_failed_status(ctx,
                                      ngx_http_llm_fail_class(status, 0));

        r->headers_out.status = status;
        r->headers_out.status_line.len = 0;

        ngx_http_llm_failed_error(r, ctx, status);

    } else if (!ctx->has_err || (ngx_uint_t) ctx->err.status != status) {

        switch (status) {

        case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
            ngx_http_llm_set_error(r, ctx, status, "invalid_request_error",
                                   "request_too_large",
                                   "The request body is too large "
                                   "(client_max_body_size).");
            break;

        case NGX_HTTP_BAD_GATEWAY:
            ngx_http_llm_set_error(r, ctx, status, "api_error",
                                   "provider_error",
                                   "The provider \"%V\" could not be reached "
                                   "or sent an invalid response.",
                                   ctx->provider ? &ctx->provider->name
                                                 : &r->uri);
            break;

        case NGX_HTTP_GATEWAY_TIME_OUT:
            ngx_http_llm_set_error(r, ctx, status, "api_error",
                                   "provider_timeout",
                                   "The provider \"%V\" did not answer in "
                                   "time.",
                                   ctx->provider ? &ctx->provider->name
                                                 : &r->uri);
            break;

        case NGX_HTTP_SERVICE_UNAVAILABLE:
            ngx_http_llm_set_error(r, ctx, status, "api_error",
                                   "service_unavailable",
                                   "No provider is available.");
            break;

        case NGX_HTTP_REQUEST_TIME_OUT:
            ngx_http_llm_set_error(r, ctx, status, "invalid_request_error",
                                   "request_timeout",
                                   "The request was not received in time.");
            break;

        default:
            if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
                ngx_http_llm_set_error(r, ctx, status, "api_error", NULL,
                                       "The gateway failed to process the "
                                       "request (HTTP %ui).", status);

            } else {
                ngx_http_llm_set_error(r, ctx, status,
                                       "invalid_request_error", NULL,
                                       "The request was rejected "
                                       "(HTTP %ui).", status);
            }
        }
    }

    pool.alloc = ngx_http_llm_pool_alloc;
    pool.data = r->pool;

    json = llm_error_render(&ctx->err, &pool, &len);
    if (json == NULL) {
        return NGX_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = (u_char *) json;
    b->last = b->pos + len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    ctx->replace = ngx_alloc_chain_link(r->pool);
    if (ctx->replace == NULL) {
        return NGX_ERROR;
    }

    ctx->replace->buf = b;
    ctx->replace->next = NULL;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_uint_t           last;
    ngx_chain_t         *cl, *out;
    ngx_http_llm_ctx_t  *ctx;

    if (in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (r != r->main) {

        if (ctx == NULL || !ctx->discard) {
            return ngx_http_next_body_filter(r, in);
        }

        /* a mirrored request: its answer is read to the end, not sent */

        for (cl = in; cl; cl = cl->next) {
            cl->buf->pos = cl->buf->last;
            cl->buf->file_pos = cl->buf->file_last;
        }

        return NGX_OK;
    }

    if (ctx == NULL || ctx->replace == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* swallow NGINX's own error page, send the JSON body instead */

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        if (cl->buf->last_buf) {
            last = 1;
        }

        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (!last) {
        return NGX_OK;
    }

    out = ctx->replace;
    ctx->replace = NULL;

    return ngx_http_next_body_filter(r, out);
}


ngx_int_t
ngx_http_llm_add_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key = *name;
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}
