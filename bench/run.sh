#!/usr/bin/env bash
# make bench: webhookd next to nginx (ssl_verify_client on; return 204) on the same machine, in the same run.
# Both get the same certificates (ECDSA P-256, TLS 1.3), the same client (ab with a client certificate),
# and 127.0.0.1 only. Figures are reported as ratios to nginx.
#   REQUESTS (default 20000) keep-alive requests, CONCURRENCY (default 32), HANDSHAKES (default 2000) full handshakes.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${REQUESTS:-20000}
CONCURRENCY=${CONCURRENCY:-32}
HANDSHAKES=${HANDSHAKES:-2000}
BIN="$(swift build -c release --show-bin-path)/webhookd"
work=$(mktemp -d /tmp/webhookd-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Certificates, with the openssl CLI so the reference and webhookd share them exactly.
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 2 \
    -subj "/CN=bench CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 \
    -extfile <(printf "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth") 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out client.csr -subj "/CN=bench" 2>/dev/null
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 \
    -extfile <(printf "extendedKeyUsage=clientAuth") 2>/dev/null
cat client.crt client.key > client.pem
printf '{"type":"invoice.paid","id":"evt_123","amount":4200,"currency":"eur","customer":"cus_42"}' > body.json
cd - >/dev/null

# webhookd on its embedded PostgreSQL (durable commits: fsync and synchronous_commit as shipped).
DATA="$work/data"
"$BIN" migrate --data-dir "$DATA" --sql-dir sql >/dev/null
WH_PORT=$(free_port)
"$BIN" clients add bench --endpoint bench --data-dir "$DATA" --sql-dir sql >/dev/null
"$BIN" serve --listen "127.0.0.1:$WH_PORT" --cert "$work/server.crt" --key "$work/server.key" \
    --client-ca "$work/ca.crt" --data-dir "$DATA" --sql-dir sql --admin-listen off 2>"$work/webhookd.log" &
pids+=($!)
for _ in $(seq 1 100); do grep -q "webhookd listening" "$work/webhookd.log" && break; sleep 0.2; done

# nginx, same certificates, 2 workers (one per core, like webhookd's default).
NG_PORT=$(free_port)
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000;
    client_body_temp_path $work/nginx-body;
    server {
        listen 127.0.0.1:$NG_PORT ssl;
        ssl_certificate $work/server.crt;
        ssl_certificate_key $work/server.key;
        ssl_client_certificate $work/ca.crt;
        ssl_verify_client on;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { return 204; }
    }
}
NGINX
nginx -c "$work/nginx.conf" -e "$work/nginx-error.log"
for _ in $(seq 1 50); do [ -f "$work/nginx.pid" ] && break; sleep 0.1; done

rps() { grep "Requests per second" | awk '{print $4}'; }
failed() { grep -E "^(Failed requests|Non-2xx responses)" | awk '{s+=$NF} END {print s+0}'; }
run_ab() { # name port keepalive count
    local args=(-q -n "$4" -c "$CONCURRENCY" -E "$work/client.pem" -p "$work/body.json" -T application/json)
    [ "$3" = yes ] && args+=(-k)
    ab "${args[@]}" "https://127.0.0.1:$2/webhooks/bench" >"$work/ab-$1.txt" 2>&1 || true
    echo "$(rps <"$work/ab-$1.txt") $(failed <"$work/ab-$1.txt")"
}
# Warm-up, then the measured runs.
run_ab warm "$WH_PORT" yes 500 >/dev/null
run_ab warm-ng "$NG_PORT" yes 500 >/dev/null
read -r wh_ka wh_ka_failed < <(run_ab webhookd-keepalive "$WH_PORT" yes "$REQUESTS")
read -r ng_ka ng_ka_failed < <(run_ab nginx-keepalive "$NG_PORT" yes "$REQUESTS")
read -r wh_hs wh_hs_failed < <(run_ab webhookd-handshake "$WH_PORT" no "$HANDSHAKES")
read -r ng_hs ng_hs_failed < <(run_ab nginx-handshake "$NG_PORT" no "$HANDSHAKES")
ratio() { python3 -c "print(f'{float($1)/float($2):.2f}')"; }
stored=$(PGPASSFILE="$DATA/pgpass" psql -h 127.0.0.1 -p "$(sed -n 4p "$DATA/postgres/postmaster.pid")" -U webhookd webhookd -Atc "SELECT count(*) FROM deliveries")

cat <<REPORT
webhookd bench — $(nproc) cores, ab -c $CONCURRENCY, TLS 1.3, ECDSA P-256, $(date -u +%Y-%m-%d)
                                   webhookd (commits each)   nginx (return 204)   ratio
keep-alive requests/s ($REQUESTS)        $wh_ka                    $ng_ka               $(ratio "$wh_ka" "$ng_ka")
full handshakes/s ($HANDSHAKES)          $wh_hs                    $ng_hs               $(ratio "$wh_hs" "$ng_hs")
failed or non-2xx: webhookd $((wh_ka_failed + wh_hs_failed)), nginx $((ng_ka_failed + ng_hs_failed)); deliveries stored: $stored
REPORT
