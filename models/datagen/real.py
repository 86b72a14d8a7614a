"""Annotated real texts: ids and labels live in the repo, the texts are read from the shared data folder.

``models/data/real_labels.jsonl`` holds one line per annotated text::

    {"source": "finance_texts/bdci2019_testA.csv", "id": "…", "rumour": 0, "panic": 1,
     "gathering": 0, "split": "eval", "group": "g1a2b3c4d", "votes": [[0, 1, 0], [0, 1, 0]], "note": "…"}

``votes`` (optional) are the independent annotators' labels ``[rumour, panic, gathering]`` in the order they
were given: the first pass, the second annotator, and a third one only where the first two disagree. The label
fields are then the per-signal majority, and :func:`agreement` measures how far the first two agree.

``source`` is a path relative to the shared data folder (``../shared/data`` in a checkout next to the
team's shared folder). The texts themselves have research-use terms and are never copied into the
repo: ``load_real(data_dir, split)`` reads them at run time from ``data_dir``. Labels were assigned
to the first ``ANNOTATED_CHARS`` characters of the whitespace-normalised text, so that is what the
loader returns (see models/data/REAL_LABELS.md for the guideline, sampling and counts).

``load_ced(data_dir)`` is separate: every CED Weibo source post with its general-rumour label and a
chronological train/test split, for rumour-only experiments (its panic/gathering are unknown, 0 here).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from yujing.errors import InputError
from yujing.models.datagen.leakage import shingles
from yujing.models.dataset import Example
from yujing.records import SIGNALS

LABELS_FILE = Path(__file__).resolve().parent.parent / "data" / "real_labels.jsonl"
ANNOTATED_CHARS = 400
SPLITS = ("eval", "train")
CED_FILE = "weibo_rumours_ced/ced_source_posts.jsonl"
DATA_HINT = "pass the shared data folder with --data DIR (e.g. --data ../shared/data; see its README.md)"


@dataclass(frozen=True, slots=True)
class RealLabel:
    source: str
    id: str
    labels: tuple[int, int, int]
    split: str
    group: str
    note: str = ""
    votes: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class CedSplit:
    """CED source posts split by time: every ``test`` post is later than every ``train`` post."""

    train: list[Example]
    test: list[Example]
    cutoff: datetime


def normalise(text: str) -> str:
    """Whitespace runs collapsed, ends stripped, cut to ANNOTATED_CHARS: the text the annotators read."""
    return re.sub(r"\s+", " ", text).strip()[:ANNOTATED_CHARS]


def label_from(d: Mapping[str, Any], where: str) -> RealLabel:
    if not isinstance(d, Mapping):
        raise InputError("not_an_object", f"{where}: expected a JSON object")
    for key in ("source", "id", "split"):
        if not isinstance(d.get(key), str) or not d[key]:
            raise InputError("bad_field", f"{where} {key}: expected a non-empty string, got {d.get(key)!r}")
    if d["split"] not in SPLITS:
        raise InputError("bad_split", f"{where} split: expected one of {', '.join(SPLITS)}, got {d['split']!r}")
    source = str(d["source"])
    if source.startswith("/") or ".." in Path(source).parts:
        raise InputError("bad_source", f"{where} source: expected a path relative to the data folder, got {source!r}")
    values = []
    for s in SIGNALS:
        v = d.get(s.value)
        if v not in (0, 1) or isinstance(v, bool):
            raise InputError("bad_label", f"{where} {s.value}: expected 0 or 1, got {v!r}")
        values.append(int(v))
    labels = (values[0], values[1], values[2])
    note = d.get("note", "")
    return RealLabel(
        source,
        str(d["id"]),
        labels,
        str(d["split"]),
        str(d.get("group", "")),
        note if isinstance(note, str) else "",
        votes_from(d.get("votes", []), labels, where),
    )


def votes_from(raw: object, labels: tuple[int, int, int], where: str) -> tuple[tuple[int, int, int], ...]:
    """The annotators' votes, checked: 2 or 3 lists of three 0/1, a third only where the first two disagree,
    and the label fields equal to the per-signal majority."""
    if raw == []:
        return ()
    shape = "a list of 2 or 3 votes, each [rumour, panic, gathering] of 0/1"
    if not isinstance(raw, list) or not 2 <= len(raw) <= 3:
        raise InputError("bad_votes", f"{where} votes: expected {shape}, got {raw!r}")
    votes: list[tuple[int, int, int]] = []
    for v in raw:
        if not isinstance(v, list) or len(v) != 3 or any(x not in (0, 1) or isinstance(x, bool) for x in v):
            raise InputError("bad_votes", f"{where} votes: expected {shape}, got {raw!r}")
        votes.append((v[0], v[1], v[2]))
    if (len(votes) == 3) == (votes[0] == votes[1]):
        if votes[0] == votes[1]:
            raise InputError("bad_votes", f"{where} votes: the first two votes agree; drop the third")
        raise InputError("bad_votes", f"{where} votes: the first two votes disagree; add a third annotator's vote")
    majority = tuple(int(2 * sum(v[j] for v in votes) > len(votes)) for j in range(3))
    if majority != labels:
        raise InputError(
            "bad_votes",
            f"{where} votes: the labels {list(labels)} are not the majority of the votes {list(majority)}; "
            "set the label fields to the majority",
        )
    return tuple(votes)


def read_labels(path: Path = LABELS_FILE) -> list[RealLabel]:
    """Every label line; the first bad line raises InputError naming ``file:line field``."""
    try:
        lines = _lines(path)
    except OSError as exc:
        raise InputError("unreadable", f"{path}: {exc.strerror}") from exc
    out: list[RealLabel] = []
    seen: dict[tuple[str, str], int] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError("bad_json", f"{path}:{n}: {exc.msg}") from exc
        label = label_from(obj, f"{path}:{n}")
        key = (label.source, label.id)
        if key in seen:
            raise InputError("duplicate", f"{path}:{n} id: {label.id!r} of {label.source} already on line {seen[key]}")
        seen[key] = n
        out.append(label)
    if not out:
        raise InputError("empty", f"{path}: no labels")
    return out


def _lines(path: Path) -> list[str]:
    """Lines split on newline only: CED texts contain U+2028, which ``str.splitlines`` also splits on."""
    return path.read_text(encoding="utf-8").split("\n")


def _first(*fields: object) -> str:
    """The first ';'-separated name of the first field that has one ('' when none)."""
    for field in fields:
        names = [e for e in str(field or "").split(";") if e]
        if names:
            return names[0]
    return ""


# Each reader yields (id, raw text, meta). For finance texts meta is the first key entity (FinNSP's
# ``key_entity``, else its first ``entities`` name; BDCI's ``entity`` column): the unit the real split groups
# finance texts by. For CED posts it is the raw ``time``.
def _rows_finnsp(path: Path) -> Iterable[tuple[str, str, object]]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(rows, list):
        raise InputError("bad_format", f"{path}: expected a JSON list of [id, title, text, ...] rows")
    for k, row in enumerate(rows):
        if not isinstance(row, list) or len(row) < 3:
            raise InputError("bad_format", f"{path} row {k}: expected [id, title, text, ...]")
        yield str(row[0]), str(row[2] or ""), _first(row[5] if len(row) > 5 else "", row[3] if len(row) > 3 else "")


def _rows_csv(path: Path) -> Iterable[tuple[str, str, object]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"id", "text"} <= set(reader.fieldnames):
            raise InputError("bad_format", f"{path}: expected a CSV header with id and text columns")
        for row in reader:
            yield row["id"], row["text"] or "", _first(row.get("entity"))


def _rows_jsonl(path: Path) -> Iterable[tuple[str, str, object]]:
    for n, line in enumerate(_lines(path), start=1):
        if line.strip():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError("bad_json", f"{path}:{n}: {exc.msg}") from exc
            yield str(obj.get("id", "")), str(obj.get("text") or ""), obj.get("time")


def source_path(data_dir: Path, source: str) -> Path:
    path = data_dir / source
    if not path.is_file():
        if not data_dir.is_dir():
            raise InputError("no_data_dir", f"{data_dir}: no such folder; {DATA_HINT}")
        raise InputError("missing_source", f"{path}: no such file in the data folder; {DATA_HINT}")
    return path


def read_rows(data_dir: Path, source: str) -> dict[str, tuple[str, object]]:
    """id -> (raw text, meta) of one source file, in whichever of the three shared formats it uses; meta is
    the text's first key entity (finance files) or its raw ``time`` (CED)."""
    path = source_path(data_dir, source)
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            rows = _rows_finnsp(path)
        elif suffix == ".csv":
            rows = _rows_csv(path)
        elif suffix == ".jsonl":
            rows = _rows_jsonl(path)
        else:
            raise InputError("bad_format", f"{path}: unknown format (expected .json, .csv or .jsonl)")
        return {key: (text, meta) for key, text, meta in rows}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError("unreadable", f"{path}: {exc}") from exc


def read_texts(data_dir: Path, source: str) -> dict[str, str]:
    """id -> raw text of one source file."""
    return {key: text for key, (text, _) in read_rows(data_dir, source).items()}


def resolve(
    data_dir: Path,
    labels: Sequence[RealLabel],
    labels_file: Path = LABELS_FILE,
    texts: dict[str, dict[str, str]] | None = None,
) -> list[Example]:
    """The labelled examples, texts read from ``data_dir`` (or taken from ``texts``, source -> id -> raw text,
    which is filled in as sources are read)."""
    texts = {} if texts is None else texts
    out = []
    for label in labels:
        if label.source not in texts:
            texts[label.source] = read_texts(data_dir, label.source)
        text = normalise(texts[label.source].get(label.id, ""))
        if not text:
            raise InputError(
                "unknown_id",
                f"{labels_file}: id {label.id!r} has no text in {data_dir / label.source}; "
                "the data folder is not the one the labels were made from",
            )
        genre = "weibo-ced" if label.source == CED_FILE else "finance-real"
        out.append(Example(f"real:{label.id}", text, label.labels, genre, label.group))
    return out


def load_real(data_dir: Path, split: str, labels_file: Path = LABELS_FILE) -> list[Example]:
    """The annotated real texts of ``split`` ("eval", "train" or "all"), texts read from ``data_dir``."""
    if split not in (*SPLITS, "all"):
        raise InputError("bad_split", f"split: expected eval, train or all, got {split!r}")
    labels = [x for x in read_labels(labels_file) if split == "all" or x.split == split]
    return resolve(Path(data_dir), labels, labels_file)


def load_real_eval(data_dir: Path) -> list[Example]:
    """The held-out real-text evaluation split (what ``yujing eval --real DIR`` scores)."""
    return load_real(data_dir, "eval")


def load_real_train(data_dir: Path, labels_file: Path = LABELS_FILE) -> list[Example]:
    """The real-text training split (what ``yujing train --extra-real DIR`` adds to train), from the committed
    labels or from another labels file (``--real-labels``), which may not train on a committed eval text."""
    if labels_file.resolve() == LABELS_FILE.resolve():
        return load_real(data_dir, "train")
    held = {(x.source, x.id) for x in read_labels() if x.split == "eval"}
    train = [x for x in read_labels(labels_file) if x.split == "train"]
    leaked = [x for x in train if (x.source, x.id) in held]
    if leaked:
        raise InputError(
            "eval_text_in_train",
            f"{labels_file}: {len(leaked)} train rows (first: {leaked[0].source} id {leaked[0].id}) are texts of the "
            "committed real eval split (models/data/real_labels.jsonl); training on them would inflate "
            "`yujing eval --real`; mark them split=eval or drop them",
        )
    return resolve(Path(data_dir), train, labels_file)


def parse_ced_time(value: object, where: str = "time") -> datetime:
    """CED stores epoch seconds for most posts and ``Wed May 08 20:44:17 +0800 2013`` for a few."""
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
        except ValueError:
            pass
    raise InputError("bad_time", f"{where}: expected epoch seconds or 'Wed May 08 20:44:17 +0800 2013', got {value!r}")


def load_ced(data_dir: Path, test_fraction: float = 0.2, labels_file: Path | None = LABELS_FILE) -> CedSplit:
    """CED source posts, rumour label only, the latest ``test_fraction`` of them as test.

    Posts that are in the annotated real eval split are left out of ``train`` so that training on
    CED and evaluating on the real eval split never share a text.
    """
    if not 0.0 < test_fraction < 1.0:
        raise InputError("bad_fraction", f"test_fraction: expected 0 < f < 1, got {test_fraction}")
    path = source_path(Path(data_dir), CED_FILE)
    held_out = (
        {x.id for x in read_labels(labels_file) if x.source == CED_FILE and x.split == "eval"}
        if labels_file is not None
        else set()
    )
    posts = []
    for n, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError("bad_json", f"{where}: {exc.msg}") from exc
        label = obj.get("label")
        if label not in ("rumor", "non-rumor"):
            raise InputError("bad_label", f"{where} label: expected 'rumor' or 'non-rumor', got {label!r}")
        text = normalise(str(obj.get("text") or ""))
        if not text:
            continue
        when = parse_ced_time(obj.get("time"), f"{where} time")
        example = Example(f"ced:{obj.get('id')}", text, (int(label == "rumor"), 0, 0), "weibo-ced", "")
        posts.append((when, str(obj.get("id")), example))
    if len(posts) < 2:
        raise InputError("empty", f"{path}: fewer than two usable posts")
    posts.sort(key=lambda p: (p[0], p[1]))
    cut = min(len(posts) - 1, max(1, round(len(posts) * (1 - test_fraction))))
    train = [e for _, pid, e in posts[:cut] if pid not in held_out]
    test = [e for _, _, e in posts[cut:]]
    return CedSplit(train, test, posts[cut][0])


FINANCE_FILES = (
    "finance_texts/bdci2019_testA.csv",
    "finance_texts/finnsp/train_list.json",
    "finance_texts/finnsp/eval_list.json",
)


def load_unlabelled(
    data_dir: Path, limit: int, seed: int, labels_file: Path = LABELS_FILE, min_chars: int = 15
) -> list[str]:
    """Up to ``limit`` real texts nobody annotated that the real split would put on the train side.

    For distillation (a teacher model labels them): finance texts whose first key entity is not an eval
    group's and that name no eval group's entity, and CED posts older than every eval CED post; none may be
    a near-duplicate (4-gram containment >= 0.5 on letters and digits) of an eval text. Sampled with ``seed``.
    """
    import random

    data_dir = Path(data_dir)
    labels = read_labels(labels_file)
    annotated = {(x.source, x.id) for x in labels}
    eval_labels = [x for x in labels if x.split == "eval"]
    rows = {src: read_rows(data_dir, src) for src in (*FINANCE_FILES, CED_FILE)}  # each file parsed once
    texts = {src: {key: text for key, (text, _) in r.items()} for src, r in rows.items()}
    entities = {src: {key: str(meta) for key, (_, meta) in rows[src].items()} for src in FINANCE_FILES}
    eval_first = {entities[x.source].get(x.id, "") for x in eval_labels if x.source in entities} - {""}
    named = [e for e in eval_first if len(e) >= 2]
    ced_times = {key: parse_ced_time(meta, f"{CED_FILE} time") for key, (_, meta) in rows[CED_FILE].items()}
    eval_ced = [ced_times[x.id] for x in eval_labels if x.source == CED_FILE and x.id in ced_times]
    ced_cutoff = min(eval_ced) if eval_ced else datetime.max.replace(tzinfo=UTC)  # no eval CED post: all are train
    candidates: list[str] = []
    for src in (*FINANCE_FILES, CED_FILE):
        for key, raw in sorted(texts[src].items()):
            text = normalise(raw)
            if (src, key) in annotated or len(text) < min_chars:
                continue
            if src == CED_FILE:
                if ced_times.get(key, ced_cutoff) >= ced_cutoff:
                    continue
            elif entities[src].get(key, "") in eval_first or any(e in text for e in named):
                continue
            candidates.append(text)
    random.Random(seed).shuffle(candidates)
    held = [shingles(e.text, 4) for e in resolve(data_dir, eval_labels, labels_file, texts)]
    out: list[str] = []
    seen: set[str] = set()
    for text in candidates:
        if len(out) >= limit:
            break
        grams = shingles(text, 4)
        if text in seen or any(len(grams & h) >= 0.5 * min(len(grams), len(h)) for h in held if h):
            continue
        seen.add(text)
        out.append(text)
    return out


def counts(labels: Iterable[RealLabel]) -> dict[str, dict[str, int]]:
    """Per split (and per split/source family): n, positives per signal, texts with no signal."""
    out: dict[str, Counter[str]] = {}
    for x in labels:
        family = "ced" if x.source == CED_FILE else "finance"
        for key in (x.split, f"{x.split}/{family}", "all"):
            c = out.setdefault(key, Counter())
            c["n"] += 1
            c["none"] += not any(x.labels)
            for s, v in zip(SIGNALS, x.labels, strict=True):
                c[s.value] += v
    return {k: dict(v) for k, v in sorted(out.items())}


def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float:
    """Cohen's kappa of two binary annotations of the same items (1.0 when both are constant and equal)."""
    if len(a) != len(b) or not a:
        raise ValueError(f"kappa needs two equally long, non-empty annotations, got {len(a)} and {len(b)}")
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if expected == 1.0 else (observed - expected) / (1 - expected)


def agreement(labels: Iterable[RealLabel]) -> dict[str, Any]:
    """How far the first two annotators agree on the texts that have votes: per signal the positives of each,
    the positives they share, Cohen's kappa and the F1 of the second annotator against the first; their
    macro-F1 is what a second careful reader scores against the first, a yardstick for a model's macro-F1."""
    voted = [x for x in labels if x.votes]
    if not voted:
        return {"texts": 0}
    out: dict[str, Any] = {"texts": len(voted), "disputed": sum(x.votes[0] != x.votes[1] for x in voted)}
    f1s = []
    for j, s in enumerate(SIGNALS):
        a = [x.votes[0][j] for x in voted]
        b = [x.votes[1][j] for x in voted]
        both = sum(x & y for x, y in zip(a, b, strict=True))
        f1 = 2 * both / (sum(a) + sum(b)) if sum(a) + sum(b) else 1.0
        f1s.append(f1)
        out[s.value] = {
            "first": sum(a),
            "second": sum(b),
            "both": both,
            "kappa": round(cohen_kappa(a, b), 3),
            "f1_second_vs_first": round(f1, 3),
            "adjudicated": sum(x.labels[j] for x in voted),
        }
    out["macro_f1_second_vs_first"] = round(sum(f1s) / len(f1s), 3)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m yujing.models.datagen.real",
        description="counts of the annotated real texts and the annotators' agreement",
    )
    p.add_argument("--data", type=Path, help="shared data folder: also check that every id resolves to a text")
    p.add_argument("--labels", type=Path, default=LABELS_FILE, help="labels file (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object (counts, agreement) for programs")
    args = p.parse_args(argv)
    try:
        labels = read_labels(args.labels)
        if args.data:
            resolve(args.data, labels, args.labels)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report: dict[str, Any] = {
        "counts": counts(labels),
        "agreement": {split: agreement([x for x in labels if x.split == split]) for split in SPLITS},
        "resolved_in": str(args.data or ""),
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    names = [s.value for s in SIGNALS]
    print(f"{'split':<14} {'texts':>6} " + " ".join(f"{n:>9}" for n in names) + f" {'none':>6}")
    for key, c in report["counts"].items():
        print(f"{key:<14} {c['n']:>6} " + " ".join(f"{c.get(n, 0):>9}" for n in names) + f" {c['none']:>6}")
    for split, agree in report["agreement"].items():
        if not agree["texts"]:
            continue
        print(
            f"\n{split} split: agreement of the first two annotators on {agree['texts']} texts "
            f"({agree['disputed']} disputed, decided by a third):"
        )
        for n in names:
            a = agree[n]
            print(
                f"  {n:<9} first {a['first']:>4}  second {a['second']:>4}  both {a['both']:>4}  "
                f"kappa {a['kappa']:.3f}  F1 {a['f1_second_vs_first']:.3f}  adjudicated {a['adjudicated']:>4}"
            )
        print(f"  macro-F1 of the second annotator against the first: {agree['macro_f1_second_vs_first']:.3f}")
    if args.data:
        print(f"\nall {len(labels)} ids resolve in {args.data}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
