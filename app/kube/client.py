"""Connecting to Kubernetes with kubernetes-asyncio: a kubeconfig."""

from __future__ import annotations

import os
from pathlib import Path

from kubernetes_asyncio import client, config


async def connect(kubeconfig: Path | None = None, context: str | None = None) -> client.ApiClient:
    """An ApiClient for the given kubeconfig, else in-cluster credentials, else ~/.kube/config."""
    configuration = client.Configuration()
    if kubeconfig is not None:
        await config.load_kube_config(
            config_file=str(kubeconfig), context=context, client_configuration=configuration
        )
    elif "KUBERNETES_SERVICE_HOST" in os.environ:
        config.load_incluster_config(client_configuration=configuration)
    else:
        await config.load_kube_config(context=context, client_configuration=configuration)
    return client.ApiClient(configuration=configuration)
