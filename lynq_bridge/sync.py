"""One sync pass of one hub: read → render → plan → commit → push.

Straight-line on purpose; the decisions live in ``core`` and the I/O in ``adapters``. A hub
whose source cannot be read changes nothing in Git; a render error in one resource is reported
and everything else is committed; a rejected push is retried on top of the new remote head with
the same rendered tree, never forced. With cluster access, a new ``conflictPolicy: Stuck``
object that belongs to someone else is withheld from the commit (see ``claims``). A form with
``rollout.maxSkew`` holds back the nodes whose only change is the form until the updated ones
are Ready (see ``rollouts`` and ``core.rollout``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lynq_bridge import __version__, collector
from lynq_bridge.adapters import settledfile
from lynq_bridge.adapters.database import Datasources
from lynq_bridge.adapters.filetree import DirectoryTree
from lynq_bridge.adapters.gitstore import GitStore
from lynq_bridge.adapters.packwriter import PackWriter
from lynq_bridge.adapters.secrets import password_lookup
from lynq_bridge.claims import ClaimCheck
from lynq_bridge.config.loading import Config
from lynq_bridge.config.models import LynqHub
from lynq_bridge.core.credentials import credential_warnings, strip_credentials
from lynq_bridge.core.delta import Settled, plan_delta, prepare, row_changes, settle
from lynq_bridge.core.forms import CompiledForm, compile_forms, fingerprint_of
from lynq_bridge.core.gittree import Store
from lynq_bridge.core.inputs import (
    CommittedInputs,
    HubListing,
    index_paths,
    is_index_file,
    joined_index,
    node_blobs,
    object_files,
    trusted_inputs,
    trusted_listing,
)
from lynq_bridge.core.layout import Target, is_node_dir
from lynq_bridge.core.messages import (
    Stamp,
    commit_message,
    is_settled,
    revision_changed,
    settled_node_count,
)
from lynq_bridge.core.naming import node_name, uid_problem
from lynq_bridge.core.paths import UnsafePath
from lynq_bridge.core.planning import DeletionGuard, HubPlan, history_paths, plan_hub
from lynq_bridge.core.rendering import HubRender, NodeRender, input_key_of, render_hub, render_node
from lynq_bridge.core.rows import Row, SnapshotMemo, rows_from_records, snapshot_of
from lynq_bridge.errors import ConfigError, GitConflict, LeaseLost, TemporaryError, UnsafeCommit
from lynq_bridge.notify import Notification, Notifier, changed_nodes
from lynq_bridge.rollouts import HubRollout, Rollouts
from renderers import target_for

log = logging.getLogger("lynq_bridge.sync")


@dataclass
class HubResult:
    """What one hub sync did, for logs, metrics and the exit code."""

    hub: str
    rows: int = 0
    nodes: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    held: int = 0
    commit: str | None = None
    written: int = 0  # files written (render --out) or committed (sync)
    unchanged: bool = False
    errors: list[str] = field(default_factory=list)
    failure: str | None = None  # the hub could not be synced at all
    seconds: float = 0.0
    changed_nodes: list[str] = field(default_factory=list)  # kept nodes whose files changed
    notifications: list[Notification] = field(default_factory=list)  # after a push
    rollout: HubRollout | None = None  # forms with maxSkew > 0 that rolled or wait


@dataclass
class HubMemo:
    """What a daemon keeps of one hub between syncs for one form revision: the rows of the
    records it read and each (row × form)'s node name and input key (see ``rows_from_records``
    and ``render_hub``). Not the renders: a sync renders into its commit's pack, which holds
    the manifests (the render-input index is what spares unchanged rows their render)."""

    revision: str
    rows: dict[Any, Row | None] = field(default_factory=dict)
    snapshot: SnapshotMemo = field(default_factory=SnapshotMemo)
    keys: dict[Any, tuple[str, str | None, str]] = field(default_factory=dict)


def hub_key(hub: LynqHub) -> str:
    return f"{hub.metadata.namespace}/{hub.metadata.name}"


def default_work_dir(url: str, branch: str) -> Path:
    """The mirror directory when ``git.workDir`` is not set (disposable cache)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(f"{url}\0{branch}".encode()).hexdigest()[:16]
    return cache / "lynq-bridge" / "git" / digest


class Compiled:
    """A config with its forms compiled once (a ConfigError lists every problem)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        forms, problems, self.warnings = compile_forms(
            config.forms, strict_secrets=config.bridge.spec.strictSecrets
        )
        if problems:
            raise ConfigError("\n".join(problems))
        self.target: Target = target_for(config.bridge.spec)
        self.warnings[:0] = config.warnings  # the loader's (skipped documents) first
        self.warnings += self.target.warnings(list(forms.values()))
        self.warnings += credential_warnings(config.bridge.spec.git.url)
        self._forms = forms

    def forms_of(self, hub: LynqHub) -> list[CompiledForm]:
        return [
            self._forms[f"{f.metadata.namespace}/{f.metadata.name}"]
            for f in self.config.forms_of(hub)
        ]

    def revision_of(self, hub: LynqHub) -> str:
        """Everything besides the rows that the hub's output depends on."""
        spec = self.config.bridge.spec
        return fingerprint_of(
            __version__,
            spec.target,
            spec.git.path,
            spec.git.layout,
            # The engine files name the repository, branch and engine settings.
            [
                strip_credentials(spec.git.url),
                spec.git.branch,
                spec.argocd.model_dump(),
                spec.flux.model_dump(),
            ]
            if spec.target != "plain"
            else [],
            # Where the rows come from does not change what they render to (the snapshot and
            # the input keys cover the values), so the same rows from another database are
            # the same output.
            hub.model_dump(mode="json", exclude={"status": True, "spec": {"source"}}),
            [f.fingerprint for f in self.forms_of(hub)],
        )

    def hub_dir(self, hub: LynqHub) -> str:
        return f"{self.config.bridge.spec.git.path}/{hub.metadata.namespace}/{hub.metadata.name}"


class Syncer:
    """Syncs the hubs of one config; keeps database pools and the Git mirror open."""

    # Several replicas: asked right before each push; False (the hub's Lease was lost) stops
    # the sync with LeaseLost, so a replica that lost a hub never pushes a stale commit.
    may_push: Callable[[LynqHub], bool] | None = None

    def __init__(
        self,
        config: Config,
        *,
        allow_mass_delete: bool = False,
        datasources: Datasources | None = None,
    ) -> None:
        self.compiled = Compiled(config)
        spec = config.bridge.spec
        self.guard = DeletionGuard(
            spec.deletionGuard.maxDeletePercent,
            allow_mass_delete or spec.deletionGuard.allowMassDelete,
        )
        secrets = password_lookup(spec.secretsDir, spec.report.kubeconfig)
        self.datasources = datasources or Datasources(secrets)
        work_dir = Path(spec.git.workDir) if spec.git.workDir else None
        self.git = GitStore(
            spec.git,
            work_dir or default_work_dir(strip_credentials(spec.git.url), spec.git.branch),
            secrets=secrets,
            namespace=config.bridge.metadata.namespace,
        )
        self.git.open()
        self.notifier = Notifier(spec)
        self.claims = ClaimCheck(spec)  # conflictPolicy Stuck: looks before committing
        self.rollouts = Rollouts(spec, self.git)  # maxSkew: holds nodes back (core.rollout)
        # Per hub and form revision: the rows and node keys of the last sync (``HubMemo``).
        self._caches: dict[str, HubMemo] = {}
        # Per hub: (commit, its listing, its trusted index) as this syncer left the branch.
        self._known: dict[str, tuple[str, HubListing, CommittedInputs]] = {}
        # Per hub left settled by this syncer: what plans a change of a few rows (core.delta).
        self._settled: dict[str, Settled] = {}
        # Per hub: the commit its state file names (settledfile), and the state an earlier
        # process kept, until the first sync of the hub takes it.
        self._kept: dict[str, str] = {}
        self._restored: dict[str, Settled] = {}
        self.progress: Callable[[int, int], None] | None = None

    def _cache(self, hub: LynqHub, revision: str) -> HubMemo:
        """The daemon's memory of one hub for one form revision (a new revision starts empty,
        except for the rows, which do not depend on it)."""
        key = hub_key(hub)
        cached = self._caches.get(key)
        if cached is None or cached.revision != revision:
            rows = cached.rows if cached is not None else {}
            cached = HubMemo(revision, rows=rows)
            self._caches[key] = cached
        return cached

    def _committed(
        self, hub: LynqHub, commit: str | None, hub_dir: str
    ) -> tuple[HubListing, CommittedInputs, dict[str, str]]:
        """One level of the hub, the nodes the render-input index lets us trust (see
        ``core.inputs``), and the files of the hub that planning needs before rendering: the
        hub's own, the engine files and every node directory that is not trusted. A trusted
        node's files are never listed.

        When ``commit`` is the one this syncer made or found unchanged last time, the daemon
        knows the listing and the index already: nothing is read but the untrusted nodes."""
        known = self._known.get(hub_key(hub))
        sharded = self.compiled.target.sharded
        if commit is not None and known is not None and known[0] == commit:
            listing, trusted = known[1], known[2]
        else:
            listing = self.git.list_hub(commit, hub_dir, sharded=sharded)
            blobs = [listing.files[p] for p in index_paths(listing.files)]
            read = self.git.read_blobs(blobs)
            trusted = trusted_listing(listing, joined_index(read.get(b) for b in blobs))
        existing = dict(listing.files)
        untrusted = [n for n in listing.nodes if n not in trusted]
        existing.update(self.git.list_nodes(commit, hub_dir, untrusted, sharded=sharded))
        objects = {**object_files(node_blobs(existing)), **trusted.objects}
        committed = CommittedInputs(trusted, objects, trusted.digests, trusted.records)
        return listing, committed, existing

    def _remember(
        self, hub: LynqHub, commit: str, listing: HubListing, inputs: CommittedInputs
    ) -> None:
        """What the branch holds at ``commit`` for the next sync of ``hub`` (see
        ``_committed``); only the trusted nodes' keys, digests and object files are kept."""
        trusted = CommittedInputs(
            inputs,
            {n: inputs.objects[n] for n in inputs if n in inputs.objects},
            inputs.digests,
            inputs.records,
        )
        self._known[hub_key(hub)] = (commit, listing, trusted)

    def _remember_commit(
        self, hub: LynqHub, commit: str, listing: HubListing, plan: HubPlan
    ) -> HubListing:
        """After a push: the listing and index that ``commit`` holds, from the plan it made;
        the listing."""
        after = listing.after(plan.writes, plan.deletes, plan.removed, plan.stored, plan.trees)
        if plan.index is None:  # the committed index was kept: read it again next time
            self._known.pop(hub_key(hub), None)
            return after
        keys = {n: key for n, (key, _digest, _objects) in plan.index.items()}
        digests = {n: digest for n, (_key, digest, _objects) in plan.index.items()}
        objects = {n: files for n, (_key, _digest, files) in plan.index.items()}
        self._remember(hub, commit, after, CommittedInputs(keys, objects, digests, plan.records))
        return after

    def _settle(
        self,
        hub: LynqHub,
        commit: str,
        stamp: Stamp,
        rows: list[Row],
        render: HubRender,
        plan: HubPlan,
        files: Mapping[str, str],
    ) -> None:
        """Remember a hub the full path left settled at ``commit`` (every node rendered cleanly
        and indexed, nothing held, blocked or rolling; ``files``: the hub's own files then), so
        that the next change of a few rows takes ``_sync_delta``; forget it otherwise."""
        key = hub_key(hub)
        clean = (
            plan.index is not None
            and not plan.records
            and not plan.held
            and not render.row_errors
            and not render.blocked_nodes
            and len(plan.index) == render.node_count
            and not any(n.failed or n.skipped or n.withheld for n in render.nodes.values())
        )
        if clean and plan.index is not None:
            index = plan.index
            self._settled[key] = Settled(
                commit, stamp.form_revision, rows, index, dict(files), len(index)
            )
        else:
            self._settled.pop(key, None)

    def _sync_delta(
        self,
        hub: LynqHub,
        commit: str | None,
        rows: list[Row],
        stamp: Stamp,
        hub_dir: str,
        result: HubResult,
    ) -> bool:
        """Sync a settled hub whose rows changed in a few values, or gained or lost a few rows
        (``core.delta``); False when the full path must run (nothing was pushed then)."""
        key = hub_key(hub)
        settled = self._settled.pop(key, None) or self._restored.pop(key, None)
        forms = self.compiled.forms_of(hub)
        if (
            settled is None
            or commit is None
            or settled.commit != commit
            or settled.revision != stamp.form_revision
            or any(f.form.spec.rollout.maxSkew > 0 for f in forms)
        ):
            return False
        found = row_changes(settled, rows)
        if not found or not any(found):
            return False
        changed, added, removed = found
        target = self.compiled.target
        nodes: dict[str, NodeRender] = {}
        for row, new in [*((r, False) for r in changed), *((r, True) for r in added)]:
            for form in forms:
                name = node_name(row.uid, form.name)
                # A new node needs a usable name nobody has.
                if new and (
                    uid_problem(row.uid, form.name) or name in settled.index or name in nodes
                ):
                    return False
                node = render_node(hub, form, row, target, clock=time.monotonic)
                node.input_key = input_key_of(stamp.form_revision, form, row)
                nodes[name] = node
        gone = [node_name(row.uid, form.name) for row in removed for form in forms]
        read = functools.partial(self._read_index, commit, settled)
        if not prepare(settled, nodes, target, read, gone):
            return False
        known_nodes = [n for n in (*nodes, *gone) if n in settled.index]
        committed = self.git.list_nodes(commit, hub_dir, known_nodes, sharded=target.sharded)
        if self.claims.would_ask(HubRender(nodes=nodes), committed):
            return False  # new conflictPolicy Stuck objects: the full path asks, once
        self.rollouts.clear_stopped(hub, forms)  # what a full path's rollout step does first
        plan = plan_delta(
            hub, settled, nodes, committed, settled.files, target, read, gone=gone, guard=self.guard
        )
        if plan is None or plan.index is None:
            return False
        result.nodes = settled.count + len(plan.added) - len(plan.removed)
        _count(result, plan)
        result.changed_nodes = changed_nodes(plan)
        if not plan.changed:
            result.unchanged = True
            self._settled[key] = settled  # the branch holds what it held: rows re-render
            return True
        message = commit_message(plan, stamp, [], node_count=result.nodes)
        sha = self._commit_and_push(hub, commit, hub_dir, plan, message)
        if sha is None:
            log.info("push of hub %s was rejected; syncing it in full", result.hub)
            return False
        result.commit = sha
        known = self._known.pop(key, None)
        if known is not None and known[0] == commit:
            self._remember_delta(hub, sha, known, plan)
        settle(settled, sha, rows, plan, [*changed, *added], removed)
        self._settled[key] = settled
        return True

    def _commit_and_push(
        self,
        hub: LynqHub,
        parent: str | None,
        hub_dir: str,
        plan: HubPlan,
        message: str,
        pack: PackWriter | None = None,
    ) -> str | None:
        """Commit ``plan`` on ``parent`` and push it: the commit, or None when the push was
        rejected (someone else pushed first). Raises LeaseLost, pushing nothing, when this
        replica lost the hub's Lease meanwhile. ``pack`` holds the plan's stored blobs."""
        sha = self.git.commit(
            parent,
            writes=plan.writes,
            stored=plan.stored,
            trees=plan.trees,
            deletes=plan.deletes,
            message=message,
            prefix=hub_dir,
            pack=pack,
        )
        if self.may_push is not None and not self.may_push(hub):
            raise LeaseLost(
                f"hub {hub_key(hub)}: this replica lost the hub's Lease before the push; "
                "the commit was not pushed and the new holder syncs the hub"
            )
        return sha if self.git.push(sha) else None

    def _remember_delta(
        self,
        hub: LynqHub,
        commit: str,
        known: tuple[str, HubListing, CommittedInputs],
        plan: HubPlan,
    ) -> None:
        """``_remember_commit`` for a plan of ``core.delta``: the known listing and index with
        the changed nodes' entries replaced (copies made by ``dict``, not a loop per node)."""
        assert plan.index is not None
        _before, listing, inputs = known
        changed = {name: plan.index[name] for name in plan.nodes}
        keys, digests, objects = dict(inputs), dict(inputs.digests), dict(inputs.objects)
        for name, (key, digest, files) in changed.items():
            keys[name], digests[name], objects[name] = key, digest, files
        for name in plan.removed:
            del keys[name], digests[name], objects[name]
        after = listing.after(plan.writes, plan.deletes, plan.removed, plan.stored, plan.trees)
        self._known[hub_key(hub)] = (commit, after, CommittedInputs(keys, objects, digests))

    def _restore(self, hub: LynqHub, memo: HubMemo, columns: Sequence[str]) -> None:
        """Once per hub and process: the state an earlier process kept (``settledfile``), its
        records seeding ``memo`` and its settled hub left for ``_sync_delta`` to check."""
        key = hub_key(hub)
        if key in self._kept:
            return
        kept = settledfile.load(settledfile.path_of(self.git.dir, key), key)
        self._kept[key] = kept.settled.commit if kept is not None else ""
        if kept is not None:
            kept.seed(("uid", "activate", *columns), memo.rows, memo.snapshot)
            self._restored[key] = kept.settled

    def _read_index(self, commit: str, settled: Settled, paths: list[str]) -> dict[str, bytes]:
        """The contents of the index files ``paths`` (relative to the hub) of a settled hub,
        read by their blob ids."""
        ids = {path: settled.files[path] for path in paths}
        found = self.git.read_blobs(ids.values())
        return {path: found[blob] for path, blob in ids.items() if blob in found}

    def keep_state(self) -> None:
        """Write the state of each settled hub that changed since it was read or written, for
        the next process (``settledfile``), with the records and snapshot texts of its rows
        when this syncer's memo holds them."""
        for key, settled in self._settled.items():
            if self._kept.get(key) == settled.commit:
                continue
            memo = self._caches.get(key)
            records = parts = None
            if memo is not None:
                by_row = {id(row): record for record, row in memo.rows.items() if row is not None}
                if all(id(row) in by_row for row in settled.rows):
                    records = [by_row[id(row)] for row in settled.rows]
                snapshot = memo.snapshot
                if len(snapshot.rows) == len(settled.rows) and all(
                    a is b for a, b in zip(snapshot.rows, settled.rows, strict=True)
                ):
                    parts = snapshot.parts
            path = settledfile.path_of(self.git.dir, key)
            settledfile.save(path, key, settled, records=records, parts=parts)
            self._kept[key] = settled.commit

    def close(self) -> None:
        self.keep_state()
        self.git.close()
        self.datasources.dispose()
        self.notifier.close()
        self.claims.close()
        self.rollouts.close()

    def sync_all(self) -> list[HubResult]:
        return [self.sync_hub(hub) for hub in self.compiled.config.hubs]

    def sync_hub(self, hub: LynqHub) -> HubResult:
        started = time.monotonic()
        result = HubResult(hub=hub_key(hub))
        try:
            self._sync(hub, result)
        except (TemporaryError, UnsafeCommit) as exc:
            # An unsafe commit was built but never pushed: this hub fails, the others go on.
            result.failure = str(exc)
        finally:
            collector.thaw()  # what the pass read is the collector's again
        result.seconds = time.monotonic() - started
        _log_result(result)
        if result.rollout is not None and result.failure is None:
            self.rollouts.write_status(hub, result.rollout)
        if result.commit:
            result.notifications = self.notifier.notify(
                hub, result.changed_nodes, commit=result.commit
            )
        return result

    def _sync(self, hub: LynqHub, result: HubResult) -> None:
        compiled = self.compiled
        with collector.reading():  # the rows and kept state live until the pass ends
            query, records = self.datasources.fetch_records(hub)
            result.rows = len(records)
            revision = compiled.revision_of(hub)
            memo = self._cache(hub, revision)
            self._restore(hub, memo, query.variables)
            rows = rows_from_records(records, columns=query.variables, memo=memo.rows)
        stamp = Stamp(hub_key(hub), revision, snapshot_of(rows, memo.snapshot))
        hub_dir = compiled.hub_dir(hub)
        head = self.git.fetch_head()
        last = self.git.last_message(head.commit, hub_dir) or ""
        if is_settled(last, stamp):
            # Same forms, same rows, and that commit had no errors or held removals: the
            # output is byte-identical by construction, so rendering can be skipped.
            result.unchanged = True
            count = settled_node_count(last)
            if count is None:  # a commit of an older version: count the node directories
                dirs = self.git.list_dirs(head.commit, hub_dir)
                count = len([d for d in dirs if is_node_dir(d)])  # not argocd/, flux/
            result.nodes = count
            return
        if self._sync_delta(hub, head.commit, rows, stamp, hub_dir, result):
            return
        retries = compiled.config.bridge.spec.git.pushRetries
        for _attempt in range(retries):
            # Planned against the files actually on this head: after a rejected push the new head
            # may hold a hand edit of a node the index called unchanged. Its digest then fails,
            # so it is rendered and restored in this same sync.
            # Each manifest goes into the commit's pack as it is rendered (``Child.blob``), and
            # each file the plan writes as it is planned (``HubPlan.stored``).
            with self.git.new_pack() as pack:
                listing, committed, existing = self._committed(hub, head.commit, hub_dir)
                render = render_hub(
                    hub,
                    compiled.forms_of(hub),
                    rows,
                    compiled.target,
                    keys=memo.keys,
                    progress=self.progress,
                    revision=stamp.form_revision,
                    committed=committed,
                    clock=time.monotonic,
                    store=pack.add,
                )
                result.nodes = render.node_count
                # Gone nodes and unchanged ones rendered after all (a possible conflict): their
                # files.
                again = [n for n in listing.nodes if n in committed and n not in render.unchanged]
                existing.update(
                    self.git.list_nodes(
                        head.commit, hub_dir, again, sharded=compiled.target.sharded
                    )
                )
                # maxSkew: nodes whose only change is the form wait for the updated ones to be
                # Ready.
                rollout = self.rollouts.step(
                    hub,
                    compiled.forms_of(hub),
                    render,
                    revision=stamp.form_revision,
                    committed=committed,
                    existing=existing,
                    commit=head.commit,
                    hub_dir=hub_dir,
                    target=compiled.target,
                )
                result.rollout = rollout if rollout.decisions else None
                # Every attempt: a rejected push's new head may have committed some of the objects.
                self.claims.withhold(hub, render, existing)
                try:
                    plan = plan_with_history(
                        hub,
                        render,
                        existing,
                        functools.partial(self.git.read_files, head.commit or ""),
                        hub_dir=hub_dir,
                        guard=self.guard,
                        target=compiled.target,
                        listing=listing,
                        inputs=committed,
                        records=rollout.records,
                        store=pack.add,
                    )
                except UnsafePath as exc:  # a new node's directory, checked as it is stored
                    raise UnsafeCommit(f"hub {result.hub}: nothing was committed: {exc}") from exc
                result.errors = render_errors(render)  # after planning: it may add conflicts
                _count(result, plan)
                result.changed_nodes = changed_nodes(plan)
                # An index-only change is committed once after the forms or the bridge's version
                # changed: its every key is stale then, and until a commit refreshes it each sync
                # would render the whole hub again (a row change that alters no file is not).
                # A rollout's record (started, halted, complete) is committed on its own as well.
                refresh = any(is_index_file(p) for p in plan.written) and (
                    revision_changed(last, stamp) or rollout.changed
                )
                if not plan.changed and not refresh:
                    result.unchanged = True
                    if head.commit is not None:
                        self._remember(hub, head.commit, listing, committed)
                        self._settle(hub, head.commit, stamp, rows, render, plan, listing.files)
                    return
                message = commit_message(
                    plan, stamp, result.errors, node_count=result.nodes, rollout=rollout.message()
                )
                sha = self._commit_and_push(hub, head.commit, hub_dir, plan, message, pack)
                if sha is not None:
                    result.commit = sha
                    after = self._remember_commit(hub, sha, listing, plan)
                    self._settle(hub, sha, stamp, rows, render, plan, after.files)
                    return
            log.info("push of hub %s was rejected; rebasing on the new remote head", result.hub)
            head = self.git.fetch_head()
        raise GitConflict(
            f"hub {result.hub}: the remote branch kept moving; gave up after {retries} attempts"
        )


def plan_with_history(
    hub: LynqHub,
    render: HubRender,
    existing: Mapping[str, str],
    read: Callable[[list[str]], dict[str, bytes]],
    *,
    hub_dir: str,
    guard: DeletionGuard,
    target: Target,
    listing: HubListing | None = None,
    inputs: CommittedInputs | None = None,
    records: Sequence[str] = (),
    store: Store | None = None,
) -> HubPlan:
    """Plan a hub, reading the committed lynqnode.yaml of nodes with render errors
    (``records``: the open rollouts' index lines; ``store``: see ``plan_hub``)."""
    history = history_paths(render, existing)
    previous = read([f"{hub_dir}/{path}" for path in history.values()])
    return plan_hub(
        hub,
        render,
        existing,
        previous_nodes={
            node: previous[f"{hub_dir}/{path}"]
            for node, path in history.items()
            if f"{hub_dir}/{path}" in previous
        },
        guard=guard,
        target=target,
        listing=listing,
        inputs=inputs,
        records=records,
        store=store,
    )


def render_directory(
    config: Config, out: Path, *, allow_mass_delete: bool = False
) -> list[HubResult]:
    """``render --out``: what a sync would commit, planned and written into ``out``."""
    compiled = Compiled(config)
    spec = config.bridge.spec
    guard = DeletionGuard(
        spec.deletionGuard.maxDeletePercent,
        allow_mass_delete or spec.deletionGuard.allowMassDelete,
    )
    datasources = Datasources(password_lookup(spec.secretsDir, spec.report.kubeconfig))
    tree = DirectoryTree(out)
    results = []
    try:
        for hub in config.hubs:
            started = time.monotonic()
            result = HubResult(hub=hub_key(hub))
            try:
                query, records = datasources.fetch_records(hub)
            except TemporaryError as exc:
                result.failure = str(exc)
                results.append(result)
                _log_result(result)
                continue
            rows = rows_from_records(records, columns=query.variables)
            hub_dir = f"{hub.metadata.namespace}/{hub.metadata.name}"
            existing = tree.list_tree(hub_dir)
            paths = [f"{hub_dir}/{p}" for p in index_paths(existing)]
            read = tree.read_files(paths)
            index = joined_index(read.get(p) for p in paths)
            render = render_hub(
                hub,
                compiled.forms_of(hub),
                rows,
                compiled.target,
                revision=compiled.revision_of(hub),
                committed=trusted_inputs(existing, index),
                clock=time.monotonic,
            )
            plan = plan_with_history(
                hub,
                render,
                existing,
                tree.read_files,
                hub_dir=hub_dir,
                guard=guard,
                target=compiled.target,
            )
            tree.apply(
                {f"{hub_dir}/{p}": c for p, c in plan.writes.items()},
                [f"{hub_dir}/{p}" for p in plan.deletes],
            )
            result.rows, result.nodes = len(records), render.node_count
            result.errors = render_errors(render)
            _count(result, plan)
            result.seconds = time.monotonic() - started
            _log_result(result)
            results.append(result)
    finally:
        datasources.dispose()
    return results


def render_errors(render: HubRender) -> list[str]:
    """Every per-row and per-resource error of a hub render, in a stable order."""
    nodes: list[NodeRender] = [render.nodes[n] for n in sorted(render.nodes)]
    return [*render.row_errors, *(e for node in nodes for e in node.errors)]


def _count(result: HubResult, plan: HubPlan) -> None:
    written = len(plan.writes) + len(plan.stored) + plan.tree_files
    result.written = written + len(plan.deletes)
    result.added = len(plan.added)
    result.updated = len(plan.updated)
    result.removed = len(plan.removed)
    result.held = len(plan.held)


def _log_result(result: HubResult) -> None:
    if result.failure:
        log.error("sync of hub %s failed: %s", result.hub, result.failure)
        return
    for error in result.errors:
        log.warning("%s", error)
    if result.held:
        log.warning(
            "DeletionGuardTriggered: hub %s would remove %d node(s); removals held",
            result.hub,
            result.held,
        )
    log.info(
        "synced hub %s: rows=%d nodes=%d added=%d updated=%d removed=%d held=%d errors=%d "
        "commit=%s seconds=%.3f",
        result.hub,
        result.rows,
        result.nodes,
        result.added,
        result.updated,
        result.removed,
        result.held,
        len(result.errors),
        (result.commit or "none")[:12],
        result.seconds,
        extra={"hub": result.hub, "commit": result.commit},
    )
