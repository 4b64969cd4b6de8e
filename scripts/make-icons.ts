// Renders the PWA icons (public/icons/*.png) from the app's mark, public/favicon.svg, with sharp.
// Run after changing the mark: npx tsx scripts/make-icons.ts
import { mkdirSync, readFileSync } from 'node:fs';
import sharp from 'sharp';

const root = new URL('../public/', import.meta.url);
const svg = readFileSync(new URL('favicon.svg', root));
mkdirSync(new URL('icons/', root), { recursive: true });

for (const size of [192, 512]) {
  await sharp(svg, { density: (72 * size) / 32 }).resize(size, size).png().toFile(new URL(`icons/icon-${size}.png`, root).pathname);
}
// Maskable: the platform may crop to a circle, so the mark sits inside the 80% safe zone on a
// full-bleed background of the mark's own colour.
const inner = Math.round(512 * 0.72);
const mark = await sharp(svg, { density: (72 * inner) / 32 }).resize(inner, inner).png().toBuffer();
await sharp({ create: { width: 512, height: 512, channels: 4, background: '#1f4e79' } })
  .composite([{ input: mark, gravity: 'center' }])
  .png()
  .toFile(new URL('icons/icon-maskable-512.png', root).pathname);
