"""MuseGAN (Dong et al., 2018): multi-track piano rolls from noise, bar by bar.

A sample is (tracks, bars * steps, pitches). Four kinds of latent feed the bar generators:

    z        shared by all tracks, the same for every bar       (inter-track, time-independent)
    z_t      shared by all tracks, one per bar via G_temp(z_t)   (inter-track, time-dependent)
    z_i      track i only, the same for every bar                (intra-track, time-independent)
    z_i,t    track i only, one per bar via G_temp,i(z_i,t)       (intra-track, time-dependent)

The three designs of the paper differ in which they use and how many generators there are:

    composer  one bar generator makes all tracks at once from [z, G_temp(z_t)]; one critic
    jamming   one bar generator per track from [z_i, G_temp,i(z_i,t)]; one critic per track
    hybrid    one bar generator per track from [z, G_temp(z_t), z_i, G_temp,i(z_i,t)]; one critic

The flat noise vector the Trainer draws is cut into these parts (`latent_parts`), so every
sampling tool works unchanged and a page can swap one track's parts to change one voice.
Outputs are tanh in [-1, 1]; real rolls are {-1, 1}; `binarize` turns a sample into notes.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

DESIGNS = ("composer", "jamming", "hybrid")


def latent_parts(design: str, n_tracks: int) -> list[str]:
    """Names of the z_dim-sized parts of the flat noise vector, in order."""
    shared = ["z", "z_t"]
    private = [name for i in range(n_tracks) for name in (f"z_{i}", f"z_{i},t")]
    return {"composer": shared, "jamming": private, "hybrid": shared + private}[design]


def track_parts(design: str, track: int) -> list[str]:
    """The latent parts that belong to one track alone (empty for the composer design)."""
    return [] if design == "composer" else [f"z_{track}", f"z_{track},t"]


class TemporalGenerator(nn.Module):
    """G_temp: one latent (B, z_dim) -> one latent per bar (B, bars, z_dim), by transposed
    convolutions over time (1 -> 2 -> 4 bars), as in the paper."""

    def __init__(self, z_dim: int, n_bars: int = 4, width: int = 256):
        super().__init__()
        if n_bars != 4:
            raise ValueError("the temporal generator makes 4 bars")
        self.net = nn.Sequential(
            nn.ConvTranspose1d(z_dim, width, 2), nn.BatchNorm1d(width), nn.ReLU(True),
            nn.ConvTranspose1d(width, z_dim, 2, stride=2), nn.BatchNorm1d(z_dim), nn.ReLU(True))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.unsqueeze(-1)).transpose(1, 2)


class Expand(nn.Module):
    """A transposed convolution whose kernel equals its stride (`factor`) along one axis of a
    channels-last tensor (N, T, O, C): each position becomes `factor` new ones along `axis`.

    Kernel = stride means no overlap, so it is one Linear map per position followed by a
    reshape: the same maths as ConvTranspose2d, several times faster on a CPU."""

    def __init__(self, c_in: int, c_out: int, factor: int, axis: int):
        super().__init__()
        self.linear, self.factor, self.c_out, self.axis = nn.Linear(c_in, factor * c_out), factor, c_out, axis

    def forward(self, x: Tensor) -> Tensor:
        n, t, o, _ = x.shape
        y = self.linear(x).view(n, t, o, self.factor, self.c_out)
        if self.axis == 1:
            return y.permute(0, 1, 3, 2, 4).reshape(n, t * self.factor, o, self.c_out)
        return y.reshape(n, t, o * self.factor, self.c_out)


class ChannelNorm(nn.BatchNorm1d):
    """BatchNorm2d for channels-last (N, T, O, C): statistics per channel over N, T and O."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).view(x.shape)


class BarGenerator(nn.Module):
    """One bar: code (B, in_dim) -> (B, out_tracks, steps, pitches).

    A dense layer makes 4 time steps x one feature vector per octave; time then grows
    4 -> 8 -> 16 steps, and each octave's 12 pitches come out of one feature vector
    (MuseGAN's (1, 12) transposed convolution with stride 12)."""

    def __init__(self, in_dim: int, out_tracks: int, steps: int = 16, pitches: int = 48, width: int = 128):
        super().__init__()
        if steps != 16 or pitches % 12:
            raise ValueError("a bar is 16 steps and the pitch range whole octaves")
        self.octaves, self.width, self.out_tracks = pitches // 12, width, out_tracks
        w = width
        self.fc = nn.Sequential(nn.Linear(in_dim, 4 * self.octaves * w), nn.BatchNorm1d(4 * self.octaves * w),
                                nn.ReLU(True))
        self.net = nn.Sequential(
            Expand(w, w // 2, 2, axis=1), ChannelNorm(w // 2), nn.ReLU(True),          # 4 -> 8 steps
            Expand(w // 2, w // 4, 2, axis=1), ChannelNorm(w // 4), nn.ReLU(True),     # 8 -> 16 steps
            Expand(w // 4, out_tracks, 12, axis=2), nn.Tanh())                         # octave -> 12 pitches

    def forward(self, code: Tensor) -> Tensor:
        h = self.fc(code).view(len(code), 4, self.octaves, self.width)
        return self.net(h).permute(0, 3, 1, 2)


class MuseGANGenerator(nn.Module):
    """noise (B, nz) -> piano roll (B, tracks, bars * 16, pitches) in [-1, 1]."""

    def __init__(self, design: str = "hybrid", z_dim: int = 32, n_tracks: int = 4, n_bars: int = 4,
                 pitches: int = 48, width: int = 128):
        super().__init__()
        if design not in DESIGNS:
            raise ValueError(f"unknown MuseGAN design {design!r}; choose {', '.join(DESIGNS)}")
        self.design, self.z_dim, self.n_tracks, self.n_bars = design, z_dim, n_tracks, n_bars
        self.parts = latent_parts(design, n_tracks)
        self.nz = z_dim * len(self.parts)
        if design != "jamming":
            self.temporal = TemporalGenerator(z_dim, n_bars)
        if design != "composer":
            self.track_temporal = nn.ModuleList(TemporalGenerator(z_dim, n_bars) for _ in range(n_tracks))
        if design == "composer":
            self.bars = nn.ModuleList([BarGenerator(2 * z_dim, n_tracks, pitches=pitches, width=width * 2)])
        else:
            code = (4 if design == "hybrid" else 2) * z_dim
            self.bars = nn.ModuleList(BarGenerator(code, 1, pitches=pitches, width=width) for _ in range(n_tracks))

    def part(self, z: Tensor, name: str) -> Tensor:
        i = self.parts.index(name)
        return z[:, i * self.z_dim:(i + 1) * self.z_dim]

    def bar_codes(self, z: Tensor) -> list[Tensor]:
        """One code (B, bars, code_dim) per bar generator: its time-independent parts repeated
        over the bars, beside its time-dependent parts through G_temp."""
        def fixed(name):
            return self.part(z, name).unsqueeze(1).expand(-1, self.n_bars, -1)
        shared = []
        if self.design != "jamming":
            shared = [fixed("z"), self.temporal(self.part(z, "z_t"))]
        if self.design == "composer":
            return [torch.cat(shared, -1)]
        return [torch.cat(shared + [fixed(f"z_{i}"), self.track_temporal[i](self.part(z, f"z_{i},t"))], -1)
                for i in range(self.n_tracks)]

    def render(self, codes: list[Tensor]) -> Tensor:
        """Bar codes -> the roll; each bar is generated on its own and the bars laid end to end."""
        b = len(codes[0])
        tracks = []
        for gen, code in zip(self.bars, codes):
            bars = gen(code.reshape(b * self.n_bars, -1))                  # (B*bars, k, 16, P)
            k, steps, pitches = bars.shape[1:]
            tracks.append(bars.view(b, self.n_bars, k, steps, pitches).permute(0, 2, 1, 3, 4)
                          .reshape(b, k, self.n_bars * steps, pitches))
        return torch.cat(tracks, 1)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.render(self.bar_codes(z))


def _patches(x: Tensor, size: int) -> Tensor:
    """(B, T, C) -> (B, T / size, size * C): non-overlapping groups of `size` time steps."""
    b, t, c = x.shape
    return x.reshape(b, t // size, size * c)


class RollCritic(nn.Module):
    """A WGAN critic on (B, tracks, time, pitches), no normalisation (the gradient penalty is per sample).

    Two streams, as MuseGAN's critic: the piano roll (12 pitches -> one feature per octave ->
    one for the whole range) and its chroma (the 12 pitch classes summed over octaves, which
    carries harmony); together they go down in time 64 -> 16 (beats) -> 4 (bars) -> 1.
    Every convolution here has kernel = stride (no overlap), so each is a Linear map on
    patches; written that way the gradient penalty's double backward stays on fast matmuls."""

    def __init__(self, n_tracks: int = 4, steps: int = 64, pitches: int = 48, width: int = 64):
        super().__init__()
        if pitches % 12 or steps % 16:
            raise ValueError("the critic reads whole octaves and whole bars")
        w, self.octaves, self.bars = width, pitches // 12, steps // 16
        act = nn.LeakyReLU(0.2)
        self.octave = nn.Sequential(nn.Linear(12 * n_tracks, w), act)             # conv (1, 12), stride 12
        self.pitch = nn.Sequential(nn.Linear(self.octaves * w, w), act)          # conv (1, octaves)
        self.chroma = nn.Sequential(nn.Linear(12 * n_tracks, w), act)             # conv (1, 12) on the chroma
        self.beat = nn.Sequential(nn.Linear(4 * 2 * w, 2 * w), act)               # conv (4, 1), stride 4
        self.bar = nn.Sequential(nn.Linear(4 * 2 * w, 4 * w), act)                # conv (4, 1), stride 4
        self.phrase = nn.Sequential(nn.Linear(self.bars * 4 * w, 4 * w), act)     # conv (bars, 1)
        self.out = nn.Linear(4 * w, 1)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        b, k, t, p = x.shape
        cells = x.permute(0, 2, 3, 1).reshape(b, t, self.octaves, 12 * k)        # (B, T, octave, 12 * tracks)
        pitch = self.pitch(self.octave(cells).reshape(b, t, -1))
        chroma = self.chroma(x.view(b, k, t, self.octaves, 12).sum(3).permute(0, 2, 3, 1).reshape(b, t, 12 * k))
        h = self.bar(_patches(self.beat(_patches(torch.cat([pitch, chroma], -1), 4)), 4))
        return self.out(self.phrase(h.reshape(b, -1))).squeeze(1)


class JammingCritic(nn.Module):
    """One critic per track, each seeing only its own track; the score is their sum, so the
    loss on the sum trains each critic on its own track and each track's generator against it."""

    def __init__(self, n_tracks: int = 4, steps: int = 64, pitches: int = 48, width: int = 32):
        super().__init__()
        self.critics = nn.ModuleList(RollCritic(1, steps, pitches, width) for _ in range(n_tracks))

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return sum(c(x[:, i:i + 1]) for i, c in enumerate(self.critics))


def binarize(x: Tensor, mode: str = "voice") -> Tensor:
    """A sample in [-1, 1] -> {0, 1} notes.

    voice: each track sings at most one pitch per step, its strongest, if above 0 (the
           chorale voices are monophonic);
    threshold: every cell above 0 sounds (MuseGAN's hard thresholding)."""
    on = x > 0
    if mode == "threshold":
        return on.to(torch.uint8)
    if mode != "voice":
        raise ValueError(f"unknown binarisation {mode!r}; choose voice or threshold")
    top = x.argmax(-1, keepdim=True)
    return torch.zeros_like(on, dtype=torch.uint8).scatter_(-1, top, 1) * on.gather(-1, top)
