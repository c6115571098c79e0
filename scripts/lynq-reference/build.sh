#!/usr/bin/env bash
# Build and run the Lynq reference renderer (a dev tool, not run in CI; see README.md).
# Usage: scripts/lynq-reference/build.sh [LYNQ_GIT_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
git_dir="${1:-/work/.mirror/k8s-lynq+lynq/repo}"
work="${LYNQ_REFERENCE_WORK:-/tmp/lynq-reference-src}"
rm -rf "$work" && mkdir -p "$work"
# Lynq's Go code only (its docs hold large media files the mirror may lack)
git --git-dir="$git_dir" archive 7584aa26df6d -- go.mod go.sum api internal cmd | tar -x -C "$work"
cp "$here/corpus_export.go" "$work/internal/controller/zz_corpus_export.go"
mkdir -p "$work/cmd/renderforms"
cp "$here/main.go" "$work/cmd/renderforms/main.go"
(cd "$work" && go build -o "$work/renderforms" ./cmd/renderforms)
"$work/renderforms" \
  -forms "$repo/tests/data/lynq/docs-forms" \
  -rows "$repo/tests/data/lynq/docs-forms/rows.json" \
  -crd "$repo/tests/data/lynq/crd/operator.lynq.sh_lynqforms.yaml"
