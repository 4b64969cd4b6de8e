#!/usr/bin/python3
"""Independent PyTorch reference of the DeDe decoder in src/core/dede (docs/ARCHITECTURE.md §5.1).

Never a runtime dependency of the app. Run with Debian's python3 (torch 1.13 CPU):

  /usr/bin/python3 scripts/reference/dede_torch.py --golden src/core/dede/__golden__/forward_small.json
  /usr/bin/python3 scripts/reference/dede_torch.py --bench small full --steps 5
  /usr/bin/python3 scripts/reference/dede_torch.py --train DIR   (written by npm run bench:detect -- --parity)

It shares only the *conventions* with the TypeScript code (parameter names, [in, out] weight
layout, the mulberry32 + Box-Muller RNG and the order in which init consumes it). The maths is
written the PyTorch way on purpose, so that the golden test cross-checks the graph code: patchify
with F.unfold, patch embedding as a stride-p conv, gather/scatter with index tensors instead of
one-hot MatMuls, timm-style attention.
"""

import argparse
import json
import math
import time
from collections import OrderedDict

import torch
import torch.nn.functional as F

MASK32 = 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------
# RNG (mirrors src/core/dede/rng.ts)

class Mulberry32:
    def __init__(self, seed):
        self.a = seed & MASK32

    def __call__(self):
        self.a = (self.a + 0x6D2B79F5) & MASK32
        a = self.a
        t = ((a ^ (a >> 15)) * (a | 1)) & MASK32
        t = ((t + (((t ^ (t >> 7)) * (t | 61)) & MASK32)) & MASK32) ^ t
        return ((t ^ (t >> 14)) & MASK32) / 4294967296.0


def normal(rng):
    u1 = rng()
    u2 = rng()
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def normals(rng, n, std=1.0):
    return [std * normal(rng) for _ in range(n)]


# ---------------------------------------------------------------------------------------------
# Configs (mirror src/core/dede/config.ts)

SMALL = dict(imageSize=32, patchSize=4, channels=3, encDim=128, encDepth=1, encHeads=4,
             decDim=128, decDepth=2, decHeads=4, mlpRatio=4, lnEps=1e-5)
FULL = dict(imageSize=32, patchSize=4, channels=3, encDim=192, encDepth=12, encHeads=3,
            decDim=192, decDepth=4, decHeads=3, mlpRatio=4, lnEps=1e-5)
GOLDEN = dict(imageSize=16, patchSize=4, channels=3, embedDim=24, encDim=32, encDepth=1, encHeads=2,
              decDim=16, decDepth=2, decHeads=4, mlpRatio=4, lnEps=1e-5)


def num_patches(cfg):
    return (cfg['imageSize'] // cfg['patchSize']) ** 2


def patch_dim(cfg):
    return cfg['channels'] * cfg['patchSize'] ** 2


def visible_count(cfg, mask_ratio):
    return int(num_patches(cfg) * (1 - mask_ratio))  # MAE's len_keep


# ---------------------------------------------------------------------------------------------
# Parameters: same names and init order as src/core/dede/params.ts

def param_specs(cfg):
    """(name, shape, init) with init one of ('xavier', fan_in, fan_out), ('normal', std), ('zeros',), ('ones',)."""
    specs = []

    def linear(name, i, o, bias=True):
        specs.append((name + '.w', (i, o), ('xavier', i, o)))
        if bias:
            specs.append((name + '.b', (o,), ('zeros',)))

    def norm(name, d):
        specs.append((name + '.w', (d,), ('ones',)))
        specs.append((name + '.b', (d,), ('zeros',)))

    def block(name, d):
        norm(name + '.ln1', d)
        linear(name + '.attn.qkv', d, 3 * d, bias=False)
        linear(name + '.attn.proj', d, d)
        norm(name + '.ln2', d)
        linear(name + '.mlp.fc1', d, d * cfg['mlpRatio'])
        linear(name + '.mlp.fc2', d * cfg['mlpRatio'], d)

    T, E, D = num_patches(cfg), cfg['encDim'], cfg['decDim']
    linear('enc.patch', patch_dim(cfg), E)
    specs.append(('enc.pos', (T, E), ('normal', 0.02)))
    specs.append(('enc.cls', (E,), ('normal', 0.02)))
    for i in range(cfg['encDepth']):
        block('enc.blocks.%d' % i, E)
    norm('enc.norm', E)
    linear('splice', cfg['embedDim'], E, bias=False)
    linear('dec.embed', E, D)
    specs.append(('dec.mask', (D,), ('normal', 0.02)))
    specs.append(('dec.pos', (1 + T, D), ('normal', 0.02)))
    for i in range(cfg['decDepth']):
        block('dec.blocks.%d' % i, D)
    linear('dec.pred', D, patch_dim(cfg))
    return specs


def init_params(cfg, seed):
    rng = Mulberry32(seed)
    out = OrderedDict()
    for name, shape, init in param_specs(cfg):
        n = math.prod(shape)
        if init[0] == 'zeros':
            vals = [0.0] * n
        elif init[0] == 'ones':
            vals = [1.0] * n
        elif init[0] == 'normal':
            vals = normals(rng, n, init[1])
        else:
            bound = math.sqrt(6.0 / (init[1] + init[2]))
            vals = [(2.0 * rng() - 1.0) * bound for _ in range(n)]
        out[name] = torch.tensor(vals, dtype=torch.float32).reshape(shape)
    return out


def sample_keep_indices(batch, T, keep, rng):
    """Per image: partial Fisher-Yates, first `keep` slots, ascending (mirrors mask.ts)."""
    rows = []
    for _ in range(batch):
        perm = list(range(T))
        for i in range(keep):
            j = i + int(math.floor(rng() * (T - i)))
            perm[i], perm[j] = perm[j], perm[i]
        rows.append(sorted(perm[:keep]))
    return torch.tensor(rows, dtype=torch.long).reshape(batch, keep)


# ---------------------------------------------------------------------------------------------
# Model

def patchify(imgs, p):
    """[B, C, H, W] -> [B, T, C*p*p]; unfold yields (c, p1, p2) vectors in row-major patch order."""
    return F.unfold(imgs, kernel_size=p, stride=p).transpose(1, 2)


def unpatchify(x, p, size):
    return F.fold(x.transpose(1, 2), output_size=(size, size), kernel_size=p, stride=p)


def block(x, P, pre, heads, eps):
    B, N, D = x.shape
    hd = D // heads
    h = F.layer_norm(x, (D,), P[pre + '.ln1.w'], P[pre + '.ln1.b'], eps)
    qkv = (h @ P[pre + '.attn.qkv.w']).reshape(B, N, 3, heads, hd).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    attn = ((q @ k.transpose(-2, -1)) * hd ** -0.5).softmax(dim=-1)
    o = (attn @ v).transpose(1, 2).reshape(B, N, D)
    x = x + o @ P[pre + '.attn.proj.w'] + P[pre + '.attn.proj.b']
    h = F.layer_norm(x, (D,), P[pre + '.ln2.w'], P[pre + '.ln2.b'], eps)
    h = F.gelu(h @ P[pre + '.mlp.fc1.w'] + P[pre + '.mlp.fc1.b'])
    return x + h @ P[pre + '.mlp.fc2.w'] + P[pre + '.mlp.fc2.b']


def forward(P, cfg, imgs, emb, keep_idx, blind=None):
    """imgs [B,C,H,W], emb [B,embedDim], keep_idx [B,Tk] long -> pred [B,T,C*p*p].

    blind [B] bool (optional): those images see no visible patch (all mask tokens), as the TS
    graph does for an all-zero keep row (train-loop.ts trainingKeep)."""
    B = imgs.shape[0]
    p, E, D, T = cfg['patchSize'], cfg['encDim'], cfg['decDim'], num_patches(cfg)
    Tk = keep_idx.shape[1]
    eps = cfg['lnEps']
    spliced = (emb @ P['splice.w']).unsqueeze(1)  # replaces the CLS output
    if Tk > 0:
        conv_w = P['enc.patch.w'].t().reshape(E, cfg['channels'], p, p)
        x = F.conv2d(imgs, conv_w, P['enc.patch.b'], stride=p).flatten(2).transpose(1, 2)
        x = x + P['enc.pos']
        x = torch.gather(x, 1, keep_idx.unsqueeze(-1).expand(-1, -1, E))
        x = torch.cat([P['enc.cls'].expand(B, 1, E), x], dim=1)
        for i in range(cfg['encDepth']):
            x = block(x, P, 'enc.blocks.%d' % i, cfg['encHeads'], eps)
        x = F.layer_norm(x, (E,), P['enc.norm.w'], P['enc.norm.b'], eps)
        x = torch.cat([spliced, x[:, 1:]], dim=1)
    else:
        x = spliced  # nothing visible: only CLS would remain, and its output is replaced
    y = x @ P['dec.embed.w'] + P['dec.embed.b']
    full = P['dec.mask'].expand(B, T, D)
    if Tk > 0:
        full = torch.scatter(full, 1, keep_idx.unsqueeze(-1).expand(-1, -1, D), y[:, 1:])
        if blind is not None:
            full = torch.where(blind.view(B, 1, 1), P['dec.mask'].expand(B, T, D), full)
    h = torch.cat([y[:, :1], full], dim=1) + P['dec.pos']
    for i in range(cfg['decDepth']):
        h = block(h, P, 'dec.blocks.%d' % i, cfg['decHeads'], eps)
    return h[:, 1:] @ P['dec.pred.w'] + P['dec.pred.b']


def masked_indicator(B, T, keep_idx, blind=None):
    m = torch.ones(B, T)
    if keep_idx.shape[1] > 0:
        m = m.scatter(1, keep_idx, 0.0)
    if blind is not None:
        m[blind] = 1.0
    return m


def loss_fn(pred, target, m, mask_ratio):
    return ((pred - target) ** 2 * m.unsqueeze(-1)).mean() / mask_ratio


# ---------------------------------------------------------------------------------------------
# Golden forward values

def f32_list(t):
    return [float('%.9g' % v) for v in t.detach().reshape(-1).tolist()]


def gradient_stats(P, cfg, imgs, emb, target, keep_idx, ratio):
    """[sum, L2 norm] of d loss / d param (checks the TS autograd on the whole model)."""
    leaves = OrderedDict((k, v.clone().requires_grad_()) for k, v in P.items())
    m = masked_indicator(imgs.shape[0], num_patches(cfg), keep_idx)
    loss_fn(forward(leaves, cfg, imgs, emb, keep_idx), target, m, ratio).backward()
    return OrderedDict((k, [float(v.grad.double().sum()), float(v.grad.double().norm())]) for k, v in leaves.items())


def golden_case(P, cfg, imgs, emb, target, keep_idx, ratio):
    B, T, H = imgs.shape[0], num_patches(cfg), cfg['imageSize']
    with torch.no_grad():
        pred = forward(P, cfg, imgs, emb, keep_idx)
        m = masked_indicator(B, T, keep_idx)
        sq = (pred - target) ** 2
        pix = unpatchify(sq, cfg['patchSize'], H)
        return OrderedDict(
            maskRatio=ratio, keepCount=keep_idx.shape[1], keepIndices=keep_idx.reshape(-1).tolist(),
            loss=float(loss_fn(pred, target, m, ratio)),
            pred=f32_list(pred),
            patchError=f32_list(sq.mean(-1)),
            score=f32_list((sq * m.unsqueeze(-1)).sum((1, 2))),
            pixelErrorSum=float(pix.sum()),
            pixelErrorFirstRow=f32_list(pix[0, 0, 0]),
        )


def write_golden(path, param_seed=1234, data_seed=99, batch=2, ratios=(0.75, 0.99)):
    """Inputs come from one mulberry32 stream: images, embedding, then each case's keep indices."""
    cfg = GOLDEN
    P = init_params(cfg, param_seed)
    rng = Mulberry32(data_seed)
    C, H, T = cfg['channels'], cfg['imageSize'], num_patches(cfg)
    imgs = torch.tensor(normals(rng, batch * C * H * H), dtype=torch.float32).reshape(batch, C, H, H)
    emb = torch.tensor(normals(rng, batch * cfg['embedDim']), dtype=torch.float32).reshape(batch, -1)
    keeps = [sample_keep_indices(batch, T, visible_count(cfg, r), rng) for r in ratios]
    target = patchify(imgs, cfg['patchSize'])
    golden = OrderedDict(
        generator='scripts/reference/dede_torch.py --golden (torch %s)' % torch.__version__,
        config=cfg, paramSeed=param_seed, dataSeed=data_seed, batch=batch,
        paramStats=OrderedDict((k, [float(v.double().sum()), float(v.reshape(-1)[0])]) for k, v in P.items()),
        gradStats=gradient_stats(P, cfg, imgs, emb, target, keeps[0], ratios[0]),
        images=f32_list(imgs), embedding=f32_list(emb),
        cases=[golden_case(P, cfg, imgs, emb, target, k, r) for k, r in zip(keeps, ratios)],
    )
    with open(path, 'w') as f:
        json.dump(golden, f, indent=1)
        f.write('\n')
    print('wrote %s (%d params, %d cases)' % (path, sum(v.numel() for v in P.values()), len(ratios)))


# ---------------------------------------------------------------------------------------------
# Train-step timing

def matmul_gflops(threads, n=1024, reps=3):
    """Machine calibration printed with the timings: contention on shared cores shows up here."""
    torch.set_num_threads(threads)
    a = torch.randn(n, n)
    a @ a
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ a
    return reps * 2 * n ** 3 / (time.perf_counter() - t0) / 1e9


def bench(name, preset, embed_dim=512, batch=64, mask_ratio=0.9, steps=5, warmup=2, threads=2):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = dict(preset, embedDim=embed_dim)
    P = OrderedDict((k, v.requires_grad_()) for k, v in init_params(cfg, 0).items())
    opt = torch.optim.Adam(P.values(), lr=1e-3, weight_decay=1e-6)
    T, tk = num_patches(cfg), visible_count(cfg, mask_ratio)
    imgs = torch.randn(batch, cfg['channels'], cfg['imageSize'], cfg['imageSize'])
    emb = torch.randn(batch, embed_dim)
    target = patchify(imgs, cfg['patchSize'])

    def step():
        keep_idx = torch.rand(batch, T).argsort(dim=1)[:, :tk].sort(dim=1).values
        loss = loss_fn(forward(P, cfg, imgs, emb, keep_idx), target, masked_indicator(batch, T, keep_idx), mask_ratio)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss)

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    dt = (time.perf_counter() - t0) / steps
    n = sum(v.numel() for v in P.values())
    print('%-5s batch %d, %d threads, %.2fM params: %.3f s/step, %.2f steps/s (loss %.4f)'
          % (name, batch, threads, n / 1e6, dt, 1 / dt, loss))


# ---------------------------------------------------------------------------------------------
# Training replay (bench/detect.ts --parity): the TS run's data, batch order and masks

def train_replay(path, threads=2):
    """Replays a TS training run exported to `path` and scores its test images at mask ratio 0.99.

    Reads meta.json, train_images.f32 [n,C,H,W], train_embeddings.f32 [n,D], batch_order.i32
    [steps,B], keep_indices.i32 [steps,B,Tk], blind_rows.u8 [steps,B] (optional), test_images.f32, test_embeddings.f32 (little-endian
    raw). Writes torch_scores.f32 = [robust median score of every test image, then its dedeScore]
    and prints one JSON line {"losses": [...], "trainSeconds": s}.
    """
    import os
    import numpy as np
    torch.set_num_threads(threads)
    with open(os.path.join(path, 'meta.json')) as f:
        meta = json.load(f)
    cfg = meta['config']
    C, H, D = cfg['channels'], cfg['imageSize'], cfg['embedDim']
    T, p = num_patches(cfg), cfg['patchSize']
    steps, B, tk, ratio = meta['steps'], meta['batch'], meta['keepCount'], meta['maskRatio']

    def load(name, dtype, shape):
        return torch.from_numpy(np.fromfile(os.path.join(path, name), dtype=dtype).reshape(shape).copy())

    imgs = load('train_images.f32', '<f4', (meta['trainCount'], C, H, H))
    emb = load('train_embeddings.f32', '<f4', (meta['trainCount'], D))
    order = load('batch_order.i32', '<i4', (steps, B)).long()
    keep = load('keep_indices.i32', '<i4', (steps, B, tk)).long()
    has_blind = os.path.exists(os.path.join(path, 'blind_rows.u8'))
    blind = load('blind_rows.u8', '<u1', (steps, B)).bool() if has_blind else torch.zeros(steps, B, dtype=torch.bool)
    P = OrderedDict((k, v.requires_grad_()) for k, v in init_params(cfg, meta['paramSeed']).items())
    opt = torch.optim.Adam(P.values(), lr=meta['lr'], weight_decay=meta['weightDecay'])
    losses = []
    t0 = time.perf_counter()
    for s in range(steps):
        idx = order[s]
        x, e, k, bl = imgs[idx], emb[idx], keep[s], blind[s]
        loss = loss_fn(forward(P, cfg, x, e, k, bl), patchify(x, p), masked_indicator(B, T, k, bl), ratio)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
        if (s + 1) % 100 == 0:
            print('torch replay: step %d/%d, loss %.4f, %.0f s' % (s + 1, steps, losses[-1], time.perf_counter() - t0), file=__import__('sys').stderr)
    train_seconds = time.perf_counter() - t0

    n = meta['testCount']
    timgs = load('test_images.f32', '<f4', (n, C, H, H))
    temb = load('test_embeddings.f32', '<f4', (n, D))
    robust, dede = [], []
    with torch.no_grad():
        for a in range(0, n, meta['scoreBatch']):
            x, e = timgs[a:a + meta['scoreBatch']], temb[a:a + meta['scoreBatch']]
            k = torch.zeros(x.shape[0], visible_count(cfg, 0.99), dtype=torch.long)
            sq = (forward(P, cfg, x, e, k) - patchify(x, p)) ** 2  # no patch visible: all masked
            per_patch = sq.mean(-1).sort(dim=1).values  # [b, T]
            mid = T // 2
            robust.append(per_patch[:, mid] if T % 2 else (per_patch[:, mid - 1] + per_patch[:, mid]) / 2)
            dede.append(sq.sum((1, 2)))
    out = torch.cat([torch.cat(robust), torch.cat(dede)]).numpy().astype('<f4')
    out.tofile(os.path.join(path, 'torch_scores.f32'))
    print(json.dumps({'losses': losses, 'trainSeconds': train_seconds}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--golden', metavar='PATH', help='write golden forward values (JSON)')
    ap.add_argument('--bench', nargs='+', choices=['small', 'full'], help='time Adam train steps')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--train', metavar='DIR', help='replay a training run exported by bench/detect.ts --parity')
    args = ap.parse_args()
    if not args.golden and not args.bench and not args.train:
        ap.error('nothing to do: pass --golden, --bench and/or --train')
    if args.train:
        train_replay(args.train, args.threads)
    if args.golden:
        write_golden(args.golden)
    if args.bench:
        print('calibration: %dx%d float32 MatMul at %.0f GFLOP/s (%d threads)' % (1024, 1024, matmul_gflops(args.threads), args.threads))
    for name in args.bench or []:
        bench(name, SMALL if name == 'small' else FULL, batch=args.batch, steps=args.steps, threads=args.threads)


if __name__ == '__main__':
    main()
