"""python -m gan_core: train, sample, eval and inspect GANs from the command line.

This module is the parser; the commands are gan_core/commands.py, loaded once one is chosen."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = "Every command takes --help. Docs: docs/guide.md"


class CLIError(Exception):
    """A user-facing error: printed as one message, exit status 2."""


# ---------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gan_core", description="GAN Studio's command line.",
                                epilog=EPILOG)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a GAN (or the metric classifier) from a YAML recipe",
                       description="Train from a recipe. Writes a run folder (config, metrics.jsonl, samples, "
                                   "checkpoints). Ctrl-C or SIGTERM stops gracefully after a checkpoint.")
    t.add_argument("config", nargs="?", help="recipe, e.g. configs/mnist_dcgan.yaml")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. --set train.steps=200 (repeatable)")
    t.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps (default auto)")
    t.add_argument("--data-root", help="torchvision data folder (same as --set data.root=...)")
    t.add_argument("--run-dir", type=Path, help="run folder (default $GAN_STUDIO_RUNS/<id>, runs/ if unset)")
    t.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a run from its last checkpoint")
    t.add_argument("--out", type=Path, help="also export the final model to OUT.safetensors + OUT.json")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(command_name="train")

    la = sub.add_parser("launch", help="print the command each machine runs to train one recipe together (torchrun), "
                                       "or a SLURM batch script",
                        description="Check a recipe and a launch spec (machines x processes, the rendezvous "
                                    "endpoint) and print the torchrun command to run on each machine: the same "
                                    "command on every one, run from the GAN Studio folder. Every machine reads "
                                    "RECIPE at that path (configs/... is in every checkout). The process of rank 0 "
                                    "writes the run folder ($GAN_STUDIO_RUNS/<id>, or --run-dir); put it on storage "
                                    "every machine shares to resume. With --slurm: an sbatch script (the allocation's "
                                    "first machine hosts the rendezvous). Guide: docs/guide.md, 'Training on several "
                                    "machines'.")
    la.add_argument("config", metavar="RECIPE", help="recipe, e.g. configs/mnist_dcgan.yaml")
    la.add_argument("--nodes", type=int, default=1, help="machines (default 1)")
    la.add_argument("--nproc-per-node", type=int, default=1,
                    help="training processes on each machine, usually its GPUs (default 1)")
    la.add_argument("--rdzv-endpoint", metavar="HOST:PORT",
                    help="one machine's address and a free port, where the others meet it (needed for --nodes > 1; "
                         "with --slurm only its port is used)")
    la.add_argument("--rdzv-id", help="the job's name at the rendezvous (default: the recipe's name; with --slurm the "
                                      "job id)")
    la.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto: CUDA where there is one)")
    la.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe value "
                                                                                     "(repeatable; passed to train)")
    la.add_argument("--run-dir", type=Path, help="run folder for train (default $GAN_STUDIO_RUNS/<id> on the machine "
                                                 "of rank 0)")
    la.add_argument("--out", type=Path, help="train's --out: also export the final model here")
    la.add_argument("--slurm", action="store_true", help="print an sbatch script instead (srun + torchrun)")
    la.set_defaults(command_name="launch")

    s = sub.add_parser("sample", help="draw samples from a checkpoint into a PNG grid or .npy",
                       description="Draw samples. A seed gives the same samples on every device.")
    s.add_argument("checkpoint", help="NAME.safetensors (with NAME.json beside it)")
    s.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", help="PNG grid to write")
    s.add_argument("--npy", help="also write the raw samples, float32 in [-1, 1]")
    s.add_argument("--label", type=int, help="class to draw (conditional models); default: one column per class")
    s.add_argument("--nrow", type=int, help="images per row")
    s.add_argument("--truncation", type=float, help="truncate z to [-t, t] (normal noise)")
    s.add_argument("--device", default="cpu")
    s.set_defaults(command_name="sample")

    e = sub.add_parser("eval", help="measure an image or music generator",
                       description="Images: Fréchet distance, KID, precision/recall on the MNIST classifier's "
                                   "features against the held-out MNIST-5k test split, with the train-vs-test "
                                   "baseline; label accuracy for conditional models. Music: MuseGAN's metrics "
                                   "(EB, UPC, QN, TD, in-scale, polyphony) of up to 1,000 samples beside the "
                                   "training and validation chorales. Pix2Pix: digits recognised by the classifier, or PSNR on "
                                   "the held-out photos. Super-resolution: PSNR/SSIM (luma) against bicubic on the "
                                   "held-out photos. CycleGAN (digits models): label preservation both ways read "
                                   "by each side's classifier, and the cycle error.")
    e.add_argument("checkpoint")
    e.add_argument("--classifier", default=None, help="default: the shipped checkpoints/mnist_classifier")
    e.add_argument("--n", type=int, default=4500, help="generated samples (default 4500, the train split size)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default="cpu")
    e.add_argument("--update-card", action="store_true", help="write the figures into the model card")
    e.set_defaults(command_name="eval")

    y = sub.add_parser("toy", help="train a 2D toy GAN headless and write its samples",
                       description="Train one toy GAN with the toy lab's default recipe for the loss, then write "
                                   "samples (.npy, shape (n, 2)) and print modes / high-quality share / W1 / JS.")
    y.add_argument("--dataset", default="ring8", help="ring8 | grid25 | swissroll | moons | line")
    y.add_argument("--loss", default="nonsaturating", help="minimax | nonsaturating | wgan | wgan-gp | lsgan | hinge")
    y.add_argument("--steps", type=int, help="generator steps (default: the recipe's)")
    y.add_argument("--seed", type=int, default=0)
    y.add_argument("--samples", type=int, default=2500)
    y.add_argument("--out", help="write the samples here (.npy)")
    y.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override the recipe")
    y.add_argument("--json", action="store_true", help="one JSON object on stdout")
    y.add_argument("--quiet", action="store_true")
    y.set_defaults(command_name="toy")

    b = sub.add_parser("bench", help="speed and quality benchmarks, one JSON object per line",
                       description="AREA: toy (quality over 10 seeds per loss and dataset, then speed), toy-speed, "
                                   "dcgan (training speed against a textbook loop), music (metrics of the shipped "
                                   "music models and of the chorales, and generation + audio time), anomaly "
                                   "(per-digit AUROC of both methods for both protocols on MNIST-5k, and time per "
                                   "image), anomaly-texture (image and pixel AUROC per texture), pix2pix (sketch "
                                   "time; digits recognised), sr (PSNR/SSIM on the held-out photos, speed, memory), "
                                   "serve (8 browser sessions on the app for 5 minutes while a job trains: errors, "
                                   "p50/p95 per action, the server's peak memory), cyclegan (label preservation both "
                                   "ways with and without the cycle loss, strokes recognised against pix2pix, CPU time of a 256x256 picture "
                                   "through a 9-block generator and of a 32x32 digit), pages (the app in Chromium: each page's first visit, "
                                   "repeat visit and main action in seconds, and any request to another host).")
    b.add_argument("area")
    b.add_argument("--quick", action="store_true", help="fewer seeds and steps")
    b.add_argument("--datasets", help="toy: only these datasets, comma-separated (ring8,grid25)")
    b.add_argument("--losses", help="toy: only these losses, comma-separated")
    b.add_argument("--protocols", help="anomaly: one-normal and/or one-anomalous, comma-separated")
    b.add_argument("--digits", help="anomaly: only these digits, comma-separated")
    b.add_argument("--device", help="dcgan: only this device, cpu or cuda (default: each one here)")
    b.add_argument("--actions", help="serve: only these visitor actions, comma-separated (generate, superres, "
                                     "superres_whole, toy_lab; default all but superres_whole)")
    b.add_argument("--shots", help="pages: save a screenshot of each page here")
    b.add_argument("--json", action="store_true", help="(output is always JSON lines)")
    b.set_defaults(command_name="bench")

    a = sub.add_parser("anomaly", help="one-class anomaly detectors: train from a recipe, score images",
                       description="anomaly train RECIPE.yaml --out PATH;  anomaly score CHECKPOINT IMAGES... "
                                   "--method encoder|anogan [--csv scores.csv]")
    a.add_argument("action", choices=["train", "score"])
    a.add_argument("config", metavar="RECIPE_OR_CHECKPOINT")
    a.add_argument("images", nargs="*", help="score: image files")
    a.add_argument("--method", choices=["encoder", "anogan"], default="encoder")
    a.add_argument("--threshold", type=float, help="score: flag scores >= this (default: the detector's own)")
    a.add_argument("--csv", help="score: write image, score, anomalous here")
    a.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="train: override the recipe")
    a.add_argument("--out", type=Path, help="train: write the detector to OUT.safetensors + OUT.json")
    a.add_argument("--device", default="auto")
    a.add_argument("--quiet", action="store_true")
    a.set_defaults(command_name="anomaly")

    m = sub.add_parser("music", help="four-part music: sample a MuseGAN checkpoint, or build the chorale data",
                       description="music sample CHECKPOINT --out song.mid [--wav song.wav] [--xml song.musicxml] "
                                   "[--png roll.png] --seed S;  music data: parse the Bach chorales into the "
                                   "cached piano-roll dataset (about a minute, once).")
    m.add_argument("action", choices=["sample", "data"])
    m.add_argument("checkpoint", nargs="?")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--out", help="MIDI file to write")
    m.add_argument("--wav", help="audio to write (WAV, rendered offline)")
    m.add_argument("--xml", help="MusicXML score to write")
    m.add_argument("--png", help="piano-roll picture to write")
    m.add_argument("--bpm", type=float, default=80.0, help="tempo in quarter notes per minute (default 80)")
    m.add_argument("--voice", type=int, choices=range(4), help="0-3: take this voice's latents from --voice-seed")
    m.add_argument("--voice-seed", type=int, default=1)
    m.add_argument("--device", default="cpu")
    m.add_argument("--quiet", action="store_true")
    m.set_defaults(command_name="music")

    x = sub.add_parser("pix2pix", help="turn a sketch (or a photo's edges) into a picture",
                       description="Pad the sketch to a square with white, resize it, thin its lines to the "
                                   "1-pixel edges the model learned from, and translate it.")
    x.add_argument("checkpoint", help="a Pix2Pix checkpoint, e.g. checkpoints/pix2pix_photos.safetensors")
    x.add_argument("sketch", help="dark lines on a light background (PNG, JPEG, WebP, ...)")
    x.add_argument("--out", required=True, help="picture to write")
    x.add_argument("--photo", action="store_true", help="the input is a photo: draw its edges first")
    x.add_argument("--edges-out", help="also write the drawing the model saw")
    x.add_argument("--size", type=int, help="working size (default: the model's; rounded to its multiple)")
    x.add_argument("--variation", type=int, help="seed for test-time dropout (the paper's variations)")
    x.add_argument("--device", default="cpu")
    x.set_defaults(command_name="pix2pix")

    c = sub.add_parser("cyclegan", help="translate pictures between two unpaired collections (CycleGAN)",
                       description="One input writes OUT as a picture; several write OUT as a folder, one picture "
                                   "each. Digits models prepare each input the way its side looks; photo models "
                                   "work at --size on the shorter side, tiled above --tile.")
    c.add_argument("checkpoint", help="a CycleGAN checkpoint, e.g. checkpoints/cyclegan_digits.safetensors")
    c.add_argument("images", nargs="+", metavar="IN")
    c.add_argument("--direction", choices=["a2b", "b2a"], default="a2b")
    c.add_argument("--out", required=True, help="picture to write (one input) or folder (several)")
    c.add_argument("--size", type=int, help="photo models: shorter side to work at (default 256)")
    c.add_argument("--tile", type=int, default=512, help="photo models: tile side for bigger pictures")
    c.add_argument("--device", default="cpu")
    c.add_argument("--json", action="store_true", help="print what was done as JSON (default: one line each)")
    c.set_defaults(command_name="cyclegan")

    r = sub.add_parser("superres", help="upscale a picture 2x or 4x (tiled, any size)",
                       description="Upscale with a super-resolution checkpoint (or 'bicubic'), tile by tile with "
                                   "feathered overlaps; alpha is upscaled apart, EXIF rotation applied.")
    r.add_argument("checkpoint", help="an SR checkpoint, e.g. checkpoints/sr_srresnet_x4.safetensors, or 'bicubic'")
    r.add_argument("image")
    r.add_argument("--out", required=True)
    r.add_argument("--scale", type=int, choices=[2, 4], help="checked against the model's (required for bicubic)")
    r.add_argument("--tile", type=int, default=256, help="tile side in input pixels (default 256)")
    r.add_argument("--overlap", type=int, default=16, help="overlap of neighbouring tiles (default 16)")
    r.add_argument("--ensemble", action="store_true", help="geometric self-ensemble: the mean of 8 turned and "
                   "mirrored passes (8x the time, a little more PSNR; bicubic is unchanged by it)")
    r.add_argument("--device", default="cpu")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(command_name="superres")

    w = sub.add_parser("import", help="convert public .pth weights into a GAN Studio checkpoint",
                       description="pix2pix: latest_net_G.pth of junyanz/pytorch-CycleGAN-and-pix2pix (unet_256 or "
                                   "unet_128, batch norm). esrgan: RealESRGAN_x4plus.pth or an ESRGAN RRDBNet. "
                                   "cyclegan: latest_net_G_A.pth (A -> B) with --g-b latest_net_G_B.pth (B -> A), "
                                   "or a one-way *_pretrained/latest_net_G.pth. "
                                   "Read with torch.load(weights_only=True): files holding code are refused.")
    w.add_argument("kind", choices=["pix2pix", "esrgan", "cyclegan"])
    w.add_argument("weights", help="the .pth file")
    w.add_argument("--g-b", help="cyclegan: the B -> A generator (latest_net_G_B.pth)")
    w.add_argument("--out", required=True, type=Path, help="e.g. checkpoints/realesrgan_x4 (writes .safetensors + .json)")
    w.add_argument("--name", help="name on the model card (default: the file's)")
    w.set_defaults(command_name="import")

    i = sub.add_parser("info", help="versions, devices and shipped checkpoints; or one checkpoint's card")
    i.add_argument("checkpoint", nargs="?")
    i.add_argument("--json", action="store_true")
    i.set_defaults(command_name="info")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from . import commands  # heavy: torch and every pipeline; --help and usage errors never get here
    try:
        return getattr(commands, f"cmd_{args.command_name}")(args)
    except commands.KNOWN_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full disk, a missing or unreadable path
        print(f"error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
