import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ipaddr from 'ipaddr.js';
import { nonPublicRanges, tagOf, udpCandidates } from '../../src/capture/browser-firewall.js';
import { foreignNodeState } from '../../src/capture/pid-namespaces.js';
import { EgressPolicy } from '../../src/capture/egress-policy.js';

describe('the browser firewall\'s rules', () => {
  it('rejects every range the HTTP guard refuses, and nothing public', () => {
    const v4 = nonPublicRanges('ipv4');
    const v6 = nonPublicRanges('ipv6');
    for (const cidr of ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10', '224.0.0.0/4', '0.0.0.0/8']) {
      assert.ok(v4.includes(cidr), cidr);
    }
    for (const cidr of ['::1/128', 'fc00::/7', 'fe80::/10', 'ff00::/8', '::ffff:0:0/96']) assert.ok(v6.includes(cidr), cidr);
    const policy = new EgressPolicy();
    const inAny = (address: string, ranges: string[]) => ranges.some((r) => {
      const [net, bits] = ipaddr.parseCIDR(r);
      const a = ipaddr.parse(address);
      return a.kind() === net.kind() && a.match(net, bits);
    });
    // Addresses the proxy refuses fall in a rejected range, and those it lets through do not.
    for (const a of ['127.0.0.1', '10.1.2.3', '169.254.169.254', '100.100.1.1', '192.0.2.7', '239.1.1.1', '255.255.255.255']) {
      assert.ok(policy.refusal('x', a), a);
      assert.ok(inAny(a, v4), a);
    }
    for (const a of ['8.8.8.8', '11.99.1.2', '203.0.114.1']) {
      assert.equal(policy.refusal('x', a), undefined, a);
      assert.equal(inAny(a, v4), false, a);
    }
    assert.equal(inAny('2606:4700::1111', v6), false);
  });

  it('opens exactly the UDP candidates of a room\'s answer, once each', () => {
    const answer = [
      'v=0',
      'a=candidate:1 1 udp 2015363327 192.0.2.2 23413 typ host',
      'a=candidate:2 1 udp 2015363583 fd00::2 34433 typ host',
      'a=candidate:3 1 udp 2015363839 fe80::fc:ff:fe00:1 28441 typ host',
      'a=candidate:4 1 tcp 1518280447 192.0.2.2 9 typ host tcptype active',
      'a=candidate:5 1 udp 2113937151 0a1b2c3d.local 50889 typ host',
      'm=audio 9 UDP/TLS/RTP/SAVPF 111',
      'a=candidate:1 1 udp 2015363327 192.0.2.2 23413 typ host',
    ].join('\r\n');
    assert.deepEqual(udpCandidates(answer), [
      { address: '192.0.2.2', port: 23413 },
      { address: 'fd00::2', port: 34433 },
      { address: 'fe80::fc:ff:fe00:1', port: 28441 },
    ]);
  });

  it('reads a rule\'s node from its tag, with its PID namespace where the tag has one', () => {
    const rule = (tag: string) => `-A OUTPUT -m owner --uid-owner 1-2 -m comment --comment "${tag}" -j WEBCAST-BROWSER`;
    assert.deepEqual(tagOf(rule('webcast-node:abc:123:4026531836')), { pid: 123, pidNamespace: 4026531836 });
    assert.deepEqual(tagOf(rule('webcast-node:abc:123:4026531836:media7')), { pid: 123, pidNamespace: 4026531836 });
    // Tags of earlier versions: no namespace.
    assert.deepEqual(tagOf(rule('webcast-node:abc:123')), { pid: 123 });
    assert.deepEqual(tagOf(rule('webcast-node:abc:123:media2')), { pid: 123 });
    assert.equal(tagOf(rule('something else')), undefined);
  });

  it('takes a node of another PID namespace for dead only when it can see that it is gone', () => {
    const INITIAL = 0xeffffffc;
    const CONTAINER = 4026532999;
    const view = (own: number, processes: { pidNamespace: number | 'hidden'; pidThere: number }[]) => ({ own, processes: () => processes });
    // Its process is seen: it runs.
    assert.equal(foreignNodeState(7, CONTAINER, view(INITIAL, [{ pidNamespace: CONTAINER, pidThere: 7 }])), 'live');
    // Its namespace is seen, without it: it was killed, its container lives on.
    assert.equal(foreignNodeState(7, CONTAINER, view(INITIAL, [{ pidNamespace: CONTAINER, pidThere: 1 }])), 'dead');
    // From the initial namespace, which sees every process, its namespace is gone.
    assert.equal(foreignNodeState(7, CONTAINER, view(INITIAL, [{ pidNamespace: INITIAL, pidThere: 7 }])), 'dead');
    // ...unless a process of another namespace, not ours to see (no CAP_SYS_PTRACE), has its pid there: it may be it.
    assert.equal(foreignNodeState(7, CONTAINER, view(INITIAL, [{ pidNamespace: 'hidden', pidThere: 7 }])), 'unknown');
    assert.equal(foreignNodeState(7, CONTAINER, view(INITIAL, [{ pidNamespace: 'hidden', pidThere: 9 }])), 'dead');
    // From a container of its own, another container's processes are not seen: a node on the
    // host's network there must not take the host's node for dead, whatever runs as that pid here.
    assert.equal(foreignNodeState(123456, INITIAL, view(CONTAINER, [{ pidNamespace: CONTAINER, pidThere: 1 }])), 'unknown');
    assert.equal(foreignNodeState(1, INITIAL, view(CONTAINER, [{ pidNamespace: CONTAINER, pidThere: 1 }])), 'unknown');
  });
});
