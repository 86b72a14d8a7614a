"""Yujing (预警): early warning of online-finance risk.

Posts and complaints are scored for rumour, withdrawal panic and gathering signals, attributed to
the platforms they name, indexed for search, and aggregated per platform into warnings routed to
the offices responsible.
"""

__version__ = "0.1.0"
