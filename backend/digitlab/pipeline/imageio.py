"""Grey input for the pipeline, and encoding arrays to image bytes (PNG for lossless samples, JPEG for previews)."""

import cv2
import numpy as np


def as_gray(image: np.ndarray) -> np.ndarray:
    """A contiguous uint8 grey image; forgiving in notebooks: a BGR or BGRA colour image is converted."""
    gray = np.asarray(image)
    if gray.ndim == 3 and gray.shape[2] in (3, 4):
        gray = cv2.cvtColor(gray, cv2.COLOR_BGR2GRAY if gray.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"expected a uint8 grey image (H x W), got {gray.dtype} {gray.shape}")
    return np.ascontiguousarray(gray)


def encode_png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("could not encode PNG")
    return buf.tobytes()


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode JPEG")
    return buf.tobytes()


def downscale_to(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longer side is at most max_side (never enlarges)."""
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
