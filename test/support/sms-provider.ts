import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An SMS provider on loopback: answers from a queue per number, then with `otherwise` (201, accepted, unless
 * told to refuse every message).
 */
export class SmsProvider {
  readonly accepted: Array<{ to: string; body: string }> = [];
  readonly requests: string[] = [];
  private readonly answers = new Map<string, number[]>();

  constructor(private readonly otherwise = 201) {}

  private readonly server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const message = JSON.parse(body) as { to: string; body: string };
      this.requests.push(message.to);
      const status = this.answers.get(message.to)?.shift() ?? this.otherwise;
      if (status === 201) this.accepted.push(message);
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(status === 201 ? { id: `sms-${this.requests.length}` } : { error: 'refused' }));
    });
  });
  url = '';

  /** The next answers to messages for `to`, before it accepts them. */
  answer(to: string, ...statuses: number[]): void {
    this.answers.set(to, statuses);
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
