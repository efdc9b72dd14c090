#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer harnesses into .build/fuzz/ and runs each for FUZZ_SECONDS [60] seconds
# from a copy of its seed corpus (fuzz/corpus/<harness>/), then prints one line per harness.
#
#   fuzz/run.sh                  build, then run every harness
#   fuzz/run.sh build            build only
#   fuzz/run.sh run HARNESS ...  run the named harnesses (extra libFuzzer flags: FUZZ_FLAGS="-runs=10000000")
#
# Each harness is compiled by swiftc directly, not by SwiftPM: `-sanitize=fuzzer` needs libFuzzer's main and
# coverage instrumentation in every module under test, which `swift build` cannot give a single target. The
# modules a harness exercises are built first as separate modules (`-emit-module -emit-object`,
# `-parse-as-library`, `-package-name webhookd` so `package` declarations stay visible, the manifest's
# upcoming features and warnings-as-errors), each instrumented with `-sanitize=fuzzer,address`; the harness is
# then compiled against them and linked with libFuzzer. A crash or invariant violation leaves its input in
# .build/fuzz/artifacts/<harness>/ and makes the script exit 1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/.build/fuzz"
seconds="${FUZZ_SECONDS:-60}"
swiftc="${SWIFTC:-swiftc}"
harnesses=(http1-parser json-text cert-identity)

# The manifest's `strict` settings (Package.swift), so module sources compile exactly as in `swift build`.
strict=(
    -enable-upcoming-feature ExistentialAny
    -enable-upcoming-feature InternalImportsByDefault
    -enable-upcoming-feature MemberImportVisibility
    -warnings-as-errors
)
common=(-sanitize=fuzzer,address -O -g -use-ld=lld -package-name webhookd -I "$out/modules" "${strict[@]}")
# COpenSSL is a `[system]` module: its module map names shim.h and the ssl/crypto link lines.
openssl=(-Xcc "-fmodule-map-file=$root/Sources/COpenSSL/module.modulemap")

# module NAME [swiftc flags...] -- SOURCES...: one instrumented module, as .swiftmodule + .o
module() {
    local name="$1"
    shift
    local flags=()
    while [ "$1" != "--" ]; do
        flags+=("$1")
        shift
    done
    shift
    "$swiftc" "${common[@]}" "${flags[@]}" -parse-as-library -wmo -module-name "$name" \
        -emit-module -emit-module-path "$out/modules/$name.swiftmodule" \
        -emit-object -o "$out/modules/$name.o" "$@"
}

# harness NAME OBJECTS -- [swiftc flags...]: links fuzz/NAME/*.swift with the given module objects
harness() {
    local name="$1" objects="$2"
    shift 3
    local objs=()
    for object in $objects; do objs+=("$out/modules/$object.o"); done
    "$swiftc" "${common[@]}" "$@" -parse-as-library -module-name "Fuzz_${name//-/_}" \
        -o "$out/bin/$name" "$root/fuzz/$name"/*.swift "${objs[@]}"
}

build() {
    mkdir -p "$out/modules" "$out/bin"
    echo "building fuzz harnesses into .build/fuzz/"
    module Bytes -- "$root"/Sources/Bytes/*.swift
    module HTTP1 -- "$root"/Sources/HTTP1/*.swift
    # The JSON validator lives in Receiver, whose other files need OpenSSL, libpq and the event loop: only the
    # one file is compiled, as a module of the same name.
    module Receiver -- "$root/Sources/Receiver/Delivery/JSONText.swift"
    # The whole TLS module (its files share imports across the module); `-enable-testing` lets the harness
    # reach the internal `Certificate.parseAll` and `PeerCertificate(borrowing:)` that the handshake uses.
    module TLS -enable-testing "${openssl[@]}" -- $(find "$root/Sources/TLS" -name '*.swift' | sort)
    harness http1-parser "HTTP1 Bytes" --
    harness json-text "Receiver Bytes" --
    harness cert-identity "TLS Bytes" -- "${openssl[@]}"
}

# Runs one harness; prints "NAME: N executions (R/s), corpus C inputs, K crashes".
run_one() {
    local name="$1"
    local work="$out/run/$name" artifacts="$out/artifacts/$name"
    rm -rf "$work"
    mkdir -p "$work/corpus" "$artifacts"
    cp "$root/fuzz/corpus/$name"/* "$work/corpus/"
    local before
    before=$(find "$artifacts" -type f | wc -l)
    # -jobs=1 -workers=1: one fuzzing process (the machine is shared); its output goes to fuzz-0.log.
    # SWIFT_BACKTRACE=enable=no: a trap goes straight to libFuzzer's handler, which saves the input.
    (cd "$work" && SWIFT_BACKTRACE=enable=no "$out/bin/$name" -jobs=1 -workers=1 -max_total_time="$seconds" -max_len=4096 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_FLAGS:-} corpus \
        >/dev/null 2>&1) || true
    local log="$work/fuzz-0.log"
    local executions rate crashes corpus
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corpus=$(find "$work/corpus" -type f | wc -l)
    crashes=$(($(find "$artifacts" -type f | wc -l) - before))
    printf '%-14s %10s executions (%s/s), corpus %s inputs, %s crashes\n' \
        "$name:" "${executions:-?}" "${rate:-?}" "$corpus" "$crashes"
    if [ "$crashes" -ne 0 ] || [ -z "$executions" ]; then
        echo "  see $log and $artifacts/" >&2
        return 1
    fi
}

case "${1:-all}" in
    build) build ;;
    run)
        shift
        status=0
        for name in "${@:-${harnesses[@]}}"; do run_one "$name" || status=1; done
        exit $status
        ;;
    all)
        build
        status=0
        for name in "${harnesses[@]}"; do run_one "$name" || status=1; done
        exit $status
        ;;
    *)
        echo "usage: fuzz/run.sh [build | run [HARNESS...]]" >&2
        exit 64
        ;;
esac
