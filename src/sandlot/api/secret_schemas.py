"""Request and response bodies of the secrets routes: a value goes in, never out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sandlot.domain.secrets import SECRET_MAX_BYTES
from sandlot.services.secret_rotation import Rotation
from sandlot.services.secrets import SecretView


class SecretPut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The size is checked by the domain (SecretTooLarge, 400, in bytes), not here (a 422).
    value: str = Field(
        description=f"The value, at most {SECRET_MAX_BYTES} bytes of UTF-8. Write-only: no "
        "route ever returns it"
    )


class SecretOut(BaseModel):
    name: str
    version: int = Field(description="1 on the first set, one more on each set after")
    updated_by: str = Field(description="Who set this version: user:<login> or key:<id>")
    updated_at: datetime
    created_at: datetime
    used_by: list[str] = Field(description="Live functions whose current version names it")

    @classmethod
    def of(cls, view: SecretView) -> SecretOut:
        info = view.info
        return cls(
            name=info.name,
            version=info.version,
            updated_by=info.updated_by,
            updated_at=info.updated_at,
            created_at=info.created_at,
            used_by=view.used_by,
        )


class SecretList(BaseModel):
    items: list[SecretOut]


class RotationOut(BaseModel):
    key_id: str = Field(description="The id (a digest, not the key) every secret is sealed with")
    resealed: int = Field(description="Secrets re-encrypted by this call")
    retired_key_ids: list[str] = Field(
        description="Keys no secret needs any more: forgotten (key file), or safe to remove "
        "from SANDLOT_SECRET_PREVIOUS_KEYS"
    )
    source: str = Field(description="`file` (<data dir>/secret.key) or `settings`")

    @classmethod
    def of(cls, rotation: Rotation) -> RotationOut:
        return cls(
            key_id=rotation.key_id,
            resealed=rotation.resealed,
            retired_key_ids=rotation.retired_key_ids,
            source=rotation.source,
        )
