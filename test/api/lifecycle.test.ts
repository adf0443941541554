import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALREADY_STARTED } from '../../src/api/server.js';
import { sdkClient, startTestNode, validStart, type TestNode, queueOf } from '../helpers/node.js';

describe('Start, Get and Stop through the official SDK', () => {
  let t: TestNode;
  let api: ReturnType<typeof sdkClient>;
  before(async () => {
    t = await startTestNode();
    api = sdkClient(t.host);
  });
  after(() => t.close());

  it('starts a task that Get reports as not started, with every default filled in', async () => {
    const started = await api.start(validStart());
    assert.equal(started.ResponseMetadata.Error, undefined);
    assert.equal(started.Result, 'ok');
    assert.equal(started.ResponseMetadata.Service, 'rtc');
    assert.equal(started.ResponseMetadata.Action, 'StartWebcast');
    assert.match(started.ResponseMetadata.RequestId, /^\d{14}[0-9A-F]{20}$/);

    const got = await api.get({ AppId: 'app1', RoomId: 'room1', TaskId: 'task1' });
    assert.equal(got.ResponseMetadata.Error, undefined);
    const task = (got.Result as { WebCastTask: Record<string, unknown> }).WebCastTask;
    assert.equal(task.Status, 1);
    assert.equal(task.StopReason, '');
    assert.equal(task.EndTime, 0);
    assert.ok(Math.abs((task.StartTime as number) - Date.now()) < 10_000);
    assert.equal(task.UserId, 'webcast-bot');
    assert.equal(task.SourceURL, 'https://example.com/slides?token=abc');
    assert.equal(task.MaxRunningTime, 86400);
    assert.deepEqual(task.VideoSolutions, [{ Width: 1280, Height: 720, FrameRate: 15, Bitrate: 0 }]);
    assert.deepEqual(task.MonitorConfig, { BlankCheckInterval: 0, FreezeCheckInterval: 0, CrashCheckInterval: 0 });
    assert.deepEqual(task.EventNotifyConfig, { EnableEventNotify: false, StartTimeout: 0 });
  });

  it('hands the new task to the scheduler', () => {
    assert.deepEqual(queueOf(t).waiting(), [{ AppId: 'app1', RoomId: 'room1', TaskId: 'task1' }]);
  });

  it('answers a second Start of a running task with the vendor sentence, not an error', async () => {
    const again = await api.start(validStart({ SourceURL: 'https://example.com/other' }));
    assert.equal(again.ResponseMetadata.Error, undefined);
    assert.equal(again.Result, ALREADY_STARTED);
    const got = await api.get({ AppId: 'app1', RoomId: 'room1', TaskId: 'task1' });
    assert.equal((got.Result as { WebCastTask: { SourceURL: string } }).WebCastTask.SourceURL, 'https://example.com/slides?token=abc');
  });

  it('stops the task: Status 3, StopByAPI, an EndTime, and the scheduler lets it go', async () => {
    const stopped = await api.stop({ AppId: 'app1', RoomId: 'room1', TaskId: 'task1' });
    assert.equal(stopped.ResponseMetadata.Error, undefined);
    assert.equal(stopped.Result, 'ok');
    const task = ((await api.get({ AppId: 'app1', RoomId: 'room1', TaskId: 'task1' })).Result as { WebCastTask: Record<string, number | string> }).WebCastTask;
    assert.equal(task.Status, 3);
    assert.equal(task.StopReason, 'StopByAPI');
    assert.ok((task.EndTime as number) >= (task.StartTime as number));
    assert.deepEqual(queueOf(t).waiting(), []);
  });

  it('refuses to stop a task that is no longer running', async () => {
    const again = await api.stop({ AppId: 'app1', RoomId: 'room1', TaskId: 'task1' });
    assert.equal(again.ResponseMetadata.Error?.Code, 'InvalidParameter.ErrorActiveTaskNotFound');
  });

  it('refuses to reuse an ended TaskId within 72 hours', async () => {
    const reuse = await api.start(validStart());
    assert.equal(reuse.ResponseMetadata.Error?.Code, 'InvalidParameter.TaskAlreadyExists');
  });

  it('keeps TaskIds apart per room: the same TaskId in another room is another task', async () => {
    const other = await api.start(validStart({ RoomId: 'room2' }));
    assert.equal(other.Result, 'ok');
  });

  it('reports unknown tasks, and stopping them, as not found', async () => {
    const got = await api.get({ AppId: 'app1', RoomId: 'room1', TaskId: 'nope' });
    assert.equal(got.ResponseMetadata.Error?.Code, 'InvalidParameter.ErrorActiveTaskNotFound');
    assert.match(got.ResponseMetadata.Error?.Message ?? '', /nope/);
    const stop = await api.stop({ AppId: 'app1', RoomId: 'room1', TaskId: 'nope' });
    assert.equal(stop.ResponseMetadata.Error?.Code, 'InvalidParameter.ErrorActiveTaskNotFound');
  });

  it('without a TaskId, Get answers the room’s most recent task', async () => {
    await api.start(validStart({ RoomId: 'room3', TaskId: 'older' }));
    await new Promise((r) => setTimeout(r, 5));
    await api.start(validStart({ RoomId: 'room3', TaskId: 'newer', UserId: 'second' }));
    const got = await api.get({ AppId: 'app1', RoomId: 'room3' });
    assert.equal((got.Result as { WebCastTask: { UserId: string } }).WebCastTask.UserId, 'second');
  });

  it('accepts both versions and both spellings of each action', async () => {
    const v2023 = sdkClient(t.host, undefined, '2023-11-01');
    const cap = v2023.api('StartWebCast', 'POST');
    const started = await cap(validStart({ TaskId: 'spelling' }));
    assert.equal(started.Result, 'ok');
    assert.equal(started.ResponseMetadata.Version, '2023-11-01');
    assert.equal(started.ResponseMetadata.Action, 'StartWebCast');
    const got = await v2023.api('GetWebcastTask', 'GET')({ AppId: 'app1', RoomId: 'room1', TaskId: 'spelling' });
    assert.equal((got.Result as { WebCastTask: { Status: number } }).WebCastTask.Status, 1);
    const stopped = await v2023.api('StopWebCast', 'POST')({ AppId: 'app1', RoomId: 'room1', TaskId: 'spelling' });
    assert.equal(stopped.Result, 'ok');
  });

  it('answers /healthz and /readyz without a signature', async () => {
    const res = await fetch(`${t.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
    const ready = await fetch(`${t.url}/readyz`);
    assert.deepEqual([ready.status, await ready.json()], [200, { ready: true, checks: { store: true } }]);
  });

  it('answers an unknown action or version with InvalidActionOrVersion and HTTP 404', async () => {
    for (const [action, version] of [['StartRecord', '2020-12-01'], ['StartWebcast', '2022-06-01'], ['startwebcast', '2020-12-01']] as const) {
      const res = await sdkClient(t.host, undefined, version).api(action, 'POST')(validStart({ TaskId: 'never' }));
      assert.equal(res.ResponseMetadata.Error?.Code, 'InvalidActionOrVersion', `${action} ${version}`);
      assert.equal(res.ResponseMetadata.Error?.CodeN, 100008);
    }
    const raw = await fetch(`${t.url}/?Action=Nope&Version=2020-12-01`);
    assert.equal(raw.status, 404);
    const notRoot = await fetch(`${t.url}/v1/tasks`);
    assert.equal(notRoot.status, 404);
    assert.equal(((await notRoot.json()) as { ResponseMetadata: { Error: { Code: string } } }).ResponseMetadata.Error.Code, 'InvalidActionOrVersion');
    const got = await api.get({ AppId: 'app1', RoomId: 'room1', TaskId: 'never' });
    assert.equal(got.ResponseMetadata.Error?.Code, 'InvalidParameter.ErrorActiveTaskNotFound');
  });
});
