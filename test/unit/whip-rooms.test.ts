import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { freePort } from '../../src/rooms/janus/embedded-janus.js';
import { RoomError, type PublicationLoss } from '../../src/rooms/room-backend.js';
import { WhipEndpoints } from '../../src/rooms/whip/whip-endpoints.js';
import { WhipRoomBackend } from '../../src/rooms/whip/whip-rooms.js';

const ANSWER = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';

/** A WHIP endpoint that answers each path its own way, good and bad; it records what it was sent. */
describe('the WHIP room backend against what an endpoint may answer', () => {
  let server: Server;
  let base: string;
  const seen: { method: string; path: string; auth: string; type: string; body: string }[] = [];
  const routes: Record<string, (res: ServerResponse) => void> = {
    '/ok': (res) => res.writeHead(201, { 'content-type': 'application/sdp', location: '/resource/1' }).end(ANSWER),
    '/refuses': (res) => res.writeHead(403, { 'content-type': 'text/plain' }).end('Unauthorized\u0000\u001b[31m'),
    '/no-location': (res) => res.writeHead(201, { 'content-type': 'application/sdp' }).end(ANSWER),
    '/no-sdp': (res) => res.writeHead(201, { location: '/resource/2' }).end('<html>welcome</html>'),
    '/endless': (res) => {
      res.writeHead(201, { 'content-type': 'application/sdp', location: '/resource/3' });
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const write = (): void => {
        while (res.write(chunk));
        res.once('drain', write);
      };
      write();
    },
  };

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        seen.push({ method: req.method ?? '', path: url.pathname + url.search, auth: req.headers.authorization ?? '', type: req.headers['content-type'] ?? '', body });
        if (req.method === 'DELETE') return void res.writeHead(200).end();
        const route = routes[url.pathname.split('/').slice(0, 2).join('/')];
        if (route) route(res);
        else res.writeHead(404).end('no such endpoint');
      });
      // The endless answer is cut by the client; its socket closes under us.
      res.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const backend = (path: string, token = 'tok') => new WhipRoomBackend(new WhipEndpoints([{ appId: '*', url: `${base}${path}`, token }]), pino({ level: 'silent' }));
  const request = { room: { appId: 'app', roomId: 'room/1' }, userId: 'host', taskId: 't1', offerSdp: 'v=0\r\noffer\r\n' };

  it('POSTs the offer with the token, applies the answer, and DELETEs the session it was told at the end', async () => {
    const rooms = backend('/ok/{RoomId}/{UserId}?task={TaskId}');
    const p = await rooms.publish(request);
    assert.equal(p.answerSdp, ANSWER);
    const post = seen.at(-1);
    assert.deepEqual(post, { method: 'POST', path: '/ok/room%2F1/host?task=t1', auth: 'Bearer tok', type: 'application/sdp', body: request.offerSdp });
    assert.deepEqual((await rooms.publishers(request.room)).map((x) => x.userId), ['host']);
    await p.close();
    await p.close();
    assert.deepEqual(seen.filter((s) => s.method === 'DELETE').map((s) => [s.path, s.auth]), [['/resource/1', 'Bearer tok']], 'one DELETE, of the Location, with the token');
    assert.deepEqual(await rooms.publishers(request.room), []);
  });

  it('ends this node\'s earlier session of the same UserId in the room first, and tells its task it was replaced', async () => {
    const rooms = backend('/ok/{RoomId}/{UserId}');
    const first = await rooms.publish(request);
    const losses: PublicationLoss[] = [];
    first.onLost((l) => losses.push(l));
    const deletes = seen.filter((s) => s.method === 'DELETE').length;
    const second = await rooms.publish({ ...request, taskId: 't2' });
    assert.deepEqual(losses, [{ reason: 'another publisher took this UserId in the room', replaced: true }]);
    assert.equal(seen.filter((s) => s.method === 'DELETE').length, deletes + 1);
    assert.equal((await rooms.publishers(request.room)).length, 1);
    await second.close();
  });

  for (const [what, path, error, permanent] of [
    ['an error status, its text made printable', '/refuses', /refused the publisher: HTTP 403 Unauthorized/, true],
    ['no endpoint', '/nothing-here', /refused the publisher: HTTP 404 no such endpoint/, true],
    ['201 without a Location', '/no-location', /answered without a Location/, false],
    ['201 without SDP', '/no-sdp', /answered 201 without an SDP answer/, false],
    ['an answer without end', '/endless', /sent more than 256 KB/, false],
  ] as const) {
    it(`fails the publish, saying why, on ${what}${permanent ? ', for good' : ''}`, async () => {
      const err = await backend(`${path}/{RoomId}?secret=abc`).publish(request).then(() => undefined, (e: unknown) => e as RoomError);
      assert.ok(err, 'the publish failed');
      assert.ok(err instanceof RoomError);
      assert.equal(err.permanent, permanent, 'a 4xx is final; the rest may pass');
      assert.match(err.message, error);
      assert.match(err.message, new RegExp(`the WHIP endpoint ${base.replace(/[.]/g, '\\.')}${path}/room%2F1 `));
      assert.doesNotMatch(err.message, /secret=abc/, 'no query: it may hold a key');
      assert.ok([...err.message].every((c) => c >= ' '), 'no control bytes');
    });
  }

  it('names an endpoint that cannot be reached', async () => {
    const port = await freePort();
    const rooms = new WhipRoomBackend(new WhipEndpoints([{ appId: '*', url: `http://127.0.0.1:${port}/whip` }]), pino({ level: 'silent' }));
    await assert.rejects(rooms.publish(request), new RegExp(`the WHIP endpoint http://127\\.0\\.0\\.1:${port}/whip cannot be reached: ECONNREFUSED`));
  });

  it('refuses an AppId with no endpoint, and subscribing at all', async () => {
    const rooms = new WhipRoomBackend(new WhipEndpoints([{ appId: 'only', url: `${base}/ok` }]), pino({ level: 'silent' }));
    await assert.rejects(rooms.publish(request), /no WHIP endpoint is configured for AppId app/);
    await assert.rejects(rooms.subscribe(request.room), /this node only publishes into it/);
  });
});
