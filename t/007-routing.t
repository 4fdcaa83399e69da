# Routing rules (conditions, balance strategies, model pinning) and the
# providers' health (circuit breaker).

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-routing-key';
}

repeat_each(1);
no_shuffle();

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

# Each provider answers with its own name.  "flaky" fails when the prompt
# says "fail"; "backup" takes its time when the prompt says "sleep".
our $HttpConfig = <<'_EOC_';
    map $request_body $flaky {
        "~fail"    fail;
        default    ok;
    }

    map $request_body $backup {
        "~sleep"   sleep;
        default    now;
    }

    llm_provider fast {
        type     openai;
        url      http://127.0.0.1:1985/fast;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider smart {
        type     openai;
        url      http://127.0.0.1:1985/smart;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider slowish {
        type     openai;
        url      http://127.0.0.1:1985/slowish;
        api_key  env:LLM_TEST_KEY;
    }

    llm_provider premium {
        type     openai;
        url      http://127.0.0.1:1985/premium;
        api_key  env:LLM_TEST_KEY;
        price    15 75;
    }

    # answers with its name (not a chat.completion: type openai, whose
    # answers are relayed as they are)
    llm_provider budget {
        type     openai;
        url      http://127.0.0.1:1985/budget;
        api_key  env:LLM_TEST_KEY;
        price    0.25 0.25;
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

        location /fast/ { echo "fast"; }
        location /smart/ { echo "smart"; }
        location /premium/ { echo "premium"; }
        location /budget/ { echo "budget"; }

        location /slowish/ {
            echo_sleep 0.3;
            echo "slowish";
        }

        location /flaky/ {
            echo_read_request_body;
            echo_exec /_flaky/$flaky;
        }

        location = /_flaky/fail { return 500; }
        location = /_flaky/ok { echo "flaky"; }

        location /backup/ {
            echo_read_request_body;
            echo_exec /_backup/$backup;
        }

        location = /_backup/now { echo "backup"; }

        location = /_backup/sleep {
            echo_sleep 1.2;
            echo "backup";
        }
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

=== TEST 1: a condition on a request header
--- config
    location /v1/ {
        llm_route fast if=$http_x_llm_task=quick;
        llm_route smart;
    }
--- request eval
[main::chat("a"), main::chat("b")]
--- more_headers eval
["X-LLM-Task: quick", "X-LLM-Task: essay"]
--- response_body eval
["fast\n", "smart\n"]



=== TEST 2: a numeric condition on the prompt size
--- config
    location /v1/ {
        llm_route fast if=$llm_prompt_tokens<50;
        llm_route smart;
    }
--- request eval
[main::chat("What is 2+2?"), main::chat("x" x 400)]
--- response_body eval
["fast\n", "smart\n"]



=== TEST 3: conditions with map, negation and an unmatched request
--- http_config eval
$::HttpConfig . q{
    map $arg_tier $is_free {
        free     1;
        default  0;
    }
}
--- config
    location /v1/ {
        llm_route fast if=$is_free;
        llm_route smart if=!$arg_nosmart;
    }
--- request eval
[main::chat("a") =~ s{completions}{completions?tier=free}r,
 main::chat("a"),
 main::chat("a") =~ s{completions}{completions?nosmart=1}r]
--- error_code eval
[200, 200, 503]
--- response_body_like eval
["^fast\n\$", "^smart\n\$", '"code":"no_route"']



=== TEST 4: weighted and sticky: one key, one provider
--- config
    location /v1/ {
        llm_route fast=1 smart=1 balance=weighted sticky=$http_x_user;
    }
--- request eval
[main::chat("a"), main::chat("b"), main::chat("c"), main::chat("d")]
--- more_headers eval
["X-User: alice", "X-User: alice", "X-User: bob", "X-User: bob"]
--- response_body eval
use Compress::Zlib;
my @p = ("fast\n", "smart\n");
[$p[crc32("alice") % 2], $p[crc32("alice") % 2],
 $p[crc32("bob") % 2], $p[crc32("bob") % 2]]



=== TEST 5: lowest latency: each provider is measured, then the quicker one wins
--- config
    location /v1/ {
        llm_route slowish fast balance=latency;
    }
--- request eval
[main::chat("a"), main::chat("b"), main::chat("c"), main::chat("d")]
--- response_body eval
["slowish\n", "fast\n", "fast\n", "fast\n"]



=== TEST 6: lowest cost from the price table; providers without a price last
--- config
    location /v1/ {
        llm_route fast premium budget balance=cost;
    }
--- request eval
[main::chat("a"), main::chat("b")]
--- response_body eval
["budget\n", "budget\n"]
--- response_headers eval
["X-LLM-Provider: budget", "X-LLM-Provider: budget"]



=== TEST 7: a pinned model goes first, whatever the balance
--- config
    location /v1/ {
        llm_route fast premium budget balance=cost;
    }
--- request eval
main::chat("a", "premium")
--- response_body
premium



=== TEST 8: the circuit opens after max_fails and closes after a good probe
--- config
    location /v1/ {
        llm_route flaky backup;
    }
--- request eval
[main::chat("fail 1"), main::chat("fail 2"), main::chat("sleep"),
 main::chat("ok"), main::chat("ok")]
--- response_body eval
["backup\n", "backup\n", "backup\n", "flaky\n", "flaky\n"]
--- response_headers eval
["X-LLM-Attempts: 2", "X-LLM-Attempts: 2", "X-LLM-Attempts: 1",
 "X-LLM-Provider: flaky", "X-LLM-Attempts: 1"]
--- timeout: 5



=== TEST 9: every provider out of rotation: a quick 503 with Retry-After
--- config
    location /v1/ {
        llm_route flaky;
    }
--- request eval
[main::chat("fail 1"), main::chat("fail 2"), main::chat("ok")]
--- error_code eval
[500, 500, 503]
--- response_headers eval
["", "", "Retry-After: 1"]
--- response_body_like eval
["", "", '"code":"providers_unavailable"']



=== TEST 10: a provider taken out of rotation is logged as a warning
--- http_config eval
$::HttpConfig =~ s/max_fails     2;/max_fails     1;/r
--- config
    location /v1/ {
        llm_route flaky backup;
    }
--- request eval
main::chat("fail")
--- response_body
backup
--- error_log
[warn]
llm: provider "flaky" is out of rotation for 1000ms after 1 failures
