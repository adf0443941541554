import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { janusConfigFiles } from '../../src/rooms/janus/embedded-janus.js';
import { fillWhipTemplate, WhipEndpoints } from '../../src/rooms/whip/whip-endpoints.js';

const dir = mkdtempSync(path.join(tmpdir(), 'webcast-config-'));

describe('configuration', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has the documented defaults', () => {
    const c = loadConfig({});
    assert.deepEqual([c.host, c.port, c.dataDir, c.accessKey, c.region], ['127.0.0.1', 8080, path.resolve('data'), undefined, 'cn-north-1']);
  });

  it('reads a JSON config file, and the environment wins over it', () => {
    const file = path.join(dir, 'webcast.json');
    writeFileSync(file, JSON.stringify({ WEBCAST_PORT: 9000, WEBCAST_HOST: '0.0.0.0', WEBCAST_RATE_LIMITS: 'GetWebCastTask=7' }));
    const c = loadConfig({ WEBCAST_CONFIG: file, WEBCAST_HOST: '127.0.0.2' });
    assert.deepEqual([c.port, c.host, c.rateLimits.GetWebCastTask], [9000, '127.0.0.2', 7]);
  });

  it('names the setting that is wrong', () => {
    assert.throws(() => loadConfig({ WEBCAST_PORT: 'eighty' }), /WEBCAST_PORT must be an integer/);
    const file = path.join(dir, 'typo.json');
    writeFileSync(file, JSON.stringify({ WEBCAST_PROT: 1 }));
    assert.throws(() => loadConfig({ WEBCAST_CONFIG: file }), /WEBCAST_PROT/);
    assert.throws(() => loadConfig({ WEBCAST_SECRET_KEY: 'x' }), /set both/);
    assert.throws(() => loadConfig({ WEBCAST_VIDEO_DELAY_MS: '-5' }), /WEBCAST_VIDEO_DELAY_MS must be an integer in \[0, 500\]/);
    assert.deepEqual([loadConfig({}).videoDelayMs, loadConfig({ WEBCAST_VIDEO_DELAY_MS: '0' }).videoDelayMs], [35, 0]);
  });

  it('bounds the cloud browsers: their uids, memory and spares, with clear errors', () => {
    const c = loadConfig({ WEBCAST_MAX_TASKS: '4' });
    assert.deepEqual(c.browserUids, { first: 2000000000, last: 2000999999 });
    assert.ok(c.pageMemoryMb >= 256 && c.pageMemoryMb <= 2048, `${c.pageMemoryMb} MB`);
    assert.equal(c.browserPool, 1);
    assert.deepEqual([loadConfig({ WEBCAST_PAGE_MEMORY_MB: '512', WEBCAST_BROWSER_POOL: '0', WEBCAST_BROWSER_UIDS: '300000-300999' })].map((x) => [x.pageMemoryMb, x.browserPool, x.browserUids]), [[512, 0, { first: 300000, last: 300999 }]]);
    assert.throws(() => loadConfig({ WEBCAST_PAGE_MEMORY_MB: '64' }), /WEBCAST_PAGE_MEMORY_MB must be an integer in \[128, 65536\]/);
    assert.throws(() => loadConfig({ WEBCAST_BROWSER_POOL: '9' }), /WEBCAST_BROWSER_POOL must be an integer in \[0, 8\]/);
    assert.deepEqual(['', '0', '1500'].map((v) => loadConfig({ WEBCAST_TASK_CPU_MILLICORES: v }).taskCpuMillicores), [undefined, 0, 1500]);
    for (const bad of ['1.5', '50', '-1', 'two']) {
      assert.throws(() => loadConfig({ WEBCAST_TASK_CPU_MILLICORES: bad }), /WEBCAST_TASK_CPU_MILLICORES must be 0 \(no ceiling\) or an integer in \[100, 1000000\]/, bad);
    }
    for (const bad of ['0-1000', '5000-5010', 'abc', '3000000000-3000001000']) {
      assert.throws(() => loadConfig({ WEBCAST_BROWSER_UIDS: bad }), /WEBCAST_BROWSER_UIDS must be a range/, bad);
    }
  });

  it('sets what pages see: Chinese and China\'s time by default, any valid language and zone, one-line User-Agents', () => {
    const d = loadConfig({});
    assert.deepEqual([d.browserLocale, d.browserTimezone, d.browserUserAgent], ['zh-CN', 'Asia/Shanghai', undefined]);
    const c = loadConfig({ WEBCAST_BROWSER_LOCALE: 'zh-tw', WEBCAST_BROWSER_TIMEZONE: 'UTC', WEBCAST_BROWSER_USER_AGENT: 'Mozilla/5.0 Test' });
    assert.deepEqual([c.browserLocale, c.browserTimezone, c.browserUserAgent], ['zh-TW', 'UTC', 'Mozilla/5.0 Test']);
    for (const bad of ['chinese', 'zh_CN', 'zh-CN --no-sandbox', '--lang']) assert.throws(() => loadConfig({ WEBCAST_BROWSER_LOCALE: bad }), /WEBCAST_BROWSER_LOCALE must be a language tag/, bad);
    for (const bad of ['Asia/Beijing', 'CST+8', '../../etc/passwd']) assert.throws(() => loadConfig({ WEBCAST_BROWSER_TIMEZONE: bad }), /WEBCAST_BROWSER_TIMEZONE must be an IANA time zone/, bad);
    assert.throws(() => loadConfig({ WEBCAST_BROWSER_USER_AGENT: 'a\nb' }), /WEBCAST_BROWSER_USER_AGENT must be one line/);
  });

  it('offers Janus media beyond loopback only when asked, and maps a public address behind NAT', () => {
    const base = { libDir: '/nonexistent', wsPort: 1, httpPort: 2, rtpPortRange: '20000-40000', apiSecret: 's3cret' };
    const plain = janusConfigFiles(base)['janus.jcfg'] ?? '';
    assert.match(plain, /api_secret = "s3cret"\n/);
    assert.match(plain, /ice_enforce_list = "lo"\n/);
    assert.doesNotMatch(plain, /nat_1_1_mapping/);
    const c = loadConfig({ WEBCAST_JANUS_ICE_INTERFACES: 'eth0, 10.1.', WEBCAST_JANUS_PUBLIC_IP: '203.0.113.7' });
    const wide = janusConfigFiles({ ...base, iceInterfaces: c.janusIceInterfaces, publicIp: c.janusPublicIp })['janus.jcfg'] ?? '';
    assert.match(wide, /ice_enforce_list = "lo,eth0,10\.1\."\n {2}nat_1_1_mapping = "203\.0\.113\.7"\n {2}keep_private_host = true/);
    assert.throws(() => loadConfig({ WEBCAST_JANUS_PUBLIC_IP: 'my-host' }), /WEBCAST_JANUS_PUBLIC_IP must be an IP address/);
  });

  it('publishes over WHIP only to an http(s) template it understands, with a token per AppId', () => {
    assert.equal(loadConfig({}).roomBackend, 'janus');
    assert.throws(() => loadConfig({ WEBCAST_ROOM_BACKEND: 'livekit' }), /WEBCAST_ROOM_BACKEND must be janus or whip, got "livekit"/);
    assert.throws(() => loadConfig({ WEBCAST_ROOM_BACKEND: 'whip' }), /WEBCAST_ROOM_BACKEND=whip needs WEBCAST_WHIP_URL/);
    assert.throws(() => loadConfig({ WEBCAST_ROOM_BACKEND: 'whip', WEBCAST_WHIP_URL: 'https://sfu.example/whip/{Room}' }), /unknown placeholder \{Room\}/);
    assert.throws(() => loadConfig({ WEBCAST_ROOM_BACKEND: 'whip', WEBCAST_WHIP_URL: 'ftp://sfu.example/{RoomId}' }), /must be an http\(s\) URL, got ftp:/);
    assert.throws(() => loadConfig({ WEBCAST_ROOM_BACKEND: 'whip', WEBCAST_WHIP_URL: 'sfu.example/{RoomId}' }), /WEBCAST_WHIP_URL must be a URL/);
    // A WHIP worker of a cluster needs no Janus.
    const c = loadConfig({ WEBCAST_ROOM_BACKEND: 'whip', WEBCAST_WHIP_URL: 'https://sfu.example/whip/{RoomId}/{UserId}', WEBCAST_DATABASE_URL: 'postgres://u@h/d' });
    assert.equal(c.roomBackend, 'whip');
    // Each value stays one path segment of the endpoint, whatever a customer put in it.
    assert.equal(fillWhipTemplate('https://sfu.example/whip/{AppId}/{RoomId}/{UserId}?t={TaskId}', { AppId: 'a b', RoomId: '../admin', UserId: 'u/1?x=2', TaskId: '#t' }), 'https://sfu.example/whip/a%20b/..%2Fadmin/u%2F1%3Fx%3D2?t=%23t');
    const file = path.join(dir, 'whip.json');
    writeFileSync(file, JSON.stringify({ whip: [{ appId: 'a1', url: 'https://one.example/{RoomId}', token: 'k1' }] }));
    const endpoints = WhipEndpoints.load({ file, url: 'https://all.example/{RoomId}', token: 'k0' });
    assert.deepEqual(endpoints.for('a1'), { appId: 'a1', url: 'https://one.example/{RoomId}', token: 'k1' });
    assert.deepEqual(endpoints.for('other'), { appId: '*', url: 'https://all.example/{RoomId}', token: 'k0' });
    writeFileSync(file, JSON.stringify({ whip: [{ appId: 'a1', url: 'https://one.example/{Rom}' }] }));
    assert.throws(() => WhipEndpoints.load({ file }), /whip\.0\.url: unknown placeholder \{Rom\}/);
    writeFileSync(file, JSON.stringify({ whip: [{ url: 'https://one.example/' }] }));
    assert.throws(() => WhipEndpoints.load({ file }), /whip\.0\.appId/);
  });
});
