#!/usr/bin/env bash
# The whole loop on one machine, without Docker: a Kubernetes cluster that runs workloads (real
# kube-apiserver, controller-manager and scheduler; kwok's fake node), a smart-HTTP Git remote,
# Flux and Argo CD, and one lynq-bridge daemon per engine on a SQLite tenants table.
#
#   scripts/local-cluster.sh up [DIR]     build what is missing (cached), start it all in the
#                                         background, print how to use it (DIR: ~/.cache/lynq-bridge/local)
#   scripts/local-cluster.sh down [DIR]   stop everything and delete DIR
#
# Then: INSERT a row into the tenants table and watch the tenant come up:
#   . DIR/env
#   sqlite3 "$LYNQ_FLUX_DB" "INSERT INTO tenants (tenant_id, active, plan) VALUES ('acme', 1, 'gold')"
#   kubectl get lynqnodes -A -w
#
# Needs Go (the programs are built from the Go module proxy on first use, about half an hour on
# 2 cores; later runs start in about a minute), Python 3.11, git and redis-server.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMMAND=${1:-}
DIR=${2:-$HOME/.cache/lynq-bridge/local}
VENV="$REPO_ROOT/.venv"

log() { printf 'local-cluster: %s\n' "$*" >&2; }
die() { printf 'local-cluster: %s\n' "$*" >&2; exit 1; }

up() {
  [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null \
    && die "already running in $DIR (scripts/local-cluster.sh down $DIR stops it)"
  command -v redis-server >/dev/null || die "redis-server is missing (apt-get install redis-server)"
  command -v sqlite3 >/dev/null || log "tip: install sqlite3 to change rows from the shell"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q -e "$REPO_ROOT[dev]"
  fi
  local plane e2e
  plane=$("$REPO_ROOT/scripts/build-control-plane.sh")
  e2e=$("$REPO_ROOT/scripts/build-e2e-cluster.sh")
  rm -rf "$DIR"; mkdir -p "$DIR"
  log "starting the cluster, Flux, Argo CD and the bridges (logs in $DIR)"
  local started; started=$(date +%s)
  PATH="$VENV/bin:$PATH" nohup "$VENV/bin/python" "$REPO_ROOT/tests/e2e/stack.py" up "$DIR" \
    --control-plane-bin "$plane" --e2e-bin "$e2e" >"$DIR/stack.log" 2>&1 &
  echo $! >"$DIR/pid"
  for _ in $(seq 1 180); do
    [ -f "$DIR/ready" ] && break
    kill -0 "$(cat "$DIR/pid")" 2>/dev/null || { tail -n 40 "$DIR/stack.log" >&2; die "the stack did not start"; }
    sleep 1
  done
  [ -f "$DIR/ready" ] || { tail -n 40 "$DIR/stack.log" >&2; die "the stack was not up after 180s"; }
  log "up in $(( $(date +%s) - started ))s"
  cat <<EOT
Everything runs. In your shell:

  . $DIR/env
  export PATH=$plane:$e2e:\$PATH             # kubectl
  sqlite3 "\$LYNQ_FLUX_DB" "INSERT INTO tenants (tenant_id, active, plan) VALUES ('acme', 1, 'gold')"
  kubectl get lynqnodes -A -w                # acme-stack: READY 7 of DESIRED 7 within seconds
  kubectl get kustomizations -n flux-system  # Flux's side; Argo CD: kubectl get applications -n argocd
  git --git-dir "\$LYNQ_FLUX_REMOTE" log --stat -3
  sqlite3 "\$LYNQ_FLUX_DB" "DELETE FROM tenants WHERE tenant_id = 'acme'"   # pruned again

The Argo CD bridge has its own table: \$LYNQ_ARGOCD_DB. Logs: $DIR/logs, $DIR/*-bridge/bridge.log.
Stop: scripts/local-cluster.sh down $DIR
EOT
}

down() {
  if [ -f "$DIR/pid" ]; then
    local pid; pid=$(cat "$DIR/pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  # After a hard kill of the launcher its children are orphans: stop them by their recorded PIDs.
  if [ -f "$DIR/pids" ]; then
    # Only processes that are still ours (their command line or working directory names DIR): a
    # PID may have been reused since.
    local child
    while read -r child; do
      local args; args=$( { tr '\0' ' ' <"/proc/$child/cmdline"; } 2>/dev/null ) || continue  # gone
      if [[ "$args" == *"$DIR"* ]] || [ "$(readlink "/proc/$child/cwd" 2>/dev/null)" = "$DIR" ]; then
        kill -9 "$child" 2>/dev/null || true
      fi
    done <"$DIR/pids"
  fi
  rm -rf "$DIR"
  log "stopped; $DIR removed"
}

case "$COMMAND" in
  up) up ;;
  down) down ;;
  *) die "usage: scripts/local-cluster.sh up|down [DIR]" ;;
esac
