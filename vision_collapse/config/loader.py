"""Frozen dataclasses from nested dicts and YAML: type coercion, `key.sub=value` overrides, typo suggestions.

Nothing here knows the experiment's schema; `schema.py` declares it.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing

import yaml

from vision_collapse.errors import UserError


def check(ok: bool, message: str) -> None:
    """Raise a UserError with `message` unless `ok`."""
    if not ok:
        raise UserError(message)


def choice_message(key: str, value, choices) -> str:
    """One line naming a value that is not among `choices`, with the nearest one."""
    near = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.4)
    hint = f"did you mean {near[0]!r}?" if near else f"choose one of {', '.join(map(str, choices))}"
    return f"unknown {key} {value!r}; {hint}"


def check_choices(obj, section: str) -> None:
    """Check every `Literal`-typed field of a dataclass instance against its choices (`section` names it)."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        if typing.get_origin(hints[f.name]) is typing.Literal:
            choices = typing.get_args(hints[f.name])
            value = getattr(obj, f.name)
            check(value in choices, choice_message(f"{section}.{f.name}", value, choices))


def coerce(value, typ, key: str):
    """Convert a YAML value to the declared field type, or say which key has the wrong type."""
    origin = typing.get_origin(typ)
    if origin is typing.Literal:
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if origin is tuple:
        (inner, _) = typing.get_args(typ)
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{key} must be a list, e.g. {key}=[32,64]; got {value!r}")
        return tuple(coerce(v, inner, key) for v in value)
    if typ is dict:
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        raise UserError(f"{key} must be a mapping, e.g. {key}={{a: 10, b: 2}}; got {value!r}")
    if typ is bool:
        if isinstance(value, bool):
            return value
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML (YAML 1.1) reads '1e-7' as a string; it is a number here
            try:
                return float(value)
            except ValueError:
                pass
    elif typ is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)  # class names such as 0 arrive from YAML as numbers
    raise UserError(f"{key} must be of type {typ.__name__}; got {value!r}")


def all_keys(cls, prefix: str = "") -> list[str]:
    """Every dotted key of a config dataclass, such as 'loop.generations'."""
    keys = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            keys += all_keys(hints[f.name], f"{prefix}{f.name}.")
        else:
            keys.append(prefix + f.name)
    return keys


def build(cls, values: dict, prefix: str = "", root=None):
    """Make dataclass `cls` from a nested dict, rejecting unknown keys with the nearest valid key."""
    root = root or cls
    if not isinstance(values, dict):
        raise UserError(f"{prefix.rstrip('.') or 'the config'} must be a mapping of keys to values")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in names:
            near = difflib.get_close_matches(prefix + str(key), all_keys(root), n=1, cutoff=0.5)
            hint = f"; did you mean '{near[0]}'?" if near else "; see docs/config.md for the valid keys"
            raise UserError(f"unknown config key '{prefix}{key}'{hint}")
    kwargs = {}
    for name in names:
        if name not in values:
            continue
        typ, value = hints[name], values[name]
        if dataclasses.is_dataclass(typ):
            kwargs[name] = build(typ, value or {}, f"{prefix}{name}.", root)
        else:
            kwargs[name] = coerce(value, typ, prefix + name)
    return cls(**kwargs)


def parse_overrides(items: list[str]) -> dict:
    """Turn ['loop.generations=8', ...] into a nested dict, parsing values as YAML."""
    nested: dict = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"override {item!r} is not KEY=VALUE, e.g. loop.generations=8")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        node = nested
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"override {item!r} conflicts with an earlier override of {part!r}")
        node[parts[-1]] = value
    return nested


def merge(base: dict, extra: dict) -> dict:
    """Deep-merge `extra` into a copy of `base`."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml_file(path) -> dict:
    """A YAML file's mapping, or a one-line error naming the line with bad syntax."""
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" at line {line + 1}" if line is not None else ""
        raise UserError(f"config file {str(path)!r} is not valid YAML{where}; fix its syntax") from None


def to_dict(cfg) -> dict:
    """Plain nested dict of a config, tuples as lists, ready for YAML."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            value = to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def flatten(d: dict, prefix: str = "") -> dict:
    """{'a': {'b': 1}} -> {'a.b': 1}."""
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def diff(a, b) -> list[str]:
    """Dotted keys whose values differ between two configs, as 'key: a -> b'."""
    flat_a, flat_b = flatten(to_dict(a)), flatten(to_dict(b))
    return [f"{k}: {flat_a[k]!r} -> {flat_b[k]!r}" for k in flat_a if flat_a[k] != flat_b[k]]
