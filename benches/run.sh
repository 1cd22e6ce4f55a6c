#!/usr/bin/env bash
# benches/run.sh: `make bench`. httpfault side by side with three floors/comparisons:
#   C epoll (benches/epoll.c), C thread-per-connection (benches/threads.c), Node (benches/node_server.js).
# Loopback only, every measurement bounded in time, medians of $ROUNDS rounds (rounds interleave
# the servers, so background noise hits all of them alike). Prints one Markdown table and writes it
# to benches/out/latest.md (raw per-round numbers: benches/out/raw.txt).
#
# Knobs (environment): ROUNDS=3 DUR=5s (wrk) CLASSIC_DUR=5s SPAWNS=20 LAT_N=3000 HOLD_N=5000
#   BIG_HOLD=10000 SERVERS="httpfault epoll threads node" SKIP_STATIC=0 SKIP_BUILD=0
#   HF_BIN=path (another httpfault binary; with SKIP_BUILD=1 nothing is built) SKIP_TCP=0
#   HF2_BIN=path (a second httpfault build, measured in the same rounds as the column
#   "httpfault2": before/after comparisons; HF2_STATIC and HF2_STATIC_STD: its static builds,
#   default and std-only, for the static rows)
#   BEFORE_REV=edc52e5 (without HF2_BIN: the commit built aside as httpfault2, under
#   target/before-REV from `git archive`, once; BEFORE_REV= turns it off)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/benches/out
BIN=$OUT/bin
TMP=$OUT/tmp
mkdir -p "$OUT" "$BIN" "$TMP"

ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5s}
CLASSIC_DUR=${CLASSIC_DUR:-5s}
SPAWNS=${SPAWNS:-20}
LAT_N=${LAT_N:-3000}
HOLD_N=${HOLD_N:-5000}
BIG_HOLD=${BIG_HOLD:-10000}
STACK_N=${STACK_N:-1000}
SERVERS=${SERVERS:-"httpfault epoll threads node"}
SKIP_STATIC=${SKIP_STATIC:-0}
SKIP_BUILD=${SKIP_BUILD:-0}

LG=$ROOT/benches/loadgen/target/release/loadgen
HF=${HF_BIN:-$ROOT/target/release/httpfault}   # HF_BIN: benchmark another build
NODE=$(command -v node || true)
T_START=$(date +%s)

log() { printf '[bench %3ss] %s\n' "$(( $(date +%s) - T_START ))" "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# processes we started: killed on exit, and only those
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
    PIDS=("${keep[@]}")
}

stop_pid() { # PID: TERM, then KILL after 2s
    local p=$1 i
    kill "$p" 2>/dev/null
    for i in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    forget_pid "$p"
}

# ---------------------------------------------------------------------------------------------
# build
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
log "open files limit: $(ulimit -n)"

HF_OK=1
if [ "$SKIP_BUILD" != 1 ] && [ -z "${HF_BIN:-}" ]; then
    log "building httpfault (cargo build --release)"
    if ! cargo build --release --quiet; then
        log "WARNING: httpfault does not build; its column will be n/a"
        HF_OK=0
    fi
fi
[ -x "$HF" ] || HF_OK=0

log "building loadgen"
cargo build --release --quiet --manifest-path benches/loadgen/Cargo.toml || { log "loadgen does not build"; exit 1; }

log "compiling C servers"
gcc -O2 -pthread -o "$BIN/epoll" benches/epoll.c || exit 1
gcc -O2 -pthread -o "$BIN/threads" benches/threads.c || exit 1
# static builds of the floors, only to put the static binary size in perspective
gcc -O2 -pthread -static -s -o "$BIN/epoll-static" benches/epoll.c 2>/dev/null || rm -f "$BIN/epoll-static"
gcc -O2 -pthread -static -s -o "$BIN/threads-static" benches/threads.c 2>/dev/null || rm -f "$BIN/threads-static"

# The build before the redesign (issue 25), built aside from `git archive` (never in another
# checkout) and measured in the same rounds as the column httpfault2.
BEFORE_REV=${BEFORE_REV-edc52e5}
if [ -z "${HF2_BIN:-}" ] && [ -n "$BEFORE_REV" ] && [ "$SKIP_BUILD" != 1 ]; then
    BDIR=$ROOT/target/before-$BEFORE_REV
    if [ ! -x "$BDIR/target/release/httpfault" ] || [ ! -x "$BDIR/static/httpfault-std" ]; then
        log "building $BEFORE_REV aside in $BDIR (release, static, static std-only; once)"
        mkdir -p "$BDIR/src-tree"
        # its static builds as its own `make static` made them (same flags, its own profile)
        before_static() { # OUT [FLAGS]
            RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" cargo build --release --quiet \
                ${2:-} --target x86_64-unknown-linux-gnu --target-dir "$BDIR/static-build" \
                --manifest-path "$BDIR/src-tree/Cargo.toml" >>"$TMP/before-static.log" 2>&1 &&
                mkdir -p "$BDIR/static" &&
                cp "$BDIR/static-build/x86_64-unknown-linux-gnu/release/httpfault" "$1"
        }
        : >"$TMP/before-static.log"
        if git archive "$BEFORE_REV" | tar -x -C "$BDIR/src-tree" &&
            CARGO_TARGET_DIR=$BDIR/target cargo build --release --quiet --manifest-path "$BDIR/src-tree/Cargo.toml" &&
            before_static "$BDIR/static/httpfault" &&
            before_static "$BDIR/static/httpfault-std" --no-default-features; then
            :
        else
            log "WARNING: $BEFORE_REV did not build (see $TMP/before-static.log); no httpfault2 column"
        fi
    fi
    if [ -x "$BDIR/target/release/httpfault" ]; then
        HF2_BIN=$BDIR/target/release/httpfault
        [ -x "$BDIR/static/httpfault" ] && HF2_STATIC=$BDIR/static/httpfault
        [ -x "$BDIR/static/httpfault-std" ] && HF2_STATIC_STD=$BDIR/static/httpfault-std
    fi
fi

STATIC_SIZE=""
STATIC_STD_SIZE=""
if [ "$HF_OK" = 1 ] && [ "$SKIP_STATIC" != 1 ] && [ "$SKIP_BUILD" != 1 ]; then
    log "make static (default, then std-only)"
    if make --no-print-directory static >"$TMP/static.log" 2>&1 && [ -f target/static/httpfault ]; then
        STATIC_SIZE=$(stat -c %s target/static/httpfault)
    else
        log "WARNING: make static failed (see $TMP/static.log)"
    fi
    if make --no-print-directory static STATIC_FLAGS=--no-default-features STATIC_OUT=target/static/httpfault-std >>"$TMP/static.log" 2>&1; then
        STATIC_STD_SIZE=$(stat -c %s target/static/httpfault-std)
    else
        log "WARNING: make static (std-only) failed (see $TMP/static.log)"
    fi
fi

WRK=$(command -v wrk || true)
if [ -z "$WRK" ]; then
    log "installing wrk (apt-get install -y wrk)"
    apt-get -o DPkg::Lock::Timeout=120 install -y -qq wrk >"$TMP/apt.log" 2>&1 ||
        { apt-get -o DPkg::Lock::Timeout=120 update -qq >>"$TMP/apt.log" 2>&1 &&
          apt-get -o DPkg::Lock::Timeout=120 install -y -qq wrk >>"$TMP/apt.log" 2>&1; }
    WRK=$(command -v wrk || true)
fi
if [ -n "$WRK" ]; then KA_TOOL="wrk -t2 -c32 -d$DUR"; else KA_TOOL="loadgen keepalive -c 32 -d $DUR (wrk unavailable)"; fi
log "keep-alive tool: $KA_TOOL"

# servers that can run
AVAIL=()
for s in $SERVERS; do
    case $s in
        httpfault) [ "$HF_OK" = 1 ] && AVAIL+=(httpfault) && [ -n "${HF2_BIN:-}" ] && AVAIL+=(httpfault2) ;;
        node) [ -n "$NODE" ] && AVAIL+=(node) ;;
        epoll|threads) AVAIL+=("$s") ;;
    esac
done
log "servers: ${AVAIL[*]}"

# ---------------------------------------------------------------------------------------------
# server command lines. scenario: classic | ok | delay | hold
VARIANT=""     # "static": the statically linked builds
server_cmd() { # NAME SCENARIO PORT -> CMD array
    local name=$1 sc=$2 port=$3 sfx=""
    [ "$VARIANT" = static ] && sfx=-static
    case $name in
        httpfault|httpfault2)
            local hf=$HF
            [ "$name" = httpfault2 ] && hf=$HF2_BIN
            [ "$VARIANT" = static ] && hf=$ROOT/target/static/httpfault
            [ "$VARIANT" = static ] && [ "$name" = httpfault2 ] && hf=${HF2_STATIC:-}
            CMD=("$hf" -q --max-conns 20000 --listen "127.0.0.1:$port")
            case $sc in
                ok) CMD+=("status=200") ;;
                ok50)
                    # 50 routes that "/" does not match: every request walks all of them
                    local i
                    for i in $(seq 50); do CMD+=(--route "GET /v1/r$i/* status=201"); done
                    CMD+=("status=200") ;;
                delay) CMD+=("delay=100ms/status=200") ;;
                hold) CMD+=("hang") ;;
            esac ;;
        epoll|threads)
            CMD=("$BIN/$name$sfx" "$port")
            case $sc in delay) CMD+=(delay 100) ;; *) CMD+=("$sc") ;; esac ;;
        node)
            CMD=("$NODE" "$ROOT/benches/node_server.js" "$port")
            case $sc in delay) CMD+=(delay 100) ;; *) CMD+=("$sc") ;; esac ;;
    esac
}

# start NAME SCENARIO on port 0; sets SPID and SPORT; returns 1 if it did not come up in 5 s
start_server() {
    local out=$TMP/server.out i
    : >"$out"
    server_cmd "$1" "$2" 0
    "${CMD[@]}" >"$out" 2>"$TMP/server.err" </dev/null &
    SPID=$!
    PIDS+=("$SPID")
    SPORT=""
    for i in $(seq 250); do
        SPORT=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$out" | head -1)
        [ -n "$SPORT" ] && return 0
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.02
    done
    log "ERROR: $1 $2 did not start: $(head -c 300 "$TMP/server.err")"
    stop_pid "$SPID"
    return 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
threads_of() { awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# a free port: let the kernel pick one for a throwaway listener (no connection, so no TIME_WAIT)
free_port() {
    start_server epoll hold || return 1
    local p=$SPORT
    stop_pid "$SPID"
    echo "$p"
}

field() { # NAME LINE -> value of NAME=value in LINE
    tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -1
}

declare -A R   # R[metric|server] = "v1 v2 v3"
add() { R["$1|$2"]="${R["$1|$2"]:-} $3"; echo "round=$ROUND server=$2 metric=$1 value=$3" >>"$OUT/raw.txt"; }

median() { # values... -> median (numeric), empty if none
    printf '%s\n' "$@" | grep -E '^-?[0-9.]+$' | sort -g |
        awk '{a[NR]=$1} END {if (NR==0) exit; if (NR%2) print a[(NR+1)/2]; else printf "%.6g\n", (a[NR/2]+a[NR/2+1])/2}'
}

# ---------------------------------------------------------------------------------------------
# the measurements

m_startup() { # NAME [METRIC]  (VARIANT selects the binary)
    local port line
    port=$(free_port) || return
    server_cmd "$1" classic "$port"
    line=$(timeout 120 "$LG" startup -n "$SPAWNS" --port "$port" --timeout 5s -- "${CMD[@]}")
    echo "$1 ${VARIANT:-} startup: $line" >>"$OUT/raw.txt"
    add "${2:-startup_ms}" "$1" "$(field p50_ms "$line")"
}

m_classic() { # NAME  (also idle RSS, read from the freshly started classic server)
    start_server "$1" classic || return
    sleep 0.5
    add idle_rss_kib "$1" "$(rss_kib "$SPID")"
    local line
    line=$(timeout 60 "$LG" classic "127.0.0.1:$SPORT" -c 32 -d "$CLASSIC_DUR")
    echo "$1 classic: $line" >>"$OUT/raw.txt"
    add classic_cps "$1" "$(field conns_per_s "$line")"
    add classic_exact_pct "$1" "$(field exact_pct "$line")"
    stop_pid "$SPID"
}

# idle RSS of the static binaries (httpfault: target/static/httpfault; C: gcc -static)
m_static_rss() { # NAME
    case $1 in
        httpfault) [ -n "$STATIC_SIZE" ] || return ;;
        httpfault2) [ -x "${HF2_STATIC:-}" ] || return ;;
        epoll|threads) [ -x "$BIN/$1-static" ] || return ;;
        *) return ;;
    esac
    VARIANT=static
    m_startup "$1" static_startup_ms
    if start_server "$1" classic; then
        sleep 0.5
        add static_idle_rss_kib "$1" "$(rss_kib "$SPID")"
        stop_pid "$SPID"
    fi
    VARIANT=""
}

m_keepalive() { # NAME [SCENARIO METRIC]
    start_server "$1" "${2:-ok}" || return
    local line v
    if [ -n "$WRK" ]; then
        line=$(timeout 60 "$WRK" -t2 -c32 -d"$DUR" "http://127.0.0.1:$SPORT/" 2>&1)
        echo "$1 wrk: $(tr '\n' ' ' <<<"$line")" >>"$OUT/raw.txt"
        v=$(awk '/^Requests\/sec:/ {print $2}' <<<"$line")
        if grep -qE 'Non-2xx|Socket errors' <<<"$line"; then
            log "note: $1 keep-alive: $(grep -E 'Non-2xx|Socket errors' <<<"$line" | tr '\n' ' ')"
        fi
    else
        line=$(timeout 60 "$LG" keepalive "127.0.0.1:$SPORT" -c 32 -d "$DUR")
        echo "$1 keepalive: $line" >>"$OUT/raw.txt"
        v=$(field req_per_s "$line")
    fi
    add "${3:-keepalive_rps}" "$1" "$v"
    stop_pid "$SPID"
}

m_delay() { # NAME
    start_server "$1" delay || return
    local line
    line=$(timeout 60 "$LG" latency "127.0.0.1:$SPORT" -c 200 -n "$LAT_N" --base 100ms)
    echo "$1 delay: $line" >>"$OUT/raw.txt"
    add delay_p50_ms "$1" "$(field over_p50_ms "$line")"
    add delay_p99_ms "$1" "$(field over_p99_ms "$line")"
    add delay_max_ms "$1" "$(field over_max_ms "$line")"
    stop_pid "$SPID"
}

# hold N connections (each sent a request) against NAME's hold scenario.
# sets HOLD_IDLE HOLD_RSS HOLD_ALIVE HOLD_PROBE HOLD_THREADS
do_hold() { # NAME N [PROBE_PATH]
    HOLD_IDLE="" HOLD_RSS="" HOLD_ALIVE="" HOLD_PROBE="" HOLD_THREADS=""
    start_server "$1" hold || return 1
    sleep 0.5
    HOLD_IDLE=$(rss_kib "$SPID")
    local hout=$TMP/hold.out lpid i prev cur probe=()
    [ -n "${3:-}" ] && probe=(--probe "$3")
    : >"$hout"
    "$LG" hold "127.0.0.1:$SPORT" -n "$2" --settle 1s --hold-for 90s --ignore-stdin "${probe[@]}" \
        >"$hout" 2>"$TMP/hold.err" </dev/null &
    lpid=$!
    PIDS+=("$lpid")
    for i in $(seq 600); do # up to 60 s
        grep -q '^alive' "$hout" && break
        kill -0 "$lpid" 2>/dev/null || break
        sleep 0.1
    done
    # RSS settles once the server has taken every connection: wait until it stops growing (<= 5 s)
    prev=$(rss_kib "$SPID")
    for i in $(seq 25); do
        sleep 0.2
        cur=$(rss_kib "$SPID")
        [ "${cur:-0}" -le "${prev:-0}" ] && break
        prev=$cur
    done
    HOLD_RSS=$(rss_kib "$SPID")
    HOLD_THREADS=$(threads_of "$SPID")
    local aline
    aline=$(grep '^alive' "$hout" | head -1)
    echo "$1 hold $2: $(grep '^opened' "$hout") $aline idle_rss=$HOLD_IDLE held_rss=$HOLD_RSS threads=$HOLD_THREADS" >>"$OUT/raw.txt"
    HOLD_ALIVE=$(field held "$aline")
    HOLD_PROBE=$(field probe "$aline")
    stop_pid "$lpid"
    stop_pid "$SPID"
    return 0
}

# stack pages touched per held connection thread (benches/stack.py: the resident size of each
# connection thread's stack mapping, 1000 connections held by `hang`)
m_stack() { # NAME
    local bin=$HF line
    [ "$1" = httpfault2 ] && bin=$HF2_BIN
    line=$(timeout 120 python3 "$ROOT/benches/stack.py" "$bin" -n "$STACK_N" 2>>"$TMP/stack.err")
    echo "$1 stack: $line" >>"$OUT/raw.txt"
    add stack_kib "$1" "$(field stack_kib_mean "$line")"
}

m_hold() { # NAME
    do_hold "$1" "$HOLD_N" || return
    if [ -n "$HOLD_RSS" ] && [ -n "$HOLD_IDLE" ]; then
        add hold_kib_per_conn "$1" "$(awk -v a="$HOLD_RSS" -v b="$HOLD_IDLE" -v n="$HOLD_N" 'BEGIN {printf "%.2f", (a-b)/n}')"
    fi
    add hold_alive "$1" "${HOLD_ALIVE:-0}"
}

# ---------------------------------------------------------------------------------------------
: >"$OUT/raw.txt"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
T_MEASURE=$(date +%s)
for ROUND in $(seq "$ROUNDS"); do
    for s in "${AVAIL[@]}"; do
        log "round $ROUND/$ROUNDS: $s"
        m_startup "$s"
        m_classic "$s"
        m_static_rss "$s"
        m_keepalive "$s"
        case $s in httpfault*) m_keepalive "$s" ok50 keepalive50_rps ;; esac
        m_delay "$s"
        m_hold "$s"
        case $s in httpfault*) m_stack "$s" ;; esac
    done
done

# 10,000 held connections, once per server (httpfault also answers a path-plan probe meanwhile)
ROUND=big
declare -A BIG
for s in "${AVAIL[@]}"; do
    log "holding $BIG_HOLD connections: $s"
    pp=""
    case $s in httpfault*) pp="/status=200" ;; esac
    if do_hold "$s" "$BIG_HOLD" $pp; then
        v="${HOLD_ALIVE:-0}/$BIG_HOLD"
        case $s in httpfault*) v="$v, probe ${HOLD_PROBE:-?}" ;; esac
        BIG[$s]=$v
        if [ -n "$HOLD_RSS" ] && [ -n "$HOLD_IDLE" ]; then
            add big_kib_per_conn "$s" "$(awk -v a="$HOLD_RSS" -v b="$HOLD_IDLE" -v n="$BIG_HOLD" 'BEGIN {printf "%.2f", (a-b)/n}')"
        fi
    else
        BIG[$s]="did not start"
    fi
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
T_END=$(date +%s)

# ---------------------------------------------------------------------------------------------
# the table
med() { median ${R["$1|$2"]:-}; }
fmt() { # value decimals
    [ -z "$1" ] && { echo "n/a"; return; }
    awk -v v="$1" -v d="$2" 'BEGIN {printf "%.*f", d, v}'
}
ratio() { # hf ep
    if [ -z "$1" ] || [ -z "$2" ] || awk -v b="$2" 'BEGIN {exit !(b==0)}'; then echo "n/a"; return; fi
    awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f×", a/b}'
}
verdict() { # value op limit -> ✅ / ❌ / ?
    [ -z "$1" ] && { echo "?"; return; }
    if awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
        if (op=="<=") exit !(v<=l); if (op==">=") exit !(v>=l); if (op=="<") exit !(v<l); exit 1 }'; then
        echo "✅"
    else
        echo "❌"
    fi
}
rv() { # hf ep -> hf/ep as a bare number
    [ -z "$1" ] || [ -z "$2" ] && return
    awk -v a="$1" -v b="$2" 'BEGIN {if (b!=0) printf "%.4f", a/b}'
}

COLS=(httpfault epoll threads node)
[ -n "${HF2_BIN:-}" ] && COLS+=(httpfault2)
row() { # label metric decimals target-text check(op limit on ratio|abs) kind
    local label=$1 m=$2 d=$3 target=$4 kind=$5 op=${6:-} lim=${7:-}
    local line="| $label" s v hf ep chk
    for s in "${COLS[@]}"; do
        v=$(med "$m" "$s")
        line="$line | $(fmt "$v" "$d")"
    done
    hf=$(med "$m" httpfault)
    ep=$(med "$m" epoll)
    case $kind in
        ratio) chk=$(verdict "$(rv "$hf" "$ep")" "$op" "$lim") ;;
        abs) chk=$(verdict "$hf" "$op" "$lim") ;;
        *) chk="" ;;
    esac
    echo "$line | $(ratio "$hf" "$ep") | $target $chk |"
}

bytes_of() { # FILE [SIZE: only when measured in this run] -> bytes, or n/a
    if [ $# -gt 1 ] && [ -z "$2" ]; then echo "n/a"; return; fi
    [ -n "$1" ] && [ -f "$1" ] && stat -c %s "$1" || echo "n/a"
}
kib_size() { [ -f "$1" ] && awk -v s="$(stat -c %s "$1")" 'BEGIN {printf "%.0f", s/1024}' || echo "n/a"; }

{
    echo "## httpfault benchmarks"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), git $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo '+dirty'), $(nproc) cores, $(uname -r), load avg before/after: $LOAD_BEFORE / $LOAD_AFTER."
    echo "Loopback only; medians of $ROUNDS rounds (servers interleaved in each round); measurements took $((T_END - T_MEASURE)) s."
    echo
    if [ -n "${HF2_BIN:-}" ]; then
        echo "HF2_BIN: httpfault2 is \`$HF2_BIN\`, measured in the same rounds; its column is the last one."
        echo
        echo "| figure | httpfault | C epoll | C threads | Node | httpfault2 | httpfault/epoll | target |"
        echo "|---|---:|---:|---:|---:|---:|---:|---|"
    else
        echo "| figure | httpfault | C epoll | C threads | Node | httpfault/epoll | target |"
        echo "|---|---:|---:|---:|---:|---:|---|"
    fi
    row "startup: spawn → first TCP connect, ms (p50 of $SPAWNS spawns)" startup_ms 2 "≤ 1.5× epoll" ratio "<=" 1.5
    row "startup, static binaries (C: gcc -static), ms" static_startup_ms 2 "(info)" none
    row "idle RSS (VmRSS after 0.5 s), KiB" idle_rss_kib 0 "< 2048 KiB" abs "<" 2048
    row "idle RSS, static binaries, KiB" static_idle_rss_kib 0 "(info)" none
    row "classic fault (Hello, + RST), new conn per request, c=32: conns/s" classic_cps 0 "≥ 0.8× epoll" ratio ">=" 0.8
    row "classic fault: % exact \`Hello,\` + RST" classic_exact_pct 2 "100 %" abs ">=" 100
    row "healthy keep-alive 200, $KA_TOOL: req/s" keepalive_rps 0 "≥ 0.9× epoll" ratio ">=" 0.9
    ka=$(med keepalive_rps httpfault)
    ka50=$(med keepalive50_rps httpfault)
    r50=$(rv "$ka50" "$ka")
    X2=""  # the httpfault2 cell of the rows written by hand
    [ -n "${HF2_BIN:-}" ] && X2=" $(fmt "$(med keepalive50_rps httpfault2)" 0) |"
    echo "| healthy keep-alive with 50 routes (none matching), req/s | $(fmt "$ka50" 0) | | | |$X2 $( [ -n "$r50" ] && printf '%.2f× no-routes' "$r50" || echo n/a) | ≥ 0.95× httpfault without routes $(verdict "$r50" ">=" 0.95) |"
    rt=$(rv "$ka" "$(med keepalive_rps threads)")
    [ -n "${HF2_BIN:-}" ] && X2=" $(fmt "$(rv "$(med keepalive_rps httpfault2)" "$(med keepalive_rps threads)")" 2)× |"
    echo "| healthy keep-alive: httpfault / C threads (same rounds) | $( [ -n "$rt" ] && printf '%.2f×' "$rt" || echo n/a) | | 1.00× | |$X2 | | ≥ 1.0× C threads $(verdict "$rt" ">=" 1.0) |"
    row "delay=100ms, c=200: p99 overshoot, ms" delay_p99_ms 2 "≤ 1.5× epoll" ratio "<=" 1.5
    row "delay=100ms, c=200: p50 overshoot, ms" delay_p50_ms 2 "(info)" none
    row "delay=100ms, c=200: max overshoot, ms" delay_max_ms 2 "(info)" none
    row "memory per held connection, $HOLD_N held (hang): KiB" hold_kib_per_conn 2 "≤ 10 KiB" abs "<=" 10
    row "memory per held connection, $BIG_HOLD held: KiB (1 run)" big_kib_per_conn 2 "(info)" none
    row "stack touched per held connection thread, KiB (benches/stack.py, $STACK_N held)" stack_kib 2 "≤ 8 KiB" abs "<=" 8
    bh=$(echo "${BIG[httpfault]:-n/a}" | grep -q "^$BIG_HOLD/$BIG_HOLD, probe ok" && echo "✅" || echo "❌")
    [ "$HF_OK" = 1 ] || bh="?"
    [ -n "${HF2_BIN:-}" ] && X2=" ${BIG[httpfault2]:-n/a} |"
    echo "| $BIG_HOLD held connections: alive after 1 s | ${BIG[httpfault]:-n/a} | ${BIG[epoll]:-n/a} | ${BIG[threads]:-n/a} | ${BIG[node]:-n/a} |$X2 | must work $bh |"
    [ -n "${HF2_BIN:-}" ] && X2=" |"
    [ -n "${HF2_BIN:-}" ] && X2=" $(bytes_of "${HF2_STATIC:-}") |"
    es=$(stat -c %s "$BIN/epoll-static" 2>/dev/null)
    echo "| static binary size, bytes, default build with TLS (C: gcc -static -s) | $(bytes_of target/static/httpfault "$STATIC_SIZE") | ${es:-n/a} | $(bytes_of "$BIN/threads-static") | n/a |$X2 $(ratio "$STATIC_SIZE" "$es") | (info) |"
    [ -n "${HF2_BIN:-}" ] && X2=" $(bytes_of "${HF2_STATIC_STD:-}") |"
    echo "| static binary size, bytes, std-only (STATIC_FLAGS=--no-default-features) | $(bytes_of target/static/httpfault-std "$STATIC_STD_SIZE") | | | |$X2 | < 1,500,000 $(verdict "$STATIC_STD_SIZE" "<" 1500000) |"
    echo
    echo "Command: \`make bench\` (ROUNDS=$ROUNDS DUR=$DUR CLASSIC_DUR=$CLASSIC_DUR SPAWNS=$SPAWNS LAT_N=$LAT_N HOLD_N=$HOLD_N BIG_HOLD=$BIG_HOLD). Raw numbers: benches/out/raw.txt."
} >"$OUT/latest.md"

cat "$OUT/latest.md"
log "done in $(( $(date +%s) - T_START )) s"

# The TCP relay table (benches/tcp.sh, also `make bench-tcp`), on the same binary; SKIP_TCP=1 skips it.
[ "${SKIP_TCP:-0}" = 1 ] || SKIP_BUILD=1 HF_BIN="$HF" bash benches/tcp.sh

# The HTTP/2 table (benches/h2.sh, also `make bench-h2`): h2load, one connection, 32 streams,
# beside nginx with http2; SKIP_H2=1 skips it.
[ "${SKIP_H2:-0}" = 1 ] || SKIP_BUILD=1 HF_BIN="$HF" bash benches/h2.sh
