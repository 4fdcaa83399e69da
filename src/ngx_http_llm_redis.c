
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


/*
 * A Redis client on the worker's event loop, for the limits kept in
 * Redis.  Each worker has one connection per Redis server (and timeout),
 * opened on first use and kept.  Commands are pipelined: they are written
 * as they come, and Redis answers them in order, so a FIFO of the waiting
 * commands matches each reply with its caller.  A caller whose request
 * went away leaves its place in the FIFO with no handler.
 *
 * Nothing waits longer than the timeout: when the oldest command has no
 * answer in time, or the connection fails, every waiting command fails at
 * once, the connection is closed, and for a back-off (100 ms, doubling up
 * to 5 s, until a reply comes) new commands fail without a connection
 * attempt.
 *
 * On each new connection the password (AUTH), when there is one, and the
 * script (SCRIPT LOAD) are sent first, so that EVALSHA finds the script
 * on that server; its SHA-1 is known from the start.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>
#include <ngx_sha1.h>
#include <ngx_http.h>

#include "ngx_http_llm_router.h"


#define NGX_HTTP_LLM_REDIS_CLOSED      0
#define NGX_HTTP_LLM_REDIS_CONNECTING  1
#define NGX_HTTP_LLM_REDIS_HANDSHAKE   2
#define NGX_HTTP_LLM_REDIS_READY       3

#define NGX_HTTP_LLM_REDIS_OUT         65536
#define NGX_HTTP_LLM_REDIS_IN          8192
#define NGX_HTTP_LLM_REDIS_MAX_WAIT    1024
#define NGX_HTTP_LLM_REDIS_BACKOFF     100
#define NGX_HTTP_LLM_REDIS_MAX_BACKOFF 5000


struct ngx_http_llm_redis_cmd_s {
    ngx_queue_t                      queue;
    ngx_http_llm_redis_handler_pt    handler;     /* NULL: reply ignored */
    void                            *data;
    ngx_msec_t                       deadline;
    const char                      *prologue;    /* AUTH, SCRIPT LOAD: why
                                                     an error fails all */
};


static ngx_uint_t ngx_http_llm_redis_same(ngx_str_t *a, ngx_str_t *b);
static ngx_int_t ngx_http_llm_redis_ssl(ngx_conf_t *cf,
    ngx_http_llm_redis_t *rs);
static ngx_int_t ngx_http_llm_redis_connect(ngx_http_llm_redis_t *rs);
static ngx_int_t ngx_http_llm_redis_prologue(ngx_http_llm_redis_t *rs,
    llm_resp_arg_t *argv, size_t argc, const char *why);
static void ngx_http_llm_redis_connected(ngx_http_llm_redis_t *rs);
#if (NGX_SSL)
static void ngx_http_llm_redis_handshaked(ngx_connection_t *c);
#endif
static ngx_http_llm_redis_cmd_t *ngx_http_llm_redis_queue(
    ngx_http_llm_redis_t *rs, ngx_http_llm_redis_handler_pt handler,
    void *data);
static void ngx_http_llm_redis_write_handler(ngx_event_t *wev);
static void ngx_http_llm_redis_read_handler(ngx_event_t *rev);
static void ngx_http_llm_redis_timer(ngx_http_llm_redis_t *rs);
static void ngx_http_llm_redis_fail(ngx_http_llm_redis_t *rs,
    const char *why);
static void ngx_http_llm_redis_close(ngx_http_llm_redis_t *rs);
static void ngx_http_llm_redis_dummy_handler(ngx_event_t *ev);


/*
 * The Redis server of an llm_limit_zone ("redis=host:port"), shared by
 * the zones that name the same server with the same parameters.
 */

ngx_http_llm_redis_t *
ngx_http_llm_redis_add(ngx_conf_t *cf, ngx_http_llm_redis_conf_t *rc,
    ngx_str_t *script)
{
    u_char                     hash[20];
    ngx_uint_t                 i;
    ngx_url_t                  u;
    ngx_sha1_t                 sha1;
    ngx_http_llm_redis_t      *rs, **rsp;
    ngx_http_llm_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_router_module);

    if (lmcf->redis.elts == NULL
        && ngx_array_init(&lmcf->redis, cf->pool, 1,
                          sizeof(ngx_http_llm_redis_t *))
           != NGX_OK)
    {
        return NULL;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = rc->addr;
    u.default_port = 6379;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in redis \"%V\"", u.err, &rc->addr);
        }

        return NULL;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis \"%V\" has no address", &rc->addr);
        return NULL;
    }

    if (rc->ssl_name.len == 0) {
        rc->ssl_name = u.host;
    }

    rsp = lmcf->redis.elts;

    for (i = 0; i < lmcf->redis.nelts; i++) {
        rs = rsp[i];

        if (rs->timeout == rc->timeout
            && ngx_http_llm_redis_same(&rs->name, &rc->addr)
            && ngx_http_llm_redis_same(&rs->password, &rc->password)
            && rs->tls == (ngx_uint_t) rc->ssl
            && (!rc->ssl
                || (ngx_http_llm_redis_same(&rs->ssl_name, &rc->ssl_name)
                    && ngx_http_llm_redis_same(&rs->ssl_trusted,
                                               &rc->ssl_trusted))))
        {
            return rs;
        }
    }

    rs = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_redis_t));
    if (rs == NULL) {
        return NULL;
    }

    rs->name = rc->addr;
    rs->addr = u.addrs[0];
    rs->timeout = rc->timeout;
    rs->password = rc->password;
    rs->script = *script;
    rs->tls = rc->ssl;
    rs->ssl_name = rc->ssl_name;
    rs->ssl_trusted = rc->ssl_trusted;

    if (rc->ssl && ngx_http_llm_redis_ssl(cf, rs) != NGX_OK) {
        return NULL;
    }

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, script->data, script->len);
    ngx_sha1_final(hash, &sha1);

    ngx_hex_dump(rs->sha, hash, 20);

    ngx_queue_init(&rs->waiting);
    ngx_queue_init(&rs->free);

    rsp = ngx_array_push(&lmcf->redis);
    if (rsp == NULL) {
        return NULL;
    }

    *rsp = rs;

    return rs;
}


static ngx_uint_t
ngx_http_llm_redis_same(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || ngx_strncmp(a->data, b->data, a->len) == 0);
}


/* TLS to Redis: the server's certificate is verified, with its name */

static ngx_int_t
ngx_http_llm_redis_ssl(ngx_conf_t *cf, ngx_http_llm_redis_t *rs)
{
#if (NGX_SSL)
    u_char              *p;
    ngx_str_t            ciphers;
    ngx_pool_cleanup_t  *cln;

    /* SNI takes a NUL-terminated name */

    p = ngx_pnalloc(cf->pool, rs->ssl_name.len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, rs->ssl_name.data, rs->ssl_name.len);
    p[rs->ssl_name.len] = '\0';
    rs->ssl_name.data = p;

    rs->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (rs->ssl == NULL) {
        return NGX_ERROR;
    }

    rs->ssl->log = cf->log;

    if (ngx_ssl_create(rs->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(rs->ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = rs->ssl;

    ngx_str_set(&ciphers, "DEFAULT");

    if (ngx_ssl_ciphers(cf, rs->ssl, &ciphers, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_ssl_trusted_certificate(cf, rs->ssl, &rs->ssl_trusted, 10)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;

#else

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "redis_ssl=on needs NGINX built with OpenSSL");
    return NGX_ERROR;

#endif
}


/*
 * Sends a command; its reply goes to handler(data, reply) from the event
 * loop, never from this call: reply is NULL when there is none (error,
 * timeout).  Returns NULL when the command cannot be sent now (back-off
 * after a failure, too many waiting): the caller goes on without Redis.
 */

ngx_http_llm_redis_cmd_t *
ngx_http_llm_redis_send(ngx_http_llm_redis_t *rs, llm_resp_arg_t *argv,
    size_t argc, ngx_http_llm_redis_handler_pt handler, void *data)
{
    size_t                     len;
    ngx_buf_t                 *b;
    ngx_http_llm_redis_cmd_t  *cmd;

    if (rs->state == NGX_HTTP_LLM_REDIS_CLOSED) {

        if (rs->backoff
            && (ngx_msec_int_t) (rs->retry - ngx_current_msec) > 0)
        {
            return NULL;
        }

        if (ngx_http_llm_redis_connect(rs) != NGX_OK) {
            return NULL;
        }
    }

    if (rs->nwaiting >= NGX_HTTP_LLM_REDIS_MAX_WAIT) {
        return NULL;
    }

    b = rs->out;

    len = llm_resp_command((char *) b->last, b->end - b->last, argv, argc);

    if ((size_t) (b->end - b->last) < len) {

        /* the part written is dropped, the rest moves to the start */

        b->last = ngx_movemem(b->start, b->pos, b->last - b->pos);
        b->pos = b->start;

        if ((size_t) (b->end - b->last) < len) {
            return NULL;
        }

        (void) llm_resp_command((char *) b->last, b->end - b->last, argv,
                                argc);
    }

    cmd = ngx_http_llm_redis_queue(rs, handler, data);
    if (cmd == NULL) {
        return NULL;
    }

    b->last += len;

    /* written once the current event is handled, with the others */

    if (rs->state == NGX_HTTP_LLM_REDIS_READY
        && !rs->connection->write->posted)
    {
        ngx_post_event(rs->connection->write, &ngx_posted_events);
    }

    return cmd;
}


/* the caller is gone: the command's reply is read and dropped */

void
ngx_http_llm_redis_cancel(ngx_http_llm_redis_cmd_t *cmd)
{
    cmd->handler = NULL;
    cmd->data = NULL;
}


static ngx_http_llm_redis_cmd_t *
ngx_http_llm_redis_queue(ngx_http_llm_redis_t *rs,
    ngx_http_llm_redis_handler_pt handler, void *data)
{
    ngx_queue_t               *q;
    ngx_http_llm_redis_cmd_t  *cmd;

    if (!ngx_queue_empty(&rs->free)) {
        q = ngx_queue_head(&rs->free);
        ngx_queue_remove(q);
        cmd = ngx_queue_data(q, ngx_http_llm_redis_cmd_t, queue);

    } else {
        /* at most NGX_HTTP_LLM_REDIS_MAX_WAIT + 1 of them, reused */

        cmd = ngx_palloc(ngx_cycle->pool, sizeof(ngx_http_llm_redis_cmd_t));
        if (cmd == NULL) {
            return NULL;
        }
    }

    cmd->handler = handler;
    cmd->data = data;
    cmd->deadline = ngx_current_msec + rs->timeout;
    cmd->prologue = NULL;

    ngx_queue_insert_tail(&rs->waiting, &cmd->queue);
    rs->nwaiting++;

    rs->connection->idle = 0;

    if (!rs->connection->read->timer_set) {
        ngx_add_timer(rs->connection->read, rs->timeout);
    }

    return cmd;
}


static ngx_int_t
ngx_http_llm_redis_connect(ngx_http_llm_redis_t *rs)
{
    ngx_int_t               rc;
    ngx_buf_t              *b;
    llm_resp_arg_t          argv[3];
    ngx_connection_t       *c;
    ngx_peer_connection_t   pc;

    if (rs->out == NULL) {
        rs->out = ngx_create_temp_buf(ngx_cycle->pool,
                                      NGX_HTTP_LLM_REDIS_OUT);
        rs->in = ngx_create_temp_buf(ngx_cycle->pool, NGX_HTTP_LLM_REDIS_IN);

        if (rs->out == NULL || rs->in == NULL) {
            rs->out = NULL;
            return NGX_ERROR;
        }
    }

    ngx_memzero(&pc, sizeof(ngx_peer_connection_t));

    pc.sockaddr = rs->addr.sockaddr;
    pc.socklen = rs->addr.socklen;
    pc.name = &rs->name;
    pc.get = ngx_event_get_peer;
    pc.log = ngx_cycle->log;
    pc.log_error = NGX_ERROR_ERR;

    rc = ngx_event_connect_peer(&pc);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {

        if (pc.connection) {
            ngx_close_connection(pc.connection);
        }

        rs->connection = NULL;
        ngx_http_llm_redis_fail(rs, "could not connect");

        return NGX_ERROR;
    }

    c = pc.connection;

    /* TLS keeps its state on the connection's pool */

    c->pool = ngx_create_pool(128, ngx_cycle->log);
    if (c->pool == NULL) {
        ngx_close_connection(c);
        rs->connection = NULL;
        ngx_http_llm_redis_fail(rs, "out of memory");
        return NGX_ERROR;
    }

    c->data = rs;
    c->read->handler = ngx_http_llm_redis_read_handler;
    c->write->handler = ngx_http_llm_redis_write_handler;

    rs->connection = c;
    rs->state = NGX_HTTP_LLM_REDIS_CONNECTING;

    b = rs->out;
    b->pos = b->start;
    b->last = b->start;

    b = rs->in;
    b->pos = b->start;
    b->last = b->start;

    /* the password and the script first: EVALSHA finds it then */

    if (rs->password.len) {
        argv[0].data = "AUTH";
        argv[0].len = 4;
        argv[1].data = (const char *) rs->password.data;
        argv[1].len = rs->password.len;

        if (ngx_http_llm_redis_prologue(rs, argv, 2, "refused the password")
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    argv[0].data = "SCRIPT";
    argv[0].len = 6;
    argv[1].data = "LOAD";
    argv[1].len = 4;
    argv[2].data = (const char *) rs->script.data;
    argv[2].len = rs->script.len;

    if (ngx_http_llm_redis_prologue(rs, argv, 3, "refused the script")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (rc == NGX_AGAIN) {

        /* the write event says when the connection is made */

        return NGX_OK;
    }

    ngx_http_llm_redis_connected(rs);

    return (rs->connection == NULL) ? NGX_ERROR : NGX_OK;
}


/*
 * A command of a new connection's prologue, written before any other: an
 * error reply to it fails the connection with "why".  The password (at
 * most 4 KB) and the script fit the empty buffer.
 */

static ngx_int_t
ngx_http_llm_redis_prologue(ngx_http_llm_redis_t *rs, llm_resp_arg_t *argv,
    size_t argc, const char *why)
{
    size_t                     len;
    ngx_buf_t                 *b;
    ngx_http_llm_redis_cmd_t  *cmd;

    b = rs->out;

    len = llm_resp_command((char *) b->last, b->end - b->last, argv, argc);

    if ((size_t) (b->end - b->last) < len) {
        ngx_http_llm_redis_fail(rs, "command too long");
        return NGX_ERROR;
    }

    cmd = ngx_http_llm_redis_queue(rs, NULL, NULL);
    if (cmd == NULL) {
        ngx_http_llm_redis_fail(rs, "out of memory");
        return NGX_ERROR;
    }

    cmd->prologue = why;
    b->last += len;

    return NGX_OK;
}


/* the TCP connection is made: TLS, or the commands go out */

static void
ngx_http_llm_redis_connected(ngx_http_llm_redis_t *rs)
{
    ngx_connection_t  *c;
#if (NGX_SSL)
    ngx_int_t          rc;
#endif

    c = rs->connection;

#if (NGX_SSL)

    if (rs->ssl) {
        if (ngx_ssl_create_connection(rs->ssl, c, NGX_SSL_CLIENT) != NGX_OK) {
            ngx_http_llm_redis_fail(rs, "could not start TLS");
            return;
        }

        if (SSL_set_tlsext_host_name(c->ssl->connection,
                                     (char *) rs->ssl_name.data)
            == 0)
        {
            ngx_ssl_error(NGX_LOG_ERR, c->log, 0,
                          "SSL_set_tlsext_host_name(\"%V\") failed",
                          &rs->ssl_name);
            ngx_http_llm_redis_fail(rs, "could not start TLS");
            return;
        }

        rs->state = NGX_HTTP_LLM_REDIS_HANDSHAKE;

        rc = ngx_ssl_handshake(c);

        if (rc == NGX_AGAIN) {
            c->ssl->handler = ngx_http_llm_redis_handshaked;
            return;
        }

        ngx_http_llm_redis_handshaked(c);
        return;
    }

#endif

    rs->state = NGX_HTTP_LLM_REDIS_READY;

    ngx_post_event(c->write, &ngx_posted_events);
}


#if (NGX_SSL)

/* the TLS handshake is over (or timed out): the certificate is checked */

static void
ngx_http_llm_redis_handshaked(ngx_connection_t *c)
{
    long                   rc;
    ngx_http_llm_redis_t  *rs;

    rs = c->data;

    if (!c->ssl->handshaked) {
        ngx_http_llm_redis_fail(rs, c->read->timedout
                                    ? "timed out" : "failed the TLS handshake");
        return;
    }

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "llm: Redis at \"%V\": certificate verify error: "
                      "(%l:%s)", &rs->name, rc,
                      X509_verify_cert_error_string(rc));
        ngx_http_llm_redis_fail(rs, "sent a certificate that could not be "
                                "verified");
        return;
    }

    if (ngx_ssl_check_host(c, &rs->ssl_name) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "llm: Redis at \"%V\": its certificate is not for "
                      "\"%V\"", &rs->name, &rs->ssl_name);
        ngx_http_llm_redis_fail(rs, "sent a certificate for another name");
        return;
    }

    c->read->handler = ngx_http_llm_redis_read_handler;
    c->write->handler = ngx_http_llm_redis_write_handler;

    rs->state = NGX_HTTP_LLM_REDIS_READY;

    ngx_post_event(c->write, &ngx_posted_events);
}

#endif


static void
ngx_http_llm_redis_write_handler(ngx_event_t *wev)
{
    int                    err;
    ssize_t                n;
    socklen_t              len;
    ngx_buf_t             *b;
    ngx_connection_t      *c;
    ngx_http_llm_redis_t  *rs;

    c = wev->data;
    rs = c->data;

    if (rs->state == NGX_HTTP_LLM_REDIS_CONNECTING) {

        err = 0;
        len = sizeof(int);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len)
            == -1)
        {
            err = ngx_socket_errno;
        }

        if (err) {
            (void) ngx_connection_error(c, err, "connect() to Redis failed");
            ngx_http_llm_redis_fail(rs, "could not connect");
            return;
        }

        ngx_http_llm_redis_connected(rs);

        if (rs->state != NGX_HTTP_LLM_REDIS_READY) {
            return;
        }
    }

    b = rs->out;

    while (b->pos < b->last) {

        n = c->send(c, b->pos, b->last - b->pos);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR) {
            ngx_http_llm_redis_fail(rs, "could not send");
            return;
        }

        b->pos += n;
    }

    if (b->pos == b->last) {
        b->pos = b->start;
        b->last = b->start;
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_http_llm_redis_fail(rs, "could not send");
    }
}


static void
ngx_http_llm_redis_read_handler(ngx_event_t *rev)
{
    long                       n;
    ssize_t                    size;
    ngx_uint_t                 noscript;
    ngx_buf_t                 *b;
    ngx_queue_t               *q;
    ngx_connection_t          *c;
    llm_resp_reply_t           reply;
    ngx_http_llm_redis_t      *rs;
    ngx_http_llm_redis_cmd_t  *cmd;

    c = rev->data;
    rs = c->data;

    if (rev->timedout) {
        rev->timedout = 0;
        ngx_http_llm_redis_fail(rs, "timed out");
        return;
    }

    if (c->close) {

        /* the worker is shutting down, and nothing is awaited */

        ngx_http_llm_redis_close(rs);
        return;
    }

    if (rs->state == NGX_HTTP_LLM_REDIS_CONNECTING) {

        /* a refused connection is seen on both events: it is tested once */

        ngx_http_llm_redis_write_handler(c->write);
        return;
    }

    b = rs->in;

    for ( ;; ) {

        if (b->last == b->end) {
            b->last = ngx_movemem(b->start, b->pos, b->last - b->pos);
            b->pos = b->start;

            if (b->last == b->end) {
                ngx_http_llm_redis_fail(rs, "sent a reply that is too "
                                        "long");
                return;
            }
        }

        size = c->recv(c, b->last, b->end - b->last);

        if (size == NGX_AGAIN) {
            break;
        }

        if (size == 0 || size == NGX_ERROR) {

            if (rs->nwaiting == 0 && size == 0) {

                /* an idle connection closed by Redis */

                ngx_http_llm_redis_close(rs);
                return;
            }

            ngx_http_llm_redis_fail(rs, "closed the connection");
            return;
        }

        b->last += size;

        for ( ;; ) {
            n = llm_resp_parse((const char *) b->pos, b->last - b->pos,
                               &reply);

            if (n == 0) {
                break;
            }

            if (n < 0 || rs->nwaiting == 0) {
                ngx_http_llm_redis_fail(rs, "sent an invalid reply");
                return;
            }

            b->pos += n;

            q = ngx_queue_head(&rs->waiting);
            ngx_queue_remove(q);
            rs->nwaiting--;

            cmd = ngx_queue_data(q, ngx_http_llm_redis_cmd_t, queue);

            if (cmd->prologue && reply.type == '-') {
                ngx_queue_insert_head(&rs->free, q);
                ngx_http_llm_redis_fail(rs, cmd->prologue);
                return;
            }

            rs->backoff = 0;

            /* a SCRIPT FLUSH: the next connection loads the script again */

            noscript = (reply.type == '-' && reply.len >= 8
                        && ngx_strncmp(reply.str, "NOSCRIPT", 8) == 0);

            if (cmd->handler) {
                cmd->handler(cmd->data, &reply);
            }

            ngx_queue_insert_head(&rs->free, q);

            if (rs->connection == NULL) {

                /* the handler's command failed the connection */

                return;
            }

            if (noscript) {
                ngx_http_llm_redis_fail(rs, "lost the script");
                return;
            }
        }

        if (b->pos == b->last) {
            b->pos = b->start;
            b->last = b->start;
        }
    }

    ngx_http_llm_redis_timer(rs);

    if (rs->nwaiting == 0) {

        /*
         * idle: a worker that shuts down closes it (a connection opened
         * after the others were closed is closed here)
         */

        if (ngx_exiting) {
            ngx_http_llm_redis_close(rs);
            return;
        }

        c->idle = 1;
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_llm_redis_fail(rs, "could not read");
    }
}


/* the timer runs out when the oldest waiting command is due */

static void
ngx_http_llm_redis_timer(ngx_http_llm_redis_t *rs)
{
    ngx_msec_int_t             left;
    ngx_event_t               *rev;
    ngx_http_llm_redis_cmd_t  *cmd;

    rev = rs->connection->read;

    if (ngx_queue_empty(&rs->waiting)) {
        if (rev->timer_set) {
            ngx_del_timer(rev);
        }

        return;
    }

    cmd = ngx_queue_data(ngx_queue_head(&rs->waiting),
                         ngx_http_llm_redis_cmd_t, queue);

    left = (ngx_msec_int_t) (cmd->deadline - ngx_current_msec);

    ngx_add_timer(rev, left > 0 ? (ngx_msec_t) left : 1);
}


/*
 * The connection failed: it is closed, every waiting command gets no
 * reply, and new commands fail at once for the back-off.
 */

static void
ngx_http_llm_redis_fail(ngx_http_llm_redis_t *rs, const char *why)
{
    ngx_uint_t                 n;
    ngx_queue_t                waiting, *q;
    ngx_http_llm_redis_cmd_t  *cmd;

    rs->backoff = rs->backoff ? ngx_min(rs->backoff * 2,
                                        NGX_HTTP_LLM_REDIS_MAX_BACKOFF)
                              : NGX_HTTP_LLM_REDIS_BACKOFF;
    rs->retry = ngx_current_msec + rs->backoff;

    n = rs->nwaiting;

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "llm: Redis at \"%V\" %s: %ui waiting commands fail, "
                  "next try in %M ms", &rs->name, why, n, rs->backoff);

    /* the handlers may send again: they find the connection closed */

    ngx_queue_init(&waiting);

    if (!ngx_queue_empty(&rs->waiting)) {
        waiting = rs->waiting;
        waiting.next->prev = &waiting;
        waiting.prev->next = &waiting;
    }

    ngx_queue_init(&rs->waiting);
    rs->nwaiting = 0;

    ngx_http_llm_redis_close(rs);

    while (!ngx_queue_empty(&waiting)) {
        q = ngx_queue_head(&waiting);
        ngx_queue_remove(q);

        cmd = ngx_queue_data(q, ngx_http_llm_redis_cmd_t, queue);

        if (cmd->handler) {
            cmd->handler(cmd->data, NULL);
        }

        ngx_queue_insert_head(&rs->free, q);
    }
}


static void
ngx_http_llm_redis_close(ngx_http_llm_redis_t *rs)
{
    ngx_pool_t        *pool;
    ngx_connection_t  *c;

    c = rs->connection;

    rs->state = NGX_HTTP_LLM_REDIS_CLOSED;
    rs->connection = NULL;

    if (c == NULL) {
        return;
    }

    c->read->handler = ngx_http_llm_redis_dummy_handler;
    c->write->handler = ngx_http_llm_redis_dummy_handler;

#if (NGX_SSL)
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        (void) ngx_ssl_shutdown(c);
    }
#endif

    pool = c->pool;

    ngx_close_connection(c);
    ngx_destroy_pool(pool);
}


static void
ngx_http_llm_redis_dummy_handler(ngx_event_t *ev)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0, "llm redis dummy handler");
}
