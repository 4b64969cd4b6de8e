// Comments cite docs/ARCHITECTURE.md by section number; a renumbered or deleted section must not leave
// them pointing nowhere, and no comment may cite a design document the repository does not have.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, sourceFiles, type SourceFile } from './source-files';

const SECTION_SIGN = '\u00a7';
const DOC = 'docs/ARCHITECTURE.md';
/** The name of the design notes the project started from, which are not part of it (spelt so that this file does not cite them). */
const OLD_NOTES = ['DES', 'IGN'].join('');

/** Section numbers of the doc's headings: "## 5. The method" → 5, "### 5.3 Scoring" → 5.3. */
function sectionNumbers(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/^#{2,4}\s+(\d+(?:\.\d+)*)\.?\s/gm)) out.add(m[1] as string);
  return out;
}

/** "path:line: what" for every section reference that does not resolve and every citation of the old notes. */
function brokenReferences(files: readonly SourceFile[], sections: ReadonlySet<string>): string[] {
  const refs = new RegExp(`${SECTION_SIGN}\\s?(\\d+(?:\\.\\d+)*)`, 'g');
  const bad: string[] = [];
  for (const f of files) {
    f.text.split('\n').forEach((line, i) => {
      for (const m of line.matchAll(refs)) if (!sections.has(m[1] as string)) bad.push(`${f.path}:${i + 1}: ${SECTION_SIGN}${m[1]} is not a section of ${DOC}`);
      if (new RegExp(`\\b${OLD_NOTES}\\b`).test(line)) bad.push(`${f.path}:${i + 1}: cites ${OLD_NOTES}, which is not in the repository; cite ${DOC}`);
    });
  }
  return bad;
}

const doc = readFileSync(join(REPO_ROOT, DOC), 'utf8');
const sections = sectionNumbers(doc);

describe(`references to ${DOC}`, () => {
  it('has numbered sections', () => {
    expect([...sections].filter((s) => !s.includes('.')).length).toBeGreaterThanOrEqual(8);
    expect(sections.has('3.4')).toBe(true);
  });

  it('every section cited in code, scripts, benches, tests and the docs exists, and nothing cites the old notes', () => {
    const files = [
      ...sourceFiles(['src', 'workers', 'scripts', 'bench', 'e2e', 'docs'], ['.py', '.md', '.js', '.mjs', '.html', '.css']),
      { path: 'README.md', text: readFileSync(join(REPO_ROOT, 'README.md'), 'utf8') },
    ];
    expect(files.length).toBeGreaterThan(100);
    expect(brokenReferences(files, sections)).toEqual([]);
  });

  it('catches what it is meant to catch', () => {
    const s = SECTION_SIGN;
    const files = [
      { path: 'a.ts', text: `// fine (${DOC} ${s}3.4, also ${s}5)\n// renamed away (${DOC} ${s}42)` },
      { path: 'b.py', text: `"""Old reference (${OLD_NOTES}.md section 1)."""\nx = 1  # ${s} 5.3 with a space` },
    ];
    expect(brokenReferences(files, new Set(['3.4', '5', '5.3']))).toEqual([
      `a.ts:2: ${s}42 is not a section of ${DOC}`,
      `b.py:1: cites ${OLD_NOTES}, which is not in the repository; cite ${DOC}`,
    ]);
  });
});
