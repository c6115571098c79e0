#!/usr/bin/env bash
# Build the test control plane (etcd, kube-apiserver, kubectl) from Go modules.
#
# The binaries come from the Go module proxy, built in throw-away wrapper modules the way
# envtest-style setups do, and are cached per version under ~/.cache so that a warm machine
# skips the build. Nothing built here is committed.
#
#   scripts/build-control-plane.sh          build what is missing, print the bin directory
#
# Versions are pinned below; bump them together (etcd must be one the Kubernetes release supports).
set -euo pipefail

KUBE_VERSION="${LYNQ_KUBE_VERSION:-v1.35.4}"
ETCD_VERSION="${LYNQ_ETCD_VERSION:-v3.6.16}"
CACHE="${LYNQ_CONTROL_PLANE_CACHE:-$HOME/.cache/lynq-bridge/control-plane}"
KUBE_BIN="$CACHE/kubernetes-$KUBE_VERSION"
ETCD_BIN="$CACHE/etcd-$ETCD_VERSION"

export GOFLAGS="${GOFLAGS:-} -mod=mod"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

log() { printf 'build-control-plane: %s\n' "$*" >&2; }

build_etcd() {
  [ -x "$ETCD_BIN/etcd" ] && return 0
  local work; work=$(mktemp -d)
  log "building etcd $ETCD_VERSION (cold build, several minutes)"
  (
    cd "$work"
    go mod init lynq-bridge.local/etcd-wrapper >/dev/null 2>&1
    # The module root of go.etcd.io/etcd/server/v3 is the etcd program (main.go).
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
    mkdir -p "$ETCD_BIN.tmp"
    go build -trimpath -o "$ETCD_BIN.tmp/etcd" go.etcd.io/etcd/server/v3
  )
  rm -rf "$work" "$ETCD_BIN"
  mv "$ETCD_BIN.tmp" "$ETCD_BIN"
}

build_kubernetes() {
  [ -x "$KUBE_BIN/kube-apiserver" ] && [ -x "$KUBE_BIN/kubectl" ] && return 0
  local work; work=$(mktemp -d)
  log "building kube-apiserver and kubectl $KUBE_VERSION (cold build, 10-20 minutes)"
  (
    cd "$work"
    go mod init lynq-bridge.local/kubernetes-wrapper >/dev/null 2>&1
    # k8s.io/kubernetes replaces its staging modules with local paths; a consumer must
    # replace each of them with the published v0.Y.Z. Derive the list from its go.mod.
    local gomod staging="v0.${KUBE_VERSION#v1.}"
    gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" \
      | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
    local mods
    mods=$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._/-]*\) => \./staging/.*#\1#p' "$gomod" | sort -u)
    [ -n "$mods" ] || { log "no staging replacements found in $gomod"; exit 1; }
    for m in $mods; do go mod edit -replace "$m=$m@$staging"; done
    go get "k8s.io/kubernetes@$KUBE_VERSION" >/dev/null
    local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
    local ld="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld="$ld -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    done
    mkdir -p "$KUBE_BIN.tmp"
    go build -trimpath -ldflags "$ld" -o "$KUBE_BIN.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
    go build -trimpath -ldflags "$ld" -o "$KUBE_BIN.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl
  )
  rm -rf "$work" "$KUBE_BIN"
  mv "$KUBE_BIN.tmp" "$KUBE_BIN"
}

start=$(date +%s)
build_etcd
build_kubernetes
mkdir -p "$CACHE/bin"
ln -sf "$ETCD_BIN/etcd" "$CACHE/bin/etcd"
ln -sf "$KUBE_BIN/kube-apiserver" "$CACHE/bin/kube-apiserver"
ln -sf "$KUBE_BIN/kubectl" "$CACHE/bin/kubectl"
log "ready in $(( $(date +%s) - start ))s"
echo "$CACHE/bin"
