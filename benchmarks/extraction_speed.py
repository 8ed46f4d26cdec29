"""Extraction speed versus decoding speed, for A4 pages (the target: decode + extraction <= 1.5x decoding).

    .venv/bin/python benchmarks/extraction_speed.py [--runs 9] [--keep]

Generates a few synthetic 300-dpi pages and a phone photo (tests/pipeline/synth.py), writes each as PNG and
JPEG, then per file times, in the same process and interleaved so both see the same machine load:
  decode   cv2.imdecode(bytes, IMREAD_GRAYSCALE)
  extract  extract_page(decoded page)
and prints medians, the ratios (decode + extract) / decode and extract / decode, and the per-step profile.
Files go to bench-out/extraction_speed/ (git-ignored) and are deleted afterwards unless --keep.
"""

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))  # runs without installing the package
sys.path.insert(0, str(ROOT / "tests" / "pipeline"))  # the synthetic page generator

import synth  # noqa: E402

from digitlab.pipeline.extract import extract_page_debug  # noqa: E402
from digitlab.pipeline.template import DIGIT_LABELS  # noqa: E402

PAGES = {
    # name: a 300-dpi page as a student would upload it (about 90 % of the cells written)
    "scan-black-rot2": lambda: synth.scan(synth.render_sheet(300, 3, "black", seed=11, digit_frac=0.9),
                                          seed=11, rotate=2, noise=3),
    "scan-blue-rot-6-light": lambda: synth.scan(synth.render_sheet(300, 3, "blue", seed=12, digit_frac=0.9),
                                                seed=12, rotate=-6, lighting=0.3, blur=0.7, noise=3),
    "scan-pencil-legacy": lambda: synth.scan(synth.render_sheet(300, 2, "pencil", seed=13, digit_frac=0.9,
                                                                text=False), seed=13, rotate=1, noise=3),
    # the harder conditions of the golden tests (tests/pipeline/test_extract_hard.py): faint pencil with stray
    # marks, and a phone photo of faint pencil (160 dpi effective, 9 degrees, keystone, shadow, warm light)
    "scan-faint-specks-rot8": lambda: synth.scan(synth.render_sheet(300, 3, "faint", seed=14, digit_frac=0.8,
                                                                    speck_frac=0.15, speck_style="varied"),
                                                 seed=14, rotate=8, lighting=0.3, blur=0.6, noise=3),
    "phone-faint-160dpi": lambda: synth.phone_photo(
        synth.render_sheet(300, 2, "faint", seed=15, digit_frac=0.8, speck_style="varied"), seed=15,
        frame=(1798, 2398), fill=0.78, tilt=0.16, rotate=9, shadow=0.5, shadow_width=(0.15, 0.3), warm=True),
}


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9, help="timed runs per file (median reported)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()

    out = ROOT / "bench-out" / "extraction_speed"
    out.mkdir(parents=True, exist_ok=True)
    files: list[tuple[str, Path, synth.SynthPage]] = []
    for name, make in PAGES.items():
        page = make()
        for ext, params in ((".png", [cv2.IMWRITE_PNG_COMPRESSION, 3]), (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90])):
            path = out / f"{name}{ext}"
            cv2.imwrite(str(path), page.gray, params)
            files.append((name, path, page))

    print(f"OpenCV {cv2.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs, {cv2.getNumThreads()} OpenCV "
          f"threads, load average {os.getloadavg()[0]:.2f} (other processes slow both columns), "
          f"{args.runs} interleaved runs per file; medians, and the fastest extract run\n")
    header = (f"{'file':28s} {'size':>8s} {'pixels':>11s} {'decode':>8s} {'extract':>8s} {'total':>8s} "
              f"{'total/dec':>9s} {'extr/dec':>8s} {'best extr':>9s} {'kept':>5s} {'digits':>6s}")
    print(header)
    print("-" * len(header))
    stage_samples: dict[str, list[float]] = {}
    ratios = []
    for name, path, page in files:
        data = np.frombuffer(path.read_bytes(), np.uint8)
        gray = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
        result, _ = extract_page_debug(gray, DIGIT_LABELS)  # warm-up (first-call costs, caches)
        decode_t, extract_t = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            gray = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
            t1 = time.perf_counter()
            result, debug = extract_page_debug(gray, DIGIT_LABELS)
            t2 = time.perf_counter()
            decode_t.append(t1 - t0)
            extract_t.append(t2 - t1)
            for stage, ms in debug.timings.items():
                stage_samples.setdefault(stage, []).append(ms)
        dec, ext = median_ms(decode_t), median_ms(extract_t)
        ratios.append((path.suffix, ext / dec))
        digits = sum(t == synth.DIGIT for t in page.truth)
        print(f"{path.name:28s} {path.stat().st_size / 1e6:6.2f}MB {gray.shape[1]:5d}x{gray.shape[0]:<5d} "
              f"{dec:6.1f}ms {ext:6.1f}ms {dec + ext:6.1f}ms {(dec + ext) / dec:9.2f} {ext / dec:8.2f} "
              f"{min(extract_t) * 1000:7.1f}ms {result.kept_count:5d} {digits:6d}")

    print("\nextract_page steps (median ms over all runs):")
    print("  " + "  ".join(f"{k} {statistics.median(v):.1f}" for k, v in stage_samples.items()))
    for suffix in (".png", ".jpg"):
        values = [r for s, r in ratios if s == suffix]
        print(f"median extract/decode for {suffix}: {statistics.median(values):.2f}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
        if not any(out.parent.iterdir()):
            out.parent.rmdir()


if __name__ == "__main__":
    main()
