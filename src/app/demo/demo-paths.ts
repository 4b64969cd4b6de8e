// Where the demo's bundled files go when the demo adds them as folders.

/**
 * The demo's clean photos are bundled flat as `<class>_<file>.png`; they are added in class folders
 * (`clean-reference/<class>/<file>.png`), the layout a user's labelled photos come in, so the
 * Review's reveal can name the class the backdoor maps to (docs/ARCHITECTURE.md §5.7.1).
 */
export function demoClassPath(folder: string, bundled: string): string {
  const file = bundled.split('/').pop()!;
  const cut = file.indexOf('_');
  return cut > 0 ? `${folder}/${file.slice(0, cut)}/${file.slice(cut + 1)}` : `${folder}/${file}`;
}
