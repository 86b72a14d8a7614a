"""Notification content and webhook signatures: pure functions, no I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from yujing.records import Alert

SIGNAL_ZH = {"rumour": "谣言", "panic": "挤兑恐慌", "gathering": "聚集"}


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    markdown: str
    html: str
    payload: dict[str, Any]


def render(alert: Alert, contact: str = "") -> Message:
    """The message an officer reads: level colour, platform, signal, rule figures, top posts,
    routing path, announced time/place (gathering) and the acknowledgement link."""
    ex = alert.explanation
    colour = alert.level.chinese
    signal = SIGNAL_ZH.get(alert.signal.value, alert.signal.value)
    subject = f"【{colour}预警】{alert.platform} {signal}"
    lines = [str(ex.get("summary") or subject),
             f"平台：{alert.platform}", f"信号：{signal}", f"级别：{colour}", f"规则：{alert.rule or '—'}",
             f"时间：{alert.ts.isoformat()}", f"相关帖子：{alert.posts}"]
    figures = ex.get("figures")
    if isinstance(figures, dict):
        lines.append("窗口数据：" + "，".join(f"{k}={v}" for k, v in sorted(figures.items())))
    announced = ex.get("announced")
    if isinstance(announced, dict):
        lines.append(f"号召时间：{announced.get('time') or '未明'}；地点：{announced.get('place') or '未明'}")
    routing = ex.get("routing")
    if isinstance(routing, dict):
        lines.append("路由：" + " → ".join(str(p) for p in routing.get("path", [])))
    posts = [p for p in ex.get("top_posts", []) if isinstance(p, dict)][:3]
    for p in posts:  # excerpts and pseudonymous ids only; the store never keeps author names
        who = str(p.get("author") or p.get("pseudonym") or "匿名")
        lines.append(f"· {who}：{str(p.get('excerpt') or p.get('text') or '')[:80]}")
    ack = ex.get("ack_url")
    if ack:
        lines.append(f"确认：{ack}")
    escalation = ex.get("escalation")
    if isinstance(escalation, dict):  # sent to the next contact: the previous one did not acknowledge in time
        lines.insert(1, f"升级通知：{escalation.get('previous') or '上一联系人'}在{escalation.get('after')}内未确认")
    if contact:
        lines.insert(1, f"接收人：{contact}")
    text = "\n".join(lines)
    markdown = f"### {subject}\n\n" + "\n\n".join(lines[1:]) + (f"\n\n[点击确认]({ack})" if ack else "")
    body = "".join(f"<p>{html.escape(ln)}</p>" for ln in lines)
    page = f"<html><body><h3>{html.escape(subject)}</h3>{body}</body></html>"
    return Message(subject, text, markdown, page, {"subject": subject, "text": text, "alert": alert.to_dict()})


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex; sent as ``X-Yujing-Signature: t=<ts>,v1=<hex>``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_webhook(secret: str, header: str, body: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts["t"])
    except (KeyError, ValueError):
        return False
    return hmac.compare_digest(webhook_signature(secret, ts, body), header)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot signature: base64(HMAC-SHA256(key=secret, "timestamp\\nsecret")), url-encoded."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(mac).decode())


def dingtalk_body(msg: Message) -> bytes:
    return json.dumps({"msgtype": "markdown", "markdown": {"title": msg.subject, "text": msg.markdown}},
                      ensure_ascii=False).encode()


def wecom_body(msg: Message) -> bytes:
    return json.dumps({"msgtype": "markdown", "markdown": {"content": msg.markdown}}, ensure_ascii=False).encode()
