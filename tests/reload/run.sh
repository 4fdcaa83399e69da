#!/bin/bash
#
# Provider keys given as "api_key env:VARIABLE" and "nginx -s":
#
#   1. a gateway (127.0.0.1:1993, its mock provider on 1994) starts with
#      the variable in its environment and sends the key to the provider;
#   2. "nginx -s reload" from a shell without the variable succeeds, the
#      master loads the new configuration (a changed response header) and
#      the key still reaches the provider;
#   3. "nginx -t" without the variable fails and names the variable, with
#      it succeeds;
#   4. the counts of an llm_limit_zone are kept across the reload of 2.;
#      a reload that changes the zone's kind drops its keys;
#   5. "nginx -s quit" without the variable stops the gateway.
#
# Everything started here is stopped on exit.
#
# Usage: tests/reload/run.sh MODULE.so [NGINX]

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
prefix=$top/build/reload-test
conf=$prefix/nginx.conf
key=sk-reload-test-key

# the mock echoes the Authorization it got; the gateway masks the key in
# what comes back, so its exact length in '*' says the key was sent
seen="auth=Bearer $(printf '%*s' ${#key} '' | tr ' ' '*')"

rm -rf "$prefix"
mkdir -p "$prefix/logs"

# $1: the value of the X-Generation header of the gateway's answers,
# $2: what the llm_limit_zone "rl" counts
write_conf() {
    cat > "$conf" <<CONF
load_module $module;
worker_processes 1;
error_log $prefix/logs/error.log notice;
pid $prefix/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    llm_zone llm 1m;
    llm_limit_zone \$http_x_key zone=rl:1m ${2:-requests=2/1h};

    llm_provider mock {
        type     openai;
        url      http://127.0.0.1:1994/v1;
        api_key  env:LLM_RELOAD_TEST_KEY;
    }

    server {
        listen 127.0.0.1:1993;
        location /v1/ {
            llm_route mock;
            add_header X-Generation $1;
        }
        location /limited/ {
            llm_limit zone=rl;
            llm_route mock;
        }
    }

    server {
        listen 127.0.0.1:1994;
        location = /v1/chat/completions {
            default_type application/json;
            return 200 '{"id":"chatcmpl-r","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"auth=\$http_authorization"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';
        }
    }
}
CONF
}

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

# prints the answer's headers and body
ask() {
    curl -s -i --max-time 5 -H 'Content-Type: application/json' \
        -d '{"model":"m","messages":[{"role":"user","content":"hi"}]}' \
        http://127.0.0.1:1993/v1/chat/completions
}

# prints the answer's headers of a request of the limited location
ask_limited() {
    curl -s -i --max-time 5 -H 'Content-Type: application/json' \
        -H 'X-Key: team-a' -o /dev/null -D - \
        -d '{"model":"m","messages":[{"role":"user","content":"hi"}]}' \
        http://127.0.0.1:1993/limited/chat/completions
}

# $1: the configuration's generation; waits for its workers
reload() {
    write_conf "$1" "$2"
    out=$(env -u LLM_RELOAD_TEST_KEY "$nginx" -p "$prefix" -c "$conf" \
              -s reload 2>&1)
    rc=$?

    reloaded=1
    for _ in $(seq 50); do
        if ask | grep -q "X-Generation: $1"; then
            reloaded=0
            break
        fi
        sleep 0.1
    done
}

write_conf 1
LLM_RELOAD_TEST_KEY=$key "$nginx" -p "$prefix" -c "$conf"

set +e

out=$(ask)
echo "$out" | grep -qF "$seen" && echo "$out" | grep -q 'X-Generation: 1'
check "the key from the master's environment reaches the provider" $? "$out"

out=$(ask_limited)
echo "$out" | grep -q 'x-ratelimit-remaining-requests: 1'
check "a limit counts the first request" $? "$out"

# the shell that signals has no key
write_conf 2
out=$(env -u LLM_RELOAD_TEST_KEY "$nginx" -p "$prefix" -c "$conf" \
          -s reload 2>&1)
rc=$?
check "nginx -s reload without the variable" $rc "$out"

reloaded=1
for _ in $(seq 50); do
    out=$(ask)
    if echo "$out" | grep -q 'X-Generation: 2'; then
        reloaded=0
        break
    fi
    sleep 0.1
done
check "the master loaded the new configuration" $reloaded \
      "$(tail -20 "$prefix/logs/error.log")"

echo "$out" | grep -qF "$seen"
check "the key still reaches the provider after the reload" $? "$out"

out=$(ask_limited)
echo "$out" | grep -q '^HTTP/1.1 200' \
    && echo "$out" | grep -q 'x-ratelimit-remaining-requests: 0'
check "the limit's count is kept across the reload" $? "$out"

out=$(ask_limited)
echo "$out" | grep -q '^HTTP/1.1 429' && echo "$out" | grep -q 'Retry-After: '
check "the limit refuses the third request" $? "$out"

if grep -q 'LLM_RELOAD_TEST_KEY' "$prefix/logs/error.log"; then
    check "the master found the variable on reload" 1 \
          "$(grep LLM_RELOAD_TEST_KEY "$prefix/logs/error.log")"
fi

out=$(env -u LLM_RELOAD_TEST_KEY "$nginx" -t -p "$prefix" -c "$conf" 2>&1)
rc=$?
[ $rc != 0 ] && echo "$out" | grep -q 'llm_provider "mock": environment variable "LLM_RELOAD_TEST_KEY" for "api_key" is not set or empty'
check "nginx -t without the variable fails and names it" $? "$out"

out=$(LLM_RELOAD_TEST_KEY=$key "$nginx" -t -p "$prefix" -c "$conf" 2>&1)
check "nginx -t with the variable" $? "$out"

if echo "$out" | grep -q "$key"; then
    check "nginx -t does not print the key" 1 "$out"
fi

# the zone counts tokens now: the counts of requests are dropped
reload 3 tokens=1000/1h
check "nginx -s reload with the zone's kind changed" $rc "$out"
check "the master loaded the configuration of the new kind" $reloaded \
      "$(tail -20 "$prefix/logs/error.log")"

out=$(ask_limited)
echo "$out" | grep -q '^HTTP/1.1 200' \
    && echo "$out" | grep -q 'x-ratelimit-remaining-tokens: 992'
check "a zone whose kind changed starts from zero" $? "$out"

grep -q 'llm_limit_zone "rl" counts tokens now: its keys are dropped' \
    "$prefix/logs/error.log"
check "the dropped keys are logged" $? \
      "$(tail -20 "$prefix/logs/error.log")"

pid=$(cat "$prefix/nginx.pid")
out=$(env -u LLM_RELOAD_TEST_KEY "$nginx" -p "$prefix" -c "$conf" \
          -s quit 2>&1)
check "nginx -s quit without the variable" $? "$out"

stopped=1
for _ in $(seq 50); do
    if ! kill -0 "$pid" 2>/dev/null; then
        stopped=0
        break
    fi
    sleep 0.1
done
check "the gateway stopped" $stopped

if [ $fails != 0 ]; then
    echo "tests/reload: $fails failed"
    exit 1
fi

echo "tests/reload: all passed"
