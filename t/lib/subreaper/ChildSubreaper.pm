package ChildSubreaper;

# Makes the process a "child subreaper" (Linux prctl PR_SET_CHILD_SUBREAPER):
# orphaned descendants (such as a daemonized nginx) are reparented to it
# rather than to PID 1.
#
# openresty's Test::Nginx stops nginx between test blocks and waits until
# kill(0, PID) fails, calling waitpid(PID, WNOHANG) meanwhile. nginx runs as
# a daemon, so it is not a child of the test process: once it has exited it
# stays a zombie until PID 1 reaps it, and kill 0 keeps succeeding. Where
# PID 1 reaps slowly (about 1.5 s in some VMs and containers) every block
# waits that long. Loaded into the test processes with
#
#     PERL5OPT="-I t/lib/subreaper -MChildSubreaper"
#
# the nginx daemon becomes a child of the test process, and that waitpid
# reaps it as soon as it exits. Elsewhere than Linux (or on an architecture
# not listed) this does nothing, and the tests only run slower.

use strict;
use warnings;
use Config;

my %SYS_prctl = (
    x86_64  => 157,
    aarch64 => 167,
    i386    => 172, i486 => 172, i586 => 172, i686 => 172,
    arm     => 172, armv7l => 172,
);

if ($^O eq 'linux') {
    my ($arch) = $Config{archname} =~ /^([^-]+)/;
    my $nr = $SYS_prctl{$arch // ''};
    # prctl(PR_SET_CHILD_SUBREAPER = 36, 1)
    syscall($nr, 36, 1, 0, 0, 0) if $nr;
}

1;
