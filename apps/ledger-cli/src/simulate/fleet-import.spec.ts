import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseImportLine } from '@ledger/application';
import { planFleet } from './fleet';
import { importLine, writeFleetImportFile } from './fleet-import';
import { seededRandom } from './random';

const NOW = Date.UTC(2024, 1, 16, 9, 41, 7, 123);

describe('the fleet as an import file', () => {
  const options = { devices: 2000, users: 3000, now: NOW };

  it('writes every change of the planned fleet, device by device in business-time order', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-import-'));
    try {
      const file = path.join(dir, 'fleet.ndjson');
      const counts = writeFleetImportFile(file, options, seededRandom(7));
      const fleet = planFleet(options, seededRandom(7));
      const expected = fleet.devices.flatMap((device) =>
        device.changes.map((change) => importLine(device.deviceId, change)),
      );
      expect(fs.readFileSync(file, 'utf8')).toBe(`${expected.join('\n')}\n`);
      expect(counts).toEqual(fleet.counts);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes lines the importer accepts, with the fields of each change', () => {
    const fleet = planFleet(options, seededRandom(3));
    const ops = new Set<string>();
    for (const device of fleet.devices) {
      for (const change of device.changes) {
        const parsed = parseImportLine(importLine(device.deviceId, change), NOW);
        ops.add(parsed.op);
        expect(parsed).toMatchObject({ op: change.op, deviceId: device.deviceId });
        if (change.op === 'grant' && change.expiresAt !== undefined)
          expect(parsed).toMatchObject({ userId: change.userId, expiresAt: change.expiresAt });
        if (change.op === 'transfer')
          expect(parsed).toMatchObject({ newOwnerId: change.newOwnerId, keepViewers: change.keepViewers });
      }
    }
    expect([...ops].sort()).toEqual(['decommission', 'grant', 'register', 'revoke', 'transfer']);
  });
});
