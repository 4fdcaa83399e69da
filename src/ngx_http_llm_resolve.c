
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


/*
 * Provider addresses resolved at run time: an llm_provider with "resolve"
 * has its host name looked up with the location's "resolver" for each
 * request, before the first attempt, for every provider the request may
 * try.  The resolver keeps its answers for their TTL (or "valid="), so a
 * lookup is an actual query once per TTL and a cached answer comes back at
 * once; a worker never waits.  A name that cannot be resolved fails that
 * provider's attempt like a connection error, and the request goes on to
 * the next provider.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_router.h"


static void ngx_http_llm_resolve_handler(ngx_resolver_ctx_t *rctx);
static void ngx_http_llm_resolve_done(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static void ngx_http_llm_resolve_cleanup(void *data);


/* the address of an attempt that has none: it fails before connecting */
static ngx_sockaddr_t  ngx_http_llm_no_address;


/*
 * Every location that routes to a provider with "resolve" needs a
 * resolver; "nginx -t" says so.
 */

ngx_int_t
ngx_http_llm_resolve_check(ngx_conf_t *cf, ngx_http_llm_loc_conf_t *conf)
{
    ngx_uint_t                  i;
    ngx_http_llm_route_t       *rt;
    ngx_http_llm_provider_t   **pp;
    ngx_http_core_loc_conf_t   *clcf;

    if (conf->routes == NULL || conf->providers == NULL) {
        return NGX_OK;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->resolver && clcf->resolver->connections.nelts) {
        return NGX_OK;
    }

    pp = conf->providers->elts;
    rt = conf->routes->elts;

    for (i = 0; i < conf->providers->nelts; i++) {
        if (!pp[i]->resolve) {
            continue;
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "no resolver defined to resolve \"%V\" of "
                      "llm_provider \"%V\" (\"resolve\" in %s:%ui) "
                      "for llm_route in %s:%ui",
                      &pp[i]->host, &pp[i]->name, pp[i]->file, pp[i]->line,
                      rt[0].file, rt[0].line);

        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Starts the lookups of the providers the request may try, then the
 * upstream once they are all answered: at once when the resolver had
 * every answer in its cache, else from the resolver's handler.
 */

ngx_int_t
ngx_http_llm_resolve(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_uint_t                 i, n;
    ngx_pool_cleanup_t        *cln;
    ngx_resolver_ctx_t        *rctx;
    ngx_http_llm_provider_t   *p;
    ngx_http_llm_resolved_t   *rs;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_llm_loc_conf_t   *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    /* the providers that can be tried: llm_next_upstream_tries limits */

    n = ctx->ncandidates;

    if (lcf->upstream.next_upstream_tries
        && lcf->upstream.next_upstream_tries < n)
    {
        n = lcf->upstream.next_upstream_tries;
    }

    for (i = 0; i < n; i++) {
        if (ctx->candidates[i]->resolve) {
            break;
        }
    }

    if (i == n) {
        return ngx_http_llm_upstream_start(r, ctx);
    }

    ctx->resolved = ngx_pcalloc(r->pool, n * sizeof(ngx_http_llm_resolved_t));
    if (ctx->resolved == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_llm_resolve_cleanup;
    cln->data = ctx;

    ctx->nresolved = n;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* one more than the lookups under way until they are all started */

    ctx->resolving = 1;

    for (i = 0; i < n; i++) {
        p = ctx->candidates[i];
        rs = &ctx->resolved[i];

        rs->request = r;
        rs->provider = p;

        if (!p->resolve) {
            continue;
        }

        rctx = ngx_resolve_start(clcf->resolver, NULL);

        if (rctx == NULL) {
            ngx_http_llm_resolve_cleanup(ctx);
            return NGX_ERROR;
        }

        if (rctx == NGX_NO_RESOLVER) {

            /* the configuration check makes this impossible */

            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "llm: no resolver defined to resolve \"%V\" of "
                          "provider \"%V\"", &p->host, &p->name);

            rs->state = NGX_DECLINED;
            continue;
        }

        rctx->name = p->host;
        rctx->handler = ngx_http_llm_resolve_handler;
        rctx->data = rs;
        rctx->timeout = clcf->resolver_timeout;

        rs->resolver = rctx;
        ctx->resolving++;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm: resolving \"%V\" of provider \"%V\"",
                       &p->host, &p->name);

        if (ngx_resolve_name(rctx) != NGX_OK) {
            rs->resolver = NULL;
            ngx_http_llm_resolve_cleanup(ctx);
            return NGX_ERROR;
        }
    }

    if (--ctx->resolving) {
        return NGX_OK;
    }

    return ngx_http_llm_upstream_start(r, ctx);
}


static void
ngx_http_llm_resolve_handler(ngx_resolver_ctx_t *rctx)
{
    ngx_http_llm_resolved_t  *rs = rctx->data;

    u_char                   *name;
    size_t                    len;
    ngx_http_request_t       *r;
    ngx_http_llm_ctx_t       *ctx;
    ngx_http_llm_provider_t  *p;

    r = rs->request;
    p = rs->provider;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    rs->state = rctx->state;

    if (rctx->state == NGX_OK && rctx->naddrs == 0) {
        rs->state = NGX_RESOLVE_NXDOMAIN;
    }

    if (rs->state) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: \"%V\" of provider \"%V\" could not be resolved "
                      "(%i: %s)", &p->host, &p->name, rctx->state,
                      ngx_resolver_strerror(rs->state));

    } else {

        /* the resolver hands the addresses out in turn: the first one */

        len = rctx->addrs[0].socklen;

        rs->addr.sockaddr = ngx_palloc(r->pool, len);
        name = ngx_pnalloc(r->pool, NGX_SOCKADDR_STRLEN);

        if (rs->addr.sockaddr == NULL || name == NULL) {
            rs->state = NGX_ERROR;
            rs->addr.sockaddr = NULL;

        } else {
            ngx_memcpy(rs->addr.sockaddr, rctx->addrs[0].sockaddr, len);
            ngx_inet_set_port(rs->addr.sockaddr, p->port);

            rs->addr.socklen = len;
            rs->addr.name.data = name;
            rs->addr.name.len = ngx_sock_ntop(rs->addr.sockaddr, len, name,
                                              NGX_SOCKADDR_STRLEN, 1);

            ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "llm: \"%V\" of provider \"%V\" is %V",
                           &p->host, &p->name, &rs->addr.name);
        }
    }

    ngx_resolve_name_done(rctx);
    rs->resolver = NULL;

    if (--ctx->resolving == 0) {
        ngx_http_llm_resolve_done(r, ctx);
    }
}


/* the last answer came from the resolver's handler: the upstream starts */

static void
ngx_http_llm_resolve_done(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = r->connection;

    rc = ngx_http_llm_upstream_start(r, ctx);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc >= NGX_HTTP_SPECIAL_RESPONSE
                                     ? rc : NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    ngx_http_run_posted_requests(c);
}


/*
 * The address of candidate "n" for the peer connection: the one found at
 * configuration time, or the one resolved for this request.  NGX_DECLINED:
 * there is none, and this attempt fails.
 */

ngx_int_t
ngx_http_llm_resolve_peer(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_uint_t n, ngx_peer_connection_t *pc)
{
    ngx_http_llm_provider_t  *p;
    ngx_http_llm_resolved_t  *rs;

    p = ctx->candidates[n];

    if (!p->resolve) {
        pc->sockaddr = p->addrs[0].sockaddr;
        pc->socklen = p->addrs[0].socklen;
        pc->name = &p->addrs[0].name;

        return NGX_OK;
    }

    rs = (n < ctx->nresolved) ? &ctx->resolved[n] : NULL;

    if (rs && rs->state == NGX_OK && rs->addr.sockaddr) {
        pc->sockaddr = rs->addr.sockaddr;
        pc->socklen = rs->addr.socklen;
        pc->name = &rs->addr.name;

        return NGX_OK;
    }

    /*
     * NGINX lets go of a peer (and counts the try) only when it has an
     * address: the attempt gets one that is never connected to
     */

    pc->sockaddr = &ngx_http_llm_no_address.sockaddr;
    pc->socklen = sizeof(struct sockaddr_in);
    pc->name = &p->host;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "llm: provider \"%V\" has no address: \"%V\" could not "
                  "be resolved (%s)", &p->name, &p->host,
                  ngx_http_llm_resolve_error(ctx, p));

    return NGX_DECLINED;
}


/* why provider "p" had no address in this request, or NULL */

const char *
ngx_http_llm_resolve_error(ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_provider_t *p)
{
    ngx_uint_t                i;
    ngx_http_llm_resolved_t  *rs;

    if (!p->resolve) {
        return NULL;
    }

    rs = ctx->resolved;

    for (i = 0; i < ctx->nresolved; i++) {
        if (rs[i].provider != p) {
            continue;
        }

        if (rs[i].state == NGX_OK) {
            return rs[i].addr.sockaddr ? NULL : "not resolved";
        }

        if (rs[i].state == NGX_ERROR) {
            return "out of memory";
        }

        if (rs[i].state == NGX_DECLINED) {
            return "no resolver";
        }

        return ngx_resolver_strerror(rs[i].state);
    }

    return "not resolved";
}


/* lookups still under way when the request ends are given up */

static void
ngx_http_llm_resolve_cleanup(void *data)
{
    ngx_http_llm_ctx_t  *ctx = data;

    ngx_uint_t  i;

    for (i = 0; i < ctx->nresolved; i++) {
        if (ctx->resolved[i].resolver) {
            ngx_resolve_name_done(ctx->resolved[i].resolver);
            ctx->resolved[i].resolver = NULL;
        }
    }

    ctx->resolving = 0;
}
