import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadConfig } from '@ledger/config';
import {
  EXPORT_KEY_FILE,
  ExportKeyError,
  loadExportSigner,
  loadLedgerPublicKey,
  parseExportPrivateKey,
  parsePublicKeyPem,
  signerFromPrivateKey,
  verifySignature,
} from './export-key';

const SEED_HEX = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';

function configFor(dataDir: string, exportKey?: string) {
  return loadConfig({ LEDGER_DATA_DIR: dataDir, LEDGER_EXPORT_KEY: exportKey });
}

describe('export key', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'export-key-'));
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('accepts the same seed as hex, base64, base64url and PKCS#8 PEM', () => {
    const seed = Buffer.from(SEED_HEX, 'hex');
    const fromHex = signerFromPrivateKey(parseExportPrivateKey(SEED_HEX), {
      kind: 'env',
      variable: 'LEDGER_EXPORT_KEY',
    });
    const pem = parseExportPrivateKey(SEED_HEX).export({ type: 'pkcs8', format: 'pem' }).toString();
    for (const text of [seed.toString('base64'), seed.toString('base64url'), pem, ` ${SEED_HEX}\n`]) {
      expect(
        parsePublicKeyPem(parseExportPrivateKey(text).export({ type: 'pkcs8', format: 'pem' }).toString(), {
          kind: 'embedded',
        }).keyId,
      ).toBe(fromHex.publicKey.keyId);
    }
    // RFC 8032 test vector 1: the seed above has this public key.
    const raw = fromHex.publicKey.key.export({ type: 'spki', format: 'der' }).subarray(-32).toString('hex');
    expect(raw).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(fromHex.publicKey.keyId).toMatch(/^ed25519:[0-9a-f]{16}$/);
  });

  it.each([['not a key'], ['abcd'], ['-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----']])(
    'refuses LEDGER_EXPORT_KEY=%j naming the variable',
    (text) => {
      expect(() => parseExportPrivateKey(text)).toThrow(ConfigError);
      expect(() => parseExportPrivateKey(text)).toThrow(/LEDGER_EXPORT_KEY/);
    },
  );

  it('refuses a key that is not Ed25519', () => {
    const rsa = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    expect(() => parseExportPrivateKey(rsa.toString())).toThrow(/Ed25519/);
  });

  it('generates a key once into the data dir with mode 0600 and reuses it', () => {
    const first = loadExportSigner(configFor(dataDir));
    const file = path.join(dataDir, EXPORT_KEY_FILE);
    expect(first.publicKey.source).toEqual({ kind: 'data-dir', file, created: true });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const second = loadExportSigner(configFor(dataDir));
    expect(second.publicKey.keyId).toBe(first.publicKey.keyId);
    expect(second.publicKey.source).toMatchObject({ created: false });
    expect(loadLedgerPublicKey(configFor(dataDir)).keyId).toBe(first.publicKey.keyId);
  });

  it('prefers LEDGER_EXPORT_KEY and never writes a file then', () => {
    const signer = loadExportSigner(configFor(dataDir, SEED_HEX));
    expect(signer.publicKey.source).toEqual({ kind: 'env', variable: 'LEDGER_EXPORT_KEY' });
    expect(fs.existsSync(path.join(dataDir, EXPORT_KEY_FILE))).toBe(false);
    expect(loadLedgerPublicKey(configFor(dataDir, SEED_HEX)).keyId).toBe(signer.publicKey.keyId);
  });

  it('does not create a key just to verify with it', () => {
    expect(() => loadLedgerPublicKey(configFor(dataDir))).toThrow(ExportKeyError);
    expect(fs.existsSync(path.join(dataDir, EXPORT_KEY_FILE))).toBe(false);
  });

  it('signs so that only the matching public key verifies', () => {
    const signer = loadExportSigner(configFor(dataDir, SEED_HEX));
    const other = loadExportSigner(configFor(dataDir));
    const signature = signer.sign('text');
    const publicOnly = parsePublicKeyPem(signer.publicKey.pem, { kind: 'file', file: 'pub.pem' });
    expect(verifySignature(publicOnly, 'text', signature)).toBe(true);
    expect(verifySignature(publicOnly, 'texT', signature)).toBe(false);
    expect(verifySignature(other.publicKey, 'text', signature)).toBe(false);
    expect(verifySignature(publicOnly, 'text', 'garbage')).toBe(false);
  });

  it('refuses a public key file that is not a key', () => {
    expect(() => parsePublicKeyPem('hello', { kind: 'embedded' })).toThrow(ExportKeyError);
  });
});
