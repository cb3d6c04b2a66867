"""list, show, history: rich tables for people, --json for scripts."""

from __future__ import annotations

from typing import Any, Optional

import typer

from gitreg.cli.common import JSON_OPTION, command, out, print_json, print_table, printable, reader


@command("list")
def list_cmd(
    stage: Optional[str] = typer.Option(None, "--stage", help="Only models with a version in this stage."),
    show_all: bool = typer.Option(False, "--all", help="Include deprecated models (as `gto show --deprecated`)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List models: latest version, number of versions, the version in each stage."""
    reg = reader()
    data = reg.list_models(stage=stage, include_deprecated=show_all)
    if as_json:
        print_json(data)
        return
    hidden = data.get("hidden") or []
    note = f"{len(hidden)} deprecated model(s) hidden: {', '.join(hidden)} (--all shows them)" if hidden else ""
    if not data["models"]:
        typer.echo(printable(note or "no models registered yet (gitreg register NAME FILE)"), err=True)
        return
    stages = list(reg.lifecycle().stages)
    columns = [(col, False) for col in ["model", "latest", "versions", *stages]]
    rows = [[m["name"] + (" (deprecated)" if m.get("deprecated") else ""), m["latest"] or "-",
             str(m["versions"]), *[m["stages"].get(s, "-") for s in stages]]
            for m in data["models"]]
    if any(m.get("aliases") for m in data["models"]):  # the column only when someone uses aliases
        columns.append(("aliases", True))
        for row, m in zip(rows, data["models"]):
            row.append(" ".join(f"{a}={v}" for a, v in m["aliases"].items()) or "-")
    print_table(columns, rows)
    if note:
        typer.echo(printable(note), err=True)


def _metrics_text(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                     for k, v in sorted(metrics.items()))


@command("show")
def show_cmd(
    ref: str = typer.Argument(..., help="NAME, NAME@VERSION, NAME@ALIAS or NAME#STAGE."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a model's versions, or one version's manifest."""
    reg = reader()
    data = reg.show(ref)
    if as_json:
        print_json(data)
        return
    console = out()
    if "versions" in data and "artifacts" not in data:
        head = f"{data['name']}"
        for key in ("description", "owner", "use_case"):
            if data.get(key):
                head += f"\n  {key}: {data[key]}"
        if data.get("tags"):
            head += "\n  tags: " + ", ".join(f"{k}={v}" if v else k for k, v in data["tags"].items())
        if not data["versions"]:
            head += "\n  no versions yet"
        console.print(printable(head), markup=False)
        columns = [("version", False), ("stage", False), ("created", False), ("by", False),
                   ("metrics", True)]
        print_table(columns, [[m["version"], m.get("stage", "none"), m.get("created_at", ""),
                               m.get("created_by", ""), _metrics_text(m.get("metrics") or {})]
                              for m in data["versions"]])
        return
    from gitreg import yamlio

    console.print(printable(yamlio.dump(data).rstrip()), markup=False)


@command("history")
def history_cmd(
    name: str = typer.Argument(..., help="Model name."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Every event of a model in seq order, with actor, reason, commit and tag."""
    reg = reader()
    data = reg.history(name)
    if as_json:
        print_json(data)
        return
    columns = [("seq", False), ("action", False), ("version", False), ("stage", True), ("at", False),
               ("by", False), ("reason", True), ("commit", False), ("tag", False)]
    rows = []
    for e in data["events"]:
        move = f"{e['from'] or 'none'} -> {e['to']}" if e.get("to") or e.get("from") else ""
        if e.get("alias"):
            move = f"@{e['alias']}" + (" removed" if e["action"] == "unalias" else "")
        at = (e["at"] or "").replace("T", " ").removesuffix("Z")[:16]
        rows.append([str(e["seq"]), e["action"], e["version"] or "(model)", move, at, e["by"] or "",
                     e["reason"] or "", (e["commit"] or "")[:8], e["tag"] or ""])
    print_table(columns, rows, heading=3)
