"""`Spares`: resources made ahead in a thread, handed out once, freed at close."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from pathlib import Path

from sandlot.sandbox.spares import Spares
from sandlot.sandbox.starter import SandboxStarter
from tests.sandbox.conftest import make_spec, write_script


class Made:
    """Items are numbers; it records which thread made them and which were freed."""

    def __init__(self, fail_first: int = 0) -> None:
        self.counter = itertools.count(1)
        self.freed: list[int] = []
        self.threads: set[int] = set()
        self.fail_first = fail_first

    def make(self, key: str) -> int:
        self.threads.add(threading.get_ident())
        if self.fail_first > 0:
            self.fail_first -= 1
            raise OSError("no room")
        return next(self.counter)

    def free(self, item: int) -> None:
        self.freed.append(item)


async def settle(spares: Spares[str, int], key: str, count: int) -> None:
    for _ in range(500):
        if spares.ready(key) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{spares.ready(key)} spares for {key!r}, wanted {count}")


async def test_refills_off_the_loop_and_hands_each_item_out_once() -> None:
    made = Made()
    spares: Spares[str, int] = Spares(made.make, made.free, depth=3)
    assert spares.take("a") is None  # none yet: this take starts the refill
    await settle(spares, "a", 3)
    assert threading.get_ident() not in made.threads
    taken = [spares.take("a"), spares.take("a")]
    await settle(spares, "a", 3)
    rest = spares.items()
    assert len(set(taken) | set(rest)) == 5  # nothing handed out twice
    await spares.close()
    assert sorted(made.freed) == sorted(rest)
    assert spares.take("a") is None and spares.items() == []


async def test_keys_out_of_use_are_freed_and_failures_retried() -> None:
    made = Made(fail_first=1)
    spares: Spares[str, int] = Spares(made.make, made.free, depth=2, max_keys=1)
    assert spares.take("a") is None
    for _ in range(100):  # the first refill fails once and stops; the next take retries
        await asyncio.sleep(0.01)
        if spares.ready("a") == 0:
            spares.take("a")
        else:
            break
    await settle(spares, "a", 2)
    old = spares.items()
    spares.take("b")  # only one key is kept: a's spares are freed
    assert sorted(made.freed) == sorted(old)
    await settle(spares, "b", 2)
    assert await spares.get("b") not in old
    await spares.close()


async def test_network_namespaces_are_made_ahead_and_closed_with_the_starter(
    starter: SandboxStarter, tmp_path: Path
) -> None:
    script = write_script(tmp_path, "pass")
    handle = await starter.start(make_spec(script, group="g1"))
    await handle.wait()
    spares = starter._spare_groups
    for _ in range(500):
        if spares.ready(None) == 2:
            break
        await asyncio.sleep(0.02)
    ready = spares.items()
    assert len(ready) == 2
    second = await starter.start(make_spec(script, group="g2"))
    await second.wait()
    assert starter._groups["g2"].ns in ready  # taken, not made on the start's path
    await handle.cleanup()
    await second.cleanup()
    left = {ns.netns_fd: os.readlink(f"/proc/self/fd/{ns.netns_fd}") for ns in spares.items()}
    await starter.close()
    for fd, namespace in left.items():
        try:
            now = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        assert now != namespace, f"spare namespace fd {fd} left open"
