import * as ortNode from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { PREPROCESSOR_CONFIG, tinyEncoderBytes } from '../../testing/tiny-encoder';
import { defineDecoderConfig } from '../dede/config';
import { exportDecoder } from '../dede/decoder-file';
import { encoderSource } from '../dede/encoder-runner';
import { initDecoderWeights } from '../dede/init';
import { preprocessingFromHf } from '../images/preprocess';
import type { PixelSource } from '../workflow/embeddings';
import { MemoryFileStore } from '../workflow/files';
import { explainImages, scoreImages } from '../workflow/scoring';
import type { OrtSession } from './ort-types';
import { SessionKeep } from './session-keep';
import { createRuntime, leaseSession, type Runtime } from './session';
import { maxAbsDiff, selfTestExpected, selfTestModel, SELF_TEST_INPUT } from './self-test';

/** A runtime that counts the sessions it builds and the ones it releases. */
function countingRuntime(): Runtime & { built: number; released: number } {
  const base = createRuntime(ortNode, 'cpu');
  const rt = {
    ...base,
    built: 0,
    released: 0,
    async createSession(model: Uint8Array, request?: Parameters<Runtime['createSession']>[1]): Promise<OrtSession> {
      const session = await base.createSession(model, request);
      rt.built++;
      const release = session.release.bind(session);
      session.release = async () => {
        rt.released++;
        await release();
      };
      return session;
    },
  };
  return rt;
}

async function selfTest(session: OrtSession): Promise<number> {
  const out = await session.run({ x: new ortNode.Tensor('float32', new Float32Array(SELF_TEST_INPUT), [2, 4]) });
  return maxAbsDiff(out['y']!.data as Float32Array, selfTestExpected());
}

describe('SessionKeep', () => {
  it('builds a session once per kind and identity, and reads the model only then', async () => {
    const rt = countingRuntime();
    const keep = new SessionKeep(rt);
    let loads = 0;
    const load = () => {
      loads++;
      return { model: selfTestModel() };
    };
    const a = await keep.lease('encoder', 'sha-a', load);
    const b = await keep.lease('encoder', 'sha-a', load);
    expect(b.session).toBe(a.session);
    await a.release();
    await b.release();
    const c = await keep.lease('encoder', 'sha-a', load);
    expect(c.session).toBe(a.session);
    expect(await selfTest(c.session)).toBeLessThan(1e-5);
    await c.release();
    expect([rt.built, loads, rt.released]).toEqual([1, 1, 0]);
    // Another kind is kept beside it.
    const d = await keep.lease('scorer', 'sha-a', load);
    expect(d.session).not.toBe(a.session);
    await d.release();
    expect(keep.stats()).toEqual({ created: 2, kept: ['encoder:sha-a', 'scorer:sha-a'] });
  });

  it('replaces an identity by a new one, releasing the old only when its last job lets go', async () => {
    const rt = countingRuntime();
    const keep = new SessionKeep(rt);
    const old = await keep.lease('encoder', 'v1', () => ({ model: selfTestModel() }));
    const next = await keep.lease('encoder', 'v2', () => ({ model: selfTestModel() }));
    expect(rt.released).toBe(0); // the first job still runs on v1
    expect(await selfTest(old.session)).toBeLessThan(1e-5);
    await old.release();
    await old.release(); // a second release is a no-op
    expect(rt.released).toBe(1);
    await next.release();
    expect(keep.stats().kept).toEqual(['encoder:v2']);
    await keep.clear();
    expect(rt.released).toBe(2);
    expect(keep.stats()).toEqual({ created: 2, kept: [] });
    // After clear() the next job builds again.
    await (await keep.lease('encoder', 'v2', () => ({ model: selfTestModel() }))).release();
    expect(rt.built).toBe(3);
  });

  it('keeps no failed build: the next job tries again', async () => {
    const rt = countingRuntime();
    const keep = new SessionKeep(rt);
    await expect(keep.lease('encoder', 'x', () => ({ model: new Uint8Array([1, 2, 3]) }))).rejects.toThrow(/could not load the model/);
    expect(keep.stats().kept).toEqual([]);
    const ok = await keep.lease('encoder', 'x', () => ({ model: selfTestModel() }));
    expect(await selfTest(ok.session)).toBeLessThan(1e-5);
  });

  it('lets jobs sharing a kept session run one at a time, each getting its own result', async () => {
    const keep = new SessionKeep(createRuntime(ortNode, 'cpu'));
    const [a, b] = await Promise.all([keep.lease('k', 'i', () => ({ model: selfTestModel() })), keep.lease('k', 'i', () => ({ model: selfTestModel() }))]);
    expect(b.session).toBe(a.session);
    const errors = await Promise.all(Array.from({ length: 6 }, (_, i) => selfTest(i % 2 ? a.session : b.session)));
    for (const e of errors) expect(e).toBeLessThan(1e-5);
  });

  it('without a keeper, leaseSession builds a fresh session that release() releases', async () => {
    const rt = countingRuntime();
    const one = await leaseSession(rt, 'encoder', 'sha', () => ({ model: selfTestModel() }));
    const two = await leaseSession(rt, 'encoder', 'sha', () => ({ model: selfTestModel() }));
    expect(two.session).not.toBe(one.session);
    await one.release();
    await two.release();
    expect([rt.built, rt.released]).toEqual([2, 2]);
  });
});

describe('workflow jobs on a keeping runtime (the model worker, docs/ARCHITECTURE.md §3.3)', () => {
  const preprocessing = preprocessingFromHf(JSON.parse(new TextDecoder().decode(PREPROCESSOR_CONFIG)), null);
  const cfg = defineDecoderConfig({ imageSize: 32, patchSize: 4, embedDim: 128, encDim: 32, encDepth: 1, encHeads: 2, decDim: 32, decDepth: 1, decHeads: 2 });
  const source: PixelSource = {
    id: 'ds', count: 20, width: 32, height: 32,
    async readRgb(from, n) {
      return Uint8Array.from({ length: n * 32 * 32 * 3 }, (_, i) => (Math.sin((from * 3072 + i) * 0.011) * 120 + 128) | 0);
    },
  };

  it('score and explain twice: the second round builds no session and reads no encoder file; results match a fresh runtime', async () => {
    const rt = countingRuntime();
    const keep = new SessionKeep(rt);
    const kept: Runtime = { ...rt, keeper: keep };
    let encoderReads = 0;
    const plain = encoderSource({ bytes: tinyEncoderBytes(), inputName: 'pixel_values', readout: { output: 'embedding', pooling: 'none' }, height: 32, width: 32, fixedBatch: null }, 'f'.repeat(64));
    const encoder = { ...plain, files: () => (encoderReads++, plain.files()) };
    const files = new MemoryFileStore();
    await files.write('runs/x/decoder.onnx', exportDecoder(cfg, initDecoderWeights(cfg, 3), { training: { maskRatio: 0.9 } }));
    const request = { encoder, source, preprocessing, decoderPath: 'runs/x/decoder.onnx' };

    const scored = await scoreImages(kept, files, { ...request, slots: null, scorer: {}, contentScale: null });
    const first = await explainImages(kept, files, { ...request, slots: [3] });
    const builtAfterFirst = rt.built;
    expect(builtAfterFirst).toBe(3); // encoder, scorer, explain graph
    const rescored = await scoreImages(kept, files, { ...request, slots: null, scorer: {}, contentScale: null });
    const second = await explainImages(kept, files, { ...request, slots: [7] });
    expect(rt.built).toBe(builtAfterFirst);
    expect(rt.released).toBe(0);
    expect(encoderReads).toBe(1);
    expect(rescored.scores).toEqual(scored.scores);

    // The same numbers as on sessions built for the job.
    const fresh = createRuntime(ortNode, 'cpu');
    const [reference] = await explainImages(fresh, files, { ...request, slots: [7] });
    expect(second[0]!.reconstruction).toEqual(reference!.reconstruction);
    expect(second[0]!.pixelError).toEqual(reference!.pixelError);
    expect(first[0]!.reconstruction).not.toEqual(second[0]!.reconstruction);
    expect((await scoreImages(fresh, files, { ...request, slots: null, scorer: {}, contentScale: null })).scores).toEqual(scored.scores);
  });
});
