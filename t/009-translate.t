# Anthropic, Gemini and Cohere: the request is translated into the
# provider's native API (the mocks check the path, the authentication and
# the exact body they receive), and the native answer comes back as an
# OpenAI chat.completion: text, tool calls, a tool result round trip,
# errors and answers that cannot be translated.

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-translate-key';
}

repeat_each(1);
no_shuffle();

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

# Each mock answers natively when the request is exactly what it expects
# (the "kind" of request is told by the map), and with a native 400 that
# says so otherwise.
our $HttpConfig = <<'_EOC_';
    map $content_length:$request_body $anthropic {
        '~^1290:\{"model":"claude-x","max_tokens":64,"messages":\[\{"role":"user","content":"(?:Context: \\\\"nginx\\\\"\\\\n café ì )+split prompt"\}\]\}$'
            text;
        '~^240:\{"model":"claude-x","max_tokens":64,"messages":\[\{"role":"user","content":"(?:Context: \\\\"nginx\\\\"\\\\n café ì )+split prompt"\}\]\}$'
            text;
        '~^690:\{"model":"claude-x","max_tokens":64,"messages":\[\{"role":"user","content":"(?:Context: \\\\"nginx\\\\"\\\\n café ì )+split prompt"\}\]\}$'
            text;
        '~^31103:\{"model":"claude-x","max_tokens":1000,"system":"(?:Context: \\\\"nginx\\\\"\\\\n caf\\\\u00e9 )+","messages":\[\{"role":"user","content":"(?:Context: \\\\"nginx\\\\"\\\\n caf\\\\u00e9 )+long prompt"\}\]\}$'
            overloaded;
        '~^\d*:\{"model":"claude-x","max_tokens":64,"system":"Be terse\.","messages":\[\{"role":"user","content":"Weather in Oslo\?"\}\]\}$'
            text;
        '~^\d*:\{"model":"claude-x","max_tokens":1000,"messages":\[\{"role":"user","content":"Weather in Oslo\?"\}\],"tools":\[\{"name":"get_weather","input_schema":\{"type":"object","properties":\{"city":\{"type":"string"\}\}\}\}\],"tool_choice":\{"type":"auto"\}\}$'
            tool;
        '~^\d*:\{"model":"claude-x","max_tokens":1000,"messages":\[\{"role":"user","content":"Weather in Oslo\?"\},\{"role":"assistant","content":\[\{"type":"tool_use","id":"call_1","name":"get_weather","input":\{"city":"Oslo"\}\}\]\},\{"role":"user","content":\[\{"type":"tool_result","tool_use_id":"call_1","content":"4 degrees"\}\]\}\]\}$'
            final;
        '~overloaded'   overloaded;
        '~garbage'      garbage;
        default         unexpected;
    }

    map $content_length:$request_body $gemini {
        '~^31107:\{"systemInstruction":\{"parts":\[\{"text":"(?:Context: \\\\"nginx\\\\"\\\\n caf\\\\u00e9 )+"\}\]\},"contents":\[\{"role":"user","parts":\[\{"text":"(?:Context: \\\\"nginx\\\\"\\\\n caf\\\\u00e9 )+long prompt"\}\]\}\]\}$'
            text;
        '~^\d*:\{"systemInstruction":\{"parts":\[\{"text":"Be terse\."\}\]\},"contents":\[\{"role":"user","parts":\[\{"text":"Weather in Oslo\?"\}\]\}\],"generationConfig":\{"maxOutputTokens":64\}\}$'
            text;
        '~^\d*:\{"contents":\[\{"role":"user","parts":\[\{"text":"Weather in Oslo\?"\}\]\}\],"tools":\[\{"functionDeclarations":\[\{"name":"get_weather",'
            tool;
        '~\{"role":"model","parts":\[\{"functionCall":\{"name":"get_weather","args":\{"city":"Oslo"\}\}.*\{"role":"user","parts":\[\{"functionResponse":\{"name":"get_weather","response":'
            final;
        '~^\d*:\{"contents":\[\{"role":"user","parts":\[\{"text":"overloaded, then fine"\}\]\}\]\}$'
            text;
        '~exhausted'    exhausted;
        default         unexpected;
    }

    map $content_length:$request_body $cohere {
        '~^31120:\{"model":"command-x","messages":\[\{"role":"system","content":"(?:Context: \\\\"nginx\\\\"\\\\n caf\\\\u00e9 )+"\},\{"role":"user","content":"(?:Context: \\\\"nginx\\\\"\\\\n caf\\\\u00e9 )+long prompt"\}\],"stream":false\}$'
            text;
        '~^\d*:\{"model":"command-x","messages":\[\{"role":"system","content":"Be terse\."\},\{"role":"user","content":"Weather in Oslo\?"\}\],"max_tokens":64,"stream":false\}$'
            text;
        '~^\d*:\{"model":"command-x","messages":\[\{"role":"user","content":"Weather in Oslo\?"\}\],"tools":\[\{"type":"function","function":\{"name":"get_weather",'
            tool;
        '~\{"role":"tool","tool_call_id":"get_weather_1","content":"4 degrees"\}'
            final;
        '~ratelimited'  ratelimited;
        default         unexpected;
    }

    llm_provider claude {
        type        anthropic;
        url         http://127.0.0.1:1985/anthropic/v1;
        model       claude-x;
        max_tokens  1000;
        api_key     env:LLM_TEST_KEY;
    }

    # an answer that cannot be translated, then ones that can: the whole
    # answer with its header, and one that comes in two chunks
    llm_provider claude_garbage {
        type     anthropic;
        url      http://127.0.0.1:1985/garbage/v1;
        model    claude-x;
        api_key  off;
    }

    llm_provider claude_late {
        type     anthropic;
        url      http://127.0.0.1:1985/late/v1;
        model    claude-x;
        api_key  off;
    }

    llm_provider claude_whole {
        type     anthropic;
        url      http://127.0.0.1:1985/whole/v1;
        model    claude-x;
        api_key  off;
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

    server {
        listen 127.0.0.1:1985;
        error_log logs/mock.log info;
        default_type application/json;
        client_body_buffer_size 1m;

        location = /anthropic/v1/messages {
            if ($http_x_api_key != "sk-test-translate-key") {
                return 401 '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}';
            }
            if ($http_anthropic_version != "2023-06-01") {
                return 400 '{"type":"error","error":{"type":"invalid_request_error","message":"anthropic-version missing"}}';
            }
            if ($http_authorization) {
                return 400 '{"type":"error","error":{"type":"invalid_request_error","message":"unexpected Authorization"}}';
            }
            echo_read_request_body;
            echo_exec /_anthropic/$anthropic;
        }

        location = /_anthropic/text {
            return 200 '{"id":"msg_1","type":"message","role":"assistant","model":"claude-x-20250101","content":[{"type":"text","text":"It is cold."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":4,"cache_read_input_tokens":6,"cache_creation_input_tokens":2}}';
        }

        location = /_anthropic/tool {
            return 200 '{"id":"msg_2","type":"message","role":"assistant","model":"claude-x-20250101","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Oslo"}}],"stop_reason":"tool_use","usage":{"input_tokens":30,"output_tokens":12}}';
        }

        location = /_anthropic/final {
            return 200 '{"id":"msg_3","type":"message","role":"assistant","model":"claude-x-20250101","content":[{"type":"text","text":"4 degrees in Oslo."}],"stop_reason":"max_tokens","usage":{"input_tokens":40,"output_tokens":5}}';
        }

        location = /_anthropic/overloaded {
            return 529 '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}';
        }

        location = /_anthropic/garbage {
            return 200 '{"type":"message","content":"not a list"}';
        }

        location = /garbage/v1/messages {
            return 200 '{"type":"message","content":"not a list","padding":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}';
        }

        location = /late/v1/messages {
            echo_read_request_body;
            echo -n '{"id":"msg_4","type":"message","role":"assistant","model":"claude-x-20250101","content":[{"type":"text","text":"Late, ';
            echo_flush;
            echo_sleep 0.05;
            echo -n 'but whole and long and long and long and long and long and long and long and long and long and long and long and long and long and long and long and long and long and long and long and long and long and long and long and long and long."}],"stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":4}}';
        }

        location = /whole/v1/messages {
            return 200 '{"id":"msg_5","type":"message","role":"assistant","model":"claude-x-20250101","content":[{"type":"text","text":"Whole at once."}],"stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":3}}';
        }

        location = /_anthropic/unexpected {
            return 400 '{"type":"error","error":{"type":"invalid_request_error","message":"the mock did not expect this request"}}';
        }

        location = /gemini/v1beta/models/gemini-x:generateContent {
            if ($http_x_goog_api_key != "sk-test-translate-key") {
                return 403 '{"error":{"code":403,"message":"bad key","status":"PERMISSION_DENIED"}}';
            }
            echo_read_request_body;
            echo_exec /_gemini/$gemini;
        }

        location = /_gemini/text {
            return 200 '{"candidates":[{"content":{"role":"model","parts":[{"text":"It is cold."}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":4,"thoughtsTokenCount":3,"totalTokenCount":17},"modelVersion":"gemini-x-001","responseId":"resp-1"}';
        }

        location = /_gemini/tool {
            return 200 '{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Oslo"}}}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":8,"totalTokenCount":38},"modelVersion":"gemini-x-001","responseId":"resp-2"}';
        }

        location = /_gemini/final {
            return 200 '{"candidates":[{"content":{"role":"model","parts":[{"text":"4 degrees in Oslo."}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":40,"candidatesTokenCount":5,"totalTokenCount":45},"modelVersion":"gemini-x-001","responseId":"resp-3"}';
        }

        location = /_gemini/exhausted {
            return 429 '{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}';
        }

        location = /_gemini/unexpected {
            return 400 '{"error":{"code":400,"message":"the mock did not expect this request","status":"INVALID_ARGUMENT"}}';
        }

        location = /cohere/v2/chat {
            if ($http_authorization != "Bearer sk-test-translate-key") {
                return 401 '{"id":"x","message":"invalid api token"}';
            }
            echo_read_request_body;
            echo_exec /_cohere/$cohere;
        }

        location = /_cohere/text {
            return 200 '{"id":"c-1","message":{"role":"assistant","content":[{"type":"text","text":"It is cold."}]},"finish_reason":"COMPLETE","usage":{"billed_units":{"input_tokens":10,"output_tokens":4},"tokens":{"input_tokens":15,"output_tokens":4}}}';
        }

        location = /_cohere/tool {
            return 200 '{"id":"c-2","message":{"role":"assistant","tool_plan":"I will check.","tool_calls":[{"id":"get_weather_1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Oslo\\"}"}}]},"finish_reason":"TOOL_CALL","usage":{"billed_units":{"input_tokens":30,"output_tokens":8}}}';
        }

        location = /_cohere/final {
            return 200 '{"id":"c-3","message":{"role":"assistant","content":[{"type":"text","text":"4 degrees in Oslo."}]},"finish_reason":"COMPLETE","usage":{"billed_units":{"input_tokens":40,"output_tokens":5}}}';
        }

        location = /_cohere/ratelimited {
            return 429 '{"id":"x","message":"too many requests"}';
        }

        location = /_cohere/unexpected {
            return 400 '{"id":"x","message":"the mock did not expect this request"}';
        }
    }
_EOC_

# A long system prompt and a long question, with escapes the gateway must
# pass on as the client wrote them (\u00e9 stays \u00e9)
sub long_request {
    my $text = 'Context: \\"nginx\\"\\n caf\\u00e9 ' x 500;

    return "POST /v1/chat/completions\n"
           . '{"messages":[{"role":"system","content":"' . $text
           . '"},{"role":"user","content":"' . $text . 'long prompt"}]}';
}

# A request whose body arrives in two reads, the first one ending $split
# bytes into the body: NGINX keeps that part with the header, the rest in
# a buffer of its own, and the gateway parses the two as one body.
sub split_request {
    my ($split, $next, $n) = @_;
    my $body = '{"messages":[{"role":"user","content":"'
               . ("Context: \\\"nginx\\\"\\n caf\xc3\xa9 \xc3\xac " x ($n // 40))
               . 'split prompt"}],"max_tokens":64}';

    my $head = "POST /v1/chat/completions HTTP/1.1\r\n"
               . "Host: localhost\r\n"
               . "Connection: " . ($next ? "keep-alive" : "close") . "\r\n"
               . "Content-Type: application/json\r\n"
               . "Content-Length: " . length($body) . "\r\n\r\n";

    return [$head . substr($body, 0, $split),
            substr($body, $split) . ($next // '')];
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
        llm_route claude gemini cohere;
    }
_EOC_
        unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: Anthropic: system prompt, max_tokens, text answer, cached tokens
--- request
POST /v1/chat/completions
{"model":"claude","messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"Weather in Oslo?"}],"max_tokens":64}
--- more_headers
Authorization: Bearer client-token
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"id":"msg_1","object":"chat.completion","created":\d+,"model":"claude-x-20250101","choices":\[\{"index":0,"message":\{"role":"assistant","content":"It is cold\.","refusal":null\},"logprobs":null,"finish_reason":"stop"\}\],"usage":\{"prompt_tokens":18,"completion_tokens":4,"total_tokens":22,"prompt_tokens_details":\{"cached_tokens":6\}\}\}$
--- no_error_log
[error]



=== TEST 2: Anthropic: tools offered, a tool call comes back
--- request
POST /v1/chat/completions
{"model":"claude","messages":[{"role":"user","content":"Weather in Oslo?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],"tool_choice":"auto"}
--- response_body_like: "message":\{"role":"assistant","content":"Checking\.","refusal":null,"tool_calls":\[\{"id":"toolu_1","type":"function","function":\{"name":"get_weather","arguments":"\{\\"city\\":\\"Oslo\\"\}"\}\}\]\},"logprobs":null,"finish_reason":"tool_calls"



=== TEST 3: Anthropic: the tool result round trip (default max_tokens of the provider)
--- request
POST /v1/chat/completions
{"model":"claude","messages":[{"role":"user","content":"Weather in Oslo?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"4 degrees"}]}
--- response_body_like: "content":"4 degrees in Oslo\.".*"finish_reason":"length"



=== TEST 4: Anthropic: 529 overloaded becomes a retryable 503
--- request
POST /v1/chat/completions
{"model":"claude","messages":[{"role":"user","content":"overloaded"}]}
--- error_code: 503
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"Overloaded","type":"[a-z_]+"
--- error_log
llm: provider "claude" answered 529 (retryable)



=== TEST 5: Anthropic: an answer of the wrong shape is a 502
--- request
POST /v1/chat/completions
{"model":"claude","messages":[{"role":"user","content":"garbage"}]}
--- error_code: 502
--- response_body_like: ^\{"error":\{"message":"The provider \\"claude\\" sent an invalid answer: (?:[^"\\]|\\.)+","type":"api_error","param":null,"code":"invalid_provider_response"\}\}$
--- error_log
llm: provider "claude" sent an invalid answer



=== TEST 6: Anthropic: n > 1 is refused before the provider is asked
--- request
POST /v1/chat/completions
{"model":"claude","n":2,"messages":[{"role":"user","content":"Weather in Oslo?"}]}
--- error_code: 400
--- response_body_like: "param":"n"
--- no_error_log
[error]



=== TEST 7: Gemini: model in the path, key header, systemInstruction, thoughts tokens
--- request
POST /v1/chat/completions
{"model":"gemini","messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"Weather in Oslo?"}],"max_tokens":64}
--- response_body_like: ^\{"id":"resp-1","object":"chat.completion","created":\d+,"model":"gemini-x-001","choices":\[\{"index":0,"message":\{"role":"assistant","content":"It is cold\.","refusal":null\},"logprobs":null,"finish_reason":"stop"\}\],"usage":\{"prompt_tokens":10,"completion_tokens":7,"total_tokens":17,"completion_tokens_details":\{"reasoning_tokens":3\}\}\}$



=== TEST 8: Gemini: a function call gets an id and the tool_calls finish reason
--- request
POST /v1/chat/completions
{"model":"gemini","messages":[{"role":"user","content":"Weather in Oslo?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],"tool_choice":"auto"}
--- response_body_like: "tool_calls":\[\{"id":"call_[A-Za-z0-9]+","type":"function","function":\{"name":"get_weather","arguments":"\{\\"city\\":\\"Oslo\\"\}"\}\}\]\},"logprobs":null,"finish_reason":"tool_calls"



=== TEST 9: Gemini: the tool result goes back as a functionResponse named by its call
--- request
POST /v1/chat/completions
{"model":"gemini","messages":[{"role":"user","content":"Weather in Oslo?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"4 degrees"}]}
--- response_body_like: "content":"4 degrees in Oslo\."



=== TEST 10: Gemini: a tool result for an unknown call is refused
--- request
POST /v1/chat/completions
{"model":"gemini","messages":[{"role":"user","content":"Weather in Oslo?"},{"role":"tool","tool_call_id":"call_9","content":"4 degrees"}]}
--- error_code: 400
--- response_body_like: call_9



=== TEST 11: Gemini: RESOURCE_EXHAUSTED is a retryable 429
--- request
POST /v1/chat/completions
{"model":"gemini","messages":[{"role":"user","content":"exhausted"}]}
--- error_code: 429
--- response_body_like: ^\{"error":\{"message":"Resource has been exhausted"
--- error_log
llm: provider "gemini" answered 429 (retryable)



=== TEST 12: Cohere: system message, text answer, billed units
--- request
POST /v1/chat/completions
{"model":"cohere","messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"Weather in Oslo?"}],"max_tokens":64}
--- response_body_like: ^\{"id":"c-1","object":"chat.completion","created":\d+,"model":"command-x","choices":\[\{"index":0,"message":\{"role":"assistant","content":"It is cold\.","refusal":null\},"logprobs":null,"finish_reason":"stop"\}\],"usage":\{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14\}\}$



=== TEST 13: Cohere: a tool call
--- request
POST /v1/chat/completions
{"model":"cohere","messages":[{"role":"user","content":"Weather in Oslo?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}
--- response_body_like: "tool_calls":\[\{"id":"get_weather_1","type":"function","function":\{"name":"get_weather","arguments":"\{\\"city\\":\\"Oslo\\"\}"\}\}\]\},"logprobs":null,"finish_reason":"tool_calls"



=== TEST 14: Cohere: the tool result round trip
--- request
POST /v1/chat/completions
{"model":"cohere","messages":[{"role":"user","content":"Weather in Oslo?"},{"role":"assistant","content":null,"tool_calls":[{"id":"get_weather_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},{"role":"tool","tool_call_id":"get_weather_1","content":"4 degrees"}]}
--- response_body_like: "content":"4 degrees in Oslo\."



=== TEST 15: Cohere: a 429 is translated and retryable
--- request
POST /v1/chat/completions
{"model":"cohere","messages":[{"role":"user","content":"ratelimited"}]}
--- error_code: 429
--- response_body_like: ^\{"error":\{"message":"too many requests","type":"[a-z_]+"
--- error_log
llm: provider "cohere" answered 429 (retryable)



=== TEST 16: failover from Anthropic into Gemini, re-translated
--- config
    location /v1/ {
        llm_route claude gemini;
    }
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"overloaded exhausted"}]}
--- error_code: 503
--- response_body_like: No provider could answer: claude \(HTTP 503\), gemini \(HTTP 429\)\.



=== TEST 17: Anthropic overloaded: Gemini answers, with a Gemini request
--- config
    location /v1/ {
        llm_route claude gemini;
    }
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"overloaded, then fine"}]}
--- response_headers
X-LLM-Provider: gemini
X-LLM-Attempts: 2
--- response_body_like: ^\{"id":"resp-1","object":"chat.completion",.*"content":"It is cold\."
--- error_log
llm: provider "claude" answered 529 (retryable)



=== TEST 18: a long prompt goes to each provider as the client's bytes, escapes included, Anthropic then Gemini
--- config
    location /v1/ {
        llm_route claude gemini;
    }
--- request eval
main::long_request()
--- response_headers
X-LLM-Provider: gemini
X-LLM-Attempts: 2
--- response_body_like: "content":"It is cold\."
--- error_log
llm: provider "claude" answered 529 (retryable)



=== TEST 19: a long prompt goes to Cohere as the client's bytes
--- config
    location /v1/ {
        llm_route cohere;
    }
--- request eval
main::long_request()
--- response_body_like: "content":"It is cold\."
--- no_error_log
[error]


=== TEST 20: a body in two reads, split after the first byte, is one body
--- config
    location /v1/ {
        llm_route claude;
    }
--- raw_request eval
main::split_request(1)
--- raw_request_middle_delay: 0.02
--- response_body_like: "content":"It is cold\."
--- no_error_log
[error]


=== TEST 21: a body in two reads, split inside an escape, is one body
--- config
    location /v1/ {
        llm_route claude;
    }
--- raw_request eval
main::split_request(49)
--- raw_request_middle_delay: 0.02
--- response_body_like: "content":"It is cold\."
--- no_error_log
[error]


=== TEST 22: a body in two reads, split inside a UTF-8 character, is one body
--- config
    location /v1/ {
        llm_route claude;
    }
--- raw_request eval
main::split_request(64)
--- raw_request_middle_delay: 0.02
--- response_body_like: "content":"It is cold\."
--- error_log
llm: request body of 1271 bytes in one piece
--- no_error_log
[error]


=== TEST 23: a body in two reads, split after the first read of a long string, is one body
--- config
    location /v1/ {
        llm_route claude;
    }
--- raw_request eval
main::split_request(600)
--- raw_request_middle_delay: 0.02
--- response_body_like: "content":"It is cold\."
--- no_error_log
[error]



=== TEST 24: a body in two reads, and the next request right behind it on the connection
--- config
    location /v1/ {
        llm_route claude;
    }
--- raw_request eval
main::split_request(49, "POST /v1/chat/completions HTTP/1.1\r\n"
                        . "Host: localhost\r\nConnection: close\r\n"
                        . "Content-Type: application/json\r\n"
                        . "Content-Length: 13\r\n\r\n{\"second\": [1")
--- raw_request_middle_delay: 0.02
--- response_body_like: "content":"It is cold\."
--- error_log
llm: rejected request: The request body is not valid JSON
--- no_error_log
[error]



=== TEST 25: a small body in two reads: the rest lands behind the first part, and is parsed where it is
--- config
    location /v1/ {
        llm_route claude;
    }
--- raw_request eval
main::split_request(30, undef, 5)
--- raw_request_middle_delay: 0.02
--- response_body_like: "content":"It is cold\."
--- error_log
llm: request body of 221 bytes in one piece
--- no_error_log
[error]



=== TEST 26: a body in two reads that NGINX keeps in two buffers (larger than client_body_buffer_size) is gathered
--- config
    location /v1/ {
        client_body_buffer_size 1k;
        llm_route claude;
    }
--- raw_request eval
main::split_request(64)
--- raw_request_middle_delay: 0.02
--- response_body_like: "content":"It is cold\."
--- error_log
llm: request body of 1271 bytes gathered
--- no_error_log
[error]



=== TEST 27: two requests on one connection, each body in two reads, each in one piece
--- config
    location /v1/ {
        llm_route claude;
    }
--- raw_request eval
my $first = main::split_request(600, "x");
my $second = main::split_request(100, undef, 20);
[$first->[0], substr($first->[1], 0, -1) . $second->[0], $second->[1]]
--- raw_request_middle_delay: 0.02
--- response_body_like: "content":"It is cold\."
--- grep_error_log eval: qr/llm: request body of \d+ bytes [a-z ]+|llm status \d+/
--- grep_error_log_out
llm: request body of 1271 bytes in one piece
llm status 200
llm: request body of 671 bytes in one piece
llm status 200
--- no_error_log
[error]



=== TEST 28: an answer that cannot be translated, then one in two chunks: the second is translated whole
--- config
    location /v1/ {
        llm_route claude_garbage claude_late;
    }
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"Weather in Oslo?"}]}
--- response_body_like: ^\{"id":"msg_4","object":"chat\.completion",.*"message":\{"role":"assistant","content":"Late, but whole(?: and long){25}\.","refusal":null\},"logprobs":null,"finish_reason":"stop"\}\],"usage":\{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14
--- error_log
llm: provider "claude_garbage" sent an invalid answer



=== TEST 29: an answer that cannot be translated, then one read with its header: the second is translated
--- config
    location /v1/ {
        llm_route claude_garbage claude_whole;
    }
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"Weather in Oslo?"}]}
--- response_body_like: ^\{"id":"msg_5","object":"chat\.completion",.*"message":\{"role":"assistant","content":"Whole at once\.","refusal":null\},"logprobs":null,"finish_reason":"stop"\}\],"usage":\{"prompt_tokens":10,"completion_tokens":3,"total_tokens":13
--- error_log
llm: provider "claude_garbage" sent an invalid answer
