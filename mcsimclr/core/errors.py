"""The error types that both ``simulate`` and ``mcsimclr`` raise and catch.

Each is a ``ValueError`` whose message names the file, key or value at fault and what was expected, so that a
command can print it as it is and exit with status 2.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A config file or override that does not match its schema."""


class DataError(ValueError):
    """A data file that cannot be used; the message names the file and what was expected."""


class GeometryError(ValueError):
    """Placement constraints that cannot be met (room too small for the array and margins)."""


class DeviceError(ValueError):
    """A run that asks for a device this machine does not have (see mcsimclr.core.device.DEVICE_POLICY)."""
