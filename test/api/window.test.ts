import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sdkClient, startTestNode, validStart, type TestNode } from '../helpers/node.js';

const HOUR = 3600_000;

describe('the 72-hour window, with the task clock moved', () => {
  let t: TestNode;
  let offset = 0;
  const api = () => sdkClient(t.host);
  const key = (TaskId: string) => ({ AppId: 'app1', RoomId: 'room1', TaskId });
  before(async () => {
    t = await startTestNode({ taskClock: () => Date.now() + offset });
  });
  after(() => t.close());

  it('shows a task for 72 hours after its start and hides it after', async () => {
    offset = -71 * HOUR;
    await api().start(validStart({ TaskId: 'recent' }));
    offset = -73 * HOUR;
    await api().start(validStart({ TaskId: 'old' }));
    await api().stop(key('old'));
    offset = 0;
    const recent = await api().get(key('recent'));
    assert.equal((recent.Result as { WebCastTask: { Status: number } }).WebCastTask.Status, 1);
    const old = await api().get(key('old'));
    assert.equal(old.ResponseMetadata.Error?.Code, 'InvalidParameter.ErrorActiveTaskNotFound');
    assert.match(old.ResponseMetadata.Error?.Message ?? '', /72 hours/);
  });

  it('leaves a hidden task out of the room’s latest', async () => {
    const latest = await api().get({ AppId: 'app1', RoomId: 'room1' });
    assert.equal((latest.Result as { WebCastTask: { StartTime: number } }).WebCastTask.StartTime < Date.now() - 70 * HOUR, true);
    offset = 2 * HOUR; // now 'recent' is 73 hours old as well
    const none = await api().get({ AppId: 'app1', RoomId: 'room1' });
    assert.equal(none.ResponseMetadata.Error?.Code, 'InvalidParameter.ErrorActiveTaskNotFound');
    offset = 0;
  });

  it('lets an ended TaskId be used again once its 72 hours are over, as a new task', async () => {
    const reused = await api().start(validStart({ TaskId: 'old', UserId: 'new-user' }));
    assert.equal(reused.Result, 'ok');
    const task = (await api().get(key('old'))).Result as { WebCastTask: { Status: number; UserId: string; StartTime: number; EndTime: number } };
    assert.equal(task.WebCastTask.Status, 1);
    assert.equal(task.WebCastTask.UserId, 'new-user');
    assert.equal(task.WebCastTask.EndTime, 0);
    assert.ok(Math.abs(task.WebCastTask.StartTime - Date.now()) < 10_000);
  });

  it('does not let an old task that is somehow still active be stopped through the window', async () => {
    offset = -80 * HOUR;
    await api().start(validStart({ TaskId: 'stale' }));
    offset = 0;
    const stop = await api().stop(key('stale'));
    assert.equal(stop.ResponseMetadata.Error?.Code, 'InvalidParameter.ErrorActiveTaskNotFound');
  });
});
