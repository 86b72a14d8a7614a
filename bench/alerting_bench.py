"""Throughput of windows + rules (Alerting.observe) on the demo stream, scaled up.

    PYTHONPATH=. python bench/alerting_bench.py [--scale 50]

Scores the demo once with the lexicon model, then replays it ``scale`` times, each copy shifted
in event time by the stream's span (fresh episodes), through ``Alerting.observe``/``advance``."""

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
    args = ap.parse_args()
    settings = Settings()
    registry = registry_for(settings, None)
    posts = decode_file(str(DEMO), settings).posts
    scored = ScoreStage(None, load_scorer("lexicon"), PlatformMatcher(registry)).score_posts(posts)  # type: ignore[arg-type]
    span = max(p.ts for p in scored) - min(p.ts for p in scored) + timedelta(days=1)
    alerting = build_alerting(registry)
    n = alerts = 0
    start = time.perf_counter()
    for k in range(args.scale):
        for sp in scored:
            shifted = dataclasses.replace(sp, post=dataclasses.replace(sp.post, ts=sp.post.ts + k * span))
            alerts += len(alerting.observe(shifted))
            n += 1
        alerts += len(alerting.advance(max(p.ts for p in scored) + k * span + timedelta(hours=1)))
    dt = time.perf_counter() - start
    print(f"alerting: {n} posts in {dt:.2f} s = {n / dt:,.0f} posts/s ({alerts} notifications, scale {args.scale})")


if __name__ == "__main__":
    main()
