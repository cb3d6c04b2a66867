"""Signatures: --sign with a throwaway SSH key, `gitreg verify`, and require_signed."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import ALICE, git

from ._util import open_lifecycle, run_gitreg


def _keypair(folder, name):
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True, capture_output=True)
    return key, (folder / f"{name}.pub").read_text().strip()


@pytest.fixture
def signing(repo, tmp_path):
    """repo configured to sign with a fresh SSH key that the allowed-signers file trusts."""
    keys = tmp_path / "keys"
    keys.mkdir()
    trusted, trusted_pub = _keypair(keys, "trusted")
    stranger, _ = _keypair(keys, "stranger")
    allowed = keys / "allowed_signers"
    allowed.write_text(f'{ALICE} namespaces="git" {trusted_pub}\n')
    for key, value in (("gpg.format", "ssh"), ("user.signingkey", str(trusted)),
                       ("gpg.ssh.allowedSignersFile", str(allowed))):
        git(repo, "config", key, value)
    return {"trusted": trusted, "stranger": stranger}


def _verify(repo, name):
    proc = run_gitreg(repo, "verify", name)
    return proc.returncode, proc.stderr


def test_signed_register_and_promote_verify(repo, signing, make_artifact):
    open_lifecycle(repo)  # an unsigned commit, but it does not touch models/
    assert run_gitreg(repo, "register", "m", str(make_artifact()), "--sign").returncode == 0
    assert run_gitreg(repo, "promote", "m", "0.1.0", "production", "--sign").returncode == 0
    assert git(repo, "cat-file", "-p", "m@v0.1.0").count("-----BEGIN SSH SIGNATURE-----") == 1
    assert "gpgsig" in git(repo, "cat-file", "-p", "HEAD")
    code, err = _verify(repo, "m")
    assert code == 0, err
    assert "ok: every tag and commit of m is signed and verified" in err
    assert err.count("ok  tag") == 2 and err.count("ok  commit") == 2


def test_verify_fails_on_an_unsigned_tag(repo, signing, make_artifact):
    assert run_gitreg(repo, "register", "m", str(make_artifact()), "--sign").returncode == 0
    assert run_gitreg(repo, "register", "m", str(make_artifact())).returncode == 0  # unsigned
    code, err = _verify(repo, "m")
    assert code == 3
    assert "FAIL  tag m@v0.2.0: unsigned" in err and "FAIL  commit" in err
    assert "ok  tag m@v0.1.0" in err


def test_verify_fails_on_a_key_it_does_not_trust(repo, signing, make_artifact):
    git(repo, "config", "user.signingkey", str(signing["stranger"]))
    assert run_gitreg(repo, "register", "m", str(make_artifact()), "--sign").returncode == 0
    code, err = _verify(repo, "m")
    assert code == 3, err
    assert "FAIL  tag m@v0.1.0: signed by an unknown key" in err
    assert "ok  " not in err


def test_require_signed_refuses_unsigned_promotions(repo, signing, make_artifact):
    open_lifecycle(repo, production={"require_signed": True})
    assert run_gitreg(repo, "register", "m", str(make_artifact())).returncode == 0
    head = git(repo, "rev-parse", "HEAD")
    refused = run_gitreg(repo, "promote", "m", "0.1.0", "production")
    assert refused.returncode == 3
    assert "production requires signed promotions" in refused.stderr and "--sign" in refused.stderr
    assert git(repo, "rev-parse", "HEAD") == head
    # other stages are not bound by it
    assert run_gitreg(repo, "promote", "m", "0.1.0", "staging").returncode == 0
    ok = run_gitreg(repo, "promote", "m", "0.1.0", "production", "--sign")
    assert ok.returncode == 0, ok.stderr
    tag = [t for t in git(repo, "tag", "-l", "m#production#*").split()][-1]
    assert git(repo, "verify-tag", tag, check=False) is not None
    assert subprocess.run(["git", "verify-tag", tag], cwd=repo, capture_output=True).returncode == 0


@pytest.fixture
def gnupg(tmp_path):
    """Two throwaway GPG homes with one key each; their agents are stopped afterwards."""
    homes = []
    for who in ("alice", "stranger"):
        home = tmp_path / f"gpg-{who}"
        home.mkdir(mode=0o700)
        env = {**os.environ, "GNUPGHOME": str(home)}
        subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
                        f"{who.title()} <{ALICE}>", "ed25519", "sign", "never"],
                       env=env, check=True, capture_output=True)
        fpr = [ln.split(":")[9] for ln in subprocess.run(
            ["gpg", "--list-secret-keys", "--with-colons"], env=env, check=True, capture_output=True,
            text=True).stdout.splitlines() if ln.startswith("fpr")][0]
        homes.append((env, fpr))
    yield homes
    for env, _ in homes:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True)


def test_gpg_signed_register_verifies_and_an_unknown_gpg_key_fails(repo, gnupg, make_artifact):
    (alice_env, alice_key), (stranger_env, stranger_key) = gnupg
    git(repo, "config", "user.signingkey", alice_key)
    r = run_gitreg(repo, "register", "m", str(make_artifact()), "--sign", env=alice_env)
    assert r.returncode == 0, r.stderr
    ok = run_gitreg(repo, "verify", "m", env=alice_env)
    assert ok.returncode == 0, ok.stderr
    assert "ok  tag m@v0.1.0: good signature" in ok.stderr
    # a version signed with a key alice's keyring does not know
    git(repo, "config", "user.signingkey", stranger_key)
    r = run_gitreg(repo, "register", "m", str(make_artifact()), "--sign", env=stranger_env)
    assert r.returncode == 0, r.stderr
    bad = run_gitreg(repo, "verify", "m", env=alice_env)
    assert bad.returncode == 3
    assert "FAIL  tag m@v0.2.0: signed by an unknown key" in bad.stderr
    assert "ok  tag m@v0.1.0" in bad.stderr


def test_require_signed_binds_an_approval_to_the_approvers_own_key(repo, signing, tmp_path, make_artifact):
    """With require_signed, an approve commit counts only when the allowed-signers file maps
    its signing key to the approver (issue 11): bob signing with alice's key is not bob."""
    from conftest import BOB, as_user

    bob_key, bob_pub = _keypair(tmp_path / "keys", "bob")
    allowed = tmp_path / "keys" / "allowed_signers"
    allowed.write_text(allowed.read_text() + f'{BOB} namespaces="git" {bob_pub}\n')
    open_lifecycle(repo, production={"approvals": 1, "require_signed": True})
    bob = {**os.environ, **as_user(BOB)}
    for version in ("0.1.0", "0.2.0"):
        assert run_gitreg(repo, "register", "m", str(make_artifact()), "--sign").returncode == 0
        r = run_gitreg(repo, "request", "m", version, "production", "--reason", "r", "--sign")
        assert r.returncode == 0, r.stderr
    # 0.1.0: bob approves with his own key
    git(repo, "config", "user.signingkey", str(bob_key))
    r = run_gitreg(repo, "approve", "m", "0.1.0", "production", "--sign", env=bob)
    assert r.returncode == 0, r.stderr
    assert run_gitreg(repo, "validate").returncode == 0
    # 0.2.0: "bob" approves with alice's key
    git(repo, "config", "user.signingkey", str(signing["trusted"]))
    r = run_gitreg(repo, "approve", "m", "0.2.0", "production", "--sign", env=bob)
    assert r.returncode == 0, r.stderr
    bad = run_gitreg(repo, "validate")
    assert bad.returncode == 1
    out = bad.stdout + bad.stderr
    assert f"names {BOB} as approver, but no approval by {BOB} backs it (a signed `gitreg approve` " \
           f"commit by {BOB})" in out
    assert "m 0.1.0" not in out and "models/m/0.1.0" not in out
    assert run_gitreg(repo, "doctor").returncode == 1


def test_require_signed_binds_an_alias_approval_to_the_approvers_own_key(repo, signing, tmp_path,
                                                                          make_artifact):
    """An alias policy's require_signed is judged by validate as a stage's is: bob signing
    an `approve --alias` with alice's key is not bob."""
    from conftest import BOB, as_user

    from gitreg import yamlio

    bob_key, bob_pub = _keypair(tmp_path / "keys", "bob")
    allowed = tmp_path / "keys" / "allowed_signers"
    allowed.write_text(allowed.read_text() + f'{BOB} namespaces="git" {bob_pub}\n')
    open_lifecycle(repo)
    cfg = yamlio.load_file(repo / "gitreg.yaml")
    cfg["aliases"] = {"policies": {"champion": {"approvals": 1, "require_signed": True}}}
    (repo / "gitreg.yaml").write_text(yamlio.dump(cfg))
    git(repo, "commit", "-qm", "test: champion needs a signed approval", "--", "gitreg.yaml")
    bob = {**os.environ, **as_user(BOB)}
    for version in ("0.1.0", "0.2.0"):
        assert run_gitreg(repo, "register", "m", str(make_artifact()), "--sign").returncode == 0
    r = run_gitreg(repo, "request", "m", "0.1.0", "--alias", "champion", "--reason", "r", "--sign")
    assert r.returncode == 0, r.stderr
    git(repo, "config", "user.signingkey", str(bob_key))
    r = run_gitreg(repo, "approve", "m", "0.1.0", "--alias", "champion", "--sign", env=bob)
    assert r.returncode == 0, r.stderr
    r = run_gitreg(repo, "validate")
    assert r.returncode == 0, r.stdout + r.stderr
    # 0.2.0: "bob" approves with alice's key; the approval block names him
    git(repo, "config", "user.signingkey", str(signing["trusted"]))
    r = run_gitreg(repo, "request", "m", "0.2.0", "--alias", "champion", "--reason", "r", "--sign")
    assert r.returncode == 0, r.stderr
    r = run_gitreg(repo, "approve", "m", "0.2.0", "--alias", "champion", "--sign", env=bob)
    assert r.returncode == 0, r.stderr
    bad = run_gitreg(repo, "validate")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    out = bad.stdout + bad.stderr
    assert f"lists {BOB}, but no `gitreg approve` commit by {BOB} backs it" in out
    assert "models/m/0.1.0" not in out
    assert run_gitreg(repo, "doctor").returncode == 1
