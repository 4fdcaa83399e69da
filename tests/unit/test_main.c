
/*
 * ngx_http_llm_router_module: unit test runner.  All tests run as one
 * cmocka group, so the summary line counts them all.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"


#define TEST_MAX  1024


static void *test_alloc(void *data, size_t size);
static int test_track(test_ctx_t *ctx, void *p);
static int test_setup(void **state);
static int test_teardown(void **state);
static void test_stream_twice(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *sse, int include_usage, size_t step, char *text,
    size_t text_size, test_stream_run_t *run, int open);
static void test_stream_go(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *sse, int include_usage, size_t step, char *text,
    size_t text_size, test_stream_run_t *run, int open,
    llm_scratch_t *scratch);
static int test_stream_event(void *data, const llm_sse_event_t *ev);


static struct CMUnitTest  test_list[TEST_MAX];
static size_t             test_n;


void
test_add(const char *name, CMUnitTestFunction fn, const void *data)
{
    if (test_n == TEST_MAX) {
        fprintf(stderr, "too many tests, raise TEST_MAX\n");
        exit(2);
    }

    test_list[test_n].name = name;
    test_list[test_n].test_func = fn;
    test_list[test_n].setup_func = test_setup;
    test_list[test_n].teardown_func = test_teardown;
    test_list[test_n].initial_state = (void *) data;

    test_n++;
}


static int
test_track(test_ctx_t *ctx, void *p)
{
    void   **a;
    size_t   size;

    if (ctx->nallocs == ctx->size) {
        size = ctx->size ? ctx->size * 2 : 16;

        a = realloc(ctx->allocs, size * sizeof(void *));
        if (a == NULL) {
            return -1;
        }

        ctx->allocs = a;
        ctx->size = size;
    }

    ctx->allocs[ctx->nallocs++] = p;

    return 0;
}


static void *
test_alloc(void *data, size_t size)
{
    void        *p;
    test_ctx_t  *ctx;

    ctx = data;

    ctx->count++;

    if (ctx->fail_at != 0 && ctx->count >= ctx->fail_at) {
        return NULL;
    }

    p = malloc(size);
    if (p == NULL) {
        return NULL;
    }

    if (test_track(ctx, p) != 0) {
        free(p);
        return NULL;
    }

    /* poison: code must not rely on zeroed memory */
    memset(p, 0xa5, size);

    return p;
}


char *
test_copy(test_ctx_t *ctx, const char *s, size_t len)
{
    char  *p;

    p = malloc(len ? len : 1);
    assert_non_null(p);

    assert_int_equal(test_track(ctx, p), 0);

    if (s != NULL) {
        memcpy(p, s, len);
    }

    return p;
}


char *
test_cstr(test_ctx_t *ctx, const char *buf, size_t len)
{
    char  *p;

    p = test_copy(ctx, NULL, len + 1);

    memcpy(p, buf, len);
    p[len] = '\0';

    return p;
}


cJSON *
test_json(const char *buf, size_t len)
{
    cJSON  *root;

    assert_non_null(buf);
    assert_int_equal(llm_json_validate(buf, len, NULL), LLM_OK);

    root = cJSON_ParseWithLength(buf, len);
    assert_non_null(root);

    return root;
}


void
test_check_error_json(const char *buf, size_t len, const char *type,
    const char *param, const char *code, const char *message)
{
    cJSON  *root, *e, *item;

    root = test_json(buf, len);

    e = cJSON_GetObjectItemCaseSensitive(root, "error");
    assert_true(cJSON_IsObject(e));
    assert_int_equal(cJSON_GetArraySize(root), 1);
    assert_int_equal(cJSON_GetArraySize(e), 4);

    item = cJSON_GetObjectItemCaseSensitive(e, "message");
    assert_true(cJSON_IsString(item));

    if (message != NULL) {
        assert_string_equal(item->valuestring, message);
    }

    item = cJSON_GetObjectItemCaseSensitive(e, "type");
    assert_true(cJSON_IsString(item));
    assert_string_equal(item->valuestring, type);

    item = cJSON_GetObjectItemCaseSensitive(e, "param");

    if (param == NULL) {
        assert_true(cJSON_IsNull(item));

    } else {
        assert_true(cJSON_IsString(item));
        assert_string_equal(item->valuestring, param);
    }

    item = cJSON_GetObjectItemCaseSensitive(e, "code");

    if (code == NULL) {
        assert_true(cJSON_IsNull(item));

    } else {
        assert_true(cJSON_IsString(item));
        assert_string_equal(item->valuestring, code);
    }

    cJSON_Delete(root);
}


void
test_stream_run(test_ctx_t *ctx, const llm_adapter_t *ad, const char *sse,
    int include_usage, size_t step, char *text, size_t text_size,
    test_stream_run_t *run)
{
    test_stream_twice(ctx, ad, sse, include_usage, step, text, text_size,
                      run, 0);
}


/* the same, the stream left as the events leave it: no finish, no fail */

void
test_stream_feed(test_ctx_t *ctx, const llm_adapter_t *ad, const char *sse,
    test_stream_run_t *run)
{
    test_stream_twice(ctx, ad, sse, 0, 0, NULL, 0, run, 1);
}


static void
test_stream_twice(test_ctx_t *ctx, const llm_adapter_t *ad, const char *sse,
    int include_usage, size_t step, char *text, size_t text_size,
    test_stream_run_t *run, int open)
{
    char                scratch_buf[300];
    llm_scratch_t       scratch;
    test_stream_run_t   module;

    llm_scratch_init(&scratch, scratch_buf, sizeof(scratch_buf));

    test_stream_go(ctx, ad, sse, include_usage, step, text, text_size,
                   &module, open, &scratch);

    test_stream_go(ctx, ad, sse, include_usage, step, text, text_size, run,
                   open, NULL);

    assert_int_equal(module.rc, run->rc);
    assert_int_equal(module.end, run->end);
    assert_int_equal(module.err.status, run->err.status);
    assert_int_equal(module.out.len, run->out.len);
    assert_memory_equal(module.out.buf, run->out.buf, run->out.len);
    assert_int_equal(module.st.text_len, run->st.text_len);
    assert_null(scratch.blocks);
}


static void
test_stream_go(test_ctx_t *ctx, const llm_adapter_t *ad, const char *sse,
    int include_usage, size_t step, char *text, size_t text_size,
    test_stream_run_t *run, int open, llm_scratch_t *scratch)
{
    int              rc;
    char            *buf;
    size_t           len, off, n;
    llm_sse_t        sse_state;
    llm_request_t    req;
    llm_provider_t   p;

    memset(run, 0, sizeof(test_stream_run_t));

    run->open = open;
    run->scratch = scratch;
    memset(&req, 0, sizeof(llm_request_t));
    memset(&p, 0, sizeof(llm_provider_t));

    req.model = "client-model";
    req.stream = 1;
    req.include_usage = include_usage;

    run->ad = ad;
    run->rc = LLM_OK;

    llm_stream_init(&run->st, &req, &p, 1767225600LL);

    run->st.text = text;
    run->st.text_size = text_size;

    run->out.buf = test_copy(ctx, NULL, 65536);
    run->out.size = 65536;
    run->out.len = 0;

    buf = test_copy(ctx, NULL, 8192);
    llm_sse_init(&sse_state, buf, 8192);

    len = strlen(sse);
    rc = LLM_OK;

    for (off = 0; off < len; off += n) {
        n = (step == 0 || step > len - off) ? len - off : step;

        rc = llm_sse_feed(&sse_state, sse + off, n, test_stream_event, run);

        if (rc != LLM_OK) {
            break;
        }
    }

    if (run->open) {
        return;
    }

    if (rc == LLM_OK) {
        run->end = llm_stream_finish(&run->st, &run->out);

    } else {
        run->end = llm_stream_fail(&run->st, &run->err, &run->out);
    }
}


static int
test_stream_event(void *data, const llm_sse_event_t *ev)
{
    test_stream_run_t  *run;

    run = data;

    if (run->rc == LLM_DONE) {
        return LLM_OK;
    }

    if (run->scratch != NULL) {
        run->rc = llm_stream_event(run->ad, run->scratch, &run->st, ev,
                                   &run->out, &run->err);

    } else {
        run->rc = run->ad->stream_event(&run->st, ev, &run->out, &run->err);
    }

    return (run->rc == LLM_ERROR) ? LLM_ERROR : LLM_OK;
}


static int
test_setup(void **state)
{
    test_ctx_t  *ctx;

    ctx = calloc(1, sizeof(test_ctx_t));
    if (ctx == NULL) {
        return -1;
    }

    ctx->pool.alloc = test_alloc;
    ctx->pool.data = ctx;
    ctx->data = *state;
    ctx->arena_blocks = llm_arena_blocks();

    *state = ctx;

    return 0;
}


static int
test_teardown(void **state)
{
    int          rc;
    size_t       i;
    test_ctx_t  *ctx;

    ctx = *state;

    /* a cJSON tree built on the pool and never deleted is a leak too */

    rc = 0;

    if (llm_arena_blocks() != ctx->arena_blocks) {
        fprintf(stderr, "%lu cJSON blocks of an arena not freed\n",
                (unsigned long) (llm_arena_blocks() - ctx->arena_blocks));
        rc = -1;
    }

    for (i = 0; i < ctx->nallocs; i++) {
        free(ctx->allocs[i]);
    }

    free(ctx->allocs);
    free(ctx);

    return rc;
}


int
main(void)
{
    test_json_register();
    test_request_register();
    test_error_register();
    test_encode_register();
    test_provider_error_register();
    test_completion_register();
    test_anthropic_register();
    test_gemini_register();
    test_cohere_register();
    test_sse_register();
    test_stream_register();
    test_stream_anthropic_register();
    test_stream_gemini_register();
    test_stream_cohere_register();
    test_usage_register();
    test_scan_register();
    test_capture_register();
    test_mistral_register();
    test_redact_register();
    test_fast_register();
    test_cache_register();
    test_encode_fast_register();
    test_embed_register();
    test_resp_register();

    return _cmocka_run_group_tests("llm_core", test_list, test_n, NULL, NULL);
}
