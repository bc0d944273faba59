"""What the worker pool holds now, for the platform admin (the console's operator pages,
`sandlot pool`): the same numbers /metrics exports, as one document."""

from __future__ import annotations

from sandlot.domain.actions import Action
from sandlot.domain.models import Principal
from sandlot.services.authz import authorize
from sandlot.worker.interface import Pool, PoolStats, VersionHeld

# The API reads these values through this module: it never imports the worker itself.
__all__ = ["PoolStats", "VersionHeld", "pool_stats"]


def pool_stats(*, principal: Principal, pool: Pool) -> PoolStats:
    """Monitoring data across every namespace: only the platform admin reads it."""
    authorize(principal, Action.MONITOR_READ)
    return pool.stats()
