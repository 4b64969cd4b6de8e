import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256 } from './sha256';

const bytes = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17 + (i >> 7)) & 255);
const nodeHex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const webHex = async (b: Uint8Array): Promise<string> =>
  Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', b as Uint8Array<ArrayBuffer>)), (x) => x.toString(16).padStart(2, '0')).join('');

describe('Sha256', () => {
  it('matches the FIPS 180-4 examples', () => {
    expect(new Sha256().hex()).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(new Sha256().update(new TextEncoder().encode('abc')).hex()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(new Sha256().update(new TextEncoder().encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).hex()).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('matches node:crypto on every length around the block and padding edges', () => {
    for (let n = 0; n <= 300; n++) {
      const b = bytes(n, n);
      expect(new Sha256().update(b).hex(), `length ${n}`).toBe(nodeHex(b));
    }
  });

  it('gives the same digest however the input is split into updates', () => {
    const b = bytes(100_003, 7);
    const want = nodeHex(b);
    for (const step of [1, 3, 63, 64, 65, 1000, 65_536]) {
      const h = new Sha256();
      for (let o = 0; o < b.length; o += step) h.update(b.subarray(o, o + step));
      expect(h.hex(), `step ${step}`).toBe(want);
    }
    // Uneven pieces, including empty ones.
    const h = new Sha256();
    let o = 0;
    for (let i = 0; o < b.length; i++) {
      const n = (i * 7919) % 4099;
      h.update(b.subarray(o, o + n));
      o += n;
    }
    expect(h.hex()).toBe(want);
  });

  it('matches Web Crypto on larger inputs', async () => {
    for (const n of [4096, 1_000_000, 3_145_727]) {
      const b = bytes(n, 3);
      expect(new Sha256().update(b).hex()).toBe(await webHex(b));
    }
  });

  it('refuses to be reused after the digest', () => {
    const h = new Sha256();
    h.hex();
    expect(() => h.update(new Uint8Array(1))).toThrow(/after digest/);
  });
});
