# Two worker processes share the providers' health through llm_zone: the
# failures one worker sees take the provider out for the other too.

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-routing-key';
}

repeat_each(1);
no_shuffle();
master_on();
workers(2);

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

# "flaky" fails when the prompt says "fail"; "backup" always answers.
our $HttpConfig = <<'_EOC_';
    map $request_body $flaky {
        "~fail"    fail;
        default    ok;
    }

    llm_provider flaky {
        type          openai;
        url           http://127.0.0.1:1985/flaky;
        api_key       env:LLM_TEST_KEY;
        max_fails     2;
        fail_timeout  1s;
    }

    llm_provider backup {
        type     openai;
        url      http://127.0.0.1:1985/backup;
        api_key  env:LLM_TEST_KEY;
    }

    server {
        listen 127.0.0.1:1985;
        error_log logs/mock.log info;
        default_type application/json;

        location /flaky/ {
            echo_read_request_body;
            echo_exec /_flaky/$flaky;
        }

        location = /_flaky/fail { return 500; }
        location = /_flaky/ok { echo "flaky"; }

        location /backup/ { echo "backup"; }
    }
_EOC_

sub chat {
    my ($content, $model) = @_;
    my $m = defined $model ? qq{"model":"$model",} : '';
    return "POST /v1/chat/completions\n"
           . qq/{$m"messages":[{"role":"user","content":"$content"}]}/;
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

=== TEST 1: the circuit opens for both workers
--- main_config eval
"load_module $::EchoModule;"
--- http_config eval
"llm_zone llm 1m;\n" . $::HttpConfig
--- config
    location /v1/ {
        llm_route flaky backup;
    }
--- request eval
[main::chat("fail 1"), main::chat("fail 2"), main::chat("fail 3"),
 main::chat("fail 4"), main::chat("fail 5"), main::chat("fail 6")]
--- response_headers eval
["X-LLM-Attempts: 2", "X-LLM-Attempts: 2", "X-LLM-Attempts: 1",
 "X-LLM-Attempts: 1", "X-LLM-Attempts: 1", "X-LLM-Attempts: 1"]
--- response_body eval
["backup\n", "backup\n", "backup\n", "backup\n", "backup\n", "backup\n"]
