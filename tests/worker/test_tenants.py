"""The per-namespace counts of the pool: the token bucket's arithmetic at given instants,
and admission against concurrency and memory quotas. No clock is waited on."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandlot.config import Settings
from sandlot.domain.errors import QuotaExceeded
from sandlot.worker.interface import NamespaceLimits, VersionSpec
from sandlot.worker.tenants import Tenants, TokenBucket


def spec(namespace_id: str, limits: NamespaceLimits, memory_mb: int = 128) -> VersionSpec:
    return VersionSpec(
        function_id=f"fn-{namespace_id}",
        namespace=namespace_id,
        function_name="fn",
        version=1,
        handler="main.handler",
        memory_mb=memory_mb,
        timeout_s=5,
        env={},
        code_dir=Path("/nonexistent"),
        namespace_id=namespace_id,
        limits=limits,
    )


def test_the_bucket_bursts_its_minute_then_refills_a_sixtieth_a_second() -> None:
    bucket = TokenBucket()
    assert [bucket.take(3, now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(3, now=100.0) == pytest.approx(20.0)  # 3 a minute: one per 20 s
    assert bucket.spent(3, now=100.0) == 3
    assert bucket.take(3, now=110.0) == pytest.approx(10.0)  # half a token refilled
    assert bucket.take(3, now=120.0) == 0.0
    assert bucket.spent(3, now=1000.0) == 0  # full again, never more than the burst
    assert [bucket.take(3, now=1000.0) for _ in range(4)][-1] > 0


def test_a_rate_of_zero_refuses_every_call() -> None:
    bucket = TokenBucket()
    assert bucket.take(0, now=5.0) == 60.0
    assert bucket.take(0, now=500.0) == 60.0


def test_a_lower_rate_takes_effect_at_once() -> None:
    bucket = TokenBucket()
    assert bucket.take(60_000, now=1.0) == 0.0
    assert bucket.take(1, now=1.0) == 0.0  # the bucket shrinks to the new burst
    assert bucket.take(1, now=1.0) > 0


def test_admission_counts_calls_per_namespace() -> None:
    tenants = Tenants()
    limited = spec("a", NamespaceLimits(concurrency=2))
    first, _ = tenants.admit(limited), tenants.admit(limited)
    with pytest.raises(QuotaExceeded) as refused:
        tenants.admit(limited)
    assert refused.value.extra == {
        "quota": "concurrency",
        "limit": 2,
        "used": 2,
        "namespace": "a",
        "retry_after_s": 1,
    }
    # Another namespace with the same quota, and one without limits, are not held back.
    for _ in range(2):
        tenants.admit(spec("b", NamespaceLimits(concurrency=2)))
    for _ in range(10):
        tenants.admit(spec("c", NamespaceLimits()))
    tenants.leave(first)
    assert tenants.admit(limited).calls == 2
    assert tenants.use("a").calls == 2 and tenants.use("c").calls == 10


def test_the_rate_is_refused_with_the_wait_and_a_refund_gives_it_back() -> None:
    tenants = Tenants()
    limited = spec("a", NamespaceLimits(rate_per_minute=1))
    admitted = tenants.admit(limited)
    tenants.leave(admitted)
    with pytest.raises(QuotaExceeded) as refused:
        tenants.admit(limited)
    assert refused.value.extra["quota"] == "rate_per_minute"
    assert 1 <= refused.value.extra["retry_after_s"] <= 60
    tenants.refund_rate(admitted)  # the call it let in was then refused by the pool
    tenants.leave(tenants.admit(limited))


def test_memory_is_charged_per_instance_against_the_quota() -> None:
    tenants = Tenants()
    limited = spec("a", NamespaceLimits(memory_mb=300), memory_mb=128)
    for _ in range(2):
        assert tenants.memory_fits(limited)
        tenants.charge(limited)
    assert not tenants.memory_fits(limited)
    refusal = tenants.memory_refusal(limited)
    assert isinstance(refusal, QuotaExceeded)
    assert (refusal.extra["used"], refusal.extra["would_be"]) == (256, 384)
    assert tenants.memory_fits(spec("b", NamespaceLimits(memory_mb=300), memory_mb=128))
    tenants.refund(limited)
    assert tenants.memory_fits(limited) and tenants.use("a").memory_mb == 128


def test_a_quota_default_of_none_is_no_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDLOT_QUOTA_RATE_PER_MINUTE", "none")
    monkeypatch.setenv("SANDLOT_QUOTA_FUNCTIONS", "7")
    settings = Settings()
    assert (settings.quota_rate_per_minute, settings.quota_functions) == (None, 7)
    monkeypatch.setenv("SANDLOT_QUOTA_FUNCTIONS", "-1")
    with pytest.raises(ValueError, match="quota_functions"):
        Settings()
