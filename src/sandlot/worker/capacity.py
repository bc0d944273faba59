"""`Capacity`: the worker's global budget of instances and memory, and the host's pressure.

Everything the pool keeps running is charged against one budget (`Settings.max_instances`,
`Settings.max_memory_mb`) at the most it may use, not at what it uses now: an instance and a
spare instance at their version's memory size and as one instance each, a zygote at its
version's memory size (its cgroup's limit; module code it ran may have left a thread
allocating). Charging limits, as a scheduler reserves requests, is what lets the pool
promise every admitted instance its whole memory size without overcommitting the host.

A charge is refunded when its process is stopped, not when it has exited: the kill is
already sent, and the waiters for room should not wait for the exit.

The host's own pressure is read apart from the budget (other programs use memory too):
`available_mb()` is the kernel's MemAvailable, which the reaper compares with
`Settings.min_available_memory_mb` each round.
"""

from __future__ import annotations

from pathlib import Path

from sandlot.worker.gate import CapacitySignal

_MEMINFO = Path("/proc/meminfo")


class Capacity:
    def __init__(self, max_instances: int, max_memory_mb: int) -> None:
        self.max_instances = max_instances
        self.max_memory_mb = max_memory_mb
        self.instances = 0
        self.memory_mb = 0
        self.signal = CapacitySignal()

    def fits(self, memory_mb: int, instances: int = 1) -> bool:
        return (
            self.instances + instances <= self.max_instances
            and self.memory_mb + memory_mb <= self.max_memory_mb
        )

    def charge(self, memory_mb: int, instances: int = 1) -> None:
        self.instances += instances
        self.memory_mb += memory_mb

    def refund(self, memory_mb: int, instances: int = 1) -> None:
        self.instances -= instances
        self.memory_mb -= memory_mb
        self.signal.notify_all()


def available_mb(meminfo: Path = _MEMINFO) -> int | None:
    """The host's MemAvailable in MB, or None where the kernel does not say."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
