"""Dataset ingest speed: N generated 1024x1536 JPEGs through the service and a real worker process,
against a bare Pillow loop (decode, orient, thumbnail, encode) over the same files in the same run.

    .venv/bin/python bench/ingest.py            # 300 images
    .venv/bin/python bench/ingest.py --n 60

Uses a throwaway SQLite database and storage folder, and Redis (STUDIO_BENCH_REDIS_URL, default
redis://127.0.0.1:6379/14) to reach a ``python -m backend worker`` process. Goal: ratio <= 1.3.
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


def bare_pillow(paths: list[Path]) -> float:
    """The baseline: one thread, decode + EXIF orientation + thumbnail + WebP encode."""
    from PIL import Image, ImageOps

    t = time.perf_counter()
    for p in paths:
        with Image.open(p) as im:
            im = ImageOps.exif_transpose(im.convert("RGB"))
            im.thumbnail((256, 256), Image.Resampling.LANCZOS, reducing_gap=2.0)
            im.save(io.BytesIO(), "WEBP", quality=80, method=2)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1, help="worker threads of the cpu queue")
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

            baseline = bare_pillow(paths)
            ds = service.create_dataset(ctx, name="bench")
            t = time.perf_counter()
            job = start_upload(ctx, ds.id, files_from_folder(inputs))
            uploaded = time.perf_counter() - t
            done = jobs.wait(ctx, job.id, timeout_s=3600, poll_s=0.05)
            ours = time.perf_counter() - t
            assert done.started_at and done.finished_at
            in_job = (done.finished_at - done.started_at).total_seconds()
            report = report_of(done)
            assert done.status == "succeeded" and report is not None, done.error
            assert len(report.accepted) == args.n, report.rejected[:3]
        finally:
            worker.terminate()
            worker.wait(30)
    print(f"images: {args.n} ({mb:.0f} MB of JPEG), cores: {os.cpu_count()}")
    print(f"bare Pillow loop : {baseline:7.2f} s  {args.n / baseline:6.1f} images/s")
    print(f"service + worker : {ours:7.2f} s  {args.n / ours:6.1f} images/s  (upload to storage, decode, checks, hashes, thumbnails, rows)")
    print(f"  of which: storing the upload {uploaded:.2f} s, the ingest job itself {in_job:.2f} s")
    print(f"ratio service/bare = {ours / baseline:.2f}  (goal <= 1.3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
