# nginx -t rejects bad llm_provider / llm_route configurations with a
# message that names the problem.

use Test::Nginx::Socket 'no_plan';

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-config-key';
    delete $ENV{LLM_TEST_UNSET_KEY};
}

repeat_each(1);
no_shuffle();

run_tests();

__DATA__

=== TEST 1: a valid configuration starts
--- http_config
    llm_provider good {
        type     openai;
        url      http://127.0.0.1:1985/v1;
        model    gpt-4o-mini;
        api_key  env:LLM_TEST_KEY;
    }
--- config
    location /v1/ {
        llm_route good;
    }
--- request
GET /v1/models
--- response_body_like: "id":"good"
--- no_error_log
[emerg]



=== TEST 2: unknown provider type
--- http_config
    llm_provider bad {
        type     skynet;
        url      http://127.0.0.1:1985/v1;
        api_key  env:LLM_TEST_KEY;
    }
--- config
--- must_die
--- error_log
unknown llm_provider type "skynet" in llm_provider "bad"



=== TEST 3: missing api_key
--- http_config
    llm_provider nokey {
        type     openai;
        url      http://127.0.0.1:1985/v1;
    }
--- config
--- must_die
--- error_log
llm_provider "nokey" has no "api_key"



=== TEST 4: api_key from an environment variable that is not set
--- http_config
    llm_provider nokey {
        type     openai;
        url      http://127.0.0.1:1985/v1;
        api_key  env:LLM_TEST_UNSET_KEY;
    }
--- config
--- must_die
--- error_log
llm_provider "nokey": environment variable "LLM_TEST_UNSET_KEY" for "api_key" is not set or empty



=== TEST 5: api_key from a file that does not exist
--- http_config
    llm_provider nofile {
        type     openai;
        url      http://127.0.0.1:1985/v1;
        api_key  file:/nonexistent/llm.key;
    }
--- config
--- must_die
--- error_log
llm_provider "nofile": cannot open "api_key" file "/nonexistent/llm.key"



=== TEST 6: a literal key is refused
--- http_config
    llm_provider literal {
        type     openai;
        url      http://127.0.0.1:1985/v1;
        api_key  sk-literal-key;
    }
--- config
--- must_die
--- error_log
invalid "api_key" in llm_provider "literal"
--- no_error_log
sk-literal-key



=== TEST 7: unknown provider in llm_route
--- http_config
    llm_provider known {
        type     openai;
        url      http://127.0.0.1:1985/v1;
        api_key  env:LLM_TEST_KEY;
    }
--- config
    location /v1/ {
        llm_route known unknown-one;
    }
--- must_die
--- error_log
unknown llm_provider "unknown-one" in llm_route



=== TEST 8: url without a scheme
--- http_config
    llm_provider badurl {
        type     openai;
        url      127.0.0.1:1985/v1;
        api_key  env:LLM_TEST_KEY;
    }
--- config
--- must_die
--- error_log
invalid url "127.0.0.1:1985/v1" in llm_provider "badurl": it must start with "http://" or "https://"



=== TEST 9: url with an invalid port
--- http_config
    llm_provider badport {
        type     openai;
        url      http://127.0.0.1:99999/v1;
        api_key  env:LLM_TEST_KEY;
    }
--- config
--- must_die
--- error_log
invalid port in url "http://127.0.0.1:99999/v1" of llm_provider "badport"



=== TEST 10: unknown parameter in llm_provider, with its line number
--- http_config
    llm_provider typo {
        type     openai;
        modle    gpt-4o;
        api_key  env:LLM_TEST_KEY;
    }
--- config
--- must_die
--- error_log eval
qr/unknown directive "modle" in llm_provider "typo" in \S+nginx\.conf:\d+/



=== TEST 11: provider without a type
--- http_config
    llm_provider notype {
        url      http://127.0.0.1:1985/v1;
        api_key  env:LLM_TEST_KEY;
    }
--- config
--- must_die
--- error_log
llm_provider "notype" has no "type"



=== TEST 12: duplicate provider name
--- http_config
    llm_provider twin {
        type     openai;
        url      http://127.0.0.1:1985/v1;
        api_key  env:LLM_TEST_KEY;
    }
    llm_provider twin {
        type     mistral;
        url      http://127.0.0.1:1985/v1;
        api_key  env:LLM_TEST_KEY;
    }
--- config
--- must_die
--- error_log
duplicate llm_provider "twin"



=== TEST 13: llm_route outside a location
--- http_config
    llm_provider p {
        type     openai;
        url      http://127.0.0.1:1985/v1;
        api_key  env:LLM_TEST_KEY;
    }
--- config
    llm_route p;
--- must_die
--- error_log
"llm_route" directive is not allowed here



=== TEST 14: an https provider needs a readable CA bundle
--- http_config
    llm_provider tls {
        type     openai;
        url      https://localhost:1986/v1;
        api_key  env:LLM_TEST_KEY;
    }
    llm_ssl_trusted_certificate /nonexistent/ca.crt;
--- config
    location /v1/ {
        llm_route tls;
    }
--- must_die
--- error_log
/nonexistent/ca.crt
