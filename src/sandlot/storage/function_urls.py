"""Function URL configurations, one per function row and alias (`latest`: the unqualified
URL)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.aliases import LATEST
from sandlot.domain.http_events import FunctionUrl, UrlConfig, UrlTarget, cors_from_dict
from sandlot.storage.tables import FunctionRow, FunctionUrlRow, NamespaceRow


def _config(row: FunctionUrlRow) -> UrlConfig:
    return UrlConfig(auth=row.auth, cors=cors_from_dict(row.cors))


def _stored(row: FunctionUrlRow) -> FunctionUrl:
    return FunctionUrl(
        function_id=row.function_id,
        config=_config(row),
        created_at=row.created_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        alias=row.alias,
    )


class FunctionUrlRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, function_id: str, alias: str = LATEST) -> FunctionUrl | None:
        row = await self.session.get(FunctionUrlRow, (function_id, alias))
        return None if row is None else _stored(row)

    async def put(
        self, *, function_id: str, config: UrlConfig, actor: str, alias: str = LATEST
    ) -> FunctionUrl:
        now = datetime.now(UTC)
        row = await self.session.get(FunctionUrlRow, (function_id, alias))
        if row is None:
            row = FunctionUrlRow(function_id=function_id, alias=alias, created_at=now)
            self.session.add(row)
        row.auth = config.auth
        row.cors = config.cors.as_dict()
        row.updated_at = now
        row.updated_by = actor
        await self.session.flush()
        return _stored(row)

    async def delete(self, function_id: str, alias: str = LATEST) -> bool:
        """Whether there was one to delete."""
        result = await self.session.execute(
            delete(FunctionUrlRow).where(
                FunctionUrlRow.function_id == function_id, FunctionUrlRow.alias == alias
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def target(self, namespace: str, function: str, alias: str = LATEST) -> UrlTarget | None:
        """The live function `function` of namespace `namespace` with the URL of `alias`, if
        it has one."""
        query = (
            select(NamespaceRow.id, FunctionRow.id, FunctionUrlRow)
            .join(FunctionRow, FunctionRow.namespace_id == NamespaceRow.id)
            .join(FunctionUrlRow, FunctionUrlRow.function_id == FunctionRow.id)
            .where(
                NamespaceRow.name == namespace,
                NamespaceRow.deleted_at.is_(None),
                FunctionRow.name == function,
                FunctionRow.deleted_at.is_(None),
                FunctionUrlRow.alias == alias,
            )
        )
        found = (await self.session.execute(query)).first()
        if found is None:
            return None
        namespace_id, function_id, row = found
        return UrlTarget(
            namespace_id=namespace_id,
            namespace=namespace,
            function_id=function_id,
            function_name=function,
            config=_config(row),
            alias=alias,
        )
