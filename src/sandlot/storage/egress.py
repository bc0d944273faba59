"""Each namespace's egress bound (`namespaces.egress_bound`), in its text form."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.storage.tables import NamespaceRow


class EgressBoundRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, namespace_id: str) -> list[str] | None:
        """The namespace's own bound, or None when it takes the server's default."""
        row = await self.session.get(NamespaceRow, namespace_id, populate_existing=True)
        assert row is not None, f"namespace {namespace_id} is missing"
        return list(row.egress_bound) if row.egress_bound is not None else None

    async def put(self, namespace_id: str, bound: list[str] | None) -> None:
        row = await self.session.get(NamespaceRow, namespace_id)
        assert row is not None, f"namespace {namespace_id} is missing"
        row.egress_bound = bound
        await self.session.flush()
