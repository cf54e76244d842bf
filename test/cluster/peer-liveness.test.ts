/** PeerLiveness: a peer that sends no frame for silentTicksMax ticks, or whose stream is lost, is silent (once). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeerLiveness } from '../../broker/cluster/peer-liveness.js';

function setup(): { liveness: PeerLiveness; frames: Map<number, number>; silent: Array<[number, number]> } {
  const frames = new Map<number, number>([[2, 0], [3, 0]]);
  const silent: Array<[number, number]> = [];
  const liveness = new PeerLiveness({ silentTicksMax: 4, framesReceivedFrom: (peer) => frames.get(peer), onSilent: (peer, ticks) => silent.push([peer, ticks]) });
  return { liveness, frames, silent };
}

test('a peer that stops sending frames is silent after silentTicksMax ticks, once, and live again when frames resume', () => {
  const { liveness, frames, silent } = setup();
  liveness.connected(2);
  liveness.connected(3);
  for (let tick = 0; tick < 10; tick++) {
    frames.set(2, (frames.get(2) ?? 0) + 1);
    if (tick < 3) frames.set(3, (frames.get(3) ?? 0) + 1);
    liveness.tick();
  }
  // Peer 3's last frame was seen at tick 3; silent at tick 7 (4 ticks later), and only then.
  assert.deepEqual(silent, [[3, 4]]);
  assert.equal(liveness.isLive(2), true);
  assert.equal(liveness.isLive(3), false);
  assert.equal(liveness.ticksSinceHeard(3), 7);
  frames.set(3, 100);
  liveness.tick();
  assert.equal(liveness.isLive(3), true);
  for (let tick = 0; tick < 4; tick++) liveness.tick();
  assert.equal(silent.filter(([peer]) => peer === 3).length, 2, 'silent again after it stopped again');
});

test('a lost stream makes the peer silent at once, also one never seen connected; a removed peer is forgotten', () => {
  const { liveness, frames, silent } = setup();
  liveness.connected(2);
  liveness.tick();
  liveness.tick();
  liveness.disconnected(2);
  assert.deepEqual(silent, [[2, 2]]);
  liveness.disconnected(2);
  assert.equal(silent.length, 1, 'already silent: no second wake');
  liveness.disconnected(3);
  assert.deepEqual(silent[1], [3, 0]);
  frames.delete(2);
  liveness.tick();
  assert.equal(liveness.isLive(2), false);
  assert.equal(liveness.ticksSinceHeard(2), 0, 'no longer watched');
});
