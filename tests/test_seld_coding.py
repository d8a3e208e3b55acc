"""Multi-ACCDOA coding and the ADPIT loss, against their definitions (brute force) and by round trips."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from mcsimclr.core.frame_labels import FrameLabels
from mcsimclr.seld.accdoa import TRACKS, class_events, decode, unit_vectors
from mcsimclr.seld.adpit import adpit_loss, adpit_targets


def allowed(n: int) -> list[tuple[int, ...]]:
    """The definition: the slot each track may hold for n events (all n must appear)."""
    if n == 0:
        return [()]
    return [p for p in itertools.product(range(n), repeat=TRACKS) if set(p) == set(range(n))]


def brute_force(output: torch.Tensor, events: torch.Tensor, count: torch.Tensor,
                active_weight: float = 1.0) -> torch.Tensor:
    batch, frames, _, coords, classes = output.shape
    total, weights = 0.0, 0.0
    for b, f, c in itertools.product(range(batch), range(frames), range(classes)):
        n = int(count[b, f, c])
        pred = output[b, f, :, :, c]  # (tracks, coords)
        best = None
        for p in allowed(n):
            target = torch.zeros(TRACKS, coords) if n == 0 else torch.stack([events[b, f, c, s] for s in p])
            err = float(((pred - target) ** 2).mean())
            best = err if best is None else min(best, err)
        w = active_weight if n > 0 else 1.0
        total, weights = total + w * best, weights + w
    return torch.tensor(total / weights)


@pytest.mark.parametrize("coords", [3, 4])
def test_adpit_is_the_minimum_over_the_allowed_targets(coords):
    g = torch.Generator().manual_seed(0)
    batch, frames, classes = 2, 5, 3
    output = torch.randn(batch, frames, TRACKS, coords, classes, generator=g)
    events = torch.randn(batch, frames, classes, TRACKS, coords, generator=g)
    count = torch.randint(0, 4, (batch, frames, classes), generator=g)
    events = events * (torch.arange(TRACKS)[None, None, None, :] < count[..., None])[..., None]
    assert adpit_loss(output, events, count).item() == pytest.approx(brute_force(output, events, count).item(),
                                                                      rel=1e-6)


@pytest.mark.parametrize("active_weight", [0.5, 10.0])
def test_weighted_adpit_is_the_weighted_mean_of_the_minima(active_weight):
    g = torch.Generator().manual_seed(1)
    output = torch.randn(2, 4, TRACKS, 3, 3, generator=g)
    count = torch.randint(0, 4, (2, 4, 3), generator=g)
    events = torch.randn(2, 4, 3, TRACKS, 3, generator=g)
    events = events * (torch.arange(TRACKS)[None, None, None, :] < count[..., None])[..., None]
    got = adpit_loss(output, events, count, active_weight=active_weight).item()
    assert got == pytest.approx(brute_force(output, events, count, active_weight).item(), rel=1e-6)
    assert got != pytest.approx(adpit_loss(output, events, count).item(), rel=1e-3)
    with pytest.raises(ValueError, match="active_weight must be > 0"):
        adpit_loss(output, events, count, active_weight=0.0)


def test_adpit_is_zero_exactly_for_an_allowed_arrangement():
    a, b = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    events = torch.zeros(1, 1, 1, TRACKS, 3)
    events[0, 0, 0, 0], events[0, 0, 0, 1] = a, b
    count = torch.tensor([[[2]]])

    def loss(*tracks):
        return adpit_loss(torch.stack(tracks)[None, None, :, :, None], events, count).item()

    assert loss(a, b, b) == 0.0 and loss(b, a, a) == 0.0 and loss(b, b, a) == 0.0
    assert loss(a, a, a) > 0.0  # both events must appear
    one = torch.zeros(1, 1, 1, TRACKS, 3)
    one[0, 0, 0, 0] = a
    assert adpit_loss(torch.stack([a, a, a])[None, None, :, :, None], one, torch.tensor([[[1]]])).item() == 0.0
    assert adpit_loss(torch.stack([a, 0 * a, 0 * a])[None, None, :, :, None], one, torch.tensor([[[1]]])).item() > 0
    assert adpit_targets(events, count).shape == (13, 1, 1, 1, TRACKS, 3)


def labels_of(events: list[tuple[int, int, int, float, float, float]], *, frames: int, tracks: int) -> FrameLabels:
    """(frame, track, class, azimuth, elevation, distance) rows -> FrameLabels."""
    empty = FrameLabels.empty(n_frames=frames, n_tracks=tracks)
    arrays = {k: getattr(empty, k).copy() for k in ("active", "class_index", "azimuth_deg", "elevation_deg",
                                                    "distance_m")}
    for f, t, c, az, el, d in events:
        arrays["active"][f, t], arrays["class_index"][f, t] = True, c
        arrays["azimuth_deg"][f, t], arrays["elevation_deg"][f, t], arrays["distance_m"][f, t] = az, el, d
    return FrameLabels(**arrays, hop_s=0.1)


def test_decode_reads_back_what_adpit_allows():
    # frame 0: one event of class 1; frame 1: two of class 0 (far apart) and one of class 2; frame 2: nothing
    rows = [(0, 0, 1, 30.0, 10.0, 2.0), (1, 0, 0, -90.0, 0.0, 1.5), (1, 1, 0, 120.0, -20.0, 3.0),
            (1, 2, 2, 5.0, 45.0, 1.0)]
    labels = labels_of(rows, frames=3, tracks=3)
    events, count = class_events(labels, n_classes=3, with_distance=True)
    assert count.tolist() == [[0, 1, 0], [2, 0, 1], [0, 0, 0]]
    targets = adpit_targets(torch.from_numpy(events)[None], torch.from_numpy(count)[None])
    output = targets[0, 0].permute(0, 2, 3, 1)  # candidate 0 as an output (frames, tracks, coords, classes)
    back = decode(output.reshape(3, -1), n_classes=3, with_distance=True, hop_s=0.1)
    got = sorted((f, int(back.class_index[f, t]), round(float(back.azimuth_deg[f, t]), 3),
                  round(float(back.elevation_deg[f, t]), 3), round(float(back.distance_m[f, t]), 3))
                 for f, t in zip(*np.nonzero(back.active), strict=True))
    assert got == sorted((f, c, az, el, d) for f, _, c, az, el, d in rows)


def test_decode_unifies_close_tracks_and_thresholds_activity():
    v = unit_vectors(np.array([0.0, 10.0, 90.0]), np.zeros(3))  # tracks at 0, 10 and 90 deg, class 0
    out = np.zeros((1, TRACKS, 3, 1), dtype=np.float32)
    out[0, :, :, 0] = v * np.array([[0.9], [0.8], [0.4]])  # the third is below the 0.5 activity threshold
    labels = decode(out.reshape(1, -1), n_classes=1, with_distance=False, hop_s=0.1)
    assert labels.active.sum() == 1 and labels.azimuth_deg[0, 0] == pytest.approx(5.0, abs=1e-4)
    assert np.isnan(labels.distance_m[0, 0])


def test_more_than_three_events_of_a_class_is_refused():
    labels = labels_of([(0, t, 0, 30.0 * t, 0.0, 1.0) for t in range(4)], frames=1, tracks=4)
    with pytest.raises(ValueError, match="more than 3 events of class 0"):
        class_events(labels, n_classes=1, with_distance=False)
