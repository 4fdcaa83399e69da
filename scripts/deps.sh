#!/bin/sh
#
# Installs what building, running and testing the module needs, from
# Debian's packages.  Does nothing when everything is already present.
#
# Usage: scripts/deps.sh [build|test|bench]...   (default: build test)

set -e

build="gcc make nginx nginx-dev libcjson-dev libssl-dev libpcre2-dev
       zlib1g-dev libnginx-mod-http-echo ca-certificates"

test="libcmocka-dev openssl valgrind clang libclang-rt-14-dev perl
      libtest-base-perl libtext-diff-perl libtest-longstring-perl
      libipc-run-perl libwww-perl liburi-perl liblist-moreutils-perl
      curl prometheus chromium fonts-dejavu-core redis-server"

bench="wrk libcurl4-openssl-dev valgrind curl procps libnginx-mod-http-echo
       redis-server"

groups="$*"
[ -n "$groups" ] || groups="build test"

want=
for g in $groups; do
    case $g in
    build) want="$want $build" ;;
    test)  want="$want $build $test" ;;
    bench) want="$want $build $bench" ;;
    *)     echo "deps.sh: unknown group \"$g\"" >&2; exit 2 ;;
    esac
done

missing=
for p in $want; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null \
         | grep -q '^install ok installed$'
    then
        case " $missing " in
        *" $p "*) ;;
        *) missing="$missing $p" ;;
        esac
    fi
done

# Node.js and npm run the OpenAI SDK tests and the Portkey gateway of the
# benchmarks; any installation will do
if [ "${want#*libcmocka-dev}" != "$want" ] || [ "${want#*wrk}" != "$want" ]
then
    command -v node >/dev/null 2>&1 || missing="$missing nodejs"
    command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi

[ -n "$missing" ] || exit 0

echo "installing:$missing"

sudo=
if [ "$(id -u)" != 0 ]; then
    sudo=sudo
fi

export DEBIAN_FRONTEND=noninteractive

# the nginx package must not start a system-wide server on port 80
policy=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null
    $sudo chmod 755 $policy
    created_policy=1
fi

$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends $missing

if [ -n "$created_policy" ]; then
    $sudo rm -f $policy
fi
