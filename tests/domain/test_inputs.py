"""Table tests: what an input may declare."""

from __future__ import annotations

import pytest

from app.domain.errors import ErrorCode
from app.domain.inputs import FileDeclaration, InputDeclaration, InputLimits, validate_input

LIMITS = InputLimits(max_files=3, max_file_bytes=100, max_total_bytes=150)


def errors_of(name: str, *files: FileDeclaration) -> list[tuple[str | None, ErrorCode]]:
    result = validate_input(name, files, LIMITS)
    assert isinstance(result, list)
    return [(e.field, e.code) for e in result]


@pytest.mark.parametrize(
    "path",
    ["../x", "a/../../x", "/abs", "a//b", "./a", "a/.", "a\\b", "a\x00b", "", "x" * 513],
)
def test_paths_that_could_escape_or_mean_nothing(path: str) -> None:
    assert errors_of("ok", FileDeclaration(path, 1)) == [("files.0.path", ErrorCode.INVALID)]


@pytest.mark.parametrize("name", ["", "-x", "a/b", "..", "x" * 64, "a b"])
def test_bad_names(name: str) -> None:
    assert errors_of(name, FileDeclaration("a", 1)) == [("name", ErrorCode.INVALID)]


def test_duplicates_sizes_types_and_counts() -> None:
    assert errors_of("d", FileDeclaration("a", 1), FileDeclaration("a", 1)) == [
        ("files.1.path", ErrorCode.DUPLICATE)
    ]
    assert errors_of("d", FileDeclaration("a", 101)) == [("files.0.size", ErrorCode.OUT_OF_RANGE)]
    assert errors_of("d", FileDeclaration("a", -1)) == [("files.0.size", ErrorCode.OUT_OF_RANGE)]
    assert errors_of("d", FileDeclaration("a", 100), FileDeclaration("b", 100)) == [
        ("files", ErrorCode.OUT_OF_RANGE)
    ]
    assert errors_of("d", FileDeclaration("a", 1, "application/x-nonsense")) == [
        ("files.0.contentType", ErrorCode.INVALID)
    ]
    assert errors_of("d", *(FileDeclaration(f"f{n}", 1) for n in range(4))) == [
        ("files", ErrorCode.TOO_LONG)
    ]
    assert errors_of("d") == [("files", ErrorCode.REQUIRED)]
    # A file cannot also be a directory.
    assert errors_of("d", FileDeclaration("a", 1), FileDeclaration("a/b", 1)) == [
        ("files.1.path", ErrorCode.INVALID)
    ]


def test_a_valid_declaration_gets_content_types() -> None:
    result = validate_input(
        " data ",
        [
            FileDeclaration("x/train.csv", 10),
            FileDeclaration("blob", 0),
            FileDeclaration("m.json", 5, "application/json"),
        ],
        LIMITS,
    )
    assert result == InputDeclaration(
        "data",
        (
            FileDeclaration("x/train.csv", 10, "text/csv"),
            FileDeclaration("blob", 0, "application/octet-stream"),
            FileDeclaration("m.json", 5, "application/json"),
        ),
    )
    assert isinstance(result, InputDeclaration) and result.total_size == 15
