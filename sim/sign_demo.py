"""``lisa sim sign`` and ``lisa bench signature``: sign PDFs with a simulated citizen signature
(synthetic pen strokes at 500 Hz, 1,024 pressure levels) and demo keys."""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from booth.signing.biometrics import (
    BiometricRecord,
    DeviceInfo,
    load_public_key,
    strokes_from_samples,
)
from booth.signing.demo_pki import DemoKeys, ensure_demo_keys
from booth.signing.pdf import SignOptions, SignResult, blank_pdf, load_signer, sign_pdf
from hal.events import PenSample

SIM_DEVICE = DeviceInfo(
    vendor="LISA-sim",
    model="SimSignaturePad",
    sample_rate_hz=500,
    pressure_levels=1024,
    width=10000,
    height=6000,
    units_per_mm=100.0,
)


def default_state_dir() -> Path:
    xdg = os.environ.get("XDG_STATE_HOME")
    return Path(xdg) / "lisa-sim-sign" if xdg else Path("var/lisa-sim-sign")


def synthetic_signature(
    sample_rate_hz: int = 500,
    width: int = 10000,
    height: int = 6000,
    seed: int = 7,
    t0: float = 0.0,
) -> list[PenSample]:
    """A plausible handwritten-looking signature: three strokes (a looping name, a dot, an
    underline), pressure varying within 1..1023, sampled at ``sample_rate_hz``."""
    rnd = random.Random(seed)
    out: list[PenSample] = []
    t = t0
    dt = 1.0 / sample_rate_hz

    def stroke(points: Sequence[tuple[float, float]], base: float) -> None:
        nonlocal t
        n = len(points)
        for i, (x, y) in enumerate(points):
            ramp = min(1.0, i / 20, (n - 1 - i) / 20)
            p = base * (0.35 + 0.65 * ramp) + rnd.uniform(-25, 25)
            out.append(
                PenSample(
                    round(min(max(x, 0), width)),
                    round(min(max(y, 0), height)),
                    max(1, min(1023, round(p))),
                    t,
                )
            )
            t += dt
        t += 0.12  # pen up

    cx, cy = width * 0.1, height * 0.55
    name = []
    for i in range(int(1.6 * sample_rate_hz)):
        s = i / sample_rate_hz
        x = cx + s * width * 0.45 + math.sin(s * 14) * width * 0.03
        y = cy - math.sin(s * 9) * height * 0.22 - math.cos(s * 23) * height * 0.05
        name.append((x, y))
    stroke(name, 700)
    stroke([(width * 0.62 + i, height * 0.25 + i) for i in range(0, 60, 4)], 500)
    stroke(
        [
            (width * 0.08 + i * width * 0.7 / 300, height * 0.82 + math.sin(i / 40) * 60)
            for i in range(300)
        ],
        600,
    )
    return out


def simulated_record(seed: int = 7, device: DeviceInfo = SIM_DEVICE) -> BiometricRecord:
    samples = synthetic_signature(device.sample_rate_hz, device.width, device.height, seed=seed)
    # the document hash is filled in by sign_pdf
    return BiometricRecord(device, strokes_from_samples(samples, device.sample_rate_hz), b"\0" * 32)


def sim_sign(
    data: bytes, state_dir: Path, options: SignOptions | None = None, seed: int = 7
) -> tuple[SignResult, DemoKeys, bool]:
    keys, created = ensure_demo_keys(state_dir)
    signer = load_signer(keys.signer_key, keys.signer_cert)
    pub = load_public_key(keys.bio_public.read_bytes())
    return sign_pdf(data, signer, simulated_record(seed), pub, options), keys, created


def bench_signature(runs: int = 20, state_dir: Path | None = None) -> dict[str, Any]:
    """Sign a 10-page PDF (visible signature + biometrics, PAdES B-B) and verify it: p50/p90."""
    import tempfile

    from booth.signing.verify import load_certs, verify_pdf

    with tempfile.TemporaryDirectory() as tmp:
        keys, _ = ensure_demo_keys(state_dir or Path(tmp))
        signer = load_signer(keys.signer_key, keys.signer_cert)
        pub = load_public_key(keys.bio_public.read_bytes())
        roots = load_certs(keys.root_cert.read_bytes())
        doc = blank_pdf(10)
        record = simulated_record()
        sign_ms: list[float] = []
        verify_ms: list[float] = []
        signed = b""
        for _ in range(runs + 1):  # the first run warms up imports and caches
            t = time.perf_counter()
            signed = sign_pdf(doc, signer, record, pub).pdf
            sign_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            report = verify_pdf(signed, roots)
            verify_ms.append((time.perf_counter() - t) * 1000)
            if not report.ok:
                raise RuntimeError(f"benchmark signature does not verify: {report.to_dict()}")
    sign_ms, verify_ms = sign_ms[1:], verify_ms[1:]

    def summary(v: Sequence[float]) -> dict[str, float]:
        q = statistics.quantiles(v, n=10) if len(v) > 1 else [v[0]] * 9
        return {
            "p50": round(statistics.median(v), 1),
            "p90": round(q[8], 1),
            "max": round(max(v), 1),
        }

    return {
        "runs": runs,
        "pages": 10,
        "samples": record.sample_count,
        "pdf_bytes": len(signed),
        "sign_ms": summary(sign_ms),
        "verify_ms": summary(verify_ms),
        "targets": {"sign_p50_ms": 300, "verify_p50_ms": 100},
    }


def print_bench(result: dict[str, Any]) -> None:
    s, v = result["sign_ms"], result["verify_ms"]
    print(
        f"signature, {result['pages']}-page PDF, visible + biometrics "
        f"({result['samples']} samples), "
        f"PAdES B-B, {result['runs']} runs, {result['pdf_bytes']} bytes"
    )
    ok_s = "OK" if s["p50"] < 300 else "MISSED"
    ok_v = "OK" if v["p50"] < 100 else "MISSED"
    print(
        f"  sign:   p50 {s['p50']} ms  p90 {s['p90']} ms  max {s['max']} ms  (target < 300: {ok_s})"
    )
    print(
        f"  verify: p50 {v['p50']} ms  p90 {v['p90']} ms  max {v['max']} ms  (target < 100: {ok_v})"
    )
