"""RECSYS_HOME/config.json: the model settings `recsys train` starts from, and where they came from.

`recsys tune` writes it; a person may edit it. Every section is typed through the
components' own frozen configs, so a misspelt key is an error naming the known ones,
never a silently ignored setting. Shape (every section optional):

    {
      "cf": {"als": {"factors": 96, "regularization": 0.2, "weighting": {"k1": 3.0}}},
      "blend": {"k": 12.0, "user_k": 6.0},
      "content": {"idf_power": 0.8},
      "tuning": {"als": {...what `recsys tune` searched, its best value, seed, data...}}
    }

A CF section holds that model's parameters (the missing ones keep their defaults);
`blend` and `content` are the hybrid's. Seeds are not kept here: `recsys train --seed`
sets every one. `tuning` is provenance only, copied into the next bundle's manifest.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recommender.core.configs import Config
from recommender.core.registry import component_class, names
from recommender.errors import InputError
from recommender.hybrid.configs import BlendConfig, ContentConfig

SECTIONS = ("cf", "blend", "content", "tuning")


@dataclass(frozen=True)
class TrainingConfig:
    """The parsed config file: per-CF-model configs, the hybrid's blend and content, and
    the provenance of every tuned section. `path` is where it was read from (None: no file)."""

    cf: dict[str, Config] = field(default_factory=dict)
    blend: BlendConfig = field(default_factory=BlendConfig)
    content: ContentConfig = field(default_factory=ContentConfig)
    tuning: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def cf_config(self, model: str) -> Config:
        """The config of CF model `model`: the file's, else its defaults."""
        return self.cf.get(model) or component_class(model, "cf").Config()

    def to_dict(self) -> dict[str, Any]:
        """The file's JSON: only what differs from the defaults is worth a reader's time,
        but whole sections are kept so a tuned value is visible beside the rest."""
        out: dict[str, Any] = {}
        if self.cf:
            out["cf"] = {name: _stored(config) for name, config in sorted(self.cf.items())}
        if self.blend != BlendConfig():
            out["blend"] = self.blend.to_dict()
        if self.content != ContentConfig():
            out["content"] = self.content.to_dict()
        if self.tuning:
            out["tuning"] = self.tuning
        return out


def _stored(config: Config) -> dict[str, Any]:
    """A config as the file keeps it: no seed or thread count (`recsys train` sets them)."""
    data = config.to_dict()
    for name in ("seed", "num_threads"):
        data.pop(name, None)
    return data


def _typed(path: Path, section: str, cls: type[Config], data: Any) -> Config:
    try:
        return cls.from_dict(data)
    except (InputError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: section {section!r}: {exc}") from None


def parse(data: Any, path: Path) -> TrainingConfig:
    """The typed config from the file's JSON; anything unknown is an InputError naming it."""
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object with sections {', '.join(SECTIONS)}")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise InputError(
            f"{path}: unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}"
        )
    cf_data = data.get("cf", {})
    if not isinstance(cf_data, dict):
        raise InputError(f"{path}: section 'cf' must map CF model names to their parameters")
    cf_models = names("cf")
    cf: dict[str, Config] = {}
    for model, params in cf_data.items():
        if model not in cf_models:
            raise InputError(
                f"{path}: unknown CF model {model!r} in section 'cf'; known: {', '.join(cf_models)}"
            )
        cf[model] = _typed(path, f"cf.{model}", component_class(model, "cf").Config, params)
    tuning = data.get("tuning", {})
    if not isinstance(tuning, dict):
        raise InputError(f"{path}: section 'tuning' must be an object")
    return TrainingConfig(
        cf=cf,
        blend=_typed(path, "blend", BlendConfig, data.get("blend", {})),
        content=_typed(path, "content", ContentConfig, data.get("content", {})),
        tuning=tuning,
        path=path,
    )


def read_config(path: Path) -> TrainingConfig:
    """The config at `path`, or the defaults when there is no such file."""
    path = Path(path)
    if not path.is_file():
        return TrainingConfig()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg};"
            " fix it or delete the file to train with the defaults"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None
    return parse(data, path)


def write_config(path: Path, config: TrainingConfig) -> Path:
    """Write `config` to `path` atomically (a temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
