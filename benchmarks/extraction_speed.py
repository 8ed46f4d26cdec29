"""Extraction speed versus decoding speed, for A4 pages (the target, issue 12: from the file's bytes to the
28 x 28 samples <= 1.5x what cv2.imdecode takes to decode the same file).

    .venv/bin/python benchmarks/extraction_speed.py [--runs 9] [--keep]

Generates a few synthetic 300-dpi pages and a phone photo (tests/pipeline/synth.py), writes each as PNG and
JPEG, then per file times, in the same process and interleaved so both see the same machine load:
  decode   cv2.imdecode(bytes, IMREAD_GRAYSCALE): the whole file at full size, the reference
  extract  what the extraction job does from the file's bytes (extraction/jobs.py): the page decoded as
           scans.service.load_page_for_extraction does (decode_file with reduce_to_long_side: a large JPEG at
           1/2, 1/4 or 1/8 scale by libjpeg's DCT scaling, column "scale"), read_sheet (the markers) and
           extract_page; "its dec" is the part of it spent decoding
and prints medians, the ratio extract / decode (the target's), and the per-step profile of extract_page.
Not timed: the database (the job's check of the sheet code, storing 600 cells) and writing the preview.
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

from digitlab.pipeline.decode import decode_file  # noqa: E402
from digitlab.pipeline.extract import extract_page_debug  # noqa: E402
from digitlab.pipeline.params import DECODE_MIN_LONG_SIDE  # noqa: E402
from digitlab.pipeline.sheet import read_sheet  # noqa: E402
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


def service_extraction(data: bytes, stage_samples: dict[str, list[float]] | None = None):
    """The extraction job's path from the file's bytes: (result, decoded page, seconds spent decoding)."""
    t0 = time.perf_counter()
    page = decode_file(data, reduce_to_long_side=DECODE_MIN_LONG_SIDE).pages[0]
    t1 = time.perf_counter()
    reading = read_sheet(page.gray)
    t2 = time.perf_counter()
    result, debug = extract_page_debug(page.gray, DIGIT_LABELS, reading=reading)
    if stage_samples is not None:
        for stage, ms in {"markers": (t2 - t1) * 1000, **debug.timings}.items():
            stage_samples.setdefault(stage, []).append(ms)
    return result, page, t1 - t0


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
    header = (f"{'file':28s} {'size':>8s} {'pixels':>11s} {'scale':>5s} {'decode':>8s} {'its dec':>8s} "
              f"{'extract':>8s} {'extr/dec':>8s} {'best extr':>9s} {'kept':>5s} {'digits':>6s}")
    print(header)
    print("-" * len(header))
    stage_samples: dict[str, list[float]] = {}
    ratios = []
    for _name, path, page in files:
        raw = path.read_bytes()
        data = np.frombuffer(raw, np.uint8)
        gray = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
        service_extraction(raw)  # warm-up (first-call costs, caches)
        decode_t, own_decode_t, extract_t = [], [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            gray = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
            t1 = time.perf_counter()
            result, decoded, own_decode = service_extraction(raw, stage_samples)
            t2 = time.perf_counter()
            decode_t.append(t1 - t0)
            own_decode_t.append(own_decode)
            extract_t.append(t2 - t1)
        dec, own, ext = median_ms(decode_t), median_ms(own_decode_t), median_ms(extract_t)
        ratios.append((path.suffix, ext / dec))
        digits = sum(t == synth.DIGIT for t in page.truth)
        print(f"{path.name:28s} {path.stat().st_size / 1e6:6.2f}MB {gray.shape[1]:5d}x{gray.shape[0]:<5d} "
              f"{'1/' + str(decoded.scale):>5s} {dec:6.1f}ms {own:6.1f}ms {ext:6.1f}ms {ext / dec:8.2f} "
              f"{min(extract_t) * 1000:7.1f}ms {result.kept_count:5d} {digits:6d}")

    print("\nsteps after decoding: read_sheet's markers, then extract_page's (median ms over all runs):")
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
