"""What a container gets from its pod before it starts: environment and volume directories.

Secrets and ConfigMaps are consumed the same three ways (``env[].valueFrom.<kind>KeyRef``,
``envFrom[].<kind>Ref``, ``volumes[].<kind>``); one ``Source`` per kind says where its fields
are and how its data decodes, and every rule below serves both. A missing object or key that is
not ``optional`` raises ``ConfigError`` with the kubelet's message: the container then waits
(CreateContainerConfigError, or FailedMount for volumes) and is retried.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.sim.errors import ApiError
from app.sim.scheduler import pod_devices

_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
_DEFAULT_MODE = 0o644


class ConfigError(Exception):
    """A container cannot be created yet (CreateContainerConfigError)."""


@dataclass(frozen=True)
class Source:
    """A kind whose data pods consume: where each use names it, and how its data decodes."""

    resource: str  # store plural
    kind: str  # as messages name it
    noun: str  # as "not found" messages name it
    volume: str  # volumes[].<volume>
    volume_name: str  # volumes[].<volume>.<volume_name>
    env_from: str  # envFrom[].<env_from>
    key_ref: str  # env[].valueFrom.<key_ref>

    def decode(self, obj: Mapping[str, Any], *, files: bool) -> dict[str, bytes]:
        """The object's keys with their bytes; a ConfigMap's ``binaryData`` only for ``files``
        (volumes): the kubelet builds environment variables from ``data`` alone."""
        if self.resource == "secrets":
            return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
        if files:
            binary = obj.get("binaryData") or {}
            data.update({k: base64.b64decode(v) for k, v in binary.items()})
        return data


SOURCES = (
    Source("secrets", "Secret", "secret", "secret", "secretName", "secretRef", "secretKeyRef"),
    Source("configmaps", "ConfigMap", "configmap", "configMap", "name", "configMapRef",
           "configMapKeyRef"),
)  # fmt: skip


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: unknown references stay, ``$$`` is a literal ``$``."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(sub, text)


def rewrite_paths(text: str, mounts: Mapping[str, str]) -> str:
    """Replace whole path tokens equal to or under a mountPath by the host directory."""
    for mount in sorted(mounts, key=len, reverse=True):
        pattern = r"(?<![\w./-])" + re.escape(mount.rstrip("/")) + r"(?=/|$|[^\w.-])"
        text = re.sub(pattern, mounts[mount].replace("\\", "\\\\"), text)
    return text


class PodConfig:
    """Reads the pod's Secrets and ConfigMaps from the store and lays out its volumes."""

    def __init__(self, store: Any, namespace: str, pod_dir: Path) -> None:
        self.store = store
        self.namespace = namespace
        self.dir = pod_dir
        self.volume_dirs: dict[str, Path] = {}

    def data(
        self, source: Source, name: str, optional: bool | None, *, files: bool = False
    ) -> dict[str, bytes]:
        """The decoded data of one Secret/ConfigMap; {} when missing and optional."""
        try:
            obj = self.store.get(source.resource, self.namespace, name)
        except ApiError as exc:
            if optional:
                return {}
            raise ConfigError(f'{source.noun} "{name}" not found') from exc
        return source.decode(obj, files=files)

    def key(self, source: Source, ref: Mapping[str, Any]) -> bytes | None:
        """One key of one Secret/ConfigMap (``env[].valueFrom``); None when optional and absent."""
        data = self.data(source, ref["name"], ref.get("optional"))
        if ref["key"] in data:
            return data[ref["key"]]
        if ref.get("optional"):
            return None
        raise ConfigError(
            f"couldn't find key {ref['key']} in {source.kind} {self.namespace}/{ref['name']}"
        )

    # --- volumes ------------------------------------------------------------------------------

    def make_volumes(self, pod: Mapping[str, Any]) -> None:
        """One directory per volume (hostPath: the path itself), Secret/ConfigMap keys as files."""
        volumes_dir = self.dir / "volumes"
        volumes_dir.mkdir(parents=True, exist_ok=True)
        self.volume_dirs = {}
        for volume in pod["spec"].get("volumes") or []:
            name = volume["name"]
            if "hostPath" in volume:
                path = Path(volume["hostPath"]["path"])
                path.mkdir(parents=True, exist_ok=True)
                self.volume_dirs[name] = path
                continue
            path = volumes_dir / name
            path.mkdir(parents=True, exist_ok=True)
            self.volume_dirs[name] = path
            files = [source for source in SOURCES if source.volume in volume]
            for source in files:
                self._write_files(source, name, volume[source.volume], path)
            # As the kubelet makes them: an emptyDir (or claim) is writable by whatever user the
            # containers run as, a Secret's or ConfigMap's files readable.
            path.chmod(0o755 if files else 0o777)

    def _write_files(
        self, source: Source, volume: str, spec: Mapping[str, Any], path: Path
    ) -> None:
        ref = str(spec.get(source.volume_name, ""))
        try:
            data = self.data(source, ref, spec.get("optional"), files=True)
        except ConfigError as exc:
            raise ConfigError(f'MountVolume.SetUp failed for volume "{volume}" : {exc}') from exc
        items = spec.get("items") or [{"key": k, "path": k} for k in data]
        default_mode = int(spec.get("defaultMode", _DEFAULT_MODE))
        for item in items:
            if item["key"] not in data:
                if spec.get("optional"):
                    continue
                raise ConfigError(
                    f'MountVolume.SetUp failed for volume "{volume}" : configmap references '
                    f"non-existent config key: {item['key']}"
                    if source.resource == "configmaps"
                    else f'MountVolume.SetUp failed for volume "{volume}" : references '
                    f"non-existent secret key: {item['key']}"
                )
            target = path / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data[item["key"]])
            target.chmod(int(item.get("mode", default_mode)))

    def container_mounts(self, container: Mapping[str, Any]) -> dict[str, str]:
        """``{mountPath: host directory}`` of one container (``subPath`` appended)."""
        mounts = {}
        for mount in container.get("volumeMounts") or []:
            base = self.volume_dirs.get(mount["name"])
            if base is None:
                continue
            host = base / mount["subPath"] if mount.get("subPath") else base
            host.mkdir(parents=True, exist_ok=True)
            mounts[mount["mountPath"].rstrip("/") or "/"] = str(host)
        return mounts

    # --- environment --------------------------------------------------------------------------

    def environment(
        self,
        pod: Mapping[str, Any],
        pod_ip: str,
        container: Mapping[str, Any],
        mounts: Mapping[str, str],
    ) -> dict[str, str]:
        """The process environment: inherited basics, devices, ``envFrom`` then ``env``."""
        env: dict[str, str] = {k: os.environ[k] for k in _INHERITED_ENV if k in os.environ}
        # The interpreter's own bin directory first: the project's console scripts (the
        # sidecar's `walkai-jobs`) are found whether or not the virtualenv is activated.
        env["PATH"] = os.pathsep.join(
            p for p in (str(Path(sys.executable).parent), env.get("PATH", "")) if p
        )
        env["HOSTNAME"] = pod["metadata"]["name"]
        devices = pod_devices(dict(pod))
        if devices:
            env["NVIDIA_VISIBLE_DEVICES"] = ",".join(
                f"MIG-{pod['spec'].get('nodeName')}-gpu{d.gpu}-{d.profile}-{d.start}"
                for d in devices
            )
        env["SIM_VOLUME_MOUNTS"] = json.dumps(mounts)
        for entry in container.get("envFrom") or []:
            prefix = entry.get("prefix", "")
            for source in SOURCES:
                ref = entry.get(source.env_from)
                if ref:
                    for key, raw in self.data(source, ref["name"], ref.get("optional")).items():
                        env[prefix + key] = raw.decode(errors="replace")
        for var in container.get("env") or []:
            value = self._value(pod, pod_ip, var, env, mounts)
            if value is None:  # an optional key that is absent leaves the variable unset
                env.pop(var["name"], None)
            else:
                env[var["name"]] = value
        return env

    def _value(
        self,
        pod: Mapping[str, Any],
        pod_ip: str,
        var: Mapping[str, Any],
        env: Mapping[str, str],
        mounts: Mapping[str, str],
    ) -> str | None:
        if "value" in var:
            return rewrite_paths(expand(str(var["value"]), env), mounts)
        source_ref = var.get("valueFrom") or {}
        if "fieldRef" in source_ref:
            return field_value(pod, pod_ip, source_ref["fieldRef"]["fieldPath"])
        for source in SOURCES:
            if source.key_ref in source_ref:
                value = self.key(source, source_ref[source.key_ref])
                return None if value is None else value.decode(errors="replace")
        return ""


def field_value(pod: Mapping[str, Any], pod_ip: str, path: str) -> str:
    """A ``fieldRef`` (downward API) value."""
    meta, spec = pod["metadata"], pod["spec"]
    simple = {
        "metadata.name": meta["name"],
        "metadata.namespace": meta["namespace"],
        "metadata.uid": meta["uid"],
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": "127.0.0.1",
        "status.hostIPs": "127.0.0.1",
    }
    if path in simple:
        return str(simple[path])
    match = re.match(r"metadata\.(labels|annotations)\['(.+)'\]$", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    return ""
