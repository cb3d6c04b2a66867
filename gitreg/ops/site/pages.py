"""The site's pages: the index, one page per model and one per version."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from gitreg import yamlio
from gitreg.core.manifest import tag_map
from gitreg.core.names import NONE_STAGE
from gitreg.core.version import parse_version
from gitreg.ops.site import charts
from gitreg.ops.site.chart_layout import MARKED_STAGES, points_for
from gitreg.ops.site.html import (
    artifact_size, badge, change_text, clip, e, heading, href, human_size, last_change, metric_names,
    metric_text, page, plain, when,
)
from gitreg.ops.site.sections import gates, legend, timeline

RECENT_EVENTS = 8  # the index's activity feed, across models (ordered by time, then seq)


# -- the index --------------------------------------------------------------------------
ModelRow = tuple[Mapping[str, Any], Mapping[str, Any], Sequence[Mapping[str, Any]]]  # list row, show(), events


def render_index(models: Sequence[ModelRow], lifecycle: Any, meta: Mapping[str, str]) -> str:
    stages = list(lifecycle.stages)
    head = "".join(f"<th>{e(s)}</th>" for s in stages)
    rows = [model_row(row, info, events, stages) for row, info, events in models]
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
            + f'<div class="cards">{"".join(index_cards(models, lifecycle))}</div>'
            f'<section><h2>Models</h2><div class="scroll">{table}</div></section>' + activity)
    return page(f"{meta['title']} · gitreg", body, meta, 0, [("models", "")])


def index_cards(models: Sequence[ModelRow], lifecycle: Any) -> list[str]:
    """How many models and versions, and how many models have a version in each key stage."""
    stages = list(lifecycle.stages)
    n_versions = sum(int(row["versions"]) for row, _, _ in models)
    in_stage = {s: sum(1 for row, _, _ in models if s in row["stages"]) for s in stages}
    cards = [f'<div class="card"><div class="big">{len(models)}</div><div>models</div></div>',
             f'<div class="card"><div class="big">{n_versions}</div><div>versions</div></div>']
    for s in stages:
        if s in lifecycle.exclusive or s in MARKED_STAGES:
            cards.append(f'<div class="card" style="--c:{charts.stage_color(s, stages)}">'
                         f'<div class="big">{in_stage[s]}</div><div>in {e(s)}</div></div>')
    return cards


def model_row(row: Mapping[str, Any], info: Mapping[str, Any], events: Sequence[Mapping[str, Any]],
              stages: Sequence[str]) -> str:
    """One model in the index: owner, latest version, each stage's holder, a trend, last change."""
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
        pts = points_for(names[0], versions)
        spark = (charts.sparkline(pts, stages=stages, label=f"{names[0]} across versions")
                 + f'<span class="spark-label">{e(names[0])}</span>')
    change = last_change(events)
    change_html = (f'{when(change.get("at"))}<div class="sub">{e(change_text(change))}</div>'
                   f'<div class="sub">by {e(change.get("by"))}</div>' if change else "")
    desc = info.get("description") or ""
    return (
        f'<tr data-model="{e(name)}">'
        f'<td class="name"><a href="{e(link)}">{e(name)}</a>'
        + (f'<div class="sub">{e(clip(desc, 90))}</div>' if desc else "")
        + f'</td><td class="owner">{e(info.get("owner") or "") or "<span class=muted>–</span>"}</td>'
        + (f'<td><a href="{e(href("models", name, row["latest"] + ".html"))}">{e(row["latest"])}</a>'
           if row["latest"] else '<td><span class="muted">–</span>')  # no versions yet, or every one deprecated
        + f'<div class="sub">{row["versions"]} version{"s" if row["versions"] != 1 else ""}</div>'
        + "".join(f'<div class="sub alias" data-alias="{e(a)}">@{e(a)} {e(v)}</div>'
                  for a, v in (row.get("aliases") or {}).items())
        + '</td>'
        + "".join(cells)
        + f'<td class="trend">{spark}</td><td class="changed">{change_html}</td></tr>')


# -- a model ----------------------------------------------------------------------------
def render_model(info: Mapping[str, Any], events: Sequence[Mapping[str, Any]], lifecycle: Any,
                 meta: Mapping[str, str]) -> str:
    name = str(info["name"])
    stages = list(lifecycle.stages)
    versions = list(info.get("versions") or [])
    newest_first = sorted(versions, key=lambda m: parse_version(str(m["version"])), reverse=True)
    names = metric_names(versions)
    timeline_section = (f'<section id="timeline"><h2>Stage timeline</h2>'
                        f"{timeline(events, stages, link_versions=True)}</section>")
    cards = stage_cards(newest_first, stages) + alias_cards(versions)
    body = (model_header(info) + f'<div class="cards">{"".join(cards)}</div>'
            + charts_section(versions, names, stages) + versions_section(newest_first, names, stages)
            + timeline_section + gates(lifecycle))
    return page(f"{name} · gitreg", body, meta, 2, [("models", "../../index.html"), (name, "")])


def tag_spans(tags: Any) -> str:
    """Tags (a mapping, or a legacy list of labels) as `KEY=VALUE` or `LABEL` chips."""
    return " ".join(f'<span class="tag">{e(f"{k}={v}" if v else k)}</span>'
                    for k, v in tag_map(tags).items())


def model_header(info: Mapping[str, Any]) -> str:
    """The model's name, description, owner, use case and tags."""
    facts = []
    for key in ("owner", "use_case"):
        if info.get(key):
            facts.append(f'<span class="fact"><b>{e(key.replace("_", " "))}</b> {e(info[key])}</span>')
    if info.get("tags"):
        facts.append(f'<span class="fact">{tag_spans(info["tags"])}</span>')
    return (f'<h1>{e(str(info["name"]))}</h1>'
            + (f'<p class="lead">{e(info["description"])}</p>' if info.get("description") else "")
            + (f'<div class="facts">{"".join(facts)}</div>' if facts else ""))


def stage_cards(newest_first: Sequence[Mapping[str, Any]], stages: Sequence[str]) -> list[str]:
    """One card per stage with its holders, newest first (four shown, then a count)."""
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
    return cards


def alias_cards(versions: Sequence[Mapping[str, Any]]) -> list[str]:
    """One card per alias (champion, challenger) with the version holding it."""
    held = sorted((str(a), str(m["version"])) for m in versions for a in m.get("aliases") or [])
    return [f'<div class="card alias-card" data-alias="{e(a)}"><div class="label">@{e(a)}</div>'
            f'<div class="big"><a href="{e(href(v + ".html"))}">{e(v)}</a></div></div>'
            for a, v in held]


def charts_section(versions: Sequence[Mapping[str, Any]], names: Sequence[str], stages: Sequence[str]) -> str:
    """A chart per metric across versions, with the stage legend (nothing without metrics)."""
    chart_html = "".join(
        f'<figure class="chart-box">{charts.metric_chart(mname, points_for(mname, versions), stages=stages)}</figure>'
        for mname in names)
    return (f'<section id="charts"><h2>Metrics across versions</h2>'
            f'<div class="charts">{chart_html}</div>'
            f'<p class="legend">{legend(stages)}</p></section>' if names else "")


def versions_section(newest_first: Sequence[Mapping[str, Any]], names: Sequence[str],
                     stages: Sequence[str]) -> str:
    """The versions table: stage, each metric, created, by, framework and size."""
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
            + (f'<div class="sub">{e(clip(str(m.get("description") or ""), 70))}</div>'
               if m.get("description") else "")
            + f"</td><td>{badge(m.get('stage'), stages)}</td>{mcells}"
            f"<td>{when(m.get('created_at'))}</td><td>{e(m.get('created_by'))}</td>"
            f"<td>{e(what)}</td><td class=\"num\">{e(human_size(artifact_size(m)))}</td></tr>")
    return (
        '<section id="versions"><h2>Versions</h2><div class="scroll"><table class="versions">'
        f"<thead><tr><th>version</th><th>stage</th>{mhead}<th>created</th><th>by</th>"
        f"<th>framework</th><th class=\"num\">size</th></tr></thead>"
        f"<tbody>{''.join(vrows)}</tbody></table></div></section>")


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
    if manifest.get("aliases"):
        facts.append(("aliases", " ".join(f'<span class="tag alias">@{e(a)}</span>'
                                          for a in manifest["aliases"])))
    if isinstance(training, Mapping) and training.get("dataset_version"):
        facts.append(("dataset", e(training["dataset_version"])))
    if manifest.get("tags"):
        facts.append(("tags", tag_spans(manifest["tags"])))
    dl = "".join(f"<div><dt>{e(k)}</dt><dd>{v}</dd></div>" for k, v in facts)

    def kv_table(title: str, data: Any, ident: str, numbers: bool = False) -> str:
        if not isinstance(data, Mapping) or not data:
            return ""
        rows = "".join(
            f"<tr><th>{e(k)}</th><td class=\"{'num' if numbers else ''}\">"
            f"{metric_text(v) if numbers else e(plain(v))}"
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
