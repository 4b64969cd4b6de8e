// Reveal by example on the demo's BadEncoder fixture (its target: a red fire truck): the clean
// photos the cluster of triggered photos is shown as must be trucks, and the class named must be
// "truck" (docs/ARCHITECTURE.md §5.7.1). Embeds the demo's 200 clean photos (in class folders, as
// the demo adds them) and its 60 triggered photos with onnxruntime-node; and the same at 224 px:
// the fixture wrapped as a Hugging Face repo, fed 224-px JPEG photos of several shapes.
import * as ort from 'onnxruntime-node';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EncoderRunner } from '../core/dede/encoder-runner';
import { clusterEmbeddings } from '../core/dede/reveal';
import { exampleLabel, revealExamples } from '../core/dede/reveal-examples';
import { createRuntime } from '../core/runtime/session';
import { demoClassPath } from '../app/demo/demo-paths';
import { loadCliEncoder } from './encoder';
import { loadImageFiles, normalizedBatch } from './node-images';
import { writePhotoFolders } from '../../scripts/fixtures/photos224';
import { demoEncoder224RepoFiles } from '../../scripts/fixtures/wrap224';

const demo = join(import.meta.dirname, '../../public/demo');
const labels = JSON.parse(readFileSync(join(demo, 'images/labels.json'), 'utf8')) as {
  clean_reference: string[];
  suspect: { file: string; triggered: number }[];
  known_poisoned: string[];
};

describe('reveal by example on the BadEncoder fixture', () => {
  it('shows the triggered cluster as trucks', async () => {
    const encoder = await loadCliEncoder(join(demo, 'encoders/badencoder/model.onnx'), {});
    const runner = await EncoderRunner.create(createRuntime(ort, 'cpu'), encoder.spec);
    const embed = async (files: string[]) => {
      const images = await loadImageFiles(join(demo, 'images'), files, encoder.preprocessing);
      expect(images.unreadable).toEqual([]);
      return runner.embed(normalizedBatch(images, files.map((_, i) => i), encoder.preprocessing), files.length);
    };
    const clean = await embed(labels.clean_reference);
    const triggered = await embed([...labels.suspect.filter((s) => s.triggered === 1).map((s) => s.file), ...labels.known_poisoned]);
    const [cluster] = clusterEmbeddings(triggered, Array.from({ length: triggered.data.length / triggered.dim }, (_, i) => i));
    expect(cluster!.members.length).toBeGreaterThanOrEqual(55);

    const classes = labels.clean_reference.map((f) => exampleLabel(demoClassPath('clean-reference', f)));
    expect(new Set(classes).size).toBe(10);
    const ex = revealExamples(cluster!.meanEmbedding, clean, { labels: classes });
    expect(ex.labels[0]!.label).toBe('truck');
    expect(ex.labels[0]!.nearest.map((m) => classes[m.index])).toEqual(Array(5).fill('truck'));
    // Of the five nearest of any class, the trucks are three: a horse photo in red and white sits
    // nearest of all for this small encoder, which is why the class folders are ranked.
    expect(ex.nearest.filter((m) => classes[m.index] === 'truck').length).toBeGreaterThanOrEqual(3);
    expect(ex.labels[0]!.similarity - ex.labels[1]!.similarity).toBeGreaterThan(0.02);
    await runner.dispose();
  }, 120_000);

  it('names the class at 224 px too: JPEG photos through the Hub-layout encoder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dede-reveal-224-'));
    try {
      for (const [path, bytes] of Object.entries(demoEncoder224RepoFiles('badencoder'))) {
        mkdirSync(dirname(join(dir, 'repo', path)), { recursive: true });
        writeFileSync(join(dir, 'repo', path), bytes);
      }
      const photos = await writePhotoFolders(join(dir, 'photos'));
      const encoder = await loadCliEncoder(join(dir, 'repo', 'onnx', 'model.onnx'), {});
      expect(encoder.preprocessing).toMatchObject({ height: 224, width: 224 });
      const runner = await EncoderRunner.create(createRuntime(ort, 'cpu'), encoder.spec);
      const embed = async (files: string[]) => {
        const images = await loadImageFiles(photos.dir224, files, encoder.preprocessing);
        expect(images.unreadable).toEqual([]);
        return runner.embed(normalizedBatch(images, files.map((_, i) => i), encoder.preprocessing), files.length);
      };
      const clean = await embed(photos.cleanReference.map((r) => r.file));
      const triggered = await embed(photos.suspect.filter((r) => r.triggered).map((r) => r.file));
      await runner.dispose();
      const [cluster] = clusterEmbeddings(triggered, Array.from({ length: triggered.data.length / triggered.dim }, (_, i) => i));
      expect(cluster!.members.length).toBeGreaterThanOrEqual(36);
      // Each clean photo's label as the app reads it from a class folder (the fixture's names carry the class).
      const classes = photos.cleanReference.map((r) => exampleLabel(`clean-reference/${r.class}/${r.file.split('/').pop()!}`));
      expect(new Set(classes).size).toBe(10);
      const ex = revealExamples(cluster!.meanEmbedding, clean, { labels: classes });
      expect(ex.labels[0]!.label).toBe('truck');
      expect(ex.labels[0]!.nearest.map((m) => classes[m.index])).toEqual(Array(5).fill('truck'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
