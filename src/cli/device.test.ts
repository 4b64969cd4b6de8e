// --device: the argument, and the choice between CUDA and the CPU fallback.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../core/runtime/session';
import type { Ort, OrtSession } from '../core/runtime/ort-types';
import { tinyEncoderBytes } from '../testing/tiny-encoder';
import { UsageError } from './args';
import { chooseEncoderDevice, CPU_CHOICE, parseDevice } from './device';

/** A CUDA runtime whose session creation answers as told (the real one needs the CUDA libraries). */
function cudaRuntime(create: () => Promise<OrtSession>): Runtime {
  const fake = { ...ort, InferenceSession: { create } } as unknown as Ort;
  return createRuntime(fake, 'cuda');
}

describe('--device', () => {
  it('parses cpu and cuda, cpu by default, and refuses anything else', () => {
    expect(parseDevice(undefined)).toBe('cpu');
    expect(parseDevice('cpu')).toBe('cpu');
    expect(parseDevice('cuda')).toBe('cuda');
    expect(() => parseDevice('gpu')).toThrow(UsageError);
    expect(() => parseDevice('CUDA')).toThrow('--device must be cpu or cuda, got CUDA.');
  });

  it('keeps the CPU without trying CUDA when the CPU is asked for', async () => {
    const never = cudaRuntime(() => Promise.reject(new Error('must not be called')));
    expect(await chooseEncoderDevice('cpu', tinyEncoderBytes(), never)).toEqual(CPU_CHOICE);
  });

  it('falls back to the CPU, saying why, when the CUDA provider cannot be created', async () => {
    const missing = cudaRuntime(() => Promise.reject(new Error('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library\nmore')));
    expect(await chooseEncoderDevice('cuda', tinyEncoderBytes(), missing)).toEqual({
      requested: 'cuda',
      used: 'cpu',
      note: 'CUDA execution provider not available in this onnxruntime-node build (OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library): encoder on CPU',
    });
  });

  it('keeps CUDA when a session on it is created, and releases that probe session', async () => {
    let released = 0;
    const session = { release: () => Promise.resolve(void released++) } as unknown as OrtSession;
    const choice = await chooseEncoderDevice('cuda', tinyEncoderBytes(), cudaRuntime(() => Promise.resolve(session)));
    expect(choice).toEqual({ requested: 'cuda', used: 'cuda', note: 'encoder on CUDA' });
    expect(released).toBe(1);
  });

  it('asks the real onnxruntime-node for CUDA and gets an answer either way', async () => {
    const choice = await chooseEncoderDevice('cuda', tinyEncoderBytes());
    // This build ships the CPU provider only (bin/napi-v*/linux/x64 has no CUDA library): the
    // fallback; where the CUDA provider is installed, CUDA.
    if (choice.used === 'cpu') expect(choice.note).toMatch(/^CUDA execution provider not available in this onnxruntime-node build \(.+\): encoder on CPU$/);
    else expect(choice.note).toBe('encoder on CUDA');
  });
});
