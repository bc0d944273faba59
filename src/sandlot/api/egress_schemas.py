"""Request and response bodies of a namespace's egress bound."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sandlot.services.egress import BoundView


class EgressBoundSet(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"bound": ["10.0.0.0/8:5432", "*.example.com:443"]}]},
    )
    bound: list[str] | None = Field(
        description='What its functions may ask for: ["none"], ["internet"], destinations '
        '(as in a policy, plus "*.name" for every subdomain), or "internet" with '
        "destinations; null: back to the server's default (SANDLOT_EGRESS_DEFAULT_BOUND). "
        "The metadata addresses (169.254.169.254, fd00:ec2::254) are reachable only when "
        "listed here exactly, and by the function's policy too"
    )


class EgressBoundOut(BaseModel):
    namespace: str
    bound: list[str] = Field(description="The bound in its text form")
    default: bool = Field(description="The bound is the server's default, not the namespace's")
    enforced: bool = Field(description="This server enforces policies (else it refuses them)")
    reason: str = Field(description="When not enforced: why")

    @classmethod
    def of(cls, view: BoundView) -> EgressBoundOut:
        return cls(
            namespace=view.namespace,
            bound=view.bound.as_text(),
            default=view.is_default,
            enforced=view.enforced,
            reason=view.reason,
        )
