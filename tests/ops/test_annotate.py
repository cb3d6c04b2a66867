"""annotate (edits after registration), create (a model before its first version), key->value tags,
validate --base over those edits, and dvc.yaml's Studio entry: real git, DVC and gto."""

from __future__ import annotations

import json

import pytest

from agree import assert_tools_agree
from conftest import BOB, as_user, git, snapshot
from gitreg import Registry, VersionInfo, yamlio
from gitreg.core import manifest as mf
from cli.test_bad_input import assert_one_line_error

MANIFEST = "models/churn/1.0.0/manifest.yaml"
MODEL_YAML = "models/churn/model.yaml"


def _json(cli, repo, *args):
    r = cli(repo, *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.fixture
def churn(reg, repo, make_artifact):
    reg.register("churn", [make_artifact()], VersionInfo(
        description="first", tags=["team=ml", "beta"], metrics={"auc": 0.91}, framework="sklearn",
        owner="team-a@example.com"), version="1.0.0")
    return repo


def _load(repo, rel):
    return yamlio.loads((repo / rel).read_text(), rel)


# -- annotate a version ------------------------------------------------------------------------
def test_annotate_a_version_round_trips_through_show_and_history(cli, churn):
    head = git(churn, "rev-parse", "HEAD").strip()
    tags_before = git(churn, "tag", "--list")
    r = cli(churn, "annotate", "churn", "1.0.0", "--description", "better words", "--set-tag",
            "team=risk", "--set-tag", "stage=gold", "--unset-tag", "beta", "--reason", "typo",
            "--json", env=as_user(BOB))
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["action"] == "annotate" and out["tags"] == [] and out["seq"] == [2]
    assert out["set_tags"] == {"team": "risk", "stage": "gold"} and out["unset_tags"] == ["beta"]
    # one commit, authored by the actor, with gitreg's message and trailers; no GTO tag
    assert git(churn, "rev-parse", "HEAD~1").strip() == head
    assert git(churn, "log", "-1", "--format=%ae").strip() == BOB
    body = git(churn, "log", "-1", "--format=%B")
    assert body.startswith("gitreg: annotate churn 1.0.0\n\ntypo\n")
    assert "Gitreg-Action: annotate" in body and "Gitreg-Seq: 2" in body
    assert git(churn, "tag", "--list") == tags_before
    shown = _json(cli, churn, "show", "churn@1.0.0")
    assert shown["description"] == "better words"
    assert shown["tags"] == {"team": "risk", "stage": "gold"}
    event = _json(cli, churn, "history", "churn")["events"][-1]
    assert event["action"] == "annotate" and event["version"] == "1.0.0" and event["by"] == BOB
    assert event["reason"] == "typo" and event["description"] == "better words"
    assert event["set_tags"] == {"team": "risk", "stage": "gold"} and event["unset_tags"] == ["beta"]
    assert event["commit"] == git(churn, "rev-parse", "HEAD").strip() and event["tag"] is None
    # validate --base accepts exactly this edit; doctor stays clean; gto and dvc still agree
    assert Registry(churn).validate(base="HEAD~1").problems == []
    assert_tools_agree(churn)


def test_register_tags_are_key_value_and_labels(cli, churn):
    assert _load(churn, MANIFEST)["tags"] == {"team": "ml", "beta": ""}
    assert _json(cli, churn, "show", "churn")["versions"][0]["tags"] == {"team": "ml", "beta": ""}


def test_a_legacy_list_reads_as_a_mapping_and_the_first_annotate_rewrites_it(cli, churn):
    data = _load(churn, MANIFEST)
    data["tags"] = ["churn", "classification"]  # what gitreg wrote before issue 13
    (churn / MANIFEST).write_text(yamlio.dump(data))
    git(churn, "commit", "-qam", "an old registry's manifest")
    assert _json(cli, churn, "show", "churn@1.0.0")["tags"] == {"churn": "", "classification": ""}
    r = cli(churn, "annotate", "churn", "1.0.0", "--set-tag", "owner=ml")
    assert r.exit_code == 0, r.output
    # nothing lost: the labels are keys with empty values
    assert _load(churn, MANIFEST)["tags"] == {"churn": "", "classification": "", "owner": "ml"}
    assert Registry(churn).validate(base="HEAD~1").problems == []


def test_annotate_push_lands_on_origin(cli, churn, bare_remote):
    r = cli(churn, "annotate", "churn", "1.0.0", "--set-tag", "x=1", "--push", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["pushed"] is True
    assert git(bare_remote, "rev-parse", "main") == git(churn, "rev-parse", "HEAD")


# -- create, and a model-level annotate ----------------------------------------------------------
def test_create_then_register_keeps_model_yaml_and_one_seq_counter(cli, repo, make_artifact):
    r = cli(repo, "create", "churn", "--description", "Predicts churn", "--owner", "team-a",
            "--use-case", "retention", "--tag", "domain=crm", "--tag", "pii", env=as_user(BOB))
    assert r.exit_code == 0, r.output
    assert git(repo, "log", "-1", "--format=%ae %s").strip() == f"{BOB} gitreg: create churn"
    listed = _json(cli, repo, "list")["models"]
    assert listed == [{"name": "churn", "latest": None, "versions": 0, "stages": {}, "aliases": {},
                       "latest_tag": None, "deprecated": False, "deprecated_versions": []}]
    shown = _json(cli, repo, "show", "churn")
    assert shown["versions"] == [] and shown["owner"] == "team-a"
    assert shown["tags"] == {"domain": "crm", "pii": ""}
    [created] = _json(cli, repo, "history", "churn")["events"]
    assert created["action"] == "create" and created["version"] is None and created["seq"] == 1
    assert created["by"] == BOB and created["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert cli(repo, "doctor").exit_code == 0

    r = cli(repo, "register", "churn", str(make_artifact()), "--version", "1.0.0", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["seq"] == [2]  # continues the model's counter
    model = _load(repo, MODEL_YAML)
    assert model["owner"] == "team-a" and model["use_case"] == "retention"
    assert [(h["seq"], h["action"]) for h in model["history"]] == [(1, "create")]
    r = cli(repo, "annotate", "churn", "--description", "Predicts churn next month", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["seq"] == [3], r.output
    r = cli(repo, "promote", "churn", "1.0.0", "staging", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["seq"] == [4], r.output
    events = _json(cli, repo, "history", "churn")["events"]
    assert [(e["seq"], e["action"], e["version"]) for e in events] == [
        (1, "create", None), (2, "register", "1.0.0"), (3, "annotate", None), (4, "promote", "1.0.0")]
    assert _json(cli, repo, "show", "churn")["description"] == "Predicts churn next month"
    assert Registry(repo).validate(base="HEAD~2").problems == []
    assert_tools_agree(repo)


def test_a_created_model_beside_registered_ones_keeps_gto_dvc_and_doctor_agreeing(cli, churn):
    assert cli(churn, "promote", "churn", "1.0.0", "staging").exit_code == 0
    assert cli(churn, "create", "fraud", "--owner", "risk@example.com").exit_code == 0
    rows = {m["name"]: m for m in _json(cli, churn, "list")["models"]}
    assert rows["fraud"]["versions"] == 0 and rows["churn"]["stages"] == {"staging": "1.0.0"}
    assert "fraud" not in _load(churn, "dvc.yaml")["artifacts"]  # DVC needs a path
    r = cli(churn, "resolve", "fraud")
    assert_one_line_error(r, 1, "no versions yet")
    assert_tools_agree(churn)
    assert cli(churn, "site", "-o", str(churn.parent / "site")).exit_code == 0


def test_register_replacing_a_model_description_records_an_annotate_entry(cli, churn, make_artifact):
    cli(churn, "annotate", "churn", "--description", "old words")
    r = cli(churn, "register", "churn", str(make_artifact()), "--model-description", "new words",
            "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["seq"] == [3, 4], r.output
    last = _load(churn, MODEL_YAML)["history"][-1]
    assert last["action"] == "annotate" and last["seq"] == 4 and last["description"] == "new words"
    assert Registry(churn).validate(base="HEAD~1").problems == []


# -- refusals: one line, the documented exit code, the repository unchanged ----------------------
@pytest.mark.parametrize("args, code, words", [
    (["annotate", "churn", "1.0.0"], 1, ["nothing to change"]),
    (["annotate", "churn", "1.0.0", "--description", "first"], 1, ["nothing to change"]),
    (["annotate", "churn", "1.0.0", "--set-tag", "team=ml"], 1, ["nothing to change"]),
    (["annotate", "churn", "1.0.0", "--unset-tag", "nope"], 1, ["no tag 'nope'"]),
    (["annotate", "churn", "1.0.0", "--set-tag", "=v"], 1, ["invalid tag key"]),
    (["annotate", "churn", "1.0.0", "--set-tag", "a=1", "--unset-tag", "a"], 1, ["both set and unset"]),
    (["annotate", "churn", "9.9.9", "--set-tag", "a=1"], 1, ["no version 9.9.9"]),
    (["annotate", "churn", "v1", "--set-tag", "a=1"], 1, ["version"]),
    (["annotate", "nope", "1.0.0", "--set-tag", "a=1"], 1, ["not registered"]),
    (["annotate", "nope", "--set-tag", "a=1"], 1, ["not registered"]),
    (["annotate", "churn", "--unset-tag", "absent"], 1, ["no tag 'absent'"]),
    (["create", "churn"], 1, ["already exists"]),
    (["create", "a/b"], 1, ["name"]),
    (["create", "fresh", "--tag", "=x"], 1, ["invalid tag key"]),
    (["register", "other", "PATH", "--tag", "=x"], 1, ["invalid tag key"]),
])
def test_refusals_leave_the_repository_as_it_was(cli, churn, make_artifact, args, code, words):
    args = [str(make_artifact()) if a == "PATH" else a for a in args]
    before = snapshot(churn)
    assert_one_line_error(cli(churn, *args), code, *words)
    assert snapshot(churn) == before


def test_annotate_on_a_dirty_tree_is_a_conflict(cli, churn):
    (churn / MANIFEST).write_text((churn / MANIFEST).read_text() + "\n")
    before = snapshot(churn)
    assert_one_line_error(cli(churn, "annotate", "churn", "1.0.0", "--set-tag", "a=1"), 4, "uncommitted")
    assert snapshot(churn) == before


# -- validate --base (and ci check, which uses it) -------------------------------------------------
def _hand_edit(repo, rel, **fields):
    data = _load(repo, rel)
    data.update(fields)
    (repo / rel).write_text(yamlio.dump(data))


@pytest.mark.parametrize("rel, fields, named", [
    (MANIFEST, {"description": "edited by hand"}, "description changed"),
    (MANIFEST, {"tags": {"team": "ml"}}, "tags changed"),
    (MANIFEST, {"framework": "torch"}, "framework changed"),
    (MODEL_YAML, {"description": "edited by hand"}, "description changed"),
    (MODEL_YAML, {"created_at": "2020-01-01T00:00:00Z"}, "created_at changed"),
])
def test_base_refuses_edits_no_annotate_entry_records(churn, rel, fields, named):
    _hand_edit(churn, rel, **fields)
    found = Registry(churn).validate(base="HEAD").problems
    assert any(rel in p and named in p for p in found), found


def test_base_refuses_an_annotate_entry_the_file_does_not_match(churn):
    data = _load(churn, MANIFEST)
    data["history"].append({"seq": 2, "action": "annotate", "at": "2026-01-01T00:00:00Z",
                            "by": "alice@example.com", "description": "what the entry says"})
    data["description"] = "something else"
    (churn / MANIFEST).write_text(yamlio.dump(data))
    found = Registry(churn).validate(base="HEAD").problems
    assert any("description changed" in p for p in found), found


def test_base_allows_owner_on_model_yaml_and_the_mutable_part(churn):
    _hand_edit(churn, MODEL_YAML, owner="someone-else")
    assert Registry(churn).validate([str(churn / MODEL_YAML)], base="HEAD").problems == []


def test_ci_check_refuses_a_hand_edited_description(churn):
    git(churn, "switch", "-qc", "edit")
    _hand_edit(churn, MANIFEST, description="edited by hand")
    git(churn, "commit", "-qam", "edit the description")
    report = Registry(churn).ci_check("main")
    assert any("description changed since main" in v for v in report.violations), report.violations


def test_ci_check_accepts_an_annotate(churn):
    Registry(churn).annotate("churn", "1.0.0", set_tags={"reviewed": "yes"})
    Registry(churn).annotate("churn", description="model words")
    report = Registry(churn).ci_check("HEAD~2")
    assert report.violations == [], report.violations


# -- DVC Studio: dvc.yaml's artifacts entry -----------------------------------------------------------
def test_dvc_yaml_entry_carries_desc_labels_and_meta_kept_up_to_date(cli, churn):
    entry = _load(churn, "dvc.yaml")["artifacts"]["churn"]
    assert entry["path"] == "models/churn/1.0.0/model.pkl" and entry["type"] == "model"
    assert entry["desc"] == "first" and entry["labels"] == ["team=ml", "beta"]
    assert entry["meta"] == {"version": "1.0.0", "framework": "sklearn", "metrics": {"auc": 0.91},
                             "owner": "team-a@example.com"}
    assert cli(churn, "promote", "churn", "1.0.0", "staging").exit_code == 0
    assert git(churn, "show", "--name-only", "--format=", "HEAD").split() == [".gitreg/summaries/churn.json",
                                                                           "dvc.yaml", MANIFEST]
    assert _load(churn, "dvc.yaml")["artifacts"]["churn"]["meta"]["stages"] == {"staging": "1.0.0"}
    assert cli(churn, "annotate", "churn", "--description", "The churn model",
               "--set-tag", "domain=crm").exit_code == 0
    entry = _load(churn, "dvc.yaml")["artifacts"]["churn"]
    assert entry["desc"] == "The churn model" and entry["labels"] == ["team=ml", "beta", "domain=crm"]
    assert entry["path"] == "models/churn/1.0.0/model.pkl"
    assert_tools_agree(churn)  # dvc artifacts get --stage staging and gto read the same


# -- the pure rule ------------------------------------------------------------------------------------
ENTRY = {"seq": 2, "action": "annotate", "at": "t", "by": "b"}


@pytest.mark.parametrize("old, new, changed", [
    ({"tags": ["a"], "history": []}, {"tags": {"a": ""}, "history": []}, []),
    ({"description": "x", "history": []},
     {"description": "y", "history": [{**ENTRY, "description": "y"}]}, []),
    ({"tags": {"a": "1"}, "history": []},
     {"tags": {"b": "2"}, "history": [{**ENTRY, "set_tags": {"b": "2"}, "unset_tags": ["a"]}]}, []),
    ({"tags": {"a": "1"}, "history": []}, {"tags": {}, "history": []}, ["tags"]),
    ({"metrics": {"auc": 1}, "history": []}, {"metrics": {"auc": 2}, "history": []}, ["metrics"]),
    ({"stage": "none", "history": []}, {"stage": "staging", "history": []}, []),
])
def test_unrecorded_changes_table(old, new, changed):
    assert mf.unrecorded_changes(old, new) == changed


@pytest.mark.parametrize("items, expected", [
    (["a=1", "b", "c=x=y", "d="], {"a": "1", "b": "", "c": "x=y", "d": ""}),
    ({"k": "v", "n": None}, {"k": "v", "n": ""}),
    ([], {}),
])
def test_parse_tags_table(items, expected):
    assert mf.parse_tags(items) == expected


# -- --push races (ops/sync, as promote) ----------------------------------------------------------
def _stale_clone(churn, bare_remote, tmp_path):
    git(churn, "push", "-q", "origin", "main", "--tags")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare_remote), str(other))
    return other


def test_a_lost_race_to_another_model_is_reapplied_on_origin(cli, churn, bare_remote, tmp_path,
                                                             make_artifact):
    other = _stale_clone(churn, bare_remote, tmp_path)
    assert cli(churn, "register", "fraud", str(make_artifact()), "--push").exit_code == 0
    r = cli(other, "annotate", "churn", "1.0.0", "--set-tag", "x=1", "--push", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["pushed"] is True
    assert git(other, "rev-parse", "HEAD") == git(bare_remote, "rev-parse", "main")
    assert set(_load(other, "dvc.yaml")["artifacts"]) == {"churn", "fraud"}  # origin's kept
    assert _load(other, MANIFEST)["tags"]["x"] == "1"


def test_a_lost_race_on_the_same_model_is_undone_with_exit_4(cli, churn, bare_remote, tmp_path):
    other = _stale_clone(churn, bare_remote, tmp_path)
    assert cli(churn, "annotate", "churn", "1.0.0", "--set-tag", "x=1", "--push").exit_code == 0
    r = cli(other, "annotate", "churn", "1.0.0", "--set-tag", "x=2", "--push")
    assert_one_line_error(r, 4, "lost a push race")
    assert git(other, "rev-parse", "HEAD") == git(bare_remote, "rev-parse", "main")
    assert git(other, "status", "--porcelain") == ""
    assert _load(other, MANIFEST)["tags"]["x"] == "1"
