
/*
 * ngx_http_llm_router_module: Gemini streamGenerateContent?alt=sse streams
 * into OpenAI chat.completion.chunk events (the provider's API reference;
 * docs/providers/gemini.md, "Streaming").
 *
 * Every event is a whole GenerateContentResponse holding only what is
 * new, but with cumulative usageMetadata:
 *
 *   the first event          st->id = responseId, st->model = modelVersion
 *                            (when there), the role chunk
 *   text parts               content chunks (thought parts dropped)
 *   functionCall parts       a whole tool call in one chunk: an id made
 *                            from the responseId and the call's index (the
 *                            one the non-streamed answer gets), the name,
 *                            all the arguments
 *   finishReason             st->finish_reason (STOP after a function
 *                            call: tool_calls); no chunk
 *   promptFeedback.blockReason without candidates
 *                            st->finish_reason = content_filter
 *   usageMetadata            st->usage, replaced (never added)
 *   {"error":{...}}          LLM_ERROR, err as for an error answer
 *
 * Gemini has no end event: this never returns LLM_DONE, the stream ends
 * at the end of the body.  Only candidate 0 is streamed.
 */


#include <stdio.h>
#include <string.h>

#include "llm_internal.h"


static int llm_gemini_stream_error(const cJSON *e, llm_error_t *err);
static int llm_gemini_stream_candidate(llm_stream_t *st, const cJSON *cand,
    llm_stream_out_t *out, llm_error_t *err);
static int llm_gemini_stream_call(llm_stream_t *st, const cJSON *fc,
    llm_stream_out_t *out, llm_error_t *err);
static int llm_gemini_stream_write(llm_stream_t *st, llm_stream_out_t *out,
    const llm_delta_t *d, llm_error_t *err);
static int llm_gemini_stream_bad(llm_error_t *err, const char *what);
static const cJSON *llm_gemini_stream_item(const cJSON *obj,
    const char *name);
static void llm_gemini_stream_delta_init(llm_delta_t *d);


int
llm_gemini_stream(llm_stream_t *st, const llm_sse_event_t *ev,
    llm_stream_out_t *out, llm_error_t *err)
{
    int           rc;
    cJSON        *root;
    llm_delta_t   d;
    const cJSON  *item, *cand;

    if (ev->data_len == 0) {
        return LLM_OK;
    }

    /* on the event's scratch, when there is one: read, never changed */

    root = llm_json_parse_pool(ev->data, ev->data_len, llm_arena_pool());

    if (root == NULL) {
        llm_invalid_response(err, "A Gemini stream event is not valid JSON");
        return LLM_ERROR;
    }

    rc = LLM_ERROR;

    if (!cJSON_IsObject(root)) {
        llm_gemini_stream_bad(err, "that is not a JSON object");
        goto done;
    }

    item = llm_gemini_stream_item(root, "error");

    if (item != NULL) {
        rc = llm_gemini_stream_error(item, err);
        goto done;
    }

    if (!st->started) {
        llm_stream_set_id(st, llm_json_str(root, "responseId"));
        llm_stream_set_model(st, llm_json_str(root, "modelVersion"));

        llm_gemini_stream_delta_init(&d);
        d.role = 1;
        d.content = "";

        if (llm_gemini_stream_write(st, out, &d, err) != LLM_OK) {
            goto done;
        }
    }

    item = llm_gemini_stream_item(root, "candidates");

    if (item != NULL && !cJSON_IsArray(item)) {
        llm_gemini_stream_bad(err, "with a \"candidates\" that is not an "
                              "array");
        goto done;
    }

    if (cJSON_GetArraySize(item) == 0) {
        /* the prompt was blocked: no candidates, a promptFeedback */

        if (llm_json_str(llm_gemini_stream_item(root, "promptFeedback"),
                         "blockReason")
            != NULL)
        {
            st->finish_reason = "content_filter";
        }
    }

    for (cand = item ? item->child : NULL; cand != NULL; cand = cand->next) {
        if (!cJSON_IsObject(cand)) {
            llm_gemini_stream_bad(err, "with a candidate that is not an "
                                  "object");
            goto done;
        }

        /* n > 1 is not streamed: candidate 0 only */

        if (llm_json_count(cand, "index") > 0) {
            continue;
        }

        if (llm_gemini_stream_candidate(st, cand, out, err) != LLM_OK) {
            goto done;
        }
    }

    item = llm_gemini_stream_item(root, "usageMetadata");

    if (item != NULL) {
        llm_gemini_usage(item, &st->usage);
    }

    rc = LLM_OK;

done:

    llm_arena_delete(root);

    return rc;
}


/*
 * {"error":{"code","message","status","details"}}: the OpenAI error an
 * error answer with that code gets (502 when the code is not an HTTP
 * error status)
 */

static int
llm_gemini_stream_error(const cJSON *e, llm_error_t *err)
{
    int          status;
    long long    code;
    const char  *message, *type, *s;

    code = llm_json_count(e, "code");
    status = (code >= 400 && code <= 599) ? (int) code : 502;

    llm_gemini_error_type(status, e, &type, &s);

    message = llm_json_str(e, "message");

    if (message == NULL || message[0] == '\0') {
        llm_error_set(err, status, type, NULL, s,
                      "The Gemini stream failed (%.64s)",
                      llm_json_str(e, "status") ? llm_json_str(e, "status")
                                                : "no status");

    } else {
        llm_error_set(err, status, type, NULL, s, "%s", message);
    }

    return LLM_ERROR;
}


static int
llm_gemini_stream_candidate(llm_stream_t *st, const cJSON *cand,
    llm_stream_out_t *out, llm_error_t *err)
{
    llm_delta_t   d;
    const cJSON  *parts, *part, *text, *fc;

    parts = llm_gemini_stream_item(cand, "content");

    if (parts != NULL && !cJSON_IsObject(parts)) {
        return llm_gemini_stream_bad(err, "with a candidate content that is "
                                     "not an object");
    }

    parts = llm_gemini_stream_item(parts, "parts");

    if (parts != NULL && !cJSON_IsArray(parts)) {
        return llm_gemini_stream_bad(err, "with candidate parts that are not "
                                     "an array");
    }

    for (part = parts ? parts->child : NULL; part != NULL; part = part->next)
    {
        if (!cJSON_IsObject(part)) {
            return llm_gemini_stream_bad(err, "with a part that is not an "
                                         "object");
        }

        text = llm_gemini_stream_item(part, "text");

        if (text != NULL) {
            if (!cJSON_IsString(text)) {
                return llm_gemini_stream_bad(err, "with a text part that is "
                                             "not a string");
            }

            if (text->valuestring[0] != '\0'
                && !cJSON_IsTrue(llm_json_get(part,
                                              "thought")))
            {
                llm_gemini_stream_delta_init(&d);
                d.content = text->valuestring;
                d.content_len = strlen(text->valuestring);

                if (llm_gemini_stream_write(st, out, &d, err) != LLM_OK) {
                    return LLM_ERROR;
                }
            }
        }

        fc = llm_gemini_stream_item(part, "functionCall");

        if (fc != NULL && llm_gemini_stream_call(st, fc, out, err) != LLM_OK)
        {
            return LLM_ERROR;
        }
    }

    if (llm_json_str(cand, "finishReason") != NULL) {
        st->finish_reason = llm_gemini_finish(cand, (size_t) st->ntools);
    }

    return LLM_OK;
}


/*
 * A functionCall comes whole: one chunk with the id, the name and all the
 * arguments.  The id is the one the non-streamed answer gets: made from
 * the responseId (st->id) and the call's index.  Printing "args" is the
 * one allocation besides the parse, freed here.
 */

static int
llm_gemini_stream_call(llm_stream_t *st, const cJSON *fc,
    llm_stream_out_t *out, llm_error_t *err)
{
    int           rc;
    char          key[160], id[LLM_TOOL_CALL_ID_LEN + 1], *args;
    const char   *name;
    llm_delta_t   d;
    const cJSON  *item;

    name = llm_json_str(fc, "name");

    if (name == NULL) {
        return llm_gemini_stream_bad(err, "with a functionCall without a "
                                     "name");
    }

    if (st->ntools >= LLM_STREAM_MAX_TOOLS) {
        llm_error_set(err, 502, "server_error", NULL, NULL,
                      "The Gemini stream has more than %d tool calls",
                      LLM_STREAM_MAX_TOOLS);
        return LLM_ERROR;
    }

    snprintf(key, sizeof(key), "%.128s/0/%d", st->id, st->ntools);
    llm_tool_call_id_write(id, key, strlen(key));

    item = llm_gemini_stream_item(fc, "args");

    if (item == NULL) {
        args = NULL;

    } else {
        args = cJSON_PrintUnformatted(item);
        if (args == NULL) {
            llm_error_set(err, 500, "server_error", NULL, NULL,
                          "out of memory");
            return LLM_ERROR;
        }
    }

    llm_gemini_stream_delta_init(&d);
    d.tool_index = st->ntools;
    d.tool_id = id;
    d.tool_name = name;
    d.tool_args = (args != NULL) ? args : "{}";
    d.tool_args_len = strlen(d.tool_args);

    rc = llm_gemini_stream_write(st, out, &d, err);

    cJSON_free(args);

    if (rc != LLM_OK) {
        return LLM_ERROR;
    }

    st->tool_block[st->ntools] = st->ntools;
    st->ntools++;

    return LLM_OK;
}


static int
llm_gemini_stream_write(llm_stream_t *st, llm_stream_out_t *out,
    const llm_delta_t *d, llm_error_t *err)
{
    if (llm_stream_chunk(st, out, d) != LLM_OK) {
        llm_error_set(err, 500, "server_error", NULL, NULL,
                      "A Gemini stream event does not fit the output "
                      "buffer");
        return LLM_ERROR;
    }

    return LLM_OK;
}


static int
llm_gemini_stream_bad(llm_error_t *err, const char *what)
{
    llm_invalid_response(err, "The Gemini stream has an event %s", what);

    return LLM_ERROR;
}


/* a member, with JSON null taken as absent */

static const cJSON *
llm_gemini_stream_item(const cJSON *obj, const char *name)
{
    const cJSON  *item;

    if (!cJSON_IsObject(obj)) {
        return NULL;
    }

    item = llm_json_get(obj, name);

    return cJSON_IsNull(item) ? NULL : item;
}


static void
llm_gemini_stream_delta_init(llm_delta_t *d)
{
    memset(d, 0, sizeof(llm_delta_t));

    d->tool_index = -1;
}
