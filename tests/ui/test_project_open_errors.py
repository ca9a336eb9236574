"""A malformed .v2aproj opened in the studio is one dialog naming the file and the field."""

from __future__ import annotations

import json


def test_malformed_project_shows_a_dialog_not_a_crash(window, tmp_path, dialogs):
    proj = tmp_path / "odd.v2aproj"
    # Before validation, active_lane "abc" raised a bare ValueError out of open_path.
    proj.write_text(json.dumps({"format": "v2a-studio-project", "version": 1, "clip": "c.mp4",
                                "active_lane": "abc", "lanes": []}))
    assert not window.open_path(str(proj))
    assert dialogs and "odd.v2aproj" in dialogs[-1][1] and "active_lane" in dialogs[-1][1]
    proj.write_text(json.dumps({"format": "v2a-studio-project", "version": 1, "clip": "c.mp4",
                                "lanes": [{"id": "../../x", "name": "a", "layout": "x.npy"}]}))
    assert not window.open_path(str(proj))
    assert "lanes[0].id" in dialogs[-1][1]
    assert not window.doc.has_clip
