import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, migrateTrainStore, prefetchText, runTrainingRecord, TRAIN_STORE_VERSION, type TrainRun } from './train-store';

// A run as version 1 saved it before blind rows existed: its plan has no blindShare.
const oldRun = {
  runId: 'r1', status: 'done', datasetId: 'd', datasetName: 'clean', encoderSha256: 'e'.repeat(64),
  plan: { cfg: { imageSize: 32 }, batchSize: 64, maskRatio: 0.9, lr: 1e-3, epochs: 5, minutes: 10, seed: 0, readLossEvery: 1, checkpointEvery: 20 },
  trainSlots: [0, 1], heldOutSlots: [2], step: 10, totalSteps: 10, losses: [{ step: 10, loss: 0.5 }], elapsedSeconds: 3,
  decoderPath: 'runs/r1/decoder.onnx', error: null, startedAt: '2026-01-01T00:00:00Z', imported: false,
};

describe('migrateTrainStore', () => {
  it('brings a version-1 save (settings without newer fields, a run without blind share) to the current shape', () => {
    const saved = { settings: { preset: 'full', epochs: 7, minutes: 3, batchSize: 32, maskRatio: 0.8, lr: 5e-4, seed: 9, holdOut: 0.3 }, run: oldRun };
    const migrated = migrateTrainStore(saved, 1);
    expect(migrated.settings).toEqual({ ...DEFAULT_SETTINGS, preset: 'full', epochs: 7, minutes: 3, batchSize: 32, maskRatio: 0.8, lr: 5e-4, seed: 9, holdOut: 0.3 });
    expect(Object.keys(migrated.settings).sort()).toEqual(Object.keys(DEFAULT_SETTINGS).sort());
    expect(migrated.run!.plan.blindShare).toBe(0); // trained without blind rows
    // And, from version 3: a finished run trained its fixed epochs, with no held-back points.
    expect({ ...migrated.run, plan: { ...migrated.run!.plan, blindShare: undefined } }).toEqual({ ...oldRun, plan: { ...oldRun.plan, blindShare: undefined }, heldBack: [], stoppedBy: 'epochs', convergedAt: null });
  });

  it('brings a version-2 save to version 3: convergence stopping on, runs with no held-back points', () => {
    const v2 = { settings: { ...DEFAULT_SETTINGS, stopWhenConverged: undefined, epochs: 4 }, run: { ...oldRun, status: 'paused', plan: { ...oldRun.plan, blindShare: 0.25 } } };
    const migrated = migrateTrainStore(v2, 2);
    expect(migrated.settings).toEqual({ ...DEFAULT_SETTINGS, epochs: 4, stopWhenConverged: true });
    expect(migrated.run).toMatchObject({ status: 'paused', heldBack: [], stoppedBy: null, convergedAt: null });
  });

  it('an unversioned (v0) save with nothing but a setting or two, or an empty one, gets the defaults', () => {
    expect(migrateTrainStore({ settings: { epochs: 3 } }, 0)).toEqual({ settings: { ...DEFAULT_SETTINGS, epochs: 3 }, run: null });
    expect(migrateTrainStore(undefined, 0)).toEqual({ settings: DEFAULT_SETTINGS, run: null });
  });

  it('keeps a recorded blind share and leaves a current save as it is', () => {
    const withShare = { ...oldRun, plan: { ...oldRun.plan, blindShare: 0.25 } };
    expect(migrateTrainStore({ settings: DEFAULT_SETTINGS, run: withShare }, 1).run!.plan.blindShare).toBe(0.25);
    const current = { settings: { ...DEFAULT_SETTINGS, epochs: 2 }, run: withShare };
    expect(migrateTrainStore(current, TRAIN_STORE_VERSION)).toEqual(current);
  });
});

describe('runTrainingRecord', () => {
  // 130 training images at batch 64: 2 steps per epoch (the partial batch is dropped).
  const run = { ...oldRun, plan: { ...oldRun.plan, blindShare: 0.25 }, trainSlots: Array.from({ length: 130 }, (_, i) => i), step: 62, heldBack: [{ epoch: 30, loss: 0.5, quantile: 0.9 }, { epoch: 31, loss: 0.41, quantile: 0.8 }], stoppedBy: 'converged', convergedAt: 31 } as unknown as TrainRun;

  it('reports the epochs run, why it stopped and the last held-back loss', () => {
    expect(runTrainingRecord(run)).toEqual({ epochs: 31, steps: 62, stoppedBy: 'converged', convergedAtEpoch: 31, heldBackLoss: 0.41 });
    expect(runTrainingRecord({ ...run, step: 100, stoppedBy: 'epochs', convergedAt: null, heldBack: [] })).toEqual({ epochs: 50, steps: 100, stoppedBy: 'epochs', convergedAtEpoch: null, heldBackLoss: null });
  });

  it('has nothing to say for a run still going or a decoder imported from a file', () => {
    expect(runTrainingRecord({ ...run, stoppedBy: null })).toBeNull();
    expect(runTrainingRecord({ ...run, imported: true })).toBeNull();
  });
});

describe('prefetchText', () => {
  it('says how far the scan folders are embedded, and what that buys', () => {
    expect(prefetchText({ done: 192, total: 800, finished: 0, folders: 1 })).toBe('0 of 1 folder embedded while training; 192 of 800 images of the next');
    expect(prefetchText({ done: 800, total: 800, finished: 2, folders: 2 })).toBe('2 of 2 folders embedded while training: the scan finds their embeddings ready');
  });
});
