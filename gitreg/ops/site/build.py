"""The static dashboard: `gitreg site -o DIR` (Registry verb, issue 8), and `compare --plot`.

Plain HTML and one CSS file, charts as inline SVG made here: no JavaScript, nothing
loaded from the network, only relative links, so the same files work from file://
and from GitHub Pages. Everything shown comes from the read use cases (list_models, show,
history, lifecycle); every piece of user text goes through html.escape.
"""

from __future__ import annotations

from datetime import timezone
from pathlib import Path
from typing import Any, Mapping

from gitreg.core.stages import Lifecycle
from gitreg.errors import UserError
from gitreg.ops import reads
from gitreg.ops.context import Context
from gitreg.ops.site import charts
from gitreg.ops.site.out_dir import check_out_dir, write_file, write_site
from gitreg.ops.site.pages import render_index, render_model, render_version
from gitreg.ops.site.style import CSS, STYLE_FILE


def site(ctx: Context, out_dir: str | Path, title: str | None = None) -> dict[str, Any]:
    """Write the static dashboard into out_dir; returns what was written.

    title names the registry on its pages (default: the repository directory's name)."""
    out = Path(out_dir).absolute()
    previous = check_out_dir(out, Path(ctx.root))
    lifecycle = ctx.lifecycle()
    listing = reads.list_models(ctx)["models"]
    meta = build_meta(ctx, lifecycle, title)
    pages: dict[str, str] = {STYLE_FILE: CSS, ".nojekyll": ""}
    models = []
    n_versions = 0
    for row in listing:
        name = row["name"]
        try:
            info = reads.show(ctx, name)
        except UserError:
            if row["versions"]:
                raise
            continue  # a model.yaml alone that cannot be read: warned about, not shown
        events = reads.history(ctx, name)["events"]
        models.append((row, info, events))
        base = f"models/{name}"
        pages[f"{base}/index.html"] = render_model(info, events, lifecycle, meta)
        for manifest in info["versions"]:
            n_versions += 1
            pages[f"{base}/{manifest['version']}.html"] = render_version(
                manifest, events, lifecycle, meta)
    pages["index.html"] = render_index(models, lifecycle, meta)
    write_site(out, pages, previous)
    html_pages = sum(1 for p in pages if p.endswith(".html"))
    return {
        "out_dir": str(out),
        "index": str(out / "index.html"),
        "models": len(models),
        "versions": n_versions,
        "pages": html_pages,
    }


def build_meta(ctx: Context, lifecycle: Lifecycle, title: str | None) -> dict[str, str]:
    """What every page's header shows: the registry's title, the build time, commit and branch."""
    built = ctx.clock().astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = ctx.git.head()
    return {
        "title": " ".join((title or "").split()) or Path(ctx.root).resolve().name,
        "built": built,
        "commit": (head or "")[:10],
        "branch": lifecycle.branch,
    }


def write_plot(ctx: Context, compare: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """Write the metric charts of a `compare()` result as one SVG file (compare --plot)."""
    target = Path(path)
    if target.suffix.lower() != ".svg":
        raise UserError(f"cannot plot to {target}: only .svg files are written",
                        "give a file name ending in .svg (convert it with rsvg-convert or a "
                        "browser if you need PNG)")
    if target.is_dir():
        raise UserError(f"{target} is a directory", "give a file name ending in .svg")
    stages = list(ctx.lifecycle().stages)
    text = charts.metrics_figure(str(compare["name"]), list(compare["metrics"]),
                                 list(compare["versions"]), stages=stages)
    try:
        write_file(target, text)
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror or exc}",
                        "check that the path is writable") from None
    return {"path": str(target), "metrics": list(compare["metrics"]),
            "versions": len(compare["versions"])}
