"""yujing.dashboards — Grafana dashboards as code, their generated JSON, and the situation page."""
