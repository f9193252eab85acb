import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { LiveProjection } from '@ledger/projections';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly projection: LiveProjection) {}

  @Get()
  @ApiOperation({ summary: 'Ready when the projection follows the log' })
  health() {
    if (!this.projection.isCaughtUp) throw new ServiceUnavailableException('projection is catching up');
    return { status: 'ok', token: this.projection.token };
  }
}
