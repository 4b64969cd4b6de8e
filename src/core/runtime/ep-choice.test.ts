import { describe, expect, it } from 'vitest';
import { chooseExecutionProvider, preferenceFromQuery, wasmThreadCount, type PlatformFacts } from './ep-choice';

const realGpu = { description: 'NVIDIA H100', vendor: 'nvidia', architecture: 'hopper', isFallbackAdapter: false };
const software = { description: '', vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true };
const facts = (adapter: PlatformFacts['adapter'], extra: Partial<PlatformFacts> = {}): PlatformFacts => ({
  adapter,
  crossOriginIsolated: true,
  hardwareConcurrency: 8,
  ...extra,
});

describe('chooseExecutionProvider', () => {
  it('uses WebGPU on a real adapter', () => {
    const c = chooseExecutionProvider('auto', facts(realGpu));
    expect(c.ep).toBe('webgpu');
    expect(c.reason).toContain('NVIDIA H100');
  });
  it('prefers WASM when the only adapter is a software fallback', () => {
    const c = chooseExecutionProvider('auto', facts(software));
    expect(c.ep).toBe('wasm');
    expect(c.reason).toContain('google swiftshader');
  });
  it('uses WASM without any adapter and says why', () => {
    const c = chooseExecutionProvider('auto', facts(null, { adapterError: 'navigator.gpu is undefined' }));
    expect(c).toMatchObject({ ep: 'wasm', reason: expect.stringContaining('navigator.gpu is undefined') });
  });
  it('honours a forced WebGPU even on a fallback adapter', () => {
    const c = chooseExecutionProvider('webgpu', facts(software));
    expect(c.ep).toBe('webgpu');
    expect(c.reason).toMatch(/software adapter/);
  });
  it('falls back to WASM when WebGPU is forced but there is no adapter', () => {
    expect(chooseExecutionProvider('webgpu', facts(null)).ep).toBe('wasm');
  });
  it('honours a forced WASM even on a real GPU', () => {
    expect(chooseExecutionProvider('wasm', facts(realGpu)).ep).toBe('wasm');
  });
});

describe('wasmThreadCount', () => {
  it('is 1 without cross-origin isolation', () => {
    expect(wasmThreadCount({ crossOriginIsolated: false, hardwareConcurrency: 16 })).toBe(1);
  });
  it('uses the cores, capped at 4', () => {
    expect(wasmThreadCount({ crossOriginIsolated: true, hardwareConcurrency: 2 })).toBe(2);
    expect(wasmThreadCount({ crossOriginIsolated: true, hardwareConcurrency: 32 })).toBe(4);
    expect(wasmThreadCount({ crossOriginIsolated: true, hardwareConcurrency: 0 })).toBe(1);
  });
});

describe('preferenceFromQuery', () => {
  it('reads ?ep=', () => {
    expect(preferenceFromQuery('?ep=webgpu')).toBe('webgpu');
    expect(preferenceFromQuery('?x=1&ep=wasm')).toBe('wasm');
    expect(preferenceFromQuery('?ep=cuda')).toBeNull();
    expect(preferenceFromQuery('')).toBeNull();
  });
});
