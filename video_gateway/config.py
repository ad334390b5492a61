"""Probe settings: how long to wait for a camera, how much of it to look at, and
where each picture fault starts.

Loaded from a YAML file and/or `GOVPULSE_VIDEO_*` variables (nested keys with
`__`, e.g. `GOVPULSE_VIDEO_BLUR__THRESHOLD=0.6`); the variables win over the
file. Every default is justified next to it; video_gateway/README.md gathers
the reasons.

A fault's score is a ramp on one picture measure: 0 at `start`, 1 at `full`
(either way round: `full` below `start` means "lower is worse"). The status
is raised when the score reaches the fault's `threshold` in at least
`min_frames` of the sampled frames (frame pairs for `frozen`), see `faults`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class Ramp(BaseModel):
    """Where a measure starts to count as a fault (`start`) and where it surely is one (`full`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: float
    full: float

    @model_validator(mode="after")
    def _not_flat(self) -> Ramp:
        if self.start == self.full:
            raise ValueError("start and full must differ")
        return self


class FaultRule(BaseModel):
    """When a fault's score becomes the camera's status."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: 0.5 puts the decision halfway along the fault's ramp(s).
    threshold: float = Field(default=0.5, gt=0.0, le=1.0)
    #: Sampled frames that must show the fault (frame pairs for `frozen`): one
    #: bad frame (a person passing close to the lens, an auto-exposure step)
    #: does not make a faulty camera.
    min_frames: int = Field(default=2, ge=1, le=60)


class FaultRules(BaseModel):
    """One rule per picture fault; an unknown fault name is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    black: FaultRule = FaultRule()
    frozen: FaultRule = FaultRule()
    occluded: FaultRule = FaultRule()
    blur: FaultRule = FaultRule()
    noise: FaultRule = FaultRule()
    color_cast: FaultRule = FaultRule()
    brightness: FaultRule = FaultRule()

    def of(self, fault: str) -> FaultRule:
        rule = getattr(self, fault, None)
        if not isinstance(rule, FaultRule):
            raise KeyError(fault)
        return rule


class ProbeConfig(BaseSettings):
    """Everything the gateway needs to know to probe cameras."""

    model_config = SettingsConfigDict(
        env_prefix="GOVPULSE_VIDEO_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    # -- stream access -------------------------------------------------------------
    #: Hall NVRs answer RTSP DESCRIBE in well under a second; 5 s leaves room for a
    #: loaded city node and FFmpeg's stream analysis (about 1 s of H.264 at 25 fps)
    #: while a dead camera costs one worker at most 5 s.
    open_timeout_s: float = Field(default=5.0, gt=0, le=120)
    #: A live camera delivers a frame every 40 ms (25 fps) or at worst every
    #: second (1 fps sub-streams); 3 s without one is no signal.
    read_timeout_s: float = Field(default=3.0, gt=0, le=120)
    #: Frames analysed per probe: enough for two frozen pairs and two frames per
    #: per-frame fault, few enough to keep decoding the main cost under ~30 ms.
    frames: int = Field(default=4, ge=2, le=60)
    #: Decode every Nth frame for analysis: at 25 fps four samples then span
    #: half a second, long enough for people to move between them.
    frame_stride: int = Field(default=4, ge=1, le=100)
    #: Analysis size: frames are downscaled to this width before any measure
    #: (1080p main streams cost the same as 640x360 sub-streams). 320 px still
    #: shows defocus that an operator sees on a 640x360 wall tile.
    analysis_width: int = Field(default=320, ge=64, le=1920)
    #: Probe worker processes, one probe in flight each (see runner.py for why
    #: not threads). Most of a probe is waiting on the camera (open, then frames
    #: at its pace), so several per core keep the CPU busy; each costs ~90 MB.
    concurrency: int = Field(default=16, ge=1, le=1024)
    #: Each camera is probed once per interval; 300 s matches the 5-minute
    #: indicator windows, so every window sees every camera at least once.
    interval_s: float = Field(default=300.0, gt=0, le=86_400)
    #: Node heartbeats are sent this often, from the latest probe of each camera.
    heartbeat_interval_s: float = Field(default=60.0, ge=1, le=3600)
    #: Hard guard over open + reads: past this a probe is reported `offline`
    #: and its worker process killed, whatever FFmpeg is doing. Slack of 2 s over the
    #: worst honest case (open, first read, then one read per frame sampled).
    deadline_slack_s: float = Field(default=2.0, ge=0, le=60)

    # -- picture faults ------------------------------------------------------------
    #: Mean luminance (0-255) of a black frame; 16 is video black, encoders add a few levels.
    black_luma: Ramp = Ramp(start=32.0, full=16.0)
    #: Luminance spread of a black frame: a dark hall at night still has lamps and
    #: edges (std > 10); a dead sensor or a lens cap does not.
    black_spread: Ramp = Ramp(start=10.0, full=4.0)
    #: Mean abs difference (0-255) between samples: live sensors add at least
    #: ~1 level of noise even in an empty hall, a frozen feed repeats itself bit
    #: for bit or up to compression flicker.
    frozen: Ramp = Ramp(start=0.8, full=0.2)
    #: Blur index 0 (sharp) .. 1 (no detail left) from re-blurring the analysis
    #: image: sharp hall scenes measure 0.15-0.25, soft ones (plain walls, big
    #: smooth posters) up to ~0.37; a lens defocused by 3 px at 640x360 reaches
    #: 0.5, by 4 px 0.58. Milder softness is left alone: it does not stop an
    #: operator from supervising the hall.
    blur: Ramp = Ramp(start=0.42, full=0.58)
    #: Share of the frame covered by one flat patch: walls and ceilings of a
    #: normal hall view rarely join into more than a third of it.
    occluded: Ramp = Ramp(start=0.40, full=0.65)
    #: A block counts as flat when its luminance spread (0-255) is below this.
    occlusion_flat_std: float = Field(default=4.0, gt=0)
    #: Colour cast factor: distance of the mean chroma from neutral over the
    #: chroma spread (Lab). Balanced scenes stay under 1; a failed white balance
    #: or a filter stuck in front of the sensor goes above 2.
    color_cast: Ramp = Ramp(start=1.2, full=2.0)
    #: A cast also needs a visible mean chroma shift (Lab units) so grey scenes
    #: with a tiny spread do not count.
    color_cast_min_shift: float = Field(default=8.0, ge=0)
    #: Noise sigma (0-255) on a native-resolution crop, after compression: a
    #: hall camera's sensor noise stays under ~4, snow from a failing analogue
    #: link or sensor is 10 and more.
    noise: Ramp = Ramp(start=6.0, full=12.0)
    #: Mean luminance of a picture too dark to supervise (still has content).
    too_dark: Ramp = Ramp(start=55.0, full=35.0)
    #: Mean luminance of a washed-out picture (backlight from the hall entrance, iris stuck open).
    too_bright: Ramp = Ramp(start=200.0, full=225.0)
    faults: FaultRules = FaultRules()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Values passed in (from the YAML file) are the base; variables override them.
        return env_settings, init_settings

    def deadline_s(self) -> float:
        """The longest an honest probe can take.

        Opening (connect included) is bounded by the open timeout, the first
        frame by one read timeout, and sampling stops once a further read
        timeout has passed, though a read begun just before then may still
        take a whole read timeout.
        """
        return self.open_timeout_s + 3 * self.read_timeout_s + self.deadline_slack_s


def load_config(path: str | Path | None = None) -> ProbeConfig:
    """Read the YAML file (if any) under the environment's overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of probe settings, got {type(loaded).__name__}")
        values = loaded
    return ProbeConfig(**values)
