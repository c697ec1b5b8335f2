import type { TestStackHandles } from './stack-handles';

export default async function globalTeardown(): Promise<void> {
  const handles = (globalThis as { __holdfastStack?: TestStackHandles }).__holdfastStack;
  for (const stop of (handles?.stops ?? []).reverse()) {
    await stop().catch((error: unknown) => console.error('teardown step failed:', error));
  }
}
