#!/bin/sh
#
# The llm_status dashboard in Debian's Chromium (dashboard.test.js), twice:
# with examples/gateway.conf (the five mock providers) and with
# tests/gateway-ab.conf (the same with prices, named routes, a limit zone
# and a location behind the response cache), each
# started here with its mock providers (127.0.0.1:8080, 9101-9105).
#
# Usage: tests/dashboard/run.sh MODULE.so [NGINX]
#
#   SCREENSHOT=1   also renews docs/images/dashboard.png: the
#                  gateway-ab.conf gateway after a varied traffic mix
#                  (about 75 s)
#   CHROMIUM=PATH  the browser (default /usr/bin/chromium)

set -e

module=${1:?usage: run.sh MODULE.so [NGINX]}
nginx=${2:-/usr/sbin/nginx}
echo_module=${ECHO_MODULE:-/usr/lib/nginx/modules/ngx_http_echo_module.so}

case $module in
/*) ;;
*) module=$(pwd)/$module ;;
esac

cd "$(dirname "$0")"
here=$(pwd)
top=$(cd ../.. && pwd)
prefix=$top/build/dashboard

export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$CHROMIUM" ]; then
    echo "run.sh: no $CHROMIUM (Debian package chromium:" \
         "scripts/deps.sh test installs it)" >&2
    exit 1
fi

if [ ! -d node_modules/playwright-core ]; then
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
trap 'exit 1' INT TERM

# $1: configuration, $2: traffic mix of dashboard.test.js, $3: screenshot
serve() {
    stop
    rm -rf "$prefix"
    mkdir -p "$prefix/logs"

    # the configurations log to stderr: kept in a file, shown on failure
    "$nginx" -p "$prefix/" -c "$1" \
        -g "load_module $echo_module; load_module $module; pid $prefix/nginx.pid; error_log $prefix/logs/error.log info;" \
        2> "$prefix/logs/stderr.log" \
        || { cat "$prefix/logs/stderr.log" "$prefix/logs/error.log"; exit 1; }

    i=0
    until node -e "fetch('http://127.0.0.1:8080/llm/status').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
    do
        i=$((i + 1))
        [ $i -lt 50 ] || { echo "the gateway did not start"; exit 1; }
        sleep 0.1
    done

    if ! (cd "$here" && DASHBOARD_MIX=$2 SCREENSHOT_PATH=$3 \
          node --test dashboard.test.js)
    then
        status=1
        echo "--- $1: error log" >&2
        grep -v '\[info\]' "$prefix/logs/error.log" | tail -30 >&2 || true
    fi
}

status=0
shot=
if [ "${SCREENSHOT:-0}" = 1 ]; then
    shot=$top/docs/images/dashboard.png
fi

serve "$top/examples/gateway.conf" gateway ""
serve "$top/tests/gateway-ab.conf" ab "$shot"

exit $status
