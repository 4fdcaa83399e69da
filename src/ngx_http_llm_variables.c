
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


/*
 * The module's variables: what the request was routed to, how it went,
 * and what it cost, for access logs, map and add_header.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_router.h"


static ngx_int_t ngx_http_llm_provider_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_attempts_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_prompt_tokens_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_model_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_ttft_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_usage_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_cost_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_name_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_prompt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_cache_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_limit_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_limit_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_limit_remaining_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_var(ngx_http_variable_value_t *v, u_char *data,
    size_t len);
static ngx_int_t ngx_http_llm_var_end(ngx_http_variable_value_t *v,
    u_char *data, u_char *last);




static ngx_http_variable_t  ngx_http_llm_vars[] = {

    { ngx_string("llm_provider"), NULL, ngx_http_llm_provider_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_attempts"), NULL, ngx_http_llm_attempts_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_prompt_tokens"), NULL,
      ngx_http_llm_prompt_tokens_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_model"), NULL, ngx_http_llm_model_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_ttft"), NULL, ngx_http_llm_ttft_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_usage_prompt_tokens"), NULL,
      ngx_http_llm_usage_variable,
      offsetof(llm_usage_t, prompt_tokens), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_usage_completion_tokens"), NULL,
      ngx_http_llm_usage_variable,
      offsetof(llm_usage_t, completion_tokens), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_usage_total_tokens"), NULL,
      ngx_http_llm_usage_variable,
      offsetof(llm_usage_t, total_tokens), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_usage_cached_tokens"), NULL,
      ngx_http_llm_usage_variable,
      offsetof(llm_usage_t, cached_tokens), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_usage_cache_write_tokens"), NULL,
      ngx_http_llm_usage_variable,
      offsetof(llm_usage_t, cache_write_tokens), NGX_HTTP_VAR_NOCACHEABLE,
      0 },

    { ngx_string("llm_usage_reasoning_tokens"), NULL,
      ngx_http_llm_usage_variable,
      offsetof(llm_usage_t, reasoning_tokens), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_cost"), NULL, ngx_http_llm_cost_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route"), NULL, ngx_http_llm_name_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_arm"), NULL, ngx_http_llm_name_variable, 1,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_outcome"), NULL, ngx_http_llm_name_variable, 2,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_finish_reason"), NULL, ngx_http_llm_name_variable, 3,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_prompt"), NULL, ngx_http_llm_prompt_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_completion"), NULL, ngx_http_llm_prompt_variable, 1,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_cache_status"), NULL,
      ngx_http_llm_cache_status_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_limit_status"), NULL,
      ngx_http_llm_limit_status_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_limit"), NULL, ngx_http_llm_limit_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_limit_remaining_requests"), NULL,
      ngx_http_llm_limit_remaining_variable, NGX_HTTP_LLM_INFO_REQUESTS,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_limit_remaining_tokens"), NULL,
      ngx_http_llm_limit_remaining_variable, NGX_HTTP_LLM_INFO_TOKENS,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_limit_remaining_spend"), NULL,
      ngx_http_llm_limit_remaining_variable, NGX_HTTP_LLM_INFO_SPEND,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};




ngx_int_t
ngx_http_llm_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_llm_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_provider_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx && ctx->limit_provider) {

        /* the key of a provider's own limit */

        return ngx_http_llm_var(v, ctx->limit_provider->name.data,
                                ctx->limit_provider->name.len);
    }

    if (ctx == NULL || ctx->tried.nelts == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llm_var(v, ctx->provider->name.data,
                            ctx->provider->name.len);
}


static ngx_int_t
ngx_http_llm_limit_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_llm_ctx_t  *ctx;

    static ngx_str_t  names[] = {
        ngx_null_string,
        ngx_string("PASSED"),
        ngx_string("REJECTED"),
        ngx_string("REJECTED_DRY_RUN"),
        ngx_string("UNAVAILABLE")
    };

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx == NULL || ctx->limit_status == NGX_HTTP_LLM_LIMIT_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llm_var(v, names[ctx->limit_status].data,
                            names[ctx->limit_status].len);
}


static ngx_int_t
ngx_http_llm_limit_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx == NULL || ctx->limit_zone == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llm_var(v, ctx->limit_zone->shm.name.data,
                            ctx->limit_zone->shm.name.len);
}


static ngx_int_t
ngx_http_llm_limit_remaining_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                     *p, *start;
    ngx_http_llm_ctx_t         *ctx;
    ngx_http_llm_limit_info_t  *li;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx == NULL || !ctx->limit_info[data].set) {
        v->not_found = 1;
        return NGX_OK;
    }

    li = &ctx->limit_info[data];

    start = ngx_pnalloc(r->pool, NGX_OFF_T_LEN + 8);
    if (start == NULL) {
        return NGX_ERROR;
    }

    if (data == NGX_HTTP_LLM_INFO_SPEND) {
        p = ngx_http_llm_limit_usd(start, li->remaining);

    } else {
        p = ngx_sprintf(start, "%uL", li->remaining);
    }

    return ngx_http_llm_var_end(v, start, p);
}


static ngx_int_t
ngx_http_llm_attempts_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char              *p;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_llm_var_end(v, p, ngx_sprintf(p, "%ui", ctx->tried.nelts));
}


static ngx_int_t
ngx_http_llm_prompt_tokens_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char              *p;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx == NULL || ctx->req.root == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_llm_var_end(v, p, ngx_sprintf(p, "%l", ctx->prompt_tokens));
}


static ngx_int_t
ngx_http_llm_model_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx == NULL || ctx->req.model == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llm_var(v, (u_char *) ctx->req.model,
                            ngx_strlen(ctx->req.model));
}


/* the time to the first byte of a translated stream, in seconds */

static ngx_int_t
ngx_http_llm_ttft_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char              *p;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx == NULL || !ctx->ttft_set) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_llm_var_end(v, p,
                                ngx_sprintf(p, "%T.%03M",
                                            (time_t) ctx->ttft / 1000,
                                            ctx->ttft % 1000));
}


/* the provider's token counts; not found when it reported none */

static ngx_int_t
ngx_http_llm_usage_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char              *p;
    long long            n;
    llm_usage_t         *usage;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    usage = NULL;

    if (ctx && ctx->finalized) {
        usage = ctx->usage_known ? &ctx->usage : NULL;

    } else if (ctx && ctx->streaming && ctx->stream) {
        usage = &ctx->stream->usage;

    } else if (ctx && ctx->translated) {
        usage = &ctx->usage;
    }

    if (usage == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    n = *(long long *) ((char *) usage + data);

    if (n < 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_llm_var_end(v, p, ngx_sprintf(p, "%L", (int64_t) n));
}


/* the answer's cost in USD at the provider's price, exactly */

static ngx_int_t
ngx_http_llm_cost_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char              *p;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ctx == NULL || !ctx->priced) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 14);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_llm_var_end(v, p,
                                ngx_sprintf(p, "%uL.%012uL",
                                            ctx->cost / 1000000000000ULL,
                                            ctx->cost % 1000000000000ULL));
}


/* $llm_route, $llm_arm, $llm_outcome, $llm_finish_reason */

static ngx_int_t
ngx_http_llm_name_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t            s;
    const char          *name;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    ngx_str_null(&s);

    if (ctx) {
        switch (data) {

        case 0:
            if (ctx->route) {
                s = ctx->route->name;
            }

            break;

        case 1:
            if (ctx->arm) {
                s = ctx->arm->name;
            }

            break;

        case 2:
            if (ctx->finalized) {
                name = ngx_http_llm_outcome_name(ctx->outcome);
                s.data = (u_char *) name;
                s.len = ngx_strlen(name);
            }

            break;

        default:
            if (ctx->finalized && ctx->finish_reason) {
                s.data = (u_char *) ctx->finish_reason;
                s.len = ngx_strlen(ctx->finish_reason);
            }
        }
    }

    if (s.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llm_var(v, s.data, s.len);
}


/*
 * The prompt (the request's messages as JSON) and the answer's text, for
 * prompt logs: empty unless "llm_prompt_log" is on, at most
 * "llm_prompt_log_size" bytes each.
 */

static ngx_int_t
ngx_http_llm_prompt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    char                     *text;
    size_t                    len;
    ngx_http_llm_ctx_t       *ctx;
    llm_pool_t                pool;
    ngx_http_llm_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (!lcf->prompt_log || ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    len = 0;
    text = NULL;

    if (data == 0) {
        if (ctx->req.root) {
            pool.alloc = ngx_http_llm_pool_alloc;
            pool.data = r->pool;

            text = llm_request_prompt_text(&ctx->req, lcf->prompt_log_size,
                                           &pool, &len);
        }

    } else if (ctx->finalized) {
        text = (char *) ctx->completion.data;
        len = ngx_min(ctx->completion.len, lcf->prompt_log_size);

        /* not in the middle of a UTF-8 character */

        if (len < ctx->completion.len) {
            while (len && (ctx->completion.data[len] & 0xc0) == 0x80) {
                len--;
            }
        }
    }

    if (text == NULL || len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llm_var(v, (u_char *) text, len);
}


/* MISS, BYPASS, EXPIRED, HIT; not found when the cache was not asked */

static ngx_int_t
ngx_http_llm_cache_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t           *s;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    s = ctx ? ngx_http_llm_cache_status_name(ctx->cache_status) : NULL;

    if (s == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llm_var(v, s->data, s->len);
}


static ngx_int_t
ngx_http_llm_var(ngx_http_variable_value_t *v, u_char *data, size_t len)
{
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = data;

    return NGX_OK;
}


/* a value written from "data" up to "last" */

static ngx_int_t
ngx_http_llm_var_end(ngx_http_variable_value_t *v, u_char *data, u_char *last)
{
    return ngx_http_llm_var(v, data, last - data);
}
