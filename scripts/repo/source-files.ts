// Walks the repository's own TypeScript sources for the repo-rule tests (layering, doc references).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const SKIP = new Set(['node_modules', 'dist', '.git', '__golden__', 'test-results', 'playwright-report']);

export interface SourceFile {
  /** '/'-separated path from the repository root. */
  readonly path: string;
  readonly text: string;
}

/** Every .ts/.tsx (and, with `extraExt`, other) file under `dirs`, relative to the repository root. */
export function sourceFiles(dirs: readonly string[], extraExt: readonly string[] = []): SourceFile[] {
  const exts = ['.ts', '.tsx', ...extraExt];
  const out: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (SKIP.has(entry.name)) continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (exts.some((e) => entry.name.endsWith(e))) out.push({ path: relative(REPO_ROOT, full).split('\\').join('/'), text: readFileSync(full, 'utf8') });
    }
  };
  for (const d of dirs) walk(join(REPO_ROOT, d));
  return out.sort((a, b) => a.path.localeCompare(b.path));
}
