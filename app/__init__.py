"""walk:ai Jobs API: the GraphQL control plane for GPU jobs on Kubernetes."""
