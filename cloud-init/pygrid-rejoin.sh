#!/bin/sh
# Re-joins this worker's node to the gateway address the operator delivered into
# /var/lib/pygrid/in/gateway.env (after a gateway replacement): rewrites PYGRID_GATEWAY_URL in
# /opt/pygrid/.env, removes the markers, recreates the node with `docker-compose up -d` (a node
# joins once, at start-up) and writes the marker once the new gateway lists it. The operator
# runs `sudo -n pygrid-rejoin --detach`, which checks the delivered file, removes the markers
# and leaves the rest to a background run. The work is pygrid-start's, in its --rejoin mode.
exec /usr/local/sbin/pygrid-start --rejoin "$@"
