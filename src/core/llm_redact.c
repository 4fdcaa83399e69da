
/*
 * ngx_http_llm_router_module: a provider's key masked in what is relayed
 * to the client.
 *
 * Each occurrence of the key is overwritten, byte for byte, with '*': the
 * length of what is relayed does not change (a Content-Length stays
 * true).  Text that arrives in pieces is handled by the caller holding
 * back the end of each piece that could be the start of the key
 * (llm_redact_tail()) and putting it before the next piece.
 */


#include <string.h>

#include "llm_internal.h"


size_t
llm_redact(char *buf, size_t len, const char *key, size_t klen)
{
    char    *p, *last;
    size_t   n;

    if (klen < LLM_REDACT_MIN || len < klen) {
        return 0;
    }

    n = 0;
    p = buf;
    last = buf + len - klen;

    while (p <= last) {
        p = memchr(p, key[0], last - p + 1);

        if (p == NULL) {
            break;
        }

        if (memcmp(p + 1, key + 1, klen - 1) == 0) {
            memset(p, '*', klen);
            p += klen;
            n++;
            continue;
        }

        p++;
    }

    return n;
}


size_t
llm_redact_tail(const char *buf, size_t len, const char *key, size_t klen)
{
    size_t  n;

    if (klen < LLM_REDACT_MIN) {
        return 0;
    }

    n = (len < klen - 1) ? len : klen - 1;

    for ( /* void */ ; n > 0; n--) {
        if (memcmp(buf + len - n, key, n) == 0) {
            return n;
        }
    }

    return 0;
}
