"""Scene building blocks: multi-event scenes with frame-level labels (DCASE SELD style)."""
