
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


/*
 * The llm_zone: one shared memory zone with, for each provider, its
 * health (ngx_http_llm_health.c) and its counters, and the counters of
 * each arm of the named llm_route rules.  Entries are found by name when
 * the zone is set up, so that they outlive "nginx -s reload"; every
 * counter is an ngx_atomic_t updated without a lock.
 *
 * Each attempt sent to a provider is counted once: a failed attempt when
 * the upstream lets go of it (ngx_http_llm_stats_failed), the last one
 * when the request is over (ngx_http_llm_stats_done), which also prices
 * the answer and counts the request for its route arm.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_router.h"


#define NGX_HTTP_LLM_NODE_PROVIDER  0
#define NGX_HTTP_LLM_NODE_ARM       1


typedef struct ngx_http_llm_node_s  ngx_http_llm_node_t;

struct ngx_http_llm_node_s {
    ngx_http_llm_node_t           *next;
    ngx_uint_t                     kind;
    ngx_str_t                      name;          /* provider */
    ngx_str_t                      route;         /* arm: its rule */
    ngx_http_llm_counters_t        counters;
};


typedef struct {
    ngx_http_llm_health_t         *health;        /* lists in the zone */
    ngx_http_llm_node_t           *nodes;
    time_t                         since;         /* counted from, sec */
    ngx_msec_t                     since_msec;

    /* the histograms' bounds their counts were made with */
    ngx_msec_t                     bounds[NGX_HTTP_LLM_NHIST]
                                         [NGX_HTTP_LLM_MAX_BUCKETS];
} ngx_http_llm_shctx_t;


static ngx_int_t ngx_http_llm_zone_init(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_llm_health_t *ngx_http_llm_zone_health(
    ngx_slab_pool_t *shpool, ngx_http_llm_shctx_t *sh, ngx_str_t *name);
static ngx_http_llm_counters_t *ngx_http_llm_zone_node(
    ngx_slab_pool_t *shpool, ngx_http_llm_shctx_t *sh, ngx_uint_t kind,
    ngx_str_t *name, ngx_str_t *route);
static size_t ngx_http_llm_zone_need(ngx_http_llm_main_conf_t *lmcf);
static size_t ngx_http_llm_slab_size(size_t size);
static void ngx_http_llm_stats_usage(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_uint_t ngx_http_llm_stats_outcome(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_int_t rc);
static void ngx_http_llm_count(ngx_http_llm_counters_t *c,
    ngx_http_llm_main_conf_t *lmcf, ngx_http_llm_ctx_t *ctx,
    ngx_msec_t duration, ngx_msec_int_t ttft);
static void ngx_http_llm_observe(ngx_http_llm_hist_t *h, ngx_msec_t *bounds,
    uint64_t value);
static ngx_uint_t ngx_http_llm_finish_index(const char *reason);


static const char  *ngx_http_llm_outcome_names[] = {
    "success",
    "connect",
    "timeout",
    "http_429",
    "http_5xx",
    "http_4xx",
    "invalid",
    "client_abort"
};


/* OpenTelemetry's recommended bounds for GenAI metrics */

static ngx_msec_t  ngx_http_llm_default_bounds[NGX_HTTP_LLM_NHIST]
                                              [NGX_HTTP_LLM_MAX_BUCKETS] =
{
    /* operation duration, msec */
    { 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 20480, 40960,
      81920, 0 },

    /* time to first token, msec */
    { 1, 5, 10, 20, 40, 60, 80, 100, 250, 500, 750, 1000, 2500, 5000, 7500,
      10000 },

    /* input tokens */
    { 1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
      16777216, 67108864, 0 },

    /* output tokens */
    { 1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
      16777216, 67108864, 0 }
};


char *
ngx_http_llm_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (lmcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid llm_zone size \"%V\": at least %uz",
                           &value[2], 8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    lmcf->shm_zone = ngx_shared_memory_add(cf, &value[1], size,
                                           &ngx_http_llm_router_module);
    if (lmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (lmcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llm_zone \"%V\" is already used", &value[1]);
        return NGX_CONF_ERROR;
    }

    lmcf->shm_zone->init = ngx_http_llm_zone_init;
    lmcf->shm_zone->data = lmcf;

    return NGX_CONF_OK;
}


/* "llm_stats_buckets latency|ttft|tokens BOUND...": histogram bounds */

char *
ngx_http_llm_buckets(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t *lmcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_uint_t   i, which, time;
    ngx_msec_t   b[NGX_HTTP_LLM_MAX_BUCKETS];

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "latency") == 0) {
        which = NGX_HTTP_LLM_HIST_LATENCY;
        time = 1;

    } else if (ngx_strcmp(value[1].data, "ttft") == 0) {
        which = NGX_HTTP_LLM_HIST_TTFT;
        time = 1;

    } else if (ngx_strcmp(value[1].data, "tokens") == 0) {
        which = NGX_HTTP_LLM_HIST_INPUT;
        time = 0;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid histogram \"%V\" in llm_stats_buckets: "
                           "use \"latency\", \"ttft\" or \"tokens\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (lmcf->bounds[which][0]) {
        return "is duplicate";
    }

    if (cf->args->nelts - 2 > NGX_HTTP_LLM_MAX_BUCKETS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many buckets in llm_stats_buckets: "
                           "at most %d", NGX_HTTP_LLM_MAX_BUCKETS);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(b, sizeof(b));

    for (i = 2; i < cf->args->nelts; i++) {
        n = time ? ngx_parse_time(&value[i], 0)
                 : ngx_atoi(value[i].data, value[i].len);

        if (n == NGX_ERROR || n <= 0
            || (i > 2 && (ngx_msec_t) n <= b[i - 3]))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid bucket \"%V\" in llm_stats_buckets: "
                               "bounds are positive %s in increasing order",
                               &value[i],
                               time ? "times (\"10ms\", \"1s\")" : "numbers");
            return NGX_CONF_ERROR;
        }

        b[i - 2] = (ngx_msec_t) n;
    }

    ngx_memcpy(lmcf->bounds[which], b, sizeof(b));

    if (which == NGX_HTTP_LLM_HIST_INPUT) {
        ngx_memcpy(lmcf->bounds[NGX_HTTP_LLM_HIST_OUTPUT], b, sizeof(b));
    }

    return NGX_CONF_OK;
}


/*
 * After the whole configuration is read: default bounds, and whether the
 * zone holds every provider and route arm.
 */

ngx_int_t
ngx_http_llm_stats_init_conf(ngx_conf_t *cf, ngx_http_llm_main_conf_t *lmcf)
{
    size_t      need;
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_LLM_NHIST; i++) {
        if (lmcf->bounds[i][0] == 0) {
            ngx_memcpy(lmcf->bounds[i], ngx_http_llm_default_bounds[i],
                       sizeof(lmcf->bounds[i]));
        }
    }

    if (lmcf->shm_zone == NULL) {
        if (lmcf->status) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"llm_status\" needs the counters of an "
                          "\"llm_zone\": add \"llm_zone NAME SIZE;\" to the "
                          "http block");
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    need = ngx_http_llm_zone_need(lmcf);

    if (lmcf->shm_zone->shm.size < need) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "llm_zone \"%V\" of %uzk is too small for %ui "
                      "providers and %ui route arms: make it at least %uzk",
                      &lmcf->shm_zone->shm.name,
                      lmcf->shm_zone->shm.size / 1024,
                      lmcf->providers.nelts, lmcf->arms.nelts,
                      (need + 1023) / 1024);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the memory the zone needs: slab allocations are powers of two or pages */

static size_t
ngx_http_llm_zone_need(ngx_http_llm_main_conf_t *lmcf)
{
    size_t                     size;
    ngx_uint_t                 i;
    ngx_http_llm_arm_t       **arm;
    ngx_http_llm_provider_t  **pp;

    size = ngx_http_llm_slab_size(sizeof(ngx_http_llm_shctx_t))
           + ngx_http_llm_slab_size(sizeof(" in llm_zone \"\"") + 256);

    pp = lmcf->providers.elts;

    for (i = 0; i < lmcf->providers.nelts; i++) {
        size += ngx_http_llm_slab_size(sizeof(ngx_http_llm_health_t)
                                       + pp[i]->name.len)
                + ngx_http_llm_slab_size(sizeof(ngx_http_llm_node_t)
                                         + pp[i]->name.len);
    }

    arm = lmcf->arms.elts;

    for (i = 0; i < lmcf->arms.nelts; i++) {
        size += ngx_http_llm_slab_size(sizeof(ngx_http_llm_node_t)
                                       + arm[i]->name.len
                                       + arm[i]->route.len);
    }

    /* the slab pool's own header and page descriptors */

    return size + size / 8 + 8 * ngx_pagesize;
}


static size_t
ngx_http_llm_slab_size(size_t size)
{
    size_t  n;

    if (size > ngx_pagesize / 2) {
        return ngx_align(size, ngx_pagesize);
    }

    for (n = 8; n < size; n <<= 1) { /* void */ }

    return n;
}


/* an arm of the named rule "route": counted when the zone is set up */

ngx_http_llm_arm_t *
ngx_http_llm_stats_arm(ngx_conf_t *cf, ngx_str_t *route,
    ngx_http_llm_provider_t *p)
{
    ngx_uint_t                 i;
    ngx_http_llm_arm_t        *arm, **ap;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_router_module);

    ap = lmcf->arms.elts;

    for (i = 0; i < lmcf->arms.nelts; i++) {
        if (ap[i]->route.len == route->len
            && ngx_strncmp(ap[i]->route.data, route->data, route->len) == 0
            && ap[i]->name.len == p->name.len
            && ngx_strncmp(ap[i]->name.data, p->name.data, p->name.len) == 0)
        {
            return ap[i];
        }
    }

    arm = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_arm_t));
    if (arm == NULL) {
        return NULL;
    }

    arm->route = *route;
    arm->name = p->name;

    ap = ngx_array_push(&lmcf->arms);
    if (ap == NULL) {
        return NULL;
    }

    *ap = arm;

    return arm;
}


static ngx_int_t
ngx_http_llm_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llm_main_conf_t  *lmcf = shm_zone->data;

    size_t                     len;
    ngx_uint_t                 i;
    ngx_slab_pool_t           *shpool;
    ngx_http_llm_node_t       *node;
    ngx_http_llm_shctx_t      *sh;
    ngx_http_llm_arm_t       **arm;
    ngx_http_llm_provider_t  **pp;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists || data) {
        sh = shpool->data;

    } else {
        sh = ngx_slab_calloc(shpool, sizeof(ngx_http_llm_shctx_t));
        if (sh == NULL) {
            goto failed;
        }

        shpool->data = sh;

        sh->since = ngx_time();
        sh->since_msec = ngx_cached_time->msec;
        ngx_memcpy(sh->bounds, lmcf->bounds, sizeof(sh->bounds));

        len = sizeof(" in llm_zone \"\"") + shm_zone->shm.name.len;

        shpool->log_ctx = ngx_slab_alloc(shpool, len);
        if (shpool->log_ctx == NULL) {
            goto failed;
        }

        ngx_sprintf(shpool->log_ctx, " in llm_zone \"%V\"%Z",
                    &shm_zone->shm.name);
    }

    /* counts made with other bounds would be wrong with the new ones */

    for (i = 0; i < NGX_HTTP_LLM_NHIST; i++) {

        if (ngx_memcmp(sh->bounds[i], lmcf->bounds[i], sizeof(sh->bounds[i]))
            == 0)
        {
            continue;
        }

        for (node = sh->nodes; node; node = node->next) {
            ngx_memzero(&node->counters.hist[i], sizeof(ngx_http_llm_hist_t));
        }

        ngx_memcpy(sh->bounds[i], lmcf->bounds[i], sizeof(sh->bounds[i]));
    }

    pp = lmcf->providers.elts;

    for (i = 0; i < lmcf->providers.nelts; i++) {
        pp[i]->health = ngx_http_llm_zone_health(shpool, sh, &pp[i]->name);
        pp[i]->counters = ngx_http_llm_zone_node(shpool, sh,
                                                 NGX_HTTP_LLM_NODE_PROVIDER,
                                                 &pp[i]->name, NULL);

        if (pp[i]->health == NULL || pp[i]->counters == NULL) {
            goto failed;
        }
    }

    arm = lmcf->arms.elts;

    for (i = 0; i < lmcf->arms.nelts; i++) {
        arm[i]->counters = ngx_http_llm_zone_node(shpool, sh,
                                                  NGX_HTTP_LLM_NODE_ARM,
                                                  &arm[i]->name,
                                                  &arm[i]->route);
        if (arm[i]->counters == NULL) {
            goto failed;
        }
    }

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "llm_zone \"%V\" is too small for %ui providers and %ui "
                  "route arms (with what earlier configurations left in "
                  "it): make it larger",
                  &shm_zone->shm.name, lmcf->providers.nelts,
                  lmcf->arms.nelts);

    return NGX_ERROR;
}


static ngx_http_llm_health_t *
ngx_http_llm_zone_health(ngx_slab_pool_t *shpool, ngx_http_llm_shctx_t *sh,
    ngx_str_t *name)
{
    ngx_http_llm_health_t  *h;

    for (h = sh->health; h; h = h->next) {
        if (h->name_len == name->len
            && ngx_strncmp(h->name, name->data, name->len) == 0)
        {
            return h;
        }
    }

    h = ngx_slab_calloc(shpool, sizeof(ngx_http_llm_health_t) + name->len);
    if (h == NULL) {
        return NULL;
    }

    h->name = (u_char *) h + sizeof(ngx_http_llm_health_t);
    h->name_len = name->len;
    ngx_memcpy(h->name, name->data, name->len);

    h->next = sh->health;
    sh->health = h;

    return h;
}


static ngx_http_llm_counters_t *
ngx_http_llm_zone_node(ngx_slab_pool_t *shpool, ngx_http_llm_shctx_t *sh,
    ngx_uint_t kind, ngx_str_t *name, ngx_str_t *route)
{
    u_char               *p;
    size_t                rlen;
    ngx_http_llm_node_t  *node, **last;

    rlen = route ? route->len : 0;

    for (last = &sh->nodes; *last; last = &(*last)->next) {
        node = *last;

        if (node->kind == kind
            && node->name.len == name->len
            && ngx_strncmp(node->name.data, name->data, name->len) == 0
            && node->route.len == rlen
            && (rlen == 0
                || ngx_strncmp(node->route.data, route->data, rlen) == 0))
        {
            return &node->counters;
        }
    }

    /* new entries go last: the status output keeps the order of the
     * configuration */

    node = ngx_slab_calloc(shpool, sizeof(ngx_http_llm_node_t)
                                   + name->len + rlen);
    if (node == NULL) {
        return NULL;
    }

    p = (u_char *) node + sizeof(ngx_http_llm_node_t);

    node->kind = kind;
    node->name.data = p;
    node->name.len = name->len;
    p = ngx_cpymem(p, name->data, name->len);

    if (rlen) {
        node->route.data = p;
        node->route.len = rlen;
        ngx_memcpy(p, route->data, rlen);
    }

    *last = node;

    return &node->counters;
}


/*
 * An attempt that failed before its answer was passed on: counted by how
 * it failed.  An idle keep-alive connection that turned out closed is not
 * the provider's failure, and is not counted.
 */

void
ngx_http_llm_stats_failed(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_peer_connection_t *pc)
{
    ngx_uint_t                 outcome, status;
    ngx_connection_t          *c;
    ngx_http_llm_provider_t   *p;
    ngx_http_llm_loc_conf_t   *lcf;

    p = ctx->provider;
    c = pc->connection;
    status = ctx->pstatus;

    if (c && (c->read->timedout || c->write->timedout)) {
        outcome = NGX_HTTP_LLM_OUT_TIMEOUT;

    } else if (ctx->invalid) {
        outcome = NGX_HTTP_LLM_OUT_INVALID;

    } else if (status == NGX_HTTP_TOO_MANY_REQUESTS) {
        outcome = NGX_HTTP_LLM_OUT_HTTP_429;

    } else if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        outcome = NGX_HTTP_LLM_OUT_HTTP_5XX;

    } else if (status >= NGX_HTTP_BAD_REQUEST) {
        outcome = NGX_HTTP_LLM_OUT_HTTP_4XX;

    } else if (status) {
        outcome = NGX_HTTP_LLM_OUT_INVALID;

    } else {
        outcome = NGX_HTTP_LLM_OUT_CONNECT;
    }

    ctx->outcome = outcome;
    ctx->counted = 1;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (p->counters && lcf->stats) {
        (void) ngx_atomic_fetch_add(&p->counters->outcomes[outcome], 1);
    }
}


/* the next provider takes over from "from" */

void
ngx_http_llm_stats_failover(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_provider_t *from)
{
    ngx_http_llm_loc_conf_t  *lcf;

    ctx->failovers++;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "llm: failover from provider \"%V\" (%s) to \"%V\", "
                  "attempt %ui", &from->name,
                  ngx_http_llm_outcome_names[ctx->outcome],
                  &ctx->provider->name, ctx->tried.nelts);

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (from->counters && lcf->stats) {
        (void) ngx_atomic_fetch_add(&from->counters->failovers, 1);
    }
}


/*
 * The request is over (the upstream's finalize_request): how its last
 * attempt ended, what the answer used and cost, counted for the provider
 * and for the route arm.  The outcome, usage and cost stay in the context
 * for the variables.
 */

void
ngx_http_llm_stats_done(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_int_t rc)
{
    ngx_msec_t                 now, duration;
    ngx_msec_int_t             ttft;
    ngx_http_upstream_t       *u;
    ngx_http_llm_provider_t   *p;
    ngx_http_llm_loc_conf_t   *lcf;
    ngx_http_llm_main_conf_t  *lmcf;

    if (ctx->finalized || ctx->tried.nelts == 0) {
        return;
    }

    ctx->finalized = 1;

    u = r->upstream;
    p = ctx->provider;
    now = ngx_current_msec;

    if (!ctx->counted) {
        ctx->outcome = ngx_http_llm_stats_outcome(r, ctx, rc);
    }

    if (ctx->outcome == NGX_HTTP_LLM_OUT_SUCCESS) {
        ngx_http_llm_stats_usage(r, ctx);
    }

    /* the limits' reservations take the real usage and cost */

    ngx_http_llm_limit_settle(r, ctx);

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (!lcf->stats) {
        return;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);

    if (p->counters && !ctx->counted) {
        duration = now - u->start_time;
        ttft = ctx->ttft_set ? (ngx_msec_int_t) (ctx->ttft_at - u->start_time)
                             : -1;

        ngx_http_llm_count(p->counters, lmcf, ctx, duration, ttft);
    }

    if (ctx->arm && ctx->arm->counters) {
        duration = (ngx_msec_t) ((ngx_cached_time->sec - r->start_sec) * 1000
                                 + (ngx_cached_time->msec - r->start_msec));
        ttft = ctx->ttft_set ? (ngx_msec_int_t) ctx->ttft : -1;

        if (ctx->failovers) {
            (void) ngx_atomic_fetch_add(&ctx->arm->counters->failovers, 1);
        }

        ngx_http_llm_count(ctx->arm->counters, lmcf, ctx, duration, ttft);
    }
}


static ngx_uint_t
ngx_http_llm_stats_outcome(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_int_t rc)
{
    ngx_uint_t  status;

    if (rc == NGX_HTTP_CLIENT_CLOSED_REQUEST) {
        return NGX_HTTP_LLM_OUT_ABORT;
    }

    if (ctx->invalid) {

        /* cut for its size, its framing, its duration */

        return NGX_HTTP_LLM_OUT_INVALID;
    }

    if (ctx->stream_failed) {
        return (ctx->err.code && ngx_strcmp(ctx->err.code, "provider_timeout")
                                 == 0)
               ? NGX_HTTP_LLM_OUT_TIMEOUT : NGX_HTTP_LLM_OUT_INVALID;
    }

    status = ctx->pstatus;

    if (status == NGX_HTTP_TOO_MANY_REQUESTS) {
        return NGX_HTTP_LLM_OUT_HTTP_429;
    }

    if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        return NGX_HTTP_LLM_OUT_HTTP_5XX;
    }

    if (status >= NGX_HTTP_BAD_REQUEST) {
        return NGX_HTTP_LLM_OUT_HTTP_4XX;
    }

    if (rc == NGX_HTTP_GATEWAY_TIME_OUT) {
        return NGX_HTTP_LLM_OUT_TIMEOUT;
    }

    if (rc != 0 && rc != NGX_OK) {
        return status ? NGX_HTTP_LLM_OUT_INVALID : NGX_HTTP_LLM_OUT_CONNECT;
    }

    return NGX_HTTP_LLM_OUT_SUCCESS;
}


/* the usage of a successful answer, from wherever its type reports it */

static void
ngx_http_llm_stats_usage(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    size_t        len;
    llm_usage_t  *u;

    u = &ctx->usage;

    if (ctx->streaming && ctx->stream) {
        *u = ctx->stream->usage;
        ctx->finish_reason = ctx->stream->finish_reason;

        if (ctx->stream->text) {
            ctx->completion.data = (u_char *) ctx->stream->text;
            ctx->completion.len = ctx->stream->text_len;
        }

    } else if (ctx->scan) {
        len = 0;

        (void) llm_scan_finish(ctx->scan, u, &ctx->finish_reason, &len);

        ctx->completion.len = len;

    } else if (!ctx->translated) {
        return;
    }

    ctx->usage_known = llm_usage_known(u) ? 1 : 0;

    if (ctx->usage_known && ctx->provider->priced) {
        ctx->cost = llm_usage_cost(u, &ctx->provider->price);
        ctx->priced = 1;
    }
}


static void
ngx_http_llm_count(ngx_http_llm_counters_t *c, ngx_http_llm_main_conf_t *lmcf,
    ngx_http_llm_ctx_t *ctx, ngx_msec_t duration, ngx_msec_int_t ttft)
{
    llm_usage_t  *u;

    (void) ngx_atomic_fetch_add(&c->outcomes[ctx->outcome], 1);

    if (ctx->outcome != NGX_HTTP_LLM_OUT_SUCCESS) {
        return;
    }

    if (ctx->embed) {

        /* an embeddings answer has no finish reason and no output */

        (void) ngx_atomic_fetch_add(&c->embeddings, 1);

    } else {
        (void) ngx_atomic_fetch_add(&c->finish[ngx_http_llm_finish_index(
                                                   ctx->finish_reason)], 1);
    }

    ngx_http_llm_observe(&c->hist[NGX_HTTP_LLM_HIST_LATENCY],
                         lmcf->bounds[NGX_HTTP_LLM_HIST_LATENCY], duration);

    if (ttft >= 0) {
        ngx_http_llm_observe(&c->hist[NGX_HTTP_LLM_HIST_TTFT],
                             lmcf->bounds[NGX_HTTP_LLM_HIST_TTFT],
                             (uint64_t) ttft);
    }

    if (!ctx->usage_known) {
        (void) ngx_atomic_fetch_add(&c->usage_unknown, 1);
        return;
    }

    u = &ctx->usage;

    if (u->prompt_tokens > 0) {
        (void) ngx_atomic_fetch_add(&c->tokens[NGX_HTTP_LLM_TOKENS_INPUT],
                                    u->prompt_tokens);
    }

    if (u->completion_tokens > 0) {
        (void) ngx_atomic_fetch_add(&c->tokens[NGX_HTTP_LLM_TOKENS_OUTPUT],
                                    u->completion_tokens);
    }

    if (u->cached_tokens > 0) {
        (void) ngx_atomic_fetch_add(&c->tokens[NGX_HTTP_LLM_TOKENS_CACHED],
                                    u->cached_tokens);
    }

    if (u->cache_write_tokens > 0) {
        (void) ngx_atomic_fetch_add(&c->tokens[NGX_HTTP_LLM_TOKENS_WRITE],
                                    u->cache_write_tokens);
    }

    if (u->reasoning_tokens > 0) {
        (void) ngx_atomic_fetch_add(
                                &c->tokens[NGX_HTTP_LLM_TOKENS_REASONING],
                                u->reasoning_tokens);
    }

    ngx_http_llm_observe(&c->hist[NGX_HTTP_LLM_HIST_INPUT],
                         lmcf->bounds[NGX_HTTP_LLM_HIST_INPUT],
                         u->prompt_tokens > 0 ? u->prompt_tokens : 0);
    if (!ctx->embed) {
        ngx_http_llm_observe(&c->hist[NGX_HTTP_LLM_HIST_OUTPUT],
                             lmcf->bounds[NGX_HTTP_LLM_HIST_OUTPUT],
                             u->completion_tokens > 0
                             ? u->completion_tokens : 0);
    }

    if (ctx->priced && ctx->cost) {
        (void) ngx_atomic_fetch_add(&c->cost, ctx->cost);
    }
}


static void
ngx_http_llm_observe(ngx_http_llm_hist_t *h, ngx_msec_t *bounds,
    uint64_t value)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_LLM_MAX_BUCKETS && bounds[i]; i++) {
        if (value <= bounds[i]) {
            break;
        }
    }

    if (i < NGX_HTTP_LLM_MAX_BUCKETS && bounds[i] == 0) {
        i = NGX_HTTP_LLM_MAX_BUCKETS;
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum, value);
    (void) ngx_atomic_fetch_add(&h->count, 1);
}


static ngx_uint_t
ngx_http_llm_finish_index(const char *reason)
{
    if (reason == NULL) {
        return NGX_HTTP_LLM_FINISH_OTHER;
    }

    switch (reason[0]) {

    case 's':
        return ngx_strcmp(reason, "stop") == 0 ? NGX_HTTP_LLM_FINISH_STOP
                                               : NGX_HTTP_LLM_FINISH_OTHER;

    case 'l':
        return ngx_strcmp(reason, "length") == 0 ? NGX_HTTP_LLM_FINISH_LENGTH
                                                 : NGX_HTTP_LLM_FINISH_OTHER;

    case 't':
        return ngx_strcmp(reason, "tool_calls") == 0
               ? NGX_HTTP_LLM_FINISH_TOOLS : NGX_HTTP_LLM_FINISH_OTHER;

    case 'c':
        return ngx_strcmp(reason, "content_filter") == 0
               ? NGX_HTTP_LLM_FINISH_FILTER : NGX_HTTP_LLM_FINISH_OTHER;

    default:
        return NGX_HTTP_LLM_FINISH_OTHER;
    }
}


/* a copy of the counters of the configured providers and arms */

ngx_int_t
ngx_http_llm_stats_snapshot(ngx_http_request_t *r,
    ngx_http_llm_snapshot_t *snap)
{
    ngx_uint_t                 i, n;
    ngx_slab_pool_t           *shpool;
    ngx_http_llm_stat_t       *st;
    ngx_http_llm_shctx_t      *sh;
    ngx_http_llm_arm_t       **arm;
    ngx_http_llm_provider_t  **pp;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);

    shpool = (ngx_slab_pool_t *) lmcf->shm_zone->shm.addr;
    sh = shpool->data;

    snap->zone = lmcf->shm_zone->shm.name;
    snap->since = sh->since;
    snap->since_msec = sh->since_msec;
    snap->bounds = lmcf->bounds;

    n = lmcf->providers.nelts + lmcf->arms.nelts;

    if (ngx_array_init(&snap->stats, r->pool, n ? n : 1,
                       sizeof(ngx_http_llm_stat_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    pp = lmcf->providers.elts;

    for (i = 0; i < lmcf->providers.nelts; i++) {
        if (pp[i]->counters == NULL) {
            continue;
        }

        st = ngx_array_push(&snap->stats);
        if (st == NULL) {
            return NGX_ERROR;
        }

        st->provider = pp[i];
        st->arm = NULL;
        st->state = ngx_http_llm_health_state(pp[i]);
        st->c = *pp[i]->counters;
    }

    arm = lmcf->arms.elts;

    for (i = 0; i < lmcf->arms.nelts; i++) {
        if (arm[i]->counters == NULL) {
            continue;
        }

        st = ngx_array_push(&snap->stats);
        if (st == NULL) {
            return NGX_ERROR;
        }

        st->provider = NULL;
        st->arm = arm[i];
        st->state = 0;
        st->c = *arm[i]->counters;
    }

    return NGX_OK;
}


const char *
ngx_http_llm_outcome_name(ngx_uint_t outcome)
{
    return ngx_http_llm_outcome_names[outcome];
}
