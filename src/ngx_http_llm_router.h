
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


#ifndef _NGX_HTTP_LLM_ROUTER_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llm_core.h"


#define NGX_HTTP_LLM_MAX_ERROR_BODY   32768


typedef struct ngx_http_llm_provider_s  ngx_http_llm_provider_t;


/* a cached keep-alive connection to a provider, one per worker slot */
typedef struct {
    ngx_queue_t                    queue;
    ngx_http_llm_provider_t       *provider;
    ngx_connection_t              *connection;
} ngx_http_llm_keepalive_t;


struct ngx_http_llm_provider_s {
    ngx_str_t                      name;
    const llm_adapter_t           *adapter;

    ngx_str_t                      url;
    ngx_str_t                      host;          /* for SNI */
    ngx_str_t                      host_header;   /* host[:port] */
    ngx_str_t                      base_path;     /* no trailing slash */
    ngx_addr_t                    *addrs;
    ngx_uint_t                     naddrs;

    ngx_str_t                      model;
    ngx_str_t                      api_key;       /* NUL-terminated */

    llm_provider_t                 core;          /* the core's view */

    ngx_uint_t                     keepalive;     /* max idle connections */
    ngx_queue_t                    cache;         /* idle connections */
    ngx_queue_t                    free;          /* unused slots */

    u_char                        *file;
    ngx_uint_t                     line;

    unsigned                       ssl:1;
    unsigned                       type_set:1;
    unsigned                       key_set:1;
};


typedef struct {
    ngx_array_t                    providers;     /* provider pointers */
} ngx_http_llm_main_conf_t;


typedef struct {
    ngx_array_t                   *names;         /* ngx_str_t */
    ngx_array_t                   *providers;     /* provider pointers */
    u_char                        *file;
    ngx_uint_t                     line;
} ngx_http_llm_route_t;


typedef struct {
    ngx_http_llm_route_t          *route;         /* NULL: not a gateway */

    ngx_http_upstream_conf_t       upstream;

    size_t                         max_response_size;
    ngx_flag_t                     headers;

    ngx_uint_t                     next_upstream;
    ngx_uint_t                     next_upstream_tries;
    ngx_msec_t                     next_upstream_timeout;

    ngx_flag_t                     ssl_verify;
    ngx_uint_t                     ssl_verify_depth;
    ngx_str_t                      ssl_trusted_certificate;
} ngx_http_llm_loc_conf_t;


typedef struct {
    llm_request_t                  req;
    llm_error_t                    err;           /* the gateway's own error */

    ngx_http_llm_provider_t      **candidates;    /* in the order tried */
    ngx_uint_t                     ncandidates;
    ngx_uint_t                     tries;         /* u->peer.tries at start */

    ngx_http_llm_provider_t       *provider;      /* current attempt */
    ngx_array_t                    tried;         /* provider pointers */

    ngx_http_llm_provider_t       *encoded;       /* request built for */
    ngx_str_t                      head;          /* request line, headers */
    ngx_str_t                      body;
    ngx_str_t                      path;

    ngx_http_status_t              status;
    ngx_http_chunked_t             chunked;

    u_char                        *acc;           /* the provider's body */
    size_t                         acc_len;
    size_t                         acc_size;
    off_t                          rest;          /* of Content-Length */

    ngx_str_t                      out;           /* translated body */
    llm_usage_t                    usage;

    ngx_chain_t                   *replace;       /* body the filter sends */

    unsigned                       has_err:1;
    unsigned                       collect:1;     /* read whole, translate */
    unsigned                       translated:1;
    unsigned                       late:1;        /* error body until EOF */
    unsigned                       late_done:1;
} ngx_http_llm_ctx_t;


extern ngx_module_t  ngx_http_llm_router_module;


ngx_int_t ngx_http_llm_upstream_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
ngx_int_t ngx_http_llm_upstream_merge(ngx_conf_t *cf,
    ngx_http_llm_loc_conf_t *prev, ngx_http_llm_loc_conf_t *conf);
ngx_int_t ngx_http_llm_keepalive_init(ngx_conf_t *cf,
    ngx_http_llm_provider_t *p);
void ngx_http_llm_set_error(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_uint_t status, const char *type, const char *code,
    const char *fmt, ...);
void *ngx_http_llm_pool_alloc(void *data, size_t size);
void ngx_http_llm_failed_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
size_t ngx_http_llm_attempts_text(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, u_char *buf, size_t size);


#endif /* _NGX_HTTP_LLM_ROUTER_H_INCLUDED_ */
