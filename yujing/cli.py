"""The ``yujing`` command line. Output for people on stdout/stderr; ``--json`` output for programs.

Core commands live here (score, replay, ingest, run, demo, deadletters); each package adds its
own through ``<package>/cli.py: register(sub)``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from yujing.errors import YujingError
from yujing.records import AGENCY_ZH, Alert, AlertStatus, DeadLetter, Scores

if TYPE_CHECKING:
    from yujing.models.scorer import Scorer
    from yujing.settings import Settings

PACKAGE_CLIS = (
    "yujing.models.cli",
    "yujing.alerting.cli",
    "yujing.search.cli",
    "yujing.dashboards.cli",
    "yujing.http",
)


def _settings() -> Settings:
    from yujing.settings import Settings

    return Settings()


def format_alert(alert: Alert) -> str:
    """One line for a duty officer."""
    offices = "、".join(AGENCY_ZH[a] for a in alert.agencies) or "—"
    state = "已解除" if alert.status is AlertStatus.RESOLVED else f"{alert.level.chinese}预警"
    when = alert.ts.strftime("%Y-%m-%d %H:%M %z")
    from yujing.alerting.explain import why_sent

    why = why_sent(alert.explanation)
    return (f"[{when}] {state} {alert.level.value.upper():6} {alert.signal.value:9} {alert.platform}"
            f"  posts={alert.posts}  → {offices}  ({alert.rule}{'，' + why if why else ''})")


def alert_json(alert: Alert) -> str:
    return json.dumps(alert.to_dict(), ensure_ascii=False)


# ---- score -----------------------------------------------------------------------------------

def cmd_score(args: argparse.Namespace) -> int:
    from yujing.app import load_scorer, read_input, registry_for
    from yujing.ingestion.decode import DecodeOptions, decode_jsonl
    from yujing.models.attribution import PlatformMatcher
    from yujing.models.scorer import labels_for
    from yujing.records import Post

    settings = _settings()
    matcher = PlatformMatcher(registry_for(settings, args.registry))
    scorer = load_scorer(args.model or settings.model)
    data, origin = read_input(args.file, settings)
    opts = DecodeOptions(key=settings.key, require_ts=False, max_text_chars=settings.max_text_chars)
    items = list(decode_jsonl(data, origin, opts))
    posts = [i for i in items if isinstance(i, Post)]
    scores = iter(_score_batched(scorer, [p.text for p in posts], args.batch_size))
    bad = 0
    for item in items:
        out: dict[str, object]
        if isinstance(item, Post):
            s = next(scores)
            out = {"id": item.id, "scores": s.to_dict(), "labels": [x.value for x in labels_for(s, scorer.thresholds)],
                   "platforms": list(matcher.platforms(item.text))}
        else:
            bad += 1
            out = {"id": None, "error": item.reason, "origin": item.origin}
            print(f"yujing score: {item.origin}: {item.reason}", file=sys.stderr)
        print(json.dumps(out, ensure_ascii=False), flush=False)
    sys.stdout.flush()
    return 1 if bad and not posts else 0


def _score_batched(scorer: Scorer, texts: list[str], batch: int) -> list[Scores]:
    from tqdm import tqdm

    out: list[Scores] = []
    with tqdm(total=len(texts), desc="scoring", unit="text", file=sys.stderr, disable=None) as bar:
        for start in range(0, len(texts), batch):
            out.extend(scorer.score(texts[start:start + batch]))
            bar.update(min(batch, len(texts) - start))
    return out


# ---- replay ----------------------------------------------------------------------------------

def cmd_replay(args: argparse.Namespace) -> int:
    from yujing.app import registry_for, replay_file

    settings = _settings()
    registry = registry_for(settings, args.registry)

    def emit(alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            print(alert_json(alert), flush=True)

    result = replay_file(args.file, registry=registry, model=args.model or settings.model, rules=args.rules,
                         store_url=args.store, settings=settings, on_alerts=emit)
    _summary(result.posts, result.dead, result.alerts)
    return 0


def _summary(posts: int, dead: Sequence[object], alerts: Sequence[Alert]) -> None:
    from yujing.alerting.explain import is_page

    pages = sum(is_page(a.explanation) for a in alerts)
    print(f"replayed {posts} posts, {len(dead)} dead letters, {len(alerts) - pages} warning notifications and "
          f"{pages} pages of a next contact (a replay acknowledges nothing)", file=sys.stderr)
    for alert in alerts:
        print("  " + format_alert(alert), file=sys.stderr)
    for letter in dead[:20]:
        print(f"  dead letter {letter.origin}: {letter.reason}", file=sys.stderr)  # type: ignore[attr-defined]


# ---- ingest / run ----------------------------------------------------------------------------

def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from yujing.app import decode_file, ingest, open_bus

    settings = _settings()
    decoded = decode_file(args.file, settings)
    bus = open_bus(args.bus or settings.bus_url)
    try:
        with tqdm(total=len(decoded.posts), desc="ingesting", unit="post", file=sys.stderr, disable=None) as bar:
            # in event-time order, as a replay of the file would be: an export grouped by platform would
            # otherwise push event time ahead and leave the next platform's older posts behind the horizon
            ingest(bus, decoded, sort_by_time=True, progress=bar.update)
    finally:
        bus.close()
    if args.json:  # for programs: counts per (prefixed) topic and the dead-lettered lines
        from yujing.ingestion.kafka_runner import ingest_summary

        print(json.dumps(ingest_summary(bus, args.bus or settings.bus_url, decoded), ensure_ascii=False))
    print(f"ingested {len(decoded.posts)} posts into {args.bus or settings.bus_url}; "
          f"{len(decoded.dead)} lines dead-lettered", file=sys.stderr)
    for letter in decoded.dead[:20]:
        print(f"  {letter.origin}: {letter.reason}", file=sys.stderr)
    if len(decoded.dead) > 20:
        print("  ... see `yujing deadletters` for all", file=sys.stderr)
    return 0


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def cmd_run(args: argparse.Namespace) -> int:
    from yujing.app import Wiring, live_delivery, load_scorer, open_bus, open_store, registry_for
    from yujing.pipeline import StageRunner

    settings = _settings()
    bus = open_bus(args.bus or settings.bus_url)
    needs_store = args.role in ("indexer", "all")
    store = open_store(args.store or settings.store_url) if needs_store else None
    scorer = load_scorer(args.model or settings.model) if args.role in ("scorer", "all") else None

    def echo(alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            print(alert_json(alert) if args.json else format_alert(alert), flush=True)

    delivery = live_delivery(settings, echo) if args.role in ("alerter", "all") else None
    wiring = Wiring(settings, registry_for(settings, args.registry), bus, store, scorer,
                    delivery.sink if delivery else echo, args.rules, history=True)
    if (args.bus or settings.bus_url).startswith("kafka://"):  # one thread per stage (ingestion/kafka_runner.py)
        from yujing.ingestion.kafka_runner import ThreadedRunner

        def owns(group: str, partitions: list[tuple[str, int]]) -> None:
            print(f"yujing run: {group} owns {', '.join(f'{t}/{p}' for t, p in partitions) or 'no partitions'}",
                  file=sys.stderr, flush=True)

        runner: StageRunner | ThreadedRunner = ThreadedRunner(bus, wiring.stages(args.role), on_assignment=owns)
    else:
        runner = StageRunner(bus, wiring.stages(args.role))
    from yujing import metrics

    metrics.start_role_metrics(args.role)
    runner.open()
    print(f"yujing run: role={args.role} bus={args.bus or settings.bus_url} — Ctrl-C to stop", file=sys.stderr)
    try:
        if args.until_idle:
            runner.drain()
        else:
            runner.run_forever(_stop_on_signals())
    finally:
        runner.close()
        if delivery is not None:
            delivery.close()
        if store is not None:
            store.close()
        bus.close()
    return 0


# stages whose dead letters hold what a producer sent (a line, an HTTP intake item, a raw-topic record), so
# `yujing ingest` can take them again once fixed; later stages' (index, deliver) hold Yujing's own records
INPUT_STAGES = ("ingest", "score")


def _one_line(letter: DeadLetter) -> str:
    """A dead letter's input as one JSON Lines line, to fix and re-send with ``yujing ingest``: a record that arrived
    pretty-printed over several lines is compacted; anything else keeps its text, its line breaks as spaces."""
    if "\n" not in letter.raw and "\r" not in letter.raw:
        return letter.raw
    try:
        return json.dumps(json.loads(letter.raw), ensure_ascii=False)
    except (ValueError, RecursionError):
        return " ".join(letter.raw.splitlines())


def cmd_deadletters(args: argparse.Namespace) -> int:
    from yujing.app import open_bus
    from yujing.ingestion.bus import DEAD_LETTERS

    settings = _settings()
    bus = open_bus(args.bus or settings.bus_url)
    try:
        records = bus.read_all(DEAD_LETTERS)  # all of them, without joining a consumer group
    finally:
        bus.close()
    shown = unreadable = internal = 0
    for m in records:
        try:
            letter = DeadLetter.from_dict(json.loads(m.value))
        except (ValueError, KeyError, TypeError):
            unreadable += 1
            print(f"yujing deadletters: record {m.origin} is not a dead letter; skipped", file=sys.stderr)
            continue
        if args.raw and letter.stage not in INPUT_STAGES:
            internal += 1
            print(f"yujing deadletters: {letter.origin} ({letter.stage} stage) holds a Yujing record, not input; "
                  "left out of --raw (see --json)", file=sys.stderr)
            continue
        shown += 1
        if args.raw:
            print(_one_line(letter))
        else:
            print(json.dumps(letter.to_dict(), ensure_ascii=False) if args.json
                  else f"{letter.origin}  [{letter.stage}] {letter.reason}")
    if not args.json:
        skipped = [f"{unreadable} unreadable records"] if unreadable else []
        skipped += [f"{internal} records of later stages"] if internal else []
        print(f"{shown} dead letters" + (f" ({' and '.join(skipped)} skipped)" if skipped else ""), file=sys.stderr)
    return 0


# ---- parser ----------------------------------------------------------------------------------

def _common(p: argparse.ArgumentParser, *, registry: bool = True, model: bool = False) -> None:
    if registry:
        p.add_argument("--registry", type=Path, help="platform registry YAML (default: configured or demo)")
    if model:
        p.add_argument("--model", help="scorer: lexicon, transformer, transformer-int8 (default: fine-tuned)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="yujing", description="Yujing (预警): early warning of online-finance risk")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("score", help="score JSON Lines posts: one JSON result per input line")
    p.add_argument("file", nargs="?", default="-", help="JSON Lines file, or - for stdin (default)")
    p.add_argument("--batch-size", type=int, default=64)
    _common(p, model=True)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("replay", help="run the whole pipeline over a recorded stream in event time")
    p.add_argument("file")
    p.add_argument("--rules", type=Path, help="alert rules YAML (default: shipped rules)")
    p.add_argument("--store", help="store URL (default: a fresh temporary embedded store)")
    _common(p, model=True)
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("ingest", help="decode a JSON Lines file onto the bus (bad lines are dead-lettered)")
    p.add_argument("file")
    p.add_argument("--bus", help="bus URL: sqlite:///PATH (default) or kafka://host:port")
    p.add_argument("--json", action="store_true", help="print a JSON summary (counts, topics, dead letters)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("run", help="the long-running service: score, index and alert what arrives on the bus")
    p.add_argument("--bus")
    p.add_argument("--store")
    p.add_argument("--role", default="all", choices=("scorer", "indexer", "alerter", "all"))
    p.add_argument("--rules", type=Path)
    p.add_argument("--json", action="store_true", help="print warnings as JSON Lines")
    p.add_argument("--until-idle", action="store_true", help="exit once the bus has nothing new (batch jobs)")
    _common(p, model=True)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("deadletters", help="list dead-lettered input with origin and reason",
                       description="Every input that could not be processed. To fix and re-send: `yujing deadletters "
                       "--raw > fix.jsonl`, correct the lines (the reasons are in the plain listing, in the same "
                       "order), then `yujing ingest fix.jsonl`. Authors in the lines are already pseudonymised and "
                       "stay the same pseudonyms when re-ingested.")
    p.add_argument("--bus")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true",
                        help="one JSON object per dead letter (origin, reason, raw, stage)")
    output.add_argument("--raw", action="store_true",
                        help="only each dead letter's input, one line each: a JSON Lines file to fix and re-ingest")
    p.set_defaults(func=cmd_deadletters)

    from yujing.demo.cli import register as register_demo

    register_demo(sub)
    for name in PACKAGE_CLIS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except YujingError as exc:
        print(f"yujing {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
