"""Numba options, in one place (stumpy-style), so every kernel compiles the same way.

No numba import here: the kernels read these dicts when they are themselves imported.
"""
# cache=True: compile once per machine, not per process (JIT time is a user-visible cost).
# fastmath=False: the kernels count integers; nothing may be reassociated.
NJIT = dict(cache=True, nogil=True, fastmath=False)
