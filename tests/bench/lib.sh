# Shared by the benchmark scripts in this directory (sourced, not run).
#
# bench_setup NAME RUNS: builds the release host and file plugin, makes a
# scratch directory on disk ($BENCH_DIR, else /var/tmp; removed on exit),
# and sets ROOT, TARGET, RUNS (BENCH_RUNS overrides), BIN, WORK, PLUGINS
# (only the file plugin, whatever else sits next to the binary) and the
# STOWAGE command array. The plugin probe cache is private and warmed once,
# untimed, so the timed runs measure the steady state.

bench_setup() {
    local name=$1
    ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
    case "$TARGET" in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
    RUNS=${BENCH_RUNS:-$2}

    echo "building release binaries..." >&2
    (cd "$ROOT" && cargo build --release --quiet -p stowage-cli -p stowage-file)
    BIN=$TARGET/release/stowage

    local parent=${BENCH_DIR:-/var/tmp}
    mkdir -p "$parent"
    WORK=$(mktemp -d -p "$parent" "$name.XXXXXX")
    # shellcheck disable=SC2064 # expand WORK now
    trap "rm -rf '$WORK'" EXIT

    PLUGINS=$WORK/plugins
    mkdir -p "$PLUGINS"
    cp "$TARGET/release/libstowage_file.so" "$PLUGINS/"
    export XDG_CACHE_HOME=$WORK/cache
    # Plugins from --plugin-dir run isolated by default; an installed plugin
    # runs in process. Measure the installed case unless BENCH_ISOLATE says
    # otherwise (tests/bench/isolate.sh measures isolation itself).
    STOWAGE=("$BIN" --plugin-dir "$PLUGINS" --isolate="${BENCH_ISOLATE:-never}" -q)
    "${STOWAGE[@]}" plugins >/dev/null
}

now_ns() { date +%s%N; }

# run_timed CMD...: runs CMD (a program or a function) after an untimed
# sync, prints the elapsed seconds.
run_timed() {
    sync
    local t0 t1
    t0=$(now_ns)
    "$@" >/dev/null
    t1=$(now_ns)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", (b - a) / 1e9 }'
}

# median N...: the middle value (the lower middle for an even count).
median() { printf '%s\n' "$@" | sort -g | sed -n "$(((${#} + 1) / 2))p"; }
