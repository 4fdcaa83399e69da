# Mistral: what the provider receives is what Mistral's API takes
# ("developer" as "system", 9-character tool-call ids that still pair the
# call with its result, renamed and dropped fields), what it cannot take
# is a 400 before it is asked, and its answers reach the client in the
# OpenAI shape ("logprobs" in every choice, tool calls with a "type",
# "model_length" as "length"), streamed or not.
#
# The mock behaves like Mistral's API: it rejects a developer role, a
# tool-call id that is not 9 alphanumerics and a user "name" with
# Mistral's own 422, and answers only the exact bodies it expects.

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-mistral-key';
}

repeat_each(1);
no_shuffle();

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

our $HttpConfig = <<'_EOC_';
    map $request_body $mistral {
        '~"role":"developer"'
            developer;
        '~"(?:id|tool_call_id)":"(?![A-Za-z0-9]{9}")'
            badid;
        '~"role":"user","name"'
            name;
        '~^\{"model":"mistral-x","messages":\[\{"role":"system","content":"Be terse\."\},\{"role":"user","content":"Hi"\}\],"max_tokens":64,"random_seed":7\}$'
            text;
        '~^\{"model":"mistral-x","messages":\[\{"role":"system","content":"Use tools\."\},\{"role":"user","content":"Weather in Oslo\?"\},\{"role":"assistant","content":null,"tool_calls":\[\{"id":"([A-Za-z0-9]{9})","type":"function","function":\{"name":"get_weather","arguments":"\{[^}]*\}"\}\},\{"id":"([A-Za-z0-9]{9})","type":"function","function":\{"name":"get_time","arguments":"\{\}"\}\}\]\},\{"role":"tool","tool_call_id":"\1","content":"4 degrees"\},\{"role":"tool","tool_call_id":"\2","content":"noon"\}\]\}$'
            final;
        '~^\{"model":"mistral-x","messages":\[\{"role":"user","content":"Weather in Oslo\?"\}\],"tools":\[\{"type":"function","function":\{"name":"get_weather","parameters":\{"type":"object"\}\}\}\],"tool_choice":"any","parallel_tool_calls":false\}$'
            tool;
        '~^\{"model":"mistral-x","stream":true,"messages":\[\{"role":"system","content":"s"\},\{"role":"user","content":"Hi"\}\]\}$'
            stream;
        '~"D681PevKs"'
            kept;
        default
            unexpected;
    }

    llm_provider mistral {
        type     mistral;
        url      http://127.0.0.1:1991/v1;
        model    mistral-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider mistral-down {
        type     mistral;
        url      http://127.0.0.1:1/v1;
        model    mistral-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider openai-down {
        type     openai;
        url      http://127.0.0.1:1/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider openai-echo {
        type     openai;
        url      http://127.0.0.1:1991/echo/v1;
        api_key  env:LLM_TEST_KEY;
    }

    server {
        listen 127.0.0.1:1991;
        error_log logs/mock.log info;
        default_type application/json;

        location = /v1/chat/completions {
            if ($http_authorization != "Bearer sk-test-mistral-key") {
                return 401 '{"message":"Unauthorized","request_id":"r1"}';
            }
            echo_read_request_body;
            echo_exec /_mistral/$mistral;
        }

        location /echo/ {
            echo_read_request_body;
            echo $request_body;
        }

        location = /_mistral/text {
            return 200 '{"id":"m-1","object":"chat.completion","created":1767225600,"model":"mistral-x-2501","choices":[{"index":0,"message":{"role":"assistant","content":"Hello.","tool_calls":null,"prefix":false},"finish_reason":"model_length"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}';
        }

        location = /_mistral/tool {
            return 200 '{"id":"m-2","object":"chat.completion","created":1767225600,"model":"mistral-x-2501","choices":[{"index":0,"message":{"role":"assistant","content":"","tool_calls":[{"id":"D681PevKs","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Oslo\\"}"},"index":0}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":20,"completion_tokens":8,"total_tokens":28}}';
        }

        location = /_mistral/final {
            return 200 '{"id":"m-3","object":"chat.completion","created":1767225600,"model":"mistral-x-2501","choices":[{"index":0,"message":{"role":"assistant","content":"4 degrees at noon."},"finish_reason":"stop"}],"usage":{"prompt_tokens":40,"completion_tokens":6,"total_tokens":46}}';
        }

        location = /_mistral/kept {
            return 200 '{"id":"m-4","object":"chat.completion","created":1767225600,"model":"mistral-x-2501","choices":[{"index":0,"message":{"role":"assistant","content":"kept"},"finish_reason":"stop","logprobs":null}]}';
        }

        location = /_mistral/stream {
            default_type text/event-stream;
            echo -n 'data: {"id":"m-s","object":"chat.completion.chunk","created":1767225600,"model":"mistral-x-2501","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n';
            echo_flush;
            echo -n 'data: {"id":"m-s","object":"chat.completion.chunk","created":1767225600,"model":"mistral-x-2501","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\ndata: {"id":"m-s","object":"chat.completion.chunk","created":1767225600,"model":"mistral-x-2501","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}\n\n';
            echo -n 'data: [DONE]\n\n';
        }

        location = /_mistral/developer {
            return 422 '{"object":"error","message":{"detail":[{"type":"literal_error","loc":["body","messages",0,"role"],"msg":"Input should be system, user, assistant or tool"}]},"type":"invalid_request_error","param":null,"code":null}';
        }

        location = /_mistral/badid {
            return 400 '{"object":"error","message":"Tool call id was call_1 but must be a-z, A-Z, 0-9, with a length of 9.","type":"invalid_request_error","param":null,"code":"3280"}';
        }

        location = /_mistral/name {
            return 422 '{"object":"error","message":{"detail":[{"type":"extra_forbidden","loc":["body","messages",1,"user","name"],"msg":"Extra inputs are not permitted"}]},"type":"invalid_request_error","param":null,"code":null}';
        }

        location = /_mistral/unexpected {
            return 400 '{"object":"error","message":"the mock did not expect this request","type":"invalid_request_error","param":null,"code":null}';
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('main_config', "load_module $EchoModule;")
        unless defined $block->main_config;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config', <<'_EOC_')
    location /v1/ {
        llm_next_upstream off;
        llm_route mistral;
    }
_EOC_
        unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: developer as system, user name dropped, fields renamed and dropped; logprobs and "length" in the answer
--- request
POST /v1/chat/completions
{"model":"any","messages":[{"role":"developer","content":"Be terse."},{"role":"user","content":"Hi","name":"bob"}],"max_completion_tokens":64,"seed":7,"user":"u-1","store":false,"logprobs":false}
--- more_headers
Authorization: Bearer client-token
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"id":"m-1","object":"chat\.completion","created":1767225600,"model":"mistral-x-2501","choices":\[\{"index":0,"message":\{"role":"assistant","content":"Hello\.","tool_calls":null,"prefix":false\},"finish_reason":"length","logprobs":null\}\],"usage":\{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11\}\}$
--- no_error_log
[error]



=== TEST 2: tool_choice "required" is sent as "any"; Mistral's tool-call id is kept, its type added
--- request
POST /v1/chat/completions
{"model":"any","messages":[{"role":"user","content":"Weather in Oslo?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],"tool_choice":"required","parallel_tool_calls":false}
--- response_body_like: "tool_calls":\[\{"id":"D681PevKs","function":\{"name":"get_weather","arguments":"\{\\"city\\":\\"Oslo\\"\}"\},"index":0,"type":"function"\}\]\},"finish_reason":"tool_calls","logprobs":null\}
--- no_error_log
[error]



=== TEST 3: the tool result round trip with OpenAI ids: 9-character ids, each result paired with its call
--- request
POST /v1/chat/completions
{"model":"any","messages":[{"role":"developer","content":"Use tools."},{"role":"user","content":"Weather in Oslo?"},{"role":"assistant","content":null,"refusal":null,"tool_calls":[{"id":"call_Qm9vT2xkWjVwWmRr","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},{"id":"toolu_01A09q90qw90lq917835lq9","type":"function","function":{"name":"get_time","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_Qm9vT2xkWjVwWmRr","content":"4 degrees"},{"role":"tool","tool_call_id":"toolu_01A09q90qw90lq917835lq9","content":"noon"}]}
--- response_body_like: ^\{"id":"m-3",.*"content":"4 degrees at noon\."\},"finish_reason":"stop","logprobs":null\}\]
--- no_error_log
[error]



=== TEST 4: Mistral's own ids go back as they are; an answer with logprobs is relayed byte for byte
--- request
POST /v1/chat/completions
{"model":"any","messages":[{"role":"user","content":"q"},{"role":"assistant","content":null,"tool_calls":[{"id":"D681PevKs","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"D681PevKs","content":"r"}]}
--- response_body chomp
{"id":"m-4","object":"chat.completion","created":1767225600,"model":"mistral-x-2501","choices":[{"index":0,"message":{"role":"assistant","content":"kept"},"finish_reason":"stop","logprobs":null}]}
--- no_error_log
[error]



=== TEST 5: streamed: logprobs in every chunk, usage stripped, then [DONE]
--- request
POST /v1/chat/completions
{"model":"any","stream":true,"messages":[{"role":"developer","content":"s"},{"role":"user","content":"Hi"}]}
--- response_headers
Content-Type: text/event-stream
--- response_body eval
'data: {"id":"m-s","object":"chat.completion.chunk","created":1767225600,"model":"mistral-x-2501","choices":[{"logprobs":null,"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

data: {"id":"m-s","object":"chat.completion.chunk","created":1767225600,"model":"mistral-x-2501","choices":[{"logprobs":null,"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}

data: {"id":"m-s","object":"chat.completion.chunk","created":1767225600,"model":"mistral-x-2501","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop","logprobs":null}]}

data: [DONE]

'
--- no_error_log
[error]



=== TEST 6: streamed, usage asked: a usage chunk of its own before [DONE]
--- request
POST /v1/chat/completions
{"model":"any","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"developer","content":"s"},{"role":"user","content":"Hi"}]}
--- response_body_like: "content":"lo"\},"finish_reason":"stop","logprobs":null\}\]\}\n\ndata: \{"id":"m-s","object":"chat\.completion\.chunk","created":1767225600,"model":"mistral-x-2501","choices":\[\],"usage":\{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7\}\}\n\ndata: \[DONE\]\n\n$
--- no_error_log
[error]



=== TEST 7: logprobs asked: a 400 before Mistral is contacted
--- request
POST /v1/chat/completions
{"model":"any","messages":[{"role":"user","content":"Hi"}],"logprobs":true,"top_logprobs":3}
--- error_code: 400
--- response_body_like: ^\{"error":\{"message":"'logprobs' is not supported by Mistral providers","type":"invalid_request_error","param":"logprobs","code":"unsupported_parameter"\}\}$
--- error_log
llm: request cannot be sent to provider "mistral"



=== TEST 8: a last assistant message without "prefix": a 400 that says how
--- request
POST /v1/chat/completions
{"model":"any","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Well,"}]}
--- error_code: 400
--- response_body_like: "message":"messages\[1\]: Mistral providers take a last message from the user or a tool, or an assistant message with \\"prefix\\": true"



=== TEST 9: legacy function calling and custom tools: a 400
--- request eval
['POST /v1/chat/completions
{"model":"any","messages":[{"role":"user","content":"Hi"}],"functions":[{"name":"f"}]}',
'POST /v1/chat/completions
{"model":"any","messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"custom","custom":{"name":"g"}}]}']
--- error_code eval
[400, 400]
--- response_body_like eval
[qr/"param":"functions","code":"unsupported_parameter"/,
 qr/"message":"tools\[0\]: Mistral providers take function tools only"/]



=== TEST 10: failover from OpenAI to Mistral: the request is encoded for Mistral
--- config
    location /v1/ {
        llm_route openai-down mistral;
    }
--- request
POST /v1/chat/completions
{"model":"any","messages":[{"role":"developer","content":"Be terse."},{"role":"user","content":"Hi","name":"bob"}],"max_completion_tokens":64,"seed":7}
--- response_headers
X-LLM-Provider: mistral
X-LLM-Attempts: 2
--- response_body_like: ^\{"id":"m-1",.*"finish_reason":"length","logprobs":null\}
--- error_log
llm: provider "openai-down" failed



=== TEST 11: failover from Mistral to OpenAI: OpenAI gets the client's body
--- config
    location /v1/ {
        llm_route mistral-down openai-echo;
    }
--- request
POST /v1/chat/completions
{"model":"any","messages":[{"role":"developer","content":"s"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"r"}],"seed":7}
--- response_headers
X-LLM-Provider: openai-echo
X-LLM-Attempts: 2
--- response_body
{"model":"any","messages":[{"role":"developer","content":"s"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"r"}],"seed":7}
