"""The README's table of every config key, generated from the dataclasses and the comments beside each field.

    python -m vision_collapse.config.doc   # prints the table that docs/config.md must contain
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing

from vision_collapse.config.schema import ExperimentConfig

START, END = "<!-- config-keys:start -->", "<!-- config-keys:end -->"
_FIELD = re.compile(r"^\s{4}(\w+):[^=]*=[^#]*?(?:#\s*(.*))?$")


def field_docs(cls) -> dict[str, str]:
    """{field: its comment}: the comment at the end of its line, after the comment lines just above it."""
    docs, pending = {}, []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("# ").rstrip())
            continue
        m = _FIELD.match(line)
        if m and m[1] in {f.name for f in dataclasses.fields(cls)}:
            docs[m[1]] = " ".join(pending + ([m[2].strip()] if m[2] else []))
        pending = []
    return docs


def _escape(text: str) -> str:
    """Markdown-table-safe text: pipes escaped, angle brackets as entities."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _rows(cls, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, meaning) for every leaf field of a config dataclass."""
    hints, docs, default = typing.get_type_hints(cls), field_docs(cls), cls()
    rows = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            rows += _rows(hints[f.name], f"{prefix}{f.name}.")
        else:
            value = getattr(default, f.name)
            shown = list(value) if isinstance(value, tuple) else value
            rows.append((prefix + f.name, f"`{shown!r}`".replace("|", "\\|"), _escape(docs.get(f.name, ""))))
    return rows


def config_table() -> str:
    """The markdown table of every key, its default and its meaning, between the README markers."""
    lines = [START, "| key | default | meaning |", "|---|---|---|"]
    lines += [f"| `{key}` | {default} | {doc} |" for key, default, doc in _rows(ExperimentConfig)]
    return "\n".join(lines + [END])


if __name__ == "__main__":
    print(config_table())
