"""Video quality diagnosis: a few sampled frames in, a status and fault scores out.

Each fault gets a score 0..1 from a ramp on one measure (see config.py), per
frame, gated so that one fault does not masquerade as another: a black
picture is also unchanging, blurless and flat, so those faults only count
on frames that have content. A fault's probe score is the score that at
least `min_frames` frames reach; the status is the fault with the highest
score among those at or above their threshold, else `ok`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from video_gateway.config import ProbeConfig, Ramp
from video_gateway.measures import Frame, FrameMeasures, PreparedFrame, frame_change, measure, prepare

#: Faults read from the picture, in the order that breaks a tie between equal
#: scores: the more basic failure first (no picture before a poor one).
PICTURE_FAULTS = ("black", "frozen", "occluded", "blur", "noise", "color_cast", "brightness")


def ramp(value: float, r: Ramp) -> float:
    """0 before `start`, 1 past `full`, linear in between (either direction)."""
    position = (value - r.start) / (r.full - r.start)
    return min(1.0, max(0.0, position))


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The verdict on one probe's frames, with the measures that led to it."""

    status: str
    scores: dict[str, float]
    measures: tuple[FrameMeasures, ...]
    changes: tuple[float, ...]

    @property
    def fault(self) -> bool:
        return self.status != "ok"


def frame_scores(m: FrameMeasures, config: ProbeConfig) -> dict[str, float]:
    """Per-frame fault scores (all but `frozen`, which needs two frames)."""
    black = min(ramp(m.luma_mean, config.black_luma), ramp(m.luma_std, config.black_spread))
    content = 1.0 - black
    too_bright = ramp(m.luma_mean, config.too_bright)
    brightness = max(ramp(m.luma_mean, config.too_dark) * content, too_bright)
    half_shift = config.color_cast_min_shift / 2
    shift_ok = min(1.0, max(0.0, (m.cast_shift - half_shift) / half_shift)) if half_shift > 0 else 1.0
    # Clipped highlights are flat too: an overexposed picture is a brightness fault.
    occluded = ramp(m.flat_share, config.occluded) * content * (1.0 - too_bright)
    # A washed-out or covered picture has lost its detail for another reason;
    # calling it blurred would send the technician to refocus the lens.
    blur = ramp(m.blur_index, config.blur) * content * (1.0 - too_bright) * (1.0 - occluded)
    return {
        "black": black,
        "occluded": occluded,
        "blur": blur,
        "noise": ramp(m.noise_sigma, config.noise) * content,
        "color_cast": ramp(m.cast_factor, config.color_cast) * shift_ok * content,
        "brightness": brightness,
    }


def _reached_by(scores: Sequence[float], min_count: int) -> float:
    """The highest score that at least `min_count` of `scores` reach (all of them if fewer)."""
    if not scores:
        return 0.0
    ranked = sorted(scores, reverse=True)
    return ranked[min(min_count, len(ranked)) - 1]


def diagnose(prepared: Sequence[PreparedFrame], config: ProbeConfig) -> Diagnosis:
    """Classify frames already reduced by `measures.prepare` (the probe prepares as it reads)."""
    if not prepared:
        raise ValueError("no frames to classify")
    measures = tuple(measure(p, config.occlusion_flat_std) for p in prepared)
    per_frame = [frame_scores(m, config) for m in measures]
    changes = tuple(frame_change(a, b) for a, b in itertools.pairwise(prepared))
    scores: dict[str, float] = {}
    for fault in PICTURE_FAULTS:
        if fault == "frozen":
            # A pair counts only if both frames have content: black stays black.
            pair_scores = [
                ramp(change, config.frozen) * (1.0 - max(per_frame[i]["black"], per_frame[i + 1]["black"]))
                for i, change in enumerate(changes)
            ]
            scores[fault] = _reached_by(pair_scores, config.faults.of(fault).min_frames)
        else:
            scores[fault] = _reached_by([s[fault] for s in per_frame], config.faults.of(fault).min_frames)
    status = "ok"
    best = 0.0
    for fault in PICTURE_FAULTS:
        score = scores[fault]
        if score >= config.faults.of(fault).threshold and score > best:
            status, best = fault, score
    return Diagnosis(status, {k: round(v, 3) for k, v in scores.items()}, measures, changes)


def classify(frames: Sequence[Frame], config: ProbeConfig | None = None) -> tuple[str, dict[str, float]]:
    """(status, scores) for BGR frames sampled from one stream, oldest first."""
    config = config or ProbeConfig()
    diagnosis = diagnose([prepare(f, config.analysis_width) for f in frames], config)
    return diagnosis.status, diagnosis.scores
