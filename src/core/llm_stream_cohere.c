
/*
 * ngx_http_llm_router_module: Cohere v2 chat streams into OpenAI
 * chat.completion.chunk events (the provider's API reference;
 * docs/providers/cohere.md, "Streaming").
 *
 *   message-start        st->id = its id, the role chunk
 *   content-start/-delta content chunks (their text; thinking dropped)
 *   tool-plan-delta      content chunks: the plan is the text of an answer
 *                        that calls tools, as in the non-streamed answer
 *   tool-call-start      a tool call's first fragment (the next OpenAI
 *                        index, the id, the name, the arguments so far)
 *   tool-call-delta      an arguments fragment of that call
 *   message-end          st->finish_reason, st->usage (billed units);
 *                        LLM_DONE, or LLM_ERROR for a failed generation
 *                        (delta.error, finish_reason ERROR or TIMEOUT)
 *   data: [DONE]         LLM_DONE
 *   content-end, tool-call-end, citation-start/-end, event types of
 *   tomorrow: nothing
 *
 * st->tool_block[k] holds the Cohere tool index of OpenAI tool call k.
 */


#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "llm_internal.h"


#define LLM_COHERE_EVENT_MAX  32


static int llm_cohere_stream_start(llm_stream_t *st, const cJSON *root,
    llm_stream_out_t *out, llm_error_t *err);
static int llm_cohere_stream_text(llm_stream_t *st, const cJSON *root,
    const char *name, llm_stream_out_t *out, llm_error_t *err);
static int llm_cohere_stream_call(llm_stream_t *st, const cJSON *root,
    llm_stream_out_t *out, llm_error_t *err);
static int llm_cohere_stream_args(llm_stream_t *st, const cJSON *root,
    llm_stream_out_t *out, llm_error_t *err);
static int llm_cohere_stream_end(llm_stream_t *st, const cJSON *root,
    llm_error_t *err);
static const cJSON *llm_cohere_stream_message(const cJSON *root);
static const cJSON *llm_cohere_stream_tool_call(const cJSON *root);
static int llm_cohere_stream_write(llm_stream_t *st, llm_stream_out_t *out,
    const llm_delta_t *d, llm_error_t *err);
static const cJSON *llm_cohere_stream_item(const cJSON *obj,
    const char *name);
static void llm_cohere_stream_delta_init(llm_delta_t *d);


int
llm_cohere_stream(llm_stream_t *st, const llm_sse_event_t *ev,
    llm_stream_out_t *out, llm_error_t *err)
{
    int          rc;
    char         name[LLM_COHERE_EVENT_MAX];
    cJSON       *root;
    const char  *type;

    if (ev->data_len == 0) {
        return LLM_OK;
    }

    /* the Fern spec declares a terminator */

    if (ev->data_len == sizeof("[DONE]") - 1
        && memcmp(ev->data, "[DONE]", sizeof("[DONE]") - 1) == 0)
    {
        st->done = 1;
        return LLM_DONE;
    }

    /* on the event's scratch, when there is one: read, never changed */

    root = llm_json_parse_pool(ev->data, ev->data_len, llm_arena_pool());

    if (root == NULL) {
        llm_invalid_response(err, "A Cohere stream event is not valid JSON");
        return LLM_ERROR;
    }

    if (!cJSON_IsObject(root)) {
        llm_invalid_response(err, "A Cohere stream event is not a JSON "
                             "object");
        llm_arena_delete(root);
        return LLM_ERROR;
    }

    /* the data's "type" repeats the event name; either will do */

    type = llm_json_str(root, "type");

    if (type == NULL) {
        name[0] = '\0';

        if (ev->event != NULL && ev->event_len < sizeof(name)) {
            memcpy(name, ev->event, ev->event_len);
            name[ev->event_len] = '\0';
        }

        type = name;
    }

    if (strcmp(type, "message-start") == 0) {
        rc = llm_cohere_stream_start(st, root, out, err);

    } else if (strcmp(type, "content-start") != 0
               && strcmp(type, "content-delta") != 0
               && strcmp(type, "tool-plan-delta") != 0
               && strcmp(type, "tool-call-start") != 0
               && strcmp(type, "tool-call-delta") != 0
               && strcmp(type, "message-end") != 0)
    {
        /* content-end, tool-call-end, citations, types of tomorrow */
        rc = LLM_OK;

    } else if (!st->started) {
        llm_invalid_response(err, "The Cohere stream does not start with "
                             "message-start");
        rc = LLM_ERROR;

    } else if (strcmp(type, "content-start") == 0
               || strcmp(type, "content-delta") == 0)
    {
        rc = llm_cohere_stream_text(st, root, "content", out, err);

    } else if (strcmp(type, "tool-plan-delta") == 0) {
        rc = llm_cohere_stream_text(st, root, "tool_plan", out, err);

    } else if (strcmp(type, "tool-call-start") == 0) {
        rc = llm_cohere_stream_call(st, root, out, err);

    } else if (strcmp(type, "tool-call-delta") == 0) {
        rc = llm_cohere_stream_args(st, root, out, err);

    } else {
        rc = llm_cohere_stream_end(st, root, err);
    }

    llm_arena_delete(root);

    return rc;
}


/* {"id","type":"message-start","delta":{"message":{"role",...}}} */

static int
llm_cohere_stream_start(llm_stream_t *st, const cJSON *root,
    llm_stream_out_t *out, llm_error_t *err)
{
    llm_delta_t  d;

    if (st->started) {
        llm_invalid_response(err, "The Cohere stream has a second "
                             "message-start");
        return LLM_ERROR;
    }

    llm_stream_set_id(st, llm_json_str(root, "id"));

    llm_cohere_stream_delta_init(&d);
    d.role = 1;
    d.content = "";

    return llm_cohere_stream_write(st, out, &d, err);
}


/*
 * delta.message.content.text (content-start, content-delta; a thinking
 * item has "thinking" instead and is dropped) or delta.message.tool_plan
 * (tool-plan-delta) as content
 */

static int
llm_cohere_stream_text(llm_stream_t *st, const cJSON *root,
    const char *name, llm_stream_out_t *out, llm_error_t *err)
{
    const char   *s;
    llm_delta_t   d;
    const cJSON  *msg;

    msg = llm_cohere_stream_message(root);

    if (strcmp(name, "content") == 0) {
        s = llm_json_str(llm_cohere_stream_item(msg, "content"), "text");

    } else {
        s = llm_json_str(msg, name);
    }

    if (s == NULL || s[0] == '\0') {
        return LLM_OK;
    }

    llm_cohere_stream_delta_init(&d);
    d.content = s;
    d.content_len = strlen(s);

    return llm_cohere_stream_write(st, out, &d, err);
}


/*
 * {"type":"tool-call-start","index","delta":{"message":{"tool_calls":
 *  {"id","type":"function","function":{"name","arguments"}}}}}
 *
 * A call without an id gets the one the non-streamed answer would give
 * it, made from the message id (st->id) and the call's index.
 */

static int
llm_cohere_stream_call(llm_stream_t *st, const cJSON *root,
    llm_stream_out_t *out, llm_error_t *err)
{
    int           rc;
    char          key[160], gen[LLM_TOOL_CALL_ID_LEN + 1], *printed;
    long long     index;
    const char   *id, *name;
    llm_delta_t   d;
    const cJSON  *tc, *fn, *args;

    tc = llm_cohere_stream_tool_call(root);
    fn = llm_cohere_stream_item(tc, "function");
    name = llm_json_str(fn, "name");
    index = llm_json_count(root, "index");

    if (name == NULL || index > INT_MAX) {
        llm_invalid_response(err, "The Cohere stream has a tool-call-start "
                             "without a function name");
        return LLM_ERROR;
    }

    if (st->ntools >= LLM_STREAM_MAX_TOOLS) {
        llm_error_set(err, 502, "server_error", NULL, NULL,
                      "The Cohere stream has more than %d tool calls",
                      LLM_STREAM_MAX_TOOLS);
        return LLM_ERROR;
    }

    id = llm_json_str(tc, "id");

    if (id == NULL || id[0] == '\0') {
        snprintf(key, sizeof(key), "%.128s/%d", st->id, st->ntools);
        llm_tool_call_id_write(gen, key, strlen(key));
        id = gen;
    }

    printed = NULL;
    args = llm_cohere_stream_item(fn, "arguments");

    llm_cohere_stream_delta_init(&d);
    d.tool_index = st->ntools;
    d.tool_id = id;
    d.tool_name = name;
    d.tool_args = "";

    if (cJSON_IsString(args)) {
        d.tool_args = args->valuestring;

    } else if (args != NULL) {
        printed = cJSON_PrintUnformatted(args);
        if (printed == NULL) {
            llm_error_set(err, 500, "server_error", NULL, NULL,
                          "out of memory");
            return LLM_ERROR;
        }

        d.tool_args = printed;
    }

    d.tool_args_len = strlen(d.tool_args);

    rc = llm_cohere_stream_write(st, out, &d, err);

    cJSON_free(printed);

    if (rc != LLM_OK) {
        return LLM_ERROR;
    }

    /* -1 (no index): its deltas cannot be told apart, none is taken */

    st->tool_block[st->ntools++] = (int) index;

    return LLM_OK;
}


/*
 * {"type":"tool-call-delta","index","delta":{"message":{"tool_calls":
 *  {"function":{"arguments"}}}}}
 */

static int
llm_cohere_stream_args(llm_stream_t *st, const cJSON *root,
    llm_stream_out_t *out, llm_error_t *err)
{
    int           k;
    long long     index;
    const char   *s;
    llm_delta_t   d;

    s = llm_json_str(llm_cohere_stream_item(
                         llm_cohere_stream_tool_call(root), "function"),
                     "arguments");

    index = llm_json_count(root, "index");

    if (s == NULL || s[0] == '\0' || index < 0) {
        return LLM_OK;
    }

    for (k = st->ntools - 1; k >= 0; k--) {
        if (st->tool_block[k] == index) {
            break;
        }
    }

    if (k < 0) {
        /* no tool-call-start for it */
        return LLM_OK;
    }

    llm_cohere_stream_delta_init(&d);
    d.tool_index = k;
    d.tool_args = s;
    d.tool_args_len = strlen(s);

    return llm_cohere_stream_write(st, out, &d, err);
}


/*
 * {"type":"message-end","delta":{"finish_reason","usage":{...},
 *  "error"}}: the usage is kept even for a failed generation
 */

static int
llm_cohere_stream_end(llm_stream_t *st, const cJSON *root,
    llm_error_t *err)
{
    const char   *reason, *error;
    const cJSON  *delta, *usage;

    delta = llm_cohere_stream_item(root, "delta");
    usage = llm_cohere_stream_item(delta, "usage");

    if (usage != NULL) {
        llm_cohere_usage(usage, &st->usage);
    }

    reason = llm_json_str(delta, "finish_reason");
    error = llm_json_str(delta, "error");

    if (reason == NULL) {
        reason = "";
    }

    if (strcmp(reason, "TIMEOUT") == 0) {
        llm_error_set(err, 504, "server_error", NULL, "timeout",
                      "%s", (error != NULL && error[0] != '\0')
                            ? error : "The Cohere generation timed out");
        return LLM_ERROR;
    }

    if ((error != NULL && error[0] != '\0')
        || strcmp(reason, "ERROR") == 0)
    {
        llm_error_set(err, 502, "server_error", NULL, NULL,
                      "%s", (error != NULL && error[0] != '\0')
                            ? error : "The Cohere generation failed");
        return LLM_ERROR;
    }

    st->finish_reason = llm_cohere_finish(delta, (size_t) st->ntools);
    st->done = 1;

    return LLM_DONE;
}


/* delta.message, NULL if none */

static const cJSON *
llm_cohere_stream_message(const cJSON *root)
{
    return llm_cohere_stream_item(llm_cohere_stream_item(root, "delta"),
                                  "message");
}


/* delta.message.tool_calls: an object (or, leniently, an array's first) */

static const cJSON *
llm_cohere_stream_tool_call(const cJSON *root)
{
    const cJSON  *tc;

    tc = llm_cohere_stream_item(llm_cohere_stream_message(root),
                                "tool_calls");

    if (cJSON_IsArray(tc)) {
        tc = tc->child;
    }

    return cJSON_IsObject(tc) ? tc : NULL;
}


static int
llm_cohere_stream_write(llm_stream_t *st, llm_stream_out_t *out,
    const llm_delta_t *d, llm_error_t *err)
{
    if (llm_stream_chunk(st, out, d) != LLM_OK) {
        llm_error_set(err, 500, "server_error", NULL, NULL,
                      "A Cohere stream event does not fit the output "
                      "buffer");
        return LLM_ERROR;
    }

    return LLM_OK;
}


/* a member, with JSON null taken as absent */

static const cJSON *
llm_cohere_stream_item(const cJSON *obj, const char *name)
{
    const cJSON  *item;

    if (!cJSON_IsObject(obj)) {
        return NULL;
    }

    item = llm_json_get(obj, name);

    return cJSON_IsNull(item) ? NULL : item;
}


static void
llm_cohere_stream_delta_init(llm_delta_t *d)
{
    memset(d, 0, sizeof(llm_delta_t));

    d->tool_index = -1;
}
