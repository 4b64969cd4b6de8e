// Test-only helper: run one of our Models in onnxruntime-node (native CPU) or in onnxruntime-web's
// WASM backend under Node (the same kernels the browser uses without WebGPU). Lives outside
// src/core because it is Node-only; only *.test.ts files import it.

import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import type { Model } from '../core/onnx/graph';
import { serializeModel } from '../core/onnx/serialize';

export interface OrtResult {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export type OrtBackend = 'node' | 'web-wasm';
export type OrtRun = (feeds: Readonly<Record<string, Float32Array>>) => Promise<Record<string, OrtResult>>;

/** Create a session once and run it many times (e.g. a train step fed back into itself). */
export async function ortSession(model: Model, backend: OrtBackend = 'node'): Promise<OrtRun> {
  const ort = backend === 'node' ? ortNode : ortWeb;
  if (backend === 'web-wasm') ortWeb.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(serializeModel(model), {
    graphOptimizationLevel: 'all',
    ...(backend === 'node' ? { intraOpNumThreads: 1 } : { executionProviders: ['wasm'] }),
  });
  const shapes = new Map(model.graph.inputs.map((i) => [i.name, i.shape]));
  return async (feeds) => {
    const inputs: Record<string, ortNode.Tensor> = {};
    for (const [name, data] of Object.entries(feeds)) {
      const shape = shapes.get(name);
      if (!shape) throw new Error(`ortSession: ${name} is not a graph input`);
      inputs[name] = new ort.Tensor('float32', data, [...shape]);
    }
    const out = await session.run(inputs);
    const res: Record<string, OrtResult> = {};
    for (const [name, t] of Object.entries(out)) res[name] = { shape: t.dims, data: Float32Array.from(t.data as ArrayLike<number>) };
    return res;
  };
}
