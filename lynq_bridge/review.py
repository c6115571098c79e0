"""``lynq-bridge diff``: render two revisions of the config against the current rows.

For pull-request review of forms: each revision of the config directory is taken from the Git
repository that holds it, rendered exactly as ``render --out`` would (same code path, into a
temporary directory), and the two trees are compared. Relative paths (a SQLite file, the
secrets directory) resolve against the real config directory, so both revisions read the same
rows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from lynq_bridge.adapters.gitlocal import export_directory
from lynq_bridge.config.loading import load_config
from lynq_bridge.core.inputs import INPUTS_FILE
from lynq_bridge.core.reviewing import diff_trees, format_diff
from lynq_bridge.sync import HubResult, render_directory


def _read_tree(root: Path) -> dict[str, bytes]:
    """The rendered files, without the bridge's own render-input index (not a manifest)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != INPUTS_FILE
    }


def diff_revisions(config_dir: Path, *, base: str, head: str | None) -> tuple[str, list[HubResult]]:
    """The formatted diff from ``base`` to ``head`` (None: the working tree), and the hub
    results of both renders (failures and render errors)."""
    results: list[HubResult] = []
    trees = []
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
    before, after = trees
    return format_diff(diff_trees(before, after), before, after), results
