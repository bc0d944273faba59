"""A new key's dialog shows the key as the AWS tools take it, and that profile works: boto3,
unmodified, signs with it and the Lambda API answers."""

from __future__ import annotations

import configparser
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from playwright.sync_api import expect

from tests.conftest import LiveServer
from tests.ui.conftest import Console


def test_the_key_dialog_shows_a_working_aws_profile(
    console: Console, server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # boto3 reads no file of the user's: only this test's own (empty) ones.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    console.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = console.page
    console.goto("/settings/keys")
    console.sign_in()
    name = f"aws-{uuid.uuid4().hex[:8]}"
    section = page.get_by_role("region", name="API keys")
    section.get_by_label("Name").fill(name)
    section.get_by_label("Role").select_option("viewer")
    section.get_by_role("button", name="Create key").click()

    dialog = page.get_by_role("dialog", name=f"Your new key {name}")
    expect(dialog).to_be_visible()
    secret = dialog.locator("[data-secret]").inner_text().strip()
    block = dialog.locator("[data-aws-profile]").inner_text()
    profile = configparser.ConfigParser()
    profile.read_string(block)
    access = profile["sandlot"]["aws_access_key_id"]
    assert profile["sandlot"]["aws_secret_access_key"] == secret
    assert secret.startswith(access + "_")
    expect(dialog).to_contain_text("region = us-east-1")
    expect(dialog.locator("[data-aws-command]")).to_contain_text(f"--endpoint-url {server.url}")
    dialog.get_by_role("button", name="AWS profile to clipboard").click()
    expect(dialog.get_by_role("status")).to_have_text("Copied the profile")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert f"aws_access_key_id = {access}" in copied and secret in copied

    client = boto3.session.Session().client(
        "lambda",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    answer = client.list_functions()
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
