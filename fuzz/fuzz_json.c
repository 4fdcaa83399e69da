
/*
 * ngx_http_llm_router_module: libFuzzer target for the JSON parser.
 *
 * Differential: llm_json_parse() must agree with the strict validator
 * llm_json_validate() followed by cJSON_ParseWithLength() on every input:
 * the same verdict, the same error offset, the same tree; and
 * llm_json_print() must print that tree as cJSON_PrintUnformatted() does.
 * It also checks that llm_json_escape() turns the input's bytes into a
 * JSON string that the parser reads back.
 */


#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void *fuzz_alloc(void *data, size_t size);
static void fuzz_check(int ok, const char *what);
static void fuzz_print(const cJSON *mine, const cJSON *ref);
static void fuzz_escape(const char *data, size_t size);
static int fuzz_utf8(const char *data, size_t size);
static int fuzz_same(const cJSON *a, const cJSON *b);
static void fuzz_pooled(const char *json, size_t size, int rc, size_t off,
    const cJSON *mine);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          rc, valid;
    cJSON       *mine, *ref;
    size_t       off, ref_off;
    const char  *json;

    json = (const char *) data;

    rc = llm_json_parse(json, size, &mine, &off);

    ref_off = 0;
    valid = (llm_json_validate(json, size, &ref_off) == LLM_OK);
    ref = valid ? cJSON_ParseWithLength(json, size) : NULL;

    if (!valid) {
        fuzz_check(rc == LLM_ERROR, "invalid JSON is a syntax error");
        fuzz_check(off == ref_off, "the validator's error offset");
        fuzz_check(mine == NULL, "no tree on error");

    } else if (rc == LLM_OK) {
        fuzz_check(ref != NULL, "cJSON takes what the parser takes");
        fuzz_check(fuzz_same(mine, ref), "the same tree as cJSON");
        fuzz_print(mine, ref);

    } else {
        fuzz_check(rc == LLM_DECLINED, "valid JSON is never a syntax error");
        fuzz_check(mine == NULL, "no tree when declined");

        fuzz_check(ref == NULL, "declined only what cJSON does not take");
    }

    fuzz_pooled(json, size, rc, off, mine);

    cJSON_Delete(mine);
    cJSON_Delete(ref);

    fuzz_escape(json, size);

    return 0;
}


/*
 * The same text parsed as a request is, its strings in one buffer of a
 * pool and the long ones kept by reference: the same answer, the same
 * tree
 */

static void
fuzz_pooled(const char *json, size_t size, int rc, size_t off,
    const cJSON *mine)
{
    int               prc;
    void             *mem;
    cJSON            *tree;
    size_t            poff, i;
    llm_pool_t        pool;
    llm_json_refs_t   refs;

    mem = NULL;
    pool.alloc = fuzz_alloc;
    pool.data = &mem;

    poff = 0;

    prc = llm_json_parse_refs(json, size, &tree, &poff, &refs, &pool);

    fuzz_check(prc == rc, "pooled: the same result");
    fuzz_check(prc == LLM_OK || (tree == NULL && refs.n == 0),
               "pooled: no tree, no references on failure");

    if (prc == LLM_ERROR) {
        fuzz_check(poff == off, "pooled: the same error offset");
    }

    if (prc == LLM_OK) {
        fuzz_check(fuzz_same(tree, mine), "pooled: the same tree");

        for (i = 0; i < refs.n; i++) {
            fuzz_check(refs.ref[i].raw > json
                       && refs.ref[i].raw + refs.ref[i].len < json + size
                       && refs.ref[i].raw[-1] == '"'
                       && refs.ref[i].raw[refs.ref[i].len] == '"'
                       && refs.ref[i].len >= LLM_JSON_REF_MIN,
                       "pooled: a reference is a string of the text");
        }
    }

    /* the strings are not cJSON's to free */

    cJSON_Delete(tree);
    free(mem);
}


/* the pool keeps its one allocation for fuzz_print() to free */

static void *
fuzz_alloc(void *data, size_t size)
{
    void  **last;

    last = data;

    fuzz_check(*last == NULL, "one allocation per print");

    *last = malloc(size);

    return *last;
}


static void
fuzz_print(const cJSON *mine, const cJSON *ref)
{
    char        *a, *b;
    void        *mem;
    size_t       len;
    llm_pool_t   pool;

    mem = NULL;
    pool.alloc = fuzz_alloc;
    pool.data = &mem;

    a = llm_json_print(mine, &pool, &len);
    b = cJSON_PrintUnformatted(ref);

    fuzz_check(a != NULL && b != NULL, "memory");
    fuzz_check(len == strlen(a), "the length printed");
    fuzz_check(strcmp(a, b) == 0, "printed as cJSON prints");

    free(mem);
    cJSON_free(b);
}


static void
fuzz_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "check failed: %s\n", what);
        abort();
    }
}


static void
fuzz_escape(const char *data, size_t size)
{
    char    *buf;
    cJSON   *root;
    size_t   n;

    n = llm_json_escape(NULL, 0, data, size);

    buf = malloc(n + 2);
    fuzz_check(buf != NULL, "memory");

    buf[0] = '"';
    fuzz_check(llm_json_escape(buf + 1, n, data, size) == n, "escape");
    buf[n + 1] = '"';

    fuzz_check(llm_json_parse(buf, n + 2, &root, NULL) == LLM_OK,
               "escaped bytes form a JSON string");
    fuzz_check(cJSON_IsString(root), "a string");

    /* valid UTF-8 without NUL comes back unchanged */

    if (memchr(data, '\0', size) == NULL && fuzz_utf8(data, size)) {
        fuzz_check(strlen(root->valuestring) == size
                   && memcmp(root->valuestring, data, size) == 0,
                   "the string's value is the input");
    }

    cJSON_Delete(root);
    free(buf);
}


static int
fuzz_utf8(const char *data, size_t size)
{
    size_t                n;
    const unsigned char  *p, *last;

    p = (const unsigned char *) data;
    last = p + size;

    while (p < last) {
        n = llm_utf8_len(p, (size_t) (last - p));
        if (n == 0) {
            return 0;
        }

        p += n;
    }

    return 1;
}


/* node by node, in order: cJSON_Compare() matches duplicate keys loosely */

static int
fuzz_same(const cJSON *a, const cJSON *b)
{
    for ( ;; ) {
        if (a == NULL || b == NULL) {
            return a == b;
        }

        if ((a->type & 0xff) != (b->type & 0xff)
            || (a->string == NULL) != (b->string == NULL)
            || (a->string != NULL && strcmp(a->string, b->string) != 0))
        {
            return 0;
        }

        if (cJSON_IsString(a) && strcmp(a->valuestring, b->valuestring) != 0) {
            return 0;
        }

        if (cJSON_IsNumber(a)
            && (memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) != 0
                || a->valueint != b->valueint))
        {
            return 0;
        }

        if (!fuzz_same(a->child, b->child)) {
            return 0;
        }

        a = a->next;
        b = b->next;
    }
}
