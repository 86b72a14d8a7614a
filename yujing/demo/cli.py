"""``yujing demo``: replay the demo stream through the full embedded pipeline, then keep serving."""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
from collections.abc import Sequence

from yujing.records import Alert
from yujing.settings import DEMO_DIR, Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="replay the demo stream (one platform collapses), then keep the service running")
    p.add_argument("--once", action="store_true", help="exit after the replay instead of serving")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="HTTP API / situation page port (default 8765)")
    p.add_argument("--model", help="scorer (default: the fine-tuned model)")
    p.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from yujing.alerting.explain import is_page
    from yujing.app import Wiring, decode_file, ingest, load_scorer, open_bus, open_store, registry_for
    from yujing.cli import format_alert
    from yujing.errors import ModelError
    from yujing.pipeline import ScoreStage, Stage, StageRunner

    base = Settings()
    workspace = base.data_dir / "demo"
    shutil.rmtree(workspace, ignore_errors=True)  # a fresh demo every time; your own data is untouched
    settings = base.model_copy(update={"data_dir": workspace, "registry": DEMO_DIR / "registry.yaml"})
    print(f"Yujing demo — workspace {workspace}", file=sys.stderr)
    registry = registry_for(settings, None)
    try:
        scorer = load_scorer(args.model or settings.model)
    except ModelError as exc:
        if args.model or settings.model:
            raise
        # The README's first command must show the pipeline even on a checkout without the shipped
        # weights; say so loudly and use the transparent baseline instead of failing.
        print(f"WARNING: {exc}\nWARNING: the demo falls back to the lexicon baseline (--model lexicon)",
              file=sys.stderr)
        scorer = load_scorer("lexicon")
    print(f"registry: {len(registry)} fictional platforms; scorer: {scorer.name}@{scorer.version}", file=sys.stderr)

    fired: list[Alert] = []

    def sink(alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            fired.append(alert)
            tqdm.write(format_alert(alert), file=sys.stdout)

    decoded = decode_file(str(DEMO_DIR / "stream.jsonl"), settings)
    bus = open_bus(settings.bus_url)
    store = open_store(settings.store_url)
    ingest(bus, decoded, sort_by_time=True)
    wiring = Wiring(settings, registry, bus, store, scorer, sink)
    bar = tqdm(total=len(decoded.posts), desc="scoring demo stream", unit="post", file=sys.stderr)

    def progress(stage: Stage, n: int) -> None:
        if isinstance(stage, ScoreStage):
            bar.update(n)

    runner = StageRunner(bus, wiring.stages("all"), poll_timeout_s=0.0, on_batch=progress)
    runner.open()
    runner.drain()
    runner.close_out()  # the last warnings' group wait runs out, as it would have live
    bar.close()
    warnings = [a for a in fired if not is_page(a.explanation)]
    print(f"\n{len(decoded.posts)} posts replayed, {len(warnings)} warning notifications "
          f"({sum(a.level.rank >= 3 for a in warnings)} orange or red) and {len(fired) - len(warnings)} pages of "
          f"an agency's next contact (nobody acknowledges in the demo).", file=sys.stderr)
    print(f"search it:  yujing search 提现 --store {settings.store_url}", file=sys.stderr)
    if args.once:
        runner.close()
        store.close()
        bus.close()
        return 0
    return _serve(args, settings, runner, store, bus)


def _serve(args: argparse.Namespace, settings: Settings, runner, store, bus) -> int:  # type: ignore[no-untyped-def]
    from yujing.cli import _stop_on_signals

    stop = _stop_on_signals()
    server = None
    try:
        from yujing.http import start_server

        server = start_server(settings, host=args.host, port=args.port)
        print(f"service running: http://{args.host}:{args.port}/ — new posts: "
              f"yujing ingest FILE --bus {settings.bus_url}; Ctrl-C to stop", file=sys.stderr)
    except ModuleNotFoundError:
        print(f"service running (no HTTP API installed); new posts: yujing ingest FILE --bus {settings.bus_url}",
              file=sys.stderr)
    worker = threading.Thread(target=runner.run_forever, args=(stop,), daemon=True)
    worker.start()
    stop.wait()
    worker.join(timeout=5)
    if server is not None:
        server.should_exit = True
    runner.close()
    store.close()
    bus.close()
    return 0
