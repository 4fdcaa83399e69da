#!/bin/bash
#
# The Redis form of llm_limit_zone, with two NGINX instances (A on
# 127.0.0.1:9441, B on 9442) sharing one redis-server (9440) started
# here, and a mock provider (9443):
#
#   a. one budget for both: clients hammering A and B at once get exactly
#      40 answers of a requests=40/1h zone, and Redis's key holds 40; a
#      tokens zone is passed by at most what the requests in flight use;
#   b. the refusal is a 429 with an OpenAI-style body and Retry-After;
#   c. Redis's keys are llm:<zone>:<kind>:<SHA-1 of the key>:<window
#      start>, expire at the window's end, and the client's key (an X-Team
#      value, a Bearer key) is in no key or value;
#   d. Redis stopped: A (redis_fail=allow, the default) answers, B
#      (redis_fail=deny) answers 503 limit_unavailable, each at once; the
#      zone's "unavailable" counter rises;
#   f. Redis started again, empty: after the back-off the counting
#      resumes and a fresh budget is enforced;
#   e. Redis frozen (SIGSTOP): the same through redis_timeout;
#   h. a provider's limit in Redis: each instance decides on its view of
#      the count, which Redis's replies keep up; the next provider answers
#      once the view is full;
#   i. redis_password=: a second redis-server that requires one; the
#      instance with the right password counts there, the one with a wrong
#      one takes redis_fail; no password in any log;
#   j. SCRIPT FLUSH: the script is loaded again on the next connection;
#   k. redis_ssl=on: a third redis-server that speaks TLS only; A, with
#      the right name and CA, counts there, B, expecting another name,
#      refuses its certificate and takes redis_fail;
#   g. nginx -t refuses bad redis=, redis_timeout= and redis_fail= values.
#
# No timing is asserted; curl's --max-time is a guard against a request
# that hangs, and a request that hits it fails the test.  Everything
# started here is stopped on exit.
#
# Usage: tests/limits-redis/run.sh MODULE.so [NGINX]
#        (as everything that listens on fixed ports, under
#        flock /tmp/llm-ports.lock)

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

module=${1:?usage: run.sh MODULE.so [NGINX]}
nginx=${2:-/usr/sbin/nginx}

case $module in
/*) ;;
*) module=$(pwd)/$module ;;
esac

command -v redis-server > /dev/null && command -v redis-cli > /dev/null || {
    echo "tests/limits-redis: redis-server and redis-cli are needed" \
         "(scripts/deps.sh test)"
    exit 1
}

top=$(cd "$(dirname "$0")/../.." && pwd)
prefix=$top/build/limits-redis-test
redis_port=9440
a_port=9441
b_port=9442
mock_port=9443
auth_port=9444
tls_port=9445
certs=$top/build/certs

[ -f "$certs/localhost.crt" ] || {
    echo "tests/limits-redis: the tests' certificates are needed (make certs)"
    exit 1
}

# the clients' keys: neither may reach Redis in clear
team=team-7f3a91c4e2-research
bearer=sk-gw-4b8e0d2c7a19f536

# the mock's usage: every answer is 50 tokens
real_tokens=50
token_limit=1000

rm -rf "$prefix"
mkdir -p "$prefix/a/logs" "$prefix/b/logs" "$prefix/mock/logs" \
         "$prefix/check/logs" "$prefix/out"

redis_dir=$(mktemp -d /tmp/llm-limits-redis.XXXXXX)
redis_pid=
auth_pid=
tls_pid=
monitor_pid=

# the password of the second Redis; B is given a wrong one
password=pw-5d0c9e2b71a4f8e3
printf '%s\n' "$password" > "$prefix/a/redis.pw"
printf '%s\n' "pw-wrong-0b1c2d3e" > "$prefix/b/redis.pw"

cat > "$prefix/mock/nginx.conf" <<CONF
worker_processes 1;
error_log $prefix/mock/logs/error.log warn;
pid $prefix/mock/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$mock_port;
        location = /v1/chat/completions {
            default_type application/json;
            return 200 '{"id":"chatcmpl-l","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":30,"total_tokens":$real_tokens}}';
        }
    }
}
CONF

# $1: the instance (a or b), $2: its port, $3: the Redis parameters of its
# zones after redis= (A: the defaults, redis_fail=allow; B: deny)
gateway_conf() {
    local redis="redis=127.0.0.1:$redis_port $3"

    cat <<CONF
load_module $module;
worker_processes 1;
error_log $prefix/$1/logs/error.log info;
pid $prefix/$1/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    llm_zone llm 1m;

    map \$http_x_team \$team {
        default  "";
        ~^team-  \$http_x_team;
    }

    llm_limit_zone \$team zone=shared_rpm:1m requests=40/1h $redis;
    llm_limit_zone \$http_authorization zone=shared_tpm:1m
                   tokens=$token_limit/1h $redis;
    llm_limit_zone \$team zone=avail:1m requests=5/1h $redis;
    llm_limit_zone \$llm_provider zone=prov:1m requests=3/1h $redis;
    llm_limit_zone \$team zone=authed:1m requests=2/1h
                   redis=127.0.0.1:$auth_port
                   redis_password=file:$prefix/$1/redis.pw $3;
    llm_limit_zone \$team zone=tls:1m requests=2/1h
                   redis=127.0.0.1:$tls_port redis_ssl=on
                   redis_ssl_name=$4
                   redis_ssl_trusted_certificate=$certs/ca.crt $3;

    llm_provider mock {
        type     openai;
        url      http://127.0.0.1:$mock_port/v1;
        api_key  off;
    }

    llm_provider capped {
        type     openai;
        url      http://127.0.0.1:$mock_port/v1;
        api_key  off;
        limit    prov;
    }

    llm_provider spare {
        type     openai;
        url      http://127.0.0.1:$mock_port/v1;
        api_key  off;
    }

    server {
        listen 127.0.0.1:$2;

        location /rpm/ {
            llm_limit zone=shared_rpm;
            llm_route mock;
        }

        location /tpm/ {
            llm_limit zone=shared_tpm;
            llm_route mock;
        }

        location /avail/ {
            llm_limit zone=avail;
            llm_route mock;
        }

        location /prov/ {
            llm_route capped spare;
        }

        location /authed/ {
            llm_limit zone=authed;
            llm_route mock;
        }

        location /tls/ {
            llm_limit zone=tls;
            llm_route mock;
        }

        location = /status {
            llm_status;
        }
    }
}
CONF
}

gateway_conf a $a_port "" localhost > "$prefix/a/nginx.conf"
gateway_conf b $b_port "redis_timeout=200ms redis_fail=deny" wrongname \
    > "$prefix/b/nginx.conf"

# $1: the directory of an NGINX started here
stop_nginx() {
    local pid

    pid=$(cat "$1/nginx.pid" 2>/dev/null) || return 0
    kill -QUIT "$pid" 2>/dev/null || return 0

    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done

    kill -KILL "$pid" 2>/dev/null || true
}

stop_redis() {
    [ -n "$redis_pid" ] || return 0
    kill -CONT "$redis_pid" 2>/dev/null || true
    kill -TERM "$redis_pid" 2>/dev/null || true

    for _ in $(seq 50); do
        kill -0 "$redis_pid" 2>/dev/null || break
        sleep 0.1
    done

    kill -KILL "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=
}

cleanup() {
    [ -z "$monitor_pid" ] || kill "$monitor_pid" 2>/dev/null || true
    [ -z "$auth_pid" ] || kill -TERM "$auth_pid" 2>/dev/null || true
    [ -z "$tls_pid" ] || kill -TERM "$tls_pid" 2>/dev/null || true
    stop_nginx "$prefix/a"
    stop_nginx "$prefix/b"
    stop_nginx "$prefix/mock"
    stop_redis
    rm -rf "$redis_dir"
}

trap cleanup EXIT

# an empty Redis, no configuration file, nothing saved
start_redis() {
    redis-server --port $redis_port --bind 127.0.0.1 --save '' \
        --appendonly no --dir "$redis_dir" \
        --logfile "$redis_dir/redis.log" &
    redis_pid=$!

    for _ in $(seq 50); do
        [ "$(rcli ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done

    echo "tests/limits-redis: redis-server did not start on $redis_port"
    cat "$redis_dir/redis.log"
    exit 1
}

rcli() {
    redis-cli -p $redis_port "$@"
}

fails=0

check() {
    if [ "$2" = 0 ]; then
        echo "ok: $1"
    else
        echo "not ok: $1"
        [ -z "$3" ] || echo "$3" | head -40
        fails=$((fails + 1))
    fi
}

body='{"model":"m","messages":[{"role":"user","content":"hi"}]}'

# $1: port, $2: location; more curl arguments may follow; prints the
# answer's headers and body, or "curl: timed out" when --max-time was hit
ask() {
    local port=$1 loc=$2 rc

    shift 2
    curl -s -i --max-time 5 -H 'Content-Type: application/json' \
        -H "X-Team: $team" -H "Authorization: Bearer $bearer" "$@" \
        -d "$body" "http://127.0.0.1:$port/$loc/chat/completions"
    rc=$?
    [ $rc != 28 ] || echo "curl: timed out"
    [ $rc = 0 ] || [ $rc = 28 ] || echo "curl: exit $rc"
}

# the status code of an answer printed by ask
code() {
    echo "$1" | awk 'NR == 1 { print $2 }'
}

# $1: port, $2: location, $3: file; asks until the first answer that is
# not a 200, writing each status code (000 and "timeout" for a failed or
# hung request) to the file; at most 200 requests
hammer() {
    local c

    for _ in $(seq 200); do
        c=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' \
                -H 'Content-Type: application/json' -H "X-Team: $team" \
                -H "Authorization: Bearer $bearer" -d "$body" \
                "http://127.0.0.1:$1/$2/chat/completions")
        [ $? != 28 ] || c=timeout
        echo "$c" >> "$3"
        [ "$c" = 200 ] || break
    done
}

# $1: port, $2: zone, $3: counter; the counter of the zone in the
# instance's status JSON (empty when it is not there)
counter() {
    curl -s --max-time 5 "http://127.0.0.1:$1/status?format=json" \
    | grep -o "{\"zone\":\"$2\"[^}]*}" \
    | grep -o "\"$3\":[0-9]*" | cut -d: -f2
}

# $1: port, $2: location; asks (60 times at most, 0.2 s apart) while the
# answer is $4, until it is $3: 0 then, 1 otherwise; the last answer is
# in $out
await_code() {
    local c

    for _ in $(seq 60); do
        out=$(ask "$1" "$2")
        c=$(code "$out")
        [ "$c" = "$3" ] && return 0
        [ "$c" = "$4" ] || return 1
        sleep 0.2
    done

    return 1
}

# an OpenAI-style error body with the code $2 in the answer $1
openai_error() {
    echo "$1" | tail -1 \
    | grep -qE '^\{"error":\{"message":"([^"\\]|\\.)+","type":"[a-z_]+","param":null,"code":"'"$2"'"\}\}$'
}

sha1() {
    printf '%s' "$1" | sha1sum | cut -c1-40
}

# the windows are fixed hours: a run that crossed one would see two
# budgets; a run started less than 90 s before one waits for it
now=$(date +%s)
left=$((3600 - now % 3600))
if [ $left -lt 90 ]; then
    echo "# waiting ${left}s for the next hour's window"
    sleep $((left + 1))
fi

start_redis

redis-server --port $auth_port --bind 127.0.0.1 --save '' --appendonly no \
    --requirepass "$password" --dir "$redis_dir" \
    --logfile "$redis_dir/redis-auth.log" &
auth_pid=$!

for _ in $(seq 50); do
    redis-cli -p $auth_port ping 2>/dev/null | grep -q NOAUTH && break
    sleep 0.1
done

# TLS only, with the tests' certificate for "localhost"
redis-server --port 0 --tls-port $tls_port --bind 127.0.0.1 --save '' \
    --appendonly no --tls-cert-file "$certs/localhost.crt" \
    --tls-key-file "$certs/localhost.key" --tls-ca-cert-file "$certs/ca.crt" \
    --tls-auth-clients no --dir "$redis_dir" \
    --logfile "$redis_dir/redis-tls.log" &
tls_pid=$!

tcli() {
    redis-cli -p $tls_port --tls --cacert "$certs/ca.crt" --sni localhost "$@"
}

for _ in $(seq 50); do
    [ "$(tcli ping 2>/dev/null)" = PONG ] && break
    sleep 0.1
done

"$nginx" -p "$prefix/mock" -c "$prefix/mock/nginx.conf"
"$nginx" -p "$prefix/a" -c "$prefix/a/nginx.conf"
"$nginx" -p "$prefix/b" -c "$prefix/b/nginx.conf"

set +e

# every command Redis gets, to look for the client's keys in them
rcli monitor > "$prefix/out/monitor.log" 2>&1 &
monitor_pid=$!

# ---- a. one budget for both instances ----------------------------------

out=$(ask $a_port rpm)
[ "$(code "$out")" = 200 ]
check "a: A answers through a Redis limit" $? "$out"
out=$(ask $b_port rpm)
[ "$(code "$out")" = 200 ]
check "a: B answers through a Redis limit" $? "$out"

# four clients on each instance at once, each until its first refusal
pids=
for i in 1 2 3 4; do
    hammer $a_port rpm "$prefix/out/rpm-a$i" &
    pids="$pids $!"
    hammer $b_port rpm "$prefix/out/rpm-b$i" &
    pids="$pids $!"
done
wait $pids

codes=$(cat "$prefix/out"/rpm-*)
ok_a=$(cat "$prefix/out"/rpm-a* | grep -cx 200)
ok_b=$(cat "$prefix/out"/rpm-b* | grep -cx 200)
others=$(echo "$codes" | grep -vxE '200|429' | sort | uniq -c)

[ -z "$others" ]
check "a: every request answered 200 or 429, none hung" $? "$others"

# the two of the first checks, and what the clients got
total=$((ok_a + ok_b + 2))
[ $total = 40 ]
check "a: 40 requests passed over both instances (A $((ok_a + 1)), B $((ok_b + 1)))" \
      $? "$total passed"

now=$(date +%s)
wstart=$((now / 3600 * 3600))
rpm_key=llm:shared_rpm:requests:$(sha1 "$team"):$wstart
tpm_key=llm:shared_tpm:tokens:$(sha1 "Bearer $bearer"):$wstart

v=$(rcli get "$rpm_key")
[ "$v" = 40 ]
check "a: Redis's key $rpm_key holds 40" $? \
      "$(rcli get "$rpm_key"; rcli --scan)"

# tokens: one client per instance.  A request passes when count +
# estimate <= limit; its estimate (its prompt's tokens) becomes its real
# usage (50) when it ends.  With one request in flight per instance, the
# last to pass leaves count <= limit, and only the two in flight then add
# to it: used <= limit + 2 x 50.  A refusal sees count + estimate > limit,
# and the count only grows after it: used > limit - 50.
hammer $a_port tpm "$prefix/out/tpm-a" &
pids=$!
hammer $b_port tpm "$prefix/out/tpm-b" &
wait $pids $!

others=$(cat "$prefix/out"/tpm-* | grep -vxE '200|429' | sort | uniq -c)
[ -z "$others" ]
check "a: tokens: every request answered 200 or 429, none hung" $? "$others"

n=$(cat "$prefix/out"/tpm-* | grep -cx 200)
used=$((n * real_tokens))
[ $used -le $((token_limit + 2 * real_tokens)) ] \
    && [ $used -gt $((token_limit - real_tokens)) ]
check "a: tokens: $used used over both, within ($((token_limit - real_tokens)), $((token_limit + 2 * real_tokens))]" \
      $? "$(cat "$prefix/out"/tpm-a | sort | uniq -c; cat "$prefix/out"/tpm-b | sort | uniq -c)"

# settlements are sent without waiting for their replies: give them time
for _ in $(seq 25); do
    v=$(rcli get "$tpm_key")
    [ "$v" = $used ] && break
    sleep 0.2
done
[ "$v" = $used ]
check "a: tokens: Redis's key holds the settled usage ($used)" $? \
      "$tpm_key: $v"

# ---- b. the refusal ------------------------------------------------------

for port in $a_port $b_port; do
    out=$(ask $port rpm)
    [ "$(code "$out")" = 429 ] && openai_error "$out" requests_limit_exceeded
    check "b: a refusal on $port is a 429, OpenAI-style, requests_limit_exceeded" \
          $? "$out"

    echo "$out" | grep -qiE '^Retry-After: [0-9]+'
    check "b: a refusal on $port has Retry-After" $? "$out"
done

out=$(ask $a_port tpm)
[ "$(code "$out")" = 429 ] && openai_error "$out" tokens_limit_exceeded
check "b: a tokens refusal is a 429, tokens_limit_exceeded" $? "$out"

# ---- c. Redis's keys ----------------------------------------------------

rcli --scan > "$prefix/out/keys"
bad=$(grep -vE '^llm:[a-z_]+:(requests|tokens):[0-9a-f]{40}:[0-9]+$' \
          "$prefix/out/keys")
[ -s "$prefix/out/keys" ] && [ -z "$bad" ]
check "c: every key is llm:<zone>:<kind>:<SHA-1>:<window start>" $? \
      "$(cat "$prefix/out/keys")"

grep -qx "$rpm_key" "$prefix/out/keys" && grep -qx "$tpm_key" "$prefix/out/keys"
check "c: the keys are the SHA-1 of the client's key and the hour's start" \
      $? "expected $rpm_key and $tpm_key, got: $(cat "$prefix/out/keys")"

# the expiry is the window's end (a margin after it is allowed)
wend=$((wstart + 3600))
for k in "$rpm_key" "$tpm_key"; do
    e=$(rcli expiretime "$k")
    [ "$e" -ge $wend ] 2>/dev/null && [ "$e" -le $((wend + 3600)) ]
    check "c: $k expires at the window's end ($wend)" $? "expiretime: $e"
done

# every key and value, whatever its type
while read -r k; do
    echo "key $k"
    case $(rcli type "$k") in
    string) rcli get "$k" ;;
    hash)   rcli hgetall "$k" ;;
    list)   rcli lrange "$k" 0 -1 ;;
    set)    rcli smembers "$k" ;;
    zset)   rcli zrange "$k" 0 -1 withscores ;;
    *)      rcli type "$k" ;;
    esac
done < "$prefix/out/keys" > "$prefix/out/dump"

! grep -qF -e "$team" -e "$bearer" "$prefix/out/dump"
check "c: the client's keys are in no Redis key or value" $? \
      "$(grep -F -e "$team" -e "$bearer" "$prefix/out/dump")"

kill "$monitor_pid" 2>/dev/null
wait "$monitor_pid" 2>/dev/null
monitor_pid=

grep -q '^[0-9.]* \[[0-9]* 127\.0\.0\.1:' "$prefix/out/monitor.log" \
    && ! grep -qF -e "$team" -e "$bearer" "$prefix/out/monitor.log"
check "c: no command sent to Redis has the client's keys in clear" $? \
      "$(grep -F -e "$team" -e "$bearer" "$prefix/out/monitor.log" | head -3; tail -3 "$prefix/out/monitor.log")"

# ---- h. a provider's limit in Redis ------------------------------------

# the provider that answered
provider() {
    echo "$1" | tr -d '\r' | awk 'tolower($1) == "x-llm-provider:" { print $2 }'
}

got=
for _ in 1 2 3 4; do
    got="$got $(provider "$(ask $a_port prov)")"
done
[ "$got" = " capped capped capped spare" ]
check "h: A: the capped provider answers 3 times, then the spare one" $? \
      "$got"

# B had not heard of the provider's count: its first request is decided
# on an empty view (the documented overshoot: one request), and Redis's
# reply to its reservation brings the count into the view
got="$(provider "$(ask $b_port prov)")"
got="$got $(provider "$(ask $b_port prov)")"
[ "$got" = "capped spare" ]
check "h: B: capped once on its own view, then spare once Redis answered" \
      $? "$got"

prov_key="llm:prov:requests:$(sha1 capped):$wstart"
v=$(rcli get "$prov_key")
[ "$v" = 4 ]
check "h: Redis counts the provider's 4 requests over both instances" $? \
      "$prov_key: $v"

# ---- i. a Redis with a password ------------------------------------------

got=
for _ in 1 2 3; do
    got="$got $(code "$(ask $a_port authed)")"
done
[ "$got" = " 200 200 429" ]
check "i: A, with the password, counts in the second Redis" $? "$got"

auth_key="llm:authed:requests:$(sha1 "$team"):$wstart"
v=$(redis-cli -p $auth_port -a "$password" --no-auth-warning get "$auth_key")
[ "$v" = 2 ]
check "i: the second Redis holds A's count" $? "$auth_key: $v"

out=$(ask $b_port authed)
[ "$(code "$out")" = 503 ] && openai_error "$out" limit_unavailable
check "i: B, with a wrong password, takes redis_fail=deny" $? "$out"

grep -q 'Redis at "127.0.0.1:'$auth_port'" refused the password' \
    "$prefix/b/logs/error.log"
check "i: B's log says the password was refused" $? \
      "$(grep -i redis "$prefix/b/logs/error.log" | tail -3)"

! grep -qF -e "$password" -e pw-wrong "$prefix/a/logs/error.log" \
    "$prefix/b/logs/error.log"
check "i: no password in the error logs" $?

# ---- j. the script flushed ------------------------------------------------

rcli script flush > /dev/null

# B's first check finds no script (503, redis_fail=deny), its connection
# is closed, and after the back-off the next one loads the script again
await_code $b_port rpm 429 503
resumed=$?
check "j: after SCRIPT FLUSH, B checks in Redis again (429 for the used budget)" \
      $resumed "$out"

grep -q 'Redis at "127.0.0.1:'$redis_port'" lost the script' \
    "$prefix/b/logs/error.log"
check "j: B's log says the script was lost" $? \
      "$(grep -i redis "$prefix/b/logs/error.log" | tail -3)"

# ---- k. TLS ---------------------------------------------------------------

got=
for _ in 1 2 3; do
    got="$got $(code "$(ask $a_port tls)")"
done
[ "$got" = " 200 200 429" ]
check "k: A counts in the TLS-only Redis" $? "$got"

tls_key="llm:tls:requests:$(sha1 "$team"):$wstart"
v=$(tcli get "$tls_key")
[ "$v" = 2 ]
check "k: the TLS Redis holds A's count" $? "$tls_key: $v"

out=$(ask $b_port tls)
[ "$(code "$out")" = 503 ] && openai_error "$out" limit_unavailable
check "k: B, expecting another name, takes redis_fail=deny" $? "$out"

grep -q 'Redis at "127.0.0.1:'$tls_port'" sent a certificate for another name' \
    "$prefix/b/logs/error.log"
check "k: B's log says the certificate is for another name" $? \
      "$(grep -i redis "$prefix/b/logs/error.log" | tail -3)"

# ---- d. Redis stopped ---------------------------------------------------

# $1: what happened to Redis; A (allow) answers, B (deny) refuses with
# limit_unavailable, the "unavailable" counters of both rise
unavailable() {
    local ua ub u before port out

    ua=$(counter $a_port avail unavailable)
    ub=$(counter $b_port avail unavailable)

    for _ in 1 2 3; do
        out=$(ask $a_port avail)
        [ "$(code "$out")" = 200 ]
        check "$1: A (redis_fail=allow) answers 200" $? "$out"

        out=$(ask $b_port avail)
        [ "$(code "$out")" = 503 ] && openai_error "$out" limit_unavailable
        check "$1: B (redis_fail=deny) answers 503 limit_unavailable, OpenAI-style" \
              $? "$out"
    done

    for port in $a_port $b_port; do
        u=$(counter $port avail unavailable)
        if [ $port = $a_port ]; then before=$ua; else before=$ub; fi
        [ -n "$u" ] && [ "$u" -gt "${before:-0}" ] 2>/dev/null
        check "$1: the zone's \"unavailable\" counter rose on $port ($u)" $? \
              "$(curl -s --max-time 5 "http://127.0.0.1:$port/status?format=json" | grep -o '"limits":.*')"
    done
}

rcli shutdown nosave > /dev/null 2>&1
wait "$redis_pid" 2>/dev/null
redis_pid=

unavailable "d (stopped)"

out=$(curl -s --max-time 5 "http://127.0.0.1:$b_port/status?format=prometheus")
echo "$out" | grep -qE '^llm_router_limit_requests_total\{zone="avail",result="unavailable"\} [1-9]'
check "d: Prometheus counts the unavailable checks" $? \
      "$(echo "$out" | grep '^llm_router_limit_requests_total')"

# ---- f. Redis back, empty -----------------------------------------------

start_redis

# B refuses at once while its worker waits to reconnect: its first 200 is
# a check made in Redis again
await_code $b_port avail 200 503
resumed=$?
check "f: B counts in Redis again after the back-off" $resumed "$out"

avail_key=llm:avail:requests:$(sha1 "$team"):$wstart
v=$(rcli get "$avail_key")
[ "$v" = 1 ]
check "f: the request created its key in the new Redis" $? \
      "$avail_key: $v; $(rcli --scan)"

# the fresh budget of 5: four more, then a refusal
n=1
for _ in $(seq 10); do
    out=$(ask $b_port avail)
    [ "$(code "$out")" = 200 ] || break
    n=$((n + 1))
done
[ $n = 5 ] && [ "$(code "$out")" = 429 ]
check "f: the fresh budget holds: 5 passed, then 429" $? "$n passed; $out"

# A also counts again: its refusal comes once its back-off is over
await_code $a_port avail 429 200
resumed=$?
check "f: A sees the budget in Redis again" $resumed "$out"

# ---- e. Redis frozen ----------------------------------------------------

kill -STOP "$redis_pid"
unavailable "e (frozen)"
kill -CONT "$redis_pid"

await_code $b_port avail 429 503
resumed=$?
check "e: after SIGCONT, B checks in Redis again (429 for the used budget)" \
      $resumed "$out"

# ---- g. nginx -t -------------------------------------------------------

# $1: the parameters of a zone after its kind; nginx -t must fail, naming
# Redis
bad_conf() {
    cat > "$prefix/check/nginx.conf" <<CONF
load_module $module;
error_log $prefix/check/logs/error.log;
pid $prefix/check/nginx.pid;
events { }
http {
    llm_limit_zone \$http_x_team zone=bad:1m requests=5/1h $1;
    llm_provider mock {
        type openai; url http://127.0.0.1:$mock_port/v1; api_key off;
    }
    server {
        listen 127.0.0.1:9449;
        location / { llm_limit zone=bad; llm_route mock; }
    }
}
CONF
    "$nginx" -t -p "$prefix/check" -c "$prefix/check/nginx.conf" 2>&1
}

out=$(bad_conf "redis=127.0.0.1:$redis_port redis_timeout=250ms redis_fail=deny")
check "g: nginx -t takes redis=, redis_timeout= and redis_fail=" $? "$out"

# each bad value, and the word its message must have
while read -r word p; do
    out=$(bad_conf "$p")
    rc=$?
    # the directory's name has "redis" in it
    [ $rc != 0 ] && echo "${out//$prefix/}" | grep -q -- "$word"
    check "g: nginx -t refuses \"$p\"" $? "$out"
done <<LIST
redis redis=
redis redis=127.0.0.1:99999
redis redis=127.0.0.1:port
redis_timeout redis=127.0.0.1:$redis_port redis_timeout=soon
redis_timeout redis=127.0.0.1:$redis_port redis_timeout=
redis_timeout redis=127.0.0.1:$redis_port redis_timeout=0
redis_fail redis=127.0.0.1:$redis_port redis_fail=maybe
redis_fail redis=127.0.0.1:$redis_port redis_fail=
redis= redis_fail=deny
redis= redis_timeout=1s
redis= redis_password=env:LLM_REDIS_PW
redis_password redis=127.0.0.1:$redis_port redis_password=pw-in-the-text
redis_password redis=127.0.0.1:$redis_port redis_password=env:LLM_NO_SUCH_PW
redis_password redis=127.0.0.1:$redis_port redis_password=file:/nonexistent/pw
redis_ssl redis=127.0.0.1:$redis_port redis_ssl=yes
redis_ssl redis=127.0.0.1:$redis_port redis_ssl_name=localhost
redis= redis_ssl=on
LIST

# ---- the logs ------------------------------------------------------------

for i in a b; do
    if grep -qE 'exited on signal|\[alert\]|\[emerg\]' \
           "$prefix/$i/logs/error.log"
    then
        check "$i: no worker crashed" 1 \
              "$(grep -E 'exited on signal|\[alert\]|\[emerg\]' "$prefix/$i/logs/error.log")"
    fi
    if grep -qF -e "$team" -e "$bearer" "$prefix/$i/logs/error.log"; then
        check "$i: the client's keys are not logged" 1 \
              "$(grep -F -e "$team" -e "$bearer" "$prefix/$i/logs/error.log")"
    fi
done

if [ $fails != 0 ]; then
    echo "tests/limits-redis: $fails failed"
    for i in a b; do
        echo "# $i: error.log"
        tail -15 "$prefix/$i/logs/error.log"
    done
    exit 1
fi

echo "tests/limits-redis: all passed"
