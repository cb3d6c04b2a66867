"""Sections shared by the site's pages: the stage legend, the event timeline, the policy gates."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from gitreg.core.names import NONE_STAGE
from gitreg.ops.site import charts
from gitreg.ops.site.chart_layout import MARKED_STAGES
from gitreg.ops.site.html import VERBS, badge, e, href, metric_text, people, when


def legend(stages: Sequence[str]) -> str:
    items = [s for s in ("production", "staging") if s in stages] + [
        s for s in stages if s not in MARKED_STAGES] + [NONE_STAGE]
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
        if ev.get("version") is None:  # a model-level event (create, a model's annotate)
            vtext = (f'<a href="{e(href("models", str(ev.get("model")), "index.html"))}">'
                     f'{e(str(ev.get("model")))}</a>' if from_root else "the model")
        elif from_root:
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
        if ev.get("alias"):
            move = f' <span class="move alias">@{e(ev["alias"])}</span>'
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
            f'<span class="action action-{e(action)}">{e(VERBS.get(action, action))}</span> '
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
