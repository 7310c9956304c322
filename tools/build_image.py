"""Build the sora-mock container image (``make image``) and print its name.

The build context is a wheelhouse made on the host, so the build needs no package index: the
dependencies' wheels (``pip wheel``, cached in ``~/.cache/sora-mock/wheels/`` by the
dependency list in pyproject.toml and the base's Python: made once) and the project's own
wheel (built when its sources change, kept there too). The image is tagged
``TAG:build-KEY``, KEY a hash of the Containerfile, the base and the wheelhouse's contents
(each wheel's files, not its zip timestamps), and ``TAG:latest``; when an image with that KEY
exists it is reused, not built again.

    python tools/build_image.py [--base IMAGE] [--runtime podman|docker] [--tag NAME]
                                [--global-arg ARG ...] [--option ARG ...]

The host's Python must be the base image's version (3.11 for the default base): the
dependencies' compiled wheels are made for it.
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE = "python:3.11-slim"
DEFAULT_TAG = "localhost/sora-mock"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sora-mock"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def pip(*args: str | Path, log: Path) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *map(str, args)]
    with log.open("ab") as out:
        out.write(f"+ {' '.join(command)}\n".encode())
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        raise SystemExit(f"pip failed ({done.returncode}); the end of {log}:\n" + "\n".join(tail))


#: the base's Python, as packaging's environment markers see it (printed by the base itself)
MARKER_ENVIRONMENT = (
    "import json, os, platform, sys; "
    "v = sys.implementation.version; "
    "print(json.dumps({"
    "'implementation_name': sys.implementation.name, "
    "'implementation_version': f'{v.major}.{v.minor}.{v.micro}', "
    "'os_name': os.name, 'platform_machine': platform.machine(), "
    "'platform_release': platform.release(), 'platform_system': platform.system(), "
    "'platform_version': platform.version(), "
    "'python_full_version': platform.python_version(), "
    "'platform_python_implementation': platform.python_implementation(), "
    "'python_version': '.'.join(platform.python_version_tuple()[:2]), "
    "'sys_platform': sys.platform}))"
)


def base_environment(runtime: Sequence[str], base: str, options: Sequence[str]) -> dict[str, str]:
    """The base image's marker environment (its Python's version, platform), asked of it once
    per base image and kept in the cache."""
    inspect = [*runtime, "image", "inspect", "--format", "{{.Id}}", base]
    found = subprocess.run(inspect, capture_output=True, text=True, check=False)
    if found.returncode != 0:
        subprocess.run([*runtime, "pull", base], check=True, stdout=sys.stderr)
        found = subprocess.run(inspect, capture_output=True, text=True, check=True)
    cached = cache_root() / "bases" / f"{found.stdout.strip().replace(':', '-')}.json"
    if cached.exists():
        return dict(json.loads(cached.read_text()))
    asked = subprocess.run(
        [*runtime, "run", "--rm", *options, base, "python3", "-c", MARKER_ENVIRONMENT],
        capture_output=True,
        text=True,
        check=False,
    )
    if asked.returncode != 0:
        raise SystemExit(f"cannot run python3 in {base}:\n{asked.stderr}")
    environment = dict(json.loads(asked.stdout))
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(environment))
    return environment


def dependency_wheels(environment: dict[str, str], log: Path) -> Path:
    """The dependencies' wheels for the base's Python, made once per dependency list and base
    Python (kept in the cache).

    pip resolves for the Python running it, whose environment markers may differ from the
    base's (redis needs async-timeout below Python 3.11.3: Debian bookworm has 3.11.2): the
    requirements the wheels declare are evaluated again for the base, and those missing added,
    until none is."""
    ours = ".".join(map(str, sys.version_info[:2]))
    if environment["python_version"] != ours:
        raise SystemExit(
            f"the base has Python {environment['python_full_version']}, this is {ours}: run "
            f"this with a Python {environment['python_version']} (its compiled wheels)"
        )
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = sorted(project["dependencies"])
    key = hashlib.sha256(
        json.dumps([environment, requirements], sort_keys=True).encode()
    ).hexdigest()[:16]
    directory = cache_root() / "wheels" / f"deps-{key}"
    if (directory / ".complete").exists():
        return directory
    say(f"making the dependencies' wheels (once per dependency list) in {directory}")
    partial = directory.with_name(directory.name + ".part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    wanted = requirements
    for _ in range(10):  # each round adds what the previous wheels need: a bounded closure
        pip("wheel", "--wheel-dir", partial, *wanted, log=log)
        wanted = missing_for(partial, environment)
        if not wanted:
            break
    else:
        raise SystemExit(f"the wheelhouse still misses {', '.join(wanted)}")
    (partial / ".complete").touch()
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)
    return directory


def missing_for(wheelhouse: Path, environment: dict[str, str]) -> list[str]:
    """Requirements of the wheels in ``wheelhouse`` that apply on ``environment`` but that no
    wheel there provides."""
    try:
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name
    except ImportError:  # pip's own copy, where packaging is not installed
        from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
        from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[no-redef]

    have: set[str] = set()
    needed: list[Any] = []
    for wheel in sorted(wheelhouse.glob("*.whl")):
        have.add(canonicalize_name(wheel.name.split("-")[0]))
        with zipfile.ZipFile(wheel) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            metadata = email.parser.BytesHeaderParser().parsebytes(archive.read(name))
        for line in metadata.get_all("Requires-Dist") or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or marker.evaluate({**environment, "extra": ""}):
                needed.append(requirement)
    # without its marker: pip would evaluate it for the Python running pip, and skip it
    missing = {
        f"{r.name}{'[' + ','.join(sorted(r.extras)) + ']' if r.extras else ''}{r.specifier}"
        for r in needed
        if canonicalize_name(r.name) not in have
    }
    return sorted(missing)


def wheel_digest(path: Path) -> str:
    """A wheel's contents: each member's name and CRC (what its zip timestamps do not change)."""
    digest = hashlib.sha256(path.name.encode())
    with zipfile.ZipFile(path) as archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            digest.update(f"{info.filename}\0{info.CRC:08x}\0{info.file_size}\n".encode())
    return digest.hexdigest()


def image_exists(runtime: Sequence[str], name: str) -> bool:
    done = subprocess.run([*runtime, "image", "inspect", name], capture_output=True, check=False)
    return done.returncode == 0


#: what the project's wheel is made of (pyproject.toml's packages and package data)
SOURCES = ("pyproject.toml", "README.md", "mockserver", "contracts", "sora_client")


def source_digest() -> str:
    """A hash of every file the project's wheel is built from (bytecode caches aside)."""
    digest = hashlib.sha256()
    for top in SOURCES:
        path = ROOT / top
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                digest.update(f"{file.relative_to(ROOT)}\0{file.stat().st_size}\0".encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def project_wheel(log: Path) -> Path:
    """The project's wheel, built (``pip wheel``, about 8 s: an isolated build environment)
    only when its sources changed; the last few are kept in the cache."""
    directory = cache_root() / "wheels" / f"project-{source_digest()}"
    found = sorted(directory.glob("*.whl"))
    if found:
        return found[0]
    say("building the project's wheel")
    with tempfile.TemporaryDirectory(prefix="sora-mock-wheel-") as scratch:
        pip("wheel", "--no-deps", "--wheel-dir", scratch, ROOT, log=log)
        (built,) = Path(scratch).glob("*.whl")
        directory.mkdir(parents=True, exist_ok=True)
        shutil.move(built, directory / built.name)
    older = sorted(directory.parent.glob("project-*"), key=lambda p: p.stat().st_mtime)
    for stale in older[:-5]:
        shutil.rmtree(stale, ignore_errors=True)
    return next(directory.glob("*.whl"))


def build(
    runtime: Sequence[str],
    base: str,
    tag: str,
    options: Sequence[str] = (),
    log: Path | None = None,
) -> str:
    """Build (or reuse) the image; return its unique name (``TAG:build-KEY``). ``options``
    go to `build` and to the `run` that asks the base for its Python."""
    log = log or cache_root() / "build-image.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    deps = sorted(dependency_wheels(base_environment(runtime, base, options), log).glob("*.whl"))
    project = project_wheel(log)
    containerfile = ROOT / "Containerfile"
    digest = hashlib.sha256(containerfile.read_bytes())
    digest.update(f"\0{base}\0{' '.join(options)}\0".encode())
    for wheel in deps:
        digest.update(f"deps/{wheel.name}\0{wheel.stat().st_size}\n".encode())
    digest.update(wheel_digest(project).encode())
    name = f"{tag}:build-{digest.hexdigest()[:16]}"
    if image_exists(runtime, name):
        say(f"{name}: the same wheelhouse was built before, reused")
    else:
        say(f"building {name} on {base} with {runtime[0]}")
        with tempfile.TemporaryDirectory(prefix="sora-mock-image-") as scratch:
            context = Path(scratch)
            for wheel, where in [*((w, "deps") for w in deps), (project, "project")]:
                (context / where).mkdir(exist_ok=True)
                try:
                    os.link(wheel, context / where / wheel.name)
                except OSError:
                    shutil.copy2(wheel, context / where / wheel.name)
            command = [*runtime, "build", "--file", str(containerfile), "--tag", name]
            if Path(runtime[0]).name == "podman":
                command += ["--format", "docker"]  # keeps HEALTHCHECK (OCI has no such field)
            command += ["--build-arg", f"BASE={base}", *options, str(context)]
            with log.open("ab") as out:
                out.write(f"+ {' '.join(command)}\n".encode())
                out.flush()
                done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
            if done.returncode != 0:
                tail = log.read_text(errors="replace").splitlines()[-30:]
                raise SystemExit(
                    f"the image build failed ({done.returncode}); the end of {log}:\n"
                    + "\n".join(tail)
                )
    subprocess.run([*runtime, "tag", name, f"{tag}:latest"], check=True, capture_output=True)
    remove_older_builds(runtime, tag, name)
    return name


def remove_older_builds(runtime: Sequence[str], tag: str, keep: str) -> None:
    """Untag the earlier ``TAG:build-*`` images (about 300 MB of layers each): a clone whose
    sources change often would otherwise fill the disk. Best effort."""
    listed = subprocess.run(
        [*runtime, "images", "--format", "{{.Repository}}:{{.Tag}}", tag],
        capture_output=True,
        text=True,
        check=False,
    )
    for image in listed.stdout.split():
        if image.startswith(f"{tag}:build-") and image != keep:
            subprocess.run([*runtime, "rmi", image], capture_output=True, check=False)


def default_runtime() -> str:
    for candidate in ("podman", "docker"):
        if shutil.which(candidate):
            return candidate
    raise SystemExit("neither podman nor docker is installed")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=DEFAULT_BASE, help="the image to build on")
    parser.add_argument(
        "--runtime", default=None, help="podman or docker (default: podman when present)"
    )
    parser.add_argument("--tag", default=DEFAULT_TAG, help="the image's name, without a tag")
    parser.add_argument(
        "--global-arg",
        action="append",
        default=[],
        help="an option for the runtime itself, before `build` (e.g. --runtime=runc)",
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        help="an option for `build` and `run` (e.g. --ulimit=nofile=1024:1024)",
    )
    args = parser.parse_args(argv)
    runtime = [args.runtime or default_runtime(), *args.global_arg]
    print(build(runtime, args.base, args.tag, args.option))
    return 0


if __name__ == "__main__":
    sys.exit(main())
