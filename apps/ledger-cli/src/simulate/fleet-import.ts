import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatTime } from '@ledger/domain';
import {
  emptyFleetCounts,
  fleetDevices,
  fleetUsers,
  type FleetChange,
  type FleetCounts,
  type FleetDevice,
  type FleetOptions,
} from './fleet';
import type { Random } from './random';

const REGISTER_TS = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'support', 'register-ts.js');
const PROVISIONING = 'svc:provisioning';
const SUPPORT = 'support:simulator';
/** Lines are written in chunks of about this many characters. */
const CHUNK_CHARS = 1 << 20;

/** One ownership change as a line of the import format (contract §7): the HTTP body plus op and deviceId. */
export function importLine(deviceId: string, change: FleetChange): string {
  const occurredAt = formatTime(change.at);
  switch (change.op) {
    case 'register':
      return JSON.stringify({ op: 'register', deviceId, ownerId: change.ownerId, actor: PROVISIONING, occurredAt });
    case 'grant':
      return JSON.stringify({
        op: 'grant',
        deviceId,
        userId: change.userId,
        actor: PROVISIONING,
        occurredAt,
        ...(change.expiresAt === undefined ? {} : { expiresAt: formatTime(change.expiresAt) }),
      });
    case 'revoke':
      return JSON.stringify({ op: 'revoke', deviceId, userId: change.userId, actor: PROVISIONING, occurredAt });
    case 'transfer':
      return JSON.stringify({
        op: 'transfer',
        deviceId,
        newOwnerId: change.newOwnerId,
        keepViewers: change.keepViewers,
        actor: SUPPORT,
        occurredAt,
      });
    case 'decommission':
      return JSON.stringify({ op: 'decommission', deviceId, actor: PROVISIONING, occurredAt });
    default: {
      const unreachable: never = change;
      throw new Error(`unknown change ${JSON.stringify(unreachable)}`);
    }
  }
}

/**
 * Writes the fleet's whole ownership history to `file` as import lines, device by device (each device's
 * changes in business-time order), making each device as it is written so the fleet is never held whole.
 */
export function writeFleetImportFile(
  file: string,
  options: FleetOptions,
  random: Random,
  onProgress: (devices: number) => void = () => undefined,
): FleetCounts {
  const counts = emptyFleetCounts();
  const fd = fs.openSync(file, 'w');
  try {
    let chunk = '';
    let written = 0;
    const users = fleetUsers(options);
    for (const device of fleetDevices(options, users, random, counts) as Iterable<FleetDevice>) {
      for (const change of device.changes) chunk += `${importLine(device.deviceId, change)}\n`;
      if (chunk.length >= CHUNK_CHARS) {
        fs.writeSync(fd, chunk);
        chunk = '';
      }
      if (++written % 10_000 === 0) onProgress(written);
    }
    fs.writeSync(fd, chunk);
    fs.fsyncSync(fd);
    onProgress(written);
  } finally {
    fs.closeSync(fd);
  }
  return counts;
}

/**
 * Runs `ledger import FILE` in a process of its own, as an operator would, against the data dir and store the
 * environment names. Resolves with what it printed; rejects when it exits non-zero (a rejected line is a bug
 * in the simulator's fleet).
 */
export function importWithCli(file: string, env: NodeJS.ProcessEnv, importId: string): Promise<string> {
  const compiled = path.extname(__filename) === '.js';
  const main = path.resolve(__dirname, '..', compiled ? 'main.js' : 'main.ts');
  const args = [...(compiled ? [] : ['-r', REGISTER_TS]), main, 'import', file, '--import-id', importId];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      if (output.length < 64_000) output += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(output.trim());
      else reject(new Error(`ledger import exited with ${code ?? signal}:\n${output}`));
    });
  });
}
