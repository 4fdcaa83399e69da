#!/bin/sh
#
# Fault test: while 10,000 requests run against the gateway, the primary
# provider (a separate NGINX process) is killed, then restarted.  The
# clients must see no error, and the dead provider must get no more than
# max_fails attempts per fail_timeout window (plus the probes).
#
# Usage: bench/failover.sh            (make bench-failover does the set-up)

set -e

top=$(cd "$(dirname "$0")/.." && pwd)
nginx=${NGINX:-/usr/sbin/nginx}
module=${MODULE:-$top/build/ngx_http_llm_router_module.so}
dir=$top/build/failover
max_fails=3
fail_timeout=2

rm -rf "$dir"
mkdir -p "$dir/primary/logs" "$dir/gateway/logs"

cat > "$dir/primary/nginx.conf" <<CONF
worker_processes 1;
error_log logs/error.log notice;
pid nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 127.0.0.1:9201;
        default_type application/json;
        location / {
            return 200 '{"id":"chatcmpl-p","object":"chat.completion","created":1767225600,"model":"primary","choices":[{"index":0,"message":{"role":"assistant","content":"primary"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}';
        }
    }
}
CONF

cat > "$dir/gateway/nginx.conf" <<CONF
load_module $module;
worker_processes 2;
error_log logs/error.log info;
pid nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    llm_zone llm 1m;

    llm_provider primary {
        type          openai;
        url           http://127.0.0.1:9201/v1;
        api_key       off;
        max_fails     $max_fails;
        fail_timeout  ${fail_timeout}s;
    }

    llm_provider backup {
        type     openai;
        url      http://127.0.0.1:9202/v1;
        api_key  off;
    }

    server {
        listen 127.0.0.1:9202;
        default_type application/json;
        location / {
            return 200 '{"id":"chatcmpl-b","object":"chat.completion","created":1767225600,"model":"backup","choices":[{"index":0,"message":{"role":"assistant","content":"backup"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}';
        }
    }

    server {
        listen 127.0.0.1:8090;
        location /v1/ {
            llm_connect_timeout 1s;
            llm_route primary backup;
        }
    }
}
CONF

"$nginx" -p "$dir/primary/" -c nginx.conf
"$nginx" -p "$dir/gateway/" -c nginx.conf

cleanup() {
    for p in primary gateway; do
        [ -f "$dir/$p/nginx.pid" ] && kill "$(cat "$dir/$p/nginx.pid")" \
            2>/dev/null || true
    done
}
trap cleanup EXIT

sleep 0.5

# the load runs in the background; the primary dies after 2,000 requests
# and comes back after 6,000

(cd "$top/tests/sdk" && \
 KILL_CMD="kill -9 \$(cat $dir/primary/nginx.pid) \$(pgrep -P \$(cat $dir/primary/nginx.pid)); rm -f $dir/primary/nginx.pid" \
 RESTART_CMD="sleep 0; $nginx -p $dir/primary/ -c nginx.conf" \
 node "$top/bench/failover-client.mjs") > "$dir/client.json"

# attempts that reached the dead provider, per fail_timeout window
attempts=$(grep -c 'connect() failed (111: Connection refused) while connecting to upstream.*9201' \
           "$dir/gateway/logs/error.log" || true)

windows=$(grep 'connect() failed (111: Connection refused) while connecting to upstream.*9201' \
          "$dir/gateway/logs/error.log" \
          | awk -v w=$fail_timeout '{ split($2, t, ":"); s = t[1]*3600 + t[2]*60 + t[3]; print int(s / w) }' \
          | sort | uniq -c | awk '{ print $1 }' | sort -n | tail -1)

out=$(grep -c 'llm: provider "primary" is out of rotation' "$dir/gateway/logs/error.log" || true)
back=$(grep -c 'llm: provider "primary" is back in rotation' "$dir/gateway/logs/error.log" || true)
probes=$(grep -c 'llm: provider "primary" is half-open' "$dir/gateway/logs/error.log" || true)

echo "client:   $(cat "$dir/client.json")"
echo "primary:  $attempts refused attempts while down, at most ${windows:-0} in one ${fail_timeout}s window"
echo "          (max_fails $max_fails); out of rotation $out times, probed $probes times, back $back times"

errors=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$dir/client.json')).errors)")

if [ "$errors" != 0 ]; then
    echo "FAIL: the clients saw $errors errors"
    exit 1
fi

echo "OK: no client saw an error"
