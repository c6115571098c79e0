#!/usr/bin/env bash
# Build the end-to-end tier's programs from Go modules: what turns the test control plane into a
# cluster that runs workloads, and the real Flux and Argo CD controllers.
#
#   kube-controller-manager, kube-scheduler   k8s.io/kubernetes (same release as kube-apiserver)
#   kwok                                      sigs.k8s.io/kwok (fake nodes; pods become Ready)
#   source-controller, kustomize-controller   github.com/fluxcd/* (Flux)
#   kustomize                                 sigs.k8s.io/kustomize/kustomize/v5 (Argo CD's repo-server calls it)
#   argocd                                    github.com/argoproj/argo-cd/v3 (multi-call binary)
#
# Each program is built in its own throw-away wrapper module (the module's non-local `replace`
# lines copied into it) and cached per version under ~/.cache; a warm machine builds nothing.
# Nothing built here is committed. Prints the bin directory on stdout, logs (with the cold build
# time of each program) on stderr.
#
#   scripts/build-e2e-cluster.sh            build what is missing, print the bin directory
#
# Versions are pinned below. Flux: kustomize-controller v1.9 (its Kustomization has spec.ignore,
# which the Flux target writes); source-controller v1.9.3 of the same minor release, because
# v1.9.4-v1.9.6 need github.com/fluxcd/pkg/artifact v0.18.2/v0.18.3, which the proxy refuses.
# Argo CD: v3.6.1 is the newest release whose module graph the proxy serves completely; it needs Go 1.27, which `go`
# fetches from the module proxy as the golang.org/toolchain module (GOTOOLCHAIN below). Older
# Argo CD releases do not build from the proxy: see docs/argocd.md.
set -euo pipefail

KUBE_VERSION="${LYNQ_KUBE_VERSION:-v1.35.4}"
KWOK_VERSION="${LYNQ_KWOK_VERSION:-v0.8.0}"
FLUX_SOURCE_VERSION="${LYNQ_SOURCE_CONTROLLER_VERSION:-v1.9.3}"
FLUX_KUSTOMIZE_VERSION="${LYNQ_KUSTOMIZE_CONTROLLER_VERSION:-v1.9.6}"
KUSTOMIZE_VERSION="${LYNQ_KUSTOMIZE_VERSION:-v5.7.1}"
ARGOCD_VERSION="${LYNQ_E2E_ARGOCD_VERSION:-v3.6.1}"
ARGOCD_TOOLCHAIN="${LYNQ_ARGOCD_TOOLCHAIN:-go1.27.3}"
CACHE="${LYNQ_E2E_CACHE:-$HOME/.cache/lynq-bridge/e2e}"

export GOFLAGS="${GOFLAGS:-} -mod=mod -buildvcs=false"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

log() { printf 'build-e2e-cluster: %s\n' "$*" >&2; }

# The path of MODULE@VERSION's go.mod in the module cache (downloads it when missing).
go_mod_file() {
  (cd "${TMPDIR:-/tmp}" && go mod download -json "$1@$2") \
    | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p'
}

# The extracted directory of MODULE@VERSION in the module cache.
module_dir() {
  (cd "${TMPDIR:-/tmp}" && go mod download -json "$1@$2") \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

# Copy every non-local `replace` of MODULE@VERSION's go.mod into the current wrapper module: a
# consumer of a module does not inherit its replace lines, and the programs only build with them.
copy_replaces() {
  local gomod r
  gomod=$(go_mod_file "$1" "$2")
  [ -f "$gomod" ] || { log "no go.mod for $1@$2"; exit 1; }
  for r in $(sed -n '/^replace (/,/^)/p; /^replace [^(]/p' "$gomod" | sed 's/^replace //' \
             | grep '=>' | grep -v '=> *\.' | awk '{ if (NF >= 4) print $1"="$3"@"$4 }'); do
    go mod edit -replace "$r"
  done
}

# build NAME MODULE VERSION 'PKG=OUTPUT ...' [LDFLAGS]: one wrapper module, one or more programs,
# into $CACHE/NAME-VERSION. Skipped when every output exists.
build() {
  local name=$1 module=$2 version=$3 programs=$4 ldflags=${5:-"-s -w"}
  local dest="$CACHE/$name-$version" missing="" p
  for p in $programs; do [ -x "$dest/${p#*=}" ] || missing=1; done
  [ -z "$missing" ] && return 0
  local work started=$(date +%s)
  work=$(mktemp -d)
  log "building $name $version (cold build, minutes)"
  (
    cd "$work"
    go mod init "lynq-bridge.local/$name-wrapper" >/dev/null 2>&1
    copy_replaces "$module" "$version"
    go get "$module@$version" >/dev/null
    mkdir -p "$dest.tmp"
    for p in $programs; do
      go build -trimpath -ldflags "$ldflags" -o "$dest.tmp/${p#*=}" "${p%%=*}"
    done
  )
  rm -rf "$work" "$dest"
  mv "$dest.tmp" "$dest"
  log "built $name $version in $(( $(date +%s) - started ))s"
}

build_kubernetes() {
  local dest="$CACHE/kubernetes-$KUBE_VERSION"
  [ -x "$dest/kube-controller-manager" ] && [ -x "$dest/kube-scheduler" ] && return 0
  local work started=$(date +%s)
  work=$(mktemp -d)
  log "building kube-controller-manager and kube-scheduler $KUBE_VERSION (cold build, minutes)"
  (
    cd "$work"
    go mod init lynq-bridge.local/kubernetes-controllers-wrapper >/dev/null 2>&1
    # As in scripts/build-control-plane.sh: the staging modules become the published v0.Y.Z.
    local gomod staging="v0.${KUBE_VERSION#v1.}" m
    gomod=$(go_mod_file k8s.io/kubernetes "$KUBE_VERSION")
    for m in $(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._/-]*\) => \./staging/.*#\1#p' "$gomod" | sort -u); do
      go mod edit -replace "$m=$m@$staging"
    done
    go get "k8s.io/kubernetes@$KUBE_VERSION" >/dev/null
    local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
    local ld="-s -w" pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld="$ld -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    done
    mkdir -p "$dest.tmp"
    go build -trimpath -ldflags "$ld" -o "$dest.tmp/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
    go build -trimpath -ldflags "$ld" -o "$dest.tmp/kube-scheduler" k8s.io/kubernetes/cmd/kube-scheduler
  )
  rm -rf "$work" "$dest"
  mv "$dest.tmp" "$dest"
  log "built kube-controller-manager and kube-scheduler in $(( $(date +%s) - started ))s"
}

# kwok's standalone binary has no built-in stages (only kwokctl embeds them): concatenate the
# module's own stage files (node init + lease heartbeat, pods ready/complete/delete) into one.
kwok_stages() {
  local out="$CACHE/kwok-$KWOK_VERSION/stages.yaml"
  [ -s "$out" ] && return 0
  local dir f
  dir=$(module_dir sigs.k8s.io/kwok "$KWOK_VERSION")/kustomize/stage
  : >"$out.tmp"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [ -f "$dir/$f" ] || { log "missing kwok stage $dir/$f"; exit 1; }
    { cat "$dir/$f"; echo '---'; } >>"$out.tmp"
  done
  mv "$out.tmp" "$out"
}

# CRDs the controllers need installed before they start, copied from their modules.
crds() {
  local out="$CACHE/crds-flux-$FLUX_SOURCE_VERSION-$FLUX_KUSTOMIZE_VERSION-argocd-$ARGOCD_VERSION"
  [ -d "$out" ] && [ -s "$out/application-crd.yaml" ] && return 0
  local src kus argo
  src=$(module_dir github.com/fluxcd/source-controller "$FLUX_SOURCE_VERSION")
  kus=$(module_dir github.com/fluxcd/kustomize-controller "$FLUX_KUSTOMIZE_VERSION")
  argo=$(GOTOOLCHAIN="$ARGOCD_TOOLCHAIN" module_dir github.com/argoproj/argo-cd/v3 "$ARGOCD_VERSION")
  rm -rf "$out.tmp"; mkdir -p "$out.tmp/flux"
  cp "$src"/config/crd/bases/*.yaml "$kus"/config/crd/bases/*.yaml "$out.tmp/flux/"
  cp "$argo"/manifests/crds/application-crd.yaml "$argo"/manifests/crds/appproject-crd.yaml "$out.tmp/"
  chmod -R u+w "$out.tmp"
  rm -rf "$out"; mv "$out.tmp" "$out"
}

start=$(date +%s)
mkdir -p "$CACHE/bin"
# One build at a time per cache (two test runs started together wait for each other).
exec 9>"$CACHE/.build.lock"
flock 9
build_kubernetes
build kwok sigs.k8s.io/kwok "$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwok=kwok"
kwok_stages
build source-controller github.com/fluxcd/source-controller "$FLUX_SOURCE_VERSION" \
  "github.com/fluxcd/source-controller=source-controller"
build kustomize-controller github.com/fluxcd/kustomize-controller "$FLUX_KUSTOMIZE_VERSION" \
  "github.com/fluxcd/kustomize-controller=kustomize-controller"
build kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION" \
  "sigs.k8s.io/kustomize/kustomize/v5=kustomize" \
  "-s -w -X sigs.k8s.io/kustomize/api/provenance.version=$KUSTOMIZE_VERSION"
GOTOOLCHAIN="$ARGOCD_TOOLCHAIN" build argocd github.com/argoproj/argo-cd/v3 "$ARGOCD_VERSION" \
  "github.com/argoproj/argo-cd/v3/cmd=argocd" \
  "-s -w -X github.com/argoproj/argo-cd/v3/common.version=${ARGOCD_VERSION#v}"
crds
# argocd-repo-server runs this script (shipped in Argo CD's image, not in its binary) for every
# revision it renders; copy it from the module, next to the binary.
argo_hack=$(GOTOOLCHAIN="$ARGOCD_TOOLCHAIN" module_dir github.com/argoproj/argo-cd/v3 "$ARGOCD_VERSION")/hack
if [ ! -x "$CACHE/argocd-$ARGOCD_VERSION/git-verify-wrapper.sh" ]; then
  install -m 0755 "$argo_hack/git-verify-wrapper.sh" "$CACHE/argocd-$ARGOCD_VERSION/git-verify-wrapper.sh"
fi

bin="$CACHE/bin"
ln -sf "$CACHE/kubernetes-$KUBE_VERSION/kube-controller-manager" "$bin/kube-controller-manager"
ln -sf "$CACHE/kubernetes-$KUBE_VERSION/kube-scheduler" "$bin/kube-scheduler"
ln -sf "$CACHE/kwok-$KWOK_VERSION/kwok" "$bin/kwok"
ln -sf "$CACHE/kwok-$KWOK_VERSION/stages.yaml" "$bin/kwok-stages.yaml"
ln -sf "$CACHE/source-controller-$FLUX_SOURCE_VERSION/source-controller" "$bin/source-controller"
ln -sf "$CACHE/kustomize-controller-$FLUX_KUSTOMIZE_VERSION/kustomize-controller" "$bin/kustomize-controller"
ln -sf "$CACHE/kustomize-$KUSTOMIZE_VERSION/kustomize" "$bin/kustomize"
# The multi-call binary picks its program from argv[0].
for p in argocd argocd-application-controller argocd-repo-server; do
  ln -sf "$CACHE/argocd-$ARGOCD_VERSION/argocd" "$bin/$p"
done
ln -sf "$CACHE/argocd-$ARGOCD_VERSION/git-verify-wrapper.sh" "$bin/git-verify-wrapper.sh"
ln -sfn "$CACHE/crds-flux-$FLUX_SOURCE_VERSION-$FLUX_KUSTOMIZE_VERSION-argocd-$ARGOCD_VERSION" "$bin/crds"
log "ready in $(( $(date +%s) - start ))s"
echo "$bin"
