import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Signer } from '@volcengine/openapi';
import { signRequest } from '../../src/api/signature.js';
import { ACCESS_KEY, SECRET_KEY, sdkClient, startTestNode, validStart, type ApiResponse, type TestNode } from '../helpers/node.js';
import { goPresignedQuery, pythonPresignedQuery, type PresignInput } from '../helpers/vendor-presign.js';

const MINUTE = 60_000;
const BOUND_KEY = { accessKey: 'AKBOUNDTOAPPA0001', secretKey: 'bound-secret-key-for-app-a-only' };

async function errorOf(res: Response): Promise<{ status: number; code: string | undefined; codeN: number | undefined; message: string }> {
  const body = (await res.json()) as ApiResponse;
  return { status: res.status, code: body.ResponseMetadata.Error?.Code, codeN: body.ResponseMetadata.Error?.CodeN, message: body.ResponseMetadata.Error?.Message ?? '' };
}

/** A GetWebCastTask request signed in the header form by the official SDK's own Signer. */
function sdkSignedGet(t: TestNode, params: Record<string, string>, opts: { date?: Date; secretKey?: string } = {}): Promise<Response> {
  const query = { Action: 'GetWebCastTask', Version: '2020-12-01', ...params };
  const request = { region: 'cn-north-1', method: 'GET', params: query, pathname: '/', headers: {} as Record<string, string> };
  new Signer(request, 'rtc').addAuthorization({ accessKeyId: ACCESS_KEY, secretKey: opts.secretKey ?? SECRET_KEY }, opts.date);
  return fetch(`${t.url}/?${new URLSearchParams(query)}`, { headers: request.headers });
}

/** The same request in the query-string form, as the SDK's getSignUrl makes it. */
function sdkPresignedGet(t: TestNode, params: Record<string, string>, date?: Date): Promise<Response> {
  const query = { Action: 'GetWebCastTask', Version: '2020-12-01', ...params };
  const signed = new Signer({ region: 'cn-north-1', method: 'GET', params: query, pathname: '/' }, 'rtc').getSignUrl({ accessKeyId: ACCESS_KEY, secretKey: SECRET_KEY }, date);
  return fetch(`${t.url}/?${signed}`);
}

describe('request signatures and access keys', () => {
  let t: TestNode;
  const task = { AppId: 'app1', RoomId: 'room1', TaskId: 'task1' };
  before(async () => {
    const keysFile = path.join(tmpdir(), `webcast-keys-${process.pid}.json`);
    writeFileSync(keysFile, JSON.stringify({ keys: [{ ...BOUND_KEY, appIds: ['appA'] }] }));
    t = await startTestNode({ env: { WEBCAST_KEYS_FILE: keysFile } });
    await sdkClient(t.host).start(validStart());
  });
  after(() => t.close());

  it('accepts a request signed in the header form by the SDK’s Signer', async () => {
    const res = await sdkSignedGet(t, task);
    assert.equal(res.status, 200);
  });

  it('answers an unsigned request with MissingAuthenticationToken', async () => {
    const e = await errorOf(await fetch(`${t.url}/?Action=GetWebCastTask&Version=2020-12-01&AppId=app1&RoomId=room1&TaskId=task1`));
    assert.deepEqual([e.status, e.code, e.codeN], [401, 'MissingAuthenticationToken', 100003]);
  });

  it('answers an Authorization without a Signature with MissingSignature', async () => {
    const url = `${t.url}/?Action=GetWebCastTask&Version=2020-12-01&AppId=app1&RoomId=room1&TaskId=task1`;
    const headers = { 'X-Date': '20260101T000000Z', Authorization: `HMAC-SHA256 Credential=${ACCESS_KEY}/20260101/cn-north-1/rtc/request, SignedHeaders=x-date` };
    const e = await errorOf(await fetch(url, { headers }));
    assert.deepEqual([e.status, e.code, e.codeN], [401, 'MissingSignature', 100005]);
  });

  it('answers an unknown access key with InvalidAccessKey', async () => {
    const res = await sdkClient(t.host, { accessKey: 'AKUNKNOWN00000', secretKey: SECRET_KEY }).get(task);
    assert.equal(res.ResponseMetadata.Error?.Code, 'InvalidAccessKey');
    assert.equal(res.ResponseMetadata.Error?.CodeN, 100009);
  });

  it('answers a wrong secret key with SignatureDoesNotMatch', async () => {
    const e = await errorOf(await sdkSignedGet(t, task, { secretKey: 'not-the-secret' }));
    assert.deepEqual([e.status, e.code, e.codeN], [401, 'SignatureDoesNotMatch', 100010]);
  });

  it('notices a query changed after signing', async () => {
    const query = { Action: 'GetWebCastTask', Version: '2020-12-01', ...task };
    const request = { region: 'cn-north-1', method: 'GET', params: query, pathname: '/', headers: {} as Record<string, string> };
    new Signer(request, 'rtc').addAuthorization({ accessKeyId: ACCESS_KEY, secretKey: SECRET_KEY });
    const e = await errorOf(await fetch(`${t.url}/?${new URLSearchParams({ ...query, TaskId: 'task2' })}`, { headers: request.headers }));
    assert.equal(e.code, 'SignatureDoesNotMatch');
  });

  it('notices a body changed after signing', async () => {
    const url = new URL(`${t.url}/?Action=StartWebcast&Version=2020-12-01`);
    const signedBody = JSON.stringify(validStart({ TaskId: 'signed' }));
    const headers = signRequest({ method: 'POST', url, body: signedBody, accessKey: ACCESS_KEY, secretKey: SECRET_KEY });
    const e = await errorOf(await fetch(url, { method: 'POST', headers, body: JSON.stringify(validStart({ TaskId: 'swapped' })) }));
    assert.equal(e.code, 'SignatureDoesNotMatch');
    assert.match(e.message, /X-Content-Sha256/);
    const get = await sdkClient(t.host).get({ ...task, TaskId: 'swapped' });
    assert.equal(get.ResponseMetadata.Error?.Code, 'InvalidParameter.ErrorActiveTaskNotFound');
  });

  it('accepts an X-Date up to 15 minutes off and refuses one further away with InvalidTimestamp', async () => {
    assert.equal((await sdkSignedGet(t, task, { date: new Date(Date.now() - 14 * MINUTE) })).status, 200);
    assert.equal((await sdkSignedGet(t, task, { date: new Date(Date.now() + 14 * MINUTE) })).status, 200);
    for (const offset of [-16 * MINUTE, 16 * MINUTE]) {
      const e = await errorOf(await sdkSignedGet(t, task, { date: new Date(Date.now() + offset) }));
      assert.deepEqual([e.status, e.code, e.codeN], [403, 'InvalidTimestamp', 100006]);
    }
  });

  it('accepts the query-string form of the signature made by the SDK', async () => {
    const res = await sdkPresignedGet(t, task);
    const body = (await res.json()) as ApiResponse;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal((body.Result as { WebCastTask: { Status: number } }).WebCastTask.Status, 1);
  });

  it('refuses a presigned URL after it expires, and one that was tampered with', async () => {
    const e = await errorOf(await sdkPresignedGet(t, task, new Date(Date.now() - 16 * MINUTE)));
    assert.equal(e.code, 'InvalidTimestamp');
    const query = { Action: 'GetWebCastTask', Version: '2020-12-01', ...task };
    const signed = new Signer({ region: 'cn-north-1', method: 'GET', params: query, pathname: '/' }, 'rtc').getSignUrl({ accessKeyId: ACCESS_KEY, secretKey: SECRET_KEY });
    const tampered = signed.replace('TaskId=task1', 'TaskId=task2');
    assert.notEqual(tampered, signed);
    assert.equal((await errorOf(await fetch(`${t.url}/?${tampered}`))).code, 'SignatureDoesNotMatch');
  });

  const presign = (form: 'go' | 'python', over: Partial<PresignInput> = {}) =>
    (form === 'go' ? goPresignedQuery : pythonPresignedQuery)({ method: 'GET', params: { Action: 'GetWebCastTask', Version: '2020-12-01', ...task }, accessKey: ACCESS_KEY, secretKey: SECRET_KEY, ...over });

  for (const form of ['go', 'python'] as const) {
    it(`accepts a presigned URL made as the official ${form === 'go' ? 'Go' : 'Python'} SDK makes it (X-SignedQueries signed), and refuses it with a parameter added or changed`, async () => {
      for (const sessionToken of [undefined, 'sts-token-1']) {
        const signed = presign(form, { sessionToken });
        assert.match(signed, /X-SignedQueries=/);
        const res = await fetch(`${t.url}/?${signed}`);
        const body = (await res.json()) as ApiResponse;
        assert.equal(res.status, 200, `${form} ${sessionToken ?? ''}: ${JSON.stringify(body)}`);
        assert.ok((body.Result as { WebCastTask?: { Status: number } }).WebCastTask?.Status);
        // A parameter nobody signed, even one the X-SignedQueries list does not name.
        for (const tampered of [`${signed}&TaskId=task2`, `${signed}&Extra=1`, signed.replace('TaskId=task1', 'TaskId=task2'), signed.replace(/X-SignedQueries=[^&]*/, 'X-SignedQueries=Action')]) {
          assert.equal((await errorOf(await fetch(`${t.url}/?${tampered}`))).code, 'SignatureDoesNotMatch', tampered);
        }
      }
    });
  }

  it('refuses a signature made for another service or region, in both forms', async () => {
    for (const scope of [{ service: 'iam' }, { region: 'us-east-1' }]) {
      const e = await errorOf(await fetch(`${t.url}/?${presign('go', scope)}`));
      assert.deepEqual([e.status, e.code], [401, 'SignatureDoesNotMatch']);
      assert.match(e.message, scope.service ? /service "iam".*"rtc"/ : /region "us-east-1".*"cn-north-1" \(WEBCAST_REGION\)/);
      const url = new URL(`${t.url}/?Action=GetWebCastTask&Version=2020-12-01&AppId=app1&RoomId=room1&TaskId=task1`);
      const headers = signRequest({ method: 'GET', url, accessKey: ACCESS_KEY, secretKey: SECRET_KEY, ...scope });
      assert.equal((await errorOf(await fetch(url, { headers }))).code, 'SignatureDoesNotMatch');
    }
  });

  it('refuses a presigned URL valid for more than 7 days', async () => {
    const query = { Action: 'GetWebCastTask', Version: '2020-12-01', ...task };
    const sign = (expires: string) => new Signer({ region: 'cn-north-1', method: 'GET', params: { ...query, 'X-Expires': expires }, pathname: '/' }, 'rtc').getSignUrl({ accessKeyId: ACCESS_KEY, secretKey: SECRET_KEY });
    assert.equal((await fetch(`${t.url}/?${sign('604800')}`)).status, 200);
    for (const expires of ['604801', '999999999']) {
      const e = await errorOf(await fetch(`${t.url}/?${sign(expires)}`));
      assert.deepEqual([e.status, e.code], [403, 'InvalidTimestamp']);
      assert.match(e.message, /X-Expires must be a whole number of seconds in \[1, 604800\] \(7 days\)/);
    }
  });

  it('refuses a body on a presigned URL that does not sign one (X-NotSignBody), and creates nothing', async () => {
    const query = { Action: 'StartWebcast', Version: '2020-12-01' };
    const signed = new Signer({ region: 'cn-north-1', method: 'POST', params: query, pathname: '/' }, 'rtc').getSignUrl({ accessKeyId: ACCESS_KEY, secretKey: SECRET_KEY });
    assert.match(signed, /X-NotSignBody=/);
    for (const taskId of ['unsigned-1', 'unsigned-2']) {
      const res = await fetch(`${t.url}/?${signed}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(validStart({ TaskId: taskId })) });
      const e = await errorOf(res);
      assert.deepEqual([e.status, e.code], [401, 'SignatureDoesNotMatch']);
      assert.match(e.message, /X-NotSignBody/);
      assert.equal((await sdkClient(t.host).get({ ...task, TaskId: taskId })).ResponseMetadata.Error?.Code, 'InvalidParameter.ErrorActiveTaskNotFound');
    }
  });

  it('accepts a request signed the way the official Go SDK does: content-type, host and every X- header', async () => {
    const url = new URL(`${t.url}/?Action=StartWebcast&Version=2020-12-01`);
    const body = JSON.stringify(validStart({ TaskId: 'go-style' }));
    const headers = signRequest({
      method: 'POST',
      url,
      body,
      accessKey: ACCESS_KEY,
      secretKey: SECRET_KEY,
      headers: { 'Content-Type': 'application/json', Host: url.host },
    });
    assert.match(headers.Authorization ?? '', /SignedHeaders=content-type;host;x-content-sha256;x-date,/);
    const res = await fetch(url, { method: 'POST', headers, body });
    assert.equal(res.status, 200, JSON.stringify(await res.clone().json()));
    assert.equal(((await res.json()) as ApiResponse).Result, 'ok');
  });

  it('keeps the nodes to a key allowed every AppId: a bound key may neither list nor drain them, by either spelling', async () => {
    const bound = sdkClient(t.host, BOUND_KEY);
    for (const action of ['ListWebcastNodes', 'ListWebCastNodes']) {
      assert.equal((await bound.api(action, 'GET')({})).ResponseMetadata.Error?.Code, 'AccessDenied', action);
    }
    for (const action of ['DrainWebcastNode', 'DrainWebCastNode']) {
      assert.equal((await bound.api(action, 'POST')({})).ResponseMetadata.Error?.Code, 'AccessDenied', action);
    }
    // The operator's key sees this node, and is told why a node outside a cluster is not drained.
    const nodes = (await sdkClient(t.host).api('ListWebcastNodes', 'GET')({})) as ApiResponse & { Result: { Nodes: { Role: string }[] } };
    assert.deepEqual(nodes.Result.Nodes.map((n) => n.Role), ['api']);
    assert.match(String((await sdkClient(t.host).api('DrainWebcastNode', 'POST')({})).ResponseMetadata.Error?.Message), /not part of a cluster/);
    // Odd NodeIds are refused before anything is looked up.
    for (const NodeId of [7, 'x'.repeat(65), ['a']]) {
      const odd = await sdkClient(t.host).api('DrainWebcastNode', 'POST')({ NodeId });
      assert.equal(odd.ResponseMetadata.Error?.Code, 'InvalidParameter', JSON.stringify(NodeId));
      assert.match(odd.ResponseMetadata.Error?.Message ?? '', /NodeId must be a node id/);
    }
  });

  it('refuses a key bound to other AppIds with AccessDenied and creates nothing', async () => {
    const bound = sdkClient(t.host, BOUND_KEY);
    const denied = await bound.start(validStart({ TaskId: 'denied' }));
    assert.equal(denied.ResponseMetadata.Error?.Code, 'AccessDenied');
    assert.equal(denied.ResponseMetadata.Error?.CodeN, 100013);
    assert.match(denied.ResponseMetadata.Error?.Message ?? '', /app1/);
    assert.equal((await bound.get(task)).ResponseMetadata.Error?.Code, 'AccessDenied');
    assert.equal((await bound.stop(task)).ResponseMetadata.Error?.Code, 'AccessDenied');
    const stillThere = await sdkClient(t.host).get(task);
    assert.equal((stillThere.Result as { WebCastTask: { Status: number } }).WebCastTask.Status, 1);
    assert.equal((await sdkClient(t.host).get({ ...task, TaskId: 'denied' })).ResponseMetadata.Error?.Code, 'InvalidParameter.ErrorActiveTaskNotFound');
    const own = await bound.start(validStart({ AppId: 'appA' }));
    assert.equal(own.Result, 'ok');
  });
});
