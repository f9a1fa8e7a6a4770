"""Auto-archive rules: old mail moved to the Archive or Trash, or deleted for good, on the server."""
