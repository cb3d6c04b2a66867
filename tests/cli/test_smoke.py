from conftest import snapshot


def test_fixture_repo_is_clean_registry(repo, reg):
    assert (repo / "gitreg.yaml").exists()
    assert reg.list_models() == {"models": [], "hidden": []}
    snap = snapshot(repo)
    assert snap["status"] == ""
