"""Static security scanning: bandit over the shipped packages, on every test run.

``make lint`` runs bandit too (quiet, failing on any finding); this test puts the count on the
scoreboard. Zero findings are expected; a finding that is accepted must be skipped in
``pyproject.toml`` (``[tool.bandit]``) or marked ``# nosec BXXX`` with its reason on the line.

Dependency auditing (pip-audit) is not run: from this machine it cannot reach a vulnerability
database. ``uvx pip-audit -r <(uv export --no-hashes) --no-deps --disable-pip`` (pip-audit
2.10.1) skips every one of the 197 pinned packages with "Dependency not found on PyPI and could
not be audited" (PyPI's per-version JSON API, ``/pypi/NAME/VERSION/json``, answers 404 here) and
then prints "No known vulnerabilities found", which means nothing; ``-s osv`` fails with
``NameResolutionError: Failed to resolve 'api.osv.dev'``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.scoreboard("scan", "bandit: no findings in assistant/ and evals/")
def test_bandit_finds_nothing(scoreboard: Any) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bandit", "-c", "pyproject.toml", "-r", "assistant", "evals",
         "-f", "json", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    report = json.loads(done.stdout)
    findings = report["results"]
    totals = report["metrics"]["_totals"]
    scoreboard.record(
        findings=len(findings),
        lines_scanned=totals["loc"],
        nosec_lines=totals["nosec"],
        skipped_tests=totals.get("skipped_tests", 0),
    )
    assert totals["loc"] > 1000, "bandit scanned almost nothing: wrong paths?"
    assert report["errors"] == [], report["errors"]
    assert findings == [], [
        f"{f['filename']}:{f['line_number']} {f['test_id']} {f['issue_text']}" for f in findings
    ]
    assert done.returncode == 0
