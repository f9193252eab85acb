import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { LedgerCommands, LedgerQueries, type WriteContext } from '@ledger/application';
import { RequireScope } from '../auth/api-key.guard';
import { ApiAnswers } from '../http/api-examples';
import {
  AtLeastQuery,
  DecommissionDeviceDto,
  DeviceIdParam,
  GrantAccessDto,
  RegisterDeviceDto,
  RevokeAccessDto,
  TransferOwnershipDto,
} from '../dto/device.dto';
import { WriteCtx } from '../http/idempotency-key';

@ApiTags('devices')
@ApiBearerAuth()
@Controller('v1/devices')
export class DevicesController {
  constructor(
    private readonly commands: LedgerCommands,
    private readonly queries: LedgerQueries,
  ) {}

  @Post()
  @HttpCode(201)
  @RequireScope('ledger:write')
  @ApiOperation({ summary: 'Register a device and its owner' })
  @ApiAnswers({ status: 201, example: { deviceId: 'cam-7f3a', token: 'lt1.2s' } }, [409, 413])
  async register(@Body() body: RegisterDeviceDto, @WriteCtx() ctx: WriteContext) {
    return (await this.commands.registerDevice(body, ctx)).body;
  }

  @Post(':deviceId/grants')
  @HttpCode(201)
  @RequireScope('ledger:write')
  @ApiOperation({ summary: 'Share the device with a viewer (re-granting replaces the expiry)' })
  @ApiAnswers({ status: 201, example: { token: 'lt1.2t' } }, [404, 409, 413])
  async grant(
    @Param() { deviceId }: DeviceIdParam,
    @Body() body: GrantAccessDto,
    @WriteCtx() ctx: WriteContext,
  ) {
    return (await this.commands.grantAccess({ ...body, deviceId }, ctx)).body;
  }

  @Post(':deviceId/revocations')
  @HttpCode(201)
  @RequireScope('ledger:write')
  @ApiOperation({ summary: "End a viewer's access" })
  @ApiAnswers({ status: 201, example: { token: 'lt1.2u' } }, [404, 409, 413])
  async revoke(
    @Param() { deviceId }: DeviceIdParam,
    @Body() body: RevokeAccessDto,
    @WriteCtx() ctx: WriteContext,
  ) {
    return (await this.commands.revokeAccess({ ...body, deviceId }, ctx)).body;
  }

  @Post(':deviceId/transfers')
  @HttpCode(201)
  @RequireScope('ledger:write')
  @ApiOperation({ summary: 'Transfer ownership; viewers are dropped unless keepViewers' })
  @ApiAnswers({ status: 201, example: { token: 'lt1.2v' } }, [404, 409, 413])
  async transfer(
    @Param() { deviceId }: DeviceIdParam,
    @Body() body: TransferOwnershipDto,
    @WriteCtx() ctx: WriteContext,
  ) {
    return (await this.commands.transferOwnership({ ...body, deviceId }, ctx)).body;
  }

  @Post(':deviceId/decommission')
  @HttpCode(201)
  @RequireScope('ledger:write')
  @ApiOperation({ summary: 'Decommission: ends every interval; the device accepts no further change' })
  @ApiAnswers({ status: 201, example: { token: 'lt1.2w' } }, [404, 409, 413])
  async decommission(
    @Param() { deviceId }: DeviceIdParam,
    @Body() body: DecommissionDeviceDto,
    @WriteCtx() ctx: WriteContext,
  ) {
    return (await this.commands.decommissionDevice({ ...body, deviceId }, ctx)).body;
  }

  @Get(':deviceId/access')
  @RequireScope('ledger:read')
  @ApiOperation({ summary: 'Owner and viewers now' })
  @ApiAnswers(
    {
      status: 200,
      example: {
        deviceId: 'cam-7f3a',
        owner: { userId: 'user-alice', since: '2024-02-16T09:00:00.000Z' },
        viewers: [{ userId: 'user-bob', role: 'viewer', since: '2024-02-16T09:10:00.000Z', expiresAt: null }],
        token: 'lt1.2w',
      },
    },
    [404, 503],
  )
  access(@Param() { deviceId }: DeviceIdParam, @Query() query: AtLeastQuery) {
    return this.queries.deviceAccess(deviceId, query.atLeast);
  }
}
