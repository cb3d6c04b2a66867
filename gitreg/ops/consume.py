"""Reading what to consume: resolve a ref, compare versions' metrics, pick the best one.

They use the committed manifests and one for-each-ref pass; they never run DVC
(`get`, which downloads, is gitreg/ops/get.py).
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping, Sequence

from gitreg.core import events as ev
from gitreg.core.names import NONE_STAGE
from gitreg.core.tags import assign_tag, register_tag
from gitreg.core.version import parse_version
from gitreg.errors import UserError
from gitreg.ops import reads
from gitreg.ops.context import Context
from gitreg.store import MODELS_DIR

# compare: metrics whose names say "smaller is better" get their best at the minimum.
# Whole name parts only ("val_loss", "latency_ms", "eval.rmse"), so "answer_rate" is not "wer".
_LOWER_TOKENS = frozenset({
    "loss", "error", "err", "errors", "latency", "mse", "mae", "rmse", "mape", "wer", "cer",
    "perplexity", "ms", "seconds", "sec", "duration", "time", "cost",
})


def lower_is_better_by_name(metric: str) -> bool:
    tokens = [t for t in re.split(r"[^a-z0-9]+", metric.lower()) if t]
    return any(t in _LOWER_TOKENS or t.endswith("loss") for t in tokens)


# -- resolve -----------------------------------------------------------------------
def resolve(ctx: Context, ref: str) -> dict[str, Any]:
    """NAME (latest version), NAME@VERSION or NAME#STAGE -> what a deploy script needs."""
    from gitreg.core.refs import parse_ref

    name, version, stage, alias = parse_ref(ref)
    if version is None and stage is None and alias is None:
        manifests, _ = reads.find_model(ctx, name)
        manifest = manifests[reads.latest_version(name, manifests)]
    else:
        manifest = reads.show(ctx, ref)
    ver = str(manifest["version"])
    current = manifest.get("stage") or NONE_STAGE
    refs = {r.name: r for r in ctx.store.tags(name)}
    tag = register_tag(name, ver)
    if tag in refs:
        commit: str | None = refs[tag].target
    else:  # tags drifted (doctor --fix recreates them): fall back to the manifest's commit
        tag = None  # type: ignore[assignment]
        commit = reads.registration_commits(ctx, name, [ver]).get(ver)
    stage_tag = None
    if current != NONE_STAGE:
        moves = [h for h in manifest.get("history") or [] if h.get("action") in ev.MOVES and h.get("to") == current]
        # an event adopted from gto's tag has that tag as its own
        candidate = (moves[-1].get("adopted_from") if moves else None) or \
            assign_tag(name, current, ev.last_assignment_seq(manifest, current))
        stage_tag = candidate if candidate in refs else None
    return {
        "name": name,
        "version": ver,
        "stage": current,
        "commit": commit,
        "tag": tag,
        "stage_tag": stage_tag,
        "artifacts": [
            {"path": f"{MODELS_DIR}/{name}/{ver}/{a['path']}", "md5": a["md5"],
             "size": int(a.get("size", 0))}
            for a in manifest.get("artifacts") or []
        ],
    }


# -- compare / best ------------------------------------------------------------------
def compare(ctx: Context, name: str, metrics: Sequence[str] | None = None, stage: str | None = None,
            lower_is_better: Iterable[str] | None = None) -> dict[str, Any]:
    """Versions side by side (sorted by version) with stage, date and metrics; best per metric.

    A version without a metric has None there. lower_is_better names the metrics whose
    best is the minimum; by default that is guessed from the name (loss, latency_ms, ...).
    """
    manifests, _ = reads.find_model(ctx, name)
    want_stage = ctx.lifecycle().stage(stage, allow_none=True) if stage else None
    chosen = [v for v in sorted(manifests, key=parse_version)
              if want_stage is None or (manifests[v].get("stage") or NONE_STAGE) == want_stage]
    all_metrics = sorted({k for v in chosen for k in (manifests[v].get("metrics") or {})})
    if metrics:
        columns = list(dict.fromkeys(m.strip() for m in metrics if m.strip()))
        unknown = [m for m in columns if m not in all_metrics]
        if chosen and unknown and len(unknown) == len(columns):
            raise UserError(f"no version of {name} has metric(s) {', '.join(unknown)}",
                            f"metrics recorded: {', '.join(all_metrics) or 'none'}")
    else:
        columns = all_metrics
    lower = set(lower_is_better) if lower_is_better is not None else {
        m for m in columns if lower_is_better_by_name(m)}
    rows = []
    for v in chosen:
        m = manifests[v]
        values = m.get("metrics") or {}
        rows.append({
            "version": v,
            "stage": m.get("stage") or NONE_STAGE,
            "created_at": m.get("created_at"),
            "deprecated": bool(m.get("deprecated")),
            "aliases": sorted(str(a) for a in m.get("aliases") or []),
            "metrics": {k: _number(values.get(k)) for k in columns},
        })
    best: dict[str, str] = {}
    for metric in columns:
        winner = _best_row(rows, metric, metric in lower)
        if winner is not None:
            best[metric] = winner["version"]
    return {"name": name, "metrics": columns, "versions": rows, "best": best,
            "lower_is_better": sorted(m for m in columns if m in lower)}


def best(ctx: Context, name: str, metric: str, lower_is_better: bool = False) -> dict[str, Any]:
    """The version with the highest (or lowest) value of one metric."""
    manifests, _ = reads.find_model(ctx, name)
    # a deprecated version is never the one to use
    rows = [{"version": v, "metrics": {metric: _number((manifests[v].get("metrics") or {}).get(metric))}}
            for v in sorted(manifests, key=parse_version) if not manifests[v].get("deprecated")]
    winner = _best_row(rows, metric, lower_is_better)
    if winner is None:
        known = sorted({k for m in manifests.values() for k in (m.get("metrics") or {})})
        raise UserError(f"no version of {name} has metric {metric!r}",
                        f"metrics recorded: {', '.join(known) or 'none'}")
    return {"name": name, "metric": metric, "version": winner["version"],
            "value": winner["metrics"][metric]}


# -- compare helpers -------------------------------------------------------------------
def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _best_row(rows: Sequence[Mapping[str, Any]], metric: str, lower: bool) -> Mapping[str, Any] | None:
    """The row with the best value; ties go to the newest version (rows are sorted by version)."""
    best = None
    for row in rows:
        value = row["metrics"].get(metric)
        if value is None:
            continue
        if best is None or (value <= best["metrics"][metric] if lower else value >= best["metrics"][metric]):
            best = row
    return best
