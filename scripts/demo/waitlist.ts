import {
  answer,
  answerLink,
  anything,
  awaitMessage,
  conforming,
  demoTenantId,
  expectAnswer,
  linkToken,
  note,
  poll,
  since,
  stamp,
  step,
  temporalQuery,
  withId,
  withStatus,
  type DemoTokens,
} from './tour';

/** A slot is released; the first in line declines through her link, the next accepts through his. */
export async function waitlistTour({ tenant }: DemoTokens): Promise<void> {
  step('waitlist: create a slot');
  const slot = await expectAnswer(
    { method: 'POST', path: '/api/v1/slots', token: tenant, body: { name: `Dr. Lee, Tuesday 14:30 (${stamp})` } },
    [201],
    withId,
  );
  note(`SLOT=${slot.id}`);

  step('waitlist: two people join');
  const first = `ada.${stamp}@example.test`;
  const second = `grace.${stamp}@example.test`;
  for (const [customerName, email, priority] of [
    ['Ada', first, 5],
    ['Grace', second, 3],
  ] as const) {
    await expectAnswer(
      {
        method: 'POST',
        path: `/api/v1/slots/${slot.id}/waitlist`,
        token: tenant,
        body: { customerName, email, priority },
      },
      [201],
      anything,
    );
  }

  step('waitlist: release the slot; Ada, first in line, gets the offer');
  const released = since();
  await expectAnswer({ method: 'POST', path: `/api/v1/slots/${slot.id}/release`, token: tenant }, [202], anything);
  const firstOffer = await awaitMessage(tenant, released, { to: first });

  step('waitlist: Ada declines through her link');
  const declinedAt = since();
  await answerLink(
    '/api/v1/offers/respond',
    { token: linkToken(firstOffer, '/offers/respond', 'decline'), decision: 'decline' },
    'declined',
  );

  step('waitlist: Grace gets the next offer and accepts');
  const secondOffer = await awaitMessage(tenant, declinedAt, { to: second });
  await answerLink(
    '/api/v1/offers/respond',
    { token: linkToken(secondOffer, '/offers/respond', 'accept'), decision: 'accept' },
    'confirmed',
  );

  step('waitlist: the cascade says CONFIRMED and the slot is ASSIGNED');
  await poll(
    'the cascade did not reach CONFIRMED',
    async (quiet) =>
      conforming(withStatus, await temporalQuery(`waitlist:${demoTenantId}:${slot.id}`, 'getCascadeState', quiet)),
    (state) => state.status === 'CONFIRMED',
  );
  await poll(
    'the slot was not ASSIGNED',
    (quiet) => answer({ path: `/api/v1/slots/${slot.id}`, token: tenant }, withStatus, quiet),
    (row) => row.status === 'ASSIGNED',
  );
}
