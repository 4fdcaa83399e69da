# HTTPS to providers: certificate verification and SNI on by default,
# against local TLS mocks whose certificates come from a test CA
# (t/gen-certs.sh; the test command makes them).

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-tls-key';
}

repeat_each(1);
no_shuffle();

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

our $HttpConfig = <<'_EOC_';
    llm_provider good {
        type     openai;
        url      https://localhost:1986/v1;
        model    gpt-4o-mini;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider wrongname {
        type     openai;
        url      https://localhost:1987/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider selfsigned {
        type     openai;
        url      https://localhost:1988/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.crt;

    server {
        listen 127.0.0.1:1986 ssl;
        error_log logs/mock.log info;
        ssl_certificate     $TEST_NGINX_CERT_DIR/localhost.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/localhost.key;

        location / {
            default_type application/json;
            echo_read_request_body;
            echo "sni=$ssl_server_name uri=$request_uri";
            echo "auth=$http_authorization";
            echo "conn-requests=$connection_requests";
            echo "body=$request_body";
        }
    }

    server {
        listen 127.0.0.1:1987 ssl;
        error_log logs/mock.log info;
        ssl_certificate     $TEST_NGINX_CERT_DIR/wrongname.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/wrongname.key;

        location / {
            default_type application/json;
            return 200 "should not be reached";
        }
    }

    server {
        listen 127.0.0.1:1988 ssl;
        error_log logs/mock.log info;
        ssl_certificate     $TEST_NGINX_CERT_DIR/selfsigned.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/selfsigned.key;

        location / {
            default_type application/json;
            echo "self-signed reached";
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
        llm_route good wrongname selfsigned;
    }
_EOC_
        unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: HTTPS with a verified certificate, SNI and the provider's key
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"Hello"}]}
--- response_body eval
qq{sni=localhost uri=/v1/chat/completions\n}
. qq{auth=Bearer ***************\n}
. qq{conn-requests=1\n}
. qq{body={"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}\n}
--- no_error_log
[error]



=== TEST 2: keep-alive TLS connections are reused
--- request eval
[
"POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"one"}]}',
"POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"two"}]}',
]
--- response_body_like eval
[qr/conn-requests=1\n/, qr/conn-requests=2\n/]



=== TEST 3: a certificate for another name is rejected
--- request
POST /v1/chat/completions
{"model":"wrongname","messages":[{"role":"user","content":"Hello"}]}
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"provider_error"
--- error_log
upstream SSL certificate does not match "localhost"



=== TEST 4: a certificate from an unknown CA is rejected
--- request
POST /v1/chat/completions
{"model":"selfsigned","messages":[{"role":"user","content":"Hello"}]}
--- error_code: 502
--- response_body_like: "code":"provider_error"
--- error_log eval
qr/upstream SSL certificate verify error: \(\d+:self[- ]signed certificate/



=== TEST 5: llm_ssl_verify off accepts any certificate
--- config
    location /v1/ {
        llm_ssl_verify off;
        llm_route selfsigned;
    }
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"Hello"}]}
--- response_body
self-signed reached
