import * as fs from 'node:fs';
import { Injectable, Logger, type BeforeApplicationShutdown, type Provider } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { loadExportSigner } from '@ledger/audit-trail';
import type { LedgerConfig } from '@ledger/config';
import type { EventStore } from '@ledger/event-store';
import {
  headKeyOf,
  headSignerOf,
  IntegrityMonitor,
  parseKeptHeads,
  type TreeHead,
} from '@ledger/log-integrity';
import { EVENT_STORE, LEDGER_CONFIG } from '../ledger.providers';
import { LedgerMetrics } from '../metrics/ledger-metrics';

/**
 * The tree follows the log like the projections do. Heads are signed with the export key (LEDGER_EXPORT_KEY or
 * export-key.pem in the data dir), so one public key checks both exports and heads.
 */
export const integrityMonitorProvider: Provider = {
  provide: IntegrityMonitor,
  inject: [EVENT_STORE, LEDGER_CONFIG, LedgerMetrics],
  useFactory: (store: EventStore, config: LedgerConfig, metrics: LedgerMetrics): IntegrityMonitor => {
    const logger = new Logger('LogIntegrity');
    const signer = loadExportSigner(config);
    const monitor = new IntegrityMonitor(store, {
      keptHeads: config.keptHeadsFile === null ? [] : readKeptHeadsFile(config.keptHeadsFile),
      dataDir: config.dataDir,
      signer: headSignerOf(signer),
      key: headKeyOf(signer.publicKey),
      policy: { everyEvents: config.headEveryEvents, everySeconds: config.headEverySeconds },
      logger: { log: (m) => logger.log(m), warn: (m) => logger.warn(m), error: (m) => logger.error(m) },
    });
    registerIntegrityGauges(monitor, metrics);
    monitor.start();
    return monitor;
  },
};

/** A kept-heads file that cannot be read stops the service, naming it: it was configured to be checked. */
export function readKeptHeadsFile(file: string): TreeHead[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(
      `LEDGER_KEPT_HEADS: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  try {
    return parseKeptHeads(text, file);
  } catch (error) {
    throw new Error(`LEDGER_KEPT_HEADS: ${(error as Error).message}`);
  }
}

function registerIntegrityGauges(monitor: IntegrityMonitor, metrics: LedgerMetrics): void {
  new Gauge({
    name: 'ledger_log_tampered',
    help: '1 when the log failed its integrity check (a leaf or a signed head does not match), else 0',
    registers: [metrics.registry],
    collect() {
      this.set(monitor.status().state === 'tampered' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'ledger_log_tree_size',
    help: 'Events in the Merkle tree over the log',
    registers: [metrics.registry],
    collect() {
      this.set(monitor.status().treeSize);
    },
  });
  new Gauge({
    name: 'ledger_log_signed_tree_size',
    help: 'Tree size of the latest signed head (0 when there is none)',
    registers: [metrics.registry],
    collect() {
      this.set(monitor.status().latestHead?.treeSize ?? 0);
    },
  });
}

/** Stops following the log before the store closes (onApplicationShutdown closes it). */
@Injectable()
export class IntegrityMonitorShutdown implements BeforeApplicationShutdown {
  constructor(private readonly monitor: IntegrityMonitor) {}

  async beforeApplicationShutdown(): Promise<void> {
    await this.monitor.stop();
  }
}
