import json
import pickle

import pytest
import torch
from torch import nn

from gan_core.checkpoint import (CheckpointError, import_torch_state_dict, list_checkpoints, load_module,
                                 load_optimizer, module_tensors, optimizer_tensors, read_checkpoint,
                                 save_checkpoint)
from gan_core.nets.dcgan import DCGANGenerator
from gan_core.sampling import load_generator


def _gen(ngf=4):
    return DCGANGenerator(nz=8, img_size=28, channels=1, ngf=ngf)


def _card(model_ngf=4):
    return {"kind": "gan", "name": "t", "model": {"arch": "dcgan", "nz": 8, "img_size": 28, "channels": 1,
                                                   "ngf": model_ngf, "ndf": 4}}


def test_round_trip(tmp_path):
    G = _gen()
    save_checkpoint(tmp_path / "m", module_tensors(G, "G"), _card())
    assert (tmp_path / "m.safetensors").exists() and (tmp_path / "m.json").exists()
    tensors, card = read_checkpoint(tmp_path / "m.safetensors")
    G2 = _gen()
    load_module(G2, tensors, "G")
    for a, b in zip(G.state_dict().values(), G2.state_dict().values()):
        assert torch.equal(a, b)
    assert card["name"] == "t" and card["versions"]["torch"] == torch.__version__
    assert len(card["weights_sha256"]) == 64
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temp files


def test_every_mismatched_key_is_listed(tmp_path):
    save_checkpoint(tmp_path / "m", module_tensors(_gen(ngf=4), "G"), _card())
    tensors, _ = read_checkpoint(tmp_path / "m")
    with pytest.raises(CheckpointError) as e:
        load_module(_gen(ngf=8), tensors, "G", "m")
    msg = str(e.value)
    assert "shape mismatches" in msg
    assert "net.0.weight: checkpoint (8, 8, 7, 7) vs model (8, 16, 7, 7)" in msg
    assert msg.count("checkpoint (") >= 5  # every layer whose width changed is named
    del tensors["G.net.1.running_mean"]
    tensors["G.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"(?s)missing keys \(1\):.*net.1.running_mean.*unexpected keys \(1\):.*extra.weight"):
        load_module(_gen(ngf=4), tensors, "G", "m")


def test_tampered_weights_are_refused(tmp_path):
    save_checkpoint(tmp_path / "m", module_tensors(_gen(), "G"), _card())
    blob = bytearray((tmp_path / "m.safetensors").read_bytes())
    blob[-5] ^= 0xFF  # flip bits inside a weight
    (tmp_path / "m.safetensors").write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="do not match their model card"):
        read_checkpoint(tmp_path / "m")


def test_truncated_file_is_refused(tmp_path):
    save_checkpoint(tmp_path / "m", module_tensors(_gen(), "G"), _card())
    blob = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "m.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="truncated|only partly written"):
        read_checkpoint(tmp_path / "m")


def test_card_problems(tmp_path):
    with pytest.raises(CheckpointError, match="model card not found"):
        read_checkpoint(tmp_path / "nothing.safetensors")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not readable JSON"):
        read_checkpoint(tmp_path / "x")
    (tmp_path / "y.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(CheckpointError, match="not a GAN Studio model card"):
        read_checkpoint(tmp_path / "y")


def test_a_valid_safetensors_that_is_not_ours_is_refused(tmp_path):
    """Correct hash, but the bytes are not safetensors: the parser's error becomes a message."""
    save_checkpoint(tmp_path / "m", module_tensors(_gen(), "G"), _card())
    import hashlib
    junk = b"\x00" * 100
    (tmp_path / "m.safetensors").write_bytes(junk)
    card = json.loads((tmp_path / "m.json").read_text())
    card["weights_sha256"] = hashlib.sha256(junk).hexdigest()
    (tmp_path / "m.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        read_checkpoint(tmp_path / "m")


def test_generator_of_another_architecture(tmp_path):
    save_checkpoint(tmp_path / "m", module_tensors(_gen(ngf=4), "G"), _card(model_ngf=8))
    with pytest.raises(CheckpointError, match="do not fit this architecture"):
        load_generator(tmp_path / "m.safetensors")
    bad = _card()
    bad["model"]["arch"] = "stylegan9"
    save_checkpoint(tmp_path / "n", module_tensors(_gen(), "G"), bad)
    with pytest.raises(CheckpointError, match="cannot build"):
        load_generator(tmp_path / "n.safetensors")


def test_optimizer_state_round_trip():
    G = _gen()
    opt = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.9))
    G(torch.randn(2, 8)).mean().backward()
    opt.step()
    tensors, meta = optimizer_tensors(opt, "opt")
    json.dumps(meta)  # the non-tensor part must be plain JSON
    opt2 = torch.optim.Adam(G.parameters(), lr=5.0)
    load_optimizer(opt2, tensors, json.loads(json.dumps(meta)), "opt")
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s2["param_groups"][0]["lr"] == 1e-3 and tuple(s2["param_groups"][0]["betas"]) == (0.5, 0.9)
    for k in s1["state"]:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(s1["state"][k][name], s2["state"][k][name])


class _Payload:
    def __reduce__(self):
        return (exec, ("open('PWNED', 'w').write('x')",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickle_payload_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "latest_net_G.pth"
    with open(evil, "wb") as f:
        pickle.dump({"weight": _Payload()}, f)
    with pytest.raises(CheckpointError, match="refused"):
        import_torch_state_dict(evil)
    assert not (tmp_path / "PWNED").exists()


def test_plain_state_dict_imports(tmp_path):
    G = _gen()
    torch.save({"params_ema": G.state_dict()}, tmp_path / "g.pth")
    sd = import_torch_state_dict(tmp_path / "g.pth")
    assert set(sd) == set(G.state_dict())


def test_list_checkpoints_reads_cards_only(tmp_path):
    save_checkpoint(tmp_path / "a", module_tensors(_gen(), "G"), _card())
    save_checkpoint(tmp_path / "b", module_tensors(_gen(), "G"), {"kind": "classifier", "name": "b"})
    (tmp_path / "junk.json").write_text("[]")
    assert [p.name for p, _ in list_checkpoints(tmp_path)] == ["a.safetensors", "b.safetensors"]
    assert [c["name"] for _, c in list_checkpoints(tmp_path, kinds=("gan",))] == ["t"]


def test_a_long_mismatch_is_sorted_counted_and_cut():
    module = nn.Sequential(*[nn.Linear(2, 2) for _ in range(3)])
    tensors = {f"G.extra{i:02d}.weight": torch.zeros(1) for i in range(30)}
    tensors.update({f"G.{k}": v for k, v in module.state_dict().items()})
    with pytest.raises(CheckpointError) as e:
        load_module(module, tensors, "G", "m")
    msg = str(e.value)
    assert "unexpected keys (30):" in msg and "... and 18 more" in msg
    shown = [line.strip() for line in msg.splitlines() if line.strip().startswith("extra")]
    assert shown == sorted(shown) and shown[0] == "extra00.weight" and len(shown) == 12
