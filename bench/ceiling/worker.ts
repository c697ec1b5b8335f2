import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createCeilingActivities, type CeilingEvent } from './activities';
import { CEILING_KEY_ENV, CEILING_SALT_ENV, createCeilingDataConverter } from './codec';

/**
 * The engine ceiling's worker, run by bench/ceiling/run.ts as a child process (`node --import tsx`), so its
 * CPU and memory are its own, as the real worker's are. Settings come from the environment the driver sets;
 * events go back over IPC. It stops on SIGTERM or when the driver goes away.
 */

export type CeilingWorkerMessage = CeilingEvent | { kind: 'ready' };

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('bench/ceiling/worker.ts runs as a child of bench/ceiling/run.ts');
  const send = (message: CeilingWorkerMessage) => process.send!(message);
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: ['SIGTERM', 'SIGINT'] });
  const connection = await NativeConnection.connect({ address: required('CEILING_ADDRESS') });
  const maxCached = process.env.CEILING_MAX_CACHED_WORKFLOWS;
  const worker = await Worker.create({
    connection,
    namespace: required('CEILING_NAMESPACE'),
    taskQueue: required('CEILING_TASK_QUEUE'),
    workflowsPath: require.resolve('./workflow'),
    activities: createCeilingActivities(send),
    dataConverter: createCeilingDataConverter(required(CEILING_KEY_ENV), required(CEILING_SALT_ENV)),
    // The real worker's interactive queue concurrency (lib/task-queues.ts defaultQueueCapacity).
    maxConcurrentActivityTaskExecutions: 50,
    ...(maxCached ? { maxCachedWorkflows: Number(maxCached) } : {}),
  });
  process.once('disconnect', () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
  });
  const running = worker.run();
  send({ kind: 'ready' });
  await running;
  await connection.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error('ceiling worker failed:', error);
    process.exit(1);
  },
);
