"""The oracle-activity DOA error of multi-ACCDOA outputs: exact on outputs built from known directions, the
duplicated tracks of ADPIT counted once, the Hungarian matching as for SRP-PHAT."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mcsimclr.core.frame_labels import FrameLabels
from mcsimclr.seld.accdoa import TRACKS
from mcsimclr.seld.oracle_doa import oracle_azimuths, oracle_doa_errors

N_CLASSES = 4


def vector(az_deg: float, length: float = 1.0) -> np.ndarray:
    a = math.radians(az_deg)
    return length * np.array([math.cos(a), math.sin(a), 0.0])


def frame_output(*events: tuple[int, int, float, float]) -> np.ndarray:
    """``(tracks, 3, classes)`` from (track, class, azimuth, length) entries; the rest zero."""
    out = np.zeros((TRACKS, 3, N_CLASSES))
    for track, cls, az, length in events:
        out[track, :, cls] = vector(az, length)
    return out


def labels(az: list[list[float]]) -> FrameLabels:
    """Frames with the given azimuths active (elevation 0), on 2 tracks."""
    frames = len(az)
    active = np.zeros((frames, 2), dtype=bool)
    azimuth = np.full((frames, 2), np.nan)
    for f, row in enumerate(az):
        active[f, :len(row)] = True
        azimuth[f, :len(row)] = row
    return FrameLabels(active=active, class_index=np.where(active, 0, -1).astype(np.int16),
                       azimuth_deg=azimuth.astype(np.float32),
                       elevation_deg=np.where(active, 0.0, np.nan).astype(np.float32),
                       distance_m=np.full((frames, 2), np.nan, dtype=np.float32), hop_s=0.1)


def test_a_lone_event_duplicated_on_all_tracks_counts_once():
    # ADPIT's target for one event of class 1 at 40 deg: the same vector on all three tracks; a weaker second
    # event of class 2 at -100 deg must be the second direction, not a copy of the first.
    out = frame_output((0, 1, 40.0, 0.9), (1, 1, 41.0, 0.85), (2, 1, 39.0, 0.8), (0, 2, -100.0, 0.3))
    assert oracle_azimuths(out, n_sources=2) == pytest.approx([40.0, -100.0])
    assert oracle_azimuths(out, n_sources=1) == pytest.approx([40.0])


def test_two_events_of_one_class_far_apart_are_both_taken():
    out = frame_output((0, 3, 10.0, 0.9), (1, 3, 170.0, 0.8), (2, 0, 90.0, 0.1))
    assert oracle_azimuths(out, n_sources=2) == pytest.approx([10.0, 170.0])


def test_errors_are_exact_for_known_rotations_and_matched_by_hungarian():
    # Frame 0: one event at 30 deg predicted at 45 (15 deg off). Frame 1: two events at 170 and -60, predicted at
    # -175 (15 deg across the wrap) and -50 (10 deg) in swapped track order. Frame 2: silence (not scored).
    ref = labels([[30.0], [170.0, -60.0], []])
    out = np.zeros((3, TRACKS, 3, N_CLASSES))
    out[0] = frame_output((0, 0, 45.0, 0.9))
    out[1] = frame_output((0, 1, -50.0, 0.9), (0, 2, -175.0, 0.8))
    got = oracle_doa_errors([out], [ref])
    assert got[1]["n_frames"] == 1 and got[1]["azimuth_error_mean"] == pytest.approx(15.0)
    assert got[2]["n_frames"] == 1 and got[2]["n_estimates"] == 2
    assert got[2]["azimuth_error_mean"] == pytest.approx(12.5) and got[2]["azimuth_error_median"] == pytest.approx(12.5)


def test_random_directions_average_about_90_degrees_at_polyphony_1():
    # Uniform random predictions against any reference: the mean circular error is 90 deg (the uniform law on
    # [0, 180]); 2000 frames put the mean within about 2.3 deg (4 standard errors).
    rng = np.random.default_rng(0)
    n = 2000
    ref = labels([[float(a)] for a in rng.uniform(-180, 180, n)])
    out = rng.normal(size=(n, TRACKS, 3, N_CLASSES))
    out[:, :, 2] = 0.0
    got = oracle_doa_errors([out], [ref])
    assert got[1]["azimuth_error_mean"] == pytest.approx(90.0, abs=4 * 180 / math.sqrt(12 * n))
    assert got[2]["n_frames"] == 0 and math.isnan(got[2]["azimuth_error_mean"])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="one frame"):
        oracle_azimuths(np.zeros((2, 3, N_CLASSES)), n_sources=1)
    with pytest.raises(ValueError, match="n_sources"):
        oracle_azimuths(np.zeros((TRACKS, 3, N_CLASSES)), n_sources=0)
    with pytest.raises(ValueError, match="scene 0: output"):
        oracle_doa_errors([np.zeros((2, TRACKS, 3, N_CLASSES))], [labels([[1.0]])])
    with pytest.raises(ValueError, match="2 outputs for 1 scenes"):
        oracle_doa_errors([np.zeros((1, TRACKS, 3, N_CLASSES))] * 2, [labels([[1.0]])])
