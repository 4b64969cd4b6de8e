// The one HTML escaper for generated documents: text and attribute values alike (double- or
// single-quoted). Everything that can end a text run, a tag or an attribute is replaced.
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => ENTITIES[c]!);
}
