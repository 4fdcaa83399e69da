# Self-test of the local Test::Nginx::Socket runner (t/lib), run against a
# stock nginx with the echo module:
#
#     prove -I t/lib t/000-runner.t
#
# The file is also valid for the real Test::Nginx::Socket.

BEGIN {
    # Use a free port and a private server root (t/servroot_PORT, removed at
    # the end) so that this self-test does not collide with other test files
    # running at the same time on the default port 1984 and t/servroot.
    # Set TEST_NGINX_RANDOMIZE=0 to use the defaults.
    $ENV{TEST_NGINX_RANDOMIZE} //= 1;
}

use Test::Nginx::Socket;

repeat_each(1);
no_shuffle();
log_level('debug');

# The echo module (libnginx-mod-http-echo) is loaded by every block that
# does not bring its own main_config.
our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->main_config) {
        $block->set_value('main_config', "load_module $EchoModule;");
    }
});

plan tests => repeat_each() * 52;

run_tests();

__DATA__

=== TEST 1: return directive, exact body and headers
--- config
    location /t {
        return 200 "hi";
    }
--- request
GET /t
--- response_body chomp
hi
--- response_headers
Content-Type: text/plain
Content-Length: 2
!X-Absent
--- no_error_log
[error]



=== TEST 2: echo module
--- config
    location /echo {
        echo hello;
        echo world;
    }
--- request
GET /echo
--- response_body
hello
world
--- error_code: 200



=== TEST 3: POST body echoed back (Content-Length set automatically)
--- config
    location /body {
        echo_read_request_body;
        echo_request_body;
    }
--- request
POST /body
hello world
--- response_body chomp
hello world



=== TEST 4: chunked response is decoded
--- config
    location /chunked {
        echo -n "a";
        echo_flush;
        echo -n "bc";
        echo_flush;
        echo "d";
    }
--- request
GET /chunked
--- response_headers
Transfer-Encoding: chunked
--- response_body
abcd



=== TEST 5: more_headers, overriding Host
--- config
    location /hdr {
        return 200 "foo=$http_x_foo host=$host";
    }
--- more_headers
X-Foo: bar
Host: example.com
--- request
GET /hdr
--- response_body chomp
foo=bar host=example.com



=== TEST 6: response_body_like, response_headers_like, $ServerPort
--- config
    location /like {
        add_header X-Port $server_port;
        return 200 "hello 12345 from port $server_port\n";
    }
--- request
GET /like
--- response_body_like: ^hello \d+ from port \d+$
--- response_headers_like
X-Port: \d+



=== TEST 7: 404, error_log and no_error_log
--- config
--- request
GET /does-not-exist.html
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log
does-not-exist.html" failed (2: No such file or directory)
--- no_error_log
[alert]
[crit]



=== TEST 8: request eval with two requests, array expectations
--- config
    location /a { return 200 "A"; }
    location /b { return 404; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 404]
--- response_body_like eval
["^A\$", "404 Not Found"]



=== TEST 9: TCP mock as a proxy_pass upstream, reply in delayed packets
--- config
    location /up {
        proxy_set_header Host backend;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- request
GET /up
--- tcp_listen: $TEST_NGINX_RAND_PORT_1
--- tcp_reply eval
["HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\n", "hello", " mock"]
--- tcp_reply_delay: 100ms
--- tcp_query eval
"GET /up HTTP/1.0\r\nHost: backend\r\nConnection: close\r\n\r\n"
--- response_body chomp
hello mock
--- no_error_log
[error]



=== TEST 10: TCP mock with a code reply
--- config
    location /up {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
--- request
POST /up
some data
--- tcp_listen: $TEST_NGINX_RAND_PORT_2
--- tcp_reply eval
sub {
    my $req = shift;
    my $body = $req =~ /\r\n\r\n(.*)\z/s ? $1 : '';
    my $out = "got [$body]";
    return "HTTP/1.0 201 Created\r\nContent-Length: " . length($out)
           . "\r\n\r\n$out";
}
--- error_code: 201
--- response_body chomp
got [some data]



=== TEST 11: user_files and $TEST_NGINX_* expansion in the config
--- config
    location /port {
        return 200 "port=$TEST_NGINX_SERVER_PORT";
    }
--- user_files
>>> sub/file.txt
file content
--- request eval
["GET /sub/file.txt", "GET /port"]
--- response_body eval
["file content\n", "port=\$ServerPort"]



=== TEST 12: raw_request
--- config
    location /raw {
        return 200 "raw $request_method $server_protocol";
    }
--- raw_request eval
"GET /raw HTTP/1.0\r\n\r\n"
--- response_body chomp
raw GET HTTP/1.0



=== TEST 13: pipelined requests
--- config
    location /p1 { return 200 "one"; }
    location /p2 { return 200 "two"; }
--- pipelined_requests eval
["GET /p1", "GET /p2"]
--- response_body eval
["one", "two"]



=== TEST 14: nginx must die on an unknown directive
--- config
    location /t {
        no_such_directive_here on;
    }
--- must_die
--- error_log
[emerg]
unknown directive "no_such_directive_here"



=== TEST 15: timeout with abort (the request is never answered in time)
--- config
    location /slow {
        echo_sleep 2;
        echo done;
    }
--- request
GET /slow
--- timeout: 0.5
--- abort
--- ignore_response
--- no_error_log
[alert]



=== TEST 16: skip_nginx
--- skip_nginx: 2: < 999.0.0
--- config
    location /t { return 200; }
--- request
GET /t
--- response_body
never checked



=== TEST 17: wait, grep_error_log
--- config
    location /log {
        echo_sleep 0.01;
        echo ok;
    }
--- request
GET /log
--- wait: 0.1
--- grep_error_log eval: qr/http finalize request: \d+/
--- grep_error_log_out eval
qr/^(?:http finalize request: -?\d+\n)+\z/
--- response_body
ok
