#!/usr/bin/env bash
# README command (1): the operator end to end on this machine. Installs dependencies, builds,
# starts the two stand-ins (kube-sim for the Kubernetes API, genesis-sim for Genesis Cloud with
# instance emulation and a real sshd per instance), applies the CRD, the credentials Secret and
# the example PyGridCluster with kubectl, runs the operator, watches the cluster reach Ready,
# prints the endpoint and the nodes registered there, scales up and down, deletes the cluster
# and shows that no instance is left. Stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/install-deps.sh
scripts/build.sh ci --target pygrid-operator kube-sim genesis-sim
bin=$root/build/ci/bin

# shellcheck source=scripts/demo-lib.sh
source "$root/scripts/demo-lib.sh"

token="demo-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
ssh_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user=$(id -un)

step "starting kube-sim (Kubernetes API stand-in) and genesis-sim (Genesis Cloud stand-in)"
"$bin/kube-sim" --port 0 --kubeconfig-out "$work/kubeconfig" > "$work/kube-sim.log" 2>&1 &
pids+=($!)
"$bin/genesis-sim" --port 0 --url-out "$work/genesis-url" --token "$token" --boot-seconds 3 \
  --loopback-net auto --ssh-port "$ssh_port" --ssh-user "$user" --state-dir "$work/instances" \
  > "$work/genesis-sim.log" 2>&1 &
pids+=($!)
wait_for_file "$work/kubeconfig"
wait_for_file "$work/genesis-url"
export KUBECONFIG=$work/kubeconfig
genesis_url=$(cat "$work/genesis-url")
sim=${genesis_url%/compute/v1}
echo "Kubernetes API: $(kubectl config view -o jsonpath='{.clusters[0].cluster.server}')"
echo "Genesis Cloud API: $genesis_url"

step "kubectl apply: the CRD, the credentials Secret, the example PyGridCluster"
kubectl apply -f crds/pygridclusters.distributor.pygrid.dev.yaml
kubectl wait --for condition=established --timeout=30s crd/pygridclusters.distributor.pygrid.dev
kubectl create secret generic genesis-credentials --from-literal=token="$token"
kubectl apply -f manifests/examples/pygridcluster.yaml

step "starting pygrid-operator"
"$bin/pygrid-operator" --genesis-api-url="$genesis_url" --operator-namespace=default \
  --metrics-bind-address=127.0.0.1:0 --health-probe-bind-address=127.0.0.1:0 \
  --poll-interval=1s --ssh-port="$ssh_port" --ssh-user="$user" --log-format=text \
  > "$work/operator.log" 2>&1 &
pids+=($!)

step "kubectl get pgc -w (until Ready)"
kubectl get pgc mnist -w &
watch_pid=$!
kubectl wait --for=condition=Ready --timeout=120s pgc/mnist >/dev/null
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true

endpoint=$(kubectl get pgc mnist -o jsonpath='{.status.endpoint}')
step "endpoint: $endpoint"
echo "curl $endpoint/connected-nodes"
curl -fsS "$endpoint/connected-nodes"; echo
kubectl get pgc mnist -o wide

step "scaling workers 2 -> 4"
kubectl patch pgc mnist --type=merge -p '{"spec":{"workers":{"replicas":4}}}'
until [ "$(kubectl get pgc mnist -o jsonpath='{.status.readyWorkers}')" = 4 ]; do sleep 1; done
kubectl wait --for=condition=Ready --timeout=60s pgc/mnist >/dev/null
kubectl get pgc mnist
curl -fsS "$endpoint/connected-nodes"; echo

step "scaling workers 4 -> 1"
kubectl patch pgc mnist --type=merge -p '{"spec":{"workers":{"replicas":1}}}'
until [ "$(kubectl get pgc mnist -o jsonpath='{.status.workers[*].name}' | wc -w)" = 1 ]; do sleep 1; done
kubectl wait --for=condition=Ready --timeout=60s pgc/mnist >/dev/null
kubectl get pgc mnist

step "events"
kubectl get events --field-selector involvedObject.name=mnist | tail -n 12

step "deleting the cluster"
kubectl delete pgc mnist --timeout=60s
left=$(curl -fsS "$sim/_sim/instances" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); d=d.get("instances", d) if isinstance(d, dict) else d; print(len(d))')
echo "Genesis Cloud instances left: $left"
[ "$left" = 0 ]
echo "demo finished: the grid came up, scaled, and was cleaned up"
