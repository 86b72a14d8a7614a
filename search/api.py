"""The analysts' search over HTTP: ``make_router(settings)`` is included by ``yujing.http.create_app``.

Every endpoint needs ``Authorization: Bearer <token>`` (tokens: ``yujing token create``). Every search,
incident view and export is written to the audit log. Authors appear only as pseudonyms.
"""


from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from yujing.clock import Clock, SystemClock
from yujing.errors import YujingError
from yujing.search import service
from yujing.search.access import AccessStore, Principal, audit_key
from yujing.search.incident import SearchBackend
from yujing.search.open import open_store
from yujing.search.service import SearchParams
from yujing.settings import Settings


# ---- response models ---------------------------------------------------------------------------
class PostOut(BaseModel):
    id: str
    ts: datetime
    source: str
    author: str = Field(description="keyed-hash pseudonym; raw account names are never stored")
    text: str
    url: str = ""
    platforms: list[str]
    labels: list[str]
    scores: dict[str, float]


class HitOut(BaseModel):
    post: PostOut
    highlight: str = Field("", description="text with matches wrapped in <em>…</em>")


class SearchOut(BaseModel):
    total: int
    hits: list[HitOut]
    next_cursor: str = Field("", description="pass as ?cursor= for the next page; empty on the last page")
    facets: dict[str, dict[str, int]] = {}
    histogram: list[tuple[datetime, int]] = []

    model_config = {"json_schema_extra": {"examples": [{
        "total": 1, "next_cursor": "",
        "hits": [{"highlight": "<em>鑫盛贷</em>无法提现了", "post": {
            "id": "p01", "ts": "2026-11-20T08:00:00+00:00", "source": "weibo", "author": "u_3f2a9c0b1d",
            "text": "鑫盛贷无法提现了", "url": "", "platforms": ["鑫盛贷"], "labels": ["panic"],
            "scores": {"rumour": 0.1, "panic": 0.9, "gathering": 0.3}}}],
        "facets": {"platform": {"鑫盛贷": 1}}, "histogram": [["2026-11-20T08:00:00+00:00", 1]]}]}}


class AlertOut(BaseModel):
    key: str
    platform: str
    signal: str
    level: str
    ts: datetime
    agencies: list[str]
    posts: int
    status: str
    rule: str
    explanation: dict[str, Any]


class IncidentOut(BaseModel):
    alert: AlertOut
    basis: str = Field(description="explanation: posts the warning lists; window: posts found in its window")
    posts: list[PostOut]


class SavedIn(BaseModel):
    name: str = Field(examples=["鑫盛贷 挤兑"])
    kind: Literal["posts", "alerts"] = Field("posts", description="posts: a post search (analysts, admins); "
                                             "alerts: a warning search (every role; duty officers: own agency)")
    params: dict[str, Any] = Field(examples=[{"q": "提现 OR 跑路", "platform": ["鑫盛贷"], "signal": "panic"}])


class SavedOut(BaseModel):
    id: int
    name: str
    kind: str
    params: dict[str, Any]
    created: str


def _post(sp: Any) -> PostOut:
    d = sp.to_dict()
    p = d["post"]
    return PostOut(id=p["id"], ts=p["ts"], source=p["source"], author=p["author"], text=p["text"], url=p["url"],
                   platforms=d["platforms"], labels=d["labels"], scores=d["scores"])


def _params(q: str = Query("", description="Chinese full text; \"phrases\", AND, OR, NOT, -word"),
            platform: Annotated[list[str] | None, Query()] = None,
            signal: str = Query("", description="rumour | panic | gathering"),
            min_score: float = Query(0.5, ge=0, le=1, description="with signal: its minimum score"),
            source: Annotated[list[str] | None, Query()] = None,
            district: Annotated[list[str] | None, Query()] = None,
            level: str = Query("", description="warnings: minimum level"),
            since: str = Query("", description="ISO 8601 with offset"), until: str = "",
            sort: Literal["newest", "oldest", "score"] = "newest",
            size: int = Query(20, ge=0, le=500), facets: bool = False,
            histogram: str = Query("", description="interval, e.g. 1h, 1d, 15m"),
            cursor: str = Query("", description="next_cursor of the previous page (search_after)")) -> SearchParams:
    return SearchParams(q=q, platform=platform or [], signal=signal, min_score=min_score, source=source or [],
                        district=district or [], level=level, since=since, until=until, sort=sort, size=size,
                        facets=facets, histogram=histogram, cursor=cursor)


def make_router(settings: Settings, store: SearchBackend | None = None,
                access: AccessStore | Callable[[], AccessStore] | None = None, clock: Clock | None = None) -> APIRouter:
    """The search router. ``store``/``access`` default to the configured store and ``<data_dir>/access.db``;
    ``access`` may be a function opening the token store on first use (the app shares one, see yujing.http)."""
    router = APIRouter(prefix="/search", tags=["search"])
    bearer = HTTPBearer(auto_error=False)
    clk = clock or SystemClock()
    state: dict[str, Any] = {"store": store, "access": access if isinstance(access, AccessStore) else None}
    opener = access if callable(access) else (lambda: open_access(settings))

    def get_store() -> SearchBackend:
        if state["store"] is None:
            state["store"] = open_store(settings.store_url)
        return state["store"]  # type: ignore[no-any-return]

    def get_access() -> AccessStore:
        if state["access"] is None:
            state["access"] = opener()
        return state["access"]  # type: ignore[no-any-return]

    def principal(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
        who = reading(authenticate_token(get_access, creds.credentials if creds else "", ADMIN_CREATES))
        if who.role == "viewer":
            raise HTTPException(403, "a viewer token reads the situation board (/situation, /situation.json) "
                                     "only; searching needs an analyst or duty token")
        return who

    Who = Annotated[Principal, Depends(principal)]
    Params = Annotated[SearchParams, Depends(_params)]

    def bad(exc: YujingError) -> HTTPException:
        return HTTPException(400, str(exc))

    def analyst(who: Principal) -> None:
        if who.role == "duty":
            raise HTTPException(403, "a duty officer's token sees its agency's warnings "
                                     "(/search/alerts, /search/incident); post search needs an analyst token")

    @router.get("/posts", response_model=SearchOut, summary="Search posts")
    def search_posts(who: Who, params: Params) -> SearchOut:
        analyst(who)
        try:
            result = service.run_search(get_store(), get_access(), who, params, now=clk.now())
        except YujingError as exc:
            raise bad(exc) from exc
        return SearchOut(total=result.total, next_cursor=service.next_cursor(result, params.size),
                         hits=[HitOut(post=_post(h.post), highlight=h.highlight) for h in result.hits],
                         facets=result.facets, histogram=list(result.histogram))

    @router.get("/alerts", response_model=list[AlertOut], summary="Search warnings (duty officers: own agency)")
    def search_alerts(who: Who, params: Params) -> list[AlertOut]:
        try:
            alerts = service.run_alert_search(get_store(), get_access(), who, params, now=clk.now())
        except YujingError as exc:
            raise bad(exc) from exc
        return [AlertOut(**a.to_dict()) for a in alerts]

    @router.get("/incident/{key}", response_model=IncidentOut, summary="A warning with its supporting posts")
    def incident_view(who: Who, key: str) -> IncidentOut:
        found = service.run_incident(get_store(), get_access(), who, key, now=clk.now())
        if found is None:
            raise HTTPException(404, f"no warning {key!r} visible to you")
        return IncidentOut(alert=AlertOut(**found.alert.to_dict()), basis=found.basis,
                           posts=[_post(p) for p in found.posts])

    @router.get("/export", summary="Export every hit as CSV or JSON Lines (streamed, all pages)",
                responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}})
    def export(who: Who, params: Params, format: Literal["csv", "jsonl"] = "jsonl") -> StreamingResponse:
        analyst(who)
        try:  # validates the query and audits the start before any byte of the 200 is sent
            lines: Iterator[str] = service.export_lines(get_store(), get_access(), who, params, format, now=clk.now())
        except YujingError as exc:
            raise bad(exc) from exc
        media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
        return StreamingResponse(lines, media_type=media,
                                 headers={"Content-Disposition": f'attachment; filename="yujing-export.{format}"'})

    @router.get("/saved", response_model=list[SavedOut], summary="Your saved searches (those your role may run)")
    def list_saved(who: Who) -> list[SavedOut]:
        return [SavedOut(**s) for s in get_access().saved_searches(who.user, who.saved_kinds)]

    @router.post("/saved", response_model=SavedOut, status_code=201, summary="Save a search")
    def create_saved(who: Who, body: SavedIn) -> SavedOut:
        if body.kind not in who.saved_kinds:
            raise HTTPException(403, f"a {who.role} token saves {' or '.join(who.saved_kinds)} searches, "
                                     f"not {body.kind}")
        try:
            params = SearchParams(**body.params)
            if body.kind == "posts":
                params.to_query()
            else:
                service.alert_query(who, params)
        except (TypeError, YujingError) as exc:
            raise HTTPException(400, f"params: {exc}") from exc
        try:
            sid = get_access().save_search(who.user, body.name, body.params, clk.now(), kind=body.kind,
                                           kinds=who.saved_kinds)
        except YujingError as exc:
            raise HTTPException(409, str(exc)) from exc
        saved = get_access().saved_search(who.user, sid)
        assert saved is not None
        return SavedOut(**saved)

    @router.get("/saved/{sid}/run", response_model=SearchOut | list[AlertOut],
                summary="Run a saved search (posts: a SearchOut; alerts: the warnings)")
    def run_saved(who: Who, sid: int, request: Request) -> SearchOut | list[AlertOut]:
        saved = get_access().saved_search(who.user, sid)
        if saved is None:
            raise HTTPException(404, f"no saved search {sid} of yours")
        if saved["kind"] not in who.saved_kinds:
            raise HTTPException(403, f"saved search {sid} is a {saved['kind']} search, which a {who.role} "
                                     "token may not run")
        extra: dict[str, Any] = {}
        if "cursor" in request.query_params:
            extra["cursor"] = request.query_params["cursor"]
        if "size" in request.query_params:
            try:
                extra["size"] = int(request.query_params["size"])
            except ValueError:
                raise HTTPException(400, f"size {request.query_params['size']!r}: expected a whole number of hits, "
                                         "e.g. size=20") from None
        params = SearchParams(**{**saved["params"], **extra})
        try:
            if saved["kind"] == "alerts":
                alerts = service.run_alert_search(get_store(), get_access(), who, params, now=clk.now(), saved=sid)
                return [AlertOut(**a.to_dict()) for a in alerts]
            analyst(who)
            result = service.run_search(get_store(), get_access(), who, params, now=clk.now(), saved=sid)
        except (TypeError, YujingError) as exc:
            raise HTTPException(400, str(exc)) from exc
        return SearchOut(total=result.total, next_cursor=service.next_cursor(result, params.size),
                         hits=[HitOut(post=_post(h.post), highlight=h.highlight) for h in result.hits],
                         facets=result.facets, histogram=list(result.histogram))

    @router.delete("/saved/{sid}", status_code=204, summary="Delete a saved search")
    def delete_saved(who: Who, sid: int) -> None:
        if not get_access().delete_saved(who.user, sid, who.saved_kinds):
            raise HTTPException(404, f"no saved search {sid} of yours")

    return router


def access_path(settings: Settings) -> Path:
    return settings.data_dir / "access.db"


def open_access(settings: Settings) -> AccessStore:
    """``<data_dir>/access.db`` with its audit chain keyed by the pseudonym key."""
    return AccessStore(access_path(settings), key=audit_key(settings.key))


# ---- the same tokens for other routers (the situation board) ------------------------------------
TOKEN_COOKIE = "yujing_token"


def shared_access(settings: Settings) -> Callable[[], AccessStore]:
    """``<data_dir>/access.db``, opened on first use and kept."""
    opened: list[AccessStore] = []

    def get() -> AccessStore:
        if not opened:
            opened.append(open_access(settings))
        return opened[0]

    return get


def authenticate_token(access: Callable[[], AccessStore], secret: str, how: str) -> Principal:
    """The token's ``Principal``; 401 when it is missing or unknown, ``how`` saying how to get or send one."""
    who = access().authenticate(secret) if secret else None
    if who is None:
        raise HTTPException(401, f"missing or unknown token; send Authorization: Bearer <token> {how}",
                            headers={"WWW-Authenticate": "Bearer"})
    return who


def reading(who: Principal) -> Principal:
    """``who``, if its role may read anything (403 for an intake token)."""
    if not who.reads:
        raise HTTPException(403, _INTAKE_ONLY)
    return who


ADMIN_CREATES = "(an admin creates one with `yujing token create`)"


def token_reader(access: Callable[[], AccessStore], query_token: bool = False) -> Callable[..., Principal]:
    """A FastAPI dependency: the caller's ``Principal`` from ``Authorization: Bearer <token>`` (what
    Grafana's Infinity data source sends), else the ``yujing_token`` cookie, else (``query_token``,
    HTML pages only) ``?token=``; 401 without a valid one. Every role may read."""
    bearer = HTTPBearer(auto_error=False)

    def read(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
        secret = creds.credentials if creds else request.cookies.get(TOKEN_COOKIE, "")
        if not secret and query_token:
            secret = request.query_params.get("token", "")
        return reading(authenticate_token(access, secret, "(Grafana: the data source's header), or open "
                                     "/situation?token=<token> once in a browser (a viewer token is enough: "
                                     "`yujing token create --role viewer`)"))

    return read


_INTAKE_ONLY = "an intake token submits complaint forms (POST /intake/...) only; reading needs another role"


def intake_writer(access: Callable[[], AccessStore]) -> Callable[..., Principal]:
    """A FastAPI dependency for the intake endpoints: an ``intake`` or ``admin`` token, else 401/403."""
    bearer = HTTPBearer(auto_error=False)

    def write(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
        who = authenticate_token(access, creds.credentials if creds else "", "(an admin creates one for a hotline "
                            "export job with `yujing token create --role intake`)")
        if who.role not in ("intake", "admin"):
            raise HTTPException(403, f"submitting complaint forms needs an intake or admin token, not {who.role!r}")
        return who

    return write
