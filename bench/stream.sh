#!/bin/sh
#
# Streaming measurements: time to first token through the gateway minus
# straight to the mock, and the gateway worker's memory with many
# concurrent streams, for short and long answers (memory must not grow
# with the length of the answer).
#
# Usage: bench/stream.sh           (make bench-stream does the set-up)

set -e

top=$(cd "$(dirname "$0")/.." && pwd)
nginx=${NGINX:-/usr/sbin/nginx}
module=${MODULE:-$top/build/ngx_http_llm_router_module.so}
echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so
dir=$top/build/bench-stream
streams=${STREAMS:-500}

rm -rf "$dir"
mkdir -p "$dir/mock/logs" "$dir/gateway/logs"

# an Anthropic-style stream of N text deltas, one every 2 ms
events() {
    n=$1
    echo "echo -n 'event: message_start\\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_b\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-b\",\"content\":[],\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\\n\\n'; echo_flush;"
    i=0
    while [ $i -lt "$n" ]; do
        echo "echo -n 'event: content_block_delta\\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" word\"}}\\n\\n'; echo_flush; echo_sleep 0.002;"
        i=$((i + 1))
    done
    echo "echo -n 'event: message_delta\\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":$n}}\\n\\nevent: message_stop\\ndata: {\"type\":\"message_stop\"}\\n\\n';"
}

{
    echo "load_module $echo_module;"
    echo "worker_processes 1; error_log logs/error.log warn; pid nginx.pid;"
    echo "events { worker_connections 4096; }"
    echo "http { access_log off; default_type text/event-stream;"
    echo "server { listen 127.0.0.1:9301;"
    echo "location = /short/v1/messages {"; events 200; echo "}"
    echo "location = /long/v1/messages {"; events 2000; echo "}"
    echo "}}"
} > "$dir/mock/nginx.conf"

cat > "$dir/gateway/nginx.conf" <<CONF
load_module $module;
worker_processes 1;
error_log logs/error.log warn;
pid nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    llm_provider short { type anthropic; url http://127.0.0.1:9301/short/v1; model claude-b; api_key off; keepalive 64; }
    llm_provider long  { type anthropic; url http://127.0.0.1:9301/long/v1;  model claude-b; api_key off; keepalive 64; }
    server {
        listen 127.0.0.1:9300;
        location /v1/ { llm_route short long; }
    }
}
CONF

"$nginx" -p "$dir/mock/" -c nginx.conf
"$nginx" -p "$dir/gateway/" -c nginx.conf

cleanup() {
    for p in mock gateway; do
        [ -f "$dir/$p/nginx.pid" ] && kill "$(cat "$dir/$p/nginx.pid")" \
            2>/dev/null || true
    done
}
trap cleanup EXIT

sleep 0.5

worker=$(pgrep -P "$(cat "$dir/gateway/nginx.pid")")
client="$top/bench/stream-client.mjs"
body='{"stream":true,"messages":[{"role":"user","content":"Hi"}]}'

rss() {
    awk '/VmRSS/ { print $2 }' "/proc/$worker/status"
}

# time to first token: one stream at a time, gateway and straight

ttft() {
    (cd "$top/tests/sdk" && URL=$1 STREAMS=1 BODY=$2 HEADERS=$3 node "$client")
}

for i in 1 2 3; do ttft http://127.0.0.1:9300/v1/chat/completions "$body" '{}' >/dev/null; done

g=$(for i in $(seq 1 30); do ttft http://127.0.0.1:9300/v1/chat/completions "$body" '{}'; done)
m=$(for i in $(seq 1 30); do ttft http://127.0.0.1:9301/short/v1/messages "$body" '{}'; done)

echo "$g" | node -e "
const g = require('fs').readFileSync(0, 'utf8').trim().split('\n').map(JSON.parse).map(r => r.ttft_p50).sort((a, b) => a - b);
const m = process.argv[1].trim().split('\n').map(JSON.parse).map(r => r.ttft_p50).sort((a, b) => a - b);
const p = (a, q) => a[Math.min(a.length - 1, Math.floor(q * a.length))];
console.log('time to first byte, 30 single streams (ms): gateway p50 ' + p(g, .5).toFixed(2) + ' p99 ' + p(g, .99).toFixed(2) + '; straight to the mock p50 ' + p(m, .5).toFixed(2) + ' p99 ' + p(m, .99).toFixed(2) + '; added p50 ' + (p(g, .5) - p(m, .5)).toFixed(2));
" "$m"

# memory: STREAMS concurrent streams, short then long answers

for kind in short long; do
    base=$(rss)
    peak=$base

    (cd "$top/tests/sdk" && URL=http://127.0.0.1:9300/v1/chat/completions \
        STREAMS=$streams BODY="{\"model\":\"$kind\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}" \
        node "$client") > "$dir/$kind.json" &
    pid=$!

    while kill -0 $pid 2>/dev/null; do
        r=$(rss)
        [ "$r" -gt "$peak" ] && peak=$r
        sleep 0.05
    done

    wait $pid
    echo "$kind answers: $(cat "$dir/$kind.json")"
    echo "  gateway worker RSS: $base KiB before, $peak KiB at peak," \
         "$(( (peak - base) * 1024 / streams )) bytes per open stream"
done
