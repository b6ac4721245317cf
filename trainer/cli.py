"""``lowlight train``: argument parsing and a per-epoch progress line with ETA."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from core.config import PRESETS
from core.errors import CancelledError, CoreError
from core.progress import format_duration

from .config import (
    PICTURE_AUGMENT_PARTS,
    PICTURE_COLOUR_WEIGHT,
    PICTURE_TRIAL_PARTS,
    AugmentConfig,
    DataConfig,
    OptimConfig,
    TrainConfig,
    picture_augment,
)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``lowlight train`` options on ``parser``."""
    parser.add_argument("--data", required=True, help="dataset folder: LOL layout (our485/, eval15/), "
                        "train/ + val/, or low/ + high/ with matching file names")
    val = parser.add_mutually_exclusive_group()
    val.add_argument("--val-data", help="separate validation folder (low/ + high/)")
    val.add_argument("--val-split", type=float, help="fraction of the training pairs held out (fixed seed)")
    parser.add_argument("--preset", default="lite", choices=sorted(PRESETS), help="model size (default: lite)")
    parser.add_argument("--epochs", type=int, default=50, help="number of epochs (default: 50)")
    parser.add_argument("--out", required=True, help="run folder: weights/, metrics.json, curves.png, resume state")
    parser.add_argument("--crop", type=int, default=128, help="training crop size in pixels (default: 128)")
    parser.add_argument("--batch", type=int, default=8, help="batch size (default: 8)")
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (default: 1e-4)")
    parser.add_argument("--schedule", choices=["plateau", "cosine"], default="plateau",
                        help="ReduceLROnPlateau on validation PSNR (default) or cosine annealing")
    parser.add_argument("--scale-jitter", type=float, default=1.0, metavar="S",
                        help="crops cover up to crop/S source pixels, resized to crop (default 1: none)")
    parser.add_argument("--context-window", type=int,
                        help="local pooling window (px) at validation/inference (default 1.5 x crop)")
    parser.add_argument("--warmup-epochs", type=int, default=0, help="linear learning-rate warm-up epochs")
    parser.add_argument("--plateau-patience", type=int, default=5,
                        help="epochs without PSNR gain before the plateau schedule halves the rate")
    parser.add_argument("--samples-per-epoch", type=int, help="crops per epoch (default: one per training pair)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                        help="auto: bf16 autocast on GPU, fp32 on CPU")
    parser.add_argument("--ssim-weight", type=float, default=0.0,
                        help="add this weight times (1 - SSIM) to the Charbonnier loss (default 0)")
    parser.add_argument("--init-weights", metavar="FILE",
                        help="fine-tune: start from these weights (same preset) instead of a random init")
    parser.add_argument("--colour-weight", type=float, default=None,
                        help="weight of the chroma L1 term (default: 0.5 with --recipe picture, else 0)")
    parser.add_argument("--ignore-clipped-targets", action="store_true",
                        help="no loss where the reference is clipped (a channel >= 250) or within 3 px of it "
                             "(an ablation: it made the network blow bright skies, see README)")
    parser.add_argument("--highlight-knee", type=float, default=None, metavar="LEVEL",
                        help="linear level (0-1) where the exposure gain's highlight shoulder starts; the "
                             "weights keep it (default: that of the --init-weights, else the preset's, 0.85)")
    parser.add_argument("--shoulder-hue", type=float, default=None, metavar="SHARE",
                        help="how much (0-1) of highlights' hue and saturation the shoulder keeps: 1 rolls off "
                             "each pixel's brightest channel and scales the others with it, 0 rolls each channel "
                             "off alone (default: that of the --init-weights, else the preset's, 0)")
    parser.add_argument("--recipe", choices=["picture", "classic"], default="picture",
                        help="picture (default): true exposure from the pairs, EV jitter, highlight shoulder, "
                             "JPEG, chroma-noise and banding augmentation; classic: fixed-key exposure, "
                             "darkening + sensor noise only (runs made before the picture recipe)")
    parser.add_argument("--without", action="append", default=[], metavar="PART",
                        choices=sorted(PICTURE_AUGMENT_PARTS),
                        help="leave one part of the picture recipe out (repeatable; for ablations)")
    parser.add_argument("--with", dest="with_parts", action="append", default=[], metavar="PART",
                        choices=sorted(PICTURE_TRIAL_PARTS),
                        help="add a trial part to the picture recipe (repeatable; for ablations): "
                             + ", ".join(sorted(PICTURE_TRIAL_PARTS)))
    parser.add_argument("--no-augment", action="store_true", help="no darkening / sensor-noise augmentation")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    start.add_argument("--overwrite", action="store_true",
                       help="start again in an --out that holds a run, deleting its weights, metrics and resume "
                            "state (without --resume or --overwrite such a folder is refused)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, help="stop cleanly (resumable) after this many minutes")
    parser.add_argument("--val-max-side", type=int, help="downscale validation images larger than this")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (GPU)")


def augment_from_args(args: argparse.Namespace) -> AugmentConfig:
    """The augmentation a ``--recipe`` (less its ``--without`` parts) and ``--no-augment`` describe."""
    if args.no_augment:
        return AugmentConfig(darken_prob=0.0, noise_prob=0.0)
    if args.recipe == "classic":
        return AugmentConfig()
    return picture_augment(args.without, args.with_parts)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    augment = augment_from_args(args)
    colour = args.colour_weight if args.colour_weight is not None else (
        PICTURE_COLOUR_WEIGHT if args.recipe == "picture" else 0.0)
    return TrainConfig(
        out_dir=args.out,
        data=DataConfig(train_dir=args.data, val_dir=args.val_data, val_split=args.val_split, crop=args.crop,
                        batch_size=args.batch, samples_per_epoch=args.samples_per_epoch,
                        val_max_side=args.val_max_side, scale_range=(min(args.scale_jitter, 1.0), 1.0)),
        preset=args.preset,
        epochs=args.epochs,
        device=args.device,
        seed=args.seed,
        precision=args.precision,
        compile=args.compile,
        context_window=args.context_window,
        augment=augment,
        optim=OptimConfig(lr=args.lr, schedule=args.schedule, warmup_epochs=args.warmup_epochs,
                          plateau_patience=args.plateau_patience, ssim_weight=args.ssim_weight,
                          colour_weight=colour, ignore_clipped_targets=args.ignore_clipped_targets),
        init_weights=args.init_weights,
        highlight_knee=args.highlight_knee,
        shoulder_hue=args.shoulder_hue,
        time_limit_s=args.time_limit * 60 if args.time_limit else None,
    )


def run_train(args: argparse.Namespace) -> int:
    """Run ``lowlight train``; returns the process exit code."""
    from .checkpoint import CheckpointError, prepare_run_folder
    from .loop import EpochEvent, StepEvent, train

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        prepare_run_folder(Path(cfg.out_dir), resume=args.resume, overwrite=getattr(args, "overwrite", False))
    except (CheckpointError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()

    def report(event: StepEvent | EpochEvent) -> None:
        if isinstance(event, StepEvent):
            print(f"\r  epoch {event.epoch}/{event.epochs}  step {event.step}/{event.steps}  "
                  f"loss {event.loss:.4f}", end="", file=sys.stderr, flush=True)
        else:
            m = event.metrics
            print(f"\repoch {event.epoch}/{event.epochs}  loss {m['loss']:.4f}  val PSNR {m['val_psnr']:.2f} dB  "
                  f"SSIM {m['val_ssim']:.3f}  best {event.best_psnr:.2f} dB  lr {m['lr']:.2e}  "
                  f"{format_duration(m['time_s'])}/epoch  ETA {format_duration(event.eta_s)}", file=sys.stderr, flush=True)

    try:
        result = train(cfg, resume=args.resume, callback=report)
    except CancelledError as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 1
    except (CoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    b = result.baseline
    print(f"done in {format_duration(time.monotonic() - started)}: best val PSNR {result.best_psnr:.2f} dB / "
          f"SSIM {result.best_ssim:.3f} (input: {b.get('input_psnr', float('nan')):.2f} dB / "
          f"{b.get('input_ssim', float('nan')):.3f})")
    print(f"weights: {result.best_weights}")
    if not result.completed:
        print("stopped before the last epoch; run again with --resume to continue")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lowlight train", description="Train MIRNet on paired low/normal-light photos.")
    add_train_arguments(parser)
    return run_train(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
