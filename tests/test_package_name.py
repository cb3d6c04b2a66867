"""The distribution name (PyPI's `gitreg` is someone else's) and what CI workflows install."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

from conftest import git, snapshot
from gitreg import __version__, templates, yamlio

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "gitreg" / "templates" / "workflows"
PINNED = f"gitreg-registry=={__version__}"


def _installs(text: str) -> tuple[list[str], list[str]]:
    """(GITREG_PACKAGE values, every `pip install ...` command) of one workflow."""
    data = yamlio.loads(text, "workflow")
    values = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "GITREG_PACKAGE" in node:
                values.append(node["GITREG_PACKAGE"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(data)
    return values, re.findall(r"pip install [^\n]*", text)


def test_pyproject_names_the_distribution_the_code_asks_for():
    if sys.version_info < (3, 11):
        pytest.skip("tomllib is 3.11+")
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == templates.DIST_NAME == "gitreg-registry"
    assert project["scripts"] == {"gitreg": "gitreg.cli.main:run"}  # the command stays gitreg
    assert metadata.version(templates.DIST_NAME) == __version__  # the installed wheel's name


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES.glob("*.yml")))
def test_no_template_installs_the_bare_or_an_unpinned_gitreg(name):
    raw = (TEMPLATES / name).read_text()
    values, commands = _installs(templates.render(raw, templates.installed_spec()))
    assert values == [PINNED], values
    for cmd in commands:
        assert cmd in ('pip install "$GITREG_PACKAGE"', "pip install -r requirements.txt; fi"), cmd
    assert not re.search(r"pip install ['\"]?gitreg\b(?!-registry)", raw)
    assert templates.PLACEHOLDER in raw


def test_init_github_package_writes_the_spec_into_every_workflow(repo, cli):
    spec = "git+https://github.com/acme/gitreg@0123456789abcdef0123456789abcdef01234567"
    res = cli(None, "init", str(repo), "--github", "--package", spec)
    assert res.exit_code == 0, res.output
    written = sorted((repo / ".github" / "workflows").glob("*.yml"))
    assert [p.name for p in written] == sorted(p.name for p in TEMPLATES.glob("*.yml"))
    for path in written:
        assert _installs(path.read_text())[0] == [spec], path.name
    assert git(repo, "status", "--porcelain") == ""


def test_init_github_default_pins_this_version(repo, cli):
    assert cli(None, "init", str(repo), "--github").exit_code == 0
    for path in (repo / ".github" / "workflows").glob("*.yml"):
        assert _installs(path.read_text())[0] == [PINNED], path.name


@pytest.mark.parametrize("spec", [
    f"gitreg-registry=={__version__}", "gitreg-registry[s3]==0.1.0", "acme-gitreg===1.2.3",
    "git+https://github.com/org/gitreg@v0.1.0", "git+ssh://git@github.com/org/gitreg@abc1234",
    "gitreg-registry @ git+https://github.com/org/gitreg@abc1234",
    "dist/gitreg_registry-0.1.0-py3-none-any.whl", "https://example.com/gitreg_registry-0.1.0.tar.gz",
])
def test_pinned_specs_are_accepted(spec):
    assert templates.check_package_spec(spec) == spec


@pytest.mark.parametrize("spec,says", [
    ("gitreg", "not pinned"),
    ("gitreg-registry", "not pinned"),
    ("gitreg-registry>=0.1", "not pinned"),
    ("gitreg==0.0.1", "PyPI's `gitreg`, an unrelated project"),
    ("GitReg==0.0.1", "PyPI's `gitreg`, an unrelated project"),  # the same name, normalised
    ("git+https://github.com/org/gitreg", "installs whatever that branch holds"),
    ("gitreg-registry==0.1.0\nrun: curl evil", "characters that do not belong"),
    ("gitreg-registry==0.1.0; rm -rf ~", "characters that do not belong"),
    ("$(curl evil)", "characters that do not belong"),
    ("${{ secrets.GITREG_TOKEN }}", "characters that do not belong"),
    ('gitreg-registry=="0.1.0"', "characters that do not belong"),
    ("", "characters that do not belong"),
])
def test_init_refuses_unpinned_or_unsafe_specs_and_touches_nothing(repo, cli, spec, says):
    before = snapshot(repo)
    res = cli(None, "init", str(repo), "--github", "--package", spec)
    assert res.exit_code == 1, res.output
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --package ") and says in lines[0], lines
    assert "(hint: " in lines[0]
    assert snapshot(repo) == before


def test_package_without_github_is_a_usage_error(repo, cli):
    res = cli(None, "init", str(repo), "--package", PINNED)
    assert res.exit_code == 2
    assert res.stderr == "error: --package is only used with --github (hint: add --github, or drop --package)\n"


def test_every_package_under_gitreg_is_shipped_in_the_wheel():
    """pyproject lists packages by hand: a new subpackage missing there breaks `pip install .`."""
    root = Path(__file__).resolve().parent.parent
    line = re.search(r"^packages = \[(.*)\]$", (root / "pyproject.toml").read_text(), re.M)
    assert line, "pyproject.toml lists no packages"
    listed = set(re.findall(r'"([^"]+)"', line[1]))
    found = {".".join(p.parent.relative_to(root).parts) for p in (root / "gitreg").rglob("__init__.py")}
    assert found - {"gitreg.templates.workflows"} <= listed, sorted(found - listed)
