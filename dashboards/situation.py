"""The situation page of the embedded deployment: no Elasticsearch, no Grafana server needed.

``GET /situation`` is an HTML page for leaders and duty rooms (auto-refresh, inline SVG, no external
JS or CDN); ``GET /situation.json`` is the same data for programs and for Grafana's Infinity data
source; ``GET /incidents/{key}`` is the HTML incident view. The aggregation (``build_situation``)
is pure and unit-tested; the router only reads the store and renders.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from yujing.records import Alert, Level, ScoredPost, Signal
from yujing.search.access import Principal
from yujing.search.api import TOKEN_COOKIE, token_reader

LEVEL_COLOURS = {Level.BLUE: "#1f60c4", Level.YELLOW: "#e0b400", Level.ORANGE: "#fa6400", Level.RED: "#c4162a"}
LEVEL_NAMES = {Level.BLUE: "蓝", Level.YELLOW: "黄", Level.ORANGE: "橙", Level.RED: "红"}
_RANK = {Level.BLUE: 1, Level.YELLOW: 2, Level.ORANGE: 3, Level.RED: 4}


def _bucket(ts: datetime, start: datetime, step: timedelta) -> int:
    return int((ts - start) / step)


def build_situation(alerts: Sequence[Alert], posts: Sequence[ScoredPost], *, now: datetime,
                    district_of: Callable[[str], str] = lambda _p: "", buckets: int = 24,
                    step: timedelta = timedelta(hours=1), top: int = 10) -> dict[str, Any]:
    """The situation at ``now`` (event time): pure function of warnings and scored posts.

    The window is ``[now - step * buckets, now)``, half-open like the store's since/until, so the
    same events count whether the store or this function does the filtering."""
    start = now - step * buckets
    # in force: per platform and signal, the highest level raised in the window (latest on ties)
    latest: dict[tuple[str, str], Alert] = {}
    for a in sorted(alerts, key=lambda a: (_RANK[a.level], a.ts, a.key)):
        if start <= a.ts < now:
            latest[(a.platform, a.signal.value)] = a
    current = [a for a in latest.values() if a.status.value == "firing"]
    by_level = {lv.value: sum(1 for a in current if a.level == lv) for lv in Level}
    risk: dict[str, int] = defaultdict(int)
    for a in current:
        risk[a.platform] = max(risk[a.platform], _RANK[a.level])
    counts: dict[str, int] = Counter(sp_platform for sp in posts if start <= sp.ts < now
                                     for sp_platform in sp.platforms if sp.labels)
    top_platforms = sorted(set(risk) | set(counts), key=lambda p: (-risk.get(p, 0), -counts.get(p, 0), p))[:top]
    timelines: dict[str, dict[str, list[int]]] = {}
    for sp in posts:
        if not (start <= sp.ts < now) or not sp.labels:
            continue
        i = _bucket(sp.ts, start, step)
        for p in sp.platforms:
            series = timelines.setdefault(p, {s.value: [0] * buckets for s in Signal})
            for s in sp.labels:
                series[s.value][i] += 1
    districts: dict[str, dict[str, int]] = {}
    for a in current:
        d = str(a.explanation.get("district") or district_of(a.platform) or "未知")
        row = districts.setdefault(d, {lv.value: 0 for lv in Level})
        row[a.level.value] += 1
    table = sorted(current, key=lambda a: (-_RANK[a.level], -a.ts.timestamp(), a.key))
    return {
        "now": now.isoformat(), "window": {"start": start.isoformat(), "step_s": int(step.total_seconds()),
                                           "buckets": buckets},
        "by_level": by_level,
        "top_platforms": [{"platform": p, "level": _level_of(risk.get(p, 0)), "posts": counts.get(p, 0)}
                          for p in top_platforms],
        "timelines": [{"platform": p, "signals": timelines[p]} for p in top_platforms if p in timelines],
        # the same counts in long form, one row per bucket and platform (for Grafana's Infinity source)
        "series": [{"ts": (start + step * i).isoformat(), "platform": p,
                    **{sig: counts_[i] for sig, counts_ in timelines[p].items()}}
                   for p in top_platforms if p in timelines for i in range(buckets)],
        "districts": [{"district": d, **row} for d, row in sorted(districts.items())],
        "warnings": [{"key": a.key, "ts": a.ts.isoformat(), "platform": a.platform, "signal": a.signal.value,
                      "level": a.level.value, "posts": a.posts, "agencies": [g.value for g in a.agencies],
                      "district": str(a.explanation.get("district") or district_of(a.platform) or ""),
                      "incident": f"/incidents/{quote(a.key, safe='')}"} for a in table],
    }


def _level_of(rank: int) -> str | None:
    return next((lv.value for lv, r in _RANK.items() if r == rank), None)


# --- rendering ----------------------------------------------------------------------------------

_STYLE = ("body{font-family:sans-serif;margin:1em;background:#111;color:#eee}table{border-collapse:collapse}"
          "td,th{padding:2px 8px;border-bottom:1px solid #333}a{color:#8ab8ff}.lv{padding:2px 6px;"
          "border-radius:3px;color:#fff}.tiles span{display:inline-block;margin:4px;padding:10px 18px;"
          "font-size:1.4em;border-radius:4px;color:#fff}")


def _badge(level: str | None) -> str:
    if level is None:
        return ""
    lv = Level(level)
    return f'<span class="lv" style="background:{LEVEL_COLOURS[lv]}">{LEVEL_NAMES[lv]} {lv.value}</span>'


def sparkline(values: Sequence[int], width: int = 160, height: int = 24, colour: str = "#8ab8ff") -> str:
    """An inline SVG polyline of ``values`` (no JS)."""
    peak = max(values, default=0) or 1
    n = max(len(values) - 1, 1)
    pts = " ".join(f"{i * width / n:.1f},{height - v * (height - 2) / peak - 1:.1f}" for i, v in enumerate(values))
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{pts}"/></svg>')


def _page(title: str, body: str, refresh: int | None = None) -> str:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return (f'<!doctype html><html lang="zh"><head><meta charset="utf-8">{meta}<title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


SIGNAL_COLOURS = {"rumour": "#b877d9", "panic": "#fade2a", "gathering": "#f2495c"}


def render_situation(s: dict[str, Any], refresh: int = 60) -> str:
    tiles = "".join(f'<span style="background:{LEVEL_COLOURS[lv]}">{LEVEL_NAMES[lv]} {s["by_level"][lv.value]}</span>'
                    for lv in reversed(Level))
    top = "".join(f"<tr><td>{escape(r['platform'])}</td><td>{_badge(r['level'])}</td><td>{r['posts']}</td></tr>"
                  for r in s["top_platforms"])
    lines = "".join(
        f"<tr><td>{escape(t['platform'])}</td>"
        + "".join(f"<td title=\"{sig}\">{sparkline(v, colour=SIGNAL_COLOURS.get(sig, '#8ab8ff'))}</td>"
                  for sig, v in t["signals"].items()) + "</tr>" for t in s["timelines"])
    sig_head = "".join(f"<th>{escape(sig)}</th>" for sig in SIGNAL_COLOURS)
    dist = "".join(f"<tr><td>{escape(d['district'])}</td>"
                   + "".join(f"<td>{d[lv.value]}</td>" for lv in reversed(Level)) + "</tr>" for d in s["districts"])
    lv_head = "".join(f"<th>{LEVEL_NAMES[lv]}</th>" for lv in reversed(Level))
    rows = "".join(f"<tr><td>{escape(w['ts'])}</td><td>{_badge(w['level'])}</td><td>{escape(w['platform'])}</td>"
                   f"<td>{escape(w['signal'])}</td><td>{escape(w['district'])}</td><td>{w['posts']}</td>"
                   f"<td><a href=\"{escape(w['incident'])}\">详情 incident</a></td></tr>" for w in s["warnings"])
    limits = s.get("limits") or {}
    note = (f'<p class="warn">窗口内帖子 {limits["posts_in_window"]} 条，仅统计最新 {limits["posts"]} 条 · '
            f"the window holds {limits['posts_in_window']} posts; counts use the newest {limits['posts']} "
            "(narrow the window with ?hours=)</p>" if limits.get("truncated") else "")
    body = (f"<h1>预警态势 Situation</h1><p>as of {escape(s['now'])} · refresh {refresh}s · "
            f'<a href="/situation.json">JSON</a></p>{note}<div class="tiles">{tiles}</div>'
            "<h2>风险最高平台 Top platforms</h2>"
            f"<table><tr><th>platform</th><th>level</th><th>posts</th></tr>{top}</table>"
            f"<h2>信号时间线 Signal timelines</h2><table><tr><th>platform</th>{sig_head}</tr>{lines}</table>"
            f"<h2>地区 Districts</h2><table><tr><th>district</th>{lv_head}</tr>{dist}</table>"
            f"<h2>当前预警 Warnings</h2><table><tr><th>ts</th><th>level</th><th>platform</th><th>signal</th>"
            f"<th>district</th><th>posts</th><th></th></tr>{rows}</table>")
    return _page("预警态势 Situation", body, refresh)


def render_incident(alert: dict[str, Any], posts: Sequence[dict[str, Any]], basis: str) -> str:
    ex = alert.get("explanation") or {}
    figures = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in ex.items()
                      if k not in ("posts", "top_posts", "routing", "acks"))
    routing = "".join(f"<li>{escape(str(r))}</li>" for r in (ex.get("routing") or alert.get("agencies") or []))
    acks = "".join(f"<li>{escape(str(a))}</li>" for a in (ex.get("acks") or [])) or "<li>—</li>"
    rows = "".join(f"<tr><td>{escape(str(p['post'].get('ts', '')))}</td>"
                   f"<td>{escape(str(p['post'].get('author', '')))}</td>"
                   f"<td>{escape(str(p['post'].get('text', '')))}</td>"
                   f"<td>{escape(', '.join(p.get('labels', [])))}</td></tr>" for p in posts)
    lv = str(alert.get("level", ""))
    body = (f'<p><a href="/situation">← 态势 situation</a></p><h1>{_badge(lv)} {escape(str(alert["platform"]))} · '
            f"{escape(str(alert['signal']))}</h1><p>{escape(str(alert['ts']))} · "
            f"rule {escape(str(alert.get('rule', '')))}"
            f" · {alert.get('posts', 0)} posts · status {escape(str(alert.get('status', '')))}</p>"
            f"<h2>说明 Explanation</h2><table>{figures}</table><h2>通报路径 Routing</h2><ul>{routing}</ul>"
            f"<h2>确认 Acks</h2><ul>{acks}</ul><h2>依据 Supporting posts ({escape(basis)})</h2>"
            f"<table><tr><th>ts</th><th>author (pseudonym)</th><th>text</th><th>labels</th></tr>{rows}</table>")
    return _page(f"{alert['platform']} {alert['signal']}", body)


# --- adapter ------------------------------------------------------------------------------------


# The store returns at most this many of the window's warnings / posts (newest first). A window
# holding more is reported as truncated in ``limits`` (and on the page) rather than silently cut.
ALERT_CAP = 1000
POST_CAP = 5000


def load_situation(store_url: str, registry_path: Any = None, *, now: datetime | None = None,
                   hours: int = 24, agency: str = "") -> dict[str, Any]:
    """The situation in the window ``[now - hours, now)`` (event time), read with since/until.

    ``now`` defaults to just after the latest event in the store (event time, so a replayed or
    historical store shows its own last day, not an empty wall-clock one). ``agency`` (a duty
    officer's) keeps only the warnings routed to it; post counts stay whole."""
    from yujing.search.filters import AlertQuery, check_window
    from yujing.search.incident import SearchBackend
    from yujing.search.open import open_store
    from yujing.search.store import SearchQuery

    if now is not None:
        check_window(now, None)  # a naive now: a clear 400, not a silently shifted window
    store = open_store(store_url)
    try:
        backend: SearchBackend = store  # type: ignore[assignment]
        end = now if now is not None else _after_latest_event(backend)
        start = end - timedelta(hours=hours)
        alerts = backend.search_alerts(AlertQuery(since=start, until=end, size=ALERT_CAP,
                                                  agencies=(agency,) if agency else ()))
        found = backend.search(SearchQuery(since=start, until=end, size=POST_CAP, sort="newest"))
    finally:
        store.close()
    posts = [h.post for h in found.hits]
    situation = build_situation(alerts, posts, now=end, district_of=_district_lookup(registry_path), buckets=hours)
    situation["limits"] = {"alerts": ALERT_CAP, "posts": POST_CAP, "posts_in_window": found.total,
                           "truncated": found.total > len(posts) or len(alerts) >= ALERT_CAP}
    return situation


def _after_latest_event(backend: Any) -> datetime:
    """1 ms after the newest warning or post (the window is half-open); wall-clock now if empty."""
    from yujing.clock import SystemClock
    from yujing.search.filters import AlertQuery
    from yujing.search.store import SearchQuery

    latest = [a.ts for a in backend.search_alerts(AlertQuery(size=1))]
    latest += [h.post.ts for h in backend.search(SearchQuery(size=1, sort="newest")).hits]
    return max(latest) + timedelta(milliseconds=1) if latest else SystemClock().now()


def _district_lookup(registry_path: Any) -> Callable[[str], str]:
    if registry_path is None:
        return lambda _p: ""
    from yujing.registry import load_registry

    try:
        registry = load_registry(registry_path)
    except Exception:  # a missing registry only loses the district column
        return lambda _p: ""

    def lookup(name: str) -> str:
        p = registry.get(name)
        return p.district if p is not None and p.district else ""

    return lookup


def make_situation_router(store_url: Callable[[], str], registry_path: Callable[[], Any] = lambda: None,
                          refresh: int = 60, *, access: Callable[[], Any]) -> APIRouter:
    """``access`` opens the search API's ``AccessStore``: every route needs one of its tokens
    (``Authorization: Bearer``, or the cookie set by opening ``/situation?token=…`` once). A duty
    officer sees its agency's warnings; incident views are audited like the search API's."""
    router = APIRouter(tags=["situation"])
    reader = Depends(token_reader(access))
    page_reader = Depends(token_reader(access, query_token=True))

    def load(now: datetime | None, hours: int, who: Principal) -> dict[str, Any]:
        from yujing.errors import InputError

        try:
            return load_situation(store_url(), registry_path(), now=now, hours=hours, agency=who.scope)
        except InputError as exc:
            raise HTTPException(400, str(exc)) from exc

    def login(request: Request) -> RedirectResponse | None:
        """``?token=`` on a page: set the cookie and drop the token from the address bar."""
        if "token" not in request.query_params:
            return None
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        target = request.url.path + ("?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in rest) if rest else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(TOKEN_COOKIE, request.query_params["token"], httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        return response

    @router.get("/situation.json")
    def situation_json(who: Principal = reader, now: datetime | None = None,
                       hours: int = Query(24, ge=1, le=24 * 31)) -> dict[str, Any]:
        """The window ``[now - hours, now)``; ``now`` (ISO 8601 with an offset, event time) defaults
        to just after the latest event in the store."""
        return load(now, hours, who)

    @router.get("/situation", response_class=HTMLResponse, response_model=None)
    def situation_html(request: Request, who: Principal = page_reader, now: datetime | None = None,
                       hours: int = Query(24, ge=1, le=24 * 31)) -> str | RedirectResponse:
        return login(request) or render_situation(load(now, hours, who), refresh)

    @router.get("/incidents/{key:path}", response_class=HTMLResponse, response_model=None)
    def incident_html(request: Request, key: str, who: Principal = page_reader) -> str | RedirectResponse:
        from yujing.clock import SystemClock
        from yujing.search.incident import SearchBackend, incident
        from yujing.search.open import open_store
        from yujing.search.service import visible_alert

        redirect = login(request)
        if redirect is not None:
            return redirect
        store = open_store(store_url())
        try:
            backend: SearchBackend = store  # type: ignore[assignment]
            found = incident(backend, key)
        finally:
            store.close()
        if found is not None and not visible_alert(who, found.alert):
            found = None  # a duty officer is not told that another agency's warning exists
        access().audit(who, "incident", {"key": key, "via": "situation"},
                       0 if found is None else len(found.posts), SystemClock().now())
        if found is None:
            raise HTTPException(404, f"no warning with key {key!r}")
        d = found.to_dict()
        return render_incident(d["alert"], d["posts"], d["basis"])

    return router
