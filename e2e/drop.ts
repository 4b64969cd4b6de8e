// Dropping a folder on the Images step the way a user does, for specs that load photos.
import type { Locator, Page } from '@playwright/test';

/** Drops files on the drop zone with a real DataTransfer, paths kept in webkitRelativePath. */
export async function dropFolder(page: Page, target: Locator, folderName: string, files: { path: string; bytes: Buffer }[]): Promise<void> {
  const payload = files.map((f) => ({ path: `${folderName}/${f.path}`, b64: f.bytes.toString('base64') }));
  await target.evaluate((zone, items) => {
    const dt = new DataTransfer();
    for (const item of items) {
      const bin = atob(item.b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const file = new File([bytes], item.path.split('/').pop()!, { lastModified: 0 });
      // What a folder drop or directory input would carry; synthetic items have no entries.
      Object.defineProperty(file, 'webkitRelativePath', { value: item.path });
      dt.items.add(file);
    }
    for (const type of ['dragenter', 'dragover', 'drop']) {
      zone.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }
  }, payload);
}
