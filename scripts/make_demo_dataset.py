#!/usr/bin/env python3
"""Regenerate ``credit_vault/data/demo_dataset.json``, the demo's synthetic data set.

Everything is synthetic and deterministic (fixed seed): valid GB 11643 citizen ID
numbers and GB 32100 credit codes from Xianning (4212xx) region codes, made-up
Chinese names, and records in every category of the default catalogue with its
own legal bases, dates before the demo's frozen "today" and facts of the right
types. Person 0 is the demo's featured subject (a file spanning every tier and
both sides of the disclosure windows); organisation 0 is on the serious list and
its legal representative is person 1.

Usage::

    python scripts/make_demo_dataset.py           # rewrite the JSON file
    python scripts/make_demo_dataset.py --check   # exit 1 if the file is stale
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Runs from a checkout without installing the package.
    sys.path.insert(0, str(ROOT))

from credit_vault.domain.catalog import Catalog  # noqa: E402
from credit_vault.identifiers import CitizenId, CreditCode  # noqa: E402

OUTPUT = ROOT / "credit_vault" / "data" / "demo_dataset.json"
SEED = 20260601
# The demo's frozen clock reads 2026-06-01; every decision is taken before it.
TODAY = date(2026, 6, 1)
FIRST_DAY = date(2020, 1, 1)
LAST_DAY = date(2026, 5, 31)
FIRST_BIRTH = date(1950, 1, 1)
LAST_BIRTH = date(2004, 12, 31)
N_PERSONS = 220
N_ORGANISATIONS = 12

REGIONS = {
    "421202": "咸安区",
    "421221": "嘉鱼县",
    "421222": "通城县",
    "421223": "崇阳县",
    "421224": "通山县",
    "421281": "赤壁市",
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余"
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红鹏辉"
    "建文斌宇浩凯欣怡婷雪琳晨涵梓轩博思佳俊志"
)

SOURCES: list[dict[str, Any]] = [
    {"code": "xn-psb", "name": "咸宁市公安局", "categories": ["identity.basic"]},
    {
        "code": "xn-samr",
        "name": "咸宁市市场监督管理局",
        "categories": [
            "identity.basic",
            "penalty.minor",
            "penalty.food_drug",
            "penalty.market",
        ],
    },
    {
        "code": "xn-tax",
        "name": "国家税务总局咸宁市税务局",
        "categories": ["tax.a_grade", "tax.major_violation"],
    },
    {"code": "xn-court", "name": "咸宁市中级人民法院", "categories": ["court.defaulter"]},
    {"code": "xn-ndrc", "name": "咸宁市发展和改革委员会", "categories": ["list.serious"]},
    {"code": "xn-edu", "name": "咸宁市教育局", "categories": ["education.misconduct"]},
    {
        "code": "xn-hrss",
        "name": "咸宁市人力资源和社会保障局",
        "categories": ["labour.wage_arrears"],
    },
    {"code": "xn-eco", "name": "咸宁市生态环境局", "categories": ["penalty.environment"]},
    {"code": "xn-ers", "name": "咸宁市应急管理局", "categories": ["penalty.safety_fire"]},
    {"code": "xn-traffic", "name": "咸宁市公安局交通警察支队", "categories": ["penalty.traffic"]},
    {"code": "xn-civ", "name": "咸宁市精神文明建设办公室", "categories": ["honor.commendation"]},
    {"code": "xn-volunteer", "name": "咸宁市志愿服务联合会", "categories": ["volunteer.service"]},
    {"code": "xn-justice", "name": "咸宁市司法局", "categories": ["profession.discipline"]},
]
SOURCE_OF: dict[str, str] = {
    "honor.commendation": "xn-civ",
    "volunteer.service": "xn-volunteer",
    "tax.a_grade": "xn-tax",
    "tax.major_violation": "xn-tax",
    "penalty.minor": "xn-samr",
    "penalty.food_drug": "xn-samr",
    "penalty.market": "xn-samr",
    "penalty.safety_fire": "xn-ers",
    "penalty.traffic": "xn-traffic",
    "penalty.environment": "xn-eco",
    "labour.wage_arrears": "xn-hrss",
    "court.defaulter": "xn-court",
    "list.serious": "xn-ndrc",
    "education.misconduct": "xn-edu",
    "profession.discipline": "xn-justice",
}
SOURCE_NAME = {s["code"]: s["name"] for s in SOURCES}
ABBR = {
    "xn-samr": "咸市监",
    "xn-tax": "咸税稽",
    "xn-eco": "咸环",
    "xn-ers": "咸应急",
    "xn-traffic": "咸公交",
    "xn-hrss": "咸人社",
    "xn-ndrc": "咸发改信",
    "xn-edu": "咸教",
    "xn-justice": "咸司",
}

# Summaries by category; market and profession pair each summary with its law.
SUMMARIES: dict[str, list[str]] = {
    "penalty.minor": [
        "未按规定公示营业执照",
        "未按期报送年度报告",
        "经营场所标识不规范",
        "未按规定明码标价",
    ],
    "penalty.food_drug": [
        "销售超过保质期的食品",
        "未按规定履行进货查验义务",
        "生产经营不符合食品安全标准的食品",
        "药品储存条件不符合规定",
    ],
    "penalty.safety_fire": [
        "未按规定开展安全生产隐患排查",
        "占用、堵塞消防车通道",
        "消防设施未保持完好有效",
        "特种作业人员未持证上岗",
    ],
    "penalty.traffic": [
        "饮酒后驾驶机动车",
        "超过规定时速百分之五十",
        "驾驶未按规定检验的机动车",
        "使用伪造、变造的机动车号牌",
    ],
    "penalty.environment": [
        "超标排放大气污染物",
        "建设项目未批先建",
        "违规倾倒建筑垃圾",
        "未按规定设置危险废物识别标志",
    ],
    "labour.wage_arrears": ["拖欠农民工工资", "克扣劳动者工资", "未按约定支付劳动报酬"],
    "tax.major_violation": ["虚开增值税专用发票", "逃避缴纳税款", "骗取出口退税"],
    "court.defaulter": [
        "有履行能力而拒不履行生效法律文书确定的义务",
        "以虚假诉讼、虚假仲裁规避执行",
        "违反财产报告制度",
    ],
    "education.misconduct": [
        "国家教育考试作弊",
        "学位论文抄袭",
        "恶意拖欠学费",
        "国家助学贷款违约",
        "伪造就业材料",
    ],
}
MARKET = [
    ("建筑法", "违法分包建设工程"),
    ("专利法", "假冒他人专利"),
    ("电子商务法", "电子商务经营者虚假宣传"),
    ("医师法", "未取得医师执业证书从事医疗活动"),
]
PROFESSIONS = [
    ("律师法", "律师", "违规收取代理费用"),
    ("医师法", "执业医师", "违反诊疗规范"),
    ("注册会计师法", "注册会计师", "出具不实审计报告"),
    ("导游管理条例", "导游", "诱导、强迫游客购物"),
    ("执业药师职业资格制度规定", "执业药师", "挂证执业"),
]
HONOURS = ["诚信个人", "诚信经营示范单位", "道德模范", "优秀志愿者", "守合同重信用企业"]
SERIOUS_LISTS = [
    "严重失信主体名单",
    "重大税收违法失信主体名单",
    "拖欠农民工工资失信联合惩戒对象名单",
]
PENALTY_KINDS = ["罚款", "罚款", "罚款", "没收违法所得", "责令停产停业", "暂扣许可证件"]
INSTITUTIONS = ["咸宁职业技术学院", "咸宁市示范高级中学", "咸宁开放大学"]
STREETS = ["温泉路", "银泉大道", "金桂路", "长江大道", "淦河大道", "永安大道"]
OCCUPATIONS = ["教师", "个体工商户", "公务员", "医生", "企业职工", "农民", "律师", "会计"]
KEY_GROUPS = ["", "", "公务员", "教师", "执业医师", "法定代表人", "会计人员"]
ORG_WORDS = ["温泉食品", "砖茶贸易", "长江建筑工程", "桂花生物科技", "楠竹家居", "隽水物流"]
ORG_KINDS = ["有限公司", "有限责任公司", "股份有限公司"]
COUNTY_PREFIX = {
    "421202": "咸宁市",
    "421221": "嘉鱼县",
    "421222": "通城县",
    "421223": "崇阳县",
    "421224": "通山县",
    "421281": "赤壁市",
}
COURTS = ["咸宁市中级人民法院", "咸宁市咸安区人民法院", "赤壁市人民法院", "嘉鱼县人民法院"]


def _org_code_check(body: str) -> str:
    """GB 11714 organisation-code check character for the 8-character body."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(
        (int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, weights, strict=True)
    )
    c9 = 11 - total % 11
    return {10: "X", 11: "0"}.get(c9, str(c9))


class Generator:
    """Builds the data set from one seeded random source."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
        self.catalog = Catalog.default()
        self.persons: list[dict[str, str]] = []
        self.births: list[date] = []
        self.organisations: list[dict[str, str]] = []
        self.records: list[dict[str, Any]] = []
        self.links: list[dict[str, Any]] = []
        self._serial = 0

    # --- subjects -------------------------------------------------------------

    def person(self, born: date | None = None, region: str | None = None) -> int:
        rng = self.rng
        taken_ids = {p["id_number"] for p in self.persons}
        taken_names = {p["name"] for p in self.persons}
        plaintext = self._plaintext_corpus()
        while True:
            b = born or FIRST_BIRTH + timedelta(days=rng.randrange((LAST_BIRTH - FIRST_BIRTH).days))
            reg = region or rng.choice(list(REGIONS))
            first17 = f"{reg}{b:%Y%m%d}{rng.randrange(1, 1000):03d}"
            idn = first17 + CitizenId.compute_check_character(first17)
            name = rng.choice(SURNAMES) + "".join(
                rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2)))
            )
            # A name that also occurs in text the vault stores in clear (a law's
            # title, a source's name) would make the "no name at rest" test moot.
            if idn in taken_ids or name in taken_names or any(name in t for t in plaintext):
                continue
            self.persons.append({"id_number": idn, "name": name})
            self.births.append(b)
            return len(self.persons) - 1

    def organisation(self, region: str) -> int:
        rng = self.rng
        alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        while True:
            body = "MA4" + "".join(rng.choice(alphabet) for _ in range(5))
            first17 = f"91{region}{body}{_org_code_check(body)}"
            code = first17 + CreditCode.compute_check_character(first17)
            name = COUNTY_PREFIX[region] + rng.choice(ORG_WORDS) + rng.choice(ORG_KINDS)
            if any(o["credit_code"] == code or o["name"] == name for o in self.organisations):
                continue
            self.organisations.append({"credit_code": code, "name": name})
            return len(self.organisations) - 1

    def _plaintext_corpus(self) -> list[str]:
        texts = [s["name"] for s in SOURCES]
        for cat in self.catalog:
            texts.extend(cat.legal_bases)
        return texts

    # --- records --------------------------------------------------------------

    def date_between(self, lo: date, hi: date) -> date:
        return lo + timedelta(days=self.rng.randrange((hi - lo).days + 1))

    def age_on(self, index: int, on: date) -> int:
        b = self.births[index]
        return on.year - b.year - ((on.month, on.day) < (b.month, b.day))

    def amount(self, lo: int, hi: int) -> str:
        return f"{self.rng.randint(lo, hi)}.{self.rng.choice(('00', '50', '00', '25'))}"

    def decision_no(self, source: str, decided: date) -> str:
        self._serial += 1
        if source == "xn-court":
            return f"({decided.year})鄂12执{self._serial}号"
        return f"{ABBR[source]}罚〔{decided.year}〕{self._serial}号"

    def add(
        self,
        category: str,
        kind: str,
        index: int,
        *,
        decided: date | None = None,
        occurred: date | None = None,
        basis: str | None = None,
        facts: dict[str, Any] | None = None,
    ) -> None:
        cat = self.catalog.get(category)
        source = SOURCE_OF.get(category) or ("xn-psb" if kind == "person" else "xn-samr")
        if decided is None:
            decided = self.date_between(FIRST_DAY, LAST_DAY)
        if occurred is None:
            occurred = max(FIRST_DAY, decided - timedelta(days=self.rng.randrange(0, 181)))
        assert FIRST_DAY <= occurred <= decided <= LAST_DAY, category  # noqa: S101
        assert kind in cat.subjects, category  # noqa: S101
        if cat.min_age is not None and kind == "person":
            assert self.age_on(index, occurred) >= cat.min_age, category  # noqa: S101
        basis = basis or self.rng.choice(cat.legal_bases)
        assert basis in cat.legal_bases, category  # noqa: S101
        facts = facts if facts is not None else self.facts(category, source, decided, kind)
        cat.validate_facts(facts)
        self.records.append(
            {
                "source": source,
                "subject_kind": kind,
                "subject_index": index,
                "category": category,
                "legal_basis": basis,
                "decided_on": decided.isoformat(),
                "occurred_on": occurred.isoformat(),
                "facts": facts,
            }
        )

    def negative(self, source: str, decided: date, summary: str, **extra: Any) -> dict[str, Any]:
        rng = self.rng
        facts: dict[str, Any] = {
            "decision_no": self.decision_no(source, decided),
            "authority": SOURCE_NAME[source],
            "summary": summary,
        }
        if rng.random() < 0.8:
            facts["penalty_kind"] = rng.choice(PENALTY_KINDS)
        if rng.random() < 0.75:
            facts["amount"] = self.amount(200, 200_000)
        if rng.random() < 0.6:
            facts["detail"] = (
                f"案卷编号 XN-{decided.year}-{rng.randrange(10_000):04d}；询问笔录及证据材料在卷"
            )
        facts.update(extra)
        return facts

    def facts(self, category: str, source: str, decided: date, kind: str) -> dict[str, Any]:
        rng = self.rng
        if category == "identity.basic":
            facts: dict[str, Any] = {
                "address": rng.choice(list(REGIONS.values()))
                + f"{rng.choice(STREETS)}{rng.randrange(1, 300)}号",
                "phone": f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
            }
            if kind == "person":
                facts["occupation"] = rng.choice(OCCUPATIONS)
                group = rng.choice(KEY_GROUPS)
                if group:
                    facts["key_group"] = group
            return facts
        if category == "honor.commendation":
            return {
                "title": rng.choice(HONOURS),
                "authority": SOURCE_NAME[source],
                "summary": "经评选公示后授予",
            }
        if category == "volunteer.service":
            return {
                "organisation": rng.choice(
                    ["温泉社区志愿服务队", "咸宁市红十字志愿者服务队", "长江大保护志愿服务队"]
                ),
                "hours": rng.randrange(4, 400),
                "summary": rng.choice(["社区防疫志愿服务", "关爱留守儿童", "环境保护宣传"]),
            }
        if category == "tax.a_grade":
            return {"year": decided.year - 1, "authority": SOURCE_NAME[source]}
        if category == "penalty.minor":
            return {
                "decision_no": self.decision_no(source, decided),
                "authority": SOURCE_NAME[source],
                "summary": rng.choice(SUMMARIES[category]),
                "penalty_kind": rng.choice(["警告", "通报批评"]),
            }
        if category == "penalty.traffic":
            extra: dict[str, Any] = {}
            if rng.random() < 0.7:
                extra["plate_no"] = f"鄂L{rng.choice('ABCDEFGHJK')}{rng.randrange(10000):04d}"
            return self.negative(source, decided, rng.choice(SUMMARIES[category]), **extra)
        if category == "labour.wage_arrears":
            return self.negative(
                source,
                decided,
                rng.choice(SUMMARIES[category]),
                workers_affected=rng.randrange(3, 120),
            )
        if category == "court.defaulter":
            facts = self.negative(source, decided, rng.choice(SUMMARIES[category]))
            facts["authority"] = rng.choice(COURTS)
            facts["penalty_kind"] = "纳入失信被执行人名单"
            facts["performed"] = rng.random() < 0.2
            return facts
        if category == "list.serious":
            return self.negative(
                source, decided, "经认定为严重失信主体", list_name=rng.choice(SERIOUS_LISTS)
            )
        if category == "education.misconduct":
            return self.negative(
                source,
                decided,
                rng.choice(SUMMARIES[category]),
                institution=rng.choice(INSTITUTIONS),
            )
        return self.negative(source, decided, rng.choice(SUMMARIES[category]))

    def market(self, kind: str, index: int, **dates: date) -> None:
        basis, summary = self.rng.choice(MARKET)
        decided = dates.get("decided") or self.date_between(FIRST_DAY, LAST_DAY)
        self.add(
            "penalty.market",
            kind,
            index,
            decided=decided,
            occurred=dates.get("occurred"),
            basis=basis,
            facts=self.negative("xn-samr", decided, summary),
        )

    def profession(self, index: int) -> None:
        basis, profession, summary = self.rng.choice(PROFESSIONS)
        decided = self.date_between(FIRST_DAY, LAST_DAY)
        facts = self.negative("xn-justice", decided, summary, profession=profession)
        facts["licence_no"] = f"{self.rng.randrange(10**16):016d}"
        self.add(
            "profession.discipline", "person", index, decided=decided, basis=basis, facts=facts
        )

    def aged(self, on: date, low: int, high: int) -> Callable[[int], bool]:
        """A filter: persons aged ``low`` to ``high`` on ``on``."""
        return lambda i: low <= self.age_on(i, on) <= high

    def pick_person(self, ok: Callable[[int], bool]) -> int:
        for _ in range(10_000):
            i = self.rng.randrange(2, len(self.persons))  # 0 and 1 are the demo's own
            if ok(i):
                return i
        raise RuntimeError("no person fits")  # pragma: no cover


def build(seed: int = SEED) -> dict[str, Any]:
    """The whole data set as a JSON-ready dict."""
    g = Generator(seed)
    rng = g.rng
    featured = g.person(born=date(1983, 7, 14), region="421202")
    legal_rep = g.person(born=date(1971, 3, 2), region="421281")
    while len(g.persons) < N_PERSONS:
        g.person()
    regions = list(REGIONS)
    for i in range(N_ORGANISATIONS):
        g.organisation(regions[i % len(regions)])

    # Person 0: one file that shows every tier, window state and category kind.
    d = date
    g.add("identity.basic", "person", featured, decided=d(2021, 3, 1), occurred=d(2021, 3, 1))
    g.add(
        "honor.commendation", "person", featured, decided=d(2025, 1, 20), occurred=d(2024, 12, 30)
    )
    g.add("volunteer.service", "person", featured, decided=d(2025, 9, 10), occurred=d(2025, 8, 1))
    g.add("penalty.minor", "person", featured, decided=d(2025, 11, 5), occurred=d(2025, 10, 28))
    g.add("penalty.traffic", "person", featured, decided=d(2026, 2, 16), occurred=d(2026, 2, 3))
    g.add("penalty.traffic", "person", featured, decided=d(2024, 3, 8), occurred=d(2024, 2, 20))
    g.add(
        "tax.major_violation", "person", featured, decided=d(2024, 8, 30), occurred=d(2024, 1, 15)
    )
    g.add("court.defaulter", "person", featured, decided=d(2025, 4, 18), occurred=d(2025, 2, 1))
    g.market("person", featured, decided=d(2023, 5, 12), occurred=d(2023, 4, 1))
    g.add(
        "labour.wage_arrears", "person", featured, decided=d(2025, 12, 22), occurred=d(2025, 9, 30)
    )

    # Organisation 0 is on the serious list; person 1, its legal representative, too (S7).
    g.add("list.serious", "organisation", 0, decided=d(2025, 3, 3), occurred=d(2024, 11, 20))
    g.add("tax.major_violation", "organisation", 0, decided=d(2022, 12, 9), occurred=d(2022, 6, 1))
    g.add("penalty.environment", "organisation", 0, decided=d(2025, 10, 15), occurred=d(2025, 9, 2))
    g.add("tax.a_grade", "organisation", 0, decided=d(2020, 4, 20), occurred=d(2020, 4, 20))
    g.add("identity.basic", "organisation", 0, decided=d(2020, 6, 1), occurred=d(2020, 6, 1))
    g.links.append(
        {"person_index": legal_rep, "organisation_index": 0, "role": "legal_representative"}
    )
    rep_facts = g.negative(
        "xn-ndrc",
        d(2025, 3, 3),
        f"作为{g.organisations[0]['name']}法定代表人，对该单位严重失信行为负有责任",
        list_name="严重失信主体名单",
        responsible_role="法定代表人",
    )
    g.add(
        "list.serious",
        "person",
        legal_rep,
        decided=d(2025, 3, 3),
        occurred=d(2024, 11, 20),
        facts=rep_facts,
    )
    g.add("identity.basic", "person", legal_rep, decided=d(2021, 5, 6), occurred=d(2021, 5, 6))

    # Three more listed organisations whose legal representatives are listed too.
    for org in (1, 2, 3):
        decided = g.date_between(d(2022, 1, 1), LAST_DAY)
        g.add("list.serious", "organisation", org, decided=decided)
        rep = g.pick_person(lambda i: g.births[i] <= d(1990, 1, 1))
        g.links.append(
            {"person_index": rep, "organisation_index": org, "role": "legal_representative"}
        )
        facts = g.negative(
            "xn-ndrc",
            decided,
            f"作为{g.organisations[org]['name']}法定代表人，对该单位严重失信行为负有责任",
            list_name="严重失信主体名单",
            responsible_role="法定代表人",
        )
        g.add("list.serious", "person", rep, decided=decided, facts=facts)

    def subject() -> tuple[str, int]:
        if rng.random() < 0.3:
            return "organisation", rng.randrange(N_ORGANISATIONS)
        # Adults only for penalties, so that no record is about a child.
        return "person", g.pick_person(lambda i: g.births[i] <= d(2001, 12, 31))

    adult_at = 18
    for _ in range(60):
        g.add("identity.basic", "person", g.pick_person(lambda i: True))
    for org in range(1, N_ORGANISATIONS):
        g.add("identity.basic", "organisation", org)
    for _ in range(30):
        g.add("honor.commendation", *subject())
    for _ in range(30):
        g.add("volunteer.service", "person", g.pick_person(lambda i: True))
    for org in range(1, N_ORGANISATIONS):
        g.add("tax.a_grade", "organisation", org)
    for cat, n in (
        ("penalty.minor", 25),
        ("penalty.food_drug", 25),
        ("penalty.safety_fire", 25),
        ("penalty.traffic", 40),
        ("penalty.environment", 25),
        ("labour.wage_arrears", 25),
        ("tax.major_violation", 20),
        ("list.serious", 12),
    ):
        for _ in range(n):
            g.add(cat, *subject())
    for _ in range(25):
        g.market(*subject())
    for _ in range(30):
        # C1: minors are never listed as defaulters.
        decided = g.date_between(FIRST_DAY, LAST_DAY)
        occurred = max(FIRST_DAY, decided - timedelta(days=rng.randrange(0, 181)))
        if rng.random() < 0.3:
            g.add(
                "court.defaulter", "organisation", rng.randrange(N_ORGANISATIONS), decided=decided
            )
        else:
            who = g.pick_person(g.aged(occurred, adult_at, 200))
            g.add("court.defaulter", "person", who, decided=decided, occurred=occurred)
    for _ in range(25):
        # 98号: student integrity files only for students aged 18 or more at the conduct.
        decided = g.date_between(FIRST_DAY, LAST_DAY)
        occurred = max(FIRST_DAY, decided - timedelta(days=rng.randrange(0, 181)))
        who = g.pick_person(g.aged(occurred, adult_at, 30))
        g.add("education.misconduct", "person", who, decided=decided, occurred=occurred)
    for _ in range(25):
        g.profession(g.pick_person(lambda i: g.births[i] <= d(1996, 1, 1)))

    return {
        "persons": g.persons,
        "organisations": g.organisations,
        "sources": SOURCES,
        "links": g.links,
        "records": g.records,
    }


def render(data: dict[str, Any]) -> str:
    """JSON text with one item per line, so that diffs stay readable."""
    parts = ["{"]
    keys = list(data)
    for k_i, key in enumerate(keys):
        items = data[key]
        parts.append(f"  {json.dumps(key)}: [")
        for i, item in enumerate(items):
            comma = "," if i < len(items) - 1 else ""
            parts.append("    " + json.dumps(item, ensure_ascii=False, sort_keys=True) + comma)
        parts.append("  ]" + ("," if k_i < len(keys) - 1 else ""))
    parts.append("}")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the data set, or with --check compare it with the committed file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed file is stale"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the JSON file")
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            sys.stderr.write(f"{args.output} is stale: run scripts/make_demo_dataset.py\n")
            return 1
        sys.stderr.write(f"{args.output} is up to date\n")
        return 0
    args.output.write_text(text, encoding="utf-8")
    data = json.loads(text)
    sys.stderr.write(
        f"wrote {args.output}: {len(data['persons'])} persons, "
        f"{len(data['organisations'])} organisations, {len(data['records'])} records\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
