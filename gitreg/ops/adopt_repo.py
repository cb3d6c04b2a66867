"""`gitreg init --adopt`: a GTO-only repository (gto tags, dvc.yaml artifacts) made a gitreg registry.

One commit writes gitreg.yaml (the stages gto used, in their order of first use, kept as
gto named them, so `gto show`, `dvc artifacts get --stage` and whatever reacts to the tags
keep working) and models/NAME/... for every version gto registered, with the history replayed
from the tags exactly as `doctor --adopt` does on a registry. Names gitreg cannot store
(`team/churn`) are reported, one line each, and left to gto.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

from gitreg import yamlio
from gitreg.core.names import NONE_STAGE
from gitreg.core.stages import lifecycle_from_config
from gitreg.core.tags import ASSIGN, UNASSIGN, parse_tag
from gitreg.errors import UserError
from gitreg.git import find_root
from gitreg.ops import adopt, gto_tags, sync
from gitreg.ops.context import Context
from gitreg.store import CONFIG_FILE, DVC_YAML, MODELS_DIR

# GTO's own name rule, `/` included: the tags gitreg cannot adopt are found with it
_GTO_NAME = re.compile(r"(?P<name>[a-zA-Z0-9](?:[a-zA-Z0-9-/_]*[a-zA-Z0-9])?)[@#]")
SLASH_HINT = ("gitreg's names are directory names (models/NAME/VERSION/), so `/` is refused; "
              "rename it with a `-` (team-churn) to adopt it")


def config_for(found: list[gto_tags.GtoTag], branch: str) -> dict[str, Any]:
    """gitreg.yaml for a GTO repository: its stages in order of first use, gto's freedom kept.

    GTO has no transitions, exclusive stages or gates: every move is allowed, no stage is
    exclusive, and none is gated, so gitreg refuses nothing gto allowed.
    """
    stages: list[str] = []
    for t in found:
        if t.parsed.kind in (ASSIGN, UNASSIGN) and t.parsed.stage and t.parsed.stage not in stages:
            stages.append(t.parsed.stage)
    anywhere = [NONE_STAGE, *stages]
    config: dict[str, Any] = {
        "schema_version": 1, "branch": branch, "stages": stages,
        "transitions": {s: [o for o in anywhere if o != s] for s in anywhere},
        "exclusive": [],
    }
    for name in ("production", "prod"):
        if name in stages:
            config["rollback_stage"] = name
            break
    return config


def not_adoptable(tag_names: list[str]) -> list[str]:
    """One line per model name gitreg cannot store (GTO allows `/`)."""
    names = sorted({m["name"] for t in tag_names if (m := _GTO_NAME.match(t)) and "/" in m["name"]})
    return [f"{name}: not adopted: {SLASH_HINT}" for name in names]


def _open(path: str | Path, env: Mapping[str, str] | None) -> Context:
    start = Path(path)
    root = find_root(start, env) if start.exists() else None
    if root is None:
        raise UserError(f"{start} is not a git repository", "run `gitreg init --adopt` inside the GTO repository")
    if (root / CONFIG_FILE).exists():
        raise UserError(f"{root} is a gitreg registry already ({CONFIG_FILE} is there)",
                        "run `gitreg doctor --adopt` to adopt gto's newer tags")
    if not (root / ".dvc").is_dir() or not (root / DVC_YAML).exists():
        raise UserError(f"{root} has no DVC project with a {DVC_YAML}, so gto's artifacts cannot be found",
                        "run it in the repository whose dvc.yaml `artifacts:` gto registers")
    return Context(root, env=env)


def adopt_repository(path: str | Path = ".", *, env: Mapping[str, str] | None = None,
                     push: bool = False) -> Any:
    """Make a GTO-only repository a gitreg registry, in one commit. Nothing changes on refusal."""
    ctx = _open(path, env)
    if push:
        sync.require_remote(ctx)
    with ctx.store.locked():
        actor = ctx.actor()
        ctx.store.require_clean(paths=(DVC_YAML,))
        all_tags = [r.name for r in ctx.store.tags()]
        skipped = not_adoptable(all_tags)
        models = {p.name for p in (parse_tag(t) for t in all_tags) if p is not None}
        found = gto_tags.gto_tags(ctx, (), models)
        if not found:
            raise UserError(f"{ctx.root} has no gto tags gitreg can adopt"
                            + (f" ({len(skipped)} model name(s) with `/`)" if skipped else ""),
                            "run `gitreg init` to start an empty registry")
        taken = sorted(n for n in {t.model for t in found} if (ctx.root / MODELS_DIR / n).exists())
        if taken:
            raise UserError(f"{MODELS_DIR}/{taken[0]} exists already, and gitreg keeps model {taken[0]}'s "
                            "versions there", f"move {MODELS_DIR}/{taken[0]} elsewhere (and update dvc.yaml), "
                            "then run `gitreg init --adopt` again")
        branch = ctx.git.current_branch()
        if not branch:
            raise UserError("this clone is on a detached HEAD", "switch to the branch gto's repository uses")
        config = config_for(found, branch)
        lifecycle = lifecycle_from_config(config)
        plans = adopt.plan_all(ctx, found, actor, lifecycle)
        text = ("# gitreg registry adopted from GTO (`gitreg init --adopt`): gto's stages, in order of\n"
                "# first use; GTO has no transitions, exclusive stages or gates, so none are set.\n"
                + yamlio.dump(config))
        result = adopt.commit(ctx, plans, actor, lifecycle=lifecycle, files={CONFIG_FILE: text})
        result.warnings = skipped
        result.message = result.message.replace("adopted", "made a gitreg registry: adopted", 1)
        if push:
            sync.push(ctx, result)
            adopt.push_adopted(ctx, result.details["adopted"])
        return result
