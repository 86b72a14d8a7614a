"""Search commands: ``search``, ``search-alerts``, ``incident``, ``token``, ``search-audit``.

Searches from the command line are audited like the API's: the user is the OS user, or ``--as NAME``
(with the analyst role; ``--agency`` acts as that agency's duty officer). Token management is for
whoever can write the data directory (the admin).
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from pathlib import Path
from typing import Any

from yujing.clock import SystemClock
from yujing.errors import InputError
from yujing.records import AGENCY_ZH, Agency
from yujing.search import service
from yujing.search.access import ROLES, AccessStore, Principal, parse_anchors
from yujing.search.api import open_access
from yujing.search.incident import SearchBackend
from yujing.search.open import open_store
from yujing.search.service import SearchParams
from yujing.settings import Settings

_EM = re.compile(r"<em>(.*?)</em>")


def _ctx(args: argparse.Namespace) -> tuple[SearchBackend, AccessStore, Principal]:
    settings = Settings()
    store: SearchBackend = open_store(args.store or settings.store_url)  # type: ignore[assignment]
    access = open_access(settings)
    user = args.as_user or getpass.getuser()
    agency = getattr(args, "agency", "") or ""
    who = Principal(user, "duty", agency) if agency else Principal(user, "analyst")
    return store, access, who


def _params(args: argparse.Namespace) -> SearchParams:
    return SearchParams(q=" ".join(getattr(args, "query", []) or []), platform=args.platform or [],
                        signal=args.signal or "", min_score=args.min_score, source=getattr(args, "source", []) or [],
                        district=args.district or [], level=getattr(args, "level", "") or "",
                        since=args.since or "", until=args.until or "", sort=getattr(args, "sort", "newest"),
                        size=args.size, facets=getattr(args, "facets", False),
                        histogram=getattr(args, "histogram", "") or "", cursor=getattr(args, "cursor", "") or "")


def mark(highlight: str, tty: bool) -> str:
    """``<em>x</em>`` as bold on a terminal, else as 【x】."""
    return _EM.sub(r"\033[1;31m\1\033[0m" if tty else r"【\1】", highlight)


def cmd_search(args: argparse.Namespace) -> int:
    store, access, who = _ctx(args)
    try:
        params = _params(args)
        if args.export:
            for chunk in service.export_lines(store, access, who, params, args.export):
                sys.stdout.write(chunk)
            return 0
        result = service.run_search(store, access, who, params)
        cursor = service.next_cursor(result, params.size)
        if args.json:
            print(json.dumps({"total": result.total, "next_cursor": cursor,
                              "hits": [{"post": h.post.to_dict(), "highlight": h.highlight} for h in result.hits],
                              "facets": result.facets,
                              "histogram": [[t.isoformat(), n] for t, n in result.histogram]}, ensure_ascii=False))
            return 0
        tty = sys.stdout.isatty()
        print(f"共 {result.total} 条")
        for h in result.hits:
            sp = h.post
            labels = ",".join(s.value for s in sp.labels) or "-"
            print(f"[{sp.ts.strftime('%Y-%m-%d %H:%M')}] {sp.post.source.value:9} {'、'.join(sp.platforms) or '-'}"
                  f"  {labels}  {sp.post.author}  {sp.id}")
            print(f"    {mark(h.highlight, tty) if h.highlight else sp.post.text}")
        for name, counts in result.facets.items():
            print(f"{name}: " + "  ".join(f"{k}={v}" for k, v in counts.items()))
        for ts, n in result.histogram:
            print(f"{ts.strftime('%Y-%m-%d %H:%M')}  {n:6}  {'█' * min(n, 60)}")
        if cursor:
            print(f"下一页 next page: --cursor {cursor}")
        return 0
    finally:
        access.close()
        store.close()


def cmd_alerts(args: argparse.Namespace) -> int:
    from yujing.cli import alert_json, format_alert

    store, access, who = _ctx(args)
    try:
        alerts = service.run_alert_search(store, access, who, _params(args))
        for a in alerts:
            print(alert_json(a) if args.json else format_alert(a))
        if not args.json and not alerts:
            print("没有符合条件的预警 (no warnings match)")
        return 0
    finally:
        access.close()
        store.close()


def cmd_incident(args: argparse.Namespace) -> int:
    from yujing.cli import format_alert

    store, access, who = _ctx(args)
    try:
        found = service.run_incident(store, access, who, args.key)
        if found is None:
            raise InputError("no_warning", f"no warning {args.key!r} (visible to {who.user}); "
                                           "list them with `yujing search-alerts`")
        if args.json:
            print(json.dumps(found.to_dict(), ensure_ascii=False))
            return 0
        print(format_alert(found.alert))
        summary = found.alert.explanation.get("summary")
        if summary:
            print(f"  说明: {summary}")
        print(f"  依据 ({'预警所列帖子' if found.basis == 'explanation' else '时间窗内帖子'}, {len(found.posts)} 条):")
        for sp in found.posts:
            print(f"  [{sp.ts.strftime('%Y-%m-%d %H:%M')}] {sp.post.source.value:9} {sp.post.author}  {sp.post.text}")
        return 0
    finally:
        access.close()
        store.close()


def cmd_token(args: argparse.Namespace) -> int:
    access = open_access(Settings())
    now = SystemClock().now()
    try:
        if args.action == "create":
            if not args.user:
                raise InputError("bad_user", "token create needs --user NAME")
            tid, secret = access.create_token(args.user, args.role, now, agency=args.agency or "")
            if args.json:
                print(json.dumps({"id": tid, "token": secret, "user": args.user, "role": args.role}))
            else:
                print(f"{tid}  {args.user}  {args.role}\n{secret}\n(shown once; only its hash is stored)")
        elif args.action == "list":
            for t in access.tokens():
                row: dict[str, Any] = {"id": t.id, "user": t.user, "role": t.role, "agency": t.agency,
                                       "created": t.created, "revoked": t.revoked}
                agency = AGENCY_ZH[Agency(t.agency)] if t.agency else ""
                state = "已吊销 revoked" if t.revoked else ""
                print(json.dumps(row, ensure_ascii=False) if args.json else
                      f"{t.id}  {t.user:16} {t.role:8} {agency:4} {t.created[:16]}  {state}")
        else:
            if not args.id:
                raise InputError("bad_token", "token revoke needs --id tok_...")
            if not access.revoke(args.id, now):
                raise InputError("bad_token", f"no active token {args.id!r}; see `yujing token list`")
            print(f"revoked {args.id}")
        return 0
    finally:
        access.close()


def cmd_audit(args: argparse.Namespace) -> int:
    anchors: list[tuple[int, str]] = []
    for path in args.anchor or ():
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InputError("bad_anchor", f"{path}: cannot read the anchor file ({exc.strerror})") from None
        found = parse_anchors(text)
        if not found:
            raise InputError("bad_anchor", f"{path}: no head in it; give the output of `yujing search-audit --head "
                                           "--json` or log lines with `audit head seq=N hash=H`")
        anchors += found
    access = open_access(Settings())
    try:
        if args.head:
            head = access.head()
            if args.json:
                print(json.dumps(head.to_dict() if head else None))
            else:
                print(f"audit head seq={head.seq} hash={head.hash} ts={head.ts}" if head else "audit log empty")
            return 0
        if args.verify or anchors:
            problems = access.verify(anchors)
            rows = access.audit_count()
            keyed_from = access.keyed_from()
            if args.json:
                print(json.dumps({"intact": not problems, "problems": problems, "rows": rows,
                                  "keyed_from": keyed_from, "anchors": len(anchors)}))
            else:
                for p in problems:
                    print(f"TAMPERED: {p}")
                if not problems:
                    keyed = (f"keyed from row {keyed_from}" + (f"; rows 1..{keyed_from - 1} predate keying"
                                                              if keyed_from > 1 else "")
                             if keyed_from else "not keyed")
                    checked = f", {len(anchors)} anchors match" if anchors else ", no anchors given"
                    print(f"audit log intact ({rows} rows, {keyed}{checked})")
            return 1 if problems else 0
        for r in access.audit_rows(args.limit):
            print(json.dumps(r, ensure_ascii=False) if args.json else
                  f"{r['seq']:6} {r['ts'][:19]} {r['user']:14} {r['role']:8} {r['action']:14} {r['results']:6}  "
                  f"{r['query']}")
        return 0
    finally:
        access.close()


def _filters(p: argparse.ArgumentParser, posts: bool) -> None:
    p.add_argument("--store", help="store URL (default: the configured store)")
    p.add_argument("--as", dest="as_user", help="audit as this user (default: the OS user)")
    p.add_argument("--platform", action="append", help="repeatable")
    p.add_argument("--signal", choices=("rumour", "panic", "gathering"))
    p.add_argument("--min-score", type=float, default=0.5)
    p.add_argument("--district", action="append")
    p.add_argument("--since", help="ISO 8601 with offset, e.g. 2026-11-28T08:00+08:00")
    p.add_argument("--until")
    p.add_argument("--json", action="store_true", help="JSON output for programs")
    if posts:
        p.add_argument("--source", action="append")
        p.add_argument("--sort", choices=("newest", "oldest", "score"), default="newest")
        p.add_argument("--size", type=int, default=20)
        p.add_argument("--facets", action="store_true")
        p.add_argument("--histogram", help="interval: 15m, 1h, 1d")
        p.add_argument("--cursor", help="next page (printed after a full page)")
        p.add_argument("--export", choices=("csv", "jsonl"), help="write every hit to stdout")
    else:
        p.add_argument("--level", help="minimum level: blue, yellow, orange, red")
        p.add_argument("--size", type=int, default=50)
        p.add_argument("--agency", choices=[a.value for a in Agency], help="act as this agency's duty officer")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("search", help="search posts: Chinese full text, \"phrases\", AND/OR/NOT, filters, export")
    p.add_argument("query", nargs="*")
    _filters(p, posts=True)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("search-alerts", help="search warnings")
    p.add_argument("query", nargs="*")
    _filters(p, posts=False)
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser("incident", help="a warning with the posts it was based on")
    p.add_argument("key")
    p.add_argument("--store")
    p.add_argument("--as", dest="as_user")
    p.add_argument("--agency", choices=[a.value for a in Agency])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_incident)

    p = sub.add_parser("token", help="API tokens: create, list, revoke (admin)")
    p.add_argument("action", choices=("create", "list", "revoke"))
    p.add_argument("--user")
    p.add_argument("--role", choices=ROLES, default="analyst")
    p.add_argument("--agency", choices=[a.value for a in Agency], help="with --role duty")
    p.add_argument("--id", help="token id to revoke")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("search-audit", help="who searched what; --verify checks the hash chain")
    p.add_argument("--verify", action="store_true", help="check the chain (exit 1 if it was tampered with)")
    p.add_argument("--anchor", action="append", metavar="FILE",
                   help="with --verify: also check the heads in FILE (`--head --json` output or the service's "
                        "`audit head seq=… hash=…` log lines) are still in the chain; repeatable")
    p.add_argument("--head", action="store_true", help="print the last row's seq and hash, to keep elsewhere")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit)
