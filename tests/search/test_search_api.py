"""The search HTTP API through FastAPI's TestClient, on the embedded store and on osmem (both adapters):
roles, audit, export round-trips, saved searches and cursor pagination."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.search.search_corpus import alerts, posts
from tests.search.search_servers import cloned
from yujing.clock import ManualClock
from yujing.errors import InputError
from yujing.search.access import AccessStore
from yujing.search.api import make_router
from yujing.search.incident import SearchBackend
from yujing.search.open import open_store
from yujing.search.server_store import ServerStore
from yujing.search.sqlite_store import SqliteStore
from yujing.settings import Settings

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


class Api:
    def __init__(self, client: TestClient, access: AccessStore, store: SearchBackend) -> None:
        self.client = client
        self.access = access
        self.store = store
        _, self.analyst = access.create_token("li.analyst", "analyst", NOW)
        _, self.police = access.create_token("duty.police", "duty", NOW, agency="police")
        _, self.admin = access.create_token("root", "admin", NOW)

    def get(self, path: str, token: str, **params: object) -> object:
        r = self.client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})  # type: ignore[arg-type]
        assert r.status_code == 200, r.text
        return r.json() if r.headers["content-type"] == "application/json" else r.text


@pytest.fixture(scope="module", params=["sqlite", "opensearch", "elasticsearch"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("api")
    with ExitStack() as stack:
        if request.param == "sqlite":
            store: SearchBackend = SqliteStore(tmp / "store.db")
        else:
            request.applymarker(pytest.mark.integration)
            url = stack.enter_context(cloned(request.getfixturevalue("osmem_server"), request.param))
            store = open_store(url)  # type: ignore[assignment]
        store.index_posts(posts())
        store.index_alerts(alerts())
        if isinstance(store, ServerStore):
            store.refresh()
        access = AccessStore(tmp / "access.db")
        app = FastAPI()
        app.include_router(make_router(Settings(data_dir=tmp), store=store, access=access, clock=ManualClock(NOW)))
        yield Api(TestClient(app), access, store)
        access.close()
        store.close()


def test_unauthenticated_and_bad_tokens_get_401(api: Api) -> None:
    assert api.client.get("/search/posts").status_code == 401
    assert api.client.get("/search/posts", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_search_filters_highlights_facets(api: Api) -> None:
    out = api.get("/search/posts", api.analyst, q='"无法提现"', facets=True, histogram="1h")
    assert isinstance(out, dict)
    assert [h["post"]["id"] for h in out["hits"]] == ["p08", "p01"]
    assert "<em>" in out["hits"][0]["highlight"]
    assert out["facets"]["platform"] == {"鑫盛贷": 2, "汇金宝": 1}
    assert all(h["post"]["author"].startswith("u_") for h in out["hits"])
    out = api.get("/search/posts", api.analyst, signal="gathering", min_score=0.9, sort="score")
    assert isinstance(out, dict) and [h["post"]["id"] for h in out["hits"]] == ["p03", "p09"]
    bad = api.client.get("/search/posts", params={"since": "yesterday"},
                         headers={"Authorization": f"Bearer {api.analyst}"})
    assert bad.status_code == 400 and "offset" in bad.text


def test_cursor_pages_cover_all_hits_without_duplicates(api: Api) -> None:
    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        out = api.get("/search/posts", api.analyst, size=5, cursor=cursor)
        assert isinstance(out, dict)
        seen += [h["post"]["id"] for h in out["hits"]]
        cursor = out["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == len(posts())


def test_duty_officer_sees_only_its_agency(api: Api) -> None:
    mine = api.get("/search/alerts", api.police)
    assert isinstance(mine, list) and [a["key"] for a in mine] == ["a2"]
    everything = api.get("/search/alerts", api.analyst)
    assert isinstance(everything, list) and sorted(a["key"] for a in everything) == ["a1", "a2", "a3"]
    headers = {"Authorization": f"Bearer {api.police}"}
    assert api.client.get("/search/incident/a1", headers=headers).status_code == 404
    assert api.client.get("/search/posts", headers=headers).status_code == 403
    view = api.get("/search/incident/a2", api.police)
    assert isinstance(view, dict) and [p["id"] for p in view["posts"]] == ["p09"]


def test_export_round_trips_and_is_audited(api: Api) -> None:
    before = len(api.access.audit_rows(1000))
    jl = api.get("/search/export", api.analyst, q="提现", format="jsonl")
    assert isinstance(jl, str)
    rows = [json.loads(line) for line in jl.splitlines()]
    assert [r["id"] for r in rows] == ["p12", "p11", "p08", "p05", "p01"]
    text = api.get("/search/export", api.analyst, q="提现", format="csv")
    assert isinstance(text, str)
    back = list(csv.DictReader(io.StringIO(text)))
    assert [r["id"] for r in back] == [r["id"] for r in rows]
    assert back[0]["text"] == rows[0]["text"] and float(back[0]["panic"]) == rows[0]["panic"]
    audit = api.access.audit_rows(1000)[before:]
    assert [(a["user"], a["action"], a["results"]) for a in audit] == [
        ("li.analyst", "export-jsonl-start", -1), ("li.analyst", "export-jsonl", 5),
        ("li.analyst", "export-csv-start", -1), ("li.analyst", "export-csv", 5)]
    assert json.loads(audit[1]["query"]) == {"q": "提现", "min_score": 0.5, "sort": "newest"}  # size: all


def test_a_bad_export_fails_before_any_row_and_a_broken_off_one_is_on_record(api: Api) -> None:
    from yujing.search import service

    h = {"Authorization": f"Bearer {api.analyst}"}
    for bad in ({"q": "(提现"}, {"sort": "score"}, {"since": "2016-09-10T00:00:00+08:00",
                                                     "until": "2016-09-01T00:00:00+08:00"}):
        r = api.client.get("/search/export", params={**bad, "format": "csv"}, headers=h)
        assert r.status_code == 400, (bad, r.status_code, r.text[:200])
    before = len(api.access.audit_rows(1000))
    who = api.access.authenticate(api.analyst)
    assert who is not None
    lines = service.export_lines(api.store, api.access, who, service.SearchParams(q="提现"), "jsonl")
    next(lines)  # the client reads one row, then goes away
    lines.close()
    audit = api.access.audit_rows(1000)[before:]
    assert [(a["action"], a["results"]) for a in audit] == [("export-jsonl-start", -1), ("export-jsonl", 1)]


def test_a_refused_search_is_audited_and_a_bad_size_is_a_400(api: Api) -> None:
    before = len(api.access.audit_rows(1000))
    h = {"Authorization": f"Bearer {api.analyst}"}
    assert api.client.get("/search/posts", params={"q": "(提现"}, headers=h).status_code == 400
    [row] = api.access.audit_rows(1000)[before:]
    assert (row["action"], row["results"], json.loads(row["query"])["q"]) == ("search", -1, "(提现")
    r = api.client.post("/search/saved", json={"name": "大小", "params": {"q": "提现"}}, headers=h)
    assert r.status_code == 201, r.text
    bad = api.client.get(f"/search/saved/{r.json()['id']}/run", params={"size": "ten"}, headers=h)
    assert bad.status_code == 400 and "whole number" in bad.text
    api.client.delete(f"/search/saved/{r.json()['id']}", headers=h)


def test_min_score_zero_is_audited_as_asked(api: Api) -> None:
    before = len(api.access.audit_rows(1000))
    api.get("/search/posts", api.analyst, q="提现", signal="panic", min_score=0)
    [row] = api.access.audit_rows(1000)[before:]
    assert json.loads(row["query"])["min_score"] == 0


def test_saved_searches_per_user(api: Api) -> None:
    h = {"Authorization": f"Bearer {api.analyst}"}
    r = api.client.post("/search/saved", json={"name": "挤兑", "params": {"q": "提现", "platform": ["汇金宝"]}},
                        headers=h)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    ran = api.get(f"/search/saved/{sid}/run", api.analyst)
    assert isinstance(ran, dict) and [x["post"]["id"] for x in ran["hits"]] == ["p11", "p08", "p05"]
    assert api.get("/search/saved", api.admin) == []  # another user's list
    assert api.client.get(f"/search/saved/{sid}/run", headers={"Authorization": f"Bearer {api.admin}"}
                          ).status_code == 404
    bad = api.client.post("/search/saved", json={"name": "x", "params": {"nonsense": 1}}, headers=h)
    assert bad.status_code == 400
    assert api.client.delete(f"/search/saved/{sid}", headers=h).status_code == 204
    assert api.get("/search/saved", api.analyst) == []


def test_every_search_is_audited_and_chain_verifies(api: Api) -> None:
    before = len(api.access.audit_rows(1000))
    api.get("/search/posts", api.analyst, q="跑路")
    api.get("/search/alerts", api.police)
    rows = api.access.audit_rows(1000)[before:]
    assert [(r["user"], r["role"], r["action"], r["results"]) for r in rows] == [
        ("li.analyst", "analyst", "search", 2), ("duty.police", "duty", "search-alerts", 1)]
    assert rows[0]["ts"] == NOW.isoformat()
    assert api.access.verify() == []


def test_audit_refuses_edits_and_detects_tampering(tmp_path: Path) -> None:
    from yujing.search.access import Principal

    access = AccessStore(tmp_path / "a.db")
    who = Principal("li", "analyst")
    for i in range(3):
        access.audit(who, "search", {"q": f"q{i}"}, i, NOW)
    access.close()
    db = sqlite3.connect(tmp_path / "a.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit SET results=99 WHERE seq=2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit WHERE seq=2")
    # going around the triggers (as someone with the file could) is detected
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET results=99 WHERE seq=2")
    db.commit()
    db.close()
    assert AccessStore(tmp_path / "a.db").verify() == ["row 2: contents changed after it was written"]


def _tamper(path: Path, *sql: str) -> None:
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER IF EXISTS audit_no_update")
    db.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    for statement in sql:
        db.execute(statement)
    db.commit()
    db.close()


def test_a_keyed_chain_cannot_be_recomputed_without_the_key(tmp_path: Path) -> None:
    """Someone with the file but not the key edits a row and recomputes every hash after it, as the unkeyed
    chain would have let them: verify still finds it."""
    from yujing.search.access import Principal, audit_key, row_hash

    key = audit_key(b"pseudonym key")
    access = AccessStore(tmp_path / "a.db", key=key)
    for i in range(3):
        access.audit(Principal("li", "analyst"), "search", {"q": f"q{i}"}, i, NOW)
    assert access.verify() == [] and access.keyed_from() == 1
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        access._db.execute("DELETE FROM meta")  # the keyed-from marker is as append-only as the rows
    rows = access._db.execute("SELECT seq,ts,user,role,action,query,results FROM audit ORDER BY seq").fetchall()
    access.close()
    prev, forged = "0" * 64, []
    for seq, ts, user, role, action, query, results in rows:
        results = 0 if seq == 2 else results
        h = row_hash(prev, ts, user, role, action, query, results)  # sha256: the best a forger can do
        forged.append(f"UPDATE audit SET results={results}, prev='{prev}', hash='{h}' WHERE seq={seq}")
        prev = h
    _tamper(tmp_path / "a.db", *forged)
    problems = AccessStore(tmp_path / "a.db", key=key).verify()
    assert problems == [f"row {n}: contents changed after it was written" for n in (1, 2, 3)]
    assert AccessStore(tmp_path / "a.db", key=audit_key(b"another key")).verify()[0].startswith(
        "the keyed-from marker (row 1) was not written with this key")
    assert AccessStore(tmp_path / "a.db").verify() == [
        "the chain is keyed: verify it with the key (yujing search-audit --verify)"]
    with pytest.raises(InputError, match="this audit log is keyed"):
        AccessStore(tmp_path / "a.db").audit(Principal("li", "analyst"), "search", {}, 0, NOW)


def test_an_unkeyed_log_is_keyed_from_its_next_row(tmp_path: Path) -> None:
    from yujing.search.access import Principal, audit_key

    old = AccessStore(tmp_path / "a.db")  # a file written before the chain was keyed
    for i in range(2):
        old.audit(Principal("li", "analyst"), "search", {"q": f"q{i}"}, i, NOW)
    old.close()
    access = AccessStore(tmp_path / "a.db", key=audit_key(b"k"))
    access.audit(Principal("li", "analyst"), "search", {"q": "q2"}, 2, NOW)
    assert access.keyed_from() == 3 and access.verify() == []
    access.close()
    _tamper(tmp_path / "a.db", "UPDATE audit SET results=99 WHERE seq=1")
    assert AccessStore(tmp_path / "a.db", key=audit_key(b"k")).verify() == [
        "row 1: contents changed after it was written"]


def test_anchors_find_rows_cut_from_the_end(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Cutting the last rows leaves a valid chain; a head kept elsewhere (here: the service's log) does not
    match it any more."""
    import logging

    from yujing.search.access import Principal, audit_key, parse_anchors

    access = AccessStore(tmp_path / "a.db", key=audit_key(b"k"))
    with caplog.at_level(logging.INFO, logger="yujing.audit"):
        for i in range(4):
            access.audit(Principal("li", "analyst"), "search", {"q": f"q{i}"}, i, NOW)
    head = access.head()
    assert head is not None and head.seq == 4
    logged = parse_anchors("\n".join(r.getMessage() for r in caplog.records))
    assert [seq for seq, _ in logged] == [1, 2, 3, 4] and logged[-1] == (head.seq, head.hash)
    assert parse_anchors(json.dumps(head.to_dict())) == [(4, head.hash)]
    assert access.verify(logged) == []
    access.close()
    _tamper(tmp_path / "a.db", "DELETE FROM audit WHERE seq >= 3")
    cut = AccessStore(tmp_path / "a.db", key=audit_key(b"k"))
    assert cut.verify() == []  # the chain alone cannot tell
    assert cut.verify(logged) == [f"row {n}, named by an anchor, is missing (rows cut from the end?)" for n in (3, 4)]
    cut.audit(Principal("li", "analyst"), "search", {"q": "other"}, 0, NOW)  # a new row 3 in place of the old
    assert "row 3 differs from its anchor (the chain was rewritten)" in cut.verify(logged)


def test_a_serving_process_writes_each_head_to_its_log(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    import logging

    from yujing.search.access import Principal, audit_key, log_heads, parse_anchors

    logger = logging.getLogger("yujing.audit")
    before, level = list(logger.handlers), logger.level
    try:
        log_heads()
        log_heads()  # once is enough: no second copy of each line
        access = AccessStore(tmp_path / "a.db", key=audit_key(b"k"))
        access.audit(Principal("li", "analyst"), "search", {"q": "提现"}, 3, NOW)
        lines = [line for line in capfd.readouterr().err.splitlines() if "yujing.audit" in line]
        head = access.head()
        assert head is not None and len(lines) == 1 and parse_anchors(lines[0]) == [(1, head.hash)]
    finally:
        logger.handlers[:] = before
        logger.setLevel(level)


def test_tokens_are_stored_hashed_and_revocable(tmp_path: Path) -> None:
    access = AccessStore(tmp_path / "a.db")
    tid, secret = access.create_token("li", "analyst", NOW)
    raw = (tmp_path / "a.db").read_bytes()
    assert secret.encode() not in raw
    assert access.authenticate(secret) is not None
    assert access.revoke(tid, NOW) and access.authenticate(secret) is None
    from yujing.errors import InputError

    with pytest.raises(InputError, match="agency"):
        access.create_token("x", "duty", NOW)


def test_saved_searches_follow_the_role(api: Api) -> None:
    """A duty officer saves, sees and runs only warning searches, cut to its agency at run time; a
    post search saved under the same user name by an analyst token is neither listed nor runnable."""
    police = {"Authorization": f"Bearer {api.police}"}
    r = api.client.post("/search/saved", json={"name": "posts", "params": {"q": "提现"}}, headers=police)
    assert r.status_code == 403 and "alerts" in r.text
    r = api.client.post("/search/saved", json={"name": "all warnings", "kind": "alerts", "params": {}},
                        headers=police)
    assert r.status_code == 201, r.text
    duty_sid = r.json()["id"]
    assert [x["key"] for x in api.get(f"/search/saved/{duty_sid}/run", api.police)] == ["a2"]  # type: ignore[union-attr]
    # the same user name on an analyst token: its post search is hidden from, and refused to, the duty token
    _, twin = api.access.create_token("duty.police", "analyst", NOW)
    twin_h = {"Authorization": f"Bearer {twin}"}
    r = api.client.post("/search/saved", json={"name": "panic", "params": {"q": "提现"}}, headers=twin_h)
    assert r.status_code == 201, r.text
    posts_sid = r.json()["id"]
    listed = api.get("/search/saved", api.police)
    assert isinstance(listed, list) and [(s["id"], s["kind"]) for s in listed] == [(duty_sid, "alerts")]
    refused = api.client.get(f"/search/saved/{posts_sid}/run", headers=police)
    assert refused.status_code == 403 and "may not run" in refused.text
    ran = api.get(f"/search/saved/{posts_sid}/run", twin)
    assert isinstance(ran, dict) and ran["total"] == 5
    # nor can the duty token overwrite it by name or delete it
    r = api.client.post("/search/saved", json={"name": "panic", "kind": "alerts", "params": {}}, headers=police)
    assert r.status_code == 409 and "choose another name" in r.text
    assert api.client.delete(f"/search/saved/{posts_sid}", headers=police).status_code == 404
    kept = api.get("/search/saved", twin)
    assert isinstance(kept, list) and any(x["id"] == posts_sid and x["kind"] == "posts" for x in kept)
    # an analyst's warning search sees every agency's warnings
    everything = api.get(f"/search/saved/{duty_sid}/run", twin)
    assert isinstance(everything, list) and sorted(x["key"] for x in everything) == ["a1", "a2", "a3"]
    # other users see none of it
    assert api.get("/search/saved", api.analyst) == []
    assert api.client.get(f"/search/saved/{duty_sid}/run",
                          headers={"Authorization": f"Bearer {api.analyst}"}).status_code == 404
    # runs are audited with the saved search's id
    last = api.access.audit_rows(3)
    assert [(a["user"], a["role"], a["action"], json.loads(a["query"]).get("saved")) for a in last] == [
        ("duty.police", "duty", "search-alerts", duty_sid), ("duty.police", "analyst", "search", posts_sid),
        ("duty.police", "analyst", "search-alerts", duty_sid)]
    bad = api.client.post("/search/saved", json={"name": "x", "kind": "alerts", "params": {"level": "purple"}},
                          headers=police)
    assert bad.status_code == 400 and "level" in bad.text
