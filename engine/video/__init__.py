"""Video analysis (numpy + OpenCV, torch-free): contact detection and layout fusion."""

from engine.video.contacts import (
    ContactConfig,
    ContactResult,
    contact_times,
    contact_times_job,
    contacts_to_columns,
    fuse_contacts,
)

__all__ = [
    "ContactConfig",
    "ContactResult",
    "contact_times",
    "contact_times_job",
    "contacts_to_columns",
    "fuse_contacts",
]
