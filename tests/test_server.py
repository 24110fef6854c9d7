"""`recsys serve` as a real process on a loopback port, against a trained demo home.

One home (SQLite, 40 users x 60 tracks with audio, so the tagger is trained) is built
per module; the main server runs on it with an API key and a 0.1 s poll. Tests that
write or swap bundles say what they change; the fuzz run and the no-model server get
homes of their own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bench.server_process import running_server
from tests.audio_signals import wav_with_header
from tests.conftest import run_cli

pytestmark = pytest.mark.slow

KEY = "test-key-7f3a"
USERS, TRACKS = 40, 60


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("serve")
    home = root / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECSYS_", "PROMETHEUS_"))}
    env.update(RECSYS_HOME=str(home), RECSYS_DATABASE_URL=f"sqlite:///{home / 'recsys.db'}")
    args = ["--users", str(USERS), "--tracks", str(TRACKS), "--clip-seconds", "3"]
    loaded = run_cli(["-q", "etl", "demo", *args, "--workers", "2"], env)
    assert loaded.returncode == 0, loaded.stderr
    trained = run_cli(["-q", "train", "--json"], env)
    assert trained.returncode == 0, trained.stderr
    return {"root": root, "home": home, "env": env, "report": json.loads(trained.stdout)}


@pytest.fixture(scope="module")
def server(home: dict):
    env = dict(home["env"], RECSYS_API_KEY=KEY)
    with running_server(env, home["root"] / "server.log", "--poll", "0.1", wait_for="/ready") as s:
        yield s


def current_version(home: dict) -> str:
    return (home["home"] / "models" / "recommender" / "current").read_text().strip()


def cli_json(home: dict, *args: str):
    result = run_cli([*args, "--json"], home["env"])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"], error
    assert "Traceback" not in response.text
    return error


def demo_users(home: dict) -> list[str]:
    truth = json.loads((home["home"] / "demo" / "truth.json").read_text())
    return sorted(truth["users"])


# ---- reads: the same answers as the CLI ---------------------------------------------------
def test_every_read_endpoint_answers_as_the_cli_does(home, server):
    user = demo_users(home)[0]
    version = current_version(home)
    got = httpx.get(f"{server.url}/users/{user}/recommendations", params={"n": 7})
    assert got.status_code == 200 and got.headers["x-model-version"] == version
    assert got.json() == {
        "model_version": version,
        "items": cli_json(home, "recommend", "--user", user, "-n", "7"),
    }
    explained = httpx.get(
        f"{server.url}/users/{user}/recommendations", params={"n": 3, "explain": "true"}
    ).json()["items"]
    assert explained == cli_json(home, "recommend", "--user", user, "-n", "3", "--explain")
    assert all(item["explanation"] is not None for item in explained)

    track = got.json()["items"][0]["item_id"]
    similar = httpx.get(f"{server.url}/tracks/{track}/similar", params={"n": 5}).json()
    assert similar["items"] == cli_json(home, "similar", "--track", track, "-n", "5")
    audience = httpx.get(f"{server.url}/tracks/{track}/audience", params={"n": 5}).json()
    assert audience["users"] == cli_json(home, "audience", "--track", track, "-n", "5")
    tags = httpx.get(f"{server.url}/users/{user}/tags", params={"n": 4}).json()
    assert tags["tags"] == cli_json(home, "user-tags", "--user", user, "-n", "4")
    assert len(tags["tags"]) == 4

    tag = tags["tags"][0]["tag"]
    filtered = httpx.get(
        f"{server.url}/users/{user}/recommendations", params=[("tag", tag), ("n", "5")]
    ).json()["items"]
    assert filtered == cli_json(home, "recommend", "--user", user, "--tag", tag, "-n", "5")


def test_tracks_are_found_by_name_as_the_cli_finds_them(home, server):
    user = demo_users(home)[2]
    item = cli_json(home, "recommend", "--user", user, "-n", "1")[0]
    name = f"{item['artist']} - {item['title']}"
    by_id = httpx.get(f"{server.url}/tracks/{item['item_id']}/similar", params={"n": 4}).json()
    by_name = httpx.get(f"{server.url}/tracks/{name.lower()}/similar", params={"n": 4}).json()
    assert by_name == by_id
    assert by_name["items"] == cli_json(home, "similar", "--track", name, "-n", "4")
    assert httpx.get(f"{server.url}/tracks/{name}/audience", params={"n": 3}).json()[
        "users"
    ] == cli_json(home, "audience", "--track", item["item_id"], "-n", "3")
    misspelt = httpx.get(f"{server.url}/tracks/{name[:-1] + 'qx'}/similar")
    error = assert_error(misspelt, 404, "not_found")
    assert error["hint"].startswith(f"did you mean {name} ({item['item_id']})")
    # every demo artist has several tracks: an artist's name is an ambiguous track name
    error = assert_error(
        httpx.get(f"{server.url}/tracks/{item['artist']}/similar"), 422, "ambiguous_name"
    )
    assert error["hint"].startswith("give one of these ids instead: ")
    assert f"{item['item_id']}  {name}  (" in error["hint"]


def test_any_tag_filters_as_the_cli_does(home, server):
    """`any_tag` is `--any-tag` (one of them), `tag` is `--tag` (all of them), and a filter
    nothing passes is a 404 `no_match` saying what the CLI says."""
    from recommender.services.bundles import current_recommender

    rec = current_recommender(home["home"] / "models")
    user = demo_users(home)[0]
    a, b = [t["tag"] for t in cli_json(home, "user-tags", "--user", user, "-n", "2")]
    url = f"{server.url}/users/{user}/recommendations"
    every = httpx.get(url, params=[("any_tag", a), ("any_tag", b), ("include_listened", "true"),
                                   ("n", "1000")])  # fmt: skip
    assert every.status_code == 200, every.text
    carriers = rec.items.ids[rec.carrying(any_tags=[a, b])]
    assert sorted(i["item_id"] for i in every.json()["items"]) == sorted(carriers)
    assert len(carriers) > len(rec.items.ids[rec.carrying([a])])  # b adds items: an OR
    for params, args in (
        ([("any_tag", a), ("any_tag", b)], ["--any-tag", a, "--any-tag", b]),
        ([("tag", a), ("any_tag", b)], ["--tag", a, "--any-tag", b]),
    ):
        got = httpx.get(url, params=[*params, ("n", "6")]).json()["items"]
        assert got and got == cli_json(home, "recommend", "--user", user, *args, "-n", "6")

    weights = rec.tag_weights.tocsc()
    carried = [t for t in range(weights.shape[1]) if weights[:, t].nnz]
    x, y = next(  # two tags that each have carriers but share none
        (x, y) for x in carried for y in carried if x < y and not weights[:, [x, y]].min(axis=1).nnz
    )
    x, y = str(rec.tags.id_of(x)), str(rec.tags.id_of(y))
    error = assert_error(httpx.get(url, params=[("tag", x), ("tag", y)]), 404, "no_match")
    cli = run_cli(["recommend", "--user", user, "--tag", x, "--tag", y], home["env"])
    assert cli.returncode == 2
    hint = error["hint"].replace("any_tag", "--any-tag")  # the CLI names its options
    assert cli.stderr.strip() == f"error: {error['message']}; {hint}"
    assert error["message"].startswith(f"no item carries {x} and {y} (items carrying each alone")
    assert error["hint"].startswith("try any_tag for any of them")


def test_a_visitor_gets_recommendations_from_tags_tracks_or_both(home, server):
    user = demo_users(home)[1]
    tags = [t["tag"] for t in cli_json(home, "user-tags", "--user", user, "-n", "2")]
    by_tags = httpx.post(f"{server.url}/recommendations", json={"tags": tags, "n": 5})
    assert by_tags.status_code == 200
    assert by_tags.json()["items"] == cli_json(
        home, "recommend", "--tags", ",".join(tags), "-n", "5"
    )

    played = [r["item_id"] for r in cli_json(home, "recommend", "--user", user, "-n", "3")]
    by_tracks = httpx.post(f"{server.url}/recommendations", json={"tracks": played, "n": 10})
    assert by_tracks.status_code == 200
    listed = [item["item_id"] for item in by_tracks.json()["items"]]
    assert len(listed) == 10 and not set(listed) & set(played)  # what they played is not listed
    both = httpx.post(f"{server.url}/recommendations", json={"tracks": played, "tags": tags})
    assert both.status_code == 200 and len(both.json()["items"]) == 10

    assert_error(httpx.post(f"{server.url}/recommendations", json={}), 422, "invalid_input")
    nothing_known = httpx.post(f"{server.url}/recommendations", json={"tracks": ["no-such"]})
    assert_error(nothing_known, 422, "invalid_input")


# ---- errors ---------------------------------------------------------------------------------
def test_errors_are_json_with_the_right_status(home, server):
    url = server.url
    error = assert_error(httpx.get(f"{url}/users/nobody-xyz/recommendations"), 404, "not_found")
    assert "nobody-xyz" in error["message"] and "POST /listens" in error["hint"]
    assert (
        "POST /tag"
        in assert_error(httpx.get(f"{url}/tracks/nope/similar"), 404, "not_found")["hint"]
    )
    assert_error(httpx.get(f"{url}/tracks/nope/audience"), 404, "not_found")
    assert_error(httpx.get(f"{url}/users/nobody-xyz/tags"), 404, "not_found")
    user = demo_users(home)[0]
    for params in ({"n": 0}, {"n": "ten"}, {"n": 100_000}, {"explain": "maybe"}):
        bad = httpx.get(f"{url}/users/{user}/recommendations", params=params)
        assert_error(bad, 422, "invalid_parameters")
    assert_error(httpx.get(f"{url}/no/such/route"), 404, "not_found")
    assert_error(httpx.delete(f"{url}/users/{user}/recommendations"), 405, "method_not_allowed")
    garbage = httpx.post(
        f"{url}/recommendations", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert garbage.status_code in (400, 422) and "error" in garbage.json()
    # over the limit: declared, and streamed without a Content-Length
    big = b'{"tags": ["' + b"x" * 200_000 + b'"]}'
    assert_error(httpx.post(f"{url}/recommendations", content=big), 413, "too_large")

    def chunks():
        for _ in range(4):
            yield b" " * 50_000

    streamed = httpx.post(
        f"{url}/recommendations", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(streamed, 413, "too_large")


def test_writes_need_the_api_key(server):
    row = {"listens": [{"user": "u", "track": "t", "timestamp": 1}]}
    assert_error(httpx.post(f"{server.url}/listens", json=row), 401, "unauthorized")
    wrong = httpx.post(f"{server.url}/listens", json=row, headers={"X-API-Key": KEY + "x"})
    assert_error(wrong, 401, "unauthorized")
    upload = {"file": ("a.wav", b"RIFF0000WAVE", "audio/wav")}
    assert_error(httpx.post(f"{server.url}/tag", files=upload), 401, "unauthorized")


# ---- live listens ---------------------------------------------------------------------------
def snapshot(home: dict) -> dict:
    from recommender.storage.engine import make_engine

    engine = make_engine(home["env"]["RECSYS_DATABASE_URL"])
    with engine.connect() as conn:
        out = {
            table: conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2")).all()
            for table in ("users", "listens", "listen_events")
        }
        out["user_updates"] = conn.execute(text("SELECT seq, user_id FROM user_updates")).all()
    engine.dispose()
    return out


def folded_in(home: dict, user: str, n: int) -> list[dict]:
    from recommender.services.bundles import current_recommender
    from recommender.services.history import recommend_for_user
    from recommender.storage.engine import make_engine

    engine = make_engine(home["env"]["RECSYS_DATABASE_URL"])
    rec = current_recommender(home["home"] / "models")
    results = recommend_for_user(rec, engine, user, changed=True, n=n)
    engine.dispose()
    return [r.to_dict() for r in results]


def post_listens(server, rows: list[dict]) -> httpx.Response:
    return httpx.post(f"{server.url}/listens", json={"listens": rows}, headers={"X-API-Key": KEY})


def test_listens_are_idempotent_and_reach_the_next_recommendation(home, server):
    user = demo_users(home)[-1]
    url = f"{server.url}/users/{user}/recommendations"
    before = [item["item_id"] for item in httpx.get(url, params={"n": 5}).json()["items"]]
    rows = [
        {"user": user, "track": before[0], "timestamp": 1_700_000_000, "count": 3},
        {"user": user, "track": before[1], "timestamp": "2024-05-01T10:00:00Z"},
        {"user": user, "track": "no-such-track", "timestamp": 1_700_000_000},
        {"user": user, "track": before[2], "timestamp": "yesterday"},
        {"user": "", "track": before[2], "timestamp": 1},
        {"user": user, "track": before[2], "timestamp": 1, "count": 0},
    ]
    first = post_listens(server, rows)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "received": 6,
        "added": 2,
        "duplicates": 0,
        "rejected": [
            {"row": 2, "reason": "unknown_track", "value": f"{user},no-such-track,1700000000,1"},
            {"row": 3, "reason": "bad_timestamp", "value": f"{user},{before[2]},yesterday,1"},
            {"row": 4, "reason": "empty_id", "value": f",{before[2]},1,1"},
            {"row": 5, "reason": "bad_count", "value": f"{user},{before[2]},1,0"},
        ],
        "users_updated": [user],
    }
    stored = snapshot(home)
    again = post_listens(server, rows)
    assert again.json()["added"] == 0 and again.json()["duplicates"] == 2
    assert snapshot(home) == stored  # a retried request changes nothing

    after = httpx.get(url, params={"n": 5})  # the same worker: visible at once
    listed = [item["item_id"] for item in after.json()["items"]]
    assert len(listed) == 5 and not {before[0], before[1]} & set(listed)
    # exactly the fold-in of the user's whole database history on the served bundle,
    # and what the CLI now says for them too
    assert after.json()["items"] == folded_in(home, user, n=5)
    assert after.json()["items"] == cli_json(home, "recommend", "--user", user, "-n", "5")


def test_a_new_listener_is_recommended_from_posted_listens(home, server):
    url = f"{server.url}/users/newcomer-1/recommendations"
    assert_error(httpx.get(url), 404, "not_found")
    tracks = [r["item_id"] for r in cli_json(home, "similar", "--track", "track-0001", "-n", "3")]
    rows = [
        {"user": "newcomer-1", "track": t, "timestamp": 1_700_000_100 + i}
        for i, t in enumerate(tracks)
    ]
    assert post_listens(server, rows).json()["added"] == 3
    got = httpx.get(url, params={"n": 10})
    assert got.status_code == 200, got.text
    assert len(got.json()["items"]) == 10 and not set(tracks) & {
        i["item_id"] for i in got.json()["items"]
    }
    # the CLI reads the same history from the database: the same list
    assert got.json()["items"] == cli_json(home, "recommend", "--user", "newcomer-1")


# ---- audio ----------------------------------------------------------------------------------
def test_tag_an_uploaded_recording(home, server):
    clip = sorted((home["home"] / "demo" / "audio").glob("*.wav"))[0]
    answer = httpx.post(
        f"{server.url}/tag",
        params={"n": 3},
        files={"file": ("../../etc/passwd", clip.read_bytes(), "audio/wav")},
        headers={"X-API-Key": KEY},
        timeout=120,  # the first upload loads librosa and the tagger: slow on a busy machine
    )
    assert answer.status_code == 200, answer.text
    tags = answer.json()["tags"]
    expected = cli_json(home, "tag", str(clip), "--top", "3")
    assert tags == expected["results"][0]["tags"] and len(tags) == 3
    # how unlike the training audio the upload is, as `recsys tag` says
    assert isinstance(answer.json()["in_distribution"], bool)
    for field in ("novelty", "in_distribution"):
        assert answer.json()[field] == expected["results"][0][field]
    assert answer.headers["x-model-version"] == answer.json()["model_version"]
    not_audio = httpx.post(
        f"{server.url}/tag",
        files={"file": ("song.wav", b"this is not audio at all" * 100, "audio/wav")},
        headers={"X-API-Key": KEY},
    )
    error = assert_error(not_audio, 422, "bad_audio")
    assert (
        error["message"].startswith("the upload: cannot decode audio")
        and "/tmp" not in error["message"]
    )
    malformed = httpx.post(  # a header claiming sample rate 0 is the upload's fault
        f"{server.url}/tag",
        files={
            "file": (
                "sr0.wav",
                wav_with_header(home["home"] / "sr0.wav", sample_rate=0).read_bytes(),
                "audio/wav",
            )
        },
        headers={"X-API-Key": KEY},
    )
    error = assert_error(malformed, 422, "bad_audio")
    assert error["message"].startswith("the upload: malformed header (sample rate 0 Hz")


# ---- operations -----------------------------------------------------------------------------
def test_health_ready_metrics_and_docs(home, server):
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/ready").json()
    assert ready == {"status": "ready", "model_version": current_version(home), "database": "ok"}
    httpx.get(f"{server.url}/users/nobody-xyz/recommendations")
    metrics = httpx.get(f"{server.url}/metrics").text
    assert (
        'recsys_requests_total{endpoint="/users/{user}/recommendations",method="GET",status="404"}'
        in metrics
    )
    assert "recsys_request_seconds_bucket" in metrics
    assert (
        f'recsys_model_info{{kind="recommender",version="{current_version(home)}"}} 1.0' in metrics
    )
    assert "swagger" in httpx.get(f"{server.url}/docs").text.lower()
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert {
        "/users/{user}/recommendations",
        "/recommendations",
        "/tracks/{track}/similar",
        "/tracks/{track}/audience",
        "/users/{user}/tags",
        "/tag",
        "/listens",
        "/health",
        "/ready",
    } <= set(paths)


# ---- hot swaps ------------------------------------------------------------------------------
def serving(server, version: str, timeout: float = 30) -> None:
    """Wait until the server answers from `version` (its poll has loaded it)."""
    deadline = time.monotonic() + timeout
    while httpx.get(f"{server.url}/ready").json().get("model_version") != version:
        assert time.monotonic() < deadline, f"{version} not served after {timeout} s"
        time.sleep(0.05)


def settle(answers: list, more: int, timeout: float = 60) -> None:
    """Wait until the load has given `more` answers beyond what it has now."""
    target, deadline = len(answers) + more, time.monotonic() + timeout
    while len(answers) < target:
        assert time.monotonic() < deadline, "the load stalled"
        time.sleep(0.01)


def test_swaps_under_load_never_fail_or_mix_versions(home, server):
    from recommender.services.bundles import RECOMMENDER, publish, read_recommender
    from recommender.services.training import train_bundle
    from recommender.storage.engine import make_engine

    models = home["home"] / "models"
    first = current_version(home)
    engine = make_engine(home["env"]["RECSYS_DATABASE_URL"])
    versions = [first]
    for seed in (1, 2):  # two more bundles, with different ALS seeds: different answers
        report = train_bundle(engine, models, seed=seed, tagger=False, validate=False)
        versions.append(report.version)
    engine.dispose()
    publish(models, RECOMMENDER, first)
    serving(server, first)  # training published the others meanwhile
    users = demo_users(home)[:8]
    reference = {
        v: {
            u: [r.to_dict() for r in read_recommender(models / RECOMMENDER / v).recommend(u)]
            for u in users
        }
        for v in versions
    }
    assert reference[versions[1]] != reference[versions[0]] != reference[versions[2]]

    answers: list[tuple[int, str, str, dict]] = []
    stop = threading.Event()

    def client(offset: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            i = offset
            while not stop.is_set():
                user = users[i % len(users)]
                r = http.get(f"/users/{user}/recommendations")
                answers.append(
                    (r.status_code, r.headers.get("x-model-version", ""), user, r.json())
                )
                i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    try:
        for version in versions[1:]:
            settle(answers, 350)  # answers from the version being served
            publish(models, RECOMMENDER, version)
            serving(server, version)
        settle(answers, 350)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert len(answers) >= 1000
    assert all(status == 200 for status, *_ in answers)
    for _, version, user, body in answers:  # each answer wholly from the version it names
        assert body["model_version"] == version
        assert body["items"] == reference[version][user]
    seen = [version for _, version, _, _ in answers]
    assert set(seen) == set(versions)
    assert seen[-1] == versions[2]

    # a damaged bundle is refused: the last good one keeps serving
    damaged = models / RECOMMENDER / "99990101T000000000Z-damaged"
    shutil.copytree(models / RECOMMENDER / versions[2], damaged)
    target = next(damaged.rglob("*.npy"))
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    publish(models, RECOMMENDER, damaged.name)
    refused = f"refused recommender bundle {damaged.name}"
    deadline = time.monotonic() + 30
    while refused not in server.log_text():
        assert time.monotonic() < deadline, "the damaged bundle was never looked at"
        time.sleep(0.05)
    after = httpx.get(f"{server.url}/users/{users[0]}/recommendations")
    assert after.status_code == 200 and after.headers["x-model-version"] == versions[2]
    assert (
        'recsys_model_refused_total{kind="recommender"} 1.0'
        in httpx.get(f"{server.url}/metrics").text
    )
    publish(models, RECOMMENDER, first)


# ---- servers of their own -------------------------------------------------------------------
def test_without_a_model_the_server_waits_for_one(home, tmp_path):
    empty = tmp_path / "home"
    env = dict(home["env"], RECSYS_HOME=str(empty))
    env["RECSYS_DATABASE_URL"] = f"sqlite:///{empty / 'recsys.db'}"
    with running_server(env, tmp_path / "server.log", "--poll", "0.1") as s:
        assert_error(httpx.get(f"{s.url}/ready"), 503, "no_model")
        error = assert_error(httpx.get(f"{s.url}/users/u/recommendations"), 503, "no_model")
        assert "recsys train" in error["hint"]
        row = {"listens": [{"user": "u", "track": "t", "timestamp": 1}]}
        assert_error(httpx.post(f"{s.url}/listens", json=row), 403, "writes_disabled")
        version = current_version(home)
        shutil.copytree(
            home["home"] / "models" / "recommender" / version,
            empty / "models" / "recommender" / version,
        )
        from recommender.services.bundles import RECOMMENDER, publish

        publish(empty / "models", RECOMMENDER, version)
        deadline = time.monotonic() + 20
        while httpx.get(f"{s.url}/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert httpx.get(f"{s.url}/ready").json()["model_version"] == version


def test_refuses_a_public_address_without_an_api_key(home):
    result = run_cli(["serve", "--host", "0.0.0.0", "--port", "1"], home["env"])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --host 0.0.0.0 is reachable from other machines and RECSYS_API_KEY is not set;"
        " set RECSYS_API_KEY (writes then need it) or bind --host 127.0.0.1"
    ]


def test_two_workers_share_listens_and_metrics(home, tmp_path):
    """Listens posted to one worker reach the other within its poll; /metrics sums both."""
    env = dict(home["env"], RECSYS_API_KEY=KEY)
    log = tmp_path / "server.log"
    with running_server(env, log, "--workers", "2", "--poll", "0.1", wait_for="/ready") as s:
        user = demo_users(home)[-2]
        with httpx.Client(base_url=s.url) as http:
            for _ in range(40):
                assert http.get(f"/users/{user}/recommendations").status_code == 200
            played = http.get(f"/users/{user}/recommendations").json()["items"][0]["item_id"]
            row = {"user": user, "track": played, "timestamp": 1_700_000_500, "count": 40}
            assert post_listens(s, [row]).json()["added"] == 1
            time.sleep(0.5)  # a few polls
            # a new connection each: the kernel hands them to either worker
            url = f"{s.url}/users/{user}/recommendations"
            answers = [httpx.get(url).json() for _ in range(20)]
            metrics = http.get("/metrics").text
    assert all(a["items"] == folded_in(home, user, n=10) for a in answers)  # whichever worker
    line = (
        'recsys_requests_total{endpoint="/users/{user}/recommendations",method="GET",status="200"}'
    )
    counted = [float(x.split()[-1]) for x in metrics.splitlines() if x.startswith(line)]
    assert counted == [61.0]  # both workers' requests, summed


def test_fuzzing_the_openapi_spec_finds_no_server_error(home, tmp_path):
    """A bounded schemathesis run (every operation, positive and negative inputs) on a copy."""
    copy = tmp_path / "home"
    shutil.copytree(home["home"], copy)
    env = dict(home["env"], RECSYS_HOME=str(copy), RECSYS_API_KEY=KEY)
    env["RECSYS_DATABASE_URL"] = f"sqlite:///{copy / 'recsys.db'}"
    with running_server(env, tmp_path / "server.log", wait_for="/ready") as s:
        st = Path(sys.executable).with_name("st")
        result = subprocess.run(
            [
                str(st),
                "run",
                f"{s.url}/openapi.json",
                "-H",
                f"X-API-Key: {KEY}",
                "--checks",
                "not_a_server_error,status_code_conformance,response_schema_conformance",
                "--max-examples",
                "25",
                "--max-time",
                "45",
                "--seed",
                "7",
                "--generation-database",
                "none",
                "--workers",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Traceback" not in s.log_text()
