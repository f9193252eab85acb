// Entry point of the view batch worker thread: builds `POST /v1/views/batch` bodies off the event loop.
import { parentPort } from 'node:worker_threads';
import { serveViewBatches } from './view-batch-thread';

if (parentPort !== null) serveViewBatches(parentPort);
