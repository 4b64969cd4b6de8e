import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PREPROCESSOR_CONFIG, tinyEncoderBytes } from '../testing/tiny-encoder';
import { loadCliEncoder } from './encoder';
import { findConfigUpwards } from './find-config';

let dir = '';
const PRE = 'preprocessor_config.json';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dede-find-config-'));
  // transformers.js layout: configs at the root, models in onnx/.
  await mkdir(join(dir, 'tjs', 'onnx'), { recursive: true });
  await writeFile(join(dir, 'tjs', PRE), PREPROCESSOR_CONFIG);
  await writeFile(join(dir, 'tjs', 'config.json'), '{"model_type":"vit"}');
  await writeFile(join(dir, 'tjs', 'onnx', 'model.onnx'), tinyEncoderBytes());
  // A clone whose root lacks the config: the walk must not go above it.
  await mkdir(join(dir, 'outer', 'clone', '.git'), { recursive: true });
  await mkdir(join(dir, 'outer', 'clone', 'onnx'), { recursive: true });
  await writeFile(join(dir, 'outer', PRE), PREPROCESSOR_CONFIG);
  await writeFile(join(dir, 'outer', 'clone', 'onnx', 'model.onnx'), tinyEncoderBytes());
  // Deep nesting without markers: stops after three folders.
  await mkdir(join(dir, 'deep', 'a', 'b', 'c'), { recursive: true });
  await writeFile(join(dir, 'deep', PRE), PREPROCESSOR_CONFIG);
  await writeFile(join(dir, 'deep', 'a', 'b', 'c', 'model.onnx'), tinyEncoderBytes());
});

describe('findConfigUpwards', () => {
  it('finds the root config of the transformers.js layout from onnx/', async () => {
    const got = await findConfigUpwards(join(dir, 'tjs', 'onnx', 'model.onnx'), PRE);
    expect(got.found?.path).toBe(join(dir, 'tjs', PRE));
    expect(got.searched).toEqual([join(dir, 'tjs', 'onnx', PRE), join(dir, 'tjs', PRE)]);
  });

  it('stops at a folder that looks like the repo root', async () => {
    const got = await findConfigUpwards(join(dir, 'outer', 'clone', 'onnx', 'model.onnx'), PRE);
    expect(got.found).toBeNull();
    expect(got.searched).toEqual([join(dir, 'outer', 'clone', 'onnx', PRE), join(dir, 'outer', 'clone', PRE)]);
    expect(got.stoppedBecause).toMatch(/clone has \.git, so it is taken as the model repo's root/);
  });

  it('stops after three folders', async () => {
    const got = await findConfigUpwards(join(dir, 'deep', 'a', 'b', 'c', 'model.onnx'), PRE);
    expect(got.found).toBeNull();
    expect(got.searched).toHaveLength(3);
    expect(got.stoppedBecause).toMatch(/at most 2 folders up/);
  });
});

describe('loadCliEncoder', () => {
  it('reads the preprocessing from the repo root config', async () => {
    const enc = await loadCliEncoder(join(dir, 'tjs', 'onnx', 'model.onnx'), {});
    expect(enc.configPath).toBe(join(dir, 'tjs', PRE));
    expect(enc.preprocessing).toMatchObject({ height: 32, width: 32, mean: [0.4914, 0.4822, 0.4465] });
  });

  it('says what it looked for and where when there is none', async () => {
    await expect(loadCliEncoder(join(dir, 'outer', 'clone', 'onnx', 'model.onnx'), {})).rejects.toThrow(
      /No preprocessor_config\.json for .*model\.onnx: looked for .*onnx\/preprocessor_config\.json, .*clone\/preprocessor_config\.json \(stopped: .*\.git.*\)\. Put the model's preprocessor_config\.json beside it, or give .*--mean/,
    );
    await expect(loadCliEncoder(join(dir, 'tjs', 'onnx', 'model.onnx'), { mean: [0.5, 0.5, 0.5] })).rejects.toThrow(/both --mean and --std/);
  });
});
