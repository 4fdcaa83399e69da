
/*
 * ngx_http_llm_router_module: cJSON trees on the caller's pool.
 *
 * cJSON allocates every node and every string with its malloc hook and
 * frees them one by one; for a translated request that was about a
 * quarter of the work.  Inside an arena (llm_arena_enter() ..
 * llm_arena_leave()) the hooks take memory from the caller's llm_pool_t
 * instead, in chunks, and cJSON's free() does nothing: the pool releases
 * everything at once (nginx: with the request).
 *
 * cJSON's hooks are global to the process.  That is safe because an nginx
 * worker runs one thread and the core never keeps a tree across calls
 * except the request's (llm_request_parse_pool(), freed inside an arena by
 * llm_request_free()).  Outside an arena cJSON's own malloc and free are
 * in place, so stream decoders and anything else keep working as before.
 * The rule for the core: a tree built inside an arena is deleted inside
 * one (or left to the pool); a tree built outside is deleted outside.
 *
 * With reallocate hooks other than malloc/free cJSON does not use realloc
 * (its printer allocates a new buffer and frees the old one); the core
 * prints trees with its own printer onto the pool, and the stream decoders
 * that use cJSON_Print() run outside any arena.
 *
 * Blocks handed out and not yet freed are counted (llm_arena_blocks()),
 * so tests and fuzzers still see a tree that is never deleted.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


#define LLM_ARENA_ALIGN  sizeof(double)


static void *llm_arena_malloc(size_t size);
static void llm_arena_free(void *p);


size_t                llm_arena_chunk_size = LLM_ARENA_CHUNK;

static llm_arena_t   *llm_arena_current;
static size_t         llm_arena_live;

static cJSON_Hooks    llm_arena_hooks = {
    llm_arena_malloc, llm_arena_free
};


void
llm_arena_enter(llm_arena_t *a, llm_pool_t *pool)
{
    a->pool = pool;
    a->pos = NULL;
    a->last = NULL;
    a->nomem = 0;
    a->live = 0;
    a->prev = llm_arena_current;

    if (a->prev == NULL) {
        cJSON_InitHooks(&llm_arena_hooks);
    }

    llm_arena_current = a;
}


void
llm_arena_leave(llm_arena_t *a)
{
    llm_arena_current = a->prev;

    if (a->prev == NULL) {
        cJSON_InitHooks(NULL);
    }
}


size_t
llm_arena_blocks(void)
{
    return llm_arena_live;
}


int
llm_arena_done(llm_arena_t *a, int rc, llm_error_t *err)
{
    llm_arena_leave(a);
    llm_arena_drop(a->live);

    if (rc == LLM_ERROR && a->nomem) {
        /* a tree could not be built: not the client's nor the provider's */
        llm_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
    }

    return rc;
}


void
llm_arena_delete(cJSON *root)
{
    if (llm_arena_current == NULL) {
        cJSON_Delete(root);
    }
}


llm_pool_t *
llm_arena_pool(void)
{
    return llm_arena_current ? llm_arena_current->pool : NULL;
}


void *
llm_arena_palloc(llm_pool_t *pool, size_t size)
{
    void  *p;

    p = pool->alloc(pool->data, size);

    if (p == NULL && llm_arena_current != NULL) {
        llm_arena_current->nomem = 1;
    }

    return p;
}


void
llm_arena_drop(long blocks)
{
    llm_arena_live -= blocks;
}


static void *
llm_arena_malloc(size_t size)
{
    char         *p;
    size_t        chunk;
    llm_arena_t  *a;

    a = llm_arena_current;

    /* the hooks are only in place inside an arena */

    size = (size + LLM_ARENA_ALIGN - 1) & ~(LLM_ARENA_ALIGN - 1);

    if (size > (size_t) (a->last - a->pos)) {
        chunk = llm_arena_chunk_size;

        if (size > chunk / 8) {
            /* big strings and the last word of a chunk: a block alone */

            p = a->pool->alloc(a->pool->data, size);
            if (p == NULL) {
                a->nomem = 1;
                return NULL;
            }

            llm_arena_live++;
            a->live++;

            return p;
        }

        p = a->pool->alloc(a->pool->data, chunk);
        if (p == NULL) {
            a->nomem = 1;
            return NULL;
        }

        a->pos = p;
        a->last = p + chunk;
    }

    p = a->pos;
    a->pos += size;

    llm_arena_live++;
    a->live++;

    return p;
}


static void
llm_arena_free(void *p)
{
    /* cJSON_Delete() calls free(NULL) for absent strings */

    if (p != NULL) {
        llm_arena_live--;
        llm_arena_current->live--;
    }
}
