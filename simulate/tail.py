"""A diffuse reverberation tail after the image sources (gpuRIR's recipe), seeded from the scene.

Diaz-Guerra, Miguel, Beltran, "gpuRIR: A python library for room impulse response simulation with GPU
acceleration" (2021). The image-source model (ISM) runs until the reverberation has decayed by
``att_diff_db`` (``T_diff``); from there Gaussian noise with the exponential envelope of the target RT60
(amplitude ``exp(-6.9 t / RT60)``: 60 dB of energy decay in RT60 seconds) takes over until the decay reaches
``att_max_db`` (``T_max``). Times follow gpuRIR's ``att2t_SabineEstimator``: ``T = att_db / 60 * RT60``.

Why: the image sources of a shoebox with uniform absorption do not decay exponentially (paths grazing the
longest walls lose little energy and dominate late), so at full order the Schroeder RT60 overshoots the
target by 1.3-1.7x and costs seconds per room; capped at a low order it is cut short (0.3-0.9x). The tail's
decay is the target's by construction, and the ISM is needed only up to ``T_diff`` (docs/simulation_fidelity.md).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from simulate.config import check_attenuations
from simulate.geometry import Scene

# The tail starts at least this long after the direct sound has reached every mic, and its level is read
# from the ISM after the direct sound's band-limited pulse (pyroomacoustics: 81 taps, +-2.5 ms at 16 kHz).
DIRECT_GUARD_S = 0.005
# The tail's level: the ISM's mean energy over the last ``LEVEL_WINDOW_DB`` of decay before ``T_diff``.
LEVEL_WINDOW_DB = 5.0


def image_order_for_time(room_dims: np.ndarray, duration: float, *, speed_of_sound: float) -> int:
    """Smallest image-source order that holds every image arriving within ``duration`` seconds, for any
    source and mic positions in a shoebox of ``room_dims`` ``(3,)``.

    An image reflected ``n`` times on the walls of axis ``i`` (side ``L_i``) lies at least ``(n - 1) * L_i``
    from any point of the room along that axis; the order is the largest ``n_x + n_y + n_z`` over the
    reflection counts whose lower bounds fit in the sphere of radius ``c * duration``.
    """
    dims = np.asarray(room_dims, dtype=np.float64)
    radius = speed_of_sound * max(duration, 0.0)
    counts = [np.arange(math.ceil(radius / side) + 2) for side in dims[:2]]
    dx2 = (np.maximum(counts[0] - 1, 0) * dims[0])[:, None] ** 2
    dy2 = (np.maximum(counts[1] - 1, 0) * dims[1])[None, :] ** 2
    rest = radius**2 - dx2 - dy2
    fits = rest >= 0.0
    nz = np.floor(np.sqrt(np.where(fits, rest, 0.0)) / dims[2]) + 1
    total = np.where(fits, counts[0][:, None] + counts[1][None, :] + nz, -1)
    return int(total.max())


def last_direct_arrival(scene: Scene, *, speed_of_sound: float) -> float:
    """Seconds from the emission until the direct sound has reached every mic of ``scene``."""
    return float(np.max(np.linalg.norm(scene.mic_positions - scene.source_pos, axis=1))) / speed_of_sound


def scene_seed(scene: Scene) -> np.random.SeedSequence:
    """The seed of a scene's tail, from its contents (room, positions, RT60, absorption): the same scene gives
    the same tail in any process, so builds stay bit-identical across workers and resumes."""
    parts = (scene.room_dims, scene.source_pos, scene.mic_positions,
             [scene.rt60_target, scene.rt60_sabine, scene.absorption])
    digest = hashlib.sha256(b"".join(np.asarray(p, dtype="<f8").tobytes() for p in parts)).digest()
    return np.random.SeedSequence(int.from_bytes(digest[:16], "little"))


@dataclass(frozen=True)
class DiffuseTail:
    """Image sources until ``T_diff``, then seeded Gaussian noise with the target's decay until ``T_max``.

    ``T_diff = att_diff_db / 60 * RT60`` (at least the last direct arrival + 2 ``DIRECT_GUARD_S``),
    ``T_max = att_max_db / 60 * RT60`` (at least ``T_diff`` + 10 ms), ``RT60 = scene.rt60_target``. One level
    for all mics: the ISM's mean energy per sample over the last ``LEVEL_WINDOW_DB`` of decay before
    ``T_diff`` (after the direct sound), divided by the envelope's mean there. The noise is independent
    across mics and samples (white, like the band-limited ISM pulses up to ``fs / 2``) and frequency-flat in
    its decay: no air absorption in the tail.
    """

    att_diff_db: float = 15.0
    att_max_db: float = 60.0

    def __post_init__(self) -> None:
        check_attenuations(att_diff_db=self.att_diff_db, att_max_db=self.att_max_db)

    def times(self, scene: Scene, *, speed_of_sound: float) -> tuple[float, float]:
        """``(T_diff, T_max)`` in seconds from the emission for ``scene``."""
        rt60 = scene.rt60_target
        direct = last_direct_arrival(scene, speed_of_sound=speed_of_sound)
        t_diff = max(self.att_diff_db / 60.0 * rt60, direct + 2.0 * DIRECT_GUARD_S)
        t_max = max(self.att_max_db / 60.0 * rt60, t_diff + 0.01)
        return t_diff, t_max

    def image_order(self, scene: Scene, *, speed_of_sound: float) -> int:
        """The image-source order that holds every arrival before ``T_diff``."""
        t_diff, _ = self.times(scene, speed_of_sound=speed_of_sound)
        return image_order_for_time(scene.room_dims, t_diff, speed_of_sound=speed_of_sound)

    def apply(self, ism: np.ndarray, scene: Scene, *, sample_rate: int, speed_of_sound: float) -> np.ndarray:
        """The ISM RIRs ``(mics, samples)`` (sample 0 = emission) cut at ``T_diff`` and continued by the tail:
        ``(mics, round(T_max * sample_rate))`` float64."""
        ism = np.asarray(ism, dtype=np.float64)
        if ism.ndim != 2:
            raise ValueError(f"expected ISM RIRs (mics, samples), got shape {ism.shape}")
        t_diff, t_max = self.times(scene, speed_of_sound=speed_of_sound)
        rt60 = scene.rt60_target
        k_diff, k_max = round(t_diff * sample_rate), round(t_max * sample_rate)
        direct = last_direct_arrival(scene, speed_of_sound=speed_of_sound)
        k_lo = round(max(t_diff - LEVEL_WINDOW_DB / 60.0 * rt60, direct + DIRECT_GUARD_S) * sample_rate)
        out = np.zeros((ism.shape[0], k_max))
        n = min(k_diff, ism.shape[1])
        out[:, :n] = ism[:, :n]
        envelope = 10.0 ** (-3.0 * np.arange(k_lo, k_max) / (sample_rate * rt60))
        window = envelope[: k_diff - k_lo]
        level = math.sqrt(float(np.mean(out[:, k_lo:k_diff] ** 2)) / float(np.mean(window**2)))
        noise = np.random.default_rng(scene_seed(scene)).standard_normal((ism.shape[0], k_max - k_diff))
        out[:, k_diff:] = level * envelope[k_diff - k_lo :] * noise
        return out
