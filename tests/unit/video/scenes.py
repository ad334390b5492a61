"""Camera pictures rendered with OpenCV for the video tests: service-hall scenes
and the faults a hall camera develops.

Nothing here is a recording; everything is drawn from a seed so a failing
test can be replayed. The hall scenes carry what makes thresholds meaningful:
sensor noise that grows as the light drops, textured floors, a glossy wall
of counters, plain ceilings and walls, people walking in and out of view, an
on-screen clock like an NVR's, and JPEG compression when written to a clip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

W, H = 640, 360
FPS = 25.0
#: Two seconds at 25 fps, as a short NVR export.
CLIP_FRAMES = 50

Frame = np.ndarray
Effect = Callable[[Frame, int, np.random.Generator], Frame]


@dataclass(frozen=True)
class HallLook:
    """How a hall view is lit and filmed."""

    seed: int = 1
    #: Overall light: 1.0 is a well-lit hall, 0.6 an evening with half the lamps on.
    light: float = 1.0
    #: Sensor noise sigma in grey levels (higher gain in low light means more).
    noise: float = 2.0
    #: People in view, each walking at its own pace.
    people: int = 6
    #: Texture of the floor: 0 plain polished stone, 1 strong tile pattern.
    floor_texture: float = 0.6
    wall_colour: tuple[int, int, int] = (198, 206, 212)
    #: Pixels per second people walk; 0 is an empty hall at night.
    walk_speed: float = 40.0
    clock: bool = True
    extra: dict[str, float] = field(default_factory=dict)


def _background(look: HallLook) -> Frame:
    rng = np.random.default_rng(look.seed)
    img = np.zeros((H, W, 3), np.uint8)
    # Ceiling: plain, with a row of lamps.
    img[:70] = np.clip(np.array(look.wall_colour) * 1.05, 0, 255).astype(np.uint8)
    for x in range(40, W, 110):
        cv2.rectangle(img, (x, 18), (x + 60, 26), (250, 250, 250), -1)
    img[:70] = cv2.GaussianBlur(img[:70], (0, 0), 1.0)
    # Back wall with service windows: numbered counters, glass, screens above.
    img[70:200] = look.wall_colour
    for n, x in enumerate(range(20, W - 60, 78)):
        cv2.rectangle(img, (x, 95), (x + 64, 185), (120, 90, 60), -1)  # wooden counter front
        cv2.rectangle(img, (x + 6, 100), (x + 58, 140), (170, 150, 120), -1)  # glass
        cv2.rectangle(img, (x + 10, 74), (x + 54, 90), (30, 30, 30), -1)  # queue screen
        cv2.putText(img, f"{n + 1:02d}", (x + 18, 87), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (60, 200, 255), 1)
        cv2.putText(img, "Service", (x + 8, 160), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (230, 230, 230), 1)
    # A banner and a plant break up the wall, as in most halls.
    cv2.rectangle(img, (250, 40), (400, 62), (40, 40, 170), -1)
    cv2.putText(img, "GOV SERVICE HALL", (258, 57), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (220, 240, 255), 1)
    cv2.circle(img, (610, 180), 22, (40, 120, 50), -1)
    # Floor: tiles with grout, in perspective, with a speckled stone texture.
    floor = np.full((H - 200, W, 3), (150, 150, 145), np.float32)
    speckle = rng.normal(0.0, 14.0 * look.floor_texture, (H - 200, W, 1)).astype(np.float32)
    floor += cv2.GaussianBlur(speckle, (0, 0), 1.2)[..., None]
    for i in range(1, 9):
        y = int(i * i * 2.2)
        cv2.line(floor, (0, y), (W, y), (110, 110, 105), 1)
    for x in range(-600, W + 600, 70):
        cv2.line(floor, (W // 2 + (x - W // 2) // 3, 0), (x, H - 200), (110, 110, 105), 1)
    img[200:] = np.clip(floor, 0, 255).astype(np.uint8)
    return img.astype(np.float32)


class _Grain:
    """Sensor noise for many frames from a small bank: a random window into a
    larger noise field, so no two frames repeat it, at a fraction of the cost
    of drawing fresh noise per frame."""

    MARGIN = 97

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.fields = [rng.standard_normal((H + self.MARGIN, W + self.MARGIN, 3), dtype=np.float32) for _ in range(2)]

    def next(self) -> np.ndarray:
        field_ = self.fields[int(self.rng.integers(len(self.fields)))]
        dy, dx = (int(v) for v in self.rng.integers(0, self.MARGIN, 2))
        return field_[dy : dy + H, dx : dx + W]


def _person(img: Frame, x: float, y: float, scale: float, colour: tuple[int, int, int]) -> None:
    cx, cy = int(x), int(y)
    h = int(90 * scale)
    cv2.ellipse(img, (cx, cy - h // 2), (int(14 * scale), h // 2), 0, 0, 360, colour, -1)
    cv2.circle(img, (cx, cy - h - int(9 * scale)), int(10 * scale), (120, 150, 190), -1)
    cv2.circle(img, (cx, cy - h - int(13 * scale)), int(10 * scale), (30, 30, 35), -1, lineType=cv2.LINE_AA)


def hall_frames(look: HallLook, count: int, effect: Effect | None = None) -> Iterator[Frame]:
    """`count` consecutive frames of one hall camera at 25 fps, BGR uint8."""
    background = _background(look)
    rng = np.random.default_rng(look.seed + 1000)
    walkers = [
        (
            rng.uniform(0, W),
            rng.uniform(230, H - 5),
            rng.choice([-1, 1]) * rng.uniform(0.6, 1.4),
            tuple(int(c) for c in rng.integers(20, 220, 3)),
        )
        for _ in range(look.people)
    ]
    grain = _Grain(rng)
    start = datetime(2024, 5, 20, 9, 30, 0)
    for n in range(count):
        t = n / FPS
        img = background.copy()
        for x0, y, pace, colour in sorted(walkers, key=lambda w: w[1]):
            x = (x0 + pace * look.walk_speed * t) % (W + 60) - 30
            _person(img, x, y, 0.55 + (y - 200) / 220, colour)
        lit = np.clip(img * look.light, 0, 255).astype(np.uint8)
        if look.clock:
            stamp = (start + timedelta(seconds=t)).strftime("%Y-%m-%d %H:%M:%S")
            cv2.putText(lit, stamp, (10, H - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        img = lit + grain.next() * look.noise
        frame = np.clip(img, 0, 255).astype(np.uint8)
        yield effect(frame, n, rng) if effect else frame


def shapes_frames(seed: int, count: int, noise: float = 3.0, level: float = 1.0) -> Iterator[Frame]:
    """Coloured shapes moving over a textured backdrop (a lobby poster wall)."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 255, (H // 4, W // 4, 3)).astype(np.uint8)
    backdrop = cv2.resize(texture, (W, H), interpolation=cv2.INTER_CUBIC).astype(np.float32) * 0.5 + 60
    stripes = (np.sin(np.arange(W) / 5.0) * 18).astype(np.float32)
    backdrop += stripes[None, :, None]
    shapes = [
        (
            rng.uniform(0, W),
            rng.uniform(0, H),
            rng.uniform(-90, 90),
            rng.uniform(-60, 60),
            int(rng.integers(15, 45)),
            tuple(int(c) for c in rng.integers(0, 255, 3)),
        )
        for _ in range(8)
    ]
    grain = _Grain(rng)
    for n in range(count):
        t = n / FPS
        img = backdrop.copy()
        for x0, y0, vx, vy, r, colour in shapes:
            x, y = int((x0 + vx * t) % W), int((y0 + vy * t) % H)
            cv2.circle(img, (x, y), r, colour, -1)
            cv2.rectangle(img, (x - r // 2, y - r // 2), (x + r // 2, y + r // 2), tuple(255 - c for c in colour), 2)
        img = img * level + grain.next() * noise
        yield np.clip(img, 0, 255).astype(np.uint8)


# -- faults, applied on top of a hall scene -------------------------------------------


def black(frame: Frame, _n: int, rng: np.random.Generator) -> Frame:
    """Lens cap or dead sensor: video black with a little read noise."""
    return np.clip(rng.normal(12.0, 1.5, frame.shape), 0, 255).astype(np.uint8)


def defocus(frame: Frame, _n: int, _rng: np.random.Generator) -> Frame:
    return cv2.GaussianBlur(frame, (0, 0), 4.0)


def occlusion(frame: Frame, _n: int, rng: np.random.Generator) -> Frame:
    """A board leaned against the lens from the left: out of focus, dimly lit, two thirds of the view."""
    mask = np.zeros(frame.shape[:2], np.float32)
    cv2.ellipse(mask, (60, 200), (400, 320), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 12.0)[..., None]
    shade = np.linspace(70, 55, frame.shape[1], dtype=np.float32)[None, :, None] * np.array([0.9, 1.0, 1.1], np.float32)
    board = shade + rng.normal(0.0, 1.0, frame.shape).astype(np.float32)
    return np.clip(frame * (1 - mask) + board * mask, 0, 255).astype(np.uint8)


def colour_cast(frame: Frame, _n: int, _rng: np.random.Generator) -> Frame:
    """A failed white balance: everything tinted orange."""
    gains = np.array([0.45, 0.85, 1.25], np.float32)  # B, G, R
    return np.clip(frame.astype(np.float32) * gains + np.array([0, 10, 25], np.float32), 0, 255).astype(np.uint8)


def snow(frame: Frame, _n: int, rng: np.random.Generator) -> Frame:
    """A failing analogue link: heavy grain plus white speckles."""
    noisy = frame.astype(np.float32) + rng.normal(0.0, 28.0, frame.shape[:2])[..., None]
    speckles = rng.random(frame.shape[:2]) < 0.03
    noisy[speckles] = 255
    return np.clip(noisy, 0, 255).astype(np.uint8)


def underexposed(frame: Frame, _n: int, _rng: np.random.Generator) -> Frame:
    """Lights off / iris closed: the scene is there but too dark to supervise."""
    return np.clip(frame.astype(np.float32) * 0.22, 0, 255).astype(np.uint8)


def overexposed(frame: Frame, _n: int, _rng: np.random.Generator) -> Frame:
    """Backlight from the entrance: the picture washes out."""
    return np.clip(frame.astype(np.float32) * 1.9 + 40, 0, 255).astype(np.uint8)


def write_clip(path: Path, frames: Iterator[Frame], fps: float = FPS) -> Path:
    """Write frames as an MJPG .avi, as an NVR export or a transcoded sub-stream would be."""
    # Quality 90: what NVRs use for MJPEG sub-streams; it keeps some sensor noise, as real streams do.
    # OpenCV's own MJPEG writer honours a quality setting (FFmpeg's ignores it).
    writer = cv2.VideoWriter(
        str(path),
        cv2.CAP_OPENCV_MJPEG,
        cv2.VideoWriter.fourcc(*"MJPG"),
        fps,
        (W, H),
        [cv2.VIDEOWRITER_PROP_QUALITY, 90],
    )
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    return path


def frozen_frames(look: HallLook, count: int) -> Iterator[Frame]:
    """The picture stops while the NVR keeps stamping its clock on it, as real frozen feeds do."""
    still = next(hall_frames(HallLook(**{**look.__dict__, "clock": False}), 1))
    start = datetime(2024, 5, 20, 9, 30, 0)
    for n in range(count):
        frame = still.copy()
        stamp = (start + timedelta(seconds=n / FPS)).strftime("%Y-%m-%d %H:%M:%S")
        cv2.putText(frame, stamp, (10, H - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        yield frame
