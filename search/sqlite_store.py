"""The embedded store: SQLite in WAL mode with an FTS5 index over jieba-segmented text.

One file (``<data_dir>/store.db``). Posts are upserted by id and warnings by key, so a replay
never duplicates. Multi-valued fields (platforms, districts, kinds, labels) live in ``post_terms``
for filtering and facets; the full document is kept as JSON so hits come back as ``ScoredPost``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from yujing.errors import StoreError
from yujing.records import Alert, ScoredPost
from yujing.registry import Registry
from yujing.search import docs
from yujing.search.filters import AlertQuery, check, check_alerts, interval_ms, sort_fields, sort_values
from yujing.search.highlight import highlight
from yujing.search.mapping import FACET_FIELDS
from yujing.search.query import compile_fts5, is_negative, terms
from yujing.search.store import Hit, SearchQuery, SearchResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS posts(
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    ts INTEGER NOT NULL,
    source TEXT NOT NULL,
    rumour REAL NOT NULL, panic REAL NOT NULL, gathering REAL NOT NULL,
    text_seg TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS posts_ts ON posts(ts, id);
CREATE INDEX IF NOT EXISTS posts_source_ts ON posts(source, ts);
CREATE TABLE IF NOT EXISTS post_terms(
    field TEXT NOT NULL, value TEXT NOT NULL, rid INTEGER NOT NULL,
    PRIMARY KEY(field, value, rid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS post_terms_rid ON post_terms(rid);
CREATE VIRTUAL TABLE IF NOT EXISTS posts_fts USING fts5(
    text_seg, content='posts', content_rowid='rid', tokenize='unicode61 remove_diacritics 0'
);
CREATE TRIGGER IF NOT EXISTS posts_ai AFTER INSERT ON posts BEGIN
    INSERT INTO posts_fts(rowid, text_seg) VALUES (new.rid, new.text_seg);
END;
CREATE TRIGGER IF NOT EXISTS posts_ad AFTER DELETE ON posts BEGIN
    INSERT INTO posts_fts(posts_fts, rowid, text_seg) VALUES ('delete', old.rid, old.text_seg);
END;
CREATE TRIGGER IF NOT EXISTS posts_au AFTER UPDATE ON posts BEGIN
    INSERT INTO posts_fts(posts_fts, rowid, text_seg) VALUES ('delete', old.rid, old.text_seg);
    INSERT INTO posts_fts(rowid, text_seg) VALUES (new.rid, new.text_seg);
END;
CREATE TABLE IF NOT EXISTS alerts(
    key TEXT PRIMARY KEY,
    ts INTEGER NOT NULL,
    platform TEXT NOT NULL, district TEXT NOT NULL, signal TEXT NOT NULL,
    level_rank INTEGER NOT NULL, status TEXT NOT NULL,
    explanation_text TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts(ts);
CREATE INDEX IF NOT EXISTS alerts_platform ON alerts(platform, ts);
"""

_UPSERT_POST = """
INSERT INTO posts(id, ts, source, rumour, panic, gathering, text_seg, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET ts=excluded.ts, source=excluded.source, rumour=excluded.rumour,
    panic=excluded.panic, gathering=excluded.gathering, text_seg=excluded.text_seg, doc=excluded.doc
RETURNING rid
"""

_UPSERT_ALERT = """
INSERT INTO alerts(key, ts, platform, district, signal, level_rank, status, explanation_text, doc)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(key) DO UPDATE SET ts=excluded.ts, platform=excluded.platform, district=excluded.district,
    signal=excluded.signal, level_rank=excluded.level_rank, status=excluded.status,
    explanation_text=excluded.explanation_text, doc=excluded.doc
"""

_TERM_FIELDS = ("platforms", "districts", "kinds", "labels")
_SQL_SORT = {"ts": "p.ts", "id": "p.id", "scores.rumour": "p.rumour", "scores.panic": "p.panic",
             "scores.gathering": "p.gathering"}


class _Where:
    """A WHERE clause under construction: SQL fragments and their parameters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list[Any] = []

    def add(self, sql: str, *params: Any) -> None:
        self.parts.append(sql)
        self.params.extend(params)

    def sql(self) -> str:
        return " AND ".join(self.parts) if self.parts else "1"


def _in(values: Sequence[str]) -> str:
    return "(" + ",".join("?" * len(values)) + ")"


class SqliteStore:
    """The ``Store`` over one SQLite file. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path | str, registry: Registry | None = None) -> None:
        self.path = Path(path)
        self.registry = registry
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the embedded store {self.path}: {exc}; "
                             "check the path is writable", retryable=False) from exc

    @contextmanager
    def _tx(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                locked = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
                raise StoreError(f"embedded store {self.path}: {what} failed: {exc}", retryable=locked) from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"embedded store {self.path}: query failed: {exc}", retryable=False) from exc

    # ---- writes --------------------------------------------------------------------------------

    def index_posts(self, posts: Sequence[ScoredPost]) -> None:
        rows = [docs.post_doc(sp, self.registry) for sp in posts]
        with self._tx("index posts") as db:
            for doc in rows:
                self._upsert_post(db, doc)

    def _upsert_post(self, db: sqlite3.Connection, doc: dict[str, Any]) -> None:
        scores = doc["scores"]
        stored = {k: v for k, v in doc.items() if k != "text_seg"}
        ts = docs.ts_ms(docs.parse_ts(doc["ts"]))
        (rid,) = db.execute(_UPSERT_POST, (doc["id"], ts, doc["source"], scores["rumour"], scores["panic"],
                                           scores["gathering"], doc["text_seg"],
                                           json.dumps(stored, ensure_ascii=False))).fetchone()
        db.execute("DELETE FROM post_terms WHERE rid = ?", (rid,))
        db.executemany("INSERT OR IGNORE INTO post_terms(field, value, rid) VALUES (?, ?, ?)",
                       [(f, v, rid) for f in _TERM_FIELDS for v in doc[f]])

    def index_alerts(self, alerts: Sequence[Alert]) -> None:
        rows = [docs.alert_doc(a, self.registry) for a in alerts]
        with self._tx("index alerts") as db:
            db.executemany(_UPSERT_ALERT, [
                (d["key"], docs.ts_ms(docs.parse_ts(d["ts"])), d["platform"], d["district"],
                 d["signal"], d["level_rank"], d["status"], d["explanation_text"],
                 json.dumps({k: v for k, v in d.items() if k != "explanation_text"}, ensure_ascii=False))
                for d in rows])

    # ---- reads ---------------------------------------------------------------------------------

    def count_posts(self) -> int:
        return int(self._read("SELECT count(*) FROM posts")[0][0])

    def search(self, query: SearchQuery) -> SearchResult:
        node = check(query)
        where = self._filters(query)
        if node is not None:
            op = "NOT IN" if is_negative(node) else "IN"
            where.add(f"p.rid {op} (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)", compile_fts5(node))
        total = int(self._read(f"SELECT count(*) FROM posts p WHERE {where.sql()}", where.params)[0][0])
        hits = self._hits(query, where, terms(node)) if query.size else ()
        facets = self._facets(where) if query.facets else {}
        histogram = self._histogram(query, where) if query.histogram else ()
        return SearchResult(total=total, hits=hits, facets=facets, histogram=histogram)

    def _filters(self, query: SearchQuery) -> _Where:
        where = _Where()
        for field, values in (("platforms", query.platforms), ("districts", query.districts)):
            if values:
                where.add(f"p.rid IN (SELECT rid FROM post_terms WHERE field = ? AND value IN {_in(values)})",
                          field, *values)
        if query.signal is not None:
            where.add(f"p.{query.signal.value} >= ?", query.min_score)
        if query.sources:
            where.add(f"p.source IN {_in(query.sources)}", *query.sources)
        if query.since is not None:
            where.add("p.ts >= ?", docs.ts_ms(query.since))
        if query.until is not None:
            where.add("p.ts < ?", docs.ts_ms(query.until))
        return where

    def _hits(self, query: SearchQuery, where: _Where, phrases: list[tuple[str, ...]]) -> tuple[Hit, ...]:
        fields = sort_fields(query)
        page = _Where()
        page.parts, page.params = list(where.parts), list(where.params)
        if query.search_after is not None:
            _after(page, fields, query.search_after)
        order = ", ".join(f"{_SQL_SORT[f]} {'DESC' if desc else 'ASC'}" for f, desc in fields)
        rows = self._read(f"SELECT p.ts, p.doc FROM posts p WHERE {page.sql()} ORDER BY {order} LIMIT ?",
                          [*page.params, query.size])
        hits: list[Hit] = []
        for ts, raw in rows:
            doc = json.loads(raw)
            hits.append(Hit(post=docs.post_from_doc(doc), highlight=highlight(doc["text"], phrases),
                            sort=sort_values(query, ts, doc["id"], doc["scores"])))
        return tuple(hits)

    def _facets(self, where: _Where) -> dict[str, dict[str, int]]:
        facets: dict[str, dict[str, int]] = {}
        for name, field in FACET_FIELDS.items():
            if field == "source":
                sql = f"SELECT p.source, count(*) FROM posts p WHERE {where.sql()} GROUP BY p.source"
                params = where.params
            else:
                sql = (f"SELECT t.value, count(*) FROM post_terms t JOIN posts p ON p.rid = t.rid "
                       f"WHERE t.field = ? AND {where.sql()} GROUP BY t.value")
                params = [field, *where.params]
            rows = self._read(sql, params)
            facets[name] = dict(sorted(((str(v), int(n)) for v, n in rows), key=lambda kv: (-kv[1], kv[0])))
        return facets

    def _histogram(self, query: SearchQuery, where: _Where) -> tuple[tuple[datetime, int], ...]:
        step = interval_ms(query.histogram)
        rows = self._read(f"SELECT (p.ts - (p.ts % ?)) AS b, count(*) FROM posts p WHERE {where.sql()} "
                          f"GROUP BY b ORDER BY b", [step, *where.params])
        return tuple((docs.from_ms(int(b)), int(n)) for b, n in rows)

    # ---- warnings and the incident view --------------------------------------------------------

    def get_posts(self, ids: Sequence[str]) -> list[ScoredPost]:
        """The posts with these ids, in the order given (missing ids are skipped)."""
        found: dict[str, ScoredPost] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            for (raw,) in self._read(f"SELECT doc FROM posts WHERE id IN {_in(chunk)}", chunk):
                sp = docs.post_from_doc(json.loads(raw))
                found[sp.id] = sp
        return [found[i] for i in ids if i in found]

    def get_alert(self, key: str) -> Alert | None:
        rows = self._read("SELECT doc FROM alerts WHERE key = ?", (key,))
        return docs.alert_from_doc(json.loads(rows[0][0])) if rows else None

    def search_alerts(self, query: AlertQuery) -> list[Alert]:
        check_alerts(query)
        where = _Where()
        if query.platforms:
            where.add(f"platform IN {_in(query.platforms)}", *query.platforms)
        if query.districts:
            where.add(f"district IN {_in(query.districts)}", *query.districts)
        if query.signal is not None:
            where.add("signal = ?", query.signal.value)
        if query.min_level is not None:
            where.add("level_rank >= ?", query.min_level.rank)
        if query.status:
            where.add("status = ?", query.status)
        if query.since is not None:
            where.add("ts >= ?", docs.ts_ms(query.since))
        if query.until is not None:
            where.add("ts < ?", docs.ts_ms(query.until))
        rows = self._read(f"SELECT key, explanation_text, doc FROM alerts WHERE {where.sql()} "
                          "ORDER BY ts DESC, key DESC", where.params)
        return alerts_matching(rows, query)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _after(where: _Where, fields: list[tuple[str, bool]], values: Sequence[Any]) -> None:
    """Keyset pagination: rows strictly after ``values`` in the sort order."""
    clauses: list[str] = []
    params: list[Any] = []
    for i, (field, desc) in enumerate(fields):
        eq = [f"{_SQL_SORT[f]} = ?" for f, _ in fields[:i]]
        clauses.append("(" + " AND ".join([*eq, f"{_SQL_SORT[field]} {'<' if desc else '>'} ?"]) + ")")
        params.extend([*values[:i], values[i]])
    where.add("(" + " OR ".join(clauses) + ")", *params)


def alerts_matching(rows: Sequence[tuple[str, str, str]], query: AlertQuery) -> list[Alert]:
    """Apply the agency and text parts of an alert query (few rows: done in Python)."""
    from yujing.search.query import matches, parse

    node = parse(query.text) if query.text.strip() else None
    out: list[Alert] = []
    for _key, seg, raw in rows:
        doc = json.loads(raw)
        if query.agencies and not set(query.agencies) & set(doc["agencies"]):
            continue
        if node is not None and not matches(node, seg.split()):
            continue
        out.append(docs.alert_from_doc(doc))
        if len(out) >= query.size:
            break
    return out
