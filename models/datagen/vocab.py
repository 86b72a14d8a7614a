"""Slot values for the templates: fictional platforms and people, places, times, amounts.

Every platform name here was invented by the team and checked not to occur in the real platform lists
of ``../shared/data/p2p_platforms`` nor in the demo registry (``yujing/demo/registry.yaml``), so
neither the shared data nor the demo leaks into training.
"""

from __future__ import annotations

import random

PLATFORMS = (
    "金禾贷", "润通宝", "鼎泰财富", "禾丰在线", "聚鑫盈", "丰年金服", "云杉理财", "兴隆e贷", "瑞泽普惠", "合盛宝",
    "泓达金融", "益民钱包", "盛元通", "福满仓", "银杏理财", "汇川贷", "恒嘉财富", "橙子金服", "麦田理财", "蓝鲸宝",
    "长青贷", "沃土金融", "天禄财富", "嘉禾钱庄", "信和通", "安盈宝", "富邦e家", "鸿运贷", "隆鑫汇", "泰和金服",
    "和润在线", "宝丰融", "锦程理财", "青禾普惠", "万融汇", "百川金服", "同舟贷", "鑫旺宝", "德润金融", "众益钱包",
    "永泰财富", "盈泰e贷", "优米金服", "星河理财", "金穗宝", "晨曦贷", "乐享钱包", "东篱金服", "福禄宝", "广汇通",
    "睿信财富", "融泽贷", "松果理财", "大有金服", "九鼎钱庄", "丰裕贷", "钱塘宝", "雪松财富", "信达e贷", "月桂理财",
)  # fmt: skip

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林罗高"
BOSS_FORMS = ("{s}总", "{s}某", "{s}某某", "{s}董", "老{s}", "法人{s}某", "实控人{s}某")
CITIES = (
    "杭州", "上海", "深圳", "成都", "南京", "合肥", "郑州", "武汉", "西安", "长沙", "济南", "东莞", "温州", "宁波",
)  # fmt: skip
DISTRICTS = ("东湖区", "江北区", "滨江区", "高新区", "经开区", "南山区", "锦江区", "鼓楼区", "天河区", "新城区")
GATHER_PLACES = (
    "区政府门口", "市政府大门口", "市信访局", "区信访办", "金融办门口", "平台总部楼下", "公司办公室门口",
    "经侦大队门口", "公安局门口", "人民广场", "市民中心", "银保监局门口", "{P}大楼楼下", "{D}政府", "省政府西门",
)  # fmt: skip
TIMES = (
    "明天上午9点", "明早八点半", "周一早上8点", "本周五下午两点", "15号上午十点", "下周一早上", "后天9:30",
    "今天下午3点", "星期三上午", "28号早上八点", "月底那个周一", "明天一早",
)  # fmt: skip
DATES = ("2018年6月20日", "7月3日", "上周三", "8月15日", "昨天", "前天晚上", "今年3月", "11月底", "国庆前")
MONEY = ("5万", "二十多万", "8.6万", "三十万", "一百二十万", "两万块", "十几万", "40万", "3000块", "七万多", "全部积蓄")
COUNTS = ("几百", "上千", "两三百", "近百", "三四十", "上百", "好几十", "五六百")
AGENCY = ("经侦", "公安局", "派出所", "金融办", "银保监局", "地方金融监管局", "区政府", "信访局")
DURATIONS = ("三天", "一个多星期", "半个月", "一个多月", "两个月", "半年", "快一年", "十来天")
RETURNS = ("12%", "14%", "9.8%", "18%", "年化15", "日息千分之三", "20%")
PEOPLE = ("王阿姨", "李姐", "老张", "小刘", "陈叔", "群主", "管理员", "赵哥", "孙姐", "老周", "一位大姐", "楼主")

EMOJI = ("😭", "😡", "🙏", "😱", "🔥", "👍", "😂", "💰", "⚠️", "❗", "😤", "🤔", "[流泪]", "[怒]", "[抓狂]", "[拜拜]")


def boss(rng: random.Random) -> str:
    return rng.choice(BOSS_FORMS).format(s=rng.choice(SURNAMES))


def platform_alias(name: str, rng: random.Random) -> str:
    """The name as posters write it: full, short, with 平台, or with a typo-like homophone of one char."""
    short = name[:2]
    forms = [name, name, name, short, short + "平台", name + "平台", "「" + name + "」", name[:2] + "那个平台"]
    return rng.choice(forms)
