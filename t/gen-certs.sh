#!/bin/sh
#
# Test certificates: a private CA, a server certificate for "localhost"
# signed by it, one for another name signed by it, and a self-signed one.
#
# Usage: t/gen-certs.sh DIR

set -e

dir=${1:?usage: gen-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

days=3650
subj=/O=llm-router-test

openssl req -x509 -newkey rsa:2048 -nodes -days $days \
    -subj "$subj/CN=Test CA" -keyout ca.key -out ca.crt 2>/dev/null

# $1: file name prefix, $2: DNS name
signed() {
    openssl req -newkey rsa:2048 -nodes -subj "$subj/CN=$2" \
        -keyout "$1.key" -out "$1.csr" 2>/dev/null
    printf 'subjectAltName=DNS:%s\n' "$2" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key \
        -CAcreateserial -days $days -extfile "$1.ext" -out "$1.crt" \
        2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

signed localhost localhost
signed wrongname wrong.example

openssl req -x509 -newkey rsa:2048 -nodes -days $days \
    -subj "$subj/CN=localhost" -addext "subjectAltName=DNS:localhost" \
    -keyout selfsigned.key -out selfsigned.crt 2>/dev/null
