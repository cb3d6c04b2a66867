"""The static dashboard: `gitreg site -o DIR` (Registry verb, issue 8).

Plain HTML and one CSS file, charts as inline SVG made here: no JavaScript, nothing
loaded from the network, only relative links, so the same files work from file://
and from GitHub Pages. Everything shown comes from the read API (list_models, show,
history, lifecycle); every piece of user text goes through html.escape.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence
from urllib.parse import quote

from gitreg import yamlio
from gitreg.core.names import NONE_STAGE
from gitreg.core.version import parse_version
from gitreg.errors import UserError
from gitreg.ops.site import charts

if TYPE_CHECKING:
    from gitreg.api import Registry

MARKER = ".gitreg-site"  # lists the files a build wrote; lets a rebuild reuse the directory
GENERATOR = '<meta name="generator" content="gitreg site">'  # in every page: what a rebuild may remove
STYLE_FILE = "style.css"
RECENT_EVENTS = 8  # the index's activity feed, across models (ordered by time, then seq)

_VERBS = {
    "register": "registered", "request": "requested", "approve": "approved",
    "reject": "rejected", "promote": "promoted", "archive": "archived",
    "rollback": "rolled back",
}


def site(reg: Registry, out_dir: str | Path, title: str | None = None) -> dict[str, Any]:
    """Write the static dashboard into out_dir; returns what was written.

    title names the registry on its pages (default: the repository directory's name)."""
    out = Path(out_dir).absolute()
    previous = _check_out_dir(out, Path(reg.root))
    lifecycle = reg.lifecycle()
    listing = reg.list_models()["models"]
    built = reg.clock().astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = reg.git.head()
    meta = {
        "title": " ".join((title or "").split()) or Path(reg.root).resolve().name,
        "built": built,
        "commit": (head or "")[:10],
        "branch": lifecycle.branch,
    }
    pages: dict[str, str] = {STYLE_FILE: CSS, ".nojekyll": ""}
    models = []
    n_versions = 0
    for row in listing:
        name = row["name"]
        info = reg.show(name)
        events = reg.history(name)["events"]
        models.append((row, info, events))
        base = f"models/{name}"
        pages[f"{base}/index.html"] = render_model(info, events, lifecycle, meta)
        for manifest in info["versions"]:
            n_versions += 1
            pages[f"{base}/{manifest['version']}.html"] = render_version(
                manifest, events, lifecycle, meta)
    pages["index.html"] = render_index(models, lifecycle, meta)
    _write_site(out, pages, previous)
    html_pages = sum(1 for p in pages if p.endswith(".html"))
    return {
        "out_dir": str(out),
        "index": str(out / "index.html"),
        "models": len(models),
        "versions": n_versions,
        "pages": html_pages,
    }


def write_plot(reg: Registry, compare: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """Write the metric charts of a `compare()` result as one SVG file (compare --plot)."""
    target = Path(path)
    if target.suffix.lower() != ".svg":
        raise UserError(f"cannot plot to {target}: only .svg files are written",
                        "give a file name ending in .svg (convert it with rsvg-convert or a "
                        "browser if you need PNG)")
    if target.is_dir():
        raise UserError(f"{target} is a directory", "give a file name ending in .svg")
    stages = list(reg.lifecycle().stages)
    text = charts.metrics_figure(str(compare["name"]), list(compare["metrics"]),
                                 list(compare["versions"]), stages=stages)
    try:
        _write(target, text)
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror or exc}",
                        "check that the path is writable") from None
    return {"path": str(target), "metrics": list(compare["metrics"]),
            "versions": len(compare["versions"])}


# -- the output directory ---------------------------------------------------------------
# A committed output directory is untrusted input (pages.yml runs `gitreg site -o _site` on
# whatever a push contains, issue 11): links in it are never followed, the marker only names
# candidates, and a stale file is removed only if it is a regular file that carries GENERATOR.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted as a page never blocks the build
MAX_MARKER_BYTES = 1024 * 1024
_LINK_HINT = ("remove the link; gitreg site never writes through links in its output "
              "directory (a committed site directory is untrusted), or give a new directory")


def _check_out_dir(out: Path, root: Path) -> list[str]:
    """Refuse directories gitreg did not write; return the files the previous build wrote."""
    resolved = out.resolve()
    git_dir = (root / ".git").resolve()
    if resolved == git_dir or git_dir in resolved.parents:
        raise UserError(f"{out} is inside .git", "write the site somewhere else, e.g. -o _site")
    if resolved == root.resolve() or resolved in root.resolve().parents:
        raise UserError(f"{out} contains the registry itself",
                        "write the site into a new directory, e.g. -o _site")
    _refuse_links_in_repo(out, root)
    if not out.exists():
        return []
    if not out.is_dir():
        raise UserError(f"{out} is a file", "give a directory for the site, e.g. -o _site")
    files = _read_marker(out)
    if files is not None:
        return files
    if any(out.iterdir()):
        raise UserError(f"{out} is not empty and was not written by `gitreg site`",
                        "give a new or empty directory, so none of your files are overwritten")
    return []


def _refuse_links_in_repo(out: Path, root: Path) -> None:
    """Inside the repository, the output directory and every directory above it up to the
    root must be real directories: a committed `_site -> ~` is the repository's doing.
    Outside it, the path is the user's own, and a link they typed is theirs to follow."""
    target = Path(os.path.abspath(out))
    for top in dict.fromkeys((Path(os.path.abspath(root)), root.resolve())):
        try:
            rel = target.relative_to(top)
        except ValueError:
            continue
        cur = top
        for part in rel.parts:
            cur = cur / part
            if cur.is_symlink():
                raise UserError(f"{cur} is a symbolic link inside the repository; refusing to "
                                "write the site through it", _LINK_HINT)
        return


def _read_marker(out: Path) -> list[str] | None:
    """The previous build's file list, or None when there is no (regular, small) marker."""
    try:
        fd = os.open(out / MARKER, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except OSError:
        return None  # missing, a link, or unreadable: not a site gitreg built
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MARKER_BYTES:
            return None
        raw = os.read(fd, MAX_MARKER_BYTES)
    finally:
        os.close(fd)
    try:
        files = json.loads(raw.decode("utf-8")).get("files", [])
    except (ValueError, AttributeError):
        files = []
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


def _write_site(out: Path, pages: Mapping[str, str], previous: Sequence[str]) -> None:
    for rel in pages:  # names come from validated model names and versions; never trust a tampered one
        if not _relative_inside(rel):
            raise UserError(f"refusing to write {rel!r} outside the site directory",
                            "run `gitreg validate` and fix the manifest named there")
    rel = ""
    try:
        out.mkdir(parents=True, exist_ok=True)
        top = os.open(out, os.O_RDONLY | _DIRECTORY)  # vetted by _check_out_dir
    except OSError as exc:
        raise UserError(f"cannot write the site to {out}: {exc.strerror or exc}",
                        "check the directory's permissions and free space") from None
    try:
        _refuse_links_on_the_way(out, [*pages, MARKER])  # before anything is written
        for rel, text in pages.items():
            _write_at(top, rel, text)
        for rel in previous:  # pages of a previous build that this one did not write
            if rel not in pages and _relative_inside(rel):
                _remove_stale(top, rel)
        rel = MARKER
        _write_at(top, MARKER, json.dumps({"generator": "gitreg site",
                                           "files": sorted(pages)}, indent=1) + "\n")
    except OSError as exc:
        where = out / rel if rel else out
        raise UserError(f"cannot write the site to {where}: {exc.strerror or exc}",
                        "check the directory's permissions and free space") from None
    finally:
        os.close(top)


def _refuse_links_on_the_way(out: Path, rels: Iterable[str]) -> None:
    """One clear refusal for a link (or a file where a directory goes) in the output tree."""
    for rel in rels:
        cur = out
        parts = rel.split("/")
        for i, part in enumerate(parts):
            cur = cur / part
            try:
                mode = os.lstat(cur).st_mode
            except FileNotFoundError:
                break
            if stat.S_ISLNK(mode):
                raise UserError(f"{cur} is a symbolic link; refusing to write the site through it",
                                _LINK_HINT)
            last = i == len(parts) - 1
            if not last and not stat.S_ISDIR(mode):
                raise UserError(f"{cur} is in the way of the site's {rel}: not a directory",
                                "remove it, or give a new directory for the site")
            if last and not stat.S_ISREG(mode):
                raise UserError(f"{cur} is in the way of the site's {rel}: not a regular file",
                                "remove it, or give a new directory for the site")


def _open_parent(top: int, rel: str, create: bool) -> tuple[int, str]:
    """(an fd of rel's directory, rel's last name), walking down without following links."""
    parts = rel.split("/")
    fd = os.dup(top)
    try:
        for part in parts[:-1]:
            if create:
                try:
                    os.mkdir(part, dir_fd=fd)
                except FileExistsError:
                    pass
            inner = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd, parts[-1]


def _write_at(top: int, rel: str, text: str) -> None:
    fd, name = _open_parent(top, rel, create=True)
    try:
        yamlio.write_atomic_at(fd, name, text)  # temp file + os.replace, readable like any new file
    finally:
        os.close(fd)


def _remove_stale(top: int, rel: str) -> None:
    """Remove rel only if it is a regular file, really inside the site, that gitreg wrote."""
    try:
        fd, name = _open_parent(top, rel, create=False)
    except OSError:
        return  # a link, a file or nothing on the way: not a page of ours
    try:
        if _is_our_page(fd, name):
            os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        pass
    finally:
        os.close(fd)


def _is_our_page(dir_fd: int, name: str) -> bool:
    try:
        fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        return GENERATOR.encode() in os.read(fd, 4096)
    finally:
        os.close(fd)


def _relative_inside(rel: str) -> bool:
    path = Path(rel)
    return bool(rel) and not path.is_absolute() and "\\" not in rel and ".." not in path.parts


def _write(path: Path, text: str) -> None:
    yamlio.write_atomic(path, text)  # temp file + os.replace, readable like any new file


# -- small helpers ----------------------------------------------------------------------
def e(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return escape("" if value is None else str(value), quote=True)


def href(*parts: str) -> str:
    return "/".join(quote(p, safe="") for p in parts)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def artifact_size(manifest: Mapping[str, Any]) -> int:
    total = 0
    for a in manifest.get("artifacts") or []:
        try:
            total += int(a.get("size") or 0)
        except (TypeError, ValueError, AttributeError):
            continue
    return total


def when(stamp: Any) -> str:
    """<time> showing 'YYYY-MM-DD HH:MM' with the full RFC 3339 stamp as its datetime."""
    if not stamp:
        return '<span class="muted">–</span>'
    text = str(stamp)
    short = text
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        short = moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        pass
    return f'<time datetime="{e(text)}" title="{e(text)}">{e(short)}</time>'


def badge(stage: str | None, stages: Sequence[str]) -> str:
    stage = stage or NONE_STAGE
    color = charts.stage_color(stage, stages)
    label = "no stage" if stage == NONE_STAGE else stage
    return (f'<span class="badge" data-stage="{e(stage)}" style="--c:{color}">'
            f"{e(label)}</span>")


def metric_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return e(value)
    return e(charts.format_value(float(value)))


def people(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def metric_names(versions: Iterable[Mapping[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for m in versions:
        for k in (m.get("metrics") or {}):
            names.setdefault(str(k), None)
    return list(names)


def page(title: str, body: str, meta: Mapping[str, str], depth: int, crumbs: Sequence[tuple[str, str]]) -> str:
    """The common frame; depth is how many directories below the site root the page is."""
    up = "../" * depth
    trail = " <span class=sep>/</span> ".join(
        f'<a href="{e(link)}">{e(label)}</a>' if link else f"<span>{e(label)}</span>"
        for label, link in crumbs)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{GENERATOR}
<title>{e(title)}</title>
<link rel="stylesheet" href="{up}{STYLE_FILE}">
</head>
<body>
<header class="top"><div class="wrap">
<a class="brand" href="{up}index.html"><span class="logo">◆</span> gitreg</a>
<nav class="crumbs">{trail}</nav>
<span class="built">{e(meta['branch'])} @ <code>{e(meta['commit'] or '–')}</code> · built {e(meta['built'])}</span>
</div></header>
<main class="wrap">
{body}
</main>
<footer class="wrap">Generated by <code>gitreg site</code> from the registry's git history.
Every change shown here is a commit and a GTO tag.</footer>
</body>
</html>
"""


def last_change(events: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return max(events, key=lambda ev: int(ev.get("seq") or 0)) if events else None


def change_text(ev: Mapping[str, Any]) -> str:
    verb = _VERBS.get(str(ev.get("action")), str(ev.get("action")))
    move = ""
    if ev.get("to") and ev.get("action") != "register":
        move = f" → {ev['to']}"
    return f"{verb} {ev.get('version')}{move}"


def heading(title: str) -> str:
    """The index's <h1>: "Model registry NAME", or just NAME when it already says registry
    (a repository called `registry` or `model-registry` must not read "registry registry")."""
    if "registry" in title.lower():
        return f"<h1>{e(title)}</h1>"
    return f'<h1>Model registry <span class="muted">{e(title)}</span></h1>'


# -- the index --------------------------------------------------------------------------
def render_index(models: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], Sequence[Mapping[str, Any]]]],
                 lifecycle: Any, meta: Mapping[str, str]) -> str:
    stages = list(lifecycle.stages)
    n_versions = sum(int(row["versions"]) for row, _, _ in models)
    in_stage = {s: sum(1 for row, _, _ in models if s in row["stages"]) for s in stages}
    cards = [f'<div class="card"><div class="big">{len(models)}</div><div>models</div></div>',
             f'<div class="card"><div class="big">{n_versions}</div><div>versions</div></div>']
    for s in stages:
        if s in lifecycle.exclusive or s in charts.MARKED_STAGES:
            cards.append(f'<div class="card" style="--c:{charts.stage_color(s, stages)}">'
                         f'<div class="big">{in_stage[s]}</div><div>in {e(s)}</div></div>')
    head = "".join(f"<th>{e(s)}</th>" for s in stages)
    rows = []
    for row, info, events in models:
        name = row["name"]
        link = href("models", name, "index.html")
        cells = []
        for s in stages:
            v = row["stages"].get(s)
            cells.append(
                f'<td class="stage-cell" data-stage="{e(s)}">'
                + (f'<a class="pill" style="--c:{charts.stage_color(s, stages)}" '
                   f'href="{e(href("models", name, v + ".html"))}">{e(v)}</a>'
                   if v else '<span class="muted">–</span>')
                + "</td>")
        versions = info.get("versions") or []
        names = metric_names(versions)
        spark = ""
        if names:
            pts = charts.points_for(names[0], versions)
            spark = (charts.sparkline(pts, stages=stages, label=f"{names[0]} across versions")
                     + f'<span class="spark-label">{e(names[0])}</span>')
        change = last_change(events)
        change_html = (f'{when(change.get("at"))}<div class="sub">{e(change_text(change))}</div>'
                       f'<div class="sub">by {e(change.get("by"))}</div>' if change else "")
        desc = info.get("description") or ""
        rows.append(
            f'<tr data-model="{e(name)}">'
            f'<td class="name"><a href="{e(link)}">{e(name)}</a>'
            + (f'<div class="sub">{e(_clip(desc, 90))}</div>' if desc else "")
            + f'</td><td class="owner">{e(info.get("owner") or "") or "<span class=muted>–</span>"}</td>'
            f'<td><a href="{e(href("models", name, row["latest"] + ".html"))}">{e(row["latest"])}</a>'
            f'<div class="sub">{row["versions"]} version{"s" if row["versions"] != 1 else ""}</div></td>'
            + "".join(cells)
            + f'<td class="trend">{spark}</td><td class="changed">{change_html}</td></tr>')
    table = (
        f'<table class="models" id="models"><thead><tr><th>model</th><th>owner</th><th>latest</th>'
        f"{head}<th>trend</th><th>last change</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows else
        '<p class="empty">No models registered yet. Run <code>gitreg register NAME FILE</code>.</p>')
    recent = sorted(({**ev, "model": row["name"]} for row, _, events in models for ev in events),
                    key=lambda ev: (str(ev.get("at") or ""), int(ev.get("seq") or 0)),
                    reverse=True)[:RECENT_EVENTS]
    activity = (f'<section id="activity"><h2>Recent activity</h2>'
                f"{timeline(recent, stages, link_versions=True, from_root=True)}</section>"
                if recent else "")
    body = (heading(meta["title"])
            + f'<div class="cards">{"".join(cards)}</div>'
            f'<section><h2>Models</h2><div class="scroll">{table}</div></section>' + activity)
    return page(f"{meta['title']} · gitreg", body, meta, 0, [("models", "")])


# -- a model ----------------------------------------------------------------------------
def render_model(info: Mapping[str, Any], events: Sequence[Mapping[str, Any]], lifecycle: Any,
                 meta: Mapping[str, str]) -> str:
    name = str(info["name"])
    stages = list(lifecycle.stages)
    versions = list(info.get("versions") or [])
    newest_first = sorted(versions, key=lambda m: parse_version(str(m["version"])), reverse=True)
    names = metric_names(versions)

    facts = []
    for key in ("owner", "use_case"):
        if info.get(key):
            facts.append(f'<span class="fact"><b>{e(key.replace("_", " "))}</b> {e(info[key])}</span>')
    if info.get("tags"):
        facts.append('<span class="fact">' + " ".join(f'<span class="tag">{e(t)}</span>'
                                                     for t in info["tags"]) + "</span>")
    header = (f'<h1>{e(name)}</h1>'
              + (f'<p class="lead">{e(info["description"])}</p>' if info.get("description") else "")
              + (f'<div class="facts">{"".join(facts)}</div>' if facts else ""))

    holders: dict[str, list[str]] = {}
    for m in newest_first:
        holders.setdefault(str(m.get("stage") or NONE_STAGE), []).append(str(m["version"]))
    cards = []
    for s in stages:
        held = holders.get(s, [])
        links = ", ".join(f'<a href="{e(href(v + ".html"))}">{e(v)}</a>' for v in held[:4])
        more = f' <span class="muted">+{len(held) - 4}</span>' if len(held) > 4 else ""
        cards.append(f'<div class="card stage-card" data-stage="{e(s)}" '
                     f'style="--c:{charts.stage_color(s, stages)}"><div class="label">{e(s)}</div>'
                     f'<div class="big">{links or "<span class=muted>–</span>"}{more}</div></div>')

    chart_html = "".join(
        f'<figure class="chart-box">{charts.metric_chart(mname, charts.points_for(mname, versions), stages=stages)}</figure>'
        for mname in names)
    charts_section = (f'<section id="charts"><h2>Metrics across versions</h2>'
                      f'<div class="charts">{chart_html}</div>'
                      f'<p class="legend">{legend(stages)}</p></section>' if names else "")

    mhead = "".join(f'<th class="num">{e(mname)}</th>' for mname in names)
    vrows = []
    for m in newest_first:
        v = str(m["version"])
        metrics = m.get("metrics") or {}
        mcells = "".join(
            f'<td class="num">{metric_text(metrics[mname]) if mname in metrics else "<span class=muted>–</span>"}</td>'
            for mname in names)
        what = " · ".join(str(x) for x in (m.get("framework"), m.get("algorithm")) if x)
        vrows.append(
            f'<tr data-version="{e(v)}"><td class="name"><a href="{e(href(v + ".html"))}">{e(v)}</a>'
            + (f'<div class="sub">{e(_clip(str(m.get("description") or ""), 70))}</div>'
               if m.get("description") else "")
            + f"</td><td>{badge(m.get('stage'), stages)}</td>{mcells}"
            f"<td>{when(m.get('created_at'))}</td><td>{e(m.get('created_by'))}</td>"
            f"<td>{e(what)}</td><td class=\"num\">{e(human_size(artifact_size(m)))}</td></tr>")
    versions_section = (
        '<section id="versions"><h2>Versions</h2><div class="scroll"><table class="versions">'
        f"<thead><tr><th>version</th><th>stage</th>{mhead}<th>created</th><th>by</th>"
        f"<th>framework</th><th class=\"num\">size</th></tr></thead>"
        f"<tbody>{''.join(vrows)}</tbody></table></div></section>")

    timeline_section = (f'<section id="timeline"><h2>Stage timeline</h2>'
                        f"{timeline(events, stages, link_versions=True)}</section>")
    body = (header + f'<div class="cards">{"".join(cards)}</div>' + charts_section
            + versions_section + timeline_section + gates(lifecycle))
    return page(f"{name} · gitreg", body, meta, 2, [("models", "../../index.html"), (name, "")])


def legend(stages: Sequence[str]) -> str:
    items = [s for s in ("production", "staging") if s in stages] + [
        s for s in stages if s not in charts.MARKED_STAGES] + [NONE_STAGE]
    return " ".join(f'<span class="key"><span class="dot" style="--c:{charts.stage_color(s, stages)}">'
                    f'</span>{e("no stage" if s == NONE_STAGE else s)}</span>' for s in items)


def timeline(events: Sequence[Mapping[str, Any]], stages: Sequence[str], link_versions: bool,
             from_root: bool = False) -> str:
    """History newest first: who did what to which version, when and why.

    One model's events are ordered by seq; from_root (the index's feed across models) keeps
    the given order and names the model of each event.
    """
    if not events:
        return '<p class="muted">No events.</p>'
    items = []
    ordered = events if from_root else sorted(events, key=lambda x: int(x.get("seq") or 0), reverse=True)
    for ev in ordered:
        action = str(ev.get("action"))
        version = str(ev.get("version"))
        if from_root:
            model = str(ev.get("model"))
            vtext = (f'<a href="{e(href("models", model, "index.html"))}">{e(model)}</a> '
                     f'<a href="{e(href("models", model, version + ".html"))}">{e(version)}</a>')
        elif link_versions:
            vtext = f'<a href="{e(href(version + ".html"))}">{e(version)}</a>'
        else:
            vtext = e(version)
        move = ""
        if action != "register" and (ev.get("from") or ev.get("to")):
            move = (f' <span class="move">{badge(ev.get("from"), stages)} → '
                    f'{badge(ev.get("to"), stages)}</span>')
        extra = []
        if ev.get("approved_by"):
            extra.append(f'approved by {e(people(ev["approved_by"]))}')
        for key in ("results", "observed"):
            data = ev.get(key)
            if isinstance(data, Mapping) and data:
                extra.append(f"{e(key)}: " + ", ".join(
                    f"{e(k)}={metric_text(v)}" for k, v in data.items()))
        if ev.get("tag"):
            extra.append(f'tag <code>{e(ev["tag"])}</code>')
        if ev.get("commit"):
            extra.append(f'commit <code>{e(str(ev["commit"])[:10])}</code>')
        items.append(
            f'<li class="event" data-action="{e(action)}" data-seq="{e(ev.get("seq"))}">'
            f'<span class="when">{when(ev.get("at"))}<span class="seq">#{e(ev.get("seq"))}</span></span>'
            f'<div class="what"><b>{e(ev.get("by") or "unknown")}</b> '
            f'<span class="action action-{e(action)}">{e(_VERBS.get(action, action))}</span> '
            f"{vtext}{move}"
            + (f'<div class="reason">“{e(ev["reason"])}”</div>' if ev.get("reason") else "")
            + (f'<div class="sub">{" · ".join(extra)}</div>' if extra else "")
            + "</div></li>")
    return f'<ol class="timeline">{"".join(items)}</ol>'


def gates(lifecycle: Any) -> str:
    """The policy of each stage: where versions may come from, approvals, metric gates."""
    stages = list(lifecycle.stages)
    rows = []
    for s in stages:
        policy = lifecycle.policy(s)
        sources = [src for src, targets in lifecycle.transitions.items() if s in targets]
        src_text = ", ".join("no stage" if x == NONE_STAGE else x for x in sources) or "–"
        only = (", ".join(policy.from_stages) if policy.from_stages is not None else "any allowed")
        metric_gates = ", ".join(f"{k} {v}" for k, v in policy.metrics) or "–"
        rules = []
        if s in lifecycle.exclusive:
            rules.append("one version at a time")
        if policy.via_pull_request:
            rules.append("via pull request only")
        if policy.require_signed:
            rules.append("signed commits")
        if s == lifecycle.rollback_stage:
            rules.append("rollback target")
        rows.append(
            f'<tr data-stage="{e(s)}"><td>{badge(s, stages)}</td><td>{e(src_text)}</td>'
            f"<td>{e(only)}</td><td class=\"num\">{policy.approvals or '–'}</td>"
            f"<td><code>{e(metric_gates)}</code></td><td>{e('; '.join(rules) or '–')}</td></tr>")
    return ('<section id="gates"><h2>Policy gates</h2><div class="scroll"><table class="gates">'
            "<thead><tr><th>stage</th><th>transitions from</th><th>policy: only from</th>"
            '<th class="num">approvals</th><th>metric gates</th><th>rules</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
            '<p class="muted small">From <code>gitreg.yaml</code>. Approvals come from someone '
            "other than the requester; a rollback skips the gates but is always recorded.</p></section>")


# -- a version --------------------------------------------------------------------------
def render_version(manifest: Mapping[str, Any], events: Sequence[Mapping[str, Any]], lifecycle: Any,
                   meta: Mapping[str, str]) -> str:
    name, version = str(manifest["name"]), str(manifest["version"])
    stages = list(lifecycle.stages)
    training = manifest.get("training") or {}
    facts = [
        ("stage", badge(manifest.get("stage"), stages)),
        ("created", when(manifest.get("created_at"))),
        ("by", e(manifest.get("created_by"))),
        ("framework", e(manifest.get("framework") or "–")),
        ("algorithm", e(manifest.get("algorithm") or "–")),
        ("artifact size", e(human_size(artifact_size(manifest)))),
    ]
    if isinstance(training, Mapping) and training.get("dataset_version"):
        facts.append(("dataset", e(training["dataset_version"])))
    if manifest.get("tags"):
        facts.append(("tags", " ".join(f'<span class="tag">{e(t)}</span>' for t in manifest["tags"])))
    dl = "".join(f"<div><dt>{e(k)}</dt><dd>{v}</dd></div>" for k, v in facts)

    def kv_table(title: str, data: Any, ident: str, numbers: bool = False) -> str:
        if not isinstance(data, Mapping) or not data:
            return ""
        rows = "".join(
            f"<tr><th>{e(k)}</th><td class=\"{'num' if numbers else ''}\">"
            f"{metric_text(v) if numbers else e(_plain(v))}"
            "</td></tr>" for k, v in data.items())
        return f'<section id="{ident}"><h2>{e(title)}</h2><table class="kv">{rows}</table></section>'

    arts = manifest.get("artifacts") or []
    art_rows = "".join(
        f"<tr><td><code>{e(a.get('path'))}</code></td><td><code>{e(a.get('md5'))}</code></td>"
        f"<td class=\"num\">{e(human_size(int(a.get('size') or 0)))}</td></tr>"
        for a in arts if isinstance(a, Mapping))
    artifacts = (f'<section id="artifacts"><h2>Artifacts</h2><table class="versions"><thead><tr>'
                 f'<th>path</th><th>md5</th><th class="num">size</th></tr></thead>'
                 f"<tbody>{art_rows}</tbody></table></section>" if art_rows else "")
    own = [ev for ev in events if str(ev.get("version")) == version]
    body = (
        f'<h1>{e(name)} <span class="ver-big">{e(version)}</span></h1>'
        + (f'<p class="lead">{e(manifest["description"])}</p>' if manifest.get("description") else "")
        + f'<dl class="facts-grid">{dl}</dl>'
        + '<div class="two">'
        + kv_table("Metrics", manifest.get("metrics"), "metrics", numbers=True)
        + kv_table("Hyperparameters", manifest.get("hyperparameters"), "hyperparameters")
        + "</div>"
        + artifacts
        + kv_table("Approval", manifest.get("approval"), "approval")
        + f'<section id="history"><h2>History of {e(version)}</h2>'
        f"{timeline(own, stages, link_versions=False)}</section>"
        + f'<section id="manifest"><h2>Manifest</h2><p class="muted small"><code>'
        f'models/{e(name)}/{e(version)}/manifest.yaml</code></p>'
        f'<pre class="manifest">{e(yamlio.dump(dict(manifest)))}</pre></section>')
    return page(f"{name} {version} · gitreg", body, meta, 2,
                [("models", "../../index.html"), (name, "index.html"), (version, "")])


def _plain(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


CSS = """\
:root {
  --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --soft: #f6f8fa; --bg: #ffffff;
  --accent: #0969da; --radius: 8px;
  font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  font-size: 14px; line-height: 1.5; color: var(--fg); background: var(--soft);
}
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header.top { background: #24292f; color: #f6f8fa; }
header.top .wrap { display: flex; align-items: center; gap: 18px; height: 52px; }
header.top a { color: #f6f8fa; }
.brand { font-weight: 700; font-size: 16px; letter-spacing: .2px; }
.logo { color: #3fb950; }
.crumbs { flex: 1; color: #afb8c1; }
.crumbs .sep { margin: 0 4px; color: #6e7781; }
.crumbs span { color: #f6f8fa; }
.built { color: #afb8c1; font-size: 12px; }
.built code { color: #f6f8fa; }
main { padding-top: 20px; padding-bottom: 24px; }
h1 { font-size: 26px; margin: 8px 0 6px; font-weight: 600; }
h2 { font-size: 17px; margin: 0 0 12px; font-weight: 600; }
section { background: var(--bg); border: 1px solid var(--line); border-radius: var(--radius);
  padding: 16px 18px; margin: 16px 0; }
.muted { color: var(--muted); font-weight: 400; }
.small { font-size: 12px; }
.lead { font-size: 15px; margin: 0 0 8px; color: #424a53; }
.sub { color: var(--muted); font-size: 12px; }
.facts { display: flex; gap: 16px; flex-wrap: wrap; color: #424a53; margin-bottom: 6px; }
.fact b { color: var(--muted); font-weight: 500; margin-right: 4px; }
.tag { display: inline-block; background: #ddf4ff; color: #0550ae; border-radius: 10px;
  padding: 0 8px; font-size: 12px; margin-right: 4px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 14px 0 4px; }
.card { background: var(--bg); border: 1px solid var(--line); border-left: 4px solid var(--c, #8c959f);
  border-radius: var(--radius); padding: 10px 16px; min-width: 130px; color: var(--muted); }
.card .big { font-size: 22px; font-weight: 600; color: var(--fg); }
.card .label { font-size: 12px; text-transform: uppercase; letter-spacing: .6px; color: var(--c); font-weight: 600; }
.stage-card .big { font-size: 18px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
thead th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase;
  letter-spacing: .4px; border-bottom: 1px solid var(--line); white-space: nowrap; }
tbody tr:hover { background: #f6f8fa; }
tbody tr:last-child td { border-bottom: 0; }
td.name a { font-weight: 600; font-size: 15px; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 12px; font-size: 12px; font-weight: 600;
  color: var(--c); border: 1px solid var(--c); background: color-mix(in srgb, var(--c) 10%, white);
  white-space: nowrap; }
.pill { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600;
  font-variant-numeric: tabular-nums; color: #fff; background: var(--c); }
.pill:hover { text-decoration: none; filter: brightness(1.1); }
td.owner { white-space: nowrap; }
.trend svg { vertical-align: middle; }
.spark-label { display: block; font-size: 11px; color: var(--muted); }
.changed, td.num, time { white-space: nowrap; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
.chart-box { margin: 0; border: 1px solid #eaeef2; border-radius: 6px; padding: 4px; background: #fff; }
.chart-box svg { display: block; width: 100%; height: auto; }
.legend { margin: 10px 0 0; color: var(--muted); font-size: 12px; }
.key { margin-right: 14px; white-space: nowrap; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; background: var(--c);
  margin-right: 5px; vertical-align: -1px; }
.timeline { list-style: none; margin: 0; padding: 0; }
.event { display: flex; gap: 16px; padding: 9px 0; border-bottom: 1px solid #eaeef2; }
.event:last-child { border-bottom: 0; }
.event .when { width: 150px; flex: none; color: var(--muted); font-size: 12px; padding-top: 2px; }
.event .seq { margin-left: 6px; color: #8c959f; }
.event .what { flex: 1; }
.action { font-weight: 600; }
.action-rollback, .action-reject { color: #cf222e; }
.action-approve { color: #1a7f37; }
.action-request { color: #9a6700; }
.move { margin-left: 4px; }
.reason { color: #424a53; font-style: italic; margin-top: 2px; }
.facts-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px;
  background: var(--bg); border: 1px solid var(--line); border-radius: var(--radius); padding: 14px 18px; }
.facts-grid dt { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .4px; }
.facts-grid dd { margin: 2px 0 0; font-weight: 500; }
.two { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 0 16px; }
table.kv th { width: 40%; font-weight: 500; color: #424a53; }
.ver-big { color: var(--muted); font-weight: 400; }
pre.manifest { background: var(--soft); border: 1px solid #eaeef2; border-radius: 6px; padding: 12px;
  overflow-x: auto; margin: 0; }
.empty { padding: 24px; text-align: center; color: var(--muted); }
footer { color: var(--muted); font-size: 12px; padding-bottom: 32px; }
"""
