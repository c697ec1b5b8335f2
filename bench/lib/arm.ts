import type { PrismaClient } from '../../lib/db';
import type { AppEntry } from './production-build';
import type { MeasuredStore } from './store-activity';

/**
 * What the bench and the fault battery need of a running system under test, whatever runs it:
 * Holdfast on the Temporal dev server (T-dev) or on the production-shaped cluster (T-cluster), or
 * the BullMQ build of the seeds' waitlist design (B-poll, B-delay).
 *
 * Every arm shares one contract, so the harness drives and measures them alike:
 * - the same PostgreSQL schema (prisma/schema.prisma): slots, waitlist entries, holds and
 *   notifications are read from the same tables;
 * - the same HTTP routes: `POST {apiUrl}/api/v1/slots/:slotId/release` with
 *   `authorization: Bearer {operatorToken}` starts a cascade (2xx), and
 *   `POST {apiUrl}/api/v1/offers/respond` `{ token, decision: 'accept' | 'decline' }` answers an offer;
 * - the same offer message, sent by SMTP to the arm's catcher: its text carries the links
 *   `…/api/v1/offers/respond?token=…&decision=accept|decline` (domain/notifications.ts).
 */

export type ArmName = 'T-dev' | 'T-cluster' | 'B-poll' | 'B-delay';

/** Every arm, in the order the bench runs and prints them. */
export const armNames: readonly ArmName[] = ['T-dev', 'T-cluster', 'B-poll', 'B-delay'];

/** A process (tree) the bench samples for CPU-seconds and peak RSS. */
export interface MeasuredProcess {
  /** worker, api, temporal, temporal-history-1, postgres, redis… */
  role: string;
  /** The root PIDs now; a restarted process gets a new one. Children (PostgreSQL backends) count too. */
  pids(): number[];
}

/** One SMTP message the catcher took. */
export interface CaughtMessage {
  to: string;
  subject: string;
  text: string;
  /** Offer response token from the message's links, when it has one. */
  offerToken?: string;
  receivedAt: number;
}

export interface MessageCatcher {
  /** smtp://127.0.0.1:<port> */
  url: string;
  messages(): readonly CaughtMessage[];
  /** Called for every message as it arrives. */
  onMessage(listener: (message: CaughtMessage) => void): () => void;
  stop(): Promise<void>;
}

export interface RunningArm {
  arm: ArmName;
  apiUrl: string;
  /** An operator token of {@link tenantId}, for the release route. */
  operatorToken: string;
  tenantId: string;
  /** Client of the arm's application database. */
  prisma: PrismaClient;
  catcher: MessageCatcher;
  processes(): MeasuredProcess[];
  /** Holdfast's arms: the Temporal frontend the worker polls, where the engine ceiling is measured. */
  engine?: { address: string; namespace: string };
  /** The PostgreSQL instances whose writes per step the bench reports. */
  stores(): MeasuredStore[];
  /** Stops everything the arm started, in order. */
  stop(): Promise<void>;
}

export interface ArmOptions {
  /** Where the arm keeps its state and logs (a fresh directory per arm and round). */
  dataDir: string;
  /** Extra environment for the application's processes (e.g. WORKER_* settings, --cpu-prof). */
  env?: NodeJS.ProcessEnv;
  /**
   * Holdfast's arms: run the worker and the API from dist/ (built first by buildProductionApp, as the
   * image runs them) or from the TypeScript sources through tsx (the default, as `npm run dev` does).
   */
  entry?: AppEntry;
}
