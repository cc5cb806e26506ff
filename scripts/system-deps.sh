#!/usr/bin/env bash
# Install what the build and the tests need from the system: Python's venv module, Debian's Pebble
# (an older ACME server for the acme tier), BIND (the environment's DNS), and a Go toolchain new
# enough for Kubernetes v1.35 (Go >= 1.25). Debian packages where they suffice.
set -euo pipefail

need_apt=()
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v git >/dev/null || need_apt+=(git)
command -v curl >/dev/null || need_apt+=(curl)
[ -x /usr/bin/pebble ] || need_apt+=(pebble)  # Pebble 2.4.0: the acme tier's second, older CA
# certwright's image, built without a container engine or registry (testenv/certwright_env/images.py)
command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || need_apt+=(debootstrap)
command -v buildah >/dev/null || need_apt+=(buildah)
# The real node (testenv/certwright_env/node.py): containers need root, so only root installs it.
if [ "$(id -u)" -eq 0 ]; then
  for tool in containerd runc conntrack nfacct iptables; do
    command -v "$tool" >/dev/null || need_apt+=("$tool")
  done
  command -v ip >/dev/null || need_apt+=(iproute2)
  [ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)
fi
# BIND, the environment's DNS (testenv/certwright_env/bind.py); dig for people.
need_bind=
[ -x /usr/sbin/named ] || need_bind=1
if ((${#need_apt[@]})) || [ -n "$need_bind" ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
fi
if ((${#need_apt[@]})); then
  echo "system-deps: installing ${need_apt[*]} (apt-get)"
  $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
if [ -n "$need_bind" ]; then
  # Every environment runs its own named; the system's service must not start (it would take port 53).
  # A policy-rc.d that exits 101 tells the package's scripts not to start it: ours only if none exists.
  echo "system-deps: installing bind9 bind9-dnsutils (apt-get), without starting the named service"
  policy=/usr/sbin/policy-rc.d
  created_policy=
  if [ ! -e "$policy" ]; then
    created_policy=1
    trap '$SUDO rm -f "$policy"' EXIT  # also when the install fails
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
  fi
  $SUDO apt-get install -y -qq bind9 bind9-dnsutils
  if [ -n "$created_policy" ]; then $SUDO rm -f "$policy"; trap - EXIT; fi
fi

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null; then
  echo "system-deps: no Go toolchain found. Kubernetes v1.35 needs Go >= 1.25, newer than Debian's" >&2
  echo "  golang package; install it from go.dev/dl (or your distribution's backports) and put 'go' on PATH," >&2
  echo "  or point KUBEBUILDER_ASSETS at setup-envtest's binaries (the Go build of Pebble still needs Go)." >&2
  exit 1
fi
version=$(go env GOVERSION | sed 's/^go//')
major=${version%%.*}; rest=${version#*.}; minor=${rest%%.*}
if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 25 ]; }; then
  echo "system-deps: Go $version is too old; Kubernetes v1.35 needs Go >= 1.25" >&2
  exit 1
fi
