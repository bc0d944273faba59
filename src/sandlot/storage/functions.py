"""Functions, their immutable versions, and the code blobs those versions point at."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.egress import EgressPolicy
from sandlot.domain.errors import FunctionAlreadyExists, FunctionNotFound, VersionNotFound
from sandlot.domain.limits import FUNCTION_NAME_RE
from sandlot.domain.models import Function, Version, VersionConfig
from sandlot.domain.secrets import SecretMount, SecretRef
from sandlot.domain.states import VERSION_MOVES, VersionState, transition
from sandlot.storage.tables import CodeBlobRow, FunctionRow, VersionRow


def _function(row: FunctionRow) -> Function:
    return Function(
        id=row.id,
        namespace_id=row.namespace_id,
        name=row.name,
        created_at=row.created_at,
        updated_at=row.updated_at,
        latest_version=row.latest_version,
        version_count=row.version_count,
        deleted_at=row.deleted_at,
    )


def _version(row: VersionRow, function_name: str) -> Version:
    return Version(
        id=row.id,
        function_id=row.function_id,
        function_name=function_name,
        number=row.number,
        state=VersionState(row.state),
        config=VersionConfig(
            handler=row.handler,
            memory_mb=row.memory_mb,
            timeout_s=row.timeout_s,
            env=row.env,
            max_concurrency=row.max_concurrency,
            min_warm=row.min_warm,
            keep_alive_s=row.keep_alive_s,
            secrets=_secret_refs(row.secrets),
            egress=EgressPolicy.parse(row.egress or ()),
            log_level=row.log_level,
        ),
        code_sha256=row.code_sha256,
        code_size=row.code_size,
        created_at=row.created_at,
        error=row.error,
        lock_text=row.lock_text,
        env_key=row.env_key,
        deployed_by=row.deployed_by,
        build_warnings=tuple(row.build_warnings or ()),
    )


def _secret_refs(stored: list[dict[str, str]] | None) -> tuple[SecretRef, ...]:
    return tuple(
        SecretRef(item["name"], SecretMount(item.get("as", "env"))) for item in stored or ()
    )


class FunctionRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _live_row(self, namespace_id: str, name: str) -> FunctionRow:
        # A name no function can have is not looked up: it may hold a NUL, which PostgreSQL
        # refuses even in a query.
        if not FUNCTION_NAME_RE.fullmatch(name):
            raise FunctionNotFound(f"no function named {name!r}", function=name)
        row = await self.session.scalar(
            select(FunctionRow).where(
                FunctionRow.namespace_id == namespace_id,
                FunctionRow.name == name,
                FunctionRow.deleted_at.is_(None),
            )
        )
        if row is None:
            raise FunctionNotFound(f"no function named {name!r}", function=name)
        return row

    async def get(self, namespace_id: str, name: str) -> Function:
        return _function(await self._live_row(namespace_id, name))

    async def current_id(self, namespace_id: str, name: str) -> str | None:
        """The id of the function that goes by `name` now: the live one, else the one deleted
        last (whose history outlives it), else None."""
        query = (
            select(FunctionRow.id)
            .where(FunctionRow.namespace_id == namespace_id, FunctionRow.name == name)
            .order_by(
                FunctionRow.deleted_at.is_not(None),  # false, the live one, sorts first
                FunctionRow.deleted_at.desc(),
                FunctionRow.created_at.desc(),
            )
            .limit(1)
        )
        found: str | None = await self.session.scalar(query)
        return found

    async def in_namespace(self, namespace_id: str) -> list[Function]:
        rows = await self.session.scalars(
            select(FunctionRow)
            .where(FunctionRow.namespace_id == namespace_id, FunctionRow.deleted_at.is_(None))
            .order_by(FunctionRow.name)
        )
        return [_function(row) for row in rows]

    async def create(self, namespace_id: str, name: str) -> Function:
        now = datetime.now(UTC)
        row = FunctionRow(
            id=str(uuid.uuid4()),
            namespace_id=namespace_id,
            name=name,
            created_at=now,
            updated_at=now,
            version_count=0,
        )
        # The partial unique index decides races; the transaction is abandoned on a clash.
        self.session.add(row)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise FunctionAlreadyExists(
                f"a function named {name!r} already exists", function=name
            ) from exc
        return _function(row)

    async def is_live(self, function_id: str) -> bool:
        """Whether the function exists and is not deleted."""
        row = await self.session.get(FunctionRow, function_id, populate_existing=True)
        return row is not None and row.deleted_at is None

    async def mark_deleted(self, namespace_id: str, name: str) -> Function:
        row = await self._live_row(namespace_id, name)
        row.deleted_at = datetime.now(UTC)
        await self.session.flush()
        return _function(row)

    async def next_version_number(self, function_id: str) -> int:
        # The row lock (PostgreSQL) serialises concurrent deploys of one function; SQLite
        # has one writer at a time anyway.
        row = await self.session.scalar(
            select(FunctionRow).where(FunctionRow.id == function_id).with_for_update()
        )
        assert row is not None
        row.version_count += 1
        row.updated_at = datetime.now(UTC)
        await self.session.flush()
        return row.version_count

    async def set_latest(self, function_id: str, number: int) -> tuple[bool, int | None]:
        """(whether `latest` moved, where it was before)."""
        row = await self.session.scalar(
            select(FunctionRow).where(FunctionRow.id == function_id).with_for_update()
        )
        assert row is not None
        before = row.latest_version
        # `latest` only moves forward, so a slow build of an older version never wins.
        moved = before is None or number > before
        if moved:
            row.latest_version = number
            row.updated_at = datetime.now(UTC)
        await self.session.flush()
        return moved, before

    async def point_latest(self, function_id: str, number: int) -> int | None:
        """Point `latest` at `number` whichever way that is (a rollback); returns where it was.
        The next ready deploy moves it forward again."""
        row = await self.session.scalar(
            select(FunctionRow).where(FunctionRow.id == function_id).with_for_update()
        )
        assert row is not None
        before = row.latest_version
        row.latest_version = number
        row.updated_at = datetime.now(UTC)
        await self.session.flush()
        return before


class VersionRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        function: Function,
        number: int,
        config: VersionConfig,
        code_sha256: str,
        code_size: int,
        state: VersionState,
        deployed_by: str | None = None,
    ) -> Version:
        row = VersionRow(
            id=str(uuid.uuid4()),
            function_id=function.id,
            number=number,
            state=state.value,
            handler=config.handler,
            memory_mb=config.memory_mb,
            timeout_s=config.timeout_s,
            env=dict(config.env),
            max_concurrency=config.max_concurrency,
            min_warm=config.min_warm,
            keep_alive_s=config.keep_alive_s,
            secrets=[ref.as_json() for ref in config.secrets] or None,
            egress=None if config.egress.is_none else config.egress.as_text(),
            log_level=config.log_level,
            code_sha256=code_sha256,
            code_size=code_size,
            created_at=datetime.now(UTC),
            deployed_by=deployed_by,
        )
        self.session.add(row)
        await self.session.flush()
        return _version(row, function.name)

    async def get(self, function: Function, number: int) -> Version:
        row = await self._row(function, number)
        return _version(row, function.name)

    async def _row(self, function: Function, number: int) -> VersionRow:
        row = await self.session.scalar(
            select(VersionRow).where(
                VersionRow.function_id == function.id, VersionRow.number == number
            )
        )
        if row is None:
            raise VersionNotFound(
                f"function {function.name!r} has no version {number}",
                function=function.name,
                version=number,
            )
        return row

    async def lock_text(self, function_id: str, number: int) -> str | None:
        """The version's stored lock (a worker installs its environment from it)."""
        return await self.session.scalar(
            select(VersionRow.lock_text).where(
                VersionRow.function_id == function_id, VersionRow.number == number
            )
        )

    async def of_function(self, function: Function) -> list[Version]:
        rows = await self.session.scalars(
            select(VersionRow)
            .where(VersionRow.function_id == function.id)
            .order_by(VersionRow.number.desc())
        )
        return [_version(row, function.name) for row in rows]

    async def move(
        self,
        function: Function,
        number: int,
        target: VersionState,
        *,
        error: str | None = None,
        lock_text: str | None = None,
        env_key: str | None = None,
        build_log: str | None = None,
        build_warnings: list[str] | None = None,
    ) -> Version:
        row = await self._row(function, number)
        row.state = transition(VERSION_MOVES, VersionState(row.state), target).value
        row.error = error
        if lock_text is not None:
            row.lock_text = lock_text
        if env_key is not None:
            row.env_key = env_key
        if build_log is not None:
            row.build_log = build_log
        if build_warnings is not None:
            row.build_warnings = build_warnings
        await self.session.flush()
        return _version(row, function.name)

    async def note_environment(
        self, function: Function, number: int, *, lock_text: str, env_key: str
    ) -> None:
        """A building version's lock and environment key, stored before its import check
        (role api: the worker that checks it installs the environment from this lock)."""
        row = await self._row(function, number)
        row.lock_text, row.env_key = lock_text, env_key
        await self.session.flush()

    async def unfinished(self) -> list[tuple[Function, Version]]:
        """Versions of live functions still waiting for or in the middle of a build."""
        query = (
            select(FunctionRow, VersionRow)
            .join(VersionRow, VersionRow.function_id == FunctionRow.id)
            .where(
                FunctionRow.deleted_at.is_(None),
                VersionRow.state.in_([VersionState.PENDING.value, VersionState.BUILDING.value]),
            )
            .order_by(VersionRow.created_at)
        )
        rows = (await self.session.execute(query)).all()
        return [(_function(f), _version(v, f.name)) for f, v in rows]

    async def kept_warm(self) -> list[Function]:
        """Live functions whose latest version asks for instances kept warm."""
        query = (
            select(FunctionRow)
            .join(
                VersionRow,
                (VersionRow.function_id == FunctionRow.id)
                & (VersionRow.number == FunctionRow.latest_version),
            )
            .where(FunctionRow.deleted_at.is_(None), VersionRow.min_warm > 0)
        )
        return [_function(row) for row in await self.session.scalars(query)]

    async def env_keys_in_use(self) -> set[str]:
        """Environments that some version of a live function points at."""
        query = (
            select(VersionRow.env_key)
            .join(FunctionRow, VersionRow.function_id == FunctionRow.id)
            .where(FunctionRow.deleted_at.is_(None), VersionRow.env_key.is_not(None))
            .distinct()
        )
        return {key for key in await self.session.scalars(query) if key}

    async def naming_secrets(self, namespace_id: str) -> list[tuple[Function, Version]]:
        """Every version of the namespace's live functions that names a secret. (Filtered
        here, not in SQL: JSON containment is spelled differently on each database.)"""
        query = (
            select(FunctionRow, VersionRow)
            .join(VersionRow, VersionRow.function_id == FunctionRow.id)
            .where(
                FunctionRow.namespace_id == namespace_id,
                FunctionRow.deleted_at.is_(None),
                VersionRow.secrets.is_not(None),
            )
            .order_by(FunctionRow.name, VersionRow.number)
        )
        rows = (await self.session.execute(query)).all()
        return [(_function(f), _version(v, f.name)) for f, v in rows if v.secrets]

    async def build_log(self, function: Function, number: int) -> str:
        return (await self._row(function, number)).build_log or ""


class CodeBlobRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, sha256: str, data: bytes) -> None:
        """Store a blob once; concurrent deploys of the same code both succeed."""
        if await self.session.get(CodeBlobRow, sha256) is not None:
            return
        values = {
            "sha256": sha256,
            "size": len(data),
            "data": data,
            "created_at": datetime.now(UTC),
        }
        dialect = self.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        await self.session.execute(
            insert(CodeBlobRow).values(**values).on_conflict_do_nothing(index_elements=["sha256"])
        )

    async def get(self, sha256: str) -> bytes:
        row = await self.session.get(CodeBlobRow, sha256)
        assert row is not None, f"code blob {sha256} is missing"
        return row.data
