
/*
 * ngx_http_llm_router_module: Anthropic Messages streams into OpenAI
 * chat.completion.chunk events (the provider's API reference;
 * docs/providers/anthropic.md, "Streaming").
 *
 *   message_start           st->id, st->model, the input usage; the role
 *                           chunk {"role":"assistant","content":""}
 *   content_block_start     tool_use: a tool call's first fragment (the
 *                           next OpenAI index, the id, the name, arguments
 *                           ""); text: its text, when not empty
 *   content_block_delta     text_delta: content; input_json_delta: an
 *                           arguments fragment of the block's tool call
 *   message_delta           stop_reason -> st->finish_reason, cumulative
 *                           usage (no chunk: llm_stream_finish() writes the
 *                           finish chunk, once)
 *   message_stop            LLM_DONE
 *   error                   LLM_ERROR, err as for an error answer
 *   ping, content_block_stop, thinking and signature deltas, server tool
 *   blocks, event types of tomorrow: nothing
 *
 * st->tool_block[k] holds the Anthropic block index of OpenAI tool call k
 * (text and thinking blocks take block indexes too, so the block index can
 * exceed LLM_STREAM_MAX_TOOLS while the number of calls cannot).
 */


#include <limits.h>
#include <string.h>

#include "llm_internal.h"


#define LLM_ANTHROPIC_EVENT_MAX  32


static int llm_anthropic_stream_start(llm_stream_t *st, const cJSON *root,
    llm_stream_out_t *out, llm_error_t *err);
static int llm_anthropic_stream_block(llm_stream_t *st, const cJSON *root,
    llm_stream_out_t *out, llm_error_t *err);
static int llm_anthropic_stream_delta(llm_stream_t *st, const cJSON *root,
    llm_stream_out_t *out, llm_error_t *err);
static int llm_anthropic_stream_message(llm_stream_t *st, const cJSON *root,
    llm_error_t *err);
static int llm_anthropic_stream_error(const cJSON *root, llm_error_t *err);
static int llm_anthropic_stream_text(llm_stream_t *st, const char *text,
    llm_stream_out_t *out, llm_error_t *err);
static int llm_anthropic_stream_write(llm_stream_t *st,
    llm_stream_out_t *out, const llm_delta_t *d, llm_error_t *err);
static int llm_anthropic_stream_tool(const llm_stream_t *st,
    long long index);
static const cJSON *llm_anthropic_stream_item(const cJSON *obj,
    const char *name);
static void llm_anthropic_stream_delta_init(llm_delta_t *d);


int
llm_anthropic_stream(llm_stream_t *st, const llm_sse_event_t *ev,
    llm_stream_out_t *out, llm_error_t *err)
{
    int          rc;
    char         name[LLM_ANTHROPIC_EVENT_MAX];
    cJSON       *root;
    const char  *type;

    if (ev->data_len == 0) {
        return LLM_OK;
    }

    /* on the event's scratch, when there is one: read, never changed */

    root = llm_json_parse_pool(ev->data, ev->data_len, llm_arena_pool());

    if (root == NULL) {
        llm_invalid_response(err, "An Anthropic stream event is not valid "
                             "JSON");
        return LLM_ERROR;
    }

    if (!cJSON_IsObject(root)) {
        llm_invalid_response(err, "An Anthropic stream event is not a JSON "
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

    if (strcmp(type, "ping") == 0) {
        rc = LLM_OK;

    } else if (strcmp(type, "error") == 0) {
        rc = llm_anthropic_stream_error(root, err);

    } else if (strcmp(type, "message_start") == 0) {
        rc = llm_anthropic_stream_start(st, root, out, err);

    } else if (strcmp(type, "content_block_start") != 0
               && strcmp(type, "content_block_delta") != 0
               && strcmp(type, "content_block_stop") != 0
               && strcmp(type, "message_delta") != 0
               && strcmp(type, "message_stop") != 0)
    {
        /* an event type of tomorrow */
        rc = LLM_OK;

    } else if (!st->started) {
        llm_invalid_response(err, "The Anthropic stream does not start "
                             "with message_start");
        rc = LLM_ERROR;

    } else if (strcmp(type, "content_block_start") == 0) {
        rc = llm_anthropic_stream_block(st, root, out, err);

    } else if (strcmp(type, "content_block_delta") == 0) {
        rc = llm_anthropic_stream_delta(st, root, out, err);

    } else if (strcmp(type, "message_delta") == 0) {
        rc = llm_anthropic_stream_message(st, root, err);

    } else if (strcmp(type, "message_stop") == 0) {
        st->done = 1;
        rc = LLM_DONE;

    } else {
        /* content_block_stop */
        rc = LLM_OK;
    }

    llm_arena_delete(root);

    return rc;
}


/*
 * {"type":"message_start","message":{"id","model","usage":{...},...}}:
 * output_tokens there is a placeholder that message_delta replaces
 */

static int
llm_anthropic_stream_start(llm_stream_t *st, const cJSON *root,
    llm_stream_out_t *out, llm_error_t *err)
{
    llm_delta_t   d;
    const cJSON  *msg;

    if (st->started) {
        llm_invalid_response(err, "The Anthropic stream has a second "
                             "message_start");
        return LLM_ERROR;
    }

    msg = llm_json_get(root, "message");

    if (!cJSON_IsObject(msg)) {
        llm_invalid_response(err, "The Anthropic message_start event has "
                             "no \"message\" object");
        return LLM_ERROR;
    }

    llm_stream_set_id(st, llm_json_str(msg, "id"));
    llm_stream_set_model(st, llm_json_str(msg, "model"));

    llm_anthropic_usage(llm_anthropic_stream_item(msg, "usage"), &st->usage);

    llm_anthropic_stream_delta_init(&d);
    d.role = 1;
    d.content = "";

    return llm_anthropic_stream_write(st, out, &d, err);
}


/* {"type":"content_block_start","index","content_block":{"type",...}} */

static int
llm_anthropic_stream_block(llm_stream_t *st, const cJSON *root,
    llm_stream_out_t *out, llm_error_t *err)
{
    long long     index;
    const char   *type, *id, *name;
    llm_delta_t   d;
    const cJSON  *block;

    block = llm_json_get(root, "content_block");
    type = llm_json_str(block, "type");

    if (type == NULL) {
        llm_invalid_response(err, "The Anthropic content_block_start event "
                             "has no \"content_block\" with a \"type\"");
        return LLM_ERROR;
    }

    if (strcmp(type, "text") == 0) {
        return llm_anthropic_stream_text(st, llm_json_str(block, "text"),
                                         out, err);
    }

    if (strcmp(type, "tool_use") != 0) {
        /* thinking, redacted_thinking, server tools: no OpenAI form */
        return LLM_OK;
    }

    id = llm_json_str(block, "id");
    name = llm_json_str(block, "name");
    index = llm_json_count(root, "index");

    if (id == NULL || name == NULL || index < 0 || index > INT_MAX) {
        llm_invalid_response(err, "The Anthropic stream has a tool_use "
                             "block without an \"id\", a \"name\" and an "
                             "\"index\"");
        return LLM_ERROR;
    }

    if (st->ntools >= LLM_STREAM_MAX_TOOLS) {
        llm_error_set(err, 502, "server_error", NULL, NULL,
                      "The Anthropic stream has more than %d tool calls",
                      LLM_STREAM_MAX_TOOLS);
        return LLM_ERROR;
    }

    /* "input" is a placeholder ({}): the arguments come as deltas */

    llm_anthropic_stream_delta_init(&d);
    d.tool_index = st->ntools;
    d.tool_id = id;
    d.tool_name = name;
    d.tool_args = "";

    if (llm_anthropic_stream_write(st, out, &d, err) != LLM_OK) {
        return LLM_ERROR;
    }

    st->tool_block[st->ntools++] = (int) index;

    return LLM_OK;
}


/* {"type":"content_block_delta","index","delta":{"type",...}} */

static int
llm_anthropic_stream_delta(llm_stream_t *st, const cJSON *root,
    llm_stream_out_t *out, llm_error_t *err)
{
    int           k;
    const char   *type, *s;
    llm_delta_t   d;
    const cJSON  *delta;

    delta = llm_json_get(root, "delta");
    type = llm_json_str(delta, "type");

    if (type == NULL) {
        llm_invalid_response(err, "The Anthropic content_block_delta event "
                             "has no \"delta\" with a \"type\"");
        return LLM_ERROR;
    }

    if (strcmp(type, "text_delta") == 0) {
        s = llm_json_str(delta, "text");

        if (s == NULL) {
            llm_invalid_response(err, "The Anthropic text_delta has no "
                                 "\"text\" string");
            return LLM_ERROR;
        }

        return llm_anthropic_stream_text(st, s, out, err);
    }

    if (strcmp(type, "input_json_delta") != 0) {
        /* thinking_delta, signature_delta, citations_delta... */
        return LLM_OK;
    }

    s = llm_json_str(delta, "partial_json");

    if (s == NULL) {
        llm_invalid_response(err, "The Anthropic input_json_delta has no "
                             "\"partial_json\" string");
        return LLM_ERROR;
    }

    k = llm_anthropic_stream_tool(st, llm_json_count(root, "index"));

    if (k < 0 || s[0] == '\0') {
        /* the input of a server tool, or nothing */
        return LLM_OK;
    }

    llm_anthropic_stream_delta_init(&d);
    d.tool_index = k;
    d.tool_args = s;
    d.tool_args_len = strlen(s);

    return llm_anthropic_stream_write(st, out, &d, err);
}


/*
 * {"type":"message_delta","delta":{"stop_reason",...},"usage":{...}}:
 * output_tokens is cumulative (the last one wins); newer API versions
 * repeat the input counts there, and then they win too (all of them: a
 * cache count that is not repeated counts as 0)
 */

static int
llm_anthropic_stream_message(llm_stream_t *st, const cJSON *root,
    llm_error_t *err)
{
    long long     output;
    const char   *reason;
    const cJSON  *delta, *usage;
    llm_usage_t   u;

    delta = llm_anthropic_stream_item(root, "delta");

    if (delta != NULL && !cJSON_IsObject(delta)) {
        llm_invalid_response(err, "The Anthropic message_delta event has "
                             "a \"delta\" that is not an object");
        return LLM_ERROR;
    }

    reason = llm_json_str(delta, "stop_reason");

    if (reason != NULL) {
        st->finish_reason = llm_anthropic_finish(reason);
    }

    usage = llm_anthropic_stream_item(root, "usage");

    if (llm_json_count(usage, "input_tokens") >= 0) {
        llm_anthropic_usage(usage, &u);

        st->usage.prompt_tokens = u.prompt_tokens;
        st->usage.cached_tokens = u.cached_tokens;
        st->usage.cache_write_tokens = u.cache_write_tokens;
    }

    output = llm_json_count(usage, "output_tokens");

    if (output >= 0) {
        st->usage.completion_tokens = output;
    }

    /* -1 (message_start had no usage) is not a count to add */

    st->usage.total_tokens = llm_usage_add(st->usage.prompt_tokens,
                                           st->usage.completion_tokens);

    return LLM_OK;
}


/*
 * {"type":"error","error":{"type","message"}}: the OpenAI error that an
 * error answer of that type gets, with the status of that type
 */

static int
llm_anthropic_stream_error(const cJSON *root, llm_error_t *err)
{
    int           status;
    const char   *kind, *message, *type, *code;
    const cJSON  *e;

    e = llm_json_get(root, "error");
    kind = llm_json_str(e, "type");
    message = llm_json_str(e, "message");

    if (kind == NULL
        || llm_anthropic_error_type(kind, &status, &type, &code) != LLM_OK)
    {
        status = 502;
        type = "server_error";
        code = NULL;
    }

    if (message == NULL || message[0] == '\0') {
        llm_error_set(err, status, type, NULL, code,
                      "The Anthropic stream failed (%.64s)",
                      (kind != NULL) ? kind : "no error type");

    } else {
        llm_error_set(err, status, type, NULL, code, "%s", message);
    }

    return LLM_ERROR;
}


static int
llm_anthropic_stream_text(llm_stream_t *st, const char *text,
    llm_stream_out_t *out, llm_error_t *err)
{
    llm_delta_t  d;

    if (text == NULL || text[0] == '\0') {
        return LLM_OK;
    }

    llm_anthropic_stream_delta_init(&d);
    d.content = text;
    d.content_len = strlen(text);

    return llm_anthropic_stream_write(st, out, &d, err);
}


static int
llm_anthropic_stream_write(llm_stream_t *st, llm_stream_out_t *out,
    const llm_delta_t *d, llm_error_t *err)
{
    if (llm_stream_chunk(st, out, d) != LLM_OK) {
        llm_error_set(err, 500, "server_error", NULL, NULL,
                      "An Anthropic stream event does not fit the output "
                      "buffer");
        return LLM_ERROR;
    }

    return LLM_OK;
}


/* the OpenAI index of the tool call of a block, -1 if none */

static int
llm_anthropic_stream_tool(const llm_stream_t *st, long long index)
{
    int  k;

    if (index < 0) {
        return -1;
    }

    for (k = st->ntools - 1; k >= 0; k--) {
        if (st->tool_block[k] == index) {
            return k;
        }
    }

    return -1;
}


/* a member, with JSON null taken as absent */

static const cJSON *
llm_anthropic_stream_item(const cJSON *obj, const char *name)
{
    const cJSON  *item;

    item = llm_json_get(obj, name);

    return cJSON_IsNull(item) ? NULL : item;
}


static void
llm_anthropic_stream_delta_init(llm_delta_t *d)
{
    memset(d, 0, sizeof(llm_delta_t));

    d->tool_index = -1;
}
