"""The base models the studio can train on and generate with: found on disk, plus two demos."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from backend.basemodels.detect import Arch, UnsupportedModel, arch_of_diffusers_folder, arch_of_single_file
from backend.errors import NotFound
from backend.settings import get_settings

log = logging.getLogger(__name__)

DEMO_LABEL = "demo — random weights, output is noise"
DEMO_NAMES: dict[str, Arch] = {"demo-sd15": "sd15", "demo-sdxl": "sdxl"}
# The resolution each architecture was trained at; the demos are tiny and train at 64 px.
NATIVE_RESOLUTION: dict[Arch, int] = {"sd15": 512, "sdxl": 1024}
DEMO_RESOLUTION = 64

Kind = Literal["demo", "diffusers", "single_file"]


@dataclass(frozen=True)
class BaseModel:
    """One base model: ``name`` is what a user picks and what a LoRA records."""

    name: str
    architecture: Arch
    kind: Kind
    path: Path
    is_demo: bool = False
    label: str = ""

    @property
    def native_resolution(self) -> int:
        return DEMO_RESOLUTION if self.is_demo else NATIVE_RESOLUTION[self.architecture]

    def public(self) -> dict[str, Any]:
        """The model as ``models list --json`` prints it."""
        out = asdict(self)
        out["path"] = str(self.path)
        out["native_resolution"] = self.native_resolution
        return out


def demo_dir(arch: Arch) -> Path:
    """Where the demo model of ``arch`` is built on first use."""
    return (get_settings().data_dir / "models" / f"demo-{arch}").resolve()


def _demos() -> list[BaseModel]:
    return [
        BaseModel(name=name, architecture=arch, kind="demo", path=demo_dir(arch), is_demo=True, label=DEMO_LABEL)
        for name, arch in DEMO_NAMES.items()
    ]


def scan(models_dir: Path) -> tuple[list[BaseModel], list[str]]:
    """Base models under ``models_dir`` (one level of folders and files) and why others were skipped."""
    found: list[BaseModel] = []
    skipped: list[str] = []
    if not models_dir.is_dir():
        return found, skipped
    for entry in sorted(models_dir.iterdir()):
        if entry.name.startswith(".") or entry.stem in DEMO_NAMES:
            continue
        try:
            if entry.is_dir() and (entry / "model_index.json").is_file():
                arch = arch_of_diffusers_folder(entry)
                found.append(BaseModel(name=entry.name, architecture=arch, kind="diffusers", path=entry.resolve()))
            elif entry.is_file() and entry.suffix.lower() == ".safetensors":
                arch = arch_of_single_file(entry)
                found.append(BaseModel(name=entry.stem, architecture=arch, kind="single_file", path=entry.resolve()))
        except (UnsupportedModel, OSError) as err:
            skipped.append(f"{entry.name}: {err}")
    return found, skipped


def list_models() -> list[BaseModel]:
    """The demo models first, then every usable model under STUDIO_MODELS_DIR."""
    found, skipped = scan(get_settings().models_dir)
    for reason in skipped:
        log.info("base model skipped: %s", reason)
    return [*_demos(), *found]


def get_model(name: str) -> BaseModel:
    """The base model called ``name``; NotFound when there is none."""
    for model in list_models():
        if model.name == name:
            return model
    raise NotFound("base model", name)


def display_name(model: BaseModel) -> str:
    """How pickers show a model: name, architecture and the demo label."""
    suffix = f" — {model.label}" if model.is_demo else ""
    return f"{model.name} ({model.architecture.upper()}){suffix}"
