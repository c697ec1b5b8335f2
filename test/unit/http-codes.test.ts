import { httpCodeOf } from '../../api/errors';
import { OrderRejection } from '../../workflows/order-routing.contract';
import { FailureType, FlowRejection } from '../../workflows/errors';

describe('the codes Update rejections are answered with', () => {
  it('an activity failure type reaches HTTP in UPPER_SNAKE', () => {
    expect(httpCodeOf(FailureType.VendorUnavailable)).toBe('VENDOR_UNAVAILABLE');
    expect(httpCodeOf(FailureType.NotFound)).toBe('NOT_FOUND');
    expect(httpCodeOf(FailureType.OrderStateConflict)).toBe('ORDER_STATE_CONFLICT');
  });

  it('a flow rejection code is answered unchanged', () => {
    expect(httpCodeOf(FlowRejection.NeedsAttention)).toBe('NEEDS_ATTENTION');
    expect(httpCodeOf(OrderRejection.OfferExpired)).toBe(OrderRejection.OfferExpired);
  });

  it('every failure type maps to a distinct UPPER_SNAKE code', () => {
    const codes = Object.values(FailureType).map(httpCodeOf);
    expect(codes.every((code) => /^[A-Z][A-Z0-9_]*$/.test(code))).toBe(true);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
