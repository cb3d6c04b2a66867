"""gitreg site: the generated pages' content, links, escaping, and the output directory rules."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from conftest import ALICE, BOB, _base_env, as_user, git, snapshot
from gitreg import Registry, UserError, VersionInfo, yamlio
from gitreg.ops.site.html import human_size
from gitreg.ops.site.out_dir import MARKER

HOSTILE_DESC = '<script>alert("desc")</script> & more'
HOSTILE_REASON = '<img src=x onerror=alert(1)> "quoted" & \'single\''
HOSTILE_METRIC = '<b>lat</b>"ms'


class Clock:
    """A frozen clock that steps one minute per reading (no sleeps, stable dates)."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def build_demo_registry(root: Path, env: dict[str, str], artifacts: Path,
                        clock: Callable[[], datetime] | None = None) -> None:
    """churn: 3 versions (1.0.0 production after a rollback, 1.1.0 archived, 2.0.0 staging);
    fraud-detector: 0.2.0 in staging. Approvals come from BOB."""
    clock = clock or Clock(datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc))
    alice = Registry(root, env=env, clock=clock)
    bob = Registry(root, env={**env, **as_user(BOB)}, clock=clock)
    artifacts.mkdir(parents=True, exist_ok=True)

    def art(n: int, size: int) -> Path:
        path = artifacts / f"m{n}" / "model.pkl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes([n]) * size)
        return path

    alice.register("churn", [art(1, 1500)], VersionInfo(
        description="Baseline logistic regression", framework="sklearn", algorithm="LogisticRegression",
        metrics={"accuracy": 0.861, "f1": 0.802}, owner="ml-team@example.com",
        use_case="customer churn"), version="1.0.0")
    alice.register("churn", [art(2, 4200)], VersionInfo(
        description="Random forest", framework="sklearn", metrics={"accuracy": 0.897, "f1": 0.851}),
        version="1.1.0")
    alice.register("churn", [art(3, 9100)], VersionInfo(
        description=HOSTILE_DESC, framework="xgboost",
        metrics={"accuracy": 0.921, "f1": 0.874, HOSTILE_METRIC: 12.5}), version="2.0.0")
    alice.promote("churn", "1.0.0", "staging", reason="baseline ready")
    alice.request("churn", "1.0.0", "production", reason="first release")
    bob.approve("churn", "1.0.0", "production")
    alice.promote("churn", "1.1.0", "staging", reason="beats baseline")
    alice.request("churn", "1.1.0", "production", reason="better recall")
    bob.approve("churn", "1.1.0", "production")
    alice.rollback("churn", reason=HOSTILE_REASON)
    alice.promote("churn", "2.0.0", "staging", reason="next candidate")
    alice.register("fraud-detector", [art(4, 800)], VersionInfo(
        metrics={"precision": 0.78}, owner="risk@example.com"), version="0.2.0")
    alice.promote("fraud-detector", "0.2.0", "staging", reason="offline eval ok")


# -- a small DOM, enough to query the generated pages -------------------------------------
VOID = {"meta", "link", "br", "img", "input", "hr", "col", "source", "wbr", "area", "base"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def iter(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        return [n for n in self.iter() if n.tag == tag
                and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def find(self, tag: str, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag} {attrs}> found"
        return found[0]

    def has_class(self, name: str) -> bool:
        return name in (self.attrs.get("class") or "").split()


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_endtag(self, tag: str) -> None:
        n: Node | None = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        assert n is not None and n.parent is not None, f"unbalanced </{tag}>"
        self.cur = n.parent

    def handle_data(self, data: str) -> None:
        self.cur.children.append(data)


def parse(path: Path) -> Node:
    builder = TreeBuilder()
    builder.feed(path.read_text(encoding="utf-8"))
    builder.close()
    assert builder.cur is builder.root, f"{path}: unclosed <{builder.cur.tag}>"
    return builder.root


def squash(text: str) -> str:
    return " ".join(text.split())


# -- fixtures -----------------------------------------------------------------------------
_DEMO: dict[str, Any] = {}


def demo_registry(tmp_path_factory: pytest.TempPathFactory, template: Path,
                  session_home: Path) -> dict[str, Any]:
    """One demo registry and its site per test session, shared with test_site_browser.py
    (registering costs DVC runs, so it is built once)."""
    if _DEMO:
        return _DEMO
    import shutil

    base = tmp_path_factory.mktemp("site-demo")
    root = base / "registry"
    shutil.copytree(template, root, symlinks=True)
    remote = base / "dvc-remote"
    remote.mkdir()
    (root / ".dvc" / "config").write_text(
        "[core]\n    analytics = false\n    remote = storage\n"
        f"['remote \"storage\"']\n    url = {remote}\n")
    env = _base_env(session_home)
    git(root, "commit", "-q", "-am", "test: set DVC remote", env=env)
    build_demo_registry(root, env, base / "artifacts")
    built = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
    reg = Registry(root, env=env, clock=lambda: built)
    before = snapshot_with_env(root, env)
    summary = reg.site(base / "site")
    assert snapshot_with_env(root, env) == before, "building the site changed the registry"
    _DEMO.update(root=root, site=base / "site", summary=summary, reg=reg, env=env)
    return _DEMO


@pytest.fixture
def demo(tmp_path_factory: pytest.TempPathFactory, _template: Path, session_home: Path) -> dict[str, Any]:
    return demo_registry(tmp_path_factory, _template, session_home)


def snapshot_with_env(path: Path, env: dict[str, str]) -> str:
    return git(path, "for-each-ref", env=env) + git(path, "status", "--porcelain",
                                                      "--untracked-files=all", env=env)


# -- the index ----------------------------------------------------------------------------
def test_summary_counts_pages(demo: dict[str, Any]) -> None:
    s = demo["summary"]
    assert s["models"] == 2 and s["versions"] == 4
    assert s["pages"] == 1 + 2 + 4  # index, a page per model, a page per version
    assert Path(s["index"]) == demo["site"] / "index.html"
    written = json.loads((demo["site"] / MARKER).read_text())["files"]
    assert "index.html" in written and "models/churn/2.0.0.html" in written
    assert not list(demo["site"].rglob("*.tmp")), "temp files left behind"


def test_index_shows_each_models_stages_owner_latest_and_last_change(demo: dict[str, Any]) -> None:
    doc = parse(demo["site"] / "index.html")
    table = doc.find("table", id="models")
    rows = {r.attrs["data-model"]: r for r in table.find_all("tr") if "data-model" in r.attrs}
    assert list(rows) == ["churn", "fraud-detector"]
    churn = rows["churn"]
    stage = {td.attrs["data-stage"]: squash(td.text) for td in churn.find_all("td")
             if "data-stage" in td.attrs}
    assert stage == {"staging": "2.0.0", "production": "1.0.0", "archived": "1.1.0"}
    text = squash(churn.text)
    assert "ml-team@example.com" in text and "3 versions" in text
    # last change: the staging promotion of 2.0.0 (seq 15), by alice
    changed = [squash(d.text) for d in churn.find("td", **{"class": "changed"}).find_all("div")]
    assert changed == ["promoted 2.0.0 → staging", "by alice@example.com"]
    fraud = squash(rows["fraud-detector"].text)
    assert "risk@example.com" in fraud and "0.2.0" in fraud and "1 version" in fraud
    prod = [td for td in rows["fraud-detector"].find_all("td") if td.attrs.get("data-stage") == "production"]
    assert squash(prod[0].text) == "–"
    # links go to the model page and to the version pages, relatively
    hrefs = {a.attrs["href"] for a in churn.find_all("a")}
    assert {"models/churn/index.html", "models/churn/1.0.0.html", "models/churn/2.0.0.html"} <= hrefs
    # a sparkline of the first metric
    assert churn.find_all("svg")


def test_index_shows_recent_activity_across_models_newest_first(demo: dict[str, Any]) -> None:
    doc = parse(demo["site"] / "index.html")
    items = doc.find("section", id="activity").find_all("li")
    total = sum(len(demo["reg"].history(m)["events"]) for m in ("churn", "fraud-detector"))
    assert len(items) == min(8, total)
    stamps = [li.find("time").attrs["datetime"] for li in items]
    assert stamps == sorted(stamps, reverse=True)
    first = squash(items[0].text)
    assert f"{ALICE} promoted fraud-detector 0.2.0 no stage → staging" in first
    assert "offline eval ok" in first
    links = {a.attrs["href"] for a in items[0].find_all("a")}
    assert links == {"models/fraud-detector/index.html", "models/fraud-detector/0.2.0.html"}


def test_index_of_an_empty_registry_says_how_to_start(reg: Registry, tmp_path: Path) -> None:
    summary = reg.site(tmp_path / "site")
    assert summary == {"out_dir": str(tmp_path / "site"), "index": str(tmp_path / "site" / "index.html"),
                       "models": 0, "versions": 0, "pages": 1}
    text = squash(parse(tmp_path / "site" / "index.html").text)
    assert "No models registered yet" in text and "gitreg register NAME FILE" in text


# -- a model page -------------------------------------------------------------------------
def test_model_page_lists_versions_with_stage_metrics_date_author_size(demo: dict[str, Any]) -> None:
    doc = parse(demo["site"] / "models" / "churn" / "index.html")
    table = doc.find("table", **{"class": "versions"})
    headers = [squash(th.text) for th in table.find("thead").find_all("th")]
    assert headers == ["version", "stage", "accuracy", "f1", HOSTILE_METRIC, "created", "by",
                       "framework", "size"]
    rows = [r for r in table.find_all("tr") if "data-version" in r.attrs]
    assert [r.attrs["data-version"] for r in rows] == ["2.0.0", "1.1.0", "1.0.0"]
    cells = {r.attrs["data-version"]: [squash(td.text) for td in r.find_all("td")] for r in rows}
    assert cells["1.0.0"][1:5] == ["production", "0.861", "0.802", "–"]
    assert cells["1.1.0"][1] == "archived"
    assert cells["2.0.0"][1:5] == ["staging", "0.921", "0.874", "12.5"]
    assert cells["2.0.0"][0].startswith("2.0.0") and HOSTILE_DESC in cells["2.0.0"][0]
    manifests = {m["version"]: m for m in demo["reg"].show("churn")["versions"]}
    for v, row in cells.items():
        created = datetime.fromisoformat(manifests[v]["created_at"].replace("Z", "+00:00"))
        assert row[5] == created.strftime("%Y-%m-%d %H:%M")
        assert row[6] == ALICE
        assert row[8] == human_size(manifests[v]["artifacts"][0]["size"])
    assert cells["1.0.0"][8] == "1.5 KB" and cells["2.0.0"][8] == "8.9 KB"


def test_model_page_has_a_chart_per_metric_with_staging_and_production_marked(demo: dict[str, Any]) -> None:
    page = demo["site"] / "models" / "churn" / "index.html"
    doc = parse(page)
    svgs = doc.find("section", id="charts").find_all("svg")
    assert [s.attrs["data-metric"] for s in svgs] == ["accuracy", "f1", HOSTILE_METRIC]
    accuracy = svgs[0]
    points = {c.attrs["data-version"]: c.attrs["data-stage"] for c in accuracy.find_all("circle")}
    assert points == {"1.0.0": "production", "1.1.0": "archived", "2.0.0": "staging"}
    marks = sorted(m.attrs["data-stage"] for m in accuracy.find_all("line") if m.has_class("stage-mark"))
    assert marks == ["production", "staging"]
    # the hostile metric is only in 2.0.0: one point, no line through missing versions
    hostile = svgs[2]
    assert [c.attrs["data-version"] for c in hostile.find_all("circle")] == ["2.0.0"]
    assert not hostile.find_all("path")
    # the inline SVG is well-formed XML on its own (what a browser's SVG parser needs)
    raw = page.read_text()
    for chunk in re.findall(r"<svg .*?</svg>", raw, flags=re.S):
        ET.fromstring(chunk)


def test_model_page_timeline_shows_who_did_what_when_and_why(demo: dict[str, Any]) -> None:
    doc = parse(demo["site"] / "models" / "churn" / "index.html")
    events = doc.find("ol", **{"class": "timeline"}).find_all("li")
    history = demo["reg"].history("churn")["events"]
    assert [int(li.attrs["data-seq"]) for li in events] == [e["seq"] for e in reversed(history)]
    by_seq = {int(li.attrs["data-seq"]): squash(li.text) for li in events}
    approve = next(e for e in history if e["action"] == "approve")
    assert f"{BOB} approved {approve['version']} staging → production" in by_seq[approve["seq"]]
    request = next(e for e in history if e["action"] == "request")
    assert f"{ALICE} requested 1.0.0" in by_seq[request["seq"]] and "first release" in by_seq[request["seq"]]
    rollbacks = [e for e in history if e["action"] == "rollback"]
    assert len(rollbacks) == 2
    for e in rollbacks:
        assert "rolled back" in by_seq[e["seq"]] and HOSTILE_REASON in by_seq[e["seq"]]
        assert e["tag"] in by_seq[e["seq"]]
    promoted = next(e for e in history if e["action"] == "promote" and e["to"] == "production")
    assert f"approved by {BOB}" in by_seq[promoted["seq"]]
    assert promoted["commit"][:10] in by_seq[promoted["seq"]]
    first = next(li for li in events if li.attrs["data-seq"] == "1")
    stamp = first.find("time").attrs["datetime"]
    assert stamp == history[0]["at"]


def test_model_page_shows_the_policy_gates_of_each_stage(demo: dict[str, Any], tmp_path: Path) -> None:
    doc = parse(demo["site"] / "models" / "churn" / "index.html")
    rows = {r.attrs["data-stage"]: [squash(td.text) for td in r.find_all("td")]
            for r in doc.find("table", **{"class": "gates"}).find_all("tr") if "data-stage" in r.attrs}
    assert list(rows) == ["staging", "production", "archived"]
    assert rows["production"][1:4] == ["staging, archived", "staging", "1"]
    assert "one version at a time" in rows["production"][5]
    assert rows["staging"][1] == "no stage, archived" and rows["staging"][3] == "–"


def test_metric_gates_from_gitreg_yaml_appear() -> None:
    from gitreg.core.stages import DEFAULT_CONFIG, lifecycle_from_config
    from gitreg.ops.site.sections import gates

    config = json.loads(json.dumps(DEFAULT_CONFIG))
    config["policies"]["production"].update(
        metrics={"auc": ">= 0.85", "latency_ms": "<= 100"}, via_pull_request=True)
    builder = TreeBuilder()
    builder.feed(gates(lifecycle_from_config(config)))
    row = next(r for r in builder.root.find_all("tr") if r.attrs.get("data-stage") == "production")
    cells = [squash(td.text) for td in row.find_all("td")]
    assert cells[4] == "auc >= 0.85, latency_ms <= 100"
    assert "via pull request only" in cells[5]


# -- a version page -----------------------------------------------------------------------
def test_version_page_shows_its_manifest(demo: dict[str, Any]) -> None:
    page = demo["site"] / "models" / "churn" / "1.0.0.html"
    doc = parse(page)
    manifest = demo["reg"].show("churn@1.0.0")
    shown = yamlio.loads(doc.find("pre", **{"class": "manifest"}).text, "page")
    assert shown == manifest
    facts = {squash(d.find("dt").text): squash(d.find("dd").text)
             for d in doc.find("dl").children if not isinstance(d, str)}
    assert facts["stage"] == "production" and facts["by"] == ALICE
    assert facts["framework"] == "sklearn" and facts["algorithm"] == "LogisticRegression"
    metrics = {squash(tr.find("th").text): squash(tr.find("td").text)
               for tr in doc.find("section", id="metrics").find_all("tr")}
    assert metrics == {"accuracy": "0.861", "f1": "0.802"}
    art = squash(doc.find("section", id="artifacts").find("tbody").text)
    assert manifest["artifacts"][0]["md5"] in art and "model.pkl" in art
    history = [li.attrs["data-seq"] for li in doc.find("section", id="history").find_all("li")]
    assert history == [str(h["seq"]) for h in reversed(manifest["history"])]
    # the approval record (who requested, who approved) is shown
    approval = squash(doc.find("section", id="approval").text)
    assert ALICE in approval and BOB in approval


# -- safety: links, network, escaping -----------------------------------------------------
def pages_of(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_every_link_is_relative_and_resolves_and_nothing_loads_from_the_network(demo: dict[str, Any]) -> None:
    site = demo["site"]
    checked = 0
    for page in pages_of(site):
        doc = parse(page)
        assert not doc.find_all("script"), f"{page}: JavaScript"
        assert not doc.find_all("iframe") and not doc.find_all("img")
        for node in doc.iter():
            for attr in ("href", "src", "xlink:href", "action"):
                value = node.attrs.get(attr)
                if value is None:
                    continue
                assert not re.match(r"^([a-z][a-z0-9+.-]*:|//|/)", value, flags=re.I), \
                    f"{page}: non-relative {attr}={value!r}"
                target = (page.parent / value.split("#")[0]).resolve()
                assert target.is_file(), f"{page}: broken link {value!r}"
                assert site.resolve() in target.parents or target.parent == site.resolve()
                checked += 1
    css = (site / "style.css").read_text()
    assert "@import" not in css and "url(" not in css
    assert checked > 40


def test_user_text_is_escaped_everywhere(demo: dict[str, Any]) -> None:
    for page in pages_of(demo["site"]):
        raw = page.read_text()
        assert "<script" not in raw and "<img" not in raw and "<b>lat" not in raw, page
        doc = parse(page)
        for node in doc.iter():
            assert not any(k.startswith("on") for k in node.attrs), f"{page}: event handler attribute"
    model = squash(parse(demo["site"] / "models" / "churn" / "index.html").text)
    assert HOSTILE_REASON in model and HOSTILE_DESC in model and HOSTILE_METRIC in model
    assert HOSTILE_DESC in squash(parse(demo["site"] / "models" / "churn" / "2.0.0.html").text)


# -- the title and the descriptions -------------------------------------------------------
@pytest.mark.parametrize("title, h1", [
    ("registry", "registry"),                      # `gitreg demo`'s directory: not "registry registry"
    ("model-registry", "model-registry"),
    ("Acme ML Registry", "Acme ML Registry"),
    ("ml-models", "Model registry ml-models"),
    ("<b>x</b>", "Model registry <b>x</b>"),       # escaped, shown as text
])
def test_index_heading_never_repeats_registry(title: str, h1: str) -> None:
    from gitreg.ops.site.html import heading

    doc = TreeBuilder()
    doc.feed(heading(title))
    assert squash(doc.root.find("h1").text) == h1
    assert "registry registry" not in squash(doc.root.text).lower()


def test_site_title_defaults_to_the_directory_and_can_be_given(reg: Registry, tmp_path: Path) -> None:
    assert reg.root.name == "registry"
    reg.site(tmp_path / "plain")
    doc = parse(tmp_path / "plain" / "index.html")
    assert squash(doc.find("h1").text) == "registry"
    reg.site(tmp_path / "named", title="  Acme   models ")
    doc = parse(tmp_path / "named" / "index.html")
    assert squash(doc.find("h1").text) == "Model registry Acme models"
    assert squash(doc.find("title").text) == "Acme models · gitreg"


def test_a_versions_message_is_not_the_models_description(reg: Registry, make_artifact: Callable[..., Path],
                                                         tmp_path: Path) -> None:
    reg.register("churn", [make_artifact()], VersionInfo(description="first run: baseline"),
                 version="1.0.0")
    model_yaml = yamlio.loads((reg.root / "models" / "churn" / "model.yaml").read_text(), "model.yaml")
    assert "description" not in model_yaml  # register -m describes the version only
    reg.site(tmp_path / "site")
    page = parse(tmp_path / "site" / "models" / "churn" / "index.html")
    assert not [p for p in page.find_all("p") if p.has_class("lead")]  # no model description shown
    row = page.find("tr", data_version="1.0.0")
    assert "first run: baseline" in squash(row.text)  # the version's own row keeps its message
    index_row = parse(tmp_path / "site" / "index.html").find("tr", data_model="churn")
    assert "first run" not in squash(index_row.text)
    version_page = parse(tmp_path / "site" / "models" / "churn" / "1.0.0.html")
    assert squash(version_page.find("p", **{"class": "lead"}).text) == "first run: baseline"


def test_site_shows_a_models_aliases(reg: Registry, make_artifact: Callable[..., Path],
                                     tmp_path: Path) -> None:
    for v in ("1.0.0", "1.1.0"):
        reg.register("churn", [make_artifact()], version=v)
    reg.alias("churn", "champion", "1.0.0")
    reg.alias("churn", "champion", "1.1.0", reason="better")
    reg.alias("churn", "challenger", "1.0.0")
    reg.site(tmp_path / "site")
    page = parse(tmp_path / "site" / "models" / "churn" / "index.html")
    cards = {c.attrs["data-alias"]: squash(c.text) for c in page.find_all("div")
             if c.has_class("alias-card")}
    assert cards == {"champion": "@champion1.1.0", "challenger": "@challenger1.0.0"}  # label, value
    timeline = squash(page.find("ol", **{"class": "timeline"}).text)
    assert "set an alias on 1.1.0 @champion" in timeline
    assert "removed an alias from 1.0.0 @champion" in timeline
    version_page = (tmp_path / "site" / "models" / "churn" / "1.0.0.html").read_text()
    assert '<span class="tag alias">@challenger</span>' in version_page
    index_row = parse(tmp_path / "site" / "index.html").find("tr", data_model="churn")
    assert "@champion 1.1.0" in squash(index_row.text)


def test_model_description_comes_from_the_model_level_option(cli: Callable[..., Any], repo: Path,
                                                            make_artifact: Callable[..., Path],
                                                            tmp_path: Path) -> None:
    first = cli(repo, "register", "churn", str(make_artifact()), "-m", "baseline",
                "--model-description", "Predicts churn next month")
    assert first.exit_code == 0, first.output
    second = cli(repo, "register", "churn", str(make_artifact()), "-m", "adds support calls")
    assert second.exit_code == 0, second.output
    model_yaml = yamlio.loads((repo / "models" / "churn" / "model.yaml").read_text(), "model.yaml")
    assert model_yaml["description"] == "Predicts churn next month"
    assert cli(repo, "site", "-o", str(tmp_path / "site")).exit_code == 0
    page = parse(tmp_path / "site" / "models" / "churn" / "index.html")
    assert squash(page.find("p", **{"class": "lead"}).text) == "Predicts churn next month"
    rows = {r.attrs["data-version"]: squash(r.text) for r in page.find_all("tr") if "data-version" in r.attrs}
    assert "baseline" in rows["0.1.0"] and "adds support calls" in rows["0.2.0"]
    index_row = parse(tmp_path / "site" / "index.html").find("tr", data_model="churn")
    assert "Predicts churn next month" in squash(index_row.text)
    # given again, it replaces the model's description (one register commit, in history)
    third = cli(repo, "register", "churn", str(make_artifact()), "--model-description", "Churn v2")
    assert third.exit_code == 0, third.output
    assert Registry(repo).show("churn")["description"] == "Churn v2"


# -- the output directory -----------------------------------------------------------------
def test_rebuild_into_the_same_directory_replaces_the_old_site(demo: dict[str, Any],
                                                               tmp_path: Path) -> None:
    site = tmp_path / "site"
    demo["reg"].site(site)
    first = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    # the marker lists a page this build will not write: a rebuild removes it (and only it)
    marker = json.loads((site / MARKER).read_text())
    marker["files"] += ["models/gone/index.html", "listed.txt"]
    (site / "models" / "gone").mkdir()
    (site / "models" / "gone" / "index.html").write_text(
        (site / "models" / "churn" / "index.html").read_text())  # a page gitreg wrote
    (site / "mine.txt").write_text("not written by gitreg")
    # the marker is untrusted: a file it lists that gitreg did not write stays
    (site / "listed.txt").write_text("not a page of gitreg's, though the marker lists it")
    (site / MARKER).write_text(json.dumps(marker))
    demo["reg"].site(site)
    assert not (site / "models" / "gone" / "index.html").exists()
    assert (site / "mine.txt").read_text() == "not written by gitreg"
    assert (site / "listed.txt").read_text().startswith("not a page")
    second = {p: p.read_bytes() for p in site.rglob("*")
              if p.is_file() and p.name not in ("mine.txt", "listed.txt")}
    assert second == first  # same registry, same clock: byte-identical pages


@pytest.mark.parametrize("where", ["foreign", "file", "git", "root", "parent"])
def test_refuses_output_directories_it_did_not_write(repo: Path, tmp_path: Path, where: str) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    (tmp_path / "a-file").write_text("x")
    target = {"foreign": foreign, "file": tmp_path / "a-file", "git": repo / ".git" / "site",
              "root": repo, "parent": repo.parent}[where]
    before = snapshot(repo)
    with pytest.raises(UserError) as info:
        Registry(repo).site(target)
    assert info.value.hint
    assert snapshot(repo) == before
    assert (foreign / "notes.txt").read_text() == "keep me" and sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    assert not (repo / ".git" / "site").exists()


def test_never_writes_or_removes_outside_the_site_directory(tmp_path: Path) -> None:
    from gitreg.ops.site.out_dir import write_site

    site = tmp_path / "site"
    outside = tmp_path / "outside.html"
    outside.write_text("keep")
    for rel in ("../outside.html", str(outside), "models/../../outside.html"):
        with pytest.raises(UserError, match="outside the site directory"):
            write_site(site, {"index.html": "x", rel: "evil"}, [])
        assert outside.read_text() == "keep" and not site.exists()
    # a tampered marker from a previous build cannot make a rebuild delete files elsewhere
    write_site(site, {"index.html": "x"}, ["../outside.html", str(outside), "index.html"])
    assert outside.read_text() == "keep" and (site / "index.html").read_text() == "x"


def test_a_failed_write_is_a_user_error_naming_the_file(repo: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from gitreg.ops.site import out_dir as site_mod

    real = site_mod._write_at
    calls = {"n": 0}

    def full_disk(top: int, rel: str, text: str) -> None:  # fault injection: the disk fills up
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device", rel)
        real(top, rel, text)

    monkeypatch.setattr(site_mod, "_write_at", full_disk)
    before = snapshot(repo)
    with pytest.raises(UserError, match="cannot write the site to .*No space left on device") as info:
        Registry(repo).site(tmp_path / "site")
    assert "free space" in (info.value.hint or "")
    assert snapshot(repo) == before
    assert not (tmp_path / "site" / MARKER).exists()  # an unfinished site is not marked as built


# -- the CLI ------------------------------------------------------------------------------
def test_cli_site_writes_the_site_and_reports_json(cli: Callable[..., Any], demo: dict[str, Any],
                                                   tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli(demo["root"], "site", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == {"out_dir": str(out), "index": str(out / "index.html"), "models": 2,
                    "versions": 4, "pages": 7}
    assert "wrote 7 pages for 2 model(s)" in result.stderr
    plain = cli(demo["root"], "site", "-o", str(out))
    assert plain.exit_code == 0 and plain.stdout == ""


def test_cli_site_refusal_is_one_line_and_exit_1(cli: Callable[..., Any], repo: Path, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    result = cli(repo, "site", "-o", str(tmp_path / "full"))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not written by `gitreg site`" in lines[0] and "hint:" in lines[0]
    assert cli(repo, "site").exit_code == 2  # -o is required


# -- compare --plot -----------------------------------------------------------------------
def test_write_plot_draws_the_compare_result_as_one_svg(demo: dict[str, Any], tmp_path: Path) -> None:
    reg = demo["reg"]
    data = reg.compare("churn", metrics=["accuracy", "f1"])
    out = tmp_path / "plots" / "churn.svg"
    assert reg.write_plot(data, out) == {"path": str(out), "metrics": ["accuracy", "f1"], "versions": 3}
    root = ET.fromstring(out.read_text())
    ns = {"s": "http://www.w3.org/2000/svg"}
    charts = root.findall("s:g/s:svg", ns)
    assert [c.get("data-metric") for c in charts] == ["accuracy", "f1"]
    stages = {c.get("data-version"): c.get("data-stage") for c in charts[0].findall(".//s:circle", ns)}
    assert stages == {"1.0.0": "production", "1.1.0": "archived", "2.0.0": "staging"}


@pytest.mark.parametrize("name", ["churn.png", "churn", "adir.svg"])
def test_write_plot_refuses_what_it_cannot_write(demo: dict[str, Any], tmp_path: Path, name: str) -> None:
    (tmp_path / "adir.svg").mkdir()
    with pytest.raises(UserError) as info:
        demo["reg"].write_plot(demo["reg"].compare("churn"), tmp_path / name)
    assert ".svg" in (info.value.hint or "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir.svg"]


def test_cli_compare_plot_writes_the_svg_and_still_prints(cli: Callable[..., Any], demo: dict[str, Any],
                                                         tmp_path: Path) -> None:
    out = tmp_path / "churn.svg"
    result = cli(demo["root"], "compare", "churn", "--metrics", "accuracy,f1", "--plot", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metrics"] == ["accuracy", "f1"]
    assert f"wrote {out}: 2 metric chart(s) across 3 version(s)" in result.stderr
    root = ET.fromstring(out.read_text())
    assert [c.get("data-metric") for c in root.findall("{http://www.w3.org/2000/svg}g/"
                                                       "{http://www.w3.org/2000/svg}svg")] == ["accuracy", "f1"]
    png = cli(demo["root"], "compare", "churn", "--plot", str(tmp_path / "churn.png"))
    assert png.exit_code == 1 and "only .svg files" in png.stderr and png.stdout == ""
    assert not (tmp_path / "churn.png").exists()


# -- the GitHub Pages workflow ------------------------------------------------------------
def test_pages_workflow_builds_the_site_and_deploys_it() -> None:
    from gitreg import templates

    text = templates.workflow_templates()["pages.yml"]
    wf = yamlio.loads(text, "pages.yml")
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 (PyYAML) reads the key `on` as True
    assert triggers["push"]["branches"] == ["main"]
    assert wf["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build = wf["jobs"]["build"]["steps"]
    checkout = next(s for s in build if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    assert any(s.get("uses", "").startswith("actions/setup-python@") for s in build)
    runs = [s["run"] for s in build if "run" in s]
    assert 'python -m pip install "$GITREG_PACKAGE"' in runs and "gitreg site -o _site" in runs
    upload = next(s for s in build if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_site"
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")
