"""Classifier speed and quality on the same texts: lexicon, torch fp32, torch bf16 and ONNX Runtime int8.

    PYTHONPATH=. python bench/classifier_bench.py [--model e5-zh-ft] [--real ../shared/data] [--n 800]
        [--repeat 3] [--unpacked] [--json]

Prints texts/s (after one warm-up batch, scoring in batches of 64 as the pipeline does; the best of
``--repeat`` passes, as timeit reports its best, and their median), macro-F1 on
models/data/test.jsonl (and on the annotated real texts with --real), and the bf16 and int8 label agreement
with fp32. Whether the CPU multiplies bf16 natively is printed too: the default scorer uses bf16 only there
(elsewhere bf16 is emulated and slower than fp32). Timings depend on the machine and its load; this is a
measurement, not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from yujing.models import metrics
from yujing.models.cli import DATA_DIR, load_real
from yujing.models.dataset import Example, read_examples
from yujing.models.transformer import TransformerScorer, native_bf16
from yujing.models.zoo import DEFAULT_MODEL, load_scorer
from yujing.records import SIGNALS


def run(scorer: Any, texts: Sequence[str], repeat: int, batch: int = 64) -> tuple[list[list[float]], list[float]]:
    """Scores of the last pass and texts/s of each of ``repeat`` passes over ``texts``."""
    scorer.score(list(texts[:batch]))  # warm-up: lazy init, allocator
    speeds: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        out: list[list[float]] = []
        for i in range(0, len(texts), batch):
            out += [[s.get(sig) for sig in SIGNALS] for s in scorer.score(list(texts[i : i + batch]))]
        speeds.append(len(texts) / (time.perf_counter() - start))
    return out, speeds


def labels(probs: Sequence[Sequence[float]], thresholds: Any) -> list[tuple[int, ...]]:
    return [tuple(int(p[j] >= thresholds[s]) for j, s in enumerate(SIGNALS)) for p in probs]


def agreement(a: Sequence[tuple[int, ...]], b: Sequence[tuple[int, ...]]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--real", type=Path, help="shared data folder: also score the annotated real eval texts")
    p.add_argument("--n", type=int, default=800, help="test texts to time (default: %(default)s)")
    p.add_argument(
        "--unpacked", action="store_true", help="also time transformers' own forward (padded, eager attention)"
    )
    p.add_argument("--repeat", type=int, default=3, help="timed passes per scorer and set (default: %(default)s)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    sets: dict[str, list[Example]] = {"test": read_examples(DATA_DIR / "test.jsonl")[: args.n]}
    if args.real:
        sets["real_eval"] = load_real(args.real)
    scorers = {
        "lexicon": load_scorer("lexicon"),
        "fp32": load_scorer(args.model + "-fp32"),
        "bf16": load_scorer(args.model + "-bf16"),
        "int8": load_scorer(args.model + "-int8"),
    }
    if args.unpacked:
        for precision in ("fp32", "bf16"):
            torch_scorer = scorers[precision]
            assert isinstance(torch_scorer, TransformerScorer)
            scorers[f"{precision}-hf"] = dataclasses.replace(torch_scorer, packed=False)
    report: dict[str, Any] = {"threads": os.cpu_count(), "model": args.model, "native_bf16": native_bf16()}
    for set_name, examples in sets.items():
        texts = [e.text for e in examples]
        gold = [list(e.labels) for e in examples]
        rows: dict[str, Any] = {}
        predicted: dict[str, list[tuple[int, ...]]] = {}
        for name, scorer in scorers.items():
            probs, speeds = run(scorer, texts, args.repeat)
            summary = metrics.summary(probs, gold, scorer.thresholds)
            predicted[name] = labels(probs, scorer.thresholds)
            rows[name] = {
                "texts_per_s": round(max(speeds), 1),
                "texts_per_s_median": round(statistics.median(speeds), 1),
                "macro_f1": round(summary["macro_f1"], 3),
            }
        report[set_name] = {
            "n": len(texts),
            "chars_mean": round(sum(map(len, texts)) / len(texts)),
            **rows,
            **{
                f"{name}_fp32_label_agreement": round(agreement(predicted["fp32"], predicted[name]), 4)
                for name in ("bf16", "int8")
            },
        }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return 0
    print(f"{report['threads']} CPUs; native bf16: {'yes' if report['native_bf16'] else 'no (bf16 is emulated)'}")
    for set_name in sets:
        r = report[set_name]
        agree = ", ".join(f"{name} {r[f'{name}_fp32_label_agreement']:.2%}" for name in ("bf16", "int8"))
        print(f"{set_name}: {r['n']} texts, mean {r['chars_mean']} chars; label agreement with fp32: {agree}")
        for name in scorers:
            row = r[name]
            speed = f"{row['texts_per_s']:8.1f} texts/s (median {row['texts_per_s_median']:.1f})"
            print(f"  {name:8} {speed}   macro-F1 {row['macro_f1']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
