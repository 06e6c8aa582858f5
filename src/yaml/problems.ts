/**
 * A mistake in a marketer's or service team's file (campaigns, personas.yaml, inbound.yaml),
 * reported as `path:line:col message`, every one of them at once.
 */
export interface Problem {
  file: string;
  line: number;
  col: number;
  message: string;
  severity: 'error' | 'warning';
}

export function formatProblem(p: Problem, cwd = process.cwd()): string {
  const rel = p.file.startsWith(cwd + '/') ? p.file.slice(cwd.length + 1) : p.file;
  return `${rel}:${p.line}:${p.col} ${p.severity === 'warning' ? 'warning: ' : ''}${p.message}`;
}
