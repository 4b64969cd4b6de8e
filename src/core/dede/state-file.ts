// A compact file for a training state (parameters, Adam moments, progress): an 8-byte magic, a
// JSON header, then the float32 tensors back to back. The header carries the plan it belongs to,
// so a resume with other settings is refused instead of silently mixing runs.
import type { TrainingState } from './train-loop';

const MAGIC = 'DEDECKPT';
const VERSION = 1;

export interface StateFileHeader {
  readonly version: number;
  readonly step: number;
  readonly elapsedSeconds: number;
  readonly losses: TrainingState['losses'];
  /** End-of-epoch held-back points (absent in files written before convergence tracking). */
  readonly heldBack?: TrainingState['heldBack'];
  readonly tensors: readonly { readonly name: string; readonly length: number }[];
  /** Free-form description of the run (plan, encoder hash…), checked by the caller on resume. */
  readonly meta: Readonly<Record<string, unknown>>;
}

export function encodeTrainingState(state: TrainingState, meta: Readonly<Record<string, unknown>>): Uint8Array {
  const names = Object.keys(state.trainer.tensors).sort();
  const header: StateFileHeader = {
    version: VERSION,
    step: state.trainer.step,
    elapsedSeconds: state.elapsedSeconds,
    losses: state.losses,
    ...(state.heldBack ? { heldBack: state.heldBack } : {}),
    tensors: names.map((name) => ({ name, length: state.trainer.tensors[name]!.length })),
    meta,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerEnd = align4(8 + 4 + json.length);
  const floats = header.tensors.reduce((a, t) => a + t.length, 0);
  const out = new Uint8Array(headerEnd + floats * 4);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  const data = new Float32Array(out.buffer, headerEnd, floats);
  let offset = 0;
  for (const name of names) {
    const t = state.trainer.tensors[name]!;
    data.set(t, offset);
    offset += t.length;
  }
  return out;
}

export function decodeTrainingState(bytes: Uint8Array): { state: TrainingState; meta: Readonly<Record<string, unknown>> } {
  const fail = (why: string): never => {
    throw new Error(`Not a usable training checkpoint: ${why}.`);
  };
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) fail('the file does not start with a DeDe checkpoint header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLength = view.getUint32(8, true);
  if (12 + jsonLength > bytes.length) fail('the header is truncated');
  let header: StateFileHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLength))) as StateFileHeader;
  } catch {
    return fail('the header is not valid JSON');
  }
  if (header.version !== VERSION) fail(`format version ${String(header.version)} is not supported (expected ${VERSION})`);
  const headerEnd = align4(12 + jsonLength);
  const floats = header.tensors.reduce((a, t) => a + t.length, 0);
  if (bytes.length !== headerEnd + floats * 4) fail(`expected ${headerEnd + floats * 4} bytes, found ${bytes.length} (truncated or padded)`);
  // Copy so the tensors are aligned whatever the input's byte offset.
  const data = new Float32Array(bytes.slice(headerEnd).buffer);
  const tensors: Record<string, Float32Array> = {};
  let offset = 0;
  for (const t of header.tensors) {
    tensors[t.name] = data.slice(offset, offset + t.length);
    offset += t.length;
  }
  return {
    state: { trainer: { step: header.step, tensors }, elapsedSeconds: header.elapsedSeconds, losses: header.losses, ...(header.heldBack ? { heldBack: header.heldBack } : {}) },
    meta: header.meta,
  };
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
