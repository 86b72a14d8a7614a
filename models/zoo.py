"""Named scorers: ``load_scorer(name)`` and ``list_models()``.

Names:

* ``None`` / ``"default"``: the shipped fine-tuned model with torch (fp32). Not int8: on this model
  dynamic int8 quantisation changes 13-17 % of the shipped model's label decisions and costs 2-6 points
  of macro-F1 (``bench/classifier_bench.py``), so the faster int8 path is opt-in;
* ``"transformer"``: the shipped fine-tuned model with torch (fp32);
* ``"transformer-int8"``: the shipped model with ONNX Runtime int8;
* ``"lexicon"``: the keyword baseline;
* any other name: a trained model folder ``models/weights/<name>/`` or ``<cache>/models/<name>/``
  (what ``yujing train --name <name>`` writes), or a path to one; suffix ``-int8`` for ONNX Runtime.
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
    return _torch(find_model_dir(name), progress)


def _torch(model_dir: Path, progress: Callable[[str], None] | None) -> Scorer:
    from yujing.models.transformer import TransformerScorer

    return TransformerScorer.load(model_dir, progress=progress)


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
            out.append(ModelInfo(name, "fine-tuned transformer, torch" + default, str(path.parent), summary))
            out.append(
                ModelInfo(name + INT8_SUFFIX, "same, ONNX Runtime int8", str(path.parent), "built at first use, cached")
            )
    return out
