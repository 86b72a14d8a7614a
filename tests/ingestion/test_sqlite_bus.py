from __future__ import annotations

import multiprocessing
from pathlib import Path

from yujing.ingestion.bus import OutRecord
from yujing.ingestion.sqlite_bus import SqliteBus


def _records(n: int, prefix: str = "m") -> list[OutRecord]:
    return [OutRecord(f"{prefix}{i}".encode(), str(i).encode()) for i in range(n)]


def test_produce_consume_commit_and_resume(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    bus.produce("t", _records(5))
    consumer = bus.consumer(["t"], "g")
    first = consumer.poll(3, 0)
    assert [m.value for m in first] == [b"m0", b"m1", b"m2"]
    consumer.commit(first[:2])
    consumer.close()
    again = bus.consumer(["t"], "g")  # uncommitted m2 is redelivered, committed ones are not
    assert [m.value for m in again.poll(10, 0)] == [b"m2", b"m3", b"m4"]
    assert again.lag() == 3
    assert bus.consumer(["t"], "other").poll(10, 0)[0].value == b"m0"  # groups are independent


def test_reads_across_topics_in_write_order(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    bus.produce("a", _records(2, "a"))
    bus.produce("b", _records(1, "b"))
    bus.produce("a", [OutRecord(b"a2")])
    consumer = bus.consumer(["a", "b"], "g")
    assert [m.value for m in consumer.poll(10, 0)] == [b"a0", b"a1", b"b0", b"a2"]


def test_checkpoint_is_stored_with_offsets(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db")
    bus.produce("t", _records(2))
    consumer = bus.consumer(["t"], "g")
    assert consumer.checkpoint() is None
    consumer.commit(consumer.poll(1, 0), checkpoint=b"state-1")
    assert bus.consumer(["t"], "g").checkpoint() == b"state-1"


def _produce_in_child(path: str, start: int) -> None:
    bus = SqliteBus(Path(path))
    for i in range(start, start + 200):
        bus.produce("t", [OutRecord(str(i).encode())])


def test_two_processes_produce_without_losing_or_duplicating(tmp_path: Path) -> None:
    path = tmp_path / "bus.db"
    SqliteBus(path).close()
    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_produce_in_child, args=(str(path), s)) for s in (0, 1000)]
    for c in children:
        c.start()
    for c in children:
        c.join(60)
    values = [m.value for m in SqliteBus(path).consumer(["t"], "g").poll(1000, 0)]
    assert sorted(int(v) for v in values) == list(range(200)) + list(range(1000, 1200))
    assert [m.offset for m in SqliteBus(path).consumer(["t"], "g2").poll(1000, 0)] == list(range(400))
