"""Request and response bodies of the quota routes (apart from `schemas.py`, which the other
resources share)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from sandlot.domain.quotas import QUOTA_MAX, UNITS, QuotaName, QuotaReport


def _json_integer(value: Any) -> Any:
    """An integer as JSON Schema has it: 5 and 5.0, but not "5" or true."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool | str):
        raise ValueError("must be a whole number or null")
    return value


QuotaValue = Annotated[
    Annotated[StrictInt, Field(ge=0, le=QUOTA_MAX)] | None, BeforeValidator(_json_integer)
]

_SET = "a limit (0 stops any more use), or null for the server's default; left out: unchanged"


class QuotaSet(BaseModel):
    """A partial update: only the quotas named change."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"functions": 20, "rate_per_minute": 600}]},
    )
    functions: QuotaValue = Field(None, description=f"Live functions; {_SET}")
    memory_mb: QuotaValue = Field(None, description=f"MB of live instances; {_SET}")
    concurrency: QuotaValue = Field(None, description=f"Calls at once; {_SET}")
    rate_per_minute: QuotaValue = Field(None, description=f"Calls per minute; {_SET}")
    code_mb: QuotaValue = Field(None, description=f"MB of zipped code in all; {_SET}")
    env_kb: QuotaValue = Field(None, description=f"KB of environment in all; {_SET}")

    def changes(self) -> dict[QuotaName, int | None]:
        return {QuotaName(name): getattr(self, name) for name in sorted(self.model_fields_set)}


class QuotaOut(BaseModel):
    limit: int | None = Field(description="null: no limit")
    used: int | float = Field(description="The use now, in the quota's unit")
    unit: str
    default: bool = Field(description="The limit is the server's default, not the namespace's")


class QuotaReportOut(BaseModel):
    namespace: str
    quotas: dict[str, QuotaOut] = Field(
        description="By quota: " + ", ".join(f"{name} ({unit})" for name, unit in UNITS.items())
    )
    warnings: list[str] = Field(
        description="On a change: each limit set below the current use (allowed; nothing "
        "running is stopped, what would add to the use is refused)"
    )

    @classmethod
    def of(cls, report: QuotaReport) -> QuotaReportOut:
        return cls(
            namespace=report.namespace,
            quotas={
                use.name.value: QuotaOut(
                    limit=use.limit, used=use.used, unit=use.unit, default=use.is_default
                )
                for use in report.quotas
            },
            warnings=list(report.warnings),
        )
