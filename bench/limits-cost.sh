#!/bin/sh
#
# What a limit check costs: instructions of the whole NGINX process per
# request (callgrind), for plain proxy_pass, for the module without a
# limit, with one llm_limit (tokens) and with three (requests, tokens and
# spend), and with one tokens limit kept in Redis, on the same mock
# provider, with bench.sh's 1 KB OpenAI-format prompt.  A limit check is
# a key evaluated, a lookup in the zone's tree under its lock, a
# reservation, and a second lookup when the request ends, to settle it;
# in Redis, a script run by Redis to check and reserve, whose answer the
# request waits for, and a settlement sent without waiting.
#
# As bench/stats-cost.sh: one NGINX process (master_process off) under
# valgrind --tool=callgrind, started once per (case, count), N or 2N
# requests on one keep-alive connection (curl), stopped with SIGQUIT;
# instructions per request are (total(2N) - total(N)) / N, and the clock
# (ngx_time_update) is not counted.  The cases are servers of one
# configuration that differ only by their llm_limit directives.  After
# each run the zones' counters of llm_status are checked: every request
# checked and passed (none "unavailable": the Redis case was answered by
# Redis, whose key is there).
#
# Then what a check adds to latency: the same NGINX configuration without
# valgrind (one process), wrk -t1 -c32 for 10 s against no limit, the
# tokens limit in shared memory and the one in Redis, cases in turn, three
# rounds; the round with the median RPS of each case is reported.  The
# redis-server (port 9424) is started here, empty, nothing saved.
#
# Prints a markdown section; exits with 2 when the measurement failed.
#
# Usage: bench/limits-cost.sh   (make bench-limits; the module must be built)
#        REQUESTS=200 MODULE=path/to/module.so bench/limits-cost.sh
#        DURATION=10 ROUNDS=3 CONNECTIONS=32 bench/limits-cost.sh

set -e

top=$(cd "$(dirname "$0")/.." && pwd)
nginx=${NGINX:-/usr/sbin/nginx}
module=${MODULE:-$top/build/ngx_http_llm_router_module.so}
dir=$top/build/limits-cost
n=${REQUESTS:-200}
mock_port=9420
none_port=9421
one_port=9422
three_port=9423
redis_port=9424
redis_one_port=9425
duration=${DURATION:-10}
rounds=${ROUNDS:-3}
connections=${CONNECTIONS:-32}

# NGINX in the environment is, for nginx, a list of inherited sockets
unset NGINX

vg=
fail() {
    echo "limits-cost: $*" >&2
    [ -z "$vg" ] || kill "$vg" 2>/dev/null || true
    exit 2
}

[ -f "$module" ] || fail "no module at $module (make module)"
command -v valgrind > /dev/null || fail "valgrind is not installed"
command -v wrk > /dev/null || fail "wrk is not installed"
command -v redis-server > /dev/null \
    || fail "redis-server is not installed (scripts/deps.sh bench)"

rm -rf "$dir"
mkdir -p "$dir/mock/logs" "$dir/gateway/logs" "$dir/data" "$dir/runs" \
         "$dir/redis"

# the module may be rebuilt while we measure: ours is a copy
cp "$module" "$dir/module.so"

. "$top/bench/mock.sh"

mock_conf "$mock_port" > "$dir/mock/nginx.conf"

# a server of the gateway: port $1, its llm_limit directives $2
server() {
    cat <<CONF
    server {
        listen 127.0.0.1:$1;

        location /proxy/ {
            proxy_pass http://mock/openai/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        location /v1/ {
            llm_headers off;
            llm_route openai;
            $2
        }

        location = /status {
            llm_status;
        }
    }
CONF
}

cat > "$dir/gateway/nginx.conf" <<CONF
load_module $dir/module.so;
master_process off;
daemon off;
worker_processes 1;
error_log logs/error.log warn;
pid nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_buffer_size 256k;
    client_max_body_size 1m;
    keepalive_requests 1000000;

    llm_zone llm 1m;

    llm_limit_zone \$http_x_team zone=rpm:1m requests=1000000000/1h;
    llm_limit_zone \$http_x_team zone=tpm:1m tokens=1000000000000/1h;
    llm_limit_zone \$http_x_team zone=spend:1m spend=1000000/1d;

    # under valgrind an answer may take longer than the default 100 ms
    llm_limit_zone \$http_x_team zone=tpm_redis:1m tokens=1000000000000/1h
                   redis=127.0.0.1:$redis_port redis_timeout=1s;

    upstream mock { server 127.0.0.1:$mock_port; keepalive 64; }

    llm_provider openai {
        type openai; url http://127.0.0.1:$mock_port/openai/v1;
        model gpt-4o-mini; api_key off; keepalive 64; price 0.15 0.60;
    }

$(server $none_port)

$(server $one_port "llm_limit zone=tpm;")

$(server $three_port "llm_limit zone=rpm; llm_limit zone=tpm; llm_limit zone=spend;")

$(server $redis_one_port "llm_limit zone=tpm_redis;")
}
CONF

# the 1 KB prompt of bench.sh
text=$(head -c 1000 /dev/zero | tr '\0' 'x' | sed 's/x\{10\}/lorem ips /g')
printf '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You answer questions about web servers."},{"role":"user","content":"%s What is NGINX?"}],"max_tokens":200}' "$text" > "$dir/data/openai.json"

redis=
cleanup() {
    [ -z "$vg" ] || kill "$vg" 2>/dev/null || true
    [ -f "$dir/mock/nginx.pid" ] && kill "$(cat "$dir/mock/nginx.pid")" \
        2>/dev/null || true
    if [ -n "$redis" ]; then
        kill "$redis" 2>/dev/null || true
        wait "$redis" 2>/dev/null || true
    fi
}
trap cleanup EXIT INT TERM

"$nginx" -p "$dir/mock/" -c nginx.conf \
    || fail "the mock did not start (port $mock_port in use?)"

redis-server --port $redis_port --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$dir/redis" --logfile "$dir/redis/redis.log" &
redis=$!

i=0
until [ "$(redis-cli -p $redis_port ping 2>/dev/null)" = PONG ]; do
    kill -0 "$redis" 2>/dev/null && [ $i -lt 50 ] \
        || fail "redis-server did not start on $redis_port," \
                "see $dir/redis/redis.log"
    sleep 0.1
    i=$((i + 1))
done

# what callgrind counts: everything but the clock
collect="--toggle-collect=ngx_time_update --collect-atstart=yes"

# total: the instructions of a gateway process that served $4 requests to
# the URL $2$3, each checked $5 times by the limits; its files are
# $dir/runs/$1-$4.*
run() {
    out=$dir/runs/$1-$4
    pid=$dir/gateway/nginx.pid
    rm -f "$pid"

    valgrind --tool=callgrind $collect \
        --callgrind-out-file="$out.callgrind" \
        "$nginx" -p "$dir/gateway/" -c nginx.conf > "$out.log" 2>&1 &
    vg=$!

    # the pid file is written once the listening sockets are open
    i=0
    while [ ! -s "$pid" ]; do
        kill -0 "$vg" 2>/dev/null && [ $i -lt 600 ] \
            || fail "the gateway did not start, see $out.log"
        sleep 0.1
        i=$((i + 1))
    done

    i=0
    while [ $i -lt "$4" ]; do
        echo "url = \"$2$3\""
        i=$((i + 1))
    done > "$out.urls"

    curl -s -K "$out.urls" -H 'Content-Type: application/json' \
        -H 'Authorization: Bearer bench' -H 'X-Team: research' \
        -H 'Expect:' --data-binary @"$dir/data/openai.json" \
        -w '%{stderr}%{http_code}\n' 2> "$out.codes" > /dev/null || true

    curl -s "$2/status?format=prometheus" > "$out.status" || true

    kill -QUIT "$vg"
    wait "$vg" || true
    vg=

    ok=$(grep -c '^200$' "$out.codes" || true)
    [ "$ok" = "$4" ] || fail "$1: $ok of $4 requests answered 200," \
                             "see $out.codes and $dir/gateway/logs/error.log"

    passed=$(awk '/^llm_router_limit_requests_total\{/ \
                  && /result="passed"/ { s += $2 } END { print s + 0 }' \
                 "$out.status")
    [ "$passed" = $(($4 * $5)) ] || fail "$1: $(($4 * $5)) limit checks" \
        "expected, $passed counted, see $out.status"

    unavailable=$(awk '/^llm_router_limit_requests_total\{/ \
                       && /result="unavailable"/ { s += $2 }
                       END { print s + 0 }' "$out.status")
    [ "$unavailable" = 0 ] || fail "$1: $unavailable limit checks found" \
        "Redis unavailable, see $out.status and $dir/gateway/logs/error.log"

    total=$(awk '/^summary:/ { print $2 }' "$out.callgrind")
    [ -n "$total" ] || fail "$1: no callgrind summary, see $out.log"
}

# $1=instructions per request: the difference between 2N and N requests
# to the URL $2$3, checked $4 times each
per_request() {
    run "$1" "$2" "$3" "$n" "$4"
    a=$total
    run "$1" "$2" "$3" $((2 * n)) "$4"
    eval "$1=$(((total - a) / n))"
}

url=/v1/chat/completions

per_request proxy "http://127.0.0.1:$none_port" /proxy/chat/completions 0
per_request none "http://127.0.0.1:$none_port" $url 0
per_request one "http://127.0.0.1:$one_port" $url 1
per_request three "http://127.0.0.1:$three_port" $url 3
per_request redis1 "http://127.0.0.1:$redis_one_port" $url 1

[ -n "$(redis-cli -p $redis_port --scan --pattern 'llm:tpm_redis:*')" ] \
    || fail "redis: no key of the zone in Redis"

# CPU time of the process $1 so far, in clock ticks
ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# latency: the same configuration without valgrind; "rps p50_us p99_us
# errors cpu_us_per_request" of one wrk round against $1, the CPU time of
# the gateway's process
wrk_round() {
    t0=$(ticks "$vg")
    out=$(BODY=$dir/data/openai.json HEADERS="X-Team: research" \
          wrk -t1 -c"$connections" -d"${duration}s" --latency \
              -s "$top/bench/post.lua" "$1" 2>/dev/null)
    t1=$(ticks "$vg")
    echo "$out" | awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
        function us(v) {
            if (v ~ /us$/) return v + 0;
            if (v ~ /ms$/) return v * 1000;
            if (v ~ /s$/) return v * 1000000;
            return v;
        }
        / requests in / { n = $1 }
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = us($2) }
        /^ +99%/ { p99 = us($2) }
        /Non-2xx/ { bad += $NF }
        /Socket errors/ {
            for (i = 3; i <= NF; i++) {
                if ($i ~ /^[0-9]+,?$/) bad += $i + 0;
            }
        }
        END {
            printf "%.0f %.0f %.0f %d %.1f\n", rps, p50, p99, bad,
                   n ? t / hz * 1000000 / n : 0
        }'
}

pid=$dir/gateway/nginx.pid
rm -f "$pid"
"$nginx" -p "$dir/gateway/" -c nginx.conf > "$dir/runs/wrk.log" 2>&1 &
vg=$!

i=0
while [ ! -s "$pid" ]; do
    kill -0 "$vg" 2>/dev/null && [ $i -lt 100 ] \
        || fail "the gateway did not start, see $dir/runs/wrk.log"
    sleep 0.1
    i=$((i + 1))
done

for r in $(seq "$rounds"); do
    for c in none:$none_port shm:$one_port redis:$redis_one_port; do
        wrk_round "http://127.0.0.1:${c#*:}$url" >> "$dir/runs/wrk-${c%%:*}"
    done
done

curl -s "http://127.0.0.1:$none_port/status?format=prometheus" \
    > "$dir/runs/wrk.status" || true

kill -QUIT "$vg"
wait "$vg" || true
vg=

for c in none shm redis; do
    bad=$(awk '{ s += $4 } END { print s + 0 }' "$dir/runs/wrk-$c")
    [ "$bad" = 0 ] || fail "latency, $c: $bad errors or non-2xx answers," \
                           "see $dir/gateway/logs/error.log"
    # the round with the median RPS
    eval "lat_$c=\"$(sort -n "$dir/runs/wrk-$c" \
                    | awk -v n="$rounds" 'NR == int((n + 1) / 2)')\""
done

unavailable=$(awk '/^llm_router_limit_requests_total\{/ \
                   && /result="unavailable"/ { s += $2 }
                   END { print s + 0 }' "$dir/runs/wrk.status")
[ "$unavailable" = 0 ] || fail "latency: $unavailable limit checks found" \
    "Redis unavailable, see $dir/runs/wrk.status"

pct() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f %%", (a - b) * 100 / b }'
}

x() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'
}

echo "## Cost of limits: instructions per request of the whole NGINX process (callgrind, 1 KB prompt, shared memory and Redis)"
echo
echo "| case | instructions | - no limit | per limit | / no limit | x proxy_pass |"
echo "|---|--:|--:|--:|--:|--:|"
echo "| proxy_pass (baseline) | $proxy | | | | 1.000 |"
echo "| module, no limit | $none | | | | $(x "$none" "$proxy") |"
echo "| module, 1 limit (tokens) | $one | $((one - none)) | $((one - none)) | $(pct "$one" "$none") | $(x "$one" "$proxy") |"
echo "| module, 3 limits (requests, tokens, spend) | $three | $((three - none)) | $(((three - none) / 3)) | $(pct "$three" "$none") | $(x "$three" "$proxy") |"
echo "| module, 1 limit in Redis (tokens) | $redis1 | $((redis1 - none)) | $((redis1 - none)) | $(pct "$redis1" "$none") | $(x "$redis1" "$proxy") |"
echo
echo "Each limit: its key (a request header) evaluated, a lookup in the" \
     "zone's tree under its lock to check and reserve, and one to settle" \
     "when the request ends; one key, so no eviction.  The first limit" \
     "also pays for the request's reservation list and for finding the" \
     "provider whose price estimates the spend.  One NGINX" \
     "process (master_process off) under valgrind, $n and $((2 * n))" \
     "requests on one keep-alive connection, per request the difference" \
     "over $n; the clock (ngx_time_update) is not counted."
echo
echo "A limit in Redis: the key's SHA-1, the script's command written to" \
     "Redis and its answer read (the request waits for it), and the" \
     "settlement's command, whose answer updates the instance's view; the work of" \
     "redis-server and of the kernel is not counted."

ms() {
    awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }'
}

# $1: "rps p50 p99 errors cpu" of a case; a row of the latency table
row() {
    set -- "$1" $2
    echo "| $1 | $2 | $(ms "$3") | $(ms "$4") | $6 |"
}

echo
echo "## Latency of a limit check (wrk -t1 -c$connections, ${duration} s, 1 KB prompt; cases in turn, median of $rounds rounds; one NGINX process)"
echo
echo "| case | RPS | p50 ms | p99 ms | CPU µs / request |"
echo "|---|--:|--:|--:|--:|"
row "module, no limit" "$lat_none"
row "module, 1 limit in shared memory (tokens)" "$lat_shm"
row "module, 1 limit in Redis (tokens)" "$lat_redis"
echo
echo "The same NGINX configuration as above without valgrind, one process" \
     "(master_process off), its mock provider and redis-server on the" \
     "same machine; every answer a 200 and no check found Redis" \
     "unavailable.  CPU: user and system time of the NGINX process over" \
     "the round (the kernel's work for the connection to Redis included)," \
     "divided by its requests.  The machine's other load moves RPS and" \
     "latency between runs more than CPU per request."
