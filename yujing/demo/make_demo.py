"""Generate the demo stream (``stream.jsonl``) and its ground truth (``events.csv``).

Provenance: every text below was written by the Yujing team for this demo; the platforms are the
fictional ones in ``registry.yaml``; authors are invented handles (pseudonymised on ingest like
any input). The story, in Asia/Shanghai time, 2016-09-01 .. 2016-09-07:

* ordinary chatter about ten platforms all week, with stray complaints and an unrelated square
  dance and class reunion;
* 鑫盛贷 collapses: rumours on day 3 (copy-pasted by many accounts), withdrawal trouble on day 4,
  a redemption suspension and calls to gather on day 5, the gathering at the district government
  at 09:00 on day 6, the police notice and aftermath on day 7;
* 汇融宝 suffers a small rumour on day 4 that is debunked the same day (should stay quiet);
* 瑞丰网贷 gets a few scattered complaints about slow withdrawals (should stay quiet).

Run ``python -m yujing.demo.make_demo`` to rewrite the files; the output is deterministic.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

CST = timezone(timedelta(hours=8))
START = datetime(2016, 9, 1, tzinfo=CST)
HERE = Path(__file__).resolve().parent
QUIET = ["汇融宝", "瑞丰网贷", "金桥理财", "安信众筹", "易付通", "聚财猫", "恒信普惠", "盈家宝", "通达金服"]
COLLAPSE = "鑫盛贷"
COLLAPSE_NAMES = ["鑫盛贷", "鑫盛贷", "鑫盛", "鑫盛金融", "XSD", "鑫盛贷平台"]

CHATTER = [
    "{p}这个月的收益到账了，年化还算稳定。",
    "刚在{p}投了一个三个月的标，先试试水。",
    "{p}今天有新手活动，送了二十块体验金。",
    "有人用过{p}吗？想了解一下口碑。",
    "{p}的客服回复挺快的，问题解决了。",
    "今天从{p}提现，两个小时就到账了，放心。",
    "{p}的APP更新了，界面好看多了。",
    "看了{p}的信息披露报告，数据还算透明。",
    "{p}上周的回款正常，继续复投。",
    "理财要分散，{p}只放了一小部分。",
    "{p}推出了新的活期产品，利率一般般。",
    "朋友推荐了{p}，有没有老用户说说体验？",
]
NEUTRAL = [
    "国务院部署互联网金融风险专项整治，平台要接入资金存管。",
    "理财有风险，投资需谨慎，别只看高收益。",
    "今晚小区广场舞照常，七点半老地方集合。",
    "下周六同学聚会，十点在老学校门口集合，别迟到。",
    "公司周末团建，大家早上八点在公司楼下集合坐大巴。",
    "银行存款利率又降了，钱放哪里好？",
    "区金融办提醒：选择平台要看备案和银行存管。",
    "今天股市又跌了，还是买点国债稳一点。",
]
STRAY_COMPLAINT = [
    "{p}提现比平时慢了一天，不过最后到账了。",
    "{p}提现审核有点慢，客服说系统升级，明天再看看。",
    "为什么{p}的回款晚了几个小时？有点担心。",
]
RUMOURS = [
    "听说{p}老板已经被带走了，是真的吗？",
    "内部消息：{p}资金链断了，下周就要暴雷，转发扩散！",
    "据可靠消息，{p}的实际控制人已经出国了，大家小心。",
    "网传{p}被经侦立案调查了，亲戚在公安局说的。",
    "朋友的朋友在{p}上班，说公司账上已经没钱了，速看。",
    "坊间传言{p}要跑路了，不转不是中国人！",
]
COPY_PASTE = "【紧急扩散】内部消息：{p}老板卷款跑路，资金池已空，马上提现！看到的转发给亲友！"
DEBUNK = [
    "{p}官方声明：网传公司负责人失联纯属谣言，平台运营正常，我们将依法追究造谣者责任。",
    "辟谣：{p}并未被立案调查，请广大投资人不信谣不传谣。",
]
PANIC = [
    "{p}提现三天了还不到账，客服电话一直打不通！",
    "{p}显示提现成功但银行卡没收到钱，怎么办啊？",
    "大家赶紧把{p}的钱提出来，晚了就来不及了！",
    "{p}的标全部逾期了，我的养老钱全在里面，急死了。",
    "刚才去{p}提现，页面提示系统维护，是不是要出事了？",
    "{p}排队提现的人太多了，我的申请卡住两天了。",
    "{p}充值容易提现难，全部积蓄都在里面，睡不着觉。",
    "听群里说{p}提不出来了，我赶紧提了一部分，还有二十万没出来。",
]
COMPLAINT = [
    "投诉人反映：本人在{p}出借资金十五万元，自本月起无法提现，平台客服失联，请求政府部门介入。",
    "12345来电：市民反映{p}逾期未兑付，涉及金额八万元，要求核实平台经营情况。",
    "信访件：{p}拖欠本息，多次催要无果，请求有关部门督促平台兑付。",
]
SUSPENSION_NEWS = "{p}发布公告：因流动性紧张，平台即日起暂停兑付，具体方案另行通知。投资人情绪激动。"
CALLS = [
    "明天上午九点在区政府门口集合，{p}的投资人都去，带上合同和身份证！",
    "{p}的受害者们，明早九点区政府门口见，人越多越好，一起维权。",
    "建了个{p}维权群，明天上午九点集体去区政府上访，大家互相转告。",
    "明天一起去区政府门口散步，{p}的兄弟姐妹们都来，九点不见不散。",
    "{p}投资人注意：明天上午九点区政府门口集合，准备好横幅。",
    "我们{p}的受害人明天集体上访，九点在区政府门口碰头，谁有车可以拼车。",
]
GATHERED = [
    "现场：几百名{p}投资人聚集在区政府门口，拉着横幅要求还钱。",
    "区政府门口已经围了好多人，都是{p}的投资人，打着横幅静坐。",
    "我们已经到区政府门口了，{p}的人越来越多，大家坚持住！",
    "{p}的投资人堵在区政府门口，横幅写着'还我血汗钱'。",
]
POLICE = [
    "警方通报：针对{p}涉嫌非法吸收公众存款一案，已依法立案侦查，请投资人理性维权，不要聚集。",
    "区公安分局提示：{p}案件已立案，请投资人通过正当渠道登记，切勿聚集滋事。",
]
AFTERMATH = [
    "{p}的事情怎么办，钱还能拿回来吗？好绝望。",
    "去派出所登记了{p}的出借信息，等消息吧。",
]


@dataclass
class Builder:
    rng: random.Random
    rows: list[dict[str, str]]
    counter: int = 0

    def add(self, day: float, hour_from: float, hour_to: float, text: str, source: str, author: str) -> None:
        hours = self.rng.uniform(hour_from, hour_to)
        ts = (START + timedelta(days=day, hours=hours)).replace(microsecond=0)
        self.counter += 1
        pid = f"demo-{self.counter:05d}"
        self.rows.append({
            "id": pid, "text": text, "ts": ts.isoformat(), "source": source,
            "author": author, "url": f"https://demo.invalid/{source}/{pid}",
        })

    def author(self, pool: str, n: int) -> str:
        return f"{pool}_{self.rng.randrange(n):04d}"

    def many(self, n: int, day: int, h0: float, h1: float, templates: list[str], names: list[str],
             sources: tuple[str, ...], pool: str = "inv", pool_size: int = 600) -> None:
        for _ in range(n):
            text = self.rng.choice(templates).format(p=self.rng.choice(names))
            self.add(day, h0, h1, text, self.rng.choice(sources), self.author(pool, pool_size))


def _chatter(b: Builder) -> None:
    for day in range(7):
        b.many(90, day, 7, 23, CHATTER, QUIET, ("weibo", "forum", "wechat"), "user", 900)
        b.many(12, day, 7, 23, CHATTER, [COLLAPSE] if day < 2 else QUIET, ("weibo", "forum"), "user", 900)
        b.many(10, day, 7, 23, NEUTRAL, [""], ("weibo", "news", "wechat"), "user", 900)
        b.many(1, day, 8, 22, STRAY_COMPLAINT, QUIET, ("forum", "weibo"), "user", 900)
    b.many(2, 2, 9, 20, STRAY_COMPLAINT, ["瑞丰网贷"], ("forum",), "user", 900)
    b.many(2, 5, 9, 20, STRAY_COMPLAINT, ["瑞丰网贷"], ("forum",), "user", 900)


def _small_rumour(b: Builder) -> None:
    b.many(4, 3, 10, 12, RUMOURS, ["汇融宝", "汇融"], ("weibo",), "inv", 600)
    b.many(2, 3, 12, 13, DEBUNK, ["汇融宝"], ("news", "weibo"), "official", 3)
    b.many(5, 3, 13, 20, ["今天从{p}提现，两个小时就到账了，放心。", "{p}提现到账了，谣言不可信。"],
           ["汇融宝"], ("weibo", "forum"), "user", 900)


def _collapse(b: Builder) -> None:
    # day 3 (09-03): rumours, a copy-paste wave, the platform's denial
    b.many(22, 2, 13, 23, RUMOURS, COLLAPSE_NAMES, ("weibo", "wechat", "forum"))
    for _ in range(18):
        b.add(2, 18, 23, COPY_PASTE.format(p=COLLAPSE), "weibo", b.author("spread", 300))
    b.many(2, 2, 20, 21, DEBUNK, [COLLAPSE], ("news",), "official", 3)
    # day 4 (09-04): withdrawal trouble grows
    b.many(10, 3, 8, 23, RUMOURS, COLLAPSE_NAMES, ("weibo", "wechat"))
    b.many(45, 3, 9, 23, PANIC, COLLAPSE_NAMES, ("weibo", "wechat", "forum"))
    b.many(8, 3, 10, 18, COMPLAINT, [COLLAPSE], ("complaint",), "cit", 400)
    # day 5 (09-05): suspension notice, panic peaks, calls to gather in the evening
    b.add(4, 10, 10.2, SUSPENSION_NEWS.format(p=COLLAPSE), "news", "official_0001")
    b.many(110, 4, 8, 23, PANIC, COLLAPSE_NAMES, ("weibo", "wechat", "forum"))
    b.many(20, 4, 9, 18, COMPLAINT, [COLLAPSE], ("complaint",), "cit", 400)
    b.many(35, 4, 17, 24, CALLS, COLLAPSE_NAMES, ("wechat", "weibo", "forum"))
    # day 6 (09-06): the gathering at 09:00
    b.many(12, 5, 6, 8.9, CALLS, COLLAPSE_NAMES, ("wechat",))
    b.many(40, 5, 9.1, 14, GATHERED, COLLAPSE_NAMES, ("weibo", "wechat"))
    b.many(30, 5, 8, 20, PANIC, COLLAPSE_NAMES, ("weibo", "forum"))
    b.many(2, 5, 15, 16, POLICE, [COLLAPSE], ("news",), "official", 3)
    # day 7 (09-07): aftermath
    b.many(15, 6, 8, 20, AFTERMATH, COLLAPSE_NAMES, ("weibo", "forum"))
    b.many(8, 6, 8, 20, PANIC, COLLAPSE_NAMES, ("weibo", "forum"))


def generate(seed: int = 20160901) -> list[dict[str, str]]:
    b = Builder(random.Random(seed), [])
    _chatter(b)
    _small_rumour(b)
    _collapse(b)
    for row in b.rows:  # neutral lines carry no platform placeholder value
        row["text"] = row["text"].strip()
    return sorted(b.rows, key=lambda r: (r["ts"], r["id"]))


EVENTS = [
    {"platform": COLLAPSE, "event": "suspension", "ts": "2016-09-05T10:00:00+08:00",
     "note": "redemptions suspended (暂停兑付)"},
    {"platform": COLLAPSE, "event": "gathering", "ts": "2016-09-06T09:00:00+08:00",
     "note": "investors gather at the district government (区政府门口)"},
]


def lines(rows: list[dict[str, str]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False)


def write(directory: Path = HERE) -> None:
    rows = generate()
    (directory / "stream.jsonl").write_text("\n".join(lines(rows)) + "\n", encoding="utf-8")
    with (directory / "events.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["platform", "event", "ts", "note"])
        writer.writeheader()
        writer.writerows(EVENTS)


if __name__ == "__main__":
    write()
