import { spawn } from 'node:child_process';
import { readTemporalBinaries } from './stack/temporal-binaries';

/**
 * `npm run temporal -- <args>`: the pinned Temporal CLI that `npm run dev` provisions, pointed at the dev
 * stack (TEMPORAL_ADDRESS, else 127.0.0.1:7233; TEMPORAL_NAMESPACE, else default). Every argument is passed
 * through, so `npm run temporal -- workflow list` is `temporal workflow list` against the running stack.
 */
function main(): void {
  let cliPath: string | undefined;
  try {
    cliPath = readTemporalBinaries().cliPath;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
  if (!cliPath) {
    process.stderr.write(
      'No Temporal CLI is provisioned: run `npm run temporal:provision`, or set TEMPORAL_CLI_PATH.\n',
    );
    process.exit(1);
  }
  // The CLI reads these variables itself; explicit --address / --namespace flags still win.
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS || `127.0.0.1:${process.env.DEV_TEMPORAL_PORT ?? 7233}`,
    TEMPORAL_NAMESPACE: process.env.TEMPORAL_NAMESPACE || 'default',
  };
  const child = spawn(cliPath, process.argv.slice(2), { stdio: 'inherit', env });
  // Ctrl-C reaches the CLI through the terminal's process group; this process only waits for it.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => undefined);
  child.on('error', (error) => {
    process.stderr.write(`Cannot run ${cliPath}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}

main();
