#!/bin/sh
# Starts this instance's PyGrid services and writes /var/lib/pygrid/ready only once they answer
# (the original distributor touched its marker before `compose up`; this does not).
# Run once by cloud-init. Parameters come from /opt/pygrid/start.conf as KEY=VALUE lines, which
# are read, never sourced or evaluated, so no value can run as shell code. WAIT_SECONDS (how long
# each wait lasts) and POLL_SECONDS (pause between attempts) are never written by the operator;
# tests set them to fail fast.
set -eu
set -f
CONF=/opt/pygrid/start.conf
STATE=/var/lib/pygrid
mkdir -p "$STATE"
rm -f "$STATE/ready" "$STATE/failed"

fail() {
  printf '%s\n' "$1" > "$STATE/failed"
  echo "pygrid-start: $1" >&2
  exit 1
}

ROLE=""
GPU=none
GATEWAY_URL=""
NODE_ID=""
CHECK_URLS=""
WAIT_SECONDS=1800
POLL_SECONDS=5
[ -r "$CONF" ] || fail "$CONF is missing"
while IFS= read -r line || [ -n "$line" ]; do
  key=${line%%=*}
  value=${line#*=}
  case "$key" in
    ROLE) ROLE=$value ;;
    GPU) GPU=$value ;;
    GATEWAY_URL) GATEWAY_URL=$value ;;
    NODE_ID) NODE_ID=$value ;;
    CHECK_URLS) CHECK_URLS=$value ;;
    WAIT_SECONDS) WAIT_SECONDS=$value ;;
    POLL_SECONDS) POLL_SECONDS=$value ;;
  esac
done < "$CONF"
# Checked before they reach $(( )) or sleep: in an arithmetic context some shells would run a
# command substitution hidden in a value.
case $WAIT_SECONDS in
  '' | *[!0-9]*) fail "WAIT_SECONDS must be a whole number of seconds" ;;
esac
case $POLL_SECONDS in
  '' | . | *[!0-9.]* | *.*.*) fail "POLL_SECONDS must be a number of seconds" ;;
esac

# wait_for URL: until URL answers 2xx, at most WAIT_SECONDS.
wait_for() {
  deadline=$(( $(date +%s) + WAIT_SECONDS ))
  until curl -fsS -o /dev/null --max-time 5 "$1"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep "$POLL_SECONDS"
  done
}

# registered: the gateway lists NODE_ID among its connected nodes.
registered() {
  curl -fsS --max-time 5 "$GATEWAY_URL/connected-nodes" | grep -qF "\"$NODE_ID\""
}

if [ "$GPU" = nvidia ]; then
  /usr/local/sbin/pygrid-gpu-setup || fail "NVIDIA driver or container toolkit set-up failed"
fi

private_ip=$(hostname -I | awk '{print $1}')
[ -n "$private_ip" ] || fail "no private IP address found"
/usr/local/sbin/pygrid-firewall || fail "the source-address firewall could not be applied"
printf 'PYGRID_PRIVATE_IP=%s\n' "$private_ip" > /opt/pygrid/.env

if [ "$ROLE" = worker ]; then
  # A PyGrid node joins its gateway once, at start-up, and never retries (shared reference
  # pygrid.md §5), so the node starts only after the gateway answers.
  wait_for "$GATEWAY_URL/" || fail "gateway $GATEWAY_URL did not answer within $WAIT_SECONDS s"
fi

systemctl enable --now docker || fail "docker did not start"
cd /opt/pygrid
docker-compose up -d || fail "docker-compose up failed"

for url in $CHECK_URLS; do
  wait_for "$url" || fail "$url did not answer within $WAIT_SECONDS s"
done

if [ -n "$NODE_ID" ]; then
  deadline=$(( $(date +%s) + WAIT_SECONDS ))
  until registered; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "node $NODE_ID did not register at $GATEWAY_URL"
    sleep "$POLL_SECONDS"
  done
fi

date -u +%Y-%m-%dT%H:%M:%SZ > "$STATE/ready"
