import { eventRequestHash, isEventType, isHoldfastEventType } from '../../domain/events';
import {
  conditionMatches,
  isDataPath,
  ruleMatches,
  ruleSendAt,
  storedCondition,
  valueAtPath,
} from '../../domain/notification-rules';

const data = {
  priority: 'high',
  amount: 0,
  flagged: false,
  note: null,
  customer: { email: 'ada@example.test', tags: ['vip', 'north'] },
  items: [{ sku: 'A-1' }, { sku: 'B-2' }],
};

describe('event types', () => {
  it('takes lowercase dot-separated segments and refuses anything else', () => {
    expect(['ticket.created', 'invoice.payment_failed', 'a.b.c2'].filter(isEventType)).toHaveLength(3);
    expect(
      ['ticket', 'Ticket.created', 'ticket.', '.created', 'ticket..created', 'ticket created', 'x'.repeat(101)].filter(
        isEventType,
      ),
    ).toEqual([]);
  });

  it("knows Holdfast's own types, which tenants cannot report", () => {
    expect(isHoldfastEventType('order.assigned')).toBe(true);
    expect(isHoldfastEventType('ticket.created')).toBe(false);
    expect(isHoldfastEventType('constructor')).toBe(false);
  });
});

describe('event request hash', () => {
  const report = { type: 'ticket.created', subject: { type: 'ticket', id: 'T-1' }, data: { a: 1, b: { c: [1, 2] } } };

  it('is the same for the same content whatever the order of its keys', () => {
    expect(eventRequestHash(report)).toBe(
      eventRequestHash({
        data: { b: { c: [1, 2] }, a: 1 },
        subject: { id: 'T-1', type: 'ticket' },
        type: 'ticket.created',
      }),
    );
  });

  it('differs when the type, subject, data or a named occurrence time differs', () => {
    const base = eventRequestHash(report);
    expect(eventRequestHash({ ...report, type: 'ticket.updated' })).not.toBe(base);
    expect(eventRequestHash({ ...report, subject: { type: 'ticket', id: 'T-2' } })).not.toBe(base);
    expect(eventRequestHash({ ...report, data: { a: 1, b: { c: [2, 1] } } })).not.toBe(base);
    expect(eventRequestHash({ ...report, occurredAt: new Date('2026-12-01T00:00:00Z') })).not.toBe(base);
  });
});

describe('data paths', () => {
  it('reads nested values and array elements by index', () => {
    expect(valueAtPath(data, 'customer.email')).toBe('ada@example.test');
    expect(valueAtPath(data, 'customer.tags.1')).toBe('north');
    expect(valueAtPath(data, 'items.0.sku')).toBe('A-1');
    expect(valueAtPath(data, 'note')).toBeNull();
  });

  it('answers undefined for a missing segment, a segment into a scalar, or a non-index into an array', () => {
    expect(valueAtPath(data, 'customer.phone')).toBeUndefined();
    expect(valueAtPath(data, 'priority.length')).toBeUndefined();
    expect(valueAtPath(data, 'items.first')).toBeUndefined();
  });

  it('never reaches an object prototype', () => {
    expect(valueAtPath(data, '__proto__')).toBeUndefined();
    expect(valueAtPath(data, 'customer.constructor')).toBeUndefined();
    expect(valueAtPath(data, 'customer.toString')).toBeUndefined();
  });

  it('accepts dotted names only', () => {
    expect(['customer.email', 'items.0.sku', 'a-b_c'].every(isDataPath)).toBe(true);
    expect(['', 'a..b', '.a', 'a b', 'a/b', 'x'.repeat(201)].some(isDataPath)).toBe(false);
  });
});

describe('rule conditions', () => {
  it('matches equals exactly, without coercion', () => {
    expect(conditionMatches({ path: 'priority', equals: 'high' }, data)).toBe(true);
    expect(conditionMatches({ path: 'priority', equals: 'HIGH' }, data)).toBe(false);
    expect(conditionMatches({ path: 'amount', equals: 0 }, data)).toBe(true);
    expect(conditionMatches({ path: 'flagged', equals: 0 }, data)).toBe(false);
    expect(conditionMatches({ path: 'note', equals: null }, data)).toBe(true);
    expect(conditionMatches({ path: 'missing', equals: null }, data)).toBe(false);
  });

  it('matches in when the value is one of the list', () => {
    expect(conditionMatches({ path: 'priority', in: ['urgent', 'high'] }, data)).toBe(true);
    expect(conditionMatches({ path: 'priority', in: ['low'] }, data)).toBe(false);
  });

  it('matches exists on presence, a null value being present', () => {
    expect(conditionMatches({ path: 'note', exists: true }, data)).toBe(true);
    expect(conditionMatches({ path: 'customer.phone', exists: false }, data)).toBe(true);
    expect(conditionMatches({ path: 'customer.email', exists: false }, data)).toBe(false);
  });

  it('matches every event when there is no condition', () => {
    expect(conditionMatches(null, data)).toBe(true);
  });

  it('reads a damaged stored condition as one that never matches', () => {
    expect(storedCondition({ path: 'a b', equals: 1 })).toBe('invalid');
    expect(storedCondition({ path: 'a', equals: { nested: true } })).toBe('invalid');
    expect(storedCondition([1])).toBe('invalid');
    expect(
      ruleMatches({ eventType: 'ticket.created', enabled: true, condition: { path: 'a' } }, 'ticket.created', data),
    ).toBe(false);
  });

  it('triggers an enabled rule of the same type whose condition holds, and nothing else', () => {
    const rule = { eventType: 'ticket.created', enabled: true, condition: { path: 'priority', equals: 'high' } };
    expect(ruleMatches(rule, 'ticket.created', data)).toBe(true);
    expect(ruleMatches(rule, 'ticket.updated', data)).toBe(false);
    expect(ruleMatches({ ...rule, enabled: false }, 'ticket.created', data)).toBe(false);
    expect(ruleMatches({ ...rule, condition: { path: 'priority', equals: 'low' } }, 'ticket.created', data)).toBe(
      false,
    );
  });
});

describe('rule send time', () => {
  it("counts the delay from the event's recording, so a late or retried fan-out asks for the same time", () => {
    const recordedAt = new Date('2026-12-01T10:00:00Z');
    expect(ruleSendAt(recordedAt, 86_400)).toEqual(new Date('2026-12-02T10:00:00Z'));
    expect(ruleSendAt(recordedAt, 0)).toBeUndefined();
  });
});
