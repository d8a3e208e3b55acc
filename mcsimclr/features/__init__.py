"""Spatial input features of MC-SimCLR: log-Mel per microphone and GCC-PHAT per microphone pair."""

from mcsimclr.features.config import FeatureConfig
from mcsimclr.features.gcc_phat import cross_spectra, gcc_lag_matrices, gcc_lags, gcc_phat, unit_spectra
from mcsimclr.features.mel_filterbank import hz_to_mel, mel_blocks, mel_filterbank, mel_to_hz
from mcsimclr.features.mic_pairs import mic_pairs, pair_permutation
from mcsimclr.features.spatial_features import SpatialFeatures

__all__ = [
    "FeatureConfig",
    "SpatialFeatures",
    "cross_spectra",
    "gcc_lag_matrices",
    "gcc_lags",
    "gcc_phat",
    "hz_to_mel",
    "mel_blocks",
    "mel_filterbank",
    "mel_to_hz",
    "mic_pairs",
    "pair_permutation",
    "unit_spectra",
]
