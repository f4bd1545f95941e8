"""Allows `python -m app`, the same as the `walkai-jobs` console script."""

from app.cli import main

raise SystemExit(main())
