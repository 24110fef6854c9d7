"""The FastAPI application: each route is a thin layer over `recommender.services`.

Every route takes the served bundle once (`state.recommender.served`) and answers
from it alone, naming its version in `X-Model-Version`: a swap in mid-request cannot
mix two models. Errors, including validation errors and unknown routes, are answered
as `{"error": {"code", "message", "hint"}}` (errors.py), and every routed request is
counted and timed per endpoint (metrics.py).

    uvicorn --factory recommender.server.app:create_app   # what `recsys serve` runs
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from functools import partial
from importlib.metadata import version as package_version
from typing import Annotated

from fastapi import APIRouter, FastAPI, File, Header, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from recommender.errors import AudioDecodeError
from recommender.server import metrics, schemas
from recommender.server.auth import check_key
from recommender.server.errors import ApiError, error_response
from recommender.server.limits import BodyLimit
from recommender.server.state import ServerConfig, ServerState
from recommender.services import queries
from recommender.services.live import Served

VERSION_HEADER = "X-Model-Version"
ERRORS = {status: {"model": schemas.ErrorBody} for status in (400, 404, 413, 422, 503)}
WRITE_ERRORS = {s: {"model": schemas.ErrorBody} for s in (400, 401, 403, 404, 413, 422, 503)}


class ObservedRoute(APIRoute):
    """A route whose failures become JSON errors and whose requests are counted and timed."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()
        endpoint = self.path

        async def observed(request: Request) -> Response:
            started = time.perf_counter()
            try:
                response = await handler(request)
            except Exception as exc:
                response = error_response(exc)
            metrics.observe(
                endpoint, request.method, response.status_code, time.perf_counter() - started
            )
            return response

        return observed


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """The application for one worker (configuration from the environment by default)."""
    _log_to_stderr()
    config = config or ServerConfig.from_env()
    state = ServerState(config)
    for kind, live in (("recommender", state.recommender), ("tagger", state.tagger)):
        live.on_swap = lambda served, kind=kind: metrics.serving(kind, served.version)
        live.on_refuse = lambda _version, _reason, kind=kind: metrics.refused(kind)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        state.start()
        yield
        state.stop()

    app = FastAPI(
        title="recsys",
        version=package_version("recsys"),
        summary="Hybrid music recommendations: collaborative filtering, audio tags, tag profiles.",
        lifespan=lifespan,
    )
    app.add_exception_handler(HTTPException, lambda _r, exc: error_response(exc))
    app.add_exception_handler(RequestValidationError, lambda _r, exc: error_response(exc))

    def limit_for(path: str) -> int:
        if path == "/listens":
            return config.max_json_bytes
        if path == "/tag":
            return config.max_upload_bytes
        return config.max_read_bytes

    app.add_middleware(BodyLimit, limit_for=limit_for)
    router = APIRouter(route_class=ObservedRoute)
    _recommendation_routes(router, state)
    _write_routes(router, state)
    _operation_routes(router, state)
    app.include_router(router)
    return app


def _log_to_stderr() -> None:
    """Swaps and refused bundles go to stderr beside uvicorn's own lines."""
    logger = logging.getLogger("recsys")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _items(results) -> list[dict]:
    return [r.to_dict() for r in results]


def _recommendation_routes(router: APIRouter, state: ServerState) -> None:
    @router.get("/users/{user}/recommendations", response_model=schemas.ItemList, responses=ERRORS)
    async def user_recommendations(
        user: str,
        n: Annotated[int, Query(ge=1, le=schemas.MAX_N)] = 10,
        tag: Annotated[
            list[str] | None,
            Query(
                max_length=schemas.MAX_TAG_FILTER,
                description="keep items carrying every `tag` (AND; as `recsys recommend --tag`)",
            ),
        ] = None,
        any_tag: Annotated[
            list[str] | None,
            Query(
                max_length=schemas.MAX_TAG_FILTER,
                description="and carrying at least one `any_tag` (OR; as --any-tag)",
            ),
        ] = None,
        include_listened: bool = False,
        explain: bool = False,
    ) -> Response:
        """A user's top-n: their trained row, or their database history folded in when they
        are new or sent listens after the model was trained (as `recsys recommend --user`)."""
        served = state.recommender.served
        changed = state.changed_since(user, served)
        ask = partial(
            queries.recommend_from,
            served.model,
            state.engine,
            user=user,
            n=n,
            only_tags=tag,
            any_tags=any_tag,
            include_listened=include_listened,
            explain=explain,
            changed=changed,
        )
        if queries.reads_history(served.model, user, changed=changed):
            results = await run_in_threadpool(ask)  # the database: off the event loop
        else:
            results = ask()  # a millisecond of numpy: a thread hop would cost more
        return _answer(served, items=_items(results))

    @router.post("/recommendations", response_model=schemas.ItemList, responses=ERRORS)
    async def visitor_recommendations(visitor: schemas.Visitor) -> Response:
        """A visitor without an account: from chosen tags, a few played tracks, or both."""
        served = state.recommender.served
        results = queries.recommend_visitor(
            served.model,
            tags=visitor.tags,
            tracks=visitor.tracks,
            n=visitor.n,
            explain=visitor.explain,
        )
        return _answer(served, items=_items(results))

    @router.get("/tracks/{track}/similar", response_model=schemas.ItemList, responses=ERRORS)
    async def similar(
        track: str, n: Annotated[int, Query(ge=1, le=schemas.MAX_N)] = 10
    ) -> Response:
        """Tracks like this one (an id, or a title, artist or "artist - title"): CF neighbours
        of a played track, tag neighbours of a cold one."""
        served = state.recommender.served
        _, items = queries.similar_from(served.model, track, n=n)
        return _answer(served, items=_items(items))

    @router.get("/tracks/{track}/audience", response_model=schemas.Audience, responses=ERRORS)
    async def audience(
        track: str, n: Annotated[int, Query(ge=1, le=schemas.MAX_N)] = 10
    ) -> Response:
        """The artist's view: listeners this track (an id or a name) should reach, never-played
        tracks too."""
        served = state.recommender.served
        _, users = queries.audience_from(served.model, track, n=n)
        return _answer(served, users=[u.to_dict() for u in users])

    @router.get("/users/{user}/tags", response_model=schemas.UserTags, responses=ERRORS)
    async def user_tags(
        user: str, n: Annotated[int, Query(ge=1, le=schemas.MAX_N)] = 20
    ) -> Response:
        """The user's strongest profile tags, tags popular everywhere discounted."""
        served = state.recommender.served
        tags = queries.user_tags_from(served.model, user, n=n)
        return _answer(served, tags=[t.to_dict() for t in tags])


def _answer(served: Served, **payload) -> Response:
    """The JSON answer of one bundle, its version in the body and the header.

    Built here rather than validated against the response model on every request (the
    schema is published; the tests and the fuzz run check the answers against it).
    """
    body = {"model_version": served.version, **payload}
    return JSONResponse(body, headers={VERSION_HEADER: served.version})


def _write_routes(router: APIRouter, state: ServerState) -> None:
    config = state.config

    @router.post("/listens", response_model=schemas.ListensResult, responses=WRITE_ERRORS)
    def listens(
        batch: schemas.Listens,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> dict:
        """Store play events, checked as the ETL checks a listens file. Bad rows come back
        with their reasons and the good ones are kept; an event already stored adds
        nothing (retries are safe); the users' next recommendations fold them in."""
        from etl.live import append_listens

        check_key(config.api_key, x_api_key)
        load = append_listens(state.engine(), [row.model_dump() for row in batch.listens])
        state.changed.mark(load.updates)
        return load.to_dict()

    @router.post("/tag", response_model=schemas.Tagged, responses=WRITE_ERRORS)
    def tag(
        file: Annotated[UploadFile, File(description="WAV, FLAC, Ogg or MP3")],
        response: Response,
        n: Annotated[int, Query(ge=1, le=schemas.MAX_N)] = 5,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> dict:
        """Predicted tags for an uploaded recording (its content is decoded; the file name
        is never used)."""
        from recommender.services.taggers import tag_file

        check_key(config.api_key, x_api_key)
        served = state.tagger_served()
        response.headers[VERSION_HEADER] = served.version
        with tempfile.TemporaryDirectory(prefix="recsys-tag-") as folder:
            path = os.path.join(folder, "upload")
            with open(path, "wb") as out:
                while chunk := file.file.read(1 << 20):
                    out.write(chunk)
            try:
                _check_duration(path, config.max_audio_seconds)
                tagged = tag_file(served.model, path, top=n)
            except AudioDecodeError as exc:  # its message names our temporary file
                raise AudioDecodeError(str(exc).replace(path, "the upload")) from None
        return {"model_version": served.version, **tagged}


def _check_duration(path: str, limit: float) -> None:
    """Refuse audio longer than `limit` seconds, read from the decoded header."""
    import soundfile

    from recommender.audio.decode import check_header

    try:
        info = soundfile.info(path)
    except Exception:  # not a libsndfile format: decoding decides
        return
    check_header(path, info.samplerate, info.channels)
    if info.frames / info.samplerate > limit:
        raise ApiError(
            413,
            "too_long",
            f"audio of {info.frames / info.samplerate:.0f} s; at most {limit:.0f} s are tagged",
            "upload an excerpt",
        )


def _operation_routes(router: APIRouter, state: ServerState) -> None:
    @router.get("/health", response_model=schemas.Health)
    def health() -> dict:
        """The process is alive (no model or database needed)."""
        return {"status": "ok"}

    @router.get("/ready", response_model=schemas.Ready, responses=ERRORS)
    def ready() -> dict:
        """A model is loaded and the database answers: send traffic here."""
        from sqlalchemy import text

        served = state.recommender.served
        with state.engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ready", "model_version": served.version, "database": "ok"}

    @router.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        payload, content_type = metrics.exposition()
        return Response(payload, media_type=content_type)

    if state.config.bench_endpoint:
        constant = {
            "model_version": "constant",
            "items": [
                {"item_id": f"t{i}", "title": "", "artist": "", "score": 1.0, "source": "cf"}
                for i in range(10)
            ],
        }

        @router.get("/_bench/constant", response_model=schemas.ItemList, include_in_schema=False)
        async def bench_constant() -> Response:
            """The serving benchmark's reference: the same route and answer machinery as
            the recommendations, and no model."""
            return JSONResponse(constant, headers={VERSION_HEADER: "constant"})
