"""The LightningModule of MC-SimCLR pretraining: it wires features, augmentations, encoder, head and loss."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch import nn

from mcsimclr.augment.config import AugmentConfig
from mcsimclr.augment.simclr_views import SimCLRViews
from mcsimclr.checkpoint import checkpoint_metadata
from mcsimclr.features.spatial_features import SpatialFeatures
from mcsimclr.losses.ntxent import NTXentLoss
from mcsimclr.models.crnn import CRNNEncoder
from mcsimclr.models.projection_head import ProjectionHead
from mcsimclr.pretrain.config import OptimConfig
from mcsimclr.pretrain.schedule import warmup_cosine


def step_generator(*, seed: int, rank: int, step: int, device: torch.device) -> torch.Generator:
    """The generator of one training step: crops and augmentations depend on (seed, rank, step) only, so a run
    resumed from a checkpoint draws exactly what the uninterrupted run would have drawn."""
    state = np.random.SeedSequence([seed, rank, step]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)


class SimCLRModule(L.LightningModule):
    """Two views -> encoder -> projection head -> NT-Xent.

    Args:
        features: feature extractor (no parameters).
        augment: which augmentations make the views.
        encoder, head: the networks; the head is discarded after pretraining.
        branch_heads: with a split encoder and ``optim.branch_loss_weight > 0``: one projection head for the Mel
            half and one for the GCC half of the embedding; each half gets its own NT-Xent loss, weighted by
            ``branch_loss_weight`` and added to the joint one (not in the paper; discarded after pretraining).
        optim: optimiser, schedule and loss temperature.
        mic_offsets: the data's array ``(mics, 3)``, for ChannelSwap and the checkpoint.
        array_geometry: the array's name, for the checkpoint.
        crop_samples: length of each view in samples.
        seed: the run's seed (per-step generators derive from it).
        config_yaml: the resolved run config, stored in checkpoints.
    """

    def __init__(self, *, features: SpatialFeatures, augment: AugmentConfig, encoder: CRNNEncoder,
                 head: ProjectionHead, optim: OptimConfig, branch_heads: list[ProjectionHead] | None = None,
                 mic_offsets: np.ndarray, array_geometry: str,
                 crop_samples: int, seed: int, config_yaml: str) -> None:
        super().__init__()
        self.features = features
        self.views = SimCLRViews.from_config(augment, features, mic_positions=mic_offsets)
        self.encoder = encoder
        self.head = head
        self.branch_heads = nn.ModuleList(branch_heads) if branch_heads else None
        if self.branch_heads is not None and (len(self.branch_heads) != 2 or optim.branch_loss_weight <= 0):
            raise ValueError("branch_heads: give two heads (Mel half, GCC half) and optim.branch_loss_weight > 0")
        self.loss_fn = NTXentLoss(temperature=optim.temperature)
        self.optim_cfg = optim
        self.mic_offsets = np.asarray(mic_offsets, dtype=np.float64)
        self.array_geometry = array_geometry
        self.crop_samples = crop_samples
        self.seed = seed
        self.config_yaml = config_yaml
        self.steps_per_epoch = 1

    def on_train_epoch_start(self) -> None:
        self.trainer.datamodule.set_epoch(self.current_epoch)

    def on_after_batch_transfer(self, batch, dataloader_idx: int = 0):
        """Device mode: the batch is a tensor of clip indices; cut the two crops here, on the device."""
        if isinstance(batch, torch.Tensor) and batch.dtype == torch.int64:
            store = self.trainer.datamodule.store
            g = step_generator(seed=self.seed, rank=self.global_rank, step=self.global_step, device=batch.device)
            a, b = store.pairs(batch, self.crop_samples, max_shift=self.trainer.datamodule.max_shift, generator=g)
            return torch.stack([a, b], dim=1)
        return batch["audio"]

    def training_step(self, waveforms: torch.Tensor, batch_idx: int) -> torch.Tensor:
        """``waveforms (batch, 2, mics, samples)`` -> NT-Xent loss."""
        g = step_generator(seed=self.seed + 1, rank=self.global_rank, step=self.global_step, device=waveforms.device)
        with torch.no_grad():
            v1, v2 = self.views(waveforms, generator=g)
        h = self.encoder(torch.cat([v1, v2]))
        z1, z2 = self.head(h).chunk(2)
        loss = self.loss_fn(z1, z2)
        if self.branch_heads is not None:
            self.log("train/loss_joint", loss, on_step=False, on_epoch=True, sync_dist=True,
                     batch_size=waveforms.shape[0])
            halves = h.chunk(2, dim=1)  # (2 * batch, embed_dim // 2) each: Mel branch, GCC branch
            for name, half, head in zip(("mel", "gcc"), halves, self.branch_heads, strict=True):
                b1, b2 = head(half).chunk(2)
                part = self.loss_fn(b1, b2)
                self.log(f"train/loss_{name}", part, on_step=False, on_epoch=True, sync_dist=True,
                         batch_size=waveforms.shape[0])
                loss = loss + self.optim_cfg.branch_loss_weight * part
        # Per step: this process's loss, neither reduced across processes nor shown in the progress bar, so
        # that no step waits for the device (Lightning reads it on the host only every log_every_n_steps).
        # Per epoch: the mean over all processes, reduced once at the end of the epoch.
        self.log("train/loss_step", loss.detach(), on_step=True, on_epoch=False, batch_size=waveforms.shape[0])
        self.log("train/loss_epoch", loss.detach(), on_step=False, on_epoch=True, sync_dist=True, prog_bar=True,
                 batch_size=waveforms.shape[0])
        return loss

    def configure_optimizers(self):
        o = self.optim_cfg
        params = list(self.encoder.parameters()) + list(self.head.parameters())
        if self.branch_heads is not None:
            params += list(self.branch_heads.parameters())
        if o.optimizer == "sgd":
            opt = torch.optim.SGD(params, lr=o.lr, momentum=0.9, weight_decay=o.weight_decay)
        elif o.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
        else:
            opt = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
        warmup, total = o.warmup_epochs * self.steps_per_epoch, o.epochs * self.steps_per_epoch
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: warmup_cosine(step, warmup_steps=warmup, total_steps=total))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["mcsimclr"] = checkpoint_metadata(features=self.features, encoder=self.encoder,
                                                     mic_offsets=self.mic_offsets, array_geometry=self.array_geometry,
                                                     config_yaml=self.config_yaml)
