
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


/*
 * llm_status: the counters of the llm_zone, as JSON (the default),
 * Prometheus text (exposition format 0.0.4) or a dashboard page for a
 * browser.  The handler takes a snapshot of the counters first
 * (ngx_http_llm_stats_snapshot); the renderers below only format it.
 * Keys, prompts and client credentials are not in the zone, so they
 * cannot appear here.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_router.h"
#include "ngx_http_llm_status_html.h"


#define NGX_HTTP_LLM_STATUS_JSON        0
#define NGX_HTTP_LLM_STATUS_PROMETHEUS  1
#define NGX_HTTP_LLM_STATUS_HTML        2

/* room kept for one line of output: names are at most 256 bytes */
#define NGX_HTTP_LLM_STATUS_LINE        4096
#define NGX_HTTP_LLM_STATUS_BUF         32768

#define NGX_HTTP_LLM_PICO               1000000000000ULL


typedef struct {
    ngx_http_request_t            *r;
    ngx_chain_t                   *first;
    ngx_chain_t                  **last;
    ngx_buf_t                     *b;
    size_t                         size;
} ngx_http_llm_status_out_t;


static ngx_int_t ngx_http_llm_status_handler(ngx_http_request_t *r);
static ngx_uint_t ngx_http_llm_status_format(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_status_json(ngx_http_llm_status_out_t *out,
    ngx_http_llm_snapshot_t *snap);
static void ngx_http_llm_status_json_counters(ngx_http_llm_status_out_t *out,
    ngx_http_llm_snapshot_t *snap, ngx_http_llm_counters_t *c,
    ngx_uint_t provider);
static void ngx_http_llm_status_json_hist(ngx_http_llm_status_out_t *out,
    const char *name, ngx_http_llm_hist_t *h, ngx_msec_t *bounds,
    ngx_uint_t seconds);
static ngx_int_t ngx_http_llm_status_prometheus(
    ngx_http_llm_status_out_t *out, ngx_http_llm_snapshot_t *snap);
static void ngx_http_llm_status_prom_hist(ngx_http_llm_status_out_t *out,
    const char *name, ngx_str_t *labels, ngx_http_llm_hist_t *h,
    ngx_msec_t *bounds, ngx_uint_t seconds);
static ngx_int_t ngx_http_llm_status_print(ngx_http_llm_status_out_t *out,
    const char *fmt, ...);
static ngx_int_t ngx_http_llm_status_escape(ngx_pool_t *pool, ngx_str_t *s,
    ngx_uint_t json, ngx_str_t *to);


static const char  *ngx_http_llm_finish_names[] = {
    "stop", "length", "tool_calls", "content_filter", "other"
};

static const char  *ngx_http_llm_token_names[] = {
    "input", "output", "cached", "cache_write", "reasoning"
};

static const char  *ngx_http_llm_state_names[] = {
    "up", "down", "probing"
};


/* the OpenTelemetry names of the provider types */

static ngx_str_t  ngx_http_llm_otel_names[][2] = {
    { ngx_string("openai"), ngx_string("openai") },
    { ngx_string("mistral"), ngx_string("mistral_ai") },
    { ngx_string("anthropic"), ngx_string("anthropic") },
    { ngx_string("gemini"), ngx_string("gcp.gemini") },
    { ngx_string("cohere"), ngx_string("cohere") },
    { ngx_null_string, ngx_null_string }
};


char *
ngx_http_llm_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_router_module);
    lmcf->status = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_llm_status_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llm_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_uint_t                  format;
    ngx_table_elt_t            *h;
    ngx_http_llm_snapshot_t     snap;
    ngx_http_llm_status_out_t   out;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    format = ngx_http_llm_status_format(r);

    ngx_memzero(&out, sizeof(ngx_http_llm_status_out_t));
    out.r = r;
    out.last = &out.first;

    switch (format) {

    case NGX_HTTP_LLM_STATUS_HTML:
        ngx_str_set(&r->headers_out.content_type, "text/html");
        r->headers_out.content_type_len = sizeof("text/html") - 1;

        out.first = ngx_alloc_chain_link(r->pool);
        out.b = ngx_calloc_buf(r->pool);
        if (out.first == NULL || out.b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        out.b->pos = ngx_http_llm_status_html;
        out.b->last = out.b->pos + sizeof(ngx_http_llm_status_html) - 1;
        out.b->memory = 1;
        out.first->buf = out.b;
        out.first->next = NULL;
        out.size = out.b->last - out.b->pos;

        break;

    default:
        if (ngx_http_llm_stats_snapshot(r, &snap) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (format == NGX_HTTP_LLM_STATUS_PROMETHEUS) {
            ngx_str_set(&r->headers_out.content_type,
                        "text/plain; version=0.0.4; charset=utf-8");
            rc = ngx_http_llm_status_prometheus(&out, &snap);

        } else {
            ngx_str_set(&r->headers_out.content_type, "application/json");
            rc = ngx_http_llm_status_json(&out, &snap);
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        r->headers_out.content_type_len = r->headers_out.content_type.len;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = out.size;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.b->last_buf = (r == r->main) ? 1 : 0;
    out.b->last_in_chain = 1;

    return ngx_http_output_filter(r, out.first);
}


/*
 * ?format=json|prometheus|html; without it, a browser (Accept: text/html)
 * gets the page, a Prometheus scraper (Accept: text/plain;version=0.0.4
 * or OpenMetrics) the text format, everyone else JSON.
 */

static ngx_uint_t
ngx_http_llm_status_format(ngx_http_request_t *r)
{
    ngx_str_t         arg;
    ngx_table_elt_t  *accept;

    if (ngx_http_arg(r, (u_char *) "format", 6, &arg) == NGX_OK) {

        if (arg.len == 10 && ngx_strncmp(arg.data, "prometheus", 10) == 0) {
            return NGX_HTTP_LLM_STATUS_PROMETHEUS;
        }

        if (arg.len == 4 && ngx_strncmp(arg.data, "html", 4) == 0) {
            return NGX_HTTP_LLM_STATUS_HTML;
        }

        return NGX_HTTP_LLM_STATUS_JSON;
    }

    accept = r->headers_in.accept;

    if (accept == NULL) {
        return NGX_HTTP_LLM_STATUS_JSON;
    }

    if (ngx_strlcasestrn(accept->value.data,
                         accept->value.data + accept->value.len,
                         (u_char *) "text/html", 9 - 1)
        != NULL)
    {
        return NGX_HTTP_LLM_STATUS_HTML;
    }

    if (ngx_strlcasestrn(accept->value.data,
                         accept->value.data + accept->value.len,
                         (u_char *) "version=0.0.4", 13 - 1)
        != NULL
        || ngx_strlcasestrn(accept->value.data,
                            accept->value.data + accept->value.len,
                            (u_char *) "openmetrics", 11 - 1)
           != NULL)
    {
        return NGX_HTTP_LLM_STATUS_PROMETHEUS;
    }

    return NGX_HTTP_LLM_STATUS_JSON;
}


/* JSON */

static ngx_int_t
ngx_http_llm_status_json(ngx_http_llm_status_out_t *out,
    ngx_http_llm_snapshot_t *snap)
{
    ngx_str_t                 model;
    ngx_uint_t                i, j, n;
    ngx_array_t                 limits;
    ngx_http_llm_stat_t        *st;
    ngx_http_llm_counters_t    *c;
    ngx_http_llm_limit_stat_t  *ls;
    static const char          *hist[] = { "latency", "ttft", "tokens" };

    ngx_http_llm_status_print(out, "{\"module\":\"ngx_http_llm_router_module\","
                              "\"nginx_version\":\"" NGINX_VERSION "\","
                              "\"zone\":\"%V\",\"time\":%T.%03M,"
                              "\"since\":%T.%03M,\"buckets\":{",
                              &snap->zone, ngx_cached_time->sec,
                              ngx_cached_time->msec, snap->since,
                              snap->since_msec);

    for (i = 0; i < 3; i++) {
        ngx_http_llm_status_print(out, "%s\"%s\":[", i ? "," : "", hist[i]);

        for (j = 0; j < NGX_HTTP_LLM_MAX_BUCKETS && snap->bounds[i][j]; j++)
        {
            if (i < 2) {
                ngx_http_llm_status_print(out, "%s%M.%03M", j ? "," : "",
                                          snap->bounds[i][j] / 1000,
                                          snap->bounds[i][j] % 1000);

            } else {
                ngx_http_llm_status_print(out, "%s%M", j ? "," : "",
                                          snap->bounds[i][j]);
            }
        }

        ngx_http_llm_status_print(out, "]");
    }

    ngx_http_llm_status_print(out, "},\"providers\":[");

    st = snap->stats.elts;
    n = 0;

    for (i = 0; i < snap->stats.nelts; i++) {
        if (st[i].provider == NULL) {
            continue;
        }

        if (ngx_http_llm_status_escape(out->r->pool, &st[i].provider->model,
                                       1, &model)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_http_llm_status_print(out, "%s{\"name\":\"%V\",\"type\":\"%s\","
                                  "\"model\":\"%V\",\"state\":\"%s\",",
                                  n++ ? "," : "", &st[i].provider->name,
                                  st[i].provider->adapter->name,
                                  &model,
                                  ngx_http_llm_state_names[st[i].state]);

        c = &st[i].c;

        ngx_http_llm_status_print(out, "\"cache\":{\"hits\":%uA,"
                                  "\"misses\":%uA,\"tokens_saved\":"
                                  "{\"input\":%uA,\"output\":%uA},"
                                  "\"cost_saved_usd\":%uA.%012uA,"
                                  "\"cost_saved_picousd\":%uA},",
                                  c->cache_hits, c->cache_misses,
                                  c->cache_tokens[0], c->cache_tokens[1],
                                  c->cache_cost / NGX_HTTP_LLM_PICO,
                                  c->cache_cost % NGX_HTTP_LLM_PICO,
                                  c->cache_cost);

        ngx_http_llm_status_json_counters(out, snap, c, 1);
    }

    ngx_http_llm_status_print(out, "],\"routes\":[");

    n = 0;

    for (i = 0; i < snap->stats.nelts; i++) {
        if (st[i].arm == NULL) {
            continue;
        }

        ngx_http_llm_status_print(out, "%s{\"route\":\"%V\",\"arm\":\"%V\",",
                                  n++ ? "," : "", &st[i].arm->route,
                                  &st[i].arm->name);

        ngx_http_llm_status_json_counters(out, snap, &st[i].c, 0);
    }

    ngx_http_llm_status_print(out, "],\"limits\":[");

    if (ngx_http_llm_limit_snapshot(out->r, &limits) != NGX_OK) {
        return NGX_ERROR;
    }

    ls = limits.elts;

    for (i = 0; i < limits.nelts; i++) {
        ngx_http_llm_status_print(out, "%s{\"zone\":\"%V\",\"kind\":\"%V\","
                                  "\"checked\":%ui,\"passed\":%ui,"
                                  "\"rejected\":%ui,\"dry_run\":%ui,"
                                  "\"evicted\":%ui,\"unavailable\":%ui,"
                                  "\"store\":\"%s\"}",
                                  i ? "," : "", &ls[i].name, ls[i].kind,
                                  ls[i].checked, ls[i].passed,
                                  ls[i].rejected, ls[i].dry_run,
                                  ls[i].evicted, ls[i].unavailable,
                                  ls[i].redis ? "redis" : "shm");
    }

    return ngx_http_llm_status_print(out, "]}\n");
}


static void
ngx_http_llm_status_json_counters(ngx_http_llm_status_out_t *out,
    ngx_http_llm_snapshot_t *snap, ngx_http_llm_counters_t *c,
    ngx_uint_t provider)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  requests, failures;

    failures = 0;

    for (i = 1; i < NGX_HTTP_LLM_NOUTCOMES; i++) {
        failures += c->outcomes[i];
    }

    requests = failures + c->outcomes[NGX_HTTP_LLM_OUT_SUCCESS];

    ngx_http_llm_status_print(out, "\"requests\":%uA,\"successes\":%uA,"
                              "\"failures\":{", requests,
                              c->outcomes[NGX_HTTP_LLM_OUT_SUCCESS]);

    for (i = 1; i < NGX_HTTP_LLM_NOUTCOMES; i++) {
        ngx_http_llm_status_print(out, "%s\"%s\":%uA", i > 1 ? "," : "",
                                  ngx_http_llm_outcome_name(i),
                                  c->outcomes[i]);
    }

    ngx_http_llm_status_print(out, "},\"failovers\":%uA,\"embeddings\":%uA,"
                              "\"finish_reasons\":{",
                              c->failovers, c->embeddings);

    for (i = 0; i < NGX_HTTP_LLM_NFINISH; i++) {
        ngx_http_llm_status_print(out, "%s\"%s\":%uA", i ? "," : "",
                                  ngx_http_llm_finish_names[i],
                                  c->finish[i]);
    }

    ngx_http_llm_status_print(out, "},\"tokens\":{");

    for (i = 0; i < NGX_HTTP_LLM_NTOKENS; i++) {
        ngx_http_llm_status_print(out, "%s\"%s\":%uA", i ? "," : "",
                                  ngx_http_llm_token_names[i],
                                  c->tokens[i]);
    }

    ngx_http_llm_status_print(out, "},\"usage_unknown\":%uA,"
                              "\"cost_usd\":%uA.%012uA,\"cost_picousd\":%uA,",
                              c->usage_unknown, c->cost / NGX_HTTP_LLM_PICO,
                              c->cost % NGX_HTTP_LLM_PICO, c->cost);

    if (provider) {

        /* requests that skipped the provider for its own limit */

        ngx_http_llm_status_print(out, "\"limited\":%uA,", c->limited);
    }

    ngx_http_llm_status_json_hist(out, "latency",
                                  &c->hist[NGX_HTTP_LLM_HIST_LATENCY],
                                  snap->bounds[NGX_HTTP_LLM_HIST_LATENCY], 1);
    ngx_http_llm_status_print(out, ",");
    ngx_http_llm_status_json_hist(out, "ttft",
                                  &c->hist[NGX_HTTP_LLM_HIST_TTFT],
                                  snap->bounds[NGX_HTTP_LLM_HIST_TTFT], 1);
    ngx_http_llm_status_print(out, ",");
    ngx_http_llm_status_json_hist(out, "input_tokens",
                                  &c->hist[NGX_HTTP_LLM_HIST_INPUT],
                                  snap->bounds[NGX_HTTP_LLM_HIST_INPUT], 0);
    ngx_http_llm_status_print(out, ",");
    ngx_http_llm_status_json_hist(out, "output_tokens",
                                  &c->hist[NGX_HTTP_LLM_HIST_OUTPUT],
                                  snap->bounds[NGX_HTTP_LLM_HIST_OUTPUT], 0);
    ngx_http_llm_status_print(out, "}");
}


static void
ngx_http_llm_status_json_hist(ngx_http_llm_status_out_t *out,
    const char *name, ngx_http_llm_hist_t *h, ngx_msec_t *bounds,
    ngx_uint_t seconds)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  total;

    if (seconds) {
        ngx_http_llm_status_print(out, "\"%s\":{\"count\":%uA,"
                                  "\"sum\":%uA.%03uA,\"buckets\":[", name,
                                  h->count, h->sum / 1000, h->sum % 1000);

    } else {
        ngx_http_llm_status_print(out, "\"%s\":{\"count\":%uA,\"sum\":%uA,"
                                  "\"buckets\":[", name, h->count, h->sum);
    }

    total = 0;

    for (i = 0; i < NGX_HTTP_LLM_MAX_BUCKETS && bounds[i]; i++) {
        total += h->bucket[i];
        ngx_http_llm_status_print(out, "%uA,", total);
    }

    ngx_http_llm_status_print(out, "%uA]}",
                              total + h->bucket[NGX_HTTP_LLM_MAX_BUCKETS]);
}


/* Prometheus text, exposition format 0.0.4 */

static ngx_int_t
ngx_http_llm_status_prometheus(ngx_http_llm_status_out_t *out,
    ngx_http_llm_snapshot_t *snap)
{
    u_char                     *p;
    ngx_str_t                  *labels, *otel, model;
    ngx_uint_t                  i, j, k, n;
    ngx_array_t                 limits;
    ngx_http_llm_stat_t        *st;
    ngx_http_llm_counters_t    *c;
    ngx_http_llm_provider_t    *pr;
    ngx_http_llm_limit_stat_t  *ls;

    st = snap->stats.elts;
    n = snap->stats.nelts;

    /* each entry's labels, once */

    labels = ngx_pcalloc(out->r->pool, n * sizeof(ngx_str_t));
    if (labels == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        p = ngx_pnalloc(out->r->pool, 1024);
        if (p == NULL) {
            return NGX_ERROR;
        }

        labels[i].data = p;

        if (st[i].arm) {
            p = ngx_slprintf(p, p + 1024, "route=\"%V\",arm=\"%V\"",
                             &st[i].arm->route, &st[i].arm->name);

        } else {
            p = ngx_slprintf(p, p + 1024, "provider=\"%V\",type=\"%s\"",
                             &st[i].provider->name,
                             st[i].provider->adapter->name);
        }

        labels[i].len = p - labels[i].data;
    }

#define ngx_http_llm_family(name, type, help)                                 \
    ngx_http_llm_status_print(out, "# HELP " name " " help "\n"               \
                              "# TYPE " name " " type "\n")

    ngx_http_llm_family("llm_router_requests_total", "counter",
                        "Attempts sent to each provider, by outcome.");

    for (i = 0; i < n; i++) {
        if (st[i].provider == NULL) {
            continue;
        }

        for (k = 0; k < NGX_HTTP_LLM_NOUTCOMES; k++) {
            ngx_http_llm_status_print(out, "llm_router_requests_total{%V,"
                                      "outcome=\"%s\"} %uA\n", &labels[i],
                                      ngx_http_llm_outcome_name(k),
                                      st[i].c.outcomes[k]);
        }
    }

    ngx_http_llm_family("llm_router_failovers_total", "counter",
                        "Failed attempts after which the next provider "
                        "was tried.");

    for (i = 0; i < n; i++) {
        if (st[i].provider) {
            ngx_http_llm_status_print(out, "llm_router_failovers_total{%V} "
                                      "%uA\n", &labels[i],
                                      st[i].c.failovers);
        }
    }

    ngx_http_llm_family("llm_router_embeddings_total", "counter",
                        "Successful answers to embeddings requests.");

    for (i = 0; i < n; i++) {
        if (st[i].provider) {
            ngx_http_llm_status_print(out, "llm_router_embeddings_total{%V} "
                                      "%uA\n", &labels[i],
                                      st[i].c.embeddings);
        }
    }

    ngx_http_llm_family("llm_router_finish_reasons_total", "counter",
                        "Successful answers, by finish reason.");

    for (i = 0; i < n; i++) {
        if (st[i].provider == NULL) {
            continue;
        }

        for (k = 0; k < NGX_HTTP_LLM_NFINISH; k++) {
            ngx_http_llm_status_print(out, "llm_router_finish_reasons_total"
                                      "{%V,reason=\"%s\"} %uA\n",
                                      &labels[i],
                                      ngx_http_llm_finish_names[k],
                                      st[i].c.finish[k]);
        }
    }

    ngx_http_llm_family("llm_router_tokens_total", "counter",
                        "Tokens the providers reported, by kind.");

    for (i = 0; i < n; i++) {
        if (st[i].provider == NULL) {
            continue;
        }

        for (k = 0; k < NGX_HTTP_LLM_NTOKENS; k++) {
            ngx_http_llm_status_print(out, "llm_router_tokens_total{%V,"
                                      "kind=\"%s\"} %uA\n", &labels[i],
                                      ngx_http_llm_token_names[k],
                                      st[i].c.tokens[k]);
        }
    }

    ngx_http_llm_family("llm_router_usage_unknown_total", "counter",
                        "Successful answers whose provider reported no "
                        "usage.");

    for (i = 0; i < n; i++) {
        if (st[i].provider) {
            ngx_http_llm_status_print(out, "llm_router_usage_unknown_total"
                                      "{%V} %uA\n", &labels[i],
                                      st[i].c.usage_unknown);
        }
    }

    ngx_http_llm_family("llm_router_cost_usd_total", "counter",
                        "Cost of the answers at the configured prices, "
                        "in USD.");

    for (i = 0; i < n; i++) {
        if (st[i].provider) {
            ngx_http_llm_status_print(out, "llm_router_cost_usd_total{%V} "
                                      "%uA.%012uA\n", &labels[i],
                                      st[i].c.cost / NGX_HTTP_LLM_PICO,
                                      st[i].c.cost % NGX_HTTP_LLM_PICO);
        }
    }

    ngx_http_llm_family("llm_router_cache_hits_total", "counter",
                        "Requests answered from the response cache, by the "
                        "provider that gave the stored answer.");

    for (i = 0; i < n; i++) {
        if (st[i].provider) {
            ngx_http_llm_status_print(out, "llm_router_cache_hits_total{%V} "
                                      "%uA\n", &labels[i],
                                      st[i].c.cache_hits);
        }
    }

    ngx_http_llm_family("llm_router_cache_misses_total", "counter",
                        "Requests the response cache could not answer "
                        "(missing or expired), by the provider that did.");

    for (i = 0; i < n; i++) {
        if (st[i].provider) {
            ngx_http_llm_status_print(out, "llm_router_cache_misses_total"
                                      "{%V} %uA\n", &labels[i],
                                      st[i].c.cache_misses);
        }
    }

    ngx_http_llm_family("llm_router_cache_tokens_saved_total", "counter",
                        "Tokens the cache hits did not cost, by kind.");

    for (i = 0; i < n; i++) {
        if (st[i].provider == NULL) {
            continue;
        }

        for (k = 0; k < 2; k++) {
            ngx_http_llm_status_print(out,
                                      "llm_router_cache_tokens_saved_total"
                                      "{%V,kind=\"%s\"} %uA\n", &labels[i],
                                      k ? "output" : "input",
                                      st[i].c.cache_tokens[k]);
        }
    }

    ngx_http_llm_family("llm_router_cache_cost_saved_usd_total", "counter",
                        "What the cache hits did not cost, at the "
                        "configured prices, in USD.");

    for (i = 0; i < n; i++) {
        if (st[i].provider) {
            ngx_http_llm_status_print(out,
                                      "llm_router_cache_cost_saved_usd_total"
                                      "{%V} %uA.%012uA\n", &labels[i],
                                      st[i].c.cache_cost / NGX_HTTP_LLM_PICO,
                                      st[i].c.cache_cost % NGX_HTTP_LLM_PICO);
        }
    }

    ngx_http_llm_family("llm_router_provider_up", "gauge",
                        "1 when the provider is in rotation.");

    for (i = 0; i < n; i++) {
        if (st[i].provider) {
            ngx_http_llm_status_print(out, "llm_router_provider_up{%V} %d\n",
                                      &labels[i], st[i].state == 0);
        }
    }

    ngx_http_llm_family("llm_router_circuit_state", "gauge",
                        "0 closed (in rotation), 1 open (out of rotation), "
                        "2 half-open (probed).");

    for (i = 0; i < n; i++) {
        if (st[i].provider) {
            ngx_http_llm_status_print(out, "llm_router_circuit_state{%V} "
                                      "%ui\n", &labels[i], st[i].state);
        }
    }

    /* OpenTelemetry GenAI histograms: the labels get its attributes */

    for (i = 0; i < n; i++) {
        pr = st[i].provider;

        if (pr == NULL) {
            continue;
        }

        otel = NULL;

        for (j = 0; ngx_http_llm_otel_names[j][0].len; j++) {
            if (ngx_strcmp(ngx_http_llm_otel_names[j][0].data,
                           pr->adapter->name)
                == 0)
            {
                otel = &ngx_http_llm_otel_names[j][1];
                break;
            }
        }

        p = ngx_pnalloc(out->r->pool, 2048);
        if (p == NULL) {
            return NGX_ERROR;
        }

        labels[i].data = p;

        if (ngx_http_llm_status_escape(out->r->pool, &pr->model, 0, &model)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = ngx_slprintf(p, p + 2048, "provider=\"%V\",type=\"%s\","
                         "gen_ai_operation_name=\"chat\","
                         "gen_ai_provider_name=\"%V\","
                         "gen_ai_request_model=\"%V\"", &pr->name,
                         pr->adapter->name, otel ? otel : &pr->name, &model);

        labels[i].len = p - labels[i].data;
    }

    ngx_http_llm_family("gen_ai_client_operation_duration_seconds",
                        "histogram", "Duration of successful answers.");

    for (i = 0; i < n; i++) {
        if (st[i].provider) {
            ngx_http_llm_status_prom_hist(out,
                                   "gen_ai_client_operation_duration_seconds",
                                   &labels[i],
                                   &st[i].c.hist[NGX_HTTP_LLM_HIST_LATENCY],
                                   snap->bounds[NGX_HTTP_LLM_HIST_LATENCY],
                                   1);
        }
    }

    ngx_http_llm_family("gen_ai_server_time_to_first_token_seconds",
                        "histogram", "Time to the first token of streamed "
                        "answers.");

    for (i = 0; i < n; i++) {
        if (st[i].provider) {
            ngx_http_llm_status_prom_hist(out,
                                 "gen_ai_server_time_to_first_token_seconds",
                                 &labels[i],
                                 &st[i].c.hist[NGX_HTTP_LLM_HIST_TTFT],
                                 snap->bounds[NGX_HTTP_LLM_HIST_TTFT], 1);
        }
    }

    ngx_http_llm_family("gen_ai_client_token_usage", "histogram",
                        "Tokens per answer, input and output.");

    for (i = 0; i < n; i++) {
        if (st[i].provider == NULL) {
            continue;
        }

        for (k = 0; k < 2; k++) {
            p = ngx_pnalloc(out->r->pool, labels[i].len + 32);
            if (p == NULL) {
                return NGX_ERROR;
            }

            labels[i].len = ngx_sprintf(p, "%*s,gen_ai_token_type=\"%s\"",
                                        labels[i].len, labels[i].data,
                                        k ? "output" : "input")
                            - p;
            labels[i].data = p;

            ngx_http_llm_status_prom_hist(out, "gen_ai_client_token_usage",
                                          &labels[i],
                                          &st[i].c.hist[NGX_HTTP_LLM_HIST_INPUT
                                                        + k],
                                          snap->bounds[NGX_HTTP_LLM_HIST_INPUT
                                                       + k], 0);

            labels[i].len -= sizeof(",gen_ai_token_type=\"input\"") - 1 + k;
        }
    }

    /* route arms */

    ngx_http_llm_family("llm_router_route_requests_total", "counter",
                        "Requests of each route arm, by outcome.");

    for (i = 0; i < n; i++) {
        if (st[i].arm == NULL) {
            continue;
        }

        for (k = 0; k < NGX_HTTP_LLM_NOUTCOMES; k++) {
            ngx_http_llm_status_print(out, "llm_router_route_requests_total"
                                      "{%V,outcome=\"%s\"} %uA\n",
                                      &labels[i],
                                      ngx_http_llm_outcome_name(k),
                                      st[i].c.outcomes[k]);
        }
    }

    ngx_http_llm_family("llm_router_route_failovers_total", "counter",
                        "Requests of each route arm answered after a "
                        "failover.");

    for (i = 0; i < n; i++) {
        if (st[i].arm) {
            ngx_http_llm_status_print(out, "llm_router_route_failovers_total"
                                      "{%V} %uA\n", &labels[i],
                                      st[i].c.failovers);
        }
    }

    ngx_http_llm_family("llm_router_route_tokens_total", "counter",
                        "Tokens of each route arm's answers, by kind.");

    for (i = 0; i < n; i++) {
        if (st[i].arm == NULL) {
            continue;
        }

        for (k = 0; k < NGX_HTTP_LLM_NTOKENS; k++) {
            ngx_http_llm_status_print(out, "llm_router_route_tokens_total{%V,"
                                      "kind=\"%s\"} %uA\n", &labels[i],
                                      ngx_http_llm_token_names[k],
                                      st[i].c.tokens[k]);
        }
    }

    ngx_http_llm_family("llm_router_route_cost_usd_total", "counter",
                        "Cost of each route arm's answers, in USD.");

    for (i = 0; i < n; i++) {
        if (st[i].arm) {
            ngx_http_llm_status_print(out, "llm_router_route_cost_usd_total"
                                      "{%V} %uA.%012uA\n", &labels[i],
                                      st[i].c.cost / NGX_HTTP_LLM_PICO,
                                      st[i].c.cost % NGX_HTTP_LLM_PICO);
        }
    }

    ngx_http_llm_family("llm_router_route_duration_seconds", "histogram",
                        "Duration of each route arm's successful requests.");

    for (i = 0; i < n; i++) {
        if (st[i].arm) {
            c = &st[i].c;
            ngx_http_llm_status_prom_hist(out,
                                   "llm_router_route_duration_seconds",
                                   &labels[i],
                                   &c->hist[NGX_HTTP_LLM_HIST_LATENCY],
                                   snap->bounds[NGX_HTTP_LLM_HIST_LATENCY],
                                   1);
        }
    }

    ngx_http_llm_family("llm_router_route_ttft_seconds", "histogram",
                        "Time to the first token of each route arm's "
                        "streamed requests.");

    for (i = 0; i < n; i++) {
        if (st[i].arm) {
            c = &st[i].c;
            ngx_http_llm_status_prom_hist(out,
                                   "llm_router_route_ttft_seconds",
                                   &labels[i],
                                   &c->hist[NGX_HTTP_LLM_HIST_TTFT],
                                   snap->bounds[NGX_HTTP_LLM_HIST_TTFT], 1);
        }
    }

    ngx_http_llm_family("llm_router_provider_limited_total", "counter",
                        "Requests that skipped a provider because its own "
                        "limit had no room.");

    for (i = 0; i < n; i++) {
        if (st[i].provider) {
            ngx_http_llm_status_print(out, "llm_router_provider_limited_total"
                                      "{provider=\"%V\",type=\"%s\"} %uA\n",
                                      &st[i].provider->name,
                                      st[i].provider->adapter->name,
                                      st[i].c.limited);
        }
    }

    if (ngx_http_llm_limit_snapshot(out->r, &limits) != NGX_OK) {
        return NGX_ERROR;
    }

    ls = limits.elts;

    ngx_http_llm_family("llm_router_limit_requests_total", "counter",
                        "Limit checks of each llm_limit_zone, by result "
                        "(dry_run: would have been rejected; "
                        "unavailable: its Redis did not answer).");

    for (i = 0; i < limits.nelts; i++) {
        ngx_http_llm_status_print(out,
                               "llm_router_limit_requests_total{zone=\"%V\","
                               "result=\"passed\"} %ui\n"
                               "llm_router_limit_requests_total{zone=\"%V\","
                               "result=\"rejected\"} %ui\n"
                               "llm_router_limit_requests_total{zone=\"%V\","
                               "result=\"dry_run\"} %ui\n",
                               &ls[i].name, ls[i].passed,
                               &ls[i].name, ls[i].rejected,
                               &ls[i].name, ls[i].dry_run);

        if (ls[i].redis) {
            ngx_http_llm_status_print(out,
                               "llm_router_limit_requests_total{zone=\"%V\","
                               "result=\"unavailable\"} %ui\n",
                               &ls[i].name, ls[i].unavailable);
        }
    }

    ngx_http_llm_family("llm_router_limit_evictions_total", "counter",
                        "Keys of each llm_limit_zone evicted, least "
                        "recently used first, because the zone was full.");

    for (i = 0; i < limits.nelts; i++) {
        ngx_http_llm_status_print(out, "llm_router_limit_evictions_total"
                                  "{zone=\"%V\"} %ui\n",
                                  &ls[i].name, ls[i].evicted);
    }

#undef ngx_http_llm_family

    return ngx_http_llm_status_print(out, "");
}


static void
ngx_http_llm_status_prom_hist(ngx_http_llm_status_out_t *out,
    const char *name, ngx_str_t *labels, ngx_http_llm_hist_t *h,
    ngx_msec_t *bounds, ngx_uint_t seconds)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  total;

    total = 0;

    for (i = 0; i < NGX_HTTP_LLM_MAX_BUCKETS && bounds[i]; i++) {
        total += h->bucket[i];

        if (seconds) {
            ngx_http_llm_status_print(out, "%s_bucket{%V,le=\"%M.%03M\"} "
                                      "%uA\n", name, labels,
                                      bounds[i] / 1000, bounds[i] % 1000,
                                      total);

        } else {
            ngx_http_llm_status_print(out, "%s_bucket{%V,le=\"%M\"} %uA\n",
                                      name, labels, bounds[i], total);
        }
    }

    total += h->bucket[NGX_HTTP_LLM_MAX_BUCKETS];

    ngx_http_llm_status_print(out, "%s_bucket{%V,le=\"+Inf\"} %uA\n",
                              name, labels, total);

    if (seconds) {
        ngx_http_llm_status_print(out, "%s_sum{%V} %uA.%03uA\n", name,
                                  labels, h->sum / 1000, h->sum % 1000);

    } else {
        ngx_http_llm_status_print(out, "%s_sum{%V} %uA\n", name, labels,
                                  h->sum);
    }

    ngx_http_llm_status_print(out, "%s_count{%V} %uA\n", name, labels,
                              total);
}


/* appends to the output; one call writes at most NGX_HTTP_LLM_STATUS_LINE */

static ngx_int_t
ngx_http_llm_status_print(ngx_http_llm_status_out_t *out, const char *fmt,
    ...)
{
    u_char       *p;
    va_list       args;
    ngx_chain_t  *cl;

    if (out->b == NULL
        || (size_t) (out->b->end - out->b->last) < NGX_HTTP_LLM_STATUS_LINE)
    {
        cl = ngx_alloc_chain_link(out->r->pool);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = ngx_create_temp_buf(out->r->pool, NGX_HTTP_LLM_STATUS_BUF);
        if (cl->buf == NULL) {
            return NGX_ERROR;
        }

        cl->next = NULL;
        *out->last = cl;
        out->last = &cl->next;
        out->b = cl->buf;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(out->b->last, out->b->last + NGX_HTTP_LLM_STATUS_LINE,
                      fmt, args);
    va_end(args);

    out->size += p - out->b->last;
    out->b->last = p;

    return NGX_OK;
}


/* a string JSON-escaped (json = 1) or as a Prometheus label value */

static ngx_int_t
ngx_http_llm_status_escape(ngx_pool_t *pool, ngx_str_t *s, ngx_uint_t json,
    ngx_str_t *to)
{
    u_char      c, *p;
    size_t      n;
    ngx_uint_t  i;

    n = json ? llm_json_escape(NULL, 0, (const char *) s->data, s->len)
             : 2 * s->len;

    p = ngx_pnalloc(pool, n + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    to->data = p;

    if (json) {
        (void) llm_json_escape((char *) p, n, (const char *) s->data, s->len);
        to->len = n;
        return NGX_OK;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (c == '\\' || c == '"') {
            *p++ = '\\';
            *p++ = c;

        } else if (c == '\n') {
            *p++ = '\\';
            *p++ = 'n';

        } else {
            *p++ = c;
        }
    }

    to->len = p - to->data;

    return NGX_OK;
}
