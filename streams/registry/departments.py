"""Guangdong provincial departments, their city counterparts and service items.

Seed data for the generator. Department numbers are stable: D440000-07 is the
provincial health commission and D440100-07 its Guangzhou counterpart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from streams.registry.entities import City, Department, ServiceItem

PROVINCE_DEPT_PREFIX = "D440000"


@dataclass(frozen=True, slots=True)
class DepartmentSeed:
    number: int
    name: str
    #: Name of the city counterpart with "{city}" for the city name; None when
    #: the city-level body is not modelled.
    city_name: str | None
    items: tuple[str, ...]


# The first twenty are the departments citizens meet in every city's halls, so
# only they get city counterparts.
DEPARTMENT_SEEDS: tuple[DepartmentSeed, ...] = (
    DepartmentSeed(
        1,
        "广东省公安厅",
        "{city}公安局",
        (
            "居民身份证换领",
            "户口迁移",
            "出生登记",
            "往来港澳通行证签注",
            "普通护照签发",
            "机动车驾驶证换证",
        ),
    ),
    DepartmentSeed(
        2,
        "广东省人力资源和社会保障厅",
        "{city}人力资源和社会保障局",
        (
            "社会保障卡申领",
            "企业职工基本养老保险关系转移",
            "失业保险金申领",
            "就业登记",
            "基本养老金申领",
        ),
    ),
    DepartmentSeed(
        3,
        "广东省自然资源厅",
        "{city}自然资源局",
        (
            "不动产登记",
            "不动产转移登记",
            "不动产抵押登记",
            "建设用地规划许可证核发",
        ),
    ),
    DepartmentSeed(
        4,
        "广东省市场监督管理局",
        "{city}市场监督管理局",
        (
            "企业开办",
            "个体工商户登记",
            "企业变更登记",
            "企业注销登记",
            "食品经营许可",
        ),
    ),
    DepartmentSeed(
        5,
        "国家税务总局广东省税务局",
        "国家税务总局{city}税务局",
        (
            "发票领用",
            "个人所得税综合所得汇算清缴",
            "增值税纳税申报",
            "税收完税证明开具",
            "新办纳税人套餐服务",
        ),
    ),
    DepartmentSeed(
        6,
        "广东省住房和城乡建设厅",
        "{city}住房和城乡建设局",
        (
            "建筑工程施工许可证核发",
            "商品房预售许可",
            "住房公积金提取",
            "住房公积金缴存登记",
            "建设工程竣工验收备案",
        ),
    ),
    DepartmentSeed(
        7,
        "广东省卫生健康委员会",
        "{city}卫生健康局",
        (
            "医疗机构执业登记",
            "医师执业注册",
            "出生医学证明办理",
            "公共场所卫生许可",
        ),
    ),
    DepartmentSeed(
        8,
        "广东省医疗保障局",
        "{city}医疗保障局",
        (
            "医保关系转移接续",
            "异地就医备案",
            "城乡居民医保参保登记",
            "生育津贴申领",
            "门诊特定病种待遇认定",
        ),
    ),
    DepartmentSeed(
        9,
        "广东省民政厅",
        "{city}民政局",
        (
            "婚姻登记",
            "最低生活保障申请",
            "社会团体成立登记",
            "高龄津贴申领",
        ),
    ),
    DepartmentSeed(10, "广东省教育厅", "{city}教育局", ("教师资格认定", "民办学校办学许可", "中小学学籍证明")),
    DepartmentSeed(
        11,
        "广东省发展和改革委员会",
        "{city}发展和改革局",
        (
            "企业投资项目核准",
            "企业投资项目备案",
            "固定资产投资项目节能审查",
        ),
    ),
    DepartmentSeed(
        12,
        "广东省交通运输厅",
        "{city}交通运输局",
        (
            "道路运输经营许可",
            "网络预约出租汽车运输证核发",
            "道路运输从业人员从业资格证核发",
        ),
    ),
    DepartmentSeed(
        13,
        "广东省生态环境厅",
        "{city}生态环境局",
        (
            "建设项目环境影响评价文件审批",
            "排污许可证核发",
            "危险废物经营许可",
        ),
    ),
    DepartmentSeed(
        14,
        "广东省农业农村厅",
        "{city}农业农村局",
        (
            "农药经营许可",
            "兽药经营许可证核发",
            "动物防疫条件合格证核发",
            "农村村民宅基地审批",
        ),
    ),
    DepartmentSeed(
        15, "广东省商务厅", "{city}商务局", ("对外贸易经营者备案登记", "单用途商业预付卡备案", "拍卖企业设立许可")
    ),
    DepartmentSeed(
        16,
        "广东省文化和旅游厅",
        "{city}文化广电旅游体育局",
        (
            "旅行社设立许可",
            "营业性演出许可",
            "娱乐场所经营许可",
            "互联网上网服务营业场所经营许可",
        ),
    ),
    DepartmentSeed(
        17, "广东省退役军人事务厅", "{city}退役军人事务局", ("退役士兵安置", "退役军人优待证申领", "伤残抚恤待遇申领")
    ),
    DepartmentSeed(18, "广东省司法厅", "{city}司法局", ("法律援助申请", "律师执业许可", "人民调解申请")),
    DepartmentSeed(
        19, "广东省应急管理厅", "{city}应急管理局", ("危险化学品经营许可", "烟花爆竹零售许可", "非煤矿山安全生产许可")
    ),
    DepartmentSeed(
        20,
        "广东省水利厅",
        "{city}水务局",
        (
            "取水许可",
            "河道管理范围内建设项目工程建设方案审批",
            "生产建设项目水土保持方案审批",
        ),
    ),
    DepartmentSeed(21, "广东省财政厅", None, ("代理记账机构设立审批", "政府采购供应商投诉处理", "财政票据领购")),
    DepartmentSeed(22, "广东省政务服务和数据管理局", None, ("政务服务投诉受理", "政务服务好差评申诉", "电子证照应用")),
    DepartmentSeed(23, "广东省科学技术厅", None, ("高新技术企业认定", "科技型中小企业评价入库", "外国人来华工作许可")),
    DepartmentSeed(
        24, "广东省工业和信息化厅", None, ("专精特新中小企业认定", "技术改造投资项目备案", "无线电台执照核发")
    ),
    DepartmentSeed(25, "广东省林业局", None, ("林木采伐许可证核发", "使用林地审核审批", "陆生野生动物人工繁育许可")),
    DepartmentSeed(
        26, "广东省药品监督管理局", None, ("药品生产许可", "第二类医疗器械经营备案", "化妆品生产许可", "执业药师注册")
    ),
    DepartmentSeed(27, "广东省统计局", None, ("涉外调查机构资格认定", "统计调查项目审批")),
    DepartmentSeed(28, "广东省体育局", None, ("高危险性体育项目经营许可", "体育类社会组织成立审查")),
    DepartmentSeed(29, "广东省广播电视局", None, ("卫星电视广播地面接收设施安装许可", "广播电视节目制作经营许可")),
    DepartmentSeed(30, "广东省民族宗教事务委员会", None, ("宗教活动场所设立审批", "宗教临时活动地点审批")),
    DepartmentSeed(31, "广东省人民政府外事办公室", None, ("领事认证", "APEC商务旅行卡申办")),
    DepartmentSeed(32, "广东省人民政府国有资产监督管理委员会", None, ("企业国有资产产权登记", "国有资产评估项目备案")),
    DepartmentSeed(33, "广东省审计厅", None, ("审计结果公告查询", "内部审计业务指导")),
    DepartmentSeed(34, "广东省粮食和物资储备局", None, ("粮食收购企业备案", "政策性粮食收储资格认定")),
    DepartmentSeed(35, "广东省能源局", None, ("电动汽车充电设施建设备案", "企业投资能源项目核准")),
    DepartmentSeed(36, "广东省地方金融管理局", None, ("小额贷款公司设立审批", "融资担保公司设立审批")),
    DepartmentSeed(37, "广东省中医药局", None, ("中医诊所备案", "中医医术确有专长人员医师资格考核")),
    DepartmentSeed(38, "广东省人民防空办公室", None, ("防空地下室易地建设审批", "人防工程拆除审批")),
    DepartmentSeed(39, "广东省信访局", None, ("信访事项受理", "信访事项复查复核")),
    DepartmentSeed(40, "广东省人民政府港澳事务办公室", None, ("港澳居民来粤就业服务", "因公赴港澳审批")),
    DepartmentSeed(41, "广东省人民政府侨务办公室", None, ("归侨侨眷身份确认", "华侨回国定居审批")),
    DepartmentSeed(42, "广东省知识产权局", None, ("专利权质押登记", "地理标志产品保护申请")),
    DepartmentSeed(43, "广东省档案馆", None, ("档案查阅利用", "档案证明出具")),
    DepartmentSeed(44, "广东省社会保险基金管理局", None, ("社会保险参保登记", "社会保险待遇资格认证")),
    DepartmentSeed(45, "广东省气象局", None, ("防雷装置设计审核", "防雷装置竣工验收", "升放无人驾驶自由气球许可")),
    DepartmentSeed(46, "广东省通信管理局", None, ("增值电信业务经营许可", "电信网码号资源使用审批")),
    DepartmentSeed(47, "广东省邮政管理局", None, ("快递业务经营许可", "快递末端网点备案")),
    DepartmentSeed(48, "广东省消防救援总队", None, ("公众聚集场所投入使用营业前消防安全检查", "消防安全举报投诉受理")),
    DepartmentSeed(49, "广东省烟草专卖局", None, ("烟草专卖零售许可证核发", "烟草专卖零售许可证延续")),
    DepartmentSeed(50, "广东省残疾人联合会", None, ("残疾人证办理", "残疾人两项补贴申领")),
    DepartmentSeed(51, "广东省公共资源交易中心", None, ("交易主体信息登记", "工程建设项目招标投标交易")),
    DepartmentSeed(52, "中国人民银行广东省分行", None, ("个人信用报告查询", "企业信用报告查询")),
    DepartmentSeed(53, "广东省地震局", None, ("建设工程抗震设防要求确定", "地震安全性评价备案")),
    DepartmentSeed(54, "广东省总工会", None, ("职工医疗互助保障申领", "困难职工帮扶申请")),
)


def province_dept_id(number: int) -> str:
    return f"{PROVINCE_DEPT_PREFIX}-{number:02d}"


def city_dept_id(city_code: int, number: int) -> str:
    return f"D{city_code}-{number:02d}"


def item_id(number: int, seq: int) -> str:
    return f"S{number:02d}{seq:03d}"


def departments(cities: Sequence[City]) -> list[Department]:
    """Provincial departments, then every city's counterparts, city by city."""
    result = [
        Department(dept_id=province_dept_id(s.number), name=s.name, level="province", city_code=None, parent_id=None)
        for s in DEPARTMENT_SEEDS
    ]
    for city in cities:
        for seed in DEPARTMENT_SEEDS:
            if seed.city_name is None:
                continue
            result.append(
                Department(
                    dept_id=city_dept_id(city.code, seed.number),
                    name=seed.city_name.format(city=city.name),
                    level="city",
                    city_code=city.code,
                    parent_id=province_dept_id(seed.number),
                )
            )
    return result


def service_items() -> list[ServiceItem]:
    return [
        ServiceItem(item_id=item_id(seed.number, seq), dept_id=province_dept_id(seed.number), name=name)
        for seed in DEPARTMENT_SEEDS
        for seq, name in enumerate(seed.items, start=1)
    ]
