"""site: the static dashboard (HTML + CSS + SVG charts, no JavaScript, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from gitreg.cli.common import JSON_OPTION, command, message, print_json, registry


@command("site")
def site_cmd(
    out_dir: Path = typer.Option(..., "-o", "--output", help="Directory to write the site into (new, empty, or a previous `gitreg site` output)."),
    title: Optional[str] = typer.Option(None, "--title", help="The registry's name on the pages (default: the repository directory's name)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write a static dashboard of the registry: models, versions, metric charts, stage timeline, policy gates."""
    summary = registry().site(out_dir, title=title)
    if as_json:
        print_json(summary)
    message(f"wrote {summary['pages']} pages for {summary['models']} model(s) to "
            f"{summary['out_dir']}; open {summary['index']}")
