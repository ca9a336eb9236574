"""V2A Studio desktop app (PySide6). Importing it never loads torch (DESIGN.md §3)."""
