"""Hand-written rules where a miss is unacceptable or data is thin: emergencies, request type cues
and urgency.

Emergency flag shape (documented in the API): ``None`` or
``{"number": "119", "category": "fire", "evidence": ["着火了"], "also": ["120"]}``.
Categories and numbers: fire 119, gas (leak) 119, rescue (trapped, collapse) 119, crime 110,
traffic (accident) 122, injury (medical) 120. A *strong* phrase always flags; a *weak* one flags
only when the text does not read as past or administrative (工伤认定, 上个月, 赔偿 ...). Phrases
that merely mention the danger (火灾隐患, 消防演练, 交通事故认定) are matched as suppressors and
take the span away from the danger words inside them.
"""
from __future__ import annotations

from .matcher import Automaton

# category -> one of routing.emergency's numbers
NUMBERS = {"crime": "110", "fire": "119", "gas": "119", "rescue": "119", "traffic": "122", "injury": "120"}
PRIORITY = ("crime", "fire", "gas", "traffic", "injury", "rescue")

STRONG = {
    "fire": "着火 着火了 起火 起火了 失火 失火了 火灾发生 发生火灾 烧起来 烧起来了 火烧起来 大火 火很大 火好大 火势 "
            "浓烟 冒浓烟 烧着了 着起火 爆炸 爆炸了 山火 电线着火 冒火 冒火花 起大火 着伙 着伙了 "
            "起伙了 火烧屋 救火 灭火救 烧死人 火光",
    "gas": "煤气泄漏 燃气泄漏 天然气泄漏 液化气泄漏 煤气泄露 燃气泄露 天然气泄露 液化气泄露 漏煤气 漏燃气 漏天然气 "
           "煤气漏了 燃气漏了 煤气漏气 燃气漏气 气罐漏气 煤气罐漏气 液化气罐漏气 漏气了 煤气味很大 煤气味好大 燃气味很大 "
           "燃气味好大 闻到煤气味 闻到燃气味 闻到天然气 好大的煤气味 好大煤气味 燃气管道破裂 燃气管被挖断 燃气管挖断 "
           "煤气管道破了 化学品泄漏 毒气泄漏 氨气泄漏 有毒气体泄漏 没气泄漏 煤汽泄漏",
    "crime": "抢劫 打劫 抢钱 抢包 抢东西 持刀 拿刀 拿着刀 拿菜刀 砍人 杀人 捅人 捅了 绑架 强奸 入室抢劫 撬门 正在偷 "
             "在偷东西 有人撬锁 持枪 开枪 群殴 聚众斗殴 打架流血 打人流血 打得头破血流 砸店 打砸 救命 跳楼 要跳楼 "
             "想跳楼 自杀 要自杀 拐卖 抢小孩 偷小孩 抢孩子 非法拘禁 被关起来 劫持 被老公打 被打得",
    "traffic": "车祸 出车祸 发生车祸 撞车 撞车了 撞人了 被车撞 撞到人 车撞了 追尾了 翻车 翻车了 车翻了 连环撞 相撞 "
               "撞伤 撞死 车货了 出车货 肇事逃逸 撞了就跑",
    "injury": "流血不止 大出血 血流不止 昏迷 不省人事 没有呼吸 没呼吸 心跳停了 心脏病发 心脏骤停 晕倒了 昏倒了 晕过去 "
              "抽搐 口吐白沫 中毒了 食物中毒 触电 被电到 溺水 掉河里 掉进河里 掉水里 落水 掉进水里 快不行了 吐血 "
              "喝农药 吃安眠药 割腕 从楼上摔 骨折了 头破血流 受重伤 重伤 脑出血 中风了 难产 "
              "被狗咬伤 咬伤了 烫伤 烧伤 急救 叫救护车 快叫救护车 需要救护车",
    "rescue": "电梯困人 困在电梯 被困电梯 关在电梯 电梯里出不来 困在里面 被困在 压在下面 被埋 埋在下面 房子塌了 "
              "房屋倒塌 楼塌了 塌下来了 墙倒了压 被洪水困 水淹被困 困在水里 被困屋顶",
}
WEAK = {
    "crime": "打架 打人 被打 斗殴 小偷 偷东西 有人闹事 闹事 威胁要杀 报警 打老婆 打老公 打小孩 打孩子 家暴",
    "injury": "流血 出血 受伤 受伤了 晕倒 昏倒 摔倒 骨折 发高烧 高烧不退 呼吸困难 摔伤了 摔下来了",
    "traffic": "交通事故 撞了",
    "rescue": "倒塌 坍塌 被困",
    "fire": "冒烟 烧东西 火苗 房子烧 烧房子 火灾",
}
SUPPRESS = ("火灾隐患 消防隐患 防火安全 防火检查 火灾保险 火灾预防 消防演练 灭火器 灭火器过期 防火门 以前着火 "
            "去年着火 火灾事故调查 火灾事故认定 火灾认定 交通事故认定 事故认定书 事故责任认定 交通事故理赔 交通事故赔偿 "
            "车祸赔偿 车祸理赔 出车祸赔偿 工伤认定 工伤鉴定 工伤赔偿 受伤认定 食物中毒赔偿 报警器 燃气报警器 烟雾报警器 "
            "防爆 爆炸物品管理 打架子鼓 打人民币 抢购 抢红包 抢票 抢车位 抢单 抢修 紧急抢修 大火锅 火锅店 火烧云 救命钱 "
            "自杀式 跳楼价 跳楼大甩卖 被困难 困难户 生活困难 困难补助 困难家庭 撞衫 中毒防治 心中 报警电话多少")
#: time words that put the danger in the past; they silence even a strong phrase unless the text
#: also says it is happening now
PAST_TIME = "上个月 上周 上星期 去年 前年 以前 之前 当时 那年 那次 上次 几个月前 几年前 几天前 曾经 后来 早就"
PAST = ("上个月 上周 上星期 去年 前年 以前 之前 当时 那年 几个月前 几年前 早就 已经出院 出院了 赔偿 医药费 "
        "认定 鉴定 报销 理赔 申请 办理 怎么办理 咨询 请问 想问 后来 曾经 伤残等级 打官司 赔钱 律师 法律援助 "
        "仲裁 起诉 补偿 救助 补助")

#: a text containing these is about a past event (praise for a rescue), never a live emergency
NOT_EMERGENCY = "表扬 锦旗 点赞 值得表扬"

NOW = ("正在 现在 刚刚 刚才 快来 快点 赶紧 救命 马上 立刻 在打 打起来 好多血 很多血 一直在 还在 快过来 "
       "快派 请快 出事了 不得了")

TYPE_CUES = {
    "咨询": "请问 咨询 想问 问一下 问下 问问 想了解 了解一下 怎么办理 如何办理 怎么办 怎么弄 需要什么 什么材料 哪些材料 "
            "要带什么 在哪里办 在哪办 去哪里 去哪办 多久 什么时候 能不能 可不可以 是否 吗 多少钱 流程 手续 条件 政策 "
            "标准是 有没有 算不算 怎么算 怎么查 查询 哪个部门",
    "求助": "求助 帮忙 帮帮 帮一下 帮我 救命 求求 麻烦你们 请帮 急需 没办法 不知道怎么办 被困 停水 停电 没水 没电 "
            "走失 快点来 快来 赶紧派人 派人来 过来看看 救救 无家可归 没钱 没饭吃 看不起病 生活不下去",
    "投诉": "投诉 太吵 扰民 不满 态度差 态度恶劣 态度很差 没人管 乱收费 不给退 拖欠 不处理 严重影响 受不了 睡不着 "
            "强烈要求 要求处理 影响 差劲 太差 坑人 欺负人 推诿 推脱 不作为 刁难 凭什么 一直没 不合理 骗 太脏 太臭 "
            "太慢 很久 好几次",
    "举报": "举报 检举 揭发 偷偷 非法 违法 私自 违规 无证 无照 黑作坊 偷排 私宰 赌博 贪污 受贿 查处 取缔 "
            "实名举报 匿名举报 暗中 晚上偷偷 半夜偷偷 造假 假冒 冒充 套取 骗取 虚报",
    "建议": "建议 提议 提个建议 希望增加 希望能够 能否增加 最好能 应该增加 增设 多开 优化 改进 完善 加装 安装一些 "
            "多设 希望政府 希望有关部门 能不能多 可以考虑 呼吁 增加一些 多建",
    "表扬": "表扬 感谢 谢谢 非常感谢 点赞 锦旗 好评 负责任 很负责 热心 辛苦了 为人民服务 赞扬 给力 耐心 及时 好样的 "
            "服务很好 态度很好 帮了大忙 感激 赞一个 值得表扬 效率很高",
    "申请": "申请 我要办 想办 想办理 要求办理 申领 我要申请 想申请 要申请 办证 申报 申请办理 帮我办 给我办 补办 "
            "要办 准备办 要登记",
}
URGENT_CUES = ("紧急 很急 急急 着急 十万火急 马上 立刻 立即 赶紧 赶快 快点 危险 快要倒 要塌 随时倒 随时会倒 漏电 "
               "电线掉 电线断了 电线掉下来 高压线 断水好几天 停水两天 停水三天 停水好几天 几天没水 几天没电 停电好几天 "
               "老人 小孩 孕妇 被困 淹了 水浸街 水淹 塌陷 大坑 井盖丢 井盖没了 没有井盖 涨水 洪水 堤坝 决堤 山体滑坡 "
               "滑坡 泥石流 今天之内 今晚 不能再拖 发烧 病重 救命").split()


def _automaton(groups: dict[str, str], min_pinyin: int = 3) -> Automaton:
    a = Automaton(min_pinyin=min_pinyin)
    for label, words in groups.items():
        for w in words.split():
            a.add(w, label)
    return a.build()


class Rules:
    """Compiled rules; build once and share (read-only after build)."""

    def __init__(self) -> None:
        danger = Automaton(min_pinyin=3)
        for cat, words in STRONG.items():
            for w in words.split():
                danger.add(w, ("strong", cat))
        for cat, words in WEAK.items():
            for w in words.split():
                danger.add(w, ("weak", cat))
        for w in SUPPRESS.split():
            danger.add(w, ("suppress", None))
        self.danger = danger.build()
        self.past = _automaton({"past": PAST}, min_pinyin=99)
        self.past_time = _automaton({"past": PAST_TIME}, min_pinyin=99)
        self.now = _automaton({"now": NOW, "duration": "到现在 直到现在 现在还没 现在都没 现在也没 至今"},
                              min_pinyin=99)
        self.calm = _automaton({"calm": NOT_EMERGENCY}, min_pinyin=99)
        self.types = _automaton(TYPE_CUES, min_pinyin=99)
        self.urgent = _automaton({"urgent": " ".join(URGENT_CUES)}, min_pinyin=99)

    def emergency(self, text: str) -> dict | None:
        """The emergency flag for normalised text, or None (see the module docstring)."""
        if self.calm.find(text):
            return None
        hits = self.danger.find(text)
        past = bool(self.past.find(text))
        now = any("now" in self.now.payloads[h.keyword] for h in self.now.find(text))
        strong: dict[str, list[str]] = {}
        weak: dict[str, list[str]] = {}
        for h in hits:
            for strength, cat in self.danger.payloads[h.keyword]:
                target = strong if strength == "strong" else weak if strength == "weak" else None
                if target is not None and h.found not in target.setdefault(cat, []):
                    target[cat].append(h.found)
        found = {} if (self.past_time.find(text) and not now) else dict(strong)
        if not past:
            # a weak word (打架, 受伤) flags only with company: a present-tense cue, a second weak
            # word, or a strong word of another category
            n_weak = sum(len(v) for v in weak.values())
            if now or n_weak >= 2 or strong:
                for cat, words in weak.items():
                    found.setdefault(cat, []).extend(w for w in words if w not in found.get(cat, []))
        if not found:
            return None
        cats = sorted(found, key=PRIORITY.index)
        main = cats[0]
        also = sorted({NUMBERS[c] for c in cats[1:]} - {NUMBERS[main]})
        evidence = [w for c in cats for w in found[c]]
        return {"number": NUMBERS[main], "category": main, "evidence": evidence, "also": also}

    def type_scores(self, text: str) -> dict[str, float]:
        scores: dict[str, float] = {}
        for h in self.types.find(text):
            for label in self.types.payloads[h.keyword]:
                scores[label] = scores.get(label, 0.0) + (1.0 if len(h.keyword) >= 2 else 0.4)
        return scores

    def urgent_cues(self, text: str) -> list[str]:
        return [h.found for h in self.urgent.find(text)]
