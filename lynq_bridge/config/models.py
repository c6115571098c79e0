"""pydantic models of the configuration documents: BridgeConfig, LynqHub, LynqForm, LynqNode.

These models are the single source of truth for the field names (taken from the Go operator
Lynq, ``operator.lynq.sh/v1``): the loader validates config files with them and ``crds/`` is
generated from them, so the two cannot drift. Every model forbids unknown fields and is frozen:
the core receives validated, immutable objects.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from lynq_bridge.config.targets import ArgoCDSettings, FluxSettings
from lynq_bridge.core.paths import component_problem, quote

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Letters, digits, `_` and `$`, with one optional `schema.` prefix (SPEC §3.2).
SQL_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,63}(\.[A-Za-z_][A-Za-z0-9_$]{0,63})?$")
SQL_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,63}$")  # also a schema name
VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DURATION = re.compile(r"^[0-9]+(s|m|h)$")
# metav1.Condition's type and reason patterns, as every CRD with standard conditions has them.
CONDITION_TYPE = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
CONDITION_REASON = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
# OpenAPI formats of the CRDs (Lynq's Go types: int32 counters, int64 generations, metav1.Time).
INT32: dict[str, Any] = {"format": "int32"}
INT64: dict[str, Any] = {"format": "int64"}
DATE_TIME: dict[str, Any] = {"format": "date-time"}
# A small JSONPath subset: `$.a.b`, `$.a[0]`, `$.a['x.y']`, `$.a[*]`.
JSONPATH = re.compile(r"^\$((\.[A-Za-z0-9_-]+)|(\[[0-9]+\])|(\[\*\])|(\['[^'\]]+'\]))+$")


def check_duration(value: str) -> str:
    """Validate a ``30s`` / ``5m`` / ``1h`` duration."""
    if not DURATION.match(value) or int(value[:-1]) == 0:
        raise ValueError(f'"{value}" is not a positive duration like 30s, 5m or 1h')
    return value


# What `git check-ref-format` refuses anywhere in a ref name: control characters, DEL, space and
# ~ ^ : ? * [ \ (git-check-ref-format(1), rules 4 and 5).
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
# What must not be part of a commit identity: `<` and `>` delimit the e-mail in the commit object,
# a newline or NUL would end or corrupt its header line.
_IDENT_FORBIDDEN = re.compile(r"[<>\x00-\x1f\x7f]")
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


def branch_problem(name: str) -> str | None:
    """Why ``name`` is not a usable branch name (``git check-ref-format --branch``), or None."""
    if not name:
        return "it is empty"
    if name in ("@", "HEAD"):
        return f"{quote(name)} is reserved by Git"
    if name.startswith("-"):
        return "it starts with '-'"
    if _REF_FORBIDDEN.search(name):
        return "it contains a space, a control character or one of ~ ^ : ? * [ \\"
    if ".." in name or "@{" in name:
        return "it contains '..' or '@{'"
    if name.startswith("/") or name.endswith(("/", ".")) or "//" in name:
        return "it starts or ends with '/', ends with '.' or contains '//'"
    for component in name.split("/"):
        if component.startswith("."):
            return f"its component {quote(component)} starts with '.'"
        if component.endswith(".lock"):
            return f"its component {quote(component)} ends with '.lock'"
    return None


def duration_seconds(value: str) -> int:
    return int(value[:-1]) * {"s": 1, "m": 60, "h": 3600}[value[-1]]


Duration = Annotated[str, AfterValidator(check_duration)]


RESERVED_VARIABLES = frozenset({"uid", "activate", "hubId", "templateRef", "hostOrUrl", "host"})


class Model(BaseModel):
    """Base: unknown fields are errors, objects are immutable after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ObjectMeta(Model):
    """The part of Kubernetes metadata that a config document may carry."""

    name: str
    namespace: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("name", "namespace")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if not DNS_LABEL.match(value):
            raise ValueError(f'"{value}" is not a DNS-1123 label (lowercase a-z, 0-9 and "-")')
        return value


# --------------------------------------------------------------------------- BridgeConfig


class GitAuthor(Model):
    name: str = "lynq-bridge"
    email: str = "lynq-bridge@localhost"

    @field_validator("name", "email")
    @classmethod
    def _ident(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        if _IDENT_FORBIDDEN.search(value):
            raise ValueError(
                f"{quote(value)} must not contain '<', '>', a newline, NUL or another control "
                "character (it becomes part of every commit)"
            )
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.match(value):
            raise ValueError(f"{quote(value)} is not an e-mail address like bridge@example.com")
        return value


class GitSigning(Model):
    """Commit signing so that Argo CD / Flux can verify commits come from the bridge."""

    format: Literal["openpgp", "ssh"]
    key: str = Field(description="GPG key id, or the path of an SSH private key.")


class GitSettings(Model):
    url: str = Field(description="Remote to push to: a path, file://, https:// or ssh:// URL.")
    credentialsRef: SecretKeyRef | None = Field(
        None,
        description="Token or password for an http(s) url, kept out of the config: the file "
        "<secretsDir>/<name>/<key>, else that key of the Secret in the BridgeConfig's namespace; "
        "the user name is the url's, else x-access-token. Git gets it from the environment, "
        "never in argv or a file.",
    )
    branch: str = Field("main", description="Created if the remote has no such branch.")
    path: str = Field("lynq", description="Managed output root inside the repository.")
    layout: Literal["flat", "sharded"] = Field(
        "flat",
        description="Node directories of a hub: flat (<hub>/<node>/) or sharded "
        "(<hub>/<shard>/<node>/, 256 shards by the SHA-256 of the node's name, and the same "
        "in argocd/ and flux/). Sharded keeps a commit of one node small in hubs of many "
        "thousands of nodes; changing it moves every node once. README: Large hubs.",
    )
    author: GitAuthor = Field(default_factory=GitAuthor)
    workDir: str | None = Field(
        None,
        description="Local mirror directory; default under $XDG_CACHE_HOME/lynq-bridge, "
        "disposable because the remote is the only state.",
    )
    pushRetries: int = Field(
        5, ge=1, le=50, description="Fetch-rebase-push attempts when someone else pushed."
    )
    signing: GitSigning | None = None

    @field_validator("path")
    @classmethod
    def _managed_path(cls, value: str) -> str:
        # The same rule as every path the bridge writes (core.paths): no '.', '..', empty or
        # `.git*` component in any case, so the managed root can never be Git's own directory.
        parts = value.strip("/").split("/")
        if not value.strip("/"):
            raise ValueError(
                f"{quote(value)} must be a relative directory inside the repository, not its root"
            )
        for part in parts:
            problem = component_problem(part)
            if problem:
                raise ValueError(
                    f"{quote(value)} is not a usable directory inside the repository: {problem}"
                )
        return "/".join(parts)

    @field_validator("branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        problem = branch_problem(value)
        if problem:
            raise ValueError(f"{quote(value)} is not a valid Git branch name: {problem}")
        return value


class DeletionGuard(Model):
    maxDeletePercent: int = Field(
        25,
        ge=0,
        le=100,
        description="Largest share of a hub's nodes one sync may remove; above it the "
        "removals are held. 25 lets ordinary churn through and stops a truncated table.",
    )
    allowMassDelete: bool = Field(
        False, description="Override the guard (like --allow-mass-delete)."
    )


class ReportSettings(Model):
    """The status reporter (``lynq-bridge report`` and, when enabled, inside ``run``)."""

    enabled: bool = Field(False, description="Run the reporter inside the daemon.")
    interval: Duration = Field(
        "30s",
        description="Longest wait before the watching reporter retries a failed list or watch "
        "(it follows watches, not passes): ^[0-9]+(s|m|h)$.",
    )
    namespace: str | None = Field(None, description="Only LynqNodes of this namespace.")
    kubeconfig: str | None = Field(
        None, description="Kubeconfig file; default: in-cluster service account or ~/.kube/config."
    )

    @property
    def interval_seconds(self) -> int:
        return duration_seconds(self.interval)


# A DNS-1123 subdomain: the names of Applications (which the bridge joins with ".").
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class NotifyApplication(Model):
    """An Argo CD Application to refresh after every push (the hub's hand-written root)."""

    name: str = Field(description="Name of the Application (a DNS-1123 subdomain).")
    namespace: str | None = Field(
        None, description="Namespace of the Application; default: spec.argocd.namespace."
    )

    @field_validator("name")
    @classmethod
    def _subdomain(cls, value: str) -> str:
        # The name becomes part of a request path: nothing but a Kubernetes name may get there.
        if len(value) > 253 or not DNS_SUBDOMAIN.match(value):
            raise ValueError(
                f'{quote(value)} is not a DNS-1123 subdomain (lowercase a-z, 0-9, "-" and ".")'
            )
        return value

    @field_validator("namespace")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        if value is not None and not DNS_LABEL.match(value):
            raise ValueError(f'{quote(value)} is not a DNS-1123 label (lowercase a-z, 0-9 and "-")')
        return value


class NotifySettings(Model):
    """Push notification: after a push, ask the GitOps engines to fetch now instead of at their
    next poll (Flux: a reconcile request on the GitRepository; Argo CD: a refresh of the
    Applications). Best effort: a failed notification is a warning, never a failed sync."""

    enabled: bool = Field(
        False, description="Notify after each push; off by default because it needs patch RBAC."
    )
    kubeconfig: str | None = Field(
        None,
        description="Kubeconfig of the engines' cluster; default: spec.report.kubeconfig, then "
        "the in-cluster service account, KUBECONFIG or ~/.kube/config.",
    )
    timeoutSeconds: int = Field(
        5,
        ge=1,
        le=60,
        description="Timeout of each request in seconds: short, because the next hub's sync "
        "waits and the engine's own poll still comes.",
    )
    applications: list[NotifyApplication] = Field(
        default_factory=list,
        description="Argo CD Applications refreshed after every push besides the changed nodes' "
        "own: the root (app-of-apps) Application that creates and prunes them.",
    )


class LeaderElectionSettings(Model):
    """Several ``run`` replicas: one ``coordination.k8s.io/v1`` Lease per hub splits the hubs,
    one per namespace scope runs the reporter. Off by default: it needs cluster access, and a
    single replica (a laptop, the demo) syncs every hub without it. Defaults are client-go's."""

    enabled: bool = Field(False, description="Split the hubs between replicas with Leases.")
    namespace: str | None = Field(
        None, description="Namespace of the Leases; default: the BridgeConfig's namespace."
    )
    leaseDurationSeconds: int = Field(
        15,
        ge=2,
        le=3600,
        description="Seconds a Lease lasts without renewal: a dead replica's hubs move to "
        "another replica within about this long.",
    )
    renewDeadlineSeconds: int = Field(
        10,
        ge=1,
        le=3600,
        description="Seconds the holder keeps a Lease it cannot renew before it stops syncing "
        "(and pushing) the hub; below leaseDurationSeconds, so it stops before anyone else "
        "may start.",
    )
    retryPeriodSeconds: int = Field(
        2,
        ge=1,
        le=600,
        description="Seconds between rounds of renewing and taking Leases; below "
        "renewDeadlineSeconds, so a slow round or two does not lose the Leases.",
    )
    kubeconfig: str | None = Field(
        None,
        description="Kubeconfig of the cluster holding the Leases; default: "
        "spec.report.kubeconfig, then the in-cluster service account, KUBECONFIG or "
        "~/.kube/config.",
    )

    @field_validator("namespace")
    @classmethod
    def _namespace_label(cls, value: str | None) -> str | None:
        if value is not None and not DNS_LABEL.match(value):
            raise ValueError(f'{quote(value)} is not a DNS-1123 label (lowercase a-z, 0-9 and "-")')
        return value

    @model_validator(mode="after")
    def _timing(self) -> LeaderElectionSettings:
        if not self.retryPeriodSeconds < self.renewDeadlineSeconds < self.leaseDurationSeconds:
            raise ValueError(
                "retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds must hold "
                f"(got {self.retryPeriodSeconds}, {self.renewDeadlineSeconds}, "
                f"{self.leaseDurationSeconds})"
            )
        return self


class BridgeSpec(Model):
    git: GitSettings
    target: Literal["plain", "argocd", "flux", "both"] = "plain"
    argocd: ArgoCDSettings = Field(default_factory=ArgoCDSettings)
    flux: FluxSettings = Field(default_factory=FluxSettings)
    deletionGuard: DeletionGuard = Field(default_factory=DeletionGuard)
    secretsDir: str | None = Field(
        None, description="Mounted Secret volumes: <secretsDir>/<name>/<key> holds a password."
    )
    strictSecrets: bool = Field(
        False, description="Make literal Secret data in a form an error instead of a warning."
    )
    report: ReportSettings = Field(default_factory=ReportSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    changeDetection: Literal["auto", "poll", "off"] = Field(
        "auto",
        description="How `run` notices row changes between syncIntervals: auto (PostgreSQL "
        "LISTEN, the MySQL binlog, SQLite's data_version, else polling), poll (a fingerprint "
        "query every 0.5 s or more), off (only syncInterval). README: Change detection.",
    )
    leaderElection: LeaderElectionSettings = Field(default_factory=LeaderElectionSettings)


class BridgeConfig(Model):
    apiVersion: Literal["bridge.lynq.sh/v1alpha1"]
    kind: Literal["BridgeConfig"]
    metadata: ObjectMeta
    spec: BridgeSpec


# --------------------------------------------------------------------------------- LynqHub


class SecretKeyRef(Model):
    name: str
    key: str


class _DatabaseSource(Model):
    table: str = Field(description="Table or view; letters, digits, _ and $, optional schema.")

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        if not SQL_IDENTIFIER.match(value):
            raise ValueError(
                f'{quote(value)} is not a plain table name (letters, digits, "_", "$" and one '
                'optional "schema." prefix)'
            )
        return value


class MySQLSource(_DatabaseSource):
    host: str
    port: int = Field(3306, ge=1, le=65535, json_schema_extra=INT32)
    username: str
    passwordRef: SecretKeyRef | None = None
    database: str


class PostgreSQLSource(_DatabaseSource):
    # The table or view read is <schema>.<table>. The schema is given either as `schema` or as
    # a `schema.` prefix of `table`; giving both is a config error (one place, no precedence to
    # remember). Without either it is `public`, named explicitly in the query so that the
    # login's search_path cannot pick another table of the same name. (A comment, not a
    # docstring: the docstring would become the CRD's description.)

    host: str
    port: int = Field(5432, ge=1, le=65535, json_schema_extra=INT32)
    username: str
    passwordRef: SecretKeyRef | None = None
    database: str
    schema_: str = Field("public", alias="schema")

    @field_validator("schema_")
    @classmethod
    def _schema(cls, value: str) -> str:
        if not SQL_COLUMN.match(value):
            raise ValueError(
                f'{quote(value)} is not a plain schema name (letters, digits, "_", "$")'
            )
        return value

    @model_validator(mode="after")
    def _schema_in_one_place(self) -> PostgreSQLSource:
        if "." in self.table and "schema_" in self.model_fields_set:
            raise ValueError(
                f"table {quote(self.table)} has a schema prefix and schema is set too: "
                "give the schema in one place"
            )
        return self

    @property
    def qualified(self) -> tuple[str, str]:
        """(schema, table) of the source."""
        schema, _, table = self.table.rpartition(".")
        return (schema or self.schema_, table)


class SQLiteSource(_DatabaseSource):
    path: str = Field(description="Database file, relative to the config file that names it.")


class HubSource(Model):
    type: Literal["mysql", "postgresql", "sqlite"]
    syncInterval: Duration = Field(
        "30s",
        description="How often the hub is synced: ^[0-9]+(s|m|h)$.",
        json_schema_extra={"pattern": DURATION.pattern},
    )
    mysql: MySQLSource | None = None
    postgresql: PostgreSQLSource | None = None
    sqlite: SQLiteSource | None = None

    @model_validator(mode="after")
    def _one_block(self) -> HubSource:
        present = [n for n in ("mysql", "postgresql", "sqlite") if getattr(self, n) is not None]
        if present != [self.type]:
            raise ValueError(
                f'type is "{self.type}", so exactly the "{self.type}" block must be set '
                f"(found: {', '.join(present) or 'none'})"
            )
        return self

    @property
    def interval_seconds(self) -> int:
        return duration_seconds(self.syncInterval)

    @property
    def database(self) -> MySQLSource | PostgreSQLSource | SQLiteSource:
        block = getattr(self, self.type)
        assert block is not None  # guaranteed by _one_block
        return block  # type: ignore[no-any-return]


class ValueMappings(Model):
    uid: str
    activate: str
    hostOrUrl: str | None = Field(
        None, description="Deprecated in Lynq; yields hostOrUrl and host."
    )

    @field_validator("uid", "activate", "hostOrUrl")
    @classmethod
    def _column(cls, value: str | None) -> str | None:
        if value is not None and not SQL_COLUMN.match(value):
            raise ValueError(f'"{value}" is not a plain column name')
        return value


class StatusTable(Model):
    # Where the reporter upserts one row per uid (README: Status in the database). Same host
    # and database as the source; its own login, so the source login can stay read-only.
    table: str = Field(
        "lynq_status", description="Table; letters, digits, _ and $, optional schema."
    )
    username: str | None = Field(None, description="Login; default: the source's username.")
    passwordRef: SecretKeyRef | None = Field(
        None, description="Password Secret; default: the source's passwordRef (same login only)."
    )

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        if not SQL_IDENTIFIER.match(value):
            raise ValueError(f"{quote(value)} is not a plain table name")
        return value


class HubSpec(Model):
    source: HubSource
    valueMappings: ValueMappings
    extraValueMappings: dict[str, str] = Field(default_factory=dict)
    statusTable: StatusTable | None = Field(
        None, description="Optional: the reporter writes each uid's status to this table."
    )

    @field_validator("extraValueMappings")
    @classmethod
    def _extras(cls, value: dict[str, str]) -> dict[str, str]:
        for variable, column in value.items():
            if not VARIABLE.match(variable):
                raise ValueError(f'variable "{variable}" is not a valid template variable name')
            if variable in RESERVED_VARIABLES:
                raise ValueError(f'variable "{variable}" is reserved')
            if not SQL_COLUMN.match(column):
                raise ValueError(f'column "{column}" of variable "{variable}" is not plain')
        return value


class Condition(Model):
    # The patterns and formats are metav1.Condition's (Lynq's CRDs carry them); they are CRD-only
    # so that reading a status never fails on a condition some other writer set.
    type: str = Field(json_schema_extra={"pattern": CONDITION_TYPE.pattern})
    status: Literal["True", "False", "Unknown"]
    reason: str = Field(json_schema_extra={"pattern": CONDITION_REASON.pattern})
    message: str = ""
    lastTransitionTime: str = Field(json_schema_extra=DATE_TIME)
    observedGeneration: int | None = Field(None, json_schema_extra=INT64)


class HubStatus(Model):
    """Roll-up written by the status reporter."""

    observedGeneration: int | None = Field(None, json_schema_extra=INT64)
    desired: int = Field(0, json_schema_extra=INT32)
    ready: int = Field(0, json_schema_extra=INT32)
    failed: int = Field(0, json_schema_extra=INT32)
    referencingTemplates: int = Field(
        0,
        description="How many LynqForms reference this hub (Lynq's field and meaning).",
        json_schema_extra=INT32,
    )
    referencingTemplateNames: list[str] = Field(
        default_factory=list, description="The names of the LynqForms that reference this hub."
    )
    conditions: list[Condition] = Field(default_factory=list)


class LynqHub(Model):
    apiVersion: Literal["operator.lynq.sh/v1"]
    kind: Literal["LynqHub"]
    metadata: ObjectMeta
    spec: HubSpec
    status: HubStatus | None = None


# -------------------------------------------------------------------------------- LynqForm


class ResourceEntry(Model):
    """One resource of a form; every string in ``spec`` is a template."""

    # Not empty: the `_id` pattern needs one character (no minLength, as in Lynq's CRD).
    id: str
    spec: dict[str, Any]
    nameTemplate: str | None = None
    targetNamespace: str | None = None
    labelsTemplate: dict[str, str] = Field(default_factory=dict)
    annotationsTemplate: dict[str, str] = Field(default_factory=dict)
    dependIds: list[str] = Field(default_factory=list)
    waitForReady: bool = True
    timeoutSeconds: int = Field(300, ge=1, le=3600, json_schema_extra=INT32)
    skipOnDependencyFailure: bool = True
    creationPolicy: Literal["WhenNeeded", "Once"] = "WhenNeeded"
    deletionPolicy: Literal["Delete", "Retain"] = "Delete"
    conflictPolicy: Literal["Stuck", "Force"] = "Stuck"
    patchStrategy: Literal["apply", "merge", "replace"] = "apply"
    ignoreFields: list[str] = Field(default_factory=list)
    includeWhen: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", value):
            raise ValueError(f'"{value}" is not a valid id (letters, digits, "_", "-", ".")')
        return value

    @field_validator("spec")
    @classmethod
    def _manifest(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in ("apiVersion", "kind"):
            if not isinstance(value.get(key), str) or not value[key]:
                raise ValueError(f"the manifest needs a string {key}")
        return value

    @field_validator("ignoreFields")
    @classmethod
    def _jsonpath(cls, value: list[str]) -> list[str]:
        for path in value:
            if not JSONPATH.match(path):
                raise ValueError(f'"{path}" is not a JSONPath like $.spec.replicas')
        return value


RESOURCE_ARRAYS = (
    "serviceAccounts",
    "deployments",
    "statefulSets",
    "daemonSets",
    "services",
    "ingresses",
    "configMaps",
    "secrets",
    "persistentVolumeClaims",
    "jobs",
    "cronJobs",
    "podDisruptionBudgets",
    "networkPolicies",
    "horizontalPodAutoscalers",
    "namespaces",
    "manifests",
)

# A form's arrays are maps keyed by id in the API server, as in Lynq (a duplicate id is refused).
Resources = Annotated[
    list[ResourceEntry],
    Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"]},
    ),
]


class Rollout(Model):
    # Progressive rollout of a form change (core.rollout); maxSkew > 0 needs cluster access.
    maxSkew: int = Field(
        0,
        ge=0,
        description="Nodes of one form at the new revision and not yet Ready at once, when the "
        "form changes; the others keep their previous render. 0 = unlimited (every node in "
        "one commit).",
        json_schema_extra=INT32,
    )
    progressDeadlineSeconds: int = Field(
        600,
        ge=60,
        le=3600,
        description="Seconds an updated node may take to become Ready before the rollout halts "
        "(Lynq's field); a halt lasts until the form changes or lynq-bridge rollout resume.",
        json_schema_extra=INT32,
    )


class FormSpec(Model):
    hubId: str = Field(
        description="The LynqHub in the form's namespace whose rows the form renders.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "self == oldSelf", "message": "hubId is immutable"}
            ]
        },
    )
    rollout: Rollout = Field(default_factory=Rollout)
    templateSyntax: Literal["jinja", "go"] | None = Field(
        None,
        description="The syntax of every template string of the form: jinja (Jinja2) or go "
        "(Lynq's Go text/template + Sprig). Unset: recognised from the strings (a form written "
        "for Lynq is go), see docs/lynq.md.",
    )
    serviceAccounts: Resources
    deployments: Resources
    statefulSets: Resources
    daemonSets: Resources
    services: Resources
    ingresses: Resources
    configMaps: Resources
    secrets: Resources
    persistentVolumeClaims: Resources
    jobs: Resources
    cronJobs: Resources
    podDisruptionBudgets: Resources
    networkPolicies: Resources
    horizontalPodAutoscalers: Resources
    namespaces: Resources
    manifests: Resources

    @field_validator("hubId")
    @classmethod
    def _hub_named(cls, value: str) -> str:
        # A validator, not minLength: Lynq's CRD has no minLength, and ours accepts what it does.
        if not value:
            raise ValueError("must name a LynqHub, not be empty")
        return value

    def resources(self) -> list[ResourceEntry]:
        """All entries in the fixed order of the arrays, then as listed."""
        return [entry for name in RESOURCE_ARRAYS for entry in getattr(self, name)]


class RolloutStatus(Model):
    """Lynq's rollout progress of a form; written by the sync for forms with maxSkew > 0."""

    phase: Literal["Idle", "InProgress", "Failed", "Complete"] | None = None
    targetGeneration: int | None = Field(None, json_schema_extra=INT64)
    totalNodes: int | None = Field(None, json_schema_extra=INT32)
    updatedNodes: int | None = Field(None, json_schema_extra=INT32)
    updatingNodes: int | None = Field(None, json_schema_extra=INT32)
    readyUpdatedNodes: int | None = Field(None, json_schema_extra=INT32)
    startTime: str | None = Field(None, json_schema_extra=DATE_TIME)
    completionTime: str | None = Field(None, json_schema_extra=DATE_TIME)
    message: str | None = None


class FormStatus(Model):
    """Roll-up written by the status reporter."""

    observedGeneration: int | None = Field(None, json_schema_extra=INT64)
    totalNodes: int = Field(0, json_schema_extra=INT32)
    readyNodes: int = Field(0, json_schema_extra=INT32)
    rollout: RolloutStatus | None = None
    conditions: list[Condition] = Field(default_factory=list)


class LynqForm(Model):
    apiVersion: Literal["operator.lynq.sh/v1"]
    kind: Literal["LynqForm"]
    metadata: ObjectMeta
    spec: FormSpec
    status: FormStatus | None = None


# -------------------------------------------------------------------------------- LynqNode


class InventoryEntry(Model):
    """One rendered child as the status reporter needs it (no DB, no re-rendering)."""

    id: str
    apiVersion: str
    kind: str
    namespace: str | None = Field(None, description="Absent for cluster-scoped kinds.")
    name: str
    dependIds: list[str] = Field(default_factory=list)
    waitForReady: bool = True
    timeoutSeconds: int = 300
    skipOnDependencyFailure: bool = True
    creationPolicy: Literal["WhenNeeded", "Once"] = "WhenNeeded"
    deletionPolicy: Literal["Delete", "Retain"] = "Delete"
    conflictPolicy: Literal["Stuck", "Force"] = "Stuck"
    patchStrategy: Literal["apply", "merge", "replace"] = "apply"
    hash: str = Field(description="sha256 of the rendered manifest, to date its readiness clock.")


# Lynq's LynqNode carries its form's resource arrays, rendered. The bridge never writes them and
# the reporter reads only `resources`, so a node that has no inventory (one Lynq created) is
# reported malformed rather than half-read; the fields exist so that Lynq's objects keep their
# content under these CRDs until the cutover removes them (docs/migrating-from-lynq.md).
LynqCopies = Annotated[
    list[ResourceEntry],
    Field(default_factory=list, description="Lynq's copy of the form's entries; not written."),
]


class NodeSpec(Model):
    uid: str
    templateRef: str
    hubId: str | None = Field(
        None,
        description="The hub; always written by the bridge, optional because Lynq's LynqNodes "
        "name their hub only in the lynq.sh/hub label.",
    )
    resources: list[InventoryEntry] = Field(default_factory=list)
    serviceAccounts: LynqCopies
    deployments: LynqCopies
    statefulSets: LynqCopies
    daemonSets: LynqCopies
    services: LynqCopies
    ingresses: LynqCopies
    configMaps: LynqCopies
    secrets: LynqCopies
    persistentVolumeClaims: LynqCopies
    jobs: LynqCopies
    cronJobs: LynqCopies
    podDisruptionBudgets: LynqCopies
    networkPolicies: LynqCopies
    horizontalPodAutoscalers: LynqCopies
    namespaces: LynqCopies
    manifests: LynqCopies


class ResourceState(Model):
    """Per-resource state written by the status reporter (one entry per inventory entry)."""

    id: str
    state: Literal["Ready", "NotReady", "Failed", "Skipped", "Conflicted", "Missing"]
    reason: str | None = Field(None, description="CamelCase cause of the state, e.g. Timeout.")
    message: str = ""
    since: str | None = Field(
        None,
        description="When the reporter started waiting for the current content to become ready "
        "(first observation of this hash, or the moment its dependencies became ready or it lost "
        "readiness); the timeout counts from here and survives reporter restarts.",
    )
    hash: str | None = Field(None, description="The inventory hash the state refers to.")


class NodeStatus(Model):
    observedGeneration: int | None = Field(None, json_schema_extra=INT64)
    desiredResources: int = Field(0, json_schema_extra=INT32)
    readyResources: int = Field(0, json_schema_extra=INT32)
    failedResources: int = Field(0, json_schema_extra=INT32)
    skippedResources: int = Field(0, json_schema_extra=INT32)
    conflictedResources: int = Field(0, json_schema_extra=INT32)
    skippedResourceIds: list[str] = Field(
        default_factory=list, description="Lynq's field: ids of the skipped resources."
    )
    appliedResources: list[str] = Field(
        default_factory=list,
        description="Lynq's field (kind/namespace/name@id of applied children); the bridge "
        "leaves applying to the GitOps engine and does not write it.",
    )
    lastFullReconcileAt: str | None = Field(
        None,
        description="Lynq's field (its periodic re-apply); not written by the bridge.",
        json_schema_extra=DATE_TIME,
    )
    resources: list[ResourceState] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)


class NodeMeta(ObjectMeta):
    """A LynqNode's metadata: its name ``{uid}-{form}`` is a DNS-1123 subdomain of up to 253
    characters, as Lynq allows (SPEC §3.4); the namespace stays a DNS-1123 label."""

    @field_validator("namespace")
    @classmethod
    def _dns_label(cls, value: str) -> str:  # replaces ObjectMeta's rule, which covers the name
        if not DNS_LABEL.match(value):
            raise ValueError(f'{quote(value)} is not a DNS-1123 label (lowercase a-z, 0-9 and "-")')
        return value

    @field_validator("name")
    @classmethod
    def _dns_subdomain(cls, value: str) -> str:
        if len(value) > 253 or not DNS_SUBDOMAIN.match(value):
            raise ValueError(
                f"{quote(value)} is not a DNS-1123 subdomain of 253 characters at most"
            )
        return value


class LynqNode(Model):
    apiVersion: Literal["operator.lynq.sh/v1"] = "operator.lynq.sh/v1"
    kind: Literal["LynqNode"] = "LynqNode"
    metadata: NodeMeta
    spec: NodeSpec
    status: NodeStatus | None = None
