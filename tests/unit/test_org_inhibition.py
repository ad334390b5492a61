"""Inhibition along the org hierarchy with the labels the registry adds."""

from datetime import UTC, datetime, timedelta

from streams.alerts.lifecycle import AlertBook
from streams.alerts.model import Observation
from streams.registry.generate import generate
from streams.rules.org_labels import INHIBITIONS, with_org_labels

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def test_an_offline_node_inhibits_its_cameras_and_a_silent_city_node_its_halls() -> None:
    """Camera alerts under node VN440100 and hall queue alerts in 440100 are inhibited; another city's are not."""
    registry = generate(halls=150)
    camera = next(c for c in registry.cameras() if c.node_id == "VN440100")
    hall_gz = registry.halls_in_city(440100)[0]
    hall_sz = registry.halls_in_city(440300)[0]
    book = AlertBook()
    book.set_inhibitions(INHIBITIONS)
    for rule, domain in (
        ("node_offline", "video"),
        ("camera_black_or_frozen", "video"),
        ("source_silent", "data_quality"),
        ("long_queue", "queue"),
    ):
        book.register_rule(rule, severity="warning", labels={"domain": domain})

    def fire(rule: str, group: dict, at: datetime) -> list:
        return book.observe(with_org_labels(Observation(rule, group, at, True, False, 1.0), registry))

    fire("node_offline", {"city": "440100", "node": "VN440100"}, T0)
    fire("source_silent", {"city": "440100", "source": "node-440100"}, T0)
    cam = fire("camera_black_or_frozen", {"camera": camera.camera_id}, T0 + timedelta(minutes=1))
    gz = fire("long_queue", {"hall": hall_gz.hall_id}, T0 + timedelta(minutes=1))
    sz = fire("long_queue", {"hall": hall_sz.hall_id}, T0 + timedelta(minutes=1))
    assert cam[0].inhibited_by and gz[0].inhibited_by
    assert sz[0].inhibited_by is None
