// The CLI's walk up from a model file to its preprocessor_config.json / config.json: the local
// counterpart of the hub lookup (transformers.js repos keep the configs at the root, the models in
// onnx/). It stops at the first folder that has the file, at a folder that looks like the root of
// a model repo, or after CONFIG_SEARCH_LEVELS folders.
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CONFIG_SEARCH_LEVELS } from '../core/hub/config-lookup';

export interface LocalConfigSearch {
  readonly found: { readonly path: string; readonly text: string } | null;
  /** The files looked for, nearest first. */
  readonly searched: readonly string[];
  /** Why the walk stopped when nothing was found, in words. */
  readonly stoppedBecause: string | null;
}

/**
 * What marks a folder as a repo root, above which a config would belong to something else: `.git`
 * (a clone), `.cache/huggingface` (what `huggingface-cli download --local-dir` leaves), or
 * `config.json` (every transformers export has one at its root, and a folder with a model's own
 * config.json is that model's folder).
 */
const ROOT_MARKERS = ['.git', join('.cache', 'huggingface'), 'config.json'] as const;

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

export async function findConfigUpwards(modelPath: string, name: string): Promise<LocalConfigSearch> {
  const searched: string[] = [];
  let folder = dirname(resolve(modelPath));
  for (let level = 0; ; level++) {
    const candidate = join(folder, name);
    searched.push(candidate);
    const text = await readFile(candidate, 'utf8').catch(() => null);
    if (text !== null) return { found: { path: candidate, text }, searched, stoppedBecause: null };
    for (const marker of ROOT_MARKERS) {
      if (await exists(join(folder, marker))) return { found: null, searched, stoppedBecause: `${folder} has ${marker}, so it is taken as the model repo's root` };
    }
    const parent = dirname(folder);
    if (parent === folder) return { found: null, searched, stoppedBecause: 'reached the top of the file system' };
    if (level + 1 >= CONFIG_SEARCH_LEVELS) return { found: null, searched, stoppedBecause: `the search goes at most ${CONFIG_SEARCH_LEVELS - 1} folders up` };
    folder = parent;
  }
}
