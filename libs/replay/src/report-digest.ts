import { createHash, type Hash } from 'node:crypto';
import { canonicalJson } from '@ledger/domain';
import type { Exposure, ReplaySummary, ReplayWindow } from './incident-report';

/**
 * One exposure's canonical JSON (keys sorted, no whitespace), written out for its fixed shape: the same text
 * `canonicalJson` gives (a property test holds them equal), at a fraction of the cost on reports with
 * hundreds of thousands of exposures.
 */
export function exposureCanonicalJson(e: Exposure): string {
  return (
    `{"action":${JSON.stringify(e.action)},"deviceId":${JSON.stringify(e.deviceId)},` +
    `"eventId":${JSON.stringify(e.eventId)},"mediaId":${JSON.stringify(e.mediaId)},` +
    `"mediaType":${JSON.stringify(e.mediaType)},"occurredAt":${JSON.stringify(e.occurredAt)},` +
    `"ownerId":${e.ownerId === null ? 'null' : JSON.stringify(e.ownerId)},` +
    `"reason":${JSON.stringify(e.reason)},"viewerId":${JSON.stringify(e.viewerId)}}`
  );
}

const CHUNK = 512;

/**
 * The §4 digest, `sha256:<hex>` over the canonical JSON of `{window, summary, exposures}`, fed one exposure at a
 * time in report order. Sorted keys put `exposures` first, so a stream of the report (NDJSON, pages) can
 * digest the exposures as they go by and add the summary and window at the end, holding none of it.
 */
export class ReportDigester {
  private readonly hash: Hash = createHash('sha256');
  private pending: string[] = [];
  private count = 0;

  constructor() {
    this.hash.update('{"exposures":[');
  }

  add(exposure: Exposure): void {
    this.pending.push(exposureCanonicalJson(exposure));
    if (this.pending.length === CHUNK) this.flush();
  }

  finish(window: ReplayWindow, summary: ReplaySummary): string {
    this.flush();
    this.hash.update(`],"summary":${canonicalJson(summary)},"window":${canonicalJson(window)}}`);
    return `sha256:${this.hash.digest('hex')}`;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.hash.update(`${this.count > 0 ? ',' : ''}${this.pending.join(',')}`);
    this.count += this.pending.length;
    this.pending = [];
  }
}

/** `sha256:<hex>` over the canonical JSON of `{window, summary, exposures}` (contract §4). */
export function reportDigest(
  window: ReplayWindow,
  summary: ReplaySummary,
  exposures: readonly Exposure[],
): string {
  const digester = new ReportDigester();
  for (const exposure of exposures) digester.add(exposure);
  return digester.finish(window, summary);
}
