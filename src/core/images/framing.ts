// Whether a stored image folder is framed the way the loaded encoder expects. Folders keep only a
// copy at working resolution, so a folder framed otherwise has to be added again; saying so is
// better than training or scanning on pixels the encoder was never meant to see.
import type { Preprocessing } from './preprocess';

/** What a stored folder records of how its photos were framed. */
export interface StoredFraming {
  readonly name: string;
  readonly layout: { readonly size: number };
  /** The resize plan's description; null: framed by the working-size settings; absent: saved before plans existed. */
  readonly resize?: string | null;
}

/**
 * Whether a stored folder went through what the encoder expects: its input size and, when the
 * encoder has a resize plan, that plan (a folder added before the encoder was loaded was framed by
 * the working-size settings instead). Folders saved before plans existed are not second-guessed.
 */
export function framingProblems(dataset: StoredFraming, p: Preprocessing): string[] {
  const size = dataset.layout.size;
  if (size !== p.width || size !== p.height) {
    return [`${dataset.name} is stored at ${size}×${size} but the encoder wants ${p.width}×${p.height}: remove it and add it again, so it is stored at that size.`];
  }
  const plan = p.resize?.description;
  if (plan === undefined || dataset.resize === undefined || dataset.resize === plan) return [];
  const was = dataset.resize === null ? 'cropped by the Images step’s settings' : `processed as “${dataset.resize}”`;
  return [`${dataset.name} was ${was}, but this encoder expects “${plan}”: remove it and add it again, so its photos go through the encoder’s own preprocessing.`];
}

