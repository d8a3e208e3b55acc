"""Class-independent nuisances: amplitude envelope, crest-factor steering, background noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulate.sources.synthetic.clip import _Clip
from simulate.sources.synthetic.dsp import _noise_spectrum, _power_law, _rms, _to_time

# ------------------------------------------------------------------------------------ shared nuisances


_KAPPAS = np.concatenate([[0.0], np.geomspace(0.02, 200.0, 48)])  # decays tried by the envelope (per event)


@dataclass
class _Envelope:
    """A class-independent amplitude envelope: one to four equal events, each a linear attack, an exponential
    decay ``exp(-kappa x)`` (``x`` in events after the attack) and a linear release; event levels +-2.6 dB.

    ``kappa`` is solved for the crest factor the envelope must add to a clip (``for_crest``).
    """

    levels: np.ndarray  # (events,)
    attack: float  # s
    release: float  # s

    @classmethod
    def draw(cls, clip: _Clip) -> _Envelope:
        several, n_several = clip.uniform(0.0, 1.0) < 0.5, clip.integer(2, 4)
        levels = np.exp(clip.rng.uniform(-0.3, 0.3, 4))[: n_several if several else 1]
        slot = clip.duration / levels.size
        attack = clip.loguniform(0.002, max(0.003, 0.3 * slot))
        release = clip.loguniform(0.005, max(0.006, 0.3 * slot))
        return cls(levels=levels, attack=attack, release=release)

    def crest_table(self, duration: float) -> np.ndarray:
        """Crest factor (dB) of the whole envelope for every decay in ``_KAPPAS``: ``(len(_KAPPAS),)``, rising.

        Evaluated on 200 points per event (the events are equal up to their level).
        """
        slot = duration / self.levels.size
        x = (np.arange(200) + 0.5) * (slot / 200)
        ramps = np.minimum(x / self.attack, 1.0) * np.minimum((slot - x) / self.release, 1.0)
        shape = ramps * np.exp(np.outer(_KAPPAS, -np.maximum(x - self.attack, 0.0) / max(slot - self.attack, 1e-6)))
        peak2 = np.max(self.levels) ** 2 * np.max(shape, axis=1) ** 2
        mean2 = np.mean(self.levels**2) * np.mean(shape * shape, axis=1)
        return np.maximum.accumulate(10 * np.log10(peak2 / mean2))

    def for_crest(self, crest_db: float, table: np.ndarray) -> float:
        """The decay ``kappa`` that gives a crest factor of ``crest_db`` (0 where the ramps alone give more)."""
        return float(np.interp(crest_db, table, _KAPPAS))

    def render(self, clip: _Clip, kappa: float) -> np.ndarray:
        """The envelope ``(n,)`` float32."""
        events = self.levels.size
        slot_n = -(-clip.n // events)
        slot = clip.duration / events
        n_attack = min(slot_n, max(1, round(self.attack * clip.sample_rate)))
        n_release = min(slot_n - n_attack, max(1, round(self.release * clip.sample_rate)))
        env = clip.t[:slot_n] - self.attack
        np.maximum(env, 0.0, out=env)
        env *= -kappa / max(slot - self.attack, 1e-6)
        np.exp(env, out=env)
        env[:n_attack] *= np.arange(n_attack, dtype=np.float32) * (1.0 / n_attack)
        if n_release > 0:
            env[slot_n - n_release :] *= np.arange(n_release, 0, -1, dtype=np.float32) * (1.0 / n_release)
        if events == 1:
            return env
        out = np.empty((events, slot_n), dtype=np.float32)
        out[:] = env
        out *= self.levels.astype(np.float32)[:, None]
        return out.ravel()[: clip.n]


def _crest_db(x: np.ndarray) -> float:
    """Crest factor (peak over RMS) of ``x`` in dB."""
    return float(20 * np.log10(max(float(np.max(np.abs(x))), 1e-30) / max(_rms(x), 1e-30)))


def _limit_to_crest(x: np.ndarray, crest_db: float, max_reduction_db: float) -> np.ndarray:
    """Soft-limit ``x`` ``(n,)`` in place, ``theta * tanh(x / theta)``, to a crest factor of about ``crest_db``.

    ``theta`` is interpolated from the crest factors that 16 thresholds give on a strided subsample (limiting
    lowers the RMS as well as the peak); the peak is brought down by at most ``max_reduction_db``.
    """
    peak = float(np.max(np.abs(x)))
    sub = x[:: max(1, x.size // 2048)]
    reductions = np.linspace(0.0, max_reduction_db, 16)
    thetas = peak * 10 ** (-reductions / 20)
    limited = np.tanh(np.outer((1.0 / thetas).astype(np.float32), sub))
    limited *= thetas.astype(np.float32)[:, None]
    rms = np.sqrt(np.mean(limited * limited, axis=1))
    crests = 20 * np.log10(thetas * np.tanh(peak / thetas) / np.maximum(rms, 1e-30))
    # crests fall with the reduction; interpolate the reduction that reaches crest_db
    reduction = float(np.interp(-crest_db, -np.minimum.accumulate(crests), reductions))
    theta = peak * 10 ** (-reduction / 20)
    x *= 1.0 / theta
    np.tanh(x, out=x)
    x *= theta
    return x


def _background(clip: _Clip) -> np.ndarray:
    """Unit-RMS background noise ``(n,)`` float32 with a 1/f^beta power spectrum, beta in [0, 1.5]."""
    beta = clip.uniform(0.0, 1.5)
    low_cut = clip.loguniform(20.0, 80.0)
    spec = _noise_spectrum(clip)
    spec *= _power_law(clip, 1000.0, -beta / 2, low_cut)
    y = _to_time(spec, clip)
    y *= 1.0 / max(_rms(y), 1e-30)
    return y
