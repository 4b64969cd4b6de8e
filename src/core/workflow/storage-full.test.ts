import { describe, expect, it } from 'vitest';
import { QuotaError } from '../hub/store';
import { saving } from './storage-full';

describe('saving', () => {
  it('turns a quota error into a message naming what was not saved and what to do', async () => {
    const quota = new DOMException('The operation failed because it would cause the application to exceed its storage quota.', 'QuotaExceededError');
    const err = await saving('the training checkpoint at step 40', () => Promise.reject(quota)).catch((e: unknown) => e as Error);
    expect(err.message).toMatch(/^Browser storage is full: the training checkpoint at step 40 could not be saved\. Nothing saved before was lost\. Free space by deleting saved models/);
    await expect(saving('x', () => Promise.reject(new QuotaError('full')))).rejects.toThrow('Browser storage is full: x could not be saved.');
  });

  it('passes other errors and results through unchanged', async () => {
    const other = new Error('disk on fire');
    await expect(saving('x', () => Promise.reject(other))).rejects.toBe(other);
    await expect(saving('x', async () => 7)).resolves.toBe(7);
  });
});
