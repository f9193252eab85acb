import { Metadata, type ServerWritableStream } from '@grpc/grpc-js';
import type { FeedMessage, FeedSink } from '../watch/relationship-feed.service';
import { toGrpcStatus, WatchFeedFailedError } from './grpc-status';

/** Messages as @grpc/proto-loader hands them over (PROTO_LOADER_OPTIONS). */
type Wire = Record<string, unknown>;

/**
 * The watch feed over a gRPC server stream. The call is a Node Writable whose writes complete only once
 * HTTP/2 flow control let the message out, so `writableNeedDrain` and 'drain' are the client's own reading
 * pace: a client that stops reading fills its stream window and then this buffer, and the feed holds back.
 */
export class GrpcFeedSink implements FeedSink {
  private ended = false;

  constructor(private readonly call: ServerWritableStream<Wire, Wire>) {}

  /** Response headers at once, so the client knows the stream was admitted before any change happens. */
  open(): void {
    this.call.sendMetadata(new Metadata());
  }

  write(message: FeedMessage): void {
    if (this.ended) return;
    switch (message.type) {
      case 'change':
        this.call.write({ change: message.data });
        return;
      case 'heartbeat':
        this.call.write({ heartbeat: message.data });
        return;
      case 'overflow':
        this.call.write({ overflow: message.data });
        return;
      case 'error': {
        const { message: text, resumeAfter } = message.data as { message: string; resumeAfter: string };
        // grpc-js ends the call with this status once what was written before it is out.
        this.ended = true;
        this.call.emit('error', toGrpcStatus(new WatchFeedFailedError(text, resumeAfter)).error);
        return;
      }
    }
  }

  get full(): boolean {
    return this.call.writableNeedDrain;
  }

  whenDrained(listener: () => void): void {
    const done = (): void => {
      this.call.off('drain', done);
      this.call.off('cancelled', done);
      this.call.off('close', done);
      listener();
    };
    this.call.on('drain', done);
    this.call.on('cancelled', done);
    this.call.on('close', done);
  }

  /**
   * 'cancelled': the client cancelled, its deadline passed or its connection dropped; 'close': the status was
   * sent after everything before it. A call ended while its client does not read stays open (there is no
   * server-side way to reset one stream in grpc-js) and so keeps its API key's slot until one of the two.
   */
  whenClosed(listener: () => void): void {
    if (this.call.cancelled || this.call.closed) {
      queueMicrotask(listener);
      return;
    }
    const done = (): void => {
      this.call.off('cancelled', done);
      this.call.off('close', done);
      listener();
    };
    this.call.on('cancelled', done);
    this.call.on('close', done);
  }

  /** Status OK after what was written (an `overflow` message says why it ended). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.call.end();
  }
}
