"""Document state without Qt: layouts, lanes, takes, timeline, undo commands."""
