"""The answer of a version's files."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sandlot.services.version_files import FILE_TEXT_MAX_BYTES, FILES_TEXT_MAX_BYTES, VersionFile


class VersionFileOut(BaseModel):
    path: str = Field(description="Inside the function's folder, with forward slashes")
    size: int = Field(description="Bytes, unpacked")
    text: str | None = Field(
        description="The file's content, when it is UTF-8 text within the caps; else null"
    )
    binary: bool = Field(description="Not UTF-8 text (or it holds a NUL byte): no text")
    truncated: bool = Field(
        description=f"Over {FILE_TEXT_MAX_BYTES} bytes, or past the answer's "
        f"{FILES_TEXT_MAX_BYTES} bytes of text: no text (download the code instead)"
    )

    @classmethod
    def of(cls, item: VersionFile) -> VersionFileOut:
        return cls(
            path=item.path,
            size=item.size,
            text=item.text,
            binary=item.binary,
            truncated=item.truncated,
        )


class VersionFilesOut(BaseModel):
    files: list[VersionFileOut] = Field(description="Every file of the version, by path")
    max_file_bytes: int = FILE_TEXT_MAX_BYTES
    max_total_bytes: int = FILES_TEXT_MAX_BYTES
