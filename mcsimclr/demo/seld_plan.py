"""How big each stage of ``mcsimclr demo --task seld`` is: the full demo and the ``--quick`` one."""

from __future__ import annotations

from dataclasses import dataclass, replace

SELD_MODES = ("linear", "random-linear", "scratch", "finetune")
SELD_CLASSICAL = ("srp-phat", "music")  # DOA only, oracle activity (mcsimclr.classical.scenes)
PRETRAIN_ON = ("scenes", "clips")  # what the SELD demo pretrains on (SeldDemoPlan.pretrain_clips)


def _check_pretrain_on(value: str) -> None:
    if value not in PRETRAIN_ON:
        raise ValueError(f"pretrain_on must be one of {', '.join(PRETRAIN_ON)}, got {value!r}")


@dataclass(frozen=True)
class SeldDemoPlan:
    """Sizes of the SELD demo's stages and the configs they start from (overrides come on top).

    Attributes:
        scenes: ``(train, dev, test)`` scenes (``scene.splits``).
        clips: ``(train, dev, test)`` synthetic source clips the scenes draw their events from
            (``source.synthetic.splits``: noisy_train, dev, test).
        pretrain_epochs, pretrain_warmup, pretrain_batch: the contrastive pretraining.
        pretrain_clips: pretrain on this many unlabelled single-event clips of the built-in synthetic set,
            spatialised by ``clip_config`` (its ``noisy_train`` split, the scenes' seed: the paper's setting; no dev
            or test clip is drawn); 0: on the train scenes themselves.
        linear_epochs, finetune_epochs: SELD training lengths (epochs over the tiling windows of the train scenes;
            the epoch is selected on dev).
        fraction: the SELD modes train on this seeded fraction of the train scenes (``mcsimclr seld --fraction``;
            the same number of updates at every fraction); the pretraining still sees all of them, unlabelled.
        classical_window_frames: analysis window of SRP-PHAT and MUSIC in label frames (full plan: 3, i.e.
            300 ms, chosen on dev: SRP-PHAT's error at polyphony 1 was 39 deg with 100 ms, 22 with 300 and 500 ms).
        simulate_config, simulate_extra: scene config and any overrides it needs (the quick plan adds a dev split).
        clip_config: the clip config of ``pretrain_clips``.
        pretrain_config, seld_config: YAML files under ``configs/``; the SELD recipe (learning rates, window,
            batch, loss) lives in ``seld_config``.
        expected_seconds: rough duration of each of the 5 stages on a 2-core CPU, for the progress display.
    """

    scenes: tuple[int, int, int]
    clips: tuple[int, int, int]
    pretrain_epochs: int
    linear_epochs: int
    finetune_epochs: int
    pretrain_warmup: int = 1
    pretrain_batch: int = 32
    classical_window_frames: int = 1
    pretrain_clips: int = 0
    fraction: float = 1.0
    simulate_config: str = "configs/simulate/scenes-demo.yaml"
    clip_config: str = "configs/simulate/demo.yaml"
    simulate_extra: tuple[str, ...] = ()
    pretrain_config: str = "configs/pretrain/demo.yaml"
    seld_config: str = "configs/seld/demo.yaml"
    expected_seconds: tuple[float, float, float, float, float] = (90.0, 75.0, 350.0, 30.0, 1.0)

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1] (of the train scenes the SELD modes learn from), "
                             f"got {self.fraction}")

    @classmethod
    def full(cls, scale: float = 1.0, pretrain_on: str = "scenes") -> SeldDemoPlan:
        """The demo: the scenes of ``configs/simulate/scenes-demo.yaml`` (120 train, 20 dev, 40 test scenes of
        5 s), 9.1 minutes measured on 2 CPU cores (docs/results.md, "SELD").

        ``scale`` multiplies every scene and source-clip count (at least 2 per split) and the stage time
        estimates; the epoch counts stay, so an epoch has ``scale`` times the steps. At scale 1 the SELD models do
        not even fit their training scenes (docs/results.md, SELD "Later trials"): a larger scale is for a GPU,
        where a comparison of pretraining against scratch can leave the noise.

        ``pretrain_on="scenes"`` (the default): pretrain on the train scenes, 60 epochs of batch 32, 5 warm-up;
        ``"clips"``: on ``600 * scale`` unlabelled single-event clips (``configs/simulate/demo.yaml``, the paper's
        setting) with the clip demo's schedule (14 epochs of batch 64, 1 warm-up). On dev (docs/results.md, SELD
        "Later trials", t13) fine-tuning after clip pretraining tied or beat scratch in 6 of 6 paired runs, after
        scene pretraining in 1 of 3, all by at most 0.015 F20 (a lean, not a result, and gone once scratch trains
        at 1e-3, t15); clips are not the default because they take the demo from 9.1 to 11.0 minutes on 2 CPU
        cores, over its 10-minute budget.

        Raises:
            ValueError: ``scale <= 0``, or ``pretrain_on`` neither ``scenes`` nor ``clips``.
        """
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        _check_pretrain_on(pretrain_on)

        def n(count: int) -> int:
            return max(round(count * scale), 2)

        times = tuple(t * scale for t in cls.expected_seconds[:4]) + cls.expected_seconds[4:]
        plan = cls(scenes=(n(120), n(20), n(40)), clips=(n(600), n(100), n(200)), pretrain_epochs=60,
                   pretrain_warmup=5, linear_epochs=20, finetune_epochs=15, classical_window_frames=3,
                   expected_seconds=times)
        if pretrain_on == "clips":
            plan = replace(plan, pretrain_clips=n(600), pretrain_epochs=14, pretrain_warmup=1,
                           pretrain_batch=64, expected_seconds=(times[0] + 20 * scale, 100 * scale, *times[2:]))
        return plan

    @classmethod
    def quick(cls, pretrain_on: str = "scenes") -> SeldDemoPlan:
        """Everything tiny (a minute or two): shows that every stage runs, not that the method works."""
        _check_pretrain_on(pretrain_on)
        return cls(scenes=(6, 3, 3), clips=(12, 8, 8), pretrain_epochs=1, pretrain_warmup=0, pretrain_batch=4,
                   linear_epochs=2, finetune_epochs=1, pretrain_clips=16 if pretrain_on == "clips" else 0,
                   simulate_config="configs/simulate/scenes-tiny.yaml", clip_config="configs/simulate/tiny.yaml",
                   pretrain_config="configs/pretrain/tiny.yaml",
                   seld_config="configs/seld/tiny.yaml", expected_seconds=(5.0, 5.0, 20.0, 2.0, 1.0))

    def clip_overrides(self, seed: int) -> list[str]:
        """The pretraining clips of ``clip_config``: its ``noisy_train`` split alone, ``pretrain_clips`` of them."""
        return [f"seed={seed}", f"source.synthetic.seed={seed}",
                f"source.synthetic.splits={{noisy_train: {self.pretrain_clips}}}"]

    def simulate_overrides(self, seed: int) -> list[str]:
        train, dev, test = self.scenes
        c_train, c_dev, c_test = self.clips
        return [f"seed={seed}", f"source.synthetic.seed={seed}",
                f"scene.splits={{train: {train}, dev: {dev}, test: {test}}}",
                f"source.synthetic.splits={{noisy_train: {c_train}, dev: {c_dev}, test: {c_test}}}",
                "scene.clip_splits={train: noisy_train, dev: dev, test: test}", *self.simulate_extra]

    def pretrain_schedule_overrides(self) -> list[str]:
        """Epochs, warm-up and batch of the pretraining; no kNN monitor (it needs clip files)."""
        return [f"optim.epochs={self.pretrain_epochs}",
                f"optim.warmup_epochs={min(self.pretrain_warmup, self.pretrain_epochs)}",
                f"optim.batch_size={self.pretrain_batch}", "monitor.train=''", "monitor.dev=''"]

    def seld_overrides(self) -> list[str]:
        return [f"linear.epochs={self.linear_epochs}", f"finetune.epochs={self.finetune_epochs}",
                f"fraction={self.fraction}"]
