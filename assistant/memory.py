"""Large freed buffers go back to the system, so a server's memory follows its load.

glibc serves a request over its mmap threshold (128 KiB at first) from a mapping of its
own, returned to the system when freed; but each such free raises the threshold, up to
32 MiB, after which large buffers come from the heap and stay with the process. The
sentence encoder's buffers grow with a message's length: after 16 long messages the
process held 261 MB with the moving threshold, 105 MB with it fixed (the 101 MB it
started with), each message encoded as fast.
"""
from __future__ import annotations

import ctypes
import logging

logger = logging.getLogger(__name__)
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD_BYTES = 128 * 1024


def return_large_buffers() -> None:
    """Fix glibc's mmap threshold at its initial value; elsewhere (no glibc) nothing to do."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        logger.debug("No glibc: the allocator's thresholds are left as they are.")
        return
    if not libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES):
        logger.warning("glibc refused the mmap threshold: large freed buffers may stay with the process.")
