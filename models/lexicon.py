"""The transparent baseline scorer (``--model lexicon``): weighted cue patterns per signal.

It stays as the fallback when no trained model is available and as an explainer: ``explain``
returns the cues that fired. Weights are summed per signal, damped by cues that mark the text as
a debunk, an official notice or a good outcome, and squashed to a probability with a logistic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from yujing.records import SIGNALS, Scores, Signal


@dataclass(frozen=True, slots=True)
class Cue:
    pattern: re.Pattern[str]
    weight: float


def _cues(spec: Mapping[str, float]) -> tuple[Cue, ...]:
    return tuple(Cue(re.compile(p, re.IGNORECASE), w) for p, w in spec.items())


_RUMOUR = _cues({
    r"听说|据说|传言|传闻|网传|坊间": 1.6,
    r"内部消息|内幕|可靠消息|小道消息|知情人|朋友的朋友|亲戚在": 1.8,
    r"转发|扩散|周知|速看|不转不是": 1.2,
    r"跑路|卷款|失联|被抓|被带走|被查|立案|出逃|出国了|限制出境": 0.9,
    r"马上要|即将|下周就|很快就|要倒|要爆雷|要暴雷|要出事": 0.8,
    r"千真万确|100%真|绝对真实|不信等着": 1.0,
})
_PANIC = _cues({
    r"提不出|提不了|提现失败|无法提现|不能提现|提现困难|不到账|迟迟未到|没到账|取不出": 2.2,
    r"逾期|展期|延期兑付|兑付困难|暂停兑付|停止兑付|暴雷|爆雷": 1.6,
    r"赶紧提|快提现|抓紧提|赶快撤|快跑|全部撤出|挤兑|排队提现|都在提": 2.0,
    r"血本无归|本金|全部积蓄|养老钱|怎么办|急死|慌了|睡不着": 0.8,
    r"赎回|回款|兑付": 0.5,
})
_GATHERING = _cues({
    r"集合|碰头|聚集|集结|会合|见面": 1.0,
    r"上访|集体上访|信访|请愿|静坐|拉横幅|横幅|堵门|围堵|示威|维权现场": 1.9,
    r"散步|喝茶|吃瓜": 0.5,
    r"明天|后天|周[一二三四五六日末]|[上下]午|\d+点|[一二三四五六七八九十]+点": 0.5,
    r"区政府|市政府|政府门口|公司门口|总部楼下|广场|门口|楼下": 0.9,
    r"一起去|都去|都来|大家去|人越多越好|组团|到场|带上身份证|现场|不见不散": 1.2,
    r"wq|维权": 0.7,
})
_DAMPERS = _cues({
    r"辟谣|不实|谣言|假消息|官方澄清|澄清|纯属|造谣|不信谣": -2.5,
    r"已到账|到账了|提现成功|顺利提现|正常兑付|按时回款": -2.5,
    r"通知|公告|提醒|警方|公安局提示|不要聚集|依法处理": -1.2,
    r"同学聚会|广场舞|团建|聚餐|生日|婚礼|年会": -2.5,
})
_BIAS: Mapping[Signal, float] = {Signal.RUMOUR: -2.6, Signal.PANIC: -2.6, Signal.GATHERING: -3.2}
_CUES: Mapping[Signal, tuple[Cue, ...]] = {
    Signal.RUMOUR: _RUMOUR, Signal.PANIC: _PANIC, Signal.GATHERING: _GATHERING,
}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class LexiconScorer:
    name = "lexicon"
    version = "1"

    def __init__(self, thresholds: Mapping[Signal, float] | None = None) -> None:
        self.thresholds: Mapping[Signal, float] = dict(thresholds or {s: 0.5 for s in SIGNALS})

    def _logit(self, text: str, signal: Signal) -> float:
        total = _BIAS[signal] + sum(c.weight for c in _CUES[signal] if c.pattern.search(text))
        damp = sum(c.weight for c in _DAMPERS if c.pattern.search(text))
        return total + damp

    def score(self, texts: Sequence[str]) -> list[Scores]:
        return [
            Scores(*(round(_sigmoid(self._logit(t, s)), 4) for s in SIGNALS))
            for t in texts
        ]

    def explain(self, text: str) -> dict[str, list[str]]:
        """The cues that fired per signal, and the dampers, for a person to read."""
        fired = {s.value: [m.group(0) for c in _CUES[s] if (m := c.pattern.search(text))] for s in SIGNALS}
        fired["dampers"] = [m.group(0) for c in _DAMPERS if (m := c.pattern.search(text))]
        return fired
