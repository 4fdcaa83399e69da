# Embeddings: POST .../embeddings reaches each provider type in its own
# embeddings API (the mocks answer only the exact bodies they expect),
# answers in OpenAI's shape as floats or base64, refuses what a provider
# cannot take before asking it, fails over only between providers whose
# vectors can be compared, and is counted.

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-embed-key-0001';
}

repeat_each(1);
no_shuffle();

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

# [0.5,-0.25,0.125,1.0] and [-1.0,0.75,0.0,2.0] as little-endian float32
our $A64 = 'AAAAPwAAgL4AAAA+AACAPw==';
our $B64 = 'AACAvwAAQD8AAAAAAAAAQA==';

our $HttpConfig = <<'_EOC_';
    map $request_body $emb {
        '~^\{"model":"mistral-embed","input":"alpha"\}$'
            mi-1;
        '~^\{"model":"mistral-embed","input":\["alpha","beta"\]\}$'
            mi-2;
        '~^\{"model":"embed-v4.0","input_type":"search_document","embedding_types":\["float"\],"texts":\["alpha","beta"\]\}$'
            co-2;
        '~^\{"model":"embed-v4.0","input_type":"search_query","embedding_types":\["float"\],"texts":\["q"\],"output_dimension":256\}$'
            co-1;
        '~^\{"model":"embed-v4.0","input_type":"classification","embedding_types":\["float"\],"texts":\["q"\]\}$'
            co-1;
        '~^\{"model":"embed-v4.0","input_type":"search_document","embedding_types":\["float"\],"texts":\["short","x"\]\}$'
            co-short;
        '~^\{"model":"embed-v4.0","input_type":"search_document","embedding_types":\["float"\],"texts":\["ragged","x"\]\}$'
            co-ragged;
        '~^\{"requests":\[\{"model":"models/gemini-embedding-001","content":\{"parts":\[\{"text":"alpha"\}\]\}\},\{"model":"models/gemini-embedding-001","content":\{"parts":\[\{"text":"beta"\}\]\}\}\]\}$'
            ge-2;
        '~^\{"requests":\[\{"model":"models/gemini-embedding-001","content":\{"parts":\[\{"text":"q"\}\]\},"taskType":"RETRIEVAL_QUERY","outputDimensionality":4\}\]\}$'
            ge-1;
        '~^\{"requests":\[\{"model":"models/gemini-embedding-001","content":\{"parts":\[\{"text":"q"\}\]\},"taskType":"SEMANTIC_SIMILARITY"\}\]\}$'
            ge-1;
        default
            unexpected;
    }

    llm_provider oa {
        type     openai;
        url      http://127.0.0.1:1993/oa/v1;
        model    text-embedding-3-small;
        api_key  env:LLM_TEST_KEY;
        serves   embeddings;
    }

    llm_provider oa-echo {
        type     openai;
        url      http://127.0.0.1:1993/echo/v1;
        model    text-embedding-3-small;
        api_key  env:LLM_TEST_KEY;
        serves   embeddings;
    }

    llm_provider oa-down {
        type     openai;
        url      http://127.0.0.1:1/v1;
        model    text-embedding-3-small;
        api_key  env:LLM_TEST_KEY;
        serves   embeddings;
    }

    llm_provider oa-down-g {
        type             openai;
        url              http://127.0.0.1:1/v1;
        model            my-deployment;
        api_key          env:LLM_TEST_KEY;
        embedding_group  g1;
    }

    llm_provider mi {
        type     mistral;
        url      http://127.0.0.1:1993/mi/v1;
        model    mistral-embed;
        api_key  env:LLM_TEST_KEY;
        price    0.1 0;
    }

    llm_provider co {
        type     cohere;
        url      http://127.0.0.1:1993/co/v2;
        model    embed-v4.0;
        api_key  env:LLM_TEST_KEY;
        price    0.12 0;
    }

    llm_provider co-c {
        type        cohere;
        url         http://127.0.0.1:1993/co/v2;
        model       embed-v4.0;
        api_key     env:LLM_TEST_KEY;
        input_type  classification;
    }

    llm_provider ge {
        type     gemini;
        url      http://127.0.0.1:1993/ge/v1beta;
        model    gemini-embedding-001;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider ge-s {
        type             gemini;
        url              http://127.0.0.1:1993/ge/v1beta;
        model            gemini-embedding-001;
        api_key          env:LLM_TEST_KEY;
        input_type       SEMANTIC_SIMILARITY;
        embedding_group  g1;
    }

    llm_provider claude {
        type     anthropic;
        url      http://127.0.0.1:1993/an/v1;
        model    claude-x;
        api_key  env:LLM_TEST_KEY;
    }

    server {
        listen 127.0.0.1:1993;
        error_log logs/mock.log info;
        default_type application/json;

        location = /oa/v1/embeddings {
            if ($http_authorization != "Bearer sk-test-embed-key-0001") {
                return 401 '{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}';
            }
            return 200 '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25,0.125,1.0]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":3,"total_tokens":3}}';
        }

        location = /echo/v1/embeddings {
            echo_read_request_body;
            echo -n $request_body;
        }

        location = /mi/v1/embeddings {
            if ($http_authorization != "Bearer sk-test-embed-key-0001") {
                return 401 '{"message":"Unauthorized","request_id":"r1"}';
            }
            echo_read_request_body;
            echo_exec /_emb/$emb;
        }

        location = /co/v2/embed {
            if ($http_authorization != "Bearer sk-test-embed-key-0001") {
                return 401 '{"id":"r1","message":"invalid api token"}';
            }
            echo_read_request_body;
            echo_exec /_emb/$emb;
        }

        location = /ge/v1beta/models/gemini-embedding-001:batchEmbedContents {
            if ($http_x_goog_api_key != "sk-test-embed-key-0001") {
                return 400 '{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}';
            }
            echo_read_request_body;
            echo_exec /_emb/$emb;
        }

        location = /an/v1/messages {
            return 200 '{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Hi."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":2}}';
        }

        location = /_emb/mi-1 {
            return 200 '{"id":"e1","object":"list","data":[{"object":"embedding","embedding":[0.5,-0.25,0.125,1.0],"index":0}],"model":"mistral-embed","usage":{"prompt_tokens":4,"total_tokens":4,"completion_tokens":0}}';
        }

        location = /_emb/mi-2 {
            return 200 '{"id":"e2","object":"list","data":[{"object":"embedding","embedding":[0.5,-0.25,0.125,1.0],"index":0},{"object":"embedding","embedding":[-1.0,0.75,0.0,2.0],"index":1}],"model":"mistral-embed","usage":{"prompt_tokens":8,"total_tokens":8,"completion_tokens":0}}';
        }

        location = /_emb/co-1 {
            return 200 '{"id":"c1","texts":["q"],"embeddings":{"float":[[0.5,-0.25,0.125,1.0]]},"meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":1}},"response_type":"embeddings_by_type"}';
        }

        location = /_emb/co-2 {
            return 200 '{"id":"c2","texts":["alpha","beta"],"embeddings":{"float":[[0.5,-0.25,0.125,1.0],[-1.0,0.75,0.0,2.0]]},"meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":2}},"response_type":"embeddings_by_type"}';
        }

        location = /_emb/co-short {
            return 200 '{"id":"c3","texts":["short","x"],"embeddings":{"float":[[0.5,-0.25,0.125,1.0]]},"meta":{"billed_units":{"input_tokens":2}},"response_type":"embeddings_by_type"}';
        }

        location = /_emb/co-ragged {
            return 200 '{"id":"c4","texts":["ragged","x"],"embeddings":{"float":[[0.5,-0.25,0.125,1.0],[1.0,"x"]]},"meta":{"billed_units":{"input_tokens":2}},"response_type":"embeddings_by_type"}';
        }

        location = /_emb/ge-1 {
            return 200 '{"embeddings":[{"values":[0.5,-0.25,0.125,1.0]}]}';
        }

        location = /_emb/ge-2 {
            return 200 '{"embeddings":[{"values":[0.5,-0.25,0.125,1.0]},{"values":[-1.0,0.75,0.0,2.0]}]}';
        }

        location = /_emb/unexpected {
            return 418 '{"error":{"message":"the mock did not expect this request","type":"invalid_request_error"}}';
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

=== TEST 1: openai: the client's body with the provider's model, "input_type" left out; the client's key not forwarded
--- config
    location /v1/ {
        llm_route oa-echo;
    }
--- request
POST /v1/embeddings
{"model":"any","input":["alpha","beta"],"input_type":"search_query","dimensions":4,"encoding_format":"base64","user":"u1"}
--- more_headers
Authorization: Bearer client-secret
--- response_body_like: ^\{"model":"text-embedding-3-small","input":\["alpha","beta"\],\s*"dimensions":4,"encoding_format":"base64","user":"u1"\}$
--- response_headers
X-LLM-Provider: oa-echo
--- no_error_log
[error]



=== TEST 2: openai: the answer relayed byte for byte, token ids taken
--- config
    location /v1/ {
        llm_route oa;
    }
--- request
POST /v1/embeddings
{"model":"any","input":[[1,2,3]]}
--- response_body chomp
{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25,0.125,1.0]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":3,"total_tokens":3}}
--- no_error_log
[error]



=== TEST 3: mistral: floats relayed as they are
--- config
    location /v1/ {
        llm_route mi;
    }
--- request
POST /v1/embeddings
{"model":"any","input":"alpha","user":"u1","encoding_format":"float"}
--- response_body chomp
{"id":"e1","object":"list","data":[{"object":"embedding","embedding":[0.5,-0.25,0.125,1.0],"index":0}],"model":"mistral-embed","usage":{"prompt_tokens":4,"total_tokens":4,"completion_tokens":0}}
--- no_error_log
[error]



=== TEST 4: mistral: base64 converted by the gateway
--- config
    location /v1/ {
        llm_route mi;
    }
--- request
POST /v1/embeddings
{"model":"any","input":["alpha","beta"],"encoding_format":"base64"}
--- response_body eval
qq|{"object":"list","data":[{"object":"embedding","index":0,"embedding":"$::A64"},{"object":"embedding","index":1,"embedding":"$::B64"}],"model":"mistral-embed","usage":{"prompt_tokens":8,"total_tokens":8}}|
--- no_error_log
[error]



=== TEST 5: cohere: Embed v2 with input_type search_document by default, floats copied as they came
--- config
    location /v1/ {
        llm_route co;
    }
--- request
POST /v1/embeddings
{"model":"any","input":["alpha","beta"]}
--- response_body chomp
{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25,0.125,1.0]},{"object":"embedding","index":1,"embedding":[-1.0,0.75,0.0,2.0]}],"model":"embed-v4.0","usage":{"prompt_tokens":2,"total_tokens":2}}
--- no_error_log
[error]



=== TEST 6: cohere: the request's input_type and dimensions; base64
--- config
    location /v1/ {
        llm_route co;
    }
--- request
POST /v1/embeddings
{"model":"any","input":"q","input_type":"search_query","dimensions":256,"encoding_format":"base64"}
--- response_body eval
qq|{"object":"list","data":[{"object":"embedding","index":0,"embedding":"$::A64"}],"model":"embed-v4.0","usage":{"prompt_tokens":1,"total_tokens":1}}|
--- no_error_log
[error]



=== TEST 7: cohere: the provider's input_type when the request has none
--- config
    location /v1/ {
        llm_route co-c;
    }
--- request
POST /v1/embeddings
{"model":"any","input":["q"]}
--- response_body_like: ^\{"object":"list","data":\[\{"object":"embedding","index":0,"embedding":\[0\.5,-0\.25,0\.125,1\.0\]\}\]
--- no_error_log
[error]



=== TEST 8: gemini: batchEmbedContents, no usage (Gemini reports none)
--- config
    location /v1/ {
        llm_route ge;
    }
--- request
POST /v1/embeddings
{"model":"any","input":["alpha","beta"]}
--- response_body chomp
{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25,0.125,1.0]},{"object":"embedding","index":1,"embedding":[-1.0,0.75,0.0,2.0]}],"model":"gemini-embedding-001"}
--- no_error_log
[error]



=== TEST 9: gemini: search_query as RETRIEVAL_QUERY, dimensions as outputDimensionality, base64
--- config
    location /v1/ {
        llm_route ge;
    }
--- request
POST /v1/embeddings
{"model":"any","input":"q","input_type":"search_query","dimensions":4,"encoding_format":"base64"}
--- response_body eval
qq|{"object":"list","data":[{"object":"embedding","index":0,"embedding":"$::A64"}],"model":"gemini-embedding-001"}|
--- no_error_log
[error]



=== TEST 10: more inputs than Cohere (96) or Gemini (100) take: a 400 before the provider is asked
--- config
    location /cohere/ {
        llm_route co;
    }
    location /gemini/ {
        llm_route ge;
    }
--- request eval
['POST /cohere/embeddings
{"model":"any","input":[' . CORE::join(',', map { '"t"' } 1 .. 97) . ']}',
'POST /gemini/embeddings
{"model":"any","input":[' . CORE::join(',', map { '"t"' } 1 .. 101) . ']}']
--- error_code eval
[400, 400]
--- response_body_like eval
[qr/^\{"error":\{"message":"[^"]*96[^"]*","type":"invalid_request_error","param":"input","code":"too_many_inputs"\}\}$/,
 qr/^\{"error":\{"message":"[^"]*100[^"]*","type":"invalid_request_error","param":"input","code":"too_many_inputs"\}\}$/]



=== TEST 11: token ids to a provider that takes text only: a 400
--- config
    location /v1/ {
        llm_route co;
    }
--- request
POST /v1/embeddings
{"model":"any","input":[[1,2],[3]]}
--- error_code: 400
--- response_body_like: "message":"[^"]*text input only[^"]*","type":"invalid_request_error","param":"input","code":"unsupported_value"



=== TEST 12: invalid requests: a 400 naming the member
--- config
    location /v1/ {
        llm_route co;
    }
--- request eval
['POST /v1/embeddings
{"model":"any"}',
'POST /v1/embeddings
{"model":"any","input":[]}',
'POST /v1/embeddings
{"model":"any","input":"a","encoding_format":"int8"}',
'POST /v1/embeddings
{"model":"any","input":"a","dimensions":0}',
'POST /v1/embeddings
{"model":"any","input":[1,"a"]}',
'POST /v1/embeddings
{"model":"any","input":"a","input_type":"image"}']
--- error_code eval
[400, 400, 400, 400, 400, 400]
--- response_body_like eval
[qr/"param":"input"/, qr/"param":"input"/, qr/"param":"encoding_format"/,
 qr/"param":"dimensions"/, qr/"param":"input"/, qr/"param":"input_type"/]



=== TEST 13: an answer with fewer vectors than inputs, or a vector that is not numbers: a 502
--- config
    location /v1/ {
        llm_route co;
    }
--- request eval
['POST /v1/embeddings
{"model":"any","input":["short","x"]}',
'POST /v1/embeddings
{"model":"any","input":["ragged","x"]}']
--- error_code eval
[502, 502]
--- response_body_like eval
[qr/"type":"api_error","param":null,"code":"invalid_provider_response"/,
 qr/"type":"api_error","param":null,"code":"invalid_provider_response"/]
--- error_log
sent an invalid answer



=== TEST 14: a route with only Anthropic: a 400 that says why
--- config
    location /v1/ {
        llm_route claude;
    }
--- request
POST /v1/embeddings
{"model":"any","input":"a"}
--- error_code: 400
--- response_body_like: ^\{"error":\{"message":"No provider of this route serves embeddings: \\"claude\\" is of type anthropic, which has no embeddings API\.","type":"invalid_request_error","param":null,"code":"unsupported_endpoint"\}\}$



=== TEST 15: chat and embeddings in one location: each goes to a provider that serves it
--- config
    location /v1/ {
        llm_route claude oa;
    }
--- request eval
['POST /v1/embeddings
{"model":"claude","input":"a"}',
'POST /v1/chat/completions
{"model":"oa","messages":[{"role":"user","content":"Hi"}]}']
--- response_headers eval
["X-LLM-Provider: oa", "X-LLM-Provider: claude"]
--- response_body_like eval
[qr/"model":"text-embedding-3-small"/, qr/"content":"Hi\."/]



=== TEST 16: failover to a provider of the same model
--- config
    location /v1/ {
        llm_route oa-down oa;
    }
--- request
POST /v1/embeddings
{"model":"any","input":"a"}
--- response_headers
X-LLM-Provider: oa
--- response_body_like: "embedding":\[0\.5,-0\.25,0\.125,1\.0\]
--- error_log
connect() failed



=== TEST 17: no failover to another model: the others are left out
--- config
    location /v1/ {
        llm_route oa-down co ge;
    }
--- request
POST /v1/embeddings
{"model":"any","input":"a"}
--- error_code: 502
--- response_body_like: "code":"provider_error"
--- error_log
provider "co" is left out of the embeddings request's failover: its vectors are not comparable with those of "oa-down"
provider "ge" is left out of the embeddings request's failover



=== TEST 18: llm_embeddings_failover any: the next provider whatever its model
--- config
    location /v1/ {
        llm_embeddings_failover any;
        llm_route oa-down co;
    }
--- request
POST /v1/embeddings
{"model":"any","input":["alpha","beta"]}
--- response_headers
X-LLM-Provider: co
--- response_body_like: "model":"embed-v4.0"



=== TEST 19: an embedding_group makes other model names comparable
--- config
    location /v1/ {
        llm_route oa-down-g ge-s co;
    }
--- request
POST /v1/embeddings
{"model":"any","input":"q"}
--- response_headers
X-LLM-Provider: ge-s
--- response_body_like: "model":"gemini-embedding-001"
--- error_log
provider "co" is left out of the embeddings request's failover



=== TEST 20: /models says what each provider serves
--- config
    location /v1/ {
        llm_route oa claude co;
    }
--- request
GET /v1/models
--- response_body_like: \{"id":"oa","object":"model","created":\d+,"owned_by":"openai","endpoints":\["embeddings"\]\},\{"id":"claude","object":"model","created":\d+,"owned_by":"anthropic","endpoints":\["chat\.completions"\]\},\{"id":"co","object":"model","created":\d+,"owned_by":"cohere","endpoints":\["chat\.completions","embeddings"\]\}



=== TEST 21: counted per provider: embeddings, input tokens, cost; Gemini's unknown usage
--- main_config eval
"load_module $::EchoModule;"
--- http_config eval
"llm_zone llm 1m;\n" . $::HttpConfig
--- config
    location /v1/ {
        llm_route co ge mi;
    }
    location = /status {
        llm_status;
    }
--- request eval
['POST /v1/embeddings
{"model":"co","input":["alpha","beta"]}',
'POST /v1/embeddings
{"model":"ge","input":["alpha","beta"]}',
'POST /v1/embeddings
{"model":"mi","input":"alpha"}',
'GET /status?format=json',
'GET /status?format=prometheus']
--- response_body_like eval
[qr/"usage"/, qr/"model":"gemini-embedding-001"/, qr/"id":"e1"/,
 qr/"name":"mi".*?"embeddings":1,.*?"tokens":\{"input":4,.*?"cost_usd":0\.000000400000.*"name":"co".*?"successes":1,.*?"embeddings":1,"finish_reasons":\{"stop":0,"length":0,"tool_calls":0,"content_filter":0,"other":0\},"tokens":\{"input":2,"output":0,.*?"usage_unknown":0,"cost_usd":0\.000000240000.*"name":"ge".*?"embeddings":1,.*?"usage_unknown":1,/s,
 qr/llm_router_embeddings_total\{provider="co",type="cohere"\} 1\n/]



=== TEST 22: serves embeddings on an anthropic provider is refused
--- http_config
    llm_provider c {
        type     anthropic;
        url      http://127.0.0.1:1/v1;
        api_key  off;
        serves   embeddings;
    }
--- config
--- must_die
--- error_log
llm_provider "c" cannot serve embeddings: type anthropic has no embeddings API



=== TEST 23: input_type is for cohere and gemini; its values are checked
--- http_config
    llm_provider o {
        type        openai;
        url         http://127.0.0.1:1/v1;
        api_key     off;
        input_type  search_query;
    }
--- config
--- must_die
--- error_log
"input_type" of llm_provider "o" is for cohere and gemini providers



=== TEST 24: an unknown serves value
--- http_config
    llm_provider o {
        type     openai;
        url      http://127.0.0.1:1/v1;
        api_key  off;
        serves   images;
    }
--- config
--- must_die
--- error_log
invalid "serves" value "images" in llm_provider "o" (chat, embeddings)
