import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { LedgerQueries } from '@ledger/application';
import { RequireScope } from '../auth/api-key.guard';
import { BulkCheckDto, CheckDto } from '../dto/check.dto';
import { AtLeastQuery, UserIdParam } from '../dto/device.dto';

@ApiTags('checks')
@ApiBearerAuth()
@Controller('v1')
export class ChecksController {
  constructor(private readonly queries: LedgerQueries) {}

  @Post('check')
  @HttpCode(200)
  @RequireScope('ledger:read')
  @ApiOperation({ summary: 'May user U see device D (now, or at an instant)?' })
  check(@Body() body: CheckDto) {
    return this.queries.check(body);
  }

  @Post('check/bulk')
  @HttpCode(200)
  @RequireScope('ledger:read')
  @ApiOperation({ summary: 'Up to 1000 checks against one projection state' })
  bulk(@Body() body: BulkCheckDto) {
    return this.queries.checkBulk(body.items, body.atLeast, body.at);
  }

  @Get('users/:userId/devices')
  @RequireScope('ledger:read')
  @ApiOperation({ summary: 'Devices the user may see now' })
  userDevices(@Param() { userId }: UserIdParam, @Query() query: AtLeastQuery) {
    return this.queries.userDevices(userId, query.atLeast);
  }

  @Get('projection')
  @RequireScope('ledger:read')
  @ApiOperation({ summary: 'Token and digest of the live relationship projection' })
  projection() {
    return this.queries.projectionState();
  }
}
