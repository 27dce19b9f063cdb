"""Device choice: 'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps'."""
from __future__ import annotations

import os

import torch


class DeviceError(ValueError):
    pass


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple MPS, then the CPU; an explicit device must exist."""
    spec = str(spec).strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(spec)
    except RuntimeError:
        raise DeviceError(f"unknown device {spec!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was asked for but no CUDA GPU is available here; use --device cpu")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise DeviceError(f"{spec}: this machine has {n} CUDA device(s), numbered 0..{n - 1}")
        return torch.device("cuda", dev.index if dev.index is not None else torch.cuda.current_device())
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceError("Apple MPS was asked for but is not available here; use --device cpu")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"unsupported device {spec!r}; use auto, cpu, cuda, cuda:N or mps")
    return dev


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes in bfloat16 natively, so autocast to it is a speed-up rather
    than an emulation: CUDA GPUs from Ampere on, and CPUs with AVX512-BF16 or AMX (on other
    CPUs oneDNN converts to and from float32 and bf16 is slower)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    return False


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def describe_devices() -> list[dict]:
    """What this machine offers, for the UI and `info`."""
    out = [{"device": "cpu", "name": f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"}]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            out.append({"device": f"cuda:{i}", "name": p.name, "memory_gb": round(p.total_memory / 2**30, 1)})
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        out.append({"device": "mps", "name": "Apple GPU (MPS)"})
    return out
