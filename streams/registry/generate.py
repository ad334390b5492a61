"""A deterministic, realistic-looking registry for demos, the simulator and tests.

Cities, counties, departments and service items are real (see `gb2260` and
`departments`); halls, windows and cameras are invented from a seeded
`random.Random`, so the same (halls, seed) always gives the same registry.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from streams.registry import departments as dept_seed
from streams.registry import gb2260
from streams.registry.entities import Camera, City, County, Hall, Source, VideoNode, Window
from streams.registry.registry import Registry

#: hall_id ends in a 3-digit sequence, so one county holds at most 999 halls.
MAX_HALLS_PER_COUNTY = 999

WINDOWS_PER_HALL = {"city": (30, 80), "county": (10, 30), "town": (3, 8)}
CAMERAS_PER_HALL = {"city": (8, 12), "county": (4, 8), "town": (2, 4)}

# (opening hours, weight) per level; some city halls run straight through lunch.
OPENING_HOURS = {
    "city": (("09:00-17:00", 4), ("09:00-12:00,13:30-17:30", 4), ("09:00-12:00,14:00-18:00", 2)),
    "county": (("09:00-12:00,13:30-17:30", 5), ("09:00-12:00,14:00-17:30", 3), ("08:30-12:00,14:00-17:30", 2)),
    "town": (("09:00-12:00,14:00-17:30", 5), ("09:00-12:00,13:30-17:30", 3), ("08:30-12:00,14:30-17:30", 2)),
}

SPECIALTIES = {
    "city": (
        "不动产登记",
        "社保医保",
        "住房公积金",
        "税务",
        "公安出入境",
        "交警车驾管",
        "企业开办",
        "工程建设项目审批",
        "户政",
        "人才服务",
        "公证法律服务",
        "水电气报装",
        "残疾人服务",
        "商事登记",
    ),
    "county": ("不动产登记", "社保医保", "税务", "户政", "企业开办", "住房公积金", "交警车驾管", "民政"),
    "town": ("社保医保", "户政", "残疾人服务", "民政", "退役军人服务"),
}

CAMERA_AREAS = (
    "入口",
    "取号区",
    "等候区",
    "综合受理区",
    "专项窗口区",
    "出件区",
    "咨询导办台",
    "自助服务区",
    "大厅全景",
    "24小时自助区",
    "二楼等候区",
    "停车场出入口",
)

# Syllables that Guangdong place names are commonly built from (岗, 滘, 涌, 埔...).
_HEADS = "东西南北新石沙龙凤黄白大长金青高平安太水云梅横塘江竹松桂华兴宝福永广清康乐富鹤马狮鹿莲荷桃赤紫碧红古官上下"
_TAILS = "岗田洲坑头塘湾滘涌沙冲围埔坪岭溪江湖山门口桥圩城丰安平和兴隆源岸陂墩埗寮洞坝"


def generate(halls: int = 2100, seed: int = 2260) -> Registry:
    """Build a registry with exactly `halls` halls; the same arguments give the same registry."""
    rng = random.Random(seed)
    cities = gb2260.cities()
    counties = gb2260.counties()
    seeds = {s.code: s for s in gb2260.CITY_SEEDS}

    town_counts = _town_halls_per_county(rng, halls, counties, seeds)
    hall_rows: list[Hall] = []
    city_by_code = {c.code: c for c in cities}
    for county, town_count in zip(counties, town_counts, strict=True):
        city = city_by_code[county.city_code]
        hall_rows.extend(_halls_of_county(rng, city, county, seeds[city.code].hall_county, town_count))

    windows: list[Window] = []
    cameras: list[Camera] = []
    for index, hall in enumerate(hall_rows):
        windows.extend(_windows(rng, hall))
        cameras.extend(_cameras(rng, hall, index))

    return Registry(
        cities=cities,
        counties=counties,
        halls=hall_rows,
        windows=windows,
        cameras=cameras,
        nodes=[VideoNode(node_id=node_id_of(c.code), city_code=c.code, name=f"{c.name}视频汇聚节点") for c in cities],
        sources=[
            Source(source_id=f"node-{c.code}", city_code=c.code, name=f"{c.name}政务服务数据节点") for c in cities
        ],
        departments=dept_seed.departments(cities),
        items=dept_seed.service_items(),
    )


def node_id_of(city_code: int) -> str:
    return f"VN{city_code}"


def _is_pseudo(county: County) -> bool:
    return county.code == county.city_code


def _fixed_halls(county: County, hall_county: int) -> int:
    """City and county halls a county hosts before any town hall."""
    return (county.code == hall_county) + (not _is_pseudo(county))


def _town_halls_per_county(
    rng: random.Random, halls: int, counties: Sequence[County], seeds: dict[int, gb2260.CitySeed]
) -> list[int]:
    fixed = [_fixed_halls(c, seeds[c.city_code].hall_county) for c in counties]
    caps = [MAX_HALLS_PER_COUNTY - f for f in fixed]
    towns = halls - sum(fixed)
    if towns < 0:
        raise ValueError(f"halls must be at least {sum(fixed)} (one per city and per county), got {halls}")
    if towns > sum(caps):
        raise ValueError(f"halls must be at most {sum(fixed) + sum(caps)}, got {halls}")
    per_city = {code: sum(1 for c in counties if c.city_code == code) for code in seeds}
    # A city's population is split over its counties with some jitter, so
    # districts differ in size without needing per-district census figures.
    weights = [seeds[c.city_code].population_10k / per_city[c.city_code] * rng.uniform(0.75, 1.25) for c in counties]
    return _apportion(towns, weights, caps)


def _apportion(total: int, weights: Sequence[float], caps: Sequence[int]) -> list[int]:
    """Split `total` proportionally to `weights` (largest remainder), never above `caps`."""
    alloc = [0] * len(weights)
    active = [i for i, cap in enumerate(caps) if cap > 0]
    remaining = total
    while remaining > 0 and active:
        weight_sum = sum(weights[i] for i in active)
        shares = {i: remaining * weights[i] / weight_sum for i in active}
        full = [i for i in active if alloc[i] + shares[i] >= caps[i]]
        if full:
            # Capped counties (Dongguan at large sizes) hand their excess to the rest.
            for i in full:
                remaining -= caps[i] - alloc[i]
                alloc[i] = caps[i]
            active = [i for i in active if i not in full]
            continue
        floors = {i: int(shares[i]) for i in active}
        for i in active:
            alloc[i] += floors[i]
        remaining -= sum(floors.values())
        by_remainder = sorted(active, key=lambda i: (floors[i] - shares[i], i))
        for i in by_remainder[:remaining]:
            alloc[i] += 1
        remaining = 0
    return alloc


def _pick_opening(rng: random.Random, level: str) -> str:
    options = OPENING_HOURS[level]
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _display_name(city: City, county: County) -> str:
    """How a county is named in front of its towns: '天河区', '东莞市', '汕尾市城区'."""
    if _is_pseudo(county):
        return city.name
    return county.name if len(county.name) > 2 else city.name + county.name


def _halls_of_county(rng: random.Random, city: City, county: County, hall_county: int, town_count: int) -> list[Hall]:
    halls: list[Hall] = []

    def add(name: str, level: str) -> None:
        hall_id = f"H{county.code}{len(halls) + 1:03d}"
        halls.append(
            Hall(
                hall_id=hall_id,
                name=name,
                level=level,
                city_code=city.code,
                county_code=county.code,
                opening=_pick_opening(rng, level),
            )
        )

    if county.code == hall_county:
        add(f"{city.name}政务服务中心", "city")
    if not _is_pseudo(county):
        prefix = city.name if county.name.endswith("区") else ""
        add(f"{prefix}{county.name}政务服务中心", "county")
    display = _display_name(city, county)
    for town, village in _town_places(rng, city, county, town_count):
        if village is None:
            add(f"{display}{town}便民服务中心", "town")
        else:
            add(f"{display}{town}{village}便民服务站", "town")
    return halls


def _stem(rng: random.Random) -> str:
    head = rng.choice(_HEADS)
    tail = rng.choice(_TAILS)
    return head + tail if head != tail else head + "华"


def _town_places(rng: random.Random, city: City, county: County, count: int) -> list[tuple[str, str | None]]:
    """(town, village) pairs: towns first, then village stations once towns run out.

    A county has a realistic number of towns; larger registries are filled with
    village/community service stations (村居便民服务站) under those towns.
    """
    if count == 0:
        return []
    towns = list(gb2260.REAL_TOWNS.get(county.code, ()))
    if not towns:
        is_district = county.name.endswith("区")
        street = "街" if city.code == 440100 else "街道"
        wanted = rng.randint(8, 22) if is_district else rng.randint(10, 24)
        street_share = 0.7 if is_district else 0.15
        seen: set[str] = set()
        while len(towns) < wanted:
            stem = _stem(rng)
            if stem in seen or stem in county.name:
                continue
            seen.add(stem)
            towns.append(stem + (street if rng.random() < street_share else "镇"))
    towns = towns[:count]
    places: list[tuple[str, str | None]] = [(t, None) for t in towns]
    villages: dict[str, set[str]] = {t: set() for t in towns}
    while len(places) < count:
        town = rng.choice(towns)
        in_street = not town.endswith("镇")
        village = _stem(rng) + ("社区" if in_street or rng.random() < 0.2 else "村")
        if village in villages[town]:
            continue
        villages[town].add(village)
        places.append((town, village))
    return places


def _windows(rng: random.Random, hall: Hall) -> list[Window]:
    level = hall.level
    count = rng.randint(*WINDOWS_PER_HALL[level])
    if level == "city":
        consult, pickup, special = rng.randint(2, 3), rng.randint(2, 4), round(count * rng.uniform(0.3, 0.45))
    elif level == "county":
        consult, pickup, special = rng.randint(1, 2), rng.randint(1, 2), round(count * rng.uniform(0.2, 0.35))
    else:
        consult, pickup, special = 1, int(count >= 4), int(count >= 5)
    general = count - consult - pickup - special
    pool = rng.sample(SPECIALTIES[level], len(SPECIALTIES[level]))
    # Several windows of one specialty sit side by side, as in real halls.
    special_labels = sorted((pool[i % len(pool)] for i in range(special)), key=pool.index)
    layout = (
        [("咨询", "咨询导办")] * consult
        + [("综合受理", "综合受理")] * general
        + [("专项", label) for label in special_labels]
        + [("出件", "出件")] * pickup
    )
    return [
        Window(window_id=f"{hall.hall_id}-W{n:02d}", hall_id=hall.hall_id, name=f"{n:02d}号窗口（{label}）", kind=kind)
        for n, (kind, label) in enumerate(layout, start=1)
    ]


def _cameras(rng: random.Random, hall: Hall, hall_index: int) -> list[Camera]:
    count = rng.randint(*CAMERAS_PER_HALL[hall.level])
    areas = sorted(rng.sample(range(len(CAMERA_AREAS)), count))
    # One NVR per hall in 10.44.0.0/16: placeholder addresses, never contacted.
    nvr = f"10.44.{hall_index // 250}.{hall_index % 250 + 1}"
    return [
        Camera(
            camera_id=f"C{hall.hall_id[1:]}-{n:02d}",
            hall_id=hall.hall_id,
            node_id=node_id_of(hall.city_code),
            name=CAMERA_AREAS[area],
            stream_url=f"rtsp://{nvr}:554/Streaming/Channels/{n}01",
        )
        for n, area in enumerate(areas, start=1)
    ]
