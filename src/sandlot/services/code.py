"""The local, unpacked copy of each version's code, shared by versions with the same zip."""

from __future__ import annotations

from pathlib import Path

from sandlot.services.archives import ArchiveLimits, CheckedArchive, check_archive, unpack
from sandlot.storage.space import full_disk_named


class CodeStore:
    def __init__(self, root: Path, limits: ArchiveLimits) -> None:
        self.root = root
        self.limits = limits

    def path(self, sha256: str) -> Path:
        return self.root / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_dir()

    def put(self, archive: CheckedArchive) -> Path:
        with full_disk_named():
            unpack(archive, self.path(archive.sha256))
        return self.path(archive.sha256)

    def restore(self, data: bytes) -> Path:
        """Unpack code read back from the database (a new machine, a wiped data dir)."""
        return self.put(check_archive(data, self.limits))
