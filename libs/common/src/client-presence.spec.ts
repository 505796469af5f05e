import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClientPresence, clientPresence } from './client-presence';

/** clientPresence over real node responses: a finished answer is not "gone", a client that leaves first is. */
describe('clientPresence', () => {
  let server: http.Server;
  let url: string;
  let handle: (res: http.ServerResponse, presence: ClientPresence) => void;

  beforeAll(async () => {
    server = http.createServer((_req, res) => handle(res, clientPresence(res)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('an answer that finished: never gone, no listener called, its signal never aborts', async () => {
    const seen: string[] = [];
    let presence!: ClientPresence;
    const closed = new Promise<void>((resolve) => {
      handle = (res, p) => {
        presence = p;
        p.onGone(() => seen.push('gone'));
        res.once('close', () => setImmediate(resolve));
        res.end('ok');
      };
    });
    expect(await (await fetch(url)).text()).toBe('ok');
    await closed;
    expect(presence.gone).toBe(false);
    expect(presence.signal.aborted).toBe(false);
    expect(seen).toEqual([]);
  });

  it('a client that leaves first: gone, each listener once, the signal (made lazily) aborted, and a late listener hears at once', async () => {
    const seen: string[] = [];
    let presence!: ClientPresence;
    const closed = new Promise<void>((resolve) => {
      handle = (res, p) => {
        presence = p;
        expect(p.gone).toBe(false);
        p.onGone(() => seen.push('first'));
        const stop = p.onGone(() => seen.push('stopped'));
        stop();
        void p.signal;
        res.once('close', () => setImmediate(resolve));
        res.write('partial');
      };
    });
    const req = http.get(url, (res) => res.once('data', () => req.destroy()));
    req.on('error', () => undefined);
    await closed;
    expect(presence.gone).toBe(true);
    expect(presence.signal.aborted).toBe(true);
    presence.onGone(() => seen.push('late'));
    expect(seen).toEqual(['first', 'late']);
  });
});
