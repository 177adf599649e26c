"""The kohya_ss folder convention: ``{repeats}_{trigger} {class}/image + same-name .txt``.

Import is the normal ingest (``archive.kohya_repeats`` reads repeats from folder names); this
module writes the export zip.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from backend.context import Ctx
from backend.datasets.models import DatasetOut
from backend.datasets.service import all_images, get_dataset
from backend.storage import get_storage, safe_filename


def concept_folder(ds: DatasetOut, repeats: int) -> str:
    """``10_ohwx woman``; without trigger or class, whatever of them is set (or the dataset name)."""
    concept = " ".join(w for w in (ds.trigger_word, ds.class_word) if w) or safe_filename(ds.name, default="dataset")
    return f"{repeats}_{safe_filename(concept, default='dataset')}"


def export_kohya(ctx: Ctx, dataset_id: str, dest: Path) -> Path:
    """Write the dataset to ``dest`` as a kohya zip: normalised images with their captions."""
    ds = get_dataset(ctx, dataset_id)
    storage = get_storage()
    used: set[str] = set()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for n, img in enumerate(all_images(ctx, dataset_id), start=1):
            folder = concept_folder(ds, img.repeats if img.repeats is not None else ds.default_repeats)
            stem = safe_filename(img.filename.rsplit("/", 1)[-1].rsplit(".", 1)[0], default=f"image_{n:04d}")
            if f"{folder}/{stem}".lower() in used:
                stem = f"{n:04d}_{stem}"
            used.add(f"{folder}/{stem}".lower())
            ext = img.image_key.rsplit(".", 1)[-1]
            zf.writestr(f"{folder}/{stem}.{ext}", storage.get_bytes(img.image_key))
            zf.writestr(f"{folder}/{stem}.txt", (img.caption or "").encode("utf-8"))
    tmp.replace(dest)
    return dest


def export_kohya_bytes(ctx: Ctx, dataset_id: str) -> bytes:
    """The kohya zip in memory (the UI's download button)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return export_kohya(ctx, dataset_id, Path(d) / "dataset.zip").read_bytes()
