
/*
 * ngx_http_llm_router_module: the adapter registry and the encoding shared
 * by OpenAI-compatible providers.
 */


#include <string.h>

#include "llm_internal.h"


#define LLM_SERVER_ERROR    "server_error"


static int llm_compat_check(const char *s, size_t len);
static void llm_compat_body_write(llm_out_t *out, const char *model,
    int found, int empty);


const llm_adapter_t  *const llm_adapters[] = {
    &llm_openai_adapter,
    &llm_mistral_adapter,
    &llm_anthropic_adapter,
    &llm_gemini_adapter,
    &llm_cohere_adapter,
    NULL
};


const llm_adapter_t *
llm_adapter_find(const char *name, size_t len)
{
    size_t                i, n;
    unsigned char         c;
    const llm_adapter_t  *ad;

    if (name == NULL) {
        return NULL;
    }

    for (n = 0; llm_adapters[n] != NULL; n++) {
        ad = llm_adapters[n];

        /* ASCII case-insensitive; adapter names are lowercase */

        for (i = 0; i < len && ad->name[i] != '\0'; i++) {
            c = (unsigned char) name[i];

            if (c >= 'A' && c <= 'Z') {
                c |= 0x20;
            }

            if (c != (unsigned char) ad->name[i]) {
                break;
            }
        }

        if (i == len && ad->name[len] == '\0') {
            return ad;
        }
    }

    return NULL;
}


/* no control characters, so nothing can break out of a header or a path */

static int
llm_compat_check(const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] == 0x7f) {
            return LLM_ERROR;
        }
    }

    return LLM_OK;
}


int
llm_compat_head(const llm_provider_t *p, const char *suffix,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    char        *value, *path, *d;
    size_t       base_len, key_len, all_len, query_len, suffix_len, len;
    const char  *base, *query, *name, *key;

    memset(out, 0, sizeof(llm_http_request_t));

    out->method = "POST";

    name = (p->name != NULL) ? p->name : "(unnamed)";
    base = (p->base_path != NULL) ? p->base_path : "";
    key = (p->api_key != NULL) ? p->api_key : "";

    key_len = strlen(key);
    all_len = strlen(base);

    if (llm_compat_check(base, all_len) != LLM_OK
        || memchr(base, ' ', all_len) != NULL)
    {
        llm_error_set(err, 500, LLM_SERVER_ERROR, NULL, NULL,
                      "provider \"%.64s\" is misconfigured: invalid URL path",
                      name);
        return LLM_ERROR;
    }

    if (llm_compat_check(key, key_len) != LLM_OK) {
        llm_error_set(err, 500, LLM_SERVER_ERROR, NULL, NULL,
                      "provider \"%.64s\" is misconfigured: invalid API key",
                      name);
        return LLM_ERROR;
    }

    query = memchr(base, '?', all_len);
    base_len = (query != NULL) ? (size_t) (query - base) : all_len;
    query_len = all_len - base_len;

    while (base_len > 0 && base[base_len - 1] == '/') {
        base_len--;
    }

    /* the path: "/" unless the base has one, the base, suffix, query */

    suffix_len = strlen(suffix);

    len = (base_len > 0 && base[0] != '/') + base_len + suffix_len
          + query_len;

    path = llm_palloc(pool, len + 1);
    if (path == NULL) {
        goto nomem;
    }

    d = path;

    if (base_len > 0 && base[0] != '/') {
        *d++ = '/';
    }

    memcpy(d, base, base_len);
    d += base_len;
    memcpy(d, suffix, suffix_len);
    d += suffix_len;
    memcpy(d, base + all_len - query_len, query_len);
    d[query_len] = '\0';

    out->path = path;

    if (key_len) {
        value = llm_palloc(pool, sizeof("Bearer ") - 1 + key_len + 1);
        if (value == NULL) {
            goto nomem;
        }

        memcpy(value, "Bearer ", sizeof("Bearer ") - 1);
        memcpy(value + sizeof("Bearer ") - 1, key, key_len + 1);

        out->headers[0].name = "Authorization";
        out->headers[0].value = value;
        out->nheaders = 1;
    }

    return LLM_OK;

nomem:

    llm_error_set(err, 500, LLM_SERVER_ERROR, NULL, NULL, "out of memory");

    return LLM_ERROR;
}


int
llm_compat_body(const llm_request_t *req, const char *model,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    int              rc, found, empty;
    size_t           pos, end;
    llm_out_t        o;
    llm_json_span_t  span;

    if (req->root == NULL || req->body == NULL) {
        llm_error_set(err, 500, LLM_SERVER_ERROR, NULL, NULL,
                      "the request was not parsed");
        return LLM_ERROR;
    }

    out->nparts = 0;

    if (model == NULL) {
        out->body = (char *) req->body;
        out->body_len = req->body_len;
        return LLM_OK;
    }

    empty = 0;
    pos = 0;
    end = 0;

    rc = llm_json_member(req->body, req->body_len, "model", &span);
    found = (rc == LLM_OK);

    if (found) {
        pos = span.value;
        end = span.end;

    } else if (rc == LLM_DECLINED) {
        rc = llm_json_object_open(req->body, req->body_len, &pos, &empty);
        end = pos;
    }

    if (rc == LLM_ERROR) {
        llm_error_set(err, 500, LLM_SERVER_ERROR, NULL, NULL,
                      "the request body could not be rewritten");
        return LLM_ERROR;
    }

    /*
     * The new value is the only piece written: the client's bytes before
     * and after it go out as they are.
     */

    o.buf = NULL;
    o.len = 0;
    o.size = 0;

    llm_compat_body_write(&o, model, found, empty);

    if (llm_out_alloc(&o, pool) == NULL) {
        llm_error_set(err, 500, LLM_SERVER_ERROR, NULL, NULL,
                      "out of memory");
        return LLM_ERROR;
    }

    llm_compat_body_write(&o, model, found, empty);
    o.buf[o.len] = '\0';

    out->body = NULL;
    out->parts[0].data = req->body;
    out->parts[0].len = pos;
    out->parts[1].data = o.buf;
    out->parts[1].len = o.len;
    out->parts[2].data = req->body + end;
    out->parts[2].len = req->body_len - end;
    out->nparts = 3;
    out->body_len = req->body_len - (end - pos) + o.len;

    return LLM_OK;
}


/* the new "model" value, or the whole member when the client sent none */

static void
llm_compat_body_write(llm_out_t *out, const char *model, int found,
    int empty)
{
    if (!found) {
        llm_out_cstr(out, "\"model\":");
    }

    llm_out_str(out, model, strlen(model));

    if (!found && !empty) {
        llm_out_raw(out, ",", 1);
    }
}


const char *
llm_http_body(const llm_http_request_t *hr, llm_pool_t *pool)
{
    char    *b, *p;
    size_t   i;

    if (hr->body != NULL || hr->nparts == 0) {
        return hr->body;
    }

    b = llm_palloc(pool, hr->body_len + 1);
    if (b == NULL) {
        return NULL;
    }

    p = b;

    for (i = 0; i < hr->nparts; i++) {
        if (hr->parts[i].len) {
            memcpy(p, hr->parts[i].data, hr->parts[i].len);
            p += hr->parts[i].len;
        }
    }

    *p = '\0';

    return b;
}
