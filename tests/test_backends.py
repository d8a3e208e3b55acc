"""RIR backends side by side: the registry, clear errors, gpuRIR's wiring (faked without a GPU), batched FFT
convolution against SciPy, and torchrir against physics and pyroomacoustics (when torchrir is installed)."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import math
import sys
import types
from pathlib import Path
from typing import ClassVar

import h5py
import numpy as np
import pytest
import torch
from scipy.signal import fftconvolve

from mcsimclr.core.array import ARRAY_PRESETS, direction_of
from simulate.backends import BACKENDS, BackendUnavailable, backend_status, make_backend
from simulate.cli import main
from simulate.config import RoomConfig
from simulate.convolve import convolve_clips, fft_convolve, fft_length
from simulate.geometry import Scene, sample_scene
from simulate.rt60 import measure_rt60_mics
from simulate.spatialize import convolve_block

FS = 16000
C = 343.0
GPURIR_SOURCE = Path(__file__).resolve().parents[1] / "third_party" / "gpuRIR" / "gpuRIR" / "__init__.py"
has_torchrir = importlib.util.find_spec("torchrir") is not None
needs_torchrir = pytest.mark.skipif(not has_torchrir, reason="torchrir is not installed (pip install torchrir)")


def scenes(n: int, *, rt60: tuple[float, float] = (0.2, 0.5), seed: int = 0) -> list[Scene]:
    rng = np.random.default_rng(seed)
    return [sample_scene(rng, RoomConfig(rt60=rt60), ARRAY_PRESETS["circular4"]) for _ in range(n)]


def arrival(h: np.ndarray, *, upsample: int = 64) -> float:
    """Sub-sample time of the first arrival of one RIR ``(samples,)``: band-limited interpolation around the
    first peak above a quarter of the maximum (the direct sound: nothing arrives before it)."""
    a = np.abs(h)
    i = int(np.flatnonzero(a >= 0.25 * a.max())[0])
    i += int(np.argmax(a[i : i + 4]))
    lo = max(i - 16, 0)
    fine = np.abs(np.fft.irfft(np.fft.rfft(h[lo : i + 16]), (i + 16 - lo) * upsample))
    return lo + int(np.argmax(fine[: (i - lo + 3) * upsample])) / upsample


def azimuth_from_arrivals(arrivals: np.ndarray, offsets: np.ndarray) -> float:
    """Far-field azimuth (deg) from per-mic arrival times (samples) of a horizontal array ``(mics, 3)``:
    least squares for ``t_m = t_0 - (u . r_m) fs / c``."""
    design = np.c_[-offsets[:, :2] * FS / C, np.ones(len(offsets))]
    (ux, uy, _), *_ = np.linalg.lstsq(design, arrivals, rcond=None)
    return math.degrees(math.atan2(uy, ux))


def assert_physical(scene: Scene, rir: np.ndarray) -> None:
    """Direct path at |source - mic| / c per mic (to 0.1 sample), azimuth from the arrivals (to 1 deg)."""
    expected = np.linalg.norm(scene.mic_positions - scene.source_pos, axis=1) / C * FS
    arrivals = np.array([arrival(r) for r in rir])
    np.testing.assert_allclose(arrivals, expected, atol=0.1)
    azimuth = azimuth_from_arrivals(arrivals, scene.mic_positions - scene.array_center)
    true = direction_of(scene.source_pos, scene.array_center)[0]
    assert abs((azimuth - true + 180) % 360 - 180) < 1.0


# --- registry and errors ---------------------------------------------------------------------------------


def test_registry_lists_the_backends_default_first():
    assert list(BACKENDS)[:3] == ["pyroomacoustics", "gpurir", "torchrir"]
    assert BACKENDS["gpurir"].requires == ("gpuRIR",) and BACKENDS["gpurir"].needs_cuda
    assert not BACKENDS["torchrir"].needs_cuda
    assert backend_status("pyroomacoustics") is None
    assert "known backends: pyroomacoustics, gpurir, torchrir" in backend_status("nope")


def test_gpurir_missing_package_is_a_clear_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gpuRIR" else real(name, *a))
    with pytest.raises(BackendUnavailable) as err:
        make_backend("gpurir", sample_rate=FS, max_order=None, speed_of_sound=C)
    message = str(err.value)
    assert "needs the Python package 'gpuRIR'" in message
    assert "pip install https://github.com/DavidDiazGuerra/gpuRIR/zipball/master" in message
    assert "nvcc" in message and "CMake" in message


def test_gpurir_without_cuda_is_a_clear_error(monkeypatch):
    real = importlib.util.find_spec
    spec = importlib.machinery.ModuleSpec("gpuRIR", None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: spec if name == "gpuRIR" else real(name, *a))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert backend_status("gpurir") == "backend 'gpurir' needs a CUDA GPU and none is available"


def test_backend_options_are_checked():
    with pytest.raises(TypeError, match="no_such_option"):
        make_backend("pyroomacoustics", sample_rate=FS, max_order=2, speed_of_sound=C, no_such_option=1)


# --- gpuRIR, with its CUDA kernel faked -------------------------------------------------------------------


class FakeBinding:
    """Stands in for gpuRIR's compiled ``gpuRIR_bind``: the direct path only, as gpuRIR computes it (a
    Hann-windowed sinc of 8 ms centred on ``dist / c * fs``, amplitude ``1 / (4 pi dist)``), and the calls."""

    calls: ClassVar[list[dict]] = []

    def simulateRIR_bind(self, room_sz, beta, pos_src, pos_rcv, orV_src, orV_rcv, spkr_pattern, mic_pattern,
                         nb_img, Tdiff, Tmax, Fs, c):
        self.calls.append(dict(room_sz=room_sz, beta=beta, nb_img=nb_img, Tdiff=Tdiff, Tmax=Tmax, Fs=Fs, c=c))
        n = math.ceil(Tmax * Fs)
        n += n % 2
        t = np.arange(n)
        out = np.zeros((len(pos_src), len(pos_rcv), n), dtype=np.float32)
        window = 8e-3 * Fs
        for s, src in enumerate(pos_src):
            for r, rcv in enumerate(pos_rcv):
                dist = float(np.linalg.norm(src - rcv))
                x = t - dist / c * Fs
                out[s, r] = np.where(np.abs(x) < window / 2, 0.5 * (1 + np.cos(2 * np.pi * x / window)), 0.0) \
                    * np.sinc(x) / (4 * np.pi * dist)
        return out

    def activate_mixed_precision_bind(self, activate):
        return activate

    def activate_lut_bind(self, activate):
        return activate


def fake_gpurir_module() -> types.ModuleType:
    """gpuRIR's own Python layer over the fake kernel when its source is in third_party/, else a minimal
    stand-in with the documented API."""
    binding = types.ModuleType("gpuRIR_bind")
    binding.gpuRIR_bind = FakeBinding
    module = types.ModuleType("gpuRIR")
    if GPURIR_SOURCE.exists():
        sys.modules["gpuRIR_bind"] = binding
        exec(compile(GPURIR_SOURCE.read_text(), str(GPURIR_SOURCE), "exec"), module.__dict__)
        return module
    sim = FakeBinding()
    module.att2t_SabineEstimator = lambda att_dB, T60: att_dB / 60.0 * T60
    module.t2n = lambda T, rooms_sz, c=343.0: [math.ceil(2 * T * c / L) for L in rooms_sz]
    module.activateMixedPrecision = module.activateLUT = lambda activate=True: None
    module.simulateRIR = lambda room_sz, beta, pos_src, pos_rcv, nb_img, Tmax, fs, Tdiff=None, mic_pattern="omni", \
        c=343.0: sim.simulateRIR_bind(room_sz, beta, pos_src, pos_rcv, None, None, 0, 0, nb_img,
                                      Tmax if Tdiff is None else Tdiff, Tmax, fs, c)
    return module


@pytest.fixture
def gpurir_backend_class(monkeypatch):
    monkeypatch.setitem(sys.modules, "gpuRIR", fake_gpurir_module())
    monkeypatch.delitem(sys.modules, "gpuRIR_bind", raising=False)
    monkeypatch.delitem(sys.modules, "simulate.backends.gpurir", raising=False)
    FakeBinding.calls.clear()
    yield importlib.import_module("simulate.backends.gpurir").GpuRIRBackend
    sys.modules.pop("simulate.backends.gpurir", None)


def test_gpurir_recipe_delays_and_level(gpurir_backend_class):
    from simulate.tail import DiffuseTail

    backend = gpurir_backend_class(sample_rate=FS, max_order=None, speed_of_sound=C)
    assert backend.device.type == "cuda"  # spatialize convolves its clips on the GPU
    (scene,) = scenes(1)
    ((rir, order),) = backend.rirs([scene])
    (call,) = FakeBinding.calls
    t_diff, t_max = DiffuseTail().times(scene, speed_of_sound=C)
    assert call["Tmax"] == pytest.approx(t_diff) and call["Tdiff"] == pytest.approx(t_diff)  # ISM only, to T_diff
    assert call["nb_img"] == [math.ceil(2 * t_diff * C / L) for L in scene.room_dims]  # t2n
    np.testing.assert_allclose(call["beta"], math.sqrt(1 - scene.absorption), rtol=1e-6)
    assert order == max(call["nb_img"]) // 2
    assert rir.shape == (4, round(t_max * FS))  # continued by the project's tail
    assert_physical(scene, rir)
    distance = np.linalg.norm(scene.mic_positions[0] - scene.source_pos)
    direct = round(distance / C * FS)
    # A band-limited pulse of amplitude a has energy ~a**2 whatever its fractional delay: a = 1 / d.
    assert np.sqrt(np.sum(rir[0, direct - 48 : direct + 48] ** 2)) == pytest.approx(1 / distance, rel=0.03)

    capped = gpurir_backend_class(sample_rate=FS, max_order=2, speed_of_sound=C, tail=False)
    capped.rirs([scene])
    assert max(FakeBinding.calls[-1]["nb_img"]) <= 5
    assert FakeBinding.calls[-1]["Tmax"] == pytest.approx(t_max)
    native = gpurir_backend_class(sample_rate=FS, max_order=None, speed_of_sound=C, native_tail=True)
    native.rirs([scene])
    assert (FakeBinding.calls[-1]["Tdiff"], FakeBinding.calls[-1]["Tmax"]) == pytest.approx((t_diff, t_max))


def test_gpurir_options_are_validated(gpurir_backend_class):
    with pytest.raises(ValueError, match="mixed precision and the sinc lookup table"):
        gpurir_backend_class(sample_rate=FS, max_order=None, speed_of_sound=C, mixed_precision=True)
    with pytest.raises(ValueError, match="air absorption"):
        gpurir_backend_class(sample_rate=FS, max_order=None, speed_of_sound=C, air_absorption=True)


def test_gpurir_scenes_in_one_room_share_one_call(gpurir_backend_class):
    import dataclasses

    backend = gpurir_backend_class(sample_rate=FS, max_order=None, speed_of_sound=C)
    (scene,) = scenes(1)
    # The same room and array with the source moved 2 cm along y: same T_diff, T_max and image counts.
    moved = dataclasses.replace(scene, source_pos=scene.source_pos + np.array([0.0, 0.02, 0.0]))
    assert backend._plan(moved) == backend._plan(scene)
    together = backend.rirs([scene, moved])
    assert backend.calls == 1 and len(FakeBinding.calls) == 1
    alone = [backend.rirs([s])[0] for s in (scene, moved)]
    for (a, order_a), (b, order_b) in zip(together, alone, strict=True):
        assert order_a == order_b and np.array_equal(a, b)
    assert_physical(moved, together[1][0])
    other = scenes(2, seed=5)
    backend.rirs([scene, *other])
    assert backend.calls == 3  # rooms of random sizes: one call each


@pytest.mark.gpu
@pytest.mark.skipif(backend_status("gpurir") is not None, reason=str(backend_status("gpurir")))
def test_gpurir_on_the_gpu_is_physical():
    backend = make_backend("gpurir", sample_rate=FS, max_order=None, speed_of_sound=C)
    for scene, (rir, _) in zip(scenes(3), backend.rirs(scenes(3)), strict=True):
        assert_physical(scene, rir)
        rt60 = np.nanmean(measure_rt60_mics(rir, sample_rate=FS))
        assert rt60 == pytest.approx(scene.rt60_target, rel=0.15)


# --- batched FFT convolution ------------------------------------------------------------------------------


def test_fft_length_is_fast_and_long_enough():
    for n in (1, 7, 1000, 4097, 999_983):
        m = fft_length(n)
        assert m >= n and m < 1.2 * n + 8
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        assert k == 1


@pytest.mark.parametrize(("dtype", "rtol"), [(torch.float64, 1e-10), (torch.float32, 2e-5)])
def test_batched_convolution_matches_scipy(dtype, rtol):
    rng = np.random.default_rng(0)
    dry = [rng.standard_normal(n) for n in (1, 300, 5000, 1234, 77)]
    rirs = [rng.standard_normal((4, n)) * np.exp(-np.arange(n) / 300) for n in (50, 2000, 1, 999, 4096)]
    # A small budget makes several groups; a large one batches everything together.
    for budget in (4096, 1 << 20):
        wet = convolve_clips(dry, rirs, device="cpu", dtype=dtype, budget=budget)
        for x, h, y in zip(dry, rirs, wet, strict=True):
            expected = fftconvolve(x[None, :], h, axes=1)
            assert y.shape == expected.shape and y.dtype == np.float64
            np.testing.assert_allclose(y, expected, atol=rtol * np.abs(expected).max())
    x, h = torch.randn(3, 1, 100, dtype=torch.float64), torch.randn(3, 4, 10, dtype=torch.float64)
    assert fft_convolve(x, h).shape == (3, 4, 109)


def test_spatialize_convolves_on_the_backends_device(monkeypatch):
    rng = np.random.default_rng(1)
    dry, rirs = [rng.standard_normal(400)], [rng.standard_normal((4, 60))]
    cpu_backend = types.SimpleNamespace()
    (wet,) = convolve_block(dry, rirs, backend=cpu_backend)
    assert np.array_equal(wet, fftconvolve(dry[0][None, :], rirs[0], axes=1))  # the SciPy path, bit for bit
    seen = []

    def on_device(d, r, *, device):
        seen.append(device)
        return convolve_clips(d, r, device="cpu", dtype=torch.float64)

    monkeypatch.setattr("simulate.convolve.convolve_clips", on_device)
    gpu_backend = types.SimpleNamespace(device=types.SimpleNamespace(type="cuda"))
    (wet,) = convolve_block(dry, rirs, backend=gpu_backend)
    assert seen == [gpu_backend.device]
    np.testing.assert_allclose(wet, fftconvolve(dry[0][None, :], rirs[0], axes=1), atol=1e-10)


# --- torchrir ---------------------------------------------------------------------------------------------


@needs_torchrir
@pytest.mark.parametrize("tail", [True, False])
def test_torchrir_is_physical_and_agrees_with_pyroomacoustics(tail):
    trr = make_backend("torchrir", sample_rate=FS, max_order=8, speed_of_sound=C, tail=tail, device="cpu")
    pra = make_backend("pyroomacoustics", sample_rate=FS, max_order=8, speed_of_sound=C, tail=tail)
    some = scenes(3, seed=2)
    for scene, (rir, order), (ref, ref_order) in zip(some, trr.rirs(some), pra.rirs(some), strict=True):
        assert_physical(scene, rir)
        assert order == ref_order
        n = min(rir.shape[1], ref.shape[1])
        assert abs(rir.shape[1] - ref.shape[1]) <= (0 if tail else 4)  # pyroomacoustics pads a few zeros
        assert np.abs(rir[:, :n] - ref[:, :n]).max() < 2e-3 * np.abs(ref).max()
        if tail:
            rt60 = np.nanmean(measure_rt60_mics(rir, sample_rate=FS))
            assert rt60 == pytest.approx(scene.rt60_target, rel=0.1)


@needs_torchrir
def test_tiny_build_has_the_same_schema_with_every_backend(tmp_path):
    args = ["--config", "configs/simulate/tiny.yaml", "--no-progress", "source.synthetic.splits={test: 4}",
            "output.chunk_clips=2", "room.rt60=[0.2,0.3]"]
    files = {}
    for name in ("pyroomacoustics", "torchrir"):
        assert main(["build", "--out", str(tmp_path / name), *args, f"backend.name={name}"]) == 0
        files[name] = h5py.File(tmp_path / name / "test.h5", "r")

    def layout(f: h5py.File) -> dict:
        items: dict = {}
        f.visititems(lambda k, v: items.__setitem__(k, (v.dtype, v.shape) if isinstance(v, h5py.Dataset) else None))
        return {"items": items, "attrs": sorted(f.attrs)}

    a, b = files["pyroomacoustics"], files["torchrir"]
    assert layout(a) == layout(b)
    assert b.attrs["backend"] == "torchrir" and b.attrs["backend_version"].startswith("torchrir ")
    for key in ("azimuth_deg", "room_dims", "rt60_target", "lengths", "max_order"):
        np.testing.assert_array_equal(a[key][()], b[key][()])
    np.testing.assert_allclose(b["audio"][()], a["audio"][()], atol=2e-3)  # one model, two implementations
    np.testing.assert_allclose(b["rt60_measured"][()], a["rt60_measured"][()], rtol=0.02)
