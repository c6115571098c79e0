"""What Lynq users have on disk loads: Lynq's sample files, other kinds, kubectl exports.

Lynq's samples are in ``tests/data/lynq/samples/`` (commit 7584aa26df6d, Apache-2.0). The hub
file holds a Secret beside the hub, as Lynq users' files often do: it is skipped with a warning
that says where the bridge reads passwords, and its data never appears in any output.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from lynq_bridge.cli import main
from lynq_bridge.config.loading import LAST_APPLIED, SERVER_METADATA, load_config
from lynq_bridge.errors import ConfigError

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "lynq" / "samples"
HUB_FILE = SAMPLES / "lynqnodes_v1_lynqhub.yaml"
FORM_FILE = SAMPLES / "lynqnodes_v1_lynqform.yaml"
SECRET_VALUE = "changeme"  # the sample Secret's password: must never be printed

BRIDGE = {
    "apiVersion": "bridge.lynq.sh/v1alpha1",
    "kind": "BridgeConfig",
    "metadata": {"name": "default"},
    "spec": {"git": {"url": "../remote.git", "path": "lynq"}},
}


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def lynq_hub() -> dict[str, Any]:
    (hub,) = [d for d in _documents(HUB_FILE) if d["kind"] == "LynqHub"]
    return hub


def lynq_form() -> dict[str, Any]:
    (form,) = _documents(FORM_FILE)
    return form


def config_dir(
    tmp_path: Path, *files: Path, extra: dict[str, list[dict[str, Any]]] | None = None
) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "lynq-bridge.yaml").write_text(yaml.safe_dump(BRIDGE))
    for path in files:
        shutil.copy(path, directory / path.name)
    for name, documents in (extra or {}).items():
        (directory / name).write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return directory


def validate(directory: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["validate", "--config", str(directory)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ----------------------------------------------------------------------------- Lynq's samples


def test_lynq_sample_hub_file_with_its_secret_passes_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = validate(config_dir(tmp_path, HUB_FILE), capsys)

    assert code == 0, err
    assert "config is valid: 1 hub(s), 0 form(s), 1 warning(s)" in out
    (warning,) = err.splitlines()
    assert warning.startswith(
        'warning: lynqnodes_v1_lynqhub.yaml, document 1: skipped Secret "default/mysql-credentials"'
    )
    assert "secretsDir" in warning and "passwordRef" in warning
    assert SECRET_VALUE not in out + err


def test_lynq_sample_hub_keeps_its_fields(tmp_path: Path) -> None:
    config = load_config(config_dir(tmp_path, HUB_FILE))

    (hub,) = config.hubs
    mysql = hub.spec.source.mysql
    assert (hub.metadata.name, hub.spec.source.syncInterval) == ("sample-hub", "30s")
    assert mysql is not None and (mysql.port, mysql.table) == (3306, "nodes")
    assert mysql.passwordRef is not None and mysql.passwordRef.name == "mysql-credentials"
    assert hub.spec.valueMappings.hostOrUrl == "url"
    assert (
        config.where("LynqHub", "default", "sample-hub") == "lynqnodes_v1_lynqhub.yaml, document 2"
    )


def test_lynq_sample_form_loads_unchanged_as_a_form(tmp_path: Path) -> None:
    # Loading checks the structure only; compiling its Go templates is the engine's part.
    config = load_config(config_dir(tmp_path, HUB_FILE, FORM_FILE))

    (form,) = config.forms
    assert form.spec.hubId == "sample-hub"
    assert [e.id for e in form.spec.resources()] == [
        "sa",
        "api",
        "svc",
        "ing",
        "pdb",
        "netpol",
        "hpa",
    ]


def test_lynq_sample_hub_and_form_pass_validate_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Waits on the Go-template engine (issue 10): the form is written in Lynq's syntax.
    code, out, err = validate(config_dir(tmp_path, HUB_FILE, FORM_FILE), capsys)

    assert code == 0, err
    assert "config is valid: 1 hub(s), 1 form(s)" in out
    assert SECRET_VALUE not in out + err


def test_lynq_samples_directory_with_its_kustomization_and_node_sample_loads(
    tmp_path: Path,
) -> None:
    directory = config_dir(
        tmp_path,
        HUB_FILE,
        FORM_FILE,
        SAMPLES / "kustomization.yaml",
        SAMPLES / "lynqnodes_v1_lynqnode.yaml",
    )

    config = load_config(directory)

    assert len(config.hubs) == len(config.forms) == 1
    assert [w.split(":")[0] for w in config.warnings] == [
        "kustomization.yaml, document 1",
        "lynqnodes_v1_lynqhub.yaml, document 1",
        "lynqnodes_v1_lynqnode.yaml, document 1",
    ]
    assert "LynqNodes are written by lynq-bridge" in config.warnings[2]


# ------------------------------------------------------------------------- other kinds


def _object(api_version: str, kind: str, name: str, **body: Any) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": "tenants"},
        **body,
    }


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            _object("v1", "Secret", "db", stringData={"password": SECRET_VALUE}),
            'skipped Secret "tenants/db": secrets do not belong in the config directory',
        ),
        (
            _object("v1", "Secret", "db", data={"password": "Y2hhbmdlbWU="}),
            "a hub's passwordRef is read from <secretsDir>/<name>/<key>",
        ),
        (
            _object("v1", "ConfigMap", "settings", data={"a": "b"}),
            'skipped ConfigMap "tenants/settings": lynq-bridge reads only BridgeConfig, LynqHub',
        ),
        (_object("v1", "Namespace", "tenants"), 'skipped Namespace "tenants/tenants"'),
        (_object("apps/v1", "Deployment", "web", spec={}), 'skipped Deployment "tenants/web"'),
        (
            _object("operator.lynq.sh/v1", "LynqNode", "acme-web", spec={"uid": "acme"}),
            'skipped LynqNode "tenants/acme-web": LynqNodes are written by lynq-bridge',
        ),
    ],
)
def test_a_document_of_another_kind_is_skipped_with_one_warning(
    tmp_path: Path, document: dict[str, Any], expected: str
) -> None:
    directory = config_dir(tmp_path, HUB_FILE, extra={"more.yaml": [document]})

    config = load_config(directory)

    assert len(config.hubs) == 1
    (mine,) = [w for w in config.warnings if w.startswith("more.yaml")]
    assert mine.startswith("more.yaml, document 1: skipped ")
    assert expected in mine
    assert all(SECRET_VALUE not in w and "Y2hhbmdlbWU=" not in w for w in config.warnings)


def test_an_unknown_kind_of_the_bridges_own_groups_is_still_an_error(tmp_path: Path) -> None:
    typo = {**lynq_hub(), "kind": "LynqHb"}

    with pytest.raises(ConfigError, match=r'more\.yaml, document 1: unknown kind "LynqHb"'):
        load_config(config_dir(tmp_path, extra={"more.yaml": [typo]}))


def test_a_skipped_object_with_a_hostile_name_is_quoted_on_one_line(tmp_path: Path) -> None:
    document = _object("v1", "ConfigMap", "x\nwarning: forged")

    config = load_config(config_dir(tmp_path, HUB_FILE, extra={"more.yaml": [document]}))

    (warning,) = [w for w in config.warnings if w.startswith("more.yaml")]
    assert "\n" not in warning and '"tenants/x\\nwarning: forged"' in warning


# ------------------------------------------------------------------------ kubectl exports


def exported(document: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """``document`` as ``kubectl get -o yaml`` prints it from a cluster where Lynq ran."""
    out = yaml.safe_load(yaml.safe_dump(document))
    out["metadata"].update(
        uid="0b7c5a5e-6f0e-4c1e-9a38-2f0d1c1f7e11",
        resourceVersion="48213",
        generation=3,
        creationTimestamp="2025-06-01T10:00:00Z",
        selfLink=f"/apis/operator.lynq.sh/v1/namespaces/default/{document['kind'].lower()}s/x",
        finalizers=["lynq.sh/hub-finalizer"],
        ownerReferences=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "1234"}],
        managedFields=[
            {
                "apiVersion": "operator.lynq.sh/v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {}},
                "manager": "kubectl-client-side-apply",
                "operation": "Update",
                "time": "2025-06-01T10:00:00Z",
            }
        ],
        annotations={
            "team": "platform",
            LAST_APPLIED: yaml.safe_dump(document).replace("\n", " "),
        },
    )
    out["status"] = status
    return out


HUB_STATUS = {
    "referencingTemplates": 1,
    "desired": 2,
    "ready": 2,
    "failed": 0,
    "observedGeneration": 3,
    "conditions": [
        {
            "type": "Ready",
            "status": "True",
            "reason": "DatabaseConnected",
            "message": "Successfully connected to database and queried node data",
            "lastTransitionTime": "2025-06-01T10:00:05Z",
        }
    ],
}
FORM_STATUS = {
    "totalNodes": 2,
    "readyNodes": 2,
    "rollout": {"phase": "Complete", "totalNodes": 2, "updatedNodes": 2},
    "conditions": [],
}


def test_kubectl_exports_of_a_hub_and_a_form_load(tmp_path: Path) -> None:
    hub, form = exported(lynq_hub(), HUB_STATUS), exported(lynq_form(), FORM_STATUS)

    config = load_config(config_dir(tmp_path, extra={"export.yaml": [hub, form]}))

    (loaded_hub,) = config.hubs
    (loaded_form,) = config.forms
    assert loaded_hub.metadata.annotations == {"team": "platform"}
    assert loaded_hub.status is None and loaded_form.status is None
    assert config.warnings == ()


@pytest.mark.parametrize("key", SERVER_METADATA)
def test_each_server_set_metadata_field_is_ignored(tmp_path: Path, key: str) -> None:
    hub = lynq_hub()
    hub["metadata"][key] = exported(lynq_hub(), {})["metadata"].get(key, "2025-06-01T10:00:00Z")

    config = load_config(config_dir(tmp_path, extra={"hub.yaml": [hub]}))

    assert config.hubs[0].metadata.name == "sample-hub"


def test_the_last_applied_annotation_is_ignored_and_other_annotations_kept(
    tmp_path: Path,
) -> None:
    hub = lynq_hub()
    hub["metadata"]["annotations"] = {LAST_APPLIED: "{}", "owner": "team-a"}

    config = load_config(config_dir(tmp_path, extra={"hub.yaml": [hub]}))

    assert config.hubs[0].metadata.annotations == {"owner": "team-a"}


def test_an_unknown_metadata_field_is_still_an_error(tmp_path: Path) -> None:
    hub = lynq_hub()
    hub["metadata"]["labelz"] = {"a": "b"}

    with pytest.raises(ConfigError, match=r"metadata\.labelz: unknown field"):
        load_config(config_dir(tmp_path, extra={"hub.yaml": [hub]}))


def test_kubectl_get_list_output_loads_item_by_item(tmp_path: Path) -> None:
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [exported(lynq_hub(), HUB_STATUS), exported(lynq_form(), FORM_STATUS)],
        "metadata": {"resourceVersion": ""},
    }

    config = load_config(config_dir(tmp_path, extra={"export.yaml": [listing]}))

    assert [h.metadata.name for h in config.hubs] == ["sample-hub"]
    assert [f.metadata.name for f in config.forms] == ["webapp-template"]
    assert config.where("LynqForm", "default", "webapp-template") == (
        "export.yaml, document 1, item 2"
    )


def test_a_problem_inside_a_list_names_the_item(tmp_path: Path) -> None:
    hub = lynq_hub()
    hub["spec"]["source"]["mysql"]["port"] = 0
    listing = {"apiVersion": "v1", "kind": "List", "items": [hub]}

    with pytest.raises(ConfigError, match=r"export.yaml, document 1, item 1 \(LynqHub sample-hub"):
        load_config(config_dir(tmp_path, extra={"export.yaml": [listing]}))


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (None, "export.yaml, document 1: the List has no items list"),
        (
            [{"apiVersion": "v1", "kind": "List", "items": []}],
            "export.yaml, document 1, item 1: a List inside a List is not read",
        ),
    ],
)
def test_a_malformed_list_is_an_error(tmp_path: Path, items: Any, expected: str) -> None:
    listing = {"apiVersion": "v1", "kind": "List", "items": items}

    with pytest.raises(ConfigError, match=expected):
        load_config(config_dir(tmp_path, HUB_FILE, extra={"export.yaml": [listing]}))


# --------------------------------------------------------------------- rollout settings


@pytest.mark.parametrize(
    "rollout",
    [
        {},
        {"maxSkew": 0},
        {"progressDeadlineSeconds": 600},
        {"maxSkew": 0, "progressDeadlineSeconds": 120},
    ],
)
def test_rollout_settings_without_max_skew_load_without_warnings(
    tmp_path: Path, rollout: dict[str, int]
) -> None:
    form = {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqForm",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"hubId": "sample-hub", "rollout": rollout},
    }

    config = load_config(config_dir(tmp_path, HUB_FILE, extra={"form.yaml": [form]}))

    assert [w for w in config.warnings if w.startswith("form.yaml")] == []


def test_max_skew_without_cluster_access_is_a_config_error(tmp_path: Path) -> None:
    form = {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqForm",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"hubId": "sample-hub", "rollout": {"maxSkew": 2}},
    }

    with pytest.raises(ConfigError) as caught:
        load_config(config_dir(tmp_path, HUB_FILE, extra={"form.yaml": [form]}))

    (line,) = str(caught.value).splitlines()
    assert line.startswith("form.yaml, document 1 (LynqForm web): spec.rollout.maxSkew is 2")
    assert "needs cluster access" in line and "spec.report.enabled" in line


def test_max_skew_with_cluster_access_loads(tmp_path: Path) -> None:
    form = {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqForm",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"hubId": "sample-hub", "rollout": {"maxSkew": 2, "progressDeadlineSeconds": 60}},
    }
    directory = config_dir(tmp_path, HUB_FILE, extra={"form.yaml": [form]})
    bridge = {**BRIDGE, "spec": {**BRIDGE["spec"], "report": {"enabled": True}}}  # type: ignore[dict-item]
    (directory / "lynq-bridge.yaml").write_text(yaml.safe_dump(bridge))

    config = load_config(directory)

    (loaded,) = config.forms
    assert loaded.spec.rollout.maxSkew == 2
    assert loaded.spec.rollout.progressDeadlineSeconds == 60
    assert [w for w in config.warnings if w.startswith("form.yaml")] == []


@pytest.mark.parametrize("deadline", [59, 3601])
def test_progress_deadline_outside_lynqs_range_is_an_error(tmp_path: Path, deadline: int) -> None:
    form = {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqForm",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"hubId": "sample-hub", "rollout": {"progressDeadlineSeconds": deadline}},
    }

    with pytest.raises(ConfigError, match=r"spec\.rollout\.progressDeadlineSeconds"):
        load_config(config_dir(tmp_path, HUB_FILE, extra={"form.yaml": [form]}))


def test_validate_reports_max_skew_without_cluster_access(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    form = {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqForm",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"hubId": "sample-hub", "rollout": {"maxSkew": 3}},
    }
    directory = config_dir(tmp_path, HUB_FILE, extra={"form.yaml": [form]})

    code, _out, err = validate(directory, capsys)

    assert code == 2
    assert "form.yaml, document 1 (LynqForm web): spec.rollout.maxSkew is 3" in err


def test_an_empty_hub_id_is_an_error(tmp_path: Path) -> None:
    form = {
        "apiVersion": "operator.lynq.sh/v1",
        "kind": "LynqForm",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"hubId": ""},
    }

    with pytest.raises(ConfigError, match=r"spec\.hubId: must name a LynqHub, not be empty"):
        load_config(config_dir(tmp_path, HUB_FILE, extra={"form.yaml": [form]}))
