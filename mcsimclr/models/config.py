"""The typed schema of the encoder and projection head (``model:`` section of a pretraining config)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal


@dataclass
class EncoderConfig:
    """Keyword arguments of :class:`~mcsimclr.models.crnn.CRNNEncoder` except ``in_channels`` and ``n_bins``,
    which come from the features. Defaults: docs/model.md."""

    embed_dim: int = 128
    conv_channels: tuple[int, ...] = (64, 64, 64)
    time_pool: tuple[int, ...] = (2, 2, 1)
    freq_pool: tuple[int, ...] = (4, 4, 2)
    gru_hidden: int = 128
    gru_layers: int = 2
    temporal_pool: Literal["mean", "max", "mean+max"] = "mean+max"
    dropout: float = 0.0
    branches: Literal["joint", "split"] = "joint"
    input_norm: Literal["batchnorm", "none"] = "batchnorm"

    def kwargs(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class HeadConfig:
    """The projection head (a two-layer MLP, discarded after pretraining)."""

    hidden_dim: int = 512
    out_dim: int = 128


@dataclass
class ModelConfig:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
