import * as Comlink from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { DownloadError } from '../hub/download';
import { CancelledError, CancelRegistry, isCancelled, throwIfCancelled } from './cancel';
import { yieldToEventLoop } from './yield';

describe('isCancelled', () => {
  it('recognises a CancelledError, and an Error that carries its name (as Comlink rebuilds it)', () => {
    expect(isCancelled(new CancelledError())).toBe(true);
    expect(isCancelled(new CancelledError('Download cancelled.'))).toBe(true);
    expect(isCancelled(Object.assign(new Error('Cancelled by the user.'), { name: 'CancelledError' }))).toBe(true);
  });

  it('recognises nothing else, whatever its message says', () => {
    const others: unknown[] = [
      new Error('Cancelled by the user.'),
      new Error('CancelledError'),
      new DOMException('The operation was aborted.', 'AbortError'),
      new DownloadError('network', 'Download cancelled.'),
      { name: 'CancelledError', message: 'not an Error' },
      'CancelledError',
      null,
      undefined,
    ];
    for (const err of others) expect(isCancelled(err), String(err)).toBe(false);
  });
});

describe('throwIfCancelled', () => {
  it('throws a CancelledError once the signal fired, whatever reason it was given', () => {
    const c = new AbortController();
    expect(() => throwIfCancelled(c.signal)).not.toThrow();
    expect(() => throwIfCancelled(undefined)).not.toThrow();
    c.abort(new Error('some other reason'));
    expect(() => throwIfCancelled(c.signal)).toThrow(CancelledError);
    expect(() => throwIfCancelled(c.signal, 'Scan cancelled.')).toThrow('Scan cancelled.');
    // The registry's own reason is thrown as is.
    const reason = new CancelledError('stopped');
    const d = new AbortController();
    d.abort(reason);
    let thrown: unknown;
    try {
      throwIfCancelled(d.signal);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBe(reason);
  });
});

describe('CancelRegistry', () => {
  it('cancels a job by id, or through the caller’s own signal; has() says what runs', async () => {
    const registry = new CancelRegistry();
    const outer = new AbortController();
    const loop = (signal: AbortSignal) => (async () => {
      for (;;) {
        await yieldToEventLoop();
        throwIfCancelled(signal);
      }
    })();
    const byId = registry.run('scan', loop).catch((e: unknown) => e);
    const byOuter = registry.run('training', loop, outer.signal).catch((e: unknown) => e);
    expect([registry.has('scan'), registry.has('training'), registry.has('calibration')]).toEqual([true, true, false]);
    registry.cancel('scan');
    outer.abort();
    expect(await byId).toBeInstanceOf(CancelledError);
    expect(await byOuter).toBeInstanceOf(CancelledError);
    expect(registry.size).toBe(0);
    // An outer signal that already fired never starts the work.
    let started = false;
    await expect(registry.run('x', async () => (started = true), outer.signal)).rejects.toBeInstanceOf(CancelledError);
    expect(started).toBe(false);
  });
});

// A worker's side of the contract over a real Comlink boundary: a MessageChannel, as between the
// page and the model worker. The job loops, yielding to the event loop like the worker's jobs do.
interface JobApi {
  count(jobId: string, upTo: number): Promise<number>;
  cancel(jobId: string): void;
  fail(): Promise<number>;
  running(): number;
}

describe('a cancelled job across a Comlink boundary', () => {
  const channels: MessageChannel[] = [];
  afterEach(() => {
    for (const c of channels.splice(0)) {
      c.port1.close();
      c.port2.close();
    }
  });

  function connect(): Comlink.Remote<JobApi> {
    const registry = new CancelRegistry();
    const api: JobApi = {
      count: (jobId, upTo) =>
        registry.run(jobId, async (signal) => {
          let i = 0;
          for (; i < upTo; i++) {
            await yieldToEventLoop();
            throwIfCancelled(signal);
          }
          return i;
        }),
      cancel: (jobId) => registry.cancel(jobId),
      fail: () => Promise.reject(new Error('Cancelled by the user.')),
      running: () => registry.size,
    };
    const channel = new MessageChannel();
    channels.push(channel);
    Comlink.expose(api, channel.port1 as unknown as Comlink.Endpoint);
    return Comlink.wrap<JobApi>(channel.port2 as unknown as Comlink.Endpoint);
  }

  it('arrives as an Error named CancelledError that isCancelled recognises; the registry forgets it', async () => {
    const remote = connect();
    const job = remote.count('j1', 1_000_000).catch((e: unknown) => e);
    await remote.cancel('j1');
    const err = await job;
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(CancelledError); // Comlink keeps the name and message, not the class
    expect(err).toMatchObject({ name: 'CancelledError', message: 'Cancelled by the user.' });
    expect(isCancelled(err)).toBe(true);
    expect(await remote.running()).toBe(0);
  });

  it('leaves other jobs alone, and a failure with the same message is not a cancellation', async () => {
    const remote = connect();
    const other = remote.count('j2', 50);
    const cancelled = remote.count('j3', 1_000_000).catch((e: unknown) => e);
    await remote.cancel('j3');
    await remote.cancel('unknown'); // a no-op
    expect(await other).toBe(50);
    expect(isCancelled(await cancelled)).toBe(true);
    const failure = await remote.fail().catch((e: unknown) => e);
    expect(failure).toMatchObject({ name: 'Error', message: 'Cancelled by the user.' });
    expect(isCancelled(failure)).toBe(false);
  });
});
