"""yujing.search — the index of scored posts and warnings, and the analysts' search."""
