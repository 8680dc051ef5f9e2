"""Executions are counted for the metering block they ran in, threads it hands work to included."""

from __future__ import annotations

import asyncio
import threading

from codemint import exec_meter


def test_counts_go_to_the_innermost_block_and_follow_to_thread() -> None:
    exec_meter.add(5, 1)  # outside any block: counted nowhere
    with exec_meter.metering() as outer:
        exec_meter.add(3, 1)
        with exec_meter.metering() as inner:
            exec_meter.add(2, 1)
            asyncio.run(asyncio.to_thread(exec_meter.add, 4, 1))  # the context goes along
        exec_meter.add(1)
    assert (outer.executions, outer.jobs) == (4, 1)
    assert (inner.executions, inner.jobs) == (6, 2)


def test_shards_side_by_side_in_threads_count_apart() -> None:
    seen: dict[int, int] = {}

    def shard(n: int) -> None:
        with exec_meter.metering() as meter:
            for _ in range(n):
                exec_meter.add(1, 1)
        seen[n] = meter.executions

    threads = [threading.Thread(target=shard, args=(n,)) for n in (10, 20, 30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {10: 10, 20: 20, 30: 30}
