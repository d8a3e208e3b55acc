"""How big each stage of the demo is: the full demo, the ``--quick`` one, and ``--scale``."""

from __future__ import annotations

from dataclasses import dataclass

MODES = ("linear", "random-linear", "finetune", "scratch")
CLASSICAL_MODES = ("srp-phat", "music")  # rows without learning (mcsimclr.probe.classical), about 35 s at scale 1


@dataclass(frozen=True)
class DemoPlan:
    """Sizes of the demo's stages, and the configs they start from (overrides come on top).

    Attributes:
        noisy_train, clean_train, dev, test: clips per split (unlabelled pretraining; labelled training; labelled
            selection: every choice of every probe is made on dev; test, scored once).
        pretrain_epochs, pretrain_warmup, linear_epochs, finetune_epochs: training lengths (warm-up in epochs).
        lr_grid: learning rates that training from scratch sweeps, chosen on dev with the epoch
            (``finetune.lr_grid``): the baseline is tuned on dev as the linear probes are (their L2 strengths,
            ``linear.solver: dev``). Fine-tuning keeps the paper's ``optim.lr`` unswept (a third of the cost; the
            comparison can only favour scratch).
        random_draws: random encoders drawn for the random-encoder row (``linear.random_draws``).
        linear_solver: how the linear probes fit their heads (``linear.solver``; ``dev``: L2 chosen on the dev split,
            docs/evaluation.md); ``linear_epochs`` applies to ``sgd``.
        eval_hop_seconds: hop of the probes' evaluation windows (``data.eval_hop_seconds``; ``None``: the probe
            config's).
        monitor_every: the pretraining's kNN monitor runs every this many epochs (``None``: once, after the last).
        pretrain_batch, probe_batch: batch sizes.
        simulate_config, pretrain_config, probe_config: YAML files under ``configs/``.
        expected_seconds: rough duration of each stage on a 2-core CPU, for the progress display.
    """

    noisy_train: int
    clean_train: int
    dev: int
    test: int
    pretrain_epochs: int
    linear_epochs: int
    finetune_epochs: int
    lr_grid: tuple[float, ...] = (0.003, 0.01, 0.03)
    random_draws: int = 3
    pretrain_warmup: int = 1
    linear_solver: str = "dev"
    eval_hop_seconds: float | None = None
    monitor_every: int | None = 1
    pretrain_batch: int = 64
    probe_batch: int = 32
    simulate_config: str = "configs/simulate/demo.yaml"
    pretrain_config: str = "configs/pretrain/demo.yaml"
    probe_config: str = "configs/probe/cpu.yaml"
    expected_seconds: tuple[float, float, float, float] = (30.0, 240.0, 200.0, 2.0)

    @classmethod
    def full(cls, scale: float = 1.0) -> DemoPlan:
        """The demo (11.9 minutes measured alone on 2 CPU cores at scale 1: 81 s, 3.5 min, 6.9 min); ``scale``
        multiplies clips and stage times.

        Many unlabelled clips seen many times each: on the demo data, 1,800 clips x 4 epochs gave the linear probe
        more class accuracy and less azimuth error than 600 clips x 10 epochs at about the same cost, and more
        passes over the 1,800 helped both, so the budget goes to pretraining passes: 14 epochs of 0.5 s crops
        (``configs/pretrain/demo.yaml``; a step costs 0.4x one of 1 s crops, and 14 epochs of them beat 6 of
        1 s on both heads), the kNN monitor once (after the last epoch; it only reports), and evaluation windows
        at a 1 s hop instead of 0.5 s (half the windows to embed; docs/results.md)."""
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")

        def n(x: int) -> int:
            return max(round(x * scale), 24)

        return cls(noisy_train=n(1800), clean_train=n(300), dev=n(200), test=n(800), pretrain_epochs=14,
                   linear_epochs=100, finetune_epochs=15, eval_hop_seconds=1.0, monitor_every=None,
                   expected_seconds=(80.0 * scale, 210.0 * scale, 415.0 * scale, 2.0))

    @classmethod
    def quick(cls) -> DemoPlan:
        """Everything tiny: a minute or two; shows that every stage runs, not that the method works."""
        return cls(noisy_train=48, clean_train=40, dev=12, test=32, pretrain_epochs=2, linear_epochs=5,
                   finetune_epochs=2, lr_grid=(0.003, 0.01), random_draws=2, pretrain_batch=16, probe_batch=8,
                   pretrain_config="configs/pretrain/tiny.yaml",
                   probe_config="configs/probe/tiny.yaml", expected_seconds=(5.0, 10.0, 30.0, 1.0))

    def simulate_overrides(self, seed: int) -> list[str]:
        return [f"seed={seed}", f"source.synthetic.seed={seed}",
                f"source.synthetic.splits={{noisy_train: {self.noisy_train}, clean_train: {self.clean_train}, "
                f"dev: {self.dev}, test: {self.test}}}"]

    def pretrain_schedule_overrides(self) -> list[str]:
        """The pretraining config's epochs, warm-up, batch and kNN monitor interval for this plan."""
        return [f"optim.epochs={self.pretrain_epochs}",
                f"optim.warmup_epochs={min(self.pretrain_warmup, self.pretrain_epochs)}",
                f"optim.batch_size={self.pretrain_batch}",
                f"monitor.every_n_epochs={self.monitor_every or self.pretrain_epochs}"]
