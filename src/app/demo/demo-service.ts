// The bundled demo: the backdoored fixture encoder and 400 real CIFAR-10 images (a clean reference
// folder and a suspect folder with stamped triggers), served from this app's own origin, run
// through the whole workflow with one click.
import { CancelledError, throwIfCancelled } from '../../core/runtime/cancel';
import { useEncoderStore } from '../encoder/encoder-store';
import { loadEncoderFromFile } from '../encoder/encoder-service';
import { addFolders } from '../images/images-service';
import { useImagesStore } from '../images/images-store';
import type { SourceFile } from '../images/sources';
import { demoClassPath } from './demo-paths';
import { runCalibration, runScan } from '../scan/scan-service';
import { useTrainStore } from '../train/train-store';
import { pauseTraining, startTraining } from '../train/train-service';

export const DEMO_BASE = `${import.meta.env.BASE_URL}demo/`;
/** Epochs of the demo's training: about two minutes on a laptop CPU. */
export const DEMO_EPOCHS = 60;

export type DemoStage = 'encoder' | 'images' | 'train' | 'calibrate' | 'scan' | 'done';

export const DEMO_STAGES: readonly { readonly id: DemoStage; readonly label: string }[] = [
  { id: 'encoder', label: 'Load the backdoored encoder' },
  { id: 'images', label: 'Add 200 clean and 200 suspect images' },
  { id: 'train', label: 'Train the decoder' },
  { id: 'calibrate', label: 'Calibrate the threshold (5% false positives)' },
  { id: 'scan', label: 'Scan the suspect folder' },
];

/** The demo's folders: the clean reference, the folder to scan, and a known-poisoned one (its name sets its role). */
const DEMO_FOLDERS = ['clean-reference', 'suspect', 'known-poisoned'] as const;

interface DemoLabels {
  readonly clean_reference: readonly string[];
  readonly suspect: readonly { readonly file: string; readonly triggered: number }[];
  /** Triggered photos in a folder the app takes as known-poisoned by its name: the Review's ROC card has positives. */
  readonly known_poisoned: readonly string[];
}

async function fetchFile(path: string, signal: AbortSignal): Promise<File> {
  const response = await fetch(`${DEMO_BASE}${path}`, { signal });
  if (!response.ok) throw new Error(`The demo file ${path} is missing (HTTP ${response.status}); reinstall the app.`);
  return new File([await response.blob()], path.split('/').pop() ?? path);
}

const flatPath = (folder: string, bundled: string) => `${folder}/${bundled.split('/').slice(1).join('/')}`;

async function fetchFolder(name: string, paths: readonly string[], signal: AbortSignal, pathOf: (folder: string, bundled: string) => string = flatPath): Promise<SourceFile[]> {
  const out: SourceFile[] = new Array(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      out[i] = { file: await fetchFile(`images/${paths[i]}`, signal), path: pathOf(name, paths[i]!) };
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}

function waitFor(predicate: () => boolean, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (signal.aborted) return reject(new CancelledError());
      if (predicate()) return resolve();
      setTimeout(check, 200);
    };
    check();
  });
}

export async function runDemo(onStage: (stage: DemoStage) => void, signal: AbortSignal): Promise<void> {
  // Stopping the demo stops whatever long job it is in: training pauses; calibration and scan take the signal.
  signal.addEventListener('abort', pauseTraining, { once: true });
  onStage('encoder');
  const labels = (await (await fetch(`${DEMO_BASE}images/labels.json`, { signal })).json()) as DemoLabels;
  const [model, config] = await Promise.all([
    fetchFile('encoders/badencoder/model.onnx', signal),
    fetchFile('encoders/badencoder/preprocessor_config.json', signal),
  ]);
  useEncoderStore.getState().setEncoder(await loadEncoderFromFile(model, config));

  onStage('images');
  const existing = useImagesStore.getState().datasets;
  const have = (name: string) => existing.some((d) => d.name === name && d.status === 'ready' && d.counts.images > 0);
  const folders = [];
  if (!have('clean-reference')) folders.push({ name: 'clean-reference', files: await fetchFolder('clean-reference', labels.clean_reference, signal, demoClassPath) });
  if (!have('suspect')) folders.push({ name: 'suspect', files: await fetchFolder('suspect', labels.suspect.map((s) => s.file), signal) });
  if (!have('known-poisoned')) folders.push({ name: 'known-poisoned', files: await fetchFolder('known-poisoned', labels.known_poisoned, signal) });
  if (folders.length > 0) await addFolders(folders);
  await waitFor(() => {
    const ds = useImagesStore.getState().datasets;
    return DEMO_FOLDERS.every((n) => ds.some((d) => d.name === n && d.status === 'ready'));
  }, signal);

  onStage('train');
  useTrainStore.getState().setSettings({ epochs: DEMO_EPOCHS, minutes: 10 });
  await startTraining();
  const run = useTrainStore.getState().run;
  if (run?.status !== 'done') throw new Error(run?.error ?? 'Training did not finish.');

  onStage('calibrate');
  await runCalibration({ method: 'fpr', target: 0.05 }, signal);

  onStage('scan');
  await runScan(false, signal);
  // A cancelled scan ends as 'cancelled' rather than throwing: the demo stops here too.
  throwIfCancelled(signal);
  onStage('done');
}

/** Ground truth of the demo's suspect folder (for evaluation only). */
export async function demoLabels(): Promise<Map<string, boolean>> {
  const labels = (await (await fetch(`${DEMO_BASE}images/labels.json`)).json()) as DemoLabels;
  return new Map(labels.suspect.map((s) => [s.file, s.triggered === 1]));
}
