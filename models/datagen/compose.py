"""Turn template families into labelled texts of five genres, split by template group.

Pure and deterministic: :func:`generate` with the same seed and sizes returns the same rows on any
machine (only ``random.Random`` seeded per split, sorted inputs, no ``hash()``).

A *group* is one template of one family (``family/index``). Groups are assigned to train, dev or test
per kind (:func:`assign_groups`), and so are the long neutral filler sentences; a text of a split is
built only from its split's groups and fillers, so no phrasing crosses splits.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from yujing.models.datagen import fillers as F
from yujing.models.datagen import noise, vocab
from yujing.models.datagen.catalogue import BATCHES
from yujing.models.datagen.families import FINANCE_NEGATIVES, KIND_LABELS, NEGATIVE_KINDS, Family

SPLITS = ("train", "dev", "test")
SIZES = {"train": 6000, "dev": 1200, "test": 1500}
GENRES = ("weibo", "wechat", "forum", "complaint", "news")
GENRE_WEIGHTS = (0.27, 0.2, 0.2, 0.13, 0.2)
# (rumour, panic, gathering) mix of the generated texts
COMBO_WEIGHTS: tuple[tuple[tuple[int, int, int], float], ...] = (
    ((0, 0, 0), 0.44),
    ((1, 0, 0), 0.12),
    ((0, 1, 0), 0.13),
    ((0, 0, 1), 0.12),
    ((1, 1, 0), 0.06),
    ((0, 1, 1), 0.06),
    ((1, 0, 1), 0.035),
    ((1, 1, 1), 0.035),
)
NEGATIVE_WEIGHTS = {
    "debunk": 0.13, "notice": 0.09, "arrived": 0.08, "meetup": 0.11, "police_warning": 0.09, "chatter": 0.11,
    "spam": 0.07, "other_complaint": 0.07, "online_rights": 0.09, "news_neutral": 0.09, "borrower": 0.07,
}  # fmt: skip
NEGATIVE_GENRES = {
    "debunk": ("news", "weibo", "wechat", "forum"),
    "notice": ("news", "weibo", "wechat", "forum"),
    "arrived": ("weibo", "wechat", "forum"),
    "meetup": ("wechat", "weibo", "forum"),
    "police_warning": ("news", "weibo", "wechat"),
    "chatter": ("weibo", "wechat", "forum"),
    "spam": ("weibo", "wechat", "forum"),
    "other_complaint": ("complaint", "complaint", "weibo", "wechat"),
    "online_rights": GENRES,
    "news_neutral": ("news", "news", "weibo", "forum"),
    "borrower": ("weibo", "forum", "complaint", "wechat"),
}
# genre -> register -> weight when picking a unit (``any`` always 3)
REGISTER_WEIGHTS = {
    "weibo": {"talk": 3.0, "news": 1.0, "complaint": 1.0, "formal": 1.0},
    "wechat": {"talk": 3.0, "news": 0.7, "complaint": 0.3, "formal": 0.7},
    "forum": {"talk": 3.0, "news": 1.0, "complaint": 0.7, "formal": 1.0},
    "complaint": {"talk": 1.0, "news": 0.1, "complaint": 3.0, "formal": 3.0},
    "news": {"talk": 1.0, "news": 3.0, "complaint": 0.3, "formal": 3.0},
}
CONTEXT_KINDS = ("chatter", "news_neutral")  # neutral units that may accompany a positive text
LABEL_NAMES = ("rumour", "panic", "gathering")

CHOICE = re.compile(r"\[([^\[\]]*)\]")
SLOT = re.compile(r"\{([A-Z][A-Z0-9]*)\}")
GIVEN = ("建国", "秀英", "志强", "丽华", "海燕", "国庆", "伟", "芳", "敏", "静", "磊", "洋", "桂兰", "玉珍", "春生")
MEDIA = ("{C}新闻网", "财讯快报", "本地财经频道", "{C}都市报", "金融观察客户端", "经济时评网")


@dataclass(frozen=True, slots=True)
class Group:
    family: Family
    index: int

    @property
    def id(self) -> str:
        return f"{self.family.name}/{self.index}"

    @property
    def template(self) -> str:
        return self.family.templates[self.index]


def split_indices(n: int, rng: random.Random) -> dict[str, list[int]]:
    """Indices 0..n-1 shuffled into splits: ~20% test, ~15% dev (one each when n >= 3), rest train."""
    order = list(range(n))
    rng.shuffle(order)
    if n == 1:
        return {"train": order, "dev": [], "test": []}
    if n == 2:
        return {"train": order[:1], "dev": [], "test": order[1:]}
    n_test = max(1, round(0.2 * n))
    n_dev = max(1, round(0.15 * n))
    return {"test": order[:n_test], "dev": order[n_test : n_test + n_dev], "train": order[n_test + n_dev :]}


def assign_groups(seed: int) -> dict[str, list[Group]]:
    """Template groups per split, stratified by kind, each batch of families on its own.

    The first batch draws from the random stream it always drew from and each later batch from a stream of its
    own, so adding a batch never moves an earlier group to another split: a model trained before the batch was
    added has still never seen any test group.
    """
    out: dict[str, list[Group]] = {s: [] for s in SPLITS}
    for number, batch in enumerate(BATCHES, start=1):
        rng = random.Random(f"groups-{seed}" if number == 1 else f"groups-{seed}-batch{number}")
        groups = [Group(f, i) for f in batch for i in range(len(f.templates))]
        for kind in KIND_LABELS:
            of_kind = [g for g in groups if g.family.kind == kind]
            for split, idx in split_indices(len(of_kind), rng).items():
                out[split] += [of_kind[i] for i in sorted(idx)]
    return out


def assign_fillers(seed: int) -> dict[str, dict[str, tuple[str, ...]]]:
    """The long neutral filler sentences per split (short chat noise and wrappers are shared)."""
    rng = random.Random(f"fillers-{seed}")
    pools = {"news": F.NEWS_FILLERS, "forum": F.FORUM_FILLERS, "invest": F.COMPLAINT_INVEST}
    out: dict[str, dict[str, tuple[str, ...]]] = {s: {} for s in SPLITS}
    for name, pool in pools.items():
        for split, idx in split_indices(len(pool), rng).items():
            out[split][name] = tuple(pool[i] for i in sorted(idx))
    return out


# --- template expansion ----------------------------------------------------------------------------


class Slots:
    """Slot values for one text: a slot keeps its value within the text (so {P} is one platform)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.values: dict[str, str] = {}
        self.platform = rng.choice(vocab.PLATFORMS)
        self.img = 0

    def fill(self, name: str) -> str:
        rng = self.rng
        if name == "P":  # the same platform, written in one of its forms
            return vocab.platform_alias(self.platform, rng) if rng.random() < 0.3 else self.platform
        if name == "X":  # reported content, filled in by the caller
            return "{X}"
        if name == "IMG":
            self.img += 1
            return f"{{IMG:{self.img}}}"
        if name == "NUM":
            return str(rng.randint(1, 9))
        if name == "DIGITS":
            return str(rng.randrange(10**15, 10**16))
        if name == "DIGITS4":
            return str(rng.randrange(1000, 10000))
        if name in self.values:
            return self.values[name]
        value = self._new(name)
        self.values[name] = value
        return value

    def _new(self, name: str) -> str:
        rng = self.rng
        simple: dict[str, Sequence[str]] = {
            "C": vocab.CITIES, "D": vocab.DISTRICTS, "T": vocab.TIMES, "DT": vocab.DATES, "M": vocab.MONEY,
            "CNT": vocab.COUNTS, "AG": vocab.AGENCY, "DUR": vocab.DURATIONS, "RET": vocab.RETURNS,
            "PL": vocab.GATHER_PLACES, "MEDIA": MEDIA, "TOPIC": F.COMPLAINT_TOPIC,
        }  # fmt: skip
        if name in simple:
            return rng.choice(simple[name])
        if name == "P2":
            return rng.choice([p for p in vocab.PLATFORMS if p != self.platform])
        if name == "B":
            return vocab.boss(rng)
        if name in ("NAME", "NAME2"):
            s = rng.choice(vocab.SURNAMES)
            return s + rng.choice((*GIVEN, "先生", "女士", "某"))
        if name == "AGE":
            return str(rng.randint(45, 78))
        raise KeyError(f"unknown slot {{{name}}}")


def expand(template: str, slots: Slots) -> str:
    """Resolve ``[a|b]`` choices (innermost first) then ``{SLOT}``s, recursively (slot values may hold slots)."""
    text = template
    while True:
        m = CHOICE.search(text)
        if m is None:
            break
        text = text[: m.start()] + slots.rng.choice(m.group(1).split("|")) + text[m.end() :]
    for _ in range(3):
        if not SLOT.search(text.replace("{X}", "")):
            break
        text = SLOT.sub(lambda m: slots.fill(m.group(1)), text)
        text = expand(text, slots) if CHOICE.search(text) else text
    return text


def finish(text: str) -> str:
    """Literal square brackets are written 〔 〕 in templates (``[`` means a choice)."""
    return text.replace("〔", "[").replace("〕", "]")


# --- composing one text ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    group: Group
    text: str


def pick_family_group(
    candidates: Sequence[Group], genre: str, rng: random.Random, weight: Callable[[Group], float] | None = None
) -> Group:
    def w(g: Group) -> float:
        base = REGISTER_WEIGHTS[genre].get(g.family.register, 3.0)
        return base * (weight(g) if weight else 1.0)

    return rng.choices(list(candidates), weights=[w(g) for g in candidates])[0]


def positive_units(
    target: tuple[int, int, int], groups: Sequence[Group], genre: str, rng: random.Random
) -> list[Group]:
    """Groups whose labels together are exactly ``target``: native combinations or single signals."""
    remaining = list(target)
    chosen: list[Group] = []
    while any(remaining):
        fits = [
            g
            for g in groups
            if any(g.family.labels)
            and all(lab <= r for lab, r in zip(g.family.labels, remaining, strict=True))
            and any(lab and r for lab, r in zip(g.family.labels, remaining, strict=True))
        ]
        g = pick_family_group(fits, genre, rng, lambda g: 1.0 + 0.5 * (sum(g.family.labels) - 1))
        chosen.append(g)
        remaining = [r - lab for r, lab in zip(remaining, g.family.labels, strict=True)]
    rng.shuffle(chosen)
    if len(chosen) > 1 and rng.random() < 0.6:  # hearsay usually comes first, the call to act last
        chosen.sort(key=lambda g: (g.family.labels[2], -g.family.labels[0]))
    return chosen


def render_unit(g: Group, genre: str, slots: Slots) -> str:
    text = expand(g.template, slots)
    reg = g.family.register
    if genre == "news" and reg == "talk":
        return expand(slots.rng.choice(F.REPORTED_SPEECH), slots).replace("{X}", text)
    if genre == "news" and reg == "complaint":
        return expand(slots.rng.choice(F.QUOTED_LETTER), slots).replace("{X}", text)
    if genre == "wechat" and reg in ("formal", "news") and slots.rng.random() < 0.6:
        return expand(slots.rng.choice(F.FORWARD), slots).replace("{X}", text)
    if genre == "weibo" and reg in ("formal", "news") and slots.rng.random() < 0.4:
        return "【" + text.rstrip("。") + "】"
    return text


def _some(pool: Sequence[str], k: int, slots: Slots) -> list[str]:
    k = min(k, len(pool))
    return [expand(t, slots) for t in slots.rng.sample(list(pool), k)] if k > 0 else []


ENDS = "。！？!?…～~”】)）]"


def _close(part: str, rng: random.Random, talk: bool) -> str:
    """End a sentence that has no end mark: posts often end with ！ or nothing, news with 。."""
    if not part or part[-1] in ENDS or part.endswith("\n"):
        return part
    if not talk:
        return part + "。"
    return part + rng.choice(("。", "。", "！", " ", "，", "~"))


def _insert(body: list[str], units: list[str], rng: random.Random) -> list[str]:
    """Put the unit sentences (kept in order, adjacent or not) at random places among the context."""
    out = list(body)
    pos = sorted(rng.randint(0, len(out)) for _ in units)
    for shift, (p, u) in enumerate(zip(pos, units, strict=True)):
        out.insert(p + shift, u)
    return out


def compose(genre: str, units: list[str], finance: bool, pools: dict[str, tuple[str, ...]], slots: Slots) -> str:
    rng = slots.rng
    if genre == "weibo":
        parts = _some(F.WEIBO_TAGS, rng.choice((0, 0, 1, 1, 2)), slots)
        body = _some(F.WEIBO_FILLERS, 1, slots) if rng.random() < 0.15 else []
        if finance and rng.random() < 0.35:  # long first-person posts, as in the real corpus
            body += _some(pools["forum"], rng.randint(1, 3), slots)
        text = "".join(parts) + "".join(_close(p, rng, True) for p in _insert(body, units, rng))
        tail = _some(F.WEIBO_TAIL, rng.choice((0, 0, 1, 2)), slots)
        return text + (" " + " ".join(tail) if tail else "")
    if genre == "wechat":
        lines = []
        for u in units:
            who = expand("{NAME}：", slots) if rng.random() < 0.25 else ""
            at = "@所有人 " if rng.random() < 0.1 else ""
            lines.append(at + who + u)
        chatter = _some(F.WECHAT_CHATTER, rng.choice((0, 0, 1, 2)), slots)
        if chatter:
            return "\n".join(_insert(chatter, lines, rng))
        return ("\n" if rng.random() < 0.5 else "").join(lines)
    if genre == "forum":
        title = expand(rng.choice(F.FORUM_TITLE), slots) + "\n" if rng.random() < 0.6 else ""
        pool = [t for t in pools["forum"] if finance or "{P}" not in t]
        body = _insert(_some(pool, rng.randint(0, 4), slots), units, rng)
        tail = _some(F.FORUM_TAIL, 1, slots) if rng.random() < 0.35 else []
        return title + "".join(_close(p, rng, True) for p in body) + ("\n" + tail[0] if tail else "")
    if genre == "complaint":
        parts = [expand(rng.choice(F.COMPLAINT_OPEN), slots), expand(rng.choice(F.COMPLAINT_INTRO), slots)]
        context = _some(pools["invest"], rng.randint(1, 2), slots) if finance else []
        parts += context + [_close(u, rng, False) for u in units]
        parts.append(expand(rng.choice(F.COMPLAINT_ASK if finance else F.COMPLAINT_ASK_OTHER), slots))
        if rng.random() < 0.6:
            parts.append(expand(rng.choice(F.COMPLAINT_CLOSE), slots))
        return ("\n" if rng.random() < 0.4 else "").join(parts)
    # news
    head = expand(rng.choice(F.NEWS_HEAD), slots) if rng.random() < 0.7 else ""
    body = [_close(p, rng, False) for p in _insert(_some(pools["news"], rng.randint(2, 6), slots), units, rng)]
    tail = _some(F.NEWS_TAIL, rng.choice((0, 1, 1, 2)), slots)
    if rng.random() < 0.1:
        return "".join(f"<P>{p}</P>" for p in [head + body[0], *body[1:], *tail])
    sep = " " if rng.random() < 0.3 else ""
    return head + sep.join(body) + (" " + " ".join(tail) if tail else "")


NOISE = {  # genre -> (substitution rate, typo p, emoji p, punctuation p, lost-emoji p)
    "weibo": (0.12, 0.2, 0.3, 0.3, 0.25),
    "wechat": (0.15, 0.2, 0.35, 0.35, 0.0),
    "forum": (0.1, 0.15, 0.15, 0.2, 0.05),
    "complaint": (0.02, 0.1, 0.0, 0.0, 0.0),
    "news": (0.0, 0.03, 0.0, 0.0, 0.0),
}


def add_noise(text: str, genre: str, rng: random.Random) -> str:
    sub, typo, emoji, punct, lost = NOISE[genre]
    text = noise.substitute(text, rng, sub)
    if rng.random() < typo:
        text = noise.typo(text, rng)
    if rng.random() < emoji:
        text = noise.emoji(text, rng, vocab.EMOJI)
    if rng.random() < punct:
        text = noise.punctuation(text, rng)
    if rng.random() < lost:
        text = noise.lost_emoji(text, rng)
    return text


def one_text(
    groups: Sequence[Group], pools: dict[str, tuple[str, ...]], rng: random.Random
) -> tuple[str, tuple[int, int, int], str, str]:
    """(text, labels, genre, group id of the main unit)."""
    combos, weights = zip(*COMBO_WEIGHTS, strict=True)
    target = rng.choices(combos, weights=weights)[0]
    slots = Slots(rng)
    if any(target):
        genre = rng.choices(GENRES, weights=GENRE_WEIGHTS)[0]
        chosen = positive_units(target, groups, genre, rng)
        finance = True
        if rng.random() < 0.15:
            extra = [g for g in groups if g.family.kind in CONTEXT_KINDS]
            chosen.insert(rng.randint(0, len(chosen)), pick_family_group(extra, genre, rng))
    else:
        kinds = [k for k in NEGATIVE_KINDS if any(g.family.kind == k for g in groups)]
        kind = rng.choices(kinds, weights=[NEGATIVE_WEIGHTS[k] for k in kinds])[0]
        genre = rng.choice(NEGATIVE_GENRES[kind])
        chosen = [pick_family_group([g for g in groups if g.family.kind == kind], genre, rng)]
        finance = kind in FINANCE_NEGATIVES
        if finance and rng.random() < 0.2:
            extra = [g for g in groups if g.family.kind in CONTEXT_KINDS and g.family.kind != kind]
            if extra:
                chosen.append(pick_family_group(extra, genre, rng))
    main = next((g for g in chosen if any(g.family.labels)), chosen[0])
    labels = tuple(max(g.family.labels[j] for g in chosen) for j in range(3))
    units = [render_unit(g, genre, slots) for g in chosen]
    text = finish(add_noise(compose(genre, units, finance, pools, slots), genre, rng)).strip()
    return text, (labels[0], labels[1], labels[2]), genre, main.id


def generate(seed: int = 20261130, sizes: dict[str, int] | None = None) -> dict[str, list[dict[str, object]]]:
    """Rows ``{id, text, rumour, panic, gathering, genre, group}`` per split, no duplicate texts."""
    sizes = sizes or SIZES
    groups = assign_groups(seed)
    pools = assign_fillers(seed)
    out: dict[str, list[dict[str, object]]] = {}
    seen: set[str] = set()
    for split in SPLITS:
        rng = random.Random(f"{split}-{seed}")
        rows: list[dict[str, object]] = []
        while len(rows) < sizes[split]:
            text, labels, genre, group = one_text(groups[split], pools[split], rng)
            if text in seen:
                continue
            seen.add(text)
            row: dict[str, object] = {"id": f"{split}-{len(rows):05d}", "text": text}
            row.update(zip(LABEL_NAMES, labels, strict=True))
            row.update(genre=genre, group=group)
            rows.append(row)
        out[split] = rows
    return out
