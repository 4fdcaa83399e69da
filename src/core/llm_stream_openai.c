
/*
 * ngx_http_llm_router_module: the stream decoders of OpenAI and Mistral
 * (the provider's API reference).  Both send OpenAI chunks, so
 * an event is relayed byte for byte, except:
 *
 *   - usage is recorded for billing, and reaches the client only when it
 *     asked for it (the OpenAI encoder always asks upstream);
 *   - OpenAI: the "choices":[] usage chunk is dropped unless the client
 *     asked for usage;
 *   - Mistral: the final chunk carries usage; a chunk with usage is
 *     re-serialised without it (the final one followed by a usage chunk
 *     when the client asked), and so is one whose finish_reason is
 *     "model_length", which becomes "length";
 *   - Mistral: every choice gets "logprobs":null (strict OpenAI clients
 *     require the member), inserted into the relayed bytes after the
 *     choice's "{" when the chunk needs nothing else;
 *   - an event on several data lines goes out on one (llm_stream_data());
 *   - the content of choice 0 that went out is kept in st->text, when set
 *     (llm_stream_text()).
 *
 * An error event ({"error":...}, Mistral's {"object":"error"}, Mistral's
 * finish_reason "error") and a chunk that is not OpenAI's (not JSON, no
 * "choices" array, a finish_reason OpenAI does not have) are LLM_ERROR.
 * "[DONE]" is not copied: llm_stream_finish() writes the end.
 */


#include <string.h>

#include "llm_internal.h"


static int llm_compat_stream(llm_stream_t *st, const llm_sse_event_t *ev,
    llm_stream_out_t *out, llm_error_t *err, int mistral);
static int llm_compat_stream_chunk(llm_stream_t *st, cJSON *root,
    const llm_sse_event_t *ev, llm_stream_out_t *out, llm_error_t *err,
    int mistral);
static void llm_compat_stream_error(const cJSON *root, llm_error_t *err);
static const char *llm_compat_finish(cJSON *item, int mistral);
static void llm_compat_text(llm_stream_t *st, const cJSON *choice);
static int llm_compat_delta_content(const cJSON *delta);
static int llm_compat_print(const cJSON *root, llm_stream_out_t *out);
static const char *llm_compat_static(const char *s,
    const char *const *list);
static int llm_compat_logprobs_at(const llm_sse_event_t *ev,
    const cJSON *choices, size_t *at, size_t *n);


/* choices a relayed chunk gets "logprobs" inserted in without a rewrite */

#define LLM_COMPAT_MAX_AT  8


/* "error" is Mistral's failed generation: not an OpenAI value */

static const char  *const llm_compat_finish_reasons[] = {
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "function_call",
    NULL
};


static const char  *const llm_compat_error_types[] = {
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "rate_limit_error",
    "insufficient_quota",
    "tokens",
    "requests",
    "server_error",
    "api_error",
    "overloaded_error",
    NULL
};


static const char  *const llm_compat_error_codes[] = {
    "rate_limit_exceeded",
    "insufficient_quota",
    "context_length_exceeded",
    "content_filter",
    "server_error",
    "invalid_api_key",
    "model_not_found",
    NULL
};


int
llm_openai_stream_event(llm_stream_t *st, const llm_sse_event_t *ev,
    llm_stream_out_t *out, llm_error_t *err)
{
    return llm_compat_stream(st, ev, out, err, 0);
}


int
llm_mistral_stream_event(llm_stream_t *st, const llm_sse_event_t *ev,
    llm_stream_out_t *out, llm_error_t *err)
{
    return llm_compat_stream(st, ev, out, err, 1);
}


static int
llm_compat_stream(llm_stream_t *st, const llm_sse_event_t *ev,
    llm_stream_out_t *out, llm_error_t *err, int mistral)
{
    int           rc;
    cJSON        *root;
    const char   *s;
    const cJSON  *e;

    if (ev->data_len == sizeof("[DONE]") - 1
        && memcmp(ev->data, "[DONE]", sizeof("[DONE]") - 1) == 0)
    {
        st->done = 1;
        return LLM_DONE;
    }

    root = llm_json_parse_strict(ev->data, ev->data_len);

    if (root == NULL) {
        llm_invalid_response(err, "the provider sent a stream event that "
                             "is not JSON");
        return LLM_ERROR;
    }

    if (!cJSON_IsObject(root)) {
        llm_invalid_response(err, "the provider sent a stream event that "
                             "is not a JSON object");
        llm_arena_delete(root);
        return LLM_ERROR;
    }

    /* {"error":{...}}, or Mistral's {"object":"error","message":...} */

    e = llm_json_get(root, "error");
    s = llm_json_str(root, "object");

    if ((e != NULL && !cJSON_IsNull(e))
        || (s != NULL && strcmp(s, "error") == 0))
    {
        llm_compat_stream_error(root, err);
        llm_arena_delete(root);
        return LLM_ERROR;
    }

    rc = llm_compat_stream_chunk(st, root, ev, out, err, mistral);

    llm_arena_delete(root);

    return rc;
}


static int
llm_compat_stream_chunk(llm_stream_t *st, cJSON *root,
    const llm_sse_event_t *ev, llm_stream_out_t *out, llm_error_t *err,
    int mistral)
{
    int           rc, role, rewrite, content;
    size_t        len, nlp, nat, at[LLM_COMPAT_MAX_AT];
    long long     created;
    cJSON        *choices, *choice, *item, *usage, *calls, *call;
    const char   *reason, *r;
    const cJSON  *delta;

    choices = llm_json_get(root, "choices");

    if (!cJSON_IsArray(choices)) {
        llm_invalid_response(err, "the provider sent a stream chunk without "
                             "\"choices\"");
        return LLM_ERROR;
    }

    usage = llm_json_get(root, "usage");

    if (cJSON_IsNull(usage)) {
        usage = NULL;
    }

    if (usage != NULL && !cJSON_IsObject(usage)) {
        llm_invalid_response(err, "the provider sent a stream chunk whose "
                             "\"usage\" is not an object");
        return LLM_ERROR;
    }

    role = 0;
    rewrite = 0;
    content = 0;
    reason = NULL;
    nlp = 0;

    for (choice = choices->child; choice != NULL; choice = choice->next) {

        if (!cJSON_IsObject(choice)) {
            llm_invalid_response(err, "the provider sent a stream chunk "
                                 "whose choice is not an object");
            return LLM_ERROR;
        }

        delta = llm_json_get(choice, "delta");

        if (llm_json_get(delta, "role") != NULL) {
            role = 1;
        }

        if (!st->content && !content) {
            content = llm_compat_delta_content(delta);
        }

        if (mistral
            && llm_json_get(choice, "logprobs") == NULL)
        {
            /* strict OpenAI clients require it; Mistral has none */
            nlp++;
        }

        if (mistral) {

            /*
             * Mistral's tool calls may come without "type"; OpenAI's
             * clients require it on a call's first fragment (the one
             * with an "id")
             */

            calls = llm_json_get(delta, "tool_calls");

            for (call = cJSON_IsArray(calls) ? calls->child : NULL;
                 call != NULL;
                 call = call->next)
            {
                if (cJSON_IsObject(call)
                    && llm_json_get(call, "id") != NULL
                    && llm_json_get(call, "type") == NULL)
                {
                    if (cJSON_AddStringToObject(call, "type", "function")
                        == NULL)
                    {
                        llm_error_set(err, 500, "server_error", NULL, NULL,
                                      "out of memory");
                        return LLM_ERROR;
                    }

                    rewrite = 1;
                }
            }
        }

        item = llm_json_get(choice, "finish_reason");

        if (item == NULL || cJSON_IsNull(item)) {
            continue;
        }

        if (mistral && cJSON_IsString(item)
            && strcmp(item->valuestring, "error") == 0)
        {
            llm_error_set(err, 502, "server_error", NULL, NULL,
                          "The provider failed to generate the answer");
            return LLM_ERROR;
        }

        r = llm_compat_finish(item, mistral);

        if (r == NULL) {
            llm_invalid_response(err, "the provider sent a stream chunk "
                                 "with an unknown \"finish_reason\"");
            return LLM_ERROR;
        }

        if (strcmp(r, item->valuestring) != 0) {

            /* Mistral's "model_length": "length" in the tree, in place */

            if (cJSON_SetValuestring(item, r) == NULL) {
                llm_error_set(err, 500, "server_error", NULL, NULL,
                              "out of memory");
                return LLM_ERROR;
            }

            rewrite = 1;
        }

        reason = r;
    }

    /* the first chunks say what the chunks made here repeat */

    if (!st->started) {
        llm_stream_set_id(st, llm_json_str(root, "id"));
        llm_stream_set_model(st, llm_json_str(root, "model"));

        created = llm_json_count(root, "created");

        if (created >= 0) {
            st->created = created;
        }
    }

    if (usage != NULL) {
        llm_openai_usage(usage, &st->usage);
    }

    len = out->len;
    rc = LLM_OK;

    if (usage != NULL && choices->child == NULL) {

        /* the include_usage chunk, once */

        if (st->include_usage && !st->usage_sent) {
            rc = llm_stream_data(out, ev->data, ev->data_len);

            if (rc == LLM_OK) {
                st->usage_sent = 1;
            }
        }

    } else if (mistral && nlp > 0 && usage == NULL && !rewrite
               && llm_compat_logprobs_at(ev, choices, at, &nat) == LLM_OK)
    {
        /* the chunk as it is, "logprobs":null inserted in its choices */

        rc = llm_stream_data_insert(out, ev->data, ev->data_len, at, nat,
                                    "\"logprobs\":null,");

    } else if (mistral && (usage != NULL || rewrite || nlp > 0)) {

        if (usage != NULL) {
            cJSON_DeleteItemFromObjectCaseSensitive(root, "usage");
        }

        for (choice = choices->child;
             nlp > 0 && choice != NULL;
             choice = choice->next)
        {
            if (llm_json_get(choice, "logprobs") == NULL
                && cJSON_AddNullToObject(choice, "logprobs") == NULL)
            {
                llm_error_set(err, 500, "server_error", NULL, NULL,
                              "out of memory");
                return LLM_ERROR;
            }
        }

        rc = llm_compat_print(root, out);

        /*
         * usage goes out after the final chunk, once; usage in an earlier
         * chunk waits for llm_stream_finish()
         */

        if (rc == LLM_OK && usage != NULL && reason != NULL
            && st->include_usage && !st->usage_sent
            && llm_usage_known(&st->usage))
        {
            rc = llm_stream_usage_chunk(st, out);
        }

    } else {
        rc = llm_stream_data(out, ev->data, ev->data_len);
    }

    if (rc != LLM_OK) {
        out->len = len;
        llm_error_set(err, 500, "server_error", NULL, NULL,
                      "a stream event does not fit the output buffer");
        return LLM_ERROR;
    }

    if (role) {
        st->started = 1;
    }

    if (content || reason != NULL) {
        st->content = 1;
    }

    if (reason != NULL) {
        st->finished = 1;
        st->finish_reason = reason;
    }

    /* the text the client got, of choice 0 */

    for (choice = choices->child; choice != NULL; choice = choice->next) {
        if (llm_json_count(choice, "index") <= 0) {
            llm_compat_text(st, choice);
            break;
        }
    }

    return LLM_OK;
}


/*
 * Whether a delta carries more than the role: a non-empty "content",
 * "tool_calls", "refusal", "reasoning_content" or any other member.
 */

static int
llm_compat_delta_content(const cJSON *delta)
{
    const cJSON  *item;

    for (item = cJSON_IsObject(delta) ? delta->child : NULL;
         item != NULL;
         item = item->next)
    {
        if (cJSON_IsNull(item) || strcmp(item->string, "role") == 0
            || (cJSON_IsString(item) && item->valuestring[0] == '\0')
            || (cJSON_IsArray(item) && item->child == NULL))
        {
            continue;
        }

        return 1;
    }

    return 0;
}


/*
 * delta.content: a string, or (Mistral) an array of parts whose "text"
 * parts are the text
 */

static void
llm_compat_text(llm_stream_t *st, const cJSON *choice)
{
    const char   *s, *type;
    const cJSON  *content, *part;

    if (st->text == NULL) {
        return;
    }

    content = llm_json_get(
                  llm_json_get(choice, "delta"),
                  "content");

    if (cJSON_IsString(content)) {
        llm_stream_text(st, content->valuestring,
                        strlen(content->valuestring));
        return;
    }

    if (!cJSON_IsArray(content)) {
        return;
    }

    for (part = content->child; part != NULL; part = part->next) {
        type = llm_json_str(part, "type");
        s = llm_json_str(part, "text");

        if (s != NULL && type != NULL && strcmp(type, "text") == 0) {
            llm_stream_text(st, s, strlen(s));
        }
    }
}


/*
 * The OpenAI value for a finish_reason string (static), NULL when it is
 * not one; Mistral's "model_length" is "length".
 */

static const char *
llm_compat_finish(cJSON *item, int mistral)
{
    if (!cJSON_IsString(item)) {
        return NULL;
    }

    return llm_openai_finish(item->valuestring, mistral);
}


const char *
llm_openai_finish(const char *s, int mistral)
{
    if (s == NULL) {
        return NULL;
    }

    if (mistral && strcmp(s, "model_length") == 0) {
        return "length";
    }

    return llm_compat_static(s, llm_compat_finish_reasons);
}


/* the static copy of s from list, NULL if s is not there */

static const char *
llm_compat_static(const char *s, const char *const *list)
{
    size_t  i;

    if (s == NULL) {
        return NULL;
    }

    for (i = 0; list[i] != NULL; i++) {
        if (strcmp(s, list[i]) == 0) {
            return list[i];
        }
    }

    return NULL;
}


static void
llm_compat_stream_error(const cJSON *root, llm_error_t *err)
{
    const char   *message, *type, *code;
    const cJSON  *e;

    e = llm_json_get(root, "error");

    message = llm_json_str(e, "message");

    if (message == NULL) {
        message = llm_json_str(root, "error");
    }

    if (message == NULL) {
        message = llm_json_str(root, "message");
    }

    if (message == NULL || message[0] == '\0') {
        message = "The provider reported an error during the stream";
    }

    if (!cJSON_IsObject(e)) {
        e = root;
    }

    type = llm_compat_static(llm_json_str(e, "type"),
                             llm_compat_error_types);
    code = llm_compat_static(llm_json_str(e, "code"),
                             llm_compat_error_codes);

    llm_error_set(err, 502, (type != NULL) ? type : "server_error", NULL,
                  code, "%s", message);
}


/*
 * counts a chunk reports (usage is cumulative, the last one wins); also
 * the mapping of relayed answers (llm_scan.c)
 */

void
llm_openai_usage(const cJSON *usage, llm_usage_t *u)
{
    u->prompt_tokens = llm_json_count(usage, "prompt_tokens");
    u->completion_tokens = llm_json_count(usage, "completion_tokens");
    u->total_tokens = llm_json_count(usage, "total_tokens");

    if (u->total_tokens < 0) {
        u->total_tokens = llm_usage_add(u->prompt_tokens,
                                        u->completion_tokens);
    }

    u->cached_tokens = llm_json_count(
        llm_json_get(usage, "prompt_tokens_details"),
        "cached_tokens");

    /* OpenAI and Mistral do not report cache writes */

    u->cache_write_tokens = -1;

    u->reasoning_tokens = llm_json_count(
        llm_json_get(usage, "completion_tokens_details"),
        "reasoning_tokens");
}


/*
 * Where "logprobs":null goes in the chunk's text: just past the "{" of
 * each choice that has none (walked in step with the tree).  LLM_DECLINED
 * when a choice is empty ({}: no "," may follow) or there are too many.
 */

static int
llm_compat_logprobs_at(const llm_sse_event_t *ev, const cJSON *choices,
    size_t *at, size_t *n)
{
    const cJSON          *choice;
    llm_json_span_t       span;
    const unsigned char  *start, *p, *last, *e;

    *n = 0;

    if (llm_json_member(ev->data, ev->data_len, "choices", &span) != LLM_OK)
    {
        return LLM_ERROR;
    }

    start = (const unsigned char *) ev->data;
    p = start + span.value;
    last = start + span.end;

    if (p == last || *p != '[') {
        return LLM_ERROR;
    }

    p++;

    for (choice = choices->child; choice != NULL; choice = choice->next) {
        e = llm_json_skip_ws(p, last);

        if (e == last || *e != '{') {
            return LLM_ERROR;
        }

        if (llm_json_get(choice, "logprobs") == NULL) {
            p = llm_json_skip_ws(e + 1, last);

            if (*n == LLM_COMPAT_MAX_AT || p == last || *p == '}') {
                return LLM_DECLINED;
            }

            at[(*n)++] = (size_t) (e + 1 - start);
        }

        p = llm_json_skip_value(e, last);
        if (p == NULL) {
            return LLM_ERROR;
        }

        p = llm_json_skip_ws(p, last);

        if (p < last && *p == ',') {
            p++;
        }
    }

    return LLM_OK;
}


/* "data: " + root printed unformatted + "\n\n", no allocation */

static int
llm_compat_print(const cJSON *root, llm_stream_out_t *out)
{
    int     length;
    char   *p;
    size_t  room, n;

    if (out->buf == NULL || out->len > out->size) {
        return LLM_ERROR;
    }

    room = out->size - out->len;

    /* "data: ", the JSON text, its NUL, then "\n\n" over the NUL */

    if (room < sizeof("data: ") - 1 + 1 + 2) {
        return LLM_ERROR;
    }

    p = out->buf + out->len;

    n = room - (sizeof("data: ") - 1) - 1;
    length = (n > 0x7fffffff) ? 0x7fffffff : (int) n;

    if (!cJSON_PrintPreallocated((cJSON *) root, p + sizeof("data: ") - 1,
                                 length, 0))
    {
        return LLM_ERROR;
    }

    n = strlen(p + sizeof("data: ") - 1);

    memcpy(p, "data: ", sizeof("data: ") - 1);

    p += sizeof("data: ") - 1 + n;
    p[0] = '\n';
    p[1] = '\n';

    out->len += sizeof("data: ") - 1 + n + 2;

    return LLM_OK;
}
