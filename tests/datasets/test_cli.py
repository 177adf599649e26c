"""``python -m backend dataset import|show|list`` through real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

from tests.conftest import ROOT, studio_subprocess_env
from tests.datasets.imagegen import jpeg, jpeg_rotated, png


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "backend", *args], cwd=ROOT, env=studio_subprocess_env(), capture_output=True, text=True, timeout=180)


def test_import_folder_then_show_and_list(ctx, tmp_path):
    folder = tmp_path / "photos"
    (folder / "beach").mkdir(parents=True)
    (folder / "beach" / "one.jpg").write_bytes(jpeg(1))
    (folder / "beach" / "one.txt").write_text("ohwx woman on the beach", encoding="utf-8")
    (folder / "two.jpg").write_bytes(jpeg_rotated(2))
    (folder / "broken.png").write_bytes(png(3)[:300])
    (folder / "readme.txt").write_text("not a caption")
    res = cli("dataset", "import", "--tenant", "acme", "--name", "Mia", "--trigger", "ohwx", "--class", "woman", str(folder), "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(report) == {"dataset_id", "accepted", "rejected", "warnings"}
    assert sorted(report["accepted"]) == ["beach/one.jpg", "two.jpg"]
    assert {r["file"] for r in report["rejected"]} == {"broken.png", "readme.txt"}
    assert all(set(r) == {"file", "reason"} for r in report["rejected"])

    res = cli("dataset", "show", "--tenant", "acme", report["dataset_id"], "--json")
    assert res.returncode == 0, res.stderr
    shown = json.loads(res.stdout)
    assert (shown["name"], shown["trigger_word"], shown["class_word"]) == ("Mia", "ohwx", "woman")
    images = {i["file"]: i for i in shown["images"]}
    assert images["beach/one.jpg"]["caption"] == "ohwx woman on the beach"
    assert (images["two.jpg"]["width"], images["two.jpg"]["height"]) == (300, 400)
    assert images["two.jpg"]["caption"] is None and images["two.jpg"]["repeats"] == 10 and images["two.jpg"]["warnings"] == []

    # A kohya zip into the same dataset (found by name): repeats from the folder name.
    z = tmp_path / "k.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("3_ohwx woman/three.png", png(4))
        zf.writestr("3_ohwx woman/three.txt", "ohwx, studio light")
    res = cli("dataset", "import", "--tenant", "acme", "--name", "mia", str(z), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["accepted"] == ["3_ohwx woman/three.png"]
    shown = json.loads(cli("dataset", "show", "--tenant", "acme", report["dataset_id"], "--json").stdout)
    assert {i["file"]: i["repeats"] for i in shown["images"]}["3_ohwx woman/three.png"] == 3

    res = cli("dataset", "list", "--tenant", "acme", "--json", "--sort", "images")
    listed = json.loads(res.stdout)
    assert listed["total"] == 1 and listed["datasets"][0]["image_count"] == 3

    res = cli("dataset", "show", "--tenant", "acme", "0" * 32, "--json")
    assert res.returncode == 1 and "not found" in res.stderr
