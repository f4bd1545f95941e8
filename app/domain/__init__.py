"""Pure rules of the platform: no I/O here, so everything is table-tested."""
