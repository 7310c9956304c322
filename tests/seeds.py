"""Read the provider documents as the providers wrote them: their curl examples and JSON blocks.

The documents are copied into ``contracts/sources/`` (the copies are checked against
``../shared/seeds`` when that folder exists), so a clone is self-contained.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts import CONTRACTS_DIR

SOURCES = CONTRACTS_DIR / "sources"
SHARED_SEEDS = CONTRACTS_DIR.parent.parent / "shared" / "seeds"

#: seed file prefix -> (contract, provider host)
SEED_CONTRACT = {
    "000": ("gptproto-v3", "https://gptproto.com"),
    "001": ("gptproto-videos", "https://gptproto.com"),
    "002": ("gptproto-chat", "https://gptproto.com"),
    "003": ("gptge-videos", "https://api.gpt.ge"),
    "004": ("vtrix-generation", "https://cloud.vtrix.ai"),
}


def seed_path(prefix: str) -> Path:
    (path,) = SOURCES.glob(f"{prefix}_*.txt")
    return path


def seed_text(prefix: str) -> str:
    return seed_path(prefix).read_text(encoding="utf-8")


@dataclass
class CurlExample:
    """One curl command from a document, parsed with shell quoting rules."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json_body: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return re.sub(r"^https?://[^/]+", "", self.url).split("?")[0]


def _curl_commands(text: str) -> list[str]:
    commands: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("curl "):
            cmd = lines[i]
            while True:
                try:
                    shlex.split(cmd.replace("\\\n", " "))
                    complete = not cmd.rstrip().endswith("\\")
                except ValueError:
                    complete = False
                if complete or i + 1 >= len(lines):
                    break
                i += 1
                cmd += "\n" + lines[i]
            commands.append(cmd)
        i += 1
    return commands


def curl_examples(prefix: str) -> list[CurlExample]:
    examples = []
    for command in _curl_commands(seed_text(prefix)):
        tokens = shlex.split(command.replace("\\\n", " "))
        ex = CurlExample(method="GET", url="")
        it = iter(tokens[1:])
        for tok in it:
            if tok in ("--request", "-X"):
                ex.method = next(it)
            elif tok in ("--url", "--location"):
                nxt = next(it)
                if nxt.startswith("http"):
                    ex.url = nxt
            elif tok in ("--header", "-H"):
                name, _, value = next(it).partition(":")
                ex.headers[name.strip()] = value.strip()
            elif tok in ("--data", "-d", "--data-raw"):
                ex.json_body = json.loads(next(it))
                ex.method = "POST" if ex.method == "GET" else ex.method
            elif tok in ("--form", "-F"):
                name, _, value = next(it).partition("=")
                if value.startswith("@"):
                    ex.files[name] = value[1:].strip('"')
                else:
                    ex.form[name] = value.strip('"')
                ex.method = "POST" if ex.method == "GET" else ex.method
            elif tok.startswith("http"):
                ex.url = tok
        if ex.url:
            examples.append(ex)
    return examples


def json_blocks(prefix: str) -> list[Any]:
    """Every top-level JSON object printed in a document, parsed (curl bodies excluded)."""
    text = seed_text(prefix)
    decoder = json.JSONDecoder()
    blocks = []
    for match in re.finditer(r"(?m)^\{", text):
        try:
            value, _ = decoder.raw_decode(text[match.start() :])
        except json.JSONDecodeError:
            continue
        blocks.append(value)
    return blocks


def documented_urls(prefix: str) -> set[str]:
    """Every provider URL path the document names (curl URLs and `urls.get` style values)."""
    _, host = SEED_CONTRACT[prefix]
    text = seed_text(prefix).replace("{{id}}", "{id}")
    found = set()
    for url in re.findall(re.escape(host) + r"(/[A-Za-z0-9_\-./{}]+)", text):
        found.add(url.rstrip("."))
    return found
