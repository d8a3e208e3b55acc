"""``simulate scenes``: render every scene of every split into one HDF5 scene file per split, resumably.

The block machinery is ``simulate.blocks`` (the same as ``simulate build``): blocks of ``output.chunk_scenes``
scenes, saved atomically, assembled into ``<split>.h5`` only once complete, resumed after an interruption, cut into
shards for job arrays. Each scene draws everything from its own generator (build seed, split, index), so the files
are bit-identical for any number of workers, after a resume, and after ``simulate merge`` of shards.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcsimclr.core.array import mic_offsets
from mcsimclr.core.config import dump_yaml
from mcsimclr.core.errors import GeometryError
from mcsimclr.core.h5schema import publish, string_array
from mcsimclr.core.scene_schema import (
    AZIMUTH_CONVENTION,
    EVENT_FIELDS,
    FRAME_FIELDS,
    PER_SCENE_FIELDS,
    SCENE_FORMAT_NAME,
    SCENE_SCHEMA_VERSION,
    write_scene_file,
)
from simulate import SIMULATOR_VERSION
from simulate.backends import backend_class, make_backend
from simulate.backends.sofa import SofaError, SofaRoom
from simulate.blocks import BlockRenderer, BuildError, WorkerPool, backend_gpus, build_split_file, check_shard
from simulate.build import listing_digest
from simulate.dcase.classes import STARSS23_CLASSES
from simulate.dcase.export import DCASE_HOP_S
from simulate.geometry import check_feasible
from simulate.scenes.block_arrays import PER_SCENE_NAMES, block_arrays
from simulate.scenes.config import ScenesConfig
from simulate.scenes.events import ScheduleError
from simulate.scenes.measured import measured_weights, open_measured_room, render_sofa_scene
from simulate.scenes.measured_path import positions_needed
from simulate.scenes.recorded import (
    RecordedRef,
    RecordedSceneRenderer,
    check_recorded_config,
    list_recordings,
    recordings_digest,
)
from simulate.scenes.scene import RenderedScene, render_scene
from simulate.scenes.trajectory import TrajectoryError
from simulate.sources import ClipRef, SourceSet, make_source
from simulate.spatialize import clip_rng


@dataclass(frozen=True)
class SceneRef:
    """Scene ``index`` of output split ``split``."""

    split: str
    index: int

    @property
    def source_id(self) -> str:
        return f"{self.split}-{self.index:06d}"


def scene_rng(*, seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of scene ``index`` of ``split``: independent of worker, order and shard. Salted apart from
    the clip generators of ``simulate build`` (a scene split may share a clip split's name)."""
    return clip_rng(seed=seed, split=f"scenes/{split}", index=index)


def config_digest(config: ScenesConfig) -> tuple[str, str]:
    """The resolved config as YAML, and its digest with the simulator and scene schema versions."""
    text = dump_yaml(config)
    key = f"{text}\nsimulator={SIMULATOR_VERSION}\nschema={SCENE_SCHEMA_VERSION}\n"
    return text, hashlib.sha256(key.encode()).hexdigest()


def clip_pools(config: ScenesConfig, listing: dict[str, list[ClipRef]]) -> dict[str, str]:
    """Output split -> the source split whose clips its events draw (``scene.clip_splits``, else the same name,
    else the source's only split).

    Raises:
        BuildError: no such source split.
    """
    pools = {}
    for split in config.scene.splits:
        name = config.scene.clip_splits.get(split)
        if name is None:
            name = split if split in listing else (next(iter(listing)) if len(listing) == 1 else None)
        if name is None or name not in listing:
            raise BuildError(f"scene split {split!r} needs a source split of clips: set scene.clip_splits.{split} "
                             f"to one of {', '.join(listing)}")
        pools[split] = name
    return pools


def check_scene_feasible(config: ScenesConfig, offsets: np.ndarray) -> None:
    """Raise before any work when the smallest room or the scene length rules a request out.

    Whether the events of a scene fit under the polyphony cap depends on the clips drawn, so that is decided per
    scene: a ``ScheduleError`` that names the scene and the numbers.

    Raises:
        GeometryError: the array and a source do not fit, or a straight line at the lowest speed for the longest
            event cannot fit in the smallest room's placement box.
    """
    check_feasible(config.room, offsets)
    s, room = config.scene, config.room
    longest = s.duration_s if s.max_event_s is None else min(s.duration_s, s.max_event_s)
    if s.trajectories.get("line", 0.0) > 0:
        width = room.width[0] - 2 * room.wall_margin
        length = room.length[0] - 2 * room.wall_margin
        diagonal = math.hypot(max(width, 0.0), max(length, 0.0))
        if s.line_speed[0] * longest > diagonal:
            raise GeometryError(
                f"impossible trajectory: a line at the lowest speed scene.line_speed[0]={s.line_speed[0]:g} m/s for "
                f"an event of {longest:g} s runs {s.line_speed[0] * longest:.2f} m, more than the "
                f"{diagonal:.2f} m diagonal of the smallest room's placement area ({room.width[0]:g} x "
                f"{room.length[0]:g} m, wall_margin {room.wall_margin:g} m); lower the speed, set "
                "scene.max_event_s, or give line paths weight 0 (scene.trajectories.line=0)")


def sofa_identity(path: str | Path) -> str:
    """``backend_version`` of a measured-room build: the sofar version, the SOFA file's name and its SHA-256."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    import sofar

    return f"sofar {sofar.__version__}; {Path(path).name} sha256 {digest}"


def open_config_room(config: ScenesConfig, offsets: np.ndarray) -> SofaRoom:
    """The measured room of ``backend.sofa`` checked against the config's array and sample rate; also that its
    positions are enough for the longest moving event.

    Raises:
        SofaError: a file that cannot be used (named), or too few positions for the longest moving event.
    """
    c, s = config, config.scene
    given = None if c.backend.sofa.mic_positions is None else np.asarray(c.backend.sofa.mic_positions, float)
    room = open_measured_room(c.backend.sofa.path, offsets=offsets, sample_rate=c.sample_rate,
                              source_frame=c.backend.sofa.source_frame, mic_positions=given)
    longest = s.duration_s if s.max_event_s is None else min(s.duration_s, s.max_event_s)
    spp = c.backend.sofa.seconds_per_position
    needed = positions_needed(longest, seconds_per_position=spp)
    if measured_weights(s.trajectories)["measured"] > 0 and needed > room.n_positions:
        raise SofaError(f"{room.path}: a moving event of up to {longest:g} s at backend.sofa.seconds_per_position="
                        f"{spp:g} steps through {needed} measured positions, the file has {room.n_positions}; raise "
                        "seconds_per_position, set scene.max_event_s, or give arc and line paths weight 0")
    return room


class SceneRenderer(BlockRenderer):
    """Renders blocks of scenes (``render_scene``) into the arrays of a block file."""

    unit = "scene"

    def __init__(self, config: ScenesConfig, source: SourceSet, pools: dict[str, list[ClipRef]], *,
                 gpus: Sequence[str] = ()) -> None:
        self.config, self.source, self.pools, self.gpus = config, source, pools, list(gpus)

    def __getstate__(self) -> dict:
        return {"config": self.config, "source": self.source, "pools": self.pools}

    def setup(self) -> None:
        c, b = self.config, self.config.backend
        self.offsets = mic_offsets(c.array)
        self.backend = make_backend(b.name, sample_rate=c.sample_rate, max_order=b.max_order,
                                    speed_of_sound=c.room.speed_of_sound, air_absorption=b.air_absorption,
                                    **b.options())

    def render_one(self, ref: SceneRef) -> RenderedScene:
        """One scene; a schedule or path that cannot be drawn is an error naming the scene."""
        c, s = self.config, self.config.scene
        try:
            return render_scene(
                scene_rng(seed=c.seed, split=ref.split, index=ref.index), room=c.room, offsets=self.offsets,
                source=self.source, clips=self.pools[ref.split], backend=self.backend, sample_rate=c.sample_rate,
                duration_s=s.duration_s, n_events=tuple(s.n_events), max_polyphony=s.max_polyphony,
                max_event_s=s.max_event_s, trajectory_weights=s.trajectories,
                angular_speed_range=tuple(s.angular_speed), line_speed_range=tuple(s.line_speed),
                ebr_range_db=tuple(s.ebr_db), ambient_noise=s.ambient_noise, noise_files=s.noise_files,
                rir_step_s=s.rir_step_s, window=s.crossfade, hop_s=s.label_hop_s, peak=c.output.peak,
                schedule_tries=s.schedule_tries)
        except (ScheduleError, TrajectoryError) as err:
            raise type(err)(f"scene {ref.source_id}: {err}") from err

    def render(self, refs: Sequence[SceneRef]) -> dict[str, np.ndarray]:
        dtype = self.config.output.audio_dtype
        audio, scenes, frames, events = [], {k: [] for k in PER_SCENE_NAMES}, {f.name: [] for f in FRAME_FIELDS}, \
            {f.name: [] for f in EVENT_FIELDS}
        for local, ref in enumerate(refs):
            scene = self.render_one(ref)
            audio.append(scene.audio.astype(dtype))
            room = scene.room
            row = {"lengths": scene.audio.shape[1], "n_frames": scene.labels.frames, "n_events": len(scene.events),
                   "room_dims": room.room_dims, "rt60_target": room.rt60_target, "rt60_sabine": room.rt60_sabine,
                   "absorption": room.absorption, "array_center": room.array_center, "gain": scene.gain,
                   "scene_index": ref.index, "source_id": ref.source_id}
            for key, value in row.items():
                scenes[key].append(value)
            for f in FRAME_FIELDS:
                frames[f.name].append(getattr(scene.labels, f.name))
            for e in scene.events:
                t = e.trajectory
                ends = t.positions([0.0, t.duration_s])
                values = {"scene": local, "onset_s": e.onset_s, "duration_s": e.duration_s,
                          "class_index": e.class_index, "track": e.track, "trajectory": t.kind,
                          "start_pos": ends[0], "end_pos": ends[1],
                          "angular_speed_deg": t.angular_speed_deg, "speed_m_s": t.speed if t.kind == "line" else 0.0,
                          "ebr_db": e.ebr_db, "source_id": e.clip.source_id}
                for key, value in values.items():
                    events[key].append(value)
        return block_arrays(audio=audio, scenes=scenes, frames=frames, events=events,
                            tracks=self.config.scene.max_polyphony)


def _empty_block(*, n_mics: int, tracks: int) -> dict[str, np.ndarray]:
    """The arrays of a block of no scenes (an empty shard)."""
    return block_arrays(audio=[np.zeros((n_mics, 0), dtype=np.float32)], scenes={k: [] for k in PER_SCENE_NAMES},
                        frames={f.name: [np.zeros((0, tracks), dtype=f.dtype)] for f in FRAME_FIELDS},
                        events={f.name: [] for f in EVENT_FIELDS}, tracks=tracks)


class SofaSceneRenderer(SceneRenderer):
    """Renders blocks of scenes in the measured room of ``backend.sofa`` (``render_sofa_scene``): no room is drawn;
    ``static`` paths stay static and ``arc`` + ``line`` weights go to ``measured`` paths (``measured_weights``)."""

    def setup(self) -> None:
        self.offsets = mic_offsets(self.config.array)
        self.room = open_config_room(self.config, self.offsets)

    def render_one(self, ref: SceneRef) -> RenderedScene:
        c, s = self.config, self.config.scene
        try:
            return render_sofa_scene(
                scene_rng(seed=c.seed, split=ref.split, index=ref.index), room=self.room, source=self.source,
                clips=self.pools[ref.split], sample_rate=c.sample_rate, duration_s=s.duration_s,
                n_events=tuple(s.n_events), max_polyphony=s.max_polyphony, max_event_s=s.max_event_s,
                trajectory_weights=measured_weights(s.trajectories),
                seconds_per_position=c.backend.sofa.seconds_per_position, ebr_range_db=tuple(s.ebr_db),
                ambient_noise=s.ambient_noise, noise_files=s.noise_files, speed_of_sound=c.room.speed_of_sound,
                rir_step_s=s.rir_step_s, window=s.crossfade, hop_s=s.label_hop_s, peak=c.output.peak,
                schedule_tries=s.schedule_tries)
        except ScheduleError as err:
            raise ScheduleError(f"scene {ref.source_id}: {err}") from err


def _assemble(final: Path, block_paths: list[Path], attrs: dict) -> None:
    blocks = [np.load(p, allow_pickle=False) for p in block_paths] or [
        _empty_block(n_mics=int(attrs["n_mics"]), tracks=int(attrs["max_tracks"]))]
    try:
        scenes = {f.name: np.concatenate([b[f"scene__{f.name}"] for b in blocks]) for f in PER_SCENE_FIELDS
                  if f.name in PER_SCENE_NAMES}
        frames = {f.name: np.concatenate([b[f"frames__{f.name}"] for b in blocks]) for f in FRAME_FIELDS}
        first_row = np.cumsum([0] + [len(b["scene__lengths"]) for b in blocks])
        events = {f.name: np.concatenate([b[f"events__{f.name}"] for b in blocks]) for f in EVENT_FIELDS}
        events["scene"] = np.concatenate([b["events__scene"] + first_row[k] for k, b in enumerate(blocks)])
        partial = final.with_name(final.name + ".partial")
        parts: list[Callable[[], np.ndarray]] = [lambda b=b: b["audio"] for b in blocks]
        write_scene_file(partial, attrs=attrs, scenes=scenes, frames=frames, events=events, audio_parts=parts,
                         n_mics=int(attrs["n_mics"]), audio_dtype=str(attrs["audio_dtype"]))
        publish(partial, final)
    finally:
        for b in blocks:
            if hasattr(b, "close"):
                b.close()


@dataclass(frozen=True)
class SplitPlan:
    """One output split to build: its items (in order), the digest of its listing, and its own attributes."""

    split: str
    items: list
    listing_sha256: str
    attrs: dict


def _chosen(available: Sequence[str], splits: list[str] | None, *, where: str) -> list[str]:
    """The output splits to build: ``splits`` (each checked against ``available``), else all of them."""
    if splits is None:
        return list(available)
    unknown = [s for s in splits if s not in available]
    if unknown:
        raise BuildError(f"unknown split {unknown[0]!r}; {where} has: {', '.join(available)}")
    return list(splits)


def _simulated_plans(config: ScenesConfig, *, offsets: np.ndarray,
                     splits: list[str] | None) -> tuple[BlockRenderer, list[SplitPlan], dict]:
    """Simulated scenes: checks the room and backend (or the measured room of ``backend.name: sofa``), lists the
    source; the renderer, plans and attributes."""
    b = config.backend
    measured = b.name == "sofa"
    if measured:  # measured RIRs: no room to draw; the file must fit the array, the rate and the paths
        open_config_room(config, offsets)
        backend_version, gpus = sofa_identity(b.sofa.path), []
    else:
        check_scene_feasible(config, offsets)
        probe = make_backend(b.name, sample_rate=config.sample_rate, max_order=b.max_order,
                             speed_of_sound=config.room.speed_of_sound, air_absorption=b.air_absorption, **b.options())
        gpus = backend_gpus(probe)
        backend_version = backend_class(b.name).version()
    source = make_source(config.source)
    listing = source.splits()
    names = {s: config.scene.splits[s] for s in _chosen(list(config.scene.splits), splits, where="scene.splits")}
    pool_of = clip_pools(config, listing)
    pools = {split: listing[pool_of[split]] for split in names}
    plans = [SplitPlan(split, [SceneRef(split, i) for i in range(count)],
                       hashlib.sha256(f"{pool_of[split]}\n{listing_digest(pools[split])}\n".encode()).hexdigest(),
                       {"clip_split": pool_of[split]}) for split, count in names.items()]
    attrs = {"class_names": string_array(list(source.class_names)), "source_kind": config.source.kind,
             "backend": b.name, "backend_version": backend_version, "peak": config.output.peak,
             "label_hop_s": config.scene.label_hop_s, "max_tracks": config.scene.max_polyphony,
             "max_polyphony": config.scene.max_polyphony, "scene_seconds": config.scene.duration_s}
    return (SofaSceneRenderer if measured else SceneRenderer)(config, source, pools, gpus=gpus), plans, attrs


def _recorded_plans(config: ScenesConfig, *, offsets: np.ndarray,
                    splits: list[str] | None) -> tuple[BlockRenderer, list[SplitPlan], dict]:
    """Recorded scenes (``source.kind: dcase``): no room, no backend; the folds of each output split, read and
    checked before anything is written. ``peak`` is NaN: the recordings are stored as recorded, not scaled."""
    check_recorded_config(config)
    d = config.source.dcase
    h = d.hold_out
    recordings = list_recordings(config, _chosen(d.output_splits, splits,
                                                 where="source.dcase.folds (and source.dcase.hold_out.split)"))

    def split_attrs(split: str) -> dict:
        if h.split and split in (h.split, h.source):
            return {"folds": string_array(sorted(d.folds[h.source])),
                    "hold_out": f"{h.split} from {h.source}: fraction {h.fraction:g} of each fold, seed {h.seed}"}
        return {"folds": string_array(sorted(d.folds[split]))}

    plans = [SplitPlan(split, [RecordedRef(split, i) for i in range(len(recs))], recordings_digest(recs),
                       split_attrs(split)) for split, recs in recordings.items()]
    class_names = d.class_names if d.class_names is not None else list(STARSS23_CLASSES)
    attrs = {"class_names": string_array(list(class_names)), "source_kind": "dcase", "backend": "recorded",
             "backend_version": "none", "peak": np.nan, "label_hop_s": DCASE_HOP_S, "max_tracks": d.max_tracks}
    renderer = RecordedSceneRenderer(recordings=recordings, audio_dtype=config.output.audio_dtype,
                                     max_tracks=d.max_tracks)
    return renderer, plans, attrs


def build_scenes(config: ScenesConfig, *, out_dir: str | Path, workers: int = 1, splits: list[str] | None = None,
                 overwrite: bool = False, progress: bool = True, shard: tuple[int, int] | None = None,
                 log: Callable[[str], None] = print) -> list[Path]:
    """Render (or resume) one scene file per output split in ``out_dir``; their paths.

    The output splits are those of ``scene.splits`` (simulated scenes) or of ``source.dcase.folds`` and its
    ``hold_out`` (recorded scenes, ``source.kind: dcase``, see ``simulate.scenes.recorded``). Arguments as
    ``simulate.build.build``; ``splits`` selects output splits.

    Raises:
        GeometryError, ScheduleError, SourceError, BackendUnavailable, BuildError, ValueError: naming the value,
            file or scene.
    """
    check_shard(shard, workers)
    offsets = mic_offsets(config.array)
    plan_splits = _recorded_plans if config.source.kind == "dcase" else _simulated_plans
    renderer, plans, source_attrs = plan_splits(config, offsets=offsets, splits=splits)
    config_yaml, digest = config_digest(config)
    if source_attrs["backend"] == "sofa":  # the measured RIRs are part of the files: another SOFA file, another digest
        digest = hashlib.sha256(f"{digest}\n{source_attrs['backend_version']}\n".encode()).hexdigest()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = {
        "format": SCENE_FORMAT_NAME, "schema_version": SCENE_SCHEMA_VERSION, "sample_rate": config.sample_rate,
        "n_mics": offsets.shape[0], "mic_offsets": offsets, "array_geometry": config.array.geometry,
        "azimuth_convention": AZIMUTH_CONVENTION, "config_yaml": config_yaml, "config_sha256": digest,
        "package_version": SIMULATOR_VERSION, "audio_dtype": config.output.audio_dtype, **source_attrs,
    }
    outputs = []
    with WorkerPool(renderer, workers) as pool:
        for plan in plans:
            name = plan.split if shard is None else f"{plan.split}.shard-{shard[0]}-of-{shard[1]}"
            outputs.append(build_split_file(
                name=name, split=plan.split, items=plan.items, out_dir=out_dir, chunk=config.output.chunk_scenes,
                digest=digest, listing_sha256=plan.listing_sha256, pool=pool, overwrite=overwrite,
                progress=progress, shard=shard, attrs={**base, "split": plan.split, **plan.attrs},
                assemble=_assemble, log=log))
    return outputs
