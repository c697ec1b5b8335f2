import express, { Router } from 'express';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { z } from 'zod';
import { AppError, conflict } from './errors';
import { isFormPost, page, postButton } from './pages';
import { parse } from './validation';

/** What a page says: its title and one line of text. */
export interface PageText {
  title: string;
  message: string;
}

/** The fields every answer through a link carries; a flow may add its own (a vendor's reason). */
export interface LinkAnswer {
  token: string;
  decision: string;
}

/**
 * One flow's offer links: how a token finds its row, how the row tells whether the offer is still
 * open, how an answer reaches the workflow, and what the pages say.
 */
export interface TokenLinkConfig<
  Row,
  Answer extends LinkAnswer,
  Result extends { status: string },
  State extends string = string,
> {
  /** The route both the GET page and the POST answer live on, e.g. `/offers/respond`. */
  path: string;
  /** The POST body (JSON or form). */
  answerSchema: z.ZodType<Answer>;
  /** The link's query string: the token and the decision the link was sent for. */
  linkSchema: z.ZodType<{ token: string; decision: string }>;
  /** The offer a token names; throws an AppError (400 for a forged token, 404 for an unknown offer). */
  offerFor(rawToken: string): Promise<Row>;
  /** The offer's stored state, e.g. a hold's status. */
  stateOf(row: Row): State;
  /** The offer's state as stored now (null once the row is gone), read again when the workflow refused or had closed. */
  currentState(row: Row): Promise<State | null>;
  /** The state in which the offer still takes an answer. */
  openState: State;
  /** Why an offer in a settled state can no longer take an answer: a rejection code. */
  rejectionFor(state: Exclude<State, this['openState']>): string;
  /** The code answered when the workflow has closed and the row still shows the offer open. */
  closedRejection: string;
  /** The text of each rejection code, shown in JSON and on pages. */
  rejectionMessages: Readonly<Record<string, string>>;
  /** Sends the answer to the workflow (an Update) and returns its result. */
  answer(row: Row, answer: Answer): Promise<Result>;
  pages: {
    /** The page a link opens: its title, its greeting and the button's label. */
    offer(row: Row, decision: string): PageText & { button: string };
    /** The title of the page that says the offer is closed. */
    closedTitle(row: Row): string;
    /** What a form post is answered with once the answer is taken (202 when `pending`). */
    answered(result: Result, answer: Answer): PageText;
  };
}

/** Where the API is mounted: the pages' buttons post back to it. */
const API_PREFIX = '/api/v1';

/**
 * A router for answering an offer through the signed link in a message, authenticated by the
 * token instead of a JWT (mount it outside the authenticated router).
 *
 * - `GET {path}?token&decision`: the page a link opens. It changes nothing (mail scanners
 *   prefetch links), and shows a button that POSTs the answer.
 * - `POST {path}`, JSON (answered in JSON) or a form post from that page (answered with a page).
 *   200 with the workflow's result; 202 when its status is `pending` (the workflow took the
 *   answer but could not record it in time, e.g. a database outage). No `Location`: the person
 *   has no way in but the link they already hold, and a URL carrying the token is not handed out
 *   again. 409 with the flow's rejection code when the offer is closed; 400 INVALID_TOKEN; 404 for
 *   a genuine token whose offer no longer exists.
 *
 * Once the workflow has moved on (or closed), the stored row is the last word on the offer, so a
 * refused or unroutable Update is answered from the row.
 */
export function createTokenLinkRouter<
  Row,
  Answer extends LinkAnswer,
  Result extends { status: string },
  State extends string = string,
>(config: TokenLinkConfig<Row, Answer, Result, State>): Router {
  const router = Router();
  const rejected = (code: string) => conflict(code, config.rejectionMessages[code] ?? code);
  const rejectionIn = (state: State | null): string | undefined =>
    state === null || state === config.openState
      ? undefined
      : config.rejectionFor(state as Exclude<State, typeof config.openState>);

  async function respond(answer: Answer): Promise<Result> {
    const row = await config.offerFor(answer.token);
    const settled = rejectionIn(config.stateOf(row));
    if (settled) throw rejected(settled);
    try {
      return await config.answer(row, answer);
    } catch (error) {
      if (!(error instanceof WorkflowUpdateFailedError || error instanceof WorkflowNotFoundError)) throw error;
      const now = rejectionIn(await config.currentState(row));
      if (now) throw rejected(now);
      if (error instanceof WorkflowNotFoundError) throw rejected(config.closedRejection);
      throw error;
    }
  }

  const statusOf = (result: Result) => (result.status === 'pending' ? 202 : 200);

  router.get(config.path, async (req, res) => {
    const query = config.linkSchema.safeParse(req.query);
    if (!query.success) return page(res, 400, 'This link is incomplete', 'Open the link from your message again.');
    let row: Row;
    try {
      row = await config.offerFor(query.data.token);
    } catch (error) {
      if (error instanceof AppError) return page(res, error.status, 'This offer cannot be found', error.message);
      throw error;
    }
    const settled = rejectionIn(config.stateOf(row));
    if (settled) return page(res, 409, config.pages.closedTitle(row), config.rejectionMessages[settled] ?? settled);
    const offer = config.pages.offer(row, query.data.decision);
    const fields = { token: query.data.token, decision: query.data.decision };
    page(res, 200, offer.title, offer.message, postButton(`${API_PREFIX}${config.path}`, fields, offer.button));
  });

  router.post(config.path, express.urlencoded({ extended: false, limit: '8kb' }), async (req, res) => {
    if (!isFormPost(req)) {
      const result = await respond(parse(config.answerSchema, req.body));
      res.status(statusOf(result)).json(result);
      return;
    }
    const body = config.answerSchema.safeParse(req.body);
    if (!body.success) return page(res, 400, 'This answer is incomplete', 'Open the link from your message again.');
    try {
      const result = await respond(body.data);
      const answered = config.pages.answered(result, body.data);
      page(res, statusOf(result), answered.title, answered.message);
    } catch (error) {
      if (error instanceof AppError) return page(res, error.status, 'Your answer could not be taken', error.message);
      throw error;
    }
  });

  return router;
}
