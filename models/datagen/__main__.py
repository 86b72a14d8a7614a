"""``python -m yujing.models.datagen [--out DIR] [--seed N] [--check]``: write or verify models/data/."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from yujing.models.datagen.card import render_card
from yujing.models.datagen.compose import LABEL_NAMES, SIZES, SPLITS, generate

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CARD = "DATASET_CARD.md"
DEFAULT_SEED = 20261130


def to_jsonl(rows: Sequence[Mapping[str, object]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m yujing.models.datagen", description=__doc__)
    p.add_argument("--out", type=Path, default=DATA_DIR, help="output folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    p.add_argument("--check", action="store_true", help="only compare the files with a fresh generation")
    p.add_argument(
        "--sizes",
        default=",".join(str(SIZES[s]) for s in SPLITS),
        help="texts in train,dev,test (default: %(default)s)",
    )
    args = p.parse_args(argv)
    try:
        counts = [int(x) for x in args.sizes.split(",")]
        if len(counts) != len(SPLITS) or min(counts) < 1:
            raise ValueError
    except ValueError:
        p.error(f"--sizes: expected three positive integers like 3200,700,800, got {args.sizes!r}")
    splits = generate(args.seed, dict(zip(SPLITS, counts, strict=True)))
    files = {f"{s}.jsonl": to_jsonl(splits[s]) for s in SPLITS}
    files[CARD] = render_card(splits)
    if args.check:
        stale = [n for n, text in files.items() if _read(args.out / n) != text]
        if stale:
            print(
                f"{args.out}: {', '.join(stale)} differ from a fresh generation; rerun without --check", file=sys.stderr
            )
            return 1
        print(f"{args.out}: up to date")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
    for s in SPLITS:
        pos = ", ".join(f"{lab} {sum(int(str(r[lab])) for r in splits[s])}" for lab in LABEL_NAMES)
        print(f"{s}: {len(splits[s])} texts ({pos})")
    print(f"written to {args.out} (card: {args.out / CARD})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
