"""Building blocks of multi-event scenes (``simulate scenes``): trajectories, event schedules, moving-source
rendering, diffuse ambient noise, frame labels and the scene renderer. One concept per module."""

from simulate.scenes.events import EventSpec, ScheduledEvent, ScheduleError, sample_schedule
from simulate.scenes.labels import FrameLabels, frame_labels, polyphony, polyphony_fractions
from simulate.scenes.moving import block_times, render_moving, trajectory_rirs
from simulate.scenes.noise import diffuse_noise, noise_from_folder, scale_to_snr
from simulate.scenes.scene import RenderedScene, render_scene
from simulate.scenes.trajectory import Trajectory, TrajectoryError, sample_trajectory

__all__ = [
    "EventSpec", "FrameLabels", "RenderedScene", "ScheduleError", "ScheduledEvent", "Trajectory", "TrajectoryError",
    "block_times", "diffuse_noise", "frame_labels", "noise_from_folder", "polyphony", "polyphony_fractions",
    "render_moving", "render_scene", "sample_schedule", "sample_trajectory", "scale_to_snr", "trajectory_rirs",
]
