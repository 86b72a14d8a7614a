"""Named scorers: ``load_scorer(name)`` and ``list_models()``.

Names:

* ``None`` / ``"default"`` / ``"transformer"``: the shipped fine-tuned model with torch, in bfloat16 where
  the CPU multiplies bf16 natively (AMX or AVX512-BF16: about 2x the fp32 speed, under 1 % of label
  decisions changed) and in fp32 elsewhere; the scorer's name (``e5-zh-ft-bf16`` / ``e5-zh-ft``) says which.
  Not int8: on this model dynamic int8 quantisation changes 13-17 % of the label decisions and costs 2-6
  points of macro-F1 (``bench/classifier_bench.py``), so the int8 path is opt-in;
* ``"transformer-int8"``: the shipped model with ONNX Runtime int8;
* ``"lexicon"``: the keyword baseline;
* any other name: a trained model folder ``models/weights/<name>/`` or ``<cache>/models/<name>/``
  (what ``yujing train --name <name>`` writes), or a path to one, with torch at the automatic precision;
  suffix ``-fp32`` or ``-bf16`` to fix the precision, ``-int8`` for ONNX Runtime int8.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from yujing.errors import ModelError
from yujing.models.encoder import cache_root
from yujing.models.scorer import Scorer
from yujing.models.transformer import SPEC_FILE

SHIPPED_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_MODEL = "e5-zh-ft"
INT8_SUFFIX = "-int8"
PRECISION_SUFFIXES = {"-fp32": "fp32", "-bf16": "bf16"}
BUILTIN = ("default", "transformer", "transformer-int8", "lexicon")


def _stderr(msg: str) -> None:
    print(f"yujing: {msg}", file=sys.stderr, flush=True)


def trained_dir() -> Path:
    return cache_root() / "models"


def find_model_dir(name: str) -> Path:
    """The folder of a trained model by name or path; ModelError saying where it looked otherwise."""
    candidates = [Path(name)] if ("/" in name or name.startswith(".")) else [SHIPPED_DIR / name, trained_dir() / name]
    for path in candidates:
        if (path / SPEC_FILE).is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise ModelError(
        f"no trained model {name!r} (looked in {looked}); train one with `yujing train --name {name}` "
        "or list them with `yujing models`"
    )


def load_scorer(name: str | None = None, progress: Callable[[str], None] | None = _stderr) -> Scorer:
    """A scorer by name (see the module docstring). Model loading errors name the path and the fix."""
    if name is None or name == "default":
        return _default(progress)
    if name == "lexicon":
        from yujing.models.lexicon import LexiconScorer

        return LexiconScorer()
    if name == "transformer":
        return _torch(find_model_dir(DEFAULT_MODEL), progress)
    if name == "transformer-int8":
        return _int8(find_model_dir(DEFAULT_MODEL), progress)
    if name.endswith(INT8_SUFFIX):
        return _int8(find_model_dir(name[: -len(INT8_SUFFIX)]), progress)
    for suffix, precision in PRECISION_SUFFIXES.items():
        if name.endswith(suffix) and not _is_model(name):
            return _torch(find_model_dir(name[: -len(suffix)]), progress, precision)
    return _torch(find_model_dir(name), progress)


def _is_model(name: str) -> bool:
    try:
        find_model_dir(name)
    except ModelError:
        return False
    return True


def _torch(model_dir: Path, progress: Callable[[str], None] | None, precision: str | None = None) -> Scorer:
    from yujing.models.transformer import TransformerScorer, auto_precision

    return TransformerScorer.load(model_dir, progress=progress, precision=precision or auto_precision())


def _int8(model_dir: Path, progress: Callable[[str], None] | None) -> Scorer:
    from yujing.models.onnx_scorer import OnnxScorer

    return OnnxScorer.load(model_dir, progress=progress)


def _default(progress: Callable[[str], None] | None) -> Scorer:
    try:
        model_dir = find_model_dir(DEFAULT_MODEL)
    except ModelError as exc:
        raise ModelError(
            f"the default model is missing ({exc}); restore models/weights/{DEFAULT_MODEL}/ from git "
            f"or train it with `yujing train --out {SHIPPED_DIR / DEFAULT_MODEL}`"
        ) from exc
    return _torch(model_dir, progress)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    kind: str
    path: str
    summary: str


def _summary(model_dir: Path) -> str:
    from yujing.models.card import read_metrics

    m = read_metrics(model_dir)
    parts = [f"{split} macro-F1 {m[split]['macro_f1']:.3f}" for split in ("test", "real_eval") if split in m]
    speed = m.get("speed", {})
    parts += [f"{k} {v} texts/s" for k, v in speed.items() if isinstance(v, int | float)]
    return ", ".join(parts) or "no metrics recorded"


def list_models() -> list[ModelInfo]:
    """Built-in names and every trained model folder found (shipped and cached)."""
    out = [ModelInfo("lexicon", "keyword baseline", "yujing.models.lexicon", "no training; high precision, low recall")]
    roots = [SHIPPED_DIR, trained_dir()]
    for root in roots:
        for path in sorted(root.glob(f"*/{SPEC_FILE}")) if root.is_dir() else []:
            name, summary = path.parent.name, _summary(path.parent)
            default = (
                " (default: transformer, transformer-int8)" if root == SHIPPED_DIR and name == DEFAULT_MODEL else ""
            )
            kind = "fine-tuned transformer, torch, bf16 or fp32 by CPU" + default
            out.append(ModelInfo(name, kind, str(path.parent), summary))
            for suffix, precision in PRECISION_SUFFIXES.items():
                out.append(ModelInfo(name + suffix, f"same, torch {precision}", str(path.parent), "same weights"))
            out.append(
                ModelInfo(name + INT8_SUFFIX, "same, ONNX Runtime int8", str(path.parent), "built at first use, cached")
            )
    return out
