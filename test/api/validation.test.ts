import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sdkClient, signedFetch, startTestNode, validStart, type ApiResponse, type TestNode, queueOf } from '../helpers/node.js';
import net from 'node:net';

const long = (n: number): string => 'a'.repeat(n);

/** [what, body, expected code, a piece of the message naming the field and rule] */
const invalidStarts: [string, Record<string, unknown>, string, RegExp][] = [
  ['no AppId', validStart({ AppId: undefined }), 'MissingParameter', /AppId/],
  ['empty RoomId', validStart({ RoomId: '' }), 'MissingParameter', /RoomId/],
  ['no TaskId nor UserId', validStart({ TaskId: undefined, UserId: undefined }), 'MissingParameter', /TaskId, UserId/],
  ['no SourceURL', validStart({ SourceURL: undefined }), 'MissingParameter', /SourceURL/],
  ['AppId with a space', validStart({ AppId: 'my app' }), 'InvalidParameter', /AppId must be 1 to 128 characters/],
  ['RoomId with a slash', validStart({ RoomId: 'a/b' }), 'InvalidParameter', /RoomId must be 1 to 128/],
  ['TaskId of 129 characters', validStart({ TaskId: long(129) }), 'InvalidParameter', /TaskId must be 1 to 128/],
  ['UserId not a string', validStart({ UserId: 42 }), 'InvalidParameter', /UserId must be a string/],
  ['SourceURL of 1025 characters', validStart({ SourceURL: `https://example.com/${long(1005)}` }), 'InvalidParameter', /SourceURL must be at most 1024 characters/],
  ['SourceURL ftp', validStart({ SourceURL: 'ftp://example.com/file' }), 'InvalidParameter', /SourceURL must be an absolute http/],
  ['SourceURL javascript', validStart({ SourceURL: 'javascript:alert(1)' }), 'InvalidParameter', /SourceURL must be an absolute http/],
  ['SourceURL relative', validStart({ SourceURL: '/slides' }), 'InvalidParameter', /SourceURL must be an absolute http/],
  ['SourceURL with a NUL', validStart({ SourceURL: 'https://example.com/a\u0000b' }), 'InvalidParameter', /SourceURL must not hold control characters/],
  ['SourceURL with a TAB', validStart({ SourceURL: 'https://exam\tple.com/' }), 'InvalidParameter', /SourceURL must not hold control characters/],
  ['SourceURL with CR LF', validStart({ SourceURL: 'https://example.com/?a=1\r\nX-Injected: 1' }), 'InvalidParameter', /SourceURL must not hold control characters/],
  ['SourceURL with a lone surrogate', validStart({ SourceURL: 'https://example.com/\ud800' }), 'InvalidParameter', /SourceURL must be valid Unicode/],
  ['BusinessId with a lone surrogate', validStart({ BusinessId: 'course-\udc00' }), 'InvalidParameter', /BusinessId must be valid Unicode/],
  ['BusinessId with a control character', validStart({ BusinessId: 'course\u001b[31m' }), 'InvalidParameter', /BusinessId must not hold control characters/],
  ['MaxRunningTime 9', validStart({ MaxRunningTime: 9 }), 'InvalidParameter', /MaxRunningTime must be 0 \(the default\) or an integer in \[10, 86400\]/],
  ['MaxRunningTime 86401', validStart({ MaxRunningTime: 86401 }), 'InvalidParameter', /MaxRunningTime must be 0 \(the default\) or an integer in \[10, 86400\]/],
  ['MaxRunningTime 60.5', validStart({ MaxRunningTime: 60.5 }), 'InvalidParameter', /MaxRunningTime must be 0 \(the default\) or an integer/],
  ['MaxRunningTime as a string', validStart({ MaxRunningTime: '60' }), 'InvalidParameter', /MaxRunningTime must be 0 \(the default\) or an integer/],
  ['3 VideoSolutions', validStart({ VideoSolutions: [{}, {}, {}] }), 'InvalidParameter', /VideoSolutions must have at most 2 entries/],
  ['VideoSolutions not an array', validStart({ VideoSolutions: { Width: 640 } }), 'InvalidParameter', /VideoSolutions must be an array/],
  ['Width 49', validStart({ VideoSolutions: [{ Width: 49 }] }), 'InvalidParameter', /VideoSolutions\[0\]\.Width must be 0 \(the default\) or an integer in \[50, 1920\]/],
  ['Width 1921', validStart({ VideoSolutions: [{ Width: 1921 }] }), 'InvalidParameter', /Width must be 0 \(the default\) or an integer in \[50, 1920\]/],
  ['Height 49', validStart({ VideoSolutions: [{ Height: 49 }] }), 'InvalidParameter', /Height must be 0 \(the default\) or an integer in \[50, 1080\]/],
  ['Height 1081', validStart({ VideoSolutions: [{}, { Height: 1081 }] }), 'InvalidParameter', /VideoSolutions\[1\]\.Height must be 0 \(the default\) or an integer in \[50, 1080\]/],
  ['FrameRate 61', validStart({ VideoSolutions: [{ FrameRate: 61 }] }), 'InvalidParameter', /FrameRate must be 0 \(the default\) or an integer in \[1, 60\]/],
  ['FrameRate -1', validStart({ VideoSolutions: [{ FrameRate: -1 }] }), 'InvalidParameter', /FrameRate must be 0 \(the default\) or an integer in \[1, 60\]/],
  ['Bitrate 10001', validStart({ VideoSolutions: [{ Bitrate: 10001 }] }), 'InvalidParameter', /Bitrate must be an integer in \[0, 10000\]/],
  ['Bitrate -1', validStart({ VideoSolutions: [{ Bitrate: -1 }] }), 'InvalidParameter', /Bitrate must be an integer in \[0, 10000\]/],
  ['BlankCheckInterval 1', validStart({ MonitorConfig: { BlankCheckInterval: 1 } }), 'InvalidParameter', /MonitorConfig\.BlankCheckInterval must be 0 \(off\) or an integer in \[2, 30\]/],
  ['BlankCheckInterval 31', validStart({ MonitorConfig: { BlankCheckInterval: 31 } }), 'InvalidParameter', /BlankCheckInterval must be 0 \(off\) or an integer in \[2, 30\]/],
  ['FreezeCheckInterval 1', validStart({ MonitorConfig: { FreezeCheckInterval: 1 } }), 'InvalidParameter', /FreezeCheckInterval must be 0 \(off\) or an integer in \[2, 30\]/],
  ['FreezeCheckInterval 31', validStart({ MonitorConfig: { FreezeCheckInterval: 31 } }), 'InvalidParameter', /FreezeCheckInterval/],
  ['CrashCheckInterval 31', validStart({ MonitorConfig: { CrashCheckInterval: 31 } }), 'InvalidParameter', /CrashCheckInterval must be 0 \(off\) or an integer in \[0, 30\]/],
  ['CrashCheckInterval -1', validStart({ MonitorConfig: { CrashCheckInterval: -1 } }), 'InvalidParameter', /CrashCheckInterval/],
  ['StartTimeout 61', validStart({ EventNotifyConfig: { EnableEventNotify: true, StartTimeout: 61 } }), 'InvalidParameter', /EventNotifyConfig\.StartTimeout must be an integer in \[0, 60\]/],
  ['StartTimeout -1', validStart({ EventNotifyConfig: { EnableEventNotify: true, StartTimeout: -1 } }), 'InvalidParameter', /StartTimeout must be an integer in \[0, 60\]/],
  ['EnableEventNotify as a string', validStart({ EventNotifyConfig: { EnableEventNotify: 'yes' } }), 'InvalidParameter', /EnableEventNotify must be true or false/],
  ['MonitorConfig not an object', validStart({ MonitorConfig: 5 }), 'InvalidParameter', /MonitorConfig must be an object/],
];

describe('validation of StartWebcast, StopWebcast and GetWebCastTask', () => {
  let t: TestNode;
  let api: ReturnType<typeof sdkClient>;
  before(async () => {
    t = await startTestNode();
    api = sdkClient(t.host);
  });
  after(() => t.close());

  for (const [what, body, code, message] of invalidStarts) {
    it(`refuses ${what} with ${code}, naming the field and the rule, and creates nothing`, async () => {
      const res = await api.start(body);
      assert.equal(res.ResponseMetadata.Error?.Code, code);
      assert.match(res.ResponseMetadata.Error?.Message ?? '', message);
      assert.equal(res.Result, undefined);
      const key = { AppId: body.AppId, RoomId: body.RoomId, TaskId: body.TaskId };
      if (Object.values(key).every((v) => typeof v === 'string' && /^[\w@.-]{1,128}$/.test(v))) {
        const got = await api.get(key);
        assert.equal(got.ResponseMetadata.Error?.Code, 'InvalidParameter.ErrorActiveTaskNotFound', 'a refused Start must leave no task behind');
      }
      assert.deepEqual(queueOf(t).waiting(), []);
    });
  }

  it('gives MissingParameter the numeric code and HTTP 400', async () => {
    const res = await api.start(validStart({ AppId: undefined }));
    assert.equal(res.ResponseMetadata.Error?.CodeN, 100002);
    const raw = await signedFetch(t, 'POST', 'StartWebcast', JSON.stringify(validStart({ AppId: undefined })));
    assert.equal(raw.status, 400);
  });

  it('reports every fault of a request at once', async () => {
    const res = await api.start(validStart({ MaxRunningTime: 5, VideoSolutions: [{ Width: 10, FrameRate: 99 }] }));
    const message = res.ResponseMetadata.Error?.Message ?? '';
    assert.match(message, /MaxRunningTime/);
    assert.match(message, /VideoSolutions\[0\]\.Width/);
    assert.match(message, /VideoSolutions\[0\]\.FrameRate/);
  });

  it('accepts every boundary value and rounds odd sizes up to even', async () => {
    const body = validStart({
      TaskId: 'edges',
      BusinessId: 'course-42',
      MaxRunningTime: 10,
      VideoSolutions: [
        { Width: 1919, Height: 1079, FrameRate: 60, Bitrate: 10000 },
        { Width: 51, Height: 50, FrameRate: 1, Bitrate: 0 },
      ],
      MonitorConfig: { BlankCheckInterval: 2, FreezeCheckInterval: 30, CrashCheckInterval: 0 },
      EventNotifyConfig: { EnableEventNotify: true, StartTimeout: 60 },
    });
    const res = await api.start(body);
    assert.equal(res.Result, 'ok', JSON.stringify(res.ResponseMetadata.Error));
    const task = ((await api.get({ AppId: 'app1', RoomId: 'room1', TaskId: 'edges' })).Result as { WebCastTask: Record<string, unknown> }).WebCastTask;
    assert.deepEqual(task.VideoSolutions, [
      { Width: 1920, Height: 1080, FrameRate: 60, Bitrate: 10000 },
      { Width: 52, Height: 50, FrameRate: 1, Bitrate: 0 },
    ]);
    assert.equal(task.MaxRunningTime, 10);
    assert.equal(task.BusinessId, 'course-42');
    assert.deepEqual(task.MonitorConfig, { BlankCheckInterval: 2, FreezeCheckInterval: 30, CrashCheckInterval: 0 });
    assert.deepEqual(task.EventNotifyConfig, { EnableEventNotify: true, StartTimeout: 60 });
    await api.stop({ AppId: 'app1', RoomId: 'room1', TaskId: 'edges' });
  });

  it('treats the zero values a Go client sends for unset fields as the defaults', async () => {
    const res = await api.start(
      validStart({
        TaskId: 'go-zeroes',
        BusinessId: '',
        MaxRunningTime: 0,
        VideoSolutions: [{ Width: 0, Height: 0, FrameRate: 0, Bitrate: 0 }],
        MonitorConfig: { BlankCheckInterval: 0, FreezeCheckInterval: 0, CrashCheckInterval: 0 },
        EventNotifyConfig: { EnableEventNotify: false, StartTimeout: 0 },
        UnknownField: 'ignored',
      }),
    );
    assert.equal(res.Result, 'ok', JSON.stringify(res.ResponseMetadata.Error));
    const task = ((await api.get({ AppId: 'app1', RoomId: 'room1', TaskId: 'go-zeroes' })).Result as { WebCastTask: Record<string, unknown> }).WebCastTask;
    assert.equal(task.MaxRunningTime, 86400);
    assert.deepEqual(task.VideoSolutions, [{ Width: 1280, Height: 720, FrameRate: 15, Bitrate: 0 }]);
    await api.stop({ AppId: 'app1', RoomId: 'room1', TaskId: 'go-zeroes' });
  });

  it('answers an empty body with InvalidParameter.BodyIsEmpty', async () => {
    for (const action of ['StartWebcast', 'StopWebcast']) {
      const res = await signedFetch(t, 'POST', action, '');
      assert.equal(res.status, 400);
      assert.equal((await res.json() as ApiResponse).ResponseMetadata.Error?.Code, 'InvalidParameter.BodyIsEmpty');
    }
  });

  it('answers broken JSON with InvalidParameter.Unmarshal', async () => {
    const res = await signedFetch(t, 'POST', 'StartWebcast', '{"AppId": "app1",');
    assert.equal(res.status, 400);
    const body = (await res.json()) as ApiResponse;
    assert.equal(body.ResponseMetadata.Error?.Code, 'InvalidParameter.Unmarshal');
    const notObject = (await (await signedFetch(t, 'POST', 'StartWebcast', '[1,2]')).json()) as ApiResponse;
    assert.equal(notObject.ResponseMetadata.Error?.Code, 'InvalidParameter');
    assert.match(notObject.ResponseMetadata.Error?.Message ?? '', /JSON object/);
  });

  it('refuses a body larger than 64 KiB', async () => {
    const res = await signedFetch(t, 'POST', 'StartWebcast', JSON.stringify(validStart({ BusinessId: long(70_000) })));
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as ApiResponse).ResponseMetadata.Error?.Message ?? '', /64 KiB/);
  });

  it('answers in its envelope what the HTTP parser refuses: a 40 KiB query (431), bytes that are not HTTP (400); and goes on answering', async () => {
    const res = await fetch(`${t.url}/?Action=GetWebCastTask&Version=2020-12-01&AppId=${long(40 * 1024)}`);
    assert.equal(res.status, 431);
    const body = (await res.json()) as ApiResponse;
    assert.equal(body.ResponseMetadata.Error?.Code, 'InvalidParameter');
    assert.match(body.ResponseMetadata.Error?.Message ?? '', /larger than 16 KiB/);
    assert.match(body.ResponseMetadata.RequestId, /\w{8,}/);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(t.url).port), '127.0.0.1', () => socket.write('\x00\x01GARBAGE / HTTP/9\r\n\r\n'));
      let out = '';
      socket.on('data', (d: Buffer) => (out += d.toString()));
      socket.on('end', () => resolve(out));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.equal((JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as ApiResponse).ResponseMetadata.Error?.Code, 'InvalidParameter');
    assert.equal((await api.get({ AppId: 'app1', RoomId: 'room1', TaskId: 'none' })).ResponseMetadata.Error?.Code, 'InvalidParameter.ErrorActiveTaskNotFound');
  });

  it('wants Start and Stop as POST and names the method when they come as GET', async () => {
    const res = await signedFetch(t, 'GET', 'StartWebcast', undefined);
    const body = (await res.json()) as ApiResponse;
    assert.equal(body.ResponseMetadata.Error?.Code, 'InvalidParameter');
    assert.match(body.ResponseMetadata.Error?.Message ?? '', /POST/);
  });

  it('validates Stop and Get parameters the same way', async () => {
    const stop = await api.stop({ AppId: 'app1', RoomId: 'room1' });
    assert.equal(stop.ResponseMetadata.Error?.Code, 'MissingParameter');
    assert.match(stop.ResponseMetadata.Error?.Message ?? '', /TaskId/);
    const get = await api.get({ AppId: 'app1', TaskId: 'x' });
    assert.equal(get.ResponseMetadata.Error?.Code, 'MissingParameter');
    assert.match(get.ResponseMetadata.Error?.Message ?? '', /RoomId/);
    const badGet = await api.get({ AppId: 'app 1', RoomId: 'room1', TaskId: 'x' });
    assert.equal(badGet.ResponseMetadata.Error?.Code, 'InvalidParameter');
  });
});

