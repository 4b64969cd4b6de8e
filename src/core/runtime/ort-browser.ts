// Loads the ORT build for an execution provider in a browser worker, with its .mjs/.wasm served
// from our own origin. The `?url` imports make Vite emit those files; passing both to wasmPaths is
// what keeps multithreaded WASM from hanging in production builds (docs/ARCHITECTURE.md §3.4).
// Vite-only: never import this from Node code.
import asyncifyMjs from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import asyncifyWasm from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import plainMjs from 'onnxruntime-web/ort-wasm-simd-threaded.mjs?url';
import plainWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import type { ExecutionProvider } from './ep-choice';
import type { Ort } from './ort-types';

export async function loadBrowserOrt(ep: ExecutionProvider, wasmThreads: number): Promise<Ort> {
  // The native WebGPU EP build also carries the WASM CPU kernels; the plain WASM build is half its size.
  const ort: Ort = ep === 'webgpu' ? await import('onnxruntime-web/webgpu') : await import('onnxruntime-web/wasm');
  ort.env.wasm.wasmPaths =
    ep === 'webgpu' ? { mjs: asyncifyMjs, wasm: asyncifyWasm } : { mjs: plainMjs, wasm: plainWasm };
  ort.env.wasm.numThreads = wasmThreads;
  ort.env.wasm.proxy = false; // already inside a worker
  ort.env.logLevel = 'error';
  return ort;
}
