import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Failures carry their message and stack trace in an encoded attributes payload instead of in clear,
 * so the payload codec (lib/data-converter.ts) encrypts them with the rest. A module of its own: the
 * worker loads it by path, into its workflow bundle too (`failureConverterPath`).
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
