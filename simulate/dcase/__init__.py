"""DCASE SELD data: the label CSV format, the STARSS23 folder layout, and export to it."""
