"""Callbacks of a pretraining run: throughput, and the online kNN probe of representation quality."""

from __future__ import annotations

import time

import lightning as L
import numpy as np
import torch

from mcsimclr.data.clip_store import ClipStore
from mcsimclr.data.crops import gather_crops
from mcsimclr.pretrain.knn import knn_probe


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (a no-op off CUDA)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Throughput(L.Callback):
    """Logs ``train/clips_per_s``: clips (pairs) per second over all processes, on each logging step
    (``trainer.log_every_n_steps``), measured over the steps since the last one.

    A CUDA step only queues kernels, so the host clock means something only where the device has caught up:
    the device is synchronised at the ends of each window (once per ``log_every_n_steps`` steps, not once per
    step). A window restarts at each epoch, so end-of-epoch work (monitor, checkpoints) is not counted.
    """

    def __init__(self) -> None:
        self._start = 0.0
        self._steps = 0

    def _restart(self, pl_module) -> None:
        synchronize(pl_module.device)
        self._start, self._steps = time.perf_counter(), 0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._restart(pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._steps += 1
        # Lightning's own LearningRateMonitor asks the same: whether this step's values reach the loggers.
        if not trainer._logger_connector.should_update_logs:
            return
        synchronize(pl_module.device)
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        n = trainer.datamodule.batch_size * trainer.world_size * self._steps
        pl_module.log("train/clips_per_s", n / elapsed, on_step=True, on_epoch=False, batch_size=n)
        self._start, self._steps = time.perf_counter(), 0


class StopAfterEpochs(L.Callback):
    """End this invocation after ``epochs`` epochs (the checkpoint of the last one is written first)."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self._done = 0

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._done += 1
        if self._done >= self.epochs:
            trainer.should_stop = True


class KNNMonitor(L.Callback):
    """Each ``every_n_epochs``: embed a labelled train and dev split (centre crop of ``crop_samples``, encoder in eval
    mode, no gradient) and log the kNN class accuracy ``monitor/knn_acc`` (%) and azimuth error ``monitor/knn_az_err``
    (degrees). The encoder's training state is restored afterwards.

    Only the first process (global rank 0) loads the splits and embeds them, on the device the module trains on
    (the bank is loaded at fit start, once Lightning has moved the module there); it sends the two values to the
    other processes, which log the same numbers, so every process's checkpoint callback sees the metric.
    """

    def __init__(self, *, train: str, dev: str, crop_samples: int, k: int = 10, max_clips: int = 2000,
                 every_n_epochs: int = 1, n_classes: int) -> None:
        self.paths = {"train": train, "dev": dev}
        self.crop_samples, self.k, self.max_clips = crop_samples, k, max_clips
        self.every_n_epochs, self.n_classes = every_n_epochs, n_classes
        self.data: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def load_bank(self, device: torch.device) -> None:
        """Read the centre crops and labels of both splits onto ``device``:
        ``self.data[name] = (audio (n, mics, crop_samples), label (n,), azimuth_deg (n,))``."""
        for name, path in self.paths.items():
            store = ClipStore(path, device="cpu", dtype=torch.float32)
            idx = torch.arange(min(len(store), self.max_clips))
            lengths = store.lengths[idx]
            # Centre crop: deterministic, so the monitor curve moves only with the encoder.
            starts = ((lengths - self.crop_samples).clamp(min=0) // 2)
            audio = gather_crops(store.audio, store.offsets[idx], lengths, starts, self.crop_samples)
            self.data[name] = (audio.to(device), store.labels["label"][idx].long().to(device),
                               store.labels["azimuth_deg"][idx].float().to(device))

    def on_fit_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self.load_bank(pl_module.device)

    @torch.no_grad()
    def _embed(self, pl_module, audio: torch.Tensor, batch: int = 256) -> torch.Tensor:
        out = [pl_module.encoder(pl_module.features(audio[i : i + batch].to(pl_module.device)))
               for i in range(0, audio.shape[0], batch)]
        return torch.cat(out).float()

    def evaluate(self, pl_module) -> dict[str, float]:
        """``knn_acc`` (%) and ``knn_az_err`` (deg) of the encoder as it is now, on the loaded bank."""
        was_training = pl_module.encoder.training
        pl_module.encoder.eval()
        try:
            emb = {name: self._embed(pl_module, audio) for name, (audio, _, _) in self.data.items()}
        finally:
            pl_module.encoder.train(was_training)
        (_, ytr, atr), (_, ydev, adev) = self.data["train"], self.data["dev"]
        return knn_probe(emb["train"], ytr.to(emb["train"].device), atr.to(emb["train"].device), emb["dev"],
                         ydev.to(emb["dev"].device), adev.to(emb["dev"].device), k=self.k, n_classes=self.n_classes)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        metrics = self.evaluate(pl_module) if trainer.is_global_zero else None
        metrics = trainer.strategy.broadcast(metrics, src=0)
        for key, value in metrics.items():
            pl_module.log(f"monitor/{key}", value, on_epoch=True, prog_bar=True)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        pass


def seconds_to_samples(seconds: float, sample_rate: int) -> int:
    return int(np.round(seconds * sample_rate))
