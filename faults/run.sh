#!/usr/bin/env bash
# make faults: webhookd under load and faults, on 127.0.0.1, each scenario against a fresh webhookd and a fresh
# embedded PostgreSQL (`serve --data-dir`). Load: faults/client (Go, crypto/tls + net/http), three clients
# (CNs fault-a, fault-b, fault-c; each a keep-alive worker pair), every request a unique webhook-id and body,
# every answer logged with its delivery_id. After each scenario every 200's delivery_id is looked up in
# `deliveries` (psql on the embedded cluster: port from postmaster.pid, password from <data-dir>/pgpass).
#   a  kill -9 webhookd mid-load, restart it                  b  kill -9 the postmaster and its children, restart it
#   c  SIGSTOP the postmaster and backends 20 s, SIGCONT      d  2,000 slowloris connections (1 head byte / 5 s)
#   e  one client over --rate 50, one over --connections 4   f  500 connections stalling a 1 MiB body
#      (both paced to 150 requests/s offered)                 g  5 SIGHUP reloads during load
# Exit 1 when a 200 is lost, a 5xx other than 503 is seen, or a scenario's own check fails (column check).
# Knobs: KEEP=1 keeps the work directory (events, logs), SCENARIOS="a b c d e f g", SLOW_CONNS=2000, STALL_CONNS=500, OUT=faults/out.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SCENARIOS=${SCENARIOS:-"a b c d e f g"}
SLOW_CONNS=${SLOW_CONNS:-2000}
STALL_CONNS=${STALL_CONNS:-500}
OUT=${OUT:-faults/out}
COMMIT_TIMEOUT=5
MAX_BUFFERED=67108864
PER_CONN_KIB=128 # budget per open connection for (f): OpenSSL state and buffers, the connection's own state
for tool in go psql openssl python3; do
    command -v "$tool" >/dev/null || { echo "faults: $tool is missing (make faults installs it)" >&2; exit 2; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BIN="$(swift build -c release --show-bin-path)/webhookd"
FC=$REPO/.build/faults-client
(cd faults/client && GOFLAGS=-mod=mod GOPROXY=off go build -o "$FC" .)
PG_BIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1)")
asdb() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

work=$(mktemp -d /tmp/webhookd-faults.XXXXXX)
chmod 755 "$work"
WH=""
DATA=""
cleanup() {
    [ -n "$WH" ] && kill -KILL "$WH" 2>/dev/null || true
    for d in "$work"/*/data; do
        [ -f "$d/postgres/postmaster.pid" ] && asdb "$PG_BIN/pg_ctl" -D "$d/postgres" -m immediate -w stop >/dev/null 2>&1 || true
    done
    jobs -p | xargs -r kill 2>/dev/null || true
    cp "$work"/*/*.log "$OUT"/ 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] && echo "faults: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Throwaway PKI: ECDSA P-256 CA, server certificate for localhost/127.0.0.1, one client certificate per CN.
CLIENTS="fault-a fault-b fault-c fault-rate fault-conn fault-slow"
(
    cd "$work"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 2 \
        -subj "/CN=faults CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
        -extfile <(printf "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth") 2>/dev/null
    for cn in $CLIENTS; do
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$cn.key" -out "$cn.csr" -subj "/CN=$cn" 2>/dev/null
        openssl x509 -req -in "$cn.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$cn.crt" -days 2 \
            -extfile <(printf "extendedKeyUsage=clientAuth") 2>/dev/null
    done
)

# start_wh: webhookd on $DATA (the cluster is started by webhookd, or reused when already running)
start_wh() {
    local log=$SD/webhookd.log
    echo "--- start $(date -u +%T.%N)" >>"$log"
    # shellcheck disable=SC2086
    "$BIN" serve --listen "127.0.0.1:$WH_PORT" --cert "$work/server.crt" --key "$work/server.key" \
        --client-ca "$work/ca.crt" --data-dir "$DATA" --sql-dir sql --admin-listen "127.0.0.1:$ADMIN_PORT" \
        --commit-timeout "$COMMIT_TIMEOUT" $SERVE_FLAGS 2>>"$log" &
    WH=$!
    local start=$SECONDS
    until [ "$(grep -c 'webhookd listening' "$log")" -ge "$1" ]; do
        kill -0 "$WH" 2>/dev/null || { echo "faults: webhookd exited" >&2; tail -20 "$log" >&2; exit 2; }
        [ $((SECONDS - start)) -gt 60 ] && { echo "faults: webhookd did not start" >&2; tail -20 "$log" >&2; exit 2; }
        sleep 0.1
    done
}
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
maxrss=0
note_hwm() { local h; h=$(hwm "$WH"); [ "${h:-0}" -gt "$maxrss" ] && maxrss=$h; return 0; }
pm() { head -1 "$DATA/postgres/postmaster.pid"; }
pgtree() { local p; p=$(pm); echo "$p" $(pgrep -P "$p" || true); }
psql_db() {
    PGPASSFILE="$DATA/pgpass" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(sed -n 4p "$DATA/postgres/postmaster.pid")" \
        -U webhookd webhookd "$@"
}

# scenario_begin NAME [serve flags]: fresh data dir, clients registered, webhookd started
scenario_begin() {
    SC=$1
    shift
    SERVE_FLAGS="$*"
    SD=$work/$SC
    DATA=$SD/data
    mkdir -p "$SD"
    chmod 755 "$SD"
    "$BIN" migrate --data-dir "$DATA" --sql-dir sql >/dev/null
    for cn in $CLIENTS; do "$BIN" clients add "$cn" --endpoint faults --data-dir "$DATA" --sql-dir sql >/dev/null; done
    WH_PORT=$(free_port)
    ADMIN_PORT=$(free_port)
    URL="https://127.0.0.1:$WH_PORT/webhooks/faults"
    maxrss=0
    CHECK=ok
    NOTE=""
    P99=-
    start_wh 1
}
# client CN LABEL [flags]: a load client in the background, its line in $SD/LABEL.out, answers in $SD/LABEL.events
client() {
    local cn=$1 label=$2
    shift 2
    "$FC" -mode load -url "$URL" -cert "$work/$cn.crt" -key "$work/$cn.key" -ca "$work/ca.crt" -label "$label" \
        -prefix "$SC-$label" -events "$SD/$label.events" -stop "$SD/stop" -d 120s -backoff 50ms -timeout "${CLIENT_TIMEOUT:-15s}" "$@" >"$SD/$label.out" &
}
steady_load() { rm -f "$SD/stop"; for cn in fault-a fault-b fault-c; do client "$cn" "$cn" -c 2; done; }
# (a bare `wait` would wait for webhookd too: only when some load client is still running)
stop_load() { touch "$SD/stop"; local p; p=$(jobs -p | grep -v "^$WH\$" || true); [ -z "$p" ] || wait $p 2>/dev/null || true; }
val() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$SD/$1.out"; }
fail_check() { CHECK=FAIL; NOTE="$NOTE $*"; }

# scenario_end: count answers, look every 200's delivery_id up, print the row, stop webhookd and its cluster
RESULTS=$OUT/table.txt
printf '%-3s %-44s %7s %7s %7s %5s %6s %6s %5s %6s %8s %8s  %s\n' sc scenario sent 2xx rows lost 503 429 5xx errors maxRSS_MiB p99_ms check >"$RESULTS"
FAILED=0
scenario_end() {
    local desc=$1 sent=0 ok=0 s503=0 s429=0 s5xx=0 errs=0 f
    for f in "$SD"/*.out; do
        grep -q '^label=.* sent=' "$f" || continue
        local l; l=$(basename "$f" .out)
        sent=$((sent + $(val "$l" sent))); ok=$((ok + $(val "$l" ok))); s503=$((s503 + $(val "$l" s503)))
        s429=$((s429 + $(val "$l" s429))); s5xx=$((s5xx + $(val "$l" s5xx))); errs=$((errs + $(val "$l" errors)))
    done
    cat "$SD"/*.events 2>/dev/null | awk '$2 == 200 && $3 != "-" {print $3}' | sort -u >"$SD/ids.txt"
    local ids200 nodid
    ids200=$(cat "$SD"/*.events 2>/dev/null | awk '$2 == 200' | wc -l)
    nodid=$(cat "$SD"/*.events 2>/dev/null | awk '$2 == 200 && $3 == "-"' | wc -l)
    local found
    found=$(psql_db -At <<SQL
CREATE TEMP TABLE seen (id uuid PRIMARY KEY);
\copy seen FROM '$SD/ids.txt'
SELECT count(*) FROM seen JOIN deliveries d USING (id);
SQL
)
    local uniq lost
    uniq=$(wc -l <"$SD/ids.txt")
    lost=$((uniq - found + nodid))
    [ "$uniq" != "$ids200" ] && fail_check "duplicate-delivery_id($((ids200 - uniq)))"
    [ "$lost" -gt 0 ] && fail_check "LOST"
    [ "$s5xx" -gt 0 ] && fail_check "5xx-not-503"
    note_hwm
    kill -TERM "$WH" 2>/dev/null || true
    wait "$WH" 2>/dev/null || true
    WH=""
    [ -f "$DATA/postgres/postmaster.pid" ] && asdb "$PG_BIN/pg_ctl" -D "$DATA/postgres" -m fast -w stop >/dev/null 2>&1 || true
    [ "$CHECK" = ok ] || FAILED=1
    printf '%-3s %-44s %7s %7s %7s %5s %6s %6s %5s %6s %8s %8s  %s\n' "$SC" "$desc" "$sent" "$ok" "$found" "$lost" \
        "$s503" "$s429" "$s5xx" "$errs" "$(awk -v k="$maxrss" 'BEGIN {printf "%.1f", k / 1024}')" "$P99" "$CHECK$NOTE" |
        tee -a "$RESULTS"
}
# first_200_after MS: milliseconds from MS to the first 200 any load client saw after it (-1: none)
first_200_after() { cat "$SD"/*.events | awk -v t="$1" '$2 == 200 && $1 >= t {if (m == "" || $1 < m) m = $1} END {print (m == "" ? -1 : m - t)}'; }
# statuses_between A B: "status:count ..." of the answers logged between two unix-ms instants
statuses_between() { cat "$SD"/*.events | awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b {n[$2]++} END {for (s in n) printf "%s:%d ", s, n[s]}'; }
now_ms() { date +%s%3N; }
pg_restart() { # the postmaster again, on the same port and options (postmaster.opts), webhookd keeps running
    local opts
    opts=$(cat "$DATA/postgres/postmaster.opts")
    asdb bash -c "cd / && exec $opts >>'$DATA/postgres/restart.log' 2>&1 </dev/null &"
}

echo "faults: webhookd $BIN, client $FC, work $work, scenarios: $SCENARIOS" >&2
T0=$SECONDS
for s in $SCENARIOS; do
    case $s in
    a)
        scenario_begin a
        steady_load
        sleep 4
        note_hwm
        kill -KILL "$WH"
        wait "$WH" 2>/dev/null || true
        sleep 1
        start_wh 2
        sleep 5
        stop_load
        P99=$(val fault-c p99_ms)
        scenario_end "kill -9 webhookd mid-load, restart"
        ;;
    b)
        scenario_begin b
        steady_load
        sleep 4
        opts_pm=$(pm)
        tree=$(pgtree)
        kill -KILL $tree
        t_kill=$(now_ms)
        sleep 8 # longer than --commit-timeout: the waiting requests get their 503
        pg_restart
        t_up=$(now_ms)
        sleep 11
        stop_load
        back=$(first_200_after "$t_up")
        during=$(statuses_between "$((t_kill + 500))" "$t_up")
        late=$(cat "$SD"/*.events | awk -v t="$((t_kill - 1000))" -v c="$t_up" -v l="$(((COMMIT_TIMEOUT + 2) * 1000))" \
            '$1 >= t && $1 - $4 <= c && ($2 == 0 || $4 > l) {n++; if ($4 > m) m = $4} END {printf "%d %d", n, m}')
        NOTE=" [down: $during] 200s back ${back}ms after restart; answers later than commit-timeout+2s or none: ${late% *} (longest ${late#* } ms)"
        kill -0 "$WH" 2>/dev/null || fail_check "webhookd-died"
        { [ "$back" -lt 0 ] || [ "$back" -gt 10000 ]; } && fail_check "no-200-within-10s"
        echo "$during" | grep -q -E '(^| )200:' && fail_check "200-while-db-down"
        P99=$(val fault-c p99_ms)
        scenario_end "kill -9 postmaster+children, restart it"
        ;;
    c)
        scenario_begin c
        CLIENT_TIMEOUT=40s steady_load
        sleep 4
        tree=$(pgtree)
        kill -STOP $tree
        t_stop=$(now_ms)
        sleep 20
        kill -CONT $tree
        t_cont=$(now_ms)
        sleep 6
        stop_load
        during=$(statuses_between "$((t_stop + (COMMIT_TIMEOUT + 1) * 1000))" "$t_cont")
        back=$(first_200_after "$t_cont")
        NOTE=" [stalled: $during] 200s back ${back}ms after SIGCONT"
        echo "$during" | grep -q -E '(^| )503:' || fail_check "no-503-during-stall"
        # A request still waiting for a writer gets its 503 at --commit-timeout. One a writer already put in a
        # statement cannot be told "not stored" while the stopped server may still commit it: it waits for
        # the outcome (a 200 after SIGCONT here). Late answers are reported; a request left without any
        # answer fails the check.
        slow=$(cat "$SD"/*.events | awk -v t="$((t_stop - 1000))" -v c="$t_cont" -v l="$(((COMMIT_TIMEOUT + 2) * 1000))" \
            '$1 >= t && $1 - $4 <= c && ($2 == 0 || $4 > l) {n++; if ($2 == 0) z++; if ($4 > m) m = $4} END {printf "%d %d %d", n, m, z}')
        read -r slow_n slow_max slow_none <<<"$slow"
        NOTE="$NOTE; held by a writer, answered after SIGCONT: $((slow_n - slow_none)) (longest $slow_max ms); no answer: $slow_none"
        [ "$slow_none" = 0 ] || fail_check "requests-left-without-answer"
        { [ "$back" -lt 0 ] || [ "$back" -gt 10000 ]; } && fail_check "no-200-within-10s"
        P99=$(val fault-c p99_ms)
        scenario_end "SIGSTOP postmaster+backends 20 s, SIGCONT"
        ;;
    d)
        scenario_begin d --client-max-connections 4096
        steady_load
        client fault-c base -c 2 -d 6s
        wait $!
        base=$(val base p99_ms)
        "$FC" -mode slowloris -n "$SLOW_CONNS" -url "$URL" -cert "$work/fault-slow.crt" -key "$work/fault-slow.key" \
            -ca "$work/ca.crt" -every 5s -d 30s -label slowloris >"$SD/slowloris.txt" &
        slow=$!
        sleep 8
        open_now=$(ls "/proc/$WH/fd" | wc -l)
        client fault-c attacked -c 2 -d 12s
        wait $!
        wait "$slow" || true
        stop_load
        P99=$(val attacked p99_ms)
        NOTE=" [p99 without attack ${base}ms; webhookd fds during attack $open_now; $(cut -d' ' -f2- "$SD/slowloris.txt")]"
        scenario_end "slowloris $SLOW_CONNS conns, 1 byte/5 s"
        ;;
    e)
        scenario_begin e
        "$BIN" clients limit fault-rate --rate 50 --data-dir "$DATA" --sql-dir sql >/dev/null
        "$BIN" clients limit fault-conn --connections 4 --data-dir "$DATA" --sql-dir sql >/dev/null
        sleep 1.5
        # Three rounds of three 6 s windows for fault-c: alone; beside fault-a and fault-b sending what the
        # throttled clients get admitted (50/s on 4 connections, 150/s on 4 connections: the same load, no
        # limit reached); beside the two throttled clients. The box is shared and its neighbours' load drifts,
        # so interleaved windows and their medians compare like with like; "beside the same load" separates
        # what the limits cost fault-c from what any 200 requests/s more cost it on 2 cores.
        bases=() controls=() besides=()
        beside() { # pair round label: fault-c for 6 s next to the pair (same | throttled), stopped afterwards
            local one two
            rm -f "$SD/stop-others"
            if [ "$1" = same ]; then
                client fault-a "same-rate$2" -c 4 -rate 50 -stop "$SD/stop-others"
                one=$!
                client fault-b "same-conn$2" -c 4 -rate 150 -stop "$SD/stop-others"
                two=$!
            else
                # Both paced: a client at its connection limit, not a flood over the connections it got
                # (that would be load, which a rate limit bounds).
                client fault-rate "rate$2" -c 4 -rate 150 -backoff 0 -stop "$SD/stop-others"
                one=$!
                client fault-conn "conn$2" -c 10 -rate 150 -backoff 100ms -stop "$SD/stop-others"
                two=$!
            fi
            sleep 1
            client fault-c "$3$2" -c 2 -d 6s
            wait $!
            touch "$SD/stop-others"
            wait "$one" "$two" 2>/dev/null || true
        }
        for round in 1 2 3; do
            rm -f "$SD/stop"
            client fault-c "base$round" -c 2 -d 6s
            wait $!
            bases+=("$(val "base$round" p99_ms)")
            beside same "$round" control
            controls+=("$(val "control$round" p99_ms)")
            beside throttled "$round" unaffected
            besides+=("$(val "unaffected$round" p99_ms)")
        done
        stop_load
        median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
        total() { local key=$1 sum=0 l; shift; for l in "$@"; do sum=$((sum + $(val "$l" "$key"))); done; echo "$sum"; }
        P99=$(median3 "${besides[@]}")
        NOTE=" [p99 medians: alone $(median3 "${bases[@]}")ms (${bases[*]}), beside the same load unthrottled"
        NOTE="$NOTE $(median3 "${controls[@]}")ms (${controls[*]}), beside the throttled clients (${besides[*]});"
        NOTE="$NOTE 429s: fault-rate $(total s429 rate1 rate2 rate3)/$(total sent rate1 rate2 rate3),"
        NOTE="$NOTE fault-conn $(total s429 conn1 conn2 conn3)/$(total sent conn1 conn2 conn3),"
        NOTE="$NOTE fault-c $(total s429 unaffected1 unaffected2 unaffected3)/$(total sent unaffected1 unaffected2 unaffected3)]"
        [ "$(total s429 rate1 rate2 rate3)" -gt 0 ] || fail_check "rate-limit-not-hit"
        [ "$(total s429 conn1 conn2 conn3)" -gt 0 ] || fail_check "conn-limit-not-hit"
        [ "$(total s429 unaffected1 unaffected2 unaffected3 base1 base2 base3 control1 control2 control3)" = 0 ] || fail_check "unaffected-client-throttled"
        [ "$(total s429 same-rate1 same-rate2 same-rate3 same-conn1 same-conn2 same-conn3)" = 0 ] || fail_check "control-throttled"
        scenario_end "fault-rate at --rate 50, fault-conn 10 conns/4"
        ;;
    f)
        scenario_begin f --max-buffered-bytes "$MAX_BUFFERED" --client-max-connections 4096 # the attacker is one CN: past 256 it would get 429
        steady_load
        sleep 2
        rss0=$(rss "$WH")
        "$FC" -mode stall -n "$STALL_CONNS" -url "$URL" -cert "$work/fault-slow.crt" -key "$work/fault-slow.key" \
            -ca "$work/ca.crt" -size 1048576 -send 262144 -d 20s -label stall >"$SD/stall.txt" &
        st=$!
        peak=0
        while kill -0 "$st" 2>/dev/null; do r=$(rss "$WH"); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.5; done
        wait "$st" || true
        stop_load
        note_hwm
        budget=$((rss0 + MAX_BUFFERED / 1024 + STALL_CONNS * PER_CONN_KIB))
        NOTE=" [RSS before $((rss0 / 1024)) MiB, peak VmRSS $((peak / 1024)) MiB, VmHWM $((maxrss / 1024)) MiB, budget $((budget / 1024)) MiB = before + 64 MiB + $STALL_CONNS x $PER_CONN_KIB KiB; $(cut -d' ' -f2- "$SD/stall.txt")]"
        [ "$maxrss" -le "$budget" ] || fail_check "over-memory-budget"
        P99=$(val fault-c p99_ms)
        scenario_end "$STALL_CONNS conns stall a 1 MiB body (256 KiB sent)"
        ;;
    g)
        scenario_begin g
        steady_load
        sleep 2
        for _ in 1 2 3 4 5; do kill -HUP "$WH"; sleep 1.5; done
        sleep 2
        stop_load
        reloads=$(grep -c -i 'reload' "$SD/webhookd.log" || true)
        NOTE=" [log lines mentioning reload: $reloads]"
        for l in fault-a fault-b fault-c; do
            [ "$(val "$l" errors)" = 0 ] && [ "$(val "$l" s503)" = 0 ] && [ "$(val "$l" other)" = 0 ] && [ "$(val "$l" s429)" = 0 ] ||
                fail_check "$l-errors"
        done
        P99=$(val fault-c p99_ms)
        scenario_end "5 SIGHUP reloads during load"
        ;;
    *) echo "faults: unknown scenario $s" >&2; exit 2 ;;
    esac
done
echo "faults: $(nproc) cores, $(($SECONDS - T0)) s; --commit-timeout $COMMIT_TIMEOUT; table in $RESULTS" | tee -a "$RESULTS"
if [ "$FAILED" != 0 ]; then echo "faults: FAILED (see check column)" >&2; exit 1; fi
