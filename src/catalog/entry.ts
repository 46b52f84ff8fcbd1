// Catalog entries: canonical bencoded dictionaries signed by their publisher (docs/protocols.md, "Catalog entries").
//
// On the wire an entry is `bencode({ e: <body bytes>, s: <64-byte ed25519 signature of the body bytes> })`, the body
// being the bencoded field dictionary below. The body must be canonical (exactly what encodeBody gives for the fields
// it holds), so one model state has one encoding and signatures cannot be malleated by re-encoding.
import bencode from 'bencode';
import { verifySignature } from './ed25519.js';
import { isHfRepoId } from '../shared/hf-repo.js';

/** The whole signed record, body and signature: larger ones are dropped unread. */
export const MAX_ENTRY_BYTES = 4096;
export const MAX_DESCRIPTION_BYTES = 2000;
export const MAX_TAGS = 32;
export const MAX_TAG_LENGTH = 48;
export const MAX_URLS = 8;
export const MAX_URL_LENGTH = 300;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SHORT_TEXT = 64;

export interface EntryFields {
  /** Hex ed25519 public key (64 chars). */
  publisher: string;
  /** `org/model`. */
  name: string;
  /** Per-(publisher, name) sequence number: the higher one wins a merge. */
  seq: number;
  /** A tombstone: the publisher withdrew the model. Only publisher, name, seq and created are kept. */
  deleted?: boolean;
  /** Hex v1 infohash (40 chars). */
  v1?: string;
  /** Hex v2 infohash (64 chars). */
  v2?: string;
  size: number;
  files: number;
  license: string;
  /** Lower-case, sorted, unique. */
  tags: string[];
  description: string;
  /** safetensors, gguf, pytorch, onnx, mixed, other... lower case. */
  format: string;
  architecture: string;
  parameters: number;
  quantization: string;
  /** Unix seconds. */
  created: number;
  trackers: string[];
  webSeeds: string[];
  /** Hugging Face origin (optional; see docs/huggingface.md): the Hub repository id (`org/name` or `name`). */
  hfRepo?: string;
  /** The Hub commit the files are a snapshot of (40 hex digits); required with hfRepo. */
  hfCommit?: string;
  /** Each real file's Hub blob name (etag: sha256 for LFS files, git blob sha1 for others), in torrent file order. */
  hfEtags?: string[];
  /** The cache refs (`main`, a tag...) that pointed at hfCommit where it was shared: a download into another cache
   *  writes them too, so `from_pretrained("org/name")` resolves offline without a revision. */
  hfRefs?: string[];
}

/** A verified entry: its fields plus the exact signed record it came in. */
export interface CatalogEntry extends EntryFields {
  /** The record as signed (`{e, s}`), kept byte for byte so it can be passed on unchanged. */
  record: Uint8Array;
}

export type DropReason = 'malformed' | 'oversized' | 'signature';

export class EntryError extends Error {
  override name = 'EntryError';
  constructor(
    readonly reason: DropReason,
    message: string,
  ) {
    super(message);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Normalises user input (tags lower-cased, sorted, unique; defaults) and checks every limit; throws EntryError. */
export function normaliseFields(input: Partial<EntryFields> & Pick<EntryFields, 'publisher' | 'name' | 'seq'>) {
  const f: EntryFields = {
    publisher: input.publisher.toLowerCase(),
    name: input.name,
    seq: input.seq,
    deleted: input.deleted ? true : undefined,
    v1: input.v1?.toLowerCase(),
    v2: input.v2?.toLowerCase(),
    size: input.size ?? 0,
    files: input.files ?? 0,
    license: input.license ?? '',
    tags: [...new Set((input.tags ?? []).map((t) => t.trim().toLowerCase()).filter(Boolean))].sort(),
    description: input.description ?? '',
    format: (input.format ?? '').toLowerCase(),
    architecture: input.architecture ?? '',
    parameters: input.parameters ?? 0,
    quantization: input.quantization ?? '',
    created: input.created ?? Math.floor(Date.now() / 1000),
    trackers: input.trackers ?? [],
    webSeeds: input.webSeeds ?? [],
  };
  if (input.hfRepo !== undefined) f.hfRepo = input.hfRepo;
  if (input.hfCommit !== undefined) f.hfCommit = input.hfCommit.toLowerCase();
  if (input.hfEtags !== undefined && input.hfEtags.length) f.hfEtags = input.hfEtags.map((e) => e.toLowerCase());
  if (input.hfRefs !== undefined && input.hfRefs.length) f.hfRefs = [...new Set(input.hfRefs)].sort();
  if (f.deleted) {
    Object.assign(f, { v1: undefined, v2: undefined, size: 0, files: 0, license: '', tags: [], description: '' });
    Object.assign(f, { format: '', architecture: '', parameters: 0, quantization: '', trackers: [], webSeeds: [] });
    delete f.hfRepo;
    delete f.hfCommit;
    delete f.hfEtags;
    delete f.hfRefs;
  }
  checkFields(f);
  return f;
}

function bad(message: string): never {
  throw new EntryError('malformed', message);
}

function checkInt(n: unknown, what: string): void {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) bad(`${what} must be a non-negative integer`);
}

function checkText(s: string, what: string, max: number): void {
  if (Buffer.byteLength(s) > max) bad(`${what} is longer than ${max} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(s) && what !== 'description') bad(`${what} holds control characters`);
}

/** `fromBytes`: the hex fields were just made from byte strings of the right length (decodeBody), so they are hex. */
function checkFields(f: EntryFields, fromBytes = false): void {
  if (!fromBytes && !/^[0-9a-f]{64}$/.test(f.publisher)) bad('publisher must be a 32-byte hex key');
  if (!NAME_RE.test(f.name) || f.name.includes('..')) bad(`name must look like org/model, got "${f.name}"`);
  checkInt(f.seq, 'seq');
  checkInt(f.created, 'created');
  if (f.deleted) return;
  if (!f.v1 && !f.v2) bad('an entry needs a v1 or a v2 infohash');
  if (!fromBytes && f.v1 !== undefined && !/^[0-9a-f]{40}$/.test(f.v1)) bad('v1 must be 40 hex digits');
  if (!fromBytes && f.v2 !== undefined && !/^[0-9a-f]{64}$/.test(f.v2)) bad('v2 must be 64 hex digits');
  checkInt(f.size, 'size');
  checkInt(f.files, 'files');
  checkInt(f.parameters, 'parameters');
  if (f.files < 1) bad('an entry has at least one file');
  checkText(f.license, 'license', SHORT_TEXT);
  checkText(f.format, 'format', 32);
  checkText(f.architecture, 'architecture', SHORT_TEXT);
  checkText(f.quantization, 'quantization', 32);
  checkText(f.description, 'description', MAX_DESCRIPTION_BYTES);
  if (f.tags.length > MAX_TAGS) bad(`at most ${MAX_TAGS} tags`);
  for (const t of f.tags) {
    checkText(t, 'tag', MAX_TAG_LENGTH);
    if (/[\s,]/.test(t)) bad(`tag "${t}" holds a space or comma`);
  }
  for (const [list, what] of [
    [f.trackers, 'trackers'],
    [f.webSeeds, 'web seeds'],
  ] as const) {
    if (list.length > MAX_URLS) bad(`at most ${MAX_URLS} ${what}`);
    for (const u of list) {
      checkText(u, what, MAX_URL_LENGTH);
      if (!/^(https?|udp|wss?):\/\/[^\s]+$/i.test(u)) bad(`${what}: "${u}" is not a tracker or web URL`);
    }
  }
  checkHf(f);
}

function checkHf(f: EntryFields): void {
  if (f.hfRepo === undefined && f.hfCommit === undefined && f.hfEtags === undefined && f.hfRefs === undefined) return;
  if (f.hfRepo === undefined || f.hfCommit === undefined) bad('a Hugging Face entry needs both hfRepo and hfCommit');
  if (!isHfRepoId(f.hfRepo)) bad(`hfRepo "${f.hfRepo}" is not a Hub repository id`);
  if (!/^[0-9a-f]{40}$/.test(f.hfCommit)) bad('hfCommit must be 40 hex digits');
  if (f.hfEtags !== undefined) {
    if (f.hfEtags.length !== f.files) bad(`hfEtags holds ${f.hfEtags.length} etags for ${f.files} files`);
    for (const e of f.hfEtags) if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(e)) bad(`etag "${e}" is not sha1 or sha256`);
  }
  if (f.hfRefs !== undefined) {
    if (f.hfRefs.length > MAX_HF_REFS) bad(`more than ${MAX_HF_REFS} hfRefs`);
    // A ref becomes a path under refs/ on the downloader's disk: plain names only.
    for (const r of f.hfRefs) if (!isSafeRef(r)) bad(`hfRef "${r}" is not a plain ref name`);
  }
}

const MAX_HF_REFS = 8;

/** `main`, `v1.0`, `pr/3`: letters, digits, `._-`, `/` between non-empty parts that are not `.` or `..`. */
export function isSafeRef(r: string): boolean {
  if (!r || r.length > 100 || !/^[A-Za-z0-9._/-]+$/.test(r)) return false;
  return r.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** The canonical body: optional fields are left out when empty, so a field added later does not change old bytes. */
export function encodeBody(f: EntryFields): Uint8Array {
  const d: Record<string, unknown> = {
    created: f.created,
    name: f.name,
    pub: Buffer.from(f.publisher, 'hex'),
    seq: f.seq,
  };
  if (f.deleted) {
    d.deleted = 1;
  } else {
    if (f.architecture) d.arch = f.architecture;
    if (f.description) d.desc = f.description;
    d.files = f.files;
    if (f.format) d.format = f.format;
    if (f.hfCommit) d.hfcommit = Buffer.from(f.hfCommit, 'hex');
    if (f.hfEtags?.length) d.hfetags = f.hfEtags.map((e) => Buffer.from(e, 'hex'));
    if (f.hfRefs?.length) d.hfrefs = f.hfRefs;
    if (f.hfRepo) d.hfrepo = f.hfRepo;
    if (f.license) d.license = f.license;
    if (f.parameters) d.params = f.parameters;
    if (f.quantization) d.quant = f.quantization;
    d.size = f.size;
    if (f.tags.length) d.tags = f.tags;
    if (f.trackers.length) d.trackers = f.trackers;
    if (f.v1) d.v1 = Buffer.from(f.v1, 'hex');
    if (f.v2) d.v2 = Buffer.from(f.v2, 'hex');
    if (f.webSeeds.length) d.webseeds = f.webSeeds;
  }
  return bencode.encode(d);
}

/** Signs the fields with `sign` (the publisher's key) and returns the verified entry. */
export function signEntry(fields: EntryFields, sign: (msg: Uint8Array) => Uint8Array): CatalogEntry {
  const f = normaliseFields(fields);
  const body = encodeBody(f);
  const record = bencode.encode({ e: body, s: sign(body) });
  if (record.length > MAX_ENTRY_BYTES) throw new EntryError('oversized', `entry is ${record.length} bytes`);
  return { ...f, record };
}

/**
 * Short words that repeat over a catalog (licenses, formats, architectures, tags, tracker URLs): one string each,
 * kept by the merge index, instead of one per entry for the garbage collector to copy and mark.
 */
const common = new Map<string, string>();
function shared(s: string): string {
  const known = common.get(s);
  if (known !== undefined) return known;
  if (common.size >= 65_536) common.clear();
  common.set(s, s);
  return s;
}

function text(v: unknown, what: string, repeats = false): string {
  if (!(v instanceof Uint8Array)) bad(`${what} is not a string`);
  // Most catalog text is ASCII: read it directly (a TextDecoder call costs more than these short strings).
  let ascii = v.length <= 512;
  for (let i = 0; ascii && i < v.length; i++) if (v[i] > 0x7f) ascii = false;
  if (ascii) {
    const s = String.fromCharCode.apply(null, v as unknown as number[]);
    return repeats && s.length <= MAX_URL_LENGTH ? shared(s) : s;
  }
  try {
    return utf8.decode(v);
  } catch {
    bad(`${what} is not UTF-8`);
  }
}

function hex(v: unknown, len: number, what: string): string {
  if (!(v instanceof Uint8Array) || v.length !== len) bad(`${what} must be ${len} bytes`);
  return Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex');
}

/**
 * A publisher key as hex, one string per key: a catalog repeats few keys over many entries, and 100,000 copies of
 * the same 64 characters were megabytes for the garbage collector to copy and mark. Found by 48 bits of the key,
 * confirmed byte for byte.
 */
const publisherHexes = new Map<number, { key: Uint8Array; hex: string }>();
function publisherHex(v: unknown): string {
  if (!(v instanceof Uint8Array) || v.length !== 32) bad('pub must be 32 bytes');
  const tag = (v[0] | (v[1] << 8) | (v[2] << 16)) + (v[3] | (v[4] << 8) | (v[5] << 16)) * 0x1000000;
  const known = publisherHexes.get(tag);
  if (known) {
    let same = true;
    for (let i = 6; i < 32 && same; i++) same = known.key[i] === v[i];
    if (same) return known.hex;
  }
  const hexKey = Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex');
  if (publisherHexes.size >= 65_536) publisherHexes.clear();
  publisherHexes.set(tag, { key: v.slice(), hex: hexKey });
  return hexKey;
}

function textList(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) bad(`${what} is not a list`);
  return v.map((x) => text(x, what, true));
}

const KNOWN_KEYS = new Set([
  'arch',
  'created',
  'deleted',
  'desc',
  'files',
  'format',
  'hfcommit',
  'hfetags',
  'hfrefs',
  'hfrepo',
  'license',
  'name',
  'params',
  'pub',
  'quant',
  'seq',
  'size',
  'tags',
  'trackers',
  'v1',
  'v2',
  'webseeds',
]);

/** Reads a body's fields (no signature check). Throws EntryError('malformed') on anything unexpected. */
export function decodeBody(body: Uint8Array): EntryFields {
  // One pass over the bytes (readBody) instead of a generic decode then a re-encode to compare lengths: this runs for
  // every record of every catalog, and the generic path cost ~25 us an entry, more than a quarter of a verify.
  const d = readBody(body);
  const num = (v: unknown, what: string) => {
    checkInt(v, what);
    return v as number;
  };
  const f: EntryFields = {
    publisher: publisherHex(d.pub),
    name: text(d.name, 'name'),
    seq: num(d.seq, 'seq'),
    deleted: d.deleted === undefined ? undefined : d.deleted === 1 ? true : bad('deleted must be 1'),
    v1: d.v1 === undefined ? undefined : hex(d.v1, 20, 'v1'),
    v2: d.v2 === undefined ? undefined : hex(d.v2, 32, 'v2'),
    size: d.size === undefined ? 0 : num(d.size, 'size'),
    files: d.files === undefined ? 0 : num(d.files, 'files'),
    license: d.license === undefined ? '' : text(d.license, 'license', true),
    tags: textList(d.tags, 'tags'),
    description: d.desc === undefined ? '' : text(d.desc, 'desc'),
    format: d.format === undefined ? '' : text(d.format, 'format', true),
    architecture: d.arch === undefined ? '' : text(d.arch, 'arch', true),
    parameters: d.params === undefined ? 0 : num(d.params, 'params'),
    quantization: d.quant === undefined ? '' : text(d.quant, 'quant', true),
    created: num(d.created, 'created'),
    trackers: textList(d.trackers, 'trackers'),
    webSeeds: textList(d.webseeds, 'webseeds'),
  };
  if (d.hfrepo !== undefined) f.hfRepo = text(d.hfrepo, 'hfrepo');
  if (d.hfcommit !== undefined) f.hfCommit = hex(d.hfcommit, 20, 'hfcommit');
  if (d.hfrefs !== undefined) f.hfRefs = textList(d.hfrefs, 'hfrefs');
  if (d.hfetags !== undefined) {
    const etags = d.hfetags;
    if (!Array.isArray(etags) || etags.length === 0) bad('hfetags is not a non-empty list');
    f.hfEtags = etags.map((e) => {
      if (!(e instanceof Uint8Array) || (e.length !== 20 && e.length !== 32)) bad('an etag must be 20 or 32 bytes');
      return Buffer.from(e.buffer, e.byteOffset, e.length).toString('hex');
    });
  }
  checkFields(f, true);
  // Canonical form (exactly what encodeBody gives): readBody already refused unsorted or repeated keys, padded
  // integers and lengths, and trailing bytes; here, optional fields left out rather than empty, and tags sorted,
  // unique and lower case.
  if (f.deleted) {
    if (d.count !== 5) bad('a tombstone holds only created, deleted, name, pub and seq');
  } else {
    if (d.files === undefined || d.size === undefined) bad('files and size are required');
    for (const k of ['arch', 'desc', 'format', 'license', 'quant', 'tags', 'trackers', 'webseeds'] as const) {
      const v = d[k];
      if (v !== undefined && typeof v !== 'number' && v.length === 0) bad(`empty ${k} must be left out`);
    }
    if (d.params === 0) bad('zero params must be left out');
  }
  for (let i = 1; i < f.tags.length; i++) if (!(f.tags[i - 1] < f.tags[i])) bad('tags are not sorted and unique');
  for (const t of f.tags) if (t !== t.toLowerCase()) bad('tags are not lower case');
  return f;
}

/** A body value: an integer, a byte string, or a list of them (nothing in a body nests deeper). */
type BodyValue = number | Uint8Array | (number | Uint8Array)[];
type KnownKey =
  | 'arch'
  | 'created'
  | 'deleted'
  | 'desc'
  | 'files'
  | 'format'
  | 'hfcommit'
  | 'hfetags'
  | 'hfrefs'
  | 'hfrepo'
  | 'license'
  | 'name'
  | 'params'
  | 'pub'
  | 'quant'
  | 'seq'
  | 'size'
  | 'tags'
  | 'trackers'
  | 'v1'
  | 'v2'
  | 'webseeds';
type BodyDict = Partial<Record<KnownKey, BodyValue>> & { count: number };

/**
 * Reads a body in its one canonical bencode form: a dictionary of known keys in strictly increasing byte order, whose
 * values are integers, strings or lists of those, integers and lengths without padding (`i0e`, `0:` only bare),
 * nothing after the dictionary. Strings are views into `body`. Anything else: EntryError('malformed').
 */
function readBody(body: Uint8Array): BodyDict {
  // A plain Uint8Array view: a Buffer's subarray builds a Buffer, several times slower for these small strings.
  const b = new Uint8Array(body.buffer, body.byteOffset, body.length);
  const end = b.length;
  if (end < 2 || b[0] !== 0x64) bad('body is not a dictionary');
  const d: BodyDict = { count: 0 };
  const out = d as unknown as Record<string, BodyValue>;
  const r = { b, pos: 1, end };
  let prevStart = -1;
  let prevLen = 0;
  while (r.pos < end && b[r.pos] !== 0x65) {
    if (b[r.pos] < 0x30 || b[r.pos] > 0x39) bad('body is not bencode');
    const keyLen = readLength(r);
    const keyStart = r.pos;
    r.pos += keyLen;
    // Strictly increasing byte order: sorted, no key twice.
    if (prevStart >= 0 && compareBytes(b, prevStart, prevLen, keyStart, keyLen) >= 0) bad('body keys are not sorted');
    prevStart = keyStart;
    prevLen = keyLen;
    let key = '';
    for (let i = keyStart; i < keyStart + keyLen; i++) key += String.fromCharCode(b[i]);
    if (!KNOWN_KEYS.has(key)) bad(`unknown field "${key}"`);
    if (r.pos >= end) bad('body is not bencode');
    let v: BodyValue;
    if (b[r.pos] === 0x6c) {
      r.pos++;
      const list: (number | Uint8Array)[] = [];
      while (r.pos < end && b[r.pos] !== 0x65) list.push(readScalar(r));
      if (r.pos >= end) bad('body is not bencode');
      r.pos++;
      v = list;
    } else v = readScalar(r);
    out[key] = v;
    d.count++;
  }
  if (r.pos + 1 !== end) bad(r.pos >= end ? 'body is not bencode' : 'body is not canonical (trailing bytes)');
  return d;
}

interface BodyReader {
  b: Uint8Array;
  pos: number;
  end: number;
}

/**
 * A length or an integer's digits: at most 16 (every safe integer; one past 2^53 - 1 is refused by checkInt), no
 * leading zero unless it is the only digit.
 */
function readDigits(r: BodyReader): number {
  const { b, end } = r;
  const start = r.pos;
  let pos = start;
  let n = 0;
  while (pos < end && b[pos] >= 0x30 && b[pos] <= 0x39) n = n * 10 + (b[pos++] - 0x30);
  const len = pos - start;
  if (len === 0 || len > 16) bad('body is not canonical (a number of no or too many digits)');
  if (b[start] === 0x30 && len > 1) bad('body is not canonical (a padded number)');
  r.pos = pos;
  return n;
}

/** A string's `<length>:`, leaving r.pos at its first byte, which is checked to be inside the body. */
function readLength(r: BodyReader): number {
  const len = readDigits(r);
  if (r.pos >= r.end || r.b[r.pos] !== 0x3a) bad('body is not bencode');
  r.pos++;
  if (r.pos + len > r.end) bad('body is not bencode');
  return len;
}

function readScalar(r: BodyReader): number | Uint8Array {
  const c = r.b[r.pos];
  if (c === 0x69) {
    r.pos++;
    const neg = r.b[r.pos] === 0x2d;
    if (neg) r.pos++;
    const n = readDigits(r);
    if (r.pos >= r.end || r.b[r.pos] !== 0x65) bad('body is not bencode');
    r.pos++;
    if (neg && n === 0) bad('body is not canonical (-0)');
    return neg ? -n : n;
  }
  if (c >= 0x30 && c <= 0x39) {
    const len = readLength(r);
    r.pos += len;
    return r.b.subarray(r.pos - len, r.pos);
  }
  return bad('body holds a value that is not a string, integer or list of them');
}

function compareBytes(b: Uint8Array, a0: number, aLen: number, b0: number, bLen: number): number {
  const n = Math.min(aLen, bLen);
  for (let i = 0; i < n; i++) if (b[a0 + i] !== b[b0 + i]) return b[a0 + i] - b[b0 + i];
  return aLen - bLen;
}

const SIG_TRAILER = Buffer.from('1:s64:');

/**
 * Splits a record into body and signature without checking either. A record has exactly one form,
 * `d1:e<len>:<body>1:s64:<sig>e` (what bencode gives for {e, s}), so this reads that shape directly instead of
 * decoding and re-encoding it: it runs for every record of every catalog, and rejects any other encoding.
 */
export function splitRecord(record: Uint8Array): { body: Uint8Array; sig: Uint8Array } {
  if (record.length > MAX_ENTRY_BYTES) throw new EntryError('oversized', `entry is ${record.length} bytes`);
  // 'd' '1' ':' 'e'
  if (record[0] !== 0x64 || record[1] !== 0x31 || record[2] !== 0x3a || record[3] !== 0x65) bad('entry must be {e, s}');
  let i = 4;
  let len = 0;
  const digits = i;
  while (i < record.length && record[i] >= 0x30 && record[i] <= 0x39 && i - digits < 5)
    len = len * 10 + record[i++] - 0x30;
  if (i === digits || record[i] !== 0x3a || (record[digits] === 0x30 && i - digits > 1)) bad('entry must be {e, s}');
  const bodyStart = i + 1;
  const bodyEnd = bodyStart + len;
  if (bodyEnd + SIG_TRAILER.length + 64 + 1 !== record.length) bad('entry must be {e, s}');
  for (let k = 0; k < SIG_TRAILER.length; k++) if (record[bodyEnd + k] !== SIG_TRAILER[k]) bad('entry must be {e, s}');
  if (record[record.length - 1] !== 0x65) bad('entry must be {e, s}');
  const sigStart = bodyEnd + SIG_TRAILER.length;
  return { body: record.subarray(bodyStart, bodyEnd), sig: record.subarray(sigStart, sigStart + 64) };
}

/** Decodes and verifies one signed record: the entry, or an EntryError saying why it is dropped. */
export function openEntry(record: Uint8Array): CatalogEntry {
  const { body, sig } = splitRecord(record);
  const f = decodeBody(body);
  checkSignature(f, body, sig);
  return { ...f, record };
}

/** Throws EntryError('signature') unless `sig` is the publisher's signature of `body`. */
export function checkSignature(f: EntryFields, body: Uint8Array, sig: Uint8Array): void {
  if (!verifySignature(body, sig, Buffer.from(f.publisher, 'hex'))) {
    throw new EntryError('signature', `bad signature on ${f.name} from ${f.publisher.slice(0, 16)}`);
  }
}

/** The Hugging Face fields of an entry: from its fields, else read back from its signed record (the store's rows
 *  do not keep them). Undefined when the entry is not a Hub snapshot. */
export function hfOrigin(
  e: Pick<EntryFields, 'hfRepo' | 'hfCommit' | 'hfEtags' | 'hfRefs'> & { record?: Uint8Array },
): { repo: string; commit: string; etags?: string[]; refs?: string[] } | undefined {
  let f: Pick<EntryFields, 'hfRepo' | 'hfCommit' | 'hfEtags' | 'hfRefs'> = e;
  if (!f.hfRepo && e.record) {
    try {
      f = decodeBody(splitRecord(e.record).body);
    } catch {
      return undefined;
    }
  }
  if (!f.hfRepo || !f.hfCommit) return undefined;
  return { repo: f.hfRepo, commit: f.hfCommit, etags: f.hfEtags, ...(f.hfRefs ? { refs: f.hfRefs } : {}) };
}

/** The merge key: one model name per publisher. */
export function entryKey(e: Pick<EntryFields, 'publisher' | 'name'>): string {
  return `${e.publisher}/${e.name}`;
}
