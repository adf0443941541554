import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signRequest } from '../../src/api/signature.js';
import { parseRateLimits } from '../../src/config.js';
import { sdkClient, startTestNode, validStart, type TestNode } from '../helpers/node.js';

describe('rate limits per access key and action', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode({
      env: {
        WEBCAST_RATE_LIMITS: 'GetWebCastTask=5,StartWebcast=8',
        WEBCAST_ACCESS_KEY: 'AKRATELIMIT000001',
        WEBCAST_SECRET_KEY: 'rate-limit-secret-key-000000001',
      },
    });
  });
  after(() => t.close());

  it('defaults to the vendor’s limits: 150 QPS Start and Stop, 60 QPS Get (and 20 List, 60 ListEvents of ours)', () => {
    const ours = { ListWebcastTasks: 20, ListWebcastTaskEvents: 60, ListWebcastNodes: 20, DrainWebcastNode: 20 };
    assert.deepEqual(parseRateLimits(undefined), { StartWebcast: 150, StopWebcast: 150, GetWebCastTask: 60, ...ours });
    assert.deepEqual(parseRateLimits('GetWebCastTask=10'), { StartWebcast: 150, StopWebcast: 150, GetWebCastTask: 10, ...ours });
    assert.throws(() => parseRateLimits('GetTask=10'), /unknown action "GetTask"/);
    assert.throws(() => parseRateLimits('GetWebCastTask=0'), /positive integer/);
  });

  it('answers requests over the limit with HTTP 429 FlowLimitExceeded, and counts each action apart', async () => {
    const api = sdkClient(t.host, { accessKey: 'AKRATELIMIT000001', secretKey: 'rate-limit-secret-key-000000001' });
    await api.start(validStart());
    // Fired together, 15 requests land in at most two one-second windows of 5.
    const burst = await Promise.all(Array.from({ length: 15 }, () => api.get({ AppId: 'app1', RoomId: 'room1', TaskId: 'task1' })));
    const limited = burst.filter((r) => r.ResponseMetadata.Error?.Code === 'FlowLimitExceeded');
    const served = burst.filter((r) => r.ResponseMetadata.Error === undefined);
    assert.ok(limited.length >= 5, `expected at least 5 refusals, got ${limited.length}`);
    assert.ok(served.length >= 1 && served.length <= 10, `served ${served.length}`);
    assert.match(limited[0]?.ResponseMetadata.Error?.Message ?? '', /5 GetWebCastTask requests per second/);

    // Start has its own budget, untouched by the Get burst.
    const start = await api.start(validStart({ TaskId: 'other' }));
    assert.equal(start.Result, 'ok');
  });

  it('sends HTTP 429 with Retry-After, and lets the caller in again a second later', async () => {
    const url = new URL(`${t.url}/?Action=GetWebCastTask&Version=2020-12-01&AppId=app1&RoomId=room1&TaskId=task1`);
    const keys = { accessKey: 'AKRATELIMIT000001', secretKey: 'rate-limit-secret-key-000000001' };
    const burst = await Promise.all(Array.from({ length: 12 }, () => fetch(url, { headers: signRequest({ method: 'GET', url, ...keys }) })));
    const refused = burst.filter((r) => r.status === 429);
    assert.ok(refused.length >= 2, `refused ${refused.length}`);
    assert.ok(Number(refused[0]?.headers.get('retry-after')) >= 0);
    await new Promise((r) => setTimeout(r, 1100));
    const again = await sdkClient(t.host, keys).get({ AppId: 'app1', RoomId: 'room1', TaskId: 'task1' });
    assert.equal(again.ResponseMetadata.Error, undefined);
  });
});
