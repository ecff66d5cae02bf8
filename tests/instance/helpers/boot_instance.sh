#!/bin/sh
# boot_instance.sh ROOT FAKES COMMAND...
# Plays a freshly booted instance for COMMAND (pygrid-start or pygrid-gpu-setup), as root in a
# network namespace of its own (re-executes itself under `unshare --net`):
#   eth0 10.200.9.2/24  the instance's private address (first in `hostname -I`)
#   gw0  10.200.9.1/24  where a worker's test finds its gateway (the other end of eth0's veth)
# with the grid stand-in (FAKES/standin.json) listening inside, the instance's paths replaced by
# ROOT's folders, and PATH = FAKES/bin (fake commands), FAKES/installed (what they installed),
# then the system. COMMAND's exit status is this script's.
set -eu
if [ "${PYGRID_OWN_NETNS:-}" != 1 ]; then
  PYGRID_OWN_NETNS=1 exec unshare --net -- "$0" "$@"
fi
unset PYGRID_OWN_NETNS
root=$1
fakes=$2
shift 2
here=$(dirname "$0")

ip link set lo up
# The peer is created first, so eth0 gets the lower index and comes first in `hostname -I`.
ip link add gw0 type veth peer name eth0
ip addr add 10.200.9.2/24 dev eth0
ip addr add 10.200.9.1/24 dev gw0
ip link set eth0 up
ip link set gw0 up

standin_pid=""
trap '[ -z "$standin_pid" ] || kill "$standin_pid" 2>/dev/null || true' EXIT
if [ -f "$fakes/standin.json" ]; then
  rm -f "$fakes/standin.ready"
  mkfifo "$fakes/standin.ready"
  /usr/bin/python3 "$here/grid_standin.py" "$fakes/standin.json" \
    > "$fakes/standin.ready" 2>> "$fakes/standin.log" &
  standin_pid=$!
  # Blocks until the stand-in has bound its ports; EOF (empty line) if it died first.
  line=""
  read -r line < "$fakes/standin.ready" || true
  [ "$line" = ready ] || { echo "boot_instance.sh: the grid stand-in did not start" >&2; exit 3; }
fi

path="$fakes/bin:$fakes/installed:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
rc=0
"$here/with_instance_paths.sh" "$root" /opt/pygrid /var/lib/pygrid /usr/local/sbin \
  /usr/share/keyrings /etc/docker /etc/apt/sources.list.d -- \
  env -i PATH="$path" PYGRID_FAKES="$fakes" LANG=C.UTF-8 HOME=/root "$@" || rc=$?
exit "$rc"
