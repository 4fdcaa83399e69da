
/*
 * ngx_http_llm_router_module: Mistral adapter (docs/providers/mistral.md).
 *
 * Mistral speaks the OpenAI wire format with differences, and rejects
 * what it does not know (422 "extra_forbidden"):
 *
 *   - "developer" messages become "system";
 *   - tool-call ids must be 9 characters [a-zA-Z0-9]: any other id (an
 *     OpenAI "call_...", another provider's) is replaced by base62 of a
 *     hash of it, the same in the assistant's call and in the tool
 *     result; ids that are already valid are kept, collisions within a
 *     request are resolved in the order of first appearance;
 *   - "max_completion_tokens" is "max_tokens", "seed" is "random_seed",
 *     tool_choice "required" is "any";
 *   - fields without effect on the answer's shape are dropped; fields
 *     that cannot be honoured are a 400 before any provider is contacted.
 *
 * The request's tree decides (no copy); a request that needs no change
 * takes the lean path of the OpenAI adapter.  One that does is written in
 * one pass over the client's bytes, walked in step with the tree: only
 * the values that change are written anew, the rest (the prompt) is
 * copied as it is, never re-serialised.
 *
 * Answers get what strict OpenAI clients require and Mistral omits:
 * "logprobs":null in every choice, "type":"function" in tool calls,
 * "model_length" as "length".  An answer that has them all is relayed as
 * it is.  Mistral's own tool-call ids are valid OpenAI ids: kept.
 */


#include <stdint.h>
#include <string.h>

#include "llm_internal.h"


#define LLM_MISTRAL_ID_LEN  9

#define LLM_MISTRAL_KEEP    0
#define LLM_MISTRAL_DROP    1
#define LLM_MISTRAL_EDIT    2


typedef struct {
    const char         *from;         /* the client's id (tree string) */
    char                to[LLM_MISTRAL_ID_LEN + 1];
} llm_mistral_id_t;


typedef struct {
    llm_pool_t         *pool;
    llm_error_t        *err;
    const char         *model;        /* the provider's, or NULL */
    llm_mistral_id_t   *ids;
    size_t              nids;
    size_t              max_ids;
    size_t             *by_from;      /* open addressing: index + 1 */
    size_t             *by_to;
    size_t              mask;
    size_t              extra;        /* bytes the rewrite may add */
    unsigned            change:1;     /* the body must be rewritten */
} llm_mistral_ctx_t;


/* writes the object at *pp in step with its tree, *pp past it */

typedef int (*llm_mistral_write_pt)(llm_mistral_ctx_t *ctx,
    const unsigned char **pp, const unsigned char *last, const cJSON *obj,
    llm_out_t *out);


static int llm_mistral_encode(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
static int llm_mistral_plan(llm_mistral_ctx_t *ctx, const cJSON *root);
static int llm_mistral_plan_top(llm_mistral_ctx_t *ctx, const cJSON *root);
static int llm_mistral_plan_message(llm_mistral_ctx_t *ctx,
    const cJSON *m, size_t i, int last);
static int llm_mistral_plan_ids(llm_mistral_ctx_t *ctx,
    const cJSON *messages, int valid);
static int llm_mistral_top_action(const cJSON *root, const cJSON *item);
static int llm_mistral_message_action(const char *role, const cJSON *item);
static const char *llm_mistral_role(const cJSON *m);
static int llm_mistral_id_valid(const char *s);
static uint64_t llm_mistral_hash(const char *s, uint64_t salt);
static void llm_mistral_base62(uint64_t h, char *to);
static llm_mistral_id_t *llm_mistral_id_find(llm_mistral_ctx_t *ctx,
    const char *from);
static int llm_mistral_id_taken(llm_mistral_ctx_t *ctx, const char *to);
static int llm_mistral_id_add(llm_mistral_ctx_t *ctx, const char *from,
    int valid);
static int llm_mistral_rewrite(llm_mistral_ctx_t *ctx,
    const llm_request_t *req, llm_out_t *out);
static int llm_mistral_key(const unsigned char **pp,
    const unsigned char *last, const unsigned char **k);
static int llm_mistral_skip(const unsigned char **pp,
    const unsigned char *last);
static int llm_mistral_copy(const unsigned char **pp,
    const unsigned char *last, const unsigned char *from, llm_out_t *out);
static int llm_mistral_next(const unsigned char **pp,
    const unsigned char *last, unsigned char close);
static int llm_mistral_write_array(llm_mistral_ctx_t *ctx,
    const unsigned char **pp, const unsigned char *last, const cJSON *arr,
    llm_out_t *out, llm_mistral_write_pt write);
static int llm_mistral_write_messages(llm_mistral_ctx_t *ctx,
    const unsigned char **pp, const unsigned char *last, const cJSON *arr,
    llm_out_t *out);
static int llm_mistral_write_message(llm_mistral_ctx_t *ctx,
    const unsigned char **pp, const unsigned char *last, const cJSON *m,
    llm_out_t *out);
static int llm_mistral_write_call(llm_mistral_ctx_t *ctx,
    const unsigned char **pp, const unsigned char *last, const cJSON *call,
    llm_out_t *out);
static int llm_mistral_write_id(llm_mistral_ctx_t *ctx, const char *key,
    const cJSON *item, llm_out_t *out);
static int llm_mistral_decode(const llm_request_t *req,
    const llm_provider_t *p, const char *body, size_t len,
    long long created, llm_pool_t *pool, llm_response_t *out,
    llm_error_t *err);
static int llm_mistral_fix_choice(cJSON *choice, int *change,
    const char **reason, llm_error_t *err);
static int llm_mistral_embed_encode(const llm_request_t *req,
    const llm_provider_t *p, llm_pool_t *pool, llm_http_request_t *out,
    llm_error_t *err);
static void llm_mistral_embed_write(llm_out_t *out, llm_json_splices_t *sp,
    const void *data);
static int llm_mistral_embed_decode(const llm_request_t *req,
    const llm_provider_t *p, const char *body, size_t len,
    llm_pool_t *pool, llm_response_t *out, llm_error_t *err);
static int llm_mistral_embed_tree(const llm_request_t *req,
    const llm_provider_t *p, const char *body, size_t len,
    llm_pool_t *pool, llm_response_t *out, llm_error_t *err);
static int llm_mistral_embed_data(const char *data, size_t len,
    llm_slice_t *vectors, size_t n, llm_error_t *err);


const llm_adapter_t  llm_mistral_adapter = {
    "mistral",
    "https://api.mistral.ai/v1",
    llm_mistral_encode,
    llm_compat_error,
    llm_mistral_decode,
    llm_mistral_stream_event,
    0,
    llm_mistral_embed_encode,
    llm_mistral_embed_decode,
    0,                                /* Mistral enforces its own limit */
    1                                 /* OpenAI's answer for floats */
};


/* top-level OpenAI fields that Mistral rejects and that can go unsaid */

static const char  *const llm_mistral_drop[] = {
    "stream_options",        /* Mistral always streams its usage */
    "user",
    "store",
    "service_tier",
    "logit_bias",
    "metadata",
    "prompt_cache_key",
    "safety_identifier",
    "reasoning_effort",
    "verbosity",
    NULL
};


/* top-level OpenAI fields that cannot be honoured: a 400 */

static const char  *const llm_mistral_reject[] = {
    "functions",
    "function_call",
    "audio",
    "web_search_options",
    NULL
};


/* fields of replayed assistant answers that are output only */

static const char  *const llm_mistral_output_only[] = {
    "refusal",
    "annotations",
    "audio",
    "reasoning_content",
    NULL
};


static const char  llm_mistral_digits[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";


static int
llm_mistral_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    size_t             n;
    llm_out_t          o;
    llm_mistral_ctx_t  ctx;

    if (llm_compat_head(p, "/chat/completions", pool, out, err) != LLM_OK) {
        return LLM_ERROR;
    }

    if (req->root == NULL || req->body == NULL) {
        llm_error_set(err, 500, "server_error", NULL, NULL,
                      "the request was not parsed");
        return LLM_ERROR;
    }

    memset(&ctx, 0, sizeof(llm_mistral_ctx_t));

    ctx.pool = pool;
    ctx.err = err;
    ctx.model = p->model;

    if (llm_mistral_plan(&ctx, req->root) != LLM_OK) {
        return LLM_ERROR;
    }

    if (!ctx.change) {
        return llm_compat_body(req, p->model, pool, out, err);
    }

    /* one pass into a buffer of the largest size the edits can give */

    o.len = req->body_len + ctx.extra + 64;

    if (p->model != NULL) {
        o.len += llm_json_escape(NULL, 0, p->model, strlen(p->model));
    }

    if (llm_out_alloc(&o, pool) == NULL) {
        goto nomem;
    }

    if (llm_mistral_rewrite(&ctx, req, &o) != LLM_OK) {
        return LLM_ERROR;
    }

    if (o.len > o.size) {

        /* not expected: the exact size, written again */

        n = o.len;
        o.buf = NULL;
        o.len = n;

        if (llm_out_alloc(&o, pool) == NULL) {
            goto nomem;
        }

        if (llm_mistral_rewrite(&ctx, req, &o) != LLM_OK) {
            return LLM_ERROR;
        }
    }

    o.buf[o.len] = '\0';

    out->body = o.buf;
    out->body_len = o.len;
    out->nparts = 0;

    return LLM_OK;

nomem:

    llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");

    return LLM_ERROR;
}


/*
 * What the request needs, from its tree: a 400 for what Mistral cannot
 * do, ctx->change when anything is to be rewritten, the id mapping.
 */

static int
llm_mistral_plan(llm_mistral_ctx_t *ctx, const cJSON *root)
{
    size_t        i, n, size;
    const cJSON  *messages, *m, *calls, *call, *id;

    if (llm_mistral_plan_top(ctx, root) != LLM_OK) {
        return LLM_ERROR;
    }

    messages = llm_json_get(root, "messages");

    if (!cJSON_IsArray(messages)) {
        return LLM_OK;
    }

    /* the ids of the request, to size the mapping */

    n = 0;
    i = 0;

    for (m = messages->child; m != NULL; m = m->next) {

        if (llm_mistral_plan_message(ctx, m, i, m->next == NULL) != LLM_OK) {
            return LLM_ERROR;
        }

        i++;

        for (id = m->child; id != NULL; id = id->next) {
            if (id->string == NULL) {
                continue;
            }

            if (strcmp(id->string, "tool_call_id") == 0) {
                n++;
                continue;
            }

            if (strcmp(id->string, "tool_calls") != 0) {
                continue;
            }

            calls = id;

            for (call = cJSON_IsArray(calls) ? calls->child : NULL;
                 call != NULL;
                 call = call->next)
            {
                n += (size_t) cJSON_GetArraySize(call);
            }
        }
    }

    if (n == 0) {
        return LLM_OK;
    }

    for (size = 8; size < 2 * n; size *= 2) { /* void */ }

    ctx->max_ids = n;
    ctx->mask = size - 1;

    /* a mapped id is 11 bytes with its quotes, its old value 2 or more */

    ctx->extra += n * LLM_MISTRAL_ID_LEN;

    ctx->ids = llm_palloc(ctx->pool, n * sizeof(llm_mistral_id_t));
    ctx->by_from = llm_palloc(ctx->pool, size * sizeof(size_t));
    ctx->by_to = llm_palloc(ctx->pool, size * sizeof(size_t));

    if (ctx->ids == NULL || ctx->by_from == NULL || ctx->by_to == NULL) {
        llm_error_set(ctx->err, 500, "server_error", NULL, NULL,
                      "out of memory");
        return LLM_ERROR;
    }

    memset(ctx->by_from, 0, size * sizeof(size_t));
    memset(ctx->by_to, 0, size * sizeof(size_t));

    /* valid ids keep their value: they are reserved first */

    if (llm_mistral_plan_ids(ctx, messages, 1) != LLM_OK
        || llm_mistral_plan_ids(ctx, messages, 0) != LLM_OK)
    {
        return LLM_ERROR;
    }

    return LLM_OK;
}


static int
llm_mistral_plan_top(llm_mistral_ctx_t *ctx, const cJSON *root)
{
    size_t        i;
    const char   *type, *s;
    const cJSON  *item, *tool;

    /* one walk over the members: the checks, then what becomes of each */

    for (item = root->child; item != NULL; item = item->next) {

        s = item->string;

        if (s == NULL) {
            continue;
        }

        switch (s[0]) {

        case 'a':
        case 'f':
        case 'w':
            for (i = 0; llm_mistral_reject[i] != NULL; i++) {
                if (strcmp(s, llm_mistral_reject[i]) == 0
                    && !cJSON_IsNull(item))
                {
                    llm_error_set(ctx->err, 400, "invalid_request_error",
                                  llm_mistral_reject[i],
                                  "unsupported_parameter",
                                  "'%s' is not supported by Mistral "
                                  "providers%s", llm_mistral_reject[i],
                                  (i < 2) ? ": use 'tools'" : "");
                    return LLM_ERROR;
                }
            }

            break;

        case 'l':
            if (strcmp(s, "logprobs") == 0 && cJSON_IsTrue(item)) {
                llm_error_set(ctx->err, 400, "invalid_request_error",
                              "logprobs", "unsupported_parameter",
                              "'logprobs' is not supported by Mistral "
                              "providers");
                return LLM_ERROR;
            }

            break;

        case 'm':
            if (strcmp(s, "modalities") == 0 && cJSON_IsArray(item)
                && (cJSON_GetArraySize(item) != 1
                    || !cJSON_IsString(item->child)
                    || strcmp(item->child->valuestring, "text") != 0))
            {
                llm_error_set(ctx->err, 400, "invalid_request_error",
                              "modalities", "unsupported_parameter",
                              "Mistral providers answer with text only");
                return LLM_ERROR;
            }

            break;

        case 't':
            if (strcmp(s, "tool_choice") == 0 && cJSON_IsObject(item)) {
                type = llm_json_str(item, "type");

                if (type == NULL || strcmp(type, "function") != 0) {
                    llm_error_set(ctx->err, 400, "invalid_request_error",
                                  "tool_choice", "unsupported_parameter",
                                  "Mistral providers take a 'tool_choice' "
                                  "of \"auto\", \"none\", \"required\" or "
                                  "{\"type\":\"function\",...}");
                    return LLM_ERROR;
                }
            }

            if (strcmp(s, "tools") != 0 || !cJSON_IsArray(item)) {
                break;
            }

            i = 0;

            for (tool = item->child; tool != NULL; tool = tool->next) {
                type = llm_json_str(tool, "type");

                if (type == NULL || strcmp(type, "function") != 0) {
                    llm_error_set(ctx->err, 400, "invalid_request_error",
                                  "tools", "unsupported_parameter",
                                  "tools[%lu]: Mistral providers take "
                                  "function tools only", (unsigned long) i);
                    return LLM_ERROR;
                }

                i++;
            }

            break;

        default:
            break;
        }

        switch (llm_mistral_top_action(root, item)) {

        case LLM_MISTRAL_DROP:
            ctx->change = 1;
            break;

        case LLM_MISTRAL_EDIT:
            ctx->change = 1;

            /* "seed" -> "random_seed" */
            ctx->extra += 8;
            break;

        default:
            break;
        }
    }

    return LLM_OK;
}


/* what becomes of a top-level member (ctx->model aside) */

static int
llm_mistral_top_action(const cJSON *root, const cJSON *item)
{
    size_t        i;
    const char   *s;
    const cJSON  *to;

    s = item->string;

    if (s == NULL || strcmp(s, "messages") == 0 || strcmp(s, "model") == 0
        || strcmp(s, "stream") == 0)
    {
        return LLM_MISTRAL_KEEP;
    }

    for (i = 0; llm_mistral_drop[i] != NULL; i++) {
        if (strcmp(s, llm_mistral_drop[i]) == 0) {
            return LLM_MISTRAL_DROP;
        }
    }

    if (strcmp(s, "logprobs") == 0 || strcmp(s, "top_logprobs") == 0
        || strcmp(s, "modalities") == 0)
    {
        /* false, null, 0, ["text"]: the default (true was rejected) */
        return LLM_MISTRAL_DROP;
    }

    if (strcmp(s, "functions") == 0 || strcmp(s, "function_call") == 0
        || strcmp(s, "audio") == 0 || strcmp(s, "web_search_options") == 0)
    {
        /* null (anything else was rejected) */
        return LLM_MISTRAL_DROP;
    }

    if (strcmp(s, "max_completion_tokens") == 0 || strcmp(s, "seed") == 0) {

        /* renamed, unless the Mistral name is there with a value */

        to = llm_json_get(root,
                 (s[0] == 'm') ? "max_tokens" : "random_seed");

        if (cJSON_IsNull(item) || (to != NULL && !cJSON_IsNull(to))) {
            return LLM_MISTRAL_DROP;
        }

        return LLM_MISTRAL_EDIT;
    }

    if (strcmp(s, "max_tokens") == 0 || strcmp(s, "random_seed") == 0) {

        /* null, beside the OpenAI name that has a value */

        to = llm_json_get(root,
                 (s[0] == 'm') ? "max_completion_tokens" : "seed");

        if (cJSON_IsNull(item) && to != NULL && !cJSON_IsNull(to)) {
            return LLM_MISTRAL_DROP;
        }

        return LLM_MISTRAL_KEEP;
    }

    if (strcmp(s, "tool_choice") == 0 && cJSON_IsString(item)
        && strcmp(item->valuestring, "required") == 0)
    {
        return LLM_MISTRAL_EDIT;
    }

    return LLM_MISTRAL_KEEP;
}


/* the role a message is sent with: "developer" is "system" */

static const char *
llm_mistral_role(const cJSON *m)
{
    const char  *role;

    role = llm_json_str(m, "role");

    if (role != NULL && strcmp(role, "developer") == 0) {
        return "system";
    }

    return (role != NULL) ? role : "";
}


static int
llm_mistral_plan_message(llm_mistral_ctx_t *ctx, const cJSON *m, size_t i,
    int last)
{
    const char   *role, *type;
    const cJSON  *item, *part, *prefix;

    role = llm_mistral_role(m);

    if (strcmp(role, "assistant") == 0) {
        item = llm_json_get(m, "function_call");

        if (item != NULL && !cJSON_IsNull(item)) {
            llm_error_set(ctx->err, 400, "invalid_request_error", "messages",
                          "unsupported_parameter",
                          "messages[%lu]: 'function_call' is not supported "
                          "by Mistral providers: use 'tool_calls'",
                          (unsigned long) i);
            return LLM_ERROR;
        }

        prefix = llm_json_get(m, "prefix");

        if (last && !cJSON_IsTrue(prefix)) {
            llm_error_set(ctx->err, 400, "invalid_request_error", "messages",
                          NULL,
                          "messages[%lu]: Mistral providers take a last "
                          "message from the user or a tool, or an "
                          "assistant message with \"prefix\": true",
                          (unsigned long) i);
            return LLM_ERROR;
        }

    } else if (llm_json_get(m, "prefix") != NULL) {
        llm_error_set(ctx->err, 400, "invalid_request_error", "messages",
                      NULL, "messages[%lu]: 'prefix' is for assistant "
                      "messages only", (unsigned long) i);
        return LLM_ERROR;
    }

    /* parts Mistral takes in another shape: not translated */

    item = llm_json_get(m, "content");

    for (part = cJSON_IsArray(item) ? item->child : NULL;
         part != NULL;
         part = part->next)
    {
        type = llm_json_str(part, "type");

        if (type != NULL
            && (strcmp(type, "input_audio") == 0
                || strcmp(type, "file") == 0))
        {
            llm_error_set(ctx->err, 400, "invalid_request_error", "messages",
                          "unsupported_content",
                          "messages[%lu]: \"%s\" content parts are not "
                          "supported by Mistral providers",
                          (unsigned long) i, type);
            return LLM_ERROR;
        }
    }

    for (item = m->child; item != NULL; item = item->next) {
        if (llm_mistral_message_action(role, item) != LLM_MISTRAL_KEEP) {
            ctx->change = 1;
            return LLM_OK;
        }
    }

    return LLM_OK;
}


/*
 * What becomes of a member of a message (ids aside: their mapping
 * decides): EDIT for a role written anew, DROP.
 */

static int
llm_mistral_message_action(const char *role, const cJSON *item)
{
    size_t        i;
    const char   *s;

    s = item->string;

    if (s == NULL) {
        return LLM_MISTRAL_KEEP;
    }

    if (strcmp(s, "role") == 0) {
        return (cJSON_IsString(item)
                && strcmp(item->valuestring, "developer") == 0)
               ? LLM_MISTRAL_EDIT : LLM_MISTRAL_KEEP;
    }

    /* Mistral takes "name" on tool messages only */

    if (strcmp(s, "name") == 0) {
        return (strcmp(role, "tool") == 0) ? LLM_MISTRAL_KEEP
                                           : LLM_MISTRAL_DROP;
    }

    if (strcmp(role, "assistant") != 0) {
        return LLM_MISTRAL_KEEP;
    }

    if (strcmp(s, "function_call") == 0) {
        /* null: anything else was rejected */
        return LLM_MISTRAL_DROP;
    }

    for (i = 0; llm_mistral_output_only[i] != NULL; i++) {
        if (strcmp(s, llm_mistral_output_only[i]) == 0) {
            return LLM_MISTRAL_DROP;
        }
    }

    return LLM_MISTRAL_KEEP;
}


/*
 * The ids of the request, in the order they appear: with valid, those
 * that are already Mistral ids (kept); else the others (mapped).
 */

static int
llm_mistral_plan_ids(llm_mistral_ctx_t *ctx, const cJSON *messages,
    int valid)
{
    const cJSON  *m, *item, *call, *id;

    for (m = messages->child; m != NULL; m = m->next) {
        for (item = m->child; item != NULL; item = item->next) {

            if (item->string == NULL) {
                continue;
            }

            if (strcmp(item->string, "tool_call_id") == 0) {
                if (cJSON_IsString(item)
                    && llm_mistral_id_valid(item->valuestring) == valid
                    && llm_mistral_id_add(ctx, item->valuestring, valid)
                       != LLM_OK)
                {
                    return LLM_ERROR;
                }

                continue;
            }

            if (strcmp(item->string, "tool_calls") != 0
                || !cJSON_IsArray(item))
            {
                continue;
            }

            for (call = item->child; call != NULL; call = call->next) {
                for (id = cJSON_IsObject(call) ? call->child : NULL;
                     id != NULL;
                     id = id->next)
                {
                    if (id->string != NULL && strcmp(id->string, "id") == 0
                        && cJSON_IsString(id)
                        && llm_mistral_id_valid(id->valuestring) == valid
                        && llm_mistral_id_add(ctx, id->valuestring, valid)
                           != LLM_OK)
                    {
                        return LLM_ERROR;
                    }
                }
            }
        }
    }

    return LLM_OK;
}


static int
llm_mistral_id_valid(const char *s)
{
    size_t  i;

    for (i = 0; i < LLM_MISTRAL_ID_LEN; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= 'a' && s[i] <= 'z')))
        {
            return 0;
        }
    }

    return s[i] == '\0';
}


/* FNV-1a over the id, then the SplitMix64 finaliser: 64 mixed bits */

static uint64_t
llm_mistral_hash(const char *s, uint64_t salt)
{
    uint64_t  h;

    h = 0xcbf29ce484222325ULL ^ salt;

    while (*s) {
        h ^= (unsigned char) *s++;
        h *= 0x100000001b3ULL;
    }

    h += 0x9e3779b97f4a7c15ULL;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;

    return h ^ (h >> 31);
}


/* 62^9 (about 2^53.6) ids: nine base62 digits of h */

static void
llm_mistral_base62(uint64_t h, char *to)
{
    size_t  i;

    for (i = 0; i < LLM_MISTRAL_ID_LEN; i++) {
        to[i] = llm_mistral_digits[h % 62];
        h /= 62;
    }

    to[LLM_MISTRAL_ID_LEN] = '\0';
}


static llm_mistral_id_t *
llm_mistral_id_find(llm_mistral_ctx_t *ctx, const char *from)
{
    size_t  i, k;

    if (ctx->by_from == NULL) {
        return NULL;
    }

    for (i = (size_t) llm_mistral_hash(from, 0) & ctx->mask;
         ctx->by_from[i] != 0;
         i = (i + 1) & ctx->mask)
    {
        k = ctx->by_from[i] - 1;

        if (strcmp(ctx->ids[k].from, from) == 0) {
            return &ctx->ids[k];
        }
    }

    return NULL;
}


static int
llm_mistral_id_taken(llm_mistral_ctx_t *ctx, const char *to)
{
    size_t  i;

    for (i = (size_t) llm_mistral_hash(to, 1) & ctx->mask;
         ctx->by_to[i] != 0;
         i = (i + 1) & ctx->mask)
    {
        if (strcmp(ctx->ids[ctx->by_to[i] - 1].to, to) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * A new id: kept when valid, else the first of hash(id, 0), hash(id, 1)...
 * that no other id of the request has; the same id twice is one entry.
 */

static int
llm_mistral_id_add(llm_mistral_ctx_t *ctx, const char *from, int valid)
{
    size_t             i, k;
    uint64_t           salt;
    llm_mistral_id_t  *id;

    if (llm_mistral_id_find(ctx, from) != NULL) {
        return LLM_OK;
    }

    if (ctx->nids == ctx->max_ids) {
        /* not expected: the ids were counted */
        llm_error_set(ctx->err, 500, "server_error", NULL, NULL,
                      "the tool-call ids could not be mapped");
        return LLM_ERROR;
    }

    k = ctx->nids++;
    id = &ctx->ids[k];
    id->from = from;

    if (valid) {
        memcpy(id->to, from, LLM_MISTRAL_ID_LEN + 1);

    } else {
        salt = 0;

        do {
            llm_mistral_base62(llm_mistral_hash(from, salt++), id->to);
        } while (llm_mistral_id_taken(ctx, id->to));

        ctx->change = 1;
    }

    for (i = (size_t) llm_mistral_hash(from, 0) & ctx->mask;
         ctx->by_from[i] != 0;
         i = (i + 1) & ctx->mask)
    { /* void */ }

    ctx->by_from[i] = k + 1;

    for (i = (size_t) llm_mistral_hash(id->to, 1) & ctx->mask;
         ctx->by_to[i] != 0;
         i = (i + 1) & ctx->mask)
    { /* void */ }

    ctx->by_to[i] = k + 1;

    return LLM_OK;
}


/*
 * The body written from the client's bytes, walked in step with its tree
 * (the tree was parsed from these bytes: same members, same order).  Each
 * byte is scanned once: a value is either copied as it is or walked into.
 */

static int
llm_mistral_rewrite(llm_mistral_ctx_t *ctx, const llm_request_t *req,
    llm_out_t *out)
{
    int                   rc, first, action;
    const cJSON          *item;
    const unsigned char  *p, *last, *k;

    out->len = 0;

    p = (const unsigned char *) req->body;
    last = p + req->body_len;

    p = llm_json_skip_ws(p, last);

    if (p == last || *p != '{') {
        goto failed;
    }

    p++;

    llm_out_raw(out, "{", 1);
    first = 1;

    if (ctx->model != NULL
        && llm_json_get(req->root, "model") == NULL)
    {
        llm_out_cstr(out, "\"model\":");
        llm_out_nstr(out, ctx->model);
        first = 0;
    }

    for (item = req->root->child; /* void */ ; item = item->next) {

        rc = llm_mistral_key(&p, last, &k);

        if (rc == LLM_DECLINED && item == NULL) {
            llm_out_raw(out, "}", 1);
            return LLM_OK;
        }

        if (rc != LLM_OK || item == NULL || item->string == NULL) {
            goto failed;
        }

        action = llm_mistral_top_action(req->root, item);

        if (strcmp(item->string, "model") == 0 && ctx->model != NULL) {
            action = LLM_MISTRAL_EDIT;
        }

        if (action != LLM_MISTRAL_DROP) {
            if (!first) {
                llm_out_raw(out, ",", 1);
            }

            first = 0;
        }

        if (action == LLM_MISTRAL_DROP) {
            rc = llm_mistral_skip(&p, last);

        } else if (action == LLM_MISTRAL_EDIT) {

            switch (item->string[0]) {

            case 'm':
                if (item->string[1] == 'o') {
                    llm_out_cstr(out, "\"model\":");
                    llm_out_nstr(out, ctx->model);
                    rc = llm_mistral_skip(&p, last);
                    break;
                }

                llm_out_cstr(out, "\"max_tokens\":");
                rc = llm_mistral_copy(&p, last, p, out);
                break;

            case 's':
                llm_out_cstr(out, "\"random_seed\":");
                rc = llm_mistral_copy(&p, last, p, out);
                break;

            default:
                llm_out_cstr(out, "\"tool_choice\":\"any\"");
                rc = llm_mistral_skip(&p, last);
                break;
            }

        } else if (strcmp(item->string, "messages") == 0
                   && cJSON_IsArray(item))
        {
            llm_out_raw(out, (const char *) k, (size_t) (p - k));
            rc = llm_mistral_write_messages(ctx, &p, last, item, out);

        } else {
            rc = llm_mistral_copy(&p, last, k, out);
        }

        if (rc != LLM_OK || llm_mistral_next(&p, last, '}') != LLM_OK) {
            goto failed;
        }
    }

failed:

    llm_error_set(ctx->err, 500, "server_error", NULL, NULL,
                  "the request body could not be rewritten");

    return LLM_ERROR;
}


/*
 * The key of the member at *pp: k at its quote, *pp at the value.
 * LLM_DECLINED at the object's end (*pp past it).
 */

static int
llm_mistral_key(const unsigned char **pp, const unsigned char *last,
    const unsigned char **k)
{
    const unsigned char  *p;

    p = llm_json_skip_ws(*pp, last);

    if (p == last) {
        return LLM_ERROR;
    }

    if (*p == '}') {
        *pp = p + 1;
        return LLM_DECLINED;
    }

    if (*p != '"') {
        return LLM_ERROR;
    }

    *k = p;

    p = llm_json_skip_value(p, last);
    if (p == NULL) {
        return LLM_ERROR;
    }

    p = llm_json_skip_ws(p, last);

    if (p == last || *p != ':') {
        return LLM_ERROR;
    }

    *pp = llm_json_skip_ws(p + 1, last);

    return LLM_OK;
}


/* *pp past the value there */

static int
llm_mistral_skip(const unsigned char **pp, const unsigned char *last)
{
    const unsigned char  *e;

    e = llm_json_skip_value(*pp, last);

    if (e == NULL || e == *pp) {
        return LLM_ERROR;
    }

    *pp = e;

    return LLM_OK;
}


/* from..the end of the value at *pp written as it is; *pp past it */

static int
llm_mistral_copy(const unsigned char **pp, const unsigned char *last,
    const unsigned char *from, llm_out_t *out)
{
    if (llm_mistral_skip(pp, last) != LLM_OK) {
        return LLM_ERROR;
    }

    llm_out_raw(out, (const char *) from, (size_t) (*pp - from));

    return LLM_OK;
}


/* past the "," after a member or an element, or at the closing byte */

static int
llm_mistral_next(const unsigned char **pp, const unsigned char *last,
    unsigned char close)
{
    const unsigned char  *p;

    p = llm_json_skip_ws(*pp, last);

    if (p == last) {
        return LLM_ERROR;
    }

    if (*p == ',') {
        *pp = p + 1;
        return LLM_OK;
    }

    if (*p != close) {
        return LLM_ERROR;
    }

    *pp = p;

    return LLM_OK;
}


/*
 * The elements of an array at *pp, in step with arr, each written by
 * write (objects) or copied; *pp past the array.
 */

static int
llm_mistral_write_array(llm_mistral_ctx_t *ctx, const unsigned char **pp,
    const unsigned char *last, const cJSON *arr, llm_out_t *out,
    llm_mistral_write_pt write)
{
    const cJSON          *e;
    const unsigned char  *p;

    p = *pp;

    if (p == last || *p != '[') {
        return LLM_ERROR;
    }

    p++;
    llm_out_raw(out, "[", 1);

    for (e = arr->child; /* void */ ; e = e->next) {
        p = llm_json_skip_ws(p, last);

        if (p == last) {
            return LLM_ERROR;
        }

        if (*p == ']') {
            if (e != NULL) {
                return LLM_ERROR;
            }

            llm_out_raw(out, "]", 1);
            *pp = p + 1;

            return LLM_OK;
        }

        if (e == NULL) {
            return LLM_ERROR;
        }

        if (e != arr->child) {
            llm_out_raw(out, ",", 1);
        }

        if (cJSON_IsObject(e) ? write(ctx, &p, last, e, out)
                              : llm_mistral_copy(&p, last, p, out))
        {
            return LLM_ERROR;
        }

        if (llm_mistral_next(&p, last, ']') != LLM_OK) {
            return LLM_ERROR;
        }
    }
}


static int
llm_mistral_write_messages(llm_mistral_ctx_t *ctx, const unsigned char **pp,
    const unsigned char *last, const cJSON *arr, llm_out_t *out)
{
    return llm_mistral_write_array(ctx, pp, last, arr, out,
                                   llm_mistral_write_message);
}


static int
llm_mistral_write_message(llm_mistral_ctx_t *ctx, const unsigned char **pp,
    const unsigned char *last, const cJSON *m, llm_out_t *out)
{
    int                   rc, first, action;
    const char           *role;
    const cJSON          *item;
    const unsigned char  *p, *k;

    p = *pp;

    if (p == last || *p != '{') {
        return LLM_ERROR;
    }

    p++;
    llm_out_raw(out, "{", 1);
    first = 1;

    role = llm_mistral_role(m);

    for (item = m->child; /* void */ ; item = item->next) {

        rc = llm_mistral_key(&p, last, &k);

        if (rc == LLM_DECLINED && item == NULL) {
            llm_out_raw(out, "}", 1);
            *pp = p;
            return LLM_OK;
        }

        if (rc != LLM_OK || item == NULL || item->string == NULL) {
            return LLM_ERROR;
        }

        action = llm_mistral_message_action(role, item);

        if (action == LLM_MISTRAL_DROP) {
            rc = llm_mistral_skip(&p, last);

        } else {
            if (!first) {
                llm_out_raw(out, ",", 1);
            }

            first = 0;

            if (action == LLM_MISTRAL_EDIT) {
                llm_out_cstr(out, "\"role\":\"system\"");
                rc = llm_mistral_skip(&p, last);

            } else if (strcmp(item->string, "tool_call_id") == 0
                       && cJSON_IsString(item))
            {
                rc = llm_mistral_write_id(ctx, "tool_call_id", item, out);

                if (rc == LLM_OK) {
                    rc = llm_mistral_skip(&p, last);
                }

            } else if (strcmp(item->string, "tool_calls") == 0
                       && cJSON_IsArray(item))
            {
                llm_out_raw(out, (const char *) k, (size_t) (p - k));
                rc = llm_mistral_write_array(ctx, &p, last, item, out,
                                             llm_mistral_write_call);

            } else {
                rc = llm_mistral_copy(&p, last, k, out);
            }
        }

        if (rc != LLM_OK || llm_mistral_next(&p, last, '}') != LLM_OK) {
            return LLM_ERROR;
        }
    }
}


static int
llm_mistral_write_call(llm_mistral_ctx_t *ctx, const unsigned char **pp,
    const unsigned char *last, const cJSON *call, llm_out_t *out)
{
    int                   rc, first;
    const cJSON          *item;
    const unsigned char  *p, *k;

    p = *pp;

    if (p == last || *p != '{') {
        return LLM_ERROR;
    }

    p++;
    llm_out_raw(out, "{", 1);
    first = 1;

    for (item = call->child; /* void */ ; item = item->next) {

        rc = llm_mistral_key(&p, last, &k);

        if (rc == LLM_DECLINED && item == NULL) {
            llm_out_raw(out, "}", 1);
            *pp = p;
            return LLM_OK;
        }

        if (rc != LLM_OK || item == NULL || item->string == NULL) {
            return LLM_ERROR;
        }

        if (!first) {
            llm_out_raw(out, ",", 1);
        }

        first = 0;

        if (strcmp(item->string, "id") == 0 && cJSON_IsString(item)) {
            rc = llm_mistral_write_id(ctx, "id", item, out);

            if (rc == LLM_OK) {
                rc = llm_mistral_skip(&p, last);
            }

        } else {
            rc = llm_mistral_copy(&p, last, k, out);
        }

        if (rc != LLM_OK || llm_mistral_next(&p, last, '}') != LLM_OK) {
            return LLM_ERROR;
        }
    }
}


/* "key":"<mapped id>" */

static int
llm_mistral_write_id(llm_mistral_ctx_t *ctx, const char *key,
    const cJSON *item, llm_out_t *out)
{
    llm_mistral_id_t  *id;

    llm_out_raw(out, "\"", 1);
    llm_out_cstr(out, key);
    llm_out_raw(out, "\":", 2);

    id = llm_mistral_id_find(ctx, item->valuestring);

    if (id == NULL) {
        return LLM_ERROR;
    }

    llm_out_raw(out, "\"", 1);
    llm_out_raw(out, id->to, LLM_MISTRAL_ID_LEN);
    llm_out_raw(out, "\"", 1);

    return LLM_OK;
}


/*
 * A non-streamed answer: Mistral's chat.completion with what OpenAI's
 * clients require added; relayed as it is when nothing is missing
 * (out->body is then body itself: not a copy, not NUL-terminated).
 */

static int
llm_mistral_decode(const llm_request_t *req, const llm_provider_t *p,
    const char *body, size_t len, long long created, llm_pool_t *pool,
    llm_response_t *out, llm_error_t *err)
{
    int           change;
    char         *text;
    size_t        text_len;
    cJSON        *root, *choices, *choice, *usage;
    const char   *reason, *first_reason;
    const cJSON  *content;

    (void) req;
    (void) p;
    (void) created;

    memset(out, 0, sizeof(llm_response_t));
    llm_usage_none(&out->usage);

    root = llm_json_parse_strict(body, len);

    if (root == NULL) {
        llm_invalid_response(err, "the answer is not JSON");
        return LLM_ERROR;
    }

    choices = llm_json_get(root, "choices");

    if (!cJSON_IsObject(root) || !cJSON_IsArray(choices)) {
        llm_invalid_response(err, "the answer has no \"choices\" array");
        goto failed;
    }

    change = 0;
    first_reason = NULL;
    content = NULL;
    text = NULL;
    text_len = 0;

    for (choice = choices->child; choice != NULL; choice = choice->next) {

        if (llm_mistral_fix_choice(choice, &change, &reason, err) != LLM_OK) {
            goto failed;
        }

        if (choice == choices->child) {
            first_reason = reason;
            content = llm_json_get(
                          llm_json_get(choice, "message"),
                          "content");
        }
    }

    usage = llm_json_get(root, "usage");

    if (cJSON_IsObject(usage)) {
        llm_openai_usage(usage, &out->usage);
    }

    out->finish_reason = first_reason;

    /* Mistral's content may be an array of chunks: its text parts */

    if (content != NULL && !cJSON_IsNull(content)) {
        if (llm_content_text(content, "", pool, &text, &text_len)
            == LLM_ERROR)
        {
            goto nomem;
        }

        if (text != NULL && text_len > 0) {
            out->content = text;
            out->content_len = text_len;
        }
    }

    if (change) {
        out->body = llm_json_print(root, pool, &out->body_len);

        if (out->body == NULL) {
            goto nomem;
        }

    } else {
        out->body = (char *) body;
        out->body_len = len;
    }

    cJSON_Delete(root);

    return LLM_OK;

nomem:

    llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");

failed:

    cJSON_Delete(root);

    return LLM_ERROR;
}


/*
 * One choice: "logprobs":null when there is none, "type":"function" in
 * tool calls without one, "model_length" as "length"; a finish_reason
 * "error" or one OpenAI does not have is an invalid answer.
 */

static int
llm_mistral_fix_choice(cJSON *choice, int *change, const char **reason,
    llm_error_t *err)
{
    cJSON        *item, *calls, *call;
    const char   *r;

    *reason = NULL;

    if (!cJSON_IsObject(choice)) {
        llm_invalid_response(err, "a choice of the answer is not an object");
        return LLM_ERROR;
    }

    if (llm_json_get(choice, "logprobs") == NULL) {
        if (cJSON_AddNullToObject(choice, "logprobs") == NULL) {
            goto nomem;
        }

        *change = 1;
    }

    item = llm_json_get(choice, "finish_reason");

    if (cJSON_IsString(item)) {

        if (strcmp(item->valuestring, "error") == 0) {
            llm_error_set(err, 502, "server_error", NULL, NULL,
                          "The provider failed to generate the answer");
            return LLM_ERROR;
        }

        r = llm_openai_finish(item->valuestring, 1);

        if (r == NULL) {
            llm_invalid_response(err, "the answer has an unknown "
                                 "\"finish_reason\"");
            return LLM_ERROR;
        }

        if (strcmp(r, item->valuestring) != 0) {
            if (cJSON_SetValuestring(item, r) == NULL) {
                goto nomem;
            }

            *change = 1;
        }

        *reason = r;
    }

    calls = llm_json_get(
                llm_json_get(choice, "message"),
                "tool_calls");

    for (call = cJSON_IsArray(calls) ? calls->child : NULL;
         call != NULL;
         call = call->next)
    {
        if (cJSON_IsObject(call)
            && llm_json_get(call, "type") == NULL)
        {
            if (cJSON_AddStringToObject(call, "type", "function") == NULL) {
                goto nomem;
            }

            *change = 1;
        }
    }

    return LLM_OK;

nomem:

    llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");

    return LLM_ERROR;
}


/*
 * Embeddings: {"model","input"[,"output_dimension"]}, nothing else
 * (Mistral rejects what it does not know); floats are always asked for,
 * and an answer the client wants in base64 is converted here.
 */

static int
llm_mistral_embed_encode(const llm_request_t *req, const llm_provider_t *p,
    llm_pool_t *pool, llm_http_request_t *out, llm_error_t *err)
{
    llm_embed_body_t  b;

    if (llm_embed_check(req, "mistral", 0, 0, err) != LLM_OK) {
        return LLM_ERROR;
    }

    b.req = req;
    b.input_type = NULL;
    b.model = llm_embed_model(req, p, err);

    if (b.model == NULL
        || llm_compat_head(p, "/embeddings", pool, out, err) != LLM_OK)
    {
        return LLM_ERROR;
    }

    if (llm_json_write_body(llm_mistral_embed_write, &b, LLM_BODY_HINT(req),
                            &req->refs, pool, out)
        != LLM_OK)
    {
        llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
        return LLM_ERROR;
    }

    return LLM_OK;
}


static void
llm_mistral_embed_write(llm_out_t *out, llm_json_splices_t *sp,
    const void *data)
{
    const llm_embed_body_t  *b = data;

    llm_out_lit(out, "{\"model\":");
    llm_out_nstr(out, b->model);
    llm_out_lit(out, ",\"input\":");

    if (cJSON_IsString(b->req->input)) {
        llm_json_out_ref(out, sp, b->req->input->valuestring);

    } else {
        llm_embed_out_texts(out, sp, b->req);
    }

    if (b->req->dimensions) {
        llm_out_lit(out, ",\"output_dimension\":");
        llm_out_int(out, b->req->dimensions);
    }

    llm_out_raw(out, "}", 1);
}


/* the cJSON trees of the small parts on the pool (llm_arena.c) */

static int
llm_mistral_embed_decode(const llm_request_t *req, const llm_provider_t *p,
    const char *body, size_t len, llm_pool_t *pool, llm_response_t *out,
    llm_error_t *err)
{
    int          rc;
    llm_arena_t  arena;

    llm_arena_enter(&arena, pool);

    rc = llm_mistral_embed_tree(req, p, body, len, pool, out, err);

    return llm_arena_done(&arena, rc, err);
}


/*
 * {"id","object":"list","data":[{"object":"embedding","embedding":[...],
 *  "index":i},...],"model","usage":{"prompt_tokens","total_tokens"}}
 */

static int
llm_mistral_embed_tree(const llm_request_t *req, const llm_provider_t *p,
    const char *body, size_t len, llm_pool_t *pool, llm_response_t *out,
    llm_error_t *err)
{
    cJSON            *item;
    const char       *model;
    llm_slice_t      *vectors;
    llm_usage_t       usage;
    llm_json_span_t   span[3];

    static const char  *const names[] = { "data", "model", "usage", NULL };

    if (body == NULL || llm_json_validate(body, len, NULL) != LLM_OK) {
        llm_invalid_response(err, "the embeddings answer is not valid JSON");
        return LLM_ERROR;
    }

    /* one walk over the answer's members: the vectors are skipped once */

    if (llm_json_members(body, len, names, span) != LLM_OK) {
        llm_invalid_response(err, "the embeddings answer is not an object");
        return LLM_ERROR;
    }

    if (span[0].end == 0) {
        llm_invalid_response(err, "the embeddings answer has no \"data\"");
        return LLM_ERROR;
    }

    vectors = llm_palloc(pool, req->ninputs * sizeof(llm_slice_t) + 1);
    if (vectors == NULL) {
        llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
        return LLM_ERROR;
    }

    memset(vectors, 0, req->ninputs * sizeof(llm_slice_t));

    if (llm_mistral_embed_data(body + span[0].value,
                               span[0].end - span[0].value,
                               vectors, req->ninputs, err)
        != LLM_OK)
    {
        return LLM_ERROR;
    }

    model = (p->model != NULL && p->model[0] != '\0') ? p->model
                                                       : req->model;

    if (span[1].end != 0) {
        item = llm_json_parse_pool(body + span[1].value,
                                   span[1].end - span[1].value, pool);

        if (!cJSON_IsString(item)) {
            llm_invalid_response(err, "the embeddings answer's \"model\" "
                                 "is not a string");
            return LLM_ERROR;
        }

        model = item->valuestring;
    }

    llm_usage_none(&usage);

    if (span[2].end != 0) {
        item = llm_json_parse_pool(body + span[2].value,
                                   span[2].end - span[2].value, pool);

        if (cJSON_IsObject(item)) {
            llm_openai_usage(item, &usage);

        } else if (!cJSON_IsNull(item)) {
            llm_invalid_response(err, "the embeddings answer's \"usage\" "
                                 "is not an object");
            return LLM_ERROR;
        }
    }

    return llm_embed_render(req, model, vectors, req->ninputs, &usage, pool,
                            out, err);
}


/* the "data" array: each vector at its "index" (its place without one) */

static int
llm_mistral_embed_data(const char *data, size_t len, llm_slice_t *vectors,
    size_t n, llm_error_t *err)
{
    int               rc;
    size_t            pos, i, k, j;
    const char       *e;
    llm_json_span_t   el, v[2], x;

    static const char  *const names[] = { "embedding", "index", NULL };

    pos = 0;

    for (i = 0; /* void */ ; i++) {
        rc = llm_json_element(data, len, &pos, &el);

        if (rc == LLM_DECLINED) {
            break;
        }

        if (rc != LLM_OK) {
            llm_invalid_response(err, "the embeddings answer's \"data\" is "
                                 "not an array");
            return LLM_ERROR;
        }

        if (i >= n) {
            continue;
        }

        e = data + el.value;

        if (llm_json_members(e, el.end - el.value, names, v) != LLM_OK) {
            llm_invalid_response(err, "data[%lu] is not an object",
                                 (unsigned long) i);
            return LLM_ERROR;
        }

        if (v[0].end == 0) {
            llm_invalid_response(err, "data[%lu] has no \"embedding\"",
                                 (unsigned long) i);
            return LLM_ERROR;
        }

        k = i;

        if (v[1].end != 0) {
            x = v[1];
            k = 0;

            for (j = x.value; j < x.end; j++) {
                if (e[j] < '0' || e[j] > '9' || k >= n) {
                    break;
                }

                k = k * 10 + (size_t) (e[j] - '0');
            }

            if (j != x.end || x.end == x.value || k >= n
                || vectors[k].data != NULL)
            {
                llm_invalid_response(err, "data[%lu] has an \"index\" out "
                                     "of range, or one seen before",
                                     (unsigned long) i);
                return LLM_ERROR;
            }
        }

        if (vectors[k].data != NULL) {
            llm_invalid_response(err, "data[%lu]: index %lu was seen before",
                                 (unsigned long) i, (unsigned long) k);
            return LLM_ERROR;
        }

        vectors[k].data = e + v[0].value;
        vectors[k].len = v[0].end - v[0].value;
    }

    if (i != n) {
        llm_invalid_response(err, "the embeddings answer has %lu embeddings "
                             "for %lu inputs", (unsigned long) i,
                             (unsigned long) n);
        return LLM_ERROR;
    }

    return LLM_OK;
}
