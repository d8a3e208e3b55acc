"""MC-SimCLR: self-supervised contrastive learning of spatial sound event representations."""

__version__ = "0.1.0"


def load_encoder(path, *, device="cpu"):
    """Rebuild a pretrained encoder with its feature front-end from a checkpoint (see mcsimclr.checkpoint)."""
    from mcsimclr.checkpoint import load_encoder as _load

    return _load(path, device=device)
