#!/usr/bin/env bash
# Fetch the Argo CD and Flux CRDs the GitOps target tests install into the test control plane.
#
# The CRDs come from the engines' own Go modules on the Go module proxy (the way
# scripts/build-control-plane.sh gets Kubernetes): `go mod download` of the module zip, no build.
# They are cached per version set under ~/.cache, so a warm machine only checks the files.
#
#   scripts/fetch-gitops-crds.sh        fetch what is missing, print the CRD directory
#
# Versions are pinned below: Argo CD v3.5 and Flux 2.9 (kustomize-controller v1.9, whose
# Kustomization has spec.ignore). Newer releases of both need a newer Go than this machine's.
set -euo pipefail

ARGOCD_VERSION="${LYNQ_ARGOCD_VERSION:-v3.5.7}"
KUSTOMIZE_CONTROLLER_VERSION="${LYNQ_KUSTOMIZE_CONTROLLER_VERSION:-v1.9.6}"
SOURCE_CONTROLLER_VERSION="${LYNQ_SOURCE_CONTROLLER_VERSION:-v1.9.6}"
CACHE="${LYNQ_GITOPS_CRDS_CACHE:-$HOME/.cache/lynq-bridge/gitops-crds}"
DIR="$CACHE/argo-cd-$ARGOCD_VERSION.kustomize-controller-$KUSTOMIZE_CONTROLLER_VERSION.source-controller-$SOURCE_CONTROLLER_VERSION"

export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:-} -mod=mod"

log() { printf 'fetch-gitops-crds: %s\n' "$*" >&2; }

# The extracted module directory of MODULE@VERSION (downloads the zip when missing).
module_dir() {
  local json dir
  json=$(cd "${TMPDIR:-/tmp}" && go mod download -json "$1@$2") || true
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    log "go mod download $1@$2 failed:"
    printf '%s\n' "$json" >&2
    exit 1
  fi
  printf '%s\n' "$dir"
}

# Copy FILE into the staging directory, failing clearly when a release moved it.
take() {
  [ -f "$1" ] || { log "missing $1 (did the module's layout change?)"; exit 1; }
  cp "$1" "$STAGE/"
}

FILES=(application-crd.yaml appproject-crd.yaml
       kustomize.toolkit.fluxcd.io_kustomizations.yaml source.toolkit.fluxcd.io_gitrepositories.yaml)
complete=1
for f in "${FILES[@]}"; do [ -s "$DIR/$f" ] || complete=""; done
if [ -z "$complete" ]; then
  log "fetching Argo CD $ARGOCD_VERSION and Flux CRDs into $DIR"
  mkdir -p "$CACHE"
  STAGE=$(mktemp -d "$CACHE/.stage.XXXXXX")
  trap 'rm -rf "$STAGE"' EXIT
  argocd=$(module_dir github.com/argoproj/argo-cd/v3 "$ARGOCD_VERSION")
  take "$argocd/manifests/crds/application-crd.yaml"
  take "$argocd/manifests/crds/appproject-crd.yaml"
  kustomize=$(module_dir github.com/fluxcd/kustomize-controller "$KUSTOMIZE_CONTROLLER_VERSION")
  take "$kustomize/config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml"
  source=$(module_dir github.com/fluxcd/source-controller "$SOURCE_CONTROLLER_VERSION")
  take "$source/config/crd/bases/source.toolkit.fluxcd.io_gitrepositories.yaml"
  chmod 0644 "$STAGE"/*.yaml  # the module cache is read-only
  rm -rf "$DIR"
  mv "$STAGE" "$DIR"
  chmod 0755 "$DIR"
fi
echo "$DIR"
