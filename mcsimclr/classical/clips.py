"""SRP-PHAT or MUSIC azimuth of every clip of a clip file, scored against its labels (no learning)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mcsimclr.classical.doa import Method, estimate_azimuths
from mcsimclr.classical.files import mic_positions_of, open_clip_file
from mcsimclr.core.errors import DataError
from mcsimclr.metrics import azimuth_error_deg

__all__ = ["evaluate_clips"]


def evaluate_clips(path: str | Path, *, method: Method = "srp-phat", nfft: int = 512,
                   freq_range: tuple[float, float] | None = None, grid_deg: float = 1.0,
                   speed_of_sound: float = 343.0) -> dict:
    """One azimuth per clip (the whole clip, one source) with the file's array; mean and median error.

    Args:
        path: a clip file (``simulate build``), every clip with a finite ``azimuth_deg``.
        method, nfft, freq_range, grid_deg, speed_of_sound: as :func:`mcsimclr.classical.doa.estimate_azimuths`.

    Returns:
        ``method``, ``n_clips``, ``azimuth_error_mean`` and ``azimuth_error_median`` (degrees, circular), and per
        clip ``predicted_azimuth_deg``, ``azimuth_deg`` and ``error_deg`` (float64 arrays ``(n_clips,)``).

    Raises:
        DataError: not a clip file, no clips, a clip without an azimuth, or one that the estimator refuses (too
            short, a non-planar array, a band above Nyquist), naming the file and the row.
    """
    with open_clip_file(path) as clips:
        azimuth = np.asarray(clips.column("azimuth_deg"), dtype=np.float64)
        if azimuth.size == 0:
            raise DataError(f"{clips.path}: holds no clips")
        bad = np.flatnonzero(~np.isfinite(azimuth))
        if bad.size:
            raise DataError(f"{clips.path}: clip {int(bad[0])} (and {bad.size - 1} more) has no azimuth (NaN); the "
                            "classical baselines need an azimuth label for every clip")
        mics, rate = mic_positions_of(clips), clips.sample_rate
        predicted = np.empty(len(azimuth))
        for i in range(len(azimuth)):
            try:
                predicted[i] = estimate_azimuths(clips.audio(i), mic_positions=mics, sample_rate=rate, method=method,
                                                 num_src=1, nfft=nfft, freq_range=freq_range, grid_deg=grid_deg,
                                                 speed_of_sound=speed_of_sound)[0]
            except ValueError as err:  # GeometryError too: name the file and the clip
                raise DataError(f"{clips.path}: clip {i} ({clips.attrs['array_geometry']} array, {rate} Hz): "
                                f"{err}") from err
    error = azimuth_error_deg(torch.from_numpy(predicted), torch.from_numpy(azimuth)).numpy()
    return {"method": method, "n_clips": int(azimuth.size), "azimuth_error_mean": float(error.mean()),
            "azimuth_error_median": float(np.median(error)), "predicted_azimuth_deg": predicted,
            "azimuth_deg": azimuth, "error_deg": error}
