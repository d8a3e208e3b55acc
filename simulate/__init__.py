"""Room simulation: spatialise mono clips onto a microphone array in random shoebox rooms, into HDF5."""

# The version of what `simulate build` writes, independent of the ML package's version (mcsimclr.__version__).
# Bump it when a change to this package alters the bytes a build writes: it is part of the digest that marks an
# unfinished build as resumable (simulate.build.config_digest), and it is stored in every file (package_version).
SIMULATOR_VERSION = "0.1.0"
