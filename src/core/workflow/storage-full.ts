// One wording for "browser storage is full", wherever a save fails for lack of quota: what could
// not be saved, that what was saved before is intact (OPFS writes swap in whole files on close),
// and how to make room.
import { isQuotaError } from '../hub/store';

export function storageFullMessage(what: string): string {
  return `Browser storage is full: ${what} could not be saved. Nothing saved before was lost. ` +
    'Free space by deleting saved models (Encoder step, Saved models) or image folders you no longer need (Images step), then try again.';
}

/** `err` as the storage-full message when it is a quota error; otherwise unchanged. */
export function explainStorageError(err: unknown, what: string): unknown {
  return isQuotaError(err) ? new Error(storageFullMessage(what)) : err;
}

/** Runs a save; a quota error becomes the storage-full message naming `what`. */
export async function saving<T>(what: string, save: () => Promise<T>): Promise<T> {
  try {
    return await save();
  } catch (err) {
    throw explainStorageError(err, what);
  }
}
