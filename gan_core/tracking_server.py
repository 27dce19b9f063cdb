"""Which MLflow tracking server a run logs to (recipe key `train.track: mlflow`), and which ones a
recipe from a browser may name. Pure: the environment and the recipe, no MLflow and no network.
The tracker (gan_core/train/tracking.py), jobs, bundles and the Train page all read it here.

Where: the recipe's `train.tracking_uri` (an http(s) server; gan_core.config refuses anything else),
else $MLFLOW_TRACKING_URI, else $GAN_STUDIO_MLFLOW_URI. Both variables are the operator's, so they may
also name a local store (sqlite:, file:).

Who may name a server: anyone running `python -m gan_core train` on the machine, any http(s) one. A
recipe that reaches a job from a browser (jobs.submit, jobs.resume, a bundle import) would make this
server send requests wherever it says, so `check_tracking` lets it name only a server the operator
set up: none (the operator's variable is used), or one equal to $MLFLOW_TRACKING_URI,
$GAN_STUDIO_MLFLOW_URI or an entry of $GAN_STUDIO_MLFLOW_ALLOWED (comma-separated, for a team with
more than one server), compared after `normalised`.
"""
from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from .config import ConfigError

# The operator's settings, in the order they are read after the recipe's train.tracking_uri.
URI_VARIABLES = ("MLFLOW_TRACKING_URI", "GAN_STUDIO_MLFLOW_URI")
# More servers a browser's recipe may name, beside those two: comma-separated URLs.
ALLOWED_VARIABLE = "GAN_STUDIO_MLFLOW_ALLOWED"
# What MLflow can track to. Local stores are allowed here, as the environment is the operator's.
OPERATOR_SCHEMES = ("http", "https", "file", "sqlite", "postgresql", "mysql", "mssql", "databricks")
DEFAULT_PORTS = {"http": 80, "https": 443}
NO_SERVER = ("train.track is 'mlflow' but no tracking server is named: set train.tracking_uri in the recipe "
             "(e.g. http://mlflow.lab:5000), or MLFLOW_TRACKING_URI or GAN_STUDIO_MLFLOW_URI where training "
             "runs; or set train.track to 'none'")


def operator_uri() -> tuple[str, str] | None:
    """(URI, variable) of the first of URI_VARIABLES that is set, unchecked; None when neither is."""
    for var in URI_VARIABLES:
        value = os.environ.get(var, "").strip()
        if value:
            return value, var
    return None


def tracking_uri(cfg) -> tuple[str, str]:
    """(URI, where it came from) for a recipe with train.track 'mlflow': the recipe's own, else the
    operator's variables. ConfigError, before any training, when none is set or one is unusable."""
    if cfg.train.tracking_uri:
        return cfg.train.tracking_uri, "train.tracking_uri"
    found = operator_uri()
    if found is None:
        raise ConfigError(NO_SERVER)
    value, var = found
    scheme = urlsplit(value).scheme.lower().split("+")[0]  # postgresql+psycopg2 is postgresql
    if scheme not in OPERATOR_SCHEMES:
        raise ConfigError(f"{var}={value!r} is not a tracking URI MLflow can use: give a server "
                          "(http://mlflow.lab:5000) or a store (sqlite:////srv/mlflow.db, file:///srv/mlruns)")
    return value, var


def public_uri(uri: str) -> str:
    """The URI without a user name or password, as it may be written down and shown."""
    parts = urlsplit(uri)
    if not (parts.username or parts.password):
        return uri
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=host))


def server_host(uri: str) -> str | None:
    """'host' or 'host:port' of an http(s) server, as a page may show it (no credentials, no path);
    None for a local store or what is not a URL."""
    try:
        parts = urlsplit(uri.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return host if port is None else f"{host}:{port}"


def normalised(uri: str) -> str:
    """A server's URL in one spelling, to compare two: scheme and host in lower case, no credentials,
    no default port, no trailing slash. Anything else (a local store, not a URL) only trimmed."""
    uri = uri.strip()
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return uri
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return uri.rstrip("/")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # hostname is lower case
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def allowed_servers() -> set[str]:
    """The servers (normalised) a browser's recipe may name: the operator's variables and the allowlist."""
    named = [os.environ.get(var, "") for var in URI_VARIABLES]
    named += os.environ.get(ALLOWED_VARIABLE, "").split(",")
    return {normalised(u) for u in named if u.strip()}


def check_tracking(cfg, starting: bool = True) -> None:
    """Refuse a recipe from a browser or a bundle (ConfigError) whose train.tracking_uri is not a
    server the operator set up; and, when `starting` a run (jobs), one with train.track 'mlflow' and
    no server anywhere, with the trainer's own message. Recipes without a train section pass."""
    gan = getattr(cfg, "gan", cfg)  # an anomaly recipe's GAN is its `gan` section
    train = getattr(gan, "train", None)
    uri = getattr(train, "tracking_uri", None)
    if uri and normalised(uri) not in allowed_servers():
        raise ConfigError(f"train.tracking_uri: {public_uri(uri)} is not a tracking server this server's operator "
                          "set up. Leave it empty to track to theirs, or ask them to add it to "
                          f"{ALLOWED_VARIABLE} (the servers a recipe from the app may name are "
                          f"{', '.join(URI_VARIABLES)} and {ALLOWED_VARIABLE}, a comma-separated list)")
    if starting and getattr(train, "track", "none") == "mlflow":
        tracking_uri(gan)
