"""Reading ``.npz`` archives that may be damaged or forged: optimizer states and store chunks.

Both file kinds are written by ``numpy.savez`` and read back by code that must never unpickle,
never allocate more than the caller expects, and turn every way a file can be broken into one
clear reason. :class:`NpzReader` checks the archive on opening and each member's ``.npy``
header (shape, dtype) before reading its data; every failure is an :class:`ArchiveError`
whose message says why, for the caller to wrap (the optimizer: a ``ValueError`` naming the
file; the store: a rejected chunk).
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from collections.abc import Callable

import numpy as np

READ_BLOCK = 1 << 22
"""Bytes read at a time into the destination array: no second copy of the data in memory."""

# What reading a damaged or forged zip archive can raise, from zipfile, zlib or the .npy
# header parser (a truncated file gives BadZipFile or EOFError, a bad header ValueError).
_ARCHIVE_ERRORS = (
    EOFError,
    KeyError,
    NotImplementedError,
    OSError,
    OverflowError,
    RuntimeError,
    ValueError,
    struct.error,
    zipfile.BadZipFile,
    zlib.error,
)

HeaderCheck = Callable[[tuple, np.dtype], None]
"""``check(shape, dtype)`` raises :class:`ArchiveError` to refuse a member before its data."""


class ArchiveError(ValueError):
    """The file is not the archive expected; the message says why."""


class NpzReader:
    """An ``.npz`` file opened for checked reading; a context manager.

    Parameters
    ----------
    path : str or os.PathLike
        The file. A missing one raises ``FileNotFoundError``; a folder, an empty file, a lone
        ``.npy`` array or anything that is not a zip archive raises :class:`ArchiveError`.

    Attributes
    ----------
    names : list of str
        The members' names without ``.npy``, sorted.
    """

    def __init__(self, path: str | os.PathLike):
        if os.path.isdir(path):
            raise ArchiveError("it is a folder, not a file")
        self._file = open(path, "rb")  # closed by close()
        self._archive: zipfile.ZipFile | None = None
        try:
            self._archive = _guard(self._open)
            self.names = sorted(n.removesuffix(".npy") for n in self._archive.namelist())
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the archive and the file."""
        if self._archive is not None:
            self._archive.close()
        self._file.close()

    def _open(self) -> zipfile.ZipFile:
        head = self._file.read(6)
        if not head:
            raise ArchiveError("the file is empty")
        if head.startswith(b"\x93NUMPY"):
            raise ArchiveError("it is a single .npy array, not an .npz archive")
        if not head.startswith(b"PK"):
            raise ArchiveError("it is not an .npz (zip) archive")
        self._file.seek(0)
        return zipfile.ZipFile(self._file)

    def require(self, names: list[str] | set[str]) -> None:
        """Raise :class:`ArchiveError` unless the members are exactly ``names``."""
        if self.names != sorted(names):
            raise ArchiveError(f"the archive holds {self.names}, not {sorted(names)}")

    def read(self, name: str, check: HeaderCheck) -> np.ndarray:
        """Member ``name`` as a new C-contiguous array, its header passed to ``check`` first."""
        return _guard(_read_npy, self._archive, f"{name}.npy", check)


def expect(shape: tuple, dtype: object) -> HeaderCheck:
    """A header check for exactly this shape and dtype."""
    dtype = np.dtype(dtype)

    def check(header_shape: tuple, header_dtype: np.dtype) -> None:
        if header_shape != shape or header_dtype != dtype:
            raise ArchiveError(
                f"has shape {header_shape} and dtype {header_dtype}, not {shape} and {dtype}"
            )

    return check


def expect_text(max_bytes: int) -> HeaderCheck:
    """A header check for one string (a 0-d unicode array) of at most ``max_bytes``."""

    def check(shape: tuple, dtype: np.dtype) -> None:
        if shape != () or dtype.kind != "U":
            raise ArchiveError(f"must be one string, got an array of shape {shape}, dtype {dtype}")
        if dtype.itemsize > max_bytes:
            raise ArchiveError(f"is {dtype.itemsize} bytes long, more than the {max_bytes} allowed")

    return check


def _guard(read, *args):
    try:
        return read(*args)
    except ArchiveError:
        raise
    except _ARCHIVE_ERRORS as error:
        why = f"the archive is damaged or truncated ({type(error).__name__}: {error})"
        raise ArchiveError(why) from None


def _read_npy(archive: zipfile.ZipFile, member: str, check: HeaderCheck) -> np.ndarray:
    """One ``.npy`` member of ``archive``, read without unpickling anything."""
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ArchiveError(f"{member} is a .npy file of version {version}, not 1.0 or 2.0")
        if dtype.hasobject:
            raise ArchiveError(f"{member} holds Python objects (a pickle), which are never loaded")
        try:
            check(shape, dtype)
        except ArchiveError as error:
            raise ArchiveError(f"{member} {error}") from None
        # Fortran order: the bytes are those of the transposed array.
        out = np.empty(shape[::-1] if fortran_order else shape, dtype=dtype)
        view = memoryview(out.reshape(-1)).cast("B") if out.size else memoryview(b"")
        done = 0
        while done < len(view):
            n = f.readinto(view[done : done + READ_BLOCK])
            if not n:
                raise ArchiveError(f"{member} is truncated ({done} of {len(view)} bytes)")
            done += n
        if f.read(1):  # reading to the end also makes zipfile check the CRC
            raise ArchiveError(f"{member} holds more bytes than its header says")
    return np.ascontiguousarray(out.T) if fortran_order else out
