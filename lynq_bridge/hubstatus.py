"""Write the sync's conditions (Lynq's Ready, SourceReady, DeletionGuardTriggered, Rendered)
to LynqHubs.

Used by the daemon when the bridge has cluster access (``spec.report.enabled``): one GET and,
only when a condition changed, one status patch per hub sync. A hub that does not exist in the
cluster is skipped; API errors are logged and never affect the sync.
"""

from __future__ import annotations

import datetime as dt
import logging

from lynq_bridge.adapters.cluster import LYNQ_HUB, ClusterClient
from lynq_bridge.core.hubconditions import hub_status_patch, sync_conditions
from lynq_bridge.errors import ClusterUnavailable
from lynq_bridge.sync import HubResult

log = logging.getLogger(__name__)


def write_hub_conditions(
    client: ClusterClient, result: HubResult, *, now: dt.datetime | None = None
) -> bool:
    """Patch the hub's sync conditions if they changed; True when a write was made."""
    namespace, _, name = result.hub.partition("/")
    desired = sync_conditions(failure=result.failure, held=result.held, errors=len(result.errors))
    try:
        hub = client.get_object(LYNQ_HUB, namespace, name)
        if hub is None:
            return False
        patch = hub_status_patch(hub, desired, now=now or dt.datetime.now(dt.UTC))
        if patch is None:
            return False
        return client.patch_status(LYNQ_HUB, namespace, name, patch)
    except ClusterUnavailable as exc:
        log.warning("cannot write the conditions of LynqHub %s: %s", result.hub, exc)
        return False
