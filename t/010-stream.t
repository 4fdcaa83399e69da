# Streams: every provider's stream comes out as OpenAI chat.completion.chunk
# events, flushed one by one, with the finish chunk, the usage chunk only
# when the client asked for it, and "data: [DONE]"; failures after the
# first byte end with an OpenAI-style error event and a proper end.

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-stream-key';
}

repeat_each(1);
no_shuffle();

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

our $HttpConfig = <<'_EOC_';
    llm_provider openai {
        type     openai;
        url      http://127.0.0.1:1985/openai/v1;
        model    gpt-4o-mini;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider mistral {
        type     mistral;
        url      http://127.0.0.1:1985/mistral/v1;
        model    mistral-small-latest;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider claude {
        type     anthropic;
        url      http://127.0.0.1:1985/anthropic/v1;
        model    claude-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider claude-error {
        type     anthropic;
        url      http://127.0.0.1:1985/anthropic-error/v1;
        model    claude-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider claude-stall {
        type     anthropic;
        url      http://127.0.0.1:1985/anthropic-stall/v1;
        model    claude-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider gemini {
        type     gemini;
        url      http://127.0.0.1:1985/gemini/v1beta;
        model    gemini-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider cohere {
        type     cohere;
        url      http://127.0.0.1:1985/cohere/v2;
        model    command-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider raw {
        type     anthropic;
        url      http://127.0.0.1:1990/v1;
        model    claude-x;
        api_key  env:LLM_TEST_KEY;
    }

    server {
        listen 127.0.0.1:1985;
        error_log logs/mock.log info;
        default_type text/event-stream;

        location /openai/ {
            echo_read_request_body;
            echo -n 'data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1767225600,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n';
            echo_flush;
            echo -n 'data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1767225600,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n';
            echo_flush;
            echo -n 'data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1767225600,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n';
            echo -n 'data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1767225600,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}\n\n';
            echo -n 'data: [DONE]\n\n';
        }

        location /mistral/ {
            echo -n 'data: {"id":"m-s1","object":"chat.completion.chunk","created":1767225600,"model":"mistral-small-latest","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n';
            echo_flush;
            echo -n 'data: {"id":"m-s1","object":"chat.completion.chunk","created":1767225600,"model":"mistral-small-latest","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}\n\n';
            echo -n 'data: [DONE]\n\n';
        }

        location /anthropic/ {
            echo -n 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_s1","type":"message","role":"assistant","model":"claude-x-1","content":[],"stop_reason":null,"usage":{"input_tokens":10,"output_tokens":1}}}\n\n';
            echo_flush;
            echo -n 'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n';
            echo -n 'event: ping\ndata: {"type":"ping"}\n\n';
            echo -n 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}\n\n';
            echo_flush;
            echo_sleep 0.05;
            echo -n 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}\n\n';
            echo -n 'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n';
            echo -n 'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_s1","name":"get_weather","input":{}}}\n\n';
            echo -n 'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"city\\":"}}\n\n';
            echo -n 'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\\"Oslo\\"}"}}\n\n';
            echo -n 'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}\n\n';
            echo -n 'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":20}}\n\n';
            echo -n 'event: message_stop\ndata: {"type":"message_stop"}\n\n';
        }

        location /anthropic-error/ {
            echo -n 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_s2","type":"message","role":"assistant","model":"claude-x-1","content":[],"usage":{"input_tokens":10,"output_tokens":1}}}\n\n';
            echo_flush;
            echo -n 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}\n\n';
            echo -n 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
        }

        location /anthropic-stall/ {
            echo -n 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_s3","type":"message","role":"assistant","model":"claude-x-1","content":[],"usage":{"input_tokens":10,"output_tokens":1}}}\n\n';
            echo -n 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}\n\n';
            echo_flush;
            echo_sleep 5;
        }

        location /gemini/ {
            echo -n 'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]},"index":0}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":1,"totalTokenCount":11},"modelVersion":"gemini-x-1","responseId":"g-s1"}\r\n\r\n';
            echo_flush;
            echo -n 'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":2,"totalTokenCount":12},"modelVersion":"gemini-x-1","responseId":"g-s1"}\r\n\r\n';
        }

        location /cohere/ {
            echo -n 'event: message-start\ndata: {"id":"c-s1","type":"message-start","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[],"citations":[]}}}\n\n';
            echo_flush;
            echo -n 'event: content-start\ndata: {"type":"content-start","index":0,"delta":{"message":{"content":{"type":"text","text":""}}}}\n\n';
            echo -n 'event: content-delta\ndata: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Hello"}}}}\n\n';
            echo -n 'event: content-end\ndata: {"type":"content-end","index":0}\n\n';
            echo -n 'event: message-end\ndata: {"type":"message-end","delta":{"finish_reason":"COMPLETE","usage":{"billed_units":{"input_tokens":10,"output_tokens":2},"tokens":{"input_tokens":12,"output_tokens":2}}}}\n\n';
        }
    }
_EOC_

our $Start = 'event: message_start' . "\n"
    . 'data: {"type":"message_start","message":{"id":"msg_r1","type":"message","role":"assistant","model":"claude-x-1","content":[],"usage":{"input_tokens":10,"output_tokens":1}}}'
    . "\n\n"
    . 'event: content_block_delta' . "\n"
    . 'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}'
    . "\n\n";

sub chat {
    my ($model, $extra) = @_;
    $extra //= '';
    return "POST /v1/chat/completions\n"
           . qq/{"model":"$model","stream":true$extra,"messages":[{"role":"user","content":"Hi"}]}/;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('main_config', "load_module $EchoModule;")
        unless defined $block->main_config;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config', <<'_EOC_')
    location /v1/ {
        llm_next_upstream off;
        llm_read_timeout 1s;
        llm_route openai mistral claude claude-error claude-stall gemini
                  cohere raw;
    }
_EOC_
        unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: OpenAI: relayed as sent; the usage chunk only when asked
--- request eval
[main::chat("openai"), main::chat("openai", ',"stream_options":{"include_usage":true}')]
--- response_headers eval
["Content-Type: text/event-stream", "Content-Type: text/event-stream"]
--- response_body_like eval
[qr/^data: \{"id":"chatcmpl-s1".*"delta":\{"role":"assistant","content":""\}.*\n\ndata: \{[^\n]*"content":"Hi"[^\n]*\n\ndata: \{[^\n]*"finish_reason":"stop"[^\n]*\}\n\ndata: \[DONE\]\n\n$/s,
 qr/"finish_reason":"stop"[^\n]*\}\n\ndata: \{[^\n]*"choices":\[\],"usage":\{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10[^\n]*\n\ndata: \[DONE\]\n\n$/s]
--- no_error_log
[error]



=== TEST 2: Mistral: usage moved to its own chunk when asked, stripped otherwise
--- request eval
[main::chat("mistral"), main::chat("mistral", ',"stream_options":{"include_usage":true}')]
--- response_body_like eval
[qr/^(?!.*"usage").*"content":"Hi"\},"finish_reason":"stop","logprobs":null\}\]\}\n\ndata: \[DONE\]\n\n$/s,
 qr/"finish_reason":"stop"[^\n]*\n\ndata: \{[^\n]*"choices":\[\],"usage":\{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10[^\n]*\n\ndata: \[DONE\]\n\n$/s]



=== TEST 3: Anthropic: text and tool-call deltas with OpenAI indexes
--- request eval
main::chat("claude", ',"stream_options":{"include_usage":true}')
--- response_headers
Content-Type: text/event-stream
--- response_body_like eval
my @parts = (
    '^data: \{"id":"msg_s1","object":"chat\.completion\.chunk","created":\d+,"model":"claude-x-1","choices":\[\{"index":0,"delta":\{"role":"assistant","content":""\}',
    '"content":"Hel"',
    '"content":"lo"',
    '"tool_calls":\[\{"index":0,"id":"toolu_s1","type":"function","function":\{"name":"get_weather","arguments":""\}\}\]',
    '"tool_calls":\[\{"index":0,"function":\{"arguments":"\{\\\\"city\\\\":"\}\}\]',
    '"tool_calls":\[\{"index":0,"function":\{"arguments":"\\\\"Oslo\\\\"\}"\}\}\]',
    '"finish_reason":"tool_calls"',
    '"choices":\[\],"usage":\{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30',
    'data: \[DONE\]\n\n$',
);
my $re = CORE::join '.*', @parts;
qr/$re/s
--- no_error_log
[error]



=== TEST 4: Anthropic: an error event mid-stream ends with an error event and [DONE]
--- request eval
main::chat("claude-error")
--- response_body_like: "content":"Hel".*\n\ndata: \{"error":\{"message":"Overloaded","type":"[a-z_]+","param":null,"code":[^}]*\}\}\n\ndata: \[DONE\]\n\n$
--- error_log
llm: the stream of provider "claude-error" failed



=== TEST 5: a stalled stream times out into an error event and a proper end
--- request eval
main::chat("claude-stall")
--- timeout: 4
--- response_body_like: ^data: \{"id":"msg_s3".*\n\ndata: \{"error":\{"message":"The provider \\"claude-stall\\" stopped sending the stream\.","type":"api_error","param":null,"code":"provider_timeout"\}\}\n\ndata: \[DONE\]\n\n$
--- error_log
upstream timed out



=== TEST 6: Gemini: CRLF events, cumulative usage, the end of the body ends it
--- request eval
main::chat("gemini", ',"stream_options":{"include_usage":true}')
--- response_body_like: ^data: \{"id":"g-s1",.*"content":"Hel".*"content":"lo".*"finish_reason":"stop".*"usage":\{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12.*\n\ndata: \[DONE\]\n\n$
--- no_error_log
[error]



=== TEST 7: Cohere: message-start to message-end
--- request eval
main::chat("cohere")
--- response_body_like: ^(?!.*"usage")data: \{"id":"c-s1",.*"content":"Hello".*"finish_reason":"stop"[^\n]*\n\ndata: \[DONE\]\n\n$
--- no_error_log
[error]



=== TEST 8: the stream cut mid-way: an error event, not a silent truncation
--- tcp_listen: 1990
--- tcp_reply eval
"HTTP/1.1 200 OK\r
Content-Type: text/event-stream\r
Transfer-Encoding: chunked\r
\r
" . sprintf("%x\r\n%s\r\n", length($::Start), $::Start)
--- request eval
main::chat("raw")
--- response_body_like: ^data: \{"id":"msg_r1".*\n\ndata: \{"error":\{"message":"The stream of the provider \\"raw\\" was cut\.","type":"api_error","param":null,"code":"stream_cut"\}\}\n\ndata: \[DONE\]\n\n$
--- error_log
upstream prematurely closed connection



=== TEST 9: garbage in the stream is an error event
--- tcp_listen: 1990
--- tcp_reply eval
"HTTP/1.1 200 OK\r
Content-Type: text/event-stream\r
Content-Length: " . length($::Start . "event: content_block_delta\ndata: {not json\n\n") . "\r
\r
" . $::Start . "event: content_block_delta\ndata: {not json\n\n"
--- request eval
main::chat("raw")
--- response_body_like: \n\ndata: \{"error":\{"message":"[^\n]*"code":"invalid_provider_response"\}\}\n\ndata: \[DONE\]\n\n$
--- error_log
llm: the stream of provider "raw" failed



=== TEST 10: usage and time to first token are known at the end of the request
--- http_config eval
$::HttpConfig . q{
    log_format llm 'usage $llm_provider $llm_usage_prompt_tokens '
                   '$llm_usage_completion_tokens $llm_usage_total_tokens '
                   'ttft=$llm_ttft';
}
--- config
    location /v1/ {
        access_log logs/access.log llm;
        llm_route claude;
    }
--- request eval
main::chat("claude")
--- response_body_like: data: \[DONE\]\n\n$
--- access_log
usage claude 10 20 30 ttft=0.



=== TEST 11: a client gone mid-stream closes the provider's stream
--- request eval
main::chat("claude-stall")
--- timeout: 0.5
--- abort
--- wait: 0.5
--- ignore_response
--- error_log
client prematurely closed connection
finalize llm request 499
