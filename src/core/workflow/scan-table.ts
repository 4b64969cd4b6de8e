// Scan results as columns: one typed array per number and one path string per image, instead of
// one object per image. A 20,000-image scan then costs the page ~60 B of typed arrays plus its path
// per image, and no per-image object stays alive (an object with eight boxed numbers is ~250 B and
// keeps the garbage collector busy). Rows are materialised only where a few are needed (a page of
// the gallery, the top of a report) or where a caller asks for all of them.
//
// A table is a value: append() returns a new table that shares the column buffers (entries below a
// table's length never change, so earlier tables stay valid), which lets a store hold it immutably
// while a scan streams in without copying the whole table per chunk (amortised doubling).
import type { DatasetRole } from '../images/dataset';
import type { DecoderComponents, ScannedImage } from '../report/scan-report';

export interface ScanFolder {
  readonly id: string;
  readonly name: string;
  readonly role: DatasetRole;
}

/** A scanned image as the report describes it, plus where it is stored. */
export interface ScanRow extends ScannedImage {
  readonly datasetId: string;
  readonly datasetName: string;
  readonly role: DatasetRole;
  readonly slot: number;
}

/** A chunk of streamed decoder results for one folder. */
export interface ScanChunk {
  readonly folder: number;
  readonly slots: ArrayLike<number>;
  readonly paths: readonly string[];
  readonly scores: ArrayLike<number>;
  readonly dedeScores: ArrayLike<number>;
  readonly pValues: ArrayLike<number>;
  readonly flagged: ArrayLike<boolean>;
  /** decoderScore's components per image (docs/ARCHITECTURE.md §5.3.1); absent: not computed. */
  readonly components?: readonly Partial<DecoderComponents>[];
}

/** The fused verdict of every row, in row order. */
export interface VerdictColumns {
  readonly score: ArrayLike<number>;
  readonly pValue: ArrayLike<number>;
  /** true / 1 = flagged. */
  readonly flagged: ArrayLike<boolean> | ArrayLike<number>;
  readonly collapseScore: ArrayLike<number>;
  readonly collapsePValue: ArrayLike<number>;
}

/** Version 1 of the saved table has the first seven; version 2 adds decoderScore's components. */
const V1_COLUMNS = ['score', 'dedeScore', 'pValue', 'decoderScore', 'decoderPValue', 'collapseScore', 'collapsePValue'] as const;
const COMPONENT_COLUMNS = ['semanticZ', 'lowPassZ', 'flipZ', 'medianPatchError'] as const;
const NUMBER_COLUMNS = [...V1_COLUMNS, ...COMPONENT_COLUMNS] as const;
type NumberColumn = (typeof NUMBER_COLUMNS)[number];
const TABLE_VERSION = 2;

/** Growable storage shared by the tables appended from one another. */
interface Storage {
  readonly capacity: number;
  readonly folder: Uint16Array;
  readonly slot: Int32Array;
  readonly flagged: Uint8Array;
  readonly numbers: Record<NumberColumn, Float64Array>;
  readonly paths: string[];
}

function allocate(capacity: number): Storage {
  const numbers = Object.fromEntries(NUMBER_COLUMNS.map((c) => [c, new Float64Array(capacity)])) as Record<NumberColumn, Float64Array>;
  return { capacity, folder: new Uint16Array(capacity), slot: new Int32Array(capacity), flagged: new Uint8Array(capacity), numbers, paths: [] };
}

function grown(from: Storage, length: number, need: number): Storage {
  const to = allocate(Math.max(need, from.capacity * 2, 256));
  to.folder.set(from.folder.subarray(0, length));
  to.slot.set(from.slot.subarray(0, length));
  to.flagged.set(from.flagged.subarray(0, length));
  for (const c of NUMBER_COLUMNS) to.numbers[c].set(from.numbers[c].subarray(0, length));
  return { ...to, paths: from.paths.slice(0, length) };
}

export class ScanTable {
  private constructor(
    /** Which scan these rows are (kept through appends and saves). */
    readonly id: string,
    readonly folders: readonly ScanFolder[],
    readonly length: number,
    private readonly store: Storage,
  ) {}

  static empty(id: string, folders: readonly ScanFolder[]): ScanTable {
    if (folders.length > 0xffff) throw new Error(`a scan covers at most 65,535 folders, got ${folders.length}`);
    return new ScanTable(id, folders, 0, allocate(0));
  }

  /** Decoder results of one chunk, after the rows so far (decoder score = score, no collapse yet). */
  append(chunk: ScanChunk): ScanTable {
    const n = chunk.slots.length;
    if (![chunk.paths, chunk.scores, chunk.dedeScores, chunk.pValues, chunk.flagged].every((c) => c.length === n)) throw new Error('scan chunk: columns of different lengths');
    if (!(chunk.folder >= 0 && chunk.folder < this.folders.length)) throw new Error(`scan chunk: folder ${chunk.folder} is not one of the ${this.folders.length} scanned`);
    // Only the table that ends where the storage is filled may write past its end in place.
    let s = this.store;
    if (this.length + n > s.capacity || s.paths.length !== this.length) s = grown(s, this.length, this.length + n);
    const at = this.length;
    for (let i = 0; i < n; i++) {
      s.folder[at + i] = chunk.folder;
      s.slot[at + i] = chunk.slots[i]!;
      s.flagged[at + i] = chunk.flagged[i] ? 1 : 0;
      s.numbers.score[at + i] = chunk.scores[i]!;
      s.numbers.decoderScore[at + i] = chunk.scores[i]!;
      s.numbers.dedeScore[at + i] = chunk.dedeScores[i]!;
      s.numbers.pValue[at + i] = chunk.pValues[i]!;
      s.numbers.decoderPValue[at + i] = chunk.pValues[i]!;
      s.numbers.collapseScore[at + i] = NaN;
      s.numbers.collapsePValue[at + i] = NaN;
      const c = chunk.components?.[i];
      for (const k of COMPONENT_COLUMNS) s.numbers[k][at + i] = c?.[k] ?? NaN;
      s.paths.push(chunk.paths[i]!);
    }
    return new ScanTable(this.id, this.folders, at + n, s);
  }

  /** Rows reordered by `order` (row indices), in new storage. */
  permuted(order: ArrayLike<number>): ScanTable {
    if (order.length !== this.length) throw new Error(`permutation of ${order.length} for ${this.length} rows`);
    const s = allocate(this.length);
    for (let i = 0; i < order.length; i++) {
      const j = order[i]!;
      s.folder[i] = this.store.folder[j]!;
      s.slot[i] = this.store.slot[j]!;
      s.flagged[i] = this.store.flagged[j]!;
      for (const c of NUMBER_COLUMNS) s.numbers[c][i] = this.store.numbers[c][j]!;
      s.paths.push(this.store.paths[j]!);
    }
    return new ScanTable(this.id, this.folders, this.length, s);
  }

  /** The same rows with the fused verdict (score, p-value, flag, collapse components) replaced. */
  withVerdict(v: VerdictColumns): ScanTable {
    const n = this.length;
    if (![v.score, v.pValue, v.flagged, v.collapseScore, v.collapsePValue].every((c) => c.length === n)) throw new Error(`verdict columns do not have ${n} rows`);
    const st = this.store;
    // A storage of exactly n rows: a later append copies instead of writing into shared columns.
    const s: Storage = {
      capacity: n,
      folder: st.folder.slice(0, n),
      slot: st.slot.slice(0, n),
      flagged: Uint8Array.from({ length: n }, (_, i) => (v.flagged[i] ? 1 : 0)),
      numbers: {
        score: Float64Array.from(v.score),
        dedeScore: st.numbers.dedeScore.slice(0, n),
        pValue: Float64Array.from(v.pValue),
        decoderScore: st.numbers.decoderScore.slice(0, n),
        decoderPValue: st.numbers.decoderPValue.slice(0, n),
        collapseScore: Float64Array.from(v.collapseScore),
        collapsePValue: Float64Array.from(v.collapsePValue),
        semanticZ: st.numbers.semanticZ.slice(0, n),
        lowPassZ: st.numbers.lowPassZ.slice(0, n),
        flipZ: st.numbers.flipZ.slice(0, n),
        medianPatchError: st.numbers.medianPatchError.slice(0, n),
      },
      paths: st.paths.slice(0, n),
    };
    return new ScanTable(this.id, this.folders, n, s);
  }

  // ---- reading -----------------------------------------------------------------------------------

  folderOf(i: number): ScanFolder {
    return this.folders[this.store.folder[i]!]!;
  }
  folderIndex(i: number): number {
    return this.store.folder[i]!;
  }
  slot(i: number): number {
    return this.store.slot[i]!;
  }
  path(i: number): string {
    return this.store.paths[i]!;
  }
  flagged(i: number): boolean {
    return this.store.flagged[i] === 1;
  }
  /** A number column, as a view of this table's rows (do not write to it). */
  column(name: NumberColumn): Float64Array {
    return this.store.numbers[name].subarray(0, this.length);
  }
  score(i: number): number {
    return this.store.numbers.score[i]!;
  }

  /** Row i as the report describes it: path and numbers, optional components absent when not computed. */
  image(i: number): ScannedImage {
    if (!(i >= 0 && i < this.length)) throw new Error(`row ${i} is outside the ${this.length} scanned`);
    const num = this.store.numbers;
    // Assigned one by one (no spreads): exports build one of these per image.
    const image: { -readonly [K in keyof ScannedImage]: ScannedImage[K] } = { path: this.store.paths[i]!, score: num.score[i]!, dedeScore: num.dedeScore[i]!, pValue: num.pValue[i]!, flagged: this.store.flagged[i] === 1 };
    for (const c of ['decoderScore', 'decoderPValue', 'collapseScore', 'collapsePValue', ...COMPONENT_COLUMNS] as const) if (!Number.isNaN(num[c][i]!)) image[c] = num[c][i]!;
    return image;
  }

  /** Row i as an object, with where it is stored. */
  row(i: number): ScanRow {
    const f = this.folderOf(i);
    return { datasetId: f.id, datasetName: f.name, role: f.role, slot: this.slot(i), ...this.image(i) };
  }

  /** Every row as an object: linear in memory, for callers that need them all at once. */
  rows(): ScanRow[] {
    return Array.from({ length: this.length }, (_, i) => this.row(i));
  }

  /** Row index of (dataset, slot), or −1. Linear scan: for a handful of look-ups (tags). */
  indexOf(datasetId: string, slot: number): number {
    const f = this.folders.findIndex((x) => x.id === datasetId);
    if (f < 0) return -1;
    for (let i = 0; i < this.length; i++) if (this.store.folder[i] === f && this.store.slot[i] === slot) return i;
    return -1;
  }

  // ---- persistence -------------------------------------------------------------------------------

  /** A compact binary form: a JSON header (folders, count), the columns, then the paths. */
  encode(): Uint8Array {
    const n = this.length;
    const header = new TextEncoder().encode(JSON.stringify({ format: 'dede-scan-table', version: TABLE_VERSION, id: this.id, folders: this.folders, length: n }));
    const paths = new TextEncoder().encode(this.store.paths.slice(0, n).join('\0'));
    const columnBytes = n * (2 + 4 + 1 + 8 * NUMBER_COLUMNS.length);
    const pad = (x: number) => (8 - (x % 8)) % 8;
    const headerEnd = 4 + header.length + pad(4 + header.length);
    const out = new Uint8Array(headerEnd + columnBytes + pad(columnBytes) + 4 + paths.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, header.length, true);
    out.set(header, 4);
    let at = headerEnd;
    // Float64 columns first (8-aligned), then the narrower ones.
    for (const c of NUMBER_COLUMNS) {
      out.set(new Uint8Array(this.store.numbers[c].buffer, this.store.numbers[c].byteOffset, n * 8), at);
      at += n * 8;
    }
    out.set(new Uint8Array(this.store.slot.buffer, this.store.slot.byteOffset, n * 4), at);
    at += n * 4;
    out.set(new Uint8Array(this.store.folder.buffer, this.store.folder.byteOffset, n * 2), at);
    at += n * 2;
    out.set(this.store.flagged.subarray(0, n), at);
    at += n + pad(columnBytes);
    view.setUint32(at, paths.length, true);
    out.set(paths, at + 4);
    return out;
  }

  static decode(bytes: Uint8Array): ScanTable {
    const fail = (why: string): never => {
      throw new Error(`saved scan results are unreadable (${why}); scan again`);
    };
    if (bytes.length < 4) fail('too short');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLength = view.getUint32(0, true);
    if (4 + headerLength > bytes.length) fail('header past the end');
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + headerLength))) as { format?: string; version?: number; id?: string; folders?: ScanFolder[]; length?: number };
    if (header.format !== 'dede-scan-table' || (header.version !== 1 && header.version !== TABLE_VERSION) || typeof header.id !== 'string' || !Array.isArray(header.folders) || !Number.isInteger(header.length)) fail('not a version-1 or -2 scan table');
    const n = header.length!;
    // A version-1 table (saved before the content score) has no component columns: they read as absent.
    const saved = header.version === 1 ? V1_COLUMNS : NUMBER_COLUMNS;
    const pad = (x: number) => (8 - (x % 8)) % 8;
    let at = 4 + headerLength + pad(4 + headerLength);
    const columnBytes = n * (2 + 4 + 1 + 8 * saved.length);
    if (at + columnBytes + pad(columnBytes) + 4 > bytes.length) fail('columns past the end');
    const s = allocate(n);
    const copy = (target: Uint8Array) => {
      target.set(bytes.subarray(at, at + target.length));
      at += target.length;
    };
    for (const c of saved) copy(new Uint8Array(s.numbers[c].buffer));
    if (saved === V1_COLUMNS) for (const c of COMPONENT_COLUMNS) s.numbers[c].fill(NaN);
    copy(new Uint8Array(s.slot.buffer));
    copy(new Uint8Array(s.folder.buffer));
    copy(s.flagged);
    at += pad(columnBytes);
    const pathBytes = view.getUint32(at, true);
    if (at + 4 + pathBytes > bytes.length) fail('paths past the end');
    const paths = n === 0 ? [] : new TextDecoder().decode(bytes.subarray(at + 4, at + 4 + pathBytes)).split('\0');
    if (paths.length !== n) fail(`${paths.length} paths for ${n} rows`);
    if (s.folder.some((f) => f >= header.folders!.length)) fail('a row names a folder that is not listed');
    return new ScanTable(header.id!, header.folders!, n, { ...s, paths });
  }
}
