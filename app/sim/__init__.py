"""A simulated Kubernetes cluster that speaks the real REST API, for tests and `walkai-jobs dev`."""
