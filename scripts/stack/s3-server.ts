import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, isListening } from './ports';

/**
 * A local S3-compatible server for tests and development: moto's server mode (PyPI `moto[server]`),
 * installed once into a virtual environment outside the clone (~/.cache/holdfast/s3, or
 * HOLDFAST_S3_CACHE), and started on a free loopback port. Needs Python 3 with venv and pip.
 *
 *   npx tsx scripts/stack/s3-server.ts   # installs if needed, starts, prints the endpoint; Ctrl-C stops it
 */

/** The moto release the stack is tested with. */
const MOTO_REQUIREMENT = 'moto[server]>=5.1,<6';

export const s3Credentials = { accessKeyId: 'test', secretAccessKey: 'test', region: 'us-east-1' } as const;

function cacheDir(): string {
  return process.env.HOLDFAST_S3_CACHE ?? path.join(os.homedir(), '.cache', 'holdfast', 's3');
}

/** The moto_server executable, installing it into the cache's virtual environment first if needed. */
export function ensureMotoServer(): string {
  const dir = cacheDir();
  const venv = path.join(dir, 'venv');
  const server = path.join(venv, 'bin', 'moto_server');
  if (fs.existsSync(server)) return server;
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(path.join(venv, 'bin', 'pip'), ['install', '--quiet', MOTO_REQUIREMENT], { stdio: 'inherit' });
  return server;
}

export interface S3ServerHandle {
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts moto on a free loopback port and resolves once it accepts connections. */
export async function startS3Server(): Promise<S3ServerHandle> {
  const executable = ensureMotoServer();
  const port = await freePort();
  const child: ChildProcess = spawn(executable, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  while (!(await isListening(port))) {
    if (gone) throw new Error(`moto_server exited before listening:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      if (!gone) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

if (require.main === module) {
  startS3Server().then(
    (server) => {
      console.log(`S3-compatible server (moto) at ${server.endpoint}`);
      console.log(
        `FILE_STORE=s3 S3_ENDPOINT=${server.endpoint} S3_BUCKET=<create it first> S3_ACCESS_KEY_ID=test S3_SECRET_ACCESS_KEY=test`,
      );
      const stop = () => void server.stop().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
