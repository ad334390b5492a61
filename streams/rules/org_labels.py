"""Org labels on alerts, and the inhibitions they make possible along the hierarchy.

An alert grouped by camera also carries its node, hall and city; one grouped
by hall its county and city. That is what lets an offline video node silence
its cameras' alerts, and a city whose data node went silent its halls'.
"""

from __future__ import annotations

from dataclasses import replace

from streams.alerts.model import InhibitRule, Observation
from streams.registry import Registry

#: A silent city data node explains its halls' queue and window alerts; an offline video node its cameras'.
INHIBITIONS = (
    InhibitRule(source_match={"rule": "node_offline"}, target_match={"domain": "video"}, equal=("node",)),
    InhibitRule(source_match={"rule": "source_silent"}, target_match={"domain": "queue"}, equal=("city",)),
    InhibitRule(source_match={"rule": "source_silent"}, target_match={"domain": "windows"}, equal=("city",)),
)


def org_labels(group: dict[str, str], registry: Registry) -> dict[str, str]:
    labels: dict[str, str] = {}
    camera = registry.camera(group.get("camera", ""))
    if camera is not None:
        labels["node"] = camera.node_id
        labels["hall"] = camera.hall_id
    hall = registry.hall(group.get("hall") or labels.get("hall", ""))
    if hall is not None:
        labels["county"] = str(hall.county_code)
        labels["city"] = str(hall.city_code)
    node = registry.node(group.get("node") or labels.get("node", ""))
    if node is not None:
        labels.setdefault("city", str(node.city_code))
    source_city = registry.city_of_source(group.get("source", ""))
    if source_city is not None:
        labels.setdefault("city", str(source_city))
    return {k: v for k, v in labels.items() if k not in group}


def with_org_labels(obs: Observation, registry: Registry) -> Observation:
    extra = org_labels(dict(obs.group), registry)
    return replace(obs, labels={**extra, **obs.labels}) if extra else obs
