#!/usr/bin/env bash
# Re-creates the tiny golden captures the pcap tests compare against: three ICMP frames each,
# written by tcpdump (classic, µs and ns) and by tshark (pcapng), captured on a veth between two
# namespaces this script creates and deletes. Run as root: sudo bash test/pcap/data/make-golden.sh
set -euo pipefail
[[ ${EUID} -eq 0 ]] || { echo "run as root" >&2; exit 1; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
A=moat-gold-a-$$
B=moat-gold-b-$$
CAP=
cleanup() {
  [[ -n $CAP ]] && kill "$CAP" 2>/dev/null || true
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
ip netns add "$A"
ip netns add "$B"
ip -n "$A" link add g0 type veth peer name g1 netns "$B"
ip -n "$A" addr add 10.213.77.201/30 dev g0
ip -n "$B" addr add 10.213.77.202/30 dev g1
ip -n "$A" link set g0 up
ip -n "$B" link set g1 up
ip netns exec "$A" ping -n -q -c 1 -W 2 10.213.77.202 >/dev/null # resolve ARP first

capture() { # file tool args...
  local file=$1 tool=$2; shift 2
  rm -f "$file"
  if [[ $tool == tcpdump ]]; then
    ip netns exec "$A" tcpdump -n -U --immediate-mode -Z root -i g0 -s 0 -c 3 -w "$file" "$@" icmp 2>/tmp/moat-gold-$$.err &
  else
    ip netns exec "$A" tshark -n -i g0 -c 3 -F pcapng -w "$file" -f icmp 2>/tmp/moat-gold-$$.err &
  fi
  CAP=$!
  for _ in $(seq 1 100); do grep -qE 'listening on|Capturing on' /tmp/moat-gold-$$.err && break; sleep 0.1; done
  sleep 0.3
  ip netns exec "$A" ping -n -q -c 2 -i 0.2 -s 24 -W 2 10.213.77.202 >/dev/null
  wait "$CAP"
  CAP=
  rm -f /tmp/moat-gold-$$.err
  chmod 644 "$file"
}
capture "$HERE/tcpdump-us.pcap" tcpdump
capture "$HERE/tcpdump-ns.pcap" tcpdump --time-stamp-precision=nano
capture "$HERE/tshark.pcapng" tshark
python3 "$HERE/../../../pcap-fixtures/expect.py" "$HERE"/*.pcap "$HERE"/*.pcapng
ls -l "$HERE"
