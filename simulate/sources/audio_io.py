"""Read one mono audio file into float32 samples at a given sample rate, or say clearly why it cannot be used."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from simulate.sources.base import SourceError, check_waveform

__all__ = ["read_mono", "resample"]


def resample(samples: np.ndarray, *, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample a mono clip ``(samples,)`` from ``orig_rate`` to ``target_rate`` Hz.

    Polyphase filtering (``scipy.signal.resample_poly``, its default Kaiser window) with up/down factors
    ``target_rate / g`` and ``orig_rate / g``, ``g = gcd(orig_rate, target_rate)``: deterministic, no FFT of
    the whole clip. The output has ``ceil(samples * target_rate / orig_rate)`` samples, float64.
    """
    if orig_rate <= 0 or target_rate <= 0:
        raise ValueError(f"sample rates must be > 0 Hz, got orig_rate={orig_rate}, target_rate={target_rate}")
    if orig_rate == target_rate:
        return np.asarray(samples, dtype=np.float64)
    g = gcd(orig_rate, target_rate)
    return resample_poly(np.asarray(samples, dtype=np.float64), target_rate // g, orig_rate // g)


def read_mono(path: Path, *, sample_rate: int, source_id: str, silence_peak: float = 1e-4) -> np.ndarray:
    """Read a mono audio file as float32 samples ``(samples,)`` at ``sample_rate`` Hz.

    Any format libsndfile reads (WAV, FLAC, OGG, AIFF, ...) at any rate; the file's rate is converted with
    :func:`resample`. Multichannel files are rejected, never downmixed: a downmix would change what the room
    simulation spatialises.

    Args:
        path: the audio file.
        sample_rate: the rate of the returned samples, Hz.
        source_id: the clip's id in its data set, named in error messages when it is not already part of
            ``path``.
        silence_peak: a clip whose absolute peak (before resampling) is below this is rejected as silent.

    Raises:
        SourceError: missing file, unreadable or corrupt file, multichannel audio, empty, non-finite or
            silent clip. The message starts with the file's path.
        ValueError: ``sample_rate`` is not a positive integer (a caller's bug, not a bad file).
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
    path = Path(path)
    where = str(path)
    if source_id and not where.replace("\\", "/").endswith(source_id):
        where = f"{where} (source {source_id})"

    if not path.exists():
        raise SourceError(f"{where}: audio file not found")
    if not path.is_file():
        raise SourceError(f"{where}: expected an audio file, found a directory or special file")
    try:
        with sf.SoundFile(str(path)) as f:
            channels, file_rate = f.channels, f.samplerate
            if channels != 1:
                raise SourceError(
                    f"{where}: expected mono audio (1 channel), got {channels} channels; "
                    "multichannel sources are not downmixed, convert the file to mono first"
                )
            data = f.read(dtype="float64", always_2d=True)
    except SourceError:
        raise
    except (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError) as err:
        raise SourceError(f"{where}: cannot read audio file (unreadable or corrupt): {err}") from err

    if file_rate <= 0:
        raise SourceError(f"{where}: file header gives an invalid sample rate {file_rate} Hz")
    samples = data[:, 0]
    if samples.size == 0:
        raise SourceError(f"{where}: audio file is empty (0 frames)")
    check_waveform(samples, source_id=where, silence_peak=silence_peak)
    return resample(samples, orig_rate=int(file_rate), target_rate=int(sample_rate)).astype(np.float32)
