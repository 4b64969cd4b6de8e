// bench:encoders calls `encoderBench` through page.evaluate: one fresh worker per model (ORT's WASM
// memory only grows), and the WebGPU adapter facts the app's EP choice would see.
import * as Comlink from 'comlink';
import type { ExecutionProvider } from '../../src/core/runtime/ep-choice';
import type { TimingPlan } from '../lib/embed-timing';
import type { BrowserTiming, EncoderBenchPage, PageFacts } from '../lib/encoder-page-api';
import type { OpTimes } from '../lib/op-profile';
import type { EmbedWorkerApi } from './embed.worker';

async function facts(): Promise<PageFacts> {
  const base = { crossOriginIsolated: self.crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency, userAgent: navigator.userAgent };
  if (!('gpu' in navigator)) return { ...base, adapter: null, adapterError: 'navigator.gpu is missing' };
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return { ...base, adapter: null, adapterError: 'requestAdapter() returned null' };
    const { description, vendor, architecture, isFallbackAdapter } = adapter.info;
    return { ...base, adapter: { description, vendor, architecture, isFallbackAdapter } };
  } catch (err) {
    return { ...base, adapter: null, adapterError: `requestAdapter() failed: ${String(err)}` };
  }
}

async function inWorker<T>(call: (api: Comlink.Remote<EmbedWorkerApi>) => Promise<T>): Promise<T> {
  const worker = new Worker(new URL('./embed.worker.ts', import.meta.url), { type: 'module', name: 'dede-encoder-bench' });
  try {
    return await call(Comlink.wrap<EmbedWorkerApi>(worker));
  } finally {
    worker.terminate();
  }
}

const time = (modelUrl: string, ep: ExecutionProvider, threads: number, plan: TimingPlan, allowSpinning?: boolean): Promise<BrowserTiming> =>
  inWorker((api) => api.time(modelUrl, ep, threads, plan, allowSpinning));
const profile = (modelUrl: string, ep: ExecutionProvider, threads: number, batch: number): Promise<OpTimes> =>
  inWorker((api) => api.profile(modelUrl, ep, threads, batch));

(globalThis as unknown as { encoderBench: EncoderBenchPage }).encoderBench = { facts, time, profile };
