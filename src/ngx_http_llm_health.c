
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


/*
 * Provider health: a circuit breaker per provider (max_fails failures
 * within fail_timeout take it out of rotation for fail_timeout, then one
 * probe request is let through) and the measured latency.  The state is
 * shared by the worker processes when "llm_zone" is set, and kept by each
 * worker otherwise, like upstream peers without a "zone".
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_router.h"


ngx_int_t
ngx_http_llm_health_init(ngx_conf_t *cf, ngx_http_llm_provider_t *p)
{
    /* a worker's own state, replaced by the zone's when there is one */

    p->health = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_health_t));
    if (p->health == NULL) {
        return NGX_ERROR;
    }

    p->health->name = p->name.data;
    p->health->name_len = p->name.len;

    return NGX_OK;
}


/*
 * Whether the provider may be tried now.  Once its time out of rotation
 * is over, one request (the first to ask) is let through as a probe.
 */

ngx_int_t
ngx_http_llm_health_available(ngx_http_request_t *r,
    ngx_http_llm_provider_t *p, ngx_msec_t *probed)
{
    ngx_msec_t              now, down, probe;
    ngx_http_llm_health_t  *h;

    h = p->health;
    *probed = 0;

    if (p->max_fails == 0 || h->down_until == 0) {
        return 1;
    }

    now = ngx_current_msec;
    down = h->down_until;

    if ((ngx_msec_int_t) (now - down) < 0) {
        return 0;
    }

    probe = h->probe;

    if (probe
        && (ngx_msec_int_t) (now - probe) < (ngx_msec_int_t) p->fail_timeout)
    {
        return 0;
    }

    if (!ngx_atomic_cmp_set(&h->probe, probe, now ? now : 1)) {
        return 0;
    }

    *probed = now ? now : 1;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "llm: provider \"%V\" is half-open: one request probes it",
                  &p->name);

    return 1;
}


/*
 * At the end of a request: the probes it claimed for providers it never
 * tried (an earlier provider answered) are given back, so that the next
 * request probes them instead of waiting for fail_timeout.
 */

void
ngx_http_llm_health_release(ngx_http_llm_ctx_t *ctx)
{
    ngx_uint_t                 i, j;
    ngx_http_llm_provider_t  **tried;

    tried = ctx->tried.elts;

    for (i = 0; i < ctx->nprobes; i++) {

        for (j = 0; j < ctx->tried.nelts; j++) {
            if (tried[j] == ctx->probes[i].provider) {
                break;
            }
        }

        if (j == ctx->tried.nelts) {
            (void) ngx_atomic_cmp_set(&ctx->probes[i].provider->health->probe,
                                      ctx->probes[i].at, 0);
        }
    }

    ctx->nprobes = 0;
}


/* milliseconds until the first of the providers comes back */

ngx_msec_t
ngx_http_llm_health_retry_after(ngx_http_llm_provider_t **pp, ngx_uint_t n)
{
    ngx_msec_t  now, left, min;
    ngx_uint_t  i;

    now = ngx_current_msec;
    min = (ngx_msec_t) -1;

    for (i = 0; i < n; i++) {
        left = pp[i]->health->down_until - now;

        if ((ngx_msec_int_t) left < 0) {
            left = 0;
        }

        if (left < min) {
            min = left;
        }
    }

    return min;
}


void
ngx_http_llm_health_failed(ngx_log_t *log, ngx_http_llm_provider_t *p)
{
    ngx_msec_t              now, checked;
    ngx_atomic_uint_t       fails;
    ngx_http_llm_health_t  *h;

    h = p->health;

    if (p->max_fails == 0) {
        return;
    }

    now = ngx_current_msec;

    if (h->down_until) {

        if (h->probe) {
            h->down_until = now + p->fail_timeout;
            h->probe = 0;

            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "llm: provider \"%V\" failed its probe, out of "
                          "rotation for %Mms more", &p->name,
                          p->fail_timeout);
        }

        return;
    }

    checked = h->checked;

    if (checked == 0 || now - checked > p->fail_timeout) {
        h->checked = now ? now : 1;
        h->fails = 1;
        fails = 1;

    } else {
        fails = ngx_atomic_fetch_add(&h->fails, 1) + 1;
    }

    if (fails < p->max_fails) {
        return;
    }

    if (!ngx_atomic_cmp_set(&h->down_until, 0, now + p->fail_timeout)) {
        return;
    }

    h->fails = 0;
    h->checked = 0;
    h->probe = 0;

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "llm: provider \"%V\" is out of rotation for %Mms after "
                  "%ui failures", &p->name, p->fail_timeout, p->max_fails);
}


void
ngx_http_llm_health_ok(ngx_log_t *log, ngx_http_llm_provider_t *p,
    ngx_msec_t latency)
{
    uint64_t                old, usec;
    ngx_http_llm_health_t  *h;

    h = p->health;

    /* an exponentially weighted moving average, in microseconds */

    usec = (uint64_t) latency * 1000 + 1;
    old = h->latency;
    h->latency = old ? (old * 7 + usec) / 8 : usec;

    if (h->down_until == 0) {
        h->fails = 0;
        return;
    }

    h->down_until = 0;
    h->probe = 0;
    h->fails = 0;
    h->checked = 0;

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "llm: provider \"%V\" is back in rotation", &p->name);
}


uint64_t
ngx_http_llm_health_latency(ngx_http_llm_provider_t *p)
{
    return p->health->latency;
}


/* 0: in rotation, 1: out of rotation, 2: out, and may be probed */

ngx_uint_t
ngx_http_llm_health_state(ngx_http_llm_provider_t *p)
{
    ngx_msec_t  down;

    down = p->health->down_until;

    if (down == 0) {
        return 0;
    }

    return ((ngx_msec_int_t) (ngx_current_msec - down) < 0) ? 1 : 2;
}
