"""Validation of a declared input: a name and the files a client is about to upload.

Nothing is stored until the whole declaration is valid, so every problem is reported at once,
each naming its field (`files.2.path`). Paths become object keys under the input's prefix and
directories under the run's input directory, so they follow the object-key rules and cannot
climb out of either.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.errors import ErrorCode, UserError

INPUT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
MAX_PATH_BYTES = 512
GiB = 1 << 30
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Common data formats the standard table lacks.
EXTRA_CONTENT_TYPES = frozenset(
    {
        "application/vnd.apache.parquet",
        "application/x-parquet",
        "application/x-hdf5",
        "application/x-npy",
        "application/x-ndjson",
        "application/jsonl",
        "application/x-safetensors",
        "application/yaml",
        "text/markdown",
        "text/csv",
    }
)


@dataclass(frozen=True)
class InputLimits:
    """How much one input may declare; one file is at most a single PUT (5 GiB on S3)."""

    max_files: int = 1000
    max_file_bytes: int = 5 * GiB
    max_total_bytes: int = 100 * GiB


@dataclass(frozen=True)
class FileDeclaration:
    """One file a client says it will upload."""

    path: str
    size: int
    content_type: str | None = None


@dataclass(frozen=True)
class InputDeclaration:
    """A validated input: its name and files (content types filled in)."""

    name: str
    files: tuple[FileDeclaration, ...]

    @property
    def total_size(self) -> int:
        """Bytes over every file."""
        return sum(f.size for f in self.files)


def known_content_types() -> frozenset[str]:
    """Every content type the platform accepts for an input file."""
    mimetypes.init()
    return frozenset(mimetypes.types_map.values()) | EXTRA_CONTENT_TYPES


def path_problem(path: str) -> str | None:
    """Why `path` cannot name a file of an input (None when it can)."""
    if not path:
        return "A path is required."
    if path.startswith("/"):
        return "Paths are relative to the input; this one is absolute."
    if "\\" in path or any(ord(c) < 0x20 or c == "\x7f" for c in path):
        return "A path may not hold backslashes or control characters."
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        return "A path may not hold empty, '.' or '..' segments."
    if len(path.encode()) > MAX_PATH_BYTES:
        return f"A path is at most {MAX_PATH_BYTES} bytes long."
    return None


def validate_input(
    name: str, files: Sequence[FileDeclaration], limits: InputLimits
) -> InputDeclaration | list[UserError]:
    """A valid declaration, or every problem with it."""
    errors: list[UserError] = []
    name = name.strip()
    if not INPUT_NAME.match(name):
        errors.append(
            UserError(
                "name",
                "A name has 1 to 63 letters, digits, '.', '_' or '-', starting with a letter "
                "or digit.",
                ErrorCode.INVALID,
            )
        )
    if not files:
        errors.append(UserError("files", "Declare at least one file.", ErrorCode.REQUIRED))
    elif len(files) > limits.max_files:
        errors.append(UserError("files", f"At most {limits.max_files} files.", ErrorCode.TOO_LONG))
    known = known_content_types()
    seen: set[str] = set()
    checked: list[FileDeclaration] = []
    for i, declared in enumerate(files):
        where = f"files.{i}"
        problem = path_problem(declared.path)
        if problem is not None:
            errors.append(UserError(f"{where}.path", problem, ErrorCode.INVALID))
        elif declared.path in seen:
            errors.append(
                UserError(
                    f"{where}.path", f"'{declared.path}' is declared twice.", ErrorCode.DUPLICATE
                )
            )
        seen.add(declared.path)
        if not 0 <= declared.size <= limits.max_file_bytes:
            errors.append(
                UserError(
                    f"{where}.size",
                    f"A file is 0 to {limits.max_file_bytes} bytes.",
                    ErrorCode.OUT_OF_RANGE,
                )
            )
        content_type = declared.content_type
        if content_type is None:
            content_type = mimetypes.guess_type(declared.path)[0] or DEFAULT_CONTENT_TYPE
        elif content_type not in known:
            errors.append(
                UserError(
                    f"{where}.contentType",
                    f"Unknown content type '{content_type}'; use a registered type or "
                    f"{DEFAULT_CONTENT_TYPE}.",
                    ErrorCode.INVALID,
                )
            )
        checked.append(FileDeclaration(declared.path, declared.size, content_type))
    # A file cannot also be a directory of another file (`a` and `a/b`).
    for i, declared in enumerate(files):
        parts = declared.path.split("/")
        if any("/".join(parts[:n]) in seen for n in range(1, len(parts))):
            errors.append(
                UserError(
                    f"files.{i}.path",
                    f"'{declared.path}' is inside a path declared as a file.",
                    ErrorCode.INVALID,
                )
            )
    total = sum(max(f.size, 0) for f in files)
    if total > limits.max_total_bytes:
        errors.append(
            UserError(
                "files",
                f"The files add up to {total} bytes; an input holds at most "
                f"{limits.max_total_bytes}.",
                ErrorCode.OUT_OF_RANGE,
            )
        )
    if errors:
        return errors
    return InputDeclaration(name=name, files=tuple(checked))
