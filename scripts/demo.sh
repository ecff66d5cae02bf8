#!/usr/bin/env bash
# README command (1): installs dependencies, builds, and shows what the operator would give the
# instances of the example PyGridCluster: the gateway's and a worker's cloud-init user data, each
# checked by the real `cloud-init schema` and `docker-compose config`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh ci --target pygrid-operator

operator=build/ci/bin/pygrid-operator
example=manifests/examples/pygridcluster.yaml
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== gateway user data for $example =="
"$operator" render --file "$example" --role gateway > "$out/gateway.yaml"
cat "$out/gateway.yaml"
echo "== worker 0 compose file (gateway private IP 192.168.10.2) =="
"$operator" render --file "$example" --role worker --index 0 --gateway-ip 192.168.10.2 \
  > "$out/worker.yaml"
"$operator" render --file "$example" --role worker --index 0 --gateway-ip 192.168.10.2 \
  --compose-only > "$out/docker-compose.yml"
cat "$out/docker-compose.yml"

echo "== checks =="
cloud-init schema --config-file "$out/gateway.yaml"
cloud-init schema --config-file "$out/worker.yaml"
(cd "$out" && PYGRID_PRIVATE_IP=192.168.10.3 docker-compose -f docker-compose.yml config -q)
echo "docker-compose config: worker compose file is valid"
