#!/bin/bash
#
# The alerting rules and the metrics in Prometheus:
#
#   1. promtool check rules / check config / test rules on
#      examples/prometheus/ (lint included, fatal);
#   2. the gateway of tests/gateway-ab.conf with its mock providers
#      (127.0.0.1:8080, 9101-9105), and a real Prometheus on 127.0.0.1
#      (port 19090, or the next free one) scraping it every second with
#      the example's scrape job and rules, its storage in a temporary
#      directory;
#   3. prometheus.test.js: requests, `promtool check metrics` on the
#      exposition (any line it prints fails), Prometheus' numbers against
#      the gateway's JSON, the rules loaded and evaluated, the alerts.
#
# Everything started here is stopped on exit.
#
# Usage: tests/prometheus/run.sh MODULE.so [NGINX]
#        (PROMETHEUS=, PROMTOOL= for other binaries)

set -e

module=${1:?usage: run.sh MODULE.so [NGINX]}
nginx=${2:-/usr/sbin/nginx}
echo_module=${ECHO_MODULE:-/usr/lib/nginx/modules/ngx_http_echo_module.so}
prometheus=${PROMETHEUS:-prometheus}
promtool=${PROMTOOL:-promtool}

case $module in
/*) ;;
*) module=$(pwd)/$module ;;
esac

cd "$(dirname "$0")"
here=$(pwd)
top=$(cd ../.. && pwd)
examples=$top/examples/prometheus
prefix=$top/build/prometheus

for tool in "$prometheus" "$promtool"; do
    command -v "$tool" >/dev/null || {
        echo "run.sh: no $tool (Debian package prometheus:" \
             "scripts/deps.sh test installs it)" >&2
        exit 1
    }
done

# $1: what, then the command; fails on any line other than the ones that
# promtool prints on success
strict() {
    local what=$1 out
    shift

    if ! out=$("$@" 2>&1); then
        echo "FAIL: $what"
        echo "$out"
        return 1
    fi

    if echo "$out" | grep -Ev '^( *SUCCESS(: .*)?|Checking .*|Unit Testing: .*|)$' \
        | grep -q .
    then
        echo "FAIL: $what: promtool printed more than success"
        echo "$out"
        return 1
    fi

    echo "ok: $what"
}

fails=0

strict "promtool check rules" \
    "$promtool" check rules --lint=all --lint-fatal "$examples/alerts.yml" \
    || fails=$((fails + 1))
strict "promtool check config" \
    "$promtool" check config --lint=all --lint-fatal \
    "$examples/prometheus.yml" || fails=$((fails + 1))
strict "promtool test rules" \
    "$promtool" test rules "$examples/alerts.test.yml" \
    || fails=$((fails + 1))

# ---- the gateway and Prometheus ------------------------------------------

prom_pid=

stop() {
    if [ -n "$prom_pid" ]; then
        kill "$prom_pid" 2>/dev/null || true
        wait "$prom_pid" 2>/dev/null || true
        prom_pid=
    fi

    if [ -f "$prefix/nginx.pid" ]; then
        kill "$(cat "$prefix/nginx.pid")" 2>/dev/null || true
        i=0
        while [ -f "$prefix/nginx.pid" ] && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
    fi

    rm -rf "$prefix/data"
}

trap stop EXIT
trap 'exit 1' INT TERM

rm -rf "$prefix"
mkdir -p "$prefix/logs" "$prefix/data"

"$nginx" -p "$prefix/" -c "$top/tests/gateway-ab.conf" \
    -g "load_module $echo_module; load_module $module; pid $prefix/nginx.pid; error_log $prefix/logs/error.log info;" \
    2> "$prefix/logs/stderr.log" \
    || { cat "$prefix/logs/stderr.log" "$prefix/logs/error.log"; exit 1; }

# a free port for Prometheus
port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

port=19090
while ! port_free $port; do
    port=$((port + 1))
    [ $port -lt 19110 ] || { echo "no free port in 19090-19109"; exit 1; }
done

# the example's scrape job and rules, every second
sed -e 's/^\( *\)scrape_interval: .*/\1scrape_interval: 1s/' \
    -e 's/^\( *\)evaluation_interval: .*/\1evaluation_interval: 1s/' \
    -e "s#^\\( *\\)- alerts.yml\$#\\1- $examples/alerts.yml#" \
    "$examples/prometheus.yml" > "$prefix/prometheus.yml"

grep -q "scrape_interval: 1s" "$prefix/prometheus.yml" \
    && grep -q "evaluation_interval: 1s" "$prefix/prometheus.yml" \
    && grep -q -- "- $examples/alerts.yml" "$prefix/prometheus.yml" \
    || { echo "run.sh: cannot adapt $examples/prometheus.yml"; exit 1; }

"$prometheus" --config.file="$prefix/prometheus.yml" \
    --storage.tsdb.path="$prefix/data" \
    --web.listen-address="127.0.0.1:$port" \
    > "$prefix/logs/prometheus.log" 2>&1 &
prom_pid=$!

i=0
until node -e "fetch('http://127.0.0.1:$port/-/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
do
    i=$((i + 1))
    if [ $i -ge 300 ] || ! kill -0 "$prom_pid" 2>/dev/null; then
        echo "Prometheus did not start:"
        tail -20 "$prefix/logs/prometheus.log"
        exit 1
    fi
    sleep 0.1
done

if ! GATEWAY_URL=http://127.0.0.1:8080 PROM_URL=http://127.0.0.1:$port \
     PROMTOOL=$promtool node --test "$here/prometheus.test.js"
then
    fails=$((fails + 1))
    echo "--- Prometheus log" >&2
    grep -v 'level=info' "$prefix/logs/prometheus.log" | tail -20 >&2 || true
    echo "--- gateway error log" >&2
    grep -v '\[info\]' "$prefix/logs/error.log" | tail -20 >&2 || true
fi

[ $fails -eq 0 ]
