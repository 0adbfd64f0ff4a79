#!/usr/bin/env python3
"""Builds the labeled dedup evaluation set (`labeled.jsonl`, and with
--seed/--out a second, differently seeded one for a hold-out check).

Each line: {"contact": <hotline.v1.Contact in the protobuf JSON mapping>,
"repeat_group": "...", "cluster_group": "..."}. Two contacts with the same
repeat_group are the same caller on the same matter; two of different
callers with the same cluster_group are one cluster (same matter, same
district, within 72 h).

Phenomena: paraphrases of one matter, short and long texts, typos
(homophones), traditional characters, greetings and filler, numbers written
in digits or Chinese numerals, callers reaching us by phone and WeChat (a
contact carrying both links them), repeats days apart, clusters of many
callers, a hotspot, and near-misses that must NOT match: the same place with
a different problem, the same problem in another district or another
residential compound, the same caller with another matter, and the same
matter again after the 72 h cluster window.
"""
import argparse
import datetime as dt
import json
import random

DISTRICTS = ["510802", "510811", "510812", "510821", "510822", "510823", "510824"]
DISTRICT_NAME = {"510802": "利州区", "510811": "昭化区", "510812": "朝天区", "510821": "旺苍县",
                 "510822": "青川县", "510823": "剑阁县", "510824": "苍溪县"}
COMPOUNDS = ["锦绣华庭", "嘉陵花园", "凤凰城", "滨江名苑", "东坝新区", "南河小区", "上西坝", "万缘新区",
             "天立国际", "丽景华城", "紫荆花园", "翠云廊小区", "金港湾", "阳光水岸", "学府雅居", "兴安小区",
             "雪峰小区", "宝轮镇新村", "红岩花园", "杨家岩小区"]
ROADS = ["利州东路", "蜀门北路", "嘉陵路", "万源街", "南河路", "东坝大道", "雪峰路", "滨河北路",
         "王家贝路", "凤凰大道", "北街", "新华街"]
SITES = ["地铁站旁边的工地", "新建的商业广场工地", "学校对面的工地", "河边的安置房工地", "加油站旁边的工地"]
COMPANIES = ["宏达建筑公司", "华兴劳务公司", "顺发物流公司", "鑫源机械厂", "蓝天装饰公司"]
SHOPS = ["老王烧烤", "川味小馆", "好再来面馆", "幸福火锅", "阿婆米粉店"]

# Matter templates: {p} place (compound / road / site …). Several phrasings each,
# some short, some long, some questions, some with filler.
MATTERS = {
    "water": ("compound", [
        "{p}从早上开始停水了，到现在还没来水，家里做饭都没办法",
        "我家住在{p}，已经停水一整天了，也没有提前通知",
        "你好，我想反映一下{p}停水的问题，好几个小时了还没恢复供水",
        "{p}没水了",
        "{p}停水停了大半天，自来水公司电话打不通，什么时候能来水",
        "请问{p}为什么突然停水，物业也说不清楚，老人小孩等着用水",
        "{p}这边整个小区都没有水，一直停水到现在",
        "{p}停水三天了",
    ]),
    "power": ("compound", [
        "{p}停电了，整栋楼都没电，冰箱里的东西都要坏了",
        "我们{p}从昨晚开始停电，到现在也没来电",
        "{p}又停电了，一个月停了好几次，什么时候能彻底解决",
        "{p}没电了，电梯也停了，老人在家里下不了楼",
        "请问{p}停电是什么原因，什么时候恢复供电",
    ]),
    "elevator": ("compound", [
        "{p}3号楼的电梯坏了一个多星期了，物业一直不修",
        "{p}三号楼电梯故障，住在高层的老人上下楼很困难，物业不管",
        "我要投诉{p}的物业，电梯坏了这么久都不维修",
        "{p}3栋电梯停运好多天了",
        "{p}的电梯经常坏，这次坏了一周，物业推说没有维修资金",
    ]),
    "garbage": ("compound", [
        "{p}门口的垃圾堆了好几天没人清运，臭气熏天",
        "{p}大门旁边垃圾堆成山了，环卫一直不来拉",
        "{p}门口垃圾没人清理，苍蝇蚊子很多，影响居民生活",
        "反映{p}垃圾清运不及时的问题，门口堆满了垃圾",
    ]),
    "night_construction": ("site", [
        "{p}晚上十二点还在施工，噪音太大了根本睡不着",
        "{p}夜间施工扰民，每天半夜都在打桩",
        "我要投诉{p}，天天晚上施工到凌晨，吵得孩子没法睡觉",
        "{p}夜里还在施工，噪音很大",
        "请问{p}有没有夜间施工许可，每天晚上吵到两三点",
    ]),
    "square_dance": ("road", [
        "{p}的广场舞音响声音太大了，每天晚上吵到十点",
        "{p}广场上跳广场舞的音响开得特别响，严重扰民",
        "晚上{p}跳舞的喇叭太吵了，家里老人心脏不好受不了",
        "{p}广场舞噪音扰民",
    ]),
    "wages": ("company", [
        "{p}拖欠我们农民工工资三个月了，老板一直躲着不见",
        "我在{p}干活，工资拖了好几个月不发，找老板也不给",
        "{p}欠薪，十几个工人的工资都没有发",
        "反映{p}拖欠工资的问题，快过年了还拿不到钱",
    ]),
    "pothole": ("road", [
        "{p}路面有个大坑，好几辆电动车都摔倒了",
        "{p}道路破损严重，坑坑洼洼的，下雨天全是积水",
        "{p}中间有个坑很危险，晚上看不见容易出事故",
        "{p}路面坑洼，希望尽快修补",
    ]),
    "streetlight": ("road", [
        "{p}的路灯坏了好多天了，晚上一片漆黑",
        "{p}一整排路灯都不亮，晚上走路很不安全",
        "{p}路灯不亮",
        "请问{p}的路灯什么时候能修好，已经黑了一个星期",
    ]),
    "vendors": ("road", [
        "{p}有很多流动摊贩占道经营，车都过不去",
        "{p}人行道上全是摆摊的，行人只能走机动车道",
        "{p}乱摆摊的问题很严重，早上堵得水泄不通",
    ]),
    "pollution": ("compound", [
        "{p}旁边的河里有工厂偷排污水，水都变黑了还有死鱼",
        "{p}附近河道污染严重，每天都闻到刺鼻的臭味",
        "{p}边上的小河被排污，河水发黑发臭",
    ]),
    "restaurant": ("shop", [
        "{p}的后厨卫生很差，吃完拉肚子了",
        "我在{p}吃饭吃出了苍蝇，店家还不承认",
        "{p}食品卫生有问题，用的肉都不新鲜",
    ]),
}

TRAD = str.maketrans({
    "电": "電", "梯": "梯", "区": "區", "门": "門", "车": "車", "发": "發", "没": "沒", "来": "來",
    "时": "時", "们": "們", "这": "這", "还": "還", "为": "為", "么": "麼", "个": "個", "问": "問",
    "题": "題", "处": "處", "经": "經", "业": "業", "务": "務", "楼": "樓", "坏": "壞", "动": "動",
    "声": "聲", "扰": "擾", "场": "場", "广": "廣", "厂": "廠", "边": "邊", "卫": "衛", "饭": "飯",
    "钱": "錢", "资": "資", "长": "長", "开": "開", "关": "關", "灯": "燈", "摊": "攤", "贩": "販",
    "乱": "亂", "复": "復", "给": "給", "点": "點", "间": "間", "觉": "覺", "馆": "館", "门": "門",
    "从": "從", "停": "停", "运": "運", "围": "圍", "设": "設", "夜": "夜", "吵": "吵", "响": "響",
    "脏": "髒", "臭": "臭", "鱼": "魚", "污": "汙", "黑": "黑", "孩": "孩", "儿": "兒", "里": "裡",
    "后": "後", "厨": "廚", "应": "應", "见": "見", "过": "過", "样": "樣", "办": "辦", "话": "話",
    "连": "連", "续": "續", "几": "幾", "号": "號", "栋": "棟", "维": "維", "修": "修", "们": "們",
})
TYPOS = [("电梯", "电替"), ("噪音", "躁音"), ("小区", "小去"), ("物业", "务业"), ("停水", "停谁"),
         ("施工", "施公"), ("垃圾", "拉圾"), ("工资", "工姿"), ("路灯", "路登"), ("污水", "乌水")]
FILLER_HEAD = ["", "", "", "你好，", "您好，我想反映一下，", "喂，你好，", "麻烦问一下，", "我要投诉，"]
FILLER_TAIL = ["", "", "", "谢谢。", "希望有关部门尽快处理。", "麻烦你们尽快解决一下，谢谢！",
               "家里有老人，实在是等不起了，请尽快安排人处理，谢谢。"]
REPEAT_HEAD = ["还是上次反映的", "我之前打过电话，", "第二次打电话了，", "又来反映，", "上周反映过，"]


def place(kind, rng):
    return {"compound": COMPOUNDS, "road": ROADS, "site": SITES, "company": COMPANIES, "shop": SHOPS}[kind]


class Gen:
    def __init__(self, seed, base):
        self.rng = random.Random(seed)
        self.base = base
        self.n = 0
        self.rows = []
        self.callers = 0

    def caller(self, wechat=False):
        self.callers += 1
        phone = "13%d%08d" % (self.rng.randint(0, 9), self.rng.randint(0, 99999999))
        c = {"phone": phone}
        if wechat:
            c["wechatOpenid"] = "o%028x" % self.rng.getrandbits(112)
        return c

    def text(self, matter, p, repeat=False):
        t = self.rng.choice(MATTERS[matter][1]).format(p=p)
        r = self.rng.random()
        if r < 0.12:
            t = t.translate(TRAD)
        elif r < 0.24:
            a, b = self.rng.choice(TYPOS)
            t = t.replace(a, b)
        if self.rng.random() < 0.15:
            t = t.replace("3", "三").replace("三号", "3号") if "三" not in t else t.replace("三", "3")
        head = self.rng.choice(REPEAT_HEAD) if repeat and self.rng.random() < 0.6 else self.rng.choice(FILLER_HEAD)
        return head + t + self.rng.choice(FILLER_TAIL)

    def add(self, at, caller, district, text, repeat_group, cluster_group, channel="PHONE"):
        self.n += 1
        cl = dict(caller)
        if channel == "WECHAT" and "wechatOpenid" in cl and self.rng.random() < 0.5:
            cl.pop("phone")  # WeChat alone; linked by an earlier contact carrying both
        contact = {
            "contactId": "eval-%05d" % self.n,
            "channel": channel,
            "receivedAt": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "caller": cl,
            "content": text,
            "location": {"districtCode": district, "address": DISTRICT_NAME[district]},
        }
        self.rows.append({"contact": contact, "repeat_group": repeat_group, "cluster_group": cluster_group})

    def when(self, day, hour_span=(8, 22)):
        h = self.rng.uniform(*hour_span)
        return self.base + dt.timedelta(days=day, hours=h)


def build(seed, n_scenarios):
    rng = random.Random(seed)
    g = Gen(seed, dt.datetime(2026, 10, 5, 0, 0, 0))
    used = set()
    sid = 0

    def fresh_matter():
        # A (matter, place, district) not used yet: distinct matters never collide.
        for _ in range(1000):
            m = rng.choice(list(MATTERS))
            p = rng.choice(place(MATTERS[m][0], rng))
            d = rng.choice(DISTRICTS)
            if (m, p, d) not in used:
                used.add((m, p, d))
                return m, p, d
        raise SystemExit("ran out of distinct matters")

    for _ in range(n_scenarios):
        sid += 1
        kind = rng.random()
        m, p, d = fresh_matter()
        day = rng.uniform(0, 24)
        if kind < 0.35:
            # A cluster: 3–9 callers within 1–40 h, some calling again.
            cg = f"c{sid}"
            k = rng.randint(3, 9)
            span = rng.uniform(1, 40)
            for i in range(k):
                t = g.when(day) + dt.timedelta(hours=rng.uniform(0, span))
                c = g.caller(wechat=rng.random() < 0.3)
                rg = f"r{sid}-{i}"
                ch = "WECHAT" if "wechatOpenid" in c and rng.random() < 0.5 else "PHONE"
                g.add(t, c, d, g.text(m, p), rg, cg, channel=ch if ch == "PHONE" else "PHONE")
                if rng.random() < 0.25:
                    t2 = t + dt.timedelta(hours=rng.uniform(2, 30))
                    g.add(t2, c, d, g.text(m, p, repeat=True), rg, cg,
                          channel="WECHAT" if "wechatOpenid" in c else "PHONE")
        elif kind < 0.42:
            # A hotspot: 12 callers within 50 minutes.
            cg = f"c{sid}"
            t0 = g.when(day)
            for i in range(12):
                t = t0 + dt.timedelta(minutes=rng.uniform(0, 50))
                g.add(t, g.caller(), d, g.text(m, p), f"r{sid}-{i}", cg)
        elif kind < 0.72:
            # A repeat caller: 2–4 contacts over 1–20 days (also by WeChat once linked).
            c = g.caller(wechat=rng.random() < 0.4)
            rg = f"r{sid}"
            t = g.when(day)
            for i in range(rng.randint(2, 4)):
                ch = "WECHAT" if i > 0 and "wechatOpenid" in c and rng.random() < 0.5 else "PHONE"
                # Each contact >72 h from the previous one is its own one-caller "cluster".
                g.add(t, c, d, g.text(m, p, repeat=i > 0), rg, f"c{sid}-{i}", channel=ch)
                t += dt.timedelta(days=rng.uniform(3.1, 7))
            # Near-miss: the same caller, another matter at the same place kind.
            m2 = rng.choice([x for x in MATTERS if MATTERS[x][0] == MATTERS[m][0] and x != m]
                            or [x for x in MATTERS if x != m])
            used.add((m2, p, d))
            g.add(t, c, d, g.text(m2, p), f"r{sid}-other", f"c{sid}-other")
        else:
            # Near-misses around one matter: the same place with another problem,
            # the same problem in another district at another place, and one
            # lone contact.
            g.add(g.when(day), g.caller(), d, g.text(m, p), f"r{sid}-a", f"c{sid}-a")
            same_kind = [x for x in MATTERS if MATTERS[x][0] == MATTERS[m][0] and x != m]
            if same_kind:
                m2 = rng.choice(same_kind)
                used.add((m2, p, d))
                g.add(g.when(day + rng.uniform(0, 1)), g.caller(), d, g.text(m2, p), f"r{sid}-b", f"c{sid}-b")
            d2 = rng.choice([x for x in DISTRICTS if x != d])
            p2 = rng.choice([x for x in place(MATTERS[m][0], rng) if x != p])
            used.add((m, p2, d2))
            g.add(g.when(day + rng.uniform(0, 1)), g.caller(), d2, g.text(m, p2), f"r{sid}-c", f"c{sid}-c")
    g.rows.sort(key=lambda r: r["contact"]["receivedAt"])
    return g.rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--scenarios", type=int, default=150)
    ap.add_argument("--out", default="labeled.jsonl")
    a = ap.parse_args()
    rows = build(a.seed, a.scenarios)
    with open(a.out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} contacts -> {a.out}")


if __name__ == "__main__":
    main()
