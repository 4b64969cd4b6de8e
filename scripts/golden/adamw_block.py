#!/usr/bin/python3
"""Golden reference for the TS train-step graph (src/core/autograd/golden.test.ts).

Builds the same tiny pre-norm transformer block as src/core/autograd/testing/tinyBlock.ts, with the
same deterministic LCG init, and runs two forward + backward + clip_grad_norm_ + optimizer steps on
one fixed batch, for torch.optim.AdamW (decoupled decay) and torch.optim.Adam (coupled L2 decay).
Writes src/core/autograd/__golden__/adamw_block.json. Only needed to regenerate the golden file:

    /usr/bin/python3 scripts/golden/adamw_block.py

Independent reference only (Debian torch 1.13 CPU); never a runtime dependency.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

CONFIG = dict(batch=2, seq=5, dim=12, heads=3, mlp=48, eps=1e-5)
SEEDS = dict(params=1234, x=99, target=77)
OPTIM = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2, max_grad_norm=0.5, steps=2)
OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'src', 'core', 'autograd', '__golden__', 'adamw_block.json')


def lcg(seed):
    """Same 32-bit LCG as gradcheck.ts `lcg` (uniform [0, 1))."""
    state = seed & 0xFFFFFFFF

    def nxt():
        nonlocal state
        state = (1664525 * state + 1013904223) & 0xFFFFFFFF
        return state / 4294967296.0

    return nxt


def param_shapes(c):
    D = c['dim']
    return [
        ('ln1.weight', [D]), ('ln1.bias', [D]),
        ('attn.qkv.weight', [D, 3 * D]), ('attn.proj.weight', [D, D]), ('attn.proj.bias', [D]),
        ('ln2.weight', [D]), ('ln2.bias', [D]),
        ('mlp.fc1.weight', [D, c['mlp']]), ('mlp.fc1.bias', [c['mlp']]),
        ('mlp.fc2.weight', [c['mlp'], D]), ('mlp.fc2.bias', [D]),
    ]


def init_params(c, seed):
    r = lcg(seed)
    out = {}
    for name, shape in param_shapes(c):
        n = math.prod(shape)
        is_ln_weight = name.startswith('ln') and name.endswith('.weight')
        scale = 1 / math.sqrt(shape[0]) if len(shape) == 2 else 0.1
        vals = []
        for _ in range(n):
            u = r() * 2 - 1
            vals.append(1 + 0.1 * u if is_ln_weight else u * scale)
        out[name] = torch.tensor(vals, dtype=torch.float64).to(torch.float32).reshape(shape)
    return out


def uniform(shape, seed):
    r = lcg(seed)
    return torch.tensor([r() * 2 - 1 for _ in range(math.prod(shape))], dtype=torch.float64).to(torch.float32).reshape(shape)


def block(c, p, x):
    B, T, D, H = c['batch'], c['seq'], c['dim'], c['heads']
    hd = D // H
    h1 = F.layer_norm(x, (D,), p['ln1.weight'], p['ln1.bias'], c['eps'])
    qkv = h1 @ p['attn.qkv.weight']
    q, k, v = (qkv[..., i * D:(i + 1) * D].reshape(B, T, H, hd).transpose(1, 2) for i in range(3))
    att = torch.softmax((q @ k.transpose(-1, -2)) * (1 / math.sqrt(hd)), dim=-1) @ v
    h = x + (att.transpose(1, 2).reshape(B, T, D) @ p['attn.proj.weight'] + p['attn.proj.bias'])
    h2 = F.layer_norm(h, (D,), p['ln2.weight'], p['ln2.bias'], c['eps'])
    f1 = h2 @ p['mlp.fc1.weight'] + p['mlp.fc1.bias']
    return h + (F.gelu(f1, approximate='none') @ p['mlp.fc2.weight'] + p['mlp.fc2.bias'])


def f32(t):
    return [float(f'{v:.9g}') for v in t.detach().reshape(-1).tolist()]


def run(variant):
    c, o = CONFIG, OPTIM
    p = {k: v.clone().requires_grad_() for k, v in init_params(c, SEEDS['params']).items()}
    shape = [c['batch'], c['seq'], c['dim']]
    x, target = uniform(shape, SEEDS['x']), uniform(shape, SEEDS['target'])
    cls = torch.optim.AdamW if variant == 'adamw' else torch.optim.Adam
    opt = cls(list(p.values()), lr=o['lr'], betas=(o['beta1'], o['beta2']), eps=o['eps'], weight_decay=o['weight_decay'])
    steps = []
    for _ in range(o['steps']):
        opt.zero_grad()
        loss = ((block(c, p, x) - target) ** 2).mean()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(p.values()), o['max_grad_norm'])
        assert norm > o['max_grad_norm'], 'golden must exercise clipping'
        opt.step()
        steps.append(dict(loss=float(loss), grad_norm=float(norm), params={k: f32(v) for k, v in p.items()}))
    return steps


def main():
    torch.set_num_threads(1)
    golden = dict(
        generator='scripts/golden/adamw_block.py', torch=torch.__version__,
        config=CONFIG, seeds=SEEDS, optim=OPTIM,
        variants=dict(adamw=run('adamw'), adam_l2=run('adam')),
    )
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(golden, f, separators=(',', ':'))
        f.write('\n')
    for k, v in golden['variants'].items():
        print(k, [(s['loss'], s['grad_norm']) for s in v])


if __name__ == '__main__':
    main()
