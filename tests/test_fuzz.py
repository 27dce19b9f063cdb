"""Property-based fuzzing of what strangers can hand the server: recipes (from a browser, the CLI or a
bundle) and run bundles. Whatever comes in, only the project's own errors may come out."""
import io
import json
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gan_core.config import ConfigError, validate_config
from gan_core.recipes import apply_overrides, load_recipe, parse_overrides
from gan_core.share import BundleError, import_bundle

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# scalars and small structures of every JSON/YAML type, with values near the schema's edges
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["dcgan", "mlp", "pix2pix", "srresnet", "wgan-gp",
                                                           "anomaly", "classifier", "toy", "folder", "1e-4"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=6)
KEYS = ["task", "name", "model", "data", "train", "gan", "model.arch", "model.img_size", "model.nz", "model.scale",
        "model.n_classes", "model.n_codes", "model.pack", "data.name", "data.path", "data.toy", "data.classes",
        "train.loss", "train.lr_g", "train.betas", "train.seed", "train.steps", "train.k_d", "train.batch_size",
        "train.instance_noise", "train.instance_noise.sigma", "train.diffaugment", "train.init_g", "gan.model",
        "gan.train.steps", "encoder.steps", "search.lam"]
recipes = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)


@FAST
@given(recipes)
def test_any_recipe_validates_or_says_why(overrides):
    try:
        raw = apply_overrides({}, overrides)
    except ConfigError:
        return
    try:
        validate_config(raw)
    except ConfigError as e:
        assert str(e).strip()


@FAST
@given(st.lists(st.text(max_size=30), max_size=5))
def test_any_set_strings_parse_or_say_why(pairs):
    try:
        load_recipe(None, parse_overrides(pairs))
    except ConfigError:
        pass


@FAST
@given(st.text(max_size=200))
def test_any_recipe_text_loads_or_says_why(text):
    try:
        load_recipe(text=text)
    except ConfigError:
        pass


NAMES = st.sampled_from(["manifest.json", "config.yaml", "status.json", "metrics.jsonl", "log.txt",
                         "samples/step_0000001.png", "samples/step_0000001.npy", "checkpoints/step_0000001.json",
                         "checkpoints/step_0000001.safetensors", "../evil", "/etc/x", "config.yaml\n", "a/../../b"])
blobs = st.one_of(st.binary(max_size=64), values.map(lambda v: json.dumps(v).encode()),
                  st.just(b"name: x\nmodel: {arch: dcgan}\n"), st.just(b'{"state": "running", "step": 3}'))


@st.composite
def bundles(draw):
    files = draw(st.dictionaries(NAMES, blobs, max_size=6))
    if draw(st.booleans()):  # a manifest that agrees with the files, so the checks go deeper
        import hashlib
        listed = {n: hashlib.sha256(b).hexdigest() for n, b in files.items() if n != "manifest.json"}
        files["manifest.json"] = json.dumps({"format": "gan-studio-run", "run": draw(st.text(max_size=10)),
                                             "files": draw(st.one_of(st.just(listed), values))}).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in files.items():
            zf.writestr(name, blob)
    return buf.getvalue()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(bundles())
def test_any_bundle_imports_or_is_refused_leaving_nothing(tmp_path, bundle):
    root = tmp_path / "fuzz"
    before = set(root.iterdir()) if root.exists() else set()
    try:
        run = import_bundle(bundle, root=root)
    except BundleError:
        after = set(root.iterdir()) if root.exists() else set()
        assert after == before  # a refused bundle leaves nothing, not even its staging folder
        return
    assert run.path.is_dir() and (run.path / "config.yaml").exists()
