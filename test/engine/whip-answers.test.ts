import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { getTask, sdkClient, startTestNode, waitFor, type TestNode } from '../helpers/node.js';
import { startPageServer, type PageServer } from '../helpers/pages.js';
import { printNodeLogsOnFailure } from '../helpers/failure-logs.js';

/**
 * A WHIP endpoint that answers as a server of junk would: 201, a Location, and after the SDP's
 * first line what no SDP parser takes. (whip.test.ts publishes into a real WHIP server, alone
 * on the machine for its frame rates; this file measures nothing and runs beside others.)
 */
describe('a WHIP endpoint that answers junk', { timeout: 180_000 }, () => {
  let t: TestNode;
  printNodeLogsOnFailure(() => t);
  let pages: PageServer;
  let junk: Server;
  const calls: string[] = [];
  const JUNK_SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nthis is no SDP line\r\n';

  before(async () => {
    pages = await startPageServer();
    junk = createServer((req, res) => {
      calls.push(`${req.method ?? ''} ${req.url ?? ''}`);
      req.resume();
      if (req.method === 'POST') res.writeHead(201, { 'content-type': 'application/sdp', location: `/session/${calls.length}` }).end(JUNK_SDP);
      else res.writeHead(200).end();
    });
    await new Promise<void>((r) => junk.listen(0, '127.0.0.1', r));
    t = await startTestNode({
      env: {
        WEBCAST_WORKER: 'true',
        WEBCAST_URL_ALLOWLIST: '127.0.0.1',
        WEBCAST_ROOM_BACKEND: 'whip',
        WEBCAST_WHIP_URL: `http://127.0.0.1:${(junk.address() as AddressInfo).port}/whip/{RoomId}`,
      },
    });
  });
  after(async () => {
    await t?.close();
    await pages?.close();
    junk?.close();
  });

  it('fails the task, saying what the browser found, when the endpoint answers 201 with junk that starts like SDP; each session it opened is ended', async () => {
    const k = { AppId: 'junk', RoomId: 'junkroom', TaskId: 'junk' };
    await sdkClient(t.host).start({ ...k, UserId: 'host', SourceURL: `${pages.url}/tone`, VideoSolutions: [{ Width: 320, Height: 180, FrameRate: 10 }] });
    const failed = await waitFor('Status 4', async () => {
      const task = await getTask(t.host, k);
      return task?.Status === 4 && task;
    }, 120_000);
    assert.equal(failed.StopReason, 'StartTaskFailed');
    const detail = (await t.node.store.get(k))?.FailureDetail ?? '';
    // The room's fault in the browser's words, not "an error of the node".
    assert.match(detail, /^the room's answer to the publisher is not usable SDP: .*Failed to parse SessionDescription.* \(after 5 attempts\)$/);
    const posts = calls.filter((c) => c.startsWith('POST /whip/junkroom'));
    const deletes = calls.filter((c) => c.startsWith('DELETE /session/'));
    assert.equal(posts.length, 5, calls.join('\n'));
    assert.equal(deletes.length, posts.length, `every session ended: ${calls.join(', ')}`);
    // The node is none the worse: it still answers and reports itself ready.
    assert.equal((await t.node.server.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  });
});
