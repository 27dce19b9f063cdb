"""State dicts laid out as the public Pix2Pix and ESRGAN releases save them (names and shapes),
written out from those projects' module structure, for the import tests."""
import torch


def official_unet_state(in_nc, out_nc, depth, ngf, dropout=True):
    """Names and shapes of junyanz/pytorch-CycleGAN-and-pix2pix's UnetGenerator(norm=batch), written
    out from its nesting of UnetSkipConnectionBlocks (independently of official_key_map)."""
    state = {}

    def bn(prefix, n):
        state.update({f"{prefix}.weight": torch.randn(n), f"{prefix}.bias": torch.randn(n),
                      f"{prefix}.running_mean": torch.randn(n), f"{prefix}.running_var": torch.rand(n) + 0.5,
                      f"{prefix}.num_batches_tracked": torch.tensor(7)})

    def block(prefix, outer, inner, input_nc, level):
        p = prefix + "model."
        if level == 0:  # outermost: [downconv, submodule, uprelu, upconv, tanh]
            state[p + "0.weight"] = torch.randn(inner, input_nc, 4, 4)
            state[p + "3.weight"] = torch.randn(inner * 2, outer, 4, 4)
            state[p + "3.bias"] = torch.randn(outer)
        elif level == depth - 1:  # innermost: [downrelu, downconv, uprelu, upconv, upnorm]
            state[p + "1.weight"] = torch.randn(inner, input_nc, 4, 4)
            state[p + "3.weight"] = torch.randn(inner, outer, 4, 4)
            bn(p + "4", outer)
            return
        else:  # [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm(, dropout)]
            state[p + "1.weight"] = torch.randn(inner, input_nc, 4, 4)
            bn(p + "2", inner)
            state[p + "5.weight"] = torch.randn(inner * 2, outer, 4, 4)
            bn(p + "6", outer)
        widths = [ngf * min(2 ** i, 8) for i in range(depth)]
        block(p + "1.", widths[level], widths[level + 1], widths[level], level + 1)

    block("model.", out_nc, ngf, in_nc, 0)
    return state


def public_rrdb_state(num_block=2, feat=8, grow=4, scale=4):
    """Real-ESRGAN key names and shapes (BasicSR's RRDBNet), written out by hand."""
    unshuffle = {4: 1, 2: 4}[scale]
    s = {"conv_first.weight": torch.randn(feat, 3 * unshuffle, 3, 3), "conv_first.bias": torch.randn(feat)}
    for b in range(num_block):
        for r in (1, 2, 3):
            for c in range(1, 6):
                cin = feat + (c - 1) * grow
                cout = grow if c < 5 else feat
                s[f"body.{b}.rdb{r}.conv{c}.weight"] = torch.randn(cout, cin, 3, 3) * 0.01
                s[f"body.{b}.rdb{r}.conv{c}.bias"] = torch.zeros(cout)
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
        s[f"{name}.weight"], s[f"{name}.bias"] = torch.randn(feat, feat, 3, 3) * 0.01, torch.zeros(feat)
    s["conv_last.weight"], s["conv_last.bias"] = torch.randn(3, feat, 3, 3) * 0.01, torch.zeros(3)
    return s
