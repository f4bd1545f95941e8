"""The `walkai-jobs` command line: one argparse parser, each area registers its subcommands."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """Assemble the parser; each subcommand lives next to the code it drives."""
    from app.sim import cli as sim_cli

    parser = argparse.ArgumentParser(prog="walkai-jobs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sim_cli.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result
