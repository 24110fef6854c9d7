"""Baselines and the runner: known answers on small data, determinism, refusal to leak."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.baselines import (
    PopularityRanker,
    RandomRanker,
    TagCosineRanker,
    TagPopularityRanker,
    item_tag_vectors,
)
from recommender.core.registry import create
from recommender.data.dataset import TagEvents
from recommender.data.leakage import LeakageError
from recommender.data.splits import make_split
from recommender.data.synthetic import synthetic_dataset
from recommender.errors import InputError
from recommender.evaluation.report import markdown_report, table_rows, tie_note
from recommender.evaluation.runner import evaluate_dataset, evaluate_split, with_baselines
from recommender.services.split_tagger import keep_predicted_tags


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(n_users=80, n_items=60, plays_per_user=12, cold_items=5, seed=2)


def tiny():
    """3 users x 4 items, 2 tags: item 0,1 are 'rock' (tag 0), item 2,3 'jazz' (tag 1)."""
    base = synthetic_dataset(
        n_users=3, n_items=4, n_genres=2, plays_per_user=1, tags_per_genre=1, seed=0
    )
    plays = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]], dtype=np.float32))
    events = TagEvents(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]))
    return base.replace(plays=plays, tag_events=events, predicted_tags=None)


def test_popularity_counts_users_not_plays():
    d = tiny().replace(
        plays=sp.csr_matrix(np.array([[9, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0]], dtype=np.float32))
    )
    scores = PopularityRanker().fit(d).score(np.array([0, 2]))
    assert scores.tolist() == [[1, 3, 0, 0], [1, 3, 0, 0]]


def test_random_is_seeded_and_batch_independent(data):
    one = create("random", seed=4).fit(data)
    assert np.array_equal(one.score(np.array([3, 5]))[1], one.score(np.array([5]))[0])
    assert not np.array_equal(
        one.score(np.array([3])), create("random", seed=5).fit(data).score(np.array([3]))
    )


def test_tag_cosine_and_tag_pop_by_hand():
    d = tiny()
    scores = TagCosineRanker().fit(d).score(np.array([0, 2]))
    # user 0 played rock items only: cosine 1 with the rock items, 0 with jazz
    assert scores[0].tolist() == pytest.approx([1, 1, 0, 0])
    assert scores[1].tolist() == pytest.approx([0, 0, 1, 1])
    # audience: 3 rock plays, 1 jazz play -> profile (3, 1)/sqrt(10)
    pop = TagPopularityRanker().fit(d).score(np.array([1]))[0]
    assert pop.tolist() == pytest.approx([3 / np.sqrt(10)] * 2 + [1 / np.sqrt(10)] * 2)
    applied = create("tag-cosine", profile="applied").fit(d).score(np.array([1]))[0]
    assert applied.tolist() == pytest.approx([1, 1, 0, 0])


def test_auto_tag_source_falls_back_to_predicted_tags_for_untagged_items():
    d = tiny()
    predicted = sp.csr_matrix(np.array([[0, 0], [0, 0], [0, 0], [0.1, 0.9]], dtype=np.float32))
    d = d.replace(
        tag_events=d.tag_events.select(np.array([True, True, True, False])),
        predicted_tags=predicted,
    )
    vectors = item_tag_vectors(d, source="auto").toarray()
    assert vectors[3] == pytest.approx(np.array([0.1, 0.9]) / np.linalg.norm([0.1, 0.9]))
    assert vectors[0].tolist() == pytest.approx([1, 0])  # crowd tags win where they exist
    assert item_tag_vectors(d, source="crowd").toarray()[3].tolist() == [0, 0]


def test_baselines_are_registered_in_the_model_factory():
    for name, cls in [
        ("random", RandomRanker),
        ("pop", PopularityRanker),
        ("tag-pop", TagPopularityRanker),
        ("tag-cosine", TagCosineRanker),
    ]:
        assert isinstance(create(name, seed=1), cls)
    with pytest.raises(InputError, match="unknown component 'nope'"):
        create("nope")
    split = make_split(synthetic_dataset(seed=1), "random", seed=0)
    (entry,) = evaluate_split(["mlp"], split)["models"]  # a tagger is not a model to rank with
    assert entry["error"].startswith("unknown model 'mlp'; choose one of als, bpr")


def test_runner_compares_models_on_the_same_users_and_is_deterministic(data):
    result = evaluate_dataset(data, split="random", models=["pop"], k=5, ks=[1, 5, 10], seed=3)
    names = [m["name"] for m in result["models"]]
    assert names == ["random", "pop"]
    assert result["users_evaluated"] == 80
    by_name = {m["name"]: m["metrics"] for m in result["models"]}
    # the synthetic data has a popularity signal: pop must beat random clearly
    assert by_name["pop"]["ndcg@5"] > 2 * by_name["random"]["ndcg@5"]
    assert by_name["pop"]["recall@10"] >= by_name["pop"]["recall@5"] >= by_name["pop"]["recall@1"]
    assert by_name["pop"]["avg_popularity@5"] > by_name["random"]["avg_popularity@5"]
    again = evaluate_dataset(data, split="random", models=["pop"], k=5, ks=[1, 5, 10], seed=3)
    assert [m["metrics"] for m in again["models"]] == [m["metrics"] for m in result["models"]]


def test_cold_items_ranks_only_cold_items_and_adds_tag_baselines(data):
    synthetic = keep_predicted_tags("synthetic, generated from the true genres")
    result = evaluate_dataset(data, split="cold-items", models=[], k=5, seed=0, prepare=synthetic)
    assert [m["name"] for m in result["models"]] == ["random", "pop", "tag-pop", "tag-cosine"]
    assert result["data"]["candidate_items"] == round(0.2 * 60)
    by_name = {m["name"]: m["metrics"] for m in result["models"]}
    assert by_name["tag-cosine"]["ndcg@5"] > by_name["random"]["ndcg@5"]
    assert by_name["pop"]["avg_popularity@5"] == 0  # nobody played a cold item in training
    # pop cannot tell cold items apart: flagged as a tie-break artefact, unlike tag-cosine
    tied = {m["name"]: m["constant_score_users"] for m in result["models"]}
    assert tied["pop"] == 1.0 and tied["random"] == 0.0 and tied["tag-cosine"] < 0.5
    rows = {row[0]: row for row in table_rows(result)}
    assert "pop*" in rows and "tag-cosine" in rows
    assert "pop" in tie_note(result) and "tag-cosine" not in tie_note(result).split(":")[0]


def test_taggers_give_models_that_read_predicted_tags_a_row_per_tagger(data):
    from dataclasses import replace

    synthetic = keep_predicted_tags("synthetic, generated from the true genres")

    def shuffled(split):  # a worse "tagger": the same predictions on the wrong items
        order = np.random.default_rng(0).permutation(split.train.n_items)
        train = split.train.replace(predicted_tags=split.train.predicted_tags[order])
        return replace(split, train=train), "shuffled predictions"

    result = evaluate_dataset(
        data,
        split="cold-items",
        models=["pop"],
        k=5,
        seed=0,
        taggers={"true": synthetic, "shuffled": shuffled},
    )
    assert [m["name"] for m in result["models"]] == [
        "random",
        "pop",
        "tag-pop (true)",
        "tag-pop (shuffled)",
        "tag-cosine (true)",
        "tag-cosine (shuffled)",
    ]
    assert result["taggers"] == ["true", "shuffled"]
    assert result["notes"] == [
        "true: predicted tags kept: synthetic, generated from the true genres",
        "shuffled: shuffled predictions",
    ]
    single = evaluate_dataset(
        data, split="cold-items", models=["pop"], k=5, seed=0, prepare=synthetic
    )
    ndcg = {m["name"]: m["metrics"]["ndcg@5"] for m in result["models"]}
    for m in single["models"]:  # the same split: each row as a one-tagger run gives it
        name = m["name"] if m["name"] in ("random", "pop") else f"{m['name']} (true)"
        assert ndcg[name] == m["metrics"]["ndcg@5"], name
    assert ndcg["tag-cosine (true)"] > ndcg["tag-cosine (shuffled)"]
    with pytest.raises(ValueError, match="either prepare or taggers"):
        evaluate_dataset(data, split="cold-items", prepare=synthetic, taggers={"t": synthetic})


def test_a_tagger_with_embeddings_adds_an_audio_cosine_row(data):
    """The CNN's embeddings rank cold items by sound alone: one more row for that tagger.
    Here the "embedding" is the predicted-tag vector itself, so sound == tags."""
    from dataclasses import replace

    synthetic = keep_predicted_tags("synthetic, generated from the true genres")

    def with_sound(split):
        sound = split.train.predicted_tags.toarray().astype(np.float32)
        return replace(split, train=split.train.replace(item_embeddings=sound)), "with sound"

    result = evaluate_dataset(
        data,
        split="cold-items",
        models=[],
        k=5,
        seed=0,
        taggers={"plain": synthetic, "cnn": with_sound},
    )
    names = [m["name"] for m in result["models"]]
    assert names[-1] == "audio-cosine (cnn)" and "audio-cosine (plain)" not in names
    ndcg = {m["name"]: m["metrics"]["ndcg@5"] for m in result["models"]}
    assert ndcg["audio-cosine (cnn)"] > ndcg["random"]


def test_runner_refuses_a_leaky_split(data):
    split = make_split(data, "random", seed=0)
    leaky = split.__class__(
        name="random",
        train=split.train.replace(plays=split.train.plays + split.test),
        validation=split.validation,
        test=split.test,
    )
    with pytest.raises(LeakageError):
        evaluate_split(["pop"], leaky)


class Failing:
    name = "failing"

    def fit(self, train):
        raise InputError("needs predicted tags; run `recsys tag` first")

    def score(self, user_rows):  # pragma: no cover - never reached
        raise AssertionError


def test_a_failing_model_is_reported_and_the_others_still_run(data):
    result = evaluate_split(["pop", Failing()], make_split(data, "random", seed=0), k=3)
    assert "metrics" in result["models"][0]
    assert result["models"][1] == {
        "name": "failing",
        "error": "needs predicted tags; run `recsys tag` first",
    }
    rows = table_rows(result)
    assert rows[1][1].startswith("failed: needs predicted tags")
    report = markdown_report(result, command="recsys evaluate")
    assert "| pop |" in report and "`recsys evaluate`" in report


def test_with_baselines_keeps_order_and_drops_duplicates():
    assert with_baselines(["als", "pop"], "random") == ["random", "pop", "als"]
    assert with_baselines(["als"], "cold-items") == [
        "random",
        "pop",
        "tag-pop",
        "tag-cosine",
        "als",
    ]
