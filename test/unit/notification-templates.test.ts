import { ApplicationFailure } from '@temporalio/common';
import { renderSources, templateProblem } from '../../activities/templates';
import { parseDelayMs } from '../../domain/notification-delay';
import type { NotificationTemplate } from '../../domain/notifications';
import { defaultSources, templateKinds } from '../../domain/templates/sources';
import { FailureType } from '../../workflows/errors';
import { renderNotification } from '../support/legacy-messages';

/** The data variations each flow template's message depends on, beside its sample. */
const variations: Record<string, object[]> = {
  'waitlist.offer': [{ startsAt: null }],
  'waitlist.confirmation': [{ startsAt: '2026-12-24T09:00:00.000Z' }],
  'onboarding.unsuccessful': [
    { failedStep: null, compensations: [] },
    {
      outcome: 'rejected',
      compensations: [
        { step: 'createTenant', status: 'done', error: null },
        { step: 'createCustomer', status: 'failed', error: null },
        { step: 'createSubscription', status: 'failed', error: 'timeout' },
      ],
    },
    { outcome: 'cancelled' },
  ],
  'order.delivery-update': [{ status: 'DISPATCHED', dueDate: null }],
  'payment.reminder': [{ kind: 'DUE_SOON' }, { kind: 'FINAL_NOTICE' }],
};

const flowTemplates = [...templateKinds.values()].filter((kind) =>
  ['waitlist.', 'tenant.', 'onboarding.', 'order.', 'payment.'].some((prefix) => kind.name.startsWith(prefix)),
);

describe('notification templates', () => {
  it.each(flowTemplates.map((kind) => [kind.name, kind] as const))(
    "the shipped Liquid default of %s renders exactly the flow's message, on email and SMS",
    (name, kind) => {
      for (const extra of [{}, ...(variations[name] ?? [])]) {
        for (const channel of ['EMAIL', 'SMS', 'WHATSAPP'] as const) {
          const data = { ...kind.sample, ...extra };
          const legacy = renderNotification(channel, { name, data } as NotificationTemplate);
          const rendered = renderSources(defaultSources(name, channel)!, data);
          expect({ subject: rendered.subject, text: rendered.text }).toEqual(legacy);
          expect(rendered.html).toBeNull();
        }
      }
    },
  );

  it('every shipped template renders its sample data in strict mode, on every channel', () => {
    for (const kind of templateKinds.values()) {
      for (const channel of ['EMAIL', 'SMS', 'WHATSAPP'] as const) {
        expect(() => renderSources(defaultSources(kind.name, channel)!, kind.sample)).not.toThrow();
      }
    }
  });

  it('HTML output escapes every value; text output leaves it as it is', () => {
    const data = { subject: 'Hi', body: '<script>alert("x")</script> & more' };
    const rendered = renderSources(defaultSources('generic.message', 'EMAIL')!, data);

    expect(rendered.html).toContain('&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more');
    expect(rendered.html).not.toContain('<script>');
    expect(rendered.text).toBe('<script>alert("x")</script> & more');
  });

  it.each([
    ['generic.message', { subject: 'Hi', body: 'Line one\n<i>two</i> & three' }],
    [
      'ticket.update',
      {
        tenantName: 'N',
        recipientName: 'Ada',
        ticketRef: 'T-1',
        status: 'quoted',
        message: 'Line one\n<i>two</i> & three',
      },
    ],
  ])('%s HTML turns line breaks into <br /> and still escapes the text around them', (name, data) => {
    const rendered = renderSources(defaultSources(name, 'EMAIL')!, data);

    expect(rendered.html).toContain('<p>Line one<br />\n&lt;i&gt;two&lt;/i&gt; &amp; three</p>');
    expect(rendered.html).not.toContain('<i>');
    expect(rendered.html).not.toContain('&lt;br');
  });

  it('an unknown variable, an unknown filter or a syntax error is a non-retryable TemplateInvalid', () => {
    for (const text of ['{{ nope }}', '{{ body | shout }}', '{% if body %}unclosed']) {
      const failure = (() => {
        try {
          renderSources({ subject: null, text, html: null }, { body: 'x' });
          return undefined;
        } catch (error) {
          return error;
        }
      })();
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure).toMatchObject({ type: FailureType.TemplateInvalid, nonRetryable: true });
    }
  });

  it('a template cannot read files: include and render find nothing', () => {
    expect(templateProblem("{% include '/etc/passwd' %}", 'text', {})).toMatch(/passwd/);
    expect(templateProblem("{% render 'package.json' %}", 'text', {})).toMatch(/package\.json/);
  });

  it("a tenant's template is checked against its kind's variables when saved", () => {
    const sample = templateKinds.get('ticket.update')!.sample;
    expect(templateProblem('Ticket {{ ticketRef }}', 'subject', sample)).toBeUndefined();
    expect(templateProblem('Ticket {{ ticketNumber }}', 'subject', sample)).toMatch(/undefined variable: ticketNumber/);
  });
});

describe('notification delays', () => {
  it.each([
    ['24h', 86_400_000],
    ['30 minutes', 1_800_000],
    ['PT24H', 86_400_000],
    ['P1D', 86_400_000],
    ['P1W', 604_800_000],
    ['PT1M30S', 90_000],
    [5000, 5000],
    ['5000', 5000],
  ] as const)('%s is %d ms', (delay, ms) => {
    expect(parseDelayMs(delay)).toBe(ms);
  });

  it.each(['P', 'PT', '-5m', 'tomorrow', -1, 1.5])('%s is not a delay', (delay) => {
    expect(parseDelayMs(delay)).toBeUndefined();
  });
});
