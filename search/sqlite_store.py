"""The embedded store: SQLite in WAL mode with an FTS5 index over jieba-segmented text.

One file (``<data_dir>/store.db``). Posts are upserted by id and warnings by key, so a replay
never duplicates.

Layout, chosen for the analysts' queries at a million posts (``bench/search_bench.py``):

- ``posts`` is narrow (filter and facet columns only) and its rowid ``rid`` is ``(ts_ms << 20) | n``:
  rowid order *is* time order. FTS5, ``post_terms`` and ``posts`` all return rows in rowid order, so
  "newest first" is a LIMIT on a rowid-ordered scan (no sort of the match set) and a time window is a
  rowid range FTS5 seeks to. Ties inside one millisecond are put in ``(ts, id)`` order in Python.
- ``post_docs`` holds the full document (JSON) and the segmented text; it is the FTS5 content table
  and is read only for the hits of a page.
- ``post_terms`` (field, value, rid) drives one-platform/district searches newest-first.

Two read paths give the same answers (``tests/search/test_search_columns.py``): small stores run in
SQL; from ``COLUMNS_FROM`` posts a search runs on in-memory numpy columns (``columns.py``: counts,
facets, histograms, top-k pages) that follow the store through ``posts.wseq`` (the write batch of each
row) and ``posts_gone``; SQL then only matches the text (FTS5 rowids) and reads the page's documents.
A search by text, one platform or a time window alone, sorted by time, with no facets or histogram,
stays in SQL at any size (a native count and a LIMIT).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from yujing.errors import StoreError
from yujing.records import Alert, ScoredPost
from yujing.registry import Registry
from yujing.search import docs
from yujing.search.columns import LABEL_BITS, SEP, TIE_BITS, Columns, Filters, Row, ordered_counts
from yujing.search.filters import AlertQuery, check, check_alerts, interval_ms, sort_fields, sort_values
from yujing.search.highlight import highlight
from yujing.search.query import compile_fts5, is_negative, terms
from yujing.search.store import Hit, SearchQuery, SearchResult

SCHEMA_VERSION = 2
# TIE_BITS: rid = (ts_ms << TIE_BITS) | n, up to 2**20 posts in one millisecond; SEP separates the
# values in posts.plats / posts.dists (with one at each end)
COLUMNS_FROM = 20_000  # from this many posts, searches run on in-memory columns (``columns.py``)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS posts(
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    ts INTEGER NOT NULL,
    source TEXT NOT NULL,
    rumour REAL NOT NULL, panic REAL NOT NULL, gathering REAL NOT NULL,
    labels INTEGER NOT NULL,
    plats TEXT NOT NULL,
    dists TEXT NOT NULL,
    wseq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS posts_wseq ON posts(wseq);
CREATE TABLE IF NOT EXISTS posts_gone(rid INTEGER PRIMARY KEY, wseq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS store_meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);
INSERT OR IGNORE INTO store_meta VALUES ('wseq', 0), ('posts', 0);
CREATE TABLE IF NOT EXISTS post_docs(
    rid INTEGER PRIMARY KEY,
    text_seg TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS post_terms(
    field TEXT NOT NULL, value TEXT NOT NULL, rid INTEGER NOT NULL,
    PRIMARY KEY(field, value, rid)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS posts_fts USING fts5(
    text_seg, content='post_docs', content_rowid='rid', tokenize='unicode61 remove_diacritics 0'
);
CREATE TRIGGER IF NOT EXISTS post_docs_ai AFTER INSERT ON post_docs BEGIN
    INSERT INTO posts_fts(rowid, text_seg) VALUES (new.rid, new.text_seg);
END;
CREATE TRIGGER IF NOT EXISTS post_docs_ad AFTER DELETE ON post_docs BEGIN
    INSERT INTO posts_fts(posts_fts, rowid, text_seg) VALUES ('delete', old.rid, old.text_seg);
END;
CREATE TRIGGER IF NOT EXISTS post_docs_au AFTER UPDATE ON post_docs BEGIN
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

# the version-1 layout (one wide posts table); opened stores are migrated (``_migrate_v1``)
_DROP_V1 = """
DROP TRIGGER IF EXISTS posts_ai; DROP TRIGGER IF EXISTS posts_ad; DROP TRIGGER IF EXISTS posts_au;
DROP TABLE IF EXISTS posts_fts; DROP TABLE IF EXISTS post_terms;
ALTER TABLE posts RENAME TO posts_v1;
DROP INDEX IF EXISTS posts_ts; DROP INDEX IF EXISTS posts_source_ts; DROP INDEX IF EXISTS post_terms_rid;
"""

_UPSERT_ALERT = """
INSERT INTO alerts(key, ts, platform, district, signal, level_rank, status, explanation_text, doc)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(key) DO UPDATE SET ts=excluded.ts, platform=excluded.platform, district=excluded.district,
    signal=excluded.signal, level_rank=excluded.level_rank, status=excluded.status,
    explanation_text=excluded.explanation_text, doc=excluded.doc
"""

_TERM_FIELDS = ("platforms", "districts")
_SQL_SORT = {"ts": "p.ts", "id": "p.id", "scores.rumour": "p.rumour", "scores.panic": "p.panic",
             "scores.gathering": "p.gathering"}


def rid_floor(ms: int) -> int:
    """The smallest rid of a post at epoch millisecond ``ms``."""
    return ms << TIE_BITS


def _joined(values: Sequence[str]) -> str:
    unique = list(dict.fromkeys(values))
    return SEP + SEP.join(unique) + SEP if unique else ""


def _in(values: Sequence[Any]) -> str:
    return "(" + ",".join("?" * len(values)) + ")"


@dataclass
class _Plan:
    """Where the matching rows come from and what they must satisfy.

    ``source`` is the driving table: ``fts`` (posts_fts f, text), ``terms`` (post_terms t, one
    platform or district) or ``posts`` (posts p). ``rid`` is its rowid expression; ``conds`` are
    on that driver (FTS MATCH, term, rid range), ``pconds`` on ``posts p`` (joined only if any)."""

    source: str
    rid: str
    conds: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    pconds: list[str] = field(default_factory=list)
    pparams: list[Any] = field(default_factory=list)

    def sql(self, extra: Sequence[str] = (), need_posts: bool = False) -> str:
        """``FROM ... WHERE ...`` with ``extra`` conditions (on ``rid`` or ``p``)."""
        join = need_posts or bool(self.pconds)
        if self.source == "fts":
            frm = "posts_fts f" + (" CROSS JOIN posts p ON p.rid = f.rowid" if join else "")
        elif self.source == "terms":
            frm = "post_terms t" + (" CROSS JOIN posts p ON p.rid = t.rid" if join else "")
        else:
            frm = "posts p"
        where = [*self.conds, *self.pconds, *extra] or ["1"]
        return f"FROM {frm} WHERE {' AND '.join(where)}"

    def args(self, *extra: Any) -> list[Any]:
        return [*self.params, *self.pparams, *extra]


class SqliteStore:
    """The ``Store`` over one SQLite file. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path | str, registry: Registry | None = None, columns_from: int = COLUMNS_FROM) -> None:
        self.path = Path(path)
        self.registry = registry
        self.columns_from = columns_from
        self._columns: Columns | None = None
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache
            self._db.execute("PRAGMA mmap_size=1073741824")  # read pages through the OS cache
            self._db.execute("PRAGMA temp_store=MEMORY")
            old = self._db.execute("SELECT 1 FROM pragma_table_info('posts') WHERE name = 'doc'").fetchone()
            if old:
                self._migrate_v1()
            else:
                self._db.executescript(_SCHEMA)
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the embedded store {self.path}: {exc}; "
                             "check the path is writable", retryable=False) from exc

    def _migrate_v1(self) -> None:
        """Rewrite a version-1 store (one wide posts table) into this layout, in one transaction."""
        db = self._db
        db.executescript("BEGIN IMMEDIATE;" + _DROP_V1 + _SCHEMA)  # stays open until the COMMIT below
        try:
            self._copy_v1(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")

    def _copy_v1(self, db: sqlite3.Connection) -> None:
        last = -1
        while True:
            rows = db.execute("SELECT rid, text_seg, doc FROM posts_v1 WHERE rid > ? ORDER BY rid LIMIT 5000",
                              (last,)).fetchall()
            if not rows:
                break
            seq = self._next_seq(db)
            for rid, seg, raw in rows:
                self._upsert_post(db, {**json.loads(raw), "text_seg": seg}, seq)
                last = rid
        db.execute("DROP TABLE posts_v1")
        db.execute("UPDATE store_meta SET v = (SELECT count(*) FROM posts) WHERE k = 'posts'")

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
            seq = self._next_seq(db)
            added = sum(self._upsert_post(db, doc, seq) for doc in rows)
            db.execute("UPDATE store_meta SET v = v + ? WHERE k = 'posts'", (added,))

    @staticmethod
    def _next_seq(db: sqlite3.Connection) -> int:
        (seq,) = db.execute("UPDATE store_meta SET v = v + 1 WHERE k = 'wseq' RETURNING v").fetchone()
        return int(seq)

    def _upsert_post(self, db: sqlite3.Connection, doc: dict[str, Any], seq: int) -> int:
        """Write one post in write batch ``seq``; 1 if it is new, else 0."""
        scores = doc["scores"]
        ts = docs.ts_ms(docs.parse_ts(doc["ts"]))
        stored = json.dumps({k: v for k, v in doc.items() if k != "text_seg"}, ensure_ascii=False)
        plats, dists = _joined(doc["platforms"]), _joined(doc["districts"])
        labels = sum(LABEL_BITS.get(label, 0) for label in set(doc["labels"]))
        columns = (doc["source"], scores["rumour"], scores["panic"], scores["gathering"], labels, plats, dists)
        old = db.execute("SELECT rid, ts, plats, dists FROM posts WHERE id = ?", (doc["id"],)).fetchone()
        if old is not None and old[1] == ts:  # same time: update in place
            rid = int(old[0])
            db.execute("UPDATE posts SET source=?, rumour=?, panic=?, gathering=?, labels=?, plats=?, dists=?, "
                       "wseq=? WHERE rid=?", (*columns, seq, rid))
            db.execute("UPDATE post_docs SET text_seg=?, doc=? WHERE rid=?", (doc["text_seg"], stored, rid))
            _delete_terms(db, rid, old[2], old[3])
        else:
            if old is not None:  # the time changed, so does its place in rid order
                db.execute("DELETE FROM posts WHERE rid=?", (old[0],))
                db.execute("INSERT OR REPLACE INTO posts_gone(rid, wseq) VALUES (?, ?)", (old[0], seq))
                db.execute("DELETE FROM post_docs WHERE rid=?", (old[0],))
                _delete_terms(db, int(old[0]), old[2], old[3])
            floor = rid_floor(ts)
            (top,) = db.execute("SELECT max(rid) FROM posts WHERE rid >= ? AND rid < ?",
                                (floor, rid_floor(ts + 1))).fetchone()
            rid = floor if top is None else int(top) + 1
            if rid >= rid_floor(ts + 1):
                raise sqlite3.IntegrityError(f"more than {1 << TIE_BITS} posts at {doc['ts']}")
            db.execute("INSERT INTO posts(rid, id, ts, source, rumour, panic, gathering, labels, plats, dists, wseq) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (rid, doc["id"], ts, *columns, seq))
            db.execute("INSERT INTO post_docs(rid, text_seg, doc) VALUES (?, ?, ?)", (rid, doc["text_seg"], stored))
        db.executemany("INSERT OR IGNORE INTO post_terms(field, value, rid) VALUES (?, ?, ?)",
                       [(f, v, rid) for f in _TERM_FIELDS for v in doc[f]])
        return 1 if old is None else 0

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
        with self._lock:
            if self._columns is None and int(self._read(
                    "SELECT v FROM store_meta WHERE k = 'posts'")[0][0]) >= self.columns_from:
                self._columns = Columns()
        plan = _plan(query, node)
        with self._lock:
            # a search by text, one platform or a time window alone, paged by time, is as fast in SQL at
            # any size (a native FTS5/index/rowid-range count and a LIMIT on the rowid-ordered scan), and
            # spares a one-shot process (the CLI, the situation page) loading the columns
            sql_is_enough = not plan.pconds and query.sort != "score" and not query.facets and not query.histogram
            if self._columns is not None and not sql_is_enough:
                return self._search_columns(self._columns, query, node)
        facets: dict[str, dict[str, int]] = {}
        if query.facets:
            facets, total = self._facets(plan)
        else:
            total = int(self._read(f"SELECT count(*) {plan.sql()}", plan.args())[0][0])
        hits = self._hits(query, plan, terms(node)) if query.size and total else ()
        histogram = self._histogram(query, plan) if query.histogram else ()
        return SearchResult(total=total, hits=hits, facets=facets, histogram=histogram)

    # -- on in-memory columns (large stores) --

    def _search_columns(self, cols: Columns, query: SearchQuery, node: Any) -> SearchResult:
        """One read snapshot: merge what was written since the last search, match the text with FTS5
        (its rowids only), then filter, count, aggregate and page in numpy; read only the page's docs."""
        self._db.execute("BEGIN")
        try:
            self._refresh(cols)
            f = Filters(lo_rid=None if query.since is None else rid_floor(docs.ts_ms(query.since)),
                        hi_rid=None if query.until is None else rid_floor(docs.ts_ms(query.until)),
                        platforms=query.platforms, districts=query.districts,
                        signal=None if query.signal is None else query.signal.value, min_score=query.min_score,
                        sources=query.sources)
            matched = None if node is None else self._fts_rids(compile_fts5(node), f)
            negative = node is not None and is_negative(node)
            pos = cols.positions(f, None if negative else matched, matched if negative else None)
            total = len(pos)
            facets = cols.facets(pos) if query.facets else {}
            histogram = tuple((docs.from_ms(b), n) for b, n in cols.histogram(pos, interval_ms(query.histogram))) \
                if query.histogram else ()
            keys = cols.page(pos, query.size, query.signal.value if query.sort == "score" and query.signal else None,
                             query.sort != "oldest", query.search_after, self._ids_of) if query.size and total else []
            hits = self._docs(query, keys, terms(node))
        finally:
            self._db.execute("COMMIT")
        return SearchResult(total=total, hits=hits, facets=facets, histogram=histogram)

    def _refresh(self, cols: Columns) -> None:
        seq = int(self._read("SELECT v FROM store_meta WHERE k = 'wseq'")[0][0])
        if seq == cols.seq:
            return
        select = "SELECT rid, source, labels, plats, dists, rumour, panic, gathering FROM posts"
        if cols.seq == 0:  # the first load: every row, in rid order
            cols.apply(self._read(select), [], ordered=True)
        else:
            rows: list[Row] = self._read(f"{select} WHERE wseq > ?", (cols.seq,))
            gone = [r for (r,) in self._read("SELECT rid FROM posts_gone WHERE wseq > ?", (cols.seq,))]
            cols.apply(rows, gone)
        cols.seq = seq

    def _fts_rids(self, match: str, f: Filters) -> npt.NDArray[np.int64]:
        conds: list[str] = ["posts_fts MATCH ?"]
        args: list[Any] = [match]
        if f.lo_rid is not None:
            conds.append("rowid >= ?")
            args.append(f.lo_rid)
        if f.hi_rid is not None:
            conds.append("rowid < ?")
            args.append(f.hi_rid)
        (joined,) = self._read(f"SELECT group_concat(rowid) FROM posts_fts WHERE {' AND '.join(conds)}", args)[0]
        return np.fromstring(joined, dtype=np.int64, sep=",") if joined else np.empty(0, np.int64)

    def _ids_of(self, rids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for start in range(0, len(rids), 500):
            chunk = list(rids[start:start + 500])
            out.update(self._read(f"SELECT rid, id FROM posts WHERE rid IN {_in(chunk)}", chunk))
        return out

    # -- in SQL (small stores) --

    def _hits(self, query: SearchQuery, plan: _Plan, phrases: list[tuple[str, ...]]) -> tuple[Hit, ...]:
        keys = self._score_page(query, plan) if query.sort == "score" else self._time_page(query, plan)
        return self._docs(query, keys, phrases)

    def _docs(self, query: SearchQuery, keys: Sequence[tuple[int, int, str]],
              phrases: list[tuple[str, ...]]) -> tuple[Hit, ...]:
        if not keys:
            return ()
        rids = [rid for rid, _ts, _id in keys]
        raw = dict(self._read(f"SELECT rid, doc FROM post_docs WHERE rid IN {_in(rids)}", rids))
        hits: list[Hit] = []
        for rid, ts, _id in keys:
            doc = json.loads(raw[rid])
            hits.append(Hit(post=docs.post_from_doc(doc), highlight=highlight(doc["text"], phrases),
                            sort=sort_values(query, ts, doc["id"], doc["scores"])))
        return tuple(hits)

    def _time_page(self, query: SearchQuery, plan: _Plan) -> list[tuple[int, int, str]]:
        """One page in (ts, id) order from a rowid-ordered scan: LIMIT first, then put the rows of
        the page's last millisecond (and the cursor's) in id order."""
        desc = query.sort != "oldest"
        size = query.size
        rid = plan.rid
        select = f"SELECT {rid}, p.ts, p.id"
        found: dict[int, tuple[int, str]] = {}
        bound: list[str] = []
        bound_args: list[Any] = []
        if query.search_after is not None:
            ts_a, id_a = int(query.search_after[0]), str(query.search_after[1])
            lo, hi = rid_floor(ts_a), rid_floor(ts_a + 1)
            past = f"p.id {'<' if desc else '>'} ?"
            same = self._read(f"{select} {plan.sql([f'{rid} >= ?', f'{rid} < ?', past], True)}",
                              plan.args(lo, hi, id_a))
            found.update((r, (t, i)) for r, t, i in same)
            bound, bound_args = ([f"{rid} < ?"], [lo]) if desc else ([f"{rid} >= ?"], [hi])
        rows = self._read(f"{select} {plan.sql(bound, True)} ORDER BY {rid} {'DESC' if desc else 'ASC'} LIMIT ?",
                          plan.args(*bound_args, size))
        found.update((r, (t, i)) for r, t, i in rows)
        if len(rows) == size:  # the last millisecond may go on past the LIMIT
            edge = int(rows[-1][1])
            tied = self._read(f"{select} {plan.sql([*bound, f'{rid} >= ?', f'{rid} < ?'], True)}",
                              plan.args(*bound_args, rid_floor(edge), rid_floor(edge + 1)))
            found.update((r, (t, i)) for r, t, i in tied)
        ordered = sorted(((r, t, i) for r, (t, i) in found.items()), key=lambda k: (k[1], k[2]), reverse=desc)
        return ordered[:size]

    def _score_page(self, query: SearchQuery, plan: _Plan) -> list[tuple[int, int, str]]:
        fields = sort_fields(query)
        extra: list[str] = []
        args: list[Any] = []
        if query.search_after is not None:
            extra, args = _after(fields, query.search_after)
        order = ", ".join(f"{_SQL_SORT[f]} {'DESC' if desc else 'ASC'}" for f, desc in fields)
        rows = self._read(f"SELECT {plan.rid}, p.ts, p.id {plan.sql(extra, True)} ORDER BY {order} LIMIT ?",
                          plan.args(*args, query.size))
        return [(int(r), int(t), str(i)) for r, t, i in rows]

    def _facets(self, plan: _Plan) -> tuple[dict[str, dict[str, int]], int]:
        """Counts by platform, signal and source from one grouped pass; the total is their sum."""
        platform: dict[str, int] = {}
        signal: dict[str, int] = {}
        source: dict[str, int] = {}
        total = 0
        for src, labels, plats, n in self._read(
                f"SELECT p.source, p.labels, p.plats, count(*) {plan.sql((), True)} GROUP BY 1, 2, 3",
                plan.args()):
            total += n
            source[src] = source.get(src, 0) + n
            for name, bit in LABEL_BITS.items():
                if labels & bit:
                    signal[name] = signal.get(name, 0) + n
            for p in plats.split(SEP):
                if p:
                    platform[p] = platform.get(p, 0) + n

        return ({"platform": ordered_counts(platform), "signal": ordered_counts(signal),
                 "source": ordered_counts(source)}, total)

    def _histogram(self, query: SearchQuery, plan: _Plan) -> tuple[tuple[datetime, int], ...]:
        step = interval_ms(query.histogram)
        ts = f"({plan.rid} >> {TIE_BITS})"
        rows = self._read(f"SELECT ({ts} - ({ts} % ?)) AS b, count(*) {plan.sql()} GROUP BY b ORDER BY b",
                          [step, *plan.args()])
        return tuple((docs.from_ms(int(b)), int(n)) for b, n in rows)

    # ---- warnings and the incident view --------------------------------------------------------

    def get_posts(self, ids: Sequence[str]) -> list[ScoredPost]:
        """The posts with these ids, in the order given (missing ids are skipped)."""
        found: dict[str, ScoredPost] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            for (raw,) in self._read("SELECT d.doc FROM posts p JOIN post_docs d ON d.rid = p.rid "
                                     f"WHERE p.id IN {_in(chunk)}", chunk):
                sp = docs.post_from_doc(json.loads(raw))
                found[sp.id] = sp
        return [found[i] for i in ids if i in found]

    def get_alert(self, key: str) -> Alert | None:
        rows = self._read("SELECT doc FROM alerts WHERE key = ?", (key,))
        return docs.alert_from_doc(json.loads(rows[0][0])) if rows else None

    def search_alerts(self, query: AlertQuery) -> list[Alert]:
        check_alerts(query)
        conds: list[str] = []
        params: list[Any] = []
        if query.platforms:
            conds.append(f"platform IN {_in(query.platforms)}")
            params.extend(query.platforms)
        if query.districts:
            conds.append(f"district IN {_in(query.districts)}")
            params.extend(query.districts)
        if query.signal is not None:
            conds.append("signal = ?")
            params.append(query.signal.value)
        if query.min_level is not None:
            conds.append("level_rank >= ?")
            params.append(query.min_level.rank)
        if query.status:
            conds.append("status = ?")
            params.append(query.status)
        if query.since is not None:
            conds.append("ts >= ?")
            params.append(docs.ts_ms(query.since))
        if query.until is not None:
            conds.append("ts < ?")
            params.append(docs.ts_ms(query.until))
        rows = self._read(f"SELECT key, explanation_text, doc FROM alerts WHERE {' AND '.join(conds) or '1'} "
                          "ORDER BY ts DESC, key DESC", params)
        return alerts_matching(rows, query)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _plan(query: SearchQuery, node: Any) -> _Plan:
    """Pick the driving table: FTS5 for a text query, the term index for one platform or district,
    else ``posts``; everything else becomes a condition (CROSS JOIN keeps the driver outermost)."""
    term: tuple[str, str] | None = None
    if node is not None and not is_negative(node):
        plan = _Plan("fts", "f.rowid", ["posts_fts MATCH ?"], [compile_fts5(node)])
    else:
        if len(query.platforms) == 1:
            term = ("platforms", query.platforms[0])
        elif len(query.districts) == 1:
            term = ("districts", query.districts[0])
        plan = _Plan("terms", "t.rid", ["t.field = ?", "t.value = ?"], list(term)) if term else _Plan("posts", "p.rid")
        if node is not None:
            plan.pconds.append("p.rid NOT IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)")
            plan.pparams.append(compile_fts5(node))
    if query.since is not None:
        plan.conds.append(f"{plan.rid} >= ?")
        plan.params.append(rid_floor(docs.ts_ms(query.since)))
    if query.until is not None:
        plan.conds.append(f"{plan.rid} < ?")
        plan.params.append(rid_floor(docs.ts_ms(query.until)))
    for name, column, values in (("platforms", "plats", query.platforms), ("districts", "dists", query.districts)):
        if values and (term is None or term[0] != name):
            plan.pconds.append("(" + " OR ".join([f"instr(p.{column}, ?) > 0"] * len(values)) + ")")
            plan.pparams.extend(SEP + v + SEP for v in values)
    if query.signal is not None:
        plan.pconds.append(f"p.{query.signal.value} >= ?")
        plan.pparams.append(query.min_score)
    if query.sources:
        plan.pconds.append(f"p.source IN {_in(query.sources)}")
        plan.pparams.extend(query.sources)
    return plan


def _delete_terms(db: sqlite3.Connection, rid: int, plats: str, dists: str) -> None:
    db.executemany("DELETE FROM post_terms WHERE field = ? AND value = ? AND rid = ?",
                   [(f, v, rid) for f, joined in (("platforms", plats), ("districts", dists))
                    for v in joined.split(SEP) if v])


def _after(fields: list[tuple[str, bool]], values: Sequence[Any]) -> tuple[list[str], list[Any]]:
    """Keyset pagination: rows strictly after ``values`` in the sort order."""
    clauses: list[str] = []
    params: list[Any] = []
    for i, (f, desc) in enumerate(fields):
        eq = [f"{_SQL_SORT[g]} = ?" for g, _ in fields[:i]]
        clauses.append("(" + " AND ".join([*eq, f"{_SQL_SORT[f]} {'<' if desc else '>'} ?"]) + ")")
        params.extend([*values[:i], values[i]])
    return ["(" + " OR ".join(clauses) + ")"], params


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
