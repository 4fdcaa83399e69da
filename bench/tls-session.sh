#!/bin/bash
#
# What TLS session reuse saves on new connections to a provider: the
# gateway and plain proxy_pass, each with session reuse on and off, against
# one HTTPS mock (1 worker each), with keep-alive to the mock off so that
# every request opens a new TLS connection.  wrk (closed loop) sends the
# requests; reported: requests per second, CPU per request of the gateway's
# worker and of the mock's, and the share of resumed handshakes (the mock
# logs $ssl_session_reused).  The targets run in turn in every round; the
# round with the median requests/s of each is shown.
#
#   mock         https://127.0.0.1:9511 (certificate for "localhost"
#                from the test CA of t/gen-certs.sh)
#   gateway      127.0.0.1:9512/{llm,proxy}-{on,off}/
#
# Usage: bench/tls-session.sh   (make bench-tls builds and makes the certs)
#        ROUNDS=3 DURATION=5 CONNECTIONS=8 bench/tls-session.sh

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
certs=${CERTS:-$top/build/certs}
dir=$top/build/tls-session
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
connections=${CONNECTIONS:-8}
report=$dir/report.md

rm -rf "$dir"
mkdir -p "$dir/mock/logs" "$dir/gateway/logs" "$dir/data"

. "$top/bench/mock.sh"

printf '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"%s"}]}' \
    "What is the capital of Norway?" > "$dir/data/body.json"

cat > "$dir/mock/nginx.conf" <<CONF
worker_processes 1;
error_log logs/error.log warn;
pid nginx.pid;
events { worker_connections 4096; }
http {
    log_format reuse "\$ssl_session_reused \$ssl_protocol";
    access_log logs/access.log reuse;
    default_type application/json;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:9511 ssl;
        ssl_certificate     $certs/localhost.crt;
        ssl_certificate_key $certs/localhost.key;
        ssl_protocols       TLSv1.2 TLSv1.3;
        location / { return 200 '$answer_openai'; }
    }
}
CONF

# $1: extra main-level directives
gateway_conf() {
    cat <<CONF
load_module $module;
$1
worker_processes 1;
error_log logs/error.log warn;
pid nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;

    llm_provider tls {
        type openai; url https://localhost:9511/openai; api_key off;
        keepalive 0;
    }

    llm_ssl_trusted_certificate $certs/ca.crt;

    upstream tls {
        server 127.0.0.1:9511;
    }

    server {
        listen 127.0.0.1:9512;
        llm_headers off;

        proxy_ssl_name localhost;
        proxy_ssl_server_name on;
        proxy_ssl_verify on;
        proxy_ssl_trusted_certificate $certs/ca.crt;

        # the module's protocols (NGINX before 1.23.4 offers no TLSv1.3
        # to upstreams by default: its TLS 1.2 resumption has no key
        # exchange, and would not compare like with like)
        proxy_ssl_protocols TLSv1.2 TLSv1.3;

        location /llm-on/ {
            rewrite ^/llm-on(/.*)\$ \$1 break;
            llm_ssl_session_reuse on;
            llm_route tls;
        }

        location /llm-off/ {
            rewrite ^/llm-off(/.*)\$ \$1 break;
            llm_ssl_session_reuse off;
            llm_route tls;
        }

        location /proxy-on/ {
            proxy_ssl_session_reuse on;
            proxy_pass https://tls/openai/;
        }

        location /proxy-off/ {
            proxy_ssl_session_reuse off;
            proxy_pass https://tls/openai/;
        }
    }
}
CONF
}

gateway_conf > "$dir/gateway/nginx.conf"

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

worker() {
    pgrep -P "$(cat "$dir/$1/nginx.pid")" | head -1
}

gw=$(worker gateway)
mk=$(worker mock)

ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# one round: "rps errors gateway_cpu_us mock_cpu_us resumed_percent"
round() {
    local g0 m0 g1 m1 l0 out

    l0=$(wc -l < "$dir/mock/logs/access.log")
    g0=$(ticks "$gw")
    m0=$(ticks "$mk")
    out=$(BODY=$dir/data/body.json wrk -t1 -c"$connections" \
              -d"${duration}s" -s "$top/bench/post.lua" \
              "http://127.0.0.1:9512/$1/v1/chat/completions" 2>/dev/null)
    g1=$(ticks "$gw")
    m1=$(ticks "$mk")

    resumed=$(tail -n +"$((l0 + 1))" "$dir/mock/logs/access.log" \
              | awk '{ n++; if ($1 == "r") r++; p = $2 }
                     END { printf "%.1f%%,%s", n ? 100 * r / n : 0, p }')

    echo "$out" | awk -v g="$((g1 - g0))" -v m="$((m1 - m0))" \
        -v hz="$(getconf CLK_TCK)" -v d="$duration" -v res="$resumed" '
        /Requests\/sec/ { rps = $2 }
        /Non-2xx/ { bad += $NF }
        /Socket errors/ {
            for (i = 3; i <= NF; i++) {
                if ($i ~ /^[0-9]+,?$/) bad += $i + 0;
            }
        }
        END {
            n = rps * d;
            printf "%.0f %d %.0f %.0f %s\n", rps, bad,
                   n ? g / hz * 1000000 / n : 0,
                   n ? m / hz * 1000000 / n : 0, res
        }'
}

# the rounds of the targets in turn, then the round with the median
# requests/s of each target
targets="llm-on llm-off proxy-on proxy-off"

for i in $(seq 1 "$rounds"); do
    for t in $targets; do
        round "$t" >> "$dir/$t.rounds"
    done
done

{
    echo "TLS to the provider, a new connection per request" \
         "(keep-alive off), $connections connections, ${duration}s," \
         "median of $rounds rounds; $(nproc) cores," \
         "$(openssl version | cut -d' ' -f1-2); RSA 2048 certificate"
    echo
    echo "| target | session reuse | requests/s | errors | gateway CPU µs/request | mock CPU µs/request | resumed | protocol |"
    echo "|---|---|---|---|---|---|---|---|"

    for t in $targets; do
        read -r rps bad g m res <<< "$(sort -n "$dir/$t.rounds" \
            | awk -v n="$rounds" 'NR == int((n + 1) / 2)')"
        name=gateway
        [ "${t%-*}" = proxy ] && name=proxy_pass
        echo "| $name | ${t#*-} | $rps | $bad | $g | $m | ${res%,*} | ${res#*,} |"
    done
} | tee "$report"

# Instructions per new connection, which do not drift with the machine: the
# gateway (one process, master_process off) under callgrind, REQUESTS and
# then 2 x REQUESTS sequential requests per target (curl, a new connection
# to the mock for each); (total(2n) - total(n)) / n, so that start-up and
# exit cancel out.  The whole process is counted: NGINX, the module,
# OpenSSL, libc.

n=${REQUESTS:-100}

# the gateway of the wrk rounds gives its port up
gpid=$(cat "$dir/gateway/nginx.pid")
kill -QUIT "$gpid"
while kill -0 "$gpid" 2>/dev/null; do
    sleep 0.1
done

mkdir -p "$dir/callgrind/logs"
gateway_conf "master_process off; daemon off;" > "$dir/callgrind/nginx.conf"

# $1 target, $2 requests: prints the instructions of the whole run
instructions() {
    local out=$dir/callgrind/$1-$2 vg i

    rm -f "$dir/callgrind/nginx.pid"
    valgrind --tool=callgrind --callgrind-out-file="$out.callgrind" \
        "$nginx" -p "$dir/callgrind/" -c nginx.conf > "$out.log" 2>&1 &
    vg=$!

    i=0
    while [ ! -s "$dir/callgrind/nginx.pid" ] && [ $i -lt 600 ]; do
        sleep 0.1
        i=$((i + 1))
    done

    for i in $(seq 1 "$2"); do
        echo "url = \"http://127.0.0.1:9512/$1/v1/chat/completions\""
    done > "$out.urls"

    curl -s -K "$out.urls" -H 'Content-Type: application/json' \
        --data-binary @"$dir/data/body.json" -w '%{stderr}%{http_code}\n' \
        2> "$out.codes" > /dev/null || true

    kill -QUIT "$vg"
    wait "$vg" || true

    if [ "$(grep -c '^200$' "$out.codes")" != "$2" ]; then
        echo "tls-session: $1: not every request answered 200" >&2
        exit 1
    fi

    awk '/^(summary|totals):/ { print $2; exit }' "$out.callgrind"
}

if command -v valgrind > /dev/null; then
    {
        echo
        echo "Instructions of the gateway process per request, a new TLS" \
             "connection each, callgrind ($n and $((2 * n)) requests):"
        echo
        echo "| target | session reuse | instructions/request | resumed |"
        echo "|---|---|--:|---|"

        for t in $targets; do
            l0=$(wc -l < "$dir/mock/logs/access.log")
            a=$(instructions "$t" "$n")
            b=$(instructions "$t" $((2 * n)))
            resumed=$(tail -n +"$((l0 + 1))" "$dir/mock/logs/access.log" \
                      | awk '{ k++; if ($1 == "r") r++ }
                             END { printf "%.1f%%", k ? 100 * r / k : 0 }')
            name=gateway
            [ "${t%-*}" = proxy ] && name=proxy_pass
            echo "| $name | ${t#*-} | $(( (b - a) / n )) | $resumed |"
        done
    } | tee -a "$report"
fi
