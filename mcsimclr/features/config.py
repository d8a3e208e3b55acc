"""The typed schema of the spatial feature extractor (``features:`` section of a config).

Defaults follow the DCASE SELD baseline at our simulator's 24 kHz (docs/features.md, "Defaults"). The fields
are exactly the keyword arguments of :class:`~mcsimclr.features.spatial_features.SpatialFeatures` except the
microphone count, which comes from the data: ``SpatialFeatures.from_config(cfg, n_mics=4)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class FeatureConfig:
    """Log-Mel per microphone + GCC-PHAT per microphone pair on one (frames x bins) grid.

    Times are in samples at ``sample_rate`` Hz; ``f_max: null`` means ``sample_rate / 2``. GCC-PHAT keeps
    ``n_mels`` central lags, so it has no parameter of its own.
    """

    sample_rate: int = 24000
    n_fft: int = 1024
    win_length: int = 960
    hop_length: int = 480
    n_mels: int = 64
    f_min: float = 50.0
    f_max: float | None = None
    log_floor: float = 1e-10
    mel_scale: Literal["slaney", "htk"] = "slaney"
    mel_norm: bool = True

    def __post_init__(self) -> None:
        check_feature_args(
            sample_rate=self.sample_rate, n_fft=self.n_fft, win_length=self.win_length,
            hop_length=self.hop_length, n_mels=self.n_mels, f_min=self.f_min, f_max=self.f_max,
            log_floor=self.log_floor, mel_scale=self.mel_scale,
        )


def check_feature_args(*, sample_rate: int, n_fft: int, win_length: int, hop_length: int, n_mels: int,
                       f_min: float, f_max: float | None, log_floor: float, mel_scale: str) -> None:
    """Raise ``ValueError`` naming the first bad feature parameter (shared by the config and the module)."""
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
    if n_fft < 2 or n_fft % 2:
        raise ValueError(f"n_fft must be an even integer >= 2, got {n_fft}")
    if not 0 < win_length <= n_fft:
        raise ValueError(f"win_length must be in [1, n_fft={n_fft}], got {win_length}")
    if hop_length <= 0:
        raise ValueError(f"hop_length must be > 0, got {hop_length}")
    if n_mels < 1:
        raise ValueError(f"n_mels must be >= 1, got {n_mels}")
    if n_mels > n_fft:
        # GCC-PHAT keeps n_mels of the n_fft circular lags.
        raise ValueError(f"n_mels (= number of GCC lags) must be <= n_fft={n_fft}, got {n_mels}")
    top = sample_rate / 2 if f_max is None else f_max
    if f_min < 0:
        raise ValueError(f"f_min must be >= 0, got {f_min}")
    if not f_min < top <= sample_rate / 2:
        raise ValueError(f"need f_min < f_max <= sample_rate / 2 = {sample_rate / 2:g}, got f_min={f_min}, "
                         f"f_max={f_max}")
    if not log_floor > 0:
        raise ValueError(f"log_floor must be > 0, got {log_floor}")
    if mel_scale not in ("slaney", "htk"):
        raise ValueError(f"mel_scale must be 'slaney' or 'htk', got {mel_scale!r}")
