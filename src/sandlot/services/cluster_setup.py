"""What every process of a cluster (API servers with role api, workers) needs before it
starts: PostgreSQL, which is the one coordinator of all machines (SQLite is one machine's
file), and the shared secret that signs the calls between them."""

from __future__ import annotations

from sandlot.config import Settings
from sandlot.domain.errors import ClusterSetupInvalid
from sandlot.storage.db import is_sqlite

MIN_SECRET_CHARS = 32


def require_cluster_settings(settings: Settings, process: str) -> None:
    """Raises `ClusterSetupInvalid` (one line, for the CLI) when `process` cannot run."""
    if is_sqlite(settings.resolved_database_url):
        raise ClusterSetupInvalid(
            f"{process} needs PostgreSQL: set SANDLOT_DATABASE_URL=postgresql+asyncpg://..."
            " (SQLite is one machine's database; plain `sandlot serve` runs on it)"
        )
    secret = settings.cluster_key
    if secret is None or len(secret) < MIN_SECRET_CHARS:
        raise ClusterSetupInvalid(
            f"{process} needs SANDLOT_CLUSTER_SECRET, at least {MIN_SECRET_CHARS} characters, "
            "the same on every API server and worker"
            + ("" if secret is None else f" (this one has {len(secret)})")
        )
