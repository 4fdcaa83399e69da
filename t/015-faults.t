# Misbehaving providers: whatever a provider sends, the client gets a clear
# 502 while no header has gone out, or a stream that ends with an error
# event, "data: [DONE]" and one proper end of the chunked body; relayed
# answers are checked (content type, size, framing); the provider's key
# never reaches the client; every such answer is counted as "invalid".
#
# Each stream ending is checked on the wire: the requests of a block share
# one keep-alive connection (pipelined_requests), so a second chunked
# terminator, or any stray byte, breaks the parse of the next response;
# endings that close the connection must leave nothing after the end.

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-faults-key-5e1d';
}

repeat_each(1);
no_shuffle();

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

our @Types = qw(openai mistral claude gemini cohere);

# One mock (port 1998) for every type: the path says the type, the user's
# message the fault; each type's first events (the answer has begun: a
# stream that fails before that fails over as an error answer), end and
# error event come from maps on the original URI.  Raw answers come from
# port 1999.
our $HttpConfig = <<'_EOC_';
    log_format outcome 'outcome $llm_provider $llm_outcome';

    llm_provider openai {
        type     openai;
        url      http://127.0.0.1:1998/openai/v1;
        model    gpt-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider mistral {
        type     mistral;
        url      http://127.0.0.1:1998/mistral/v1;
        model    mistral-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider claude {
        type     anthropic;
        url      http://127.0.0.1:1998/anthropic/v1;
        model    claude-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider gemini {
        type     gemini;
        url      http://127.0.0.1:1998/gemini/v1beta;
        model    gemini-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider cohere {
        type     cohere;
        url      http://127.0.0.1:1998/cohere/v2;
        model    command-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider raw-openai {
        type     openai;
        url      http://127.0.0.1:1999/v1;
        model    gpt-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider raw-mistral {
        type     mistral;
        url      http://127.0.0.1:1999/v1;
        model    mistral-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider raw-claude {
        type     anthropic;
        url      http://127.0.0.1:1999/v1;
        model    claude-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider raw-gemini {
        type     gemini;
        url      http://127.0.0.1:1999/v1;
        model    gemini-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider raw-cohere {
        type     cohere;
        url      http://127.0.0.1:1999/v1;
        model    command-x;
        api_key  env:LLM_TEST_KEY;
    }

    map $request_body $fault {
        '~"(?:content|text)":"(?<f>[a-z]+)"'  $f;
        default                      none;
    }

    map $request_uri $first {
        ~^/openai/     'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}\n\n';
        ~^/mistral/    'data: {"id":"m1","object":"chat.completion.chunk","created":1,"model":"mistral-x","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}\n\n';
        ~^/anthropic/  'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x-1","content":[],"usage":{"input_tokens":10,"output_tokens":1}}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n';
        ~^/gemini/     'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]},"index":0}],"modelVersion":"gemini-x-1","responseId":"g1"}\r\n\r\n';
        ~^/cohere/     'event: message-start\ndata: {"id":"co1","type":"message-start","delta":{"message":{"role":"assistant","content":[]}}}\n\nevent: content-delta\ndata: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Hi"}}}}\n\n';
    }

    map $request_uri $last {
        ~^/openai/     'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n';
        ~^/mistral/    'data: {"id":"m1","object":"chat.completion.chunk","created":1,"model":"mistral-x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n';
        ~^/anthropic/  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n';
        ~^/gemini/     'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"!"}]},"finishReason":"STOP","index":0}],"modelVersion":"gemini-x-1","responseId":"g1"}\r\n\r\n';
        ~^/cohere/     'event: message-end\ndata: {"type":"message-end","delta":{"finish_reason":"COMPLETE"}}\n\n';
    }

    map $request_uri $error_event {
        ~^/openai/     'data: {"error":{"message":"boom","type":"server_error"}}\n\n';
        ~^/mistral/    'data: {"object":"error","message":"boom","type":"internal_error"}\n\n';
        ~^/anthropic/  'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"boom"}}\n\n';
        ~^/gemini/     'data: {"error":{"code":500,"message":"boom","status":"INTERNAL"}}\r\n\r\n';
        ~^/cohere/     'event: message-end\ndata: {"type":"message-end","delta":{"finish_reason":"ERROR","error":"boom"}}\n\n';
    }

    map $request_uri $key_error {
        ~^/openai/     'data: {"error":{"message":"Invalid key: $http_authorization","type":"invalid_request_error"}}\n\n';
        ~^/mistral/    'data: {"object":"error","message":"Invalid key: $http_authorization","type":"invalid_request_error"}\n\n';
        ~^/anthropic/  'event: error\ndata: {"type":"error","error":{"type":"authentication_error","message":"Invalid key: $http_x_api_key"}}\n\n';
        ~^/gemini/     'data: {"error":{"code":403,"message":"Invalid key: $http_x_goog_api_key","status":"PERMISSION_DENIED"}}\r\n\r\n';
        ~^/cohere/     'event: message-start\ndata: {"id":"co1","type":"message-start","delta":{"message":{"role":"assistant","content":[]}}}\n\nevent: message-end\ndata: {"type":"message-end","delta":{"finish_reason":"ERROR","error":"Invalid key: $http_authorization"}}\n\n';
    }

    map $request_uri $key_event {
        ~^/openai/     'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"$http_authorization$http_x_api_key$http_x_goog_api_key"},"finish_reason":null}]}\n\n';
        ~^/mistral/    'data: {"id":"m1","object":"chat.completion.chunk","created":1,"model":"mistral-x","choices":[{"index":0,"delta":{"content":"$http_authorization$http_x_api_key$http_x_goog_api_key"},"finish_reason":null}]}\n\n';
        ~^/anthropic/  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"$http_authorization$http_x_api_key$http_x_goog_api_key"}}\n\n';
        ~^/gemini/     'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"$http_authorization$http_x_api_key$http_x_goog_api_key"}]},"index":0}],"modelVersion":"gemini-x-1","responseId":"g1"}\r\n\r\n';
        ~^/cohere/     'event: content-delta\ndata: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"$http_authorization$http_x_api_key$http_x_goog_api_key"}}}}\n\n';
    }

    server {
        listen 127.0.0.1:1998;
        error_log logs/mock.log info;

        location / {
            echo_read_request_body;
            echo_exec /_f/$fault;
        }

        location = /_f/ok {
            default_type text/event-stream;
            echo -n $first;
            echo_flush;
            echo -n $last;
        }

        location = /_f/error {
            default_type text/event-stream;
            echo -n $first;
            echo_flush;
            echo -n $error_event;
        }

        location = /_f/garbage {
            default_type text/event-stream;
            echo -n $first;
            echo_flush;
            echo -n 'data: {not json\n\n';
        }

        # no line end, ever (bounded here: 400 KB)
        location = /_f/noline {
            default_type text/event-stream;
            echo -n '{"id":"';
            echo_duplicate 40000 'AAAAAAAAAA';
        }

        location = /_f/flood {
            default_type text/event-stream;
            echo -n $first;
            echo_flush;
            echo_duplicate 100000 'data';
        }

        # bounded lines, without end (bounded here: 1 MB)
        location = /_f/big {
            default_type text/event-stream;
            echo -n $first;
            echo_flush;
            echo_duplicate 50000 ': keep-alive padding\n';
        }

        # a comment every 200 ms for 3 s
        location = /_f/slow {
            default_type text/event-stream;
            echo -n $first;
            echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo_sleep 0.2; echo -n ': ping\n\n'; echo_flush;
            echo -n $last;
        }

        location = /_f/stall {
            default_type text/event-stream;
            echo -n $first;
            echo_flush;
            echo_sleep 3;
        }

        # the key the provider was sent, in a streamed answer
        location = /_f/keystream {
            default_type text/event-stream;
            echo -n $first;
            echo_flush;
            echo -n $key_event;
            echo_flush;
            echo -n $last;
        }

        # the key in an error event after the answer began
        location = /_f/keylate {
            default_type text/event-stream;
            echo -n $first;
            echo_flush;
            echo -n $key_error;
        }

        # the key in an error event before the answer began
        location = /_f/keyfirst {
            default_type text/event-stream;
            echo -n $key_error;
        }

        location = /_f/html {
            default_type text/html;
            echo '<html><body>Welcome to our portal</body></html>';
        }

        # a provider that echoes the request's headers in its errors
        location = /_f/keyerror {
            default_type application/json;
            return 401 '{"error":{"message":"Invalid key: $http_authorization$http_x_api_key$http_x_goog_api_key","type":"invalid_request_error"}}';
        }

        # the key across reads of a chunked answer, and one held-back
        # end followed by a piece passed uncopied
        location = /_f/keysplit {
            default_type application/json;
            echo -n '{"id":"k2","object":"chat.completion","created":1,"model":"gpt-x","choices":[{"index":0,"message":{"role":"assistant","content":"You sent sk-test-fau';
            echo_flush;
            echo_sleep 0.05;
            echo -n 'lts-key-5e1d and ';
            echo_flush;
            echo_sleep 0.05;
            echo -n 'then sk-te';
            echo_flush;
            echo_sleep 0.05;
            echo -n 'st-faults-key-5e1d again."},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}';
        }

        location = /_f/keyanswer {
            default_type application/json;
            return 200 '{"id":"k1","object":"chat.completion","created":1,"model":"gpt-x","choices":[{"index":0,"message":{"role":"assistant","content":"You sent $http_authorization."},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}';
        }

        location = /_f/large {
            default_type application/json;
            echo -n '{"id":"l1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"';
            echo_duplicate 20000 'xxxxxxxxxx';
            echo -n '"},"finish_reason":"stop"}]}';
        }

        location = /_f/largelength {
            default_type application/json;
            return 200 '{"id":"l2","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"01234567890123456789012345678901234567890123456789012345678901234567890123456789"},"finish_reason":"stop"}]}';
        }
    }
_EOC_

# each type's first event, as the raw mock (port 1999) sends it
our %First = (
    openai  => qq/data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}\n\n/,
    mistral => qq/data: {"id":"m1","object":"chat.completion.chunk","created":1,"model":"mistral-x","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}\n\n/,
    claude  => qq/event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x-1","content":[],"usage":{"input_tokens":10,"output_tokens":1}}}\n\n/
               . qq/event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n/,
    gemini  => qq/data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]},"index":0}],"modelVersion":"gemini-x-1","responseId":"g1"}\r\n\r\n/,
    cohere  => qq/event: message-start\ndata: {"id":"co1","type":"message-start","delta":{"message":{"role":"assistant","content":[]}}}\n\n/
               . qq/event: content-delta\ndata: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Hi"}}}}\n\n/,
);

# a raw answer: status line, headers, then the body as given
sub raw {
    my ($status, $type, $body) = @_;
    return "HTTP/1.1 $status\r\nContent-Type: $type\r\n"
           . "Transfer-Encoding: chunked\r\n\r\n" . $body;
}

our $Overloaded = '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded sk-test-faults-key-5e1d"},"request_id":"req_1"}';

sub chunk {
    my ($data) = @_;
    return sprintf("%x\r\n%s\r\n", length($data), $data);
}

# a request of the given fault to the given provider
sub chat {
    my ($model, $fault, $stream) = @_;
    $stream //= 1;
    my $s = $stream ? ',"stream":true' : '';
    return "POST /v1/chat/completions\n"
           . qq/{"model":"$model"$s,"messages":[{"role":"user","content":"$fault"}]}/;
}

# the same fault to every type, then GET /ping on the same connection
sub every_type {
    my ($fault) = @_;
    return [(map { chat($_, $fault) } @Types), "GET /ping"];
}

# a stream that ended with an error event of the given code, then pong
sub error_ends {
    my ($code) = @_;
    my $re = qr/\n\ndata: \{"error":\{"message":"(?:[^"\\]|\\.)*","type":"[a-z_]+","param":null,"code":$code\}\}\n\ndata: \[DONE\]\n\n\z/;
    return [($re) x @Types, qr/\Apong\n\z/];
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('main_config', "load_module $EchoModule;")
        unless defined $block->main_config;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;

    $block->set_value('config', <<'_EOC_')
    location /v1/ {
        access_log logs/access.log outcome;
        llm_next_upstream off;
        llm_read_timeout 1s;
        llm_max_event_size 4k;
        llm_max_stream_size 64k;
        llm_stream_timeout 1s;
        llm_max_response_size 16k;
        llm_route openai mistral claude gemini cohere raw-openai raw-mistral
                  raw-claude raw-gemini raw-cohere;
    }

    location = /ping {
        return 200 "pong\n";
    }
_EOC_
        unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: every type, normal end: one terminator, the connection goes on
--- pipelined_requests eval
main::every_type("ok")
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[(qr/\Adata: \{"id":.*"finish_reason":"stop".*\n\ndata: \[DONE\]\n\n\z/s) x 5,
 qr/\Apong\n\z/]
--- no_error_log
[error]



=== TEST 2: every type, the provider's error event: one error event, [DONE], one terminator
--- pipelined_requests eval
main::every_type("error")
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[(qr/\Adata: \{"id":.*\n\ndata: \{"error":\{"message":"boom","type":"[a-z_]+","param":null,"code":[^}]*\}\}\n\ndata: \[DONE\]\n\n\z/s) x 5,
 qr/\Apong\n\z/]



=== TEST 3: every type, an event that is not JSON
--- pipelined_requests eval
main::every_type("garbage")
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
main::error_ends('"invalid_provider_response"')



=== TEST 4: every type, a body without a line end ends at llm_max_event_size
--- pipelined_requests eval
main::every_type("noline")
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[(qr/\Adata: \{"error":\{"message":"The provider \\"[a-z]+\\" sent an event that is too large\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}\n\ndata: \[DONE\]\n\n\z/) x 5,
 qr/\Apong\n\z/]
--- access_log
outcome openai invalid



=== TEST 5: every type, one event then "datadata..." without end
--- pipelined_requests eval
main::every_type("flood")
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
main::error_ends('"invalid_provider_response"')



=== TEST 6: every type, an endless stream of bounded lines ends at llm_max_stream_size
--- pipelined_requests eval
main::every_type("big")
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[(qr/\n\ndata: \{"error":\{"message":"The stream of the provider \\"[a-z]+\\" is too large\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}\n\ndata: \[DONE\]\n\n\z/) x 5,
 qr/\Apong\n\z/]
--- access_log
outcome openai invalid



=== TEST 7: every type, a stream that goes on past llm_stream_timeout
--- pipelined_requests eval
main::every_type("slow")
--- timeout: 20
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body_like eval
[(qr/\n\ndata: \{"error":\{"message":"The stream of the provider \\"[a-z]+\\" lasted too long\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}\n\ndata: \[DONE\]\n\n\z/) x 5,
 qr/\Apong\n\z/]
--- access_log
outcome openai invalid



=== TEST 8: openai: a stalled stream: an error event, [DONE], one end, then the connection closes
--- pipelined_requests eval
[main::chat("openai", "stall"), "GET /ping"]
--- timeout: 5
--- error_code eval
[200, ""]
--- raw_response_headers_like eval
["\\AHTTP/1\\.1 200 OK\r\n.*Transfer-Encoding: chunked\r\n", "\\A\\z"]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The provider \\"openai\\" stopped sending the stream\.","type":"api_error","param":null,"code":"provider_timeout"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\A\z/]
--- access_log
outcome openai timeout



=== TEST 9: mistral: a stalled stream: an error event, [DONE], one end, then the connection closes
--- pipelined_requests eval
[main::chat("mistral", "stall"), "GET /ping"]
--- timeout: 5
--- error_code eval
[200, ""]
--- raw_response_headers_like eval
["\\AHTTP/1\\.1 200 OK\r\n.*Transfer-Encoding: chunked\r\n", "\\A\\z"]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The provider \\"mistral\\" stopped sending the stream\.","type":"api_error","param":null,"code":"provider_timeout"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\A\z/]
--- access_log
outcome mistral timeout



=== TEST 10: claude: a stalled stream: an error event, [DONE], one end, then the connection closes
--- pipelined_requests eval
[main::chat("claude", "stall"), "GET /ping"]
--- timeout: 5
--- error_code eval
[200, ""]
--- raw_response_headers_like eval
["\\AHTTP/1\\.1 200 OK\r\n.*Transfer-Encoding: chunked\r\n", "\\A\\z"]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The provider \\"claude\\" stopped sending the stream\.","type":"api_error","param":null,"code":"provider_timeout"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\A\z/]
--- access_log
outcome claude timeout



=== TEST 11: gemini: a stalled stream: an error event, [DONE], one end, then the connection closes
--- pipelined_requests eval
[main::chat("gemini", "stall"), "GET /ping"]
--- timeout: 5
--- error_code eval
[200, ""]
--- raw_response_headers_like eval
["\\AHTTP/1\\.1 200 OK\r\n.*Transfer-Encoding: chunked\r\n", "\\A\\z"]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The provider \\"gemini\\" stopped sending the stream\.","type":"api_error","param":null,"code":"provider_timeout"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\A\z/]
--- access_log
outcome gemini timeout



=== TEST 12: cohere: a stalled stream: an error event, [DONE], one end, then the connection closes
--- pipelined_requests eval
[main::chat("cohere", "stall"), "GET /ping"]
--- timeout: 5
--- error_code eval
[200, ""]
--- raw_response_headers_like eval
["\\AHTTP/1\\.1 200 OK\r\n.*Transfer-Encoding: chunked\r\n", "\\A\\z"]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The provider \\"cohere\\" stopped sending the stream\.","type":"api_error","param":null,"code":"provider_timeout"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\A\z/]
--- access_log
outcome cohere timeout



=== TEST 13: openai: the stream cut mid-way: an error event, [DONE], one end, then the connection closes
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", main::chunk($main::First{openai}))
--- pipelined_requests eval
[main::chat("raw-openai", "x"), "GET /ping"]
--- error_code eval
[200, ""]
--- raw_response_headers_like eval
["\\AHTTP/1\\.1 200 OK\r\n.*Transfer-Encoding: chunked\r\n", "\\A\\z"]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The stream of the provider \\"raw-openai\\" was cut\.","type":"api_error","param":null,"code":"stream_cut"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\A\z/]
--- access_log
outcome raw-openai invalid



=== TEST 14: mistral: the stream cut mid-way: an error event, [DONE], one end, then the connection closes
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", main::chunk($main::First{mistral}))
--- pipelined_requests eval
[main::chat("raw-mistral", "x"), "GET /ping"]
--- error_code eval
[200, ""]
--- raw_response_headers_like eval
["\\AHTTP/1\\.1 200 OK\r\n.*Transfer-Encoding: chunked\r\n", "\\A\\z"]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The stream of the provider \\"raw-mistral\\" was cut\.","type":"api_error","param":null,"code":"stream_cut"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\A\z/]
--- access_log
outcome raw-mistral invalid



=== TEST 15: claude: the stream cut mid-way: an error event, [DONE], one end, then the connection closes
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", main::chunk($main::First{claude}))
--- pipelined_requests eval
[main::chat("raw-claude", "x"), "GET /ping"]
--- error_code eval
[200, ""]
--- raw_response_headers_like eval
["\\AHTTP/1\\.1 200 OK\r\n.*Transfer-Encoding: chunked\r\n", "\\A\\z"]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The stream of the provider \\"raw-claude\\" was cut\.","type":"api_error","param":null,"code":"stream_cut"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\A\z/]
--- access_log
outcome raw-claude invalid



=== TEST 16: gemini: the stream cut mid-way: an error event, [DONE], one end, then the connection closes
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", main::chunk($main::First{gemini}))
--- pipelined_requests eval
[main::chat("raw-gemini", "x"), "GET /ping"]
--- error_code eval
[200, ""]
--- raw_response_headers_like eval
["\\AHTTP/1\\.1 200 OK\r\n.*Transfer-Encoding: chunked\r\n", "\\A\\z"]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The stream of the provider \\"raw-gemini\\" was cut\.","type":"api_error","param":null,"code":"stream_cut"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\A\z/]
--- access_log
outcome raw-gemini invalid



=== TEST 17: cohere: the stream cut mid-way: an error event, [DONE], one end, then the connection closes
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", main::chunk($main::First{cohere}))
--- pipelined_requests eval
[main::chat("raw-cohere", "x"), "GET /ping"]
--- error_code eval
[200, ""]
--- raw_response_headers_like eval
["\\AHTTP/1\\.1 200 OK\r\n.*Transfer-Encoding: chunked\r\n", "\\A\\z"]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The stream of the provider \\"raw-cohere\\" was cut\.","type":"api_error","param":null,"code":"stream_cut"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\A\z/]
--- access_log
outcome raw-cohere invalid



=== TEST 18: openai: a client gone mid-stream closes the provider's stream, counted
--- request eval
main::chat("openai", "stall")
--- timeout: 0.5
--- abort
--- wait: 0.5
--- ignore_response
--- access_log
outcome openai client_abort
--- error_log
client prematurely closed connection
finalize llm request 499


=== TEST 19: mistral: a client gone mid-stream closes the provider's stream, counted
--- request eval
main::chat("mistral", "stall")
--- timeout: 0.5
--- abort
--- wait: 0.5
--- ignore_response
--- access_log
outcome mistral client_abort
--- error_log
client prematurely closed connection
finalize llm request 499


=== TEST 20: claude: a client gone mid-stream closes the provider's stream, counted
--- request eval
main::chat("claude", "stall")
--- timeout: 0.5
--- abort
--- wait: 0.5
--- ignore_response
--- access_log
outcome claude client_abort
--- error_log
client prematurely closed connection
finalize llm request 499


=== TEST 21: gemini: a client gone mid-stream closes the provider's stream, counted
--- request eval
main::chat("gemini", "stall")
--- timeout: 0.5
--- abort
--- wait: 0.5
--- ignore_response
--- access_log
outcome gemini client_abort
--- error_log
client prematurely closed connection
finalize llm request 499


=== TEST 22: cohere: a client gone mid-stream closes the provider's stream, counted
--- request eval
main::chat("cohere", "stall")
--- timeout: 0.5
--- abort
--- wait: 0.5
--- ignore_response
--- access_log
outcome cohere client_abort
--- error_log
client prematurely closed connection
finalize llm request 499


=== TEST 23: openai: an invalid chunk size mid-stream: an error event, [DONE], the connection goes on
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", main::chunk($main::First{openai}) . "zz\r\n")
--- pipelined_requests eval
[main::chat("raw-openai", "x"), "GET /ping"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The provider \\"raw-openai\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\Apong\n\z/]
--- access_log
outcome raw-openai invalid



=== TEST 24: mistral: an invalid chunk size mid-stream: an error event, [DONE], the connection goes on
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", main::chunk($main::First{mistral}) . "zz\r\n")
--- pipelined_requests eval
[main::chat("raw-mistral", "x"), "GET /ping"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The provider \\"raw-mistral\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\Apong\n\z/]
--- access_log
outcome raw-mistral invalid



=== TEST 25: claude: an invalid chunk size mid-stream: an error event, [DONE], the connection goes on
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", main::chunk($main::First{claude}) . "zz\r\n")
--- pipelined_requests eval
[main::chat("raw-claude", "x"), "GET /ping"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The provider \\"raw-claude\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\Apong\n\z/]
--- access_log
outcome raw-claude invalid



=== TEST 26: gemini: an invalid chunk size mid-stream: an error event, [DONE], the connection goes on
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", main::chunk($main::First{gemini}) . "zz\r\n")
--- pipelined_requests eval
[main::chat("raw-gemini", "x"), "GET /ping"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The provider \\"raw-gemini\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\Apong\n\z/]
--- access_log
outcome raw-gemini invalid



=== TEST 27: cohere: an invalid chunk size mid-stream: an error event, [DONE], the connection goes on
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", main::chunk($main::First{cohere}) . "zz\r\n")
--- pipelined_requests eval
[main::chat("raw-cohere", "x"), "GET /ping"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/\n\ndata: \{"error":\{"message":"The provider \\"raw-cohere\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}\n\ndata: \[DONE\]\n\n\z/, qr/\Apong\n\z/]
--- access_log
outcome raw-cohere invalid



=== TEST 28: openai: chunk size "zz" before anything went out: a 502
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "application/json", "zz\r\n{}\r\n0\r\n\r\n")
--- request eval
main::chat("raw-openai", "x", 0)
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"The provider \\"raw-openai\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}$
--- access_log
outcome raw-openai invalid


=== TEST 29: openai, streamed: chunk size "ffffffffffffffffff" before anything went out: a 502
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", "ffffffffffffffffff\r\n{}\r\n0\r\n\r\n")
--- request eval
main::chat("raw-openai", "x", 1)
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"The provider \\"raw-openai\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}$
--- access_log
outcome raw-openai invalid


=== TEST 30: mistral: chunk size "zz" before anything went out: a 502
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "application/json", "zz\r\n{}\r\n0\r\n\r\n")
--- request eval
main::chat("raw-mistral", "x", 0)
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"The provider \\"raw-mistral\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}$
--- access_log
outcome raw-mistral invalid


=== TEST 31: mistral, streamed: chunk size "ffffffffffffffffff" before anything went out: a 502
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", "ffffffffffffffffff\r\n{}\r\n0\r\n\r\n")
--- request eval
main::chat("raw-mistral", "x", 1)
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"The provider \\"raw-mistral\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}$
--- access_log
outcome raw-mistral invalid


=== TEST 32: claude: chunk size "zz" before anything went out: a 502
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "application/json", "zz\r\n{}\r\n0\r\n\r\n")
--- request eval
main::chat("raw-claude", "x", 0)
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"The provider \\"raw-claude\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}$
--- access_log
outcome raw-claude invalid


=== TEST 33: claude, streamed: chunk size "ffffffffffffffffff" before anything went out: a 502
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", "ffffffffffffffffff\r\n{}\r\n0\r\n\r\n")
--- request eval
main::chat("raw-claude", "x", 1)
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"The provider \\"raw-claude\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}$
--- access_log
outcome raw-claude invalid


=== TEST 34: gemini: chunk size "zz" before anything went out: a 502
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "application/json", "zz\r\n{}\r\n0\r\n\r\n")
--- request eval
main::chat("raw-gemini", "x", 0)
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"The provider \\"raw-gemini\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}$
--- access_log
outcome raw-gemini invalid


=== TEST 35: gemini, streamed: chunk size "ffffffffffffffffff" before anything went out: a 502
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", "ffffffffffffffffff\r\n{}\r\n0\r\n\r\n")
--- request eval
main::chat("raw-gemini", "x", 1)
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"The provider \\"raw-gemini\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}$
--- access_log
outcome raw-gemini invalid


=== TEST 36: cohere: chunk size "zz" before anything went out: a 502
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "application/json", "zz\r\n{}\r\n0\r\n\r\n")
--- request eval
main::chat("raw-cohere", "x", 0)
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"The provider \\"raw-cohere\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}$
--- access_log
outcome raw-cohere invalid


=== TEST 37: cohere, streamed: chunk size "ffffffffffffffffff" before anything went out: a 502
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("200 OK", "text/event-stream", "ffffffffffffffffff\r\n{}\r\n0\r\n\r\n")
--- request eval
main::chat("raw-cohere", "x", 1)
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"The provider \\"raw-cohere\\" sent an invalid chunked body\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}$
--- access_log
outcome raw-cohere invalid


=== TEST 38: openai and anthropic: a 200 HTML page is a 502, streamed or not
--- pipelined_requests eval
[main::chat("openai", "html", 0), main::chat("openai", "html", 1),
 main::chat("claude", "html", 0), main::chat("claude", "html", 1)]
--- error_code eval
[502, 502, 502, 502]
--- response_body_like eval
[qr/\A\{"error":\{"message":"The provider \\"openai\\" sent an answer that is not JSON\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}\z/,
 qr/\A\{"error":\{"message":"The provider \\"openai\\" sent an answer that is not an event stream\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}\z/,
 qr/\A\{"error":\{"message":"The provider \\"claude\\" sent an answer that is not JSON\./,
 qr/\A\{"error":\{"message":"The provider \\"claude\\" sent an answer that is not an event stream\./]
--- access_log
outcome openai invalid



=== TEST 39: a relayed answer over llm_max_response_size with its length: a 502
--- request eval
main::chat("openai", "largelength", 0)
--- config
    location /v1/ {
        access_log logs/access.log outcome;
        llm_max_response_size 100;
        llm_route openai;
    }
--- error_code: 502
--- response_body_like: ^\{"error":\{"message":"The answer of the provider \\"openai\\" is too large\.","type":"api_error","param":null,"code":"invalid_provider_response"\}\}$
--- access_log
outcome openai invalid
--- error_log
llm: the answer of provider "openai" is larger than llm_max_response_size (100)


=== TEST 40: a chunked relayed answer over llm_max_response_size is cut and counted
--- request eval
main::chat("openai", "large", 0)
--- ignore_response
--- access_log
outcome openai invalid
--- error_log
llm: the answer of provider "openai" is larger than llm_max_response_size (16384), cut


=== TEST 41: the key a provider echoes in its error never reaches the client, for any type
--- pipelined_requests eval
[map { main::chat($_, "keyerror", 0) } @main::Types]
--- error_code eval
[401, 401, 401, 401, 401]
--- response_headers eval
[("Content-Type: application/json") x 5]
--- response_body_like eval
[(qr/\A\{"error":\{"message":"Invalid key: (?:Bearer )?\*{23}","type":"[a-z_]+"/) x 5]
--- response_body_unlike eval
[(qr/sk-test-faults/) x 5]



=== TEST 42: the key in a relayed answer is masked, its length unchanged
--- request eval
main::chat("openai", "keyanswer", 0)
--- response_body_like: ^\{"id":"k1",.*"content":"You sent Bearer \*{23}\."\},"finish_reason":"stop"\}\],"usage":\{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7\}\}$
--- response_body_unlike: sk-test-faults
--- access_log
outcome openai success


=== TEST 42a: the key split across reads of a relayed answer is masked, in the answer and in the logs
--- http_config eval
$::HttpConfig . q{
    log_format answer 'answer $llm_usage_total_tokens $llm_completion';
}
--- config
    location /v1/ {
        access_log logs/access.log answer;
        llm_prompt_log on;
        llm_route openai;
    }
--- request eval
main::chat("openai", "keysplit", 0)
--- response_body_like: ^\{"id":"k2",.*"content":"You sent \*{23} and then \*{23} again\."\},"finish_reason":"stop"\}\],"usage":\{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7\}\}$
--- response_body_unlike: sk-te
--- access_log
answer 7 You sent *********************** and then *********************** again.
--- no_error_log
sk-test-fau



=== TEST 43: every type: the key in a streamed answer is masked
--- pipelined_requests eval
[(map { main::chat($_, "keystream") } @main::Types), "GET /ping"]
--- response_body_like eval
[(qr/"content":"(?:Bearer )?\*{23}".*data: \[DONE\]\n\n\z/s) x 5,
 qr/\Apong\n\z/]
--- response_body_unlike eval
[(qr/sk-test-faults/) x 6]



=== TEST 44: Anthropic's 529 with a length: an OpenAI-shaped error
--- tcp_listen: 1999
--- tcp_reply eval
"HTTP/1.1 529 Overloaded\r\nContent-Type: application/json\r\nContent-Length: " . length($main::Overloaded) . "\r\n\r\n" . $main::Overloaded
--- request eval
main::chat("raw-claude", "x", 0)
--- error_code_like: ^(?:503|529)$
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"Overloaded \*{23}","type":"server_error","param":null,"code":"overloaded"\}\}$


=== TEST 45: Anthropic's 529 with a length, streamed: an OpenAI-shaped error
--- tcp_listen: 1999
--- tcp_reply eval
"HTTP/1.1 529 Overloaded\r\nContent-Type: application/json\r\nContent-Length: " . length($main::Overloaded) . "\r\n\r\n" . $main::Overloaded
--- request eval
main::chat("raw-claude", "x", 1)
--- error_code_like: ^(?:503|529)$
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"Overloaded \*{23}","type":"server_error","param":null,"code":"overloaded"\}\}$


=== TEST 46: Anthropic's 529 chunked: an OpenAI-shaped error
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("529 Overloaded", "application/json", main::chunk($main::Overloaded) . "0\r\n\r\n")
--- request eval
main::chat("raw-claude", "x", 0)
--- error_code_like: ^(?:503|529)$
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"Overloaded \*{23}","type":"server_error","param":null,"code":"overloaded"\}\}$


=== TEST 47: Anthropic's 529 chunked, streamed: an OpenAI-shaped error
--- tcp_listen: 1999
--- tcp_reply eval
main::raw("529 Overloaded", "application/json", main::chunk($main::Overloaded) . "0\r\n\r\n")
--- request eval
main::chat("raw-claude", "x", 1)
--- error_code_like: ^(?:503|529)$
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"Overloaded \*{23}","type":"server_error","param":null,"code":"overloaded"\}\}$


=== TEST 48: Anthropic's 529 ended by the connection: an OpenAI-shaped error
--- tcp_listen: 1999
--- tcp_reply eval
"HTTP/1.1 529 Overloaded\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" . $main::Overloaded
--- request eval
main::chat("raw-claude", "x", 0)
--- error_code_like: ^(?:503|529)$
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"Overloaded \*{23}","type":"server_error","param":null,"code":"overloaded"\}\}$


=== TEST 49: Anthropic's 529 ended by the connection, streamed: an OpenAI-shaped error
--- tcp_listen: 1999
--- tcp_reply eval
"HTTP/1.1 529 Overloaded\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" . $main::Overloaded
--- request eval
main::chat("raw-claude", "x", 1)
--- error_code_like: ^(?:503|529)$
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"error":\{"message":"Overloaded \*{23}","type":"server_error","param":null,"code":"overloaded"\}\}$



=== TEST 50: every type: the key in a stream's error before its answer began is masked
--- pipelined_requests eval
[map { main::chat($_, "keyfirst") } @main::Types]
--- error_code_like eval
[("^[45]\\d\\d\$") x 5]
--- response_body_like eval
[(qr/\A\{"error":\{"message":"Invalid key: (?:Bearer )?\*{23}","type":"[a-z_]+"/) x 5]
--- response_body_unlike eval
[(qr/sk-test-faults/) x 5]
--- no_error_log
sk-test-faults



=== TEST 51: the key in an error event after the answer began: masked in the stream
--- pipelined_requests eval
[map { main::chat($_, "keylate") } qw(openai mistral claude gemini)]
--- error_code eval
[200, 200, 200, 200]
--- response_body_like eval
[(qr/"content":"Hi".*\n\ndata: \{"error":\{"message":"Invalid key: (?:Bearer )?\*{23}".*\n\ndata: \[DONE\]\n\n\z/s) x 4]
--- response_body_unlike eval
[(qr/sk-test-faults/) x 4]
--- no_error_log
sk-test-faults



=== TEST 52: the same, in the log line of the failed stream
--- request eval
main::chat("claude", "keylate")
--- response_body_like: "content":"Hi"
--- error_log
the stream of provider "claude" failed: Invalid key: ***********************
--- no_error_log
sk-test-faults
