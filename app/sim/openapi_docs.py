"""What `kubectl explain` prints about the types of app.sim.schema: descriptions, required fields.

Keyed by the type names of `schema.TYPES`; the empty key describes the type itself. Only
descriptions, required fields and enum values live here: field names and types come from the
schema table (a test checks that every field named here exists there). Fields without a text
print as `<no description>`.
"""

from __future__ import annotations

CONVENTIONS = "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"

# Fields every kind has, and the usual text of a kind's metadata, spec and status.
KIND_FIELDS = {
    "apiVersion": "The versioned schema of this representation of the object (group/version). "
    f"More info: {CONVENTIONS}#resources",
    "kind": "The REST resource this object represents, in CamelCase. Cannot be updated. "
    f"More info: {CONVENTIONS}#types-kinds",
    "metadata": f"Standard object metadata. More info: {CONVENTIONS}#metadata",
    "spec": f"The desired state of the object. More info: {CONVENTIONS}#spec-and-status",
    "status": "The most recently observed state of the object, written by the system; "
    f"read-only. More info: {CONVENTIONS}#spec-and-status",
}

REQUIRED: dict[str, list[str]] = {
    "JobSpec": ["template"],
    "PodSpec": ["containers"],
    "Container": ["name"],
    "ContainerPort": ["containerPort"],
    "EnvVar": ["name"],
    "ServicePort": ["port"],
    "OwnerReference": ["apiVersion", "kind", "name", "uid"],
    "PriorityClass": ["value"],
    "RoleBinding": ["roleRef"],
    "ClusterRoleBinding": ["roleRef"],
    "Event": ["metadata", "involvedObject"],
}

# The values of string fields declared as enums in the API (published as `enum`; kubectl explain
# lists them).
ENUMS: dict[str, dict[str, list[str]]] = {
    "PodSpec": {
        "restartPolicy": ["Always", "Never", "OnFailure"],
        "dnsPolicy": ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
        "preemptionPolicy": ["Never", "PreemptLowerPriority"],
    },
    "Container": {
        "imagePullPolicy": ["Always", "IfNotPresent", "Never"],
        "terminationMessagePolicy": ["FallbackToLogsOnError", "File"],
    },
    "ContainerPort": {"protocol": ["SCTP", "TCP", "UDP"]},
    "PodStatus": {
        "phase": ["Failed", "Pending", "Running", "Succeeded", "Unknown"],
        "qosClass": ["BestEffort", "Burstable", "Guaranteed"],
    },
    "JobSpec": {
        "completionMode": ["Indexed", "NonIndexed"],
        "podReplacementPolicy": ["Failed", "TerminatingOrFailed"],
    },
    "ServiceSpec": {
        "type": ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        "sessionAffinity": ["ClientIP", "None"],
        "externalTrafficPolicy": ["Cluster", "Local"],
        "internalTrafficPolicy": ["Cluster", "Local"],
        "ipFamilyPolicy": ["PreferDualStack", "RequireDualStack", "SingleStack"],
    },
    "ServicePort": {"protocol": ["SCTP", "TCP", "UDP"]},
    "PriorityClass": {"preemptionPolicy": ["Never", "PreemptLowerPriority"]},
}

DOCS: dict[str, dict[str, str]] = {
    "ObjectMeta": {
        "": "Metadata every persisted object has: its identity, labels, annotations and owners.",
        "name": "Unique name within the namespace (or cluster, for cluster-scoped kinds); "
        "required on create unless generateName is set. Cannot be updated.",
        "generateName": "A prefix from which the server generates a unique name when name is "
        "empty.",
        "namespace": "The namespace the object lives in; empty for cluster-scoped kinds.",
        "selfLink": "Deprecated and no longer set by the server.",
        "uid": "Unique identifier the server assigns on create, never reused. Read-only.",
        "resourceVersion": "Opaque version of this object, changed on every write; used for "
        "optimistic concurrency and watches. Clients must treat it as opaque.",
        "generation": "Sequence number of the desired state, incremented when the spec "
        "changes. Read-only.",
        "creationTimestamp": "When the object was created (RFC 3339, UTC). Read-only.",
        "deletionTimestamp": "When the object will be or was asked to be deleted; set by the "
        "server when a graceful deletion begins. Read-only.",
        "deletionGracePeriodSeconds": "Seconds the object has to terminate before it is "
        "removed, once deletionTimestamp is set. Read-only.",
        "labels": "String keys and values used to organise and select objects.",
        "annotations": "String keys and values that tools store with the object; not used to "
        "select objects.",
        "ownerReferences": "Objects this object depends on; when every owner is gone, the "
        "garbage collector deletes this object.",
        "finalizers": "Keys that must be removed before the object is deleted from storage.",
        "managedFields": "Which manager owns which fields; maintained by the server.",
    },
    "OwnerReference": {
        "": "Identifies an owning object, which must be in the same namespace (or cluster-scoped).",
        "apiVersion": "API version of the owner.",
        "kind": "Kind of the owner.",
        "name": "Name of the owner.",
        "uid": "UID of the owner.",
        "controller": "If true, this owner is the managing controller.",
        "blockOwnerDeletion": "If true, the owner cannot be deleted from storage (foreground "
        "deletion) before this reference is removed.",
    },
    "Job": {
        "": "A Job runs pods until a given number of them complete successfully.",
        "spec": "How the Job runs: its pod template, parallelism, completions and limits.",
        "status": "Pods the Job has started, their outcomes, and the Job's conditions.",
    },
    "JobSpec": {
        "": "JobSpec describes how a Job runs its pods.",
        "parallelism": "The most pods the Job runs at once. Defaults to 1; 0 pauses the Job.",
        "completions": "How many pods must succeed for the Job to complete. Unset means any "
        "success completes it once all pods end.",
        "activeDeadlineSeconds": "Seconds, counted from the Job's start, after which its pods "
        "are stopped and it fails with reason DeadlineExceeded.",
        "podFailurePolicy": "Rules deciding, from exit codes and pod conditions, whether a "
        "failed pod fails the Job, is ignored, or counts toward backoffLimit.",
        "successPolicy": "Rules under which an Indexed Job is declared succeeded before all "
        "indexes finish.",
        "backoffLimit": "Retries before the Job is marked failed. Defaults to 6.",
        "backoffLimitPerIndex": "Retries allowed per index of an Indexed Job.",
        "maxFailedIndexes": "Failed indexes after which an Indexed Job fails as a whole.",
        "selector": "Label query over the pods the Job counts; normally set by the system.",
        "manualSelector": "If true, the selector is taken as written instead of being "
        "generated from the Job's uid.",
        "template": "The pod the Job creates for each attempt. Its restartPolicy must be Never "
        "or OnFailure.",
        "ttlSecondsAfterFinished": "Seconds after the Job finishes (Complete or Failed) after "
        "which it is deleted with its pods. Unset keeps it.",
        "completionMode": "NonIndexed (default): completions are interchangeable. Indexed: "
        "each pod gets an index from 0 to completions-1.",
        "suspend": "If true, the Job's pods are stopped and no new ones start until it is "
        "resumed; its activeDeadlineSeconds timer restarts on resume.",
        "podReplacementPolicy": "When a replacement pod starts: TerminatingOrFailed (once the "
        "old pod is terminating) or Failed (once it has fully failed).",
        "managedBy": "The controller that reconciles this Job; empty for the built-in one.",
    },
    "JobStatus": {
        "": "The observed state of a Job.",
        "conditions": "The Job's latest observations: Suspended, Complete, Failed and others.",
        "startTime": "When the Job controller started the Job (or last resumed it).",
        "completionTime": "When the Job completed; set only on success.",
        "active": "Pods pending or running.",
        "succeeded": "Pods that reached phase Succeeded.",
        "failed": "Pods that reached phase Failed.",
        "terminating": "Pods that are terminating (have a deletionTimestamp).",
        "ready": "Active pods with the Ready condition.",
        "completedIndexes": "Completed indexes of an Indexed Job, as a range list like 1,3-5.",
        "failedIndexes": "Failed indexes of an Indexed Job with backoffLimitPerIndex.",
        "uncountedTerminatedPods": "UIDs of finished pods not yet counted in the status.",
    },
    "PodTemplateSpec": {
        "": "The pods a controller creates from this template.",
        "metadata": "Metadata given to each pod: labels, annotations.",
        "spec": "The pod's specification.",
    },
    "Pod": {
        "": "A Pod is a group of containers scheduled together onto a node.",
        "spec": "The pod's containers, volumes and scheduling constraints.",
        "status": "The pod's phase, conditions and container states; may lag behind.",
    },
    "PodSpec": {
        "": "PodSpec is the description of a pod.",
        "volumes": "Volumes that containers of the pod can mount.",
        "initContainers": "Containers run to completion, one after another, before the app "
        "containers start; a failure restarts the pod according to restartPolicy.",
        "containers": "The pod's containers. At least one is required; they cannot be added "
        "or removed once the pod exists.",
        "ephemeralContainers": "Containers added to a running pod for debugging.",
        "restartPolicy": "Restart policy of every container: Always, OnFailure or Never. "
        "Default Always.",
        "terminationGracePeriodSeconds": "Seconds the pod has to stop after SIGTERM before it "
        "is killed. Default 30.",
        "activeDeadlineSeconds": "Seconds the pod may be active, from its start, before the "
        "system stops it.",
        "dnsPolicy": "How the pod's DNS is set: ClusterFirst (default), Default, None or "
        "ClusterFirstWithHostNet.",
        "nodeSelector": "Labels a node must have for the pod to be scheduled onto it.",
        "serviceAccountName": "The service account the pod runs as.",
        "serviceAccount": "Deprecated alias of serviceAccountName.",
        "automountServiceAccountToken": "Whether a service account token is mounted.",
        "nodeName": "The node the pod is bound to; set by the scheduler, or directly to skip it.",
        "hostNetwork": "Use the node's network namespace.",
        "hostPID": "Use the node's process namespace.",
        "hostIPC": "Use the node's IPC namespace.",
        "shareProcessNamespace": "Share one process namespace among the pod's containers.",
        "securityContext": "Pod-level security attributes and common container settings.",
        "imagePullSecrets": "Secrets in the same namespace used to pull the images.",
        "hostname": "The pod's hostname; defaults to its name.",
        "subdomain": "The pod's subdomain, making it <hostname>.<subdomain>.<namespace>.svc.",
        "affinity": "Node and pod affinity and anti-affinity scheduling constraints.",
        "schedulerName": "The scheduler that places the pod; default-scheduler if empty.",
        "tolerations": "Node taints the pod tolerates.",
        "hostAliases": "Extra entries for the pod's /etc/hosts.",
        "priorityClassName": "The PriorityClass giving the pod its priority; the default class "
        "(or 0) when empty.",
        "priority": "The pod's priority, filled in from priorityClassName on create.",
        "dnsConfig": "DNS parameters merged into those dnsPolicy generates.",
        "readinessGates": "Extra conditions that must hold for the pod to be ready.",
        "runtimeClassName": "The RuntimeClass used to run the pod.",
        "enableServiceLinks": "Whether service environment variables are injected. Default true.",
        "preemptionPolicy": "Whether the pod may preempt lower-priority pods: "
        "PreemptLowerPriority (default) or Never.",
        "overhead": "Resources the pod's sandbox uses beyond its containers.",
        "topologySpreadConstraints": "How the pods of a group spread across topology domains.",
        "setHostnameAsFQDN": "Use the pod's fully qualified domain name as its hostname.",
        "os": "The operating system the pod's containers need.",
        "hostUsers": "Use the node's user namespace. Default true.",
        "schedulingGates": "While any gate remains, the pod is not scheduled.",
        "resourceClaims": "Dynamic resources the pod claims (DRA).",
    },
    "PodStatus": {
        "": "The observed state of a pod.",
        "conditions": "PodScheduled, Initialized, ContainersReady, Ready and other conditions.",
        "phase": "Pending, Running, Succeeded, Failed or Unknown.",
        "message": "Why the pod is in this state, for humans.",
        "reason": "Why the pod is in this state, in CamelCase (e.g. Evicted).",
        "nominatedNodeName": "The node a preempting pod is expected to run on.",
        "hostIP": "The IP of the node the pod is on.",
        "hostIPs": "The IPs of the node the pod is on.",
        "podIP": "The pod's IP address.",
        "podIPs": "The pod's IP addresses.",
        "startTime": "When the kubelet acknowledged the pod.",
        "qosClass": "Guaranteed, Burstable or BestEffort, from the resource requests.",
    },
    "Container": {
        "": "A single application container run within a pod.",
        "name": "Name of the container, unique within the pod (a DNS label). Cannot be updated.",
        "image": "Container image name.",
        "command": "The entrypoint, not run in a shell; the image's ENTRYPOINT if empty. "
        "$(VAR) references to the container's environment are expanded.",
        "args": "Arguments to the entrypoint; the image's CMD if empty. $(VAR) references are "
        "expanded.",
        "workingDir": "The container's working directory; the image's if empty.",
        "ports": "Ports the container exposes; informational, listing them does not publish them.",
        "envFrom": "Sources (ConfigMaps, Secrets) whose keys become environment variables.",
        "env": "Environment variables set in the container.",
        "resources": "Compute resources the container requests and may not exceed.",
        "resizePolicy": "How each resource may be resized in place.",
        "restartPolicy": "Only Always, on an init container: it then runs for the pod's life "
        "(a sidecar).",
        "volumeMounts": "Volumes of the pod mounted into the container's filesystem.",
        "volumeDevices": "Block devices the container uses.",
        "livenessProbe": "Probe whose failures restart the container.",
        "readinessProbe": "Probe whose failures remove the pod from service endpoints.",
        "startupProbe": "Probe that must succeed before the other probes run.",
        "lifecycle": "Actions run after the container starts and before it stops.",
        "terminationMessagePath": "File whose contents become the container's termination "
        "message. Default /dev/termination-log.",
        "terminationMessagePolicy": "File (default) or FallbackToLogsOnError: use the log tail "
        "when the file is empty and the container failed.",
        "imagePullPolicy": "Always, Never or IfNotPresent. Defaults to Always for :latest "
        "images, IfNotPresent otherwise.",
        "securityContext": "Security options the container runs with.",
        "stdin": "Allocate a stdin buffer for the container.",
        "stdinOnce": "Close stdin after the first attach ends.",
        "tty": "Allocate a TTY (needs stdin).",
    },
    "ContainerPort": {
        "": "A network port in a single container.",
        "name": "An IANA_SVC_NAME, unique within the pod, that services can refer to.",
        "hostPort": "Port to expose on the host; rarely needed.",
        "containerPort": "Port number on the pod's IP address (1-65535).",
        "protocol": "UDP, TCP or SCTP. Default TCP.",
        "hostIP": "Host IP to bind the host port to.",
    },
    "EnvVar": {
        "": "An environment variable of a container.",
        "name": "Name of the variable.",
        "value": "Value; $(VAR) references to earlier variables are expanded. Default empty.",
        "valueFrom": "Where the value comes from (a Secret or ConfigMap key, a field of the "
        "pod, a resource); cannot be set together with value.",
    },
    "Service": {
        "": "A Service gives a set of pods, chosen by a selector, one stable address and ports.",
        "spec": "The service's ports, selector and type.",
        "status": "The service's load balancer and conditions.",
    },
    "ServiceSpec": {
        "": "ServiceSpec describes the attributes a user creates on a service.",
        "ports": "The ports the service exposes.",
        "selector": "Pods with these labels receive the traffic. Ignored for ExternalName.",
        "clusterIP": "The service's IP address, allocated if empty; None makes it headless.",
        "clusterIPs": "The service's IP addresses, one per IP family.",
        "type": "ClusterIP (default), NodePort, LoadBalancer or ExternalName.",
        "externalIPs": "IPs for which nodes also accept traffic for this service.",
        "sessionAffinity": "ClientIP keeps a client on one pod; None (default) does not.",
        "loadBalancerIP": "Deprecated: an IP asked of the load balancer.",
        "loadBalancerSourceRanges": "Client CIDRs the load balancer admits.",
        "externalName": "The DNS name an ExternalName service aliases.",
        "externalTrafficPolicy": "Cluster (default) or Local: how external traffic is routed.",
        "healthCheckNodePort": "Health check port of a LoadBalancer service with Local policy.",
        "publishNotReadyAddresses": "Publish addresses of pods that are not ready.",
        "sessionAffinityConfig": "Settings of the session affinity.",
        "ipFamilies": "IPv4, IPv6 or both, in order of preference.",
        "ipFamilyPolicy": "SingleStack, PreferDualStack or RequireDualStack.",
        "allocateLoadBalancerNodePorts": "Whether a LoadBalancer service gets node ports. "
        "Default true.",
        "loadBalancerClass": "The load balancer implementation that serves this service.",
        "internalTrafficPolicy": "Cluster (default) or Local: how in-cluster traffic is routed.",
        "trafficDistribution": "A preference for how traffic is spread over endpoints.",
    },
    "ServicePort": {
        "": "One port a service exposes.",
        "name": "Name of the port, unique within the service; required when there are several.",
        "protocol": "TCP, UDP or SCTP. Default TCP.",
        "appProtocol": "The application protocol, e.g. http or kubernetes.io/h2c.",
        "port": "The port the service exposes.",
        "targetPort": "The port (number or named container port) on the pods; defaults to port.",
        "nodePort": "The port on every node for NodePort and LoadBalancer services; allocated "
        "if empty.",
    },
    "ServiceStatus": {
        "": "The observed state of a service.",
        "conditions": "The service's current conditions.",
        "loadBalancer": "The load balancer's ingress points, if any.",
    },
    "Deployment": {"": "A Deployment keeps a number of replicas of a pod template running."},
    "DeploymentSpec": {
        "": "The desired behaviour of a Deployment.",
        "replicas": "Number of desired pods. Default 1.",
        "template": "The pods the Deployment creates.",
        "strategy": "How existing pods are replaced by new ones.",
        "selector": "Label query over the pods the Deployment manages; must match the "
        "template's labels. Cannot be updated.",
        "minReadySeconds": "Seconds a new pod must be ready, without crashing, to count as "
        "available. Default 0.",
        "revisionHistoryLimit": "Old ReplicaSets kept to allow rollback. Default 10.",
        "paused": "If true, changes to the template do not roll out.",
        "progressDeadlineSeconds": "Seconds a rollout may make no progress before it is "
        "reported failed. Default 600.",
    },
    "DeploymentStrategy": {
        "": "How a Deployment replaces pods: Recreate or RollingUpdate.",
        "type": "Recreate or RollingUpdate (default).",
        "rollingUpdate": "How many pods may be unavailable or extra during a rolling update.",
    },
    "ConditionedStatus": {
        "": "The observed state of the object, as conditions.",
        "conditions": "The latest observations of the object's state.",
    },
    "Node": {"": "A Node is a machine pods run on; the simulated cluster's carry MIG GPUs."},
    "NodeSpec": {
        "": "How a node is configured.",
        "podCIDR": "The pod IP range assigned to the node.",
        "podCIDRs": "The pod IP ranges assigned to the node, one per IP family.",
        "providerID": "The node's ID in its cloud provider.",
        "unschedulable": "If true, no new pod is scheduled onto the node (cordoned).",
        "taints": "Taints that repel pods which do not tolerate them.",
    },
    "NodeStatus": {
        "": "The observed state of a node: capacity, allocatable, conditions.",
        "capacity": "The node's total resources (cpu, memory, GPUs and MIG slices).",
        "allocatable": "The resources available to pods.",
        "phase": "Deprecated: the node's lifecycle phase.",
        "conditions": "Ready, MemoryPressure, DiskPressure and other conditions.",
        "addresses": "The node's addresses (hostname, internal IP).",
        "images": "Container images on the node.",
        "nodeInfo": "Versions and identifiers of the node's software.",
    },
    "Namespace": {"": "A Namespace scopes names and policies for the objects in it."},
    "PersistentVolumeClaim": {"": "A user's request for, and claim to, a persistent volume."},
    "Secret": {
        "": "Secret holds a small amount of sensitive data, such as a password or a token.",
        "data": "Keys and base64-encoded values.",
        "stringData": "Keys and plain-text values, merged into data on write; never read back.",
        "type": "Used to handle the secret's data programmatically. Default Opaque.",
        "immutable": "If true, data cannot be changed after creation.",
    },
    "ConfigMap": {
        "": "ConfigMap holds configuration data for pods to consume.",
        "data": "Keys and UTF-8 values.",
        "binaryData": "Keys and base64-encoded binary values.",
        "immutable": "If true, data cannot be changed after creation.",
    },
    "ServiceAccount": {
        "": "An identity for processes that run in pods.",
        "secrets": "Secrets pods of this service account may use.",
        "imagePullSecrets": "Secrets added to the pods of this service account to pull images.",
        "automountServiceAccountToken": "Whether pods mount a token of this account by default.",
    },
    "Event": {
        "": "A report of something that happened in the cluster, about one object.",
        "involvedObject": "The object the event is about.",
        "reason": "Why the event happened, in CamelCase (e.g. Scheduled, BackOff).",
        "message": "What happened, for humans.",
        "source": "The component that reported the event.",
        "firstTimestamp": "When the event was first recorded.",
        "lastTimestamp": "When the event was most recently recorded.",
        "count": "How many times the event happened.",
        "type": "Normal or Warning.",
        "eventTime": "When the event first happened, with microseconds.",
        "series": "Data about an event series, if this event is one.",
        "action": "What the reporting component did or failed to do.",
        "related": "A second object involved, if any.",
        "reportingComponent": "The controller that emitted the event.",
        "reportingInstance": "The instance of that controller.",
    },
    "PriorityClass": {
        "": "PriorityClass maps a class name to the integer priority pods of that class get.",
        "value": "The priority; higher values are scheduled first and may preempt lower ones.",
        "globalDefault": "Whether pods without a priorityClassName get this class.",
        "description": "When to use this class.",
        "preemptionPolicy": "PreemptLowerPriority (default) or Never.",
    },
    "Lease": {"": "A Lease records who holds a lock, for leader election among others."},
    "LeaseSpec": {
        "": "The holder of a lease and its timing.",
        "holderIdentity": "Who holds the lease.",
        "leaseDurationSeconds": "Seconds candidates wait after renewTime before taking over.",
        "acquireTime": "When the current holder acquired the lease.",
        "renewTime": "When the current holder last renewed the lease.",
        "leaseTransitions": "How many times the holder changed.",
        "strategy": "How the next holder is chosen in coordinated leader election.",
        "preferredHolder": "The holder the coordinator wants to take over.",
    },
    "Role": {
        "": "A namespaced set of permission rules, bound to subjects by a RoleBinding.",
        "rules": "The verbs allowed on resources (or non-resource URLs).",
    },
    "ClusterRole": {
        "": "A cluster-wide set of permission rules.",
        "rules": "The verbs allowed on resources (or non-resource URLs).",
        "aggregationRule": "Selects ClusterRoles whose rules are aggregated into this one.",
    },
    "RoleBinding": {
        "": "Grants a Role's or ClusterRole's permissions within a namespace.",
        "subjects": "The users, groups or service accounts granted the role.",
        "roleRef": "The Role or ClusterRole granted. Cannot be updated.",
    },
    "ClusterRoleBinding": {
        "": "Grants a ClusterRole's permissions cluster-wide.",
        "subjects": "The users, groups or service accounts granted the role.",
        "roleRef": "The ClusterRole granted. Cannot be updated.",
    },
    "NetworkPolicy": {"": "Which network traffic is allowed to and from a set of pods."},
}
