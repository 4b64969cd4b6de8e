import { describe, expect, it } from 'vitest';
import { DeviceLossSwitch, guardRuntime, isDeviceLost } from './device-loss';
import type { OrtSession } from './ort-types';
import type { Runtime } from './session';

function fakeRuntime(onRun: () => void = () => undefined): Runtime {
  return {
    ort: {} as Runtime['ort'],
    ep: 'webgpu',
    async createSession() {
      return { run: async () => (onRun(), { y: 1 }) } as unknown as OrtSession;
    },
  };
}

describe('guardRuntime', () => {
  it('runs sessions normally until the device is lost, then every run fails with a DeviceLostError', async () => {
    const lost = new DeviceLossSwitch();
    const session = await guardRuntime(fakeRuntime(), lost).createSession(new Uint8Array());
    await expect(session.run({})).resolves.toEqual({ y: 1 });
    expect(lost.trip('the GPU was reset')).toBe(true);
    const err = await session.run({}).catch((e: unknown) => e);
    expect(isDeviceLost(err)).toBe(true);
    expect((err as Error).message).toBe('GPU device lost: the GPU was reset');
  });

  it('drops the result of a run the loss overtook, and keeps the first reason', async () => {
    const lost = new DeviceLossSwitch();
    const session = await guardRuntime(fakeRuntime(() => lost.trip('first')), lost).createSession(new Uint8Array());
    await expect(session.run({})).rejects.toThrow('GPU device lost: first');
    expect(lost.trip('second')).toBe(false);
    await expect(guardRuntime(fakeRuntime(), lost).createSession(new Uint8Array())).rejects.toThrow('GPU device lost: first');
  });

  it('does not mistake other errors for a device loss', () => {
    expect(isDeviceLost(new Error('GPU device lost: looks alike'))).toBe(false);
    expect(isDeviceLost('DeviceLostError')).toBe(false);
  });
});
