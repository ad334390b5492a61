"""Picture measures of one decoded frame, and the change between two frames.

Pure numpy/OpenCV, no I/O. Each measure is computed at a size where it means
the same thing for a 640x360 sub-stream and a 1080p main stream:

- the *analysis* image: the whole frame downscaled to a fixed width (area
  averaging), for luminance, colour, blur and flat regions;
- the *detail* crop: the centre of the frame at its own resolution, at most
  twice the analysis size, for sensor noise and frame-to-frame change, which
  downscaling would average away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt
from cv2.typing import MatLike

Frame = npt.NDArray[np.uint8]

#: Immerkær's noise kernel: the difference of two Laplacians, blind to
#: brightness ramps and gentle shading, so what it sees is mostly noise.
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
#: Sum of squared kernel weights: a pixel noise of sigma gives a response of 6*sigma.
_NOISE_GAIN = 6.0
#: Median |x| of a normal variable is 0.6745 sigma; the median ignores edges and texture.
_MAD_TO_SIGMA = 1.0 / 0.6745
#: Side of the square blocks (analysis pixels) whose spread decides flatness.
OCCLUSION_BLOCK = 8
#: Length of the box filter the blur index re-blurs with (Crété-Roffet et al., 2007).
_REBLUR = 9


@dataclass(frozen=True, slots=True)
class FrameMeasures:
    """What one frame looks like, in numbers the fault ramps read."""

    luma_mean: float
    luma_std: float
    blur_index: float
    flat_share: float
    cast_factor: float
    cast_shift: float
    noise_sigma: float


@dataclass(frozen=True, slots=True)
class PreparedFrame:
    """A frame reduced once to what every measure needs."""

    analysis_bgr: Frame
    analysis_grey: Frame
    detail_grey: Frame
    width: int
    height: int


def _u8(image: MatLike) -> Frame:
    # OpenCV's stubs type every image as MatLike whatever its depth; a decoded
    # frame is 8-bit and resizing, blurring or converting it keeps it 8-bit.
    return cast(Frame, image)


def prepare(frame: MatLike, analysis_width: int) -> PreparedFrame:
    """Downscale once; every measure reads from the result."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected a BGR frame, got shape {frame.shape}")
    height, width = frame.shape[:2]
    scale = min(1.0, analysis_width / width)
    size = (max(1, round(width * scale)), max(OCCLUSION_BLOCK, round(height * scale)))
    small = frame if scale == 1.0 else cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    crop_w, crop_h = min(width, 2 * size[0]), min(height, 2 * size[1])
    x0, y0 = (width - crop_w) // 2, (height - crop_h) // 2
    detail = cv2.cvtColor(frame[y0 : y0 + crop_h, x0 : x0 + crop_w], cv2.COLOR_BGR2GRAY)
    return PreparedFrame(_u8(small), _u8(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)), _u8(detail), width, height)


def measure(frame: PreparedFrame, flat_std: float) -> FrameMeasures:
    grey = frame.analysis_grey
    mean, std = cv2.meanStdDev(grey)
    cast_factor, cast_shift = colour_cast(frame.analysis_bgr)
    return FrameMeasures(
        luma_mean=float(mean[0, 0]),
        luma_std=float(std[0, 0]),
        blur_index=blur_index(grey),
        flat_share=largest_flat_share(grey, flat_std),
        cast_factor=cast_factor,
        cast_shift=cast_shift,
        noise_sigma=noise_sigma(frame.detail_grey),
    )


def blur_index(grey: Frame) -> float:
    """0 for a sharp picture, towards 1 as detail is lost.

    Re-blurs the frame and asks how much of its pixel-to-pixel variation that
    removes: a sharp picture loses most of it, an already blurred one almost
    none. A ratio, so it does not depend on the scene's contrast. uint8
    OpenCV arithmetic throughout: cv2.subtract saturates at 0, which is the
    max(0, ...) of the method.
    """
    worst = 0.0
    for ksize, cut in (((1, _REBLUR), _rows), ((_REBLUR, 1), _cols)):
        reblurred = _u8(cv2.blur(grey, ksize))
        d_frame = cv2.absdiff(*cut(grey))
        d_reblurred = cv2.absdiff(*cut(reblurred))
        total = cv2.sumElems(d_frame)[0]
        if total <= 0.0:
            return 1.0
        lost = cv2.sumElems(cv2.subtract(d_frame, d_reblurred))[0]
        worst = max(worst, (total - lost) / total)
    return worst


def _rows(img: Frame) -> tuple[Frame, Frame]:
    return img[1:, :], img[:-1, :]


def _cols(img: Frame) -> tuple[Frame, Frame]:
    return img[:, 1:], img[:, :-1]


def largest_flat_share(grey: Frame, flat_std: float) -> float:
    """Share of the frame covered by the largest connected patch of flat blocks.

    Something close to the lens (a hand, a board, cloth, a door leaf) is far
    out of focus and evenly lit, so it shows as one flat patch; a hall's
    walls and ceiling are broken up by lamps, signs, doors and people.
    """
    rows, cols = grey.shape[0] // OCCLUSION_BLOCK, grey.shape[1] // OCCLUSION_BLOCK
    if rows == 0 or cols == 0:
        return 0.0
    g = grey[: rows * OCCLUSION_BLOCK, : cols * OCCLUSION_BLOCK].astype(np.float32)
    # Area resampling by a whole factor is exactly the block mean.
    mean = cv2.resize(g, (cols, rows), interpolation=cv2.INTER_AREA)
    mean_sq = cv2.resize(g * g, (cols, rows), interpolation=cv2.INTER_AREA)
    variance = mean_sq - mean * mean
    flat = (variance < flat_std * flat_std).astype(np.uint8)
    if not flat.any():
        return 0.0
    count, _, stats, _ = cv2.connectedComponentsWithStats(flat, connectivity=4)
    largest = int(stats[1:count, cv2.CC_STAT_AREA].max())
    return largest / float(rows * cols)


def colour_cast(bgr: Frame) -> tuple[float, float]:
    """(cast factor, mean chroma shift) in CIE Lab.

    The shift is how far the average colour sits from grey; the factor
    divides it by how spread the colours are around that average (RMS). A
    hall with many colours averages out near grey; a broken white balance
    tints everything the same way, so the shift is large and the spread
    small. Colour is a coarse property: a quarter of the analysis size is enough.
    """
    h, w = bgr.shape[:2]
    coarse = cv2.resize(bgr, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(coarse, cv2.COLOR_BGR2Lab)
    mean, std = cv2.meanStdDev(lab)
    # 8-bit Lab stores a and b offset by 128.
    shift = float(np.hypot(mean[1, 0] - 128.0, mean[2, 0] - 128.0))
    spread = float(np.hypot(std[1, 0], std[2, 0]))
    return shift / max(spread, 1.0), shift


def noise_sigma(detail_grey: Frame) -> float:
    """Estimated sigma (grey levels) of pixel noise, after Immerkær (1996), with a robust median.

    The median of |response| comes from a histogram of the saturated uint8
    response: exact, and far cheaper than sorting.
    """
    if detail_grey.shape[0] < 3 or detail_grey.shape[1] < 3:
        return 0.0
    response = cv2.filter2D(detail_grey, cv2.CV_16S, _NOISE_KERNEL, borderType=cv2.BORDER_REFLECT)
    magnitude = cv2.convertScaleAbs(response[1:-1, 1:-1])
    hist = cv2.calcHist([magnitude], [0], None, [256], [0, 256]).ravel()
    median = float(np.searchsorted(np.cumsum(hist), hist.sum() / 2.0))
    return median * _MAD_TO_SIGMA / _NOISE_GAIN


def frame_change(a: PreparedFrame, b: PreparedFrame) -> float:
    """Mean absolute difference (grey levels) between two frames' detail crops."""
    if a.detail_grey.shape != b.detail_grey.shape:
        # A resolution switch mid-stream is change, not a frozen picture.
        return 255.0
    return float(cv2.absdiff(a.detail_grey, b.detail_grey).mean())
