"""EXPERIMENTAL options: measured, NOT shipped, off unless a pack (or a training command) sets
them. No shipped pack (resources/packs/*) uses anything here; the shipped path never imports
these modules. Each module states what was measured (docs/DIFFUSION.md has the tables); their
tests are tests/engine/test_experimental.py.

- ``onsets``: T's onset head (``layout.onset_head``) and the layout shaping at its picked
  onsets (``layout.onset_mode``); ``engine.diffusion.sharpen`` re-exports it for the engine.
- ``onset_stage``: ``v2a train --stage onset`` (trains only that head).

Layering: modules the networks import (``onsets``) import nothing above engine.models;
``onset_stage`` sits beside engine.train (it is registered there as a stage).
"""
