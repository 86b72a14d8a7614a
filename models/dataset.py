"""Labelled examples: one JSON object per line ``{"id","text","rumour","panic","gathering",...}``."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yujing.errors import InputError
from yujing.records import SIGNALS

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    text: str
    labels: tuple[int, int, int]
    genre: str = ""
    group: str = ""


def example_from(d: Mapping[str, Any], where: str) -> Example:
    if not isinstance(d, Mapping):
        raise InputError("not_an_object", f"{where}: expected a JSON object")
    text = d.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InputError("missing_text", f"{where} text: expected a non-empty string")
    labels = []
    for s in SIGNALS:
        value = d.get(s.value)
        if value not in (0, 1) or isinstance(value, bool):
            raise InputError("bad_label", f"{where} {s.value}: expected 0 or 1, got {value!r}")
        labels.append(int(value))
    return Example(
        str(d.get("id", where)),
        text,
        (labels[0], labels[1], labels[2]),
        str(d.get("genre", "")),
        str(d.get("group", "")),
    )


def read_examples(path: Path) -> list[Example]:
    """All examples of a JSONL file; the first bad line raises InputError naming ``file:line``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError("unreadable", f"{path}: {exc.strerror}") from exc
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError("bad_json", f"{path}:{n}: {exc.msg}") from exc
        out.append(example_from(obj, f"{path}:{n}"))
    if not out:
        raise InputError("empty", f"{path}: no examples")
    return out


def read_splits(data_dir: Path) -> dict[str, list[Example]]:
    missing = [s for s in SPLITS if not (data_dir / f"{s}.jsonl").is_file()]
    if missing:
        raise InputError(
            "missing_split", f"{data_dir}: no {', '.join(s + '.jsonl' for s in missing)} (see models/data/)"
        )
    return {s: read_examples(data_dir / f"{s}.jsonl") for s in SPLITS}


def describe(examples: Iterable[Example]) -> dict[str, Any]:
    rows = list(examples)
    genres: dict[str, int] = {}
    for e in rows:
        genres[e.genre or "-"] = genres.get(e.genre or "-", 0) + 1
    return {
        "n": len(rows),
        "positives": {s.value: sum(e.labels[j] for e in rows) for j, s in enumerate(SIGNALS)},
        "none": sum(1 for e in rows if not any(e.labels)),
        "genres": dict(sorted(genres.items(), key=lambda kv: -kv[1])),
    }


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def hold_out(examples: Sequence[Example], fraction: float) -> tuple[list[Example], list[Example]]:
    """(kept, held out): whole groups (``group``, else ``id``) held out by a stable hash, about ``fraction``."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")

    def bucket(e: Example) -> float:
        digest = hashlib.sha256((e.group or e.id).encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    kept = [e for e in examples if bucket(e) >= fraction]
    held = [e for e in examples if bucket(e) < fraction]
    return kept, held


def sample(examples: Sequence[Example], k: int, seed: int) -> list[Example]:
    """At most ``k`` examples, a seeded random sample in the original order."""
    if len(examples) <= k:
        return list(examples)
    chosen = sorted(random.Random(seed).sample(range(len(examples)), k))
    return [examples[i] for i in chosen]
