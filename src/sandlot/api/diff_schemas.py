"""The answer of a version diff."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from sandlot.services.code_diff import DIFF_MAX_BYTES, FILE_DIFF_MAX_BYTES, FileDiff
from sandlot.services.version_diff import FieldChange, NameChanges, VersionDiff


class FileDiffOut(BaseModel):
    path: str
    status: Literal["added", "removed", "changed", "same"]
    size: int | None = Field(description="Bytes in this version; null when removed")
    against_size: int | None = Field(description="Bytes in the other version; null when added")
    binary: bool = Field(description="Not UTF-8 text: no diff is given")
    too_large: bool = Field(
        description=f"Over {FILE_DIFF_MAX_BYTES} bytes: no diff, compared by CRC and size"
    )
    diff: str | None = Field(description="A unified diff, for a text file that changed")
    truncated: bool = Field(description="The answer's diff budget ran out in or before it")

    @classmethod
    def of(cls, item: FileDiff) -> FileDiffOut:
        return cls(
            path=item.path,
            status=item.status.value,
            size=item.size,
            against_size=item.against_size,
            binary=item.binary,
            too_large=item.too_large,
            diff=item.diff,
            truncated=item.truncated,
        )


class FieldChangeOut(BaseModel):
    field: str
    before: Any = Field(description="Null when there is no earlier version")
    after: Any

    @classmethod
    def of(cls, change: FieldChange) -> FieldChangeOut:
        return cls(field=change.field, before=change.before, after=change.after)


class NameChangesOut(BaseModel):
    added: list[str]
    removed: list[str]
    changed: list[str] = Field(description="Names whose value (or mount) changed")

    @classmethod
    def of(cls, changes: NameChanges) -> NameChangesOut:
        return cls(added=changes.added, removed=changes.removed, changed=changes.changed)


class VersionDiffOut(BaseModel):
    function: str
    number: int
    against: int | None = Field(description="The version compared with; null: none (v1)")
    config: list[FieldChangeOut] = Field(description="Configuration fields that differ")
    env: NameChangesOut = Field(description="Environment variables, by name only")
    secrets: NameChangesOut = Field(description="Secrets named, by name only")
    dependencies_changed: bool = Field(description="The dependency lock differs")
    files: list[FileDiffOut] = Field(description="Every file of either version, by path")
    truncated: bool = Field(description=f"Diffs stopped at {DIFF_MAX_BYTES} bytes")
    diff_bytes: int = Field(description="Bytes of diff text in this answer")
    max_diff_bytes: int = DIFF_MAX_BYTES

    @classmethod
    def of(cls, diff: VersionDiff) -> VersionDiffOut:
        return cls(
            function=diff.version.function_name,
            number=diff.version.number,
            against=diff.against.number if diff.against else None,
            config=[FieldChangeOut.of(change) for change in diff.config],
            env=NameChangesOut.of(diff.env),
            secrets=NameChangesOut.of(diff.secrets),
            dependencies_changed=diff.dependencies_changed,
            files=[FileDiffOut.of(item) for item in diff.code.files],
            truncated=diff.code.truncated,
            diff_bytes=diff.code.diff_bytes,
        )
