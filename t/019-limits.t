# Spend and token limits in shared memory (llm_limit_zone, llm_limit, a
# provider's "limit"): each kind stops at its bound and starts again in
# the next window, several limits on one request, dry run, a provider's
# limit fails over, streams settled with their real usage, a full zone
# evicts keys without an error, the x-ratelimit-* headers, the variables,
# the counters of llm_status, the zones kept across nginx -s reload, and
# configuration errors.
#
# The mock provider (127.0.0.1:1994) answers every request with 10 input
# and 5 output tokens (15 in all; 0.000015 USD at 1 USD per million).
# Periods are an hour unless a test crosses a window's end.

use Test::Nginx::Socket 'no_plan';
use Time::Local ();

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-limits-key';

    # most blocks count in one-hour windows: a run must not cross the end
    # of one (the file takes about a minute, under valgrind a few)
    my $left = 3600 - time() % 3600;
    my $need = $ENV{TEST_NGINX_USE_VALGRIND} ? 300 : 90;

    if ($left < $need) {
        print STDERR "# waiting ${left}s for the next hour's window\n";
        sleep $left + 1;
    }
}

repeat_each(1);
no_shuffle();

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

our $Reloaded = 0;

sub chat {
    my ($uri, $extra, $args) = @_;
    $extra //= '';
    $args //= '';
    return "POST $uri/chat/completions$args\n"
           . qq/{"model":"any","messages":[{"role":"user","content":"hi"}]$extra}/;
}

# the hours left in the calendar month (UTC), and one less: what
# x-ratelimit-reset-* of a monthly limit starts with
sub hours_to_next_month {
    my @t = gmtime();
    my ($y, $m) = ($t[5] + 1900, $t[4] + 1);
    ($y, $m) = $m == 12 ? ($y + 1, 1) : ($y, $m + 1);
    my $left = Time::Local::timegm(0, 0, 0, 1, $m - 1, $y) - time();
    my $h = int($left / 3600);
    return ($h, $h - 1);
}

# the first status answer triggers a reload and is left out
sub reload_once {
    my $body = shift;

    return $body unless $body =~ /^\{"module"/ && !$Reloaded;

    $Reloaded = 1;
    my $pid = `cat $ENV{TEST_NGINX_SERVROOT}/logs/nginx.pid`;
    chomp $pid;
    my $before = `pgrep -P $pid | sort`;

    # no worker processes: nginx runs without a master (valgrind)
    return '' if $before eq '';

    kill 'HUP', $pid;

    for (1 .. 50) {
        select undef, undef, undef, 0.1;
        my $after = `pgrep -P $pid | sort`;
        my %old = map { $_ => 1 } split /\n/, $before;
        my @new = grep { !$old{$_} } split /\n/, $after;
        return '' if @new >= 1 && !grep { $old{$_} } split /\n/, $after;
    }

    return "the workers were not replaced\n";
}

our $HttpConfig = <<'_EOC_';
    llm_zone llm 1m;

    llm_limit_zone $http_x_key zone=rpm:1m requests=2/1h;
    llm_limit_zone $http_x_key zone=tpm:1m tokens=30/1h;
    llm_limit_zone $http_x_key zone=itpm:1m input_tokens=20/1h;
    llm_limit_zone $http_x_key zone=otpm:1m output_tokens=10/1h;
    llm_limit_zone $http_x_key zone=spend:1m spend=0.00003/1h;
    llm_limit_zone $http_x_key zone=short:1m requests=1/3s;
    llm_limit_zone $http_x_key zone=many:1m requests=10/h;
    llm_limit_zone $llm_provider zone=prov:1m requests=1/1h;
    llm_limit_zone $arg_k zone=tiny:32k requests=5/1h;
    llm_limit_zone $http_x_key zone=monthly:1m spend=10/month;
    llm_limit_zone $http_x_key zone=monthly_r:1m requests=5/month;

    llm_cache_path cache levels=1:2 keys_zone=answers:1m max_size=10m;

    llm_provider a {
        type     openai;
        url      http://127.0.0.1:1994/v1;
        api_key  env:LLM_TEST_KEY;
        price    1.00 1.00;
    }

    llm_provider pa {
        type     openai;
        url      http://127.0.0.1:1994/v1;
        api_key  env:LLM_TEST_KEY;
        limit    prov;
    }

    llm_provider pb {
        type     openai;
        url      http://127.0.0.1:1994/v1;
        api_key  env:LLM_TEST_KEY;
    }

    map $request_body $mock {
        '~"stream":true'  stream;
        default           text;
    }

    server {
        listen 127.0.0.1:1994;
        error_log logs/mock.log info;
        default_type application/json;

        location = /v1/chat/completions {
            echo_read_request_body;
            echo_exec /_mock/$mock;
        }

        location = /_mock/text {
            add_header x-ratelimit-limit-requests 999;
            add_header x-ratelimit-remaining-requests 998;
            return 200 '{"id":"chatcmpl-1","object":"chat.completion","created":1767225600,"model":"gpt-x","choices":[{"index":0,"message":{"role":"assistant","content":"Hello."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}';
        }

        location = /_mock/stream {
            default_type text/event-stream;
            echo -n 'data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1767225600,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n';
            echo_flush;
            echo -n 'data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1767225600,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n';
            echo -n 'data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1767225600,"model":"gpt-x","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}\n\n';
            echo -n 'data: [DONE]\n\n';
        }
    }
_EOC_

our $Config = <<'_EOC_';
    add_header X-Limit-Status $llm_limit_status always;
    add_header X-Limit $llm_limit always;
    add_header X-Rem-Requests $llm_limit_remaining_requests always;
    add_header X-Rem-Tokens $llm_limit_remaining_tokens always;
    add_header X-Rem-Spend $llm_limit_remaining_spend always;
    add_header X-Prompt-Tokens $llm_prompt_tokens always;

    location /rpm/     { llm_limit zone=rpm;  llm_route a; }
    location /tpm/     { llm_limit zone=tpm;  llm_route a; }
    location /itpm/    { llm_limit zone=itpm; llm_route a; }
    location /otpm/    { llm_limit zone=otpm; llm_route a; }
    location /spend/   { llm_limit zone=spend; llm_route a; }
    location /short/   { llm_limit zone=short; llm_route a; }
    location /dry/     { llm_limit zone=rpm dry_run; llm_route a; }
    location /dryall/  { llm_limit zone=rpm; llm_limit_dry_run on;
                         llm_route a; }
    location /several/ { llm_limit zone=many; llm_limit zone=tpm;
                         llm_route a; }
    location /many/    { llm_limit zone=many; llm_route a; }
    location /hdr/     { llm_limit zone=many; llm_limit zone=tpm;
                         llm_limit zone=spend; llm_route a; }
    location /prov/    { llm_route pa pb; }
    location /provonly/ { llm_route pa; }
    location /tiny/    { llm_limit zone=tiny; llm_route a; }
    location /cached/  { llm_limit zone=rpm; llm_cache answers;
                         llm_cache_key $http_x_key; llm_route a; }
    location /provlim/ { llm_limit zone=many; llm_route pa; }
    location /monthly/ { llm_limit zone=monthly; llm_limit zone=monthly_r;
                         llm_route a; }
    location /s503/    { llm_limit zone=rpm; llm_limit_status 503;
                         llm_limit_log_level warn; llm_route a; }

    location = /sleep {
        echo_sleep 3.2;
        echo slept;
    }

    location = /status {
        llm_status;
    }

    location = /errlog {
        default_type text/plain;
        alias $TEST_NGINX_SERVROOT/logs/error.log;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('main_config', "load_module $EchoModule;")
        unless defined $block->main_config;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config', $Config)
        unless defined $block->config;

    $block->set_value('more_headers', "X-Key: k1")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: requests: two pass, the third is refused with 429, an OpenAI-style body and Retry-After
--- request eval
[main::chat('/rpm'), main::chat('/rpm'), main::chat('/rpm'), "GET /errlog"]
--- error_code eval
[200, 200, 429, 200]
--- response_headers_like eval
["X-Limit-Status: PASSED\nX-Rem-Requests: 1",
 "X-Limit-Status: PASSED\nX-Rem-Requests: 0",
 "X-Limit-Status: REJECTED\nX-Limit: rpm\nRetry-After: \\d+\nX-Rem-Requests: 0\nx-ratelimit-limit-requests: 2\nx-ratelimit-reset-requests: (?:\\d+m)?\\d+s",
 ""]
--- response_body_like eval
['"content":"Hello\."', '"content":"Hello\."',
 qr/^\{"error":\{"message":"Limit \\"rpm\\" reached: 2 requests per 1h; it resets in \d+ s\.","type":"rate_limit_error","param":null,"code":"requests_limit_exceeded"\}\}/,
 qr/\[error\] .*llm: limit "rpm" refuses the request: 2 used \+ 1 > 2,/]
--- no_error_log
[alert]



=== TEST 2: an empty key is not limited
--- more_headers
X-Other: 1
--- request eval
[main::chat('/rpm'), main::chat('/rpm'), main::chat('/rpm')]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["X-Limit-Status: ", "X-Limit-Status: ", "X-Limit-Status: "]



=== TEST 3: tokens: the estimate (8) is reserved, the real usage (15) settled
--- request eval
[main::chat('/tpm'), main::chat('/tpm'), main::chat('/tpm')]
--- error_code eval
[200, 200, 429]
--- response_headers_like eval
["X-Prompt-Tokens: ^8\$\nX-Rem-Tokens: ^22\$\nx-ratelimit-limit-tokens: ^30\$",
 "X-Limit-Status: PASSED\nX-Rem-Tokens: ^7\$",
 "X-Limit: tpm\nX-Rem-Tokens: ^0\$"]
--- response_body_like eval
['Hello', 'Hello', '"code":"tokens_limit_exceeded"']



=== TEST 4: input tokens (10 a request of 20)
--- request eval
[main::chat('/itpm'), main::chat('/itpm'), main::chat('/itpm')]
--- error_code eval
[200, 200, 429]
--- response_body_like eval
['Hello', 'Hello', 'Limit ..itpm.. reached: 20 input_tokens per 1h.*"code":"input_tokens_limit_exceeded"']



=== TEST 5: output tokens: no estimate; refused once the 10 are used
--- request eval
[main::chat('/otpm'), main::chat('/otpm'), main::chat('/otpm')]
--- error_code eval
[200, 200, 429]
--- response_body_like eval
['Hello', 'Hello', 'Limit ..otpm.. reached: 10 output_tokens per 1h.*"code":"output_tokens_limit_exceeded"']



=== TEST 6: spend: 0.000015 USD a request of 0.00003
--- request eval
[main::chat('/spend'), main::chat('/spend'), main::chat('/spend')]
--- error_code eval
[200, 200, 429]
--- response_headers_like eval
["x-ratelimit-limit-spend: ^0\\.000030\$\nX-Rem-Spend: ^0\\.000022\$",
 "X-Rem-Spend: ^0\\.000007\$",
 "X-Rem-Spend: ^0\\.000000\$\nX-Limit: spend"]
--- response_body_like eval
['Hello', 'Hello', 'Limit ..spend.. reached: 0\.000030 USD per 1h.*"code":"spend_limit_exceeded"']



=== TEST 7: a limit resets when its window ends
--- init
# the requests start right after a window of 3 s has begun, so that the
# first two fall into it
use Time::HiRes ();
my $t = Time::HiRes::time();
Time::HiRes::sleep(3 * (int($t / 3) + 1) - $t + 0.05);
--- timeout: 10
--- request eval
[main::chat('/short'), main::chat('/short'), "GET /sleep", main::chat('/short')]
--- error_code eval
[200, 429, 200, 200]



=== TEST 8: dry run: logged and counted, not refused
--- request eval
[main::chat('/dry'), main::chat('/dry'), main::chat('/dry'), main::chat('/dryall'), "GET /status?format=json", "GET /errlog"]
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_headers eval
["X-Limit-Status: PASSED", "X-Limit-Status: PASSED",
 "X-Limit-Status: REJECTED_DRY_RUN", "X-Limit-Status: REJECTED_DRY_RUN", "", ""]
--- response_body_like eval
['Hello', 'Hello', 'Hello', 'Hello',
 '"limits":\[\{"zone":"rpm","kind":"requests","checked":4,"passed":2,"rejected":0,"dry_run":2,"evicted":0,"unavailable":0,"store":"shm"\}',
 qr/\[error\] .*llm: limit "rpm" would refuse the request: 2 used \+ 1 > 2 \(dry run\).*\[error\] .*llm: limit "rpm" would refuse the request: 3 used \+ 1 > 2 \(dry run\)/s]



=== TEST 9: several limits: the first to refuse names itself, the others give their reservation back
--- request eval
[main::chat('/several'), main::chat('/several'), main::chat('/several'), main::chat('/many')]
--- error_code eval
[200, 200, 429, 200]
--- response_headers_like eval
["X-Rem-Requests: 9", "X-Rem-Requests: 8",
 "X-Limit: tpm\nX-Limit-Status: REJECTED",
 "X-Rem-Requests: 7\nX-Limit-Status: PASSED"]
--- response_body_like eval
['Hello', 'Hello', '"code":"tokens_limit_exceeded"', 'Hello']



=== TEST 10: the x-ratelimit-* headers replace the provider's
--- request eval
main::chat('/hdr')
--- response_headers_like
x-ratelimit-limit-requests: ^10$
x-ratelimit-remaining-requests: ^9$
x-ratelimit-reset-requests: ^(?:\d+m)?\d+s$
x-ratelimit-limit-tokens: ^30$
x-ratelimit-remaining-tokens: ^22$
x-ratelimit-reset-tokens: ^(?:\d+m)?\d+s$
x-ratelimit-limit-spend: ^0\.000030$
x-ratelimit-remaining-spend: ^0\.000022$
--- raw_response_headers_unlike: 999



=== TEST 11: without an llm_limit the provider's x-ratelimit-* headers pass
--- request eval
main::chat('/prov')
--- more_headers
X-Other: 1
--- response_headers
x-ratelimit-limit-requests: 999



=== TEST 12: a provider's own limit: the next provider answers; with no other, 429
--- request eval
[main::chat('/prov'), main::chat('/prov'), main::chat('/provonly'), "GET /status?format=json", "GET /errlog"]
--- error_code eval
[200, 200, 429, 200, 200]
--- response_headers eval
["X-LLM-Provider: pa", "X-LLM-Provider: pb", "X-Limit: prov", "", ""]
--- response_body_like eval
['Hello', 'Hello', '"code":"requests_limit_exceeded"',
 '"name":"pa",.*"limited":2,.*"name":"pb",.*"limited":0,.*\{"zone":"prov","kind":"requests","checked":3,"passed":1,"rejected":2,"dry_run":0,"evicted":0,"unavailable":0,"store":"shm"\}',
 qr/\[info\] .*llm: provider "pa" is skipped: its limit "prov" has no room/]



=== TEST 13: a stream is settled with its real usage: the next request sees it
--- request eval
[main::chat('/tpm', ',"stream":true'), main::chat('/tpm'), main::chat('/tpm')]
--- error_code eval
[200, 200, 429]
--- response_headers_like eval
["X-Rem-Tokens: ^22\$", "X-Rem-Tokens: ^7\$", "X-Rem-Tokens: ^0\$"]
--- response_body_like eval
['data: \[DONE\]', 'Hello', 'tokens_limit_exceeded']



=== TEST 14: a full zone evicts the least recently used keys; no request fails
--- request eval
[(map { main::chat('/tiny', '', '?k=' . ('x' x 300) . $_) } 1 .. 120), "GET /status?format=json"]
--- error_code eval
[(200) x 121]
--- response_body_like eval
[('Hello') x 120, '\{"zone":"tiny","kind":"requests","checked":120,"passed":120,"rejected":0,"dry_run":0,"evicted":[1-9]\d*,"unavailable":0,"store":"shm"\}']
--- no_error_log
[crit]
[alert]
[error]



=== TEST 15: Prometheus: checks by result and evictions, per zone; limited, per provider
--- request eval
[main::chat('/rpm'), main::chat('/rpm'), main::chat('/rpm'), "GET /status?format=prometheus"]
--- error_code eval
[200, 200, 429, 200]
--- response_body_like eval
['Hello', 'Hello', 'requests_limit_exceeded',
 qr/llm_router_provider_limited_total\{provider="pa",type="openai"\} 0\n.*# TYPE llm_router_limit_requests_total counter\n.*llm_router_limit_requests_total\{zone="rpm",result="passed"\} 2\nllm_router_limit_requests_total\{zone="rpm",result="rejected"\} 1\nllm_router_limit_requests_total\{zone="rpm",result="dry_run"\} 0\n.*# TYPE llm_router_limit_evictions_total counter\n.*llm_router_limit_evictions_total\{zone="rpm"\} 0\n/s]



=== TEST 16: llm_limit_status and llm_limit_log_level
--- request eval
[main::chat('/s503'), main::chat('/s503'), main::chat('/s503'), "GET /errlog"]
--- error_code eval
[200, 200, 503, 200]
--- response_headers_like eval
["", "", "Retry-After: \\d+", ""]
--- response_body_like eval
['Hello', 'Hello', 'requests_limit_exceeded',
 qr/\[warn\] .*llm: limit "rpm" refuses the request/]



=== TEST 17: the counts are kept across nginx -s reload
--- request eval
[main::chat('/rpm'), main::chat('/rpm'), "GET /status?format=json", main::chat('/rpm')]
--- response_body_filters eval
\&::reload_once
--- error_code eval
[200, 200, 200, 429]
--- response_body_like eval
['Hello', 'Hello', '^$', 'requests_limit_exceeded']



=== TEST 17a: answers from the cache are checked, not counted
--- request eval
[main::chat('/cached'), main::chat('/cached'), main::chat('/cached'), main::chat('/cached')]
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["X-LLM-Cache: MISS\nX-Rem-Requests: 1", "X-LLM-Cache: HIT\nX-Rem-Requests: 0",
 "X-LLM-Cache: HIT\nX-Rem-Requests: 0", "X-LLM-Cache: HIT\nX-Rem-Requests: 0"]



=== TEST 17b: a request refused by its providers' limits gives the location's reservations back
--- request eval
[main::chat('/provlim'), main::chat('/provlim'), main::chat('/many')]
--- error_code eval
[200, 429, 200]
--- response_headers eval
["X-Rem-Requests: 9", "X-Limit: prov", "X-Rem-Requests: 8"]



=== TEST 17c: a monthly spend limit resets at the end of the calendar month
--- request eval
main::chat('/monthly')
--- response_headers_like eval
"x-ratelimit-limit-spend: ^10\\.000000\$\n"
. "x-ratelimit-remaining-spend: ^9\\.999992\$\n"
. "x-ratelimit-limit-requests: ^5\$\n"
. "x-ratelimit-reset-requests: ^(?:" . join('|', main::hours_to_next_month()) . ")h\\d+m\\d+s\$"



=== TEST 18: an unknown zone
--- config
    location /v1/ { llm_limit zone=nope; llm_route a; }
--- must_die
--- error_log
unknown llm_limit_zone "nope"



=== TEST 19: two kinds in one zone
--- http_config
    llm_limit_zone $http_x_key zone=two:1m requests=1/1m tokens=5/1m;
--- config
--- must_die
--- error_log
llm_limit_zone takes exactly one of requests=, tokens=, input_tokens=, output_tokens= or spend=, not "tokens=5/1m"



=== TEST 20: a bad period
--- http_config
    llm_limit_zone $http_x_key zone=bad:1m requests=1/1x;
--- config
--- must_die
--- error_log
invalid period in "requests=1/1x"



=== TEST 21: a provider's limit that names no zone
--- http_config
    llm_provider q {
        type     openai;
        url      http://127.0.0.1:1994/v1;
        api_key  env:LLM_TEST_KEY;
        limit    nope;
    }
--- config
    location /v1/ { llm_route q; }
--- must_die
--- error_log
unknown llm_limit_zone "nope"



=== TEST 22: the "virtual keys" recipe of docs/limits.md: keys mapped to teams, team budgets, unknown keys refused
--- http_config eval
$::HttpConfig . <<'_EOC_';
    map $http_authorization $team {
        default                                  "";
        "Bearer sk-gw-research-8c1f0e7a29d4b6"   research;
        "Bearer sk-gw-support-51d3a9e0c7f2b8"    support;
    }

    map $team $budget_100 { research $team; default ""; }
    map $team $budget_20  { support  $team; default ""; }

    llm_limit_zone $budget_100 zone=budget_100:1m spend=0.00003/1d;
    llm_limit_zone $budget_20  zone=budget_20:1m  spend=0.000015/1d;
    llm_limit_zone $team       zone=team_tpm:1m   tokens=200000/1m;
_EOC_
--- config
    location /v1/ {
        default_type application/json;

        if ($team = "") {
            return 401 '{"error":{"message":"Invalid API key.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}';
        }

        llm_limit zone=budget_100;
        llm_limit zone=budget_20;
        llm_limit zone=team_tpm;

        llm_route a;
    }
--- more_headers eval
["Authorization: Bearer sk-gw-unknown",
 "Authorization: Bearer sk-gw-support-51d3a9e0c7f2b8",
 "Authorization: Bearer sk-gw-support-51d3a9e0c7f2b8",
 "Authorization: Bearer sk-gw-research-8c1f0e7a29d4b6",
 "Authorization: Bearer sk-gw-research-8c1f0e7a29d4b6"]
--- request eval
[main::chat('/v1'), main::chat('/v1'), main::chat('/v1'), main::chat('/v1'), main::chat('/v1')]
--- error_code eval
[401, 200, 429, 200, 200]
--- response_headers_like eval
["", "x-ratelimit-limit-spend: ^0\\.000015\$", "", "x-ratelimit-limit-spend: ^0\\.000030\$", ""]
--- response_body_like eval
['^\{"error":\{"message":"Invalid API key\.","type":"invalid_request_error","param":null,"code":"invalid_api_key"\}\}$', 'Hello', 'Limit ..budget_20.. reached', 'Hello', 'Hello']



=== TEST 23: a zone in Redis whose server cannot be reached: redis_fail=deny answers 503 limit_unavailable
--- http_config eval
$::HttpConfig . <<'_EOC_';
    llm_limit_zone $http_x_key zone=r_deny:1m requests=5/1h
                   redis=127.0.0.1:1 redis_fail=deny;
_EOC_
--- config
    location /deny/ {
        llm_limit zone=r_deny;
        llm_route a;
        add_header X-Limit $llm_limit_status always;
    }
--- more_headers
X-Key: team-1
--- request eval
main::chat('/deny')
--- error_code: 503
--- response_headers
X-Limit: UNAVAILABLE
Retry-After: 1
--- response_body_like: ^\{"error":\{"message":"Limit ..r_deny.. could not be checked: its Redis server did not answer\.","type":"server_error","param":null,"code":"limit_unavailable"\}\}$
--- error_log
limit "r_deny" could not be checked in Redis at "127.0.0.1:1": the request is refused
--- no_error_log
[alert]



=== TEST 23a: redis_fail=allow (the default) lets the request go; the checks are counted as unavailable
--- http_config eval
$::HttpConfig . <<'_EOC_';
    llm_limit_zone $http_x_key zone=r_deny:1m requests=5/1h
                   redis=127.0.0.1:1 redis_fail=deny;
    llm_limit_zone $http_x_key zone=r_allow:1m requests=5/1h
                   redis=127.0.0.1:1 redis_timeout=50ms;
_EOC_
--- config
    location /deny/ {
        llm_limit zone=r_deny;
        llm_route a;
    }

    location /allow/ {
        llm_limit zone=r_allow;
        llm_route a;
        add_header X-Limit $llm_limit_status always;
    }

    location = /status { llm_status; }
--- more_headers
X-Key: team-1
--- request eval
[main::chat('/deny'), main::chat('/allow'), main::chat('/allow'), "GET /status"]
--- error_code eval
[503, 200, 200, 200]
--- response_headers_like eval
["", "X-Limit: ^UNAVAILABLE\$", "X-Limit: ^UNAVAILABLE\$", ""]
--- response_body_like eval
['limit_unavailable', 'Hello', 'Hello',
 '\{"zone":"r_deny","kind":"requests","checked":1,"passed":0,"rejected":0,"dry_run":0,"evicted":0,"unavailable":1,"store":"redis"\},\{"zone":"r_allow","kind":"requests","checked":2,"passed":0,"rejected":0,"dry_run":0,"evicted":0,"unavailable":2,"store":"redis"\}']



=== TEST 23b: redis_fail=local checks on this instance's count while Redis cannot be reached
--- http_config eval
$::HttpConfig . <<'_EOC_';
    llm_limit_zone $http_x_key zone=r_local:1m requests=2/1h
                   redis=127.0.0.1:1 redis_fail=local;
_EOC_
--- config
    location /v1/ {
        llm_limit zone=r_local;
        llm_route a;
        add_header X-Limit $llm_limit_status always;
    }

    location = /status { llm_status; }
--- more_headers
X-Key: team-1
--- request eval
[main::chat('/v1'), main::chat('/v1'), main::chat('/v1'), "GET /status"]
--- error_code eval
[200, 200, 429, 200]
--- response_headers_like eval
["X-Limit: ^PASSED\$\nx-ratelimit-remaining-requests: ^1\$", "X-Limit: ^PASSED\$", "X-Limit: ^REJECTED\$", ""]
--- response_body_like eval
['Hello', 'Hello', '"code":"requests_limit_exceeded"',
 '\{"zone":"r_local","kind":"requests","checked":3,"passed":2,"rejected":1,"dry_run":0,"evicted":0,"unavailable":3,"store":"redis"\}']



=== TEST 24: Prometheus counts the checks Redis could not answer
--- http_config eval
$::HttpConfig . <<'_EOC_';
    llm_limit_zone $http_x_key zone=r_p:1m tokens=100/1m redis=127.0.0.1:1;
_EOC_
--- config
    location /v1/ {
        llm_limit zone=r_p;
        llm_route a;
    }

    location = /metrics { llm_status; }
--- more_headers
X-Key: team-1
--- request eval
[main::chat("/v1"), "GET /metrics?format=prometheus"]
--- error_code eval
[200, 200]
--- response_body_like eval
['Hello', 'llm_router_limit_requests_total\{zone="r_p",result="unavailable"\} 1\n']



=== TEST 25: redis_fail takes allow or deny
--- http_config
    llm_limit_zone $http_x_key zone=z:1m requests=5/1h redis=127.0.0.1:6379
                   redis_fail=maybe;
--- config
--- must_die
--- error_log
invalid redis_fail "redis_fail=maybe": "allow", "deny" or "local"



=== TEST 26: redis_timeout and redis_fail need redis=
--- http_config
    llm_limit_zone $http_x_key zone=z:1m requests=5/1h redis_timeout=20ms;
--- config
--- must_die
--- error_log
the redis_* parameters of "llm_limit_zone" need redis=



=== TEST 27: a bad redis_timeout, and a spend too large for Redis's numbers
--- http_config
    llm_limit_zone $http_x_key zone=z:1m requests=5/1h redis=127.0.0.1:6379
                   redis_timeout=0;
--- config
--- must_die
--- error_log
invalid redis_timeout "redis_timeout=0"



=== TEST 28: a spend limit kept in Redis is below 2^53 nano-USD
--- http_config
    llm_limit_zone $http_x_key zone=z:1m spend=10000000/1d redis=127.0.0.1:6379;
--- config
--- must_die
--- error_log
the limit of a zone kept in Redis is below 2^53 (9,007,199 USD for spend)
