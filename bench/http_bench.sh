#!/usr/bin/env bash
# The server's raw speed, as ratios measured in one run:
#   1. h2load against fedbroker's GET /healthz over h2c and against nghttpd serving a
#      small static file of the same bytes, same parameters, alternating rounds:
#      throughput ratio (target >= 0.7) and server CPU per request for both;
#   2. 1,000 open connections, each after one answered request, held while the server's
#      RSS is read: the hub with 1,000 h2c connections (the heavier kind) then with 1,000
#      HTTP/1.1 ones, and its peak RSS (VmHWM; target < 32 MiB); nghttpd with 1,000 h2c
#      connections for comparison (nghttpd speaks no plain HTTP/1.1).
#
#   bash bench/http_bench.sh [build dir]        (default: build/; use a Release build)
#   env: DUR=5 (seconds per measurement)  ROUNDS=2  CLIENTS=32  STREAMS=10  CONNS=1000
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init "${1:-}"
DUR=${DUR:-5}
ROUNDS=${ROUNDS:-2}
CLIENTS=${CLIENTS:-32}
STREAMS=${STREAMS:-10}
CONNS=${CONNS:-1000}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -gt $((CONNS + 100)) ] || die "open-file limit $(ulimit -n) is too low for $CONNS connections"

P1=$(free_port); P2=$(free_port)
mkdir -p "$TMP/hub"
printf 'listen = { { address = "127.0.0.1:%s" } }\nlimits = { connections = 5000, per_client = 5000 }\nlog_level = "warn"\n' "$P1" >"$TMP/hub/hub.lua"
bg_start hub "$FEDBROKER" serve --config "$TMP/hub/hub.lua"; HUB=$BG_PID
wait_http "http://127.0.0.1:$P1/healthz" "$HUB" hub
# nghttpd serves exactly the bytes the hub answers, so both move the same payload.
mkdir -p "$TMP/www"
curl -s --http2-prior-knowledge "http://127.0.0.1:$P1/healthz" -o "$TMP/www/healthz"
bg_start nghttpd nghttpd --no-tls -d "$TMP/www" "$P2"; NG=$BG_PID
wait_http "http://127.0.0.1:$P2/healthz" "$NG" nghttpd
RSS0_HUB=$(vm_kb "$HUB" VmRSS); RSS0_NG=$(vm_kb "$NG" VmRSS)

common=(-c "$CLIENTS" -m "$STREAMS" -t 1)
h2 warm "${common[@]}" -n 20000 "http://127.0.0.1:$P1/healthz"
h2 warm "${common[@]}" -n 20000 "http://127.0.0.1:$P2/healthz"
fb_sum=0 ng_sum=0 fb_ticks=0 ng_ticks=0 fb_n=0 ng_n=0 fb_p99=0 ng_p99=0
add() { awk -v a="$1" -v b="$2" 'BEGIN { print a + b }'; }
for r in $(seq "$ROUNDS"); do
  t0=$(cpu_ticks "$HUB"); h2 "fb$r" "${common[@]}" -D "$DUR" "http://127.0.0.1:$P1/healthz"; t1=$(cpu_ticks "$HUB")
  fb_sum=$(add "$fb_sum" "$H2_RPS"); fb_ticks=$((fb_ticks + t1 - t0)); fb_n=$((fb_n + H2_OK)); fb_p99=$(add "$fb_p99" "$H2_P99")
  t0=$(cpu_ticks "$NG"); h2 "ng$r" "${common[@]}" -D "$DUR" "http://127.0.0.1:$P2/healthz"; t1=$(cpu_ticks "$NG")
  ng_sum=$(add "$ng_sum" "$H2_RPS"); ng_ticks=$((ng_ticks + t1 - t0)); ng_n=$((ng_n + H2_OK)); ng_p99=$(add "$ng_p99" "$H2_P99")
done
avg() { awk -v s="$1" -v n="$ROUNDS" 'BEGIN { printf "%.0f", s / n }'; }
avgf() { awk -v s="$1" -v n="$ROUNDS" 'BEGIN { printf "%.2f", s / n }'; }
fb=$(avg "$fb_sum"); ng=$(avg "$ng_sum")
fb_cpu=$(us_per "$fb_ticks" "$fb_n"); ng_cpu=$(us_per "$ng_ticks" "$ng_n")

# CONNS connections that each made one request and got its answer, held open while the
# RSS is read: HTTP/1.1, or h2c with prior knowledge (preface, SETTINGS, one HEADERS
# frame for GET /healthz in literal HPACK).
hold() { # PORT PID h1|h2 -> prints "VmRSS-while-held VmHWM"
  rm -f "$TMP/held"
  $PY - "$1" "$CONNS" "$TMP/held" "$TMP/release" "$3" >"$TMP/hold.log" 2>&1 <<'PY' &
import os, socket, sys, time
port, n, held, release = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
use_h2 = sys.argv[5] == "h2"
path = b"/healthz"
hdrs = b"\x82\x86\x44" + bytes([len(path)]) + path + b"\x41\x01x"   # GET, http, :path, :authority
h2 = (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" +
      len(hdrs).to_bytes(3, "big") + b"\x01\x05\x00\x00\x00\x01" + hdrs)
h1 = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(h2 if use_h2 else h1)
    socks.append((s, use_h2))
def answered(s, is_h2):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return False
        data += chunk
        if not is_h2:
            if b"\r\n\r\n" in data:
                return data.startswith(b"HTTP/1.1 200")
            continue
        off = 0   # walk the frames: a HEADERS frame (type 1) on stream 1 answers us
        while off + 9 <= len(data):
            ln = int.from_bytes(data[off:off + 3], "big")
            if data[off + 3] == 1 and int.from_bytes(data[off + 5:off + 9], "big") & 0x7FFFFFFF == 1:
                return True
            off += 9 + ln
ok = sum(answered(s, h) for s, h in socks)
if ok != n:
    print(f"only {ok} of {n} connections were answered", file=sys.stderr)
    sys.exit(1)
open(held, "w").close()
for _ in range(300):           # at most 30 s, until the script has read the RSS
    if os.path.exists(release):
        break
    time.sleep(0.1)
PY
  local py=$!
  for _ in $(seq 300); do
    [ -e "$TMP/held" ] && break
    kill -0 "$py" 2>/dev/null || { cat "$TMP/hold.log" >&2; die "the $CONNS-connection client failed"; }
    sleep 0.1
  done
  [ -e "$TMP/held" ] || die "$CONNS connections were not answered within 30 s"
  sleep 0.3
  echo "$(vm_kb "$2" VmRSS) $(vm_kb "$2" VmHWM)"
  touch "$TMP/release"
  wait "$py" || true
  rm -f "$TMP/release"
}
read -r RSS_HUB HWM_HUB < <(hold "$P1" "$HUB" h2)
# A fresh hub for HTTP/1.1: the first one's allocator keeps what the h2c sessions freed.
P3=$(free_port); mkdir -p "$TMP/hub1"
printf 'listen = { { address = "127.0.0.1:%s" } }\nlimits = { connections = 5000, per_client = 5000 }\nlog_level = "warn"\n' "$P3" >"$TMP/hub1/hub.lua"
bg_start hub1 "$FEDBROKER" serve --config "$TMP/hub1/hub.lua"; HUB1=$BG_PID
wait_http "http://127.0.0.1:$P3/healthz" "$HUB1" hub1
RSS0_HUB1=$(vm_kb "$HUB1" VmRSS)
read -r RSS_HUB1 HWM_HUB1 < <(hold "$P3" "$HUB1" h1)
read -r RSS_NG HWM_NG < <(hold "$P2" "$NG" h2)

echo "http_bench: GET /healthz ($(wc -c <"$TMP/www/healthz") bytes) over h2c, h2load -c $CLIENTS -m $STREAMS, one h2load thread, ${DUR}s x $ROUNDS rounds each, alternating"
echo "each server is one single-threaded event loop; h2load is one thread; they share the $(nproc) cores"
machine_line
printf '%-12s %10s %8s %8s %16s\n' "server" "req/s" "ratio" "p99 ms" "CPU us/req"
printf '%-12s %10s %8s %8s %16s\n' "fedbroker" "$fb" "$(ratio "$fb" "$ng")" "$(avgf "$fb_p99")" "$fb_cpu"
printf '%-12s %10s %8s %8s %16s\n' "nghttpd" "$ng" "1.00" "$(avgf "$ng_p99")" "$ng_cpu"
echo "throughput ratio fedbroker/nghttpd: $(ratio "$fb" "$ng") (target >= 0.7); CPU per request ratio: $(ratio "$fb_cpu" "$ng_cpu")"
printf '%-22s %10s %14s %14s\n' "$CONNS connections" "RSS idle" "RSS, all open" "peak (HWM)"
printf '%-22s %6s MiB %10s MiB %10s MiB\n' "fedbroker, h2c" "$(mib "$RSS0_HUB")" "$(mib "$RSS_HUB")" "$(mib "$HWM_HUB")"
printf '%-22s %6s MiB %10s MiB %10s MiB\n' "fedbroker, HTTP/1.1" "$(mib "$RSS0_HUB1")" "$(mib "$RSS_HUB1")" "$(mib "$HWM_HUB1")"
printf '%-22s %6s MiB %10s MiB %10s MiB\n' "nghttpd, h2c" "$(mib "$RSS0_NG")" "$(mib "$RSS_NG")" "$(mib "$HWM_NG")"
per() { awk -v a="$1" -v b="$2" -v n="$CONNS" 'BEGIN { printf "%.1f", (a - b) / n }'; }
echo "fedbroker peak RSS $(mib "$HWM_HUB") MiB after the load and $CONNS h2c connections (target < 32 MiB); per held connection: h2c $(per "$RSS_HUB" "$RSS0_HUB") KiB, HTTP/1.1 $(per "$RSS_HUB1" "$RSS0_HUB1") KiB (nghttpd h2c $(per "$RSS_NG" "$RSS0_NG") KiB)"
