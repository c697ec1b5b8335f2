import type { Logger } from '../../../lib/logger';
import type { WorkflowRouterDeps } from '../../router-deps';

/** What the operations services use: the workflow deps every router gets, and where the Web UI is. */
export interface OperationsDeps extends WorkflowRouterDeps {
  /** TEMPORAL_UI_URL without a trailing slash: answers link each flow there. */
  uiUrl: string;
  /**
   * Signs list page tokens, so a token the API did not answer for the same query is refused
   * before it reaches Temporal (which retries a token it cannot parse, then fails). Without it,
   * tokens are signed with a key of this process's own, good only for pages it answered.
   */
  pageTokenSecret?: string;
  /** For actions on the platform's own flows, which have no tenant to hold an audit row. */
  logger?: Logger;
}

/** Who acts, for audit rows (Temporal records only `holdfast-operations`). */
export interface OperationsActor {
  actor: string;
}
