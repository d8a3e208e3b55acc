"""Callbacks of a pretraining run: throughput, and the online kNN probe of representation quality."""

from __future__ import annotations

import time

import lightning as L
import numpy as np
import torch

from mcsimclr.data.clip_store import ClipStore
from mcsimclr.data.crops import gather_crops
from mcsimclr.pretrain.knn import knn_probe


class Throughput(L.Callback):
    """Logs ``train/clips_per_s``: clips (pairs) per second over all processes, per step."""

    def __init__(self) -> None:
        self._start = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        n = trainer.datamodule.batch_size * trainer.world_size
        pl_module.log("train/clips_per_s", n / elapsed, on_step=True, on_epoch=False, prog_bar=True, batch_size=n)


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
    """Each ``every_n_epochs``: embed a labelled train and test split (centre crop of ``crop_samples``, encoder in eval
    mode, no gradient) and log the kNN class accuracy ``monitor/knn_acc`` (%) and azimuth error ``monitor/knn_az_err``
    (degrees). The encoder's training state is restored afterwards."""

    def __init__(self, *, train: str, test: str, crop_samples: int, k: int = 10, max_clips: int = 2000,
                 every_n_epochs: int = 1, n_classes: int) -> None:
        self.paths = {"train": train, "test": test}
        self.crop_samples, self.k, self.max_clips = crop_samples, k, max_clips
        self.every_n_epochs, self.n_classes = every_n_epochs, n_classes
        self.data: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def setup(self, trainer, pl_module, stage: str) -> None:
        device = pl_module.device if pl_module.device.type != "meta" else torch.device("cpu")
        for name, path in self.paths.items():
            store = ClipStore(path, device="cpu", dtype=torch.float32)
            idx = torch.arange(min(len(store), self.max_clips))
            lengths = store.lengths[idx]
            # Centre crop: deterministic, so the monitor curve moves only with the encoder.
            starts = ((lengths - self.crop_samples).clamp(min=0) // 2)
            audio = gather_crops(store.audio, store.offsets[idx], lengths, starts, self.crop_samples)
            self.data[name] = (audio.to(device), store.labels["label"][idx].long().to(device),
                               store.labels["azimuth_deg"][idx].float().to(device))

    @torch.no_grad()
    def _embed(self, pl_module, audio: torch.Tensor, batch: int = 256) -> torch.Tensor:
        out = [pl_module.encoder(pl_module.features(audio[i : i + batch].to(pl_module.device)))
               for i in range(0, audio.shape[0], batch)]
        return torch.cat(out).float()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        was_training = pl_module.encoder.training
        pl_module.encoder.eval()
        try:
            emb = {name: self._embed(pl_module, audio) for name, (audio, _, _) in self.data.items()}
        finally:
            pl_module.encoder.train(was_training)
        (_, ytr, atr), (_, yte, ate) = self.data["train"], self.data["test"]
        metrics = knn_probe(emb["train"], ytr.to(emb["train"].device), atr.to(emb["train"].device), emb["test"],
                            yte.to(emb["test"].device), ate.to(emb["test"].device), k=self.k,
                            n_classes=self.n_classes)
        for key, value in metrics.items():
            pl_module.log(f"monitor/{key}", value, on_epoch=True, prog_bar=True, sync_dist=True)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        pass


def seconds_to_samples(seconds: float, sample_rate: int) -> int:
    return int(np.round(seconds * sample_rate))
