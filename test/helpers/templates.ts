import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A copy of the fixture's templates that a test may edit, as a marketer edits theirs. */
export function editableTemplates(fixture: string): {
  dir: string;
  edit(name: string, change: (source: string) => string): void;
  remove(): void;
} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'touchpoint-templates-'));
  fs.cpSync(path.join(fixture, 'templates'), dir, { recursive: true });
  return {
    dir,
    edit(name, change) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, change(fs.readFileSync(file, 'utf8')));
      // A later modification time than the compiled one, even on a coarse file system clock.
      const later = new Date(Date.now() + 5_000);
      fs.utimesSync(file, later, later);
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
