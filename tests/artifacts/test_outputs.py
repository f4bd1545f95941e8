"""A run's outputs end to end: the sidecar uploads them when the main container ends, however
it ends; the API lists them and hands out URLs that return the exact bytes."""

from __future__ import annotations

import hashlib
import random

from tests.artifacts.flows import artifacts, download, submit, wait_outputs
from tests.support.api import Api

MiB = 1 << 20
BIG = 50 * MiB

WRITE_AND_FAIL = f"""
import os, pathlib, random
out = pathlib.Path(os.environ["WALKAI_OUTPUT_DIR"])
(out / "a" / "b" / "c").mkdir(parents=True)
(out / "a" / "b" / "c" / "deep.txt").write_text("deep")
(out / "a" / "notes.md").write_text("# notes")
(out / "empty.txt").write_bytes(b"")
(out / "big.bin").write_bytes(random.Random(7).randbytes({BIG}))
raise SystemExit(3)
"""


async def test_outputs_of_a_failed_run_are_uploaded_whole(stack: Api) -> None:
    run_id = await submit(stack, WRITE_AND_FAIL)
    run = await wait_outputs(stack, run_id)
    assert (run["status"], run["exitCode"]) == ("FAILED", 3)
    assert run["outputsStatus"]["status"] == "UPLOADED", run["outputsStatus"]
    assert run["outputsStatus"]["message"] == f"4 file(s), {BIG + 4 + 7} bytes."

    found = {a["path"]: a for a in await artifacts(stack, run_id)}
    assert list(found) == ["a/b/c/deep.txt", "a/notes.md", "big.bin", "empty.txt"]
    assert {path: a["size"] for path, a in found.items()} == {
        "a/b/c/deep.txt": 4,
        "a/notes.md": 7,
        "big.bin": BIG,
        "empty.txt": 0,
    }
    assert found["a/b/c/deep.txt"]["contentType"] == "text/plain"
    assert found["a/notes.md"]["contentType"] == "text/markdown"

    expected = {
        "a/b/c/deep.txt": b"deep",
        "a/notes.md": b"# notes",
        "empty.txt": b"",
        "big.bin": random.Random(7).randbytes(BIG),
    }
    for path, content in expected.items():
        response = await download(found[path]["downloadUrl"])
        assert response.status_code == 200, (path, response.text[:200])
        assert hashlib.sha256(response.content).digest() == hashlib.sha256(content).digest(), path


async def test_artifacts_page_by_path_and_filter_by_prefix(stack: Api) -> None:
    script = (
        "import os, pathlib\n"
        "out = pathlib.Path(os.environ['WALKAI_OUTPUT_DIR'])\n"
        "for n in range(5):\n"
        "    (out / 'ckpt').mkdir(exist_ok=True)\n"
        "    (out / 'ckpt' / f'{n}.pt').write_bytes(bytes(n))\n"
        "(out / 'log.txt').write_text('ok')\n"
    )
    run_id = await submit(stack, script)
    run = await wait_outputs(stack, run_id)
    assert (run["status"], run["outputsStatus"]["status"]) == ("COMPLETED", "UPLOADED")

    paged = await artifacts(stack, run_id, first=2)
    assert [a["path"] for a in paged] == [f"ckpt/{n}.pt" for n in range(5)] + ["log.txt"]
    assert [a["size"] for a in paged] == [0, 1, 2, 3, 4, 2]
    only = await artifacts(stack, run_id, prefix="ckpt/3")
    assert [a["path"] for a in only] == ["ckpt/3.pt"]


async def test_a_run_that_writes_nothing_has_no_artifacts(stack: Api) -> None:
    run_id = await submit(stack, "print('nothing to keep')")
    run = await wait_outputs(stack, run_id)
    assert run["outputsStatus"] == {"status": "UPLOADED", "message": "0 file(s), 0 bytes."}
    assert await artifacts(stack, run_id) == []


async def test_outputs_survive_an_oom_kill(api: Api) -> None:
    script = (
        "import os, signal\n"
        "open(os.environ['WALKAI_OUTPUT_DIR'] + '/partial.ckpt', 'wb').write(b'x' * 1000)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"  # how the simulated kubelet shows an OOM kill
    )
    run_id = await submit(api, script)
    run = await wait_outputs(api, run_id)
    assert (run["status"], run["exitCode"]) == ("FAILED", 137)
    assert run["outputsStatus"]["status"] == "UPLOADED"
    assert [(a["path"], a["size"]) for a in await artifacts(api, run_id)] == [
        ("partial.ckpt", 1000)
    ]
