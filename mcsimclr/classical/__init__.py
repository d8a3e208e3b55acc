"""Classical direction baselines, no learning: SRP-PHAT and MUSIC of ``pyroomacoustics.doa`` (docs/evaluation.md,
"Classical baselines"). ``estimate_azimuths`` for one recording, ``evaluate_clips`` for a clip file (one source per
clip) and ``evaluate_scenes`` for a scene file (the oracle number of sources per frame, polyphony 1 and 2)."""

from mcsimclr.classical.clips import evaluate_clips
from mcsimclr.classical.doa import METHODS, estimate_azimuths
from mcsimclr.classical.scenes import evaluate_scenes

__all__ = ["METHODS", "estimate_azimuths", "evaluate_clips", "evaluate_scenes"]
