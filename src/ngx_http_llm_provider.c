
/*
 * Copyright (C) The ngx_http_llm_router_module authors
 */


/*
 * The llm_provider blocks: a provider's type, address, model, key, price
 * and health settings, checked when the configuration is loaded.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_router.h"


#define NGX_HTTP_LLM_MAX_KEY  4096


static char *ngx_http_llm_provider_param(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static char *ngx_http_llm_provider_check(ngx_conf_t *cf,
    ngx_http_llm_provider_t *p);
static char *ngx_http_llm_provider_url(ngx_conf_t *cf,
    ngx_http_llm_provider_t *p);
static char *ngx_http_llm_provider_key(ngx_conf_t *cf,
    ngx_http_llm_provider_t *p, ngx_str_t *value);
static char *ngx_http_llm_provider_serves(ngx_conf_t *cf,
    ngx_http_llm_provider_t *p);
static char *ngx_http_llm_provider_embed(ngx_conf_t *cf,
    ngx_http_llm_provider_t *p);
static char *ngx_http_llm_provider_price(ngx_conf_t *cf,
    ngx_http_llm_provider_t *p);


char *
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

    if (ngx_strcmp(name->data, "limit") == 0) {
        return ngx_http_llm_provider_limit(cf, p);
    }

    if (ngx_strcmp(name->data, "resolve") == 0) {

        if (cf->args->nelts != 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"resolve\" of llm_provider \"%V\" takes "
                               "no arguments", &p->name);
            return NGX_CONF_ERROR;
        }

        if (p->resolve) {
            goto duplicate;
        }

        p->resolve = 1;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "serves") == 0) {
        return ngx_http_llm_provider_serves(cf, p);
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

    if (ngx_strcmp(name->data, "embedding_group") == 0) {

        if (p->embedding_group.data) {
            goto duplicate;
        }

        p->embedding_group = value[1];
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "input_type") == 0) {

        if (p->input_type.data) {
            goto duplicate;
        }

        p->input_type = value[1];
        return NGX_CONF_OK;
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

    rv = ngx_http_llm_provider_embed(cf, p);
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


/* "serves chat | embeddings ...": what the provider is routed for */

static char *
ngx_http_llm_provider_serves(ngx_conf_t *cf, ngx_http_llm_provider_t *p)
{
    ngx_str_t   *value;
    ngx_uint_t   i, bit;

    value = cf->args->elts;

    if (p->serves) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"serves\" is duplicate in llm_provider \"%V\"",
                           &p->name);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts < 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of arguments in \"serves\" "
                           "of llm_provider \"%V\"", &p->name);
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "chat") == 0) {
            bit = NGX_HTTP_LLM_SERVES_CHAT;

        } else if (ngx_strcmp(value[i].data, "embeddings") == 0) {
            bit = NGX_HTTP_LLM_SERVES_EMBED;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"serves\" value \"%V\" in "
                               "llm_provider \"%V\" (chat, embeddings)",
                               &value[i], &p->name);
            return NGX_CONF_ERROR;
        }

        if (p->serves & bit) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" is given twice in \"serves\" of "
                               "llm_provider \"%V\"", &value[i], &p->name);
            return NGX_CONF_ERROR;
        }

        p->serves |= bit;
    }

    return NGX_CONF_OK;
}


/*
 * Embeddings: by default a provider serves them when its type has an
 * embeddings API; "input_type" is checked against what the type takes.
 */

static char *
ngx_http_llm_provider_embed(ngx_conf_t *cf, ngx_http_llm_provider_t *p)
{
    u_char      c;
    ngx_uint_t  i, ok;

    if (p->serves == 0) {
        p->serves = NGX_HTTP_LLM_SERVES_CHAT;

        if (p->adapter->embed_encode) {
            p->serves |= NGX_HTTP_LLM_SERVES_EMBED;
        }

    } else if ((p->serves & NGX_HTTP_LLM_SERVES_EMBED)
               && p->adapter->embed_encode == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llm_provider \"%V\" cannot serve embeddings: "
                           "type %s has no embeddings API",
                           &p->name, p->adapter->name);
        return NGX_CONF_ERROR;
    }

    if (p->input_type.data == NULL) {
        return NGX_CONF_OK;
    }

    ok = 0;

    if (ngx_strcmp(p->adapter->name, "cohere") == 0) {
        ok = (ngx_strcmp(p->input_type.data, "search_document") == 0
              || ngx_strcmp(p->input_type.data, "search_query") == 0
              || ngx_strcmp(p->input_type.data, "classification") == 0
              || ngx_strcmp(p->input_type.data, "clustering") == 0);

    } else if (ngx_strcmp(p->adapter->name, "gemini") == 0) {

        /* Gemini's own task names: RETRIEVAL_DOCUMENT, ... */

        ok = (p->input_type.len > 0);

        for (i = 0; i < p->input_type.len; i++) {
            c = p->input_type.data[i];

            if (!((c >= 'A' && c <= 'Z') || c == '_')) {
                ok = 0;
                break;
            }
        }

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"input_type\" of llm_provider \"%V\" is for "
                           "cohere and gemini providers", &p->name);
        return NGX_CONF_ERROR;
    }

    if (!ok) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid input_type \"%V\" in llm_provider "
                           "\"%V\"", &p->input_type, &p->name);
        return NGX_CONF_ERROR;
    }

    p->core.input_type = (const char *) p->input_type.data;

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

    /*
     * "resolve": the host name is looked up with the location's resolver
     * for each request, not here; an address needs no lookup
     */

    u.no_resolve = p->resolve;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in url \"%V\" of llm_provider \"%V\"",
                               u.err, &p->url, &p->name);
        }

        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0 && !p->resolve) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no address for url \"%V\" of llm_provider \"%V\"",
                           &p->url, &p->name);
        return NGX_CONF_ERROR;
    }

    if (u.naddrs) {
        p->resolve = 0;
    }

    p->addrs = u.addrs;
    p->naddrs = u.naddrs;
    p->host = u.host;
    p->port = u.port;

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
    u_char     *o;
    ngx_str_t   owner;

    if (value->len == 3 && ngx_strncmp(value->data, "off", 3) == 0) {
        ngx_str_null(&p->api_key);
        return NGX_CONF_OK;
    }

    o = ngx_pnalloc(cf->pool, sizeof("llm_provider \"\"") - 1 + p->name.len);
    if (o == NULL) {
        return NGX_CONF_ERROR;
    }

    owner.data = o;
    owner.len = ngx_sprintf(o, "llm_provider \"%V\"", &p->name) - o;

    return ngx_http_llm_secret(cf, value, &owner, "api_key", &p->api_key);
}


/*
 * A secret (a provider's key, a Redis password) from "env:VARIABLE" or
 * "file:/path", never from the configuration's text; "owner" and "name"
 * say whose it is in the errors.
 */

char *
ngx_http_llm_secret(ngx_conf_t *cf, ngx_str_t *value, ngx_str_t *owner,
    const char *name, ngx_str_t *secret)
{
    char             *env;
    u_char           *key;
    size_t            len;
    ssize_t           n;
    ngx_str_t         path;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    if (ngx_process == NGX_PROCESS_SIGNALLER
        && ((value->len > 4 && ngx_strncmp(value->data, "env:", 4) == 0)
            || (value->len > 5 && ngx_strncmp(value->data, "file:", 5) == 0)))
    {
        /*
         * "nginx -s reload" parses the configuration only to find the pid
         * file: the secret is read by the master that loads the
         * configuration, so the shell that signals need not have it
         * ("nginx -t" still checks it)
         */

        ngx_str_null(secret);
        return NGX_CONF_OK;
    }

    if (value->len > 4 && ngx_strncmp(value->data, "env:", 4) == 0) {

        /* the value is NUL-terminated by the configuration parser */

        env = getenv((char *) value->data + 4);

        if (env == NULL || env[0] == '\0') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%V: environment variable \"%s\" for \"%s\" "
                               "is not set or empty", owner,
                               value->data + 4, name);
            return NGX_CONF_ERROR;
        }

        len = ngx_strlen(env);

        if (len > NGX_HTTP_LLM_MAX_KEY) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%V: \"%s\" is too long", owner, name);
            return NGX_CONF_ERROR;
        }

        key = ngx_pnalloc(cf->pool, len + 1);
        if (key == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(key, env, len + 1);

    } else if (value->len > 5 && ngx_strncmp(value->data, "file:", 5) == 0) {

        path.data = value->data + 5;
        path.len = value->len - 5;

        if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&file, sizeof(ngx_file_t));

        file.name = path;
        file.log = cf->log;
        file.fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

        if (file.fd == NGX_INVALID_FILE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "%V: cannot open \"%s\" file \"%V\"",
                               owner, name, &path);
            return NGX_CONF_ERROR;
        }

        if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
            || ngx_file_size(&fi) > NGX_HTTP_LLM_MAX_KEY)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%V: \"%s\" file \"%V\" is unreadable or "
                               "too large", owner, name, &path);
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
                               "%V: cannot read \"%s\" file \"%V\"",
                               owner, name, &path);
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
                               "%V: \"%s\" file \"%V\" is empty",
                               owner, name, &path);
            return NGX_CONF_ERROR;
        }

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%s\" in %V: use %s (keys are not "
                           "written into the configuration)", name, owner,
                           ngx_strcmp(name, "api_key") == 0
                           ? "\"env:VARIABLE\", \"file:/path\" or \"off\""
                           : "\"env:VARIABLE\" or \"file:/path\"");
        return NGX_CONF_ERROR;
    }

    for (n = 0; key[n]; n++) {
        if (key[n] < 0x20 || key[n] == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%V: \"%s\" contains control characters",
                               owner, name);
            return NGX_CONF_ERROR;
        }
    }

    secret->data = key;
    secret->len = n;

    return NGX_CONF_OK;
}


/*
 * "price INPUT OUTPUT [cache_read=P] [cache_write=P]": USD per million
 * tokens with up to six decimals, kept as micro-USD per million tokens,
 * that is pico-USD per token: costs are exact integers.
 */

static char *
ngx_http_llm_provider_price(ngx_conf_t *cf, ngx_http_llm_provider_t *p)
{
    u_char              *v;
    size_t               len;
    ngx_str_t           *value;
    ngx_uint_t           i, read, write;
    unsigned long long   n[4];

    value = cf->args->elts;

    if (p->priced) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"price\" is duplicate in llm_provider \"%V\"",
                           &p->name);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts < 3 || cf->args->nelts > 5) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"price\" of llm_provider \"%V\" takes the "
                           "input and output prices in USD per million "
                           "tokens, and optionally \"cache_read=\" and "
                           "\"cache_write=\"", &p->name);
        return NGX_CONF_ERROR;
    }

    read = 0;
    write = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        v = value[i].data;
        len = value[i].len;

        if (i > 2 && len > 11 && ngx_strncmp(v, "cache_read=", 11) == 0
            && !read)
        {
            v += 11;
            len -= 11;
            read = 1;

            if (llm_price_parse((const char *) v, len, &n[2]) != LLM_OK) {
                goto invalid;
            }

            continue;
        }

        if (i > 2 && len > 12 && ngx_strncmp(v, "cache_write=", 12) == 0
            && !write)
        {
            v += 12;
            len -= 12;
            write = 1;

            if (llm_price_parse((const char *) v, len, &n[3]) != LLM_OK) {
                goto invalid;
            }

            continue;
        }

        if (i > 2 || llm_price_parse((const char *) v, len, &n[i - 1])
                     != LLM_OK)
        {
            goto invalid;
        }
    }

    p->price.input = n[0];
    p->price.output = n[1];
    p->price.cache_read = read ? n[2] : n[0];
    p->price.cache_write = write ? n[3] : n[0];
    p->priced = 1;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid price \"%V\" in llm_provider \"%V\": "
                       "prices are USD per million tokens with at most six "
                       "decimals, like \"3\" or \"0.075\"",
                       &value[i], &p->name);
    return NGX_CONF_ERROR;
}


ngx_int_t
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
