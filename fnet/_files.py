"""Durable file writes: one atomic-write helper and the clean-up of its stale temporaries.

Every file fnet writes (safetensors checkpoints, ``config.json``, training checkpoints
and their ``latest.json`` pointer) goes through :func:`atomic_write`: the bytes go to
``NAME.<random>.tmp`` in the target's directory, are fsynced, renamed over ``NAME``
with ``os.replace`` (atomic on POSIX and Windows), and the directory is fsynced so
that the rename itself survives a power cut. A reader sees the old file or the new
one, never a mix.

A writer killed with SIGKILL cannot remove its temporary. The writer therefore holds
an exclusive ``flock`` on the temporary while it writes; the kernel drops the lock
when the process dies, however it dies. :func:`clean_stale_temporaries` removes only
names of exactly fnet's pattern whose lock it can take (no live writer) and that are
older than a grace period (which covers the instant between creating the file and
locking it). Where the file system offers no ``flock``, only temporaries a day old
are removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from typing import IO, Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: age is the only evidence
    fcntl = None  # type: ignore[assignment]

__all__ = ["atomic_write", "clean_stale_temporaries", "fsync_directory", "temporary_pattern", "try_lock"]

# mkstemp's random part: 8 characters of [a-z0-9_].
_RANDOM = r"[a-z0-9_]{8}"
_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: mkstemp creates 0600 files, fnet gives them the usual 0666 & ~umask
STALE_AFTER_S = 10.0           # unlocked temporaries older than this are dead writers'
STALE_WITHOUT_LOCKS_S = 86400.0


def temporary_pattern(name: str) -> re.Pattern:
    """The names fnet gives temporaries of ``name``: ``name.<8 random chars>.tmp``."""
    return re.compile(re.escape(name) + r"\." + _RANDOM + r"\.tmp")


def fsync_directory(directory: str) -> None:
    """Makes renames and removals inside ``directory`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def try_lock(fd: int) -> bool | None:
    """Takes an exclusive lock without waiting: True if taken, False if held, None if unsupported."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError:  # ENOLCK / EOPNOTSUPP: no flock on this file system
        return None


def _is_stale(path: str, now: float, min_age: float | None) -> bool:
    """No live writer holds ``path`` (files: their lock; folders: every file's) and it is old."""
    try:
        age = now - os.lstat(path).st_mtime
    except FileNotFoundError:
        return False
    files = [path]
    if os.path.isdir(path) and not os.path.islink(path):
        files = [os.path.join(root, f) for root, _, names in os.walk(path) for f in names]
        try:
            age = min([age] + [now - os.lstat(f).st_mtime for f in files])
        except FileNotFoundError:
            return False
    locks_known = True
    for file in files:
        try:
            fd = os.open(file, os.O_RDONLY)
        except OSError:
            return False
        try:
            taken = try_lock(fd)
        finally:
            os.close(fd)  # closing drops a lock we took
        if taken is False:
            return False
        locks_known = locks_known and taken is True
    if min_age is None:
        min_age = STALE_AFTER_S if locks_known else STALE_WITHOUT_LOCKS_S
    return age >= min_age


def clean_stale_temporaries(directory: str, name: str | None = None,
                            pattern: re.Pattern | None = None, min_age: float | None = None) -> list[str]:
    """Removes dead writers' temporaries in ``directory``; returns the paths removed.

    Args:
        directory: where to look (a missing directory has nothing to clean).
        name: remove temporaries of this target only (``name.<random>.tmp``).
        pattern: or any name matching this compiled pattern (``fullmatch``).
        min_age: seconds since the last write before an unlocked temporary counts as
            dead (default: the grace period above; 0 when the caller knows that no
            writer can be starting, e.g. it holds a lock on the whole folder).

    Only names of fnet's own pattern are considered, and of those only the ones no
    live process holds (see the module docstring); everything else is left alone.
    """
    if pattern is None:
        if name is None:
            raise ValueError("clean_stale_temporaries: give the target name or a pattern")
        pattern = temporary_pattern(name)
    try:
        entries = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    now = time.time()
    for entry in entries:
        if not pattern.fullmatch(entry):
            continue
        path = os.path.join(directory, entry)
        if not _is_stale(path, now, min_age):
            continue
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            removed.append(path)
        except FileNotFoundError:  # another cleaner was faster
            pass
    if removed:
        fsync_directory(directory)
    return removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Writes ``path`` atomically: ``with atomic_write(p) as f: f.write(...)``.

    The handle writes ``NAME.<random>.tmp`` next to ``path`` (locked while open). When
    the block ends normally the data is flushed and fsynced, renamed over ``path``, and
    the directory fsynced. When the block raises, the temporary is removed and the
    previous ``path`` is untouched. Stale temporaries of ``path`` left by killed
    writers are removed first.

    Args:
        path: the destination file.
        mode: ``"wb"`` (bytes) or ``"w"`` (UTF-8 text).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    os.makedirs(directory, exist_ok=True)
    clean_stale_temporaries(directory, name)
    fd, tmp = tempfile.mkstemp(prefix=name + ".", suffix=".tmp", dir=directory)
    try_lock(fd)
    os.fchmod(fd, 0o666 & ~_UMASK) if hasattr(os, "fchmod") else None
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            os.replace(tmp, path)  # still locked: a cleaner never sees it unlocked and old
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)
