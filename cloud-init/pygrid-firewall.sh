#!/bin/sh
# Lets only spec.network.allowedSourceCIDRs (plus this instance's private subnet, for the grid's
# own traffic, and loopback) reach SSH and the grid's ports. Genesis Cloud security groups match
# ports but not sources (their rule has protocol, direction and a port range only), so the source
# filter lives here. Docker publishes ports through FORWARD, hence the DOCKER-USER chain.
# Idempotent; run by pygrid-start on first boot and by bootcmd on every later boot.
set -eu
set -f
CONF=/opt/pygrid/start.conf
[ -r "$CONF" ] || exit 0
ALLOWED_CIDRS=""
PORTS=""
while IFS= read -r line || [ -n "$line" ]; do
  key=${line%%=*}
  value=${line#*=}
  case "$key" in
    ALLOWED_CIDRS) ALLOWED_CIDRS=$value ;;
    PORTS) PORTS=$value ;;
  esac
done < "$CONF"
[ -n "$ALLOWED_CIDRS" ] && [ -n "$PORTS" ] || exit 0

private_ip=$(hostname -I | awk '{print $1}')
subnet=$(ip -o -4 route show scope link | awk -v src="$private_ip" '$0 ~ ("src " src "( |$)") {print $1; exit}')

chain() { iptables -N "$1" 2>/dev/null || iptables -F "$1"; }

# PYGRID-ALLOW: RETURN for allowed sources, DROP for everyone else.
chain PYGRID-ALLOW
for cidr in $ALLOWED_CIDRS $subnet 127.0.0.0/8; do
  iptables -A PYGRID-ALLOW -s "$cidr" -j RETURN
done
iptables -A PYGRID-ALLOW -j DROP

# Traffic to the host itself: SSH, and the grid's ports where docker-proxy answers them.
# Containers reach published ports at this instance's own address (the co-located node joins its
# gateway at the private IP); with Docker's userland proxy, its default, that traffic comes in
# from their bridge to docker-proxy through INPUT rather than being DNATed, so it passes.
chain PYGRID-INPUT
iptables -A PYGRID-INPUT -i docker0 -j RETURN
iptables -A PYGRID-INPUT -i br-+ -j RETURN
for port in $PORTS; do
  iptables -A PYGRID-INPUT -p tcp --dport "$port" -j PYGRID-ALLOW
done
iptables -C INPUT -j PYGRID-INPUT 2>/dev/null || iptables -I INPUT 1 -j PYGRID-INPUT

# Traffic Docker forwards to published container ports; containers' own traffic passes.
chain PYGRID-FORWARD
iptables -A PYGRID-FORWARD -i docker0 -j RETURN
iptables -A PYGRID-FORWARD -i br-+ -j RETURN
for port in $PORTS; do
  iptables -A PYGRID-FORWARD -p tcp -m conntrack --ctorigdstport "$port" --ctdir ORIGINAL -j PYGRID-ALLOW
done
iptables -N DOCKER-USER 2>/dev/null || true
iptables -C DOCKER-USER -j PYGRID-FORWARD 2>/dev/null || iptables -I DOCKER-USER 1 -j PYGRID-FORWARD
