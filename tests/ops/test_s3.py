"""A DVC remote on S3: a moto S3 server on 127.0.0.1 stands in for AWS (no network)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import boto3  # CI installs boto3, moto[server] and dvc-s3 (gitreg-registry[s3]); never skipped
import moto.server as moto_server
import pytest

from conftest import git

BUCKET = "gitreg-models"
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
         "AWS_DEFAULT_REGION": "us-east-1"}


def test_dvc_s3_plugin_is_installed():
    # without the plugin DVC cannot talk to s3:// at all; say so plainly
    import importlib.util

    assert importlib.util.find_spec("dvc_s3") is not None, "pip install dvc-s3 (gitreg-registry[s3])"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        client = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_bucket(Bucket=BUCKET)
        yield url
    finally:
        server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in CREDS.items():
        monkeypatch.setenv(key, value)
    return CREDS


def s3_keys(endpoint: str, prefix: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    resp = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for o in resp.get("Contents", [])]


def test_init_register_push_and_get_through_s3(s3_endpoint, s3_env, tmp_path, cli, monkeypatch):
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    reg_dir = tmp_path / "registry"
    res = cli(None, "init", str(reg_dir), "--remote", str(bare),
              "--dvc-remote", f"s3://{BUCKET}/churn-registry",
              "--dvc-remote-option", f"endpointurl={s3_endpoint}")
    assert res.exit_code == 0, res.output
    config = (reg_dir / ".dvc" / "config").read_text()
    assert f"url = s3://{BUCKET}/churn-registry" in config and f"endpointurl = {s3_endpoint}" in config
    git(reg_dir, "push", "-q", "origin", "main")

    model = tmp_path / "model.pkl"
    model.write_bytes(os.urandom(2048))
    res = cli(reg_dir, "register", "churn", str(model), "--version", "1.0.0", "--metric", "auc=0.9", "--push")
    assert res.exit_code == 0, res.output
    assert s3_keys(s3_endpoint, "churn-registry/"), "dvc push put nothing in the bucket"

    clone = tmp_path / "clone2"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    out = tmp_path / "out"

    # no credentials: a clear one-line error, nothing written
    for key in CREDS:
        monkeypatch.delenv(key)
    res = cli(clone, "get", "churn@1.0.0", "-o", str(out))
    assert res.exit_code == 1, res.output
    assert "refused access" in res.stderr and "AWS_ACCESS_KEY_ID" in res.stderr
    assert res.stderr.count("\n") == 1
    assert not out.exists()

    for key, value in CREDS.items():
        monkeypatch.setenv(key, value)
    res = cli(clone, "get", "churn", "-o", str(out), "--json")
    assert res.exit_code == 0, res.output
    data: dict[str, Any] = json.loads(res.stdout)
    assert data["version"] == "1.0.0"
    assert (out / "model.pkl").read_bytes() == model.read_bytes()

    # and from the bare repository directly, without a clone
    out2 = tmp_path / "out2"
    res = cli(None, "get", "churn@1.0.0", "--repo", str(bare), "-o", str(out2))
    assert res.exit_code == 0, res.output
    assert Path(out2 / "model.pkl").read_bytes() == model.read_bytes()


def test_register_push_without_credentials_is_one_clear_line(s3_endpoint, tmp_path, cli):
    reg_dir = tmp_path / "registry"
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    res = cli(None, "init", str(reg_dir), "--remote", str(bare),
              "--dvc-remote", f"s3://{BUCKET}/nocreds", "--dvc-remote-option", f"endpointurl={s3_endpoint}")
    assert res.exit_code == 0, res.output
    model = tmp_path / "model.pkl"
    model.write_bytes(b"x" * 64)
    res = cli(reg_dir, "register", "churn", str(model), "--push")  # no AWS_* in the environment
    assert res.exit_code == 1, res.output
    assert "refused access" in res.stderr and "Unable to locate credentials" in res.stderr
    assert s3_keys(s3_endpoint, "nocreds/") == []
