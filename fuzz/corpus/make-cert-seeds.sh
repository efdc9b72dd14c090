#!/usr/bin/env bash
# Regenerates the DER seeds of the cert-identity harness in fuzz/corpus/cert-identity/ with openssl.
# Self-signed P-256 certificates (small), keys in a temporary directory that is deleted: no key is committed.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cert-identity"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$dir"
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/key.pem"

# seed NAME SUBJECT [STRING_MASK [openssl req flags...]]: the string mask (a config setting, no flag in
# OpenSSL 3.0) decides the ASN.1 string type of the values: utf8only, pkix (BMPString), nombstr (T61String).
seed() {
    local name="$1" subject="$2" mask="${3:-utf8only}"
    shift 2
    [ $# -gt 0 ] && shift
    printf '[req]\ndistinguished_name = dn\nstring_mask = %s\n[dn]\n' "$mask" >"$tmp/req.cnf"
    openssl req -new -x509 -config "$tmp/req.cnf" -key "$tmp/key.pem" -sha256 -days 30 -set_serial 0x1f2e \
        -subj "$subject" -utf8 "$@" -outform DER -out "$dir/$name.der"
}

seed one-cn "/O=Example/CN=acme-bank"
seed no-cn "/O=Example/OU=payments"
seed two-cns "/CN=a/O=Example/CN=b"
seed multi-valued-rdn "/O=Example/CN=a+CN=b"
seed cn-plus-uid "/CN=acme+UID=42"
seed utf8-cn "/CN=café-日本"
seed bmp-cn "/CN=café-日本" pkix
seed t61-cn "/CN=café" nombstr
seed printable-cn "/C=DE/CN=ACME Bank" nombstr
seed ca-cert "/CN=Test Root CA" utf8only -addext basicConstraints=critical,CA:TRUE

# A CN holding a NUL byte (refused as no_cn): "aXb" with X patched to 0x00 (the signature no longer matches,
# which the harness does not check).
seed nul-cn "/CN=aXb"
python3 - "$dir/nul-cn.der" <<'EOF'
import sys
path = sys.argv[1]
data = open(path, "rb").read()
# The CN value is encoded as UTF8String (0x0c) of length 3: "aXb".
needle = b"\x0c\x03aXb"
assert data.count(needle) == 2, "subject and issuer"
open(path, "wb").write(data.replace(needle, b"\x0c\x03a\x00b"))
EOF

# The subject Name of each certificate on its own (the harness also reads its input as a DER Name and puts
# it in an otherwise empty certificate, so mutations reach the CN code without breaking the outer encoding).
python3 - "$dir" <<'EOF_PY'
import os, sys
def tlv(data, offset):
    """(tag, header length, content length) of the DER element at offset."""
    tag, first = data[offset], data[offset + 1]
    if first < 0x80:
        return tag, 2, first
    count = first & 0x7F
    return tag, 2 + count, int.from_bytes(data[offset + 2:offset + 2 + count], "big")
directory = sys.argv[1]
for name in sorted(os.listdir(directory)):
    if not name.endswith(".der"):
        continue
    data = open(os.path.join(directory, name), "rb").read()
    _, header, _ = tlv(data, 0)          # Certificate
    offset = header
    _, header, _ = tlv(data, offset)     # TBSCertificate
    offset += header
    elements = []
    while len(elements) < 6:
        tag, header, length = tlv(data, offset)
        elements.append((tag, offset, header + length))
        offset += header + length
    if elements[0][0] != 0xA0:           # no explicit version: subject is the fifth element
        elements.insert(0, None)
    _, start, length = elements[5]       # version, serial, signature, issuer, validity, subject
    open(os.path.join(directory, name[:-4] + ".name"), "wb").write(data[start:start + length])
EOF_PY

# Hand-made Names with CN string types and contents openssl req does not produce.
python3 - "$dir" <<'EOF_PY'
import os, sys
def der(tag, content):
    assert len(content) < 0x80
    return bytes([tag, len(content)]) + content
CN = der(0x06, b"\x55\x04\x03")
def name(*rdns):
    return der(0x30, b"".join(der(0x31, b"".join(der(0x30, CN + value) for value in rdn)) for rdn in rdns))
seeds = {
    "universal-cn": name([der(0x1C, "añ".encode("utf-32-be"))]),
    "bad-utf8-cn": name([der(0x0C, b"a\xc3\x28")]),
    "lone-surrogate-bmp-cn": name([der(0x1E, b"\xd8\x00\x00a")]),
    "ia5-cn": name([der(0x16, b"acme")]),
    "octet-string-cn": name([der(0x04, b"acme")]),
    "empty-cn": name([der(0x0C, b"")]),
    "three-valued-rdn": name([der(0x0C, b"a"), der(0x13, b"b"), der(0x1E, b"\x00c")]),
}
for label, data in seeds.items():
    open(os.path.join(sys.argv[1], label + ".name"), "wb").write(data)
EOF_PY
