# The counters of llm_zone, with two workers: a known sequence of requests
# across the five provider types (streamed and not, cached and reasoning
# tokens, failures of each kind, failovers, an answer without usage) gives
# exactly the counts, tokens, costs and histogram buckets it implies, in
# JSON and in Prometheus text, and in $llm_cost; the counters outlive
# "nginx -s reload"; a zone too small is refused at start.

use Test::Nginx::Socket 'no_plan';
use JSON::PP;

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-stats-key';
}

repeat_each(1);
no_shuffle();
master_on();
workers(2);

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

# Prices in USD per million tokens; each mock answers with fixed usage.
our $Providers = <<'_EOC_';
    llm_provider oa {
        type     openai;
        url      http://127.0.0.1:1995/oa;
        model    gpt-x;
        api_key  env:LLM_TEST_KEY;
        price    2.5 10 cache_read=1.25;
    }

    llm_provider mi {
        type     mistral;
        url      http://127.0.0.1:1995/mi;
        api_key  env:LLM_TEST_KEY;
        price    0.1 0.3;
    }

    llm_provider cl {
        type     anthropic;
        url      http://127.0.0.1:1995/cl;
        model    claude-x;
        api_key  env:LLM_TEST_KEY;
        price    3 15 cache_read=0.3 cache_write=3.75;
    }

    llm_provider ge {
        type     gemini;
        url      http://127.0.0.1:1995/ge;
        model    gemini-x;
        api_key  env:LLM_TEST_KEY;
        price    0.3 2.5;
    }

    llm_provider co {
        type     cohere;
        url      http://127.0.0.1:1995/co;
        model    command-x;
        api_key  env:LLM_TEST_KEY;
        price    0.15 0.6;
    }

    llm_provider nousage {
        type     openai;
        url      http://127.0.0.1:1995/nousage;
        api_key  env:LLM_TEST_KEY;
        price    1 1;
    }

    llm_provider down {
        type          openai;
        url           http://127.0.0.1:1995/down;
        api_key       env:LLM_TEST_KEY;
        max_fails     1;
        fail_timeout  60s;
    }

    llm_provider limited {
        type       openai;
        url        http://127.0.0.1:1995/limited;
        api_key    env:LLM_TEST_KEY;
        max_fails  0;
    }

    llm_provider refused {
        type       openai;
        url        http://127.0.0.1:1/v1;
        api_key    env:LLM_TEST_KEY;
        max_fails  0;
    }
_EOC_

our $Mocks = <<'_EOC_';
    server {
        listen 127.0.0.1:1995;
        error_log logs/mock.log info;
        default_type application/json;

        location = /oa/chat/completions {
            echo_read_request_body;
            echo_exec /_oa/$oa_kind;
        }

        location = /_oa/text {
            return 200 '{"id":"chatcmpl-1","object":"chat.completion","created":1767225600,"model":"gpt-x","choices":[{"index":0,"message":{"role":"assistant","content":"Hi \\"there\\"."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":40},"completion_tokens_details":{"reasoning_tokens":5}}}';
        }

        location = /_oa/stream {
            default_type text/event-stream;
            echo -n 'data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1767225600,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n';
            echo_flush;
            echo -n 'data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1767225600,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n';
            echo -n 'data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1767225600,"model":"gpt-x","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":3,"total_tokens":13}}\n\n';
            echo -n 'data: [DONE]\n\n';
        }

        location = /mi/chat/completions {
            return 200 '{"id":"m-1","object":"chat.completion","created":1767225600,"model":"mistral-x","choices":[{"index":0,"message":{"role":"assistant","content":"Bonjour.","tool_calls":null},"finish_reason":"length"}],"usage":{"prompt_tokens":12,"completion_tokens":8,"total_tokens":20}}';
        }

        location = /cl/messages {
            return 200 '{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Hello."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":4,"cache_read_input_tokens":6,"cache_creation_input_tokens":2}}';
        }

        location = /ge/models/gemini-x:generateContent {
            return 200 '{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"f","args":{}}}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":10,"cachedContentTokenCount":4,"candidatesTokenCount":4,"thoughtsTokenCount":3,"totalTokenCount":17},"modelVersion":"gemini-x","responseId":"r-1"}';
        }

        location = /co/chat {
            return 200 '{"id":"c-1","message":{"role":"assistant","content":[{"type":"text","text":"Hi."}]},"finish_reason":"COMPLETE","usage":{"billed_units":{"input_tokens":7,"output_tokens":5},"tokens":{"input_tokens":20,"output_tokens":5}}}';
        }

        location = /nousage/chat/completions {
            default_type text/event-stream;
            echo -n 'data: {"id":"chatcmpl-3","object":"chat.completion.chunk","created":1767225600,"model":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"No usage."},"finish_reason":"stop"}]}\n\n';
            echo -n 'data: [DONE]\n\n';
        }

        location = /down/chat/completions {
            return 503 '{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}';
        }

        location = /limited/chat/completions {
            return 429 '{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}';
        }
    }
_EOC_

our $HttpConfig = "llm_zone llm 1m;\n" . $Providers . <<'_EOC_' . $Mocks;
    map $request_body $oa_kind {
        "~\"stream\":true"  stream;
        default             text;
    }
_EOC_

our $Config = <<'_EOC_';
    location /v1/ {
        llm_route oa mi cl ge co nousage name=main;
    }

    location /fo/ {
        llm_route down oa name=fo;
    }

    location /rl/ {
        llm_route limited refused oa;
    }

    location = /status {
        llm_status;
    }
_EOC_

sub chat {
    my ($uri, $model, $extra) = @_;
    $extra //= '';
    return "POST $uri/chat/completions\n"
           . qq/{"model":"$model","messages":[{"role":"user","content":"hi"}]$extra}/;
}

# the sequence, and what it implies
our @Traffic = (
    chat('/v1', 'oa'),
    chat('/v1', 'oa', ',"stream":true,"stream_options":{"include_usage":true}'),
    chat('/v1', 'mi'),
    chat('/v1', 'cl'),
    chat('/v1', 'ge'),
    chat('/v1', 'co'),
    chat('/fo', 'any'),
    chat('/rl', 'any'),
    chat('/v1', 'nousage', ',"stream":true,"stream_options":{"include_usage":true}'),
);

our @TrafficStatus = ((200) x scalar @Traffic);

# the status JSON, reduced to one line per entry of what is deterministic
sub summary {
    my $s = decode_json(shift);
    my $out = '';

    my $line = sub {
        my ($name, $e) = @_;
        my $f = $e->{failures};
        my $t = $e->{tokens};
        my $h = sub {
            my $x = $e->{$_[0]};
            return "$x->{count}:" . ($_[1] ? "$x->{sum}:" : '')
                   . join(',', @{$x->{buckets}});
        };
        $out .= "$name req=$e->{requests} ok=$e->{successes}"
            . " fail=" . join('/', map { $f->{$_} } qw(connect timeout
                http_429 http_5xx http_4xx invalid client_abort))
            . " fo=$e->{failovers}"
            . " fin=" . join('/', map { $e->{finish_reasons}{$_} }
                             qw(stop length tool_calls content_filter other))
            . " tok=" . join('/', map { $t->{$_} } qw(input output cached
                                                      cache_write reasoning))
            . " unk=$e->{usage_unknown} cost=$e->{cost_picousd}"
            . " lat=$e->{latency}{count} ttft=$e->{ttft}{count}"
            . " in=" . $h->('input_tokens', 1)
            . " out=" . $h->('output_tokens', 1) . "\n";
    };

    for my $p (@{$s->{providers}}) {
        $line->("$p->{name}($p->{type},$p->{state})", $p);
    }

    for my $r (@{$s->{routes}}) {
        $line->("$r->{route}/$r->{arm}", $r);
    }

    return $out;
}

# a filter for every response of a block: only the status is summarised
sub status_only {
    my $body = shift;
    return $body =~ /^\{"module"/ ? summary($body) : '';
}

# the client has its answer before the mirrored request is over: give it
# a moment before the status is read
sub after_mirror {
    my ($body, $raw) = @_;

    if ($body !~ /^\{"module"/) {
        select undef, undef, undef, 0.5;
        return $raw ? $body : '';
    }

    return summary($body);
}

sub three_providers {
    my @lines = grep { /^(mi|oa|down)\(/ } split /^/, status_only(shift);
    return CORE::join('', @lines);
}

our $CostLog = <<'_EOC_';
    log_format cost escape=json '{"cost":"$llm_cost","provider":"$llm_provider","route":"$llm_route","arm":"$llm_arm","outcome":"$llm_outcome","finish":"$llm_finish_reason","in":"$llm_usage_prompt_tokens","out":"$llm_usage_completion_tokens","cached":"$llm_usage_cached_tokens","write":"$llm_usage_cache_write_tokens","reasoning":"$llm_usage_reasoning_tokens","attempts":"$llm_attempts"}';
_EOC_

our $CostConfig = $Config;
$CostConfig =~ s/name=(fo|main);/name=$1;\n        access_log logs\/access.log cost;/g;

our $PromptConfig = <<'_EOC_';
    location /v1/ {
        llm_route oa cl;
        access_log logs/access.log prompts;
    }

    location /logged/ {
        llm_route oa cl;
        llm_prompt_log on;
        llm_prompt_log_size 12;
        access_log logs/access.log prompts;
    }
_EOC_

our $PromptLog = <<'_EOC_';
    log_format prompts escape=json 'P[$llm_prompt] C[$llm_completion]';
_EOC_

# chosen series of the Prometheus text, in the order of the text
our $PrometheusLines = <<'_EOS_';
# TYPE llm_router_requests_total counter
llm_router_requests_total{provider="oa",type="openai",outcome="success"} 4
llm_router_requests_total{provider="refused",type="openai",outcome="connect"} 1
llm_router_failovers_total{provider="down",type="openai"} 1
llm_router_tokens_total{provider="cl",type="anthropic",kind="cache_write"} 2
llm_router_usage_unknown_total{provider="nousage",type="openai"} 1
llm_router_cost_usd_total{provider="oa",type="openai"} 0.001255000000
llm_router_cost_usd_total{provider="cl",type="anthropic"} 0.000099300000
llm_router_provider_up{provider="down",type="openai"} 0
llm_router_circuit_state{provider="down",type="openai"} 1
# TYPE gen_ai_client_operation_duration_seconds histogram
gen_ai_client_operation_duration_seconds_count{provider="oa",type="openai",gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-x"} 4
gen_ai_server_time_to_first_token_seconds_count{provider="oa",type="openai",gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-x"} 1
gen_ai_client_token_usage_count{provider="mi",type="mistral",gen_ai_operation_name="chat",gen_ai_provider_name="mistral_ai",gen_ai_request_model="",gen_ai_token_type="input"} 1
gen_ai_client_token_usage_bucket{provider="cl",type="anthropic",gen_ai_operation_name="chat",gen_ai_provider_name="anthropic",gen_ai_request_model="claude-x",gen_ai_token_type="input",le="16"} 0
gen_ai_client_token_usage_bucket{provider="cl",type="anthropic",gen_ai_operation_name="chat",gen_ai_provider_name="anthropic",gen_ai_request_model="claude-x",gen_ai_token_type="input",le="64"} 1
gen_ai_client_token_usage_sum{provider="ge",type="gemini",gen_ai_operation_name="chat",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-x",gen_ai_token_type="output"} 7
llm_router_route_requests_total{route="fo",arm="down",outcome="success"} 1
llm_router_route_failovers_total{route="fo",arm="down"} 1
llm_router_route_tokens_total{route="main",arm="ge",kind="reasoning"} 3
llm_router_route_cost_usd_total{route="main",arm="oa"} 0.000455000000
_EOS_

sub prometheus_lines {
    my $body = shift;
    my %want = map { /^(.*) /; ($1 => 1) } grep { !/^#/ } split /\n/,
               $PrometheusLines;
    my $out = '';

    return '' unless $body =~ /^# HELP/;

    for my $l (split /\n/, $body) {
        if ($l =~ /^# TYPE (llm_router_requests_total|gen_ai_client_operation_duration_seconds) /) {
            $out .= "$l\n";
            next;
        }

        $l =~ /^(.*) / or next;
        $out .= "$l\n" if $want{$1};
    }

    return $out;
}

# the first status response reloads nginx and lets the new workers take
# over; the next is summarised
our $Reloaded = 0;
our $Waited = 0;

sub reload_then_summary {
    my $body = shift;

    return '' unless $body =~ /^\{"module"/;

    if (!$Reloaded) {
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
            return '' if @new >= 2 && !grep { $old{$_} } split /\n/, $after;
        }

        return "the workers were not replaced\n";
    }

    my $s = summary($body);
    $s =~ /^(mi\(.*)$/m;
    return "$1\n";
}

our $Summary = <<'_EOS_';
oa(openai,up) req=4 ok=4 fail=0/0/0/0/0/0/0 fo=0 fin=4/0/0/0/0 tok=310/63/120/0/15 unk=0 cost=1255000000 lat=4 ttft=1 in=4:310:0,0,1,1,4,4,4,4,4,4,4,4,4,4,4 out=4:63:0,1,1,4,4,4,4,4,4,4,4,4,4,4,4
mi(mistral,up) req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=0/1/0/0/0 tok=12/8/0/0/0 unk=0 cost=3600000 lat=1 ttft=0 in=1:12:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1 out=1:8:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1
cl(anthropic,up) req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=18/4/6/2/0 unk=0 cost=99300000 lat=1 ttft=0 in=1:18:0,0,0,1,1,1,1,1,1,1,1,1,1,1,1 out=1:4:0,1,1,1,1,1,1,1,1,1,1,1,1,1,1
ge(gemini,up) req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/1/0/0 tok=10/7/4/0/3 unk=0 cost=20500000 lat=1 ttft=0 in=1:10:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1 out=1:7:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1
co(cohere,up) req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=7/5/0/0/0 unk=0 cost=4050000 lat=1 ttft=0 in=1:7:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1 out=1:5:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1
nousage(openai,up) req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=0/0/0/0/0 unk=1 cost=0 lat=1 ttft=1 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
down(openai,down) req=1 ok=0 fail=0/0/0/1/0/0/0 fo=1 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
limited(openai,up) req=1 ok=0 fail=0/0/1/0/0/0/0 fo=1 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
refused(openai,up) req=1 ok=0 fail=1/0/0/0/0/0/0 fo=1 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
main/oa req=2 ok=2 fail=0/0/0/0/0/0/0 fo=0 fin=2/0/0/0/0 tok=110/23/40/0/5 unk=0 cost=455000000 lat=2 ttft=1 in=2:110:0,0,1,1,2,2,2,2,2,2,2,2,2,2,2 out=2:23:0,1,1,2,2,2,2,2,2,2,2,2,2,2,2
main/mi req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=0/1/0/0/0 tok=12/8/0/0/0 unk=0 cost=3600000 lat=1 ttft=0 in=1:12:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1 out=1:8:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1
main/cl req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=18/4/6/2/0 unk=0 cost=99300000 lat=1 ttft=0 in=1:18:0,0,0,1,1,1,1,1,1,1,1,1,1,1,1 out=1:4:0,1,1,1,1,1,1,1,1,1,1,1,1,1,1
main/ge req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/1/0/0 tok=10/7/4/0/3 unk=0 cost=20500000 lat=1 ttft=0 in=1:10:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1 out=1:7:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1
main/co req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=7/5/0/0/0 unk=0 cost=4050000 lat=1 ttft=0 in=1:7:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1 out=1:5:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1
main/nousage req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=0/0/0/0/0 unk=1 cost=0 lat=1 ttft=1 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
fo/down req=1 ok=1 fail=0/0/0/0/0/0/0 fo=1 fin=1/0/0/0/0 tok=100/20/40/0/5 unk=0 cost=400000000 lat=1 ttft=0 in=1:100:0,0,0,0,1,1,1,1,1,1,1,1,1,1,1 out=1:20:0,0,0,1,1,1,1,1,1,1,1,1,1,1,1
fo/oa req=0 ok=0 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
_EOS_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('main_config', "load_module $EchoModule;")
        unless defined $block->main_config;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config', $Config)
        unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: every counter is what the sequence implies
--- request eval
[@::Traffic, "GET /status"]
--- error_code eval
[@::TrafficStatus, 200]
--- response_body_filters eval
\&::status_only
--- response_body eval
[('') x scalar @::Traffic, $::Summary]



=== TEST 2: the JSON has the bounds, the zone and the exact cost in USD
--- request eval
[@::Traffic, "GET /status?format=json"]
--- response_body_like eval
[('') x scalar @::Traffic,
 qr/^\{"module":"ngx_http_llm_router_module","nginx_version":"[0-9.]+","zone":"llm","time":\d+\.\d{3},"since":\d+\.\d{3},"buckets":\{"latency":\[0\.010,0\.020,0\.040,0\.080,0\.160,0\.320,0\.640,1\.280,2\.560,5\.120,10\.240,20\.480,40\.960,81\.920\],"ttft":\[0\.001,0\.005,.*\],"tokens":\[1,4,16,.*,67108864\]\},"providers":\[\{"name":"oa","type":"openai","model":"gpt-x","state":"up",.*"cost_usd":0\.001255000000,"cost_picousd":1255000000,/s]



=== TEST 3: Prometheus text
--- request eval
[@::Traffic, "GET /status?format=prometheus"]
--- response_headers eval
[("") x scalar @::Traffic, "Content-Type: text/plain; version=0.0.4; charset=utf-8"]
--- response_body_filters eval
\&::prometheus_lines
--- response_body eval
[('') x scalar @::Traffic, $::PrometheusLines]



=== TEST 4: a browser gets the dashboard page
--- request
GET /status
--- more_headers
Accept: text/html,application/xhtml+xml
--- response_headers
Content-Type: text/html
Cache-Control: no-store
--- response_body_like: ^<!doctype html>



=== TEST 5: the counters outlive nginx -s reload
--- request eval
[main::chat('/v1', 'mi'), "GET /status", "GET /status"]
--- response_body_filters eval
\&::reload_then_summary
--- response_body eval
['', '',
 "mi(mistral,up) req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=0/1/0/0/0 tok=12/8/0/0/0 unk=0 cost=3600000 lat=1 ttft=0 in=1:12:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1 out=1:8:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1\n"]




=== TEST 6: $llm_cost and the usage variables make a cost record
--- http_config eval
$::HttpConfig . $::CostLog
--- config eval
$::CostConfig
--- request eval
main::chat('/v1', 'cl')
--- access_log
{"cost":"0.000099300000","provider":"cl","route":"main","arm":"cl","outcome":"success","finish":"stop","in":"18","out":"4","cached":"6","write":"2","reasoning":"","attempts":"1"}



=== TEST 7: the cost record of a request answered after a failover
--- http_config eval
$::HttpConfig . $::CostLog
--- config eval
$::CostConfig
--- request eval
main::chat('/fo', 'x')
--- access_log
{"cost":"0.000400000000","provider":"oa","route":"fo","arm":"down","outcome":"success","finish":"stop","in":"100","out":"20","cached":"40","write":"","reasoning":"5","attempts":"2"}
--- error_log eval
qr/\[warn\] .*llm: failover from provider "down" \(http_5xx\) to "oa", attempt 2/



=== TEST 8: the cost record of an answer without usage is empty, not zero
--- http_config eval
$::HttpConfig . $::CostLog
--- config eval
$::CostConfig
--- request eval
main::chat('/v1', 'nousage', ',"stream":true')
--- access_log
{"cost":"","provider":"nousage","route":"main","arm":"nousage","outcome":"success","finish":"stop","in":"","out":"","cached":"","write":"","reasoning":"","attempts":"1"}



=== TEST 9: a stream whose provider sent no usage gets no usage chunk
--- request eval
main::chat('/v1', 'nousage', ',"stream":true,"stream_options":{"include_usage":true}')
--- response_body_unlike: "usage"
--- response_body_like: No usage\..*data: \[DONE\]



=== TEST 10: prompt logs are empty unless enabled
--- http_config eval
$::HttpConfig . $::PromptLog
--- config eval
$::PromptConfig
--- request eval
main::chat('/v1', 'oa')
--- access_log
P[] C[]



=== TEST 11: prompt logs, bounded: a relayed answer
--- http_config eval
$::HttpConfig . $::PromptLog
--- config eval
$::PromptConfig
--- request eval
main::chat('/logged', 'oa')
--- access_log
P[[{\"role\":\"us] C[Hi \"there\".]



=== TEST 12: prompt logs, bounded: a translated answer
--- http_config eval
$::HttpConfig . $::PromptLog
--- config eval
$::PromptConfig
--- request eval
main::chat('/logged', 'cl')
--- access_log
P[[{\"role\":\"us] C[Hello.]



=== TEST 13: prompt logs, bounded: a stream
--- http_config eval
$::HttpConfig . $::PromptLog
--- config eval
$::PromptConfig
--- request eval
main::chat('/logged', 'oa', ',"stream":true')
--- access_log
P[[{\"role\":\"us] C[Hello]



=== TEST 14: a zone too small for the providers is refused at start
--- http_config eval
"llm_zone tiny 32k;\n" . join('', map { "llm_provider p$_ { type openai; url http://127.0.0.1:1995/v1; api_key env:LLM_TEST_KEY; }\n" } 1..40)
--- config
    location /v1/ {
        llm_route p1 p2;
    }
--- must_die
--- error_log eval
qr/llm_zone "tiny" of 32k is too small for 40 providers and 0 route arms: make it at least \d+k/



=== TEST 15: llm_status without llm_zone is refused
--- http_config eval
$::Providers
--- config
    location = /status {
        llm_status;
    }
--- must_die
--- error_log
"llm_status" needs the counters of an "llm_zone"



=== TEST 16: histogram bounds can be set
--- http_config eval
"llm_stats_buckets latency 100ms 1s 10s;\nllm_stats_buckets tokens 10 100;\n" . $::HttpConfig
--- request eval
[main::chat('/v1', 'mi'), "GET /status"]
--- response_body_like eval
['', qr/"buckets":\{"latency":\[0\.100,1\.000,10\.000\],"ttft":\[0\.001,.*\],"tokens":\[10,100\]\}.*"name":"mi".*"input_tokens":\{"count":1,"sum":12,"buckets":\[0,1,1\]\},"output_tokens":\{"count":1,"sum":8,"buckets":\[1,1,1\]\}/s]



=== TEST 17: invalid histogram bounds
--- http_config eval
"llm_stats_buckets latency 1s 100ms;\n" . $::HttpConfig
--- must_die
--- error_log
invalid bucket "100ms" in llm_stats_buckets



=== TEST 18: llm_stats off counts nothing for a location
--- config eval
$::Config =~ s/name=main;/name=main;\n        llm_stats off;/r
--- request eval
[main::chat('/v1', 'mi'), main::chat('/fo', 'x'), "GET /status"]
--- response_body_filters eval
\&::three_providers
--- response_body eval
['', '', "oa(openai,up) req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=100/20/40/0/5 unk=0 cost=400000000 lat=1 ttft=0 in=1:100:0,0,0,0,1,1,1,1,1,1,1,1,1,1,1 out=1:20:0,0,0,1,1,1,1,1,1,1,1,1,1,1,1
mi(mistral,up) req=0 ok=0 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
down(openai,down) req=1 ok=0 fail=0/0/0/1/0/0/0 fo=1 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
"]



=== TEST 19: a mirrored request is answered, read to its end and counted (shadow traffic)
--- config
    location /v1/ {
        mirror /shadow/v1/chat/completions;
        llm_route oa name=live;
    }

    location /shadow/ {
        internal;
        llm_route cl oa name=shadow;
    }

    location = /status {
        llm_status;
    }
--- request eval
[main::chat('/v1', 'x'), "GET /status"]
--- response_body_filters eval
\&::after_mirror
--- response_body eval
['', "oa(openai,up) req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=100/20/40/0/5 unk=0 cost=400000000 lat=1 ttft=0 in=1:100:0,0,0,0,1,1,1,1,1,1,1,1,1,1,1 out=1:20:0,0,0,1,1,1,1,1,1,1,1,1,1,1,1
mi(mistral,up) req=0 ok=0 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
cl(anthropic,up) req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=18/4/6/2/0 unk=0 cost=99300000 lat=1 ttft=0 in=1:18:0,0,0,1,1,1,1,1,1,1,1,1,1,1,1 out=1:4:0,1,1,1,1,1,1,1,1,1,1,1,1,1,1
ge(gemini,up) req=0 ok=0 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
co(cohere,up) req=0 ok=0 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
nousage(openai,up) req=0 ok=0 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
down(openai,up) req=0 ok=0 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
limited(openai,up) req=0 ok=0 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
refused(openai,up) req=0 ok=0 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
live/oa req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=100/20/40/0/5 unk=0 cost=400000000 lat=1 ttft=0 in=1:100:0,0,0,0,1,1,1,1,1,1,1,1,1,1,1 out=1:20:0,0,0,1,1,1,1,1,1,1,1,1,1,1,1
shadow/cl req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=18/4/6/2/0 unk=0 cost=99300000 lat=1 ttft=0 in=1:18:0,0,0,1,1,1,1,1,1,1,1,1,1,1,1 out=1:4:0,1,1,1,1,1,1,1,1,1,1,1,1,1,1
shadow/oa req=0 ok=0 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
"]



=== TEST 20: a mirrored stream is read to its end and counted, the client's stream is untouched
--- config
    location /v1/ {
        mirror /shadow/v1/chat/completions;
        llm_route oa name=live;
    }

    location /shadow/ {
        internal;
        llm_route nousage name=shadow;
    }

    location = /status {
        llm_status;
    }
--- request eval
[main::chat('/v1', 'x', ',"stream":true'), "GET /status"]
--- response_body_filters eval
sub { my $b = ::after_mirror(shift, 1); return $b =~ /^data: / ? ($b =~ /"content":"lo"/ && $b =~ /data: \[DONE\]\n\n$/ ? "stream ok\n" : $b) : CORE::join('', grep { /^(oa|nousage)\(|^(live|shadow)\// } split /^/, $b) }
--- response_body eval
["stream ok\n", "oa(openai,up) req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=10/3/0/0/0 unk=0 cost=55000000 lat=1 ttft=1 in=1:10:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1 out=1:3:0,1,1,1,1,1,1,1,1,1,1,1,1,1,1
nousage(openai,up) req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=0/0/0/0/0 unk=1 cost=0 lat=1 ttft=1 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
live/oa req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=10/3/0/0/0 unk=0 cost=55000000 lat=1 ttft=1 in=1:10:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1 out=1:3:0,1,1,1,1,1,1,1,1,1,1,1,1,1,1
shadow/nousage req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=1/0/0/0/0 tok=0/0/0/0/0 unk=1 cost=0 lat=1 ttft=1 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
"]



=== TEST 21: a request pinned to a provider of another rule is counted under that arm
--- config
    location /v1/ {
        llm_route mi if=$http_x_mi name=r1;
        llm_route oa name=r2;
    }

    location = /status {
        llm_status;
    }
--- request eval
[main::chat('/v1', 'mi'), "GET /status"]
--- response_body_filters eval
sub { CORE::join('', grep { /^r[12]\// } split /^/, ::status_only(shift)) }
--- response_body eval
['', "r1/mi req=0 ok=0 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
r1/oa req=0 ok=0 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
r2/mi req=1 ok=1 fail=0/0/0/0/0/0/0 fo=0 fin=0/1/0/0/0 tok=12/8/0/0/0 unk=0 cost=3600000 lat=1 ttft=0 in=1:12:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1 out=1:8:0,0,1,1,1,1,1,1,1,1,1,1,1,1,1
r2/oa req=0 ok=0 fail=0/0/0/0/0/0/0 fo=0 fin=0/0/0/0/0 tok=0/0/0/0/0 unk=0 cost=0 lat=0 ttft=0 in=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 out=0:0:0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
"]



=== TEST 22: a probe claimed by a request that never tried the provider is given back
--- http_config eval
$::HttpConfig . <<'_EOC_';
    map $request_body $flaky_kind {
        "~fail"    fail;
        default    ok;
    }

    llm_provider flaky {
        type          openai;
        url           http://127.0.0.1:1996/flaky;
        api_key       env:LLM_TEST_KEY;
        max_fails     1;
        fail_timeout  1s;
    }

    server {
        listen 127.0.0.1:1996;

        location /flaky/ {
            echo_read_request_body;
            echo_exec /_flaky/$flaky_kind;
        }

        location = /_flaky/fail { return 503; }
        location = /_flaky/ok {
            default_type application/json;
            echo "flaky";
        }
    }
_EOC_
--- config
    location /first/ {
        llm_route flaky oa;
    }

    location /fallback/ {
        llm_route oa flaky;
    }
--- request eval
[main::chat('/first', 'fail'), main::chat('/fallback', 'x'), main::chat('/first', 'x')]
--- response_body_filters eval
sub { select undef, undef, undef, 1.2 if $::Waited++ == 0; '' }
--- response_headers eval
["X-LLM-Provider: oa", "X-LLM-Provider: oa", "X-LLM-Provider: flaky"]



=== TEST 23: without llm_zone, a relayed answer's usage is read for the variables that use it
--- http_config eval
$::Providers . $::Mocks . <<'_EOC_';
    map $request_body $oa_kind {
        default  text;
    }

    log_format usage '[$llm_usage_prompt_tokens/$llm_usage_completion_tokens]';
_EOC_
--- config
    location /v1/ {
        llm_route oa;
        access_log logs/access.log usage;
    }
--- request eval
main::chat('/v1', 'oa')
--- access_log
[100/20]
