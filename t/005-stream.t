# Streams from an OpenAI-format provider reach the client event by event,
# as the provider sends them: nothing waits for the end of the answer.

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-stream-key';
}

repeat_each(1);
no_shuffle();

# one chunk of a chunked body
sub chunk {
    my $data = shift;
    return sprintf("%x\r\n%s\r\n", length($data), $data);
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', <<'_EOC_')
    llm_provider raw {
        type     openai;
        url      http://127.0.0.1:1990/v1;
        api_key  env:LLM_TEST_KEY;
    }
_EOC_
        unless defined $block->http_config;

    $block->set_value('config', <<'_EOC_')
    location /v1/ {
        llm_route raw;
    }
_EOC_
        unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: the first event is relayed while the provider keeps the stream open
The provider sends one event and then nothing more, without closing: the
client must already have that event when it gives up waiting. The client
speaks HTTP/1.0, so the body it gets is not chunked and what arrived before
it gave up can be checked (the real Test::Nginx refuses a chunked body that
has no last chunk).
--- tcp_listen: 1990
--- tcp_no_close
--- tcp_reply eval
"HTTP/1.1 200 OK\r
Content-Type: text/event-stream\r
Transfer-Encoding: chunked\r
\r
" . main::chunk("data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n")
--- request
POST /v1/chat/completions HTTP/1.0
{"stream":true,"messages":[{"role":"user","content":"Hi"}]}
--- timeout: 1
--- abort
--- response_body_like: ^data: \{"choices":\[\{"delta":\{"content":"Hi"\}\}\]\}\n\n$
--- no_error_log
[error]



=== TEST 2: events split across TCP packets arrive whole and in order
--- tcp_listen: 1990
--- tcp_reply_delay: 50ms
--- tcp_reply eval
[
"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
"11\r\ndata: {\"choices\":\r\n",
main::chunk("[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"),
main::chunk("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"),
main::chunk("data: [DONE]\n\n") . "0\r\n\r\n",
]
--- request
POST /v1/chat/completions
{"stream":true,"messages":[{"role":"user","content":"Hi"}]}
--- response_headers
Content-Type: text/event-stream
--- response_body eval
"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
. "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
. "data: [DONE]\n\n"
--- no_error_log
[error]



=== TEST 3: a body delimited by the end of the connection
--- tcp_listen: 1990
--- tcp_reply eval
"HTTP/1.1 200 OK\r
Content-Type: application/json\r
Connection: close\r
\r
{\"id\":\"x\",\"object\":\"chat.completion\"}"
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"Hi"}]}
--- response_body: {"id":"x","object":"chat.completion"}
--- no_error_log
[error]



=== TEST 4: an invalid status line is a 502 in OpenAI shape
--- tcp_listen: 1990
--- tcp_reply eval
"SPDY/9 200 whatever\r\n\r\n"
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"Hi"}]}
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"provider_error"
--- error_log
llm: provider "raw" sent no valid HTTP/1.x status line



=== TEST 5: an invalid chunked body ends the response
--- tcp_listen: 1990
--- tcp_reply eval
"HTTP/1.1 200 OK\r
Content-Type: text/event-stream\r
Transfer-Encoding: chunked\r
\r
zz\r
data: x\n\n\r
"
--- request
POST /v1/chat/completions
{"stream":true,"messages":[{"role":"user","content":"Hi"}]}
--- ignore_response
--- error_log
llm: provider "raw" sent an invalid chunked response



=== TEST 6: a provider error with a close-delimited body is translated
--- tcp_listen: 1990
--- tcp_reply eval
"HTTP/1.1 503 Service Unavailable\r
Content-Type: text/plain\r
Connection: close\r
\r
overloaded, try later"
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"Hi"}]}
--- error_code: 503
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"[^"]+","type":"[a-z_]+","param":null
