"""Networks. `build_gan` turns a model config into (G, D)."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .dcgan import DCGANDiscriminator, DCGANGenerator
from .mlp import MLPDiscriminator, MLPGenerator
from .musegan import JammingCritic, MuseGANGenerator, RollCritic
from .patchgan import PatchDiscriminator
from .rrdb import RRDBNet
from .srresnet import SRDiscriminator, SRResNet
from .unet import UNetGenerator


def build_gan(model: Any) -> tuple[nn.Module, nn.Module]:
    """(G, D) for a model config (DCGAN, MLP, MuseGAN, Pix2Pix, SRResNet, RRDB) (or the equivalent dict from a model card)."""
    m = model if isinstance(model, dict) else model.model_dump()
    if m["arch"] == "dcgan":
        codes = m.get("n_codes", 0)  # cards from before InfoGAN codes have no such key
        g = DCGANGenerator(m["nz"], m["img_size"], m["channels"], m["ngf"], m["n_classes"], m["embed_dim"], codes)
        d = DCGANDiscriminator(m["img_size"], m["channels"], m["ndf"], m["n_classes"], m["d_norm"], codes)
    elif m["arch"] == "mlp":
        g = MLPGenerator(m["nz"], m["data_dim"], m["g_depth"], m["g_width"], m["activation"])
        d = MLPDiscriminator(m["data_dim"], m["d_depth"], m["d_width"], m["activation"], m.get("pack", 1))
    elif m["arch"] == "musegan":
        from ..data.music import N_PITCHES, TRACKS, WINDOW
        g = MuseGANGenerator(m["design"], m["z_dim"], len(TRACKS), WINDOW // 16, N_PITCHES, m["g_width"])
        critic = JammingCritic if m["design"] == "jamming" else RollCritic
        d = critic(len(TRACKS), WINDOW, N_PITCHES, m["d_width"] // 2 if m["design"] == "jamming" else m["d_width"])
    elif m["arch"] == "pix2pix":
        depth = m.get("depth") or m["img_size"].bit_length() - 1
        g = UNetGenerator(m["in_channels"], m["channels"], depth, m["ngf"], m["dropout"])
        d = PatchDiscriminator(m["in_channels"] + m["channels"], m["ndf"], m["n_layers"])
    elif m["arch"] == "srresnet":
        g = SRResNet(m["scale"], m["width"], m["n_blocks"], m["channels"], m["bn"], m["residual"], m["outer_kernel"])
        d = SRDiscriminator(m["channels"], m["ndf"])
    elif m["arch"] == "rrdb":
        g = RRDBNet(m["scale"], m["channels"], m["channels"], m["num_feat"], m["num_block"], m["num_grow_ch"])
        d = SRDiscriminator(m["channels"], m["ndf"])
    else:
        raise ValueError(f"unknown architecture {m['arch']!r}; known: dcgan, mlp, musegan, pix2pix, srresnet, rrdb")
    return g, d


def sample_noise(n: int, nz: int, distribution: str = "normal", device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> Tensor:
    """z ~ N(0, I) or z ~ U[-1, 1]^nz."""
    if distribution == "normal":
        return torch.randn(n, nz, device=device, generator=generator)
    if distribution == "uniform":
        return torch.rand(n, nz, device=device, generator=generator) * 2 - 1
    raise ValueError(f"unknown noise distribution {distribution!r}; choose normal or uniform")
