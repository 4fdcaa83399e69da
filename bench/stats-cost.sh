#!/bin/sh
#
# What counting statistics in the llm_zone costs: instructions of the
# whole NGINX process per request (callgrind), for plain proxy_pass and
# for the module with "llm_stats on" (the default) and "llm_stats off", on
# the same mock provider, with bench.sh's 1 KB OpenAI-format prompt.
#
# The gateway is one NGINX process (master_process off) under
# valgrind --tool=callgrind; it is started once per (case, count), gets
# N or 2N requests on one keep-alive connection (curl), and is stopped
# with SIGQUIT.  Instructions per request are (total(2N) - total(N)) / N:
# start, first requests (connections, pools) and exit cancel out.  The
# clock (ngx_time_update) is not counted: about 160 instructions per
# request, the same in every case, but each second boundary a run crosses
# adds ~6,700 of formatting, which would make the count depend on time.
#
# Stats on and off are two servers of the same configuration that differ
# only by "llm_stats off;" in the gateway location: same URI, same
# location tree.  After each run the counters of llm_status are checked:
# N successes counted with stats on, none with stats off.
#
# Prints a markdown section (bench.sh appends it to its report); exits
# with 1 when the passthrough request costs more than LIMIT percent more
# instructions with statistics on than off, with 2 when the measurement
# failed.
#
# Usage: bench/stats-cost.sh   (make bench-stats; the module must be built)
#        REQUESTS=200 LIMIT=2 MODULE=path/to/module.so bench/stats-cost.sh

set -e

top=$(cd "$(dirname "$0")/.." && pwd)
nginx=${NGINX:-/usr/sbin/nginx}
module=${MODULE:-$top/build/ngx_http_llm_router_module.so}
dir=$top/build/stats-cost
n=${REQUESTS:-200}
limit=${LIMIT:-2}
mock_port=9410
on_port=9411
off_port=9412

# NGINX in the environment is, for nginx, a list of inherited sockets
unset NGINX

vg=
fail() {
    echo "stats-cost: $*" >&2
    [ -z "$vg" ] || kill "$vg" 2>/dev/null || true
    exit 2
}

[ -f "$module" ] || fail "no module at $module (make module)"
command -v valgrind > /dev/null || fail "valgrind is not installed"

rm -rf "$dir"
mkdir -p "$dir/mock/logs" "$dir/gateway/logs" "$dir/data" "$dir/runs"

# the module may be rebuilt while we measure: ours is a copy
cp "$module" "$dir/module.so"

. "$top/bench/mock.sh"

mock_conf "$mock_port" > "$dir/mock/nginx.conf"

provider() {
    echo "llm_provider $1 { type $2; url http://127.0.0.1:$mock_port/$3; model $4; api_key off; keepalive 64; }"
}

# a server of the gateway: port $1, extra directive $2 in its location
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
            llm_route openai anthropic;
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

    upstream mock { server 127.0.0.1:$mock_port; keepalive 64; }

    $(provider openai openai openai/v1 gpt-4o-mini)
    $(provider anthropic anthropic anthropic/v1 claude-b)

$(server $on_port)

$(server $off_port "llm_stats off;")
}
CONF

# the 1 KB prompt of bench.sh; the model names the provider to pin
body() {
    text=$(head -c "$2" /dev/zero | tr '\0' 'x' | sed 's/x\{10\}/lorem ips /g')
    printf '{"model":"%s","messages":[{"role":"system","content":"You answer questions about web servers."},{"role":"user","content":"%s What is NGINX?"}],"max_tokens":200}' "$1" "$text"
}

body openai 1000 > "$dir/data/openai.json"
body anthropic 1000 > "$dir/data/anthropic.json"

cleanup() {
    [ -z "$vg" ] || kill "$vg" 2>/dev/null || true
    [ -f "$dir/mock/nginx.pid" ] && kill "$(cat "$dir/mock/nginx.pid")" \
        2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$nginx" -p "$dir/mock/" -c nginx.conf \
    || fail "the mock did not start (port $mock_port in use?)"

# NGINX as users run it: no malloc tuning in the environment

# what callgrind counts: everything but the clock
collect="--toggle-collect=ngx_time_update --collect-atstart=yes"

# total: the instructions of a gateway process that served $6 requests of
# the body $4 to the URL $2$3, and counted $5 successes of the provider
# named in the body; its files are $dir/runs/$1-$6.*
run() {
    out=$dir/runs/$1-$6
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
    while [ $i -lt "$6" ]; do
        echo "url = \"$2$3\""
        i=$((i + 1))
    done > "$out.urls"

    curl -s -K "$out.urls" -H 'Content-Type: application/json' \
        -H 'Authorization: Bearer bench' -H 'Expect:' \
        --data-binary @"$4" -w '%{stderr}%{http_code}\n' \
        2> "$out.codes" > /dev/null || true

    curl -s "$2/status?format=prometheus" > "$out.status" || true

    kill -QUIT "$vg"
    wait "$vg" || true
    vg=

    ok=$(grep -c '^200$' "$out.codes" || true)
    [ "$ok" = "$6" ] || fail "$1: $ok of $6 requests answered 200," \
                             "see $out.codes and $dir/gateway/logs/error.log"

    model=$(sed 's/^{"model":"\([^"]*\)".*/\1/' "$4")
    counted=$(awk -v p="provider=\"$model\"" '
        /^llm_router_requests_total\{/ && index($0, p) \
            && /outcome="success"/ { print $2 }' "$out.status")
    [ "${counted:-0}" = "$5" ] || fail "$1: $5 successes expected in" \
        "the llm_zone, ${counted:-none} counted, see $out.status"

    total=$(awk '/^summary:/ { print $2 }' "$out.callgrind")
    [ -n "$total" ] || fail "$1: no callgrind summary, see $out.log"
}

# $1=instructions per request: the difference between 2N and N requests
# to the URL $2$3 with the body $4; $5 successes counted per request
per_request() {
    run "$1" "$2" "$3" "$4" $(($5 * n)) "$n"
    a=$total
    run "$1" "$2" "$3" "$4" $(($5 * 2 * n)) $((2 * n))
    eval "$1=$(((total - a) / n))"
}

on=http://127.0.0.1:$on_port
off=http://127.0.0.1:$off_port
url=/v1/chat/completions

per_request proxy "$on" /proxy/chat/completions "$dir/data/openai.json" 0
per_request openai_off "$off" $url "$dir/data/openai.json" 0
per_request openai_on "$on" $url "$dir/data/openai.json" 1
per_request anthropic_off "$off" $url "$dir/data/anthropic.json" 0
per_request anthropic_on "$on" $url "$dir/data/anthropic.json" 1

# only the usage scan of the relayed answer, which does not depend on
# llm_stats (the variables and the prompt log use what it finds)
collect="--toggle-collect=llm_scan_feed --toggle-collect=llm_scan_finish"
collect="$collect --collect-atstart=no"
per_request scan "$off" $url "$dir/data/openai.json" 0

pct() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f %%", (a - b) * 100 / b }'
}

x() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'
}

echo "## Cost of statistics: instructions per request of the whole NGINX process (callgrind, 1 KB prompt)"
echo
echo "| case | llm_stats off | llm_stats on | on - off | on / off | off x proxy_pass | on x proxy_pass |"
echo "|---|--:|--:|--:|--:|--:|--:|"
echo "| proxy_pass (baseline) | $proxy | | | | 1.000 | |"

for m in openai anthropic; do
    kind=translated
    [ "$m" = openai ] && kind=passthrough

    eval "i_off=\$${m}_off i_on=\$${m}_on"
    echo "| module -> $m ($kind) | $i_off | $i_on | $((i_on - i_off)) | $(pct "$i_on" "$i_off") | $(x "$i_off" "$proxy") | $(x "$i_on" "$proxy") |"
done

echo
echo "In both columns of the passthrough request: the scan of the relayed" \
     "answer for its usage (llm_scan_feed, llm_scan_finish), which" \
     "llm_stats off does not turn off: $scan instructions," \
     "$(awk -v a="$scan" -v b="$openai_off" \
            'BEGIN { printf "%.0f", a * 100 / b }') % of the request," \
     "$(x "$scan" "$proxy") x a whole proxy_pass request."
echo
echo "One NGINX process (master_process off) under valgrind, $n and" \
     "$((2 * n)) requests on one keep-alive connection, per request the" \
     "difference over $n; the clock (ngx_time_update) is not counted." \
     "\"x proxy_pass\": the module's instructions over proxy_pass's."

over=$(awk -v a="$openai_on" -v b="$openai_off" -v l="$limit" \
           'BEGIN { print ((a - b) * 100 > l * b) ? 1 : 0 }')

# self instructions per request of each function of the run $1: "name count"
functions() {
    for k in "$n" $((2 * n)); do
        callgrind_annotate --auto=no --threshold=100 \
            "$dir/runs/$1-$k.callgrind" 2>/dev/null \
        | awk -v k="$k" '
            /^ *[0-9,]+ +\(/ && !/PROGRAM TOTALS/ {
                v = $1; gsub(",", "", v)
                f = $0; sub(/ \[.*$/, "", f); sub(/.*:/, "", f)
                print k, f, v
            }'
    done | awk -v n="$n" '
        $1 == n { a[$2] += $3 } $1 != n { b[$2] += $3; a[$2] += 0 }
        END { for (f in a) printf "%s %.0f\n", f, (b[f] - a[f]) / n }'
}

if [ "$over" = 1 ]; then
    echo
    echo "**Statistics cost more than $limit % on the passthrough request:" \
         "$(pct "$openai_on" "$openai_off").**  Where (instructions per" \
         "request, on - off, of the functions that differ most):"
    echo
    echo "| function | on | off | on - off |"
    echo "|---|--:|--:|--:|"
    functions openai_on | sort > "$dir/functions-on"
    functions openai_off | sort > "$dir/functions-off"
    join -a 1 -a 2 -e 0 -o 0,1.2,2.2 "$dir/functions-on" \
        "$dir/functions-off" \
    | awk '{ d = $2 - $3; print (d < 0 ? -d : d), $1, $2, $3, d }' \
    | sort -rn | head -12 \
    | awk '$1 >= 10 { printf "| %s | %s | %s | %+d |\n", $2, $3, $4, $5 }'
    exit 1
fi
