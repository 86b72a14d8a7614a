"""Throughput of windows + rules (Alerting.observe) on the demo stream, scaled up.

    PYTHONPATH=. python bench/alerting_bench.py [--scale 50] [--busy 1]

Scores the demo once with the lexicon model, then replays it ``scale`` times, each copy shifted
in event time by the stream's span (fresh episodes), through ``Alerting.observe``/``advance``.
Prints wall-clock and CPU-time throughput (the CPU figure is steadier on a shared machine)."""

from __future__ import annotations

import argparse
import dataclasses
import time
from datetime import timedelta
from pathlib import Path

from yujing.alerting.service import build_alerting
from yujing.app import decode_file, load_scorer, registry_for
from yujing.models.attribution import PlatformMatcher
from yujing.pipeline import ScoreStage
from yujing.settings import Settings

DEMO = Path(__file__).resolve().parents[1] / "yujing" / "demo" / "stream.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=50)
    ap.add_argument("--busy", type=int, default=1,
                    help="overlay this many copies of the stream, a few seconds apart, in every pass: platforms "
                         "this many times busier (windows hold this many times more posts)")
    args = ap.parse_args()
    settings = Settings()
    registry = registry_for(settings, None)
    posts = decode_file(str(DEMO), settings).posts
    scored = ScoreStage(None, load_scorer("lexicon"), PlatformMatcher(registry), b"bench").score_posts(posts)  # type: ignore[arg-type]
    if args.busy > 1:
        scored = sorted((dataclasses.replace(sp, post=dataclasses.replace(
            sp.post, id=f"{sp.post.id}-{b}", author=f"{sp.post.author}-{b}", ts=sp.post.ts + timedelta(seconds=7 * b)))
            for sp in scored for b in range(args.busy)), key=lambda sp: sp.post.ts)
    span = max(p.ts for p in scored) - min(p.ts for p in scored) + timedelta(days=1)
    alerting = build_alerting(registry)
    n = alerts = 0
    start, cpu = time.perf_counter(), time.process_time()
    for k in range(args.scale):
        for sp in scored:
            shifted = dataclasses.replace(sp, post=dataclasses.replace(sp.post, ts=sp.post.ts + k * span))
            alerts += len(alerting.observe(shifted))
            n += 1
        alerts += len(alerting.advance(max(p.ts for p in scored) + k * span + timedelta(hours=1)))
    dt, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"alerting: {n} posts in {dt:.2f} s = {n / dt:,.0f} posts/s; CPU {cpu:.2f} s = {n / cpu:,.0f} posts per "
          f"CPU second ({alerts} notifications, scale {args.scale}, busy {args.busy})")


if __name__ == "__main__":
    main()
