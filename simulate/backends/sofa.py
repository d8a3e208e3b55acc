"""Measured rooms: multichannel room impulse responses and their source positions from a SOFA file (``sofar``).

Reads the AES69 conventions that hold one array's impulse responses for many source positions:
``SingleRoomSRIR`` and ``GeneralFIR`` (``Data.IR`` of shape ``(M, R, N)``: measurements, receivers, samples) and
``SingleRoomMIMOSRIR`` with one emitter (``(M, R, N, E=1)``), e.g. the METU or TAU spatial room impulse
response databases as converted to SOFA by SpatialScaper.

Geometry: the array centre is ``ListenerPosition``; the mics are ``ReceiverPosition``, which SOFA gives in the
listener's frame (+x = ``ListenerView``, +z = ``ListenerUp``); the sources are ``SourcePosition`` (global), here
turned into offsets from the array centre in that same frame, so that azimuths are the array's own
(docs/dataset.md conventions). Cartesian and spherical position types are read.

Files that depart from this are read only when told so, never guessed: SpatialScaper's conversions of the TAU
and METU databases store ``SourcePosition`` already relative to the array (``source_frame="array"``) and every
``ReceiverPosition`` at the centre (give the array with ``mic_positions``, e.g. the ``tetrahedral`` preset for
the MIC format).

The impulse responses are returned as stored: their sample 0 is whatever the database defines (for measured
responses, not exactly the moment of emission as with the simulating backends). Nothing is resampled, and a
file with a non-zero ``Data.Delay`` is refused rather than shifted.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simulate.backends.sofa_coordinates import listener_axes, spherical_to_cartesian, to_listener_frame

if TYPE_CHECKING:  # sofar (and netCDF4) load only when a SOFA file is read
    import sofar

__all__ = ["SOFA_CONVENTIONS", "SofaError", "SofaRoom"]

SOFA_CONVENTIONS: tuple[str, ...] = ("SingleRoomSRIR", "SingleRoomMIMOSRIR", "GeneralFIR")
"""The SOFA conventions :class:`SofaRoom` reads."""

_METRES = ("metre", "meter", "metres", "meters", "m")


class SofaError(ValueError):
    """A SOFA file that cannot be used as a measured room; the message names the file and why."""


class SofaRoom:
    """The impulse responses of one measured room: an array of ``n_mics`` mics, ``M`` measured source positions.

    Only the geometry is read when the object is made; impulse responses are read from the file when asked
    for (the file is opened per call, so the object is cheap to send to worker processes).

    Args:
        path: the SOFA file.
        n_mics: the receivers the file must have (the mics of the array).
        sample_rate: the rate the file's impulse responses must have, Hz (they are not resampled).
        source_frame: ``"global"`` (the SOFA standard: ``SourcePosition`` in the same global coordinates as
            ``ListenerPosition``) or ``"array"`` (``SourcePosition`` is already the offset from the array centre,
            in the array's frame; ``ListenerPosition``, ``ListenerView`` and ``ListenerUp`` are then not used).
        mic_positions: mic offsets ``(n_mics, 3)`` in metres, for files whose ``ReceiverPosition`` are all at
            the centre (no array geometry); a file with real receiver positions must agree with them (1e-4 m).

    Raises:
        SofaError: missing or unreadable file, another convention, not FIR data, a receiver count other than
            ``n_mics``, a sample rate other than ``sample_rate``, receivers that move between measurements,
            several emitters, non-zero ``Data.Delay`` or emitter offsets, unknown coordinate types or units,
            missing values, a source at the array centre, all receivers at the centre without ``mic_positions``
            or receivers that disagree with them. The message starts with the file's path.
    """

    def __init__(self, path: str | Path, *, n_mics: int, sample_rate: int, source_frame: str = "global",
                 mic_positions: np.ndarray | None = None) -> None:
        if isinstance(n_mics, bool) or not isinstance(n_mics, int) or n_mics < 1:
            raise ValueError(f"n_mics must be a positive integer, got {n_mics!r}")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
        if source_frame not in ("global", "array"):
            raise ValueError(f"source_frame must be 'global' or 'array', got {source_frame!r}")
        if mic_positions is not None:
            mic_positions = np.asarray(mic_positions, dtype=np.float64)
            if mic_positions.shape != (n_mics, 3) or not np.all(np.isfinite(mic_positions)):
                raise ValueError(f"mic_positions must be finite (n_mics={n_mics}, 3), got shape {mic_positions.shape}")
        self.path = Path(path)
        self.n_mics = n_mics
        self.sample_rate = sample_rate
        self.source_frame = source_frame
        self._mic_positions = mic_positions
        if not self.path.is_file():
            raise SofaError(f"{self.path}: SOFA file not found")
        try:
            import sofar

            with sofar.SofaStream(str(self.path)) as f:
                self._read_geometry(f)
        except SofaError:
            raise
        except (OSError, RuntimeError, KeyError, IndexError, TypeError, ValueError) as err:
            raise SofaError(f"{self.path}: cannot read SOFA file: {err}") from err

    # -- geometry ----------------------------------------------------------------------------------------------

    @property
    def n_positions(self) -> int:
        """Measured source positions ``M``."""
        return int(self._positions.shape[0])

    def positions(self) -> np.ndarray:
        """Measured source positions ``(M, 3)`` in metres, relative to the array centre, in the array's frame."""
        return self._positions.copy()

    def receivers(self) -> np.ndarray:
        """Mic offsets from the array centre ``(n_mics, 3)`` in metres, in the array's frame, in channel order."""
        return self._receivers.copy()

    def angles(self) -> np.ndarray:
        """``(M, 3)``: azimuth (deg, (-180, 180]), elevation (deg) and distance (m) of every measured position."""
        p = self._positions
        distance = np.linalg.norm(p, axis=1)
        azimuth = np.degrees(np.arctan2(p[:, 1], p[:, 0]))
        azimuth[azimuth <= -180.0] = 180.0
        elevation = np.degrees(np.arcsin(np.clip(p[:, 2] / distance, -1.0, 1.0)))
        return np.stack([azimuth, elevation, distance], axis=1)

    def nearest(self, direction: Sequence[float] | np.ndarray) -> int:
        """Index of the measured position whose direction is closest in angle to ``direction`` ``(3,)``
        (any non-zero length; ties go to the lower index)."""
        d = np.asarray(direction, dtype=np.float64)
        if d.shape != (3,) or not np.all(np.isfinite(d)) or not np.linalg.norm(d) > 0:
            raise ValueError(f"direction must be a finite, non-zero (3,) vector, got {direction!r}")
        unit = self._positions / np.linalg.norm(self._positions, axis=1, keepdims=True)
        return int(np.argmax(unit @ (d / np.linalg.norm(d))))

    def neighbour_path(self, rng: np.random.Generator, *, start: int, steps: int,
                       max_step_m: float | None = None) -> np.ndarray:
        """Indices ``(steps + 1,)`` of a trajectory that steps through neighbouring measured positions.

        From ``start``, each step goes to the nearest position (Euclidean) not yet visited; equally near
        candidates are drawn with ``rng`` (on a circle of measured azimuths the first step picks the
        direction, and the path then keeps going around the circle).

        Args:
            rng: draws between equally near candidates.
            start: index of the first position.
            steps: number of moves; at most ``M - 1`` (no position is visited twice).
            max_step_m: if given, a move longer than this (e.g. off the end of a measured arc) is an error.

        Raises:
            ValueError: a bad ``start`` or ``steps``, or a move longer than ``max_step_m``.
        """
        m = self.n_positions
        if isinstance(start, bool) or not isinstance(start, int | np.integer) or not 0 <= start < m:
            raise ValueError(f"start must be a position index in [0, {m}), got {start!r}")
        if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or not 0 <= steps < m:
            raise ValueError(f"steps must be in [0, {m - 1}] for {self.path} ({m} measured positions, none "
                             f"visited twice), got {steps!r}")
        path = [int(start)]
        visited = np.zeros(m, dtype=bool)
        visited[start] = True
        for _ in range(steps):
            here = path[-1]
            gap = np.linalg.norm(self._positions - self._positions[here], axis=1)
            gap[visited] = np.inf
            best = float(gap.min())
            if max_step_m is not None and best > max_step_m:
                raise ValueError(f"{self.path}: the path {path} cannot go on: the nearest unvisited position to "
                                 f"{here} is {best:.3f} m away, more than max_step_m={max_step_m:g}")
            candidates = np.nonzero(gap <= best + 1e-9 * max(best, 1.0))[0]
            nxt = int(candidates[rng.integers(len(candidates))]) if len(candidates) > 1 else int(candidates[0])
            path.append(nxt)
            visited[nxt] = True
        return np.asarray(path, dtype=np.int64)

    # -- impulse responses -------------------------------------------------------------------------------------

    def rir(self, index: int) -> np.ndarray:
        """The impulse responses of measured position ``index`` to every mic, float64 ``(n_mics, N)``."""
        return self.rirs([index])[0]

    def rirs(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """The impulse responses of several positions, float64 ``(len(indices), n_mics, N)``, in one read."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_positions):
            raise ValueError(f"{self.path}: position indices must be in [0, {self.n_positions}), got {idx.tolist()}")
        unique, inverse = np.unique(idx, return_inverse=True)
        try:
            import sofar

            with sofar.SofaStream(str(self.path)) as f:
                data = f.Data_IR[unique.tolist()] if unique.size else np.zeros((0, self.n_mics, self.n_samples))
        except (OSError, RuntimeError) as err:
            raise SofaError(f"{self.path}: cannot read Data.IR: {err}") from err
        if np.ma.is_masked(data):
            raise SofaError(f"{self.path}: Data.IR has missing values at positions {unique.tolist()}")
        data = np.asarray(np.ma.getdata(data), dtype=np.float64)
        if data.ndim == 4:  # SingleRoomMIMOSRIR: (M, R, N, E=1)
            data = data[..., 0]
        return data[inverse]

    # -- reading -----------------------------------------------------------------------------------------------

    def _read_geometry(self, f: sofar.SofaStream) -> None:
        where = str(self.path)
        convention = str(_attribute(f, "GLOBAL_SOFAConventions", default=""))
        if convention not in SOFA_CONVENTIONS:
            raise SofaError(f"{where}: SOFA convention {convention or '(none)'!r} is not read; expected one of "
                            f"{', '.join(SOFA_CONVENTIONS)}")
        self.convention = convention
        try:
            ir = f.Data_IR
        except AttributeError:
            raise SofaError(f"{where}: no Data.IR variable (impulse responses); DataType "
                            f"{_attribute(f, 'GLOBAL_DataType', default='?')}") from None
        dims = tuple(ir.dimensions)
        if dims not in (("M", "R", "N"), ("M", "R", "N", "E")):
            raise SofaError(f"{where}: Data.IR has dimensions {dims}, expected (M, R, N) or (M, R, N, E)")
        shape = dict(zip(dims, ir.shape, strict=True))
        if shape.get("E", 1) != 1:
            raise SofaError(f"{where}: {shape['E']} emitters per measurement; only single-emitter files are read")
        m, r, n = shape["M"], shape["R"], shape["N"]
        if r != self.n_mics:
            raise SofaError(f"{where}: {r} receivers, expected {self.n_mics} (the mics of the array)")
        if m < 1 or n < 1:
            raise SofaError(f"{where}: Data.IR is empty ({m} measurements of {n} samples)")
        self.n_samples = int(n)

        rates = np.unique(_values(f, "Data_SamplingRate", where))
        if rates.size != 1:
            raise SofaError(f"{where}: several sample rates {rates.tolist()}; expected one")
        if float(rates[0]) != float(self.sample_rate):
            raise SofaError(f"{where}: sample rate {float(rates[0]):g} Hz, expected {self.sample_rate} Hz; measured "
                            "impulse responses are not resampled")
        delays = _optional_values(f, "Data_Delay", where)
        if delays is not None and np.any(delays != 0):
            raise SofaError(f"{where}: non-zero Data.Delay {np.unique(delays).tolist()} samples; files with "
                            "broadband delays are not read")
        if _optional_values(f, "EmitterPosition", where) is not None and np.any(
                np.linalg.norm(_cartesian(f, "EmitterPosition", where), axis=-1) > 0):
            raise SofaError(f"{where}: non-zero EmitterPosition (emitters offset from SourcePosition) is not read")

        self._receivers = self._array_geometry(f, where)
        sources = _per_measurement(f, "SourcePosition", m, where)
        if self.source_frame == "array":
            positions = sources
        else:
            listener = _per_measurement(f, "ListenerPosition", m, where, default=np.zeros(3))
            view = _per_measurement(f, "ListenerView", m, where, default=np.array([1.0, 0.0, 0.0]), direction=True)
            up = _per_measurement(f, "ListenerUp", m, where, default=np.array([0.0, 0.0, 1.0]), direction=True)
            try:
                axes = listener_axes(view, up)
            except ValueError as err:
                raise SofaError(f"{where}: {err}") from None
            positions = to_listener_frame(sources, listener=listener, axes=axes)
        at_centre = np.nonzero(np.linalg.norm(positions, axis=1) < 1e-9)[0]
        if at_centre.size:
            raise SofaError(f"{where}: measurement {int(at_centre[0])} has its source at the array centre")
        self._positions = positions

    def _array_geometry(self, f: sofar.SofaStream, where: str) -> np.ndarray:
        """The mic offsets ``(n_mics, 3)``: the file's receivers, checked against ``mic_positions`` if given."""
        values = _cartesian(f, "ReceiverPosition", where)
        receivers = _receivers_fixed(values, tuple(f.ReceiverPosition.dimensions), where)
        coincident = bool(np.max(np.linalg.norm(receivers, axis=1)) < 1e-9)
        given = self._mic_positions
        if given is None:
            if coincident and self.n_mics > 1:
                raise SofaError(f"{where}: every ReceiverPosition is at the array centre, so the file gives no array "
                                "geometry; pass mic_positions (e.g. the tetrahedral preset for the MIC format)")
            return receivers
        if not coincident and np.max(np.abs(receivers - given)) > 1e-4:
            raise SofaError(f"{where}: ReceiverPosition {receivers.round(4).tolist()} differs from mic_positions "
                            f"{given.round(4).tolist()} (by more than 1e-4 m)")
        return given.copy()


def _attribute(f: sofar.SofaStream, name: str, *, default: str) -> str:
    try:
        return str(getattr(f, name))
    except AttributeError:
        return default


def _values(f: sofar.SofaStream, name: str, where: str) -> np.ndarray:
    """A variable's values as float64; a ``SofaError`` if it is missing or has missing values."""
    values = _optional_values(f, name, where)
    if values is None:
        raise SofaError(f"{where}: no {name} variable")
    return values


def _optional_values(f: sofar.SofaStream, name: str, where: str) -> np.ndarray | None:
    try:
        data = getattr(f, name)[:]
    except AttributeError:
        return None
    if np.ma.is_masked(data):
        raise SofaError(f"{where}: {name} has missing values")
    return np.asarray(np.ma.getdata(data), dtype=np.float64)


def _cartesian(f: sofar.SofaStream, name: str, where: str, *, direction: bool = False) -> np.ndarray:
    """A position variable in Cartesian metres (its ``C`` axis converted from spherical when needed).

    The ``C`` axis is moved last: the result has the variable's other dimensions, then 3.
    """
    try:
        var = getattr(f, name)
    except AttributeError:
        raise SofaError(f"{where}: no {name} variable") from None
    dims = tuple(var.dimensions)
    values = _values(f, name, where)
    if "C" not in dims:
        raise SofaError(f"{where}: {name} has dimensions {dims}, without the coordinate dimension C")
    values = np.moveaxis(values.reshape(var.shape), dims.index("C"), -1)
    kind = _attribute(f, f"{name}_Type", default="cartesian").strip().lower()
    units = _attribute(f, f"{name}_Units", default="").strip().lower()
    if kind == "cartesian":
        if not direction and units and units not in _METRES:
            raise SofaError(f"{where}: {name} in units {units!r}, expected metre")
        return values
    if kind == "spherical":
        parts = [u.strip() for u in units.split(",")] if units else ["degree", "degree", "metre"]
        if len(parts) != 3 or parts[0] not in ("degree", "degrees") or parts[1] not in ("degree", "degrees") or (
                not direction and parts[2] not in _METRES):
            raise SofaError(f"{where}: {name} is spherical in units {units!r}, expected 'degree, degree, metre'")
        return spherical_to_cartesian(values)
    raise SofaError(f"{where}: {name} has coordinate type {kind!r}, expected cartesian or spherical")


def _per_measurement(f: sofar.SofaStream, name: str, m: int, where: str, *, default: np.ndarray | None = None,
                     direction: bool = False) -> np.ndarray:
    """A variable of dimensions ``(I or M, C)`` as ``(M, 3)`` Cartesian; ``default`` ``(3,)`` when it is absent."""
    try:
        dims = tuple(getattr(f, name).dimensions)
    except AttributeError:
        if default is None:
            raise SofaError(f"{where}: no {name} variable") from None
        return np.tile(default, (m, 1))
    if dims not in (("I", "C"), ("M", "C")):
        raise SofaError(f"{where}: {name} has dimensions {dims}, expected (I, C) or (M, C)")
    values = _cartesian(f, name, where, direction=direction)
    return np.broadcast_to(values, (m, 3)).astype(np.float64)


def _receivers_fixed(values: np.ndarray, dims: tuple[str, ...], where: str) -> np.ndarray:
    """``ReceiverPosition`` ``(R, [I or M,] 3)`` (C moved last) as ``(R, 3)``, the same for every measurement."""
    if dims not in (("R", "C"), ("R", "C", "I"), ("R", "C", "M")):
        raise SofaError(f"{where}: ReceiverPosition has dimensions {dims}, expected (R, C), (R, C, I) or (R, C, M)")
    if values.ndim == 2:
        return values.astype(np.float64)
    if np.max(np.abs(values - values[:, :1, :])) > 1e-9:
        raise SofaError(f"{where}: ReceiverPosition changes between measurements; the array must stay the same")
    return values[:, 0, :].astype(np.float64)
