"""Training recipes: YAML files validated against good defaults.

A recipe is a small override of the defaults below, e.g.

    name: mnist_dcgan
    model: {arch: dcgan, img_size: 28, channels: 1}
    data: {name: mnist5k}
    train: {loss: nonsaturating, steps: 6000}

Unknown keys and bad values are errors that name the key and the allowed values. Reading a
recipe, overriding it and writing it back are gan_core/recipes.py; this module is the schema.
"""
from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from torch import nn

from .data.music import N_PITCHES, TRACKS, WINDOW
from .losses import LOSSES
from .nets.cyclegan import CycleDiscriminators, CycleGenerators, ResnetGenerator
from .nets.dcgan import D_NORMS, DCGANDiscriminator, DCGANGenerator, spatial_plan
from .nets.mlp import ACTIVATIONS, MLPDiscriminator, MLPGenerator
from .nets.musegan import JammingCritic, MuseGANGenerator, RollCritic, latent_parts
from .nets.patchgan import PatchDiscriminator
from .nets.rrdb import RRDBNet
from .nets.srresnet import SRDiscriminator, SRResNet
from .nets.unet import UNetGenerator

Nets = tuple[nn.Module, nn.Module]

LossName = Literal[tuple(LOSSES)]  # type: ignore[valid-type]
Activation = Literal[tuple(ACTIVATIONS)]  # type: ignore[valid-type]


class ConfigError(ValueError):
    """A recipe that cannot be used; the message names every bad key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# Bounds that keep a typo from reaching torch as an overflow or an optimiser's own ValueError. A rate
# up to 1e9 is allowed (the Learn pages provoke divergence with one, and it ends in a message);
# beyond float32's range torch cannot even set it.
LearningRate = Annotated[float, Field(gt=0.0, le=1e9)]
Beta = Annotated[float, Field(ge=0.0, lt=1.0)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1, description="seeds the weights and every draw (0 to 2**32 - 1)")]
# A filesystem location in a recipe. Recipes from a browser or a bundle may only name places the
# server allows (gan_core.recipes.check_paths finds every field of this type).
PathField = Annotated[str | None, Field(json_schema_extra={"path": True})]


class DCGANConfig(_Strict):
    """DCGAN (Radford 2015), optionally class-conditional or with an InfoGAN code (gan_core/nets/dcgan.py)."""
    family: ClassVar[str] = "image"
    arch: Literal["dcgan"] = "dcgan"
    nz: int = Field(100, ge=1, le=4096)
    noise: Literal["normal", "uniform"] = "normal"
    img_size: int = 64
    channels: Literal[1, 3] = 3
    ngf: int = Field(64, ge=1, le=1024)
    ndf: int = Field(64, ge=1, le=1024)
    n_classes: int = Field(0, ge=0, le=10000, description="0: unconditional; K: class-conditional on K labels")
    n_codes: int = Field(0, ge=0, le=1000, description="InfoGAN: a categorical code of K values (read from z) "
                                                       "that G must make recognisable; unconditional models only")
    embed_dim: int = Field(32, ge=1, le=1024)
    d_norm: Literal[D_NORMS] = "batch"  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _code(self):
        if self.n_codes and self.n_classes:
            raise ValueError("model.n_codes (InfoGAN) is for unconditional models: set model.n_classes to 0 "
                             "(and data.clusters to 0: the code and the groups are both a discrete choice for G)")
        if self.n_codes == 1 or self.n_codes > self.nz:
            raise ValueError(f"model.n_codes must be 0, or 2 to nz ({self.nz}): the code is the index of "
                             "the largest of z's first n_codes entries")
        return self

    @field_validator("img_size")
    @classmethod
    def _size(cls, v: int) -> int:
        spatial_plan(v)  # raises with the allowed sizes
        return v

    def build(self) -> Nets:
        return (DCGANGenerator(self.nz, self.img_size, self.channels, self.ngf, self.n_classes, self.embed_dim,
                               self.n_codes),
                DCGANDiscriminator(self.img_size, self.channels, self.ndf, self.n_classes, self.d_norm, self.n_codes))


class MLPConfig(_Strict):
    """MLP generator and discriminator for 1D/2D toy distributions (gan_core/nets/mlp.py)."""
    family: ClassVar[str] = "points"
    arch: Literal["mlp"] = "mlp"
    nz: int = Field(2, ge=1, le=4096)
    noise: Literal["normal", "uniform"] = "normal"
    data_dim: int = Field(2, ge=1, le=4096)
    g_depth: int = Field(2, ge=0, le=16)
    g_width: int = Field(128, ge=1, le=4096)
    d_depth: int = Field(2, ge=0, le=16)
    d_width: int = Field(128, ge=1, le=4096)
    activation: Activation = "relu"
    pack: int = Field(1, ge=1, le=8, description="PacGAN: D judges this many samples at once, concatenated "
                                                 "(1: the plain GAN)")
    n_classes: Literal[0] = 0

    def build(self) -> Nets:
        return (MLPGenerator(self.nz, self.data_dim, self.g_depth, self.g_width, self.activation),
                MLPDiscriminator(self.data_dim, self.d_depth, self.d_width, self.activation, self.pack))


class MuseGANConfig(_Strict):
    """Four-track piano rolls of 4 bars x 16 steps x 48 pitches (gan_core/nets/musegan.py)."""
    family: ClassVar[str] = "music"
    arch: Literal["musegan"] = "musegan"
    design: Literal["composer", "jamming", "hybrid"] = "hybrid"
    z_dim: int = Field(32, ge=1, le=1024, description="size of each latent part (z, z_t, z_i, z_i,t)")
    g_width: int = Field(128, ge=8, le=1024)
    d_width: int = Field(64, ge=4, le=1024)
    noise: Literal["normal"] = "normal"
    n_classes: Literal[0] = 0
    binarize: Literal["voice", "threshold"] = Field("voice", description="how samples become notes")

    @property
    def nz(self) -> int:
        return self.z_dim * len(latent_parts(self.design, 4))

    def build(self) -> Nets:
        G = MuseGANGenerator(self.design, self.z_dim, len(TRACKS), WINDOW // 16, N_PITCHES, self.g_width)
        if self.design == "jamming":  # one critic per track, each half as wide
            return G, JammingCritic(len(TRACKS), WINDOW, N_PITCHES, self.d_width // 2)
        return G, RollCritic(len(TRACKS), WINDOW, N_PITCHES, self.d_width)


class Pix2PixConfig(_Strict):
    """U-Net generator and PatchGAN discriminator (gan_core/nets/unet.py, patchgan.py)."""
    family: ClassVar[str] = "paired"
    arch: Literal["pix2pix"] = "pix2pix"
    img_size: int = Field(256, description="side of the training crops; a multiple of 2**depth")
    depth: int | None = Field(None, ge=5, le=10, description="stride-2 steps of the U-Net; default log2(img_size)")
    in_channels: Literal[1, 3] = Field(1, description="channels of the input drawing")
    channels: Literal[1, 3] = 3
    ngf: int = Field(64, ge=1, le=512)
    ndf: int = Field(64, ge=1, le=512)
    n_layers: int = Field(3, ge=1, le=6, description="PatchGAN depth: 3 judges 70x70 patches")
    dropout: bool = Field(True, description="dropout 0.5 in the inner decoder layers (also at test time for "
                                            "'variations')")
    n_classes: Literal[0] = 0

    @property
    def unet_depth(self) -> int:
        return self.depth or (self.img_size.bit_length() - 1)

    def build(self) -> Nets:
        return (UNetGenerator(self.in_channels, self.channels, self.unet_depth, self.ngf, self.dropout),
                PatchDiscriminator(self.in_channels + self.channels, self.ndf, self.n_layers))

    @model_validator(mode="after")
    def _fits(self):
        if self.img_size % 2 ** self.unet_depth:
            raise ValueError(f"model.img_size {self.img_size} is not a multiple of 2**depth = "
                             f"{2 ** self.unet_depth}; use 32, 64, 128 or 256, or set model.depth")
        return self


class SRConfig(_Strict):
    """SRResNet generator and SRGAN discriminator (gan_core/nets/srresnet.py)."""
    family: ClassVar[str] = "paired"
    super_resolution: ClassVar[bool] = True
    arch: Literal["srresnet"] = "srresnet"
    scale: Literal[2, 4] = 4
    width: int = Field(64, ge=4, le=512, description="feature channels")
    n_blocks: int = Field(16, ge=1, le=64)
    bn: bool = Field(False, description="batch norm in the residual blocks (the paper's; off, as in EDSR)")
    residual: bool = Field(True, description="predict a correction to the bicubic upscale")
    outer_kernel: Literal[3, 5, 9] = 9
    ndf: int = Field(64, ge=4, le=512)
    img_size: int = Field(96, ge=8, le=1024, description="side of the high-resolution training crops")
    channels: Literal[3] = 3
    n_classes: Literal[0] = 0

    @model_validator(mode="after")
    def _fits(self):
        if self.img_size % self.scale:
            raise ValueError(f"model.img_size {self.img_size} must be a multiple of model.scale {self.scale}")
        return self

    def build(self) -> Nets:
        return (SRResNet(self.scale, self.width, self.n_blocks, self.channels, self.bn, self.residual,
                         self.outer_kernel),
                SRDiscriminator(self.channels, self.ndf))


class RRDBConfig(_Strict):
    """ESRGAN's RRDBNet (gan_core/nets/rrdb.py); imported public weights use this."""
    family: ClassVar[str] = "paired"
    super_resolution: ClassVar[bool] = True
    arch: Literal["rrdb"] = "rrdb"
    scale: Literal[1, 2, 4] = 4
    num_feat: int = Field(64, ge=4, le=512)
    num_block: int = Field(23, ge=1, le=64)
    num_grow_ch: int = Field(32, ge=4, le=512)
    ndf: int = Field(64, ge=4, le=512)
    img_size: int = Field(128, ge=8, le=1024)
    channels: Literal[3] = 3
    n_classes: Literal[0] = 0

    def build(self) -> Nets:
        return (RRDBNet(self.scale, self.channels, self.channels, self.num_feat, self.num_block, self.num_grow_ch),
                SRDiscriminator(self.channels, self.ndf))


class CycleGANConfig(_Strict):
    """CycleGAN (Zhu 2017): ResNet generators G_XY, G_YX and PatchGANs D_X, D_Y (gan_core/nets/cyclegan.py)."""
    family: ClassVar[str] = "unpaired"
    arch: Literal["cyclegan"] = "cyclegan"
    img_size: int = Field(256, ge=16, le=1024, description="side of the training crops; a multiple of 4")
    channels_a: Literal[1, 3] = Field(3, description="channels of domain A's pictures")
    channels_b: Literal[1, 3] = Field(3, description="channels of domain B's pictures")
    ngf: int = Field(64, ge=1, le=512)
    ndf: int = Field(64, ge=1, le=512)
    n_blocks: int = Field(9, ge=1, le=16, description="residual blocks: 9 for 256x256 (the paper's), 6 for "
                                                      "128x128, 4-6 narrow ones for 32x32 digits")
    n_layers: int = Field(3, ge=1, le=5, description="PatchGAN depth: 3 judges 70x70 patches, 2 34x34")
    dropout: bool = False
    generators: Literal["both", "a2b"] = Field("both", description="a2b: only G_XY (an imported one-way "
                                               "generator); training needs both")
    n_classes: Literal[0] = 0

    @field_validator("img_size")
    @classmethod
    def _size(cls, v: int) -> int:
        if v % 4:
            raise ValueError(f"{v} is not a multiple of 4 (the generator halves the picture twice)")
        return v

    def build(self) -> Nets:
        ab = ResnetGenerator(self.channels_a, self.channels_b, self.ngf, self.n_blocks, self.dropout)
        ba = ResnetGenerator(self.channels_b, self.channels_a, self.ngf, self.n_blocks, self.dropout) \
            if self.generators == "both" else None
        return (CycleGenerators(ab, ba),
                CycleDiscriminators(PatchDiscriminator(self.channels_a, self.ndf, self.n_layers, "instance"),
                                    PatchDiscriminator(self.channels_b, self.ndf, self.n_layers, "instance")))


# The architectures: one table, read by the recipe schema (below), the nets (build_gan), the trainer,
# the CLI and the pages. Each entry is its model section: its fields, its `family` (what G maps:
# noise to a picture, points or music, or a picture to a picture) and `build()` -> (G, D).
# docs/architecture.md says how to add one.
MODEL_CONFIGS: dict[str, type[BaseModel]] = {
    c.model_fields["arch"].default: c
    for c in (DCGANConfig, MLPConfig, MuseGANConfig, Pix2PixConfig, SRConfig, RRDBConfig, CycleGANConfig)}
ARCHS = tuple(MODEL_CONFIGS)
PAIRED_ARCHS = tuple(a for a, c in MODEL_CONFIGS.items() if c.family == "paired")
SR_ARCHS = tuple(a for a, c in MODEL_CONFIGS.items() if getattr(c, "super_resolution", False))


def _arch(value: Any) -> str:
    return value.get("arch", "dcgan") if isinstance(value, dict) else getattr(value, "arch", "dcgan")


def build_gan(model: BaseModel | dict[str, Any]) -> Nets:
    """(G, D) for a model section, or the same as a dict (a model card's "model")."""
    if isinstance(model, dict):
        arch = model.get("arch", "dcgan")
        if arch not in MODEL_CONFIGS:
            raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}")
        model = MODEL_CONFIGS[arch].model_validate(model)
    return model.build()


ModelConfig = Annotated[Union[tuple(Annotated[c, Tag(a)] for a, c in MODEL_CONFIGS.items())],  # type: ignore[valid-type]
                        Discriminator(_arch, custom_error_type="unknown_arch",
                                      custom_error_message="model.arch must be one of " + ", ".join(ARCHS))]

class DomainSource(_Strict):
    """One side of unpaired data (data.name unpaired): a built-in set or a folder/zip of pictures."""
    name: Literal["mnist5k", "mnist5k_strokes", "uci_digits", "folder"] = Field(
        "folder", description="mnist5k: MNIST-5k digits; mnist5k_strokes: their 1-pixel skeletons (drawn "
                              "strokes); uci_digits: scikit-learn's 1,797 8x8 UCI digits, enlarged; folder: path")
    path: PathField = Field(None, description="folder or .zip of pictures (name: folder), any sizes")
    half: Literal["all", "even", "odd"] = Field("all", description="every other picture of the set (0, 2, 4, ... "
                                                "or 1, 3, 5, ...): two halves never share a picture")

    @model_validator(mode="after")
    def _needs(self):
        if self.name == "folder" and not self.path:
            raise ValueError("a folder domain needs a path (a folder or .zip of pictures)")
        return self


TOY_NAMES = ("ring8", "grid25", "swissroll", "moons", "line", "gauss1d", "mixture1d")


class DataConfig(_Strict):
    name: Literal["mnist5k", "mnist", "fashion_mnist", "cifar10", "folder", "toy", "bach_chorales",
                  "texture", "photos", "paired", "uci_digits", "unpaired"] = "mnist5k"
    root: PathField = Field(None, description="torchvision data root (mnist, fashion_mnist, cifar10)")
    download: bool = False
    path: PathField = Field(None, description="folder or .zip of images (name: folder)")
    toy: Literal[TOY_NAMES] = "ring8"  # type: ignore[valid-type]
    split: Literal["train", "test", "all"] = "train"
    max_images: int = Field(200_000, ge=1)
    texture: Literal["brick", "grass", "gravel"] = Field("brick", description="data.name texture: normal "
                                                                        "patches of this scikit-image texture")
    patches: int = Field(2000, ge=1, le=100_000, description="data.name texture: how many random patches")
    classes: list[int] | None = Field(None, description="keep only images of these labels (e.g. the normal "
                                                        "class of a one-class anomaly detector)")
    exclude_classes: list[int] = Field(default_factory=list, description="leave out images of these labels")
    clusters: int = Field(0, ge=0, le=100, description="self-conditioning: train on K groups of the pictures "
                          "found without labels (k-means of a t-SNE map), sampled at their frequencies; "
                          "needs model.n_classes = K (0: off)")
    # image-to-image (pix2pix, super-resolution)
    edges: Literal["canny", "skeleton"] = Field("canny", description="pix2pix: how drawings are made from the "
                                                "pictures (also from photos uploaded to the sketch page)")
    edge_sigma: float = Field(2.0, gt=0.0, le=10.0, description="Gaussian sigma of the Canny edges")
    direction: Literal["AtoB", "BtoA"] = Field("AtoB", description="data.name paired: which side is the input")
    photo_scales: list[float] = Field(default_factory=lambda: [1.0, 0.5], description="data.name photos: each "
                                      "photo is used at these scales (crops then see more or less of it)")
    photo_set: Literal["colour", "all"] = Field("colour", description="data.name photos: the colour photos, or "
                                                "all: also the greyscale photos and textures")
    flip: bool = Field(True, description="random horizontal flips of training crops (pictures, not digits)")
    rotate: bool = Field(False, description="random quarter turns of training crops (with flip: all eight "
                         "symmetries of the square; for photos and textures, not digits or faces)")
    # unpaired translation (CycleGAN): two collections, any sizes and counts, never matched
    a: DomainSource | None = Field(None, description="data.name unpaired: domain A (X)")
    b: DomainSource | None = Field(None, description="data.name unpaired: domain B (Y)")

    @model_validator(mode="after")
    def _needs(self):
        if self.name == "folder" and not self.path:
            raise ValueError("data.path is required when data.name is 'folder'")
        if self.name in ("mnist", "fashion_mnist", "cifar10") and not self.root:
            raise ValueError(f"data.root is required for data.name '{self.name}' (the torchvision data folder)")
        if self.name == "unpaired" and (self.a is None or self.b is None):
            raise ValueError("data.name 'unpaired' needs both domains, data.a and data.b")
        return self


class InstanceNoise(_Strict):
    """x -> x + N(0, sigma_t^2) for real and fake inputs of D (Sonderby 2016; Arjovsky & Bottou 2017)."""
    sigma: float = Field(0.0, ge=0.0)
    anneal: Literal["none", "linear", "exponential"] = "linear"
    anneal_steps: int | None = Field(None, ge=1, description="default: train.steps")


class TrainConfig(_Strict):
    loss: LossName = "nonsaturating"  # type: ignore[valid-type]
    gp_weight: float = Field(10.0, ge=0.0, description="lambda of the WGAN-GP penalty")
    r1_gamma: float = Field(0.0, ge=0.0, le=1e4, description="gamma of the R1 penalty (gamma/2) E|grad D(x)|^2 on "
                                                           "real data (Mescheder 2018); 0: none")
    clip_value: float | None = Field(None, gt=0.0, description="critic weight clipping c (WGAN)")
    optimizer: Literal["adam", "rmsprop", "sgd"] = "adam"
    lr_g: LearningRate = 2e-4
    lr_d: LearningRate = 2e-4
    betas: tuple[Beta, Beta] = (0.5, 0.999)
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="SGD momentum")
    k_d: int = Field(1, ge=1, le=100, description="discriminator steps per generator step (Algorithm 1)")
    batch_size: int = Field(64, ge=1, le=65536)
    steps: int = Field(1000, ge=1, description="generator steps")
    seed: Seed = 0
    lr_decay: Literal["none", "linear"] = Field("none", description="linear: both learning rates fall to 0 at "
                                                                       "train.steps")
    lr_decay_start: int = Field(0, ge=0, description="linear decay: the rates stay constant until this step "
                                                     "(CycleGAN: half of train.steps)")
    ema_decay: float | None = Field(None, ge=0.0, lt=1.0, description="keep an EMA copy of G for sampling")
    instance_noise: InstanceNoise = InstanceNoise()
    info_weight: float = Field(1.0, ge=0.0, description="lambda of InfoGAN's code loss (models with model.n_codes)")
    diffaugment: tuple[Literal["color", "translation", "cutout"], ...] = Field(
        (), description="DiffAugment (Zhao 2020): D sees only randomly transformed real and fake images, so it "
                        "cannot memorise a small dataset; e.g. [translation, cutout]")
    amp: bool = Field(True, description="bfloat16 autocast where it is native: CUDA (Ampere on) for every "
                                        "model, CPUs with AVX512-BF16/AMX for DCGANs and "
                                        "super-resolution")
    log_every: int = Field(10, ge=1)
    sample_every: int = Field(250, ge=1)
    checkpoint_every: int = Field(500, ge=1)
    eval_every: int | None = Field(None, ge=1, description="every N steps: FD, KID, precision/recall of 1,000 "
                                                          "samples on the digit classifier (greyscale models)")
    n_samples: int = Field(64, ge=1, le=1024, description="images in each sample grid")
    # image-to-image: G's loss is adv_weight * g_loss + pixel_weight * pixel + perceptual_weight * perceptual
    pixel_loss: Literal["l1", "mse"] = Field("l1", description="pix2pix: l1; super-resolution: mse")
    pixel_weight: float = Field(100.0, ge=0.0, description="lambda of pix2pix (100), alpha of SRGAN (1)")
    perceptual_weight: float = Field(0.0, ge=0.0, description="beta: distance of VGG19 features (SRGAN)")
    perceptual_layer: Literal["relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4"] = "relu2_2"
    adv_weight: float = Field(1.0, ge=0.0, description="gamma: 1 for pix2pix, 1e-3 for SRGAN; 0 trains G alone "
                                                       "(SRResNet pretraining) and no D at all")
    init_g: PathField = Field(None, description="start G from this checkpoint's G (SRGAN from SRResNet)")
    # CycleGAN: G's loss adds cycle_weight * (cycle A + cycle B) + identity_weight * cycle_weight * (identity A + B)
    cycle_weight: float = Field(10.0, ge=0.0, description="lambda_cyc of CycleGAN: |G_YX(G_XY(x)) - x|_1 "
                                                          "+ |G_XY(G_YX(y)) - y|_1 (0: no cycle)")
    cycle_weight_b: float | None = Field(None, ge=0.0, description="CycleGAN: lambda of the B -> A -> B cycle "
                                         "alone (the official lambda_B; default cycle_weight). Lower it when B holds "
                                         "more than A can carry (digits -> strokes loses the pen's width), or "
                                         "G_YX learns to hide B in A instead of drawing it")
    identity_weight: float = Field(0.5, ge=0.0, description="CycleGAN's identity term |G_XY(y) - y|_1 + "
                                   "|G_YX(x) - x|_1, weighted by this share of lambda_cyc (0.5, as the "
                                   "official code)")
    pool_size: int = Field(50, ge=0, le=1000, description="CycleGAN: D sees a history of this many generated "
                                                         "pictures (half the time an older one); 0: none")
    # A team's experiment tracker (gan_core/train/tracking.py): the run folder stays the record either way.
    track: Literal["none", "mlflow"] = Field("none", description="mlflow: also log the recipe, every logged "
                                             "figure, the sample grids and the final model to an MLflow "
                                             "tracking server")
    tracking_uri: str | None = Field(None, description="the MLflow server for train.track 'mlflow', e.g. "
                                     "http://mlflow.lab:5000 (default: $MLFLOW_TRACKING_URI, then "
                                     "$GAN_STUDIO_MLFLOW_URI)")

    @field_validator("tracking_uri")
    @classmethod
    def _tracking_uri(cls, v: str | None) -> str | None:
        """A recipe may name an http(s) server only. Recipes come from browsers and bundles, and a local
        store (file:, sqlite:, a database URL) is a place on the machine that trains: only its operator
        names one, through the environment. Credentials stay out too: a recipe is saved in config.yaml,
        in model cards and as the MLflow run's own parameters."""
        from urllib.parse import urlsplit

        if v is None or not v.strip():
            return None
        v = v.strip()
        try:
            parts = urlsplit(v)
            parts.port  # noqa: B018 -- raises ValueError for a port that is not a number in range
        except ValueError as e:
            raise ValueError(f"{v!r} is not a URL ({e})") from None
        if parts.scheme.lower() not in ("http", "https"):
            raise ValueError(f"{v!r}: a recipe may name an http:// or https:// tracking server only. A local "
                             "store (file:, sqlite:, a database) is a place on the training machine, which "
                             "only its operator may name: set MLFLOW_TRACKING_URI or GAN_STUDIO_MLFLOW_URI "
                             "there instead")
        if not parts.hostname:
            raise ValueError(f"{v!r} names no host; e.g. http://mlflow.lab:5000")
        if parts.username or parts.password:
            raise ValueError("no user name or password in the URL: the recipe is saved with the run and its "
                             "model card. Give them to the training machine as MLFLOW_TRACKING_USERNAME and "
                             "MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)")
        if parts.query or parts.fragment:
            raise ValueError(f"{v!r}: give the server's address alone, without ?query or #fragment")
        return v.rstrip("/")

    # Schedules are pure functions of the generator step, so a resumed run continues exactly.
    def lr_scale(self, step: int) -> float:
        """Factor on lr_g and lr_d at `step`: 1, or linear from s = lr_decay_start:
        min(1, max(0, 1 - (t - s)/(T - s)))."""
        if self.lr_decay != "linear":
            return 1.0
        start = min(self.lr_decay_start, self.steps - 1)
        return min(1.0, max(0.0, 1.0 - (step - start) / (self.steps - start)))

    def noise_sigma(self, step: int) -> float:
        """Instance-noise sigma_t: linear  sigma * max(0, 1 - t/T);  exponential  sigma * 0.01^(t/T)."""
        spec = self.instance_noise
        if spec.sigma == 0:
            return 0.0
        frac = min(step / (spec.anneal_steps or self.steps), 1.0)
        if spec.anneal == "linear":
            return spec.sigma * (1.0 - frac)
        if spec.anneal == "exponential":
            return spec.sigma * 0.01 ** frac
        return spec.sigma


class Config(_Strict):
    """A GAN recipe."""
    task: Literal["gan"] = "gan"
    name: str = "run"
    description: str = ""
    description_zh: str = Field("", description="the description in Simplified Chinese (the app shows it in 中文)")
    model: ModelConfig = Field(default_factory=DCGANConfig)
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()

    @model_validator(mode="after")
    def _consistent(self):
        loss = LOSSES[self.train.loss]
        if loss.gradient_penalty and (getattr(self.model, "d_norm", "none") == "batch"
                                      or self.model.arch in PAIRED_ARCHS):
            raise ValueError("train.loss 'wgan-gp' penalises per-sample gradients, which batch norm mixes: "
                             "set model.d_norm to 'layer', 'spectral' or 'none'")
        if self.train.r1_gamma and (getattr(self.model, "d_norm", "none") == "batch"
                                    or self.model.family != "image"):
            raise ValueError("train.r1_gamma penalises D's gradient per real picture: it is for image GANs "
                             "whose D has no batch norm (set model.d_norm to 'layer', 'spectral' or 'none')")
        pack = getattr(self.model, "pack", 1)
        if self.train.batch_size % pack:
            raise ValueError(f"model.pack {pack}: train.batch_size ({self.train.batch_size}) must be a multiple "
                             "of it, since D judges the batch in packs")
        if self.train.diffaugment and self.model.arch != "dcgan":
            raise ValueError("train.diffaugment transforms images for D: it is for model.arch 'dcgan' "
                             f"(this recipe is '{self.model.arch}')")
        if self.train.clip_value is not None and not loss.critic:
            raise ValueError(f"train.clip_value is for Wasserstein critics (wgan), not loss '{self.train.loss}'")
        arch = self.model.arch
        pairs = {"toy": "mlp", "bach_chorales": "musegan"}
        if (self.data.name == "unpaired") != (self.model.family == "unpaired"):
            raise ValueError("data.name 'unpaired' (two domains, data.a and data.b) goes with model.arch "
                             "'cyclegan', and only with it")
        if self.model.family == "unpaired":
            if self.model.generators != "both":
                raise ValueError("model.generators 'a2b' is for imported one-way generators; training needs both")
            if self.train.identity_weight and max(self.train.cycle_weight, self.train.cycle_weight_b or 0) and \
                    self.model.channels_a != self.model.channels_b:
                raise ValueError("the identity term |G_XY(y) - y|_1 feeds a picture of B to G_XY, which takes A's "
                                 f"channels: with model.channels_a {self.model.channels_a} and channels_b "
                                 f"{self.model.channels_b}, set train.identity_weight to 0")
        elif arch in PAIRED_ARCHS:
            if self.data.name in ("toy", "bach_chorales", "texture"):
                raise ValueError(f"model.arch '{arch}' learns from pictures: data.name must be mnist5k, mnist, "
                                 "fashion_mnist, cifar10, folder, photos or paired")
            if arch in SR_ARCHS and self.data.name == "paired":
                raise ValueError("super-resolution makes its low-resolution inputs itself: use single pictures "
                                 "(data.name photos or folder), not data.name 'paired'")
        elif self.data.name in ("photos", "paired"):
            raise ValueError(f"data.name '{self.data.name}' is for model.arch pix2pix or srresnet")
        elif pairs.get(self.data.name, "dcgan") != arch:
            raise ValueError("data.name 'toy' goes with model.arch 'mlp', 'bach_chorales' with 'musegan', "
                             "image data with 'dcgan'")
        if self.data.clusters:
            if arch != "dcgan":
                raise ValueError(f"data.clusters groups pictures for a DCGAN to condition on; model.arch is '{arch}'")
            if self.model.n_classes != self.data.clusters:
                raise ValueError(f"data.clusters {self.data.clusters}: the model conditions on the groups, so "
                                 f"model.n_classes must be {self.data.clusters} too (it is {self.model.n_classes})")
        return self

    def digest(self) -> str:
        """Short hash of the resolved recipe, to spot identical runs."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:12]


class ClassifierModel(_Strict):
    img_size: int = Field(28, ge=8, le=256)
    channels: Literal[1, 3] = 1
    width: int = Field(32, ge=1, le=512)
    feature_dim: int = Field(128, ge=2, le=4096)


class ClassifierTrain(_Strict):
    lr: LearningRate = 1e-3
    batch_size: int = Field(128, ge=1, le=65536)
    steps: int = Field(2000, ge=1)
    seed: Seed = 0
    augment: bool = Field(True, description="random shifts, rotations and scales of each digit")


class ClassifierRecipe(_Strict):
    """A recipe for the feature network behind the image metrics (task: classifier)."""
    task: Literal["classifier"]
    name: str = "classifier"
    description: str = ""
    description_zh: str = Field("", description="the description in Simplified Chinese (the app shows it in 中文)")
    model: ClassifierModel = ClassifierModel()
    data: DataConfig = DataConfig()
    train: ClassifierTrain = ClassifierTrain()

    @model_validator(mode="after")
    def _images(self):
        if self.data.name == "toy":
            raise ValueError("a classifier needs image data, not data.name 'toy'")
        return self


class EncoderConfig(_Strict):
    """f-AnoGAN's izi_f encoder, trained after the GAN with G and D frozen."""
    steps: int = Field(1500, ge=1)
    kappa: float = Field(1.0, ge=0.0, description="weight of the discriminator-feature term")
    lr: LearningRate = 1e-4
    batch_size: int = Field(64, ge=1, le=65536)
    width: int = Field(32, ge=1, le=1024)


class SearchConfig(_Strict):
    """AnoGAN's latent search: z* = argmin (1 - lam) |x - G(z)|_1 + lam |f(x) - f(G(z))|_1."""
    steps: int = Field(500, ge=1)
    lam: float = Field(0.1, ge=0.0, le=1.0)
    lr: LearningRate = 0.05
    restarts: int = Field(1, ge=1, le=16)


class AnomalyRecipe(_Strict):
    """A one-class anomaly detector (task: anomaly): a GAN trained on normal images only (the
    `gan` section is a GAN recipe; its data.classes names the normal classes), then an encoder;
    a part of the normal images is held out, with as many other images, to choose thresholds."""
    task: Literal["anomaly"]
    name: str = "anomaly"
    description: str = ""
    description_zh: str = Field("", description="the description in Simplified Chinese (the app shows it in 中文)")
    gan: Config
    validation: float = Field(0.1, gt=0.0, lt=1.0, description="share of the normal images held out")
    encoder: EncoderConfig = EncoderConfig()
    search: SearchConfig = SearchConfig()

    @model_validator(mode="after")
    def _images(self):
        if self.gan.model.arch != "dcgan" or self.gan.model.n_classes:
            raise ValueError("an anomaly detector needs an unconditional image GAN (gan.model.arch: dcgan, "
                             "n_classes: 0)")
        if self.gan.model.n_codes:
            raise ValueError("an anomaly detector searches z by gradient descent, and an InfoGAN code "
                             "(argmax of z's first entries) jumps and passes no gradient: set gan.model.n_codes to 0")
        return self


def _format_errors(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if str(p) not in ARCHS)
        if e["type"] == "extra_forbidden":
            lines.append(f"unknown key '{loc}'")
        elif e["type"] == "unknown_arch":
            lines.append(f"{loc}.arch: got {e['input'].get('arch')!r}; allowed: " + ", ".join(map(repr, ARCHS)))
        else:
            msg = e["msg"].removeprefix("Value error, ")
            lines.append(msg if not loc else f"{loc}: {msg}")
    return "\n".join(f"  - {line}" for line in lines)


def _allowed_keys(model: type[BaseModel]) -> str:
    return ", ".join(model.model_fields)


def validate_config(raw: dict[str, Any], source: str = "config") -> Config | ClassifierRecipe | AnomalyRecipe:
    """Validate a raw recipe; `task: classifier` / `task: anomaly` select those schemas, else a GAN."""
    task = raw.get("task")
    schema = {"classifier": ClassifierRecipe, "anomaly": AnomalyRecipe}.get(task if isinstance(task, str) else None,
                                                                          Config)
    try:
        return schema.model_validate(raw)
    except ValidationError as err:
        model = raw.get("model")
        arch = model.get("arch") if isinstance(model, dict) else None
        sections = {"data": DataConfig, "train": ClassifierTrain if schema is ClassifierRecipe else TrainConfig,
                    "model": ClassifierModel if schema is ClassifierRecipe else
                    MODEL_CONFIGS.get(arch if isinstance(arch, str) else None, DCGANConfig)}
        hints = set()
        for e in err.errors():
            if e["type"] == "extra_forbidden":
                section = e["loc"][0] if len(e["loc"]) > 1 else None
                model = sections.get(section, schema) if section else schema
                hints.add(f"allowed keys in '{section or 'the top level'}': {_allowed_keys(model)}")
        hint = ("\n" + "\n".join(sorted(hints))) if hints else ""
        raise ConfigError(f"{source} is not a valid recipe:\n{_format_errors(err)}{hint}") from None
