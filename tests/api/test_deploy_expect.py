"""Deploys that know what they replace: `If-Match` / `expect_version` refuse a deploy that
another one overtook (409 VersionConflict), and a deploy identical to the newest version
makes no version and says so."""

from __future__ import annotations

from tests.conftest import HELLO, Api, zip_bytes

URL = "/api/v1/functions/fn"


async def test_a_deploy_supersedes_only_the_version_it_expects(api: Api) -> None:
    assert (await api.deploy("fn", HELLO)).status_code == 201
    moved = await api.client.put(URL, json={"timeout_s": 5}, headers={"If-Match": '"1"'})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["versions"], moved.headers["etag"]) == (2, '"2"')

    late = await api.client.put(URL, json={"timeout_s": 7}, headers={"If-Match": '"1"'})
    assert late.status_code == 409
    assert late.json() == {
        "error": "VersionConflict",
        "detail": late.json()["detail"] | {"expected": 1, "newest": 2},
    }
    as_field = await api.client.put(
        URL,
        data={"expect_version": "1"},
        files={"code": ("code.zip", zip_bytes(HELLO), "application/zip")},
    )
    assert as_field.json()["error"] == "VersionConflict"
    for header, body in (("three", {}), ('W/"0"', {}), ('"2"', {"expect_version": 1})):
        bad = await api.client.put(URL, json=body, headers={"If-Match": header})
        assert (bad.status_code, bad.json()["error"]) == (400, "InvalidInput"), header
    versions = (await api.client.get(f"{URL}/versions")).json()["items"]
    assert len(versions) == 2  # nothing refused made a version


async def test_an_identical_deploy_makes_no_version(api: Api) -> None:
    code = {"code": ("code.zip", zip_bytes(HELLO), "application/zip")}  # the same bytes
    made = await api.client.post(
        "/api/v1/functions", data={"name": "fn", "timeout_s": "5"}, files=code
    )
    assert made.status_code == 201, made.text
    same = await api.client.put(URL, data={"timeout_s": "5", "expect_version": "1"}, files=code)
    assert same.status_code == 200, same.text
    body = same.json()
    assert (body["unchanged"], body["versions"], body["config"]["number"]) == (True, 1, 1)
    assert body["config"]["state"] == "ready"
    same_config = await api.client.put(URL, json={"timeout_s": 5})
    assert same_config.json()["unchanged"] is True
    other = await api.client.put(URL, json={"timeout_s": 6})
    assert (other.json()["unchanged"], other.json()["versions"]) == (False, 2)
    events = (await api.client.get("/api/v1/audit", params={"action": "function.configure"})).json()
    assert len(events["items"]) == 1  # the unchanged deploys changed nothing: no audit row
