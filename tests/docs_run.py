"""Run what the documentation shows: README commands and the dashboard's snippets, as a user
would, against a real ``sora-mock serve`` on a loopback port (helpers of tests/test_docs_run.py).

Commands run in a scratch directory holding ``.venv`` (a link to this interpreter's venv, so
``.venv/bin/sora-mock`` works as written) and ``cat-720x1280.png``; ``sora-mock``, ``sora`` and
``python`` come first on PATH. Only the mock's host and port are substituted. curl runs with a
``.curlrc`` saying ``fail-with-body``, so an HTTP error fails the command as it would fail a
script; a proxy that leads nowhere catches any request to a non-loopback host.

While a command runs, every job still pending on the mock is run to completion through the
virtual clock's admin API (``POST /__mock/clock/advance``), as a user waiting would see it
happen: nothing sleeps for the mock's sake.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from served import Served, free_port, stop, wait_until_served

from mockserver.sample import sample_image

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
VENV = Path(sys.executable).parent.parent
#: how long one command may run (a served mock answers in milliseconds; the bound is for a
#: loaded machine)
COMMAND_TIMEOUT = 60.0
#: the README's own ports: the mock, the proxy, the replaying mock
README_PORTS = (8000, 8001, 8002)
PENDING = ("queued", "in_progress")


# ------------------------------------------------------------------------ the README, parsed


@dataclass
class Command:
    """One command as the README shows it (a shell line with its continuations, or a whole
    Python block), and where."""

    line: int
    text: str
    kind: str  # "sh" or "python"
    #: where it is shown, when not the README (e.g. "dashboard, gptge card, tab curl")
    where: str = ""

    @property
    def name(self) -> str:
        first = " ".join(self.text.split())
        return f"{self.where or f'README.md:{self.line}'}: {first[:90]}"


@dataclass
class Block:
    line: int
    kind: str  # "sh", "python" or "inline" (a `curl ...` in running text)
    commands: list[Command] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.kind}"


SHELLS = {"sh", "bash", "shell", "console"}
#: a command in running text: curl, make, python or a program under .venv/bin/, with its
#: arguments and any VAR=value before it (a bare ``sora-mock serve`` in a sentence names the
#: command, it is not one to type)
INLINE_COMMAND = re.compile(r"`((?:[A-Z_]+=\S+ )*(?:curl|make|python|\.venv/bin/[^\s`]+) [^`]+)`")


def readme_blocks(path: Path = README) -> list[Block]:
    """Every shell and Python block of the README, and every inline ``curl ...`` command."""
    blocks: list[Block] = []
    lines = path.read_text().splitlines()
    fence: Block | None = None
    python: list[str] = []
    pending: list[str] = []
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            if fence is None:
                kind = line[3:].strip().lower()
                fence = Block(number, "sh" if kind in SHELLS else kind)
                python, pending = [], []
                continue
            if fence.kind == "python" and python:
                fence.commands.append(Command(fence.line + 1, "\n".join(python) + "\n", "python"))
            if fence.kind in ("sh", "python") and fence.commands:
                blocks.append(fence)
            fence = None
            continue
        if fence is None:
            for match in INLINE_COMMAND.finditer(line):
                inline = Block(number, "inline")
                inline.commands.append(Command(number, match.group(1), "sh"))
                blocks.append(inline)
            continue
        if fence.kind == "python":
            python.append(line)
        elif fence.kind == "sh":
            pending.append(line)
            if line.rstrip().endswith("\\"):
                continue
            text = "\n".join(pending)
            start = number - len(pending) + 1
            pending = []
            if text.strip():
                fence.commands.append(Command(start, text, "sh"))
    return blocks


def is_comment(command: Command) -> bool:
    return command.kind == "sh" and command.text.lstrip().startswith("#")


SERVER = re.compile(r"(?:^|\s)(?:\S*/)?sora-mock\s+(serve|proxy)\b")


def server_kind(text: str) -> str | None:
    """``serve`` or ``proxy`` for a command that starts a server (and so never ends)."""
    match = SERVER.search(text)
    return match.group(1) if match and "--help" not in text.split() else None


# ------------------------------------------------------------------------ running them


@dataclass
class Outcome:
    command: Command
    text: str  # as run
    code: int
    output: str


class Runner:
    """Runs commands in ``workdir`` against the mock at ``mock`` (its admin API drives the
    clock), with the README's ports mapped to this run's."""

    def __init__(self, mock: Served, workdir: Path) -> None:
        self.mock = mock
        self.workdir = workdir
        self.admin = httpx.Client(base_url=mock.url, timeout=30.0)
        self.ports = {8000: mock.port}
        self.env = command_env(workdir)

    def close(self) -> None:
        self.admin.close()

    # ---------------------------------------------------------------- the mock's side

    def pending_jobs(self) -> list[str]:
        # a command's jobs are the newest: the last few are enough to look at
        jobs = self.admin.get("/__mock/jobs", params={"limit": 10, "order": "desc"}).json()
        return [job["id"] for job in jobs["data"] if job["status"] in PENDING]

    def complete_pending(self) -> bool:
        """Advance the virtual clock until no job on the mock is queued or in progress;
        whether there was one."""
        for step in range(200):
            if not self.pending_jobs():
                return step > 0
            self.admin.post("/__mock/clock/advance", json={"seconds": 30})
        raise AssertionError(f"jobs still pending after 6000 s of mock time: {self.pending_jobs()}")

    def newest_job(self) -> str:
        jobs = self.admin.get("/__mock/jobs", params={"limit": 1, "order": "desc"}).json()
        assert jobs["data"], "VIDEO_ID: no job on the mock yet (the README creates one first)"
        return str(jobs["data"][0]["id"])

    def restore(self) -> None:
        """Undo what a command may have switched on for everyone (scenario rules, faults)."""
        self.admin.delete("/__mock/scenarios")
        self.admin.put("/__mock/faults", json={"rate": 0})

    # ---------------------------------------------------------------- host and port only

    def localize(self, text: str) -> str:
        def port(match: re.Match[str]) -> str:
            number = int(match.group(2))
            return f"{match.group(1)}{self.ports.get(number, number)}"

        text = re.sub(r"(\b(?:127\.0\.0\.1|localhost):)(\d{4})\b", port, text)
        text = re.sub(r"(--port\s+)(\d{4})\b", port, text)
        if "VIDEO_ID" in text:
            text = text.replace("VIDEO_ID", self.newest_job())
        return text

    def map_server_ports(self, commands: list[Command]) -> None:
        """A block that starts its own servers gets free ports for the README's ones."""
        for command in commands:
            kind = server_kind(command.text)
            if kind is None:
                continue
            match = re.search(r"--port\s+(\d+)", command.text)
            readme_port = int(match.group(1)) if match else {"serve": 8000, "proxy": 8001}[kind]
            self.ports[readme_port] = free_port()

    # ---------------------------------------------------------------- one command

    def argv(self, command: Command, text: str) -> list[str]:
        python = str(VENV / "bin" / "python")
        if command.kind == "python" and re.search(r"^def test_\w+\(", text, re.MULTILINE):
            # a test for the user's own suite (the fixtures section), run by pytest with the
            # package's plugin; the dev venv's other plugins are not loaded (their start-up
            # costs seconds of CPU): PYTEST_DISABLE_PLUGIN_AUTOLOAD in `self.env`
            script = self.workdir / "test_readme_example.py"
            script.write_text(text)
            plugin = ["-p", "mockserver.testing", "-p", "no:cacheprovider"]
            return [python, "-m", "pytest", "-q", *plugin, script.name]
        if command.kind == "python":
            script = self.workdir / "snippet.py"
            script.write_text(text)
            return [python, script.name]
        return ["bash", "-c", text]

    def run(self, command: Command, env: dict[str, str] | None = None) -> Outcome:
        """Run a command to its end, completing the mock's jobs while it waits for them."""
        text = self.localize(command.text)
        self.complete_pending()
        before = mp4_times(self.workdir)
        log = self.workdir / "command.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                self.argv(command, text),
                cwd=self.workdir,
                env={**self.env, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + COMMAND_TIMEOUT
            # how long to wait for the command's end before looking at the mock's jobs again:
            # short after a job moved (the command is waiting for its next one), then longer
            interval = 0.02
            try:
                while process.poll() is None:
                    if time.monotonic() > deadline:
                        newest = {"limit": 3, "order": "desc"}
                        jobs = self.admin.get("/__mock/jobs", params=newest).json()
                        raise AssertionError(
                            f"{command.name}: still running after {COMMAND_TIMEOUT:g} s; the "
                            f"mock's newest jobs: {jobs['data']}; its output so far:\n"
                            + log.read_text(errors="replace")
                        )
                    interval = 0.02 if self.complete_pending() else min(interval * 2, 0.5)
                    try:
                        process.wait(interval)  # a bounded wait for the command's end
                    except subprocess.TimeoutExpired:
                        pass
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(10)
                self.restore()
        output = log.read_text(errors="replace")
        check_videos(command, before, self.workdir)
        return Outcome(command, text, process.returncode, output)

    @contextmanager
    def server(self, command: Command) -> Iterator[Served]:
        """Start a server command (``sora-mock serve``/``proxy``, foreground or ``&``) and
        wait until it answers; stopped (SIGTERM) on exit."""
        text = re.sub(r"\s+#[^'\"]*$", "", self.localize(command.text))  # its comment
        text = text.rstrip().removesuffix("&").rstrip()
        kind = server_kind(text)
        if "--port" not in text:  # the README relies on the default port
            text += f" --port {self.ports[{'serve': 8000, 'proxy': 8001}[kind or 'serve']]}"
        match = re.search(r"--port\s+(\d+)", text)
        port = int(match.group(1)) if match else self.ports[8000]
        log = (self.workdir / f"server_{port}.log").open("wb")
        # exec: the shell becomes the server, so SIGTERM reaches it
        process = subprocess.Popen(
            ["bash", "-c", f"exec {text}"],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        served = Served(process, port)
        try:
            path = "/__proxy/journal" if kind == "proxy" else "/"
            wait_until_served(served.url + path, process)
            yield served
        finally:
            code = stop(served)
            log.close()
            # `sora-mock proxy` installs no SIGTERM handler: it ends by the signal itself
            stopped = (0, -signal.SIGTERM) if kind == "proxy" else (0,)
            assert code in stopped, f"{command.name}: exited {code} when stopped:\n" + (
                self.workdir / f"server_{port}.log"
            ).read_text(errors="replace")


def command_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["CURL_HOME"] = str(workdir)  # its .curlrc: fail on an HTTP error, as a script would
    # any request to a host other than loopback goes to a proxy that is not there
    nowhere = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env[name] = nowhere
    # (httpx cannot read an IPv6 address in NO_PROXY: the README's URLs are IPv4 or localhost)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["GPTGE_API_KEY"] = "sk-docs-run"  # a user following the README has exported a key
    env.pop("PYTHONWARNINGS", None)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only the README's pytest example runs pytest
    return env


def prepare_workdir(workdir: Path) -> None:
    (workdir / ".venv").symlink_to(VENV)
    (workdir / ".curlrc").write_text("fail-with-body\nshow-error\nsilent\n")
    (workdir / "cat-720x1280.png").write_bytes(sample_image(720, 1280))


def mp4_times(workdir: Path) -> dict[Path, float]:
    return {path: path.stat().st_mtime_ns for path in workdir.glob("*.mp4")}


def check_videos(command: Command, before: dict[Path, float], workdir: Path) -> None:
    """Every MP4 the command wrote (new or changed) is a video, not an error saved as one."""
    for path, mtime in mp4_times(workdir).items():
        if before.get(path) != mtime:
            head = path.read_bytes()[:12]
            assert head[4:8] == b"ftyp", f"{command.name}: wrote {path.name}, no MP4: {head!r}"
