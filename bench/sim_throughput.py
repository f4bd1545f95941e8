"""Simulated cluster throughput: watch events/s to one watcher, pods/log lines/s on one stream.

Run: .venv/bin/python bench/sim_throughput.py [--events N] [--lines N]

The server (store, HTTP, kubelet) runs in this process; the client runs in a child process with
the unmodified kubernetes-asyncio client, as the platform does. Each figure is printed next to a
baseline measured in the same run on the same machine:
- watch: serialising and parsing the same event lines in one process (json.dumps + json.loads),
  i.e. the floor cost of the wire format with no HTTP, store or client around it;
- logs: a bare Starlette/uvicorn chunked stream of the same bytes to the same aiohttp client.
Targets: >= 50,000 watch events/s and >= 100,000 log lines/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WATCH_TARGET = 50_000
PODS = 1000
LOG_TARGET = 100_000


def pod(name: str) -> dict[str, Any]:
    """A pod like the platform's (labels, env, resources, volumes): about 1.5 kB of JSON."""
    return {
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "walkai", "walkai.io/run-id": name,
                       "walkai.io/job-id": "job-1"},
        },
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": "main",
                "image": "registry.example.com/team/trainer:1.4.2",
                "command": ["python", "train.py"],
                "env": [{"name": "WALKAI_RUN_ID", "value": name},
                        {"name": "WALKAI_OUTPUT_DIR", "value": "/walkai/output"},
                        {"name": "WALKAI_INPUT_DIR", "value": "/walkai/input"}],
                "resources": {"limits": {"nvidia.com/mig-1g.10gb": "1"}},
                "volumeMounts": [{"name": "output", "mountPath": "/walkai/output"}],
            }],
            "volumes": [{"name": "output", "emptyDir": {"sizeLimit": "10Gi"}}],
        },
    }  # fmt: skip


# -- client side (child process) ---------------------------------------------------------------


async def watch_client(
    kubeconfig: str, namespace: str, count: int, kind: str, since: str
) -> dict[str, Any]:
    """Consume `count` events from one kubernetes-asyncio watch (from `since`, else a list)."""
    from kubernetes_asyncio import client, config, watch

    configuration = client.Configuration()
    await config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    async with client.ApiClient(configuration) as api:
        lister = (
            client.CoreV1Api(api).list_namespaced_pod
            if kind == "pods"
            else client.CoordinationV1Api(api).list_namespaced_lease
        )
        version = since or (await lister(namespace)).metadata.resource_version

        # Without a return type in its docstring, Watch yields dicts: no model objects per event.
        async def list_pods(**kwargs: Any) -> Any:
            return await lister(namespace, **kwargs)

        seen, started = 0, 0.0
        async with watch.Watch() as stream_owner:
            stream = stream_owner.stream(list_pods, resource_version=version, timeout_seconds=120)
            async for _event in stream:
                if seen == 0:
                    started = time.perf_counter()
                seen += 1
                if seen == count:
                    break
        elapsed = time.perf_counter() - started
    return {"events": seen, "seconds": elapsed, "rate": (seen - 1) / elapsed if elapsed else 0}


async def log_client(url: str, count: int) -> dict[str, Any]:
    """Follow one log stream with kubernetes-asyncio's HTTP stack; count lines until `count`."""
    import aiohttp

    lines, started = 0, 0.0
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200, await response.text()
        async for chunk in response.content.iter_any():
            if lines == 0:
                started = time.perf_counter()
            lines += chunk.count(b"\n")
            if lines >= count:
                break
    elapsed = time.perf_counter() - started
    return {"lines": lines, "seconds": elapsed, "rate": lines / elapsed if elapsed else 0}


async def log_client_k8s(
    kubeconfig: str, namespace: str, pod_name: str, count: int
) -> dict[str, Any]:
    """Follow one pods/log stream through kubernetes-asyncio (`follow=True`, raw response)."""
    from kubernetes_asyncio import client, config

    configuration = client.Configuration()
    await config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    lines, started = 0, 0.0
    async with client.ApiClient(configuration) as api:
        # With _preload_content=False the call returns the aiohttp response, not a str.
        response: Any = await client.CoreV1Api(api).read_namespaced_pod_log(
            pod_name, namespace, follow=True, _preload_content=False
        )
        async for chunk in response.content.iter_any():
            if lines == 0:
                started = time.perf_counter()
            lines += chunk.count(b"\n")
            if lines >= count:
                break
        response.release()
    elapsed = time.perf_counter() - started
    return {"lines": lines, "seconds": elapsed, "rate": lines / elapsed if elapsed else 0}


def child_main(argv: list[str]) -> None:
    role = argv[0]
    if role == "watch":
        result = asyncio.run(watch_client(argv[1], argv[2], int(argv[3]), argv[4], argv[5]))
    elif role == "log":
        result = asyncio.run(log_client_k8s(argv[1], argv[2], argv[3], int(argv[4])))
    else:
        result = asyncio.run(log_client(argv[1], int(argv[2])))
    print(json.dumps(result), flush=True)


async def spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", *args, stdout=asyncio.subprocess.PIPE
    )


async def result_of(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    out, _ = await proc.communicate()
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


# -- server side -------------------------------------------------------------------------------


def watch_baseline(count: int, kind: str) -> float:
    """Events/s for json.dumps + json.loads of the same event lines in one process."""
    from app.sim.store import Store

    store = Store()
    store.create("namespaces", None, {"metadata": {"name": "base"}})
    make = pod if kind == "pods" else lease
    objects = [store.create(kind, "base", make(f"p{i}")) for i in range(1000)]
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    started = time.perf_counter()
    for i in range(count):
        line = '{"type":"ADDED","object":' + dumps(objects[i % 1000]) + "}\n"
        json.loads(line)
    return count / (time.perf_counter() - started)


def lease(name: str) -> dict[str, Any]:
    """A coordination.k8s.io Lease (leader election): about 0.3 kB of JSON."""
    return {"metadata": {"name": name}, "spec": {"holderIdentity": "replica-1",
                                                   "leaseDurationSeconds": 15}}  # fmt: skip


async def produce(store: Any, kind: str, events: int, paced: bool) -> float:
    """A thousand objects, then patches cycling over them (a busy cluster's shape); seconds."""
    make = pod if kind == "pods" else lease
    started = time.perf_counter()
    produced = 0
    while produced < events:
        batch_end = min(produced + 500, events)
        for i in range(produced, batch_end):
            if i < PODS:
                store.create(kind, "bench", make(f"p{i}"))
            else:
                store.mutate(kind, "bench", f"p{i % PODS}",
                             lambda o, i=i: o["spec"].update(step=i))  # fmt: skip
        produced = batch_end
        if paced:  # let the watch stream write; never outrun the watcher's bounded queue
            await asyncio.sleep(0)
            while sum(len(w.pending) for w in store._watchers[kind]) > 20_000:
                await asyncio.sleep(0.001)
    return time.perf_counter() - started


async def watch_run(events: int, kind: str, catch_up: bool) -> tuple[dict[str, Any], float]:
    """Live: writes while one watcher follows. Catch-up: the watcher resumes from before
    the writes (history sized to hold them): the delivery path alone."""
    from app.sim.cluster import SimCluster
    from app.sim.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(history_size=events + PODS) if catch_up else Store()
        cluster = SimCluster(workdir=Path(tmp), controllers=False, store=store)
        await cluster.start()
        store.create("namespaces", None, {"metadata": {"name": "bench"}})
        kubeconfig = str(cluster.write_kubeconfig(Path(tmp) / "config"))
        if catch_up:
            since = str(store.resource_version)
            seconds = await produce(store, kind, events, paced=False)
            proc = await spawn("watch", kubeconfig, "bench", str(events), kind, since)
        else:
            proc = await spawn("watch", kubeconfig, "bench", str(events), kind, "")
            while cluster.stats.open_watches.get(kind, 0) == 0:
                await asyncio.sleep(0.01)
            seconds = await produce(store, kind, events, paced=True)
        result = await result_of(proc)
        await cluster.stop()
    return result, events / seconds


async def bench_watch(events: int, kind: str) -> None:
    live, writes = await watch_run(events, kind, catch_up=False)
    catch_up, _ = await watch_run(events, kind, catch_up=True)
    baseline = watch_baseline(min(events, 100_000), kind)
    size = "pods, ~1.3 kB" if kind == "pods" else "leases, ~0.3 kB"
    print(f"watch: {events} events ({size}) to one kubernetes-asyncio watcher")
    print(f"  live watch           {live['rate']:12,.0f} events/s   (store writes while watched)")
    print(f"  store writes         {writes:12,.0f} events/s   (bounds the live figure)")
    print(f"  catch-up watch       {catch_up['rate']:12,.0f} events/s   (resume from history)")
    print(f"  baseline dumps+loads {baseline:12,.0f} events/s")
    print(f"  ratio live/baseline  {live['rate'] / baseline:12.2f}")
    print(f"  ratio catch-up/base  {catch_up['rate'] / baseline:12.2f}")
    best = max(live["rate"], catch_up["rate"])
    print(f"  target {WATCH_TARGET:,}/s met: live {'yes' if live['rate'] >= WATCH_TARGET else 'NO'}"
          f", delivery path {'yes' if best >= WATCH_TARGET else 'NO'}")  # fmt: skip


async def bench_logs(lines: int) -> None:
    from app.sim.cluster import SimCluster

    with tempfile.TemporaryDirectory() as tmp:
        cluster = SimCluster(workdir=Path(tmp))
        if cluster.controllers is None:
            print("logs: skipped (no kubelet in app.sim.controllers)")
            return
        await cluster.start()
        kubeconfig = str(cluster.write_kubeconfig(Path(tmp) / "config"))
        body = pod("chatty")
        body["spec"]["containers"][0]["command"] = [
            "sh", "-c", f"seq {lines + 1000} | sed 's/$/ a log line of a training step/'",
        ]  # fmt: skip
        cluster.store.create("pods", "default", body)
        while True:  # the container must have started before its log can be followed
            status = cluster.store.get("pods", "default", "chatty").get("status") or {}
            if status.get("containerStatuses") or status.get("phase") in ("Succeeded", "Failed"):
                break
            await asyncio.sleep(0.01)
        proc = await spawn("log", kubeconfig, "default", "chatty", str(lines))
        result = await result_of(proc)
        await cluster.stop()
        sample = b"1234567 a log line of a training step\n"
        baseline = await log_baseline(sample, lines)
    rate = result["rate"]
    print(f"logs: {result['lines']} lines on one followed pods/log stream (kubernetes-asyncio)")
    print(f"  sim pods/log         {rate:12,.0f} lines/s    (target {LOG_TARGET:,})")
    print(f"  baseline bare stream {baseline:12,.0f} lines/s")
    print(f"  ratio sim/baseline   {rate / baseline:12.2f}")
    print(f"  target met: {'yes' if rate >= LOG_TARGET else 'NO'}")


async def log_baseline(line: bytes, lines: int) -> float:
    """A bare Starlette StreamingResponse of the same bytes in 64 kB chunks, same client."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    per_chunk = 65536 // len(line)
    chunk = line * per_chunk

    async def stream() -> Any:
        for _ in range(lines // per_chunk + 2):
            yield chunk
            await asyncio.sleep(0)

    async def endpoint(request: Any) -> StreamingResponse:
        return StreamingResponse(stream(), media_type="text/plain")

    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = Starlette(routes=[Route("/", endpoint)])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    result = await result_of(await spawn("raw", f"http://127.0.0.1:{port}/", str(lines)))
    server.should_exit = True
    await task
    return float(result["rate"])


async def main(events: int, lines: int) -> None:
    await bench_watch(events, "pods")
    await bench_watch(events, "leases")
    await bench_logs(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--events", type=int, default=200_000)
        parser.add_argument("--lines", type=int, default=1_000_000)
        args = parser.parse_args()
        asyncio.run(main(args.events, args.lines))
