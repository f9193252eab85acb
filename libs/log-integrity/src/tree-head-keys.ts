import { verify, type KeyObject } from 'node:crypto';
import type { TreeHeadKey, TreeHeadSigner } from './tree-head';

/** The shape of the ledger's export key (libs/audit-trail's `ExportSigner`): heads are signed with that key. */
export interface Ed25519Signer {
  readonly publicKey: { readonly keyId: string; readonly key: KeyObject };
  sign(text: string): string;
}

export function headSignerOf(signer: Ed25519Signer): TreeHeadSigner {
  return { keyId: signer.publicKey.keyId, sign: (text) => signer.sign(text) };
}

/** A verification key from an Ed25519 public key and its id. */
export function headKeyOf(publicKey: { readonly keyId: string; readonly key: KeyObject }): TreeHeadKey {
  return {
    keyId: publicKey.keyId,
    verify: (text, signature) =>
      /^[A-Za-z0-9+/]{86}==$/.test(signature) &&
      verify(null, Buffer.from(text, 'utf8'), publicKey.key, Buffer.from(signature, 'base64')),
  };
}
