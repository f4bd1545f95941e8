"""GraphiQL without a CDN: the IDE's JavaScript and CSS are served by the API itself.

Strawberry's GraphiQL page loads React, GraphiQL and its explorer plugin from unpkg. Machines
that cannot reach it (air-gapped clusters, offline laptops, CI) would get a blank page, so the
same files, at the same versions, are vendored at build time from npm (`package.json` here,
`python -m app.graphiql vendor`) into `static/`, and the page's URLs are rewritten to point at
the app. The page keeps Strawberry's subresource-integrity hashes, so the browser itself checks
that the vendored files are byte for byte the ones Strawberry pinned. Without vendored files the
page is served unchanged (loading from the CDN).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from strawberry.http.ides import get_graphql_ide_html

from app.graphiql.guide import Guide

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
MOUNT = "/graphiql"
# Where Strawberry's page picks its initial document, variables and headers.
_GUIDE_SLOTS = (
    ("parameters.q || EXAMPLE_QUERY", "parameters.q || GUIDE_QUERY"),
    ("parameters.variables,", "parameters.variables || GUIDE_VARIABLES,"),
    ("React.useState(parameters.headers)", "React.useState(parameters.headers || GUIDE_HEADERS)"),
)
_CDN = re.compile(r"https://unpkg\.com/(?P<name>@?[^@\"]+)@(?P<version>[^/\"]+)/(?P<path>[^\"]+)")


@dataclass(frozen=True)
class Asset:
    """One file the page loads: npm package, version, and path inside the package."""

    name: str
    version: str
    path: str

    @property
    def relative(self) -> Path:
        """Where it is kept under `static/`."""
        return Path(f"{self.name}@{self.version}") / self.path


def assets(html: str | None = None) -> list[Asset]:
    """The files Strawberry's GraphiQL page loads from the CDN."""
    page = html if html is not None else get_graphql_ide_html(graphql_ide="graphiql")
    return [Asset(m["name"], m["version"], m["path"]) for m in _CDN.finditer(page)]


def vendored(static: Path = STATIC) -> bool:
    """Whether every asset of the page is present under `static/`."""
    return all((static / asset.relative).is_file() for asset in assets())


def offline_page(prefix: str = MOUNT, static: Path = STATIC, guide: Guide | None = None) -> str:
    """Strawberry's GraphiQL page, loading its assets from this app when they are vendored, and
    opening with `guide`'s document (and headers) when given."""
    page = get_graphql_ide_html(graphql_ide="graphiql")
    if guide is not None:
        page = with_guide(page, guide)
    if not vendored(static):
        return page
    return _CDN.sub(lambda m: f"{prefix}/static/{m['name']}@{m['version']}/{m['path']}", page)


def with_guide(page: str, guide: Guide) -> str:
    """The page opening with the guide's document, variables and headers instead of
    Strawberry's welcome text (a shared link's own `?q=` still wins)."""
    values = {
        "GUIDE_QUERY": guide.query,
        "GUIDE_VARIABLES": guide.variables,
        "GUIDE_HEADERS": guide.headers,
    }
    defaults = "".join(f"const {name} = {_js(value)};\n" for name, value in values.items())
    page = page.replace("<script>\n", f"<script>\n{defaults}", 1)
    for old, new in _GUIDE_SLOTS:
        page = page.replace(old, new, 1)
    return page


def _js(value: str | None) -> str:
    """A JavaScript literal that cannot end the inline script it is written into."""
    return json.dumps(value).replace("</", "<\\/")


def routes(static: Path = STATIC) -> list[Mount]:
    """The static files' route; files vendored after the app started are served too."""
    files = StaticFiles(directory=static, check_dir=False)
    return [Mount(f"{MOUNT}/static", app=files, name="graphiql")]


def vendor(node_modules: Path = HERE / "node_modules", static: Path = STATIC) -> list[Path]:
    """Copy the page's assets from an npm install into `static/`; fails on a version mismatch."""
    copied = []
    for asset in assets():
        package = node_modules / asset.name
        installed = json.loads((package / "package.json").read_text())["version"]
        if installed != asset.version:
            raise SystemExit(
                f"Strawberry's GraphiQL wants {asset.name}@{asset.version} but npm installed "
                f"{installed}: pin {asset.version} in {HERE / 'package.json'} and run npm install"
            )
        target = static / asset.relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(package / asset.path, target)
        copied.append(target)
    return copied


def main(argv: list[str]) -> int:
    """`python -m app.graphiql vendor [NODE_MODULES]`: copy the assets into static/, from
    NODE_MODULES (e.g. a Docker build stage's) or from an `npm ci` run here."""
    if not argv or argv[0] != "vendor" or len(argv) > 2:
        print("usage: python -m app.graphiql vendor [NODE_MODULES]", file=sys.stderr)
        return 2
    if len(argv) == 2:
        node_modules = Path(argv[1])
    else:
        npm = ["npm", "ci", "--no-audit", "--no-fund", "--silent"]
        subprocess.run(npm, cwd=HERE, check=True)
        node_modules = HERE / "node_modules"
    for path in vendor(node_modules):
        print(f"vendored {path.relative_to(HERE)}")
    return 0
