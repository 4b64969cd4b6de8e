// The client wrapper's side of cancellation (docs/ARCHITECTURE.md §3.2), over a real Comlink
// boundary: aborting a call's AbortSignal sends cancel(jobId) to the worker, whose job stops and
// rejects with a CancelledError that arrives as an Error named CancelledError.
import * as Comlink from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { CancelledError, CancelRegistry, isCancelled, throwIfCancelled } from '../../core/runtime/cancel';
import { yieldToEventLoop } from '../../core/runtime/yield';
import type { ModelWorkerApi } from '../../../workers/model-api';
import { workerJob, type Backend } from './model-client';

/** The slice of the worker's API these tests call: one long cancellable job, and cancel. */
interface FakeWorker {
  count(jobId: string, upTo: number): Promise<number>;
  cancel(jobId: string): void;
  running(): number;
}

const channels: MessageChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) {
    c.port1.close();
    c.port2.close();
  }
});

function connect() {
  const registry = new CancelRegistry();
  const log = { cancels: [] as string[], started: [] as string[] };
  const worker: FakeWorker = {
    count: (jobId, upTo) =>
      registry.run(jobId, async (signal) => {
        log.started.push(jobId);
        let i = 0;
        for (; i < upTo; i++) {
          await yieldToEventLoop();
          throwIfCancelled(signal);
        }
        return i;
      }),
    cancel: (jobId) => {
      log.cancels.push(jobId);
      registry.cancel(jobId);
    },
    running: () => registry.size,
  };
  const channel = new MessageChannel();
  channels.push(channel);
  Comlink.expose(worker, channel.port1 as unknown as Comlink.Endpoint);
  const remote = Comlink.wrap<FakeWorker>(channel.port2 as unknown as Comlink.Endpoint);
  // workerJob only uses api.cancel; the rest of the contract is not needed here.
  const backend = { api: remote as unknown as Comlink.Remote<ModelWorkerApi>, info: null, fallbackReason: null, terminate() {} } as unknown as Backend;
  return { remote, backend, log };
}

describe('workerJob: an AbortSignal mapped to the worker job’s cancel', () => {
  it('abort → the worker is asked to cancel that job → the call rejects with a CancelledError', async () => {
    const { remote, backend, log } = connect();
    const controller = new AbortController();
    let jobId = '';
    const call = workerJob(backend, controller.signal, (id) => {
      jobId = id;
      return remote.count(id, 10_000_000);
    }).catch((e: unknown) => e);
    while (log.started.length === 0) await new Promise((r) => setTimeout(r, 1));
    controller.abort();
    const err = await call;
    expect(log.cancels).toEqual([jobId]);
    expect(isCancelled(err)).toBe(true);
    expect(err).toMatchObject({ name: 'CancelledError' });
    expect(await remote.running()).toBe(0);
  });

  it('a signal that already fired rejects at once, without starting the job', async () => {
    const { remote, backend, log } = connect();
    const controller = new AbortController();
    controller.abort();
    await expect(workerJob(backend, controller.signal, (id) => remote.count(id, 5))).rejects.toBeInstanceOf(CancelledError);
    expect(log.started).toEqual([]);
    expect(log.cancels).toEqual([]);
  });

  it('gives each call its own job id, cancels only the aborted one, and forgets the signal once done', async () => {
    const { remote, backend, log } = connect();
    const keep = new AbortController();
    const stop = new AbortController();
    const ids: string[] = [];
    const finishing = workerJob(backend, keep.signal, (id) => (ids.push(id), remote.count(id, 50)));
    const stopped = workerJob(backend, stop.signal, (id) => (ids.push(id), remote.count(id, 10_000_000))).catch((e: unknown) => e);
    while (log.started.length < 2) await new Promise((r) => setTimeout(r, 1));
    stop.abort();
    expect(await finishing).toBe(50);
    expect(isCancelled(await stopped)).toBe(true);
    expect(new Set(ids).size).toBe(2);
    expect(log.cancels).toEqual([ids[1]]);
    // Aborting after the call ended sends nothing.
    keep.abort();
    await remote.running();
    expect(log.cancels).toEqual([ids[1]]);
  });
});
