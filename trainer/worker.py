"""Training in a child process, speaking JSON lines: ``python -m trainer.worker --config C.json [--resume]``.

Every event is one JSON object on one line of stdout (nothing else is written there): the
typed events of :mod:`trainer.protocol` (started, step, epoch, done, cancelled, error), which
the wizard decodes with the same dataclasses.

Stopping: create the file ``STOP`` in the run folder, or send SIGTERM/SIGINT; the run stops at the
next training step. Exit status: 0 done, 1 cancelled, 2 error. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, Any

import numpy as np

from core.atomic import write_atomically

from . import protocol
from .config import TrainConfig

log = logging.getLogger(__name__)

STOP_FILE = "STOP"
PREVIEW_DIR = "previews"
PREVIEW_SIDE = 240  # longest side of each of the three preview panels
EXIT_DONE, EXIT_CANCELLED, EXIT_ERROR = 0, 1, 2


def load_config(path: str | Path) -> TrainConfig:
    """A :class:`TrainConfig` from JSON: ``TrainConfig.to_dict()`` or a run's config.json (``{"config": …}``)."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(raw, dict) and "config" in raw and "data" not in raw:
        raw = raw["config"]
    return TrainConfig.from_dict(raw)


class Emitter:
    """Writes one protocol event per line to the stream (thread-safe, flushed)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def __call__(self, event: protocol.WorkerEvent) -> None:
        line = protocol.encode(event)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()


def _panel(image: np.ndarray, height: int) -> np.ndarray:
    from PIL import Image

    if image.dtype != np.uint8:
        image = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    h, w = image.shape[:2]
    if h == height:
        return image
    width = max(1, round(w * height / h))
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS))


def write_preview(path: Path, low: np.ndarray, output: np.ndarray, target: np.ndarray,
                  max_side: int = PREVIEW_SIDE) -> Path:
    """Save input | output | target side by side (each downscaled to ``max_side``), atomically."""
    from PIL import Image

    h, w = low.shape[:2]
    height = max(1, min(h, round(h * max_side / max(h, w))))
    gap = np.full((height, 4, 3), 32, dtype=np.uint8)
    panels = [_panel(low, height), gap, _panel(output, height), gap, _panel(target, height)]
    strip = np.concatenate(panels, axis=1)
    return write_atomically(path, lambda tmp: Image.fromarray(strip).save(tmp, format="PNG"))


class StopRequest:
    """``should_stop`` for :func:`trainer.loop.train`: a STOP file in the run folder, or a signal."""

    def __init__(self, out_dir: Path) -> None:
        self.stop_file = out_dir / STOP_FILE
        self.signalled = False

    def clear(self) -> None:
        self.stop_file.unlink(missing_ok=True)

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: Any) -> None:
            log.info("signal %d: stopping at the next step", signum)
            self.signalled = True

        for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
            sig = getattr(signal, name, None)
            if sig is not None:
                signal.signal(sig, handler)

    def __call__(self) -> bool:
        return self.signalled or self.stop_file.exists()


def run(cfg: TrainConfig, *, resume: bool, emit: Emitter) -> int:
    """Train ``cfg`` (or resume it), reporting through ``emit``; returns the exit status."""
    from core.errors import CancelledError, CoreError

    from .loop import EpochEvent, StepEvent, train

    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stop = StopRequest(out_dir)
    stop.clear()
    stop.install_signal_handlers()
    epochs_done = 0

    def on_event(event: StepEvent | EpochEvent) -> None:
        nonlocal epochs_done
        if isinstance(event, StepEvent):
            emit(protocol.Step(epoch=event.epoch, epochs=event.epochs, step=event.step, steps=event.steps,
                               loss=event.loss, elapsed_s=event.elapsed_s))
            return
        epochs_done = event.epoch
        preview = None
        if event.preview is not None and event.preview_input is not None and event.preview_target is not None:
            try:
                preview = str(write_preview(out_dir / PREVIEW_DIR / f"epoch-{event.epoch:04d}.png",
                                            event.preview_input, event.preview, event.preview_target))
            except OSError as exc:  # a preview is never worth stopping the run for
                log.warning("preview not written: %s", exc)
        emit(protocol.Epoch(epoch=event.epoch, epochs=event.epochs, metrics=event.metrics,
                            best_psnr=event.best_psnr, eta_s=event.eta_s, preview=preview))

    emit(protocol.Started(out_dir=str(out_dir), resume=resume, pid=os.getpid(), epochs=cfg.epochs))
    try:
        result = train(cfg, resume=resume, callback=on_event, should_stop=stop)
    except CancelledError as exc:
        emit(protocol.Cancelled(message=str(exc), epochs_done=epochs_done))
        return EXIT_CANCELLED
    except (CoreError, ValueError, OSError) as exc:
        log.error("training failed: %s", exc)
        emit(protocol.Failed(message=str(exc), kind=type(exc).__name__))
        return EXIT_ERROR
    except Exception as exc:  # anything else: report, with the traceback in the log
        log.error("training crashed:\n%s", traceback.format_exc())
        emit(protocol.Failed(message=f"{type(exc).__name__}: {exc}", kind=type(exc).__name__))
        return EXIT_ERROR
    finally:
        stop.clear()
    emit(protocol.Done(completed=result.completed,
                       best_weights=str(result.best_weights) if result.best_weights else None,
                       last_weights=str(result.last_weights) if result.last_weights else None,
                       best_psnr=result.best_psnr, best_ssim=result.best_ssim, baseline=result.baseline,
                       epochs_done=len(result.history)))
    return EXIT_DONE


def _protocol_stream() -> IO[str]:
    """A private handle on stdout for the protocol; stray prints go to stderr from now on."""
    stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return stream


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="TrainConfig as JSON (or a run's config.json)")
    parser.add_argument("--resume", action="store_true", help="continue the run in the config's out_dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    emit = Emitter(_protocol_stream())
    try:
        cfg = load_config(args.config)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        emit(protocol.Failed(message=f"Cannot read the training configuration '{args.config}': {exc}",
                             kind="ConfigError"))
        return EXIT_ERROR
    return run(cfg, resume=args.resume, emit=emit)


if __name__ == "__main__":
    sys.exit(main())
