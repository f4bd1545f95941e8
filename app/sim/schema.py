"""The shape of each kind we serve: field types, list merge keys and patch strategies.

One table serves the type checks of every write (validation) and strategic merge patch, which
must pick a list's merge key by the Go type the list belongs to (Service ports merge by
``port``, container ports by ``containerPort``), never by the field name alone.

A field is written in a compact notation:

- ``str``, ``int``, ``bool``, ``intstr`` (int or string), ``any`` (free-form), ``map`` (string
  to string), ``obj`` (an object whose fields are not described), or a type name of this table;
- ``[]T`` a list of T; ``[]T@key`` a list merged by ``key`` (patchStrategy merge); ``[]str+`` a
  set of scalars merged by value; a trailing ``!`` adds the ``retainKeys`` strategy.

Fields not described are accepted as they are and replaced whole by a patch, as for fields
without a patch strategy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

SCALARS = {"str", "int", "bool", "intstr", "any", "map", "obj"}


@dataclass(frozen=True)
class Field:
    """One field: its element type, whether it is a list, and how a patch merges it."""

    type: str
    is_list: bool = False
    merge_key: str | None = None
    merge_scalars: bool = False
    retain_keys: bool = False


_CONTAINER = {
    "name": "str", "image": "str", "command": "[]str", "args": "[]str", "workingDir": "str",
    "ports": "[]ContainerPort@containerPort", "envFrom": "[]obj", "env": "[]EnvVar@name",
    "resources": "obj", "resizePolicy": "[]obj", "restartPolicy": "str",
    "volumeMounts": "[]obj@mountPath", "volumeDevices": "[]obj@devicePath",
    "livenessProbe": "obj", "readinessProbe": "obj", "startupProbe": "obj", "lifecycle": "obj",
    "terminationMessagePath": "str", "terminationMessagePolicy": "str",
    "imagePullPolicy": "str", "securityContext": "obj", "stdin": "bool", "stdinOnce": "bool",
    "tty": "bool",
}  # fmt: skip

TYPES: dict[str, dict[str, str]] = {
    "ObjectMeta": {
        "name": "str", "generateName": "str", "namespace": "str", "selfLink": "str",
        "uid": "str", "resourceVersion": "str", "generation": "int", "creationTimestamp": "str",
        "deletionTimestamp": "str", "deletionGracePeriodSeconds": "int", "labels": "map",
        "annotations": "map", "ownerReferences": "[]OwnerReference@uid",
        "finalizers": "[]str+", "managedFields": "[]obj",
    },
    "OwnerReference": {
        "apiVersion": "str", "kind": "str", "name": "str", "uid": "str", "controller": "bool",
        "blockOwnerDeletion": "bool",
    },
    "PodTemplateSpec": {"metadata": "ObjectMeta", "spec": "PodSpec"},
    "PodSpec": {
        "volumes": "[]obj@name!", "initContainers": "[]Container@name",
        "containers": "[]Container@name", "ephemeralContainers": "[]Container@name",
        "restartPolicy": "str", "terminationGracePeriodSeconds": "int",
        "activeDeadlineSeconds": "int", "dnsPolicy": "str", "nodeSelector": "map",
        "serviceAccountName": "str", "serviceAccount": "str",
        "automountServiceAccountToken": "bool", "nodeName": "str", "hostNetwork": "bool",
        "hostPID": "bool", "hostIPC": "bool", "shareProcessNamespace": "bool",
        "securityContext": "obj", "imagePullSecrets": "[]obj@name", "hostname": "str",
        "subdomain": "str", "affinity": "obj", "schedulerName": "str", "tolerations": "[]obj",
        "hostAliases": "[]obj@ip", "priorityClassName": "str", "priority": "int",
        "dnsConfig": "obj", "readinessGates": "[]obj", "runtimeClassName": "str",
        "enableServiceLinks": "bool", "preemptionPolicy": "str", "overhead": "obj",
        "topologySpreadConstraints": "[]obj@topologyKey", "setHostnameAsFQDN": "bool",
        "os": "obj", "hostUsers": "bool", "schedulingGates": "[]obj@name",
        "resourceClaims": "[]obj@name!",
    },
    "Container": _CONTAINER,
    "ContainerPort": {
        "name": "str", "hostPort": "int", "containerPort": "int", "protocol": "str",
        "hostIP": "str",
    },
    "EnvVar": {"name": "str", "value": "str", "valueFrom": "obj"},
    "PodStatus": {
        "conditions": "[]obj@type", "podIPs": "[]obj@ip", "hostIPs": "[]obj@ip",
        "phase": "str", "message": "str", "reason": "str", "nominatedNodeName": "str",
        "hostIP": "str", "podIP": "str", "startTime": "str", "qosClass": "str",
    },
    "Pod": {"metadata": "ObjectMeta", "spec": "PodSpec", "status": "PodStatus"},
    "JobSpec": {
        "parallelism": "int", "completions": "int", "activeDeadlineSeconds": "int",
        "podFailurePolicy": "obj", "successPolicy": "obj", "backoffLimit": "int",
        "backoffLimitPerIndex": "int", "maxFailedIndexes": "int", "selector": "obj",
        "manualSelector": "bool", "template": "PodTemplateSpec",
        "ttlSecondsAfterFinished": "int", "completionMode": "str", "suspend": "bool",
        "podReplacementPolicy": "str", "managedBy": "str",
    },
    "JobStatus": {
        "conditions": "[]obj@type", "startTime": "str", "completionTime": "str",
        "active": "int", "succeeded": "int", "failed": "int", "terminating": "int",
        "ready": "int", "completedIndexes": "str", "failedIndexes": "str",
        "uncountedTerminatedPods": "obj",
    },
    "Job": {"metadata": "ObjectMeta", "spec": "JobSpec", "status": "JobStatus"},
    "ServicePort": {
        "name": "str", "protocol": "str", "appProtocol": "str", "port": "int",
        "targetPort": "intstr", "nodePort": "int",
    },
    "ServiceSpec": {
        "ports": "[]ServicePort@port", "selector": "map", "clusterIP": "str",
        "clusterIPs": "[]str", "type": "str", "externalIPs": "[]str", "sessionAffinity": "str",
        "loadBalancerIP": "str", "loadBalancerSourceRanges": "[]str", "externalName": "str",
        "externalTrafficPolicy": "str", "healthCheckNodePort": "int",
        "publishNotReadyAddresses": "bool", "sessionAffinityConfig": "obj",
        "ipFamilies": "[]str", "ipFamilyPolicy": "str", "allocateLoadBalancerNodePorts": "bool",
        "loadBalancerClass": "str", "internalTrafficPolicy": "str", "trafficDistribution": "str",
    },
    "ServiceStatus": {"conditions": "[]obj@type", "loadBalancer": "obj"},
    "Service": {"metadata": "ObjectMeta", "spec": "ServiceSpec", "status": "ServiceStatus"},
    "DeploymentSpec": {
        "replicas": "int", "selector": "obj", "template": "PodTemplateSpec",
        "strategy": "DeploymentStrategy!", "minReadySeconds": "int",
        "revisionHistoryLimit": "int", "paused": "bool", "progressDeadlineSeconds": "int",
    },
    "DeploymentStrategy": {"type": "str", "rollingUpdate": "obj"},
    "Deployment": {
        "metadata": "ObjectMeta", "spec": "DeploymentSpec",
        "status": "ConditionedStatus",
    },
    "ConditionedStatus": {"conditions": "[]obj@type"},
    "NodeSpec": {
        "podCIDR": "str", "podCIDRs": "[]str+", "providerID": "str", "unschedulable": "bool",
        "taints": "[]obj",
    },
    "NodeStatus": {
        "capacity": "obj", "allocatable": "obj", "phase": "str", "conditions": "[]obj@type",
        "addresses": "[]obj@type", "images": "[]obj", "nodeInfo": "obj",
    },
    "Node": {"metadata": "ObjectMeta", "spec": "NodeSpec", "status": "NodeStatus"},
    "Namespace": {"metadata": "ObjectMeta", "spec": "obj", "status": "ConditionedStatus"},
    "PersistentVolumeClaim": {
        "metadata": "ObjectMeta", "spec": "obj", "status": "ConditionedStatus",
    },
    "Secret": {
        "metadata": "ObjectMeta", "data": "map", "stringData": "map", "type": "str",
        "immutable": "bool",
    },
    "ConfigMap": {
        "metadata": "ObjectMeta", "data": "map", "binaryData": "map", "immutable": "bool",
    },
    "ServiceAccount": {
        "metadata": "ObjectMeta", "secrets": "[]obj@name", "imagePullSecrets": "[]obj",
        "automountServiceAccountToken": "bool",
    },
    "Event": {
        "metadata": "ObjectMeta", "involvedObject": "obj", "reason": "str", "message": "str",
        "source": "obj", "firstTimestamp": "str", "lastTimestamp": "str", "count": "int",
        "type": "str", "eventTime": "str", "series": "obj", "action": "str", "related": "obj",
        "reportingComponent": "str", "reportingInstance": "str",
    },
    "PriorityClass": {
        "metadata": "ObjectMeta", "value": "int", "globalDefault": "bool",
        "description": "str", "preemptionPolicy": "str",
    },
    "LeaseSpec": {
        "holderIdentity": "str", "leaseDurationSeconds": "int", "acquireTime": "str",
        "renewTime": "str", "leaseTransitions": "int", "strategy": "str",
        "preferredHolder": "str",
    },
    "Lease": {"metadata": "ObjectMeta", "spec": "LeaseSpec"},
    "Role": {"metadata": "ObjectMeta", "rules": "[]obj"},
    "ClusterRole": {"metadata": "ObjectMeta", "rules": "[]obj", "aggregationRule": "obj"},
    "RoleBinding": {"metadata": "ObjectMeta", "subjects": "[]obj", "roleRef": "obj"},
    "ClusterRoleBinding": {"metadata": "ObjectMeta", "subjects": "[]obj", "roleRef": "obj"},
    "NetworkPolicy": {"metadata": "ObjectMeta", "spec": "obj"},
}  # fmt: skip


@cache
def parse(spec: str) -> Field:
    """`[]Container@name` → Field("Container", is_list=True, merge_key="name")."""
    retain = spec.endswith("!")
    spec = spec.rstrip("!")
    if not spec.startswith("[]"):
        return Field(spec, retain_keys=retain)
    spec = spec[2:]
    if spec.endswith("+"):
        return Field(spec[:-1], is_list=True, merge_scalars=True, retain_keys=retain)
    element, _, key = spec.partition("@")
    return Field(element, is_list=True, merge_key=key or None, retain_keys=retain)


def field_of(type_name: str | None, name: str) -> Field | None:
    """The field `name` of the type `type_name`, if described."""
    if type_name is None:
        return None
    spec = TYPES.get(type_name, {}).get(name)
    return parse(spec) if spec is not None else None


def is_described(type_name: str | None) -> bool:
    """Whether the fields of `type_name` are listed in this table."""
    return type_name in TYPES
