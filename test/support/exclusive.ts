import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testEnvironmentKeys } from './stack-handles';

/** How long a test file waits for another to release a resource: below jest's 120 s hook timeout. */
const WAIT_MS = 100_000;

/**
 * Test files run two at a time against one Temporal server. The few that change something every file
 * shares on it (the platform's Schedules, whose IDs are fixed) take turns through a lock file: one per
 * resource and test server, released at the end or taken over from a holder that has died.
 *
 * @returns the release; call it in `afterAll`.
 */
export async function holdExclusive(resource: string): Promise<() => void> {
  const server = (process.env[testEnvironmentKeys.temporalAddress] ?? 'none').replace(/[^\w.-]/g, '_');
  const file = path.join(os.tmpdir(), `holdfast-test-${resource}-${server}.lock`);
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    // Written whole, then linked into place: the lock never exists without its holder's pid in it.
    const mine = `${file}.${process.pid}`;
    fs.writeFileSync(mine, String(process.pid));
    try {
      fs.linkSync(mine, file);
      return () => fs.rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      fs.rmSync(mine, { force: true });
    }
    const holder = holderOf(file);
    // A dead holder's lock is renamed away first, so that of two waiters only one removes it.
    if (holder !== undefined && !isAlive(holder)) {
      const taken = `${file}.taken-${process.pid}`;
      try {
        fs.renameSync(file, taken);
        if (holderOf(taken) === holder) fs.rmSync(taken, { force: true });
        else fs.renameSync(taken, file);
      } catch {
        // Another waiter took it over first.
      }
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${resource}: still held by another test file after ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The pid in a lock file; undefined when it is gone (just released). */
function holderOf(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
