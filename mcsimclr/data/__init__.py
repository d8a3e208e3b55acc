"""Reading `simulate build` files for training: random crops, positive pairs, whole clips."""

from mcsimclr.data.clip_store import ClipStore, choose_data_mode
from mcsimclr.data.clips_dataset import ClipsDataset, pad_collate
from mcsimclr.data.crops import draw_near, draw_starts, gather_crops

__all__ = ["ClipStore", "ClipsDataset", "choose_data_mode", "draw_near", "draw_starts", "gather_crops", "pad_collate"]
