"""The classical direction baselines (SRP-PHAT, MUSIC of pyroomacoustics.doa): the azimuth convention against a
simulated room, the matching of several sources, and the clip / scene evaluations on tiny `simulate` files, with the
probe mode and the report row."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import h5py
import numpy as np
import pyroomacoustics as pra
import pytest

from mcsimclr.classical import estimate_azimuths, evaluate_clips, evaluate_scenes
from mcsimclr.classical.doa import wrap_deg
from mcsimclr.classical.scenes import frame_window, matched_errors
from mcsimclr.cli import main
from mcsimclr.core.array import ARRAY_PRESETS
from mcsimclr.core.errors import DataError, GeometryError
from mcsimclr.core.scene_schema import SpatialScenesFile
from mcsimclr.probe.metrics import circular_error_deg
from mcsimclr.probe.report import build_table
from mcsimclr.probe.result_dir import read_result
from simulate.cli import main as simulate

RATE = 16000
CIRCULAR4 = ARRAY_PRESETS["circular4"]
# Measured on these tiny sets (configs/simulate/tiny.yaml test split, 8 clips; scenes-tiny.yaml test split):
# SRP-PHAT 2.4 / 2.0 deg mean / median on the clips, 5.0 deg median at polyphony 1 on the scenes (window 100 ms).
CLIP_MEDIAN_BOUND_DEG = 10.0
SCENE_P1_MEDIAN_BOUND_DEG = 15.0


def room_recording(azimuths_deg: list[float], *, seed: int = 0, max_order: int = 3) -> np.ndarray:
    """White noise from each azimuth (2 m from the array, at the array's height) in a 7 x 6 x 3 m room with
    reflections, recorded by circular4 at (3.2, 2.9, 1.4): ``(4, samples)``."""
    rng = np.random.default_rng(seed)
    centre = np.array([3.2, 2.9, 1.4])
    room = pra.ShoeBox([7.0, 6.0, 3.0], fs=RATE, materials=pra.Material(0.6), max_order=max_order)
    for az in azimuths_deg:
        a = math.radians(az)
        room.add_source(centre + 2.0 * np.array([math.cos(a), math.sin(a), 0.0]),
                        signal=rng.standard_normal(RATE // 2))
    room.add_microphone_array((centre + CIRCULAR4).T)
    room.simulate()
    return room.mic_array.signals


# Bounds (deg) by (method, image-source order): free field (0) is exact to the 1 deg grid for one source; with
# reflections (3, absorption 0.6) the measured errors were <= 3 (SRP-PHAT) and <= 9 (MUSIC, whose noise subspace
# the reflections disturb). Two equal white-noise sources: the broad SRP beams of a 10 cm array pull each other's
# peaks by up to 9 deg (free field; 12 with reflections) where MUSIC resolves them exactly (5 with reflections).
ONE_SOURCE_BOUND = {("srp-phat", 0): 1.0, ("music", 0): 1.0, ("srp-phat", 3): 5.0, ("music", 3): 10.0}
TWO_SOURCE_BOUND = {("srp-phat", 0): 10.0, ("music", 0): 2.0, ("srp-phat", 3): 15.0, ("music", 3): 10.0}


@pytest.mark.parametrize("max_order", [0, 3])
@pytest.mark.parametrize("method", ["srp-phat", "music"])
def test_one_source_comes_out_at_its_azimuth(method, max_order):
    """pyroomacoustics' azimuth (radians from +x, counter-clockwise, in [0, 2 pi)) is ours (degrees, (-180, 180])."""
    for azimuth in (0.0, 37.0, 90.0, 151.0, 180.0, -123.0, -60.0):
        audio = room_recording([azimuth], max_order=max_order)
        (found,) = estimate_azimuths(audio, mic_positions=CIRCULAR4, sample_rate=RATE, method=method)
        assert -180 < found <= 180
        assert circular_error_deg(found, azimuth) <= ONE_SOURCE_BOUND[method, max_order], (azimuth, found)


@pytest.mark.parametrize("max_order", [0, 3])
@pytest.mark.parametrize("method", ["srp-phat", "music"])
def test_two_sources_come_out_at_their_azimuths(method, max_order):
    truth = [50.0, -110.0]
    audio = room_recording(truth, seed=1, max_order=max_order)
    found = estimate_azimuths(audio, mic_positions=CIRCULAR4, sample_rate=RATE, method=method, num_src=2)
    assert found.shape == (2,)
    assert matched_errors(found, np.array(truth)).max() <= TWO_SOURCE_BOUND[method, max_order], found


def test_mic_order_matters_a_mirrored_array_mirrors_the_azimuth():
    """Mic i of the audio is row i of mic_positions: mirroring the positions (y -> -y) mirrors the estimate."""
    audio = room_recording([37.0])
    mirrored = CIRCULAR4 * np.array([1.0, -1.0, 1.0])
    (found,) = estimate_azimuths(audio, mic_positions=mirrored, sample_rate=RATE)
    assert circular_error_deg(found, -37.0) < 3.0


def test_wrap_and_matching_against_brute_force():
    assert wrap_deg(np.array([-180.0, 180.0, 540.0, 359.0, 0.0])).tolist() == [180.0, 180.0, 180.0, -1.0, 0.0]
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(1, 4))
        pred, ref = rng.uniform(-180, 180, n), rng.uniform(-180, 180, n)
        errors = matched_errors(pred, ref)
        best = min(sum(circular_error_deg(pred[list(p)], ref)) for p in itertools.permutations(range(n)))
        assert errors.sum() == pytest.approx(best)
    # in reference order, across the +-180 seam: 170 pairs with -175 (15 deg), -10 with 0
    assert matched_errors(np.array([-10.0, 170.0]), np.array([-175.0, 0.0])).tolist() == pytest.approx([15.0, 10.0])


def test_frame_window_is_centred_and_stays_inside():
    kw = {"hop_s": 0.1, "window_frames": 1, "sample_rate": RATE, "n_samples": 32000}
    assert frame_window(5, **kw) == slice(8000, 9600)  # centre 0.55 s = sample 8800
    assert frame_window(0, **{**kw, "window_frames": 3}) == slice(0, 4800)  # shifted inside at the start
    assert frame_window(19, **{**kw, "window_frames": 3}) == slice(27200, 32000)
    with pytest.raises(DataError, match="longer than the scene"):
        frame_window(0, **{**kw, "n_samples": 1000})


def test_clear_errors():
    audio = np.zeros((4, 4000))
    with pytest.raises(GeometryError, match="planar"):
        estimate_azimuths(audio, mic_positions=ARRAY_PRESETS["tetrahedral"], sample_rate=RATE)
    with pytest.raises(ValueError, match="unknown method"):
        estimate_azimuths(audio, mic_positions=CIRCULAR4, sample_rate=RATE, method="beamformer")
    with pytest.raises(ValueError, match="shorter than one STFT frame"):
        estimate_azimuths(audio[:, :100], mic_positions=CIRCULAR4, sample_rate=RATE)
    with pytest.raises(ValueError, match="num_src"):
        estimate_azimuths(audio, mic_positions=CIRCULAR4, sample_rate=RATE, num_src=4)
    with pytest.raises(ValueError, match="freq_range"):
        estimate_azimuths(audio, mic_positions=CIRCULAR4, sample_rate=RATE, freq_range=(300, 9000))
    with pytest.raises(ValueError, match=r"\(mics, 3\)"):
        estimate_azimuths(audio, mic_positions=CIRCULAR4[:3], sample_rate=RATE)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """The tiny build (configs/simulate/tiny.yaml): 12 unlabelled, 8 labelled and 8 test clips."""
    out = tmp_path_factory.mktemp("clips")
    assert simulate(["build", "--config", "configs/simulate/tiny.yaml", "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scenes")
    assert simulate(["scenes", "--config", "configs/simulate/scenes-tiny.yaml", "--out", str(out), "--no-progress",
                     "--splits", "test"]) == 0
    return out / "test.h5"


def test_srp_phat_on_the_tiny_clips_is_accurate_and_far_better_than_a_guess(clips):
    result = evaluate_clips(clips / "test.h5", method="srp-phat")
    with h5py.File(clips / "test.h5", "r") as f:
        truth = f["azimuth_deg"][()]
    assert result["n_clips"] == 8 and np.allclose(result["azimuth_deg"], truth)
    assert np.allclose(result["error_deg"], circular_error_deg(result["predicted_azimuth_deg"], truth))
    assert result["azimuth_error_median"] < CLIP_MEDIAN_BOUND_DEG
    guess = np.random.default_rng(0).uniform(-180, 180, (1000, truth.size))  # expected error of a guess: 90 deg
    assert result["azimuth_error_mean"] < circular_error_deg(guess, truth).mean() / 5


def test_a_scene_file_is_not_a_clip_file(scenes):
    with pytest.raises(DataError, match="scene file"):
        evaluate_clips(scenes)


def test_probe_modes_write_results_that_the_report_shows_as_rows(clips, tmp_path, capsys):
    root = tmp_path / "probes"
    common = ["--config", "configs/probe/tiny.yaml", f"data.train={clips / 'clean_train.h5'}",
              f"data.test={clips / 'test.h5'}"]
    for mode in ("srp-phat", "music"):
        assert main(["probe", *common, "--mode", mode, "--out", str(root / mode)]) == 0
    assert "no class (no learning)" in capsys.readouterr().out
    doc = read_result(root / "srp-phat")
    assert doc["accuracy"] is None and doc["run"]["setting"] == "SRP-PHAT (no learning)"
    assert doc["azimuth_error_median"] < CLIP_MEDIAN_BOUND_DEG and doc["n_clips"] == 8
    assert sum(b["count"] for b in doc["by_rt60"]) == 8 and all(b["accuracy"] is None for b in doc["by_rt60"])
    assert doc["run"]["classical"]["array_geometry"] == "circular4"
    with open(root / "srp-phat" / "predictions.csv") as fh:
        rows = list(csv.DictReader(fh))
    errors = circular_error_deg(np.array([float(r["predicted_azimuth_deg"]) for r in rows]),
                                np.array([float(r["azimuth_deg"]) for r in rows]))
    assert len(rows) == 8 and errors.mean() == pytest.approx(doc["azimuth_error_mean"])
    assert not (root / "srp-phat" / "model.pt").exists() and not (root / "srp-phat" / "confusion.png").exists()
    assert main(["report", str(root), "--out", str(tmp_path / "table.md")]) == 0
    lines = (tmp_path / "table.md").read_text().splitlines()
    assert lines[0] == "| setting | LP az err (deg) | runs |"
    assert lines[2] == f"| SRP-PHAT (no learning) | {doc['azimuth_error_mean']:.1f} | 1 |"
    assert lines[3].startswith("| MUSIC (no learning) |")
    # existing result, a checkpoint given to a classical mode: clear errors
    assert main(["probe", *common, "--mode", "srp-phat", "--out", str(root / "srp-phat")]) == 2
    assert "already holds a probe result" in capsys.readouterr().err
    assert main(["probe", *common, "--mode", "music", "--checkpoint", "x.ckpt", "--out", str(tmp_path / "m")]) == 2
    assert "uses no encoder" in capsys.readouterr().err
    assert main(["probe", *common, "--mode", "music", "--fraction", "0.5", "--out", str(tmp_path / "m")]) == 2
    assert "uses no labels" in capsys.readouterr().err
    assert main(["probe", "--config", "configs/probe/tiny.yaml", "data.train=''", f"data.test={clips / 'test.h5'}",
                 "--mode", "srp-phat", "--out", str(tmp_path / "no-train")]) == 0  # data.train is not needed
    assert main(["probe", *common, "--mode", "music", "classical.freq_range=[300,9000]", "--out",
                 str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert f"{clips / 'test.h5'}: clip 0 (circular4 array, 16000 Hz): freq_range" in err
    assert not (tmp_path / "m" / "metrics.json").exists()


@pytest.mark.slow
def test_report_says_whether_a_learned_row_loses_to_srp_phat(clips, tmp_path):
    """A random-init linear probe (the tiny config's architecture) beside SRP-PHAT in one report (about 10 s)."""
    common = ["--config", "configs/probe/tiny.yaml", f"data.train={clips / 'clean_train.h5'}",
              f"data.test={clips / 'test.h5'}"]
    for mode in ("srp-phat", "random-linear"):
        assert main(["probe", *common, "--mode", mode, "--out", str(tmp_path / "probes" / mode)]) == 0
    assert main(["report", str(tmp_path / "probes"), "--out", str(tmp_path / "table.md")]) == 0
    md = (tmp_path / "table.md").read_text()
    lines = md.splitlines()
    assert lines[0] == "| setting | LP acc (%) | LP az err (deg) | runs |"
    srp, learned = read_result(tmp_path / "probes" / "srp-phat"), read_result(tmp_path / "probes" / "random-linear")
    assert lines[3] == f"| SRP-PHAT (no learning) | — | {srp['azimuth_error_mean']:.1f} | 1 |"  # after the learned
    loses = f"**{learned['run']['setting']}** loses to SRP-PHAT on direction"
    assert (loses in md) == (learned["azimuth_error_mean"] > srp["azimuth_error_mean"])


def _doc(mode: str, setting: str, az: float, acc: float | None = 50.0, fraction: float = 1.0) -> dict:
    return {"accuracy": acc, "azimuth_error_mean": az,
            "run": {"mode": mode, "setting": setting, "fraction": fraction, "seed": 0}}


def test_report_names_the_learned_rows_that_lose_to_srp_phat():
    table = build_table([_doc("linear", "A", 40.0), _doc("finetune", "A", 1.0), _doc("finetune", "A", 30.0,
                         fraction=0.5), _doc("linear", "B", 1.5), _doc("srp-phat", "SRP-PHAT (no learning)", 2.0,
                         acc=None)])
    md = table.to_markdown()
    assert "| SRP-PHAT (no learning) | — | 2.0 | — | 2.0 | — | - | 1 |" in md
    assert "**A** loses to SRP-PHAT on direction (LP az err (deg) 40.0, FT 50 % az err (deg) 30.0 > 2.0 deg" in md
    assert "**B** loses" not in md
    assert table.name(table.rows[-1]) == "SRP-PHAT (no learning)"
    assert table.to_csv().splitlines()[-1].startswith("SRP-PHAT (no learning),,,0,2.0000,,1,")


def test_scenes_at_polyphony_1_are_accurate_and_counts_add_up(scenes):
    result = evaluate_scenes(scenes, method="srp-phat")
    with SpatialScenesFile(scenes) as f:
        polyphony = np.concatenate([f.labels(i).active.sum(axis=1) for i in range(len(f))])
    p1, p2 = result["polyphony"][1], result["polyphony"][2]
    assert p1["n_frames"] == int((polyphony == 1).sum()) > 0
    assert p2["n_frames"] == int((polyphony == 2).sum())
    assert p1["n_estimates"] == p1["n_frames"] and p2["n_estimates"] == 2 * p2["n_frames"]
    assert sum(result["n_frames_by_polyphony"].values()) == result["n_frames"] == polyphony.size
    assert p1["azimuth_error_median"] < SCENE_P1_MEDIAN_BOUND_DEG
    assert result["window_s"] == pytest.approx(0.1)
