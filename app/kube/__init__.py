"""Kubernetes: pure manifests, the client set-up, and one list+watch per kind."""
