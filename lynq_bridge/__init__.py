"""lynq-bridge: RecordOps through GitOps.

Rows in a SQL table define per-tenant Kubernetes stacks; the bridge renders them into a Git
repository that Argo CD or Flux applies, and reports live status back to ``LynqNode`` objects.
"""

__version__ = "0.1.0"
