"""Loading diffusion pipelines (SD 1.5 / SDXL) by base-model name, and building the tiny demo models.

The demo models are real architectures with tiny, randomly initialised weights: they let the
studio (and its tests) train and generate with no downloaded weights. Their output is noise.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import tempfile
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from backend.basemodels.detect import Arch, UnsupportedModel, folder_signature, single_file_signature
from backend.basemodels.service import DEMO_LABEL, DEMO_NAMES, BaseModel, demo_dir, get_model, list_models
from backend.errors import InvalidInput

DEMO_SEED = 1234
DEMO_VERSION = 1  # bump when the demo architecture changes: a stale build is rebuilt
_MARKER = "studio_demo.json"
# A few words get their own BPE tokens so prompts tokenize like real ones; the rest is bytes.
_WORDS = ["a", "an", "the", "of", "in", "on", "with", "and", "photo", "portrait", "woman", "man", "person",
          "face", "smiling", "beach", "city", "street", "studio", "light", "style", "ohwx", "sks", "cat", "dog"]
_START, _END = "<|startoftext|>", "<|endoftext|>"


def _bytes_to_unicode() -> dict[int, str]:
    # CLIP's reversible byte -> printable-unicode table (the one its BPE vocabulary is written in).
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def write_tokenizer(dest: Path) -> None:
    """A small CLIP BPE tokenizer (every byte plus a few whole words), written locally."""
    dest.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    vocab_list = chars + [c + "</w>" for c in chars]
    merges: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for word in _WORDS:
        # Merge left to right: ("p","h") -> "ph", ("ph","o") -> "pho", ... , last piece with "</w>".
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        current = pieces[0]
        for nxt in pieces[1:]:
            pair = (current, nxt)
            current = current + nxt
            if pair not in seen:
                seen.add(pair)
                merges.append(pair)
                vocab_list.append(current)
    vocab_list += [_START, _END]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(vocab_list))}
    (dest / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (dest / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    (dest / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": _START, "eos_token": _END, "unk_token": _END, "pad_token": _END}))
    (dest / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "bos_token": _START, "eos_token": _END,
        "unk_token": _END, "pad_token": _END, "do_lower_case": True, "errors": "replace",
    }))


def _vocab_size(tokenizer_dir: Path) -> int:
    return len(json.loads((tokenizer_dir / "vocab.json").read_text()))


def _text_config(vocab_size: int, *, projection_dim: int = 32) -> Any:
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1,
        hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=2,
        layer_norm_eps=1e-5, vocab_size=vocab_size, max_position_embeddings=77,
        hidden_act="quick_gelu", projection_dim=projection_dim,
    )


def _vae() -> Any:
    from diffusers import AutoencoderKL

    # Four blocks: the real 8x down-scaling of SD's VAE, with tiny channel counts.
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, sample_size=64,
        block_out_channels=(8, 16, 16, 16), layers_per_block=1, norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    )


def _scheduler() -> Any:
    from diffusers import EulerDiscreteScheduler

    # SD's own noise schedule (scaled linear, 1000 steps, epsilon prediction).
    return EulerDiscreteScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        prediction_type="epsilon", timestep_spacing="leading", steps_offset=1,
    )


def _build_sd15(tokenizer_dir: Path) -> Any:
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    torch.manual_seed(DEMO_SEED)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
        attention_head_dim=8, norm_num_groups=32,
    )
    torch.manual_seed(DEMO_SEED + 1)
    vae = _vae()
    torch.manual_seed(DEMO_SEED + 2)
    text_encoder = CLIPTextModel(_text_config(_vocab_size(tokenizer_dir)))
    tokenizer = CLIPTokenizer.from_pretrained(str(tokenizer_dir))
    return StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=_scheduler(),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )


def _build_sdxl(tokenizer_dir: Path) -> Any:
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    time_dim, proj_dim = 8, 32
    torch.manual_seed(DEMO_SEED)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=time_dim,
        transformer_layers_per_block=(1, 2), projection_class_embeddings_input_dim=6 * time_dim + proj_dim,
        cross_attention_dim=64, norm_num_groups=32,  # 64 = the two text encoders' hidden sizes together
    )
    torch.manual_seed(DEMO_SEED + 1)
    vae = _vae()
    vocab = _vocab_size(tokenizer_dir)
    torch.manual_seed(DEMO_SEED + 2)
    text_encoder = CLIPTextModel(_text_config(vocab))
    torch.manual_seed(DEMO_SEED + 3)
    text_encoder_2 = CLIPTextModelWithProjection(_text_config(vocab, projection_dim=proj_dim))
    tokenizer = CLIPTokenizer.from_pretrained(str(tokenizer_dir))
    return StableDiffusionXLPipeline(
        vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
        tokenizer_2=CLIPTokenizer.from_pretrained(str(tokenizer_dir)), unet=unet, scheduler=_scheduler(),
        force_zeros_for_empty_prompt=True,
    )


def build_demo_pipeline(arch: Arch, dest: Path) -> Path:
    """Build the tiny random pipeline of ``arch`` and save it (diffusers layout) to ``dest``.

    Deterministic: every build writes the same weights. Returns ``dest``.
    """
    if arch not in ("sd15", "sdxl"):
        raise InvalidInput("unknown architecture", [f"{arch!r} is not sd15 or sdxl"])
    with tempfile.TemporaryDirectory(prefix="studio-tok-") as tmp:
        tok_dir = Path(tmp)
        write_tokenizer(tok_dir)
        pipe = _build_sd15(tok_dir) if arch == "sd15" else _build_sdxl(tok_dir)
        dest.mkdir(parents=True, exist_ok=True)
        pipe.save_pretrained(str(dest), safe_serialization=True)
    (dest / _MARKER).write_text(json.dumps({"architecture": arch, "label": DEMO_LABEL, "version": DEMO_VERSION,
                                            "seed": DEMO_SEED}))
    return dest


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _demo_is_built(path: Path) -> bool:
    try:
        return json.loads((path / _MARKER).read_text()).get("version") == DEMO_VERSION
    except (OSError, json.JSONDecodeError):
        return False


def ensure_demo(arch: Arch) -> Path:
    """The folder of the demo model of ``arch``, built on first use (one process builds, others wait)."""
    path = demo_dir(arch)
    if _demo_is_built(path):
        return path
    with _file_lock(path.parent / f".demo-{arch}.lock"):
        if _demo_is_built(path):  # another process built it while we waited
            return path
        # Build beside the target and swap in, so a crash never leaves a half-written model.
        staging = Path(tempfile.mkdtemp(prefix=f".demo-{arch}-", dir=path.parent))
        try:
            build_demo_pipeline(arch, staging)
            if path.exists():
                shutil.rmtree(path)
            staging.rename(path)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return path


def resolve_local_path(model: BaseModel) -> Path:
    """The model's files on disk (building a demo model when needed)."""
    if model.is_demo:
        return ensure_demo(DEMO_NAMES[model.name])
    return model.path


def pipeline_class(arch: Arch) -> Any:
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    return StableDiffusionXLPipeline if arch == "sdxl" else StableDiffusionPipeline


def single_file_config(model: BaseModel) -> Path | None:
    """A local diffusers folder whose configs and tokenizer fit the single-file checkpoint ``model``.

    ``from_single_file`` needs the diffusers configs (and the tokenizer) of the checkpoint's
    architecture; without network they come from a diffusers folder of the same architecture under
    STUDIO_MODELS_DIR whose sizes match the checkpoint's (read from the header), or from the
    matching demo build (a tiny checkpoint). None: nothing local fits (the HF cache is the last resort).
    """
    try:
        wanted = single_file_signature(model.path)
    except (UnsupportedModel, OSError):
        return None
    if wanted.get("unet_channels") is None:
        return None

    def fits(folder: Path) -> bool:
        have = folder_signature(folder)
        return bool(have) and all(have.get(k) == v for k, v in wanted.items() if v is not None)

    for other in list_models():
        if other.kind == "diffusers" and other.architecture == model.architecture and fits(other.path):
            return other.path
    demo_path = ensure_demo(model.architecture)
    return demo_path if fits(demo_path) else None


def load_pipeline(base_model_name: str, *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> Any:
    """The diffusers pipeline of the base model ``base_model_name``, on ``device`` in ``dtype``.

    Never downloads: diffusers folders load with ``local_files_only``; single-file checkpoints take
    their configs and tokenizer from a matching local diffusers folder (``single_file_config``), else
    from the local Hugging Face cache, else fail with a readable reason.
    Attention uses PyTorch SDPA (diffusers' default AttnProcessor2_0).
    """
    model = get_model(base_model_name)
    cls = pipeline_class(model.architecture)
    path = resolve_local_path(model)
    extra: dict[str, Any] = {}
    if model.architecture == "sd15":
        extra = {"safety_checker": None, "requires_safety_checker": False}
    config = None
    try:
        if model.kind == "single_file":
            config = single_file_config(model)
            if config is not None:
                extra["config"] = str(config)
            pipe = cls.from_single_file(str(path), torch_dtype=dtype, local_files_only=True, **extra)
        else:
            pipe = cls.from_pretrained(str(path), dtype=dtype, local_files_only=True, **extra)
    except Exception as err:  # noqa: BLE001 - any loading failure becomes a readable refusal
        if model.kind != "single_file":
            advice = "check that the folder is a complete diffusers pipeline"
        elif config is None:
            advice = (f"no local configs fit this {model.architecture.upper()} checkpoint: put a diffusers folder of "
                      "the same architecture (its configs and tokenizer) in STUDIO_MODELS_DIR")
        else:
            advice = f"the checkpoint does not match the configs of {config.name}"
        raise InvalidInput(f"base model {base_model_name} could not be loaded",
                           [f"{type(err).__name__}: {str(err)[:300]}", advice]) from None
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe
