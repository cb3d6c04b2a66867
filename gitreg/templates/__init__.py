"""Files gitreg writes into users' registries: the GitHub Actions workflows of `init --github`."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

from gitreg import yamlio
from gitreg.errors import UserError

WORKFLOWS_DIR = ".github/workflows"
# gitreg's distribution name on PyPI. The import package and the command stay `gitreg`, but
# PyPI's `gitreg` is an unrelated 0.0.1 project (2022): CI must never install that.
DIST_NAME = "gitreg-registry"
PLACEHOLDER = '"__GITREG_PACKAGE__"'
# What a pip requirement may contain here: the value lands in a YAML string and then in
# `pip install "$GITREG_PACKAGE"`, so nothing that quotes, escapes, expands (`$`, `${{ }}`)
# or chains commands.
_SAFE = re.compile(r"[A-Za-z0-9._+/:@=~%#,<>*\[\]!-]+( @ [A-Za-z0-9._+/:@=~%#,!-]+)?")
_PINNED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?===?[A-Za-z0-9.+!-]+")
_ARCHIVE = (".whl", ".tar.gz", ".zip")
_PIN_HINT = (f"give a pinned spec: {DIST_NAME}==VERSION, git+https://HOST/ORG/REPO@COMMIT, "
             "or the path or URL of a wheel")


def workflow_templates() -> dict[str, str]:
    """{file name: text} of every workflow shipped in gitreg/templates/workflows/."""
    folder = resources.files(__package__).joinpath("workflows")
    return {item.name: item.read_text("utf-8") for item in sorted(folder.iterdir(), key=lambda i: i.name)
            if item.is_file() and item.name.endswith((".yml", ".yaml"))}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def check_package_spec(spec: str) -> str:
    """The --package SPEC of `init --github`, refused unless it pins what CI installs."""
    if not isinstance(spec, str) or not _SAFE.fullmatch(spec):
        raise UserError(f"--package {spec!r} has characters that do not belong in a pip requirement",
                        "no quotes, $, ;, |, &, {, }, backslashes, newlines or spaces (but `NAME @ URL`); " + _PIN_HINT)
    if spec.startswith("git+") or " @ git+" in spec:
        url = spec.split(" @ ", 1)[-1]
        path = url.split("://", 1)[-1].split("#", 1)[0]
        if "@" not in path.rsplit("/", 1)[-1]:
            raise UserError(f"--package {spec!r} installs whatever that branch holds when CI runs",
                            "pin it to a commit: git+https://HOST/ORG/REPO@COMMIT")
        return spec
    if spec.split("#", 1)[0].endswith(_ARCHIVE):
        return spec
    if _PINNED_NAME.fullmatch(spec):
        name = _normal(re.split(r"[\[=]", spec, maxsplit=1)[0])
        if name == "gitreg":
            raise UserError(f"--package {spec!r} is PyPI's `gitreg`, an unrelated project",
                            f"gitreg is published as {DIST_NAME}: --package {DIST_NAME}=={_version()}")
        return spec
    raise UserError(f"--package {spec!r} is not pinned, so CI would install whatever the index "
                    "serves that day", _PIN_HINT)


def _version() -> str:
    from gitreg import __version__

    return __version__


def installed_spec() -> str:
    """What CI should install by default: this gitreg, pinned.

    From a git URL (PEP 610 direct_url.json) the same commit; otherwise DIST_NAME at the
    installed version (an editable or local install has no URL CI could reach).
    """
    from importlib import metadata

    try:
        dist = metadata.distribution(DIST_NAME)
    except metadata.PackageNotFoundError:
        return f"{DIST_NAME}=={_version()}"
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        direct = {}
    vcs, url = direct.get("vcs_info") or {}, str(direct.get("url") or "")
    if vcs.get("vcs") == "git" and vcs.get("commit_id") and url.startswith(("https://", "ssh://")):
        spec = f"git+{url}@{vcs['commit_id']}"
        if _SAFE.fullmatch(spec):
            return spec
    return f"{DIST_NAME}=={dist.version}"


def render(text: str, package: str) -> str:
    """A workflow template with its GITREG_PACKAGE filled in (a checked spec, JSON-quoted)."""
    return text.replace(PLACEHOLDER, json.dumps(package))


def write_github(root: Path, package: str | None = None) -> list[str]:
    """Write the workflows into root/.github/workflows/; returns the paths written.

    `package` is what they install (checked with check_package_spec; default installed_spec()).

    Idempotent: a file already identical is left alone. A file the user changed is left
    alone too (their edit wins); `gitreg init --github` reports only what it wrote.
    """
    package = check_package_spec(package) if package is not None else installed_spec()
    target = Path(root) / WORKFLOWS_DIR
    written: list[str] = []
    for name, text in workflow_templates().items():
        path = target / name
        if path.exists():
            continue
        target.mkdir(parents=True, exist_ok=True)
        yamlio.write_atomic(path, render(text, package))
        written.append(f"{WORKFLOWS_DIR}/{name}")
    return written
