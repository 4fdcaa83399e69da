
/*
 * ngx_http_llm_router_module: OpenAI embeddings requests and answers, the
 * part shared by the providers' embeddings encoders and decoders (each
 * provider's own part is in its file).
 *
 * An answer can be tens of megabytes of numbers (2048 inputs of 3072
 * dimensions): the vectors are never made into cJSON trees.  Decoders find
 * the text of each vector with the raw scanners of llm_json.c, and
 * llm_embed_render() copies that text as it is, or converts its numbers
 * to float32 for base64.
 */


#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"


#define LLM_INVALID         "invalid_request_error"
#define LLM_SERVER_ERROR    "server_error"

#define LLM_EMBED_TOKEN_MAX 2147483647.0
#define LLM_EMBED_DIM_MAX   65536
#define LLM_EMBED_MAX_TOKENS  8192    /* token ids in one input */


#define LLM_EMB_MODEL               0
#define LLM_EMB_INPUT               1
#define LLM_EMB_ENCODING_FORMAT     2
#define LLM_EMB_DIMENSIONS          3
#define LLM_EMB_USER                4
#define LLM_EMB_INPUT_TYPE          5
#define LLM_EMB_KEYS                6


static int llm_embed_check_request(llm_request_t *req, cJSON *root,
    llm_error_t *err);
static int llm_embed_check_input(llm_request_t *req, const cJSON *input,
    llm_error_t *err);
static int llm_embed_check_tokens(const cJSON *arr, llm_error_t *err);
static int llm_embed_check_options(llm_request_t *req, const cJSON **items,
    llm_error_t *err);
static void llm_embed_write(llm_out_t *out, const llm_request_t *req,
    const char *model, const llm_slice_t *vectors, size_t n, size_t dim,
    const llm_usage_t *usage, unsigned char *f32);
static void llm_embed_base64(llm_out_t *out, const llm_slice_t *v,
    size_t dim, unsigned char *f32);
static float llm_embed_float(const char *p, const char **end);


static const char  *const llm_embed_keys[] = {
    "model",
    "input",
    "encoding_format",
    "dimensions",
    "user",
    "input_type",
    NULL
};


static const char  *const llm_embed_input_types[] = {
    "search_document",
    "search_query",
    "classification",
    "clustering",
    NULL
};


/* powers of ten that a double holds exactly */

static const double  llm_embed_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
    1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};


static const char  llm_base64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";


int
llm_embed_parse_pool(llm_request_t *req, const char *body, size_t len,
    llm_pool_t *pool, llm_error_t *err)
{
    return llm_request_parse_with(req, body, len, pool,
                                  llm_embed_check_request, err);
}


static int
llm_embed_check_request(llm_request_t *req, cJSON *root, llm_error_t *err)
{
    const cJSON  *item, *items[LLM_EMB_KEYS];

    if (llm_request_members(root, llm_embed_keys, items, NULL, err)
        != LLM_OK)
    {
        return LLM_ERROR;
    }

    item = llm_json_value(items[LLM_EMB_MODEL]);

    if (item != NULL && !cJSON_IsString(item)) {
        llm_error_set(err, 400, LLM_INVALID, "model", NULL,
                      "'model' must be a string");
        return LLM_ERROR;
    }

    if (llm_embed_check_input(req, items[LLM_EMB_INPUT], err) != LLM_OK
        || llm_embed_check_options(req, items, err) != LLM_OK)
    {
        return LLM_ERROR;
    }

    req->embed = 1;
    req->stream = 0;
    req->model = (item != NULL) ? item->valuestring : NULL;

    return LLM_OK;
}


/*
 * a non-empty string, or an array of 1 to LLM_EMBED_MAX_INPUTS non-empty
 * strings, token ids, or non-empty arrays of token ids
 */

static int
llm_embed_check_input(llm_request_t *req, const cJSON *input,
    llm_error_t *err)
{
    size_t        n;
    const cJSON  *item;

    input = llm_json_value(input);

    if (input == NULL) {
        llm_error_set(err, 400, LLM_INVALID, "input", NULL,
                      "Missing required parameter: 'input'");
        return LLM_ERROR;
    }

    if (cJSON_IsString(input)) {
        if (input->valuestring[0] == '\0') {
            llm_error_set(err, 400, LLM_INVALID, "input", NULL,
                          "'input' must not be an empty string");
            return LLM_ERROR;
        }

        req->input = input;
        req->ninputs = 1;

        return LLM_OK;
    }

    if (!cJSON_IsArray(input) || input->child == NULL) {
        goto invalid;
    }

    req->input = input;

    if (cJSON_IsNumber(input->child)) {

        /* one input of token ids */

        if (llm_embed_check_tokens(input, err) != LLM_OK) {
            return LLM_ERROR;
        }

        req->tokens = 1;
        req->ninputs = 1;

        return LLM_OK;
    }

    n = 0;

    for (item = input->child; item != NULL; item = item->next) {
        n++;
    }

    if (n > LLM_EMBED_MAX_INPUTS) {
        llm_error_set(err, 400, LLM_INVALID, "input", NULL,
                      "'input' must have at most %d items, it has %lu",
                      LLM_EMBED_MAX_INPUTS, (unsigned long) n);
        return LLM_ERROR;
    }

    n = 0;

    if (cJSON_IsArray(input->child)) {

        for (item = input->child; item != NULL; item = item->next) {
            if (!cJSON_IsArray(item) || item->child == NULL) {
                llm_error_set(err, 400, LLM_INVALID, "input", NULL,
                              "'input[%lu]' must be a non-empty array of "
                              "token ids", (unsigned long) n);
                return LLM_ERROR;
            }

            if (llm_embed_check_tokens(item, err) != LLM_OK) {
                return LLM_ERROR;
            }

            n++;
        }

        req->tokens = 1;
        req->ninputs = n;

        return LLM_OK;
    }

    if (!cJSON_IsString(input->child)) {
        goto invalid;
    }

    for (item = input->child; item != NULL; item = item->next) {
        if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
            llm_error_set(err, 400, LLM_INVALID, "input", NULL,
                          "'input[%lu]' must be a non-empty string",
                          (unsigned long) n);
            return LLM_ERROR;
        }

        n++;
    }

    req->ninputs = n;

    return LLM_OK;

invalid:

    llm_error_set(err, 400, LLM_INVALID, "input", NULL,
                  "'input' must be a non-empty string, or a non-empty "
                  "array of strings, of token ids or of arrays of token "
                  "ids");

    return LLM_ERROR;
}


/*
 * 1 to LLM_EMBED_MAX_TOKENS integers from 0 to 2^31 - 1 (OpenAI's models
 * take 8192 tokens an input: clients that send token ids send chunks of up
 * to that many)
 */

static int
llm_embed_check_tokens(const cJSON *arr, llm_error_t *err)
{
    size_t        n;
    double        d;
    const cJSON  *t;

    n = 0;

    for (t = arr->child; t != NULL; t = t->next) {

        if (!cJSON_IsNumber(t)) {
            goto invalid;
        }

        d = t->valuedouble;

        if (!(d >= 0 && d <= LLM_EMBED_TOKEN_MAX) || d != (double) (long) d) {
            goto invalid;
        }

        n++;
    }

    if (n > LLM_EMBED_MAX_TOKENS) {
        llm_error_set(err, 400, LLM_INVALID, "input", NULL,
                      "an input of token ids must have at most %d of them",
                      LLM_EMBED_MAX_TOKENS);
        return LLM_ERROR;
    }

    return LLM_OK;

invalid:

    llm_error_set(err, 400, LLM_INVALID, "input", NULL,
                  "token ids must be integers from 0 to 2147483647");

    return LLM_ERROR;
}


static int
llm_embed_check_options(llm_request_t *req, const cJSON **items,
    llm_error_t *err)
{
    size_t        i;
    double        d;
    const cJSON  *item;

    item = llm_json_value(items[LLM_EMB_ENCODING_FORMAT]);

    if (item != NULL) {
        if (cJSON_IsString(item)
            && strcmp(item->valuestring, "base64") == 0)
        {
            req->base64 = 1;

        } else if (!cJSON_IsString(item)
                   || strcmp(item->valuestring, "float") != 0)
        {
            llm_error_set(err, 400, LLM_INVALID, "encoding_format", NULL,
                          "'encoding_format' must be \"float\" or "
                          "\"base64\"");
            return LLM_ERROR;
        }
    }

    item = llm_json_value(items[LLM_EMB_DIMENSIONS]);

    if (item != NULL) {
        d = cJSON_IsNumber(item) ? item->valuedouble : 0;

        if (!(d >= 1 && d <= LLM_EMBED_DIM_MAX) || d != (double) (long) d) {
            llm_error_set(err, 400, LLM_INVALID, "dimensions", NULL,
                          "'dimensions' must be an integer between 1 and "
                          "%d", LLM_EMBED_DIM_MAX);
            return LLM_ERROR;
        }

        req->dimensions = (long) d;
    }

    item = llm_json_value(items[LLM_EMB_USER]);

    if (item != NULL && !cJSON_IsString(item)) {
        llm_error_set(err, 400, LLM_INVALID, "user", NULL,
                      "'user' must be a string");
        return LLM_ERROR;
    }

    item = llm_json_value(items[LLM_EMB_INPUT_TYPE]);

    if (item == NULL) {
        return LLM_OK;
    }

    if (cJSON_IsString(item)) {
        for (i = 0; llm_embed_input_types[i] != NULL; i++) {
            if (strcmp(item->valuestring, llm_embed_input_types[i]) == 0) {
                req->input_type = llm_embed_input_types[i];
                return LLM_OK;
            }
        }
    }

    llm_error_set(err, 400, LLM_INVALID, "input_type", NULL,
                  "'input_type' must be one of search_document, "
                  "search_query, classification, clustering");

    return LLM_ERROR;
}


long
llm_embed_prompt_tokens(const llm_request_t *req)
{
    size_t        bytes, tokens;
    const cJSON  *item;

    if (req->input == NULL) {
        return 0;
    }

    bytes = 0;
    tokens = 0;

    if (req->tokens) {
        if (cJSON_IsNumber(req->input->child)) {
            return (long) cJSON_GetArraySize(req->input);
        }

        cJSON_ArrayForEach(item, req->input) {
            tokens += (size_t) cJSON_GetArraySize(item);
        }

        return (long) tokens;
    }

    for (item = llm_embed_text(req, NULL); item != NULL;
         item = llm_embed_text(req, item))
    {
        bytes += strlen(item->valuestring);
    }

    return (long) ((bytes + 3) / 4);
}


const cJSON *
llm_embed_text(const llm_request_t *req, const cJSON *prev)
{
    if (req->input == NULL || req->tokens) {
        return NULL;
    }

    if (cJSON_IsString(req->input)) {
        return (prev == NULL) ? req->input : NULL;
    }

    return (prev == NULL) ? req->input->child : prev->next;
}


int
llm_embed_check(const llm_request_t *req, const char *provider,
    size_t max, int tokens, llm_error_t *err)
{
    if (!req->embed || req->root == NULL || req->input == NULL) {
        llm_error_set(err, 500, LLM_SERVER_ERROR, NULL, NULL,
                      "the embeddings request was not parsed");
        return LLM_ERROR;
    }

    if (req->tokens && !tokens) {
        llm_error_set(err, 400, LLM_INVALID, "input", "unsupported_value",
                      "%s takes text input only", provider);
        return LLM_ERROR;
    }

    if (max != 0 && req->ninputs > max) {
        llm_error_set(err, 400, LLM_INVALID, "input", "too_many_inputs",
                      "%s takes at most %lu inputs per request, the request "
                      "has %lu", provider, (unsigned long) max,
                      (unsigned long) req->ninputs);
        return LLM_ERROR;
    }

    return LLM_OK;
}


const char *
llm_embed_model(const llm_request_t *req, const llm_provider_t *p,
    llm_error_t *err)
{
    const char  *model;

    model = (p->model != NULL && p->model[0] != '\0') ? p->model : req->model;

    if ((model == NULL || model[0] == '\0') && err != NULL) {
        llm_error_set(err, 400, LLM_INVALID, "model", NULL,
                      "Missing required parameter: 'model'");
        return NULL;
    }

    return model;
}


void
llm_embed_out_texts(llm_out_t *out, llm_json_splices_t *sp,
    const llm_request_t *req)
{
    const cJSON  *item;

    llm_out_raw(out, "[", 1);

    for (item = llm_embed_text(req, NULL); item != NULL;
         item = llm_embed_text(req, item))
    {
        if (item != req->input && item != req->input->child) {
            llm_out_raw(out, ",", 1);
        }

        llm_json_out_ref(out, sp, item->valuestring);
    }

    llm_out_raw(out, "]", 1);
}


int
llm_embed_vectors(const char *json, size_t len, llm_slice_t *vectors,
    size_t n, const char *what, llm_error_t *err)
{
    int              rc;
    size_t           pos, i;
    llm_json_span_t  span;

    pos = 0;
    i = 0;

    for ( ;; ) {
        rc = llm_json_element(json, len, &pos, &span);

        if (rc == LLM_DECLINED) {
            break;
        }

        if (rc != LLM_OK) {
            llm_invalid_response(err, "%s is not an array", what);
            return LLM_ERROR;
        }

        if (i < n) {
            vectors[i].data = json + span.value;
            vectors[i].len = span.end - span.value;
        }

        i++;
    }

    if (i != n) {
        llm_invalid_response(err, "%s has %lu vectors for %lu inputs", what,
                             (unsigned long) i, (unsigned long) n);
        return LLM_ERROR;
    }

    return LLM_OK;
}


int
llm_embed_render(const llm_request_t *req, const char *model,
    const llm_slice_t *vectors, size_t n, const llm_usage_t *usage,
    llm_pool_t *pool, llm_response_t *out, llm_error_t *err)
{
    size_t                i, k, dim;
    llm_out_t             o;
    llm_usage_t           u;
    unsigned char        *f32;
    const unsigned char  *p, *last;

    memset(out, 0, sizeof(llm_response_t));
    llm_usage_none(&out->usage);

    dim = 0;

    for (i = 0; i < n; i++) {
        k = 0;
        p = NULL;
        last = NULL;

        if (vectors[i].data != NULL) {
            p = (const unsigned char *) vectors[i].data;
            last = p + vectors[i].len;

            /* the decoders checked the whole answer: only the kind of
               each element and their count are left to see */

            p = llm_json_valid_numbers(p, last, &k);

            if (p != NULL) {
                p = llm_json_skip_ws(p, last);
            }
        }

        if (p == NULL || p != last || k == 0) {
            llm_invalid_response(err, "embedding %lu is not a non-empty "
                                 "array of numbers", (unsigned long) i);
            return LLM_ERROR;
        }

        if (i == 0) {
            dim = k;

        } else if (k != dim) {
            llm_invalid_response(err, "embedding %lu has %lu dimensions, "
                                 "embedding 0 has %lu", (unsigned long) i,
                                 (unsigned long) k, (unsigned long) dim);
            return LLM_ERROR;
        }
    }

    llm_usage_none(&u);

    if (usage != NULL && usage->prompt_tokens >= 0) {
        u.prompt_tokens = usage->prompt_tokens;
        u.total_tokens = (usage->total_tokens >= 0) ? usage->total_tokens
                                                    : usage->prompt_tokens;
    }

    f32 = NULL;

    if (req->base64 && n > 0) {
        if (dim > ((size_t) -1) / 4) {
            goto nomem;
        }

        f32 = llm_palloc(pool, dim * 4);
        if (f32 == NULL) {
            goto nomem;
        }
    }

    memset(&o, 0, sizeof(llm_out_t));

    llm_embed_write(&o, req, model, vectors, n, dim, &u, f32);

    if (llm_out_alloc(&o, pool) == NULL) {
        goto nomem;
    }

    llm_embed_write(&o, req, model, vectors, n, dim, &u, f32);
    o.buf[o.len] = '\0';

    out->body = o.buf;
    out->body_len = o.len;
    out->usage = u;

    return LLM_OK;

nomem:

    llm_error_set(err, 500, LLM_SERVER_ERROR, NULL, NULL, "out of memory");

    return LLM_ERROR;
}


static void
llm_embed_write(llm_out_t *out, const llm_request_t *req, const char *model,
    const llm_slice_t *vectors, size_t n, size_t dim,
    const llm_usage_t *usage, unsigned char *f32)
{
    size_t  i;

    llm_out_lit(out, "{\"object\":\"list\",\"data\":[");

    for (i = 0; i < n; i++) {
        if (i) {
            llm_out_raw(out, ",", 1);
        }

        llm_out_lit(out, "{\"object\":\"embedding\",\"index\":");
        llm_out_int(out, (long long) i);
        llm_out_lit(out, ",\"embedding\":");

        if (req->base64) {
            llm_embed_base64(out, &vectors[i], dim, f32);

        } else {
            llm_out_raw(out, vectors[i].data, vectors[i].len);
        }

        llm_out_raw(out, "}", 1);
    }

    llm_out_lit(out, "],\"model\":");
    llm_out_nstr(out, model);

    if (usage->prompt_tokens >= 0) {
        llm_out_lit(out, ",\"usage\":{\"prompt_tokens\":");
        llm_out_int(out, usage->prompt_tokens);
        llm_out_lit(out, ",\"total_tokens\":");
        llm_out_int(out, usage->total_tokens);
        llm_out_raw(out, "}", 1);
    }

    llm_out_raw(out, "}", 1);
}


/*
 * A checked array of dim numbers as the base64 text of their little-endian
 * float32 values, in quotes.  The measuring pass (out->buf NULL) only
 * counts.
 */

static void
llm_embed_base64(llm_out_t *out, const llm_slice_t *v, size_t dim,
    unsigned char *f32)
{
    char           *d;
    float           f;
    size_t          i, len;
    uint32_t        bits;
    const char     *p;
    unsigned char  *b;

    len = (dim * 4 + 2) / 3 * 4;

    if (out->buf == NULL || out->len > out->size
        || len + 2 > out->size - out->len)
    {
        out->len += len + 2;
        return;
    }

    p = v->data;
    b = f32;

    for (i = 0; i < dim; i++) {
        while (*p != '-' && (*p < '0' || *p > '9')) {
            p++;
        }

        f = llm_embed_float(p, &p);

        memcpy(&bits, &f, 4);

        *b++ = (unsigned char) bits;
        *b++ = (unsigned char) (bits >> 8);
        *b++ = (unsigned char) (bits >> 16);
        *b++ = (unsigned char) (bits >> 24);
    }

    d = out->buf + out->len;
    *d++ = '"';

    b = f32;
    len = dim * 4;

    for ( /* void */ ; len >= 3; len -= 3, b += 3) {
        *d++ = llm_base64[b[0] >> 2];
        *d++ = llm_base64[((b[0] & 0x03) << 4) | (b[1] >> 4)];
        *d++ = llm_base64[((b[1] & 0x0f) << 2) | (b[2] >> 6)];
        *d++ = llm_base64[b[2] & 0x3f];
    }

    if (len) {
        *d++ = llm_base64[b[0] >> 2];

        if (len == 1) {
            *d++ = llm_base64[(b[0] & 0x03) << 4];
            *d++ = '=';

        } else {
            *d++ = llm_base64[((b[0] & 0x03) << 4) | (b[1] >> 4)];
            *d++ = llm_base64[(b[1] & 0x0f) << 2];
        }

        *d++ = '=';
    }

    *d++ = '"';

    out->len = (size_t) (d - out->buf);
}


/*
 * The float32 nearest to the checked JSON number at p, as strtof() gives
 * it, and its end.  A decimal of at most 19 significant digits times a
 * power of ten up to 22 is the double nearest to it in one correctly
 * rounded operation (Clinger's fast path), and that double rounds to the
 * same float as the decimal does: a float and the midpoint between two
 * floats are doubles too, so the decimal and its double are on the same
 * side of each, unless the double is a midpoint itself.  There, and for
 * anything else (more digits, a larger power, a float that is not a
 * normal one), strtof() decides: it stops at the ',', ']' or whitespace
 * that ends each number of a checked array, so it never reads past it.
 */

static float
llm_embed_float(const char *p, const char **end)
{
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    int           neg, k, e, esign, digits;
    float         f;
    double        d;
    uint64_t      m, bits;
    const char   *start;

    start = p;

    neg = (*p == '-');
    p += neg;

    m = 0;
    k = 0;
    digits = 0;

    for ( /* void */ ; *p >= '0' && *p <= '9'; p++) {
        if (m != 0 || *p != '0') {
            if (digits == 19) {
                goto slow;
            }

            m = m * 10 + (uint64_t) (*p - '0');
            digits++;
        }
    }

    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (m != 0 || *p != '0') {
                if (digits == 19) {
                    goto slow;
                }

                m = m * 10 + (uint64_t) (*p - '0');
                digits++;
            }

            k--;
        }
    }

    if (*p == 'e' || *p == 'E') {
        p++;
        esign = 1;

        if (*p == '+' || *p == '-') {
            esign = (*p == '-') ? -1 : 1;
            p++;
        }

        for (e = 0; *p >= '0' && *p <= '9'; p++) {
            if (e > 1000) {
                goto slow;
            }

            e = e * 10 + (*p - '0');
        }

        k += esign * e;
    }

    if (m == 0) {
        *end = p;
        return neg ? -0.0f : 0.0f;
    }

    if (m > ((uint64_t) 1 << 53) || k < -22 || k > 22) {
        goto slow;
    }

    d = (double) m;
    d = (k < 0) ? d / llm_embed_pow10[-k] : d * llm_embed_pow10[k];

    if (d < FLT_MIN || d > FLT_MAX) {
        goto slow;
    }

    /* a midpoint: a float's 24 bits, then 1, then 28 zero bits */

    memcpy(&bits, &d, sizeof(double));

    if ((bits & 0x1fffffff) == 0x10000000) {
        goto slow;
    }

    f = (float) d;
    *end = p;

    return neg ? -f : f;

slow:

    p = start;
#endif

    {
        char   *e_end;
        float   v;

        v = strtof(p, &e_end);
        *end = e_end;

        return v;
    }
}
