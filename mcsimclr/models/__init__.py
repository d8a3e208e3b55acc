"""Encoder and projection head (plain ``nn.Module`` s, no Lightning)."""

from mcsimclr.models.conv_block import ConvBlock
from mcsimclr.models.crnn import CRNNBranch, CRNNEncoder
from mcsimclr.models.projection_head import ProjectionHead

__all__ = ["CRNNBranch", "CRNNEncoder", "ConvBlock", "ProjectionHead"]
