"""Sound event localisation and detection (SELD): the DCASE Task 3 metrics on frame labels (``metrics``)."""
