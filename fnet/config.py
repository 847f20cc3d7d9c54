"""Process-wide settings: the persistent compilation cache.

XLA compiles every new combination of shapes, dtypes and static arguments once per
process. The persistent cache keeps compiled programs on disk so the next run starts
fast::

    fnet.config.enable_compilation_cache()          # ~/.cache/fnet/jax (or $FNET_CACHE_DIR)

To avoid recompiling inside a run, keep shapes static: use ``drop_last=True`` (or pad
the last batch), and pad variable-length sequences to a few bucket lengths with
``fnet.data.BucketCollate`` so that at most ``len(buckets)`` programs are compiled.
"""

from __future__ import annotations

import os

import jax

__all__ = ["enable_compilation_cache"]


def enable_compilation_cache(path: str | None = None, min_compile_time_secs: float = 0.0) -> str:
    """Turns on JAX's persistent compilation cache in ``path``; returns the directory.

    Call it before the first computation (model ``init`` included) so that every program
    of a script, the train step and the small eager ones of parameter initialisation
    alike, is read back on the next start (``benchmarks/startup.py`` measures it).

    Args:
        path: cache directory (default ``$FNET_CACHE_DIR`` or ``~/.cache/fnet/jax``).
        min_compile_time_secs: only programs that took at least this long to compile are
            written. The default 0 writes every program: reading one back took about
            15 ms where compiling the small programs of parameter initialisation took
            0.01-0.75 s each (a random-uniform draw per weight shape), measured on the
            benchmark MLP.
    """
    path = path or os.environ.get("FNET_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "fnet", "jax")
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_time_secs)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
