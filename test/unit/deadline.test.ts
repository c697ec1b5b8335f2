import { settleWithin } from '../../lib/deadline';

describe('settleWithin', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('is done when the work settles before the deadline, and leaves no timer behind', async () => {
    const outcome = settleWithin(Promise.resolve('closed'), 10_000);
    await expect(outcome).resolves.toBe('done');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('is late when the work has not settled by the deadline, and does not wait for it', async () => {
    const outcome = settleWithin(new Promise(() => undefined), 10_000);
    await jest.advanceTimersByTimeAsync(9_999);
    let settled = false;
    void outcome.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await expect(outcome).resolves.toBe('late');
  });

  it("passes on the work's failure when it fails in time", async () => {
    await expect(settleWithin(Promise.reject(new Error('refused')), 10_000)).rejects.toThrow('refused');
    expect(jest.getTimerCount()).toBe(0);
  });
});
