"""The org registry: generated data, lookups, streamed updates and CSV import/export."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.registry import (
    Camera,
    City,
    County,
    Department,
    Hall,
    InvalidRow,
    Registry,
    RegistryImportError,
    ServiceItem,
    Source,
    VideoNode,
    Window,
    read_csv_dir,
    write_csv_dir,
)
from streams.registry.generate import generate
from streams.registry.rows import key_of

GUANGDONG_CITY_CODES = {
    440100,
    440200,
    440300,
    440400,
    440500,
    440600,
    440700,
    440800,
    440900,
    441200,
    441300,
    441400,
    441500,
    441600,
    441700,
    441800,
    441900,
    442000,
    445100,
    445200,
    445300,
}
REPO_ROOT = Path(__file__).resolve().parents[2]

CsvEdit = Callable[[list[list[str]]], list[list[str]]]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return generate()


@pytest.fixture(scope="module")
def csv_dir(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("registry")
    write_csv_dir(registry, path)
    return path


def _copy_dir(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for file in src.iterdir():
        (dst / file.name).write_bytes(file.read_bytes())
    return dst


def _rewrite(file: Path, edit: CsvEdit) -> None:
    """Apply `edit` to the list of CSV rows of `file` (header included)."""
    with file.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows = edit(rows)
    with file.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_the_21_cities_have_their_gb2260_codes(registry: Registry) -> None:
    """The registry holds exactly Guangdong's 21 prefecture-level cities under their GB/T 2260 codes."""
    assert {c.code for c in registry.cities()} == GUANGDONG_CITY_CODES
    assert registry.city(440100).name_en == "Guangzhou"
    assert registry.city(440300).name == "深圳市"
    assert registry.city(445300).name_en == "Yunfu"


def test_counties_are_real_and_dongguan_zhongshan_have_a_pseudo_county(registry: Registry) -> None:
    """Counties carry real codes inside their city, and the two cities without counties get one pseudo-county each."""
    counties = list(registry.counties())
    assert 115 <= len(counties) <= 130
    assert registry.county(440106).name == "天河区"
    assert registry.county(440106).city_code == 440100
    assert registry.county(441502).name == "城区"
    for county in counties:
        assert county.code // 100 * 100 == county.city_code
    assert registry.county(441900).name == "东莞市(市辖)"
    assert registry.county(442000).name == "中山市(市辖)"
    assert [c for c in counties if c.city_code == 441900] == [registry.county(441900)]


def test_every_hall_sits_in_a_county_of_its_own_city(registry: Registry) -> None:
    """Each hall's county exists and belongs to the hall's city."""
    for hall in registry.halls():
        county = registry.county(hall.county_code)
        assert county is not None, hall
        assert county.city_code == hall.city_code, hall


def test_default_size_has_2100_halls_with_one_city_hall_per_city(registry: Registry) -> None:
    """The default registry has at least 2,000 halls: one city hall per city, one county hall per real county."""
    halls = list(registry.halls())
    assert len(halls) == 2100
    city_halls = [h for h in halls if h.level == "city"]
    assert sorted(h.city_code for h in city_halls) == sorted(GUANGDONG_CITY_CODES)
    county_halls = {h.county_code for h in halls if h.level == "county"}
    real_counties = {c.code for c in registry.counties() if c.code != c.city_code}
    assert county_halls == real_counties
    assert len({h.name for h in halls}) == len(halls)
    assert registry.hall("H440106001").name == "广州市政务服务中心"


def test_halls_follow_population(registry: Registry) -> None:
    """Guangzhou, Shenzhen, Dongguan and Foshan have the most halls."""
    by_city = {code: len(registry.halls_in_city(code)) for code in GUANGDONG_CITY_CODES}
    largest = sorted(by_city, key=by_city.get, reverse=True)[:4]
    assert set(largest) == {440100, 440300, 441900, 440600}
    assert sum(by_city.values()) == 2100


def test_ids_and_sizes_follow_the_formats(registry: Registry) -> None:
    """Hall, window and camera ids follow their formats and per-level counts stay in range."""
    windows_per_hall: dict[str, int] = {}
    for window in registry.windows():
        assert window.window_id.startswith(window.hall_id + "-W")
        windows_per_hall[window.hall_id] = windows_per_hall.get(window.hall_id, 0) + 1
    cameras_per_hall: dict[str, int] = {}
    for camera in registry.cameras():
        assert camera.camera_id.startswith("C" + camera.hall_id[1:] + "-")
        assert camera.stream_url.startswith("rtsp://10.44.")
        cameras_per_hall[camera.hall_id] = cameras_per_hall.get(camera.hall_id, 0) + 1
    window_range = {"city": (30, 80), "county": (10, 30), "town": (3, 8)}
    camera_range = {"city": (8, 12), "county": (4, 8), "town": (2, 4)}
    for hall in registry.halls():
        assert len(hall.hall_id) == 10 and hall.hall_id[1:7] == str(hall.county_code)
        lo, hi = window_range[hall.level]
        assert lo <= windows_per_hall[hall.hall_id] <= hi, hall
        lo, hi = camera_range[hall.level]
        assert lo <= cameras_per_hall[hall.hall_id] <= hi, hall


def test_each_camera_goes_through_its_hall_city_node(registry: Registry) -> None:
    """A camera's video node is the node of its hall's city, and the node index agrees."""
    cameras = list(registry.cameras())
    for camera in cameras:
        hall = registry.hall(camera.hall_id)
        assert camera.node_id == f"VN{hall.city_code}"
        assert registry.node(camera.node_id).city_code == hall.city_code
    assert sum(len(registry.cameras_of_node(n.node_id)) for n in registry.nodes()) == len(cameras)


def test_sources_resolve_to_their_city(registry: Registry) -> None:
    """Both data nodes and video nodes are senders scoped to their city; anything else is unknown."""
    assert registry.city_of_source("node-440300") == 440300
    assert registry.city_of_source("VN445100") == 445100
    assert registry.city_of_source("node-999999") is None
    assert registry.source("node-440100").name == "广州市政务服务数据节点"


def test_departments_have_city_counterparts_and_items(registry: Registry) -> None:
    """About 54 provincial departments exist, city counterparts point to them, and items belong to departments."""
    depts = list(registry.departments())
    provincial = [d for d in depts if d.level == "province"]
    assert 50 <= len(provincial) <= 60
    assert all(d.city_code is None and d.parent_id is None for d in provincial)
    gz_police = registry.department("D440100-01")
    assert gz_police.name == "广州市公安局"
    assert gz_police.parent_id == "D440000-01" and gz_police.city_code == 440100
    for dept in depts:
        if dept.parent_id is not None:
            assert registry.department(dept.parent_id).level == "province"
    for item in registry.items():
        assert registry.department(item.dept_id) is not None
    names = {i.name for i in registry.items()}
    assert {"居民身份证换领", "社会保障卡申领", "不动产登记", "企业开办"} <= names


def test_generation_is_deterministic_per_seed(registry: Registry) -> None:
    """The same seed gives an identical registry and another seed a different one."""
    assert generate() == registry
    assert list(generate().to_rows()) == list(registry.to_rows())
    other = generate(seed=7)
    assert other != registry
    assert other.counts()["hall"] == 2100


def _digest_in_subprocess(hash_seed: str) -> str:
    code = (
        "import hashlib, json; from streams.registry.generate import generate; "
        "print(hashlib.sha256(json.dumps(list(generate(400).to_rows()), ensure_ascii=False).encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_generation_does_not_depend_on_the_process_hash_seed() -> None:
    """Two processes with different string-hash seeds generate byte-identical registries."""
    expected = hashlib.sha256(json.dumps(list(generate(400).to_rows()), ensure_ascii=False).encode()).hexdigest()
    assert _digest_in_subprocess("1") == expected
    assert _digest_in_subprocess("2") == expected


def test_generate_scales_to_24000_halls() -> None:
    """generate(24000) yields exactly 24,000 uniquely named halls, none above 999 per county."""
    big = generate(24000)
    halls = list(big.halls())
    assert len(halls) == 24000
    assert len({h.name for h in halls}) == 24000
    per_county: dict[int, int] = {}
    for hall in halls:
        per_county[hall.county_code] = per_county.get(hall.county_code, 0) + 1
    assert max(per_county.values()) <= 999


def test_too_few_halls_is_refused() -> None:
    """Asking for fewer halls than there are cities and counties is an error, not a silent cut."""
    with pytest.raises(ValueError, match="at least"):
        generate(100)


def test_rows_are_plain_json(registry: Registry) -> None:
    """Every published row is JSON-serialisable and keyed like the topic expects."""
    rows = list(registry.to_rows())
    assert len(rows) == sum(registry.counts().values())
    json.dumps(rows, ensure_ascii=False)
    assert ("city", "440100", {"code": 440100, "name": "广州市", "name_en": "Guangzhou"}) in rows
    kinds = [kind for kind, _, _ in rows]
    assert kinds.index("hall") < kinds.index("window") and kinds.index("city") < kinds.index("hall")


def test_each_kind_has_an_accessor_listing_only_that_kind(registry: Registry) -> None:
    """Each kind's accessor yields every entity of that kind and no other, in the order the topic publishes them."""
    listed = {
        "city": (City, list(registry.cities())),
        "county": (County, list(registry.counties())),
        "node": (VideoNode, list(registry.nodes())),
        "source": (Source, list(registry.sources())),
        "department": (Department, list(registry.departments())),
        "item": (ServiceItem, list(registry.items())),
        "hall": (Hall, list(registry.halls())),
        "window": (Window, list(registry.windows())),
        "camera": (Camera, list(registry.cameras())),
    }
    published: dict[str, list[str]] = {kind: [] for kind in listed}
    for kind, key, _ in registry.to_rows():
        published[kind].append(key)
    for kind, (cls, entities) in listed.items():
        assert entities and {type(e) for e in entities} == {cls}, kind
        assert len(entities) == registry.counts()[kind], kind
        assert [str(key_of(e)) for e in entities] == published[kind], kind


def test_csv_round_trip_keeps_everything(registry: Registry, csv_dir: Path) -> None:
    """Writing then reading the CSV directory gives the same counts, the same lookups and an equal registry."""
    assert sorted(p.name for p in csv_dir.iterdir()) == sorted(
        [
            "cities.csv",
            "counties.csv",
            "halls.csv",
            "windows.csv",
            "cameras.csv",
            "video_nodes.csv",
            "sources.csv",
            "departments.csv",
            "service_items.csv",
        ]
    )
    back = read_csv_dir(csv_dir)
    assert back.counts() == registry.counts()
    assert back.hall("H440106001") == registry.hall("H440106001")
    assert back.department("D440000-01").city_code is None
    assert back.county(441900) == registry.county(441900)
    assert back.city_of_source("VN440300") == 440300
    assert back.halls_in_city(441900) == registry.halls_in_city(441900)
    assert back == registry


def _set_cell(line: int, column: int, value: str) -> CsvEdit:
    def edit(rows: list[list[str]]) -> list[list[str]]:
        rows[line - 1][column] = value
        return rows

    return edit


def _replace_line(line: int, cells: list[str]) -> CsvEdit:
    return lambda rows: [*rows[: line - 1], cells, *rows[line:]]


def _drop_last_column(rows: list[list[str]]) -> list[list[str]]:
    return [row[:-1] for row in rows]


@pytest.mark.parametrize(
    ("file", "edit", "line", "problem"),
    [
        ("halls.csv", _drop_last_column, 1, "missing column(s) wait_target_s"),
        ("halls.csv", _set_cell(4, 3, "999900"), 4, "unknown city code 999900"),
        (
            "windows.csv",
            _replace_line(3, ["H999999001-W01", "H999999001", "x", "咨询"]),
            3,
            "unknown hall 'H999999001'",
        ),
        ("cities.csv", lambda rows: [*rows, rows[2]], 23, "duplicate code 440200 (first on line 3)"),
        ("halls.csv", _set_cell(3, 2, "village"), 3, "level 'village'"),
        ("cameras.csv", _set_cell(6, 2, "VN440300"), 6, "serves another city"),
    ],
    ids=["missing-column", "unknown-city", "window-without-hall", "duplicate-id", "bad-level", "foreign-node"],
)
def test_import_errors_name_file_line_and_problem(
    csv_dir: Path, tmp_path: Path, file: str, edit: CsvEdit, line: int, problem: str
) -> None:
    """A broken CSV raises RegistryImportError whose message names the file, the line and the problem."""
    broken = _copy_dir(csv_dir, tmp_path / "broken")
    _rewrite(broken / file, edit)
    with pytest.raises(RegistryImportError) as caught:
        read_csv_dir(broken)
    message = str(caught.value)
    assert file in message
    assert f"line {line}:" in message
    assert problem in message
    assert caught.value.line == line


def test_missing_file_is_named(csv_dir: Path, tmp_path: Path) -> None:
    """A directory without one of the nine files is refused, naming that file."""
    broken = _copy_dir(csv_dir, tmp_path / "broken")
    (broken / "video_nodes.csv").unlink()
    with pytest.raises(RegistryImportError, match=r"video_nodes\.csv: file is missing"):
        read_csv_dir(broken)


def test_upsert_and_delete_change_lookups() -> None:
    """Streamed upserts and deletes are visible in lookups and in the city and node indexes."""
    reg = generate(300, seed=1)
    hall = reg.halls_in_city(440200)[-1]
    moved = {
        "hall_id": hall.hall_id,
        "name": "测试便民服务中心",
        "level": "town",
        "city_code": "440300",
        "county_code": "440304",
        "opening": "09:00-17:00",
        "wait_target_s": "",
    }
    reg.upsert("hall", moved)
    assert reg.hall(hall.hall_id).name == "测试便民服务中心"
    assert reg.hall(hall.hall_id).wait_target_s == 1800
    assert hall.hall_id not in {h.hall_id for h in reg.halls_in_city(440200)}
    assert hall.hall_id in {h.hall_id for h in reg.halls_in_city(440300)}

    camera = reg.cameras_of_node("VN440200")[0]
    reg.apply(f"camera:{camera.camera_id}", None)
    assert reg.camera(camera.camera_id) is None
    assert camera not in reg.cameras_of_node("VN440200")

    before = reg.counts()["city"]
    assert reg.delete("city", "445300") is True
    assert reg.city(445300) is None and reg.counts()["city"] == before - 1
    assert reg.delete("city", "445300") is False
    reg.apply("city:445300", {"code": 445300, "name": "云浮市", "name_en": "Yunfu"})
    assert reg.city(445300).name == "云浮市"


def test_bad_streamed_rows_are_refused_without_changing_anything() -> None:
    """An upsert with a bad row raises InvalidRow and leaves the registry as it was."""
    reg = generate(300, seed=1)
    snapshot = list(reg.to_rows())
    with pytest.raises(InvalidRow, match="unknown kind"):
        reg.upsert("building", {})
    with pytest.raises(InvalidRow, match="city_code"):
        reg.upsert("source", {"source_id": "node-x", "city_code": "广州", "name": "x"})
    with pytest.raises(InvalidRow, match="unknown field"):
        reg.upsert("city", {"code": 1, "name": "x", "name_en": "x", "extra": 1})
    with pytest.raises(InvalidRow, match="window_id"):
        reg.upsert("window", {"window_id": "H440103001-W1", "hall_id": "H440103001", "name": "x", "kind": "咨询"})
    with pytest.raises(InvalidRow, match="does not match"):
        reg.apply("city:440100", {"code": 440200, "name": "x", "name_en": "x"})
    assert list(reg.to_rows()) == snapshot
