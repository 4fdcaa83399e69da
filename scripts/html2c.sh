#!/bin/sh
#
# The dashboard page as a C string for the module:
#
#   scripts/html2c.sh src/html/status.html > src/ngx_http_llm_status_html.h
#   scripts/html2c.sh --check     fails when the committed header is not
#                                 what the page gives (run by make test)
#
# One string literal per line of the page.  Escaped: backslash, double
# quote, '?' (no trigraph can form), and every byte that is not printable
# ASCII, as three-digit octal (an octal escape never takes in the
# character after it, a hex escape would).

set -e

top=$(cd "$(dirname "$0")/.." && pwd)

generate() {
    printf '/* generated from %s by scripts/html2c.sh: do not edit */\n' "$1"
    printf 'static u_char  ngx_http_llm_status_html[] =\n'

    LC_ALL=C perl -e '
        my @lines = <STDIN>;
        die "html2c.sh: empty input\n" unless @lines;
        for my $i (0 .. $#lines) {
            my $l = $lines[$i];
            $l =~ s/([\\"?])/\\$1/g;
            $l =~ s/\n\z/\\n/;
            $l =~ s/([^\x20-\x7e])/sprintf("\\%03o", ord($1))/ge;
            print "    \"$l\"", ($i == $#lines ? ";\n" : "\n");
        }
    ' < "$2"
}

case "$1" in
--check)
    cd "$top"
    tmp=$(mktemp)
    trap 'rm -f "$tmp"' EXIT
    generate src/html/status.html src/html/status.html > "$tmp"
    if ! cmp -s "$tmp" src/ngx_http_llm_status_html.h; then
        echo "src/ngx_http_llm_status_html.h is out of date:" \
             "run scripts/html2c.sh src/html/status.html" \
             "> src/ngx_http_llm_status_html.h" >&2
        diff -u src/ngx_http_llm_status_html.h "$tmp" | head -20 >&2
        exit 1
    fi
    ;;
""|-*)
    echo "usage: html2c.sh PAGE.html > HEADER.h | html2c.sh --check" >&2
    exit 2
    ;;
*)
    [ -r "$1" ] || { echo "html2c.sh: cannot read $1" >&2; exit 1; }
    generate "$1" "$1"
    ;;
esac
