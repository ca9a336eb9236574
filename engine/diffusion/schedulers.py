"""Noise schedules and samplers (diffusers schedulers, configured from pack.json).

The generator predicts the clean sample (``prediction_type="sample"``): with epsilon
prediction a small model trained for minutes on a CPU never learned to turn the layout into
coarse structure (docs/DIFFUSION.md); x0 prediction did within ~600 steps.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from engine.diffusers_import import import_diffusers
from engine.packs.config import SCHEDULERS

DEFAULT_SCHEDULE: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_schedule": "squaredcos_cap_v2",
    "prediction_type": "sample",
}

SAMPLERS = SCHEDULERS  # the names --scheduler offers (engine.packs.config)

def training_scheduler(schedule: dict[str, Any] | None = None):
    DDPMScheduler = import_diffusers().DDPMScheduler

    cfg = {**DEFAULT_SCHEDULE, **(schedule or {})}
    return DDPMScheduler(
        num_train_timesteps=int(cfg["num_train_timesteps"]),
        beta_schedule=str(cfg["beta_schedule"]),
        prediction_type=str(cfg["prediction_type"]),
        clip_sample=False,
    )


#: diffusers modules of our samplers that run ``import scipy.stats`` at import time, for
#: beta sigmas only (which these schedulers are never built with): ~0.5 s of a cold
#: ``v2a generate`` on 2 cores.
_SCIPY_AT_IMPORT = {
    "DPMSolverMultistepScheduler": "diffusers.schedulers.scheduling_dpmsolver_multistep",
    "EulerDiscreteScheduler": "diffusers.schedulers.scheduling_euler_discrete",
    "UniPCMultistepScheduler": "diffusers.schedulers.scheduling_unipc_multistep",
}


class _ScipyOnUse:
    """Stands in for ``scipy`` in such a module: ``scipy.stats`` is imported when first used."""

    def __getattr__(self, name: str) -> Any:
        import scipy
        import scipy.stats  # noqa: F401 - binds scipy.stats

        return getattr(scipy, name)


def _scheduler_class(name: str) -> type:
    """The diffusers scheduler class ``name``; the modules in ``_SCIPY_AT_IMPORT`` are imported
    with scipy reported unavailable for that moment and get a ``scipy`` that imports on use.
    A diffusers without the flag we expect, or a module already imported, is left as it is."""
    import importlib
    import sys

    diffusers = import_diffusers()
    import_utils = import_diffusers("diffusers.utils.import_utils")

    module_name = _SCIPY_AT_IMPORT.get(name)
    if module_name is None or module_name in sys.modules or not isinstance(
        getattr(import_utils, "_scipy_available", None), bool
    ):
        return getattr(diffusers, name)
    saved = import_utils._scipy_available
    import_utils._scipy_available = False
    try:
        module = importlib.import_module(module_name)
    finally:
        import_utils._scipy_available = saved
    if saved and not hasattr(module, "scipy"):
        module.scipy = _ScipyOnUse()
    return getattr(module, name)


def sampling_scheduler(name: str = "dpm", schedule: dict[str, Any] | None = None):
    """A fresh sampler: ``dpm`` = DPM-Solver++ 2nd order multistep (TiVA's sampler); the others
    are offered for comparison. Built once per (name, schedule) and copied for each run (a
    sampler keeps state while it samples)."""
    key = (name, tuple(sorted({**DEFAULT_SCHEDULE, **(schedule or {})}.items())))
    return copy.deepcopy(_built(*key))


@lru_cache(maxsize=16)
def _built(name: str, schedule: tuple[tuple[str, Any], ...]):  # noqa: ANN202 - a diffusers scheduler
    cfg = dict(schedule)
    common = dict(
        num_train_timesteps=int(cfg["num_train_timesteps"]),
        beta_schedule=str(cfg["beta_schedule"]),
        prediction_type=str(cfg["prediction_type"]),
    )
    if name in ("dpm", "dpm1"):
        return _scheduler_class("DPMSolverMultistepScheduler")(
            **common, solver_order=2 if name == "dpm" else 1, algorithm_type="dpmsolver++", final_sigmas_type="zero"
        )
    if name == "ddim":
        return _scheduler_class("DDIMScheduler")(**common, clip_sample=False, set_alpha_to_one=True)
    if name == "euler":
        return _scheduler_class("EulerDiscreteScheduler")(**common)
    if name == "unipc":
        return _scheduler_class("UniPCMultistepScheduler")(**common)
    if name == "ddpm":
        return _scheduler_class("DDPMScheduler")(**common, clip_sample=False)
    raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SAMPLERS)}")
