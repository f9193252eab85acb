import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson } from '@ledger/domain';
import type { Exposure, ReplayWindow } from './incident-report';
import { summarize } from './replay-incident';
import { exposureCanonicalJson, reportDigest, ReportDigester } from './report-digest';

const text = fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9._:-]{1,24}$/), fc.constant('é"\\\n☃'));
const exposureArbitrary: fc.Arbitrary<Exposure> = fc.record({
  eventId: fc.uuid(),
  occurredAt: fc
    .integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) })
    .map((ms) => new Date(ms).toISOString()),
  viewerId: text,
  deviceId: text,
  ownerId: fc.option(text, { nil: null }),
  mediaId: text,
  mediaType: fc.constantFrom('thumbnail', 'event_video', 'live_stream'),
  action: fc.constantFrom('delivered', 'opened', 'played'),
  reason: fc.constantFrom(
    'never_granted',
    'revoked',
    'expired',
    'transferred',
    'decommissioned',
    'unknown_device',
  ),
});
const windowArbitrary: fc.Arbitrary<ReplayWindow> = fc.record({
  from: fc.option(fc.constant('2024-02-16T00:00:00.000Z'), { nil: null }),
  to: fc.option(fc.constant('2024-02-17T00:00:00.000Z'), { nil: null }),
});

/** §4 as written: sha256 over the canonical JSON of {window, summary, exposures}, built in one piece. */
function digestAsWritten(window: ReplayWindow, exposures: Exposure[]): string {
  const summary = summarize(exposures.length + 3, exposures);
  const hex = createHash('sha256').update(canonicalJson({ window, summary, exposures })).digest('hex');
  return `sha256:${hex}`;
}

describe('report digest', () => {
  it("writes an exposure's canonical JSON exactly as canonicalJson does (property)", () => {
    fc.assert(fc.property(exposureArbitrary, (e) => expect(exposureCanonicalJson(e)).toBe(canonicalJson(e))));
  });

  it('digests a report fed one exposure at a time to the §4 digest of the whole (property)', () => {
    fc.assert(
      fc.property(windowArbitrary, fc.array(exposureArbitrary, { maxLength: 1200 }), (window, exposures) => {
        const summary = summarize(exposures.length + 3, exposures);
        expect(reportDigest(window, summary, exposures)).toBe(digestAsWritten(window, exposures));
        const digester = new ReportDigester();
        exposures.forEach((e) => digester.add(e));
        expect(digester.finish(window, summary)).toBe(digestAsWritten(window, exposures));
      }),
      { numRuns: 40 },
    );
  });
});
