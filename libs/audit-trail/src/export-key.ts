import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, readOrCreateSecretFile, type LedgerConfig } from '@ledger/config';

export const EXPORT_KEY_FILE = 'export-key.pem';

/** Where a key came from, so a verifier can say which key it trusted. */
export type KeySource =
  | { readonly kind: 'env'; readonly variable: 'LEDGER_EXPORT_KEY' }
  | { readonly kind: 'data-dir'; readonly file: string; readonly created: boolean }
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'embedded' };

export interface ExportPublicKey {
  readonly key: KeyObject;
  /** SPKI PEM. */
  readonly pem: string;
  /** `ed25519:` + the first 16 hex digits of SHA-256 over the SPKI DER encoding. */
  readonly keyId: string;
  readonly source: KeySource;
}

export interface ExportSigner {
  readonly publicKey: ExportPublicKey;
  /** Base64 Ed25519 signature over the UTF-8 bytes of `text`. */
  sign(text: string): string;
}

export class ExportKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportKeyError';
  }
}

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): SEQUENCE { version 0, AlgorithmIdentifier 1.3.101.112,
// OCTET STRING { OCTET STRING seed } }. Node has no "raw seed" import, so the seed is wrapped by hand.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function fromSeed(seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** Parses `LEDGER_EXPORT_KEY`: a PKCS#8 PEM Ed25519 private key, or hex / base64 of a 32-byte seed. */
export function parseExportPrivateKey(text: string): KeyObject {
  const value = text.trim();
  let key: KeyObject;
  if (value.includes('-----BEGIN')) {
    try {
      key = createPrivateKey({ key: value.replace(/\\n/g, '\n'), format: 'pem' });
    } catch {
      throw new ConfigError('LEDGER_EXPORT_KEY', 'is not a readable PEM private key');
    }
  } else {
    let seed: Buffer | null = null;
    if (/^[0-9a-fA-F]{64}$/.test(value)) seed = Buffer.from(value, 'hex');
    else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(value)) seed = Buffer.from(value, 'base64');
    if (seed === null || seed.length !== 32) {
      throw new ConfigError(
        'LEDGER_EXPORT_KEY',
        'must be a PKCS#8 PEM Ed25519 private key, or a 32-byte seed as 64 hex digits or base64',
      );
    }
    key = fromSeed(seed);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ConfigError(
      'LEDGER_EXPORT_KEY',
      `must be an Ed25519 key, got ${key.asymmetricKeyType ?? 'unknown'}`,
    );
  }
  return key;
}

export function describePublicKey(key: KeyObject, source: KeySource): ExportPublicKey {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  if (publicKey.asymmetricKeyType !== 'ed25519') {
    throw new ExportKeyError(`export keys are Ed25519; this is ${publicKey.asymmetricKeyType ?? 'unknown'}`);
  }
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return {
    key: publicKey,
    pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: `ed25519:${createHash('sha256').update(der).digest('hex').slice(0, 16)}`,
    source,
  };
}

export function signerFromPrivateKey(privateKey: KeyObject, source: KeySource): ExportSigner {
  const publicKey = describePublicKey(privateKey, source);
  return {
    publicKey,
    sign: (text) => sign(null, Buffer.from(text, 'utf8'), privateKey).toString('base64'),
  };
}

function generatePem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * The key exports are signed with: `LEDGER_EXPORT_KEY` when set, else `export-key.pem` in the data dir,
 * generated once (mode 0600) the first time anything needs it.
 */
export function loadExportSigner(config: LedgerConfig): ExportSigner {
  if (config.exportKey) {
    return signerFromPrivateKey(parseExportPrivateKey(config.exportKey), {
      kind: 'env',
      variable: 'LEDGER_EXPORT_KEY',
    });
  }
  const { content, created } = readOrCreateSecretFile(config.dataDir, EXPORT_KEY_FILE, generatePem);
  const file = path.join(config.dataDir, EXPORT_KEY_FILE);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: content, format: 'pem' });
  } catch {
    throw new ExportKeyError(`${file} is not a readable PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ExportKeyError(`${file} is not an Ed25519 key`);
  return signerFromPrivateKey(key, { kind: 'data-dir', file, created });
}

/**
 * The ledger's own public key for verification, without creating one: a verifier that finds no key has
 * nothing to check against, and generating a fresh key would only make every signature look wrong.
 */
export function loadLedgerPublicKey(config: LedgerConfig): ExportPublicKey {
  if (config.exportKey) {
    return describePublicKey(parseExportPrivateKey(config.exportKey), {
      kind: 'env',
      variable: 'LEDGER_EXPORT_KEY',
    });
  }
  const file = path.join(config.dataDir, EXPORT_KEY_FILE);
  if (!fs.existsSync(file)) {
    throw new ExportKeyError(
      `no export key in ${config.dataDir} (and LEDGER_EXPORT_KEY is unset); pass --public-key FILE`,
    );
  }
  return describePublicKey(createPrivateKey({ key: fs.readFileSync(file, 'utf8'), format: 'pem' }), {
    kind: 'data-dir',
    file,
    created: false,
  });
}

/** A public key as an auditor holds it: SPKI PEM (a private key PEM is accepted too; only its public half is used). */
export function parsePublicKeyPem(pem: string, source: KeySource): ExportPublicKey {
  let key: KeyObject;
  try {
    key = pem.includes('PRIVATE KEY') ? createPrivateKey(pem) : createPublicKey(pem);
  } catch {
    throw new ExportKeyError('not a readable PEM public key');
  }
  return describePublicKey(key, source);
}

export function readPublicKeyFile(file: string): ExportPublicKey {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ExportKeyError(`cannot read public key ${file}: ${(error as Error).message}`);
  }
  try {
    return parsePublicKeyPem(text, { kind: 'file', file });
  } catch (error) {
    throw new ExportKeyError(`${file}: ${(error as Error).message}`);
  }
}

export function verifySignature(publicKey: ExportPublicKey, text: string, signatureBase64: string): boolean {
  if (!/^[A-Za-z0-9+/]{86}==$/.test(signatureBase64)) return false;
  return verify(null, Buffer.from(text, 'utf8'), publicKey.key, Buffer.from(signatureBase64, 'base64'));
}

export function describeKeySource(source: KeySource): string {
  switch (source.kind) {
    case 'env':
      return 'the key in LEDGER_EXPORT_KEY';
    case 'data-dir':
      return `the ledger's export key (${source.file})`;
    case 'file':
      return `the public key in ${source.file}`;
    case 'embedded':
      return "the public key embedded in the export's own manifest (proves integrity, not origin)";
  }
}
