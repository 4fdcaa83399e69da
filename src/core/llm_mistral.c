
/*
 * ngx_http_llm_router_module: Mistral adapter (docs/providers.md).
 *
 * Same wire format as OpenAI, but Mistral rejects fields it does not know:
 * max_completion_tokens becomes max_tokens, seed becomes random_seed, and
 * OpenAI-only fields are dropped.  Only a request that has such fields is
 * re-serialised; any other takes the lean path of the OpenAI adapter.
 */


#include <string.h>

#include "llm_internal.h"


static int llm_mistral_encode(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
static int llm_mistral_rewrite(const llm_request_t *req, const char *model,
    llm_pool_t *pool, llm_http_request_t *out);
static int llm_mistral_rename(cJSON *root, const char *from, const char *to);


const llm_adapter_t  llm_mistral_adapter = {
    "mistral",
    "https://api.mistral.ai/v1",
    llm_mistral_encode,
    llm_compat_error,
    NULL,
    llm_mistral_stream_event,
    0
};


/* OpenAI-only top-level fields */

static const char  *const llm_mistral_drop[] = {
    "stream_options",
    "user",
    "store",
    "service_tier",
    "logit_bias",
    NULL
};


static int
llm_mistral_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    size_t  i;

    if (llm_compat_head(p, "/chat/completions", pool, out, err) != LLM_OK) {
        return LLM_ERROR;
    }

    if (req->root == NULL) {
        llm_error_set(err, 500, "server_error", NULL, NULL,
                      "the request was not parsed");
        return LLM_ERROR;
    }

    if (cJSON_GetObjectItemCaseSensitive(req->root, "max_completion_tokens")
        != NULL
        || cJSON_GetObjectItemCaseSensitive(req->root, "seed") != NULL)
    {
        goto rewrite;
    }

    for (i = 0; llm_mistral_drop[i] != NULL; i++) {
        if (cJSON_GetObjectItemCaseSensitive(req->root, llm_mistral_drop[i])
            != NULL)
        {
            goto rewrite;
        }
    }

    return llm_compat_body(req, p->model, pool, out, err);

rewrite:

    if (llm_mistral_rewrite(req, p->model, pool, out) != LLM_OK) {
        llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
        return LLM_ERROR;
    }

    return LLM_OK;
}


static int
llm_mistral_rewrite(const llm_request_t *req, const char *model,
    llm_pool_t *pool, llm_http_request_t *out)
{
    cJSON   *root, *item;
    size_t   i;

    root = cJSON_Duplicate(req->root, 1);
    if (root == NULL) {
        return LLM_ERROR;
    }

    if (llm_mistral_rename(root, "max_completion_tokens", "max_tokens")
        != LLM_OK
        || llm_mistral_rename(root, "seed", "random_seed") != LLM_OK)
    {
        goto failed;
    }

    for (i = 0; llm_mistral_drop[i] != NULL; i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, llm_mistral_drop[i]);
    }

    if (model != NULL) {
        item = cJSON_CreateString(model);
        if (item == NULL) {
            goto failed;
        }

        if (cJSON_GetObjectItemCaseSensitive(root, "model") != NULL) {
            if (!cJSON_ReplaceItemInObjectCaseSensitive(root, "model", item))
            {
                cJSON_Delete(item);
                goto failed;
            }

        } else if (!cJSON_AddItemToObject(root, "model", item)) {
            cJSON_Delete(item);
            goto failed;
        }
    }

    out->body = llm_json_print(root, pool, &out->body_len);
    cJSON_Delete(root);

    return (out->body != NULL) ? LLM_OK : LLM_ERROR;

failed:

    cJSON_Delete(root);

    return LLM_ERROR;
}


/* "from" becomes "to" unless "to" is there already: then it is dropped */

static int
llm_mistral_rename(cJSON *root, const char *from, const char *to)
{
    cJSON  *item;

    item = cJSON_DetachItemFromObjectCaseSensitive(root, from);

    if (item == NULL) {
        return LLM_OK;
    }

    if (cJSON_GetObjectItemCaseSensitive(root, to) != NULL) {
        cJSON_Delete(item);
        return LLM_OK;
    }

    if (!cJSON_AddItemToObject(root, to, item)) {
        cJSON_Delete(item);
        return LLM_ERROR;
    }

    return LLM_OK;
}
