# Provider addresses resolved at run time: "resolve" in llm_provider, with
# NGINX's "resolver" pointed at a small DNS responder run by this file
# (UDP 127.0.0.1:1992).  It answers from a file that the tests rewrite
# while NGINX runs; mocks on 127.0.0.1 and 127.0.0.2 tell which address
# served a request.

use Test::Nginx::Socket 'no_plan';

use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ();
use Socket qw(inet_aton);

BEGIN {
    $ENV{LLM_TEST_KEY} = 'sk-test-resolver-key';
}

repeat_each(1);
no_shuffle();

our $EchoModule = $ENV{TEST_NGINX_ECHO_MODULE}
                  || '/usr/lib/nginx/modules/ngx_http_echo_module.so';

our $DnsPort = 1992;
our $DnsFile = "/tmp/llm-router-dns-$$.txt";
our $DnsPid;
my $parent = $$;

# name => answer and TTL: an IPv4 address, "nxdomain" or "drop" (no answer)
our %Dns = (
    'api.test'    => '127.0.0.1 1',
    'gone.test'   => 'nxdomain',
    'silent.test' => 'drop',
    'localhost'   => '127.0.0.2 1',
);

sub write_dns {
    open my $fh, '>', "$DnsFile.new" or die "cannot write $DnsFile: $!";
    print $fh map { "$_ $Dns{$_}\n" } sort keys %Dns;
    close $fh;
    rename "$DnsFile.new", $DnsFile or die "cannot rename: $!";
}

sub read_dns {
    my %map;
    open my $fh, '<', $DnsFile or return %map;
    while (<$fh>) {
        my ($name, $answer, $ttl) = split;
        $map{$name} = [$answer, $ttl || 1] if defined $answer;
    }
    return %map;
}

# one question, answered with one A record, NXDOMAIN, or nothing at all
sub dns_answer {
    my ($query) = @_;

    return undef if length $query < 17;

    my ($id, $flags, $qdcount) = unpack 'n n n', $query;
    return undef if ($flags & 0x8000) || $qdcount != 1;

    my $pos = 12;
    my @labels;

    while ($pos < length $query) {
        my $len = ord substr $query, $pos++, 1;
        last if $len == 0;
        return undef if $len > 63;
        push @labels, lc substr $query, $pos, $len;
        $pos += $len;
    }

    return undef if $pos + 4 > length $query;

    my ($qtype) = unpack 'n', substr $query, $pos, 2;
    my $question = substr $query, 12, $pos + 4 - 12;
    my %map = read_dns();
    my ($answer, $ttl) = @{ $map{join '.', @labels} || ['nxdomain', 1] };

    return undef if $answer eq 'drop';

    my ($rcode, $records) = (0, '');

    if ($answer eq 'nxdomain') {
        $rcode = 3;

    } elsif ($qtype == 1) {
        $records = pack('n n n N n', 0xc00c, 1, 1, $ttl, 4)
                   . inet_aton($answer);
    }

    return pack('n n n n n n', $id, 0x8180 | $rcode, 1,
                $records ? 1 : 0, 0, 0)
           . $question . $records;
}

sub start_dns {
    write_dns();

    my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                     LocalPort => $DnsPort,
                                     Proto => 'udp',
                                     ReuseAddr => 1)
        or die "cannot listen on UDP 127.0.0.1:$DnsPort: $!";

    $DnsPid = fork();
    die "fork: $!" unless defined $DnsPid;

    if ($DnsPid == 0) {
        $SIG{TERM} = sub { POSIX::_exit(0) };

        for (;;) {
            my $peer = $sock->recv(my $query, 512);
            next unless defined $peer;
            my $reply = dns_answer($query);
            $sock->send($reply, 0, $peer) if defined $reply;
        }
    }

    close $sock;
}

END {
    if ($$ == $parent && $DnsPid) {
        kill 'TERM', $DnsPid;
        waitpid $DnsPid, 0;
        unlink $DnsFile;
    }
}

start_dns();

sub chat_body {
    my $res = HTTP::Tiny->new(timeout => 10)->post(
        "http://127.0.0.1:$Test::Nginx::Util::ServerPort/v1/chat/completions",
        { headers => { 'Content-Type' => 'application/json' },
          content => '{"messages":[{"role":"user","content":"hi"}]}' });
    return $res->{content} // '';
}

# asks until the answer is "want", a bounded number of times
sub poll {
    my ($want) = @_;

    for (1 .. 100) {
        return 1 if chat_body() eq $want;
        select undef, undef, undef, 0.1;
    }

    return 0;
}

our $HttpConfig = <<'_EOC_';
    resolver          127.0.0.1:1992 ipv6=off;
    resolver_timeout  1s;

    llm_provider moving {
        type     openai;
        url      http://api.test:1985/v1;
        api_key  env:LLM_TEST_KEY;
        resolve;
    }

    llm_provider gone {
        type     openai;
        url      http://gone.test:1985/v1;
        api_key  env:LLM_TEST_KEY;
        resolve;
    }

    llm_provider silent {
        type     openai;
        url      http://silent.test:1985/v1;
        api_key  env:LLM_TEST_KEY;
        resolve;
    }

    llm_provider backup {
        type     openai;
        url      http://127.0.0.1:1985/backup;
        api_key  env:LLM_TEST_KEY;
    }

    server {
        listen 127.0.0.1:1985;
        default_type application/json;
        error_log logs/mock.log info;
        keepalive_requests 2;

        location /v1/ { echo "one"; }
        location /backup/ { echo "backup"; }
    }

    server {
        listen 127.0.0.2:1985;
        default_type application/json;
        error_log logs/mock.log info;

        location /v1/ { echo "two"; }
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

=== TEST 1: "resolve" without a resolver is a configuration error
--- http_config
    llm_provider moving {
        type     openai;
        url      http://api.test:1985/v1;
        api_key  env:LLM_TEST_KEY;
        resolve;
    }
--- config
    location /v1/ {
        llm_route moving;
    }
--- must_die
--- error_log
no resolver defined to resolve "api.test" of llm_provider "moving"



=== TEST 2: a name only the resolver knows
--- init
$::Dns{'api.test'} = '127.0.0.1 1';
main::write_dns();
--- config
    location /v1/ {
        llm_route moving;
        add_header X-Addr $upstream_addr always;
    }
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"hi"}]}
--- response_body
one
--- response_headers
X-LLM-Provider: moving
X-Addr: 127.0.0.1:1985
--- no_error_log
[error]



=== TEST 3: requests follow a changed answer once its TTL is over
--- init
$::Dns{'api.test'} = '127.0.0.1 1';
main::write_dns();
Test::More::ok(main::poll("one\n"), "the first address answers");
$::Dns{'api.test'} = '127.0.0.2 1';
main::write_dns();
Test::More::ok(main::poll("two\n"), "then the new one");
--- config
    location /v1/ {
        llm_route moving;
        add_header X-Addr $upstream_addr always;
    }
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"hi"}]}
--- response_body
two
--- response_headers
X-Addr: 127.0.0.2:1985
--- no_error_log
[error]



=== TEST 4: a name that does not exist: the next provider answers
--- config
    location /v1/ {
        llm_route gone backup;
    }
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"hi"}]}
--- response_body
backup
--- response_headers
X-LLM-Provider: backup
X-LLM-Attempts: 2
--- error_log
"gone.test" of provider "gone" could not be resolved (3: Host not found)



=== TEST 5: a resolver that does not answer: the next provider answers
--- config
    location /v1/ {
        llm_route silent backup;
    }
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"hi"}]}
--- response_body
backup
--- response_headers
X-LLM-Provider: backup
X-LLM-Attempts: 2
--- error_log
"silent.test" of provider "silent" could not be resolved (110: Operation timed out)



=== TEST 6: no provider resolved: 502 naming each and why
--- config
    location /v1/ {
        llm_route gone silent;
    }
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"hi"}]}
--- error_code: 502
--- response_body_like chomp
No provider could answer: gone \(\\"gone.test\\" could not be resolved: Host not found\), silent \(\\"silent.test\\" could not be resolved: Operation timed out\)\.



=== TEST 7: HTTPS: SNI and certificate checks use the url's host name
--- http_config
    resolver  127.0.0.1:1992 ipv6=off;

    llm_provider tls {
        type     openai;
        url      https://localhost:1986/v1;
        api_key  env:LLM_TEST_KEY;
        resolve;
    }

    llm_ssl_trusted_certificate $TEST_NGINX_CERT_DIR/ca.crt;

    server {
        listen 127.0.0.2:1986 ssl;
        default_type application/json;
        error_log logs/mock.log info;
        ssl_certificate     $TEST_NGINX_CERT_DIR/localhost.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/localhost.key;

        location / {
            echo "sni=$ssl_server_name addr=$server_addr";
        }
    }
--- config
    location /v1/ {
        llm_route tls;
    }
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"hi"}]}
--- response_body
sni=localhost addr=127.0.0.2
--- no_error_log
[error]



=== TEST 8: an address in the url needs no resolver
--- http_config
    llm_provider direct {
        type     openai;
        url      http://127.0.0.1:1985/backup;
        api_key  env:LLM_TEST_KEY;
        resolve;
    }

    server {
        listen 127.0.0.1:1985;
        default_type application/json;
        location /backup/ { echo "direct"; }
    }
--- config
    location /v1/ {
        llm_route direct;
    }
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"hi"}]}
--- response_body
direct
--- no_error_log
[error]



=== TEST 9: the resolver of the location is the one used
--- http_config
    llm_provider moving {
        type     openai;
        url      http://api.test:1985/v1;
        api_key  env:LLM_TEST_KEY;
        resolve;
    }

    server {
        listen 127.0.0.2:1985;
        default_type application/json;
        location /v1/ { echo "two"; }
    }
--- init
$::Dns{'api.test'} = '127.0.0.2 1';
main::write_dns();
--- config
    location /v1/ {
        resolver 127.0.0.1:1992 ipv6=off;
        llm_route moving;
    }
--- request
POST /v1/chat/completions
{"messages":[{"role":"user","content":"hi"}]}
--- response_body
two
--- no_error_log
[error]



=== TEST 10: a name that cannot be resolved counts as a connection error
--- http_config eval
"llm_zone llm 1m;\n" . $::HttpConfig
--- config
    location /v1/ {
        llm_route gone backup;
    }

    location = /status {
        llm_status;
    }
--- request eval
["POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"hi"}]}',
 "GET /status?format=prometheus"]
--- response_body_like eval
["^backup\n\\z",
 qr/llm_router_requests_total\{provider="gone",type="openai",outcome="connect"\} 1\n.*llm_router_failovers_total\{provider="gone",type="openai"\} 1\n/s]



=== TEST 11: unresolvable names open the provider's circuit breaker
--- http_config eval
my $c = $::HttpConfig;
$c =~ s/(url      http:\/\/gone.test:1985\/v1;)/$1\n        max_fails 1;/;
"llm_zone llm 1m;\n" . $c
--- config
    location /v1/ {
        llm_route gone backup;
    }
--- request eval
["POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"hi"}]}',
 "POST /v1/chat/completions\n" . '{"messages":[{"role":"user","content":"hi"}]}']
--- response_headers eval
["X-LLM-Attempts: 2", "X-LLM-Attempts: 1"]
--- response_body eval
["backup\n", "backup\n"]
