
/*
 * ngx_http_llm_router_module: unit test harness for the core.
 */


#ifndef _TEST_UTIL_H_INCLUDED_
#define _TEST_UTIL_H_INCLUDED_


#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "llm_internal.h"


/*
 * Every test gets a context with a pool that records its allocations and
 * frees them at teardown; ctx->data is the test's per-case data.
 */

typedef struct {
    llm_pool_t    pool;
    void        **allocs;
    size_t        nallocs;
    size_t        size;
    size_t        count;        /* pool allocations made so far */
    size_t        fail_at;      /* allocation number from which on NULL */
    size_t        arena_blocks; /* llm_arena_blocks() at setup */
    const void   *data;
} test_ctx_t;


#define TEST_ADD(fn)        test_add(#fn, fn, NULL)

#define TEST_LEN(s)         (sizeof(s) - 1)


void test_add(const char *name, CMUnitTestFunction fn, const void *data);

/*
 * a malloc'ed copy without a trailing NUL (s == NULL: uninitialised),
 * freed at teardown
 */
char *test_copy(test_ctx_t *ctx, const char *s, size_t len);

/* a NUL-terminated copy of buf, freed at teardown */
char *test_cstr(test_ctx_t *ctx, const char *buf, size_t len);

/* parses a rendered buffer that must be valid JSON; cJSON_Delete() it */
cJSON *test_json(const char *buf, size_t len);

/* asserts buf is {"error":{...}} with these members; NULL = JSON null */
void test_check_error_json(const char *buf, size_t len, const char *type,
    const char *param, const char *code, const char *message);

/* a provider stream through llm_sse_feed() and ad->stream_event() */

typedef struct {
    const llm_adapter_t  *ad;
    llm_stream_t          st;
    llm_stream_out_t      out;
    llm_error_t           err;
    int                   rc;         /* the last stream_event's */
    int                   end;        /* llm_stream_finish()'s or fail's */
    int                   open;       /* left unfinished */
    llm_scratch_t        *scratch;    /* llm_stream_event() on it */
} test_stream_run_t;

/*
 * sse fed in pieces of step bytes (0: at once), then llm_stream_finish()
 * (llm_stream_fail() after an error); text (text_size bytes, may be NULL)
 * is st.text.  The output buffer is 64 KiB.  Each stream runs twice: as
 * the module runs it, through llm_stream_event() on a small scratch, and
 * with ad->stream_event() alone; the two must give the same bytes.
 */
void test_stream_feed(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *sse, test_stream_run_t *run);
void test_stream_run(test_ctx_t *ctx, const llm_adapter_t *ad,
    const char *sse, int include_usage, size_t step, char *text,
    size_t text_size, test_stream_run_t *run);

void test_json_register(void);
void test_request_register(void);
void test_error_register(void);
void test_encode_register(void);
void test_provider_error_register(void);
void test_completion_register(void);
void test_anthropic_register(void);
void test_gemini_register(void);
void test_cohere_register(void);
void test_sse_register(void);
void test_stream_register(void);
void test_stream_anthropic_register(void);
void test_stream_gemini_register(void);
void test_stream_cohere_register(void);
void test_usage_register(void);
void test_scan_register(void);
void test_capture_register(void);
void test_mistral_register(void);
void test_redact_register(void);
void test_fast_register(void);
void test_cache_register(void);
void test_encode_fast_register(void);
void test_embed_register(void);
void test_resp_register(void);


#endif /* _TEST_UTIL_H_INCLUDED_ */
