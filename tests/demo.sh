#!/usr/bin/env bash
# The README's end-to-end example: builds stowage and its plugins (release),
# then stores, lists, checks, fetches and deletes a backup volume through the
# `file` plugin in a temporary directory, showing each command as it runs.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p stowage-cli -p stowage-file -p stowage-local-peer -p stowage-xorriso
stowage=target/release/stowage
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() {
    printf '\n$ stowage %s\n' "$*"
    "$stowage" "$@"
}

head -c 5000000 /dev/urandom >"$work/volume1.difftar"
echo "a manifest" >"$work/backup.manifest"
store="file://$work/store"

run plugins
run put "$store" "$work/volume1.difftar" "$work/backup.manifest"
run ls "$store"
run stat "$store" volume1.difftar missing.difftar
run get "$store" volume1.difftar -o "$work/restored.difftar"
cmp "$work/volume1.difftar" "$work/restored.difftar"
echo "restored copy is byte-identical"
run rm "$store" volume1.difftar backup.manifest
run --json ls "$store"
echo
echo "demo finished: stowage works end to end"
