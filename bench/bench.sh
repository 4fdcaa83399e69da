#!/bin/sh
#
# make bench: the gateway against plain NGINX proxy_pass and the Portkey
# gateway, on the same mock providers, in one run; prints one report and
# keeps it in build/bench/report.md.
#
#   throughput   wrk (closed loop) against WORKERS NGINX workers (1):
#                proxy_pass to
#                the mock (the ceiling for anything built on NGINX), the
#                module for each provider type, Portkey; 1 KB and 100 KB
#                prompts; median of ROUNDS rounds.  The headline is a stock
#                NGINX in its default environment; with TUNED=1 (default)
#                a second gateway with glibc's heap kept (MALLOC_TRIM_/
#                MMAP_THRESHOLD_) is measured in the same rounds, in two
#                more columns
#   latency      the same at one connection: what the module adds
#   streaming    bench/stream-client.c (libcurl): time to first token
#                (the first event with answer content) and inter-token
#                latency, through the gateway and straight to a paced
#                mock; worker memory with many open streams
#   cost         callgrind instruction counts per request of the
#                translation core (bench/cost.c): they do not drift; and
#                per stream event, translated and relayed (bench/streams/)
#   cache        a hit of llm_cache against a hit of proxy_cache on the
#                same answer: RPS, CPU, and the latency at one connection
#   embeddings   96 inputs, 1024 dimensions (a ~1 MB answer): relayed,
#                translated (Cohere, Gemini) and converted to base64,
#                against proxy_pass relaying the same vectors
#   statistics   instructions of the whole worker per request with
#                llm_stats on and off (bench/stats-cost.sh)
#   limits       instructions of the whole worker per request without a
#                limit, with one and with three (bench/limits-cost.sh)
#
# Usage: bench/bench.sh   (make bench installs what it needs and builds)
#        ROUNDS=5 DURATION=5 CONNECTIONS=64 STREAMS=1000 TUNED=0 \
#            bench/bench.sh
#        WORKERS=2 CONNECTIONS=64 TUNED=0 PARTS=throughput bench/bench.sh
#                 (make bench-workers: the throughput part alone, with two
#                 gateway workers; their CPU is summed)
#        PARTS=memory bench/bench.sh   the memory per open stream alone
#        PARTS=cache bench/bench.sh    cache hits against proxy_cache alone
#                 (make bench-cache)
#        PARTS=embeddings bench/bench.sh   embeddings alone
#                 (make bench-embeddings)
#
# The gateway counts every request in an llm_zone (shared by its workers),
# as a gateway with statistics does.

set -e

top=$(cd "$(dirname "$0")/.." && pwd)
nginx=${NGINX:-/usr/sbin/nginx}
module=${MODULE:-$top/build/ngx_http_llm_router_module.so}
dir=$top/build/bench
rounds=${ROUNDS:-3}
duration=${DURATION:-3}
connections=${CONNECTIONS:-32}
streams=${STREAMS:-500}
tuned=${TUNED:-1}
workers=${WORKERS:-1}
parts=${PARTS:-all}
report=$dir/report.md

rm -rf "$dir"
mkdir -p "$dir/mock/logs" "$dir/gateway/logs" "$dir/tuned/logs" "$dir/data" \
         "$dir/cache-9400" "$dir/cache-9403"

cc -O2 -std=c99 -Wall -Wextra -Werror -o "$dir/stream-client" \
    "$top/bench/stream-client.c" -lcurl
cc -O2 -g -std=c99 -Wall -Wextra -Werror -I"$top/src/core" \
    -o "$dir/cost" "$top/bench/cost.c" "$top"/src/core/*.c -lcjson


# the mock providers: canned answers (~0.5 KB) and paced streams

. "$top/bench/mock.sh"

case "$parts" in
all|throughput|memory|cache|embeddings) ;;
*) echo "bench: PARTS is all, throughput, memory, cache or embeddings" >&2
   exit 2 ;;
esac

for t in openai anthropic gemini cohere; do
    eval "printf '%s' \"\$answer_$t\"" > "$dir/data/answer-$t.json"
done
cp "$dir/data/answer-openai.json" "$dir/data/answer-mistral.json"

# embeddings: 96 vectors of 1024 dimensions, the same numbers in OpenAI's
# shape and in Cohere's and Gemini's, served as files by the mock

awk 'BEGIN {
    srand(7);
    for (i = 0; i < 96; i++) {
        v = "";
        for (k = 0; k < 1024; k++) {
            v = v (k ? "," : "") sprintf("%.9f", rand() * 0.2 - 0.1);
        }
        print v;
    }
}' > "$dir/data/vectors"

mkdir -p "$dir/data/files"

awk 'BEGIN { printf "{\"object\":\"list\",\"data\":[" }
     { printf "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":[%s]}", (NR > 1 ? "," : ""), NR - 1, $0 }
     END { printf "],\"model\":\"text-embedding-3-small\",\"usage\":{\"prompt_tokens\":2400,\"total_tokens\":2400}}" }' \
    "$dir/data/vectors" > "$dir/data/files/embed-openai.json"

awk 'BEGIN { printf "{\"id\":\"e-b\",\"embeddings\":{\"float\":[" }
     { printf "%s[%s]", (NR > 1 ? "," : ""), $0 }
     END { printf "]},\"meta\":{\"api_version\":{\"version\":\"2\"},\"billed_units\":{\"input_tokens\":2400}},\"response_type\":\"embeddings_by_type\"}" }' \
    "$dir/data/vectors" > "$dir/data/files/embed-cohere.json"

awk 'BEGIN { printf "{\"embeddings\":[" }
     { printf "%s{\"values\":[%s]}", (NR > 1 ? "," : ""), $0 }
     END { printf "]}" }' \
    "$dir/data/vectors" > "$dir/data/files/embed-gemini.json"

# 96 inputs of ~100 bytes
embed_body() {
    awk -v m="$1" -v f="$2" 'BEGIN {
        printf "{\"model\":\"%s\",\"input\":[", m;
        for (i = 0; i < 96; i++) {
            printf "%s\"Passage %d: NGINX is a web server that can also be used as a reverse proxy and a cache.\"", (i ? "," : ""), i;
        }
        printf "]%s}", (f ? ",\"encoding_format\":\"base64\"" : "");
    }'
}

for m in openai mistral cohere gemini; do
    embed_body "embed-$m" "" > "$dir/data/embed-$m.json"
    embed_body "embed-$m" 1 > "$dir/data/embed-$m-b64.json"
done

MOCK_FILES=$dir/data/files mock_conf 9401 > "$dir/mock/nginx.conf"

provider() {
    echo "llm_provider $1 { type $2; url http://127.0.0.1:9401/$3; model $4; api_key off; keepalive 64; }"
}

# $1: the port; the gateway (9400) and the tuned one (9403) differ by it
gateway_conf() {
cat <<CONF
load_module $module;
worker_processes $workers;
error_log logs/error.log warn;
pid nginx.pid;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_buffer_size 256k;
    client_max_body_size 1m;
    keepalive_requests 1000000;

    upstream mock { server 127.0.0.1:9401; keepalive 64; }

    proxy_cache_path $dir/cache-$1/proxy keys_zone=proxy_answers:1m;
    llm_cache_path $dir/cache-$1/llm keys_zone=llm_answers:1m;

    llm_zone llm 1m;

    $(provider openai openai openai/v1 gpt-4o-mini)
    $(provider mistral mistral openai/v1 mistral-b)
    $(provider anthropic anthropic anthropic/v1 claude-b)
    $(provider gemini gemini gemini/v1beta gemini-b)
    $(provider cohere cohere cohere/v2 command-b)
    $(provider stream-openai openai stream-openai/v1 gpt-4o-mini)
    $(provider stream-anthropic anthropic stream-anthropic/v1 claude-b)
    $(provider stream-short anthropic stream-short/v1 claude-b)
    $(provider stream-long anthropic stream-long/v1 claude-b)
    $(provider embed-openai openai embed-openai/v1 text-embedding-3-small)
    $(provider embed-mistral mistral embed-openai/v1 mistral-embed)
    $(provider embed-cohere cohere embed-cohere/v2 embed-v4.0)
    $(provider embed-gemini gemini embed-gemini/v1beta gemini-embedding-001)

    server {
        listen 127.0.0.1:$1;

        location /proxy/ {
            proxy_pass http://mock/openai/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        location /proxy-stream/ {
            proxy_pass http://mock/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }

        location /proxy-cache/ {
            proxy_pass http://mock/openai/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache proxy_answers;
            proxy_cache_methods POST;
            proxy_cache_key \$request_uri\$request_body;
            proxy_cache_valid 200 1h;
        }

        location /proxy-embed/ {
            proxy_pass http://mock/embed-openai/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        location /embed/ {
            llm_headers off;
            llm_max_response_size 8m;
            llm_route embed-openai embed-mistral embed-cohere embed-gemini;
        }

        location /cached/ {
            llm_headers off;
            llm_cache llm_answers;
            llm_route openai;
        }

        location /v1/ {
            llm_headers off;
            llm_route openai mistral anthropic gemini cohere stream-openai
                      stream-anthropic stream-short stream-long;
        }
    }
}
CONF
}

gateway_conf 9400 > "$dir/gateway/nginx.conf"
gateway_conf 9403 > "$dir/tuned/nginx.conf"

pids=
cleanup() {
    for p in mock gateway tuned; do
        [ -f "$dir/$p/nginx.pid" ] && kill "$(cat "$dir/$p/nginx.pid")" \
            2>/dev/null || true
    done
    [ -z "$pids" ] || kill $pids 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# The mock and the headline gateway run as a stock NGINX does, in the
# default environment.  glibc hands freed heap memory back to the kernel
# and faults it in again for the next large request: with 100 KB bodies
# that page-fault traffic can decide the numbers (0.2x to 0.9x from run
# to run, for proxy_pass as for the module), so a second gateway keeps its
# heap, for the columns "tuned heap".
unset MALLOC_TRIM_THRESHOLD_ MALLOC_MMAP_THRESHOLD_

"$nginx" -p "$dir/mock/" -c nginx.conf
"$nginx" -p "$dir/gateway/" -c nginx.conf

if [ "$tuned" = 1 ]; then
    MALLOC_TRIM_THRESHOLD_=67108864 MALLOC_MMAP_THRESHOLD_=4194304 \
        "$nginx" -p "$dir/tuned/" -c nginx.conf
fi

if [ "$parts" = all ]; then
    node "$top/bench/portkey/node_modules/@portkey-ai/gateway/build/start-server.js" \
        --headless --port=9402 > "$dir/portkey.log" 2>&1 &
    pids=$!

    for i in $(seq 1 50); do
        curl -s -o /dev/null http://127.0.0.1:9402/ 2>/dev/null && break
        sleep 0.2
    done

    if ! kill -0 "$pids" 2>/dev/null; then
        echo "bench: Portkey did not start, see $dir/portkey.log" >&2
        exit 1
    fi
fi

# the workers of a master (all of them: their CPU is summed), once started
workers_of() {
    for i in $(seq 1 100); do
        w=$(pgrep -P "$(cat "$1/nginx.pid")" | tr '\n' ' ')
        [ "$(echo $w | wc -w)" = "$workers" ] && break
        sleep 0.1
    done
    echo $w
}

worker=$(workers_of "$dir/gateway")
[ "$tuned" = 1 ] && worker_tuned=$(workers_of "$dir/tuned")
portkey=$pids


# request bodies: a ~1 KB prompt and a ~100 KB one (a RAG-sized context);
# the model names the provider to pin

body() {
    text=$(head -c "$2" /dev/zero | tr '\0' 'x' | sed 's/x\{10\}/lorem ips /g')
    printf '{"model":"%s","messages":[{"role":"system","content":"You answer questions about web servers."},{"role":"user","content":"%s What is NGINX?"}],"max_tokens":200}' "$1" "$text"
}

for size in 1000 100000; do
    for m in openai mistral anthropic gemini cohere; do
        body "$m" "$size" > "$dir/data/$m-$size.json"
    done
    body claude-b "$size" > "$dir/data/portkey-anthropic-$size.json"
done

for m in openai anthropic; do
    printf '{"model":"stream-%s","stream":true,"messages":[{"role":"user","content":"Hi"}]}' \
        "$m" > "$dir/data/stream-$m.json"
done

for n in short long; do
    printf '{"model":"stream-%s","stream":true,"messages":[{"role":"user","content":"Hi"}]}' \
        "$n" > "$dir/data/stream-$n.json"
done


# CPU seconds (in ticks) of processes so far, summed
ticks() {
    for p in $1; do
        cat "/proc/$p/stat"
    done | awk '{ t += $14 + $15 } END { print t + 0 }'
}

# wrk, one round: "rps p50_us p99_us errors cpu_us_per_request"
# $1 URL, $2 body file, $3 connections, $4 processes to charge (a list),
# $5 headers
wrk_round() {
    t0=$(ticks "$4")
    out=$(BODY=$2 HEADERS=$5 wrk -t1 -c"$3" -d"${duration}s" --latency \
              -s "$top/bench/post.lua" "$1" 2>/dev/null)
    t1=$(ticks "$4")
    echo "$out" | awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" '
        function us(v) {
            if (v ~ /us$/) return v + 0;
            if (v ~ /ms$/) return v * 1000;
            if (v ~ /s$/) return v * 1000000;
            return v;
        }
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
            printf "%.0f %.0f %.0f %d %.0f\n", rps, p50, p99, bad,
                   rps ? t / hz * 1000000 / (rps * '"$duration"') : 0
        }'
}

# the round with the median RPS
measure() {
    for i in $(seq 1 "$rounds"); do
        wrk_round "$@"
    done | sort -n | awk -v n="$rounds" 'NR == int((n + 1) / 2)'
}

ms() {
    awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }'
}

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'
}

exec 3>&1
exec > "$report"

cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)

echo "# make bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "Machine: $(nproc) vCPU ($cpu), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo);" \
     "nginx $("$nginx" -v 2>&1 | sed 's|.*/||'), node $(node --version)."
echo "Load generator, mock, gateway and Portkey share the machine."
echo "Gateway: $workers worker process(es), requests counted in an llm_zone."
echo


# the streaming client: one line of JSON; a percentile pair from it

stream() {
    "$dir/stream-client" "$1" "$2" "$3" "$4"
}

field() {
    echo "$1" | sed "s/.*\"$2\":{\"p50\":\([0-9]*\),\"p90\":[0-9]*,\"p99\":\([0-9]*\).*/\1 \2/"
}

# the RSS of the gateway's workers, summed
rss() {
    for p in $worker; do
        cat "/proc/$p/status"
    done | awk '/VmRSS/ { n += $2 } END { print n + 0 }'
}

# new gateway workers, so that memory is measured from a clean start
fresh_worker() {
    old=" $worker "
    "$nginx" -p "$dir/gateway/" -c nginx.conf -s reload

    for i in $(seq 1 100); do
        worker=$(pgrep -P "$(cat "$dir/gateway/nginx.pid")" | tr '\n' ' ' \
                 || true)
        new=0
        for p in $worker; do
            case "$old" in *" $p "*) new=-1000 ;; *) new=$((new + 1)) ;; esac
        done
        [ "$new" = "$workers" ] && break
        sleep 0.1
    done

    # warm: the first requests allocate what every request reuses
    stream http://127.0.0.1:9400/v1/chat/completions 10 10 \
        "$dir/data/stream-short.json" > /dev/null
}

if [ "$parts" = all ] || [ "$parts" = memory ]; then
    echo "## Memory: $streams concurrent streams (Anthropic -> OpenAI translation, one delta every 10 ms, $workers worker(s))"
    echo
    echo "| answer | worker RSS before KiB | peak KiB | per open stream KiB | failed |"
    echo "|---|--:|--:|--:|--:|"

    for n in short long; do
        fresh_worker
        before=$(rss)
        peak=$before

        stream http://127.0.0.1:9400/v1/chat/completions "$streams" "$streams" \
            "$dir/data/stream-$n.json" > "$dir/memory-$n.json" &
        client=$!

        while kill -0 $client 2>/dev/null; do
            r=$(rss)
            [ "$r" -gt "$peak" ] && peak=$r
            sleep 0.05
        done

        wait $client || true
        out=$(cat "$dir/memory-$n.json")
        deltas=100
        [ "$n" = long ] && deltas=1000
        echo "| $deltas deltas | $before | $peak | $(awk -v a="$before" -v b="$peak" -v n="$streams" 'BEGIN { printf "%.1f", (b - a) / n }') | $(echo "$out" | sed 's/.*"failed":\([0-9]*\).*/\1/') |"
    done
fi


# the response cache: a hit of llm_cache against a hit of proxy_cache on
# the same answer (the mock's, relayed as it is, ~0.5 KB), for a 1 KB
# request; at -c1, the latency a hit adds

median() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

if [ "$parts" = all ] || [ "$parts" = cache ]; then
    echo
    echo "## Response cache: hits, llm_cache against proxy_cache on the same answer (1 KB request; wrk -t1, ${duration} s; median of $rounds rounds)"
    echo
    echo "| case | connections | RPS | p50 ms | p99 ms | x proxy_cache | worker CPU us/req | errors |"
    echo "|---|--:|--:|--:|--:|--:|--:|--:|"

    for c in "$connections" 1; do
        for loc in proxy-cache cached; do
            curl -s -o /dev/null -H 'Content-Type: application/json' \
                 --data-binary @"$dir/data/openai-1000.json" \
                 "http://127.0.0.1:9400/$loc/chat/completions"
        done

        rm -f "$dir/proxy-cache.rounds" "$dir/cached.rounds" "$dir/cached.ratios"

        for i in $(seq 1 "$rounds"); do
            r=$(wrk_round http://127.0.0.1:9400/proxy-cache/chat/completions \
                          "$dir/data/openai-1000.json" "$c" "$worker")
            echo "$r" >> "$dir/proxy-cache.rounds"
            base=${r%% *}
            r=$(wrk_round http://127.0.0.1:9400/cached/chat/completions \
                          "$dir/data/openai-1000.json" "$c" "$worker")
            echo "$r" >> "$dir/cached.rounds"
            ratio "${r%% *}" "$base" >> "$dir/cached.ratios"
            echo >> "$dir/cached.ratios"
        done

        for loc in proxy-cache cached; do
            name="proxy_cache hit (baseline)"
            x=1.00
            if [ "$loc" = cached ]; then
                name="llm_cache hit"
                x=$(median < "$dir/cached.ratios")
            fi

            rps=$(awk '{ print $1 }' "$dir/$loc.rounds" | median)
            p50=$(awk '{ print $2 }' "$dir/$loc.rounds" | median)
            p99=$(awk '{ print $3 }' "$dir/$loc.rounds" | median)
            bad=$(awk '{ n += $4 } END { print n + 0 }' "$dir/$loc.rounds")
            cpu_us=$(awk '{ print $5 }' "$dir/$loc.rounds" | median)
            echo "| $name | $c | $rps | $(ms "$p50") | $(ms "$p99") | $x | $cpu_us | $bad |"
        done
    done
fi


# embeddings: 96 inputs of 1024 dimensions (~1 MB answers), the answer
# relayed or translated, against proxy_pass relaying OpenAI's form of the
# same vectors; cases in turn, ratios against the round's proxy_pass

if [ "$parts" = all ] || [ "$parts" = embeddings ]; then
    echo
    echo "## Embeddings: 96 inputs, 1024 dimensions (~1 MB answer; wrk -t1 -c$connections, ${duration} s; cases in turn, median of $rounds rounds)"
    echo
    echo "| case | RPS | p50 ms | p99 ms | x proxy_pass | worker CPU us/req | errors |"
    echo "|---|--:|--:|--:|--:|--:|--:|"

    ecases="proxy openai mistral-b64 cohere cohere-b64 gemini"

    for i in $(seq 1 "$rounds"); do
        for m in $ecases; do
            url=http://127.0.0.1:9400/embed/embeddings
            body=$dir/data/embed-$m.json

            if [ "$m" = proxy ]; then
                url=http://127.0.0.1:9400/proxy-embed/embeddings
                body=$dir/data/embed-openai.json
            fi

            r=$(wrk_round "$url" "$body" "$connections" "$worker")
            echo "$r" >> "$dir/embed-$m.rounds"

            [ "$m" = proxy ] && base=${r%% *}
            ratio "${r%% *}" "$base" >> "$dir/embed-$m.ratios"
            echo >> "$dir/embed-$m.ratios"
        done
    done

    for m in $ecases; do
        case $m in
        proxy)      name="proxy_pass (baseline)" ;;
        openai)     name="module -> openai (relayed)" ;;
        mistral-b64) name="module -> mistral, base64 (converted)" ;;
        cohere)     name="module -> cohere (translated)" ;;
        cohere-b64) name="module -> cohere, base64 (translated, converted)" ;;
        gemini)     name="module -> gemini (translated)" ;;
        esac

        rps=$(awk '{ print $1 }' "$dir/embed-$m.rounds" | median)
        p50=$(awk '{ print $2 }' "$dir/embed-$m.rounds" | median)
        p99=$(awk '{ print $3 }' "$dir/embed-$m.rounds" | median)
        bad=$(awk '{ n += $4 } END { print n + 0 }' "$dir/embed-$m.rounds")
        cpu_us=$(awk '{ print $5 }' "$dir/embed-$m.rounds" | median)
        x=$(median < "$dir/embed-$m.ratios")
        [ "$m" = proxy ] && x=1.00
        echo "| $name | $rps | $(ms "$p50") | $(ms "$p99") | $x | $cpu_us | $bad |"
    done
fi


# PARTS=memory, cache or embeddings: that is all

if [ "$parts" = memory ] || [ "$parts" = cache ] \
   || [ "$parts" = embeddings ]
then
    exec 1>&3
    cat "$report"
    exit 0
fi


# throughput: the cases take turns in every round, and each case's ratio
# is taken against the proxy_pass run of its own round, so that drift of
# the shared machine during the run touches all of them alike

# median of the numbers on stdin
median() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

echo
echo "## Throughput (wrk -t1 -c$connections, ${duration} s; cases in turn, median of $rounds rounds; $workers NGINX worker(s), CPU summed)"
echo
echo "NGINX in its default environment; \"tuned heap\": the same with"
echo "MALLOC_TRIM_THRESHOLD_=64 MiB and MALLOC_MMAP_THRESHOLD_=4 MiB."
echo
if [ "$tuned" = 1 ]; then
    echo "| case | prompt | RPS | p50 ms | p99 ms | x proxy_pass | worker CPU us/req | errors | x proxy_pass, tuned heap | CPU us/req, tuned heap |"
    echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"
else
    echo "| case | prompt | RPS | p50 ms | p99 ms | x proxy_pass | worker CPU us/req | errors |"
    echo "|---|---|--:|--:|--:|--:|--:|--:|"
fi

cases="proxy openai mistral anthropic gemini cohere"

for size in 1000 100000; do
    label=$( [ "$size" = 1000 ] && echo "1 KB" || echo "100 KB" )

    for i in $(seq 1 "$rounds"); do
        for m in $cases; do
            url=http://127.0.0.1:9400/v1/chat/completions
            body=$dir/data/$m-$size.json

            if [ "$m" = proxy ]; then
                url=http://127.0.0.1:9400/proxy/chat/completions
                body=$dir/data/openai-$size.json
            fi

            r=$(wrk_round "$url" "$body" "$connections" "$worker")
            echo "$r" >> "$dir/$m-$size.rounds"

            [ "$m" = proxy ] && base=${r%% *}
            ratio "${r%% *}" "$base" >> "$dir/$m-$size.ratios"
            echo >> "$dir/$m-$size.ratios"

            [ "$tuned" = 1 ] || continue

            r=$(wrk_round "$(echo "$url" | sed 's/:9400/:9403/')" "$body" \
                          "$connections" "$worker_tuned")
            echo "$r" >> "$dir/$m-$size.tuned"

            [ "$m" = proxy ] && tbase=${r%% *}
            ratio "${r%% *}" "$tbase" >> "$dir/$m-$size.tratios"
            echo >> "$dir/$m-$size.tratios"
        done
    done

    for m in $cases; do
        kind=translated
        [ "$m" = openai ] && kind=passthrough
        [ "$m" = mistral ] && kind="OpenAI-compatible"
        name="module -> $m ($kind)"
        [ "$m" = proxy ] && name="proxy_pass (baseline)"

        rps=$(awk '{ print $1 }' "$dir/$m-$size.rounds" | median)
        p50=$(awk '{ print $2 }' "$dir/$m-$size.rounds" | median)
        p99=$(awk '{ print $3 }' "$dir/$m-$size.rounds" | median)
        bad=$(awk '{ n += $4 } END { print n + 0 }' "$dir/$m-$size.rounds")
        cpu_us=$(awk '{ print $5 }' "$dir/$m-$size.rounds" | median)
        x=$(median < "$dir/$m-$size.ratios")

        eval "rps_${m}_$size=$rps"

        if [ "$tuned" = 1 ]; then
            tx=$(median < "$dir/$m-$size.tratios")
            tcpu=$(awk '{ print $5 }' "$dir/$m-$size.tuned" | median)
            tbad=$(awk '{ n += $4 } END { print n + 0 }' "$dir/$m-$size.tuned")
            [ "$tbad" = 0 ] || tcpu="$tcpu ($tbad errors)"
            echo "| $name | $label | $rps | $(ms "$p50") | $(ms "$p99") | $x | $cpu_us | $bad | $tx | $tcpu |"
        else
            echo "| $name | $label | $rps | $(ms "$p50") | $(ms "$p99") | $x | $cpu_us | $bad |"
        fi
    done
done

# PARTS=throughput: that is all

if [ "$parts" = throughput ]; then
    exec 1>&3
    cat "$report"
    exit 0
fi

echo
echo "## Portkey gateway 1.15.2 (node), same mock, same load"
echo
echo "| case | RPS | p50 ms | p99 ms | module x Portkey | Portkey CPU us/req | errors |"
echo "|---|--:|--:|--:|--:|--:|--:|"

pk_openai='x-portkey-provider: openai|x-portkey-custom-host: http://127.0.0.1:9401/openai/v1'
pk_anthropic='x-portkey-provider: anthropic|x-portkey-custom-host: http://127.0.0.1:9401/anthropic/v1|x-api-key: bench'

set -- $(measure http://127.0.0.1:9402/v1/chat/completions \
             "$dir/data/openai-1000.json" "$connections" "$portkey" "$pk_openai")
echo "| Portkey -> openai, 1 KB | $1 | $(ms "$2") | $(ms "$3") | $(ratio "$rps_openai_1000" "$1") | $5 | $4 |"

set -- $(measure http://127.0.0.1:9402/v1/chat/completions \
             "$dir/data/portkey-anthropic-1000.json" "$connections" "$portkey" "$pk_anthropic")
echo "| Portkey -> anthropic, 1 KB | $1 | $(ms "$2") | $(ms "$3") | $(ratio "$rps_anthropic_1000" "$1") | $5 | $4 |"


# latency at one connection

echo
echo "## Added latency at one connection (wrk -c1, 1 KB prompt, median of $rounds rounds)"
echo
echo "| case | p50 us | p99 us | added p50 us | added p99 us |"
echo "|---|--:|--:|--:|--:|"

set -- $(measure http://127.0.0.1:9400/proxy/chat/completions \
             "$dir/data/openai-1000.json" 1 "$worker")
p50=$2
p99=$3
echo "| proxy_pass (baseline) | $2 | $3 | 0 | 0 |"

for m in openai anthropic; do
    set -- $(measure http://127.0.0.1:9400/v1/chat/completions \
                 "$dir/data/$m-1000.json" 1 "$worker")
    echo "| module -> $m | $2 | $3 | $(($2 - p50)) | $(($3 - p99)) |"
done

set -- $(measure http://127.0.0.1:9402/v1/chat/completions \
             "$dir/data/openai-1000.json" 1 "$portkey" "$pk_openai")
echo "| Portkey -> openai | $2 | $3 | $(($2 - p50)) | $(($3 - p99)) |"


# streaming

echo
echo "## Streaming (bench/stream-client.c; the mock paces 20 deltas 2 ms apart; TTFT: to the first event with content)"
echo
echo "| case | streams x concurrency | TTFT p50 us | TTFT p99 us | ITL p50 us | ITL p99 us | failed |"
echo "|---|--:|--:|--:|--:|--:|--:|"

failed() {
    echo "$1" | sed 's/.*"failed":\([0-9]*\).*/\1/'
}

for load in "200 1" "1000 100"; do
    set -- $load
    n=$1
    c=$2

    for m in openai anthropic; do
        kind=passthrough
        [ "$m" = anthropic ] && kind=translated

        straight=$(stream "http://127.0.0.1:9401/stream-$m/v1/x" "$n" "$c" "$dir/data/stream-$m.json")
        proxied=$(stream "http://127.0.0.1:9400/proxy-stream/stream-$m/v1/x" "$n" "$c" "$dir/data/stream-$m.json")
        gateway=$(stream http://127.0.0.1:9400/v1/chat/completions "$n" "$c" "$dir/data/stream-$m.json")

        set -- $(field "$straight" ttft_us) $(field "$straight" itl_us)
        echo "| straight to the $m mock | $n x $c | $1 | $2 | $3 | $4 | $(failed "$straight") |"
        s50=$1
        s99=$2

        set -- $(field "$proxied" ttft_us) $(field "$proxied" itl_us)
        echo "| proxy_pass, buffering off -> $m mock | $n x $c | $1 | $2 | $3 | $4 | $(failed "$proxied") |"
        p50=$1
        p99=$2

        set -- $(field "$gateway" ttft_us) $(field "$gateway" itl_us)
        echo "| module -> $m ($kind) | $n x $c | $1 | $2 | $3 | $4 | $(failed "$gateway") |"
        eval "added_${m}_$c=\"$(($1 - p50)) $(($2 - p99)) $(($1 - s50)) $(($2 - s99))\""
    done
done

echo
echo "Added time to first token (p50 / p99, us), module minus proxy_pass (the"
echo "module's own cost) and module minus straight to the mock (with the"
echo "extra loopback hop any proxy adds):"
echo
for c in 1 100; do
    eval "set -- \$added_openai_$c"
    a="$1 / $2 (vs proxy_pass), $3 / $4 (vs straight)"
    eval "set -- \$added_anthropic_$c"
    echo "- concurrency $c: passthrough $a; translated $1 / $2, $3 / $4"
done


# instruction counts

# instructions of cost_measure() per call: the difference between N and
# 2N calls, so that one-time costs do not count
instructions() {
    for k in 10 20; do
        valgrind --tool=callgrind --toggle-collect=cost_measure \
            --callgrind-out-file="$dir/callgrind.out" \
            "$dir/cost" "$@" "$k" >/dev/null 2>&1
        awk '/^summary:/ { print $2 }' "$dir/callgrind.out"
    done | awk 'NR == 1 { a = $1 } NR == 2 { printf "%.0f", ($1 - a) / 10 }'
}

echo
echo "## Instructions per request, translation core (callgrind)"
echo
echo "| provider type | request 1 KB | request 100 KB | response 0.5 KB |"
echo "|---|--:|--:|--:|"

for m in openai mistral anthropic gemini cohere; do
    echo "| $m | $(instructions request "$m" "$dir/data/$m-1000.json") | $(instructions request "$m" "$dir/data/$m-100000.json") | $(instructions response "$m" "$dir/data/answer-$m.json") |"
done

echo
echo "Request: parse and check the client's body, build the provider's;" \
     "response: the provider's answer into an OpenAI chat.completion" \
     "(OpenAI and Mistral answers are relayed as they are)."


# a streamed answer per event: a provider's native stream (bench/streams/,
# 20 text deltas) through the look-ahead, the SSE framer, the stream
# decoder and the key masking, against relaying an OpenAI stream's bytes
# (the same work for OpenAI's own chunks)

echo
echo "## Instructions per stream event (callgrind)"
echo
echo "| stream | events | bytes | one read: per event | x relaying the same bytes | one read per event: per event | x relaying the same bytes |"
echo "|---|--:|--:|--:|--:|--:|--:|"

for t in openai anthropic gemini cohere; do
    f=$top/bench/streams/$t.sse
    events=$(grep -c '^data:' "$f")
    bytes=$(wc -c < "$f")
    one=$(instructions stream "$t" "$f")
    each=$(instructions stream-events "$t" "$f")

    if [ "$t" = openai ]; then
        relay_one=$(awk -v i="$one" -v b="$bytes" 'BEGIN { print i / b }')
        relay_each=$(awk -v i="$each" -v b="$bytes" 'BEGIN { print i / b }')
    fi

    awk -v e="$events" -v b="$bytes" -v o="$one" -v x="$each" \
        -v ro="$relay_one" -v rx="$relay_each" -v t="$t" 'BEGIN {
        printf "| %s | %d | %d | %.0f | %.2f | %.0f | %.2f |\n",
               t (t == "openai" ? " (relayed)" : " (translated)"), e, b,
               o / e, o / (ro * b), x / e, x / (rx * b)
    }'
done

echo
echo "The whole stream (20 text deltas, start and stop events) as the module" \
     "handles it, divided by its events; \"x relaying\": the count over" \
     "the OpenAI stream's instructions per byte times this stream's bytes."


# what the statistics in the llm_zone cost, in instructions of the whole
# worker (bench/stats-cost.sh, its own ports); fails the run when they
# cost the passthrough request more than 2 %

echo
stats=0
NGINX=$nginx MODULE=$module "$top/bench/stats-cost.sh" || stats=$?


# what a limit check costs, in the same instructions (bench/limits-cost.sh,
# its own ports)

echo
limits=0
NGINX=$nginx MODULE=$module "$top/bench/limits-cost.sh" || limits=$?

[ $stats != 0 ] || stats=$limits

exec 1>&3
cat "$report"
exit $stats
