/** PeerLiveness: a peer that sends no frame for silentTicksMax ticks, or whose stream is lost, is silent until a frame comes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeerLiveness } from '../../broker/cluster/peer-liveness.js';

function setup(): { liveness: PeerLiveness; frames: Map<number, number>; silent: Array<[number, number, boolean]> } {
  const frames = new Map<number, number>([[2, 0], [3, 0]]);
  const silent: Array<[number, number, boolean]> = [];
  const liveness = new PeerLiveness({ silentTicksMax: 4, framesReceivedFrom: (peer) => frames.get(peer), onSilent: (peer, ticks, lost) => silent.push([peer, ticks, lost]) });
  return { liveness, frames, silent };
}

test('a peer that stops sending frames is silent after silentTicksMax ticks and reported every tick, until its frames resume', () => {
  const { liveness, frames, silent } = setup();
  liveness.connected(2);
  liveness.connected(3);
  for (let tick = 1; tick <= 10; tick++) {
    frames.set(2, (frames.get(2) ?? 0) + 1);
    if (tick <= 3) frames.set(3, (frames.get(3) ?? 0) + 1);
    liveness.tick();
  }
  // Peer 3's last frame was seen at tick 3: silent from tick 7 (4 ticks later) on, reported each tick.
  assert.deepEqual(silent, [[3, 4, false], [3, 5, false], [3, 6, false], [3, 7, false]]);
  assert.equal(liveness.isLive(2), true);
  assert.equal(liveness.isLive(3), false);
  assert.equal(liveness.ticksSinceHeard(3), 7);
  frames.set(3, 100);
  liveness.tick();
  assert.equal(liveness.isLive(3), true);
  assert.equal(silent.length, 4, 'a frame ends the reports');
  for (let tick = 0; tick < 4; tick++) liveness.tick();
  assert.deepEqual(silent.slice(4), [[2, 4, false], [2, 5, false], [3, 4, false]], 'both silent once no frame comes');
});

test('a lost stream makes the peer silent at once, also one never seen connected; a removed peer is forgotten', () => {
  const { liveness, frames, silent } = setup();
  liveness.connected(2);
  frames.set(2, 1);
  liveness.tick();
  liveness.tick();
  liveness.disconnected(2);
  assert.deepEqual(silent, [[2, 1, true]]);
  liveness.disconnected(2);
  assert.equal(silent.length, 1, 'lost once');
  liveness.tick();
  assert.deepEqual(silent[1], [2, 2, true], 'and reported on the next tick as lost');
  liveness.disconnected(3);
  assert.deepEqual(silent[2], [3, 0, true]);
  liveness.connected(2);
  assert.equal(liveness.isLive(2), true, 'its stream is back');
  frames.delete(2);
  frames.delete(3);
  liveness.tick();
  assert.equal(liveness.isLive(2), false);
  assert.equal(liveness.ticksSinceHeard(2), 0, 'no longer watched');
});
