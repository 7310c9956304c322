"""The container image (Containerfile), built and run for real with podman.

On a base image made from Debian packages (tools/debian-base: mmdebstrap, cached once per
machine, since no registry may be reachable), with the project installed from a wheelhouse
made on the host (tools/build_image.py; an image of the same wheelhouse is reused). The
container serves on a loopback port; curl drives a whole job through it (the sample image,
a create, the virtual clock, polls, the MP4), its health check and user are checked, and it
stops on SIGTERM with exit code 0.

`make test` installs podman, runc and mmdebstrap (system-packages). The test is skipped, with
the runtime's own words, only where podman is installed but cannot run a container at all.
Measured here: cold (no base, no wheels, no image) 2.6 to 5 minutes, warm 4 to 9 s, after a
source change 35 to 60 s (README.md, "Run it as a service")
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from served import free_port

ROOT = Path(__file__).resolve().parent.parent
# this machine's kind: crun refuses its hybrid cgroups, and raising a limit is not permitted
# (toolchain.md); both work on any host where podman runs at all
GLOBAL = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
#: bounds of the waits below (a condition polled, never a duration slept)
START_TIMEOUT = 90.0
STOP_TIMEOUT = 10
KEY = "sk-container-test"


def podman(
    *args: str, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["podman", *GLOBAL, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done


def curl(*args: str) -> bytes:
    done = subprocess.run(
        ["curl", "--silent", "--show-error", "--fail-with-body", "--max-time", "60", *args],
        capture_output=True,
        timeout=90,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"curl {' '.join(args)}: {done.returncode} {done.stderr!r} {done.stdout!r}"
        )
    return done.stdout


@pytest.fixture(scope="module")
def image() -> str:
    for tool in ("podman", "mmdebstrap", "curl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: `make test` installs it (Debian package)")
    info = podman("info", check=False, timeout=60)
    if info.returncode != 0:
        pytest.skip(f"podman cannot run here: {info.stderr.strip()[-300:]}")
    base = subprocess.run(
        [str(ROOT / "tools" / "debian-base")], capture_output=True, text=True, check=False
    )
    if base.returncode != 0:
        raise AssertionError(f"tools/debian-base failed:\n{base.stderr}")
    name = base.stdout.strip()
    probe = podman("run", "--rm", *LIMITS, name, "true", check=False, timeout=120)
    if probe.returncode != 0:
        pytest.skip(f"podman cannot run a container here: {probe.stderr.strip()[-300:]}")
    build = [sys.executable, str(ROOT / "tools" / "build_image.py"), "--base", name]
    build += ["--runtime", "podman", "--tag", "localhost/sora-mock-test"]
    build += [f"--global-arg={arg}" for arg in GLOBAL]
    build += [f"--option={LIMITS[i]}={LIMITS[i + 1]}" for i in range(0, len(LIMITS), 2)]
    built = subprocess.run(build, capture_output=True, text=True, timeout=1800, check=False)
    if built.returncode != 0:
        raise AssertionError(f"tools/build_image.py failed:\n{built.stdout}{built.stderr}")
    return built.stdout.strip().splitlines()[-1]


@pytest.fixture
def container(image: str) -> Iterator[tuple[str, str]]:
    name = f"sora-mock-test-{uuid.uuid4().hex[:10]}"
    port = free_port()
    podman("volume", "create", name)
    try:
        podman(
            "run", "--detach", "--name", name, *LIMITS,
            "--publish", f"127.0.0.1:{port}:8000", "--volume", f"{name}:/data",
            "--env", "SORA_MOCK_CLOCK=virtual", "--env", "SORA_MOCK_WORKERS=2",
            image,
        )  # fmt: skip
        yield name, f"http://127.0.0.1:{port}"
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)
        podman("volume", "rm", "--force", name, check=False)


def wait_healthy(name: str, url: str) -> dict[str, object]:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        done = subprocess.run(
            ["curl", "--silent", "--max-time", "5", f"{url}/__mock/health"],
            capture_output=True,
            check=False,
        )
        if done.returncode == 0 and done.stdout:
            return dict(json.loads(done.stdout))
        state = podman("inspect", name, "--format", "{{.State.Status}}").stdout.strip()
        if state != "running" or time.monotonic() > deadline:
            logs = podman("logs", name, check=False)
            raise AssertionError(f"the container is {state}:\n{logs.stdout}{logs.stderr}")
        time.sleep(0.2)  # a readiness retry, not a wait for the mock's clock


def test_the_image_serves_a_whole_job_as_a_non_root_user_and_stops_cleanly_on_sigterm(
    container: tuple[str, str], tmp_path: Path
) -> None:
    name, url = container
    health = wait_healthy(name, url)
    assert (health["status"], health["store"], health["clock"]) == ("ok", "sqlite", "virtual")
    # the image's own HEALTHCHECK (python -m mockserver.http.healthcheck) passes
    assert podman("healthcheck", "run", name, check=False).returncode == 0

    # the server (PID 1) and anything run in the container are not root
    status = podman("exec", name, "cat", "/proc/1/status").stdout
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert set(uid_line.split()[1:]) == {"10001"}, uid_line
    assert podman("exec", name, "id", "-un").stdout.strip() == "sora-mock"

    # a whole job through the published port, with curl
    cat = tmp_path / "cat.png"
    cat.write_bytes(curl(f"{url}/__mock/sample-image?size=720x1280"))
    auth = ["-H", f"Authorization: Bearer {KEY}"]
    created = json.loads(
        curl(
            "-X",
            "POST",
            f"{url}/gptge/v1/videos",
            *auth,
            "-F",
            "prompt=A cat in a hat walks across a container yard",
            "-F",
            f"input_reference=@{cat};type=image/png",
            "-F",
            "model=sora-2",
            "-F",
            "seconds=4",
            "-F",
            "size=720x1280",
        )  # fmt: skip
    )
    video_id = created["id"]
    assert created["status"] in ("queued", "in_progress")
    for _ in range(20):  # the virtual clock moves only when told: a bounded number of steps
        job = json.loads(curl(*auth, f"{url}/gptge/v1/videos/{video_id}"))
        if job["status"] in ("completed", "failed"):
            break
        curl(
            "-X", "POST", f"{url}/__mock/clock/advance",
            "-H", "content-type: application/json", "-d", '{"seconds": 30}',
        )  # fmt: skip
    assert job["status"] == "completed", job
    mp4 = curl(*auth, f"{url}/gptge/v1/videos/{video_id}/content")
    assert mp4[4:8] == b"ftyp" and len(mp4) > 1000, mp4[:16]

    # the store is the volume's SQLite file
    files = podman("exec", name, "ls", "/data").stdout.split()
    assert "sora-mock.sqlite" in files, files

    # SIGTERM (the image's STOPSIGNAL): exit code 0 within the stop timeout (a SIGKILL after
    # it would be 137)
    started = time.monotonic()
    podman("stop", "--time", str(STOP_TIMEOUT), name)
    took = time.monotonic() - started
    state = podman("inspect", name, "--format", "{{.State.ExitCode}} {{.State.Status}}").stdout
    logs = podman("logs", name).stdout + podman("logs", name).stderr
    assert state.split() == ["0", "exited"], (state, logs)
    assert took < STOP_TIMEOUT, took
    assert "Traceback" not in logs, logs
    assert KEY not in logs  # the console line never shows a key
