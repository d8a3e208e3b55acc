"""How big each stage of ``mcsimclr demo --task seld`` is: the full demo and the ``--quick`` one."""

from __future__ import annotations

from dataclasses import dataclass

SELD_MODES = ("linear", "random-linear", "scratch", "finetune")
SELD_CLASSICAL = ("srp-phat", "music")  # DOA only, oracle activity (mcsimclr.classical.scenes)


@dataclass(frozen=True)
class SeldDemoPlan:
    """Sizes of the SELD demo's stages and the configs they start from (overrides come on top).

    Attributes:
        scenes: ``(train, dev, test)`` scenes (``scene.splits``).
        clips: ``(train, dev, test)`` synthetic source clips the scenes draw their events from
            (``source.synthetic.splits``: noisy_train, dev, test).
        pretrain_epochs, pretrain_warmup, pretrain_batch: the contrastive pretraining on the train scenes.
        linear_epochs, finetune_epochs: SELD training lengths (epochs over the tiling windows of the train scenes;
            the epoch is selected on dev).
        classical_window_frames: analysis window of SRP-PHAT and MUSIC in label frames (full plan: 3, i.e.
            300 ms, chosen on dev: SRP-PHAT's error at polyphony 1 was 39 deg with 100 ms, 22 with 300 and 500 ms).
        simulate_config, simulate_extra: scene config and any overrides it needs (the quick plan adds a dev split).
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
    simulate_config: str = "configs/simulate/scenes-demo.yaml"
    simulate_extra: tuple[str, ...] = ()
    pretrain_config: str = "configs/pretrain/demo.yaml"
    seld_config: str = "configs/seld/demo.yaml"
    expected_seconds: tuple[float, float, float, float, float] = (90.0, 75.0, 350.0, 30.0, 1.0)

    @classmethod
    def full(cls) -> SeldDemoPlan:
        """The demo: the scenes of ``configs/simulate/scenes-demo.yaml`` (120 train, 20 dev, 40 test scenes of
        5 s), 9.1 minutes measured on 2 CPU cores (docs/results.md, "SELD")."""
        return cls(scenes=(120, 20, 40), clips=(600, 100, 200), pretrain_epochs=60, pretrain_warmup=5,
                   linear_epochs=20, finetune_epochs=15, classical_window_frames=3)

    @classmethod
    def quick(cls) -> SeldDemoPlan:
        """Everything tiny (a minute or two): shows that every stage runs, not that the method works."""
        return cls(scenes=(6, 3, 3), clips=(12, 8, 8), pretrain_epochs=1, pretrain_warmup=0, pretrain_batch=4,
                   linear_epochs=2, finetune_epochs=1, simulate_config="configs/simulate/scenes-tiny.yaml",
                   pretrain_config="configs/pretrain/tiny.yaml",
                   seld_config="configs/seld/tiny.yaml", expected_seconds=(5.0, 5.0, 20.0, 2.0, 1.0))

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
        return [f"linear.epochs={self.linear_epochs}", f"finetune.epochs={self.finetune_epochs}"]
