// Writes the bad-input corpus to disk (default .scratch/fuzz/, git-ignored) with a manifest.json
// listing every file, what it stands for and the outcome the app must give, so the files can be
// dropped into the app by hand. Deterministic: the same seed writes the same bytes.
//   npx tsx scripts/fuzz/make-corpus.ts [out-dir] [--seed N]
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FUZZ_SEED, imageCases, onnxCases } from './corpus';
import { writeImageCases } from './drill';

const { values, positionals } = parseArgs({ options: { seed: { type: 'string' } }, allowPositionals: true });
const seed = values.seed === undefined ? FUZZ_SEED : Number(values.seed);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
const out = resolve(positionals[0] ?? '.scratch/fuzz');
rmSync(out, { recursive: true, force: true });

const images = await imageCases(seed);
const onnx = onnxCases(seed);
writeImageCases(join(out, 'images'), images);
mkdirSync(join(out, 'onnx'), { recursive: true });
for (const c of onnx) writeFileSync(join(out, 'onnx', c.name), c.bytes);

const manifest = {
  seed,
  images: images.map((c) => ({
    file: `images/${c.path}`,
    bytes: c.bytes.length,
    case: c.label,
    expected: c.expect.outcome === 'ok' ? 'ok' : `unreadable (${c.expect.kind}, found by the ${c.expect.by}): ${c.expect.reason.source}`,
  })),
  onnx: onnx.map((c) => ({ file: `onnx/${c.name}`, bytes: c.bytes.length, case: c.label, expected: `${c.outcome}: ${c.message.source}` })),
};
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`Wrote ${images.length} image and ${onnx.length} ONNX cases to ${out} (manifest.json lists each with its expected outcome).`);
