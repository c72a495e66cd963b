"""The fault-injection suite (issue 9, the reliability scoreboard).

Each test injects one fault into real parts on loopback (a served API in front of fake
upstreams, a redis-server, DuckDB files, ``assistant`` CLI processes, SIGKILL/SIGSTOP) and
asserts the documented behaviour: a retry, a fallback, an error frame, a clear error or a
resume, with nothing lost or duplicated. Every test is marked
``@pytest.mark.scoreboard("fault", ...)``; ``pytest tests/faults --scoreboard=PATH`` records
them for ``docs/reliability.md``.
"""
