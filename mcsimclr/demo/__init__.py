"""``mcsimclr demo``: the whole recipe end to end on the built-in synthetic sources, on a CPU in minutes."""
