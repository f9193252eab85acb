import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { IntegrityMonitor } from '@ledger/log-integrity';

/**
 * Readiness is down once the log fails its integrity check, with the reason, so a tampered log is never served
 * as truth. While the start-up check runs the indicator is up (and says `verifying`): a long log must not keep
 * an intact ledger unready.
 */
@Injectable()
export class LogIntegrityIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly monitor: IntegrityMonitor,
  ) {}

  check() {
    const indicator = this.indicators.check('logIntegrity');
    const status = this.monitor.status();
    const data = {
      state: status.state,
      treeSize: status.treeSize,
      signedTreeSize: status.latestHead?.treeSize ?? null,
      verifiedHeads: status.verifiedHeads,
    };
    if (status.finding) {
      return indicator.down({
        ...data,
        reason: status.finding.kind,
        message: status.finding.message,
        ...(status.finding.position ? { position: status.finding.position } : {}),
      });
    }
    return indicator.up(data);
  }
}
