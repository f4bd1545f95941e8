"""Directory transfers (run outputs up, job inputs down), against both stores."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any, cast

import pytest

from app.storage.base import InvalidKey, ObjectInfo, ObjectStore
from app.storage.sync import TransferError, download_prefix, upload_directory


class Flaky:
    """A store whose `upload_file` fails the first `failures` times for each chosen file."""

    def __init__(self, store: ObjectStore, failures: int, names: set[str]) -> None:
        self._store = store
        self._failures = failures
        self._names = names
        self.attempts: Counter[str] = Counter()

    async def upload_file(self, key: str, path: Path, **options: Any) -> ObjectInfo:
        self.attempts[path.name] += 1
        if path.name in self._names and self.attempts[path.name] <= self._failures:
            raise ConnectionResetError("connection reset by peer")
        return await self._store.upload_file(key, path, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "metrics.txt": b"loss 0.1\n",
        "empty.bin": b"",
        "model/weights.json": b'{"w": [1, 2]}',
        "model/plots/curve.png": b"\x89PNG fake",
    }
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


async def test_upload_directory_keeps_the_tree(store: ObjectStore, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "out")

    uploaded = await upload_directory(store, tmp_path / "out", "runs/7/outputs", backoff=0)

    keys = [f"runs/7/outputs/{relative}" for relative in sorted(files)]
    assert [info.key for info in uploaded] == keys
    for relative, data in files.items():
        assert await store.get(f"runs/7/outputs/{relative}") == data
    types = {info.key.rsplit("/", 1)[1]: info.content_type for info in uploaded}
    assert types["metrics.txt"] == "text/plain"
    assert types["weights.json"] == "application/json"
    assert types["curve.png"] == "image/png"
    assert [info.size for info in uploaded] == [len(files[r]) for r in sorted(files)]


async def test_upload_directory_of_an_empty_directory(store: ObjectStore, tmp_path: Path) -> None:
    (tmp_path / "out" / "nothing").mkdir(parents=True)
    assert await upload_directory(store, tmp_path / "out", "runs/8/outputs/") == []


async def test_links_out_of_the_directory_and_special_files_are_skipped(
    store: ObjectStore, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "real.txt").write_text("real")
    (tmp_path / "secret").write_text("token")
    (out / "inside-link.txt").symlink_to(out / "real.txt")
    (out / "escape").symlink_to(tmp_path / "secret")
    (out / "escape-dir").symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(out / "pipe")

    uploaded = await upload_directory(store, out, "r/")

    assert [info.key for info in uploaded] == ["r/inside-link.txt", "r/real.txt"]
    assert await store.get("r/inside-link.txt") == b"real"


async def test_transient_errors_are_retried(store: ObjectStore, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "out")
    flaky = Flaky(store, failures=2, names={"metrics.txt", "weights.json"})

    uploaded = await upload_directory(
        cast(ObjectStore, flaky), tmp_path / "out", "runs/9/outputs", retries=3, backoff=0
    )

    assert len(uploaded) == len(files)
    assert flaky.attempts == {"metrics.txt": 3, "weights.json": 3, "empty.bin": 1, "curve.png": 1}
    assert await store.get("runs/9/outputs/metrics.txt") == files["metrics.txt"]


async def test_failures_are_reported_after_the_other_files_are_uploaded(
    store: ObjectStore, tmp_path: Path
) -> None:
    make_tree(tmp_path / "out")
    (tmp_path / "out" / "bad\\name.txt").write_text("a backslash cannot be in a key")
    flaky = Flaky(store, failures=5, names={"metrics.txt"})

    with pytest.raises(TransferError) as caught:
        await upload_directory(
            cast(ObjectStore, flaky), tmp_path / "out", "runs/10/", retries=2, backoff=0
        )

    failures = caught.value.failures
    assert sorted(failures) == ["bad\\name.txt", "metrics.txt"]
    assert isinstance(failures["metrics.txt"], ConnectionResetError)
    assert isinstance(failures["bad\\name.txt"], InvalidKey)
    # Retried up to the limit when it might help, not at all when it cannot.
    assert (flaky.attempts["metrics.txt"], flaky.attempts["bad\\name.txt"]) == (3, 1)
    listed = await store.list("runs/10/")
    assert [info.key for info in listed.objects] == [
        "runs/10/empty.bin",
        "runs/10/model/plots/curve.png",
        "runs/10/model/weights.json",
    ]


async def test_download_prefix_recreates_the_tree(store: ObjectStore, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "out")
    await upload_directory(store, tmp_path / "out", "inputs/3", backoff=0)
    await store.put("inputs/30/not-this-one", b"x")

    downloaded = await download_prefix(store, "inputs/3", tmp_path / "in")

    assert len(downloaded) == len(files)
    for relative, data in files.items():
        assert (tmp_path / "in" / relative).read_bytes() == data
    assert not (tmp_path / "in" / "not-this-one").exists()
