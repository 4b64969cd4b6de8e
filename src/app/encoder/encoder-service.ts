// Loading an encoder: fetch (hub, URL or local file) through the cache, inspect, read its
// preprocessing, and try it on the live backend. Errors come back as plain sentences.
import { DownloadError, sha256Hex, type DownloadProgress } from '../../core/hub/download';
import { cacheModelFile, fetchModelFile, fetchNearestJson, listRepoFiles, type FetchedFile, type FileSource, type HubAccess, type NearestJson } from '../../core/hub/model-repo';
import { CacheApiBlobStore, isQuotaError, type StoredFileMeta } from '../../core/hub/store';
import { siblingPath } from '../../core/hub/url';
import { connectAllowed } from '../../core/privacy/csp';
import { documentPolicyInstalled } from '../privacy/document-csp';
import { preprocessingFromHf, type Preprocessing } from '../../core/images/preprocess';
import { checkEncoderFileSize, readEncoderFile } from '../../core/onnx/encoder-file';
import { checkImageEncoder } from '../../core/onnx/encoder-policy';
import type { ModelInfo } from '../../core/onnx/inspect';
import { defaultReadout } from '../../core/onnx/readout';
import { isCancelled } from '../../core/runtime/cancel';
import { errorText } from '../../core/runtime/error-text';
import { getBackend } from '../backend/backend-service';
import { encoderFileRef } from '../workflow/refs';
import { useEncoderStore, type EncoderRecord, type TestRunResult } from './encoder-store';

export const modelStore = new CacheApiBlobStore();

export function hubAccess(): HubAccess {
  const { hubEndpoint, token } = useEncoderStore.getState();
  return { endpoint: hubEndpoint, token: token.trim() || null, store: modelStore };
}

export interface LoadProgress {
  readonly file: string;
  readonly progress: DownloadProgress;
}

function preprocessingFor(config: unknown, check: ReturnType<typeof checkImageEncoder>, missing: string): { preprocessing: Preprocessing | null; note: string | null } {
  const fallback = check.ok && check.inputSize ? { height: check.inputSize.h, width: check.inputSize.w } : null;
  if (config !== null) {
    try {
      return { preprocessing: preprocessingFromHf(config, fallback), note: null };
    } catch (err) {
      return { preprocessing: null, note: errorText(err) };
    }
  }
  return { preprocessing: null, note: missing };
}

function recordOf(
  file: Pick<FetchedFile, 'meta'>,
  origin: EncoderRecord['origin'],
  info: ModelInfo,
  config: unknown,
  externalData: EncoderRecord['externalData'],
  notices: string[],
  modelConfig: unknown = null,
  missingConfig = 'No preprocessor_config.json came with the model: set the normalisation by hand before training.',
): EncoderRecord {
  const check = checkImageEncoder(info);
  const { preprocessing, note } = preprocessingFor(config, check, missingConfig);
  const readout = check.ok ? defaultReadout(info, modelConfig) : null;
  return {
    key: file.meta.key,
    name: file.meta.path,
    origin,
    sourceUrl: origin === 'local' ? null : file.meta.sourceUrl,
    repo: file.meta.repo,
    revision: file.meta.revision,
    commit: file.meta.commit,
    size: file.meta.size,
    sha256: file.meta.sha256,
    externalData,
    info,
    check,
    readout: readout?.ok ? readout.choice : null,
    readoutQuestion: readout && !readout.ok ? readout.reason : null,
    preprocessing,
    preprocessingNote: note,
    notices,
    modelConfig: describeModelConfig(modelConfig),
  };
}

/** Downloads (or reads from cache) a model and everything it needs beside it. */
export async function loadEncoderFromSource(
  source: FileSource,
  onProgress: (p: LoadProgress) => void,
  signal: AbortSignal,
): Promise<EncoderRecord> {
  const access = hubAccess();
  if (source.kind === 'url' && documentPolicyInstalled() && !connectAllowed(source.url, access.endpoint, location.origin)) {
    const origin = new URL(source.url).origin;
    throw new Error(`${origin} is not the model hub set in Settings (${access.endpoint}), and this page's security policy lets it download from that hub only. Set ${origin} as the hub endpoint in Settings, or download the file and drop it here.`);
  }
  const name = source.kind === 'url' ? source.url : source.path;
  const file = await fetchModelFile(access, source, { signal, onProgress: (progress) => onProgress({ file: name, progress }) });
  const notices = [file.offlineNotice, file.storeError].filter((n): n is string => n !== null);
  const { info } = readEncoderFile(name, file.bytes, true);
  const externalData: { path: string; key: string }[] = [];
  for (const ext of info.externalData) {
    const extSource: FileSource =
      source.kind === 'url' ? { kind: 'url', url: new URL(ext.location, source.url).href } : { ...source, path: siblingPath(source.path, ext.location) };
    // Only the store needs external weights (the runtime reads them from it): not held here.
    const got = await cacheModelFile(access, extSource, { signal, onProgress: (progress) => onProgress({ file: ext.location, progress }) });
    externalData.push({ path: ext.location, key: got.meta.key });
  }
  // On the hub, the listing says which configs exist and where: nothing absent is requested.
  const present = source.kind === 'hub-file' ? await listRepoFiles(access, source.repo, source.revision, signal) : null;
  const nearest = (name: string): Promise<NearestJson> =>
    fetchNearestJson(access, source, name, present, { signal }).catch((err: unknown) => {
      if (isCancelled(err)) throw err;
      notices.push(`${name} could not be read: ${errorText(err)}`);
      return { found: null, searched: [] };
    });
  const preprocessor = await nearest('preprocessor_config.json');
  const model = await nearest('config.json');
  const record = recordOf(file, source.kind === 'url' ? 'url' : 'hub', info, preprocessor.found?.json ?? null, externalData, notices, model.found?.json ?? null, missingConfigNote(preprocessor, source));
  return {
    ...record,
    modelConfig: describeModelConfig(model.found?.json ?? null),
    configFiles: { preprocessor: preprocessor.found?.location.description ?? null, model: model.found?.location.description ?? null },
  };
}

/** What was looked for, and where, when no preprocessor_config.json was found. */
function missingConfigNote(lookup: NearestJson, source: FileSource): string {
  const where = source.kind === 'url' ? `the model's folder or the ${lookup.searched.length - 1} above it` : 'the model\'s folder or any folder above it up to the repo root';
  const list = lookup.searched.length > 0 ? ` (looked for ${lookup.searched.join(', ')})` : '';
  return `No preprocessor_config.json in ${where}${list}: set the normalisation by hand before training.`;
}

/** A one-line description of a Hugging Face config.json (architecture facts, for display). */
export function describeModelConfig(config: unknown): string | null {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return null;
  const c = config as Record<string, unknown>;
  const keys = ['model_type', 'architectures', 'hidden_size', 'image_size', 'patch_size', 'num_hidden_layers', 'projection_dim'];
  const parts = keys.filter((k) => c[k] !== undefined).map((k) => `${k} ${Array.isArray(c[k]) ? (c[k] as unknown[]).join('/') : String(c[k])}`);
  return parts.length > 0 ? parts.join(', ') : null;
}

/** A local .onnx file (with its preprocessor_config.json and config.json when given): inspected, then kept in the same cache so a reload finds it. */
export async function loadEncoderFromFile(file: File, preprocessorConfig: File | null, modelConfigFile: File | null = null): Promise<EncoderRecord> {
  checkEncoderFileSize(file.name, file.size);
  const bytes = new Uint8Array(await file.arrayBuffer());
  const { info } = readEncoderFile(file.name, bytes, false);
  const sha256 = await sha256Hex(bytes);
  const meta: StoredFileMeta = {
    key: new URL(`/__local-models__/${sha256}/${encodeURIComponent(file.name)}`, self.location.origin).href,
    sourceUrl: file.name,
    repo: null,
    revision: null,
    commit: null,
    path: file.name,
    size: bytes.byteLength,
    sha256,
    savedAt: new Date().toISOString(),
  };
  const notices: string[] = [];
  try {
    await modelStore.put(meta, bytes);
  } catch (err) {
    notices.push(isQuotaError(err) ? 'Browser storage is full: this model works now but must be loaded again after a reload.' : `Could not keep a copy: ${errorText(err)}`);
  }
  const config = await readDroppedJson(preprocessorConfig, notices);
  const modelConfig = await readDroppedJson(modelConfigFile, notices);
  return recordOf({ meta }, 'local', info, config, [], notices, modelConfig, 'No preprocessor_config.json was dropped with the model: drop it too, or set the normalisation by hand before training.');
}

/** A JSON file dropped beside the model, or null; one that does not parse is a notice, not a failure. */
async function readDroppedJson(file: File | null, notices: string[]): Promise<unknown> {
  if (!file) return null;
  try {
    return JSON.parse(await file.text()) as unknown;
  } catch {
    notices.push(`${file.name} is not valid JSON and was ignored.`);
    return null;
  }
}

export function explainLoadError(err: unknown): { message: string; needsToken: boolean } {
  if (err instanceof DownloadError) {
    return { message: err.message, needsToken: err.kind === 'unauthorized' || err.kind === 'forbidden' };
  }
  return { message: errorText(err), needsToken: false };
}

/**
 * Runs the encoder on a small random batch on the live backend, through the same runner and readout
 * as training and scans, to prove it loads, to time it and to measure the embedding size.
 */
export async function testRunEncoder(encoder: EncoderRecord): Promise<TestRunResult> {
  const ref = encoderFileRef(encoder);
  const size = encoder.preprocessing ?? (encoder.check.ok && encoder.check.inputSize ? { height: encoder.check.inputSize.h, width: encoder.check.inputSize.w } : { height: 224, width: 224 });
  const batch = 2;
  const backend = await getBackend();
  const result = await backend.api.testEncoder(ref, { height: size.height, width: size.width }, batch);
  return { ms: result.ms, batch, outputDims: [batch, result.dim], ep: backend.info.ep };
}

export async function storageEstimate(): Promise<{ usage: number; quota: number; persisted: boolean } | null> {
  if (!navigator.storage?.estimate) return null;
  const { usage = 0, quota = 0 } = await navigator.storage.estimate();
  const persisted = navigator.storage.persisted ? await navigator.storage.persisted() : false;
  return { usage, quota, persisted };
}
