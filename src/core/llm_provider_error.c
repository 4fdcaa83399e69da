
/*
 * ngx_http_llm_router_module: provider error bodies of OpenAI-compatible
 * providers (OpenAI, Mistral) turned into what the client gets.
 */


#include <stdio.h>
#include <string.h>

#include "llm_internal.h"


static int llm_compat_is_quota(const cJSON *obj);
static const char *llm_compat_string(const cJSON *obj, const char *name);
static const char *llm_compat_message(const cJSON *root);


static int
llm_compat_is_quota(const cJSON *obj)
{
    const char  *s;

    s = llm_compat_string(obj, "type");

    if (s != NULL && strcmp(s, "insufficient_quota") == 0) {
        return 1;
    }

    s = llm_compat_string(obj, "code");

    return (s != NULL && strcmp(s, "insufficient_quota") == 0);
}


/* a non-empty string member or NULL */

static const char *
llm_compat_string(const cJSON *obj, const char *name)
{
    const cJSON  *item;

    if (!cJSON_IsObject(obj)) {
        return NULL;
    }

    item = llm_json_get(obj, name);

    if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
        return NULL;
    }

    return item->valuestring;
}


/*
 * The first string of "message", "detail" (or "detail"[0]."msg", as
 * FastAPI validation errors have it), "error", "error"."message".
 */

static const char *
llm_compat_message(const cJSON *root)
{
    const char   *s;
    const cJSON  *item;

    if (cJSON_IsString(root) && root->valuestring[0] != '\0') {
        return root->valuestring;
    }

    s = llm_compat_string(root, "message");
    if (s != NULL) {
        return s;
    }

    s = llm_compat_string(root, "detail");
    if (s != NULL) {
        return s;
    }

    item = llm_json_get(root, "detail");

    if (cJSON_IsArray(item)) {
        s = llm_compat_string(item->child, "msg");
        if (s != NULL) {
            return s;
        }
    }

    s = llm_compat_string(root, "error");
    if (s != NULL) {
        return s;
    }

    return llm_compat_string(llm_json_get(root, "error"),
                             "message");
}


int
llm_compat_error(int status, const char *body, size_t len,
    llm_pool_t *pool, llm_provider_error_t *out)
{
    int           quota;
    char          generic[64];
    cJSON        *root;
    size_t        n;
    const char   *message, *type, *code;
    const cJSON  *e;

    out->retryable = 0;
    out->retry_after = 0;
    out->body = NULL;
    out->body_len = 0;

    root = NULL;
    e = NULL;

    if (body != NULL && len > 0) {
        (void) llm_json_parse(body, len, &root, NULL);
    }

    if (root != NULL) {
        e = llm_json_get(root, "error");
    }

    quota = (llm_compat_is_quota(root) || llm_compat_is_quota(e));

    out->retryable = !quota
                     && (status == 429 || status == 500 || status == 502
                         || status == 503 || status == 504 || status == 529);

    if (cJSON_IsObject(e)
        && llm_compat_string(e, "message") != NULL
        && llm_compat_string(e, "type") != NULL)
    {
        /* already OpenAI-shaped and strictly valid JSON: verbatim */

        cJSON_Delete(root);

        out->body = llm_pstrdup(pool, body, len);
        out->body_len = len;

        return (out->body != NULL) ? LLM_OK : LLM_ERROR;
    }

    code = NULL;

    if (quota) {
        type = "insufficient_quota";
        code = "insufficient_quota";

    } else if (status == 401) {
        type = "authentication_error";

    } else if (status == 403) {
        type = "permission_error";

    } else if (status == 429) {
        type = "rate_limit_error";
        code = "rate_limit_exceeded";

    } else if (status >= 400 && status < 500) {
        type = "invalid_request_error";

    } else if (status >= 500) {
        type = "server_error";

    } else {
        type = "api_error";
    }

    message = (root != NULL) ? llm_compat_message(root) : NULL;

    if (message == NULL) {
        snprintf(generic, sizeof(generic),
                 "The upstream provider returned HTTP %d", status);
        message = generic;
    }

    n = strlen(message);

    if (n > LLM_ERROR_MAX_MESSAGE) {
        n = llm_utf8_trim(message, LLM_ERROR_MAX_MESSAGE);
    }

    out->body = llm_error_render_raw(message, n, type, NULL, code, pool,
                                     &out->body_len);

    cJSON_Delete(root);

    return (out->body != NULL) ? LLM_OK : LLM_ERROR;
}
