import { failureConverterPath } from '../../lib/data-converter';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundle } from '@temporalio/worker';
import { WorkflowUpdateStage, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { eventually } from '../support/eventually';
import {
  answerUpdate,
  extendUpdate,
  offerTestStateQuery,
  offerTestWorkflow,
  settleSignal,
  type OfferTestInput,
  type OfferTestState,
} from '../support/offer-workflow';
import { createTimeSkippingEnvironment } from '../support/stack';
import { rejectionOf } from '../support/workflow-handles';

type OfferHandle = WorkflowHandleWithFirstExecutionRunId<typeof offerTestWorkflow>;

/**
 * The offer with a movable deadline that the waitlist and order flows run on, driven by a tiny
 * workflow (test/support/offer-workflow.ts) on the time-skipping server.
 */
describe('an offer with a movable deadline (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundle;

  beforeAll(async () => {
    [env, bundle] = await Promise.all([
      createTimeSkippingEnvironment(),
      bundleWorkflowCode({
        workflowsPath: path.resolve(__dirname, '../support/offer-workflow.ts'),
        failureConverterPath,
        logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
      }),
    ]);
  });

  afterAll(async () => {
    await env?.teardown();
  });

  async function withOffers<T>(input: OfferTestInput, body: (handle: OfferHandle) => Promise<T>): Promise<T> {
    const taskQueue = `offer-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      dataConverter: env.client.options.dataConverter,
    });
    return worker.runUntil(async () => {
      const handle = await env.client.workflow.start(offerTestWorkflow, {
        taskQueue,
        workflowId: `offer-test-${randomUUID()}`,
        args: [input],
      });
      return body(handle);
    });
  }

  const stateOf = (handle: OfferHandle) => handle.query(offerTestStateQuery);
  const openOffer = (handle: OfferHandle, offerId: string): Promise<OfferTestState> =>
    eventually(async () => {
      const state = await stateOf(handle);
      return state.offerId === offerId && !state.closed && state;
    });

  it('an answer before the deadline settles the offer, and the Update returns its outcome', async () => {
    await withOffers({ offers: [{ id: 'a', tokenHash: 'hash-a', minutes: 15 }] }, async (handle) => {
      await openOffer(handle, 'a');
      await env.sleep('10 minutes');

      await expect(handle.executeUpdate(answerUpdate, { args: ['yes', 'hash-a'] })).resolves.toEqual({
        outcome: 'ACCEPTED',
      });
      expect((await handle.result()).outcomes).toEqual({ a: 'ACCEPTED' });
    });
  });

  it('with no answer by the deadline the offer expires, and a late answer is refused as expired', async () => {
    await withOffers(
      { offers: [{ id: 'a', tokenHash: 'hash-a', minutes: 15 }], settleOnSignal: true },
      async (handle) => {
        await openOffer(handle, 'a');
        await env.sleep('16 minutes');
        await eventually(async () => (await stateOf(handle)).closed);

        expect(await rejectionOf(handle.executeUpdate(answerUpdate, { args: ['yes', 'hash-a'] }))).toBe('EXPIRED');
        await handle.signal(settleSignal);
        expect((await handle.result()).outcomes).toEqual({ a: 'EXPIRED' });
      },
    );
  });

  it('a second answer to an answered offer is refused as already answered, and the first decides the offer', async () => {
    await withOffers(
      { offers: [{ id: 'a', tokenHash: 'hash-a', minutes: 15 }], settleOnSignal: true },
      async (handle) => {
        await openOffer(handle, 'a');
        const first = handle.executeUpdate(answerUpdate, { args: ['no', 'hash-a'] });
        await eventually(async () => (await stateOf(handle)).closed);

        expect(await rejectionOf(handle.executeUpdate(answerUpdate, { args: ['yes', 'hash-a'] }))).toBe(
          'ALREADY_ANSWERED',
        );
        await handle.signal(settleSignal);
        await expect(first).resolves.toEqual({ outcome: 'DECLINED' });
        expect((await handle.result()).outcomes).toEqual({ a: 'DECLINED' });
      },
    );
  });

  it('an extension moves the deadline, so an answer after the old deadline but before the new one is taken', async () => {
    await withOffers({ offers: [{ id: 'a', tokenHash: 'hash-a', minutes: 15 }] }, async (handle) => {
      const { deadline } = await openOffer(handle, 'a');
      const moved = await handle.executeUpdate(extendUpdate, { args: [30] });
      expect(Date.parse(moved) - Date.parse(deadline!)).toBe(30 * 60_000);

      await env.sleep('20 minutes');
      expect((await stateOf(handle)).answerable).toBe(true);
      await expect(handle.executeUpdate(answerUpdate, { args: ['yes', 'hash-a'] })).resolves.toEqual({
        outcome: 'ACCEPTED',
      });
    });
  });

  it('an extension racing an answer: both are taken, the answer decides, and a later extension is refused', async () => {
    await withOffers(
      { offers: [{ id: 'a', tokenHash: 'hash-a', minutes: 15 }], settleOnSignal: true },
      async (handle) => {
        await openOffer(handle, 'a');
        const [extended, answer] = await Promise.allSettled([
          handle.executeUpdate(extendUpdate, { args: [10] }),
          handle.startUpdate(answerUpdate, { args: ['no', 'hash-a'], waitForStage: WorkflowUpdateStage.ACCEPTED }),
        ]);
        // The extension may come after the answer, and is then refused: nothing is open to extend.
        if (extended.status === 'rejected') {
          expect(await rejectionOf(Promise.reject(extended.reason as Error))).toBe('NO_OPEN_OFFER');
        }
        expect(answer.status).toBe('fulfilled');
        expect(await rejectionOf(handle.executeUpdate(extendUpdate, { args: [10] }))).toBe('NO_OPEN_OFFER');

        await handle.signal(settleSignal);
        await expect(
          (answer as PromiseFulfilledResult<{ result(): Promise<unknown> }>).value.result(),
        ).resolves.toEqual({
          outcome: 'DECLINED',
        });
        expect((await handle.result()).outcomes).toEqual({ a: 'DECLINED' });
      },
    );
  });

  it('an answer with a superseded token is refused once the next offer is open, and the open offer is unaffected', async () => {
    await withOffers(
      {
        offers: [
          { id: 'a', tokenHash: 'hash-a', minutes: 15 },
          { id: 'b', tokenHash: 'hash-b', minutes: 15 },
        ],
      },
      async (handle) => {
        await openOffer(handle, 'a');
        await env.sleep('16 minutes');
        await openOffer(handle, 'b');

        expect(await rejectionOf(handle.executeUpdate(answerUpdate, { args: ['yes', 'hash-a'] }))).toBe('SUPERSEDED');
        await expect(handle.executeUpdate(answerUpdate, { args: ['yes', 'hash-b'] })).resolves.toEqual({
          outcome: 'ACCEPTED',
        });
        expect((await handle.result()).outcomes).toEqual({ a: 'EXPIRED', b: 'ACCEPTED' });
      },
    );
  });

  it('an answer the flow takes longer than the bound to settle is answered pending, and still decides the offer', async () => {
    await withOffers(
      { offers: [{ id: 'a', tokenHash: 'hash-a', minutes: 15 }], settleOnSignal: true },
      async (handle) => {
        await openOffer(handle, 'a');
        const answer = await handle.startUpdate(answerUpdate, {
          args: ['yes', 'hash-a'],
          waitForStage: WorkflowUpdateStage.ACCEPTED,
        });
        await env.sleep('31 seconds');

        await expect(answer.result()).resolves.toEqual({ status: 'pending' });
        await handle.signal(settleSignal);
        expect((await handle.result()).outcomes).toEqual({ a: 'ACCEPTED' });
      },
    );
  });
});
