"""`gitreg codeowners`: write .github/CODEOWNERS so each model's directory is owned by its owner."""

from __future__ import annotations

import re
from typing import Any

from gitreg import yamlio
from gitreg.ops.context import Context

CODEOWNERS_FILE = ".github/CODEOWNERS"
_BEGIN = "# BEGIN gitreg (written by `gitreg codeowners`; edit owners in models/<name>/model.yaml)"
_END = "# END gitreg"


def codeowners(ctx: Context) -> dict[str, Any]:
    """Write .github/CODEOWNERS so each model's directory is owned by its owner."""
    from gitreg.store import MODELS_DIR

    owners: dict[str, str] = {}
    missing: list[str] = []
    for name in sorted(ctx.store.model_tree()):
        manifests, model = ctx.store.model_manifests(name)
        owner = (model or {}).get("owner")
        if not owner:
            for m in manifests.values():
                owner = (m.get("business") or {}).get("owner") or owner
        if owner and isinstance(owner, str):
            owners[name] = owner
        else:
            missing.append(name)
    lines = [_BEGIN]
    for name, owner in owners.items():
        lines.append(f"/{MODELS_DIR}/{name}/ " + " ".join(_codeowner(o) for o in re.split(r"[\s,]+", owner) if o))
    lines.append(_END)
    block = "\n".join(lines) + "\n"
    path = ctx.root / CODEOWNERS_FILE
    old = path.read_text("utf-8") if path.exists() else ""
    if _BEGIN.split(" (")[0] in old:
        start = old.index(_BEGIN.split(" (")[0])
        end = old.find(_END, start)
        end = len(old) if end < 0 else old.index("\n", end) + 1 if "\n" in old[end:] else len(old)
        text = old[:start] + block + old[end:]
    else:
        text = old + ("\n" if old and not old.endswith("\n") else "") + block
    changed = text != old
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        yamlio.write_atomic(path, text)
    return {"path": CODEOWNERS_FILE, "changed": changed, "owners": owners, "missing": missing}


def _codeowner(owner: str) -> str:
    """CODEOWNERS wants @user, @org/team or an e-mail address."""
    if owner.startswith("@") or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", owner):
        return owner
    return "@" + owner
