// The bench page's worker: ORT loaded and configured exactly as the app's model worker does it
// (loadBrowserOrt: the app's own .mjs/.wasm files, its thread count, no proxy), sessions created
// through createRuntime, images embedded through the app's EncoderRunner.
import * as Comlink from 'comlink';
import type { ExecutionProvider } from '../../src/core/runtime/ep-choice';
import { loadBrowserOrt } from '../../src/core/runtime/ort-browser';
import { createRuntime } from '../../src/core/runtime/session';
import { timeEncoder, type TimingPlan } from '../lib/embed-timing';
import type { BrowserTiming } from '../lib/encoder-page-api';
import { opTimes, parseTraceLines, profiledRuns, PROFILE_RUNS, type OpTimes } from '../lib/op-profile';

async function fetchModel(modelUrl: string): Promise<Uint8Array> {
  const response = await fetch(modelUrl);
  // A missing file comes back as the page (the preview server's HTML fallback).
  if (!response.ok || /html/.test(response.headers.get('content-type') ?? '')) throw new Error(`${modelUrl}: HTTP ${response.status}, ${response.headers.get('content-type')}: not a model`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * ORT's WASM build prints its profiler trace with console.log, bound when the module starts: collect
 * it by wrapping console.log before ORT is loaded (so only in a fresh worker).
 */
const printed: string[] = [];
let capturing = false;
const log = console.log.bind(console);
console.log = (...args: unknown[]) => {
  if (capturing) printed.push(args.map(String).join(' '));
  else log(...args);
};

const api = {
  /** `allowSpinning: false` is the one departure from the app's session options, for the diagnosis. */
  async time(modelUrl: string, ep: ExecutionProvider, threads: number, plan: TimingPlan, allowSpinning?: boolean): Promise<BrowserTiming> {
    const ort = await loadBrowserOrt(ep, threads);
    const bytes = await fetchModel(modelUrl);
    const timing = await timeEncoder(createRuntime(ort, ep, allowSpinning === false ? { allowSpinning } : {}), bytes, plan);
    return { ...timing, threads: ort.env.wasm.numThreads ?? 0, crossOriginIsolated: self.crossOriginIsolated, ortVersion: ort.env.versions.web ?? '?' };
  },

  /** Per-op-type milliseconds per run at `batch`, the session options as createRuntime sets them. */
  async profile(modelUrl: string, ep: ExecutionProvider, threads: number, batch: number): Promise<OpTimes> {
    const ort = await loadBrowserOrt(ep, threads);
    const bytes = await fetchModel(modelUrl);
    capturing = true;
    try {
      await profiledRuns(ort, bytes, { executionProviders: [ep], graphOptimizationLevel: 'all', logSeverityLevel: 3 }, batch);
    } finally {
      capturing = false;
    }
    const times = opTimes(parseTraceLines(printed.splice(0)), PROFILE_RUNS);
    if (Object.keys(times).length === 0) throw new Error('ORT printed no profiler trace');
    return times;
  },
};

export type EmbedWorkerApi = typeof api;
Comlink.expose(api);
