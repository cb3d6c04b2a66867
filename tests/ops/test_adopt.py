"""`gitreg doctor --adopt`: tags the real gto wrote on a registry become gitreg history, and then
gitreg, gto and `dvc artifacts get` agree and doctor is clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from agree import assert_tools_agree, gitreg_json
from conftest import BOB, CAROL, GTO, as_user, git, snapshot
from gitreg import yamlio

M = "m"
# gto 1.10.1 makes tags through scmrepo: pygit2 refuses GIT_COMMITTER_DATE, dulwich (the fallback)
# dates the tag with time.time(). This runs the real gto CLI with dulwich's clock reading
# GIT_COMMITTER_DATE, so tests set GTO's one-second order from the environment (no sleeping).
_GTO_AT = r"""
import os, sys, time
when = float(os.environ["GIT_COMMITTER_DATE"].split()[0])
time.time = lambda: when
from gto.cli import app
sys.argv = ["gto", *sys.argv[1:]]
app()
"""


class Gto:
    """The real gto in a subprocess; each call one second after the last (GTO's resolution)."""

    def __init__(self, repo: Path):
        self.repo = repo
        self.when = int(time.time()) + 60  # after every tag gitreg wrote in the test so far

    def __call__(self, *args: str, who: str = BOB) -> None:
        assert GTO, "the real gto is not installed"
        self.when += 1
        env = {**os.environ, **as_user(who), "GIT_COMMITTER_DATE": f"{self.when} +0000"}
        proc = subprocess.run([sys.executable, "-c", _GTO_AT, *args], cwd=self.repo, env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def _no_approvals(repo: Path) -> None:
    cfg = yamlio.load_file(repo / "gitreg.yaml")
    cfg["policies"] = {"production": {"from": ["staging"], "approvals": 0}}
    (repo / "gitreg.yaml").write_text(yamlio.dump(cfg))
    git(repo, "commit", "-qam", "policy: no approvals")


def _registered(cli, repo: Path, make_artifact, *versions: str) -> None:
    _no_approvals(repo)
    for v in versions:
        r = cli(repo, "register", M, str(make_artifact(512)), "--version", v)
        assert r.exit_code == 0, r.output


def _history(cli, repo: Path) -> list[dict]:
    return json.loads(cli(repo, "history", M, "--json").stdout)["events"]


def test_gto_assignments_are_named_then_adopted_and_every_tool_agrees(cli, repo, make_artifact):
    _registered(cli, repo, make_artifact, "0.1.0", "0.2.0", "0.3.0")
    gto = Gto(repo)
    gto("assign", M, "--version", "v0.1.0", "--stage", "staging")
    gto("assign", M, "--version", "v0.2.0", "--stage", "production", who=CAROL)
    gto("assign", M, "--version", "v0.1.0", "--stage", "production")  # exclusive: 0.2.0 leaves
    gto("assign", M, "--version", "v0.3.0", "--stage", "staging")
    gto("deprecate", M, "v0.3.0", "staging")  # an unassignment
    assert gitreg_json(repo, "list")["models"][0]["stages"] == {}  # gitreg ignored them so far

    r = cli(repo, "doctor")
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.startswith("gto: ")]
    assert len(lines) == 5, r.output
    assert lines[0].startswith(f"gto: {M}#staging#") and "0.1.0 assigned to staging by bob@example.com" in lines[0]
    assert all("`gitreg doctor --adopt` records it" in ln for ln in lines)
    assert "extra" not in r.output and "unfixable" not in r.output
    assert "gitreg doctor --adopt" in r.output.splitlines()[-1]

    r = cli(repo, "doctor", "--adopt")
    assert r.exit_code == 0, r.output
    assert "adopted 5 gto tag(s)" in r.output and "ok: tags match the manifests" in r.output
    state = assert_tools_agree(repo, [M])[M]
    assert state["stages"] == {"production": "0.1.0", "archived": "0.2.0"}

    events = _history(cli, repo)
    adopted = [e for e in events if e["tag"] and "#" in e["tag"] and e["action"] != "register"]
    promote_prod = next(e for e in events if e["version"] == "0.1.0" and e["to"] == "production")
    assert (promote_prod["from"], promote_prod["by"]) == ("staging", BOB)
    assert promote_prod["at"] == _tag_time(repo, promote_prod["tag"])
    carol = next(e for e in events if e["version"] == "0.2.0" and e["to"] == "production")
    assert carol["by"] == CAROL
    left = next(e for e in events if e["version"] == "0.3.0" and e["action"] == "archive")
    assert (left["from"], left["to"]) == ("staging", "none")
    assert len(adopted) >= 5
    m1 = yamlio.load_file(repo / "models" / M / "0.1.0" / "manifest.yaml")
    assert [h["adopted_from"] for h in m1["history"] if "adopted_from" in h] == \
        [f"{M}#staging#{_n(repo, 'staging', '0.1.0')}", promote_prod["tag"]]
    # one commit, authored by whoever adopted; a second --adopt has nothing to do
    assert git(repo, "log", "-1", "--format=%ae %s").startswith("alice@example.com gitreg: adopt 5 gto tag(s)")
    head = git(repo, "rev-parse", "HEAD")
    r = cli(repo, "doctor", "--adopt")
    assert r.exit_code == 0 and "nothing to adopt" in r.output
    assert git(repo, "rev-parse", "HEAD") == head

    # gitreg carries on from the adopted state; gto's next tag is adopted after it
    r = cli(repo, "promote", M, "0.3.0", "staging")
    assert r.exit_code == 0, r.output
    gto.when = max(gto.when, int(time.time()) + 120)
    gto("assign", M, "--version", "v0.3.0", "--stage", "production")
    assert cli(repo, "doctor", "--adopt").exit_code == 0
    assert assert_tools_agree(repo, [M])[M]["stages"] == {"production": "0.3.0", "archived": "0.1.0"}


def _tag_time(repo: Path, tag: str) -> str:
    out = git(repo, "for-each-ref", "--format=%(taggerdate:iso-strict)", f"refs/tags/{tag}").strip()
    return out.replace("+00:00", "Z")


def _n(repo: Path, stage: str, version: str) -> str:
    target = git(repo, "rev-parse", f"{M}@v{version}^{{commit}}").strip()
    for line in git(repo, "for-each-ref", "--format=%(refname:strip=2) %(*objectname)",
                    f"refs/tags/{M}#{stage}#*").splitlines():
        name, obj = line.split()
        if obj == target:
            return name.rsplit("#", 1)[1]
    raise AssertionError(f"no {stage} tag of {version}")


def test_adopt_refuses_a_tag_it_cannot_record_and_changes_nothing(cli, repo, make_artifact):
    _registered(cli, repo, make_artifact, "0.1.0")
    gto = Gto(repo)
    gto("assign", M, "--version", "v0.1.0", "--stage", "staging")
    # an assignment of a commit no version is registered at (gto calls it a version by its sha)
    git(repo, "commit", "-q", "--allow-empty", "-m", "unrelated")
    gto("assign", M, "HEAD", "--stage", "production")
    before = snapshot(repo)
    r = cli(repo, "doctor", "--adopt")
    assert r.exit_code == 1
    assert len(r.output.strip().splitlines()) == 1, r.output
    assert r.output.startswith(f"error: cannot adopt {M}#production#") and "nothing was changed" in r.output
    assert "hint:" in r.output
    assert snapshot(repo) == before


def test_push_goes_with_adopt(cli, repo):
    before = snapshot(repo)
    r = cli(repo, "doctor", "--push")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert snapshot(repo) == before


def test_adopt_push_sends_the_commit_and_gtos_tags(cli, repo, bare_remote, make_artifact):
    _registered(cli, repo, make_artifact, "0.1.0")
    git(repo, "push", "-q", "origin", "main", "--tags")
    Gto(repo)("assign", M, "--version", "v0.1.0", "--stage", "staging")  # left local, as gto does
    r = cli(repo, "doctor", "--adopt", "--push")
    assert r.exit_code == 0, r.output
    assert "pushed" in r.output
    remote_tags = git(bare_remote, "tag", "--list").split()
    assert any(t.startswith(f"{M}#staging#") for t in remote_tags)
    assert git(bare_remote, "rev-parse", "main") == git(repo, "rev-parse", "HEAD")


def _dvc(repo: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _gto_version(repo: Path, content: bytes, path: str = "train/model.pkl") -> None:
    """What a gto user does: a DVC-tracked file, named by dvc.yaml `artifacts:`, committed."""
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    _dvc(repo, "add", path)
    data = yamlio.load_file(repo / "dvc.yaml")
    data["artifacts"][M] = {"path": path, "type": "model", "desc": "trained outside gitreg"}
    (repo / "dvc.yaml").write_text(yamlio.dump(data))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "train: new model")


def test_a_version_gto_registered_gets_a_manifest_from_dvc_yaml_and_its_dvc_file(cli, repo, make_artifact):
    _registered(cli, repo, make_artifact, "0.1.0")
    _gto_version(repo, b"bytes trained outside gitreg" * 50)
    gto = Gto(repo)
    gto("register", M, "--version", "v0.2.0")
    gto("assign", M, "--version", "v0.2.0", "--stage", "staging", who=CAROL)
    r = cli(repo, "doctor")
    assert r.exit_code == 1 and f"gto: {M}@v0.2.0: {M} 0.2.0 registered by bob@example.com" in r.output

    r = cli(repo, "doctor", "--adopt")
    assert r.exit_code == 0, r.output
    state = assert_tools_agree(repo, [M])[M]  # DVC fetched the bytes of train/model.pkl
    assert state == {"latest": "0.2.0", "stages": {"staging": "0.2.0"}, "aliases": {}}
    m = yamlio.load_file(repo / "models" / M / "0.2.0" / "manifest.yaml")
    assert (m["created_by"], m["description"]) == (BOB, "trained outside gitreg")
    assert m["history"][0]["adopted_from"] == f"{M}@v0.2.0"
    dvc_file = yamlio.load_file(repo / "train" / "model.pkl.dvc")
    assert m["artifacts"] == [{"path": "model.pkl", "md5": dvc_file["outs"][0]["md5"],
                               "size": dvc_file["outs"][0]["size"]}]
    # the register tag stays where gto put it; gitreg's resolve names that commit
    resolved = gitreg_json(repo, "resolve", f"{M}@0.2.0")
    assert resolved["commit"] == git(repo, "rev-parse", f"{M}@v0.2.0^{{commit}}").strip()
    # and gitreg get fetches the same bytes through DVC
    out = repo.parent / "got"
    r = cli(repo, "get", f"{M}#staging", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert (out / "model.pkl").read_bytes() == (repo / "train" / "model.pkl").read_bytes()


def test_a_gto_registration_with_no_dvc_tracked_file_is_refused(cli, repo, make_artifact):
    _registered(cli, repo, make_artifact, "0.1.0")
    data = yamlio.load_file(repo / "dvc.yaml")
    data["artifacts"][M] = {"path": "nowhere/model.pkl", "type": "model"}
    (repo / "dvc.yaml").write_text(yamlio.dump(data))
    git(repo, "commit", "-qam", "point at a file DVC does not track")
    Gto(repo)("register", M, "--version", "v0.2.0")
    before = snapshot(repo)
    r = cli(repo, "doctor", "--adopt")
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1, r.output
    assert f"cannot adopt {M}@v0.2.0: nowhere/model.pkl is not tracked by DVC" in r.output
    assert snapshot(repo) == before


def test_a_gto_deregistration_becomes_a_deprecation_and_the_stage_moves_on(cli, repo, make_artifact):
    _registered(cli, repo, make_artifact, "0.1.0", "0.2.0")
    gto = Gto(repo)
    gto("assign", M, "--version", "v0.2.0", "--stage", "staging")
    gto("assign", M, "--version", "v0.1.0", "--stage", "staging")
    gto("deprecate", M, "v0.1.0", "-m", "leaks labels")  # NAME@v0.1.0!
    r = cli(repo, "doctor")
    assert r.exit_code == 1 and f"gto: {M}@v0.1.0!: {M} 0.1.0 deregistered by bob@example.com" in r.output
    assert cli(repo, "doctor", "--adopt").exit_code == 0
    # gto no longer sees 0.1.0; gitreg records it deprecated, out of staging; DVC gets 0.2.0
    assert assert_tools_agree(repo, [M])[M]["stages"] == {"staging": "0.2.0"}
    m = yamlio.load_file(repo / "models" / M / "0.1.0" / "manifest.yaml")
    last = m["history"][-1]
    assert (last["action"], last["from"], last["by"], last["adopted_from"]) == \
        ("deprecate", "staging", BOB, f"{M}@v0.1.0!")
    assert m["stage"] == "none" and m["deprecated"]["by"] == BOB
    assert m["deprecated"]["reason"] == "leaks labels"


def test_a_gto_model_deprecation_is_recorded_in_model_yaml(cli, repo, make_artifact):
    _registered(cli, repo, make_artifact, "0.1.0")
    Gto(repo)("deprecate", M)  # NAME@deprecated
    r = cli(repo, "doctor")
    assert r.exit_code == 1 and f"gto: {M}@deprecated: {M} deprecated by bob@example.com" in r.output
    assert cli(repo, "doctor", "--adopt").exit_code == 0
    model = yamlio.load_file(repo / "models" / M / "model.yaml")
    entry = model["history"][-1]
    assert (entry["action"], entry["by"], entry["adopted_from"]) == ("deprecate", BOB, f"{M}@deprecated")
    assert entry["seq"] == 2 and model["deprecated"]["by"] == BOB  # one counter with the versions'
    r = cli(repo, "doctor")
    assert r.exit_code == 0, r.output
    # gto hides the deprecated model, and so does `gitreg list` (its "hidden" names it)
    assert assert_tools_agree(repo) == {}
    assert gitreg_json(repo, "list")["hidden"] == [M]


def test_a_gto_stage_outside_the_lifecycle_becomes_an_alias(cli, repo, make_artifact):
    _registered(cli, repo, make_artifact, "0.1.0", "0.2.0")
    gto = Gto(repo)
    gto("assign", M, "--version", "v0.1.0", "--stage", "champion")
    gto("assign", M, "--version", "v0.2.0", "--stage", "champion", who=CAROL)
    assert cli(repo, "doctor", "--adopt").exit_code == 0
    old = yamlio.load_file(repo / "models" / M / "0.1.0" / "manifest.yaml")
    new = yamlio.load_file(repo / "models" / M / "0.2.0" / "manifest.yaml")
    assert new["aliases"] == ["champion"] and old["aliases"] == []
    alias = new["history"][-1]
    assert (alias["action"], alias["alias"], alias["replaced"], alias["by"]) == ("alias", "champion", "0.1.0", CAROL)
    assert old["history"][-1]["action"] == "unalias" and old["history"][-1]["replaced_by"] == "0.2.0"
    assert "adopted_from" not in old["history"][-1]  # gitreg's own consequence, by the adopter
    assert old["history"][-2]["adopted_from"].startswith(f"{M}#champion#")
    assert cli(repo, "doctor").exit_code == 0
    # gto shows champion as a stage held by 0.2.0; DVC's --stage champion gets 0.2.0's bytes
    assert assert_tools_agree(repo, [M])[M]["aliases"] == {"champion": "0.2.0"}
    # and gitreg's own alias verb moves it on from there, every tool following
    r = cli(repo, "alias", M, "champion", "0.1.0", "--reason", "back")
    assert r.exit_code == 0, r.output
    assert assert_tools_agree(repo, [M])[M]["aliases"] == {"champion": "0.1.0"}


# -- a GTO-only repository --------------------------------------------------------------------
def _gto_repository(tmp_path: Path) -> tuple[Path, Gto]:
    """What a GTO user has: git, DVC, dvc.yaml `artifacts:`, files under DVC, gto's tags."""
    repo = tmp_path / "gto-repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    _dvc(repo, "init", "-q")
    (repo / "dvc.yaml").write_text(yamlio.dump({"artifacts": {
        "churn": {"path": "data/churn.pkl", "type": "model", "desc": "churn classifier",
                  "labels": ["tabular"]}}}))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "dvc init")
    return repo, Gto(repo)


def _train(repo: Path, content: bytes) -> None:
    (repo / "data").mkdir(exist_ok=True)
    (repo / "data" / "churn.pkl").write_bytes(content)
    _dvc(repo, "add", "data/churn.pkl")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "train churn")


def test_a_gto_repository_is_adopted_into_gitregs_format(cli, tmp_path):
    repo, gto = _gto_repository(tmp_path)
    _train(repo, b"churn one" * 100)
    gto("register", "churn", "--version", "v1.0.0")
    gto("assign", "churn", "--version", "v1.0.0", "--stage", "dev")
    _train(repo, b"churn two" * 100)
    gto("register", "churn", "--version", "v1.1.0", who=CAROL)
    gto("assign", "churn", "--version", "v1.1.0", "--stage", "dev")
    gto("assign", "churn", "--version", "v1.0.0", "--stage", "prod")
    gto("register", "team/ranker", "--version", "v0.1.0")  # GTO's monorepo name form

    r = cli(repo, "doctor")
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1
    assert "gitreg init --adopt" in r.output

    r = cli(None, "init", str(repo), "--adopt")
    assert r.exit_code == 0, r.output
    assert "skipped: team/ranker: not adopted:" in r.output
    assert "made a gitreg registry: adopted 5 gto tag(s)" in r.output
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "4"  # one commit
    cfg = yamlio.load_file(repo / "gitreg.yaml")
    assert cfg["stages"] == ["dev", "prod"] and cfg["exclusive"] == []
    state = assert_tools_agree(repo, ["churn"], gto_only=["team/ranker"])
    assert state["churn"] == {"latest": "1.1.0", "stages": {"dev": "1.1.0", "prod": "1.0.0"}, "aliases": {}}
    v2 = yamlio.load_file(repo / "models" / "churn" / "1.1.0" / "manifest.yaml")
    assert (v2["created_by"], v2["description"], v2["tags"]) == (CAROL, "churn classifier", {"tabular": ""})
    v1 = yamlio.load_file(repo / "models" / "churn" / "1.0.0" / "manifest.yaml")
    assert [h["action"] for h in v1["history"]] == ["register", "promote", "promote"]
    assert [h["to"] for h in v1["history"][1:]] == ["dev", "prod"]
    # the registry works on: gitreg promotes, gto's next tag is adopted by doctor
    r = cli(repo, "promote", "churn", "1.1.0", "prod")
    assert r.exit_code == 0, r.output
    # prod is not exclusive (GTO's stages never are): both hold it, gto shows the latest
    assert assert_tools_agree(repo, ["churn"], gto_only=["team/ranker"])["churn"]["stages"] == \
        {"prod": "1.1.0"}
    r = cli(None, "init", str(repo), "--adopt")
    assert r.exit_code == 1 and "gitreg doctor --adopt" in r.output


def test_init_adopt_refuses_a_repository_without_gto_tags(cli, tmp_path):
    repo, _ = _gto_repository(tmp_path)
    before = snapshot(repo)
    r = cli(None, "init", str(repo), "--adopt")
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1, r.output
    assert "has no gto tags gitreg can adopt" in r.output
    assert snapshot(repo) == before


def test_a_model_only_gto_knows_is_adopted_into_the_registry(cli, repo, make_artifact):
    _registered(cli, repo, make_artifact, "0.1.0")
    (repo / "train").mkdir()
    (repo / "train" / "other.pkl").write_bytes(b"another model" * 40)
    _dvc(repo, "add", "train/other.pkl")
    data = yamlio.load_file(repo / "dvc.yaml")
    data["artifacts"]["other"] = {"path": "train/other.pkl", "type": "model"}
    (repo / "dvc.yaml").write_text(yamlio.dump(data))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "train other")
    gto = Gto(repo)
    gto("register", "other", "--version", "v1.0.0")
    gto("assign", "other", "--version", "v1.0.0", "--stage", "staging")
    r = cli(repo, "doctor")
    assert r.exit_code == 1 and "gto: other@v1.0.0: other 1.0.0 registered" in r.output
    assert cli(repo, "doctor", "--adopt").exit_code == 0
    state = assert_tools_agree(repo)
    assert state["other"] == {"latest": "1.0.0", "stages": {"staging": "1.0.0"}, "aliases": {}}
    assert yamlio.load_file(repo / "models" / "other" / "model.yaml")["name"] == "other"


def test_an_adopted_entry_naming_another_actor_than_its_tagger_is_unbacked(cli, repo, make_artifact):
    _registered(cli, repo, make_artifact, "0.1.0")
    Gto(repo)("assign", M, "--version", "v0.1.0", "--stage", "staging")
    assert cli(repo, "doctor", "--adopt").exit_code == 0
    path = repo / "models" / M / "0.1.0" / "manifest.yaml"
    m = yamlio.load_file(path)
    m["history"][-1]["by"] = CAROL  # someone rewrites who did it
    path.write_text(yamlio.dump(m))
    git(repo, "commit", "-qam", "edit history by hand")
    r = cli(repo, "doctor")
    assert r.exit_code == 1
    assert f"says it was adopted from {M}#staging#" in r.output and "whose tagger is bob@example.com" in r.output
    r = cli(repo, "validate")
    assert r.exit_code != 0 and "whose tagger is bob@example.com" in r.output


def test_an_adopted_entry_naming_a_tag_that_does_not_exist_is_unbacked(cli, repo, make_artifact):
    """`adopted_from` exempts an entry from the author check only when gto's tag backs it."""
    _registered(cli, repo, make_artifact, "0.1.0")
    path = repo / "models" / M / "0.1.0" / "manifest.yaml"
    m = yamlio.load_file(path)
    seq = m["history"][-1]["seq"] + 1
    m["history"].append({"seq": seq, "action": "promote", "from": "none", "to": "staging",
                         "at": "2026-11-27T20:00:00Z", "by": CAROL, "adopted_from": f"{M}#staging#9"})
    m["stage"] = "staging"
    path.write_text(yamlio.dump(m))
    git(repo, "commit", "-qam", "a forged adoption")  # authored by the test's default user, not carol
    for cmd in ("validate", "doctor"):
        r = cli(repo, cmd)
        assert r.exit_code != 0, r.output
        assert f"says it was adopted from {M}#staging#9, but there is no such tag" in r.output


def test_adopt_refuses_uncommitted_changes_and_names_tags_in_json(cli, repo, make_artifact):
    _registered(cli, repo, make_artifact, "0.1.0")
    Gto(repo)("assign", M, "--version", "v0.1.0", "--stage", "staging")
    report = json.loads(cli(repo, "doctor", "--json").stdout)
    assert report["clean"] is False and report["extra"] == []
    assert [(g["kind"], g["version"], g["stage"], g["by"]) for g in report["gto"]] == \
        [("assign", "0.1.0", "staging", BOB)]
    (repo / "dvc.yaml").write_text((repo / "dvc.yaml").read_text() + "# edited\n")
    before = snapshot(repo)
    r = cli(repo, "doctor", "--adopt")
    assert r.exit_code == 4 and len(r.output.strip().splitlines()) == 1, r.output  # a conflict
    assert r.output.startswith("error: ") and "hint:" in r.output
    assert snapshot(repo) == before
