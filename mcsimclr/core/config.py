"""One typed config schema: dataclasses loaded from YAML, with dotted command-line overrides.

Every section of a config is a dataclass; its fields are the valid keys. Loading walks the YAML tree
against the dataclass types, so an unknown key, a wrong type or a value out of range is rejected with a
message that names the key and what was expected. A section may list keys it no longer has in a class attribute
``renamed_keys: ClassVar[dict[str, str]]`` (old key -> what to write instead, and why); such a key is rejected with
that message instead of the list of valid keys. Overrides such as ``room.rt60=[0.2,0.8]`` are parsed as
YAML scalars and applied before validation, so they are checked exactly like values in the file.

Example::

    cfg = load_config(SimulateConfig, "configs/simulate/tiny.yaml", ["seed=3", "room.rt60=[0.2,0.5]"])
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from mcsimclr.core.errors import ConfigError

T = TypeVar("T")


def load_config(schema: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """Load ``path`` (YAML) into the dataclass ``schema``, after applying dotted ``overrides``.

    Args:
        schema: the dataclass type of the whole config.
        path: a YAML file holding a mapping; ``None`` starts from the schema's defaults.
        overrides: ``"a.b.c=value"`` strings; the value is parsed as YAML (``3``, ``0.5``, ``[1, 2]``, ``null``).

    Raises:
        ConfigError: unreadable file, unknown key (the message lists the valid ones), wrong type, bad value.
    """
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        path = Path(path)
        source = str(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top, got {type(loaded).__name__}")
        data = loaded
    data = apply_overrides(schema, data, overrides)
    return from_dict(schema, data, where=source)


def apply_overrides(schema: type, data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``key.path=value`` override set (value parsed as YAML)."""
    result = _deepcopy_mapping(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key.path=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as err:
            raise ConfigError(f"override {item!r}: value is not valid YAML: {err}") from err
        parts = key.split(".")
        defaults = _check_path(schema, parts, item)
        node = result
        for part, default in zip(parts[:-1], defaults, strict=False):
            child = node.get(part)
            if not isinstance(child, dict):
                # A mapping field absent from the file starts from its default, so `splits.test=5`
                # changes one entry instead of dropping the others.
                child = dict(default) if isinstance(default, Mapping) else {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return result


def _check_path(schema: type, parts: list[str], item: str) -> list[Any]:
    """Reject an override whose dotted path is not in the schema; return the default at each level."""
    current: Any = schema
    defaults: list[Any] = []
    for depth, part in enumerate(parts):
        if get_origin(current) is dict:  # a mapping field: any key, typed values
            current = get_args(current)[1]
            defaults.append(None)
            continue
        cls = _dataclass_of(current)
        if cls is None:
            where = ".".join(parts[:depth])
            raise ConfigError(f"override {item!r}: {where!r} is a value, not a section")
        hints = get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        if part in renamed_keys(cls):
            raise ConfigError(f"override {item!r}: {renamed_keys(cls)[part]}")
        if part not in names:
            where = ".".join(parts[:depth]) or "top level"
            raise ConfigError(
                f"override {item!r}: unknown key {part!r} at {where}; valid keys: {', '.join(names)}"
            )
        current = hints[part]
        f = next(f for f in dataclasses.fields(cls) if f.name == part)
        has_factory = f.default_factory is not dataclasses.MISSING
        defaults.append(f.default_factory() if has_factory else f.default)
    return defaults


def renamed_keys(cls: type) -> Mapping[str, str]:
    """The keys a config section no longer has: old key -> the message that says what replaced it (may be empty)."""
    return getattr(cls, "renamed_keys", {})


def _dataclass_of(tp: Any) -> type | None:
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return tp
    if _is_union(tp):
        for arg in get_args(tp):
            if arg is not type(None) and dataclasses.is_dataclass(arg):
                return arg
    return None


def _deepcopy_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deepcopy_mapping(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def from_dict(schema: type[T], data: Any, *, where: str = "config") -> T:
    """Build the dataclass ``schema`` from plain data (as YAML gives it), checking keys and types."""
    return _convert(schema, data, path="", where=where)


def to_dict(cfg: Any) -> Any:
    """The plain-data (YAML-ready) form of a config dataclass: tuples become lists."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    return cfg


def dump_yaml(cfg: Any) -> str:
    """The config as YAML text, keys in schema order; ``load_config`` reads it back to an equal config."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None)


def _is_union(tp: Any) -> bool:
    return get_origin(tp) is Union or isinstance(tp, types.UnionType)


def _describe(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


_EXPONENT_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")


def _convert(tp: Any, value: Any, *, path: str, where: str) -> Any:
    label = path or "top level"

    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{where}: {label}: expected {expected}, got {value!r}")

    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise fail(f"a mapping of {tp.__name__} fields")
        hints = get_type_hints(tp)
        fields = [f for f in dataclasses.fields(tp) if f.init]
        names = [f.name for f in fields]
        unknown = [k for k in value if k not in names]
        renamed = [k for k in unknown if k in renamed_keys(tp)]
        if renamed:
            raise ConfigError(f"{where}: {renamed_keys(tp)[renamed[0]]}")
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {unknown[0]!r} in {label}; valid keys: {', '.join(names)}"
            )
        kwargs = {
            name: _convert(hints[name], value[name], path=f"{path}.{name}" if path else name, where=where)
            for name in names
            if name in value
        }
        try:
            return tp(**kwargs)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}: {label}: {err}") from err
    if tp is Any:
        return value
    if _is_union(tp):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, path=path, where=where)
            except ConfigError as err:
                errors.append(str(err))
        raise fail(" or ".join(_describe(a) for a in args))
    origin = get_origin(tp)
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            raise fail("one of " + ", ".join(repr(c) for c in choices))
        return value
    if origin in (tuple, typing.Tuple):  # noqa: UP006 - typing.Tuple is what get_origin may return
        args = get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise fail(f"a list {_describe(tp)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(
                _convert(args[0], v, path=f"{path}[{i}]", where=where) for i, v in enumerate(value)
            )
        if len(value) != len(args):
            raise fail(f"a list of {len(args)} values")
        pairs = enumerate(zip(args, value, strict=True))
        return tuple(_convert(a, v, path=f"{path}[{i}]", where=where) for i, (a, v) in pairs)
    if origin is list:
        (arg,) = get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise fail("a list")
        return [_convert(arg, v, path=f"{path}[{i}]", where=where) for i, v in enumerate(value)]
    if origin is dict:
        key_tp, val_tp = get_args(tp)
        if not isinstance(value, Mapping):
            raise fail("a mapping")
        return {
            _convert(key_tp, k, path=f"{path}.{k}", where=where): _convert(
                val_tp, v, path=f"{path}.{k}", where=where
            )
            for k, v in value.items()
        }
    if tp is bool:
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("an integer")
        return value
    if tp is float:
        if isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
            return float(value)  # YAML 1.1 reads 3e-3 (no dot) as a string; it is the number the user meant
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail("a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise fail("a string")
        return value
    raise ConfigError(f"{where}: {label}: unsupported type {_describe(tp)} in the schema")
