#!/usr/bin/env bash
# benches/tcp.sh: `make bench-tcp`. TCP mode (httpfault --tcp) as a plain relay, beside socat and
# haproxy (mode tcp), all in front of the same upstream (benches/tcpperf.c), and the upstream
# directly as the floor:
#   - throughput, upstream to client: one connection moving $BYTES_1, and $CONNS connections at
#     once moving $BYTES_N in all (MB/s, MB = 10^6 bytes)
#   - round-trip latency of $LAT_SIZE-byte echoes, one at a time on one connection (p50/p99, µs)
#   - many small messages, shaped like redis-benchmark: $RR_CONNS connections from one epoll
#     thread, each sending a $RR_REQ-byte request (a Redis SET) and waiting for its $RR_RESP-byte
#     answer (+OK) before the next, for $RR_SECS s, to a one-thread epoll upstream that answers
#     like Redis (`tcpperf rr` and `tcpperf kv`): requests/s and round-trip p50/p99
# Loopback only; every step bounded in time; medians of $ROUNDS rounds, the relays interleaved
# in each round so that background noise hits all of them alike. Prints one Markdown table and
# writes it to benches/out/tcp.md.
#
# Knobs (environment): ROUNDS=3 BYTES_1=1073741824 BYTES_N=1073741824 CONNS=32 LAT_N=20000
#   LAT_SIZE=64 RR_CONNS=200 RR_SECS=3 RR_REQ=45 RR_RESP=5 RELAYS="httpfault socat haproxy"
#   SKIP_BUILD=0 HF_BIN=path HF2_BIN=path (a second httpfault build, as the column httpfault2:
#   before/after comparisons in one run) TOXI=1 (0: leave out the toxiproxy columns)
#
# With TOXI=1 (the default) two more relays run in the same rounds: `httpfault toxiproxy` with a
# proxy and no toxic (toxi), and with one `latency` toxic of 0 ms (toxi_lat0); a second table
# gives them as ratios of plain TCP mode (target: at least 0.9x), and the memory of 100 proxies
# with 10 toxics each beyond the idle process (target: under 10 MiB).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/benches/out
BIN=$OUT/bin
TMP=$(mktemp -d "${TMPDIR:-/tmp}/httpfault-tcp-bench.XXXXXX")
mkdir -p "$OUT" "$BIN"

ROUNDS=${ROUNDS:-3}
BYTES_1=${BYTES_1:-1073741824}
BYTES_N=${BYTES_N:-1073741824}
CONNS=${CONNS:-32}
LAT_N=${LAT_N:-20000}
LAT_SIZE=${LAT_SIZE:-64}
RR_CONNS=${RR_CONNS:-200}
RR_SECS=${RR_SECS:-3}
RR_REQ=${RR_REQ:-45}
RR_RESP=${RR_RESP:-5}
RELAYS=${RELAYS:-"httpfault socat haproxy"}
TOXI=${TOXI:-1}
[ "$TOXI" = 1 ] && RELAYS="$RELAYS toxi toxi_lat0"
SKIP_BUILD=${SKIP_BUILD:-0}
HF=${HF_BIN:-$ROOT/target/release/httpfault}
PERF=$BIN/tcpperf
T_START=$(date +%s)

log() { printf '[bench-tcp %3ss] %s\n' "$(( $(date +%s) - T_START ))" "$*" >&2; }

# Processes we started: killed on exit, and only those.
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_pid() { # PID: TERM, then KILL after 2 s
    local p=$1 i keep=()
    kill "$p" 2>/dev/null
    for i in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    for i in "${PIDS[@]}"; do [ "$i" != "$p" ] && keep+=("$i"); done
    PIDS=("${keep[@]}")
}

# The port printed on FILE's first line as "listening on [http://]127.0.0.1:PORT", within 10 s.
port_from() {
    local f=$1 i line
    for i in $(seq 200); do
        line=$(head -n1 "$f" 2>/dev/null)
        if [[ $line =~ 127\.0\.0\.1:([0-9]+) ]]; then
            echo "${BASH_REMATCH[1]}"
            return 0
        fi
        sleep 0.05
    done
    return 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_listening() { # PORT: until a connect succeeds, within 10 s
    local i
    for i in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# build and tools
if [ "$SKIP_BUILD" != 1 ] && [ -z "${HF_BIN:-}" ]; then
    log "building httpfault (cargo build --release)"
    cargo build --release --quiet || log "WARNING: httpfault does not build"
fi
gcc -O2 -pthread -o "$PERF" benches/tcpperf.c || exit 1
for tool in socat haproxy; do
    if [[ " $RELAYS " == *" $tool "* ]] && ! command -v "$tool" >/dev/null; then
        log "installing $tool (apt-get)"
        apt-get install -y -qq "$tool" >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$tool" >/dev/null 2>&1; } ||
            log "WARNING: $tool could not be installed; its column will be n/a"
    fi
done

"$PERF" server >"$TMP/upstream.out" 2>&1 </dev/null &
PIDS+=($!)
UP=$(port_from "$TMP/upstream.out") || { log "upstream did not start"; exit 1; }
log "upstream on 127.0.0.1:$UP"
"$PERF" kv "$RR_REQ" "$RR_RESP" >"$TMP/kv.out" 2>&1 </dev/null &
PIDS+=($!)
KV=$(port_from "$TMP/kv.out") || { log "kv upstream did not start"; exit 1; }
log "Redis-shaped upstream on 127.0.0.1:$KV"
HF2=${HF2_BIN:-}
H2=""
[ -n "$HF2" ] && RELAYS="$RELAYS httpfault2"

# ---------------------------------------------------------------------------------------------
# relays: start_RELAY sets PORT (where it listens) and RELAY_PID (added to PIDS at once). Not
# called in a $(...): a relay started there would hold the substitution's pipe open.
RELAY_PID=
PORT=
TO=$UP # the upstream the relay started next forwards to
start_direct() { PORT=$TO; }

start_httpfault() {
    [ -x "$HF" ] || return 1
    "$HF" -q --tcp --upstream "127.0.0.1:$TO" --listen 127.0.0.1:0 >"$TMP/hf.out" 2>"$TMP/hf.err" &
    RELAY_PID=$!
    PIDS+=("$RELAY_PID")
    PORT=$(port_from "$TMP/hf.out")
}

start_httpfault2() {
    [ -x "$HF2" ] || return 1
    "$HF2" -q --tcp --upstream "127.0.0.1:$TO" --listen 127.0.0.1:0 >"$TMP/hf2.out" 2>"$TMP/hf2.err" &
    RELAY_PID=$!
    PIDS+=("$RELAY_PID")
    PORT=$(port_from "$TMP/hf2.out")
}

# httpfault toxiproxy with one proxy to $TO; $1: a toxic's JSON to add, if any.
start_toxi_with() {
    [ -x "$HF" ] || return 1
    "$HF" toxiproxy -q --listen 127.0.0.1:0 >"$TMP/toxi.out" 2>"$TMP/toxi.err" &
    RELAY_PID=$!
    PIDS+=("$RELAY_PID")
    local api
    api=$(port_from "$TMP/toxi.out") || return 1
    PORT=$(curl -s -X POST -d "{\"name\":\"bench\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$TO\"}" \
        "http://127.0.0.1:$api/proxies" | sed -n 's/.*"listen":"127.0.0.1:\([0-9]*\)".*/\1/p')
    if [ -n "${1:-}" ]; then
        curl -s -X POST -d "$1" "http://127.0.0.1:$api/proxies/bench/toxics" >/dev/null || return 1
    fi
    [ -n "$PORT" ]
}
start_toxi() { start_toxi_with ""; }
start_toxi_lat0() { start_toxi_with '{"type":"latency","attributes":{"latency":0}}'; }

start_socat() {
    command -v socat >/dev/null || return 1
    local p
    p=$(free_port)
    # backlog=1024: socat's default listen backlog is 5, and 32 connects at once would then
    # wait for SYN retransmits (a second each), which measures the backlog, not the relay.
    socat "TCP-LISTEN:$p,bind=127.0.0.1,reuseaddr,fork,backlog=1024" "TCP:127.0.0.1:$TO" 2>"$TMP/socat.err" &
    RELAY_PID=$!
    PIDS+=("$RELAY_PID")
    wait_listening "$p" && PORT=$p
}

start_haproxy() {
    command -v haproxy >/dev/null || return 1
    local p
    p=$(free_port)
    cat >"$TMP/haproxy.cfg" <<EOF
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend relay
    bind 127.0.0.1:$p
    default_backend upstream
backend upstream
    server up 127.0.0.1:$TO
EOF
    haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.out" 2>&1 &
    RELAY_PID=$!
    PIDS+=("$RELAY_PID")
    wait_listening "$p" && PORT=$p
}

# ---------------------------------------------------------------------------------------------
# rounds
declare -A RAW
record() { RAW[$1,$2]="${RAW[$1,$2]:-} $3"; }

measure() { # NAME PORT
    local name=$1 port=$2 r
    r=$(timeout 120 "$PERF" tput "127.0.0.1:$port" 1 "$BYTES_1") && record tput1 "$name" "${r%% *}"
    r=$(timeout 120 "$PERF" tput "127.0.0.1:$port" "$CONNS" $((BYTES_N / CONNS))) &&
        record tputn "$name" "${r%% *}"
    r=$(timeout 120 "$PERF" lat "127.0.0.1:$port" "$LAT_N" "$LAT_SIZE") && {
        record p50 "$name" "${r%% *}"
        record p99 "$name" "${r##* }"
    }
}

measure_rr() { # NAME PORT
    local name=$1 port=$2 r
    r=$(timeout 60 "$PERF" rr "127.0.0.1:$port" "$RR_CONNS" "$RR_SECS" "$RR_REQ" "$RR_RESP") && {
        read -r rps p50 p99 <<<"$r"
        record rr "$name" "$rps"
        record rr50 "$name" "$p50"
        record rr99 "$name" "$p99"
    }
}

run_one() { # NAME MEASURE UPSTREAM-PORT
    PORT=
    RELAY_PID=
    TO=$3
    if "start_$1" && [ -n "$PORT" ]; then
        log "round $round: $1 on $PORT ($2)"
        "$2" "$1" "$PORT"
    else
        log "round $round: $1 did not start"
    fi
    [ -n "$RELAY_PID" ] && stop_pid "$RELAY_PID"
    RELAY_PID=
}

ALL="direct $RELAYS"
for round in $(seq "$ROUNDS"); do
    for name in $ALL; do
        [ "${SKIP_STREAM:-0}" = 1 ] || run_one "$name" measure "$UP"
        run_one "$name" measure_rr "$KV"
    done
done

# ---------------------------------------------------------------------------------------------
# table
med() { # FIGURE NAME: the median of the recorded values
    local v=${RAW[$1,$2]:-}
    [ -n "$v" ] || return 0
    echo $v | tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f×", a/b}'; }
cell() { [ -n "$1" ] && echo "$1" || echo "n/a"; }
row() { # LABEL FIGURE
    local hf so ha
    hf=$(med "$2" httpfault)
    so=$(med "$2" socat)
    ha=$(med "$2" haproxy)
    echo "| $1 | $(cell "$(med "$2" direct)") | $(cell "$hf") | $(cell "$so") | $(cell "$ha") | $(cell "$(ratio "$hf" "$ha")") | $(cell "$(ratio "$hf" "$so")") |$H2"
}
added() { # FIGURE NAME: median minus the direct median, µs
    local m d
    m=$(med "$1" "$2")
    d=$(med "$1" direct)
    [ -n "$m" ] && [ -n "$d" ] && awk -v m="$m" -v d="$d" 'BEGIN {printf "%.1f", m-d}'
}
added_row() { # LABEL FIGURE
    local hf so ha
    hf=$(added "$2" httpfault)
    so=$(added "$2" socat)
    ha=$(added "$2" haproxy)
    # No ratios: a difference of medians can be zero or negative (noise on a busy machine).
    echo "| $1 | 0 | $(cell "$hf") | $(cell "$so") | $(cell "$ha") | | |$([ -n "$HF2" ] && echo " $(cell "$(added "$2" httpfault2)") | |")"
}

{
    echo "## TCP relay benchmark"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), git $(git rev-parse --short HEAD 2>/dev/null), $(nproc) cores, $(uname -r); medians of $ROUNDS rounds."
    echo "Relays: \`httpfault -q --tcp --upstream UP\` (release build, no plan), \`socat TCP-LISTEN:P,fork,backlog=1024 TCP:UP\` ($(socat -V 2>/dev/null | awk '/socat version/ {print $3}')), haproxy $(haproxy -v 2>/dev/null | awk 'NR==1 {print $3}') \`mode tcp\` (defaults); upstream and client: benches/tcpperf.c."
    echo
    if [ -n "$HF2" ]; then
        echo "| figure | direct | httpfault | socat | haproxy | httpfault/haproxy | httpfault/socat | httpfault2 | httpfault2/haproxy |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    else
        echo "| figure | direct | httpfault | socat | haproxy | httpfault/haproxy | httpfault/socat |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
    fi
    if [ "${SKIP_STREAM:-0}" != 1 ]; then
        H2=$([ -n "$HF2" ] && echo " $(cell "$(med tput1 httpfault2)") | $(cell "$(ratio "$(med tput1 httpfault2)" "$(med tput1 haproxy)")") |")
        row "throughput, 1 connection, $((BYTES_1 >> 20)) MiB: MB/s" tput1
        H2=$([ -n "$HF2" ] && echo " $(cell "$(med tputn httpfault2)") | $(cell "$(ratio "$(med tputn httpfault2)" "$(med tputn haproxy)")") |")
        row "throughput, $CONNS connections, $((BYTES_N >> 20)) MiB in all: MB/s" tputn
        H2=$([ -n "$HF2" ] && echo " $(cell "$(med p50 httpfault2)") | |")
        row "round trip, $LAT_SIZE B echo: p50 µs" p50
        H2=$([ -n "$HF2" ] && echo " $(cell "$(med p99 httpfault2)") | |")
        row "round trip, $LAT_SIZE B echo: p99 µs" p99
        added_row "added by the relay: p50 µs" p50
        added_row "added by the relay: p99 µs" p99
    fi
    H2=$([ -n "$HF2" ] && echo " $(cell "$(med rr httpfault2)") | $(cell "$(ratio "$(med rr httpfault2)" "$(med rr haproxy)")") |")
    row "small messages (redis-benchmark shape), $RR_CONNS connections, $RR_REQ B request / $RR_RESP B answer: requests/s" rr
    H2=$([ -n "$HF2" ] && echo " $(cell "$(med rr50 httpfault2)") | |")
    row "small messages: round trip p50 µs" rr50
    H2=$([ -n "$HF2" ] && echo " $(cell "$(med rr99 httpfault2)") | |")
    row "small messages: round trip p99 µs" rr99
    echo
    echo "Targets: throughput ≥ 0.9× haproxy and ≥ socat; small messages ≥ 0.9× haproxy. Raw values per round:"
    echo
    for f in tput1 tputn p50 p99 rr rr50 rr99; do
        for n in $ALL; do echo "    $f $n:${RAW[$f,$n]:-}"; done
    done
} >"$OUT/tcp.md"

# toxiproxy mode against plain TCP mode, and its memory with 100 proxies of 10 toxics each.
toxi_memory() { # prints the RSS growth in KiB
    "$HF" toxiproxy -q --listen 127.0.0.1:0 >"$TMP/toxm.out" 2>/dev/null &
    local pid=$! api before after i j
    PIDS+=("$pid")
    api=$(port_from "$TMP/toxm.out") || return 1
    sleep 0.5
    before=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    for i in $(seq 100); do
        curl -s -X POST -d "{\"name\":\"p$i\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$UP\"}" "http://127.0.0.1:$api/proxies" >/dev/null
        for j in $(seq 10); do
            curl -s -X POST -d "{\"type\":\"latency\",\"name\":\"t$j\",\"attributes\":{\"latency\":$j,\"jitter\":1}}" "http://127.0.0.1:$api/proxies/p$i/toxics" >/dev/null
        done
    done
    sleep 0.5
    after=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    stop_pid "$pid"
    echo $((after - before))
}
if [ "$TOXI" = 1 ]; then
    mem=$(toxi_memory)
    trow() { # LABEL FIGURE
        local plain t l
        plain=$(med "$2" httpfault)
        t=$(med "$2" toxi)
        l=$(med "$2" toxi_lat0)
        echo "| $1 | $(cell "$plain") | $(cell "$t") | $(cell "$(ratio "$t" "$plain")") | $(cell "$l") | $(cell "$(ratio "$l" "$plain")") | $(cell "$(med "$2" haproxy)") |"
    }
    {
        echo
        echo "### httpfault toxiproxy beside plain TCP mode (same rounds)"
        echo
        echo "| figure | TCP mode | toxiproxy, no toxic | ratio | toxiproxy, latency 0 toxic | ratio | haproxy |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        if [ "${SKIP_STREAM:-0}" != 1 ]; then
            trow "throughput, 1 connection: MB/s" tput1
            trow "throughput, $CONNS connections: MB/s" tputn
            trow "round trip p99 µs" p99
        fi
        trow "small messages: requests/s" rr
        trow "small messages: round trip p99 µs" rr99
        echo
        echo "Added p99 (median minus direct, µs): TCP mode $(cell "$(added p99 httpfault)"), toxiproxy $(cell "$(added p99 toxi)"), latency 0 toxic $(cell "$(added p99 toxi_lat0)"), haproxy $(cell "$(added p99 haproxy)")."
        echo "Memory of 100 proxies with 10 toxics each, beyond the idle process: $(cell "$mem") KiB (target: under 10240)."
        echo "Targets: toxiproxy ratios at least 0.9x plain TCP mode."
    } >>"$OUT/tcp.md"
fi

cat "$OUT/tcp.md"
log "done in $(( $(date +%s) - T_START )) s"
