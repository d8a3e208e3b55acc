"""Name of the pretraining setting of a probe result: a row of the report table."""

from __future__ import annotations

import re
from typing import Any

import yaml

BASELINE_SETTING = "random init (LP) / supervised from scratch (FT)"
CLASSICAL_SETTINGS = {"srp-phat": "SRP-PHAT (no learning)", "music": "MUSIC (no learning)"}  # rows by probe mode

# (config section under augment, short name) in the paper's order, then the optional measures.
_AUGMENTATIONS = (("channel_swap", "ChannelSwap"), ("mixup", "Mixup"), ("crop", "RRC"),
                  ("channel_drop", "ChannelDrop"), ("modality_drop", "ModalityDrop"), ("mel_gain", "MelGain"),
                  ("mel_warp", "MelWarp"))


def pretraining_setting(config_yaml: str, encoder: dict[str, Any] | None = None) -> str:
    """``"MC-SimCLR, ChannelSwap+Mixup+RRC+ChannelDrop"`` (the paper's wording) from a checkpoint's pretraining
    config; ``"MC-SimCLR, no augmentation"`` when all are off. ``RRC(time)`` marks a time-only crop,
    ``+ branch loss`` a contrastive loss per branch (``optim.branch_loss_weight > 0``) and ``[split encoder]`` the
    two-branch encoder. An unreadable config gives ``"MC-SimCLR"``."""
    try:
        cfg = yaml.safe_load(config_yaml) or {}
    except yaml.YAMLError:
        cfg = {}
    augment = cfg.get("augment") if isinstance(cfg, dict) else None
    name = "MC-SimCLR"
    if isinstance(augment, dict):
        on = []
        for key, short in _AUGMENTATIONS:
            section = augment.get(key) or {}
            if section.get("enabled", False):
                on.append("RRC(time)" if key == "crop" and section.get("axes") == "time" else short)
        name += ", " + ("+".join(on) if on else "no augmentation")
    optim = cfg.get("optim") if isinstance(cfg, dict) else None
    if isinstance(optim, dict) and float(optim.get("branch_loss_weight") or 0) > 0:
        name += " + branch loss"
    return name + _encoder_tag(encoder)


def baseline_setting(encoder: dict[str, Any] | None = None) -> str:
    """Row of the baselines (random-init linear probe and supervised training from scratch)."""
    return BASELINE_SETTING + _encoder_tag(encoder)


def _encoder_tag(encoder: dict[str, Any] | None) -> str:
    return " [split encoder]" if encoder and encoder.get("branches") == "split" else ""


def slug(text: str) -> str:
    """File-name-safe form of a setting name: ``"MC-SimCLR, no augmentation"`` -> ``"mc-simclr-no-augmentation"``."""
    s = re.sub(r"[^a-z0-9.+-]+", "-", text.lower()).strip("-")
    return s or "setting"
