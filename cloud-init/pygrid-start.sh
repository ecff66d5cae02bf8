#!/bin/sh
# Starts this instance's PyGrid services and writes /var/lib/pygrid/ready only once they answer
# (the original distributor touched its marker before `compose up`; this does not).
# Run once by cloud-init. Parameters come from /opt/pygrid/start.conf as KEY=VALUE lines, which
# are read, never sourced or evaluated, so no value can run as shell code. WAIT_SECONDS (how long
# each wait lasts) and POLL_SECONDS (pause between attempts) are never written by the operator;
# tests set them to fail fast.
#
# A worker rendered before its gateway had an address (GATEWAY_WAIT=ssh) prepares everything
# else, then waits for the operator to write /var/lib/pygrid/in/gateway.env over SSH.
# `pygrid-start --rejoin` (what pygrid-rejoin runs) moves a started worker to the address in
# that file; `--rejoin --detach` checks the file, removes the markers and runs the rest in the
# background. cloud-init/README.md describes every step.
set -eu
set -f
CONF=/opt/pygrid/start.conf
STATE=/var/lib/pygrid
INBOX=$STATE/in
DELIVERED=$INBOX/gateway.env
# The URL this run started the node with, once recorded in $STATE/joined.
MY_URL=""

MODE=start
case "${1:-}" in
  "") ;;
  --rejoin) MODE=rejoin ;;
  *) echo "usage: pygrid-start [--rejoin [--detach]]" >&2; exit 2 ;;
esac
DETACH=""
[ "$MODE" != rejoin ] || [ "${2:-}" != --detach ] || DETACH=1

mkdir -p "$STATE"

# Another address was delivered, or a newer re-join took over: what this run would mark is no
# longer current (the re-join the delivery starts writes the marker).
superseded() {
  [ -n "$MY_URL" ] || return 1
  [ "$(cat "$STATE/joined" 2>/dev/null || true)" = "$MY_URL" ] || return 0
  [ -f "$DELIVERED" ] || return 1
  [ "$(sed -n 's/^GATEWAY_URL=//p' "$DELIVERED" | head -n 1)" != "$MY_URL" ]
}

fail() {
  rm -f "$STATE/waiting"
  if superseded; then
    echo "pygrid-start: $1 (superseded by a later re-join)" >&2
    exit 1
  fi
  rm -f "$STATE/ready"
  printf '%s\n' "$1" > "$STATE/failed"
  echo "pygrid-start: $1" >&2
  exit 1
}

ROLE=""
GPU=none
GATEWAY_URL=""
GATEWAY_WAIT=""
LOGIN_USER=""
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
    GATEWAY_WAIT) GATEWAY_WAIT=$value ;;
    LOGIN_USER) LOGIN_USER=$value ;;
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
case $GATEWAY_WAIT in
  '' | ssh) ;;
  *) fail "GATEWAY_WAIT must be ssh or empty" ;;
esac
if [ "$ROLE" = worker ]; then
  case $LOGIN_USER in
    '' | -* | *[!A-Za-z0-9._-]*) fail "LOGIN_USER must be a user name" ;;
  esac
  [ -n "$GATEWAY_URL" ] || [ "$GATEWAY_WAIT" = ssh ] ||
    fail "a worker needs GATEWAY_URL or GATEWAY_WAIT=ssh"
fi
[ "$MODE" = start ] || [ "$ROLE" = worker ] || fail "only a worker re-joins a gateway"

# valid_gateway_url URL: http://<dotted quad>:<port>, nothing more (no path, no user, no name).
valid_gateway_url() {
  case $1 in http://*) ;; *) return 1 ;; esac
  rest=${1#http://}
  host=${rest%:*}
  port=${rest##*:}
  [ "$host:$port" = "$rest" ] || return 1
  case $port in '' | 0* | *[!0-9]*) return 1 ;; esac
  [ ${#port} -le 5 ] && [ "$port" -le 65535 ] || return 1
  case $host in .* | *. | *..*) return 1 ;; esac
  saved_ifs=$IFS
  IFS=.
  set -- $host
  IFS=$saved_ifs
  [ $# -eq 4 ] || return 1
  for octet in "$@"; do
    case $octet in '' | 0?* | *[!0-9]*) return 1 ;; esac
    [ ${#octet} -le 3 ] && [ "$octet" -le 255 ] || return 1
  done
}

# read_delivered: sets GATEWAY_URL from $DELIVERED, one line GATEWAY_URL=<url>, read as data.
read_delivered() {
  malformed="the delivered gateway address in $DELIVERED is malformed"
  malformed="$malformed (expected one line GATEWAY_URL=http://<IPv4>:<port>)"
  [ -f "$DELIVERED" ] && [ ! -L "$DELIVERED" ] && [ "$(wc -c < "$DELIVERED")" -le 200 ] ||
    fail "$malformed"
  lines=0
  delivered=""
  while IFS= read -r line || [ -n "$line" ]; do
    lines=$((lines + 1))
    case $line in
      GATEWAY_URL=*) delivered=${line#GATEWAY_URL=} ;;
      *) delivered="" ; break ;;
    esac
  done < "$DELIVERED"
  [ "$lines" -eq 1 ] && valid_gateway_url "$delivered" || fail "$malformed"
  GATEWAY_URL=$delivered
}

# lock_inbox / unlock_inbox: the operator's delivery command takes the same lock on the inbox
# folder, so an address delivered while the node is being started is never missed.
lock_inbox() {
  exec 9< "$INBOX"
  flock -w "$WAIT_SECONDS" 9 || fail "the inbox $INBOX stayed locked"
}
unlock_inbox() {
  exec 9<&-
}

# join_with URL: writes .env for the node and records the URL it is started with.
join_with() {
  printf 'PYGRID_PRIVATE_IP=%s\nPYGRID_GATEWAY_URL=%s\n' "$private_ip" "$1" > /opt/pygrid/.env
  printf '%s\n' "$1" > "$STATE/joined.tmp"
  mv -f "$STATE/joined.tmp" "$STATE/joined"
  MY_URL=$1
}

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

private_ip() {
  private_ip=$(hostname -I | awk '{print $1}')
  [ -n "$private_ip" ] || fail "no private IP address found"
}

if [ "$MODE" = rejoin ] && [ -n "$DETACH" ]; then
  # Synchronous part, run by the operator over SSH: a bad delivery is reported at once, and no
  # stale marker says "ready" for the old gateway once this returns.
  read_delivered
  rm -f "$STATE/ready" "$STATE/failed"
  setsid "$0" --rejoin < /dev/null >> "$STATE/rejoin.log" 2>&1 &
  echo "pygrid-rejoin: re-joining $GATEWAY_URL in the background"
  exit 0
fi

rm -f "$STATE/ready" "$STATE/failed"

if [ "$MODE" = start ]; then
  if [ "$ROLE" = worker ]; then
    # First, so the operator can deliver the address while the rest runs.
    mkdir -p "$INBOX"
    chown "$LOGIN_USER" "$INBOX" || fail "the inbox $INBOX could not be given to $LOGIN_USER"
    chmod 0700 "$INBOX"
    rm -f "$STATE/joined"
  fi

  if [ "$GPU" = nvidia ]; then
    /usr/local/sbin/pygrid-gpu-setup || fail "NVIDIA driver or container toolkit set-up failed"
  fi

  private_ip
  /usr/local/sbin/pygrid-firewall || fail "the source-address firewall could not be applied"
  printf 'PYGRID_PRIVATE_IP=%s\nPYGRID_GATEWAY_URL=%s\n' "$private_ip" "$GATEWAY_URL" \
    > /opt/pygrid/.env

  systemctl enable --now docker || fail "docker did not start"
  cd /opt/pygrid
  if [ "$ROLE" = worker ]; then
    # Needs no gateway: pulled while the gateway boots.
    docker-compose pull || fail "docker-compose pull failed"
    if [ "$GATEWAY_WAIT" = ssh ]; then
      echo "waiting for the gateway address" > "$STATE/waiting"
      deadline=$(( $(date +%s) + WAIT_SECONDS ))
      until [ -e "$DELIVERED" ]; do
        [ "$(date +%s)" -lt "$deadline" ] ||
          fail "no gateway address was delivered within $WAIT_SECONDS s"
        sleep "$POLL_SECONDS"
      done
      rm -f "$STATE/waiting"
    fi
  fi
else
  private_ip
  echo "re-joining the gateway" > "$STATE/waiting"
  cd /opt/pygrid
fi

if [ "$ROLE" = worker ]; then
  lock_inbox
  # A delivered address is the operator's newest word: it wins over start.conf's.
  [ "$MODE" = start ] && [ "$GATEWAY_WAIT" != ssh ] && [ ! -e "$DELIVERED" ] || read_delivered
  join_with "$GATEWAY_URL"
  unlock_inbox
  # A PyGrid node joins its gateway once, at start-up, and never retries (shared reference
  # pygrid.md §5), so the node starts only after the gateway answers.
  wait_for "$GATEWAY_URL/" || fail "gateway $GATEWAY_URL did not answer within $WAIT_SECONDS s"
fi

# Recreates the node when .env changed (a re-join).
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

rm -f "$STATE/waiting"
if superseded; then
  echo "pygrid-start: registered at $MY_URL, but a later re-join took over" >&2
  exit 0
fi
date -u +%Y-%m-%dT%H:%M:%SZ > "$STATE/ready"
