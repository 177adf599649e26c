"""Dataset ingest speed: N generated 1024x1536 JPEGs through the service and a real worker process,
against a bare Pillow loop (decode, orient, thumbnail, encode) over the same files in the same run.

    .venv/bin/python bench/ingest.py            # 300 images
    .venv/bin/python bench/ingest.py --n 60 --profile   # fewer images; cProfile of the per-image work

Uses a throwaway SQLite database and storage folder, and Redis (STUDIO_BENCH_REDIS_URL, default
redis://127.0.0.1:6379/14) to reach a ``python -m backend worker`` process. Goal: ratio <= 1.3.

The bare loop runs before and after the service (their mean is the baseline), so a load that
changes during the run weighs on both sides. Besides wall time the script prints CPU seconds
(the worker process plus the uploading caller, against the bare loop's): that ratio says how much
work the service adds whatever else the machine runs; the wall ratio also needs free cores.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_images(folder: Path, n: int) -> list[Path]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        # Smooth colour blocks plus mild noise: photo-like file sizes (~300-500 KB), distinct hashes.
        blocks = rng.integers(0, 256, size=(12, 8, 3), dtype=np.uint8)
        im = Image.fromarray(blocks).resize((1024, 1536), Image.Resampling.BILINEAR)
        noise = rng.integers(-12, 12, size=(1536, 1024, 3))
        im = Image.fromarray(np.clip(np.asarray(im, dtype=np.int16) + noise, 0, 255).astype(np.uint8))
        p = folder / f"img_{i:04d}.jpg"
        im.save(p, "JPEG", quality=90)
        paths.append(p)
    return paths


def bare_pillow(paths: list[Path]) -> tuple[float, float]:
    """The baseline: one thread, decode + EXIF orientation + thumbnail + WebP encode; (wall, cpu) s.

    Same thumbnail parameters as the ingest (backend.datasets.images), so both do the same work.
    """
    from PIL import Image, ImageOps

    from backend.datasets.images import THUMB_METHOD, THUMB_QUALITY, THUMB_SIDE

    t, c = time.perf_counter(), time.process_time()
    for p in paths:
        with Image.open(p) as im:
            im = ImageOps.exif_transpose(im.convert("RGB"))
            im.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
            im.save(io.BytesIO(), "WEBP", quality=THUMB_QUALITY, method=THUMB_METHOD)
    return time.perf_counter() - t, time.process_time() - c


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile_normalise(blobs: list[bytes]) -> None:
    """cProfile of the per-image work (decode, checks, hashes, thumbnail) in one thread."""
    import cProfile
    import pstats

    from backend.datasets.images import Limits, normalise

    limits = Limits.from_settings()
    normalise(blobs[0], limits)  # first call imports scipy (phash): not per-image work
    prof = cProfile.Profile()
    prof.enable()
    for data in blobs:
        normalise(data, limits)
    prof.disable()
    print(f"\nprofile of normalise() over {len(blobs)} images, one thread:")
    pstats.Stats(prof).sort_stats("tottime").print_stats(10)


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1, help="worker threads of the cpu queue")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of the per-image work")
    args = ap.parse_args()
    redis_url = os.environ.get("STUDIO_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        tmpdir = Path(tmp)
        data = tmpdir / "data"
        inputs = tmpdir / "inputs"
        data.mkdir()
        inputs.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
        env.update({"STUDIO_DATA_DIR": str(data), "STUDIO_BROKER_URL": redis_url, "STUDIO_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)})
        os.environ.update(env)
        import redis

        redis.Redis.from_url(redis_url).flushdb()
        from backend.migrate import upgrade
        from backend.testing import reset_all

        reset_all()
        upgrade()
        print(f"generating {args.n} 1024x1536 JPEGs…", flush=True)
        paths = make_images(inputs, args.n)
        mb = sum(p.stat().st_size for p in paths) / 1e6
        worker = subprocess.Popen([sys.executable, "-m", "backend", "worker", "--queues", "cpu", "--threads", str(args.threads), "--no-migrate"],
                                  cwd=ROOT, env=env)
        try:
            from backend.accounts.service import create_user_for_tenant
            from backend.context import Ctx
            from backend.datasets import service
            from backend.datasets.ingest import files_from_folder, report_of, start_upload
            from backend.jobs import service as jobs

            user = create_user_for_tenant(tenant_slug="bench", username="bench-admin", password="password123", role="admin")
            ctx = Ctx(tenant_id=user.tenant_id, user_id=user.id, role="admin", username="bench")
            # Warm the worker (imports, first connection) so its start-up is not counted.
            warm = service.create_dataset(ctx, name="warm")
            jobs.wait(ctx, start_upload(ctx, warm.id, files_from_folder(inputs)[:1]).id, timeout_s=120)

            load_before = load_average()
            before, before_cpu = bare_pillow(paths)
            ds = service.create_dataset(ctx, name="bench")
            worker_cpu = process_cpu_s(worker.pid)
            t, c = time.perf_counter(), time.process_time()
            job = start_upload(ctx, ds.id, files_from_folder(inputs))
            uploaded = time.perf_counter() - t
            upload_cpu = time.process_time() - c
            done = jobs.wait(ctx, job.id, timeout_s=3600, poll_s=0.05)
            ours = time.perf_counter() - t
            worker_cpu = process_cpu_s(worker.pid) - worker_cpu
            after, after_cpu = bare_pillow(paths)
            load_after = load_average()
            baseline, baseline_cpu = (before + after) / 2, (before_cpu + after_cpu) / 2
            assert done.started_at and done.finished_at
            in_job = (done.finished_at - done.started_at).total_seconds()
            report = report_of(done)
            assert done.status == "succeeded" and report is not None, done.error
            assert len(report.accepted) == args.n, report.rejected[:3]
        finally:
            worker.terminate()
            worker.wait(30)
        blobs = [p.read_bytes() for p in paths[:40]] if args.profile else []
    ours_cpu = upload_cpu + worker_cpu
    print(f"images: {args.n} ({mb:.0f} MB of JPEG), cores: {os.cpu_count()}, load average before {load_before}, after {load_after}")
    print(f"bare Pillow loop : {baseline:7.2f} s  {args.n / baseline:6.1f} images/s  (before {before:.2f} s, after {after:.2f} s)  cpu {baseline_cpu:.2f} s")
    print(f"service + worker : {ours:7.2f} s  {args.n / ours:6.1f} images/s  cpu {ours_cpu:.2f} s  (upload to storage, decode, checks, hashes, thumbnails, rows)")
    print(f"  of which: storing the upload {uploaded:.2f} s, the ingest job itself {in_job:.2f} s")
    print(f"cpu ratio service/bare = {ours_cpu / baseline_cpu:.2f}  (work added by the service)")
    print(f"ratio service/bare = {ours / baseline:.2f}  (goal <= 1.3)")
    if blobs:
        profile_normalise(blobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
