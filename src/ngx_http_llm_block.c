
/*
 * ngx_http_llm_router_module: the translation core's memory.
 *
 * The core allocates from the request pool (llm_pool_t).  Most of what it
 * asks for is small, but a large prompt makes a few buffers about as large
 * as the body: the parsed text of the prompt, the provider's body.  Taken
 * from the pool, such a buffer is malloc()ed and freed for every request,
 * and glibc hands free memory at the top of its heap back to the kernel
 * once more than 128 KB of it is free (M_TRIM_THRESHOLD): with 100 KB
 * prompts, every request then faults its buffers in again, page by page,
 * which cost more than all the rest of the request's work.
 *
 * So buffers of 1 KB to 2 MB come from free lists of the worker, in
 * power-of-two classes, and go back to them when the request's pool is
 * destroyed; the free lists keep at most NGX_HTTP_LLM_BLOCKS_KEEP bytes,
 * what is over is freed.  A large request in flight holds two such
 * buffers (its body, read whole into one, and its parsed strings): 16 MB
 * keep what 64 requests of 100 KB in flight use, so that a busy worker
 * does not go back to malloc() for them.  Smaller and larger buffers
 * come from the pool.
 * Even at 1 KB a buffer from the pool costs more: the request pool's
 * blocks are 4 KB, so that a few such buffers (the parsed strings of a
 * 1 KB body, a 4 KB chunk of cJSON nodes, the provider's body) made the
 * pool malloc() a block or two more per request, freed again with it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_router.h"


#define NGX_HTTP_LLM_BLOCK_MIN      2048
#define NGX_HTTP_LLM_BLOCK_CLASSES  11           /* 2 KB .. 2 MB */
#define NGX_HTTP_LLM_BLOCKS_KEEP    (16 * 1024 * 1024)


typedef struct ngx_http_llm_block_s  ngx_http_llm_block_t;

struct ngx_http_llm_block_s {
    ngx_http_llm_block_t  *next;
    size_t                 size;             /* of the whole block */
};


static void ngx_http_llm_block_free(void *data);


static ngx_http_llm_block_t  *ngx_http_llm_blocks[NGX_HTTP_LLM_BLOCK_CLASSES];
static size_t                 ngx_http_llm_blocks_kept;


void *
ngx_http_llm_pool_alloc(void *data, size_t size)
{
    size_t                 need, bsize;
    ngx_uint_t             n;
    ngx_pool_t            *pool;
    ngx_pool_cleanup_t    *cln;
    ngx_http_llm_block_t  *b;

    pool = data;

    /* the header keeps the buffer aligned as malloc() aligns */

    need = size + ngx_align(sizeof(ngx_http_llm_block_t), 16);

    if (size < NGX_HTTP_LLM_BLOCK_MIN / 2
        || need > (size_t) NGX_HTTP_LLM_BLOCK_MIN
                  << (NGX_HTTP_LLM_BLOCK_CLASSES - 1))
    {
        return ngx_palloc(pool, size);
    }

    n = 0;
    bsize = NGX_HTTP_LLM_BLOCK_MIN;

    while (bsize < need) {
        bsize <<= 1;
        n++;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    b = ngx_http_llm_blocks[n];

    if (b != NULL) {
        ngx_http_llm_blocks[n] = b->next;
        ngx_http_llm_blocks_kept -= bsize;

    } else {
        b = ngx_alloc(bsize, pool->log);
        if (b == NULL) {
            return NULL;
        }

        b->size = bsize;
    }

    cln->handler = ngx_http_llm_block_free;
    cln->data = b;

    return (u_char *) b + ngx_align(sizeof(ngx_http_llm_block_t), 16);
}


static void
ngx_http_llm_block_free(void *data)
{
    ngx_http_llm_block_t  *b = data;

    ngx_uint_t  n;
    size_t      bsize;

    if (ngx_http_llm_blocks_kept + b->size > NGX_HTTP_LLM_BLOCKS_KEEP) {
        ngx_free(b);
        return;
    }

    n = 0;

    for (bsize = NGX_HTTP_LLM_BLOCK_MIN; bsize < b->size; bsize <<= 1) {
        n++;
    }

    b->next = ngx_http_llm_blocks[n];
    ngx_http_llm_blocks[n] = b;
    ngx_http_llm_blocks_kept += b->size;
}


void
ngx_http_llm_blocks_free(void)
{
    ngx_uint_t             n;
    ngx_http_llm_block_t  *b;

    for (n = 0; n < NGX_HTTP_LLM_BLOCK_CLASSES; n++) {
        while (ngx_http_llm_blocks[n] != NULL) {
            b = ngx_http_llm_blocks[n];
            ngx_http_llm_blocks[n] = b->next;
            ngx_free(b);
        }
    }

    ngx_http_llm_blocks_kept = 0;
}
