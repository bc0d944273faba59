"""Opening a function's live log stream: who may, and what it replays before going live."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.models import Principal
from sandlot.domain.states import InvocationState
from sandlot.services.authz import authorize_function
from sandlot.services.journal_entries import Record
from sandlot.services.logtail import Subscription
from sandlot.services.recorder import InvocationRecorder
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.invocations import InvocationRepo

MAX_REPLAY = 1000  # finished invocations replayed on resume; past that the client pages history
_PAGE = 200
_NOT_FINISHED = (InvocationState.QUEUED, InvocationState.RUNNING)

log = logging.getLogger(__name__)


@dataclass
class LogStream:
    subscription: Subscription
    replay: list[Record]  # oldest first; then the subscription's live records
    replay_cut: bool  # more than MAX_REPLAY were waiting: the last replayed id is a cursor


async def open_stream(
    *,
    session: AsyncSession,
    recorder: InvocationRecorder,
    principal: Principal,
    name: str,
    after: str | None,
) -> LogStream:
    """Subscribe first, then read the history after `after` (if given): a call that
    finishes in between is in both, and the reader skips the second copy by its id. Calls
    still running at the read are not replayed; they arrive live when they finish."""
    authorize_function(principal, Action.FUNCTION_READ, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    subscription = recorder.tail.subscribe(principal.namespace_id, function.id, function.name)
    try:
        replay: list[Record] = []
        cut = False
        if after is not None:
            await _flush(recorder)
            replay, cut = await _history(session, principal, function.id, after)
    except BaseException:
        subscription.close()
        raise
    return LogStream(subscription=subscription, replay=replay, replay_cut=cut)


async def _history(
    session: AsyncSession, principal: Principal, function_id: str, after: str
) -> tuple[list[Record], bool]:
    repo = InvocationRepo(session)
    found: list[Record] = []
    cursor: str | None = after
    while cursor is not None and len(found) < MAX_REPLAY:
        page = await repo.page(
            principal.namespace_id,
            function_name=None,
            state=None,
            limit=_PAGE,
            cursor=None,
            function_id=function_id,
            after=cursor,
            function_names=principal.functions,
        )
        for invocation in page.items:
            if invocation.state in _NOT_FINISHED or len(found) >= MAX_REPLAY:
                continue
            logs = await repo.logs(principal.namespace_id, invocation.id)
            found.append((invocation, None, logs))
        cursor = page.next_cursor
    return found, cursor is not None


async def _flush(recorder: InvocationRecorder) -> None:
    """Like the history's readers: write what is buffered first, so a resume sees it."""
    try:
        await recorder.run_once()
    except Exception as exc:
        log.debug("replaying without the newest records: %s", exc)
