"""CRNN encoder of MC-SimCLR: spatial features ``(batch, channels, frames, bins)`` -> embedding ``(batch, 128)``.

The paper (Jiang et al., ICASSP 2024, Sec. 4.2) says only "CRNN, embedding dimension 128". The layer sizes
follow the DCASE SELD baseline CRNN (3 conv blocks of 64 filters, frequency pooling 4-4-2, a 2-layer
bidirectional GRU of 128 units), with two convolutions per block and light time pooling. Choices and parameter
counts: docs/model.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from mcsimclr.models.conv_block import ConvBlock

Branches = Literal["joint", "split"]
TemporalPool = Literal["mean", "max", "mean+max"]

#: On CPU the convolutions get their input channels-last: oneDNN then runs forward + backward about 1.3x faster
#: on the 2-core CPU, with the same result up to float rounding (``scripts/bench_encoder.py``, docs/benchmarks.md).
#: On CUDA the layout is left as it comes (not measured yet). A switch for that benchmark, not a setting.
CPU_CHANNELS_LAST = True


class CRNNBranch(nn.Module):
    """One CRNN: conv blocks -> bidirectional GRU over frames -> temporal pooling -> linear.

    ``(batch, in_channels, frames, bins)`` -> ``(batch, out_dim)``. After the conv blocks the remaining bins are
    flattened with the feature maps (not averaged), so the GRU still sees *where* along the bin axis a pattern is:
    for GCC-PHAT maps the lag of the peak is the direction cue. Arguments as in :class:`CRNNEncoder`.
    """

    def __init__(self, *, in_channels: int, n_bins: int, out_dim: int, conv_channels: tuple[int, ...],
                 time_pool: tuple[int, ...], freq_pool: tuple[int, ...], gru_hidden: int, gru_layers: int,
                 temporal_pool: TemporalPool, dropout: float) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.n_bins = n_bins
        self.temporal_pool = temporal_pool
        blocks = []
        channels = in_channels
        for width, t_pool, f_pool in zip(conv_channels, time_pool, freq_pool, strict=True):
            blocks.append(ConvBlock(in_channels=channels, out_channels=width, time_pool=t_pool, freq_pool=f_pool,
                                    dropout=dropout))
            channels = width
        self.convs = nn.Sequential(*blocks)
        bins_left = n_bins // math.prod(freq_pool)
        self.gru = nn.GRU(input_size=channels * bins_left, hidden_size=gru_hidden, num_layers=gru_layers,
                          batch_first=True, bidirectional=True, dropout=dropout if gru_layers > 1 else 0.0)
        pooled = 2 * gru_hidden * (2 if temporal_pool == "mean+max" else 1)
        self.fc = nn.Linear(pooled, out_dim)

    @property
    def frame_dim(self) -> int:
        """Width of the frame sequence, ``2 * gru_hidden`` (both GRU directions)."""
        return 2 * self.gru.hidden_size

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, in_channels, frames, bins)`` -> the GRU's frame sequence ``(batch, frames', frame_dim)``, float32,
        before temporal pooling (``frames' = frames // prod(time_pool)``)."""
        if x.device.type == "cpu" and CPU_CHANNELS_LAST:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.convs(x)  # (batch, maps, frames', bins')
        x = x.permute(0, 2, 1, 3).flatten(2)  # (batch, frames', maps * bins')
        # The GRU runs in float32 whatever autocast says: CUDA autocast casts cuDNN's RNN to float16 even under
        # bf16 autocast (ATen's AutocastRNN.cpp hard-codes kHalf), and a bf16-mixed run has no gradient scaler
        # to keep float16 gradients from underflowing. Its output stays float32; the linear layer after it
        # follows autocast again.
        with torch.autocast(device_type=x.device.type, enabled=False):
            x, _ = self.gru(x.float())  # (batch, frames', 2 * gru_hidden): forward and backward states concatenated
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, in_channels, frames, bins)`` -> ``(batch, out_dim)``; shapes checked by the encoder."""
        x = self.frames(x)
        if self.temporal_pool == "mean":
            pooled = x.mean(dim=1)
        elif self.temporal_pool == "max":
            pooled = x.amax(dim=1)
        else:
            pooled = torch.cat([x.mean(dim=1), x.amax(dim=1)], dim=1)
        return self.fc(pooled)


class CRNNEncoder(nn.Module):
    """Spatial features ``(batch, in_channels, frames, n_bins)`` -> embedding ``(batch, embed_dim)``.

    Per branch: ``len(conv_channels)`` :class:`ConvBlock` s (two 3x3 conv + BatchNorm + ReLU, then max pooling by
    ``(time_pool[i], freq_pool[i])``), the remaining bins flattened into the feature axis, a bidirectional GRU
    over frames, pooling over frames (``temporal_pool``) and a linear layer to the embedding.

    ``frames`` may vary from call to call (a 1 s patch at a 20 ms hop gives 51 frames, longer clips more); it
    must be at least ``prod(time_pool)`` (:attr:`min_frames`, 4 by default). All frames are taken as valid: pad
    with zeros only if that is what the features of silence look like. ``n_bins`` is fixed at construction
    because the flattened bins set the GRU input size.

    Defaults (DCASE SELD baseline CRNN, with two convolutions per block): 3 blocks of 64 maps, frequency pooling
    4-4-2 (64 bins -> 2), time pooling 2-2-1 (20 ms -> 80 ms steps), a 2-layer BiGRU of 128 units, mean+max
    pooling over time (mean for stationary sounds, max for short events; concatenated so the last layer weighs
    them), no dropout (contrastive pretraining, as in SimCLR), embedding 128 (the paper's).

    Args:
        in_channels: input channels; 10 for 4 mics (4 log-Mel then 6 GCC-PHAT).
        n_bins: Mel bins = GCC lags per channel (last input axis).
        embed_dim: embedding size (the output).
        conv_channels: feature maps of each conv block.
        time_pool: pooling factor over frames of each block (same length as ``conv_channels``).
        freq_pool: pooling factor over bins of each block (same length; ``prod(freq_pool) <= n_bins``).
        gru_hidden: GRU units per direction.
        gru_layers: stacked GRU layers.
        temporal_pool: ``"mean"``, ``"max"`` or ``"mean+max"`` (both, concatenated) over the GRU's frames.
        dropout: after each conv block and between GRU layers.
        branches: ``"joint"`` (default, the paper's): one CRNN over all channels. ``"split"`` (not in the paper;
            a prototype found it better, recipe.md "Findings"): one CRNN over the first ``n_mel_channels``
            channels and one over the rest, each with the sizes above and ``embed_dim // 2`` outputs,
            concatenated: ``embedding[:, :embed_dim // 2]`` depends on the Mel channels only and
            ``embedding[:, embed_dim // 2:]`` on the GCC channels only.
        n_mel_channels: leading Mel channels (= mics), used by ``"split"`` only.
        input_norm: ``"batchnorm"`` (default): a ``BatchNorm2d`` over the input channels first, so that every
            channel reaches the convolutions on one scale. Without it the log-Mel channels (tens of dB) swamp the
            GCC-PHAT channels (in [-1, 1]) and a joint encoder learns no direction, even trained supervised
            (measured: 92 deg azimuth error from scratch on the demo data, vs 8 deg with it). ``"none"`` leaves the
            input as it is.

    ``CRNNEncoder(**encoder.get_config())`` rebuilds the same architecture (checkpoints store this dict).
    """

    def __init__(self, *, in_channels: int = 10, n_bins: int = 64, embed_dim: int = 128,
                 conv_channels: Sequence[int] = (64, 64, 64), time_pool: Sequence[int] = (2, 2, 1),
                 freq_pool: Sequence[int] = (4, 4, 2), gru_hidden: int = 128, gru_layers: int = 2,
                 temporal_pool: TemporalPool = "mean+max", dropout: float = 0.0, branches: Branches = "joint",
                 n_mel_channels: int = 4, input_norm: Literal["batchnorm", "none"] = "batchnorm") -> None:
        super().__init__()
        conv_channels, time_pool, freq_pool = tuple(conv_channels), tuple(time_pool), tuple(freq_pool)
        if in_channels < 1 or n_bins < 1 or embed_dim < 1:
            raise ValueError(f"in_channels, n_bins and embed_dim must be >= 1, got {in_channels}, {n_bins}, "
                             f"{embed_dim}")
        if not conv_channels or not len(conv_channels) == len(time_pool) == len(freq_pool):
            raise ValueError(f"conv_channels, time_pool and freq_pool need the same length >= 1 (one entry per "
                             f"block), got {conv_channels}, {time_pool}, {freq_pool}")
        if min(conv_channels) < 1 or min(time_pool) < 1 or min(freq_pool) < 1:
            raise ValueError(f"conv_channels and pooling factors must be >= 1, got {conv_channels}, {time_pool}, "
                             f"{freq_pool}")
        if math.prod(freq_pool) > n_bins:
            raise ValueError(f"freq_pool {freq_pool} pools by {math.prod(freq_pool)} > n_bins={n_bins}")
        if gru_hidden < 1 or gru_layers < 1:
            raise ValueError(f"gru_hidden and gru_layers must be >= 1, got {gru_hidden}, {gru_layers}")
        if temporal_pool not in ("mean", "max", "mean+max"):
            raise ValueError(f"temporal_pool must be 'mean', 'max' or 'mean+max', got {temporal_pool!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if input_norm not in ("batchnorm", "none"):
            raise ValueError(f"input_norm must be 'batchnorm' or 'none', got {input_norm!r}")
        if branches not in ("joint", "split"):
            raise ValueError(f"branches must be 'joint' or 'split', got {branches!r}")
        if branches == "split":
            if not 1 <= n_mel_channels < in_channels:
                raise ValueError(f"branches='split' needs 1 <= n_mel_channels < in_channels, got n_mel_channels="
                                 f"{n_mel_channels}, in_channels={in_channels}")
            if embed_dim % 2:
                raise ValueError(f"branches='split' gives each branch embed_dim // 2 outputs: embed_dim must be "
                                 f"even, got {embed_dim}")
        self.in_channels = in_channels
        self.n_bins = n_bins
        self.embed_dim = embed_dim
        self.conv_channels = conv_channels
        self.time_pool = time_pool
        self.freq_pool = freq_pool
        self.gru_hidden = gru_hidden
        self.gru_layers = gru_layers
        self.temporal_pool = temporal_pool
        self.dropout = dropout
        self.branches = branches
        self.n_mel_channels = n_mel_channels
        self.input_norm = input_norm
        self.norm = nn.BatchNorm2d(in_channels) if input_norm == "batchnorm" else nn.Identity()

        sizes = dict(n_bins=n_bins, conv_channels=conv_channels, time_pool=time_pool, freq_pool=freq_pool,
                     gru_hidden=gru_hidden, gru_layers=gru_layers, temporal_pool=temporal_pool, dropout=dropout)
        if branches == "joint":
            self.branch = nn.ModuleDict({"joint": CRNNBranch(in_channels=in_channels, out_dim=embed_dim, **sizes)})
        else:
            self.branch = nn.ModuleDict({
                "mel": CRNNBranch(in_channels=n_mel_channels, out_dim=embed_dim // 2, **sizes),
                "gcc": CRNNBranch(in_channels=in_channels - n_mel_channels, out_dim=embed_dim // 2, **sizes),
            })

    def get_config(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this encoder (plain Python values: lists, not tuples; YAML/JSON-safe)."""
        return {"in_channels": self.in_channels, "n_bins": self.n_bins, "embed_dim": self.embed_dim,
                "conv_channels": list(self.conv_channels), "time_pool": list(self.time_pool),
                "freq_pool": list(self.freq_pool), "gru_hidden": self.gru_hidden, "gru_layers": self.gru_layers,
                "temporal_pool": self.temporal_pool, "dropout": self.dropout, "branches": self.branches,
                "n_mel_channels": self.n_mel_channels, "input_norm": self.input_norm}

    @property
    def min_frames(self) -> int:
        """The fewest input frames the time pooling accepts, ``prod(time_pool)``."""
        return math.prod(self.time_pool)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, n_bins={self.n_bins}, embed_dim={self.embed_dim}, " \
               f"branches={self.branches!r}"

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels or x.shape[3] != self.n_bins \
                or x.shape[2] < self.min_frames:
            raise ValueError(f"CRNNEncoder expects (batch, channels={self.in_channels}, frames>={self.min_frames}, "
                             f"bins={self.n_bins}), got shape {tuple(x.shape)}")

    @property
    def frame_dim(self) -> int:
        """Width of :meth:`frames`: ``2 * gru_hidden`` per branch (``4 * gru_hidden`` for ``split``)."""
        return sum(b.frame_dim for b in self.branch.values())

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``(batch, in_channels, frames, n_bins)`` -> the frame sequence before temporal pooling
        ``(batch, frames // min_frames, frame_dim)``, float32: the bidirectional GRU's states (both branches'
        concatenated for ``split``, Mel first). One step is ``min_frames`` feature frames (``min_frames *
        hop_length / sample_rate`` seconds; 40 ms with the demo's 10 ms hop and time pooling 2-2-1). This is the
        input of frame-level heads (SELD); :meth:`forward` pools it over time."""
        self._check(x)
        x = self.norm(x)
        if self.branches == "joint":
            return self.branch["joint"].frames(x)
        return torch.cat([self.branch["mel"].frames(x[:, : self.n_mel_channels]),
                          self.branch["gcc"].frames(x[:, self.n_mel_channels :])], dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``(batch, in_channels, frames, n_bins)``, ``frames >= min_frames`` -> ``(batch, embed_dim)``."""
        self._check(x)
        x = self.norm(x)
        if self.branches == "joint":
            return self.branch["joint"](x)
        mel = self.branch["mel"](x[:, : self.n_mel_channels])
        gcc = self.branch["gcc"](x[:, self.n_mel_channels :])
        return torch.cat([mel, gcc], dim=1)
