"""Alerting commands: ``yujing backtest`` (more to come: alerts, ack, silence)."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("backtest", help="replay a stream in event time and score warnings against ground-truth events")
    p.add_argument("stream")
    p.add_argument("--events", required=True, type=Path, help="CSV platform,event,ts[,note]")
    p.add_argument("--model", default="lexicon")
    p.add_argument("--registry", type=Path)
    p.add_argument("--horizon-days", type=float, default=7.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_backtest)


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
