"""The demo: a recorded, team-written stream in which one fictional platform collapses."""
