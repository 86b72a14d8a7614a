"""Alerting commands: ``yujing backtest``, ``yujing alerts``, ``yujing ack``, ``yujing silence add|list|expire``."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from yujing.alerting.silences import Silence
    from yujing.alerting.store import AlertStore


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("backtest", help="replay a stream in event time and score warnings against ground-truth events")
    p.add_argument("stream")
    p.add_argument("--events", required=True, type=Path, help="CSV platform,event,ts[,note]")
    p.add_argument("--model", default="lexicon")
    p.add_argument("--registry", type=Path)
    p.add_argument("--horizon-days", type=float, default=7.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser("alerts", help="warnings history from the alert store (DATA_DIR/alerts.db)")
    p.add_argument("--platform", default="")
    p.add_argument("--text", default="")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser("ack", help="acknowledge an incident (stops escalation to the next contact)")
    p.add_argument("ref")
    p.add_argument("--by", required=True)
    p.add_argument("--note", default="")
    p.set_defaults(func=cmd_ack)

    p = sub.add_parser("silence", help="mute matching warnings until an expiry (DATA_DIR/alerts.db)")
    ssub = p.add_subparsers(dest="silence_cmd", required=True)
    q = ssub.add_parser("add", help="add a silence; creator and expiry are required")
    q.add_argument("--match", action="append", required=True, metavar="LABEL=VALUE[,VALUE]",
                   help="labels: platform, signal, level, platform_kind, district; repeat for several")
    q.add_argument("--hours", type=float, required=True, help="expiry, hours from now")
    q.add_argument("--by", required=True, help="your name (the creator)")
    q.add_argument("--comment", default="")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_silence_add)
    q = ssub.add_parser("list", help="list silences (active and past)")
    q.add_argument("--json", action="store_true", help="JSON Lines, one silence per line")
    q.set_defaults(func=cmd_silence_list)
    q = ssub.add_parser("expire", help="end a silence now")
    q.add_argument("id")
    q.add_argument("--by", required=True)
    q.set_defaults(func=cmd_silence_expire)


def _store() -> AlertStore:
    from yujing.alerting.store import AlertStore
    from yujing.settings import Settings

    d = Settings().data_dir
    d.mkdir(parents=True, exist_ok=True)
    return AlertStore(d / "alerts.db")


def cmd_alerts(args: argparse.Namespace) -> int:
    rows = _store().history(platform=args.platform, text=args.text, limit=args.limit)
    for r in rows:
        a = r.alert
        if args.json:
            print(json.dumps(r.to_dict(), ensure_ascii=False))
        else:
            acked = f" 已确认({r.acks[0].get('by', '')})" if r.acks else ""
            print(f"{a.ts.isoformat()} {a.level.chinese} {a.platform} {a.signal.value} {r.outcome} {r.incident}{acked}")
    if not rows and not args.json:
        print("no warnings recorded")
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from yujing.errors import ConfigError

    store = _store()
    if not store.known_incident(args.ref):
        raise ConfigError("alerts.db", "ref", f"unknown incident {args.ref!r}; list them with `yujing alerts`")
    store.acknowledge(args.ref, args.by, datetime.now(UTC), args.note)
    print(f"acknowledged {args.ref} by {args.by}")
    return 0


def cmd_silence_add(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from yujing.alerting.silences import Silence, parse_matchers, validate
    from yujing.alerting.store import new_silence_id
    from yujing.errors import ConfigError, InputError

    now = datetime.now(UTC)
    try:
        matchers = parse_matchers(args.match)
    except InputError as exc:
        raise ConfigError("command line", "--match", exc.detail or str(exc)) from exc
    if not args.hours > 0:
        raise ConfigError("command line", "--hours", f"expected a positive number of hours, got {args.hours:g}")
    ends = now + timedelta(hours=args.hours)
    try:
        validate(args.by, now, ends)
    except InputError as exc:
        raise ConfigError("command line", "--by", exc.detail or str(exc)) from exc
    silence = Silence(new_silence_id(), matchers, args.by, args.comment, now, ends)
    _store().add_silence(silence)
    if args.json:
        print(json.dumps(silence.to_dict(), ensure_ascii=False))
    else:
        print(f"silence {silence.id} by {args.by} until {ends.isoformat(timespec='seconds')}: {_matchers(silence)}")
    return 0


def _matchers(silence: Silence) -> str:
    return " ".join(f"{k}={','.join(v)}" for k, v in silence.matchers.items())


def cmd_silence_list(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    silences = _store().silences()
    for s in silences:
        if args.json:
            print(json.dumps({**s.to_dict(), "active": s.active(now)}, ensure_ascii=False))
        else:
            state = "active" if s.active(now) else (f"expired({s.expired_by})" if s.expired_by else "ended")
            print(f"{s.id} {state} creator {s.creator} until {s.ends.isoformat(timespec='seconds')} {_matchers(s)}"
                  + (f"  # {s.comment}" if s.comment else ""))
    if not silences and not args.json:
        print("no silences")
    return 0


def cmd_silence_expire(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from yujing.errors import ConfigError

    if not args.by.strip():
        raise ConfigError("command line", "--by", "give your name")
    if not _store().expire_silence(args.id, args.by, datetime.now(UTC)):
        raise ConfigError("alerts.db", "id", f"unknown silence {args.id!r}; list them with `yujing silence list`")
    print(f"expired {args.id} by {args.by}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from yujing.alerting.backtest import load_events, score
    from yujing.app import registry_for, replay_file
    from yujing.settings import Settings

    settings = Settings()
    events = load_events(args.events)
    result = replay_file(args.stream, registry=registry_for(settings, args.registry), model=args.model,
                         settings=settings)
    report = score(result.alerts, events, timedelta(days=args.horizon_days))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
        return 0
    print(f"precision {report.precision:.2f}  recall {report.recall:.2f}  (warnings ≥ yellow, horizon "
          f"{args.horizon_days:g} d)")
    for name, r in sorted(report.platforms.items()):
        print(f"  {name}: warnings {r.warnings} hits {r.hits} events {r.events} detected {r.detected} "
              f"lead h {r.lead_hours}")
    return 0
