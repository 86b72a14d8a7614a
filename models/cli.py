"""``yujing train``, ``yujing eval`` and ``yujing models``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from yujing.errors import InputError, ModelError
from yujing.records import SIGNALS

DATA_DIR = Path(__file__).resolve().parent / "data"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_train(sub)
    _add_retune(sub)
    _add_average(sub)
    _add_head(sub)
    _add_eval(sub)
    p = sub.add_parser("models", help="list the scoring models (yujing score --model NAME)")
    p.add_argument("--json", action="store_true", help="one JSON object per model")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("registry", help="check the platform registry (一户一档): counts, and names attribution will "
                       "misread (shared, one character, ordinary words)")
    p.add_argument("action", choices=("check",))
    p.add_argument("file", nargs="?", type=Path,
                   help="registry YAML or CSV (default: the configured registry, $YUJING_REGISTRY)")
    p.add_argument("--json", action="store_true", help="one JSON object: counts and findings")
    p.set_defaults(func=cmd_registry)


def _add_train(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from yujing.models.train import TrainConfig

    d = TrainConfig(Path("."), Path("."))
    p = sub.add_parser("train", help="fine-tune the transformer classifier on models/data/{train,dev,test}.jsonl")
    p.add_argument(
        "--data", type=Path, default=DATA_DIR, help="folder with train/dev/test.jsonl (default: %(default)s)"
    )
    p.add_argument("--name", default=d.name, help="model name (default: %(default)s)")
    p.add_argument("--version", default=d.version, help="version in model.json and the card (default: %(default)s)")
    p.add_argument("--out", type=Path, help="output folder (default: <cache>/models/NAME)")
    p.add_argument("--real", type=Path, help="shared data folder: also report F1 on the annotated real texts")
    p.add_argument(
        "--extra-real",
        type=Path,
        metavar="DATA_DIR",
        help="shared data folder: add the annotated real train split (models/data/real_labels.jsonl) to train, "
        "holding out --real-dev of it (by group) for dev",
    )
    p.add_argument(
        "--real-labels",
        type=Path,
        metavar="FILE",
        help="with --extra-real: take the train split from this labels file instead of models/data/real_labels.jsonl "
        "(same format, see models/data/REAL_LABELS.md): a subset of the committed labels, or an office's own "
        "annotations of texts in the shared data folder",
    )
    p.add_argument(
        "--real-dev",
        type=float,
        default=0.3,
        help="share of the --extra-real texts added to dev instead of train (default: %(default)s)",
    )
    p.add_argument(
        "--real-repeat",
        type=int,
        default=1,
        help="add the --extra-real training texts this many times (oversampling the real texts; default: %(default)s)",
    )
    p.add_argument(
        "--extra-ced",
        type=Path,
        metavar="DATA_DIR",
        help="shared data folder: add CED Weibo posts (rumour labels; chronological train part, no real-eval ids)",
    )
    p.add_argument("--ced-max", type=int, default=1200, help="at most this many CED posts (default: %(default)s)")
    _add_extra_train(p, "to train only")
    p.add_argument(
        "--teacher",
        metavar="MODEL",
        help="distil: train on this trained model's probabilities mixed with the gold labels (name or folder)",
    )
    p.add_argument(
        "--init-from",
        metavar="MODEL",
        help="start from this trained model's layers and head instead of the pretrained encoder's (name or folder)",
    )
    p.add_argument(
        "--init-layers",
        metavar="I,J,...",
        help="with --init-from: the source layer for each layer kept, e.g. 0,4,8,11 for --depth 4 "
        "(default: evenly spaced from the first to the last)",
    )
    p.add_argument(
        "--distill-alpha",
        type=float,
        default=d.distill_alpha,
        help="weight of the gold label in a labelled text's target with --teacher (default: %(default)s)",
    )
    p.add_argument(
        "--unlabelled-real",
        type=Path,
        metavar="DATA_DIR",
        help="with --teacher: also train on real texts nobody annotated (train side of the real split only), "
        "labelled by the teacher",
    )
    p.add_argument(
        "--unlabelled-max", type=int, default=2000, help="at most this many unlabelled texts (default: %(default)s)"
    )
    for flag, value, text in (
        ("--epochs", d.epochs, "maximum epochs"),
        ("--patience", d.patience, "early-stopping patience"),
        ("--depth", d.depth, "encoder layers kept"),
        ("--train-from", d.train_from, "first fine-tuned layer"),
        ("--batch-size", d.batch_size, "batch size"),
        ("--seed", d.seed, "random seed"),
        ("--max-length", d.max_length, "max tokens per text (or window)"),
        ("--window-chars", d.window_chars, "score longer texts as overlapping windows of this many chars (0: off)"),
    ):
        p.add_argument(flag, type=int, default=value, help=f"{text} (default: %(default)s)")
    p.add_argument("--lr", type=float, default=d.lr, help="encoder learning rate (default: %(default)s)")
    p.add_argument("--head-lr", type=float, default=d.head_lr, help="head learning rate (default: %(default)s)")
    p.add_argument("--max-minutes", type=float, help="stop after the epoch that passes this wall time")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    _add_threshold_options(p, d.threshold_rule, d.threshold_tolerance)
    p.add_argument("--json", action="store_true", help="print the final report as JSON")
    p.set_defaults(func=cmd_train)


def _add_threshold_options(p: argparse.ArgumentParser, rule: str, tolerance: float) -> None:
    from yujing.models.calibration import RULES

    p.add_argument(
        "--thresholds",
        choices=RULES,
        default=rule,
        help="how the synthetic and the real dev texts set each signal's threshold: mean (the best mean F1 of the "
        "two) or floor (the best real F1 among thresholds within --tolerance of the best synthetic F1; "
        "default: %(default)s)",
    )
    p.add_argument(
        "--tolerance",
        type=float,
        default=tolerance,
        help="with --thresholds floor: how far below its best the synthetic dev F1 may go (default: %(default)s)",
    )


def _add_retune(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "retune",
        help="set a trained model's thresholds again from dev texts by a rule (no training), and measure it again",
    )
    p.add_argument("model", help="model name or folder (see `yujing models`)")
    _add_dev_options(p)
    p.add_argument("--out", type=Path, help="write the re-tuned model to this new folder (default: in place)")
    p.add_argument("--version", help="version for the re-tuned model (default: unchanged)")
    p.add_argument("--json", action="store_true", help="print the new report as JSON")
    p.set_defaults(func=cmd_retune)


def _add_average(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "average",
        help="average the weights of several runs of one recipe (e.g. two seeds) into one model, then fit its "
        "temperatures and thresholds on dev and measure it",
    )
    p.add_argument("models", nargs="+", help="two or more model names or folders, trained by one recipe")
    _add_dev_options(p)
    p.add_argument("--out", type=Path, required=True, help="new folder for the averaged model")
    p.add_argument("--version", required=True, help="version of the averaged model")
    p.add_argument("--json", action="store_true", help="print the averaged model's report as JSON")
    p.set_defaults(func=cmd_average)


def _add_head(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "head",
        help="give a trained model a new linear head that reads several of its layers side by side (the encoder is "
        "kept), fitted on frozen features; set its thresholds on dev and measure it",
    )
    p.add_argument("model", help="model name or folder (see `yujing models`)")
    p.add_argument("--layers", required=True, help="layer numbers the head reads, e.g. 4,6,8,10,12 (12 = the last)")
    p.add_argument("--out", type=Path, required=True, help="new folder for the model")
    p.add_argument("--version", required=True, help="version of the new model")
    _add_extra_train(p, "to train")
    p.add_argument(
        "--no-balance",
        dest="balance",
        action="store_false",
        help="count each --extra-real train text once (default: they weigh as much in all as the other train texts)",
    )
    _add_dev_options(p)
    p.add_argument("--json", action="store_true", help="print the new model's report as JSON")
    p.set_defaults(func=cmd_head)


def _add_extra_train(p: argparse.ArgumentParser, where: str) -> None:
    p.add_argument(
        "--extra-train",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help=f"add the labelled texts of this JSONL file {where} (e.g. models/data/spam_negatives.jsonl); repeatable",
    )


def _add_dev_options(p: argparse.ArgumentParser) -> None:
    """The dev/test/real texts that `retune` and `average` calibrate on and measure with."""
    p.add_argument(
        "--data", type=Path, default=DATA_DIR, help="folder with dev.jsonl and test.jsonl (default: %(default)s)"
    )
    p.add_argument(
        "--extra-real",
        type=Path,
        metavar="DATA_DIR",
        help="shared data folder: add the --real-dev share of the annotated real train split to dev (as training did)",
    )
    p.add_argument("--real-labels", type=Path, metavar="FILE",
                   help="with --extra-real: the labels file training used instead of models/data/real_labels.jsonl")
    p.add_argument("--real-dev", type=float, default=0.3,
                   help="share of the --extra-real texts held out for dev, as in training (default: %(default)s)")
    p.add_argument("--real", type=Path, metavar="DATA_DIR",
                   help="shared data folder: measure the annotated real eval texts again (needed if the card has them)")
    _add_threshold_options(p, "floor", 0.01)


def _add_eval(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("eval", help="precision/recall/F1, calibration and worst examples of a model on labelled texts")
    p.add_argument(
        "file", nargs="?", type=Path, help="JSONL with text,rumour,panic,gathering (default: models/data/test.jsonl)"
    )
    p.add_argument("--real", type=Path, help="evaluate on the annotated real texts of this shared data folder instead")
    p.add_argument(
        "--attribution",
        type=Path,
        metavar="DATA_DIR",
        help="measure platform attribution instead: FinNSP posts against the 5,085-name registry of this shared "
        "data folder, scored against FinNSP's entity lists and the team's gold (models/data/ATTRIBUTION_GOLD.md)",
    )
    p.add_argument("--model", help="model name (see `yujing models`; default: the fine-tuned default)")
    p.add_argument("--worst", type=int, default=10, help="how many worst examples to show (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_eval)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_real(shared_dir: Path) -> list[Any]:
    """The annotated real texts, via the data helper's loader (ids + labels in the repo, texts in shared/)."""
    from yujing.models.dataset import Example, example_from

    try:
        from yujing.models.datagen.real import load_real_eval
    except ImportError as exc:
        raise InputError("no_real_eval", f"the real-text loader yujing.models.datagen.real is missing ({exc})") from exc
    rows = load_real_eval(shared_dir)
    return [
        r if isinstance(r, Example) else example_from(r if isinstance(r, Mapping) else vars(r), f"real:{i}")
        for i, r in enumerate(rows)
    ]


def load_real_train(shared_dir: Path, labels_file: Path | None = None) -> list[Any]:
    """The annotated real train split (ids + labels in the repo, or in ``labels_file``; texts read from
    ``shared_dir``)."""
    from yujing.models.datagen.real import LABELS_FILE
    from yujing.models.datagen.real import load_real_train as load

    return load(shared_dir, labels_file or LABELS_FILE)


def real_split(args: argparse.Namespace) -> tuple[list[Any], list[Any]]:
    """(train, dev) of the annotated real train split named by --extra-real / --real-labels / --real-dev."""
    from yujing.models.dataset import hold_out

    if args.real_labels and not args.extra_real:
        raise InputError("bad_option", "--real-labels: the labels file is read with --extra-real DATA_DIR; add it")
    if not 0.0 <= args.real_dev < 1.0:
        raise InputError("bad_option", f"--real-dev must be in [0, 1), got {args.real_dev}")
    return hold_out(load_real_train(args.extra_real, args.real_labels), args.real_dev)


def extra_examples(args: argparse.Namespace) -> tuple[list[Any], list[Any], list[dict[str, Any]]]:
    """(extra train, extra dev, their description for the model card) from --extra-real, --extra-ced and
    --extra-train."""
    from yujing.models.dataset import describe, sample

    train: list[Any] = []
    dev: list[Any] = []
    sources: list[dict[str, Any]] = []
    if args.extra_real or args.real_labels:
        repeat = args.real_repeat
        if repeat < 1:
            raise InputError("bad_option", f"--real-repeat must be 1 or more, got {repeat}")
        real_train, real_dev = real_split(args)
        train += real_train * repeat
        dev += real_dev
        sources += real_sources(args, real_train, real_dev, repeat)
    if args.extra_ced:
        from yujing.models.datagen.real import load_ced

        taken = {e.id for e in train + dev}
        ced = sample([e for e in load_ced(args.extra_ced).train if e.id not in taken], args.ced_max, args.seed)
        train += ced
        sources.append(
            {
                "name": "ced:train",
                "added_to": "train",
                "source": "CED Weibo source posts (weibo_rumours_ced/ced_source_posts.jsonl), chronological train "
                "part, real-eval ids excluded; rumour label from CED, panic/gathering set to 0",
                **describe(ced),
            }
        )
    files, described = extra_train_files(args)
    return train + files, dev, sources + described


def real_sources(args: argparse.Namespace, real_train: list[Any], real_dev: list[Any], repeat: int = 1
                 ) -> list[dict[str, Any]]:
    """The model card's rows for the annotated real split named by --extra-real / --real-labels."""
    from yujing.models.dataset import describe, file_digest

    labels = (
        f"{args.real_labels} (sha256 {file_digest(args.real_labels)})"
        if args.real_labels else "models/data/real_labels.jsonl"
    )
    what = f"annotated real texts: train split of {labels} (texts from the shared data folder)"
    rows = []
    for split, part, times in (("train", real_train, repeat), ("dev", real_dev, 1)):
        name = "real_labels:train" + (f" (each text {times} times)" if times > 1 else "")
        rows.append({"name": name, "added_to": split, "source": what, **describe(part)})
    return rows


def extra_train_files(args: argparse.Namespace) -> tuple[list[Any], list[dict[str, Any]]]:
    """The texts of the --extra-train files, and the model card's row for each."""
    from yujing.models.dataset import describe, file_digest, read_examples

    train: list[Any] = []
    rows = []
    for path in args.extra_train:
        examples = read_examples(path)  # a missing, empty or bad file raises InputError naming file:line
        train += examples
        rows.append({"name": f"file:{path.name}", "added_to": "train", "source": f"{path} (sha256 {file_digest(path)})",
                     **describe(examples)})
    return train, rows


def _layer_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise InputError("bad_option", f"--init-layers {text!r}: expected comma-separated layer numbers, "
                         "e.g. 0,4,8,11") from None


def cmd_train(args: argparse.Namespace) -> int:
    from yujing.models.train import TrainConfig, train
    from yujing.models.zoo import find_model_dir, trained_dir

    if args.unlabelled_real and not args.teacher:
        raise InputError("no_teacher", "--unlabelled-real: unlabelled texts need --teacher MODEL to label them")
    teacher = find_model_dir(args.teacher) if args.teacher else None
    init_dir = find_model_dir(args.init_from) if args.init_from else None
    try:  # checked before any data is read; the messages name the option and the fix
        cfg = TrainConfig(
            args.data,
            args.out or trained_dir() / args.name,
            name=args.name,
            version=args.version,
            depth=args.depth,
            train_from=args.train_from,
            epochs=args.epochs,
            patience=args.patience,
            batch_size=args.batch_size,
            lr=args.lr,
            head_lr=args.head_lr,
            seed=args.seed,
            max_length=args.max_length,
            window_chars=args.window_chars,
            device=args.device,
            max_minutes=args.max_minutes,
            teacher=teacher,
            distill_alpha=args.distill_alpha,
            init_from=init_dir,
            init_layers=_layer_list(args.init_layers) if args.init_layers else (),
            threshold_rule=args.thresholds,
            threshold_tolerance=args.tolerance,
        )
    except ValueError as exc:
        raise InputError("bad_option", str(exc)) from None
    real = load_real(args.real) if args.real else []
    extra_train, extra_dev, sources = extra_examples(args)
    unlabelled: list[str] = []
    if args.unlabelled_real:
        from yujing.models.datagen.real import load_unlabelled

        unlabelled = load_unlabelled(args.unlabelled_real, args.unlabelled_max, args.seed)
    result = train(
        cfg, real, say=_say, extra_train=extra_train, extra_dev=extra_dev, extra_sources=sources, unlabelled=unlabelled
    )
    if args.json:
        print(json.dumps(result.report, ensure_ascii=False, indent=1))
    else:
        for split in ("test", "real_eval"):
            if split in result.report:
                print(f"{split}: macro-F1 {result.report[split]['macro_f1']:.3f}")
        print(
            f"model written to {cfg.out_dir} (model card: {cfg.out_dir / 'model_card.md'}); "
            f"use it with `yujing score --model {cfg.out_dir}`"
        )
    return 0


def cmd_retune(args: argparse.Namespace) -> int:
    from yujing.models.retune import retune
    from yujing.models.zoo import find_model_dir

    model_dir = find_model_dir(args.model)
    synthetic_dev, extra_dev, test, real = dev_texts(args, model_dir)
    report = retune(
        model_dir,
        synthetic_dev,
        extra_dev,
        test,
        real,
        rule=args.thresholds,
        tolerance=args.tolerance,
        out_dir=args.out,
        version=args.version,
        say=_say,
    )
    return print_tuned(report, args.out or model_dir, "re-tuned", args.json)


def cmd_average(args: argparse.Namespace) -> int:
    from yujing.models.average import average
    from yujing.models.zoo import find_model_dir

    model_dirs = [find_model_dir(m) for m in args.models]
    synthetic_dev, extra_dev, test, real = dev_texts(args, model_dirs[0])
    report = average(
        model_dirs,
        args.out,
        synthetic_dev,
        extra_dev,
        test,
        real,
        version=args.version,
        rule=args.thresholds,
        tolerance=args.tolerance,
        say=_say,
    )
    return print_tuned(report, args.out, "averaged", args.json)


def cmd_head(args: argparse.Namespace) -> int:
    from yujing.models.dataset import read_examples
    from yujing.models.head import fit_layer_head, parse_layers
    from yujing.models.transformer import read_spec
    from yujing.models.zoo import find_model_dir

    model_dir = find_model_dir(args.model)
    layers = parse_layers(args.layers, read_spec(model_dir)[0].depth)
    if args.tolerance < 0 or args.tolerance >= 1:
        raise InputError("bad_option", f"--tolerance must be in [0, 1), got {args.tolerance}")
    real_train, real_dev = real_split(args) if args.extra_real or args.real_labels else ([], [])
    files, described = extra_train_files(args)
    train = read_examples(args.data / "train.jsonl") + files
    sources = (real_sources(args, real_train, real_dev) if real_train or real_dev else []) + described
    report = fit_layer_head(
        model_dir,
        layers,
        train,
        real_train,
        read_examples(args.data / "dev.jsonl"),
        real_dev,
        read_examples(args.data / "test.jsonl"),
        load_real(args.real) if args.real else [],
        out_dir=args.out,
        version=args.version,
        balance=args.balance,
        rule=args.thresholds,
        tolerance=args.tolerance,
        sources=sources,
        say=_say,
    )
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return 0
    head = report["head"]
    print(f"head on layers {','.join(map(str, head['layers']))} of {head['from']['name']} v{head['from']['version']} "
          f"(L2 {head['l2']:g})")
    for split in ("dev", "test", "real_eval"):
        if split in report:
            print(f"{split}: macro-F1 {report[split]['macro_f1']:.3f}")
    print(f"model written to {args.out} (model card: {args.out / 'model_card.md'}); "
          f"use it with `yujing score --model {args.out}`")
    return 0


def dev_texts(args: argparse.Namespace, model_dir: Path) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """(synthetic dev, extra dev, test, real eval) named by the options of `retune` / `average`, with a note when
    the extra dev texts are not the ones ``model_dir`` was trained with."""
    from yujing.models.card import read_metrics
    from yujing.models.dataset import describe, read_examples

    if args.tolerance < 0 or args.tolerance >= 1:
        raise InputError("bad_option", f"--tolerance must be in [0, 1), got {args.tolerance}")
    extra_dev = real_split(args)[1] if args.extra_real or args.real_labels else []
    trained = [x for x in read_metrics(model_dir).get("extra", []) if x.get("added_to") == "dev"]
    now = describe(extra_dev)
    if trained and not extra_dev:
        _say(f"note: {model_dir.name} was trained with {trained[0]['n']} extra dev texts; without --extra-real the "
             "thresholds are tuned on the synthetic dev texts alone")
    elif extra_dev and trained and (trained[0]["n"], trained[0]["positives"]) != (now["n"], now["positives"]):
        _say(f"note: these {now['n']} extra dev texts ({now['positives']}) are not the {trained[0]['n']} "
             f"({trained[0]['positives']}) the model was trained with; check --real-labels and --real-dev")
    return (
        read_examples(args.data / "dev.jsonl"),
        extra_dev,
        read_examples(args.data / "test.jsonl"),
        load_real(args.real) if args.real else [],
    )


def print_tuned(report: dict[str, Any], where: Path, what: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return 0
    again = report["retuned"]
    for s in SIGNALS:
        before, after = again["previous_thresholds"][s.value], again["thresholds"][s.value]
        print(f"{s.value}: threshold {before:.2f} -> {after:.2f}")
    if again.get("temperatures_refit"):
        print("temperatures (fitted on dev): " + ", ".join(
            f"{s.value} {t:.2f}" for s, t in zip(SIGNALS, again["temperatures"], strict=True)))
    for split in ("dev", "test", "real_eval"):
        if split in report:
            print(f"{split}: macro-F1 {report[split]['macro_f1']:.3f}")
    print(f"{what} model in {where} (model card: {where / 'model_card.md'})")
    return 0


def evaluate(scorer: Any, examples: Sequence[Any], worst: int) -> dict[str, Any]:
    from yujing.models import metrics
    from yujing.models.scorer import probabilities

    probs = probabilities(scorer, [e.text for e in examples], "scoring")
    gold = [list(e.labels) for e in examples]
    report = metrics.summary(probs, gold, scorer.thresholds)
    losses = metrics.example_losses(probs, gold)
    order = sorted(range(len(examples)), key=lambda i: -losses[i])[:worst]
    report["worst"] = [
        {
            "id": examples[i].id,
            "text": examples[i].text,
            "loss": round(losses[i], 3),
            "gold": [s.value for j, s in enumerate(SIGNALS) if gold[i][j]],
            "scores": {s.value: round(probs[i][j], 3) for j, s in enumerate(SIGNALS)},
        }
        for i in order
    ]
    report["model"] = f"{scorer.name}@{scorer.version}"
    report["thresholds"] = {s.value: scorer.thresholds[s] for s in SIGNALS}
    return report


def cmd_eval(args: argparse.Namespace) -> int:
    from yujing.models.dataset import read_examples
    from yujing.models.zoo import load_scorer

    if args.attribution:
        from yujing.models import attribution_eval

        reports = attribution_eval.evaluate(args.attribution, show=args.worst)
        print(json.dumps(reports, ensure_ascii=False, indent=1) if args.json else attribution_eval.human(reports))
        return 0
    examples = load_real(args.real) if args.real else read_examples(args.file or DATA_DIR / "test.jsonl")
    report = evaluate(load_scorer(args.model), examples, args.worst)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return 0
    print(human_report(report))
    return 0


def human_report(report: Mapping[str, Any]) -> str:
    lines = [
        f"model {report['model']} on {report['n']} texts",
        "",
        f"{'signal':10} {'prec':>6} {'recall':>6} {'F1':>6} {'support':>8} {'ECE':>6} {'threshold':>9}",
    ]
    for s in SIGNALS:
        r = report["labels"][s.value]
        lines.append(
            f"{s.value:10} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f} {r['support']:8d} "
            f"{r['ece']:6.3f} {report['thresholds'][s.value]:9.2f}"
        )
    lines += [f"{'macro':10} {'':6} {'':6} {report['macro_f1']:6.3f}   mean ECE {report['mean_ece']:.3f}", ""]
    confusions = report.get("confusions") or {}
    lines.append(
        "confusions (gold -> wrongly flagged): " + (", ".join(f"{k} {v}" for k, v in confusions.items()) or "none")
    )
    if report.get("worst"):
        lines += ["", "worst examples:"]
        for w in report["worst"]:
            scores = " ".join(f"{k}={v:.2f}" for k, v in w["scores"].items())
            lines.append(f"  {w['id']} gold={','.join(w['gold']) or 'none'} {scores}  {w['text'][:60]}")
    return "\n".join(lines)


def cmd_models(args: argparse.Namespace) -> int:
    from yujing.models.zoo import list_models

    try:
        models = list_models()
    except ModelError as exc:
        print(f"yujing models: {exc}", file=sys.stderr)
        return 1
    for m in models:
        if args.json:
            print(
                json.dumps({"name": m.name, "kind": m.kind, "path": m.path, "summary": m.summary}, ensure_ascii=False)
            )
        else:
            print(f"{m.name:24} {m.kind}\n{'':24} {m.summary}  [{m.path}]")
    return 0


def registry_report(path: Path) -> dict[str, Any]:
    """Counts by kind, status and district, and the names attribution will misread (``registry_findings``)."""
    from collections import Counter

    from yujing.models.attribution import registry_findings
    from yujing.registry import load_registry

    registry = load_registry(path)

    def counts(values: Sequence[str]) -> dict[str, int]:
        return dict(Counter(values).most_common())

    return {
        "source": str(path),
        "platforms": len(registry),
        "names": sum(len(p.names) for p in registry),
        "kinds": counts([p.kind for p in registry]),
        "statuses": counts([p.status for p in registry]),
        "districts": counts([p.district or "(none)" for p in registry]),
        "findings": [{"kind": f.kind, "surface": f.surface, "platforms": list(f.platforms), "advice": f.advice}
                     for f in registry_findings(registry)],
    }


def cmd_registry(args: argparse.Namespace) -> int:
    from yujing.settings import Settings

    report = registry_report(args.file or Settings().registry_path)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0

    def line(counts: Mapping[str, int], top: int = 10) -> str:
        shown = ", ".join(f"{k} {v:,}" for k, v in list(counts.items())[:top])
        return shown + (f", … ({len(counts) - top} more)" if len(counts) > top else "")

    print(f"{report['source']}: {report['platforms']:,} platforms, {report['names']:,} names and aliases")
    print(f"  kinds: {line(report['kinds'])}\n  statuses: {line(report['statuses'])}")
    print(f"  districts ({len(report['districts'])}): {line(report['districts'])}")
    findings = report["findings"]
    print(f"{len(findings)} names attribution will misread" + (":" if findings else ""))
    for f in findings:
        print(f"  {f['kind']:12} {f['surface']} ({', '.join(f['platforms'])}): {f['advice']}")
    return 0
