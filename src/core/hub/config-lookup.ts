// Where a model's preprocessor_config.json and config.json are. transformers.js and onnx-community
// repos keep them at the repo root and the models under onnx/, so the lookup walks up from the
// model's folder: the nearest one wins, as with any per-folder settings file.

/** A config file found for a model, and where it was relative to the model, in words. */
export interface ConfigLocation {
  /** Repo path (hub) or URL (plain link) of the file. */
  readonly path: string;
  /** E.g. "preprocessor_config.json at the repo root". */
  readonly description: string;
}

/**
 * How many folders a plain URL's lookup tries: the model's own and its two parents. Each miss is a
 * request that a server we know nothing about answers with a 404 (logged in the console, counted
 * by rate limits), and further up a web server's tree an unrelated config could be picked up; one
 * level covers the transformers.js layout (models in onnx/), two leave room for one more folder.
 * The same bound holds for the CLI's walk up local folders.
 */
export const CONFIG_SEARCH_LEVELS = 3;

function folderOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/**
 * Repo paths where `name` may be for the model at `modelPath`, nearest first: the model's folder,
 * then each parent up to the repo root. E.g. onnx/vision_model.onnx → onnx/preprocessor_config.json,
 * preprocessor_config.json.
 */
export function configCandidatePaths(modelPath: string, name: string): string[] {
  const out: string[] = [];
  let folder = folderOf(modelPath.replace(/^\/+/, ''));
  for (;;) {
    out.push(folder === '' ? name : `${folder}/${name}`);
    if (folder === '') return out;
    folder = folderOf(folder);
  }
}

/** The nearest candidate that the repo listing has, or null. */
export function nearestConfigPath(modelPath: string, name: string, files: ReadonlySet<string>): string | null {
  return configCandidatePaths(modelPath, name).find((p) => files.has(p)) ?? null;
}

/** The same walk for a plain link: the model URL's folder and its parents, at most `levels` of them. */
export function configCandidateUrls(modelUrl: string, name: string, levels = CONFIG_SEARCH_LEVELS): string[] {
  const out: string[] = [];
  let url = new URL(name, modelUrl);
  for (let i = 0; i < levels; i++) {
    out.push(url.href);
    if (url.pathname === `/${name}`) break;
    url = new URL(`../${name}`, url);
  }
  return out;
}

/** Where `configPath` lies relative to the model at `modelPath`, for people (hub repo paths). */
export function describeRepoConfig(configPath: string, modelPath: string): string {
  const name = configPath.slice(configPath.lastIndexOf('/') + 1);
  const folder = folderOf(configPath);
  if (folder === folderOf(modelPath)) return `${name} beside the model`;
  if (folder === '') return `${name} at the repo root`;
  return `${name} in ${folder}/`;
}

/** The same for a plain link: beside the model, or how many folders above it. */
export function describeUrlConfig(configUrl: string, modelUrl: string): string {
  const name = configUrl.slice(configUrl.lastIndexOf('/') + 1);
  const up = folderOf(new URL(modelUrl).pathname).split('/').length - folderOf(new URL(configUrl).pathname).split('/').length;
  if (up <= 0) return `${name} beside the model`;
  return `${name} ${up === 1 ? 'one folder' : `${up} folders`} above the model`;
}
