/**
 * The broker's metadata in SQLite (better-sqlite3, synchronous): the cluster id, topics, their
 * partitions and configuration overrides. Partition data lives in the partition logs; this store
 * says which logs exist. Every change is one transaction, so a crash leaves either the old or the
 * new metadata, never half of it.
 *
 * Schema (version 1):
 *   cluster(key TEXT PRIMARY KEY, value TEXT)               -- 'cluster_id', 'schema_version'
 *   topics(name TEXT PRIMARY KEY, topic_id TEXT UNIQUE, created_ms INTEGER)
 *   partitions(topic TEXT, partition INTEGER, leader_id INTEGER, leader_epoch INTEGER,
 *              replicas TEXT,                               -- JSON array of node ids
 *              PRIMARY KEY(topic, partition))
 *   topic_configs(topic TEXT, name TEXT, value TEXT, PRIMARY KEY(topic, name))
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';

export const METADATA_FILE_NAME = 'metadata.sqlite';
const SCHEMA_VERSION = '1';

export interface StoredPartition {
  readonly partition: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
}

export interface StoredTopic {
  readonly name: string;
  readonly topicId: string;
  readonly createdMs: number;
  readonly partitions: readonly StoredPartition[];
  /** Configuration entries set on the topic (not the defaults). */
  readonly configs: Readonly<Record<string, string>>;
}

export class MetadataStore {
  private constructor(private readonly db: Database.Database) {}

  /** Opens (creating when missing) the database at `path` and migrates it to the current schema. */
  static open(path: string): MetadataStore {
    const db = new Database(path);
    // WAL: readers never block the writer; synchronous=FULL: a committed change survives power loss.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(`
      CREATE TABLE IF NOT EXISTS cluster (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS topics (
        name TEXT PRIMARY KEY, topic_id TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS partitions (
        topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
        partition INTEGER NOT NULL, leader_id INTEGER NOT NULL, leader_epoch INTEGER NOT NULL,
        replicas TEXT NOT NULL, PRIMARY KEY (topic, partition));
      CREATE TABLE IF NOT EXISTS topic_configs (
        topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
        name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (topic, name));
    `);
    db.pragma('foreign_keys = ON');
    const store = new MetadataStore(db);
    store.initCluster();
    return store;
  }

  private initCluster(): void {
    const insert = this.db.prepare('INSERT OR IGNORE INTO cluster (key, value) VALUES (?, ?)');
    this.db.transaction(() => {
      insert.run('cluster_id', randomUUID());
      insert.run('schema_version', SCHEMA_VERSION);
    })();
    const version = this.clusterValue('schema_version');
    if (version !== SCHEMA_VERSION) throw new Error(`metadata schema version ${version} is not supported (expected ${SCHEMA_VERSION})`);
  }

  private clusterValue(key: string): string {
    const row = this.db.prepare('SELECT value FROM cluster WHERE key = ?').get(key) as { value: string } | undefined;
    assert.ok(row !== undefined, `cluster.${key} is missing`);
    return row.value;
  }

  /** The cluster id, generated when the database was created. */
  get clusterId(): string {
    return this.clusterValue('cluster_id');
  }

  /** Every topic with partitions and config overrides, sorted by name. */
  loadTopics(): StoredTopic[] {
    const topics = this.db.prepare('SELECT name, topic_id, created_ms FROM topics ORDER BY name').all() as Array<{
      name: string;
      topic_id: string;
      created_ms: number;
    }>;
    const partitions = this.db
      .prepare('SELECT topic, partition, leader_id, leader_epoch, replicas FROM partitions ORDER BY topic, partition')
      .all() as Array<{ topic: string; partition: number; leader_id: number; leader_epoch: number; replicas: string }>;
    const configs = this.db.prepare('SELECT topic, name, value FROM topic_configs').all() as Array<{ topic: string; name: string; value: string }>;
    const byTopic = new Map<string, { partitions: StoredPartition[]; configs: Record<string, string> }>();
    for (const topic of topics) byTopic.set(topic.name, { partitions: [], configs: {} });
    for (const row of partitions) {
      byTopic.get(row.topic)!.partitions.push({
        partition: row.partition,
        leaderId: row.leader_id,
        leaderEpoch: row.leader_epoch,
        replicas: JSON.parse(row.replicas) as number[],
      });
    }
    for (const row of configs) byTopic.get(row.topic)!.configs[row.name] = row.value;
    return topics.map((topic) => {
      const extra = byTopic.get(topic.name)!;
      extra.partitions.forEach((partition, index) => assert.equal(partition.partition, index, `partitions of ${topic.name} must be 0..n-1`));
      return { name: topic.name, topicId: topic.topic_id, createdMs: topic.created_ms, partitions: extra.partitions, configs: extra.configs };
    });
  }

  /** Inserts a topic with its partitions and configs in one transaction. */
  createTopic(topic: StoredTopic): void {
    const insertTopic = this.db.prepare('INSERT INTO topics (name, topic_id, created_ms) VALUES (?, ?, ?)');
    const insertConfig = this.db.prepare('INSERT INTO topic_configs (topic, name, value) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      insertTopic.run(topic.name, topic.topicId, topic.createdMs);
      this.insertPartitions(topic.name, topic.partitions);
      for (const [name, value] of Object.entries(topic.configs)) insertConfig.run(topic.name, name, value);
    })();
  }

  /** Adds partitions to an existing topic. */
  addPartitions(topic: string, partitions: readonly StoredPartition[]): void {
    this.db.transaction(() => this.insertPartitions(topic, partitions))();
  }

  private insertPartitions(topic: string, partitions: readonly StoredPartition[]): void {
    const insert = this.db.prepare('INSERT INTO partitions (topic, partition, leader_id, leader_epoch, replicas) VALUES (?, ?, ?, ?, ?)');
    for (const p of partitions) insert.run(topic, p.partition, p.leaderId, p.leaderEpoch, JSON.stringify(p.replicas));
  }

  /** Sets and removes config overrides of a topic in one transaction. */
  alterTopicConfigs(topic: string, set: Readonly<Record<string, string>>, remove: readonly string[]): void {
    const upsert = this.db.prepare(
      'INSERT INTO topic_configs (topic, name, value) VALUES (?, ?, ?) ON CONFLICT(topic, name) DO UPDATE SET value = excluded.value',
    );
    const del = this.db.prepare('DELETE FROM topic_configs WHERE topic = ? AND name = ?');
    this.db.transaction(() => {
      for (const name of remove) del.run(topic, name);
      for (const [name, value] of Object.entries(set)) upsert.run(topic, name, value);
    })();
  }

  /** Deletes a topic, its partitions and configs. Returns whether it existed. */
  deleteTopic(topic: string): boolean {
    return this.db.prepare('DELETE FROM topics WHERE name = ?').run(topic).changes === 1;
  }

  close(): void {
    this.db.close();
  }
}
