"""The leaf that ``simulate`` and the rest of ``mcsimclr`` both stand on (docs/architecture.md).

It imports neither of them: the typed config loader with dotted overrides (``config``), the command-line helpers
(``cli_args``), the HDF5 data contract (``h5schema``), the array presets and the direction convention (``array``),
the device policy (``device``) and the shared error types (``errors``). Import what you need from its modules;
this package itself loads nothing, so that ``import mcsimclr.core.config`` stays cheap.
"""
