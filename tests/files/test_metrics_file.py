"""--metrics files: .json strictly as JSON, .yaml as YAML, and at least one numeric metric."""

from __future__ import annotations

import json

import pytest

from conftest import snapshot


@pytest.mark.parametrize("name,text,error", [
    ("m.yaml", "accuracy: 0.9, oops {\n",
     "m.yaml: no numeric metric in the file (non-numeric: accuracy)"),
    ("m.json", '{"a": "x"}', "m.json: no numeric metric in the file (non-numeric: a)"),
    ("m.json", "{}", "m.json: no numeric metric in the file"),
    ("m.json", '{\n  "accuracy": 0.9,\n}\n', "m.json:3:1: invalid JSON: "),
    ("m.json", "accuracy: 0.9\n", "m.json:1:1: invalid JSON: Expecting value"),  # not YAML
    ("m.json", '{"auc": NaN}', "m.json: invalid JSON: NaN is not a JSON number"),
    ("m.json", '{"auc": 0.9, "auc": 0.8}', "m.json: invalid JSON: duplicate key 'auc'"),
    ("m.txt", '{"auc": 0.9,}', "m.txt:1:13: invalid JSON: "),
    ("m.json", "[0.9]", "m.json: metrics must be a mapping of names to numbers"),
])
def test_bad_metrics_files_are_refused_in_one_line(repo, cli, make_artifact, tmp_path,
                                                   name, text, error):
    art = make_artifact()
    path = tmp_path / name
    path.write_text(text)
    before = snapshot(repo)
    res = cli(repo, "register", "churn", str(art), "--metrics", str(path))
    assert res.exit_code == 1, res.output
    lines = res.stderr.splitlines()
    assert len(lines) == 1, lines
    file, rest = error.split(":", 1)  # Python's JSON messages differ by version: the position counts
    assert lines[0].startswith(f"error: {tmp_path / file}:{rest}"), lines
    assert "(hint: " in lines[0]
    assert snapshot(repo) == before


@pytest.mark.parametrize("name,text", [
    ("m.json", json.dumps({"eval": {"auc": 0.94}, "accuracy": 0.9, "note": "x"})),
    ("m.yaml", "eval:\n  auc: 0.94\naccuracy: 0.9\nnote: x\n"),
    ("m.yml", "eval: {auc: 0.94}\naccuracy: 0.9\nnote: x\n"),
    ("metrics", '{"eval": {"auc": 0.94}, "accuracy": 0.9, "note": "x"}'),  # JSON by content
    ("metrics.txt", "eval:\n  auc: 0.94\naccuracy: 0.9\nnote: x\n"),     # else YAML
])
def test_metrics_files_by_extension_and_content(repo, cli, make_artifact, tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    res = cli(repo, "register", "churn", str(make_artifact()), "--metrics", str(path), "--json")
    assert res.exit_code == 0, res.output
    shown = json.loads(cli(repo, "show", "churn@0.1.0", "--json").stdout)
    assert shown["metrics"] == {"eval.auc": 0.94, "accuracy": 0.9}
    assert f"warning: skipped non-numeric metric 'note' from {path}" in res.stderr
