import { expect } from 'chai';
import { is } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import * as schema from '../../src/db/schema.ts';

/**
 * What keeps sharding by lead possible (docs/SCALING.md, "Past one PostgreSQL server"): every table
 * written per lead on the send path carries the lead as a column, so a distributed PostgreSQL
 * (Citus) can place all of one lead's rows on one shard and record a message there alone.
 */
const HOT = {
  leads: 'id',
  consent_events: 'lead_id',
  consent_state: 'lead_id',
  events: 'lead_id',
  enrollments: 'lead_id',
  messages: 'lead_id',
  message_counts: 'lead_id',
} as const;

/**
 * Keys that do not include the lead yet: on a sharded database each must include it (or become
 * a lookup table), as docs/SCALING.md lists. A new one fails here until it is listed there too.
 */
const KEYS_WITHOUT_LEAD = [
  'consent_events primary key (id)',
  'enrollments primary key (id)',
  'events primary key (id)',
  'events unique (event_key)',
  'leads unique (external_id)',
  'messages primary key (id)',
  'messages unique (idempotency_key)',
];

const tables = Object.values(schema as Record<string, unknown>)
  .filter((value): value is PgTable => is(value, PgTable))
  .map((table) => getTableConfig(table));

describe('schema: distributable by lead', () => {
  it('gives every hot table its lead as a non-null column', () => {
    for (const [name, column] of Object.entries(HOT)) {
      const table = tables.find((t) => t.name === name);
      expect(table, name).to.not.equal(undefined);
      const lead = table!.columns.find((c) => c.name === column);
      expect(lead, `${name}.${column}`).to.not.equal(undefined);
      expect(lead!.notNull, `${name}.${column} is not null`).to.equal(true);
      expect(lead!.columnType, `${name}.${column}`).to.match(/PgBigInt|PgBigSerial/);
    }
  });

  it('names every primary key and unique constraint of a hot table that lacks the lead', () => {
    const lacking: string[] = [];
    for (const [name, column] of Object.entries(HOT)) {
      const table = tables.find((t) => t.name === name)!;
      const keys = [
        ...table.columns.filter((c) => c.primary).map((c) => ({ kind: 'primary key', columns: [c.name] })),
        ...table.primaryKeys.map((k) => ({ kind: 'primary key', columns: k.columns.map((c) => c.name) })),
        ...table.columns.filter((c) => c.isUnique).map((c) => ({ kind: 'unique', columns: [c.name] })),
        ...table.uniqueConstraints.map((u) => ({ kind: 'unique', columns: u.columns.map((c) => c.name) })),
        ...table.indexes
          .filter((i) => i.config.unique)
          .map((i) => ({ kind: 'unique', columns: i.config.columns.map((c) => ('name' in c ? (c.name as string) : '?')) })),
      ];
      for (const key of keys) if (!key.columns.includes(column)) lacking.push(`${name} ${key.kind} (${key.columns.join(', ')})`);
    }
    expect(lacking.sort()).to.deep.equal(KEYS_WITHOUT_LEAD);
  });
});
