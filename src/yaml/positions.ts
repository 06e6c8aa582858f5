import fs from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, visit, type Document, type Node } from 'yaml';
import type Joi from 'joi';
import { errorMessage } from '../errors.ts';
import type { Problem } from './problems.ts';
import { VALIDATION_PREFS } from './schema.ts';

export type YamlPath = (string | number)[];

/** A parsed YAML file that can say where any value came from. */
export interface YamlFile {
  file: string;
  data: unknown;
  /** Line and column (1-based) of the value at `path`, or of its key with `at: 'key'`. */
  position(path: YamlPath, at?: 'key' | 'value'): { line: number; col: number };
  problem(path: YamlPath, message: string, at?: 'key' | 'value', severity?: Problem['severity']): Problem;
  /** The value at `path` as written, even in a file with syntax problems (to name what it declares). */
  declared(path: YamlPath): unknown;
}

/** Largest marketer file read, unless CAMPAIGN_MAX_FILE_BYTES says otherwise; campaign files are a few kB. */
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024;

/** Aliases a file may expand: anchors are for reuse, not for multiplying a document (an alias bomb). */
const MAX_ALIAS_COUNT = 100;

/**
 * Parses with positions kept. Syntax problems (including duplicate keys, which plain parsers
 * silently resolve) come back as problems; `data` is undefined when the file cannot be read as one
 * YAML document. A file larger than `maxBytes` is a problem and is not read; nothing in a file
 * (an alias bomb, nesting deep enough to exhaust the stack) makes this throw.
 */
export function readYamlFile(file: string, maxBytes: number): { yaml: YamlFile; problems: Problem[] } {
  const lineCounter = new LineCounter();
  const problems: Problem[] = [];
  const unreadable = (message: string) => {
    problems.push({ file, line: 1, col: 1, message, severity: 'error' });
    return { yaml: yamlFile(file, undefined, undefined, lineCounter), problems };
  };
  let source: string;
  try {
    const stat = fs.statSync(file);
    if (stat.isDirectory()) return unreadable('this is a directory, not a YAML file');
    if (stat.size > maxBytes) {
      return unreadable(`the file is ${stat.size} bytes, over the limit of ${maxBytes} (CAMPAIGN_MAX_FILE_BYTES); it was not read`);
    }
    source = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return unreadable(`cannot be read: ${errorMessage(err)}`);
  }
  let list: Document[];
  try {
    const docs = parseAllDocuments(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
    list = Array.isArray(docs) ? docs : [];
  } catch (err) {
    return unreadable(`cannot be parsed: ${errorMessage(err)}`);
  }
  const doc: Document | undefined = list[0];
  const at = (offset: number) => linePos(lineCounter, offset);
  for (const d of list) {
    for (const err of d.errors) {
      problems.push({ file, ...at(err.pos[0]), message: yamlMessage(err.code, err.message), severity: 'error' });
    }
  }
  if (list.length > 1) {
    const second = list[1]!.range?.[0] ?? 0;
    problems.push({ file, ...at(second), message: 'a campaign file holds one YAML document; remove the extra `---`', severity: 'error' });
  }
  let data: unknown;
  if (problems.length === 0 && doc !== undefined) {
    try {
      data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      const alias = err instanceof ReferenceError && /alias/i.test(err.message) ? firstAlias(doc) : undefined;
      problems.push({
        file,
        ...at(alias?.range?.[0] ?? 0),
        message: alias
          ? `aliases expand to more than ${MAX_ALIAS_COUNT} values (an alias bomb?); write the values out instead`
          : `cannot be read: ${errorMessage(err)}`,
        severity: 'error',
      });
    }
  }
  return { yaml: yamlFile(file, doc, data, lineCounter), problems };
}

function linePos(lineCounter: LineCounter, offset: number): { line: number; col: number } {
  const { line, col } = lineCounter.linePos(offset);
  return { line, col };
}

function firstAlias(doc: Document): Node | undefined {
  let found: Node | undefined;
  visit(doc, {
    Alias(_key, node) {
      found = node;
      return visit.BREAK;
    },
  });
  return found;
}

/** Positions of values inside a parsed document (1:1 for a file that could not be parsed). */
function yamlFile(file: string, doc: Document | undefined, data: unknown, lineCounter: LineCounter): YamlFile {
  function position(path: YamlPath, mode: 'key' | 'value' = 'value') {
    let node: Node | null | undefined = doc?.contents as Node | null | undefined;
    let keyNode: Node | undefined;
    for (const segment of path) {
      let next: Node | undefined;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
        if (pair) {
          keyNode = pair.key as Node;
          next = (pair.value as Node | null) ?? keyNode;
        }
      } else if (isSeq(node) && typeof segment === 'number') {
        next = node.items[segment] as Node | undefined;
        keyNode = next;
      }
      if (!next) break;
      node = next;
    }
    const target = mode === 'key' && keyNode ? keyNode : node;
    return linePos(lineCounter, target?.range?.[0] ?? 0);
  }

  return {
    file,
    data,
    position,
    problem: (path, message, mode = 'value', severity = 'error') => ({ file, ...position(path, mode), message, severity }),
    declared: (path) => doc?.getIn(path),
  };
}

function yamlMessage(code: string, message: string): string {
  const first = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return code === 'DUPLICATE_KEY' ? 'duplicate key: a key may appear only once in a mapping' : first;
}

/** Checks a parsed file against its joi schema; every mistake becomes a problem at its position. */
export function validateYaml<T>(yaml: YamlFile, schema: Joi.Schema, problems: Problem[]): T | undefined {
  const { value, error } = schema.validate(yaml.data, VALIDATION_PREFS);
  for (const detail of error?.details ?? []) {
    const at = detail.type === 'object.unknown' ? 'key' : 'value';
    // A missing key has no node of its own: point at the mapping that lacks it.
    const nodePath = detail.type === 'any.required' ? detail.path.slice(0, -1) : detail.path;
    problems.push(yaml.problem(nodePath, detail.message, at));
  }
  return error ? undefined : (value as T);
}
