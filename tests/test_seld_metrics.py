"""The DCASE SELD metrics (mcsimclr.seld.metrics) against the official baselines' outputs and hand-computed cases.

``fixtures/seld_official.json`` holds what the official DCASE 2024 and 2023 code computed on the arrays of
``fixtures/seld_cases.npz`` (commits and parameters are in the json); ours must equal it to 1e-6.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from mcsimclr.core.frame_labels import FrameLabels
from mcsimclr.seld.metrics import angular_error_deg, seld_metrics_2023, seld_metrics_2024, unit_vectors

FIXTURES = Path(__file__).parent / "fixtures"
FIELDS = ("active", "class_index", "azimuth_deg", "elevation_deg", "distance_m")
# official output name -> ours (AngE is DOAE_CD in 2024 and LE_CD in 2023)
NAMES = {"ER": "ER20", "F": "F20", "DistE": "DE_CD", "RelDistE": "RDE_CD", "LR": "LR_CD", "SELD_scr": "SELD_score"}


def _official() -> dict:
    return json.loads((FIXTURES / "seld_official.json").read_text())


def _recordings(dataset: str, role: str, frames: list[int] | None = None) -> list[FrameLabels]:
    with np.load(FIXTURES / "seld_cases.npz") as arrays:
        out, index = [], 0
        while f"{dataset}_{role}_{index:02d}_active" in arrays.files:
            stop = None if frames is None else frames[index]
            out.append(FrameLabels(**{f: arrays[f"{dataset}_{role}_{index:02d}_{f}"][:stop] for f in FIELDS}))
            index += 1
    return out


def _official_cases() -> list[tuple[dict, str]]:
    return [(run, key) for run in _official()["runs"] for key in ("results", "wrapper_results")]


@pytest.mark.parametrize(("run", "key"), _official_cases(), ids=lambda v: v["name"] if isinstance(v, dict) else v)
def test_ours_equal_the_official_outputs(run: dict, key: str) -> None:
    n_classes = _official()["parameters"]["n_classes"]
    frames = None
    if key == "wrapper_results":
        # the official wrapper's recording length: the largest frame index of the reference CSV (2024), rounded up
        # to whole 1 s segments of the frames that exist (2023)
        lengths = [labels.n_frames for labels in _recordings(run["dataset"], "ref")]
        frames = [w if run["year"] == "2024" else min(n, -(-w // 10) * 10)
                  for w, n in zip(run["wrapper_frames"], lengths, strict=True)]
    predictions, references = _recordings(run["dataset"], "pred", frames), _recordings(run["dataset"], "ref", frames)
    if run["year"] == "2024":
        ours = seld_metrics_2024(predictions, references, n_classes=n_classes, use_distance=run["use_distance"])
        doa = "DOAE_CD"
    else:
        ours = seld_metrics_2023(predictions, references, n_classes=n_classes)
        doa = "LE_CD"
    official = run[key]
    for name, value in official.items():
        if name == "classwise":
            continue
        assert ours[NAMES.get(name, doa)] == pytest.approx(value, abs=1e-6), name
    for name, values in official["classwise"].items():
        if name == "ER":  # the official per-class ER is the overall ER repeated
            continue
        expected = np.array([np.nan if v is None else v for v in values])
        np.testing.assert_allclose(ours["per_class"][NAMES.get(name, doa)], expected, rtol=0, atol=1e-6,
                                   equal_nan=True, err_msg=name)


def test_the_official_runs_cover_every_metric_set() -> None:
    runs = {(r["year"], r["dataset"], r["use_distance"]) for r in _official()["runs"]}
    assert runs == {("2024", "dist", True), ("2024", "dist", False), ("2024", "nodist", False),
                    ("2023", "dist", False), ("2023", "nodist", False)}


def test_the_fixture_arrays_are_those_the_official_code_saw() -> None:
    npz = FIXTURES / "seld_cases.npz"
    assert hashlib.sha256(npz.read_bytes()).hexdigest() == _official()["input"]["npz_sha256"]
    spec = importlib.util.spec_from_file_location("make_seld_fixture", FIXTURES / "make_seld_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    remade = module.make_cases()
    with np.load(npz) as stored:
        assert sorted(stored.files) == sorted(remade)
        for key, value in remade.items():
            np.testing.assert_array_equal(stored[key], value, err_msg=key)
    # the data exercise polyphony 3, a class overlapping itself, and the distance threshold
    references = _recordings("dist", "ref") + _recordings("nodist", "ref")
    assert max(int(r.active.sum(axis=1).max()) for r in references) == 3
    assert any(np.any(np.sum(r.class_index[:, :, None] == np.arange(7), axis=1) >= 2) for r in references)
    pred, ref = _recordings("dist", "pred"), _recordings("dist", "ref")
    with_threshold = seld_metrics_2024(pred, ref, n_classes=7, use_distance=True)["F20"]
    assert with_threshold < seld_metrics_2024(pred, ref, n_classes=7, use_distance=True,
                                              distance_threshold=math.inf)["F20"]


# ------------------------------------------------------------------------------------------------ hand-made cases


def _labels(n_frames: int, n_tracks: int, events: list[tuple[range, int, int, float, float, float]]) -> FrameLabels:
    """Labels from events ``(frames, track, class, azimuth_deg, elevation_deg, distance_m)``."""
    empty = FrameLabels.empty(n_frames=n_frames, n_tracks=n_tracks)
    arrays = {f: getattr(empty, f).copy() for f in FIELDS}
    for frames, track, cls, az, el, dist in events:
        for frame in frames:
            arrays["active"][frame, track] = True
            arrays["class_index"][frame, track] = cls
            arrays["azimuth_deg"][frame, track] = az
            arrays["elevation_deg"][frame, track] = el
            arrays["distance_m"][frame, track] = dist
    return FrameLabels(**arrays)


REFERENCE = _labels(20, 3, [(range(0, 10), 0, 0, 30.0, 10.0, 2.0), (range(5, 15), 1, 1, -100.0, -20.0, 3.5)])


def test_empty_predictions() -> None:
    empty = FrameLabels.empty(n_frames=20, n_tracks=3)
    for use_distance in (True, False):
        result = seld_metrics_2024([empty], [REFERENCE], n_classes=2, use_distance=use_distance)
        assert result["F20"] == 0.0 and result["LR_CD"] == 0.0
        assert result["ER20"] == 1.0  # every reference a deletion
        assert math.isnan(result["DOAE_CD"])  # the official code: NaN for a class without matched pairs
        assert result["SELD_score"] == 1.0  # nanmean(1 - 0, NaN, NaN) or nanmean(1, 1 - 0, NaN, 1 - 0) per class
        if use_distance:
            assert math.isnan(result["RDE_CD"]) and math.isnan(result["DE_CD"])
        else:
            assert "RDE_CD" not in result
    result = seld_metrics_2023([empty], [REFERENCE], n_classes=2)
    # segments: [0, 10) holds both classes, [10, 20) class 1: 3 deletions of 3 references
    assert (result["ER20"], result["F20"], result["LE_CD"], result["LR_CD"]) == (1.0, 0.0, 180.0, 0.0)
    assert result["SELD_score"] == 1.0


def test_a_perfect_prediction() -> None:
    result = seld_metrics_2024([REFERENCE], [REFERENCE], n_classes=2, use_distance=True)
    assert (result["F20"], result["DOAE_CD"], result["RDE_CD"], result["ER20"], result["LR_CD"]) == (1, 0, 0, 0, 1)
    assert result["SELD_score"] == 0.0
    result = seld_metrics_2023([REFERENCE], [REFERENCE], n_classes=2)
    assert (result["F20"], result["LE_CD"], result["ER20"], result["LR_CD"], result["SELD_score"]) == (1, 0, 0, 1, 0)


def test_a_class_that_never_occurs_counts_in_the_macro_average() -> None:
    result = seld_metrics_2024([REFERENCE], [REFERENCE], n_classes=4, use_distance=True)
    assert result["F20"] == 0.5  # (1 + 1 + 0 + 0) / 4
    assert result["DOAE_CD"] == 0.0  # the classes without pairs are NaN and left out
    np.testing.assert_array_equal(np.isnan(result["per_class"]["DOAE_CD"]), [False, False, True, True])
    result = seld_metrics_2023([REFERENCE], [REFERENCE], n_classes=4)
    assert (result["F20"], result["LE_CD"], result["LR_CD"]) == (0.5, 90.0, 0.5)  # LE_CD (0 + 0 + 180 + 180) / 4


# two events of class 0 at once (tracks 0 and 1) and one of class 1
TWO_OF_A_CLASS = _labels(10, 3, [(range(10), 0, 0, 0.0, 0.0, 2.0), (range(10), 1, 0, 90.0, 0.0, 4.0),
                                 (range(3, 8), 2, 1, 180.0, 45.0, 1.0)])


def test_one_swapped_track_gives_the_same_metrics() -> None:
    # predictions 10 and 5 degrees off; on the same tracks as the references, or swapped
    same = _labels(10, 3, [(range(10), 0, 0, 10.0, 0.0, 2.0), (range(10), 1, 0, 95.0, 0.0, 4.0),
                           (range(3, 8), 2, 1, 180.0, 45.0, 1.0)])
    swapped = _labels(10, 3, [(range(10), 1, 0, 10.0, 0.0, 2.0), (range(10), 2, 0, 95.0, 0.0, 4.0),
                              (range(3, 8), 0, 1, 180.0, 45.0, 1.0)])
    halfway = _labels(10, 3, [(range(5), 0, 0, 10.0, 0.0, 2.0), (range(5, 10), 1, 0, 10.0, 0.0, 2.0),
                              (range(5), 1, 0, 95.0, 0.0, 4.0), (range(5, 10), 0, 0, 95.0, 0.0, 4.0),
                              (range(3, 8), 2, 1, 180.0, 45.0, 1.0)])
    base = seld_metrics_2024([same], [TWO_OF_A_CLASS], n_classes=2, use_distance=True)
    assert base["F20"] == pytest.approx(1.0) and base["RDE_CD"] == 0.0
    assert base["per_class"]["DOAE_CD"] == pytest.approx([7.5, 0.0], abs=1e-12)  # (10 + 5) / 2 per frame
    base_2023 = seld_metrics_2023([same], [TWO_OF_A_CLASS], n_classes=2)
    assert base_2023["per_class"]["LE_CD"] == pytest.approx([7.5, 0.0], abs=1e-12)
    for other in (swapped, halfway):
        _assert_same(seld_metrics_2024([other], [TWO_OF_A_CLASS], n_classes=2, use_distance=True), base)
        _assert_same(seld_metrics_2023([other], [TWO_OF_A_CLASS], n_classes=2), base_2023)
    # the references on other tracks: frame level, any swap; 2023 knows a reference by its rank in the frame
    # (ascending track order), so there the swap must hold over the segment
    reference_swapped = _labels(10, 3, [(range(10), 2, 0, 0.0, 0.0, 2.0), (range(10), 0, 0, 90.0, 0.0, 4.0),
                                        (range(3, 8), 1, 1, 180.0, 45.0, 1.0)])
    reference_halfway = _labels(10, 3, [(range(5), 0, 0, 0.0, 0.0, 2.0), (range(5, 10), 1, 0, 0.0, 0.0, 2.0),
                                        (range(5), 1, 0, 90.0, 0.0, 4.0), (range(5, 10), 0, 0, 90.0, 0.0, 4.0),
                                        (range(3, 8), 2, 1, 180.0, 45.0, 1.0)])
    for reference in (reference_swapped, reference_halfway):
        _assert_same(seld_metrics_2024([same], [reference], n_classes=2, use_distance=True), base)
    _assert_same(seld_metrics_2023([same], [reference_swapped], n_classes=2), base_2023)


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if key == "per_class":
            for name in a[key]:
                np.testing.assert_allclose(a[key][name], b[key][name], rtol=0, atol=1e-12, equal_nan=True)
        else:
            assert a[key] == pytest.approx(b[key], abs=1e-12, nan_ok=True), key


ONE_EVENT = _labels(10, 1, [(range(10), 0, 0, 0.0, 0.0, 2.0)])


def test_one_event_off_by_30_degrees() -> None:
    off = _labels(10, 1, [(range(10), 0, 0, 30.0, 0.0, 2.0)])
    result = seld_metrics_2024([off], [ONE_EVENT], n_classes=1, use_distance=True)
    assert result["F20"] == 0.0  # matched but outside 20 degrees: TP 0, FP_spatial 10
    assert result["DOAE_CD"] == pytest.approx(30.0, abs=1e-12)
    assert result["LR_CD"] == 1.0 and result["ER20"] == 1.0  # an insertion in each of the 10 frames
    assert result["SELD_score"] == pytest.approx((1.0 + 30.0 / 180.0 + 0.0) / 3)
    assert seld_metrics_2024([off], [ONE_EVENT], n_classes=1, use_distance=True, doa_threshold_deg=30.5)["F20"] == 1
    result = seld_metrics_2023([off], [ONE_EVENT], n_classes=1)
    assert (result["F20"], result["LR_CD"], result["ER20"]) == (0.0, 1.0, 1.0)
    assert result["LE_CD"] == pytest.approx(30.0, abs=1e-12)


def test_an_error_of_exactly_the_threshold_is_inside_it() -> None:
    # "at most 20 degrees"; the official 2024 code reads this pair as 20 + 1.6e-8 degrees (its 1e-10 in the norm)
    # and counts it outside
    at_threshold = _labels(10, 1, [(range(10), 0, 0, 20.0, 0.0, 2.0)])
    assert seld_metrics_2024([at_threshold], [ONE_EVENT], n_classes=1, use_distance=True)["F20"] == 1.0
    assert seld_metrics_2023([at_threshold], [ONE_EVENT], n_classes=1)["F20"] == 1.0


def test_a_distance_off_by_150_percent() -> None:
    far = _labels(10, 1, [(range(10), 0, 0, 0.0, 0.0, 5.0)])  # |5 - 2| / 2 = 1.5
    result = seld_metrics_2024([far], [ONE_EVENT], n_classes=1, use_distance=True)
    assert result["F20"] == 0.0 and result["DOAE_CD"] == 0.0
    assert result["RDE_CD"] == pytest.approx(1.5) and result["DE_CD"] == pytest.approx(3.0)
    assert seld_metrics_2024([far], [ONE_EVENT], n_classes=1, use_distance=False)["F20"] == 1.0
    assert seld_metrics_2024([far], [ONE_EVENT], n_classes=1, use_distance=True, distance_threshold=1.5)["F20"] == 1


def test_a_missed_event_of_a_class_that_overlaps_itself() -> None:
    one = _labels(10, 3, [(range(10), 2, 0, 2.0, 0.0, 2.0), (range(3, 8), 0, 1, 180.0, 45.0, 1.0)])
    result = seld_metrics_2024([one], [TWO_OF_A_CLASS], n_classes=2, use_distance=True)
    # class 0 per frame: one pair (2 degrees), one reference missed: TP 10, FN 10
    assert result["per_class"]["F20"] == pytest.approx([10 / (10 + 0.5 * 10), 1.0])
    assert result["per_class"]["LR_CD"] == pytest.approx([0.5, 1.0])
    assert result["per_class"]["DOAE_CD"] == pytest.approx([2.0, 0.0], abs=1e-12)


def test_2023_a_class_in_both_but_never_in_the_same_frame_counts_its_predictions_as_missed() -> None:
    reference = _labels(10, 2, [(range(0, 4), 0, 0, 0.0, 0.0, 1.0)])
    prediction = _labels(10, 2, [(range(5, 9), 0, 0, 0.0, 0.0, 1.0), (range(5, 9), 1, 0, 50.0, 0.0, 1.0)])
    result = seld_metrics_2023([prediction], [reference], n_classes=1)
    # the official rule: P = 2 false negatives (not R = 1 FN and 2 FP); N_ref = 1, so ER20 = 2
    assert (result["F20"], result["LR_CD"], result["ER20"], result["LE_CD"]) == (0.0, 0.0, 2.0, 180.0)
    frame_level = seld_metrics_2024([prediction], [reference], n_classes=1, use_distance=False)
    assert frame_level["F20"] == 0.0 and frame_level["ER20"] == 3.0  # 4 deletions and 8 insertions, 4 references


def test_2023_segments_average_the_error_of_a_reference_over_their_frames() -> None:
    reference = _labels(20, 1, [(range(0, 20), 0, 0, 0.0, 0.0, 1.0)])
    # segment 0: 10 then 40 degrees (mean 25 > 20); segment 1: 10 then 20 degrees (mean 15)
    events = [(range(0, 5), 0, 0, 10.0, 0.0, 1.0), (range(5, 10), 0, 0, 40.0, 0.0, 1.0),
              (range(10, 15), 0, 0, 10.0, 0.0, 1.0), (range(15, 20), 0, 0, 20.0, 0.0, 1.0)]
    result = seld_metrics_2023([_labels(20, 1, events)], [reference], n_classes=1)
    assert result["F20"] == pytest.approx(1 / (1 + 1))  # TP 1, FP_spatial 1
    assert result["LE_CD"] == pytest.approx((25.0 + 15.0) / 2)
    assert result["ER20"] == pytest.approx(0.5)  # one insertion in two segments with one reference each


def test_angular_error_against_the_arccos_formula() -> None:
    rng = np.random.default_rng(0)
    az, el = rng.uniform(-180, 180, (2, 500)), np.degrees(np.arcsin(rng.uniform(-1, 1, (2, 500))))
    u, v = unit_vectors(azimuth_deg=az[0], elevation_deg=el[0]), unit_vectors(azimuth_deg=az[1], elevation_deg=el[1])
    a0, a1, e0, e1 = np.deg2rad(az[0]), np.deg2rad(az[1]), np.deg2rad(el[0]), np.deg2rad(el[1])
    great_circle = np.degrees(np.arccos(np.clip(np.sin(e0) * np.sin(e1) + np.cos(e0) * np.cos(e1) * np.cos(a0 - a1),
                                                -1, 1)))
    np.testing.assert_allclose(angular_error_deg(u, v), great_circle, atol=1e-6)
    assert angular_error_deg(u, u).max() < 1e-12
    np.testing.assert_allclose(angular_error_deg(u, -u), 180.0)
    np.testing.assert_allclose(np.linalg.norm(u, axis=-1), 1.0)
    np.testing.assert_allclose(unit_vectors(azimuth_deg=np.array([90.0, 0.0]), elevation_deg=np.array([0.0, 90.0])),
                               [[0, 1, 0], [0, 0, 1]], atol=1e-15)


# ------------------------------------------------------------------------------------------------ bad input


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="prediction has 10 frames, reference 20"):
        seld_metrics_2024([ONE_EVENT], [REFERENCE], n_classes=2, use_distance=True)
    with pytest.raises(ValueError, match="reference 0: class_index 1 at frame 5, track 1; expected 0 <= class_index"):
        seld_metrics_2023([FrameLabels.empty(n_frames=20, n_tracks=1)], [REFERENCE], n_classes=1)
    no_distance = _labels(10, 1, [(range(10), 0, 0, 0.0, 0.0, np.nan)])
    with pytest.raises(ValueError, match="prediction 0: distance_m nan at frame 0, track 0; use_distance=True"):
        seld_metrics_2024([no_distance], [ONE_EVENT], n_classes=1, use_distance=True)
    at_zero = _labels(10, 1, [(range(10), 0, 0, 0.0, 0.0, 0.0)])
    with pytest.raises(ValueError, match=r"reference 0: distance_m 0.0 .* expects a finite distance > 0 m"):
        seld_metrics_2024([ONE_EVENT], [at_zero], n_classes=1, use_distance=True)
    with pytest.raises(ValueError, match="1 predictions for 2 references"):
        seld_metrics_2024([ONE_EVENT], [ONE_EVENT, ONE_EVENT], n_classes=1, use_distance=False)
    with pytest.raises(ValueError, match="segment_frames must be a positive int"):
        seld_metrics_2023([ONE_EVENT], [ONE_EVENT], n_classes=1, segment_frames=0)
