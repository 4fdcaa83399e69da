
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


/*
 * Spend and token limits on one instance: llm_limit_zone keeps, per key,
 * what was used in the current window (requests, tokens or pico-USD) in
 * a shared memory zone of its own: a red-black tree of the keys and a
 * queue of them, least recently used last, as limit_req keeps its
 * states.  Windows are fixed and aligned on the epoch (a day starts at
 * 00:00 UTC) or on the calendar month.
 *
 * A request reserves its estimate (its prompt's tokens, or their price)
 * before it is forwarded, and the reservation is settled with the real
 * usage and cost when the request ends (ngx_http_llm_limit_settle(),
 * from ngx_http_llm_stats_done() or the request's cleanup).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_sha1.h>
#include <ngx_http.h>

#include "ngx_http_llm_router.h"


#define NGX_HTTP_LLM_LIMIT_COUNT    0x01
#define NGX_HTTP_LLM_LIMIT_RESERVE  0x02

/* LRU keys evicted for one new key, at most, when the zone is full */
#define NGX_HTTP_LLM_LIMIT_EVICT    16

#define NGX_HTTP_LLM_LIMIT_REDIS_ALLOW  0
#define NGX_HTTP_LLM_LIMIT_REDIS_DENY   1
#define NGX_HTTP_LLM_LIMIT_REDIS_LOCAL  2

/* the longest zone name of a zone in Redis, and its keys' length */
#define NGX_HTTP_LLM_LIMIT_REDIS_NAME   128
#define NGX_HTTP_LLM_LIMIT_RKEY_LEN                                          \
    (sizeof("llm:::output_tokens::") - 1 + NGX_HTTP_LLM_LIMIT_REDIS_NAME      \
     + 40 + NGX_TIME_T_LEN)

/*
 * 2^53: amounts above it would lose their units in Lua's numbers (spend
 * is kept in Redis in nano-USD: 9,007,199 USD)
 */
#define NGX_HTTP_LLM_LIMIT_REDIS_MAX    9007199254740992ULL


typedef struct {
    ngx_rbtree_t                   rbtree;
    ngx_rbtree_node_t              sentinel;
    ngx_queue_t                    queue;         /* most recent first */
    ngx_uint_t                     kind;

    ngx_atomic_t                   checked;
    ngx_atomic_t                   passed;
    ngx_atomic_t                   rejected;
    ngx_atomic_t                   dry_run;
    ngx_atomic_t                   evicted;
    ngx_atomic_t                   unavailable;   /* Redis did not answer */
} ngx_http_llm_limit_shctx_t;


typedef struct {
    u_char                         color;
    u_char                         dummy;
    u_short                        len;
    ngx_queue_t                    queue;
    time_t                         window;        /* its start */
    uint64_t                       used;
    u_char                         data[1];
} ngx_http_llm_limit_node_t;


typedef struct {
    ngx_http_llm_limit_shctx_t    *sh;
    ngx_slab_pool_t               *shpool;
    ngx_shm_zone_t                *shm_zone;
    ngx_http_complex_value_t       key;
    ngx_uint_t                     kind;
    uint64_t                       limit;         /* pico-USD for spend */
    time_t                         period;        /* 0: calendar month */
    ngx_str_t                      rate;          /* "100000/1m" */
    ngx_http_llm_redis_t          *redis;         /* NULL: this instance */
    ngx_uint_t                     redis_fail;
    ngx_str_t                      redis_limit;   /* in Redis's units */
} ngx_http_llm_limit_ctx_t;


/* a limit tested for a request; on its pool while Redis is asked */
typedef struct {
    ngx_shm_zone_t                *shm_zone;
    ngx_http_llm_provider_t       *provider;      /* NULL: the location's */
    ngx_http_llm_provider_t       *priced;        /* prices the estimate */
    ngx_uint_t                     mode;          /* NGX_HTTP_LLM_LIMIT_* */
    ngx_uint_t                     dry_run;
    ngx_str_t                      key;
    uint32_t                       hash;
    time_t                         now;
    time_t                         window;        /* its start */
    time_t                         end;
    uint64_t                       estimate;
    ngx_str_t                      rkey;          /* in Redis */
    ngx_http_request_t            *request;
    ngx_http_llm_redis_cmd_t      *cmd;           /* its reply is awaited */
} ngx_http_llm_limit_call_t;


/* the longest key whose count is seen from Redis's replies */
#define NGX_HTTP_LLM_LIMIT_SEEN_KEY     256


/* a reply that updates this instance's view of a key in Redis */
typedef struct {
    ngx_queue_t                    queue;
    ngx_queue_t                   *free;
    ngx_shm_zone_t                *shm_zone;
    uint32_t                       hash;
    time_t                         window;
    int64_t                        amount;        /* sent, in Redis units */
    ngx_str_t                      key;
    u_char                         data[NGX_HTTP_LLM_LIMIT_SEEN_KEY];
} ngx_http_llm_limit_seen_t;


/* the location limits of a request, while Redis is asked */
typedef struct {
    ngx_uint_t                     pending;       /* replies awaited */
    ngx_shm_zone_t                *denied;        /* unasked, redis_fail=deny */
    unsigned                       applied:1;
    unsigned                       dry:1;
    unsigned                       refused:1;
    unsigned                       unavailable:1;
} ngx_http_llm_limit_wait_t;


/* a zone used by name, checked when the configuration is read */
typedef struct {
    ngx_shm_zone_t                *shm_zone;
    u_char                        *file;
    ngx_uint_t                     line;
} ngx_http_llm_limit_ref_t;


static ngx_int_t ngx_http_llm_limit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_llm_limit_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_int_t ngx_http_llm_limit_ref(ngx_conf_t *cf,
    ngx_shm_zone_t *shm_zone);
static time_t ngx_http_llm_limit_window(ngx_http_llm_limit_ctx_t *lctx,
    time_t now, time_t *end);
static void ngx_http_llm_limit_free(ngx_http_llm_limit_ctx_t *lctx,
    ngx_http_llm_limit_node_t *ln);
static ngx_http_llm_limit_node_t *ngx_http_llm_limit_lookup(
    ngx_http_llm_limit_ctx_t *lctx, uint32_t hash, ngx_str_t *key,
    ngx_uint_t create, time_t window);
static ngx_int_t ngx_http_llm_limit_prepare(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_limit_call_t *call);
static ngx_int_t ngx_http_llm_limit_room(ngx_http_llm_limit_ctx_t *lctx,
    ngx_http_llm_limit_call_t *call, uint64_t used);
static ngx_int_t ngx_http_llm_limit_test(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_shm_zone_t *shm_zone,
    ngx_http_llm_provider_t *p, ngx_http_llm_provider_t *priced,
    ngx_uint_t mode, ngx_uint_t dry_run);
static ngx_int_t ngx_http_llm_limit_local(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_limit_call_t *call);
static ngx_int_t ngx_http_llm_limit_decide(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_limit_call_t *call, uint64_t used,
    ngx_int_t rc);
static void ngx_http_llm_limit_tested(ngx_http_llm_limit_wait_t *wait,
    ngx_int_t rc);
static ngx_int_t ngx_http_llm_limit_end(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static uint64_t ngx_http_llm_limit_estimate(ngx_http_llm_ctx_t *ctx,
    ngx_uint_t kind, ngx_http_llm_provider_t *p);
static uint64_t ngx_http_llm_limit_real(ngx_http_llm_ctx_t *ctx,
    ngx_uint_t kind, ngx_uint_t answered);
static void ngx_http_llm_limit_apply(ngx_http_llm_limit_ctx_t *lctx,
    uint32_t hash, ngx_str_t *key, time_t window, uint64_t reserved,
    uint64_t real);
static void ngx_http_llm_limit_give_back(ngx_http_llm_ctx_t *ctx,
    ngx_uint_t from);
static ngx_int_t ngx_http_llm_limit_header(ngx_http_request_t *r,
    ngx_str_t *name, u_char *value, size_t vlen);
static void ngx_http_llm_limit_hide(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static u_char *ngx_http_llm_limit_duration(u_char *p, time_t sec);
static ngx_int_t ngx_http_llm_limit_redis_check(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_shm_zone_t *shm_zone,
    ngx_http_llm_provider_t *priced, ngx_uint_t dry_run);
static ngx_int_t ngx_http_llm_limit_redis_prepare(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_limit_call_t *call);
static u_char *ngx_http_llm_limit_redis_key(u_char *buf,
    ngx_shm_zone_t *shm_zone, ngx_str_t *key, time_t window);
static ngx_http_llm_redis_cmd_t *ngx_http_llm_limit_redis_send(
    ngx_http_llm_limit_ctx_t *lctx, ngx_str_t *rkey, int64_t amount,
    time_t end, u_char mode, ngx_http_llm_redis_handler_pt handler,
    void *data);
static uint64_t ngx_http_llm_limit_units(ngx_http_llm_limit_ctx_t *lctx,
    uint64_t v);
static ngx_int_t ngx_http_llm_limit_redis_reply(
    ngx_http_llm_limit_ctx_t *lctx, llm_resp_reply_t *reply, uint64_t *used);
static void ngx_http_llm_limit_redis_checked(void *data,
    llm_resp_reply_t *reply);
static void ngx_http_llm_limit_redis_failed(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_limit_call_t *call);
static ngx_int_t ngx_http_llm_limit_unavailable(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_shm_zone_t *shm_zone);
static void ngx_http_llm_limit_mirror(ngx_http_llm_limit_ctx_t *lctx,
    uint32_t hash, ngx_str_t *key, time_t window, uint64_t used);
static ngx_int_t ngx_http_llm_limit_redis_rkey(ngx_http_request_t *r,
    ngx_http_llm_limit_call_t *call);
static ngx_int_t ngx_http_llm_limit_redis_reserve(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_limit_call_t *call);
static void ngx_http_llm_limit_redis_update(ngx_shm_zone_t *shm_zone,
    ngx_str_t *rkey, int64_t amount, time_t end, u_char mode, uint32_t hash,
    ngx_str_t *key, time_t window);
static ngx_http_llm_limit_seen_t *ngx_http_llm_limit_seen(
    ngx_shm_zone_t *shm_zone, uint32_t hash, ngx_str_t *key, time_t window,
    int64_t amount);
static void ngx_http_llm_limit_redis_seen(void *data,
    llm_resp_reply_t *reply);
static void ngx_http_llm_limit_redis_settle(ngx_http_llm_limit_res_t *res,
    uint64_t real);


/* the x-ratelimit-* headers of a kind, as OpenAI names them */
typedef struct {
    ngx_str_t                      limit;
    ngx_str_t                      remaining;
    ngx_str_t                      reset;         /* empty: none */
    ngx_uint_t                     info;          /* NGX_HTTP_LLM_INFO_* */
    ngx_uint_t                     usd;           /* pico-USD, as USD */
} ngx_http_llm_limit_hdr_t;


static ngx_str_t  ngx_http_llm_limit_kinds[] = {
    ngx_string("requests"),
    ngx_string("tokens"),
    ngx_string("input_tokens"),
    ngx_string("output_tokens"),
    ngx_string("spend")
};


static const char  *ngx_http_llm_limit_codes[] = {
    "requests_limit_exceeded",
    "tokens_limit_exceeded",
    "input_tokens_limit_exceeded",
    "output_tokens_limit_exceeded",
    "spend_limit_exceeded"
};


static ngx_http_llm_limit_hdr_t  ngx_http_llm_limit_hdrs[] = {
    { ngx_string("x-ratelimit-limit-requests"),
      ngx_string("x-ratelimit-remaining-requests"),
      ngx_string("x-ratelimit-reset-requests"),
      NGX_HTTP_LLM_INFO_REQUESTS, 0 },

    { ngx_string("x-ratelimit-limit-tokens"),
      ngx_string("x-ratelimit-remaining-tokens"),
      ngx_string("x-ratelimit-reset-tokens"),
      NGX_HTTP_LLM_INFO_TOKENS, 0 },

    { ngx_string("x-ratelimit-limit-spend"),
      ngx_string("x-ratelimit-remaining-spend"),
      ngx_null_string,
      NGX_HTTP_LLM_INFO_SPEND, 1 }
};


/*
 * The check and the reservation in Redis, atomic there: KEYS[1] the key
 * of a window, ARGV the amount, the limit, the key's expiry (Unix time)
 * and the mode: '0' reserves when there is room, '1' reserves anyway (dry
 * run, a provider's reservation), '2' adds the amount (a settlement; it
 * may be negative, and the count stays at 0 or above).  The reply is
 * {1 if there was room, the count before}.
 */

static ngx_str_t  ngx_http_llm_limit_script = ngx_string(
    "local used = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "local n = tonumber(ARGV[1])\n"
    "if ARGV[4] == '2' then\n"
    "  local v = redis.call('INCRBY', KEYS[1], ARGV[1])\n"
    "  if v < 0 then redis.call('SET', KEYS[1], '0') end\n"
    "  redis.call('EXPIREAT', KEYS[1], ARGV[3])\n"
    "  return {1, used}\n"
    "end\n"
    "local room = 0\n"
    "if (n > 0 and used + n <= tonumber(ARGV[2]))\n"
    "   or (n == 0 and used < tonumber(ARGV[2])) then room = 1 end\n"
    "if n > 0 and (room == 1 or ARGV[4] == '1') then\n"
    "  redis.call('INCRBY', KEYS[1], ARGV[1])\n"
    "  redis.call('EXPIREAT', KEYS[1], ARGV[3])\n"
    "end\n"
    "return {room, used}\n");


static ngx_uint_t  ngx_http_llm_limit_info_index[] = {
    NGX_HTTP_LLM_INFO_REQUESTS,
    NGX_HTTP_LLM_INFO_TOKENS,
    NGX_HTTP_LLM_INFO_TOKENS,
    NGX_HTTP_LLM_INFO_TOKENS,
    NGX_HTTP_LLM_INFO_SPEND
};


/* llm_limit_zone key zone=name:size KIND=N/PERIOD */

char *
ngx_http_llm_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_main_conf_t  *lmcf = conf;

    u_char                            *p;
    off_t                              n;
    ssize_t                            size;
    u_char                            *o;
    ngx_str_t                         *value, name, s, period, pw, owner;
    ngx_int_t                          t;
    ngx_uint_t                         i, k, kind, fail;
    ngx_msec_t                         timeout;
    ngx_shm_zone_t                    *shm_zone, **zp;
    unsigned long long                 micro;
    ngx_http_llm_limit_ctx_t          *lctx;
    ngx_http_llm_redis_conf_t          rcf;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    lctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_limit_ctx_t));
    if (lctx == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = &lctx->key;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    size = 0;
    name.len = 0;
    kind = (ngx_uint_t) -1;
    ngx_memzero(&rcf, sizeof(ngx_http_llm_redis_conf_t));
    rcf.ssl = NGX_CONF_UNSET;
    pw.len = 0;
    timeout = NGX_CONF_UNSET_MSEC;
    fail = NGX_CONF_UNSET_UINT;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "redis=", 6) == 0) {

            rcf.addr.data = value[i].data + 6;
            rcf.addr.len = value[i].len - 6;

            if (rcf.addr.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid redis \"%V\": host:port",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "redis_timeout=", 14) == 0) {

            s.data = value[i].data + 14;
            s.len = value[i].len - 14;

            timeout = ngx_parse_time(&s, 0);

            if (timeout == (ngx_msec_t) NGX_ERROR || timeout == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid redis_timeout \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "redis_password=", 15) == 0) {
            pw.data = value[i].data + 15;
            pw.len = value[i].len - 15;
            continue;
        }

        if (ngx_strncmp(value[i].data, "redis_ssl=", 10) == 0) {

            if (ngx_strcmp(value[i].data + 10, "on") == 0) {
                rcf.ssl = 1;

            } else if (ngx_strcmp(value[i].data + 10, "off") == 0) {
                rcf.ssl = 0;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid redis_ssl \"%V\": \"on\" or "
                                   "\"off\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "redis_ssl_name=", 15) == 0) {
            rcf.ssl_name.data = value[i].data + 15;
            rcf.ssl_name.len = value[i].len - 15;

            if (rcf.ssl_name.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid redis_ssl_name \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "redis_ssl_trusted_certificate=", 30)
            == 0)
        {
            rcf.ssl_trusted.data = value[i].data + 30;
            rcf.ssl_trusted.len = value[i].len - 30;

            if (rcf.ssl_trusted.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid redis_ssl_trusted_certificate "
                                   "\"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "redis_fail=", 11) == 0) {

            if (ngx_strcmp(value[i].data + 11, "allow") == 0) {
                fail = NGX_HTTP_LLM_LIMIT_REDIS_ALLOW;

            } else if (ngx_strcmp(value[i].data + 11, "deny") == 0) {
                fail = NGX_HTTP_LLM_LIMIT_REDIS_DENY;

            } else if (ngx_strcmp(value[i].data + 11, "local") == 0) {
                fail = NGX_HTTP_LLM_LIMIT_REDIS_LOCAL;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid redis_fail \"%V\": \"allow\", "
                                   "\"deny\" or \"local\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            name.data = value[i].data + 5;

            p = (u_char *) ngx_strchr(name.data, ':');

            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.len = p - name.data;

            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zone \"%V\" is too small", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        for (k = 0; k < sizeof(ngx_http_llm_limit_kinds) / sizeof(ngx_str_t);
             k++)
        {
            if (value[i].len > ngx_http_llm_limit_kinds[k].len
                && value[i].data[ngx_http_llm_limit_kinds[k].len] == '='
                && ngx_strncmp(value[i].data, ngx_http_llm_limit_kinds[k].data,
                               ngx_http_llm_limit_kinds[k].len)
                   == 0)
            {
                break;
            }
        }

        if (k == sizeof(ngx_http_llm_limit_kinds) / sizeof(ngx_str_t)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (kind != (ngx_uint_t) -1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "llm_limit_zone takes exactly one of "
                               "requests=, tokens=, input_tokens=, "
                               "output_tokens= or spend=, not \"%V\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        kind = k;

        s.data = value[i].data + ngx_http_llm_limit_kinds[k].len + 1;
        s.len = value[i].data + value[i].len - s.data;

        lctx->rate = s;

        p = ngx_strlchr(s.data, s.data + s.len, '/');

        if (p == NULL || p == s.data || p == s.data + s.len - 1) {
            goto invalid;
        }

        period.data = p + 1;
        period.len = s.data + s.len - period.data;
        s.len = p - s.data;

        if (kind == NGX_HTTP_LLM_LIMIT_SPEND) {
            if (llm_price_parse((const char *) s.data, s.len, &micro)
                != LLM_OK
                || micro == 0
                || micro > 18000000000000ULL)
            {
                goto invalid;
            }

            lctx->limit = (uint64_t) micro * 1000000;

        } else {
            n = ngx_atoof(s.data, s.len);

            if (n <= 0) {
                goto invalid;
            }

            lctx->limit = (uint64_t) n;
        }

        if (period.len == 5 && ngx_strncmp(period.data, "month", 5) == 0) {
            lctx->period = 0;
            continue;
        }

        if (period.len == 1) {

            /* "m" alone: one minute */

            p = ngx_pnalloc(cf->pool, 2);
            if (p == NULL) {
                return NGX_CONF_ERROR;
            }

            p[0] = '1';
            p[1] = period.data[0];

            period.data = p;
            period.len = 2;
        }

        t = ngx_parse_time(&period, 1);

        if (t == NGX_ERROR || t < 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid period in \"%V\": an NGINX time "
                               "(10s, 1m, 1h, 1d) or \"month\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        lctx->period = (time_t) t;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (kind == (ngx_uint_t) -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have one of requests=, tokens=, "
                           "input_tokens=, output_tokens= or spend=",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    lctx->kind = kind;

    if (rcf.addr.len == 0) {
        if (timeout != NGX_CONF_UNSET_MSEC || fail != NGX_CONF_UNSET_UINT
            || pw.len || rcf.ssl != NGX_CONF_UNSET || rcf.ssl_name.len
            || rcf.ssl_trusted.len)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the redis_* parameters of \"%V\" need "
                               "redis=", &cmd->name);
            return NGX_CONF_ERROR;
        }

    } else {
        if (name.len > NGX_HTTP_LLM_LIMIT_REDIS_NAME) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the name of a zone kept in Redis is at "
                               "most %d bytes long",
                               NGX_HTTP_LLM_LIMIT_REDIS_NAME);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_llm_limit_units(lctx, lctx->limit)
            >= NGX_HTTP_LLM_LIMIT_REDIS_MAX)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the limit of a zone kept in Redis is below "
                               "2^53 (9,007,199 USD for spend)");
            return NGX_CONF_ERROR;
        }

        if (pw.len) {
            o = ngx_pnalloc(cf->pool, sizeof("llm_limit_zone \"\"") - 1
                                      + name.len);
            if (o == NULL) {
                return NGX_CONF_ERROR;
            }

            owner.data = o;
            owner.len = ngx_sprintf(o, "llm_limit_zone \"%V\"", &name) - o;

            if (ngx_http_llm_secret(cf, &pw, &owner, "redis_password",
                                    &rcf.password)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }
        }

        rcf.timeout = (timeout == NGX_CONF_UNSET_MSEC) ? 100 : timeout;

        if (rcf.ssl == NGX_CONF_UNSET) {
            rcf.ssl = 0;
        }

        if ((rcf.ssl_name.len || rcf.ssl_trusted.len) && !rcf.ssl) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "redis_ssl_name= and "
                               "redis_ssl_trusted_certificate= need "
                               "redis_ssl=on");
            return NGX_CONF_ERROR;
        }

        if (rcf.ssl_trusted.len == 0) {
            ngx_str_set(&rcf.ssl_trusted,
                        "/etc/ssl/certs/ca-certificates.crt");
        }

        lctx->redis = ngx_http_llm_redis_add(cf, &rcf,
                                             &ngx_http_llm_limit_script);
        if (lctx->redis == NULL) {
            return NGX_CONF_ERROR;
        }

        lctx->redis_fail = (fail == NGX_CONF_UNSET_UINT)
                           ? NGX_HTTP_LLM_LIMIT_REDIS_ALLOW : fail;

        /* the limit as the script gets it, written once */

        o = ngx_pnalloc(cf->pool, NGX_INT64_LEN);
        if (o == NULL) {
            return NGX_CONF_ERROR;
        }

        lctx->redis_limit.data = o;
        lctx->redis_limit.len = ngx_sprintf(o, "%uL",
                                            ngx_http_llm_limit_units(
                                                lctx, lctx->limit))
                                - o;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_llm_router_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    lctx->shm_zone = shm_zone;

    shm_zone->init = ngx_http_llm_limit_init_zone;
    shm_zone->data = lctx;

    zp = ngx_array_push(&lmcf->limit_zones);
    if (zp == NULL) {
        return NGX_CONF_ERROR;
    }

    *zp = shm_zone;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid limit \"%V\": a number (USD for spend) "
                       "and a period, as \"100000/1m\"", &value[i]);
    return NGX_CONF_ERROR;
}


/* llm_limit zone=name [dry_run] */

char *
ngx_http_llm_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_loc_conf_t  *lcf = conf;

    ngx_str_t             *value, s;
    ngx_uint_t             i, dry_run;
    ngx_shm_zone_t        *shm_zone;
    ngx_http_llm_limit_t  *limit, *limits;

    value = cf->args->elts;

    shm_zone = NULL;
    dry_run = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            s.len = value[i].len - 5;
            s.data = value[i].data + 5;

            if (s.len == 0) {
                goto invalid;
            }

            shm_zone = ngx_shared_memory_add(cf, &s, 0,
                                             &ngx_http_llm_router_module);
            if (shm_zone == NULL) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "dry_run") == 0) {
            dry_run = 1;
            continue;
        }

    invalid:

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (shm_zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (lcf->limits == NULL) {
        lcf->limits = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_http_llm_limit_t));
        if (lcf->limits == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    limits = lcf->limits->elts;

    for (i = 0; i < lcf->limits->nelts; i++) {
        if (shm_zone == limits[i].shm_zone) {
            return "is duplicate";
        }
    }

    limit = ngx_array_push(lcf->limits);
    if (limit == NULL) {
        return NGX_CONF_ERROR;
    }

    limit->shm_zone = shm_zone;
    limit->dry_run = dry_run;

    if (ngx_http_llm_limit_ref(cf, shm_zone) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* "limit name;" in an llm_provider block */

char *
ngx_http_llm_provider_limit(ngx_conf_t *cf, ngx_http_llm_provider_t *p)
{
    ngx_str_t        *value;
    ngx_uint_t        i;
    ngx_shm_zone_t   *shm_zone, **zp;

    value = cf->args->elts;

    if (cf->args->nelts != 2 || value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"limit\" of llm_provider \"%V\" takes the name "
                           "of an llm_limit_zone", &p->name);
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &value[1], 0,
                                     &ngx_http_llm_router_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (p->limits == NULL) {
        p->limits = ngx_array_create(cf->pool, 1, sizeof(ngx_shm_zone_t *));
        if (p->limits == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    zp = p->limits->elts;

    for (i = 0; i < p->limits->nelts; i++) {
        if (zp[i] == shm_zone) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"limit %V\" is duplicate in llm_provider "
                               "\"%V\"", &value[1], &p->name);
            return NGX_CONF_ERROR;
        }
    }

    zp = ngx_array_push(p->limits);
    if (zp == NULL) {
        return NGX_CONF_ERROR;
    }

    *zp = shm_zone;

    if (ngx_http_llm_limit_ref(cf, shm_zone) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llm_limit_ref(ngx_conf_t *cf, ngx_shm_zone_t *shm_zone)
{
    ngx_http_llm_limit_ref_t  *ref;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_router_module);

    if (lmcf->limit_refs.elts == NULL
        && ngx_array_init(&lmcf->limit_refs, cf->pool, 4,
                          sizeof(ngx_http_llm_limit_ref_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ref = ngx_array_push(&lmcf->limit_refs);
    if (ref == NULL) {
        return NGX_ERROR;
    }

    ref->shm_zone = shm_zone;
    ref->file = cf->conf_file->file.name.data;
    ref->line = cf->conf_file->line;

    return NGX_OK;
}


/* every zone used by name is an llm_limit_zone */

ngx_int_t
ngx_http_llm_limit_init_conf(ngx_conf_t *cf, ngx_http_llm_main_conf_t *lmcf)
{
    ngx_uint_t                 i, j;
    ngx_shm_zone_t           **zones;
    ngx_http_llm_limit_ref_t  *ref;

    ref = lmcf->limit_refs.elts;
    zones = lmcf->limit_zones.elts;

    for (i = 0; i < lmcf->limit_refs.nelts; i++) {

        for (j = 0; j < lmcf->limit_zones.nelts; j++) {
            if (zones[j] == ref[i].shm_zone) {
                break;
            }
        }

        if (j == lmcf->limit_zones.nelts) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown llm_limit_zone \"%V\" in %s:%ui",
                          &ref[i].shm_zone->shm.name, ref[i].file,
                          ref[i].line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * A zone kept across a reload keeps its keys and counters; when its kind
 * changed, the keys counted the old kind and are dropped.
 */

static ngx_int_t
ngx_http_llm_limit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llm_limit_ctx_t  *octx = data;

    size_t                      len;
    ngx_queue_t                *q;
    ngx_http_llm_limit_ctx_t   *lctx;
    ngx_http_llm_limit_node_t  *ln;

    lctx = shm_zone->data;

    if (octx) {
        lctx->sh = octx->sh;
        lctx->shpool = octx->shpool;

        if (lctx->sh->kind == lctx->kind) {
            return NGX_OK;
        }

        ngx_shmtx_lock(&lctx->shpool->mutex);

        while (!ngx_queue_empty(&lctx->sh->queue)) {
            q = ngx_queue_last(&lctx->sh->queue);
            ln = ngx_queue_data(q, ngx_http_llm_limit_node_t, queue);

            ngx_http_llm_limit_free(lctx, ln);
        }

        lctx->sh->kind = lctx->kind;

        ngx_shmtx_unlock(&lctx->shpool->mutex);

        ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                      "llm_limit_zone \"%V\" counts %V now: its keys are "
                      "dropped", &shm_zone->shm.name,
                      &ngx_http_llm_limit_kinds[lctx->kind]);

        return NGX_OK;
    }

    lctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        lctx->sh = lctx->shpool->data;
        return NGX_OK;
    }

    lctx->sh = ngx_slab_alloc(lctx->shpool,
                              sizeof(ngx_http_llm_limit_shctx_t));
    if (lctx->sh == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(lctx->sh, sizeof(ngx_http_llm_limit_shctx_t));

    lctx->shpool->data = lctx->sh;

    ngx_rbtree_init(&lctx->sh->rbtree, &lctx->sh->sentinel,
                    ngx_http_llm_limit_rbtree_insert_value);

    ngx_queue_init(&lctx->sh->queue);

    lctx->sh->kind = lctx->kind;

    len = sizeof(" in llm_limit_zone \"\"") + shm_zone->shm.name.len;

    lctx->shpool->log_ctx = ngx_slab_alloc(lctx->shpool, len);
    if (lctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(lctx->shpool->log_ctx, " in llm_limit_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone evicts keys: no alert for it */

    lctx->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_http_llm_limit_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t          **p;
    ngx_http_llm_limit_node_t   *ln, *lnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else { /* node->key == temp->key */

            ln = (ngx_http_llm_limit_node_t *) &node->color;
            lnt = (ngx_http_llm_limit_node_t *) &temp->color;

            p = (ngx_memn2cmp(ln->data, lnt->data, ln->len, lnt->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* the window "now" is in: its start, and its end in *end */

static time_t
ngx_http_llm_limit_window(ngx_http_llm_limit_ctx_t *lctx, time_t now,
    time_t *end)
{
    time_t      start;
    ngx_tm_t    tm;
    ngx_uint_t  days, year, mon;

    static ngx_uint_t  mdays[] = { 31, 28, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31 };

    if (lctx->period) {
        start = now - now % lctx->period;
        *end = start + lctx->period;
        return start;
    }

    /* the calendar month, UTC */

    ngx_gmtime(now, &tm);

    year = (ngx_uint_t) tm.ngx_tm_year;
    mon = (ngx_uint_t) tm.ngx_tm_mon;             /* 1..12 */

    start = now - ((tm.ngx_tm_mday - 1) * 86400 + tm.ngx_tm_hour * 3600
                   + tm.ngx_tm_min * 60 + tm.ngx_tm_sec);

    days = mdays[mon - 1];

    if (mon == 2
        && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
    {
        days = 29;
    }

    *end = start + (time_t) days * 86400;

    return start;
}


/* a key out of the tree and the queue, under the zone's lock */

static void
ngx_http_llm_limit_free(ngx_http_llm_limit_ctx_t *lctx,
    ngx_http_llm_limit_node_t *ln)
{
    ngx_rbtree_node_t  *node;

    ngx_queue_remove(&ln->queue);

    node = (ngx_rbtree_node_t *)
               ((u_char *) ln - offsetof(ngx_rbtree_node_t, color));

    ngx_rbtree_delete(&lctx->sh->rbtree, node);
    ngx_slab_free_locked(lctx->shpool, node);
}


/*
 * The key's node, first in the queue; a node of an older window starts
 * the new one at zero.  With "create", a missing key is added: keys of
 * ended windows go first, then, when the zone is full, the least
 * recently used ones.  Called with the zone locked.
 */

static ngx_http_llm_limit_node_t *
ngx_http_llm_limit_lookup(ngx_http_llm_limit_ctx_t *lctx, uint32_t hash,
    ngx_str_t *key, ngx_uint_t create, time_t window)
{
    size_t                      size;
    ngx_int_t                   rc;
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_rbtree_node_t          *node, *sentinel;
    ngx_http_llm_limit_node_t  *ln;

    node = lctx->sh->rbtree.root;
    sentinel = lctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key */

        ln = (ngx_http_llm_limit_node_t *) &node->color;

        rc = ngx_memn2cmp(key->data, ln->data, key->len, (size_t) ln->len);

        if (rc == 0) {
            ngx_queue_remove(&ln->queue);
            ngx_queue_insert_head(&lctx->sh->queue, &ln->queue);

            if (ln->window != window) {
                ln->window = window;
                ln->used = 0;
            }

            return ln;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    if (!create) {
        return NULL;
    }

    /* up to two keys of ended windows go */

    for (i = 0; i < 2 && !ngx_queue_empty(&lctx->sh->queue); i++) {
        q = ngx_queue_last(&lctx->sh->queue);
        ln = ngx_queue_data(q, ngx_http_llm_limit_node_t, queue);

        if (ln->window >= window) {
            break;
        }

        ngx_http_llm_limit_free(lctx, ln);
    }

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_llm_limit_node_t, data)
           + key->len;

    for (i = 0; /* void */ ; i++) {

        node = ngx_slab_alloc_locked(lctx->shpool, size);

        if (node) {
            break;
        }

        if (i == NGX_HTTP_LLM_LIMIT_EVICT
            || ngx_queue_empty(&lctx->sh->queue))
        {
            return NULL;
        }

        /* the zone is full: the least recently used key goes */

        q = ngx_queue_last(&lctx->sh->queue);
        ln = ngx_queue_data(q, ngx_http_llm_limit_node_t, queue);

        ngx_http_llm_limit_free(lctx, ln);

        (void) ngx_atomic_fetch_add(&lctx->sh->evicted, 1);
    }

    node->key = hash;

    ln = (ngx_http_llm_limit_node_t *) &node->color;

    ln->len = (u_short) key->len;
    ln->window = window;
    ln->used = 0;
    ngx_memcpy(ln->data, key->data, key->len);

    ngx_rbtree_insert(&lctx->sh->rbtree, node);
    ngx_queue_insert_head(&lctx->sh->queue, &ln->queue);

    return ln;
}


/* what a request is expected to use of a limit's kind */

static uint64_t
ngx_http_llm_limit_estimate(ngx_http_llm_ctx_t *ctx, ngx_uint_t kind,
    ngx_http_llm_provider_t *p)
{
    uint64_t  tokens;

    tokens = ctx->prompt_tokens > 0 ? (uint64_t) ctx->prompt_tokens : 0;

    switch (kind) {

    case NGX_HTTP_LLM_LIMIT_REQUESTS:
        return 1;

    case NGX_HTTP_LLM_LIMIT_TOKENS:
    case NGX_HTTP_LLM_LIMIT_INPUT:
        return tokens;

    case NGX_HTTP_LLM_LIMIT_OUTPUT:
        return 0;

    default: /* NGX_HTTP_LLM_LIMIT_SPEND */

        /* micro-USD per million tokens are pico-USD per token */

        return (p && p->priced) ? tokens * p->price.input : 0;
    }
}


/* what a request used of a limit's kind, when it is over */

static uint64_t
ngx_http_llm_limit_real(ngx_http_llm_ctx_t *ctx, ngx_uint_t kind,
    ngx_uint_t answered)
{
    uint64_t      in, out;
    llm_usage_t  *u;

    if (kind == NGX_HTTP_LLM_LIMIT_REQUESTS) {
        return answered ? 1 : 0;
    }

    if (!answered || !ctx->usage_known) {
        return 0;
    }

    u = &ctx->usage;

    in = u->prompt_tokens > 0 ? (uint64_t) u->prompt_tokens : 0;
    out = u->completion_tokens > 0 ? (uint64_t) u->completion_tokens : 0;

    switch (kind) {

    case NGX_HTTP_LLM_LIMIT_TOKENS:
        return in + out;

    case NGX_HTTP_LLM_LIMIT_INPUT:
        return in;

    case NGX_HTTP_LLM_LIMIT_OUTPUT:
        return out;

    default: /* NGX_HTTP_LLM_LIMIT_SPEND */
        return ctx->priced ? ctx->cost : 0;
    }
}


/*
 * A limit's key, estimate and window for a request: NGX_DECLINED when
 * the request is not limited by it (an empty key).
 */

static ngx_int_t
ngx_http_llm_limit_prepare(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_limit_call_t *call)
{
    ngx_int_t                  rc;
    ngx_http_llm_limit_ctx_t  *lctx;

    lctx = call->shm_zone->data;

    ctx->limit_provider = call->provider;

    rc = ngx_http_complex_value(r, &lctx->key, &call->key);

    ctx->limit_provider = NULL;

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    if (call->key.len == 0) {
        return NGX_DECLINED;
    }

    if (call->key.len > 65535) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: the key of llm_limit_zone \"%V\" is longer "
                      "than 65535 bytes: not limited",
                      &call->shm_zone->shm.name);
        return NGX_DECLINED;
    }

    call->estimate = ngx_http_llm_limit_estimate(ctx, lctx->kind,
                                                 call->priced);

    call->hash = ngx_crc32_short(call->key.data, call->key.len);

    call->now = ngx_time();
    call->window = ngx_http_llm_limit_window(lctx, call->now, &call->end);

    return NGX_OK;
}


/* NGX_OK: room; NGX_AGAIN: none, in dry run; NGX_BUSY: none */

static ngx_int_t
ngx_http_llm_limit_room(ngx_http_llm_limit_ctx_t *lctx,
    ngx_http_llm_limit_call_t *call, uint64_t used)
{
    ngx_uint_t  room;

    if (!(call->mode & NGX_HTTP_LLM_LIMIT_COUNT)) {
        return NGX_OK;
    }

    room = call->estimate ? (used + call->estimate <= lctx->limit)
                          : (used < lctx->limit);

    if (room) {
        return NGX_OK;
    }

    return call->dry_run ? NGX_AGAIN : NGX_BUSY;
}


/*
 * One limit's test for a request, in the zone: NGX_OK, room (reserved
 * with "reserve"; NGX_AGAIN: none, but in dry run), NGX_BUSY: no room,
 * NGX_DECLINED: not limited (an empty key, a full zone).  "p" is the
 * provider whose own limit it is (NULL: the location's), "priced" the one
 * whose input price estimates the spend.  A zone kept in Redis is tested
 * here too, on what this instance last knew of it: for a provider's
 * limit.
 */

static ngx_int_t
ngx_http_llm_limit_test(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_shm_zone_t *shm_zone, ngx_http_llm_provider_t *p,
    ngx_http_llm_provider_t *priced, ngx_uint_t mode, ngx_uint_t dry_run)
{
    ngx_int_t                   rc;
    ngx_http_llm_limit_ctx_t   *lctx;
    ngx_http_llm_limit_call_t   call;

    ngx_memzero(&call, sizeof(ngx_http_llm_limit_call_t));

    call.shm_zone = shm_zone;
    call.provider = p;
    call.priced = priced;
    call.mode = mode;
    call.dry_run = dry_run;

    rc = ngx_http_llm_limit_prepare(r, ctx, &call);

    if (rc != NGX_OK) {
        return rc;
    }

    lctx = shm_zone->data;

    rc = ngx_http_llm_limit_local(r, ctx, &call);

    if ((rc == NGX_OK || rc == NGX_AGAIN)
        && (mode & NGX_HTTP_LLM_LIMIT_RESERVE) && lctx->redis)
    {
        /* a provider's limit in Redis: the reservation goes there too */

        if (ngx_http_llm_limit_redis_reserve(r, ctx, &call) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return rc;
}


/* the test and the reservation in the zone, and what they found */

static ngx_int_t
ngx_http_llm_limit_local(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_limit_call_t *call)
{
    uint64_t                    used;
    ngx_int_t                   rc;
    ngx_http_llm_limit_ctx_t   *lctx;
    ngx_http_llm_limit_node_t  *ln;

    lctx = call->shm_zone->data;

    ngx_shmtx_lock(&lctx->shpool->mutex);

    ln = ngx_http_llm_limit_lookup(lctx, call->hash, &call->key, 1,
                                   call->window);

    if (ln == NULL) {
        ngx_shmtx_unlock(&lctx->shpool->mutex);

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm: llm_limit_zone \"%V\" is full: the request is "
                      "not limited by it", &call->shm_zone->shm.name);
        return NGX_DECLINED;
    }

    used = ln->used;

    rc = ngx_http_llm_limit_room(lctx, call, used);

    if (rc != NGX_BUSY && (call->mode & NGX_HTTP_LLM_LIMIT_RESERVE)) {
        ln->used += call->estimate;
    }

    ngx_shmtx_unlock(&lctx->shpool->mutex);

    return ngx_http_llm_limit_decide(r, ctx, call, used, rc);
}


/*
 * What a test found, "used" before the request: the counters, the
 * headers' values, the log, and the reservation to settle.
 */

static ngx_int_t
ngx_http_llm_limit_decide(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_limit_call_t *call, uint64_t used, ngx_int_t rc)
{
    uint64_t                   estimate, remaining;
    ngx_uint_t                 info;
    ngx_http_llm_limit_ctx_t  *lctx;
    ngx_http_llm_limit_res_t  *res;
    ngx_http_llm_loc_conf_t   *lcf;

    lctx = call->shm_zone->data;
    estimate = call->estimate;

    if (call->mode & NGX_HTTP_LLM_LIMIT_COUNT) {
        (void) ngx_atomic_fetch_add(&lctx->sh->checked, 1);

        switch (rc) {

        case NGX_OK:
            (void) ngx_atomic_fetch_add(&lctx->sh->passed, 1);
            break;

        case NGX_AGAIN:
            (void) ngx_atomic_fetch_add(&lctx->sh->dry_run, 1);
            break;

        default: /* NGX_BUSY */
            (void) ngx_atomic_fetch_add(&lctx->sh->rejected, 1);
        }
    }

    remaining = (used + estimate < lctx->limit)
                ? lctx->limit - used - estimate : 0;

    if (rc == NGX_BUSY) {
        remaining = (used < lctx->limit) ? lctx->limit - used : 0;
    }

    info = ngx_http_llm_limit_info_index[lctx->kind];

    if (!ctx->limit_info[info].set && call->provider == NULL) {
        ctx->limit_info[info].set = 1;
        ctx->limit_info[info].limit = lctx->limit;
        ctx->limit_info[info].remaining = remaining;
        ctx->limit_info[info].reset = call->end - call->now;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (rc == NGX_BUSY) {
        ctx->limit_zone = call->shm_zone;

        if (call->provider == NULL) {
            ngx_log_error(lcf->limit_log_level, r->connection->log, 0,
                          "llm: limit \"%V\" refuses the request: "
                          "%uL used + %uL > %uL",
                          &call->shm_zone->shm.name, used, estimate,
                          lctx->limit);
        }

        return NGX_BUSY;
    }

    if (rc == NGX_AGAIN) {
        ngx_log_error(lcf->limit_log_level, r->connection->log, 0,
                      "llm: limit \"%V\" would refuse the request: "
                      "%uL used + %uL > %uL (dry run)",
                      &call->shm_zone->shm.name, used, estimate,
                      lctx->limit);
    }

    if (call->mode & NGX_HTTP_LLM_LIMIT_RESERVE) {
        res = &ctx->limit_res[ctx->nlimit_res++];

        res->shm_zone = call->shm_zone;
        res->provider = call->provider;
        res->key = call->key;
        res->hash = call->hash;
        res->window = call->window;
        res->reserved = estimate;
        res->rkey = call->rkey;
    }

    return rc;
}


/*
 * The location's limits, before the cache is asked and the request is
 * forwarded; the spend is estimated at the input price of the provider
 * the request would go to first.  Limits in shared memory are tested at
 * once; those kept in Redis are sent there together, and the request
 * waits for their replies: NGX_AGAIN.
 */

ngx_int_t
ngx_http_llm_limit_check(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_uint_t                  i, nredis;
    ngx_http_llm_limit_t       *limits;
    ngx_http_llm_limit_ctx_t   *lctx;
    ngx_http_llm_limit_wait_t  *wait;
    ngx_http_llm_provider_t    *first;
    ngx_http_llm_loc_conf_t    *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (lcf->limits == NULL || r != r->main) {
        return NGX_OK;
    }

    ctx->limit_res = ngx_palloc(r->pool, lcf->limits->nelts
                                         * sizeof(ngx_http_llm_limit_res_t));
    if (ctx->limit_res == NULL) {
        return NGX_ERROR;
    }

    wait = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_limit_wait_t));
    if (wait == NULL) {
        return NGX_ERROR;
    }

    ctx->limit_wait = wait;

    first = ngx_http_llm_route_first(r, ctx);

    nredis = 0;
    limits = lcf->limits->elts;

    for (i = 0; i < lcf->limits->nelts; i++) {

        lctx = limits[i].shm_zone->data;

        if (lctx->redis) {
            nredis++;
            continue;
        }

        rc = ngx_http_llm_limit_test(r, ctx, limits[i].shm_zone, NULL, first,
                                     NGX_HTTP_LLM_LIMIT_COUNT
                                     |NGX_HTTP_LLM_LIMIT_RESERVE,
                                     limits[i].dry_run || lcf->limit_dry_run);

        if (rc == NGX_ERROR) {
            ngx_http_llm_limit_give_back(ctx, 0);
            return NGX_ERROR;
        }

        ngx_http_llm_limit_tested(wait, rc);

        if (rc == NGX_BUSY) {
            return ngx_http_llm_limit_end(r, ctx);
        }
    }

    for (i = 0; nredis && i < lcf->limits->nelts; i++) {

        lctx = limits[i].shm_zone->data;

        if (lctx->redis == NULL) {
            continue;
        }

        rc = ngx_http_llm_limit_redis_check(r, ctx, limits[i].shm_zone,
                                            first, limits[i].dry_run
                                                   || lcf->limit_dry_run);

        if (rc == NGX_ERROR) {
            ngx_http_llm_limit_give_back(ctx, 0);
            return NGX_ERROR;
        }
    }

    if (wait->pending) {
        return NGX_AGAIN;
    }

    return ngx_http_llm_limit_end(r, ctx);
}


static void
ngx_http_llm_limit_tested(ngx_http_llm_limit_wait_t *wait, ngx_int_t rc)
{
    switch (rc) {

    case NGX_OK:
        wait->applied = 1;
        break;

    case NGX_AGAIN:
        wait->dry = 1;
        break;

    case NGX_BUSY:
        wait->refused = 1;
        break;

    default: /* NGX_DECLINED */
        break;
    }
}


/*
 * Every location limit answered: NGX_OK, the request goes on, or the
 * status to finalize it with (a refusal, a Redis that could not be asked
 * with redis_fail=deny).
 */

static ngx_int_t
ngx_http_llm_limit_end(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_http_llm_limit_wait_t  *wait;

    wait = ctx->limit_wait;

    if (wait->refused) {
        return ngx_http_llm_limit_refused(r, ctx);
    }

    if (wait->denied) {
        return ngx_http_llm_limit_unavailable(r, ctx, wait->denied);
    }

    if (wait->unavailable) {
        ctx->limit_status = NGX_HTTP_LLM_LIMIT_UNAVAILABLE;

    } else if (wait->dry) {
        ctx->limit_status = NGX_HTTP_LLM_LIMIT_DRY_RUN;

    } else if (wait->applied) {
        ctx->limit_status = NGX_HTTP_LLM_LIMIT_PASSED;
    }

    return NGX_OK;
}


/* a provider's limits while the candidates are chosen: NGX_BUSY, none */

ngx_int_t
ngx_http_llm_limit_provider(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_http_llm_provider_t *p)
{
    ngx_int_t                 rc;
    ngx_uint_t                i;
    ngx_shm_zone_t          **zp;
    ngx_http_llm_loc_conf_t  *lcf;

    if (r != r->main) {
        return NGX_OK;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    zp = p->limits->elts;

    for (i = 0; i < p->limits->nelts; i++) {

        rc = ngx_http_llm_limit_test(r, ctx, zp[i], p, p,
                                     NGX_HTTP_LLM_LIMIT_COUNT,
                                     lcf->limit_dry_run);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_BUSY) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "llm: provider \"%V\" is skipped: its limit "
                          "\"%V\" has no room", &p->name, &zp[i]->shm.name);

            if (p->counters) {
                (void) ngx_atomic_fetch_add(&p->counters->limited, 1);
            }

            ctx->limit_skipped++;

            return NGX_BUSY;
        }

        if (rc == NGX_AGAIN) {
            ctx->limit_status = NGX_HTTP_LLM_LIMIT_DRY_RUN;
        }
    }

    return NGX_OK;
}


/* the first candidate's own limits take the request's estimate */

ngx_int_t
ngx_http_llm_limit_reserve_provider(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_uint_t                 i;
    ngx_shm_zone_t           **zp;
    ngx_http_llm_provider_t   *p;
    ngx_http_llm_limit_res_t  *res;

    p = ctx->candidates[0];

    if (p->limits == NULL || r != r->main) {
        return NGX_OK;
    }

    res = ngx_palloc(r->pool, (ctx->nlimit_res + p->limits->nelts)
                              * sizeof(ngx_http_llm_limit_res_t));
    if (res == NULL) {
        return NGX_ERROR;
    }

    if (ctx->nlimit_res) {
        ngx_memcpy(res, ctx->limit_res,
                   ctx->nlimit_res * sizeof(ngx_http_llm_limit_res_t));
    }

    ctx->limit_res = res;

    zp = p->limits->elts;

    for (i = 0; i < p->limits->nelts; i++) {
        rc = ngx_http_llm_limit_test(r, ctx, zp[i], p, p,
                                     NGX_HTTP_LLM_LIMIT_RESERVE, 1);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK && ctx->limit_status == NGX_HTTP_LLM_LIMIT_NONE) {
            ctx->limit_status = NGX_HTTP_LLM_LIMIT_PASSED;
        }
    }

    return NGX_OK;
}


/* the answer to a request refused by ctx->limit_zone */

ngx_int_t
ngx_http_llm_limit_refused(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                    *p, usd[NGX_OFF_T_LEN + 8];
    time_t                     now, end;
    ngx_http_llm_limit_ctx_t  *lctx;
    ngx_http_llm_loc_conf_t   *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);
    lctx = ctx->limit_zone->data;

    /* Retry-After: the end of the window */

    now = ngx_time();
    (void) ngx_http_llm_limit_window(lctx, now, &end);

    ngx_http_llm_retry_after(ctx, end - now);

    /* a refused request is not counted by the limits that let it pass */

    ngx_http_llm_limit_give_back(ctx, 0);

    ctx->limit_status = NGX_HTTP_LLM_LIMIT_REJECTED;

    if (lctx->kind == NGX_HTTP_LLM_LIMIT_SPEND) {
        p = ngx_http_llm_limit_usd(usd, lctx->limit);
        *p = '\0';

        ngx_http_llm_set_error(r, ctx, lcf->limit_status, "rate_limit_error",
                               ngx_http_llm_limit_codes[lctx->kind],
                               "Limit \"%V\" reached: %s USD per %s; it "
                               "resets in %T s.",
                               &ctx->limit_zone->shm.name, usd,
                               (char *) ngx_strchr(lctx->rate.data, '/') + 1,
                               end - now);

    } else {
        ngx_http_llm_set_error(r, ctx, lcf->limit_status, "rate_limit_error",
                               ngx_http_llm_limit_codes[lctx->kind],
                               "Limit \"%V\" reached: %uL %V per %s; it "
                               "resets in %T s.",
                               &ctx->limit_zone->shm.name, lctx->limit,
                               &ngx_http_llm_limit_kinds[lctx->kind],
                               (char *) ngx_strchr(lctx->rate.data, '/') + 1,
                               end - now);
    }

    return lcf->limit_status;
}


/* reservations from "from" on are given back whole: a refused request */

static void
ngx_http_llm_limit_give_back(ngx_http_llm_ctx_t *ctx, ngx_uint_t from)
{
    ngx_uint_t                 i;
    ngx_http_llm_limit_res_t  *res;

    for (i = from; i < ctx->nlimit_res; i++) {
        res = &ctx->limit_res[i];

        ngx_http_llm_limit_apply(res->shm_zone->data, res->hash, &res->key,
                                 res->window, res->reserved, 0);

        if (res->rkey.len) {
            ngx_http_llm_limit_redis_settle(res, 0);
        }
    }

    ctx->nlimit_res = from;
}


/*
 * The request is over: each reservation takes the real amount instead of
 * the estimate.  The limits of a provider other than the one that
 * answered are given back; those of the one that answered (with r, from
 * ngx_http_llm_stats_done()) get the real amount.
 */

void
ngx_http_llm_limit_settle(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                     rkey[NGX_HTTP_LLM_LIMIT_RKEY_LEN];
    time_t                     now, window, end;
    uint32_t                   hash;
    uint64_t                   real;
    ngx_str_t                  key;
    ngx_uint_t                 i, answered, reserved, hit;
    ngx_shm_zone_t           **zp;
    ngx_http_llm_limit_ctx_t  *lctx;
    ngx_http_llm_limit_res_t  *res, failover;
    ngx_http_llm_provider_t   *p;

    if (ctx->limit_settled
        || ctx->limit_status == NGX_HTTP_LLM_LIMIT_REJECTED)
    {
        return;
    }

    ctx->limit_settled = 1;

    p = ctx->tried.nelts ? ctx->provider : NULL;
    reserved = 0;

    /* an answer from the cache reached no provider: it is not counted */

    hit = (p == NULL && ctx->cache_status == NGX_HTTP_CACHE_HIT);

    for (i = 0; i < ctx->nlimit_res; i++) {
        res = &ctx->limit_res[i];
        lctx = res->shm_zone->data;

        answered = !hit && (res->provider == NULL || res->provider == p);

        if (res->provider && res->provider == p) {
            reserved = 1;
        }

        real = ngx_http_llm_limit_real(ctx, lctx->kind, answered);

        ngx_http_llm_limit_apply(lctx, res->hash, &res->key, res->window,
                                 res->reserved, real);

        if (res->rkey.len) {
            ngx_http_llm_limit_redis_settle(res, real);
        }
    }

    if (r == NULL || p == NULL || p->limits == NULL || reserved) {
        return;
    }

    /* a provider tried after a failover: its limits count what it used */

    zp = p->limits->elts;

    for (i = 0; i < p->limits->nelts; i++) {
        lctx = zp[i]->data;

        ctx->limit_provider = p;

        if (ngx_http_complex_value(r, &lctx->key, &key) != NGX_OK) {
            ctx->limit_provider = NULL;
            return;
        }

        ctx->limit_provider = NULL;

        if (key.len == 0 || key.len > 65535) {
            continue;
        }

        hash = ngx_crc32_short(key.data, key.len);

        now = ngx_time();
        window = ngx_http_llm_limit_window(lctx, now, &end);

        real = ngx_http_llm_limit_real(ctx, lctx->kind, 1);

        ngx_http_llm_limit_apply(lctx, hash, &key, window, 0, real);

        if (lctx->redis == NULL) {
            continue;
        }

        /* in Redis too: a reservation of nothing, settled at once */

        res = &failover;

        res->shm_zone = zp[i];
        res->window = window;
        res->reserved = 0;
        res->rkey.data = rkey;
        res->rkey.len = ngx_http_llm_limit_redis_key(rkey, zp[i], &key,
                                                     window)
                        - rkey;

        ngx_http_llm_limit_redis_settle(res, real);
    }
}


/*
 * The real amount replaces what was reserved in "window"; when that
 * window is over, the real amount goes to the current one.
 */

static void
ngx_http_llm_limit_apply(ngx_http_llm_limit_ctx_t *lctx, uint32_t hash,
    ngx_str_t *key, time_t window, uint64_t reserved, uint64_t real)
{
    time_t                      now, current, end;
    ngx_http_llm_limit_node_t  *ln;

    if (real == reserved && real == 0) {
        return;
    }

    now = ngx_time();
    current = ngx_http_llm_limit_window(lctx, now, &end);

    ngx_shmtx_lock(&lctx->shpool->mutex);

    ln = ngx_http_llm_limit_lookup(lctx, hash, key, real > 0, current);

    if (ln) {
        if (window == current) {
            ln->used = (ln->used + real > reserved)
                       ? ln->used + real - reserved : 0;

        } else {
            ln->used += real;
        }
    }

    ngx_shmtx_unlock(&lctx->shpool->mutex);
}


/* pico-USD as USD with six decimals: "49.999870" */

u_char *
ngx_http_llm_limit_usd(u_char *p, uint64_t pico)
{
    return ngx_sprintf(p, "%uL.%06uL", pico / 1000000000000ULL,
                       (pico % 1000000000000ULL) / 1000000);
}


/* "12s", "6m0s", "1h0m0s": a duration as OpenAI's headers write it */

static u_char *
ngx_http_llm_limit_duration(u_char *p, time_t sec)
{
    if (sec >= 3600) {
        p = ngx_sprintf(p, "%Th", sec / 3600);
        sec %= 3600;
        return ngx_sprintf(p, "%Tm%Ts", sec / 60, sec % 60);
    }

    if (sec >= 60) {
        return ngx_sprintf(p, "%Tm%Ts", sec / 60, sec % 60);
    }

    return ngx_sprintf(p, "%Ts", sec);
}


/*
 * The x-ratelimit-* headers of the first requests, tokens and spend
 * limits of the request, instead of the provider's of the same kind.
 */

ngx_int_t
ngx_http_llm_limit_headers(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char                     *p, buf[64];
    ngx_uint_t                  i;
    ngx_http_llm_limit_hdr_t   *hd;
    ngx_http_llm_limit_info_t  *li;

    if (ctx->limit_status == NGX_HTTP_LLM_LIMIT_NONE) {
        return NGX_OK;
    }

    ngx_http_llm_limit_hide(r, ctx);

    for (i = 0; i < sizeof(ngx_http_llm_limit_hdrs)
                    / sizeof(ngx_http_llm_limit_hdr_t); i++)
    {
        hd = &ngx_http_llm_limit_hdrs[i];
        li = &ctx->limit_info[hd->info];

        if (!li->set) {
            continue;
        }

        p = hd->usd ? ngx_http_llm_limit_usd(buf, li->limit)
                    : ngx_sprintf(buf, "%uL", li->limit);

        if (ngx_http_llm_limit_header(r, &hd->limit, buf, p - buf)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = hd->usd ? ngx_http_llm_limit_usd(buf, li->remaining)
                    : ngx_sprintf(buf, "%uL", li->remaining);

        if (ngx_http_llm_limit_header(r, &hd->remaining, buf, p - buf)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (hd->reset.len == 0) {
            continue;
        }

        p = ngx_http_llm_limit_duration(buf, li->reset);

        if (ngx_http_llm_limit_header(r, &hd->reset, buf, p - buf)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_limit_header(ngx_http_request_t *r, ngx_str_t *name,
    u_char *value, size_t vlen)
{
    ngx_str_t  v;

    v.data = ngx_pnalloc(r->pool, vlen);
    if (v.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(v.data, value, vlen);
    v.len = vlen;

    return ngx_http_llm_add_header(r, name, &v);
}


/* the provider's x-ratelimit-* headers of the kinds the gateway sets */

static void
ngx_http_llm_limit_hide(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    size_t            len;
    ngx_uint_t        i, k;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    static ngx_str_t  suffix[] = {
        ngx_string("-requests"),
        ngx_string("-tokens"),
        ngx_string("-spend")
    };

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        len = sizeof("x-ratelimit-") - 1;

        if (h[i].hash == 0 || h[i].key.len <= len
            || ngx_strncasecmp(h[i].key.data, (u_char *) "x-ratelimit-", len)
               != 0)
        {
            continue;
        }

        for (k = 0; k < NGX_HTTP_LLM_NINFO; k++) {
            if (ctx->limit_info[k].set
                && h[i].key.len > suffix[k].len
                && ngx_strncasecmp(h[i].key.data + h[i].key.len
                                   - suffix[k].len,
                                   suffix[k].data, suffix[k].len)
                   == 0)
            {
                h[i].hash = 0;
            }
        }
    }
}


/* every zone's counters, for llm_status */

ngx_int_t
ngx_http_llm_limit_snapshot(ngx_http_request_t *r, ngx_array_t *out)
{
    ngx_uint_t                  i;
    ngx_shm_zone_t            **zp;
    ngx_http_llm_limit_ctx_t   *lctx;
    ngx_http_llm_limit_stat_t  *st;
    ngx_http_llm_main_conf_t   *lmcf;

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_router_module);

    if (ngx_array_init(out, r->pool, lmcf->limit_zones.nelts + 1,
                       sizeof(ngx_http_llm_limit_stat_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    zp = lmcf->limit_zones.elts;

    for (i = 0; i < lmcf->limit_zones.nelts; i++) {
        lctx = zp[i]->data;

        if (lctx->sh == NULL) {
            continue;
        }

        st = ngx_array_push(out);
        if (st == NULL) {
            return NGX_ERROR;
        }

        st->name = zp[i]->shm.name;
        st->kind = &ngx_http_llm_limit_kinds[lctx->kind];
        st->checked = lctx->sh->checked;
        st->passed = lctx->sh->passed;
        st->rejected = lctx->sh->rejected;
        st->dry_run = lctx->sh->dry_run;
        st->evicted = lctx->sh->evicted;
        st->unavailable = lctx->sh->unavailable;
        st->redis = (lctx->redis != NULL);
    }

    return NGX_OK;
}


/*
 * A location limit kept in Redis: the check and the reservation are one
 * script run there, so that every instance sharing the server counts the
 * same amounts.  The request waits for the reply (ngx_http_llm_limit_
 * redis_checked()); when Redis cannot be asked, redis_fail says whether
 * the request goes on or is refused.
 */

static ngx_int_t
ngx_http_llm_limit_redis_check(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_shm_zone_t *shm_zone,
    ngx_http_llm_provider_t *priced, ngx_uint_t dry_run)
{
    ngx_int_t                   rc;
    ngx_http_llm_limit_ctx_t   *lctx;
    ngx_http_llm_limit_call_t  *call;
    ngx_http_llm_limit_wait_t  *wait;
    ngx_http_llm_redis_cmd_t   *cmd;

    lctx = shm_zone->data;
    wait = ctx->limit_wait;

    call = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_limit_call_t));
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->shm_zone = shm_zone;
    call->priced = priced;
    call->mode = NGX_HTTP_LLM_LIMIT_COUNT|NGX_HTTP_LLM_LIMIT_RESERVE;
    call->dry_run = dry_run;
    call->request = r;

    rc = ngx_http_llm_limit_prepare(r, ctx, call);

    if (rc != NGX_OK) {
        return (rc == NGX_DECLINED) ? NGX_OK : NGX_ERROR;
    }

    if (ngx_http_llm_limit_redis_prepare(r, ctx, call) != NGX_OK) {
        return NGX_ERROR;
    }

    cmd = ngx_http_llm_limit_redis_send(lctx, &call->rkey,
                                        (int64_t) ngx_http_llm_limit_units(
                                            lctx, call->estimate),
                                        call->end, dry_run ? '1' : '0',
                                        ngx_http_llm_limit_redis_checked,
                                        call);

    if (cmd == NULL) {
        ngx_http_llm_limit_redis_failed(r, ctx, call);
        return NGX_OK;
    }

    call->cmd = cmd;
    wait->pending++;

    return NGX_OK;
}


/* the Redis key of the call's window, and the call kept to be cancelled */

static ngx_int_t
ngx_http_llm_limit_redis_prepare(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_limit_call_t *call)
{
    ngx_http_llm_limit_call_t  **cp;

    if (ngx_http_llm_limit_redis_rkey(r, call) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->limit_calls == NULL) {
        ctx->limit_calls = ngx_array_create(r->pool, 2,
                                       sizeof(ngx_http_llm_limit_call_t *));
        if (ctx->limit_calls == NULL) {
            return NGX_ERROR;
        }
    }

    cp = ngx_array_push(ctx->limit_calls);
    if (cp == NULL) {
        return NGX_ERROR;
    }

    *cp = call;

    return NGX_OK;
}


/* the call's Redis key, on the request's pool */

static ngx_int_t
ngx_http_llm_limit_redis_rkey(ngx_http_request_t *r,
    ngx_http_llm_limit_call_t *call)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, NGX_HTTP_LLM_LIMIT_RKEY_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    call->rkey.data = p;
    call->rkey.len = ngx_http_llm_limit_redis_key(p, call->shm_zone,
                                                  &call->key, call->window)
                     - p;

    return NGX_OK;
}


/*
 * "llm:<zone>:<kind>:<SHA-1 of the key>:<window start>": the client's
 * key is not written to Redis.  buf has NGX_HTTP_LLM_LIMIT_RKEY_LEN bytes.
 */

static u_char *
ngx_http_llm_limit_redis_key(u_char *buf, ngx_shm_zone_t *shm_zone,
    ngx_str_t *key, time_t window)
{
    u_char                     hash[20];
    ngx_sha1_t                 sha1;
    ngx_http_llm_limit_ctx_t  *lctx;

    lctx = shm_zone->data;

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, key->data, key->len);
    ngx_sha1_final(hash, &sha1);

    buf = ngx_sprintf(buf, "llm:%V:%V:", &shm_zone->shm.name,
                      &ngx_http_llm_limit_kinds[lctx->kind]);
    buf = ngx_hex_dump(buf, hash, 20);

    return ngx_sprintf(buf, ":%T", window);
}


/*
 * EVALSHA of the script: "amount" is reserved ('0': when there is room,
 * '1': always) or added ('2', may be negative); the key expires a minute
 * after its window ends.
 */

static ngx_http_llm_redis_cmd_t *
ngx_http_llm_limit_redis_send(ngx_http_llm_limit_ctx_t *lctx,
    ngx_str_t *rkey, int64_t amount, time_t end, u_char mode,
    ngx_http_llm_redis_handler_pt handler, void *data)
{
    u_char          am[NGX_INT64_LEN], exp[NGX_TIME_T_LEN];
    llm_resp_arg_t  argv[8];

    argv[0].data = "EVALSHA";
    argv[0].len = 7;
    argv[1].data = (const char *) lctx->redis->sha;
    argv[1].len = 40;
    argv[2].data = "1";
    argv[2].len = 1;
    argv[3].data = (const char *) rkey->data;
    argv[3].len = rkey->len;
    argv[4].data = (const char *) am;
    argv[4].len = ngx_sprintf(am, "%L", amount) - am;
    argv[5].data = (const char *) lctx->redis_limit.data;
    argv[5].len = lctx->redis_limit.len;
    argv[6].data = (const char *) exp;
    argv[6].len = ngx_sprintf(exp, "%T", end + 60) - exp;
    argv[7].data = (const char *) &mode;
    argv[7].len = 1;

    return ngx_http_llm_redis_send(lctx->redis, argv, 8, handler, data);
}


/* amounts in Redis: spend in nano-USD, the rest as they are */

static uint64_t
ngx_http_llm_limit_units(ngx_http_llm_limit_ctx_t *lctx, uint64_t v)
{
    return (lctx->kind == NGX_HTTP_LLM_LIMIT_SPEND) ? (v + 500) / 1000 : v;
}


/* a reply of the script: {room, used before the request}; NGX_ERROR: not */

static ngx_int_t
ngx_http_llm_limit_redis_reply(ngx_http_llm_limit_ctx_t *lctx,
    llm_resp_reply_t *reply, uint64_t *used)
{
    if (reply == NULL) {
        return NGX_ERROR;
    }

    if (reply->type == '-') {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "llm: Redis at \"%V\" answered an error: \"%*s\"",
                      &lctx->redis->name, ngx_min(reply->len, 256),
                      reply->str);
        return NGX_ERROR;
    }

    if (reply->type != '*' || reply->nitems != 2
        || reply->item_types[0] != ':' || reply->item_types[1] != ':'
        || reply->items[1] < 0)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "llm: Redis at \"%V\" answered the limit script "
                      "with something else than its two numbers",
                      &lctx->redis->name);
        return NGX_ERROR;
    }

    *used = (uint64_t) reply->items[1];

    if (lctx->kind == NGX_HTTP_LLM_LIMIT_SPEND) {
        *used *= 1000;
    }

    return reply->items[0] ? NGX_OK : NGX_BUSY;
}


/* the reply of a location limit's check; the last one goes on */

static void
ngx_http_llm_limit_redis_checked(void *data, llm_resp_reply_t *reply)
{
    ngx_http_llm_limit_call_t  *call = data;

    uint64_t                    used;
    ngx_int_t                   rc;
    ngx_connection_t           *c;
    ngx_http_request_t         *r;
    ngx_http_llm_ctx_t         *ctx;
    ngx_http_llm_limit_ctx_t   *lctx;
    ngx_http_llm_limit_wait_t  *wait;

    r = call->request;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);
    wait = ctx->limit_wait;
    lctx = call->shm_zone->data;

    call->cmd = NULL;

    rc = ngx_http_llm_limit_redis_reply(lctx, reply, &used);

    if (rc == NGX_ERROR) {
        ngx_http_llm_limit_redis_failed(r, ctx, call);

    } else {
        if (rc == NGX_BUSY && call->dry_run) {
            rc = NGX_AGAIN;
        }

        /* this instance's view of the key, for a provider's limits */

        ngx_http_llm_limit_mirror(lctx, call->hash, &call->key, call->window,
                                  used + (rc != NGX_BUSY ? call->estimate
                                                         : 0));

        rc = ngx_http_llm_limit_decide(r, ctx, call, used, rc);

        ngx_http_llm_limit_tested(wait, rc);
    }

    if (--wait->pending) {
        return;
    }

    rc = ngx_http_llm_limit_end(r, ctx);

    if (rc == NGX_OK) {
        ngx_http_llm_proceed(r, ctx);

    } else {
        ngx_http_finalize_request(r, rc >= NGX_HTTP_SPECIAL_RESPONSE
                                     ? rc : NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    ngx_http_run_posted_requests(c);
}


/*
 * Redis could not be asked: redis_fail=allow goes on, deny refuses, local
 * decides on this instance's view of the key
 */

static void
ngx_http_llm_limit_redis_failed(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_limit_call_t *call)
{
    ngx_int_t                   rc;
    ngx_http_llm_limit_ctx_t   *lctx;
    ngx_http_llm_limit_wait_t  *wait;
    ngx_http_llm_loc_conf_t    *lcf;

    lctx = call->shm_zone->data;
    wait = ctx->limit_wait;
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    (void) ngx_atomic_fetch_add(&lctx->sh->unavailable, 1);

    if (lctx->redis_fail == NGX_HTTP_LLM_LIMIT_REDIS_LOCAL) {
        ngx_log_error(lcf->limit_log_level, r->connection->log, 0,
                      "llm: limit \"%V\" could not be checked in Redis at "
                      "\"%V\": the request is checked on this instance's "
                      "count", &call->shm_zone->shm.name, &lctx->redis->name);

        /* reserved here only: nothing of it is settled in Redis */

        ngx_str_null(&call->rkey);

        rc = ngx_http_llm_limit_local(r, ctx, call);

        ngx_http_llm_limit_tested(wait, rc);
        return;
    }

    (void) ngx_atomic_fetch_add(&lctx->sh->checked, 1);

    wait->unavailable = 1;

    if (lctx->redis_fail == NGX_HTTP_LLM_LIMIT_REDIS_DENY
        && wait->denied == NULL)
    {
        wait->denied = call->shm_zone;
    }

    ngx_log_error(lcf->limit_log_level, r->connection->log, 0,
                  "llm: limit \"%V\" could not be checked in Redis at "
                  "\"%V\": the request is %s", &call->shm_zone->shm.name,
                  &lctx->redis->name,
                  lctx->redis_fail == NGX_HTTP_LLM_LIMIT_REDIS_DENY
                  ? "refused" : "not limited by it");
}


/* the answer to a request whose limit could not be checked */

static ngx_int_t
ngx_http_llm_limit_unavailable(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_shm_zone_t *shm_zone)
{
    ngx_http_llm_limit_give_back(ctx, 0);

    ctx->limit_status = NGX_HTTP_LLM_LIMIT_UNAVAILABLE;

    ngx_http_llm_retry_after(ctx, 1);

    ngx_http_llm_set_error(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                           "server_error", "limit_unavailable",
                           "Limit \"%V\" could not be checked: its Redis "
                           "server did not answer.", &shm_zone->shm.name);

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


/* "used" as this instance's count of the key in the window */

static void
ngx_http_llm_limit_mirror(ngx_http_llm_limit_ctx_t *lctx, uint32_t hash,
    ngx_str_t *key, time_t window, uint64_t used)
{
    ngx_http_llm_limit_node_t  *ln;

    ngx_shmtx_lock(&lctx->shpool->mutex);

    ln = ngx_http_llm_limit_lookup(lctx, hash, key, 1, window);

    if (ln) {
        ln->used = used;
    }

    ngx_shmtx_unlock(&lctx->shpool->mutex);
}


/*
 * A provider's limit in Redis: the reservation made in the zone is made
 * in Redis too; its reply brings the count of every instance into this
 * one's view, which the provider's next test reads.
 */

static ngx_int_t
ngx_http_llm_limit_redis_reserve(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, ngx_http_llm_limit_call_t *call)
{
    int64_t                    amount;
    ngx_http_llm_limit_ctx_t  *lctx;

    lctx = call->shm_zone->data;

    if (ngx_http_llm_limit_redis_rkey(r, call) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->limit_res[ctx->nlimit_res - 1].rkey = call->rkey;

    amount = (int64_t) ngx_http_llm_limit_units(lctx, call->estimate);

    ngx_http_llm_limit_redis_update(call->shm_zone, &call->rkey, amount,
                                    call->end, '1', call->hash, &call->key,
                                    call->window);
    return NGX_OK;
}


/*
 * A reservation ('1') or a settlement ('2') sent without waiting; its
 * reply updates the view of the key in the window.
 */

static void
ngx_http_llm_limit_redis_update(ngx_shm_zone_t *shm_zone, ngx_str_t *rkey,
    int64_t amount, time_t end, u_char mode, uint32_t hash, ngx_str_t *key,
    time_t window)
{
    ngx_http_llm_limit_seen_t  *seen;

    seen = ngx_http_llm_limit_seen(shm_zone, hash, key, window, amount);

    if (ngx_http_llm_limit_redis_send(shm_zone->data, rkey, amount, end, mode,
                                      ngx_http_llm_limit_redis_seen, seen)
        == NULL
        && seen)
    {
        ngx_queue_insert_head(seen->free, &seen->queue);
    }
}


/*
 * What a reservation or a settlement needs to bring its reply into the
 * view, kept apart from the request, which may be over when the reply
 * comes: NULL (no view kept) for a long key or no memory.  The records
 * are reused; there are as many as commands waiting at once.
 */

static ngx_http_llm_limit_seen_t *
ngx_http_llm_limit_seen(ngx_shm_zone_t *shm_zone, uint32_t hash,
    ngx_str_t *key, time_t window, int64_t amount)
{
    ngx_queue_t                *q;
    ngx_http_llm_limit_seen_t  *seen;

    static ngx_queue_t          free;

    if (key->len > NGX_HTTP_LLM_LIMIT_SEEN_KEY) {
        return NULL;
    }

    if (free.next == NULL) {
        ngx_queue_init(&free);
    }

    if (!ngx_queue_empty(&free)) {
        q = ngx_queue_head(&free);
        ngx_queue_remove(q);
        seen = ngx_queue_data(q, ngx_http_llm_limit_seen_t, queue);

    } else {
        seen = ngx_palloc(ngx_cycle->pool, sizeof(ngx_http_llm_limit_seen_t));
        if (seen == NULL) {
            return NULL;
        }

        seen->free = &free;
    }

    seen->shm_zone = shm_zone;
    seen->hash = hash;
    seen->window = window;
    seen->amount = amount;
    seen->key.data = seen->data;
    seen->key.len = key->len;
    ngx_memcpy(seen->data, key->data, key->len);

    return seen;
}


/* the reply of a reservation or a settlement: the key's count, as seen */

static void
ngx_http_llm_limit_redis_seen(void *data, llm_resp_reply_t *reply)
{
    ngx_http_llm_limit_seen_t  *seen = data;

    int64_t                    v;
    uint64_t                   used;
    ngx_http_llm_limit_ctx_t  *lctx;

    if (seen == NULL) {
        return;
    }

    lctx = seen->shm_zone->data;

    if (ngx_http_llm_limit_redis_reply(lctx, reply, &used) != NGX_ERROR) {

        /* "used" is before the amount, the amount in Redis's units */

        v = (int64_t) used + seen->amount
            * (lctx->kind == NGX_HTTP_LLM_LIMIT_SPEND ? 1000 : 1);

        ngx_http_llm_limit_mirror(lctx, seen->hash, &seen->key,
                                  seen->window, v > 0 ? (uint64_t) v : 0);
    }

    ngx_queue_insert_head(seen->free, &seen->queue);
}


/*
 * "real" instead of "reserved" for a reservation in Redis, without
 * waiting for the reply; when the reservation's window is over, the real
 * amount goes to the current one.
 */

static void
ngx_http_llm_limit_redis_settle(ngx_http_llm_limit_res_t *res,
    uint64_t real)
{
    u_char                    *p, buf[NGX_HTTP_LLM_LIMIT_RKEY_LEN];
    time_t                     now, current, end;
    int64_t                    delta;
    ngx_str_t                  rkey;
    ngx_http_llm_limit_ctx_t  *lctx;

    lctx = res->shm_zone->data;

    now = ngx_time();
    current = ngx_http_llm_limit_window(lctx, now, &end);

    rkey = res->rkey;

    if (res->window == current) {
        delta = (int64_t) ngx_http_llm_limit_units(lctx, real)
                - (int64_t) ngx_http_llm_limit_units(lctx, res->reserved);

    } else {
        delta = (int64_t) ngx_http_llm_limit_units(lctx, real);

        /* the same key, the current window */

        p = ngx_strlchr(rkey.data, rkey.data + rkey.len, ':');

        while (p) {
            rkey.len = p - rkey.data;
            p = ngx_strlchr(p + 1, res->rkey.data + res->rkey.len, ':');
        }

        p = ngx_cpymem(buf, rkey.data, rkey.len);
        p = ngx_sprintf(p, ":%T", current);

        rkey.data = buf;
        rkey.len = p - buf;
    }

    if (delta == 0) {
        return;
    }

    ngx_http_llm_limit_redis_update(res->shm_zone, &rkey, delta, end, '2',
                                    res->hash, &res->key, current);
}


/* the request is over: its Redis replies are not waited for any more */

void
ngx_http_llm_limit_cleanup(ngx_http_llm_ctx_t *ctx)
{
    ngx_uint_t                   i;
    ngx_http_llm_limit_call_t  **cp;

    if (ctx->limit_calls) {
        cp = ctx->limit_calls->elts;

        for (i = 0; i < ctx->limit_calls->nelts; i++) {
            if (cp[i]->cmd) {
                ngx_http_llm_redis_cancel(cp[i]->cmd);
                cp[i]->cmd = NULL;
            }
        }
    }

    ngx_http_llm_limit_settle(NULL, ctx);
}
