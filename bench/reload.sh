#!/bin/bash
#
# Reload under load: while clients send chat requests on keep-alive
# connections (bench/reload-client.mjs, no retries), the NGINX in front of
# the mock provider gets "nginx -s reload" every second.  The same load and
# reloads against plain proxy_pass to the same mock, in the same NGINX, so
# that what NGINX itself loses on a graceful reload is told apart from what
# the module loses.  Non-streamed, then streamed (~50 ms streams of 20
# events); without retries, then the gateway again with clients that
# retry a request that got no answer (as the OpenAI SDKs do).  Then the llm_zone totals are compared with what the clients
# got: the counters live through the reloads.
#
#   gateway      127.0.0.1:9502/plain/ and /stream/  (llm_route)
#   proxy_pass   127.0.0.1:9503/plain/ and /stream/  (upstream keepalive)
#   mock         127.0.0.1:9501 (bench/mock.sh)
#
# Prints one table and keeps it in build/reload/report.md.  A request is
# "failed" when it got no answer (a connection error), "cut" when a 200
# answer broke off (a stream without [DONE]).
#
# Usage: bench/reload.sh     (make bench-reload builds first)
#        DURATION=20 CONCURRENCY=32 WORKERS=2 bench/reload.sh

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

top=$(cd "$(dirname "$0")/.." && pwd)
nginx=${NGINX:-/usr/sbin/nginx}
module=${MODULE:-$top/build/ngx_http_llm_router_module.so}
dir=$top/build/reload
duration=${DURATION:-15}
concurrency=${CONCURRENCY:-32}
workers=${WORKERS:-2}
report=$dir/report.md

rm -rf "$dir"
mkdir -p "$dir/mock/logs" "$dir/gateway/logs"

. "$top/bench/mock.sh"

mock_conf 9501 > "$dir/mock/nginx.conf"

cat > "$dir/gateway/nginx.conf" <<CONF
load_module $module;
worker_processes $workers;
error_log logs/error.log notice;
pid nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;

    llm_zone llm 1m;

    llm_provider plain {
        type openai; url http://127.0.0.1:9501/openai; api_key off;
        keepalive 64;
    }

    llm_provider stream {
        type openai; url http://127.0.0.1:9501/stream-openai; api_key off;
        keepalive 64;
    }

    upstream mock {
        server 127.0.0.1:9501;
        keepalive 64;
    }

    server {
        listen 127.0.0.1:9502;

        location /plain/ {
            rewrite ^/plain(/.*)\$ \$1 break;
            llm_route plain;
        }

        location /stream/ {
            rewrite ^/stream(/.*)\$ \$1 break;
            llm_route stream;
        }

        location = /status {
            llm_status;
        }
    }

    server {
        listen 127.0.0.1:9503;
        proxy_http_version 1.1;
        proxy_set_header Connection "";

        location /plain/ {
            proxy_pass http://mock/openai/;
        }

        location /stream/ {
            proxy_buffering off;
            proxy_pass http://mock/stream-openai/;
        }
    }
}
CONF

cleanup() {
    local p

    for p in mock gateway; do
        [ -f "$dir/$p/nginx.pid" ] && kill "$(cat "$dir/$p/nginx.pid")" \
            2>/dev/null || true
    done
}
trap cleanup EXIT INT TERM

"$nginx" -p "$dir/mock/" -c nginx.conf
"$nginx" -p "$dir/gateway/" -c nginx.conf
sleep 0.5

# the zone's totals: requests and successes over the providers
totals() {
    curl -s http://127.0.0.1:9502/status | node -e '
        const s = JSON.parse(require("fs").readFileSync(0));
        let req = 0, ok = 0;
        for (const p of s.providers) { req += p.requests; ok += p.successes; }
        console.log(req, ok, s.since);'
}

read -r zreq0 zok0 since0 <<< "$(totals)"

# $1: target name, $2: port, $3: 0 or 1 (streamed), $4: retries; reloads
# every second while the clients run; the client's JSON and the number of
# reloads go to $dir/$1-$3-$4.*
phase() {
    local client reloads=0

    URL=http://127.0.0.1:$2/$([ "$3" = 1 ] && echo stream || echo plain)/v1/chat/completions \
    STREAM=$3 RETRY=$4 DURATION=$duration CONCURRENCY=$concurrency \
        node "$top/bench/reload-client.mjs" > "$dir/$1-$3-$4.json" &
    client=$!

    sleep 1

    while kill -0 $client 2>/dev/null; do
        "$nginx" -p "$dir/gateway/" -c nginx.conf -s reload 2>/dev/null
        reloads=$((reloads + 1))
        sleep 1
    done

    wait $client
    echo $reloads > "$dir/$1-$3-$4.reloads"

    # the old workers finish before the next phase
    sleep 2
}

for s in 0 1; do
    phase gateway 9502 $s 0
    phase proxy_pass 9503 $s 0
    phase gateway 9502 $s 2
done

read -r zreq1 zok1 since1 <<< "$(totals)"

# a table row from a client's JSON: $1 target, $2 streamed, $3 retries
row() {
    node -e '
        const [f, target, stream, retries, reloads] = process.argv.slice(1);
        const r = JSON.parse(require("fs").readFileSync(f));
        const e = Object.entries(r.errors).map(([k, v]) => k + " " + v)
                  .join(", ") || "-";
        const st = Object.entries(r.status).map(([k, v]) => k + " " + v)
                   .join(", ") || "-";
        const pct = (100 * r.failed / r.sent).toFixed(2);
        console.log(`| ${target} | ${stream === "1" ? "streamed" : "non-streamed"} ` +
                    `| ${retries} | ${reloads} | ${r.sent} | ${r.ok} | ` +
                    `${r.failed} (${pct}%) | ${r.failed_reused} / ` +
                    `${r.failed_new} | ${e} | ${r.retried} | ${st} | ` +
                    `${r.cut} | ${r.close} |`);' \
        "$dir/$1-$2-$3.json" "$1" "$2" "$3" "$(cat "$dir/$1-$2-$3.reloads")"
}

okgw=$(node -e '
    let n = 0;
    for (const f of process.argv.slice(1)) {
        n += JSON.parse(require("fs").readFileSync(f)).ok;
    }
    console.log(n);' "$dir"/gateway-*.json)

{
    echo "Reload under load: $concurrency keep-alive clients, ${duration}s" \
         "per row, nginx -s reload every second, $workers workers," \
         "$(nproc) cores, NGINX $("$nginx" -v 2>&1 | sed 's|.*/||')"
    echo
    echo "| target | answers | client retries | reloads | sent | ok | failed | failed on reused / new connection | errors | retried | other status | cut | Connection: close |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for s in 0 1; do
        row gateway $s 0
        row proxy_pass $s 0
        row gateway $s 2
    done
    echo
    echo "llm_zone: requests $((zreq1 - zreq0)), successes $((zok1 - zok0))" \
         "counted during the run, $okgw answered ok by the gateway;" \
         "counters since $since0 before, $since1 after"
} | tee "$report"

status=0

if [ "$since0" != "$since1" ] || [ $((zok1 - zok0)) -lt "$okgw" ]; then
    echo "FAIL: the zone's counters did not live through the reloads"
    status=1
fi

cut=$(node -e '
    let n = 0;
    for (const f of process.argv.slice(1)) {
        const r = JSON.parse(require("fs").readFileSync(f));
        n += r.cut + Object.values(r.status).reduce((a, b) => a + b, 0);
    }
    console.log(n);' "$dir"/gateway-*.json)

if [ "$cut" != 0 ]; then
    echo "FAIL: the gateway cut $cut answers or answered with an error"
    status=1
fi

exit $status
