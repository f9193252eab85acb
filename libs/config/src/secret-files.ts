import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Reads a secret kept in the data dir, creating it once with `create()` if absent. Written to a temp file with
 * mode 0600 and renamed, so a crash never leaves a half-written or world-readable secret.
 */
export function readOrCreateSecretFile(
  dataDir: string,
  fileName: string,
  create: () => string,
): {
  content: string;
  created: boolean;
} {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, fileName);
  try {
    const content = fs.readFileSync(file, 'utf8');
    const mode = fs.statSync(file).mode & 0o777;
    if (mode & 0o077) fs.chmodSync(file, 0o600);
    return { content, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const content = create();
  const temp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(temp, 'wx', 0o600);
  try {
    fs.writeFileSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    // Another process may have won the race; keep whichever landed first.
    fs.linkSync(temp, file);
    return { content, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { content: fs.readFileSync(file, 'utf8'), created: false };
  } finally {
    fs.unlinkSync(temp);
  }
}
