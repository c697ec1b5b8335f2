import type { DataConverter, PayloadCodec } from '@temporalio/common';

/**
 * The single data converter used by the API's client, the workers and the tests.
 *
 * Payloads are plain JSON today. An encryption codec (and the codec server that lets the
 * Web UI decode it) is added here, in `payloadCodecs`, and every process picks it up.
 */
export function createDataConverter(payloadCodecs: PayloadCodec[] = []): DataConverter {
  return { payloadCodecs };
}
