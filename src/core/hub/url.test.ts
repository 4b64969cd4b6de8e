import { describe, expect, it } from 'vitest';
import { downloadUrl, hubFileUrl, hubModelApiUrl, parseModelSource, siblingPath, type ModelSource } from './url';

const ok = (input: string, endpoint?: string): ModelSource => {
  const r = parseModelSource(input, endpoint);
  if (!r.ok) throw new Error(`expected ok for ${input}: ${r.error}`);
  return r.source;
};
const err = (input: string, endpoint?: string): string => {
  const r = parseModelSource(input, endpoint);
  if (r.ok) throw new Error(`expected an error for ${input}`);
  return r.error;
};

describe('parseModelSource', () => {
  const file = { kind: 'hub-file', repo: 'acme/simclr-r18', revision: 'main', path: 'onnx/model.onnx' };
  it.each([
    'https://huggingface.co/acme/simclr-r18/resolve/main/onnx/model.onnx',
    'https://huggingface.co/acme/simclr-r18/blob/main/onnx/model.onnx',
    'huggingface.co/acme/simclr-r18/resolve/main/onnx/model.onnx',
    'https://hf.co/acme/simclr-r18/resolve/main/onnx/model.onnx',
    'hf.co/acme/simclr-r18/blob/main/onnx/model.onnx',
    '  https://huggingface.co/acme/simclr-r18/resolve/main/onnx/model.onnx?download=true  ',
  ])('reads the hub file link %s', (input) => {
    expect(ok(input)).toEqual(file);
  });

  it('keeps encoded revisions and paths', () => {
    expect(ok('https://huggingface.co/a/b/resolve/refs%2Fpr%2F3/my%20model.onnx')).toEqual({
      kind: 'hub-file', repo: 'a/b', revision: 'refs/pr/3', path: 'my model.onnx',
    });
  });

  it('reads repo ids and repo pages, with an optional revision', () => {
    expect(ok('acme/simclr-r18')).toEqual({ kind: 'hub-repo', repo: 'acme/simclr-r18', revision: null });
    expect(ok('acme/simclr-r18@v1.0')).toEqual({ kind: 'hub-repo', repo: 'acme/simclr-r18', revision: 'v1.0' });
    expect(ok('https://huggingface.co/acme/simclr-r18')).toEqual({ kind: 'hub-repo', repo: 'acme/simclr-r18', revision: null });
    expect(ok('https://huggingface.co/acme/simclr-r18/tree/dev')).toEqual({ kind: 'hub-repo', repo: 'acme/simclr-r18', revision: 'dev' });
  });

  it('reads links on a configured mirror, including one under a path', () => {
    expect(ok('http://127.0.0.1:8080/acme/enc/resolve/abc123/model.onnx', 'http://127.0.0.1:8080')).toEqual({
      kind: 'hub-file', repo: 'acme/enc', revision: 'abc123', path: 'model.onnx',
    });
    expect(ok('https://mirror.example/hf/acme/enc/resolve/main/m.onnx', 'https://mirror.example/hf/')).toEqual({
      kind: 'hub-file', repo: 'acme/enc', revision: 'main', path: 'm.onnx',
    });
  });

  it('accepts plain https links to .onnx files', () => {
    expect(ok('https://example.org/models/enc.onnx')).toEqual({ kind: 'url', url: 'https://example.org/models/enc.onnx' });
    expect(ok('http://localhost:9000/enc.onnx')).toEqual({ kind: 'url', url: 'http://localhost:9000/enc.onnx' });
  });

  it.each([
    ['', /Paste/],
    ['acme', /neither a URL nor a repo id/],
    ['ac me/model', /spaces/],
    ['-acme/model', /not a valid repo id/],
    ['acme/model..x', /not a valid repo id/],
    ['https://huggingface.co/acme/enc/resolve/main/config.json', /not an \.onnx file/],
    ['https://huggingface.co/acme/enc/resolve/main', /names no file/],
    ['https://huggingface.co/acme/enc/commits/main', /Unrecognised hub link/],
    ['https://huggingface.co/datasets/acme/imgs', /dataset or Space/],
    ['https://huggingface.co/acme', /names no repo/],
    ['https://example.org/page.html', /does not point to an \.onnx file/],
    ['http://example.org/enc.onnx', /https/],
    ['ftp://example.org/enc.onnx', /Only http\(s\)/],
    ['https://huggingface.co/a/b/resolve/main/%E0%A4%A.onnx', /not valid/],
    ['https://huggingface.co/a/b/resolve/main/../x.onnx', /not an \.onnx|not valid|names no file/],
  ])('rejects %j with a readable message', (input, message) => {
    expect(err(input)).toMatch(message);
  });
});

describe('hub URLs', () => {
  it('builds resolve and API URLs against the endpoint', () => {
    expect(hubFileUrl('https://huggingface.co/', 'a/b', 'refs/pr/1', 'onnx/my model.onnx')).toBe(
      'https://huggingface.co/a/b/resolve/refs%2Fpr%2F1/onnx/my%20model.onnx',
    );
    expect(hubModelApiUrl('http://127.0.0.1:8080', 'a/b', null)).toBe('http://127.0.0.1:8080/api/models/a/b');
    expect(hubModelApiUrl('http://127.0.0.1:8080', 'a/b', 'v2')).toBe('http://127.0.0.1:8080/api/models/a/b/revision/v2');
    expect(hubModelApiUrl('http://127.0.0.1:8080', 'a/b', 'main', { blobs: true })).toBe('http://127.0.0.1:8080/api/models/a/b/revision/main?blobs=true');
    expect(downloadUrl({ kind: 'url', url: 'https://x.org/m.onnx' }, 'https://huggingface.co')).toBe('https://x.org/m.onnx');
  });
  it('finds sibling files in the same folder', () => {
    expect(siblingPath('onnx/model.onnx', 'preprocessor_config.json')).toBe('onnx/preprocessor_config.json');
    expect(siblingPath('model.onnx', 'model.onnx_data')).toBe('model.onnx_data');
  });
});
