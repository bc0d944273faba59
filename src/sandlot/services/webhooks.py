"""Sending webhook deliveries: the server POSTs each pending delivery, signed, and retries
one that fails with exponential back-off and jitter until it is delivered or `failed`.

The delivery rows are the queue (`storage.destinations.DeliveryRepo.claim`): a sender takes
due rows with a lease in one short transaction, sends them outside any transaction, and
writes each attempt's end fenced by its attempt number, so several servers on one
PostgreSQL share the work and a sender that stalls past its lease cannot overwrite the
attempt that replaced it. Sent from the server with httpx, never from a sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandlot.domain.destinations import Delivery, DeliveryState, backoff_s, signature
from sandlot.domain.errors import SandlotError
from sandlot.services.destinations import webhook_secret
from sandlot.services.secret_keys import Keyring
from sandlot.storage.destinations import DeliveryRepo

log = logging.getLogger(__name__)

USER_AGENT = "Sandlot-Webhooks/1"
_ERROR_CHARS = 500


@dataclass(frozen=True)
class SenderPolicy:
    timeout_s: float = 10.0
    max_attempts: int = 8
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 900.0
    poll_interval_s: float = 1.0
    batch: int = 16


@dataclass(frozen=True)
class Outcome:
    status: int | None
    error: str | None
    duration_ms: float

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        keyring: Keyring,
        policy: SenderPolicy | None = None,
    ) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.policy = policy or SenderPolicy()
        self.owner = f"{os.uname().nodename[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._rng = random.Random()

    def notify(self) -> None:
        """A delivery was committed: look now, not at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="sandlot-webhooks")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _loop(self) -> None:
        while True:
            try:
                sent = await self.run_once()
            except Exception:
                log.exception("webhook sender: a round failed")
                sent = 0
            if sent:
                continue  # there may be more due at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.policy.poll_interval_s)
            self._wake.clear()

    async def run_once(self) -> int:
        """Claim the due deliveries, send them all at once, record each; how many were sent."""
        claimed = await self._claim()
        if claimed:
            await asyncio.gather(*(self._send_one(delivery) for delivery in claimed))
        return len(claimed)

    async def _claim(self) -> list[Delivery]:
        now = datetime.now(UTC)
        # The lease outlasts the longest attempt, so only a sender that stalled loses it.
        lease = now + timedelta(seconds=self.policy.timeout_s * 2 + 30)
        async with self.sessions.begin() as session:
            return await DeliveryRepo(session).claim(
                owner=self.owner, now=now, lease_until=lease, limit=self.policy.batch
            )

    async def _send_one(self, delivery: Delivery) -> None:
        started = datetime.now(UTC)
        outcome = await self._attempt(delivery)
        entry: dict[str, Any] = {
            "attempt": delivery.attempts,
            "at": started.isoformat(),
            "status": outcome.status,
            "error": outcome.error,
            "duration_ms": round(outcome.duration_ms, 1),
        }
        now = datetime.now(UTC)
        if outcome.delivered:
            state, due = DeliveryState.DELIVERED, None
        elif delivery.attempts >= delivery.max_attempts:
            state, due = DeliveryState.FAILED, None
        else:
            wait = backoff_s(
                delivery.attempts,
                base_s=self.policy.backoff_base_s,
                cap_s=self.policy.backoff_cap_s,
                rng=self._rng,
            )
            state, due = DeliveryState.PENDING, now + timedelta(seconds=wait)
        async with self.sessions.begin() as session:
            kept = await DeliveryRepo(session).record_attempt(
                delivery, owner=self.owner, entry=entry, state=state, next_attempt_at=due, now=now
            )
        if not kept:
            log.warning("delivery %s attempt %s: superseded", delivery.id, delivery.attempts)

    async def _attempt(self, delivery: Delivery) -> Outcome:
        began = time.perf_counter()
        try:
            secret = await self._secret(delivery)
        except SandlotError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS], 0.0)
        if secret is None:
            return Outcome(None, "the function has no webhook secret any more", 0.0)
        body = delivery.body.encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Sandlot-Timestamp": str(timestamp),
            "X-Sandlot-Signature": signature(secret, timestamp, body),
            "X-Sandlot-Delivery": delivery.id,
            "X-Sandlot-Invocation-Id": delivery.invocation_id,
        }
        client = self._http()  # made outside the bound: loading CA certificates takes time
        try:
            # One bound over the whole attempt: a receiver that trickles its answer byte by
            # byte would never trip a per-read timeout.
            async with asyncio.timeout(self.policy.timeout_s):
                answer = await client.post(delivery.target, content=body, headers=headers)
        except TimeoutError:
            return Outcome(None, f"timed out after {self.policy.timeout_s:g} s", _ms(began))
        except httpx.HTTPError as exc:
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return Outcome(None, text[:_ERROR_CHARS], _ms(began))
        error = None if answer.is_success else f"HTTP {answer.status_code}"
        return Outcome(answer.status_code, error, _ms(began))

    async def _secret(self, delivery: Delivery) -> bytes | None:
        async with self.sessions() as session:
            return await webhook_secret(
                session, self.keyring, delivery.namespace_id, delivery.function_id
            )

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # No redirects: a 3xx is not a delivery, and following one would send the signed
            # body somewhere the function's owner did not name.
            self._client = httpx.AsyncClient(
                timeout=self.policy.timeout_s, follow_redirects=False, trust_env=False
            )
        return self._client


def _ms(began: float) -> float:
    return (time.perf_counter() - began) * 1000
