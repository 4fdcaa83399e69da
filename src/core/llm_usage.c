
/*
 * ngx_http_llm_router_module: token usage and its cost.  Prices are
 * integers (micro-USD per 1M tokens, which is pico-USD per token), so a
 * cost is a sum of products, exact to the pico-USD, with no division and
 * no floating point.
 */


#include <limits.h>
#include <string.h>

#include "llm_internal.h"


#define LLM_PICO_PER_USD    1000000000000ULL
#define LLM_MICRO_PER_USD   1000000ULL
#define LLM_PRICE_DECIMALS  6


static unsigned long long llm_cost_term(unsigned long long n,
    unsigned long long price, int *over);
static unsigned long long llm_cost_count(long long count);


int
llm_usage_known(const llm_usage_t *u)
{
    return u != NULL && (u->prompt_tokens >= 0 || u->completion_tokens >= 0);
}


void
llm_usage_none(llm_usage_t *u)
{
    u->prompt_tokens = -1;
    u->completion_tokens = -1;
    u->total_tokens = -1;
    u->cached_tokens = -1;
    u->cache_write_tokens = -1;
    u->reasoning_tokens = -1;
}


void
llm_usage_norm(const llm_usage_t *in, llm_usage_t *u)
{
    if (!llm_usage_known(in)) {
        llm_usage_none(u);
        return;
    }

    *u = *in;

    if (u->prompt_tokens < 0) {
        u->prompt_tokens = 0;
    }

    if (u->completion_tokens < 0) {
        u->completion_tokens = 0;
    }

    /* a total of 0 beside counts above 0 is a total not worked out */

    if (u->total_tokens <= 0) {
        u->total_tokens = u->prompt_tokens + u->completion_tokens;
    }

    if (u->cached_tokens < 0) {
        u->cached_tokens = -1;
    }

    if (u->cache_write_tokens < 0) {
        u->cache_write_tokens = -1;
    }

    if (u->reasoning_tokens < 0) {
        u->reasoning_tokens = -1;
    }
}


long long
llm_usage_add(long long a, long long b)
{
    if (a < 0 && b < 0) {
        return -1;
    }

    if (a < 0) {
        return b;
    }

    if (b < 0) {
        return a;
    }

    /* counts are capped at 2^53 (llm_json_count()): no overflow */

    return a + b;
}


unsigned long long
llm_usage_cost(const llm_usage_t *u, const llm_price_t *p)
{
    int                 over;
    unsigned long long  prompt, cached, write, uncached, cost, t;

    if (u == NULL || p == NULL) {
        return 0;
    }

    prompt = llm_cost_count(u->prompt_tokens);
    cached = llm_cost_count(u->cached_tokens);
    write = llm_cost_count(u->cache_write_tokens);

    /* each is below 2^63: the sum does not wrap */

    uncached = (cached + write < prompt) ? prompt - cached - write : 0;

    over = 0;

    cost = llm_cost_term(uncached, p->input, &over);

    t = llm_cost_term(cached, p->cache_read, &over);
    over |= (t > ULLONG_MAX - cost);
    cost += t;

    t = llm_cost_term(write, p->cache_write, &over);
    over |= (t > ULLONG_MAX - cost);
    cost += t;

    t = llm_cost_term(llm_cost_count(u->completion_tokens), p->output,
                      &over);
    over |= (t > ULLONG_MAX - cost);
    cost += t;

    return over ? ULLONG_MAX : cost;
}


/* n * price; *over set when it does not fit */

static unsigned long long
llm_cost_term(unsigned long long n, unsigned long long price, int *over)
{
    if (n != 0 && price > ULLONG_MAX / n) {
        *over = 1;
        return 0;
    }

    return n * price;
}


/* a count, a negative one ("not reported") as 0 */

static unsigned long long
llm_cost_count(long long count)
{
    return (count > 0) ? (unsigned long long) count : 0;
}


size_t
llm_cost_format(char *buf, size_t size, unsigned long long pico)
{
    char                tmp[LLM_COST_LEN + 1], *p;
    size_t              i, len;
    unsigned long long  usd, frac;

    usd = pico / LLM_PICO_PER_USD;
    frac = pico % LLM_PICO_PER_USD;

    /* written backwards: twelve decimals, the point, the whole dollars */

    p = tmp + sizeof(tmp);

    for (i = 0; i < 12; i++) {
        *--p = (char) ('0' + frac % 10);
        frac /= 10;
    }

    *--p = '.';

    do {
        *--p = (char) ('0' + usd % 10);
        usd /= 10;
    } while (usd);

    len = (size_t) (tmp + sizeof(tmp) - p);

    if (buf == NULL || size == 0) {
        return len;
    }

    if (size <= len) {
        buf[0] = '\0';
        return len;
    }

    memcpy(buf, p, len);
    buf[len] = '\0';

    return len;
}


int
llm_price_parse(const char *s, size_t len, unsigned long long *micro)
{
    size_t              i, decimals, digits;
    unsigned            d;
    unsigned long long  whole, frac;

    whole = 0;
    frac = 0;
    digits = 0;
    decimals = 0;

    if (s == NULL) {
        return LLM_ERROR;
    }

    for (i = 0; i < len && s[i] != '.'; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return LLM_ERROR;
        }

        d = (unsigned) (s[i] - '0');

        if (whole > (ULLONG_MAX - d) / 10) {
            return LLM_ERROR;
        }

        whole = whole * 10 + d;
        digits++;
    }

    if (i < len) {

        /* past the point: up to six decimals */

        for (i++; i < len; i++) {
            if (s[i] < '0' || s[i] > '9'
                || decimals == LLM_PRICE_DECIMALS)
            {
                return LLM_ERROR;
            }

            frac = frac * 10 + (unsigned) (s[i] - '0');
            decimals++;
            digits++;
        }
    }

    if (digits == 0) {
        return LLM_ERROR;
    }

    for ( /* void */ ; decimals < LLM_PRICE_DECIMALS; decimals++) {
        frac *= 10;
    }

    if (whole > (ULLONG_MAX - frac) / LLM_MICRO_PER_USD) {
        return LLM_ERROR;
    }

    *micro = whole * LLM_MICRO_PER_USD + frac;

    return LLM_OK;
}
