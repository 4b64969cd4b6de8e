import { describe, expect, it } from 'vitest';
import { blobFromParts, cleanedFileList, cleanedFileListParts, zipEntryName } from './report-files';

const rows = [0.1, 0.9, 0.5, 0.7, 0.3].map((score, i) => ({ path: `${i === 3 ? 'd2' : 'd1'}/img-${i}.png`, score }));

describe('report files', () => {
  it('lists the unflagged paths one per line', () => {
    expect(cleanedFileList(rows, 0.5)).toBe('d1/img-0.png\nd1/img-2.png\nd1/img-4.png\n');
    expect([...cleanedFileListParts(rows, 0.5, 2)]).toEqual(['d1/img-0.png\nd1/img-2.png\n', 'd1/img-4.png\n']);
  });
  it('folds many pieces into one Blob with the pieces in order', async () => {
    const parts = Array.from({ length: 50 }, (_, i) => `${i},`);
    for (const every of [1, 7, 100]) expect(await blobFromParts(parts, 'text/plain', every).text()).toBe(parts.join(''));
    expect((await blobFromParts([], 'text/plain').text())).toBe('');
  });
  it('makes safe, unique zip entry names', () => {
    const taken = new Set<string>();
    expect(zipEntryName('kept', 'a/b.jpg', taken)).toBe('kept/a/b.png');
    expect(zipEntryName('kept', 'a/b.jpeg', taken)).toBe('kept/a/b~2.png');
    expect(zipEntryName('flagged', '../../etc/passwd', taken)).toBe('flagged/etc/passwd.png');
    expect(zipEntryName('flagged', '/abs\\win.png', taken)).toBe('flagged/abs/win.png');
    expect(zipEntryName('flagged', '=cmd<b>"x".png', taken)).toBe('flagged/=cmd_b__x_.png');
  });
});
