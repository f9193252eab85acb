import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { LedgerQueries } from '@ledger/application';
import { RequireScope } from '../auth/api-key.guard';
import { ApiAnswers } from '../http/api-examples';
import { LedgerMetrics } from '../metrics/ledger-metrics';
import { BulkCheckDto, CheckDto } from '../dto/check.dto';
import { AtLeastQuery, UserIdParam } from '../dto/device.dto';

@ApiTags('checks')
@ApiBearerAuth()
@Controller('v1')
export class ChecksController {
  constructor(
    private readonly queries: LedgerQueries,
    private readonly metrics: LedgerMetrics,
  ) {}

  @Post('check')
  @HttpCode(200)
  @RequireScope('ledger:read')
  @ApiOperation({ summary: 'May user U see device D (now, or at an instant)?' })
  @ApiAnswers({ status: 200, example: { allowed: true, role: 'viewer', token: 'lt1.3d' } }, [503])
  check(@Body() body: CheckDto) {
    // The answer comes without a promise when nothing must be waited for: the hot route then sends it at once.
    const answer = this.queries.check(body);
    return answer instanceof Promise ? answer.then((result) => this.counted(result)) : this.counted(answer);
  }

  private counted<R extends { allowed: boolean }>(result: R): R {
    this.metrics.countDecisions('check', result.allowed);
    return result;
  }

  @Post('check/bulk')
  @HttpCode(200)
  @RequireScope('ledger:read')
  @ApiOperation({ summary: 'Up to 1000 checks against one projection state' })
  @ApiAnswers(
    {
      status: 200,
      example: {
        results: [{ userId: 'user-bob', deviceId: 'cam-7f3a', allowed: true, role: 'viewer' }],
        token: 'lt1.3d',
      },
    },
    [503],
  )
  async bulk(@Body() body: BulkCheckDto) {
    const answer = await this.queries.checkBulk(body.items, body.atLeast, body.at);
    const allowed = answer.results.filter((r) => r.allowed).length;
    if (allowed > 0) this.metrics.countDecisions('check_bulk', true, allowed);
    if (answer.results.length > allowed) {
      this.metrics.countDecisions('check_bulk', false, answer.results.length - allowed);
    }
    return answer;
  }

  @Get('users/:userId/devices')
  @RequireScope('ledger:read')
  @ApiOperation({ summary: 'Devices the user may see now' })
  @ApiAnswers(
    {
      status: 200,
      example: {
        userId: 'user-bob',
        devices: [
          {
            deviceId: 'cam-7f3a',
            role: 'viewer',
            since: '2024-02-16T09:10:00.000Z',
            expiresAt: '2024-03-01T00:00:00.000Z',
          },
        ],
        token: 'lt1.3d',
      },
    },
    [503],
  )
  userDevices(@Param() { userId }: UserIdParam, @Query() query: AtLeastQuery) {
    return this.queries.userDevices(userId, query.atLeast);
  }

  @Get('projection')
  @RequireScope('ledger:read')
  @ApiOperation({ summary: 'Token and digest of the live relationship projection' })
  @ApiAnswers({
    status: 200,
    example: {
      token: 'lt1.3d',
      digest: 'sha256:53e574ecc7b57f12add65dd59563c68e7d8d977b812b11c67d283cebbbfa34d4',
    },
  })
  projection() {
    return this.queries.projectionState();
  }
}
