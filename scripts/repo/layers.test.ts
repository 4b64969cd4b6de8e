// The layering rule of docs/ARCHITECTURE.md §1: the core and the workers never reach into the UI.
import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceFiles } from './source-files';

/** Module specifiers of static imports, re-exports, side-effect imports and dynamic imports. */
function importSpecifiers(text: string): string[] {
  const specs: string[] = [];
  const patterns = [/\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\bnew URL\(\s*['"]([^'"]+)['"]/g];
  for (const re of patterns) for (const m of text.matchAll(re)) specs.push(m[1] as string);
  return specs;
}

/** Repository-relative target of a relative specifier from `file`, or null for packages. */
function resolved(file: string, spec: string): string | null {
  return spec.startsWith('.') ? posix.normalize(posix.join(posix.dirname(file), spec)) : null;
}

/** "file → target" for each import from a layer below the UI into src/app. */
function uiImports(files: readonly { path: string; text: string }[]): string[] {
  const bad: string[] = [];
  for (const f of files) {
    for (const spec of importSpecifiers(f.text)) {
      const target = resolved(f.path, spec);
      if (target !== null && (target === 'src/app' || target.startsWith('src/app/'))) bad.push(`${f.path} → ${spec}`);
    }
  }
  return bad;
}

describe('layers', () => {
  it('no file under workers/ or src/core imports from src/app', () => {
    expect(uiImports(sourceFiles(['workers', 'src/core']))).toEqual([]);
  });

  it('catches the imports it is meant to catch', () => {
    const files = [
      { path: 'workers/x.worker.ts', text: "import { a } from '../src/app/images/store';\nexport * from \"../src/app\";" },
      { path: 'src/core/y.ts', text: "const m = await import('../app/z');\nimport '../apple/ok';\nimport { b } from './app/ok';" },
    ];
    expect(uiImports(files)).toEqual(['workers/x.worker.ts → ../src/app/images/store', 'workers/x.worker.ts → ../src/app', 'src/core/y.ts → ../app/z']);
  });
});
