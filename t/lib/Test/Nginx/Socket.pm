package Test::Nginx::Socket;

=pod

=head1 NAME

Test::Nginx::Socket - a small, compatible subset of Test::Nginx::Socket

=head1 DESCRIPTION

This is a clean-room implementation of the commonly used part of the
C<Test::Nginx::Socket> test scaffold (openresty/test-nginx).  It lives in
F<t/lib> and is only used when the real module is not installed: run the
tests with C<prove -I t/lib t/>.  Test files written for it stay valid for
the real one (same data format, same functions, same semantics, same TAP
test names and counts for the supported sections).

It is built on L<Test::Base> (so the C<eval>, C<chomp>, ... filters and the
C<--- ONLY>, C<--- SKIP>, C<--- LAST> markers work as usual).  For every
block the server root (F<t/servroot>) is recreated, F<conf/nginx.conf> is
generated, nginx is (re)started with C<-p servroot/ -c conf/nginx.conf>,
the request(s) are sent and every check produces one TAP test.  nginx's
stderr goes to F<logs/stderr.log>, which is searched together with
F<logs/error.log> by C<error_log>/C<no_error_log>.

=head2 Supported functions

run_tests, plan (and the other Test::More functions), blocks, repeat_each,
no_shuffle, log_level, master_on, master_off, master_process_enabled,
workers, worker_connections, add_block_preprocessor, no_long_string,
no_root_location, env_to_nginx, config_preamble, timeout, server_port,
server_port_for_client, server_addr, server_name, server_root, html_dir,
add_cleanup_handler, add_response_body_check, bail_out, is_str,
check_accum_error_log, use_hup (ignored), $ServerPort,
$ServerPortForClient.

=head2 Supported sections

main_config, post_main_config, http_config, config, user_files, log_level,
init, request (a string, or with C<eval> an ARRAY of strings sent one after
the other, each on its own connection), raw_request (string or ARRAY of
packets), raw_request_middle_delay, pipelined_requests, more_headers,
shutdown, timeout, abort, wait, ignore_response, error_code,
error_code_like, response_body, response_body_like, response_body_unlike,
response_body_filters, response_headers (C<!Name> = absent),
response_headers_like, raw_response_headers_like,
raw_response_headers_unlike, error_log, no_error_log, grep_error_log,
grep_error_log_out, access_log, no_access_log, shutdown_error_log,
no_shutdown_error_log, must_die, skip_nginx, skip_eval, todo,
tcp_listen, tcp_reply (string, ARRAY of packets, or CODE), tcp_reply_delay,
tcp_query, tcp_query_len, tcp_no_close, tcp_shutdown, tcp_shutdown_delay.

=head2 Environment variables

TEST_NGINX_BINARY, TEST_NGINX_PORT / TEST_NGINX_SERVER_PORT,
TEST_NGINX_CLIENT_PORT, TEST_NGINX_SERVROOT, TEST_NGINX_RANDOMIZE,
TEST_NGINX_LOAD_MODULES, TEST_NGINX_USE_VALGRIND, TEST_NGINX_NO_CLEAN,
TEST_NGINX_NO_SHUFFLE, TEST_NGINX_TIMEOUT, TEST_NGINX_LOG_LEVEL,
TEST_NGINX_MASTER_PROCESS, TEST_NGINX_SLEEP, TEST_NGINX_VERBOSE.
Other TEST_NGINX_* variables (CHECK_LEAK, USE_HUP, USE_STAP, ...) are
ignored.  C<$TEST_NGINX_XXX> tokens in the config sections, user_files,
requests, responses and TCP mock sections are replaced by the value of that
environment variable (C<$TEST_NGINX_RAND_PORT_N> by a free port).

=head2 Differences from the real module

Not supported: HTTP/2 and HTTP/3 (http2, http3, curl sections), http09,
stap, udp_listen, skip_openssl, skip_slave, todo_nginx, error_log_file,
server_name and server_addr_for_client sections, the check-leak and
benchmark modes and the HUP reload mode (nginx is always restarted for each
block, and kept for the repeat_each rounds of that block).  Requests given
as arrays of packets are sent as one packet.  A block defining its own
C<location /> does not get the default root location (the real one would
make nginx fail on the duplicate).  tcp_reply
packets are each preceded by tcp_reply_delay.  The TCP mock reads a full
HTTP request (or tcp_query_len bytes) before it replies.  A found
no_error_log pattern fails once (not once per matching line).  Under
TEST_NGINX_USE_VALGRIND, valgrind's reports go to F<logs/valgrind.log> and
any error report fails the block.

=cut

use Test::Base -base;    # lower-case -base: no Spiffy source filter

use POSIX qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Socket::INET ();
use IO::Select ();
use List::Util qw(shuffle);
use Time::HiRes qw(sleep time);
use Digest::MD5 ();
use Digest::SHA ();
use HTTP::Response ();
use Test::LongString ();

use Test::Nginx::Util;

our $VERSION = '0.01';

our @EXPORT = qw(
    run_tests run_test plan blocks repeat_each no_shuffle log_level
    master_on master_off master_process_enabled workers worker_connections
    add_block_preprocessor add_cleanup_handler add_response_body_check
    no_long_string no_root_location env_to_nginx config_preamble timeout
    server_port server_port_for_client server_addr server_name
    server_root html_dir use_hup check_accum_error_log no_nginx_manager
    bail_out is_str
    $ServerPort $ServerPortForClient
);

our @ResponseBodyChecks;
our $PrevBlock;             # for shutdown_error_log checks

sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

#==========================================================================
# Main loop
#==========================================================================

sub run_tests () {
    $NginxVersion = get_nginx_version();
    Test::Nginx::Util::export_env_values();

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value('name', "$0 " . $block->name);
        run_test($block);
        $PrevBlock = $block;
    }

    Test::Nginx::Util::cleanup();
}

sub get_nginx_version () {
    my $out = `$NginxBinary -V 2>&1`;
    if ($out =~ m{nginx[^/]*/(\d+)\.(\d+)\.(\d+)}) {
        return canon_version($1, $2, $3);
    }
    bail_out("Failed to run \"$NginxBinary -V\": $out");
}

sub canon_version { sprintf '%d.%03d%03d', @_ }

# Work out whether the block must be skipped (--- skip_nginx, skip_eval,
# todo).  Returns ($n_tests, $reason, $is_todo) or () to run normally.
sub block_skip_info ($) {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            my ($n, $code) = ($1, $2);
            my $skip = eval $code;
            bail_out("$name - skip_eval - failed to eval \"$code\": $@") if $@;
            return ($n, 'skip_eval') if $skip;
        } else {
            bail_out("$name - invalid --- skip_eval spec: $spec");
        }
    }

    if (defined(my $spec = $block->skip_nginx)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                      (?:\s*:\s*(.*?))?\s*$/x)
        {
            my ($n, $op) = ($1, $2);
            my $ver = canon_version($3, $4, $5);
            my $reason = $6 || "nginx version $op $3.$4.$5";
            return ($n, $reason) if eval "$NginxVersion $op $ver";
        } else {
            bail_out("$name - invalid --- skip_nginx spec: $spec");
        }
    }

    if (defined(my $spec = $block->todo)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            return ($1, $2, 1);
        }
        bail_out("$name - invalid --- todo spec: $spec");
    }

    return ();
}

sub run_test ($) {
    my $block = shift;
    my $name = $block->name;

    my ($n_skip, $skip_reason, $is_todo) = block_skip_info($block);
    if (defined $n_skip && !$is_todo) {
        SKIP: { Test::More::skip("$name - $skip_reason", $n_skip) }
        return;
    }

    my $rand_ports = {};
    my $config = expand_env_in_text($block->config, $name, $rand_ports, 1);

    # Stop the previous nginx, then check its shutdown log.
    stop_nginx($name);
    check_prev_block_shutdown_error_log();

    # --- must_die: nginx must refuse to start.
    if (defined $block->must_die) {
        run_must_die_test($block, $config, $rand_ports);
        return;
    }

    setup_server_root();
    write_user_files($block, $rand_ports);
    write_config_file($block, $config, $rand_ports);

    # The TCP mock for the first round listens before nginx starts.
    my $tcp_srv;
    $tcp_srv = start_tcp_server($block, $rand_ports)
        if defined $block->tcp_listen;

    my ($ok, $err) = Test::Nginx::Util::start_nginx($name, 0);
    if (!$ok) {
        finish_tcp_server($tcp_srv);
        Test::More::fail("$name - nginx failed to start");
        Test::More::diag($err) if defined $err;
        return;
    }

    if (defined $block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    Test::Nginx::Util::reset_error_log_pos();

    for my $i (0 .. $RepeatEach - 1) {
        if ($i > 0) {
            write_user_files($block, $rand_ports);
            $tcp_srv = start_tcp_server($block, $rand_ports)
                if defined $block->tcp_listen;
        }

        my $run = sub {
            run_test_helper($block, $i, $rand_ports);
            my $query = finish_tcp_server($tcp_srv);
            check_tcp_query($block, $query) if $tcp_srv;
            undef $tcp_srv;
        };

        if ($is_todo) {
            TODO: {
                no warnings 'once';
                local $Test::Nginx::Socket::TODO = "$name - $skip_reason";
                $run->();
            }
        } else {
            $run->();
        }
    }

    # Under valgrind nginx is stopped after every block so that leaks and
    # memory errors are reported to this block.
    if ($UseValgrind) {
        stop_nginx($name);
        my $report = Test::Nginx::Util::valgrind_errors();
        if ($report) {
            Test::More::fail("$name - valgrind reported errors");
            Test::More::diag($report);
        }
    }
}

sub run_must_die_test ($$$) {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;
    my $must_die = $block->must_die;

    for my $i (0 .. $RepeatEach - 1) {
        setup_server_root();
        write_user_files($block, $rand_ports);
        write_config_file($block, $config, $rand_ports);

        my ($status) = Test::Nginx::Util::start_nginx($name, 1);
        my $exit_code = $status >> 8;

        if ($status & 127) {
            Test::More::fail("$name - nginx crashed (signal "
                             . ($status & 127) . ")");
        } elsif ($must_die =~ /^\s*\d+\s*$/) {
            Test::More::is($exit_code, $must_die + 0,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        Test::Nginx::Util::reset_error_log_pos();
        check_error_log($block, $i);

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; "
                 . "killing it (req $i)\n";
            my $t0 = time;
            sleep 0.01 while !-f $PidFile && time - $t0 < 1;
            stop_nginx($name);
        }
    }
}

END {
    return if $Test::Nginx::Util::InSubprocess;
    Test::Nginx::Util::cleanup();
    if ($UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN}) {
        local $?;
        stop_nginx('END');
        check_prev_block_shutdown_error_log();
    }
    if ($Test::Nginx::Util::Randomize && $ServRoot =~ m{/t/servroot_\d+$}) {
        local $?;
        system('rm', '-rf', $ServRoot);
    }
}

#==========================================================================
# Requests
#==========================================================================

# Parse "Name: value" lines of --- more_headers into a header string.
sub parse_more_headers ($) {
    my $in = shift;
    my ($out, $chunked) = ('', 0);
    for my $line (split /\n+/, $in // '') {
        next if $line =~ /^\s*#/;
        $line =~ s/\r$//;
        my ($key, $val) = split /:\s*/, $line, 2;
        next unless defined $key && length $key;
        $val = '' unless defined $val;
        $chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}

# Turn "METHOD URI [VERSION]\nbody" into a full HTTP request.
sub build_request ($$$$) {
    my ($name, $req, $more_headers, $conn) = @_;

    $req = '' unless defined $req;
    # Leading blank lines and "# comment" lines are dropped.
    1 while $req =~ s/^\s*#[^\n]*\n|^\s+//;

    my ($first, $body) = split /\n/, $req, 2;
    if (!defined $first || $first !~ /\S/) {
        bail_out("$name - Request line should be non-empty");
    }
    $first =~ s/\r$//;
    my ($meth, $uri, $ver) = split ' ', $first;
    $uri = '/' unless defined $uri;
    $ver = 'HTTP/1.1' unless defined $ver;
    $body = '' unless defined $body;

    my ($hdrs, $chunked) = parse_more_headers($more_headers);

    my $len_header = '';
    if (!$chunked && length $body && $hdrs !~ /(?:^|\n)Content-Length:/i) {
        $body =~ s/^\s+|\s+$//g;
        $len_header = "Content-Length: " . length($body) . "\r\n";
    }

    my $head = "$meth $uri $ver\r\n";
    $head .= "Host: $ServerName\r\n" if $hdrs !~ /(?:^|\n)Host:/i;
    $head .= "Connection: $conn\r\n" if $hdrs !~ /(?:^|\n)Connection/i;
    $head .= $hdrs . $len_header . "\r\n";

    return $head . $body;
}

# Expand $TEST_NGINX_* and $ServerPort in a (possibly nested) value.
sub expand_value ($$$);
sub expand_value ($$$) {
    my ($val, $name, $rand_ports) = @_;
    return $val unless defined $val;
    if (ref $val eq 'ARRAY') {
        return [ map { expand_value($_, $name, $rand_ports) } @$val ];
    }
    return $val if ref $val;
    $val = expand_env_in_text($val, $name, $rand_ports);
    return $val;
}

# Returns a list of requests; each one is a list of packets (strings).
sub get_requests ($$) {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $exp = sub { expand_value(shift, $name, $rand_ports) };

    if (defined $block->raw_request) {
        my $raw = $exp->($block->raw_request);
        return [ ref $raw eq 'ARRAY' ? @$raw : ($raw) ];
    }

    my $more = $exp->($block->more_headers // '');
    my $hdr_for = sub {
        my $i = shift;
        return $more unless ref $more eq 'ARRAY';
        bail_out("$name - --- more_headers lacks data for request $i")
            unless defined $more->[$i];
        return $more->[$i];
    };

    if (defined(my $reqs = $block->pipelined_requests)) {
        $reqs = $exp->($reqs);
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$reqs) {
            $all .= build_request($name, $reqs->[$i], $hdr_for->($i),
                                  $i == $#$reqs ? 'close' : 'keep-alive');
        }
        return [$all];
    }

    my $request = $exp->($block->request);
    bail_out("$name - no --- request section") unless defined $request;

    if (!ref $request) {
        return [ build_request($name, $request, $hdr_for->(0), 'close') ];
    }
    if (ref $request ne 'ARRAY') {
        bail_out("$name - invalid --- request: must be a string or an ARRAY");
    }
    my @list;
    for my $i (0 .. $#$request) {
        my $r = $request->[$i];
        # An ARRAY of packets is joined and sent as one packet.
        $r = join '', map { ref $_ eq 'HASH' ? $_->{value} : $_ } @$r
            if ref $r eq 'ARRAY';
        push @list, [ build_request($name, $r, $hdr_for->($i), 'close') ];
    }
    return @list;
}

# Send the packets over a new connection and read the response.
# Returns ($raw_response, $timed_out).
sub send_request ($$$$) {
    my ($block, $packets, $timeout, $wait_close) = @_;
    my $name = $block->name;
    my @packets = ref $packets eq 'ARRAY' ? @$packets : ($packets);
    my $middle_delay = parse_time($block->raw_request_middle_delay);
    local $SIG{PIPE} = 'IGNORE';

    # Connect (retrying a little: nginx may still be busy starting).
    my ($sock, $err);
    my $t0 = time;
    while (1) {
        $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                      PeerPort => $ServerPortForClient,
                                      Proto => 'tcp', Timeout => $timeout);
        last if $sock;
        $err = $!;
        last if time - $t0 > ($UseValgrind ? 10 : 3);
        sleep 0.05;
    }
    if (!$sock) {
        Test::More::fail("$name - Can't connect to "
                         . "$ServerAddr:$ServerPortForClient: $err (aborted)");
        return ('', 0);
    }
    $sock->blocking(0);
    my $sel = IO::Select->new($sock);

    my $resp = '';
    my $head_req = join('', @packets) =~ /^\s*HEAD\s/;

    # Write all the packets.
    my $write_failed;
    PACKET:
    for my $pi (0 .. $#packets) {
        sleep $middle_delay if $pi > 0 && $middle_delay;
        my $buf = $packets[$pi];
        my $off = 0;
        while ($off < length $buf) {
            if (!$sel->can_write($timeout)) {
                $write_failed = 'timeout';
                last PACKET;
            }
            my $n = syswrite($sock, $buf, length($buf) - $off, $off);
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                warn "WARNING: $name - write failed: $!\n" if $Verbose;
                $write_failed = $!;
                last PACKET;
            }
            $off += $n;
        }
    }

    if (!$write_failed && defined(my $how = $block->shutdown)) {
        $how = 1 if $how !~ /\S/;
        shutdown($sock, $how);
    }

    # Read until the server closes the connection (or, for keep-alive
    # requests, until the response is complete), with an inactivity
    # timeout.
    my $timed_out = 0;
    while (1) {
        if (!$sel->can_read($timeout)) {
            $timed_out = 1;
            last;
        }
        my $chunk;
        my $n = sysread($sock, $chunk, 65536);
        if (!defined $n) {
            next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            warn "WARNING: $name - HTTP response read failure: $!\n"
                unless $block->abort;
            last;
        }
        last if $n == 0;
        $resp .= $chunk;
        last if !$wait_close && response_complete($resp, $head_req);
    }
    close $sock;

    if ($timed_out) {
        if (!defined $block->abort) {
            Test::More::fail("ERROR: client socket timed out - $name");
        } else {
            sleep 0.005;
        }
    }

    return ($resp, $timed_out, $head_req);
}

# Is $raw a complete HTTP response (used for keep-alive connections)?
sub response_complete ($$) {
    my ($raw, $head_req) = @_;
    my $pos = index $raw, "\r\n\r\n";
    return 0 if $pos < 0;
    my $head = substr $raw, 0, $pos;
    my $body = substr $raw, $pos + 4;
    return 1 if $head_req || $head =~ m{^HTTP/\S+\s+(?:1\d\d|204|304)\b};
    if ($head =~ /^Transfer-Encoding:\s*chunked/mi) {
        my (undef, $complete) = decode_chunked($body);
        return $complete;
    }
    return length($body) >= $1 if $head =~ /^Content-Length:\s*(\d+)/mi;
    return 0;
}

# Decode a chunked body.  Returns ($decoded, $complete, $left, $error).
sub decode_chunked ($) {
    my $raw = shift;
    my $decoded = '';
    my $pos = 0;
    while (1) {
        my $rest = substr $raw, $pos;
        if ($rest =~ /\A[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r\n/) {
            my $size = hex $1;
            my $hdr_len = length $&;
            if ($size == 0) {
                # Last chunk: optional trailers, then an empty line.
                my $after = substr $rest, $hdr_len;
                if ($after =~ /\A((?:[^\r\n]+\r\n)*)\r\n/) {
                    my $left = substr $after, length $&;
                    return ($decoded, 1, $left, undef);
                }
                return ($decoded, 0, '', undef);
            }
            if (length($rest) < $hdr_len + $size + 2) {
                return ($decoded, 0, '', 'not enough octets for the data section');
            }
            $decoded .= substr $rest, $hdr_len, $size;
            if (substr($rest, $hdr_len + $size, 2) ne "\r\n") {
                return ($decoded, 0, '', 'expected CRLF');
            }
            $pos += $hdr_len + $size + 2;
        } elsif (length $rest) {
            return ($decoded, 0, '', "invalid chunked body received: $rest");
        } else {
            return ($decoded, 0, '', 'no last chunk found');
        }
    }
}

# Parse a raw response.  Returns ($res, $raw_headers, $left) where $res is
# an HTTP::Response (undef for broken chunked data) and $left holds the
# bytes after this response (pipelined requests).  With $partial (the
# client gave up waiting and the block says "abort"), a chunked body that
# has no last chunk yet is taken as what arrived so far.
sub parse_response ($$$;$) {
    my ($name, $raw, $head_req, $partial) = @_;

    my $raw_headers = '';
    $raw_headers = $1 if $raw =~ /(.*?\r\n)\r\n/s;

    my $res = HTTP::Response->parse($raw);
    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        $res->code(undef);
        $code = undef;
    }
    my $left;
    return ($res, $raw_headers, undef) if $code && ($code == 304 || $code == 101);

    my $body = $res->content // '';
    if ($head_req) {
        $left = $body if length $body;
        $res->content('');
        return ($res, $raw_headers, $left);
    }

    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    if (defined $enc && $enc eq 'chunked') {
        my ($decoded, $complete, $rest, $err) = decode_chunked($body);
        if (!$complete && $partial && $err eq 'no last chunk found') {
            $complete = 1;
        }
        if (!$complete) {
            Test::More::fail("$name - invalid chunked data received ("
                             . ($err // 'incomplete') . ")");
            return (undef, $raw_headers, undef);
        }
        $res->content($decoded);
        $left = $rest if length $rest;
    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        } elsif (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($body) . "\n";
        }
    }
    return ($res, $raw_headers, $left);
}

#==========================================================================
# Checks
#==========================================================================

# Value of a check section for request $idx: ARRAY values are indexed,
# scalars apply to every request.
sub indexed_value ($$) {
    my ($value, $idx) = @_;
    return $value->[$idx] if ref $value eq 'ARRAY';
    return $value;
}

sub run_test_helper ($$$) {
    my ($block, $rep_idx, $rand_ports) = @_;
    my $name = $block->name;

    my $timeout = parse_time($block->timeout);
    $timeout = timeout() unless defined $timeout;

    my @reqs = get_requests($block, $rand_ports);
    my $pipelined = defined $block->pipelined_requests;
    my $n_pipelined = $pipelined ? scalar @{ $block->pipelined_requests } : 0;
    my $need_array = $pipelined ? 1 : @reqs > 1;

    # Expected values may contain $TEST_NGINX_* tokens too.
    my %exp;
    for my $sec (qw(error_code error_code_like response_body
                    response_body_like response_body_unlike
                    response_headers response_headers_like
                    raw_response_headers_like raw_response_headers_unlike))
    {
        $exp{$sec} = expand_value(scalar $block->$sec, $name, $rand_ports);
    }

    my $req_idx = 0;
    my $res;
    for my $ri (0 .. $#reqs) {
        my $packets = $reqs[$ri];
        # Wait for the server to close unless the request asked for
        # keep-alive in which case we stop at the end of the response.
        my $joined = join '', @$packets;
        my $keepalive = !$pipelined && $joined =~ /^Connection:\s*keep-alive/mi;
        my ($raw, $timed_out, $head_req) =
            send_request($block, $packets, $timeout, !$keepalive);

        my $todo = $pipelined ? $n_pipelined : 1;
        while ($todo-- > 0) {
            my ($raw_headers, $left) = ('', undef);
            if (!defined $block->ignore_response) {
                ($res, $raw_headers, $left) =
                    parse_response($name, $raw, $head_req,
                                   $timed_out && defined $block->abort);
                if (!$pipelined && defined $left && length $left) {
                    my $l = fmt_str($left);
                    warn "WARNING: $name - unexpected extra bytes after the "
                         . "response: \"$l\"\n";
                }

                check_error_code($block, \%exp, $res, $req_idx);
                check_raw_response_headers($block, \%exp, $raw_headers,
                                           $req_idx);
                check_response_headers($block, \%exp, $res, $raw_headers,
                                       $req_idx);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, \%exp, $res, $req_idx, $rep_idx);
            }
            $raw = $left // '';

            # As in the real one, the error log is also checked after each
            # request but the last one.
            if ($todo > 0 || $ri < $#reqs) {
                sleep parse_time($block->wait) if $block->wait;
                check_error_log($block, $rep_idx);
                check_access_log($block, $rep_idx)
                    unless defined $block->ignore_response;
            }
            $req_idx++;
        }
    }

    sleep parse_time($block->wait) if $block->wait;
    check_error_log($block, $rep_idx);
    check_access_log($block, $rep_idx) unless defined $block->ignore_response;
}

sub check_error_code ($$$$) {
    my ($block, $exp, $res, $idx) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';
    if (defined $exp->{error_code_like}) {
        my $pat = indexed_value($exp->{error_code_like}, $idx);
        Test::More::like($code, qr/$pat/sm, "$name - status code ok");
    } elsif (defined $exp->{error_code}) {
        my $want = indexed_value($exp->{error_code}, $idx);
        $want =~ s/^\s+|\s+$//g if defined $want;
        Test::More::is($code, $want, "$name - status code ok");
    } else {
        Test::More::is($code, 200, "$name - status code ok");
    }
}

sub check_raw_response_headers ($$$$) {
    my ($block, $exp, $raw_headers, $idx) = @_;
    my $name = $block->name;
    if (defined $exp->{raw_response_headers_like}) {
        my $pat = indexed_value($exp->{raw_response_headers_like}, $idx);
        Test::More::like($raw_headers, qr/$pat/s,
                         "$name - raw resp headers like");
    }
    if (defined $exp->{raw_response_headers_unlike}) {
        my $pat = indexed_value($exp->{raw_response_headers_unlike}, $idx);
        Test::More::unlike($raw_headers, qr/$pat/s,
                           "$name - raw resp headers unlike");
    }
}

# "Name: value" lines -> ordered list of [name, value]; "!Name" gives
# [name, undef] (header must be absent).  A repeated name keeps its last
# value (one test per distinct name, as in the real one).
sub parse_header_spec ($) {
    my $s = shift;
    my (@order, %val);
    for my $line (split /\n/, $s // '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        my ($key, $v);
        if ($line =~ s/^!\s*//) {
            ($key, $v) = ($line, undef);
        } else {
            ($key, $v) = split /\s*:\s*/, $line, 2;
            $v = '' unless defined $v;
        }
        push @order, $key unless exists $val{$key};
        $val{$key} = $v;
    }
    return map { [$_, $val{$_}] } @order;
}

sub check_response_headers ($$$$$) {
    my ($block, $exp, $res, $raw_headers, $idx) = @_;
    my $name = $block->name;

    if (defined $exp->{response_headers}) {
        for my $h (parse_header_spec(indexed_value($exp->{response_headers},
                                                   $idx)))
        {
            my ($key, $val) = @$h;
            if (!defined $val) {
                Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                    "$name - header $key not present in the raw headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            my $actual = $res ? $res->header($key) : undef;
            $actual = '' unless defined $actual;
            Test::More::is($actual, $val, "$name - header $key ok");
        }
    } elsif (defined $exp->{response_headers_like}) {
        for my $h (parse_header_spec(
                       indexed_value($exp->{response_headers_like}, $idx)))
        {
            my ($key, $val) = @$h;
            my $actual = $res ? $res->header($key) : undef;
            $actual = '' unless defined $actual;
            $val = '' unless defined $val;
            Test::More::like($actual, qr/^$val$/,
                             "$name - header $key like ok");
        }
    }
}

# --- response_body_filters: uc, lc, length, md5_hex, ... or CODE refs.
sub transform_response_body ($$$) {
    my ($block, $res, $idx) = @_;
    my $filters = $block->response_body_filters;
    return unless defined $filters && $res && defined $res->content;
    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//g;
        $filters = [ split /\s+/, $filters ];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }
    # A two-dimensional array holds one filter list per request.
    if (ref $filters->[0] eq 'ARRAY') {
        $filters = $filters->[$idx] // [];
    }

    my %builtin = (
        uc => sub { uc shift }, lc => sub { lc shift },
        ucfirst => sub { ucfirst shift }, lcfirst => sub { lcfirst shift },
        length => sub { length shift },
        md5_hex => sub { Digest::MD5::md5_hex(shift) },
        sha1_hex => sub { Digest::SHA::sha1_hex(shift) },
    );
    my $content = $res->content;
    for my $f (@$filters) {
        if (ref $f eq 'CODE') {
            $content = $f->($content);
        } elsif ($builtin{$f}) {
            $content = $builtin{$f}->($content);
        } else {
            bail_out("$name - unknown filter \"$f\" in "
                     . "--- response_body_filters");
        }
    }
    $res->content($content);
}

sub check_response_body ($$$$$) {
    my ($block, $exp, $res, $idx, $rep_idx) = @_;
    my $name = $block->name;

    my $content = $res ? $res->content : undef;

    if (defined $exp->{response_body}) {
        my $expected = indexed_value($exp->{response_body}, $idx);
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }
        if (ref $expected) {
            Test::More::like($content, $expected,
                             "$name - response_body - like (req $idx)");
        } elsif ($NoLongString) {
            Test::More::is($content, $expected,
                "$name - response_body - response is expected (req $idx)");
        } else {
            Test::LongString::is_string($content, $expected,
                "$name - response_body - response is expected (req $idx)");
        }

    } elsif (defined $exp->{response_body_like}
             || defined $exp->{response_body_unlike})
    {
        my $type = defined $exp->{response_body_like} ? 'like' : 'unlike';
        my $pat = indexed_value($exp->{"response_body_$type"}, $idx);
        $pat = '' unless defined $pat;
        $pat =~ s/\$ServerPort\b/$ServerPort/g unless ref $pat;
        my $summary = trim($content) // '';
        my $desc = "$name - response_body_$type - response is expected "
                   . "($summary)";
        if ($type eq 'like') {
            Test::More::like($content, qr/$pat/s, $desc);
        } else {
            Test::More::unlike($content, qr/$pat/s, $desc);
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $idx, $rep_idx, 0);
    }
}

sub check_tcp_query ($$) {
    my ($block, $query) = @_;
    my $name = $block->name;
    if (defined $block->tcp_query) {
        is_str($query, $block->tcp_query, "$name - tcp_query ok");
    }
    if (defined $block->tcp_query_len) {
        Test::More::is(length($query), $block->tcp_query_len,
                       "$name - TCP query length ok");
    }
}

# Turn an error_log-like section value into a list of patterns: plain
# strings (substring match) or qr// objects.
sub pattern_list ($) {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return grep { length } split /\n+/, $pats;
    }
    return ($pats) if ref $pats eq 'Regexp';
    return @$pats;
}

sub line_matches ($$) {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub check_error_log ($$) {
    my ($block, $rep_idx) = @_;
    my $name = $block->name;
    my $lines;

    # --- grep_error_log / grep_error_log_out
    if (defined(my $grep = $block->grep_error_log)) {
        $grep = $grep->[$rep_idx] if ref $grep eq 'ARRAY';
        my $expected = $block->grep_error_log_out;
        bail_out("$name - --- grep_error_log without --- grep_error_log_out")
            unless defined $expected;
        $expected = $expected->[$rep_idx] if ref $expected eq 'ARRAY';
        $lines ||= error_log_data();
        my $out = '';
        for my $line (@$lines) {
            my $m;
            if (ref $grep) {
                $m = $& if $line =~ $grep;
            } elsif (index($line, $grep) >= 0) {
                $m = $grep;
            }
            $out .= "$m\n" if defined $m && $m !~ /\n/;
        }
        is_str($out, $expected, "$name - grep_error_log_out (req $rep_idx)");
    }

    my %checked_level;

    if (defined $block->error_log) {
        my @pats = pattern_list($block->error_log);
        for my $p (@pats) {
            $checked_level{$1} = 1 if !ref $p && $p =~ /\[(alert|crit|emerg)/;
        }
        $lines ||= error_log_data();
        my @pending = @pats;
        for my $line (@$lines) {
            for my $p (@pending) {
                next unless defined $p && line_matches($line, $p);
                Test::More::pass("$name - pattern \"$p\" matches a line in "
                                 . "error.log (req $rep_idx)");
                undef $p;
            }
        }
        for my $p (grep { defined } @pending) {
            Test::More::fail("$name - pattern \"$p\" should match a line in "
                             . "error.log (req $rep_idx)");
        }
    }

    if (defined $block->no_error_log) {
        my @pats = pattern_list($block->no_error_log);
        for my $p (@pats) {
            $checked_level{$1} = 1 if !ref $p && $p =~ /\[(alert|crit|emerg)/;
        }
        $lines ||= error_log_data();
        for my $p (@pats) {
            my ($hit) = grep { line_matches($_, $p) } @$lines;
            my $fp = fmt_str($p);
            if (defined $hit) {
                my $ln = fmt_str($hit);
                Test::More::fail("$name - pattern \"$fp\" should not match "
                    . "any line in error.log but matches line \"$ln\" "
                    . "(req $rep_idx)");
            } else {
                Test::More::pass("$name - pattern \"$fp\" does not match a "
                                 . "line in error.log (req $rep_idx)");
            }
        }
    }

    # Like the real one: warn about unexpected alert/crit/emerg messages and
    # fail on assertion failures.
    $lines ||= error_log_data();
    for my $line (@$lines) {
        for my $level (qw(alert crit emerg)) {
            next if $checked_level{$level};
            if ($line =~ /\[$level\]/) {
                warn "WARNING: $name - " . fmt_str($line) . "\n";
            }
        }
        if ($line =~ /\bAssertion .*?failed\b/) {
            (my $l = $line) =~ s/\n$//;
            Test::More::fail("$name - $l");
        }
    }
}

sub check_access_log ($$) {
    my ($block, $rep_idx) = @_;
    my $name = $block->name;
    my $lines;

    if (defined $block->access_log) {
        my @pending = pattern_list($block->access_log);
        $lines ||= access_log_data();
        for my $line (@$lines) {
            for my $p (@pending) {
                next unless defined $p && line_matches($line, $p);
                Test::More::pass("$name - pattern \"$p\" matches a line in "
                                 . "access.log (req $rep_idx)");
                undef $p;
            }
        }
        for my $p (grep { defined } @pending) {
            Test::More::fail("$name - pattern \"$p\" should match a line in "
                             . "access.log (req $rep_idx)");
        }
    }

    if (defined $block->no_access_log) {
        $lines ||= access_log_data();
        for my $p (pattern_list($block->no_access_log)) {
            my ($hit) = grep { line_matches($_, $p) } @$lines;
            my $fp = fmt_str($p);
            if (defined $hit) {
                Test::More::fail("$name - pattern \"$fp\" should not match "
                    . "any line in access.log but matches line \""
                    . fmt_str($hit) . "\" (req $rep_idx)");
            } else {
                Test::More::pass("$name - pattern \"$fp\" does not match a "
                                 . "line in access.log (req $rep_idx)");
            }
        }
    }
}

# --- shutdown_error_log / no_shutdown_error_log of the previous block,
# checked once its nginx has been stopped.
sub check_prev_block_shutdown_error_log () {
    my $block = $PrevBlock;
    return unless $block;
    undef $PrevBlock;
    return unless defined $block->shutdown_error_log
               || defined $block->no_shutdown_error_log;
    my $name = $block->name;
    my $lines = error_log_data();

    if (defined $block->no_shutdown_error_log) {
        for my $p (pattern_list($block->no_shutdown_error_log)) {
            my ($hit) = grep { line_matches($_, $p) } @$lines;
            my $fp = fmt_str($p);
            if (defined $hit) {
                Test::More::fail("$name - pattern \"$fp\" should not match "
                    . "any line in error.log but matches line \""
                    . fmt_str($hit) . "\"");
            } else {
                Test::More::pass("$name - pattern \"$fp\" does not match a "
                                 . "line in error.log");
            }
        }
    }

    if (defined $block->shutdown_error_log) {
        my @pending = pattern_list($block->shutdown_error_log);
        for my $line (@$lines) {
            for my $p (@pending) {
                next unless defined $p && line_matches($line, $p);
                Test::More::pass("$name - pattern \"$p\" matches a line in "
                                 . "error.log");
                undef $p;
            }
        }
        for my $p (grep { defined } @pending) {
            Test::More::fail("$name - pattern \"$p\" should match a line in "
                             . "error.log");
        }
    }
}

1;
