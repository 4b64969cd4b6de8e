// Where an encoder's run time goes, per ONNX op type, from ONNX Runtime's own profiler (Chrome
// trace events; onnxruntime-node writes them to a file, the WASM build prints them to the console).
// bench:encoders compares onnxruntime-node and WASM this way to tell a slow kernel from a missing
// fusion or an op that falls back to something slow. DOM-free and Node-free.
import { seededImages, IMAGE_SIZE, INPUT_NAME } from './embed-timing';
import type { Ort, OrtSessionOptions } from '../../src/core/runtime/ort-types';

/** Milliseconds per op type (the node's op_name), summed over the profiled runs, divided by `runs`. */
export type OpTimes = Record<string, number>;

interface TraceEvent {
  readonly cat?: string;
  readonly name?: string;
  readonly dur?: number;
  readonly args?: { readonly op_name?: string };
}

/** Sums ORT's per-node kernel times by op type; `runs` are the runs the trace holds. */
export function opTimes(events: readonly unknown[], runs: number): OpTimes {
  const out: OpTimes = {};
  for (const e of events as readonly TraceEvent[]) {
    if (e?.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || typeof e.dur !== 'number') continue;
    const op = e.args?.op_name ?? '?';
    out[op] = (out[op] ?? 0) + e.dur / 1000 / runs;
  }
  return out;
}

/** The trace ORT printed, one event per line between "[" and "]" (trailing commas allowed). */
export function parseTraceLines(lines: readonly string[]): unknown[] {
  const events: unknown[] = [];
  for (const raw of lines) {
    const line = raw.trim().replace(/,$/, '');
    if (!line.startsWith('{')) continue;
    try {
      events.push(JSON.parse(line));
    } catch {
      // not an event line
    }
  }
  return events;
}

export const PROFILE_RUNS = 2;

/**
 * Creates a profiling session with `options` (the bench's usual ones plus enableProfiling), runs
 * the model PROFILE_RUNS times on `batch` seeded images and ends profiling; what ORT does with the
 * trace (a file, the console) is the caller's to collect.
 */
export async function profiledRuns(ort: Ort, bytes: Uint8Array, options: OrtSessionOptions, batch: number): Promise<void> {
  const session = await ort.InferenceSession.create(bytes, { ...options, enableProfiling: true });
  try {
    const input = new ort.Tensor('float32', seededImages(batch), [batch, 3, IMAGE_SIZE, IMAGE_SIZE]);
    for (let i = 0; i < PROFILE_RUNS; i++) {
      const out = await session.run({ [INPUT_NAME]: input });
      for (const t of Object.values(out)) t.dispose();
    }
    session.endProfiling();
  } finally {
    await session.release();
  }
}
