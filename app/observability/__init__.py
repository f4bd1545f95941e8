"""Operating the API: Prometheus metrics, structured JSON logs with request ids."""
