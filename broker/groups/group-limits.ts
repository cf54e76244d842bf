/**
 * Limits of the group coordinator that are not broker settings. Every one is finite; requests
 * beyond them are refused with an error code, never queued without bound.
 */

/** The internal topic holding group metadata and committed offsets. */
export const CONSUMER_OFFSETS_TOPIC = '__consumer_offsets';
/** Offsets partitions when groups.offsets.partitions is 0: in a cluster, and on a single broker. */
export const OFFSETS_PARTITIONS_CLUSTER_DEFAULT = 16;
export const OFFSETS_PARTITIONS_SINGLE_DEFAULT = 4;
/** Replicas of the offsets topic: min(this, brokers). */
export const OFFSETS_REPLICATION_FACTOR_MAX = 3;

/** Longest group id, group instance id or protocol name (as topic names). */
export const GROUP_ID_LENGTH_MAX = 249;
export const PROTOCOL_NAME_LENGTH_MAX = 255;
/** Longest client id and leave reason kept. */
export const CLIENT_ID_LENGTH_MAX = 255;
/** Members (joined or awaiting their second join) of one group. */
export const GROUP_MEMBERS_MAX = 1000;
/** Groups one coordinator holds, across its offsets partitions. */
export const GROUPS_PER_COORDINATOR_MAX = 100_000;
/** Protocols one member may offer. */
export const PROTOCOLS_PER_MEMBER_MAX = 16;
/** Bytes of one member's metadata for one protocol. */
export const MEMBER_METADATA_BYTES_MAX = 64 * 1024;
/** Bytes of one member's assignment. */
export const MEMBER_ASSIGNMENT_BYTES_MAX = 1024 * 1024;
/** Bytes of one group's metadata record (members, metadata and assignments together). */
export const GROUP_RECORD_BYTES_MAX = 8 * 1024 * 1024;
/** UTF-8 bytes of the metadata string committed with an offset. */
export const OFFSET_METADATA_BYTES_MAX = 4096;
/** Partitions one OffsetCommit (or ResetOffsets) may name. */
export const COMMIT_PARTITIONS_MAX = 100_000;
/** Committed offsets one group may hold. */
export const GROUP_OFFSETS_MAX = 1_000_000;
/** Groups one DescribeGroups / DeleteGroups may name. */
export const GROUPS_PER_REQUEST_MAX = 1000;
/** Members one LeaveGroup may name. */
export const LEAVING_MEMBERS_MAX = GROUP_MEMBERS_MAX;
/** Largest rebalance timeout honoured; larger ones are capped. */
export const REBALANCE_TIMEOUT_MS_MAX = 30 * 60 * 1000;
/** How long an offsets-log append may take before the request is answered REQUEST_TIMED_OUT. */
export const OFFSETS_WRITE_TIMEOUT_MS = 15_000;
/** Bytes one offsets-log append (several queued writes together) may carry. */
export const OFFSETS_APPEND_BYTES_MAX = 16 * 1024 * 1024;
/** Bytes read per step while loading an offsets partition. */
export const OFFSETS_LOAD_READ_BYTES = 1024 * 1024;
/** How often session deadlines, rebalance deadlines and offsets-partition leadership are checked. */
export const COORDINATOR_TICK_MS = 50;
/** How long a looked-up high watermark of a data partition is trusted for the commit check. */
export const HIGH_WATERMARK_CACHE_MS = 1000;
/** Deadline of a ListOffsets call to another broker (lag, reset, commit checks). */
export const REMOTE_LOOKUP_TIMEOUT_MS = 5000;
