import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Signer } from '@volcengine/openapi';
import { canonicalQuery, formatXDate, parseXDate, rfc3986, signaturesEqual, signRequest } from '../../src/api/signature.js';
import { redactUrl } from '../../src/log.js';

describe('the request signature', () => {
  it('signs exactly as the official Node SDK does, header for header', () => {
    const date = new Date('2026-11-25T08:09:10Z');
    const params = { Action: 'StartWebcast', Version: '2020-12-01', 'odd key': "a b!'()*~" };
    const body = JSON.stringify({ AppId: 'a', SourceURL: 'https://example.com/?q=1 2' });
    const sdkRequest = { region: 'cn-north-1', method: 'POST', params, pathname: '/', headers: {} as Record<string, string>, body };
    new Signer(sdkRequest, 'rtc').addAuthorization({ accessKeyId: 'AK', secretKey: 'SK' }, date);

    const url = new URL('http://h/');
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const ours = signRequest({ method: 'POST', url, body, accessKey: 'AK', secretKey: 'SK', now: date.getTime() });
    assert.equal(ours.Authorization, sdkRequest.headers.Authorization);
    assert.equal(ours['X-Content-Sha256'], sdkRequest.headers['X-Content-Sha256']);
    assert.equal(ours['X-Date'], '20261125T080910Z');
  });

  it('encodes the query by RFC 3986 and sorts it', () => {
    assert.equal(rfc3986("a b!'()*~-_."), 'a%20b%21%27%28%29%2A~-_.');
    assert.equal(canonicalQuery([['b', '2'], ['a', 'x y'], ['a', '1']]), 'a=1&a=x%20y&b=2');
  });

  it('reads and writes X-Date', () => {
    assert.equal(formatXDate(Date.UTC(2006, 0, 2, 15, 4, 5)), '20060102T150405Z');
    assert.equal(parseXDate('20060102T150405Z'), Date.UTC(2006, 0, 2, 15, 4, 5));
    assert.equal(parseXDate('2006-01-02T15:04:05Z'), undefined);
  });

  it('compares signatures of any length without throwing', () => {
    assert.equal(signaturesEqual('abcd', 'ABCD'), true);
    assert.equal(signaturesEqual('abcd', 'abce'), false);
    assert.equal(signaturesEqual('abcd', 'abcdef'), false);
  });
});

describe('URLs in logs', () => {
  it('keep scheme, host and path, and hide query, fragment and credentials', () => {
    assert.equal(redactUrl('https://example.com/a/b'), 'https://example.com/a/b');
    assert.equal(redactUrl('https://example.com:8443/a?token=x'), 'https://example.com:8443/a?[redacted]');
    assert.equal(redactUrl('https://u:p@example.com/#t=1'), 'https://example.com/?[redacted]');
    assert.equal(redactUrl('not a url'), '[unparseable URL]');
  });
});
