"""Upload the dashboards to a running Grafana with grafana-client, idempotently.

The folder is created once (by UID) and each dashboard is posted with ``overwrite=True`` under its
fixed UID, so pushing twice leaves one copy of each, at a newer version. Grafana's and the HTTP
library's errors become ``GrafanaError`` here, with what to check next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException, GrafanaServerError, GrafanaUnauthorizedError

from yujing.dashboards.fields import FOLDER_TITLE, FOLDER_UID
from yujing.errors import AdapterError

# grafana-client has no type hints; its API object is handled as ``Any`` past ``connect``.
Api = Any


class GrafanaError(AdapterError):
    """Grafana refused or could not be reached."""


@dataclass(frozen=True, slots=True)
class Pushed:
    uid: str
    title: str
    version: int
    url: str


def connect(url: str, token: str | None = None, timeout_s: float = 10.0) -> Api:
    """A client for ``url`` (``http://user:pass@host:3000`` or a token via ``token``)."""
    return GrafanaApi.from_url(url, credential=token, timeout=timeout_s)


def _translate(exc: Exception, doing: str) -> GrafanaError:
    if isinstance(exc, GrafanaUnauthorizedError):
        return GrafanaError(f"{doing}: unauthorized; pass --token (a service account token with Editor role)",
                            retryable=False)  # fmt: skip
    if isinstance(exc, GrafanaServerError | OSError) or (isinstance(exc, GrafanaException) and exc.status_code == 0):
        return GrafanaError(f"{doing}: {exc}; is Grafana up at the --url given?", retryable=True)
    return GrafanaError(f"{doing}: {exc}", retryable=False)


def ensure_folder(api: Api, uid: str = FOLDER_UID, title: str = FOLDER_TITLE) -> None:
    """Create the folder unless it exists (looked up by UID, so renaming it in Grafana is harmless)."""
    try:
        api.folder.get_folder(uid)
        return
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise _translate(exc, f"looking up folder {uid}") from exc
    except (GrafanaException, OSError) as exc:
        raise _translate(exc, f"looking up folder {uid}") from exc
    try:
        api.folder.create_folder(title, uid=uid)
    except (GrafanaException, OSError) as exc:
        raise _translate(exc, f"creating folder {uid}") from exc


def payload(board: Mapping[str, Any], folder_uid: str, message: str) -> dict[str, Any]:
    """The body of ``POST /api/dashboards/db``: overwrite by UID, never by numeric id."""
    dashboard = {k: v for k, v in board.items() if k not in ("id", "version")}
    return {"dashboard": dashboard, "folderUid": folder_uid, "overwrite": True, "message": message}


def push(api: Api, boards: Mapping[str, Mapping[str, Any]], folder_uid: str = FOLDER_UID,
         message: str = "yujing grafana push") -> list[Pushed]:  # fmt: skip
    """Create the folder if needed and upload every dashboard; returns what Grafana stored."""
    ensure_folder(api, folder_uid)
    out = []
    for board in boards.values():
        try:
            reply = api.dashboard.update_dashboard(payload(board, folder_uid, message))
        except (GrafanaException, OSError) as exc:
            raise _translate(exc, f"uploading dashboard {board.get('uid')}") from exc
        out.append(
            Pushed(
                str(reply.get("uid")), str(board.get("title")), int(reply.get("version", 0)), str(reply.get("url", ""))
            )
        )
    return out
