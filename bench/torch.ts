// The PyTorch side of bench/train.ts: runs scripts/reference/dede_torch.py --bench in a child
// process (Debian's /usr/bin/python3 with its torch) and parses the one line it prints per preset.
import { spawnSync } from 'node:child_process';

const PYTHON = '/usr/bin/python3';
const SCRIPT = 'scripts/reference/dede_torch.py';

// Torch's build-time BLAS flag says "generic" on Debian; what runs is whatever libblas.so.3 the
// alternatives system points at, so report the BLAS libraries actually mapped into the process.
const BLAS_INFO_PY = `
import re, torch
flag = re.search(r'BLAS_INFO=(\\w+)', torch.__config__.show())
libs = sorted({l.split()[-1] for l in open('/proc/self/maps') if re.search(r'blas|mkl', l.split()[-1])})
print('torch %s, build BLAS_INFO=%s, loaded: %s' % (torch.__version__, flag.group(1) if flag else '?', ', '.join(libs) or 'no BLAS library'))
`;

export interface TorchResult {
  readonly stepsPerSec: number;
  readonly loss: number;
  /** The step `loss` was measured at (the script warms up for 2 steps first). */
  readonly lastStep: number;
  /** What the script printed (calibration line and result line). */
  readonly output: readonly string[];
}

function python(args: readonly string[]): { ok: boolean; stdout: string; why: string } {
  // Spinning OpenMP threads make torch up to ~8× slower when other work shares the cores.
  const env = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 20, env });
  const lastErr = (r.stderr ?? '').trim().split('\n').at(-1) ?? '';
  const why = r.error ? r.error.message : `exit ${r.status}${lastErr ? `: ${lastErr}` : ''}`;
  return { ok: !r.error && r.status === 0, stdout: r.stdout ?? '', why };
}

/** Null when torch can be imported, otherwise why not. */
export function torchUnavailable(): string | null {
  const r = python(['-c', 'import torch']);
  return r.ok ? null : `${PYTHON} -c 'import torch' failed (${r.why})`;
}

/** One line: torch version, its build BLAS flag and the BLAS libraries it loaded. */
export function torchBlasInfo(): string {
  const r = python(['-c', BLAS_INFO_PY]);
  const info = r.ok ? r.stdout.trim() : `could not read torch's BLAS config (${r.why})`;
  return /openblas|mkl/i.test(info) ? info : `${info} (slow reference BLAS? apt-get install -y libopenblas0-pthread)`;
}

/** Times `steps` Adam steps (after the script's own 2 warm-up steps) of one preset. */
export function torchTrainStep(preset: 'small' | 'full', opts: { batch: number; steps: number; threads: number }): TorchResult {
  const args = [SCRIPT, '--bench', preset, '--batch', String(opts.batch), '--steps', String(opts.steps), '--threads', String(opts.threads)];
  const r = python(args);
  if (!r.ok) throw new Error(`${PYTHON} ${args.join(' ')} failed (${r.why})`);
  const output = r.stdout.trim().split('\n');
  // e.g. "small batch 64, 2 threads, 0.83M params: 0.123 s/step, 8.13 steps/s (loss 1.0234)"
  const m = /s\/step, ([\d.]+) steps\/s \(loss ([-\w.]+)\)/.exec(output.at(-1) ?? '');
  if (!m) throw new Error(`unexpected output from ${SCRIPT}:\n${r.stdout}`);
  return { stepsPerSec: Number(m[1]), loss: Number(m[2]), lastStep: opts.steps + 2, output };
}
