"""Alerting commands: ``yujing backtest``, ``yujing alerts``, ``yujing ack`` (silence: to come)."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
