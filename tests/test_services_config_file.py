"""RECSYS_HOME/config.json: typed through the components' configs, every mistake named."""

from __future__ import annotations

import json

import pytest

from recommender.cf.als import ALSConfig
from recommender.cf.weighting import WeightingConfig
from recommender.errors import InputError
from recommender.hybrid.configs import BlendConfig, ranker_spec
from recommender.services.config_file import TrainingConfig, read_config, write_config


def test_no_file_means_the_defaults(tmp_path):
    config = read_config(tmp_path / "config.json")
    assert config == TrainingConfig()
    assert config.cf_config("als") == ALSConfig() and config.path is None


def test_round_trip_keeps_only_what_differs_and_no_seeds(tmp_path):
    path = tmp_path / "home" / "config.json"
    tuned = ALSConfig(factors=96, weighting=WeightingConfig("bm25", 3.0, 0.5), seed=7)
    config = TrainingConfig(
        cf={"als": tuned}, blend=BlendConfig(k=12.0), tuning={"als": {"best_value": 0.2}}
    )
    write_config(path, config)
    data = json.loads(path.read_text())
    assert set(data) == {"cf", "blend", "tuning"}  # content kept its defaults
    assert "seed" not in data["cf"]["als"] and "num_threads" not in data["cf"]["als"]
    assert data["cf"]["als"]["weighting"] == {"kind": "bm25", "k1": 3.0, "b": 0.5, "epsilon": 1.0}
    back = read_config(path)
    assert back.cf_config("als") == ALSConfig(
        factors=96, weighting=WeightingConfig("bm25", 3.0, 0.5)
    )
    assert back.blend == BlendConfig(k=12.0) and back.tuning == {"als": {"best_value": 0.2}}
    assert back.path == path


def test_a_partial_section_keeps_the_other_defaults(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"cf": {"knn": {"K": 50}}, "content": {"idf_power": 0.5}}')
    config = read_config(path)
    assert config.cf_config("knn").K == 50 and config.cf_config("knn").similarity == "cosine"
    assert config.content.idf_power == 0.5 and config.content.ridge_alpha == 1.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"cf": {}, "model": "als"}', "unknown section(s) model; known: cf, blend, content"),
        ('{"cf": {"svd": {}}}', "unknown CF model 'svd' in section 'cf'; known: als, bpr"),
        ('{"blend": {"kk": 1}}', "section 'blend': unknown parameter(s) kk for BlendConfig"),
        ('{"cf": {"als": {"weighting": {"kind": "tfidf"}}}}', "unknown weighting 'tfidf'"),
        ('{"cf": [1]}', "section 'cf' must map CF model names to their parameters"),
        ("[]", "expected a JSON object"),
        ('{"cf": {"als": {"factors": 8,}}}', "not valid JSON at line 1, column 30"),
    ],
)
def test_every_mistake_is_an_input_error_naming_the_file(tmp_path, text, message):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        read_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_command_line_parameters_override_the_file():
    spec = ranker_spec("als", seed=3, cf_config=ALSConfig(factors=96, iterations=9), factors=5)
    cf = spec.config.cf.config
    assert (cf.factors, cf.iterations, cf.seed) == (5, 9, 3)
    assert ranker_spec("bpr", blend=BlendConfig(k=2.0)).config.blend.k == 2.0
