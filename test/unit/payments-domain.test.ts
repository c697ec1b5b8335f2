import { isPayable, orderBalance, paymentRefusal, repeatedReference } from '../../domain/payments';

describe('payment rules', () => {
  it('an order takes payments once a vendor has it and until it is paid', () => {
    expect(['ASSIGNED', 'DISPATCHED', 'DELIVERED'].every(isPayable)).toBe(true);
    expect(['PENDING', 'ROUTING', 'NEEDS_ATTENTION', 'PAID', 'REJECTED', 'CANCELLED'].some(isPayable)).toBe(false);
  });

  it('the balance is the total less what was received', () => {
    expect(orderBalance(10_000, 2_500)).toBe(7_500);
    expect(orderBalance(10_000, 0)).toBe(10_000);
  });

  it('a payment up to the balance is accepted, and one beyond it is refused with the balance', () => {
    const order = { status: 'DELIVERED', total: 10_000 };
    expect(paymentRefusal(order, 2_500, 7_500)).toBeUndefined();
    expect(paymentRefusal(order, 2_500, 7_501)).toEqual({
      code: 'AMOUNT_EXCEEDS_BALANCE',
      message: 'The balance of this order is 7500',
      balance: 7_500,
    });
  });

  it('an order that is not payable refuses any amount, before the balance is looked at', () => {
    expect(paymentRefusal({ status: 'ROUTING', total: 10_000 }, 0, 1)).toEqual({
      code: 'NOT_PAYABLE',
      message: 'An order that is ROUTING takes no payments',
      status: 'ROUTING',
    });
  });

  it('a reference used again for the same order and amount is a replay; otherwise it is reused', () => {
    const earlier = { orderId: 'order-1', amount: 500 };
    expect(repeatedReference(earlier, { orderId: 'order-1', amount: 500 })).toBe('replay');
    expect(repeatedReference(earlier, { orderId: 'order-1', amount: 501 })).toBe('reused');
    expect(repeatedReference(earlier, { orderId: 'order-2', amount: 500 })).toBe('reused');
  });
});
