"""The typed config loader: YAML + dotted overrides, unknown keys and bad values rejected clearly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import pytest

from mcsimclr.core.config import ConfigError, dump_yaml, from_dict, load_config
from simulate.config import SimulateConfig


@dataclass
class Inner:
    ratio: tuple[float, float] = (0.8, 1.25)
    mode: Literal["time", "both"] = "both"


@dataclass
class Outer:
    seed: int = 0
    name: str = "x"
    scale: float = 1.0
    flag: bool = False
    limit: int | None = None
    sizes: dict[str, int] = field(default_factory=lambda: {"a": 1})
    inner: Inner = field(default_factory=Inner)

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError(f"scale must be > 0, got {self.scale}")


def write(tmp_path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_yaml_and_overrides_are_typed(tmp_path):
    path = write(tmp_path, "seed: 3\ninner:\n  ratio: [0.5, 2]\n")
    cfg = load_config(Outer, path, ["scale=2", "inner.mode=time", "limit=null", "sizes.b=4", "flag=true"])
    assert cfg.seed == 3
    assert cfg.inner.ratio == (0.5, 2.0) and isinstance(cfg.inner.ratio[1], float)
    assert cfg.inner.mode == "time"
    assert cfg.scale == 2.0 and cfg.flag is True and cfg.limit is None
    assert cfg.sizes == {"a": 1, "b": 4}


@pytest.mark.parametrize(("text", "expected"), [("3e-3", 3e-3), ("1E4", 1e4), ("+2.5e1", 25.0), (".5e-2", 5e-3)])
def test_exponent_without_a_dot_is_a_number(tmp_path, text, expected):
    """YAML 1.1 reads ``3e-3`` as a string; float fields take it as the number, in files and overrides."""
    assert load_config(Outer, None, [f"scale={text}"]).scale == pytest.approx(expected)
    assert load_config(Outer, write(tmp_path, f"inner:\n  ratio: [{text}, 1]\n")).inner.ratio[0] == pytest.approx(
        expected)
    with pytest.raises(ConfigError, match=r"name: expected a string"):  # only float fields convert
        load_config(Outer, None, ["name=3"])
    with pytest.raises(ConfigError, match=r"scale: expected a number, got 'e-3'"):
        load_config(Outer, None, ["scale=e-3"])


def test_defaults_without_file():
    assert load_config(Outer) == Outer()


def test_unknown_key_in_file_lists_valid_keys(tmp_path):
    path = write(tmp_path, "inner:\n  ratoi: [1, 1]\n")
    with pytest.raises(ConfigError, match=r"unknown key 'ratoi' in inner; valid keys: ratio, mode"):
        load_config(Outer, path)


@dataclass
class Renamed:
    renamed_keys: ClassVar[dict[str, str]] = {"old": "old was renamed new: say why"}

    new: int = 0


@dataclass
class HoldsRenamed:
    section: Renamed = field(default_factory=Renamed)


def test_a_renamed_key_gets_its_own_message_in_files_and_overrides(tmp_path):
    with pytest.raises(ConfigError, match=r"c.yaml: old was renamed new: say why$"):
        load_config(HoldsRenamed, write(tmp_path, "section:\n  old: 1\n"))
    with pytest.raises(ConfigError, match=r"^override 'section.old=1': old was renamed new: say why$"):
        load_config(HoldsRenamed, None, ["section.old=1"])
    assert load_config(HoldsRenamed, None, ["section.new=1"]).section.new == 1
    assert "renamed_keys" not in dump_yaml(HoldsRenamed())  # a class attribute, not a key
    with pytest.raises(ConfigError, match=r"unknown key 'renamed_keys' in section"):
        load_config(HoldsRenamed, write(tmp_path, "section:\n  renamed_keys: {}\n"))


def test_monitor_test_is_refused_with_the_reason(tmp_path):
    from mcsimclr.pretrain.config import PretrainConfig

    message = ("monitor.test was renamed monitor.dev: the monitor selects best.ckpt, so it must read the dev split, "
               "never test")
    with pytest.raises(ConfigError, match=f"^override 'monitor.test=t.h5': {message}"):
        load_config(PretrainConfig, "configs/pretrain/tiny.yaml", ["monitor.test=t.h5"])
    with pytest.raises(ConfigError, match=f"c.yaml: {message}"):
        load_config(PretrainConfig, write(tmp_path, "monitor:\n  train: a.h5\n  test: b.h5\n"))
    cfg = load_config(PretrainConfig, write(tmp_path, "monitor:\n  train: a.h5\n  dev: b.h5\n"))
    assert (cfg.monitor.train, cfg.monitor.dev) == ("a.h5", "b.h5")
    for name in ("cpu", "demo", "paper"):
        monitor = load_config(PretrainConfig, f"configs/pretrain/{name}.yaml").monitor
        assert monitor.dev.endswith("/dev.h5") and monitor.train.endswith("/clean_train.h5"), name


def test_unknown_override_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown key 'sede' at top level; valid keys: seed, name"):
        load_config(Outer, None, ["sede=1"])
    with pytest.raises(ConfigError, match=r"'seed' is a value, not a section"):
        load_config(Outer, None, ["seed.x=1"])
    with pytest.raises(ConfigError, match="not of the form"):
        load_config(Outer, None, ["seed"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seed=1.5", r"seed: expected an integer, got 1.5"),
        ("seed=true", r"seed: expected an integer"),
        ("flag=1", r"flag: expected true or false"),
        ("inner.mode=freq", r"inner.mode: expected one of 'time', 'both'"),
        ("inner.ratio=[1]", r"inner.ratio: expected a list of 2 values"),
        ("scale=-1", r"scale must be > 0, got -1.0"),
        ("name=[1]", r"name: expected a string"),
    ],
)
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Outer, None, [override])


def test_not_a_mapping_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(Outer, write(tmp_path, "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Outer, tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Outer, write(tmp_path, "a: [1\n"))


def test_dump_round_trip(tmp_path):
    cfg = load_config(SimulateConfig, "configs/simulate/tiny.yaml", ["room.rt60=[0.2,0.3]"])
    again = load_config(SimulateConfig, write(tmp_path, dump_yaml(cfg)))
    assert again == cfg
    assert from_dict(SimulateConfig, {}) == SimulateConfig()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("room.rt60=[1.0,0.1]", "lower bound above its upper bound"),
        ("room.width=[0,3]", "must be > 0"),
        ("array.geometry=hexagon", "unknown array geometry 'hexagon'"),
        ("array.geometry=custom", "needs mic_positions"),
        ("source.kind=fsdnoisy18k", r"needs fsdnoisy18k.root"),
        ("source.synthetic.splits={a: 0}", "must be >= 1 clip"),
        ("source.folder.split_fractions={a: 0.5}", "must sum to 1"),
        ("output.peak=2", r"peak must be in \(0, 1\]"),
        ("sample_rate=100", "sample_rate must be >= 1000"),
    ],
)
def test_simulate_schema_rejects_bad_values(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(SimulateConfig, "configs/simulate/tiny.yaml", [override])


def test_every_shipped_config_loads():
    from pathlib import Path

    from simulate.scenes.config import ScenesConfig

    needs_root = {"fsdnoisy18k.yaml": "source.fsdnoisy18k.root=/data", "folder.yaml": "source.folder.root=/data",
                  "scenes-starss23.yaml": "source.dcase.root=/data"}
    for path in sorted(Path("configs/simulate").glob("*.yaml")):
        overrides = [needs_root[path.name]] if path.name in needs_root else []
        schema = ScenesConfig if path.name.startswith("scenes-") else SimulateConfig
        assert isinstance(load_config(schema, path, overrides), schema)
