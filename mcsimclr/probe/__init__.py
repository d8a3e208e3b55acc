"""Evaluation of spatial sound event representations: linear probe, fine-tuning, label fractions, baselines.

``mcsimclr probe`` runs one protocol and writes a result directory; ``mcsimclr report`` turns result directories
into the paper-style table; ``mcsimclr margin`` (:mod:`mcsimclr.probe.bootstrap`) gives the margin of one
probe over another across seeds with bootstrap intervals; ``mcsimclr embed`` (:mod:`mcsimclr.probe.embed_file`)
writes the clip or frame embeddings of a data file. Protocols and choices: docs/evaluation.md.
"""

from mcsimclr.probe.bootstrap import SeedMargin, bootstrap_margin
from mcsimclr.probe.config import ProbeConfig
from mcsimclr.probe.grad_scale import GradScale, grad_scale
from mcsimclr.probe.heads import ProbeHeads
from mcsimclr.probe.report import build_table, collect, write_report
from mcsimclr.probe.run import ProbeError, ProbeOutcome, run_probe
from mcsimclr.probe.splits import fraction_subset, validation_split

__all__ = ["GradScale", "ProbeConfig", "ProbeError", "ProbeHeads", "ProbeOutcome", "SeedMargin", "bootstrap_margin",
           "build_table", "collect", "fraction_subset", "grad_scale", "run_probe", "validation_split", "write_report"]
