import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TokenSigner } from '../../src/console/tokens.js';
import { ACCESS_KEY, SECRET_KEY, startTestNode, validStart, type TestNode } from '../helpers/node.js';

const BOUND = { accessKey: 'AKBOUNDCONSOLE0001', secretKey: 'bound-console-secret-0000001', appIds: ['appA'] };
const CONSOLE = { 'x-webcast-console': '1', 'content-type': 'application/json' };

interface Envelope {
  ResponseMetadata: { Error?: { Code: string; Message: string } };
  Result?: Record<string, unknown>;
}

describe('the console\'s HTTP side: pages, sessions, guards', () => {
  let t: TestNode;
  const keysFile = path.join(tmpdir(), `webcast-console-keys-${process.pid}.json`);
  before(async () => {
    writeFileSync(keysFile, JSON.stringify({ keys: [BOUND] }));
    t = await startTestNode({ env: { WEBCAST_KEYS_FILE: keysFile } });
  });
  after(async () => {
    await t.close();
    rmSync(keysFile, { force: true });
  });

  const signIn = (accessKey: string, secretKey: string) =>
    fetch(`${t.url}/console/api/session`, { method: 'POST', headers: CONSOLE, body: JSON.stringify({ AccessKey: accessKey, SecretKey: secretKey }) });
  const sessionOf = async (accessKey: string, secretKey: string): Promise<string> => {
    const res = await signIn(accessKey, secretKey);
    assert.equal(res.status, 200);
    return (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  };
  const get = async (p: string, cookie?: string) => {
    const res = await fetch(`${t.url}/console/api${p}`, { headers: cookie ? { cookie } : {} });
    return { status: res.status, body: (await res.json()) as Envelope };
  };
  const post = async (p: string, body: unknown, headers: Record<string, string>) => {
    const res = await fetch(`${t.url}/console/api${p}`, { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Envelope };
  };

  it('sends a browser that opens / to the console page, and keeps / for API calls', async () => {
    const home = await fetch(`${t.url}/`, { redirect: 'manual' });
    assert.equal(home.status, 302);
    assert.equal(home.headers.get('location'), '/console');
    const page = await fetch(`${t.url}/console`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'.*frame-ancestors 'none'/);
    assert.equal((await fetch(`${t.url}/console/`)).status, 200);
    const html = await page.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, 'the page loads its bundled script from this service, not a CDN');
    assert.equal((await fetch(`${t.url}${script}`)).status, 200);
    const api = await fetch(`${t.url}/?Action=GetWebCastTask&Version=2020-12-01`);
    assert.equal(((await api.json()) as Envelope).ResponseMetadata.Error?.Code, 'MissingAuthenticationToken');
  });

  it('answers a wrong secret and an unknown key alike, with no cookie, and never logs the secret', async () => {
    for (const res of [await signIn(ACCESS_KEY, 'wrong-secret'), await signIn('AKNOBODY', SECRET_KEY)]) {
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('set-cookie'), null);
      assert.deepEqual(((await res.json()) as Envelope).ResponseMetadata.Error, { Code: 'InvalidAccessKey', Message: 'the access key or the secret key is wrong', CodeN: 100009 });
    }
    const ok = await signIn(ACCESS_KEY, SECRET_KEY);
    const cookie = ok.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^webcast_console=[\w-]+\.[\w-]+; Max-Age=28800; Path=\/; HttpOnly; SameSite=Strict$/);
    // Behind a TLS proxy on this machine (README: Running it as a system service), the cookie is Secure.
    const viaTls = await fetch(`${t.url}/console/api/session`, { method: 'POST', headers: { ...CONSOLE, 'x-forwarded-proto': 'https' }, body: JSON.stringify({ AccessKey: ACCESS_KEY, SecretKey: SECRET_KEY }) });
    assert.match(viaTls.headers.get('set-cookie') ?? '', /; Secure; SameSite=Strict$/);
    assert.ok(!t.logs.some((l) => l.includes(SECRET_KEY) || l.includes('wrong-secret')));
  });

  it('refuses the console API without a session, with an expired or forged one, or with a viewer link as a session', async () => {
    assert.equal((await get('/tasks')).body.ResponseMetadata.Error?.Code, 'MissingAuthenticationToken');
    const signer = TokenSigner.fromDataDir(t.dataDir);
    const expired = `webcast_console=${signer.sign('session', { k: ACCESS_KEY, exp: Date.now() - 1000 })}`;
    assert.equal((await get('/tasks', expired)).status, 401);
    const forged = `webcast_console=${new TokenSigner(Buffer.alloc(32, 7)).sign('session', { k: ACCESS_KEY, exp: Date.now() + 60_000 })}`;
    assert.equal((await get('/tasks', forged)).status, 401);
    const viewer = signer.sign('viewer', { a: 'app1', r: 'room1', exp: Date.now() + 60_000 });
    assert.equal((await get('/tasks', `webcast_console=${viewer}`)).status, 401);
    const valid = `webcast_console=${signer.sign('session', { k: ACCESS_KEY, exp: Date.now() + 60_000 })}`;
    assert.equal((await get('/tasks', valid)).status, 200);
  });

  it('takes changes only from its own scripts (a custom header a cross-site form cannot send)', async () => {
    const cookie = await sessionOf(ACCESS_KEY, SECRET_KEY);
    const refused = await post('/tasks', validStart({ TaskId: 'csrf' }), { cookie, 'content-type': 'application/json' });
    assert.equal(refused.status, 403);
    assert.match(refused.body.ResponseMetadata.Error?.Message ?? '', /x-webcast-console/);
    const listed = await get('/tasks?AppId=app1', cookie);
    assert.deepEqual(listed.body.Result?.WebCastTasks, []);
  });

  it('validates a start like the API and lists, shows and stops the task', async () => {
    const cookie = await sessionOf(ACCESS_KEY, SECRET_KEY);
    const bad = await post('/tasks', validStart({ SourceURL: 'file:///etc/passwd', VideoSolutions: [{ Width: 4000 }] }), { ...CONSOLE, cookie });
    assert.equal(bad.status, 400);
    assert.match(bad.body.ResponseMetadata.Error?.Message ?? '', /SourceURL.*VideoSolutions\[0\]\.Width/);
    const started = await post('/tasks', validStart({ TaskId: 'from-console' }), { ...CONSOLE, cookie });
    assert.equal(started.status, 200);
    assert.equal(started.body.Result?.Started, true);
    const listed = await get('/tasks?Status=1', cookie);
    assert.deepEqual((listed.body.Result?.WebCastTasks as { TaskId: string }[]).map((x) => x.TaskId), ['from-console']);
    const stopped = await post('/tasks/app1/room1/from-console/stop', {}, { ...CONSOLE, cookie });
    assert.equal(stopped.status, 200);
    const shown = await get('/tasks/app1/room1/from-console', cookie);
    assert.deepEqual([(shown.body.Result?.WebCastTask as { Status: number }).Status, (shown.body.Result?.Events as { EventType: string }[]).map((e) => e.EventType)], [3, ['WebcastEnd']]);
  });

  it('keeps a key bound to some apps to those apps', async () => {
    const cookie = await sessionOf(BOUND.accessKey, BOUND.secretKey);
    assert.equal((await get('/tasks', cookie)).body.ResponseMetadata.Error?.Code, 'MissingParameter');
    assert.equal((await get('/tasks?AppId=app1', cookie)).body.ResponseMetadata.Error?.Code, 'AccessDenied');
    assert.equal((await get('/tasks?AppId=appA', cookie)).status, 200);
    assert.equal((await post('/tasks', validStart({ TaskId: 'x' }), { ...CONSOLE, cookie })).body.ResponseMetadata.Error?.Code, 'AccessDenied');
    assert.equal((await post('/rooms/app1/room1/share', {}, { ...CONSOLE, cookie })).body.ResponseMetadata.Error?.Code, 'AccessDenied');
    // The nodes serve every customer: a key bound to some apps does not see them.
    assert.equal((await get('/nodes', cookie)).body.ResponseMetadata.Error?.Code, 'AccessDenied');
    assert.equal((await get('/nodes')).status, 401, 'nor does anyone without a session');
  });

  it('says plainly that a node without a media worker has no viewer and no thumbnail', async () => {
    const cookie = await sessionOf(ACCESS_KEY, SECRET_KEY);
    const publishers = await get('/rooms/app1/room1/publishers', cookie);
    assert.equal(publishers.status, 404);
    assert.match(publishers.body.ResponseMetadata.Error?.Message ?? '', /no media worker/);
    assert.equal((await get('/tasks/app1/room1/from-console/thumbnail', cookie)).body.ResponseMetadata.Error?.Code, 'ResourceNotFound');
  });

  it('slows down guessing: more than 10 sign-ins a minute from one address are refused', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 12; i += 1) codes.push((await signIn(ACCESS_KEY, 'guess')).status);
    const refused = await signIn(ACCESS_KEY, SECRET_KEY);
    assert.equal(refused.status, 429);
    assert.equal(((await refused.json()) as Envelope).ResponseMetadata.Error?.Code, 'FlowLimitExceeded');
    assert.ok(codes.includes(429));
  });
});
