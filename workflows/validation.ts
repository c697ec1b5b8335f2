import { ApplicationFailure } from '@temporalio/workflow';
import { isStorableText } from '../domain/input-rules';
import { FlowRejection } from './errors';

/**
 * Refuses an Update (INVALID_INPUT) unless each of `required` is text the database can store, and
 * each of `optional` is absent or such text. Update validators call it, so a value no activity
 * could ever write is turned away before anything reaches the workflow's history, whoever sends
 * it. The message names the field, never its value.
 */
export function requireStorableText(required: Record<string, unknown>, optional: Record<string, unknown> = {}): void {
  const fields = [
    ...Object.entries(required),
    ...Object.entries(optional).filter(([, value]) => value !== undefined && value !== null),
  ];
  for (const [field, value] of fields) {
    if (typeof value !== 'string' || !isStorableText(value)) {
      throw ApplicationFailure.create({
        type: FlowRejection.InvalidInput,
        message: `${field} must be text without NUL characters or unpaired surrogates`,
        nonRetryable: true,
        details: [{ field }],
      });
    }
  }
}

/** Whether a signal's text field can be recorded; signals cannot be refused, so handlers drop what fails this. */
export const isStorableString = (value: unknown): value is string => typeof value === 'string' && isStorableText(value);
