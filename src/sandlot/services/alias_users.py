"""Who uses an alias: the check behind `AliasInUse` (services.aliases calls it before it
deletes one), and the check that an alias a trigger names exists."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.aliases import LATEST
from sandlot.domain.errors import AliasNotFound
from sandlot.domain.models import Function
from sandlot.storage.alias_users import AliasUserRepo


async def users_of(session: AsyncSession, function: Function, alias: str) -> list[str]:
    """What names `function:alias`, one item each (`schedule:sch_…`, `function_url`,
    `destination:<function>`); empty when nothing does and the alias may go."""
    repo = AliasUserRepo(session)
    users = [f"schedule:{schedule_id}" for schedule_id in await repo.schedules(function.id, alias)]
    if await repo.has_url(function.id, alias):
        users.append("function_url")
    qualified = f"{function.name}:{alias}"
    users += [
        f"destination:{name}" for name in await repo.destinations(function.namespace_id, qualified)
    ]
    return users


async def check_exists(session: AsyncSession, function: Function, alias: str | None) -> str:
    """The alias a trigger will name (`latest` for None), once it is known to exist. A
    trigger is resolved only when it fires, so naming a missing alias is refused now."""
    if alias is None or alias == LATEST:
        return LATEST
    if not await AliasUserRepo(session).exists(function.id, alias):
        raise AliasNotFound(
            f"function {function.name!r} has no alias {alias!r}",
            function=function.name,
            alias=alias,
        )
    return alias
