"""Generate the settings reference from ``assistant.config.Settings``.

Walks the ``Settings`` model (nested sections, and dict-valued sections such as
``providers.local.models.<name>`` shown with a ``<NAME>`` placeholder) and writes:

- the reference tables between ``<!-- BEGIN SETTINGS -->`` and ``<!-- END SETTINGS -->`` in
  ``docs/configuration.md``;
- ``.env.example``: every variable, commented out, with its default.

Usage::

    uv run python tools/gen_config_docs.py           # rewrite both files
    uv run python tools/gen_config_docs.py --check   # exit 1 if either file is out of date

Only the models' declared defaults are used, never the environment, so the output is the same
on every machine.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from assistant.config import CONFIG_FILE_ENV, ENV_PREFIX, Settings  # noqa: E402

BEGIN_MARKER = "<!-- BEGIN SETTINGS -->"
END_MARKER = "<!-- END SETTINGS -->"
PLACEHOLDER = "<NAME>"
DELIMITER = "__"

DOCS_FILE = Path("docs/configuration.md")
ENV_EXAMPLE_FILE = Path(".env.example")

EXTRA_VARIABLES = {
    CONFIG_FILE_ENV: "Path of the TOML config file (default: ./assistant.toml if present).",
}
"""Variables that are read but are not fields of ``Settings``."""

_REQUIRED = object()


@dataclass(frozen=True, slots=True)
class SettingDoc:
    """One documented setting (a leaf of the settings tree)."""

    path: tuple[str, ...]
    """TOML location, e.g. ``("providers", "openai", "api_key")``; ``<name>`` for dict keys."""
    type: str
    """Human-readable type, e.g. ``float`` or ``list[str]``."""
    default: Any
    """The default value, ``None`` for unset, or ``_REQUIRED``."""
    description: str

    @property
    def env(self) -> str:
        """The environment variable, e.g. ``ASSISTANT_PROVIDERS__OPENAI__API_KEY``."""
        return ENV_PREFIX + DELIMITER.join(
            PLACEHOLDER if part == PLACEHOLDER.lower() else part.upper() for part in self.path
        )

    @property
    def required(self) -> bool:
        """Whether the setting has no default (only inside a dict-valued section)."""
        return self.default is _REQUIRED


@dataclass(frozen=True, slots=True)
class SectionDoc:
    """A group of settings that share one TOML table, e.g. ``[providers.openai]``."""

    path: tuple[str, ...]
    title: str
    """One line saying what the section is for."""
    note: str | None
    """Extra text for dict-valued sections (what ``<name>`` is, the default keys)."""
    settings: tuple[SettingDoc, ...]

    @property
    def table(self) -> str:
        """The TOML table header, e.g. ``[providers.openai]`` (empty for the top level)."""
        return f"[{'.'.join(self.path)}]" if self.path else ""


# -- walking the model ----------------------------------------------------------------------


def _strip_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X`` (other unions are kept)."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _model_class(annotation: Any) -> type[BaseModel] | None:
    annotation = _strip_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _dict_value(annotation: Any) -> Any | None:
    """The value type of ``dict[str, X]``, else ``None``."""
    annotation = _strip_optional(annotation)
    if get_origin(annotation) is dict:
        return get_args(annotation)[1]
    return None


def type_name(annotation: Any) -> str:
    """A short, readable name for a field's type."""
    annotation = _strip_optional(annotation)
    origin = get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(str(arg) for arg in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in get_args(annotation))
    if origin in (list, tuple, set, frozenset):
        (item, *_) = get_args(annotation) or (Any,)
        return f"list[{type_name(item)}]"
    if origin is dict:
        key, value = get_args(annotation)
        return f"dict[{type_name(key)}, {type_name(value)}]"
    if annotation is SecretStr:
        return "secret"
    if annotation is Path:
        return "path"
    if annotation is typing.Any:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def _description(model: type[BaseModel], name: str) -> str:
    """The field's description, inherited from a base class when a subclass overrides it."""
    for cls in model.__mro__:
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            field = cls.model_fields.get(name)
            if field is not None and field.description:
                return field.description
    return ""


def _origin_depth(model: type[BaseModel], name: str) -> int:
    """How far up the class hierarchy the field is first declared (0: the class itself)."""
    depth = 0
    for index, cls in enumerate(model.__mro__):
        if isinstance(cls, type) and issubclass(cls, BaseModel) and name in cls.model_fields:
            depth = index
    return depth


def _ordered_fields(model: type[BaseModel]) -> list[tuple[str, FieldInfo]]:
    """A section's own fields first, inherited ones (e.g. resilience) after them."""
    fields = list(model.model_fields.items())
    return sorted(fields, key=lambda item: _origin_depth(model, item[0]))


def _default(field: FieldInfo) -> Any:
    if field.is_required():
        return _REQUIRED
    value = field.get_default(call_default_factory=True)
    return None if value is PydanticUndefined else value


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text and text.strip() else ""


def _dict_note(field: FieldInfo, *, describe: bool = True) -> str:
    """What a dict-valued section holds, and which keys it has by default."""
    default = _default(field)
    keys = sorted(default) if isinstance(default, dict) else []
    listed = ", ".join(f"`{key}`" for key in keys) if keys else "none"
    note = f"`<name>` is yours to choose. Default: {listed}."
    described = (field.description or "").rstrip(".")
    return f"{described}; {note}" if describe and described else note


def walk(model: type[BaseModel] = Settings, path: tuple[str, ...] = ()) -> Iterator[SectionDoc]:
    """Every section of ``model`` with its leaf settings, depth first, top level first."""
    leaves: list[SettingDoc] = []
    nested: list[tuple[str, FieldInfo]] = []
    for name, field in _ordered_fields(model):
        if _model_class(field.annotation) is not None or _dict_value(field.annotation) is not None:
            nested.append((name, field))
            continue
        leaves.append(
            SettingDoc(
                path=(*path, name),
                type=type_name(field.annotation),
                default=_default(field),
                description=_description(model, name),
            )
        )
    if leaves:
        title = _first_line(model.__doc__) if path else "Settings outside any section."
        yield SectionDoc(path, title, None, tuple(leaves))
    for name, field in nested:
        section_class = _model_class(field.annotation)
        if section_class is not None:
            yield from walk(section_class, (*path, name))
            continue
        value = _dict_value(field.annotation)
        item_path = (*path, name, PLACEHOLDER.lower())
        item_class = _model_class(value)
        if item_class is not None:
            for section in walk(item_class, item_path):
                note = _dict_note(field) if section.path == item_path else section.note
                yield SectionDoc(section.path, section.title, note, section.settings)
            continue
        # dict of plain values (e.g. chains): one setting per key
        yield SectionDoc(
            (*path, name),
            "",
            _dict_note(field, describe=False),
            (
                SettingDoc(
                    path=item_path,
                    type=type_name(value),
                    default=None,
                    description=_description(model, name),
                ),
            ),
        )


def collect() -> list[SectionDoc]:
    """Every section of :class:`~assistant.config.Settings`."""
    return list(walk())


def settings_docs(sections: Sequence[SectionDoc] | None = None) -> list[SettingDoc]:
    """Every leaf setting."""
    return [setting for section in sections or collect() for setting in section.settings]


def variables(sections: Sequence[SectionDoc] | None = None) -> list[str]:
    """Every environment variable the reference lists (with ``<NAME>`` placeholders)."""
    return [setting.env for setting in settings_docs(sections)]


def section_variables(sections: Sequence[SectionDoc] | None = None) -> list[str]:
    """Variables that set a whole section as JSON, e.g. ``ASSISTANT_SERVER='{"port": 9000}'``.

    Valid, but not listed in the reference: the leaves are the documented way.
    """
    names: dict[str, None] = {}
    for setting in settings_docs(sections):
        for end in range(1, len(setting.path)):
            names[SettingDoc(setting.path[:end], "", None, "").env] = None
    return list(names)


def known_variables(sections: Sequence[SectionDoc] | None = None) -> list[str]:
    """Every variable the assistant reads: the settings, whole sections, ``ASSISTANT_CONFIG``."""
    sections = sections or collect()
    return [*variables(sections), *section_variables(sections), *EXTRA_VARIABLES]


MENTION = re.compile(r"ASSISTANT_(?:[A-Z0-9_]|<[A-Z_]+>)*")
"""An ``ASSISTANT_...`` variable mentioned in prose (placeholders like ``<NAME>`` included)."""

_ANY_PLACEHOLDER = re.compile(r"<[A-Z_]+>")


def _segment_matches(mention: str, real: str, *, partial: bool = False) -> bool:
    if real == PLACEHOLDER:  # a dict key: any name, or any placeholder
        return partial or bool(mention)
    if _ANY_PLACEHOLDER.fullmatch(mention):
        return False
    return real.startswith(mention) if partial else real == mention


def is_known(mention: str, known: Sequence[str] | None = None) -> bool:
    """Whether ``mention`` names a real variable, or (ending in ``_``) starts one.

    ``ASSISTANT_CHAINS__FAST`` matches ``ASSISTANT_CHAINS__<NAME>``; a prefix such as
    ``ASSISTANT_PROVIDERS__OPENAI__`` or ``ASSISTANT_`` (from ``ASSISTANT_*``) must start at
    least one real variable.
    """
    parts = mention.split(DELIMITER)
    prefix = mention.endswith("_")
    for variable in known if known is not None else known_variables():
        real = variable.split(DELIMITER)
        if prefix:
            if len(parts) > len(real):
                continue
            *whole, last = parts
            if all(_segment_matches(m, r) for m, r in zip(whole, real, strict=False)) and (
                _segment_matches(last, real[len(whole)], partial=True)
            ):
                return True
        elif len(parts) == len(real) and all(
            _segment_matches(m, r) for m, r in zip(parts, real, strict=True)
        ):
            return True
    return False


def unknown_mentions(text: str, known: Sequence[str] | None = None) -> list[str]:
    """``ASSISTANT_...`` names in ``text`` that are not real variables (each listed once)."""
    known = list(known) if known is not None else known_variables()
    return [
        mention for mention in dict.fromkeys(MENTION.findall(text)) if not is_known(mention, known)
    ]


# -- rendering ------------------------------------------------------------------------------


def _env_value(value: Any) -> str:
    """A value as written in an environment variable (complex values are JSON)."""
    if value is None or value is _REQUIRED:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, SecretStr):
        return ""
    if isinstance(value, BaseModel):
        return json.dumps(value.model_dump(mode="json"))
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _markdown_default(setting: SettingDoc) -> str:
    if setting.required:
        return "**required**"
    if setting.default is None:
        return "—"
    if isinstance(setting.default, str) and not setting.default:
        return '`""`'
    return f"`{_env_value(setting.default)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _heading(section: SectionDoc) -> str:
    return f"`{section.table}`" if section.path else "Top level"


def render_reference(sections: Sequence[SectionDoc] | None = None) -> str:
    """The Markdown reference: one table per section (goes between the markers)."""
    sections = list(sections or collect())
    lines = [
        "<!-- Generated by tools/gen_config_docs.py from assistant.config.Settings:"
        " do not edit by hand. -->",
        "",
    ]
    for section in sections:
        lines += [f"### {_heading(section)}", ""]
        intro = " ".join(part for part in (section.title, section.note) if part)
        if intro:
            lines += [intro, ""]
        lines += [
            "| Variable | Type | Default | Description |",
            "| --- | --- | --- | --- |",
        ]
        for setting in section.settings:
            lines.append(
                f"| `{setting.env}` | {_cell(setting.type)} | {_cell(_markdown_default(setting))}"
                f" | {_cell(setting.description)} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def render_env_example(sections: Sequence[SectionDoc] | None = None) -> str:
    """The whole ``.env.example``: every variable commented out, with its default."""
    sections = list(sections or collect())
    lines = [
        "# Assistant Workbench settings: copy this file to `.env` in the directory you run",
        "# `assistant` from, and uncomment the lines you change.",
        "#",
        "# Generated by tools/gen_config_docs.py from assistant.config.Settings: do not edit by",
        "# hand. Reference: docs/configuration.md.",
        "#",
        "# Precedence: environment variables > .env > assistant.toml (or $ASSISTANT_CONFIG).",
        "# Nested settings use `__`. Replace <NAME> with your own name for a local model, a",
        "# compatible endpoint or a chain (e.g. ASSISTANT_PROVIDERS__COMPATIBLE__VLLM__BASE_URL).",
        '# Lists and dicts are JSON, e.g. ["gpt-4o-mini", "gpt-4.1-mini"].',
        "# An empty value is not the same as an unset variable: keep a line commented to keep",
        "# its default.",
        f"# {CONFIG_FILE_ENV} is read from the real environment only, never from this file.",
    ]
    for section in sections:
        header = section.table or "top level"
        lines += ["", f"# ---- {header} " + "-" * max(4, 90 - len(header))]
        intro = " ".join(part for part in (section.title, section.note) if part)
        if intro:
            lines += [f"# {line}" for line in _wrap(intro, 96)]
        for setting in section.settings:
            comment = setting.description + (" (required)" if setting.required else "")
            lines += ["#", *[f"# {line}" for line in _wrap(comment, 96)]]
            lines.append(f"# {setting.env}={_env_value(setting.default)}")
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int) -> list[str]:
    words, lines, current = text.split(), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def replace_block(text: str, block: str) -> str:
    """``text`` with everything between the markers replaced by ``block``."""
    start = text.find(BEGIN_MARKER)
    end = text.find(END_MARKER)
    if start == -1 or end == -1 or end < start:
        raise ValueError(f"markers {BEGIN_MARKER} ... {END_MARKER} not found (in this order)")
    head = text[: start + len(BEGIN_MARKER)]
    return f"{head}\n{block}{text[end:]}"


# -- files ----------------------------------------------------------------------------------


def expected_files(root: Path = ROOT) -> dict[Path, str]:
    """The generated contents of every output file, by absolute path."""
    sections = collect()
    docs_path = root / DOCS_FILE
    return {
        docs_path: replace_block(docs_path.read_text(encoding="utf-8"), render_reference(sections)),
        root / ENV_EXAMPLE_FILE: render_env_example(sections),
    }


def stale_files(root: Path = ROOT) -> list[Path]:
    """Output files whose contents differ from what the generator would write."""
    return [
        path
        for path, content in expected_files(root).items()
        if not path.is_file() or path.read_text(encoding="utf-8") != content
    ]


def write_files(root: Path = ROOT) -> list[Path]:
    """Write every output file; return the ones that changed."""
    changed: list[Path] = []
    for path, content in expected_files(root).items():
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the files, or with ``--check`` report stale ones (exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if a file is out of date"
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_files(args.root)
            for path in stale:
                print(f"out of date: {path.relative_to(args.root)}", file=sys.stderr)
            if stale:
                print("run: uv run python tools/gen_config_docs.py", file=sys.stderr)
                return 1
            print(f"up to date: {DOCS_FILE}, {ENV_EXAMPLE_FILE}")
            return 0
        changed = write_files(args.root)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"wrote {path.relative_to(args.root)}")
    if not changed:
        print("nothing to do: already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
