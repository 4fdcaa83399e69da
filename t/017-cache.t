# The response cache: an answer is stored once it is complete and sound,
# and an identical request (by meaning, not bytes) is answered from it
# without a provider.  The mocks under /once/ answer once a minute (a
# second call gets a 500 from limit_req), so a second answer that is a
# 200 can only have come from the cache.

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-cache-key';
}

repeat_each(1);
no_shuffle();

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

our $OpenAIAnswer = '{"id":"chatcmpl-c1","object":"chat.completion",'
    . '"created":1700000000,"model":"gpt-x","choices":[{"index":0,'
    . '"message":{"role":"assistant","content":"Cached words."},'
    . '"finish_reason":"stop"}],"usage":{"prompt_tokens":5,'
    . '"completion_tokens":2,"total_tokens":7}}';

our $HttpConfig = <<"_EOC_";
    llm_cache_path cache levels=1:2 keys_zone=answers:1m max_size=10m;

    limit_req_zone \$uri zone=once:1m rate=1r/m;

    llm_provider oa {
        type     openai;
        url      http://127.0.0.1:1986/once/openai/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider oa-many {
        type     openai;
        url      http://127.0.0.1:1986/many/openai/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider mi {
        type     mistral;
        url      http://127.0.0.1:1986/once/mistral/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider claude {
        type     anthropic;
        url      http://127.0.0.1:1986/once/anthropic/v1;
        model    claude-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider gemini {
        type     gemini;
        url      http://127.0.0.1:1986/once/gemini/v1beta;
        model    gemini-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider cohere {
        type     cohere;
        url      http://127.0.0.1:1986/once/cohere/v2;
        model    command-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider filtered {
        type     openai;
        url      http://127.0.0.1:1986/many/filtered/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider oa-stream {
        type     openai;
        url      http://127.0.0.1:1986/once/stream-openai/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider claude-stream {
        type     anthropic;
        url      http://127.0.0.1:1986/once/stream-anthropic/v1;
        model    claude-x;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider cut-stream {
        type     openai;
        url      http://127.0.0.1:1986/many/stream-cut/v1;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider broken {
        type     openai;
        url      http://127.0.0.1:1986/many/500/v1;
        api_key  env:LLM_TEST_KEY;
    }

    server {
        listen 127.0.0.1:1986;
        default_type application/json;
        limit_req_status 500;

        location /once/ {
            limit_req zone=once nodelay;

            location = /once/openai/v1/chat/completions {
                echo '$::OpenAIAnswer';
            }

            location = /once/mistral/v1/chat/completions {
                echo '$::OpenAIAnswer';
            }

            location = /once/anthropic/v1/messages {
                echo '{"id":"msg_c1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Cached words."}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":2}}';
            }

            location = /once/gemini/v1beta/models/gemini-x:generateContent {
                echo '{"candidates":[{"content":{"role":"model","parts":[{"text":"Cached words."}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2,"totalTokenCount":7},"modelVersion":"gemini-x"}';
            }

            location = /once/stream-openai/v1/chat/completions {
                default_type text/event-stream;
                echo -n 'data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1767225600,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n';
                echo -n 'data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1767225600,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"Str"},"finish_reason":null}]}\n\n';
                echo_flush;
                echo -n 'data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1767225600,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"eamed."},"finish_reason":null}]}\n\n';
                echo -n 'data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1767225600,"model":"gpt-x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n';
                echo -n 'data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1767225600,"model":"gpt-x","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}\n\n';
                echo -n 'data: [DONE]\n\n';
            }

            location = /once/stream-anthropic/v1/messages {
                default_type text/event-stream;
                echo -n 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_s1","type":"message","role":"assistant","model":"claude-x-1","content":[],"stop_reason":null,"usage":{"input_tokens":10,"output_tokens":1}}}\n\n';
                echo -n 'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n';
                echo -n 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me look."}}\n\n';
                echo_flush;
                echo -n 'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n';
                echo -n 'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_s1","name":"get_weather","input":{}}}\n\n';
                echo -n 'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\\\"city\\\\":"}}\n\n';
                echo -n 'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\\\\"Oslo\\\\"}"}}\n\n';
                echo -n 'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}\n\n';
                echo -n 'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":20}}\n\n';
                echo -n 'event: message_stop\ndata: {"type":"message_stop"}\n\n';
            }

            location = /once/cohere/v2/chat {
                echo '{"id":"co-c1","finish_reason":"COMPLETE","message":{"role":"assistant","content":[{"type":"text","text":"Cached words."}]},"usage":{"tokens":{"input_tokens":5,"output_tokens":2}}}';
            }
        }

        location = /many/openai/v1/chat/completions {
            echo '$::OpenAIAnswer';
        }

        location = /many/filtered/v1/chat/completions {
            echo '{"id":"chatcmpl-f","object":"chat.completion","created":1,"model":"gpt-x","choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"content_filter"}]}';
        }

        location = /many/stream-cut/v1/chat/completions {
            default_type text/event-stream;
            echo -n 'data: {"id":"chatcmpl-c","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":"Half"},"finish_reason":null}]}\n\n';
        }

        location = /many/500/v1/chat/completions {
            return 500 '{"error":{"message":"boom","type":"server_error","param":null,"code":null}}';
        }
    }
_EOC_

our $Ask = '{"model":"gpt-x","messages":[{"role":"user","content":"Say it."}],"temperature":0}';

our $AskStream = '{"model":"gpt-x","messages":[{"role":"user","content":"Say it."}],"temperature":0,"stream":true}';

our $AskStreamUsage = '{"model":"gpt-x","messages":[{"role":"user","content":"Say it."}],"temperature":0,"stream":true,"stream_options":{"include_usage":true}}';

sub post {
    my ($body) = @_;
    return "POST /v1/chat/completions\n$body";
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('main_config', "load_module $EchoModule;")
        unless defined $block->main_config;

    $block->set_value('http_config', $HttpConfig)
        unless defined $block->http_config;
});

run_tests();

__DATA__

=== TEST 1: openai: a miss, then a hit that no provider answers
--- config
    location /v1/ {
        llm_cache answers;
        llm_cache_key t1;
        llm_route oa;
        add_header X-Status $llm_cache_status;
    }
--- request eval
[main::post($::Ask), main::post($::Ask)]
--- response_headers eval
["X-LLM-Cache: MISS\nX-LLM-Provider: oa\nX-Status: MISS",
 "X-LLM-Cache: HIT\n!X-LLM-Provider\nX-Status: HIT\nContent-Type: application/json"]
--- response_body eval
["$::OpenAIAnswer\n", "$::OpenAIAnswer\n"]
--- no_error_log
[error]



=== TEST 2: the same request in other bytes: members reordered, whitespace, escapes, "user" and "stream": false
--- config
    location /v1/ {
        llm_cache answers;
        llm_cache_key t2;
        llm_route oa;
    }
--- request eval
[main::post($::Ask),
 main::post(qq'{ "temperature" : 0.0, "user": "u-17", "stream": false,\n'
            . qq' "messages" : [ {"content":"Say \\u0069t.", "role":"user"} ], "model":"gpt-x" }')]
--- response_headers eval
["X-LLM-Cache: MISS", "X-LLM-Cache: HIT"]
--- response_body eval
["$::OpenAIAnswer\n", "$::OpenAIAnswer\n"]



=== TEST 3: a different request is a different key
--- config
    location /v1/ {
        llm_cache answers;
        llm_cache_key t3;
        llm_route oa-many;
    }
--- request eval
[main::post($::Ask),
 main::post('{"model":"gpt-x","messages":[{"role":"user","content":"Say it!"}],"temperature":0}'),
 main::post('{"model":"gpt-x","messages":[{"role":"user","content":"Say it."}],"temperature":0,"max_tokens":5}'),
 main::post('{"model":"gpt-y","messages":[{"role":"user","content":"Say it."}],"temperature":0}'),
 main::post($::Ask)]
--- response_headers eval
["X-LLM-Cache: MISS", "X-LLM-Cache: MISS", "X-LLM-Cache: MISS",
 "X-LLM-Cache: MISS", "X-LLM-Cache: HIT"]



=== TEST 4: a sampled request (temperature above llm_cache_max_temperature) is not cached
--- config
    location /v1/ {
        llm_cache answers;
        llm_cache_key t4;
        llm_route oa-many;
        add_header X-Status "[$llm_cache_status]";
    }
--- request eval
[main::post('{"model":"gpt-x","messages":[{"role":"user","content":"Say it."}],"temperature":0.7}'),
 main::post('{"model":"gpt-x","messages":[{"role":"user","content":"Say it."}],"temperature":0.7}')]
--- response_headers eval
["!X-LLM-Cache\nX-Status: []\nX-LLM-Provider: oa-many",
 "!X-LLM-Cache\nX-Status: []\nX-LLM-Provider: oa-many"]



=== TEST 5: llm_cache_max_temperature lets sampled requests in
--- config
    location /v1/ {
        llm_cache answers;
        llm_cache_key t5;
        llm_cache_max_temperature 1;
        llm_route oa;
    }
--- request eval
[main::post('{"model":"gpt-x","messages":[{"role":"user","content":"Say it."}],"temperature":0.7}'),
 main::post('{"model":"gpt-x","messages":[{"role":"user","content":"Say it."}],"temperature":0.7}')]
--- response_headers eval
["X-LLM-Cache: MISS", "X-LLM-Cache: HIT"]



=== TEST 6: Cache-Control: no-store neither reads nor stores; no-cache does not read but stores
--- config
    location /v1/ {
        llm_cache answers;
        llm_cache_key t6;
        llm_route oa-many;
    }
--- request eval
[main::post($::Ask), main::post($::Ask), main::post($::Ask), main::post($::Ask)]
--- more_headers eval
["Cache-Control: no-store", "Cache-Control: no-cache", "", "Cache-Control: no-store"]
--- response_headers eval
["X-LLM-Cache: BYPASS", "X-LLM-Cache: BYPASS", "X-LLM-Cache: HIT", "X-LLM-Cache: BYPASS"]



=== TEST 7: llm_cache_bypass and llm_no_cache
--- config
    location /v1/ {
        llm_cache answers;
        llm_cache_key t7;
        llm_cache_bypass $arg_fresh;
        llm_no_cache $arg_keep_out;
        llm_route oa-many;
    }
--- request eval
["POST /v1/chat/completions?keep_out=1\n$::Ask",
 "POST /v1/chat/completions\n$::Ask",
 "POST /v1/chat/completions?fresh=1\n$::Ask",
 "POST /v1/chat/completions\n$::Ask"]
--- response_headers eval
["X-LLM-Cache: MISS", "X-LLM-Cache: MISS", "X-LLM-Cache: BYPASS",
 "X-LLM-Cache: HIT"]



=== TEST 8: errors and answers that did not finish well are not stored
--- config
    location /v1/ {
        llm_cache answers;
        llm_cache_key t8;
        llm_next_upstream off;
        llm_route broken;
    }
    location /v2/ {
        llm_cache answers;
        llm_cache_key t8;
        llm_route filtered;
    }
--- request eval
[main::post($::Ask), main::post($::Ask),
 "POST /v2/chat/completions\n$::Ask", "POST /v2/chat/completions\n$::Ask"]
--- error_code eval
[500, 500, 200, 200]
--- response_headers eval
["X-LLM-Cache: MISS", "X-LLM-Cache: MISS", "X-LLM-Cache: MISS",
 "X-LLM-Cache: MISS"]



=== TEST 9: an answer larger than llm_cache_max_size is not stored
--- config
    location /v1/ {
        llm_cache answers;
        llm_cache_key t9;
        llm_cache_max_size 100;
        llm_route oa-many;
    }
--- request eval
[main::post($::Ask), main::post($::Ask)]
--- response_headers eval
["X-LLM-Cache: MISS", "X-LLM-Cache: MISS"]



=== TEST 10: translated answers are stored as the client got them: Anthropic, Gemini, Cohere, Mistral
--- config
    location /claude/ {
        llm_cache answers;
        llm_cache_key t10-claude;
        llm_route claude;
    }
    location /gemini/ {
        llm_cache answers;
        llm_cache_key t10-gemini;
        llm_route gemini;
    }
    location /cohere/ {
        llm_cache answers;
        llm_cache_key t10-cohere;
        llm_route cohere;
    }
    location /mistral/ {
        llm_cache answers;
        llm_cache_key t10-mistral;
        llm_route mi;
    }
--- request eval
["POST /claude/chat/completions\n$::Ask", "POST /claude/chat/completions\n$::Ask",
 "POST /gemini/chat/completions\n$::Ask", "POST /gemini/chat/completions\n$::Ask",
 "POST /cohere/chat/completions\n$::Ask", "POST /cohere/chat/completions\n$::Ask",
 "POST /mistral/chat/completions\n$::Ask", "POST /mistral/chat/completions\n$::Ask"]
--- response_headers eval
["X-LLM-Cache: MISS\nX-LLM-Provider: claude", "X-LLM-Cache: HIT\n!X-LLM-Provider",
 "X-LLM-Cache: MISS\nX-LLM-Provider: gemini", "X-LLM-Cache: HIT\n!X-LLM-Provider",
 "X-LLM-Cache: MISS\nX-LLM-Provider: cohere", "X-LLM-Cache: HIT\n!X-LLM-Provider",
 "X-LLM-Cache: MISS\nX-LLM-Provider: mi", "X-LLM-Cache: HIT\n!X-LLM-Provider"]
--- response_body_like eval
[qr/^\{"id":"msg_c1","object":"chat\.completion",.*"content":"Cached words\."/,
 qr/^\{"id":"msg_c1","object":"chat\.completion",.*"content":"Cached words\."/,
 qr/"content":"Cached words\."/, qr/"content":"Cached words\."/,
 qr/"content":"Cached words\."/, qr/"content":"Cached words\."/,
 qr/"content":"Cached words\."/, qr/"content":"Cached words\."/]
--- no_error_log
[error]



=== TEST 11: no llm_cache: no header, no variable
--- config
    location /v1/ {
        llm_route oa-many;
        add_header X-Status "[$llm_cache_status]";
    }
--- request eval
main::post($::Ask)
--- response_headers
!X-LLM-Cache
X-Status: []



=== TEST 12: the counters: a miss for the provider that answered, a hit with the tokens and cost it saved
--- http_config eval
$::HttpConfig . q{
    llm_zone llm 1m;

    llm_provider priced {
        type     openai;
        url      http://127.0.0.1:1986/once/openai/v1;
        api_key  env:LLM_TEST_KEY;
        price    2.5 10;
    }
}
--- config
    location /v1/ {
        llm_cache answers;
        llm_cache_key t12;
        llm_route priced;
    }
    location = /status {
        llm_status;
    }
--- request eval
[main::post($::Ask), main::post($::Ask), main::post($::Ask),
 "GET /status?format=json", "GET /status?format=prometheus"]
--- response_headers eval
["X-LLM-Cache: MISS", "X-LLM-Cache: HIT", "X-LLM-Cache: HIT", "", ""]
--- response_body_like eval
["", "", "",
 qr/\{"name":"priced","type":"openai","model":"","state":"up","cache":\{"hits":2,"misses":1,"tokens_saved":\{"input":10,"output":4\},"cost_saved_usd":0\.000065000000,"cost_saved_picousd":65000000\},"requests":1,"successes":1,/,
 qr/llm_router_cache_hits_total\{provider="priced",type="openai"\} 2\n.*llm_router_cache_misses_total\{provider="priced",type="openai"\} 1\n.*llm_router_cache_tokens_saved_total\{provider="priced",type="openai",kind="input"\} 10\nllm_router_cache_tokens_saved_total\{provider="priced",type="openai",kind="output"\} 4\n.*llm_router_cache_cost_saved_usd_total\{provider="priced",type="openai"\} 0\.000065000000\n/s]



=== TEST 13: a streamed request is answered from a stored answer, as a stream
--- config
    location /v1/ {
        llm_cache answers;
        llm_cache_key t13;
        llm_route oa;
    }
--- request eval
[main::post($::Ask), main::post($::AskStream), main::post($::AskStreamUsage)]
--- response_headers eval
["X-LLM-Cache: MISS", "X-LLM-Cache: HIT\nContent-Type: text/event-stream",
 "X-LLM-Cache: HIT\nContent-Type: text/event-stream"]
--- response_body eval
["$::OpenAIAnswer\n",
 'data: {"id":"chatcmpl-c1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":"Cached words."},"logprobs":null,"finish_reason":null}]}' . "\n\n"
 . 'data: {"id":"chatcmpl-c1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-x","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}' . "\n\n"
 . "data: [DONE]\n\n",
 qr/"content":"Cached words\.".*"finish_reason":"stop".*\n\ndata: \{"id":"chatcmpl-c1","object":"chat\.completion\.chunk","created":1700000000,"model":"gpt-x","choices":\[\],"usage":\{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7\}\}\n\ndata: \[DONE\]\n\n$/s]
--- no_error_log
[error]



=== TEST 14: a relayed stream fills the cache as it passes; the next request, streamed or not, is a hit
--- config
    location /v1/ {
        llm_cache answers;
        llm_cache_key t14;
        llm_route oa-stream;
    }
--- request eval
[main::post($::AskStreamUsage), main::post($::Ask), main::post($::AskStreamUsage)]
--- response_headers eval
["X-LLM-Cache: MISS\nX-LLM-Provider: oa-stream", "X-LLM-Cache: HIT\n!X-LLM-Provider",
 "X-LLM-Cache: HIT\n!X-LLM-Provider"]
--- response_body_like eval
[qr/"content":"Str".*"content":"eamed\."/s,
 qr/^\{"id":"chatcmpl-s1","object":"chat\.completion","created":1767225600,"model":"gpt-x","choices":\[\{"index":0,"message":\{"role":"assistant","content":"Streamed\.",.*"finish_reason":"stop"\}\],"usage":\{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12/,
 qr/"content":"Streamed\.".*"usage":\{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12\}\}\n\ndata: \[DONE\]\n\n$/s]
--- no_error_log
[error]



=== TEST 15: a translated stream with a tool call is stored, and comes back with it
--- config
    location /v1/ {
        llm_cache answers;
        llm_cache_key t15;
        llm_route claude-stream;
    }
--- request eval
[main::post($::AskStreamUsage), main::post($::Ask)]
--- response_headers eval
["X-LLM-Cache: MISS", "X-LLM-Cache: HIT"]
--- response_body_like eval
[qr/get_weather/,
 qr/^\{"id":"msg_s1","object":"chat\.completion",.*"content":"Let me look\.",.*"tool_calls":\[\{"id":"toolu_s1","type":"function","function":\{"name":"get_weather","arguments":"\{\\"city\\":\\"Oslo\\"\}"\}\}\].*"finish_reason":"tool_calls"/]
--- no_error_log
[error]



=== TEST 16: a stream that was cut is not stored
--- config
    location /v1/ {
        llm_cache answers;
        llm_cache_key t16;
        llm_route cut-stream;
    }
--- request eval
[main::post($::AskStream), main::post($::AskStream)]
--- response_headers eval
["X-LLM-Cache: MISS", "X-LLM-Cache: MISS"]



=== TEST 17: locations that share a zone but route to other providers do not share answers
--- config
    location /a/ {
        llm_cache answers;
        llm_route oa;
    }
    location /b/ {
        llm_cache answers;
        llm_route oa-many;
    }
    location /c/ {
        llm_cache answers;
        llm_route oa;
    }
--- request eval
["POST /a/chat/completions\n$::Ask", "POST /b/chat/completions\n$::Ask",
 "POST /c/chat/completions\n$::Ask"]
--- response_headers eval
["X-LLM-Cache: MISS\nX-LLM-Provider: oa", "X-LLM-Cache: MISS\nX-LLM-Provider: oa-many",
 "X-LLM-Cache: HIT"]
