"""In-process publish/subscribe between the Kubernetes watch and GraphQL subscriptions."""
