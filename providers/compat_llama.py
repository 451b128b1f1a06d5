"""The private name of llama-cpp-python that fanout leans on, in one place.

llama.cpp logs every model load and decode to stderr, over the app's screen; llama-cpp-python's switch for that
is `llama_cpp._logger.set_verbose`. If a release moves it, the logs stay on (noisy, never wrong).
tests/providers/test_compat.py fails loudly when that happens.
"""

from __future__ import annotations


def quiet_llama() -> bool:
    """Silences llama.cpp's own logging; False when this llama-cpp-python has no such switch."""
    try:
        from llama_cpp._logger import set_verbose
    except ImportError:
        return False
    set_verbose(False)
    return True
