"""Bundled catalogues: hardware/ and workloads/ at the repository top are mapped here by setup.cfg."""
