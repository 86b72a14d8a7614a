"""The search commands end to end on the embedded store: output, audit, tokens, export."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.search.search_corpus import alerts, posts
from yujing.cli import main
from yujing.search.sqlite_store import SqliteStore
from yujing.settings import Settings


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    s = SqliteStore(tmp_path / "store.db")
    s.index_posts(posts())
    s.index_alerts(alerts())
    s.close()
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_search_human_json_export_and_audit(store_url: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", '"无法提现"', "--store", store_url, "--as", "li"]) == 0
    out = capsys.readouterr().out
    assert "共 2 条" in out and "【无法提现】" in out and "u_p08" in out
    assert main(["search", "提现", "--platform", "汇金宝", "--json", "--store", store_url, "--as", "li"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [h["post"]["post"]["id"] for h in data["hits"]] == ["p11", "p08", "p05"]
    assert main(["search", "--export", "jsonl", "--store", store_url, "--as", "li"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(posts())
    assert main(["search-alerts", "--agency", "police", "--store", store_url, "--as", "duty"]) == 0
    out = capsys.readouterr().out
    assert "汇金宝" in out and "鑫盛贷" not in out
    assert main(["incident", "a1", "--store", store_url, "--as", "li"]) == 0
    out = capsys.readouterr().out
    assert "橙色预警" in out and "依据 (预警所列帖子, 3 条)" in out and "u_p08  鑫盛贷和汇金宝都无法提现" in out
    assert main(["search-audit", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["user"], r["action"], r["results"]) for r in rows] == [
        ("li", "search", 2), ("li", "search", 3), ("li", "export-jsonl-start", -1), ("li", "export-jsonl", 12),
        ("duty", "search-alerts", 1), ("li", "incident", 3)]
    assert main(["search-audit", "--verify"]) == 0
    assert "audit log intact (6 rows, keyed from row 1, no anchors given)" in capsys.readouterr().out
    assert main(["search-audit", "--head", "--json"]) == 0
    anchor = tmp_path / "head.json"
    anchor.write_text(capsys.readouterr().out)
    assert json.loads(anchor.read_text())["seq"] == 6
    assert main(["search-audit", "--verify", "--anchor", str(anchor)]) == 0
    assert "1 anchors match" in capsys.readouterr().out
    db = sqlite3.connect(Settings().data_dir / "access.db")
    db.execute("DROP TRIGGER audit_no_delete")
    db.execute("DELETE FROM audit WHERE seq=2")
    db.execute("DELETE FROM audit WHERE seq=6")  # the last row: the chain alone cannot tell
    db.commit()
    db.close()
    capsys.readouterr()
    assert main(["search-audit", "--verify"]) == 1
    out = capsys.readouterr().out
    assert "TAMPERED: row 2..2 missing" in out and "row 6" not in out
    assert main(["search-audit", "--verify", "--anchor", str(anchor), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["intact"]
    assert "row 6, named by an anchor, is missing (rows cut from the end?)" in report["problems"]
    anchor.write_text("no head here\n")
    assert main(["search-audit", "--verify", "--anchor", str(anchor)]) != 0
    assert "head.json: no head in it" in capsys.readouterr().err


def test_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "create", "--user", "wang", "--role", "duty", "--agency", "police", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert main(["token", "list"]) == 0
    out = capsys.readouterr().out
    assert made["id"] in out and "公安" in out and made["token"] not in out
    assert main(["token", "revoke", "--id", made["id"]]) == 0
    assert main(["token", "revoke", "--id", made["id"]]) == 2
    assert "no active token" in capsys.readouterr().err
    assert main(["token", "create", "--user", "x", "--role", "duty"]) == 2
