from __future__ import annotations

import pytest

from yujing.models.lexicon import LexiconScorer
from yujing.models.scorer import labels_for
from yujing.records import Signal

CASES = [
    ("听说鑫盛贷老板跑路了，内部消息，赶紧转发", {Signal.RUMOUR}),
    ("鑫盛贷提现三天了还不到账，大家赶紧提现", {Signal.PANIC}),
    ("明天上午九点在区政府门口集合，大家一起去维权，带上身份证", {Signal.GATHERING}),
    ("今天提现到账了，正常兑付", set()),
    ("下周六同学聚会，十点在老学校门口集合", set()),
    ("鑫盛贷辟谣：网传老板跑路纯属谣言", set()),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_baseline_labels(text: str, expected: set[Signal]) -> None:
    scorer = LexiconScorer()
    (scores,) = scorer.score([text])
    assert set(labels_for(scores, scorer.thresholds)) == expected


def test_explain_names_the_cues() -> None:
    why = LexiconScorer().explain("鑫盛贷辟谣：网传老板跑路")
    assert "网传" in why["rumour"] and "辟谣" in why["dampers"]
