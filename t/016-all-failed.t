# When every provider fails, the client gets the status that says what to
# do: all rate-limited, 429; all rate-limited or overloaded, 503; all timed
# out, 504; otherwise 502; with the shortest Retry-After any provider
# asked for.  A stream whose first events are an error, before its answer
# began, fails over like an error answer.

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-all-failed-key';
}

repeat_each(1);
no_shuffle();

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

our $HttpConfig = <<'_EOC_';
    llm_provider limited-30 {
        type     openai;
        url      http://127.0.0.1:1997/429-30/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider limited-7 {
        type     openai;
        url      http://127.0.0.1:1997/429-7/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider limited-date {
        type     openai;
        url      http://127.0.0.1:1997/429-date/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider gemini-exhausted {
        type     gemini;
        url      http://127.0.0.1:1997/gemini-429/v1beta;
        model    gemini-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider unavailable {
        type     openai;
        url      http://127.0.0.1:1997/503/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider claude-overloaded {
        type     anthropic;
        url      http://127.0.0.1:1997/529/v1;
        model    claude-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider slow-1 {
        type     openai;
        url      http://127.0.0.1:1997/slow/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider slow-2 {
        type     openai;
        url      http://127.0.0.1:1997/slow/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider refused {
        type     openai;
        url      http://127.0.0.1:1/v1;
        api_key  env:LLM_TEST_KEY;
    }

    # streams that fail before their answer begins, one of each type

    llm_provider openai-err {
        type     openai;
        url      http://127.0.0.1:1997/openai-err/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider mistral-err {
        type     mistral;
        url      http://127.0.0.1:1997/openai-err/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider claude-err {
        type     anthropic;
        url      http://127.0.0.1:1997/anthropic-err/v1;
        model    claude-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider claude-ratelimited {
        type     anthropic;
        url      http://127.0.0.1:1997/anthropic-429/v1;
        model    claude-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider gemini-err {
        type     gemini;
        url      http://127.0.0.1:1997/gemini-err/v1beta;
        model    gemini-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider cohere-err {
        type     cohere;
        url      http://127.0.0.1:1997/cohere-err/v2;
        model    command-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider claude-late {
        type     anthropic;
        url      http://127.0.0.1:1997/anthropic-late/v1;
        model    claude-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider backup {
        type     openai;
        url      http://127.0.0.1:1997/stream/v1;
        api_key  env:LLM_TEST_KEY;
    }

    server {
        listen 127.0.0.1:1997;
        default_type application/json;

        location /429-30/ {
            add_header Retry-After 30 always;
            return 429 '{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}';
        }

        location /429-7/ {
            add_header Retry-After 7 always;
            return 429 '{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}';
        }

        location /429-date/ {
            add_header Retry-After "Thu, 01 Jan 1970 00:00:00 GMT" always;
            return 429 '{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}';
        }

        location /gemini-429/ {
            return 429 '{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2.5s"}]}}';
        }

        location /503/ {
            return 503 '{"error":{"message":"The engine is overloaded","type":"server_error","param":null,"code":null}}';
        }

        location /529/ {
            return 529 '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}';
        }

        location /slow/ {
            echo_sleep 3;
            echo "too late";
        }

        location /openai-err/ {
            default_type text/event-stream;
            echo -n 'data: {"id":"c-e","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n';
            echo_flush;
            echo -n 'data: {"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}\n\n';
        }

        location /anthropic-err/ {
            default_type text/event-stream;
            echo -n 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_e1","type":"message","role":"assistant","model":"claude-x","content":[],"usage":{"input_tokens":10,"output_tokens":1}}}\n\n';
            echo -n 'event: ping\ndata: {"type":"ping"}\n\n';
            echo_flush;
            echo_sleep 0.05;
            echo -n 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
        }

        location /anthropic-429/ {
            default_type text/event-stream;
            echo -n 'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your rate limit"}}\n\n';
        }

        location /anthropic-late/ {
            default_type text/event-stream;
            echo -n 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_l1","type":"message","role":"assistant","model":"claude-x","content":[],"usage":{"input_tokens":10,"output_tokens":1}}}\n\n';
            echo -n 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}\n\n';
            echo_flush;
            echo -n 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
        }

        location /gemini-err/ {
            default_type text/event-stream;
            echo -n 'data: {"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}\r\n\r\n';
        }

        location /cohere-err/ {
            default_type text/event-stream;
            echo -n 'event: message-start\ndata: {"id":"c-e1","type":"message-start","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}\n\n';
            echo -n 'event: message-end\ndata: {"type":"message-end","delta":{"finish_reason":"ERROR","error":"internal error"}}\n\n';
        }

        location /stream/ {
            default_type text/event-stream;
            echo -n 'data: {"id":"c-ok","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"},"logprobs":null,"finish_reason":null}]}\n\n';
            echo -n 'data: {"id":"c-ok","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n';
            echo -n 'data: [DONE]\n\n';
        }
    }
_EOC_

sub chat {
    my ($stream) = @_;
    return "POST /v1/chat/completions\n"
           . '{"model":"m",' . ($stream ? '"stream":true,' : '')
           . '"messages":[{"role":"user","content":"Hi"}]}';
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('main_config', "load_module $EchoModule;")
        unless defined $block->main_config;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('request', main::chat(0))
        unless defined $block->request;
});

run_tests();

__DATA__

=== TEST 1: all rate-limited: 429 with the shortest Retry-After
--- config
    location /v1/ {
        llm_route limited-30 limited-7;
    }
--- error_code: 429
--- response_headers
Retry-After: 7
X-LLM-Attempts: 2
--- response_body chomp
{"error":{"message":"No provider could answer: limited-30 (HTTP 429), limited-7 (HTTP 429).","type":"rate_limit_error","param":null,"code":"all_providers_failed"}}



=== TEST 2: Gemini's RetryInfo counts as a Retry-After, rounded up
--- config
    location /v1/ {
        llm_route limited-30 gemini-exhausted;
    }
--- error_code: 429
--- response_headers
Retry-After: 3
--- response_body_like: limited-30 \(HTTP 429\), gemini-exhausted \(HTTP 429\)



=== TEST 3: rate-limited and overloaded (Anthropic's 529 too): 503
--- config
    location /v1/ {
        llm_route unavailable claude-overloaded limited-7;
    }
--- error_code: 503
--- response_headers
Retry-After: 7
X-LLM-Attempts: 3
--- response_body_like: ^\{"error":\{"message":"No provider could answer: unavailable \(HTTP 503\), claude-overloaded \(HTTP 503\), limited-7 \(HTTP 429\)\.","type":"api_error","param":null,"code":"all_providers_failed"\}\}$



=== TEST 4: all timed out: 504
--- config
    location /v1/ {
        llm_read_timeout 200ms;
        llm_route slow-1 slow-2;
    }
--- error_code: 504
--- response_body_like: No provider could answer: slow-1 \(timed out\), slow-2 \(timed out\)\.



=== TEST 5: rate-limited, then unreachable: 502, and no Retry-After
--- config
    location /v1/ {
        llm_route limited-7 refused;
    }
--- error_code: 502
--- response_headers
!Retry-After
--- response_body_like: No provider could answer: limited-7 \(HTTP 429\), refused \(no valid answer\)\.



=== TEST 6: unreachable, then rate-limited: 502 as well
--- config
    location /v1/ {
        llm_route refused limited-30;
    }
--- error_code: 502
--- response_headers
!Retry-After
--- response_body_like: refused \(no valid answer\), limited-30 \(HTTP 429\)



=== TEST 7: one provider: its 429 and its Retry-After, once
--- config
    location /v1/ {
        llm_route limited-30;
    }
--- error_code: 429
--- raw_response_headers_like: \r\nRetry-After: 30\r\n(?!.*Retry-After)
--- response_body_like: "message":"Rate limit reached"



=== TEST 8: a Retry-After date in the past is a wait of one second
--- config
    location /v1/ {
        llm_route limited-date;
    }
--- error_code: 429
--- response_headers
Retry-After: 1



=== TEST 9: an OpenAI stream that fails before its answer: the next provider
--- config
    location /v1/ {
        llm_route openai-err backup;
    }
--- request eval
main::chat(1)
--- response_headers
X-LLM-Provider: backup
X-LLM-Attempts: 2
Content-Type: text/event-stream
--- response_body_like: ^data: \{"id":"c-ok".*"content":"Hello".*\n\ndata: \[DONE\]\n\n$
--- error_log
llm: the stream of provider "openai-err" failed before its answer began: The server had an error



=== TEST 10: Mistral, the same
--- config
    location /v1/ {
        llm_route mistral-err backup;
    }
--- request eval
main::chat(1)
--- response_headers
X-LLM-Provider: backup
--- response_body_like: "content":"Hello"



=== TEST 11: Anthropic: message_start and a ping, then overloaded: the next provider
--- config
    location /v1/ {
        llm_route claude-err backup;
    }
--- request eval
main::chat(1)
--- response_headers
X-LLM-Provider: backup
X-LLM-Attempts: 2
--- response_body_like: ^(?!.*msg_e1)data: \{"id":"c-ok".*"content":"Hello"
--- error_log
failed before its answer began: Overloaded



=== TEST 12: Gemini: an error event first: the next provider
--- config
    location /v1/ {
        llm_route gemini-err backup;
    }
--- request eval
main::chat(1)
--- response_headers
X-LLM-Provider: backup
--- response_body_like: "content":"Hello"



=== TEST 13: Cohere: message-end with an error, before any text: the next provider
--- config
    location /v1/ {
        llm_route cohere-err backup;
    }
--- request eval
main::chat(1)
--- response_headers
X-LLM-Provider: backup
--- response_body_like: "content":"Hello"



=== TEST 14: one provider whose stream fails before its answer: an error answer, not a stream
--- config
    location /v1/ {
        llm_route claude-err;
    }
--- request eval
main::chat(1)
--- error_code: 503
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"Overloaded","type":"server_error","param":null,"code":"overloaded"\}\}$



=== TEST 15: every stream rate-limited before its answer: 429
--- config
    location /v1/ {
        llm_route claude-ratelimited limited-7;
    }
--- request eval
main::chat(1)
--- error_code: 429
--- response_headers
Retry-After: 7
--- response_body_like: No provider could answer: claude-ratelimited \(HTTP 429\), limited-7 \(HTTP 429\)



=== TEST 16: an error after the answer began stays in the stream
--- config
    location /v1/ {
        llm_route claude-late backup;
    }
--- request eval
main::chat(1)
--- error_code: 200
--- response_headers
X-LLM-Provider: claude-late
--- response_body_like: "content":"Hel".*\n\ndata: \{"error":\{"message":"Overloaded".*\n\ndata: \[DONE\]\n\n$



=== TEST 17: failover off: the stream's error is the answer
--- config
    location /v1/ {
        llm_next_upstream off;
        llm_route openai-err backup;
    }
--- request eval
main::chat(1)
--- error_code: 502
--- response_headers
X-LLM-Attempts: 1
--- response_body_like: "message":"The server had an error"



=== TEST 18: the failed stream is counted as the provider's failure
--- http_config eval
$::HttpConfig . q{
    llm_zone llm 1m;
}
--- config
    location /v1/ {
        llm_route claude-err backup;
    }
    location = /status {
        llm_status;
    }
--- request eval
[main::chat(1), "GET /status"]
--- error_code eval
[200, 200]
--- response_body_like eval
['"content":"Hello"',
 '"name":"claude-err",[^{]*"cache":\{[^}]*\{[^}]*\}[^}]*\},"requests":1,"successes":0,"failures":\{[^}]*"http_5xx":1,[^}]*\},"failovers":1,']
