#!/usr/bin/env node
// Checks the ledger's log proofs with nothing but Node's crypto and the ledger's public key: a third party's
// verifier, written from docs/audit-trail.md §9.3–9.4 (RFC 9162 §2.1.3.2 and §2.1.4.2), not from the ledger's code.
//
//   node check-log-proof.js consistency KEY.pem KEPT_HEAD.json NEW_HEAD.json PROOF.json
//   node check-log-proof.js inclusion   KEY.pem HEAD.json PROOF.json [LEAF_BYTES_FILE]
//
// Heads as GET /v1/log/head answers them; proofs as GET /v1/log/proofs/{consistency,inclusion} answer them. With a
// file of leaf bytes (§9.1) the leaf hash is recomputed from it rather than taken from the proof.
// Exit 0: the proof holds; 1: it does not (the reason is printed); 2: unusable input.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');

const sha256 = (...parts) => crypto.createHash('sha256').update(Buffer.concat(parts)).digest();
const node = (left, right) => sha256(Buffer.from([1]), left, right);
const hex = (text) => Buffer.from(text, 'hex');

function fail(reason) {
  console.log(`FAILED: ${reason}`);
  process.exit(1);
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    console.error(`cannot read ${file}: ${error.message}`);
    process.exit(2);
  }
}

/** §9.3: Ed25519 over the canonical text {"format","rootHash","timestamp","treeSize"}. */
function checkHead(head, key, name) {
  const text =
    `{"format":"ledger-tree-head/1","rootHash":"${head.rootHash}",` +
    `"timestamp":"${head.timestamp}","treeSize":${head.treeSize}}`;
  if (!crypto.verify(null, Buffer.from(text), key, Buffer.from(head.signature, 'base64'))) {
    fail(`the ${name}'s signature does not verify with this key`);
  }
}

/** RFC 9162 §2.1.3.2. */
function rootFromAuditPath(leafHash, leafIndex, treeSize, auditPath) {
  if (leafIndex >= treeSize) return null;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of auditPath.map(hex)) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = node(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) ((fn >>= 1), (sn >>= 1));
    } else r = node(r, p);
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 ? r : null;
}

/** RFC 9162 §2.1.4.2. */
function consistent(m, n, proof, oldRoot, newRoot) {
  if (m === n) return proof.length === 0 && oldRoot.equals(newRoot);
  if (m === 0) return proof.length === 0;
  if (m > n || proof.length === 0) return false;
  let path = proof.map(hex);
  if ((m & (m - 1)) === 0) path = [oldRoot, ...path];
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) ((fn >>= 1), (sn >>= 1));
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = node(c, fr);
      sr = node(c, sr);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) ((fn >>= 1), (sn >>= 1));
    } else sr = node(sr, c);
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && fr.equals(oldRoot) && sr.equals(newRoot);
}

const [kind, keyFile, ...files] = process.argv.slice(2);
if (!['consistency', 'inclusion'].includes(kind) || !keyFile || files.length < 2) {
  console.error('usage: check-log-proof.js consistency KEY.pem KEPT_HEAD.json NEW_HEAD.json PROOF.json');
  console.error('       check-log-proof.js inclusion KEY.pem HEAD.json PROOF.json [LEAF_BYTES_FILE]');
  process.exit(2);
}
let key;
try {
  key = crypto.createPublicKey(fs.readFileSync(keyFile));
} catch (error) {
  console.error(`cannot read the public key ${keyFile}: ${error.message}`);
  process.exit(2);
}

if (kind === 'consistency') {
  const [kept, now, proof] = [readJson(files[0]), readJson(files[1]), readJson(files[2])];
  checkHead(kept, key, 'kept head');
  checkHead(now, key, 'new head');
  if (proof.fromSize !== kept.treeSize || proof.toSize !== now.treeSize) {
    fail(
      `the proof is from ${proof.fromSize} to ${proof.toSize}, the heads are ${kept.treeSize} and ${now.treeSize}`,
    );
  }
  if (!consistent(kept.treeSize, now.treeSize, proof.proof, hex(kept.rootHash), hex(now.rootHash))) {
    fail(`the log of ${now.treeSize} events does not extend the kept head of ${kept.treeSize}`);
  }
  console.log(
    `OK: the log of ${now.treeSize} events extends the kept head of ${kept.treeSize} (${kept.timestamp})`,
  );
} else {
  const [head, proof] = [readJson(files[0]), readJson(files[1])];
  checkHead(head, key, 'head');
  // §9.1: leafHash = SHA-256(0x00 ‖ leaf bytes).
  const leafHash = files[2] ? sha256(Buffer.from([0]), fs.readFileSync(files[2])) : hex(proof.leafHash);
  if (files[2] && leafHash.toString('hex') !== proof.leafHash)
    fail("the leaf bytes do not hash to the proof's leafHash");
  if (proof.treeSize !== head.treeSize)
    fail(`the proof is for a tree of ${proof.treeSize}, the head's is ${head.treeSize}`);
  const root = rootFromAuditPath(leafHash, proof.leafIndex, proof.treeSize, proof.auditPath);
  if (root === null || root.toString('hex') !== head.rootHash) {
    fail(`leaf ${proof.leafIndex} is not in the tree of ${head.treeSize} the head signs`);
  }
  console.log(
    `OK: leaf ${proof.leafIndex} is in the tree of ${head.treeSize} events signed ${head.timestamp}`,
  );
}
