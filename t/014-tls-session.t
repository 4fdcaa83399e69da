# TLS session reuse to providers (llm_ssl_session_reuse): a new connection
# to a provider resumes the session of the previous one, with TLS 1.3 and
# TLS 1.2; not when the directive is off; not across locations.  The TLS
# mocks print $ssl_session_reused ("r" on a resumed session, "." on a full
# handshake).  Keep-alive to the providers is off, so that every request
# opens a new connection.

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-tls-session-key';
}

repeat_each(1);
no_shuffle();

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

our $HttpConfig = <<'_EOC_';
    llm_provider tls13 {
        type       openai;
        url        https://localhost:1986/v1;
        api_key    env:LLM_TEST_KEY;
        keepalive  0;
    }

    llm_provider tls12 {
        type       openai;
        url        https://localhost:1987/v1;
        api_key    env:LLM_TEST_KEY;
        keepalive  0;
    }

    llm_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.crt;

    server {
        listen 127.0.0.1:1986 ssl;
        default_type application/json;
        error_log logs/mock.log info;
        ssl_certificate     $TEST_NGINX_CERT_DIR/localhost.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/localhost.key;
        ssl_protocols       TLSv1.3;

        location / {
            echo "$ssl_protocol reused=$ssl_session_reused";
        }
    }

    server {
        listen 127.0.0.1:1987 ssl;
        default_type application/json;
        error_log logs/mock.log info;
        ssl_certificate     $TEST_NGINX_CERT_DIR/localhost.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/localhost.key;
        ssl_protocols       TLSv1.2;

        location / {
            echo "$ssl_protocol reused=$ssl_session_reused";
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('main_config', "load_module $EchoModule;")
        unless defined $block->main_config;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
});

run_tests();

__DATA__

=== TEST 1: TLS 1.3: the second connection resumes the session
--- config
    location /v1/ {
        llm_route tls13;
    }
--- request eval
[
"POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"one"}]}',
"POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"two"}]}',
"POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"three"}]}',
]
--- response_body eval
["TLSv1.3 reused=.\n", "TLSv1.3 reused=r\n", "TLSv1.3 reused=r\n"]
--- no_error_log
[error]



=== TEST 2: TLS 1.2: the second connection resumes the session
--- config
    location /v1/ {
        llm_route tls12;
    }
--- request eval
[
"POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"one"}]}',
"POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"two"}]}',
]
--- response_body eval
["TLSv1.2 reused=.\n", "TLSv1.2 reused=r\n"]
--- no_error_log
[error]



=== TEST 3: llm_ssl_session_reuse off: a full handshake every time
--- config
    location /v1/ {
        llm_ssl_session_reuse off;
        llm_route tls13;
    }
--- request eval
[
"POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"one"}]}',
"POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"two"}]}',
]
--- response_body eval
["TLSv1.3 reused=.\n", "TLSv1.3 reused=.\n"]
--- no_error_log
[error]



=== TEST 4: off at the http level, on in a location
--- http_config eval
$::HttpConfig . "    llm_ssl_session_reuse off;\n"
--- config
    location /v1/ {
        llm_ssl_session_reuse on;
        llm_route tls13;
    }
--- request eval
[
"POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"one"}]}',
"POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"two"}]}',
]
--- response_body eval
["TLSv1.3 reused=.\n", "TLSv1.3 reused=r\n"]



=== TEST 5: each location keeps its own sessions
--- config
    location /a/ {
        rewrite ^/a(/.*)$ $1 break;
        llm_route tls13;
    }
    location /b/ {
        rewrite ^/b(/.*)$ $1 break;
        llm_route tls13;
    }
--- request eval
[
"POST /a/v1/chat/completions\n" . '{"messages":[{"role":"user","content":"one"}]}',
"POST /a/v1/chat/completions\n" . '{"messages":[{"role":"user","content":"two"}]}',
"POST /b/v1/chat/completions\n" . '{"messages":[{"role":"user","content":"three"}]}',
"POST /b/v1/chat/completions\n" . '{"messages":[{"role":"user","content":"four"}]}',
]
--- response_body eval
["TLSv1.3 reused=.\n", "TLSv1.3 reused=r\n",
 "TLSv1.3 reused=.\n", "TLSv1.3 reused=r\n"]
