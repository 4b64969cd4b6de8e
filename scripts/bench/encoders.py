#!/usr/bin/python3
"""The model side of `npm run bench:encoders`: 224-px encoders exported with random weights, their
dynamic int8 quantizations, and PyTorch's own images/s.

  /usr/bin/python3 scripts/bench/encoders.py export --out DIR
  /usr/bin/python3 scripts/bench/encoders.py torch [--threads 2] [--plan JSON]

`export` writes into DIR (a cache, never committed), with a fixed seed:
- vit-s16.onnx: torchvision VisionTransformer(224, patch 16, 12 layers, 6 heads, width 384, MLP 1536)
  with the classification head removed: the CLS embedding [N, 384];
- resnet50.onnx: torchvision resnet50 with fc = Identity: the pooled feature [N, 2048]; its
  BatchNorm statistics measured on random images first (calibrate_batchnorm);
  both opset 17, input `pixel_values` float32 [N, 3, 224, 224] with a dynamic N, output `embedding`;
- <name>.int8.onnx: a dynamic int8 quantization in the manner of onnxruntime's quantize_dynamic
  (its Python tools are not installable here): every MatMul and Gemm with a constant weight becomes
  DynamicQuantizeLinear(activation) -> MatMulInteger(activation_q, weight_q, zero points) -> Cast ->
  Mul(activation scale x weight scales) (-> Add bias), weights int8 on 7 bits (WEIGHT_MAX),
  symmetric, one scale per output column; activations uint8 with one scale per tensor, computed at run time. The ResNet-50 (no
  MatMul or Gemm left once fc is gone) has every Conv as ConvInteger instead (weights uint8 around a
  zero point of 128, one scale per output channel: uint8 x uint8 is the pairing onnxruntime's
  ConvInteger kernel supports; int8 weights were not tried); the ViT's one Conv, the patch
  embedding, stays float;
- manifest.json: what each file is, its size and how many nodes were quantized.
Files are rebuilt only when missing or written by another RECIPE.

`torch` prints one JSON object: images/s (median over timed runs after a warm-up; the plan's
batch sizes, minimum runs and seconds, as bench/lib/embed-timing.ts does for ORT) of each model at
each batch size with torch.set_num_threads(threads), eval mode, no_grad; float32 for both models, and
torch.ao.quantization.quantize_dynamic (nn.Linear only: PyTorch has no dynamic Conv) for the ViT.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

# Bump when an export or the quantization changes: cached files from another recipe are rebuilt.
RECIPE = 6
SEED = 0
IMAGE = 224
OPSET = 17
INPUT = 'pixel_values'
OUTPUT = 'embedding'


def build_model(name, calibrate=True):
    """calibrate=False skips the ResNet's BatchNorm calibration: same graph and cost, for timing only."""
    import torchvision
    torch.manual_seed(SEED)
    if name == 'vit-s16':
        m = torchvision.models.VisionTransformer(image_size=IMAGE, patch_size=16, num_layers=12, num_heads=6,
                                                 hidden_dim=384, mlp_dim=1536)
        m.heads = nn.Identity()
    elif name == 'resnet50':
        m = torchvision.models.resnet50()
        m.fc = nn.Identity()
        if calibrate:
            calibrate_batchnorm(m)
    else:
        raise ValueError(f'unknown model {name}')
    return m.eval()


def calibrate_batchnorm(m):
    """BatchNorm running statistics measured on random images, as training would leave them. With the
    initial ones (mean 0, variance 1) eval-mode BatchNorm normalises nothing, activations grow block
    after block, and every input gets nearly the same embedding (cosine 0.9999 between different
    images): nothing a quantization error could be measured against."""
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.reset_running_stats()
            mod.momentum = None  # cumulative average over the calibration batches
    gen = torch.Generator().manual_seed(SEED + 1)
    m.train()
    with torch.no_grad():
        for _ in range(2):
            m(torch.randn(8, 3, IMAGE, IMAGE, generator=gen))
    m.eval()


MODELS = {'vit-s16': 384, 'resnet50': 2048}


def export_float(name, path):
    m = build_model(name)
    x = torch.randn(2, 3, IMAGE, IMAGE)
    # Not under no_grad: there nn.MultiheadAttention takes a fused fast path that cannot be exported.
    torch.onnx.export(m, x, path, opset_version=OPSET, input_names=[INPUT], output_names=[OUTPUT],
                      dynamic_axes={INPUT: {0: 'batch'}, OUTPUT: {0: 'batch'}}, do_constant_folding=True)
    model = onnx.load(path)
    # The exporter leaves the ViT's width symbolic after the CLS Gather; state it, as real exports do.
    out_dim = model.graph.output[0].type.tensor_type.shape.dim[1]
    if out_dim.dim_param:
        out_dim.ClearField('dim_param')
        out_dim.dim_value = MODELS[name]
    onnx.checker.check_model(model)
    onnx.save(model, path)
    dims = [d.dim_value or d.dim_param for d in model.graph.output[0].type.tensor_type.shape.dim]
    if dims[1:] != [MODELS[name]]:
        raise RuntimeError(f'{path}: output shaped {dims}, expected [batch, {MODELS[name]}]')
    return sum(p.numel() for p in m.parameters())


# ---------------------------------------------------------------------------------------------
# Dynamic int8 quantization.

# Weights use 7 bits (quantize_dynamic's reduce_range): on x86 without VNNI onnxruntime multiplies
# uint8 x int8 with vpmaddubsw, whose int16 sums of two products saturate past 32767; with full
# 8-bit weights the ViT's embeddings came out at cosine ~0.93 to the float model's, with 7 bits ~0.999.
WEIGHT_MAX = 63


class Quantizer:
    def __init__(self, model, conv):
        self.model = model
        self.graph = model.graph
        self.with_conv = conv
        self.inits = {t.name: t for t in self.graph.initializer}
        # The exporter shares equal initializers (e.g. the all-zero biases of folded BatchNorms) through
        # Identity nodes: look through them.
        for n in self.graph.node:
            if n.op_type == 'Identity' and n.input[0] in self.inits:
                self.inits[n.output[0]] = self.inits[n.input[0]]
        self.activations = {}  # float tensor name -> (q, scale, zero point) from one DynamicQuantizeLinear
        self.new_nodes = []
        self.new_inits = []
        self.counts = {'MatMul': 0, 'Gemm': 0, 'Conv': 0}

    def const(self, name):
        t = self.inits.get(name)
        return None if t is None else numpy_helper.to_array(t)

    def add_init(self, array, name):
        self.new_inits.append(numpy_helper.from_array(array, name))
        return name

    def quantize_activation(self, name):
        if name not in self.activations:
            outs = [f'{name}_q', f'{name}_scale', f'{name}_zp']
            self.new_nodes.append(helper.make_node('DynamicQuantizeLinear', [name], outs, name=f'{name}_DynamicQuantizeLinear'))
            self.activations[name] = tuple(outs)
        return self.activations[name]

    def rescale(self, base, acc, x_scale, w_scale, out, bias=None):
        """int32 accumulator -> float: Cast, times (activation scale x weight scales), plus bias."""
        scale = f'{base}_scale'
        cast = f'{base}_float'
        self.new_nodes.append(helper.make_node('Mul', [x_scale, w_scale], [scale], name=f'{base}_scale_mul'))
        self.new_nodes.append(helper.make_node('Cast', [acc], [cast], to=TensorProto.FLOAT, name=f'{base}_cast'))
        if bias is None:
            self.new_nodes.append(helper.make_node('Mul', [cast, scale], [out], name=f'{base}_rescale'))
        else:
            self.new_nodes.append(helper.make_node('Mul', [cast, scale], [f'{base}_unbiased'], name=f'{base}_rescale'))
            self.new_nodes.append(helper.make_node('Add', [f'{base}_unbiased', bias], [out], name=f'{base}_bias'))

    def matmul(self, node, a, w, out, bias=None):
        """a [.., K] x w [K, N]: int8 symmetric weights, one scale per output column N."""
        base = node.name or out
        absmax = np.abs(w).max(axis=0)
        scale = np.where(absmax > 0, absmax / WEIGHT_MAX, 1.0).astype(np.float32)
        wq = np.clip(np.round(w / scale), -WEIGHT_MAX, WEIGHT_MAX).astype(np.int8)
        xq, xs, xz = self.quantize_activation(a)
        wq_name = self.add_init(wq, f'{base}_W_q')
        ws_name = self.add_init(scale, f'{base}_W_scale')
        wz_name = self.add_init(np.array(0, dtype=np.int8), f'{base}_W_zp')
        acc = f'{base}_int32'
        self.new_nodes.append(helper.make_node('MatMulInteger', [xq, wq_name, xz, wz_name], [acc], name=f'{base}_MatMulInteger'))
        self.rescale(base, acc, xs, ws_name, out, bias)

    def conv(self, node, x, w, out, bias):
        """ConvInteger: uint8 weights, zero point 128, one scale per output channel (dim 0)."""
        base = node.name or out
        absmax = np.abs(w).reshape(w.shape[0], -1).max(axis=1)
        scale = np.where(absmax > 0, absmax / 127.0, 1.0).astype(np.float32)
        wq = (np.clip(np.round(w / scale.reshape(-1, 1, 1, 1)), -127, 127) + 128).astype(np.uint8)
        xq, xs, xz = self.quantize_activation(x)
        wq_name = self.add_init(wq, f'{base}_W_q')
        ws_name = self.add_init(scale.reshape(1, -1, 1, 1), f'{base}_W_scale')
        wz_name = self.add_init(np.array(128, dtype=np.uint8), f'{base}_W_zp')
        b_name = None
        if bias is not None:
            b_name = self.add_init(bias.reshape(1, -1, 1, 1).astype(np.float32), f'{base}_B')
        acc = f'{base}_int32'
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        self.new_nodes.append(helper.make_node('ConvInteger', [xq, wq_name, xz, wz_name], [acc], name=f'{base}_ConvInteger', **attrs))
        self.rescale(base, acc, xs, ws_name, out, b_name)

    def visit(self, node):
        """Appends the node's replacement (or the node itself) to new_nodes."""
        if node.op_type == 'MatMul':
            w = self.const(node.input[1])
            if w is not None and w.ndim == 2 and w.dtype == np.float32:
                self.matmul(node, node.input[0], w, node.output[0])
                self.counts['MatMul'] += 1
                return
        elif node.op_type == 'Gemm':
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            w = self.const(node.input[1])
            bias_name = node.input[2] if len(node.input) > 2 and node.input[2] else None
            plain = attrs.get('alpha', 1.0) == 1.0 and attrs.get('beta', 1.0) == 1.0 and not attrs.get('transA', 0)
            if w is not None and plain and w.dtype == np.float32:
                if attrs.get('transB', 0):
                    w = w.T
                self.matmul(node, node.input[0], np.ascontiguousarray(w), node.output[0], bias_name)
                self.counts['Gemm'] += 1
                return
        elif node.op_type == 'Conv' and self.with_conv:
            w = self.const(node.input[1])
            bias = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if w is not None and w.ndim == 4 and attrs.get('group', 1) == 1 and (len(node.input) < 3 or bias is not None):
                self.conv(node, node.input[0], w, node.output[0], bias)
                self.counts['Conv'] += 1
                return
        self.new_nodes.append(node)

    def run(self):
        for node in self.graph.node:
            self.visit(node)
        used = {i for n in self.new_nodes for i in n.input}
        kept = [t for t in self.graph.initializer if t.name in used]
        del self.graph.initializer[:]
        self.graph.initializer.extend(kept + self.new_inits)
        del self.graph.node[:]
        self.graph.node.extend(self.new_nodes)
        # MatMulInteger, ConvInteger and DynamicQuantizeLinear are opset 10/11 ops: the model's 17 covers them.
        return self.counts


def quantize(src, dst, conv):
    model = onnx.load(src)
    counts = Quantizer(model, conv).run()
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    return counts


def export(out):
    os.makedirs(out, exist_ok=True)
    manifest_path = os.path.join(out, 'manifest.json')
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        manifest = {}
    if manifest.get('recipe') != RECIPE or not all(os.path.exists(os.path.join(out, e['file'])) for e in manifest.get('models', [])):
        manifest = {'recipe': RECIPE, 'seed': SEED, 'models': []}
        for name, dim in MODELS.items():
            t0 = time.time()
            path = os.path.join(out, f'{name}.onnx')
            params = export_float(name, path)
            manifest['models'].append({'model': name, 'variant': 'fp32', 'file': f'{name}.onnx', 'dim': dim, 'params': params,
                                       'bytes': os.path.getsize(path), 'quantized': None})
            # A ResNet-50 is all Conv (its fc is gone): quantizing it means ConvInteger. The ViT's one Conv
            # (the patch embedding) is ~2% of its FLOPs and stays float.
            for variant, conv in [('int8', name == 'resnet50')]:
                qpath = os.path.join(out, f'{name}.{variant}.onnx')
                counts = quantize(path, qpath, conv)
                manifest['models'].append({'model': name, 'variant': variant, 'file': f'{name}.{variant}.onnx', 'dim': dim,
                                           'params': params, 'bytes': os.path.getsize(qpath), 'quantized': counts})
            print(f'exported {name} in {time.time() - t0:.1f} s', file=sys.stderr)
        with open(manifest_path, 'w') as f:
            json.dump(manifest, f, indent=1)
    print(json.dumps(manifest))


# ---------------------------------------------------------------------------------------------
# PyTorch images/s.

def time_model(m, batch, plan):
    """The protocol of bench/lib/embed-timing.ts: a warm-up run, then timed runs until both minimums
    are met (or max_seconds is spent), images/s from the median run."""
    x = torch.randn(batch, 3, IMAGE, IMAGE, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        m(x)  # warm-up
        times = []
        start = time.perf_counter()
        while True:
            t = time.perf_counter()
            m(x)
            times.append(time.perf_counter() - t)
            elapsed = time.perf_counter() - start
            if elapsed > plan['maxSeconds'] or (len(times) >= plan['minRuns'] and elapsed >= plan['minSeconds']):
                break
    med = statistics.median(times)
    return {'batch': batch, 'imagesPerSec': batch / med, 'runs': len(times), 'medianMs': med * 1000,
            'minMs': min(times) * 1000, 'maxMs': max(times) * 1000}


def time_batches(m, plan):
    out, best = [], 0.0
    for b in plan['batches']:
        if best > 0 and b / best > plan['maxRunSeconds']:
            out.append({'batch': b, 'imagesPerSec': None, 'runs': 0, 'medianMs': None,
                        'skipped': f'one run would take ~{b / best:.0f} s (> {plan["maxRunSeconds"]} s)'})
            continue
        r = time_model(m, b, plan)
        best = max(best, r['imagesPerSec'])
        out.append(r)
    return out


def bench_torch(plan, threads):
    torch.set_num_threads(threads)
    engine = None
    for candidate in ('fbgemm', 'onednn', 'x86', 'qnnpack'):
        if candidate in torch.backends.quantized.supported_engines:
            engine = candidate
            break
    results = []
    for name in MODELS:
        variants = [('fp32', build_model(name, calibrate=False))]
        if name == 'vit-s16' and engine:
            torch.backends.quantized.engine = engine
            q = torch.ao.quantization.quantize_dynamic(build_model(name, calibrate=False), {nn.Linear}, dtype=torch.qint8)
            variants.append(('int8', q))
        for variant, m in variants:
            batches = time_batches(m, plan)
            results.append({'model': name, 'variant': variant, 'batches': batches})
            print(f'torch {name} {variant}: ' + ', '.join(f'b{r["batch"]} {r["imagesPerSec"] or 0:.2f}/s' for r in batches), file=sys.stderr)
    notes = ['int8 = torch.ao.quantization.quantize_dynamic(nn.Linear, qint8) on the ViT only (engine '
             f'{engine}); the MHA out_proj is not quantizable that way, and PyTorch has no dynamic Conv, so the '
             'ResNet-50 has no PyTorch int8 row']
    print(json.dumps({'torch': torch.__version__, 'threads': threads, 'quantizedEngine': engine, 'results': results, 'notes': notes}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('command', choices=['export', 'torch'])
    p.add_argument('--out', help='cache folder for the exported models (export)')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--plan', default='{"batches": [1, 4, 8, 16], "minRuns": 3, "minSeconds": 2, "maxSeconds": 12, "maxRunSeconds": 10}',
                   help='timing plan as JSON (bench/lib/embed-timing.ts TimingPlan)')
    a = p.parse_args()
    if a.command == 'export':
        if not a.out:
            p.error('export needs --out DIR')
        export(a.out)
    else:
        bench_torch(json.loads(a.plan), a.threads)


if __name__ == '__main__':
    main()
