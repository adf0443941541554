import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { RoomRef, Subscription } from '../../src/rooms/room-backend.js';
import { TooManyViewersError, ViewerRegistry, type RoomViewing } from '../../src/console/viewers.js';

const ROOM: RoomRef = { appId: 'app1', roomId: 'hall' };

/** Rooms whose subscriptions take `delayMs` to open; counts what is still open. */
function rooms(delayMs = 0): RoomViewing & { open: number } {
  const state = {
    open: 0,
    publishers: () => Promise.resolve([{ userId: 'bot' }]),
    subscribe: async (_room: RoomRef, userId: string): Promise<Subscription> => {
      await new Promise((r) => setTimeout(r, delayMs));
      state.open += 1;
      return {
        offerSdp: 'v=0',
        userId,
        connected: true,
        start: () => Promise.resolve(),
        setLayer: () => Promise.resolve(),
        trickle: () => Promise.resolve(),
        onEnded: () => undefined,
        close: () => ((state.open -= 1), Promise.resolve()),
      };
    },
  };
  return state;
}

const attach = (subscription: Subscription) => Promise.resolve({ subscription, result: undefined });

describe('the viewer registry’s limits', () => {
  it('gives one address its share of seats, and the others theirs', async () => {
    const r = rooms();
    const viewers = new ViewerRegistry(r, pino({ level: 'silent' }), { max: 50, perClient: 3 });
    const ids = [];
    for (let i = 0; i < 3; i += 1) ids.push((await viewers.open(ROOM, 'bot', undefined, '203.0.113.7', attach)).id);
    await assert.rejects(viewers.open(ROOM, 'bot', undefined, '203.0.113.7', attach), (err: Error) => err instanceof TooManyViewersError && /203\.0\.113\.7 already watches 3 times/.test(err.message));
    assert.equal(r.open, 3, 'the refused open took no subscription');
    await viewers.open(ROOM, 'bot', undefined, '198.51.100.2', attach);
    await viewers.close(ids[0] ?? '');
    await viewers.open(ROOM, 'bot', undefined, '203.0.113.7', attach);
    assert.equal(viewers.size, 4);
    await viewers.closeAll();
  });

  it('holds its caps against a burst of opens that are all still on their way', async () => {
    const r = rooms(50);
    const viewers = new ViewerRegistry(r, pino({ level: 'silent' }), { max: 5, perClient: 3 });
    const burst = await Promise.allSettled(Array.from({ length: 8 }, () => viewers.open(ROOM, 'bot', undefined, '203.0.113.7', attach)));
    assert.equal(burst.filter((b) => b.status === 'fulfilled').length, 3);
    const others = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => viewers.open(ROOM, 'bot', undefined, `198.51.100.${i}`, attach)));
    assert.equal(others.filter((b) => b.status === 'fulfilled').length, 2, 'the node holds 5 in all');
    const refused = others.find((b): b is PromiseRejectedResult => b.status === 'rejected');
    assert.match(String(refused?.reason), /already serves 5 viewers/);
    assert.equal(r.open, 5);
    await viewers.closeAll();
    assert.equal(r.open, 0);
  });
});
