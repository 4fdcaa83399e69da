#!/bin/sh
#
# Runs the OpenAI SDK tests against the gateway of examples/gateway.conf,
# started here with its mock providers (127.0.0.1:8080, 9101-9105).
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

rm -rf "$prefix"
mkdir -p "$prefix/logs"

"$nginx" -p "$prefix/" -c "$top/examples/gateway.conf" \
    -g "load_module $echo_module; load_module $module; pid $prefix/nginx.pid; error_log $prefix/logs/error.log info;" \
    || { cat "$prefix/logs/error.log"; exit 1; }

stop() {
    [ -f "$prefix/nginx.pid" ] && kill "$(cat "$prefix/nginx.pid")" 2>/dev/null
    return 0
}
trap stop EXIT

# wait until the gateway answers
i=0
until node -e "fetch('http://127.0.0.1:8080/v1/models').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
do
    i=$((i + 1))
    [ $i -lt 50 ] || { echo "the gateway did not start"; exit 1; }
    sleep 0.1
done

cd "$sdk"
node --test
