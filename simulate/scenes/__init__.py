"""Building blocks of multi-event scenes (``simulate scenes``): trajectories, event schedules, moving-source
rendering, diffuse ambient noise, frame labels and the scene renderer. One concept per module."""
