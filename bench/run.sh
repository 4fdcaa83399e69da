#!/bin/sh
#
# Throughput and latency of the gateway against plain NGINX proxy_pass to
# the same mock provider, measured in the same run with wrk: one NGINX
# worker for the gateway (or the proxy), the mocks in their own NGINX.
#
# Usage: bench/run.sh              (make bench does the set-up)
#        ROUNDS=3 DURATION=5 CONNECTIONS=32 bench/run.sh

set -e

top=$(cd "$(dirname "$0")/.." && pwd)
nginx=${NGINX:-/usr/sbin/nginx}
module=${MODULE:-$top/build/ngx_http_llm_router_module.so}
dir=$top/build/bench
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
connections=${CONNECTIONS:-32}

rm -rf "$dir"
mkdir -p "$dir/mock/logs" "$dir/gateway/logs"

answer_openai='{"id":"chatcmpl-b","object":"chat.completion","created":1767225600,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"NGINX is a web server that can also be used as a reverse proxy, load balancer, mail proxy and HTTP cache. It was created by Igor Sysoev and first released in 2004. It is known for its high performance, stability, rich feature set, simple configuration and low resource consumption, which make it a good fit for the edge of a service.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":250,"completion_tokens":80,"total_tokens":330}}'
answer_anthropic='{"id":"msg_b","type":"message","role":"assistant","model":"claude-b","content":[{"type":"text","text":"NGINX is a web server that can also be used as a reverse proxy, load balancer, mail proxy and HTTP cache. It was created by Igor Sysoev and first released in 2004. It is known for its high performance, stability, rich feature set, simple configuration and low resource consumption, which make it a good fit for the edge of a service."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":250,"output_tokens":80}}'
answer_gemini='{"candidates":[{"content":{"role":"model","parts":[{"text":"NGINX is a web server that can also be used as a reverse proxy, load balancer, mail proxy and HTTP cache. It was created by Igor Sysoev and first released in 2004. It is known for its high performance, stability, rich feature set, simple configuration and low resource consumption, which make it a good fit for the edge of a service."}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":250,"candidatesTokenCount":80,"totalTokenCount":330},"modelVersion":"gemini-b","responseId":"g-b"}'
answer_cohere='{"id":"c-b","message":{"role":"assistant","content":[{"type":"text","text":"NGINX is a web server that can also be used as a reverse proxy, load balancer, mail proxy and HTTP cache. It was created by Igor Sysoev and first released in 2004. It is known for its high performance, stability, rich feature set, simple configuration and low resource consumption, which make it a good fit for the edge of a service."}]},"finish_reason":"COMPLETE","usage":{"billed_units":{"input_tokens":250,"output_tokens":80}}}'

cat > "$dir/mock/nginx.conf" <<CONF
worker_processes 1;
error_log logs/error.log warn;
pid nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/json;
    client_body_buffer_size 256k;
    client_max_body_size 1m;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:9401;
        location /openai/ { return 200 '$answer_openai'; }
        location /anthropic/ { return 200 '$answer_anthropic'; }
        location /gemini/ { return 200 '$answer_gemini'; }
        location /cohere/ { return 200 '$answer_cohere'; }
    }
}
CONF

cat > "$dir/gateway/nginx.conf" <<CONF
load_module $module;
worker_processes 1;
error_log logs/error.log warn;
pid nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_buffer_size 256k;
    client_max_body_size 1m;
    keepalive_requests 100000;

    upstream mock { server 127.0.0.1:9401; keepalive 64; }

    llm_provider openai    { type openai;    url http://127.0.0.1:9401/openai/v1;    model gpt-4o-mini; api_key off; keepalive 64; }
    llm_provider mistral   { type mistral;   url http://127.0.0.1:9401/openai/v1;    model mistral-b;   api_key off; keepalive 64; }
    llm_provider anthropic { type anthropic; url http://127.0.0.1:9401/anthropic/v1; model claude-b;    api_key off; keepalive 64; }
    llm_provider gemini    { type gemini;    url http://127.0.0.1:9401/gemini/v1beta; model gemini-b;   api_key off; keepalive 64; }
    llm_provider cohere    { type cohere;    url http://127.0.0.1:9401/cohere/v2;    model command-b;   api_key off; keepalive 64; }

    server {
        listen 127.0.0.1:9400;

        location /proxy/ {
            proxy_pass http://mock/openai/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        location /v1/ {
            llm_headers off;
            llm_route openai mistral anthropic gemini cohere;
        }
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

# request bodies: a ~1 KB prompt and a ~100 KB one (a RAG-sized context)

body() {
    model=$1
    size=$2
    text=$(head -c "$size" /dev/zero | tr '\0' 'x' | sed 's/x\{10\}/lorem ips /g')
    printf '{"model":"%s","messages":[{"role":"system","content":"You answer questions about web servers."},{"role":"user","content":"%s What is NGINX?"}],"max_tokens":200}' "$model" "$text"
}

# $1: name, $2: URL, $3: body file; prints "rps p50 p99" (median round)
measure() {
    for i in $(seq 1 "$rounds"); do
        BODY=$3 wrk -t1 -c"$connections" -d"${duration}s" --latency \
            -s "$top/bench/post.lua" "$2" 2>/dev/null \
        | awk '/Requests\/sec/ { rps = $2 }
               /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
               /Non-2xx/ { bad = $NF }
               END { print rps, p50, p99, bad + 0 }'
    done | sort -n | awk -v n="$rounds" 'NR == int((n + 1) / 2)'
}

printf '%-34s %10s %9s %9s %7s %6s\n' case RPS p50 p99 ratio errors

row() {
    set -- "$1" $2
    printf '%-34s %10s %9s %9s %7s %6s\n' "$1" "$2" "$3" "$4" \
        "$(awk -v a="$2" -v b="$base" 'BEGIN { printf "%.2f", a / b }')" "$5"
}

for size in 1000 100000; do
    for m in openai mistral anthropic gemini cohere; do
        body "$m" "$size" > "$dir/$m-$size.json"
    done

    label=$( [ "$size" = 1000 ] && echo "1 KB prompt" || echo "100 KB prompt" )

    r=$(measure proxy http://127.0.0.1:9400/proxy/chat/completions "$dir/openai-$size.json")
    base=$(echo "$r" | awk '{ print $1 }')
    row "proxy_pass (baseline), $label" "$r"

    for m in openai mistral anthropic gemini cohere; do
        r=$(measure "$m" http://127.0.0.1:9400/v1/chat/completions "$dir/$m-$size.json")
        row "module -> $m, $label" "$r"
    done
done

echo
echo "machine: $(nproc) cores, $(awk '/model name/ { $1 = $2 = $3 = ""; print; exit }' /proc/cpuinfo | sed 's/^ *//');" \
     "wrk -t1 -c$connections -d${duration}s, median of $rounds rounds; one NGINX worker each"
