"""Session stores: in memory (TTL, LRU bound) and JSON files (round trip, expiry, safety)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from assistant.agent.sessions import FileSessionStore, MemorySessionStore


def _listing(directory: Path) -> list[Path]:
    """The entries of ``directory``, sorted (a sync helper: tests stay free of blocking calls)."""
    return sorted(directory.iterdir())


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _conversation() -> list[BaseMessage]:
    return [
        SystemMessage("You are terse."),
        HumanMessage("What is 6 times 7?"),
        AIMessage(
            content="",
            tool_calls=[
                {
                    "name": "calculator",
                    "args": {"expression": "6*7"},
                    "id": "call_1",
                    "type": "tool_call",
                }
            ],
            usage_metadata={"input_tokens": 12, "output_tokens": 4, "total_tokens": 16},
        ),
        ToolMessage("42", tool_call_id="call_1", name="calculator"),
        ToolMessage("boom", tool_call_id="call_2", name="broken", status="error"),
        AIMessage("It is 42 — «quarante-deux» 🙂"),
    ]


# -- in memory ----------------------------------------------------------------------------------


async def test_memory_round_trip_and_unknown_id() -> None:
    store = MemorySessionStore()
    await store.save("s", _conversation(), ttl=60)
    assert await store.load("s") == _conversation()
    assert await store.load("other") == []


async def test_memory_sessions_expire_after_their_ttl() -> None:
    clock = Clock()
    store = MemorySessionStore(clock=clock)
    await store.save("s", [HumanMessage("hi")], ttl=10)

    clock.now += 9.999
    assert [m.text for m in await store.load("s")] == ["hi"]
    clock.now += 0.001  # exactly at the expiry time
    assert await store.load("s") == []
    assert len(store) == 0  # the expired entry is dropped, not just hidden


async def test_memory_saving_again_renews_the_ttl() -> None:
    clock = Clock()
    store = MemorySessionStore(clock=clock)
    await store.save("s", [HumanMessage("one")], ttl=10)
    clock.now += 8
    await store.save("s", [HumanMessage("one"), HumanMessage("two")], ttl=10)
    clock.now += 8  # 16 s after the first save, 8 s after the second
    assert [m.text for m in await store.load("s")] == ["one", "two"]


async def test_memory_least_recently_used_session_goes_first() -> None:
    store = MemorySessionStore(max_sessions=2)
    await store.save("a", [HumanMessage("a")], ttl=60)
    await store.save("b", [HumanMessage("b")], ttl=60)
    assert await store.load("a")  # "a" is now more recently used than "b"
    await store.save("c", [HumanMessage("c")], ttl=60)

    assert len(store) == 2
    assert await store.load("b") == []
    assert [m.text for m in await store.load("a")] == ["a"]
    assert [m.text for m in await store.load("c")] == ["c"]


async def test_memory_bound_holds_under_many_sessions() -> None:
    store = MemorySessionStore(max_sessions=3)
    for index in range(50):
        await store.save(f"s{index}", [HumanMessage(str(index))], ttl=60)
    assert len(store) == 3
    assert [m.text for m in await store.load("s49")] == ["49"]
    assert await store.load("s46") == []


async def test_memory_delete() -> None:
    store = MemorySessionStore()
    await store.save("s", [HumanMessage("hi")], ttl=60)
    await store.delete("s")
    await store.delete("never-existed")  # no error
    assert await store.load("s") == []
    assert len(store) == 0


async def test_memory_keeps_copies_not_aliases() -> None:
    store = MemorySessionStore()
    saved = [HumanMessage("one")]
    await store.save("s", saved, ttl=60)
    saved.append(HumanMessage("added by the caller after saving"))

    loaded = await store.load("s")
    assert [m.text for m in loaded] == ["one"]
    loaded.append(HumanMessage("added by the caller after loading"))
    assert [m.text for m in await store.load("s")] == ["one"]


# -- files --------------------------------------------------------------------------------------


async def test_file_round_trip_keeps_every_message_kind(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path / "sessions")
    await store.save("s", _conversation(), ttl=60)

    # a fresh store (another process) reads what the first one wrote
    loaded = await FileSessionStore(tmp_path / "sessions").load("s")
    assert loaded == _conversation()
    ai = loaded[2]
    assert isinstance(ai, AIMessage)
    assert ai.tool_calls[0]["name"] == "calculator" and ai.tool_calls[0]["id"] == "call_1"
    assert ai.usage_metadata is not None and ai.usage_metadata["input_tokens"] == 12
    failed = loaded[4]
    assert isinstance(failed, ToolMessage) and failed.status == "error"
    assert failed.tool_call_id == "call_2"


async def test_file_unknown_session_is_empty(tmp_path: Path) -> None:
    assert await FileSessionStore(tmp_path / "missing-dir").load("nobody") == []


async def test_file_sessions_expire_by_the_injected_clock(tmp_path: Path) -> None:
    clock = Clock()
    store = FileSessionStore(tmp_path, clock=clock)
    await store.save("s", [HumanMessage("hi")], ttl=10)

    clock.now += 9.5
    assert [m.text for m in await store.load("s")] == ["hi"]
    clock.now += 0.5
    assert await store.load("s") == []
    assert _listing(tmp_path) == []  # the expired file is removed


@pytest.mark.parametrize(
    "session_id",
    [
        "../../../etc/passwd",
        "/absolute/path",
        "a/b\\c:d*e?f",
        "имя пользователя 🙂",
        "",
        "x" * 5000,
        "nul\x00byte",
    ],
    ids=["dotdot", "absolute", "separators", "unicode", "empty", "very-long", "nul"],
)
async def test_file_any_id_stays_inside_the_directory(tmp_path: Path, session_id: str) -> None:
    directory = tmp_path / "sessions"
    store = FileSessionStore(directory)
    await store.save(session_id, [HumanMessage(session_id)], ttl=60)

    assert [m.text for m in await store.load(session_id)] == [session_id]
    assert [p.name for p in _listing(tmp_path)] == ["sessions"]  # nothing written beside it
    files = _listing(directory)
    assert len(files) == 1 and files[0].is_file() and files[0].suffix == ".json"
    await store.delete(session_id)
    assert _listing(directory) == []


async def test_file_distinct_ids_do_not_collide(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    ids = ["a/b", "a_b", "a\\b", "A/B", "a/b "]
    for session_id in ids:
        await store.save(session_id, [HumanMessage(session_id)], ttl=60)
    for session_id in ids:
        assert [m.text for m in await store.load(session_id)] == [session_id]
    assert len(_listing(tmp_path)) == len(ids)


def _only_file(directory: Path) -> Path:
    files = _listing(directory)
    assert len(files) == 1
    return files[0]


@pytest.mark.parametrize(
    "content",
    [b'{"id": "s", "expires": 1e18, "messages": [', b"", b"\x00\xff\xfe garbage"],
    ids=["truncated-json", "empty-file", "binary"],
)
async def test_file_corrupt_file_is_an_empty_session(tmp_path: Path, content: bytes) -> None:
    store = FileSessionStore(tmp_path)
    await store.save("s", [HumanMessage("hi")], ttl=60)
    _only_file(tmp_path).write_bytes(content)

    assert await store.load("s") == []
    await store.save("s", [HumanMessage("fresh")], ttl=60)  # and it can be written again
    assert [m.text for m in await store.load("s")] == ["fresh"]


@pytest.mark.parametrize(
    "record",
    [[], {"expires": 1e18}, {"expires": 1e18, "messages": [{"bogus": 1}]}],
    ids=["not-an-object", "no-messages", "bad-message"],
)
async def test_file_wrong_shape_is_an_empty_session(tmp_path: Path, record: object) -> None:
    store = FileSessionStore(tmp_path)
    await store.save("s", [HumanMessage("hi")], ttl=60)
    _only_file(tmp_path).write_text(json.dumps(record), encoding="utf-8")

    assert await store.load("s") == []


async def test_file_writes_replace_atomically_and_leave_no_temporary_files(
    tmp_path: Path,
) -> None:
    store = FileSessionStore(tmp_path)
    for turn in range(5):
        await store.save("s", [HumanMessage(f"turn {turn}")], ttl=60)
        await store.save("other", [HumanMessage("x")], ttl=60)

    names = [p.name for p in _listing(tmp_path)]
    assert len(names) == 2 and all(name.endswith(".json") for name in names)
    assert not any(".tmp" in name for name in names)
    assert [m.text for m in await store.load("s")] == ["turn 4"]


async def test_file_failed_write_keeps_the_previous_conversation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileSessionStore(tmp_path)
    await store.save("s", [HumanMessage("kept")], ttl=60)

    def refuse(self: Path, target: Path) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        await store.save("s", [HumanMessage("lost")], ttl=60)
    monkeypatch.undo()

    assert [m.text for m in await store.load("s")] == ["kept"]


async def test_file_delete(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    await store.save("s", [HumanMessage("hi")], ttl=60)
    await store.delete("s")
    await store.delete("never-existed")
    assert await store.load("s") == []
