"""Write the JSON schema of one eval dataset case to ``datasets/case.schema.json``.

The schema is :func:`evals.dataset.case_json_schema` (``evals.types.Case``'s schema, with
scorers also accepted as plain names). Editors and other tools can validate a dataset line
against it; the loader itself validates with the pydantic model.

Usage::

    uv run python tools/gen_dataset_schema.py           # rewrite the file
    uv run python tools/gen_dataset_schema.py --check   # exit 1 if the file is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from evals.dataset import case_json_schema  # noqa: E402

SCHEMA_FILE = ROOT / "datasets" / "case.schema.json"


def render() -> str:
    """The schema file's content: indented JSON with a final newline."""
    return json.dumps(case_json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema, or with ``--check`` report whether the file is stale (exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    content = render()
    current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else None
    if args.check:
        if current != content:
            name = SCHEMA_FILE.relative_to(ROOT)
            print(
                f"{name} is out of date: run `uv run python tools/{Path(__file__).name}`",
                file=sys.stderr,
            )
            return 1
        print(f"{SCHEMA_FILE.relative_to(ROOT)} is up to date")
        return 0
    if current != content:
        SCHEMA_FILE.write_text(content, encoding="utf-8")
        print(f"wrote {SCHEMA_FILE.relative_to(ROOT)}")
    else:
        print(f"{SCHEMA_FILE.relative_to(ROOT)} unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
