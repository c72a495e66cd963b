"""Screenshot each marimo notebook, served by ``marimo run``, in headless Chromium.

Usage: ``make screenshots`` (installs Debian's chromium first). Each notebook in
``notebooks/`` is served on a free loopback port, opened in Chromium by Playwright (the
browser comes from Debian, not downloaded), and captured to ``docs/img/<notebook>.png`` once
its cells have run. Buttons named in ``CLICKS`` are pressed first, so the picture shows
results rather than an empty form. Eval runs go to a temporary store shared by the notebooks
(the arena's mini-eval is what the explorer shows), never to the project's own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ["prompt_lab", "tool_lab", "provider_arena", "eval_explorer"]
CLICKS: dict[str, list[tuple[str, float]]] = {
    "prompt_lab": [("Run", 6)],
    "tool_lab": [("Call the tool", 3), ("Run the agent", 12)],
    "provider_arena": [("Ask them all", 10), ("Run the mini-eval", 40)],
    "eval_explorer": [],
}
"""Buttons (by label) pressed before the screenshot, in order, with seconds to wait after."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"marimo did not listen on port {port} within {deadline_s:g} s")


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise SystemExit("error: chromium not found: run `make screenshots` (it installs it)")
    return path


def shoot(
    name: str, out_dir: Path, browser_path: str, settle_s: float, env: dict[str, str]
) -> Path:
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - fixed argv
        [
            sys.executable,
            "-m",
            "marimo",
            "run",
            f"notebooks/{name}.py",
            "--headless",
            "--port",
            str(port),
            "--no-token",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1700})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
            page.wait_for_selector("[data-cell-name], .marimo-cell, #root", timeout=60_000)
            time.sleep(settle_s)  # cells run server-side; give the kernel time to answer
            for label, wait_s in CLICKS.get(name, []):
                button = page.get_by_role("button", name=label)
                if button.count():
                    button.first.click()
                    time.sleep(wait_s)
            out = out_dir / f"{name}.png"
            page.screenshot(path=str(out), full_page=True)
            browser.close()
        return out
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=NOTEBOOKS)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--settle", type=float, default=8.0, help="Seconds to let cells run.")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    browser_path = chromium()
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "MARIMO_SKIP_UPDATE_CHECK": "1",
            "ASSISTANT_EVALS__DB": str(Path(scratch) / "runs.duckdb"),
        }
        for name in args.notebooks:
            path = shoot(name, args.out, browser_path, args.settle, env)
            print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
