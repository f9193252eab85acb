// Entry point of an audit worker thread: one replay, export or rebuild on a store handle of its own.
import { parentPort, workerData } from 'node:worker_threads';
import { serveAuditJob, type AuditWorkerData } from './audit-worker-job';

if (parentPort !== null) void serveAuditJob(parentPort, workerData as AuditWorkerData);
