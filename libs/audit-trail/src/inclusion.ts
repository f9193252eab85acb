import { positionToToken, type JsonObject, type RecordedEvent } from '@ledger/event-store';
import {
  fromHex,
  hashLeafText,
  leafText,
  rootFromInclusion,
  toHex,
  type LogTreeView,
  type TreeHead,
} from '@ledger/log-integrity';
import { canonicalJson, HASH_PATTERN, type CanonicalValue } from './canonical';
import { recordFields, type TrailRecord } from './record';

/** Written after each record of an export cut at a signed tree head: that the record is a leaf of its tree. */
export interface RecordInclusion {
  /** The record it proves. */
  readonly seq: number;
  readonly leafIndex: number;
  /** The size of the tree the path leads to: the manifest's `treeHead.treeSize`. */
  readonly treeSize: number;
  /** The event's leaf bytes (docs/audit-trail.md §9.1) as text: what the record was flattened from. */
  readonly leaf: string;
  /** RFC 9162 §2.1.3.1 `PATH(leafIndex, D[treeSize])`, lowercase hex, from the leaf's sibling up. */
  readonly auditPath: readonly string[];
}

/** The manifest's `proofs` value when every record is followed by its inclusion proof. */
export const INCLUSION_PROOFS = 'inclusion';
export const CSV_INCLUSION_MARKER = '#inclusion';

export function inclusionOf(
  view: LogTreeView,
  treeSize: number,
  event: RecordedEvent,
  seq: number,
): RecordInclusion {
  const leafIndex = view.leafIndexOf(event.position, treeSize);
  if (leafIndex === null) {
    throw new Error(
      `event ${event.eventId} at ${positionToToken(event.position)} is not a leaf of the tree of ${treeSize} the export is cut at`,
    );
  }
  return {
    seq,
    leafIndex,
    treeSize,
    leaf: leafText(event),
    auditPath: view.tree.inclusionProof(leafIndex, treeSize).map(toHex),
  };
}

/** The canonical JSON of the proof object: the NDJSON line is `{"inclusion":<this>}`, the CSV row's second cell this. */
export function inclusionJson(inclusion: RecordInclusion): string {
  return canonicalJson({ ...inclusion, auditPath: [...inclusion.auditPath] } as unknown as CanonicalValue);
}

const INCLUSION_KEYS = ['auditPath', 'leaf', 'leafIndex', 'seq', 'treeSize'];

function parseInclusion(value: unknown): RecordInclusion | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'it is not an object';
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v).sort();
  if (keys.join(',') !== INCLUSION_KEYS.join(',')) return `its fields are not ${INCLUSION_KEYS.join(', ')}`;
  for (const key of ['seq', 'leafIndex', 'treeSize'] as const) {
    if (typeof v[key] !== 'number' || !Number.isSafeInteger(v[key]) || (v[key] as number) < 0)
      return `${key} is not a non-negative integer`;
  }
  if (typeof v.leaf !== 'string') return 'leaf is not a string';
  if (!Array.isArray(v.auditPath) || !v.auditPath.every((h) => typeof h === 'string' && HASH_PATTERN.test(h)))
    return 'auditPath is not a list of lowercase hex hashes';
  return v as unknown as RecordInclusion;
}

interface LeafEnvelope {
  readonly eventId: string;
  readonly stream: string;
  readonly revision: string;
  readonly type: string;
  readonly position: { readonly commit: string; readonly prepare: string };
  readonly data: JsonObject;
  readonly metadata: JsonObject;
}

/** The record the exporter would have written from these leaf bytes, or why they are no leaf. */
function recordFromLeaf(leaf: string, seq: number): string | { readonly text: string } {
  let parsed: LeafEnvelope;
  try {
    parsed = JSON.parse(leaf) as LeafEnvelope;
  } catch {
    return 'its leaf is not JSON';
  }
  const decimal = /^(0|[1-9][0-9]*)$/;
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    typeof parsed.position !== 'object' ||
    parsed.position === null ||
    !decimal.test(String(parsed.position.commit)) ||
    !decimal.test(String(parsed.position.prepare)) ||
    typeof parsed.data !== 'object' ||
    parsed.data === null
  ) {
    return 'its leaf is not an event';
  }
  const event = {
    eventId: parsed.eventId,
    stream: parsed.stream,
    revision: 0n,
    type: parsed.type,
    position: { commit: BigInt(parsed.position.commit), prepare: BigInt(parsed.position.prepare) },
    data: parsed.data,
    metadata: {},
  };
  try {
    return { text: canonicalJson(recordFields(event, seq) as unknown as CanonicalValue) };
  } catch {
    return 'its leaf holds a value no record can';
  }
}

export interface InclusionProblem {
  readonly recordSeq: number;
  readonly line: number;
  readonly message: string;
}

/**
 * Checks, record by record and in constant memory, that each record of an export is a leaf of one tree: its
 * leaf bytes flatten to exactly the record, and its audit path leads to a root. Which root the signed head
 * states is only known at the manifest, at the end; so the root of the first proof is kept, with the first
 * record whose proof leads elsewhere, and `finish` names the record that disagrees with the head.
 */
export class InclusionChecker {
  private proven = 0;
  private first: { key: string; seq: number; line: number } | null = null;
  private firstOther: { seq: number; line: number } | null = null;
  /** The last record, until its proof comes. */
  private waiting: { seq: number; line: number } | null = null;
  private firstUnproven: { seq: number; line: number } | null = null;

  get count(): number {
    return this.proven;
  }

  /** A record was read; its proof, if the export has proofs, comes next. */
  noteRecord(seq: number, line: number): void {
    if (this.waiting) this.firstUnproven ??= this.waiting;
    this.waiting = { seq, line };
  }

  /** `record` is the record just before the proof (null when none is waiting for one). */
  accept(value: unknown, record: TrailRecord | null, line: number): InclusionProblem | null {
    const inclusion = parseInclusion(value);
    if (typeof inclusion === 'string') {
      return {
        recordSeq: record?.seq ?? 0,
        line,
        message: `the inclusion proof on line ${line} is malformed: ${inclusion}`,
      };
    }
    if (record === null || inclusion.seq !== record.seq) {
      return {
        recordSeq: inclusion.seq,
        line,
        message: `the inclusion proof on line ${line} is for record ${inclusion.seq}, but does not follow it`,
      };
    }
    const named = `record ${record.seq} (proof on line ${line})`;
    const expected = recordFromLeaf(inclusion.leaf, record.seq);
    if (typeof expected === 'string')
      return { recordSeq: record.seq, line, message: `${named}: ${expected}` };
    const { prevHash: _prevHash, hash: _hash, ...fields } = record;
    if (canonicalJson(fields as unknown as CanonicalValue) !== expected.text) {
      return { recordSeq: record.seq, line, message: `${named}: its leaf is not the event the record shows` };
    }
    const root =
      inclusion.leafIndex < inclusion.treeSize
        ? rootFromInclusion(
            hashLeafText(inclusion.leaf),
            inclusion.leafIndex,
            inclusion.treeSize,
            inclusion.auditPath.map((h) => fromHex(h) as Buffer),
          )
        : null;
    if (root === null) {
      return {
        recordSeq: record.seq,
        line,
        message: `${named}: its audit path does not fit leaf ${inclusion.leafIndex} of a tree of ${inclusion.treeSize}`,
      };
    }
    const key = `${inclusion.treeSize}:${toHex(root)}`;
    if (this.first === null) this.first = { key, seq: record.seq, line };
    else if (key !== this.first.key && this.firstOther === null) this.firstOther = { seq: record.seq, line };
    this.proven++;
    this.waiting = null;
    return null;
  }

  /** After every record: do all proofs lead to the signed head's root, and does every record have one? */
  finish(head: TreeHead, records: number): InclusionProblem | null {
    const key = `${head.treeSize}:${head.rootHash}`;
    const wrong = (at: { seq: number; line: number }): InclusionProblem => ({
      recordSeq: at.seq,
      line: at.line,
      message: `record ${at.seq} (proof on line ${at.line}) is not included in the signed tree head of size ${head.treeSize}: its audit path leads to another root`,
    });
    if (this.first !== null && this.first.key !== key) return wrong(this.first);
    if (this.firstOther !== null) return wrong(this.firstOther);
    const unproven = this.firstUnproven ?? this.waiting;
    if (unproven !== null || this.proven !== records) {
      const seq = unproven?.seq ?? this.proven + 1;
      return {
        recordSeq: seq,
        line: unproven?.line ?? 0,
        message: `record ${seq}${unproven ? ` (line ${unproven.line})` : ''} has no inclusion proof, but the manifest announces one after every record`,
      };
    }
    return null;
  }
}
