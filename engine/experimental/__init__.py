"""EXPERIMENTAL options: measured, NOT shipped, off unless a pack (or a training command) sets
them. No shipped pack (resources/packs/*) uses anything here; the shipped path never imports
these modules. Each module states what was measured (docs/DIFFUSION.md has the tables); their
tests are tests/engine/test_experimental.py.

- ``frame_stream``: T's ``layout.frame_color``, ``layout.frame_cells`` and
  ``layout.input_dropout``.
- ``motion_colour``: S reading the colour of what moves (``cond.motion_color_levels``).
- ``onsets``: T's onset head (``layout.onset_head``) and the layout shaping at its picked
  onsets (``layout.onset_mode``), used by the diffusion engine only when a pack's T has one.
- ``onset_stage``: ``v2a train --stage onset`` (trains only that head).

The networks build these parts under the same parameter names as before they moved here, so
a pack that sets an option loads as it did. Layering: the modules the networks import
(``frame_stream``, ``motion_colour``, ``onsets``) import nothing above engine.models;
``onset_stage`` sits beside engine.train (registered there as a stage).
"""
