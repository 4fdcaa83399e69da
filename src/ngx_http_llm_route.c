
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


/*
 * Routing: the llm_route rules of a location, and the order in which a
 * request tries the providers of the rule it matches.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_router.h"


#define NGX_HTTP_LLM_MAX_WEIGHT  10000


static char *ngx_http_llm_route_if(ngx_conf_t *cf, ngx_http_llm_route_t *rt,
    ngx_str_t *value);
static char *ngx_http_llm_route_peer(ngx_conf_t *cf,
    ngx_http_llm_route_t *rt, ngx_str_t *value);
static ngx_int_t ngx_http_llm_route_match(ngx_http_request_t *r,
    ngx_http_llm_route_t *rt);
static void ngx_http_llm_route_weighted(ngx_http_request_t *r,
    ngx_http_llm_route_t *rt, ngx_http_llm_ctx_t *ctx);
static void ngx_http_llm_route_sort(ngx_http_llm_ctx_t *ctx,
    uint64_t *keys);
static ngx_int_t ngx_http_llm_route_serves(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_uint_t ngx_http_llm_route_comparable(ngx_http_request_t *r,
    ngx_http_llm_provider_t *a, ngx_http_llm_provider_t *b);
static void ngx_http_llm_route_model(ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_provider_t *p, ngx_str_t *model);
static ngx_http_llm_provider_t *ngx_http_llm_route_find(ngx_array_t *list,
    ngx_str_t *name);


static ngx_str_t  ngx_http_llm_balance_names[] = {
    ngx_string("ordered"),
    ngx_string("weighted"),
    ngx_string("latency"),
    ngx_string("cost"),
    ngx_null_string
};


char *
ngx_http_llm_route(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_loc_conf_t *lcf = conf;

    char                              *rv;
    ngx_str_t                         *value;
    ngx_uint_t                         i, j;
    ngx_http_llm_route_t              *rt, *prev;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_compile_complex_value_t   ccv;

    if (lcf->routes == NULL) {
        lcf->routes = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_http_llm_route_t));
        if (lcf->routes == NULL) {
            return NGX_CONF_ERROR;
        }

    } else {
        prev = lcf->routes->elts;

        if (prev[lcf->routes->nelts - 1].op == NGX_HTTP_LLM_IF_NONE) {
            return "is unreachable: a previous \"llm_route\" of this "
                   "location has no \"if=\" condition and takes every "
                   "request";
        }
    }

    rt = ngx_array_push(lcf->routes);
    if (rt == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rt, sizeof(ngx_http_llm_route_t));

    if (ngx_array_init(&rt->peers, cf->pool, cf->args->nelts,
                       sizeof(ngx_http_llm_route_peer_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    rt->op = NGX_HTTP_LLM_IF_NONE;
    rt->file = cf->conf_file->file.name.data;
    rt->line = cf->conf_file->line;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "if=", 3) == 0) {
            rv = ngx_http_llm_route_if(cf, rt, &value[i]);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "balance=", 8) == 0) {

            for (j = 0; ngx_http_llm_balance_names[j].len; j++) {
                if (value[i].len - 8 == ngx_http_llm_balance_names[j].len
                    && ngx_strncmp(value[i].data + 8,
                                   ngx_http_llm_balance_names[j].data,
                                   value[i].len - 8)
                       == 0)
                {
                    break;
                }
            }

            if (ngx_http_llm_balance_names[j].len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": use \"balance=ordered\", "
                                   "\"balance=weighted\", "
                                   "\"balance=latency\" or \"balance=cost\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            rt->balance = j;
            continue;
        }

        if (ngx_strncmp(value[i].data, "name=", 5) == 0) {

            if (rt->name.len) {
                return "has a duplicate \"name=\"";
            }

            rt->name.data = value[i].data + 5;
            rt->name.len = value[i].len - 5;

            if (ngx_http_llm_valid_name(&rt->name) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" in \"llm_route\": only "
                                   "letters, digits and \"._-:/@\" are "
                                   "allowed", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "sticky=", 7) == 0) {

            rt->sticky = ngx_palloc(cf->pool,
                                    sizeof(ngx_http_complex_value_t));
            if (rt->sticky == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

            ccv.cf = cf;
            ccv.value = &value[i];
            ccv.value->data += 7;
            ccv.value->len -= 7;
            ccv.complex_value = rt->sticky;

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        rv = ngx_http_llm_route_peer(cf, rt, &value[i]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (rt->peers.nelts == 0) {
        return "has no providers";
    }

    if (rt->sticky && rt->balance != NGX_HTTP_LLM_BALANCE_WEIGHTED) {
        return "has \"sticky=\" without \"balance=weighted\"";
    }

    if (rt->weighted && rt->balance != NGX_HTTP_LLM_BALANCE_WEIGHTED) {
        return "has provider weights without \"balance=weighted\"";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_llm_handler;

    return NGX_CONF_OK;
}


/*
 * if=$variable        the value is not empty and not "0"
 * if=!$variable       the opposite
 * if=$variable=text   if=$variable!=text
 * if=$variable<N      <=, >, >= N: the value read as a number
 */

static char *
ngx_http_llm_route_if(ngx_conf_t *cf, ngx_http_llm_route_t *rt,
    ngx_str_t *value)
{
    u_char     *p, *last, *name;
    ngx_str_t   var;

    if (rt->op != NGX_HTTP_LLM_IF_NONE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate \"if=\" in \"llm_route\"");
        return NGX_CONF_ERROR;
    }

    p = value->data + 3;
    last = value->data + value->len;

    rt->op = NGX_HTTP_LLM_IF_TRUE;

    if (p < last && *p == '!') {
        rt->op = NGX_HTTP_LLM_IF_FALSE;
        p++;
    }

    if (p == last || *p != '$') {
        goto invalid;
    }

    name = ++p;

    while (p < last
           && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
               || (*p >= '0' && *p <= '9') || *p == '_'))
    {
        p++;
    }

    var.data = name;
    var.len = p - name;

    if (var.len == 0) {
        goto invalid;
    }

    rt->var = ngx_http_get_variable_index(cf, &var);
    if (rt->var == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    if (p == last) {
        return NGX_CONF_OK;
    }

    if (rt->op == NGX_HTTP_LLM_IF_FALSE) {
        goto invalid;
    }

    if (*p == '=') {
        rt->op = NGX_HTTP_LLM_IF_EQ;
        p++;

    } else if (*p == '!' && p + 1 < last && p[1] == '=') {
        rt->op = NGX_HTTP_LLM_IF_NE;
        p += 2;

    } else if (*p == '<' || *p == '>') {

        if (p + 1 < last && p[1] == '=') {
            rt->op = (*p == '<') ? NGX_HTTP_LLM_IF_LE : NGX_HTTP_LLM_IF_GE;
            p += 2;

        } else {
            rt->op = (*p == '<') ? NGX_HTTP_LLM_IF_LT : NGX_HTTP_LLM_IF_GT;
            p++;
        }

        rt->number = ngx_atoof(p, last - p);

        if (rt->number == NGX_ERROR) {
            goto invalid;
        }

    } else {
        goto invalid;
    }

    rt->value.data = p;
    rt->value.len = last - p;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid condition \"%V\" in \"llm_route\": use "
                       "\"if=$variable\", \"if=!$variable\", "
                       "\"if=$variable=value\", \"if=$variable!=value\", "
                       "or \"if=$variable<N\" (also <=, >, >=)", value);

    return NGX_CONF_ERROR;
}


/* "name" or "name=weight" */

static char *
ngx_http_llm_route_peer(ngx_conf_t *cf, ngx_http_llm_route_t *rt,
    ngx_str_t *value)
{
    u_char                     *eq;
    size_t                      len;
    ngx_int_t                   weight;
    ngx_uint_t                  i;
    ngx_http_llm_route_peer_t  *peer;

    weight = 1;

    eq = ngx_strlchr(value->data, value->data + value->len, '=');

    if (eq) {
        weight = ngx_atoi(eq + 1, value->data + value->len - eq - 1);

        if (weight <= 0 || weight > NGX_HTTP_LLM_MAX_WEIGHT) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid weight in \"%V\" of \"llm_route\": "
                               "use a number from 1 to %d",
                               value, NGX_HTTP_LLM_MAX_WEIGHT);
            return NGX_CONF_ERROR;
        }

        rt->weighted = 1;
    }

    len = eq ? (size_t) (eq - value->data) : value->len;

    if (len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\" in \"llm_route\"", value);
        return NGX_CONF_ERROR;
    }

    peer = rt->peers.elts;

    for (i = 0; i < rt->peers.nelts; i++) {
        if (peer[i].name.len == len
            && ngx_strncmp(peer[i].name.data, value->data, len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "provider \"%V\" is listed twice in "
                               "\"llm_route\"", &peer[i].name);
            return NGX_CONF_ERROR;
        }
    }

    peer = ngx_array_push(&rt->peers);
    if (peer == NULL) {
        return NGX_CONF_ERROR;
    }

    peer->name.data = value->data;
    peer->name.len = len;
    peer->weight = weight;
    peer->provider = NULL;

    rt->total_weight += weight;

    return NGX_CONF_OK;
}


/*
 * Once the whole http{} block is parsed: the providers of each rule, and
 * the location's providers (every rule's, once each, in order).
 */

ngx_int_t
ngx_http_llm_route_resolve(ngx_conf_t *cf, ngx_http_llm_loc_conf_t *conf)
{
    ngx_uint_t                  i, j;
    ngx_http_llm_route_t       *rt;
    ngx_http_llm_provider_t    *p, **pp;
    ngx_http_llm_main_conf_t   *lmcf;
    ngx_http_llm_route_peer_t  *peer;

    if (conf->routes == NULL || conf->providers) {
        return NGX_OK;
    }

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_router_module);

    conf->providers = ngx_array_create(cf->pool, 4,
                                       sizeof(ngx_http_llm_provider_t *));
    if (conf->providers == NULL) {
        return NGX_ERROR;
    }

    rt = conf->routes->elts;

    for (i = 0; i < conf->routes->nelts; i++) {

        peer = rt[i].peers.elts;

        for (j = 0; j < rt[i].peers.nelts; j++) {

            p = ngx_http_llm_route_find(&lmcf->providers, &peer[j].name);

            if (p == NULL) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "unknown llm_provider \"%V\" in llm_route "
                              "in %s:%ui", &peer[j].name, rt[i].file,
                              rt[i].line);
                return NGX_ERROR;
            }

            peer[j].provider = p;

            if (ngx_http_llm_route_find(conf->providers, &p->name) == NULL) {
                pp = ngx_array_push(conf->providers);
                if (pp == NULL) {
                    return NGX_ERROR;
                }

                *pp = p;
            }
        }
    }

    /*
     * a named rule counts its requests by arm: the provider it chose
     * first, one of its own or one a client pinned with "model"
     */

    pp = conf->providers->elts;

    for (i = 0; i < conf->routes->nelts; i++) {

        if (rt[i].name.len == 0) {
            continue;
        }

        rt[i].arms = ngx_palloc(cf->pool, conf->providers->nelts
                                          * sizeof(ngx_http_llm_arm_t *));
        if (rt[i].arms == NULL) {
            return NGX_ERROR;
        }

        for (j = 0; j < conf->providers->nelts; j++) {
            rt[i].arms[j] = ngx_http_llm_stats_arm(cf, &rt[i].name, pp[j]);
            if (rt[i].arms[j] == NULL) {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static ngx_http_llm_provider_t *
ngx_http_llm_route_find(ngx_array_t *list, ngx_str_t *name)
{
    ngx_uint_t                 i;
    ngx_http_llm_provider_t  **pp;

    pp = list->elts;

    for (i = 0; i < list->nelts; i++) {
        if (pp[i]->name.len == name->len
            && ngx_strncmp(pp[i]->name.data, name->data, name->len) == 0)
        {
            return pp[i];
        }
    }

    return NULL;
}


/*
 * The provider a request would be sent to first, for the spend limits'
 * estimate before the providers are chosen: the one the client's "model"
 * names, else the first of the first rule that matches; NULL: none.
 */

ngx_http_llm_provider_t *
ngx_http_llm_route_first(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_str_t                   model;
    ngx_uint_t                  i;
    ngx_http_llm_route_t       *rt;
    ngx_http_llm_provider_t    *p;
    ngx_http_llm_loc_conf_t    *lcf;
    ngx_http_llm_route_peer_t  *peer;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (ctx->req.model) {
        model.data = (u_char *) ctx->req.model;
        model.len = ngx_strlen(ctx->req.model);

        p = ngx_http_llm_route_find(lcf->providers, &model);

        if (p) {
            return p;
        }
    }

    rt = lcf->routes->elts;

    for (i = 0; i < lcf->routes->nelts; i++) {
        if (ngx_http_llm_route_match(r, &rt[i])) {
            peer = rt[i].peers.elts;
            return rt[i].peers.nelts ? peer[0].provider : NULL;
        }
    }

    return NULL;
}


/*
 * The providers of the first rule that matches, in the order the rule's
 * balance gives; a provider named by the client's "model" goes first.
 */

ngx_int_t
ngx_http_llm_route_select(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    uint64_t                   *keys;
    ngx_int_t                   rc;
    ngx_str_t                   model;
    ngx_msec_t                  retry, probed;
    ngx_uint_t                  i, n;
    ngx_table_elt_t            *h;
    ngx_http_llm_route_t       *rt;
    ngx_http_llm_provider_t    *p, *pinned, **pp;
    ngx_http_llm_loc_conf_t    *lcf;
    ngx_http_llm_route_peer_t  *peer;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    rt = lcf->routes->elts;

    for (i = 0; i < lcf->routes->nelts; i++) {
        if (ngx_http_llm_route_match(r, &rt[i])) {
            break;
        }
    }

    if (i == lcf->routes->nelts) {
        ngx_http_llm_set_error(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "api_error", "no_route",
                               "No llm_route of this location takes the "
                               "request.");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    rt = &rt[i];
    ctx->route = rt;

    pinned = NULL;

    if (ctx->req.model) {
        model.data = (u_char *) ctx->req.model;
        model.len = ngx_strlen(ctx->req.model);

        pinned = ngx_http_llm_route_find(lcf->providers, &model);
    }

    n = rt->peers.nelts + 1;

    ctx->candidates = ngx_palloc(r->pool,
                                 n * sizeof(ngx_http_llm_provider_t *));
    if (ctx->candidates == NULL) {
        return NGX_ERROR;
    }

    ctx->ncandidates = 0;
    peer = rt->peers.elts;

    for (i = 0; i < rt->peers.nelts; i++) {
        ctx->candidates[ctx->ncandidates++] = peer[i].provider;
    }

    switch (rt->balance) {

    case NGX_HTTP_LLM_BALANCE_WEIGHTED:
        ngx_http_llm_route_weighted(r, rt, ctx);
        break;

    case NGX_HTTP_LLM_BALANCE_LATENCY:
    case NGX_HTTP_LLM_BALANCE_COST:

        keys = ngx_palloc(r->pool, ctx->ncandidates * sizeof(uint64_t));
        if (keys == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < ctx->ncandidates; i++) {
            p = ctx->candidates[i];

            keys[i] = (rt->balance == NGX_HTTP_LLM_BALANCE_LATENCY)
                      ? ngx_http_llm_health_latency(p)
                      : ngx_http_llm_route_cost(p, ctx);
        }

        ngx_http_llm_route_sort(ctx, keys);
        break;

    default: /* NGX_HTTP_LLM_BALANCE_ORDERED */
        break;
    }

    if (pinned) {
        for (i = 0; i < ctx->ncandidates; i++) {
            if (ctx->candidates[i] == pinned) {
                break;
            }
        }

        if (i == ctx->ncandidates) {
            ctx->ncandidates++;
        }

        ngx_memmove(&ctx->candidates[1], &ctx->candidates[0],
                    i * sizeof(ngx_http_llm_provider_t *));
        ctx->candidates[0] = pinned;
    }

    rc = ngx_http_llm_route_serves(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    /* the arm is what the rule chose, whether it answers or not */

    if (rt->arms) {
        pp = lcf->providers->elts;

        for (i = 0; i < lcf->providers->nelts; i++) {
            if (pp[i] == ctx->candidates[0]) {
                ctx->arm = rt->arms[i];
                break;
            }
        }
    }

    /* providers out of rotation are skipped; a probe claimed is noted */

    ctx->probes = ngx_palloc(r->pool,
                             ctx->ncandidates * sizeof(ngx_http_llm_probe_t));
    if (ctx->probes == NULL) {
        return NGX_ERROR;
    }

    for (i = 0, n = 0; i < ctx->ncandidates; i++) {
        p = ctx->candidates[i];

        /*
         * vectors of different models cannot be compared: an embeddings
         * request goes on only to providers of the first one's kind
         */

        if (n > 0 && ctx->embed
            && !ngx_http_llm_route_comparable(r, ctx->candidates[0], p))
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "llm: provider \"%V\" is left out of the "
                          "embeddings request's failover: its vectors "
                          "are not comparable with those of \"%V\"",
                          &p->name, &ctx->candidates[0]->name);
            continue;
        }

        /* a provider whose own limit has no room is skipped */

        if (p->limits) {
            rc = ngx_http_llm_limit_provider(r, ctx, p);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_BUSY) {
                continue;
            }
        }

        if (!ngx_http_llm_health_available(r, p, &probed)) {
            continue;
        }

        if (probed) {
            ctx->probes[ctx->nprobes].provider = p;
            ctx->probes[ctx->nprobes].at = probed;
            ctx->nprobes++;
        }

        ctx->candidates[n++] = p;
    }

    if (n == 0 && ctx->limit_skipped) {
        return ngx_http_llm_limit_refused(r, ctx);
    }

    /* a provider skipped for its limit did not refuse the request */

    ctx->limit_zone = NULL;

    if (n == 0) {
        retry = ngx_http_llm_health_retry_after(ctx->candidates,
                                                ctx->ncandidates);
        retry = (retry + 999) / 1000;

        ngx_http_llm_set_error(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "api_error", "providers_unavailable",
                               "Every provider for this request is out of "
                               "rotation after repeated failures; retry in "
                               "%M s.", retry);

        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Retry-After");

        h->value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (h->value.data == NULL) {
            return NGX_ERROR;
        }

        h->value.len = ngx_sprintf(h->value.data, "%M", retry)
                       - h->value.data;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif

        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    ctx->ncandidates = n;

    return NGX_OK;
}


/*
 * The candidates that serve the request's endpoint, chat or embeddings,
 * in their order; a 400 when none does.
 */

static ngx_int_t
ngx_http_llm_route_serves(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_uint_t                i, n, bit;
    ngx_http_llm_provider_t  *p;

    bit = ctx->embed ? NGX_HTTP_LLM_SERVES_EMBED : NGX_HTTP_LLM_SERVES_CHAT;

    for (i = 0, n = 0; i < ctx->ncandidates; i++) {
        p = ctx->candidates[i];

        if (p->serves & bit) {
            ctx->candidates[n++] = p;
        }
    }

    if (n > 0) {
        ctx->ncandidates = n;
        return NGX_OK;
    }

    p = ctx->candidates[0];

    if (ctx->embed && p->adapter->embed_encode == NULL) {
        ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                               "invalid_request_error", "unsupported_endpoint",
                               "No provider of this route serves embeddings: "
                               "\"%V\" is of type %s, which has no "
                               "embeddings API.",
                               &p->name, p->adapter->name);

    } else {
        ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_REQUEST,
                               "invalid_request_error", "unsupported_endpoint",
                               "No provider of this route serves %s: "
                               "\"%V\" serves %s only.",
                               ctx->embed ? "embeddings" : "chat completions",
                               &p->name,
                               ctx->embed ? "chat completions"
                                          : "embeddings");
    }

    return NGX_HTTP_BAD_REQUEST;
}


/*
 * Whether the vectors of two providers can be compared: the same
 * embedding_group, or, without one, the same model (the provider's, or
 * the client's when the provider sets none); llm_embeddings_failover any
 * takes every provider.
 */

static ngx_uint_t
ngx_http_llm_route_comparable(ngx_http_request_t *r,
    ngx_http_llm_provider_t *a, ngx_http_llm_provider_t *b)
{
    ngx_str_t                 ma, mb;
    ngx_http_llm_ctx_t       *ctx;
    ngx_http_llm_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (lcf->embeddings_failover == NGX_HTTP_LLM_EMBED_ANY || a == b) {
        return 1;
    }

    if (a->embedding_group.len || b->embedding_group.len) {
        return a->embedding_group.len == b->embedding_group.len
               && ngx_strncmp(a->embedding_group.data,
                              b->embedding_group.data,
                              a->embedding_group.len)
                  == 0;
    }

    ngx_http_llm_route_model(ctx, a, &ma);
    ngx_http_llm_route_model(ctx, b, &mb);

    return ma.len == mb.len && ngx_strncmp(ma.data, mb.data, ma.len) == 0;
}


/* the model a provider is asked for */

static void
ngx_http_llm_route_model(ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_provider_t *p, ngx_str_t *model)
{
    if (p->model.len) {
        *model = p->model;
        return;
    }

    if (ctx->req.model) {
        model->data = (u_char *) ctx->req.model;
        model->len = ngx_strlen(ctx->req.model);
        return;
    }

    ngx_str_null(model);
}


static ngx_int_t
ngx_http_llm_route_match(ngx_http_request_t *r, ngx_http_llm_route_t *rt)
{
    off_t                       n;
    ngx_uint_t                  yes;
    ngx_http_variable_value_t  *vv;

    if (rt->op == NGX_HTTP_LLM_IF_NONE) {
        return 1;
    }

    vv = ngx_http_get_indexed_variable(r, rt->var);

    if (vv == NULL || vv->not_found) {
        vv = &ngx_http_variable_null_value;
    }

    switch (rt->op) {

    case NGX_HTTP_LLM_IF_TRUE:
    case NGX_HTTP_LLM_IF_FALSE:
        yes = (vv->len && !(vv->len == 1 && vv->data[0] == '0'));
        return (rt->op == NGX_HTTP_LLM_IF_TRUE) ? yes : !yes;

    case NGX_HTTP_LLM_IF_EQ:
    case NGX_HTTP_LLM_IF_NE:
        yes = (vv->len == rt->value.len
               && ngx_strncmp(vv->data, rt->value.data, vv->len) == 0);
        return (rt->op == NGX_HTTP_LLM_IF_EQ) ? yes : !yes;

    default:
        break;
    }

    /* a value that is not a number matches no numeric condition */

    n = ngx_atoof(vv->data, vv->len);

    if (n == NGX_ERROR) {
        return 0;
    }

    switch (rt->op) {

    case NGX_HTTP_LLM_IF_LT:
        return n < rt->number;

    case NGX_HTTP_LLM_IF_LE:
        return n <= rt->number;

    case NGX_HTTP_LLM_IF_GT:
        return n > rt->number;

    default: /* NGX_HTTP_LLM_IF_GE */
        return n >= rt->number;
    }
}


/*
 * The first provider by weight: at random, or by a hash of the sticky key
 * so that one key always gets the same provider; the others keep their
 * order behind it.
 */

static void
ngx_http_llm_route_weighted(ngx_http_request_t *r, ngx_http_llm_route_t *rt,
    ngx_http_llm_ctx_t *ctx)
{
    uint32_t                    pick;
    ngx_str_t                   key;
    ngx_uint_t                  i;
    ngx_http_llm_provider_t    *p;
    ngx_http_llm_route_peer_t  *peer;

    if (rt->sticky
        && ngx_http_complex_value(r, rt->sticky, &key) == NGX_OK
        && key.len)
    {
        pick = ngx_crc32_short(key.data, key.len) % rt->total_weight;

    } else {
        pick = (uint32_t) ngx_random() % rt->total_weight;
    }

    peer = rt->peers.elts;

    for (i = 0; i < rt->peers.nelts; i++) {
        if (pick < peer[i].weight) {
            break;
        }

        pick -= peer[i].weight;
    }

    p = ctx->candidates[i];

    ngx_memmove(&ctx->candidates[1], &ctx->candidates[0],
                i * sizeof(ngx_http_llm_provider_t *));
    ctx->candidates[0] = p;
}


/* a stable insertion sort: the lists are short */

static void
ngx_http_llm_route_sort(ngx_http_llm_ctx_t *ctx, uint64_t *keys)
{
    uint64_t                  k;
    ngx_uint_t                i, j;
    ngx_http_llm_provider_t  *p;

    for (i = 1; i < ctx->ncandidates; i++) {
        k = keys[i];
        p = ctx->candidates[i];

        for (j = i; j > 0 && keys[j - 1] > k; j--) {
            keys[j] = keys[j - 1];
            ctx->candidates[j] = ctx->candidates[j - 1];
        }

        keys[j] = k;
        ctx->candidates[j] = p;
    }
}


/*
 * The estimated price of the request in micro-dollars per million: the
 * prompt at the input price, plus the answer (the request's limit, or as
 * many tokens as the prompt when it sets none) at the output price.  A
 * provider without a price comes last.
 */

uint64_t
ngx_http_llm_route_cost(ngx_http_llm_provider_t *p, ngx_http_llm_ctx_t *ctx)
{
    uint64_t  out;

    if (!p->priced) {
        return (uint64_t) -1;
    }

    out = ctx->max_tokens ? (uint64_t) ctx->max_tokens
                          : (uint64_t) ctx->prompt_tokens;

    return (uint64_t) ctx->prompt_tokens * p->price.input
           + out * p->price.output;
}
