
/*
 * ngx_http_llm_router_module: libFuzzer target for the scanner of relayed
 * OpenAI-format answers (llm_scan.c).
 *
 * An input is two bytes of settings then the answer's bytes:
 *
 *   byte 0    the text buffer: 0 none, else byte 0 - 1 bytes (0..254)
 *   byte 1    the seed of the random pieces the bytes arrive in
 *
 * The answer is scanned in one piece, a byte at a time and in random
 * pieces: the results (usage, finish reason, text) must be the same.  A
 * prefix of the answer gives a prefix of the text, the whole usage or
 * none, the same finish reason or none.  When the answer is valid JSON
 * (llm_json_parse()), the results must be what cJSON reads: the first
 * top-level "usage" object through the OpenAI mapping (when its text fits
 * LLM_SCAN_USAGE_SIZE), choices[0].finish_reason, choices[0].message
 * .content cut on a UTF-8 boundary at the buffer's size.  The usage
 * object's text is read without a tree (llm_openai_usage_json()): on the
 * kept text and on the whole input, it must give what the tree
 * llm_json_parse_strict() builds gives through llm_openai_usage().
 * Beyond memory errors (ASan/UBSan): the text never goes past its buffer.
 *
 * The same bytes are relayed with a provider's key masked as the glue
 * does it (llm_redact() on each piece behind the held-back end of the
 * previous one, llm_redact_tail() held back): in random pieces the result
 * must be what masking the whole gives, of the same length, with no key
 * left.  The key is taken from the input (so that it is found) or fixed.
 */


#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


typedef struct {
    llm_usage_t   usage;
    const char   *finish_reason;
    char         *text;
    size_t        text_len;
} fuzz_result_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void fuzz_check(int ok, const char *what);
static void fuzz_scan(const char *body, size_t len, size_t text_size,
    int text, size_t step, unsigned seed, fuzz_result_t *r);
static void fuzz_free(fuzz_result_t *r);
static int fuzz_same(const fuzz_result_t *a, const fuzz_result_t *b);
static void fuzz_prefix(const fuzz_result_t *part, const fuzz_result_t *all);
static void fuzz_valid(const char *body, size_t len, size_t text_size,
    const fuzz_result_t *r);
static int fuzz_finish_reason(const char *s);
static void fuzz_redact(const char *body, size_t len, unsigned seed);
static void fuzz_usage(const char *json, size_t len, const llm_usage_t *u);


static const char  *const fuzz_finish[] = {
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "function_call",
    NULL
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            text;
    size_t         text_size, len, cut;
    unsigned       seed;
    const char    *body;
    fuzz_result_t  whole, other;

    if (size < 2) {
        return 0;
    }

    text = (data[0] != 0);
    text_size = text ? (size_t) data[0] - 1 : 0;
    seed = data[1];

    body = (const char *) data + 2;
    len = size - 2;

    fuzz_scan(body, len, text_size, text, 0, 0, &whole);

    fuzz_check(whole.text_len <= text_size, "the text fits its buffer");
    fuzz_check(fuzz_finish_reason(whole.finish_reason),
               "finish_reason is NULL or a static OpenAI one");
    fuzz_check(whole.usage.cache_write_tokens == -1,
               "no cache writes in the OpenAI format");

    /* however the bytes come */

    fuzz_scan(body, len, text_size, text, 1, 0, &other);
    fuzz_check(fuzz_same(&whole, &other), "a byte at a time: the same");
    fuzz_free(&other);

    fuzz_scan(body, len, text_size, text, (size_t) -1, seed, &other);
    fuzz_check(fuzz_same(&whole, &other), "random pieces: the same");
    fuzz_free(&other);

    /* a body cut short */

    if (len > 0) {
        cut = (seed * 2654435761u) % len;

        fuzz_scan(body, cut, text_size, text, 0, 0, &other);
        fuzz_prefix(&other, &whole);
        fuzz_free(&other);
    }

    fuzz_valid(body, len, text_size, &whole);

    /* the usage reader on any text */

    llm_openai_usage_json(body, len, &other.usage);
    fuzz_usage(body, len, &other.usage);

    fuzz_free(&whole);

    fuzz_redact(body, len, seed);

    return 0;
}


static void
fuzz_redact(const char *body, size_t len, unsigned seed)
{
    char          *whole, *out, *w;
    size_t         klen, at, i, n, held, wlen, tail, olen;
    unsigned       r;
    const char    *key;

    key = "sk-fuzz-key-0123";
    klen = strlen(key);

    if (len >= 24) {
        klen = 8 + seed % 16;
        at = (seed * 2654435761u) % (len - klen);
        key = body + at;
    }

    if (memchr(key, '*', klen) != NULL) {
        return;
    }

    whole = malloc(len + 1);
    out = malloc(len + 1);
    w = malloc(len + klen + 1);

    if (whole == NULL || out == NULL || w == NULL) {
        abort();
    }

    memcpy(whole, body, len);
    (void) llm_redact(whole, len, key, klen);

    held = 0;
    olen = 0;
    r = seed;

    for (i = 0; i < len; i += n) {
        r = r * 1103515245u + 12345u;
        n = 1 + (r >> 16) % 64;

        if (n > len - i) {
            n = len - i;
        }

        memcpy(w + held, body + i, n);
        wlen = held + n;

        (void) llm_redact(w, wlen, key, klen);

        tail = (i + n < len) ? llm_redact_tail(w, wlen, key, klen) : 0;

        fuzz_check(tail < klen, "less than the key is held back");

        memcpy(out + olen, w, wlen - tail);
        olen += wlen - tail;

        memmove(w, w + wlen - tail, tail);
        held = tail;
    }

    fuzz_check(olen == len, "masked: the same length");
    fuzz_check(len == 0 || memcmp(out, whole, len) == 0,
               "masked in pieces: as masked whole");

    for (i = 0; i + klen <= len; i++) {
        fuzz_check(memcmp(whole + i, key, klen) != 0, "no key left");
    }

    free(whole);
    free(out);
    free(w);
}


static void
fuzz_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_scan: invariant failed: %s\n", what);
        abort();
    }
}


/*
 * body[0..len) in one piece (step 0), in pieces of step bytes, or (step
 * -1) in random pieces; a copy of each piece of its exact size, so that
 * ASan sees a read past it
 */

static void
fuzz_scan(const char *body, size_t len, size_t text_size, int text,
    size_t step, unsigned seed, fuzz_result_t *r)
{
    char        *piece;
    size_t       off, n;
    llm_scan_t  *s;

    s = malloc(sizeof(llm_scan_t));
    fuzz_check(s != NULL, "malloc");

    r->text = NULL;

    if (text) {
        r->text = malloc(text_size ? text_size : 1);
        fuzz_check(r->text != NULL, "malloc");
    }

    llm_scan_init(s, r->text, text_size);

    srand(seed);

    for (off = 0; off < len; off += n) {
        n = (step == 0) ? len
            : (step == (size_t) -1) ? (size_t) rand() % 64 : step;

        if (n > len - off) {
            n = len - off;
        }

        piece = malloc(n ? n : 1);
        fuzz_check(piece != NULL, "malloc");

        memcpy(piece, body + off, n);
        llm_scan_feed(s, piece, n);

        free(piece);
    }

    fuzz_check(llm_scan_finish(s, &r->usage, &r->finish_reason, &r->text_len)
               == LLM_OK, "finish returns LLM_OK");

    if (s->usage_done && !s->usage_big) {
        fuzz_usage(s->usage, s->usage_len, &r->usage);

    } else {
        fuzz_check(!llm_usage_known(&r->usage), "no usage kept: none");
    }

    free(s);
}


static void
fuzz_free(fuzz_result_t *r)
{
    free(r->text);
    r->text = NULL;
}


static int
fuzz_same(const fuzz_result_t *a, const fuzz_result_t *b)
{
    return memcmp(&a->usage, &b->usage, sizeof(llm_usage_t)) == 0
           && a->finish_reason == b->finish_reason
           && a->text_len == b->text_len
           && (a->text_len == 0
               || memcmp(a->text, b->text, a->text_len) == 0);
}


static void
fuzz_prefix(const fuzz_result_t *part, const fuzz_result_t *all)
{
    fuzz_check(part->text_len <= all->text_len
               && (part->text_len == 0
                   || memcmp(part->text, all->text, part->text_len) == 0),
               "a cut body: a prefix of the text");

    fuzz_check(part->finish_reason == NULL
               || part->finish_reason == all->finish_reason,
               "a cut body: the finish reason or none");

    fuzz_check(!llm_usage_known(&part->usage)
               || memcmp(&part->usage, &all->usage, sizeof(llm_usage_t))
                  == 0,
               "a cut body: the whole usage or none");
}


/* valid JSON: what cJSON reads */

static void
fuzz_valid(const char *body, size_t len, size_t text_size,
    const fuzz_result_t *r)
{
    cJSON            *root;
    size_t            n;
    const char       *s;
    llm_usage_t       u;
    llm_json_span_t   span;
    const cJSON      *usage, *choices, *choice, *msg, *content;

    if (llm_json_parse(body, len, &root, NULL) != LLM_OK) {
        return;
    }

    if (!cJSON_IsObject(root)) {
        fuzz_check(!llm_usage_known(&r->usage) && r->finish_reason == NULL
                   && r->text_len == 0, "not an object: nothing");
        cJSON_Delete(root);
        return;
    }

    llm_usage_none(&u);

    usage = cJSON_GetObjectItemCaseSensitive(root, "usage");

    if (cJSON_IsObject(usage)
        && llm_json_member(body, len, "usage", &span) == LLM_OK
        && span.end - span.value <= LLM_SCAN_USAGE_SIZE)
    {
        llm_openai_usage(usage, &u);
    }

    fuzz_check(memcmp(&u, &r->usage, sizeof(llm_usage_t)) == 0,
               "the usage cJSON reads");

    choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    choice = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;

    if (!cJSON_IsObject(choice)) {
        choice = NULL;
    }

    fuzz_check(r->finish_reason
               == llm_openai_finish(llm_json_str(choice, "finish_reason"),
                                    1),
               "the finish reason cJSON reads");

    msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
    content = cJSON_IsObject(msg)
              ? cJSON_GetObjectItemCaseSensitive(msg, "content") : NULL;

    n = 0;
    s = "";

    if (r->text != NULL && cJSON_IsString(content)) {
        s = content->valuestring;
        n = strlen(s);

        if (n > text_size) {
            n = llm_utf8_trim(s, text_size);
        }
    }

    fuzz_check(r->text_len == n
               && (n == 0 || memcmp(r->text, s, n) == 0),
               "the content cJSON reads");

    cJSON_Delete(root);
}


static int
fuzz_finish_reason(const char *s)
{
    size_t  i;

    if (s == NULL) {
        return 1;
    }

    for (i = 0; fuzz_finish[i] != NULL; i++) {
        if (s == fuzz_finish[i] || strcmp(s, fuzz_finish[i]) == 0) {
            return 1;
        }
    }

    return 0;
}


/* u: what the cJSON tree of json gives through llm_openai_usage() */

static void
fuzz_usage(const char *json, size_t len, const llm_usage_t *u)
{
    cJSON        *root;
    llm_usage_t   t;

    llm_usage_none(&t);

    root = llm_json_parse_strict(json, len);

    if (cJSON_IsObject(root)) {
        llm_openai_usage(root, &t);
    }

    cJSON_Delete(root);

    fuzz_check(memcmp(&t, u, sizeof(llm_usage_t)) == 0,
               "the usage read without a tree: the tree's");
}
