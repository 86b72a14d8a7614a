"""How people actually type: homophones, pinyin abbreviations, dialect, typos, emoji, lost-emoji ``?``.

Every rewrite keeps the meaning (and so the labels) of the text.
"""

from __future__ import annotations

import random

# word -> what posters write instead (homophones used to dodge filters, pinyin initials, slang)
SUBSTITUTES: dict[str, tuple[str, ...]] = {
    "跑路": ("跑鹿", "pl", "跑lu", "跑啦"),
    "维权": ("wq", "维全", "weiquan"),
    "政府": ("zf", "正府", "镇府"),
    "提现": ("提xian", "体现", "tx", "提鲜"),
    "暴雷": ("爆了", "bl", "暴累"),
    "爆雷": ("暴雷", "bl"),
    "警察": ("jc", "蜀黍", "警查"),
    "上访": ("上fang", "sf"),
    "集合": ("集he", "汇合", "集中"),
    "逾期": ("yq", "鱼期", "逾其"),
    "平台": ("平抬", "pt"),
    "老板": ("lb", "老扳", "老版"),
    "兑付": ("对付", "df"),
    "骗子": ("pz", "片子"),
    "公安": ("ga",),
    "挤兑": ("挤对",),
    "横幅": ("横副", "hf"),
    "经侦": ("jz", "经真"),
    "信访": ("xf",),
    "转发": ("转fa", "zhuan发"),
    "赶紧": ("赶jin", "赶快", "赶紧的"),
    "怎么办": ("咋办", "肿么办", "怎么搞"),
    "什么": ("啥", "神马", "啥子"),
    "没有": ("没得", "莫得", "木有"),
    "知道": ("晓得", "造"),
    "大家": ("大伙", "大家伙", "各位"),
    "投资人": ("投资者", "出借人", "老铁们"),
    "消息": ("xiao息", "信儿"),
}
TYPO_SWAPS = (("的", "地"), ("的", "得"), ("在", "再"), ("已经", "以经"), ("账", "帐"), ("那", "哪"), ("做", "作"))


def substitute(text: str, rng: random.Random, rate: float) -> str:
    """Replace a few keywords by what posters write instead (each occurrence with probability ``rate``)."""
    for word, alts in SUBSTITUTES.items():
        if word in text and rng.random() < rate:
            parts = text.split(word)
            out = parts[0]
            for part in parts[1:]:
                out += (rng.choice(alts) if rng.random() < 0.7 else word) + part
            text = out
    return text


def typo(text: str, rng: random.Random) -> str:
    a, b = rng.choice(TYPO_SWAPS)
    if a in text:
        i = text.index(a)
        return text[:i] + b + text[i + len(a) :]
    if len(text) > 8:  # a doubled or dropped character
        i = rng.randrange(2, len(text) - 2)
        return text[:i] + text[i] + text[i:] if rng.random() < 0.5 else text[:i] + text[i + 1 :]
    return text


def emoji(text: str, rng: random.Random, symbols: tuple[str, ...]) -> str:
    marks = "".join(rng.choice(symbols) for _ in range(rng.randint(1, 3)))
    if rng.random() < 0.5:
        return text + marks
    # after a random sentence end
    ends = [i for i, c in enumerate(text) if c in "，。！？!?"]
    if not ends:
        return text + marks
    i = rng.choice(ends) + 1
    return text[:i] + marks + text[i:]


def punctuation(text: str, rng: random.Random) -> str:
    """Half-width commas, repeated ! and ?, spaces instead of punctuation: all common in posts."""
    r = rng.random()
    if r < 0.3:
        return text.replace("，", ",").replace("！", "!").replace("？", "?")
    if r < 0.55:
        return text.replace("！", "！！！").replace("？", "？？")
    if r < 0.75:
        return text.replace("，", " ").replace("。", " ")
    return text.replace("。", "。。。", 1)


def lost_emoji(text: str, rng: random.Random) -> str:
    """Scraped posts often lost their emoji to runs of ``?`` at the start or end."""
    q = "?" * rng.randint(2, 5)
    return q + text if rng.random() < 0.6 else text + " " + q
