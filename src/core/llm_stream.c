
/*
 * ngx_http_llm_router_module: the OpenAI side of every translated stream:
 * chunk, usage, finish and error events written to a fixed buffer, the
 * per-stream state they use, and the text of the answer kept for prompt
 * logs.
 */


#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


static void *llm_scratch_alloc(void *data, size_t size);
static int llm_stream_begin(llm_out_t *o, const llm_stream_out_t *out);
static int llm_stream_commit(const llm_out_t *o, llm_stream_out_t *out);
static void llm_stream_head(llm_out_t *o, const llm_stream_t *st);
static void llm_stream_delta(llm_out_t *o, const llm_delta_t *d);
static void llm_stream_usage(llm_out_t *o, const llm_usage_t *in);
static void llm_stream_copy(char *dst, size_t size, const char *src);


void
llm_stream_init(llm_stream_t *st, const llm_request_t *req,
    const llm_provider_t *p, long long created)
{
    int          i;
    char         seed[32], id[LLM_TOOL_CALL_ID_LEN + 1];
    const char  *model;

    memset(st, 0, sizeof(llm_stream_t));

    /* "chatcmpl-" + 24 characters of the tool call id for this seed */

    snprintf(seed, sizeof(seed), "stream:%lld", created);
    llm_tool_call_id_write(id, seed, strlen(seed));

    memcpy(st->id, "chatcmpl-", sizeof("chatcmpl-") - 1);
    memcpy(st->id + sizeof("chatcmpl-") - 1, id + sizeof("call_") - 1,
           LLM_TOOL_CALL_ID_LEN - (sizeof("call_") - 1) + 1);

    model = NULL;

    if (p != NULL && p->model != NULL && p->model[0] != '\0') {
        model = p->model;

    } else if (req != NULL) {
        model = req->model;
    }

    llm_stream_copy(st->model, sizeof(st->model), model);

    st->created = created;
    st->include_usage = (req != NULL) ? req->include_usage : 0;

    st->finish_reason = NULL;

    llm_usage_none(&st->usage);

    st->ntools = 0;

    for (i = 0; i < LLM_STREAM_MAX_TOOLS; i++) {
        st->tool_block[i] = -1;
    }
}


void
llm_stream_set_id(llm_stream_t *st, const char *id)
{
    if (id != NULL && id[0] != '\0') {
        llm_stream_copy(st->id, sizeof(st->id), id);
    }
}


void
llm_stream_set_model(llm_stream_t *st, const char *model)
{
    if (model != NULL && model[0] != '\0') {
        llm_stream_copy(st->model, sizeof(st->model), model);
    }
}


/* src (NULL: "") cut at a UTF-8 boundary to fit, NUL-terminated */

static void
llm_stream_copy(char *dst, size_t size, const char *src)
{
    size_t  n;

    if (src == NULL) {
        src = "";
    }

    n = strlen(src);

    if (n >= size) {
        n = llm_utf8_trim(src, size - 1);
    }

    memmove(dst, src, n);
    dst[n] = '\0';
}


int
llm_stream_chunk(llm_stream_t *st, llm_stream_out_t *out,
    const llm_delta_t *d)
{
    llm_out_t  o;

    if (llm_stream_begin(&o, out) != LLM_OK) {
        return LLM_ERROR;
    }

    llm_stream_head(&o, st);
    llm_out_cstr(&o, ",\"choices\":[{\"index\":0,\"delta\":{");
    llm_stream_delta(&o, d);
    llm_out_cstr(&o, "},\"logprobs\":null,\"finish_reason\":");

    if (d->finish_reason != NULL) {
        llm_out_nstr(&o, d->finish_reason);

    } else {
        llm_out_cstr(&o, "null");
    }

    llm_out_cstr(&o, "}]}\n\n");

    if (llm_stream_commit(&o, out) != LLM_OK) {
        return LLM_ERROR;
    }

    if (d->role) {
        st->started = 1;
    }

    if (d->content_len || d->refusal != NULL || d->tool_index >= 0
        || d->finish_reason != NULL)
    {
        st->content = 1;
    }

    if (d->finish_reason != NULL) {
        st->finished = 1;
        st->finish_reason = d->finish_reason;
    }

    if (d->content != NULL) {
        llm_stream_text(st, d->content, d->content_len);
    }

    return LLM_OK;
}


void
llm_stream_text(llm_stream_t *st, const char *s, size_t len)
{
    size_t                n;
    const char           *c;
    const unsigned char  *p, *last;

    if (st->text == NULL || st->text_full) {
        return;
    }

    if (st->text_len > st->text_size) {
        st->text_full = 1;
        return;
    }

    p = (const unsigned char *) s;
    last = p + len;

    while (p < last) {
        n = llm_utf8_len(p, (size_t) (last - p));

        if (n == 0) {
            c = "\xef\xbf\xbd";                  /* U+FFFD */
            n = 3;
            p++;

        } else {
            c = (const char *) p;
            p += n;
        }

        if (n > st->text_size - st->text_len) {
            st->text_full = 1;
            return;
        }

        memcpy(st->text + st->text_len, c, n);
        st->text_len += n;
    }
}


int
llm_stream_usage_chunk(llm_stream_t *st, llm_stream_out_t *out)
{
    llm_out_t  o;

    if (llm_stream_begin(&o, out) != LLM_OK) {
        return LLM_ERROR;
    }

    llm_stream_head(&o, st);
    llm_out_cstr(&o, ",\"choices\":[],\"usage\":");
    llm_stream_usage(&o, &st->usage);
    llm_out_cstr(&o, "}\n\n");

    if (llm_stream_commit(&o, out) != LLM_OK) {
        return LLM_ERROR;
    }

    st->usage_sent = 1;

    return LLM_OK;
}


int
llm_stream_data(llm_stream_out_t *out, const char *data, size_t len)
{
    return llm_stream_data_insert(out, data, len, NULL, 0, NULL);
}


int
llm_stream_data_insert(llm_stream_out_t *out, const char *data, size_t len,
    const size_t *at, size_t n, const char *ins)
{
    size_t       i, pos, end, k;
    llm_out_t    o;
    const char  *nl;

    if (llm_stream_begin(&o, out) != LLM_OK) {
        return LLM_ERROR;
    }

    llm_out_raw(&o, "data: ", sizeof("data: ") - 1);

    /* one line: "\n" joined the data lines, it is whitespace in JSON */

    pos = 0;

    for (i = 0; i <= n; i++) {
        end = (i < n && at[i] >= pos && at[i] <= len) ? at[i] : len;

        while (pos < end) {
            nl = memchr(data + pos, '\n', end - pos);
            k = (nl != NULL) ? (size_t) (nl - data) : end;

            llm_out_raw(&o, data + pos, k - pos);
            pos = k;

            if (nl != NULL) {
                llm_out_raw(&o, " ", 1);
                pos++;
            }
        }

        if (i < n) {
            llm_out_cstr(&o, ins);
        }
    }

    llm_out_raw(&o, "\n\n", 2);

    return llm_stream_commit(&o, out);
}


/* all or nothing: the state is put back when out has no room */

int
llm_stream_finish(llm_stream_t *st, llm_stream_out_t *out)
{
    size_t        len;
    unsigned      finished, usage_sent;
    const char   *reason;
    llm_delta_t   d;

    len = out->len;
    finished = st->finished;
    usage_sent = st->usage_sent;
    reason = st->finish_reason;

    if (!st->finished) {
        memset(&d, 0, sizeof(llm_delta_t));

        d.tool_index = -1;
        d.finish_reason = (st->finish_reason != NULL) ? st->finish_reason
                                                      : "stop";

        if (llm_stream_chunk(st, out, &d) != LLM_OK) {
            goto failed;
        }
    }

    /* "not reported" is not 0: no usage chunk at all then */

    if (st->include_usage && !st->usage_sent
        && llm_usage_known(&st->usage))
    {
        if (llm_stream_usage_chunk(st, out) != LLM_OK) {
            goto failed;
        }
    }

    if (llm_stream_data(out, "[DONE]", sizeof("[DONE]") - 1) != LLM_OK) {
        goto failed;
    }

    return LLM_OK;

failed:

    out->len = len;
    st->finished = finished;
    st->usage_sent = usage_sent;
    st->finish_reason = reason;

    return LLM_ERROR;
}


int
llm_stream_fail(llm_stream_t *st, const llm_error_t *err,
    llm_stream_out_t *out)
{
    size_t       len, n;
    llm_out_t    o;
    const char  *end;

    (void) st;

    len = out->len;

    if (llm_stream_begin(&o, out) != LLM_OK) {
        return LLM_ERROR;
    }

    end = memchr(err->message, '\0', sizeof(err->message));
    n = (end != NULL) ? (size_t) (end - err->message) : sizeof(err->message);

    llm_out_raw(&o, "data: ", sizeof("data: ") - 1);
    llm_error_write(&o, err->message, n, err->type, err->param, err->code);
    llm_out_raw(&o, "\n\n", 2);

    if (llm_stream_commit(&o, out) != LLM_OK
        || llm_stream_data(out, "[DONE]", sizeof("[DONE]") - 1) != LLM_OK)
    {
        out->len = len;
        return LLM_ERROR;
    }

    return LLM_OK;
}


/* o writes into the free part of out; nothing lands past out->size */

static int
llm_stream_begin(llm_out_t *o, const llm_stream_out_t *out)
{
    if (out->buf == NULL || out->len > out->size) {
        return LLM_ERROR;
    }

    o->buf = out->buf + out->len;
    o->len = 0;
    o->size = out->size - out->len;

    return LLM_OK;
}


static int
llm_stream_commit(const llm_out_t *o, llm_stream_out_t *out)
{
    if (o->len > o->size) {
        return LLM_ERROR;
    }

    out->len += o->len;

    return LLM_OK;
}


/* data: {"id":...,"object":"chat.completion.chunk","created":N,"model":... */

static void
llm_stream_head(llm_out_t *o, const llm_stream_t *st)
{
    llm_out_cstr(o, "data: {\"id\":");
    llm_out_nstr(o, st->id);
    llm_out_cstr(o, ",\"object\":\"chat.completion.chunk\",\"created\":");
    llm_out_int(o, st->created);
    llm_out_cstr(o, ",\"model\":");
    llm_out_nstr(o, st->model);
}


static void
llm_stream_delta(llm_out_t *o, const llm_delta_t *d)
{
    const char  *sep;

    sep = "";

    if (d->role) {
        llm_out_cstr(o, "\"role\":\"assistant\"");
        sep = ",";
    }

    if (d->content != NULL) {
        llm_out_cstr(o, sep);
        llm_out_cstr(o, "\"content\":");
        llm_out_str(o, d->content, d->content_len);
        sep = ",";
    }

    if (d->refusal != NULL) {
        llm_out_cstr(o, sep);
        llm_out_cstr(o, "\"refusal\":");
        llm_out_nstr(o, d->refusal);
        sep = ",";
    }

    if (d->tool_index < 0) {
        return;
    }

    llm_out_cstr(o, sep);
    llm_out_cstr(o, "\"tool_calls\":[{\"index\":");
    llm_out_int(o, d->tool_index);

    if (d->tool_id != NULL || d->tool_name != NULL) {
        llm_out_cstr(o, ",\"id\":");
        llm_out_nstr(o, d->tool_id);
        llm_out_cstr(o, ",\"type\":\"function\",\"function\":{\"name\":");
        llm_out_nstr(o, d->tool_name);
        llm_out_raw(o, ",", 1);

    } else {
        llm_out_cstr(o, ",\"function\":{");
    }

    llm_out_cstr(o, "\"arguments\":");

    if (d->tool_args != NULL) {
        llm_out_str(o, d->tool_args, d->tool_args_len);

    } else {
        llm_out_cstr(o, "\"\"");
    }

    llm_out_cstr(o, "}}]");
}


static void
llm_stream_usage(llm_out_t *o, const llm_usage_t *in)
{
    llm_usage_t  u;

    /* as a chat.completion renders it (llm_completion_render()) */

    llm_usage_norm(in, &u);

    llm_out_cstr(o, "{\"prompt_tokens\":");
    llm_out_int(o, u.prompt_tokens);
    llm_out_cstr(o, ",\"completion_tokens\":");
    llm_out_int(o, u.completion_tokens);
    llm_out_cstr(o, ",\"total_tokens\":");
    llm_out_int(o, u.total_tokens);

    if (u.cached_tokens >= 0) {
        llm_out_cstr(o, ",\"prompt_tokens_details\":{\"cached_tokens\":");
        llm_out_int(o, u.cached_tokens);
        llm_out_raw(o, "}", 1);
    }

    if (u.reasoning_tokens >= 0) {
        llm_out_cstr(o,
                     ",\"completion_tokens_details\":{\"reasoning_tokens\":");
        llm_out_int(o, u.reasoning_tokens);
        llm_out_raw(o, "}", 1);
    }

    llm_out_raw(o, "}", 1);
}


#define LLM_SCRATCH_ALIGN  16


void
llm_scratch_init(llm_scratch_t *s, char *buf, size_t size)
{
    s->start = buf;
    s->pos = buf;
    s->last = buf + size;
    s->blocks = NULL;
    s->pool.alloc = llm_scratch_alloc;
    s->pool.data = s;
}


void
llm_scratch_reset(llm_scratch_t *s)
{
    void  *b, *next;

    for (b = s->blocks; b != NULL; b = next) {
        next = *(void **) b;
        free(b);
    }

    s->blocks = NULL;
    s->pos = s->start;
}


static void *
llm_scratch_alloc(void *data, size_t size)
{
    llm_scratch_t *s = data;

    char    *p;
    size_t   skip;

    skip = (size_t) (-(uintptr_t) s->pos & (LLM_SCRATCH_ALIGN - 1));

    if (size <= (size_t) (s->last - s->pos)
        && skip <= (size_t) (s->last - s->pos) - size)
    {
        p = s->pos + skip;
        s->pos = p + size;
        return p;
    }

    /* beyond the buffer: a block of its own, the list's link first */

    if (size > (size_t) -1 - LLM_SCRATCH_ALIGN) {
        return NULL;
    }

    p = malloc(size + LLM_SCRATCH_ALIGN);
    if (p == NULL) {
        return NULL;
    }

    *(void **) p = s->blocks;
    s->blocks = p;

    return p + LLM_SCRATCH_ALIGN;
}


int
llm_stream_event(const llm_adapter_t *ad, llm_scratch_t *scratch,
    llm_stream_t *st, const llm_sse_event_t *ev, llm_stream_out_t *out,
    llm_error_t *err)
{
    int          rc;
    llm_arena_t  arena;

    llm_arena_enter(&arena, &scratch->pool);

    rc = ad->stream_event(st, ev, out, err);

    llm_scratch_reset(scratch);

    return llm_arena_done(&arena, rc, err);
}
