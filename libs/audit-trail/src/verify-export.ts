import * as fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { parse as parseCsv } from 'csv-parse';
import { comparePositions, tokenToPosition, type LogPosition } from '@ledger/event-store';
import { treeHeadSigningText } from '@ledger/log-integrity';
import { GENESIS_HASH, HASH_PATTERN, sha256Hex } from './canonical';
import { CSV_COLUMNS, CSV_MANIFEST_MARKER, csvRowToRecord } from './csv-format';
import { describeKeySource, parsePublicKeyPem, verifySignature, type ExportPublicKey } from './export-key';
import {
  manifestJson,
  manifestSigningText,
  parseManifest,
  type ExportFormat,
  type Manifest,
} from './manifest';
import { CSV_INCLUSION_MARKER, InclusionChecker, inclusionJson, type RecordInclusion } from './inclusion';
import { recordHash, recordTexts, type TrailRecord } from './record';

export type VerifyFailureKind = 'not_an_export' | 'tampered' | 'bad_signature' | 'truncated';

export type VerifyResult =
  | {
      readonly ok: true;
      readonly count: number;
      readonly format: ExportFormat;
      readonly manifest: Manifest;
      /** The key the signature was checked with. */
      readonly key: ExportPublicKey;
    }
  | {
      readonly ok: false;
      readonly kind: VerifyFailureKind;
      /** The first record that is not as signed (when one can be named). */
      readonly recordSeq?: number;
      /** 1-based line of the file where the problem was found. */
      readonly line?: number;
      readonly message: string;
    };

export type VerifyFailure = Extract<VerifyResult, { ok: false }>;

/**
 * What the signature is checked against: a key the verifier already trusts, or — only when asked for — the
 * key the manifest carries, which proves the file is internally consistent but not who made it.
 */
export type VerificationKey = ExportPublicKey | 'embedded';

export interface VerifyOptions {
  /** A longer line (or CSV row) is refused rather than buffered. */
  readonly maxLineLength?: number;
}

const DEFAULT_MAX_LINE = 4 * 1024 * 1024;
const CSV_HEADER = CSV_COLUMNS.join(',');
/** Line numbers of this many most recent records are kept, to name where surplus records sit. */
const RECENT_LINES = 1024;

function failure(
  kind: VerifyFailureKind,
  message: string,
  at: { recordSeq?: number; line?: number } = {},
): VerifyFailure {
  return { ok: false, kind, message, ...at };
}

/**
 * Verifies an export (NDJSON or CSV, detected from its first line) as a stream: chain, order, count, and
 * the manifest's Ed25519 signature. `input` is a file path or the export's text in chunks of any size.
 */
export async function verifyExport(
  input: AsyncIterable<string | Buffer> | string,
  publicKey: VerificationKey,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const maxLine = options.maxLineLength ?? DEFAULT_MAX_LINE;
  const source = typeof input === 'string' ? fs.createReadStream(input) : input;
  const chunks = decode(source);
  const iterator = chunks[Symbol.asyncIterator]();

  // Peek at the first line to tell NDJSON from CSV; whatever was read is replayed to the chosen reader.
  let head = '';
  let exhausted = false;
  while (!head.includes('\n') && head.length <= maxLine) {
    const next = await iterator.next();
    if (next.done) {
      exhausted = true;
      break;
    }
    head += next.value;
  }
  if (head.charCodeAt(0) === 0xfeff) head = head.slice(1);
  const rest: AsyncIterable<string> = {
    async *[Symbol.asyncIterator]() {
      if (head !== '') yield head;
      if (exhausted) return;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    },
  };
  const firstLine = head.split('\n', 1)[0].replace(/\r$/, '');
  if (exhausted && head.trim() === '') return failure('not_an_export', 'the file is empty');
  if (firstLine.startsWith('{')) return verifyNdjson(rest, publicKey, maxLine);
  if (firstLine === CSV_HEADER) return verifyCsv(rest, publicKey, maxLine);
  return failure(
    'not_an_export',
    'the first line is neither an NDJSON line nor the CSV header of an export',
    {
      line: 1,
    },
  );
}

async function* decode(source: AsyncIterable<string | Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  for await (const chunk of source) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    if (text !== '') yield text;
  }
  const tail = decoder.end();
  if (tail !== '') yield tail;
}

/** The hash chain and everything that must agree with the signed manifest. */
class Chain {
  private expected = 1;
  private prevHash = GENESIS_HASH;
  private prevPosition: LogPosition | null = null;
  private prevLine = 0;
  private firstToken: string | null = null;
  private lastToken: string | null = null;
  private readonly recentLines = new Uint32Array(RECENT_LINES);

  get count(): number {
    return this.expected - 1;
  }

  get nextSeq(): number {
    return this.expected;
  }

  /** `computedHash`: the record's hash recomputed from its content. */
  accept(record: TrailRecord, computedHash: string, line: number): VerifyFailure | null {
    const seq = record.seq;
    if (seq < this.expected) {
      return failure(
        'tampered',
        `line ${line} holds record ${seq} again (expected record ${this.expected}): a duplicated or reordered record`,
        { recordSeq: seq, line },
      );
    }
    if (seq > this.expected) {
      return failure(
        'tampered',
        `record ${this.expected} is missing or out of order: line ${line} holds record ${seq}`,
        { recordSeq: this.expected, line },
      );
    }
    if (computedHash !== record.hash) {
      return failure(
        'tampered',
        `record ${seq} (line ${line}) was altered: its content does not match its hash`,
        {
          recordSeq: seq,
          line,
        },
      );
    }
    if (record.prevHash !== this.prevHash) {
      if (seq === 1) {
        return failure(
          'tampered',
          `record 1 (line ${line}) does not start the chain (prevHash must be ${GENESIS_HASH})`,
          {
            recordSeq: 1,
            line,
          },
        );
      }
      // Both records are self-consistent, so one was re-hashed after editing; an edit nearly always targets
      // content, which makes the earlier record the one that no longer is what its successor was chained to.
      return failure(
        'tampered',
        `record ${seq - 1} (line ${this.prevLine}) was altered and re-hashed: record ${seq} (line ${line}) was chained to a different record ${seq - 1}`,
        { recordSeq: seq - 1, line: this.prevLine },
      );
    }
    let position: LogPosition;
    try {
      position = tokenToPosition(record.position);
    } catch {
      return failure('tampered', `record ${seq} (line ${line}) has a malformed position`, {
        recordSeq: seq,
        line,
      });
    }
    if (this.prevPosition !== null && comparePositions(position, this.prevPosition) <= 0) {
      return failure('tampered', `record ${seq} (line ${line}) is out of log order`, {
        recordSeq: seq,
        line,
      });
    }
    this.prevPosition = position;
    this.prevHash = record.hash;
    this.prevLine = line;
    this.firstToken ??= record.position;
    this.lastToken = record.position;
    this.recentLines[seq % RECENT_LINES] = line;
    this.expected++;
    return null;
  }

  finish(
    manifest: Manifest,
    manifestLine: number,
    format: ExportFormat,
    trusted: VerificationKey,
  ): VerifyResult {
    let key: ExportPublicKey;
    if (trusted === 'embedded') {
      try {
        key = parsePublicKeyPem(manifest.publicKey, { kind: 'embedded' });
      } catch {
        return failure('bad_signature', 'the manifest carries no readable public key', {
          line: manifestLine,
        });
      }
    } else {
      key = trusted;
    }
    if (!verifySignature(key, manifestSigningText(manifest), manifest.signature)) {
      const why =
        manifest.keyId !== key.keyId
          ? `the manifest names key ${manifest.keyId}, but it was checked with ${key.keyId} (${describeKeySource(key.source)})`
          : 'the manifest or its signature was altered';
      return failure('bad_signature', `the signature does not verify: ${why}`, { line: manifestLine });
    }
    if (manifest.keyId !== key.keyId) {
      return failure(
        'bad_signature',
        `the manifest names key ${manifest.keyId} but was signed with ${key.keyId}`,
        {
          line: manifestLine,
        },
      );
    }
    const treeHead = manifest.treeHead;
    if (
      treeHead &&
      (treeHead.keyId !== key.keyId ||
        !verifySignature(key, treeHeadSigningText(treeHead), treeHead.signature))
    ) {
      return failure(
        'bad_signature',
        `the tree head in the manifest (size ${treeHead.treeSize}) is not signed by ${key.keyId}`,
        { line: manifestLine },
      );
    }
    if (manifest.encoding !== format) {
      return failure(
        'tampered',
        `the manifest was signed for ${manifest.encoding}, but the file is ${format}`,
        {
          line: manifestLine,
        },
      );
    }
    const seen = this.count;
    if (seen < manifest.count) {
      return failure(
        'truncated',
        `the signed manifest covers ${manifest.count} records but the file holds ${seen}: records from ${seen + 1} on are missing`,
        { recordSeq: seen + 1, line: manifestLine },
      );
    }
    if (seen > manifest.count) {
      const surplus = manifest.count + 1;
      const line = seen - surplus < RECENT_LINES ? this.recentLines[surplus % RECENT_LINES] : undefined;
      return failure(
        'tampered',
        `record ${surplus}${line === undefined ? '' : ` (line ${line})`} was added: the signed manifest covers ${manifest.count} records`,
        { recordSeq: surplus, line },
      );
    }
    if (this.prevHash !== manifest.lastHash) {
      return failure(
        'tampered',
        'the chain does not end at the signed last hash: records were altered and the chain recomputed',
        { line: manifestLine },
      );
    }
    if (this.firstToken !== manifest.firstToken || this.lastToken !== manifest.lastToken) {
      return failure('tampered', 'the first or last log position differs from the signed manifest', {
        line: manifestLine,
      });
    }
    return { ok: true, count: seen, format, manifest, key };
  }
}

/** After the chain and the signatures: the inclusion proofs the manifest announces, against its signed head. */
function withInclusion(
  result: VerifyResult,
  inclusion: InclusionChecker,
  manifestLine: number,
): VerifyResult {
  if (!result.ok) return result;
  const { manifest } = result;
  if (!manifest.proofs || !manifest.treeHead) {
    if (inclusion.count === 0) return result;
    return failure('tampered', 'the file holds inclusion proofs that its signed manifest does not announce', {
      line: manifestLine,
    });
  }
  const problem = inclusion.finish(manifest.treeHead, result.count);
  if (problem)
    return failure('tampered', problem.message, {
      recordSeq: problem.recordSeq,
      line: problem.line || undefined,
    });
  return result;
}

/** A proof line (or row) as the exporter writes it, or the failure to report. */
function acceptInclusion(
  inclusion: InclusionChecker,
  value: unknown,
  written: string,
  record: TrailRecord | null,
  line: number,
): VerifyFailure | null {
  const problem = inclusion.accept(value, record, line);
  if (problem) return failure('tampered', problem.message, { recordSeq: problem.recordSeq, line });
  if (written !== inclusionJson(value as RecordInclusion)) {
    return failure('tampered', `the inclusion proof on line ${line} is not in canonical form`, {
      recordSeq: record?.seq,
      line,
    });
  }
  return null;
}

const RECORD_STRING_KEYS = ['position', 'eventId', 'stream', 'type'] as const;

/** A parsed NDJSON line as a record, or what keeps it from being one. */
function asRecord(value: unknown): TrailRecord | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const v = value as Record<string, unknown>;
  if (typeof v.seq !== 'number' || !Number.isSafeInteger(v.seq) || v.seq < 1) return 'has no valid seq';
  for (const key of RECORD_STRING_KEYS) if (typeof v[key] !== 'string') return `has no ${key}`;
  if (typeof v.prevHash !== 'string' || !HASH_PATTERN.test(v.prevHash)) return 'has no valid prevHash';
  if (typeof v.hash !== 'string' || !HASH_PATTERN.test(v.hash)) return 'has no valid hash';
  return v as unknown as TrailRecord;
}

/** Null when the record holds a value with no canonical form (a fraction, say): no export writes one. */
function canonicalTexts(record: TrailRecord): ReturnType<typeof recordTexts> | null {
  try {
    return recordTexts(record);
  } catch {
    return null;
  }
}

interface Line {
  readonly text: string;
  readonly line: number;
  readonly tooLong?: boolean;
}

async function* splitLines(chunks: AsyncIterable<string>, maxLine: number): AsyncGenerator<Line> {
  let buffer = '';
  let line = 0;
  let skipping = false;
  for await (const chunk of chunks) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      line++;
      const text = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (skipping) {
        skipping = false;
        continue;
      }
      if (text.length > maxLine) yield { text: '', line, tooLong: true };
      else yield { text: text.endsWith('\r') ? text.slice(0, -1) : text, line };
    }
    if (buffer.length > maxLine && !skipping) {
      yield { text: '', line: line + 1, tooLong: true };
      skipping = true;
    }
    if (skipping) buffer = '';
  }
  if (buffer !== '' && !skipping)
    yield { text: buffer.endsWith('\r') ? buffer.slice(0, -1) : buffer, line: line + 1 };
}

async function verifyNdjson(
  chunks: AsyncIterable<string>,
  key: VerificationKey,
  maxLine: number,
): Promise<VerifyResult> {
  const chain = new Chain();
  const inclusion = new InclusionChecker();
  let lastRecord: TrailRecord | null = null;
  let manifest: { value: Manifest; line: number } | null = null;
  let sawContent = false;
  // A line that does not parse is tampering, unless nothing follows it: then the file was cut mid-line.
  let unreadable: VerifyFailure | null = null;
  for await (const { text, line, tooLong } of splitLines(chunks, maxLine)) {
    if (!tooLong && text.trim() === '') continue;
    if (unreadable) return unreadable;
    const first = !sawContent;
    sawContent = true;
    if (manifest) {
      return failure(
        'tampered',
        `line ${line} follows the manifest: content was added after the signed end`,
        {
          recordSeq: chain.nextSeq,
          line,
        },
      );
    }
    if (tooLong) {
      if (first) return failure('not_an_export', `line ${line} is longer than any export line`, { line });
      return failure('tampered', `line ${line} is longer than any export line`, {
        recordSeq: chain.nextSeq,
        line,
      });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      if (first) return failure('not_an_export', 'the first line is not JSON', { line });
      unreadable = failure('tampered', `line ${line} is not JSON (expected record ${chain.nextSeq})`, {
        recordSeq: chain.nextSeq,
        line,
      });
      continue;
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && 'manifest' in value) {
      const parsed =
        Object.keys(value).length === 1 ? parseManifest((value as { manifest: unknown }).manifest) : null;
      if (!parsed || !parsed.ok) {
        if (first)
          return failure('not_an_export', 'the first line is not an export manifest or record', { line });
        return failure(
          'tampered',
          `the manifest (line ${line}) is malformed: ${parsed ? parsed.problem : 'extra fields'}`,
          {
            line,
          },
        );
      }
      if (text !== `{"manifest":${manifestJson(parsed.manifest)}}`) {
        return failure('tampered', `the manifest (line ${line}) is not in canonical form`, { line });
      }
      manifest = { value: parsed.manifest, line };
      continue;
    }
    if (
      !first &&
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      'inclusion' in value &&
      Object.keys(value).length === 1
    ) {
      const proof = (value as { inclusion: unknown }).inclusion;
      const written = text.startsWith('{"inclusion":') && text.endsWith('}') ? text.slice(13, -1) : '';
      const problem = acceptInclusion(inclusion, proof, written, lastRecord, line);
      if (problem) return problem;
      lastRecord = null;
      continue;
    }
    const record = asRecord(value);
    if (typeof record === 'string') {
      if (first)
        return failure('not_an_export', `the first line is not an export record: it ${record}`, { line });
      return failure('tampered', `line ${line} is not a record: it ${record}`, {
        recordSeq: chain.nextSeq,
        line,
      });
    }
    const texts = canonicalTexts(record);
    if (texts === null || texts.withHash(record.hash) !== text) {
      return failure('tampered', `record ${record.seq} (line ${line}) is not in canonical form`, {
        recordSeq: record.seq,
        line,
      });
    }
    const problem = chain.accept(record, sha256Hex(texts.unhashed), line);
    if (problem) return problem;
    inclusion.noteRecord(record.seq, line);
    lastRecord = record;
  }
  if (unreadable) {
    return failure(
      'truncated',
      `the file ends inside line ${unreadable.line}: it was cut short and has no manifest`,
      {
        recordSeq: unreadable.recordSeq,
        line: unreadable.line,
      },
    );
  }
  if (!sawContent) return failure('not_an_export', 'the file is empty');
  if (!manifest) {
    return failure('truncated', `the file ends after record ${chain.count} without its manifest`, {
      recordSeq: chain.nextSeq,
    });
  }
  return withInclusion(chain.finish(manifest.value, manifest.line, 'ndjson', key), inclusion, manifest.line);
}

interface CsvParseError extends Error {
  readonly code?: string;
}

/** 1-based line numbers of byte offsets, counted as the input goes by (offsets are asked for in order). */
class LineCounter {
  private readonly chunks: Buffer[] = [];
  private chunkStart = 0;
  private counted = 0;
  private newlines = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  lineAt(offset: number): number {
    while (this.counted < offset && this.chunks.length > 0) {
      const chunk = this.chunks[0];
      const end = Math.min(offset, this.chunkStart + chunk.length);
      for (let i = this.counted - this.chunkStart; i < end - this.chunkStart; i++)
        if (chunk[i] === 0x0a) this.newlines++;
      this.counted = end;
      if (end === this.chunkStart + chunk.length) {
        this.chunks.shift();
        this.chunkStart = end;
      }
    }
    return this.newlines + 1;
  }
}

interface CsvRow {
  readonly cells: string[];
  /** Byte offset just past the row (and its line break). */
  readonly end: number;
}

/**
 * Rows of a CSV text with the offset where each ends, through csv-parse. Rows are taken in `on_record`, which
 * runs inside `write`, so every row before a syntax error is seen before the error is.
 */
async function* csvRows(
  chunks: AsyncIterable<string>,
  counter: LineCounter,
  maxLine: number,
): AsyncGenerator<CsvRow> {
  const ready: CsvRow[] = [];
  const parser = parseCsv({
    relax_column_count: true,
    record_delimiter: ['\r\n', '\n'],
    max_record_size: maxLine,
    on_record: (cells: string[], context: { bytes: number }) => {
      ready.push({ cells, end: context.bytes });
      return null;
    },
  });
  parser.on('error', () => undefined);
  const settle = (act: (done: (error?: Error | null) => void) => void): Promise<Error | null> =>
    new Promise((resolve) => act((error) => resolve(error ?? null)));
  for await (const text of chunks) {
    const chunk = Buffer.from(text, 'utf8');
    counter.push(chunk);
    const error = await settle((done) => parser.write(chunk, done));
    yield* ready.splice(0);
    if (error) throw error;
  }
  const error = await settle((done) => {
    parser.once('error', done);
    parser.once('end', () => done());
    parser.end();
    parser.resume();
  });
  yield* ready.splice(0);
  if (error) throw error;
}

async function verifyCsv(
  chunks: AsyncIterable<string>,
  key: VerificationKey,
  maxLine: number,
): Promise<VerifyResult> {
  const counter = new LineCounter();
  const chain = new Chain();
  const inclusion = new InclusionChecker();
  let lastRecord: TrailRecord | null = null;
  let manifest: { value: Manifest; line: number } | null = null;
  let headerSeen = false;
  let lastEnd = 0;
  let unreadable: VerifyFailure | null = null;
  try {
    for await (const { cells: row, end } of csvRows(chunks, counter, maxLine)) {
      const line = counter.lineAt(lastEnd);
      lastEnd = end;
      if (row.length === 1 && row[0] === '') continue;
      if (unreadable) return unreadable;
      if (!headerSeen) {
        if (row.join(',') !== CSV_HEADER)
          return failure('not_an_export', 'the CSV header is not an export header', { line });
        headerSeen = true;
        continue;
      }
      if (manifest) {
        return failure(
          'tampered',
          `line ${line} follows the manifest: content was added after the signed end`,
          {
            recordSeq: chain.nextSeq,
            line,
          },
        );
      }
      if (row[0] === CSV_MANIFEST_MARKER) {
        let value: unknown;
        try {
          value = JSON.parse(row[1] ?? '');
        } catch {
          return failure('tampered', `the manifest (line ${line}) is not JSON`, { line });
        }
        const parsed = parseManifest(value);
        if (!parsed.ok)
          return failure('tampered', `the manifest (line ${line}) is malformed: ${parsed.problem}`, { line });
        if (row[1] !== manifestJson(parsed.manifest) || row.slice(2).some((cell) => cell !== '')) {
          return failure('tampered', `the manifest (line ${line}) is not in canonical form`, { line });
        }
        manifest = { value: parsed.manifest, line };
        continue;
      }
      if (row[0] === CSV_INCLUSION_MARKER) {
        let value: unknown;
        try {
          value = JSON.parse(row[1] ?? '');
        } catch {
          return failure('tampered', `the inclusion proof on line ${line} is not JSON`, {
            recordSeq: lastRecord?.seq,
            line,
          });
        }
        const written = row.slice(2).some((cell) => cell !== '') ? '' : (row[1] ?? '');
        const problem = acceptInclusion(inclusion, value, written, lastRecord, line);
        if (problem) return problem;
        lastRecord = null;
        continue;
      }
      const result = csvRowToRecord(row);
      if (!result.ok) {
        const claimed = /^[1-9][0-9]{0,15}$/.test(row[0] ?? '') ? Number(row[0]) : chain.nextSeq;
        unreadable = failure('tampered', `line ${line} is not a record: ${result.problem}`, {
          recordSeq: claimed,
          line,
        });
        continue;
      }
      const problem = chain.accept(result.record, recordHash(result.record), line);
      if (problem) return problem;
      inclusion.noteRecord(result.record.seq, line);
      lastRecord = result.record;
    }
  } catch (error) {
    const csvError = error as CsvParseError;
    if (unreadable) return unreadable;
    const line = counter.lineAt(lastEnd);
    if (!headerSeen) return failure('not_an_export', `not a CSV export: ${csvError.message}`, { line });
    if (csvError.code === 'CSV_QUOTE_NOT_CLOSED' && !manifest) {
      return failure('truncated', `the file ends inside a quoted cell of the row starting on line ${line}`, {
        recordSeq: chain.nextSeq,
        line,
      });
    }
    return failure('tampered', `the row starting on line ${line} is not valid CSV: ${csvError.message}`, {
      recordSeq: chain.nextSeq,
      line,
    });
  }
  if (unreadable) {
    return failure(
      'truncated',
      `the file ends inside line ${unreadable.line}: it was cut short and has no manifest`,
      {
        recordSeq: unreadable.recordSeq,
        line: unreadable.line,
      },
    );
  }
  if (!headerSeen) return failure('not_an_export', 'the file is empty');
  if (!manifest) {
    return failure('truncated', `the file ends after record ${chain.count} without its manifest`, {
      recordSeq: chain.nextSeq,
    });
  }
  return withInclusion(chain.finish(manifest.value, manifest.line, 'csv', key), inclusion, manifest.line);
}
