"""Scene files for SELD training and evaluation: whole scenes in memory, training windows, ChannelSwap on audio
and labels together, and the label-fraction subset of the training scenes.

A training window is ``window_frames`` label frames (100 ms each) long and starts on a label frame: its audio is
``audio[:, start * spf : (start + window_frames) * spf]`` (``spf`` samples per label frame; zero-padded past the
end of a scene) and its ADPIT targets are those frames of :func:`mcsimclr.seld.accdoa.class_events`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mcsimclr.augment.channel_swap import ChannelSwap
from mcsimclr.core.errors import DataError
from mcsimclr.core.frame_labels import FrameLabels
from mcsimclr.core.scene_schema import open_scene_file
from mcsimclr.seld.accdoa import class_events


@dataclass
class SceneSet:
    """One scene file in memory.

    Attributes:
        path: the file.
        audio: per scene ``(mics, samples)`` on the device.
        events: per scene ``(frames, classes, 3, coords)`` float32 ADPIT events on the device.
        count: per scene ``(frames, classes)`` int64 on the device.
        labels: per scene the reference :class:`FrameLabels` (host).
        samples_per_frame: audio samples per label frame.
        hop_s: label hop (seconds).
    """

    path: Path
    audio: list[torch.Tensor]
    events: list[torch.Tensor]
    count: list[torch.Tensor]
    labels: list[FrameLabels]
    samples_per_frame: int
    hop_s: float

    def __len__(self) -> int:
        return len(self.audio)

    @property
    def n_frames(self) -> np.ndarray:
        """Label frames per scene ``(scenes,)``."""
        return np.array([lab.frames for lab in self.labels], dtype=np.int64)


def scene_distances_known(path: str | Path) -> bool:
    """Whether every active event of the file has a distance (``heads.distance: auto``)."""
    with open_scene_file(path) as scenes:
        frames = scenes.all_frames()
    return bool(np.all(np.isfinite(frames["distance_m"][frames["active"]])))


def load_scenes(path: str | Path, *, n_classes: int, with_distance: bool, distance_scale: float,
                device: torch.device, dtype: torch.dtype = torch.float32) -> SceneSet:
    """Read every scene of ``path`` (audio, frame labels and their ADPIT targets) onto ``device``.

    Raises:
        DataError: naming the file, when the label hop is not a whole number of samples, or a scene's labels do not
            fit the multi-ACCDOA coding (more than 3 events of one class at once, a missing distance).
    """
    with open_scene_file(path) as scenes:
        hop_s, rate = scenes.hop_s, scenes.sample_rate
        spf = round(hop_s * rate)
        if abs(spf - hop_s * rate) > 1e-6:
            raise DataError(f"{path}: the label hop {hop_s} s is not a whole number of samples at {rate} Hz")
        audio, events, count, labels = [], [], [], []
        for i in range(len(scenes)):
            lab = scenes.labels(i)
            try:
                ev, cnt = class_events(lab, n_classes=n_classes, with_distance=with_distance,
                                       distance_scale=distance_scale)
            except ValueError as err:
                raise DataError(f"{path}: scene {i}: {err}") from err
            audio.append(torch.from_numpy(scenes.audio(i)).to(device=device, dtype=dtype))
            events.append(torch.from_numpy(ev).to(device))
            count.append(torch.from_numpy(cnt).to(device))
            labels.append(lab)
    return SceneSet(path=Path(path), audio=audio, events=events, count=count, labels=labels, samples_per_frame=spf,
                    hop_s=hop_s)


def fraction_scenes(n_scenes: int, *, fraction: float, seed: int) -> np.ndarray:
    """A seeded subset of ``max(1, round(fraction * n_scenes))`` scenes (half up), nested across fractions for one
    seed (the first ones of one seeded permutation), as ``fraction_subset`` does per class for clips.

    Returns:
        sorted scene indices ``(m,)`` int64.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if n_scenes < 1:
        raise ValueError(f"no scenes to draw from (n_scenes={n_scenes})")
    keep = int(np.clip(np.floor(fraction * n_scenes + 0.5), 1, n_scenes))
    order = np.random.default_rng([seed, 0x5CE7E]).permutation(n_scenes)
    return np.sort(order[:keep]).astype(np.int64)


def tiling_windows(n_frames: np.ndarray, scenes: np.ndarray, *, window_frames: int) -> np.ndarray:
    """``(scene, start)`` rows ``(n, 2)`` of the windows that tile ``scenes`` without overlap (a scene shorter
    than one window gives one window at 0, zero-padded)."""
    rows = [(int(s), start) for s in scenes
            for start in range(0, max(1, int(n_frames[s]) - window_frames + 1), window_frames)]
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def draw_windows(n_frames: np.ndarray, scenes: np.ndarray, *, window_frames: int, batch: int,
                 generator: torch.Generator) -> np.ndarray:
    """``batch`` random ``(scene, start)`` rows ``(batch, 2)``: scenes uniform over ``scenes``, starts uniform over
    the label frames where a whole window fits (0 for a shorter scene)."""
    pick = torch.randint(len(scenes), (batch,), generator=generator).numpy()
    chosen = np.asarray(scenes)[pick]
    room = np.maximum(np.asarray(n_frames)[chosen] - window_frames, 0) + 1
    starts = (torch.rand(batch, generator=generator, dtype=torch.float64).numpy() * room).astype(np.int64)
    return np.stack([chosen, np.minimum(starts, room - 1)], axis=1)


def gather_windows(data: SceneSet, rows: np.ndarray, *,
                   window_frames: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The audio and ADPIT targets of windows ``rows`` ``(n, 2)`` (scene, start frame).

    Returns:
        ``audio (n, mics, window_frames * spf)`` float32, ``events (n, window_frames, classes, 3, coords)`` and
        ``count (n, window_frames, classes)``; zero past the end of a scene.
    """
    spf, w = data.samples_per_frame, window_frames
    audio, events, count = [], [], []
    for scene, start in rows.tolist():
        a = data.audio[scene][:, start * spf:(start + w) * spf].float()
        e, c = data.events[scene][start:start + w], data.count[scene][start:start + w]
        audio.append(torch.nn.functional.pad(a, (0, w * spf - a.shape[1])))
        events.append(torch.nn.functional.pad(e, (0, 0, 0, 0, 0, 0, 0, w - e.shape[0])))
        count.append(torch.nn.functional.pad(c, (0, 0, 0, w - c.shape[0])))
    return torch.stack(audio), torch.stack(events), torch.stack(count)


def symmetry_matrices(swap: ChannelSwap) -> torch.Tensor:
    """The ``(n_symmetries, 3, 3)`` maps of directions (column vectors) of each ChannelSwap symmetry: rotations
    about the vertical axis and reflections across vertical planes; z (elevation) unchanged."""
    return torch.tensor(np.stack([s.matrix() for s in swap.symmetries]), dtype=torch.float32)


def transform_events(events: torch.Tensor, matrices: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """ADPIT events after each example's symmetry: the unit vectors mapped by its matrix, distances unchanged.

    Args:
        events: ``(batch, frames, classes, 3, coords)``; slots without an event are 0 and stay 0.
        matrices: ``(n_symmetries, 3, 3)`` from :func:`symmetry_matrices`.
        index: symmetry per example ``(batch,)`` long.

    Returns:
        ``(batch, frames, classes, 3, coords)``. Einsum letters: b batch, f frames, c classes, s slots, i/j xyz.
    """
    m = matrices.to(events.device, events.dtype)[index]  # (batch, 3, 3)
    xyz = torch.einsum("bij,bfcsj->bfcsi", m, events[..., :3])
    return torch.cat([xyz, events[..., 3:]], dim=-1)


def swap_windows(swap: ChannelSwap, matrices: torch.Tensor, audio: torch.Tensor, events: torch.Tensor,
                 index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ChannelSwap on audio ``(batch, mics, samples)`` and its ADPIT events together (symmetry ``index``
    ``(batch,)``)."""
    return swap.apply(audio, index), transform_events(events, matrices, index)
