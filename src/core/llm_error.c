
/*
 * ngx_http_llm_router_module: OpenAI-style error objects and the model
 * list, rendered into pool memory.
 */


#include <stdio.h>
#include <stdarg.h>
#include <string.h>

#include "llm_internal.h"


static void llm_models_write(llm_out_t *out, const char *const *ids,
    const char *const *owners, const unsigned *serves, size_t n,
    const char *created);


void
llm_error_set(llm_error_t *err, int status, const char *type,
    const char *param, const char *code, const char *fmt, ...)
{
    int      n;
    size_t   len;
    va_list  args;

    err->status = status;
    err->type = type;
    err->param = param;
    err->code = code;

    va_start(args, fmt);
    n = vsnprintf(err->message, sizeof(err->message), fmt, args);
    va_end(args);

    if (n < 0) {
        err->message[0] = '\0';
        return;
    }

    if ((size_t) n >= sizeof(err->message)) {
        len = llm_utf8_trim(err->message, sizeof(err->message) - 1);
        err->message[len] = '\0';
    }
}


char *
llm_error_render(const llm_error_t *err, llm_pool_t *pool, size_t *len)
{
    return llm_error_render_raw(err->message, strlen(err->message),
                                err->type, err->param, err->code, pool, len);
}


char *
llm_error_render_raw(const char *message, size_t message_len,
    const char *type, const char *param, const char *code, llm_pool_t *pool,
    size_t *len)
{
    llm_out_t  out;

    out.buf = NULL;
    out.len = 0;
    out.size = 0;

    llm_error_write(&out, message, message_len, type, param, code);

    if (llm_out_alloc(&out, pool) == NULL) {
        return NULL;
    }

    llm_error_write(&out, message, message_len, type, param, code);

    out.buf[out.len] = '\0';

    if (len != NULL) {
        *len = out.len;
    }

    return out.buf;
}


void
llm_error_write(llm_out_t *out, const char *message, size_t message_len,
    const char *type, const char *param, const char *code)
{
    if (type == NULL) {
        type = "api_error";
    }

    llm_out_cstr(out, "{\"error\":{\"message\":");
    llm_out_str(out, message, message_len);
    llm_out_cstr(out, ",\"type\":");
    llm_out_str(out, type, strlen(type));
    llm_out_cstr(out, ",\"param\":");

    if (param != NULL) {
        llm_out_str(out, param, strlen(param));

    } else {
        llm_out_cstr(out, "null");
    }

    llm_out_cstr(out, ",\"code\":");

    if (code != NULL) {
        llm_out_str(out, code, strlen(code));

    } else {
        llm_out_cstr(out, "null");
    }

    llm_out_cstr(out, "}}");
}


char *
llm_models_render(const char *const *ids, const char *const *owners,
    const unsigned *serves, size_t n, long created, llm_pool_t *pool,
    size_t *len)
{
    char       num[32];
    llm_out_t  out;

    if (ids == NULL) {
        n = 0;
    }

    snprintf(num, sizeof(num), "%ld", created);

    out.buf = NULL;
    out.len = 0;
    out.size = 0;

    llm_models_write(&out, ids, owners, serves, n, num);

    if (llm_out_alloc(&out, pool) == NULL) {
        return NULL;
    }

    llm_models_write(&out, ids, owners, serves, n, num);

    out.buf[out.len] = '\0';

    if (len != NULL) {
        *len = out.len;
    }

    return out.buf;
}


static void
llm_models_write(llm_out_t *out, const char *const *ids,
    const char *const *owners, const unsigned *serves, size_t n,
    const char *created)
{
    size_t       i;
    const char  *id, *owner;

    llm_out_cstr(out, "{\"object\":\"list\",\"data\":[");

    for (i = 0; i < n; i++) {
        id = ids[i] != NULL ? ids[i] : "";
        owner = (owners != NULL && owners[i] != NULL) ? owners[i] : "system";

        if (i) {
            llm_out_raw(out, ",", 1);
        }

        llm_out_cstr(out, "{\"id\":");
        llm_out_str(out, id, strlen(id));
        llm_out_cstr(out, ",\"object\":\"model\",\"created\":");
        llm_out_cstr(out, created);
        llm_out_cstr(out, ",\"owned_by\":");
        llm_out_str(out, owner, strlen(owner));

        if (serves != NULL) {
            llm_out_cstr(out, ",\"endpoints\":[");

            if (serves[i] & LLM_SERVES_CHAT) {
                llm_out_cstr(out, "\"chat.completions\"");
            }

            if ((serves[i] & LLM_SERVES_CHAT)
                && (serves[i] & LLM_SERVES_EMBED))
            {
                llm_out_raw(out, ",", 1);
            }

            if (serves[i] & LLM_SERVES_EMBED) {
                llm_out_cstr(out, "\"embeddings\"");
            }

            llm_out_raw(out, "]", 1);
        }

        llm_out_raw(out, "}", 1);
    }

    llm_out_cstr(out, "]}");
}
