#!/usr/bin/env bash
# Re-creates the capture fixtures in this folder from real Linux tools talking to each other in
# network namespaces that this script creates (and deletes at exit).
#
#   sudo bash pcap-fixtures/make-fixtures.sh            # writes into pcap-fixtures/
#   sudo OUT=/tmp/fx bash pcap-fixtures/make-fixtures.sh  # writes elsewhere
#
# Every address used is inside the namespaces (10.213.77.0/24, fd77::/64); nothing leaves the
# machine. See README.md for what each file holds.
set -euo pipefail

if [[ ${EUID} -ne 0 ]]; then
  echo "make-fixtures.sh: run as root (it creates network namespaces)" >&2
  exit 1
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${OUT:-$HERE}
mkdir -p "$OUT"
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

log() { printf '[make-fixtures] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- tools
# command -> Debian package
declare -A PKG=(
  [tcpdump]=tcpdump [nginx]=nginx-light [curl]=curl [dnsmasq]=dnsmasq-base [dig]=dnsutils
  [ping]=iputils-ping [nft]=nftables [python3]=python3 [ethtool]=ethtool [tshark]=tshark
  [dumpcap]=tshark [editcap]=tshark [ss]=iproute2 [ip]=iproute2
)
missing=()
for cmd in "${!PKG[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${PKG[$cmd]}")
done
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  log "installing: ${missing[*]}"
  # Never let a package's postinst start a host-wide daemon (nginx on :80, dnsmasq on :53).
  made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  ((made_policy)) && rm -f /usr/sbin/policy-rc.d
fi
PY=$(command -v python3)

# ---------------------------------------------------------------- namespaces
SUF=$$
NS_C=moat-fx-cli-$SUF   # client (captures 1-4 are taken on its c0)
NS_S=moat-fx-srv-$SUF   # server: nginx, dnsmasq
NS_A=moat-fx-snd-$SUF   # bulk sender (tcp-loss is captured on its a0)
NS_R=moat-fx-rtr-$SUF   # router that drops 1% of what it forwards
NS_B=moat-fx-rcv-$SUF   # bulk receiver
ALL_NS=("$NS_C" "$NS_S" "$NS_A" "$NS_R" "$NS_B")
WORK=$(mktemp -d /tmp/moat-fx-$SUF.XXXXXX)
PIDS=()

cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${ALL_NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT INT TERM

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# Background programs are started with a bare `ip netns exec ... &` (never through a function,
# which would fork a subshell): ip execs the program, so $! is the program's own PID and the
# cleanup kills the program, not a shell around it.

for ns in "${ALL_NS[@]}"; do
  ip netns add "$ns"
  nsx "$ns" ip link set lo up
  # Quiet IPv6: no router solicitations, no DAD delays, so captures hold only the test traffic.
  nsx "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.accept_ra=0 \
    net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.dad_transmits=0
done

# veth pair created straight into the two namespaces: the host namespace never sees it.
pair() { # ns1 if1 ns2 if2
  ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
  for side in "$1:$2" "$3:$4"; do
    local ns=${side%%:*} ifc=${side#*:}
    # Wire-sized frames with real checksums: no GSO/GRO aggregates, no partial checksums.
    nsx "$ns" ethtool -K "$ifc" gro off gso off tso off tx off rx off >/dev/null 2>&1 ||
      log "warning: ethtool -K $ifc in $ns did not take every setting"
    nsx "$ns" ip link set "$ifc" up
  done
}

pair "$NS_C" c0 "$NS_S" s0
nsx "$NS_C" ip addr add 10.213.77.1/26 dev c0
nsx "$NS_C" ip addr add fd77::1:1/112 dev c0 nodad
nsx "$NS_S" ip addr add 10.213.77.2/26 dev s0
nsx "$NS_S" ip addr add fd77::1:2/112 dev s0 nodad

pair "$NS_A" a0 "$NS_R" r0
pair "$NS_R" r1 "$NS_B" b0
nsx "$NS_A" ip addr add 10.213.77.65/26 dev a0
nsx "$NS_A" ip addr add fd77::2:1/112 dev a0 nodad
nsx "$NS_R" ip addr add 10.213.77.66/26 dev r0
nsx "$NS_R" ip addr add fd77::2:2/112 dev r0 nodad
nsx "$NS_R" ip addr add 10.213.77.129/26 dev r1
nsx "$NS_R" ip addr add fd77::3:1/112 dev r1 nodad
nsx "$NS_B" ip addr add 10.213.77.130/26 dev b0
nsx "$NS_B" ip addr add fd77::3:2/112 dev b0 nodad
nsx "$NS_A" ip route add 10.213.77.128/26 via 10.213.77.66
nsx "$NS_A" ip -6 route add fd77::3:0/112 via fd77::2:2
nsx "$NS_B" ip route add 10.213.77.64/26 via 10.213.77.129
nsx "$NS_B" ip -6 route add fd77::2:0/112 via fd77::3:1
nsx "$NS_R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

sleep 1 # let link-up chatter (MLD reports) pass before any capture starts

# ---------------------------------------------------------------- servers
mkdir -p "$WORK/www" "$WORK/nginx"
"$PY" - "$WORK/www" <<'EOF'
import sys
root = sys.argv[1]
# A page that takes several segments, deterministic content.
body = "".join(f"<p>moat fixture line {i:04d}: the quick brown fox jumps over the lazy dog</p>\n" for i in range(120))
open(f"{root}/index.html", "w").write(f"<!doctype html>\n<title>moat</title>\n{body}")
EOF
cat >"$WORK/nginx/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  types { text/html html; }
  server_tokens off;
  server {
    listen 10.213.77.2:80;
    listen [fd77::1:2]:80;
    root $WORK/www;
  }
}
EOF
ip netns exec "$NS_S" nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
PIDS+=($!)

ip netns exec "$NS_S" dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces \
  --listen-address=10.213.77.2 --listen-address=fd77::1:2 --except-interface=lo \
  --user=root --group=root --pid-file="$WORK/dnsmasq.pid" --log-facility=- \
  --local=/moat.test/ \
  --address=/web.moat.test/10.213.77.2 \
  --host-record=host.moat.test,10.213.77.2,fd77::1:2 \
  --cname=alias.moat.test,host.moat.test \
  --cname=www.moat.test,alias.moat.test \
  --txt-record=info.moat.test,"moat fixture" \
  2>"$WORK/dnsmasq.log" &
PIDS+=($!)

wait_listen() { # ns proto port
  for _ in $(seq 1 100); do
    if nsx "$1" ss -Hln"$2" "sport = :$3" | grep -q .; then return 0; fi
    sleep 0.1
  done
  log "nothing listens on $2 port $3 in $1"
  return 1
}
wait_listen "$NS_S" t 80
wait_listen "$NS_S" u 53
wait_listen "$NS_S" t 53

# ---------------------------------------------------------------- capture helpers
CAP_PID=
start_capture() { # ns file tool args...
  local ns=$1 file=$2 tool=$3; shift 3
  rm -f "$file"
  : >"$WORK/cap.err"
  if [[ $tool == tcpdump ]]; then
    ip netns exec "$ns" tcpdump -n -U --immediate-mode -B 65536 -Z root -w "$file" "$@" 2>"$WORK/cap.err" &
  else
    ip netns exec "$ns" dumpcap -q -w "$file" "$@" 2>"$WORK/cap.err" &
  fi
  CAP_PID=$!
  PIDS+=("$CAP_PID")
  for _ in $(seq 1 100); do
    grep -qE 'listening on|Capturing on' "$WORK/cap.err" && break
    sleep 0.1
  done
  grep -qE 'listening on|Capturing on' "$WORK/cap.err" || { cat "$WORK/cap.err" >&2; return 1; }
  sleep 0.3
}
stop_capture() {
  # Trailing ACKs/FINs, and dumpcap's (TPACKET_V3) ring hands packets over only per block or
  # per second: stopping sooner loses the last ones.
  sleep 1.5
  # SIGTERM, not SIGINT: background jobs of a script start with SIGINT ignored. Both tcpdump
  # and dumpcap flush and close the file on SIGTERM.
  kill -TERM "$CAP_PID"
  wait "$CAP_PID" || true
  log "$(grep -E 'captured|received by filter|dropped|Packets' "$WORK/cap.err" | tr '\n' ' ')"
  # A fixture with holes the kernel made would teach the tests wrong things.
  if grep -qE '^[1-9][0-9]* packets dropped by (kernel|interface)' "$WORK/cap.err"; then
    log "FAIL: the capture lost packets"
    return 1
  fi
}
flush_neigh() { # so every capture starts with ARP / neighbour discovery
  for ns in "$@"; do
    nsx "$ns" ip neigh flush all >/dev/null 2>&1 || true
    nsx "$ns" ip -6 neigh flush all >/dev/null 2>&1 || true
  done
}

# ---------------------------------------------------------------- 1, 2: HTTP
log "http-v4.pcap"
flush_neigh "$NS_C" "$NS_S"
start_capture "$NS_C" "$OUT/http-v4.pcap" tcpdump -i c0 -s 0
nsx "$NS_C" curl -sS --http1.1 --max-time 10 -o /dev/null http://10.213.77.2/index.html
stop_capture

log "http-v6.pcap"
flush_neigh "$NS_C" "$NS_S"
start_capture "$NS_C" "$OUT/http-v6.pcap" tcpdump -i c0 -s 0
nsx "$NS_C" curl -sS --http1.1 --max-time 10 -o /dev/null 'http://[fd77::1:2]/index.html'
stop_capture

# ---------------------------------------------------------------- 3: DNS (nanosecond pcap)
log "dns.pcap"
flush_neigh "$NS_C" "$NS_S"
start_capture "$NS_C" "$OUT/dns.pcap" tcpdump -i c0 -s 0 --time-stamp-precision=nano
DIG=(dig +tries=1 +time=3 +nocookie +noedns)
nsx "$NS_C" "${DIG[@]}" @10.213.77.2 host.moat.test A >/dev/null
nsx "$NS_C" "${DIG[@]}" @10.213.77.2 host.moat.test AAAA >/dev/null
nsx "$NS_C" "${DIG[@]}" @10.213.77.2 www.moat.test A >/dev/null # www -> alias -> host
nsx "$NS_C" "${DIG[@]}" @10.213.77.2 missing.moat.test A >/dev/null # NXDOMAIN
nsx "$NS_C" "${DIG[@]}" @10.213.77.2 info.moat.test TXT >/dev/null
nsx "$NS_C" "${DIG[@]}" +tcp @10.213.77.2 web.moat.test A >/dev/null
nsx "$NS_C" "${DIG[@]}" @fd77::1:2 www.moat.test AAAA >/dev/null
stop_capture

# ---------------------------------------------------------------- 4: ping
log "ping-v4.pcap"
flush_neigh "$NS_C" "$NS_S"
start_capture "$NS_C" "$OUT/ping-v4.pcap" tcpdump -i c0 -s 0
nsx "$NS_C" ping -n -q -c 3 -i 0.2 -W 2 10.213.77.2 >/dev/null
nsx "$NS_C" ping -n -q -c 2 -i 0.2 -W 2 -s 4000 10.213.77.2 >/dev/null # fragmented both ways
nsx "$NS_S" ping -n -q -c 2 -i 0.2 -W 2 10.213.77.1 >/dev/null         # server asks, client replies
nsx "$NS_S" ping -n -q -c 1 -W 2 -s 4000 10.213.77.1 >/dev/null
stop_capture

log "ping-v6.pcap"
flush_neigh "$NS_C" "$NS_S"
start_capture "$NS_C" "$OUT/ping-v6.pcap" tcpdump -i c0 -s 0
nsx "$NS_C" ping -6 -n -q -c 3 -i 0.2 -W 2 fd77::1:2 >/dev/null
nsx "$NS_C" ping -6 -n -q -c 2 -i 0.2 -W 2 -s 4000 fd77::1:2 >/dev/null
nsx "$NS_S" ping -6 -n -q -c 2 -i 0.2 -W 2 fd77::1:1 >/dev/null
nsx "$NS_S" ping -6 -n -q -c 1 -W 2 -s 4000 fd77::1:1 >/dev/null
stop_capture

# ---------------------------------------------------------------- bulk TCP helpers
cat >"$WORK/bulk.py" <<'EOF'
# bulk.py recv ADDR PORT | send ADDR PORT BYTES -- one connection, bounded in time.
import socket, sys
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
if mode == "recv":
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(1); s.settimeout(30)
    c, _ = s.accept(); c.settimeout(30)
    n = 0
    while True:
        b = c.recv(1 << 16)
        if not b: break
        n += len(b)
    c.close()
    print(n)
else:
    total = int(sys.argv[4])
    s = socket.create_connection((addr, port), timeout=30)
    chunk = bytes(range(256)) * 256
    sent = 0
    while sent < total:
        k = min(len(chunk), total - sent)
        s.sendall(chunk[:k]); sent += k
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096): pass
    s.close()
EOF
bulk() { # bytes port
  ip netns exec "$NS_B" "$PY" "$WORK/bulk.py" recv 10.213.77.130 "$2" >"$WORK/recv.out" &
  local rpid=$!
  PIDS+=("$rpid")
  wait_listen "$NS_B" t "$2"
  nsx "$NS_A" timeout 60 "$PY" "$WORK/bulk.py" send 10.213.77.130 "$2" "$1"
  wait "$rpid"
  [[ $(cat "$WORK/recv.out") == "$1" ]] || { log "receiver got $(cat "$WORK/recv.out") of $1 bytes"; return 1; }
}

# ---------------------------------------------------------------- 6: pcapng from dumpcap, two interfaces
log "routed.pcapng"
flush_neigh "$NS_A" "$NS_R" "$NS_B"
start_capture "$NS_R" "$OUT/routed.pcapng" dumpcap -i r0 -i r1 -s 0
nsx "$NS_A" ping -n -q -c 2 -i 0.2 -W 2 10.213.77.130 >/dev/null
nsx "$NS_A" ping -6 -n -q -c 2 -i 0.2 -W 2 fd77::3:2 >/dev/null
bulk 20000 5001
stop_capture

# ---------------------------------------------------------------- 5: TCP through a lossy router
nsx "$NS_R" nft -f - <<'EOF'
table inet moatfx {
  chain lossy {
    type filter hook forward priority 0; policy accept;
    numgen random mod 100 < 1 counter drop
  }
}
EOF
ok=0
for attempt in 1 2 3; do
  log "tcp-loss.pcap (attempt $attempt)"
  flush_neigh "$NS_A" "$NS_R" "$NS_B"
  # Capture on the sender: originals and their retransmissions are both on this wire.
  start_capture "$NS_A" "$OUT/tcp-loss.pcap" tcpdump -i a0 -s 0
  bulk $((4 * 1024 * 1024)) $((5100 + attempt))
  stop_capture
  retrans=$(tshark -r "$OUT/tcp-loss.pcap" -Y tcp.analysis.retransmission -T fields -e frame.number 2>/dev/null | wc -l)
  sack=$(tshark -r "$OUT/tcp-loss.pcap" -Y tcp.options.sack_le -T fields -e frame.number 2>/dev/null | wc -l)
  log "retransmissions: $retrans, frames with SACK blocks: $sack"
  if ((retrans > 0 && sack > 0)); then ok=1; break; fi
done
nsx "$NS_R" nft list table inet moatfx | grep counter >&2 || true
if ((!ok)); then
  log "FAIL: tcp-loss.pcap has no retransmission or no SACK block after 3 attempts"
  exit 1
fi

# ---------------------------------------------------------------- expectations
log "writing *.expect.json"
chmod 644 "$OUT"/*.pcap "$OUT"/*.pcapng # dumpcap creates 0600 files
"$PY" "$HERE/expect.py" "$OUT"/*.pcap "$OUT"/*.pcapng
# Offloads were off, so no frame may carry a partial or wrong checksum.
"$PY" - "$OUT" <<'PYEOF'
import glob, json, sys
bad = {f: e["badChecksums"] for f in glob.glob(sys.argv[1] + "/*.expect.json") for e in [json.load(open(f))] if e["badChecksums"]}
if bad:
    sys.exit(f"frames with bad checksums: {bad}")
PYEOF
du -ch "$OUT"/*.pcap "$OUT"/*.pcapng | tail -1 >&2
log "done"
