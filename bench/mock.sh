# The mock providers of the benchmarks (sourced by bench.sh and
# stats-cost.sh): canned answers (~0.5 KB) in each provider's native
# format, and paced streams written with the echo module.
#
#   mock_conf PORT    prints the configuration of the mock NGINX

echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so

text="NGINX is a web server that can also be used as a reverse proxy, load balancer, mail proxy and HTTP cache. It was created by Igor Sysoev and first released in 2004. It is known for its high performance, stability, rich feature set, simple configuration and low resource consumption, which make it a good fit for the edge of a service."

answer_openai='{"id":"chatcmpl-b","object":"chat.completion","created":1767225600,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"'$text'","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":250,"completion_tokens":80,"total_tokens":330}}'
answer_anthropic='{"id":"msg_b","type":"message","role":"assistant","model":"claude-b","content":[{"type":"text","text":"'$text'"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":250,"output_tokens":80}}'
answer_gemini='{"candidates":[{"content":{"role":"model","parts":[{"text":"'$text'"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":250,"candidatesTokenCount":80,"totalTokenCount":330},"modelVersion":"gemini-b","responseId":"g-b"}'
answer_cohere='{"id":"c-b","message":{"role":"assistant","content":[{"type":"text","text":"'$text'"}]},"finish_reason":"COMPLETE","usage":{"billed_units":{"input_tokens":250,"output_tokens":80}}}'

# an echo-module location body: the event $1, then $4 times the event $2,
# $5 seconds apart, then the event(s) $3
paced() {
    echo "echo -n '$1'; echo_flush;"
    i=0
    while [ $i -lt "$4" ]; do
        echo "echo_sleep $5; echo -n '$2'; echo_flush;"
        i=$((i + 1))
    done
    echo "echo -n '$3';"
}

openai_stream() {
    chunk='data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1767225600,"model":"gpt-4o-mini","choices":[{"index":0,"delta":'
    paced "$chunk{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\\n\\n" \
          "$chunk{\"content\":\" word\"},\"finish_reason\":null}]}\\n\\n" \
          "$chunk{},\"finish_reason\":\"stop\"}]}\\n\\ndata: [DONE]\\n\\n" \
          "$1" "$2"
}

anthropic_stream() {
    paced 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_b","type":"message","role":"assistant","model":"claude-b","content":[],"usage":{"input_tokens":10,"output_tokens":1}}}\n\n' \
          'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" word"}}\n\n' \
          "event: message_delta\\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":$1}}\\n\\nevent: message_stop\\ndata: {\"type\":\"message_stop\"}\\n\\n" \
          "$1" "$2"
}

mock_conf() {
    cat <<CONF
load_module $echo_module;
worker_processes 1;
error_log logs/error.log warn;
pid nginx.pid;
events { worker_connections 8192; }
http {
    access_log off;
    default_type application/json;
    client_body_buffer_size 256k;
    client_max_body_size 1m;
    keepalive_requests 1000000;
    upstream self { server 127.0.0.1:$1; keepalive 16; }
    server {
        listen 127.0.0.1:$1;
        location /openai/ { return 200 '$answer_openai'; }

        # embeddings answers: files, fetched with GET from the mock itself
        # (a POST is not served from a file)
        location ~ ^/(embed-openai|embed-cohere|embed-gemini)/ {
            rewrite ^/([^/]+)/ /files/\$1.json break;
            proxy_pass http://self;
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /files/ { alias ${MOCK_FILES:-/nonexistent}/; }
        location /anthropic/ { return 200 '$answer_anthropic'; }
        location /gemini/ { return 200 '$answer_gemini'; }
        location /cohere/ { return 200 '$answer_cohere'; }
        location /stream-openai/ {
            default_type text/event-stream;
            $(openai_stream 20 0.002)
        }
        location /stream-anthropic/ {
            default_type text/event-stream;
            $(anthropic_stream 20 0.002)
        }
        location /stream-short/ {
            default_type text/event-stream;
            $(anthropic_stream 100 0.01)
        }
        location /stream-long/ {
            default_type text/event-stream;
            $(anthropic_stream 1000 0.01)
        }
    }
}
CONF
}
