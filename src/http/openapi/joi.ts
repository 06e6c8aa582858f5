import type Joi from 'joi';
import OpenApi31Parser from 'joi-to-json/lib/parsers/open-api-3.1.js';

/** A JSON Schema (the OpenAPI 3.1 dialect, JSON Schema 2020-12) as plain data. */
export type JsonSchema = { [keyword: string]: unknown };

/** The parts of joi's `describe()` output that the fixes below read. */
interface Description {
  type?: string;
  keys?: Record<string, Description>;
  patterns?: { schema?: Description; regex?: string; rule: Description }[];
  rules?: { name: string; args?: Record<string, unknown> }[];
  flags?: Record<string, unknown>;
}

/**
 * joi-to-json's OpenAPI 3.1 parser, with the gaps our schemas run into filled (checked against
 * joi-to-json 5.0.5; test/http/openapi.test.ts sends requests through both and fails when they
 * disagree):
 * - `Joi.object()` without keys allows any key; the parser closed it (`additionalProperties: false`).
 * - `.pattern(keySchema, valueSchema)` (a map such as lead attributes) was dropped; it becomes
 *   `propertyNames` and `additionalProperties`. A `.pattern(/regex/, …)` also left a property
 *   literally named after the regex; it is removed (`patternProperties` stays).
 * - `.min()/.max()/.length()` of objects become `minProperties`/`maxProperties`.
 * - `.ip()` without versions accepts IPv4 and IPv6 (with an optional /prefix), not only `ipv4`.
 */
class Parser extends OpenApi31Parser {
  /** joi descriptions (as JSON) of the schemas that have a name in the document, by name. */
  private readonly named: Map<string, string>;

  constructor(named: Record<string, Joi.Schema>) {
    super();
    this.named = new Map(Object.entries(named).map(([name, schema]) => [JSON.stringify(schema.describe()), name]));
  }

  /** A named schema met inside another becomes a reference to it. */
  override parse(description: object, definitions: object = {}, level = 0): JsonSchema {
    const name = level > 0 ? this.named.get(JSON.stringify(description)) : undefined;
    return name ? { $ref: `#/components/schemas/${name}` } : super.parse(description, definitions, level);
  }

  override _setObjectProperties(schema: JsonSchema, description: Description, definitions: object, level: number): void {
    super._setObjectProperties(schema, description, definitions, level);
    if (schema.type !== 'object') return;
    const properties = schema.properties as Record<string, JsonSchema>;
    if (description.keys === undefined && description.flags?.unknown !== false) schema.additionalProperties = true;
    const keyed = (description.patterns ?? []).filter((p) => p.schema);
    if (keyed.length > 1) throw new Error('joi → OpenAPI: more than one .pattern() with a key schema; describe this object by hand');
    for (const pattern of description.patterns ?? []) {
      if (pattern.regex !== undefined) delete properties[pattern.regex];
    }
    if (keyed[0]) {
      if (description.keys !== undefined)
        throw new Error('joi → OpenAPI: .pattern() with a key schema beside keys; describe this object by hand');
      schema.propertyNames = this.parse(keyed[0].schema!, definitions, level + 1);
      schema.additionalProperties = this.parse(keyed[0].rule, definitions, level + 1);
    }
    for (const rule of description.rules ?? []) {
      const limit = rule.args?.limit;
      if (rule.name === 'min' || rule.name === 'length') schema.minProperties = limit;
      if (rule.name === 'max' || rule.name === 'length') schema.maxProperties = limit;
    }
    if (Object.keys(properties).length === 0) delete schema.properties;
  }

  override _setStringFieldProperties(schema: JsonSchema, description: Description): void {
    super._setStringFieldProperties(schema, description);
    const ip = description.rules?.find((r) => r.name === 'ip');
    const versions = (ip?.args?.options as { version?: string[] } | undefined)?.version;
    if (ip && !versions?.length) {
      delete schema.format;
      schema.description ??= 'an IPv4 or IPv6 address, optionally with a /prefix';
    }
  }
}

/**
 * The JSON Schema of what a joi schema accepts: the one source for request bodies and queries.
 * Schemas of `named` found inside it become `$ref`s to `#/components/schemas/<name>`.
 */
export function jsonSchemaOf(schema: Joi.Schema, named: Record<string, Joi.Schema> = {}): JsonSchema {
  return new Parser(named).parse(schema.describe());
}

/** OpenAPI parameters for the keys of a joi object schema (a query). */
export function parametersOf(schema: Joi.ObjectSchema, where: 'query'): JsonSchema[] {
  const converted = jsonSchemaOf(schema);
  const required = new Set((converted.required as string[] | undefined) ?? []);
  const properties = (converted.properties ?? {}) as Record<string, JsonSchema>;
  return Object.entries(properties).map(([name, property]) => ({ name, in: where, required: required.has(name), schema: property }));
}
