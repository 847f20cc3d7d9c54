"""Process-wide settings: the persistent compilation cache and host-memory reuse.

XLA compiles every new combination of shapes, dtypes and static arguments once per
process. The persistent cache keeps compiled programs on disk so the next run starts
fast::

    fnet.config.enable_compilation_cache()          # ~/.cache/fnet/jax (or $FNET_CACHE_DIR)

To avoid recompiling inside a run, keep shapes static: use ``drop_last=True`` (or pad
the last batch), and pad variable-length sequences to a few bucket lengths with
``fnet.data.BucketCollate`` so that at most ``len(buckets)`` programs are compiled.

On a Linux CPU, XLA allocates each step's temporaries (one block of tens to hundreds of
MiB) with ``malloc`` from its worker threads, and glibc serves such blocks with ``mmap``
and returns them with ``munmap``: every step page-faults its whole working set back in.
``retain_host_memory()`` makes glibc keep freed memory for reuse::

    import fnet
    fnet.config.retain_host_memory()                # before the first JAX computation
"""

from __future__ import annotations

import ctypes
import os
import sys

import jax

__all__ = ["enable_compilation_cache", "retain_host_memory"]

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8
_NEVER_TRIM = 2 ** 31 - 1  # mallopt takes an int


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


def _backend_started() -> bool:
    from jax._src import xla_bridge  # no public API says whether a backend exists yet

    started = getattr(xla_bridge, "backends_are_initialized", None)
    return bool(started()) if started is not None else bool(getattr(xla_bridge, "_backends", {}))


def retain_host_memory() -> bool:
    """Makes glibc's ``malloc`` keep freed memory in the process for reuse, so that XLA:CPU
    stops page-faulting its temporaries in again on every step; returns whether it applied.

    XLA allocates a compiled program's temporaries as one block per call (100 MiB for the
    benchmark LSTM's training step, 760 MiB for BERT small's) from a worker thread. glibc
    serves blocks that large with ``mmap`` (a thread's arena cannot hold them) and gives
    them back with ``munmap``, so the next call faults every page in again, zeroed by the
    kernel: 17-20% of the step's CPU time on those models (``benchmarks/README.md``,
    *Host memory*). This sets, for the whole process, one ``malloc`` arena
    (``M_ARENA_MAX=1``), no ``mmap`` for large blocks (``M_MMAP_MAX=0``) and no trimming of
    the heap (``M_TRIM_THRESHOLD``): freed blocks stay in the heap and the next step
    reuses them. The numbers computed are the same; the cost is that the process keeps
    its peak host memory until it exits, as PyTorch's CUDA caching allocator keeps GPU
    memory. The same effect without calling this: start Python with
    ``GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647``.

    Call it before the first JAX computation (right after ``import fnet``, before
    ``model.init``): the CPU backend's threads take their ``malloc`` arena when they
    start, and do not change it later.

    Returns:
        True when the settings were applied; False (with a warning) where the C library
        is not glibc (macOS, Windows, musl), where ``malloc`` has no such settings.

    Raises:
        RuntimeError: if JAX's backend has already started.

    PyTorch equivalent: none; PyTorch's CPU tensors come from the same glibc ``malloc``,
    and start with the same settings under the ``GLIBC_TUNABLES`` above.
    """
    if _backend_started():
        raise RuntimeError("fnet.config.retain_host_memory: must be called before JAX's first computation, "
                           "but a JAX backend has already started (its threads keep the malloc arenas they "
                           "were given); call it right after `import fnet`, or start Python with GLIBC_TUNABLES="
                           "glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647")
    libc = ctypes.CDLL(None) if sys.platform.startswith("linux") else None
    if libc is None or not hasattr(libc, "gnu_get_libc_version"):
        import warnings

        warnings.warn("fnet.config.retain_host_memory: the C library is not glibc; nothing was changed",
                      RuntimeWarning, stacklevel=2)
        return False
    for option, value in ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _NEVER_TRIM)):
        if libc.mallopt(option, value) != 1:
            raise OSError(f"fnet.config.retain_host_memory: glibc refused mallopt({option}, {value})")
    return True
