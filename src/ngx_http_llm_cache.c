
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


/*
 * The response cache, on NGINX's file cache (the machinery of
 * proxy_cache: a keys zone in shared memory, the cache loader and manager,
 * max_size and inactive, files that outlive a restart).
 *
 * What is stored is the answer the client got: an OpenAI chat.completion,
 * whichever provider gave it and whatever its wire format.  A hit then
 * costs no translation, an entry does not depend on the provider that
 * filled it (failover may pick any), and a streamed request is answered
 * from the same entry, rendered as chunks.
 *
 * The key is the request's meaning (llm_cache_key() in the core: canonical
 * JSON of the request without "stream", "user" and the like), hashed with
 * SHA-256, behind the optional llm_cache_key text.  A cache file is
 *
 *     NGINX's header and "KEY: ..." line     (header_start bytes)
 *     "llm1 <length> <crc32> <cost> <provider>\n"
 *     the answer                             (length bytes)
 *
 * and the whole file counts as NGINX's header when it is shorter than
 * 64 KB (body_start is 16 bits), so that a hit is read in one read.
 * A file that is short, or whose answer does not match its CRC32, is a
 * miss, and is replaced.
 *
 * The entry is kept in ctx->cache, not in r->cache: the upstream module
 * would take r->cache for its own and clears it.  r->cache is set only
 * around the calls into the file cache.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#if (NGX_OPENSSL)
#include <openssl/evp.h>
#endif

#include "ngx_http_llm_router.h"


#if (NGX_HTTP_CACHE)

#define NGX_HTTP_LLM_CACHE_READ   65535       /* the most of a first read */
#define NGX_HTTP_LLM_CACHE_META   128         /* the longest meta line */


/* what a hit did not cost, from the entry's meta line */
typedef struct {
    uint64_t                   cost;          /* pico-USD */
    uint64_t                   tokens[2];     /* input, output */
    ngx_str_t                  provider;      /* that gave the answer */
} ngx_http_llm_cache_saved_t;


static ngx_int_t ngx_http_llm_cache_start(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_cache_open(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static void ngx_http_llm_cache_resume(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_cache_send(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static ngx_int_t ngx_http_llm_cache_meta(u_char *p, u_char *last,
    ngx_http_llm_cache_saved_t *saved);
static void ngx_http_llm_cache_count(ngx_http_request_t *r,
    ngx_http_llm_cache_saved_t *saved);
static ngx_int_t ngx_http_llm_cache_hash(ngx_http_request_t *r,
    u_char *text, size_t len, ngx_str_t *hex);
static ngx_uint_t ngx_http_llm_cache_control(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_cache_cleanup_add(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx);
static void ngx_http_llm_cache_cleanup(void *data);
static void ngx_http_llm_cache_stream_feed(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, const u_char *p, size_t len);
static int ngx_http_llm_cache_event(void *data, const llm_sse_event_t *ev);
static void ngx_http_llm_cache_write(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, u_char *body, size_t len);


#define NGX_HTTP_LLM_CC_NO_CACHE  1
#define NGX_HTTP_LLM_CC_NO_STORE  2


static ngx_str_t  ngx_http_llm_cache_statuses[] = {
    ngx_null_string,
    ngx_string("MISS"),
    ngx_string("BYPASS"),
    ngx_string("EXPIRED"),
    ngx_null_string,                        /* STALE */
    ngx_null_string,                        /* UPDATING */
    ngx_null_string,                        /* REVALIDATED */
    ngx_string("HIT")
};


static ngx_str_t  ngx_http_llm_cache_json = ngx_string("application/json");
static ngx_str_t  ngx_http_llm_cache_sse = ngx_string("text/event-stream");


char *
ngx_http_llm_cache_path(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_file_cache_set_slot(cf, cmd, conf);
}


char *
ngx_http_llm_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_loc_conf_t *lcf = conf;

    ngx_str_t  *value;

    value = cf->args->elts;

    if (lcf->cache_zone != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    if (ngx_strcmp(value[1].data, "off") == 0) {
        lcf->cache_zone = NULL;
        return NGX_CONF_OK;
    }

    lcf->cache_zone = ngx_shared_memory_add(cf, &value[1], 0,
                                            &ngx_http_llm_router_module);
    if (lcf->cache_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_llm_cache_temperature(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llm_loc_conf_t *lcf = conf;

    char       *end;
    double      t;
    ngx_str_t  *value;

    if (lcf->cache_temperature != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "any") == 0) {
        lcf->cache_temperature = -1;
        return NGX_CONF_OK;
    }

    t = strtod((char *) value[1].data, &end);

    if (value[1].len == 0 || *end != '\0' || !(t >= 0 && t <= 2)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", a temperature from 0 "
                           "to 2 or \"any\" was expected", &value[1]);
        return NGX_CONF_ERROR;
    }

    /* thousandths */

    lcf->cache_temperature = (ngx_int_t) (t * 1000 + 0.5);

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_llm_cache_merge(ngx_conf_t *cf, ngx_http_llm_loc_conf_t *prev,
    ngx_http_llm_loc_conf_t *conf)
{
    ngx_conf_merge_ptr_value(conf->cache_zone, prev->cache_zone, NULL);

    if (conf->cache_zone && conf->cache_zone->data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llm_cache\" zone \"%V\" is unknown",
                           &conf->cache_zone->shm.name);
        return NGX_ERROR;
    }

    ngx_conf_merge_sec_value(conf->cache_valid, prev->cache_valid, 3600);
    ngx_conf_merge_uint_value(conf->cache_min_uses, prev->cache_min_uses, 1);
    ngx_conf_merge_ptr_value(conf->cache_bypass, prev->cache_bypass, NULL);
    ngx_conf_merge_ptr_value(conf->no_cache, prev->no_cache, NULL);
    ngx_conf_merge_value(conf->cache_temperature, prev->cache_temperature,
                         0);
    ngx_conf_merge_size_value(conf->cache_max_size, prev->cache_max_size,
                              1024 * 1024);

    if (conf->cache_key == NULL) {
        conf->cache_key = prev->cache_key;
    }

    return NGX_OK;
}


ngx_str_t *
ngx_http_llm_cache_status_name(ngx_uint_t status)
{
    if (status >= sizeof(ngx_http_llm_cache_statuses) / sizeof(ngx_str_t)
        || ngx_http_llm_cache_statuses[status].len == 0)
    {
        return NULL;
    }

    return &ngx_http_llm_cache_statuses[status];
}


/*
 * Called with the request parsed, before a provider is chosen:
 * NGX_DECLINED goes on to a provider, NGX_DONE means the answer came
 * from the cache (or will, once an asynchronous read is done),
 * NGX_ERROR fails the request.
 */

ngx_int_t
ngx_http_llm_cache_lookup(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_http_llm_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    /* chat answers only: an embeddings request is not cached */

    if (lcf->cache_zone == NULL || r != r->main || ctx->embed) {
        return NGX_DECLINED;
    }

    rc = ngx_http_llm_cache_start(r, ctx);

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_llm_cache_open(r, ctx);
}


static ngx_int_t
ngx_http_llm_cache_start(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    int                       rc;
    char                     *text;
    size_t                    len;
    ngx_str_t                *key;
    ngx_uint_t                cc;
    llm_pool_t                pool;
    const char               *why;
    ngx_http_cache_t         *c;
    ngx_http_llm_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    cc = ngx_http_llm_cache_control(r);

    if (cc & NGX_HTTP_LLM_CC_NO_STORE) {
        ctx->cache_status = NGX_HTTP_CACHE_BYPASS;
        return NGX_DECLINED;
    }

    pool.alloc = ngx_http_llm_pool_alloc;
    pool.data = r->pool;

    why = NULL;

    rc = llm_cache_key(&ctx->req, lcf->cache_temperature < 0
                                  ? -1.0
                                  : lcf->cache_temperature / 1000.0,
                       &pool, &text, &len, &why);

    if (rc == LLM_DECLINED) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm cache: not cacheable, \"%s\"", why);
        return NGX_DECLINED;
    }

    if (rc != LLM_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_file_cache_new(r) != NGX_OK) {
        return NGX_ERROR;
    }

    c = r->cache;
    r->cache = NULL;

    if (lcf->cache_key) {
        key = ngx_array_push(&c->keys);
        if (key == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_complex_value(r, lcf->cache_key, key) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    key = ngx_array_push(&c->keys);
    if (key == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_llm_cache_hash(r, (u_char *) text, len, key) != NGX_OK) {
        return NGX_ERROR;
    }

    r->cache = c;
    ngx_http_file_cache_create_key(r);
    r->cache = NULL;

    c->file_cache = lcf->cache_zone->data;
    c->min_uses = lcf->cache_min_uses;

    /* an entry known to the zone is read at its own length */

    c->body_start = NGX_HTTP_LLM_CACHE_READ;

    if (c->header_start + NGX_HTTP_LLM_CACHE_META >= NGX_HTTP_LLM_CACHE_READ) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm: the llm_cache_key is too long");
        return NGX_DECLINED;
    }

    ctx->cache = c;
    ctx->cache_store = 1;
    ctx->cache_status = NGX_HTTP_CACHE_MISS;

    switch (ngx_http_test_predicates(r, lcf->cache_bypass)) {

    case NGX_ERROR:
        return NGX_ERROR;

    case NGX_DECLINED:
        ctx->cache_status = NGX_HTTP_CACHE_BYPASS;
        return NGX_DECLINED;

    default: /* NGX_OK */
        break;
    }

    if (cc & NGX_HTTP_LLM_CC_NO_CACHE) {
        ctx->cache_status = NGX_HTTP_CACHE_BYPASS;
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_cache_open(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    ngx_int_t          rc;
    ngx_http_cache_t  *c;

    c = ctx->cache;

    r->cache = c;
    rc = ngx_http_file_cache_open(r);
    r->cache = NULL;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm cache open: %i", rc);

    if (ngx_http_llm_cache_cleanup_add(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    switch (rc) {

    case NGX_OK:
        rc = ngx_http_llm_cache_send(r, ctx);

        if (rc != NGX_DECLINED) {
            return rc;
        }

        /* a damaged entry: a miss, replaced */

        ctx->cache_status = NGX_HTTP_CACHE_MISS;
        break;

    case NGX_HTTP_CACHE_STALE:
    case NGX_HTTP_CACHE_UPDATING:
        c->valid_sec = 0;
        c->updating_sec = 0;
        c->error_sec = 0;
        ctx->cache_status = NGX_HTTP_CACHE_EXPIRED;
        break;

    case NGX_HTTP_CACHE_SCARCE:

        /* not asked for llm_cache_min_uses times yet */

        ctx->cache_store = 0;
        break;

    case NGX_AGAIN:

        /* a read in a thread or by AIO: the request is called again */

        r->write_event_handler = ngx_http_llm_cache_resume;
        return NGX_DONE;

    case NGX_ERROR:
        return NGX_ERROR;

    default:

        /* NGX_DECLINED: no entry, or a file that is not one */

        break;
    }

    r->cached = 0;

    return NGX_DECLINED;
}


static void
ngx_http_llm_cache_resume(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    r->write_event_handler = ngx_http_request_empty_handler;

    rc = ngx_http_llm_cache_open(r, ctx);

    if (rc == NGX_DONE) {
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_llm_go(r, ctx);
        return;
    }

    ngx_http_finalize_request(r, rc == NGX_ERROR
                                 ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc);
}


/*
 * A hit: the answer is checked against its length and CRC32, and sent,
 * as it is or as a stream.  NGX_DECLINED for an entry that is not sound.
 */

static ngx_int_t
ngx_http_llm_cache_send(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    u_char            *p, *meta, *end, *body;
    char              *sse;
    size_t             len, have, start, sse_len;
    ssize_t            n;
    uint32_t           crc;
    ngx_int_t          rc, v;
    ngx_buf_t         *b;
    ngx_chain_t        out;
    llm_pool_t         pool;
    ngx_http_cache_t  *c;

    ngx_http_llm_cache_saved_t  saved;

    ngx_memzero(&saved, sizeof(ngx_http_llm_cache_saved_t));

    c = ctx->cache;

    have = c->buf->last - c->buf->pos;

    /* the meta line */

    meta = c->buf->pos + c->header_start;
    end = c->buf->pos + ngx_min(have, c->header_start
                                      + NGX_HTTP_LLM_CACHE_META);

    if (meta + 5 > end || ngx_strncmp(meta, "llm1 ", 5) != 0) {
        goto damaged;
    }

    p = ngx_strlchr(meta, end, LF);
    if (p == NULL) {
        goto damaged;
    }

    start = p + 1 - c->buf->pos;

    p = meta + 5;

    end = ngx_strlchr(p, c->buf->pos + start, ' ');
    if (end == NULL) {
        goto damaged;
    }

    v = ngx_atoi(p, end - p);
    if (v == NGX_ERROR) {
        goto damaged;
    }

    len = (size_t) v;

    p = end + 1;
    end = ngx_strlchr(p, c->buf->pos + start, ' ');
    if (end == NULL || end - p != 8) {
        goto damaged;
    }

    v = ngx_hextoi(p, 8);
    if (v == NGX_ERROR) {
        goto damaged;
    }

    crc = (uint32_t) v;

    p = end + 1;

    if (ngx_http_llm_cache_meta(p, c->buf->pos + start - 1, &saved)
        != NGX_OK)
    {
        goto damaged;
    }

    if (c->length != (off_t) (start + len)) {
        goto damaged;
    }

    /* the answer, read with the header or after it */

    if (start + len <= have) {
        body = c->buf->pos + start;

    } else {
        body = ngx_http_llm_pool_alloc(r->pool, len + 1);
        if (body == NULL) {
            return NGX_ERROR;
        }

        n = ngx_read_file(&c->file, body, len, (off_t) start);

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        if ((size_t) n != len) {
            goto damaged;
        }
    }

    if (ngx_crc32_long(body, len) != crc) {
        goto damaged;
    }

    ctx->cache_status = NGX_HTTP_CACHE_HIT;
    ctx->cache_store = 0;

    ngx_http_llm_cache_count(r, &saved);

    if (ctx->req.stream) {
        pool.alloc = ngx_http_llm_pool_alloc;
        pool.data = r->pool;

        if (llm_cache_stream((const char *) body, len,
                             ctx->req.include_usage, &pool, &sse, &sse_len)
            != LLM_OK)
        {
            goto damaged;
        }

        body = (u_char *) sse;
        len = sse_len;

        r->headers_out.content_type = ngx_http_llm_cache_sse;

    } else {
        r->headers_out.content_type = ngx_http_llm_cache_json;
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm cache hit, %uz bytes", len);

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));

    return NGX_DONE;

damaged:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "llm: cache file \"%s\" is damaged, taken as a miss",
                  c->file.name.data);

    return NGX_DECLINED;
}


/* "<cost> <input tokens> <output tokens> <provider>" up to last (LF) */

static ngx_int_t
ngx_http_llm_cache_meta(u_char *p, u_char *last,
    ngx_http_llm_cache_saved_t *saved)
{
    u_char      *end;
    off_t        v;
    ngx_uint_t   i;

    for (i = 0; i < 3; i++) {
        end = ngx_strlchr(p, last, ' ');
        if (end == NULL) {
            return NGX_ERROR;
        }

        v = ngx_atoof(p, end - p);
        if (v == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (i == 0) {
            saved->cost = (uint64_t) v;

        } else {
            saved->tokens[i - 1] = (uint64_t) v;
        }

        p = end + 1;
    }

    if (p >= last) {
        return NGX_ERROR;
    }

    saved->provider.data = p;
    saved->provider.len = last - p;

    return NGX_OK;
}


/* a hit counts for the provider that gave the answer, if still there */

static void
ngx_http_llm_cache_count(ngx_http_request_t *r,
    ngx_http_llm_cache_saved_t *saved)
{
    ngx_uint_t                 i;
    ngx_http_llm_counters_t   *c;
    ngx_http_llm_provider_t  **pp;
    ngx_http_llm_loc_conf_t   *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (!lcf->stats) {
        return;
    }

    pp = lcf->providers->elts;

    for (i = 0; i < lcf->providers->nelts; i++) {
        if (pp[i]->name.len == saved->provider.len
            && ngx_strncmp(pp[i]->name.data, saved->provider.data,
                           saved->provider.len)
               == 0)
        {
            break;
        }
    }

    if (i == lcf->providers->nelts || pp[i]->counters == NULL) {
        return;
    }

    c = pp[i]->counters;

    (void) ngx_atomic_fetch_add(&c->cache_hits, 1);
    (void) ngx_atomic_fetch_add(&c->cache_tokens[0], saved->tokens[0]);
    (void) ngx_atomic_fetch_add(&c->cache_tokens[1], saved->tokens[1]);
    (void) ngx_atomic_fetch_add(&c->cache_cost, saved->cost);
}


/*
 * SHA-256 of the location's providers (their names, in order) and of the
 * request's key text: locations that share a cache zone but send the same
 * question to other providers do not answer for each other.
 */

static ngx_int_t
ngx_http_llm_cache_hash(ngx_http_request_t *r, u_char *text, size_t len,
    ngx_str_t *hex)
{
    ngx_uint_t                 i;
    ngx_http_llm_provider_t  **pp;
    ngx_http_llm_loc_conf_t   *lcf;

#if (NGX_OPENSSL)

    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  n;
    EVP_MD_CTX   *md_ctx;

    md_ctx = EVP_MD_CTX_new();
    if (md_ctx == NULL) {
        return NGX_ERROR;
    }

    if (EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md_ctx);
        return NGX_ERROR;
    }

#define ngx_http_llm_cache_update(p, n)                                       \
    (void) EVP_DigestUpdate(md_ctx, p, n)

#else

    u_char     md[16];
    size_t     n;
    ngx_md5_t  md5;

    ngx_md5_init(&md5);

#define ngx_http_llm_cache_update(p, n)  ngx_md5_update(&md5, p, n)

#endif

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);
    pp = lcf->providers->elts;

    for (i = 0; i < lcf->providers->nelts; i++) {
        ngx_http_llm_cache_update(pp[i]->name.data, pp[i]->name.len);
        ngx_http_llm_cache_update(" ", 1);
    }

    ngx_http_llm_cache_update("\n", 1);
    ngx_http_llm_cache_update(text, len);

#undef ngx_http_llm_cache_update

#if (NGX_OPENSSL)

    if (EVP_DigestFinal_ex(md_ctx, md, &n) != 1) {
        EVP_MD_CTX_free(md_ctx);
        return NGX_ERROR;
    }

    EVP_MD_CTX_free(md_ctx);

#else

    ngx_md5_final(md, &md5);
    n = 16;

#endif

    hex->data = ngx_pnalloc(r->pool, 2 * n);
    if (hex->data == NULL) {
        return NGX_ERROR;
    }

    hex->len = ngx_hex_dump(hex->data, md, n) - hex->data;

    return NGX_OK;
}


/* the client's Cache-Control: no-cache and no-store */

static ngx_uint_t
ngx_http_llm_cache_control(ngx_http_request_t *r)
{
    u_char           *p, *last;
    ngx_uint_t        i, flags;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    flags = 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("Cache-Control") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Cache-Control",
                               sizeof("Cache-Control") - 1)
               != 0)
        {
            continue;
        }

        p = h[i].value.data;
        last = p + h[i].value.len;

        if (ngx_strlcasestrn(p, last, (u_char *) "no-cache", 8 - 1)) {
            flags |= NGX_HTTP_LLM_CC_NO_CACHE;
        }

        if (ngx_strlcasestrn(p, last, (u_char *) "no-store", 8 - 1)) {
            flags |= NGX_HTTP_LLM_CC_NO_STORE;
        }
    }

    return flags;
}


/*
 * The file cache's own cleanup complains of an entry left updating: this
 * one, added after it, runs first and lets the entry go.
 */

static ngx_int_t
ngx_http_llm_cache_cleanup_add(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *cln;

    if (ctx->cache_cleanup) {
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_llm_cache_cleanup;
    cln->data = ctx->cache;

    ctx->cache_cleanup = 1;

    return NGX_OK;
}


static void
ngx_http_llm_cache_cleanup(void *data)
{
    ngx_http_cache_t  *c = data;

    ngx_http_file_cache_free(c, NULL);
}


/*
 * A relayed answer is copied for the cache as it goes out, up to
 * llm_cache_max_size; past it, it is not stored.
 */

void
ngx_http_llm_cache_feed(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    const u_char *p, size_t len)
{
    u_char                   *n;
    size_t                    want;
    ngx_http_llm_loc_conf_t  *lcf;

    if (!ctx->cache_store || len == 0) {
        return;
    }

    if (ctx->req.stream) {
        ngx_http_llm_cache_stream_feed(r, ctx, p, len);
        return;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (len > lcf->cache_max_size - ctx->cache_len) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm cache: the answer is too large to store");
        ctx->cache_store = 0;
        return;
    }

    if (len > ctx->cache_size - ctx->cache_len) {
        want = ngx_max(2 * ctx->cache_size, ctx->cache_len + len);
        want = ngx_max(want, 4096);
        want = ngx_min(want, lcf->cache_max_size);

        n = ngx_pnalloc(r->pool, want);
        if (n == NULL) {
            ctx->cache_store = 0;
            return;
        }

        if (ctx->cache_len) {
            ngx_memcpy(n, ctx->cache_acc, ctx->cache_len);
        }

        ctx->cache_acc = n;
        ctx->cache_size = want;
    }

    ngx_memcpy(ctx->cache_acc + ctx->cache_len, p, len);
    ctx->cache_len += len;
}


/*
 * A streamed answer is assembled for the cache from the events that go
 * out, as they go out: the stream is never held back.  The assembly
 * takes at most llm_cache_max_size (allocated, not touched, up front) and
 * an event framer of llm_max_event_size; an answer that does not fit is
 * not stored.
 */

static void
ngx_http_llm_cache_stream_feed(ngx_http_request_t *r,
    ngx_http_llm_ctx_t *ctx, const u_char *p, size_t len)
{
    char                     *buf;
    ngx_http_llm_loc_conf_t  *lcf;

    if (ctx->cache_sse == NULL) {
        lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

        ctx->cache_sse = ngx_palloc(r->pool, sizeof(llm_sse_t));
        ctx->cache_acc_stream = ngx_palloc(r->pool, sizeof(llm_cache_acc_t));

        if (ctx->cache_sse == NULL || ctx->cache_acc_stream == NULL) {
            goto failed;
        }

        buf = ngx_http_llm_pool_alloc(r->pool, lcf->max_event_size);
        if (buf == NULL) {
            goto failed;
        }

        llm_sse_init(ctx->cache_sse, buf, lcf->max_event_size);

        buf = ngx_http_llm_pool_alloc(r->pool, lcf->cache_max_size);
        if (buf == NULL) {
            goto failed;
        }

        llm_cache_acc_init(ctx->cache_acc_stream, buf, lcf->cache_max_size);
    }

    if (llm_sse_feed(ctx->cache_sse, (const char *) p, len,
                     ngx_http_llm_cache_event, r)
        != LLM_OK)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm cache: the stream cannot be stored");
        ctx->cache_store = 0;
    }

    return;

failed:

    ctx->cache_store = 0;
}


static int
ngx_http_llm_cache_event(void *data, const llm_sse_event_t *ev)
{
    ngx_http_request_t *r = data;

    int                  rc;
    llm_scratch_t       *scratch;
    ngx_http_llm_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_router_module);

    if (ev->data_len == 6 && ngx_strncmp(ev->data, "[DONE]", 6) == 0) {
        return LLM_OK;
    }

    /* the event's tree lives on the worker's scratch, not the request */

    scratch = ngx_http_llm_scratch();

    rc = llm_cache_acc_chunk(ctx->cache_acc_stream, ev->data, ev->data_len,
                             &scratch->pool);

    llm_scratch_reset(scratch);

    return rc;
}


/*
 * The end of a request that went to a provider: a complete, successful
 * answer is stored; anything else lets the entry go.
 */

void
ngx_http_llm_cache_done(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_int_t rc)
{
    char                     *sbody;
    u_char                   *body;
    size_t                    len;
    llm_pool_t                pool;
    const char               *f;
    ngx_http_cache_t         *c;
    ngx_http_llm_loc_conf_t  *lcf;

    c = ctx->cache;

    if (c == NULL || c->updated) {
        return;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if ((ctx->cache_status == NGX_HTTP_CACHE_MISS
         || ctx->cache_status == NGX_HTTP_CACHE_EXPIRED)
        && lcf->stats && ctx->provider && ctx->provider->counters)
    {
        (void) ngx_atomic_fetch_add(&ctx->provider->counters->cache_misses,
                                    1);
    }

    if (!ctx->cache_store || rc != NGX_OK
        || ctx->outcome != NGX_HTTP_LLM_OUT_SUCCESS
        || r->upstream == NULL
        || r->upstream->headers_in.status_n != NGX_HTTP_OK)
    {
        goto free;
    }

    if (ctx->req.stream) {
        if (ctx->cache_acc_stream == NULL) {
            goto free;
        }

        pool.alloc = ngx_http_llm_pool_alloc;
        pool.data = r->pool;

        /* the provider's usage, when the client's chunks had none */

        if (!llm_usage_known(&ctx->cache_acc_stream->usage)
            && llm_usage_known(&ctx->usage))
        {
            ctx->cache_acc_stream->usage = ctx->usage;
        }

        if (llm_cache_acc_finish(ctx->cache_acc_stream, &pool, &sbody, &len)
            != LLM_OK)
        {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "llm cache: the stream is not stored");
            goto free;
        }

        body = (u_char *) sbody;

        goto store;
    }

    f = ctx->finish_reason;

    if (f == NULL
        || (ngx_strcmp(f, "stop") != 0 && ngx_strcmp(f, "length") != 0
            && ngx_strcmp(f, "tool_calls") != 0))
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm cache: not stored, finish reason \"%s\"",
                       f ? f : "none");
        goto free;
    }

    if (ctx->translated) {
        body = ctx->out.data;
        len = ctx->out.len;

    } else {
        body = ctx->cache_acc;
        len = ctx->cache_len;
    }

store:

    if (len == 0 || len > lcf->cache_max_size) {
        goto free;
    }

    switch (ngx_http_test_predicates(r, lcf->no_cache)) {

    case NGX_ERROR:
    case NGX_DECLINED:
        goto free;

    default: /* NGX_OK */
        break;
    }

    ngx_http_llm_cache_write(r, ctx, body, len);

    return;

free:

    ngx_http_file_cache_free(c, NULL);
}


static void
ngx_http_llm_cache_write(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    u_char *body, size_t len)
{
    u_char                   *p;
    size_t                    head, total;
    ngx_int_t                 rc;
    ngx_buf_t                *hb, *bb;
    ngx_chain_t               hcl, bcl;
    ngx_temp_file_t          *tf;
    ngx_http_cache_t         *c;
    ngx_http_llm_loc_conf_t  *lcf;

    c = ctx->cache;
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_router_module);

    if (ctx->cache_status == NGX_HTTP_CACHE_BYPASS) {

        /* the cache was not looked at: the entry is made now */

        r->cache = c;
        rc = ngx_http_file_cache_create(r);
        r->cache = NULL;

        if (rc != NGX_OK || ngx_http_llm_cache_cleanup_add(r, ctx) != NGX_OK)
        {
            return;
        }
    }

    hb = ngx_create_temp_buf(r->pool, c->header_start
                                      + NGX_HTTP_LLM_CACHE_META);
    if (hb == NULL) {
        goto failed;
    }

    p = hb->pos + c->header_start;

    p = ngx_snprintf(p, NGX_HTTP_LLM_CACHE_META - 1,
                     "llm1 %uz %08xD %uL %L %L %V",
                     len, ngx_crc32_long(body, len), (uint64_t) ctx->cost,
                     (int64_t) ngx_max(ctx->usage.prompt_tokens, 0),
                     (int64_t) ngx_max(ctx->usage.completion_tokens, 0),
                     &ctx->provider->name);
    *p++ = LF;

    head = p - hb->pos;
    total = head + len;

    c->body_start = (total <= NGX_HTTP_LLM_CACHE_READ) ? total : head;
    c->valid_sec = ngx_time() + lcf->cache_valid;
    c->date = ngx_time();
    c->last_modified = -1;

    r->cache = c;
    rc = ngx_http_file_cache_set_header(r, hb->pos);
    r->cache = NULL;

    if (rc != NGX_OK) {
        goto failed;
    }

    hb->last = p;

    bb = ngx_calloc_buf(r->pool);
    if (bb == NULL) {
        goto failed;
    }

    bb->pos = body;
    bb->last = body + len;
    bb->memory = 1;

    hcl.buf = hb;
    hcl.next = &bcl;
    bcl.buf = bb;
    bcl.next = NULL;

    tf = ngx_pcalloc(r->pool, sizeof(ngx_temp_file_t));
    if (tf == NULL) {
        goto failed;
    }

    tf->file.fd = NGX_INVALID_FILE;
    tf->file.log = r->connection->log;
    tf->path = c->file_cache->path;
    tf->pool = r->pool;
    tf->persistent = 1;

    if (ngx_write_chain_to_temp_file(tf, &hcl) == NGX_ERROR) {
        ngx_http_file_cache_free(c, tf);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm cache: stored %uz bytes in \"%s\"",
                   total, c->file.name.data);

    r->cache = c;
    ngx_http_file_cache_update(r, tf);
    r->cache = NULL;

    return;

failed:

    ngx_http_file_cache_free(c, NULL);
}


#else /* !(NGX_HTTP_CACHE) */


char *
ngx_http_llm_cache_path(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return "is not supported: NGINX was built without the HTTP cache";
}


char *
ngx_http_llm_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return "is not supported: NGINX was built without the HTTP cache";
}


char *
ngx_http_llm_cache_temperature(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    return "is not supported: NGINX was built without the HTTP cache";
}


ngx_int_t
ngx_http_llm_cache_merge(ngx_conf_t *cf, ngx_http_llm_loc_conf_t *prev,
    ngx_http_llm_loc_conf_t *conf)
{
    return NGX_OK;
}


ngx_int_t
ngx_http_llm_cache_lookup(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx)
{
    return NGX_DECLINED;
}


ngx_str_t *
ngx_http_llm_cache_status_name(ngx_uint_t status)
{
    return NULL;
}


void
ngx_http_llm_cache_feed(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    const u_char *p, size_t len)
{
}


void
ngx_http_llm_cache_done(ngx_http_request_t *r, ngx_http_llm_ctx_t *ctx,
    ngx_int_t rc)
{
}

#endif
