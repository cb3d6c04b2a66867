"""The lifecycle: stages, the transition table, exclusive stages and per-stage policies."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Mapping

from gitreg.core.aliases import check_alias
from gitreg.core.names import NONE_STAGE, check_name, check_stage
from gitreg.errors import PolicyError, UserError

DEFAULT_BRANCH = "main"
PRODUCTION = "production"
ARCHIVED = "archived"

# The default gitreg.yaml written by `gitreg init` (DESIGN.md section 3, the seed's
# best practices): production only from staging, one approval, archive the old holder.
DEFAULT_CONFIG: dict[str, Any] = {
    "schema_version": 1,
    "branch": DEFAULT_BRANCH,
    "stages": ["staging", "production", "archived"],
    "transitions": {
        "none": ["staging", "archived"],
        "staging": ["production", "archived", "none"],
        "production": ["archived"],
        "archived": ["staging", "production"],
    },
    "exclusive": ["production"],
    "archive_stage": "archived",
    "rollback_stage": "production",
    "policies": {
        "production": {"from": ["staging"], "approvals": 1},
    },
}


@dataclass(frozen=True)
class StagePolicy:
    from_stages: tuple[str, ...] | None = None
    approvals: int = 0
    metrics: tuple[tuple[str, str], ...] = ()
    via_pull_request: bool = False
    require_signed: bool = False


@dataclass(frozen=True)
class AliasRules:
    """gitreg.yaml `aliases:`: the allowed names (None: any valid name) and per-alias policies."""

    allowed: tuple[str, ...] | None = None
    policies: Mapping[str, StagePolicy] = field(default_factory=dict)


@dataclass(frozen=True)
class Lifecycle:
    stages: tuple[str, ...]
    transitions: Mapping[str, tuple[str, ...]]
    exclusive: frozenset[str]
    archive_stage: str | None
    rollback_stage: str
    policies: Mapping[str, StagePolicy] = field(default_factory=dict)
    branch: str = DEFAULT_BRANCH
    extra_schema: str | None = None
    aliases: AliasRules = AliasRules()

    def alias(self, value: object) -> str:
        """Normalise an alias given by a user: the name rule, then gitreg.yaml's allowed list."""
        name = check_alias(value, self.stages, self.archive_stage)
        allowed = self.aliases.allowed
        if allowed is not None and name not in allowed:
            raise PolicyError(f"alias {name!r} is not allowed by gitreg.yaml",
                              "allowed aliases: " + (", ".join(allowed) or "none")
                              + " (aliases.allowed in gitreg.yaml)")
        return name

    def alias_policy(self, alias: str) -> StagePolicy:
        return self.aliases.policies.get(alias, StagePolicy())

    def signed_targets(self) -> list[str]:
        """Stages, and aliases as `@ALIAS`, whose policy sets require_signed: their
        approvals count only from signed `gitreg approve` commits (validate, doctor)."""
        return ([s for s in self.stages if self.policy(s).require_signed]
                + [f"@{a}" for a, p in sorted(self.aliases.policies.items()) if p.require_signed])

    def stage(self, value: object, allow_none: bool = False) -> str:
        """Normalise a stage given by a user; unknown stages are refused with the list."""
        name = check_stage(value, allow_none=allow_none)
        if name == NONE_STAGE or name in self.stages:
            return name
        close = difflib.get_close_matches(name, self.stages, n=1)
        raise UserError(
            f"unknown stage {name!r}",
            (f"did you mean {close[0]!r}? " if close else "")
            + "stages in gitreg.yaml: " + ", ".join(self.stages),
        )

    def allowed(self, source: str, target: str) -> bool:
        return target in self.transitions.get(source, ())

    def allowed_from(self, source: str) -> tuple[str, ...]:
        return self.transitions.get(source, ())

    def policy(self, stage: str) -> StagePolicy:
        return self.policies.get(stage, StagePolicy())

    def is_exclusive(self, stage: str) -> bool:
        return stage in self.exclusive


def lifecycle_from_config(data: Mapping[str, Any]) -> Lifecycle:
    """Build the lifecycle from a schema-valid gitreg.yaml mapping, checking cross-references."""
    stages = tuple(check_stage(s) for s in data.get("stages", DEFAULT_CONFIG["stages"]))
    known = set(stages) | {NONE_STAGE}
    if len(set(stages)) != len(stages):
        raise UserError("gitreg.yaml lists a stage twice", "list each stage once under stages:")

    def known_stage(value: object, where: str) -> str:
        name = check_stage(value, allow_none=True)
        if name not in known:
            raise UserError(
                f"gitreg.yaml {where} names unknown stage {name!r}",
                "add it to stages: or fix the spelling",
            )
        return name

    transitions: dict[str, tuple[str, ...]] = {}
    for src, targets in (data.get("transitions") or {}).items():
        s = known_stage(src, "transitions")
        transitions[s] = tuple(known_stage(t, f"transitions.{src}") for t in (targets or []))
    exclusive = frozenset(known_stage(s, "exclusive") for s in data.get("exclusive") or [])
    archive = data.get("archive_stage", ARCHIVED if ARCHIVED in stages else None)
    archive_stage = known_stage(archive, "archive_stage") if archive else None
    rollback_stage = data.get("rollback_stage", PRODUCTION)
    rollback_stage = check_stage(rollback_stage)
    policies: dict[str, StagePolicy] = {}
    for stage, raw in (data.get("policies") or {}).items():
        st = known_stage(stage, "policies")
        raw = raw or {}
        froms = raw.get("from")
        policies[st] = StagePolicy(
            from_stages=(
                tuple(known_stage(f, f"policies.{stage}.from") for f in froms)
                if froms is not None
                else None
            ),
            approvals=int(raw.get("approvals", 0)),
            metrics=tuple((str(k), str(v)) for k, v in (raw.get("metrics") or {}).items()),
            via_pull_request=bool(raw.get("via_pull_request", False)),
            require_signed=bool(raw.get("require_signed", False)),
        )
    aliases = _alias_rules(data.get("aliases") or {}, stages, archive_stage)
    branch = data.get("branch") or DEFAULT_BRANCH
    check_name(branch.replace("/", "-"), "registry branch")
    return Lifecycle(
        stages=stages,
        transitions=transitions,
        exclusive=exclusive,
        archive_stage=archive_stage,
        rollback_stage=rollback_stage,
        policies=policies,
        branch=branch,
        extra_schema=data.get("extra_schema"),
        aliases=aliases,
    )


def _alias_rules(raw: Mapping[str, Any], stages: tuple[str, ...], archive: str | None) -> AliasRules:
    def alias(value: object, where: str) -> str:
        try:
            return check_alias(value, stages, archive)
        except UserError as exc:
            raise UserError(f"gitreg.yaml {where}: {exc.message}", exc.hint) from None

    allowed = raw.get("allowed")
    names = tuple(alias(a, "aliases.allowed") for a in allowed) if allowed is not None else None
    policies: dict[str, StagePolicy] = {}
    for key, pol in (raw.get("policies") or {}).items():
        name = alias(key, "aliases.policies")
        if names is not None and name not in names:
            raise UserError(f"gitreg.yaml aliases.policies names {name!r}, which aliases.allowed omits",
                            "add it to aliases.allowed or remove its policy")
        pol = pol or {}
        policies[name] = StagePolicy(
            approvals=int(pol.get("approvals", 0)),
            metrics=tuple((str(k), str(v)) for k, v in (pol.get("metrics") or {}).items()),
            require_signed=bool(pol.get("require_signed", False)))
    return AliasRules(names, policies)
