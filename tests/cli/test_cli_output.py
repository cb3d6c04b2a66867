"""What people see: tables at 80 columns (piped), grouped --help, one-line messages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import _base_env, git, gitreg_exe, snapshot
from gitreg import Registry, VersionInfo

VERSIONS = ["0.1.0", "10.20.30-rc.12", "10.20.31"]
STAGES = ["none", "staging", "archived"]
METRICS = ["accuracy", "latency_ms", "val_loss"]
REASON = ("the candidate that passed the offline evaluation suite, the shadow traffic replay "
          "and the fairness review without a single regression")


@pytest.fixture(scope="module")
def wide_registry(tmp_path_factory: pytest.TempPathFactory, _template: Path,
                  session_home: Path) -> Path:
    """churn: three versions with long SemVer strings, three metrics, a long reason."""
    base = tmp_path_factory.mktemp("wide")
    env = _base_env(session_home)
    repo = base / "registry"
    shutil.copytree(_template, repo, symlinks=True)
    art = base / "model.pkl"
    art.write_bytes(b"x" * 64)
    reg = Registry(repo, env=env)
    for n, v in enumerate(VERSIONS):
        reg.register("churn", [art], VersionInfo(metrics={
            "accuracy": 0.9 + n / 100, "latency_ms": 120.5 - n, "val_loss": 0.2345 - n / 100}),
            version=v)
    reg.promote("churn", "10.20.30-rc.12", "staging", reason=REASON)
    reg.promote("churn", "10.20.30-rc.12", "archived", reason="superseded by 10.20.31")
    reg.promote("churn", "10.20.31", "staging", reason=REASON)
    reg.alias("churn", "champion", "10.20.30-rc.12")
    reg.alias("churn", "challenger-long-name", "10.20.31")
    return repo


def piped(repo: Path, *args: str, columns: str | None = None) -> subprocess.CompletedProcess:
    """The installed gitreg with stdout a pipe and, unless given, no COLUMNS (tests set 200)."""
    env = dict(os.environ)  # the test's hermetic environment (conftest.isolated_env)
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run([*gitreg_exe(), "-C", str(repo), *args], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, check=False)


def tokens(text: str) -> set[str]:
    return set(re.split(r"[\s=,()*]+", text))


def assert_whole(text: str, width: int, *, words: list[str]) -> None:
    assert "…" not in text, text
    too_long = [ln for ln in text.splitlines() if len(ln) > width]
    assert not too_long, "\n".join(too_long)
    missing = [w for w in words if w not in tokens(text)]
    assert not missing, f"cut or missing: {missing}\n{text}"


REASON_WORDS = [w.strip(",") for w in REASON.split()]


@pytest.mark.parametrize("args,words", [
    (("list",), ["churn", "10.20.31", "10.20.30-rc.12", *STAGES[1:], "production", "aliases",
                 "champion", "challenger-long-name"]),
    (("show", "churn"), [*VERSIONS, *STAGES, *METRICS, "alice@example.com"]),
    (("history", "churn"), [*VERSIONS, *STAGES, "register", "promote", *REASON_WORDS,
                            "churn@v10.20.30-rc.12", "churn#archived#5", "alice@example.com",
                            "alias", "@champion", "churn#champion#7"]),
    (("compare", "churn"), [*VERSIONS, *STAGES, *METRICS]),
])
def test_tables_keep_every_value_whole_at_80_columns_piped(wide_registry, args, words):
    first = piped(wide_registry, *args)
    assert first.returncode == 0, first.stderr
    assert_whole(first.stdout, 80, words=words)
    # no guessed terminal width: a pipe without COLUMNS gives the same bytes every time ...
    assert piped(wide_registry, *args).stdout == first.stdout
    assert piped(wide_registry, *args, columns="80").stdout == first.stdout
    # ... and COLUMNS set by the user is honoured, still without cutting anything
    for cols in ("60", "200"):
        wide = piped(wide_registry, *args, columns=cols)
        assert_whole(wide.stdout, int(cols), words=words)


def test_created_dates_stay_whole(wide_registry):
    out = piped(wide_registry, "show", "churn").stdout + piped(wide_registry, "compare", "churn").stdout
    dates = re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", out)
    assert len(dates) == 2 * len(VERSIONS), out


def test_a_wide_terminal_gets_one_table_row_per_version(wide_registry):
    out = piped(wide_registry, "compare", "churn", columns="120").stdout
    rows = [ln for ln in out.splitlines() if ln.split() and ln.split()[0] in VERSIONS]
    assert len(rows) == len(VERSIONS), out
    assert all(not ln.endswith(" ") for ln in out.splitlines())


# -- --help: commands in panels --------------------------------------------------------------
HELP_PANELS = {
    "Registry": ["init", "create", "register", "annotate", "validate", "deprecate", "undeprecate"],
    "Stages": ["request", "approve", "reject", "promote", "rollback", "alias"],
    "Read": ["list", "show", "history", "compare", "best", "resolve", "get"],
    "Automation": ["monitor", "ci", "codeowners", "site"],
    "Maintenance": ["doctor", "verify", "import", "demo"],
}


def test_help_groups_the_commands_in_panels_in_order(tmp_path):
    res = piped(tmp_path, "--help")
    assert res.returncode == 0 and res.stderr == ""
    sections: dict[str, list[str]] = {}
    current = None
    for line in res.stdout.splitlines():
        assert len(line) <= 80, line
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
            sections[current] = []
        elif current and line.startswith("  ") and line.strip():
            sections[current].append(line.split()[0])
    sections.pop("Options")
    assert sections == HELP_PANELS  # dict equality ignores order: check it too
    assert list(sections) == list(HELP_PANELS)
    from gitreg.cli.common import PANELS, app
    from typer.main import get_command

    registered = set(get_command(app).commands)  # type: ignore[attr-defined]
    assert registered == {n for names in PANELS.values() for n in names}


# -- messages: said once, one line, no stray blank line ------------------------------------
def test_a_mistyped_command_suggests_once(tmp_path):
    res = piped(tmp_path, "registr")  # ("regster" is close to `create` too: Click names both)
    assert res.returncode == 2
    assert res.stderr.count("Did you mean") == 1, res.stderr
    assert res.stderr.endswith("Error: No such command 'registr'. Did you mean 'register'?\n")
    sub = piped(tmp_path, "ci", "chek")
    assert sub.stderr.count("Did you mean") == 1
    assert sub.stderr.endswith("Error: No such command 'chek'. Did you mean 'check'?\n")


def test_a_policy_refusal_is_one_line(wide_registry):
    before = snapshot(wide_registry)
    res = piped(wide_registry, "promote", "churn", "10.20.31", "production")
    assert res.returncode == 3
    assert res.stderr == (
        "error: cannot promote churn 10.20.31 to production: production needs 1 approval(s) from "
        "someone other than the requester; it has 0 (hint: ask for approval: `gitreg request "
        "churn 10.20.31 production --reason ...`, then another person runs `gitreg approve`)\n")
    several = piped(wide_registry, "promote", "churn", "0.1.0", "production")
    assert several.returncode == 3
    lines = several.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot promote churn 0.1.0 to production: ")
    assert "transition none -> production is not allowed" in lines[0]
    assert "accepts versions only from staging" in lines[0] and "needs 1 approval(s)" in lines[0]
    assert snapshot(wide_registry) == before


def test_an_unknown_stage_suggests_the_close_one(wide_registry):
    res = piped(wide_registry, "promote", "churn", "0.1.0", "prodution")
    assert res.returncode == 1
    assert res.stderr == ("error: unknown stage 'prodution' (hint: did you mean 'production'? "
                          "stages in gitreg.yaml: staging, production, archived)\n")
    far = piped(wide_registry, "list", "--stage", "zzz")
    assert far.stderr == "error: unknown stage 'zzz' (hint: stages in gitreg.yaml: staging, production, archived)\n"


def test_register_messages_start_on_the_first_line(repo, tmp_path):
    art = tmp_path / "model.pkl"
    art.write_bytes(b"x" * 64)
    res = piped(repo, "register", "churn", str(art), "--metric", "auc=0.9")
    assert res.returncode == 0, res.stderr
    assert re.fullmatch(r"registered churn 0\.1\.0 \(64 B\) \[[0-9a-f]{10}\]\n", res.stderr), res.stderr


# -- versions for other tools: the register tag beside the bare version ---------------------
def test_list_json_gives_the_register_tag_other_tools_take(wide_registry):
    import json

    data = json.loads(piped(wide_registry, "list", "--json").stdout)
    (row,) = data["models"]
    assert set(row) == {"name", "latest", "versions", "stages", "aliases", "latest_tag",  # old keys kept
                        "deprecated", "deprecated_versions"}
    assert row["aliases"] == {"challenger-long-name": "10.20.31", "champion": "10.20.30-rc.12"}
    assert row["latest"] == "10.20.31" and row["latest_tag"] == "churn@v10.20.31"
    tags = git(wide_registry, "tag", "-l").split()
    assert row["latest_tag"] in tags
    resolved = json.loads(piped(wide_registry, "resolve", "churn", "--json").stdout)
    assert resolved["version"] == "10.20.31" and resolved["tag"] == row["latest_tag"]


# -- a registry's text never drives the terminal ----------------------------------------------
HOSTILE = "ok\x1b[2K\r\x1b[1A staging: 9.9.9 \u202eedoc\u202c :fire: \x07\x9b31m"


def test_printable_escapes_what_would_drive_a_terminal():
    from gitreg.cli.common import printable

    assert printable("plain, unicode é 中文\nand a newline") == "plain, unicode é 中文\nand a newline"
    assert printable(HOSTILE) == ("ok\\x1b[2K\\x0d\\x1b[1A staging: 9.9.9 \\u202eedoc\\u202c :fire: "
                                  "\\x07\\x9b31m")
    assert printable("\t\x00\x7f\u2028\u2066\ufeff") == "\\x09\\x00\\x7f\\u2028\\u2066\\ufeff"


def test_a_hand_edited_manifest_cannot_send_escapes_or_emoji_to_the_terminal(wide_registry, tmp_path):
    import yaml

    from gitreg import yamlio

    repo = tmp_path / "hostile"
    shutil.copytree(wide_registry, repo, symlinks=True)
    path = repo / "models" / "churn" / "10.20.31" / "manifest.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["description"] = HOSTILE
    data["history"][-1]["reason"] = HOSTILE
    data["metrics"]["accuracy\x1b[8m"] = 0.5
    path.write_text(yamlio.dump(data), "utf-8")
    git(repo, "commit", "-qam", "a hand edit")
    outputs = []
    for args in (("show", "churn"), ("show", "churn@10.20.31"), ("history", "churn"),
                 ("compare", "churn"), ("list",)):
        for columns in (None, "200"):
            proc = piped(repo, *args, columns=columns)
            assert proc.returncode == 0, proc.stderr
            outputs.append(proc.stdout + proc.stderr)
    every = "".join(outputs)
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]", every), every
    assert "\\x1b[2K\\x0d\\x1b[1A" in every and "\\u202eedoc" in every
    assert ":fire:" in every and "\U0001f525" not in every  # no emoji for :fire:
    assert "accuracy\\x1b[8m" in every
