"""Clips rendered once per session into a temporary directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.video import scenes


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def render(clip_dir: Path) -> Callable[[str, object], Path]:
    """Write frames to `<name>.avi` once; later calls with the same name reuse the file."""

    def make(name: str, frames: object) -> Path:
        path = clip_dir / f"{name}.avi"
        if not path.exists():
            scenes.write_clip(path, frames)  # type: ignore[arg-type]  # each test passes the frames its scene built
        return path

    return make
