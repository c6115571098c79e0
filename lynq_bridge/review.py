"""``lynq-bridge diff``: render two revisions of the config against the current rows.

For pull-request review of forms: each revision of the config directory is taken from the Git
repository that holds it, rendered exactly as ``render --out`` would (same code path, into a
temporary directory), and the two trees are compared. Relative paths (a SQLite file, the
secrets directory) resolve against the real config directory, so both revisions read the same
rows. The comparison is printed as text, markdown (a pull-request comment) or JSON
(``core/reviewformats.py``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from lynq_bridge.adapters.gitlocal import export_directory
from lynq_bridge.config.loading import Config, load_config
from lynq_bridge.core.inputs import INPUTS_FILE
from lynq_bridge.core.planning import DeletionGuard
from lynq_bridge.core.reviewformats import (
    HubSettings,
    Review,
    format_json,
    format_markdown,
    review_trees,
)
from lynq_bridge.core.reviewing import diff_trees, format_diff
from lynq_bridge.sync import Compiled, HubResult, hub_key, render_directory

FORMATS = ("text", "markdown", "json")


def _read_tree(root: Path) -> dict[str, bytes]:
    """The rendered files, without the bridge's own render-input index (not a manifest)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != INPUTS_FILE
    }


def _guard(config: Config) -> DeletionGuard:
    spec = config.bridge.spec.deletionGuard
    return DeletionGuard(spec.maxDeletePercent, spec.allowMassDelete)


def _settings(config: Config) -> list[HubSettings]:
    """Per hub of the head revision: its deletion guard and the forms setting maxSkew."""
    return [
        HubSettings(
            hub=hub_key(hub),
            guard=_guard(config),
            rollouts=tuple(
                sorted(
                    (form.metadata.name, form.spec.rollout.maxSkew)
                    for form in config.forms_of(hub)
                    if form.spec.rollout.maxSkew
                )
            ),
        )
        for hub in config.hubs
    ]


def _errors(results: list[HubResult]) -> list[str]:
    out = [f"{r.hub}: {r.failure}" for r in results if r.failure]
    return out + [error for r in results for error in r.errors]


def review_revisions(
    config_dir: Path, *, base: str, head: str | None
) -> tuple[Review, list[HubResult]]:
    """What merging ``head`` (None: the working tree) over ``base`` would change in Git, per
    hub, and the hub results of both renders (failures and render errors).

    Both revisions render into empty directories, as ``render --out`` would; the deletion
    guard is then judged as the sync after the merge would judge it: the head's settings
    against the base's nodes.
    """
    results: list[HubResult] = []
    trees = []
    configs = []
    with tempfile.TemporaryDirectory(prefix="lynq-diff-") as tmp:
        for label, ref in (("base", base), ("head", head)):
            source = config_dir
            if ref is not None:
                source = Path(tmp) / label / "config"
                export_directory(config_dir, ref, source)
            config = load_config(source, paths_relative_to=config_dir.resolve())
            out = Path(tmp) / label / "out"
            results += render_directory(config, out, allow_mass_delete=True)
            trees.append(_read_tree(out))
            configs.append(config)
    before, after = trees
    old_warnings = set(Compiled(configs[0]).warnings)
    review = review_trees(
        before,
        after,
        hubs=_settings(configs[1]),
        default_guard=_guard(configs[1]),
        warnings=[(w, w not in old_warnings) for w in Compiled(configs[1]).warnings],
        errors=_errors(results),
    )
    return review, results


def format_review(review: Review, *, fmt: str, base: str, head: str | None) -> str:
    """``review`` in one of ``FORMATS``; text is the original ``diff`` output."""
    if fmt == "json":
        return format_json(review)
    if fmt == "markdown":
        return format_markdown(review, base=base, head=head or "working tree")
    return format_diff(diff_trees(review.base, review.head), review.base, review.head)
