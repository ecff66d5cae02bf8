#!/bin/sh
# with_instance_paths.sh ROOT PATH... -- COMMAND...
# Runs COMMAND in a private mount namespace where each PATH is ROOT/PATH instead, so the instance
# scripts read and write a test's folders at their real paths and the host's stay untouched.
# A PATH that does not exist on the host gets a mount point inside an overlay of its parent
# (upper layer under ROOT), so nothing is created on the host either. Such an overlay hides the
# mounts made below that parent before it: list such a PATH before the others under its parent.
set -eu
if [ "${PYGRID_PRIVATE_MOUNTS:-}" != 1 ]; then
  PYGRID_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private -- "$0" "$@"
fi
unset PYGRID_PRIVATE_MOUNTS
root=$1
shift

mount_over() {
  target=$1
  if [ ! -d "$target" ]; then
    parent=$(dirname "$target")
    while [ ! -d "$parent" ]; do parent=$(dirname "$parent"); done
    layer="$root/.overlay$parent"
    mkdir -p "$layer/upper" "$layer/work"
    mount -t overlay overlay \
      -o "lowerdir=$parent,upperdir=$layer/upper,workdir=$layer/work" "$parent"
    mkdir -p "$target"
  fi
  mount --bind "$root$target" "$target"
}

while [ $# -gt 0 ] && [ "$1" != -- ]; do
  mount_over "$1"
  shift
done
[ $# -gt 0 ] || { echo "with_instance_paths.sh: missing -- COMMAND" >&2; exit 2; }
shift
exec "$@"
