"""Workflow files (templates and the project's own) lint clean; init --github; codeowners."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git
import ops.test_ci_flow as flow
from gitreg import Registry, templates, yamlio

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "gitreg" / "templates" / "workflows"
_seed = flow._seed  # the seeded registry of test_ci_flow (built once per session)
seeded = flow.seeded
WORKFLOW_FILES = sorted(TEMPLATES.glob("*.yml")) + sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def linter() -> str:
    """check-jsonschema (offline, ships GitHub's workflow schema); CI installs it."""
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")
    assert exe, "check-jsonschema is not installed: pip install check-jsonschema"
    return exe


def lint(paths: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run([linter(), "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
                          capture_output=True, text=True, check=False)


def load(path: Path) -> dict:
    data = yamlio.load_file(path)
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads `on` as True
    return data


def test_every_workflow_file_passes_the_linter():
    names = {p.name for p in WORKFLOW_FILES}
    assert {"gitreg-check.yml", "gitreg-publish.yml", "gitreg-promote.yml", "gitreg-deploy.yml",
            "gitreg-train-and-register.yml", "ci.yml"} <= names
    proc = lint(WORKFLOW_FILES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_linter_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\non: push\njobs:\n  a:\n    steps: [{run: echo}]\n")  # no runs-on
    proc = lint([bad])
    assert proc.returncode != 0 and "runs-on" in proc.stdout


@pytest.mark.parametrize("tag,fires", [
    ("churn#production#7", True),
    ("fraud-detector#production#12", True),
    ("churn#production!#7", False),  # unassignment
    ("churn#staging#3", False),
    ("churn@v1.2.0", False),
    ("churn#archived#8", False),
])
def test_deploy_fires_only_for_production_assignments(tag, fires):
    patterns = load(TEMPLATES / "gitreg-deploy.yml")["on"]["push"]["tags"]
    assert any(fnmatch.fnmatchcase(tag, p) for p in patterns) is fires


def test_deploy_fetches_tags_again_after_checkout():
    steps = load(TEMPLATES / "gitreg-deploy.yml")["jobs"]["deploy"]["steps"]
    checkout = next(i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("actions/checkout"))
    fetch = next(i for i, s in enumerate(steps) if "git fetch --force --tags" in s.get("run", ""))
    assert checkout < fetch


def test_templates_run_the_gitreg_commands():
    check = load(TEMPLATES / "gitreg-check.yml")
    assert "pull_request" in check["on"]
    assert any("gitreg ci check --base" in s.get("run", "") for s in check["jobs"]["check"]["steps"])
    publish = load(TEMPLATES / "gitreg-publish.yml")
    assert publish["on"]["push"]["branches"] == ["main"]
    steps = publish["jobs"]["publish"]["steps"]
    assert any("gitreg ci publish" in s.get("run", "") for s in steps)
    assert steps[0]["with"]["fetch-depth"] == 0
    promote = load(TEMPLATES / "gitreg-promote.yml")
    assert {"model", "version", "stage", "reason"} <= set(promote["on"]["workflow_dispatch"]["inputs"])
    runs = " ".join(s.get("run", "") for s in promote["jobs"]["promote"]["steps"])
    assert "gitreg validate" in runs and "gitreg promote" in runs and "--release" in runs
    # inputs reach the shell through env, never pasted into scripts (injection)
    assert "${{ inputs." not in runs
    train = load(TEMPLATES / "gitreg-train-and-register.yml")
    assert any("gitreg register" in s.get("run", "") for s in train["jobs"]["train"]["steps"])


def test_write_github_copies_every_template_and_is_idempotent(tmp_path):
    written = templates.write_github(tmp_path)
    assert sorted(written) == sorted(f".github/workflows/{p.name}" for p in TEMPLATES.iterdir()
                                     if p.suffix in (".yml", ".yaml"))
    for p in TEMPLATES.glob("*.yml"):  # as shipped, with the pinned package filled in
        assert (tmp_path / ".github" / "workflows" / p.name).read_text() == \
            templates.render(p.read_text(), templates.installed_spec())
    edited = tmp_path / ".github" / "workflows" / "gitreg-check.yml"
    edited.write_text("# mine\n")
    assert templates.write_github(tmp_path) == []
    assert edited.read_text() == "# mine\n"  # a user's edit is never overwritten


def test_init_github_commits_the_workflows(repo):
    result = Registry.init(repo, github=True)
    assert ".github/workflows/gitreg-publish.yml" in result.changed and result.commit
    assert "gitreg-deploy.yml" in git(repo, "ls-files", ".github/workflows")
    assert git(repo, "status", "--porcelain") == ""
    again = Registry.init(repo, github=True)
    assert again.changed == [] and again.commit is None


def test_codeowners_maps_each_model_to_its_owner(seeded, cli):
    reg = Registry(seeded)
    misc = seeded / "models" / "misc" / "model.yaml"  # a model nobody owns
    misc.parent.mkdir()
    misc.write_text(yamlio.dump({"schema_version": 1, "name": "misc"}))
    git(seeded, "add", "models/misc")
    git(seeded, "commit", "-q", "-m", "misc")
    path = seeded / ".github" / "CODEOWNERS"
    path.parent.mkdir()
    path.write_text("* @acme/platform\n")
    res = cli(seeded, "codeowners")
    assert res.exit_code == 0, res.output
    assert "misc has no owner" in res.stderr
    text = path.read_text()
    assert text == ("* @acme/platform\n# BEGIN gitreg (written by `gitreg codeowners`; edit owners in "
                    "models/<name>/model.yaml)\n/models/churn/ @data-team\n# END gitreg\n")
    assert reg.codeowners()["changed"] is False and path.read_text() == text
    path.write_text(text + "/docs/ @acme/writers\n")
    model_yaml = seeded / "models" / "churn" / "model.yaml"
    model_yaml.write_text(yamlio.dump({**yamlio.load_file(model_yaml), "owner": "ann@example.com bob"}))
    git(seeded, "commit", "-q", "-am", "churn has two owners now")
    data = reg.codeowners()
    assert data["changed"] and data["owners"]["churn"] == "ann@example.com bob"
    assert data["missing"] == ["misc"]
    new = path.read_text()
    assert "/models/churn/ ann@example.com @bob\n" in new and "data-team" not in new
    assert new.startswith("* @acme/platform\n") and new.endswith("/docs/ @acme/writers\n")
    assert new.count("# BEGIN gitreg") == 1
