# Forwarding to an OpenAI-format provider through the module's own
# upstream: what the provider receives, what the client gets back.

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-provider-key-7f3a9c';
}

repeat_each(1);
no_shuffle();
log_level('debug');

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

# "mock" reports what it received (the key it got comes back masked, as
# any key a provider echoes); the other locations of the mock
# server answer in the ways a provider can.
our $HttpConfig = <<'_EOC_';
    llm_provider mock {
        type     openai;
        url      http://127.0.0.1:1985/echo/v1;
        model    gpt-4o-mini;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider asis {
        type     openai;
        url      http://127.0.0.1:1985/echo;
        api_key  off;
    }

    llm_provider fixed {
        type     mistral;
        url      http://127.0.0.1:1985/fixed/v1;
        model    mistral-small-latest;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider ratelimited {
        type     openai;
        url      http://127.0.0.1:1985/429/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider broken {
        type     openai;
        url      http://127.0.0.1:1985/500/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider unauthorized {
        type     mistral;
        url      http://127.0.0.1:1985/401/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider empty-error {
        type     openai;
        url      http://127.0.0.1:1985/503/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider slow {
        type     openai;
        url      http://127.0.0.1:1985/slow/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider sse {
        type     openai;
        url      http://127.0.0.1:1985/sse/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider down {
        type     openai;
        url      http://127.0.0.1:1/v1;
        api_key  env:LLM_TEST_KEY;
    }

    server {
        listen 127.0.0.1:1985;
        error_log logs/mock.log info;
        client_body_buffer_size 1m;
        client_max_body_size 10m;

        location /echo/ {
            default_type application/json;
            echo_read_request_body;
            echo "method=$request_method uri=$request_uri";
            echo "host=$http_host";
            echo "auth=$http_authorization";
            echo "cookie=$http_cookie";
            echo "accept-encoding=$http_accept_encoding";
            echo "x-client=$http_x_client";
            echo "content-type=$content_type";
            echo "content-length=$http_content_length";
            echo "conn-requests=$connection_requests";
            echo "body=$request_body";
        }

        location = /fixed/v1/chat/completions {
            default_type application/json;
            add_header X-Request-Id req-fixed-1;
            add_header Set-Cookie provider-cookie=1;
            return 200 '{"id":"cmpl-1","object":"chat.completion","created":1767225600,"model":"mistral-small-latest","choices":[{"index":0,"message":{"role":"assistant","content":"fixed"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}';
        }

        location = /429/v1/chat/completions {
            default_type application/json;
            return 429 '{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"tokens","param":null,"code":"rate_limit_exceeded"}}';
        }

        location = /500/v1/chat/completions {
            default_type text/html;
            return 500 '<html><body>upstream exploded</body></html>';
        }

        location = /401/v1/chat/completions {
            default_type application/json;
            return 401 '{"message":"Unauthorized","request_id":"abc"}';
        }

        location = /503/v1/chat/completions {
            return 503 '';
        }

        location = /slow/v1/chat/completions {
            echo_sleep 3;
            echo "too late";
        }

        location = /sse/v1/chat/completions {
            default_type text/event-stream;
            echo -n 'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n';
            echo_flush;
            echo_sleep 0.1;
            echo -n 'data: {"choices":[{"index":0,"delta":{"content":"b"}}]}\n\n';
            echo_flush;
            echo_sleep 0.1;
            echo -n 'data: [DONE]\n\n';
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
        # one provider per request: failover is tested elsewhere
        llm_next_upstream off;
        llm_route mock asis fixed ratelimited broken unauthorized
                  empty-error slow sse down;
    }
_EOC_
        unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: what the provider receives: path, its key, its model, nothing of the client's
--- request
POST /v1/chat/completions
{"model":"mock","messages":[{"role":"user","content":"Hello"}]}
--- more_headers
Authorization: Bearer client-secret-token
Cookie: session=client-cookie
Accept-Encoding: gzip, br
X-Client: client-header
--- response_body_like eval
qr{^method=POST uri=/echo/v1/chat/completions
host=127\.0\.0\.1:1985
auth=Bearer \*{27}
cookie=
accept-encoding=
x-client=
content-type=application/json
content-length=\d+
conn-requests=\d+
body=\{"model":"gpt-4o-mini","messages":\[\{"role":"user","content":"Hello"\}\]\}
$}s
--- no_error_log
[error]
sk-test-provider-key-7f3a9c



=== TEST 2: the provider key never reaches the log, even at debug level
--- request
POST /v1/chat/completions
{"model":"mock","messages":[{"role":"user","content":"Hello"}]}
--- response_body_like: auth=Bearer \*{27}\n
--- error_log
llm: provider "mock"
--- no_error_log
sk-test-provider-key-7f3a9c



=== TEST 3: the first provider of the route serves requests without a model
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"Hi"}]}
--- response_body_like: "model":"gpt-4o-mini"



=== TEST 4: an unknown model goes to the first provider, with the provider's model
--- request
POST /v1/chat/completions
{"model":"gpt-5-turbo","messages":[{"role":"user","content":"Hi"}]}
--- response_body_like: body=\{"model":"gpt-4o-mini","messages"



=== TEST 5: model pinning picks a later provider of the route
--- request
POST /v1/chat/completions
{"model":"fixed","messages":[{"role":"user","content":"Hi"}]}
--- response_headers
Content-Type: application/json
X-Request-Id: req-fixed-1
!Set-Cookie
--- response_body_like: ^\{"id":"cmpl-1","object":"chat.completion".*"content":"fixed"



=== TEST 6: a provider without "model" gets the client's model unchanged, and no key
--- request
POST /v1/chat/completions
{"model":"asis","messages":[{"role":"user","content":"Hi"}],"temperature":0.5}
--- more_headers
Authorization: Bearer client-secret-token
--- response_body_like eval
qr{uri=/echo/chat/completions\n.*auth=\n.*body=\{"model":"asis","messages":\[\{"role":"user","content":"Hi"\}\],"temperature":0\.5\}\n$}s



=== TEST 7: a Content-Length body from the provider keeps its length
--- request
POST /v1/chat/completions
{"model":"fixed","messages":[{"role":"user","content":"Hi"}]}
--- response_headers
Content-Length: 273
--- response_body_like: "usage":\{"prompt_tokens":3



=== TEST 8: a chunked body from the provider is relayed whole
--- request
POST /v1/chat/completions
{"model":"mock","messages":[{"role":"user","content":"chunked please"}]}
--- response_headers
!Content-Length
--- response_body_like: content":"chunked please"\}\]\}\n$
--- error_log
llm header done, status:200 chunked:1



=== TEST 9: request body larger than client_body_buffer_size (spooled to a file)
--- config
    location /v1/ {
        client_body_buffer_size 1k;
        llm_route mock;
    }
--- request eval
"POST /v1/chat/completions\n" . '{"model":"mock","messages":[{"role":"user","content":"' . ('0123456789' x 800) . 'END"}]}'
--- response_body_like: body=\{"model":"gpt-4o-mini","messages":\[\{"role":"user","content":"(0123456789){800}END"\}\]\}
--- error_log
a client request body is buffered to a temporary file



=== TEST 10: keep-alive connections to the provider are reused
--- request eval
[
"POST /v1/chat/completions\n" . '{"model":"mock","messages":[{"role":"user","content":"one"}]}',
"POST /v1/chat/completions\n" . '{"model":"mock","messages":[{"role":"user","content":"two"}]}',
]
--- response_body_like eval
[qr/conn-requests=1\n/, qr/conn-requests=2\n/]
--- error_log
llm: keepalive connection



=== TEST 11: a provider's own OpenAI-style error reaches the client as it is
--- request
POST /v1/chat/completions
{"model":"ratelimited","messages":[{"role":"user","content":"Hi"}]}
--- error_code: 429
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"tokens","param":null,"code":"rate_limit_exceeded"}}



=== TEST 12: a provider's HTML 500 becomes an OpenAI-style error
--- request
POST /v1/chat/completions
{"model":"broken","messages":[{"role":"user","content":"Hi"}]}
--- error_code: 500
--- response_headers
Content-Type: application/json
--- response_body_like: ^(?!.*exploded)\{"error":\{"message":"[^"]+","type":"[a-z_]+","param":null,"code":[^}]*\}\}$



=== TEST 13: a provider's non-OpenAI error shape is translated
--- request
POST /v1/chat/completions
{"model":"unauthorized","messages":[{"role":"user","content":"Hi"}]}
--- error_code: 401
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"Unauthorized","type":"authentication_error"



=== TEST 14: a provider's error without a body
--- request
POST /v1/chat/completions
{"model":"empty-error","messages":[{"role":"user","content":"Hi"}]}
--- error_code: 503
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"[^"]+","type":"[a-z_]+"



=== TEST 15: provider unreachable
--- request
POST /v1/chat/completions
{"model":"down","messages":[{"role":"user","content":"Hi"}]}
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"The provider \\"down\\" could not be reached or sent an invalid response\.","type":"api_error","param":null,"code":"provider_error"\}\}$
--- error_log
connect() failed (111: Connection refused)



=== TEST 16: provider too slow: llm_read_timeout
--- config
    location /v1/ {
        llm_read_timeout 500ms;
        llm_route slow;
    }
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"Hi"}]}
--- error_code: 504
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"provider_timeout"
--- error_log
upstream timed out



=== TEST 17: a stream passes through as Server-Sent Events
The events are relayed as they are; the provider sent no finish chunk, so
the gateway adds one before "data: [DONE]".
--- request
POST /v1/chat/completions
{"model":"sse","stream":true,"messages":[{"role":"user","content":"Hi"}]}
--- response_headers
Content-Type: text/event-stream
--- response_body_like eval
qr{^\Qdata: {"choices":[{"index":0,"delta":{"content":"a"}}]}\E\n\n}
. qr{\Qdata: {"choices":[{"index":0,"delta":{"content":"b"}}]}\E\n\n}
. qr{data: \{[^\n]*"finish_reason":"stop"\}\]\}\n\n}
. qr{data: \[DONE\]\n\n\z}
