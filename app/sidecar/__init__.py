"""A run's own storage access: the run credential, the API's broker for it, and the
`walkai-jobs sidecar` commands (output upload, input fetch) that run inside the run's pod."""
