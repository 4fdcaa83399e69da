
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

#define NGX_HTTP_LLM_IF_NONE          0
#define NGX_HTTP_LLM_IF_TRUE          1
#define NGX_HTTP_LLM_IF_FALSE         2
#define NGX_HTTP_LLM_IF_EQ            3
#define NGX_HTTP_LLM_IF_NE            4
#define NGX_HTTP_LLM_IF_LT            5
#define NGX_HTTP_LLM_IF_LE            6
#define NGX_HTTP_LLM_IF_GT            7
#define NGX_HTTP_LLM_IF_GE            8

#define NGX_HTTP_LLM_BALANCE_ORDERED  0
#define NGX_HTTP_LLM_BALANCE_WEIGHTED 1
#define NGX_HTTP_LLM_BALANCE_LATENCY  2
#define NGX_HTTP_LLM_BALANCE_COST     3

/* how an attempt, or a request, ended */
#define NGX_HTTP_LLM_OUT_SUCCESS      0
#define NGX_HTTP_LLM_OUT_CONNECT      1
#define NGX_HTTP_LLM_OUT_TIMEOUT      2
#define NGX_HTTP_LLM_OUT_HTTP_429     3
#define NGX_HTTP_LLM_OUT_HTTP_5XX     4
#define NGX_HTTP_LLM_OUT_HTTP_4XX     5
#define NGX_HTTP_LLM_OUT_INVALID      6
#define NGX_HTTP_LLM_OUT_ABORT        7

/* how the attempts of a request failed: what its all-failed status says */
#define NGX_HTTP_LLM_FAIL_429         0x01   /* rate-limited */
#define NGX_HTTP_LLM_FAIL_BUSY        0x02   /* 503, 529: overloaded */
#define NGX_HTTP_LLM_FAIL_TIMEOUT     0x04   /* timed out, 504 */
#define NGX_HTTP_LLM_FAIL_OTHER       0x08   /* unreachable, invalid, 5xx */
#define NGX_HTTP_LLM_NOUTCOMES        8

#define NGX_HTTP_LLM_FINISH_STOP      0
#define NGX_HTTP_LLM_FINISH_LENGTH    1
#define NGX_HTTP_LLM_FINISH_TOOLS     2
#define NGX_HTTP_LLM_FINISH_FILTER    3
#define NGX_HTTP_LLM_FINISH_OTHER     4
#define NGX_HTTP_LLM_NFINISH          5

#define NGX_HTTP_LLM_TOKENS_INPUT     0
#define NGX_HTTP_LLM_TOKENS_OUTPUT    1
#define NGX_HTTP_LLM_TOKENS_CACHED    2
#define NGX_HTTP_LLM_TOKENS_WRITE     3
#define NGX_HTTP_LLM_TOKENS_REASONING 4
#define NGX_HTTP_LLM_NTOKENS          5

#define NGX_HTTP_LLM_HIST_LATENCY     0
#define NGX_HTTP_LLM_HIST_TTFT        1
#define NGX_HTTP_LLM_HIST_INPUT       2
#define NGX_HTTP_LLM_HIST_OUTPUT      3
#define NGX_HTTP_LLM_NHIST            4

#define NGX_HTTP_LLM_MAX_BUCKETS      16

/* what a provider serves (llm_provider's "serves") */
#define NGX_HTTP_LLM_SERVES_CHAT      LLM_SERVES_CHAT
#define NGX_HTTP_LLM_SERVES_EMBED     LLM_SERVES_EMBED

/* llm_embeddings_failover */
#define NGX_HTTP_LLM_EMBED_COMPATIBLE 0
#define NGX_HTTP_LLM_EMBED_ANY        1

/* llm_limit_zone kinds */
#define NGX_HTTP_LLM_LIMIT_REQUESTS   0
#define NGX_HTTP_LLM_LIMIT_TOKENS     1
#define NGX_HTTP_LLM_LIMIT_INPUT      2
#define NGX_HTTP_LLM_LIMIT_OUTPUT     3
#define NGX_HTTP_LLM_LIMIT_SPEND      4

/* $llm_limit_status */
#define NGX_HTTP_LLM_LIMIT_NONE       0
#define NGX_HTTP_LLM_LIMIT_PASSED     1
#define NGX_HTTP_LLM_LIMIT_REJECTED   2
#define NGX_HTTP_LLM_LIMIT_DRY_RUN    3
#define NGX_HTTP_LLM_LIMIT_UNAVAILABLE 4      /* its Redis did not answer */

/* what the x-ratelimit-* headers and $llm_limit_remaining_* show */
#define NGX_HTTP_LLM_INFO_REQUESTS    0
#define NGX_HTTP_LLM_INFO_TOKENS      1
#define NGX_HTTP_LLM_INFO_SPEND       2
#define NGX_HTTP_LLM_NINFO            3


typedef struct ngx_http_llm_provider_s  ngx_http_llm_provider_t;
typedef struct ngx_http_llm_health_s    ngx_http_llm_health_t;


/* a histogram: counts per bucket (not cumulative), the last one +Inf */
typedef struct {
    ngx_atomic_t                   count;
    ngx_atomic_t                   sum;           /* msec or tokens */
    ngx_atomic_t                   bucket[NGX_HTTP_LLM_MAX_BUCKETS + 1];
} ngx_http_llm_hist_t;


/* the counters of a provider or of a route arm, in the zone */
typedef struct {
    ngx_atomic_t                   outcomes[NGX_HTTP_LLM_NOUTCOMES];
    ngx_atomic_t                   failovers;
    ngx_atomic_t                   embeddings;    /* answers to them */
    ngx_atomic_t                   finish[NGX_HTTP_LLM_NFINISH];
    ngx_atomic_t                   tokens[NGX_HTTP_LLM_NTOKENS];
    ngx_atomic_t                   usage_unknown;
    ngx_atomic_t                   cost;          /* pico-USD */
    ngx_http_llm_hist_t            hist[NGX_HTTP_LLM_NHIST];

    /* the response cache: misses this provider answered, hits on answers
       it gave, and what those hits did not cost */
    ngx_atomic_t                   cache_hits;
    ngx_atomic_t                   cache_misses;
    ngx_atomic_t                   cache_tokens[2];   /* input, output */
    ngx_atomic_t                   cache_cost;    /* pico-USD */

    ngx_atomic_t                   limited;       /* skipped for a limit */
} ngx_http_llm_counters_t;


/* one arm of a named llm_route rule: the provider the rule picked first */
typedef struct {
    ngx_str_t                      route;
    ngx_str_t                      name;          /* the provider's */
    ngx_http_llm_counters_t       *counters;      /* NULL: not counted */
} ngx_http_llm_arm_t;


/* a provider's health and latency, in the zone or a worker's memory */
struct ngx_http_llm_health_s {
    ngx_http_llm_health_t         *next;
    u_char                        *name;
    size_t                         name_len;

    ngx_atomic_t                   fails;         /* in the current window */
    ngx_atomic_t                   checked;       /* window start, msec */
    ngx_atomic_t                   down_until;    /* msec; 0: in rotation */
    ngx_atomic_t                   probe;         /* probe sent at, msec */
    ngx_atomic_t                   latency;       /* EWMA, usec; 0: none */
};


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
    ngx_addr_t                    *addrs;         /* NULL: resolved */
    ngx_uint_t                     naddrs;
    in_port_t                      port;

    ngx_str_t                      model;
    ngx_str_t                      api_key;       /* NUL-terminated */

    ngx_uint_t                     serves;        /* NGX_HTTP_LLM_SERVES_* */
    ngx_str_t                      embedding_group;
    ngx_str_t                      input_type;

    llm_provider_t                 core;          /* the core's view */

    llm_price_t                    price;         /* micro-USD per 1M */
    ngx_http_llm_counters_t       *counters;      /* NULL: no llm_zone */

    ngx_http_llm_health_t         *health;
    ngx_uint_t                     max_fails;
    ngx_msec_t                     fail_timeout;

    ngx_array_t                   *limits;        /* "limit": shm zones */

    ngx_uint_t                     keepalive;     /* max idle connections */
    ngx_queue_t                    cache;         /* idle connections */
    ngx_queue_t                    free;          /* unused slots */

    u_char                        *file;
    ngx_uint_t                     line;

    unsigned                       ssl:1;
    unsigned                       type_set:1;
    unsigned                       key_set:1;
    unsigned                       priced:1;
    unsigned                       resolve:1;     /* at run time */
};


typedef struct {
    ngx_array_t                    providers;     /* provider pointers */
    ngx_array_t                    arms;          /* arm pointers */
    ngx_shm_zone_t                *shm_zone;

    /* histogram bounds, msec (latency, ttft) or tokens; 0 ends a list */
    ngx_msec_t                     bounds[NGX_HTTP_LLM_NHIST]
                                         [NGX_HTTP_LLM_MAX_BUCKETS];

    ngx_array_t                    caches;        /* llm_cache_path zones */
    ngx_array_t                    limit_zones;   /* llm_limit_zone's */
    ngx_array_t                    limit_refs;    /* zones used by name,
                                                     limit.c's */
    ngx_array_t                    redis;         /* ngx_http_llm_redis_t
                                                     pointers */

    ngx_uint_t                     status;        /* llm_status is used */
    ngx_uint_t                     read_usage;    /* of relayed answers */
} ngx_http_llm_main_conf_t;


typedef struct {
    ngx_str_t                      name;
    ngx_http_llm_provider_t       *provider;
    ngx_uint_t                     weight;
} ngx_http_llm_route_peer_t;


/* one llm_route line */
typedef struct {
    ngx_array_t                    peers;         /* route peers */
    ngx_uint_t                     total_weight;

    ngx_uint_t                     op;            /* NGX_HTTP_LLM_IF_* */
    ngx_int_t                      var;           /* variable index */
    ngx_str_t                      value;
    off_t                          number;

    ngx_uint_t                     balance;       /* NGX_HTTP_LLM_BALANCE_* */
    ngx_http_complex_value_t      *sticky;

    ngx_str_t                      name;          /* name=, for the stats */
    ngx_http_llm_arm_t           **arms;          /* a named rule's, one per
                                                     provider of the
                                                     location, in order */

    u_char                        *file;
    ngx_uint_t                     line;

    unsigned                       weighted:1;
} ngx_http_llm_route_t;


/* an llm_limit of a location */
typedef struct {
    ngx_shm_zone_t                *shm_zone;
    ngx_uint_t                     dry_run;
} ngx_http_llm_limit_t;


/* what a request reserved in a limit's zone, settled when it ends */
typedef struct {
    ngx_shm_zone_t                *shm_zone;
    ngx_http_llm_provider_t       *provider;      /* NULL: the location's */
    ngx_str_t                      key;
    uint32_t                       hash;
    time_t                         window;        /* its start */
    uint64_t                       reserved;
    ngx_str_t                      rkey;          /* in Redis; empty: no */
} ngx_http_llm_limit_res_t;


/* the first limit of a kind, for headers and variables */
typedef struct {
    uint64_t                       limit;
    uint64_t                       remaining;
    time_t                         reset;         /* seconds */
    ngx_uint_t                     set;
} ngx_http_llm_limit_info_t;


typedef struct {
    ngx_array_t                   *routes;        /* NULL: not a gateway */
    ngx_array_t                   *providers;     /* every route's, once */

    ngx_http_upstream_conf_t       upstream;

    size_t                         max_response_size;
    size_t                         max_event_size;
    off_t                          max_stream_size;
    ngx_msec_t                     stream_timeout;
    ngx_flag_t                     headers;
    ngx_uint_t                     embeddings_failover;
    ngx_flag_t                     stats;
    ngx_flag_t                     prompt_log;
    size_t                         prompt_log_size;

    ngx_uint_t                     next_upstream;
    ngx_uint_t                     next_upstream_tries;
    ngx_msec_t                     next_upstream_timeout;

    ngx_shm_zone_t                *cache_zone;    /* llm_cache */
    time_t                         cache_valid;
    ngx_uint_t                     cache_min_uses;
    ngx_array_t                   *cache_bypass;
    ngx_array_t                   *no_cache;
    ngx_http_complex_value_t      *cache_key;
    ngx_int_t                      cache_temperature; /* thousandths,
                                                         -1: any */
    size_t                         cache_max_size;

    ngx_array_t                   *limits;        /* ngx_http_llm_limit_t */
    ngx_flag_t                     limit_dry_run;
    ngx_uint_t                     limit_status;
    ngx_uint_t                     limit_log_level;

    ngx_flag_t                     ssl_verify;
    ngx_uint_t                     ssl_verify_depth;
    ngx_str_t                      ssl_trusted_certificate;
    ngx_flag_t                     ssl_session_reuse;
#if (NGX_HTTP_SSL)
    ngx_ssl_session_t            **ssl_sessions;  /* one per provider */
#endif
} ngx_http_llm_loc_conf_t;


/* a provider's address for one request, resolved at run time */
typedef struct {
    ngx_http_request_t            *request;
    ngx_http_llm_provider_t       *provider;
    ngx_resolver_ctx_t            *resolver;      /* a lookup under way */
    ngx_addr_t                     addr;
    ngx_int_t                      state;         /* 0, NGX_RESOLVE_* */
} ngx_http_llm_resolved_t;


/* a half-open provider's probe, claimed by a request */
typedef struct {
    ngx_http_llm_provider_t       *provider;
    ngx_msec_t                     at;
} ngx_http_llm_probe_t;


typedef struct ngx_http_llm_peek_s  ngx_http_llm_peek_t;


typedef struct {
    llm_request_t                  req;
    llm_error_t                    err;           /* the gateway's own error */

    ngx_http_llm_route_t          *route;         /* the rule matched */
    ngx_http_llm_arm_t            *arm;           /* its arm, if named */
    long                           prompt_tokens; /* estimate */
    long                           max_tokens;    /* the client's limit */

    ngx_http_llm_provider_t      **candidates;    /* in the order tried */
    ngx_uint_t                     ncandidates;
    ngx_http_llm_probe_t          *probes;        /* claimed, to give back */
    ngx_uint_t                     nprobes;
    ngx_uint_t                     tries;         /* u->peer.tries at start */
    ngx_http_llm_resolved_t       *resolved;      /* by candidate */
    ngx_uint_t                     nresolved;
    ngx_uint_t                     resolving;     /* lookups under way */

    ngx_http_llm_provider_t       *provider;      /* current attempt */
    ngx_array_t                    tried;         /* provider pointers */

    ngx_http_llm_provider_t       *encoded;       /* request built for */
    ngx_str_t                      head;          /* request line, headers */
    ngx_str_t                      body[LLM_BODY_PARTS];
    ngx_uint_t                     nbody;         /* pieces of the body */
    ngx_str_t                      path;

    ngx_http_status_t              status;
    ngx_http_chunked_t             chunked;

    u_char                        *acc;           /* the provider's body */
    size_t                         acc_len;
    size_t                         acc_size;
    off_t                          rest;          /* of Content-Length */

    ngx_buf_t                     *header_in;     /* NGINX's, while ours
                                                     takes the body */
    ngx_str_t                      out;           /* translated body */
    llm_usage_t                    usage;         /* of the answer */
    const char                    *finish_reason;
    ngx_str_t                      completion;    /* its text, logged */
    llm_scan_t                    *scan;          /* a relayed answer */
    llm_scan_t                    *scan_mem;      /* the worker's, given
                                                     back at cleanup */

    ngx_uint_t                     outcome;       /* NGX_HTTP_LLM_OUT_* */
    ngx_uint_t                     pstatus;       /* the provider's status */
    ngx_uint_t                     failovers;
    ngx_uint_t                     fails;         /* NGX_HTTP_LLM_FAIL_* */
    time_t                         retry_after;   /* shortest asked for */
    uint64_t                       cost;          /* pico-USD */
    ngx_msec_t                     ttft_at;       /* first byte out */

    ngx_chain_t                   *replace;       /* body the filter sends */

    llm_sse_t                     *sse;           /* a translated stream */
    llm_stream_t                  *stream;
    llm_stream_out_t               sout;          /* into sbuf */
    ngx_buf_t                     *sbuf;
    ngx_chain_t                   *scl;           /* sbuf, not yet sent */
    ngx_http_llm_peek_t           *peek;          /* a stream's first
                                                     events */
    ngx_msec_t                     ttft;          /* first byte out, msec */
    ngx_msec_t                     stream_at;     /* its header, msec */
    off_t                          received;      /* body bytes, streamed
                                                     or relayed */

    u_char                        *held;          /* a relayed answer's end
                                                     that may start the
                                                     key, not yet sent */
    size_t                         held_len;
    size_t                         held_size;
    size_t                         key_len;       /* to mask, 0: none */

#if (NGX_HTTP_CACHE)
    ngx_http_cache_t              *cache;         /* the answer's entry */
#endif
    ngx_uint_t                     cache_status;  /* NGX_HTTP_CACHE_*, 0 */
    u_char                        *cache_acc;     /* a relayed answer */
    size_t                         cache_len;
    size_t                         cache_size;
    llm_sse_t                     *cache_sse;     /* a streamed answer */
    llm_cache_acc_t               *cache_acc_stream;

    ngx_http_llm_limit_res_t      *limit_res;     /* reservations */
    ngx_uint_t                     nlimit_res;
    ngx_http_llm_provider_t       *limit_provider; /* $llm_provider while
                                                      its limit's key is
                                                      evaluated */
    ngx_shm_zone_t                *limit_zone;    /* the one that refused */
    ngx_uint_t                     limit_status;  /* NGX_HTTP_LLM_LIMIT_* */
    ngx_uint_t                     limit_skipped; /* providers, for limits */
    void                          *limit_wait;    /* Redis checks, limit.c's */
    ngx_array_t                   *limit_calls;   /* Redis commands sent */
    ngx_http_llm_limit_info_t      limit_info[NGX_HTTP_LLM_NINFO];

    unsigned                       has_err:1;
    unsigned                       collect:1;     /* read whole, translate */
    unsigned                       translated:1;
    unsigned                       late:1;        /* error body until EOF */
    unsigned                       late_done:1;
    unsigned                       streaming:1;   /* events translated */
    unsigned                       stream_over:1; /* its end went out */
    unsigned                       stream_failed:1;
    unsigned                       ttft_set:1;
    unsigned                       invalid:1;     /* this attempt's answer */
    unsigned                       counted:1;     /* this attempt is */
    unsigned                       finalized:1;   /* outcome, usage, cost */
    unsigned                       usage_known:1;
    unsigned                       priced:1;
    unsigned                       discard:1;     /* a mirror's answer */
    unsigned                       cache_store:1; /* the answer, if sound */
    unsigned                       cache_cleanup:1;
    unsigned                       embed:1;       /* POST .../embeddings */
    unsigned                       limit_settled:1;
} ngx_http_llm_ctx_t;


/* the counters of a provider (arm NULL) or a route arm, copied */
typedef struct {
    ngx_http_llm_provider_t       *provider;
    ngx_http_llm_arm_t            *arm;
    ngx_uint_t                     state;         /* circuit: 0 1 2 */
    ngx_http_llm_counters_t        c;
} ngx_http_llm_stat_t;


typedef struct {
    ngx_str_t                      zone;
    time_t                         since;
    ngx_msec_t                     since_msec;
    ngx_msec_t                   (*bounds)[NGX_HTTP_LLM_MAX_BUCKETS];
    ngx_array_t                    stats;         /* ngx_http_llm_stat_t */
} ngx_http_llm_snapshot_t;


typedef ngx_int_t (*ngx_http_llm_data_pt)(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, u_char *pos, size_t size);


extern ngx_module_t  ngx_http_llm_router_module;


/* ngx_http_llm_provider.c: the llm_provider blocks */
char *ngx_http_llm_provider_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_llm_valid_name(ngx_str_t *name);

/* ngx_http_llm_handler.c: the content handler */
ngx_int_t ngx_http_llm_handler(ngx_http_request_t *r);
void ngx_http_llm_proceed(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx);
void ngx_http_llm_go(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx);

/* ngx_http_llm_cache.c: the response cache, on NGINX's file cache */
char *ngx_http_llm_cache_path(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_llm_cache_temperature(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_llm_cache_merge(ngx_conf_t *cf,
    ngx_http_llm_loc_conf_t *prev, ngx_http_llm_loc_conf_t *conf);
ngx_int_t ngx_http_llm_cache_lookup(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
void ngx_http_llm_cache_feed(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    const u_char *p, size_t len);
void ngx_http_llm_cache_done(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_int_t rc);
ngx_str_t *ngx_http_llm_cache_status_name(ngx_uint_t status);

/* ngx_http_llm_route.c: llm_route rules and the order providers are tried */
char *ngx_http_llm_route(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_llm_route_resolve(ngx_conf_t *cf,
    ngx_http_llm_loc_conf_t *conf);
ngx_int_t ngx_http_llm_route_select(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
uint64_t ngx_http_llm_route_cost(ngx_http_llm_provider_t *p,
    ngx_http_llm_ctx_t *ctx);
ngx_http_llm_provider_t *ngx_http_llm_route_first(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);

/* ngx_http_llm_health.c: circuit breaker and latency per provider */
ngx_int_t ngx_http_llm_health_init(ngx_conf_t *cf,
    ngx_http_llm_provider_t *p);
ngx_int_t ngx_http_llm_health_available(ngx_http_request_t *r,
    ngx_http_llm_provider_t *p, ngx_msec_t *probed);
void ngx_http_llm_health_release(ngx_http_llm_ctx_t *ctx);
ngx_msec_t ngx_http_llm_health_retry_after(ngx_http_llm_provider_t **pp,
    ngx_uint_t n);
void ngx_http_llm_health_failed(ngx_log_t *log, ngx_http_llm_provider_t *p);
void ngx_http_llm_health_ok(ngx_log_t *log, ngx_http_llm_provider_t *p,
    ngx_msec_t latency);
uint64_t ngx_http_llm_health_latency(ngx_http_llm_provider_t *p);
ngx_uint_t ngx_http_llm_health_state(ngx_http_llm_provider_t *p);

/* ngx_http_llm_resolve.c: provider addresses resolved at run time */
ngx_int_t ngx_http_llm_resolve_check(ngx_conf_t *cf,
    ngx_http_llm_loc_conf_t *conf);
ngx_int_t ngx_http_llm_resolve(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
ngx_int_t ngx_http_llm_resolve_peer(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_uint_t n, ngx_peer_connection_t *pc);
const char *ngx_http_llm_resolve_error(ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_provider_t *p);

/* ngx_http_llm_upstream.c: the upstream protocol, peers, keep-alive */
ngx_int_t ngx_http_llm_upstream_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
ngx_int_t ngx_http_llm_upstream_merge(ngx_conf_t *cf,
    ngx_http_llm_loc_conf_t *prev, ngx_http_llm_loc_conf_t *conf);
ngx_int_t ngx_http_llm_keepalive_init(ngx_conf_t *cf,
    ngx_http_llm_provider_t *p);
void ngx_http_llm_peek_free(void);
llm_scratch_t *ngx_http_llm_scratch(void);
void ngx_http_llm_scan_release(ngx_http_llm_ctx_t *ctx);
void ngx_http_llm_scans_free(void);

/* ngx_http_llm_error.c: error answers, the filters, shared helpers */
ngx_int_t ngx_http_llm_filter_init(ngx_conf_t *cf);
ngx_http_llm_ctx_t *ngx_http_llm_get_ctx(ngx_http_request_t *r);
void ngx_http_llm_set_error(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_uint_t status, const char *type, const char *code,
    const char *fmt, ...);
void ngx_http_llm_failed_error(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_uint_t status);
ngx_uint_t ngx_http_llm_fail_class(ngx_uint_t status, ngx_uint_t timedout);
ngx_uint_t ngx_http_llm_failed_status(ngx_http_llm_ctx_t *ctx,
    ngx_uint_t last);
void ngx_http_llm_retry_after(ngx_http_llm_ctx_t *ctx, time_t delay);
size_t ngx_http_llm_attempts_text(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, u_char *buf, size_t size);
ngx_int_t ngx_http_llm_add_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value);

/* ngx_http_llm_block.c: the core's allocations, large ones kept */
void *ngx_http_llm_pool_alloc(void *data, size_t size);
void ngx_http_llm_blocks_free(void);

/* ngx_http_llm_stats.c: llm_zone and the counters in it */
char *ngx_http_llm_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_llm_buckets(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_llm_stats_init_conf(ngx_conf_t *cf,
    ngx_http_llm_main_conf_t *lmcf);
ngx_http_llm_arm_t *ngx_http_llm_stats_arm(ngx_conf_t *cf,
    ngx_str_t *route, ngx_http_llm_provider_t *p);
void ngx_http_llm_stats_failed(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_peer_connection_t *pc);
void ngx_http_llm_stats_failover(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_provider_t *from);
void ngx_http_llm_stats_done(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_int_t rc);
const char *ngx_http_llm_outcome_name(ngx_uint_t outcome);
ngx_int_t ngx_http_llm_stats_snapshot(ngx_http_request_t *r,
    ngx_http_llm_snapshot_t *snap);

/* ngx_http_llm_status.c: llm_status, in JSON, Prometheus text or HTML */
char *ngx_http_llm_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* ngx_http_llm_limit.c: spend and token limits in shared memory */
char *ngx_http_llm_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_llm_provider_limit(ngx_conf_t *cf,
    ngx_http_llm_provider_t *p);
ngx_int_t ngx_http_llm_limit_init_conf(ngx_conf_t *cf,
    ngx_http_llm_main_conf_t *lmcf);
ngx_int_t ngx_http_llm_limit_check(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
ngx_int_t ngx_http_llm_limit_provider(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_provider_t *p);
ngx_int_t ngx_http_llm_limit_reserve_provider(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
ngx_int_t ngx_http_llm_limit_refused(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
void ngx_http_llm_limit_settle(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
void ngx_http_llm_limit_cleanup(ngx_http_llm_ctx_t *ctx);
ngx_int_t ngx_http_llm_limit_headers(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
ngx_int_t ngx_http_llm_limit_snapshot(ngx_http_request_t *r,
    ngx_array_t *out);
u_char *ngx_http_llm_limit_usd(u_char *p, uint64_t pico);

/* one zone's counters, copied for llm_status */
typedef struct {
    ngx_str_t                      name;
    ngx_str_t                     *kind;
    ngx_uint_t                     checked;
    ngx_uint_t                     passed;
    ngx_uint_t                     rejected;
    ngx_uint_t                     dry_run;
    ngx_uint_t                     evicted;
    ngx_uint_t                     unavailable;
    ngx_uint_t                     redis;         /* kept in Redis */
} ngx_http_llm_limit_stat_t;

/* ngx_http_llm_provider.c: a secret from "env:VARIABLE" or "file:/path" */
char *ngx_http_llm_secret(ngx_conf_t *cf, ngx_str_t *value, ngx_str_t *owner,
    const char *name, ngx_str_t *secret);

/* ngx_http_llm_redis.c: a Redis client on the event loop, for limits */
typedef struct ngx_http_llm_redis_cmd_s  ngx_http_llm_redis_cmd_t;

/* reply NULL: none came (an error, a timeout) */
typedef void (*ngx_http_llm_redis_handler_pt)(void *data,
    llm_resp_reply_t *reply);

/* a Redis server; the connection is each worker's own */
typedef struct {
    ngx_str_t                      name;          /* "host:port" */
    ngx_addr_t                     addr;
    ngx_msec_t                     timeout;
    ngx_str_t                      password;      /* empty: no AUTH */
    ngx_uint_t                     tls;           /* redis_ssl=on */
#if (NGX_SSL)
    ngx_ssl_t                     *ssl;
#endif
    ngx_str_t                      ssl_name;      /* verified, SNI */
    ngx_str_t                      ssl_trusted;
    ngx_str_t                      script;        /* SCRIPT LOADed */
    u_char                         sha[40];       /* its SHA-1, for
                                                     EVALSHA */

    ngx_connection_t              *connection;
    ngx_uint_t                     state;
    ngx_msec_t                     retry;         /* no connection before */
    ngx_msec_t                     backoff;       /* 0: the last went well */
    ngx_queue_t                    waiting;       /* sent, in order */
    ngx_queue_t                    free;
    ngx_uint_t                     nwaiting;
    ngx_buf_t                     *out;
    ngx_buf_t                     *in;
} ngx_http_llm_redis_t;

/* a Redis server as llm_limit_zone's redis_* parameters name it */
typedef struct {
    ngx_str_t                      addr;
    ngx_msec_t                     timeout;
    ngx_str_t                      password;
    ngx_flag_t                     ssl;
    ngx_str_t                      ssl_name;      /* empty: addr's host */
    ngx_str_t                      ssl_trusted;   /* CA certificates */
} ngx_http_llm_redis_conf_t;

ngx_http_llm_redis_t *ngx_http_llm_redis_add(ngx_conf_t *cf,
    ngx_http_llm_redis_conf_t *rc, ngx_str_t *script);
ngx_http_llm_redis_cmd_t *ngx_http_llm_redis_send(ngx_http_llm_redis_t *rs,
    llm_resp_arg_t *argv, size_t argc, ngx_http_llm_redis_handler_pt handler,
    void *data);
void ngx_http_llm_redis_cancel(ngx_http_llm_redis_cmd_t *cmd);

/* ngx_http_llm_variables.c */
ngx_int_t ngx_http_llm_add_variables(ngx_conf_t *cf);


#endif /* _NGX_HTTP_LLM_ROUTER_H_INCLUDED_ */
