import fs from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import type Joi from 'joi';
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

/**
 * Parses with positions kept. Syntax problems (including duplicate keys, which plain parsers
 * silently resolve) come back as problems; `data` is undefined when the file cannot be read as one
 * YAML document.
 */
export function readYamlFile(file: string): { yaml: YamlFile; problems: Problem[] } {
  const lineCounter = new LineCounter();
  const source = fs.readFileSync(file, 'utf8');
  const docs = parseAllDocuments(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  const doc: Document | undefined = list[0];
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  const problems: Problem[] = [];
  for (const d of list) {
    for (const err of d.errors) {
      problems.push({ file, ...at(err.pos[0]), message: yamlMessage(err.code, err.message), severity: 'error' });
    }
  }
  if (list.length > 1) {
    const second = list[1]!.range?.[0] ?? 0;
    problems.push({ file, ...at(second), message: 'a campaign file holds one YAML document; remove the extra `---`', severity: 'error' });
  }
  const valid = problems.length === 0 && doc !== undefined;

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
    return at(target?.range?.[0] ?? 0);
  }

  const yaml: YamlFile = {
    file,
    data: valid ? doc.toJS({ maxAliasCount: 100 }) : undefined,
    position,
    problem: (path, message, mode = 'value', severity = 'error') => ({ file, ...position(path, mode), message, severity }),
    declared: (path) => doc?.getIn(path),
  };
  return { yaml, problems };
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
