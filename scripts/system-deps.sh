#!/usr/bin/env bash
# Install what the build and the tests need from the system: Python's venv module, Debian's Pebble
# (an older ACME server for the acme tier), and a Go toolchain new enough for Kubernetes v1.35
# (Go >= 1.25). Debian packages where they suffice.
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
if ((${#need_apt[@]})); then
  echo "system-deps: installing ${need_apt[*]} (apt-get)"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need_apt[@]}"
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
