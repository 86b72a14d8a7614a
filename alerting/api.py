"""HTTP API for warnings: history, acknowledgements (POST and signed one-click link), outcomes, silences.

Mounted by :func:`yujing.http.create_app` under ``/api``. Adapter only: storage is
:class:`yujing.alerting.store.AlertStore`, matcher and expiry checks are :mod:`yujing.alerting.silences`,
link signatures are :mod:`yujing.alerting.acklink`. Incident ids contain ``/`` (``platform/signal/episode/level``);
clients URL-encode them or pass them as they are: the routes accept both.

Authentication: the search package's bearer tokens and roles (:mod:`yujing.search.access`,
``yujing token create``). ``analyst``: reads every warning and silence; ``duty`` (an agency's duty
officer): reads, acknowledges and records outcomes of the warnings routed to its agency only (another
agency's incident answers 404, as if unknown); ``admin``: everything, and creates/expires silences
(a silence mutes a warning for every agency). Acks, outcomes and silence changes are recorded under
the token's user and written to the audit chain. Missing/unknown token: 401; role not allowed: 403.

Acknowledgement link: ``GET /alerts/ack?ref=INCIDENT&sig=HMAC`` needs no token: it acknowledges exactly
the signed incident (403 on a wrong or missing signature). A GET that changes state can be triggered by
mail scanners that prefetch links; an acknowledgement only stops escalation to the next contact, so this
is accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from yujing.alerting import acklink
from yujing.alerting.silences import Silence, parse_matchers, validate
from yujing.alerting.store import AlertStore, HistoryRow, new_silence_id
from yujing.errors import InputError
from yujing.search.access import AccessStore, Principal
from yujing.search.api import ADMIN_CREATES, authenticate_token, reading


class AckOut(BaseModel):
    by: str
    ts: str
    note: str = ""


class OutcomeOut(BaseModel):
    by: str
    ts: str
    outcome: str


class WarningOut(BaseModel):
    """One notification as stored: the alert (with its explanation), what became of it, acks and outcomes."""

    incident: str
    outcome: str = Field(description="notified, silenced, inhibited or superseded")
    alert: dict[str, Any] = Field(description="the Alert record: key, platform, signal, level, ts, agencies, "
                                              "posts, status, rule, explanation")
    acks: list[AckOut]
    outcomes: list[OutcomeOut]


class AckIn(BaseModel):
    by: str = Field("", description="ignored if empty; the acknowledgement is recorded under the token's user, "
                                    "with a different name given here kept in the note")
    note: str = ""


class AckResult(BaseModel):
    incident: str
    by: str
    ts: str
    acks: list[AckOut]


class OutcomeIn(BaseModel):
    by: str = Field("", description="as for acknowledgements: recorded under the token's user")
    outcome: str = Field(min_length=1, description='what came of it, e.g. "platform visited, no gathering"')


class SilenceIn(BaseModel):
    matchers: dict[str, list[str]] = Field(
        description="label → values, labels: platform, signal, level, platform_kind, district",
        examples=[{"platform": ["鑫盛贷"], "signal": ["rumour"]}])
    creator: str = Field(min_length=1, description="who silences (required)")
    comment: str = ""
    starts: datetime | None = Field(None, description="default: now")
    ends: datetime | None = Field(None, description="expiry; give ends or hours")
    hours: float | None = Field(None, gt=0, description="expiry as hours from starts; give ends or hours")


class SilenceOut(BaseModel):
    id: str
    matchers: dict[str, list[str]]
    creator: str
    comment: str
    starts: str
    ends: str
    expired_by: str
    active: bool


class ExpireIn(BaseModel):
    by: str = Field("", description="recorded under the token's user")


def _invalid(field: str, msg: str, kind: str = "value_error") -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the field."""
    return HTTPException(422, detail=[{"loc": ["body", field], "msg": msg, "type": kind}])


def _warning(row: HistoryRow) -> WarningOut:
    d = row.to_dict()
    return WarningOut(incident=d["incident"], outcome=d["outcome"], alert=d["alert"],
                      acks=[AckOut(**a) for a in d["acks"]], outcomes=[OutcomeOut(**o) for o in d["outcomes"]])


def _silence(s: Silence, now: datetime) -> SilenceOut:
    return SilenceOut(**s.to_dict(), active=s.active(now))


def _incident_of(ref: str) -> str:
    """An incident id, or a notification key (``incident/reason``) reduced to its incident."""
    return "/".join(ref.strip("/").split("/")[:4])


def make_router(store: AlertStore, ack_secret: bytes, access: AccessStore | Callable[[], AccessStore],
                now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> APIRouter:
    """The warnings router; ``ack_secret`` signs one-click links (see :mod:`yujing.alerting.acklink`);
    ``access``: the token store (or a function opening it on first use), shared with the search API."""
    if not ack_secret:
        raise ValueError("make_router needs a non-empty ack_secret (the pseudonym key)")
    router = APIRouter(tags=["alerts"])
    bearer = HTTPBearer(auto_error=False)
    opened: list[AccessStore] = [access] if isinstance(access, AccessStore) else []

    def get_access() -> AccessStore:
        if not opened:
            assert callable(access)
            opened.append(access())
        return opened[0]

    bearer_token = Depends(bearer)

    def principal(creds: HTTPAuthorizationCredentials | None = bearer_token) -> Principal:
        return reading(authenticate_token(get_access, creds.credentials if creds else "", ADMIN_CREATES))

    authenticated = Depends(principal)  # (a default value: this module's postponed annotations cannot see locals)

    def acting(who: Principal) -> None:
        if who.role not in ("duty", "admin"):
            raise HTTPException(403, "an analyst token reads warnings; acknowledging or recording an outcome "
                                     "needs a duty officer's or an admin token")

    def admin(who: Principal) -> None:
        if who.role != "admin":
            raise HTTPException(403, "a silence mutes a warning for every agency: creating or expiring one "
                                     "needs an admin token (`yujing silence` on the server works too)")

    def visible(who: Principal, incident: str) -> str:
        """The incident id, if it exists and ``who`` may see it; 404 otherwise (not told it exists)."""
        incident = _incident_of(incident)
        if not store.history(incident=incident, agency=who.scope, limit=1):
            raise HTTPException(404, detail=f"unknown incident {incident!r}; list them with GET /api/alerts")
        return incident

    def audit(who: Principal, action: str, query: dict[str, Any], results: int, ts: datetime) -> None:
        get_access().audit(who, action, query, results, ts)

    def _ack(incident: str, by: str, note: str) -> AckResult:
        ts = now()
        store.acknowledge(incident, by, ts, note)
        rows = store.history(incident=incident, limit=1)
        return AckResult(incident=incident, by=by, ts=ts.isoformat(), acks=_warning(rows[0]).acks)

    def _note(who: Principal, by: str, note: str) -> str:
        return note if not by or by == who.user else f"{note} (报告人: {by})".strip()

    @router.get("/alerts", response_model=list[WarningOut], summary="Warnings history, newest first")
    def list_alerts(who: Principal = authenticated, platform: str = "", signal: str = "", level: str = "",
                    text: str = Query("", description="substring of the Chinese summary or explanation"),
                    outcome: str = "", since: datetime | None = None, until: datetime | None = None,
                    limit: int = Query(100, ge=1, le=1000)) -> list[WarningOut]:
        for name, value in (("since", since), ("until", until)):
            if value is not None and value.tzinfo is None:
                raise HTTPException(422, detail=[{"loc": ["query", name], "msg": "needs a UTC offset",
                                                  "type": "value_error"}])
        rows = store.history(platform=platform, signal=signal, level=level, text=text, outcome=outcome,
                             since=since, until=until, agency=who.scope, limit=limit)
        audit(who, "alerts", {"platform": platform, "signal": signal, "level": level, "text": text,
                              "outcome": outcome, "since": since, "until": until}, len(rows), now())
        return [_warning(r) for r in rows]

    @router.get("/alerts/ack", response_model=AckResult, summary="One-click acknowledgement from a message link "
                "(no token: the signature is the credential)",
                responses={403: {"description": "signature does not match this ref"}})
    def ack_link(ref: str = Query(min_length=1), sig: str = Query(min_length=1),
                 by: str = Query("一键确认链接", min_length=1, description="self-declared; not signed")) -> AckResult:
        if not acklink.verify(ack_secret, ref, sig):
            raise HTTPException(403, detail="bad signature for this ref: use the link exactly as sent")
        incident = _incident_of(ref)
        if not store.known_incident(incident):
            raise HTTPException(404, detail=f"unknown incident {incident!r}")
        result = _ack(incident, by, "via link")
        audit(Principal(by, "link"), "alerts-ack", {"incident": incident, "via": "signed link"}, 1, now())
        return result

    @router.post("/alerts/{incident:path}/ack", response_model=AckResult, summary="Acknowledge an incident",
                 responses={403: {"description": "analyst token"}, 404: {"description": "unknown incident"}})
    def ack(incident: str, body: AckIn, who: Principal = authenticated) -> AckResult:
        acting(who)
        incident = visible(who, incident)
        result = _ack(incident, who.user, _note(who, body.by, body.note))
        audit(who, "alerts-ack", {"incident": incident}, 1, now())
        return result

    @router.post("/alerts/{incident:path}/outcome", response_model=WarningOut,
                 summary="Record what came of an incident",
                 responses={403: {"description": "analyst token"}, 404: {"description": "unknown incident"}})
    def outcome(incident: str, body: OutcomeIn, who: Principal = authenticated) -> WarningOut:
        acting(who)
        incident = visible(who, incident)
        store.set_outcome(incident, who.user, now(), body.outcome if not body.by or body.by == who.user
                          else f"{body.outcome} (报告人: {body.by})")
        audit(who, "alerts-outcome", {"incident": incident}, 1, now())
        return _warning(store.history(incident=incident, limit=1)[0])

    @router.get("/alerts/{incident:path}", response_model=list[WarningOut],
                summary="Every notification of one incident", responses={404: {"description": "unknown incident"}})
    def get_incident(incident: str, who: Principal = authenticated) -> list[WarningOut]:
        rows = store.history(incident=_incident_of(incident), agency=who.scope, limit=1000)
        audit(who, "alerts-incident", {"incident": _incident_of(incident)}, len(rows), now())
        if not rows:
            raise HTTPException(404, detail=f"unknown incident {incident!r}")
        return [_warning(r) for r in rows]

    @router.get("/silences", response_model=list[SilenceOut], tags=["silences"], summary="Silences")
    def list_silences(who: Principal = authenticated, active: bool | None = Query(
            None, description="only active (true) or inactive (false)")) -> list[SilenceOut]:
        t = now()
        out = [_silence(s, t) for s in store.silences()]
        return [s for s in out if active is None or s.active == active]

    @router.post("/silences", response_model=SilenceOut, status_code=201, tags=["silences"],
                 summary="Create a silence (admin; creator and expiry required)",
                 responses={403: {"description": "not an admin token"}})
    def create_silence(body: SilenceIn, who: Principal = authenticated) -> SilenceOut:
        admin(who)
        t = now()
        try:
            matchers = parse_matchers(f"{k}={','.join(v)}" for k, v in body.matchers.items())
        except InputError as exc:
            raise _invalid("matchers", exc.detail or str(exc)) from exc
        starts = body.starts or t
        if body.ends is None and body.hours is None:
            raise _invalid("ends", "give the expiry: ends (timestamp with offset) or hours", "missing")
        ends = body.ends if body.ends is not None else starts + timedelta(hours=body.hours or 0)
        try:
            validate(body.creator, starts, ends)
        except InputError as exc:
            field = {"no_creator": "creator", "naive_time": "ends" if ends.tzinfo is None else "starts"}.get(
                exc.reason, "ends")
            raise _invalid(field, exc.detail or str(exc)) from exc
        silence = Silence(new_silence_id(), matchers, body.creator, body.comment, starts, ends)
        store.add_silence(silence)
        audit(who, "silence-add", {"id": silence.id, "matchers": body.matchers, "ends": ends}, 1, t)
        return _silence(silence, t)

    @router.post("/silences/{silence_id}/expire", response_model=SilenceOut, tags=["silences"],
                 summary="Expire a silence now (admin)",
                 responses={403: {"description": "not an admin token"}, 404: {"description": "unknown silence"}})
    def expire_silence(silence_id: str, body: ExpireIn, who: Principal = authenticated) -> SilenceOut:
        admin(who)
        t = now()
        if not store.expire_silence(silence_id, who.user, t):
            raise HTTPException(404, detail=f"unknown silence {silence_id!r}; list them with GET /api/silences")
        audit(who, "silence-expire", {"id": silence_id}, 1, t)
        return next(_silence(s, t) for s in store.silences() if s.id == silence_id)

    return router
