// Small helpers the bench's steps share: the CPU runtime, concatenation, labels, MSE.
import { writeFileSync } from 'node:fs';
import * as ortNode from 'onnxruntime-node';
import { concatArrays } from '../../src/core/concat';
import { createRuntime, type Runtime } from '../../src/core/runtime/session';
import { fixed } from '../lib/format';
import { THREADS } from './settings';

export const log = (s: string): void => console.log(s);
/** Three decimals unless told otherwise (the bench's AUROCs and rates). */
export const f = (x: number | null | undefined, d = 3): string => fixed(x, d);

/** The runtime seam's CPU runtime, 2 intra-op threads and no spin-waiting (shared cores; see bench/train.ts). */
export function nativeRuntime(): Runtime {
  return createRuntime(ortNode, 'cpu', { intraOpThreads: THREADS, allowSpinning: false });
}

/** The parts back to back as Float64 (scores of several sets). */
export function concat(...parts: readonly ArrayLike<number>[]): Float64Array {
  return concatArrays(Float64Array, parts);
}

export function concatF32(a: Float32Array, b: Float32Array): Float32Array {
  return concatArrays(Float32Array, [a, b]);
}

export function writeF32(path: string, a: Float32Array): void {
  writeFileSync(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

export function labels(neg: number, pos: number): boolean[] {
  return [...Array<boolean>(neg).fill(false), ...Array<boolean>(pos).fill(true)];
}

export function mse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] as number) - (b[i] as number)) ** 2;
  return s / a.length;
}
