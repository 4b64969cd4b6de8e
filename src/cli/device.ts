// `--device cpu|cuda`: where the CLI runs the encoder (docs/ARCHITECTURE.md §2.1). onnxruntime-node
// ships the CPU provider; the CUDA provider's libraries come only with an install that asked for them
// (ONNXRUNTIME_NODE_INSTALL_CUDA, deploy/README.md) on a host with CUDA. So `cuda` is a request: a
// session is created with the CUDA provider once, on the encoder itself, and when that fails the
// encoder runs on the CPU. The choice is printed and recorded in the report's settings. The decoder
// is small and stays on the CPU.
import * as ort from 'onnxruntime-node';
import { createRuntime, type Runtime } from '../core/runtime/session';
import { errorText } from '../core/runtime/error-text';
import { UsageError } from './args';

export type CliDevice = 'cpu' | 'cuda';

export interface DeviceChoice {
  readonly requested: CliDevice;
  readonly used: CliDevice;
  /** One line on the choice, as printed. */
  readonly note: string;
}

export const DEVICE_HELP = `  --device cpu|cuda    where the encoder runs (default cpu); cuda falls back to the CPU, saying why,
                       when this onnxruntime-node has no CUDA provider or it cannot load the model
`;

export function parseDevice(value: unknown): CliDevice {
  if (value === undefined || value === 'cpu') return 'cpu';
  if (value === 'cuda') return 'cuda';
  throw new UsageError(`--device must be cpu or cuda, got ${String(value)}.`);
}

export const CPU_CHOICE: DeviceChoice = Object.freeze({ requested: 'cpu', used: 'cpu', note: 'encoder on CPU' });

/**
 * Where the encoder `model` will run. With `cuda`, one session is made on the CUDA provider and
 * released: success keeps CUDA, any failure (no provider library, no GPU, an operator it cannot
 * place) falls back to the CPU. `runtime` is the CUDA runtime (a parameter so tests can stand in one).
 */
export async function chooseEncoderDevice(requested: CliDevice, model: Uint8Array, runtime: Runtime = createRuntime(ort, 'cuda')): Promise<DeviceChoice> {
  if (requested === 'cpu') return CPU_CHOICE;
  try {
    const session = await runtime.createSession(model);
    await session.release();
    return { requested, used: 'cuda', note: 'encoder on CUDA' };
  } catch (err) {
    const why = errorText(err).replace(/^ONNX Runtime \(cuda\) could not load the model: /, '').split('\n')[0];
    return { requested, used: 'cpu', note: `CUDA execution provider not available in this onnxruntime-node build (${why}): encoder on CPU` };
  }
}
