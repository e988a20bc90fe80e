"""The audio format the recognizers take (16-bit 8 kHz mono PCM) and the stdlib codec helpers."""
from __future__ import annotations

import functools

RATE = 8000
BYTES_PER_SECOND = RATE * 2


@functools.lru_cache(maxsize=None)
def load_audioop():
    """The stdlib audioop (deprecated, gone in 3.13 where pyVoIP needs audioop-lts anyway)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    return audioop
