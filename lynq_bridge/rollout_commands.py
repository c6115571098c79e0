"""``lynq-bridge rollout status|resume``: a person's view of, and hand on, progressive rollouts.

Both read the branch the sync writes. ``status`` prints, per form with ``maxSkew > 0``, its open
rollout (from the render-input index: started, resumed, halted) and how many of its nodes the
index holds at the form's current revision. ``resume`` clears a halt: it commits the index with
the form's record marked resumed now (no node file changes) and the trailer
``Lynq-Rollout-Resumed``, so the next sync, on any replica, releases nodes again and counts
the progress deadline of the nodes still updating from this moment.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

from lynq_bridge.adapters.gitstore import GitStore
from lynq_bridge.adapters.secrets import password_lookup
from lynq_bridge.config.loading import Config
from lynq_bridge.config.models import LynqHub
from lynq_bridge.core import rollout
from lynq_bridge.core.conditions import format_time
from lynq_bridge.core.credentials import strip_credentials
from lynq_bridge.core.forms import CompiledForm
from lynq_bridge.core.inputs import INPUTS_FILE, index_paths, joined_index, parse_inputs
from lynq_bridge.core.messages import TRAILER_HUB, TRAILER_ROLLOUT_RESUMED
from lynq_bridge.core.rendering import form_key_of
from lynq_bridge.errors import ConfigError, GitConflict
from lynq_bridge.sync import Compiled, default_work_dir, hub_key

PUSH_ATTEMPTS = 3


@dataclass(frozen=True)
class FormRollout:
    """One form's rollout as the branch holds it."""

    hub: str  # namespace/name
    form: str
    max_skew: int
    nodes: int  # nodes of the form in the index
    updated: int  # of those, at the form's current revision
    record: rollout.Record | None

    def line(self) -> str:
        head = (
            f"form {self.hub.split('/')[0]}/{self.form} (hub {self.hub}, maxSkew {self.max_skew})"
        )
        counts = f"{self.updated}/{self.nodes} node(s) at the current revision"
        if self.record is None:
            return f"{head}: no open rollout; {counts}"
        state = "halted" if self.record.halted else "progressing"
        started = format_time(dt.datetime.fromtimestamp(self.record.started, dt.UTC))
        line = f"{head}: {state} since the rollout started at {started}; {counts}"
        if self.record.resumed:
            resumed = format_time(dt.datetime.fromtimestamp(self.record.resumed, dt.UTC))
            line += f"; resumed at {resumed}"
        return line


def _open_git(config: Config) -> GitStore:
    """The branch through a mirror of its own, beside the sync's: a running daemon holds the
    lock of its work directory, and the command must work next to it."""
    spec = config.bridge.spec
    work_dir = default_work_dir(strip_credentials(spec.git.url), spec.git.branch)
    if spec.git.workDir:
        work_dir = Path(spec.git.workDir)
    git = GitStore(
        spec.git,
        work_dir.with_name(f"{work_dir.name}.rollout"),
        secrets=password_lookup(spec.secretsDir, spec.report.kubeconfig),
        namespace=config.bridge.metadata.namespace,
    )
    git.open()
    return git


def _rolling(compiled: Compiled, form: str | None) -> list[tuple[LynqHub, CompiledForm]]:
    """(hub, form) of every form with maxSkew > 0, or of the one named NAMESPACE/NAME."""
    found = [
        (hub, f)
        for hub in compiled.config.hubs
        for f in compiled.forms_of(hub)
        if f.form.spec.rollout.maxSkew > 0
        and (form is None or form == f"{f.form.metadata.namespace}/{f.name}")
    ]
    if form is not None and not found:
        raise ConfigError(f"--form {form}: no LynqForm of that NAMESPACE/NAME sets maxSkew > 0")
    return found


def _index(
    git: GitStore, commit: str | None, hub_dir: str, *, sharded: bool, whole: bool = True
) -> bytes | None:
    """The hub's render-input index at ``commit``: all of it, or (not ``whole``) only the hub's
    own ``.lynq-inputs``, the file that holds the rollout records."""
    if commit is None:
        return None
    files = git.list_hub(commit, hub_dir, sharded=sharded).files
    blobs = [files[p] for p in index_paths(files) if whole or p == INPUTS_FILE]
    read = git.read_blobs(blobs)
    return joined_index(read.get(b) for b in blobs)


def rollout_status(config: Config, *, form: str | None = None) -> list[FormRollout]:
    """Every rolling form's rollout, from the remote branch."""
    compiled = Compiled(config)
    git = _open_git(config)
    try:
        head = git.fetch_head()
        out = []
        for hub, compiled_form in _rolling(compiled, form):
            index = _index(git, head.commit, compiled.hub_dir(hub), sharded=compiled.target.sharded)
            key = form_key_of(compiled.revision_of(hub), compiled_form)
            mine = [k for k, _, _ in parse_inputs(index).values() if k.endswith(key)]
            of_form = [
                k
                for n, (k, _, _) in parse_inputs(index).items()
                if n.endswith(f"-{compiled_form.name}")
            ]
            out.append(
                FormRollout(
                    hub=hub_key(hub),
                    form=compiled_form.name,
                    max_skew=compiled_form.form.spec.rollout.maxSkew,
                    nodes=len(of_form),
                    updated=len(mine),
                    record=rollout.parse_records(index).get(compiled_form.name),
                )
            )
        return out
    finally:
        git.close()


def resume_rollouts(
    config: Config, *, form: str | None = None, now: float | None = None
) -> list[str]:
    """Resume the open rollouts of the rolling forms (or of ``form``); one sentence each."""
    compiled = Compiled(config)
    git = _open_git(config)
    done: list[str] = []
    try:
        for hub, compiled_form in _rolling(compiled, form):
            hub_dir = compiled.hub_dir(hub)
            name = f"{hub.metadata.namespace}/{compiled_form.name}"
            for _attempt in range(PUSH_ATTEMPTS):
                head = git.fetch_head()
                index = _index(
                    git, head.commit, hub_dir, sharded=compiled.target.sharded, whole=False
                )
                moment = int(now if now is not None else time.time())
                resumed = rollout.resume_index(index or b"", compiled_form.name, now=moment)
                if resumed is None:
                    done.append(f"form {name}: no open rollout to resume")
                    break
                was = rollout.parse_records(index)[compiled_form.name]
                message = (
                    f"lynq: {hub_key(hub)}: resume the rollout of form {compiled_form.name}\n\n"
                    f"Resumed by a person (lynq-bridge rollout resume); it was "
                    f"{'halted' if was.halted else 'progressing'}.\n\n"
                    f"{TRAILER_HUB}: {hub_key(hub)}\n"
                    f"{TRAILER_ROLLOUT_RESUMED}: {compiled_form.name}\n"
                )
                sha = git.commit(
                    head.commit,
                    writes={f"{hub_dir}/{INPUTS_FILE}": resumed},
                    deletes=[],
                    message=message,
                )
                if git.push(sha):
                    done.append(f"form {name}: rollout resumed (commit {sha[:12]})")
                    break
            else:
                raise GitConflict(
                    f"form {name}: the remote branch kept moving; the resume was not pushed "
                    f"after {PUSH_ATTEMPTS} attempts"
                )
        return done
    finally:
        git.close()
