import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, type WorkerOptions } from '@temporalio/worker';
import { failureConverterPath } from '../lib/data-converter';

/**
 * The workflow code a worker runs: bundled once at build time, or at every start.
 *
 * Bundling (webpack + swc) costs a worker several seconds and a couple of CPU-seconds at each
 * start (docs/performance.md), which every restart (a deploy, a crash, a scale-out) pays again. A
 * bundle built ahead (`npm run build:workflows`, the path in WORKFLOW_BUNDLE_PATH) is loaded as it
 * is. Without one, the worker bundles `workflows/` itself, so that development always runs the
 * code on disk.
 */

/** What goes into the bundle besides the workflows: the same as a worker bundling by itself adds. */
const bundleOptions = {
  workflowsPath: require.resolve('../workflows'),
  // The worker's data converter names it (lib/data-converter.ts); a prebuilt bundle must carry it.
  failureConverterPath,
};

const ignore = () => undefined;
const quiet = { log: ignore, trace: ignore, debug: ignore, info: ignore };

/** The worker option that gives it its workflow code. */
export function workflowCodeOption(
  bundlePath: string | undefined,
): Pick<WorkerOptions, 'workflowsPath' | 'workflowBundle'> {
  return bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath: bundleOptions.workflowsPath };
}

/** Bundles the workflow code into `file` (with its source map inline). */
export async function writeWorkflowBundle(file: string): Promise<number> {
  const { code } = await bundleWorkflowCode({
    ...bundleOptions,
    // webpack's summary is long and says nothing when the build succeeds; warnings and errors still show.
    logger: { ...quiet, warn: console.warn, error: console.error },
  });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
  return code.length;
}

// `npm run build:workflows [-- <file>]`: dist/workflow-bundle.js by default.
if (require.main === module) {
  const file = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'dist', 'workflow-bundle.js'));
  writeWorkflowBundle(file).then(
    (bytes) => process.stdout.write(`wrote ${file} (${(bytes / 2 ** 20).toFixed(1)} MiB)\n`),
    (error: unknown) => {
      process.stderr.write(`bundling the workflow code failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
