"""DCASE label CSV reading and writing: the four column layouts, track assignment, errors, round trips."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from dcase_labels import assert_labels_equal, random_labels  # tests/ helper module

from mcsimclr.core.frame_labels import FrameLabels
from simulate.dcase.classes import STARSS23_CLASSES
from simulate.dcase.csv_format import read_dcase_csv, write_dcase_csv
from simulate.sources.base import SourceError

CLASSES = STARSS23_CLASSES


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- the four layouts ------------------------------------------------------------------------------------------


def test_six_columns_values_and_tracks(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a.csv", "0,1,0,-50,20,150\n0,4,1,170,-10,320\n2,1,0,-49,21,151\n")
    labels = read_dcase_csv(path, class_names=CLASSES, max_tracks=3)
    assert labels.active.shape == (3, 3) and labels.hop_s == 0.1
    np.testing.assert_array_equal(labels.active, [[1, 1, 0], [0, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(labels.class_index, [[1, 4, -1], [-1, -1, -1], [1, -1, -1]])
    assert labels.azimuth_deg[0, :2].tolist() == [-50.0, 170.0] and labels.elevation_deg[0, 1] == -10.0
    assert labels.distance_m[0, 0] == np.float32(1.5) and labels.distance_m[2, 0] == np.float32(1.51)
    assert np.isnan(labels.azimuth_deg[1]).all() and np.isnan(labels.distance_m[0, 2])
    assert labels.has_distance


def test_five_columns_have_no_distance(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a.csv", "3,12,0,10,-5\n3,0,1,-90,45\n")
    labels = read_dcase_csv(path, class_names=CLASSES, n_frames=6, max_tracks=2)
    assert labels.active.shape == (6, 2)
    np.testing.assert_array_equal(labels.class_index[3], [12, 0])
    assert np.isnan(labels.distance_m).all() and not labels.has_distance


def test_four_columns_assign_tracks_in_row_order(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a.csv", "0,2,30,0\n0,2,-30,0\n1,5,0,90\n")
    labels = read_dcase_csv(path, class_names=CLASSES, max_tracks=2)
    np.testing.assert_array_equal(labels.class_index, [[2, 2], [5, -1]])
    np.testing.assert_array_equal(labels.azimuth_deg[0], [30.0, -30.0])
    assert labels.elevation_deg[1, 0] == 90.0


def test_seven_columns_cartesian_direction(tmp_path: Path) -> None:
    rows = [(0.0, 1.0, 0.0), (2.0, 0.0, 2.0), (-1.0, 0.0, 0.0), (0.3, -0.4, -0.5)]
    text = "".join(f"0,1,{i},{x},{y},{z},{100 + i}\n" for i, (x, y, z) in enumerate(rows))
    labels = read_dcase_csv(write_text(tmp_path / "a.csv", text), class_names=CLASSES, max_tracks=4)
    xyz = np.array(rows)
    azimuth = np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0]))
    elevation = np.degrees(np.arcsin(xyz[:, 2] / np.linalg.norm(xyz, axis=1)))
    np.testing.assert_allclose(labels.azimuth_deg[0], azimuth, atol=1e-4)
    np.testing.assert_allclose(labels.elevation_deg[0], elevation, atol=1e-4)
    assert labels.azimuth_deg[0, 2] == 180.0  # (-1, 0, 0) is behind: +180, not -180
    np.testing.assert_allclose(labels.distance_m[0], [1.0, 1.01, 1.02, 1.03], rtol=1e-6)


def test_azimuth_minus_180_reads_as_180(tmp_path: Path) -> None:
    labels = read_dcase_csv(write_text(tmp_path / "a.csv", "0,0,0,-180,0,100\n"), class_names=CLASSES)
    assert labels.azimuth_deg[0, 0] == 180.0


def test_blank_lines_and_spaces_are_accepted(tmp_path: Path) -> None:
    labels = read_dcase_csv(write_text(tmp_path / "a.csv", "\n0, 1, 0, 5, 6, 70\n\n"), class_names=CLASSES)
    assert labels.class_index[0, 0] == 1 and labels.distance_m[0, 0] == np.float32(0.7)


def test_empty_file_gives_empty_labels(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a.csv", "")
    assert read_dcase_csv(path, class_names=CLASSES).active.shape == (0, 6)
    assert not read_dcase_csv(path, class_names=CLASSES, n_frames=4, max_tracks=3).active.any()


# --- track assignment ------------------------------------------------------------------------------------------


def test_continuing_event_keeps_its_track(tmp_path: Path) -> None:
    # class 1 (source 0) runs frames 0-2; class 2 (source 0) starts at frame 1: track 0 is taken, it gets track 1
    # and keeps it at frame 2, when class 1 has stopped; at frame 4, after a gap, it starts again on track 0.
    text = "0,1,0,10,0\n1,1,0,11,0\n1,2,0,50,0\n2,1,0,12,0\n2,2,0,51,0\n3,2,0,52,0\n4,2,0,53,0\n"
    labels = read_dcase_csv(write_text(tmp_path / "a.csv", text), class_names=CLASSES, max_tracks=3)
    np.testing.assert_array_equal(labels.class_index[:, :2], [[1, -1], [1, 2], [1, 2], [-1, 2], [-1, 2]])
    np.testing.assert_array_equal(labels.azimuth_deg[:, 1], [np.nan, 50, 51, 52, 53])


def test_starting_event_takes_its_source_index_as_track(tmp_path: Path) -> None:
    text = "0,3,2,10,0\n1,3,2,10,0\n1,4,0,20,0\n"
    labels = read_dcase_csv(write_text(tmp_path / "a.csv", text), class_names=CLASSES, max_tracks=3)
    np.testing.assert_array_equal(labels.class_index, [[-1, -1, 3], [4, -1, 3]])


def test_source_index_beyond_the_tracks_takes_the_lowest_free_track(tmp_path: Path) -> None:
    text = "0,3,0,10,0\n0,3,17,20,0\n"
    labels = read_dcase_csv(write_text(tmp_path / "a.csv", text), class_names=CLASSES, max_tracks=2)
    np.testing.assert_array_equal(labels.azimuth_deg[0], [10.0, 20.0])


def test_more_events_than_tracks_names_file_and_frame(tmp_path: Path) -> None:
    text = "0,1,0,0,0\n5,1,0,0,0\n5,2,1,0,0\n5,3,2,0,0\n"
    path = write_text(tmp_path / "crowded.csv", text)
    pattern = r"crowded\.csv frame 5 \(lines 2, 3, 4\): 3 simultaneous events.*max_tracks=2"
    with pytest.raises(SourceError, match=pattern):
        read_dcase_csv(path, class_names=CLASSES, max_tracks=2)


def test_same_event_twice_in_a_frame_is_an_error(tmp_path: Path) -> None:
    path = write_text(tmp_path / "dup.csv", "0,1,0,0,0\n0,1,0,30,0\n")
    pattern = r"dup\.csv line 2: class 1 source_idx 0 appears twice in frame 0 \(also line 1\)"
    with pytest.raises(SourceError, match=pattern):
        read_dcase_csv(path, class_names=CLASSES)


# --- bad input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("0,13,0,10,0,100\n", r"line 1: unknown class index 13; there are 13 classes"),
        ("0,1,0,10,0,100\n1,2,0\n", r"line 2: expected 4, 5, 6 or 7 comma-separated fields.*got 3 fields: 1,2,0"),
        ("0,1,0,10,0,100,5,6\n", r"line 1: expected 4, 5, 6 or 7.*got 8 fields"),
        ("0,1,0,10,0,100\n1,1,0,10,0\n", r"line 2: 5 fields, but line 1 has 6"),
        ("0,1,0,12.5,0,100\n", r"line 1: azimuth must be an integer, got '12.5'"),
        ("x,1,0,12,0,100\n", r"line 1: frame must be an integer, got 'x'"),
        ("0,1,0,12,0,1_00\n", r"line 1: distance_cm must be an integer, got '1_00'"),
        ("-1,1,0,12,0,100\n", r"line 1: frame -1 out of range, expected >= 0"),
        ("0,1,0,181,0,100\n", r"line 1: azimuth 181 out of range, expected in \[-180, 180\]"),
        ("0,1,0,0,-91,100\n", r"line 1: elevation -91 out of range"),
        ("0,1,0,0,0,-4\n", r"line 1: distance_cm -4 out of range"),
        ("0,1,0,a,0,0,100\n", r"line 1: x must be a number, got 'a'"),
        ("0,1,0,0,0,0,100\n", r"line 1: direction \(x, y, z\) = \(0, 0, 0\)"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, text: str, pattern: str) -> None:
    path = write_text(tmp_path / "bad_labels.csv", text)
    with pytest.raises(SourceError, match=r"bad_labels\.csv " + pattern):
        read_dcase_csv(path, class_names=CLASSES)


def test_frame_past_the_end_of_the_audio(tmp_path: Path) -> None:
    path = write_text(tmp_path / "long.csv", "0,1,0,0,0\n9,1,0,0,0\n10,1,0,0,0\n")
    assert read_dcase_csv(path, class_names=CLASSES, n_frames=11).active.shape[0] == 11
    with pytest.raises(SourceError, match=r"long\.csv line 3: frame 10 is past the end of the audio \(10 frames"):
        read_dcase_csv(path, class_names=CLASSES, n_frames=10)


def test_unknown_class_with_fewer_class_names(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a.csv", "0,0,0,0,0\n0,2,1,0,0\n")
    with pytest.raises(SourceError, match=r"a\.csv line 2: unknown class index 2; there are 2 classes \(0 to 1\)"):
        read_dcase_csv(path, class_names=("speech", "music"))


def test_missing_file_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nothere\.csv: DCASE label CSV not found"):
        read_dcase_csv(tmp_path / "nothere.csv", class_names=CLASSES)
    path = write_text(tmp_path / "a.csv", "")
    with pytest.raises(ValueError, match="class_names is empty"):
        read_dcase_csv(path, class_names=())
    with pytest.raises(ValueError, match="max_tracks"):
        read_dcase_csv(path, class_names=CLASSES, max_tracks=0)


# --- writing ---------------------------------------------------------------------------------------------------


def test_written_text_is_the_2024_format(tmp_path: Path) -> None:
    labels = FrameLabels.empty(n_frames=3, n_tracks=2)
    for frame, track, cls, az, el, dist in [(0, 1, 4, -179.6, 10.4, 1.234), (2, 0, 0, 90.5, -0.4, 2.0)]:
        labels.active[frame, track] = True
        labels.class_index[frame, track] = cls
        labels.azimuth_deg[frame, track] = az
        labels.elevation_deg[frame, track] = el
        labels.distance_m[frame, track] = dist
    path = tmp_path / "out.csv"
    write_dcase_csv(path, labels)
    # -179.6 rounds to -180, written as 180; 90.5 rounds half to even (90); 1.234 m is 123 cm.
    assert path.read_text() == "0,4,1,180,10,123\n2,0,0,90,0,200\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_labels_without_distance_write_five_columns(tmp_path: Path) -> None:
    labels = random_labels(np.random.default_rng(3), n_frames=20, n_tracks=3, with_distance=False)
    path = tmp_path / "a.csv"
    write_dcase_csv(path, labels)
    rows = path.read_text().splitlines()
    assert len(rows) == int(labels.active.sum()) and all(len(r.split(",")) == 5 for r in rows)
    assert_labels_equal(read_dcase_csv(path, class_names=CLASSES, n_frames=20, max_tracks=3), labels)


def test_mixed_distances_cannot_be_written(tmp_path: Path) -> None:
    labels = random_labels(np.random.default_rng(0), n_frames=10, n_tracks=2, with_distance=True, p_active=0.9)
    frame, track = np.argwhere(labels.active)[0]
    labels.distance_m[frame, track] = np.nan
    with pytest.raises(ValueError, match=r"mixed\.csv: 1 of \d+ active label entries have no distance"):
        write_dcase_csv(tmp_path / "mixed.csv", labels)
    assert not (tmp_path / "mixed.csv").exists()


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "taken.csv"
    target.mkdir()  # renaming a file onto a folder fails
    with pytest.raises(OSError):
        write_dcase_csv(target, random_labels(np.random.default_rng(0), n_frames=4, n_tracks=2, with_distance=True))
    assert [p.name for p in tmp_path.iterdir()] == ["taken.csv"] and target.is_dir()


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("with_distance", [True, False])
def test_round_trip_gives_the_same_labels(tmp_path: Path, seed: int, with_distance: bool) -> None:
    rng = np.random.default_rng(seed)
    labels = random_labels(rng, n_frames=int(rng.integers(1, 80)), n_tracks=int(rng.integers(1, 5)),
                           with_distance=with_distance, p_active=float(rng.uniform(0.1, 0.9)))
    path = tmp_path / "labels.csv"
    write_dcase_csv(path, labels)
    back = read_dcase_csv(path, class_names=CLASSES, n_frames=labels.n_frames, max_tracks=labels.n_tracks)
    assert_labels_equal(back, labels)


def test_round_trip_rounds_to_the_csv_grid(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    labels = random_labels(rng, n_frames=30, n_tracks=3, with_distance=True, p_active=0.7)
    k = int(labels.active.sum())
    labels.azimuth_deg[labels.active] += rng.uniform(-0.49, 0.49, k).astype(np.float32)
    labels.azimuth_deg[labels.active] = np.clip(labels.azimuth_deg[labels.active], -179.5, 180.0)
    labels.elevation_deg[labels.active] = np.clip(labels.elevation_deg[labels.active]
                                                  + rng.uniform(-0.49, 0.49, k).astype(np.float32), -90, 90)
    labels.distance_m[labels.active] += rng.uniform(-0.0049, 0.0049, k).astype(np.float32)
    path = tmp_path / "labels.csv"
    write_dcase_csv(path, labels)
    back = read_dcase_csv(path, class_names=CLASSES, n_frames=30, max_tracks=3)
    a = labels.active
    np.testing.assert_array_equal(back.active, a)
    # Each value comes back as the nearest grid point: within half a degree / half a centimetre.
    assert np.max(np.abs(back.azimuth_deg[a] - labels.azimuth_deg[a])) <= 0.5
    assert np.max(np.abs(back.elevation_deg[a] - labels.elevation_deg[a])) <= 0.5
    assert np.max(np.abs(back.distance_m[a] - labels.distance_m[a])) <= 0.005 + 1e-6
    assert math.isclose(float(np.abs(back.distance_m[a] * 100 - np.rint(back.distance_m[a] * 100)).max()), 0.0,
                        abs_tol=1e-4)


def test_frame_labels_validate_their_arrays() -> None:
    labels = FrameLabels.empty(n_frames=2, n_tracks=2)
    with pytest.raises(ValueError, match="class_index must be a int16 array, got int64"):
        FrameLabels(active=labels.active, class_index=labels.class_index.astype(np.int64),
                    azimuth_deg=labels.azimuth_deg, elevation_deg=labels.elevation_deg, distance_m=labels.distance_m)
    active = labels.active.copy()
    active[0, 0] = True
    with pytest.raises(ValueError, match="class_index must be -1 exactly where the track is inactive"):
        FrameLabels(active=active, class_index=labels.class_index, azimuth_deg=labels.azimuth_deg,
                    elevation_deg=labels.elevation_deg, distance_m=labels.distance_m)
    with pytest.raises(ValueError, match=r"distance_m has shape \(2, 3\)"):
        FrameLabels(active=labels.active, class_index=labels.class_index, azimuth_deg=labels.azimuth_deg,
                    elevation_deg=labels.elevation_deg, distance_m=np.full((2, 3), np.nan, dtype=np.float32))
