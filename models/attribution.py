"""Platform attribution: which registry platforms a text names.

An Aho-Corasick automaton over every name and alias (and their common one-character homophone or
typo variants, e.g. 金汇保 for 金汇宝) finds all occurrences in one pass; overlapping matches are
resolved leftmost-longest, so 鑫盛贷款 does not also count 鑫盛 and 鑫盛贷 is not read as two
platforms. A post may name several platforms. Variants only apply to names of three or more
characters and never shadow another platform's real name, so a post is not attributed to a
platform it does not name.

Chinese has no spaces, so a registry name also occurs inside other words and names: 合金融 in
综合金融, 乐投资 in 赛伯乐投资, 华夏信 in 华夏信财 (another platform), 网络贷 in 网络贷款. A match
therefore has to read as a word of its own (:func:`reads_as_name`): a word segmentation of the text
around it (jieba's base dictionary, which knows no registry names) must not run across its start,
and it must not be followed by a character that continues a platform name (财 宝 贷 …) unless what
follows is a generic suffix (金服, 理财, 平台 …: 钱爸爸理财 is 钱爸爸). A name right after a bank or a large
company is that company's product throughout the text (交通银行好享贷), 贷 + 款 is 贷款, 网/车/房/借/放/信 + 贷… is
网贷/车贷/… + …, and 和/与/及/或 between two words is a conjunction (评选和信贷支持). A site that signs the
text's disclaimer (声明：优财网所提供的信息仅供参考) published it and is not its subject, and a quoted name one
character longer (“隆盈天下”) is another name. A surface that two registry entries share names both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import ahocorasick
import rjieba

from yujing.registry import Registry

# Characters that people swap in platform names (same pronunciation, near-identical meaning in names), e.g.
# 金汇保 for 金汇宝. Deliberately narrow: wider groups (报/代/信/成/心 ...) turn ordinary words into platform names
# at registry scale (新一代 -> 新一贷, 日报网 -> 日宝网, 好心人 -> 好鑫人); measured on real posts with
# `yujing eval --attribution ../shared/data`, they cost 2 points of exact-set accuracy and found no true mention.
_HOMOPHONE_GROUPS = ("宝保堡", "贷袋", "汇会惠", "鑫欣", "融蓉", "盈赢")
_HOMOPHONES: dict[str, str] = {ch: group for group in _HOMOPHONE_GROUPS for ch in group}


def _fold(text: str) -> str:
    """Lower case, one character for one (a few characters lower to two, e.g. İ, which would shift offsets)."""
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in text)


def name_variants(name: str) -> Iterator[str]:
    """One-character homophone substitutions of ``name`` (not including ``name`` itself)."""
    if len(name) < 3:
        return
    for i, ch in enumerate(name):
        for alt in _HOMOPHONES.get(ch, ""):
            if alt != ch:
                yield name[:i] + alt + name[i + 1:]


@dataclass(frozen=True, slots=True)
class Mention:
    platform: str
    start: int
    end: int
    surface: str
    exact: bool


def _alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _whole(text: str, start: int, end: int) -> bool:
    """Latin letters and digits at a match's edge must not run on (19贷 is not a mention in 2019贷款)."""
    if _alnum(text[start]) and start > 0 and _alnum(text[start - 1]):
        return False
    return not (_alnum(text[end - 1]) and end < len(text) and _alnum(text[end]))


# Characters that end or continue platform names: a match followed by one of them, where the name itself does
# not end in one, is most likely the head of a longer name (华夏信 + 财).
_NAME_CHARS = frozenset("财贷宝金融投网通盈汇鑫富银钱资")
# What may follow a name without making it another name: generic business words (钱爸爸理财, 团贷网官网,
# 华夏万家金服, 玺鉴金融信息服务有限公司).
_GENERIC_NEXT = (
    "金服", "金融", "理财", "投资", "网贷", "平台", "在线", "科技", "集团", "公司", "财富", "资本", "控股",
    "官网", "app", "网络", "金控", "普惠", "资产", "基金", "贷款",
)  # fmt: skip
_CONTEXT = 12  # characters segmented on each side of a match


def _edges(text: str, start: int, end: int) -> set[int]:
    """Word boundaries (offsets into ``text``) of a segmentation of the match and its surroundings.

    Only the start of a match is checked against them: a name's last character often forms a word with
    what follows (鑫盛汇 + 出事 segments as 汇出 / 事), so an end check would lose true mentions; the
    name-character rule in :func:`reads_as_name` covers the end instead."""
    lo, hi = max(0, start - _CONTEXT), min(len(text), end + _CONTEXT)
    edges, at = {lo, hi}, lo
    for word in rjieba.cut(text[lo:hi], False):  # dictionary words only: no HMM guesses at unknown names
        at += len(word)
        edges.add(at)
    return edges


# Banks and large companies whose own products share names with P2P platforms (交通银行好享贷, 京东小金库,
# 平安财富宝): a name right after one of these is that company's product, not the platform.
_OWNERS = (
    "银行", "交行", "工行", "农行", "中行", "建行", "招行", "浦发", "中信", "光大", "兴业", "民生", "华夏", "广发",
    "平安", "京东", "苏宁", "腾讯",
)  # fmt: skip  # not 微信: 关注微信蜂融网 is the platform's own account; not 百度: 百度好享贷 is a search
_CONJUNCTIONS = "和与及或"
_LOAN_HEADS = "网车房借放信"
_BEFORE_NAME = "了在到给从是投向于对把"  # after these, 和 starts a name (投了和信贷), it does not join two nouns


def reads_as_name(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` stands as a word of its own rather than inside another word or name."""
    generic_next = text[end : end + 4].lower().startswith(_GENERIC_NEXT)
    if not generic_next and text[end : end + 1] in _NAME_CHARS and text[end - 1] not in _NAME_CHARS:
        return False
    # 网络贷 + 款 is 网络贷款 (online loans); the rare 好享贷 + 款项 (funds) is lost with it
    if text[end - 1] == "贷" and text[end : end + 1] == "款":
        return False
    # 网 + 贷理财 is 网贷 + 理财: a name starting with 贷 right after 网/车/房/借/放/信 is the tail of a loan word
    # (the segmenter's base dictionary lacks 网贷 and 车贷)
    if text[start] == "贷" and start > 0 and text[start - 1] in _LOAN_HEADS:
        return False
    edges = _edges(text, start, end)
    if start not in edges:
        return False
    # 和信贷 in 评选和信贷支持: after a character that is not punctuation, a leading 和/与/及/或 that is a word of
    # its own, followed by one ordinary word, is the conjunction
    rest_is_one_word = start + 1 in edges and not any(start + 1 < e < end for e in edges)
    conjunction = text[start] in _CONJUNCTIONS and start > 0 and text[start - 1] not in _BEFORE_NAME
    return not (conjunction and rest_is_one_word and text[start - 1].isalnum())


def owned_product(text: str, start: int) -> bool:
    """Whether the name at ``start`` follows a bank or large company (交通银行的惠民贷, 京东“小金库”): the word
    right before it (after 的 or an opening quote) is one of them, not just the end of a longer word (国计民生)."""
    before = text[max(0, start - _CONTEXT) : start].rstrip('的“”"「『')  # a space separates: not a product
    if not before.endswith((*_OWNERS, "银行")):  # the word before can only be an owner if the text ends in one
        return False
    last = list(rjieba.cut(before, False))[-1]
    return last in _OWNERS or last.endswith("银行")


# A news site's disclaimer (声明：优财网所提供的信息仅供参考): the name before it published the text. 所 is required
# and nothing but word characters may stand before 仅供参考: 据鑫盛贷提供的内容，平台称仅供参考 is reporting.
_DISCLAIMER = re.compile(r"[ \u3000]?所提供的(?:信息|内容|资讯)\w{0,3}?仅供参考")


def publisher(text: str, end: int) -> bool:
    """Whether the name ending at ``end`` signs a publisher's disclaimer: that site published the text, so an
    aggregator that is also a registry platform is not attributed every article it reposts."""
    return _DISCLAIMER.match(text, end) is not None


_QUOTES = {"“": "”", '"': '"', "「": "」", "『": "』"}


def quoted_inside(text: str, start: int, end: int) -> bool:
    """Whether the name is the tail of a quoted name one character longer (“隆盈天下” is not 盈天下): the writer
    marked the whole quoted span as the name. A longer head is often a modifier (“西部陆金所”, a western 陆金所)."""
    if start < 2 or not text[start - 1].isalnum():
        return False
    close = _QUOTES.get(text[start - 2])
    return close is not None and text[end : end + 1] == close


def surface_owners(registry: Registry) -> dict[str, tuple[str, ...]]:
    """Every name and alias, case-folded, with the platforms that list it: a surface that several entries share
    (PPmoney and Ppmoney listed twice) names all of them."""
    exact: dict[str, tuple[str, ...]] = {}
    for platform in registry:
        for name in platform.names:
            owners = exact.get(_fold(name), ())
            if platform.name not in owners:
                exact[_fold(name)] = (*owners, platform.name)
    return exact


class PlatformMatcher:
    def __init__(self, registry: Registry, *, fuzzy: bool = True, word_edges: bool = True) -> None:
        self._word_edges = word_edges
        self._automaton = ahocorasick.Automaton()
        exact = surface_owners(registry)
        for surface, owners in exact.items():
            self._automaton.add_word(surface, (owners, len(surface), True))
        if fuzzy:
            self._add_variants(registry, exact)
        self._size = len(self._automaton)
        if self._size:
            self._automaton.make_automaton()

    def _add_variants(self, registry: Registry, exact: dict[str, tuple[str, ...]]) -> None:
        claimed: dict[str, str | None] = {}
        for platform in registry:
            for name in platform.names:
                for variant in name_variants(_fold(name)):
                    if variant in exact:
                        continue
                    # A variant two platforms could produce names neither for sure: drop it.
                    owner = claimed.get(variant, platform.name)
                    claimed[variant] = platform.name if owner == platform.name else None
        for variant, maybe_owner in claimed.items():
            if maybe_owner is not None:
                self._automaton.add_word(variant, ((maybe_owner,), len(variant), False))

    def mentions(self, text: str) -> list[Mention]:
        """Non-overlapping mentions, leftmost-longest, each reading as a word of its own (unless
        ``word_edges=False``); a longer match that fails that test does not expose a shorter one inside it."""
        if not self._size:
            return []
        folded = _fold(text)
        found = [
            (end - length + 1, end + 1, owners, is_exact)
            for end, (owners, length, is_exact) in self._automaton.iter(folded)
            if _whole(folded, end - length + 1, end + 1)
        ]
        found.sort(key=lambda m: (m[0], -(m[1] - m[0])))
        out: list[Mention] = []
        cursor = 0
        for start, end, owners, is_exact in found:
            if start >= cursor:
                out += [Mention(owner, start, end, text[start:end], is_exact) for owner in owners]
                cursor = end
        if self._word_edges:
            # a name once quoted inside a longer one (“隆盈天下”, “红利宝”) is that other name throughout the text,
            # even where the segmenter already rejects the quoted occurrence (红利 + 宝)
            other = {m.platform for m in out if quoted_inside(text, m.start, m.end)}
            out = [m for m in out if reads_as_name(text, m.start, m.end)]
            # one sense per text: a name that is once a bank's or large company's product is that product
            # throughout, and a name that signs the text's disclaimer is its publisher, not its subject
            other |= {m.platform for m in out if owned_product(text, m.start) or publisher(text, m.end)}
            out = [m for m in out if m.platform not in other]
        return out

    def platforms(self, text: str) -> tuple[str, ...]:
        """Registry names of the platforms ``text`` names, in order of first mention."""
        return tuple(dict.fromkeys(m.platform for m in self.mentions(text)))

    def platforms_many(self, texts: Iterable[str]) -> list[tuple[str, ...]]:
        return [self.platforms(t) for t in texts]


@dataclass(frozen=True, slots=True)
class Finding:
    """A registry name the matcher will read badly: ``kind`` is ``shared``, ``one_char`` or ``common_word``."""

    kind: str
    surface: str
    platforms: tuple[str, ...]
    advice: str


def registry_findings(registry: Registry) -> list[Finding]:
    """Names and aliases that will attribute posts wrongly, with what to do about each (``yujing registry check``).

    - ``shared``: a surface two platforms list names both, so every post using it counts for both.
    - ``one_char``: a one-character name stands inside ordinary words everywhere.
    - ``common_word``: a name that jieba's base dictionary holds as one ordinary word (聚宝盆, 金融街, 零花钱). On the
      5,085 real platform names of the shared data, 44 are such words and 30 of their 78 mentions in 4,500 real
      posts were the ordinary word (ATTRIBUTION_GOLD.md), against 8 % false mentions over all names.
    """
    out: list[Finding] = []
    for folded, platforms in surface_owners(registry).items():
        first = registry.get(platforms[0])
        surface = next(n for n in first.names if _fold(n) == folded) if first else folded  # as the registry spells it
        if len(platforms) > 1:
            out.append(Finding("shared", surface, platforms, "names all of these platforms, so every post using it "
                               "counts for each; keep it on one, or drop it if people use it for several"))
        if len(surface) == 1:
            out.append(Finding("one_char", surface, platforms, "one character stands inside ordinary words; "
                               "remove it and list the names people write in full"))
        elif not surface.isascii() and len(list(rjieba.cut(surface, False))) == 1:
            out.append(Finding("common_word", surface, platforms, "is also an ordinary word, so posts using the word "
                               "are attributed to the platform; list a longer name people use for it (e.g. with "
                               "理财, 金服 or 平台) and drop the bare word if the platform is rarely called that"))
    return out
