"""The ``simulate`` command: ``build`` (clips), ``scenes`` (multi-event scenes), ``merge``, ``info``, ``verify``,
``export-dcase``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mcsimclr.core.cli_args import config_or_exit_code, parse_with_overrides

EXAMPLES = """examples:
  simulate build --config configs/simulate/demo.yaml --out data/demo --workers 2
  simulate build --config configs/simulate/fsdnoisy18k.yaml --out data/fsd source.fsdnoisy18k.root=/data/FSDnoisy18k
  simulate build --config configs/simulate/tiny.yaml --out /tmp/t room.rt60=[0.2,0.5] seed=3 --print-config
  simulate info data/demo/test.h5
  simulate verify data/demo/*.h5
  simulate build --config configs/simulate/paper.yaml --out data/p --shard 3/16     # one job of an array
  simulate merge data/p/noisy_train.shard-*-of-16.h5 --out data/p/noisy_train.h5
  simulate scenes --config configs/simulate/scenes-demo.yaml --out data/scenes --workers 2
  simulate export-dcase data/scenes/test.h5 --out data/scenes-dcase
"""

SCENES_EXAMPLES = """examples:
  simulate scenes --config configs/simulate/scenes-tiny.yaml --out /tmp/scenes
  simulate scenes --config configs/simulate/scenes-demo.yaml --out data/scenes --workers 2 scene.max_polyphony=3
  simulate scenes --config configs/simulate/scenes-demo.yaml --out data/scenes --shard 0/4   # one job of four
  simulate info data/scenes/test.h5          # events per class, polyphony, paths, directions
  simulate export-dcase data/scenes/test.h5 --out data/scenes-dcase
  simulate scenes --config configs/simulate/scenes-starss23.yaml --out data/starss source.dcase.root=/data/STARSS23
"""


def _add_build_arguments(b: argparse.ArgumentParser, *, what: str) -> None:
    """The arguments ``build`` and ``scenes`` share: config, output, workers, splits, shards, overrides."""
    b.add_argument("--config", type=Path, help="YAML config (configs/simulate/*.yaml); defaults if omitted")
    b.add_argument("--out", type=Path, required=True, help="output directory")
    b.add_argument("--workers", type=int, default=1, help="worker processes, one thread each (default 1)")
    b.add_argument("--splits", help=f"comma-separated splits to build (default: all {what})")
    b.add_argument("--overwrite", action="store_true",
                   help="replace outputs or unfinished work that were made from a different config")
    b.add_argument("--shard", metavar="I/N",
                   help="build only the I-th of N slices of every split (0 <= I < N), into "
                   "OUT/<split>.shard-I-of-N.h5, e.g. one per job of a cluster array; join them with `simulate merge`")
    b.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.add_argument("overrides", nargs="*", metavar="key.path=value",
                   help="config overrides, e.g. seed=3 room.rt60=[0.2,0.6] source.kind=folder")



def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="simulate",
        description="Spatialise mono clips onto a microphone array in random shoebox rooms and write one "
        "HDF5 file per split (format: docs/dataset.md): single clips (build) or multi-event SELD scenes (scenes).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    b = sub.add_parser(
        "build",
        help="simulate a data set (resumable: run the same command again after an interruption)",
        description="Simulate one room per source clip and write OUT/<split>.h5 for every split. An "
        "interrupted build (Ctrl-C, kill) leaves only OUT/<split>.h5.work/; the same command resumes it, and "
        "the result is bit-identical to an uninterrupted build with any number of workers.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_build_arguments(b, what="of the source's splits")
    s = sub.add_parser(
        "scenes",
        help="simulate multi-event scenes with frame labels (SELD; resumable like build)",
        description="Render scene.splits scenes per split into OUT/<split>.h5 (scene files, schema 2: "
        "docs/dataset.md): a random room and the array, events drawn from the source's clips under a polyphony "
        "cap, each static or moving (arc around the array, straight line), diffuse ambient noise, and labels "
        "per frame and track (class, azimuth, elevation, distance) every scene.label_hop_s. Measured rooms instead of "
        "shoeboxes: backend.name=sofa backend.sofa.path=ROOM.sofa. Recordings in the STARSS23 layout instead of "
        "simulation: source.kind=dcase (configs/simulate/scenes-starss23.yaml). Resumable, shardable and "
        "bit-identical for any --workers, like build.",
        epilog=SCENES_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_build_arguments(s, what="of scene.splits")
    e = sub.add_parser(
        "export-dcase", help="write a scene file in the DCASE 2024 layout (one WAV and one label CSV per scene)",
        description="Write OUT/mic_dev/<split>/<scene>.wav (all mics, float32) and OUT/metadata_dev/<split>/"
        "<scene>.csv (DCASE 2024: frame,class,source_idx,azimuth,elevation,distance_cm, integers, one row per active "
        "event per frame; 5 columns when the labels have no distance) for every scene of FILE.")
    e.add_argument("file", type=Path, help="a scene file from `simulate scenes`")
    e.add_argument("--out", type=Path, required=True, help="output root (mic_dev/ and metadata_dev/ go in it)")
    e.add_argument("--fold", help="folder name under mic_dev/ and metadata_dev/ (default: the file's split)")
    e.add_argument("--pcm24", action="store_true", help="24-bit PCM WAV files instead of float32")
    m = sub.add_parser("merge", help="join the shards of a split into one file (bit-identical to an unsharded build)",
                       description="Join OUT/<split>.shard-I-of-N.h5 for I = 0..N-1 (from `simulate build --shard`) "
                       "into one file, identical to what an unsharded build writes.")
    m.add_argument("shards", nargs="+", type=Path, help="all N shard files of one split")
    m.add_argument("--out", type=Path, required=True, help="the merged file, e.g. data/fsd/noisy_train.h5")
    m.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    i = sub.add_parser("info", help="counts per class, duration, azimuth/distance/RT60 histograms")
    i.add_argument("files", nargs="+", type=Path)
    v = sub.add_parser("verify", help="check files against the schema; exit status 1 if any problem")
    v.add_argument("files", nargs="+", type=Path)
    v.add_argument("--audio", action="store_true", help="also read all audio (finite, peak <= 1)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parse_with_overrides(_parser(), argv)
    if args.command in ("build", "scenes"):
        return _build(args)
    if args.command == "export-dcase":
        return _export_dcase(args)
    if args.command == "merge":
        from simulate.merge import MergeError, merge_shards

        try:
            out = merge_shards(args.shards, out=args.out, overwrite=args.overwrite)
        except (MergeError, OSError) as err:
            print(f"simulate merge: error: {err}", file=sys.stderr)
            return 2
        print(f"{out}: merged {len(args.shards)} shards")
        return 0
    if args.command == "info":
        from simulate.info import describe

        for path in args.files:
            try:
                text = describe(path)
            except (OSError, KeyError) as err:
                print(f"simulate info: {path}: cannot read ({err}); run `simulate verify {path}`", file=sys.stderr)
                return 1
            print(text)
        return 0
    from simulate.verify import verify_file

    bad = 0
    for path in args.files:
        problems = verify_file(path, check_audio=args.audio)
        print("\n".join(problems) if problems else f"{path}: OK")
        bad += bool(problems)
    return 1 if bad else 0


def _build(args: argparse.Namespace) -> int:
    from mcsimclr.core.errors import GeometryError
    from simulate.backends import BackendUnavailable
    from simulate.blocks import BuildError
    from simulate.scenes.events import ScheduleError
    from simulate.sources import SourceError

    prog = f"simulate {args.command}"
    if args.command == "build":
        from simulate.build import build as run
        from simulate.config import SimulateConfig as schema
    else:
        from simulate.scenes.build import build_scenes as run
        from simulate.scenes.config import ScenesConfig as schema
    config = config_or_exit_code(schema, args.config, args.overrides, prog=prog, print_config=args.print_config)
    if isinstance(config, int):
        return config
    splits = [s.strip() for s in args.splits.split(",") if s.strip()] if args.splits else None
    shard = None
    if args.shard:
        i, _, n = args.shard.partition("/")
        if not (i.isdigit() and n.isdigit() and int(i) < int(n)):
            print(f"{prog}: --shard must be I/N with 0 <= I < N, got {args.shard!r}", file=sys.stderr)
            return 2
        shard = (int(i), int(n))
    try:
        run(config, out_dir=args.out, workers=args.workers, splits=splits, overwrite=args.overwrite,
            progress=not args.no_progress, shard=shard)
    except (SourceError, GeometryError, ScheduleError, BackendUnavailable, BuildError, ValueError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted; finished blocks are kept in {args.out}/*.h5.work. "
              "Run the same command again to resume.", file=sys.stderr)
        return 130
    return 0


def _export_dcase(args: argparse.Namespace) -> int:
    from mcsimclr.core.errors import DataError
    from simulate.dcase.export import export_scene_file

    try:
        written = export_scene_file(args.file, out=args.out, fold=args.fold,
                                    subtype="PCM_24" if args.pcm24 else "FLOAT")
    except (DataError, ValueError, OSError) as err:
        print(f"simulate export-dcase: error: {err}", file=sys.stderr)
        return 2
    print(f"simulate export-dcase: {len(written)} scenes of {args.file} written to {args.out}")
    return 0


def entry() -> int:
    """Console-script entry: a reader that closes the pipe early (``simulate info F | head``) is not an error."""
    try:
        return main()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(entry())
