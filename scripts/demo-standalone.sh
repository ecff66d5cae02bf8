#!/usr/bin/env bash
# The same grid as scripts/demo.sh, without Kubernetes: one researcher, a token and the
# pygrid-operator binary. Installs dependencies, builds, starts genesis-sim (the Genesis Cloud
# stand-in, with instance emulation and a real sshd per instance; no kube-sim), then runs
# `pygrid-operator up -f manifests/examples/pygridcluster.yaml` to Ready, prints the status and
# the nodes registered at the endpoint, scales 2 -> 4 -> 1, takes the grid down and shows that
# no instance is left. Stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/install-deps.sh
scripts/build.sh ci --target pygrid-operator genesis-sim
bin=$root/build/ci/bin

# shellcheck source=scripts/demo-lib.sh
source "$root/scripts/demo-lib.sh"

export GENESISCLOUD_TOKEN="demo-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
ssh_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user=$(id -un)

step "starting genesis-sim (Genesis Cloud stand-in); no Kubernetes anywhere"
"$bin/genesis-sim" --port 0 --url-out "$work/genesis-url" --token "$GENESISCLOUD_TOKEN" \
  --boot-seconds 3 --loopback-net auto --ssh-port "$ssh_port" --ssh-user "$user" \
  --state-dir "$work/instances" > "$work/genesis-sim.log" 2>&1 &
pids+=($!)
wait_for_file "$work/genesis-url"
genesis_url=$(cat "$work/genesis-url")
sim=${genesis_url%/compute/v1}
echo "Genesis Cloud API: $genesis_url"

# Only needed here: a real run talks to api.genesiscloud.com and its instances' port 22.
pgo() {
  local command=$1
  shift
  local cloud=()
  [ "$command" = status ] || cloud=(--genesis-api-url="$genesis_url" --poll-interval=1s
                                   --ssh-port="$ssh_port" --ssh-user="$user")
  "$bin/pygrid-operator" "$command" "$@" --state-dir="$work/state" "${cloud[@]}"
}

step "pygrid-operator up -f manifests/examples/pygridcluster.yaml"
pgo up -f manifests/examples/pygridcluster.yaml

step "pygrid-operator status"
pgo status
endpoint=$(pgo status mnist -o json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["endpoint"])')
echo "curl $endpoint/connected-nodes"
curl -fsS "$endpoint/connected-nodes"; echo

step "pygrid-operator scale mnist --replicas 4"
pgo scale mnist --replicas 4
step "pygrid-operator scale mnist --replicas 1"
pgo scale mnist --replicas 1
pgo status

step "what the state directory holds (never the token)"
(cd "$work/state" && find . -type f | sort)
if grep -rq "$GENESISCLOUD_TOKEN" "$work/state"; then echo "the token is in the state directory" >&2; exit 1; fi

step "pygrid-operator down mnist"
pgo down mnist
left=$(curl -fsS "$sim/_sim/instances" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); d=d.get("instances", d) if isinstance(d, dict) else d; print(len(d))')
echo "Genesis Cloud instances left: $left"
[ "$left" = 0 ]
echo "demo finished: the grid came up, scaled, and was cleaned up, without Kubernetes"
