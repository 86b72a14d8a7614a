"""Ad-spam negatives: ``python -m yujing.models.datagen.spam [--out FILE] [--n N] [--check]``.

Written by the Yujing team (2026-12-02). Chinese social media carries bulk SEO spam: a cash-out or credit ad
("白条提现", "花呗套现", "信用卡套现" ...) pasted into the middle of an unrelated sentence — a sentimental quote, a
news snippet, a line of a web novel — followed by trending hashtags, so that the post shows up in searches for
both. None of it is about investors, runs or gatherings: every text here is a negative on all three signals.
But the pasted words (提现, 套现, 额度) next to the carrier's feelings (哭, 害怕, 慌) look like redemption panic to
a model that has not seen the pattern, and the shipped model flagged such posts as panic in the real evaluation
split, where one platform group (about 1,800 texts in the shared corpora) is this spam. The split rule keeps
that whole group in eval, so the real training texts hold almost none.

Every carrier sentence, ad phrase and hashtag below was written for this file; no text was copied from the
corpora. Real consumer-credit product names (花呗, 借呗, 白条) appear only as the ads use them, as the
product being offered for cash-out; no platform is accused of anything. The file is for training only
(``yujing train --extra-train models/data/spam_negatives.jsonl``); it never enters dev or test.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "data" / "spam_negatives.jsonl"
SEED = 20261202
N = 500

# carriers: sentences with no finance content, many with the feelings that the ads sit next to
CARRIERS = (
    "有些话说出口就收不回了，所以难过的时候宁愿一个人躲起来哭一场，第二天照样笑着去上班。",
    "长大以后才明白，最害怕的不是黑夜，而是深夜里突然想起一个再也不会联系的人。",
    "考试前一晚紧张得睡不着，翻来覆去背公式，结果进了考场脑子里一片空白，真的慌了。",
    "婚礼上爸爸牵着我的手走过红毯，一句话都没说，转身的时候我看见他偷偷抹眼泪。",
    "成年人的崩溃都是静悄悄的，关上门哭完，洗把脸，回复一句“收到”，继续改方案。",
    "第一次一个人去医院做检查，拿着单子在走廊里等结果，心里怕得要命，却不知道该告诉谁。",
    "不要害怕走慢，只要别停下；不要担心走错，只要记得回头。",
    "喜欢一个人的时候，会因为他一句话开心一整天，也会因为他不回消息慌得坐立不安。",
    "毕业那天宿舍四个人抱在一起哭，说好每年聚一次，后来连群里都很少说话了。",
    "妈妈打电话问我吃饭了没，我说吃了，其实加班到十点还饿着，挂了电话眼泪就下来了。",
    "人生没有白走的路，每一步都算数；那些让你哭过的日子，终会变成你笑着讲出来的故事。",
    "凌晨三点的城市很安静，只有便利店的灯还亮着，像是专门给晚归的人留的。",
    "别把所有的委屈都咽下去，偶尔也要允许自己脆弱一下，哭完了再出发。",
    "面试的时候手心全是汗，声音都在发抖，出来以后坐在台阶上发了半天呆。",
    "小时候怕打雷，外婆就捂着我的耳朵讲故事；现在打雷了，再也没有人捂着我的耳朵。",
    "有些人走着走着就散了，不是谁的错，只是我们都长大了，想要的东西不一样了。",
    "他说会一直等我，可我到了约好的路口，只看见一地的落叶和亮了又灭的红绿灯。",
    "把日子过成诗，也要把心事写成信；寄不出去也没关系，写完心里就不那么慌了。",
    "学会一个人吃饭、一个人看电影、一个人生病，才发现孤独并没有想象中那么可怕。",
    "第一次上台演讲紧张到忘词，台下却响起了掌声，那一刻我差点哭出来。",
    "今天的晚霞特别好看，橘色一直铺到天边，可惜想分享的人已经不在身边了。",
    "别总在深夜做决定，那时候的你太感性，也太容易把一点小事想成天大的难关。",
    "养了八年的狗狗走了，收拾它的窝的时候，看到它最喜欢的那只旧拖鞋，忍不住哭了很久。",
    "努力不一定成功，但放弃一定很轻松；我偏要选那条难走的路，哪怕一路跌跌撞撞。",
    "异地恋最怕的不是距离，是你难过的时候他只能隔着屏幕说一句“别哭了”。",
    "本届运动会上，初二三班在接力赛中逆转夺冠，队员们冲过终点后抱在一起喜极而泣。",
    "气象台发布暴雨黄色预警，预计今天夜间到明天白天，全市大部分地区有大到暴雨，请市民注意出行安全。",
    "本周末全市将迎来大范围降温，最低气温跌破零度，出门记得添衣，老人和孩子尽量减少外出。",
    "市图书馆新馆正式开放，首日接待读者三千余人次，不少家长带着孩子在绘本区一坐就是一下午。",
    "昨晚的比赛主队在最后三分钟连追八分，加时赛险胜，赛后主教练激动得说不出话。",
    "高速交警提醒：节假日返程高峰，部分路段车流量大，请合理安排出行时间，不要疲劳驾驶。",
    "本市第二十届美食节开幕，来自全国各地的两百多家摊位参展，游客可以品尝到各地的特色小吃。",
    "她推开门，看见师父坐在窗前，手里的茶早已凉透。“你终于回来了。”师父没有回头，声音却在发抖。",
    "少年握紧手中的剑，望着山下的万家灯火，心中第一次生出了害怕：这一去，还能回来吗？",
    "“别哭，”他把外套披在她肩上，“天塌下来，有我顶着。”窗外的雪下得正紧。",
    "夜色渐深，城门外传来马蹄声，守城的老兵握紧长枪，心里却慌得厉害。",
    "她在信的最后写道：若有来生，愿做一棵树，站成永恒，没有悲欢的姿势。",
    "早睡早起身体好，每天喝够八杯水，少熬夜、多运动，比什么保健品都管用。",
    "夏天到了，西瓜、冰淇淋、空调，再加一部老电影，就是最惬意的周末。",
    "整理房间的时候翻出一本旧相册，照片里的我们笑得那么傻，却是最真的样子。",
    "如果你也曾在某个瞬间觉得撑不下去，请记得，天总会亮的，明天会更好。",
    "说走就走的旅行没有那么浪漫，晕车、迷路、订错酒店，可回想起来每一件都很好笑。",
    "别人家的孩子又考了第一，我妈看我的眼神里写满了失望，我躲在房间里偷偷哭。",
    "年纪越大越怕过年，怕被问工资，怕被问对象，怕看见爸妈又老了一点。",
    "周一早高峰的地铁挤得像沙丁鱼罐头，我被夹在中间动弹不得，心里只想快点到站。",
    "健身房办了卡去了三次，看着镜子里的自己，突然很慌：说好的自律呢？",
    "凌晨的急诊室里，一位母亲抱着发烧的孩子来回踱步，护士轻声安慰她别紧张。",
    "我们总是对陌生人太客气，对亲近的人太苛刻，吵完架才后悔，却又拉不下脸道歉。",
)

# the ads: cash-out and credit offers as spammers paste them (products named only as the ad offers them)
ADS = (
    ("白条提现", "白条额度怎么套出来", "秒到账"),
    ("京东白条怎么提现", "白条提现方法", "靠谱商家"),
    ("白条套现", "信用卡也能做", "低费率"),
    ("花呗套现", "花呗怎么套现", "花呗提现秒到"),
    ("花呗提现", "花呗额度怎么取出来", "当天到账"),
    ("借呗提额", "借呗额度提现", "秒批"),
    ("信用卡套现", "信用卡取现手续费低", "正规渠道"),
    ("分期乐提现", "分期额度套出来", "安全可靠"),
    ("额度提现", "白条花呗信用卡都能做", "费率低"),
    ("闪付额度提现", "额度秒到账"),
    ("微粒贷提额", "网贷口子下款快", "不看征信"),
    ("花呗白条套现", "商家代付", "点主页"),
)
SEPARATORS = ("~", "·", "—", "、", " ")

HASHTAGS = (
    "夏日穿搭",
    "考研倒计时",
    "今日份治愈",
    "深夜放毒",
    "打工人的日常",
    "周末去哪儿",
    "一人食",
    "晚安语录",
    "萌宠日常",
    "旅行的意义",
    "健身打卡",
    "读书笔记",
    "情感树洞",
    "毕业季",
    "家常菜谱",
    "追剧日记",
    "城市夜景",
    "早安心语",
    "小确幸",
    "宝妈日常",
    "年轻人的养生",
    "这届网友太有才",
    "暖心瞬间",
    "高考加油",
    "今天你哭了吗",
    "手账日常",
    "热门电视剧",
    "演唱会现场",
    "秋天的第一杯奶茶",
    "雨天的心情",
)


def _ad(rng: random.Random) -> str:
    parts = rng.choice(ADS)
    if rng.random() < 0.3:  # the hashtag form: #A#B#C#
        return "#" + "#".join(parts) + "#"
    return rng.choice(SEPARATORS).join(parts)


def spam_text(rng: random.Random) -> str:
    """One spam post: a carrier with an ad pasted at a random point (often mid-word), then hashtags."""
    carrier = rng.choice(CARRIERS)
    if rng.random() < 0.25:  # two carriers run together
        carrier += rng.choice(CARRIERS)
    at = rng.randrange(1, len(carrier) - 1)
    text = carrier[:at] + _ad(rng) + carrier[at:]
    if rng.random() < 0.2:  # a second paste
        at = rng.randrange(1, len(text) - 1)
        text = text[:at] + _ad(rng) + text[at:]
    tags = rng.sample(HASHTAGS, rng.choice((1, 2, 2, 3)))
    tail = " " + "".join(f"#{t}#" for t in tags)
    return text + tail + rng.choice(("", " ?", " ?", " [图片]"))


def generate(n: int = N, seed: int = SEED) -> list[dict[str, object]]:
    """``n`` distinct spam texts as training rows (all labels 0), deterministic for a seed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[dict[str, object]] = []
    while len(rows) < n:
        text = spam_text(rng)
        if text in seen:
            continue
        seen.add(text)
        rows.append(
            {
                "id": f"spam-{len(rows):05d}",
                "text": text,
                "rumour": 0,
                "panic": 0,
                "gathering": 0,
                "genre": "weibo",
                "group": "spam",
            }
        )
    return rows


def to_jsonl(rows: Sequence[dict[str, object]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m yujing.models.datagen.spam", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=OUT, help="output file (default: %(default)s)")
    p.add_argument("--n", type=int, default=N, help="texts (default: %(default)s)")
    p.add_argument("--seed", type=int, default=SEED, help="random seed (default: %(default)s)")
    p.add_argument("--check", action="store_true", help="only compare the file with a fresh generation")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error(f"--n: expected a positive number of texts, got {args.n}")
    text = to_jsonl(generate(args.n, args.seed))
    if args.check:
        if not args.out.is_file() or args.out.read_text(encoding="utf-8") != text:
            print(f"{args.out}: differs from a fresh generation; rerun without --check", file=sys.stderr)
            return 1
        print(f"{args.out}: up to date")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"{args.n} spam negatives written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
