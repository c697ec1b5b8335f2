import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testEnvironmentKeys } from './stack-handles';

/**
 * Test files run two at a time against one Temporal server. The few that change something every file
 * shares on it (the platform's Schedules, whose IDs are fixed) take turns through a lock file: one per
 * resource and test server, released at the end or taken over from a holder that has died.
 *
 * @returns the release; call it in `afterAll`.
 */
export async function holdExclusive(resource: string, waitMs = 10 * 60_000): Promise<() => void> {
  const server = (process.env[testEnvironmentKeys.temporalAddress] ?? 'none').replace(/[^\w.-]/g, '_');
  const file = path.join(os.tmpdir(), `holdfast-test-${resource}-${server}.lock`);
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (!isAlive(Number(fs.readFileSync(file, 'utf8')))) {
      fs.rmSync(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${resource}: still held by another test file after ${waitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
