"""Every component recsys can build or load by name, imported only when asked for.

One table for the whole project: CF models, baselines, the hybrid family, taggers,
and the two servable bundles. Adding a component is one line here; the CLI's
choices (`--model`, `--models`) and the contract test read this table.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from recommender.core.configs import Config
from recommender.errors import InputError, shown

if TYPE_CHECKING:
    from recommender.core.component import Component


class Entry(NamedTuple):
    family: str  # "cf", "baseline", "hybrid", "tagger", "bundle" or "part"
    target: str  # "module:Class"


FAMILIES = ("cf", "baseline", "hybrid", "tagger", "bundle", "part")

REGISTRY: dict[str, Entry] = {
    "als": Entry("cf", "recommender.cf.als:ALSModel"),
    "bpr": Entry("cf", "recommender.cf.bpr:BPRModel"),
    "knn": Entry("cf", "recommender.cf.knn:ItemKNNModel"),
    "rp3beta": Entry("cf", "recommender.cf.rp3beta:RP3betaModel"),
    "spark-als": Entry("cf", "recommender.spark.als:SparkALSModel"),  # fit needs the spark extra
    "random": Entry("baseline", "recommender.baselines:RandomRanker"),
    "pop": Entry("baseline", "recommender.baselines:PopularityRanker"),
    "tag-pop": Entry("baseline", "recommender.baselines:TagPopularityRanker"),
    "tag-cosine": Entry("baseline", "recommender.baselines:TagCosineRanker"),
    "audio-cosine": Entry("baseline", "recommender.baselines:AudioCosineRanker"),
    "content": Entry("hybrid", "recommender.hybrid.models:ContentModel"),
    "hybrid": Entry("hybrid", "recommender.hybrid.models:HybridModel"),
    "rerank": Entry("hybrid", "recommender.hybrid.rerank:RerankModel"),
    "linear": Entry("tagger", "recommender.tagging.perceptron:LinearTagger"),
    "mlp": Entry("tagger", "recommender.tagging.perceptron:MLPTagger"),
    "lightgbm": Entry("tagger", "recommender.tagging.lightgbm_tagger:LightGBMTagger"),
    "recommender": Entry("bundle", "recommender.hybrid.recommender:HybridRecommender"),
    "tagger-pipeline": Entry("bundle", "recommender.tagging.pipeline:TaggerPipeline"),
    "cnn": Entry("bundle", "recommender.tagging.cnn.model:CNNTagger"),
    # parts: saved only inside a bundle, never chosen on their own
    "novelty": Entry("part", "recommender.tagging.novelty:NoveltyDetector"),
}

RANKER_FAMILIES = ("cf", "baseline", "hybrid")


def names(*families: str) -> tuple[str, ...]:
    """Registered names of the given families (all when none), in table order."""
    return tuple(n for n, e in REGISTRY.items() if not families or e.family in families)


def component_class(name: str, *families: str) -> type[Component]:
    """The class registered as `name`; an unknown name (or one of another family) is an
    InputError listing the choices."""
    entry = REGISTRY.get(name)
    if entry is None or (families and entry.family not in families):
        raise InputError(
            f"unknown {_word(families)} {shown(name)}; choose one of {', '.join(names(*families))}"
        )
    module_name, class_name = entry.target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def _word(families: tuple[str, ...]) -> str:
    """What to call a member of `families` in an error message."""
    if families == ("cf",):
        return "CF model"
    if families and set(families) <= set(RANKER_FAMILIES):
        return "model"
    return families[0] if len(families) == 1 else "component"


def create(
    name: str, config: Config | None = None, *, seed: int | None = None, **overrides: Any
) -> Component:
    """A fresh, unfitted component: its default config (or `config`), `overrides`, `seed`."""
    cls = component_class(name)
    config = (config or cls.Config()).replace(**overrides)
    if seed is not None:
        config = config.with_seed(seed)
    return cls(config)


@dataclass(frozen=True)
class Spec:
    """A nested component chosen by name (the CF model inside the hybrid): its registry
    name and its own typed config; serialised as {"name": ..., "config": {...}}."""

    name: str
    config: Config

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "config": self.config.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Spec:
        if not isinstance(data, dict) or set(data) != {"name", "config"}:
            raise InputError(f"a component spec needs 'name' and 'config', got {shown(data)}")
        return cls(data["name"], component_class(data["name"]).Config.from_dict(data["config"]))

    @classmethod
    def of(cls, name: str, **overrides: Any) -> Spec:
        """The registered component `name` with its default config and `overrides`."""
        return cls(name, component_class(name).Config().replace(**overrides))

    def replace(self, **changes: Any) -> Spec:
        return Spec(self.name, self.config.replace(**changes))

    def with_seed(self, seed: int) -> Spec:
        return Spec(self.name, self.config.with_seed(seed))
