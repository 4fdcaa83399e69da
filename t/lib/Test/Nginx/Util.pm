package Test::Nginx::Util;

# Helpers for the local, clean-room Test::Nginx::Socket replacement (see the
# POD in Test/Nginx/Socket.pm).  This module holds the global settings, the
# server root / nginx.conf generation, the nginx process management, error
# log reading, "$TEST_NGINX_*" expansion and the raw TCP mock server.

use strict;
use warnings;

use base 'Exporter';

use Cwd qw(cwd);
use File::Spec ();
use File::Path qw(make_path remove_tree);
use File::Temp ();
use IO::Socket::INET ();
use IO::Socket::UNIX ();
use IO::Select ();
use POSIX qw(:sys_wait_h SIGQUIT SIGTERM SIGKILL);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(sleep time);
use Test::More ();
use Test::LongString ();

our $VERSION = '0.01';

our @EXPORT = qw(
    repeat_each no_shuffle log_level master_on master_off
    master_process_enabled workers worker_connections
    add_block_preprocessor add_cleanup_handler no_long_string
    no_root_location env_to_nginx config_preamble timeout
    server_port server_port_for_client server_addr server_name
    server_root html_dir use_hup check_accum_error_log no_nginx_manager
    bail_out is_str parse_time trim fmt_str is_running
    error_log_data access_log_data expand_env_in_text
    setup_server_root write_user_files write_config_file
    stop_nginx start_tcp_server finish_tcp_server
    $ServerPort $ServerPortForClient $ServerAddr $ServerName
    $ServRoot $HtmlDir $LogDir $ConfDir $ConfFile $PidFile
    $ErrLogFile $StderrLogFile $AccLogFile $NginxBinary $NginxVersion
    $RepeatEach $NoShuffle $NoLongString $UseValgrind $Verbose
    @BlockPreprocessors
);

#--------------------------------------------------------------------------
# Global settings (mostly taken from TEST_NGINX_* environment variables)
#--------------------------------------------------------------------------

our $Verbose            = $ENV{TEST_NGINX_VERBOSE};
our $UseValgrind        = $ENV{TEST_NGINX_USE_VALGRIND};
our $LoadModules        = $ENV{TEST_NGINX_LOAD_MODULES};
our $Randomize          = $ENV{TEST_NGINX_RANDOMIZE};
our $NoShuffle          = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $Timeout            = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep     = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $LogLevel           = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $CheckAccumErrLog   = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $Workers            = 1;
our $WorkerConnections  = 64;
our $RepeatEach         = 1;
our $NoRootLocation     = 0;
our $NoLongString       = undef;
our $ConfigPreamble     = '';
our $ServerAddr         = '127.0.0.1';
our $ServerName         = 'localhost';
our $NginxVersion;      # canonical form, e.g. 1.022001 (set by run_tests)
our @EnvToNginx;
our @BlockPreprocessors;
our @CleanupHandlers;

# nginx binary: TEST_NGINX_BINARY, else "nginx" in PATH, else /usr/sbin/nginx.
our $NginxBinary = $ENV{TEST_NGINX_BINARY} || find_in_path('nginx')
                   || '/usr/sbin/nginx';

our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                  || 1984;

if ($Randomize) {
    $ServerPort = gen_rand_port({})
        or die "Cannot find a free port for TEST_NGINX_RANDOMIZE\n";
}

our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;

# The server root: t/servroot (absolute) unless told otherwise.
our $ServRoot;
if ($Randomize) {
    $ServRoot = File::Spec->rel2abs("t/servroot_$ServerPort");
} else {
    $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
}

our $LogDir        = "$ServRoot/logs";
our $HtmlDir       = "$ServRoot/html";
our $ConfDir       = "$ServRoot/conf";
our $ConfFile      = "$ConfDir/nginx.conf";
our $PidFile       = "$LogDir/nginx.pid";
our $ErrLogFile    = "$LogDir/error.log";
our $StderrLogFile = "$LogDir/stderr.log";     # nginx's own stderr
our $AccLogFile    = "$LogDir/access.log";
our $ValgrindLogFile = "$LogDir/valgrind.log";

# valgrind.suppress shipped next to this module (known nginx core leaks).
our $BuiltinSuppressions = do {
    (my $dir = File::Spec->rel2abs(__FILE__)) =~ s{/[^/]+$}{};
    "$dir/valgrind.suppress";
};

# Make the well-known values visible to "eval" sections and to the
# $TEST_NGINX_* expansion done by expand_env_in_text().
my $UserSetServerPortEnv = defined $ENV{TEST_NGINX_SERVER_PORT};
sub export_env_values () {
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort unless $UserSetServerPortEnv;
    $ENV{TEST_NGINX_PORT}        //= $ServerPort;
    $ENV{TEST_NGINX_SERVROOT}    //= $ServRoot;
    $ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
    $ENV{TEST_NGINX_HTML_DIR}    //= $HtmlDir;
}
export_env_values();

# Process state.
our $NginxChildPid;     # nginx started by us in the foreground (valgrind)
our $TcpServerPid;      # the forked TCP mock server
our $InSubprocess;      # true inside forked helpers: skip END cleanup
my %LogPos;             # error log read positions (per file)

#--------------------------------------------------------------------------
# Small setters/getters used by the test files
#--------------------------------------------------------------------------

sub repeat_each (@) { $RepeatEach = shift if @_; return $RepeatEach }
sub no_shuffle () { $NoShuffle = 1 }
sub log_level (@) { $LogLevel = shift if @_; return $LogLevel }
sub master_on () { $MasterProcessEnabled = 'on' }
sub master_off () { $MasterProcessEnabled = 'off' }
sub master_process_enabled (@) {
    $MasterProcessEnabled = (shift() ? 'on' : 'off') if @_;
    return $MasterProcessEnabled;
}
sub workers (@) { $Workers = shift if @_; return $Workers }
sub worker_connections (@) {
    $WorkerConnections = shift if @_;
    return $WorkerConnections;
}
sub no_long_string () { $NoLongString = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub config_preamble ($) { $ConfigPreamble = shift }
sub timeout (@) { $Timeout = shift if @_; return $Timeout }
sub server_port (@) {
    if (@_) {
        $ServerPort = $ServerPortForClient = shift;
        export_env_values();
    }
    return $ServerPort;
}
sub server_port_for_client (@) {
    $ServerPortForClient = shift if @_;
    return $ServerPortForClient;
}
sub server_addr (@) { $ServerAddr = shift if @_; return $ServerAddr }
sub server_name (@) { $ServerName = shift if @_; return $ServerName }
sub server_root () { return $ServRoot }
sub html_dir () { return $HtmlDir }
sub use_hup () { }               # accepted, but nginx is always restarted
sub no_nginx_manager () { }      # accepted, ignored
sub check_accum_error_log () { $CheckAccumErrLog = 1 }

# Note: like the real one, the most recently added preprocessor runs first.
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }

sub env_to_nginx (@) {
    die "env_to_nginx: no arguments specified\n" unless @_;
    for my $v (@_) {
        die "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

#--------------------------------------------------------------------------
# Generic utilities
#--------------------------------------------------------------------------

sub find_in_path {
    my $cmd = shift;
    return (-x $cmd ? $cmd : undef) if $cmd =~ m{/};
    for my $dir (split /:/, $ENV{PATH} || '') {
        next if $dir eq '';
        return "$dir/$cmd" if -f "$dir/$cmd" && -x _;
    }
    return undef;
}

# "100ms" -> 0.1, "2s" -> 2, "0.5" -> 0.5
sub parse_time ($) {
    my $tm = shift;
    return undef unless defined $tm;
    $tm =~ s/^\s+|\s+$//g;
    if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
        $tm = $tm / 1000;
    } else {
        $tm =~ s/([^_a-zA-Z])s$/$1/;
    }
    return $tm;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /g;
    $s =~ s/\s{2,}/ /g;
    return $s;
}

# Make a string printable on one line for test names.
sub fmt_str ($) {
    my $s = shift;
    return '' unless defined $s;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# Compare a string with an expected string (or qr// object).
sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    return Test::More::is($got, $expected, $desc) if $NoLongString;
    return Test::LongString::is_string($got, $expected, $desc);
}

# Is the process alive?  Reaps it first when it is our own (zombie) child.
sub is_running ($) {
    my $pid = shift;
    return 0 unless $pid;
    waitpid($pid, WNOHANG);
    return 0 unless kill(0, $pid);
    # A zombie that is not our child still answers kill 0: look at /proc.
    if (open my $in, '<', "/proc/$pid/stat") {
        my $stat = <$in> // '';
        close $in;
        return 0 if $stat =~ /^\d+ \(.*\) [ZX] /s;
    }
    return 1;
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# Find a free TCP port on 127.0.0.1 (not in %$used).
sub gen_rand_port {
    my ($used) = @_;
    for (1 .. 1000) {
        my $port = 1985 + int(rand(65535 - 1985));
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1',
            LocalPort => $port,
            Proto     => 'tcp',
            ReuseAddr => 1,
            Listen    => 1,
        );
        if ($sock) {
            close $sock;
            return $port;
        }
    }
    return undef;
}

# Replace $TEST_NGINX_XXX tokens.  $TEST_NGINX_RAND_PORT_N get a free port
# (the same one for the whole block: $rand_ports is per block).  When
# $strict is true an undefined variable is fatal (as the real one does for
# the config sections); otherwise the token is left alone.
sub expand_env_in_text ($$$;$) {
    my ($text, $name, $rand_ports, $strict) = @_;
    return $text unless defined $text && !ref $text;

    $text =~ s{\$(TEST_NGINX_[A-Z0-9_]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            if (!defined $rand_ports->{$var}) {
                my %used = ($ServerPort => 1,
                            map { $_ => 1 } values %$rand_ports);
                $rand_ports->{$var} = gen_rand_port(\%used)
                    // bail_out("$name - cannot find a free port for $var");
            }
            $val = $rand_ports->{$var};
        } elsif ($var eq 'TEST_NGINX_SERVER_PORT' || $var eq 'TEST_NGINX_PORT') {
            $val = $ServerPort;     # the port nginx really listens on
        } elsif ($var eq 'TEST_NGINX_SERVROOT' || $var eq 'TEST_NGINX_SERVER_ROOT') {
            $val = $ServRoot;
        } elsif ($var eq 'TEST_NGINX_HTML_DIR') {
            $val = $HtmlDir;
        } else {
            $val = $ENV{$var};
            if (!defined $val) {
                bail_out("$name - No environment $var defined.\n") if $strict;
                $val = "\$$var";
            }
        }
        $val;
    }ge;

    return $text;
}

#--------------------------------------------------------------------------
# Server root and nginx.conf
#--------------------------------------------------------------------------

# Recreate the server root: conf/, html/ (with index.html) and logs/.
# Only the sub directories that we create are removed (never the whole
# TEST_NGINX_SERVROOT, so a mis-set value cannot wipe real data).
sub setup_server_root () {
    if (-d $ServRoot) {
        remove_tree($ConfDir, $HtmlDir, $LogDir, glob("$ServRoot/*_temp"),
                    glob("$ServRoot/*_cache"));
    }
    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $dir;
        make_path($dir) or bail_out("Failed to create directory $dir: $!");
    }
    write_file("$HtmlDir/index.html",
               '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>');
    %LogPos = ();
}

sub write_file {
    my ($path, $data) = @_;
    open my $out, '>', $path or bail_out("Cannot open $path for writing: $!");
    binmode $out;
    print $out $data;
    close $out;
}

# --- user_files: ">>> name [date]" lines followed by the file content, or
# (with eval) an ARRAY of [name, content, date].  Relative names go under
# html/.
sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $name  = $block->name;
    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - --- user_files must be a string or an ARRAY");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body = '' unless defined $body;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - cannot create directory $1");
        }
        write_file($path, expand_env_in_text($body, $name, $rand_ports, 1));
        if ($date) {
            system("TZ=GMT touch -t '$date' '$path'") == 0
                or bail_out("$name - failed to set the date of $path");
        }
    }
}

# Write conf/nginx.conf for a block.  $config is the already expanded
# "--- config" section.
sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    my $main_config = expand_env_in_text($block->main_config // '', $name,
                                         $rand_ports, 1);
    my $post_main_config = expand_env_in_text($block->post_main_config // '',
                                              $name, $rand_ports, 1);
    my $http_config = expand_env_in_text($block->http_config // '', $name,
                                         $rand_ports, 1);
    $config = '' unless defined $config;

    my $log_level = $block->log_level || $LogLevel;
    my $valgrind  = $UseValgrind && !defined $block->must_die;

    my $conf = '';

    # Dynamic modules first: they must precede their directives.
    if ($LoadModules) {
        $conf .= "load_module $_;\n" for grep { length } split /\s+/, $LoadModules;
    }

    # Under valgrind nginx runs in the foreground, as one process.
    my $daemon = $valgrind ? 'off' : 'on';
    my $master = $valgrind ? 'off' : $MasterProcessEnabled;

    $conf .= <<"_EOC_";
daemon $daemon;
master_process $master;
worker_processes $Workers;
pid $PidFile;
error_log $ErrLogFile $log_level;
_EOC_

    # Being root: keep the workers as root so that they can read the files.
    $conf .= "user root;\n" if $> == 0 && $main_config !~ /^\s*user\s/m;

    for my $v (@EnvToNginx) {
        $conf .= "env " . ($v =~ /\s/ ? "'$v'" : $v) . ";\n";
    }

    $conf .= "\n$main_config\n";

    $conf .= <<"_EOC_";

events {
    accept_mutex off;
    worker_connections $WorkerConnections;
}

http {
    access_log $AccLogFile;
    default_type text/plain;
    keepalive_timeout 68;

_EOC_

    # Keep the temp files inside the server root (unless the block sets
    # the directive itself, which would otherwise be a duplicate).
    my $all = "$http_config\n$config";
    for my $t (qw(client_body proxy fastcgi uwsgi scgi)) {
        next if $all =~ /\b${t}_temp_path\b/;
        $conf .= "    ${t}_temp_path $ServRoot/${t}_temp;\n";
    }

    my $root_location = '';
    # The real Test::Nginx always adds "location /"; we skip it when the
    # block already defines one, instead of letting nginx fail.
    if (!$NoRootLocation && $config !~ /\blocation\s+\/\s*\{/) {
        $root_location = <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    }

    $conf .= <<"_EOC_";

$http_config

    server {
        listen $ServerAddr:$ServerPort;
        server_name $ServerName;
        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config
_EOC_

    write_file($ConfFile, $conf);
}

#--------------------------------------------------------------------------
# nginx process management
#--------------------------------------------------------------------------

sub read_pid_file () {
    open my $in, '<', $PidFile or return undef;
    my $pid = do { local $/; <$in> };
    close $in;
    return undef unless defined $pid && $pid =~ /^\s*(\d+)\s*$/;
    return $1;
}

# Is something listening on 127.0.0.1:$port (or on the wildcard)?  Uses
# /proc/net/tcp so that probing does not make connections that would end up
# in nginx's logs.
sub port_is_listening ($) {
    my $port = shift;
    my $hex = sprintf '%04X', $port;
    my $found_proc;
    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $in, '<', $file or next;
        $found_proc = 1;
        while (<$in>) {
            my @f = split ' ';
            next unless @f > 3 && $f[3] eq '0A';    # LISTEN
            return 1 if $f[1] =~ /:$hex$/;
        }
        close $in;
    }
    return 0 if $found_proc;
    # No /proc: fall back to a connection attempt.
    my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                     PeerPort => $port, Proto => 'tcp',
                                     Timeout => 0.5);
    return $sock ? 1 : 0;
}

# Stop the running nginx (if any): QUIT, wait, then TERM and KILL.
sub stop_nginx (;$) {
    my ($name) = @_;
    $name //= '';

    my @pids = grep { defined } (read_pid_file(), $NginxChildPid);
    my %seen;
    @pids = grep { !$seen{$_}++ } @pids;

    for my $pid (@pids) {
        next unless is_running($pid);
        warn "$name - sending QUIT to nginx $pid\n" if $Verbose;
        kill SIGQUIT, $pid;
        my $wait = ($UseValgrind ? 60 : 5);
        my $t0 = time;
        while (is_running($pid) && time - $t0 < $wait) {
            sleep 0.02;
        }
        next unless is_running($pid);

        warn "WARNING: $name - nginx $pid did not quit in time; terminating\n";
        kill SIGTERM, $pid;
        $t0 = time;
        sleep 0.05 while is_running($pid) && time - $t0 < 3;
        if (is_running($pid)) {
            kill SIGKILL, $pid;
            kill SIGKILL, -$pid if getpgrp($pid) == $pid;
            sleep 0.05 while is_running($pid) && time - $t0 < 6;
        }
    }

    # The QUIT above makes a master process signal its workers; wait until
    # no process holds our port any more.
    my $t0 = time;
    sleep 0.02 while port_is_listening($ServerPort) && time - $t0 < 3
                     && @pids;

    undef $NginxChildPid;
    unlink $PidFile if -f $PidFile;
}

# Build the nginx (or valgrind + nginx) command line.
sub nginx_command ($) {
    my ($use_valgrind) = @_;
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    return @cmd unless $use_valgrind;

    my @vg = ('valgrind', '-q');
    if ($UseValgrind =~ /^\d+$/) {
        push @vg, '--tool=memcheck', '--leak-check=full',
                  '--show-possibly-lost=no', '--num-callers=30',
                  '--gen-suppressions=all', '--error-limit=no';
    } else {
        # A non-numeric TEST_NGINX_USE_VALGRIND holds the valgrind options.
        push @vg, split ' ', $UseValgrind;
    }
    # Our own suppressions for stock nginx, then the project's ones.
    push @vg, "--suppressions=$BuiltinSuppressions" if -f $BuiltinSuppressions;
    for my $supp ('t/valgrind.suppress', 'valgrind.suppress') {
        if (-f $supp) {
            push @vg, '--suppressions=' . File::Spec->rel2abs($supp);
            last;
        }
    }
    push @vg, "--log-file=$ValgrindLogFile";
    return (@vg, @cmd);
}

# Fork and exec a command with stdout -> /dev/null and stderr -> stderr.log.
sub spawn (@) {
    my @cmd = @_;
    my $pid = fork();
    bail_out("fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        $InSubprocess = 1;
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>>', $StderrLogFile;
        { exec { $cmd[0] } @cmd; }
        print STDERR "exec $cmd[0] failed: $!\n";
        POSIX::_exit(127);
    }
    return $pid;
}

sub read_file_text ($) {
    my $file = shift;
    open my $in, '<', $file or return '';
    local $/;
    my $s = <$in>;
    close $in;
    return $s // '';
}

# Start nginx for a block (config already written).  Returns
# (1, undef) on success, or (0, $error_message).  With $must_die the exit
# status is returned instead: (exit_status, $error_message).
sub start_nginx ($$) {
    my ($name, $must_die) = @_;
    my $valgrind = $UseValgrind && !$must_die;

    my @cmd = nginx_command($valgrind);
    warn "$name - starting: @cmd\n" if $Verbose;

    if ($valgrind) {
        # Foreground process under valgrind: wait until it listens.
        warn "$name\n";    # like the real one: show progress (it is slow)
        my $pid = spawn(@cmd);
        $NginxChildPid = $pid;
        my $t0 = time;
        while (time - $t0 < 120) {
            if (!is_running($pid)) {
                undef $NginxChildPid;
                return (0, "nginx (under valgrind) exited during startup:\n"
                           . read_file_text($StderrLogFile)
                           . read_file_text($ValgrindLogFile));
            }
            my $pidf = read_pid_file();
            if (defined $pidf && port_is_listening($ServerPort)) {
                return (1, undef);
            }
            sleep 0.1;
        }
        return (0, "timed out waiting for nginx (under valgrind) to listen "
                   . "on port $ServerPort");
    }

    # Daemon mode: the first process exits once the daemon is forked (the
    # listening sockets are already open then).
    my $pid = spawn(@cmd);
    my $t0 = time;
    my $status;
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) {
            $status = $?;
            last;
        }
        if (time - $t0 > 30) {
            kill SIGKILL, $pid;
            waitpid($pid, 0);
            return (0, "the nginx command did not return within 30 sec");
        }
        sleep 0.01;
    }

    return ($status, read_file_text($StderrLogFile)) if $must_die;

    if ($status != 0) {
        return (0, "nginx failed to start (status " . ($status >> 8) . "):\n"
                   . read_file_text($StderrLogFile));
    }

    # Wait for the pid file written by the daemon and for the port.
    $t0 = time;
    while (time - $t0 < 10) {
        my $npid = read_pid_file();
        if (defined $npid && is_running($npid)
            && port_is_listening($ServerPort))
        {
            return (1, undef);
        }
        sleep 0.01;
    }
    return (0, "nginx did not come up on port $ServerPort within 10 sec:\n"
               . read_file_text($StderrLogFile));
}

# Return the valgrind error reports found in the valgrind log (after nginx
# has exited), or '' when there are none.
sub valgrind_errors () {
    my $log = read_file_text($ValgrindLogFile);
    return '' if $log !~ /\S/;
    my @bad = (
        'Invalid read', 'Invalid write', 'Invalid free', 'uninitialised',
        'definitely lost', 'Conditional jump', 'Syscall param',
        'Mismatched free', 'Source and destination overlap',
        'Jump to the invalid address', 'Process terminating',
    );
    for my $pat (@bad) {
        return $log if index($log, $pat) >= 0;
    }
    return '';
}

#--------------------------------------------------------------------------
# Logs
#--------------------------------------------------------------------------

# Forget the read positions: the next error_log_data() returns everything.
sub reset_error_log_pos () { %LogPos = () }

# New lines of nginx's stderr (startup/config errors) and of error.log
# since the last call (everything when check_accum_error_log is on).
sub error_log_data () {
    sleep $TestNginxSleep * 3;    # let the log phase finish
    my @lines;
    for my $file ($StderrLogFile, $ErrLogFile) {
        open my $in, '<', $file or next;
        if (!$CheckAccumErrLog && $LogPos{$file}) {
            seek $in, $LogPos{$file}, 0;
        }
        push @lines, <$in>;
        $LogPos{$file} = tell($in) unless $CheckAccumErrLog;
        close $in;
    }
    return \@lines;
}

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or return [];
    my @lines = <$in>;
    close $in;
    return \@lines;
}

#--------------------------------------------------------------------------
# TCP mock server (--- tcp_listen, tcp_reply, tcp_query, ...)
#--------------------------------------------------------------------------

# Does $buf hold a complete HTTP request (headers + body)?
sub http_request_complete ($) {
    my $buf = shift;
    my $pos = index $buf, "\r\n\r\n";
    return 0 if $pos < 0;
    my $head = substr $buf, 0, $pos;
    my $body = substr $buf, $pos + 4;
    if ($head =~ /^Transfer-Encoding:\s*chunked/mi) {
        return $body =~ /(?:^|\r\n)0[ \t]*(?:;[^\r\n]*)?\r\n(?:[^\r\n]+\r\n)*\r\n\z/s
               ? 1 : 0;
    }
    if ($head =~ /^Content-Length:\s*(\d+)/mi) {
        return length($body) >= $1 ? 1 : 0;
    }
    return 1;
}

# Start the mock for one round of a block.  Returns a handle (hash) to pass
# to tcp_server_finish().
sub start_tcp_server ($$) {
    my ($block, $rand_ports) = @_;
    my $name   = $block->name;
    my $target = expand_env_in_text($block->tcp_listen, $name, $rand_ports, 1);
    $target =~ s/^\s+|\s+$//g;

    my $reply = $block->tcp_reply;
    if (!defined $reply && !defined $block->tcp_shutdown) {
        bail_out("$name - no --- tcp_reply specified but --- tcp_listen is");
    }

    my $query_len = $block->tcp_query_len;
    if (!defined $query_len && defined $block->tcp_query
        && !ref $block->tcp_query)
    {
        $query_len = length $block->tcp_query;
    }

    # The received request is saved here so that the parent can check it.
    my (undef, $query_file) = File::Temp::tempfile('tcp_query_XXXXXX',
                                                   TMPDIR => 1, UNLINK => 1);

    my ($listen, $err);
    for my $try (1 .. 30) {
        if ($target =~ /^\d+$/) {
            $listen = IO::Socket::INET->new(
                LocalAddr => '127.0.0.1', LocalPort => $target,
                Proto => 'tcp', ReuseAddr => 1, Listen => 32);
        } elsif ($target =~ /\.sock$/) {
            unlink $target if -e $target;
            $listen = IO::Socket::UNIX->new(Local => $target,
                                            Type => SOCK_STREAM,
                                            Listen => 32);
        } else {
            bail_out("$name - bad --- tcp_listen target: $target");
        }
        last if $listen;
        $err = $!;
        last unless $err =~ /in use/i;
        sleep 0.1;
    }
    bail_out("$name - failed to listen on $target: $err") unless $listen;

    my $pid = fork();
    bail_out("$name - fork() failed: $!") unless defined $pid;

    if ($pid == 0) {
        # Child: serve one connection, then exit (or idle if tcp_no_close).
        $InSubprocess = 1;
        eval { tcp_server_child($block, $listen, $reply, $query_len,
                                $query_file) };
        warn "WARNING: $name - TCP mock: $@" if $@;
        POSIX::_exit(0);
    }

    $TcpServerPid = $pid;
    return { pid => $pid, socket => $listen, query_file => $query_file,
             target => $target };
}

sub tcp_server_child {
    my ($block, $listen, $reply, $query_len, $query_file) = @_;

    my $client = $listen->accept() or die "accept failed: $!\n";
    $client->autoflush(1);
    my ($no_read, $no_write);

    if (defined $block->tcp_shutdown) {
        my $how = $block->tcp_shutdown;
        sleep parse_time($block->tcp_shutdown_delay) if $block->tcp_shutdown_delay;
        shutdown($client, $how);
        if ($how == 0 || $how == 2) { $no_read = 1 } else { $no_write = 1 }
    }

    my $buf = '';
    unless ($no_read) {
        my $sel = IO::Select->new($client);
        my $deadline = time + timeout() + 2;
        # Read until: tcp_query_len bytes, or a complete HTTP request, or the
        # peer closes, or a quiet period once we have something.
        while (time < $deadline) {
            my $quiet = length($buf) ? 0.3 : $deadline - time;
            last unless $sel->can_read($quiet > 0 ? $quiet : 0.01);
            my $chunk;
            my $n = sysread($client, $chunk, 65536);
            last if !$n;
            $buf .= $chunk;
            if (open my $out, '>', $query_file) {
                binmode $out;
                print $out $buf;
                close $out;
            }
            if (defined $query_len) {
                last if length($buf) >= $query_len;
            } elsif ($buf =~ /^[A-Z]+ \S+ HTTP\/\d/) {
                last if http_request_complete($buf);
            }
        }
    }

    unless ($no_write) {
        if (ref $reply eq 'CODE') {
            $reply = $reply->($buf);
        }
        my @packets = ref $reply eq 'ARRAY' ? @$reply
                    : defined $reply        ? ($reply)
                    :                         ();
        my $delay = parse_time($block->tcp_reply_delay);
        local $SIG{PIPE} = 'IGNORE';
        for my $p (@packets) {
            # The delay applies before every packet (so, for a single reply,
            # once before sending it, as in the real one).
            sleep $delay if $delay;
            next unless defined $p && length $p;
            my $off = 0;
            while ($off < length $p) {
                my $n = syswrite($client, $p, length($p) - $off, $off);
                die "send failed: $!\n" unless defined $n;
                $off += $n;
            }
        }
    }

    if (defined $block->tcp_no_close) {
        sleep 1 while 1;    # until killed at the end of the block
    }
    close $client;
    close $listen;
}

# Stop the mock server (if still running) and return what it received.
sub finish_tcp_server ($) {
    my ($srv) = @_;
    return '' unless $srv;
    if ($srv->{pid}) {
        # Give it a moment to finish writing/closing on its own.
        my $t0 = time;
        while (waitpid($srv->{pid}, WNOHANG) == 0 && time - $t0 < 0.05) {
            sleep 0.005;
        }
        kill_process($srv->{pid});
        undef $TcpServerPid;
    }
    close $srv->{socket} if $srv->{socket};
    unlink $srv->{target} if $srv->{target} =~ /\.sock$/;
    my $query = read_file_text($srv->{query_file});
    unlink $srv->{query_file};
    return $query;
}

sub kill_process ($) {
    my $pid = shift;
    return unless $pid;
    return if waitpid($pid, WNOHANG) == $pid;
    kill SIGTERM, $pid;
    my $t0 = time;
    while (time - $t0 < 2) {
        return if waitpid($pid, WNOHANG) != 0;
        sleep 0.01;
    }
    kill SIGKILL, $pid;
    waitpid($pid, 0);
}

#--------------------------------------------------------------------------
# Cleanup
#--------------------------------------------------------------------------

sub cleanup () {
    $_->() for @CleanupHandlers;
    if ($TcpServerPid) {
        kill_process($TcpServerPid);
        undef $TcpServerPid;
    }
}

1;
