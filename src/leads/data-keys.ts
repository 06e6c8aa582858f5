import { statement, type Queryable } from '../db/statement.ts';

const ATTRIBUTE_KEYS = statement('leads.attribute-keys', `SELECT DISTINCT jsonb_object_keys(attributes) AS key FROM leads`);
const PROPERTY_KEYS = statement(
  'leads.event-property-keys',
  `SELECT name, array_agg(DISTINCT key) AS keys
     FROM events, jsonb_object_keys(properties) AS key
    WHERE name = ANY($1::text[]) GROUP BY name`,
);

/** The data templates may read besides lead fields: every lead attribute and the properties of these events, as stored so far. */
export interface DataKeys {
  attributes: Set<string>;
  /** Property names by event name. */
  properties: Map<string, Set<string>>;
}

/** Which attribute and event property names occur in the database (a scan of leads and of these events: for `validate`, not for a send). */
export async function dataKeys(db: Queryable, eventNames: string[]): Promise<DataKeys> {
  const [attributes, properties] = await Promise.all([
    db.query<{ key: string }>(ATTRIBUTE_KEYS),
    db.query<{ name: string; keys: string[] }>(PROPERTY_KEYS, [eventNames]),
  ]);
  return {
    attributes: new Set(attributes.rows.map((r) => r.key)),
    properties: new Map(properties.rows.map((r) => [r.name, new Set(r.keys)])),
  };
}
