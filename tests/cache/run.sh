#!/bin/bash
#
# The response cache across what one NGINX run cannot show:
#
#   1. the cache is shared by the workers: two workers answer hits for a
#      key that one of them stored, and the provider is asked once;
#   2. the cache outlives a restart (nginx -s quit, start again: a hit);
#   3. a damaged cache file (cut short, a flipped byte in the answer, not
#      a cache file at all) is a miss, answered by the provider and
#      stored again, never a crash or a wrong answer;
#   4. an entry older than llm_cache_valid is EXPIRED and refreshed;
#   5. the cache manager keeps the cache under max_size.
#
# The gateway listens on 127.0.0.1:1991, its mock provider on 1992; the
# mock's access log counts the calls that reached it.  Everything started
# here is stopped on exit.
#
# Usage: tests/cache/run.sh MODULE.so [NGINX]

set -e

# a daemon started here must not keep a lock held by whoever started this
# script (flock's descriptor): close what was inherited beyond stdio
for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    case $fd in
    0|1|2|255) ;;
    *) eval "exec $fd>&-" 2>/dev/null || true ;;
    esac
done

module=${1:?usage: run.sh MODULE.so [NGINX]}
nginx=${2:-/usr/sbin/nginx}

case $module in
/*) ;;
*) module=$(pwd)/$module ;;
esac

top=$(cd "$(dirname "$0")/../.." && pwd)
prefix=$top/build/cache-test
conf=$prefix/nginx.conf
calls=$prefix/logs/provider.log

rm -rf "$prefix"
mkdir -p "$prefix/logs"

answer='{"id":"chatcmpl-c","object":"chat.completion","created":1,"model":"gpt-x","choices":[{"index":0,"message":{"role":"assistant","content":"Cached words."},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}'

cat > "$conf" <<CONF
load_module $module;
worker_processes 2;
error_log $prefix/logs/error.log notice;
pid $prefix/nginx.pid;
events { worker_connections 64; }
http {
    log_format cache '\$pid \$llm_cache_status';
    access_log $prefix/logs/access.log cache;

    llm_cache_path $prefix/cache levels=1:2 keys_zone=answers:1m
                   max_size=64k inactive=1h;

    llm_provider mock {
        type     openai;
        url      http://127.0.0.1:1992/v1;
        api_key  off;
    }

    server {
        listen 127.0.0.1:1991;

        location /v1/ {
            llm_cache answers;
            llm_route mock;
        }

        location /short/ {
            llm_cache answers;
            llm_cache_valid 1s;
            llm_cache_key short;
            llm_route mock;
        }
    }

    server {
        listen 127.0.0.1:1992;
        access_log $calls;

        location = /v1/chat/completions {
            default_type application/json;
            return 200 '$answer';
        }
    }
}
CONF

stop() {
    local pid

    pid=$(cat "$prefix/nginx.pid" 2>/dev/null) || return 0
    kill -QUIT "$pid" 2>/dev/null || return 0

    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done

    kill -KILL "$pid" 2>/dev/null || true
}

trap stop EXIT

fails=0

check() {
    if [ "$2" = 0 ]; then
        echo "ok: $1"
    else
        echo "FAIL: $1"
        [ -z "$3" ] || echo "$3"
        fails=$((fails + 1))
    fi
}

# $1: the text to ask, $2: the location; prints the X-LLM-Cache value,
# then the body on the next line
ask() {
    curl -s -i --max-time 5 -H 'Content-Type: application/json' \
        -d "{\"model\":\"gpt-x\",\"messages\":[{\"role\":\"user\",\"content\":\"$1\"}]}" \
        "http://127.0.0.1:1991/${2:-v1}/chat/completions" \
    | awk 'BEGIN { body = 0 }
           /^X-LLM-Cache:/ { sub(/\r$/, ""); print $2; next }
           /^\r?$/ { body = 1; next }
           body { print }'
}

provider_calls() {
    wc -l < "$calls" 2>/dev/null || echo 0
}

# the cache file of the only entry stored since $1 (a marker file)
newest_file() {
    find "$prefix/cache" -type f -newer "$1" | head -1
}

"$nginx" -p "$prefix" -c "$conf"

set +e

# 1. shared by the workers

out=$(ask "shared")
[ "$(echo "$out" | head -1)" = MISS ] \
    && [ "$(echo "$out" | tail -1)" = "$answer" ]
check "a miss is answered by the provider" $? "$out"

pids=""
for i in $(seq 40); do
    out=$(ask "shared")
    [ "$(echo "$out" | head -1)" = HIT ] \
        && [ "$(echo "$out" | tail -1)" = "$answer" ] || break
done
check "40 identical requests are hits with the stored answer" \
      $([ "$(echo "$out" | head -1)" = HIT ]; echo $?) "$out"

npids=$(awk '$2 == "HIT" { print $1 }' "$prefix/logs/access.log" \
        | sort -u | wc -l)
[ "$npids" = 2 ]
check "both workers answered hits" $? "$(sort "$prefix/logs/access.log" | uniq -c)"

[ "$(provider_calls)" = 1 ]
check "the provider was asked once" $? "$(cat "$calls")"

# 2. across a restart

stop
"$nginx" -p "$prefix" -c "$conf"

out=$(ask "shared")
[ "$(echo "$out" | head -1)" = HIT ] \
    && [ "$(echo "$out" | tail -1)" = "$answer" ]
check "a hit after a restart" $? "$out"

[ "$(provider_calls)" = 1 ]
check "the provider was not asked after the restart" $? "$(cat "$calls")"

# 3. damaged files

damage() {
    local what=$1 file=$2 size

    case $what in
    cut)
        size=$(stat -c %s "$file")
        truncate -s $((size - 7)) "$file"
        ;;
    flip)
        # the answer's "Cached" becomes "Cachxd": same length, other bytes
        sed -i 's/Cached words/Cachxd words/' "$file"
        ;;
    garbage)
        head -c 600 /dev/urandom > "$file"
        ;;
    empty)
        : > "$file"
        ;;
    esac
}

for what in cut flip garbage empty; do
    touch "$prefix/mark"
    sleep 0.01
    out=$(ask "damage $what")
    file=$(newest_file "$prefix/mark")
    [ -n "$file" ]
    check "$what: the answer was stored" $? "$out"
    [ -n "$file" ] || continue

    damage $what "$file"
    before=$(provider_calls)

    out=$(ask "damage $what")
    [ "$(echo "$out" | head -1)" = MISS ] \
        && [ "$(echo "$out" | tail -1)" = "$answer" ]
    check "$what: a damaged file is a miss with the right answer" $? "$out"

    [ "$(provider_calls)" = $((before + 1)) ]
    check "$what: the provider answered it" $? "$(tail -3 "$calls")"

    out=$(ask "damage $what")
    [ "$(echo "$out" | head -1)" = HIT ] \
        && [ "$(echo "$out" | tail -1)" = "$answer" ]
    check "$what: stored again, then a hit" $? "$out"
done

grep -q 'is damaged, taken as a miss' "$prefix/logs/error.log"
check "a damaged file is logged" $? "$(tail -5 "$prefix/logs/error.log")"

# 4. expiry

out=$(ask "expiry" short)
[ "$(echo "$out" | head -1)" = MISS ]
check "expiry: a miss" $? "$out"
out=$(ask "expiry" short)
[ "$(echo "$out" | head -1)" = HIT ]
check "expiry: a hit within llm_cache_valid" $? "$out"
sleep 2.2
out=$(ask "expiry" short)
[ "$(echo "$out" | head -1)" = EXPIRED ] \
    && [ "$(echo "$out" | tail -1)" = "$answer" ]
check "expiry: EXPIRED after llm_cache_valid, from the provider" $? "$out"
out=$(ask "expiry" short)
[ "$(echo "$out" | head -1)" = HIT ]
check "expiry: refreshed, a hit again" $? "$out"

# 5. max_size: 40 entries of one 4 KB block each against 64 KB

for i in $(seq 40); do
    ask "fill $i" > /dev/null
done

evicted=1
for _ in $(seq 30); do
    n=$(find "$prefix/cache" -type f | wc -l)
    size=$(du -sk --apparent-size "$prefix/cache" | cut -f1)
    if [ "$n" -le 20 ]; then
        evicted=0
        break
    fi
    sleep 1
done
check "the cache manager evicted down to max_size ($n files left)" $evicted

out=$(ask "fill 40")
[ "$(echo "$out" | head -1)" = HIT ]
check "the most recent entry is kept" $? "$out"

if grep -qE 'exited on signal|\[alert\]' "$prefix/logs/error.log"; then
    check "no worker crashed, no entry left updating" 1 \
          "$(grep -E 'exited on signal|\[alert\]' "$prefix/logs/error.log")"
fi

if [ $fails != 0 ]; then
    echo "tests/cache: $fails failed"
    tail -20 "$prefix/logs/error.log"
    exit 1
fi

echo "tests/cache: all passed"
