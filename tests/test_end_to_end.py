"""The embedded deployment end to end, through the CLI contract."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from yujing.cli import main
from yujing.search.sqlite_store import SqliteStore

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "yujing" / "demo"
GATHERING_AT = datetime.fromisoformat("2016-09-06T09:00:00+08:00")
QUIET = {"汇融宝", "瑞丰网贷", "金桥理财", "安信众筹", "易付通", "聚财猫", "恒信普惠", "盈家宝", "通达金服"}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, object]], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines() if line.strip()], captured.err


def test_score_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([
        json.dumps({"id": "a", "text": "内部消息：鑫盛贷老板跑路了，赶紧转发扩散"}, ensure_ascii=False),
        "{oops",
        json.dumps({"id": "b", "text": "今天在汇融宝提现到账了", "ts": "2016-09-01T10:00:00+08:00"},
                   ensure_ascii=False),
    ]), encoding="utf-8")
    code, rows, err = _run(capsys, "score", str(src), "--model", "lexicon", "--registry", str(DEMO / "registry.yaml"))
    assert code == 0
    assert [r["id"] for r in rows] == ["a", None, "b"]
    assert set(rows[0]) == {"id", "scores", "labels", "platforms"}
    assert rows[0]["labels"] == ["rumour"] and rows[0]["platforms"] == ["鑫盛贷"]
    assert rows[2]["labels"] == [] and rows[2]["platforms"] == ["汇融宝"]
    assert "in.jsonl:2" in err and "bad json" in err


@pytest.mark.parametrize("model", ["lexicon", "default"])  # default: the shipped model, bf16 or fp32 by CPU
def test_replay_demo_escalates_before_the_gathering(capsys: pytest.CaptureFixture[str], model: str) -> None:
    code, alerts, err = _run(capsys, "replay", str(DEMO / "stream.jsonl"), "--model", model)
    assert code == 0 and "warning notifications" in err
    assert alerts, "the collapse must raise warnings"
    for alert in alerts:
        assert {"platform", "signal", "level", "agencies", "ts", "posts"} <= set(alert)
    collapse = [a for a in alerts if a["platform"] == "鑫盛贷"]
    red_gathering = [a for a in collapse if a["signal"] == "gathering" and a["level"] == "red"]
    assert red_gathering, "the calls to gather must reach red"
    first_red = min(datetime.fromisoformat(str(a["ts"])) for a in red_gathering)
    assert first_red < GATHERING_AT
    assert {"stability_office", "police", "petitions_bureau"} <= set(red_gathering[0]["agencies"])  # type: ignore[arg-type]
    assert not [a for a in alerts if a["platform"] in QUIET and a["level"] != "blue"]
    pages = [a for a in alerts if a["explanation"]["reason"] == "unacknowledged"]  # type: ignore[index]
    assert len(alerts) - len(pages) < 40, "a short sequence of warnings, not one per post"
    # Nobody acknowledges in a replay: each yellow+ warning pages each agency's next contacts, at most
    # the length of its chain less one (shipped receivers: 维稳办 and 金融办 three contacts, 公安 and 信访局 two).
    chain = {"stability_office": 3, "police": 2, "petitions_bureau": 2, "finance_office": 3}
    per_warning: dict[tuple[str, str], int] = {}
    for page in pages:
        (agency,) = page["agencies"]  # type: ignore[misc]
        escalation = page["explanation"]["escalation"]  # type: ignore[index]
        assert escalation["agency"] == agency and 1 <= escalation["step"] < chain[agency]
        key = (str(page["key"]).split("/page")[0], agency)
        per_warning[key] = per_warning.get(key, 0) + 1
    assert per_warning and max(per_warning.values()) <= 2
    assert {k for k, _ in per_warning} <= {str(a["key"]) for a in alerts if a not in pages}


def test_replay_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    _, first, _ = _run(capsys, "replay", str(DEMO / "stream.jsonl"), "--model", "lexicon")
    _, second, _ = _run(capsys, "replay", str(DEMO / "stream.jsonl"), "--model", "lexicon")
    assert first == second


def test_bad_input_is_dead_lettered_not_lost(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "mixed.jsonl"
    good = json.dumps({"id": "g1", "text": "鑫盛贷提现不到账", "ts": "2016-09-04T10:00:00+08:00"}, ensure_ascii=False)
    src.write_bytes("\n".join([good, "not json", '{"id": "x", "text": ""}']).encode() + b"\n\xff\xfe\n")
    bus = f"sqlite:///{tmp_path / 'bus.db'}"
    code, _, err = _run(capsys, "ingest", str(src), "--bus", bus)
    assert code == 0 and "3 lines dead-lettered" in err
    code, letters, _ = _run(capsys, "deadletters", "--bus", bus, "--json")
    assert [d["origin"] for d in letters] == [f"{src}:2", f"{src}:3", f"{src}:4"]


def test_dead_letters_can_be_fixed_and_re_sent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`deadletters --raw` gives the rejected lines (authors already pseudonymised) as a file to fix and ingest
    again; the fixed posts keep the pseudonyms the dead letters showed."""
    from yujing.app import open_bus
    from yujing.ingestion.bus import RAW_POSTS

    src = tmp_path / "batch.jsonl"
    rows = [
        {"id": "ok", "text": "鑫盛贷提现不到账", "ts": "2016-09-04T10:00:00+08:00", "author": "王五"},
        {"id": "empty", "text": "<p></p>", "ts": "2016-09-04T10:05:00+08:00", "author": "张三"},
        {"id": "naive", "text": "汇融宝还能提现吗", "ts": "2016-09-04T10:10:00", "author": "李四"},
    ]
    src.write_text("\n".join([*(json.dumps(r, ensure_ascii=False) for r in rows), "not json"]) + "\n",
                   encoding="utf-8")
    bus = f"sqlite:///{tmp_path / 'bus.db'}"
    assert main(["ingest", str(src), "--bus", bus]) == 0
    assert "3 lines dead-lettered" in capsys.readouterr().err
    assert main(["deadletters", "--bus", bus, "--raw"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 3 and "3 dead letters" in err
    assert "张三" not in out and "李四" not in out and lines[2] == "not json"
    shown = {json.loads(line)["id"]: json.loads(line)["author"] for line in lines[:2]}
    fixed = [lines[0].replace("<p></p>", "汇融宝的钱取不出来了"), lines[1].replace("T10:10:00", "T10:10:00+08:00"),
             lines[2]]
    (tmp_path / "fix.jsonl").write_text("\n".join(fixed) + "\n", encoding="utf-8")
    assert main(["ingest", str(tmp_path / "fix.jsonl"), "--bus", bus]) == 0
    assert "1 lines dead-lettered" in capsys.readouterr().err
    b = open_bus(bus)
    try:
        posts = {p["id"]: p for p in (json.loads(m.value) for m in b.read_all(RAW_POSTS))}
    finally:
        b.close()
    assert sorted(posts) == ["empty", "naive", "ok"]
    assert {i: posts[i]["author"] for i in shown} == shown and shown["empty"] != shown["naive"]
    assert posts["naive"]["ts"].endswith("+08:00") and posts["empty"]["text"] == "汇融宝的钱取不出来了"


def test_raw_dead_letters_leave_out_later_stages_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from yujing.app import open_bus
    from yujing.pipeline import produce_dead_letters
    from yujing.records import DeadLetter

    bus_url = f"sqlite:///{tmp_path / 'bus.db'}"
    bus = open_bus(bus_url)
    try:
        produce_dead_letters(bus, [DeadLetter("kafka:raw.posts/0@1", "missing ts", '{"text": "提现难"}', "score"),
                                   DeadLetter("kafka:scored.posts/0@4", "undecodable", '{"post": {}}', "index")])
    finally:
        bus.close()
    assert main(["deadletters", "--bus", bus_url, "--raw"]) == 0
    out, err = capsys.readouterr()
    assert out == '{"text": "提现难"}\n'
    assert "kafka:scored.posts/0@4 (index stage) holds a Yujing record, not input" in err
    assert "1 dead letters (1 records of later stages skipped)" in err


def test_a_dead_letter_over_several_lines_is_re_sent_as_one() -> None:
    from yujing.cli import _one_line
    from yujing.records import DeadLetter

    pretty = DeadLetter("kafka:raw.posts/0@7", "bad ts", '{\n  "id": "a",\n  "text": "提现难"\n}', "score")
    assert _one_line(pretty) == '{"id": "a", "text": "提现难"}'
    broken = DeadLetter("kafka:raw.posts/0@8", "bad json", '{"id": "b",\n"text": "提现', "score")
    assert _one_line(broken) == '{"id": "b", "text": "提现'
    assert _one_line(DeadLetter("f.jsonl:3", "bad json", "not json")) == "not json"


def _big_stream(path: Path, copies: int) -> int:
    lines = (DEMO / "stream.jsonl").read_text(encoding="utf-8").splitlines()
    with path.open("w", encoding="utf-8") as fh:
        for c in range(copies):
            for line in lines:
                row = json.loads(line)
                row["id"] = f"{row['id']}-{c}"
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return copies * len(lines)


def test_killed_service_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    total = _big_stream(tmp_path / "big.jsonl", copies=8)
    bus, store = f"sqlite:///{tmp_path / 'bus.db'}", tmp_path / "store.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cli = [sys.executable, "-m", "yujing.cli"]
    subprocess.run([*cli, "ingest", str(tmp_path / "big.jsonl"), "--bus", bus], env=env, check=True,
                   capture_output=True)
    run = [*cli, "run", "--bus", bus, "--store", f"sqlite:///{store}", "--model", "lexicon",
           "--registry", str(DEMO / "registry.yaml")]
    proc = subprocess.Popen(run, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    indexed = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and indexed < total // 4:
        time.sleep(0.05)
        if store.exists():
            indexed = _count(store)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert 0 < indexed < total, "the kill must land mid-stream"
    subprocess.run([*run, "--until-idle"], env=env, check=True, capture_output=True, timeout=300)
    assert _count(store) == total


def _count(path: Path) -> int:
    store = SqliteStore(path)
    try:
        return store.count_posts()
    finally:
        store.close()


def test_run_delivers_warnings_through_the_outbox_and_records_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from yujing.alerting.store import AlertStore

    assert main(["ingest", str(DEMO / "stream.jsonl")]) == 0
    assert main(["run", "--until-idle", "--model", "lexicon", "--registry", str(DEMO / "registry.yaml"), "--json"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(a["platform"] == "鑫盛贷" and a["level"] == "red" for a in printed)
    data_dir = Path(os.environ["YUJING_DATA_DIR"])
    with sqlite3.connect(data_dir / "outbox.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        counts = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
    assert sum(counts.values()) >= len(printed) > 0, counts
    assert AlertStore(data_dir / "alerts.db").history(platform="鑫盛贷")


def test_a_replay_ending_right_after_a_warning_still_sends_it(tmp_path: Path) -> None:
    """A warning waits group_wait for its platform's other warnings; a recorded stream that ends within that
    wait has no later post to move event time on, so the end of the replay must let the wait run out."""
    from yujing.app import replay_file
    from yujing.registry import load_registry

    registry = load_registry(DEMO / "registry.yaml")
    full = replay_file(DEMO / "stream.jsonl", registry=registry, model="lexicon")
    first = min(full.alerts, key=lambda a: a.ts)  # a notification is stamped with the instant it was decided
    decided = first.ts
    rows = [json.loads(line) for line in (DEMO / "stream.jsonl").read_text(encoding="utf-8").splitlines() if line]
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows
                           if datetime.fromisoformat(r["ts"]) <= decided), encoding="utf-8")
    short = replay_file(cut, registry=registry, model="lexicon")
    assert first.key in {a.key for a in short.alerts}
