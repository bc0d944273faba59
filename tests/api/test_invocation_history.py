"""A function deleted and made again under the same name: its history and the new one's
are never mixed. Through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api


def _speaks(word: str) -> dict[str, str]:
    return {"main.py": f"def handler(event, context):\n    print({word!r})\n    return {word!r}\n"}


async def _history(api: Api, **params: str) -> list[dict[str, Any]]:
    answer = await api.client.get("/api/v1/invocations", params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def _incarnation(api: Api, word: str, calls: int) -> str:
    """Deploy `fn` saying `word`, call it `calls` times; its function id."""
    created = await api.deploy("fn", _speaks(word))
    assert created.status_code == 201, created.text
    for _ in range(calls):
        assert (await api.invoke("fn")).json() == word
    function_id: str = created.json()["id"]
    return function_id


async def test_a_name_lists_the_live_function_only(api: Api) -> None:
    old = await _incarnation(api, "old", calls=2)
    assert (await api.client.delete("/api/v1/functions/fn")).status_code == 204
    new = await _incarnation(api, "new", calls=1)

    live = await _history(api, function="fn")

    assert old != new
    assert [(item["function_id"], item["result"]) for item in live] == [(new, "new")]
    assert (await api.client.get("/api/v1/functions/fn")).json()["id"] == new


async def test_the_deleted_ones_are_there_on_request(api: Api) -> None:
    old = await _incarnation(api, "old", calls=2)
    await api.client.delete("/api/v1/functions/fn")
    new = await _incarnation(api, "new", calls=1)

    every = await _history(api, function="fn", include_deleted="true")
    one = await _history(api, function_id=old)
    both_filters = await _history(api, function="fn", function_id=old)

    assert [item["function_id"] for item in every] == [new, old, old]  # newest first
    assert [item["result"] for item in one] == ["old", "old"]
    assert both_filters == one


async def test_a_deleted_function_keeps_its_history_until_the_name_is_used_again(
    api: Api,
) -> None:
    first = await _incarnation(api, "first", calls=1)
    await api.client.delete("/api/v1/functions/fn")
    assert [item["function_id"] for item in await _history(api, function="fn")] == [first]
    second = await _incarnation(api, "second", calls=1)
    await api.client.delete("/api/v1/functions/fn")

    after_both = await _history(api, function="fn")

    assert [item["function_id"] for item in after_both] == [second]  # the one deleted last


async def test_a_name_never_used_has_no_history(api: Api) -> None:
    await _incarnation(api, "only", calls=1)

    assert await _history(api, function="never") == []
    assert await _history(api, function="never", include_deleted="true") == []
    assert await _history(api, function_id="no-such-id") == []
    assert len(await _history(api)) == 1


async def test_paging_stays_within_the_live_function(api: Api) -> None:
    await _incarnation(api, "old", calls=3)
    await api.client.delete("/api/v1/functions/fn")
    new = await _incarnation(api, "new", calls=3)

    first = await api.client.get("/api/v1/invocations", params={"function": "fn", "limit": 2})
    page = first.json()
    rest = await _history(api, function="fn", cursor=page["next_cursor"])

    ids = {item["function_id"] for item in page["items"] + rest}
    assert ids == {new}
    assert len(page["items"]) + len(rest) == 3
