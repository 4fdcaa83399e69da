#!/bin/sh
#
# Runs the OpenAI SDK tests against the gateway: chat.test.js with
# examples/gateway.conf, and examples/NAME.test.js with
# examples/NAME.conf, each started here with its mock providers
# (127.0.0.1:8080, 9101-9105).
#
# Usage: tests/sdk/run.sh MODULE.so [NGINX]

set -e

module=${1:?usage: run.sh MODULE.so [NGINX]}
nginx=${2:-/usr/sbin/nginx}
echo_module=${ECHO_MODULE:-/usr/lib/nginx/modules/ngx_http_echo_module.so}

cd "$(dirname "$0")"
sdk=$(pwd)
top=$(cd ../.. && pwd)
prefix=$top/build/sdk

if [ ! -d node_modules/openai ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi

stop() {
    if [ -f "$prefix/nginx.pid" ]; then
        kill "$(cat "$prefix/nginx.pid")" 2>/dev/null || true
        i=0
        while [ -f "$prefix/nginx.pid" ] && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
    fi
}

trap stop EXIT

# $1: configuration in examples/, $2...: test files
serve() {
    conf=$1
    shift

    stop
    rm -rf "$prefix"
    mkdir -p "$prefix/logs"

    "$nginx" -p "$prefix/" -c "$top/examples/$conf" \
        -g "load_module $echo_module; load_module $module; pid $prefix/nginx.pid; error_log $prefix/logs/error.log info;" \
        || { cat "$prefix/logs/error.log"; exit 1; }

    i=0
    until node -e "fetch('http://127.0.0.1:8080/v1/models').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
    do
        i=$((i + 1))
        [ $i -lt 50 ] || { echo "the gateway did not start"; exit 1; }
        sleep 0.1
    done

    (cd "$sdk" && node --test "$@") || status=1
}

status=0

serve gateway.conf chat.test.js
serve knowledge-assistant.conf examples/knowledge-assistant.test.js
serve indie.conf examples/indie.test.js
serve cache.conf examples/cache.test.js
serve retrieval.conf examples/retrieval.test.js

exit $status
