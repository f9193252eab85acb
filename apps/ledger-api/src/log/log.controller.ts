import {
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Post,
  Query,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { IntegrityMonitor, LogTamperedError, NotInTreeError } from '@ledger/log-integrity';
import { RequireScope } from '../auth/api-key.guard';
import { ApiAnswers } from '../http/api-examples';
import { ConsistencyQuery, HeadQuery, InclusionQuery } from './log.dto';

const HEAD_EXAMPLE = {
  treeSize: 1024,
  rootHash: '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
  timestamp: '2024-02-16T10:00:00.000Z',
  keyId: 'ed25519:3f1c0b9a7d2e4f61',
  signature: 'base64 Ed25519 over {"format":"ledger-tree-head/1","rootHash":…,"timestamp":…,"treeSize":…}',
};

/** Signed tree heads and RFC 9162 proofs over the log; hashes are lowercase hex, paths in RFC order. */
@ApiTags('log')
@ApiBearerAuth()
@Controller('v1/log')
export class LogController {
  constructor(private readonly monitor: IntegrityMonitor) {}

  @Get('head')
  @RequireScope('audit:export')
  @ApiOperation({ summary: 'The latest signed tree head, or the one of ?treeSize=' })
  @ApiAnswers({ status: 200, example: HEAD_EXAMPLE }, [400, 404, 503])
  head(@Query() query: HeadQuery) {
    return this.answer(() => {
      const size = query.treeSize === undefined ? undefined : Number(query.treeSize);
      const head = this.monitor.head(size);
      if (head) return head;
      throw new NotInTreeError(
        size === undefined
          ? 'no signed tree head yet: POST /v1/log/heads signs one'
          : `no head was signed at tree size ${size}`,
      );
    });
  }

  @Post('heads')
  @HttpCode(201)
  @RequireScope('audit:export')
  @ApiOperation({
    summary: 'Sign a head now, over everything acknowledged so far, and append it to ledger-heads',
  })
  @ApiAnswers({ status: 201, example: HEAD_EXAMPLE }, [503])
  signHead() {
    return this.answer(() => this.monitor.signHead());
  }

  @Get('proofs/inclusion')
  @RequireScope('audit:export')
  @ApiOperation({ summary: 'Audit path of an event in a signed tree (RFC 9162 §2.1.3)' })
  @ApiAnswers(
    {
      status: 200,
      example: { leafIndex: 7, treeSize: 1024, leafHash: '…64 hex…', auditPath: ['…64 hex…'] },
    },
    [400, 404, 503],
  )
  inclusion(@Query() query: InclusionQuery) {
    return this.answer(() =>
      this.monitor.inclusionProof(
        query.eventId,
        query.treeSize === undefined ? undefined : Number(query.treeSize),
      ),
    );
  }

  @Get('proofs/consistency')
  @RequireScope('audit:export')
  @ApiOperation({
    summary: 'Proof that the tree of size from is a prefix of the tree of size to (RFC 9162 §2.1.4)',
  })
  @ApiAnswers({ status: 200, example: { fromSize: 512, toSize: 1024, proof: ['…64 hex…'] } }, [400, 404, 503])
  consistency(@Query() query: ConsistencyQuery) {
    return this.answer(() =>
      this.monitor.consistencyProof(
        Number(query.from),
        query.to === undefined ? undefined : Number(query.to),
      ),
    );
  }

  /** The tree's own errors as HTTP: unknown sizes and events are 404, a tampered log 503 with the reason. */
  private async answer<T>(work: () => T | Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof NotInTreeError) throw new NotFoundException(error.message);
      if (error instanceof LogTamperedError) throw new ServiceUnavailableException(error.message);
      throw error;
    }
  }
}
