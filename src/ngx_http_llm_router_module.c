
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_router.h"


#define NGX_HTTP_LLM_MAX_KEY  4096


static char *ngx_http_llm_provider_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_provider_param(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static char *ngx_http_llm_provider_check(ngx_conf_t *cf,
    ngx_http_llm_provider_t *p);
static char *ngx_http_llm_provider_url(ngx_conf_t *cf,
    ngx_http_llm_provider_t *p);
static char *ngx_http_llm_provider_key(ngx_conf_t *cf,
    ngx_http_llm_provider_t *p, ngx_str_t *value);
static char *ngx_http_llm_provider_price(ngx_conf_t *cf,
    ngx_http_llm_provider_t *p);
static ngx_int_t ngx_http_llm_valid_name(ngx_str_t *name);

static void ngx_http_llm_body_handler(ngx_http_request_t *r);
static long ngx_http_llm_max_tokens(llm_request_t *req);
static ngx_int_t ngx_http_llm_read_body(ngx_http_request_t *r, u_char **body,
    size_t *len);
static ngx_int_t ngx_http_llm_models(ngx_http_request_t *r,
    ngx_http_llm_loc_conf_t *lcf);
static ngx_http_llm_ctx_t *ngx_http_llm_get_ctx(ngx_http_request_t *r);
static void ngx_http_llm_request_cleanup(void *data);

static ngx_int_t ngx_http_llm_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_llm_render_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);

static ngx_int_t ngx_http_llm_add_variables(ngx_conf_t *cf);
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
static ngx_int_t ngx_http_llm_add_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value);

static void *ngx_http_llm_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_llm_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_llm_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_llm_init(ngx_conf_t *cf);


static ngx_conf_bitmask_t  ngx_http_llm_next_upstream_masks[] = {
    { ngx_string("error"), NGX_HTTP_UPSTREAM_FT_ERROR },
    { ngx_string("timeout"), NGX_HTTP_UPSTREAM_FT_TIMEOUT },
    { ngx_string("invalid_header"), NGX_HTTP_UPSTREAM_FT_INVALID_HEADER },
    { ngx_string("http_500"), NGX_HTTP_UPSTREAM_FT_HTTP_500 },
    { ngx_string("http_502"), NGX_HTTP_UPSTREAM_FT_HTTP_502 },
    { ngx_string("http_503"), NGX_HTTP_UPSTREAM_FT_HTTP_503 },
    { ngx_string("http_504"), NGX_HTTP_UPSTREAM_FT_HTTP_504 },
    { ngx_string("http_403"), NGX_HTTP_UPSTREAM_FT_HTTP_403 },
    { ngx_string("http_404"), NGX_HTTP_UPSTREAM_FT_HTTP_404 },
    { ngx_string("http_429"), NGX_HTTP_UPSTREAM_FT_HTTP_429 },
    { ngx_string("off"), NGX_HTTP_UPSTREAM_FT_OFF },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_llm_commands[] = {

    { ngx_string("llm_provider"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_llm_provider_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_llm_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route"),
      NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llm_route,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, upstream.connect_timeout),
      NULL },

    { ngx_string("llm_send_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, upstream.send_timeout),
      NULL },

    { ngx_string("llm_read_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, upstream.read_timeout),
      NULL },

    { ngx_string("llm_buffer_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, upstream.buffer_size),
      NULL },

    { ngx_string("llm_next_upstream"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, next_upstream),
      &ngx_http_llm_next_upstream_masks },

    { ngx_string("llm_next_upstream_tries"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, next_upstream_tries),
      NULL },

    { ngx_string("llm_next_upstream_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, next_upstream_timeout),
      NULL },

    { ngx_string("llm_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, headers),
      NULL },

    { ngx_string("llm_max_response_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, max_response_size),
      NULL },

    { ngx_string("llm_max_event_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, max_event_size),
      NULL },

    { ngx_string("llm_ssl_verify"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, ssl_verify),
      NULL },

    { ngx_string("llm_ssl_verify_depth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, ssl_verify_depth),
      NULL },

    { ngx_string("llm_ssl_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_loc_conf_t, ssl_trusted_certificate),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_llm_router_module_ctx = {
    ngx_http_llm_add_variables,            /* preconfiguration */
    ngx_http_llm_init,                     /* postconfiguration */

    ngx_http_llm_create_main_conf,         /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_llm_create_loc_conf,          /* create location configuration */
    ngx_http_llm_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_llm_router_module = {
    NGX_MODULE_V1,
    &ngx_http_llm_router_module_ctx,       /* module context */
    ngx_http_llm_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_str_t  ngx_http_llm_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_llm_sse_type = ngx_string("text/event-stream");


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

      ngx_http_null_variable
};


/* configuration */

static char *
ngx_http_llm_provider_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t  *lmcf = conf;

    char                     *rv;
    ngx_str_t                 *value;
    ngx_uint_t                 i;
    ngx_conf_t                 save;
    ngx_http_llm_provider_t   *p, **pp;

    value = cf->args->elts;

    if (ngx_http_llm_valid_name(&value[1]) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid llm_provider name \"%V\": only letters, "
                           "digits and \"._-:/@\" are allowed", &value[1]);
        return NGX_CONF_ERROR;
    }

    pp = lmcf->providers.elts;

    for (i = 0; i < lmcf->providers.nelts; i++) {
        if (pp[i]->name.len == value[1].len
            && ngx_strncmp(pp[i]->name.data, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate llm_provider \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    p = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_provider_t));
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    pp = ngx_array_push(&lmcf->providers);
    if (pp == NULL) {
        return NGX_CONF_ERROR;
    }

    *pp = p;

    p->name = value[1];
    p->keepalive = 16;
    p->max_fails = 3;
    p->fail_timeout = 30000;
    p->file = cf->conf_file->file.name.data;
    p->line = cf->conf_file->line;

    save = *cf;
    cf->handler = ngx_http_llm_provider_param;
    cf->handler_conf = (char *) p;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    return ngx_http_llm_provider_check(cf, p);
}


static char *
ngx_http_llm_provider_param(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_http_llm_provider_t  *p = (ngx_http_llm_provider_t *) conf;

    ngx_int_t   n;
    ngx_str_t  *value, *name;

    value = cf->args->elts;
    name = &value[0];

    if (ngx_strcmp(name->data, "price") == 0) {
        return ngx_http_llm_provider_price(cf, p);
    }

    if (cf->args->nelts != 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of arguments in \"%V\" "
                           "of llm_provider \"%V\"", name, &p->name);
        return NGX_CONF_ERROR;
    }

    if (ngx_strcmp(name->data, "type") == 0) {

        if (p->type_set) {
            goto duplicate;
        }

        p->adapter = llm_adapter_find((const char *) value[1].data,
                                      value[1].len);
        if (p->adapter == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown llm_provider type \"%V\" "
                               "in llm_provider \"%V\"",
                               &value[1], &p->name);
            return NGX_CONF_ERROR;
        }

        p->type_set = 1;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "url") == 0) {

        if (p->url.data) {
            goto duplicate;
        }

        p->url = value[1];
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "model") == 0) {

        if (p->model.data) {
            goto duplicate;
        }

        p->model = value[1];
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "api_key") == 0) {

        if (p->key_set) {
            goto duplicate;
        }

        p->key_set = 1;
        return ngx_http_llm_provider_key(cf, p, &value[1]);
    }

    if (ngx_strcmp(name->data, "max_tokens") == 0) {
        n = ngx_atoi(value[1].data, value[1].len);
        if (n == NGX_ERROR || n == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid max_tokens \"%V\" in llm_provider "
                               "\"%V\"", &value[1], &p->name);
            return NGX_CONF_ERROR;
        }

        p->core.max_tokens = (long) n;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "max_fails") == 0) {
        n = ngx_atoi(value[1].data, value[1].len);
        if (n == NGX_ERROR) {
            goto invalid;
        }

        p->max_fails = n;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "fail_timeout") == 0) {
        n = ngx_parse_time(&value[1], 0);
        if (n == NGX_ERROR || n == 0) {
            goto invalid;
        }

        p->fail_timeout = (ngx_msec_t) n;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "keepalive") == 0) {
        n = ngx_atoi(value[1].data, value[1].len);
        if (n == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid keepalive \"%V\" in llm_provider "
                               "\"%V\"", &value[1], &p->name);
            return NGX_CONF_ERROR;
        }

        p->keepalive = n;
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown directive \"%V\" in llm_provider \"%V\"",
                       name, &p->name);
    return NGX_CONF_ERROR;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" is duplicate in llm_provider \"%V\"",
                       name, &p->name);
    return NGX_CONF_ERROR;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid %V \"%V\" in llm_provider \"%V\"",
                       name, &value[1], &p->name);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_llm_provider_check(ngx_conf_t *cf, ngx_http_llm_provider_t *p)
{
    char  *rv;

    if (!p->type_set) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llm_provider \"%V\" has no \"type\"", &p->name);
        return NGX_CONF_ERROR;
    }

    if (!p->key_set) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llm_provider \"%V\" has no \"api_key\" "
                           "(use \"api_key env:VARIABLE;\", "
                           "\"api_key file:/path;\" or \"api_key off;\")",
                           &p->name);
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_llm_provider_url(cf, p);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    p->core.name = (const char *) p->name.data;
    p->core.model = p->model.len ? (const char *) p->model.data : NULL;
    p->core.api_key = p->api_key.len ? (const char *) p->api_key.data
                                     : NULL;
    p->core.base_path = (const char *) p->base_path.data;

    if (ngx_http_llm_keepalive_init(cf, p) != NGX_OK
        || ngx_http_llm_health_init(cf, p) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_provider_url(ngx_conf_t *cf, ngx_http_llm_provider_t *p)
{
    size_t      add;
    u_char     *last;
    ngx_url_t   u;
    in_port_t   port;

    if (p->url.data == NULL) {
        p->url.data = (u_char *) p->adapter->default_url;
        p->url.len = ngx_strlen(p->adapter->default_url);
    }

    if (p->url.len > 8 && ngx_strncasecmp(p->url.data, (u_char *) "https://", 8)
                          == 0)
    {
#if (NGX_HTTP_SSL)
        add = 8;
        port = 443;
        p->ssl = 1;
#else
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llm_provider \"%V\": https is not supported "
                           "by this nginx (built without SSL)", &p->name);
        return NGX_CONF_ERROR;
#endif

    } else if (p->url.len > 7
               && ngx_strncasecmp(p->url.data, (u_char *) "http://", 7) == 0)
    {
        add = 7;
        port = 80;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid url \"%V\" in llm_provider \"%V\": "
                           "it must start with \"http://\" or \"https://\"",
                           &p->url, &p->name);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.len = p->url.len - add;
    u.url.data = p->url.data + add;
    u.default_port = port;
    u.uri_part = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in url \"%V\" of llm_provider \"%V\"",
                               u.err, &p->url, &p->name);
        }

        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no address for url \"%V\" of llm_provider \"%V\"",
                           &p->url, &p->name);
        return NGX_CONF_ERROR;
    }

    p->addrs = u.addrs;
    p->naddrs = u.naddrs;
    p->host = u.host;

    if (u.port == port) {
        p->host_header = u.host;

    } else {
        p->host_header.data = ngx_pnalloc(cf->pool,
                                          u.host.len + 1 + NGX_INT_T_LEN);
        if (p->host_header.data == NULL) {
            return NGX_CONF_ERROR;
        }

        last = ngx_sprintf(p->host_header.data, "%V:%d", &u.host,
                           (int) u.port);
        p->host_header.len = last - p->host_header.data;
    }

    /* the path prefix, without a trailing slash and NUL-terminated */

    p->base_path = u.uri;

    while (p->base_path.len && p->base_path.data[p->base_path.len - 1] == '/')
    {
        p->base_path.len--;
    }

    if (ngx_strlchr(p->base_path.data, p->base_path.data + p->base_path.len,
                    '?')
        || ngx_strlchr(p->base_path.data,
                       p->base_path.data + p->base_path.len, '#'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid url \"%V\" in llm_provider \"%V\": "
                           "a query or fragment is not allowed",
                           &p->url, &p->name);
        return NGX_CONF_ERROR;
    }

    last = ngx_pnalloc(cf->pool, p->base_path.len + 1);
    if (last == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(last, p->base_path.data, p->base_path.len);
    last[p->base_path.len] = '\0';
    p->base_path.data = last;

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_provider_key(ngx_conf_t *cf, ngx_http_llm_provider_t *p,
    ngx_str_t *value)
{
    char             *env;
    u_char           *key;
    size_t            len;
    ssize_t           n;
    ngx_str_t         name;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    if (value->len == 3 && ngx_strncmp(value->data, "off", 3) == 0) {
        ngx_str_null(&p->api_key);
        return NGX_CONF_OK;
    }

    if (value->len > 4 && ngx_strncmp(value->data, "env:", 4) == 0) {

        /* the value is NUL-terminated by the configuration parser */

        env = getenv((char *) value->data + 4);

        if (env == NULL || env[0] == '\0') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "llm_provider \"%V\": environment variable "
                               "\"%s\" for \"api_key\" is not set or empty",
                               &p->name, value->data + 4);
            return NGX_CONF_ERROR;
        }

        len = ngx_strlen(env);

        if (len > NGX_HTTP_LLM_MAX_KEY) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "llm_provider \"%V\": \"api_key\" is too long",
                               &p->name);
            return NGX_CONF_ERROR;
        }

        key = ngx_pnalloc(cf->pool, len + 1);
        if (key == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(key, env, len + 1);

    } else if (value->len > 5 && ngx_strncmp(value->data, "file:", 5) == 0) {

        name.data = value->data + 5;
        name.len = value->len - 5;

        if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&file, sizeof(ngx_file_t));

        file.name = name;
        file.log = cf->log;
        file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

        if (file.fd == NGX_INVALID_FILE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "llm_provider \"%V\": cannot open \"api_key\" "
                               "file \"%V\"", &p->name, &name);
            return NGX_CONF_ERROR;
        }

        if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
            || ngx_file_size(&fi) > NGX_HTTP_LLM_MAX_KEY)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "llm_provider \"%V\": \"api_key\" file \"%V\" "
                               "is unreadable or too large", &p->name, &name);
            (void) ngx_close_file(file.fd);
            return NGX_CONF_ERROR;
        }

        len = (size_t) ngx_file_size(&fi);

        key = ngx_pnalloc(cf->pool, len + 1);
        if (key == NULL) {
            (void) ngx_close_file(file.fd);
            return NGX_CONF_ERROR;
        }

        n = ngx_read_file(&file, key, len, 0);

        (void) ngx_close_file(file.fd);

        if (n == NGX_ERROR || (size_t) n != len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "llm_provider \"%V\": cannot read \"api_key\" "
                               "file \"%V\"", &p->name, &name);
            return NGX_CONF_ERROR;
        }

        while (len && (key[len - 1] == '\n' || key[len - 1] == '\r'
                       || key[len - 1] == ' ' || key[len - 1] == '\t'))
        {
            len--;
        }

        key[len] = '\0';

        if (len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "llm_provider \"%V\": \"api_key\" file \"%V\" "
                               "is empty", &p->name, &name);
            return NGX_CONF_ERROR;
        }

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"api_key\" in llm_provider \"%V\": use "
                           "\"env:VARIABLE\", \"file:/path\" or \"off\" "
                           "(keys are not written into the configuration)",
                           &p->name);
        return NGX_CONF_ERROR;
    }

    for (n = 0; key[n]; n++) {
        if (key[n] < 0x20 || key[n] == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "llm_provider \"%V\": \"api_key\" contains "
                               "control characters", &p->name);
            return NGX_CONF_ERROR;
        }
    }

    p->api_key.data = key;
    p->api_key.len = n;

    return NGX_CONF_OK;
}


/* "price INPUT OUTPUT": USD per million tokens, as micro-USD */

static char *
ngx_http_llm_provider_price(ngx_conf_t *cf, ngx_http_llm_provider_t *p)
{
    ngx_int_t   in, out;
    ngx_str_t  *value;

    value = cf->args->elts;

    if (cf->args->nelts != 3) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"price\" of llm_provider \"%V\" takes the "
                           "input and output prices in USD per million "
                           "tokens", &p->name);
        return NGX_CONF_ERROR;
    }

    in = ngx_atofp(value[1].data, value[1].len, 6);
    out = ngx_atofp(value[2].data, value[2].len, 6);

    if (in == NGX_ERROR || out == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid price \"%V %V\" in llm_provider \"%V\"",
                           &value[1], &value[2], &p->name);
        return NGX_CONF_ERROR;
    }

    p->price_in = (uint64_t) in;
    p->price_out = (uint64_t) out;
    p->priced = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llm_valid_name(ngx_str_t *name)
{
    u_char      c;
    ngx_uint_t  i;

    if (name->len == 0 || name->len > 256) {
        return NGX_ERROR;
    }

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || ngx_strchr("._-:/@", c) != NULL)
        {
            continue;
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


/* request handling */

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

    len = sizeof("/chat/completions") - 1;

    if (uri->len < len
        || ngx_strncmp(uri->data + uri->len - len, "/chat/completions", len)
           != 0)
    {
        ngx_http_llm_set_error(r, ctx, NGX_HTTP_NOT_FOUND,
                               "invalid_request_error", "unknown_url",
                               "Unknown request URL: %V %V. This gateway "
                               "serves POST .../chat/completions and "
                               "GET .../models.",
                               &r->method_name, &r->uri);
        return NGX_HTTP_NOT_FOUND;
    }

    if (r->method != NGX_HTTP_POST) {
        goto not_allowed;
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_llm_body_handler);

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


static void
ngx_http_llm_body_handler(ngx_http_request_t *r)
{
    u_char              *body;
    size_t               len;
    ngx_int_t            rc;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (r->connection->error) {
        ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST);
        return;
    }

    if (ngx_http_llm_read_body(r, &body, &len) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (llm_request_parse(&ctx->req, (const char *) body, len, &ctx->err)
        != LLM_OK)
    {
        ctx->has_err = 1;

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: rejected request: %s", ctx->err.message);

        ngx_http_finalize_request(r, ctx->err.status);
        return;
    }

    ctx->prompt_tokens = llm_request_prompt_tokens(&ctx->req);
    ctx->max_tokens = ngx_http_llm_max_tokens(&ctx->req);

    rc = ngx_http_llm_route_select(r, ctx);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc >= NGX_HTTP_SPECIAL_RESPONSE
                                     ? rc : NGX_HTTP_INTERNAL_SERVER_ERROR);
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

    rc = ngx_http_llm_upstream_start(r, ctx);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc >= NGX_HTTP_SPECIAL_RESPONSE
                                     ? rc : NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static long
ngx_http_llm_max_tokens(llm_request_t *req)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(req->root,
                                            "max_completion_tokens");

    if (!cJSON_IsNumber(item)) {
        item = cJSON_GetObjectItemCaseSensitive(req->root, "max_tokens");
    }

    return cJSON_IsNumber(item) ? (long) item->valuedouble : 0;
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

    size = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        size += ngx_buf_size(cl->buf);
    }

    p = ngx_pnalloc(r->pool, (size_t) size + 1);
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

    for (i = 0; i < n; i++) {
        ids[i] = (const char *) pp[i]->name.data;
        owners[i] = pp[i]->adapter->name;
    }

    pool.alloc = ngx_http_llm_pool_alloc;
    pool.data = r->pool;

    json = llm_models_render(ids, owners, n, (long) ngx_cached_time->sec,
                             &pool, &len);
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


static ngx_http_llm_ctx_t *
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


void
ngx_http_llm_failed_error(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char  buf[sizeof(ctx->err.message)];
    size_t  len;

    len = ngx_http_llm_attempts_text(r, ctx, buf, sizeof(buf) - 1);
    buf[len] = '\0';

    ngx_http_llm_set_error(r, ctx, NGX_HTTP_BAD_GATEWAY, "api_error",
                           "all_providers_failed",
                           "No provider could answer: %s.", buf);
}


/* "a (HTTP 503), b (timed out)": the providers tried and how they failed */

size_t
ngx_http_llm_attempts_text(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    u_char *buf, size_t size)
{
    u_char                      *p, *last;
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


void *
ngx_http_llm_pool_alloc(void *data, size_t size)
{
    return ngx_palloc((ngx_pool_t *) data, size);
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
        /* every provider tried failed */

        r->headers_out.status = NGX_HTTP_BAD_GATEWAY;
        r->headers_out.status_line.len = 0;

        ngx_http_llm_failed_error(r, ctx);

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

    if (r != r->main || in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

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


static ngx_int_t
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


static ngx_int_t
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

    if (ctx == NULL || ctx->tried.nelts == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ctx->provider->name.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = ctx->provider->name.data;

    return NGX_OK;
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

    v->len = ngx_sprintf(p, "%ui", ctx->tried.nelts) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
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

    v->len = ngx_sprintf(p, "%l", ctx->prompt_tokens) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
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

    v->len = ngx_strlen(ctx->req.model);
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = (u_char *) ctx->req.model;

    return NGX_OK;
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

    v->len = ngx_sprintf(p, "%T.%03M", (time_t) ctx->ttft / 1000,
                         ctx->ttft % 1000)
             - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


/* the provider's token counts, when its answer was translated */

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

    if (ctx && ctx->streaming && ctx->stream) {
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

    v->len = ngx_sprintf(p, "%L", (int64_t) n) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static void *
ngx_http_llm_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&lmcf->providers, cf->pool, 4,
                       sizeof(ngx_http_llm_provider_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return lmcf;
}


static void *
ngx_http_llm_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_llm_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->routes = NULL;
     *     conf->providers = NULL;
     *     conf->ssl_trusted_certificate = { 0, NULL };
     */

    conf->upstream.connect_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.send_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.read_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.buffer_size = NGX_CONF_UNSET_SIZE;

    conf->upstream.hide_headers = NGX_CONF_UNSET_PTR;
    conf->upstream.pass_headers = NGX_CONF_UNSET_PTR;

    conf->max_response_size = NGX_CONF_UNSET_SIZE;
    conf->max_event_size = NGX_CONF_UNSET_SIZE;
    conf->headers = NGX_CONF_UNSET;
    conf->next_upstream_tries = NGX_CONF_UNSET_UINT;
    conf->next_upstream_timeout = NGX_CONF_UNSET_MSEC;

    conf->ssl_verify = NGX_CONF_UNSET;
    conf->ssl_verify_depth = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_llm_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_llm_loc_conf_t *prev = parent;
    ngx_http_llm_loc_conf_t *conf = child;

    ngx_conf_merge_msec_value(conf->upstream.connect_timeout,
                              prev->upstream.connect_timeout, 10000);

    ngx_conf_merge_msec_value(conf->upstream.send_timeout,
                              prev->upstream.send_timeout, 60000);

    ngx_conf_merge_msec_value(conf->upstream.read_timeout,
                              prev->upstream.read_timeout, 300000);

    ngx_conf_merge_size_value(conf->upstream.buffer_size,
                              prev->upstream.buffer_size, 16384);

    ngx_conf_merge_size_value(conf->max_response_size,
                              prev->max_response_size, 4 * 1024 * 1024);

    ngx_conf_merge_size_value(conf->max_event_size, prev->max_event_size,
                              32768);

    ngx_conf_merge_value(conf->headers, prev->headers, 1);

    ngx_conf_merge_bitmask_value(conf->next_upstream, prev->next_upstream,
                                 (NGX_CONF_BITMASK_SET
                                  |NGX_HTTP_UPSTREAM_FT_ERROR
                                  |NGX_HTTP_UPSTREAM_FT_TIMEOUT
                                  |NGX_HTTP_UPSTREAM_FT_INVALID_HEADER
                                  |NGX_HTTP_UPSTREAM_FT_HTTP_429
                                  |NGX_HTTP_UPSTREAM_FT_HTTP_500
                                  |NGX_HTTP_UPSTREAM_FT_HTTP_502
                                  |NGX_HTTP_UPSTREAM_FT_HTTP_503
                                  |NGX_HTTP_UPSTREAM_FT_HTTP_504));

    if (conf->next_upstream & NGX_HTTP_UPSTREAM_FT_OFF) {
        conf->next_upstream = NGX_CONF_BITMASK_SET|NGX_HTTP_UPSTREAM_FT_OFF;
    }

    ngx_conf_merge_uint_value(conf->next_upstream_tries,
                              prev->next_upstream_tries, 0);
    ngx_conf_merge_msec_value(conf->next_upstream_timeout,
                              prev->next_upstream_timeout, 0);

    ngx_conf_merge_value(conf->ssl_verify, prev->ssl_verify, 1);
    ngx_conf_merge_uint_value(conf->ssl_verify_depth,
                              prev->ssl_verify_depth, 10);
    ngx_conf_merge_str_value(conf->ssl_trusted_certificate,
                             prev->ssl_trusted_certificate,
                             "/etc/ssl/certs/ca-certificates.crt");

    if (ngx_http_llm_route_resolve(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llm_upstream_merge(cf, prev, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llm_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_llm_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_llm_body_filter;

    return NGX_OK;
}
