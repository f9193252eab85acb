import { fromHex, toHex } from './merkle-hash';
import { verifyConsistency } from './proof-verifier';
import type { TamperFinding, TreeChecker } from './tree-checker';
import { checkHeadSignature, parseTreeHead, type TreeHead, type TreeHeadKey } from './tree-head';

/** A file of kept heads that cannot be used: which file (and line), and why. */
export class KeptHeadsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeptHeadsError';
  }
}

/**
 * Heads kept outside the ledger (an auditor's, or the operator's beside the service's configuration): one head
 * as JSON, or several as NDJSON (one a line), as `ledger head` and `GET /v1/log/head` print them.
 */
export function parseKeptHeads(text: string, source: string): TreeHead[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (lines.length === 0) throw new KeptHeadsError(`${source} holds no tree head`);
  const values: unknown[] = [];
  try {
    if (lines.length > 1 && lines.every((line) => line.trim().startsWith('{'))) {
      for (const line of lines) values.push(JSON.parse(line));
    } else values.push(JSON.parse(text));
  } catch {
    throw new KeptHeadsError(`${source} is not JSON (a tree head, or NDJSON of heads)`);
  }
  return values.map((value, index) => {
    const parsed = parseTreeHead(value);
    if (!parsed.ok) {
      throw new KeptHeadsError(
        `${source}${values.length > 1 ? ` line ${index + 1}` : ''}: ${parsed.problem}`,
      );
    }
    return parsed.head;
  });
}

/**
 * Checks a kept head against the tree recomputed from today's log (read to its end): signed by the trusted key,
 * not larger than the log, and a prefix of it (a consistency proof from it to today's tree). Null when it holds.
 */
export function checkKeptHead(checker: TreeChecker, head: TreeHead, key: TreeHeadKey): TamperFinding | null {
  const signature = checkHeadSignature(head, key);
  if (!signature.ok) {
    return {
      kind: signature.why === 'foreign-key' ? 'foreign-head' : 'forged-head',
      message: `kept head: ${signature.message}`,
    };
  }
  if (head.treeSize > checker.size) {
    return {
      kind: 'truncated',
      leafIndex: checker.size,
      message: `a kept head signed ${head.timestamp} covers ${head.treeSize} events; the log now holds ${checker.size}: it was truncated or replaced`,
    };
  }
  const proof = checker.tree.consistencyProof(head.treeSize, checker.size);
  const keptRoot = fromHex(head.rootHash) as Buffer;
  if (!verifyConsistency(head.treeSize, checker.size, proof, keptRoot, checker.tree.root())) {
    return {
      kind: 'head-mismatch',
      message:
        `the kept head of size ${head.treeSize} signed ${head.timestamp} is not a prefix of today's log ` +
        `(its root ${head.rootHash}, the log's ${toHex(checker.tree.root(head.treeSize))}): an event among leaves 0–${head.treeSize - 1} was changed`,
    };
  }
  return null;
}
