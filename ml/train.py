"""Train a multi-label action model on a release: ``python -m ml.train``.

Examples::

    python -m ml.train --release releases/v3 --model i3d_r50 --loss wlsep --out runs/i3d \\
        --pretrained-2d resnet50-0676ba61.pth --epochs 30 --batch-size 16
    torchrun --nproc_per_node=8 -m ml.train --release ... --sync-bn ...   # one node, 8 GPUs
    python -m ml.train --out runs/i3d --release releases/v3 --model i3d_r50 --resume  # continue
    python -m ml.train --release small --init-from runs/i3d/best.pt --out runs/transfer  # Table 4

Writes to ``RUN_DIR``: ``config.json`` (resolved configuration), ``metrics.json``
and ``metrics.png`` (per epoch), ``checkpoint.pt`` (latest, exact resume),
``best.pt`` (best validation micro mAP by default), ``progress.json`` (where the run
is, rewritten as it goes; ``ml/progress.py``) and, when training completes, ``eval.json``
(best checkpoint on val/test, with per-class AP).
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ml import distributed
from ml.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint, unwrap
from ml.class_weights import DEFAULT_ALPHA, class_weights, positive_counts
from ml.cli import cli_parser, default_workers
from ml.clip_cache import ClipCache
from ml.config import jsonable, parse_with_config, write_json
from ml.data import ClipSpec, VideoDataset, make_loader
from ml.engine import infer, train_one_epoch
from ml.evaluate import evaluation_report
from ml.losses import LOSSES, get_loss
from ml.metrics import evaluate
from ml.models import BUILDERS, build_model
from ml.plot import plot_history
from ml.progress import Progress
from ml.release import Release, ReleaseError, Vocabulary, load_release

__all__ = ["build_parser", "main", "train"]

log = logging.getLogger("ml.train")

DEFAULT_FRAMES = {"i3d_r50": 16, "tsm_r50": 8, "fusion": 16, "soundnet": 16}
SELECT_METRICS = ("micro_map", "macro_map", "top1", "top5")

ERR_NO_MODEL = "--model is required (or --init-from / --resume a checkpoint that names one)"
ERR_MODEL_MISMATCH = "--model {given} differs from the checkpoint's model {saved} ({path})"
ERR_RESUME_VOCABULARY = "cannot resume {path}: the release's vocabulary differs from the checkpoint's"
ERR_FUSION_INIT = "--{flag} expects a {expected} checkpoint; {path} holds {found}"
ERR_LSEP_WEIGHTS = "lsep takes no class weights; they are turned off for it"
ERR_UNLABELLED = "expected negative, ignore or weight=A with 0 < A < 1; got {value!r}"
ERR_CACHE_SMALL = ("the clip cache {root} keeps frames with a short side of {side} px, smaller than the crop {crop}; "
                   "rebuild it with python -m ml.clip_cache ... --short-side {crop} or more")

UNLABELLED_HELP = (
    "classes neither verified positive nor verified negative (the release's negatives column) of a "
    "training video: negative = target 0, as a verified negative; ignore = target -1, neither positive "
    "nor negative; weight=A (0 < A < 1) = negatives whose negative terms in the loss weigh A"
)


def parse_unlabelled(text: str) -> str:
    """``--unlabelled`` value: ``negative``, ``ignore`` or ``weight=A`` with ``0 < A < 1``.

    Returns:
        The choice, normalised (``weight=0.30`` gives ``weight=0.3``).

    Raises:
        argparse.ArgumentTypeError: for anything else (argparse prints it as a usage error).
    """
    value = str(text).strip()
    if value in ("negative", "ignore"):
        return value
    name, _, number = value.partition("=")
    try:
        weight = float(number)
    except ValueError:
        weight = math.nan
    if name.strip() != "weight" or not 0.0 < weight < 1.0:
        raise argparse.ArgumentTypeError(ERR_UNLABELLED.format(value=text))
    return f"weight={weight!r}"


def unknown_weight(choice: str) -> float | None:
    """The losses' ``unknown_weight`` for a ``--unlabelled`` choice; ``None`` for ``negative``
    (two-state targets, no unknown class)."""
    if choice == "negative":
        return None
    return 0.0 if choice == "ignore" else float(choice.partition("=")[2])


class UsageError(Exception):
    """A command-line configuration that cannot work; the message says why."""


def build_parser() -> argparse.ArgumentParser:
    parser = cli_parser("python -m ml.train", __doc__.split("\n")[0])
    data = parser.add_argument_group("data")
    data.add_argument("--release", type=Path, required=True, help="release directory")
    data.add_argument("--video-root", type=Path, help="directory for relative video paths")
    data.add_argument("--frames", type=int, help="frames per clip (default 16; 8 for tsm_r50)")
    data.add_argument("--crop", type=int, default=224, help="square crop side in pixels")
    data.add_argument("--resize", type=int, help="short side before cropping (default crop*8/7)")
    data.add_argument("--no-flip", action="store_true", help="no horizontal flips")
    data.add_argument("--audio-seconds", type=float, default=3.0)
    data.add_argument("--require-audio", action="store_true",
                      help="leave out clips without an audio stream (else: silent waveform)")
    data.add_argument("--workers", type=int, default=default_workers(), help="decoding processes per GPU/process")
    data.add_argument("--clip-cache", type=Path,
                      help="decoded-clip cache to read frames from (python -m ml.clip_cache builds it)")
    model = parser.add_argument_group("model")
    model.add_argument("--model", choices=sorted(BUILDERS), help="architecture")
    model.add_argument("--width", type=int, help="stem channels (tiny models for tests)")
    model.add_argument("--depth", type=int, nargs=4, metavar="N", help="blocks per ResNet stage")
    model.add_argument("--norm", choices=("batch", "frozen", "group"), default="batch")
    model.add_argument("--dropout", type=float, help="dropout before the classifier")
    model.add_argument("--pretrained-2d", type=Path, help="torchvision-format ResNet-50 weights")
    model.add_argument("--audio-width", type=int, help="SoundNet conv1 channels in fusion")
    model.add_argument("--video-init", type=Path, help="fusion: trained I3D checkpoint")
    model.add_argument("--audio-init", type=Path, help="fusion: trained SoundNet checkpoint")
    model.add_argument("--train-backbones", action="store_true",
                       help="fusion: train the backbones too (default: linear layer only)")
    model.add_argument("--init-from", type=Path,
                       help="fine-tune this checkpoint (new classifier when the vocabulary differs)")
    optim = parser.add_argument_group("optimisation")
    optim.add_argument("--loss", choices=sorted(LOSSES), default="wlsep")
    optim.add_argument("--class-weight-alpha", type=float, default=DEFAULT_ALPHA,
                       help="w_i = (N / (C n_i))^alpha normalised to mean 1; 0 turns weighting off")
    optim.add_argument("--unlabelled", type=parse_unlabelled, default="negative", metavar="negative|ignore|weight=A",
                       help=UNLABELLED_HELP)
    optim.add_argument("--epochs", type=int, default=30)
    optim.add_argument("--batch-size", type=int, default=8, help="clips per step per process")
    optim.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd")
    optim.add_argument("--lr", type=float, default=0.01)
    optim.add_argument("--momentum", type=float, default=0.9)
    optim.add_argument("--weight-decay", type=float, default=1e-4)
    optim.add_argument("--warmup-epochs", type=float, default=0.0)
    optim.add_argument("--amp", choices=("auto", "off", "fp16", "bf16"), default="auto",
                       help="autocast: auto = bf16 (fp16 if unsupported) on CUDA, off on CPU")
    optim.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm across GPUs")
    run = parser.add_argument_group("run")
    run.add_argument("--out", type=Path, required=True, help="run directory")
    run.add_argument("--resume", action="store_true",
                     help="continue from RUN_DIR/checkpoint.pt (start afresh when there is none)")
    run.add_argument("--stop-after", type=int,
                     help="stop after this many epochs in this invocation (time-limited jobs)")
    run.add_argument("--select-metric", choices=SELECT_METRICS, default="micro_map",
                     help="validation metric that picks best.pt")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _compact(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


def _model_from_args(args: argparse.Namespace, num_classes: int) -> tuple[str, dict[str, Any]]:
    """Builder name and keyword arguments from the command line."""
    depth = tuple(args.depth) if args.depth else None
    video = _compact({"width": args.width, "depth": depth, "norm": args.norm, "dropout": args.dropout})
    if args.model == "i3d_r50":
        return args.model, {"num_classes": num_classes, **video,
                            **_compact({"pretrained_2d": args.pretrained_2d})}
    if args.model == "tsm_r50":
        return args.model, {"num_classes": num_classes, "num_segments": args.frames, **video,
                            **_compact({"pretrained_2d": args.pretrained_2d})}
    if args.model == "soundnet":
        norm = "group" if args.norm == "group" else "batch"
        return args.model, {"num_classes": num_classes,
                            **_compact({"width": args.width, "norm": norm, "dropout": args.dropout})}
    audio = _compact({"width": args.audio_width, "norm": "group" if args.norm == "group" else "batch"})
    if args.video_init:
        video = _backbone_kwargs(args.video_init, "i3d_r50", "video-init")
    elif args.pretrained_2d:
        video["pretrained_2d"] = args.pretrained_2d
    if args.audio_init:
        audio = _backbone_kwargs(args.audio_init, "soundnet", "audio-init")
    return "fusion", {"num_classes": num_classes, "video": video, "audio": audio,
                      "freeze_backbones": not args.train_backbones}


def _backbone_kwargs(path: Path, expected: str, flag: str) -> dict[str, Any]:
    saved = load_checkpoint(path)
    if saved["builder"] != expected:
        raise UsageError(ERR_FUSION_INIT.format(flag=flag, expected=expected, path=path, found=saved["builder"]))
    return {k: v for k, v in saved["builder_kwargs"].items() if k != "num_classes"}


def _load_backbone(module: nn.Module, path: Path) -> None:
    state = load_checkpoint(path)["model"]
    module.load_state_dict({k: v for k, v in state.items() if not k.startswith("classifier.")}, strict=False)


def _transfer(model: nn.Module, saved: dict[str, Any], vocabulary: Vocabulary) -> None:
    """Load a checkpoint for fine-tuning; a new classifier keeps the rows of shared actions."""
    state = dict(saved["model"])
    old_names = [r["name"] for r in sorted(saved["vocabulary"], key=lambda r: int(r["index"]))]
    if old_names != list(vocabulary.names):
        weight, bias = state.pop("classifier.weight"), state.pop("classifier.bias")
        classifier = unwrap(model).classifier
        with torch.no_grad():
            for new_index, name in enumerate(vocabulary.names):
                if name in old_names:
                    classifier.weight[new_index] = weight[old_names.index(name)]
                    classifier.bias[new_index] = bias[old_names.index(name)]
        log.info("new classifier: %d of %d actions shared with the checkpoint",
                 sum(n in old_names for n in vocabulary.names), len(vocabulary))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("classifier.")]
    if missing or unexpected:
        log.warning("--init-from: missing %s, unexpected %s", missing, unexpected)


def _schedule(total_steps: int, warmup_steps: int):
    """Linear warm-up then cosine decay to 0, as a ``LambdaLR`` factor per step."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return factor


def _amp_dtype(choice: str, device: torch.device) -> torch.dtype | None:
    if choice == "off" or (choice == "auto" and device.type != "cuda"):
        return None
    if choice == "fp16":
        return torch.float16
    if choice == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def _prepare_model(args: argparse.Namespace, release: Release) -> tuple[nn.Module, str, dict, dict | None]:
    """Build the model; returns ``(model, builder, kwargs, resumed checkpoint or None)``."""
    num_classes = len(release.vocabulary)
    resume_path = args.out / "checkpoint.pt"
    if args.resume and resume_path.is_file():
        saved = load_checkpoint(resume_path)
        if args.model and args.model != saved["builder"]:
            raise UsageError(ERR_MODEL_MISMATCH.format(given=args.model, saved=saved["builder"], path=resume_path))
        if Vocabulary.from_records(saved["vocabulary"]).names != release.vocabulary.names:
            raise UsageError(ERR_RESUME_VOCABULARY.format(path=resume_path))
        model = build_model(saved["builder"], **saved["builder_kwargs"])
        model.load_state_dict(saved["model"])
        return model, saved["builder"], saved["builder_kwargs"], saved
    if args.init_from:
        saved = load_checkpoint(args.init_from)
        if args.model and args.model != saved["builder"]:
            raise UsageError(ERR_MODEL_MISMATCH.format(given=args.model, saved=saved["builder"], path=args.init_from))
        builder, kwargs = saved["builder"], {**saved["builder_kwargs"], "num_classes": num_classes}
        if args.dropout is not None and "dropout" in kwargs:
            kwargs["dropout"] = args.dropout
        model = build_model(builder, **kwargs)
        _transfer(model, saved, release.vocabulary)
        return model, builder, kwargs, None
    if not args.model:
        raise UsageError(ERR_NO_MODEL)
    builder, kwargs = _model_from_args(args, num_classes)
    model = build_model(builder, **kwargs)
    if builder == "fusion":
        if args.video_init:
            _load_backbone(model.video, args.video_init)
        if args.audio_init:
            _load_backbone(model.audio, args.audio_init)
    return model, builder, kwargs, None


def _saved_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Builder kwargs for the checkpoint: weights files dropped (the state dict has them)."""
    out = {}
    for key, value in kwargs.items():
        if key in ("pretrained_2d", "pretrained"):
            continue
        out[key] = _saved_kwargs(value) if isinstance(value, dict) else value
    return jsonable(out)


def train(args: argparse.Namespace) -> Path:
    """Run training as configured by ``args`` (see ``build_parser``); returns the run directory."""
    ctx = distributed.setup(args.device)
    logging.basicConfig(level=logging.INFO if ctx.is_main else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _train(args, ctx)
    finally:
        distributed.teardown()


def _open_cache(root: Path | None, spec: ClipSpec) -> ClipCache | None:
    """The ``--clip-cache`` directory, checked against the clip size; ``None`` without one."""
    if root is None or "video" not in spec.modalities:
        return None
    try:
        cache = ClipCache.open(root)
    except FileNotFoundError as error:
        raise SystemExit(str(error)) from error
    if cache.short_side < spec.crop:
        raise SystemExit(ERR_CACHE_SMALL.format(root=root, side=cache.short_side, crop=spec.crop))
    if cache.frames < spec.num_frames:
        log.warning("the clip cache keeps %d frames per video, fewer than the %d asked: frames repeat",
                    cache.frames, spec.num_frames)
    log.info("reading frames from the clip cache %s (%d videos, %s)", root, len(cache), cache.fmt)
    return cache


def _train(args: argparse.Namespace, ctx: distributed.Context) -> Path:
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    release = load_release(args.release, video_root=args.video_root)
    train_videos = release.split("train")
    val_videos = release.splits.get("val")
    vocabulary = release.vocabulary

    model, builder, kwargs, resumed = _prepare_model(args, release)
    if args.frames is None:
        args.frames = kwargs.get("num_segments", DEFAULT_FRAMES.get(builder, 16))
    spec = ClipSpec(modalities=tuple(model.modalities), num_frames=args.frames, crop=args.crop,
                    resize=args.resize, audio_seconds=args.audio_seconds, flip=not args.no_flip,
                    require_audio=args.require_audio)
    cache = _open_cache(args.clip_cache, spec)

    loss_fn = get_loss(args.loss)
    unknown = unknown_weight(args.unlabelled)
    if unknown is not None:
        loss_fn = functools.partial(loss_fn, unknown_weight=unknown)
    weights = None
    if resumed is not None:
        weights = None if resumed["class_weights"] is None else np.asarray(resumed["class_weights"], np.float32)
    elif args.loss == "lsep":
        if args.class_weight_alpha:
            log.info(ERR_LSEP_WEIGHTS)
    else:
        counts = positive_counts([v.labels for v in train_videos], len(vocabulary))
        weights = class_weights(counts, len(train_videos), alpha=args.class_weight_alpha)
    weight_tensor = None if weights is None else torch.from_numpy(weights).to(ctx.device)

    if args.sync_bn and ctx.distributed and ctx.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    elif args.sync_bn:
        log.warning("--sync-bn needs several CUDA processes; ignored")
    model = model.to(ctx.device)
    if ctx.distributed:
        model = DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)

    pin = ctx.device.type == "cuda"
    train_set = VideoDataset(train_videos, num_classes=len(vocabulary), spec=spec, train=True, seed=args.seed,
                             three_state=unknown is not None, cache=cache)
    train_loader = make_loader(train_set, batch_size=args.batch_size, shuffle=True, num_workers=args.workers,
                               seed=args.seed, world_size=ctx.world_size, rank=ctx.rank, pin_memory=pin)
    val_loader = None
    if val_videos:
        val_set = VideoDataset(val_videos, num_classes=len(vocabulary), spec=spec, train=False, seed=args.seed,
                               cache=cache)
        val_loader = make_loader(val_set, batch_size=args.batch_size, shuffle=False, num_workers=args.workers,
                                 world_size=ctx.world_size, rank=ctx.rank, pin_memory=pin)

    parameters = [p for p in model.parameters() if p.requires_grad]
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(parameters, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    else:
        optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = len(train_loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _schedule(args.epochs * steps_per_epoch, round(args.warmup_epochs * steps_per_epoch)))
    amp_dtype = _amp_dtype(args.amp, ctx.device)
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=amp_dtype == torch.float16)

    start_epoch, history = 0, []
    best = {"metric": args.select_metric, "value": None, "epoch": None}
    if resumed is not None:
        optimizer.load_state_dict(resumed["optimizer"])
        scheduler.load_state_dict(resumed["scheduler"])
        scaler.load_state_dict(resumed["scaler"])
        restore_rng(resumed["rng"])
        start_epoch, history, best = resumed["epoch"], list(resumed["history"]), dict(resumed["best"])
        log.info("resuming %s after epoch %d", args.out / "checkpoint.pt", start_epoch)

    config = {
        **vars(args),
        "builder": builder,
        "builder_kwargs": _saved_kwargs(kwargs),
        "clip": vars(spec),
        "world_size": ctx.world_size,
        "device": str(ctx.device),
        "amp_dtype": None if amp_dtype is None else str(amp_dtype).removeprefix("torch."),
        "class_weights": "w_i = (N / (C * max(n_i, 1)))^alpha / mean" if weights is not None else None,
        "unknown_weight": unknown,  # --unlabelled as the losses take it (None: unlabelled classes are target 0)
        "num_classes": len(vocabulary),
        "num_train_videos": len(train_videos),
        "num_val_videos": len(val_videos or ()),
    }
    if ctx.is_main:
        args.out.mkdir(parents=True, exist_ok=True)
        write_json(args.out / "config.json", config)

    def payload(epoch: int) -> dict[str, Any]:
        return {
            "builder": builder,
            "builder_kwargs": _saved_kwargs(kwargs),
            "model": unwrap(model).state_dict(),
            "vocabulary": vocabulary.to_records(),
            "clip": jsonable(vars(spec)),
            "loss": args.loss,
            "class_weights": None if weights is None else weights.tolist(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": capture_rng(),
            "epoch": epoch,
            "history": history,
            "best": best,
            "config": jsonable(config),
        }

    # RUN_DIR/progress.json, rewritten as the run goes (ml/progress.py): what the platform follows.
    progress = Progress(args.out / "progress.json" if ctx.is_main else None)
    ran = 0
    for epoch in range(start_epoch, args.epochs):
        if args.stop_after is not None and ran >= args.stop_after:
            log.info("stopping after %d epoch(s) as asked (--stop-after); --resume continues", ran)
            return args.out
        started = time.perf_counter()
        train_loader.sampler.set_epoch(epoch)
        lr = optimizer.param_groups[0]["lr"]
        progress.update(phase="train", epoch=epoch + 1, epochs=args.epochs, step=0, steps=len(train_loader))
        train_loss = train_one_epoch(
            model, train_loader, loss_fn=loss_fn, class_weights=weight_tensor, optimizer=optimizer,
            scheduler=scheduler, scaler=scaler, ctx=ctx, amp_dtype=amp_dtype,
            progress=not args.no_progress, description=f"epoch {epoch + 1}/{args.epochs}",
            on_step=lambda step: progress.update(step=step + 1))
        entry: dict[str, Any] = {"epoch": epoch + 1, "train_loss": train_loss, "lr": lr}
        if val_loader is not None:
            progress.update(phase="val", step=0, steps=len(val_loader))
            outputs = infer(model, val_loader, ctx=ctx, amp_dtype=amp_dtype,
                            progress=not args.no_progress, description="val",
                            on_step=lambda step: progress.update(step=step + 1))
            if len(outputs.indices):
                entry.update({f"val_{k}": v for k, v in evaluate(outputs.logits, outputs.targets).items()})
        entry["time"] = time.perf_counter() - started
        history.append(jsonable(entry))
        score = entry.get(f"val_{args.select_metric}")
        if score is None or math.isnan(score):  # no validation signal: the latest is the best
            improved = True
        else:
            improved = best["value"] is None or score > best["value"]
        if improved:
            best = {"metric": args.select_metric, "value": score, "epoch": epoch + 1}
        if ctx.is_main:
            log.info("epoch %d: %s", epoch + 1, {k: round(v, 4) for k, v in entry.items() if isinstance(v, float)})
            save_checkpoint(args.out / "checkpoint.pt", payload(epoch + 1))
            if improved:
                shutil.copyfile(args.out / "checkpoint.pt", args.out / "best.pt")
            write_json(args.out / "metrics.json", history)
            plot_history(history, args.out / "metrics.png")
            progress.update(phase="epoch", last=history[-1])
        distributed.barrier(ctx)
        ran += 1

    progress.update(phase="evaluate", epoch=args.epochs, epochs=args.epochs, step=0, steps=0)
    _final_evaluation(args, ctx, model, release, spec, amp_dtype, progress)
    progress.update(phase="done")
    return args.out


def _final_evaluation(args: argparse.Namespace, ctx: distributed.Context, model: nn.Module,
                      release: Release, spec: ClipSpec, amp_dtype: torch.dtype | None,
                      progress: Progress | None = None) -> None:
    """Evaluate ``best.pt`` on the val and test splits into ``RUN_DIR/eval.json``."""
    best_path = args.out / "best.pt"
    if not best_path.is_file():
        return
    best = load_checkpoint(best_path, map_location="cpu")
    unwrap(model).load_state_dict(best["model"])
    report: dict[str, Any] = {"checkpoint": str(best_path), "epoch": best["epoch"], "splits": {}}
    for split in ("val", "test"):
        videos = release.splits.get(split)
        if not videos:
            continue
        dataset = VideoDataset(videos, num_classes=len(release.vocabulary), spec=spec, train=False)
        loader = make_loader(dataset, batch_size=args.batch_size, shuffle=False, num_workers=args.workers,
                             world_size=ctx.world_size, rank=ctx.rank)
        if progress is not None:
            progress.update(phase=f"evaluate {split}", step=0, steps=len(loader))
        outputs = infer(model, loader, ctx=ctx, amp_dtype=amp_dtype, progress=not args.no_progress,
                        description=split,
                        on_step=None if progress is None else (lambda step: progress.update(step=step + 1)))
        report["splits"][split] = evaluation_report(outputs, release.vocabulary, num_videos=len(videos))
    if ctx.is_main:
        write_json(args.out / "eval.json", report)
        for split, result in report["splits"].items():
            log.info("%s: %s", split, {k: result[k] for k in SELECT_METRICS})


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = parse_with_config(build_parser(), argv)
    try:
        train(args)
    except (ReleaseError, UsageError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
