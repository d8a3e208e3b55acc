"""Room simulation: spatialise mono clips onto a microphone array in random shoebox rooms, into HDF5."""
