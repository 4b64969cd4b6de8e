// GPU device loss at the runtime seam. Once the device is lost (Chrome resolves `device.lost`, or a
// test simulates it), every session run of the runtime fails with a DeviceLostError instead of
// returning whatever a dead device left in its buffers, so jobs stop and the client can resume
// them on another backend.
import type { OrtSession } from './ort-types';
import type { Runtime } from './session';

export const DEVICE_LOST_ERROR = 'DeviceLostError';

/** Its `name` survives Comlink's error serialisation, so the client can recognise it. */
export class DeviceLostError extends Error {
  override readonly name = DEVICE_LOST_ERROR;
}

export function isDeviceLost(err: unknown): boolean {
  return err instanceof Error && err.name === DEVICE_LOST_ERROR;
}

/** Trips once; the reason is what Chrome (or the test) said. */
export class DeviceLossSwitch {
  private reason: string | null = null;

  get lost(): boolean {
    return this.reason !== null;
  }

  /** Returns false when the device was already lost (the first reason is kept). */
  trip(reason: string): boolean {
    if (this.reason !== null) return false;
    this.reason = reason;
    return true;
  }

  check(): void {
    if (this.reason !== null) throw new DeviceLostError(`GPU device lost: ${this.reason}`);
  }
}

/** The same runtime, whose sessions refuse to run (before and after each run) once `lost` trips. */
export function guardRuntime(runtime: Runtime, lost: DeviceLossSwitch): Runtime {
  return {
    ...runtime,
    async createSession(model, request) {
      lost.check();
      return guardSession(await runtime.createSession(model, request), lost);
    },
  };
}

function guardSession(session: OrtSession, lost: DeviceLossSwitch): OrtSession {
  const run = session.run.bind(session) as (...args: unknown[]) => ReturnType<OrtSession['run']>;
  // A lost device may return zeros instead of failing: results that end after the loss are dropped.
  const guarded = async (...args: unknown[]) => {
    lost.check();
    const out = await run(...args);
    lost.check();
    return out;
  };
  session.run = guarded as OrtSession['run'];
  return session;
}
