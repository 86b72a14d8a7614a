"""Who may search, and the record of every search.

Tokens: random secrets shown once; only their SHA-256 is stored. Roles: ``analyst`` (search, export,
saved searches), ``duty`` (an agency's duty officer: sees only warnings routed to its agency),
``admin`` (everything, and token management), ``viewer`` (reads the situation board only: a
duty-room screen, Grafana's Infinity data source; no search).

Audit: an append-only SQLite table. Triggers refuse UPDATE and DELETE, and each row carries
``hash = HMAC-SHA256(audit key, prev_hash + row)``, so an edit made by going around the triggers (a copied file,
dropped triggers) is found by ``verify``, and only a holder of the key can recompute the chain after one. The
key is derived from the pseudonym key (:func:`audit_key`). A file whose chain began before it was keyed keeps
its first rows as ``sha256(prev_hash + row)``; ``meta`` records, under a tag made with the key, the row from
which the chain is keyed. Rows cut from the end leave a valid chain: :meth:`AccessStore.head` gives the last
row's seq and hash, the service logs it after every row, and ``verify(anchors)`` checks that the rows those
heads name are still there, unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from yujing.errors import InputError
from yujing.records import Agency

ROLES = ("analyst", "duty", "admin", "viewer", "intake")  # intake: submits complaint forms only
SAVED_KINDS = ("posts", "alerts")  # what a saved search runs: a post search or a warning search
_GENESIS = "0" * 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY, hash TEXT UNIQUE NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL,
  agency TEXT NOT NULL DEFAULT '', created TEXT NOT NULL, revoked TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL,
  query TEXT NOT NULL, results INTEGER NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS meta_no_update BEFORE UPDATE ON meta
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS meta_no_delete BEFORE DELETE ON meta
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS saved (
  id INTEGER PRIMARY KEY, user TEXT NOT NULL, name TEXT NOT NULL, params TEXT NOT NULL, created TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT 'posts', UNIQUE (user, name));
"""


@dataclass(frozen=True, slots=True)
class Principal:
    user: str
    role: str
    agency: str = ""  # for role "duty"

    def can(self, action: str) -> bool:
        if action == "admin":
            return self.role == "admin"
        return self.role in ROLES

    @property
    def scope(self) -> str:
        """The agency whose warnings alone this principal sees ('' = every agency): a duty officer's."""
        return self.agency if self.role == "duty" else ""

    @property
    def reads(self) -> bool:
        """May read posts, warnings or the board: every role but ``intake`` (a hotline export job's token)."""
        return self.role in ROLES and self.role != "intake"

    @property
    def saved_kinds(self) -> tuple[str, ...]:
        """The saved searches this role may create, see and run: a duty officer searches warnings only."""
        return {"duty": ("alerts",), "viewer": (), "intake": ()}.get(self.role, SAVED_KINDS)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    user: str
    role: str
    agency: str
    created: str
    revoked: str


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def row_hash(prev: str, ts: str, user: str, role: str, action: str, query: str, results: int,
             key: bytes | None = None) -> str:
    """The row's link in the chain: HMAC-SHA256 under ``key``; plain SHA-256 without one (rows written before
    the chain was keyed)."""
    body = json.dumps([prev, ts, user, role, action, query, results], ensure_ascii=False, separators=(",", ":"))
    if key is None:
        return hashlib.sha256(body.encode()).hexdigest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def audit_key(pseudonym_key: bytes) -> bytes:
    """The audit chain's key, derived from the pseudonym key (one secret to keep, two uses kept apart)."""
    return hmac.new(pseudonym_key, b"yujing audit chain v1", hashlib.sha256).digest()


class Head(NamedTuple):
    """The chain's last row: keep it where the service cannot write (logs shipped elsewhere, a ticket), and
    ``verify`` it later; rows cut from the end, or rewritten with the key, no longer match it."""

    seq: int
    hash: str
    ts: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "ts": self.ts}


_ANCHOR = re.compile(r'seq"?\s*[=:]\s*"?(\d+)"?.*?hash"?\s*[=:]\s*"?([0-9a-f]{64})')


def parse_anchors(text: str) -> list[tuple[int, str]]:
    """(seq, hash) of every head in ``text``: ``yujing search-audit --head --json`` output, or the service's
    ``audit head seq=… hash=…`` log lines, one per line; other lines are skipped."""
    return [(int(m.group(1)), m.group(2)) for m in map(_ANCHOR.search, text.splitlines()) if m]


_log = logging.getLogger("yujing.audit")


def log_heads() -> None:
    """For serving processes: every new row's head goes to stderr (the process's or container's log, which is
    kept off this machine), ``<time> yujing.audit audit head seq=N hash=H``. Idempotent."""
    if not any(getattr(h, "yujing_heads", False) for h in _log.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        handler.yujing_heads = True  # type: ignore[attr-defined]
        _log.addHandler(handler)
    if _log.getEffectiveLevel() > logging.INFO:
        _log.setLevel(logging.INFO)


class AccessStore:
    """Tokens, the audit chain and saved searches in one SQLite file (``<data_dir>/access.db``)."""

    def __init__(self, path: Path, key: bytes | None = None) -> None:
        """``key``: the audit chain's key (:func:`audit_key`); the service and the CLI always pass one. Without
        it (tests, reading an old file) rows are chained unkeyed, and a keyed chain refuses them."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._key = key
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)
        if not self._db.execute("SELECT 1 FROM pragma_table_info('saved') WHERE name = 'kind'").fetchone():
            self._db.execute("ALTER TABLE saved ADD COLUMN kind TEXT NOT NULL DEFAULT 'posts'")  # older files

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ---- tokens --------------------------------------------------------------------------------
    def create_token(self, user: str, role: str, now: datetime, agency: str = "") -> tuple[str, str]:
        """Returns (token id, secret). The secret is not stored and cannot be shown again."""
        if role not in ROLES:
            raise InputError("bad_role", f"role {role!r}; use one of {', '.join(ROLES)}")
        if role == "duty":
            if agency not in {a.value for a in Agency}:
                raise InputError("bad_agency", f"agency {agency!r} for a duty officer; use one of "
                                               f"{', '.join(a.value for a in Agency)}")
        elif agency:
            raise InputError("bad_agency", "only a duty officer's token (--role duty) has an agency")
        if not user.strip():
            raise InputError("bad_user", "empty user name")
        tid = "tok_" + secrets.token_hex(4)
        secret = f"yj_{tid[4:]}_{secrets.token_urlsafe(24)}"
        with self._tx() as db:
            db.execute("INSERT INTO tokens VALUES (?,?,?,?,?,?, '')",
                       (tid, _hash_token(secret), user, role, agency, now.isoformat()))
        return tid, secret

    def tokens(self) -> list[TokenInfo]:
        rows = self._db.execute("SELECT id,user,role,agency,created,revoked FROM tokens ORDER BY created, id")
        return [TokenInfo(*r) for r in rows]

    def revoke(self, token_id: str, now: datetime) -> bool:
        with self._tx() as db:
            cur = db.execute("UPDATE tokens SET revoked=? WHERE id=? AND revoked=''", (now.isoformat(), token_id))
        return cur.rowcount == 1

    def authenticate(self, secret: str) -> Principal | None:
        row = self._db.execute("SELECT user,role,agency FROM tokens WHERE hash=? AND revoked=''",
                               (_hash_token(secret),)).fetchone()
        return Principal(*row) if row else None

    # ---- audit ---------------------------------------------------------------------------------
    def _keyed_from_tag(self, seq: int) -> str:
        assert self._key is not None
        return hmac.new(self._key, f"keyed from {seq}".encode(), hashlib.sha256).hexdigest()

    def _marker(self, db: sqlite3.Connection) -> tuple[int, str] | None:
        """(first keyed row's seq, its tag) as ``meta`` records them (None: the chain is not keyed)."""
        row = db.execute("SELECT value FROM meta WHERE name = 'keyed_from'").fetchone()
        if row is None:
            return None
        marker = json.loads(row[0])
        return int(marker["seq"]), str(marker["tag"])

    def audit(self, who: Principal, action: str, query: dict[str, Any], results: int, now: datetime) -> None:
        q = json.dumps(query, ensure_ascii=False, sort_keys=True, default=str)
        ts = now.isoformat()
        with self._tx() as db:
            last = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (last[0] + 1, last[1]) if last else (1, _GENESIS)
            keyed = self._marker(db) is not None
            if self._key is None and keyed:
                raise InputError("audit_key", f"{self.path}: this audit log is keyed; open it with the key "
                                              "(yujing.search.api.open_access(settings))")
            if self._key is not None and not keyed:
                db.execute("INSERT INTO meta VALUES ('keyed_from', ?)",
                           (json.dumps({"seq": seq, "tag": self._keyed_from_tag(seq)}),))
            h = row_hash(prev, ts, who.user, who.role, action, q, results, self._key)
            db.execute("INSERT INTO audit (seq,ts,user,role,action,query,results,prev,hash) "
                       "VALUES (?,?,?,?,?,?,?,?,?)", (seq, ts, who.user, who.role, action, q, results, prev, h))
        _log.info("audit head seq=%d hash=%s", seq, h)  # the log, kept elsewhere, anchors the chain

    def head(self) -> Head | None:
        """The last row (None: nothing audited yet)."""
        row = self._db.execute("SELECT seq, hash, ts FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return Head(*row) if row else None

    def audit_rows(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT seq,ts,user,role,action,query,results FROM audit "
                                "ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        keys = ("seq", "ts", "user", "role", "action", "query", "results")
        return [dict(zip(keys, r, strict=True)) for r in reversed(rows)]

    def verify(self, anchors: Iterable[tuple[int, str]] = ()) -> list[str]:
        """Problems found in the chain (empty: intact), and in it against ``anchors``: heads (seq, hash) kept
        elsewhere, whose rows must still be there with the same hash."""
        problems = []
        keyed_from = None
        marker = self._marker(self._db)
        if marker is not None:
            keyed_from, tag = marker
            if self._key is None:
                problems.append("the chain is keyed: verify it with the key (yujing search-audit --verify)")
                return problems
            if not hmac.compare_digest(tag, self._keyed_from_tag(keyed_from)):
                problems.append(f"the keyed-from marker (row {keyed_from}) was not written with this key")
        anchors = list(anchors)
        named = {seq for seq, _ in anchors}
        hashes: dict[int, str] = {}  # of the rows anchors name
        prev = _GENESIS
        expected_seq = None
        for seq, ts, user, role, action, query, results, p, h in self._db.execute(
                "SELECT seq,ts,user,role,action,query,results,prev,hash FROM audit ORDER BY seq"):
            if expected_seq is not None and seq != expected_seq:
                problems.append(f"row {expected_seq}..{seq - 1} missing (deleted)")
            expected_seq = seq + 1
            if p != prev:
                problems.append(f"row {seq}: previous-hash link broken")
            key = self._key if keyed_from is not None and seq >= keyed_from else None
            if not hmac.compare_digest(row_hash(p, ts, user, role, action, query, results, key), h):
                problems.append(f"row {seq}: contents changed after it was written")
            if seq in named:
                hashes[seq] = h
            prev = h
        for seq, h in anchors:
            if seq not in hashes:
                problems.append(f"row {seq}, named by an anchor, is missing (rows cut from the end?)")
            elif hashes[seq] != h:
                problems.append(f"row {seq} differs from its anchor (the chain was rewritten)")
        return problems

    def keyed_from(self) -> int | None:
        """The first row chained under the key (None: not keyed); earlier rows predate keying."""
        marker = self._marker(self._db)
        return marker[0] if marker else None

    def audit_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])

    # ---- saved searches ------------------------------------------------------------------------
    def save_search(self, user: str, name: str, params: dict[str, Any], now: datetime, kind: str = "posts",
                    kinds: tuple[str, ...] = SAVED_KINDS) -> int:
        """Save (or replace, by name) ``user``'s search; ``kinds``: those the caller's role may touch, so a duty
        token cannot overwrite an analyst's posts search that happens to have the same user and name."""
        if not name.strip():
            raise InputError("bad_name", "a saved search needs a name")
        if kind not in SAVED_KINDS:
            raise InputError("bad_kind", f"saved search kind {kind!r}; use one of {', '.join(SAVED_KINDS)}")
        with self._tx() as db:
            row = db.execute("SELECT kind FROM saved WHERE user=? AND name=?", (user, name)).fetchone()
            if row is not None and row[0] not in kinds:
                raise InputError("name_taken", f"{user} already has a {row[0]} search named {name!r}, which this "
                                               "token may not change; choose another name")
            cur = db.execute("INSERT OR REPLACE INTO saved (user,name,params,created,kind) VALUES (?,?,?,?,?)",
                             (user, name, json.dumps(params, ensure_ascii=False, sort_keys=True), now.isoformat(),
                              kind))
        return int(cur.lastrowid or 0)

    def saved_searches(self, user: str, kinds: tuple[str, ...] = SAVED_KINDS) -> list[dict[str, Any]]:
        """``user``'s own saved searches of these kinds (nobody lists another user's)."""
        rows = self._db.execute(f"SELECT id,name,kind,params,created FROM saved WHERE user=? AND kind IN "
                                f"({','.join('?' * len(kinds))}) ORDER BY id", (user, *kinds))
        return [{"id": i, "name": n, "kind": k, "params": json.loads(p), "created": c} for i, n, k, p, c in rows]

    def saved_search(self, user: str, sid: int, kinds: tuple[str, ...] = SAVED_KINDS) -> dict[str, Any] | None:
        return next((s for s in self.saved_searches(user, kinds) if s["id"] == sid), None)

    def delete_saved(self, user: str, sid: int, kinds: tuple[str, ...] = SAVED_KINDS) -> bool:
        with self._tx() as db:
            cur = db.execute(f"DELETE FROM saved WHERE user=? AND id=? AND kind IN ({','.join('?' * len(kinds))})",
                             (user, sid, *kinds))
        return cur.rowcount == 1
