import { describe, expect, it } from 'vitest';
import { CancelledError } from '../../core/runtime/cancel';
import { DeviceLostError } from '../../core/runtime/device-loss';
import { BACKEND_REPLACED_ERROR, Heartbeat, respondToFault, retriesOnNewBackend, WORKER_CRASHED_ERROR } from './fault-policy';

const named = (name: string, message = 'x') => Object.assign(new Error(message), { name });

describe('Heartbeat', () => {
  it('pings while answers come within the timeout, and calls a worker dead once silent longer', () => {
    const beat = new Heartbeat(1_000, 120_000);
    expect(beat.tick(6_000)).toBe('ping');
    expect(beat.tick(121_000)).toBe('ping'); // exactly the timeout: still alive
    expect(beat.tick(121_001)).toBe('dead');
    beat.answered(100_000);
    expect(beat.tick(121_001)).toBe('ping');
    expect(beat.tick(220_001)).toBe('dead');
    expect(beat.silentFor(220_001)).toBeCloseTo(120.001, 6);
  });

  it('ignores a late answer that arrives out of order', () => {
    const beat = new Heartbeat(0, 10);
    beat.answered(50);
    beat.answered(20); // an older ping's answer
    expect(beat.tick(60)).toBe('ping');
    expect(beat.tick(61)).toBe('dead');
  });
});

describe('respondToFault', () => {
  it('a lost GPU moves the page to WASM, whatever crashed before', () => {
    for (const crashes of [0, 1, 5]) {
      expect(respondToFault({ kind: 'device-lost', message: 'simulated' }, crashes)).toEqual({
        kind: 'wasm',
        gpuLostReason: 'The GPU device was lost (simulated).',
        notice: 'GPU device lost (simulated): continuing on WASM (CPU).',
      });
    }
  });

  it('restarts after a first crash and stops with a reload after the second', () => {
    const signal = { kind: 'worker-crashed', message: 'The model worker stopped unexpectedly (no answer for 120 s)' } as const;
    expect(respondToFault(signal, 0)).toEqual({ kind: 'restart', notice: 'The model worker stopped unexpectedly (no answer for 120 s); restarted.' });
    const second = respondToFault(signal, 1);
    expect(second.kind).toBe('stop');
    expect(second.kind === 'stop' && second.message).toMatch(/^The model worker stopped unexpectedly \(no answer for 120 s\) again, so it was not restarted\. Reload the page/);
  });
});

describe('retriesOnNewBackend', () => {
  it('retries jobs interrupted by the backend, never cancellations or the job’s own errors', () => {
    expect(retriesOnNewBackend(new DeviceLostError('GPU device lost: x'))).toBe(true);
    expect(retriesOnNewBackend(named('DeviceLostError'))).toBe(true); // as Comlink rebuilds it
    expect(retriesOnNewBackend(named(WORKER_CRASHED_ERROR))).toBe(true);
    expect(retriesOnNewBackend(named(BACKEND_REPLACED_ERROR))).toBe(true);
    expect(retriesOnNewBackend(new CancelledError())).toBe(false);
    expect(retriesOnNewBackend(new Error('The model worker stopped unexpectedly'))).toBe(false);
    expect(retriesOnNewBackend('WorkerCrashedError')).toBe(false);
  });
});
