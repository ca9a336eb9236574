"""Noise schedules and samplers (diffusers schedulers, configured from pack.json).

The generator predicts the clean sample (``prediction_type="sample"``): with epsilon
prediction a small model trained for minutes on a CPU never learned to turn the layout into
coarse structure (docs/DIFFUSION.md); x0 prediction did within ~600 steps.
"""

from __future__ import annotations

from typing import Any

DEFAULT_SCHEDULE: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_schedule": "squaredcos_cap_v2",
    "prediction_type": "sample",
}

SAMPLERS = ("dpm", "dpm1", "ddim", "euler", "unipc", "ddpm")

# A pack's "sampling" settings when it names none (new packs are written with these).
DEFAULT_SAMPLING: dict[str, Any] = {
    "steps": 25,
    "guidance": 5.0,
    "text_guidance": 3.0,
    "layout_guidance": 1.0,
    "layout_guidance_steps": 0.5,
    "scheduler": "dpm",
}


def pack_sampling(manifest: dict[str, Any]) -> dict[str, Any]:
    """A pack's sampling settings: its manifest's ``sampling`` block over ``DEFAULT_SAMPLING``."""
    sampling = manifest.get("sampling") or {}
    return {**DEFAULT_SAMPLING, **(sampling if isinstance(sampling, dict) else {})}


def training_scheduler(schedule: dict[str, Any] | None = None):
    from diffusers import DDPMScheduler

    cfg = {**DEFAULT_SCHEDULE, **(schedule or {})}
    return DDPMScheduler(
        num_train_timesteps=int(cfg["num_train_timesteps"]),
        beta_schedule=str(cfg["beta_schedule"]),
        prediction_type=str(cfg["prediction_type"]),
        clip_sample=False,
    )


def sampling_scheduler(name: str = "dpm", schedule: dict[str, Any] | None = None):
    """``dpm`` = DPM-Solver++ 2nd order multistep (TiVA's sampler); others for comparison."""
    import diffusers

    cfg = {**DEFAULT_SCHEDULE, **(schedule or {})}
    common = dict(
        num_train_timesteps=int(cfg["num_train_timesteps"]),
        beta_schedule=str(cfg["beta_schedule"]),
        prediction_type=str(cfg["prediction_type"]),
    )
    if name in ("dpm", "dpm1"):
        return diffusers.DPMSolverMultistepScheduler(
            **common, solver_order=2 if name == "dpm" else 1, algorithm_type="dpmsolver++", final_sigmas_type="zero"
        )
    if name == "ddim":
        return diffusers.DDIMScheduler(**common, clip_sample=False, set_alpha_to_one=True)
    if name == "euler":
        return diffusers.EulerDiscreteScheduler(**common)
    if name == "unipc":
        return diffusers.UniPCMultistepScheduler(**common)
    if name == "ddpm":
        return diffusers.DDPMScheduler(**common, clip_sample=False)
    raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SAMPLERS)}")
