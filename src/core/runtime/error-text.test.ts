import { describe, expect, it } from 'vitest';
import { errorText } from './error-text';

describe('errorText', () => {
  it('reads errors, strings and other thrown values', () => {
    expect(errorText(new TypeError('bad type'))).toBe('bad type');
    expect(errorText('plain')).toBe('plain');
    expect(errorText({ code: 3, why: 'x' })).toBe('{"code":3,"why":"x"}');
    expect(errorText(42)).toBe('42');
    expect(errorText(undefined)).toBe('undefined');
    expect(errorText(null)).toBe('null');
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(errorText(cyclic)).toBe('[object Object]');
  });
});
