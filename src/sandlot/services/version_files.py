"""A version's files as text, for reading and editing in the browser.

Bounded, because code may unpack to hundreds of megabytes in thousands of files: each file's
text is sent only up to `FILE_TEXT_MAX_BYTES`, and one answer's texts stop at
`FILES_TEXT_MAX_BYTES` (the rest are listed with their size, text left out and said so).
A file is read through its decompressor up to its cap and no further, whatever its zip
header claims.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.models import Principal
from sandlot.services.functions import get_code

FILE_TEXT_MAX_BYTES = 512 * 1024
FILES_TEXT_MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class VersionFile:
    path: str
    size: int
    text: str | None  # None: binary, or over a cap (then `truncated`)
    binary: bool
    truncated: bool


async def version_files(
    *, session: AsyncSession, principal: Principal, name: str, number: int
) -> list[VersionFile]:
    """Who may download a version's code may read its files: the same check, once."""
    data = await get_code(session=session, principal=principal, name=name, number=number)
    # Unzipping is CPU work: off the event loop, so other requests go on.
    return await asyncio.to_thread(files_of, data)


def files_of(
    data: bytes,
    *,
    file_max_bytes: int = FILE_TEXT_MAX_BYTES,
    total_max_bytes: int = FILES_TEXT_MAX_BYTES,
) -> list[VersionFile]:
    """Every file of a zip, sorted by path, with the text of those that are UTF-8."""
    left = total_max_bytes
    files: list[VersionFile] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = sorted(
            (info for info in archive.infolist() if not info.is_dir()), key=lambda i: i.filename
        )
        for info in infos:
            path = str(PurePosixPath(info.filename))
            cap = min(file_max_bytes, left)
            with archive.open(info) as entry:
                head = entry.read(cap + 1)
            if len(head) > cap:
                # Too large to send (or the answer's budget is spent): binary or not is
                # decided on the part read, so a large data file is not called text.
                binary = _decode(head[:cap], partial=True) is None
                files.append(VersionFile(path, info.file_size, None, binary, truncated=True))
                continue
            text = _decode(head)
            if text is not None:
                left -= len(head)
            files.append(VersionFile(path, len(head), text, text is None, truncated=False))
    return files


def _decode(data: bytes, *, partial: bool = False) -> str | None:
    """Text is UTF-8 with no NUL byte; a cut may fall inside a character's bytes."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if partial and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8", errors="strict")
        return None
