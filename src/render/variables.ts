import Handlebars from 'handlebars';

/** A variable a template reads, as written (`lead.first_name`), and whether it only reads it behind `#if`/`#unless`. */
export interface TemplateVariable {
  path: string[];
  /** Tested by `#if`/`#unless` somewhere in the template: the author expects it may be missing. */
  guarded: boolean;
}

type Node = hbs.AST.Node &
  Partial<{
    body: Node[];
    path: Node;
    params: Node[];
    hash: { pairs: { value: Node }[] };
    program: Node;
    inverse: Node;
  }>;

/** Block helpers whose body reads a different context (`this`): relative names there are not root variables. */
const CONTEXT_BLOCKS = new Set(['each', 'with']);
const GUARDS = new Set(['if', 'unless']);
/** What the renderer puts at the root of every campaign template's context (see campaigns/compose.ts). */
export const ROOTS = new Set(['lead', 'persona', 'campaign', 'event', 'unsubscribe_url']);

/**
 * The variables a template reads from its root context (lead, persona, campaign, event,
 * unsubscribe_url…), from its source as Handlebars parses it, front matter included (subjects are
 * templates too). Names inside `#each`/`#with` bodies, `@data` and helper names are left out.
 * Throws Handlebars' error for a template that cannot be parsed.
 */
export function templateVariables(source: string): TemplateVariable[] {
  const found = new Map<string, string[]>();
  const guarded = new Set<string>();
  const visit = (node: Node | undefined, inContext: boolean, guard: boolean): void => {
    if (!node) return;
    if (node.type === 'PathExpression') {
      const path = node as unknown as hbs.AST.PathExpression;
      if (path.data || path.depth > 0 || path.parts.length === 0 || (inContext && !ROOTS.has(path.parts[0]!))) return;
      const key = path.parts.slice(0, 2).join('.');
      found.set(key, path.parts.slice(0, 2));
      if (guard) guarded.add(key);
      return;
    }
    if (node.type === 'MustacheStatement' || node.type === 'SubExpression' || node.type === 'BlockStatement') {
      const isCall = (node.params?.length ?? 0) > 0 || (node.hash?.pairs.length ?? 0) > 0 || node.type === 'BlockStatement';
      const helper = isCall && node.path?.type === 'PathExpression' ? (node.path as unknown as hbs.AST.PathExpression).original : '';
      // `{{name}}` reads a variable; `{{helper arg}}` and blocks call a helper with arguments.
      if (!isCall) visit(node.path, inContext, guard);
      for (const param of node.params ?? []) visit(param, inContext, GUARDS.has(helper));
      for (const pair of node.hash?.pairs ?? []) visit(pair.value, inContext, false);
      visit(node.program, inContext || CONTEXT_BLOCKS.has(helper), false);
      visit(node.inverse, inContext, false);
      return;
    }
    for (const child of node.body ?? []) visit(child, inContext, guard);
  };
  visit(Handlebars.parse(source) as Node, false, false);
  return [...found].map(([key, path]) => ({ path, guarded: guarded.has(key) }));
}
