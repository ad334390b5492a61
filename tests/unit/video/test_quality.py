"""Each picture fault is recognised on clips of its own, and normal hall scenes raise none."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.unit.video import scenes
from tests.unit.video.scenes import CLIP_FRAMES, HallLook
from video_gateway.config import FaultRule, FaultRules, ProbeConfig
from video_gateway.probe import CameraTarget, probe_camera
from video_gateway.quality import classify

CONFIG = ProbeConfig()

NORMAL: dict[str, Callable[[], Iterator[np.ndarray]]] = {
    "busy_hall": lambda: scenes.hall_frames(HallLook(seed=21, people=9, noise=2.5), CLIP_FRAMES),
    "evening_hall_high_gain": lambda: scenes.hall_frames(
        HallLook(seed=22, light=0.5, noise=7.0, people=3, walk_speed=25.0), CLIP_FRAMES
    ),
    "empty_hall_no_motion": lambda: scenes.hall_frames(
        HallLook(seed=23, people=0, walk_speed=0.0, noise=1.5), CLIP_FRAMES
    ),
    "sunlit_hall_plain_floor": lambda: scenes.hall_frames(
        HallLook(seed=24, light=1.15, noise=3.0, floor_texture=0.0, wall_colour=(215, 220, 225)), CLIP_FRAMES
    ),
    "warm_walls_hall": lambda: scenes.hall_frames(
        HallLook(seed=25, wall_colour=(150, 185, 215), people=5), CLIP_FRAMES
    ),
    "poster_wall_shapes": lambda: scenes.shapes_frames(26, CLIP_FRAMES, noise=3.0),
    "dim_poster_wall_noisy": lambda: scenes.shapes_frames(27, CLIP_FRAMES, noise=6.0, level=0.7),
}

FAULTS: dict[str, tuple[str, Callable[[], Iterator[np.ndarray]]]] = {
    "black": ("black", lambda: scenes.hall_frames(HallLook(seed=31), CLIP_FRAMES, scenes.black)),
    "frozen": ("frozen", lambda: scenes.frozen_frames(HallLook(seed=32), CLIP_FRAMES)),
    "blur": ("blur", lambda: scenes.hall_frames(HallLook(seed=33), CLIP_FRAMES, scenes.defocus)),
    "occluded": ("occluded", lambda: scenes.hall_frames(HallLook(seed=34), CLIP_FRAMES, scenes.occlusion)),
    "color_cast": ("color_cast", lambda: scenes.hall_frames(HallLook(seed=35), CLIP_FRAMES, scenes.colour_cast)),
    "noise": ("noise", lambda: scenes.hall_frames(HallLook(seed=36), CLIP_FRAMES, scenes.snow)),
    "too_dark": ("brightness", lambda: scenes.hall_frames(HallLook(seed=37), CLIP_FRAMES, scenes.underexposed)),
    "too_bright": ("brightness", lambda: scenes.hall_frames(HallLook(seed=38), CLIP_FRAMES, scenes.overexposed)),
}


def _probe_file(path: Path) -> tuple[str, dict[str, float]]:
    result = probe_camera(CameraTarget("C1", "VN440100", str(path)), CONFIG)
    assert (result.width, result.height) == (640, 360)
    return result.status, result.scores


@pytest.mark.parametrize("name", sorted(NORMAL))
def test_normal_scene_raises_no_fault(name: str, render: Callable[[str, object], Path]) -> None:
    """A working camera in a hall, lit and busy in various ways, is `ok` with every fault score under its threshold."""
    status, scores = _probe_file(render(f"normal_{name}", NORMAL[name]()))
    assert status == "ok", scores
    assert max(scores.values()) < 0.5, scores


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_clip_is_recognised(name: str, render: Callable[[str, object], Path]) -> None:
    """Each fault clip gets its own status, scored clearly above the threshold."""
    expected, frames = FAULTS[name]
    status, scores = _probe_file(render(f"fault_{name}", frames()))
    assert status == expected, scores
    assert scores[expected] >= 0.75, scores


def test_scores_cover_every_picture_fault_and_stay_in_range() -> None:
    """The probe reports one score per picture fault, each within 0..1, as the event model requires."""
    frames = list(scenes.hall_frames(HallLook(seed=41), 16))[::4]
    status, scores = classify(frames)
    assert set(scores) == {"black", "frozen", "occluded", "blur", "noise", "color_cast", "brightness"}
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    assert status == "ok"


def test_single_bad_frame_does_not_make_a_fault() -> None:
    """One black frame among good ones (a glitch) is not a black camera; two of four are."""
    good = list(scenes.hall_frames(HallLook(seed=42), 16))[::4]
    rng = np.random.default_rng(0)
    one_bad = [scenes.black(good[0], 0, rng), *good[1:]]
    assert classify(one_bad)[0] == "ok"
    two_bad = [scenes.black(good[0], 0, rng), scenes.black(good[1], 1, rng), *good[2:]]
    assert classify(two_bad)[0] == "black"


def test_thresholds_come_from_configuration() -> None:
    """Raising a fault's threshold beyond its score silences it: the verdict follows the settings."""
    # Every 4th frame, as the probe samples them: people move between samples.
    frames = [cv2.GaussianBlur(f, (0, 0), 4.0) for f in list(scenes.hall_frames(HallLook(seed=43), 16))[::4]]
    assert classify(frames)[0] == "blur"
    lenient = ProbeConfig(faults=FaultRules(blur=FaultRule(threshold=1.0)))
    status, scores = classify(frames, lenient)
    assert scores["blur"] < 1.0 and status == "ok"


def test_downscaled_analysis_treats_hd_like_sub_stream() -> None:
    """The same scene at 1280x720 and at 640x360 gets the same verdict: measures are taken at a fixed analysis size."""
    small = list(scenes.hall_frames(HallLook(seed=44), 16, scenes.defocus))[::4]
    large = [cv2.resize(f, (1280, 720), interpolation=cv2.INTER_LINEAR) for f in small]
    assert classify(small)[0] == classify(large)[0] == "blur"


def _sampled(look: HallLook, effect: scenes.Effect | None = None) -> list[np.ndarray]:
    """Four frames 160 ms apart, JPEG-compressed like a sub-stream."""
    frames = list(scenes.hall_frames(look, 16, effect))[::4]
    return [cv2.imdecode(cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1], cv2.IMREAD_COLOR) for f in frames]


def _gain(factor: float) -> scenes.Effect:
    return lambda f, _n, _rng: np.clip(f.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def _tint(b: float, g: float, r: float) -> scenes.Effect:
    return lambda f, _n, _rng: np.clip(f.astype(np.float32) * np.array([b, g, r], np.float32), 0, 255).astype(np.uint8)


def _grain(sigma: float) -> scenes.Effect:
    return lambda f, _n, rng: np.clip(f + rng.normal(0, sigma, f.shape[:2])[..., None], 0, 255).astype(np.uint8)


def _cover(share_x: float) -> scenes.Effect:
    def effect(f: np.ndarray, _n: int, _rng: np.random.Generator) -> np.ndarray:
        out = f.copy()
        out[:, : int(f.shape[1] * share_x)] = (60, 62, 66)
        return out

    return effect


def _soften(sigma: float) -> scenes.Effect:
    return lambda f, _n, _rng: cv2.GaussianBlur(f, (0, 0), sigma)


@pytest.mark.parametrize(
    ("fault", "tolerated", "faulty"),
    [
        ("blur", _soften(1.2), _soften(4.0)),
        ("noise", _grain(5.0), _grain(25.0)),
        ("brightness", _gain(0.5), _gain(0.2)),
        ("color_cast", _tint(0.85, 1.0, 1.12), _tint(0.5, 0.9, 1.3)),
        ("occluded", _cover(0.25), _cover(0.75)),
    ],
    ids=["blur", "noise", "brightness", "color_cast", "occluded"],
)
def test_mild_impairment_is_tolerated_and_strong_one_is_not(
    fault: str, tolerated: scenes.Effect, faulty: scenes.Effect
) -> None:
    """Slight softness, grain, dimness, tint or a small obstruction is what real halls show and stays `ok`;
    the same impairment made strong is that fault, with a clearly higher score."""
    look = HallLook(seed=51, noise=2.5)
    mild_status, mild_scores = classify(_sampled(look, tolerated))
    strong_status, strong_scores = classify(_sampled(look, faulty))
    assert mild_status == "ok", mild_scores
    assert strong_status == fault, strong_scores
    assert strong_scores[fault] - mild_scores[fault] >= 0.5
