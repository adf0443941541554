import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sdkClient, startTestNode, validStart, type TestNode } from '../helpers/node.js';

/** pino's numeric levels. */
const DEBUG = 20;
const INFO = 30;

describe('the service log at its default level', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode();
  });
  after(() => t.close());

  const lines = (msg: string) => t.logs.map((l) => JSON.parse(l) as { msg: string; level: number; action?: string; code?: string }).filter((l) => l.msg === msg);

  it('keeps polling out of it: reads at debug; starts, stops and refused signatures at info', async () => {
    const api = sdkClient(t.host);
    await api.start(validStart({ TaskId: 'logged' }));
    for (let i = 0; i < 20; i += 1) await api.get({ AppId: 'app1', RoomId: 'room1', TaskId: 'logged' });
    await api.api('ListWebcastTaskEvents', 'GET')({ AppId: 'app1', RoomId: 'room1', TaskId: 'logged' });
    await sdkClient(t.host, { accessKey: 'AKWRONGWRONGWRONG1', secretKey: 'x' }).get({ AppId: 'app1', RoomId: 'room1', TaskId: 'logged' });
    await api.stop({ AppId: 'app1', RoomId: 'room1', TaskId: 'logged' });
    const requests = lines('api request');
    const atInfo = requests.filter((l) => l.level >= INFO).map((l) => `${l.action ?? ''} ${l.code ?? 'ok'}`);
    assert.deepEqual(atInfo, ['StartWebcast ok', 'GetWebCastTask InvalidAccessKey', 'StopWebcast ok']);
    assert.equal(requests.filter((l) => l.level === DEBUG).length, 21, 'the reads are still there at debug');
  });
});
