import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sdkClient, startTestNode, validStart, waitFor, type TestNode } from '../helpers/node.js';

interface Listed {
  AppId: string;
  RoomId: string;
  TaskId: string;
  Status: number;
}

describe('ListWebcastTasks and ListWebcastTaskEvents (our additions for consoles and scripts)', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode();
    const client = sdkClient(t.host);
    for (const [room, task] of [['r1', 'a'], ['r1', 'b'], ['r2', 'c']] as const) {
      assert.equal((await client.start(validStart({ RoomId: room, TaskId: task }))).Result, 'ok');
      await new Promise((r) => setTimeout(r, 5)); // distinct StartTimes: the order is by StartTime
    }
    assert.equal((await client.stop({ AppId: 'app1', RoomId: 'r1', TaskId: 'a' })).Result, 'ok');
  });
  after(() => t.close());
  const list = async (query: Record<string, unknown>) => sdkClient(t.host).api('ListWebcastTasks', 'GET')(query);
  const ids = (res: { Result?: unknown }) => ((res.Result as { WebCastTasks: Listed[] }).WebCastTasks ?? []).map((x) => x.TaskId);

  it('lists an app\'s tasks newest first, by room, by status and up to a limit', async () => {
    assert.deepEqual(ids(await list({ AppId: 'app1' })), ['c', 'b', 'a']);
    assert.deepEqual(ids(await list({ AppId: 'app1', RoomId: 'r1' })), ['b', 'a']);
    assert.deepEqual(ids(await list({ AppId: 'app1', Status: 3 })), ['a']);
    assert.deepEqual(ids(await list({ AppId: 'app1', Status: 1, Limit: 1 })), ['c']);
    assert.deepEqual(ids(await list({ AppId: 'other' })), []);
    const first = (await list({ AppId: 'app1', RoomId: 'r2' })).Result as { WebCastTasks: Listed[] };
    assert.deepEqual(first.WebCastTasks[0] && [first.WebCastTasks[0].AppId, first.WebCastTasks[0].RoomId, first.WebCastTasks[0].Status], ['app1', 'r2', 1]);
  });

  it('refuses a bad filter with the field and its rule', async () => {
    const res = await list({ AppId: 'app1', Status: 9, Limit: 1000 });
    assert.equal(res.ResponseMetadata.Error?.Code, 'InvalidParameter');
    assert.match(res.ResponseMetadata.Error?.Message ?? '', /Status.*\[1, 4\]/);
    assert.match(res.ResponseMetadata.Error?.Message ?? '', /Limit.*\[1, 100\]/);
    assert.equal((await list({})).ResponseMetadata.Error?.Code, 'MissingParameter');
  });

  it('gives a task\'s events in order with their delivery state', async () => {
    const events = sdkClient(t.host).api('ListWebcastTaskEvents', 'GET');
    type Event = { EventType: string; EventData: { Status: number; StopReason: string }; Delivery: { State: string } };
    // This node has no callback endpoint: the dispatcher marks the event skipped, not lost.
    const list = await waitFor('the delivery to be settled', async () => {
      const res = await events({ AppId: 'app1', RoomId: 'r1', TaskId: 'a' });
      const got = (res.Result as { Events: Event[] }).Events;
      return got.every((e) => e.Delivery.State !== 'pending') && got;
    });
    assert.deepEqual(list.map((e) => [e.EventType, e.EventData.Status, e.EventData.StopReason, e.Delivery.State]), [['WebcastEnd', 3, 'StopByAPI', 'skipped']]);
    const missing = await events({ AppId: 'app1', RoomId: 'r1', TaskId: 'nope' });
    assert.equal(missing.ResponseMetadata.Error?.Code, 'InvalidParameter.ErrorActiveTaskNotFound');
  });
});
