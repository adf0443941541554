import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { candidatesFromOwnNetwork, NODE_FROM_BROWSER } from '../../src/capture/browser-network.js';
import { udpCandidates } from '../../src/capture/browser-firewall.js';

const answer = [
  'v=0',
  'o=- 1 1 IN IP4 127.0.0.1',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'c=IN IP4 127.0.0.1',
  'a=candidate:1 1 udp 2015363327 127.0.0.1 20001 typ host',
  'a=candidate:2 1 udp 2015363583 ::1 20002 typ host',
  'a=candidate:3 1 UDP 1677729535 203.0.113.7 20003 typ srflx raddr 192.168.1.2 rport 20003',
  'a=candidate:4 1 udp 2015363327 192.168.1.2 20004 typ host',
  'a=candidate:5 1 udp 2015363327 127.0.0.53 20005 typ host',
  'a=end-of-candidates',
  '',
].join('\r\n');

describe('a room\'s answer as a browser in a network of its own reaches it', () => {
  it('reaches the node\'s IPv4 loopback at its gateway, on the same ports, and leaves the rest as it is', () => {
    const seen = candidatesFromOwnNetwork(answer);
    assert.deepEqual(udpCandidates(seen), [
      { address: NODE_FROM_BROWSER, port: 20001 },
      { address: '203.0.113.7', port: 20003 },
      { address: '192.168.1.2', port: 20004 },
      { address: NODE_FROM_BROWSER, port: 20005 },
    ]);
    // Only candidates change: the rest of the SDP, line endings included, is as it was.
    assert.equal(seen.split('\r\n').length, answer.split('\r\n').length - 1);
    assert.ok(seen.includes('c=IN IP4 127.0.0.1\r\n'));
    assert.ok(seen.includes('a=end-of-candidates\r\n'));
  });

  it('leaves out IPv6 loopback, which its network cannot reach', () => {
    assert.ok(!candidatesFromOwnNetwork(answer).includes(' ::1 '));
  });

  it('keeps an answer with \\n line endings and no loopback as it is', () => {
    const plain = 'v=0\na=candidate:1 1 udp 1 198.51.100.1 3478 typ host\n';
    assert.equal(candidatesFromOwnNetwork(plain), plain);
  });
});
