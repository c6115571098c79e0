"""The exception tree of lynq-bridge.

Adapters catch library exceptions and raise these with ``raise ... from exc``; a library's
exception never reaches the command line. Errors are sorted by what to do next::

    BridgeError
    ├── PermanentError              fix the input; retrying will not help
    │   ├── ConfigError             a config document is invalid (exit 2)
    │   ├── RenderError             a template, row or resource cannot be rendered
    │   └── UnsafeCommit            a commit failed the checks before push; nothing was pushed
    └── TemporaryError              retry at the next interval
        ├── SourceUnavailable       the database cannot be read
        ├── GitConflict             the remote kept moving; the push was not accepted
        ├── GitUnavailable          the remote or the local mirror cannot be used
        ├── ClusterUnavailable      the Kubernetes API cannot be reached or refused us
        │   └── ClusterConflict     409: someone else changed or created the object first
        └── LeaseLost               this replica no longer holds the hub's Lease; not pushed

Every message is one sentence naming the object and the cause.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error lynq-bridge raises on purpose."""


class PermanentError(BridgeError):
    """The input is wrong; the same input will fail again."""


class TemporaryError(BridgeError):
    """Something outside us failed; the next interval may succeed."""


class ConfigError(PermanentError):
    """A configuration document is invalid (or a usage error on the command line)."""


class RenderError(PermanentError):
    """A template, row value or rendered resource is unusable."""


class UnsafeCommit(PermanentError):
    """A commit changes files outside ``git.path`` or holds objects ``git fsck`` rejects.

    Nothing was pushed; it is a bug or a hostile input that got past every earlier check, so
    the same rows would fail again."""


class SourceUnavailable(TemporaryError):
    """A hub's datasource could not be queried."""


class GitConflict(TemporaryError):
    """The remote branch kept moving while we tried to push."""


class GitUnavailable(TemporaryError):
    """A Git operation failed for a reason other than a concurrent push."""


class ClusterUnavailable(TemporaryError):
    """The Kubernetes API server failed or refused a request."""


class ClusterConflict(ClusterUnavailable):
    """The API server answered 409: another writer changed or created the object first."""


class LeaseLost(TemporaryError):
    """This replica lost the hub's Lease before the push; another replica syncs the hub."""
