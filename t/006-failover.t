# Failover: when a provider fails before the client got anything, the
# request goes to the next provider of the route, encoded for it.

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-failover-key';
}

repeat_each(1);
no_shuffle();

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

our $HttpConfig = <<'_EOC_';
    llm_provider refused {
        type     openai;
        url      http://127.0.0.1:1/v1;
        model    gpt-4o-mini;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider slow {
        type     openai;
        url      http://127.0.0.1:1985/slow/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider limited {
        type     openai;
        url      http://127.0.0.1:1985/429/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider broken {
        type     openai;
        url      http://127.0.0.1:1985/500/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider unavailable {
        type     openai;
        url      http://127.0.0.1:1985/503/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider badrequest {
        type     openai;
        url      http://127.0.0.1:1985/400/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider badkey {
        type     openai;
        url      http://127.0.0.1:1985/401/v1;
        api_key  env:LLM_TEST_KEY;
    }

    # an echo of what it got (not a chat.completion: type openai, whose
    # answers are relayed as they are)
    llm_provider backup {
        type     openai;
        url      http://127.0.0.1:1985/echo/v1;
        model    mistral-small-latest;
        api_key  env:LLM_TEST_KEY;
    }

    server {
        listen 127.0.0.1:1985;
        error_log logs/mock.log info;
        default_type application/json;

        location /echo/ {
            echo_read_request_body;
            echo "uri=$request_uri body=$request_body";
        }

        location /slow/ {
            echo_sleep 3;
            echo "too late";
        }

        location /429/ {
            default_type application/json;
            return 429 '{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}';
        }

        location /500/ {
            return 500;
        }

        location /503/ {
            default_type application/json;
            return 503 '{"error":{"message":"The engine is overloaded","type":"server_error","param":null,"code":null}}';
        }

        location /400/ {
            default_type application/json;
            return 400 '{"error":{"message":"This model\'s maximum context length is 8192 tokens","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}';
        }

        location /401/ {
            default_type application/json;
            return 401 '{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}';
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('main_config', "load_module $EchoModule;")
        unless defined $block->main_config;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('request', <<'_EOC_')
POST /v1/chat/completions
{"messages":[{"role":"user","content":"Hi"}]}
_EOC_
        unless defined $block->request;
});

run_tests();

__DATA__

=== TEST 1: connection refused: the next provider answers, with its own encoding
--- config
    location /v1/ {
        llm_route refused backup;
    }
--- response_headers
X-LLM-Provider: backup
X-LLM-Attempts: 2
--- response_body
uri=/echo/v1/chat/completions body={"model":"mistral-small-latest","messages":[{"role":"user","content":"Hi"}]}
--- error_log
connect() failed (111: Connection refused)
llm: provider "refused" failed



=== TEST 2: timeout: the next provider answers
--- config
    location /v1/ {
        llm_read_timeout 300ms;
        llm_route slow backup;
    }
--- response_headers
X-LLM-Provider: backup
X-LLM-Attempts: 2
--- response_body_like: ^uri=/echo/v1/chat/completions
--- error_log
upstream timed out



=== TEST 3: 429 fails over
--- config
    location /v1/ {
        llm_route limited backup;
    }
--- response_headers
X-LLM-Provider: backup
X-LLM-Attempts: 2
--- response_body_like: ^uri=/echo/



=== TEST 4: 500 fails over
--- config
    location /v1/ {
        llm_route broken backup;
    }
--- response_headers
X-LLM-Provider: backup
--- response_body_like: ^uri=/echo/



=== TEST 5: 503 fails over, through several providers
--- config
    location /v1/ {
        llm_route unavailable limited broken backup;
    }
--- response_headers
X-LLM-Provider: backup
X-LLM-Attempts: 4
--- response_body_like: ^uri=/echo/



=== TEST 6: a 400 from the provider is not retried elsewhere
--- config
    location /v1/ {
        llm_route badrequest backup;
    }
--- error_code: 400
--- response_headers
X-LLM-Provider: badrequest
X-LLM-Attempts: 1
--- response_body_like: "code":"context_length_exceeded"



=== TEST 7: a 401 from the provider is not retried elsewhere
--- config
    location /v1/ {
        llm_route badkey backup;
    }
--- error_code: 401
--- response_headers
X-LLM-Provider: badkey
X-LLM-Attempts: 1
--- response_body_like: "code":"invalid_api_key"



=== TEST 8: every provider fails: a 502 that says which and why
--- config
    location /v1/ {
        llm_read_timeout 300ms;
        llm_route refused slow unavailable limited;
    }
--- error_code: 502
--- response_headers
Content-Type: application/json
X-LLM-Attempts: 4
--- response_body chomp
{"error":{"message":"No provider could answer: refused (no valid answer), slow (timed out), unavailable (HTTP 503), limited (HTTP 429).","type":"api_error","param":null,"code":"all_providers_failed"}}



=== TEST 9: every provider fails, the last one before answering
--- config
    location /v1/ {
        llm_route unavailable refused;
    }
--- error_code: 502
--- response_body_like: "message":"No provider could answer: unavailable \(HTTP 503\), refused \(no valid answer\)\."



=== TEST 10: llm_next_upstream_tries limits the providers tried
--- config
    location /v1/ {
        llm_next_upstream_tries 2;
        llm_route unavailable limited backup;
    }
--- error_code: 503
--- response_headers
X-LLM-Attempts: 2
--- response_body_like: No provider could answer: unavailable \(HTTP 503\), limited \(HTTP 429\)\.



=== TEST 11: llm_next_upstream off: the first provider's answer stands
--- config
    location /v1/ {
        llm_next_upstream off;
        llm_route unavailable backup;
    }
--- error_code: 503
--- response_headers
X-LLM-Attempts: 1
--- response_body_like: The engine is overloaded



=== TEST 12: llm_next_upstream without http_429
--- config
    location /v1/ {
        llm_next_upstream error timeout http_503;
        llm_route limited backup;
    }
--- error_code: 429
--- response_body_like: "code":"rate_limit_exceeded"



=== TEST 13: a pinned model is tried first, the others follow
--- config
    location /v1/ {
        llm_route backup refused unavailable;
    }
--- request
POST /v1/chat/completions
{"model":"unavailable","messages":[{"role":"user","content":"Hi"}]}
--- response_headers
X-LLM-Provider: backup
X-LLM-Attempts: 2
--- response_body_like: ^uri=/echo/



=== TEST 14: variables and llm_headers off
--- config
    location /v1/ {
        llm_headers off;
        add_header X-Answered-By "$llm_provider after $llm_attempts" always;
        llm_route refused backup;
    }
--- response_headers
!X-LLM-Provider
!X-LLM-Attempts
X-Answered-By: backup after 2
--- response_body_like: ^uri=/echo/



=== TEST 15: llm_next_upstream_timeout: no failover once the time is up
--- config
    location /v1/ {
        llm_read_timeout 600ms;
        llm_next_upstream_timeout 300ms;
        llm_route slow backup;
    }
--- error_code: 504
--- response_headers
X-LLM-Provider: slow
X-LLM-Attempts: 1
--- response_body_like: "code":"provider_timeout"



=== TEST 16: within llm_next_upstream_timeout the next provider answers
--- config
    location /v1/ {
        llm_read_timeout 300ms;
        llm_next_upstream_timeout 10s;
        llm_route slow backup;
    }
--- response_headers
X-LLM-Provider: backup
X-LLM-Attempts: 2
--- response_body_like: ^uri=/echo/
