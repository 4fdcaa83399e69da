
/*
 * ngx_http_llm_router_module: libFuzzer target for one adapter's stream
 * decoder, built once per adapter:
 *
 *   clang ... -DLLM_FUZZ_ADAPTER=\"openai\" fuzz_stream.c ...
 *
 * An input is two bytes of settings then the provider's stream bytes:
 *
 *   byte 0    the size of the pieces the bytes arrive in (0: all at once)
 *   byte 1    bit 0: the client asked for include_usage; bit 1: the
 *             provider configures a model; bit 2: a small output buffer
 *             (the decoder must fail cleanly when it is full); bits 3-4:
 *             the text buffer (st.text) of 0 (none), 7, 64 or 4096 bytes
 *
 * The bytes go through llm_sse_feed() with a 4 KiB buffer, each event
 * through the adapter's stream_event() (when it has one; else only the
 * framer is exercised) with an output buffer of its own, as large as the
 * glue's (2 * data_len + 4096 bytes), then llm_stream_finish() or, after
 * an error, llm_stream_fail() into 4096 bytes, as the glue does.
 *
 * Beyond memory errors (ASan/UBSan), every output is checked: a sequence
 * of "data: <strict JSON>\n\n" (and ": comment\n\n") events,
 * "data: [DONE]\n\n" only at the end of finish and fail, finish_reason
 * values OpenAI's, error events with a message and a type, no usage chunk
 * for a client that did not ask for one, one for a client that did when
 * the provider reported usage and (translated streams) none when it did
 * not; finish and fail always fit their 4096 bytes.  The text kept in
 * st.text is the content of choice 0 the output has, cut on a UTF-8
 * boundary at the buffer's size.
 */


#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


#ifndef LLM_FUZZ_ADAPTER
#error "build with -DLLM_FUZZ_ADAPTER=\"<adapter name>\""
#endif


#define FUZZ_CREATED    1767225600LL
#define FUZZ_SSE_SIZE   4096
#define FUZZ_OUT_SMALL  256

/* the glue's sizes: 2 * data_len + 4096 for an event, 4096 for the end */
#define FUZZ_OUT_EXTRA  4096
#define FUZZ_END_SIZE   4096

/* the content of choice 0 that went out, as much as a text can hold */
#define FUZZ_TEXT_MAX   4096


typedef struct {
    const llm_adapter_t  *ad;
    llm_stream_t          st;
    llm_stream_out_t      out;
    llm_error_t           err;
    int                   rc;           /* the last stream_event's */
    int                   usage_chunks; /* "choices":[] with usage */
    int                   small;        /* a small output buffer */
    size_t                content_len;  /* of choice 0, all of it */
    char                  content[FUZZ_TEXT_MAX + 8];
} fuzz_run_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void fuzz_check(int ok, const char *what);
static const llm_adapter_t *fuzz_adapter(void);
static int fuzz_event(void *data, const llm_sse_event_t *ev);
static void fuzz_events(fuzz_run_t *run, const char *buf, size_t len,
    int end);
static void fuzz_chunk(fuzz_run_t *run, const cJSON *root);
static int fuzz_finish_reason(const cJSON *item);
static void fuzz_content(fuzz_run_t *run, const cJSON *choices);
static void fuzz_append(fuzz_run_t *run, const char *s);
static void fuzz_text(const fuzz_run_t *run);


/*
 * the events' cJSON work on a scratch as the module has it, small enough
 * that larger events go past it into blocks of their own
 */
static char           fuzz_scratch_buf[6000];
static llm_scratch_t  fuzz_scratch;


static const char  *const fuzz_finish[] = {
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "function_call",
    NULL
};


static void
fuzz_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_stream_%s: invariant failed: %s\n",
                LLM_FUZZ_ADAPTER, what);
        abort();
    }
}


static const llm_adapter_t *
fuzz_adapter(void)
{
    static const llm_adapter_t  *ad;

    if (ad == NULL) {
        ad = llm_adapter_find(LLM_FUZZ_ADAPTER, strlen(LLM_FUZZ_ADAPTER));
        fuzz_check(ad != NULL, "the adapter exists");
    }

    return ad;
}


static int
fuzz_event(void *data, const llm_sse_event_t *ev)
{
    fuzz_run_t  *run;

    run = data;

    fuzz_check(ev->event != NULL && ev->data != NULL
               && ev->event[ev->event_len] == '\0'
               && ev->data[ev->data_len] == '\0'
               && ev->data_len + 1
                  + (ev->event_len ? ev->event_len + 1 : 0) <= FUZZ_SSE_SIZE,
               "events are NUL-terminated and fit the buffer");

    /* the glue stops at the end the provider announced */

    if (run->ad->stream_event == NULL || run->rc == LLM_DONE) {
        return LLM_OK;
    }

    /* exact sizes, so that ASan sees any write past them */

    run->out.size = run->small ? FUZZ_OUT_SMALL
                               : 2 * ev->data_len + FUZZ_OUT_EXTRA;
    run->out.buf = malloc(run->out.size);
    run->out.len = 0;

    fuzz_check(run->out.buf != NULL, "malloc");

    run->rc = llm_stream_event(run->ad, &fuzz_scratch, &run->st, ev,
                               &run->out, &run->err);

    fuzz_check(run->rc == LLM_OK || run->rc == LLM_DONE
               || run->rc == LLM_ERROR, "stream_event's return value");
    fuzz_check(run->out.len <= run->out.size, "out->len <= out->size");

    fuzz_events(run, run->out.buf, run->out.len, 0);

    free(run->out.buf);
    run->out.buf = NULL;

    if (run->rc == LLM_DONE) {
        fuzz_check(run->st.done, "done is set with LLM_DONE");
    }

    if (run->rc != LLM_ERROR) {
        return LLM_OK;
    }

    fuzz_check(run->err.status >= 400 && run->err.status < 600,
               "error status");
    fuzz_check(memchr(run->err.message, '\0', sizeof(run->err.message))
               != NULL, "error message NUL-terminated");

    return LLM_ERROR;
}


/*
 * buf is a sequence of "data: <strict JSON>\n\n" or ": <comment>\n\n";
 * end: the output of finish or fail, whose last event alone is
 * "data: [DONE]\n\n"
 */

static void
fuzz_events(fuzz_run_t *run, const char *buf, size_t len, int end)
{
    int          done;
    cJSON       *root;
    size_t       n;
    const char  *p, *last, *nl;

    p = buf;
    last = buf + len;
    done = 0;

    while (p < last) {
        fuzz_check(!done, "nothing after [DONE]");

        nl = memchr(p, '\n', (size_t) (last - p));
        fuzz_check(nl != NULL && nl + 1 < last && nl[1] == '\n',
                   "events end with a blank line");

        if (p[0] == ':') {
            fuzz_check(memchr(p, '\r', (size_t) (nl - p)) == NULL,
                       "one-line comments");
            p = nl + 2;
            continue;
        }

        fuzz_check(nl - p >= 6 && memcmp(p, "data: ", 6) == 0,
                   "events are data: lines");

        p += 6;
        n = (size_t) (nl - p);

        if (n == 6 && memcmp(p, "[DONE]", 6) == 0) {
            fuzz_check(end, "[DONE] only from finish and fail");
            done = 1;
            p = nl + 2;
            continue;
        }

        fuzz_check(llm_json_validate(p, n, NULL) == LLM_OK,
                   "event data is strict JSON");

        root = cJSON_ParseWithLength(p, n);
        fuzz_check(cJSON_IsObject(root), "event data is an object");

        fuzz_chunk(run, root);

        cJSON_Delete(root);

        p = nl + 2;
    }

    fuzz_check(!end || done, "finish and fail end with [DONE]");
}


static void
fuzz_chunk(fuzz_run_t *run, const cJSON *root)
{
    const cJSON  *e, *choices, *ch, *usage;

    e = cJSON_GetObjectItemCaseSensitive(root, "error");

    if (e != NULL && !cJSON_IsNull(e)) {
        fuzz_check(cJSON_IsObject(e)
                   && llm_json_str(e, "message") != NULL
                   && llm_json_str(e, "type") != NULL,
                   "error events have a message and a type");
        return;
    }

    choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    fuzz_check(cJSON_IsArray(choices), "chunks have choices");

    for (ch = choices->child; ch != NULL; ch = ch->next) {
        fuzz_check(fuzz_finish_reason(
                       cJSON_GetObjectItemCaseSensitive(ch, "finish_reason")),
                   "finish_reason is null or an OpenAI one");
    }

    usage = cJSON_GetObjectItemCaseSensitive(root, "usage");

    if (choices->child == NULL && cJSON_IsObject(usage)) {
        fuzz_check(run->st.include_usage,
                   "no usage chunk for a client that did not ask");
        run->usage_chunks++;
    }

    fuzz_content(run, choices);
}


/*
 * the content of the first choice whose index is 0 (or missing): a
 * string, or the text parts of an array, as the decoders keep it
 */

static void
fuzz_content(fuzz_run_t *run, const cJSON *choices)
{
    const char   *type;
    const cJSON  *ch, *content, *part;

    for (ch = choices->child; ch != NULL; ch = ch->next) {
        if (llm_json_count(ch, "index") <= 0) {
            break;
        }
    }

    content = cJSON_GetObjectItemCaseSensitive(
                  cJSON_GetObjectItemCaseSensitive(ch, "delta"), "content");

    if (cJSON_IsString(content)) {
        fuzz_append(run, content->valuestring);
        return;
    }

    if (!cJSON_IsArray(content)) {
        return;
    }

    for (part = content->child; part != NULL; part = part->next) {
        type = llm_json_str(part, "type");

        if (type != NULL && strcmp(type, "text") == 0
            && llm_json_str(part, "text") != NULL)
        {
            fuzz_append(run, llm_json_str(part, "text"));
        }
    }
}


static void
fuzz_append(fuzz_run_t *run, const char *s)
{
    size_t  n, room;

    n = strlen(s);
    room = sizeof(run->content) - run->content_len;

    if (run->content_len < sizeof(run->content)) {
        memcpy(run->content + run->content_len, s, n < room ? n : room);
    }

    run->content_len = (n < room) ? run->content_len + n
                                   : sizeof(run->content);
}


/* st.text: the content that went out, cut on a UTF-8 boundary */

static void
fuzz_text(const fuzz_run_t *run)
{
    size_t  want;

    if (run->st.text == NULL) {
        fuzz_check(run->st.text_len == 0, "no text without a buffer");
        return;
    }

    fuzz_check(run->st.text_len <= run->st.text_size, "text fits");

    want = run->content_len;

    if (want > run->st.text_size) {
        want = llm_utf8_trim(run->content, run->st.text_size);
    }

    fuzz_check(run->st.text_len == want
               && memcmp(run->st.text, run->content, want) == 0,
               "the text is the content that went out");
}


static int
fuzz_finish_reason(const cJSON *item)
{
    size_t  i;

    if (item == NULL || cJSON_IsNull(item)) {
        return 1;
    }

    if (!cJSON_IsString(item)) {
        return 0;
    }

    for (i = 0; fuzz_finish[i] != NULL; i++) {
        if (strcmp(item->valuestring, fuzz_finish[i]) == 0) {
            return 1;
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              rc;
    char            *sse_buf, *text;
    size_t           step, off, n, text_size;
    unsigned         flags;
    llm_sse_t        sse;
    fuzz_run_t       run;
    llm_request_t    req;
    llm_provider_t   p;

    static const size_t  fuzz_text_sizes[] = { 0, 7, 64, FUZZ_TEXT_MAX };

    if (size < 2) {
        return 0;
    }

    if (fuzz_scratch.start == NULL) {
        llm_scratch_init(&fuzz_scratch, fuzz_scratch_buf,
                         sizeof(fuzz_scratch_buf));
    }

    step = data[0];
    flags = data[1];

    memset(&run, 0, sizeof(fuzz_run_t));
    memset(&req, 0, sizeof(llm_request_t));
    memset(&p, 0, sizeof(llm_provider_t));

    req.model = "client-model";
    req.stream = 1;
    req.include_usage = flags & 1;

    p.name = "fuzz";
    p.model = (flags & 2) ? "configured-model" : NULL;

    data += 2;
    size -= 2;

    run.ad = fuzz_adapter();
    run.rc = LLM_OK;

    llm_stream_init(&run.st, &req, &p, FUZZ_CREATED);

    run.small = (flags & 4) != 0;

    /* exact sizes, so that ASan sees any write past them */

    text_size = fuzz_text_sizes[(flags >> 3) & 3];
    text = NULL;

    if (text_size) {
        text = malloc(text_size);
        fuzz_check(text != NULL, "malloc");
    }

    run.st.text = text;
    run.st.text_size = text_size;

    sse_buf = malloc(FUZZ_SSE_SIZE);
    fuzz_check(sse_buf != NULL, "malloc");

    llm_sse_init(&sse, sse_buf, FUZZ_SSE_SIZE);

    rc = LLM_OK;

    for (off = 0; off < size; off += n) {
        n = (step == 0) ? size - off : step;

        if (n > size - off) {
            n = size - off;
        }

        rc = llm_sse_feed(&sse, (const char *) data + off, n, fuzz_event,
                          &run);

        if (rc != LLM_OK) {
            break;
        }
    }

    fuzz_check(rc == LLM_OK || rc == LLM_ERROR, "feed's return value");

    /* the end of the stream: it always fits the glue's 4096 bytes */

    run.out.buf = malloc(FUZZ_END_SIZE);
    fuzz_check(run.out.buf != NULL, "malloc");

    run.out.size = FUZZ_END_SIZE;
    run.out.len = 0;

    if (rc != LLM_OK) {
        if (run.rc != LLM_ERROR) {
            /* the framer's own error: an event larger than its buffer */
            llm_error_set(&run.err, 502, "api_error", NULL,
                          "invalid_provider_response", "event too large");
        }

        fuzz_check(llm_stream_fail(&run.st, &run.err, &run.out) == LLM_OK,
                   "fail succeeds");

        fuzz_events(&run, run.out.buf, run.out.len, 1);

    } else {
        fuzz_check(run.rc != LLM_ERROR, "a handler error stops the framer");

        fuzz_check(llm_stream_finish(&run.st, &run.out) == LLM_OK,
                   "finish succeeds");

        fuzz_events(&run, run.out.buf, run.out.len, 1);

        fuzz_check(run.st.finished, "finished after finish");

        /* usage when reported (OpenAI relays the provider's chunk) */

        if (run.ad->stream_event != NULL && run.st.include_usage
            && llm_usage_known(&run.st.usage))
        {
            fuzz_check(run.usage_chunks >= 1, "usage for a client that "
                                              "asked");
        }

        /* translated streams; OpenAI and Mistral relay a usage chunk */

        if (run.ad->stream_event != NULL
            && strcmp(run.ad->name, "openai") != 0
            && strcmp(run.ad->name, "mistral") != 0
            && !llm_usage_known(&run.st.usage))
        {
            fuzz_check(run.usage_chunks == 0, "no usage chunk when none "
                                              "was reported");
        }
    }

    fuzz_text(&run);

    free(run.out.buf);
    free(text);
    free(sse_buf);

    return 0;
}
