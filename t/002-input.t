# Bad client input gets a 4xx with an OpenAI-style error body before any
# provider is contacted; the discovery and not-found paths.

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-input-key';
}

repeat_each(1);
no_shuffle();

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

# A provider that must never be reached: every request it gets is logged
# as an error, and every block checks that no such line appears.
our $HttpConfig = <<'_EOC_';
    llm_provider mock {
        type     openai;
        url      http://127.0.0.1:1985/v1;
        model    gpt-4o-mini;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider second {
        type     mistral;
        url      http://127.0.0.1:1985/v1;
        api_key  env:LLM_TEST_KEY;
    }

    server {
        listen 127.0.0.1:1985;

        location / {
            access_log off;
            return 500 "provider reached";
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
        llm_route mock second;
    }
_EOC_
        unless defined $block->config;

    $block->set_value('no_error_log', "[error]\n[alert]\n[crit]")
        unless defined $block->no_error_log;
});

run_tests();

__DATA__

=== TEST 1: body is not JSON
--- request
POST /v1/chat/completions
this is not json
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"[^"]*JSON[^"]*","type":"invalid_request_error","param":null,"code":[^}]*\}\}$



=== TEST 2: empty body
--- request
POST /v1/chat/completions
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body_like: "message":"The request body is empty



=== TEST 3: body is JSON but not an object
--- request
POST /v1/chat/completions
[{"role":"user","content":"hi"}]
--- error_code: 400
--- response_body_like: "type":"invalid_request_error"



=== TEST 4: no messages
--- request
POST /v1/chat/completions
{"model":"mock"}
--- error_code: 400
--- response_body_like: "param":"messages"



=== TEST 5: messages is not an array
--- request
POST /v1/chat/completions
{"model":"mock","messages":"hello"}
--- error_code: 400
--- response_body_like: "param":"messages"



=== TEST 6: messages is empty
--- request
POST /v1/chat/completions
{"model":"mock","messages":[]}
--- error_code: 400
--- response_body_like: "param":"messages"



=== TEST 7: a message with an unknown role
--- request
POST /v1/chat/completions
{"messages":[{"role":"wizard","content":"hi"}]}
--- error_code: 400
--- response_body_like: messages\[0\].*role



=== TEST 8: content of the wrong type
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":42}]}
--- error_code: 400
--- response_body_like: messages\[0\].*content



=== TEST 9: model is not a string
--- request
POST /v1/chat/completions
{"model":7,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body_like: "param":"model"



=== TEST 10: stream is not a boolean
--- request
POST /v1/chat/completions
{"stream":"yes","messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body_like: "param":"stream"



=== TEST 11: temperature out of range
--- request
POST /v1/chat/completions
{"temperature":7,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body_like: "param":"temperature"



=== TEST 12: max_tokens not a positive integer
--- request
POST /v1/chat/completions
{"max_tokens":-3,"messages":[{"role":"user","content":"hi"}]}
--- error_code: 400
--- response_body_like: "param":"max_tokens"



=== TEST 13: a tool message without tool_call_id
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"hi"},{"role":"tool","content":"42"}]}
--- error_code: 400
--- response_body_like: tool_call_id



=== TEST 14: GET on the chat endpoint
--- request
GET /v1/chat/completions
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
--- response_body_like: "code":"method_not_allowed"



=== TEST 15: unknown path below the location
--- request
GET /v1/embeddingz
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"Unknown request URL: GET /v1/embeddingz\.[^"]*","type":"invalid_request_error","param":null,"code":"unknown_url"\}\}$



=== TEST 16: body larger than client_max_body_size
--- config
    location /v1/ {
        client_max_body_size 100;
        llm_route mock;
    }
--- request eval
"POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"' . ('x' x 500) . '"}]}'
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"The request body is too large[^"]*","type":"invalid_request_error","param":null,"code":"request_too_large"\}\}$
--- no_error_log
[alert]
[crit]



=== TEST 17: chunked request body larger than client_max_body_size
--- config
    location /v1/ {
        client_max_body_size 100;
        llm_route mock;
    }
--- raw_request eval
"POST /v1/chat/completions HTTP/1.1\r
Host: localhost\r
Connection: close\r
Transfer-Encoding: chunked\r
\r
1f4\r
" . ('x' x 500) . "\r
0\r
\r
"
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"request_too_large"
--- no_error_log
[alert]
[crit]



=== TEST 18: the models list names the location's providers
--- request
GET /v1/models
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"object":"list","data":\[\{"id":"mock","object":"model","created":\d+,"owned_by":"openai","endpoints":\["chat\.completions","embeddings"\]\},\{"id":"second","object":"model","created":\d+,"owned_by":"mistral","endpoints":\["chat\.completions","embeddings"\]\}\]\}$



=== TEST 19: POST on the models endpoint
--- request
POST /v1/models
{}
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body_like: "code":"method_not_allowed"



=== TEST 20: other locations are not touched by the error filter
--- config
    location /v1/ {
        llm_route mock;
    }
    location /plain {
        return 404;
    }
--- request
GET /plain
--- error_code: 404
--- response_headers
Content-Type: text/html
--- response_body_like: <title>404 Not Found</title>
