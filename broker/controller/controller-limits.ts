/**
 * Every bound of the controller runtime, with its unit. The timing defaults match the broker
 * settings of the same names (broker.heartbeat.interval.ms, broker.lease.ms, ...).
 */

const KIB = 1024;
const MIB = 1024 * KIB;

/** Broker -> controller heartbeat period. */
export const HEARTBEAT_INTERVAL_MS_DEFAULT = 500;
/** A broker not heard from for this long is fenced. */
export const LEASE_MS_DEFAULT = 9000;
/** A write (forwarding to the leader, retries across leader changes, local apply) gives up after this. */
export const FORWARD_TIMEOUT_MS_DEFAULT = 10_000;
/** Longest a leadership change waits before the extra heartbeat that reports it leaves. */
export const LEADERSHIP_HEARTBEAT_DELAY_MS = 50;
/** Longest a closing leader waits for its successor to take over before it closes anyway. */
export const LEADERSHIP_HANDOVER_WAIT_MS = 1000;
/** Leader updates reported by heartbeats wait this long for company before they are proposed. */
export const LEADER_UPDATE_LINGER_MS = 20;
/** Pause between attempts of a write while no leader is known or the leader is unreachable. */
export const WRITE_RETRY_BACKOFF_MS = 50;

/** Requests waiting for the leader's one-at-a-time processing; beyond it they are refused. */
export const LEADER_QUEUE_LENGTH_MAX = 256;
/** Leader updates carried by one leaderUpdates command. */
export const LEADER_UPDATES_PER_COMMAND_MAX = 10_000;
/** Leader updates waiting to be proposed; reports beyond it wait for the next heartbeat. */
export const LEADER_UPDATES_PENDING_MAX = 100_000;
/** Leaderships one heartbeat may carry. */
export const HEARTBEAT_LEADERSHIPS_MAX = 100_000;
/** Partitions one reassign request may name. */
export const REASSIGN_PARTITIONS_MAX = 10_000;
/** Brokers one replica list (a reassignment target, a finished reassignment) may name. */
export const REPLICAS_PER_PARTITION_MAX = 256;
/** Config entries one create or alter request may carry (far more than there are topic configs). */
export const CONFIG_ENTRIES_MAX = 64;
/** Length of a config name or value. */
export const CONFIG_TEXT_LENGTH_MAX = 1024;
/** Length of a host, rack or internal address in a registration. */
export const ADDRESS_TEXT_LENGTH_MAX = 1024;

/** One encoded command (one record of the controller log). */
export const COMMAND_BYTES_MAX = 4 * MIB;
/** The controller log's largest batch: one command plus the batch and record framing. */
export const CONTROLLER_BATCH_BYTES_MAX = COMMAND_BYTES_MAX + 64 * KIB;
/** Segment size of the controller log. */
export const CONTROLLER_SEGMENT_BYTES = 64 * MIB;
/** Tail cache of the controller log (followers catching up, the apply loop). */
export const CONTROLLER_TAIL_CACHE_BYTES = 4 * MIB;
/** Bytes of committed batches the apply loop reads at once. */
export const APPLY_READ_BYTES_MAX = 8 * MIB;
/** Callers waiting for this broker's store to reach an offset. */
export const APPLY_WAITERS_MAX = 4096;
