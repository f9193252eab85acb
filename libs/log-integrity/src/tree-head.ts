import type { JsonObject, NewEvent, RecordedEvent } from '@ledger/event-store';
import { HEX_HASH } from './merkle-hash';

/** The log's own stream of signed tree heads: each head is an event, hence a leaf of every later tree. */
export const TREE_HEADS_STREAM = 'ledger-heads';
export const TREE_HEAD_EVENT = 'TreeHeadSigned';
export const TREE_HEAD_FORMAT = 'ledger-tree-head/1';

/** A signed statement "the first treeSize events of the log have this Merkle root", as served and stored. */
export interface TreeHead {
  readonly treeSize: number;
  /** Lowercase hex MTH of the first `treeSize` leaves. */
  readonly rootHash: string;
  /** When it was signed, RFC 3339 UTC with milliseconds. */
  readonly timestamp: string;
  /** Names the Ed25519 key (the ledger's export key): `ed25519:` + 16 hex digits of SHA-256 of its SPKI DER. */
  readonly keyId: string;
  /** Base64 Ed25519 signature over `treeHeadSigningText(head)`. */
  readonly signature: string;
}

/** What signs heads; the API and the CLI pass the ledger's export key. */
export interface TreeHeadSigner {
  readonly keyId: string;
  /** Base64 Ed25519 over the UTF-8 bytes of `text`. */
  sign(text: string): string;
}

/** What checks a head's signature: the ledger's public key as an auditor holds it. */
export interface TreeHeadKey {
  readonly keyId: string;
  verify(text: string, signatureBase64: string): boolean;
}

/**
 * The exact text a head's signature covers: canonical JSON (keys sorted, no whitespace) of
 * `{"format":"ledger-tree-head/1","rootHash":…,"timestamp":…,"treeSize":…}`. The format member keeps a head's
 * signature from ever being read as the signature of something else made with the same key (an export manifest).
 */
export function treeHeadSigningText(head: Pick<TreeHead, 'treeSize' | 'rootHash' | 'timestamp'>): string {
  return (
    `{"format":${JSON.stringify(TREE_HEAD_FORMAT)},"rootHash":${JSON.stringify(head.rootHash)},` +
    `"timestamp":${JSON.stringify(head.timestamp)},"treeSize":${head.treeSize}}`
  );
}

export function signTreeHead(
  treeSize: number,
  rootHash: string,
  timestamp: string,
  signer: TreeHeadSigner,
): TreeHead {
  const text = treeHeadSigningText({ treeSize, rootHash, timestamp });
  return { treeSize, rootHash, timestamp, keyId: signer.keyId, signature: signer.sign(text) };
}

export type HeadCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly why: 'foreign-key' | 'bad-signature'; readonly message: string };

/** Is the head signed by this key? A head naming another key is reported as such, not as a bad signature. */
export function checkHeadSignature(head: TreeHead, key: TreeHeadKey): HeadCheck {
  if (head.keyId !== key.keyId) {
    return {
      ok: false,
      why: 'foreign-key',
      message: `the head of size ${head.treeSize} names key ${head.keyId}, not the trusted ${key.keyId}`,
    };
  }
  return key.verify(treeHeadSigningText(head), head.signature)
    ? { ok: true }
    : {
        ok: false,
        why: 'bad-signature',
        message: `the head of size ${head.treeSize} claims key ${head.keyId} but its signature does not verify`,
      };
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SIGNATURE = /^[A-Za-z0-9+/]{86}==$/;
const KEY_ID = /^[a-z0-9]+:[0-9a-f]{1,64}$/;
const HEAD_KEYS = ['treeSize', 'rootHash', 'timestamp', 'keyId', 'signature'];

/** A head from untrusted JSON (an auditor's file, an export's manifest, a head event); what is wrong, or the head. */
export function parseTreeHead(value: unknown): { ok: true; head: TreeHead } | { ok: false; problem: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, problem: 'a tree head is a JSON object' };
  }
  const head = value as Record<string, unknown>;
  const unknown = Object.keys(head).find((key) => !HEAD_KEYS.includes(key));
  if (unknown !== undefined) return { ok: false, problem: `the tree head has an unknown field ${unknown}` };
  if (typeof head.treeSize !== 'number' || !Number.isSafeInteger(head.treeSize) || head.treeSize < 0) {
    return { ok: false, problem: 'treeSize is not a non-negative integer' };
  }
  if (typeof head.rootHash !== 'string' || !HEX_HASH.test(head.rootHash)) {
    return { ok: false, problem: 'rootHash is not 64 lowercase hex digits' };
  }
  if (
    typeof head.timestamp !== 'string' ||
    !TIMESTAMP.test(head.timestamp) ||
    Number.isNaN(Date.parse(head.timestamp))
  ) {
    return { ok: false, problem: 'timestamp is not an RFC 3339 UTC time with milliseconds' };
  }
  if (typeof head.keyId !== 'string' || !KEY_ID.test(head.keyId))
    return { ok: false, problem: 'keyId is malformed' };
  if (typeof head.signature !== 'string' || !SIGNATURE.test(head.signature)) {
    return { ok: false, problem: 'signature is not a base64 Ed25519 signature' };
  }
  return {
    ok: true,
    head: {
      treeSize: head.treeSize,
      rootHash: head.rootHash,
      timestamp: head.timestamp,
      keyId: head.keyId,
      signature: head.signature,
    },
  };
}

export function isTreeHeadEvent(event: Pick<RecordedEvent, 'stream' | 'type'>): boolean {
  return event.type === TREE_HEAD_EVENT && event.stream === TREE_HEADS_STREAM;
}

export function treeHeadEvent(head: TreeHead, eventId: string): NewEvent {
  const data: JsonObject = { ...head };
  return { eventId, type: TREE_HEAD_EVENT, data };
}
