// Which ONNX Runtime execution provider to use. Pure: the worker gathers the facts, this decides.

export type ExecutionProvider = 'webgpu' | 'wasm';
export type EpPreference = 'auto' | ExecutionProvider;

export interface GpuAdapterFacts {
  /** Human-readable adapter name, e.g. "NVIDIA GeForce RTX 4070" or "SwiftShader". */
  readonly description: string;
  readonly vendor: string;
  readonly architecture: string;
  /** A software or otherwise degraded adapter (GPUAdapterInfo.isFallbackAdapter). */
  readonly isFallbackAdapter: boolean;
}

export interface PlatformFacts {
  /** null when WebGPU is missing or requestAdapter() returned nothing. */
  readonly adapter: GpuAdapterFacts | null;
  /** Why there is no adapter, when there is none (shown to the user). */
  readonly adapterError?: string;
  /** Multithreaded WASM needs SharedArrayBuffer, i.e. cross-origin isolation. */
  readonly crossOriginIsolated: boolean;
  readonly hardwareConcurrency: number;
}

export interface EpChoice {
  readonly ep: ExecutionProvider;
  /** WASM threads ORT should use (1 without cross-origin isolation). */
  readonly wasmThreads: number;
  /** One sentence for the user: why this backend. */
  readonly reason: string;
}

/** Cap on ORT WASM threads: more rarely helps and starves the UI and image decoding. */
export const MAX_WASM_THREADS = 4;

export function wasmThreadCount(facts: Pick<PlatformFacts, 'crossOriginIsolated' | 'hardwareConcurrency'>): number {
  if (!facts.crossOriginIsolated) return 1;
  const cores = Number.isFinite(facts.hardwareConcurrency) && facts.hardwareConcurrency > 0 ? facts.hardwareConcurrency : 1;
  return Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(cores)));
}

export function chooseExecutionProvider(preference: EpPreference, facts: PlatformFacts): EpChoice {
  const wasmThreads = wasmThreadCount(facts);
  const adapter = facts.adapter;
  if (preference === 'wasm') {
    return { ep: 'wasm', wasmThreads, reason: 'WASM was chosen in the settings.' };
  }
  if (preference === 'webgpu') {
    if (!adapter) {
      // Forcing cannot conjure an adapter: say so, and still run.
      return {
        ep: 'wasm',
        wasmThreads,
        reason: `WebGPU was requested but is unavailable (${facts.adapterError ?? 'no adapter'}); using WASM.`,
      };
    }
    return {
      ep: 'webgpu',
      wasmThreads,
      reason: adapter.isFallbackAdapter
        ? `WebGPU was forced on a software adapter (${adapterLabel(adapter)}): correct but slow.`
        : `WebGPU was chosen in the settings (${adapterLabel(adapter)}).`,
    };
  }
  if (!adapter) {
    return { ep: 'wasm', wasmThreads, reason: `No WebGPU adapter (${facts.adapterError ?? 'not supported by this browser'}).` };
  }
  if (adapter.isFallbackAdapter) {
    // Software WebGPU (e.g. SwiftShader) runs 60–170× slower than WASM on the same CPU.
    return {
      ep: 'wasm',
      wasmThreads,
      reason: `Only a software WebGPU adapter was found (${adapterLabel(adapter)}); WASM is faster on this machine.`,
    };
  }
  return { ep: 'webgpu', wasmThreads, reason: `GPU found: ${adapterLabel(adapter)}.` };
}

export function adapterLabel(adapter: GpuAdapterFacts): string {
  if (adapter.description.trim() !== '') return adapter.description;
  const named = [adapter.vendor, adapter.architecture].filter((s) => s.trim() !== '').join(' ');
  return named !== '' ? named : 'unnamed adapter';
}

/** Reads `?ep=webgpu|wasm|auto`; anything else is ignored (null). */
export function preferenceFromQuery(search: string): EpPreference | null {
  const value = new URLSearchParams(search).get('ep');
  return value === 'webgpu' || value === 'wasm' || value === 'auto' ? value : null;
}
